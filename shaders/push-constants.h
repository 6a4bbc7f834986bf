/* push-constants.h — the push-constant blocks and flag bits of the compute
 * shaders, read by the shaders (GLSL) and by vulkan-backend.c (C) alike, so
 * that the two can never disagree field by field.
 *
 * A shader names the one block it uses before including this file
 * (#define FACET_PUSH_MATMUL ...); a shader stage may declare only one
 * push-constant block, which the shader reads as `p`. In C every block is a
 * struct type. Every field is a 32-bit scalar: GLSL's push-constant layout
 * then has no padding, and vulkan-backend.c checks at compile time that each
 * struct is exactly its fields and fits the 128 bytes every device offers.
 *
 * glslc defines VULKAN when it compiles for Vulkan; C compilers do not.
 */
#ifndef FACET_PUSH_CONSTANTS_H
#define FACET_PUSH_CONSTANTS_H

#ifdef VULKAN
#define FACET_U32 uint
#define FACET_F32 float
#define FACET_PUSH_BLOCK(name) layout (push_constant) uniform name
#define FACET_PUSH_NAME(name) p
#else
#include <glib.h>
#define FACET_U32 guint32
#define FACET_F32 float
#define FACET_PUSH_BLOCK(name) typedef struct name
#define FACET_PUSH_NAME(name) name
#define FACET_PUSH_ALL
#endif

/* Flag bits, per block. */
#define FACET_MATMUL_BIAS       1u  /* + bias[n] */
#define FACET_MATMUL_GELU       2u  /* exact GELU after the bias */
#define FACET_MATMUL_RESIDUAL   4u  /* + R (another tensor) */
#define FACET_MATMUL_VEC4       8u  /* A and W read as vec4 along k */
#define FACET_MATMUL_ACCUMULATE 16u /* + D itself: a residual in place */
#define FACET_ATTENTION_LSE     1u  /* also write each row's log-sum-exp */
#define FACET_NORM_STATS        1u  /* also write each row's mean and rstd */
#define FACET_POOL_CLS          1u  /* the class token instead of the patch mean */
#define FACET_ROLLOUT_INIT      1u  /* start from the readout's weights */
#define FACET_ROLLOUT_FINAL     2u  /* write the patch part of the result */
#define FACET_ROLLOUT_CLS       4u  /* the readout is the class token */

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_MATMUL)
FACET_PUSH_BLOCK (MatmulPush)
{
  FACET_U32 m, n, k;
  FACET_U32 a_off, b_off, bias_off, r_off, d_off;
  FACET_U32 lda, ldr, ldd;
  FACET_U32 a_zstride, r_zstride, d_zstride;
  FACET_U32 flags;
  /* IM2COL only */
  FACET_U32 image, psize, grid, out_tokens;
} FACET_PUSH_NAME (MatmulPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_NORM)
FACET_PUSH_BLOCK (NormPush)
{
  FACET_U32 m, n;
  FACET_U32 x_off, g_off, b_off, y_off, s_off;
  FACET_U32 flags;
  FACET_F32 eps;
} FACET_PUSH_NAME (NormPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_ATTENTION)
FACET_PUSH_BLOCK (AttnPush)
{
  FACET_U32 batch, tokens, heads, dim;
  FACET_U32 qkv_off, o_off, lse_off;
  FACET_U32 flags;
  FACET_F32 alpha;
} FACET_PUSH_NAME (AttnPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_PROBS)
FACET_PUSH_BLOCK (ProbsPush)
{
  FACET_U32 batch, tokens, heads, dim;
  FACET_U32 qkv_off, lse_off, p_off;
  FACET_F32 alpha;
} FACET_PUSH_NAME (ProbsPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_SOFTMAX)
FACET_PUSH_BLOCK (SoftmaxPush)
{
  FACET_U32 m, n;
  FACET_U32 x_off, y_off;
  FACET_F32 alpha;
} FACET_PUSH_NAME (SoftmaxPush);
#endif

/* GELU and sigmoid */
#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_UNARY)
FACET_PUSH_BLOCK (UnaryPush)
{
  FACET_U32 n;
  FACET_U32 x_off, y_off;
} FACET_PUSH_NAME (UnaryPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_ADD)
FACET_PUSH_BLOCK (AddPush)
{
  FACET_U32 n;
  FACET_U32 a_off, b_off, y_off;
} FACET_PUSH_NAME (AddPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_POOL)
FACET_PUSH_BLOCK (PoolPush)
{
  FACET_U32 batch, tokens, dim;
  FACET_U32 x_off, y_off;
  FACET_U32 flags;
} FACET_PUSH_NAME (PoolPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_CLS)
FACET_PUSH_BLOCK (ClsPush)
{
  FACET_U32 batch, tokens, dim;
  FACET_U32 cls_off, pos_off, x_off;
} FACET_PUSH_NAME (ClsPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_ROLLOUT)
FACET_PUSH_BLOCK (RolloutPush)
{
  FACET_U32 batch, tokens;
  FACET_U32 a_off, v_off, w_off;
  FACET_U32 flags;
} FACET_PUSH_NAME (RolloutPush);
#endif

#if defined(FACET_PUSH_ALL) || defined(FACET_PUSH_MAPS)
FACET_PUSH_BLOCK (MapsPush)
{
  FACET_U32 batch, patches, n_aus;
  FACET_U32 u_off, s_off, w_off, o_off;
} FACET_PUSH_NAME (MapsPush);
#endif

#endif /* FACET_PUSH_CONSTANTS_H */
