/* facet-demo.c — builds the demo project from a recipe (no GTK)
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-demo"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "engine/facet-engine.h"
#include "media/facet-media.h"
#include "media/media-synth.h"
#include "pipeline/facet-pipeline.h"
#include "store/facet-store.h"

#include "facet-demo.h"
#include "facet-invoke.h"

#define DEMO_GROUP     "Demo"
#define SUBJECT_PREFIX "Subject "

typedef struct
{
  char    *name;
  gint64   seed;
  gint64   recording;
  double   seconds;
  gboolean bias;
  double   labelled;
} DemoSubject;

struct _FacetDemoRecipe
{
  char          *name;
  double         fps;
  int            size;
  char          *codec;
  FacetCropKind  crop;
  char          *coder;
  GArray        *subjects; /* DemoSubject */
};

static void
demo_subject_clear (gpointer data)
{
  DemoSubject *s = data;
  g_free (s->name);
}

void
facet_demo_recipe_free (FacetDemoRecipe *recipe)
{
  if (recipe == NULL)
    return;
  g_free (recipe->name);
  g_free (recipe->codec);
  g_free (recipe->coder);
  g_clear_pointer (&recipe->subjects, g_array_unref);
  g_free (recipe);
}

/* A key that may be missing (then @fallback), but not malformed. */
static gboolean
get_double (GKeyFile   *kf,
            const char *group,
            const char *key,
            double      fallback,
            double     *out,
            const char *name,
            GError    **error)
{
  g_autoptr (GError) local = NULL;

  if (!g_key_file_has_key (kf, group, key, NULL))
    {
      *out = fallback;
      return TRUE;
    }
  *out = g_key_file_get_double (kf, group, key, &local);
  if (local != NULL)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [%s] %s is not a number", name, group, key);
      return FALSE;
    }
  return TRUE;
}

FacetDemoRecipe *
facet_demo_recipe_load_from_data (const char *data,
                                  gsize       length,
                                  const char *name,
                                  GError    **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (FacetDemoRecipe) r = g_new0 (FacetDemoRecipe, 1);
  g_auto (GStrv) groups = NULL;
  g_autofree char *crop = NULL;
  double size, labelled;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (!g_key_file_load_from_data (kf, data, length, G_KEY_FILE_NONE, error))
    {
      g_prefix_error (error, "%s: ", name);
      return NULL;
    }
  if (!g_key_file_has_group (kf, DEMO_GROUP))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                   "%s: no [" DEMO_GROUP "] group", name);
      return NULL;
    }
  r->subjects = g_array_new (FALSE, TRUE, sizeof (DemoSubject));
  g_array_set_clear_func (r->subjects, demo_subject_clear);
  r->name = g_key_file_get_string (kf, DEMO_GROUP, "Name", NULL);
  if (r->name == NULL)
    r->name = g_strdup ("demo");
  r->codec = g_key_file_get_string (kf, DEMO_GROUP, "Codec", NULL);
  r->coder = g_key_file_get_string (kf, DEMO_GROUP, "Coder", NULL);
  if (r->coder == NULL)
    r->coder = g_strdup ("demo");
  if (!get_double (kf, DEMO_GROUP, "FramesPerSecond", 25, &r->fps, name, error)
      || !get_double (kf, DEMO_GROUP, "FrameSize", 256, &size, name, error)
      || !get_double (kf, DEMO_GROUP, "LabelledFraction", 0.5, &labelled, name, error))
    return NULL;
  if (!(r->fps >= 1 && r->fps <= 120) || !(size >= 64 && size <= 1024) || fmod (size, 2) != 0
      || !(labelled >= 0 && labelled <= 1))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: FramesPerSecond must be 1-120, FrameSize an even 64-1024 and "
                   "LabelledFraction 0-1", name);
      return NULL;
    }
  r->size = (int) size;
  crop = g_key_file_get_string (kf, DEMO_GROUP, "Crop", NULL);
  r->crop = FACET_CROP_ALIGNED;
  if (crop != NULL && !facet_crop_kind_from_string (crop, &r->crop))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: Crop “%s” is not box, aligned or none", name, crop);
      return NULL;
    }

  groups = g_key_file_get_groups (kf, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      DemoSubject s = { 0 };
      double seed, recording;

      if (!g_str_has_prefix (groups[i], SUBJECT_PREFIX))
        continue;
      if (!get_double (kf, groups[i], "Seed", r->subjects->len + 1, &seed, name, error)
          || !get_double (kf, groups[i], "Recording", 0, &recording, name, error)
          || !get_double (kf, groups[i], "Seconds", 10, &s.seconds, name, error)
          || !get_double (kf, groups[i], "LabelledFraction", labelled, &s.labelled, name, error))
        return NULL;
      if (!(s.seconds > 0 && s.seconds <= 3600) || !(s.labelled >= 0 && s.labelled <= 1)
          || seed < 0 || recording < 0)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "%s: [%s] needs Seconds in (0, 3600], LabelledFraction 0-1 and "
                       "non-negative seeds", name, groups[i]);
          return NULL;
        }
      s.name = g_strstrip (g_strdup (groups[i] + strlen (SUBJECT_PREFIX)));
      if (*s.name == '\0' || strpbrk (s.name, "/\\") != NULL)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "%s: [%s] needs a subject name without slashes", name, groups[i]);
          g_free (s.name);
          return NULL;
        }
      s.seed = (gint64) seed;
      s.recording = (gint64) recording;
      s.bias = g_key_file_get_boolean (kf, groups[i], "Bias", NULL);
      g_array_append_val (r->subjects, s);
    }
  if (r->subjects->len == 0)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                   "%s: no [" SUBJECT_PREFIX "NAME] group", name);
      return NULL;
    }
  return g_steal_pointer (&r);
}

FacetDemoRecipe *
facet_demo_recipe_load (const char *path,
                        GError    **error)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return facet_demo_recipe_load_from_data (contents, length, path, error);
}

guint
facet_demo_recipe_get_n_subjects (const FacetDemoRecipe *recipe)
{
  g_return_val_if_fail (recipe != NULL, 0);
  return recipe->subjects->len;
}

static gint64
subject_frames (const FacetDemoRecipe *recipe,
                const DemoSubject     *s)
{
  return (gint64) llround (s->seconds * recipe->fps);
}

gint64
facet_demo_recipe_get_n_frames (const FacetDemoRecipe *recipe)
{
  gint64 n = 0;

  g_return_val_if_fail (recipe != NULL, 0);
  for (guint i = 0; i < recipe->subjects->len; i++)
    n += subject_frames (recipe, &g_array_index (recipe->subjects, DemoSubject, i));
  return n;
}

/**
 * facet_relocated_data_path:
 * @relative: a path below the data folder, such as "facet/demo"
 *
 * PREFIX/share/@relative when it exists, with PREFIX the folder above the
 * running program's bin/: an installation staged or moved away from the
 * prefix it was configured for (`meson install --destdir`, a relocated
 * tree). NULL otherwise (the build folder, or no such file).
 */
char *
facet_relocated_data_path (const char *relative)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *bin = NULL, *bin_name = NULL, *prefix = NULL, *path = NULL;

  g_return_val_if_fail (relative != NULL, NULL);

  if (exe == NULL)
    return NULL;
  bin = g_path_get_dirname (exe);
  bin_name = g_path_get_basename (bin);
  prefix = g_path_get_dirname (bin);
  path = g_build_filename (prefix, "share", relative, NULL);
  if (!g_str_equal (bin_name, "bin") || !g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  return g_steal_pointer (&path);
}

/**
 * facet_installed_data_path:
 * @relative: a path below the data folder
 *
 * Where an installed data file is: next to the running program
 * (facet_relocated_data_path()), else below the configured prefix; NULL
 * when neither exists.
 */
char *
facet_installed_data_path (const char *relative)
{
  char *moved = facet_relocated_data_path (relative);
  g_autofree char *configured = NULL;

  if (moved != NULL)
    return moved;
  configured = g_build_filename (FACET_PREFIX_DATADIR, relative, NULL);
  if (g_file_test (configured, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&configured);
  return NULL;
}

/**
 * facet_demo_default_folder:
 *
 * Where `facet --demo` makes the demo project: the user's cache folder, as
 * everything in it (videos, project) is made again when missing.
 */
char *
facet_demo_default_folder (void)
{
  return g_build_filename (g_get_user_cache_dir (), "facet", "demo", NULL);
}

char *
facet_demo_find_model (void)
{
  const char *env = g_getenv ("FACET_DEMO_MODEL");
  g_autofree char *installed = facet_installed_data_path ("facet/demo/facet-demo.safetensors");
  g_autofree char *source = g_build_filename (FACET_SOURCE_DATADIR, "demo",
                                              "facet-demo.safetensors",
                                              NULL);

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (installed != NULL)
    return g_steal_pointer (&installed);
  if (g_file_test (source, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&source);
  return NULL;
}

char *
facet_demo_project_path (const char *folder)
{
  g_return_val_if_fail (folder != NULL, NULL);
  return g_build_filename (folder, "demo.facet", NULL);
}

/* Progress over all frames rendered so far. */
typedef struct
{
  FacetProgressFunc func;
  gpointer          data;
  gint64            done;  /* frames of the subjects before this one */
  gint64            total;
  gint64            now;   /* frames of this subject */
  const char       *name;
} Progress;

static void
on_render_progress (double      fraction,
                    const char *message,
                    gpointer    user_data)
{
  Progress *p = user_data;
  g_autofree char *text = NULL;

  if (p->func == NULL)
    return;
  /* TRANSLATORS: %s is a subject's name in the demo project */
  text = g_strdup_printf (_("Recording subject %s"), p->name);
  /* Rendering is most of the work; the rest of the build gets the last 5 %. */
  p->func (0.95 * (p->done + fraction * p->now) / MAX (p->total, 1), text, p->data);
}

/* The random stand-in for the demo model: the generator's AUs, crop
 * "none" (the synthetic frames are crops already), tiny and shallow so
 * that the demo analyses quickly. */
static char *
make_random_model (const char *folder,
                   GError    **error)
{
  g_autofree char *dir = g_build_filename (folder, "models", NULL);
  g_autofree char *path = g_build_filename (dir, "random-demo.safetensors", NULL);
  g_autoptr (FacetModelConfig) c = NULL;
  g_autoptr (FacetModel) model = NULL;
  const int *aus;
  int n_aus;

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "%s: cannot create the folder (%s)", dir, g_strerror (saved));
      return NULL;
    }
  c = facet_model_config_new ();
  facet_model_config_set_preset (c, "tiny");
  c->depth = 4;
  c->crop = FACET_CROP_NONE;
  aus = facet_synth_aus (&n_aus);
  facet_model_config_set_aus (c, aus, n_aus);
  c->name = g_strdup ("random tiny demo model (not trained)");
  model = facet_model_new_random (c, 1, error);
  if (model == NULL || !facet_model_save (model, path, NULL, error))
    return NULL;
  return g_steal_pointer (&path);
}

/* The demo model in @store, with its held-out metrics when they lie next
 * to it (NAME.metrics.json: the app shows them, and fine-tuning compares
 * against them, set once): the id of its row, an existing one when the
 * store has the same file content already; -1 on error. */
static gint64
add_demo_model (FacetStore *store,
                const char *model_path,
                FacetModel *model,
                GError    **error)
{
  gint64 model_id = facet_pipeline_register_model (store, model, 0, error);
  g_autoptr (FacetStoreModel) row = NULL;

  if (model_id <= 0)
    return -1;
  /* A row the project had already keeps its metrics: nothing is written. */
  row = facet_store_get_model (store, model_id, error);
  if (row == NULL)
    return -1;
  if (g_strcmp0 (row->metrics_json, "{}") == 0 && g_str_has_suffix (model_path, ".safetensors"))
    {
      g_autofree char *stem = g_strndup (model_path, strlen (model_path) - strlen (".safetensors"));
      g_autofree char *metrics_path = g_strconcat (stem, ".metrics.json", NULL);
      g_autofree char *metrics = NULL;

      if (g_file_get_contents (metrics_path, &metrics, NULL, NULL)
          && !facet_store_set_model_metrics (store, model_id, metrics, error))
        return -1;
    }
  return model_id;
}

/* A demo project made before the demo model changed (a newer Facet, or
 * $FACET_DEMO_MODEL) gets the current model as its newest, so the app
 * shows and analyses it; the models, labels and predictions it has stay. */
static gboolean
update_demo_model (const char *project,
                   GError    **error)
{
  g_autofree char *model_path = facet_demo_find_model ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetStore) store = NULL;
  gboolean ok;

  if (model_path == NULL)
    return TRUE;
  model = facet_model_load (model_path, NULL, error);
  if (model == NULL)
    return FALSE;
  store = facet_store_open (project, error);
  if (store == NULL)
    return FALSE;
  ok = add_demo_model (store, model_path, model, error) > 0;
  g_clear_pointer (&store, facet_store_close);
  return ok;
}

static gboolean
render_subject (const FacetDemoRecipe *recipe,
                const DemoSubject     *s,
                const char            *video,
                Progress              *progress,
                GCancellable          *cancellable,
                GError               **error)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new ((guint64) s->seed);
  g_autoptr (FacetSynthTimeline) timeline = NULL;
  g_autofree char *labels = facet_synth_labels_path (video);
  g_autofree char *tmp = NULL, *tmp_labels = NULL;

  if (g_file_test (video, G_FILE_TEST_IS_REGULAR) && g_file_test (labels, G_FILE_TEST_IS_REGULAR))
    return TRUE;

  if (s->bias)
    facet_synth_subject_apply_bias_profile (subject);
  timeline = facet_synth_timeline_new (subject, (guint64) s->recording, subject_frames (recipe, s),
                                       recipe->fps);
  /* Rendered under a temporary name, so a half-written video is never
   * taken for a finished one. */
  tmp = g_strconcat (video, ".partial.mkv", NULL);
  tmp_labels = facet_synth_labels_path (tmp);
  if (!facet_synth_write_video (subject, timeline, tmp, recipe->size, recipe->codec,
                                on_render_progress, progress, cancellable, error))
    {
      g_unlink (tmp);
      g_unlink (tmp_labels);
      return FALSE;
    }
  if (g_rename (tmp_labels, labels) != 0 || g_rename (tmp, video) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "%s: cannot rename the rendered video (%s)", video, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* The first LabelledFraction of the subject's frames, as an import of
 * the ground truth by the recipe's coder. */
static gboolean
import_labels (FacetStore        *store,
               gint64             video_id,
               const char        *labels_path,
               gint64             n_frames,
               double             fraction,
               GError           **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (FacetLabelFile) file = NULL;
  g_autoptr (GArray) labels = g_array_new (FALSE, FALSE, sizeof (FacetLabel));
  FacetLabelImportOptions options = { 0 };
  gint64 limit = (gint64) llround (fraction * n_frames);
  gsize length;

  if (limit <= 0)
    return TRUE;
  if (!g_file_get_contents (labels_path, &contents, &length, error))
    return FALSE;
  options.format = FACET_LABEL_FORMAT_CSV;
  options.video_id = video_id;
  file = facet_label_file_parse (contents, length, labels_path, &options, error);
  if (file == NULL)
    return FALSE;
  for (guint i = 0; i < file->labels->len; i++)
    {
      const FacetParsedLabel *p = &g_array_index (file->labels, FacetParsedLabel, i);
      FacetLabel l = { 0 };

      if (p->frame >= limit)
        continue;
      l.video_id = video_id;
      l.frame = p->frame;
      l.au = p->au;
      l.state = p->state;
      l.intensity = p->intensity;
      l.source = FACET_LABEL_SOURCE_IMPORTED;
      g_array_append_val (labels, l);
    }
  return facet_store_write_labels (store, (const FacetLabel *) (gpointer) labels->data, labels->len,
                                   "demo labels", error) >= 0;
}

static void
remove_project_files (const char *path)
{
  static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *p = g_strconcat (path, suffixes[i], NULL);
      g_unlink (p);
    }
}

char *
facet_demo_build (const FacetDemoRecipe *recipe,
                  const char            *folder,
                  FacetProgressFunc      progress,
                  gpointer               progress_data,
                  GCancellable          *cancellable,
                  GError               **error)
{
  g_autofree char *media = NULL, *model_path = NULL, *project = NULL, *building = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetModel) model = NULL;
  Progress p = { progress, progress_data, 0, 0, 0, NULL };
  gint64 model_id;

  g_return_val_if_fail (recipe != NULL, NULL);
  g_return_val_if_fail (folder != NULL, NULL);

  project = facet_demo_project_path (folder);
  if (g_file_test (project, G_FILE_TEST_IS_REGULAR))
    return update_demo_model (project, error) ? g_steal_pointer (&project) : NULL;

  media = g_build_filename (folder, "media", NULL);
  if (g_mkdir_with_parents (media, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "%s: cannot create the folder (%s)", media, g_strerror (saved));
      return NULL;
    }

  p.total = facet_demo_recipe_get_n_frames (recipe);
  for (guint i = 0; i < recipe->subjects->len; i++)
    {
      const DemoSubject *s = &g_array_index (recipe->subjects, DemoSubject, i);
      g_autofree char *file = g_strconcat (s->name, ".mkv", NULL);
      g_autofree char *video = g_build_filename (media, file, NULL);

      p.now = subject_frames (recipe, s);
      p.name = s->name;
      if (!render_subject (recipe, s, video, &p, cancellable, error))
        return NULL;
      p.done += p.now;
    }

  if (progress != NULL)
    progress (0.96, _("Preparing the model"), progress_data);
  model_path = facet_demo_find_model ();
  if (model_path == NULL && (model_path = make_random_model (folder, error)) == NULL)
    return NULL;
  model = facet_model_load (model_path, NULL, error);
  if (model == NULL)
    return NULL;

  if (progress != NULL)
    progress (0.98, _("Creating the project"), progress_data);
  building = g_build_filename (folder, ".demo-building.facet", NULL);
  remove_project_files (building);
  store = facet_store_create (building, error);
  if (store == NULL)
    return NULL;
  facet_store_set_coder (store, recipe->coder);
  for (guint i = 0; i < recipe->subjects->len; i++)
    {
      const DemoSubject *s = &g_array_index (recipe->subjects, DemoSubject, i);
      g_autofree char *file = g_strconcat (s->name, ".mkv", NULL);
      g_autofree char *video = g_build_filename (media, file, NULL);
      g_autofree char *labels = facet_synth_labels_path (video);
      g_autoptr (FacetMediaSource) source = NULL;
      const FacetMediaInfo *mi;
      FacetStoreVideoInfo info = { 0 };
      gint64 id;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto failed;
      source = facet_media_source_open (video, 0, error);
      if (source == NULL)
        goto failed;
      mi = facet_media_source_get_info (source);
      info.path = video;
      info.subject = s->name;
      info.crop = recipe->crop;
      info.n_frames = mi->n_frames;
      info.fps = mi->fps;
      info.width = mi->width;
      info.height = mi->height;
      id = facet_store_add_video (store, &info, error);
      if (id <= 0 || !import_labels (store, id, labels, mi->n_frames, s->labelled, error))
        goto failed;
    }
  model_id = add_demo_model (store, model_path, model, error);
  if (model_id <= 0)
    goto failed;
  g_clear_pointer (&store, facet_store_close);

  if (g_rename (building, project) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "%s: cannot move the finished project into place (%s)", project,
                   g_strerror (saved));
      remove_project_files (building);
      return NULL;
    }
  if (progress != NULL)
    progress (1.0, _("The demo project is ready"), progress_data);
  return g_steal_pointer (&project);

failed:
  g_clear_pointer (&store, facet_store_close);
  remove_project_files (building);
  return NULL;
}

/* ---- In the background ----------------------------------------------------------------------- */

typedef struct
{
  GWeakRef               source;
  GMainContext          *context;
  char                  *resource;
  char                  *folder;
  FacetDemoProgressFunc  progress;
} Build;

static void
build_free (gpointer data)
{
  Build *b = data;

  g_weak_ref_clear (&b->source);
  g_main_context_unref (b->context);
  g_free (b->resource);
  g_free (b->folder);
  g_free (b);
}

typedef struct
{
  FacetDemoProgressFunc  progress;
  double                 fraction;
  char                  *message;
} Report;

static void
report_free (gpointer data)
{
  Report *r = data;

  g_free (r->message);
  g_free (r);
}

/* A report may come after the build's answer: only to a living source. */
static void
report_deliver (GObject  *source,
                gpointer  data)
{
  Report *r = data;

  r->progress (source, r->fraction, r->message);
}

/* From the worker: forwarded to the caller's main context. */
static void
build_progress (double      fraction,
                const char *message,
                gpointer    user_data)
{
  Build *b = user_data;
  Report *r;
  g_autoptr (GObject) source = g_weak_ref_get (&b->source);

  if (b->progress == NULL || source == NULL)
    return;
  r = g_new0 (Report, 1);
  r->progress = b->progress;
  r->fraction = fraction;
  r->message = g_strdup (message);
  facet_invoke_weak (b->context, source, report_deliver, r, report_free);
}

static void
build_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  Build *b = task_data;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (FacetDemoRecipe) recipe = NULL;
  g_autofree char *name = g_path_get_basename (b->resource);
  GError *error = NULL;
  char *project;

  bytes = g_resources_lookup_data (b->resource, 0, &error);
  if (bytes != NULL)
    recipe = facet_demo_recipe_load_from_data (g_bytes_get_data (bytes, NULL),
                                               g_bytes_get_size (bytes), name, &error);
  if (recipe == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  project = facet_demo_build (recipe, b->folder, build_progress, b, cancellable, &error);
  if (project == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, project, g_free);
}

void
facet_demo_build_async (GObject               *source,
                        const char            *recipe_resource,
                        const char            *folder,
                        FacetDemoProgressFunc  progress,
                        GCancellable          *cancellable,
                        GAsyncReadyCallback    callback,
                        gpointer               user_data)
{
  g_autoptr (GTask) task = NULL;
  Build *b;

  g_return_if_fail (G_IS_OBJECT (source));
  g_return_if_fail (recipe_resource != NULL);
  g_return_if_fail (folder != NULL);

  b = g_new0 (Build, 1);
  g_weak_ref_init (&b->source, source);
  b->context = g_main_context_ref_thread_default ();
  b->resource = g_strdup (recipe_resource);
  b->folder = g_strdup (folder);
  b->progress = progress;
  task = g_task_new (source, cancellable, callback, user_data);
  g_task_set_source_tag (task, facet_demo_build_async);
  g_task_set_task_data (task, b, build_free);
  g_task_run_in_thread (task, build_thread);
}

char *
facet_demo_build_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == facet_demo_build_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
