/* facet-train-plot.c — loss and F1 as training goes
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two curves on one time axis (the fraction of the run): the training
 * loss, scaled to its own range on the left, and the validation F1 after
 * each epoch on a fixed 0-1 scale on the right.
 */
#define G_LOG_DOMAIN "facet-train-plot"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-train-plot.h"

#define MARGIN_LEFT   48.0
#define MARGIN_RIGHT  44.0
#define MARGIN_TOP    24.0
#define MARGIN_BOTTOM 26.0

typedef struct
{
  double x;
  double y;
} Point;

struct _FacetTrainPlot
{
  GtkWidget  parent_instance;

  gint64     n_steps;
  int        n_epochs;
  GArray    *loss; /* Point: step, loss */
  GArray    *f1;   /* Point: epoch, f1 */
  double     loss_max;
};

G_DEFINE_FINAL_TYPE (FacetTrainPlot, facet_train_plot, GTK_TYPE_WIDGET)

static const GdkRGBA loss_colour = { 0.110f, 0.443f, 0.847f, 1.0f };
static const GdkRGBA f1_colour = { 0.180f, 0.761f, 0.494f, 1.0f };

static void
update_accessible (FacetTrainPlot *self)
{
  g_autofree char *text = NULL;

  if (self->loss->len == 0)
    text = g_strdup (_("Training plot: no data yet"));
  else
    {
      const Point *l = &g_array_index (self->loss, Point, self->loss->len - 1);
      const Point *f = self->f1->len ? &g_array_index (self->f1, Point, self->f1->len - 1) : NULL;
      /* TRANSLATORS: the training plot for screen readers */
      text = f ? g_strdup_printf (_("Training plot: loss %.3f, validation F1 %.2f after epoch "
                                    "%.0f"), l->y,
                                  f->y, f->x)
               : g_strdup_printf (_("Training plot: loss %.3f"), l->y);
    }
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
}

GtkWidget *
facet_train_plot_new (void)
{
  return g_object_new (FACET_TYPE_TRAIN_PLOT, NULL);
}

void
facet_train_plot_reset (FacetTrainPlot *self,
                        gint64          n_steps,
                        int             n_epochs)
{
  g_return_if_fail (FACET_IS_TRAIN_PLOT (self));

  self->n_steps = MAX (n_steps, 1);
  self->n_epochs = MAX (n_epochs, 1);
  self->loss_max = 0;
  g_array_set_size (self->loss, 0);
  g_array_set_size (self->f1, 0);
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
facet_train_plot_add_loss (FacetTrainPlot *self,
                           gint64          step,
                           double          loss)
{
  Point p = { (double) step, loss };

  g_return_if_fail (FACET_IS_TRAIN_PLOT (self));

  if (!isfinite (loss))
    return;
  g_array_append_val (self->loss, p);
  self->loss_max = MAX (self->loss_max, loss);
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
facet_train_plot_add_f1 (FacetTrainPlot *self,
                         int             epoch,
                         double          f1)
{
  Point p = { (double) epoch, f1 };

  g_return_if_fail (FACET_IS_TRAIN_PLOT (self));

  if (!isfinite (f1) || f1 < 0)
    return;
  g_array_append_val (self->f1, p);
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
facet_train_plot_get_n_points (FacetTrainPlot *self)
{
  g_return_val_if_fail (FACET_IS_TRAIN_PLOT (self), 0);
  return self->loss->len + self->f1->len;
}

static void
text_at (GtkWidget   *widget,
         GtkSnapshot *snapshot,
         const char  *text,
         double       x,
         double       y,
         double       align,
         GdkRGBA      colour)
{
  g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (widget, text);
  PangoAttrList *small = pango_attr_list_new ();
  int w, h;

  pango_attr_list_insert (small, pango_attr_scale_new (PANGO_SCALE_SMALL));
  pango_layout_set_attributes (layout, small);
  pango_attr_list_unref (small);
  pango_layout_get_pixel_size (layout, &w, &h);
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x - align * w, y - h / 2.0f));
  gtk_snapshot_append_layout (snapshot, layout, &colour);
  gtk_snapshot_restore (snapshot);
}

/* A round step (1, 2, 2.5 or 5 times a power of ten) of at least @raw, so
 * that axis labels read 0.25, 0.50, ... rather than 0.83, 0.62, ... */
static double
nice_step (double raw)
{
  static const double mult[] = { 1.0, 2.0, 2.5, 5.0, 10.0 };
  double p = pow (10.0, floor (log10 (MAX (raw, 1e-12))));

  for (guint i = 0; i < G_N_ELEMENTS (mult); i++)
    if (mult[i] * p >= raw * (1.0 - 1e-9))
      return mult[i] * p;
  return 10.0 * p;
}

static void
facet_train_plot_snapshot (GtkWidget   *widget,
                           GtkSnapshot *snapshot)
{
  FacetTrainPlot *self = FACET_TRAIN_PLOT (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  double pw = width - MARGIN_LEFT - MARGIN_RIGHT, ph = height - MARGIN_TOP - MARGIN_BOTTOM;
  double total = (double) self->n_steps;
  /* Four grid steps of a round size above the largest loss. */
  double ymax = 4.0 * nice_step ((self->loss_max > 0 ? self->loss_max * 1.05 : 1.0) / 4.0);
  int epoch_step = (int) nice_step (MAX (1.0, self->n_epochs / 8.0));
  GdkRGBA fg, grid;
  cairo_t *cr;

  if (pw <= 10 || ph <= 10)
    return;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  grid = fg;
  grid.alpha *= 0.15f;
  fg.alpha *= 0.8f;

  for (int i = 0; i <= 4; i++)
    gtk_snapshot_append_color (snapshot, &grid,
                               &GRAPHENE_RECT_INIT (MARGIN_LEFT, MARGIN_TOP + ph * i / 4.0, pw, 1));
  text_at (widget, snapshot, _("loss"), MARGIN_LEFT, MARGIN_TOP / 2, 0.0, loss_colour);
  text_at (widget, snapshot, _("validation F1"), width - MARGIN_RIGHT, MARGIN_TOP / 2, 1.0,
           f1_colour);
  for (int i = 0; i <= 4; i++)
    {
      g_autofree char *l = g_strdup_printf (ymax >= 4.0 ? "%.0f" : "%.2f", ymax * (4 - i) / 4.0);
      g_autofree char *r = g_strdup_printf ("%.2f", (4 - i) / 4.0);
      text_at (widget, snapshot, l, MARGIN_LEFT - 4, MARGIN_TOP + ph * i / 4.0, 1.0, fg);
      text_at (widget, snapshot, r, width - MARGIN_RIGHT + 4, MARGIN_TOP + ph * i / 4.0, 0.0, fg);
    }
  for (int e = 0; e <= self->n_epochs; e += MAX (1, epoch_step))
    {
      g_autofree char *t = g_strdup_printf ("%d", e);
      text_at (widget, snapshot, t, MARGIN_LEFT + pw * e / self->n_epochs,
               height - MARGIN_BOTTOM / 2, 0.5, fg);
    }

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  cairo_rectangle (cr, MARGIN_LEFT, MARGIN_TOP - 2, pw, ph + 4);
  cairo_clip (cr);
  cairo_set_line_width (cr, 1.5);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  for (guint i = 0; i < self->loss->len; i++)
    {
      const Point *p = &g_array_index (self->loss, Point, i);
      double x = MARGIN_LEFT + pw * p->x / total, y = MARGIN_TOP + ph * (1 - p->y / ymax);
      if (i == 0)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
    }
  gdk_cairo_set_source_rgba (cr, &loss_colour);
  cairo_stroke (cr);
  for (guint i = 0; i < self->f1->len; i++)
    {
      const Point *p = &g_array_index (self->f1, Point, i);
      double x = MARGIN_LEFT + pw * p->x / self->n_epochs, y = MARGIN_TOP + ph * (1 - CLAMP (p->y,
                                                                                             0, 1));
      if (i == 0)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
    }
  gdk_cairo_set_source_rgba (cr, &f1_colour);
  cairo_stroke (cr);
  for (guint i = 0; i < self->f1->len; i++)
    {
      const Point *p = &g_array_index (self->f1, Point, i);
      cairo_new_sub_path (cr);
      cairo_arc (cr, MARGIN_LEFT + pw * p->x / self->n_epochs,
                 MARGIN_TOP + ph * (1 - CLAMP (p->y, 0, 1)), 3.5, 0, 2 * G_PI);
    }
  cairo_fill (cr);
  cairo_destroy (cr);

  if (self->loss->len == 0)
    text_at (widget, snapshot, _("The curves appear here once training starts"), width / 2.0,
             height / 2.0, 0.5,
             fg);
}

static void
facet_train_plot_measure (GtkWidget      *widget,
                          GtkOrientation  orientation,
                          int             for_size,
                          int            *minimum,
                          int            *natural,
                          int            *minimum_baseline,
                          int            *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 240 : 160;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 480 : 260;
}

static void
facet_train_plot_finalize (GObject *object)
{
  FacetTrainPlot *self = (FacetTrainPlot *) object;

  g_array_unref (self->loss);
  g_array_unref (self->f1);
  G_OBJECT_CLASS (facet_train_plot_parent_class)->finalize (object);
}

static void
facet_train_plot_class_init (FacetTrainPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = facet_train_plot_finalize;
  widget_class->snapshot = facet_train_plot_snapshot;
  widget_class->measure = facet_train_plot_measure;
  gtk_widget_class_set_css_name (widget_class, "trainplot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
facet_train_plot_init (FacetTrainPlot *self)
{
  self->loss = g_array_new (FALSE, FALSE, sizeof (Point));
  self->f1 = g_array_new (FALSE, FALSE, sizeof (Point));
  self->n_steps = 1;
  self->n_epochs = 1;
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  update_accessible (self);
}
