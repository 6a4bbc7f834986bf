/* facet-notes-window.h — search, jump to, delete and export the notes
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-window.h"

G_BEGIN_DECLS

#define FACET_TYPE_NOTES_WINDOW (facet_notes_window_get_type ())

G_DECLARE_FINAL_TYPE (FacetNotesWindow, facet_notes_window, FACET, NOTES_WINDOW, AdwWindow)

GtkWidget   *facet_notes_window_new          (FacetWindow      *window);
/* Writes the notes (@events FALSE) or the marked events as CSV, as the
 * Export menu does after asking for the file. */
void         facet_notes_window_export_to    (FacetNotesWindow *self,
                                              const char       *path,
                                              gboolean          events);
/* For tests. */
guint        facet_notes_window_get_n_notes  (FacetNotesWindow *self);
gboolean     facet_notes_window_is_loading   (FacetNotesWindow *self);
GtkEditable *facet_notes_window_get_search   (FacetNotesWindow *self);
/* As a click on the row: goes to the note. */
gboolean     facet_notes_window_activate_row (FacetNotesWindow *self,
                                              int               index);

G_END_DECLS
