/* facet-window-marks.c — the window's part of a lab's coding work beyond
 * the labels: the coding scheme (AUs the model does not predict, coded by
 * hand), marked events (onset, apex, offset), notes, and the dialogs for
 * the scheme, the model's thresholds and the notes
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The AU list shown is the model's AUs, joined by the scheme's (ascending)
 * when the project has one. Everything the window gets in the model's
 * order (a frame's probabilities, the timeline's prediction sets) is
 * put in the list's order here, NAN for the AUs coded by hand, so the
 * panel, the timeline and accepting predictions need not know.
 */
#define G_LOG_DOMAIN "facet-window"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-facs.h"
#include "facet-notes-window.h"
#include "facet-scheme-dialog.h"
#include "facet-thresholds-dialog.h"
#include "facet-window-private.h"

/* ---- The AU list ----------------------------------------------------------------------------- */

static int
compare_int (gconstpointer a,
             gconstpointer b)
{
  int x = *(const int *) a, y = *(const int *) b;

  return (x > y) - (x < y);
}

/* What the list was built from: rebuilt when it changes. */
static char *
signature (FacetWindow           *self,
           const FacetStoreModel *m)
{
  GString *s = g_string_new (NULL);
  const int *scheme;
  int n_scheme = 0;

  g_string_append_printf (s, "%" G_GINT64_FORMAT ":", m ? m->id : (gint64) 0);
  for (int i = 0; m != NULL && i < m->n_aus; i++)
    g_string_append_printf (s, "%d=%.6g,", m->au_ids[i], (double) m->thresholds[i]);
  scheme = self->project ? facet_project_get_scheme (self->project, &n_scheme) : NULL;
  for (int i = 0; scheme != NULL && i < n_scheme; i++)
    g_string_append_printf (s, "s%d,", scheme[i]);
  return g_string_free (s, FALSE);
}

void
facet_window_scheme_set_aus (FacetWindow           *self,
                             const FacetStoreModel *m)
{
  g_autoptr (GArray) aus = g_array_new (FALSE, FALSE, sizeof (int));
  const int *scheme = NULL;
  int n_scheme = 0;

  g_clear_pointer (&self->au_ids, g_free);
  g_clear_pointer (&self->au_model, g_free);
  g_clear_pointer (&self->thresholds, g_free);
  g_free (self->aus_signature);
  self->aus_signature = signature (self, m);
  self->n_aus = 0;
  if (self->project != NULL)
    scheme = facet_project_get_scheme (self->project, &n_scheme);
  if (m != NULL)
    g_array_append_vals (aus, m->au_ids, (guint) m->n_aus);
  if (scheme != NULL && n_scheme > 0)
    {
      for (int i = 0; i < n_scheme; i++)
        if (m == NULL || facet_store_model_find_au (m, scheme[i]) < 0)
          g_array_append_val (aus, scheme[i]);
      /* A scheme of its own is shown in FACS order. */
      g_array_sort (aus, compare_int);
    }
  self->n_aus = (int) aus->len;
  self->au_ids = g_memdup2 (aus->data, sizeof (int) * MAX (aus->len, 1));
  self->au_model = g_new (int, MAX (aus->len, 1));
  self->thresholds = g_new (float, MAX (aus->len, 1));
  for (int i = 0; i < self->n_aus; i++)
    {
      self->au_model[i] = m != NULL ? facet_store_model_find_au (m, self->au_ids[i]) : -1;
      self->thresholds[i] = 0.5f;
    }
}

/* Called when the models or the scheme were read again. */
void
facet_window_scheme_models_changed (FacetWindow *self)
{
  FacetStoreModel *m = self->project ? facet_project_get_model (self->project) : NULL;
  g_autofree char *now = signature (self, m);

  if (self->aus_signature != NULL && g_strcmp0 (now, self->aus_signature) != 0)
    facet_window_rebuild_model (self);
}

gboolean
facet_window_scheme_is_hand_coded (FacetWindow *self,
                                   int          index)
{
  return index >= 0 && index < self->n_aus && self->au_model[index] < 0;
}

int
facet_window_scheme_model_index (FacetWindow *self,
                                 int          index)
{
  if (index < 0 || index >= self->n_aus || self->au_model == NULL)
    return -1;
  return self->au_model[index];
}

void
facet_window_scheme_remap_frame (FacetWindow     *self,
                                 FacetFrameState *s)
{
  float *probs;

  if (s->probs == NULL)
    return;
  probs = g_new (float, MAX (self->n_aus, 1));
  for (int i = 0; i < self->n_aus; i++)
    {
      int k = self->au_model[i];
      probs[i] = k >= 0 && k < s->n_aus ? s->probs[k] : NAN;
    }
  g_free (s->probs);
  s->probs = probs;
  s->n_aus = self->n_aus;
}

void
facet_window_scheme_remap_set (FacetWindow        *self,
                               FacetPredictionSet *set)
{
  float *probs = g_new (float, MAX (set->n * self->n_aus, 1));

  for (gsize r = 0; r < set->n; r++)
    for (int i = 0; i < self->n_aus; i++)
      {
        int k = self->au_model[i];
        probs[r * self->n_aus + i] = k >= 0 && k < set->n_aus ? set->probs[r * set->n_aus + k]
                                                               : NAN;
      }
  g_free (set->probs);
  set->probs = probs;
  g_free (set->au_ids);
  set->au_ids = g_memdup2 (self->au_ids, sizeof (int) * MAX (self->n_aus, 1));
  set->n_aus = self->n_aus;
}

void
facet_window_scheme_after_reset (FacetWindow *self)
{
  g_autofree gboolean *hand = g_new0 (gboolean, MAX (self->n_aus, 1));
  FacetTimelineData *data = facet_timeline_get_data (self->timeline);

  for (int i = 0; i < self->n_aus; i++)
    hand[i] = self->au_model[i] < 0;
  facet_au_panel_set_hand_coded (self->au_panel, hand, self->n_aus);
  if (data != NULL && facet_timeline_data_get_n_lanes (data) == self->n_aus)
    {
      /* No threshold line where there is no curve to read it against. */
      for (int i = 0; i < self->n_aus; i++)
        if (hand[i])
          facet_timeline_data_set_threshold (data, i, NAN);
      facet_timeline_set_hand_coded (self->timeline, hand, self->n_aus);
    }
  /* An event begun in another video or AU list is dropped, not finished here. */
  self->event_onset = -1;
  self->event_apex = -1;
  /* A load for the former video is dropped when it comes. */
  facet_reload_invalidate (self->marks_reload);
  facet_window_reload_marks (self);
}

/* ---- Events and notes of the video shown -------------------------------------------------------- */

typedef struct
{
  gint64     video_id;
  GArray    *events;
  GPtrArray *notes;
} Marks;

static void
marks_free (gpointer data)
{
  Marks *m = data;

  g_clear_pointer (&m->events, g_array_unref);
  g_clear_pointer (&m->notes, g_ptr_array_unref);
  g_free (m);
}

static gpointer
marks_job (FacetStore   *store,
           gpointer      data,
           GCancellable *cancellable,
           GError      **error)
{
  gint64 video_id = *(gint64 *) data;
  Marks *m = g_new0 (Marks, 1);

  m->video_id = video_id;
  m->events = facet_store_list_events (store, video_id, 0, error);
  if (m->events != NULL)
    m->notes = facet_store_list_notes (store, video_id, NULL, error);
  if (m->notes == NULL)
    {
      marks_free (m);
      return NULL;
    }
  return m;
}

static int
lane_of (FacetWindow *self,
         int          au)
{
  for (int a = 0; a < self->n_aus; a++)
    if (self->au_ids[a] == au)
      return a;
  return -1;
}

/* The timeline's marks from the events, notes and the event being marked. */
static void
show_marks (FacetWindow *self)
{
  g_autoptr (GArray) marks = g_array_new (FALSE, FALSE, sizeof (FacetTimelineMark));

  for (guint i = 0; self->events != NULL && i < self->events->len; i++)
    {
      const FacetStoreEvent *e = &g_array_index (self->events, FacetStoreEvent, i);
      FacetTimelineMark m = { FACET_TIMELINE_MARK_EVENT, lane_of (self, e->au), e->onset, e->apex,
                              e->offset };
      if (m.lane >= 0)
        g_array_append_val (marks, m);
    }
  for (guint i = 0; self->notes != NULL && i < self->notes->len; i++)
    {
      const FacetStoreNote *n = self->notes->pdata[i];
      FacetTimelineMark m = { FACET_TIMELINE_MARK_NOTE, n->au ? lane_of (self, n->au) : -1,
                              n->first, -1, n->last };
      g_array_append_val (marks, m);
    }
  if (self->event_onset >= 0)
    {
      gint64 last = MAX (facet_player_get_frame (self->player), self->event_onset);
      FacetTimelineMark m = { FACET_TIMELINE_MARK_PENDING, lane_of (self, self->event_au),
                              self->event_onset, self->event_apex, last };
      if (m.lane >= 0)
        g_array_append_val (marks, m);
    }
  facet_timeline_set_marks (self->timeline, (const FacetTimelineMark *) (void *) marks->data,
                            marks->len);
}

static void
marks_done (GObject      *owner,
            GObject      *object,
            GAsyncResult *result)
{
  FacetWindow *self = FACET_WINDOW (owner);
  g_autoptr (GError) error = NULL;
  Marks *m = facet_project_run_finish (FACET_PROJECT (object), result, &error);

  if (m == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        facet_window_toast (self, error->message);
      return;
    }
  if (FACET_PROJECT (object) == self->project && m->video_id == self->video_id)
    {
      g_clear_pointer (&self->events, g_array_unref);
      g_clear_pointer (&self->notes, g_ptr_array_unref);
      self->events = g_steal_pointer (&m->events);
      self->notes = g_steal_pointer (&m->notes);
      show_marks (self);
    }
  marks_free (m);
}

static gboolean
marks_start (GObject             *owner,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  FacetWindow *self = FACET_WINDOW (owner);

  if (self->project == NULL || self->video_id == 0)
    return FALSE;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, marks_job,
                     g_memdup2 (&self->video_id, sizeof (gint64)), g_free,
                     marks_free, cancellable, callback, user_data);
  return TRUE;
}

void
facet_window_reload_marks (FacetWindow *self)
{
  facet_reload_request (self->marks_reload);
}

/* ---- Marking events ------------------------------------------------------------------------------ */

static gpointer
add_event_job (FacetStore   *store,
               gpointer      data,
               GCancellable *cancellable,
               GError      **error)
{
  gint64 id = facet_store_add_event (store, data, error);

  return id > 0 ? g_memdup2 (&id, sizeof id) : NULL;
}

static gpointer
delete_event_job (FacetStore   *store,
                  gpointer      data,
                  GCancellable *cancellable,
                  GError      **error)
{
  if (!facet_store_delete_event (store, *(gint64 *) data, error))
    return NULL;
  return g_memdup2 (data, sizeof (gint64));
}

static gpointer
add_note_job (FacetStore   *store,
              gpointer      data,
              GCancellable *cancellable,
              GError      **error)
{
  gint64 id = facet_store_add_note (store, data, error);

  return id > 0 ? g_memdup2 (&id, sizeof id) : NULL;
}

static void
mark_written (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (FacetWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree gint64 *id = facet_project_run_finish (FACET_PROJECT (object), result, &error);

  self->edits_in_flight--;
  if (id == NULL)
    facet_window_error (self, _("The Mark Was Not Saved"),
                        _("The project file could not be written, or the mark did not fit the "
                          "video. Check the disk and try again."), error);
}

static void
note_free (gpointer data)
{
  facet_store_note_free (data);
}

static void
write_mark (FacetWindow    *self,
            FacetProjectJob job,
            gpointer        data,
            GDestroyNotify  data_free)
{
  self->edits_in_flight++;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_EDIT, job, data, data_free, g_free, NULL,
                     mark_written, g_object_ref (self));
}

static int
selected_au (FacetWindow *self)
{
  return facet_au_panel_get_au (self->au_panel, facet_au_panel_get_selected (self->au_panel));
}

static void
act_event_onset (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  g_autofree char *code = NULL, *text = NULL;
  int au = selected_au (self);

  if (au == 0)
    return;
  self->event_au = au;
  self->event_onset = facet_player_get_frame (self->player);
  self->event_apex = -1;
  code = facet_facs_code (au);
  /* TRANSLATORS: after S; %s: the AU, then the frame number */
  text = g_strdup_printf (_("%s event from frame %d: P marks the apex, F the "
                            "offset"), code, (int) self->event_onset);
  facet_window_toast (self, text);
  show_marks (self);
}

static void
act_event_apex (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  gint64 frame = facet_player_get_frame (self->player);
  g_autofree char *text = NULL;

  if (self->event_onset < 0 || frame < self->event_onset)
    {
      facet_window_toast (self, _("Mark the onset with S first (at or before the apex)"));
      return;
    }
  self->event_apex = frame;
  /* TRANSLATORS: after P; the frame number */
  text = g_strdup_printf (_("Apex at frame %d: F marks the offset"), (int) frame);
  facet_window_toast (self, text);
  show_marks (self);
}

static void
act_event_offset (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  gint64 frame = facet_player_get_frame (self->player);
  g_autofree char *code = NULL, *text = NULL;
  FacetStoreEvent *e;

  if (self->event_onset < 0 || frame < self->event_onset)
    {
      facet_window_toast (self, _("Mark the onset with S first (at or before the offset)"));
      return;
    }
  e = g_new0 (FacetStoreEvent, 1);
  e->video_id = self->video_id;
  e->au = self->event_au;
  e->onset = self->event_onset;
  e->apex = self->event_apex >= 0 && self->event_apex <= frame ? self->event_apex : -1;
  e->offset = frame;
  code = facet_facs_code (e->au);
  if (e->apex >= 0)
    /* TRANSLATORS: an event was marked: AU, onset, apex, offset frames */
    text = g_strdup_printf (_("%s event marked: frames %d–%d, apex %d"), code, (int) e->onset,
                            (int) e->offset, (int) e->apex);
  else
    text = g_strdup_printf (_("%s event marked: frames %d–%d"),
                            code, (int) e->onset, (int) e->offset);
  self->event_onset = -1;
  self->event_apex = -1;
  write_mark (self, add_event_job, e, g_free);
  facet_window_toast (self, text);
  show_marks (self);
}

/* The marked event of @au at @frame (the innermost), or NULL. */
static const FacetStoreEvent *
event_at (FacetWindow *self,
          int          au,
          gint64       frame)
{
  const FacetStoreEvent *found = NULL;

  for (guint i = 0; self->events != NULL && i < self->events->len; i++)
    {
      const FacetStoreEvent *e = &g_array_index (self->events, FacetStoreEvent, i);
      if (e->au == au && e->onset <= frame && frame <= e->offset
          && (found == NULL || e->offset - e->onset < found->offset - found->onset))
        found = e;
    }
  return found;
}

static void
act_event_delete (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  const FacetStoreEvent *e = event_at (self, selected_au (self),
                                       facet_player_get_frame (self->player));
  g_autofree char *code = NULL, *text = NULL;

  if (self->event_onset >= 0)
    {
      self->event_onset = -1;
      self->event_apex = -1;
      facet_window_toast (self, _("The event being marked was dropped"));
      show_marks (self);
      return;
    }
  if (e == NULL)
    {
      facet_window_toast (self, _("No marked event of this action unit here"));
      return;
    }
  code = facet_facs_code (e->au);
  /* TRANSLATORS: X deleted a marked event: AU, onset and offset frames */
  text = g_strdup_printf (_("%s event %d–%d deleted"), code,
                          (int) e->onset, (int) e->offset);
  write_mark (self, delete_event_job, g_memdup2 (&e->id, sizeof e->id), g_free);
  facet_window_toast (self, text);
}

/* ---- Notes ---------------------------------------------------------------------------------------- */

typedef struct
{
  FacetWindow    *self;
  GtkEntry       *entry;
  FacetStoreNote  note;
} NoteRequest;

static void
note_request_free (gpointer data)
{
  NoteRequest *r = data;

  g_clear_weak_pointer (&r->self);
  g_free (r);
}

/* The request lives as long as the dialog (freed with it however it
 * closes) and only watches the window. */
static void
on_note_response (AdwMessageDialog *dialog,
                  const char       *response,
                  NoteRequest      *r)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (r->entry));
  g_autofree char *stripped = g_strstrip (g_strdup (text));

  if (g_str_equal (response, "add") && *stripped != '\0' && r->self != NULL
      && r->self->project != NULL)
    {
      FacetStoreNote *n = g_new0 (FacetStoreNote, 1);

      *n = r->note;
      n->text = g_strdup (stripped);
      write_mark (r->self, add_note_job, n, note_free);
      facet_window_toast (r->self, _("Note added (Ctrl+F finds it)"));
    }
}

static void
act_add_note (GtkWidget  *widget,
              const char *action_name,
              GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  gint64 frame = facet_player_get_frame (self->player), first, last;
  NoteRequest *r = g_new0 (NoteRequest, 1);
  g_autofree char *heading = NULL, *code = NULL;
  const FacetStoreEvent *e;
  GtkWidget *dialog;
  int lane;

  g_set_weak_pointer (&r->self, self);
  r->note.video_id = self->video_id;
  r->note.first = r->note.last = frame;
  if (facet_timeline_get_range (self->timeline, &lane, &first, &last))
    {
      r->note.first = first;
      r->note.last = last;
      r->note.au = facet_au_panel_get_au (self->au_panel, lane);
      code = facet_facs_code (r->note.au);
      /* TRANSLATORS: heading of the note dialog: AU, first and last frame */
      heading = g_strdup_printf (_("Note on %s, Frames %d–%d"),
                                 code, (int) first, (int) last);
    }
  else if ((e = event_at (self, selected_au (self), frame)) != NULL)
    {
      r->note.event_id = e->id;
      r->note.au = e->au;
      r->note.first = e->onset;
      r->note.last = e->offset;
      code = facet_facs_code (e->au);
      heading = g_strdup_printf (_("Note on the %s Event, Frames %d–%d"), code,
                                 (int) e->onset, (int) e->offset);
    }
  else
    heading = g_strdup_printf (_("Note on Frame %d"), (int) frame);

  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading,
                                   _("Notes are kept in the project, found with Ctrl+F and "
                                     "exported with the video's annotations."));
  r->entry = GTK_ENTRY (gtk_entry_new ());
  gtk_entry_set_activates_default (r->entry, TRUE);
  gtk_entry_set_placeholder_text (r->entry, _("What did you see?"));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), GTK_WIDGET (r->entry));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "add", _("_Add Note"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "add",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "add");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "facet-note-request", r, note_request_free);
  g_signal_connect (dialog, "response", G_CALLBACK (on_note_response), r);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (GTK_WIDGET (r->entry));
}

static void
act_find_notes (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);

  gtk_window_present (GTK_WINDOW (facet_notes_window_new (self)));
}

static void
act_thresholds (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);

  gtk_window_present (GTK_WINDOW (facet_thresholds_dialog_new (self, self->project,
                                                               self->model_id)));
}

static void
act_coding_scheme (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);

  gtk_window_present (GTK_WINDOW (facet_scheme_dialog_new (self, self->project)));
}

/* ---- Actions and keys ----------------------------------------------------------------------------- */

/* Plain keys: none of A-E (accepting, E, and the intensities are there). */
static const struct
{
  guint       keyval;
  const char *action;
} coding_keys[] = {
  { GDK_KEY_s, "win.event-onset" },
  { GDK_KEY_p, "win.event-apex" },
  { GDK_KEY_f, "win.event-offset" },
  { GDK_KEY_x, "win.event-delete" },
  { GDK_KEY_t, "win.add-note" },
};

static gboolean
coding_key_cb (GtkWidget *widget,
               GVariant  *args,
               gpointer   user_data)
{
  FacetWindow *self = FACET_WINDOW (widget);

  if (facet_window_focus_takes_keys (self, FALSE) || self->typing_au)
    return FALSE;
  return gtk_widget_activate_action (widget, user_data, NULL);
}

void
facet_window_init_marks (FacetWindow *self)
{
  GtkEventController *controller = gtk_shortcut_controller_new ();

  self->event_onset = -1;
  self->event_apex = -1;
  self->marks_reload = facet_reload_new (G_OBJECT (self), marks_start, marks_done);
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  gtk_event_controller_set_name (controller, "facet-marking-keys");
  for (guint i = 0; i < G_N_ELEMENTS (coding_keys); i++)
    gtk_shortcut_controller_add_shortcut (
      GTK_SHORTCUT_CONTROLLER (controller),
      gtk_shortcut_new (gtk_keyval_trigger_new (coding_keys[i].keyval, 0),
                        gtk_callback_action_new (coding_key_cb, (gpointer) coding_keys[i].action,
                                                 NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
}

void
facet_window_update_marks_actions (FacetWindow *self)
{
  GtkWidget *w = GTK_WIDGET (self);
  gboolean project = self->project != NULL;
  gboolean video = project && self->video_id != 0 && facet_player_get_n_frames (self->player) > 0;
  static const char *video_actions[] = {
    "win.event-onset", "win.event-apex", "win.event-offset", "win.event-delete", "win.add-note",
  };

  for (guint i = 0; i < G_N_ELEMENTS (video_actions); i++)
    gtk_widget_action_set_enabled (w, video_actions[i], video && self->n_aus > 0);
  gtk_widget_action_set_enabled (w, "win.find-notes", project);
  gtk_widget_action_set_enabled (w, "win.coding-scheme", project);
  gtk_widget_action_set_enabled (w, "win.thresholds", project && self->model_id > 0);
}

void
facet_window_class_init_marks (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.event-onset", NULL, act_event_onset);
  gtk_widget_class_install_action (widget_class, "win.event-apex", NULL, act_event_apex);
  gtk_widget_class_install_action (widget_class, "win.event-offset", NULL, act_event_offset);
  gtk_widget_class_install_action (widget_class, "win.event-delete", NULL, act_event_delete);
  gtk_widget_class_install_action (widget_class, "win.add-note", NULL, act_add_note);
  gtk_widget_class_install_action (widget_class, "win.find-notes", NULL, act_find_notes);
  gtk_widget_class_install_action (widget_class, "win.thresholds", NULL, act_thresholds);
  gtk_widget_class_install_action (widget_class, "win.coding-scheme", NULL, act_coding_scheme);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK,
                                       "win.find-notes", NULL);
}

/* ---- For tests --------------------------------------------------------------------------------- */

guint
facet_window_get_n_marked_events (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), 0);
  return self->events != NULL ? self->events->len : 0;
}

gboolean
facet_window_get_marked_event (FacetWindow     *self,
                               guint            index,
                               FacetStoreEvent *event)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), FALSE);

  if (self->events == NULL || index >= self->events->len)
    return FALSE;
  *event = g_array_index (self->events, FacetStoreEvent, index);
  return TRUE;
}

float
facet_window_get_threshold (FacetWindow *self,
                            int          au)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NAN);

  for (int i = 0; i < self->n_aus; i++)
    if (self->au_ids[i] == au)
      return self->thresholds[i];
  return NAN;
}
