/* facet-add-media-dialog.h — the subject and crop of new videos
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-project.h"

G_BEGIN_DECLS

#define FACET_TYPE_ADD_MEDIA_DIALOG (facet_add_media_dialog_get_type ())

G_DECLARE_FINAL_TYPE (FacetAddMediaDialog, facet_add_media_dialog, FACET, ADD_MEDIA_DIALOG,
                      AdwWindow)

/* Asks for the subject of @files (GFile: videos or image folders), probes
 * and adds them in the background; ::added follows with the new ids. */
GtkWidget *facet_add_media_dialog_new (GtkWindow    *parent,
                                       FacetProject *project,
                                       GPtrArray    *files);
/* The subject guessed from a file name: "s03_session1.mp4" -> "s03". */
char      *facet_add_media_guess_subject (const char *path);

G_END_DECLS
