/* facet-project.c — an open project: worker threads, change signals, caches
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-project"

#include "config.h"

#include <math.h>
#include <string.h>

#include "facet-project.h"
#include "facet-reload.h"

/* One worker thread with its own connection and a FIFO of jobs, so that
 * label edits happen in the order the coder made them. */
typedef struct
{
  GAsyncQueue *jobs;
  FacetStore  *store;
} Worker;

typedef struct
{
  GTask           *task;
  FacetProjectJob  func;      /* NULL: the worker ends */
  gpointer         data;
  GDestroyNotify   data_free;
  GDestroyNotify   result_free;
} Job;

/* Watch callbacks come from worker threads and may outlive the project. */
typedef struct
{
  GWeakRef      project;
  GMainContext *context;
} WatchTarget;

struct _FacetProject
{
  GObject       parent_instance;

  char         *path;
  char         *title;
  Worker       *workers[2];
  WatchTarget  *watch_target;
  GPtrArray    *videos;       /* FacetStoreVideo */
  GPtrArray    *models;       /* FacetStoreModel */
  gint64        model_id;
  double        common_threshold;
  char         *coder;
  char         *layer;        /* NULL: the final layer */
  gint64        serials[4];
  FacetReload  *poll;       /* reading the change counters: one read at a time */
  guint         reload_serial;
  int          *scheme;       /* the lab's coding scheme, ascending; NULL: the model's AUs */
  int           n_scheme;
};

G_DEFINE_FINAL_TYPE (FacetProject, facet_project, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PATH,
  PROP_TITLE,
  PROP_MODEL_ID,
  PROP_CODER,
  N_PROPS
};

enum {
  CHANGED,
  VIDEOS_CHANGED,
  MODELS_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const FacetStoreChange change_kinds[4] = {
  FACET_STORE_CHANGE_LABELS, FACET_STORE_CHANGE_PREDICTIONS,
  FACET_STORE_CHANGE_VIDEOS, FACET_STORE_CHANGE_MODELS,
};

void
facet_frame_state_free (FacetFrameState *state)
{
  if (state == NULL)
    return;
  g_free (state->probs);
  g_clear_pointer (&state->labels, g_array_unref);
  g_free (state);
}

const FacetLabel *
facet_frame_state_find_label (const FacetFrameState *state,
                              int                    au)
{
  g_return_val_if_fail (state != NULL, NULL);

  if (state->labels == NULL)
    return NULL;
  for (guint i = 0; i < state->labels->len; i++)
    {
      const FacetLabel *l = &g_array_index (state->labels, FacetLabel, i);
      if (l->au == au)
        return l;
    }
  return NULL;
}

/* ---- Workers --------------------------------------------------------------------------------- */

static gpointer
worker_main (gpointer user_data)
{
  Worker *w = user_data;

  for (;;)
    {
      Job *job = g_async_queue_pop (w->jobs);
      GError *error = NULL;
      gpointer result = NULL;
      GCancellable *cancellable;

      if (job->func == NULL)
        {
          g_free (job);
          break;
        }
      cancellable = g_task_get_cancellable (job->task);
      if (!g_cancellable_set_error_if_cancelled (cancellable, &error))
        result = job->func (w->store, job->data, cancellable, &error);
      if (error != NULL)
        g_task_return_error (job->task, error);
      else
        g_task_return_pointer (job->task, result, job->result_free);
      if (job->data_free != NULL)
        job->data_free (job->data);
      g_object_unref (job->task);
      g_free (job);
    }

  facet_store_close (w->store);
  g_async_queue_unref (w->jobs);
  g_free (w);
  return NULL;
}

static Worker *
worker_start (FacetStore *store,
              const char *name)
{
  Worker *w = g_new0 (Worker, 1);

  w->jobs = g_async_queue_new ();
  w->store = store;
  g_thread_unref (g_thread_new (name, worker_main, w));
  return w;
}

/* The worker finishes the jobs it has, then closes its connection and
 * frees itself: nobody waits for it (this may even run in the worker). */
static void
worker_stop (Worker *w)
{
  g_async_queue_push (w->jobs, g_new0 (Job, 1));
}

void
facet_project_run (FacetProject        *self,
                   FacetProjectQueue    queue,
                   FacetProjectJob      func,
                   gpointer             data,
                   GDestroyNotify       data_free,
                   GDestroyNotify       result_free,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  Job *job;

  g_return_if_fail (FACET_IS_PROJECT (self));
  g_return_if_fail (func != NULL);
  g_return_if_fail (queue == FACET_PROJECT_QUEUE_EDIT || queue == FACET_PROJECT_QUEUE_LOAD);

  job = g_new0 (Job, 1);
  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, facet_project_run);
  job->func = func;
  job->data = data;
  job->data_free = data_free;
  job->result_free = result_free;
  g_async_queue_push (self->workers[queue]->jobs, job);
}

gpointer
facet_project_run_finish (FacetProject  *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- Change notification --------------------------------------------------------------------- */

typedef struct
{
  WatchTarget     *target;
  FacetStoreChange what;
  gint64           video_id;
  gint64           first;
  gint64           last;
} Change;

static void
watch_target_free (gpointer data)
{
  WatchTarget *t = data;

  g_weak_ref_clear (&t->project);
  g_main_context_unref (t->context);
}

static void
change_free (gpointer data)
{
  Change *c = data;

  g_rc_box_release_full (c->target, watch_target_free);
  g_free (c);
}

static gboolean
emit_change (gpointer data)
{
  Change *c = data;
  g_autoptr (FacetProject) self = g_weak_ref_get (&c->target->project);

  if (self == NULL)
    return G_SOURCE_REMOVE;
  if (c->what & (FACET_STORE_CHANGE_VIDEOS | FACET_STORE_CHANGE_MODELS))
    facet_project_reload (self);
  g_signal_emit (self, signals[CHANGED], 0, (guint) c->what, c->video_id, c->first, c->last);
  return G_SOURCE_REMOVE;
}

/* Runs in the thread that committed. */
static void
on_store_changed (FacetStore      *store,
                  FacetStoreChange what,
                  gint64           video_id,
                  gint64           first,
                  gint64           last,
                  gpointer         user_data)
{
  WatchTarget *target = user_data;
  Change *c = g_new0 (Change, 1);

  c->target = g_rc_box_acquire (target);
  c->what = what;
  c->video_id = video_id;
  c->first = first;
  c->last = last;
  g_main_context_invoke_full (target->context, G_PRIORITY_DEFAULT, emit_change, c, change_free);
}

static void
release_target (gpointer data)
{
  g_rc_box_release_full (data, watch_target_free);
}

/* ---- Opening --------------------------------------------------------------------------------- */

typedef struct
{
  char       *path;
  gboolean    create;
  FacetStore *edit;
  FacetStore *load;
  GPtrArray  *videos;
  GPtrArray  *models;
  int        *scheme;
  int         n_scheme;
  gint64      serials[4];
} OpenData;

/* The model a project opens with: the newest that predicts AUs (a
 * pre-trained encoder has none), 0 when there is none. */
static gint64
latest_predicting_model (GPtrArray *models)
{
  for (guint i = models->len; i > 0; i--)
    {
      FacetStoreModel *m = g_ptr_array_index (models, i - 1);
      if (m->n_aus > 0)
        return m->id;
    }
  return 0;
}

static void
open_data_free (gpointer data)
{
  OpenData *d = data;

  g_free (d->path);
  g_clear_pointer (&d->edit, facet_store_close);
  g_clear_pointer (&d->load, facet_store_close);
  g_clear_pointer (&d->videos, g_ptr_array_unref);
  g_clear_pointer (&d->models, g_ptr_array_unref);
  g_free (d->scheme);
  g_free (d);
}

static void
open_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  OpenData *d = task_data;
  GError *error = NULL;

  d->edit = d->create ? facet_store_create (d->path, &error) : facet_store_open (d->path, &error);
  if (d->edit == NULL)
    goto failed;
  d->load = facet_store_open (d->path, &error);
  if (d->load == NULL)
    goto failed;
  d->videos = facet_store_list_videos (d->edit, &error);
  if (d->videos == NULL)
    goto failed;
  d->models = facet_store_list_models (d->edit, &error);
  if (d->models == NULL)
    goto failed;
  d->scheme = facet_store_get_scheme (d->edit, &d->n_scheme, &error);
  if (error != NULL)
    goto failed;
  for (guint i = 0; i < G_N_ELEMENTS (change_kinds); i++)
    d->serials[i] = facet_store_get_serial (d->edit, change_kinds[i]);
  g_task_return_boolean (task, TRUE);
  return;

failed:
  g_task_return_error (task, error);
}

void
facet_project_open_async (const char          *path,
                          gboolean             create,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  OpenData *d;

  g_return_if_fail (path != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, facet_project_open_async);
  d = g_new0 (OpenData, 1);
  d->path = g_strdup (path);
  d->create = create;
  g_task_set_task_data (task, d, open_data_free);
  g_task_run_in_thread (task, open_thread);
}

FacetProject *
facet_project_open_finish (GAsyncResult  *result,
                           GError       **error)
{
  FacetProject *self;
  OpenData *d;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  d = g_task_get_task_data (G_TASK (result));

  self = g_object_new (FACET_TYPE_PROJECT, "path", facet_store_get_path (d->edit), NULL);
  self->videos = g_steal_pointer (&d->videos);
  self->models = g_steal_pointer (&d->models);
  self->scheme = g_steal_pointer (&d->scheme);
  self->n_scheme = d->n_scheme;
  memcpy (self->serials, d->serials, sizeof self->serials);
  self->model_id = latest_predicting_model (self->models);

  self->watch_target = g_rc_box_new0 (WatchTarget);
  g_weak_ref_init (&self->watch_target->project, self);
  self->watch_target->context = g_main_context_ref_thread_default ();
  facet_store_add_watch (d->edit, on_store_changed, g_rc_box_acquire (self->watch_target),
                         release_target);
  facet_store_add_watch (d->load, on_store_changed, g_rc_box_acquire (self->watch_target),
                         release_target);
  self->workers[FACET_PROJECT_QUEUE_EDIT] = worker_start (g_steal_pointer (&d->edit), "facet-edit");
  self->workers[FACET_PROJECT_QUEUE_LOAD] = worker_start (g_steal_pointer (&d->load), "facet-load");
  return self;
}

/* ---- Object ---------------------------------------------------------------------------------- */

static gboolean poll_start (GObject             *owner,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             data);
static void     poll_done  (GObject             *owner,
                            GObject             *object,
                            GAsyncResult        *result);

static void
facet_project_finalize (GObject *object)
{
  FacetProject *self = (FacetProject *) object;

  for (guint i = 0; i < G_N_ELEMENTS (self->workers); i++)
    if (self->workers[i] != NULL)
      worker_stop (self->workers[i]);
  if (self->watch_target != NULL)
    g_rc_box_release_full (self->watch_target, watch_target_free);
  g_clear_pointer (&self->poll, facet_reload_free);
  g_clear_pointer (&self->videos, g_ptr_array_unref);
  g_clear_pointer (&self->models, g_ptr_array_unref);
  g_free (self->scheme);
  g_free (self->path);
  g_free (self->title);
  g_free (self->coder);
  g_free (self->layer);

  G_OBJECT_CLASS (facet_project_parent_class)->finalize (object);
}

static void
facet_project_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  FacetProject *self = FACET_PROJECT (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_MODEL_ID:
      g_value_set_int64 (value, self->model_id);
      break;
    case PROP_CODER:
      g_value_set_string (value, facet_project_get_coder (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_project_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  FacetProject *self = FACET_PROJECT (object);

  switch (prop_id)
    {
    case PROP_PATH:
      {
        g_autofree char *base = NULL;

        self->path = g_value_dup_string (value);
        base = g_path_get_basename (self->path);
        if (g_str_has_suffix (base, ".facet"))
          base[strlen (base) - strlen (".facet")] = '\0';
        self->title = g_steal_pointer (&base);
      }
      break;
    case PROP_MODEL_ID:
      facet_project_set_model_id (self, g_value_get_int64 (value));
      break;
    case PROP_CODER:
      facet_project_set_coder (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_project_class_init (FacetProjectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = facet_project_finalize;
  object_class->get_property = facet_project_get_property;
  object_class->set_property = facet_project_set_property;

  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_MODEL_ID] =
    g_param_spec_int64 ("model-id", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CODER] =
    g_param_spec_string ("coder", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FacetProject::changed:
   * @what: FacetStoreChange flags
   * @video_id: the video touched (0: several or unknown)
   * @first: first frame touched
   * @last: last frame touched (-1: to the end)
   *
   * Emitted on the main context after a commit by any of the project's
   * connections, or when facet_project_poll() notices another's.
   */
  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_INT64, G_TYPE_INT64, G_TYPE_INT64);
  signals[VIDEOS_CHANGED] =
    g_signal_new ("videos-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  signals[MODELS_CHANGED] =
    g_signal_new ("models-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
facet_project_init (FacetProject *self)
{
  self->common_threshold = NAN;
  self->poll = facet_reload_new (G_OBJECT (self), poll_start, poll_done);
}

const char *
facet_project_get_path (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  return self->path;
}

const char *
facet_project_get_title (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  return self->title;
}

GPtrArray *
facet_project_get_videos (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  return self->videos;
}

FacetStoreVideo *
facet_project_get_video (FacetProject *self,
                         gint64        video_id)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);

  for (guint i = 0; i < self->videos->len; i++)
    {
      FacetStoreVideo *v = g_ptr_array_index (self->videos, i);
      if (v->id == video_id)
        return v;
    }
  return NULL;
}

GPtrArray *
facet_project_get_models (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  return self->models;
}

const int *
facet_project_get_scheme (FacetProject *self,
                          int          *n_aus)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  *n_aus = self->n_scheme;
  return self->scheme;
}

FacetStoreModel *
facet_project_find_model (FacetProject *self,
                          gint64        model_id)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);

  for (guint i = 0; i < self->models->len; i++)
    {
      FacetStoreModel *m = g_ptr_array_index (self->models, i);
      if (m->id == model_id)
        return m;
    }
  return NULL;
}

gint64
facet_project_get_model_id (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), 0);
  return self->model_id;
}

void
facet_project_set_model_id (FacetProject *self,
                            gint64        model_id)
{
  g_return_if_fail (FACET_IS_PROJECT (self));

  if (self->model_id == model_id || facet_project_find_model (self, model_id) == NULL)
    return;
  self->model_id = model_id;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_ID]);
}

FacetStoreModel *
facet_project_get_model (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  return facet_project_find_model (self, self->model_id);
}

float
facet_project_get_threshold (FacetProject *self,
                             int           au_index)
{
  FacetStoreModel *m;

  g_return_val_if_fail (FACET_IS_PROJECT (self), 0.5f);

  if (!isnan (self->common_threshold))
    return (float) self->common_threshold;
  m = facet_project_get_model (self);
  if (m == NULL || au_index < 0 || au_index >= m->n_aus || m->thresholds == NULL)
    return 0.5f;
  return m->thresholds[au_index];
}

void
facet_project_set_common_threshold (FacetProject *self,
                                    double        threshold)
{
  g_return_if_fail (FACET_IS_PROJECT (self));
  self->common_threshold = threshold;
}

/* ---- Coder ----------------------------------------------------------------------------------- */

static gpointer
set_coder_job (FacetStore   *store,
               gpointer      data,
               GCancellable *cancellable,
               GError      **error)
{
  facet_store_set_coder (store, data);
  return GINT_TO_POINTER (1);
}

const char *
facet_project_get_coder (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);

  if (self->coder != NULL && *self->coder != '\0')
    return self->coder;
  if (g_getenv ("FACET_CODER") != NULL && *g_getenv ("FACET_CODER") != '\0')
    return g_getenv ("FACET_CODER");
  return g_get_user_name ();
}

void
facet_project_set_coder (FacetProject *self,
                         const char   *coder)
{
  g_return_if_fail (FACET_IS_PROJECT (self));

  if (g_strcmp0 (self->coder, coder) == 0)
    return;
  g_free (self->coder);
  self->coder = g_strdup (coder);
  /* The edit connection makes every label change, undo and redo. */
  facet_project_run (self, FACET_PROJECT_QUEUE_EDIT, set_coder_job,
                     g_strdup (facet_project_get_coder (self)), g_free, NULL, NULL, NULL, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODER]);
}

/* ---- Layer ----------------------------------------------------------------------------------- */

static gpointer
set_layer_job (FacetStore   *store,
               gpointer      data,
               GCancellable *cancellable,
               GError      **error)
{
  facet_store_set_layer (store, data);
  return GINT_TO_POINTER (1);
}

const char *
facet_project_get_layer (FacetProject *self)
{
  g_return_val_if_fail (FACET_IS_PROJECT (self), NULL);
  return self->layer;
}

void
facet_project_set_layer (FacetProject *self,
                         const char   *layer)
{
  g_return_if_fail (FACET_IS_PROJECT (self));

  if (layer != NULL && *layer == '\0')
    layer = NULL;
  if (g_strcmp0 (self->layer, layer) == 0)
    return;
  g_free (self->layer);
  self->layer = g_strdup (layer);
  /* Both connections: edits and undo on one, the lanes and the review
   * queue on the other read the same layer. Jobs run in order, so
   * everything asked after this sees it. */
  for (int q = FACET_PROJECT_QUEUE_EDIT; q <= FACET_PROJECT_QUEUE_LOAD; q++)
    facet_project_run (self, q, set_layer_job, g_strdup (layer), g_free, NULL, NULL, NULL, NULL);
}

/* ---- Reloading and polling ------------------------------------------------------------------- */

typedef struct
{
  GPtrArray *videos;
  GPtrArray *models;
  int       *scheme;
  int        n_scheme;
} Lists;

static void
lists_free (gpointer data)
{
  Lists *l = data;

  g_clear_pointer (&l->videos, g_ptr_array_unref);
  g_clear_pointer (&l->models, g_ptr_array_unref);
  g_free (l->scheme);
  g_free (l);
}

static gpointer
reload_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  Lists *l = g_new0 (Lists, 1);

  l->videos = facet_store_list_videos (store, error);
  if (l->videos != NULL)
    l->models = facet_store_list_models (store, error);
  if (l->models != NULL)
    {
      GError *scheme_error = NULL;

      l->scheme = facet_store_get_scheme (store, &l->n_scheme, &scheme_error);
      if (scheme_error != NULL)
        {
          g_propagate_error (error, scheme_error);
          g_clear_pointer (&l->models, g_ptr_array_unref);
        }
    }
  if (l->models == NULL)
    {
      lists_free (l);
      return NULL;
    }
  return l;
}

static void
reload_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  FacetProject *self = FACET_PROJECT (object);
  g_autoptr (GError) error = NULL;
  Lists *l = facet_project_run_finish (self, result, &error);
  gboolean model_gone;

  if (l == NULL)
    {
      g_warning ("%s: cannot read the videos and models: %s", self->path, error->message);
      return;
    }
  g_clear_pointer (&self->videos, g_ptr_array_unref);
  g_clear_pointer (&self->models, g_ptr_array_unref);
  self->videos = g_steal_pointer (&l->videos);
  self->models = g_steal_pointer (&l->models);
  g_free (self->scheme);
  self->scheme = g_steal_pointer (&l->scheme);
  self->n_scheme = l->n_scheme;
  lists_free (l);

  model_gone = facet_project_get_model (self) == NULL;
  if (model_gone || self->model_id == 0)
    {
      self->model_id = latest_predicting_model (self->models);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_ID]);
    }
  g_signal_emit (self, signals[VIDEOS_CHANGED], 0);
  g_signal_emit (self, signals[MODELS_CHANGED], 0);
}

void
facet_project_reload (FacetProject *self)
{
  g_return_if_fail (FACET_IS_PROJECT (self));

  facet_project_run (self, FACET_PROJECT_QUEUE_LOAD, reload_job, NULL, NULL, lists_free, NULL,
                     reload_done, NULL);
}

static gpointer
serials_job (FacetStore   *store,
             gpointer      data,
             GCancellable *cancellable,
             GError      **error)
{
  gint64 *serials = g_new0 (gint64, G_N_ELEMENTS (change_kinds));

  for (guint i = 0; i < G_N_ELEMENTS (change_kinds); i++)
    serials[i] = facet_store_get_serial (store, change_kinds[i]);
  return serials;
}

static void
poll_done (GObject      *owner,
           GObject      *object,
           GAsyncResult *result)
{
  FacetProject *self = FACET_PROJECT (owner);
  g_autofree gint64 *serials = facet_project_run_finish (self, result, NULL);
  guint what = 0;

  if (serials == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (change_kinds); i++)
    if (serials[i] != self->serials[i])
      {
        what |= change_kinds[i];
        self->serials[i] = serials[i];
      }
  if (what == 0)
    return;
  if (what & (FACET_STORE_CHANGE_VIDEOS | FACET_STORE_CHANGE_MODELS))
    facet_project_reload (self);
  g_signal_emit (self, signals[CHANGED], 0, what, (gint64) 0, (gint64) 0, (gint64) -1);
}

static gboolean
poll_start (GObject             *owner,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             data)
{
  facet_project_run (FACET_PROJECT (owner), FACET_PROJECT_QUEUE_LOAD, serials_job, NULL, NULL,
                     g_free, cancellable, callback, data);
  return TRUE;
}

void
facet_project_poll (FacetProject *self)
{
  g_return_if_fail (FACET_IS_PROJECT (self));

  facet_reload_request (self->poll);
}

/* ---- Frames ---------------------------------------------------------------------------------- */

typedef struct
{
  gint64 video_id;
  gint64 frame;
  gint64 model_id;
  int    n_aus;
} FrameQuery;

static gpointer
load_frame_job (FacetStore   *store,
                gpointer      data,
                GCancellable *cancellable,
                GError      **error)
{
  FrameQuery *q = data;
  g_autoptr (GArray) labels = NULL;
  FacetFrameState *s;
  gboolean found = FALSE;

  labels = facet_store_get_frame_labels (store, q->video_id, q->frame, error);
  if (labels == NULL)
    return NULL;
  s = g_new0 (FacetFrameState, 1);
  s->video_id = q->video_id;
  s->frame = q->frame;
  s->model_id = q->model_id;
  s->labels = g_steal_pointer (&labels);
  s->n_aus = q->n_aus;
  s->probs = g_new (float, MAX (q->n_aus, 1));
  for (int i = 0; i < q->n_aus; i++)
    s->probs[i] = NAN;
  if (q->model_id > 0
      && !facet_store_get_prediction (store, q->model_id, q->video_id, q->frame, s->probs,
                                      &s->analysed, error))
    {
      facet_frame_state_free (s);
      return NULL;
    }
  if (!facet_store_get_face (store, q->video_id, q->frame, &s->face, &found, error))
    {
      facet_frame_state_free (s);
      return NULL;
    }
  s->face.probs = NULL;
  s->has_face = found && (s->face.status == FACET_STORE_FACE_FOUND
                          || s->face.status == FACET_STORE_FACE_WHOLE);
  return s;
}

void
facet_project_load_frame_async (FacetProject        *self,
                                gint64               video_id,
                                gint64               frame,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  FrameQuery *q;
  FacetStoreModel *m;

  g_return_if_fail (FACET_IS_PROJECT (self));

  q = g_new0 (FrameQuery, 1);
  q->video_id = video_id;
  q->frame = frame;
  m = facet_project_get_model (self);
  q->model_id = m ? m->id : 0;
  q->n_aus = m ? m->n_aus : 0;
  facet_project_run (self, FACET_PROJECT_QUEUE_EDIT, load_frame_job, q, g_free,
                     (GDestroyNotify) facet_frame_state_free, cancellable, callback, user_data);
}

FacetFrameState *
facet_project_load_frame_finish (FacetProject  *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  return facet_project_run_finish (self, result, error);
}

static gpointer
layers_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  return facet_store_list_layers (store, error);
}

void
facet_project_list_layers_async (FacetProject        *self,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (FACET_IS_PROJECT (self));

  facet_project_run (self, FACET_PROJECT_QUEUE_LOAD, layers_job, NULL, NULL,
                     (GDestroyNotify) g_strfreev, NULL, callback, user_data);
}

GStrv
facet_project_list_layers_finish (FacetProject  *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  return facet_project_run_finish (self, result, error);
}

/* ---- Edits ----------------------------------------------------------------------------------- */

typedef struct
{
  gint64           video_id;
  gint64           first;
  gint64           last;
  int              au;
  FacetLabelState  state;
  FacetLabelSource source;
  FacetLabel      *labels;
  guint            n;
  char            *description;
  gboolean         redo;
} Edit;

static void
edit_free (gpointer data)
{
  Edit *e = data;

  g_free (e->labels);
  g_free (e->description);
  g_free (e);
}

/* Edits return a copy of the change set id: a pointer, so that "nothing
 * changed" (0) is not mistaken for a failure by the GTask. */
static gpointer
set_labels_job (FacetStore   *store,
                gpointer      data,
                GCancellable *cancellable,
                GError      **error)
{
  Edit *e = data;
  gint64 id;

  if (e->labels != NULL)
    id = facet_store_write_labels (store, e->labels, e->n, e->description, error);
  else
    id = facet_store_set_label_range (store, e->video_id, e->first, e->last, e->au, e->state,
                                      e->source, error);
  if (id < 0)
    return NULL;
  return g_memdup2 (&id, sizeof id);
}

void
facet_project_set_labels_async (FacetProject        *self,
                                gint64               video_id,
                                gint64               first,
                                gint64               last,
                                int                  au,
                                FacetLabelState      state,
                                FacetLabelSource     source,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  Edit *e;

  g_return_if_fail (FACET_IS_PROJECT (self));
  g_return_if_fail (first <= last);

  e = g_new0 (Edit, 1);
  e->video_id = video_id;
  e->first = first;
  e->last = last;
  e->au = au;
  e->state = state;
  e->source = source;
  facet_project_run (self, FACET_PROJECT_QUEUE_EDIT, set_labels_job, e, edit_free, g_free, NULL,
                     callback, user_data);
}

void
facet_project_write_labels_async (FacetProject        *self,
                                  const FacetLabel    *labels,
                                  guint                n,
                                  const char          *description,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  Edit *e;

  g_return_if_fail (FACET_IS_PROJECT (self));
  g_return_if_fail (labels != NULL && n > 0);

  e = g_new0 (Edit, 1);
  e->labels = g_memdup2 (labels, n * sizeof (FacetLabel));
  e->n = n;
  e->description = g_strdup (description);
  facet_project_run (self, FACET_PROJECT_QUEUE_EDIT, set_labels_job, e, edit_free, g_free, NULL,
                     callback, user_data);
}

static gpointer
undo_job (FacetStore   *store,
          gpointer      data,
          GCancellable *cancellable,
          GError      **error)
{
  Edit *e = data;
  g_autoptr (GError) peek_error = NULL;
  /* What is about to be undone, so that the coder can be told. */
  FacetChangeset *target = e->redo ? facet_store_peek_redo (store, &peek_error)
                                   : facet_store_peek_undo (store, &peek_error);
  gint64 id = e->redo ? facet_store_redo (store, NULL, error) : facet_store_undo (store, NULL,
                                                                                  error);

  if (id <= 0)
    {
      g_clear_pointer (&target, facet_changeset_free);
      return NULL;
    }
  if (target == NULL)
    target = g_new0 (FacetChangeset, 1);
  target->id = id;
  return target;
}

void
facet_project_undo_async (FacetProject        *self,
                          gboolean             redo,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  Edit *e;

  g_return_if_fail (FACET_IS_PROJECT (self));

  e = g_new0 (Edit, 1);
  e->redo = redo;
  facet_project_run (self, FACET_PROJECT_QUEUE_EDIT, undo_job, e, edit_free,
                     (GDestroyNotify) facet_changeset_free, NULL, callback, user_data);
}

FacetChangeset *
facet_project_undo_finish (FacetProject  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  return facet_project_run_finish (self, result, error);
}

gint64
facet_project_edit_finish (FacetProject  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_autofree gint64 *id = facet_project_run_finish (self, result, error);

  return id != NULL ? *id : -1;
}
