/* facet-timeline-marks.c — what coders add on the timeline: marked events
 * (onset to offset, the apex as a notch), notes (a flag at their first
 * frame, a line over their range) and the lanes of AUs coded by hand
 * (no model curve: said in the lane)
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-timeline"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-timeline-marks.h"

static const GdkRGBA event_colour = { 0.569f, 0.255f, 0.675f, 1.0f };  /* purple */
static const GdkRGBA pending_colour = { 0.569f, 0.255f, 0.675f, 0.5f };
static const GdkRGBA note_colour = { 0.902f, 0.647f, 0.0f, 1.0f };     /* amber */

#define EVENT_Y   3.0  /* below the lane's top rule */
#define EVENT_H   4.0
#define NOTE_SIZE 7.0

static void
draw_event (GtkSnapshot               *snapshot,
            const FacetTimelineLayout *l,
            const FacetTimelineMark   *m,
            double                     y)
{
  const GdkRGBA *c = m->kind == FACET_TIMELINE_MARK_PENDING ? &pending_colour : &event_colour;
  double x0 = facet_timeline_layout_frame_to_x (l, (double) m->first);
  double x1 = facet_timeline_layout_frame_to_x (l, (double) m->last + 1);

  /* Brackets at onset and offset, a bar between them. */
  gtk_snapshot_append_color (snapshot, c, &GRAPHENE_RECT_INIT (x0, y + EVENT_Y, MAX (x1 - x0, 2),
                                                                EVENT_H));
  gtk_snapshot_append_color (snapshot, c, &GRAPHENE_RECT_INIT (x0, y + EVENT_Y, 2, 12));
  if (m->kind != FACET_TIMELINE_MARK_PENDING)
    gtk_snapshot_append_color (snapshot, c, &GRAPHENE_RECT_INIT (MAX (x1 - 2, x0), y + EVENT_Y, 2,
                                                                  12));
  if (m->apex >= 0)
    {
      double xa = facet_timeline_layout_frame_to_x (l, (double) m->apex + 0.5);
      gtk_snapshot_append_color (snapshot, c, &GRAPHENE_RECT_INIT (xa - 3, y + EVENT_Y, 6,
                                                                    EVENT_H + 6));
    }
}

static void
draw_note (GtkSnapshot               *snapshot,
           const FacetTimelineLayout *l,
           const FacetTimelineMark   *m,
           double                     y,
           double                     height)
{
  double x0 = facet_timeline_layout_frame_to_x (l, (double) m->first);
  double x1 = facet_timeline_layout_frame_to_x (l, (double) m->last + 1);
  GdkRGBA band = note_colour;

  band.alpha = 0.35f;
  if (x1 - x0 > NOTE_SIZE)
    gtk_snapshot_append_color (snapshot, &band, &GRAPHENE_RECT_INIT (x0, y + 1, x1 - x0, 2));
  /* A small flag: a post and a square. */
  gtk_snapshot_append_color (snapshot, &note_colour, &GRAPHENE_RECT_INIT (x0, y, 1.5, height));
  gtk_snapshot_append_color (snapshot, &note_colour, &GRAPHENE_RECT_INIT (x0, y, NOTE_SIZE,
                                                                          NOTE_SIZE));
}

void
facet_timeline_marks_draw (GtkWidget                 *widget,
                           GtkSnapshot               *snapshot,
                           const FacetTimelineLayout *l,
                           const FacetTimelineMark   *marks,
                           guint                      n_marks,
                           const gboolean            *hand_coded,
                           PangoLayout              **hand_layout,
                           int                        lane0,
                           int                        lane1,
                           int                        height)
{
  GdkRGBA dim = { 0.5f, 0.5f, 0.5f, 0.9f };

  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (l->label_width, l->ruler_height,
                                                         facet_timeline_layout_plot_width (l),
                                                         height - l->ruler_height));
  if (hand_coded != NULL)
    for (int lane = lane0; lane <= lane1; lane++)
      if (hand_coded[lane])
        {
          if (*hand_layout == NULL)
            *hand_layout = gtk_widget_create_pango_layout (
              widget, _("Coded by hand: the model does not predict this action unit"));
          gtk_snapshot_save (snapshot);
          gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (
                                    l->label_width + 12,
                                    facet_timeline_layout_lane_y (l, lane) + 14));
          gtk_snapshot_append_layout (snapshot, *hand_layout, &dim);
          gtk_snapshot_restore (snapshot);
        }
  for (guint i = 0; i < n_marks; i++)
    {
      const FacetTimelineMark *m = &marks[i];

      if (m->kind == FACET_TIMELINE_MARK_NOTE && m->lane < 0)
        {
          /* A note on the whole frame: over every lane in view. */
          double y0 = facet_timeline_layout_lane_y (l, lane0);
          draw_note (snapshot, l, m, MAX (y0, l->ruler_height),
                     (lane1 - lane0 + 1) * l->lane_height);
          continue;
        }
      if (m->lane < lane0 || m->lane > lane1)
        continue;
      if (m->kind == FACET_TIMELINE_MARK_NOTE)
        draw_note (snapshot, l, m, facet_timeline_layout_lane_y (l, m->lane), l->lane_height);
      else
        draw_event (snapshot, l, m, facet_timeline_layout_lane_y (l, m->lane));
    }
  gtk_snapshot_pop (snapshot);
}
