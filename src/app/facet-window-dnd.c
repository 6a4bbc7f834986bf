/* facet-window-dnd.c — videos, image folders and projects dropped on the
 * window
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-window"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-add-media-dialog.h"
#include "facet-window-private.h"

static void
on_media_added (GtkWidget   *dialog,
                guint        n,
                FacetWindow *self)
{
  g_autofree char *text = g_strdup_printf (ngettext ("%u video added", "%u videos added", n), n);
  AdwToast *toast = adw_toast_new (text);

  /* The obvious next step, one click away. */
  if (gtk_widget_is_sensitive (GTK_WIDGET (self->analyse_button)))
    {
      adw_toast_set_button_label (toast, _("_Analyse"));
      adw_toast_set_action_name (toast, "win.analyse");
    }
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
facet_window_add_files (FacetWindow *self,
                        GPtrArray   *files)
{
  GtkWidget *dialog;

  g_return_if_fail (FACET_IS_WINDOW (self));
  g_return_if_fail (files != NULL);

  if (self->project == NULL)
    {
      facet_window_toast (self, _("Open or create a project first, then add videos to it"));
      return;
    }
  dialog = facet_add_media_dialog_new (GTK_WINDOW (self), self->project, files);
  g_signal_connect_object (dialog, "added", G_CALLBACK (on_media_added), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static gboolean
on_drop (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         FacetWindow   *self)
{
  GSList *list = g_value_get_boxed (value);
  g_autoptr (GPtrArray) media = g_ptr_array_new_with_free_func (g_object_unref);

  for (GSList *l = list; l != NULL; l = l->next)
    {
      GFile *file = l->data;
      g_autofree char *path = g_file_get_path (file);

      if (path == NULL)
        continue;
      /* A project is opened, anything else is media for the open one. */
      if (g_str_has_suffix (path, ".facet"))
        {
          facet_window_open_project (self, path, FALSE, FALSE);
          return TRUE;
        }
      g_ptr_array_add (media, g_object_ref (file));
    }
  if (media->len == 0)
    {
      facet_window_toast (self, _("Only local files and folders can be added"));
      return FALSE;
    }
  facet_window_add_files (self, media);
  return TRUE;
}

void
facet_window_init_dnd (FacetWindow *self)
{
  GtkDropTarget *target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);

  g_signal_connect (target, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));
}
