/* facet-frame-view.h — the frame as decoded, with face box, landmarks and
 * the model's heat map drawn over it
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "store/facet-store.h"

G_BEGIN_DECLS

typedef enum
{
  FACET_HEATMAP_ATTENTION, /* where the model looked: values >= 0 */
  FACET_HEATMAP_EVIDENCE,  /* one AU's logit split over the patches, against the average patch */
  FACET_HEATMAP_EFFECT,    /* signed around zero: > 0 for the AU (occlusion, input x gradient) */
} FacetHeatmapKind;

#define FACET_TYPE_FRAME_VIEW (facet_frame_view_get_type ())

G_DECLARE_FINAL_TYPE (FacetFrameView, facet_frame_view, FACET, FRAME_VIEW, GtkWidget)

GtkWidget *facet_frame_view_new            (void);
/* The picture of @frame (NULL: none). Overlays of other frames are hidden
 * until theirs arrive. */
void       facet_frame_view_set_texture    (FacetFrameView         *self,
                                            GdkTexture             *texture,
                                            gint64                  frame);
gint64     facet_frame_view_get_frame      (FacetFrameView         *self);
/* The face of @frame as analysed (NULL: none). */
void       facet_frame_view_set_face       (FacetFrameView         *self,
                                            const FacetFrameResult *face,
                                            gint64                  frame);
/* A map on the model's patch grid (@grid x @grid values, row-major) for
 * @frame, placed on the frame by @transform (crop -> image) from a crop of
 * side @crop_size. NULL @values clears it. */
void       facet_frame_view_set_heatmap    (FacetFrameView         *self,
                                            const float            *values,
                                            int                     grid,
                                            FacetHeatmapKind        kind,
                                            const double            transform[6],
                                            int                     crop_size,
                                            gint64                  frame);
/* The method that made the map, named in the legend (NULL: none). */
void       facet_frame_view_set_heatmap_title (FacetFrameView      *self,
                                            const char             *title);
/* A slow map's progress in the legend, 0..1; negative: none running. */
void       facet_frame_view_set_heatmap_progress (FacetFrameView   *self,
                                            double                  fraction);
/* The map shown (NULL: none) and its grid, as given to set_heatmap. */
const float *facet_frame_view_get_heatmap  (FacetFrameView         *self,
                                            int                    *grid);
/* The legend's text (the method, and what the colours mean). */
char      *facet_frame_view_get_legend     (FacetFrameView         *self);
/* What is shown in words, for screen readers ("Frame 12 of video 3"). */
void       facet_frame_view_set_description (FacetFrameView        *self,
                                            const char             *description);
/* A line over the picture when there is nothing to show ("No face found"). */
void       facet_frame_view_set_notice     (FacetFrameView         *self,
                                            const char             *notice);
/* 1 shows the whole frame; 2 or 4 magnify it around the face (the last
 * one found), clamped to the frame's edges. */
void       facet_frame_view_set_zoom       (FacetFrameView         *self,
                                            double                  zoom);
double     facet_frame_view_get_zoom       (FacetFrameView         *self);
/* Where the face box of the frame shown lies in the view's coordinates;
 * FALSE when the frame has no face. */
gboolean   facet_frame_view_get_face_bounds (FacetFrameView        *self,
                                            graphene_rect_t        *bounds);

G_END_DECLS
