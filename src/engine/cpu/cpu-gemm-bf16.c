/* cpu-gemm-bf16.c — y = act(x w^T + bias) (+ y) with bf16 products
 *
 * The instruction: vdpbf16ps multiplies 16 pairs of bf16 in each of two
 * registers and adds both products of each pair to one fp32 lane. So the
 * weight is packed as pairs along k: a panel of 32 output columns holds, for
 * every pair (2q, 2q+1) of the inner dimension, the 32 columns' pairs side by
 * side (two registers). The activation pair x[i, 2q..2q+1] is one 32-bit
 * word, broadcast to all lanes straight from memory.
 *
 * Blocking for the ViT's shapes (k = 768 or 3072, n = 768..3072, m = 197 per
 * image): a block of activation rows is rounded to bf16 into a buffer that
 * stays in L2 (at most 256 KiB), interleaved by tiles, then every weight
 * panel of the block's column range is run against it in tiles of 14 rows x
 * 32 columns. The 28 accumulators, two weight registers and the broadcast
 * fit the 32 vector registers (12-row tiles reached about 10% less). Blocks (and column ranges, when rows are few) are the items of
 * the worker pool, taken dynamically so that a core busy with something else
 * does not hold the product up.
 *
 * The epilogue runs on the tile while it is in registers: bias, GELU (and
 * its derivative for the backward; gelu16() below) and the residual add.
 *
 * Every row is summed in the same order wherever it falls in a tile, block
 * or thread, so results do not depend on the batch or the thread count.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <string.h>
#include <time.h>

#include "core/core-pool.h"
#include "cpu-gemm-bf16.h"
#include "cpu-kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 10)
#define HAVE_BF16_KERNEL 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define HAVE_BF16_KERNEL 0
#endif

#define MR 14      /* rows of a tile */
#define NR 32      /* columns of a tile, of a weight panel */
#define A_BLOCK_BYTES (256 * 1024)
#ifndef ROUND_COLS_AHEAD
#define ROUND_COLS_AHEAD 16 /* round_cols(): pairs of rows prefetched ahead */
#endif
#define SUM_TILES 12 /* round_cols(): tiles whose column sums one pass over the rows carries */

struct _FacetBf16Weight
{
  int      n, k;
  int      kp;      /* pairs along k: k rounded up to even, halved */
  int      panels;  /* n rounded up to NR, over NR */
  gboolean transposed; /* packed from w^T's source [k, n] (training's dx = dy w) */
  gsize    capacity; /* words @data holds (a reused scratch pack may hold more than it uses) */
  guint16 *data;    /* [panels][kp][NR][2] */
};

/* Round to nearest even, as vcvtneps2bf16 does; NaN stays NaN. */
guint16
facet_cpu_float_to_bf16 (float x)
{
  guint32 u;

  memcpy (&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (guint16) ((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1);
  return (guint16) (u >> 16);
}

float
facet_cpu_bf16_to_float (guint16 x)
{
  guint32 u = (guint32) x << 16;
  float f;

  memcpy (&f, &u, 4);
  return f;
}

/* FACET_CPU_FEATURES: a comma-separated list where "-bf16" (or
 * "-avx512bf16") switches the bf16 kernels off and "none" every optional
 * instruction set this file knows; for tests of the fallback. */
static gboolean
bf16_masked (void)
{
  const char *env = g_getenv ("FACET_CPU_FEATURES");
  g_auto (GStrv) parts = NULL;

  if (env == NULL)
    return FALSE;
  parts = g_strsplit_set (env, ", ", -1);
  for (int i = 0; parts[i] != NULL; i++)
    {
      const char *p = g_strstrip (parts[i]);
      if (g_str_equal (p, "-bf16") || g_str_equal (p, "-avx512bf16")
          || g_ascii_strcasecmp (p, "none") == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean bf16_hardware (void);

/* Scratch of the calling thread, kept for its next call and grown when
 * needed: the products run thousands of times a step on the pool's threads,
 * and buffers of this size freed and allocated again cost page faults. */
typedef struct
{
  gsize    size;
  gpointer data;
} Scratch;

static void
scratch_free (gpointer data)
{
  Scratch *sc = data;
  g_aligned_free (sc->data);
  g_free (sc);
}

static gpointer
thread_scratch (GPrivate *key,
                gsize     bytes)
{
  Scratch *sc = g_private_get (key);

  if (sc == NULL)
    {
      sc = g_new0 (Scratch, 1);
      g_private_set (key, sc);
    }
  if (sc->size < bytes)
    {
      g_aligned_free (sc->data);
      sc->data = g_aligned_alloc (bytes, 1, 64);
      sc->size = bytes;
    }
  return sc->data;
}

static GPrivate a_scratch = G_PRIVATE_INIT (scratch_free);
static GPrivate attention_scratch = G_PRIVATE_INIT (scratch_free);
static GPrivate attention_back_scratch = G_PRIVATE_INIT (scratch_free);

/* Packing ------------------------------------------------------------------ */

typedef struct
{
  FacetBf16Weight *p;
  const float     *src;
  gsize            ld;
  guint            parts;
  gboolean         vector;
} PackJob;

/* Panels [p0, p1) of a weight from w [n, k] (@ld apart), one value at a time. */
static void
pack_rows_scalar (FacetBf16Weight *p,
                  const float     *w,
                  gsize            ld,
                  int              p0,
                  int              p1)
{
  for (int panel = p0; panel < p1; panel++)
    for (int jj = 0; jj < NR; jj++)
      {
        const float *row = w + (gsize) (panel * NR + jj) * ld;
        guint16 *dst = p->data + (gsize) panel * p->kp * NR * 2 + (gsize) jj * 2;
        for (int kk = 0; kk < 2 * p->kp; kk++)
          dst[(gsize) (kk / 2) * NR * 2 + (kk & 1)] =
            panel * NR + jj < p->n && kk < p->k ? facet_cpu_float_to_bf16 (row[kk]) : 0;
      }
}

/* Pairs [q0, q1) of a weight from its transpose b [k, n] (@ld apart). */
static void
pack_cols_scalar (FacetBf16Weight *p,
                  const float     *b,
                  gsize            ld,
                  int              q0,
                  int              q1)
{
  for (int panel = 0; panel < p->panels; panel++)
    for (int q = q0; q < q1; q++)
      {
        guint16 *dst = p->data + ((gsize) panel * p->kp + q) * NR * 2;
        for (int jj = 0; jj < NR; jj++)
          for (int s = 0; s < 2; s++)
            {
              int r = 2 * q + s, c = panel * NR + jj;
              dst[jj * 2 + s] = r < p->k && c < p->n ? facet_cpu_float_to_bf16 (b[(gsize) r * ld + c])
                                                     : 0;
            }
      }
}

static void pack_rows_vector (FacetBf16Weight *p, const float *w, gsize ld, int p0, int p1);
static void pack_cols_vector (FacetBf16Weight *p, const float *b, gsize ld, int q0, int q1);

static void
pack_part (guint    index,
           gpointer data)
{
  PackJob *j = data;
  FacetBf16Weight *p = j->p;

  if (!p->transposed)
    {
      int p0 = p->panels * (int) index / (int) j->parts;
      int p1 = p->panels * ((int) index + 1) / (int) j->parts;
      if (j->vector)
        pack_rows_vector (p, j->src, j->ld, p0, p1);
      else
        pack_rows_scalar (p, j->src, j->ld, p0, p1);
    }
  else
    {
      int q0 = p->kp * (int) index / (int) j->parts, q1 = p->kp * ((int) index + 1) / (int) j->parts;
      if (j->vector)
        pack_cols_vector (p, j->src, j->ld, q0, q1);
      else
        pack_cols_scalar (p, j->src, j->ld, q0, q1);
    }
}

/* Rounds @src into @p's panels: from w [n, k] (rows @ld apart), or for a
 * transposed weight from b [k, n]; spread over the pool when large. */
static void
pack_weight (FacetBf16Weight *p,
             const float     *src,
             gsize            ld)
{
  PackJob job = { p, src, ld, 1, bf16_hardware () };
  gsize size = (gsize) p->n * p->k;
  guint threads = facet_parallel_get_threads ();

  if (size == 0)
    return;
  if (threads > 1 && size >= 65536)
    job.parts = MIN (4 * threads, (guint) (p->transposed ? p->kp : p->panels));
  if (job.parts > 1)
    facet_parallel_for (job.parts, pack_part, &job);
  else
    pack_part (0, &job);
}


static gboolean
bf16_detect (void)
{
#if HAVE_BF16_KERNEL
  unsigned int a = 0, b = 0, c = 0, d = 0;

  __builtin_cpu_init ();
  /* __builtin_cpu_supports checks that the OS saves the ZMM state. */
  if (!__builtin_cpu_supports ("avx512f") || !__builtin_cpu_supports ("avx512bw")
      || !__builtin_cpu_supports ("avx512vl"))
    return FALSE;
  if (!__get_cpuid_count (7, 1, &a, &b, &c, &d))
    return FALSE;
  return (a & (1u << 5)) != 0; /* CPUID.(7,1):EAX.AVX512_BF16 */
#else
  return FALSE;
#endif
}

/**
 * facet_cpu_bf16_available:
 *
 * Whether the bf16 products can run here: built for x86-64, a processor
 * with AVX512-BF16, and not switched off by FACET_CPU_FEATURES (read each
 * call, so that tests can change it).
 */
static gboolean
bf16_hardware (void)
{
  static gsize detected = 0;
  static gboolean have = FALSE;

  if (g_once_init_enter (&detected))
    {
      have = bf16_detect ();
      g_once_init_leave (&detected, 1);
    }
  return have;
}

gboolean
facet_cpu_bf16_available (void)
{
  return bf16_hardware () && !bf16_masked ();
}

static void pack_weight (FacetBf16Weight *p, const float *src, gsize ld);

static FacetBf16Weight *
weight_alloc (int      n,
              int      k,
              gboolean transposed)
{
  FacetBf16Weight *p = g_new0 (FacetBf16Weight, 1);
  gsize size;

  p->n = n;
  p->k = k;
  p->kp = (k + 1) / 2;
  p->panels = (n + NR - 1) / NR;
  p->transposed = transposed;
  size = (gsize) p->panels * p->kp * NR * 2;
  p->capacity = size;
  /* every element is written by the packing, padding included */
  p->data = g_aligned_alloc (MAX (size, 1), sizeof (guint16), 64);
  return p;
}

/**
 * facet_bf16_weight_new:
 * @w: [n, k], fp32
 *
 * Rounds @w to bf16 and packs it for facet_cpu_linear_bf16(); padding
 * columns and the odd k's last pair half are zero.
 */
FacetBf16Weight *
facet_bf16_weight_new (const float *w,
                       int          n,
                       int          k)
{
  FacetBf16Weight *p = weight_alloc (n, k, FALSE);

  pack_weight (p, w, (gsize) k);
  return p;
}

/**
 * facet_bf16_weight_new_transposed:
 * @w: [n, k], fp32 (a Linear layer's weight)
 *
 * Packs w^T, a weight [k, n]: facet_cpu_linear_bf16() with it gives
 * dy w for dy [m, n], the input gradient of y = x w^T.
 */
FacetBf16Weight *
facet_bf16_weight_new_transposed (const float *w,
                                  int          n,
                                  int          k)
{
  FacetBf16Weight *p = weight_alloc (k, n, TRUE);

  pack_weight (p, w, (gsize) k);
  return p;
}

/**
 * facet_bf16_weight_update:
 * @w: the fp32 source, of the shape and kind @weight was made from
 *
 * Rounds and packs @w again into @weight's buffer (after an optimiser
 * step changed the fp32 master weights).
 */
void
facet_bf16_weight_update (FacetBf16Weight *weight,
                          const float     *w)
{
  g_return_if_fail (weight != NULL && w != NULL);
  pack_weight (weight, w, (gsize) (weight->transposed ? weight->n : weight->k));
}

void
facet_bf16_weight_free (FacetBf16Weight *weight)
{
  if (weight == NULL)
    return;
  g_aligned_free (weight->data);
  g_free (weight);
}

int
facet_bf16_weight_get_n (const FacetBf16Weight *weight)
{
  return weight->n;
}

int
facet_bf16_weight_get_k (const FacetBf16Weight *weight)
{
  return weight->k;
}

#if HAVE_BF16_KERNEL

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")

/* 16 x 16 32-bit words: r[i] holds row i afterwards column i. (GCC 12
 * takes the undefined pass-through of the unmasked shuffles for
 * uninitialised values.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static inline __attribute__ ((always_inline)) void
transpose16 (__m512i r[16])
{
  __m512i t[16], u[16], v[16];

  for (int i = 0; i < 8; i++)
    {
      t[2 * i] = _mm512_unpacklo_epi32 (r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_epi32 (r[2 * i], r[2 * i + 1]);
    }
  /* u[4i + c], 128-bit lane L: rows 4i .. 4i + 3 of column 4L + c */
  for (int i = 0; i < 4; i++)
    {
      u[4 * i] = _mm512_unpacklo_epi64 (t[4 * i], t[4 * i + 2]);
      u[4 * i + 1] = _mm512_unpackhi_epi64 (t[4 * i], t[4 * i + 2]);
      u[4 * i + 2] = _mm512_unpacklo_epi64 (t[4 * i + 1], t[4 * i + 3]);
      u[4 * i + 3] = _mm512_unpackhi_epi64 (t[4 * i + 1], t[4 * i + 3]);
    }
  for (int c = 0; c < 4; c++)
    {
      v[c] = _mm512_shuffle_i32x4 (u[c], u[4 + c], 0x88);
      v[4 + c] = _mm512_shuffle_i32x4 (u[c], u[4 + c], 0xdd);
      v[8 + c] = _mm512_shuffle_i32x4 (u[8 + c], u[12 + c], 0x88);
      v[12 + c] = _mm512_shuffle_i32x4 (u[8 + c], u[12 + c], 0xdd);
    }
  for (int c = 0; c < 4; c++)
    {
      r[c] = _mm512_shuffle_i32x4 (v[c], v[8 + c], 0x88);
      r[4 + c] = _mm512_shuffle_i32x4 (v[4 + c], v[12 + c], 0x88);
      r[8 + c] = _mm512_shuffle_i32x4 (v[c], v[8 + c], 0xdd);
      r[12 + c] = _mm512_shuffle_i32x4 (v[4 + c], v[12 + c], 0xdd);
    }
}
#pragma GCC diagnostic pop

/* pack_rows_scalar() with 16 x 16 blocks of pairs: 16 rows rounded (16
 * pairs each), transposed, stored as 16 pairs' runs of 16 columns. */
static void
pack_rows_vector (FacetBf16Weight *p,
                  const float     *w,
                  gsize            ld,
                  int              p0,
                  int              p1)
{
  for (int panel = p0; panel < p1; panel++)
    for (int half = 0; half < 2; half++)
      {
        int j0 = panel * NR + half * 16;
        for (int q0 = 0; q0 < p->kp; q0 += 16)
          {
            __m512i r[16];
            int c0 = 2 * q0, have = MIN (32, p->k - c0);
            __mmask16 m0 = (__mmask16) (have >= 16 ? 0xffff : have > 0 ? (1u << have) - 1 : 0);
            __mmask16 m1 = (__mmask16) (have >= 32 ? 0xffff : have > 16 ? (1u << (have - 16)) - 1 : 0);
            for (int i = 0; i < 16; i++)
              {
                const float *row = w + (gsize) (j0 + i) * ld + c0;
                if (j0 + i >= p->n)
                  {
                    r[i] = _mm512_setzero_si512 ();
                    continue;
                  }
                r[i] = (__m512i) _mm512_cvtne2ps_pbh (_mm512_maskz_loadu_ps (m1, row + 16),
                                                      _mm512_maskz_loadu_ps (m0, row));
              }
            transpose16 (r);
            for (int i = 0; i < 16 && q0 + i < p->kp; i++)
              _mm512_store_si512 (p->data + (((gsize) panel * p->kp + q0 + i) * NR + half * 16) * 2,
                                  r[i]);
          }
      }
}

/* pack_cols_scalar(): rows 2q and 2q + 1 of b rounded 32 columns at a time
 * and interleaved. */
static void
pack_cols_vector (FacetBf16Weight *p,
                  const float     *b,
                  gsize            ld,
                  int              q0,
                  int              q1)
{
  const __m512i lo = _mm512_set_epi16 (47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                       39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi = _mm512_add_epi16 (lo, _mm512_set1_epi16 (16));

  for (int q = q0; q < q1; q++)
    {
      const float *r0 = b + (gsize) (2 * q) * ld, *r1 = r0 + ld;
      gboolean has1 = 2 * q + 1 < p->k;
      for (int panel = 0; panel < p->panels; panel++)
        {
          int c = panel * NR, have = MIN (NR, p->n - c);
          __mmask16 m0 = (__mmask16) (have >= 16 ? 0xffff : (1u << have) - 1);
          __mmask16 m1 = (__mmask16) (have >= 32 ? 0xffff : have > 16 ? (1u << (have - 16)) - 1 : 0);
          __m512i a = (__m512i) _mm512_cvtne2ps_pbh (_mm512_maskz_loadu_ps (m1, r0 + c + 16),
                                                     _mm512_maskz_loadu_ps (m0, r0 + c));
          __m512i z = has1 ? (__m512i) _mm512_cvtne2ps_pbh (_mm512_maskz_loadu_ps (m1, r1 + c + 16),
                                                            _mm512_maskz_loadu_ps (m0, r1 + c))
                           : _mm512_setzero_si512 ();
          guint16 *dst = p->data + ((gsize) panel * p->kp + q) * NR * 2;
          _mm512_store_si512 (dst, _mm512_permutex2var_epi16 (a, lo, z));
          _mm512_store_si512 (dst + 32, _mm512_permutex2var_epi16 (a, hi, z));
        }
    }
}

/* The epilogue's GELU on a register: x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2,
 * with erfc(z) = t P(t) exp(-z^2), t = 1 / (1 + p z) for z >= 0
 * (Abramowitz and Stegun 7.1.26: within 1.5e-7 of erf, far below bf16's
 * rounding of the products), t from vrcp14ps and one Newton step, exp by
 * 2^n scaling. One exp serves both Phi and the density phi(x) =
 * exp(-x^2 / 2) / sqrt(2 pi) in the derivative. The erf form of
 * cpu-kernels.c (a division, two exponentials in the derivative; the fp32
 * path's) took 4 % of a bf16 training step here. */

/* the unmasked forms leave GCC 12 warning of an uninitialised operand */
#define ALL16 ((__mmask16) 0xffff)

static inline __attribute__ ((always_inline)) __m512
exp16 (__m512 x)
{
  __m512 n, r, p;

  x = _mm512_maskz_max_ps (ALL16, x, _mm512_set1_ps (-87.0f));
  n = _mm512_maskz_roundscale_ps (ALL16, _mm512_mul_ps (x, _mm512_set1_ps (1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_fnmadd_ps (n, _mm512_set1_ps (0.693359375f), x);
  r = _mm512_fnmadd_ps (n, _mm512_set1_ps (-2.12194440e-4f), r);
  p = _mm512_set1_ps (1.9875691500e-4f);
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.3981999507e-3f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (8.3334519073e-3f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (4.1665795894e-2f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.6666665459e-1f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (5.0000001201e-1f));
  p = _mm512_fmadd_ps (p, _mm512_mul_ps (r, r), _mm512_add_ps (r, _mm512_set1_ps (1.0f)));
  return _mm512_maskz_scalef_ps (ALL16, p, n);
}

/* Phi(x) in *cdf, exp(-x^2 / 2) returned */
static inline __attribute__ ((always_inline)) __m512
normal_cdf16 (__m512  x,
              __m512 *cdf)
{
  __m512 u = _mm512_mul_ps (x, _mm512_set1_ps (-0.70710678118654752f));
  __m512 z = _mm512_maskz_max_ps (ALL16, u, _mm512_sub_ps (_mm512_setzero_ps (), u));
  __m512 d = _mm512_fmadd_ps (z, _mm512_set1_ps (0.3275911f), _mm512_set1_ps (1.0f));
  __m512 t = _mm512_maskz_rcp14_ps (ALL16, d);
  __m512 p, ez, half_erfc;

  t = _mm512_mul_ps (t, _mm512_fnmadd_ps (d, t, _mm512_set1_ps (2.0f)));
  p = _mm512_set1_ps (1.061405429f);
  p = _mm512_fmadd_ps (p, t, _mm512_set1_ps (-1.453152027f));
  p = _mm512_fmadd_ps (p, t, _mm512_set1_ps (1.421413741f));
  p = _mm512_fmadd_ps (p, t, _mm512_set1_ps (-0.284496736f));
  p = _mm512_fmadd_ps (p, t, _mm512_set1_ps (0.254829592f));
  ez = exp16 (_mm512_mul_ps (_mm512_sub_ps (_mm512_setzero_ps (), z), z));
  half_erfc = _mm512_mul_ps (_mm512_mul_ps (_mm512_mul_ps (p, t), ez), _mm512_set1_ps (0.5f));
  /* u >= 0 (x <= 0): erfc(z) / 2; else 1 - erfc(z) / 2 */
  *cdf = _mm512_mask_sub_ps (half_erfc, _mm512_cmp_ps_mask (u, _mm512_setzero_ps (), _CMP_LT_OQ),
                             _mm512_set1_ps (1.0f), half_erfc);
  return ez;
}

static inline __attribute__ ((always_inline)) __m512
gelu16 (__m512 x)
{
  __m512 cdf;

  normal_cdf16 (x, &cdf);
  return _mm512_mul_ps (x, cdf);
}

/* d/dx x Phi(x) = Phi(x) + x phi(x) */
static inline __attribute__ ((always_inline)) __m512
gelu_grad16 (__m512 x)
{
  __m512 cdf, ez = normal_cdf16 (x, &cdf);

  return _mm512_fmadd_ps (_mm512_mul_ps (x, ez), _mm512_set1_ps (0.39894228040143268f), cdf);
}

typedef struct
{
  const float *bias;  /* at the tile's first column, or NULL */
  float       *c;     /* the tile's first element */
  float       *aux;   /* the same element of the auxiliary matrix, or NULL */
  gsize        ldc;
  __mmask16    m0, m1;
  guint        flags;
} Epilogue;

/* GELU on a tile (KEEP_PRE: its input kept in aux), or the tile times
 * GELU's derivative at aux (GELU_GRAD). */
static __attribute__ ((noinline)) void
gelu_epilogue (float          *tile,
               int             mr,
               const Epilogue *e)
{
  if (e->flags & FACET_BF16_GELU_GRAD)
    {
      /* the rows of GELU's input first, all their loads in flight at once
       * (they come from memory: one after another, each waited) */
      float pre[MR * NR] __attribute__ ((aligned (64)));
      for (int i = 0; i < mr; i++)
        {
          const float *aux = e->aux + (gsize) i * e->ldc;
          _mm512_store_ps (pre + i * NR, _mm512_maskz_loadu_ps (e->m0, aux));
          _mm512_store_ps (pre + i * NR + 16, _mm512_maskz_loadu_ps (e->m1, aux + 16));
        }
      for (int i = 0; i < mr * NR; i += 16)
        _mm512_store_ps (tile + i, _mm512_mul_ps (_mm512_load_ps (tile + i),
                                                  gelu_grad16 (_mm512_load_ps (pre + i))));
      return;
    }
  if (e->flags & FACET_BF16_KEEP_PRE)
    for (int i = 0; i < mr; i++)
      {
        float *aux = e->aux + (gsize) i * e->ldc;
        _mm512_mask_storeu_ps (aux, e->m0, _mm512_load_ps (tile + i * NR));
        _mm512_mask_storeu_ps (aux + 16, e->m1, _mm512_load_ps (tile + i * NR + 16));
      }
  for (int i = 0; i < mr * NR; i += 16)
    _mm512_store_ps (tile + i, gelu16 (_mm512_load_ps (tile + i)));
}

static inline __attribute__ ((always_inline)) void
micro_kernel (const int       mr,
              const guint32  *a,
              int             kp,
              const guint16  *b,
              const Epilogue *e)
{
  __m512 acc[MR][2];

  for (int i = 0; i < mr; i++)
    acc[i][0] = acc[i][1] = _mm512_setzero_ps ();
#pragma GCC unroll 2
  for (int q = 0; q < kp; q++)
    {
      __m512bh b0 = (__m512bh) _mm512_load_si512 (b + (gsize) q * NR * 2);
      __m512bh b1 = (__m512bh) _mm512_load_si512 (b + (gsize) q * NR * 2 + 32);
      for (int i = 0; i < mr; i++)
        {
          __m512bh ai = (__m512bh) _mm512_set1_epi32 ((int) a[(gsize) q * MR + i]);
          acc[i][0] = _mm512_dpbf16_ps (acc[i][0], ai, b0);
          acc[i][1] = _mm512_dpbf16_ps (acc[i][1], ai, b1);
        }
    }
  if (e->bias != NULL)
    {
      __m512 bias0 = _mm512_maskz_loadu_ps (e->m0, e->bias);
      __m512 bias1 = _mm512_maskz_loadu_ps (e->m1, e->bias + 16);
      for (int i = 0; i < mr; i++)
        {
          acc[i][0] = _mm512_add_ps (acc[i][0], bias0);
          acc[i][1] = _mm512_add_ps (acc[i][1], bias1);
        }
    }
  if (e->flags & (FACET_BF16_GELU | FACET_BF16_GELU_GRAD))
    {
      /* out of line, on the tile in L1: written into the kernel, the
       * epilogue's constants made the compiler spill accumulators in the
       * product's loop (a bf16 training step 10 % slower) */
      float tile[MR * NR] __attribute__ ((aligned (64)));
      for (int i = 0; i < mr; i++)
        {
          _mm512_store_ps (tile + i * NR, acc[i][0]);
          _mm512_store_ps (tile + i * NR + 16, acc[i][1]);
        }
      gelu_epilogue (tile, mr, e);
      for (int i = 0; i < mr; i++)
        {
          acc[i][0] = _mm512_load_ps (tile + i * NR);
          acc[i][1] = _mm512_load_ps (tile + i * NR + 16);
        }
    }
  for (int i = 0; i < mr; i++)
    {
      float *row = e->c + (gsize) i * e->ldc;
      if (e->flags & FACET_BF16_ACCUMULATE)
        {
          acc[i][0] = _mm512_add_ps (acc[i][0], _mm512_maskz_loadu_ps (e->m0, row));
          acc[i][1] = _mm512_add_ps (acc[i][1], _mm512_maskz_loadu_ps (e->m1, row + 16));
        }
      _mm512_mask_storeu_ps (row, e->m0, acc[i][0]);
      _mm512_mask_storeu_ps (row + 16, e->m1, acc[i][1]);
    }
}

/* One instance per tile height, so that the accumulators live in registers. */
static void
run_tile (int             mr,
          const guint32  *a,
          int             kp,
          const guint16  *b,
          const Epilogue *e)
{
  switch (mr)
    {
#define CASE(R) case R: micro_kernel (R, a, kp, b, e); break;
      CASE (14) CASE (13) CASE (12) CASE (11) CASE (10) CASE (9) CASE (8) CASE (7)
      CASE (6) CASE (5) CASE (4) CASE (3) CASE (2) CASE (1)
#undef CASE
    default:
      g_assert_not_reached ();
    }
}

/* Rows [r0, r1) of x [.., k] -> bf16 pairs, interleaved by tiles: word
 * (t, q, i) = the pair q of row r0 + t MR + i, at (t kp + q) MR + i, so that
 * the kernel's broadcasts of one pair step through a single pointer. Odd k
 * is padded with 0. A tile's rows are rounded 16 pairs at a time and
 * transposed in registers, so that the words go out in order (one word at
 * a time, 56 bytes apart, took 5 % of a bf16 training step). */
static void
round_rows (const float *x,
            gsize        lda,
            int          k,
            int          kp,
            int          r0,
            int          r1,
            guint32     *dst)
{
  for (int t0 = r0; t0 < r1; t0 += MR)
    {
      int mr = MIN (MR, r1 - t0);
      guint32 *tile = dst + (gsize) ((t0 - r0) / MR) * kp * MR;

      for (int q0 = 0; q0 < kp; q0 += 16)
        {
          __m512i r[16];
          int c0 = 2 * q0, have = MIN (32, k - c0);
          __mmask16 m0 = (__mmask16) (have >= 16 ? 0xffff : (1u << have) - 1);
          __mmask16 m1 = (__mmask16) (have >= 32 ? 0xffff : have > 16 ? (1u << (have - 16)) - 1 : 0);

          for (int i = 0; i < 16; i++)
            {
              const float *src = x + (gsize) (t0 + i) * lda + c0;
              r[i] = i < mr ? (__m512i) _mm512_cvtne2ps_pbh (_mm512_maskz_loadu_ps (m1, src + 16),
                                                             _mm512_maskz_loadu_ps (m0, src))
                            : _mm512_setzero_si512 ();
            }
          transpose16 (r);
          for (int j = 0; j < 16 && q0 + j < kp; j++)
            _mm512_mask_storeu_epi32 (tile + (gsize) (q0 + j) * MR, (__mmask16) ((1u << MR) - 1), r[j]);
        }
    }
}

/* The transpose of round_rows(): the rows [r0, r1) of A = x^T, that is the
 * columns of x [k, ..] (rows @lda apart), pairs along x's rows. For each
 * pair q and tile, rows 2q and 2q + 1 of x give the tile's 14 words.
 * With @sums, x's columns [r0, r1) are also added into sums[r0..r1): the
 * bias gradient of a weight gradient, from the loads the rounding makes
 * anyway (a pass of its own over dy took 1.5 % of a bf16 training step). */
static void
round_cols (const float *x,
            gsize        lda,
            int          k,
            int          kp,
            int          r0,
            int          r1,
            guint32     *dst,
            float       *sums)
{
  const __m512i join = _mm512_set_epi16 (31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);

  /* a chunk of tiles at a time, with their column sums */
  for (int c0 = r0; c0 < r1; c0 += SUM_TILES * MR)
    {
      int c1 = MIN (r1, c0 + SUM_TILES * MR), tiles = (c1 - c0 + MR - 1) / MR;
      int t0 = (c0 - r0) / MR;
      __m512 sum[SUM_TILES];

      for (int t = 0; sums != NULL && t < tiles; t++)
        sum[t] = _mm512_maskz_loadu_ps ((__mmask16) ((1u << MIN (MR, c1 - c0 - t * MR)) - 1),
                                        sums + c0 + t * MR);
      for (int q = 0; q < kp; q++)
        {
          const float *x0 = x + (gsize) (2 * q) * lda, *x1 = x0 + lda;
          gboolean has1 = 2 * q + 1 < k;
          for (int c = c0, t = 0; c < c1; c += MR, t++)
            {
              int w = MIN (MR, c1 - c);
              __mmask16 m = (__mmask16) ((1u << w) - 1);
              __m512 v0, v1;
              __m512i words;

              if (q + ROUND_COLS_AHEAD < kp)
                {
                  /* a few cache lines of each of many rows, far apart: the
                   * hardware's prefetcher does not see them coming (this
                   * loop waited on memory for 2-3 % of a training step) */
                  _mm_prefetch ((const char *) (x0 + 2 * ROUND_COLS_AHEAD * lda + c), _MM_HINT_T0);
                  _mm_prefetch ((const char *) (x1 + 2 * ROUND_COLS_AHEAD * lda + c), _MM_HINT_T0);
                }
              v0 = _mm512_maskz_loadu_ps (m, x0 + c);
              v1 = has1 ? _mm512_maskz_loadu_ps (m, x1 + c) : _mm512_setzero_ps ();
              words = _mm512_permutexvar_epi16 (join, (__m512i) _mm512_cvtne2ps_pbh (v1, v0));
              _mm512_mask_storeu_epi32 (dst + ((gsize) (t0 + t) * kp + q) * MR, m, words);
              if (sums != NULL)
                {
                  /* row after row, as facet_cpu_col_sum() adds them */
                  sum[t] = _mm512_add_ps (sum[t], v0);
                  if (has1)
                    sum[t] = _mm512_add_ps (sum[t], v1);
                }
            }
        }
      for (int t = 0; sums != NULL && t < tiles; t++)
        _mm512_mask_storeu_ps (sums + c0 + t * MR,
                               (__mmask16) ((1u << MIN (MR, c1 - c0 - t * MR)) - 1), sum[t]);
    }
}

typedef struct
{
  const float           *x;
  gsize                  lda;
  gboolean               a_trans; /* the rows of A are x's columns */
  float                 *sums;    /* a_trans: += the sums of x's columns, or NULL */
  const FacetBf16Weight *w;
  const float           *bias;
  float                 *y;
  gsize                  ldc;
  float                 *aux;     /* y's layout: GELU's input, kept or read */
  int                    m;
  guint                  flags;
  int                    blocks;  /* of rows, whole tiles, as even as they divide */
  int                    col_groups;
} Bf16Job;

/* y[r0..r1, panels p0..p1] of x w^T, x rows @lda apart, y rows @ldc apart;
 * @a: scratch of a_words() words */
static gsize
a_words (int rows,
         int kp)
{
  return (gsize) ((rows + MR - 1) / MR) * MR * kp;
}

static void
block_product (const float           *x,
               gsize                  lda,
               const FacetBf16Weight *w,
               const float           *bias,
               float                 *y,
               gsize                  ldc,
               int                    r0,
               int                    r1,
               int                    p0,
               int                    p1,
               guint                  flags,
               float                 *aux,
               gboolean               a_trans,
               float                 *sums,
               guint32               *a)
{
  if (a_trans)
    round_cols (x, lda, w->k, w->kp, r0, r1, a, sums);
  else
    round_rows (x, lda, w->k, w->kp, r0, r1, a);
  for (int p = p0; p < p1; p++)
    {
      const guint16 *b = w->data + (gsize) p * w->kp * NR * 2;
      int j0 = p * NR, cols = MIN (NR, w->n - j0);
      Epilogue e = {
        .bias = bias != NULL ? bias + j0 : NULL,
        .ldc = ldc,
        .m0 = (__mmask16) (cols >= 16 ? 0xffff : (1u << cols) - 1),
        .m1 = (__mmask16) (cols >= 32 ? 0xffff : cols > 16 ? (1u << (cols - 16)) - 1 : 0),
        .flags = flags,
      };
      for (int i0 = r0; i0 < r1; i0 += MR)
        {
          e.c = y + (gsize) i0 * ldc + j0;
          e.aux = aux != NULL ? aux + (gsize) i0 * ldc + j0 : NULL;
          run_tile (MIN (MR, r1 - i0), a + (gsize) (i0 - r0) * w->kp, w->kp, b, &e);
        }
    }
}

static void
bf16_part (guint    index,
           gpointer data)
{
  const Bf16Job *job = data;
  const FacetBf16Weight *w = job->w;
  int rb = (int) index / job->col_groups, cg = (int) index % job->col_groups;
  int tiles = (job->m + MR - 1) / MR;
  int r0 = MR * (tiles * rb / job->blocks), r1 = MIN (job->m, MR * (tiles * (rb + 1) / job->blocks));
  int p0 = w->panels * cg / job->col_groups, p1 = w->panels * (cg + 1) / job->col_groups;
  guint32 *a;

  if (r1 <= r0 || p1 <= p0)
    return;
  a = thread_scratch (&a_scratch, a_words (r1 - r0, w->kp) * sizeof (guint32));
  block_product (job->x, job->lda, w, job->bias, job->y, job->ldc, r0, r1, p0, p1, job->flags,
                 job->aux, job->a_trans, cg == 0 ? job->sums : NULL, a);
}

/* One head of attention: s = softmax(scale q k^T), o = s v, with q, k, v
 * [t, dh] rows @ld apart, s [t, t], o rows @ldo apart. k and v are packed
 * here (as weights are at load): k's rows are the columns of q k^T, v's
 * columns those of s v, so v is packed transposed, pairs along the tokens. */
static void
attention_head (const float *q,
                const float *k,
                const float *v,
                gsize        ld,
                int          t,
                int          dh,
                float        scale,
                float       *s,
                float       *o,
                gsize        ldo)
{
  FacetBf16Weight kw = { t, dh, (dh + 1) / 2, (t + NR - 1) / NR, FALSE, 0, NULL };
  FacetBf16Weight vw = { dh, t, (t + 1) / 2, (dh + NR - 1) / NR, FALSE, 0, NULL };
  gsize ksize = (gsize) kw.panels * kw.kp * NR * 2, vsize = (gsize) vw.panels * vw.kp * NR * 2;
  gsize tmp_words = (gsize) t * kw.kp + (gsize) (t + 1) * dh;
  gsize awords = MAX (a_words (t, kw.kp), a_words (t, vw.kp));
  /* not cleared: padding rows and columns only reach lanes that are never
   * stored (the odd token count's pad token is cleared below) */
  guint16 *buf = thread_scratch (&attention_scratch,
                                 (ksize + vsize + 2 * (tmp_words + awords)) * sizeof (guint16));
  guint32 *tmp = (guint32 *) (buf + ksize + vsize), *a = tmp + tmp_words;
  guint16 *v16 = (guint16 *) tmp;

  kw.data = buf;
  vw.data = buf + ksize;

  /* k: each row rounded (pairs along dh), then its words spread over the
   * panel layout */
  round_rows (k, ld, dh, kw.kp, 0, t, a);
  for (int j = 0; j < t; j++)
    {
      guint32 *dst = (guint32 *) kw.data + (gsize) (j / NR) * kw.kp * NR + j % NR;
      const guint32 *src = a + (gsize) (j / MR) * kw.kp * MR + j % MR;
      for (int p = 0; p < kw.kp; p++)
        dst[(gsize) p * NR] = src[(gsize) p * MR];
    }
  block_product (q, ld, &kw, NULL, s, (gsize) t, 0, t, 0, kw.panels, 0, NULL, FALSE, NULL, a);
  facet_cpu_softmax_rows (s, (gsize) t, (gsize) t, (gsize) t, scale);

  /* v: rows rounded, then pairs of tokens (2p, 2p + 1) joined per column */
  for (int r = 0; r < t; r++)
    for (int c = 0; c < dh; c += 16)
      {
        int have = MIN (16, dh - c);
        __mmask16 m = (__mmask16) ((1u << have) - 1);
        __m256bh h = _mm512_cvtneps_pbh (_mm512_maskz_loadu_ps (m, v + (gsize) r * ld + c));
        _mm256_mask_storeu_epi16 (v16 + (gsize) r * dh + c, m, (__m256i) h);
      }
  memset (v16 + (gsize) t * dh, 0, sizeof (guint16) * dh); /* odd t: the pad token */
  for (int c = 0; c < dh; c++)
    {
      guint32 *dst = (guint32 *) vw.data + (gsize) (c / NR) * vw.kp * NR + c % NR;
      for (int p = 0; p < vw.kp; p++)
        dst[(gsize) p * NR] = (guint32) v16[(gsize) 2 * p * dh + c]
                              | (guint32) v16[(gsize) (2 * p + 1) * dh + c] << 16;
    }
  block_product (s, (gsize) t, &vw, NULL, o, ldo, 0, t, 0, vw.panels, 0, NULL, FALSE, NULL, a);
}

/* The backward of one head (see facet_cpu_attention_head_backward_bf16):
 * q, k, v and dout packed here the way each product reads them, pairs
 * along the tokens where the tokens are the inner dimension. */
static void
attention_head_backward (const float *q,
                         const float *k,
                         const float *v,
                         gsize        ld,
                         const float *p,
                         const float *dout,
                         gsize        ldo,
                         int          t,
                         int          dh,
                         float        scale,
                         float       *ds,
                         float       *dq,
                         float       *dk,
                         float       *dv)
{
  /* weights [dh, t] (pairs of tokens) from dout, k and q; v as [t, dh] */
  FacetBf16Weight dow = { dh, t, (t + 1) / 2, (dh + NR - 1) / NR, TRUE, 0, NULL };
  FacetBf16Weight kw = dow, qw = dow;
  FacetBf16Weight vw = { t, dh, (dh + 1) / 2, (t + NR - 1) / NR, FALSE, 0, NULL };
  gsize tsize = (gsize) dow.panels * dow.kp * NR * 2, vsize = (gsize) vw.panels * vw.kp * NR * 2;
  gsize awords = MAX (a_words (t, dow.kp), a_words (t, vw.kp));
  guint16 *buf = thread_scratch (&attention_back_scratch,
                                 (3 * tsize + vsize + 2 * awords) * sizeof (guint16));
  guint32 *a = (guint32 *) (buf + 3 * tsize + vsize);

  dow.data = buf;
  kw.data = buf + tsize;
  qw.data = buf + 2 * tsize;
  vw.data = buf + 3 * tsize;
  pack_cols_vector (&dow, dout, ldo, 0, dow.kp);
  pack_cols_vector (&kw, k, ld, 0, kw.kp);
  pack_cols_vector (&qw, q, ld, 0, qw.kp);
  pack_rows_vector (&vw, v, ld, 0, vw.panels);

  /* O = P V: dV = P^T dO (P's columns rounded as rows), dP = dO V^T */
  block_product (p, (gsize) t, &dow, NULL, dv, ld, 0, t, 0, dow.panels, 0, NULL, TRUE, NULL, a);
  block_product (dout, ldo, &vw, NULL, ds, (gsize) t, 0, t, 0, vw.panels, 0, NULL, FALSE, NULL, a);
  /* softmax, in fp32: dS = scale P (dP - rowsum(dP P)), the scale of
   * S = scale Q K^T folded in */
  for (int i = 0; i < t; i++)
    {
      float *dsr = ds + (gsize) i * t;
      const float *pr = p + (gsize) i * t;
      __m512 acc = _mm512_setzero_ps (), dot, sp;
      for (int c = 0; c < t; c += 16)
        {
          __mmask16 m = (__mmask16) (t - c >= 16 ? 0xffff : (1u << (t - c)) - 1);
          __m512 dp = _mm512_maskz_loadu_ps (m, dsr + c);
          acc = _mm512_fmadd_ps (dp, _mm512_maskz_loadu_ps (m, pr + c), acc);
        }
      {
        float lanes[16] __attribute__ ((aligned (64))), sum = 0.0f;
        _mm512_store_ps (lanes, acc);
        for (int l = 0; l < 16; l++)
          sum += lanes[l];
        dot = _mm512_set1_ps (sum);
      }
      for (int c = 0; c < t; c += 16)
        {
          __mmask16 m = (__mmask16) (t - c >= 16 ? 0xffff : (1u << (t - c)) - 1);
          __m512 dp = _mm512_sub_ps (_mm512_maskz_loadu_ps (m, dsr + c), dot);
          sp = _mm512_mul_ps (_mm512_set1_ps (scale), _mm512_maskz_loadu_ps (m, pr + c));
          _mm512_mask_storeu_ps (dsr + c, m, _mm512_mul_ps (sp, dp));
        }
    }
  /* dQ = dS K, dK = dS^T Q */
  block_product (ds, (gsize) t, &kw, NULL, dq, ld, 0, t, 0, kw.panels, 0, NULL, FALSE, NULL, a);
  block_product (ds, (gsize) t, &qw, NULL, dk, ld, 0, t, 0, qw.panels, 0, NULL, TRUE, NULL, a);
}

/* y [m, w->n] (rows @ldc apart) = act(A w^T + bias) (+ y), A = x [m, k]
 * (rows @lda apart) or with @a_trans x^T for x [k, m]. */
static void
product (const float           *x,
         gsize                  lda,
         gboolean               a_trans,
         float                 *sums,
         const FacetBf16Weight *w,
         const float           *bias,
         float                 *y,
         gsize                  ldc,
         float                 *aux,
         int                    m,
         guint                  flags)
{
  guint threads = facet_parallel_get_threads ();
  int max_rows = MAX (MR, (int) (A_BLOCK_BYTES / ((gsize) w->kp * 4)) / MR * MR);
  int tiles = (m + MR - 1) / MR;
  int blocks = (m + max_rows - 1) / max_rows;
  Bf16Job job = { x, lda, a_trans, sums, w, bias, y, ldc, aux, m, flags, 1, 1 };

  /* Blocks of equal size, as many as a multiple of the threads: 11 blocks
   * of 70 rows (a ViT-B weight gradient over 768 outputs) left one thread
   * idle for a sixth of the product, and a short last block did the same. */
  if (threads > 1 && blocks >= (int) threads)
    blocks = MIN (tiles, (blocks + (int) threads - 1) / (int) threads * (int) threads);
  job.blocks = blocks;
  /* Enough items for every thread to take several, so that the dynamic
   * schedule evens out a core that is busy elsewhere. */
  if (threads > 1)
    job.col_groups = CLAMP ((int) (4 * threads + blocks - 1) / blocks, 1, w->panels);
  facet_parallel_for ((guint) (blocks * job.col_groups), bf16_part, &job);
}

static void
linear_bf16 (const float           *x,
             const FacetBf16Weight *w,
             const float           *bias,
             float                 *y,
             int                    m,
             guint                  flags)
{
  product (x, (gsize) w->k, FALSE, NULL, w, bias, y, (gsize) w->n, NULL, m, flags);
}

/* 24 independent chains of vdpbf16ps on registers: the instruction's
 * throughput, with nothing to wait for. Returns the thread's CPU seconds
 * (time on the core: other work on a shared machine does not count). */
static double
peak_loop (long iterations)
{
  __m512 acc[24];
  __m512bh a = (__m512bh) _mm512_set1_epi32 (0x3f803f80), b = a;
  float sink = 0.0f;
  struct timespec t0, t1;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t0);

  for (int i = 0; i < 24; i++)
    acc[i] = _mm512_setzero_ps ();
  for (long it = 0; it < iterations; it++)
    {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++)
        acc[i] = _mm512_dpbf16_ps (acc[i], a, b);
      __asm__ volatile ("" : "+v" (a));
    }
  for (int i = 0; i < 24; i++)
    {
      float lanes[16];
      _mm512_storeu_ps (lanes, acc[i]);
      sink += lanes[0];
    }
  __asm__ volatile ("" : : "x" (sink));
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t1);
  return (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
}

typedef struct
{
  long   iterations;
  double seconds[64];
} PeakJob;

static void
peak_part (guint    index,
           gpointer data)
{
  PeakJob *job = data;
  job->seconds[index % 64] = peak_loop (job->iterations);
}

#pragma GCC pop_options

#else /* !HAVE_BF16_KERNEL */

static void
pack_rows_vector (FacetBf16Weight *p,
                  const float     *w,
                  gsize            ld,
                  int              p0,
                  int              p1)
{
  pack_rows_scalar (p, w, ld, p0, p1);
}

static void
pack_cols_vector (FacetBf16Weight *p,
                  const float     *b,
                  gsize            ld,
                  int              q0,
                  int              q1)
{
  pack_cols_scalar (p, b, ld, q0, q1);
}

#endif /* HAVE_BF16_KERNEL */

/**
 * facet_cpu_attention_head_bf16:
 * @q: [tokens, dh], rows @ld floats apart; @k, @v likewise
 * @s: [tokens, tokens]: the softmax probabilities afterwards (fp32)
 * @o: [tokens, dh], rows @ldo apart
 *
 * One attention head with both products in bf16 (fp32 sums); the softmax
 * of scale q k^T in fp32. Single-threaded: the caller spreads heads over
 * the pool. Only where facet_cpu_bf16_available().
 */
void
facet_cpu_attention_head_bf16 (const float *q,
                               const float *k,
                               const float *v,
                               gsize        ld,
                               int          tokens,
                               int          dh,
                               float        scale,
                               float       *s,
                               float       *o,
                               gsize        ldo)
{
#if HAVE_BF16_KERNEL
  g_return_if_fail (bf16_hardware ());
  if (tokens > 0 && dh > 0)
    attention_head (q, k, v, ld, tokens, dh, scale, s, o, ldo);
#else
  g_return_if_reached ();
#endif
}

/**
 * facet_cpu_attention_head_backward_bf16:
 * @q: [tokens, dh], rows @ld floats apart; @k, @v likewise
 * @probs: [tokens, tokens], the forward's softmax probabilities
 * @dout: [tokens, dh], rows @ldo apart: the gradient of the head's output
 * @ds: scratch of tokens^2 floats
 * @dq: [tokens, dh], rows @ld apart (overwritten); @dk, @dv likewise
 *
 * The backward of one head of facet_cpu_attention_head_bf16() (o = P v,
 * P = softmax(scale q k^T)): its four products in bf16 with fp32 sums, the
 * softmax's backward in fp32. Single-threaded: the caller spreads heads
 * over the pool. Only where facet_cpu_bf16_available().
 */
void
facet_cpu_attention_head_backward_bf16 (const float *q,
                                        const float *k,
                                        const float *v,
                                        gsize        ld,
                                        const float *probs,
                                        const float *dout,
                                        gsize        ldo,
                                        int          tokens,
                                        int          dh,
                                        float        scale,
                                        float       *ds,
                                        float       *dq,
                                        float       *dk,
                                        float       *dv)
{
#if HAVE_BF16_KERNEL
  g_return_if_fail (bf16_hardware ());
  if (tokens > 0 && dh > 0)
    attention_head_backward (q, k, v, ld, probs, dout, ldo, tokens, dh, scale, ds, dq, dk, dv);
#else
  g_return_if_reached ();
#endif
}

/**
 * facet_cpu_bf16_peak_gflops:
 *
 * The bf16 dot-product peak of @threads cores of this machine, measured
 * (not from a data sheet): every thread of the pool runs independent
 * vdpbf16ps on registers, five times about 0.1 s, the best kept; timed in
 * CPU seconds of each thread, so that it is the cores' peak even on a
 * machine that is busy with other work. 0 without AVX512-BF16.
 */
double
facet_cpu_bf16_peak_gflops (guint threads)
{
#if HAVE_BF16_KERNEL
  PeakJob job = { 8000000 };
  double best = 0.0;

  if (!bf16_hardware () || threads == 0)
    return 0.0;
  threads = MIN (threads, 64);
  for (int round = 0; round < 5; round++)
    {
      double worst = 0.0;
      facet_parallel_for (threads, peak_part, &job);
      for (guint i = 0; i < threads; i++)
        worst = MAX (worst, job.seconds[i]);
      /* 24 instructions of 16 lanes x 2 multiply-adds */
      best = MAX (best, threads * (double) job.iterations * 24 * 16 * 4 / worst / 1e9);
    }
  return best;
#else
  return 0.0;
#endif
}

/**
 * facet_cpu_linear_bf16:
 * @x: [m, k] fp32, rounded to bf16 on the fly
 * @w: the packed weight [n, k]
 * @bias: (nullable): [n], with %FACET_BF16_BIAS in @flags
 * @y: [m, n]
 *
 * y = act(x w^T + bias), or y += that with %FACET_BF16_ACCUMULATE; products
 * of bf16 numbers, sums in fp32. Only where facet_cpu_bf16_available().
 */
void
facet_cpu_linear_bf16 (const float           *x,
                       const FacetBf16Weight *w,
                       const float           *bias,
                       float                 *y,
                       int                    m,
                       guint                  flags)
{
  g_return_if_fail (w != NULL);
  if (!(flags & FACET_BF16_BIAS))
    bias = NULL;
  if (m <= 0 || w->n == 0)
    return;
#if HAVE_BF16_KERNEL
  g_return_if_fail (bf16_hardware ());
  linear_bf16 (x, w, bias, y, m, flags);
#else
  g_return_if_reached ();
#endif
}

/**
 * facet_cpu_weight_grad_bf16:
 * @dy: [m, n], the output gradient of y = x w^T
 * @x: [m, k], the layer's input
 * @dw: [n, k]: dy^T x is added to it
 * @db: (nullable): [n]: the column sums of dy (the bias gradient) are added
 *   to it, in fp32 and row after row as facet_cpu_col_sum() adds them
 *
 * The weight gradient with bf16 products (fp32 sums): x is rounded and
 * packed (pairs along m), dy's columns are rounded on the fly as the rows of
 * the product, and summed on the way for @db. Only where
 * facet_cpu_bf16_available().
 */
void
facet_cpu_weight_grad_bf16 (const float *dy,
                            const float *x,
                            int          m,
                            int          n,
                            int          k,
                            float       *dw,
                            float       *db)
{
  g_return_if_fail (dy != NULL && x != NULL && dw != NULL);
  if (m <= 0 || n <= 0 || k <= 0)
    return;
#if HAVE_BF16_KERNEL
  {
    /* x's pack lives in a buffer of the calling thread, kept for the next
     * call: a training step makes dozens of these, megabytes each. */
    static GPrivate scratch = G_PRIVATE_INIT ((GDestroyNotify) facet_bf16_weight_free);
    FacetBf16Weight *xp = g_private_get (&scratch);
    gsize size = (gsize) (k + NR - 1) / NR * ((m + 1) / 2) * NR * 2;

    g_return_if_fail (bf16_hardware ());
    /* against the capacity, not the last call's shape: the products of a
     * step alternate between small and large x, and a buffer sized by the
     * last one was allocated (and its pages faulted in) again and again */
    if (xp == NULL || xp->capacity < size)
      {
        xp = weight_alloc (k, m, TRUE);
        g_private_replace (&scratch, xp);
      }
    xp->n = k;
    xp->k = m;
    xp->kp = (m + 1) / 2;
    xp->panels = (k + NR - 1) / NR;
    pack_weight (xp, x, (gsize) k);
    product (dy, (gsize) n, TRUE, db, xp, NULL, dw, (gsize) k, NULL, n, FACET_BF16_ACCUMULATE);
  }
#else
  g_return_if_reached ();
#endif
}

/**
 * facet_cpu_linear_bf16_aux:
 * @aux: [m, n], y's layout
 *
 * facet_cpu_linear_bf16() with a second matrix for GELU: with
 * %FACET_BF16_GELU | %FACET_BF16_KEEP_PRE, @aux receives GELU's input (the
 * product plus bias) as @y receives its output; with %FACET_BF16_GELU_GRAD,
 * @y = (x w^T) * gelu'(@aux), the input gradient of fc2 carried back
 * through the GELU in one pass. Only where facet_cpu_bf16_available().
 */
void
facet_cpu_linear_bf16_aux (const float           *x,
                           const FacetBf16Weight *w,
                           const float           *bias,
                           float                 *y,
                           float                 *aux,
                           int                    m,
                           guint                  flags)
{
  g_return_if_fail (w != NULL && aux != NULL);
  if (!(flags & FACET_BF16_BIAS))
    bias = NULL;
  if (m <= 0 || w->n == 0)
    return;
#if HAVE_BF16_KERNEL
  g_return_if_fail (bf16_hardware ());
  product (x, (gsize) w->k, FALSE, NULL, w, bias, y, (gsize) w->n, aux, m, flags);
#else
  g_return_if_reached ();
#endif
}
