/* facet-invoke.h — a worker's report handed to the main context, for an
 * object that may be gone by then
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Workers (the analysis, the heat maps, the demo build) report progress
 * from their threads; the report is shown on the main context, where the
 * object it is for may have been finalized meanwhile (a window closed). The
 * object is held by a weak reference until the report runs.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef void (*FacetInvokeFunc) (GObject  *owner,
                                 gpointer  data);

/* From any thread: calls @func (@owner, @data) on @context, unless @owner
 * has been finalized by then; @data is freed with @data_free either way. */
void facet_invoke_weak (GMainContext    *context,
                        GObject         *owner,
                        FacetInvokeFunc  func,
                        gpointer         data,
                        GDestroyNotify   data_free);

G_END_DECLS
