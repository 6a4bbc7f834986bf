/* facet-explainer.h — where the model looks: attention rollout and per-AU
 * evidence maps for the frame on screen, computed off the main loop
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "core/facet-core.h"

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
  float  *attention;    /* [grid * grid] */
  float  *au_maps;      /* [n_aus, grid * grid]: each AU's logit split over the patches */
  float  *probs;        /* [n_aus] */
} FacetExplanation;

void facet_explanation_free (FacetExplanation *explanation);

#define FACET_TYPE_EXPLAINER (facet_explainer_get_type ())

G_DECLARE_FINAL_TYPE (FacetExplainer, facet_explainer, FACET, EXPLAINER, GObject)

FacetExplainer         *facet_explainer_new        (void);
/* Explains @image (a whole frame): the crop is the frame itself when
 * @transform is NULL, else the model-sized crop that @transform (crop ->
 * frame) places on it. The newest request replaces any that waits;
 * ::ready follows (or ::failed). */
void                    facet_explainer_request    (FacetExplainer *self,
                                                    const char     *model_path,
                                                    gint64          model_id,
                                                    FacetImage     *image,
                                                    const double   *transform,
                                                    gint64          video_id,
                                                    gint64          frame);
const FacetExplanation *facet_explainer_get_result (FacetExplainer *self);
void                    facet_explainer_clear      (FacetExplainer *self);

G_END_DECLS
