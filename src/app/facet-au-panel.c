/* facet-au-panel.c — every AU of the model at the current frame
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-au-panel"

#include "config.h"

#include <math.h>

#include <adwaita.h>
#include <glib/gi18n.h>

#include "facet-au-panel.h"
#include "facet-au-row.h"

struct _FacetAuPanel
{
  GtkWidget   parent_instance;

  GtkWidget  *box;
  GtkLabel   *caption_label;
  GtkStack   *stack;
  GtkScrolledWindow *scroller;
  GtkListBox *list;

  GPtrArray  *rows; /* FacetAuRow, borrowed from the list */
  int         selected;
  guint       reveal_source;
  gboolean    blind;
};

G_DEFINE_FINAL_TYPE (FacetAuPanel, facet_au_panel, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SELECTED,
  N_PROPS
};

enum {
  SET_LABEL,
  SET_INTENSITY,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
on_row_set_label (FacetAuRow   *row,
                  int           state,
                  FacetAuPanel *self)
{
  gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (row));
  g_signal_emit (self, signals[SET_LABEL], 0, facet_au_row_get_au (row), state);
}

static void
on_row_set_intensity (FacetAuRow   *row,
                      int           level,
                      FacetAuPanel *self)
{
  gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (row));
  g_signal_emit (self, signals[SET_INTENSITY], 0, facet_au_row_get_au (row), level);
}

/* Scrolls the list so that the selected row is in view: the selection
 * moves with Up/Down and timeline clicks while the focus is elsewhere, so
 * the list's own scroll-to-focus does not apply. */
static gboolean
reveal_selected (gpointer data)
{
  FacetAuPanel *self = data;
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scroller);
  GtkWidget *row;
  graphene_rect_t r;

  self->reveal_source = 0;
  if (self->selected < 0 || self->selected >= (int) self->rows->len)
    return G_SOURCE_REMOVE;
  row = g_ptr_array_index (self->rows, self->selected);
  if (!gtk_widget_compute_bounds (row, GTK_WIDGET (self->list), &r) || r.size.height <= 0)
    return G_SOURCE_REMOVE;
  gtk_adjustment_clamp_page (adj, r.origin.y, r.origin.y + r.size.height);
  return G_SOURCE_REMOVE;
}

/* The window shrank or grew (the page size changed): the selected row may
 * have left the view, so bring it back after the layout. */
static void
on_adjustment_changed (FacetAuPanel *self)
{
  if (self->reveal_source == 0 && self->rows != NULL && self->selected >= 0)
    self->reveal_source = g_idle_add_full (GTK_PRIORITY_RESIZE + 10, reveal_selected, self, NULL);
}

static void
on_row_selected (GtkListBox    *list,
                 GtkListBoxRow *row,
                 FacetAuPanel  *self)
{
  int index = row ? gtk_list_box_row_get_index (row) : -1;

  if (index == self->selected)
    return;
  self->selected = index;
  /* After the next layout: a row just added has no position yet. */
  if (self->reveal_source == 0 && self->rows != NULL)
    self->reveal_source = g_idle_add_full (GTK_PRIORITY_RESIZE + 10, reveal_selected, self, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED]);
}

gboolean
facet_au_panel_selected_in_view (FacetAuPanel *self)
{
  GtkAdjustment *adj;
  graphene_rect_t r;
  double top;

  g_return_val_if_fail (FACET_IS_AU_PANEL (self), FALSE);

  if (self->selected < 0 || self->selected >= (int) self->rows->len)
    return FALSE;
  adj = gtk_scrolled_window_get_vadjustment (self->scroller);
  if (!gtk_widget_compute_bounds (g_ptr_array_index (self->rows, self->selected),
                                  GTK_WIDGET (self->list), &r))
    return FALSE;
  top = gtk_adjustment_get_value (adj);
  return r.origin.y >= top - 0.5
         && r.origin.y + r.size.height <= top + gtk_adjustment_get_page_size (adj) + 0.5;
}

GtkWidget *
facet_au_panel_new (void)
{
  return g_object_new (FACET_TYPE_AU_PANEL, NULL);
}

void
facet_au_panel_set_aus (FacetAuPanel *self,
                        const int    *au_ids,
                        int           n_aus)
{
  GtkWidget *child;
  int keep;

  g_return_if_fail (FACET_IS_AU_PANEL (self));

  keep = self->selected;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);
  g_ptr_array_set_size (self->rows, 0);
  self->selected = -1;
  for (int i = 0; i < n_aus; i++)
    {
      GtkWidget *row = facet_au_row_new (au_ids[i]);
      g_signal_connect (row, "set-label", G_CALLBACK (on_row_set_label), self);
      g_signal_connect (row, "set-intensity", G_CALLBACK (on_row_set_intensity), self);
      facet_au_row_set_blind (FACET_AU_ROW (row), self->blind);
      gtk_list_box_append (self->list, row);
      g_ptr_array_add (self->rows, row);
    }
  gtk_stack_set_visible_child_name (self->stack, n_aus > 0 ? "list" : "empty");
  if (n_aus > 0)
    facet_au_panel_set_selected (self, CLAMP (keep, 0, n_aus - 1));
}

void
facet_au_panel_set_state (FacetAuPanel          *self,
                          const FacetFrameState *state,
                          const float           *thresholds)
{
  g_return_if_fail (FACET_IS_AU_PANEL (self));

  for (guint i = 0; i < self->rows->len; i++)
    {
      FacetAuRow *row = g_ptr_array_index (self->rows, i);
      int au = facet_au_row_get_au (row);
      float p = NAN;

      if (state != NULL && state->probs != NULL && (int) i < state->n_aus)
        p = state->probs[i];
      facet_au_row_set_probability (row, p, thresholds ? thresholds[i] : 0.5f);
      facet_au_row_set_label (row, state ? facet_frame_state_find_label (state, au) : NULL);
    }
}

void
facet_au_panel_set_compare (FacetAuPanel *self,
                            const char   *name,
                            const float  *probs,
                            const float  *thresholds)
{
  g_return_if_fail (FACET_IS_AU_PANEL (self));
  g_return_if_fail (name == NULL || (probs != NULL && thresholds != NULL));

  for (guint i = 0; i < self->rows->len; i++)
    facet_au_row_set_compare (g_ptr_array_index (self->rows, i), name, name ? probs[i] : NAN,
                              name ? thresholds[i] : NAN);
}

const char *
facet_au_panel_get_compare_text (FacetAuPanel *self,
                                 int           index)
{
  g_return_val_if_fail (FACET_IS_AU_PANEL (self), NULL);
  if (index < 0 || index >= (int) self->rows->len)
    return NULL;
  return facet_au_row_get_compare_text (g_ptr_array_index (self->rows, index));
}

int
facet_au_panel_get_n_aus (FacetAuPanel *self)
{
  g_return_val_if_fail (FACET_IS_AU_PANEL (self), 0);
  return (int) self->rows->len;
}

int
facet_au_panel_get_selected (FacetAuPanel *self)
{
  g_return_val_if_fail (FACET_IS_AU_PANEL (self), -1);
  return self->selected;
}

void
facet_au_panel_set_selected (FacetAuPanel *self,
                             int           index)
{
  g_return_if_fail (FACET_IS_AU_PANEL (self));

  if (self->rows->len == 0)
    return;
  index = CLAMP (index, 0, (int) self->rows->len - 1);
  gtk_list_box_select_row (self->list, g_ptr_array_index (self->rows, index));
}

int
facet_au_panel_get_au (FacetAuPanel *self,
                       int           index)
{
  g_return_val_if_fail (FACET_IS_AU_PANEL (self), 0);

  if (index < 0 || index >= (int) self->rows->len)
    return 0;
  return facet_au_row_get_au (g_ptr_array_index (self->rows, index));
}

FacetLabelState
facet_au_panel_get_label_state (FacetAuPanel *self,
                                int           index)
{
  g_return_val_if_fail (FACET_IS_AU_PANEL (self), FACET_LABEL_UNSET);

  if (index < 0 || index >= (int) self->rows->len)
    return FACET_LABEL_UNSET;
  return facet_au_row_get_state (g_ptr_array_index (self->rows, index));
}

int
facet_au_panel_get_intensity (FacetAuPanel *self,
                              int           index)
{
  g_return_val_if_fail (FACET_IS_AU_PANEL (self), 0);

  if (index < 0 || index >= (int) self->rows->len)
    return 0;
  return facet_au_row_get_intensity (g_ptr_array_index (self->rows, index));
}

void
facet_au_panel_set_blind (FacetAuPanel *self,
                          gboolean      blind)
{
  g_return_if_fail (FACET_IS_AU_PANEL (self));

  self->blind = !!blind;
  for (guint i = 0; i < self->rows->len; i++)
    facet_au_row_set_blind (g_ptr_array_index (self->rows, i), self->blind);
}

void
facet_au_panel_set_hand_coded (FacetAuPanel   *self,
                               const gboolean *hand_coded,
                               int             n_aus)
{
  g_return_if_fail (FACET_IS_AU_PANEL (self));

  for (guint i = 0; i < self->rows->len; i++)
    facet_au_row_set_hand_coded (g_ptr_array_index (self->rows, i),
                                 hand_coded != NULL && (int) i < n_aus && hand_coded[i]);
}

gboolean
facet_au_panel_get_hand_coded (FacetAuPanel *self,
                               int           index)
{
  g_return_val_if_fail (FACET_IS_AU_PANEL (self), FALSE);

  if (index < 0 || index >= (int) self->rows->len)
    return FALSE;
  return facet_au_row_get_hand_coded (g_ptr_array_index (self->rows, index));
}

void
facet_au_panel_set_caption (FacetAuPanel *self,
                            const char   *caption)
{
  g_return_if_fail (FACET_IS_AU_PANEL (self));
  gtk_label_set_text (self->caption_label, caption ? caption : "");
}

static void
facet_au_panel_dispose (GObject *object)
{
  FacetAuPanel *self = (FacetAuPanel *) object;

  g_clear_pointer (&self->rows, g_ptr_array_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), FACET_TYPE_AU_PANEL);
  /* Removing the rows above may have asked for one more. */
  g_clear_handle_id (&self->reveal_source, g_source_remove);
  G_OBJECT_CLASS (facet_au_panel_parent_class)->dispose (object);
}

static void
facet_au_panel_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  FacetAuPanel *self = FACET_AU_PANEL (object);

  switch (prop_id)
    {
    case PROP_SELECTED:
      g_value_set_int (value, self->selected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_au_panel_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  FacetAuPanel *self = FACET_AU_PANEL (object);

  switch (prop_id)
    {
    case PROP_SELECTED:
      facet_au_panel_set_selected (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_au_panel_class_init (FacetAuPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_au_panel_dispose;
  object_class->get_property = facet_au_panel_get_property;
  object_class->set_property = facet_au_panel_set_property;

  properties[PROP_SELECTED] =
    g_param_spec_int ("selected", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FacetAuPanel::set-label:
   * @au: the FACS number
   * @state: the FacetLabelState chosen with the mouse (UNSET: clear)
   */
  signals[SET_LABEL] =
    g_signal_new ("set-label", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  /**
   * FacetAuPanel::set-intensity:
   * @au: the FACS number
   * @level: 1-5 for A-E chosen with the mouse, 0 to clear
   */
  signals[SET_INTENSITY] =
    g_signal_new ("set-intensity", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "aupanel");
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-au-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetAuPanel, box);
  gtk_widget_class_bind_template_child (widget_class, FacetAuPanel, caption_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAuPanel, list);
  gtk_widget_class_bind_template_child (widget_class, FacetAuPanel, scroller);
  gtk_widget_class_bind_template_child (widget_class, FacetAuPanel, stack);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);
}

static void
facet_au_panel_init (FacetAuPanel *self)
{
  g_type_ensure (ADW_TYPE_STATUS_PAGE);
  self->rows = g_ptr_array_new ();
  self->selected = -1;
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_object (gtk_scrolled_window_get_vadjustment (self->scroller), "changed",
                           G_CALLBACK (on_adjustment_changed), self, G_CONNECT_SWAPPED);
}
