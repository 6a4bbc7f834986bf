/* facet-explainer.h — where the model looks: attention rollout and per-AU
 * evidence maps for the frame on screen, computed off the main loop
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"

G_BEGIN_DECLS

typedef struct
{
  gint64  video_id;
  gint64  frame;
  gint64  model_id;
  int     grid;         /* patches per side */
  int     n_aus;
  int     crop_size;    /* the model's input side */
  double  transform[6]; /* crop -> frame */
  float  *attention;    /* [grid * grid]: the attention rollout */
  FacetMapMethod method; /* how au_maps were made */
  FacetMapMethod requested; /* the method asked for: change from neutral falls back to
                               occlusion where the video has no neutral frame yet */
  gint64  neutral_frame; /* change from neutral: the frame it was measured against; else -1 */
  float  *au_maps;      /* [n_aus, grid * grid]: each AU's map (engine-explain.h) */
  float  *probs;        /* [n_aus] */
} FacetExplanation;

void facet_explanation_free (FacetExplanation *explanation);

/* The method's name for legends and menus, translated. */
const char     *facet_explainer_method_title (FacetMapMethod  method);
/* The per-AU method the coder chose (GSettings "heatmap-method"). */
FacetMapMethod  facet_explainer_get_method   (GSettings      *settings);

#define FACET_TYPE_EXPLAINER (facet_explainer_get_type ())

G_DECLARE_FINAL_TYPE (FacetExplainer, facet_explainer, FACET, EXPLAINER, GObject)

FacetExplainer         *facet_explainer_new        (void);
/* Explains @image (a whole frame): the crop is the frame itself when
 * @transform is NULL, else the model-sized crop that @transform (crop ->
 * frame) places on it; the AU maps by @method. Change from neutral takes
 * its neutral frame from @project_path's analysis of @video_id by
 * @model_id (facet_neutral_frames_load: the calmest frames, the nearest of
 * them), and falls back to occlusion where there is none. The newest request
 * replaces any that waits and cancels one that runs; ::progress while it
 * runs, then ::ready (or ::failed; nothing when cancelled). */
void                    facet_explainer_request    (FacetExplainer *self,
                                                    const char     *project_path,
                                                    const char     *model_path,
                                                    gint64          model_id,
                                                    FacetImage     *image,
                                                    const double   *transform,
                                                    gint64          video_id,
                                                    gint64          frame,
                                                    FacetMapMethod  method);
const FacetExplanation *facet_explainer_get_result (FacetExplainer *self);
/* Drops the result and any request, and stops a running one. */
void                    facet_explainer_clear      (FacetExplainer *self);
/* At quit: cancels every explainer thread still running and waits up to
 * @timeout_ms for them to end; FALSE if some did not. */
gboolean                facet_explainer_stop_all   (guint           timeout_ms);

G_END_DECLS
