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

G_END_DECLS
