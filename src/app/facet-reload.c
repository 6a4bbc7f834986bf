/* facet-reload.c — one load at a time, coalesced reloads, stale answers
 * dropped
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each load gets a cancellable of its own; invalidating cancels it and
 * raises the generation, so that the answer, when it comes, is recognised
 * as stale by the generation it carries.
 */
#define G_LOG_DOMAIN "facet-reload"

#include "config.h"

#include "facet-reload.h"

struct _FacetReload
{
  GObject              *owner;      /* not a reference: it holds the reload */
  FacetReloadStartFunc  start;
  FacetReloadDoneFunc   done;
  GCancellable         *running;    /* of the load in flight; NULL: none */
  guint                 generation; /* raised by invalidate */
  gboolean              again;
};

/* Travels with one load. */
typedef struct
{
  FacetReload *reload;
  GObject     *owner;               /* a reference while the load runs */
  guint        generation;
} Flight;

FacetReload *
facet_reload_new (GObject              *owner,
                  FacetReloadStartFunc  start,
                  FacetReloadDoneFunc   done)
{
  FacetReload *self;

  g_return_val_if_fail (G_IS_OBJECT (owner), NULL);
  g_return_val_if_fail (start != NULL && done != NULL, NULL);

  self = g_new0 (FacetReload, 1);
  self->owner = owner;
  self->start = start;
  self->done = done;
  return self;
}

void
facet_reload_free (FacetReload *self)
{
  if (self == NULL)
    return;
  /* A load in flight holds the owner, which holds the reload: none is. */
  g_warn_if_fail (self->running == NULL);
  g_clear_object (&self->running);
  g_free (self);
}

static void
reload_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Flight *f = data;
  FacetReload *self = f->reload;
  g_autoptr (GObject) owner = f->owner;
  gboolean current = f->generation == self->generation;
  gboolean again = self->again;

  g_free (f);
  g_clear_object (&self->running);
  self->again = FALSE;
  if (current)
    self->done (owner, source, result);
  if (again)
    facet_reload_request (self);
}

void
facet_reload_request (FacetReload *self)
{
  Flight *f;

  g_return_if_fail (self != NULL);

  if (self->running != NULL)
    {
      self->again = TRUE;
      return;
    }
  f = g_new0 (Flight, 1);
  f->reload = self;
  f->owner = g_object_ref (self->owner);
  f->generation = self->generation;
  self->running = g_cancellable_new ();
  if (!self->start (self->owner, self->running, reload_done, f))
    {
      g_clear_object (&self->running);
      g_object_unref (f->owner);
      g_free (f);
    }
}

void
facet_reload_cancel (FacetReload *self)
{
  g_return_if_fail (self != NULL);

  if (self->running != NULL)
    g_cancellable_cancel (self->running);
}

void
facet_reload_invalidate (FacetReload *self)
{
  g_return_if_fail (self != NULL);

  self->generation++;
  self->again = FALSE;
  facet_reload_cancel (self);
}

gboolean
facet_reload_is_busy (FacetReload *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->running != NULL;
}

gboolean
facet_reload_is_current (FacetReload  *self,
                         GCancellable *cancellable)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return cancellable != NULL && cancellable == self->running
         && !g_cancellable_is_cancelled (cancellable);
}
