/* cli-project.c — facet-cli init, add, status, labels, export and merge:
 * the project store from the command line */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "media/facet-media.h"
#include "store/facet-store.h"

static FacetStore *
open_project (const char *path,
              GError    **error)
{
  return facet_store_open (path, error);
}

/* "7" or "all" (0). */
static gboolean
parse_video (const char *text,
             gint64     *video,
             gboolean    allow_all)
{
  if (text == NULL)
    {
      *video = 0;
      return TRUE;
    }
  if (allow_all && g_str_equal (text, "all"))
    {
      *video = 0;
      return TRUE;
    }
  return g_ascii_string_to_signed (text, 10, 1, G_MAXINT64, video, NULL);
}

/* A model named on the command line for reading: its number in the
 * project, or a file the project knows (by content). */
static gint64
find_model (FacetStore *store,
            const char *spec,
            GError    **error)
{
  g_autofree char *sha = NULL;
  gint64 id;

  if (spec == NULL)
    return 0;
  if (g_ascii_string_to_signed (spec, 10, 1, G_MAXINT64, &id, NULL)
      && !g_file_test (spec, G_FILE_TEST_EXISTS))
    return id;
  sha = facet_file_sha256 (spec, error);
  if (sha == NULL)
    return -1;
  id = facet_store_find_model (store, sha, error);
  if (id == 0)
    g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                 "%s is not a model of %s (analyse with it first)", spec,
                 facet_store_get_path (store));
  return id > 0 ? id : -1;
}

/* ---- init ----------------------------------------------------------------------- */

/* Reading a coder's layer that was never written is a typing error more
 * often than an empty layer. */
static gboolean
layer_exists (FacetStore *store,
              const char *coder,
              GError    **error)
{
  g_auto (GStrv) layers = facet_store_list_layers (store, error);

  if (layers == NULL)
    return FALSE;
  if (g_strv_contains ((const char * const *) layers, coder))
    return TRUE;
  g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
               "%s: coder “%s” has no layer of their own (facet-cli labels layers lists them)",
               facet_store_get_path (store), coder);
  return FALSE;
}

int
facet_cli_init (int    argc,
                char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT.facet — make a new, empty project");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;

  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("init takes one project file (see --help)");
  store = facet_store_create (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

/* ---- add -------------------------------------------------------------------------- */

int
facet_cli_add (int    argc,
               char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT MEDIA... — add videos or image "
                                                         "folders of one subject");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *subject = NULL, *crop_name = NULL;
  FacetCropKind crop = FACET_CROP_ALIGNED;
  double fps = 0.0;
  GOptionEntry entries[] = {
    { "subject", 's', 0, G_OPTION_ARG_STRING, &subject, "Who is filmed (identity for training)", "S" },
    { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &fps, "Frame rate of image folders (default 30)", "F" },
    { "crop", 0, 0, G_OPTION_ARG_STRING, &crop_name,
      "aligned or box: find faces (default aligned); none: the frames are face crops", "KIND" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc < 3)
    return facet_cli_failf ("add needs a project and at least one video or folder (see --help)");
  if (subject == NULL)
    return facet_cli_failf ("add needs --subject: who is filmed in %s", argv[2]);
  if (crop_name != NULL && !facet_crop_kind_from_string (crop_name, &crop))
    return facet_cli_failf ("unknown crop “%s” (box, aligned or none)", crop_name);
  if (fps < 0.0)
    return facet_cli_failf ("--fps %g is not a frame rate", fps);

  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  for (int i = 2; i < argc; i++)
    {
      g_autoptr (FacetMediaSource) source = facet_media_source_open (argv[i], fps, &error);
      const FacetMediaInfo *info;
      FacetStoreVideoInfo v;
      gint64 id;

      if (source == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
      info = facet_media_source_get_info (source);
      v = (FacetStoreVideoInfo) { argv[i], subject, crop, info->n_frames, info->fps, info->width,
                                  info->height };
      id = facet_store_add_video (store, &v, &error);
      if (id == 0)
        return facet_cli_fail (g_steal_pointer (&error));
      printf ("video %" G_GINT64_FORMAT ": %s (%" G_GINT64_FORMAT " frames, %.3f fps, %dx%d, "
              "subject %s, crop %s)\n", id, argv[i], info->n_frames, info->fps, info->width,
              info->height, subject, facet_crop_kind_to_string (crop));
    }
  return 0;
}

/* ---- status -------------------------------------------------------------------------- */

static int
status_json (FacetStore *store,
             gboolean    check_hash,
             GError    **error)
{
  g_autoptr (GPtrArray) videos = facet_store_list_videos (store, error);
  g_autoptr (GPtrArray) models = facet_store_list_models (store, error);
  g_autoptr (GString) out = g_string_new ("{\"project\":");
  g_auto (GStrv) layers = facet_store_list_layers (store, error);

  if (videos == NULL || models == NULL || layers == NULL)
    return -1;
  facet_cli_json_string (out, facet_store_get_path (store));
  g_string_append_printf (out, ",\"project_id\":\"%s\",\"format\":%d,\"layers\":[",
                          facet_store_get_project_id (store), facet_store_get_schema_version (store));
  /* The coders with a layer of their own; "labelled" below is the final layer. */
  for (guint i = 0; layers[i] != NULL; i++)
    {
      if (i)
        g_string_append_c (out, ',');
      facet_cli_json_string (out, layers[i]);
    }
  g_string_append (out, "],\"videos\":[");
  for (guint i = 0; i < videos->len; i++)
    {
      FacetStoreVideo *v = videos->pdata[i];
      g_autoptr (GArray) counts = facet_store_count_labels (store, v->id, error);
      FacetVideoStatus status = facet_store_check_video (store, v->id, check_hash, NULL, NULL);

      if (counts == NULL)
        return -1;
      g_string_append_printf (out, "%s{\"id\":%" G_GINT64_FORMAT ",\"path\":", i ? "," : "", v->id);
      facet_cli_json_string (out, v->path);
      g_string_append (out, ",\"subject\":");
      facet_cli_json_string (out, v->subject);
      g_string_append_printf (out, ",\"frames\":%" G_GINT64_FORMAT ",\"fps\":", v->n_frames);
      facet_cli_json_float (out, v->fps);
      g_string_append_printf (out, ",\"width\":%d,\"height\":%d,\"crop\":\"%s\",\"media\":\"%s\","
                              "\"analysed\":{", v->width, v->height,
                              facet_crop_kind_to_string (v->crop), facet_video_status_to_string (status));
      for (guint m = 0; m < models->len; m++)
        {
          FacetStoreModel *model = models->pdata[m];
          gint64 n = facet_store_count_analysed (store, model->id, v->id, error);
          if (n < 0)
            return -1;
          g_string_append_printf (out, "%s\"%" G_GINT64_FORMAT "\":%" G_GINT64_FORMAT, m ? "," : "",
                                  model->id, n);
        }
      g_string_append (out, "},\"labelled\":{");
      for (guint a = 0; a < counts->len; a++)
        {
          FacetLabelCount *c = &g_array_index (counts, FacetLabelCount, a);
          g_string_append_printf (out, "%s\"AU%02d\":{\"frames\":%" G_GINT64_FORMAT ",\"present\":%"
                                  G_GINT64_FORMAT ",\"absent\":%" G_GINT64_FORMAT ",\"not_codable\":%"
                                  G_GINT64_FORMAT "}", a ? "," : "", c->au,
                                  c->present + c->absent + c->not_codable, c->present, c->absent,
                                  c->not_codable);
        }
      g_string_append (out, "}}");
    }
  g_string_append (out, "],\"models\":[");
  for (guint m = 0; m < models->len; m++)
    {
      FacetStoreModel *model = models->pdata[m];
      g_autofree char *aus = facet_format_int_list (model->au_ids, (guint) model->n_aus);
      gint64 n = facet_store_count_analysed (store, model->id, 0, error);
      if (n < 0)
        return -1;
      g_string_append_printf (out, "%s{\"id\":%" G_GINT64_FORMAT ",\"name\":", m ? "," : "", model->id);
      facet_cli_json_string (out, model->name);
      g_string_append (out, ",\"file\":");
      facet_cli_json_string (out, model->file);
      g_string_append (out, ",\"parent\":");
      if (model->parent_id)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, model->parent_id);
      else
        g_string_append (out, "null");
      g_string_append_printf (out, ",\"aus\":[%s],\"frames_analysed\":%" G_GINT64_FORMAT "}", aus, n);
    }
  g_string_append (out, "]}");
  puts (out->str);
  return 0;
}

static int
status_text (FacetStore *store,
             gboolean    check_hash,
             GError    **error)
{
  g_autoptr (GPtrArray) videos = facet_store_list_videos (store, error);
  g_autoptr (GPtrArray) models = facet_store_list_models (store, error);

  if (videos == NULL || models == NULL)
    return -1;
  printf ("project: %s (format %d)\n", facet_store_get_path (store),
          facet_store_get_schema_version (store));
  for (guint m = 0; m < models->len; m++)
    {
      FacetStoreModel *model = models->pdata[m];
      printf ("model %" G_GINT64_FORMAT ": %s (%s)\n", model->id, model->name, model->file);
    }
  for (guint i = 0; i < videos->len; i++)
    {
      FacetStoreVideo *v = videos->pdata[i];
      g_autoptr (GArray) frames = facet_store_get_labelled_frames (store, v->id, 0, error);
      FacetVideoStatus status = facet_store_check_video (store, v->id, check_hash, NULL, NULL);

      if (frames == NULL)
        return -1;
      printf ("video %" G_GINT64_FORMAT ": %s, subject %s, %" G_GINT64_FORMAT " frames, %s; "
              "%u frames labelled", v->id, v->path, v->subject, v->n_frames,
              facet_video_status_to_string (status), frames->len);
      for (guint m = 0; m < models->len; m++)
        {
          FacetStoreModel *model = models->pdata[m];
          gint64 n = facet_store_count_analysed (store, model->id, v->id, error);
          if (n < 0)
            return -1;
          printf ("; model %" G_GINT64_FORMAT ": %" G_GINT64_FORMAT " analysed", model->id, n);
        }
      printf ("\n");
    }
  return 0;
}

int
facet_cli_status (int    argc,
                  char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — what a project holds");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  gboolean json = FALSE, hash = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object", NULL },
    { "check-hashes", 0, 0, G_OPTION_ARG_NONE, &hash, "Compare the media's content hashes", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("status takes one project (see --help)");
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if ((json ? status_json (store, hash, &error) : status_text (store, hash, &error)) < 0)
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

/* ---- labels -------------------------------------------------------------------------- */

static gboolean
parse_frames (const char *text,
              gint64     *first,
              gint64     *last)
{
  g_auto (GStrv) parts = g_strsplit (text, "-", 2);

  if (!g_ascii_string_to_signed (parts[0], 10, 0, G_MAXINT64, first, NULL))
    return FALSE;
  if (parts[1] == NULL)
    {
      *last = *first;
      return TRUE;
    }
  return g_ascii_string_to_signed (parts[1], 10, 0, G_MAXINT64, last, NULL) && *last >= *first;
}

static int
labels_set (int    argc,
            char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — label frames of one AU");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *video_text = NULL, *frames = NULL, *coder = NULL, *layer = NULL, *letter = NULL;
  gboolean present = FALSE, absent = FALSE, not_codable = FALSE, clear = FALSE;
  float intensity = NAN;
  FacetLabelState state;
  gint64 video, first, last, id;
  int au = 0;
  GOptionEntry entries[] = {
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text, "Video number", "V" },
    { "frames", 0, 0, G_OPTION_ARG_STRING, &frames, "Frames A-B (or one frame), from 0", "A-B" },
    { "au", 0, 0, G_OPTION_ARG_INT, &au, "AU number", "N" },
    { "present", 0, 0, G_OPTION_ARG_NONE, &present, "The AU is present", NULL },
    { "absent", 0, 0, G_OPTION_ARG_NONE, &absent, "The AU is absent", NULL },
    { "not-codable", 0, 0, G_OPTION_ARG_NONE, &not_codable, "The AU cannot be coded here", NULL },
    { "clear", 0, 0, G_OPTION_ARG_NONE, &clear, "Remove the labels", NULL },
    { "intensity", 0, 0, G_OPTION_ARG_STRING, &letter, "FACS intensity of a present AU", "A-E" },
    { "coder", 0, 0, G_OPTION_ARG_STRING, &coder, "Who codes (default $FACET_CODER or login)", "C" },
    { "layer", 0, 0, G_OPTION_ARG_STRING, &layer,
      "Write into this coder's own layer (default: the final layer)", "C" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("labels set takes one project (see --help)");
  if (letter != NULL
      && (strlen (letter) != 1 || isnan (intensity = facet_intensity_from_letter (letter[0]))))
    return facet_cli_failf ("--intensity %s is not a FACS intensity A, B, C, D or E", letter);
  if (video_text == NULL || !parse_video (video_text, &video, FALSE))
    return facet_cli_failf ("labels set needs --video N (a video number from 1)");
  if (frames == NULL || !parse_frames (frames, &first, &last))
    return facet_cli_failf ("labels set needs --frames A-B (frames from 0, A <= B)");
  if (au < 1 || au > 99)
    return facet_cli_failf ("labels set needs --au N (an AU number, 1-99)");
  if (present + absent + not_codable + clear != 1)
    return facet_cli_failf ("labels set needs one of --present, --absent, --not-codable, --clear");
  if (!isnan (intensity) && !present)
    return facet_cli_failf ("--intensity goes with --present (only a present AU has one)");
  state = present ? FACET_LABEL_PRESENT : absent ? FACET_LABEL_ABSENT
          : not_codable ? FACET_LABEL_NOT_CODABLE : FACET_LABEL_UNSET;

  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL)
    facet_store_set_coder (store, coder);
  if (layer != NULL)
    facet_store_set_layer (store, layer);
  if (isnan (intensity))
    id = facet_store_set_label_range (store, video, first, last, au, state,
                                      FACET_LABEL_SOURCE_HUMAN, &error);
  else
    {
      g_autofree FacetLabel *labels = NULL;
      g_autofree char *desc = NULL;
      if (last - first >= 100000000)
        return facet_cli_failf ("--frames %s: too many frames at once", frames);
      labels = g_new (FacetLabel, last - first + 1);
      for (gint64 f = first; f <= last; f++)
        labels[f - first] = (FacetLabel) { .video_id = video, .frame = f, .au = au, .state = state,
                                           .intensity = intensity,
                                           .source = FACET_LABEL_SOURCE_HUMAN };
      desc = g_strdup_printf ("AU%02d %s at frames %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
                              " of video %" G_GINT64_FORMAT, au, letter, first, last, video);
      id = facet_store_write_labels (store, labels, (gsize) (last - first + 1), desc, &error);
    }
  if (id < 0)
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

static int
labels_step (int      argc,
             char   **argv,
             gboolean undo)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (undo ? "PROJECT — undo your last label change"
                                                         : "PROJECT — redo what you undid last");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *coder = NULL, *layer = NULL;
  g_autoptr (FacetChangeset) next = NULL;
  gint64 skipped = 0;
  GOptionEntry entries[] = {
    { "coder", 0, 0, G_OPTION_ARG_STRING, &coder, "Whose change (default $FACET_CODER or login)", "C" },
    { "layer", 0, 0, G_OPTION_ARG_STRING, &layer,
      "In this coder's own layer (default: the final layer)", "C" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("labels %s takes one project (see --help)", undo ? "undo" : "redo");
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL)
    facet_store_set_coder (store, coder);
  if (layer != NULL)
    facet_store_set_layer (store, layer);
  next = undo ? facet_store_peek_undo (store, &error) : facet_store_peek_redo (store, &error);
  if ((undo ? facet_store_undo (store, &skipped, &error) : facet_store_redo (store, &skipped, &error)) == 0)
    return facet_cli_fail (g_steal_pointer (&error));
  printf ("%s %s\n", undo ? "undid" : "redid", next ? next->description : "");
  if (skipped > 0)
    printf ("%" G_GINT64_FORMAT " labels were changed by someone else since and were left as they "
            "are\n", skipped);
  return 0;
}

static int
labels_import (int    argc,
               char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT FILE — import labels (all or nothing)");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *format = NULL, *video_text = NULL, *aus = NULL, *coder = NULL;
  g_autoptr (GArray) au_ids = NULL;
  FacetLabelImportOptions opt = { 0 };
  int min_intensity = 0;
  gboolean final = FALSE;
  gint64 n, changed = 0;
  GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "csv, fmae-json, bp4d or disfa", "F" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text,
      "All labels go to this video (default: the file's file/sha256 columns or its name)", "V" },
    { "aus", 0, 0, G_OPTION_ARG_STRING, &aus,
      "The AUs the file codes (fmae-json, bp4d; default: the data set's)", "1,2,..." },
    { "min-intensity", 0, 0, G_OPTION_ARG_INT, &min_intensity,
      "DISFA intensity from which an AU is present (default 2)", "N" },
    { "coder", 0, 0, G_OPTION_ARG_STRING, &coder,
      "Import into this coder's own layer, recorded as theirs (default: the final layer)", "C" },
    { "final", 0, 0, G_OPTION_ARG_NONE, &final,
      "With --coder: into the final layer, recorded as the coder's", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 3)
    return facet_cli_failf ("labels import takes a project and a label file (see --help)");
  if (format == NULL || !facet_label_format_from_string (format, &opt.format))
    return facet_cli_failf ("labels import needs --format csv, fmae-json, bp4d or disfa");
  if (!parse_video (video_text, &opt.video_id, FALSE))
    return facet_cli_failf ("--video %s is not a video number", video_text);
  if (aus != NULL)
    {
      if (!facet_parse_int_list (aus, &au_ids, &error))
        return facet_cli_fail (g_steal_pointer (&error));
      opt.au_ids = (const int *) au_ids->data;
      opt.n_aus = (int) au_ids->len;
    }
  if (min_intensity < 0 || min_intensity > 5)
    return facet_cli_failf ("--min-intensity %d is outside 0-5", min_intensity);
  opt.min_intensity = min_intensity;
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL)
    facet_store_set_coder (store, coder);
  if (coder != NULL && !final)
    facet_store_set_layer (store, coder);
  n = facet_store_import_labels_full (store, argv[2], &opt, &changed, &error);
  if (n < 0)
    return facet_cli_fail (g_steal_pointer (&error));
  /* Say what changed: importing a file twice changes nothing. */
  if (changed == 0)
    printf ("nothing changed: the project already has the %" G_GINT64_FORMAT " labels of %s\n", n,
            argv[2]);
  else
    printf ("imported %" G_GINT64_FORMAT " labels from %s (%" G_GINT64_FORMAT " new or changed)\n",
            n, argv[2], changed);
  return 0;
}

static int
labels_export (int    argc,
               char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT OUT — write the labels (csv layout)");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *format = NULL, *video_text = NULL, *coder = NULL;
  gint64 video;
  GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "csv (the only one)", "F" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text, "Only this video", "V" },
    { "coder", 0, 0, G_OPTION_ARG_STRING, &coder,
      "This coder's own layer (default: the final layer)", "C" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 3)
    return facet_cli_failf ("labels export takes a project and an output file (see --help)");
  if (format != NULL && !g_str_equal (format, "csv"))
    return facet_cli_failf ("labels export writes --format csv only (not “%s”)", format);
  if (!parse_video (video_text, &video, TRUE))
    return facet_cli_failf ("--video %s is not a video number", video_text);
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL && !layer_exists (store, coder, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL)
    facet_store_set_layer (store, coder);
  if (!facet_store_export_labels (store, argv[2], video, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

static int
labels_consensus (int    argc,
                  char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — copy the labels two coders "
                                                         "agree on into the final layer");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *coders = NULL, *video_text = NULL, *coder = NULL;
  g_auto (GStrv) pair = NULL;
  gboolean overwrite = FALSE;
  gint64 video = 0, copied = 0, differ = 0;
  GOptionEntry entries[] = {
    { "coders", 0, 0, G_OPTION_ARG_STRING, &coders, "The two coders' layers", "A,B" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text, "Only this video", "V" },
    { "overwrite", 0, 0, G_OPTION_ARG_NONE, &overwrite,
      "Also replace final labels that exist (default: only fill empty cells)", NULL },
    { "coder", 0, 0, G_OPTION_ARG_STRING, &coder, "Who resolves (default $FACET_CODER or login)", "C" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("labels consensus takes one project (see --help)");
  if (coders != NULL)
    pair = g_strsplit (coders, ",", -1);
  if (pair == NULL || g_strv_length (pair) != 2 || *pair[0] == '\0' || *pair[1] == '\0')
    return facet_cli_failf ("labels consensus needs --coders A,B");
  if (!parse_video (video_text, &video, TRUE))
    return facet_cli_failf ("--video %s is not a video number", video_text);
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL)
    facet_store_set_coder (store, coder);
  if (facet_store_resolve_agreed (store, pair[0], pair[1], video, overwrite, &copied, &differ,
                                  &error) < 0)
    return facet_cli_fail (g_steal_pointer (&error));
  printf ("%" G_GINT64_FORMAT " labels %s and %s agree on copied into the final layer; %"
          G_GINT64_FORMAT " cells where they differ are left to resolve\n", copied, pair[0], pair[1],
          differ);
  return 0;
}

static int
labels_layers (int    argc,
               char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — the coders with a layer of "
                                                         "their own");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) layers = NULL;

  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("labels layers takes one project (see --help)");
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  layers = facet_store_list_layers (store, &error);
  if (layers == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  for (guint i = 0; layers[i] != NULL; i++)
    {
      g_autoptr (GArray) counts = NULL;
      gint64 n = 0;
      facet_store_set_layer (store, layers[i]);
      counts = facet_store_count_labels (store, 0, &error);
      if (counts == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
      for (guint k = 0; k < counts->len; k++)
        {
          const FacetLabelCount *c = &g_array_index (counts, FacetLabelCount, k);
          n += c->present + c->absent + c->not_codable;
        }
      printf ("%s\t%" G_GINT64_FORMAT " labels\n", layers[i], n);
    }
  return 0;
}

int
facet_cli_labels (int    argc,
                  char **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "set"))
    return labels_set (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "import"))
    return labels_import (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "export"))
    return labels_export (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "undo"))
    return labels_step (argc - 1, argv + 1, TRUE);
  if (argc >= 2 && g_str_equal (argv[1], "redo"))
    return labels_step (argc - 1, argv + 1, FALSE);
  if (argc >= 2 && g_str_equal (argv[1], "layers"))
    return labels_layers (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "consensus"))
    return labels_consensus (argc - 1, argv + 1);
  return facet_cli_failf ("usage: facet-cli labels set|import|export|undo|redo|layers|consensus "
                          "PROJECT ... "
                          "(see facet-cli labels set --help)");
}

/* ---- export -------------------------------------------------------------------------------- */

int
facet_cli_export (int    argc,
                  char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT OUT — AU time series (OpenFace "
                                                         "2.2 or Facet's own), events, ELAN "
                                                         "documents, summaries");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *format = NULL, *model = NULL, *video_text = NULL, *coder = NULL;
  FacetExportOptions opt = { .threshold = NAN };
  double threshold = NAN;
  GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format,
      "openface, timeseries, events, eaf or summary", "F" },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model, "Model number or file (default: the latest)", "M" },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold,
      "Presence threshold for every AU (default: the model's per AU)", "T" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text, "Only this video (default all)", "V" },
    { "coder", 0, 0, G_OPTION_ARG_STRING, &coder,
      "The labels of this coder's own layer (default: the final layer)", "C" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 3)
    return facet_cli_failf ("export takes a project and an output path (see --help)");
  if (format == NULL || !facet_export_format_from_string (format, &opt.format))
    return facet_cli_failf ("export needs --format openface, timeseries, events, eaf or summary");
  if (!isnan (threshold) && !(threshold > 0.0 && threshold < 1.0))
    return facet_cli_failf ("--threshold %g is outside (0, 1)", threshold);
  opt.threshold = (float) threshold;
  if (!parse_video (video_text, &opt.video_id, TRUE))
    return facet_cli_failf ("--video %s is not a video number", video_text);
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  opt.model_id = find_model (store, model, &error);
  if (opt.model_id < 0)
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL && !layer_exists (store, coder, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  if (coder != NULL)
    facet_store_set_layer (store, coder);
  if (!facet_store_export (store, &opt, argv[2], &error))
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

/* ---- merge ------------------------------------------------------------------------------------ */

int
facet_cli_merge (int    argc,
                 char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT SHARD... — fold analysis shards "
                                                         "into the project");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;

  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc < 3)
    return facet_cli_failf ("merge takes a project and at least one shard file (see --help)");
  store = open_project (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  for (int i = 2; i < argc; i++)
    {
      FacetMergeStats stats;
      if (!facet_store_merge_shard (store, argv[i], &stats, &error))
        return facet_cli_fail (g_steal_pointer (&error));
      printf ("%s: %" G_GINT64_FORMAT " new predictions, %" G_GINT64_FORMAT " face results, %"
              G_GINT64_FORMAT " models, %" G_GINT64_FORMAT " runs\n", argv[i], stats.predictions,
              stats.faces, stats.models, stats.runs);
    }
  return 0;
}
