/* facet-sidebar.h — the project's videos by subject, with analysis and
 * coding progress, and the model whose predictions are shown
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_SIDEBAR (facet_sidebar_get_type ())

G_DECLARE_FINAL_TYPE (FacetSidebar, facet_sidebar, FACET, SIDEBAR, GtkWidget)

GtkWidget *facet_sidebar_new                (void);
void       facet_sidebar_set_project        (FacetSidebar *self,
                                             FacetProject *project);
/* Reads the progress figures again (at most twice a second). */
void       facet_sidebar_refresh            (FacetSidebar *self);
gint64     facet_sidebar_get_selected_video (FacetSidebar *self);
void       facet_sidebar_select_video       (FacetSidebar *self,
                                             gint64        video_id);
/* The videos in the order shown (subject, then number). */
GArray    *facet_sidebar_get_video_order    (FacetSidebar *self);

G_END_DECLS
