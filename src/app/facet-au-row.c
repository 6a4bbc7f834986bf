/* facet-au-row.c — one action unit: name, probability, label
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-au-row"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-au-row.h"
#include "facet-facs.h"

struct _FacetAuRow
{
  GtkListBoxRow    parent_instance;

  GtkLabel        *code_label;
  GtkLabel        *name_label;
  GtkLabel        *prob_label;
  GtkLabel        *compare_label;
  GtkLevelBar     *prob_bar;
  GtkLabel        *hand_label;
  GtkLabel        *state_label;
  GtkMenuButton   *intensity_button;
  GtkPopover      *intensity_popover;
  GtkBox          *intensity_box;
  GtkLabel        *source_label;
  GtkToggleButton *present_button;
  GtkToggleButton *absent_button;
  GtkToggleButton *not_codable_button;

  int              au;
  FacetLabelState  state;
  int              intensity; /* level 0-5 (0: none, 1-5: A-E) */
  float            probability;
  gboolean         hand_coded;  /* the model does not predict this AU */
  gboolean         blind;
  gboolean         comparing;   /* a second model's probability is shown */
};

G_DEFINE_FINAL_TYPE (FacetAuRow, facet_au_row, GTK_TYPE_LIST_BOX_ROW)

enum {
  SET_LABEL,
  SET_INTENSITY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char *
state_text (FacetLabelState state)
{
  return facet_facs_state_text (state, _("Unlabelled"));
}

static const char *
source_text (FacetLabelSource source)
{
  switch (source)
    {
    case FACET_LABEL_SOURCE_IMPORTED:
      return _("imported");
    case FACET_LABEL_SOURCE_ACCEPTED:
      return _("accepted prediction");
    case FACET_LABEL_SOURCE_HUMAN:
    default:
      return _("coded");
    }
}

static void
update_accessible (FacetAuRow *self)
{
  g_autofree char *code = facet_facs_code (self->au);
  g_autofree char *name = facet_facs_name (self->au);
  g_autofree char *prob = self->hand_coded ? g_strdup (_("coded by hand"))
    : isnan (self->probability)
    ? g_strdup (_("no prediction"))
    : g_strdup_printf (_("probability %.2f"), self->probability);
  /* TRANSLATORS: AU panel row for screen readers:
   * "AU12 Lip corner puller, probability 0.83, Present" */
  g_autofree char *text = g_strdup_printf (_("%s %s, %s, %s"), code, name, prob,
                                           state_text (self->state));
  /* The compared model's value follows, as its tooltip says it. */
  const char *more = self->comparing && !self->blind
                       ? gtk_widget_get_tooltip_text (GTK_WIDGET (self->compare_label)) : NULL;
  g_autofree char *all = more ? g_strdup_printf ("%s; %s", text, more) : NULL;

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  all ? all : text, -1);
}

static void
on_state_clicked (GtkToggleButton *button,
                  FacetAuRow      *self)
{
  FacetLabelState state;

  if (button == self->present_button)
    state = FACET_LABEL_PRESENT;
  else if (button == self->absent_button)
    state = FACET_LABEL_ABSENT;
  else
    state = FACET_LABEL_NOT_CODABLE;
  /* Clicking the state the frame has clears it. */
  if (!gtk_toggle_button_get_active (button))
    state = FACET_LABEL_UNSET;
  /* Until the store confirms, show what was there; the refresh sets it. */
  facet_au_row_set_label (self, &(FacetLabel) { .state = self->state,
                          .intensity = facet_intensity_from_level (self->intensity),
                          .source = FACET_LABEL_SOURCE_HUMAN });
  g_signal_emit (self, signals[SET_LABEL], 0, (int) state);
}

static void
on_intensity_clicked (GtkButton  *button,
                      FacetAuRow *self)
{
  int level = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "level"));

  gtk_popover_popdown (self->intensity_popover);
  g_signal_emit (self, signals[SET_INTENSITY], 0, level);
}

GtkWidget *
facet_au_row_new (int au)
{
  FacetAuRow *self = g_object_new (FACET_TYPE_AU_ROW, NULL);
  g_autofree char *code = facet_facs_code (au);
  g_autofree char *name = facet_facs_name (au);

  self->au = au;
  gtk_label_set_text (self->code_label, code);
  gtk_label_set_text (self->name_label, name);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->name_label), name);
  facet_au_row_set_probability (self, NAN, 0.5f);
  facet_au_row_set_label (self, NULL);
  return GTK_WIDGET (self);
}

int
facet_au_row_get_au (FacetAuRow *self)
{
  g_return_val_if_fail (FACET_IS_AU_ROW (self), 0);
  return self->au;
}

int
facet_au_row_get_intensity (FacetAuRow *self)
{
  g_return_val_if_fail (FACET_IS_AU_ROW (self), 0);
  return self->intensity;
}

void
facet_au_row_set_blind (FacetAuRow *self,
                        gboolean    blind)
{
  g_return_if_fail (FACET_IS_AU_ROW (self));
  self->blind = blind;
  gtk_widget_set_visible (GTK_WIDGET (self->prob_label), !blind);
  gtk_widget_set_visible (GTK_WIDGET (self->prob_bar), !blind);
  gtk_widget_set_visible (GTK_WIDGET (self->compare_label), !blind && self->comparing);
}

void
facet_au_row_set_compare (FacetAuRow *self,
                          const char *name,
                          float       probability,
                          float       threshold)
{
  g_autofree char *text = NULL, *tip = NULL;

  g_return_if_fail (FACET_IS_AU_ROW (self));

  /* Called for every frame: nothing to do while nothing is compared. */
  if (!self->comparing && (name == NULL || self->hand_coded))
    return;
  self->comparing = name != NULL && !self->hand_coded;
  gtk_widget_set_visible (GTK_WIDGET (self->compare_label), !self->blind && self->comparing);
  if (!self->comparing)
    {
      update_accessible (self);
      return;
    }
  /* The dash of its line in the timeline, then the value. */
  text = isnan (probability) ? g_strdup ("╍ –") : g_strdup_printf ("╍ %.2f", probability);
  if (isnan (probability))
    /* TRANSLATORS: the compared model's probability in the AU panel: the model's name */
    tip = g_strdup_printf (_("%s: no probability for this frame"), name);
  else
    /* TRANSLATORS: the compared model's probability in the AU panel: name,
     * probability, threshold */
    tip = g_strdup_printf (_("%s: probability %.3f, threshold %.2f"), name, probability,
                           threshold);
  gtk_label_set_text (self->compare_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->compare_label), tip);
  update_accessible (self);
}

const char *
facet_au_row_get_compare_text (FacetAuRow *self)
{
  g_return_val_if_fail (FACET_IS_AU_ROW (self), NULL);
  return self->comparing ? gtk_label_get_text (self->compare_label) : NULL;
}

FacetLabelState
facet_au_row_get_state (FacetAuRow *self)
{
  g_return_val_if_fail (FACET_IS_AU_ROW (self), FACET_LABEL_UNSET);
  return self->state;
}

void
facet_au_row_set_probability (FacetAuRow *self,
                              float       probability,
                              float       threshold)
{
  g_return_if_fail (FACET_IS_AU_ROW (self));

  self->probability = probability;
  /* Below the threshold the bar takes the "low" colour: the model says
   * absent; above it, present. */
  gtk_level_bar_remove_offset_value (self->prob_bar, GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (self->prob_bar, GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (self->prob_bar, GTK_LEVEL_BAR_OFFSET_FULL);
  gtk_level_bar_add_offset_value (self->prob_bar, GTK_LEVEL_BAR_OFFSET_LOW, CLAMP (threshold, 0.0,
                                                                                   1.0));
  gtk_level_bar_add_offset_value (self->prob_bar, GTK_LEVEL_BAR_OFFSET_HIGH, 1.0);
  if (self->hand_coded)
    {
      gtk_level_bar_set_value (self->prob_bar, 0);
      gtk_label_set_text (self->prob_label, "");
    }
  else if (isnan (probability))
    {
      gtk_level_bar_set_value (self->prob_bar, 0);
      gtk_label_set_text (self->prob_label, "—");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->prob_label),
                                   _("No prediction for this frame"));
    }
  else
    {
      g_autofree char *text = g_strdup_printf ("%.2f", probability);
      g_autofree char *tip = g_strdup_printf (_("Probability %.3f, threshold %.2f"), probability,
                                              threshold);
      gtk_level_bar_set_value (self->prob_bar, CLAMP (probability, 0.0f, 1.0f));
      gtk_label_set_text (self->prob_label, text);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->prob_label), tip);
    }
  update_accessible (self);
}

void
facet_au_row_set_label (FacetAuRow       *self,
                        const FacetLabel *label)
{
  static const char *classes[] = { "unset", "present", "absent", "not-codable" };
  FacetLabelState state;

  g_return_if_fail (FACET_IS_AU_ROW (self));

  state = label ? label->state : FACET_LABEL_UNSET;
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (self->state_label), classes[i]);
  gtk_widget_add_css_class (GTK_WIDGET (self->state_label), classes[CLAMP (state, 0, 3)]);
  gtk_label_set_text (self->state_label, state_text (state));
  self->state = state;

  gtk_toggle_button_set_active (self->present_button, state == FACET_LABEL_PRESENT);
  gtk_toggle_button_set_active (self->absent_button, state == FACET_LABEL_ABSENT);
  gtk_toggle_button_set_active (self->not_codable_button, state == FACET_LABEL_NOT_CODABLE);

  self->intensity = state == FACET_LABEL_PRESENT && label != NULL
    ? facet_intensity_to_level (label->intensity) : 0;
  gtk_widget_set_visible (GTK_WIDGET (self->intensity_button), state == FACET_LABEL_PRESENT);
  gtk_menu_button_set_label (self->intensity_button,
                             self->intensity > 0 ? facet_facs_intensity_letter (self->intensity)
                                                 : "–");

  if (label != NULL && state != FACET_LABEL_UNSET && label->coder != NULL)
    {
      /* TRANSLATORS: how a label was set, and by whom:
       * "coded · alice", "imported · Demo coder" */
      g_autofree char *text = g_strdup_printf (_("%s · %s"), source_text (label->source),
                                               label->coder);
      gtk_label_set_text (self->source_label, text);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->source_label), text);
    }
  else
    gtk_label_set_text (self->source_label, "");
  update_accessible (self);
}

void
facet_au_row_set_hand_coded (FacetAuRow *self,
                             gboolean    hand_coded)
{
  g_return_if_fail (FACET_IS_AU_ROW (self));

  self->hand_coded = hand_coded;
  if (hand_coded)
    facet_au_row_set_compare (self, NULL, NAN, NAN);
  gtk_widget_set_visible (GTK_WIDGET (self->prob_bar), !hand_coded);
  gtk_widget_set_visible (GTK_WIDGET (self->hand_label), hand_coded);
  facet_au_row_set_probability (self, NAN, 0.5f);
}

gboolean
facet_au_row_get_hand_coded (FacetAuRow *self)
{
  g_return_val_if_fail (FACET_IS_AU_ROW (self), FALSE);
  return self->hand_coded;
}

static void
facet_au_row_class_init (FacetAuRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  /**
   * FacetAuRow::set-label:
   * @state: the FacetLabelState the coder chose (UNSET: clear)
   */
  signals[SET_LABEL] =
    g_signal_new ("set-label", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT);

  /**
   * FacetAuRow::set-intensity:
   * @level: 1-5 for A-E, 0 to clear the intensity
   */
  signals[SET_INTENSITY] =
    g_signal_new ("set-intensity", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_INT);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-au-row.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, absent_button);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, code_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, hand_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, intensity_box);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, intensity_button);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, intensity_popover);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, not_codable_button);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, present_button);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, compare_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, prob_bar);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, prob_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, source_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAuRow, state_label);
  gtk_widget_class_bind_template_callback (widget_class, on_state_clicked);
}

static void
facet_au_row_init (FacetAuRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->probability = NAN;
  /* A-E and one to clear: the letters coders use on paper. */
  for (int level = 1; level <= 6; level++)
    {
      const char *text = level <= 5 ? facet_facs_intensity_letter (level) : "–";
      GtkWidget *button = gtk_button_new_with_label (text);

      g_object_set_data (G_OBJECT (button), "level", GINT_TO_POINTER (level % 6));
      gtk_widget_set_tooltip_text (button, level <= 5 ? NULL : _("No intensity"));
      g_signal_connect (button, "clicked", G_CALLBACK (on_intensity_clicked), self);
      gtk_box_append (self->intensity_box, button);
    }
}
