/* facet-window-coding.c — FACS coding as labs do it: intensity, coders,
 * blind mode, consensus, agreement and the reliability sample
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Intensity: right after 1 (present) for an AU, or for a marked range,
 * the letters A to E set its FACS intensity; any other key (or three
 * seconds) ends that moment, so A, B and E keep their meaning (accept,
 * face box, mark the event) everywhere else. The AU panel's letter button
 * sets it with the mouse.
 *
 * Coders: the header bar shows who codes; its popover changes the name
 * (the "coder-name" setting), turns independent coding on for this
 * project (labels then go to the coder's own layer, never overwritten by
 * another coder; "independent-projects" remembers the projects) and blind
 * coding (the model's predictions, the other coders' work and the review
 * queue of disagreements are hidden).
 *
 * Reliability: the consensus window (two coders' disagreements resolved
 * into the final labels), the agreement table with its report, and the
 * reliability sample, which "Next to check" steps through when asked to
 * (and always while coding blind, when the model's queue is hidden).
 */
#define G_LOG_DOMAIN "facet-window"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-agreement-dialog.h"
#include "facet-consensus-dialog.h"
#include "facet-facs.h"
#include "facet-sample-dialog.h"
#include "facet-window-private.h"

/* How long after 1 a letter still sets the intensity. */
#define INTENSITY_MOMENT_US (3 * G_USEC_PER_SEC)

/* ---- Intensity ------------------------------------------------------------------------------- */

/* Writes @level (1-5; 0 clears the intensity) for frames [first, last] of
 * @au as present labels, one undo step. */
static void
write_intensity (FacetWindow *self,
                 gint64       first,
                 gint64       last,
                 int          au,
                 int          level)
{
  g_autoptr (GArray) labels = g_array_new (FALSE, TRUE, sizeof (FacetLabel));
  g_autofree char *code = facet_facs_code (au);
  g_autofree char *text = NULL;

  for (gint64 f = first; f <= last; f++)
    {
      FacetLabel l = { 0 };

      l.video_id = self->video_id;
      l.frame = f;
      l.au = au;
      l.state = FACET_LABEL_PRESENT;
      l.intensity = facet_intensity_from_level (level);
      l.source = FACET_LABEL_SOURCE_HUMAN;
      g_array_append_val (labels, l);
    }
  self->edits_in_flight++;
  facet_project_write_labels_async (self->project, (const FacetLabel *) (gpointer) labels->data,
                                    labels->len, "intensity", facet_window_edit_done,
                                    g_object_ref (self));
  if (level > 0)
    /* TRANSLATORS: after setting an intensity; AU code, the letter A-E */
    text = g_strdup_printf (_("%s present at intensity %s"), code,
                            facet_facs_intensity_letter (level));
  else
    /* TRANSLATORS: after clearing an intensity; AU code */
    text = g_strdup_printf (_("%s present, no intensity"), code);
  facet_window_toast (self, text);
}

void
facet_window_arm_intensity (FacetWindow *self,
                            gint64       first,
                            gint64       last,
                            int          au)
{
  g_return_if_fail (FACET_IS_WINDOW (self));

  self->intensity_armed = TRUE;
  self->intensity_first = first;
  self->intensity_last = last;
  self->intensity_au = au;
  self->intensity_time = g_get_monotonic_time ();
}

static gboolean
on_intensity_key (GtkEventControllerKey *controller,
                  guint                  keyval,
                  guint                  keycode,
                  GdkModifierType        state,
                  FacetWindow           *self)
{
  guint letter = gdk_keyval_to_lower (keyval);

  if (!self->intensity_armed)
    return GDK_EVENT_PROPAGATE;
  /* Modifiers alone keep the moment (Caps Lock on its way to a letter). */
  if (keyval == GDK_KEY_Shift_L || keyval == GDK_KEY_Shift_R || keyval == GDK_KEY_Caps_Lock)
    return GDK_EVENT_PROPAGATE;
  self->intensity_armed = FALSE;
  /* Shift+A stays "accept all", also right after 1. */
  if (letter < GDK_KEY_a || letter > GDK_KEY_e
      || (state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK | GDK_ALT_MASK)) != 0
      || g_get_monotonic_time () - self->intensity_time > INTENSITY_MOMENT_US
      || facet_window_focus_takes_keys (self, FALSE) || self->project == NULL
      || self->video_id == 0)
    return GDK_EVENT_PROPAGATE;
  write_intensity (self, self->intensity_first, self->intensity_last, self->intensity_au,
                   (int) (letter - GDK_KEY_a) + 1);
  return GDK_EVENT_STOP;
}

/* win.intensity (level 0-5): the selected AU at this frame. */
static void
act_intensity (GtkWidget  *widget,
               const char *name,
               GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  int sel = facet_au_panel_get_selected (self->au_panel);
  int level = g_variant_get_int32 (param);
  gint64 frame = facet_player_get_frame (self->player);

  if (self->project == NULL || self->video_id == 0 || sel < 0 || level < 0 || level > 5)
    return;
  write_intensity (self, frame, frame, self->au_ids[sel], level);
}

static void
on_panel_set_intensity (FacetAuPanel *panel,
                        int           au,
                        int           level,
                        FacetWindow  *self)
{
  gint64 frame;

  if (self->project == NULL || self->video_id == 0)
    return;
  frame = facet_player_get_frame (self->player);
  write_intensity (self, frame, frame, au, level);
}

/* ---- Coder, independent and blind coding -------------------------------------------------- */

gboolean
facet_window_get_blind (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), FALSE);
  return self->blind;
}

gboolean
facet_window_get_independent (FacetWindow *self)
{
  g_auto (GStrv) projects = NULL;

  g_return_val_if_fail (FACET_IS_WINDOW (self), FALSE);

  if (self->project == NULL)
    return FALSE;
  projects = g_settings_get_strv (self->settings, "independent-projects");
  return g_strv_contains ((const char *const *) projects,
                          facet_project_get_path (self->project));
}

static void
set_independent (FacetWindow *self,
                 gboolean     independent)
{
  g_auto (GStrv) projects = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) list = NULL;
  const char *path;

  if (self->project == NULL || facet_window_get_independent (self) == independent)
    return;
  path = facet_project_get_path (self->project);
  projects = g_settings_get_strv (self->settings, "independent-projects");
  for (guint i = 0; projects[i] != NULL; i++)
    if (!g_str_equal (projects[i], path))
      g_strv_builder_add (builder, projects[i]);
  if (independent)
    g_strv_builder_add (builder, path);
  list = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "independent-projects", (const char *const *) list);
}

/* The header bar's button: who codes, and in which mode. */
static void
update_coder_button (FacetWindow *self)
{
  const char *coder;
  g_autofree char *text = NULL;
  gboolean independent = facet_window_get_independent (self);
  gboolean typing;

  gtk_widget_set_visible (GTK_WIDGET (self->coder_button), self->project != NULL);
  if (self->project == NULL)
    return;
  coder = facet_project_get_coder (self->project);
  if (self->blind)
    /* TRANSLATORS: header bar: the coder's name while coding blind */
    text = g_strdup_printf (_("%s · blind"), coder);
  else if (independent)
    /* TRANSLATORS: header bar: the coder's name while coding independently */
    text = g_strdup_printf (_("%s · own layer"), coder);
  else
    text = g_strdup (coder);
  gtk_menu_button_set_label (self->coder_button, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->coder_button),
                               independent ? _("Coding into your own layer of labels; "
                                               "the final labels come from the consensus")
                                           : _("Coding the project's final labels"));
  typing = gtk_widget_has_focus (GTK_WIDGET (gtk_editable_get_delegate (
                                    GTK_EDITABLE (self->coder_entry))));
  if (!typing
      && !g_str_equal (gtk_editable_get_text (GTK_EDITABLE (self->coder_entry)), coder))
    gtk_editable_set_text (GTK_EDITABLE (self->coder_entry), coder);
  if (gtk_switch_get_active (self->independent_switch) != independent)
    gtk_switch_set_active (self->independent_switch, independent);
}

/* Applies blind mode to every view of the model's work. */
static void
apply_blind (FacetWindow *self)
{
  facet_au_panel_set_blind (self->au_panel, self->blind);
  facet_timeline_set_hide_predictions (self->timeline, self->blind);
  if (self->blind)
    gtk_toggle_button_set_active (self->heatmap_toggle, FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->heatmap_toggle), !self->blind);
  facet_window_update_actions (self);
  update_coder_button (self);
}

static void
on_blind_setting (FacetWindow *self)
{
  self->blind = g_settings_get_boolean (self->settings, "blind-coding");
  apply_blind (self);
  if (self->project != NULL)
    {
      facet_window_apply_layer (self);
      facet_window_reload_frame_state (self);
      facet_window_reload_lanes (self);
    }
}

void
facet_window_coding_project_changed (FacetWindow *self)
{
  g_return_if_fail (FACET_IS_WINDOW (self));

  self->intensity_armed = FALSE;
  if (self->project != NULL)
    facet_window_apply_layer (self);
  update_coder_button (self);
}

static void
on_independent_setting (FacetWindow *self)
{
  facet_window_coding_project_changed (self);
  facet_window_reload_frame_state (self);
  facet_window_reload_lanes (self);
}

static void
on_coder_entry_activate (AdwEntryRow *entry,
                         FacetWindow *self)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (entry))));

  g_settings_set_string (self->settings, "coder-name", name);
  gtk_menu_button_popdown (self->coder_button);
}

static gboolean
on_independent_switch (GtkSwitch   *sw,
                       gboolean     active,
                       FacetWindow *self)
{
  set_independent (self, active);
  return FALSE;
}

static void
on_project_coder (FacetWindow *self)
{
  facet_window_coding_project_changed (self);
  facet_window_reload_frame_state (self);
  facet_window_reload_lanes (self);
}

void
facet_window_coding_watch_project (FacetWindow *self)
{
  g_return_if_fail (FACET_IS_WINDOW (self));
  if (self->project != NULL)
    g_signal_connect_swapped (self->project, "notify::coder", G_CALLBACK (on_project_coder), self);
  facet_window_coding_project_changed (self);
}

static GtkWidget *
popover_row (const char *title,
             const char *subtitle,
             GtkWidget  *widget)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *texts = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *label = gtk_label_new (title);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_box_append (GTK_BOX (texts), label);
  if (subtitle != NULL)
    {
      GtkWidget *sub = gtk_label_new (subtitle);

      gtk_label_set_xalign (GTK_LABEL (sub), 0);
      gtk_label_set_wrap (GTK_LABEL (sub), TRUE);
      gtk_label_set_max_width_chars (GTK_LABEL (sub), 36);
      gtk_widget_add_css_class (sub, "dim-label");
      gtk_widget_add_css_class (sub, "caption");
      gtk_box_append (GTK_BOX (texts), sub);
    }
  gtk_widget_set_hexpand (texts, TRUE);
  gtk_widget_set_valign (widget, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (row), texts);
  gtk_box_append (GTK_BOX (row), widget);
  return row;
}

static void
build_coder_button (FacetWindow *self)
{
  GtkWidget *popover = gtk_popover_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *blind = gtk_switch_new ();
  GtkWidget *list = gtk_list_box_new ();

  self->coder_button = GTK_MENU_BUTTON (gtk_menu_button_new ());
  gtk_menu_button_set_icon_name (self->coder_button, "avatar-default-symbolic");
  gtk_widget_set_name (GTK_WIDGET (self->coder_button), "coder-button");
  gtk_widget_set_visible (GTK_WIDGET (self->coder_button), FALSE);

  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  /* An entry row, not a GtkEntry: Enter applies the name. */
  self->coder_entry = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->coder_entry), _("Coder"));
  g_signal_connect (self->coder_entry, "entry-activated", G_CALLBACK (on_coder_entry_activate),
                    self);
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  gtk_list_box_append (GTK_LIST_BOX (list), GTK_WIDGET (self->coder_entry));
  gtk_box_append (GTK_BOX (box), list);

  self->independent_switch = GTK_SWITCH (gtk_switch_new ());
  g_signal_connect (self->independent_switch, "state-set", G_CALLBACK (on_independent_switch),
                    self);
  gtk_box_append (GTK_BOX (box),
                  popover_row (_("Independent Coding"),
                               _("Each coder's labels are a layer of their own in this project"),
                               GTK_WIDGET (self->independent_switch)));
  g_settings_bind (self->settings, "blind-coding", blind, "active", G_SETTINGS_BIND_DEFAULT);
  gtk_box_append (GTK_BOX (box),
                  popover_row (_("Blind Coding"),
                               _("Hide the model's predictions and the other coders' labels"),
                               blind));
  gtk_popover_set_child (GTK_POPOVER (popover), box);
  gtk_menu_button_set_popover (self->coder_button, popover);
  adw_header_bar_pack_end (self->header_bar, GTK_WIDGET (self->coder_button));
}

void
facet_window_apply_layer (FacetWindow *self)
{
  g_return_if_fail (FACET_IS_WINDOW (self));

  if (self->project == NULL)
    return;
  /* Blind coding is double coding: into the coder's own layer too, so
   * that nobody else's labels are shown or overwritten. */
  facet_project_set_layer (self->project,
                           facet_window_get_independent (self) || self->blind
                           ? facet_project_get_coder (self->project) : NULL);
}

/* ---- Consensus, agreement, sample ------------------------------------------------------------ */

static void
on_consensus_show (FacetConsensusDialog *dialog,
                   gint64                video_id,
                   gint64                frame,
                   int                   au,
                   FacetWindow          *self)
{
  facet_window_show_video (self, video_id, frame);
  for (int a = 0; a < self->n_aus; a++)
    if (self->au_ids[a] == au)
      facet_au_panel_set_selected (self->au_panel, a);
}

static void
act_consensus (GtkWidget  *widget,
               const char *name,
               GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  FacetConsensusDialog *dialog;

  if (self->project == NULL)
    return;
  dialog = facet_consensus_dialog_new (GTK_WINDOW (self), self->project);
  g_signal_connect_object (dialog, "show-frame", G_CALLBACK (on_consensus_show), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
act_agreement (GtkWidget  *widget,
               const char *name,
               GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);

  if (self->project != NULL)
    gtk_window_present (GTK_WINDOW (facet_agreement_dialog_new (GTK_WINDOW (self),
                                                                self->project)));
}

static void
on_sample_marked (FacetSampleDialog *dialog,
                  int                n_segments,
                  const char        *message,
                  FacetWindow       *self)
{
  g_autofree char *text = NULL;

  if (n_segments < 0)
    {
      /* TRANSLATORS: the sample could not be marked; %s: why */
      text = g_strdup_printf (_("The reliability sample was not marked: %s"), message);
      facet_window_toast (self, text);
      return;
    }
  /* TRANSLATORS: after marking the reliability sample */
  text = g_strdup_printf (ngettext ("%d segment marked for double coding",
                                    "%d segments marked for double coding", n_segments),
                          n_segments);
  facet_window_toast (self, text);
}

static void
act_sample (GtkWidget  *widget,
            const char *name,
            GVariant   *param)
{
  FacetWindow *self = FACET_WINDOW (widget);
  FacetSampleDialog *dialog;

  if (self->project == NULL)
    return;
  dialog = facet_sample_dialog_new (GTK_WINDOW (self), self->project);
  g_signal_connect_object (dialog, "marked", G_CALLBACK (on_sample_marked), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

typedef struct
{
  FacetWindow *self;
  gint64       video_id;
  gint64       frame;
} SampleQuery;

static gpointer
sample_list_job (FacetStore   *store,
                 gpointer      data,
                 GCancellable *cancellable,
                 GError      **error)
{
  return facet_store_list_reliability (store, 0, error);
}

static void
sample_next_done (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SampleQuery *q = user_data;
  g_autoptr (FacetWindow) self = q->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) segments = facet_project_run_finish (FACET_PROJECT (object), result,
                                                             &error);
  g_autofree char *text = NULL;
  FacetReliabilitySegment *next = NULL;
  guint index = 0;

  self->review_running = FALSE;
  if (segments == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_free (q);
      return;
    }
  if (segments == NULL)
    facet_window_toast (self, error->message);
  else if (segments->len == 0)
    facet_window_toast (self, self->blind
                              ? _("Coding blind: the model's queue is hidden, and no reliability "
                                  "sample is marked (main menu)")
                              : _("No reliability sample is marked: pick one in the main menu"));
  else
    {
      /* The first segment after where the coder is; round to the first. */
      for (guint i = 0; i < segments->len && next == NULL; i++)
        {
          FacetReliabilitySegment *s = g_ptr_array_index (segments, i);

          if (s->video_id > q->video_id || (s->video_id == q->video_id && s->first > q->frame))
            next = s, index = i;
        }
      if (next == NULL)
        next = g_ptr_array_index (segments, 0), index = 0;
      self->sample_video = next->video_id;
      self->sample_first = next->first;
      self->sample_last = next->last;
      facet_window_show_video (self, next->video_id, next->first);
      /* TRANSLATORS: stepping through the reliability sample: segment n of
       * m, its first and last frame, the subject */
      text = g_strdup_printf (_("Reliability segment %u of %u: frames %d–%d of %s"), index + 1,
                              segments->len, (int) next->first, (int) next->last,
                              next->subject != NULL ? next->subject : "");
      facet_window_toast (self, text);
    }
  g_free (q);
}

gboolean
facet_window_review_sample_next (FacetWindow *self)
{
  SampleQuery *q;

  g_return_val_if_fail (FACET_IS_WINDOW (self), FALSE);

  if (self->project == NULL
      || !(self->blind || g_settings_get_boolean (self->settings, "review-sample")))
    return FALSE;
  if (self->review_running)
    return TRUE;
  q = g_new0 (SampleQuery, 1);
  q->self = g_object_ref (self);
  q->video_id = self->video_id;
  q->frame = self->video_id != 0 ? facet_player_get_frame (self->player) : -1;
  self->review_running = TRUE;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, sample_list_job, NULL, NULL,
                     (GDestroyNotify) g_ptr_array_unref, NULL, sample_next_done, q);
  return TRUE;
}

/* ---- Setup ----------------------------------------------------------------------------------- */

void
facet_window_update_coding_actions (FacetWindow *self)
{
  GtkWidget *w = GTK_WIDGET (self);
  gboolean video = self->project != NULL && self->video_id != 0;

  gtk_widget_action_set_enabled (w, "win.intensity", video);
  gtk_widget_action_set_enabled (w, "win.consensus", self->project != NULL);
  gtk_widget_action_set_enabled (w, "win.agreement", self->project != NULL);
  gtk_widget_action_set_enabled (w, "win.sample-reliability", self->project != NULL);
  /* Blind, N steps through the reliability sample: no model needed. */
  if (self->blind || (self->settings != NULL
                      && g_settings_get_boolean (self->settings, "review-sample")))
    gtk_widget_action_set_enabled (w, "win.review-next", self->project != NULL);
  /* Blind: nothing of the model's to accept, and no queue of where the
   * model disagrees. */
  if (self->blind)
    {
      gtk_widget_action_set_enabled (w, "win.accept", FALSE);
      gtk_widget_action_set_enabled (w, "win.accept-all", FALSE);
      gtk_widget_action_set_enabled (w, "win.toggle-heatmap", FALSE);
      gtk_widget_action_set_enabled (w, "win.toggle-heatmap-source", FALSE);
    }
  else
    {
      gtk_widget_action_set_enabled (w, "win.toggle-heatmap", TRUE);
      gtk_widget_action_set_enabled (w, "win.toggle-heatmap-source", TRUE);
    }
}

void
facet_window_init_coding (FacetWindow *self)
{
  GtkEventController *keys = gtk_event_controller_key_new ();
  GSimpleActionGroup *group = g_simple_action_group_new ();
  g_autoptr (GAction) review_sample = g_settings_create_action (self->settings, "review-sample");

  g_action_map_add_action (G_ACTION_MAP (group), review_sample);
  gtk_widget_insert_action_group (GTK_WIDGET (self), "coding", G_ACTION_GROUP (group));
  g_object_unref (group);
  g_signal_connect_swapped (self->settings, "changed::review-sample",
                            G_CALLBACK (facet_window_update_actions), self);

  build_coder_button (self);
  gtk_widget_set_name (GTK_WIDGET (self->heatmap_toggle), "heatmap-toggle");
  g_signal_connect (self->au_panel, "set-intensity", G_CALLBACK (on_panel_set_intensity), self);
  /* Added after the other key controllers so that it runs first. */
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_intensity_key), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);

  g_signal_connect_swapped (self->settings, "changed::blind-coding", G_CALLBACK (on_blind_setting),
                            self);
  g_signal_connect_swapped (self->settings, "changed::independent-projects",
                            G_CALLBACK (on_independent_setting), self);
  on_blind_setting (self);
}

void
facet_window_class_init_coding (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.intensity", "i", act_intensity);
  gtk_widget_class_install_action (widget_class, "win.consensus", NULL, act_consensus);
  gtk_widget_class_install_action (widget_class, "win.agreement", NULL, act_agreement);
  gtk_widget_class_install_action (widget_class, "win.sample-reliability", NULL, act_sample);
}
