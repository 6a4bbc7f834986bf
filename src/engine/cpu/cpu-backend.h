/* cpu-backend.h — internals of the CPU backend shared with training
 *
 * Engine-internal: only src/engine/ includes this (tests/layering checks
 * it); everyone else goes through the backend table (engine-backend.h).
 *
 * Threads: a CPU backend is single-thread. Its scratch buffers (x, h, qkv,
 * attn, mlp, patches, probs, ... grown by facet_cpu_ensure_scratch() to
 * the largest batch seen, never shrunk) and the training activations are
 * reused by every forward and step, so two threads must not call one CPU
 * backend at the same time. The kernels below are reentrant: they split
 * their work over the process-wide pool (core/core-pool.h) and write only
 * to the buffers they are given.
 */
#pragma once

#include "engine/engine-backend.h"

G_BEGIN_DECLS

void facet_cpu_blas_init (void);
FacetPrecision facet_cpu_backend_get_precision (FacetBackend *backend);
void facet_cpu_gemm      (gboolean     trans_a,
                          gboolean     trans_b,
                          int          m,
                          int          n,
                          int          k,
                          float        alpha,
                          const float *a,
                          int          lda,
                          const float *b,
                          int          ldb,
                          float        beta,
                          float       *c,
                          int          ldc);
void facet_cpu_par_add_bias   (float       *y,
                               const float *bias,
                               gsize        m,
                               gsize        n);
void facet_cpu_par_bias_gelu  (float       *y,
                               const float *bias,
                               gsize        m,
                               gsize        n);
void facet_cpu_par_layer_norm (const float *x,
                               float       *y,
                               gsize        m,
                               gsize        n,
                               const float *gamma,
                               const float *beta,
                               float        eps,
                               float       *mean,
                               float       *rstd);

void facet_cpu_attention (const float *qkv,
                          float       *out,
                          float       *probs,
                          float       *probs_mean,
                          int          batch,
                          int          tokens,
                          int          heads,
                          int          dim);
void facet_cpu_attention_bf16 (const float *qkv,
                               float       *out,
                               float       *probs,
                               float       *probs_mean,
                               int          batch,
                               int          tokens,
                               int          heads,
                               int          dim);
void facet_cpu_linear    (const float *x,
                          const float *w,
                          const float *bias,
                          float       *y,
                          int          m,
                          int          n,
                          int          k,
                          gboolean     accumulate);
/* The same product, with the rows taken in groups of @group (the rows of one
 * image): each group is multiplied by calls that depend only on @group, so an
 * image's result does not depend on the other images of the batch or on the
 * number of threads. */
void facet_cpu_linear_grouped (const float *x,
                               const float *w,
                               const float *bias,
                               float       *y,
                               int          m,
                               int          n,
                               int          k,
                               gboolean     accumulate,
                               int          group);
void facet_cpu_patchify  (const float *images,
                          float       *patches,
                          int          batch,
                          int          image,
                          int          patch);
void facet_cpu_rollout   (const float *probs,
                          float       *out,
                          int          batch,
                          int          tokens,
                          int          depth,
                          gboolean     cls_readout);

/* Backward ops (cpu-train.c); gradients are added into their buffers. */
void facet_cpu_linear_backward     (const float *x,
                                    const float *w,
                                    const float *dy,
                                    int          m,
                                    int          n,
                                    int          k,
                                    float       *dx,
                                    gboolean     accumulate_dx,
                                    float       *dw,
                                    float       *db);
void facet_cpu_layer_norm_backward (const float *x,
                                    const float *dy,
                                    const float *gamma,
                                    const float *mean,
                                    const float *rstd,
                                    gsize        m,
                                    gsize        n,
                                    float       *dx,
                                    float       *dgamma,
                                    float       *dbeta);
gboolean facet_cpu_heads_step      (const FacetModelConfig *c,
                                    const float            *norm_w,
                                    const float            *norm_b,
                                    const float            *head_w,
                                    const float            *head_b,
                                    const float            *id_w,
                                    const float            *id_b,
                                    const float            *pooled_raw,
                                    guint                   batch,
                                    const float            *au_targets,
                                    const int              *subjects,
                                    float                   iat_lambda,
                                    const float            *pos_weight,
                                    FacetGrads             *grads,
                                    float                  *dpooled,
                                    FacetTrainStepResult   *result,
                                    GError                **error);
void facet_cpu_attention_backward  (const float *qkv,
                                    const float *probs,
                                    const float *dout,
                                    float       *dqkv,
                                    float       *scratch,
                                    int          batch,
                                    int          tokens,
                                    int          heads,
                                    int          dim);

G_END_DECLS
