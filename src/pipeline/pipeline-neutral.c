/* pipeline-neutral.c — a person's neutral frames, for the change-from-neutral
 * map (facet-pipeline.h)
 *
 * FACS codes a face by how it differs from the same face at rest. The
 * change-from-neutral map (FACET_MAP_NEUTRAL) needs such a frame of the
 * person on screen; here it is chosen as the model sees it, without labels:
 * of the analysed frames of the video, those whose AU probabilities sum
 * lowest, at most one a second so that they are different moments; of
 * these, the one nearest in appearance to the frame explained (pose,
 * light), which leaves the expression as the main difference.
 */
#define G_LOG_DOMAIN "facet-pipeline"

#include "config.h"

#include <math.h>
#include <string.h>

#include "face/facet-face.h"
#include "media/facet-media.h"
#include "facet-pipeline.h"

int
facet_neutral_pick (const gint64 *frames,
                    const double *calm,
                    gsize         n,
                    gint64        spacing,
                    int           want,
                    gsize        *picked)
{
  int got = 0;

  g_return_val_if_fail (n == 0 || (frames != NULL && calm != NULL), 0);
  g_return_val_if_fail (want <= 0 || picked != NULL, 0);

  while (got < want)
    {
      gsize best = n;
      for (gsize i = 0; i < n; i++)
        {
          gboolean near = FALSE;
          if (!isfinite (calm[i]) || (best < n && calm[i] >= calm[best]))
            continue;
          for (int j = 0; j < got && !near; j++)
            near = i == picked[j] || ABS (frames[i] - frames[picked[j]]) < spacing;
          if (!near)
            best = i;
        }
      if (best == n)
        break;
      picked[got++] = best;
    }
  return got;
}

int
facet_neutral_nearest (const float *candidates,
                       int          n,
                       gsize        per,
                       const float *input)
{
  double best = G_MAXDOUBLE;
  int pick = -1;

  g_return_val_if_fail (n <= 0 || (candidates != NULL && input != NULL), -1);

  for (int i = 0; i < n; i++)
    {
      const float *y = candidates + per * i;
      double d = 0.0;
      for (gsize j = 0; j < per; j++)
        d += (double) (y[j] - input[j]) * (y[j] - input[j]);
      /* The frame itself is no reference: nothing would change. */
      if (d > 0.0 && d < best)
        {
          best = d;
          pick = i;
        }
    }
  return pick;
}

void
facet_neutral_frames_free (FacetNeutralFrames *set)
{
  if (set == NULL)
    return;
  g_free (set->frames);
  g_free (set->inputs);
  g_free (set);
}

FacetNeutralFrames *
facet_neutral_frames_load (FacetStore   *store,
                           gint64        model_id,
                           gint64        video_id,
                           FacetEngine  *engine,
                           int           want,
                           GCancellable *cancellable,
                           GError      **error)
{
  const FacetModelConfig *c;
  g_autoptr (FacetPredictionSet) set = NULL;
  g_autoptr (FacetStoreVideo) video = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autofree char *path = NULL;
  g_autofree double *calm = NULL;
  g_autofree gsize *picked = NULL;
  FacetNeutralFrames *out;
  gsize per;
  int n;

  g_return_val_if_fail (store != NULL && engine != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  c = facet_model_get_config (facet_engine_get_model (engine));
  per = 3 * (gsize) c->image_size * c->image_size;
  video = facet_store_get_video (store, video_id, error);
  if (video == NULL)
    return NULL;
  set = facet_store_get_predictions (store, model_id, video_id, 0, -1, error);
  if (set == NULL)
    return NULL;

  calm = g_new (double, MAX (set->n, 1));
  for (gsize i = 0; i < set->n; i++)
    {
      calm[i] = 0.0;
      for (int a = 0; a < set->n_aus; a++)
        calm[i] += set->probs[i * set->n_aus + a]; /* NAN without a face */
    }
  picked = g_new (gsize, MAX (want, 1));
  n = facet_neutral_pick (set->frames, calm, set->n, MAX ((gint64) lround (video->fps), 1), want,
                          picked);

  out = g_new0 (FacetNeutralFrames, 1);
  out->frames = g_new (gint64, MAX (n, 1));
  out->inputs = g_new (float, per * MAX (n, 1));
  if (n == 0)
    return out;

  path = facet_store_resolve_video (store, video_id, error);
  if (path != NULL)
    source = facet_media_source_open (path, video->fps, error);
  if (source == NULL)
    {
      facet_neutral_frames_free (out);
      return NULL;
    }
  for (int i = 0; i < n; i++)
    {
      gint64 frame = set->frames[picked[i]];
      FacetFrameResult face;
      gboolean found = FALSE;
      g_autoptr (FacetImage) image = NULL;
      g_autoptr (FacetImage) crop = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error)
          || !facet_store_get_face (store, video_id, frame, &face, &found, error))
        {
          facet_neutral_frames_free (out);
          return NULL;
        }
      if (!found || (face.status == FACET_STORE_FACE_FOUND && !face.has_transform)
          || (face.status != FACET_STORE_FACE_FOUND && face.status != FACET_STORE_FACE_WHOLE))
        continue;
      image = facet_media_source_get_frame (source, frame, error);
      if (image == NULL)
        {
          g_prefix_error (error, "the neutral frame %" G_GINT64_FORMAT " of %s: ", frame, path);
          facet_neutral_frames_free (out);
          return NULL;
        }
      /* As the explainer crops the frame on screen. */
      crop = face.status == FACET_STORE_FACE_WHOLE
               ? facet_image_ref (image)
               : facet_face_warp (image, face.transform, c->image_size, c->image_size);
      facet_engine_prepare_image (engine, crop, out->inputs + per * out->n);
      out->frames[out->n++] = frame;
    }
  return out;
}
