/* cpu-kernels.c — vectorised kernels between the matrix products
 *
 * The transcendental functions are written without branches or libm calls
 * so that the loops vectorise: exp by range reduction to [-ln2/2, ln2/2] and
 * a degree-6 polynomial; erfc by the Chebyshev-fitted form
 * t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), fractional error below 1.2e-7.
 * GELU is the exact erf form, 0.5 x erfc(-x / sqrt 2).
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "cpu-kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FACET_NO_CLONES)
#define KERNEL __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

/* Reductions keep 16 partial results so that they vectorise without
 * reassociating floating-point sums behind the compiler's back. */
#define LANES 16

static inline float
row_sum (const float *x,
         gsize        n)
{
  float acc[LANES] = { 0 };
  float s = 0.0f;
  gsize j = 0;

  for (; j + LANES <= n; j += LANES)
    for (int k = 0; k < LANES; k++)
      acc[k] += x[j + k];
  for (; j < n; j++)
    s += x[j];
  for (int k = 0; k < LANES; k++)
    s += acc[k];
  return s;
}

static inline float
row_sq_dev (const float *x,
            gsize        n,
            float        mean)
{
  float acc[LANES] = { 0 };
  float s = 0.0f;
  gsize j = 0;

  for (; j + LANES <= n; j += LANES)
    for (int k = 0; k < LANES; k++)
      {
        float d = x[j + k] - mean;
        acc[k] += d * d;
      }
  for (; j < n; j++)
    s += (x[j] - mean) * (x[j] - mean);
  for (int k = 0; k < LANES; k++)
    s += acc[k];
  return s;
}

static inline float
row_max (const float *x,
         gsize        n)
{
  float acc[LANES];
  float m = x[0];
  gsize j = 0;

  for (int k = 0; k < LANES; k++)
    acc[k] = x[0];
  for (; j + LANES <= n; j += LANES)
    for (int k = 0; k < LANES; k++)
      acc[k] = x[j + k] > acc[k] ? x[j + k] : acc[k];
  for (; j < n; j++)
    m = x[j] > m ? x[j] : m;
  for (int k = 0; k < LANES; k++)
    m = acc[k] > m ? acc[k] : m;
  return m;
}

static inline float
exp_inline (float x)
{
  float t, fn, r, r2, p, scale;
  int n;
  guint32 bits;

  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  t = x * 1.44269504088896341f;
  n = (int) (t + (t >= 0.0f ? 0.5f : -0.5f));
  fn = (float) n;
  r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  r2 = r * r;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  bits = (guint32) (n + 127) << 23;
  memcpy (&scale, &bits, 4);
  return p * scale;
}

static inline float
erfc_inline (float x)
{
  float z = fabsf (x);
  float t = 1.0f / (1.0f + 0.5f * z);
  float poly = -1.26551223f
               + t * (1.00002368f
               + t * (0.37409196f
               + t * (0.09678418f
               + t * (-0.18628806f
               + t * (0.27886807f
               + t * (-1.13520398f
               + t * (1.48851587f
               + t * (-0.82215223f
               + t * 0.17087277f))))))));
  float ans = t * exp_inline (-z * z + poly);
  return x >= 0.0f ? ans : 2.0f - ans;
}

static inline float
gelu_inline (float x)
{
  return 0.5f * x * erfc_inline (-0.70710678118654752f * x);
}

/* The same functions on 16 lanes with GCC vector extensions: AVX-512 in the
 * x86-64-v4 clone, two AVX2 registers in v3, four SSE registers otherwise.
 * Written out because the compiler does not if-convert the scalar forms. */
typedef float   v16f __attribute__ ((vector_size (64)));
typedef gint32  v16i __attribute__ ((vector_size (64)));
typedef guint32 v16u __attribute__ ((vector_size (64)));

static inline __attribute__ ((always_inline)) v16f
vload (const float *p)
{
  v16f v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline __attribute__ ((always_inline)) void
vstore (float *p,
        v16f   v)
{
  memcpy (p, &v, sizeof v);
}

static inline __attribute__ ((always_inline)) v16f
vselect (v16i mask,
         v16f a,
         v16f b)
{
  return (v16f) ((mask & (v16i) a) | (~mask & (v16i) b));
}

static inline __attribute__ ((always_inline)) v16f
vexp (v16f x)
{
  v16f zero = x - x;
  v16f t, fn, r, r2, p;
  v16i n;

  x = vselect (x < -87.0f, zero - 87.0f, x);
  x = vselect (x > 88.0f, zero + 88.0f, x);
  t = x * 1.44269504088896341f;
  n = __builtin_convertvector (t + vselect (t >= 0.0f, zero + 0.5f, zero - 0.5f), v16i);
  fn = __builtin_convertvector (n, v16f);
  r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  r2 = r * r;
  p = zero + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  return p * (v16f) ((v16u) (n + 127) << 23);
}

static inline __attribute__ ((always_inline)) v16f
vgelu (v16f x)
{
  v16f u = x * -0.70710678118654752f;
  v16f z = (v16f) ((v16u) u & 0x7fffffffu);
  v16f t = 1.0f / (1.0f + 0.5f * z);
  v16f poly = -1.26551223f
              + t * (1.00002368f
              + t * (0.37409196f
              + t * (0.09678418f
              + t * (-0.18628806f
              + t * (0.27886807f
              + t * (-1.13520398f
              + t * (1.48851587f
              + t * (-0.82215223f
              + t * 0.17087277f))))))));
  v16f ans = t * vexp (-z * z + poly);
  return 0.5f * x * vselect (u >= 0.0f, ans, 2.0f - ans);
}

/* d/dx of x Phi(x): Phi(x) + x phi(x), with Phi from the same erfc form. */
static inline __attribute__ ((always_inline)) v16f
vgelu_grad (v16f x)
{
  v16f u = x * -0.70710678118654752f;
  v16f z = (v16f) ((v16u) u & 0x7fffffffu);
  v16f t = 1.0f / (1.0f + 0.5f * z);
  v16f poly = -1.26551223f
              + t * (1.00002368f
              + t * (0.37409196f
              + t * (0.09678418f
              + t * (-0.18628806f
              + t * (0.27886807f
              + t * (-1.13520398f
              + t * (1.48851587f
              + t * (-0.82215223f
              + t * 0.17087277f))))))));
  v16f ez = vexp (-z * z);
  v16f ans = t * ez * vexp (poly);
  v16f cdf = 0.5f * vselect (u >= 0.0f, ans, 2.0f - ans);
  return cdf + x * ez * 0.39894228040143268f;
}

static inline __attribute__ ((always_inline)) v16f
vsigmoid (v16f x)
{
  v16f e = vexp (-(v16f) ((v16u) x & 0x7fffffffu));
  v16f s = 1.0f / (1.0f + e);
  return vselect (x >= 0.0f, s, e * s);
}

static inline float
gelu_grad_inline (float x)
{
  float e = exp_inline (-0.5f * x * x);
  return 0.5f * erfc_inline (-0.70710678118654752f * x) + x * e * 0.39894228040143268f;
}

float
facet_cpu_gelu_grad1 (float x)
{
  return gelu_grad_inline (x);
}

float
facet_cpu_expf (float x)
{
  return exp_inline (x);
}

float
facet_cpu_erfcf (float x)
{
  return erfc_inline (x);
}

float
facet_cpu_gelu1 (float x)
{
  return gelu_inline (x);
}

KERNEL void
facet_cpu_gelu (const float *x,
                float       *y,
                gsize        n)
{
  gsize i = 0;

  for (; i + 16 <= n; i += 16)
    vstore (y + i, vgelu (vload (x + i)));
  for (; i < n; i++)
    y[i] = gelu_inline (x[i]);
}

/* y[i, j] = gelu(y[i, j] + bias[j]): the epilogue of the first MLP product. */
KERNEL void
facet_cpu_bias_gelu (float       *y,
                     const float *bias,
                     gsize        m,
                     gsize        n)
{
  for (gsize i = 0; i < m; i++)
    {
      float *row = y + i * n;
      gsize j = 0;
      for (; j + 16 <= n; j += 16)
        vstore (row + j, vgelu (vload (row + j) + vload (bias + j)));
      for (; j < n; j++)
        row[j] = gelu_inline (row[j] + bias[j]);
    }
}

KERNEL void
facet_cpu_add_bias (float       *y,
                    const float *bias,
                    gsize        m,
                    gsize        n)
{
  for (gsize i = 0; i < m; i++)
    {
      float *row = y + i * n;
      for (gsize j = 0; j < n; j++)
        row[j] += bias[j];
    }
}

KERNEL void
facet_cpu_add (const float *a,
               const float *b,
               float       *y,
               gsize        n)
{
  for (gsize i = 0; i < n; i++)
    y[i] = a[i] + b[i];
}

KERNEL void
facet_cpu_sigmoid (const float *x,
                   float       *y,
                   gsize        n)
{
  /* Written so that neither branch overflows: e = exp(-|x|). */
  gsize start = 0;

  for (; start + 16 <= n; start += 16)
    vstore (y + start, vsigmoid (vload (x + start)));
  for (gsize i = start; i < n; i++)
    {
      float e = exp_inline (-fabsf (x[i]));
      float s = 1.0f / (1.0f + e);
      y[i] = x[i] >= 0.0f ? s : e * s;
    }
}

/* x[i, :] = softmax(alpha * x[i, :]), in place, rows @stride floats apart. */
KERNEL void
facet_cpu_softmax_rows (float *x,
                        gsize  m,
                        gsize  n,
                        gsize  stride,
                        float  alpha)
{
  for (gsize i = 0; i < m; i++)
    {
      float *row = x + i * stride;
      float mx = row_max (row, n), inv;
      gsize j = 0;

      /* alpha > 0: the largest scaled value is alpha * mx. */
      for (; j + 16 <= n; j += 16)
        vstore (row + j, vexp (alpha * (vload (row + j) - mx)));
      for (; j < n; j++)
        row[j] = exp_inline (alpha * (row[j] - mx));
      inv = 1.0f / row_sum (row, n);
      for (j = 0; j < n; j++)
        row[j] *= inv;
    }
}

/**
 * facet_cpu_layer_norm:
 * @mean_out: (nullable): per-row mean, for the backward pass
 * @rstd_out: (nullable): per-row 1 / sqrt(var + eps)
 *
 * Two passes over each row (mean, then centred variance) for accuracy; the
 * biased variance, as PyTorch's LayerNorm uses.
 */
KERNEL void
facet_cpu_layer_norm (const float *x,
                      float       *y,
                      gsize        m,
                      gsize        n,
                      const float *gamma,
                      const float *beta,
                      float        eps,
                      float       *mean_out,
                      float       *rstd_out)
{
  for (gsize i = 0; i < m; i++)
    {
      const float *row = x + i * n;
      float *out = y + i * n;
      float mean = row_sum (row, n) / (float) n;
      float rstd = 1.0f / sqrtf (row_sq_dev (row, n, mean) / (float) n + eps);

      for (gsize j = 0; j < n; j++)
        out[j] = (row[j] - mean) * rstd * gamma[j] + beta[j];
      if (mean_out)
        mean_out[i] = mean;
      if (rstd_out)
        rstd_out[i] = rstd;
    }
}

/* dx = dy * gelu'(pre), overwriting dx (which may be dy). */
KERNEL void
facet_cpu_gelu_backward (const float *pre,
                         const float *dy,
                         float       *dx,
                         gsize        n)
{
  gsize i = 0;

  for (; i + 16 <= n; i += 16)
    vstore (dx + i, vload (dy + i) * vgelu_grad (vload (pre + i)));
  for (; i < n; i++)
    dx[i] = dy[i] * gelu_grad_inline (pre[i]);
}

/**
 * facet_cpu_layer_norm_backward_dx:
 * @dx: accumulated into (residual streams add their gradients)
 *
 * dx += rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma, per row.
 */
KERNEL void
facet_cpu_layer_norm_backward_dx (const float *x,
                                  const float *dy,
                                  const float *gamma,
                                  const float *mean,
                                  const float *rstd,
                                  gsize        m,
                                  gsize        n,
                                  float       *dx)
{
  for (gsize i = 0; i < m; i++)
    {
      const float *xr = x + i * n, *dyr = dy + i * n;
      float *dxr = dx + i * n;
      float mu = mean[i], rs = rstd[i];
      float acc_g[LANES] = { 0 }, acc_gx[LANES] = { 0 };
      float sum_g = 0.0f, sum_gx = 0.0f, mg, mgx;
      gsize j = 0;

      for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++)
          {
            float g = dyr[j + k] * gamma[j + k];
            acc_g[k] += g;
            acc_gx[k] += g * (xr[j + k] - mu) * rs;
          }
      for (; j < n; j++)
        {
          float g = dyr[j] * gamma[j];
          sum_g += g;
          sum_gx += g * (xr[j] - mu) * rs;
        }
      for (int k = 0; k < LANES; k++)
        {
          sum_g += acc_g[k];
          sum_gx += acc_gx[k];
        }
      mg = sum_g / (float) n;
      mgx = sum_gx / (float) n;
      for (j = 0; j < n; j++)
        {
          float xhat = (xr[j] - mu) * rs;
          dxr[j] += rs * (dyr[j] * gamma[j] - mg - xhat * mgx);
        }
    }
}

/* dgamma[c] += sum_i dy[i,c] xhat[i,c], dbeta[c] += sum_i dy[i,c] for columns [c0, c1). */
KERNEL void
facet_cpu_layer_norm_backward_params (const float *x,
                                      const float *dy,
                                      const float *mean,
                                      const float *rstd,
                                      gsize        m,
                                      gsize        n,
                                      gsize        c0,
                                      gsize        c1,
                                      float       *dgamma,
                                      float       *dbeta)
{
  for (gsize i = 0; i < m; i++)
    {
      const float *xr = x + i * n, *dyr = dy + i * n;
      float mu = mean[i], rs = rstd[i];
      for (gsize j = c0; j < c1; j++)
        {
          dgamma[j] += dyr[j] * (xr[j] - mu) * rs;
          dbeta[j] += dyr[j];
        }
    }
}

/* out[c] += sum_i y[i, c] for columns [c0, c1) (bias gradients). */
KERNEL void
facet_cpu_col_sum (const float *y,
                   gsize        m,
                   gsize        n,
                   gsize        c0,
                   gsize        c1,
                   float       *out)
{
  for (gsize i = 0; i < m; i++)
    {
      const float *row = y + i * n;
      for (gsize j = c0; j < c1; j++)
        out[j] += row[j];
    }
}
