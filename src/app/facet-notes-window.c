/* facet-notes-window.c — the project's notes: search, jump to one, delete,
 * export (with the marked events)
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-notes"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-facs.h"
#include "facet-notes-window.h"
#include "facet-reload.h"
#include "facet-window-private.h"

struct _FacetNotesWindow
{
  AdwWindow        parent_instance;

  FacetWindow     *window;  /* weak */
  FacetProject    *project;
  GtkSearchEntry  *search;
  GtkListBox      *list;
  GtkStack        *stack;
  GPtrArray       *notes;   /* FacetStoreNote shown, in row order */
  FacetReload     *reload;  /* the list, read again on a search or a change */
  gboolean         disposed;
  gulong           changed_handler;
};

G_DEFINE_FINAL_TYPE (FacetNotesWindow, facet_notes_window, ADW_TYPE_WINDOW)

static void reload (FacetNotesWindow *self);

static gpointer
list_job (FacetStore   *store,
          gpointer      data,
          GCancellable *cancellable,
          GError      **error)
{
  return facet_store_list_notes (store, 0, data, error);
}

static gpointer
delete_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  return facet_store_delete_note (store, *(gint64 *) data, error) ? GINT_TO_POINTER (1) : NULL;
}

static void
delete_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetNotesWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (facet_project_run_finish (FACET_PROJECT (object), result, &error) == NULL
      && self->window != NULL)
    facet_window_toast (self->window, error->message);
}

static void
on_delete_clicked (GtkButton        *button,
                   FacetNotesWindow *self)
{
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (button), "note-id"));

  facet_project_run (self->project, FACET_PROJECT_QUEUE_EDIT, delete_job,
                     g_memdup2 (&id, sizeof id), g_free, NULL, NULL, delete_done,
                     g_object_ref (self));
}

static char *
describe (FacetNotesWindow     *self,
          const FacetStoreNote *n)
{
  FacetStoreVideo *v = facet_project_get_video (self->project, n->video_id);
  g_autofree char *base = v ? g_path_get_basename (v->path) : g_strdup ("?");
  g_autofree char *where = n->first == n->last
    /* TRANSLATORS: where a note is: one frame */
    ? g_strdup_printf (_("frame %d"), (int) n->first)
    /* TRANSLATORS: where a note is: a range of frames */
    : g_strdup_printf (_("frames %d–%d"), (int) n->first, (int) n->last);
  g_autofree char *code = n->au > 0 ? facet_facs_code (n->au) : NULL;

  /* TRANSLATORS: a note's place: video, frames, (AU and whether an event,) coder */
  if (n->event_id > 0)
    return g_strdup_printf (_("%s · %s · %s event · %s"), base, where, code, n->coder);
  if (code != NULL)
    return g_strdup_printf (_("%s · %s · %s · %s"), base, where, code, n->coder);
  return g_strdup_printf (_("%s · %s · %s"), base, where, n->coder);
}

static void
list_done (GObject      *owner,
           GObject      *object,
           GAsyncResult *result)
{
  FacetNotesWindow *self = FACET_NOTES_WINDOW (owner);
  g_autoptr (GError) error = NULL;
  GPtrArray *notes = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  GtkWidget *child;

  if (notes == NULL)
    {
      if (self->window != NULL)
        facet_window_toast (self->window, error->message);
      return;
    }
  g_clear_pointer (&self->notes, g_ptr_array_unref);
  self->notes = notes;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);
  for (guint i = 0; i < notes->len; i++)
    {
      const FacetStoreNote *n = notes->pdata[i];
      g_autofree char *subtitle = describe (self, n);
      g_autofree char *title = g_markup_escape_text (n->text, -1);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *del = gtk_button_new_from_icon_name ("user-trash-symbolic");

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      gtk_widget_set_valign (del, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (del, "flat");
      gtk_widget_set_tooltip_text (del, _("Delete this note"));
      g_object_set_data (G_OBJECT (del), "note-id", GSIZE_TO_POINTER ((gsize) n->id));
      g_signal_connect (del, "clicked", G_CALLBACK (on_delete_clicked), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), del);
      gtk_list_box_append (self->list, row);
    }
  gtk_stack_set_visible_child_name (self->stack, notes->len > 0 ? "list" : "empty");
}

static gboolean
list_start (GObject             *owner,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  FacetNotesWindow *self = FACET_NOTES_WINDOW (owner);
  const char *text;

  if (self->disposed)
    return FALSE;
  text = gtk_editable_get_text (GTK_EDITABLE (self->search));
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, list_job, g_strdup (text), g_free,
                     (GDestroyNotify) g_ptr_array_unref, cancellable, callback, user_data);
  return TRUE;
}

static void
reload (FacetNotesWindow *self)
{
  facet_reload_request (self->reload);
}

static void
on_project_changed (FacetProject     *project,
                    guint             what,
                    gint64            video_id,
                    gint64            first,
                    gint64            last,
                    FacetNotesWindow *self)
{
  if (what & FACET_STORE_CHANGE_LABELS)
    reload (self);
}

/* Goes to the note's first frame (and its AU) in the main window. */
static void
on_row_activated (GtkListBox       *list,
                  GtkListBoxRow    *row,
                  FacetNotesWindow *self)
{
  int index = gtk_list_box_row_get_index (row);
  const FacetStoreNote *n;
  FacetAuPanel *panel;

  if (self->window == NULL || self->notes == NULL || index < 0 || index >= (int) self->notes->len)
    return;
  n = self->notes->pdata[index];
  facet_window_show_video (self->window, n->video_id, n->first);
  panel = facet_window_get_au_panel (self->window);
  for (int i = 0; n->au > 0 && i < facet_au_panel_get_n_aus (panel); i++)
    if (facet_au_panel_get_au (panel, i) == n->au)
      facet_au_panel_set_selected (panel, i);
  gtk_window_present (GTK_WINDOW (self->window));
}

gboolean
facet_notes_window_activate_row (FacetNotesWindow *self,
                                 int               index)
{
  GtkListBoxRow *row;

  g_return_val_if_fail (FACET_IS_NOTES_WINDOW (self), FALSE);

  row = gtk_list_box_get_row_at_index (self->list, index);
  if (row == NULL)
    return FALSE;
  g_signal_emit_by_name (self->list, "row-activated", row);
  return TRUE;
}

guint
facet_notes_window_get_n_notes (FacetNotesWindow *self)
{
  g_return_val_if_fail (FACET_IS_NOTES_WINDOW (self), 0);
  return self->notes != NULL ? self->notes->len : 0;
}

gboolean
facet_notes_window_is_loading (FacetNotesWindow *self)
{
  g_return_val_if_fail (FACET_IS_NOTES_WINDOW (self), FALSE);
  return facet_reload_is_busy (self->reload) || self->notes == NULL;
}

GtkEditable *
facet_notes_window_get_search (FacetNotesWindow *self)
{
  g_return_val_if_fail (FACET_IS_NOTES_WINDOW (self), NULL);
  return GTK_EDITABLE (self->search);
}

/* ---- Export -------------------------------------------------------------------------------------- */

typedef struct
{
  char    *path;
  gboolean events;
} ExportRequest;

static void
export_request_free (gpointer data)
{
  ExportRequest *r = data;

  g_free (r->path);
  g_free (r);
}

static gpointer
export_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  ExportRequest *r = data;
  gboolean ok = r->events ? facet_store_export_marked_events (store, r->path, 0, error)
                          : facet_store_export_notes (store, r->path, 0, error);

  return ok ? g_path_get_basename (r->path) : NULL;
}

static void
export_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetNotesWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *name = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  g_autofree char *text = NULL;

  if (self->window == NULL)
    return;
  if (name == NULL)
    {
      facet_window_error (self->window, _("The Export Failed"),
                          _("Check that the folder exists and can be written."), error);
      return;
    }
  text = g_strdup_printf (_("Exported to %s"), name);
  facet_window_toast (self->window, text);
}

void
facet_notes_window_export_to (FacetNotesWindow *self,
                              const char       *path,
                              gboolean          events)
{
  ExportRequest *r = g_new0 (ExportRequest, 1);

  g_return_if_fail (FACET_IS_NOTES_WINDOW (self));

  r->path = g_strdup (path);
  r->events = events;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, export_job, r, export_request_free,
                     g_free, NULL, export_done, g_object_ref (self));
}

static void
on_save_response (GtkNativeDialog  *chooser,
                  int               response,
                  FacetNotesWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = g_file_get_path (file);
      gboolean events = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (chooser), "events"));

      if (path != NULL)
        facet_notes_window_export_to (self, path, events);
    }
  g_object_unref (chooser);
}

static void
export_ask (FacetNotesWindow *self,
            gboolean          events)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
    events ? _("Export the Marked Events") : _("Export the Notes"), GTK_WINDOW (self),
    GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));

  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser),
                                     events ? "marked-events.csv" : "notes.csv");
  g_object_set_data (G_OBJECT (chooser), "events", GINT_TO_POINTER (events));
  g_signal_connect (chooser, "response", G_CALLBACK (on_save_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
act_export_notes (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *param)
{
  export_ask (FACET_NOTES_WINDOW (widget), FALSE);
}

static void
act_export_events (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *param)
{
  export_ask (FACET_NOTES_WINDOW (widget), TRUE);
}

/* ---- Object ---------------------------------------------------------------------------------------- */

GtkWidget *
facet_notes_window_new (FacetWindow *window)
{
  FacetNotesWindow *self;
  GtkWidget *box, *header, *scroller, *clamp, *empty, *export, *list_box;
  g_autoptr (GMenu) menu = g_menu_new ();

  g_return_val_if_fail (FACET_IS_WINDOW (window), NULL);
  g_return_val_if_fail (facet_window_get_project (window) != NULL, NULL);

  self = g_object_new (FACET_TYPE_NOTES_WINDOW, "transient-for", window, "default-width", 520,
                       "default-height", 560, "title", _("Notes"), NULL);
  self->window = window;
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &self->window);
  self->project = g_object_ref (facet_window_get_project (window));

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  header = adw_header_bar_new ();
  self->search = GTK_SEARCH_ENTRY (gtk_search_entry_new ());
  g_object_set (self->search, "placeholder-text", _("Search the notes"), NULL);
  gtk_widget_set_hexpand (GTK_WIDGET (self->search), TRUE);
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->search));
  g_menu_append (menu, _("Export the _Notes (CSV)…"), "notes.export-notes");
  g_menu_append (menu, _("Export the _Marked Events (CSV)…"), "notes.export-events");
  export = gtk_menu_button_new ();
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (export), "document-save-symbolic");
  gtk_widget_set_tooltip_text (export, _("Export"));
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (export), G_MENU_MODEL (menu));
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), export);
  gtk_box_append (GTK_BOX (box), header);

  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->stack), TRUE);
  empty = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (empty), "document-edit-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("No Notes"));
  adw_status_page_set_description (ADW_STATUS_PAGE (empty),
                                   _("T adds a note on the frame, on the range marked in a lane, "
                                     "or on the marked event under the playhead."));
  gtk_stack_add_named (self->stack, empty, "empty");
  list_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_set_margin_top (list_box, 12);
  gtk_widget_set_margin_bottom (list_box, 12);
  gtk_widget_set_margin_start (list_box, 12);
  gtk_widget_set_margin_end (list_box, 12);
  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "boxed-list");
  gtk_widget_set_valign (GTK_WIDGET (self->list), GTK_ALIGN_START);
  g_signal_connect (self->list, "row-activated", G_CALLBACK (on_row_activated), self);
  gtk_box_append (GTK_BOX (list_box), GTK_WIDGET (self->list));
  clamp = adw_clamp_new ();
  adw_clamp_set_child (ADW_CLAMP (clamp), list_box);
  scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), clamp);
  gtk_stack_add_named (self->stack, scroller, "list");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->stack));
  adw_window_set_content (ADW_WINDOW (self), box);

  g_signal_connect_swapped (self->search, "search-changed", G_CALLBACK (reload), self);
  self->changed_handler = g_signal_connect (self->project, "changed",
                                            G_CALLBACK (on_project_changed), self);
  reload (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->search));
  return GTK_WIDGET (self);
}

static void
facet_notes_window_dispose (GObject *object)
{
  FacetNotesWindow *self = FACET_NOTES_WINDOW (object);

  if (self->window != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
  self->window = NULL;
  self->disposed = TRUE;
  facet_reload_invalidate (self->reload);
  if (self->project != NULL)
    g_clear_signal_handler (&self->changed_handler, self->project);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (facet_notes_window_parent_class)->dispose (object);
}

static void
facet_notes_window_finalize (GObject *object)
{
  FacetNotesWindow *self = FACET_NOTES_WINDOW (object);

  g_clear_pointer (&self->notes, g_ptr_array_unref);
  g_clear_pointer (&self->reload, facet_reload_free);
  G_OBJECT_CLASS (facet_notes_window_parent_class)->finalize (object);
}

static void
facet_notes_window_class_init (FacetNotesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_notes_window_dispose;
  object_class->finalize = facet_notes_window_finalize;
  gtk_widget_class_install_action (widget_class, "notes.export-notes", NULL, act_export_notes);
  gtk_widget_class_install_action (widget_class, "notes.export-events", NULL, act_export_events);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_notes_window_init (FacetNotesWindow *self)
{
  self->reload = facet_reload_new (G_OBJECT (self), list_start, list_done);
}
