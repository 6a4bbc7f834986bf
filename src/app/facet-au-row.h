/* facet-au-row.h — one action unit in the AU panel
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "store/facet-store.h"

G_BEGIN_DECLS

#define FACET_TYPE_AU_ROW (facet_au_row_get_type ())

G_DECLARE_FINAL_TYPE (FacetAuRow, facet_au_row, FACET, AU_ROW, GtkListBoxRow)

GtkWidget *facet_au_row_new             (int               au);
int        facet_au_row_get_au          (FacetAuRow       *self);
/* NAN @probability: not analysed or no face. */
void       facet_au_row_set_probability (FacetAuRow       *self,
                                         float             probability,
                                         float             threshold);
/* NULL or an UNSET label: not labelled. */
void       facet_au_row_set_label       (FacetAuRow       *self,
                                         const FacetLabel *label);
FacetLabelState facet_au_row_get_state  (FacetAuRow       *self);
/* The intensity shown: 1-5 for A-E, 0 for none. */
int        facet_au_row_get_intensity   (FacetAuRow       *self);
/* Blind coding: the model's probability is not shown. */
void       facet_au_row_set_blind       (FacetAuRow       *self,
                                         gboolean          blind);

/* A second model's probability beside the first's (@name NULL: none;
 * NAN: none at this frame). */
void       facet_au_row_set_compare     (FacetAuRow       *self,
                                         const char       *name,
                                         float             probability,
                                         float             threshold);
/* What the row shows of the second model ("╍ 0.31"), NULL when none. */
const char *facet_au_row_get_compare_text (FacetAuRow     *self);

/* An AU of the coding scheme the model does not predict: no bar, says so. */
void             facet_au_row_set_hand_coded  (FacetAuRow *self,
                                               gboolean    hand_coded);
gboolean         facet_au_row_get_hand_coded  (FacetAuRow *self);

G_END_DECLS
