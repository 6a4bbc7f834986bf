/* cpu-private.h — the CPU backend's state, shared by its forward
 * (cpu-backend.c) and its training step (cpu-train.c) */
#pragma once

#include "cpu-backend.h"
#include "cpu-gemm-bf16.h"

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

void     facet_cpu_ensure_scratch   (CpuBackend             *self,
                                     guint                   batch,
                                     gboolean                keep_probs);
void     facet_cpu_block_forward    (CpuBackend             *self,
                                     int                     l,
                                     float                  *x,
                                     guint                   batch,
                                     float                  *probs_mean);
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
