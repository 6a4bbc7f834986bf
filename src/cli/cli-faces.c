/* cli-faces.c — facet-cli faces: the faces of an image, or the followed
 * face of one video frame, with landmarks and the model crop's transform */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "media/facet-media.h"

/* Tracking needs a history: frame N of a video is found by following the
 * person through up to this many frames before it. */
#define WARM_UP_FRAMES 30

typedef struct
{
  FacetFaceStatus status;
  FacetFace       face;
  float           quality;   /* < 0: not measured (single images) */
  gboolean        has_crop;
  double          transform[6];
} FaceReport;

static void
append_face_json (GString          *out,
                  const FaceReport *r)
{
  float box[4] = { r->face.x, r->face.y, r->face.width, r->face.height };

  g_string_append (out, "{\"status\":");
  facet_cli_json_string (out, facet_face_status_to_string (r->status));
  g_string_append (out, ",\"box\":");
  facet_cli_json_floats (out, box, 4);
  g_string_append (out, ",\"score\":");
  facet_cli_json_float (out, r->face.score);
  if (r->quality >= 0.0f)
    {
      g_string_append (out, ",\"quality\":");
      facet_cli_json_float (out, r->quality);
    }
  g_string_append (out, ",\"landmarks\":");
  facet_cli_json_floats (out, r->face.landmarks, 2 * FACET_FACE_N_LANDMARKS);
  g_string_append (out, ",\"transform\":");
  if (r->has_crop)
    {
      g_string_append_c (out, '[');
      for (int k = 0; k < 6; k++)
        {
          if (k)
            g_string_append_c (out, ',');
          facet_cli_json_float (out, r->transform[k]);
        }
      g_string_append_c (out, ']');
    }
  else
    g_string_append (out, "null");
  g_string_append_c (out, '}');
}

static void
print_report (const char             *file,
              gint64                  frame,
              const FacetImage       *image,
              const FacetModelConfig *config,
              FacetFaceStatus         status,
              const FaceReport       *reports,
              guint                   n,
              gboolean                json)
{
  if (json)
    {
      GString *out = g_string_new ("{\"file\":");

      facet_cli_json_string (out, file);
      if (frame >= 0)
        g_string_append_printf (out, ",\"frame\":%" G_GINT64_FORMAT, frame);
      g_string_append_printf (out, ",\"width\":%d,\"height\":%d,\"crop\":", image->width,
                              image->height);
      facet_cli_json_string (out, facet_crop_kind_to_string (config->crop));
      g_string_append_printf (out, ",\"size\":%d,\"status\":", config->image_size);
      facet_cli_json_string (out, facet_face_status_to_string (status));
      g_string_append (out, ",\"faces\":[");
      for (guint i = 0; i < n; i++)
        {
          if (i)
            g_string_append_c (out, ',');
          append_face_json (out, &reports[i]);
        }
      g_string_append (out, "]}");
      puts (out->str);
      g_string_free (out, TRUE);
      return;
    }

  if (frame >= 0)
    printf ("%s frame %" G_GINT64_FORMAT ": %s\n", file, frame,
            facet_face_status_to_string (status));
  else
    printf ("%s: %s, %u face%s\n", file, facet_face_status_to_string (status), n,
            n == 1 ? "" : "s");
  for (guint i = 0; i < n; i++)
    {
      float p[10];

      facet_face_alignment_points (&reports[i].face, p);
      printf ("  face %u: %s, box %.0f,%.0f %.0fx%.0f, score %.2f, eyes (%.1f, %.1f) (%.1f, %.1f)",
              i, facet_face_status_to_string (reports[i].status), reports[i].face.x,
              reports[i].face.y, reports[i].face.width, reports[i].face.height,
              reports[i].face.score, p[0], p[1], p[2], p[3]);
      if (reports[i].quality >= 0.0f)
        printf (", quality %.2f", reports[i].quality);
      printf ("\n");
    }
}

static gboolean
is_image_file (const char *path)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);

  return g_file_test (path, G_FILE_TEST_IS_REGULAR)
         && (g_str_has_suffix (lower, ".png") || g_str_has_suffix (lower, ".jpg")
             || g_str_has_suffix (lower, ".jpeg"));
}

static gboolean
save_crop (FacetImage  *crop,
           const char  *path,
           GError     **error)
{
  if (path == NULL)
    return TRUE;
  if (crop == NULL)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "%s not written: there is no face to crop", path);
      return FALSE;
    }
  return facet_image_save_png (crop, path, error);
}

static int
faces_in_image (const char             *path,
                FacetFaceDetector      *detector,
                const FacetModelConfig *config,
                float                   min_size,
                const char             *out_path,
                gboolean                json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) image = facet_image_load (path, &error);
  g_autoptr (GArray) faces = NULL;
  g_autofree FaceReport *reports = NULL;
  g_autoptr (FacetImage) first_crop = NULL;
  FacetFaceStatus status = FACET_FACE_STATUS_NONE;

  if (image == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  faces = facet_face_detector_detect (detector, image, &error);
  if (faces == NULL)
    {
      g_prefix_error (&error, "%s: ", path);
      return facet_cli_fail (g_steal_pointer (&error));
    }

  reports = g_new0 (FaceReport, MAX (faces->len, 1));
  for (guint i = 0; i < faces->len; i++)
    {
      FaceReport *r = &reports[i];

      r->face = g_array_index (faces, FacetFace, i);
      r->quality = -1.0f;
      if (r->face.width < min_size)
        {
          r->status = FACET_FACE_STATUS_TOO_SMALL;
          if (status == FACET_FACE_STATUS_NONE)
            status = FACET_FACE_STATUS_TOO_SMALL;
          continue;
        }
      r->status = FACET_FACE_STATUS_FOUND;
      status = FACET_FACE_STATUS_FOUND;
      r->has_crop = TRUE;
      {
        g_autoptr (FacetImage) crop
          = facet_face_crop (image, &r->face, facet_model_config_crop (config), r->transform);
        if (first_crop == NULL)
          first_crop = g_steal_pointer (&crop);
      }
    }

  print_report (path, -1, image, config, status, reports, faces->len, json);
  if (!save_crop (first_crop, out_path, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

static int
faces_in_video (const char             *path,
                double                  folder_fps,
                gint64                  frame,
                FacetFaceDetector      *detector,
                const FacetModelConfig *config,
                float                   min_size,
                const char             *select,
                const char             *out_path,
                gboolean                json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = facet_media_source_open (path, folder_fps, &error);
  g_autoptr (FacetMediaReader) reader = NULL;
  g_autoptr (FacetFaceTracker) tracker = NULL;
  g_autoptr (FacetImage) target = NULL;
  g_autoptr (FacetImage) crop = NULL;
  FacetFaceResult result = { 0 };
  FaceReport report = { 0 };
  const FacetMediaInfo *info;
  gint64 start;

  if (source == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  info = facet_media_source_get_info (source);
  if (frame < 0 || frame >= info->n_frames)
    return facet_cli_failf ("%s: frame %" G_GINT64_FORMAT
                            " is outside the video (0-%" G_GINT64_FORMAT ")",
                            path, frame, info->n_frames - 1);

  tracker = facet_face_tracker_new (detector, facet_model_config_crop (config));
  facet_face_tracker_set_min_size (tracker, min_size);
  if (select != NULL)
    {
      g_auto (GStrv) xy = g_strsplit (select, ",", 2);
      char *end_x = NULL, *end_y = NULL;
      double x, y;

      if (g_strv_length (xy) != 2)
        return facet_cli_failf ("--select “%s” is not X,Y", select);
      x = g_ascii_strtod (xy[0], &end_x);
      y = g_ascii_strtod (xy[1], &end_y);
      if (end_x == xy[0] || *end_x != '\0' || end_y == xy[1] || *end_y != '\0')
        return facet_cli_failf ("--select “%s” is not X,Y", select);
      facet_face_tracker_select (tracker, (float) x, (float) y);
    }

  start = MAX (frame - WARM_UP_FRAMES, 0);
  reader = facet_media_reader_new (source, start, 1, &error);
  if (reader == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  for (;;)
    {
      g_autoptr (FacetImage) image = NULL;
      gint64 index = -1;

      image = facet_media_reader_next (reader, &index, &error);
      if (image == NULL)
        {
          /* A damaged frame before the one asked for only shortens the
           * tracking history. */
          if (error != NULL && g_error_matches (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME)
              && index < frame)
            {
              g_clear_error (&error);
              facet_face_tracker_reset (tracker);
              continue;
            }
          if (error == NULL)
            return facet_cli_failf ("%s: the video ended before frame %" G_GINT64_FORMAT, path,
                                    frame);
          return facet_cli_fail (g_steal_pointer (&error));
        }
      g_clear_pointer (&crop, facet_image_unref);
      crop = facet_face_tracker_process (tracker, image, &result, &error);
      if (error != NULL)
        {
          g_prefix_error (&error, "%s frame %" G_GINT64_FORMAT ": ", path, index);
          return facet_cli_fail (g_steal_pointer (&error));
        }
      if (index >= frame)
        {
          target = g_steal_pointer (&image);
          break;
        }
    }

  report.status = result.status;
  report.face = result.face;
  report.quality = result.quality;
  report.has_crop = crop != NULL;
  memcpy (report.transform, result.transform, sizeof report.transform);
  print_report (path, frame, target, config, result.status, &report,
                result.status == FACET_FACE_STATUS_NONE ? 0 : 1, json);
  if (!save_crop (crop, out_path, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

int
facet_cli_faces (int    argc,
                 char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (
    "IMAGE|VIDEO|FOLDER — faces, 68 landmarks and the model crop's transform");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceDetector) detector = NULL;
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autofree char *crop_name = NULL, *select = NULL, *out_path = NULL, *landmarks = NULL;
  gint64 frame = 0;
  gboolean json = FALSE, no_second_look = FALSE;
  int size = 224, upsample = -1;
  double margin = 0.05, min_size = 40.0, fps = 30.0, threshold = 0.2;
  GOptionEntry entries[]
    = { { "frame", 0, 0, G_OPTION_ARG_INT64, &frame, "Video frame (from 0; default 0)", "N" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object", NULL },
        { "crop", 0, 0, G_OPTION_ARG_STRING, &crop_name,
          "Crop convention: box, aligned or none (default box)", "KIND" },
        { "size", 0, 0, G_OPTION_ARG_INT, &size, "Crop side in pixels (default 224)", "PX" },
        { "margin", 0, 0, G_OPTION_ARG_DOUBLE, &margin,
          "Box crop margin on each side (default 0.05)", "F" },
        { "min-size", 0, 0, G_OPTION_ARG_DOUBLE, &min_size,
          "Smallest usable face width (default 40)", "PX" },
        { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold, "Lowest detector score (default 0.2)",
          "S" },
        { "upsample", 0, 0, G_OPTION_ARG_INT, &upsample,
          "Detector upsampling 0-2 (default: when needed)", "N" },
        { "no-second-look", 0, 0, G_OPTION_ARG_NONE, &no_second_look,
          "dlib's detector alone: no second look at faint faces in a contrast-normalised copy",
          NULL },
        { "select", 0, 0, G_OPTION_ARG_STRING, &select,
          "Follow the person at this point of the first frame", "X,Y" },
        { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &fps, "Frame rate of an image folder (default 30)",
          "F" },
        { "landmarks", 0, 0, G_OPTION_ARG_FILENAME, &landmarks,
          "dlib 68-point model (default: Debian's)", "FILE" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path,
          "Write the (first or followed) face's crop as PNG", "FILE" },
        { NULL } };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("faces needs one image, video or image folder (see --help)");
  if (crop_name != NULL && !facet_crop_kind_from_string (crop_name, &config->crop))
    return facet_cli_failf ("unknown crop “%s” (box, aligned or none)", crop_name);
  if (size < 16 || size > 4096)
    return facet_cli_failf ("--size %d is out of range (16-4096)", size);
  if (!(margin >= 0.0 && margin <= 2.0))
    return facet_cli_failf ("--margin %g is out of range (0-2)", margin);
  if (!(min_size >= 0.0))
    return facet_cli_failf ("--min-size must not be negative");
  if (upsample < -1 || upsample > 2)
    return facet_cli_failf ("--upsample %d is out of range (0-2)", upsample);
  if (!(fps > 0.0))
    return facet_cli_failf ("--fps must be positive");
  config->image_size = size;
  config->crop_margin = (float) margin;

  detector = facet_face_detector_new (landmarks, &error);
  if (detector == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  facet_face_detector_set_upsample (detector, upsample);
  facet_face_detector_set_threshold (detector, threshold);
  facet_face_detector_set_normalise (detector, !no_second_look);

  if (is_image_file (argv[1]))
    return faces_in_image (argv[1], detector, config, (float) min_size, out_path, json);
  return faces_in_video (argv[1], fps, frame, detector, config, (float) min_size, select, out_path,
                         json);
}
