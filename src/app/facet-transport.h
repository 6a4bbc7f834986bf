/* facet-transport.h — play, step, jump, go to; frame number and time
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "facet-player.h"

G_BEGIN_DECLS

#define FACET_TYPE_TRANSPORT (facet_transport_get_type ())

G_DECLARE_FINAL_TYPE (FacetTransport, facet_transport, FACET, TRANSPORT, GtkWidget)

GtkWidget *facet_transport_new        (void);
void       facet_transport_set_player (FacetTransport *self,
                                       FacetPlayer    *player);
/* Opens the "go to frame or time" popover with the entry focused. */
void       facet_transport_show_goto  (FacetTransport *self);
/* The text of the frame and time display (for tests). */
char      *facet_transport_dup_position_text (FacetTransport *self);

G_END_DECLS
