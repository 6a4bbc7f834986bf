/* train-optim.h — AdamW with the FMAE recipe's parameter groups and schedule
 *
 * Threads: a FacetOptimizer is single-thread (it updates the model's
 * weights in place and keeps its moments); the schedule functions are pure.
 * Ownership: facet_optimizer_new() returns a new optimizer (transfer full,
 * facet_optimizer_free()); it borrows @model (writable:
 * facet_model_make_writable()) and @grads and keeps pointers into their
 * buffers, so both must outlive it. @config is copied.
 */
#pragma once

#include "engine/facet-engine.h"

G_BEGIN_DECLS

typedef struct
{
  double base_lr;       /* absolute peak learning rate */
  double min_lr;        /* floor of the cosine */
  double warmup_epochs; /* linear warm-up, in (fractional) epochs */
  double epochs;        /* total epochs */
  double weight_decay;  /* decoupled, not on 1-D tensors, class token, position table */
  double layer_decay;   /* lr of block i scaled by layer_decay^(depth + 1 - (i + 1)) */
  double id_head_lr_scale; /* ID_head's lr times this (1: the recipe) */
  double beta1, beta2, eps;
} FacetOptimConfig;

void   facet_optim_config_init (FacetOptimConfig *config);
double facet_optim_lr_at       (const FacetOptimConfig *config,
                                double                  epoch);

typedef struct _FacetOptimizer FacetOptimizer;

FacetOptimizer *facet_optimizer_new        (FacetModel             *model,
                                            FacetGrads             *grads,
                                            const FacetOptimConfig *config);
void            facet_optimizer_free       (FacetOptimizer         *opt);
void            facet_optimizer_step       (FacetOptimizer         *opt,
                                            double                  lr);
gint64          facet_optimizer_get_steps  (FacetOptimizer         *opt);
double          facet_optimizer_lr_scale   (FacetOptimizer         *opt,
                                            const char             *name);
double          facet_optimizer_decay_of   (FacetOptimizer         *opt,
                                            const char             *name);
/* Moments as fp32 tensors ("adam.m.NAME", "adam.v.NAME") plus the step
 * count, for checkpoints that resume exactly. Export appends new tensors to
 * @tensors (transfer full: the array must free them, facet_tensor_free())
 * and new strings to @metadata (its key and value free functions must be
 * g_free()); import copies from its borrowed arguments. */
void            facet_optimizer_export     (FacetOptimizer         *opt,
                                            GPtrArray              *tensors,
                                            GHashTable             *metadata);
gboolean        facet_optimizer_import     (FacetOptimizer         *opt,
                                            GPtrArray              *tensors,
                                            GHashTable             *metadata,
                                            GError                **error);

double          facet_clip_grad_norm       (FacetGrads             *grads,
                                            double                  max_norm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetOptimizer, facet_optimizer_free)

G_END_DECLS
