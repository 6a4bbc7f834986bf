/* facet-sample-dialog.h — picking the reliability sample
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_SAMPLE_DIALOG (facet_sample_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetSampleDialog, facet_sample_dialog, FACET, SAMPLE_DIALOG,
                      AdwMessageDialog)

FacetSampleDialog *facet_sample_dialog_new        (GtkWindow         *parent,
                                                   FacetProject      *project);
/* The share of each video (percent) and the segment length (seconds). */
void               facet_sample_dialog_set_values (FacetSampleDialog *self,
                                                   double             percent,
                                                   double             seconds);

G_END_DECLS
