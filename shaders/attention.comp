#version 450
/* attention.comp — fused softmax(q k^T / sqrt(dh)) v for one (image, head)
 *
 * qkv rows hold q, k and v side by side ([tokens, 3 dim] per image), heads
 * contiguous in each. One invocation owns one query row: q and the output
 * accumulator stay in registers, keys and values pass through shared memory
 * in tiles of BKEYS rows, and the softmax is computed online (running
 * maximum and sum), so the tokens x tokens score matrix never exists. With FACET_ATTENTION_LSE the log-sum-exp of each row is written
 * too: attn-probs.comp recomputes the probabilities from it when the
 * attention maps are asked for.
 */
#include "common.glsl"

#ifdef F16
#define X_T float16_t
#else
#define X_T float
#endif

#define BQ 32u

layout (local_size_x = 32) in;

layout (constant_id = 0) const uint DH = 64;
layout (constant_id = 1) const uint BKEYS = 32;

layout (binding = 0) readonly buffer QkvBuf { X_T qkv[]; };
layout (binding = 1) writeonly buffer OBuf { X_T o[]; };
layout (binding = 2) writeonly buffer LseBuf { float lse[]; };

#define FACET_PUSH_ATTENTION
#include "push-constants.h"

shared float ks[BKEYS * DH];
shared float vs[BKEYS * DH];

void
main ()
{
  uint lid = gl_LocalInvocationID.x;
  uint bh = gl_WorkGroupID.y;
  uint b = bh / p.heads, h = bh % p.heads;
  uint i = gl_WorkGroupID.x * BQ + lid;
  bool valid = i < p.tokens;
  uint stride = 3u * p.dim;
  uint base = p.qkv_off + b * p.tokens * stride + h * DH;
  float q[DH], acc[DH];
  float mx = -1.0e30, l = 0.0;

  /* The scale is folded into q once. */
  for (uint c = 0; c < DH; c++)
    {
      q[c] = valid ? float (qkv[base + i * stride + c]) * p.alpha : 0.0;
      acc[c] = 0.0;
    }

  for (uint j0 = 0; j0 < p.tokens; j0 += BKEYS)
    {
      uint nk = min (BKEYS, p.tokens - j0);

      barrier ();
      for (uint e = lid; e < nk * DH; e += BQ)
        {
          uint src = base + (j0 + e / DH) * stride + e % DH;
          ks[e] = float (qkv[src + p.dim]);
          vs[e] = float (qkv[src + 2u * p.dim]);
        }
      barrier ();

      /* One key at a time; the accumulator is rescaled only when the
       * running maximum grows. (Keeping the loop over keys a loop keeps
       * shader compilation fast on CPU drivers.) */
      for (uint jj = 0; jj < nk; jj++)
        {
          float d = 0.0, e;
          for (uint c = 0; c < DH; c++)
            d = fma (q[c], ks[jj * DH + c], d);
          if (d > mx)
            {
              float corr = exp (mx - d);
              l *= corr;
              for (uint c = 0; c < DH; c++)
                acc[c] *= corr;
              mx = d;
            }
          e = exp (d - mx);
          l += e;
          for (uint c = 0; c < DH; c++)
            acc[c] = fma (e, vs[jj * DH + c], acc[c]);
        }
    }

  if (!valid)
    return;
  for (uint c = 0; c < DH; c++)
    o[p.o_off + (b * p.tokens + i) * p.dim + h * DH + c] = X_T (acc[c] / l);
  if ((p.flags & FACET_ATTENTION_LSE) != 0u)
    lse[p.lse_off + (b * p.heads + h) * p.tokens + i] = mx + log (l);
}
