/* facet-reload.h — one load at a time off the main loop: a reload asked
 * meanwhile coalesced into one more, a stale answer dropped
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What a panel shows from the project (the frame's labels, the timeline's
 * lanes, the marks, the notes list, the sidebar's statistics) is read again
 * whenever the project changes, many times a second while a coder works or
 * an analysis writes. A FacetReload runs one such load at a time:
 *
 * - facet_reload_request() starts the load now, or, while one runs, once
 *   more after it (any number of requests meanwhile make one load, which
 *   reads the state of that moment);
 * - facet_reload_invalidate() says the running load was asked for something
 *   the owner has left (another video, model or query): it is cancelled, its
 *   answer dropped, and a reload asked before forgotten.
 *
 * The owner gives two functions: @start reads its current state and starts
 * the work (facet_project_run, a GTask), @done takes an answer that is not
 * stale. While a load runs the owner is kept alive by a reference. Main
 * thread only.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _FacetReload FacetReload;

/* Starts one load: its GAsyncReadyCallback must be @callback with @data as
 * user data, and it should stop early when @cancellable is cancelled.
 * FALSE: nothing to load now (then @callback is not called). */
typedef gboolean (*FacetReloadStartFunc) (GObject             *owner,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             data);
/* The answer of a load not invalidated since it started: finish @result
 * with the function that belongs to what @start ran. */
typedef void     (*FacetReloadDoneFunc)  (GObject             *owner,
                                          GObject             *source,
                                          GAsyncResult        *result);

/* @owner holds the reload (freed with it, in its finalize). */
FacetReload *facet_reload_new        (GObject              *owner,
                                      FacetReloadStartFunc  start,
                                      FacetReloadDoneFunc   done);
void         facet_reload_free       (FacetReload          *self);
void         facet_reload_request    (FacetReload          *self);
/* Asks the running load to stop early; its answer still comes (a
 * cancelled error, or what it had) unless invalidated. */
void         facet_reload_cancel     (FacetReload          *self);
void         facet_reload_invalidate (FacetReload          *self);
/* A load runs (or is about to run again). */
gboolean     facet_reload_is_busy    (FacetReload          *self);
/* Whether the load that @cancellable belongs to is still the current one
 * (for progress reports from a worker, checked on the main context). */
gboolean     facet_reload_is_current (FacetReload          *self,
                                      GCancellable         *cancellable);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetReload, facet_reload_free)

G_END_DECLS
