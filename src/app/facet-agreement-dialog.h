/* facet-agreement-dialog.h — inter-coder reliability per AU
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_AGREEMENT_DIALOG (facet_agreement_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetAgreementDialog, facet_agreement_dialog, FACET, AGREEMENT_DIALOG,
                      AdwWindow)

FacetAgreementDialog *facet_agreement_dialog_new        (GtkWindow            *parent,
                                                         FacetProject         *project);
/* Chooses the two coders by their store names ("final", a coder's layer,
 * "model:ID"); FALSE when one is not offered. */
gboolean              facet_agreement_dialog_set_coders (FacetAgreementDialog *self,
                                                         const char           *a,
                                                         const char           *b);
/* The statistics shown (GArray of FacetAgreement) and the report text. */
const GArray         *facet_agreement_dialog_get_rows   (FacetAgreementDialog *self);
const char           *facet_agreement_dialog_get_report (FacetAgreementDialog *self);
/* Whether the coders or the statistics are still being read. */
gboolean              facet_agreement_dialog_is_busy    (FacetAgreementDialog *self);

G_END_DECLS
