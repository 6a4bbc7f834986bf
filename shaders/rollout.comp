#version 450
/* rollout.comp — one layer of attention rollout, right to left
 *
 * With A' = (A + I) / 2 per layer, the relevance of input token j to the
 * readout is r^T A'_L ... A'_1. Each dispatch applies one layer to the
 * running row vector: w_j = 1/2 sum_i A[i, j] v_i + 1/2 v_j. FACET_ROLLOUT_INIT starts
 * from the readout's weights (the patch mean, or the class token with
 * FACET_ROLLOUT_CLS) instead of reading v; FACET_ROLLOUT_FINAL writes the patch part of the
 * result (tokens 1..) to the output instead of the next vector.
 */
#include "common.glsl"


layout (local_size_x = 64) in;

layout (binding = 0) readonly buffer ABuf { float probs[]; };
layout (binding = 1) readonly buffer VBuf { float v[]; };
layout (binding = 2) writeonly buffer WBuf { float w[]; };

#define FACET_PUSH_ROLLOUT
#include "push-constants.h"

float
readout_weight (uint i)
{
  if ((p.flags & FACET_ROLLOUT_CLS) != 0u)
    return i == 0u ? 1.0 : 0.0;
  return i == 0u ? 0.0 : 1.0 / float (p.tokens - 1u);
}

float
vec_at (uint b,
        uint i)
{
  if ((p.flags & FACET_ROLLOUT_INIT) != 0u)
    return readout_weight (i);
  return v[p.v_off + b * p.tokens + i];
}

void
main ()
{
  uint j = gl_GlobalInvocationID.x, b = gl_WorkGroupID.y;
  uint a = p.a_off + b * p.tokens * p.tokens + j;
  float s = 0.0, r;

  if (j >= p.tokens)
    return;
  for (uint i = 0; i < p.tokens; i++)
    s = fma (probs[a + i * p.tokens], vec_at (b, i), s);
  r = 0.5 * s + 0.5 * vec_at (b, j);
  if ((p.flags & FACET_ROLLOUT_FINAL) != 0u)
    {
      if (j > 0u)
        w[p.w_off + b * (p.tokens - 1u) + j - 1u] = r;
    }
  else
    w[p.w_off + b * p.tokens + j] = r;
}
