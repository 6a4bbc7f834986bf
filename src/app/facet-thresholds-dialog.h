/* facet-thresholds-dialog.h — a model's per-AU thresholds, with the F1 at each
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"
#include "facet-window.h"

G_BEGIN_DECLS

#define FACET_TYPE_THRESHOLDS_DIALOG (facet_thresholds_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetThresholdsDialog, facet_thresholds_dialog, FACET, THRESHOLDS_DIALOG,
                      AdwWindow)

GtkWidget  *facet_thresholds_dialog_new         (FacetWindow           *window,
                                                 FacetProject          *project,
                                                 gint64                 model_id);
/* Writes the sliders' thresholds to the model (as the Save button does). */
void        facet_thresholds_dialog_save        (FacetThresholdsDialog *self);
/* For tests: the slider and the F1 line of @au, and whether the F1 is known. */
GtkRange   *facet_thresholds_dialog_get_scale   (FacetThresholdsDialog *self,
                                                 int                    au);
const char *facet_thresholds_dialog_get_f1_text (FacetThresholdsDialog *self,
                                                 int                    au);
gboolean    facet_thresholds_dialog_is_measured (FacetThresholdsDialog *self);

G_END_DECLS
