/* facet-timeline.c — the AU lanes, drawn from decimated data
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Like Sysprof's charts: the data is summarised ahead of time
 * (FacetTimelineData keeps a min/max/mean pyramid), so a snapshot asks for
 * one summary per pixel column and only scales and appends; geometry and
 * hit-testing live in facet-timeline-data.c where they are tested without
 * a display.
 */
#define G_LOG_DOMAIN "facet-timeline"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "facet-facs.h"
#include "facet-timecode.h"
#include "facet-timeline.h"
#include "facet-timeline-marks.h"

#define LABEL_WIDTH   148.0
#define RULER_HEIGHT  22.0
#define LANE_HEIGHT   44.0
#define DISAGREE_H    4.0
#define LABELS_H      6.0
#define DRAG_SLOP     4.0

typedef enum
{
  DRAG_NONE,
  DRAG_PENDING, /* pressed in a lane: a click or the start of a range */
  DRAG_RANGE,
  DRAG_SCRUB,   /* pressed on the ruler: seek while moving */
} DragMode;

struct _FacetTimeline
{
  GtkWidget            parent_instance;

  FacetTimelineData   *data;
  int                 *au_ids;
  int                  n_lanes;
  double               fps;
  FacetTimelineLayout  layout;
  gboolean             fitted;
  gboolean             fit_mode; /* showing the whole video: stays so when resized */
  gint64               position;
  int                  selected_lane;

  gboolean             has_range;
  int                  range_lane;
  gint64               range_first;
  gint64               range_last;

  GtkAdjustment       *hadj;
  GtkAdjustment       *vadj;
  gboolean             updating_adjustments;
  GtkWidget           *popover;

  DragMode             drag_mode;
  double               drag_x;
  double               drag_y;
  int                  drag_lane;
  gint64               drag_frame;
  double               pointer_x;

  GPtrArray           *lane_layouts; /* 2 per lane: code, name */
  GHashTable          *tick_layouts; /* ruler text -> PangoLayout */
  GdkTexture          *lanes_texture; /* curves and runs as last drawn */
  guint                serial;       /* raised when the data changes */
  guint                cache_serial;
  double               cache_first;
  double               cache_fpp;
  double               cache_scroll;
  int                  cache_width;
  int                  cache_height;
  FacetTimelineSpan   *buckets;
  guint                n_buckets;
  GArray              *rects;

  /* Coders' marks (facet-timeline-marks.c) */
  GArray              *marks;        /* FacetTimelineMark */
  gboolean            *hand_coded;   /* per lane, or NULL */
  PangoLayout         *hand_layout;
  gboolean             hide_predictions; /* blind coding */

  /* A second model's curves (facet_timeline_set_compare) */
  FacetTimelineData   *compare;
  char                *name;         /* the models' names, for the tooltip */
  char                *compare_name;
  GPtrArray           *compare_runs; /* per lane: GArray of FacetLabelSegment */
  guint                compare_serial; /* both data's values serials the runs were found at */
  guint                compare_other_serial;
};

G_DEFINE_FINAL_TYPE (FacetTimeline, facet_timeline, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_POSITION,
  PROP_SELECTED_LANE,
  N_PROPS
};

enum {
  SEEK,
  RANGE_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const GdkRGBA accent = { 0.208f, 0.518f, 0.894f, 1.0f };
static const GdkRGBA curve = { 0.110f, 0.443f, 0.847f, 1.0f };
static const GdkRGBA disagree_colour = { 0.878f, 0.106f, 0.141f, 1.0f };
/* The second model: orange beside the first's blue (a pair that stays
 * apart for the common colour-vision deficiencies), and dashed, so that
 * the two read apart without colour too. */
static const GdkRGBA compare_colour = { 0.902f, 0.380f, 0.0f, 1.0f };

static GdkRGBA
label_colour (int state)
{
  switch (state)
    {
    case FACET_LABEL_PRESENT:
      return (GdkRGBA) { 0.180f, 0.761f, 0.494f, 1.0f };
    case FACET_LABEL_ABSENT:
      return (GdkRGBA) { 0.467f, 0.463f, 0.482f, 1.0f };
    case FACET_LABEL_NOT_CODABLE:
      return (GdkRGBA) { 0.898f, 0.647f, 0.039f, 1.0f };
    default:
      return (GdkRGBA) { 0.569f, 0.255f, 0.675f, 1.0f };
    }
}

static GdkRGBA
foreground (GtkWidget *widget,
            float      alpha)
{
  GdkRGBA c;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &c);
  G_GNUC_END_IGNORE_DEPRECATIONS
  c.alpha *= alpha;
  return c;
}

/* ---- Geometry and adjustments ---------------------------------------------------------------- */

static void
update_accessible (FacetTimeline *self)
{
  g_autofree char *time = facet_timecode_format (self->fps > 0 ? self->position / self->fps : 0);
  /* TRANSLATORS: the timeline's position for screen readers: frame number, time */
  g_autofree char *text = g_strdup_printf (_("Frame %d, %s"), (int) self->position, time);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_VALUE_MIN, 0.0,
                                  GTK_ACCESSIBLE_PROPERTY_VALUE_MAX,
                                  (double) MAX (self->layout.n_frames - 1, 0),
                                  GTK_ACCESSIBLE_PROPERTY_VALUE_NOW, (double) self->position,
                                  GTK_ACCESSIBLE_PROPERTY_VALUE_TEXT, text,
                                  -1);
}

static void
update_adjustments (FacetTimeline *self)
{
  const FacetTimelineLayout *l = &self->layout;
  double visible = facet_timeline_layout_plot_width (l) * l->frames_per_px;
  double content = l->n_lanes * l->lane_height;
  double page = MAX (l->height - l->ruler_height, 1.0);

  self->updating_adjustments = TRUE;
  gtk_adjustment_configure (self->hadj, l->first, 0, MAX ((double) l->n_frames, visible),
                            MAX (visible / 10, 1), MAX (visible * 0.9, 1), visible);
  gtk_adjustment_configure (self->vadj, l->scroll_y, 0, MAX (content, page), l->lane_height,
                            page * 0.9, page);
  self->updating_adjustments = FALSE;
}

static void
on_hadjustment_changed (GtkAdjustment *adj,
                        FacetTimeline *self)
{
  if (self->updating_adjustments)
    return;
  self->layout.first = gtk_adjustment_get_value (adj);
  facet_timeline_layout_clamp (&self->layout);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_vadjustment_changed (GtkAdjustment *adj,
                        FacetTimeline *self)
{
  if (self->updating_adjustments)
    return;
  self->layout.scroll_y = gtk_adjustment_get_value (adj);
  facet_timeline_layout_clamp (&self->layout);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
relayout_to (FacetTimeline *self,
             int            width,
             int            height)
{
  self->layout.width = width;
  self->layout.height = height;
  self->layout.n_lanes = self->n_lanes;
  self->layout.n_frames = self->data ? facet_timeline_data_get_n_frames (self->data) : 0;
  if ((!self->fitted || self->fit_mode) && facet_timeline_layout_plot_width (&self->layout) > 0)
    {
      facet_timeline_layout_fit (&self->layout);
      self->fitted = TRUE;
      self->fit_mode = TRUE;
    }
  facet_timeline_layout_clamp (&self->layout);
  update_adjustments (self);
}

static void
relayout (FacetTimeline *self)
{
  relayout_to (self, gtk_widget_get_width (GTK_WIDGET (self)),
               gtk_widget_get_height (GTK_WIDGET (self)));
}

/* ---- Public API ------------------------------------------------------------------------------ */

GtkWidget *
facet_timeline_new (void)
{
  return g_object_new (FACET_TYPE_TIMELINE, NULL);
}

void
facet_timeline_set_data (FacetTimeline     *self,
                         FacetTimelineData *data,
                         const int         *au_ids,
                         double             fps)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));
  g_return_if_fail (data == NULL || au_ids != NULL || facet_timeline_data_get_n_lanes (data) == 0);

  if (self->data != data)
    g_clear_pointer (&self->data, facet_timeline_data_free);
  self->data = data;
  self->serial++;
  g_clear_pointer (&self->au_ids, g_free);
  self->n_lanes = data ? facet_timeline_data_get_n_lanes (data) : 0;
  g_clear_pointer (&self->hand_coded, g_free);
  g_array_set_size (self->marks, 0);
  g_clear_pointer (&self->compare, facet_timeline_data_free);
  g_clear_pointer (&self->compare_runs, g_ptr_array_unref);
  if (self->n_lanes > 0)
    self->au_ids = g_memdup2 (au_ids, sizeof (int) * self->n_lanes);
  self->fps = fps > 0 ? fps : 25.0;
  self->fitted = FALSE;
  self->has_range = FALSE;
  self->layout.scroll_y = 0;
  self->selected_lane = CLAMP (self->selected_lane, 0, MAX (self->n_lanes - 1, 0));
  g_clear_pointer (&self->lane_layouts, g_ptr_array_unref);
  relayout (self);
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

FacetTimelineData *
facet_timeline_get_data (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), NULL);
  return self->data;
}

void
facet_timeline_set_hide_predictions (FacetTimeline *self,
                                     gboolean       hide)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));
  if (self->hide_predictions == !!hide)
    return;
  self->hide_predictions = !!hide;
  facet_timeline_data_changed (self);
}

gboolean
facet_timeline_get_hide_predictions (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), FALSE);
  return self->hide_predictions;
}

void
facet_timeline_data_changed (FacetTimeline *self)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));
  self->serial++;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
facet_timeline_set_compare (FacetTimeline     *self,
                            FacetTimelineData *other,
                            const char        *name,
                            const char        *other_name)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));
  g_return_if_fail (other == NULL || self->data != NULL);
  g_return_if_fail (other == NULL
                    || (facet_timeline_data_get_n_lanes (other) == self->n_lanes
                        && facet_timeline_data_get_n_frames (other)
                             == facet_timeline_data_get_n_frames (self->data)));

  if (self->compare != other)
    g_clear_pointer (&self->compare, facet_timeline_data_free);
  self->compare = other;
  g_clear_pointer (&self->compare_runs, g_ptr_array_unref);
  g_free (self->name);
  self->name = g_strdup (name);
  g_free (self->compare_name);
  self->compare_name = g_strdup (other_name);
  facet_timeline_data_changed (self);
}

FacetTimelineData *
facet_timeline_get_compare (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), NULL);
  return self->compare;
}

/* The runs are found again once the data changed (a load, a threshold). */
const FacetLabelSegment *
facet_timeline_get_compare_runs (FacetTimeline *self,
                                 int            lane,
                                 guint         *n)
{
  GArray *runs;

  g_return_val_if_fail (FACET_IS_TIMELINE (self), NULL);
  g_return_val_if_fail (n != NULL, NULL);

  *n = 0;
  if (self->compare == NULL || self->data == NULL || lane < 0 || lane >= self->n_lanes)
    return NULL;
  /* Found again only when a probability or a threshold changed: not for
   * every label the coder sets (7 ms for an hour of 12 AUs). */
  if (self->compare_runs == NULL
      || self->compare_serial != facet_timeline_data_get_values_serial (self->data)
      || self->compare_other_serial != facet_timeline_data_get_values_serial (self->compare))
    {
      g_clear_pointer (&self->compare_runs, g_ptr_array_unref);
      self->compare_runs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
      for (int i = 0; i < self->n_lanes; i++)
        {
          GArray *r = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));

          facet_timeline_data_compare (self->data, self->compare, i, r);
          g_ptr_array_add (self->compare_runs, r);
        }
      self->compare_serial = facet_timeline_data_get_values_serial (self->data);
      self->compare_other_serial = facet_timeline_data_get_values_serial (self->compare);
    }
  runs = g_ptr_array_index (self->compare_runs, lane);
  *n = runs->len;
  return (const FacetLabelSegment *) (gpointer) runs->data;
}

gint64
facet_timeline_get_position (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), 0);
  return self->position;
}

void
facet_timeline_set_position (FacetTimeline *self,
                             gint64         frame)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));

  if (self->position == frame)
    return;
  self->position = frame;
  if (facet_timeline_layout_follow (&self->layout, frame))
    update_adjustments (self);
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POSITION]);
}

int
facet_timeline_get_selected_lane (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), -1);
  return self->n_lanes > 0 ? self->selected_lane : -1;
}

void
facet_timeline_set_selected_lane (FacetTimeline *self,
                                  int            lane)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));

  lane = CLAMP (lane, 0, MAX (self->n_lanes - 1, 0));
  if (self->selected_lane == lane)
    return;
  self->selected_lane = lane;
  /* Keep the selected lane in view. */
  {
    FacetTimelineLayout *l = &self->layout;
    double top = lane * l->lane_height, page = l->height - l->ruler_height;

    if (top < l->scroll_y)
      l->scroll_y = top;
    else if (top + l->lane_height > l->scroll_y + page)
      l->scroll_y = top + l->lane_height - page;
    facet_timeline_layout_clamp (l);
    update_adjustments (self);
  }
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED_LANE]);
}

gboolean
facet_timeline_get_range (FacetTimeline *self,
                          int           *lane,
                          gint64        *first,
                          gint64        *last)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), FALSE);

  if (!self->has_range)
    return FALSE;
  if (lane)
    *lane = self->range_lane;
  if (first)
    *first = self->range_first;
  if (last)
    *last = self->range_last;
  return TRUE;
}

void
facet_timeline_set_range (FacetTimeline *self,
                          int            lane,
                          gint64         first,
                          gint64         last)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));

  if (lane < 0 || lane >= self->n_lanes)
    return;
  self->has_range = TRUE;
  self->range_lane = lane;
  self->range_first = MIN (first, last);
  self->range_last = MAX (first, last);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[RANGE_CHANGED], 0);
}

void
facet_timeline_clear_range (FacetTimeline *self)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));

  if (!self->has_range)
    return;
  self->has_range = FALSE;
  gtk_popover_popdown (GTK_POPOVER (self->popover));
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[RANGE_CHANGED], 0);
}

void
facet_timeline_zoom (FacetTimeline *self,
                     double         factor)
{
  double anchor;

  g_return_if_fail (FACET_IS_TIMELINE (self));

  /* Around the playhead when it is in view, else around the middle. */
  anchor = facet_timeline_layout_frame_to_x (&self->layout, self->position + 0.5);
  if (anchor < self->layout.label_width || anchor > self->layout.width)
    anchor = self->layout.label_width + facet_timeline_layout_plot_width (&self->layout) / 2;
  facet_timeline_layout_zoom (&self->layout, factor, anchor);
  self->fit_mode = FALSE;
  update_adjustments (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
facet_timeline_zoom_fit (FacetTimeline *self)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));

  facet_timeline_layout_fit (&self->layout);
  self->fit_mode = TRUE;
  update_adjustments (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

GtkAdjustment *
facet_timeline_get_hadjustment (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), NULL);
  return self->hadj;
}

GtkAdjustment *
facet_timeline_get_vadjustment (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), NULL);
  return self->vadj;
}

const FacetTimelineLayout *
facet_timeline_get_layout (FacetTimeline *self)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), NULL);
  return &self->layout;
}

void
facet_timeline_set_marks (FacetTimeline           *self,
                          const FacetTimelineMark *marks,
                          guint                    n_marks)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));

  g_array_set_size (self->marks, 0);
  if (n_marks > 0)
    g_array_append_vals (self->marks, marks, n_marks);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
facet_timeline_count_marks (FacetTimeline        *self,
                            FacetTimelineMarkKind kind)
{
  guint n = 0;

  g_return_val_if_fail (FACET_IS_TIMELINE (self), 0);
  for (guint i = 0; i < self->marks->len; i++)
    n += g_array_index (self->marks, FacetTimelineMark, i).kind == kind;
  return n;
}

void
facet_timeline_set_hand_coded (FacetTimeline  *self,
                               const gboolean *hand_coded,
                               int             n_lanes)
{
  g_return_if_fail (FACET_IS_TIMELINE (self));
  g_return_if_fail (n_lanes == self->n_lanes);

  g_clear_pointer (&self->hand_coded, g_free);
  if (hand_coded != NULL && n_lanes > 0)
    self->hand_coded = g_memdup2 (hand_coded, sizeof (gboolean) * n_lanes);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
facet_timeline_get_hand_coded (FacetTimeline *self,
                               int            lane)
{
  g_return_val_if_fail (FACET_IS_TIMELINE (self), FALSE);
  return self->hand_coded != NULL && lane >= 0 && lane < self->n_lanes && self->hand_coded[lane];
}

/* ---- Drawing --------------------------------------------------------------------------------- */

static void
ensure_lane_layouts (FacetTimeline *self)
{
  if (self->lane_layouts != NULL)
    return;
  self->lane_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  for (int i = 0; i < self->n_lanes; i++)
    {
      g_autofree char *code = facet_facs_code (self->au_ids[i]);
      g_autofree char *name = facet_facs_name (self->au_ids[i]);
      g_autofree char *markup = g_markup_printf_escaped ("<b>%s</b>", code);
      PangoLayout *a = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
      PangoLayout *b = gtk_widget_create_pango_layout (GTK_WIDGET (self), name);
      PangoAttrList *small = pango_attr_list_new ();

      pango_layout_set_markup (a, markup, -1);
      pango_attr_list_insert (small, pango_attr_scale_new (PANGO_SCALE_SMALL));
      pango_layout_set_attributes (b, small);
      pango_attr_list_unref (small);
      pango_layout_set_width (b, (int) ((LABEL_WIDTH - 12) * PANGO_SCALE));
      pango_layout_set_ellipsize (b, PANGO_ELLIPSIZE_END);
      g_ptr_array_add (self->lane_layouts, a);
      g_ptr_array_add (self->lane_layouts, b);
    }
}

/* ---- A small rasteriser ----------------------------------------------------------
 *
 * The lanes are axis-aligned boxes only (bands, line steps, dashes, runs),
 * written straight into a premultiplied ARGB image: a few hundred thousand
 * pixel writes for an hour of 12 AUs, where a vector library's general path
 * filling costs ten times more. */

typedef struct
{
  guint32 *px;
  int      width;   /* device pixels */
  int      height;
  int      stride;  /* in pixels */
  int      scale;
  double   ox;      /* widget coordinates of the image's origin */
  double   oy;
} Canvas;

static guint32
premultiply (const GdkRGBA *c,
             double         alpha)
{
  double a = CLAMP (c->alpha * alpha, 0.0, 1.0);
  guint32 A = (guint32) lround (255 * a);
  guint32 R = (guint32) lround (255 * CLAMP (c->red, 0.0, 1.0) * a);
  guint32 G = (guint32) lround (255 * CLAMP (c->green, 0.0, 1.0) * a);
  guint32 B = (guint32) lround (255 * CLAMP (c->blue, 0.0, 1.0) * a);

  return (A << 24) | (R << 16) | (G << 8) | B;
}

static inline guint32
over (guint32 src,
      guint32 dst)
{
  guint32 k = 255 - (src >> 24), out = 0;

  for (int shift = 0; shift < 32; shift += 8)
    {
      guint32 s = (src >> shift) & 0xff, d = (dst >> shift) & 0xff;
      out |= MIN (255u, s + (d * k + 127) / 255) << shift;
    }
  return out;
}

/* A box in widget coordinates, snapped to device pixels, at least one
 * device pixel wide and high. */
static void
canvas_fill (Canvas  *c,
             double   x,
             double   y,
             double   w,
             double   h,
             guint32  colour,
             gboolean blend)
{
  int x0 = (int) floor ((x - c->ox) * c->scale), y0 = (int) floor ((y - c->oy) * c->scale);
  int x1 = MAX ((int) floor ((x + w - c->ox) * c->scale), x0 + 1);
  int y1 = MAX ((int) floor ((y + h - c->oy) * c->scale), y0 + 1);

  x0 = MAX (x0, 0);
  y0 = MAX (y0, 0);
  x1 = MIN (x1, c->width);
  y1 = MIN (y1, c->height);
  for (int yy = y0; yy < y1; yy++)
    {
      guint32 *row = c->px + (gsize) yy * c->stride;

      if (blend)
        for (int xx = x0; xx < x1; xx++)
          row[xx] = over (colour, row[xx]);
      else
        for (int xx = x0; xx < x1; xx++)
          row[xx] = colour;
    }
}

static double
value_y (double v,
         double top,
         double bottom)
{
  return bottom - CLAMP (v, 0.0, 1.0) * (bottom - top);
}

/* The per-column min/max buffer, grown to @columns when the plot widened. */
static void
ensure_buckets (FacetTimeline *self,
                guint          columns)
{
  if (columns > self->n_buckets)
    {
      self->buckets = g_renew (FacetTimelineSpan, self->buckets, columns);
      self->n_buckets = columns;
    }
}

/* The probability curves of the visible lanes: a band from min to max per
 * pixel column, the mean as a line of steps, the threshold dashed. */
static void
draw_curves (FacetTimeline *self,
             Canvas        *canvas,
             int            lane0,
             int            lane1)
{
  const FacetTimelineLayout *l = &self->layout;
  double plot_w = facet_timeline_layout_plot_width (l);
  double plot_h = l->height - l->ruler_height;
  GdkRGBA threshold_colour = foreground (GTK_WIDGET (self), 0.55f);
  guint32 band = premultiply (&curve, 0.28), line = premultiply (&curve, 1.0);
  guint32 dash = premultiply (&threshold_colour, 1.0);
  guint columns = (guint) ceil (plot_w);

  if (plot_w <= 0 || plot_h <= 0 || self->hide_predictions)
    return;
  ensure_buckets (self, columns);

  for (int lane = lane0; lane <= lane1; lane++)
    {
      double y = facet_timeline_layout_lane_y (l, lane);
      double top = y + 5, bottom = y + l->lane_height - LABELS_H - DISAGREE_H - 5;
      double t = facet_timeline_data_get_threshold (self->data, lane);
      double prev = NAN;

      /* Threshold first: the curve crosses over it. */
      if (!isnan (t))
        {
          double ty = floor (value_y (t, top, bottom));

          for (double x = l->label_width; x < l->label_width + plot_w; x += 7)
            canvas_fill (canvas, x, ty, 4, 1, dash, TRUE);
        }

      if (l->frames_per_px >= 1.0)
        {
          facet_timeline_data_decimate (self->data, lane, l->first, l->frames_per_px, columns,
                                        self->buckets);
          for (guint c = 0; c < columns; c++)
            {
              const FacetTimelineSpan *b = &self->buckets[c];
              double x = l->label_width + c, m, y0, y1;

              if (b->n == 0)
                {
                  prev = NAN;
                  continue;
                }
              y0 = floor (value_y (b->max, top, bottom));
              y1 = ceil (value_y (b->min, top, bottom));
              canvas_fill (canvas, x, y0, 1, MAX (y1 - y0, 1), band, TRUE);
              /* The mean joins the previous column's. */
              m = floor (value_y (b->mean, top, bottom));
              if (isnan (prev))
                prev = m;
              canvas_fill (canvas, x, MIN (prev, m), 1, fabs (m - prev) + 2, line, FALSE);
              prev = m;
            }
        }
      else
        {
          /* Zoomed in beyond a frame per pixel: one step per frame, so each
           * frame's value has its own width. */
          gint64 f0 = (gint64) floor (l->first);
          gint64 f1 = (gint64) ceil (l->first + plot_w * l->frames_per_px);

          for (gint64 f = MAX (f0, 0); f <= MIN (f1, l->n_frames - 1); f++)
            {
              float v = facet_timeline_data_get_value (self->data, lane, f);
              double x0 = floor (facet_timeline_layout_frame_to_x (l, f));
              double x1 = floor (facet_timeline_layout_frame_to_x (l, f + 1));
              double m;

              if (isnan (v))
                {
                  prev = NAN;
                  continue;
                }
              m = floor (value_y (v, top, bottom));
              if (!isnan (prev))
                canvas_fill (canvas, x0, MIN (prev, m), 2, fabs (m - prev) + 2, line, FALSE);
              canvas_fill (canvas, x0, m, MAX (x1 - x0, 1), 2, line, FALSE);
              prev = m;
            }
        }
    }
}

/* A dashed horizontal stroke: on for 5 of every 8 pixels, counted from
 * the plot's left edge so that the dashes stay put while the curve moves. */
static void
dashed_fill (Canvas  *canvas,
             double   x0,
             double   x1,
             double   y,
             double   h,
             double   origin,
             guint32  colour)
{
  for (double x = floor (x0); x < x1; x += 1)
    if (((gint64) (x - origin) & 7) < 5)
      canvas_fill (canvas, x, y, 1, h, colour, FALSE);
}

/* Under the curves: the frames where the two models disagree at their
 * thresholds, shaded over the whole height of the curve. */
static void
draw_compare_shading (FacetTimeline *self,
                      Canvas        *canvas,
                      int            lane0,
                      int            lane1)
{
  const FacetTimelineLayout *l = &self->layout;
  double plot_w = facet_timeline_layout_plot_width (l);
  guint32 shade = premultiply (&compare_colour, 0.22);

  if (self->compare == NULL || self->hide_predictions || plot_w <= 0)
    return;
  for (int lane = lane0; lane <= lane1; lane++)
    {
      double y = facet_timeline_layout_lane_y (l, lane);
      double h = l->lane_height - LABELS_H - DISAGREE_H - 4;
      const FacetLabelSegment *runs;
      guint n;

      runs = facet_timeline_get_compare_runs (self, lane, &n);
      g_array_set_size (self->rects, 0);
      facet_timeline_segments_to_rects (runs, n, l->first, l->frames_per_px, plot_w, self->rects);
      for (guint i = 0; i < self->rects->len; i++)
        {
          const FacetTimelineRect *r = &g_array_index (self->rects, FacetTimelineRect, i);
          double x0 = floor (l->label_width + r->x0), x1 = ceil (l->label_width + r->x1);

          canvas_fill (canvas, x0, y + 1, MAX (x1 - x0, 1.0), h, shade, TRUE);
        }
    }
}

/* Over the first model's curve: the second model's mean as a dashed line
 * (no min-max band, so that both read in one lane) and its threshold as
 * sparse orange ticks where it differs from the first's. */
static void
draw_compare_curves (FacetTimeline *self,
                     Canvas        *canvas,
                     int            lane0,
                     int            lane1)
{
  const FacetTimelineLayout *l = &self->layout;
  double plot_w = facet_timeline_layout_plot_width (l);
  guint columns = (guint) ceil (plot_w);
  guint32 line = premultiply (&compare_colour, 1.0), tick = premultiply (&compare_colour, 0.7);

  if (self->compare == NULL || self->hide_predictions || plot_w <= 0 || columns == 0)
    return;
  ensure_buckets (self, columns);
  for (int lane = lane0; lane <= lane1; lane++)
    {
      double y = facet_timeline_layout_lane_y (l, lane);
      double top = y + 5, bottom = y + l->lane_height - LABELS_H - DISAGREE_H - 5;
      double t = facet_timeline_data_get_threshold (self->compare, lane);
      double prev = NAN;

      if (!isnan (t) && t != facet_timeline_data_get_threshold (self->data, lane))
        for (double x = l->label_width + 3; x < l->label_width + plot_w; x += 14)
          canvas_fill (canvas, x, floor (value_y (t, top, bottom)), 2, 1, tick, TRUE);
      /* One value per column: the mean of the bucket, or the frame's value
       * when zoomed in beyond a frame per pixel. */
      if (l->frames_per_px >= 1.0)
        facet_timeline_data_decimate (self->compare, lane, l->first, l->frames_per_px, columns,
                                      self->buckets);
      for (guint c = 0; c < columns; c++)
        {
          const FacetTimelineSpan *b = &self->buckets[c];
          double x = l->label_width + c, m, v = b->mean;

          if (l->frames_per_px < 1.0)
            {
              gint64 f = (gint64) floor (l->first + (c + 0.5) * l->frames_per_px);

              v = f < l->n_frames ? facet_timeline_data_get_value (self->compare, lane, f) : NAN;
            }
          else if (b->n == 0)
            v = NAN;
          if (isnan (v))
            {
              prev = NAN;
              continue;
            }
          m = floor (value_y (v, top, bottom));
          if (isnan (prev))
            prev = m;
          dashed_fill (canvas, x, x + 1, MIN (prev, m), fabs (m - prev) + 2, l->label_width, line);
          prev = m;
        }
    }
}

static void
draw_runs (FacetTimeline           *self,
           Canvas                  *canvas,
           const FacetLabelSegment *segments,
           guint                    n,
           double                   y,
           double                   h,
           gboolean                 disagreement)
{
  const FacetTimelineLayout *l = &self->layout;
  double plot_w = facet_timeline_layout_plot_width (l);

  g_array_set_size (self->rects, 0);
  facet_timeline_segments_to_rects (segments, n, l->first, l->frames_per_px, plot_w, self->rects);
  for (guint i = 0; i < self->rects->len; i++)
    {
      const FacetTimelineRect *r = &g_array_index (self->rects, FacetTimelineRect, i);
      GdkRGBA c = disagreement ? disagree_colour : label_colour (r->state);
      /* Whole pixels; runs narrower than a pixel still show. */
      double x0 = floor (l->label_width + r->x0), x1 = ceil (l->label_width + r->x1);

      canvas_fill (canvas, x0, y, MAX (x1 - x0, 1.0), h, premultiply (&c, 1.0), FALSE);
    }
}

/* The coded intensity over the present strip: a darker bar whose height
 * is the level (A a fifth of the strip, E all of it). */
static void
draw_intensities (FacetTimeline           *self,
                  Canvas                  *canvas,
                  const FacetLabelSegment *runs,
                  guint                    n,
                  double                   y,
                  double                   h)
{
  const FacetTimelineLayout *l = &self->layout;
  double plot_w = facet_timeline_layout_plot_width (l);
  static const GdkRGBA dark = { 0.106f, 0.420f, 0.263f, 1.0f };
  guint32 colour = premultiply (&dark, 1.0);

  g_array_set_size (self->rects, 0);
  facet_timeline_segments_to_rects (runs, n, l->first, l->frames_per_px, plot_w, self->rects);
  for (guint i = 0; i < self->rects->len; i++)
    {
      const FacetTimelineRect *r = &g_array_index (self->rects, FacetTimelineRect, i);
      /* Runs of several levels in one pixel column: the middle one. */
      int level = r->state == FACET_TIMELINE_STATE_MIXED ? 3 : CLAMP (r->state, 1, 5);
      double x0 = floor (l->label_width + r->x0), x1 = ceil (l->label_width + r->x1);
      double bar = ceil (h * level / 5.0);

      canvas_fill (canvas, x0, y + h - bar, MAX (x1 - x0, 1.0), bar, colour, FALSE);
    }
}

/* Tick spacing in seconds such that labels are at least @min_px apart. */
static double
tick_step (double seconds_per_px,
           double fps,
           double min_px)
{
  static const double steps[] = { 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
                                  1800, 3600, 7200 };
  double want = seconds_per_px * min_px;
  double frame = 1.0 / fps;

  if (want <= frame)
    return frame;
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    if (steps[i] >= want)
      return steps[i];
  return steps[G_N_ELEMENTS (steps) - 1];
}

static void
draw_ruler (FacetTimeline *self,
            GtkSnapshot   *snapshot)
{
  GtkWidget *widget = GTK_WIDGET (self);
  const FacetTimelineLayout *l = &self->layout;
  double spp = l->frames_per_px / self->fps;
  double step = tick_step (spp, self->fps, 90);
  double t0 = l->first / self->fps;
  double t1 = (l->first + facet_timeline_layout_plot_width (l) * l->frames_per_px) / self->fps;
  GdkRGBA fg = foreground (widget, 0.8f), tick = foreground (widget, 0.35f);
  GdkRGBA bg = foreground (widget, 0.05f);

  gtk_snapshot_append_color (snapshot, &bg, &GRAPHENE_RECT_INIT (0, 0, l->width, l->ruler_height));
  for (double t = floor (t0 / step) * step; t <= t1 + step; t += step)
    {
      double x = facet_timeline_layout_frame_to_x (l, t * self->fps);
      g_autofree char *text = NULL;
      PangoLayout *layout;

      if (x < l->label_width - 0.5 || x > l->width)
        continue;
      gtk_snapshot_append_color (snapshot, &tick,
                                 &GRAPHENE_RECT_INIT (floor (x), l->ruler_height - 6, 1, 6));
      text = facet_timecode_format (t);
      /* Whole seconds need no milliseconds. */
      if (step >= 1 && g_str_has_suffix (text, ".000"))
        text[strlen (text) - 4] = '\0';
      /* Shaping text is the dearest part of a redraw: labels are kept. */
      layout = g_hash_table_lookup (self->tick_layouts, text);
      if (layout == NULL)
        {
          PangoAttrList *small = pango_attr_list_new ();

          if (g_hash_table_size (self->tick_layouts) > 512)
            g_hash_table_remove_all (self->tick_layouts);
          layout = gtk_widget_create_pango_layout (widget, text);
          pango_attr_list_insert (small, pango_attr_scale_new (PANGO_SCALE_SMALL));
          pango_layout_set_attributes (layout, small);
          pango_attr_list_unref (small);
          g_hash_table_insert (self->tick_layouts, g_strdup (text), layout);
        }
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (floor (x) + 3, 2));
      gtk_snapshot_append_layout (snapshot, layout, &fg);
      gtk_snapshot_restore (snapshot);
    }
}

static void
draw_empty (FacetTimeline *self,
            GtkSnapshot   *snapshot,
            int            width,
            int            height)
{
  g_autoptr (PangoLayout) layout =
    gtk_widget_create_pango_layout (GTK_WIDGET (self), _("No model predictions to show yet"));
  GdkRGBA fg = foreground (GTK_WIDGET (self), 0.55f);
  int lw, lh;

  pango_layout_get_pixel_size (layout, &lw, &lh);
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT ((width - lw) / 2.0f,
                                                          (height - lh) / 2.0f));
  gtk_snapshot_append_layout (snapshot, layout, &fg);
  gtk_snapshot_restore (snapshot);
}

/* Stripes, the selected lane and the rules between lanes. */
static void
draw_lane_backgrounds (FacetTimeline *self,
                       GtkSnapshot   *snapshot,
                       int            lane0,
                       int            lane1,
                       int            width)
{
  const FacetTimelineLayout *l = &self->layout;
  GdkRGBA stripe = foreground (GTK_WIDGET (self), 0.035f);
  GdkRGBA rule = foreground (GTK_WIDGET (self), 0.12f);
  GdkRGBA selected = accent;

  selected.alpha = 0.13f;
  for (int lane = lane0; lane <= lane1; lane++)
    {
      double y = facet_timeline_layout_lane_y (l, lane);

      if (lane == self->selected_lane)
        gtk_snapshot_append_color (snapshot, &selected, &GRAPHENE_RECT_INIT (0, y, width,
                                                                             l->lane_height));
      else if (lane % 2)
        gtk_snapshot_append_color (snapshot, &stripe, &GRAPHENE_RECT_INIT (0, y, width,
                                                                           l->lane_height));
      gtk_snapshot_append_color (snapshot, &rule, &GRAPHENE_RECT_INIT (0, y + l->lane_height - 1,
                                                                       width, 1));
    }
}

/* Curves and label runs change only with the data, the zoom, the scroll
 * position and the size: kept as a texture, so that moving the playhead
 * (every frame while playing) redraws almost nothing. */
static void
update_lanes_texture (FacetTimeline *self,
                      int            lane0,
                      int            lane1,
                      int            width,
                      int            height)
{
  const FacetTimelineLayout *l = &self->layout;
  int scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  int pw = (int) ceil (facet_timeline_layout_plot_width (l));
  int ph = (int) ceil (height - l->ruler_height);

  if (self->lanes_texture != NULL && self->cache_serial == self->serial
      && self->cache_first == l->first && self->cache_fpp == l->frames_per_px
      && self->cache_scroll == l->scroll_y && self->cache_width == width
      && self->cache_height == height)
    return;
  g_clear_object (&self->lanes_texture);
  if (pw > 0 && ph > 0)
    {
      /* Into an image of our own, once: the renderer then only copies it
       * while the playhead moves. */
      Canvas canvas = { NULL, pw * scale, ph * scale, pw * scale, scale, l->label_width,
                        l->ruler_height };
      gsize size = (gsize) canvas.stride * canvas.height * 4;
      g_autoptr (GBytes) bytes = NULL;

      canvas.px = g_malloc0 (size);
      draw_compare_shading (self, &canvas, lane0, lane1);
      draw_curves (self, &canvas, lane0, lane1);
      draw_compare_curves (self, &canvas, lane0, lane1);
      for (int lane = lane0; lane <= lane1; lane++)
        {
          double y = facet_timeline_layout_lane_y (l, lane);
          const FacetLabelSegment *segs;
          guint n;

          /* The coder's labels at the foot of the lane, where the model
           * disagrees a red strip right above them. */
          segs = facet_timeline_data_get_segments (self->data, lane, &n);
          draw_runs (self, &canvas, segs, n, y + l->lane_height - LABELS_H - 2, LABELS_H, FALSE);
          segs = facet_timeline_data_get_intensities (self->data, lane, &n);
          draw_intensities (self, &canvas, segs, n, y + l->lane_height - LABELS_H - 2, LABELS_H);
          if (self->hide_predictions)
            continue;
          segs = facet_timeline_data_get_disagreements (self->data, lane, &n);
          draw_runs (self, &canvas, segs, n, y + l->lane_height - LABELS_H - DISAGREE_H - 3,
                     DISAGREE_H, TRUE);
        }
      bytes = g_bytes_new_take (canvas.px, size);
      self->lanes_texture = gdk_memory_texture_new (canvas.width, canvas.height,
                                                    GDK_MEMORY_DEFAULT, bytes,
                                                    (gsize) canvas.stride * 4);
    }
  self->cache_serial = self->serial;
  self->cache_first = l->first;
  self->cache_fpp = l->frames_per_px;
  self->cache_scroll = l->scroll_y;
  self->cache_width = width;
  self->cache_height = height;
}

/* The range being marked. */
static void
draw_range (FacetTimeline *self,
            GtkSnapshot   *snapshot,
            int            lane0,
            int            lane1,
            int            height)
{
  const FacetTimelineLayout *l = &self->layout;
  double x0, x1, y;
  GdkRGBA fill = accent, edge = accent;

  if (!self->has_range || self->range_lane < lane0 || self->range_lane > lane1)
    return;
  x0 = facet_timeline_layout_frame_to_x (l, self->range_first);
  x1 = facet_timeline_layout_frame_to_x (l, self->range_last + 1);
  y = facet_timeline_layout_lane_y (l, self->range_lane);
  fill.alpha = 0.25f;
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (l->label_width, l->ruler_height,
                                                         facet_timeline_layout_plot_width (l),
                                                         height - l->ruler_height));
  gtk_snapshot_append_color (snapshot, &fill,
                             &GRAPHENE_RECT_INIT (x0, y, MAX (x1 - x0, 1), l->lane_height));
  gtk_snapshot_append_color (snapshot, &edge, &GRAPHENE_RECT_INIT (x0, y, 1, l->lane_height));
  gtk_snapshot_append_color (snapshot, &edge, &GRAPHENE_RECT_INIT (MAX (x1 - 1, x0), y, 1,
                                                                   l->lane_height));
  gtk_snapshot_pop (snapshot);
}

/* The names, over an opaque column so scrolled curves never show through. */
static void
draw_lane_names (FacetTimeline *self,
                 GtkSnapshot   *snapshot,
                 int            lane0,
                 int            lane1,
                 int            height)
{
  GtkWidget *widget = GTK_WIDGET (self);
  const FacetTimelineLayout *l = &self->layout;
  GdkRGBA fg = foreground (widget, 0.9f), dim = foreground (widget, 0.6f);
  GdkRGBA rule = foreground (widget, 0.12f), selected = accent, bg;

  ensure_lane_layouts (self);
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  if (!gtk_style_context_lookup_color (gtk_widget_get_style_context (widget), "view_bg_color",
                                       &bg))
    bg = (GdkRGBA) { 1, 1, 1, 1 };
  G_GNUC_END_IGNORE_DEPRECATIONS
  gtk_snapshot_append_color (snapshot, &bg, &GRAPHENE_RECT_INIT (0, l->ruler_height,
                                                                 l->label_width,
                                                                 height - l->ruler_height));
  selected.alpha = 0.13f;
  for (int lane = lane0; lane <= lane1; lane++)
    {
      double y = facet_timeline_layout_lane_y (l, lane);

      if (lane == self->selected_lane)
        gtk_snapshot_append_color (snapshot, &selected,
                                   &GRAPHENE_RECT_INIT (0, y, l->label_width, l->lane_height));
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (8, y + 2));
      gtk_snapshot_append_layout (snapshot, g_ptr_array_index (self->lane_layouts, 2 * lane), &fg);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (0, 16));
      gtk_snapshot_append_layout (snapshot, g_ptr_array_index (self->lane_layouts, 2 * lane + 1),
                                  &dim);
      gtk_snapshot_restore (snapshot);
      gtk_snapshot_append_color (snapshot, &rule,
                                 &GRAPHENE_RECT_INIT (0, y + l->lane_height - 1, l->label_width,
                                                      1));
    }
  gtk_snapshot_append_color (snapshot, &rule,
                             &GRAPHENE_RECT_INIT (l->label_width - 1, l->ruler_height, 1, height));
}

/* Playhead over everything: a line at the frame's start, and the frame's
 * own width as a light band once frames are wider than a line. */
static void
draw_playhead (FacetTimeline *self,
               GtkSnapshot   *snapshot,
               int            width,
               int            height)
{
  const FacetTimelineLayout *l = &self->layout;
  double x = facet_timeline_layout_frame_to_x (l, self->position);
  double w = 1.0 / l->frames_per_px;
  GdkRGBA band = accent;

  if (x + MAX (w, 2) < l->label_width || x > width)
    return;
  band.alpha = 0.18f;
  gtk_snapshot_push_clip (snapshot,
                          &GRAPHENE_RECT_INIT (l->label_width, 0,
                                               facet_timeline_layout_plot_width (l), height));
  if (w > 3)
    gtk_snapshot_append_color (snapshot, &band, &GRAPHENE_RECT_INIT (x, 0, w, height));
  gtk_snapshot_append_color (snapshot, &accent, &GRAPHENE_RECT_INIT (floor (x), 0, 2, height));
  gtk_snapshot_pop (snapshot);
}

static void
facet_timeline_snapshot (GtkWidget   *widget,
                         GtkSnapshot *snapshot)
{
  FacetTimeline *self = FACET_TIMELINE (widget);
  const FacetTimelineLayout *l = &self->layout;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  int lane0, lane1;

  if (width <= 0 || height <= 0)
    return;
  if (self->data == NULL || self->n_lanes == 0)
    {
      draw_empty (self, snapshot, width, height);
      return;
    }
  if (l->width != width || l->height != height)
    relayout (self);

  lane0 = MAX ((int) floor (l->scroll_y / l->lane_height), 0);
  lane1 = MIN ((int) floor ((l->scroll_y + height - l->ruler_height) / l->lane_height),
               self->n_lanes - 1);

  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, l->ruler_height, width,
                                                         height - l->ruler_height));
  draw_lane_backgrounds (self, snapshot, lane0, lane1, width);
  update_lanes_texture (self, lane0, lane1, width, height);
  if (self->lanes_texture != NULL)
    gtk_snapshot_append_texture (snapshot, self->lanes_texture,
                                 &GRAPHENE_RECT_INIT (l->label_width, l->ruler_height,
                                                      ceil (facet_timeline_layout_plot_width (l)),
                                                      ceil (height - l->ruler_height)));
  draw_range (self, snapshot, lane0, lane1, height);
  facet_timeline_marks_draw (widget, snapshot, l, (const FacetTimelineMark *) (void *) self->marks->data,
                             self->marks->len, self->hand_coded, &self->hand_layout, lane0, lane1,
                             height);
  draw_lane_names (self, snapshot, lane0, lane1, height);
  gtk_snapshot_pop (snapshot);

  draw_ruler (self, snapshot);
  draw_playhead (self, snapshot, width, height);
}

static void
facet_timeline_measure (GtkWidget      *widget,
                        GtkOrientation  orientation,
                        int             for_size,
                        int            *minimum,
                        int            *natural,
                        int            *minimum_baseline,
                        int            *natural_baseline)
{
  FacetTimeline *self = FACET_TIMELINE (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = (int) LABEL_WIDTH + 100;
      *natural = (int) LABEL_WIDTH + 800;
    }
  else
    {
      *minimum = (int) (RULER_HEIGHT + 2 * LANE_HEIGHT);
      *natural = (int) (RULER_HEIGHT + MAX (self->n_lanes, 4) * LANE_HEIGHT);
    }
}

static void
facet_timeline_size_allocate (GtkWidget *widget,
                              int        width,
                              int        height,
                              int        baseline)
{
  FacetTimeline *self = FACET_TIMELINE (widget);

  relayout_to (self, width, height);
  gtk_popover_present (GTK_POPOVER (self->popover));
}

static void
facet_timeline_css_changed (GtkWidget         *widget,
                            GtkCssStyleChange *change)
{
  FacetTimeline *self = FACET_TIMELINE (widget);

  GTK_WIDGET_CLASS (facet_timeline_parent_class)->css_changed (widget, change);
  g_clear_pointer (&self->lane_layouts, g_ptr_array_unref);
  g_hash_table_remove_all (self->tick_layouts);
  self->serial++;
  gtk_widget_queue_draw (widget);
}

/* ---- Input ----------------------------------------------------------------------------------- */

static void
seek_to (FacetTimeline *self,
         gint64         frame)
{
  if (frame < 0)
    return;
  g_signal_emit (self, signals[SEEK], 0, frame);
}

static void
show_range_menu (FacetTimeline *self)
{
  const FacetTimelineLayout *l = &self->layout;
  double x, y;

  if (!self->has_range)
    return;
  x = facet_timeline_layout_frame_to_x (l, self->range_last + 1);
  y = facet_timeline_layout_lane_y (l, self->range_lane);
  x = CLAMP (x, l->label_width, l->width - 1);
  y = CLAMP (y, l->ruler_height, l->height - 1);
  gtk_popover_set_pointing_to (GTK_POPOVER (self->popover),
                               &(GdkRectangle) { (int) x, (int) y, 1, (int) l->lane_height });
  gtk_popover_popup (GTK_POPOVER (self->popover));
}

static void
on_drag_begin (GtkGestureDrag *gesture,
               double          x,
               double          y,
               FacetTimeline  *self)
{
  FacetTimelineHit hit;

  gtk_widget_grab_focus (GTK_WIDGET (self));
  facet_timeline_layout_hit (&self->layout, x, y, &hit);
  self->drag_x = x;
  self->drag_y = y;
  self->drag_mode = DRAG_NONE;
  switch (hit.area)
    {
    case FACET_TIMELINE_AREA_RULER:
      self->drag_mode = DRAG_SCRUB;
      seek_to (self, hit.frame);
      break;
    case FACET_TIMELINE_AREA_LANE:
      self->drag_mode = DRAG_PENDING;
      self->drag_lane = hit.lane;
      self->drag_frame = hit.frame;
      break;
    case FACET_TIMELINE_AREA_LABEL:
      facet_timeline_set_selected_lane (self, hit.lane);
      break;
    case FACET_TIMELINE_AREA_NONE:
    default:
      break;
    }
}

static void
on_drag_update (GtkGestureDrag *gesture,
                double          dx,
                double          dy,
                FacetTimeline  *self)
{
  FacetTimelineHit hit;

  facet_timeline_layout_hit (&self->layout, CLAMP (self->drag_x + dx, self->layout.label_width,
                                                   self->layout.width - 1),
                             CLAMP (self->drag_y + dy, self->layout.ruler_height,
                                    self->layout.height - 1),
                             &hit);
  switch (self->drag_mode)
    {
    case DRAG_SCRUB:
      seek_to (self, hit.frame);
      break;
    case DRAG_PENDING:
      if (fabs (dx) < DRAG_SLOP)
        break;
      self->drag_mode = DRAG_RANGE;
      facet_timeline_set_selected_lane (self, self->drag_lane);
      G_GNUC_FALLTHROUGH;
    case DRAG_RANGE:
      if (hit.frame >= 0)
        facet_timeline_set_range (self, self->drag_lane, self->drag_frame, hit.frame);
      break;
    case DRAG_NONE:
    default:
      break;
    }
}

static void
on_drag_end (GtkGestureDrag *gesture,
             double          dx,
             double          dy,
             FacetTimeline  *self)
{
  switch (self->drag_mode)
    {
    case DRAG_PENDING:
      /* A click: select the lane and go to the frame. */
      facet_timeline_clear_range (self);
      facet_timeline_set_selected_lane (self, self->drag_lane);
      seek_to (self, self->drag_frame);
      break;
    case DRAG_RANGE:
      show_range_menu (self);
      break;
    case DRAG_SCRUB:
    case DRAG_NONE:
    default:
      break;
    }
  self->drag_mode = DRAG_NONE;
}

static void
on_secondary_pressed (GtkGestureClick *gesture,
                      int              n_press,
                      double           x,
                      double           y,
                      FacetTimeline   *self)
{
  FacetTimelineHit hit;

  facet_timeline_layout_hit (&self->layout, x, y, &hit);
  if (hit.area != FACET_TIMELINE_AREA_LANE)
    return;
  /* Outside the current range: a one-frame range where the click was. */
  if (!self->has_range || hit.lane != self->range_lane || hit.frame < self->range_first
      || hit.frame > self->range_last)
    facet_timeline_set_range (self, hit.lane, hit.frame, hit.frame);
  facet_timeline_set_selected_lane (self, hit.lane);
  show_range_menu (self);
}

static gboolean
on_scroll (GtkEventControllerScroll *controller,
           double                    dx,
           double                    dy,
           FacetTimeline            *self)
{
  GdkModifierType state =
    gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));
  FacetTimelineLayout *l = &self->layout;
  double visible = facet_timeline_layout_plot_width (l) * l->frames_per_px;
  gboolean lanes_overflow = l->n_lanes * l->lane_height > l->height - l->ruler_height;

  if (state & GDK_CONTROL_MASK)
    {
      facet_timeline_layout_zoom (l, pow (1.25, -dy), self->pointer_x);
      self->fit_mode = FALSE;
    }
  else if ((state & GDK_SHIFT_MASK) || !lanes_overflow)
    l->first += (dx + dy) * visible * 0.08;
  else
    {
      l->first += dx * visible * 0.08;
      l->scroll_y += dy * l->lane_height;
    }
  facet_timeline_layout_clamp (l);
  update_adjustments (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return TRUE;
}

static void
on_motion (GtkEventControllerMotion *controller,
           double                    x,
           double                    y,
           FacetTimeline            *self)
{
  self->pointer_x = x;
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                FacetTimeline         *self)
{
  if (keyval == GDK_KEY_Escape && self->has_range)
    {
      facet_timeline_clear_range (self);
      return TRUE;
    }
  if ((keyval == GDK_KEY_Menu || (keyval == GDK_KEY_F10 && (state & GDK_SHIFT_MASK)))
      && self->has_range)
    {
      show_range_menu (self);
      return TRUE;
    }
  return FALSE;
}

/* Both models' probabilities at @frame, and whether they disagree there;
 * NULL without a comparison. */
static char *
compare_tooltip (FacetTimeline *self,
                 int            lane,
                 gint64         frame)
{
  float a, b;
  g_autofree char *pa = NULL, *pb = NULL;
  const FacetLabelSegment *runs;
  guint n;

  if (self->compare == NULL || self->hide_predictions)
    return NULL;
  a = facet_timeline_data_get_value (self->data, lane, frame);
  b = facet_timeline_data_get_value (self->compare, lane, frame);
  pa = isnan (a) ? g_strdup ("–") : g_strdup_printf ("%.2f", a);
  pb = isnan (b) ? g_strdup ("–") : g_strdup_printf ("%.2f", b);
  runs = facet_timeline_get_compare_runs (self, lane, &n);
  if (facet_timeline_segments_find (runs, n, frame) >= 0)
    /* TRANSLATORS: timeline tooltip comparing two models: name, probability, name, probability */
    return g_strdup_printf (_("%s p = %s, %s p = %s: the models disagree"),
                            self->name ? self->name : "", pa,
                            self->compare_name ? self->compare_name : "", pb);
  /* TRANSLATORS: timeline tooltip comparing two models: name, probability, name, probability */
  return g_strdup_printf (_("%s p = %s, %s p = %s"), self->name ? self->name : "", pa,
                          self->compare_name ? self->compare_name : "", pb);
}

static gboolean
on_query_tooltip (GtkWidget     *widget,
                  int            x,
                  int            y,
                  gboolean       keyboard,
                  GtkTooltip    *tooltip,
                  FacetTimeline *self)
{
  FacetTimelineHit hit;
  g_autofree char *code = NULL, *name = NULL, *time = NULL, *prob = NULL, *label = NULL;
  const FacetLabelSegment *segs;
  float v;
  guint n;
  int i;

  if (keyboard || self->data == NULL)
    return FALSE;
  facet_timeline_layout_hit (&self->layout, x, y, &hit);
  if (hit.area != FACET_TIMELINE_AREA_LANE && hit.area != FACET_TIMELINE_AREA_LABEL)
    return FALSE;
  code = facet_facs_code (self->au_ids[hit.lane]);
  name = facet_facs_name (self->au_ids[hit.lane]);
  if (hit.area == FACET_TIMELINE_AREA_LABEL)
    {
      g_autofree char *text = g_strdup_printf ("%s — %s", code, name);
      gtk_tooltip_set_text (tooltip, text);
      return TRUE;
    }
  time = facet_timecode_format (hit.frame / self->fps);
  v = facet_timeline_data_get_value (self->data, hit.lane, hit.frame);
  if (self->hide_predictions)
    prob = g_strdup (_("blind coding"));
  else if (!facet_timeline_data_is_known (self->data, hit.frame))
    prob = g_strdup (_("not analysed"));
  else if (isnan (v))
    prob = g_strdup (_("no face"));
  else
    prob = g_strdup_printf (_("p = %.2f"), v);
  segs = facet_timeline_data_get_segments (self->data, hit.lane, &n);
  i = facet_timeline_segments_find (segs, n, hit.frame);
  switch (i >= 0 ? segs[i].state : FACET_LABEL_UNSET)
    {
    case FACET_LABEL_PRESENT:
      {
        const FacetLabelSegment *runs;
        guint n_runs;
        int k;

        runs = facet_timeline_data_get_intensities (self->data, hit.lane, &n_runs);
        k = facet_timeline_segments_find (runs, n_runs, hit.frame);
        /* TRANSLATORS: timeline tooltip; %s: the FACS intensity letter A-E */
        label = k >= 0 ? g_strdup_printf (_("labelled present, intensity %s"),
                                          facet_facs_intensity_letter ((int) runs[k].state))
                       : g_strdup (_("labelled present"));
      }
      break;
    case FACET_LABEL_ABSENT:
      label = g_strdup (_("labelled absent"));
      break;
    case FACET_LABEL_NOT_CODABLE:
      label = g_strdup (_("not codable"));
      break;
    case FACET_LABEL_UNSET:
    default:
      label = g_strdup (_("not labelled"));
      break;
    }
  {
    /* TRANSLATORS: timeline tooltip: "AU12 Lip corner puller", frame, time, probability, label */
    g_autofree char *text = g_strdup_printf (_("%s %s\nFrame %d (%s): %s, %s"),
                                             code, name, (int) hit.frame, time, prob, label);
    g_autofree char *more = compare_tooltip (self, hit.lane, hit.frame);
    g_autofree char *both = more ? g_strconcat (text, "\n", more, NULL) : NULL;

    gtk_tooltip_set_text (tooltip, both ? both : text);
  }
  return TRUE;
}

/* ---- Object ---------------------------------------------------------------------------------- */

static void
facet_timeline_dispose (GObject *object)
{
  FacetTimeline *self = (FacetTimeline *) object;

  g_clear_pointer (&self->popover, gtk_widget_unparent);
  g_clear_pointer (&self->data, facet_timeline_data_free);
  g_clear_pointer (&self->au_ids, g_free);
  g_clear_pointer (&self->lane_layouts, g_ptr_array_unref);
  g_clear_object (&self->lanes_texture);
  g_clear_pointer (&self->tick_layouts, g_hash_table_unref);
  g_clear_pointer (&self->buckets, g_free);
  g_clear_pointer (&self->rects, g_array_unref);
  g_clear_pointer (&self->marks, g_array_unref);
  g_clear_pointer (&self->hand_coded, g_free);
  g_clear_object (&self->hand_layout);
  g_clear_pointer (&self->compare, facet_timeline_data_free);
  g_clear_pointer (&self->compare_runs, g_ptr_array_unref);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->compare_name, g_free);
  if (self->hadj != NULL)
    g_signal_handlers_disconnect_by_data (self->hadj, self);
  if (self->vadj != NULL)
    g_signal_handlers_disconnect_by_data (self->vadj, self);
  g_clear_object (&self->hadj);
  g_clear_object (&self->vadj);
  G_OBJECT_CLASS (facet_timeline_parent_class)->dispose (object);
}

static void
facet_timeline_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  FacetTimeline *self = FACET_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_POSITION:
      g_value_set_int64 (value, self->position);
      break;
    case PROP_SELECTED_LANE:
      g_value_set_int (value, self->selected_lane);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_timeline_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  FacetTimeline *self = FACET_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_POSITION:
      facet_timeline_set_position (self, g_value_get_int64 (value));
      break;
    case PROP_SELECTED_LANE:
      facet_timeline_set_selected_lane (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_timeline_class_init (FacetTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_timeline_dispose;
  object_class->get_property = facet_timeline_get_property;
  object_class->set_property = facet_timeline_set_property;
  widget_class->snapshot = facet_timeline_snapshot;
  widget_class->measure = facet_timeline_measure;
  widget_class->size_allocate = facet_timeline_size_allocate;
  widget_class->css_changed = facet_timeline_css_changed;

  properties[PROP_POSITION] =
    g_param_spec_int64 ("position", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SELECTED_LANE] =
    g_param_spec_int ("selected-lane", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FacetTimeline::seek:
   * @frame: where the coder clicked
   */
  signals[SEEK] =
    g_signal_new ("seek", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[RANGE_CHANGED] =
    g_signal_new ("range-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 0);

  gtk_widget_class_set_css_name (widget_class, "timeline");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_SLIDER);
}

static GMenuModel *
make_range_menu (void)
{
  GMenu *menu = g_menu_new ();
  static const struct
  {
    const char *label;
    int         state;
    const char *accel;
  } items[] = {
    { N_("Mark _Present"), FACET_LABEL_PRESENT, "1" },
    { N_("Mark _Absent"), FACET_LABEL_ABSENT, "2" },
    { N_("Mark _Not Codable"), FACET_LABEL_NOT_CODABLE, "3" },
    { N_("_Clear Labels"), FACET_LABEL_UNSET, "0" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    {
      g_autoptr (GMenuItem) item = g_menu_item_new (_(items[i].label), NULL);
      g_menu_item_set_action_and_target_value (item, "win.label-range",
                                               g_variant_new_int32 (items[i].state));
      g_menu_item_set_attribute (item, "accel", "s", items[i].accel);
      g_menu_append_item (menu, item);
    }
  return G_MENU_MODEL (menu);
}

static void
facet_timeline_init (FacetTimeline *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  GtkGesture *drag, *click;
  GtkEventController *scroll, *motion, *key;
  g_autoptr (GMenuModel) menu = make_range_menu ();

  self->fps = 25.0;
  self->layout.label_width = LABEL_WIDTH;
  self->layout.ruler_height = RULER_HEIGHT;
  self->layout.lane_height = LANE_HEIGHT;
  self->layout.frames_per_px = 1.0;
  self->rects = g_array_new (FALSE, FALSE, sizeof (FacetTimelineRect));
  self->marks = g_array_new (FALSE, FALSE, sizeof (FacetTimelineMark));
  self->tick_layouts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->hadj = g_object_ref_sink (gtk_adjustment_new (0, 0, 1, 1, 1, 1));
  self->vadj = g_object_ref_sink (gtk_adjustment_new (0, 0, 1, 1, 1, 1));
  g_signal_connect (self->hadj, "value-changed", G_CALLBACK (on_hadjustment_changed), self);
  g_signal_connect (self->vadj, "value-changed", G_CALLBACK (on_vadjustment_changed), self);

  self->popover = gtk_popover_menu_new_from_model (menu);
  gtk_widget_set_parent (self->popover, widget);
  gtk_popover_set_position (GTK_POPOVER (self->popover), GTK_POS_BOTTOM);

  gtk_widget_set_focusable (widget, TRUE);
  gtk_widget_set_focus_on_click (widget, TRUE);
  gtk_widget_set_hexpand (widget, TRUE);
  gtk_widget_set_vexpand (widget, TRUE);
  gtk_widget_set_overflow (widget, GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_has_tooltip (widget, TRUE);
  g_signal_connect (widget, "query-tooltip", G_CALLBACK (on_query_tooltip), self);

  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (drag));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_secondary_pressed), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (click));

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (widget, scroll);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  gtk_widget_add_controller (widget, motion);

  key = gtk_event_controller_key_new ();
  g_signal_connect (key, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (widget, key);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Timeline of action units"), -1);
  update_accessible (self);
}
