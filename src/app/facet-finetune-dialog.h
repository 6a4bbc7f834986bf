/* facet-finetune-dialog.h — fine-tuning on the project's labels with IAT
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_FINETUNE_DIALOG (facet_finetune_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetFinetuneDialog, facet_finetune_dialog, FACET, FINETUNE_DIALOG, AdwWindow)

/* ::reanalyse (gint64 model_id) is emitted when the coder asks to
 * analyse the videos with the new model. */
GtkWidget *facet_finetune_dialog_new (GtkWindow    *parent,
                                      FacetProject *project);

/* Cancels every fine-tuning (and adapting) run of the process and waits
 * (at most @timeout_ms) until their threads have ended, as
 * facet_analysis_stop_all does: a run stopped so leaves no half-written
 * model. TRUE when none is left. */
gboolean   facet_finetune_stop_all   (guint         timeout_ms);

G_END_DECLS
