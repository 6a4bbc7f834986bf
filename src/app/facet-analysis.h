/* facet-analysis.h — a project's videos through the model, in the
 * background, with progress and cancel
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pipeline/facet-pipeline.h"

G_BEGIN_DECLS

#define FACET_TYPE_ANALYSIS (facet_analysis_get_type ())

G_DECLARE_FINAL_TYPE (FacetAnalysis, facet_analysis, FACET, ANALYSIS, GObject)

FacetAnalysis *facet_analysis_new          (void);
/* Analyses @video_ids (NULL: all) of the project at @project_path with its
 * model @model_id on @backend ("cpu", "vulkan", "auto"); frames analysed
 * already are skipped. FALSE while another analysis runs. */
gboolean       facet_analysis_start        (FacetAnalysis *self,
                                            const char    *project_path,
                                            gint64         model_id,
                                            const gint64  *video_ids,
                                            guint          n_videos,
                                            const char    *backend);
void           facet_analysis_cancel       (FacetAnalysis *self);
gboolean       facet_analysis_get_running  (FacetAnalysis *self);
double         facet_analysis_get_fraction (FacetAnalysis *self);
/* "1 234 of 5 000 frames · 30 frames/s · 2 min left", translated. */
const char    *facet_analysis_get_text     (FacetAnalysis *self);
gint64         facet_analysis_get_model_id (FacetAnalysis *self);

/* Cancels every analysis of the process and waits (at most @timeout_ms)
 * until their threads have ended: called when the application's main loop
 * has returned, so that no worker still uses the engine while the process
 * exits. TRUE when none is left. */
gboolean       facet_analysis_stop_all     (guint          timeout_ms);

G_END_DECLS
