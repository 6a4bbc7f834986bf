/* engine-backend.h — the interface every compute backend implements
 *
 * A backend is a small table of function pointers (as in ggml): it takes a
 * model once (weights uploaded or packed a single time), runs whole batched
 * forwards, and runs single ops for the cross-backend op tests. The CPU
 * backend is the reference; others are compared against it op by op.
 *
 * Threads: a FacetBackend is single-thread. Its scratch buffers (the CPU
 * backend's activations, sized for the largest batch seen; the Vulkan
 * backend's device buffers and command buffers) are reused by every call,
 * so one backend serves one thread at a time: callers that share one hold
 * a lock around each call (the app's explainer does), everyone else makes
 * their own (the pipeline's inference thread, each training run). Inside
 * a call the CPU backend spreads work over the process-wide worker pool
 * (core/core-pool.h). Different backends may run at the same time, also
 * on the same FacetModel (a model is read-only once loaded).
 *
 * Ownership: facet_backend_new() returns a new backend (free with
 * facet_backend_free()); load_model takes a reference on the model (the
 * backend's `model` field, borrowed by readers); result and gradient
 * structs are the caller's: the backend fills them and keeps no pointer.
 * Pointers in FacetTrainStep, FacetMaeStep and FacetHeadsStep are borrowed
 * for the call. The *_to_string() functions return static strings
 * (transfer none).
 */
#pragma once

#include <gio/gio.h>

#include "engine-model.h"

G_BEGIN_DECLS

typedef struct _FacetBackend       FacetBackend;
typedef struct _FacetBackendVTable FacetBackendVTable;

typedef enum
{
  FACET_FORWARD_NONE      = 0,
  FACET_FORWARD_ATTENTION = 1 << 0, /* attention rollout towards the readout */
  FACET_FORWARD_AU_MAPS   = 1 << 1, /* per-AU split of each logit over the patches */
  FACET_FORWARD_RAW_FEATURE = 1 << 2, /* the feature before the final norm (training) */
} FacetForwardFlags;

/* Evidence maps on the patch grid (engine-explain.h has the API). */
typedef enum
{
  FACET_MAP_ROLLOUT,          /* attention rollout: model-wide, the same for every AU */
  FACET_MAP_LAST_LAYER,       /* exact split of the logit over the final patch tokens */
  FACET_MAP_GRAD_ATTENTION,   /* gradient-weighted attention relevance (Chefer et al. 2021) */
  FACET_MAP_INPUT_X_GRADIENT, /* patch embedding times the logit's gradient, summed over channels */
  FACET_MAP_OCCLUSION,        /* the logit's drop when a patch is hidden */
  FACET_MAP_NEUTRAL,          /* occlusion against the person's neutral frame, both ways */
  FACET_MAP_N_METHODS
} FacetMapMethod;

/* Outputs of a batched forward; arrays are row-major, one row per image,
 * owned by the result (freed with it). */
typedef struct
{
  guint             batch;
  int               n_aus;
  int               dim;
  int               n_subjects;
  int               grid;        /* patches per side */
  FacetForwardFlags flags;
  float            *logits;      /* [batch, n_aus] */
  float            *probs;       /* [batch, n_aus] sigmoid(logits) */
  float            *pooled;      /* [batch, dim] the feature the heads read */
  float            *id_logits;   /* [batch, n_subjects], NULL without ID_head */
  float            *attention;   /* [batch, grid*grid], NULL unless asked */
  float            *au_maps;     /* [batch, n_aus, grid*grid], NULL unless asked */
  float            *au_map_bias; /* [n_aus]: logit = sum(au_map) + au_map_bias */
  float            *pooled_raw;  /* [batch, dim] before fc_norm / norm, NULL unless asked */
} FacetForwardResult;

/* A new result with room for @batch images and the outputs @flags asks
 * for; the caller owns it (facet_forward_result_free()). */
FacetForwardResult *facet_forward_result_new  (const FacetModelConfig *config,
                                               guint                   batch,
                                               FacetForwardFlags       flags);
void                facet_forward_result_free (FacetForwardResult     *result);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetForwardResult, facet_forward_result_free)

/* Single ops, for the op-by-op tests and the benchmarks. Sizes used and the
 * inputs expected, in order:
 *   LINEAR       m n k, flags     x[m,k] w[n,k] (bias[n]) (residual[m,n]) -> y[m,n]
 *                y = act(x w^T + bias) + residual
 *   LAYER_NORM   m n eps          x[m,n] gamma[n] beta[n]                 -> y[m,n]
 *   GELU         n                x[n]                                    -> y[n] (erf form)
 *   ADD          n                a[n] b[n]                               -> y[n]
 *   SIGMOID      n                x[n]                                    -> y[n]
 *   SOFTMAX      m n alpha        x[m,n]                                  -> y[m,n] rows
 *   ATTENTION    batch tokens heads dim   qkv[batch*tokens, 3*dim]        -> y[batch*tokens, dim]
 *   ATTN_PROBS   batch tokens heads dim   qkv[batch*tokens, 3*dim]        -> p[batch, tokens, tokens]
 *                (softmax probabilities averaged over heads)
 *   MEAN_POOL    batch tokens dim x[batch*tokens, dim] -> y[batch, dim] (tokens 1.. only)
 *   PATCH_EMBED  batch image patch dim   img[batch,3,image,image] w[dim,3*patch*patch] bias[dim]
 *                -> y[batch, (image/patch)^2, dim]
 *   ROLLOUT      batch tokens depth flags  p[depth, batch, tokens, tokens] -> y[batch, tokens-1]
 *                (flags & FACET_OP_CLS_READOUT: towards the class token, else the patch mean)
 */
typedef enum
{
  FACET_OP_LINEAR,
  FACET_OP_LAYER_NORM,
  FACET_OP_GELU,
  FACET_OP_ADD,
  FACET_OP_SIGMOID,
  FACET_OP_SOFTMAX,
  FACET_OP_ATTENTION,
  FACET_OP_ATTN_PROBS,
  FACET_OP_MEAN_POOL,
  FACET_OP_PATCH_EMBED,
  FACET_OP_ROLLOUT,
  FACET_OP_N_KINDS
} FacetOpKind;

enum
{
  FACET_OP_BIAS        = 1 << 0,
  FACET_OP_ACT_GELU    = 1 << 1,
  FACET_OP_RESIDUAL    = 1 << 2,
  FACET_OP_CLS_READOUT = 1 << 3,
};

typedef struct
{
  FacetOpKind kind;
  int         m, n, k;
  int         batch, tokens, heads, dim, depth;
  int         image, patch;
  guint       flags;
  float       eps;
  float       alpha;
} FacetOpDesc;

const char *facet_op_kind_to_string  (FacetOpKind        kind);
int         facet_op_n_inputs        (const FacetOpDesc *op);
gsize       facet_op_input_size      (const FacetOpDesc *op,
                                      int                index);
gsize       facet_op_output_size     (const FacetOpDesc *op);
double      facet_op_flops           (const FacetOpDesc *op);

/* Training --------------------------------------------------------------
 *
 * A training step is one forward with saved activations and the backward
 * of the total loss into gradient buffers. The optimiser lives in the train
 * module; backends only compute losses and gradients.
 */

/* Gradient buffers, one per trainable tensor of the model (same names and
 * sizes; fp32). Frozen tensors have none. facet_grads_new() returns a new
 * set (transfer full, facet_grads_free()) and borrows @model for the call.
 * Single-thread: steps add into it; one thread at a time. */
typedef struct _FacetGrads FacetGrads;

FacetGrads  *facet_grads_new          (FacetModel        *model,
                                       gboolean         (*trainable) (const char *name,
                                                                      gpointer    data),
                                       gpointer           data);
void         facet_grads_free         (FacetGrads        *grads);
void         facet_grads_zero         (FacetGrads        *grads);
/* Borrowed: the buffer of tensor @name (NULL when frozen), owned by @grads. */
float       *facet_grads_get          (FacetGrads        *grads,
                                       const char        *name);
/* Borrowed: the names of the trainable tensors, owned by @grads. */
GPtrArray   *facet_grads_get_names    (FacetGrads        *grads);
double       facet_grads_norm         (FacetGrads        *grads);
void         facet_grads_scale        (FacetGrads        *grads,
                                       float              factor);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetGrads, facet_grads_free)

typedef struct
{
  guint        batch;
  const float *images;         /* [batch, 3, size, size], normalised */
  const float *au_targets;     /* [batch, n_aus]: 1, 0, or < 0 for "not labelled" (no loss) */
  const int   *subjects;       /* [batch]: identity class, < 0 for none; NULL without ID loss */
  float        iat_lambda;     /* gradient reversal strength before ID_head (0: no IAT) */
  float        drop_path;      /* stochastic depth of the last block (linear from 0) */
  guint64      seed;           /* drop-path draws */
  int          first_trainable_block; /* blocks below it are frozen; depth = heads only */
  gboolean     train_embedding;       /* patch embedding, class token, position table */
} FacetTrainStep;

typedef struct
{
  double loss;     /* au_loss + id_loss */
  double au_loss;  /* mean BCE over labelled (image, AU) entries */
  double id_loss;  /* mean BCE over (image, subject) entries of images with a subject */
  float *logits;   /* [batch, n_aus], owned by the caller, may be NULL */
} FacetTrainStepResult;

/* One masked-autoencoder pre-training step (REFERENCE.md, "MAE pre-training"):
 * per-image masking by argsort of @noise, the encoder on the kept patches
 * and the class token, the decoder on all positions, MSE on the removed
 * patches against their per-patch normalised pixels. */
typedef struct
{
  guint        batch;
  const float *images;     /* [batch, 3, size, size], normalised */
  const float *noise;      /* [batch, patches]: the lowest (1 - mask_ratio) share is kept */
  float        mask_ratio; /* in (0, 1) */
  gboolean     norm_pix;   /* normalise each target patch (the release's norm_pix_loss) */
} FacetMaeStep;

typedef struct
{
  double loss;  /* mean over removed patches of the mean squared error */
  float *pred;  /* [batch, patches, p*p*3] (channel last), owned by the caller, may be NULL */
  float *mask;  /* [batch, patches]: 1 removed, 0 kept; owned by the caller, may be NULL */
} FacetMaeStepResult;

/* The number of patches an MAE step keeps. */
int facet_mae_keep_count (int patches,
                          float mask_ratio);

/* A step of the heads alone on features the frozen backbone computed
 * once (heads-mode fine-tuning): final norm, AU head, ID head. */
typedef struct
{
  guint        batch;
  const float *pooled_raw;     /* [batch, dim]: the pooled feature before the final norm */
  const float *au_targets;     /* as in FacetTrainStep */
  const int   *subjects;       /* as in FacetTrainStep; may be NULL */
  float        iat_lambda;
  const float *pos_weight;     /* [n_aus]: weight of a present label in the BCE; NULL: 1 */
} FacetHeadsStep;

struct _FacetBackendVTable
{
  const char *name;
  void      (*free)        (FacetBackend             *self);
  char     *(*describe)    (FacetBackend             *self);
  gboolean  (*supports_op) (FacetBackend             *self,
                            const FacetOpDesc        *op);
  gboolean  (*compute_op)  (FacetBackend             *self,
                            const FacetOpDesc        *op,
                            const float * const      *inputs,
                            float                    *output,
                            GError                  **error);
  gboolean  (*load_model)  (FacetBackend             *self,
                            FacetModel               *model,
                            GError                  **error);
  gboolean  (*forward)     (FacetBackend             *self,
                            const float              *images,
                            guint                     batch,
                            FacetForwardFlags         flags,
                            FacetForwardResult       *result,
                            GError                  **error);
  void      (*synchronize) (FacetBackend             *self);
  /* Optional: backends without training leave it NULL. Adds into @grads. */
  gboolean  (*train_step)  (FacetBackend             *self,
                            const FacetTrainStep     *step,
                            FacetGrads               *grads,
                            FacetTrainStepResult     *result,
                            GError                  **error);
  /* Optional: MAE pre-training (needs a model with a decoder). Adds into @grads. */
  gboolean  (*mae_step)    (FacetBackend             *self,
                            const FacetMaeStep       *step,
                            FacetGrads               *grads,
                            FacetMaeStepResult       *result,
                            GError                  **error);
  /* Optional, as train_step. */
  gboolean  (*heads_step)  (FacetBackend             *self,
                            const FacetHeadsStep     *step,
                            FacetGrads               *grads,
                            FacetTrainStepResult     *result,
                            GError                  **error);
  /* Optional: the gradient-based maps (FACET_MAP_GRAD_ATTENTION,
   * FACET_MAP_INPUT_X_GRADIENT) of one normalised image for the AUs at
   * @aus (indices into the model's AU list): one forward, one backward per
   * AU. @maps gets [n, grid * grid]. */
  gboolean  (*gradient_maps) (FacetBackend           *self,
                              const float            *image,
                              FacetMapMethod          method,
                              const int              *aus,
                              int                     n,
                              float                  *maps,
                              GCancellable           *cancellable,
                              GError                **error);
};

struct _FacetBackend
{
  const FacetBackendVTable *vtable;
  FacetModel               *model; /* set by load_model */
};

/* A new backend, owned: "cpu" (also NULL), "vulkan", or "auto" (a real GPU
 * when there is one, else the CPU). */
FacetBackend *facet_backend_new          (const char        *name,
                                          GError           **error);
void          facet_backend_free         (FacetBackend      *backend);
/* Borrowed, static. */
const char   *facet_backend_get_name     (FacetBackend      *backend);
/* Owned (g_free): the device and its settings, for logs and the CLI. */
char         *facet_backend_describe     (FacetBackend      *backend);
gboolean      facet_backend_compute_op   (FacetBackend      *backend,
                                          const FacetOpDesc *op,
                                          const float * const *inputs,
                                          float             *output,
                                          GError           **error);
gboolean      facet_backend_supports_op  (FacetBackend      *backend,
                                          const FacetOpDesc *op);
gboolean      facet_backend_load_model   (FacetBackend      *backend,
                                          FacetModel        *model,
                                          GError           **error);
gboolean      facet_backend_forward      (FacetBackend      *backend,
                                          const float       *images,
                                          guint              batch,
                                          FacetForwardFlags  flags,
                                          FacetForwardResult *result,
                                          GError           **error);
gboolean      facet_backend_train_step   (FacetBackend      *backend,
                                          const FacetTrainStep *step,
                                          FacetGrads        *grads,
                                          FacetTrainStepResult *result,
                                          GError           **error);
gboolean      facet_backend_mae_step     (FacetBackend      *backend,
                                          const FacetMaeStep *step,
                                          FacetGrads        *grads,
                                          FacetMaeStepResult *result,
                                          GError           **error);
gboolean      facet_backend_heads_step   (FacetBackend      *backend,
                                          const FacetHeadsStep *step,
                                          FacetGrads        *grads,
                                          FacetTrainStepResult *result,
                                          GError           **error);
/* Borrowed, static, NULL-terminated. */
const char * const *facet_backend_list   (void);

/* Precision of weights and products. Backends created after
 * facet_backend_set_default_precision() use it where they can: the Vulkan
 * backend fp16 storage where the device has 16-bit storage buffers (fp32
 * arithmetic always), the CPU backend bf16 products (fp32 sums) where the
 * processor has AVX512-BF16. AUTO: bf16 on such a processor, else fp32.
 * Everything else is fp32 whatever is asked. */
typedef enum
{
  FACET_PRECISION_FP32,
  FACET_PRECISION_FP16,
  FACET_PRECISION_BF16,
  FACET_PRECISION_AUTO,
} FacetPrecision;

const char     *facet_precision_to_string           (FacetPrecision     precision);
gboolean        facet_precision_from_string         (const char        *text,
                                                     FacetPrecision    *precision);
void            facet_backend_set_default_precision (FacetPrecision     precision);
FacetPrecision  facet_backend_get_default_precision (void);
FacetPrecision  facet_backend_get_precision         (FacetBackend      *backend);

/* Compute devices a backend can use (for preferences and diagnostics). */
typedef enum
{
  FACET_DEVICE_OTHER,
  FACET_DEVICE_DISCRETE_GPU,
  FACET_DEVICE_INTEGRATED_GPU,
  FACET_DEVICE_VIRTUAL_GPU,
  FACET_DEVICE_CPU,
} FacetDeviceType;

typedef struct
{
  int              index;       /* the value FACET_VK_DEVICE accepts */
  char            *name;
  FacetDeviceType  type;
  guint64          memory;      /* bytes of device-local memory */
  char            *driver;      /* driver name and version */
  char            *api_version; /* e.g. "1.3.230" */
  gboolean         fp16;        /* 16-bit storage buffers */
  gboolean         usable;      /* Vulkan 1.1 and a compute queue */
} FacetDeviceInfo;

const char *facet_device_type_to_string (FacetDeviceType  type);
void        facet_device_info_free      (FacetDeviceInfo *info);
/* Owned: a new array of FacetDeviceInfo (freed with the array). */
GPtrArray  *facet_backend_list_devices  (GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetDeviceInfo, facet_device_info_free)

/* Constructors of the built-in backends, owned (facet_backend_free()). */
FacetBackend   *facet_cpu_backend_new                 (void);
/* The CPU backend in @precision rather than the process's default
 * (training takes its own from its settings): it computes in
 * facet_cpu_backend_resolve_precision (@precision). */
FacetBackend   *facet_cpu_backend_new_with_precision  (FacetPrecision     precision);
/* The precision a CPU backend made now for @asked computes in: bf16
 * products where bf16 or auto is asked and the processor has AVX512-BF16
 * (not switched off by FACET_CPU_FEATURES, read on each call); fp32
 * otherwise. Any thread. */
FacetPrecision  facet_cpu_backend_resolve_precision   (FacetPrecision     asked);
/* The bf16 dot-product peak of @threads cores of this machine in GFLOP/s,
 * measured (about half a second per call), 0 without AVX512-BF16: what a
 * bf16 benchmark reached is read against it. Any thread. */
double          facet_cpu_backend_bf16_peak_gflops   (guint              threads);
#ifdef FACET_HAVE_VULKAN
FacetBackend *facet_vulkan_backend_new   (GError           **error);
#endif

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetBackend, facet_backend_free)

G_END_DECLS
