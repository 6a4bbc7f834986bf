#version 450
/* gelu.comp — y = gelu (x), GELU, exact erf form, elementwise
 *
 * A grid-stride loop, so that any n fits the workgroup count limits.
 */
#include "common.glsl"

#ifdef F16
#define X_T float16_t
#else
#define X_T float
#endif

layout (local_size_x = 256) in;

layout (binding = 0) readonly buffer XBuf { X_T x[]; };
layout (binding = 1) writeonly buffer YBuf { X_T y[]; };

#define FACET_PUSH_UNARY
#include "push-constants.h"

void
main ()
{
  uint step = gl_NumWorkGroups.x * 256u;

  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += step)
    y[p.y_off + i] = X_T (facet_gelu (float (x[p.x_off + i])));
}
