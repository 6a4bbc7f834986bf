/* engine-backend.c — backend registry, forward results, op descriptions */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "engine-backend.h"
#include "engine-error.h"

#include "core/core-pool.h"
#ifdef FACET_HAVE_VULKAN
#include "cpu/cpu-backend.h"
#include "cpu/cpu-gemm-bf16.h"
#include "vulkan/vulkan-backend.h"
#endif

static float *
alloc_zero (gsize n)
{
  return g_aligned_alloc0 (MAX (n, 1), sizeof (float), 64);
}

/**
 * facet_forward_result_new:
 *
 * Allocates the outputs of a forward over @batch images. Per-AU maps exist
 * only for global-pool models (their logits split exactly over patches).
 */
FacetForwardResult *
facet_forward_result_new (const FacetModelConfig *config,
                          guint                   batch,
                          FacetForwardFlags       flags)
{
  FacetForwardResult *r = g_new0 (FacetForwardResult, 1);
  int grid = facet_model_config_grid (config);

  r->batch = batch;
  r->n_aus = config->n_aus;
  r->dim = config->dim;
  r->n_subjects = config->n_subjects;
  r->grid = grid;
  r->flags = flags;
  r->logits = alloc_zero ((gsize) batch * config->n_aus);
  r->probs = alloc_zero ((gsize) batch * config->n_aus);
  r->pooled = alloc_zero ((gsize) batch * config->dim);
  if (config->n_subjects > 0)
    r->id_logits = alloc_zero ((gsize) batch * config->n_subjects);
  if (flags & FACET_FORWARD_ATTENTION)
    r->attention = alloc_zero ((gsize) batch * grid * grid);
  if (flags & FACET_FORWARD_RAW_FEATURE)
    r->pooled_raw = alloc_zero ((gsize) batch * config->dim);
  if ((flags & FACET_FORWARD_AU_MAPS) && config->readout == FACET_READOUT_GLOBAL_POOL
      && config->n_aus > 0)
    {
      r->au_maps = alloc_zero ((gsize) batch * config->n_aus * grid * grid);
      r->au_map_bias = alloc_zero ((gsize) config->n_aus);
    }
  return r;
}

void
facet_forward_result_free (FacetForwardResult *result)
{
  if (result == NULL)
    return;
  g_aligned_free (result->logits);
  g_aligned_free (result->probs);
  g_aligned_free (result->pooled);
  g_aligned_free (result->id_logits);
  g_aligned_free (result->attention);
  g_aligned_free (result->au_maps);
  g_aligned_free (result->au_map_bias);
  g_aligned_free (result->pooled_raw);
  g_free (result);
}

const char *
facet_op_kind_to_string (FacetOpKind kind)
{
  static const char *names[] = {
    [FACET_OP_LINEAR] = "linear",       [FACET_OP_LAYER_NORM] = "layer_norm",
    [FACET_OP_GELU] = "gelu",           [FACET_OP_ADD] = "add",
    [FACET_OP_SIGMOID] = "sigmoid",     [FACET_OP_SOFTMAX] = "softmax",
    [FACET_OP_ATTENTION] = "attention", [FACET_OP_ATTN_PROBS] = "attn_probs",
    [FACET_OP_MEAN_POOL] = "mean_pool", [FACET_OP_PATCH_EMBED] = "patch_embed",
    [FACET_OP_ROLLOUT] = "rollout",
  };

  if ((guint) kind >= G_N_ELEMENTS (names))
    return "?";
  return names[kind];
}

int
facet_op_n_inputs (const FacetOpDesc *op)
{
  switch (op->kind)
    {
    case FACET_OP_LINEAR:
      return 2 + !!(op->flags & FACET_OP_BIAS) + !!(op->flags & FACET_OP_RESIDUAL);
    case FACET_OP_LAYER_NORM:
    case FACET_OP_PATCH_EMBED:
      return 3;
    case FACET_OP_ADD:
      return 2;
    default:
      return 1;
    }
}

/* Number of floats of input @index. */
gsize
facet_op_input_size (const FacetOpDesc *op,
                     int                index)
{
  gsize tt = (gsize) op->tokens * op->tokens;

  switch (op->kind)
    {
    case FACET_OP_LINEAR:
      if (index == 0)
        return (gsize) op->m * op->k;
      if (index == 1)
        return (gsize) op->n * op->k;
      if (index == 2 && (op->flags & FACET_OP_BIAS))
        return (gsize) op->n;
      return (gsize) op->m * op->n;
    case FACET_OP_LAYER_NORM:
      return index == 0 ? (gsize) op->m * op->n : (gsize) op->n;
    case FACET_OP_GELU:
    case FACET_OP_ADD:
    case FACET_OP_SIGMOID:
      return (gsize) op->n;
    case FACET_OP_SOFTMAX:
      return (gsize) op->m * op->n;
    case FACET_OP_ATTENTION:
    case FACET_OP_ATTN_PROBS:
      return (gsize) op->batch * op->tokens * 3 * op->dim;
    case FACET_OP_MEAN_POOL:
      return (gsize) op->batch * op->tokens * op->dim;
    case FACET_OP_PATCH_EMBED:
      if (index == 0)
        return (gsize) op->batch * 3 * op->image * op->image;
      if (index == 1)
        return (gsize) op->dim * 3 * op->patch * op->patch;
      return (gsize) op->dim;
    case FACET_OP_ROLLOUT:
      return (gsize) op->depth * op->batch * tt;
    default:
      return 0;
    }
}

gsize
facet_op_output_size (const FacetOpDesc *op)
{
  int g = op->patch > 0 ? op->image / op->patch : 0;

  switch (op->kind)
    {
    case FACET_OP_LINEAR:
    case FACET_OP_LAYER_NORM:
    case FACET_OP_SOFTMAX:
      return (gsize) op->m * op->n;
    case FACET_OP_GELU:
    case FACET_OP_ADD:
    case FACET_OP_SIGMOID:
      return (gsize) op->n;
    case FACET_OP_ATTENTION:
      return (gsize) op->batch * op->tokens * op->dim;
    case FACET_OP_ATTN_PROBS:
      return (gsize) op->batch * op->tokens * op->tokens;
    case FACET_OP_MEAN_POOL:
      return (gsize) op->batch * op->dim;
    case FACET_OP_PATCH_EMBED:
      return (gsize) op->batch * g * g * op->dim;
    case FACET_OP_ROLLOUT:
      return (gsize) op->batch * (op->tokens - 1);
    default:
      return 0;
    }
}

/* Floating-point operations of an op, for GFLOP/s figures (products count 2). */
double
facet_op_flops (const FacetOpDesc *op)
{
  double tt = (double) op->tokens * op->tokens;

  switch (op->kind)
    {
    case FACET_OP_LINEAR:
      return 2.0 * op->m * op->n * op->k;
    case FACET_OP_ATTENTION:
    case FACET_OP_ATTN_PROBS:
      return 4.0 * op->batch * tt * op->dim;
    case FACET_OP_PATCH_EMBED:
      {
        double g = (double) op->image / op->patch;
        return 2.0 * op->batch * g * g * op->dim * 3 * op->patch * op->patch;
      }
    case FACET_OP_ROLLOUT:
      return 2.0 * op->batch * op->depth * tt;
    default:
      return (double) facet_op_output_size (op) * 5.0;
    }
}

static const char *const precision_names[] = { "fp32", "fp16", "bf16", "auto" };

const char *
facet_precision_to_string (FacetPrecision precision)
{
  if ((guint) precision >= G_N_ELEMENTS (precision_names))
    return "fp32";
  return precision_names[precision];
}

gboolean
facet_precision_from_string (const char     *text,
                             FacetPrecision *precision)
{
  for (guint i = 0; i < G_N_ELEMENTS (precision_names); i++)
    if (g_strcmp0 (text, precision_names[i]) == 0)
      {
        *precision = (FacetPrecision) i;
        return TRUE;
      }
  return FALSE;
}

/**
 * facet_backend_get_precision:
 *
 * The precision @backend computes in (never auto): the CPU's fp32 or bf16,
 * the Vulkan backend's fp32 or fp16 storage.
 */
FacetPrecision
facet_backend_get_precision (FacetBackend *backend)
{
  g_return_val_if_fail (backend != NULL, FACET_PRECISION_FP32);
  if (g_str_equal (backend->vtable->name, "cpu"))
    return facet_cpu_backend_get_precision (backend);
#ifdef FACET_HAVE_VULKAN
  if (g_str_equal (backend->vtable->name, "vulkan"))
    return facet_vulkan_backend_get_precision (backend);
#endif
  return FACET_PRECISION_FP32;
}

/**
 * facet_cpu_backend_resolve_precision:
 * @asked: the precision asked for
 *
 * What a CPU backend made now with @asked computes in (the rule of
 * facet_cpu_backend_new_with_precision(), for callers that must know before
 * or without making one: training's notice, preferences).
 */
FacetPrecision
facet_cpu_backend_resolve_precision (FacetPrecision asked)
{
  if ((asked == FACET_PRECISION_BF16 || asked == FACET_PRECISION_AUTO)
      && facet_cpu_bf16_available ())
    return FACET_PRECISION_BF16;
  return FACET_PRECISION_FP32;
}

double
facet_cpu_backend_bf16_peak_gflops (guint threads)
{
  return facet_cpu_bf16_peak_gflops (threads);
}

static gint default_precision = FACET_PRECISION_FP32;

/**
 * facet_backend_set_default_precision:
 *
 * The storage precision of backends created from now on (facet_backend_new()
 * takes no options, and FacetEngine creates its backend itself).
 */
void
facet_backend_set_default_precision (FacetPrecision precision)
{
  g_atomic_int_set (&default_precision, (gint) precision);
}

FacetPrecision
facet_backend_get_default_precision (void)
{
  return (FacetPrecision) g_atomic_int_get (&default_precision);
}

const char *
facet_device_type_to_string (FacetDeviceType type)
{
  switch (type)
    {
    case FACET_DEVICE_DISCRETE_GPU:
      return "discrete GPU";
    case FACET_DEVICE_INTEGRATED_GPU:
      return "integrated GPU";
    case FACET_DEVICE_VIRTUAL_GPU:
      return "virtual GPU";
    case FACET_DEVICE_CPU:
      return "CPU";
    case FACET_DEVICE_OTHER:
    default:
      return "other";
    }
}

void
facet_device_info_free (FacetDeviceInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->driver);
  g_free (info->api_version);
  g_free (info);
}

/**
 * facet_backend_list_devices:
 *
 * The Vulkan devices of this machine (FacetDeviceInfo), in the order that
 * FACET_VK_DEVICE indexes; empty without the Vulkan backend or a driver.
 * Fails only when the Vulkan loader itself cannot be used.
 */
GPtrArray *
facet_backend_list_devices (GError **error)
{
#ifdef FACET_HAVE_VULKAN
  return facet_vulkan_list_devices (error);
#else
  return g_ptr_array_new_with_free_func ((GDestroyNotify) facet_device_info_free);
#endif
}

/**
 * facet_backend_list:
 *
 * Names accepted by facet_backend_new(), compiled-in ones only.
 */
const char * const *
facet_backend_list (void)
{
  static const char *names[] = { "cpu",
#ifdef FACET_HAVE_VULKAN
                                 "vulkan",
#endif
                                 NULL };
  return names;
}

/**
 * facet_backend_new:
 * @name: "cpu", "vulkan", or "auto" (the Vulkan backend on a real GPU,
 *   else the CPU)
 */
FacetBackend *
facet_backend_new (const char *name,
                   GError    **error)
{
  if (name == NULL || g_str_equal (name, "cpu"))
    return facet_cpu_backend_new ();
#ifdef FACET_HAVE_VULKAN
  if (g_str_equal (name, "vulkan"))
    return facet_vulkan_backend_new (error);
  if (g_str_equal (name, "auto"))
    {
      /* Only a real GPU: on a CPU driver (lavapipe) OpenBLAS is far faster. */
      FacetBackend *vk = facet_vulkan_backend_new (NULL);
      if (vk != NULL && facet_vulkan_backend_is_gpu (vk))
        return vk;
      g_clear_pointer (&vk, facet_backend_free);
      return facet_cpu_backend_new ();
    }
#else
  if (g_str_equal (name, "auto"))
    return facet_cpu_backend_new ();
  if (g_str_equal (name, "vulkan"))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "this Facet was built without the Vulkan backend");
      return NULL;
    }
#endif
  g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
               "unknown backend “%s” (cpu, vulkan or auto)", name);
  return NULL;
}

void
facet_backend_free (FacetBackend *backend)
{
  if (backend != NULL)
    backend->vtable->free (backend);
}

const char *
facet_backend_get_name (FacetBackend *backend)
{
  return backend->vtable->name;
}

char *
facet_backend_describe (FacetBackend *backend)
{
  return backend->vtable->describe (backend);
}

gboolean
facet_backend_supports_op (FacetBackend      *backend,
                           const FacetOpDesc *op)
{
  return backend->vtable->supports_op (backend, op);
}

gboolean
facet_backend_compute_op (FacetBackend        *backend,
                          const FacetOpDesc   *op,
                          const float * const *inputs,
                          float               *output,
                          GError             **error)
{
  g_return_val_if_fail (backend != NULL && op != NULL && output != NULL, FALSE);
  return backend->vtable->compute_op (backend, op, inputs, output, error);
}

gboolean
facet_backend_load_model (FacetBackend *backend,
                          FacetModel   *model,
                          GError      **error)
{
  g_return_val_if_fail (backend != NULL && model != NULL, FALSE);
  return backend->vtable->load_model (backend, model, error);
}

gboolean
facet_backend_forward (FacetBackend       *backend,
                       const float        *images,
                       guint               batch,
                       FacetForwardFlags   flags,
                       FacetForwardResult *result,
                       GError            **error)
{
  g_return_val_if_fail (backend != NULL && result != NULL, FALSE);
  g_return_val_if_fail (batch <= result->batch, FALSE);
  return backend->vtable->forward (backend, images, batch, flags, result, error);
}

gboolean
facet_backend_train_step (FacetBackend         *backend,
                          const FacetTrainStep *step,
                          FacetGrads           *grads,
                          FacetTrainStepResult *result,
                          GError              **error)
{
  g_return_val_if_fail (backend != NULL && step != NULL && grads != NULL, FALSE);

  if (backend->vtable->train_step == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "the %s backend cannot train; use the CPU backend", backend->vtable->name);
      return FALSE;
    }
  return backend->vtable->train_step (backend, step, grads, result, error);
}

gboolean
facet_backend_mae_step (FacetBackend       *backend,
                        const FacetMaeStep *step,
                        FacetGrads         *grads,
                        FacetMaeStepResult *result,
                        GError            **error)
{
  g_return_val_if_fail (backend != NULL && step != NULL && grads != NULL, FALSE);

  if (backend->vtable->mae_step == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "the %s backend cannot pre-train; use the CPU backend", backend->vtable->name);
      return FALSE;
    }
  return backend->vtable->mae_step (backend, step, grads, result, error);
}

/* As the release: len_keep = int(L * (1 - mask_ratio)). */
int
facet_mae_keep_count (int   patches,
                      float mask_ratio)
{
  return (int) ((double) patches * (1.0 - (double) mask_ratio));
}

gboolean
facet_backend_heads_step (FacetBackend         *backend,
                          const FacetHeadsStep *step,
                          FacetGrads           *grads,
                          FacetTrainStepResult *result,
                          GError              **error)
{
  g_return_val_if_fail (backend != NULL && step != NULL && grads != NULL, FALSE);

  if (backend->vtable->heads_step == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                   "the %s backend cannot train; use the CPU backend", backend->vtable->name);
      return FALSE;
    }
  return backend->vtable->heads_step (backend, step, grads, result, error);
}

/* Gradients ----------------------------------------------------------------- */

struct _FacetGrads
{
  GPtrArray  *names;  /* char*, model order */
  GHashTable *by_name; /* name -> float* (aligned) */
  GHashTable *sizes;   /* name -> numel (as pointer-sized integer) */
};

/**
 * facet_grads_new:
 * @trainable: (nullable): decides per tensor name; NULL means all
 *
 * Zeroed gradient buffers for the trainable tensors of @model.
 */
FacetGrads *
facet_grads_new (FacetModel *model,
                 gboolean  (*trainable) (const char *name,
                                         gpointer    data),
                 gpointer    data)
{
  FacetGrads *g = g_new0 (FacetGrads, 1);
  GPtrArray *tensors = facet_model_get_tensors (model);

  g->names = g_ptr_array_new_with_free_func (g_free);
  g->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_aligned_free);
  g->sizes = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (tensors, i);
      char *name;
      gint64 n = facet_tensor_numel (t);

      if (trainable != NULL && !trainable (t->name, data))
        continue;
      name = g_strdup (t->name);
      g_ptr_array_add (g->names, name);
      g_hash_table_insert (g->by_name, name, g_aligned_alloc0 ((gsize) MAX (n, 1), sizeof (float), 64));
      g_hash_table_insert (g->sizes, name, GSIZE_TO_POINTER ((gsize) n));
    }
  return g;
}

void
facet_grads_free (FacetGrads *grads)
{
  if (grads == NULL)
    return;
  g_hash_table_unref (grads->by_name);
  g_hash_table_unref (grads->sizes);
  g_ptr_array_unref (grads->names);
  g_free (grads);
}

typedef struct
{
  float *x;
  gsize  n;
  guint  parts;
} ZeroJob;

static void
zero_part (guint    index,
           gpointer data)
{
  const ZeroJob *j = data;
  gsize lo = j->n * index / j->parts, hi = j->n * (index + 1) / j->parts;

  memset (j->x + lo, 0, sizeof (float) * (hi - lo));
}

void
facet_grads_zero (FacetGrads *grads)
{
  guint threads = facet_parallel_get_threads ();

  for (guint i = 0; i < grads->names->len; i++)
    {
      const char *name = g_ptr_array_index (grads->names, i);
      ZeroJob job = {
        .x = g_hash_table_lookup (grads->by_name, name),
        .n = GPOINTER_TO_SIZE (g_hash_table_lookup (grads->sizes, name)),
        .parts = threads,
      };

      /* a ViT-B's gradients are 344 MB: one core alone took 2 % of a bf16
       * training step to clear them */
      if (threads > 1 && job.n >= 65536)
        facet_parallel_for (job.parts, zero_part, &job);
      else
        memset (job.x, 0, sizeof (float) * job.n);
    }
}

/* The gradient buffer of tensor @name, or NULL when it is frozen. */
float *
facet_grads_get (FacetGrads *grads,
                 const char *name)
{
  return g_hash_table_lookup (grads->by_name, name);
}

GPtrArray *
facet_grads_get_names (FacetGrads *grads)
{
  return grads->names;
}

/* Global L2 norm over every buffer (for gradient clipping). */
double
facet_grads_norm (FacetGrads *grads)
{
  double sum = 0.0;

  for (guint i = 0; i < grads->names->len; i++)
    {
      const char *name = g_ptr_array_index (grads->names, i);
      const float *g = g_hash_table_lookup (grads->by_name, name);
      gsize n = GPOINTER_TO_SIZE (g_hash_table_lookup (grads->sizes, name));
      for (gsize j = 0; j < n; j++)
        sum += (double) g[j] * g[j];
    }
  return sqrt (sum);
}

void
facet_grads_scale (FacetGrads *grads,
                   float       factor)
{
  for (guint i = 0; i < grads->names->len; i++)
    {
      const char *name = g_ptr_array_index (grads->names, i);
      float *g = g_hash_table_lookup (grads->by_name, name);
      gsize n = GPOINTER_TO_SIZE (g_hash_table_lookup (grads->sizes, name));
      for (gsize j = 0; j < n; j++)
        g[j] *= factor;
    }
}
