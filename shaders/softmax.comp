#version 450
/* softmax.comp — y[i, :] = softmax (alpha x[i, :]) over rows of n, alpha > 0
 *
 * One workgroup per row: maximum, sum of exponentials, scale. The fused
 * attention has its own online softmax; this one serves single softmax ops.
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
layout (binding = 1) writeonly buffer YBuf { X_T y[]; };

#define FACET_PUSH_SOFTMAX
#include "push-constants.h"

shared float red[WG];

void
main ()
{
  uint row = facet_row_group ();
  uint lid = gl_LocalInvocationID.x;
  uint xb, yb;
  float mx = -1.0e30, s = 0.0, inv;

  if (row >= p.m)
    return;
  xb = p.x_off + row * p.n;
  yb = p.y_off + row * p.n;

  for (uint j = lid; j < p.n; j += WG)
    mx = max (mx, float (x[xb + j]));
  red[lid] = mx;
  barrier ();
  for (uint st = WG / 2u; st > 0u; st >>= 1)
    {
      if (lid < st)
        red[lid] = max (red[lid], red[lid + st]);
      barrier ();
    }
  mx = red[0];
  barrier ();

  for (uint j = lid; j < p.n; j += WG)
    s += exp (p.alpha * (float (x[xb + j]) - mx));
  red[lid] = s;
  barrier ();
  for (uint st = WG / 2u; st > 0u; st >>= 1)
    {
      if (lid < st)
        red[lid] += red[lid + st];
      barrier ();
    }
  inv = 1.0 / red[0];

  for (uint j = lid; j < p.n; j += WG)
    y[yb + j] = X_T (exp (p.alpha * (float (x[xb + j]) - mx)) * inv);
}
