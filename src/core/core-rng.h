/* core-rng.h — a small, fast, seedable random generator
 *
 * xoshiro256** seeded through splitmix64: the same seed gives the same
 * stream on every machine, which training and synthetic data rely on.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 s[4];
  double  spare;
  gboolean has_spare;
} FacetRng;

void    facet_rng_init      (FacetRng *rng,
                             guint64   seed);
guint64 facet_rng_next      (FacetRng *rng);
double  facet_rng_uniform   (FacetRng *rng);
double  facet_rng_range     (FacetRng *rng,
                             double    lo,
                             double    hi);
guint32 facet_rng_below     (FacetRng *rng,
                             guint32   n);
double  facet_rng_normal    (FacetRng *rng);
double  facet_rng_trunc_normal (FacetRng *rng,
                             double    std,
                             double    lo,
                             double    hi);
void    facet_rng_shuffle   (FacetRng *rng,
                             guint    *items,
                             guint     n);

G_END_DECLS
