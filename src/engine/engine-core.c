/* engine-core.c — FacetEngine: a model on a backend, fed with images */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <string.h>

#include "engine-core.h"
#include "engine-error.h"

struct _FacetEngine
{
  FacetModel   *model;
  FacetBackend *backend;
  char         *notice;
};

/**
 * facet_engine_new:
 * @backend: "cpu", "vulkan" or "auto"; NULL means "cpu"
 *
 * Puts @model on a backend. When "auto" or "vulkan" cannot be had, the CPU
 * is used instead and facet_engine_get_notice() says why; an explicit
 * "vulkan" that fails to load the model falls back the same way.
 */
FacetEngine *
facet_engine_new (FacetModel *model,
                  const char *backend,
                  GError    **error)
{
  g_autoptr (GError) local = NULL;
  FacetEngine *engine;
  FacetBackend *be;

  g_return_val_if_fail (model != NULL, NULL);

  engine = g_new0 (FacetEngine, 1);
  engine->model = facet_model_ref (model);

  be = facet_backend_new (backend, &local);
  if (be == NULL)
    {
      if (!g_error_matches (local, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND)
          || g_strcmp0 (backend, "vulkan") != 0)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          facet_engine_free (engine);
          return NULL;
        }
      engine->notice = g_strdup_printf ("Vulkan is not available (%s); using the CPU",
                                        local->message);
      g_clear_error (&local);
      be = facet_cpu_backend_new ();
    }

  if (!facet_backend_load_model (be, model, &local))
    {
      if (g_str_equal (facet_backend_get_name (be), "cpu"))
        {
          facet_backend_free (be);
          g_propagate_error (error, g_steal_pointer (&local));
          facet_engine_free (engine);
          return NULL;
        }
      g_free (engine->notice);
      engine->notice = g_strdup_printf ("the %s backend could not load the model (%s); using "
                                        "the CPU", facet_backend_get_name (be), local->message);
      g_clear_error (&local);
      facet_backend_free (be);
      be = facet_cpu_backend_new ();
      if (!facet_backend_load_model (be, model, error))
        {
          facet_backend_free (be);
          facet_engine_free (engine);
          return NULL;
        }
    }
  if (facet_backend_get_default_precision () == FACET_PRECISION_BF16
      && facet_backend_get_precision (be) != FACET_PRECISION_BF16)
    {
      const char *why = g_str_equal (facet_backend_get_name (be), "cpu")
                          ? "this processor has no AVX512-BF16 (or FACET_CPU_FEATURES switches it off)"
                          : "the backend has no bf16 products";
      char *old = engine->notice;
      engine->notice = g_strdup_printf ("%s%sbf16 was asked for but %s; using fp32",
                                        old ? old : "", old ? "; " : "", why);
      g_free (old);
    }
  engine->backend = be;
  return engine;
}

void
facet_engine_free (FacetEngine *engine)
{
  if (engine == NULL)
    return;
  facet_backend_free (engine->backend);
  facet_model_unref (engine->model);
  g_free (engine->notice);
  g_free (engine);
}

FacetModel *
facet_engine_get_model (FacetEngine *engine)
{
  return engine->model;
}

FacetBackend *
facet_engine_get_backend (FacetEngine *engine)
{
  return engine->backend;
}

/* Why the engine is not on the backend that was asked for, or NULL. */
const char *
facet_engine_get_notice (FacetEngine *engine)
{
  return engine->notice;
}

/**
 * facet_engine_prepare_image:
 * @out: 3 * size * size floats
 *
 * Resizes a face crop to the model input (unless it already has that size)
 * and normalises it with the model's mean and std.
 */
void
facet_engine_prepare_image (FacetEngine      *engine,
                            const FacetImage *image,
                            float            *out)
{
  const FacetModelConfig *c = facet_model_get_config (engine->model);

  if (image->width == c->image_size && image->height == c->image_size)
    facet_image_to_tensor (image, c->mean, c->std, out);
  else
    {
      g_autoptr (FacetImage) resized = facet_image_resize (image, c->image_size, c->image_size);
      facet_image_to_tensor (resized, c->mean, c->std, out);
    }
}

gboolean
facet_engine_forward (FacetEngine        *engine,
                      const float        *input,
                      guint               batch,
                      FacetForwardFlags   flags,
                      FacetForwardResult *result,
                      GError            **error)
{
  g_return_val_if_fail (engine != NULL, FALSE);
  return facet_backend_forward (engine->backend, input, batch, flags, result, error);
}

/**
 * facet_engine_predict_images:
 *
 * Runs face crops through the model in one batch.
 */
FacetForwardResult *
facet_engine_predict_images (FacetEngine      *engine,
                             FacetImage      **images,
                             guint             n_images,
                             FacetForwardFlags flags,
                             GError          **error)
{
  const FacetModelConfig *c;
  g_autoptr (FacetForwardResult) result = NULL;
  g_autofree float *input = NULL;
  gsize per;

  g_return_val_if_fail (engine != NULL, NULL);
  g_return_val_if_fail (images != NULL || n_images == 0, NULL);

  c = facet_model_get_config (engine->model);
  per = 3 * (gsize) c->image_size * c->image_size;
  input = g_new (float, MAX (per * n_images, 1));
  for (guint i = 0; i < n_images; i++)
    facet_engine_prepare_image (engine, images[i], input + per * i);

  result = facet_forward_result_new (c, n_images, flags);
  if (!facet_engine_forward (engine, input, n_images, flags, result, error))
    return NULL;
  return g_steal_pointer (&result);
}
