/* facet-add-media-dialog.c — the subject and crop of new videos
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Probing and hashing a long video takes seconds: the files are added by
 * the project's load worker while the dialog shows progress.
 */
#define G_LOG_DOMAIN "facet-add-media"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "media/facet-media.h"

#include "facet-add-media-dialog.h"

struct _FacetAddMediaDialog
{
  AdwWindow            parent_instance;

  GtkButton           *add_button;
  GtkButton           *cancel_button;
  AdwEntryRow         *subject_row;
  AdwComboRow         *crop_row;
  AdwActionRow        *fps_row;
  GtkSpinButton       *fps_spin;
  AdwPreferencesGroup *files_group;
  GtkProgressBar      *progress;
  GtkLabel            *message_label;

  FacetProject        *project;
  GPtrArray           *paths;
  gboolean             busy;
  gboolean             done;
  guint                pulse;
};

G_DEFINE_FINAL_TYPE (FacetAddMediaDialog, facet_add_media_dialog, ADW_TYPE_WINDOW)

enum {
  ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

char *
facet_add_media_guess_subject (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  gsize cut;

  if (dot != NULL && dot != base && !g_file_test (path, G_FILE_TEST_IS_DIR))
    *dot = '\0';
  /* "s03_session1", "P12-day2", "anna baseline": the part before the
   * first separator names the person in most studies' file names. */
  cut = strcspn (base, "_- .");
  if (cut > 0 && cut < strlen (base))
    base[cut] = '\0';
  return g_steal_pointer (&base);
}

typedef struct
{
  GPtrArray    *paths;
  char         *subject;
  FacetCropKind crop;
  double        fps;
} AddJob;

typedef struct
{
  guint      added;
  GPtrArray *errors; /* char*: "file: message" */
} AddResult;

static void
add_job_free (gpointer data)
{
  AddJob *j = data;

  g_ptr_array_unref (j->paths);
  g_free (j->subject);
  g_free (j);
}

static void
add_result_free (gpointer data)
{
  AddResult *r = data;

  g_ptr_array_unref (r->errors);
  g_free (r);
}

static gpointer
add_job (FacetStore   *store,
         gpointer      data,
         GCancellable *cancellable,
         GError      **error)
{
  AddJob *j = data;
  AddResult *r = g_new0 (AddResult, 1);

  r->errors = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < j->paths->len; i++)
    {
      const char *path = g_ptr_array_index (j->paths, i);
      g_autoptr (GError) local = NULL;
      g_autoptr (FacetMediaSource) source = facet_media_source_open (path, j->fps, &local);
      FacetStoreVideoInfo info = { 0 };
      g_autofree char *base = g_path_get_basename (path);

      if (source != NULL)
        {
          const FacetMediaInfo *mi = facet_media_source_get_info (source);

          info.path = path;
          info.subject = j->subject;
          info.crop = j->crop;
          info.n_frames = mi->n_frames;
          info.fps = mi->fps;
          info.width = mi->width;
          info.height = mi->height;
          if (facet_store_add_video (store, &info, &local) > 0)
            {
              r->added++;
              continue;
            }
        }
      g_ptr_array_add (r->errors, g_strdup_printf ("%s: %s", base, local->message));
    }
  return r;
}

static gboolean
pulse (gpointer data)
{
  FacetAddMediaDialog *self = data;

  gtk_progress_bar_pulse (self->progress);
  return G_SOURCE_CONTINUE;
}

static void
add_done (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr (FacetAddMediaDialog) self = user_data;
  AddResult *r = facet_project_run_finish (FACET_PROJECT (object), result, NULL);

  self->busy = FALSE;
  g_clear_handle_id (&self->pulse, g_source_remove);
  gtk_widget_set_visible (GTK_WIDGET (self->progress), FALSE);
  if (r == NULL)
    return;
  if (r->added > 0)
    g_signal_emit (self, signals[ADDED], 0, r->added);
  if (r->errors->len == 0)
    {
      add_result_free (r);
      gtk_window_destroy (GTK_WINDOW (self));
      return;
    }
  {
    g_autoptr (GString) text = g_string_new (NULL);

    g_ptr_array_add (r->errors, NULL);
    g_string_append_printf (text, ngettext ("%u file was added. These could not be:",
                                            "%u files were added. These could not be:", r->added),
                            r->added);
    g_string_append (text, "\n");
    for (guint i = 0; r->errors->pdata[i] != NULL; i++)
      g_string_append_printf (text, "• %s\n", (char *) r->errors->pdata[i]);
    g_string_append (text, _("Check that they are videos or folders of JPEG or PNG images; a file "
                             "already in the project is not added twice."));
    gtk_label_set_text (self->message_label, text->str);
    gtk_widget_add_css_class (GTK_WIDGET (self->message_label), "error");
    gtk_widget_set_visible (GTK_WIDGET (self->message_label), TRUE);
  }
  add_result_free (r);
  self->done = TRUE;
  gtk_button_set_label (self->add_button, _("_Close"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->add_button), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), FALSE);
}

static void
on_add_clicked (FacetAddMediaDialog *self)
{
  static const FacetCropKind crops[] = { FACET_CROP_ALIGNED, FACET_CROP_BOX, FACET_CROP_NONE };
  g_autofree char *subject = NULL;
  AddJob *j;
  guint crop;

  if (self->done)
    {
      gtk_window_destroy (GTK_WINDOW (self));
      return;
    }
  if (self->busy)
    return;
  subject = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->subject_row))));
  if (*subject == '\0')
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->subject_row), "error");
      gtk_widget_grab_focus (GTK_WIDGET (self->subject_row));
      return;
    }
  crop = adw_combo_row_get_selected (self->crop_row);
  j = g_new0 (AddJob, 1);
  j->paths = g_ptr_array_ref (self->paths);
  j->subject = g_steal_pointer (&subject);
  j->crop = crops[MIN (crop, G_N_ELEMENTS (crops) - 1)];
  j->fps = gtk_spin_button_get_value (self->fps_spin);

  self->busy = TRUE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->add_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->progress), TRUE);
  self->pulse = g_timeout_add (120, pulse, self);
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, add_job, j, add_job_free,
                     add_result_free,
                     NULL, add_done, g_object_ref (self));
}

static void
on_cancel_clicked (FacetAddMediaDialog *self)
{
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
on_subject_changed (FacetAddMediaDialog *self)
{
  gtk_widget_remove_css_class (GTK_WIDGET (self->subject_row), "error");
}

GtkWidget *
facet_add_media_dialog_new (GtkWindow    *parent,
                            FacetProject *project,
                            GPtrArray    *files)
{
  FacetAddMediaDialog *self;
  gboolean folders = FALSE;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);
  g_return_val_if_fail (files != NULL && files->len > 0, NULL);

  self = g_object_new (FACET_TYPE_ADD_MEDIA_DIALOG, "transient-for", parent, NULL);
  self->project = g_object_ref (project);
  self->paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *path = g_file_get_path (g_ptr_array_index (files, i));
      g_autofree char *base = NULL;
      GtkWidget *row;

      if (path == NULL)
        continue;
      base = g_path_get_basename (path);
      row = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), base);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          folders = TRUE;
          adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Image folder"));
        }
      adw_preferences_group_add (self->files_group, row);
      if (self->paths->len == 0)
        {
          g_autofree char *guess = facet_add_media_guess_subject (path);
          gtk_editable_set_text (GTK_EDITABLE (self->subject_row), guess);
        }
      g_ptr_array_add (self->paths, g_steal_pointer (&path));
    }
  gtk_widget_set_visible (GTK_WIDGET (self->fps_row), folders);
  gtk_window_set_title (GTK_WINDOW (self),
                        self->paths->len == 1 ? _("Add a Video") : _("Add Videos"));
  return GTK_WIDGET (self);
}

static void
facet_add_media_dialog_dispose (GObject *object)
{
  FacetAddMediaDialog *self = (FacetAddMediaDialog *) object;

  g_clear_handle_id (&self->pulse, g_source_remove);
  g_clear_object (&self->project);
  g_clear_pointer (&self->paths, g_ptr_array_unref);
  G_OBJECT_CLASS (facet_add_media_dialog_parent_class)->dispose (object);
}

static void
facet_add_media_dialog_class_init (FacetAddMediaDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_add_media_dialog_dispose;

  /**
   * FacetAddMediaDialog::added:
   * @n: how many files became videos of the project
   */
  signals[ADDED] =
    g_signal_new ("added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-add-media-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, add_button);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, crop_row);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, files_group);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, fps_row);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, fps_spin);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, message_label);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, progress);
  gtk_widget_class_bind_template_child (widget_class, FacetAddMediaDialog, subject_row);
  gtk_widget_class_bind_template_callback (widget_class, on_add_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_cancel_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_subject_changed);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_add_media_dialog_init (FacetAddMediaDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
