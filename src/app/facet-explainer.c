/* facet-explainer.c — attention and evidence maps in a worker thread
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The maps come from the engine's forward (FACET_FORWARD_ATTENTION |
 * FACET_FORWARD_AU_MAPS) on the CPU backend: one image, a few tens of
 * milliseconds, and the same numbers on every machine. The model stays
 * loaded between requests.
 */
#define G_LOG_DOMAIN "facet-explainer"

#include "config.h"

#include <string.h>

#include "engine/facet-engine.h"
#include "face/facet-face.h"

#include "facet-explainer.h"

/* The engine is used by one worker at a time; a request holds the lock
 * for its whole forward. */
typedef struct
{
  gatomicrefcount ref;
  GMutex          lock;
  char           *path;
  FacetEngine    *engine;
} Engine;

struct _FacetExplainer
{
  GObject           parent_instance;

  Engine           *engine;
  gboolean          busy;
  struct _Request  *pending;
  FacetExplanation *result;
  guint             generation;
};

G_DEFINE_FINAL_TYPE (FacetExplainer, facet_explainer, G_TYPE_OBJECT)

enum {
  READY,
  FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct _Request
{
  Engine           *engine;
  char             *model_path;
  gint64            model_id;
  FacetImage       *image;
  gboolean          whole;
  double            transform[6];
  gint64            video_id;
  gint64            frame;
  guint             generation;
  FacetExplanation *result;
} Request;

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
  g_free (e->path);
  g_free (e);
}

static void
request_free (Request *r)
{
  if (r == NULL)
    return;
  engine_unref (r->engine);
  g_free (r->model_path);
  g_clear_pointer (&r->image, facet_image_unref);
  facet_explanation_free (r->result);
  g_free (r);
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
  int g2;

  g_mutex_lock (&e->lock);
  if (e->engine == NULL || g_strcmp0 (e->path, r->model_path) != 0)
    {
      g_autoptr (FacetModel) model = facet_model_load (r->model_path, NULL, &error);

      g_clear_pointer (&e->engine, facet_engine_free);
      g_clear_pointer (&e->path, g_free);
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

  out = facet_engine_predict_images (e->engine, &crop, 1,
                                     FACET_FORWARD_ATTENTION | FACET_FORWARD_AU_MAPS, &error);
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
  x->au_maps = g_memdup2 (out->au_maps, sizeof (float) * g2 * out->n_aus);
  x->probs = g_memdup2 (out->probs, sizeof (float) * out->n_aus);
  g_mutex_unlock (&e->lock);
  r->result = x;
  g_task_return_boolean (task, TRUE);
}

static void start (FacetExplainer *self,
                   Request        *r);

static void
explain_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  FacetExplainer *self = FACET_EXPLAINER (object);
  Request *r = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  self->busy = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (r->generation == self->generation)
        g_signal_emit (self, signals[FAILED], 0, error);
    }
  else if (r->generation == self->generation)
    {
      facet_explanation_free (self->result);
      self->result = g_steal_pointer (&r->result);
      g_signal_emit (self, signals[READY], 0, self->result);
    }
  if (self->pending != NULL)
    {
      Request *next = self->pending;
      self->pending = NULL;
      start (self, next);
    }
}

static void
start (FacetExplainer *self,
       Request        *r)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, explain_done, NULL);

  g_task_set_source_tag (task, start);
  g_task_set_task_data (task, r, (GDestroyNotify) request_free);
  self->busy = TRUE;
  g_task_run_in_thread (task, explain_thread);
}

void
facet_explainer_request (FacetExplainer *self,
                         const char     *model_path,
                         gint64          model_id,
                         FacetImage     *image,
                         const double   *transform,
                         gint64          video_id,
                         gint64          frame)
{
  Request *r;

  g_return_if_fail (FACET_IS_EXPLAINER (self));
  g_return_if_fail (model_path != NULL);
  g_return_if_fail (image != NULL);

  r = g_new0 (Request, 1);
  r->engine = engine_ref (self->engine);
  r->model_path = g_strdup (model_path);
  r->model_id = model_id;
  r->image = facet_image_ref (image);
  r->whole = transform == NULL;
  if (transform != NULL)
    memcpy (r->transform, transform, sizeof r->transform);
  r->video_id = video_id;
  r->frame = frame;
  r->generation = self->generation;

  if (self->busy)
    {
      request_free (self->pending);
      self->pending = r;
      return;
    }
  start (self, r);
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

  /* Answers to earlier requests are dropped when they arrive. */
  self->generation++;
  g_clear_pointer (&self->pending, request_free);
  g_clear_pointer (&self->result, facet_explanation_free);
}

static void
facet_explainer_finalize (GObject *object)
{
  FacetExplainer *self = (FacetExplainer *) object;

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
}

static void
facet_explainer_init (FacetExplainer *self)
{
  self->engine = g_new0 (Engine, 1);
  g_atomic_ref_count_init (&self->engine->ref);
  g_mutex_init (&self->engine->lock);
}

FacetExplainer *
facet_explainer_new (void)
{
  return g_object_new (FACET_TYPE_EXPLAINER, NULL);
}
