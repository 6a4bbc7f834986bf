/* facet-au-panel.h — every AU of the model at the current frame
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_AU_PANEL (facet_au_panel_get_type ())

G_DECLARE_FINAL_TYPE (FacetAuPanel, facet_au_panel, FACET, AU_PANEL, GtkWidget)

GtkWidget       *facet_au_panel_new           (void);
/* One row per AU of the model, in its order. */
void             facet_au_panel_set_aus       (FacetAuPanel          *self,
                                               const int             *au_ids,
                                               int                    n_aus);
/* Probabilities and labels of a frame; @thresholds per AU (may be NULL). */
void             facet_au_panel_set_state     (FacetAuPanel          *self,
                                               const FacetFrameState *state,
                                               const float           *thresholds);
/* A second model's probabilities at the frame, per AU of the panel, beside
 * the first's (@name NULL: none). */
void             facet_au_panel_set_compare   (FacetAuPanel          *self,
                                               const char            *name,
                                               const float           *probs,
                                               const float           *thresholds);
/* What row @index shows of the second model, NULL when nothing. */
const char      *facet_au_panel_get_compare_text (FacetAuPanel       *self,
                                               int                    index);
int              facet_au_panel_get_n_aus     (FacetAuPanel          *self);
/* Index of the selected AU in the model's order, -1 when none. */
int              facet_au_panel_get_selected  (FacetAuPanel          *self);
void             facet_au_panel_set_selected  (FacetAuPanel          *self,
                                               int                    index);
int              facet_au_panel_get_au        (FacetAuPanel          *self,
                                               int                    index);
FacetLabelState  facet_au_panel_get_label_state (FacetAuPanel        *self,
                                               int                    index);
/* The intensity shown for the @index-th AU: 1-5 for A-E, 0 for none. */
int              facet_au_panel_get_intensity (FacetAuPanel          *self,
                                               int                    index);
/* Blind coding: no probabilities shown. */
void             facet_au_panel_set_blind     (FacetAuPanel          *self,
                                               gboolean               blind);
/* Whether the selected row lies wholly in the visible part of the list. */
gboolean         facet_au_panel_selected_in_view (FacetAuPanel       *self);
void             facet_au_panel_set_caption   (FacetAuPanel          *self,
                                               const char            *caption);

/* Rows of AUs the model does not predict (coded by hand), in list order. */
void             facet_au_panel_set_hand_coded (FacetAuPanel       *self,
                                               const gboolean     *hand_coded,
                                               int                 n_aus);
gboolean         facet_au_panel_get_hand_coded (FacetAuPanel       *self,
                                               int                 index);

G_END_DECLS
