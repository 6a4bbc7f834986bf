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
 *   Shift+A accept all; I/O mark a range; Esc drop it; N next to check,
 *   E mark the event it landed in; U, an AU's number, Enter: select it;
 *   B/L/H overlays, M heat map of the model or the AU, Z zoom on the face.
 * Plain keys go through a capture-phase controller that steps aside while
 * the focus is in a text field, a list or a popover, so typing a subject
 * name or moving through a list is never taken for coding.
 */
#define G_LOG_DOMAIN "facet-window"

#include "config.h"

#include <math.h>
#include <stdlib.h>

#include <glib/gi18n.h>

#include "facet-add-media-dialog.h"
#include "facet-export-dialog.h"
#include "facet-facs.h"
#include "facet-finetune-dialog.h"
#include "facet-window-private.h"

static const double speeds[] = { 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0 };

/* ---- Labels ---------------------------------------------------------------------------------- */

void
facet_window_edit_done (GObject      *object,
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
                                      FACET_LABEL_SOURCE_HUMAN, facet_window_edit_done,
                                      g_object_ref (self));
      facet_timeline_clear_range (self->timeline);
      self->in_point = -1;
      if (state == FACET_LABEL_PRESENT)
        facet_window_arm_intensity (self, first, last, self->au_ids[lane]);
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
  if (state == FACET_LABEL_PRESENT)
    facet_window_arm_intensity (self, facet_player_get_frame (self->player),
                                facet_player_get_frame (self->player), self->au_ids[sel]);
  self->edits_in_flight++;
  facet_project_set_labels_async (self->project, self->video_id,
                                  facet_player_get_frame (self->player),
                                  facet_player_get_frame (self->player), self->au_ids[sel], state,
                                  FACET_LABEL_SOURCE_HUMAN, facet_window_edit_done,
                                  g_object_ref (self));
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
      const FacetLabel *had = facet_frame_state_find_label (s, self->au_ids[i]);

      if ((!all && i != sel) || isnan (s->probs[i]))
        continue;
      l.state = s->probs[i] >= self->thresholds[i] ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT;
      /* Accepting them all fills the gaps: a coder's own (or imported)
       * label is never overwritten by the model's word, and an accepted
       * one only when the model's word changed (another threshold). A on
       * one AU is a deliberate choice and may replace it (undo brings it
       * back). */
      if (all && had != NULL && had->state != FACET_LABEL_UNSET
          && (had->source != FACET_LABEL_SOURCE_ACCEPTED || had->state == l.state))
        continue;
      l.video_id = self->video_id;
      l.frame = s->frame;
      l.au = self->au_ids[i];
      l.intensity = NAN;
      l.source = FACET_LABEL_SOURCE_ACCEPTED;
      g_array_append_val (labels, l);
    }
  if (labels->len == 0)
    {
      facet_window_toast (self, s->has_face ? _("Every action unit of this frame is labelled already")
                                            : _("No face in this frame: nothing to accept"));
      return;
    }
  self->edits_in_flight++;
  facet_project_write_labels_async (self->project, (const FacetLabel *) (gpointer) labels->data,
                                    labels->len,
                                    all ? "accept predictions" : "accept prediction",
                                    facet_window_edit_done,
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

  g_autoptr (FacetChangeset) done = facet_project_undo_finish (FACET_PROJECT (object), result,
                                                               &error);

  self->edits_in_flight--;
  if (done != NULL)
    {
      g_autofree char *text = NULL;
      int n = (int) done->n_changes;

      /* Undo changes what is on screen, maybe elsewhere: say how much. */
      if (redo)
        text = g_strdup_printf (ngettext ("Redone: %d label change", "Redone: %d label changes", n),
                                n);
      else
        text = g_strdup_printf (ngettext ("Undone: %d label change", "Undone: %d label changes", n),
                                n);
      facet_window_toast (self, text);
      return;
    }
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

/* "Next to check" steps by event: a run of neighbouring frames of one AU
 * where the model disagrees with the label (or is unsure), landing on its
 * strongest frame; E then marks the whole run. Frames of an event shown
 * once are not shown again this session. */

typedef struct
{
  gint64      model_id;
  float       threshold;
  guint       limit;
  GHashTable *seen;  /* copy of review_seen */
} ReviewQuery;

static void
review_query_free (gpointer data)
{
  ReviewQuery *q = data;

  g_hash_table_unref (q->seen);
  g_free (q);
}

static char *
review_key (gint64 video_id,
            gint64 frame,
            int    au)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%d", video_id, frame, au);
}

static gboolean
has_frame (GHashTable *frames,
           gint64      frame)
{
  return g_hash_table_contains (frames, &frame);
}

/* The event around the first item nobody has seen: all frames of its
 * video and AU of the same kind, grown frame by frame from it. */
static gpointer
review_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  ReviewQuery *q = data;
  g_autoptr (GArray) items = NULL, same = NULL;
  g_autoptr (GHashTable) frames = NULL;
  FacetReviewEvent *ev;
  const FacetReviewItem *top = NULL;

  items = facet_store_review_queue (store, q->model_id, 0, 0,
                                    FACET_REVIEW_DISAGREE | FACET_REVIEW_UNCERTAIN,
                                    q->threshold, q->limit, error);
  if (items == NULL)
    return NULL;
  for (guint i = 0; i < items->len && top == NULL; i++)
    {
      const FacetReviewItem *it = &g_array_index (items, FacetReviewItem, i);
      g_autofree char *key = review_key (it->video_id, it->frame, it->au);

      if (!g_hash_table_contains (q->seen, key))
        top = it;
    }
  ev = g_new0 (FacetReviewEvent, 1);
  if (top == NULL)
    return ev;
  same = facet_store_review_queue (store, q->model_id, top->video_id, top->au, top->kind,
                                   q->threshold, 0, error);
  if (same == NULL)
    {
      g_free (ev);
      return NULL;
    }
  frames = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint i = 0; i < same->len; i++)
    {
      const FacetReviewItem *it = &g_array_index (same, FacetReviewItem, i);
      /* A disagreement run keeps one label: present and absent frames
       * next to each other are two events. */
      if (it->kind == top->kind && it->label == top->label)
        g_hash_table_add (frames, g_memdup2 (&it->frame, sizeof it->frame));
    }
  ev->item = *top;
  ev->first = ev->last = ev->apex = top->frame;
  while (has_frame (frames, ev->first - 1))
    ev->first--;
  while (has_frame (frames, ev->last + 1))
    ev->last++;
  /* The queue ranks the most telling frame first: that is the apex. */
  for (guint i = 0; i < same->len; i++)
    {
      const FacetReviewItem *it = &g_array_index (same, FacetReviewItem, i);
      if (it->kind == top->kind && it->label == top->label
          && it->frame >= ev->first && it->frame <= ev->last)
        {
          ev->item = *it;
          ev->apex = it->frame;
          break;
        }
    }
  return ev;
}

static void
review_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree FacetReviewEvent *ev = facet_project_run_finish (FACET_PROJECT (object), result,
                                                              &error);
  const FacetReviewItem *it;
  g_autofree char *code = NULL, *what = NULL, *text = NULL;
  int lane = -1;

  self->review_running = FALSE;
  if (ev == NULL)
    {
      facet_window_toast (self, error->message);
      return;
    }
  if (ev->item.video_id == 0)
    {
      facet_window_toast (self, _("Nothing left to check: every uncertain frame has been seen"));
      return;
    }
  it = &ev->item;
  for (gint64 f = ev->first; f <= ev->last; f++)
    g_hash_table_add (self->review_seen, review_key (it->video_id, f, it->au));
  self->review_event = *ev;
  for (int a = 0; a < self->n_aus; a++)
    if (self->au_ids[a] == it->au)
      lane = a;
  facet_window_show_video (self, it->video_id, ev->apex);
  if (lane >= 0)
    facet_au_panel_set_selected (self->au_panel, lane);
  code = facet_facs_code (it->au);
  if (it->kind == FACET_REVIEW_DISAGREE)
    /* TRANSLATORS: review queue: AU code, the coder's label, the model's probability */
    what = g_strdup_printf (_("%s: labelled %s, the model says %.2f"), code,
                            it->label == FACET_LABEL_PRESENT ? _("present") : _("absent"),
                            it->prob);
  else
    /* TRANSLATORS: review queue: AU code, the model's probability, the threshold */
    what = g_strdup_printf (_("%s: not labelled, the model is unsure (%.2f, threshold %.2f)"),
                            code, it->prob, it->threshold);
  if (ev->last > ev->first)
    /* TRANSLATORS: review queue: what is to check, first and last frame of the event */
    text = g_strdup_printf (_("%s; frames %d–%d, E marks them all"), what, (int) ev->first,
                            (int) ev->last);
  else
    text = g_steal_pointer (&what);
  facet_window_toast (self, text);
}

static void
review_next (FacetWindow *self)
{
  ReviewQuery *q;
  GHashTableIter iter;
  gpointer key;

  if (facet_window_review_sample_next (self))
    return;
  if (self->project == NULL || self->model_id == 0 || self->review_running)
    return;
  q = g_new0 (ReviewQuery, 1);
  q->model_id = self->model_id;
  q->threshold = g_settings_get_boolean (self->settings, "use-model-thresholds")
                   ? NAN : (float) g_settings_get_double (self->settings, "threshold");
  /* Enough to get past what this session has shown already. */
  q->limit = g_hash_table_size (self->review_seen) + 64;
  q->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_iter_init (&iter, self->review_seen);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_hash_table_add (q->seen, g_strdup (key));
  self->review_running = TRUE;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, review_job, q, review_query_free,
                     g_free, NULL, review_done, g_object_ref (self));
}

/* E: the event "next to check" landed in becomes the marked range. */
static void
mark_review_event (FacetWindow *self)
{
  const FacetReviewEvent *ev = &self->review_event;
  int lane = -1;

  if (ev->item.video_id == 0 || ev->item.video_id != self->video_id)
    {
      facet_window_toast (self, _("No event to mark: press N to go to the next one to check"));
      return;
    }
  for (int a = 0; a < self->n_aus; a++)
    if (self->au_ids[a] == ev->item.au)
      lane = a;
  if (lane < 0)
    return;
  facet_au_panel_set_selected (self->au_panel, lane);
  facet_timeline_set_range (self->timeline, lane, ev->first, ev->last);
}

gboolean
facet_window_get_review_event (FacetWindow *self,
                               gint64      *video_id,
                               int         *au,
                               gint64      *first,
                               gint64      *last,
                               gint64      *apex)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), FALSE);

  if (self->review_event.item.video_id == 0)
    return FALSE;
  if (video_id)
    *video_id = self->review_event.item.video_id;
  if (au)
    *au = self->review_event.item.au;
  if (first)
    *first = self->review_event.first;
  if (last)
    *last = self->review_event.last;
  if (apex)
    *apex = self->review_event.apex;
  return TRUE;
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

/* One handler per action; ACTION declares one whose body needs only
 * `self` (and `param`). */
#define ACTION(fn) \
  static void fn (GtkWidget *widget, const char *name, GVariant *param); \
  static void fn##_on (FacetWindow *self, GVariant *param); \
  static void fn (GtkWidget *widget, const char *name, GVariant *param) \
  { fn##_on (FACET_WINDOW (widget), param); } \
  static void fn##_on (FacetWindow *self, G_GNUC_UNUSED GVariant *param)

static void
change_speed (FacetWindow *self,
              gboolean     faster)
{
  double speed = facet_player_get_speed (self->player);
  guint i = 0;

  while (i + 1 < G_N_ELEMENTS (speeds) && speeds[i] < speed - 1e-6)
    i++;
  if (faster && i + 1 < G_N_ELEMENTS (speeds) && speeds[i] <= speed + 1e-6)
    i++;
  else if (!faster && i > 0)
    i--;
  facet_player_set_speed (self->player, speeds[i]);
}

static void
toggle (GtkToggleButton *button)
{
  gtk_toggle_button_set_active (button, !gtk_toggle_button_get_active (button));
}

static void
set_range_to_here (FacetWindow *self,
                   gint64       start)
{
  facet_timeline_set_range (self->timeline, MAX (facet_au_panel_get_selected (self->au_panel), 0),
                            start, facet_player_get_frame (self->player));
}

ACTION (act_play) { facet_player_set_playing (self->player,
                                              !facet_player_get_playing (self->player)); }
ACTION (act_step) { facet_player_step (self->player, g_variant_get_int32 (param)); }
ACTION (act_skip) { facet_player_skip_seconds (self->player, g_variant_get_double (param)); }
ACTION (act_first) { facet_player_step (self->player, -facet_player_get_frame (self->player)); }
ACTION (act_last) { facet_player_step (self->player, facet_player_get_n_frames (self->player)); }
ACTION (act_goto) { facet_transport_show_goto (self->transport); }
ACTION (act_faster) { change_speed (self, TRUE); }
ACTION (act_slower) { change_speed (self, FALSE); }
ACTION (act_au_prev) { facet_au_panel_set_selected (self->au_panel,
                                                    facet_au_panel_get_selected (self->au_panel)
                                                    - 1); }
ACTION (act_au_next) { facet_au_panel_set_selected (self->au_panel,
                                                    facet_au_panel_get_selected (self->au_panel)
                                                    + 1); }
ACTION (act_label) { facet_window_set_label (self, g_variant_get_int32 (param)); }
ACTION (act_accept) { accept_predictions (self, FALSE); }
ACTION (act_accept_all) { accept_predictions (self, TRUE); }
ACTION (act_in_point)
{
  self->in_point = facet_player_get_frame (self->player);
  set_range_to_here (self, self->in_point);
}
ACTION (act_out_point)
{
  set_range_to_here (self, self->in_point >= 0 ? self->in_point
                                                : facet_player_get_frame (self->player));
}
ACTION (act_clear_range)
{
  self->in_point = -1;
  facet_timeline_clear_range (self->timeline);
}
ACTION (act_review_next) { review_next (self); }
ACTION (act_mark_event) { mark_review_event (self); }
ACTION (act_toggle_box) { toggle (self->box_toggle); }
ACTION (act_toggle_landmarks) { toggle (self->landmarks_toggle); }
ACTION (act_toggle_heatmap) { toggle (self->heatmap_toggle); }
ACTION (act_toggle_heatmap_source)
{
  gtk_drop_down_set_selected (self->heatmap_source,
                              gtk_drop_down_get_selected (self->heatmap_source) ? 0 : 1);
}
/* Shift+M: the selected AU's map by the next method, in the order of the
 * heat-map menu; shows the heat map of the selected AU if it was off or
 * showing the model's. */
ACTION (act_next_heatmap_method)
{
  static const char *const order[] = { "neutral", "occlusion", "grad-attention",
                                       "input-x-gradient", "last-layer", "rollout" };
  g_autofree char *now = g_settings_get_string (self->settings, "heatmap-method");
  guint next = 0;

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    if (g_str_equal (now, order[i]))
      next = (i + 1) % G_N_ELEMENTS (order);
  g_settings_set_string (self->settings, "heatmap-method", order[next]);
  gtk_drop_down_set_selected (self->heatmap_source, 1);
  gtk_toggle_button_set_active (self->heatmap_toggle, TRUE);
}
/* Z: whole frame, 2x and 4x around the face, and round again. */
ACTION (act_zoom_face)
{
  double zoom = facet_frame_view_get_zoom (self->frame_view);
  double next = zoom < 1.5 ? 2.0 : zoom < 3.0 ? 4.0 : 1.0;
  g_autofree char *text = NULL;

  facet_frame_view_set_zoom (self->frame_view, next);
  if (next > 1.0)
    /* TRANSLATORS: after Z: the magnification around the face */
    text = g_strdup_printf (_("Zoom %.0f× on the face (Z: more, then the whole frame)"), next);
  facet_window_toast (self, text ? text : _("The whole frame"));
}
ACTION (act_zoom_in) { facet_timeline_zoom (self->timeline, 2.0); }
ACTION (act_zoom_out) { facet_timeline_zoom (self->timeline, 0.5); }
ACTION (act_zoom_fit) { facet_timeline_zoom_fit (self->timeline); }
ACTION (act_undo) { undo (self, FALSE); }
ACTION (act_redo) { undo (self, TRUE); }
ACTION (act_new_project) { new_project (self); }
ACTION (act_open_project) { open_project (self); }
ACTION (act_open_demo) { facet_window_open_demo (self, NULL); }
ACTION (act_close_project) { facet_window_close_project (self); }
ACTION (act_add_media) { add_media (self, FALSE); }
ACTION (act_add_folder) { add_media (self, TRUE); }
ACTION (act_analyse) { facet_window_start_analysis (self, self->model_id, 0); }
ACTION (act_analyse_video) { facet_window_start_analysis (self, self->model_id, self->video_id); }
ACTION (act_cancel_analysis) { facet_analysis_cancel (self->analysis); }
ACTION (act_finetune) { show_finetune (self); }
ACTION (act_export) { show_export (self); }
ACTION (act_toggle_sidebar) { toggle (self->sidebar_button); }

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
    "win.clear-range", "win.zoom-in", "win.zoom-face",
    "win.zoom-out", "win.zoom-fit", "win.au-prev", "win.au-next",
  };

  for (guint i = 0; i < G_N_ELEMENTS (video_actions); i++)
    gtk_widget_action_set_enabled (w, video_actions[i], video);
  gtk_widget_action_set_enabled (w, "win.accept", video && model);
  gtk_widget_action_set_enabled (w, "win.accept-all", video && model);
  gtk_widget_action_set_enabled (w, "win.review-next", model);
  gtk_widget_action_set_enabled (w, "win.mark-event", video && model);
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
  facet_window_update_marks_actions (self);
  facet_window_update_coding_actions (self);
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
  { GDK_KEY_Home, 0, "win.first", NULL, FALSE },
  { GDK_KEY_End, 0, "win.last", NULL, FALSE },
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
  { GDK_KEY_e, 0, "win.mark-event", NULL, FALSE },
  { GDK_KEY_b, 0, "win.toggle-box", NULL, FALSE },
  { GDK_KEY_l, 0, "win.toggle-landmarks", NULL, FALSE },
  { GDK_KEY_h, 0, "win.toggle-heatmap", NULL, FALSE },
  { GDK_KEY_m, 0, "win.toggle-heatmap-source", NULL, FALSE },
  { GDK_KEY_m, GDK_SHIFT_MASK, "win.next-heatmap-method", NULL, FALSE },
  { GDK_KEY_z, 0, "win.zoom-face", NULL, FALSE },
};

/* Whether the focus wants plain keys for itself. */
gboolean
facet_window_focus_takes_keys (FacetWindow *self,
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

  if (facet_window_focus_takes_keys (self, key->not_in_lists))
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

  if (facet_window_focus_takes_keys (self, FALSE)
      || !facet_timeline_get_range (self->timeline, NULL, NULL, NULL))
    return FALSE;
  return gtk_widget_activate_action (widget, "win.clear-range", NULL);
}

/* ---- Typing an AU's number ------------------------------------------------------------------ */

/* U, the AU's FACS number, Enter: selects that AU (AU25, AU43, ... lie
 * beyond what Up/Down reach quickly); the number keys then label it.
 * Esc or any other key drops what was typed. */

static void
au_entry_show (FacetWindow *self)
{
  /* TRANSLATORS: while typing an AU number after U; %s: the digits so far */
  g_autofree char *text = g_strdup_printf (_("Go to AU %s… (Enter: select, Esc: cancel)"),
                                           self->au_typed->str);

  facet_window_toast (self, text);
}

static void
au_entry_commit (FacetWindow *self)
{
  int au = atoi (self->au_typed->str);
  g_autofree char *code = facet_facs_code (au);
  g_autofree char *text = NULL;

  g_string_truncate (self->au_typed, 0);
  self->typing_au = FALSE;
  for (int a = 0; a < self->n_aus; a++)
    if (self->au_ids[a] == au)
      {
        facet_au_panel_set_selected (self->au_panel, a);
        /* TRANSLATORS: after U, number, Enter; %s: the AU's code */
        text = g_strdup_printf (_("%s selected: 1 present, 2 absent, 3 not codable"), code);
        facet_window_toast (self, text);
        return;
      }
  /* TRANSLATORS: after U, number, Enter for an AU the project does not code */
  text = g_strdup_printf (_("%s is not in the coding scheme: add it in the menu's Coding Scheme"),
                          code);
  facet_window_toast (self, text);
}

static gboolean
on_au_key (GtkEventControllerKey *controller,
           guint                  keyval,
           guint                  keycode,
           GdkModifierType        state,
           FacetWindow           *self)
{
  guint digit = gdk_keyval_to_unicode (keyval);

  if (!self->typing_au)
    {
      if (keyval != GDK_KEY_u || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK)) != 0
          || facet_window_focus_takes_keys (self, FALSE) || self->n_aus == 0)
        return GDK_EVENT_PROPAGATE;
      self->typing_au = TRUE;
      g_string_truncate (self->au_typed, 0);
      au_entry_show (self);
      return GDK_EVENT_STOP;
    }
  if (digit >= '0' && digit <= '9' && self->au_typed->len < 3)
    {
      g_string_append_c (self->au_typed, (char) digit);
      au_entry_show (self);
      return GDK_EVENT_STOP;
    }
  if ((keyval == GDK_KEY_Return || keyval == GDK_KEY_KP_Enter) && self->au_typed->len > 0)
    {
      au_entry_commit (self);
      return GDK_EVENT_STOP;
    }
  if (keyval == GDK_KEY_BackSpace && self->au_typed->len > 0)
    {
      g_string_truncate (self->au_typed, self->au_typed->len - 1);
      au_entry_show (self);
      return GDK_EVENT_STOP;
    }
  /* Modifiers alone (Shift for a digit on some layouts) keep the entry. */
  if (keyval == GDK_KEY_Shift_L || keyval == GDK_KEY_Shift_R)
    return GDK_EVENT_STOP;
  self->typing_au = FALSE;
  g_string_truncate (self->au_typed, 0);
  facet_window_toast (self, _("No AU selected"));
  return GDK_EVENT_STOP;
}

/* A press on the picture takes the focus from a list or a field, so that
 * the coding keys (Home/End, Up/Down) are the window's again. Watched
 * from the window, before any widget below can claim the press. */
static void
on_window_pressed (GtkGestureClick *gesture,
                   int              n_press,
                   double           x,
                   double           y,
                   FacetWindow     *self)
{
  GtkWidget *target = gtk_widget_pick (GTK_WIDGET (self), x, y, GTK_PICK_DEFAULT);

  if (target == GTK_WIDGET (self->frame_view))
    gtk_widget_grab_focus (target);
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
}

void
facet_window_init_shortcuts (FacetWindow *self)
{
  GtkEventController *controller = gtk_shortcut_controller_new ();
  GtkEventController *au_keys = gtk_event_controller_key_new ();
  GtkGesture *click = gtk_gesture_click_new ();


  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (click), GTK_PHASE_CAPTURE);
  g_signal_connect (click, "pressed", G_CALLBACK (on_window_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

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
  /* Added after the coding keys so that it runs before them (GTK runs a
   * widget's controllers newest first): while an AU number is typed, its
   * digits are not labels. */
  gtk_event_controller_set_propagation_phase (au_keys, GTK_PHASE_CAPTURE);
  g_signal_connect (au_keys, "key-pressed", G_CALLBACK (on_au_key), self);
  gtk_widget_add_controller (GTK_WIDGET (self), au_keys);
  facet_window_update_actions (self);
}

void
facet_window_class_init_actions (GtkWidgetClass *widget_class)
{
  static const struct
  {
    const char                   *name;
    const char                   *type;
    GtkWidgetActionActivateFunc   activate;
  } actions[] = {
    { "win.play", NULL, act_play },
    { "win.step", "i", act_step },
    { "win.skip", "d", act_skip },
    { "win.first", NULL, act_first },
    { "win.last", NULL, act_last },
    { "win.goto", NULL, act_goto },
    { "win.faster", NULL, act_faster },
    { "win.slower", NULL, act_slower },
    { "win.au-prev", NULL, act_au_prev },
    { "win.au-next", NULL, act_au_next },
    { "win.label", "i", act_label },
    { "win.label-range", "i", act_label },
    { "win.accept", NULL, act_accept },
    { "win.accept-all", NULL, act_accept_all },
    { "win.in-point", NULL, act_in_point },
    { "win.out-point", NULL, act_out_point },
    { "win.clear-range", NULL, act_clear_range },
    { "win.review-next", NULL, act_review_next },
    { "win.mark-event", NULL, act_mark_event },
    { "win.toggle-box", NULL, act_toggle_box },
    { "win.toggle-landmarks", NULL, act_toggle_landmarks },
    { "win.toggle-heatmap", NULL, act_toggle_heatmap },
    { "win.toggle-heatmap-source", NULL, act_toggle_heatmap_source },
    { "win.next-heatmap-method", NULL, act_next_heatmap_method },
    { "win.zoom-face", NULL, act_zoom_face },
    { "win.zoom-in", NULL, act_zoom_in },
    { "win.zoom-out", NULL, act_zoom_out },
    { "win.zoom-fit", NULL, act_zoom_fit },
    { "win.undo", NULL, act_undo },
    { "win.redo", NULL, act_redo },
    { "win.new-project", NULL, act_new_project },
    { "win.open-project", NULL, act_open_project },
    { "win.open-demo", NULL, act_open_demo },
    { "win.close-project", NULL, act_close_project },
    { "win.add-media", NULL, act_add_media },
    { "win.add-folder", NULL, act_add_folder },
    { "win.analyse", NULL, act_analyse },
    { "win.analyse-video", NULL, act_analyse_video },
    { "win.cancel-analysis", NULL, act_cancel_analysis },
    { "win.finetune", NULL, act_finetune },
    { "win.export", NULL, act_export },
    { "win.toggle-sidebar", NULL, act_toggle_sidebar },
  };

  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    gtk_widget_class_install_action (widget_class, actions[i].name, actions[i].type,
                                     actions[i].activate);

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
