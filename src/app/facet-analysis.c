/* facet-analysis.c — background analysis through the pipeline
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The pipeline writes through a connection of its own in its own threads;
 * its progress callback (the writer thread, after each committed chunk) is
 * forwarded to the main context, where ::progress tells the window which
 * video gained predictions.
 */
#define G_LOG_DOMAIN "facet-analysis"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-analysis.h"
#include "facet-invoke.h"
#include "facet-task-set.h"

struct _FacetAnalysis
{
  GObject       parent_instance;

  GCancellable *cancellable;
  gboolean      running;
  double        fraction;
  char         *text;
  gint64        model_id;
};

G_DEFINE_FINAL_TYPE (FacetAnalysis, facet_analysis, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RUNNING,
  PROP_FRACTION,
  PROP_TEXT,
  N_PROPS
};

enum {
  PROGRESS,
  FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

typedef struct
{
  GWeakRef      self;
  GMainContext *context;
  char         *path;
  gint64        model_id;
  gint64       *videos;
  guint         n_videos;
  char         *backend;
} Job;

static void
job_free (gpointer data)
{
  Job *j = data;

  g_weak_ref_clear (&j->self);
  g_main_context_unref (j->context);
  g_free (j->path);
  g_free (j->videos);
  g_free (j->backend);
  g_free (j);
}

static char *
format_left (double seconds)
{
  if (seconds < 0)
    return g_strdup (_("time left unknown"));
  if (seconds < 90)
    return g_strdup_printf (_("%.0f s left"), seconds);
  if (seconds < 5400)
    return g_strdup_printf (_("%.0f min left"), seconds / 60);
  return g_strdup_printf (_("%.1f h left"), seconds / 3600);
}

static void
deliver_progress (GObject  *owner,
                  gpointer  data)
{
  FacetAnalysis *self = FACET_ANALYSIS (owner);
  const FacetAnalysisProgress *p = data;
  g_autofree char *left = NULL;

  if (!self->running)
    return;
  self->fraction = p->frames_total > 0 ? (double) p->frames_done / p->frames_total : 1.0;
  left = format_left (p->eta);
  g_free (self->text);
  /* TRANSLATORS: analysis progress: frames done, frames to do, speed, time left */
  self->text = g_strdup_printf (_("%d of %d frames · %.1f frames/s · %s"),
                                (int) p->frames_done, (int) p->frames_total, p->fps, left);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
  g_signal_emit (self, signals[PROGRESS], 0, p->video_id);
}

/* The writer thread, after each chunk. */
static void
on_progress (const FacetAnalysisProgress *progress,
             gpointer                     user_data)
{
  Job *j = user_data;
  g_autoptr (GObject) self = g_weak_ref_get (&j->self);

  facet_invoke_weak (j->context, self, deliver_progress,
                     g_memdup2 (progress, sizeof *progress), g_free);
}

/* The analysis threads still running, process-wide (facet_analysis_stop_all). */
static FacetTaskSet live;

gboolean
facet_analysis_stop_all (guint timeout_ms)
{
  return facet_task_set_stop_all (&live, timeout_ms);
}

static void
analysis_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  Job *j = task_data;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  g_autofree char *spec = g_strdup_printf ("%" G_GINT64_FORMAT, j->model_id);
  FacetAnalysisOptions options = { 0 };
  FacetAnalysisProgress result = { 0 };
  GError *error = NULL;
  gint64 model_id = 0;

  store = facet_store_open (j->path, &error);
  if (store == NULL)
    goto failed;
  model = facet_pipeline_load_model (store, spec, &model_id, &error);
  if (model == NULL)
    goto failed;
  engine = facet_engine_new (model, j->backend, &error);
  if (engine == NULL)
    goto failed;
  options.video_ids = j->videos;
  options.n_videos = j->n_videos;
  if (!facet_analysis_run (store, engine, model_id, &options, on_progress, j, cancellable, &result,
                           &error))
    goto failed;
  g_task_return_pointer (task, g_memdup2 (&result, sizeof result), g_free);
  /* The last reports must reach the main context before "finished":
   * both go through it in order. */
  return;

failed:
  g_task_return_error (task, error);
}

static void
analysis_done (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  FacetAnalysis *self = FACET_ANALYSIS (object);
  g_autoptr (GError) error = NULL;
  g_autofree FacetAnalysisProgress *counts = g_task_propagate_pointer (G_TASK (result), &error);

  self->running = FALSE;
  g_clear_object (&self->cancellable);
  if (counts != NULL)
    self->fraction = 1.0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  g_signal_emit (self, signals[FINISHED], 0, error, counts);
}

FacetAnalysis *
facet_analysis_new (void)
{
  return g_object_new (FACET_TYPE_ANALYSIS, NULL);
}

gboolean
facet_analysis_start (FacetAnalysis *self,
                      const char    *project_path,
                      gint64         model_id,
                      const gint64  *video_ids,
                      guint          n_videos,
                      const char    *backend)
{
  g_autoptr (GTask) task = NULL;
  Job *j;

  g_return_val_if_fail (FACET_IS_ANALYSIS (self), FALSE);
  g_return_val_if_fail (project_path != NULL, FALSE);

  if (self->running)
    return FALSE;
  j = g_new0 (Job, 1);
  g_weak_ref_init (&j->self, self);
  j->context = g_main_context_ref_thread_default ();
  j->path = g_strdup (project_path);
  j->model_id = model_id;
  if (video_ids != NULL && n_videos > 0)
    {
      j->videos = g_memdup2 (video_ids, sizeof (gint64) * n_videos);
      j->n_videos = n_videos;
    }
  j->backend = g_strdup (backend ? backend : "cpu");

  self->cancellable = g_cancellable_new ();
  self->running = TRUE;
  self->fraction = 0;
  self->model_id = model_id;
  g_free (self->text);
  self->text = g_strdup (_("Starting the analysis…"));
  task = g_task_new (self, self->cancellable, analysis_done, NULL);
  g_task_set_source_tag (task, facet_analysis_start);
  /* The pipeline stops at the next chunk on cancel and says so itself. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, j, job_free);
  facet_task_set_run_in_thread (&live, task, analysis_thread);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
  return TRUE;
}

void
facet_analysis_cancel (FacetAnalysis *self)
{
  g_return_if_fail (FACET_IS_ANALYSIS (self));

  if (self->cancellable != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      g_free (self->text);
      self->text = g_strdup (_("Stopping after the frames in flight…"));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
    }
}

gboolean
facet_analysis_get_running (FacetAnalysis *self)
{
  g_return_val_if_fail (FACET_IS_ANALYSIS (self), FALSE);
  return self->running;
}

double
facet_analysis_get_fraction (FacetAnalysis *self)
{
  g_return_val_if_fail (FACET_IS_ANALYSIS (self), 0);
  return self->fraction;
}

const char *
facet_analysis_get_text (FacetAnalysis *self)
{
  g_return_val_if_fail (FACET_IS_ANALYSIS (self), NULL);
  return self->text;
}

gint64
facet_analysis_get_model_id (FacetAnalysis *self)
{
  g_return_val_if_fail (FACET_IS_ANALYSIS (self), 0);
  return self->model_id;
}

static void
facet_analysis_dispose (GObject *object)
{
  FacetAnalysis *self = (FacetAnalysis *) object;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (facet_analysis_parent_class)->dispose (object);
}

static void
facet_analysis_finalize (GObject *object)
{
  FacetAnalysis *self = (FacetAnalysis *) object;

  g_free (self->text);
  G_OBJECT_CLASS (facet_analysis_parent_class)->finalize (object);
}

static void
facet_analysis_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  FacetAnalysis *self = FACET_ANALYSIS (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    case PROP_FRACTION:
      g_value_set_double (value, self->fraction);
      break;
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_analysis_class_init (FacetAnalysisClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = facet_analysis_dispose;
  object_class->finalize = facet_analysis_finalize;
  object_class->get_property = facet_analysis_get_property;

  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FRACTION] =
    g_param_spec_double ("fraction", NULL, NULL, 0, 1, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FacetAnalysis::progress:
   * @video_id: the video whose frames were just written
   */
  signals[PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);
  /**
   * FacetAnalysis::finished:
   * @error: (nullable): why it stopped early
   * @counts: (type gpointer) (nullable): the FacetAnalysisProgress at the end
   */
  signals[FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_POINTER);
}

static void
facet_analysis_init (FacetAnalysis *self)
{
}
