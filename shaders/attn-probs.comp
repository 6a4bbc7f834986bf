#version 450
/* attn-probs.comp — attention probabilities averaged over heads
 *
 *   P[b, i, j] = 1/H sum_h exp (alpha q_hi . k_hj - lse_hi)
 *
 * from the log-sum-exp rows that attention.comp left behind, so the fused
 * attention never has to store the per-head score matrices. A 16 x 16
 * workgroup owns a 16 x 16 block of P; q and k pass through shared memory in
 * steps of 16 along the head dimension. The scale is folded into q exactly
 * as attention.comp does, so both compute the same scores.
 */
#include "common.glsl"

#ifdef F16
#define X_T float16_t
#else
#define X_T float
#endif

layout (local_size_x = 16, local_size_y = 16) in;

layout (binding = 0) readonly buffer QkvBuf { X_T qkv[]; };
layout (binding = 1) readonly buffer LseBuf { float lse[]; };
layout (binding = 2) writeonly buffer PBuf { float probs[]; };

#define FACET_PUSH_PROBS
#include "push-constants.h"

shared float qs[16][17];
shared float ks[16][17];

void
main ()
{
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint b = gl_WorkGroupID.z;
  uint i0 = gl_WorkGroupID.y * 16u, j0 = gl_WorkGroupID.x * 16u;
  uint i = i0 + ty, j = j0 + tx;
  uint dh = p.dim / p.heads, stride = 3u * p.dim;
  uint base = p.qkv_off + b * p.tokens * stride;
  float total = 0.0;

  for (uint h = 0; h < p.heads; h++)
    {
      float dot = 0.0;
      for (uint c0 = 0; c0 < dh; c0 += 16u)
        {
          /* invocation (tx, ty) loads element c0 + tx of query row i0 + ty
           * and of key row j0 + ty */
          uint c = c0 + tx;
          uint qi = i0 + ty, kj = j0 + ty;
          qs[ty][tx] = (qi < p.tokens && c < dh)
                         ? float (qkv[base + qi * stride + h * dh + c]) * p.alpha : 0.0;
          ks[ty][tx] = (kj < p.tokens && c < dh)
                         ? float (qkv[base + kj * stride + p.dim + h * dh + c]) : 0.0;
          barrier ();
          for (uint cc = 0; cc < 16u; cc++)
            dot = fma (qs[ty][cc], ks[tx][cc], dot);
          barrier ();
        }
      if (i < p.tokens)
        total += exp (dot - lse[p.lse_off + (b * p.heads + h) * p.tokens + i]);
    }
  if (i < p.tokens && j < p.tokens)
    probs[p.p_off + (b * p.tokens + i) * p.tokens + j] = total / float (p.heads);
}
