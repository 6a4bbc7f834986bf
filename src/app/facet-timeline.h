/* facet-timeline.h — one lane per AU: the model's probability, the
 * threshold, the coder's labels and where they disagree
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "facet-timeline-data.h"
#include "facet-timeline-marks.h"

G_BEGIN_DECLS

#define FACET_TYPE_TIMELINE (facet_timeline_get_type ())

G_DECLARE_FINAL_TYPE (FacetTimeline, facet_timeline, FACET, TIMELINE, GtkWidget)

GtkWidget         *facet_timeline_new             (void);
/* Takes @data (NULL: empty); lane i shows AU @au_ids[i]. */
void               facet_timeline_set_data        (FacetTimeline     *self,
                                                   FacetTimelineData *data,
                                                   const int         *au_ids,
                                                   double             fps);
FacetTimelineData *facet_timeline_get_data        (FacetTimeline     *self);
/* Blind coding: no probabilities, threshold or disagreements drawn. */
void               facet_timeline_set_hide_predictions (FacetTimeline *self,
                                                   gboolean           hide);
gboolean           facet_timeline_get_hide_predictions (FacetTimeline *self);
/* A second model's probabilities beside the data's: @other has the same
 * lanes and frames, each lane that model's probability of the lane's AU
 * (NAN where it lacks the AU) and its threshold. Drawn as a dashed orange
 * line over the first model's curve, the frames where the two disagree
 * at their thresholds shaded; the tooltip names both (@name, @other_name).
 * Takes @other (NULL: no comparison); cleared by set_data. */
void               facet_timeline_set_compare     (FacetTimeline     *self,
                                                   FacetTimelineData *other,
                                                   const char        *name,
                                                   const char        *other_name);
FacetTimelineData *facet_timeline_get_compare     (FacetTimeline     *self);
/* The runs of @lane where the models disagree, as drawn
 * (facet_timeline_data_compare; state: the first model's); NULL and 0
 * without a comparison. */
const FacetLabelSegment *facet_timeline_get_compare_runs (FacetTimeline *self,
                                                   int                lane,
                                                   guint             *n);
/* Redraws after the data changed. */
void               facet_timeline_data_changed    (FacetTimeline     *self);

gint64             facet_timeline_get_position    (FacetTimeline     *self);
/* Moves the playhead; the view pages along when it leaves it. */
void               facet_timeline_set_position    (FacetTimeline     *self,
                                                   gint64             frame);
int                facet_timeline_get_selected_lane (FacetTimeline   *self);
void               facet_timeline_set_selected_lane (FacetTimeline   *self,
                                                   int                lane);

/* The range the coder dragged (or set with in/out points) in a lane. */
gboolean           facet_timeline_get_range       (FacetTimeline     *self,
                                                   int               *lane,
                                                   gint64            *first,
                                                   gint64            *last);
void               facet_timeline_set_range       (FacetTimeline     *self,
                                                   int                lane,
                                                   gint64             first,
                                                   gint64             last);
void               facet_timeline_clear_range     (FacetTimeline     *self);

void               facet_timeline_zoom            (FacetTimeline     *self,
                                                   double             factor);
void               facet_timeline_zoom_fit        (FacetTimeline     *self);
GtkAdjustment     *facet_timeline_get_hadjustment (FacetTimeline     *self);
GtkAdjustment     *facet_timeline_get_vadjustment (FacetTimeline     *self);
/* The geometry of the last layout (for tests and the benchmark). */
const FacetTimelineLayout *facet_timeline_get_layout (FacetTimeline  *self);

/* Coders' marks (facet-timeline-marks.c): events and notes, replaced as a
 * whole; cleared by set_data. */
void               facet_timeline_set_marks       (FacetTimeline           *self,
                                                   const FacetTimelineMark *marks,
                                                   guint                    n_marks);
guint              facet_timeline_count_marks     (FacetTimeline           *self,
                                                   FacetTimelineMarkKind    kind);
/* Lanes of AUs the model does not predict (@n_lanes: the data's). */
void               facet_timeline_set_hand_coded  (FacetTimeline           *self,
                                                   const gboolean          *hand_coded,
                                                   int                      n_lanes);
gboolean           facet_timeline_get_hand_coded  (FacetTimeline           *self,
                                                   int                      lane);

G_END_DECLS
