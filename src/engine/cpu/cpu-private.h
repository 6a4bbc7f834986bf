/* cpu-private.h — the CPU backend's state, shared by its forward
 * (cpu-backend.c) and its training step (cpu-train.c) */
#pragma once

#include "cpu-backend.h"
#include "cpu-gemm-bf16.h"
#include "engine/engine-vit.h"

G_BEGIN_DECLS

typedef struct
{
  const float *n1w, *n1b, *qkvw, *qkvb, *projw, *projb, *n2w, *n2b, *fc1w, *fc1b, *fc2w, *fc2b;
  /* bf16 copies of the four products' weights (bf16 precision only; made
   * when first needed, dropped when training may change the weights) */
  FacetBf16Weight *qkv16, *proj16, *fc1_16, *fc2_16;
} BlockWeights;

typedef struct
{
  FacetBackend  parent;

  /* weights, pointing into the model */
  const float  *cls, *pos, *pe_w, *pe_b, *norm_w, *norm_b, *head_w, *head_b, *id_w, *id_b;
  BlockWeights *blocks;
  FacetBf16Weight *pe16;   /* patch embedding in bf16 */
  FacetPrecision precision; /* in use: fp32, or bf16 where the processor has it */
  float        *head_wg;   /* head weight times the final norm's gamma, for AU maps */
  float        *head_wg_sum;

  /* scratch, sized for cap_batch images */
  guint         cap_batch;
  gboolean      cap_probs;
  float        *x, *h, *qkv, *attn, *mlp, *patches, *probs, *probs_mean, *pooled_raw;
  float        *row_mean, *row_rstd;

  struct _CpuTrainState *train; /* activations kept for the backward pass */
  struct _CpuMaeState   *mae;   /* the same for MAE pre-training (cpu-mae.c) */
} CpuBackend;

/* What a block's forward keeps for its backward (training, MAE, maps). */
typedef struct
{
  float *x_in, *h1, *mean1, *rstd1, *qkv, *probs, *attn, *x_mid, *h2, *mean2, *rstd2, *pre;
  float *act; /* (nullable) gelu (pre), kept by the bf16 training step */
} CpuVitSaved;

typedef struct _CpuVit CpuVit;

/* The CPU's implementation of the ops of engine-vit.h: one context per
 * pass (inference, a training step, one MAE stack, the maps' forward). The
 * pass fills the shapes, the scratch roles and @bind, which points the
 * block roles, weights and kept activations at block l. */
struct _CpuVit
{
  guint               batch;
  int                 tokens, dim, heads, hidden;
  float               eps;
  gboolean            bf16;     /* bf16 products (the block's packs below) */
  gboolean            grouped;  /* fp32 products per image (batch-invariant inference) */
  gboolean            act_kept; /* ACT kept by the forward: no GELU again in the backward */

  /* bound to a block by @bind */
  float              *buf[FACET_VIT_N_BUFS]; /* NULL: a role this pass does not keep */
  float              *mean[2], *rstd[2];     /* the norms' row statistics (kept) */
  float              *probs;                 /* attention probabilities, heads * tokens^2 per image */
  float              *probs_mean;            /* (nullable) head-averaged probabilities */
  float              *dprobs;                /* backward scratch, as large as probs */
  const BlockWeights *w;
  const FacetBf16Weight *w16[4], *wt16[4];   /* by FacetVitLinear: packs, transposed packs */
  const float        *keep[2];               /* (nullable) drop-path factors per image */
  FacetGrads         *grads;                 /* (nullable) */
  const char         *prefix;                /* "blocks", "decoder_blocks": gradient names */
  int                 layer;

  void              (*bind) (CpuVit *vit,
                             int     l);
  gpointer            data;                  /* for @bind and @attention_hook */
  /* (nullable) called with the gradient of attention's output before its backward */
  void              (*attention_hook) (CpuVit *vit);
};

extern const FacetVitOps facet_cpu_vit_ops;

void     facet_cpu_vit_bind_saved   (CpuVit                 *vit,
                                     const CpuVitSaved      *saved);
void     facet_cpu_add_cls_pos      (float                  *x,
                                     const float            *emb,
                                     const float            *cls,
                                     const float            *pos,
                                     guint                   batch,
                                     int                     tokens,
                                     int                     dim);
void     facet_cpu_pool             (const float            *x,
                                     float                  *pooled,
                                     guint                   batch,
                                     int                     tokens,
                                     int                     dim,
                                     gboolean                global);
void     facet_cpu_pool_backward    (const float            *dpooled,
                                     float                  *dx,
                                     guint                   batch,
                                     int                     tokens,
                                     int                     dim,
                                     gboolean                global);
void     facet_cpu_ensure_scratch   (CpuBackend             *self,
                                     guint                   batch,
                                     gboolean                keep_probs);
void     facet_cpu_infer_blocks     (CpuBackend             *self,
                                     float                  *x,
                                     guint                   batch,
                                     int                     last,
                                     float                  *probs_mean);
void     facet_cpu_attention_backward_bf16 (const float *qkv,
                                            const float *probs,
                                            const float *dout,
                                            float       *dqkv,
                                            float       *scratch,
                                            int          batch,
                                            int          tokens,
                                            int          heads,
                                            int          dim);
void     facet_cpu_linear_backward_bf16 (const float           *x,
                                         const FacetBf16Weight *wt,
                                         const float           *dy,
                                         int                    m,
                                         int                    n,
                                         int                    k,
                                         float                 *dx,
                                         float                 *gelu_pre,
                                         float                 *dw,
                                         float                 *db);
void     facet_cpu_train_state_free (struct _CpuTrainState *state);
gboolean facet_cpu_train_step       (FacetBackend           *backend,
                                     const FacetTrainStep   *step,
                                     FacetGrads             *grads,
                                     FacetTrainStepResult   *result,
                                     GError                **error);
void     facet_cpu_mae_state_free   (struct _CpuMaeState    *state);
gboolean facet_cpu_mae_step         (FacetBackend           *backend,
                                     const FacetMaeStep     *step,
                                     FacetGrads             *grads,
                                     FacetMaeStepResult     *result,
                                     GError                **error);
gboolean facet_cpu_heads_train_step (FacetBackend           *backend,
                                     const FacetHeadsStep   *step,
                                     FacetGrads             *grads,
                                     FacetTrainStepResult   *result,
                                     GError                **error);
gboolean facet_cpu_gradient_maps    (FacetBackend           *backend,
                                     const float            *image,
                                     FacetMapMethod          method,
                                     const int              *aus,
                                     int                     n,
                                     float                  *maps,
                                     GCancellable           *cancellable,
                                     GError                **error);

G_END_DECLS
