/* media-synth-video.c — a synthetic face video and its label file */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <glib/gstdio.h>

#include "facet-media.h"
#include "media-synth.h"

/**
 * facet_synth_write_video:
 *
 * Frames are drawn one after another on the calling thread (Cairo's
 * rendering is deterministic, and so is the writer's encoding), so the
 * same subject, timeline, size and codec give the same file. On failure
 * nothing is left under @path or the label path.
 */
gboolean
facet_synth_write_video (const FacetSynthSubject  *subject,
                         const FacetSynthTimeline *timeline,
                         const char               *path,
                         int                       size,
                         const char               *codec,
                         FacetProgressFunc         progress,
                         gpointer                  progress_data,
                         GCancellable             *cancellable,
                         GError                  **error)
{
  g_autoptr (FacetMediaWriter) writer = NULL;
  g_autofree char *labels = NULL, *regions = NULL;
  FacetMediaWriterOptions options = FACET_MEDIA_WRITER_OPTIONS_INIT;
  gint64 n_frames;
  double fps;
  int every;

  g_return_val_if_fail (subject != NULL && timeline != NULL && path != NULL, FALSE);

  if (size < 16 || size > 4096)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE,
                   "%s: frame size %d is out of range (16-4096)", path, size);
      return FALSE;
    }

  n_frames = facet_synth_timeline_get_n_frames (timeline);
  fps = facet_synth_timeline_get_fps (timeline);
  options.quality = facet_synth_timeline_get_condition (timeline)->quality;
  writer = facet_media_writer_new_full (path, size, size, fps, codec ? codec : "h264", &options,
                                        error);
  if (writer == NULL)
    return FALSE;

  every = MAX (1, (int) fps);
  for (gint64 f = 0; f < n_frames; f++)
    {
      float au[FACET_SYNTH_N_AUS];
      FacetSynthPose pose;
      g_autoptr (FacetImage) image = NULL;

      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_CANCELLED,
                       "%s: cancelled at frame %" G_GINT64_FORMAT, path, f);
          return FALSE;
        }
      facet_synth_timeline_get (timeline, f, au, &pose);
      image = facet_synth_render (subject, au, &pose, size);
      if (!facet_media_writer_add (writer, image, error))
        return FALSE;
      if (progress != NULL && (f % every == 0 || f == n_frames - 1))
        progress ((double) (f + 1) / n_frames, NULL, progress_data);
    }
  if (!facet_media_writer_finish (writer, error))
    return FALSE;

  labels = facet_synth_labels_path (path);
  if (!facet_synth_timeline_write_labels (timeline, labels, error))
    {
      /* a video without its labels would be mistaken for a complete one */
      g_unlink (path);
      return FALSE;
    }
  regions = facet_synth_regions_path (path);
  if (!facet_synth_write_regions (subject, timeline, regions, error))
    {
      g_unlink (path);
      g_unlink (labels);
      return FALSE;
    }
  return TRUE;
}
