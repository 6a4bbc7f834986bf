/* facet-window.h — the main window: start page and the coding workspace
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "facet-au-panel.h"
#include "facet-frame-view.h"
#include "facet-player.h"
#include "facet-project.h"
#include "facet-timeline.h"
#include "facet-transport.h"

G_BEGIN_DECLS

#define FACET_TYPE_WINDOW (facet_window_get_type ())

G_DECLARE_FINAL_TYPE (FacetWindow, facet_window, FACET, WINDOW, AdwApplicationWindow)

FacetWindow    *facet_window_new             (AdwApplication *application);
/* Opens (or with @create, makes) a project; with @analyse, starts the
 * analysis of whatever the model has not seen yet. */
void            facet_window_open_project    (FacetWindow    *self,
                                              const char     *path,
                                              gboolean        create,
                                              gboolean        analyse);
/* Builds the demo project in @folder (NULL: the user data folder) when it
 * is missing, opens it and analyses it in the background. */
void            facet_window_open_demo       (FacetWindow    *self,
                                              const char     *folder);
void            facet_window_close_project   (FacetWindow    *self);
/* Shows @video_id of the project at @frame. */
void            facet_window_show_video      (FacetWindow    *self,
                                              gint64          video_id,
                                              gint64          frame);

/* Asks for the subject of @files (GFile: videos or image folders, as a
 * drop or the file chooser gives them) and adds them to the project. */
void            facet_window_add_files       (FacetWindow    *self,
                                              GPtrArray      *files);

void            facet_window_toast           (FacetWindow    *self,
                                              const char     *text);
/* A dialog that says what went wrong and what to do. */
/* The text of the last toast shown (for tests); NULL before the first. */
const char     *facet_window_get_last_toast  (FacetWindow    *self);
/* The event "next to check" last landed in (for tests): its video, AU,
 * first and last frame and the frame shown; FALSE when none. */
gboolean        facet_window_get_review_event (FacetWindow   *self,
                                               gint64        *video_id,
                                               int           *au,
                                               gint64        *first,
                                               gint64        *last,
                                               gint64        *apex);
void            facet_window_error           (FacetWindow    *self,
                                              const char     *heading,
                                              const char     *advice,
                                              const GError   *error);

FacetProject   *facet_window_get_project     (FacetWindow    *self);
FacetPlayer    *facet_window_get_player      (FacetWindow    *self);
gint64          facet_window_get_video_id    (FacetWindow    *self);
FacetFrameView *facet_window_get_frame_view  (FacetWindow    *self);
FacetTimeline  *facet_window_get_timeline    (FacetWindow    *self);
FacetAuPanel   *facet_window_get_au_panel    (FacetWindow    *self);
FacetTransport *facet_window_get_transport   (FacetWindow    *self);
/* Nothing is loading or waiting: the frame, its labels and predictions,
 * the timeline, the heat map (when shown) and label edits are current. */
gboolean        facet_window_is_settled      (FacetWindow    *self);

/* Marked events of the video shown, and the decision threshold of an AU
 * as the window uses it (facet-window-marks.c; for tests). */
guint           facet_window_get_n_marked_events (FacetWindow     *self);
gboolean        facet_window_get_marked_event (FacetWindow        *self,
                                               guint               index,
                                               FacetStoreEvent    *event);
float           facet_window_get_threshold    (FacetWindow        *self,
                                               int                 au);

G_END_DECLS
