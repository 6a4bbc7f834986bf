/* engine-vit.h — the ViT's computation, written once
 *
 * The pre-norm transformer block of the FMAE-IAT ViT (and of the MAE
 * decoder), forward and backward, as a sequence of calls through an ops
 * table. Each backend implements the ops on its own tensors and kernels
 * (the CPU in fp32 and bf16, Vulkan by recording dispatches); the
 * description below is the only place that says in which order what is
 * computed from what. See docs/architecture.md, "The model description".
 *
 * Tensors are named, not passed: a FacetVitBuf is a role in the block
 * (the residual stream, the normed input of a branch, ...) and the backend
 * resolves it to its own storage for the block it was bound to. Where a
 * backend does not keep activations (inference), the roles it has no
 * storage for (X_IN, X_MID) are skipped by its ops, and H1/H2, HID/ACT may
 * share one buffer.
 *
 * Threads: a context belongs to one pass on one thread (the CPU contexts
 * point into the backend's scratch, itself single-thread); the ops may
 * spread their own work over the worker pool.
 *
 * Errors: ops return nothing. A backend whose ops can fail (recording on a
 * device) keeps the first error in its context and does nothing after it;
 * its caller checks once the description has run.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  FACET_VIT_NONE = -1,
  FACET_VIT_X,     /* the residual stream [rows, dim], updated in place */
  FACET_VIT_X_IN,  /* the block's input (kept for the backward) */
  FACET_VIT_X_MID, /* the stream between the two branches (kept) */
  FACET_VIT_H1,    /* LN1 (x) */
  FACET_VIT_H2,    /* LN2 (x_mid) */
  FACET_VIT_QKV,   /* q, k, v side by side, heads contiguous in each */
  FACET_VIT_ATTN,  /* attention's output, heads side by side */
  FACET_VIT_HID,   /* fc1's output before GELU (kept for the backward) */
  FACET_VIT_ACT,   /* gelu (HID), fc2's input */
  /* gradients (backward only) */
  FACET_VIT_DX,    /* of the stream: the block's output on entry, its input on return */
  FACET_VIT_DMID,  /* of x_mid */
  FACET_VIT_DH,    /* of H1 or H2 */
  FACET_VIT_DHID,  /* of HID */
  FACET_VIT_DQKV,
  FACET_VIT_DATTN,
  FACET_VIT_DTMP,  /* a branch's output gradient scaled by its drop-path keep factors */
  FACET_VIT_N_BUFS
} FacetVitBuf;

/* The block's four products and two norms. */
typedef enum
{
  FACET_VIT_QKV_LINEAR,
  FACET_VIT_PROJ,
  FACET_VIT_FC1,
  FACET_VIT_FC2,
} FacetVitLinear;

typedef enum
{
  FACET_VIT_NORM1,
  FACET_VIT_NORM2,
} FacetVitNorm;

/* The two residual branches, for their drop-path keep factors. */
typedef enum
{
  FACET_VIT_BRANCH_ATTN,
  FACET_VIT_BRANCH_MLP,
} FacetVitBranch;

typedef enum
{
  /* linear: y = gelu (x w^T + b); aux receives GELU's input where the
   * backend keeps activations (a fused epilogue where it has one) */
  FACET_VIT_OP_GELU = 1 << 0,
  /* linear: y += keep (x w^T + b), keep the branch's drop-path factor per
   * image (1 without drop path): the residual connection */
  FACET_VIT_OP_RESIDUAL = 1 << 1,
  /* linear_backward: dx = (dy w) * gelu'(aux): the product's input was gelu (aux) */
  FACET_VIT_OP_GELU_GRAD = 1 << 2,
} FacetVitOpFlags;

/**
 * FacetVitOps:
 * @block: binds block @l: the ops that follow read its weights, keep its
 *   activations and add to its gradients
 * @copy: dst = src (saving the stream: nothing where dst is not kept)
 * @layer_norm: y = LN (x) with the norm's weights; the row statistics are
 *   kept where the backend keeps activations
 * @linear: y = x w^T + b with the product's weights, and @flags
 * @attention: out = softmax (q k^T / sqrt (dh)) v per image and head; the
 *   probabilities kept (or averaged over heads for attention rollout) as
 *   the backend was asked
 * @gelu: y = gelu (x), or nothing where the backend kept y from the forward
 * @drop_path_grad: the gradient of a branch's output given that of the
 *   stream @dy: @dy itself where every keep factor is 1, else @tmp
 *   filled with keep * dy
 * @linear_backward: dx = dy w (overwritten), and where the product is
 *   trained dw += dy^T x, db += colsum (dy)
 * @layer_norm_backward: dx += the input gradient of the norm given @dy,
 *   and its weights' gradients where trained
 * @attention_backward: dqkv = the gradient of q, k, v given @dout (from
 *   the kept probabilities)
 *
 * Every op gets the backend's context first. A backend that only runs
 * inference (Vulkan) leaves the backward ops NULL.
 */
typedef struct
{
  void        (*block)               (gpointer        ctx,
                                      int             l);
  void        (*copy)                (gpointer        ctx,
                                      FacetVitBuf     src,
                                      FacetVitBuf     dst);
  void        (*layer_norm)          (gpointer        ctx,
                                      FacetVitNorm    norm,
                                      FacetVitBuf     x,
                                      FacetVitBuf     y);
  void        (*linear)              (gpointer        ctx,
                                      FacetVitLinear  w,
                                      FacetVitBuf     x,
                                      FacetVitBuf     y,
                                      FacetVitBuf     aux,
                                      guint           flags);
  void        (*attention)           (gpointer        ctx,
                                      FacetVitBuf     qkv,
                                      FacetVitBuf     out);
  /* backward */
  void        (*gelu)                (gpointer        ctx,
                                      FacetVitBuf     x,
                                      FacetVitBuf     y);
  FacetVitBuf (*drop_path_grad)      (gpointer        ctx,
                                      FacetVitBranch  branch,
                                      FacetVitBuf     dy,
                                      FacetVitBuf     tmp);
  void        (*linear_backward)     (gpointer        ctx,
                                      FacetVitLinear  w,
                                      FacetVitBuf     x,
                                      FacetVitBuf     dy,
                                      FacetVitBuf     dx,
                                      FacetVitBuf     aux,
                                      guint           flags);
  void        (*layer_norm_backward) (gpointer        ctx,
                                      FacetVitNorm    norm,
                                      FacetVitBuf     x,
                                      FacetVitBuf     dy,
                                      FacetVitBuf     dx);
  void        (*attention_backward)  (gpointer        ctx,
                                      FacetVitBuf     qkv,
                                      FacetVitBuf     dout,
                                      FacetVitBuf     dqkv);
} FacetVitOps;

void facet_vit_block_forward  (const FacetVitOps *ops,
                               gpointer           ctx,
                               int                l);
void facet_vit_block_backward (const FacetVitOps *ops,
                               gpointer           ctx,
                               int                l);
void facet_vit_blocks_forward (const FacetVitOps *ops,
                               gpointer           ctx,
                               int                first,
                               int                last);
void facet_vit_blocks_backward (const FacetVitOps *ops,
                                gpointer           ctx,
                                int                first,
                                int                last);

G_END_DECLS
