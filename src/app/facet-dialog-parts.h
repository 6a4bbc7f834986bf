/* facet-dialog-parts.h — the pieces the app's dialogs are built from
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The scheme and thresholds dialogs edit something and save it (Cancel,
 * Save, a note, a scrolled list); the agreement and consensus windows show
 * what two coders did (a body with a status line). The pieces are made
 * here once, so the dialogs look alike and a change of style is one edit.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* A header bar titled @title with Cancel (closes @window) at the start and
 * a suggested Save at the end, calling @on_save with @window. */
GtkWidget *facet_dialog_edit_header     (GtkWindow   *window,
                                         const char  *title,
                                         GCallback    on_save,
                                         GtkButton  **save_button);
/* A dim, wrapping, left-aligned label: a dialog's explanation or status. */
GtkWidget *facet_dialog_note_new        (const char  *text);
/* A vertical box with @spacing between its children and the margins
 * @top, @sides (start and end) and @bottom. */
GtkWidget *facet_dialog_body_new        (int          spacing,
                                         int          top,
                                         int          sides,
                                         int          bottom);
/* @child in a clamp @max_width wide, in a vertical scroller that takes the
 * height left. */
GtkWidget *facet_dialog_scroll_clamped  (GtkWidget   *child,
                                         int          max_width);

G_END_DECLS
