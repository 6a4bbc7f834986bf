/* test-engine-ops.c — every CPU op against plain double-precision loops,
 * at odd sizes on purpose (1, 7, 197, ...). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "core/facet-core.h"
#include "engine/cpu/cpu-gemm-bf16.h"
#include "engine/cpu/cpu-kernels.h"
#include "engine/facet-engine.h"

static FacetBackend *cpu;

static float *
random_floats (gsize    n,
               FacetRng *rng,
               double    scale)
{
  float *v = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    v[i] = (float) (facet_rng_normal (rng) * scale);
  return v;
}

static void
assert_close (const float  *got,
              const double *want,
              gsize         n,
              double        atol,
              double        rtol,
              const char   *what)
{
  for (gsize i = 0; i < n; i++)
    {
      double err = fabs ((double) got[i] - want[i]);
      if (err > atol + rtol * fabs (want[i]))
        g_error ("%s: element %" G_GSIZE_FORMAT ": got %.9g, want %.9g", what, i, (double) got[i],
                 want[i]);
    }
}

static double
gelu_ref (double x)
{
  return 0.5 * x * (1.0 + erf (x / sqrt (2.0)));
}

static void
run_op (FacetOpDesc        *op,
        const float *const *in,
        float              *out)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (facet_backend_compute_op (cpu, op, in, out, &error));
  g_assert_no_error (error);
}

static void
test_linear (void)
{
  static const int sizes[][3] = { { 1, 1, 1 }, { 7, 3, 5 }, { 197, 7, 64 }, { 3, 768, 197 },
                                  { 2, 13, 3072 } };
  FacetRng rng;

  facet_rng_init (&rng, 1);
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (guint flags = 0; flags < 8; flags++)
      {
        int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        FacetOpDesc op = { .kind = FACET_OP_LINEAR, .m = m, .n = n, .k = k, .flags = flags };
        g_autofree float *x = random_floats ((gsize) m * k, &rng, 1.0);
        g_autofree float *w = random_floats ((gsize) n * k, &rng, 1.0 / sqrt (k));
        g_autofree float *b = random_floats ((gsize) n, &rng, 0.5);
        g_autofree float *r = random_floats ((gsize) m * n, &rng, 1.0);
        g_autofree float *y = g_new (float, (gsize) m * n);
        g_autofree double *want = g_new (double, (gsize) m * n);
        const float *in[4] = { x, w };
        int i = 2;

        if (flags & FACET_OP_BIAS)
          in[i++] = b;
        if (flags & FACET_OP_RESIDUAL)
          in[i++] = r;
        run_op (&op, in, y);

        for (int a = 0; a < m; a++)
          for (int c = 0; c < n; c++)
            {
              double v = 0;
              for (int j = 0; j < k; j++)
                v += (double) x[(gsize) a * k + j] * w[(gsize) c * k + j];
              if (flags & FACET_OP_BIAS)
                v += b[c];
              if (flags & FACET_OP_ACT_GELU)
                v = gelu_ref (v);
              if (flags & FACET_OP_RESIDUAL)
                v += r[(gsize) a * n + c];
              want[(gsize) a * n + c] = v;
            }
        assert_close (y, want, (gsize) m * n, 1e-5, 1e-5, "linear");
      }
}

/* The bf16 product against double loops over the same bf16-rounded inputs:
 * products of bf16 numbers are exact in fp32, so only the fp32 sums differ. */
static void
test_linear_bf16 (void)
{
  static const int sizes[][3] = { { 1, 1, 1 }, { 7, 3, 5 }, { 13, 50, 31 }, { 25, 33, 64 },
                                  { 197, 96, 768 }, { 3, 40, 3072 } };
  FacetRng rng;

  if (!facet_cpu_bf16_available ())
    {
      g_test_skip ("no AVX512-BF16 here (or FACET_CPU_FEATURES switches it off)");
      return;
    }
  facet_rng_init (&rng, 3);
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (guint flags = 0; flags < 8; flags++)
      {
        int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        g_autofree float *x = random_floats ((gsize) m * k, &rng, 1.0);
        g_autofree float *w = random_floats ((gsize) n * k, &rng, 1.0 / sqrt (k));
        g_autofree float *b = random_floats ((gsize) n, &rng, 0.5);
        g_autofree float *y = random_floats ((gsize) m * n, &rng, 1.0);
        g_autofree double *want = g_new (double, (gsize) m * n);
        g_autoptr (FacetBf16Weight) packed = facet_bf16_weight_new (w, n, k);

        for (int a = 0; a < m; a++)
          for (int c = 0; c < n; c++)
            {
              double v = 0;
              for (int j = 0; j < k; j++)
                v += (double) facet_cpu_bf16_to_float (facet_cpu_float_to_bf16 (x[(gsize) a * k + j]))
                     * facet_cpu_bf16_to_float (facet_cpu_float_to_bf16 (w[(gsize) c * k + j]));
              if (flags & FACET_BF16_BIAS)
                v += b[c];
              if (flags & FACET_BF16_GELU)
                v = gelu_ref (v);
              if (flags & FACET_BF16_ACCUMULATE)
                v += y[(gsize) a * n + c];
              want[(gsize) a * n + c] = v;
            }
        g_assert_cmpint (facet_bf16_weight_get_n (packed), ==, n);
        g_assert_cmpint (facet_bf16_weight_get_k (packed), ==, k);
        facet_cpu_linear_bf16 (x, packed, b, y, m, flags);
        assert_close (y, want, (gsize) m * n, 2e-5 * sqrt (k), 1e-5, "linear bf16");
      }
}

static double
bf16_round (float x)
{
  return facet_cpu_bf16_to_float (facet_cpu_float_to_bf16 (x));
}

/* The backward products of y = x w^T in bf16: dx = dy w through the
 * transposed packing (also after facet_bf16_weight_update() with other
 * values), dw += dy^T x through facet_cpu_weight_grad_bf16() (and the bias
 * gradient it sums on the way, bit for bit the column sums); against double
 * loops over the same rounded inputs, at odd sizes (m not a multiple of the
 * 14-row tile nor even, n and k not multiples of the 32-column panel). */
static void
test_backward_bf16 (void)
{
  static const int sizes[][3] = { { 1, 1, 1 }, { 7, 3, 5 }, { 13, 50, 31 }, { 197, 33, 64 },
                                  { 395, 96, 768 }, { 30, 768, 40 } };
  FacetRng rng;

  if (!facet_cpu_bf16_available ())
    {
      g_test_skip ("no AVX512-BF16 here (or FACET_CPU_FEATURES switches it off)");
      return;
    }
  facet_rng_init (&rng, 5);
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
      g_autofree float *x = random_floats ((gsize) m * k, &rng, 1.0);
      g_autofree float *w = random_floats ((gsize) n * k, &rng, 1.0 / sqrt (k));
      g_autofree float *w2 = random_floats ((gsize) n * k, &rng, 1.0);
      g_autofree float *dy = random_floats ((gsize) m * n, &rng, 1.0);
      g_autofree float *dx = g_new (float, (gsize) m * k);
      g_autofree float *dw = random_floats ((gsize) n * k, &rng, 1.0);
      g_autofree double *want_dx = g_new (double, (gsize) m * k);
      g_autofree double *want_dw = g_new (double, (gsize) n * k);
      g_autoptr (FacetBf16Weight) wt = facet_bf16_weight_new_transposed (w2, n, k);

      g_assert_cmpint (facet_bf16_weight_get_n (wt), ==, k);
      g_assert_cmpint (facet_bf16_weight_get_k (wt), ==, n);
      facet_bf16_weight_update (wt, w); /* w2's values replaced */
      for (int a = 0; a < m; a++)
        for (int j = 0; j < k; j++)
          {
            double v = 0;
            for (int c = 0; c < n; c++)
              v += bf16_round (dy[(gsize) a * n + c]) * bf16_round (w[(gsize) c * k + j]);
            want_dx[(gsize) a * k + j] = v;
          }
      for (int c = 0; c < n; c++)
        for (int j = 0; j < k; j++)
          {
            double v = dw[(gsize) c * k + j];
            for (int a = 0; a < m; a++)
              v += bf16_round (dy[(gsize) a * n + c]) * bf16_round (x[(gsize) a * k + j]);
            want_dw[(gsize) c * k + j] = v;
          }
      facet_cpu_linear_bf16 (dy, wt, NULL, dx, m, 0);
      assert_close (dx, want_dx, (gsize) m * k, 2e-5 * sqrt (n), 1e-5, "dx bf16");
      facet_cpu_weight_grad_bf16 (dy, x, m, n, k, dw, NULL);
      assert_close (dw, want_dw, (gsize) n * k, 2e-5 * sqrt (m), 1e-5, "dw bf16");

      /* the bias gradient on the way: the bits facet_cpu_col_sum() gives */
      {
        g_autofree float *db = random_floats ((gsize) n, &rng, 1.0);
        g_autofree float *want_db = g_memdup2 (db, sizeof (float) * n);
        g_autofree float *dw2 = g_memdup2 (dw, sizeof (float) * n * k);
        g_autofree float *dw3 = g_memdup2 (dw, sizeof (float) * n * k);

        facet_cpu_col_sum (dy, (gsize) m, (gsize) n, 0, (gsize) n, want_db);
        facet_cpu_weight_grad_bf16 (dy, x, m, n, k, dw2, db);
        facet_cpu_weight_grad_bf16 (dy, x, m, n, k, dw3, NULL);
        g_assert_cmpmem (db, sizeof (float) * n, want_db, sizeof (float) * n);
        g_assert_cmpmem (dw2, sizeof (float) * n * k, dw3, sizeof (float) * n * k);
      }

      /* GELU's backward in the epilogue: dx * gelu'(pre) */
      {
        g_autofree float *pre = random_floats ((gsize) m * k, &rng, 2.0);
        for (gsize i = 0; i < (gsize) m * k; i++)
          {
            double z = pre[i];
            want_dx[i] *= 0.5 * erfc (-z / sqrt (2.0)) + z * exp (-0.5 * z * z) / sqrt (2.0 * G_PI);
          }
        facet_cpu_linear_bf16_aux (dy, wt, NULL, dx, pre, m, FACET_BF16_GELU_GRAD);
        assert_close (dx, want_dx, (gsize) m * k, 4e-5 * sqrt (n), 1e-4, "dx through gelu bf16");
      }
    }
}

/* GELU with its input kept: y = gelu(x w^T + b), pre = x w^T + b. */
static void
test_linear_bf16_keep_pre (void)
{
  int m = 29, n = 70, k = 48;
  FacetRng rng;
  g_autofree float *x = NULL, *w = NULL, *b = NULL, *y = NULL, *pre = NULL;
  g_autofree double *want = NULL, *want_pre = NULL;
  g_autoptr (FacetBf16Weight) packed = NULL;

  if (!facet_cpu_bf16_available ())
    {
      g_test_skip ("no AVX512-BF16 here (or FACET_CPU_FEATURES switches it off)");
      return;
    }
  facet_rng_init (&rng, 7);
  x = random_floats ((gsize) m * k, &rng, 1.0);
  w = random_floats ((gsize) n * k, &rng, 1.0 / sqrt (k));
  b = random_floats ((gsize) n, &rng, 0.5);
  y = g_new (float, (gsize) m * n);
  pre = g_new (float, (gsize) m * n);
  want = g_new (double, (gsize) m * n);
  want_pre = g_new (double, (gsize) m * n);
  packed = facet_bf16_weight_new (w, n, k);
  for (int a = 0; a < m; a++)
    for (int c = 0; c < n; c++)
      {
        double v = b[c];
        for (int j = 0; j < k; j++)
          v += bf16_round (x[(gsize) a * k + j]) * bf16_round (w[(gsize) c * k + j]);
        want_pre[(gsize) a * n + c] = v;
        want[(gsize) a * n + c] = gelu_ref (v);
      }
  facet_cpu_linear_bf16_aux (x, packed, b, y, pre, m,
                             FACET_BF16_BIAS | FACET_BF16_GELU | FACET_BF16_KEEP_PRE);
  assert_close (pre, want_pre, (gsize) m * n, 2e-5 * sqrt (k), 1e-5, "kept GELU input bf16");
  assert_close (y, want, (gsize) m * n, 2e-5 * sqrt (k), 1e-5, "GELU output bf16");
}

/* The bf16 epilogue's GELU and GELU derivative over their whole range, at
 * inputs the product passes exactly: x (multiples of 1/16 in [-10, 10],
 * exact in bf16) times the identity. Within 1e-6 of erf's GELU: the
 * epilogue's erf (Abramowitz and Stegun 7.1.26) is good to 1.5e-7. */
static void
test_gelu_epilogue_range (void)
{
  enum { N = 32, ROWS = 11 };
  g_autofree float *x = g_new (float, ROWS * N), *eye = g_new0 (float, N * N);
  g_autofree float *y = g_new (float, ROWS * N), *pre = g_new (float, ROWS * N);
  g_autofree float *ones = g_new (float, ROWS * N);
  g_autofree double *want = g_new (double, ROWS * N), *want_grad = g_new (double, ROWS * N);
  g_autoptr (FacetBf16Weight) w = NULL, wt = NULL;

  if (!facet_cpu_bf16_available ())
    {
      g_test_skip ("no AVX512-BF16 here (or FACET_CPU_FEATURES switches it off)");
      return;
    }
  for (int i = 0; i < N; i++)
    eye[i * N + i] = 1.0f;
  for (int i = 0; i < ROWS * N; i++)
    {
      double v = MIN (-10.0 + i / 16.0, 10.0);
      x[i] = (float) v;
      want[i] = gelu_ref (v);
      want_grad[i] = 0.5 * erfc (-v / sqrt (2.0)) + v * exp (-0.5 * v * v) / sqrt (2.0 * G_PI);
    }
  w = facet_bf16_weight_new (eye, N, N);
  facet_cpu_linear_bf16_aux (x, w, NULL, y, pre, ROWS, FACET_BF16_GELU | FACET_BF16_KEEP_PRE);
  for (int i = 0; i < ROWS * N; i++)
    g_assert_cmpfloat (pre[i], ==, x[i]);
  assert_close (y, want, ROWS * N, 1e-6, 1e-6, "GELU epilogue");
  /* dx = 1 * gelu'(x): ones through the identity */
  wt = facet_bf16_weight_new_transposed (eye, N, N);
  for (int i = 0; i < ROWS * N; i++)
    ones[i] = 1.0f;
  facet_cpu_linear_bf16_aux (ones, wt, NULL, y, x, ROWS, FACET_BF16_GELU_GRAD);
  assert_close (y, want_grad, ROWS * N, 1e-6, 1e-6, "GELU derivative epilogue");
}

/* The backward of one bf16 attention head against double loops without
 * rounding: odd token counts, a head width that fills no register, rows
 * strided as in the qkv matrix. bf16 keeps 8 bits, so each gradient must lie
 * within 1% of its largest magnitude. */
static void
test_attention_backward_bf16 (void)
{
  static const int sizes[][2] = { { 1, 8 }, { 37, 24 }, { 197, 64 } };
  FacetRng rng;

  if (!facet_cpu_bf16_available ())
    {
      g_test_skip ("no AVX512-BF16 here (or FACET_CPU_FEATURES switches it off)");
      return;
    }
  facet_rng_init (&rng, 11);
  for (guint n = 0; n < G_N_ELEMENTS (sizes); n++)
    {
      int t = sizes[n][0], dh = sizes[n][1];
      gsize ld = (gsize) 3 * dh + 5, tt = (gsize) t * t;
      float scale = 1.0f / sqrtf ((float) dh);
      g_autofree float *qkv = random_floats ((gsize) t * ld, &rng, 1.0);
      g_autofree float *dout = random_floats ((gsize) t * dh, &rng, 1.0);
      g_autofree float *p = g_new (float, tt), *ds = g_new (float, tt);
      g_autofree float *grads = g_new0 (float, (gsize) t * ld);
      g_autofree double *dp = g_new (double, tt), *want = g_new0 (double, (gsize) 3 * t * dh);
      const float *q = qkv, *k = qkv + dh, *v = qkv + 2 * dh;

      /* the forward's probabilities, in double */
      for (int i = 0; i < t; i++)
        {
          double mx = -INFINITY, sum = 0;
          for (int j = 0; j < t; j++)
            {
              double x = 0;
              for (int c = 0; c < dh; c++)
                x += (double) q[i * ld + c] * k[j * ld + c];
              dp[i * t + j] = x * scale;
              mx = MAX (mx, dp[i * t + j]);
            }
          for (int j = 0; j < t; j++)
            sum += exp (dp[i * t + j] - mx);
          for (int j = 0; j < t; j++)
            p[i * t + j] = (float) (exp (dp[i * t + j] - mx) / sum);
        }
      /* want: dq, dk, dv, [t, dh] each */
      for (int i = 0; i < t; i++)
        {
          double dot = 0;
          for (int j = 0; j < t; j++)
            {
              double x = 0;
              for (int c = 0; c < dh; c++)
                x += (double) dout[i * dh + c] * v[j * ld + c];
              dp[i * t + j] = x;
              dot += x * p[i * t + j];
            }
          for (int j = 0; j < t; j++)
            dp[i * t + j] = scale * p[i * t + j] * (dp[i * t + j] - dot);
        }
      for (int i = 0; i < t; i++)
        for (int j = 0; j < t; j++)
          for (int c = 0; c < dh; c++)
            {
              want[(gsize) i * dh + c] += dp[i * t + j] * k[j * ld + c];
              want[(gsize) (t + j) * dh + c] += dp[i * t + j] * q[i * ld + c];
              want[(gsize) (2 * t + j) * dh + c] += (double) p[i * t + j] * dout[i * dh + c];
            }

      facet_cpu_attention_head_backward_bf16 (q, k, v, ld, p, dout, (gsize) dh, t, dh, scale, ds,
                                              grads, grads + dh, grads + 2 * dh);
      for (int g = 0; g < 3; g++)
        {
          double top = 0, worst = 0;
          for (int i = 0; i < t; i++)
            for (int c = 0; c < dh; c++)
              {
                double w = want[((gsize) g * t + i) * dh + c];
                top = MAX (top, fabs (w));
                worst = MAX (worst, fabs (grads[i * ld + (gsize) g * dh + c] - w));
              }
          g_test_message ("tokens %d, width %d, d%c: worst %.2e of %.2e", t, dh, "qkv"[g], worst, top);
          g_assert_cmpfloat (worst, <=, 1e-2 * top + 1e-7);
        }
    }
}

/* One head with both products in bf16, against double loops over the
 * rounded q, k, v (and rounded probabilities): odd token counts and widths. */
static void
test_attention_head_bf16 (void)
{
  static const int sizes[][2] = { { 1, 1 }, { 5, 3 }, { 33, 17 }, { 197, 64 } };
  FacetRng rng;

  if (!facet_cpu_bf16_available ())
    {
      g_test_skip ("no AVX512-BF16 here (or FACET_CPU_FEATURES switches it off)");
      return;
    }
  facet_rng_init (&rng, 4);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      int t = sizes[i][0], dh = sizes[i][1];
      gsize ld = (gsize) 3 * dh + 5, ldo = (gsize) dh + 3;
      g_autofree float *qkv = random_floats (ld * t, &rng, 1.0);
      g_autofree float *s = g_new (float, (gsize) t * t);
      g_autofree float *o = g_new0 (float, ldo * t);
      g_autofree double *p = g_new (double, (gsize) t * t);
      g_autofree double *want = g_new (double, (gsize) t * dh);
      g_autofree float *got = g_new (float, (gsize) t * dh);
      double scale = 1.0 / sqrt (dh);

      facet_cpu_attention_head_bf16 (qkv, qkv + dh, qkv + 2 * dh, ld, t, dh, (float) scale, s, o,
                                     ldo);
      for (int a = 0; a < t; a++)
        {
          double mx = -INFINITY, sum = 0.0;
          for (int b = 0; b < t; b++)
            {
              double v = 0.0;
              for (int j = 0; j < dh; j++)
                v += bf16_round (qkv[a * ld + j]) * bf16_round (qkv[b * ld + dh + j]);
              p[a * t + b] = v * scale;
              mx = MAX (mx, v * scale);
            }
          for (int b = 0; b < t; b++)
            sum += (p[a * t + b] = exp (p[a * t + b] - mx));
          for (int b = 0; b < t; b++)
            p[a * t + b] /= sum;
        }
      assert_close (s, p, (gsize) t * t, 1e-5, 1e-4, "attention probabilities bf16");
      for (int a = 0; a < t; a++)
        for (int j = 0; j < dh; j++)
          {
            double v = 0.0;
            for (int b = 0; b < t; b++)
              v += bf16_round (s[a * t + b]) * bf16_round (qkv[b * ld + 2 * dh + j]);
            want[a * dh + j] = v;
            got[a * dh + j] = o[a * ldo + j];
          }
      assert_close (got, want, (gsize) t * dh, 1e-5, 1e-4, "attention output bf16");
    }
}

static void
test_bf16_rounding (void)
{
  /* nearest, ties to even; NaN stays NaN */
  g_assert_cmphex (facet_cpu_float_to_bf16 (1.0f), ==, 0x3f80);
  g_assert_cmphex (facet_cpu_float_to_bf16 (1.0f + 1.0f / 256), ==, 0x3f80); /* tie, even below */
  g_assert_cmphex (facet_cpu_float_to_bf16 (1.0f + 3.0f / 256), ==, 0x3f82); /* tie, even above */
  g_assert_cmphex (facet_cpu_float_to_bf16 (1.0f + 1.5f / 256), ==, 0x3f81);
  g_assert_cmphex (facet_cpu_float_to_bf16 (-2.0f), ==, 0xc000);
  g_assert_true (isnan (facet_cpu_bf16_to_float (facet_cpu_float_to_bf16 (NAN))));
  g_assert_cmpfloat (facet_cpu_bf16_to_float (0x3f81), ==, 1.0f + 1.0f / 128);
}

static void
test_layer_norm (void)
{
  static const int sizes[][2] = { { 1, 1 }, { 7, 7 }, { 197, 768 }, { 3, 1025 } };
  FacetRng rng;

  facet_rng_init (&rng, 2);
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      int m = sizes[s][0], n = sizes[s][1];
      FacetOpDesc op = { .kind = FACET_OP_LAYER_NORM, .m = m, .n = n, .eps = 1e-6f };
      g_autofree float *x = random_floats ((gsize) m * n, &rng, 3.0);
      g_autofree float *g = random_floats ((gsize) n, &rng, 1.0);
      g_autofree float *b = random_floats ((gsize) n, &rng, 1.0);
      g_autofree float *y = g_new (float, (gsize) m * n);
      g_autofree double *want = g_new (double, (gsize) m * n);
      const float *in[3] = { x, g, b };

      for (gsize i = 0; i < (gsize) m * n; i++)
        x[i] += 10.0f; /* an offset tests the two-pass variance */
      run_op (&op, in, y);
      for (int a = 0; a < m; a++)
        {
          double mean = 0, var = 0;
          for (int j = 0; j < n; j++)
            mean += x[(gsize) a * n + j];
          mean /= n;
          for (int j = 0; j < n; j++)
            var += (x[(gsize) a * n + j] - mean) * (x[(gsize) a * n + j] - mean);
          var /= n;
          for (int j = 0; j < n; j++)
            want[(gsize) a * n + j] = (x[(gsize) a * n + j] - mean) / sqrt (var + 1e-6) * g[j] + b[j];
        }
      assert_close (y, want, (gsize) m * n, 2e-5, 2e-5, "layer_norm");
    }
}

static void
test_elementwise (void)
{
  FacetRng rng;
  gsize n = 4099;
  g_autofree float *x = NULL, *x2 = NULL;
  g_autofree float *y = g_new (float, n);
  g_autofree double *want = g_new (double, n);

  facet_rng_init (&rng, 3);
  x = random_floats (n, &rng, 4.0);
  x2 = random_floats (n, &rng, 4.0);
  x[0] = 0.0f;
  x[1] = -30.0f;
  x[2] = 30.0f;
  x[3] = -100.0f;
  x[4] = 100.0f;

  {
    FacetOpDesc op = { .kind = FACET_OP_GELU, .n = (int) n };
    const float *in[1] = { x };
    run_op (&op, in, y);
    for (gsize i = 0; i < n; i++)
      want[i] = gelu_ref (x[i]);
    assert_close (y, want, n, 1e-6, 1e-6, "gelu");
  }
  {
    FacetOpDesc op = { .kind = FACET_OP_SIGMOID, .n = (int) n };
    const float *in[1] = { x };
    run_op (&op, in, y);
    for (gsize i = 0; i < n; i++)
      want[i] = 1.0 / (1.0 + exp (-(double) x[i]));
    assert_close (y, want, n, 1e-7, 1e-6, "sigmoid");
  }
  {
    FacetOpDesc op = { .kind = FACET_OP_ADD, .n = (int) n };
    const float *in[2] = { x, x2 };
    run_op (&op, in, y);
    for (gsize i = 0; i < n; i++)
      want[i] = (double) x[i] + x2[i];
    assert_close (y, want, n, 1e-6, 1e-7, "add");
  }
}

static void
test_exp_erfc_accuracy (void)
{
  double worst_exp = 0, worst_erfc = 0, worst_erfc_core = 0;

  for (double x = -87.0; x <= 88.0; x += 0.0137)
    {
      double e = fabs (facet_cpu_expf ((float) x) / exp ((double) (float) x) - 1.0);
      worst_exp = MAX (worst_exp, e);
    }
  for (double x = -6.0; x <= 9.0; x += 0.00113)
    {
      double want = erfc ((double) (float) x);
      double e = fabs (facet_cpu_erfcf ((float) x) - want) / want;
      worst_erfc = MAX (worst_erfc, e);
      if (fabs (x) <= 4.0)
        worst_erfc_core = MAX (worst_erfc_core, e);
    }
  /* Far in the tail erfc(x) ~ exp(-x^2): a float exponent of -81 alone
   * carries a relative rounding of about 81 * 6e-8. */
  g_test_message ("worst relative error: exp %.3g, erfc %.3g (|x| <= 4: %.3g)", worst_exp,
                  worst_erfc, worst_erfc_core);
  g_assert_cmpfloat (worst_exp, <, 3e-7);
  g_assert_cmpfloat (worst_erfc_core, <, 2e-6);
  g_assert_cmpfloat (worst_erfc, <, 2e-5);
}

static void
test_softmax (void)
{
  static const int sizes[][2] = { { 1, 1 }, { 7, 7 }, { 197, 197 }, { 2, 3001 } };
  FacetRng rng;

  facet_rng_init (&rng, 4);
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      int m = sizes[s][0], n = sizes[s][1];
      FacetOpDesc op = { .kind = FACET_OP_SOFTMAX, .m = m, .n = n, .alpha = 0.125f };
      g_autofree float *x = random_floats ((gsize) m * n, &rng, 20.0);
      g_autofree float *y = g_new (float, (gsize) m * n);
      g_autofree double *want = g_new (double, (gsize) m * n);
      const float *in[1] = { x };

      run_op (&op, in, y);
      for (int a = 0; a < m; a++)
        {
          double mx = -INFINITY, sum = 0;
          for (int j = 0; j < n; j++)
            mx = MAX (mx, 0.125 * x[(gsize) a * n + j]);
          for (int j = 0; j < n; j++)
            sum += exp (0.125 * x[(gsize) a * n + j] - mx);
          for (int j = 0; j < n; j++)
            want[(gsize) a * n + j] = exp (0.125 * x[(gsize) a * n + j] - mx) / sum;
        }
      assert_close (y, want, (gsize) m * n, 1e-7, 1e-5, "softmax");
    }
}

/* Naive attention over q, k, v packed as [b * t, 3 * d]. */
static void
attention_ref (const float *qkv,
               int          batch,
               int          t,
               int          heads,
               int          d,
               double      *out,
               double      *probs_mean)
{
  int dh = d / heads;
  g_autofree double *s = g_new (double, t);

  memset (probs_mean, 0, sizeof (double) * (gsize) batch * t * t);
  for (int b = 0; b < batch; b++)
    for (int h = 0; h < heads; h++)
      for (int i = 0; i < t; i++)
        {
          const float *q = qkv + ((gsize) b * t + i) * 3 * d + (gsize) h * dh;
          double mx = -INFINITY, sum = 0;
          for (int j = 0; j < t; j++)
            {
              const float *k = qkv + ((gsize) b * t + j) * 3 * d + d + (gsize) h * dh;
              double v = 0;
              for (int c = 0; c < dh; c++)
                v += (double) q[c] * k[c];
              s[j] = v / sqrt (dh);
              mx = MAX (mx, s[j]);
            }
          for (int j = 0; j < t; j++)
            sum += (s[j] = exp (s[j] - mx));
          for (int c = 0; c < dh; c++)
            {
              double v = 0;
              for (int j = 0; j < t; j++)
                v += s[j] / sum * qkv[((gsize) b * t + j) * 3 * d + 2 * d + (gsize) h * dh + c];
              out[((gsize) b * t + i) * d + (gsize) h * dh + c] = v;
            }
          for (int j = 0; j < t; j++)
            probs_mean[((gsize) b * t + i) * t + j] += s[j] / sum / heads;
        }
}

static void
test_attention (void)
{
  static const int cases[][4] = { { 1, 1, 1, 1 }, { 2, 7, 3, 12 }, { 1, 197, 6, 384 }, { 3, 17, 2, 128 } };
  FacetRng rng;

  facet_rng_init (&rng, 5);
  for (guint s = 0; s < G_N_ELEMENTS (cases); s++)
    {
      int b = cases[s][0], t = cases[s][1], h = cases[s][2], d = cases[s][3];
      FacetOpDesc op = { .kind = FACET_OP_ATTENTION, .batch = b, .tokens = t, .heads = h, .dim = d };
      FacetOpDesc pop = op;
      g_autofree float *qkv = random_floats ((gsize) b * t * 3 * d, &rng, 1.0);
      g_autofree float *y = g_new (float, (gsize) b * t * d);
      g_autofree float *p = g_new (float, (gsize) b * t * t);
      g_autofree double *want = g_new (double, (gsize) b * t * d);
      g_autofree double *want_p = g_new (double, (gsize) b * t * t);
      const float *in[1] = { qkv };

      pop.kind = FACET_OP_ATTN_PROBS;
      run_op (&op, in, y);
      run_op (&pop, in, p);
      attention_ref (qkv, b, t, h, d, want, want_p);
      assert_close (y, want, (gsize) b * t * d, 2e-5, 2e-5, "attention");
      assert_close (p, want_p, (gsize) b * t * t, 1e-6, 1e-5, "attention probabilities");
    }
}

static void
test_patch_embed_and_pool (void)
{
  FacetRng rng;
  int b = 2, image = 48, patch = 16, d = 7, g = image / patch;
  FacetOpDesc op = { .kind = FACET_OP_PATCH_EMBED, .batch = b, .image = image, .patch = patch, .dim = d };
  g_autofree float *img = NULL, *w = NULL, *bias = NULL;
  g_autofree float *y = g_new (float, (gsize) b * g * g * d);
  g_autofree double *want = g_new (double, (gsize) b * g * g * d);
  const float *in[3];

  facet_rng_init (&rng, 6);
  img = random_floats ((gsize) b * 3 * image * image, &rng, 1.0);
  w = random_floats ((gsize) d * 3 * patch * patch, &rng, 0.05);
  bias = random_floats ((gsize) d, &rng, 0.1);
  in[0] = img;
  in[1] = w;
  in[2] = bias;
  run_op (&op, in, y);
  /* A stride-patch convolution, written out. */
  for (int n = 0; n < b; n++)
    for (int py = 0; py < g; py++)
      for (int px = 0; px < g; px++)
        for (int o = 0; o < d; o++)
          {
            double v = bias[o];
            for (int c = 0; c < 3; c++)
              for (int ky = 0; ky < patch; ky++)
                for (int kx = 0; kx < patch; kx++)
                  v += (double) w[((gsize) (o * 3 + c) * patch + ky) * patch + kx]
                       * img[(((gsize) n * 3 + c) * image + py * patch + ky) * image + px * patch + kx];
            want[(((gsize) n * g + py) * g + px) * d + o] = v;
          }
  assert_close (y, want, (gsize) b * g * g * d, 1e-5, 1e-5, "patch embedding");

  {
    int t = 10, dim = 5;
    FacetOpDesc pool = { .kind = FACET_OP_MEAN_POOL, .batch = b, .tokens = t, .dim = dim };
    g_autofree float *x = random_floats ((gsize) b * t * dim, &rng, 1.0);
    g_autofree float *py2 = g_new (float, (gsize) b * dim);
    g_autofree double *pw = g_new0 (double, (gsize) b * dim);
    const float *pin[1] = { x };
    run_op (&pool, pin, py2);
    for (int n = 0; n < b; n++)
      for (int j = 0; j < dim; j++)
        {
          for (int i = 1; i < t; i++)
            pw[n * dim + j] += x[((gsize) n * t + i) * dim + j];
          pw[n * dim + j] /= t - 1;
        }
    assert_close (py2, pw, (gsize) b * dim, 1e-6, 1e-6, "mean pool (class token excluded)");
  }
}

static void
test_rollout (void)
{
  FacetRng rng;
  int b = 2, t = 5, depth = 3;
  gsize tt = (gsize) t * t;
  g_autofree float *p = g_new (float, (gsize) depth * b * tt);
  g_autofree float *y = g_new (float, (gsize) b * (t - 1));
  g_autofree double *want = g_new (double, (gsize) b * (t - 1));

  facet_rng_init (&rng, 7);
  /* Row-stochastic attention matrices. */
  for (gsize r = 0; r < (gsize) depth * b * t; r++)
    {
      double sum = 0;
      for (int j = 0; j < t; j++)
        sum += p[r * t + j] = (float) facet_rng_uniform (&rng);
      for (int j = 0; j < t; j++)
        p[r * t + j] /= (float) sum;
    }
  for (guint cls = 0; cls < 2; cls++)
    {
      FacetOpDesc op = { .kind = FACET_OP_ROLLOUT, .batch = b, .tokens = t, .depth = depth,
                         .flags = cls ? FACET_OP_CLS_READOUT : 0 };
      const float *in[1] = { p };
      run_op (&op, in, y);
      for (int n = 0; n < b; n++)
        {
          /* R = A'_L ... A'_1 as full matrices, then r^T R. */
          double R[25], tmp[25];
          for (int i = 0; i < t * t; i++)
            R[i] = (i / t == i % t);
          for (int l = 0; l < depth; l++)
            {
              const float *a = p + ((gsize) l * b + n) * tt;
              for (int i = 0; i < t; i++)
                for (int j = 0; j < t; j++)
                  {
                    double v = 0;
                    for (int q = 0; q < t; q++)
                      v += (0.5 * a[i * t + q] + 0.5 * (i == q)) * R[q * t + j];
                    tmp[i * t + j] = v;
                  }
              memcpy (R, tmp, sizeof R);
            }
          for (int j = 1; j < t; j++)
            {
              double v = 0;
              for (int i = 0; i < t; i++)
                v += (cls ? (i == 0) : (i > 0) / (double) (t - 1)) * R[i * t + j];
              want[n * (t - 1) + j - 1] = v;
            }
        }
      assert_close (y, want, (gsize) b * (t - 1), 1e-6, 1e-5, "rollout");
    }
}

static void
test_forward_batch_invariance (void)
{
  /* A tiny random model: batching and thread count must not change results. */
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (FacetForwardResult) all = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *input = NULL;
  FacetRng rng;
  gsize per;

  c->image_size = 32;
  c->patch_size = 8;
  c->dim = 24;
  c->depth = 2;
  c->heads = 3;
  c->mlp_hidden = 40;
  facet_model_config_set_aus (c, (const int[]) { 1, 2, 12 }, 3);
  c->n_subjects = 5;
  model = facet_model_new_random (c, 11, &error);
  g_assert_no_error (error);
  engine = facet_engine_new (model, "cpu", &error);
  g_assert_no_error (error);

  per = 3 * 32 * 32;
  facet_rng_init (&rng, 8);
  input = random_floats (per * 5, &rng, 1.0);
  all = facet_forward_result_new (c, 5, FACET_FORWARD_ATTENTION | FACET_FORWARD_AU_MAPS);
  g_assert_true (facet_engine_forward (engine, input, 5, all->flags, all, &error));
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (FacetForwardResult) one = facet_forward_result_new (c, 1, all->flags);
      g_assert_true (facet_engine_forward (engine, input + per * i, 1, all->flags, one, &error));
      for (int a = 0; a < 3; a++)
        g_assert_cmpfloat_with_epsilon (one->logits[a], all->logits[i * 3 + a], 1e-5);
      for (int s = 0; s < 5; s++)
        g_assert_cmpfloat_with_epsilon (one->id_logits[s], all->id_logits[i * 5 + s], 1e-5);
      for (int p = 0; p < 16; p++)
        g_assert_cmpfloat_with_epsilon (one->attention[p], all->attention[i * 16 + p], 1e-6);
    }
  /* Per-AU maps add up to the logits. */
  for (guint i = 0; i < 5; i++)
    for (int a = 0; a < 3; a++)
      {
        double sum = all->au_map_bias[a];
        for (int p = 0; p < 16; p++)
          sum += all->au_maps[(i * 3 + a) * 16 + p];
        g_assert_cmpfloat_with_epsilon (sum, all->logits[i * 3 + a], 1e-5);
      }
}

int
main (int    argc,
      char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  cpu = facet_cpu_backend_new ();
  g_test_add_func ("/engine/ops/linear", test_linear);
  g_test_add_func ("/engine/ops/linear-bf16", test_linear_bf16);
  g_test_add_func ("/engine/ops/bf16-rounding", test_bf16_rounding);
  g_test_add_func ("/engine/ops/attention-head-bf16", test_attention_head_bf16);
  g_test_add_func ("/engine/ops/backward-bf16", test_backward_bf16);
  g_test_add_func ("/engine/ops/linear-bf16-keep-pre", test_linear_bf16_keep_pre);
  g_test_add_func ("/engine/ops/gelu-epilogue-range", test_gelu_epilogue_range);
  g_test_add_func ("/engine/ops/attention-backward-bf16", test_attention_backward_bf16);
  g_test_add_func ("/engine/ops/layer-norm", test_layer_norm);
  g_test_add_func ("/engine/ops/elementwise", test_elementwise);
  g_test_add_func ("/engine/ops/exp-erfc-accuracy", test_exp_erfc_accuracy);
  g_test_add_func ("/engine/ops/softmax", test_softmax);
  g_test_add_func ("/engine/ops/attention", test_attention);
  g_test_add_func ("/engine/ops/patch-embed-and-pool", test_patch_embed_and_pool);
  g_test_add_func ("/engine/ops/rollout", test_rollout);
  g_test_add_func ("/engine/forward/batch-invariance", test_forward_batch_invariance);
  ret = g_test_run ();
  facet_backend_free (cpu);
  return ret;
}
