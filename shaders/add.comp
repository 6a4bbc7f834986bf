#version 450
/* add.comp — y = a + b, elementwise, grid-stride */
#include "common.glsl"

#ifdef F16
#define X_T float16_t
#else
#define X_T float
#endif

layout (local_size_x = 256) in;

layout (binding = 0) readonly buffer ABuf { X_T a[]; };
layout (binding = 1) readonly buffer BBuf { X_T b[]; };
layout (binding = 2) writeonly buffer YBuf { X_T y[]; };

#define FACET_PUSH_ADD
#include "push-constants.h"

void
main ()
{
  uint step = gl_NumWorkGroups.x * 256u;

  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += step)
    y[p.y_off + i] = X_T (float (a[p.a_off + i]) + float (b[p.b_off + i]));
}
