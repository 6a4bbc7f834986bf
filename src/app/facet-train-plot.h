/* facet-train-plot.h — training loss per step and validation F1 per epoch
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define FACET_TYPE_TRAIN_PLOT (facet_train_plot_get_type ())

G_DECLARE_FINAL_TYPE (FacetTrainPlot, facet_train_plot, FACET, TRAIN_PLOT, GtkWidget)

GtkWidget *facet_train_plot_new      (void);
void       facet_train_plot_reset    (FacetTrainPlot *self,
                                      gint64          n_steps,
                                      int             n_epochs);
void       facet_train_plot_add_loss (FacetTrainPlot *self,
                                      gint64          step,
                                      double          loss);
/* F1 < 0 or NAN: not measurable this epoch. */
void       facet_train_plot_add_f1   (FacetTrainPlot *self,
                                      int             epoch,
                                      double          f1);
guint      facet_train_plot_get_n_points (FacetTrainPlot *self);

G_END_DECLS
