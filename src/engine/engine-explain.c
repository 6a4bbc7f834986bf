/* engine-explain.c — evidence maps on demand (engine-explain.h)
 *
 * Rollout and the last-layer split are outputs of the forward; the
 * gradient methods are the backend's (the CPU backend's backward pass,
 * cpu-explain.c); occlusion is done here, with batched forwards of copies
 * of the image in which one window of patches is hidden.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "engine-error.h"
#include "engine-explain.h"

static const struct
{
  const char *id;
  const char *title;
} methods[FACET_MAP_N_METHODS] = {
  [FACET_MAP_ROLLOUT] = { "rollout", "Attention rollout" },
  [FACET_MAP_LAST_LAYER] = { "last-layer", "Last-layer split" },
  [FACET_MAP_GRAD_ATTENTION] = { "grad-attention", "Gradient-weighted attention" },
  [FACET_MAP_INPUT_X_GRADIENT] = { "input-x-gradient", "Input × gradient" },
  [FACET_MAP_OCCLUSION] = { "occlusion", "Occlusion" },
  [FACET_MAP_NEUTRAL] = { "neutral", "Change from neutral" },
};

void
facet_map_options_init (FacetMapOptions *options)
{
  g_return_if_fail (options != NULL);
  memset (options, 0, sizeof *options);
  /* The fill and the unit that pointed best in bench/maps with the
   * deletion test still met (docs/engine.md). */
  options->fill = FACET_OCCLUSION_FILL_IMAGE_MEAN;
  options->window = 1;
  options->cells = 1;
  options->probability = TRUE;
  options->batch = 16;
}

const char *
facet_map_method_to_string (FacetMapMethod method)
{
  g_return_val_if_fail (method < FACET_MAP_N_METHODS, NULL);
  return methods[method].id;
}

gboolean
facet_map_method_from_string (const char     *text,
                              FacetMapMethod *method)
{
  g_return_val_if_fail (method != NULL, FALSE);
  for (int i = 0; i < FACET_MAP_N_METHODS && text != NULL; i++)
    if (g_str_equal (text, methods[i].id))
      {
        *method = (FacetMapMethod) i;
        return TRUE;
      }
  return FALSE;
}

const char *
facet_map_method_get_title (FacetMapMethod method)
{
  g_return_val_if_fail (method < FACET_MAP_N_METHODS, NULL);
  return methods[method].title;
}

gboolean
facet_map_method_is_per_au (FacetMapMethod method)
{
  return method != FACET_MAP_ROLLOUT;
}

gboolean
facet_map_method_is_slow (FacetMapMethod method)
{
  return method == FACET_MAP_OCCLUSION || method == FACET_MAP_NEUTRAL;
}

void
facet_map_normalise (float *map,
                     int    n)
{
  float top = 0.0f;

  g_return_if_fail (map != NULL || n == 0);
  for (int i = 0; i < n; i++)
    top = MAX (top, fabsf (map[i]));
  if (top == 0.0f || !isfinite (top))
    return;
  for (int i = 0; i < n; i++)
    map[i] /= top;
}

void
facet_map_hide_patches (const FacetModelConfig *c,
                        const float            *input,
                        const gboolean         *hide,
                        FacetOcclusionFill      fill,
                        const float            *reference,
                        float                  *output)
{
  facet_map_hide_cells (c, input, hide, 1, fill, reference, output);
}

void
facet_map_hide_cells (const FacetModelConfig *c,
                      const float            *input,
                      const gboolean         *hide,
                      int                     cells,
                      FacetOcclusionFill      fill,
                      const float            *reference,
                      float                  *output)
{
  int s = c->image_size, p, g;
  gsize plane = (gsize) s * s;
  float image_mean[3] = { 0 };

  g_return_if_fail (input != NULL && hide != NULL && output != NULL);
  g_return_if_fail (fill != FACET_OCCLUSION_FILL_REFERENCE || reference != NULL);
  g_return_if_fail (cells >= 1 && c->patch_size % cells == 0);

  p = c->patch_size / cells;
  g = facet_model_config_grid (c) * cells;
  if (output != input)
    memcpy (output, input, sizeof (float) * 3 * plane);
  if (fill == FACET_OCCLUSION_FILL_IMAGE_MEAN)
    for (int ch = 0; ch < 3; ch++)
      {
        double sum = 0.0;
        for (gsize i = 0; i < plane; i++)
          sum += input[ch * plane + i];
        image_mean[ch] = (float) (sum / plane);
      }
  for (int q = 0; q < g * g; q++)
    {
      int y0 = (q / g) * p, x0 = (q % g) * p;
      if (!hide[q])
        continue;
      for (int ch = 0; ch < 3; ch++)
        {
          float v = 0.0f;
          float *dst = output + ch * plane;
          if (fill == FACET_OCCLUSION_FILL_REFERENCE)
            {
              for (int y = y0; y < y0 + p; y++)
                memcpy (dst + (gsize) y * s + x0, reference + ch * plane + (gsize) y * s + x0,
                        sizeof (float) * p);
              continue;
            }
          if (fill == FACET_OCCLUSION_FILL_IMAGE_MEAN)
            v = image_mean[ch];
          else if (fill == FACET_OCCLUSION_FILL_PATCH_MEAN)
            {
              double sum = 0.0;
              for (int y = y0; y < y0 + p; y++)
                for (int x = x0; x < x0 + p; x++)
                  sum += input[ch * plane + (gsize) y * s + x];
              v = (float) (sum / ((double) p * p));
            }
          for (int y = y0; y < y0 + p; y++)
            for (int x = x0; x < x0 + p; x++)
              dst[(gsize) y * s + x] = v;
        }
    }
}

int
facet_map_side (const FacetModelConfig *c,
                const FacetMapOptions  *options)
{
  g_return_val_if_fail (c != NULL, 0);
  return facet_model_config_grid (c) * (options != NULL ? MAX (options->cells, 1) : 1);
}

/* Occlusion: for each position of the map's grid (patches, or cells of
 * @o->cells x @o->cells per patch) a window of @window x @window cells
 * (centred, clipped at the border) is hidden; each cell's value is the
 * mean drop over the windows that hid it. */
static gboolean
occlusion (FacetEngine           *engine,
           const float           *input,
           const int             *aus,
           int                    n,
           const FacetMapOptions *o,
           float                 *maps,
           FacetProgressFunc      progress,
           gpointer               progress_data,
           GCancellable          *cancellable,
           GError               **error)
{
  const FacetModelConfig *c = facet_model_get_config (facet_engine_get_model (engine));
  int cells = MAX (o->cells, 1), g = facet_map_side (c, o), np = g * g, a = c->n_aus;
  int w = MAX (o->window, 1), lo = (w - 1) / 2;
  guint batch = CLAMP (o->batch, 1, 256);
  gsize per = 3 * (gsize) c->image_size * c->image_size;
  g_autoptr (FacetForwardResult) base = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
  g_autoptr (FacetForwardResult) out = facet_forward_result_new (c, batch, FACET_FORWARD_NONE);
  g_autofree float *images = g_new (float, per * batch);
  g_autofree gboolean *hide = g_new (gboolean, np);
  g_autofree double *sum = g_new0 (double, (gsize) np * a);
  g_autofree int *count = g_new0 (int, np);

  if (o->fill == FACET_OCCLUSION_FILL_REFERENCE && o->reference == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "occlusion by a reference frame needs the reference image");
      return FALSE;
    }
  if (!facet_engine_forward (engine, input, 1, FACET_FORWARD_NONE, base, error))
    return FALSE;
  for (int start = 0; start < np; start += (int) batch)
    {
      int m = MIN ((int) batch, np - start);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      for (int i = 0; i < m; i++)
        {
          int q = start + i, qy = q / g, qx = q % g;
          memset (hide, 0, sizeof (gboolean) * np);
          for (int y = MAX (qy - lo, 0); y < MIN (qy - lo + w, g); y++)
            for (int x = MAX (qx - lo, 0); x < MIN (qx - lo + w, g); x++)
              hide[y * g + x] = TRUE;
          facet_map_hide_cells (c, input, hide, cells, o->fill, o->reference, images + per * i);
        }
      if (!facet_engine_forward (engine, images, (guint) m, FACET_FORWARD_NONE, out, error))
        return FALSE;
      for (int i = 0; i < m; i++)
        {
          int q = start + i, qy = q / g, qx = q % g;
          const float *now = o->probability ? out->probs : out->logits;
          const float *was = o->probability ? base->probs : base->logits;
          for (int y = MAX (qy - lo, 0); y < MIN (qy - lo + w, g); y++)
            for (int x = MAX (qx - lo, 0); x < MIN (qx - lo + w, g); x++)
              {
                count[y * g + x]++;
                for (int j = 0; j < a; j++)
                  sum[(gsize) (y * g + x) * a + j] += was[j] - now[(gsize) i * a + j];
              }
        }
      if (progress != NULL)
        progress ((double) (start + m) / np, NULL, progress_data);
    }
  for (int k = 0; k < n; k++)
    for (int q = 0; q < np; q++)
      maps[(gsize) k * np + q] = (float) (sum[(gsize) q * a + aus[k]] / MAX (count[q], 1));
  return TRUE;
}

typedef struct
{
  FacetProgressFunc func;
  gpointer          data;
  double            offset;
} Half;

static void
on_half (double      fraction,
         const char *message,
         gpointer    data)
{
  Half *h = data;
  h->func (h->offset + 0.5 * fraction, message, h->data);
}

/* Occlusion against a reference both ways: this image with the
 * reference's patch (the drop), and the reference with this image's patch
 * (the rise, = minus its drop); each patch gets their mean. */
static gboolean
occlusion_both_ways (FacetEngine           *engine,
                     const float           *input,
                     const int             *aus,
                     int                    n,
                     const FacetMapOptions *o,
                     float                 *maps,
                     FacetProgressFunc      progress,
                     gpointer               progress_data,
                     GCancellable          *cancellable,
                     GError               **error)
{
  const FacetModelConfig *c = facet_model_get_config (facet_engine_get_model (engine));
  gsize size = (gsize) n * facet_map_side (c, o) * facet_map_side (c, o);
  g_autofree float *forth = g_new (float, size);
  g_autofree float *back = g_new (float, size);
  FacetMapOptions swapped = *o;
  Half half = { progress, progress_data, 0.0 };

  if (!occlusion (engine, input, aus, n, o, forth, progress ? on_half : NULL, &half, cancellable,
                  error))
    return FALSE;
  swapped.reference = input;
  half.offset = 0.5;
  if (!occlusion (engine, o->reference, aus, n, &swapped, back, progress ? on_half : NULL, &half,
                  cancellable, error))
    return FALSE;
  for (gsize i = 0; i < size; i++)
    maps[i] = 0.5f * (forth[i] - back[i]);
  return TRUE;
}

gboolean
facet_engine_explain (FacetEngine           *engine,
                      const float           *input,
                      FacetMapMethod         method,
                      const int             *aus,
                      int                    n_aus,
                      const FacetMapOptions *options,
                      float                 *maps,
                      FacetProgressFunc      progress,
                      gpointer               progress_data,
                      GCancellable          *cancellable,
                      GError               **error)
{
  const FacetModelConfig *c;
  FacetBackend *backend;
  FacetMapOptions defaults;
  g_autofree int *all = NULL;
  int g2, n;

  g_return_val_if_fail (engine != NULL && input != NULL && maps != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  c = facet_model_get_config (facet_engine_get_model (engine));
  backend = facet_engine_get_backend (engine);
  g2 = facet_model_config_grid (c) * facet_model_config_grid (c);
  if (options == NULL)
    {
      facet_map_options_init (&defaults);
      options = &defaults;
    }
  if ((int) method < 0 || method >= FACET_MAP_N_METHODS)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "unknown map method %d", (int) method);
      return FALSE;
    }
  if (c->n_aus == 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "the model has no AU head: there is nothing to explain");
      return FALSE;
    }
  if (aus == NULL)
    {
      n = c->n_aus;
      all = g_new (int, n);
      for (int i = 0; i < n; i++)
        all[i] = i;
      aus = all;
    }
  else
    n = n_aus;
  for (int i = 0; i < n; i++)
    if (aus[i] < 0 || aus[i] >= c->n_aus)
      {
        g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                     "AU index %d is outside the model's %d AUs", aus[i], c->n_aus);
        return FALSE;
      }
  if (options->cells < 0 || options->cells > 4 || c->patch_size % MAX (options->cells, 1) != 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "a map of %d cells per patch side: the number must lie between 1 and 4 and "
                   "divide the model's %d-pixel patches", options->cells, c->patch_size);
      return FALSE;
    }
  if (options->cells > 1 && method != FACET_MAP_OCCLUSION && method != FACET_MAP_NEUTRAL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "only occlusion and change-from-neutral maps are finer than the patch grid; "
                   "%s maps have one value per patch", facet_map_method_to_string (method));
      return FALSE;
    }
  if (n == 0)
    return TRUE;

  switch (method)
    {
    case FACET_MAP_ROLLOUT:
    case FACET_MAP_LAST_LAYER:
      {
        gboolean rollout = method == FACET_MAP_ROLLOUT;
        FacetForwardFlags flags = rollout ? FACET_FORWARD_ATTENTION : FACET_FORWARD_AU_MAPS;
        g_autoptr (FacetForwardResult) r = NULL;

        if (!rollout && c->readout != FACET_READOUT_GLOBAL_POOL)
          {
            g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                         "the last-layer split needs a global-pool readout; this model reads "
                         "the class token");
            return FALSE;
          }
        r = facet_forward_result_new (c, 1, flags);
        if (!facet_engine_forward (engine, input, 1, flags, r, error))
          return FALSE;
        for (int i = 0; i < n; i++)
          memcpy (maps + (gsize) i * g2, rollout ? r->attention : r->au_maps + (gsize) aus[i] * g2,
                  sizeof (float) * g2);
        break;
      }
    case FACET_MAP_GRAD_ATTENTION:
    case FACET_MAP_INPUT_X_GRADIENT:
      if (backend->vtable->gradient_maps == NULL)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND,
                       "the %s backend has no backward pass for %s maps; use the CPU backend",
                       backend->vtable->name, facet_map_method_to_string (method));
          return FALSE;
        }
      /* One forward for all AUs; with progress, one AU at a time (a
       * forward each) so that it can be reported. */
      if (progress == NULL)
        return backend->vtable->gradient_maps (backend, input, method, aus, n, maps, cancellable,
                                               error);
      for (int i = 0; i < n; i++)
        {
          if (!backend->vtable->gradient_maps (backend, input, method, aus + i, 1,
                                               maps + (gsize) i * g2, cancellable, error))
            return FALSE;
          if (progress != NULL)
            progress ((double) (i + 1) / n, NULL, progress_data);
        }
      break;
    case FACET_MAP_OCCLUSION:
      return occlusion (engine, input, aus, n, options, maps, progress, progress_data, cancellable,
                        error);
    case FACET_MAP_NEUTRAL:
      {
        FacetMapOptions o = *options;

        if (o.reference == NULL)
          {
            g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                         "the change-from-neutral map needs a neutral frame of the same person "
                         "(the reference image)");
            return FALSE;
          }
        o.fill = FACET_OCCLUSION_FILL_REFERENCE;
        return occlusion_both_ways (engine, input, aus, n, &o, maps, progress, progress_data,
                                    cancellable, error);
      }
    case FACET_MAP_N_METHODS:
    default:
      g_assert_not_reached ();
    }
  return TRUE;
}
