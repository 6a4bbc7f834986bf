#version 450
/* layer-norm.comp — y = (x - mean) rstd gamma + beta over rows of n
 *
 * One workgroup per row: a mean pass, then the centred variance (two passes,
 * as the CPU reference, for accuracy), biased as PyTorch's LayerNorm. With
 * FACET_NORM_STATS the row's mean and rstd also go to `stats` (the per-AU maps
 * need those of the pooled feature).
 */
#include "common.glsl"

#ifdef F16
#define X_T float16_t
#else
#define X_T float
#endif

#define WG 64u

layout (local_size_x = 64) in;

layout (binding = 0) readonly buffer XBuf { X_T x[]; };
layout (binding = 1) readonly buffer GBuf { X_T gamma[]; };
layout (binding = 2) readonly buffer BBuf { X_T beta[]; };
layout (binding = 3) writeonly buffer YBuf { X_T y[]; };
layout (binding = 4) writeonly buffer SBuf { float stats[]; };

#define FACET_PUSH_NORM
#include "push-constants.h"

shared float red[WG];

float
reduce_sum (float v)
{
  uint lid = gl_LocalInvocationID.x;

  red[lid] = v;
  barrier ();
  for (uint s = WG / 2u; s > 0u; s >>= 1)
    {
      if (lid < s)
        red[lid] += red[lid + s];
      barrier ();
    }
  v = red[0];
  barrier ();
  return v;
}

void
main ()
{
  uint row = facet_row_group ();
  uint lid = gl_LocalInvocationID.x;
  uint base;
  float s = 0.0, mean, rstd;

  if (row >= p.m)
    return;
  base = p.x_off + row * p.n;
  for (uint j = lid; j < p.n; j += WG)
    s += float (x[base + j]);
  mean = reduce_sum (s) / float (p.n);
  s = 0.0;
  for (uint j = lid; j < p.n; j += WG)
    {
      float dv = float (x[base + j]) - mean;
      s += dv * dv;
    }
  rstd = 1.0 / sqrt (reduce_sum (s) / float (p.n) + p.eps);
  for (uint j = lid; j < p.n; j += WG)
    y[p.y_off + row * p.n + j]
      = X_T ((float (x[base + j]) - mean) * rstd * float (gamma[p.g_off + j])
             + float (beta[p.b_off + j]));
  if ((p.flags & FACET_NORM_STATS) != 0u && lid == 0u)
    {
      stats[p.s_off + 2u * row] = mean;
      stats[p.s_off + 2u * row + 1u] = rstd;
    }
}
