/* facet-frame-view.c — frame, face box, landmarks and heat map
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-frame-view"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "facet-frame-view.h"

struct _FacetFrameView
{
  GtkWidget         parent_instance;

  GdkTexture       *texture;
  gint64            frame;

  FacetFrameResult  face;
  gboolean          has_face;
  gint64            face_frame;

  GdkTexture       *heatmap;
  FacetHeatmapKind  heatmap_kind;
  double            heatmap_transform[6];
  int               heatmap_crop;
  gint64            heatmap_frame;
  float            *heatmap_values; /* as given, for the tests and the legend */
  int               heatmap_grid;
  char             *heatmap_title;  /* the method, named in the legend */
  double            heatmap_progress; /* < 0: nothing being computed */

  gboolean          show_box;
  gboolean          show_landmarks;
  gboolean          show_heatmap;
  double            heatmap_opacity;
  char             *notice;

  double            zoom;          /* 1: the whole frame; 2, 4: around the face */
  double            zoom_centre[2];/* image point shown in the middle, last face seen */
  gboolean          has_centre;
};

G_DEFINE_FINAL_TYPE (FacetFrameView, facet_frame_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SHOW_BOX,
  PROP_SHOW_LANDMARKS,
  PROP_SHOW_HEATMAP,
  PROP_HEATMAP_OPACITY,
  PROP_ZOOM,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* A perceptually ordered dark-to-bright ramp (after "inferno"). */
static const guint8 attention_stops[5][3] = {
  { 20, 11, 52 }, { 120, 28, 109 }, { 203, 71, 73 }, { 247, 146, 23 }, { 252, 255, 164 },
};

static void
ramp (double  t,
      guint8 *rgb)
{
  double x = CLAMP (t, 0.0, 1.0) * 4.0;
  int i = MIN ((int) x, 3);
  double f = x - i;

  for (int c = 0; c < 3; c++)
    rgb[c] = (guint8) lround (attention_stops[i][c] * (1 - f) + attention_stops[i + 1][c] * f);
}

/* Colours and alpha of each patch: strong evidence opaque, weak evidence
 * transparent, so the face stays visible where the model did not look. */
static GdkTexture *
make_heatmap (const float      *values,
              int               grid,
              FacetHeatmapKind  kind)
{
  g_autoptr (GBytes) bytes = NULL;
  guint8 *px = g_malloc ((gsize) grid * grid * 4);
  float lo = G_MAXFLOAT, hi = -G_MAXFLOAT, absmax = 0;
  double mean = 0;
  int n = 0;

  for (int i = 0; i < grid * grid; i++)
    {
      if (!isfinite (values[i]))
        continue;
      lo = MIN (lo, values[i]);
      hi = MAX (hi, values[i]);
      mean += values[i];
      n++;
    }
  /* Evidence is shown against the average patch: every patch carries a
   * share of the logit, and what tells the coder something is which
   * patches carry more (red) or less (blue) than the rest. */
  mean = n > 0 && kind == FACET_HEATMAP_EVIDENCE ? mean / n : 0;
  for (int i = 0; i < grid * grid; i++)
    if (isfinite (values[i]))
      absmax = MAX (absmax, fabsf (values[i] - (float) mean));
  for (int i = 0; i < grid * grid; i++)
    {
      guint8 *p = px + 4 * i;
      float v = isfinite (values[i]) ? values[i] : 0.0f;

      if (kind == FACET_HEATMAP_ATTENTION)
        {
          double t = hi > lo ? (v - lo) / (hi - lo) : 0.0;
          ramp (t, p);
          p[3] = (guint8) lround (255 * pow (t, 0.7));
        }
      else
        {
          double t = absmax > 0 ? (v - mean) / absmax : 0.0;
          /* Red for more evidence that the AU is there, blue for less. */
          if (t >= 0)
            p[0] = 230, p[1] = 60, p[2] = 30;
          else
            p[0] = 40, p[1] = 110, p[2] = 240;
          p[3] = (guint8) lround (255 * pow (fabs (t), 0.7));
        }
    }
  bytes = g_bytes_new_take (px, (gsize) grid * grid * 4);
  return gdk_memory_texture_new (grid, grid, GDK_MEMORY_R8G8B8A8, bytes, (gsize) grid * 4);
}

GtkWidget *
facet_frame_view_new (void)
{
  return g_object_new (FACET_TYPE_FRAME_VIEW, NULL);
}

void
facet_frame_view_set_texture (FacetFrameView *self,
                              GdkTexture     *texture,
                              gint64          frame)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));
  g_return_if_fail (texture == NULL || GDK_IS_TEXTURE (texture));

  g_set_object (&self->texture, texture);
  self->frame = texture ? frame : -1;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gint64
facet_frame_view_get_frame (FacetFrameView *self)
{
  g_return_val_if_fail (FACET_IS_FRAME_VIEW (self), -1);
  return self->frame;
}

void
facet_frame_view_set_face (FacetFrameView         *self,
                           const FacetFrameResult *face,
                           gint64                  frame)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));

  self->has_face = face != NULL;
  if (face != NULL)
    self->face = *face;
  /* The zoom follows the face, and stays where it was on a frame without
   * one (a blink of the detector does not throw the view about). */
  if (face != NULL && face->status == FACET_STORE_FACE_FOUND)
    {
      self->zoom_centre[0] = face->box[0] + face->box[2] / 2.0;
      self->zoom_centre[1] = face->box[1] + face->box[3] / 2.0;
      self->has_centre = TRUE;
    }
  self->face.probs = NULL;
  self->face_frame = frame;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
facet_frame_view_set_heatmap (FacetFrameView   *self,
                              const float      *values,
                              int               grid,
                              FacetHeatmapKind  kind,
                              const double      transform[6],
                              int               crop_size,
                              gint64            frame)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));

  g_clear_object (&self->heatmap);
  g_clear_pointer (&self->heatmap_values, g_free);
  self->heatmap_grid = 0;
  if (values != NULL && grid > 0 && transform != NULL && crop_size > 0)
    {
      self->heatmap = make_heatmap (values, grid, kind);
      self->heatmap_kind = kind;
      memcpy (self->heatmap_transform, transform, sizeof self->heatmap_transform);
      self->heatmap_crop = crop_size;
      self->heatmap_frame = frame;
      self->heatmap_values = g_memdup2 (values, sizeof (float) * grid * grid);
      self->heatmap_grid = grid;
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/**
 * facet_frame_view_set_heatmap_title:
 * @title: (nullable): the map's method, shown in the legend
 */
void
facet_frame_view_set_heatmap_title (FacetFrameView *self,
                                    const char     *title)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));
  if (g_strcmp0 (self->heatmap_title, title) == 0)
    return;
  g_free (self->heatmap_title);
  self->heatmap_title = g_strdup (title);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/**
 * facet_frame_view_set_heatmap_progress:
 * @fraction: how much of a slow map is done, 0..1; negative when none is
 *   being computed
 */
void
facet_frame_view_set_heatmap_progress (FacetFrameView *self,
                                       double          fraction)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));
  self->heatmap_progress = fraction;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

const float *
facet_frame_view_get_heatmap (FacetFrameView *self,
                              int            *grid)
{
  g_return_val_if_fail (FACET_IS_FRAME_VIEW (self), NULL);
  if (grid != NULL)
    *grid = self->heatmap_grid;
  return self->heatmap_values;
}

/* The legend's words: the method, then what low and high mean, or how far
 * a slow map has come. */
char *
facet_frame_view_get_legend (FacetFrameView *self)
{
  const char *low, *high;

  g_return_val_if_fail (FACET_IS_FRAME_VIEW (self), NULL);
  if (self->show_heatmap && self->heatmap_progress >= 0)
    /* Translators: a heat map method and how much of it is computed */
    return g_strdup_printf (_("%s: computing, %d %% (switch the heat map off to stop)"),
                            self->heatmap_title ? self->heatmap_title : "",
                            (int) lround (100 * CLAMP (self->heatmap_progress, 0.0, 1.0)));
  if (self->heatmap_kind == FACET_HEATMAP_ATTENTION)
    low = _("low"), high = _("high attention");
  else if (self->heatmap_kind == FACET_HEATMAP_EFFECT)
    low = _("against"), high = _("for the AU");
  else
    low = _("less"), high = _("more evidence for the AU");
  if (self->heatmap_title != NULL)
    return g_strdup_printf ("%s: %s  \u2192  %s", self->heatmap_title, low, high);
  return g_strdup_printf ("%s  \u2192  %s", low, high);
}

void
facet_frame_view_set_description (FacetFrameView *self,
                                  const char     *description)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  description ? description : _("Video frame"), -1);
}

void
facet_frame_view_set_notice (FacetFrameView *self,
                             const char     *notice)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));

  if (g_strcmp0 (self->notice, notice) == 0)
    return;
  g_free (self->notice);
  self->notice = g_strdup (notice);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* ---- Drawing --------------------------------------------------------------------------------- */

static void
dot (GtkSnapshot   *snapshot,
     float          x,
     float          y,
     float          r,
     const GdkRGBA *colour)
{
  GskRoundedRect round;

  gsk_rounded_rect_init_from_rect (&round, &GRAPHENE_RECT_INIT (x - r, y - r, 2 * r, 2 * r), r);
  gtk_snapshot_push_rounded_clip (snapshot, &round);
  gtk_snapshot_append_color (snapshot, colour, &GRAPHENE_RECT_INIT (x - r, y - r, 2 * r, 2 * r));
  gtk_snapshot_pop (snapshot);
}

static void
draw_landmarks (FacetFrameView *self,
                GtkSnapshot    *snapshot,
                double          scale)
{
  /* A dark ring under a bright dot reads on light and dark skin alike;
   * sizes in screen pixels whatever the zoom. */
  const GdkRGBA ring = { 0, 0, 0, 0.75f };
  const GdkRGBA fill = { 0.3f, 1.0f, 0.55f, 1.0f };
  float r = (float) (2.2 / scale), edge = (float) (1.0 / scale);

  for (int i = 0; i < FACET_STORE_N_LANDMARKS; i++)
    {
      float x = self->face.landmarks[2 * i], y = self->face.landmarks[2 * i + 1];

      dot (snapshot, x, y, r + edge, &ring);
      dot (snapshot, x, y, r, &fill);
    }
}

static void
draw_box (FacetFrameView *self,
          GtkSnapshot    *snapshot,
          double          scale)
{
  const GdkRGBA colour = { 1.0, 0.85, 0.2, 1.0 };
  const GdkRGBA colours[4] = { colour, colour, colour, colour };
  float w = (float) (2.0 / scale);
  const float widths[4] = { w, w, w, w };
  GskRoundedRect rect;

  gsk_rounded_rect_init_from_rect (&rect,
                                   &GRAPHENE_RECT_INIT (self->face.box[0], self->face.box[1],
                                                        self->face.box[2], self->face.box[3]),
                                   0);
  gtk_snapshot_append_border (snapshot, &rect, widths, colours);
}

static void
draw_heatmap (FacetFrameView *self,
              GtkSnapshot    *snapshot)
{
  const double *t = self->heatmap_transform;
  double theta = atan2 (t[3], t[0]);
  double sx = hypot (t[0], t[3]);
  double m = cos (theta) * t[1] + sin (theta) * t[4];
  double sy = -sin (theta) * t[1] + cos (theta) * t[4];
  GskTransform *transform;

  /* x = a u + b v + c, y = d u + e v + f, written as translate, rotate,
   * shear and scale (a QR split of the 2x2 part): transforms the renderers
   * know to be two-dimensional, which a raw 4x4 matrix is not. */
  transform = gsk_transform_translate (NULL, &GRAPHENE_POINT_INIT (t[2], t[5]));
  transform = gsk_transform_rotate (transform, theta * 180.0 / G_PI);
  if (fabs (sy) > 1e-12 && fabs (m / sy) > 1e-9)
    transform = gsk_transform_skew (transform, atan (m / sy) * 180.0 / G_PI, 0);
  transform = gsk_transform_scale (transform, sx, sy);
  gtk_snapshot_push_opacity (snapshot, CLAMP (self->heatmap_opacity, 0.0, 1.0));
  gtk_snapshot_save (snapshot);
  gtk_snapshot_transform (snapshot, transform);
  gsk_transform_unref (transform);
  gtk_snapshot_append_texture (snapshot, self->heatmap,
                               &GRAPHENE_RECT_INIT (0, 0, self->heatmap_crop, self->heatmap_crop));
  gtk_snapshot_restore (snapshot);
  gtk_snapshot_pop (snapshot);
}

static void
draw_legend (FacetFrameView *self,
             GtkSnapshot    *snapshot,
             int             width,
             int             height)
{
  GtkWidget *widget = GTK_WIDGET (self);
  g_autoptr (PangoLayout) layout = NULL;
  g_autofree char *text = facet_frame_view_get_legend (self);
  gboolean computing = self->heatmap_progress >= 0;
  const GdkRGBA white = { 1, 1, 1, 1 };
  const GdkRGBA shade = { 0, 0, 0, 0.6 };
  float bar_w = 120, x, y;
  int lw, lh;

  layout = gtk_widget_create_pango_layout (widget, text);
  /* A long legend (a long method name, a long language) wraps in a narrow
   * view rather than going. */
  pango_layout_set_width (layout, MAX (width - 32, 1) * PANGO_SCALE);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  pango_layout_get_pixel_size (layout, &lw, &lh);
  x = width - MAX (bar_w, lw) - 16;
  y = height - lh - 8 - 8 - 12;
  if (x < 0 || y < 0)
    return;
  gtk_snapshot_append_color (snapshot, &shade,
                             &GRAPHENE_RECT_INIT (x - 6, y - 6, MAX (bar_w, lw) + 12,
                                                  lh + 8 + 12 + 8));
  for (int i = 0; i < (int) bar_w; i++)
    {
      guint8 rgb[3];
      GdkRGBA c;
      double t = i / (bar_w - 1);

      if (computing)
        c = t <= self->heatmap_progress ? (GdkRGBA) { 1, 1, 1, 0.9f } : (GdkRGBA) { 1, 1, 1, 0.2f };
      else if (self->heatmap_kind == FACET_HEATMAP_ATTENTION)
        {
          ramp (t, rgb);
          c = (GdkRGBA) { rgb[0] / 255.0f, rgb[1] / 255.0f, rgb[2] / 255.0f, 1 };
        }
      else if (t < 0.5)
        c = (GdkRGBA) { 40 / 255.0f, 110 / 255.0f, 240 / 255.0f, (float) (1 - 2 * t) };
      else
        c = (GdkRGBA) { 230 / 255.0f, 60 / 255.0f, 30 / 255.0f, (float) (2 * t - 1) };
      gtk_snapshot_append_color (snapshot, &c, &GRAPHENE_RECT_INIT (x + i, y, 1, 8));
    }
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x, y + 12));
  gtk_snapshot_append_layout (snapshot, layout, &white);
  gtk_snapshot_restore (snapshot);
}

static void
draw_notice (FacetFrameView *self,
             GtkSnapshot    *snapshot,
             int             width,
             int             height)
{
  g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), self->notice);
  const GdkRGBA white = { 1, 1, 1, 1 };
  const GdkRGBA shade = { 0, 0, 0, 0.65 };
  int lw, lh;

  pango_layout_get_pixel_size (layout, &lw, &lh);
  gtk_snapshot_append_color (snapshot, &shade,
                             &GRAPHENE_RECT_INIT ((width - lw) / 2.0f - 10, 12, lw + 20, lh + 10));
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT ((width - lw) / 2.0f, 17));
  gtk_snapshot_append_layout (snapshot, layout, &white);
  gtk_snapshot_restore (snapshot);
}

/* Where the frame lies in the view: fitted, or zoomed around the face
 * (the image's own centre before any face was seen), never leaving an
 * empty band where the zoomed image could fill the view. */
static void
frame_geometry (FacetFrameView *self,
                int             width,
                int             height,
                int             tw,
                int             th,
                double         *scale,
                double         *x0,
                double         *y0)
{
  double cx = self->has_centre ? self->zoom_centre[0] : tw / 2.0;
  double cy = self->has_centre ? self->zoom_centre[1] : th / 2.0;
  double s = MIN ((double) width / tw, (double) height / th) * MAX (self->zoom, 1.0);
  double x = width / 2.0 - cx * s, y = height / 2.0 - cy * s;

  if (tw * s <= width)
    x = (width - tw * s) / 2;
  else
    x = CLAMP (x, width - tw * s, 0);
  if (th * s <= height)
    y = (height - th * s) / 2;
  else
    y = CLAMP (y, height - th * s, 0);
  *scale = s;
  *x0 = floor (x);
  *y0 = floor (y);
}

gboolean
facet_frame_view_get_face_bounds (FacetFrameView  *self,
                                  graphene_rect_t *bounds)
{
  double scale, x0, y0;

  g_return_val_if_fail (FACET_IS_FRAME_VIEW (self), FALSE);

  if (self->texture == NULL || !self->has_face || self->face_frame != self->frame
      || self->face.status != FACET_STORE_FACE_FOUND)
    return FALSE;
  frame_geometry (self, gtk_widget_get_width (GTK_WIDGET (self)),
                  gtk_widget_get_height (GTK_WIDGET (self)),
                  gdk_texture_get_width (self->texture), gdk_texture_get_height (self->texture),
                  &scale, &x0, &y0);
  graphene_rect_init (bounds, x0 + self->face.box[0] * scale, y0 + self->face.box[1] * scale,
                      self->face.box[2] * scale, self->face.box[3] * scale);
  return TRUE;
}

double
facet_frame_view_get_zoom (FacetFrameView *self)
{
  g_return_val_if_fail (FACET_IS_FRAME_VIEW (self), 1.0);
  return self->zoom;
}

void
facet_frame_view_set_zoom (FacetFrameView *self,
                           double          zoom)
{
  g_return_if_fail (FACET_IS_FRAME_VIEW (self));

  zoom = CLAMP (zoom, 1.0, 8.0);
  if (zoom == self->zoom)
    return;
  self->zoom = zoom;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
}

static void
facet_frame_view_snapshot (GtkWidget   *widget,
                           GtkSnapshot *snapshot)
{
  FacetFrameView *self = FACET_FRAME_VIEW (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  int tw, th;
  double scale, x0, y0;
  gboolean heatmap_shown = FALSE;

  if (width <= 0 || height <= 0)
    return;

  if (self->texture != NULL)
    {
      tw = gdk_texture_get_width (self->texture);
      th = gdk_texture_get_height (self->texture);
      frame_geometry (self, width, height, tw, th, &scale, &x0, &y0);

      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x0, y0));
      gtk_snapshot_scale (snapshot, scale, scale);
      gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, 0, tw, th));
      gtk_snapshot_append_texture (snapshot, self->texture, &GRAPHENE_RECT_INIT (0, 0, tw, th));

      if (self->show_heatmap && self->heatmap != NULL && self->heatmap_frame == self->frame)
        {
          draw_heatmap (self, snapshot);
          heatmap_shown = TRUE;
        }
      if (self->has_face && self->face_frame == self->frame)
        {
          if (self->show_box && self->face.status == FACET_STORE_FACE_FOUND)
            draw_box (self, snapshot, scale);
          if (self->show_landmarks && self->face.has_landmarks)
            draw_landmarks (self, snapshot, scale);
        }
      gtk_snapshot_pop (snapshot);
      gtk_snapshot_restore (snapshot);
    }

  if (heatmap_shown || (self->show_heatmap && self->heatmap_progress >= 0))
    draw_legend (self, snapshot, width, height);
  if (self->notice != NULL && *self->notice != '\0')
    draw_notice (self, snapshot, width, height);
}

static void
facet_frame_view_measure (GtkWidget      *widget,
                          GtkOrientation  orientation,
                          int             for_size,
                          int            *minimum,
                          int            *natural,
                          int            *minimum_baseline,
                          int            *natural_baseline)
{
  *minimum = 160;
  *natural = 480;
}

/* The view itself takes the focus: GtkWidget's own grab_focus hands it to
 * a child, and the view has none. */
static gboolean
facet_frame_view_grab_focus (GtkWidget *widget)
{
  GtkRoot *root = gtk_widget_get_root (widget);

  if (root == NULL || !gtk_widget_get_focusable (widget))
    return FALSE;
  gtk_root_set_focus (root, widget);
  return TRUE;
}

static gboolean
facet_frame_view_focus (GtkWidget        *widget,
                        GtkDirectionType  direction)
{
  if (gtk_widget_is_focus (widget))
    return FALSE;
  return gtk_widget_grab_focus (widget);
}

static void
facet_frame_view_dispose (GObject *object)
{
  FacetFrameView *self = (FacetFrameView *) object;

  g_clear_object (&self->texture);
  g_clear_object (&self->heatmap);
  g_clear_pointer (&self->heatmap_values, g_free);
  g_clear_pointer (&self->heatmap_title, g_free);
  g_clear_pointer (&self->notice, g_free);
  G_OBJECT_CLASS (facet_frame_view_parent_class)->dispose (object);
}

static void
facet_frame_view_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  FacetFrameView *self = FACET_FRAME_VIEW (object);

  switch (prop_id)
    {
    case PROP_SHOW_BOX:
      g_value_set_boolean (value, self->show_box);
      break;
    case PROP_SHOW_LANDMARKS:
      g_value_set_boolean (value, self->show_landmarks);
      break;
    case PROP_SHOW_HEATMAP:
      g_value_set_boolean (value, self->show_heatmap);
      break;
    case PROP_HEATMAP_OPACITY:
      g_value_set_double (value, self->heatmap_opacity);
      break;
    case PROP_ZOOM:
      g_value_set_double (value, self->zoom);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_frame_view_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  FacetFrameView *self = FACET_FRAME_VIEW (object);

  switch (prop_id)
    {
    case PROP_SHOW_BOX:
      self->show_box = g_value_get_boolean (value);
      break;
    case PROP_SHOW_LANDMARKS:
      self->show_landmarks = g_value_get_boolean (value);
      break;
    case PROP_SHOW_HEATMAP:
      self->show_heatmap = g_value_get_boolean (value);
      break;
    case PROP_HEATMAP_OPACITY:
      self->heatmap_opacity = g_value_get_double (value);
      break;
    case PROP_ZOOM:
      facet_frame_view_set_zoom (self, g_value_get_double (value));
      return;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
facet_frame_view_class_init (FacetFrameViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_frame_view_dispose;
  object_class->get_property = facet_frame_view_get_property;
  object_class->set_property = facet_frame_view_set_property;
  widget_class->snapshot = facet_frame_view_snapshot;
  widget_class->measure = facet_frame_view_measure;
  widget_class->grab_focus = facet_frame_view_grab_focus;
  widget_class->focus = facet_frame_view_focus;

  properties[PROP_SHOW_BOX] =
    g_param_spec_boolean ("show-box", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_LANDMARKS] =
    g_param_spec_boolean ("show-landmarks", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_HEATMAP] =
    g_param_spec_boolean ("show-heatmap", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_HEATMAP_OPACITY] =
    g_param_spec_double ("heatmap-opacity", NULL, NULL, 0.0, 1.0, 0.6,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_ZOOM] =
    g_param_spec_double ("zoom", NULL, NULL, 1.0, 8.0, 1.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "frameview");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
facet_frame_view_init (FacetFrameView *self)
{

  self->frame = -1;
  self->face_frame = -1;
  self->heatmap_frame = -1;
  self->heatmap_progress = -1;
  self->show_box = TRUE;
  self->heatmap_opacity = 0.6;
  self->zoom = 1.0;
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  facet_frame_view_set_description (self, NULL);
}
