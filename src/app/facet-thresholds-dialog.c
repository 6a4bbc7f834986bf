/* facet-thresholds-dialog.c — a model's per-AU decision thresholds, with
 * the F1 each would give while the slider moves
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A model file carries no validation predictions, and its stored metrics
 * are at one threshold only. So the F1 here is measured where Facet has
 * both sides: the project's present/absent labels (any coder) at the
 * frames this model analysed, against its stored probabilities. The
 * dialog says so, with the number of labelled frames per AU.
 */
#define G_LOG_DOMAIN "facet-thresholds"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-dialog-parts.h"
#include "facet-facs.h"
#include "facet-thresholds-dialog.h"
#include "facet-window-private.h"

struct _FacetThresholdsDialog
{
  AdwWindow     parent_instance;

  FacetWindow  *window;   /* weak: the dialog is transient for it */
  FacetProject *project;
  gint64        model_id;
  int           n_aus;
  int          *au_ids;
  GPtrArray    *scales;   /* GtkScale per output */
  GPtrArray    *f1_labels;
  GPtrArray    *curves;   /* FacetThresholdCurve per output, once loaded */
  GtkLabel     *intro;
  GtkButton    *save_button;
  GtkButton    *best_button;
  gboolean      saving;
  gboolean      disposed;  /* the widgets above are gone: late answers only free */
};

G_DEFINE_FINAL_TYPE (FacetThresholdsDialog, facet_thresholds_dialog, ADW_TYPE_WINDOW)

static void
update_f1 (FacetThresholdsDialog *self,
           int                    i)
{
  GtkLabel *label = g_ptr_array_index (self->f1_labels, i);
  float t = (float) gtk_range_get_value (g_ptr_array_index (self->scales, i));
  const FacetThresholdCurve *c;
  g_autofree char *text = NULL;
  double f1, best_f1;
  float best;

  if (self->curves == NULL)
    {
      gtk_label_set_text (label, _("Measuring…"));
      return;
    }
  c = g_ptr_array_index (self->curves, i);
  if (c->n_positive == 0)
    {
      /* TRANSLATORS: no coder has labelled this AU present at an analysed frame; %zu: absent ones */
      text = g_strdup_printf (_("No F1: no labelled present frame (%zu absent)"), c->n_negative);
      gtk_label_set_text (label, text);
      return;
    }
  f1 = facet_threshold_curve_f1 (c, t);
  best = facet_threshold_curve_best (c, &best_f1);
  /* TRANSLATORS: F1 at the slider's threshold; the best F1 and its threshold; the number of
   * labelled present and absent frames it is measured on */
  text = g_strdup_printf (_("F1 %.3f · best %.3f at %.2f · %zu present, %zu absent"), f1, best_f1,
                          (double) best, c->n_positive, c->n_negative);
  gtk_label_set_text (label, text);
}

static void
on_value_changed (GtkRange              *range,
                  FacetThresholdsDialog *self)
{
  guint i;

  if (g_ptr_array_find (self->scales, range, &i))
    update_f1 (self, (int) i);
}

static gpointer
curves_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  return facet_store_threshold_curves (store, *(gint64 *) data, error);
}

static void
curves_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetThresholdsDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  GPtrArray *curves = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  gsize labelled = 0;
  g_autofree char *intro = NULL;

  if (self->disposed)
    {
      g_clear_pointer (&curves, g_ptr_array_unref);
      return;
    }
  if (curves == NULL)
    {
      gtk_label_set_text (self->intro, error->message);
      return;
    }
  self->curves = curves;
  for (guint i = 0; i < curves->len; i++)
    {
      const FacetThresholdCurve *c = g_ptr_array_index (curves, i);
      labelled = MAX (labelled, c->n_positive + c->n_negative);
    }
  intro = g_strdup_printf (
    /* TRANSLATORS: %zu: the most labelled frames any AU has */
    _("The F1 beside each slider is measured on this project's coded frames (up to %zu per "
      "action unit): the coders' present and absent labels against this model's stored "
      "predictions. A model file keeps no validation predictions, so this is not the F1 of "
      "fine-tuning's held-out subjects. Saved thresholds decide present and absent in the "
      "panel, the timeline, the review queue and the exports."), labelled);
  gtk_label_set_text (self->intro, intro);
  for (int i = 0; i < self->n_aus; i++)
    update_f1 (self, i);
  gtk_widget_set_sensitive (GTK_WIDGET (self->best_button), TRUE);
}

static void
on_best_clicked (FacetThresholdsDialog *self)
{
  for (int i = 0; self->curves != NULL && i < self->n_aus; i++)
    {
      const FacetThresholdCurve *c = g_ptr_array_index (self->curves, i);
      if (c->n_positive > 0)
        gtk_range_set_value (g_ptr_array_index (self->scales, i),
                             facet_threshold_curve_best (c, NULL));
    }
}

typedef struct
{
  gint64 model_id;
  int    n;
  float *thresholds;
} SaveRequest;

static void
save_request_free (gpointer data)
{
  SaveRequest *r = data;

  g_free (r->thresholds);
  g_free (r);
}

static gpointer
save_job (FacetStore   *store,
          gpointer      data,
          GCancellable *cancellable,
          GError      **error)
{
  SaveRequest *r = data;

  if (!facet_store_set_model_thresholds (store, r->model_id, r->thresholds, r->n, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

static void
save_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (FacetThresholdsDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean ok = facet_project_run_finish (FACET_PROJECT (object), result, &error) != NULL;

  self->saving = FALSE;
  if (self->window != NULL)
    self->window->edits_in_flight--;
  if (self->disposed)
    return;
  if (!ok)
    {
      gtk_label_set_text (self->intro, error->message);
      gtk_widget_set_sensitive (GTK_WIDGET (self->save_button), TRUE);
      return;
    }
  if (self->window != NULL)
    {
      /* One common threshold in the preferences would hide the edit. */
      g_settings_set_boolean (self->window->settings, "use-model-thresholds", TRUE);
      facet_window_toast (self->window, _("Thresholds saved with the model"));
    }
  gtk_window_destroy (GTK_WINDOW (self));
}

void
facet_thresholds_dialog_save (FacetThresholdsDialog *self)
{
  SaveRequest *r;

  g_return_if_fail (FACET_IS_THRESHOLDS_DIALOG (self));

  if (self->saving)
    return;
  self->saving = TRUE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->save_button), FALSE);
  r = g_new0 (SaveRequest, 1);
  r->model_id = self->model_id;
  r->n = self->n_aus;
  r->thresholds = g_new (float, MAX (self->n_aus, 1));
  for (int i = 0; i < self->n_aus; i++)
    /* Stored as set: a hundredth, as the slider shows it. */
    r->thresholds[i] = roundf ((float) gtk_range_get_value (g_ptr_array_index (self->scales, i))
                               * 100.0f) / 100.0f;
  if (self->window != NULL)
    self->window->edits_in_flight++;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_EDIT, save_job, r, save_request_free, NULL,
                     NULL, save_done, g_object_ref (self));
}

GtkRange *
facet_thresholds_dialog_get_scale (FacetThresholdsDialog *self,
                                   int                    au)
{
  g_return_val_if_fail (FACET_IS_THRESHOLDS_DIALOG (self), NULL);

  for (int i = 0; i < self->n_aus; i++)
    if (self->au_ids[i] == au)
      return g_ptr_array_index (self->scales, i);
  return NULL;
}

const char *
facet_thresholds_dialog_get_f1_text (FacetThresholdsDialog *self,
                                     int                    au)
{
  g_return_val_if_fail (FACET_IS_THRESHOLDS_DIALOG (self), NULL);

  for (int i = 0; i < self->n_aus; i++)
    if (self->au_ids[i] == au)
      return gtk_label_get_text (g_ptr_array_index (self->f1_labels, i));
  return NULL;
}

gboolean
facet_thresholds_dialog_is_measured (FacetThresholdsDialog *self)
{
  g_return_val_if_fail (FACET_IS_THRESHOLDS_DIALOG (self), FALSE);
  return self->curves != NULL;
}

static GtkWidget *
au_row (FacetThresholdsDialog *self,
        int                    au,
        float                  threshold)
{
  g_autofree char *code = facet_facs_code (au);
  g_autofree char *name = facet_facs_name (au);
  g_autofree char *title = g_strdup_printf ("%s %s", code, name);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *label = gtk_label_new (title);
  GtkWidget *scale = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0.01, 0.99, 0.01);
  GtkWidget *f1 = gtk_label_new (NULL);

  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 8);
  gtk_widget_set_margin_bottom (box, 8);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (label, "heading");
  gtk_scale_set_digits (GTK_SCALE (scale), 2);
  gtk_scale_set_draw_value (GTK_SCALE (scale), TRUE);
  gtk_scale_set_value_pos (GTK_SCALE (scale), GTK_POS_RIGHT);
  gtk_range_set_value (GTK_RANGE (scale), threshold);
  gtk_scale_add_mark (GTK_SCALE (scale), 0.5, GTK_POS_BOTTOM, NULL);
  gtk_widget_set_hexpand (scale, TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (scale), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  gtk_label_set_xalign (GTK_LABEL (f1), 0);
  gtk_label_set_wrap (GTK_LABEL (f1), TRUE);
  gtk_widget_add_css_class (f1, "dim-label");
  gtk_widget_add_css_class (f1, "numeric");
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), scale);
  gtk_box_append (GTK_BOX (box), f1);
  g_ptr_array_add (self->scales, scale);
  g_ptr_array_add (self->f1_labels, f1);
  g_signal_connect (scale, "value-changed", G_CALLBACK (on_value_changed), self);
  return box;
}

GtkWidget *
facet_thresholds_dialog_new (FacetWindow  *window,
                             FacetProject *project,
                             gint64        model_id)
{
  FacetThresholdsDialog *self;
  FacetStoreModel *m;
  GtkWidget *box, *header, *list, *content;
  g_autofree char *title = NULL;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);

  self = g_object_new (FACET_TYPE_THRESHOLDS_DIALOG, "transient-for", window, "modal", TRUE,
                       "default-width", 620, "default-height", 640, NULL);
  self->window = window;
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &self->window);
  self->project = g_object_ref (project);
  self->model_id = model_id;
  m = facet_project_find_model (project, model_id);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  title = g_strdup_printf (_("Thresholds of %s"), m ? m->name : "");
  header = facet_dialog_edit_header (GTK_WINDOW (self), title,
                                     G_CALLBACK (facet_thresholds_dialog_save),
                                     &self->save_button);
  self->best_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Best F1 Each")));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->best_button),
                               _("Set every slider to the threshold with the highest F1 on the "
                                 "coded frames"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->best_button), FALSE);
  g_signal_connect_swapped (self->best_button, "clicked", G_CALLBACK (on_best_clicked), self);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), GTK_WIDGET (self->best_button));
  gtk_box_append (GTK_BOX (box), header);

  content = facet_dialog_body_new (12, 12, 12, 12);
  self->intro = GTK_LABEL (facet_dialog_note_new (_("Measuring the F1 on the coded frames…")));
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->intro));
  list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  if (m != NULL)
    {
      self->n_aus = m->n_aus;
      self->au_ids = g_memdup2 (m->au_ids, sizeof (int) * MAX (m->n_aus, 1));
      for (int i = 0; i < m->n_aus; i++)
        gtk_list_box_append (GTK_LIST_BOX (list), au_row (self, m->au_ids[i], m->thresholds[i]));
    }
  gtk_box_append (GTK_BOX (content), list);
  gtk_box_append (GTK_BOX (box), facet_dialog_scroll_clamped (content, 720));
  adw_window_set_content (ADW_WINDOW (self), box);

  for (int i = 0; i < self->n_aus; i++)
    update_f1 (self, i);
  facet_project_run (project, FACET_PROJECT_QUEUE_LOAD, curves_job,
                     g_memdup2 (&model_id, sizeof model_id), g_free,
                     (GDestroyNotify) g_ptr_array_unref, NULL, curves_done, g_object_ref (self));
  return GTK_WIDGET (self);
}

static void
facet_thresholds_dialog_dispose (GObject *object)
{
  FacetThresholdsDialog *self = FACET_THRESHOLDS_DIALOG (object);

  if (self->window != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
  self->window = NULL;
  self->disposed = TRUE;
  g_clear_object (&self->project);
  G_OBJECT_CLASS (facet_thresholds_dialog_parent_class)->dispose (object);
}

static void
facet_thresholds_dialog_finalize (GObject *object)
{
  FacetThresholdsDialog *self = FACET_THRESHOLDS_DIALOG (object);

  g_clear_pointer (&self->scales, g_ptr_array_unref);
  g_clear_pointer (&self->f1_labels, g_ptr_array_unref);
  g_clear_pointer (&self->curves, g_ptr_array_unref);
  g_free (self->au_ids);
  G_OBJECT_CLASS (facet_thresholds_dialog_parent_class)->finalize (object);
}

static void
facet_thresholds_dialog_class_init (FacetThresholdsDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_thresholds_dialog_dispose;
  object_class->finalize = facet_thresholds_dialog_finalize;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_thresholds_dialog_init (FacetThresholdsDialog *self)
{
  self->scales = g_ptr_array_new ();
  self->f1_labels = g_ptr_array_new ();
}
