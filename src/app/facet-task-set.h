/* facet-task-set.h — the worker threads of one kind still running, so that
 * quitting can stop them
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Closing the last window ends the main loop, not the threads that analyse
 * videos or compute heat maps. Each kind of worker keeps a process-wide set
 * of the cancellables of its threads (a static FacetTaskSet, zero-filled),
 * started with facet_task_set_run_in_thread() (or add and remove by hand),
 * and main() stops them all before the process exits under them.
 * Thread-safe: add and remove run in the workers, stop_all in main().
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GMutex     lock;
  GPtrArray *cancellables; /* GCancellable, one per running thread */
} FacetTaskSet;

/* In the worker, first thing: @cancellable is cancelled by stop_all. */
void     facet_task_set_add      (FacetTaskSet *set,
                                  GCancellable *cancellable);
/* In the worker, last thing. */
void     facet_task_set_remove   (FacetTaskSet *set,
                                  GCancellable *cancellable);
/* g_task_run_in_thread (@task, @func) with @task's cancellable in @set
 * from now until @func has returned: a stop_all before the thread starts
 * finds it too. */
void     facet_task_set_run_in_thread (FacetTaskSet    *set,
                                       GTask           *task,
                                       GTaskThreadFunc  func);
/* Cancels every running thread of @set and waits (at most @timeout_ms)
 * until all have removed themselves. TRUE when none is left. */
gboolean facet_task_set_stop_all (FacetTaskSet *set,
                                  guint         timeout_ms);

G_END_DECLS
