/* facet-timeline-marks.h — events, notes and hand-coded lanes on the timeline
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "facet-timeline-data.h"

G_BEGIN_DECLS

typedef enum
{
  FACET_TIMELINE_MARK_EVENT,   /* a marked event: onset to offset, apex */
  FACET_TIMELINE_MARK_PENDING, /* an event being marked: onset (and apex) so far */
  FACET_TIMELINE_MARK_NOTE,    /* a note on a frame or a range */
} FacetTimelineMarkKind;

typedef struct
{
  FacetTimelineMarkKind kind;
  int                   lane;  /* -1: every lane (a note on the whole frame) */
  gint64                first;
  gint64                apex;  /* -1: none */
  gint64                last;
} FacetTimelineMark;

/* Draws the marks of lanes @lane0..@lane1 over the plot (called by the
 * timeline's snapshot); @hand_layout caches the hand-coded lanes' text. */
void facet_timeline_marks_draw (GtkWidget                 *widget,
                                GtkSnapshot               *snapshot,
                                const FacetTimelineLayout *layout,
                                const FacetTimelineMark   *marks,
                                guint                      n_marks,
                                const gboolean            *hand_coded,
                                PangoLayout              **hand_layout,
                                int                        lane0,
                                int                        lane1,
                                int                        height);

G_END_DECLS
