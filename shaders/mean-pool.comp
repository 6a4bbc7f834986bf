#version 450
/* mean-pool.comp — the readout's input: mean of the patch tokens (tokens
 * 1.., the class token excluded) or, with FACET_POOL_CLS, the class token itself.
 * Always writes fp32: the readout tail is fp32 in every precision.
 */
#include "common.glsl"

#ifdef F16
#define X_T float16_t
#else
#define X_T float
#endif


layout (local_size_x = 64) in;

layout (binding = 0) readonly buffer XBuf { X_T x[]; };
layout (binding = 1) writeonly buffer YBuf { float y[]; };

#define FACET_PUSH_POOL
#include "push-constants.h"

void
main ()
{
  uint j = gl_GlobalInvocationID.x, b = gl_WorkGroupID.y;
  uint base;
  float s = 0.0;

  if (j >= p.dim)
    return;
  base = p.x_off + b * p.tokens * p.dim + j;
  if ((p.flags & FACET_POOL_CLS) != 0u)
    s = float (x[base]);
  else
    {
      for (uint t = 1u; t < p.tokens; t++)
        s += float (x[base + t * p.dim]);
      s /= float (p.tokens - 1u);
    }
  y[p.y_off + b * p.dim + j] = s;
}
