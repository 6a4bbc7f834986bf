/* engine-backend.c — backend registry, forward results, op descriptions */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <string.h>

#include "engine-backend.h"
#include "engine-error.h"

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
      FacetBackend *vk = facet_vulkan_backend_new (NULL);
      if (vk != NULL)
        return vk;
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
