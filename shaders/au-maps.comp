#version 450
/* au-maps.comp — the per-AU split of each logit over the patches
 *
 * With the global-pool readout, logit_a = sum_p (U[p, a] - mu s_a) rstd / N
 * + (w_a . beta + b_a), where U = tokens (w_a * gamma)^T (a product done by
 * matmul.comp), s_a = sum_j w_aj gamma_j, and mu, rstd are fc_norm's
 * statistics of the pooled mean. This shader does the elementwise part and
 * the transpose to [image, AU, patch].
 */
#include "common.glsl"

layout (local_size_x = 64) in;

layout (binding = 0) readonly buffer UBuf { float u[]; };
layout (binding = 1) readonly buffer StatBuf { float stats[]; };
layout (binding = 2) readonly buffer SBuf { float wsum[]; };
layout (binding = 3) writeonly buffer OBuf { float o[]; };

#define FACET_PUSH_MAPS
#include "push-constants.h"

void
main ()
{
  uint pi = gl_GlobalInvocationID.x, a = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  float mu, rstd, val;

  if (pi >= p.patches)
    return;
  mu = stats[p.s_off + 2u * b];
  rstd = stats[p.s_off + 2u * b + 1u];
  val = u[p.u_off + (b * p.patches + pi) * p.n_aus + a];
  o[p.o_off + (b * p.n_aus + a) * p.patches + pi]
    = (val - mu * wsum[p.w_off + a]) * rstd / float (p.patches);
}
