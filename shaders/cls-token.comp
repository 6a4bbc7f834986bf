#version 450
/* cls-token.comp — token row 0 of every image: class token + position 0.
 * (The patch rows get their position from the patch embedding's epilogue.)
 */
#include "common.glsl"

#ifdef F16
#define X_T float16_t
#else
#define X_T float
#endif

layout (local_size_x = 64) in;

layout (binding = 0) readonly buffer ClsBuf { X_T cls[]; };
layout (binding = 1) readonly buffer PosBuf { X_T pos[]; };
layout (binding = 2) writeonly buffer XBuf { X_T x[]; };

#define FACET_PUSH_CLS
#include "push-constants.h"

void
main ()
{
  uint j = gl_GlobalInvocationID.x, b = gl_WorkGroupID.y;

  if (j >= p.dim)
    return;
  x[p.x_off + b * p.tokens * p.dim + j] = X_T (float (cls[p.cls_off + j]) + float (pos[p.pos_off + j]));
}
