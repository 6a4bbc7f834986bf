/* facet-export-dialog.h — AU time series, events, ELAN, summaries, labels
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_EXPORT_DIALOG (facet_export_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetExportDialog, facet_export_dialog, FACET, EXPORT_DIALOG, AdwWindow)

GtkWidget *facet_export_dialog_new (GtkWindow    *parent,
                                    FacetProject *project,
                                    gint64        video_id,
                                    double        threshold);
/* Exports what the dialog shows to @path (what the file chooser hands
 * over); the window is told in a toast, and the dialog closes. */
void       facet_export_dialog_export_to (FacetExportDialog *self,
                                          const char        *path);

G_END_DECLS
