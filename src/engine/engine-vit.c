/* engine-vit.c — the ViT's computation, written once (see engine-vit.h)
 *
 * The pre-norm block of timm's VisionTransformer, as the FMAE-IAT release
 * trains it:
 *
 *   x_mid = x + keep1 * proj (attention (qkv (LN1 (x))))
 *   x_out = x_mid + keep2 * fc2 (gelu (fc1 (LN2 (x_mid))))
 *
 * keep1, keep2 the drop-path factors of the branches (1 outside training),
 * and its backward, the same steps in reverse order. The CPU inference,
 * training, MAE pre-training and evidence-map passes and the Vulkan
 * forward all run these two functions.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include "engine-vit.h"

/**
 * facet_vit_block_forward:
 *
 * Block @l on the stream FACET_VIT_X, in place, keeping what the backward
 * needs where the backend keeps activations.
 */
void
facet_vit_block_forward (const FacetVitOps *ops,
                         gpointer           ctx,
                         int                l)
{
  ops->block (ctx, l);

  /* attention branch */
  ops->copy (ctx, FACET_VIT_X, FACET_VIT_X_IN);
  ops->layer_norm (ctx, FACET_VIT_NORM1, FACET_VIT_X, FACET_VIT_H1);
  ops->linear (ctx, FACET_VIT_QKV_LINEAR, FACET_VIT_H1, FACET_VIT_QKV, FACET_VIT_NONE, 0);
  ops->attention (ctx, FACET_VIT_QKV, FACET_VIT_ATTN);
  ops->linear (ctx, FACET_VIT_PROJ, FACET_VIT_ATTN, FACET_VIT_X, FACET_VIT_NONE,
               FACET_VIT_OP_RESIDUAL);

  /* MLP branch */
  ops->copy (ctx, FACET_VIT_X, FACET_VIT_X_MID);
  ops->layer_norm (ctx, FACET_VIT_NORM2, FACET_VIT_X, FACET_VIT_H2);
  ops->linear (ctx, FACET_VIT_FC1, FACET_VIT_H2, FACET_VIT_ACT, FACET_VIT_HID, FACET_VIT_OP_GELU);
  ops->linear (ctx, FACET_VIT_FC2, FACET_VIT_ACT, FACET_VIT_X, FACET_VIT_NONE,
               FACET_VIT_OP_RESIDUAL);
}

/**
 * facet_vit_block_backward:
 *
 * The backward of block @l from what its forward kept: FACET_VIT_DX holds
 * the gradient of the block's output on entry and of its input on return;
 * the weights' gradients are added where the backend trains them.
 */
void
facet_vit_block_backward (const FacetVitOps *ops,
                          gpointer           ctx,
                          int                l)
{
  FacetVitBuf dy;

  ops->block (ctx, l);

  /* x_out = x_mid + keep2 * fc2 (gelu (fc1 (LN2 (x_mid)))) */
  dy = ops->drop_path_grad (ctx, FACET_VIT_BRANCH_MLP, FACET_VIT_DX, FACET_VIT_DTMP);
  ops->gelu (ctx, FACET_VIT_HID, FACET_VIT_ACT);
  ops->linear_backward (ctx, FACET_VIT_FC2, FACET_VIT_ACT, dy, FACET_VIT_DHID, FACET_VIT_HID,
                        FACET_VIT_OP_GELU_GRAD);
  ops->linear_backward (ctx, FACET_VIT_FC1, FACET_VIT_H2, FACET_VIT_DHID, FACET_VIT_DH,
                        FACET_VIT_NONE, 0);
  ops->copy (ctx, FACET_VIT_DX, FACET_VIT_DMID);
  ops->layer_norm_backward (ctx, FACET_VIT_NORM2, FACET_VIT_X_MID, FACET_VIT_DH, FACET_VIT_DMID);

  /* x_mid = x + keep1 * proj (attention (qkv (LN1 (x)))) */
  dy = ops->drop_path_grad (ctx, FACET_VIT_BRANCH_ATTN, FACET_VIT_DMID, FACET_VIT_DTMP);
  ops->linear_backward (ctx, FACET_VIT_PROJ, FACET_VIT_ATTN, dy, FACET_VIT_DATTN, FACET_VIT_NONE,
                        0);
  ops->attention_backward (ctx, FACET_VIT_QKV, FACET_VIT_DATTN, FACET_VIT_DQKV);
  ops->linear_backward (ctx, FACET_VIT_QKV_LINEAR, FACET_VIT_H1, FACET_VIT_DQKV, FACET_VIT_DH,
                        FACET_VIT_NONE, 0);
  ops->copy (ctx, FACET_VIT_DMID, FACET_VIT_DX);
  ops->layer_norm_backward (ctx, FACET_VIT_NORM1, FACET_VIT_X_IN, FACET_VIT_DH, FACET_VIT_DX);
}

/* Blocks [@first, @last) forward. */
void
facet_vit_blocks_forward (const FacetVitOps *ops,
                          gpointer           ctx,
                          int                first,
                          int                last)
{
  for (int l = first; l < last; l++)
    facet_vit_block_forward (ops, ctx, l);
}

/* Blocks [@first, @last) backward, the last first. */
void
facet_vit_blocks_backward (const FacetVitOps *ops,
                           gpointer           ctx,
                           int                first,
                           int                last)
{
  for (int l = last - 1; l >= first; l--)
    facet_vit_block_backward (ops, ctx, l);
}
