/* facet-explainer.c — attention and evidence maps in a worker thread
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model-wide map is the attention rollout of one forward; the per-AU
 * maps come from the method the coder chose (facet_engine_explain on the
 * CPU backend, the same numbers on every machine): the last-layer split
 * from the same forward, the gradient methods from one backward per AU,
 * occlusion from a forward per patch, change from neutral from two per
 * patch against a calm frame of the same video (read from the project's
 * analysis, decoded and cropped here once per video and model, then kept).
 * The slow ones report progress and
 * stop when cancelled: a newer request, facet_explainer_clear() and
 * facet_explainer_stop_all() at quit cancel the running one. The model
 * stays loaded between requests.
 */
#define G_LOG_DOMAIN "facet-explainer"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "engine/facet-engine.h"
#include "face/facet-face.h"
#include "pipeline/facet-pipeline.h"

#include "facet-explainer.h"
#include "facet-invoke.h"
#include "facet-reload.h"
#include "facet-task-set.h"

/* The engine is used by one worker at a time; a request holds the lock
 * for its whole forward. */
typedef struct
{
  gatomicrefcount ref;
  GMutex          lock;
  char           *path;
  FacetEngine    *engine;
  /* The neutral frames of one video (change from neutral), for this engine */
  FacetNeutralFrames *neutral;
  char           *neutral_project;
  gint64          neutral_model;
  gint64          neutral_video;
} Engine;

/* How many calm frames are kept per video; the nearest of them is used. */
#define N_NEUTRAL 6

struct _FacetExplainer
{
  GObject           parent_instance;

  Engine           *engine;
  FacetReload      *reload;   /* one request at a time; clear() drops its answer */
  struct _Request  *pending;  /* the newest request, not started yet */
  FacetExplanation *result;
};

G_DEFINE_FINAL_TYPE (FacetExplainer, facet_explainer, G_TYPE_OBJECT)

enum {
  READY,
  FAILED,
  PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct _Request
{
  Engine           *engine;
  char             *project_path;
  char             *model_path;
  gint64            model_id;
  FacetImage       *image;
  gboolean          whole;
  double            transform[6];
  gint64            video_id;
  gint64            frame;
  FacetMapMethod    method;
  GCancellable     *cancellable; /* of its run, once started */
  GMainContext     *context;
  GWeakRef          self;
  FacetExplanation *result;
} Request;

/* The explainer threads still running, process-wide (facet_explainer_stop_all). */
static FacetTaskSet live;

gboolean
facet_explainer_stop_all (guint timeout_ms)
{
  return facet_task_set_stop_all (&live, timeout_ms);
}

const char *
facet_explainer_method_title (FacetMapMethod method)
{
  switch (method)
    {
    case FACET_MAP_ROLLOUT:
      return _("Attention rollout");
    case FACET_MAP_LAST_LAYER:
      return _("Last-layer split");
    case FACET_MAP_GRAD_ATTENTION:
      return _("Gradient-weighted attention");
    case FACET_MAP_INPUT_X_GRADIENT:
      return _("Input × gradient");
    case FACET_MAP_OCCLUSION:
      return _("Occlusion");
    case FACET_MAP_NEUTRAL:
      return _("Change from neutral");
    case FACET_MAP_N_METHODS:
    default:
      return NULL;
    }
}

FacetMapMethod
facet_explainer_get_method (GSettings *settings)
{
  g_autofree char *id = g_settings_get_string (settings, "heatmap-method");
  FacetMapMethod method = FACET_MAP_LAST_LAYER;

  facet_map_method_from_string (id, &method);
  return method;
}

void
facet_explanation_free (FacetExplanation *e)
{
  if (e == NULL)
    return;
  g_free (e->attention);
  g_free (e->au_maps);
  g_free (e->probs);
  g_free (e);
}

static Engine *
engine_ref (Engine *e)
{
  g_atomic_ref_count_inc (&e->ref);
  return e;
}

static void
engine_unref (Engine *e)
{
  if (!g_atomic_ref_count_dec (&e->ref))
    return;
  g_mutex_clear (&e->lock);
  g_clear_pointer (&e->engine, facet_engine_free);
  g_clear_pointer (&e->neutral, facet_neutral_frames_free);
  g_free (e->neutral_project);
  g_free (e->path);
  g_free (e);
}

static void
request_free (Request *r)
{
  if (r == NULL)
    return;
  engine_unref (r->engine);
  g_weak_ref_clear (&r->self);
  g_clear_pointer (&r->context, g_main_context_unref);
  g_clear_object (&r->cancellable);
  g_free (r->model_path);
  g_free (r->project_path);
  g_clear_pointer (&r->image, facet_image_unref);
  facet_explanation_free (r->result);
  g_free (r);
}

typedef struct
{
  GCancellable *cancellable; /* of the run that reports */
  double        fraction;
} Report;

static void
report_free (gpointer data)
{
  Report *report = data;

  g_clear_object (&report->cancellable);
  g_free (report);
}

static void
deliver_progress (GObject  *owner,
                  gpointer  data)
{
  FacetExplainer *self = FACET_EXPLAINER (owner);
  Report *report = data;

  /* Not from a run stopped for a newer request or a clear. */
  if (facet_reload_is_current (self->reload, report->cancellable))
    g_signal_emit (self, signals[PROGRESS], 0, report->fraction);
}

/* From the worker: forwarded to the main context. */
static void
on_progress (double      fraction,
             const char *message,
             gpointer    data)
{
  Request *r = data;
  Report *report = g_new0 (Report, 1);
  g_autoptr (GObject) self = g_weak_ref_get (&r->self);

  report->cancellable = g_object_ref (r->cancellable);
  report->fraction = fraction;
  facet_invoke_weak (r->context, self, deliver_progress, report, report_free);
}

/* The neutral frames of the request's video, loaded once per project,
 * model and video (with e->lock held). NULL with @error only when the
 * project cannot be read; a set of 0 frames when the video has none. */
static const FacetNeutralFrames *
neutral_frames (Engine        *e,
                Request       *r,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr (FacetStore) store = NULL;

  /* An empty set is not kept: the video may be analysed meanwhile. */
  if (e->neutral != NULL && e->neutral->n > 0
      && g_strcmp0 (e->neutral_project, r->project_path) == 0 && e->neutral_model == r->model_id
      && e->neutral_video == r->video_id)
    return e->neutral;
  g_clear_pointer (&e->neutral, facet_neutral_frames_free);
  if (r->project_path == NULL)
    return NULL;
  store = facet_store_open (r->project_path, error);
  if (store == NULL)
    return NULL;
  e->neutral = facet_neutral_frames_load (store, r->model_id, r->video_id, e->engine, N_NEUTRAL,
                                          cancellable, error);
  g_free (e->neutral_project);
  e->neutral_project = g_strdup (r->project_path);
  e->neutral_model = r->model_id;
  e->neutral_video = r->video_id;
  return e->neutral;
}

static void
explain_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  Request *r = task_data;
  Engine *e = r->engine;
  GError *error = NULL;
  g_autoptr (FacetForwardResult) out = NULL;
  g_autoptr (FacetImage) crop = NULL;
  const FacetModelConfig *c;
  FacetExplanation *x;
  g_autofree float *input = NULL;
  g_autofree float *maps = NULL;
  FacetMapMethod method = r->method;
  FacetMapOptions options;
  gint64 neutral_frame = -1;
  int g2;

  g_mutex_lock (&e->lock);
  if (e->engine == NULL || g_strcmp0 (e->path, r->model_path) != 0)
    {
      g_autoptr (FacetModel) model = facet_model_load (r->model_path, NULL, &error);

      g_clear_pointer (&e->engine, facet_engine_free);
      g_clear_pointer (&e->path, g_free);
      g_clear_pointer (&e->neutral, facet_neutral_frames_free);
      if (model != NULL)
        e->engine = facet_engine_new (model, "cpu", &error);
      if (e->engine == NULL)
        {
          g_mutex_unlock (&e->lock);
          g_task_return_error (task, error);
          return;
        }
      e->path = g_strdup (r->model_path);
    }
  c = facet_model_get_config (facet_engine_get_model (e->engine));

  if (r->whole)
    {
      /* The frame is the crop: the engine resizes it to the input side. */
      crop = facet_image_ref (r->image);
      memset (r->transform, 0, sizeof r->transform);
      r->transform[0] = (double) r->image->width / c->image_size;
      r->transform[4] = (double) r->image->height / c->image_size;
    }
  else
    crop = facet_face_warp (r->image, r->transform, c->image_size, c->image_size);

  /* The rollout (and the probabilities) from one forward; the AU maps by
   * the chosen method. */
  out = facet_engine_predict_images (e->engine, &crop, 1, FACET_FORWARD_ATTENTION, &error);
  if (out != NULL && c->n_aus > 0)
    {
      gsize per = 3 * (gsize) c->image_size * c->image_size;
      input = g_new (float, per);
      maps = g_new (float, (gsize) c->n_aus * out->grid * out->grid);
      facet_engine_prepare_image (e->engine, crop, input);
      facet_map_options_init (&options);
      if (method == FACET_MAP_NEUTRAL)
        {
          /* The calm frame nearest to this one; without one (the video not
           * analysed by this model yet), occlusion, and the legend says so. */
          g_autoptr (GError) local = NULL;
          const FacetNeutralFrames *set = neutral_frames (e, r, cancellable, &local);
          int k = set != NULL ? facet_neutral_nearest (set->inputs, set->n, per, input) : -1;

          if (local != NULL)
            g_debug ("no neutral frame for video %" G_GINT64_FORMAT ": %s", r->video_id,
                     local->message);
          if (k >= 0)
            {
              options.reference = set->inputs + per * k;
              neutral_frame = set->frames[k];
            }
          else
            method = FACET_MAP_OCCLUSION;
        }
      if (!facet_engine_explain (e->engine, input, method, NULL, 0, &options, maps, on_progress, r,
                                 cancellable, &error))
        g_clear_pointer (&out, facet_forward_result_free);
    }
  if (out == NULL)
    {
      g_mutex_unlock (&e->lock);
      g_task_return_error (task, error);
      return;
    }
  g2 = out->grid * out->grid;
  x = g_new0 (FacetExplanation, 1);
  x->video_id = r->video_id;
  x->frame = r->frame;
  x->model_id = r->model_id;
  x->grid = out->grid;
  x->n_aus = out->n_aus;
  x->crop_size = c->image_size;
  memcpy (x->transform, r->transform, sizeof x->transform);
  x->attention = g_memdup2 (out->attention, sizeof (float) * g2);
  x->method = method;
  x->requested = r->method;
  x->neutral_frame = neutral_frame;
  x->au_maps = g_steal_pointer (&maps);
  x->probs = g_memdup2 (out->probs, sizeof (float) * out->n_aus);
  g_mutex_unlock (&e->lock);
  r->result = x;
  g_task_return_boolean (task, TRUE);
}

static void
explain_done (GObject      *owner,
              GObject      *object,
              GAsyncResult *result)
{
  FacetExplainer *self = FACET_EXPLAINER (owner);
  Request *r = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Cancelled: a newer request took its place. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[FAILED], 0, error);
      return;
    }
  facet_explanation_free (self->result);
  self->result = g_steal_pointer (&r->result);
  g_signal_emit (self, signals[READY], 0, self->result);
}

static gboolean
explain_start (GObject             *owner,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             data)
{
  FacetExplainer *self = FACET_EXPLAINER (owner);
  g_autoptr (GTask) task = NULL;
  Request *r = g_steal_pointer (&self->pending);

  if (r == NULL)
    return FALSE;
  r->cancellable = g_object_ref (cancellable);
  task = g_task_new (self, cancellable, callback, data);
  g_task_set_source_tag (task, explain_start);
  g_task_set_task_data (task, r, (GDestroyNotify) request_free);
  /* The running task's answer comes when it has stopped, also when
   * cancelled: the engine is not used after the explainer has gone. */
  g_task_set_return_on_cancel (task, FALSE);
  facet_task_set_run_in_thread (&live, task, explain_thread);
  return TRUE;
}

void
facet_explainer_request (FacetExplainer *self,
                         const char     *project_path,
                         const char     *model_path,
                         gint64          model_id,
                         FacetImage     *image,
                         const double   *transform,
                         gint64          video_id,
                         gint64          frame,
                         FacetMapMethod  method)
{
  Request *r;

  g_return_if_fail (FACET_IS_EXPLAINER (self));
  g_return_if_fail (model_path != NULL);
  g_return_if_fail (image != NULL);

  r = g_new0 (Request, 1);
  r->engine = engine_ref (self->engine);
  r->project_path = g_strdup (project_path);
  r->model_path = g_strdup (model_path);
  r->model_id = model_id;
  r->image = facet_image_ref (image);
  r->whole = transform == NULL;
  if (transform != NULL)
    memcpy (r->transform, transform, sizeof r->transform);
  r->video_id = video_id;
  r->frame = frame;
  r->method = method;
  r->context = g_main_context_ref_thread_default ();
  g_weak_ref_init (&r->self, self);

  /* The newest request replaces any that waits, and stops a slow one
   * that runs (occlusion of a frame the coder has left); it runs next. */
  request_free (self->pending);
  self->pending = r;
  facet_reload_cancel (self->reload);
  facet_reload_request (self->reload);
}

const FacetExplanation *
facet_explainer_get_result (FacetExplainer *self)
{
  g_return_val_if_fail (FACET_IS_EXPLAINER (self), NULL);
  return self->result;
}

void
facet_explainer_clear (FacetExplainer *self)
{
  g_return_if_fail (FACET_IS_EXPLAINER (self));

  /* Answers to earlier requests are dropped when they arrive; a slow one
   * still running stops. */
  facet_reload_invalidate (self->reload);
  g_clear_pointer (&self->pending, request_free);
  g_clear_pointer (&self->result, facet_explanation_free);
}

static void
facet_explainer_finalize (GObject *object)
{
  FacetExplainer *self = (FacetExplainer *) object;

  g_clear_pointer (&self->reload, facet_reload_free);
  g_clear_pointer (&self->pending, request_free);
  g_clear_pointer (&self->result, facet_explanation_free);
  engine_unref (self->engine);
  G_OBJECT_CLASS (facet_explainer_parent_class)->finalize (object);
}

static void
facet_explainer_class_init (FacetExplainerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = facet_explainer_finalize;

  /**
   * FacetExplainer::ready:
   * @explanation: (type gpointer): the FacetExplanation, owned by the explainer
   */
  signals[READY] =
    g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
  /**
   * FacetExplainer::progress:
   * @fraction: how much of the running request's maps are done (0..1)
   */
  signals[PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_DOUBLE);
}

static void
facet_explainer_init (FacetExplainer *self)
{
  self->engine = g_new0 (Engine, 1);
  g_atomic_ref_count_init (&self->engine->ref);
  g_mutex_init (&self->engine->lock);
  self->reload = facet_reload_new (G_OBJECT (self), explain_start, explain_done);
}

FacetExplainer *
facet_explainer_new (void)
{
  return g_object_new (FACET_TYPE_EXPLAINER, NULL);
}
