/* facet-scheme-dialog.h — the project's coding scheme
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"
#include "facet-window.h"

G_BEGIN_DECLS

#define FACET_TYPE_SCHEME_DIALOG (facet_scheme_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetSchemeDialog, facet_scheme_dialog, FACET, SCHEME_DIALOG, AdwWindow)

GtkWidget      *facet_scheme_dialog_new       (FacetWindow       *window,
                                               FacetProject      *project);
/* Stores the ticked codes (as the Save button does). */
void            facet_scheme_dialog_save      (FacetSchemeDialog *self);
/* The tick box of @au (for tests), NULL when FACS has no name for it here. */
GtkCheckButton *facet_scheme_dialog_get_check (FacetSchemeDialog *self,
                                               int                au);

G_END_DECLS
