/* facet-export-dialog.c — exports of predictions and labels
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-export"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-export-dialog.h"
#include "facet-window.h"

/* The rows of the format list, in order; LABELS is the coders' work. */
enum {
  ROW_OPENFACE,
  ROW_EVENTS,
  ROW_EAF,
  ROW_SUMMARY,
  ROW_LABELS,
};

struct _FacetExportDialog
{
  AdwWindow     parent_instance;

  GtkButton    *export_button;
  GtkSpinner   *spinner;
  AdwComboRow  *format_row;
  AdwComboRow  *video_row;
  AdwComboRow  *model_row;
  AdwActionRow *threshold_row;
  GtkLabel     *format_hint;

  FacetProject *project;
  GArray       *video_ids;  /* row -> id; 0 for all */
  GArray       *model_ids;
  double        threshold;
  gboolean      busy;
};

G_DEFINE_FINAL_TYPE (FacetExportDialog, facet_export_dialog, ADW_TYPE_WINDOW)

static gboolean
one_file_per_video (guint format)
{
  return format == ROW_OPENFACE || format == ROW_EAF;
}

static void
on_format_changed (FacetExportDialog *self)
{
  static const char *hints[] = {
    N_("One row per frame with the probability and the thresholded presence of every AU, like "
       "OpenFace's output; one file per video."),
    N_("One row per AU event (onset, offset, duration, peak probability) of every video."),
    N_("An ELAN document per video with one tier per AU, for annotation software."),
    N_("Per video and AU: share of frames present, number of events, mean probability."),
    N_("Every label with its frame, AU, state, intensity, source and coder; Facet and facet-cli "
       "import this file again."),
  };
  guint format = adw_combo_row_get_selected (self->format_row);
  gboolean labels = format == ROW_LABELS;

  gtk_widget_set_sensitive (GTK_WIDGET (self->model_row), !labels);
  gtk_widget_set_sensitive (GTK_WIDGET (self->threshold_row), !labels);
  gtk_label_set_text (self->format_hint, _(hints[MIN (format, G_N_ELEMENTS (hints) - 1)]));
}

typedef struct
{
  guint              format;
  FacetExportOptions options;
  char              *path;
} ExportJob;

static void
export_job_free (gpointer data)
{
  ExportJob *j = data;

  g_free (j->path);
  g_free (j);
}

static gpointer
export_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  ExportJob *j = data;
  gboolean ok;

  if (j->format == ROW_LABELS)
    ok = facet_store_export_labels (store, j->path, j->options.video_id, error);
  else
    ok = facet_store_export (store, &j->options, j->path, error);
  return ok ? g_strdup (j->path) : NULL;
}

static void
export_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetExportDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (self));

  self->busy = FALSE;
  gtk_spinner_set_spinning (self->spinner, FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), TRUE);
  if (path == NULL)
    {
      GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), _("The Export Failed"), NULL);
      g_autofree char *body = g_strdup_printf ("%s\n\n%s",
                                               _("Nothing was written. Check that the folder "
                                                             "exists and is writable, and that the "
                                                             "videos have been analysed."),
                                               error->message);
      adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (dialog), body);
      adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
      gtk_window_present (GTK_WINDOW (dialog));
      return;
    }
  if (FACET_IS_WINDOW (parent))
    {
      /* The toast lives in the main window, which outlives this dialog. */
      g_autofree char *base = g_path_get_basename (path);
      g_autofree char *text = g_strdup_printf (_("Exported to %s"), base);
      facet_window_toast (FACET_WINDOW (parent), text);
    }
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
on_chooser_response (GtkNativeDialog   *chooser,
                     int                response,
                     FacetExportDialog *self)
{
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response != GTK_RESPONSE_ACCEPT)
    {
      g_object_unref (chooser);
      return;
    }
  file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_object_unref (chooser);
  path = g_file_get_path (file);
  if (path != NULL)
    facet_export_dialog_export_to (self, path);
}

void
facet_export_dialog_export_to (FacetExportDialog *self,
                               const char        *path)
{
  ExportJob *j;
  guint video_row, model_row;

  g_return_if_fail (FACET_IS_EXPORT_DIALOG (self));
  g_return_if_fail (path != NULL);

  if (self->busy)
    return;
  j = g_new0 (ExportJob, 1);
  j->path = g_strdup (path);
  j->format = adw_combo_row_get_selected (self->format_row);
  video_row = adw_combo_row_get_selected (self->video_row);
  model_row = adw_combo_row_get_selected (self->model_row);
  j->options.video_id = video_row < self->video_ids->len ? g_array_index (self->video_ids, gint64,
                                                                          video_row) : 0;
  j->options.model_id = model_row < self->model_ids->len ? g_array_index (self->model_ids, gint64,
                                                                          model_row) : 0;
  j->options.threshold = (float) self->threshold;
  switch (j->format)
    {
    case ROW_OPENFACE:
      j->options.format = FACET_EXPORT_OPENFACE;
      break;
    case ROW_EVENTS:
      j->options.format = FACET_EXPORT_EVENTS;
      break;
    case ROW_EAF:
      j->options.format = FACET_EXPORT_EAF;
      break;
    case ROW_SUMMARY:
    default:
      j->options.format = FACET_EXPORT_SUMMARY;
      break;
    }
  self->busy = TRUE;
  gtk_spinner_set_spinning (self->spinner, TRUE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), FALSE);
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, export_job, j, export_job_free,
                     g_free, NULL,
                     export_done, g_object_ref (self));
}

static void
on_export_clicked (FacetExportDialog *self)
{
  guint format = adw_combo_row_get_selected (self->format_row);
  guint video_row = adw_combo_row_get_selected (self->video_row);
  gboolean all = video_row >= self->video_ids->len || g_array_index (self->video_ids, gint64,
                                                                     video_row) == 0;
  gboolean folder = one_file_per_video (format) && all && self->video_ids->len > 2;
  GtkFileChooserNative *chooser;
  static const char *names[] = {
    "aus.csv", "events.csv", "annotations.eaf", "summary.csv", "labels.csv",
  };

  if (self->busy)
    return;
  chooser = gtk_file_chooser_native_new (folder ? _("Export to a Folder") : _("Export to a File"),
                                         GTK_WINDOW (self),
                                         folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                                : GTK_FILE_CHOOSER_ACTION_SAVE,
                                         _("_Export"), _("_Cancel"));
  if (!folder)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser),
                                       names[MIN (format, G_N_ELEMENTS (names) - 1)]);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_cancel_clicked (FacetExportDialog *self)
{
  gtk_window_destroy (GTK_WINDOW (self));
}

GtkWidget *
facet_export_dialog_new (GtkWindow    *parent,
                         FacetProject *project,
                         gint64        video_id,
                         double        threshold)
{
  FacetExportDialog *self;
  g_autoptr (GtkStringList) videos = gtk_string_list_new (NULL);
  g_autoptr (GtkStringList) models = gtk_string_list_new (NULL);
  GPtrArray *list;
  guint select_video = 0, select_model = 0;
  gint64 zero = 0;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);

  self = g_object_new (FACET_TYPE_EXPORT_DIALOG, "transient-for", parent, NULL);
  self->project = g_object_ref (project);
  self->threshold = threshold;

  gtk_string_list_append (videos, _("All videos"));
  g_array_append_val (self->video_ids, zero);
  list = facet_project_get_videos (project);
  for (guint i = 0; i < list->len; i++)
    {
      FacetStoreVideo *v = g_ptr_array_index (list, i);
      g_autofree char *base = g_path_get_basename (v->path);
      g_autofree char *text = g_strdup_printf ("%s (%s)", base, v->subject);

      gtk_string_list_append (videos, text);
      g_array_append_val (self->video_ids, v->id);
      if (v->id == video_id)
        select_video = i + 1;
    }
  list = facet_project_get_models (project);
  for (guint i = 0; i < list->len; i++)
    {
      FacetStoreModel *m = g_ptr_array_index (list, i);
      g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT " · %s", m->id,
                                               m->name ? m->name : m->file);

      gtk_string_list_append (models, text);
      g_array_append_val (self->model_ids, m->id);
      if (m->id == facet_project_get_model_id (project))
        select_model = i;
    }
  adw_combo_row_set_model (self->video_row, G_LIST_MODEL (videos));
  adw_combo_row_set_selected (self->video_row, select_video);
  adw_combo_row_set_model (self->model_row, G_LIST_MODEL (models));
  adw_combo_row_set_selected (self->model_row, select_model);
  if (isnan (threshold))
    adw_action_row_set_subtitle (self->threshold_row, _("Each AU's threshold from the model"));
  else
    {
      g_autofree char *text = g_strdup_printf (_("%.2f for every AU (set in Preferences)"),
                                               threshold);
      adw_action_row_set_subtitle (self->threshold_row, text);
    }
  on_format_changed (self);
  return GTK_WIDGET (self);
}

static void
facet_export_dialog_dispose (GObject *object)
{
  FacetExportDialog *self = (FacetExportDialog *) object;

  g_clear_object (&self->project);
  g_clear_pointer (&self->video_ids, g_array_unref);
  g_clear_pointer (&self->model_ids, g_array_unref);
  G_OBJECT_CLASS (facet_export_dialog_parent_class)->dispose (object);
}

static void
facet_export_dialog_class_init (FacetExportDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_export_dialog_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-export-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetExportDialog, export_button);
  gtk_widget_class_bind_template_child (widget_class, FacetExportDialog, format_hint);
  gtk_widget_class_bind_template_child (widget_class, FacetExportDialog, format_row);
  gtk_widget_class_bind_template_child (widget_class, FacetExportDialog, model_row);
  gtk_widget_class_bind_template_child (widget_class, FacetExportDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, FacetExportDialog, threshold_row);
  gtk_widget_class_bind_template_child (widget_class, FacetExportDialog, video_row);
  gtk_widget_class_bind_template_callback (widget_class, on_cancel_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_export_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_format_changed);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_export_dialog_init (FacetExportDialog *self)
{
  self->video_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->model_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gtk_widget_init_template (GTK_WIDGET (self));
}
