/* facet-window-actions.c — the window's actions and the coder's keys
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Keyboard scheme (docs/app.md lists it; the shortcuts window shows it):
 *   Left/Right frame, Shift+Left/Right 1 s, Ctrl+Left/Right 10 s,
 *   Home/End, Space play, [ ] speed, Ctrl+G go to;
 *   Up/Down AU; 1 present, 2 absent, 3 not codable, 0 or Delete clear
 *   (on the marked range when there is one); A accept the prediction,
 *   Shift+A accept all; I/O mark a range; Esc drop it; N next to check;
 *   B/L/H overlays, M heat map of the model or the AU.
 * Plain keys go through a capture-phase controller that steps aside while
 * the focus is in a text field, a list or a popover, so typing a subject
 * name or moving through a list is never taken for coding.
 */
#define G_LOG_DOMAIN "facet-window"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-add-media-dialog.h"
#include "facet-export-dialog.h"
#include "facet-facs.h"
#include "facet-finetune-dialog.h"
#include "facet-window-private.h"

static const double speeds[] = { 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0 };

/* ---- Labels ---------------------------------------------------------------------------------- */

static void
edit_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (FacetWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  self->edits_in_flight--;
  if (facet_project_edit_finish (FACET_PROJECT (object), result, &error) < 0)
    facet_window_error (self, _("The Label Was Not Saved"),
                        _("The project file could not be written. Check the disk and try "
                          "again."), error);
}

void
facet_window_set_label (FacetWindow    *self,
                        FacetLabelState state)
{
  int lane, sel;
  gint64 first, last;

  g_return_if_fail (FACET_IS_WINDOW (self));

  if (self->project == NULL || self->video_id == 0 || self->n_aus == 0)
    return;
  if (facet_timeline_get_range (self->timeline, &lane, &first, &last))
    {
      g_autofree char *code = facet_facs_code (self->au_ids[lane]);
      g_autofree char *text = NULL;

      self->edits_in_flight++;
      facet_project_set_labels_async (self->project, self->video_id, first, last,
                                      self->au_ids[lane], state,
                                      FACET_LABEL_SOURCE_HUMAN, edit_done, g_object_ref (self));
      facet_timeline_clear_range (self->timeline);
      self->in_point = -1;
      /* TRANSLATORS: after marking a range: AU code, number of frames */
      text = g_strdup_printf (ngettext ("%s: %d frame marked", "%s: %d frames marked",
                                        last - first + 1),
                              code, (int) (last - first + 1));
      facet_window_toast (self, text);
      return;
    }
  sel = facet_au_panel_get_selected (self->au_panel);
  if (sel < 0)
    return;
  self->edits_in_flight++;
  facet_project_set_labels_async (self->project, self->video_id,
                                  facet_player_get_frame (self->player),
                                  facet_player_get_frame (self->player), self->au_ids[sel], state,
                                  FACET_LABEL_SOURCE_HUMAN, edit_done, g_object_ref (self));
}

/* Takes the model's word for it: present when p >= threshold. */
static void
accept_predictions (FacetWindow *self,
                    gboolean     all)
{
  FacetFrameState *s = self->frame_state;
  g_autoptr (GArray) labels = g_array_new (FALSE, TRUE, sizeof (FacetLabel));
  int sel = facet_au_panel_get_selected (self->au_panel);

  if (self->project == NULL || s == NULL || s->frame != facet_player_get_frame (self->player)
      || !s->analysed)
    {
      facet_window_toast (self, _("This frame has no prediction to accept yet"));
      return;
    }
  for (int i = 0; i < self->n_aus && i < s->n_aus; i++)
    {
      FacetLabel l = { 0 };

      if ((!all && i != sel) || isnan (s->probs[i]))
        continue;
      l.video_id = self->video_id;
      l.frame = s->frame;
      l.au = self->au_ids[i];
      l.state = s->probs[i] >= self->thresholds[i] ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT;
      l.intensity = NAN;
      l.source = FACET_LABEL_SOURCE_ACCEPTED;
      g_array_append_val (labels, l);
    }
  if (labels->len == 0)
    {
      facet_window_toast (self, _("No face in this frame: nothing to accept"));
      return;
    }
  self->edits_in_flight++;
  facet_project_write_labels_async (self->project, (const FacetLabel *) (gpointer) labels->data,
                                    labels->len,
                                    all ? "accept predictions" : "accept prediction", edit_done,
                                    g_object_ref (self));
}

static void
undo_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (FacetWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean redo = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (self), "last-undo-was-redo"));

  self->edits_in_flight--;
  if (facet_project_edit_finish (FACET_PROJECT (object), result, &error) > 0)
    return;
  if (g_error_matches (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOTHING))
    facet_window_toast (self, redo ? _("Nothing to redo") : _("Nothing to undo"));
  else
    facet_window_error (self, redo ? _("Redo Failed") : _("Undo Failed"),
                        _("The project file could not be written. Check the disk and try "
                          "again."), error);
}

static void
undo (FacetWindow *self,
      gboolean     redo)
{
  if (self->project == NULL)
    return;
  g_object_set_data (G_OBJECT (self), "last-undo-was-redo", GINT_TO_POINTER (redo));
  self->edits_in_flight++;
  facet_project_undo_async (self->project, redo, undo_done, g_object_ref (self));
}

/* ---- Review queue ---------------------------------------------------------------------------- */

typedef struct
{
  gint64 model_id;
  float  threshold;
  guint  limit;
} ReviewQuery;

static gpointer
review_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  ReviewQuery *q = data;

  return facet_store_review_queue (store, q->model_id, 0, 0,
                                   FACET_REVIEW_DISAGREE | FACET_REVIEW_UNCERTAIN,
                                   q->threshold, q->limit, error);
}

static void
review_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) items = facet_project_run_finish (FACET_PROJECT (object), result, &error);

  self->review_running = FALSE;
  if (items == NULL)
    {
      facet_window_toast (self, error->message);
      return;
    }
  for (guint i = 0; i < items->len; i++)
    {
      const FacetReviewItem *it = &g_array_index (items, FacetReviewItem, i);
      g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%d",
                                              it->video_id,
                                              it->frame, it->au);
      g_autofree char *code = NULL, *text = NULL;
      int lane = -1;

      if (g_hash_table_contains (self->review_seen, key))
        continue;
      g_hash_table_add (self->review_seen, g_steal_pointer (&key));
      for (int a = 0; a < self->n_aus; a++)
        if (self->au_ids[a] == it->au)
          lane = a;
      facet_window_show_video (self, it->video_id, it->frame);
      if (lane >= 0)
        facet_au_panel_set_selected (self->au_panel, lane);
      code = facet_facs_code (it->au);
      if (it->kind == FACET_REVIEW_DISAGREE)
        /* TRANSLATORS: review queue: AU code, the coder's label, the model's probability */
        text = g_strdup_printf (_("%s: labelled %s, the model says %.2f"), code,
                                it->label == FACET_LABEL_PRESENT ? _("present") : _("absent"),
                                it->prob);
      else
        /* TRANSLATORS: review queue: AU code, the model's probability, the threshold */
        text = g_strdup_printf (_("%s: not labelled, the model is unsure (%.2f, threshold %.2f)"),
                                code,
                                it->prob, it->threshold);
      facet_window_toast (self, text);
      return;
    }
  facet_window_toast (self, _("Nothing left to check: every uncertain frame has been seen"));
}

static void
review_next (FacetWindow *self)
{
  ReviewQuery *q;

  if (self->project == NULL || self->model_id == 0 || self->review_running)
    return;
  q = g_new0 (ReviewQuery, 1);
  q->model_id = self->model_id;
  q->threshold = g_settings_get_boolean (self->settings, "use-model-thresholds")
                   ? NAN : (float) g_settings_get_double (self->settings, "threshold");
  /* Enough to get past what this session has shown already. */
  q->limit = g_hash_table_size (self->review_seen) + 64;
  self->review_running = TRUE;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, review_job, q, g_free,
                     (GDestroyNotify) g_array_unref, NULL, review_done, g_object_ref (self));
}

/* ---- File choosers --------------------------------------------------------------------------- */

static GtkFileFilter *
project_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Facet projects"));
  gtk_file_filter_add_pattern (filter, "*.facet");
  return filter;
}

static void
on_new_response (GtkNativeDialog *dialog,
                 int              response,
                 FacetWindow     *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        {
          if (!g_str_has_suffix (path, ".facet"))
            {
              char *with = g_strconcat (path, ".facet", NULL);
              g_free (path);
              path = with;
            }
          facet_window_open_project (self, path, TRUE, FALSE);
        }
    }
  g_object_unref (dialog);
}

static void
on_open_response (GtkNativeDialog *dialog,
                  int              response,
                  FacetWindow     *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        facet_window_open_project (self, path, FALSE, FALSE);
    }
  g_object_unref (dialog);
}

static void
new_project (FacetWindow *self)
{
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (_("New Project"), GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                 _("_Create"), _("_Cancel"));
  g_autoptr (GtkFileFilter) filter = project_filter ();

  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), _("study.facet"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_new_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
open_project (FacetWindow *self)
{
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (_("Open Project"), GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN,
                                 _("_Open"), _("_Cancel"));
  g_autoptr (GtkFileFilter) filter = project_filter ();

  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_media_response (GtkNativeDialog *dialog,
                   int              response,
                   FacetWindow     *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
      g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint i = 0; i < g_list_model_get_n_items (files); i++)
        g_ptr_array_add (list, g_list_model_get_item (files, i));
      if (list->len > 0)
        facet_window_add_files (self, list);
    }
  g_object_unref (dialog);
}

static void
add_media (FacetWindow *self,
           gboolean     folder)
{
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (folder ? _("Add an Image Folder") : _("Add Videos"),
                                 GTK_WINDOW (self),
                                 folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                        : GTK_FILE_CHOOSER_ACTION_OPEN,
                                 _("_Add"), _("_Cancel"));

  if (!folder)
    {
      g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, _("Videos"));
      gtk_file_filter_add_mime_type (filter, "video/*");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
      gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
    }
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_media_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- Dialogs --------------------------------------------------------------------------------- */

static void
on_reanalyse (GtkWidget   *dialog,
              gint64       model_id,
              FacetWindow *self)
{
  facet_window_start_analysis (self, model_id, 0);
}

static void
show_finetune (FacetWindow *self)
{
  GtkWidget *dialog;

  if (self->project == NULL)
    return;
  dialog = facet_finetune_dialog_new (GTK_WINDOW (self), self->project);
  g_signal_connect_object (dialog, "reanalyse", G_CALLBACK (on_reanalyse), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
show_export (FacetWindow *self)
{
  GtkWidget *dialog;
  double threshold = g_settings_get_boolean (self->settings, "use-model-thresholds")
                       ? NAN : g_settings_get_double (self->settings, "threshold");

  if (self->project == NULL)
    return;
  dialog = facet_export_dialog_new (GTK_WINDOW (self), self->project, self->video_id, threshold);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- Action handlers ------------------------------------------------------------------------- */

static void
action_cb (GtkWidget  *widget,
           const char *name,
           GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);

  if (g_str_equal (name, "win.play"))
    facet_player_set_playing (self->player, !facet_player_get_playing (self->player));
  else if (g_str_equal (name, "win.step"))
    facet_player_step (self->player, g_variant_get_int32 (param));
  else if (g_str_equal (name, "win.skip"))
    facet_player_skip_seconds (self->player, g_variant_get_double (param));
  else if (g_str_equal (name, "win.first"))
    facet_player_step (self->player, -facet_player_get_frame (self->player));
  else if (g_str_equal (name, "win.last"))
    facet_player_step (self->player, facet_player_get_n_frames (self->player));
  else if (g_str_equal (name, "win.goto"))
    facet_transport_show_goto (self->transport);
  else if (g_str_equal (name, "win.faster") || g_str_equal (name, "win.slower"))
    {
      double speed = facet_player_get_speed (self->player);
      gboolean faster = g_str_equal (name, "win.faster");
      guint i = 0;

      while (i + 1 < G_N_ELEMENTS (speeds) && speeds[i] < speed - 1e-6)
        i++;
      if (faster && i + 1 < G_N_ELEMENTS (speeds) && speeds[i] <= speed + 1e-6)
        i++;
      else if (!faster && i > 0)
        i--;
      facet_player_set_speed (self->player, speeds[i]);
    }
  else if (g_str_equal (name, "win.au-prev") || g_str_equal (name, "win.au-next"))
    {
      int sel = facet_au_panel_get_selected (self->au_panel);
      facet_au_panel_set_selected (self->au_panel, sel + (g_str_equal (name,
                                                                       "win.au-next") ? 1 : -1));
    }
  else if (g_str_equal (name, "win.label") || g_str_equal (name, "win.label-range"))
    facet_window_set_label (self, g_variant_get_int32 (param));
  else if (g_str_equal (name, "win.accept"))
    accept_predictions (self, FALSE);
  else if (g_str_equal (name, "win.accept-all"))
    accept_predictions (self, TRUE);
  else if (g_str_equal (name, "win.in-point"))
    {
      self->in_point = facet_player_get_frame (self->player);
      facet_timeline_set_range (self->timeline, MAX (facet_au_panel_get_selected (self->au_panel),
                                                     0),
                                self->in_point, self->in_point);
    }
  else if (g_str_equal (name, "win.out-point"))
    {
      gint64 start = self->in_point >= 0 ? self->in_point : facet_player_get_frame (self->player);
      facet_timeline_set_range (self->timeline, MAX (facet_au_panel_get_selected (self->au_panel),
                                                     0),
                                start, facet_player_get_frame (self->player));
    }
  else if (g_str_equal (name, "win.clear-range"))
    {
      self->in_point = -1;
      facet_timeline_clear_range (self->timeline);
    }
  else if (g_str_equal (name, "win.review-next"))
    review_next (self);
  else if (g_str_equal (name, "win.toggle-box"))
    gtk_toggle_button_set_active (self->box_toggle,
                                  !gtk_toggle_button_get_active (self->box_toggle));
  else if (g_str_equal (name, "win.toggle-landmarks"))
    gtk_toggle_button_set_active (self->landmarks_toggle,
                                  !gtk_toggle_button_get_active (self->landmarks_toggle));
  else if (g_str_equal (name, "win.toggle-heatmap"))
    gtk_toggle_button_set_active (self->heatmap_toggle,
                                  !gtk_toggle_button_get_active (self->heatmap_toggle));
  else if (g_str_equal (name, "win.toggle-heatmap-source"))
    gtk_drop_down_set_selected (self->heatmap_source,
                                gtk_drop_down_get_selected (self->heatmap_source) ? 0 : 1);
  else if (g_str_equal (name, "win.zoom-in"))
    facet_timeline_zoom (self->timeline, 2.0);
  else if (g_str_equal (name, "win.zoom-out"))
    facet_timeline_zoom (self->timeline, 0.5);
  else if (g_str_equal (name, "win.zoom-fit"))
    facet_timeline_zoom_fit (self->timeline);
  else if (g_str_equal (name, "win.undo"))
    undo (self, FALSE);
  else if (g_str_equal (name, "win.redo"))
    undo (self, TRUE);
  else if (g_str_equal (name, "win.new-project"))
    new_project (self);
  else if (g_str_equal (name, "win.open-project"))
    open_project (self);
  else if (g_str_equal (name, "win.open-demo"))
    facet_window_open_demo (self, NULL);
  else if (g_str_equal (name, "win.close-project"))
    facet_window_close_project (self);
  else if (g_str_equal (name, "win.add-media"))
    add_media (self, FALSE);
  else if (g_str_equal (name, "win.add-folder"))
    add_media (self, TRUE);
  else if (g_str_equal (name, "win.analyse"))
    facet_window_start_analysis (self, self->model_id, 0);
  else if (g_str_equal (name, "win.analyse-video"))
    facet_window_start_analysis (self, self->model_id, self->video_id);
  else if (g_str_equal (name, "win.cancel-analysis"))
    facet_analysis_cancel (self->analysis);
  else if (g_str_equal (name, "win.finetune"))
    show_finetune (self);
  else if (g_str_equal (name, "win.export"))
    show_export (self);
  else if (g_str_equal (name, "win.toggle-sidebar"))
    gtk_toggle_button_set_active (self->sidebar_button,
                                  !gtk_toggle_button_get_active (self->sidebar_button));
}

void
facet_window_update_actions (FacetWindow *self)
{
  GtkWidget *w = GTK_WIDGET (self);
  gboolean project = self->project != NULL;
  gboolean video = project && self->video_id != 0 && facet_player_get_n_frames (self->player) > 0;
  gboolean model = project && self->model_id > 0;
  gboolean running = self->analysis != NULL && facet_analysis_get_running (self->analysis);
  static const char *video_actions[] = {
    "win.play", "win.step", "win.skip", "win.first", "win.last", "win.goto", "win.faster",
    "win.slower", "win.label", "win.label-range", "win.in-point", "win.out-point",
    "win.clear-range", "win.zoom-in",
    "win.zoom-out", "win.zoom-fit", "win.au-prev", "win.au-next",
  };

  for (guint i = 0; i < G_N_ELEMENTS (video_actions); i++)
    gtk_widget_action_set_enabled (w, video_actions[i], video);
  gtk_widget_action_set_enabled (w, "win.accept", video && model);
  gtk_widget_action_set_enabled (w, "win.accept-all", video && model);
  gtk_widget_action_set_enabled (w, "win.review-next", model);
  gtk_widget_action_set_enabled (w, "win.undo", project);
  gtk_widget_action_set_enabled (w, "win.redo", project);
  gtk_widget_action_set_enabled (w, "win.close-project", project);
  gtk_widget_action_set_enabled (w, "win.add-media", project);
  gtk_widget_action_set_enabled (w, "win.add-folder", project);
  gtk_widget_action_set_enabled (w, "win.analyse", model && !running);
  gtk_widget_action_set_enabled (w, "win.analyse-video", video && model && !running);
  gtk_widget_action_set_enabled (w, "win.cancel-analysis", running);
  gtk_widget_action_set_enabled (w, "win.finetune", model);
  gtk_widget_action_set_enabled (w, "win.export", project);
  gtk_widget_action_set_enabled (w, "win.toggle-sidebar", project);
}

/* ---- Keys ------------------------------------------------------------------------------------ */

typedef struct
{
  guint           keyval;
  GdkModifierType mods;
  const char     *action;
  const char     *param; /* GVariant text, or NULL */
  gboolean        not_in_lists;
} Key;

/* Plain keys of the coding scheme. */
static const Key coding_keys[] = {
  { GDK_KEY_Left, 0, "win.step", "-1", FALSE },
  { GDK_KEY_Right, 0, "win.step", "1", FALSE },
  { GDK_KEY_KP_Left, 0, "win.step", "-1", FALSE },
  { GDK_KEY_KP_Right, 0, "win.step", "1", FALSE },
  { GDK_KEY_Left, GDK_SHIFT_MASK, "win.skip", "-1.0", FALSE },
  { GDK_KEY_Right, GDK_SHIFT_MASK, "win.skip", "1.0", FALSE },
  { GDK_KEY_Left, GDK_CONTROL_MASK, "win.skip", "-10.0", FALSE },
  { GDK_KEY_Right, GDK_CONTROL_MASK, "win.skip", "10.0", FALSE },
  { GDK_KEY_Home, 0, "win.first", NULL, TRUE },
  { GDK_KEY_End, 0, "win.last", NULL, TRUE },
  { GDK_KEY_space, 0, "win.play", NULL, FALSE },
  { GDK_KEY_bracketleft, 0, "win.slower", NULL, FALSE },
  { GDK_KEY_bracketright, 0, "win.faster", NULL, FALSE },
  { GDK_KEY_Up, 0, "win.au-prev", NULL, TRUE },
  { GDK_KEY_Down, 0, "win.au-next", NULL, TRUE },
  { GDK_KEY_1, 0, "win.label", "1", FALSE },
  { GDK_KEY_2, 0, "win.label", "2", FALSE },
  { GDK_KEY_3, 0, "win.label", "3", FALSE },
  { GDK_KEY_0, 0, "win.label", "0", FALSE },
  { GDK_KEY_KP_1, 0, "win.label", "1", FALSE },
  { GDK_KEY_KP_2, 0, "win.label", "2", FALSE },
  { GDK_KEY_KP_3, 0, "win.label", "3", FALSE },
  { GDK_KEY_KP_0, 0, "win.label", "0", FALSE },
  { GDK_KEY_Delete, 0, "win.label", "0", FALSE },
  { GDK_KEY_BackSpace, 0, "win.label", "0", FALSE },
  { GDK_KEY_a, 0, "win.accept", NULL, FALSE },
  { GDK_KEY_a, GDK_SHIFT_MASK, "win.accept-all", NULL, FALSE },
  { GDK_KEY_i, 0, "win.in-point", NULL, FALSE },
  { GDK_KEY_o, 0, "win.out-point", NULL, FALSE },
  { GDK_KEY_n, 0, "win.review-next", NULL, FALSE },
  { GDK_KEY_b, 0, "win.toggle-box", NULL, FALSE },
  { GDK_KEY_l, 0, "win.toggle-landmarks", NULL, FALSE },
  { GDK_KEY_h, 0, "win.toggle-heatmap", NULL, FALSE },
  { GDK_KEY_m, 0, "win.toggle-heatmap-source", NULL, FALSE },
};

/* Whether the focus wants plain keys for itself. */
static gboolean
focus_takes_keys (FacetWindow *self,
                  gboolean     lists_too)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  if (focus == NULL)
    return FALSE;
  if (GTK_IS_EDITABLE (focus) || GTK_IS_TEXT (focus) || gtk_widget_get_ancestor (focus,
                                                                                 GTK_TYPE_POPOVER))
    return TRUE;
  if (lists_too && (gtk_widget_get_ancestor (focus, GTK_TYPE_LIST_BOX)
                    || gtk_widget_get_ancestor (focus, GTK_TYPE_LIST_VIEW)))
    return TRUE;
  return FALSE;
}

static gboolean
coding_key_cb (GtkWidget *widget,
               GVariant  *args,
               gpointer   user_data)
{
  FacetWindow *self = FACET_WINDOW (widget);
  const Key *key = user_data;

  if (focus_takes_keys (self, key->not_in_lists))
    return FALSE;
  /* Escape-like keys on the timeline and the AU panel's own handling
   * stay theirs; a disabled action lets the key through too. */
  return gtk_widget_activate_action_variant (widget, key->action, args);
}

static gboolean
escape_cb (GtkWidget *widget,
           GVariant  *args,
           gpointer   user_data)
{
  FacetWindow *self = FACET_WINDOW (widget);

  if (focus_takes_keys (self, FALSE) || !facet_timeline_get_range (self->timeline, NULL, NULL,
                                                                   NULL))
    return FALSE;
  return gtk_widget_activate_action (widget, "win.clear-range", NULL);
}

void
facet_window_init_shortcuts (FacetWindow *self)
{
  GtkEventController *controller = gtk_shortcut_controller_new ();

  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  gtk_event_controller_set_name (controller, "facet-coding-keys");
  for (guint i = 0; i < G_N_ELEMENTS (coding_keys); i++)
    {
      const Key *key = &coding_keys[i];
      GtkShortcut *shortcut = gtk_shortcut_new (gtk_keyval_trigger_new (key->keyval, key->mods),
                                                gtk_callback_action_new (coding_key_cb,
                                                                         (gpointer) key, NULL));

      if (key->param != NULL)
        {
          g_autoptr (GVariant) args = g_variant_parse (NULL, key->param, NULL, NULL, NULL);
          gtk_shortcut_set_arguments (shortcut, args);
        }
      gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), shortcut);
    }
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (controller),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Escape,
                                                                                  0),
                                                          gtk_callback_action_new (escape_cb, NULL,
                                                                                   NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
  facet_window_update_actions (self);
}

void
facet_window_class_init_actions (GtkWidgetClass *widget_class)
{
  static const struct
  {
    const char *name;
    const char *type;
  } actions[] = {
    { "win.play", NULL }, { "win.step", "i" }, { "win.skip", "d" }, { "win.first", NULL },
    { "win.last", NULL }, { "win.goto", NULL }, { "win.faster", NULL }, { "win.slower", NULL },
    { "win.au-prev", NULL }, { "win.au-next", NULL }, { "win.label", "i" },
    { "win.label-range", "i" }, { "win.accept", NULL }, { "win.accept-all", NULL },
    { "win.in-point", NULL }, { "win.out-point", NULL }, { "win.clear-range", NULL },
    { "win.review-next", NULL }, { "win.toggle-box", NULL }, { "win.toggle-landmarks", NULL },
    { "win.toggle-heatmap", NULL }, { "win.toggle-heatmap-source", NULL }, { "win.zoom-in", NULL },
    { "win.zoom-out", NULL }, { "win.zoom-fit", NULL }, { "win.undo", NULL },
    { "win.redo", NULL }, { "win.new-project", NULL }, { "win.open-project", NULL },
    { "win.open-demo", NULL }, { "win.close-project", NULL }, { "win.add-media", NULL },
    { "win.add-folder", NULL }, { "win.analyse", NULL }, { "win.analyse-video", NULL },
    { "win.cancel-analysis", NULL },
    { "win.finetune", NULL }, { "win.export", NULL }, { "win.toggle-sidebar", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    gtk_widget_class_install_action (widget_class, actions[i].name, actions[i].type, action_cb);

  /* Shortcuts with a modifier: bubble phase, so a text field keeps its own
   * Ctrl+Z and Ctrl+arrows. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK, "win.undo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_y, GDK_CONTROL_MASK, "win.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.new-project",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK,
                                       "win.open-project", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK,
                                       "win.close-project", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_i, GDK_CONTROL_MASK, "win.add-media",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_r, GDK_CONTROL_MASK, "win.analyse",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_t, GDK_CONTROL_MASK, "win.finetune",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "win.export",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_g, GDK_CONTROL_MASK, "win.goto", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, GDK_CONTROL_MASK, "win.zoom-in",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, GDK_CONTROL_MASK, "win.zoom-in",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Add, GDK_CONTROL_MASK,
                                       "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, GDK_CONTROL_MASK,
                                       "win.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Subtract, GDK_CONTROL_MASK,
                                       "win.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, GDK_CONTROL_MASK, "win.zoom-fit",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F9, 0, "win.toggle-sidebar", NULL);
}
