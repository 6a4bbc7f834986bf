/* core-rng.c — xoshiro256** with splitmix64 seeding */
#define G_LOG_DOMAIN "facet-core"

#include "config.h"

#include <math.h>

#include "core-rng.h"

static guint64
splitmix64 (guint64 *x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
facet_rng_init (FacetRng *rng,
                guint64   seed)
{
  guint64 x = seed;

  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
  rng->has_spare = FALSE;
  rng->spare = 0.0;
}

static inline guint64
rotl (guint64 x,
      int     k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
facet_rng_next (FacetRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

/* Uniform in [0, 1) with 53 random bits. */
double
facet_rng_uniform (FacetRng *rng)
{
  return (double) (facet_rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

double
facet_rng_range (FacetRng *rng,
                 double    lo,
                 double    hi)
{
  return lo + (hi - lo) * facet_rng_uniform (rng);
}

/* Uniform integer in [0, n), without modulo bias. */
guint32
facet_rng_below (FacetRng *rng,
                 guint32   n)
{
  guint64 limit;
  guint64 x;

  g_return_val_if_fail (n > 0, 0);
  limit = G_MAXUINT64 - G_MAXUINT64 % n;
  do
    x = facet_rng_next (rng);
  while (x >= limit);
  return (guint32) (x % n);
}

/* Standard normal (Box-Muller, both values used). */
double
facet_rng_normal (FacetRng *rng)
{
  double u, v, r;

  if (rng->has_spare)
    {
      rng->has_spare = FALSE;
      return rng->spare;
    }
  do
    u = facet_rng_uniform (rng);
  while (u <= 0.0);
  v = facet_rng_uniform (rng);
  r = sqrt (-2.0 * log (u));
  rng->spare = r * sin (2.0 * G_PI * v);
  rng->has_spare = TRUE;
  return r * cos (2.0 * G_PI * v);
}

/* Normal with standard deviation @std, redrawn until inside [lo, hi]. */
double
facet_rng_trunc_normal (FacetRng *rng,
                        double    std,
                        double    lo,
                        double    hi)
{
  for (int i = 0; i < 1000; i++)
    {
      double x = facet_rng_normal (rng) * std;
      if (x >= lo && x <= hi)
        return x;
    }
  return 0.0;
}

void
facet_rng_shuffle (FacetRng *rng,
                   guint    *items,
                   guint     n)
{
  for (guint i = n; i > 1; i--)
    {
      guint j = facet_rng_below (rng, i);
      guint t = items[i - 1];
      items[i - 1] = items[j];
      items[j] = t;
    }
}
