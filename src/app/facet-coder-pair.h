/* facet-coder-pair.h — the choice of two coders to compare ("Coder A",
 * "Coder B"), shared by the agreement and the consensus windows
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define FACET_TYPE_CODER_PAIR (facet_coder_pair_get_type ())

G_DECLARE_FINAL_TYPE (FacetCoderPair, facet_coder_pair, FACET, CODER_PAIR, GtkBox)

GtkWidget  *facet_coder_pair_new        (void);
/* Offers the coders @names (store names: a coder's layer, "final",
 * "model:ID"), shown as @titles (NULL: the names), with @a and @b chosen.
 * No ::changed. */
void        facet_coder_pair_set_coders (FacetCoderPair     *self,
                                         const char * const *names,
                                         const char * const *titles,
                                         guint               a,
                                         guint               b);
/* Chooses the two by store name; FALSE (and nothing changed) when one is
 * not offered. No ::changed. */
gboolean    facet_coder_pair_select     (FacetCoderPair     *self,
                                         const char         *a,
                                         const char         *b);
/* The store names chosen; NULL before coders are offered. */
const char *facet_coder_pair_get_a      (FacetCoderPair     *self);
const char *facet_coder_pair_get_b      (FacetCoderPair     *self);
/* How many coders are offered. */
guint       facet_coder_pair_get_n      (FacetCoderPair     *self);

G_END_DECLS
