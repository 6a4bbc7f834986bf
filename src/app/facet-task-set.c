/* facet-task-set.c — the worker threads of one kind still running
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-task-set"

#include "config.h"

#include "facet-task-set.h"

void
facet_task_set_add (FacetTaskSet *set,
                    GCancellable *cancellable)
{
  g_return_if_fail (set != NULL);
  g_return_if_fail (G_IS_CANCELLABLE (cancellable));

  g_mutex_lock (&set->lock);
  if (set->cancellables == NULL)
    set->cancellables = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (set->cancellables, g_object_ref (cancellable));
  g_mutex_unlock (&set->lock);
}

void
facet_task_set_remove (FacetTaskSet *set,
                       GCancellable *cancellable)
{
  g_return_if_fail (set != NULL);

  g_mutex_lock (&set->lock);
  if (set->cancellables != NULL)
    g_ptr_array_remove (set->cancellables, cancellable);
  g_mutex_unlock (&set->lock);
}

typedef struct
{
  FacetTaskSet    *set;
  GTaskThreadFunc  func;
} Tracked;

static void
tracked_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  Tracked *t = g_object_get_data (G_OBJECT (task), "facet-task-set");

  t->func (task, source_object, task_data, cancellable);
  if (cancellable != NULL)
    facet_task_set_remove (t->set, cancellable);
}

void
facet_task_set_run_in_thread (FacetTaskSet    *set,
                              GTask           *task,
                              GTaskThreadFunc  func)
{
  Tracked *t;

  g_return_if_fail (set != NULL);
  g_return_if_fail (G_IS_TASK (task));
  g_return_if_fail (func != NULL);

  t = g_new0 (Tracked, 1);
  t->set = set;
  t->func = func;
  g_object_set_data_full (G_OBJECT (task), "facet-task-set", t, g_free);
  if (g_task_get_cancellable (task) != NULL)
    facet_task_set_add (set, g_task_get_cancellable (task));
  g_task_run_in_thread (task, tracked_thread);
}

gboolean
facet_task_set_stop_all (FacetTaskSet *set,
                         guint         timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean left = FALSE;

  g_return_val_if_fail (set != NULL, FALSE);

  /* Cancelled again on every round: a thread that started meanwhile stops too. */
  for (;;)
    {
      g_mutex_lock (&set->lock);
      left = set->cancellables != NULL && set->cancellables->len > 0;
      for (guint i = 0; left && i < set->cancellables->len; i++)
        g_cancellable_cancel (g_ptr_array_index (set->cancellables, i));
      g_mutex_unlock (&set->lock);
      if (!left || g_get_monotonic_time () >= end)
        break;
      g_usleep (10000);
    }
  return !left;
}
