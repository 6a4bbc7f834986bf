/* facet-consensus-dialog.h — resolving two coders' disagreements
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_CONSENSUS_DIALOG (facet_consensus_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetConsensusDialog, facet_consensus_dialog, FACET, CONSENSUS_DIALOG,
                      AdwWindow)

FacetConsensusDialog *facet_consensus_dialog_new        (GtkWindow            *parent,
                                                         FacetProject         *project);
/* Compares the layers of coders @a and @b; FALSE when one has no layer. */
gboolean              facet_consensus_dialog_set_coders (FacetConsensusDialog *self,
                                                         const char           *a,
                                                         const char           *b);
/* Runs of disagreeing frames left (as listed now). */
guint                 facet_consensus_dialog_get_n_runs (FacetConsensusDialog *self);
/* Whether a list is being read or a decision written. */
gboolean              facet_consensus_dialog_is_busy    (FacetConsensusDialog *self);

G_END_DECLS
