/* facet-sample-dialog.c — picking the reliability sample
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A share of every video, in random segments of a set length (stratified
 * by subject and video: facet_store_sample_reliability), marked for double
 * coding; "Next to check" can then step through the marked segments.
 */
#define G_LOG_DOMAIN "facet-sample"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-sample-dialog.h"

struct _FacetSampleDialog
{
  AdwMessageDialog  parent_instance;

  GtkSpinButton    *percent_spin;
  GtkSpinButton    *seconds_spin;
  FacetProject     *project;
};

G_DEFINE_FINAL_TYPE (FacetSampleDialog, facet_sample_dialog, ADW_TYPE_MESSAGE_DIALOG)

enum {
  MARKED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  FacetSampleOptions options;
} Job;

static gpointer
sample_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  Job *job = data;
  g_autoptr (GPtrArray) segments = NULL;

  if (facet_store_sample_reliability (store, &job->options, error) == 0)
    return NULL;
  segments = facet_store_list_reliability (store, 0, error);
  if (segments == NULL)
    return NULL;
  return GUINT_TO_POINTER (segments->len + 1);
}

static void
sample_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetSampleDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  gpointer answer = facet_project_run_finish (FACET_PROJECT (object), result, &error);

  if (answer == NULL)
    g_signal_emit (self, signals[MARKED], 0, -1, error ? error->message : "");
  else
    g_signal_emit (self, signals[MARKED], 0, (int) (GPOINTER_TO_UINT (answer) - 1), NULL);
}

static void
on_response (AdwMessageDialog  *dialog,
             const char        *response,
             FacetSampleDialog *self)
{
  Job *job;

  if (!g_str_equal (response, "mark") || self->project == NULL)
    return;
  job = g_new0 (Job, 1);
  job->options.percent = gtk_spin_button_get_value (self->percent_spin);
  job->options.seconds = gtk_spin_button_get_value (self->seconds_spin);
  job->options.seed = g_random_int ();
  job->options.video_id = 0;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_EDIT, sample_job, job, g_free, NULL, NULL,
                     sample_done, g_object_ref (self));
}

FacetSampleDialog *
facet_sample_dialog_new (GtkWindow    *parent,
                         FacetProject *project)
{
  FacetSampleDialog *self;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);

  self = g_object_new (FACET_TYPE_SAMPLE_DIALOG, "transient-for", parent, "modal", TRUE, NULL);
  self->project = g_object_ref (project);
  return self;
}

void
facet_sample_dialog_set_values (FacetSampleDialog *self,
                                double             percent,
                                double             seconds)
{
  g_return_if_fail (FACET_IS_SAMPLE_DIALOG (self));
  gtk_spin_button_set_value (self->percent_spin, percent);
  gtk_spin_button_set_value (self->seconds_spin, seconds);
}

static void
facet_sample_dialog_dispose (GObject *object)
{
  FacetSampleDialog *self = FACET_SAMPLE_DIALOG (object);

  g_clear_object (&self->project);
  G_OBJECT_CLASS (facet_sample_dialog_parent_class)->dispose (object);
}

static void
facet_sample_dialog_class_init (FacetSampleDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = facet_sample_dialog_dispose;

  /**
   * FacetSampleDialog::marked:
   * @n_segments: the segments marked in the project now, -1 on error
   * @message: the error's message, or NULL
   */
  signals[MARKED] =
    g_signal_new ("marked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static GtkWidget *
spin_row (GtkGrid    *grid,
          int         row,
          const char *title,
          const char *unit,
          double      min,
          double      max,
          double      step,
          double      value,
          guint       digits)
{
  GtkWidget *label = gtk_label_new_with_mnemonic (title);
  GtkWidget *spin = gtk_spin_button_new_with_range (min, max, step);
  GtkWidget *units = gtk_label_new (unit);

  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (spin), digits);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), value);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), spin);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_xalign (GTK_LABEL (units), 0);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_grid_attach (grid, label, 0, row, 1, 1);
  gtk_grid_attach (grid, spin, 1, row, 1, 1);
  gtk_grid_attach (grid, units, 2, row, 1, 1);
  return spin;
}

static void
facet_sample_dialog_init (FacetSampleDialog *self)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (self);
  GtkGrid *grid = GTK_GRID (gtk_grid_new ());

  adw_message_dialog_set_heading (dialog, _("Pick the Reliability Sample"));
  adw_message_dialog_set_body (dialog,
                               _("Marks random segments of every video for double coding, the "
                                 "same share of each (so of each subject). Segments marked "
                                 "before stay; new ones avoid them. With “Next to Check: the "
                                 "Sample” in the menu, N steps through them."));
  gtk_grid_set_row_spacing (grid, 6);
  gtk_grid_set_column_spacing (grid, 12);
  self->percent_spin = GTK_SPIN_BUTTON (spin_row (grid, 0, _("_Share of each video"), "%",
                                                  1, 100, 1, 20, 0));
  self->seconds_spin = GTK_SPIN_BUTTON (spin_row (grid, 1, _("Segment _length"),
                                                  /* TRANSLATORS: unit of the segment length */
                                                  _("seconds"), 0.5, 600, 0.5, 5, 1));
  adw_message_dialog_set_extra_child (dialog, GTK_WIDGET (grid));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "mark", _("_Mark Segments"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "mark", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "mark");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (self, "response", G_CALLBACK (on_response), self);
}
