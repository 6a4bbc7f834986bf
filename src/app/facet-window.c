/* facet-window.c — the main window: project, video, frame, timeline
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The window ties the pieces together and never waits: the project file is
 * read and written by FacetProject's worker threads, frames are decoded by
 * FacetPlayer, heat maps computed by FacetExplainer and videos analysed by
 * FacetAnalysis, all of which answer on the main context. Each answer is
 * checked against the current video, model and frame, and the reloads
 * (FacetReload) drop a late answer for something the coder has left.
 */
#define G_LOG_DOMAIN "facet-window"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "facet-demo.h"
#include "facet-facs.h"
#include "facet-timecode.h"
#include "facet-window-private.h"

G_DEFINE_FINAL_TYPE (FacetWindow, facet_window, ADW_TYPE_APPLICATION_WINDOW)

#define RECENT_MAX 10

static void set_project (FacetWindow  *self,
                         FacetProject *project);

/* ---- Messages -------------------------------------------------------------------------------- */

void
facet_window_toast (FacetWindow *self,
                    const char  *text)
{
  AdwToast *toast;

  g_return_if_fail (FACET_IS_WINDOW (self));

  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
  g_free (self->last_toast);
  self->last_toast = g_strdup (text);
}

const char *
facet_window_get_last_toast (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NULL);
  return self->last_toast;
}

void
facet_window_error (FacetWindow  *self,
                    const char   *heading,
                    const char   *advice,
                    const GError *error)
{
  GtkWidget *dialog;
  g_autofree char *body = NULL;

  g_return_if_fail (FACET_IS_WINDOW (self));

  if (error != NULL && advice != NULL)
    body = g_strdup_printf ("%s\n\n%s", advice, error->message);
  else
    body = g_strdup (advice ? advice : error ? error->message : "");
  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "close");
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- Getters --------------------------------------------------------------------------------- */

FacetProject *
facet_window_get_project (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NULL);
  return self->project;
}

FacetPlayer *
facet_window_get_player (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NULL);
  return self->player;
}

gint64
facet_window_get_video_id (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), 0);
  return self->video_id;
}

FacetFrameView *
facet_window_get_frame_view (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NULL);
  return self->frame_view;
}

FacetTimeline *
facet_window_get_timeline (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NULL);
  return self->timeline;
}

FacetAuPanel *
facet_window_get_au_panel (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NULL);
  return self->au_panel;
}

FacetTransport *
facet_window_get_transport (FacetWindow *self)
{
  g_return_val_if_fail (FACET_IS_WINDOW (self), NULL);
  return self->transport;
}

gboolean
facet_window_is_settled (FacetWindow *self)
{
  gint64 frame;

  g_return_val_if_fail (FACET_IS_WINDOW (self), FALSE);

  if (self->project == NULL || self->video_id == 0)
    return FALSE;
  frame = facet_player_get_frame (self->player);
  if (facet_player_get_shown_frame (self->player) != frame
      || facet_frame_view_get_frame (self->frame_view) != frame)
    return FALSE;
  if (facet_reload_is_busy (self->frame_reload) || self->frame_state == NULL || self->frame_state->frame != frame)
    return FALSE;
  if (facet_reload_is_busy (self->probs_reload) || facet_reload_is_busy (self->lanes_reload)
      || facet_reload_is_busy (self->marks_reload) || facet_reload_is_busy (self->compare_reload)
      || self->edits_in_flight > 0)
    return FALSE;
  if (gtk_toggle_button_get_active (self->heatmap_toggle) && self->model_path != NULL
      && (self->explaining || self->explained_frame != frame))
    return self->frame_state != NULL && !self->frame_state->has_face
           && self->video_crop != FACET_CROP_NONE;
  return TRUE;
}

char *
facet_window_dup_backend (FacetWindow *self)
{
  return g_settings_get_string (self->settings, "backend");
}

/* ---- Recent projects ------------------------------------------------------------------------- */

static void
on_recent_activated (AdwActionRow *row,
                     FacetWindow  *self)
{
  const char *path = g_object_get_data (G_OBJECT (row), "path");

  facet_window_open_project (self, path, FALSE, FALSE);
}

static void
update_recent (FacetWindow *self)
{
  g_auto (GStrv) recent = g_settings_get_strv (self->settings, "recent-projects");
  GtkWidget *child;
  guint shown = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->recent_list))) != NULL)
    gtk_list_box_remove (self->recent_list, child);
  for (guint i = 0; recent[i] != NULL; i++)
    {
      GtkWidget *row;
      g_autofree char *base = NULL, *dir = NULL;

      if (!g_file_test (recent[i], G_FILE_TEST_IS_REGULAR))
        continue;
      base = g_path_get_basename (recent[i]);
      dir = g_path_get_dirname (recent[i]);
      row = adw_action_row_new ();
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), base);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), dir);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                                 gtk_image_new_from_icon_name ("go-next-symbolic"));
      g_object_set_data_full (G_OBJECT (row), "path", g_strdup (recent[i]), g_free);
      g_signal_connect (row, "activated", G_CALLBACK (on_recent_activated), self);
      gtk_list_box_append (self->recent_list, row);
      shown++;
    }
  gtk_widget_set_visible (self->recent_group, shown > 0);
}

void
facet_window_add_recent (FacetWindow *self,
                         const char  *path)
{
  g_auto (GStrv) recent = g_settings_get_strv (self->settings, "recent-projects");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) updated = NULL;
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  guint n = 1;

  g_strv_builder_add (builder, abs);
  for (guint i = 0; recent[i] != NULL && n < RECENT_MAX; i++)
    if (!g_str_equal (recent[i], abs))
      {
        g_strv_builder_add (builder, recent[i]);
        n++;
      }
  updated = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "recent-projects", (const char * const *) updated);
}

/* ---- Header ---------------------------------------------------------------------------------- */

static void
update_title (FacetWindow *self)
{
  FacetStoreVideo *v = self->project ? facet_project_get_video (self->project,
                                                                self->video_id) : NULL;

  adw_window_title_set_title (self->window_title,
                              self->project ? facet_project_get_title (self->project)
                                                                : _("Facet"));
  if (v != NULL)
    {
      g_autofree char *base = g_path_get_basename (v->path);
      /* TRANSLATORS: window subtitle: subject id, video file */
      g_autofree char *sub = g_strdup_printf (_("Subject %s · %s"), v->subject, base);
      adw_window_title_set_subtitle (self->window_title, sub);
    }
  else
    adw_window_title_set_subtitle (self->window_title, "");
}

static void
update_analysis_header (FacetWindow *self)
{
  gboolean running = facet_analysis_get_running (self->analysis);
  double fraction = facet_analysis_get_fraction (self->analysis);
  g_autofree char *percent = g_strdup_printf ("%.0f %%", 100 * fraction);
  const char *text = facet_analysis_get_text (self->analysis);

  gtk_widget_set_visible (GTK_WIDGET (self->analysis_button), running);
  gtk_widget_set_visible (GTK_WIDGET (self->analyse_button), !running && self->project != NULL);
  gtk_spinner_set_spinning (self->analysis_spinner, running);
  gtk_label_set_text (self->analysis_percent, percent);
  gtk_progress_bar_set_fraction (self->analysis_progress, fraction);
  gtk_label_set_text (self->analysis_label, text ? text : "");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->analysis_button), text);
  facet_window_update_actions (self);
}

/* ---- Frames ---------------------------------------------------------------------------------- */

static void
update_description (FacetWindow *self)
{
  gint64 frame = facet_player_get_frame (self->player);
  g_autofree char *time = facet_timecode_format (facet_player_get_time (self->player));
  /* TRANSLATORS: the frame view for screen readers: frame number, time */
  g_autofree char *text = g_strdup_printf (_("Video frame %d at %s"), (int) frame, time);

  facet_frame_view_set_description (self->frame_view, text);
}

static void
update_notice (FacetWindow *self)
{
  const char *notice = NULL;
  FacetFrameState *s = self->frame_state;
  gint64 frame = facet_player_get_frame (self->player);

  if (self->model_id == 0)
    notice = _("No model yet: add one to the project to see predictions");
  else if (s != NULL && s->frame == frame && !s->analysed
           && facet_analysis_get_running (self->analysis))
    notice = _("Not analysed yet: the analysis running now will reach this frame");
  else if (s != NULL && s->frame == frame && !s->analysed)
    notice = _("Not analysed yet: press Analyse to run the model");
  else if (s != NULL && s->frame == frame && s->analysed && !s->has_face)
    notice = _("No face found in this frame");
  facet_frame_view_set_notice (self->frame_view, notice);
}

/* The legend's name of the per-AU map: the method that made it, with the
 * neutral frame it was measured against, or why there was none. */
static char *
heatmap_title (FacetWindow            *self,
               const FacetExplanation *x)
{
  const char *method = facet_explainer_method_title (x->method);
  FacetMediaSource *source = facet_player_get_source (self->player);

  if (x->method == FACET_MAP_NEUTRAL && x->neutral_frame >= 0 && source != NULL)
    {
      g_autofree char *at = facet_timecode_format (facet_media_source_frame_time (source,
                                                                                  x->neutral_frame));
      /* TRANSLATORS: the map's method, then the time of the calm frame it compares with */
      return g_strdup_printf (_("%s (calm frame at %s)"), method, at);
    }
  if (x->requested == FACET_MAP_NEUTRAL && x->method != FACET_MAP_NEUTRAL)
    /* TRANSLATORS: the map's method; change from neutral needs the video analysed */
    return g_strdup_printf (_("%s (no neutral frame: analyse this video)"), method);
  return g_strdup (method);
}

void
facet_window_update_heatmap (FacetWindow *self)
{
  const FacetExplanation *x = facet_explainer_get_result (self->explainer);
  gint64 frame = facet_player_get_shown_frame (self->player);
  gboolean per_au;
  int sel;

  if (x == NULL || x->video_id != self->video_id || x->frame != frame
      || x->model_id != self->model_id)
    {
      facet_frame_view_set_heatmap (self->frame_view, NULL, 0, 0, NULL, 0, -1);
      return;
    }
  per_au = g_settings_get_enum (self->settings, "heatmap-source") == 1;
  /* The maps are in the model's order; the list may hold more AUs. */
  sel = facet_window_scheme_model_index (self, facet_au_panel_get_selected (self->au_panel));
  if (per_au && sel >= 0 && sel < x->n_aus)
    {
      /* The last-layer terms against the average patch (every patch carries
       * a share of the logit); the other per-AU maps around zero (no effect). */
      FacetHeatmapKind kind = !facet_map_method_is_per_au (x->method) ? FACET_HEATMAP_ATTENTION
                              : x->method == FACET_MAP_LAST_LAYER   ? FACET_HEATMAP_EVIDENCE
                                                                      : FACET_HEATMAP_EFFECT;
      g_autofree char *title = heatmap_title (self, x);
      facet_frame_view_set_heatmap_title (self->frame_view, title);
      facet_frame_view_set_heatmap (self->frame_view, x->au_maps + (gsize) sel * x->grid * x->grid,
                                    x->grid, kind, x->transform, x->crop_size, x->frame);
    }
  else
    {
      facet_frame_view_set_heatmap_title (self->frame_view,
                                          facet_explainer_method_title (FACET_MAP_ROLLOUT));
      facet_frame_view_set_heatmap (self->frame_view, x->attention, x->grid,
                                    FACET_HEATMAP_ATTENTION, x->transform, x->crop_size, x->frame);
    }
}

/* Asks for the maps of the frame on screen once its picture and its face
 * are both known. */
static void
maybe_explain (FacetWindow *self)
{
  gint64 frame = facet_player_get_shown_frame (self->player);
  FacetImage *image = facet_player_get_image (self->player);
  FacetFrameState *s = self->frame_state;
  const double *transform = NULL;
  const FacetExplanation *x = facet_explainer_get_result (self->explainer);
  /* The whole model's map needs the rollout only: the chosen per-AU
   * method (occlusion: a forward per patch) runs when the AU's map is shown. */
  FacetMapMethod method = g_settings_get_enum (self->settings, "heatmap-source") == 1
                            ? facet_explainer_get_method (self->settings)
                            : FACET_MAP_ROLLOUT;

  if (!gtk_toggle_button_get_active (self->heatmap_toggle) || self->model_path == NULL
      || image == NULL || frame < 0)
    return;
  if (frame == self->explained_frame
      && (self->explaining || x == NULL || x->frame != frame || x->requested == method
          || method == FACET_MAP_ROLLOUT))
    return;
  if (self->video_crop != FACET_CROP_NONE)
    {
      if (s == NULL || s->frame != frame || facet_reload_is_busy (self->frame_reload))
        return;
      if (!s->has_face || !s->face.has_transform)
        {
          facet_frame_view_set_heatmap (self->frame_view, NULL, 0, 0, NULL, 0, -1);
          return;
        }
      transform = s->face.transform;
    }
  self->explained_frame = frame;
  self->explaining = TRUE;
  facet_explainer_request (self->explainer,
                           self->project ? facet_project_get_path (self->project) : NULL,
                           self->model_path, self->model_id, image, transform, self->video_id,
                           frame, method);
}

static void
on_explained (FacetExplainer   *explainer,
              FacetExplanation *explanation,
              FacetWindow      *self)
{
  self->explaining = explanation->frame != self->explained_frame;
  facet_frame_view_set_heatmap_progress (self->frame_view, -1);
  facet_window_update_heatmap (self);
  /* The source changed while it ran: the AU's map by its method next. */
  maybe_explain (self);
}

static void
on_explain_failed (FacetExplainer *explainer,
                   GError         *error,
                   FacetWindow    *self)
{
  self->explaining = FALSE;
  facet_frame_view_set_heatmap_progress (self->frame_view, -1);
  gtk_toggle_button_set_active (self->heatmap_toggle, FALSE);
  facet_window_error (self, _("The Heat Map Cannot Be Computed"),
                      _("The model could not be run on this frame. Check that the model file is "
                        "still next to the project, or choose another model."),
                      error);
}

static void
frame_state_done (GObject      *owner,
                  GObject      *object,
                  GAsyncResult *result)
{
  FacetWindow *self = FACET_WINDOW (owner);
  g_autoptr (GError) error = NULL;
  FacetFrameState *s = facet_project_load_frame_finish (FACET_PROJECT (object), result, &error);

  if (s == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        facet_window_toast (self, error->message);
    }
  else if (FACET_PROJECT (object) != self->project || s->video_id != self->video_id
           || s->model_id != self->model_id)
    facet_frame_state_free (s);
  else
    {
      g_clear_pointer (&self->frame_state, facet_frame_state_free);
      facet_window_scheme_remap_frame (self, s);
      self->frame_state = s;
      facet_au_panel_set_state (self->au_panel, s, self->thresholds);
      facet_frame_view_set_face (self->frame_view, s->has_face ? &s->face : NULL, s->frame);
      update_notice (self);
      maybe_explain (self);
    }
}

static gboolean
frame_state_start (GObject             *owner,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             data)
{
  FacetWindow *self = FACET_WINDOW (owner);

  if (self->project == NULL || self->video_id == 0)
    return FALSE;
  facet_project_load_frame_async (self->project, self->video_id,
                                  facet_player_get_frame (self->player), cancellable, callback,
                                  data);
  return TRUE;
}

void
facet_window_reload_frame_state (FacetWindow *self)
{
  facet_reload_request (self->frame_reload);
}

static void
on_frame_changed (FacetWindow *self)
{
  gint64 frame = facet_player_get_frame (self->player);

  facet_timeline_set_position (self->timeline, frame);
  update_description (self);
  facet_window_reload_frame_state (self);
  facet_window_compare_frame_changed (self);
}

static void
on_frame_shown (FacetPlayer *player,
                gint64       frame,
                FacetWindow *self)
{
  facet_frame_view_set_texture (self->frame_view, facet_player_get_texture (player), frame);
  facet_window_update_heatmap (self);
  maybe_explain (self);
}

static void
on_player_opened (FacetWindow *self)
{
  gint64 n = facet_player_get_n_frames (self->player);

  if (self->pending_frame >= 0)
    facet_player_seek (self->player, MIN (self->pending_frame, n - 1));
  self->pending_frame = -1;
  on_frame_changed (self);
  facet_window_update_actions (self);
}

static void
on_player_error (FacetPlayer *player,
                 GError      *error,
                 FacetWindow *self)
{
  if (g_error_matches (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME))
    {
      facet_window_toast (self, error->message);
      return;
    }
  facet_window_error (self, _("The Video Cannot Be Shown"),
                      _("Check that the file is still there and readable; a video moved elsewhere "
                        "can be "
                        "added again."),
                      error);
}

/* ---- Timeline data --------------------------------------------------------------------------- */

typedef struct
{
  gint64 model_id;
  gint64 video_id;
  gint64 first;
  gint64 last;
  int    n_aus;
  int   *au_ids;
} LaneQuery;

static void
lane_query_free (gpointer data)
{
  LaneQuery *q = data;

  g_free (q->au_ids);
  g_free (q);
}

static gpointer
predictions_job (FacetStore   *store,
                 gpointer      data,
                 GCancellable *cancellable,
                 GError      **error)
{
  LaneQuery *q = data;

  return facet_store_get_predictions (store, q->model_id, q->video_id, q->first, q->last, error);
}

static void
predictions_done (GObject      *owner,
                  GObject      *object,
                  GAsyncResult *result)
{
  FacetWindow *self = FACET_WINDOW (owner);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetPredictionSet) set = facet_project_run_finish (FACET_PROJECT (object), result,
                                                                 &error);
  FacetTimelineData *data = facet_timeline_get_data (self->timeline);

  if (set == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        facet_window_toast (self, error->message);
    }
  else if (data != NULL && (facet_window_scheme_remap_set (self, set),
                            set->n_aus == facet_timeline_data_get_n_lanes (data)))
    {
      facet_timeline_data_set_values (data, set->frames, set->probs, set->n);
      facet_timeline_data_changed (self->timeline);
      facet_window_compare_update (self);
    }
}

/* Loads what the timeline lacks: during an analysis only the new chunks. */
static gboolean
predictions_start (GObject             *owner,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  FacetWindow *self = FACET_WINDOW (owner);
  FacetTimelineData *data = facet_timeline_get_data (self->timeline);
  LaneQuery *q;

  if (self->project == NULL || data == NULL || self->model_id == 0
      || facet_timeline_data_first_unknown (data) >= facet_timeline_data_get_n_frames (data))
    return FALSE;
  q = g_new0 (LaneQuery, 1);
  q->model_id = self->model_id;
  q->video_id = self->video_id;
  q->first = facet_timeline_data_first_unknown (data);
  q->last = -1;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, predictions_job, q, lane_query_free,
                     (GDestroyNotify) facet_prediction_set_free, cancellable, callback, user_data);
  return TRUE;
}

void
facet_window_reload_predictions (FacetWindow *self)
{
  facet_reload_request (self->probs_reload);
}

static gpointer
segments_job (FacetStore   *store,
              gpointer      data,
              GCancellable *cancellable,
              GError      **error)
{
  LaneQuery *q = data;
  GPtrArray *lanes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);

  for (int i = 0; i < q->n_aus; i++)
    {
      GArray *segs = facet_store_get_label_segments (store, q->video_id, q->au_ids[i], 0, -1,
                                                     error);

      if (segs == NULL)
        {
          g_ptr_array_unref (lanes);
          return NULL;
        }
      g_ptr_array_add (lanes, segs);
      /* Each lane's runs of coded intensity follow its label runs. */
      g_ptr_array_add (lanes, facet_timeline_intensity_runs ((const FacetLabelSegment *)
                                                             (gpointer) segs->data, segs->len));
    }
  return lanes;
}

static void
segments_done (GObject      *owner,
               GObject      *object,
               GAsyncResult *result)
{
  FacetWindow *self = FACET_WINDOW (owner);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) lanes = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  FacetTimelineData *data = facet_timeline_get_data (self->timeline);

  if (lanes == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        facet_window_toast (self, error->message);
    }
  else if (data != NULL && (int) lanes->len == 2 * facet_timeline_data_get_n_lanes (data))
    {
      for (guint i = 0; i < lanes->len / 2; i++)
        {
          GArray *segs = g_ptr_array_index (lanes, 2 * i);
          GArray *runs = g_ptr_array_index (lanes, 2 * i + 1);

          facet_timeline_data_set_segments (data, (int) i,
                                            (const FacetLabelSegment *) (gpointer) segs->data,
                                            segs->len);
          facet_timeline_data_set_intensities (data, (int) i,
                                               (const FacetLabelSegment *) (gpointer) runs->data,
                                               runs->len);
        }
      facet_timeline_data_changed (self->timeline);
    }
}

static gboolean
segments_start (GObject             *owner,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  FacetWindow *self = FACET_WINDOW (owner);
  LaneQuery *q;

  if (self->project == NULL || self->video_id == 0 || self->n_aus == 0)
    return FALSE;
  q = g_new0 (LaneQuery, 1);
  q->video_id = self->video_id;
  q->n_aus = self->n_aus;
  q->au_ids = g_memdup2 (self->au_ids, sizeof (int) * self->n_aus);
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, segments_job, q, lane_query_free,
                     (GDestroyNotify) g_ptr_array_unref, cancellable, callback, user_data);
  return TRUE;
}

void
facet_window_reload_lanes (FacetWindow *self)
{
  facet_reload_request (self->lanes_reload);
}

/* A new timeline for the current video and model. */
static void
reset_timeline (FacetWindow *self)
{
  FacetStoreVideo *v = self->project ? facet_project_get_video (self->project,
                                                                self->video_id) : NULL;
  FacetTimelineData *data = NULL;

  /* Loads asked for the former video or model are dropped when they come. */
  facet_reload_invalidate (self->probs_reload);
  facet_reload_invalidate (self->lanes_reload);
  if (v != NULL)
    {
      data = facet_timeline_data_new (v->n_frames, self->n_aus);
      for (int i = 0; i < self->n_aus; i++)
        facet_timeline_data_set_threshold (data, i, self->thresholds[i]);
    }
  facet_timeline_set_data (self->timeline, data, self->au_ids, v ? v->fps : 25.0);
  facet_window_scheme_after_reset (self);
  facet_timeline_set_position (self->timeline, facet_player_get_frame (self->player));
  facet_timeline_set_selected_lane (self->timeline,
                                    MAX (facet_au_panel_get_selected (self->au_panel), 0));
  facet_window_reload_predictions (self);
  facet_window_reload_lanes (self);
  facet_window_compare_reset (self);
}

/* ---- Model ----------------------------------------------------------------------------------- */

static void
update_thresholds (FacetWindow *self)
{
  FacetTimelineData *data = facet_timeline_get_data (self->timeline);
  gboolean common = !g_settings_get_boolean (self->settings, "use-model-thresholds");

  if (self->project == NULL)
    return;
  facet_project_set_common_threshold (self->project, common ? g_settings_get_double (self->settings,
                                                                                     "threshold")
                                                            : NAN);
  for (int i = 0; i < self->n_aus; i++)
    {
      int k = facet_window_scheme_model_index (self, i);
      /* AUs coded by hand have no threshold: 0.5 keeps the drawing simple. */
      self->thresholds[i] = k >= 0 ? facet_project_get_threshold (self->project, k) : 0.5f;
      /* Before the new timeline exists (a rebuilt list) the old one may be shorter. */
      if (data != NULL && i < facet_timeline_data_get_n_lanes (data))
        facet_timeline_data_set_threshold (data, i, k >= 0 ? self->thresholds[i] : NAN);
    }
  facet_timeline_data_changed (self->timeline);
  if (self->frame_state != NULL)
    facet_au_panel_set_state (self->au_panel, self->frame_state, self->thresholds);
}

static void
on_model_changed (FacetWindow *self)
{
  FacetStoreModel *m = self->project ? facet_project_get_model (self->project) : NULL;

  g_clear_pointer (&self->model_path, g_free);
  self->model_id = m ? m->id : 0;
  /* The model's AUs and the scheme's (facet-window-marks.c). */
  facet_window_scheme_set_aus (self, m);
  if (m != NULL)
    {
      g_autofree char *folder = g_path_get_dirname (facet_project_get_path (self->project));

      /* Model files are relative to the project's folder, as the store keeps them. */
      self->model_path = g_path_is_absolute (m->file) ? g_strdup (m->file)
                                                      : g_build_filename (folder, m->file, NULL);
    }
  facet_au_panel_set_aus (self->au_panel, self->au_ids, self->n_aus);
  update_thresholds (self);
  facet_explainer_clear (self->explainer);
  self->explained_frame = -1;
  self->explaining = FALSE;
  g_clear_pointer (&self->frame_state, facet_frame_state_free);
  reset_timeline (self);
  facet_window_reload_frame_state (self);
  facet_window_update_heatmap (self);
  update_notice (self);
  facet_window_update_actions (self);
}

void
facet_window_rebuild_model (FacetWindow *self)
{
  on_model_changed (self);
}

/* ---- Videos ---------------------------------------------------------------------------------- */

typedef struct
{
  gint64 video_id;
  gint64 frame;
} ShowVideo;

static gpointer
resolve_job (FacetStore   *store,
             gpointer      data,
             GCancellable *cancellable,
             GError      **error)
{
  ShowVideo *s = data;

  return facet_store_resolve_video (store, s->video_id, error);
}

static void
resolve_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (FacetWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  FacetStoreVideo *v;

  if (FACET_PROJECT (object) != self->project)
    return;
  if (path == NULL)
    {
      facet_window_error (self, _("The Video File Is Missing"),
                          _("It is neither where the project expects it (relative to the project "
                            "file) "
                            "nor where it was when it was added. Move it back, or add it again."),
                          error);
      return;
    }
  v = facet_project_get_video (self->project, self->video_id);
  facet_player_open (self->player, path, v ? v->fps : 25.0);
}

void
facet_window_show_video (FacetWindow *self,
                         gint64       video_id,
                         gint64       frame)
{
  FacetStoreVideo *v;
  ShowVideo *s;

  g_return_if_fail (FACET_IS_WINDOW (self));

  if (self->project == NULL || (v = facet_project_get_video (self->project, video_id)) == NULL)
    return;
  if (video_id == self->video_id)
    {
      if (frame >= 0)
        facet_player_seek (self->player, frame);
      return;
    }
  self->video_id = video_id;
  self->video_crop = v->crop;
  self->pending_frame = MAX (frame, 0);
  self->in_point = -1;
  facet_player_close (self->player);
  facet_frame_view_set_texture (self->frame_view, NULL, -1);
  facet_frame_view_set_face (self->frame_view, NULL, -1);
  facet_explainer_clear (self->explainer);
  self->explained_frame = -1;
  self->explaining = FALSE;
  g_clear_pointer (&self->frame_state, facet_frame_state_free);
  facet_au_panel_set_state (self->au_panel, NULL, self->thresholds);
  facet_sidebar_select_video (self->sidebar, video_id);
  gtk_stack_set_visible_child_name (self->content_stack, "video");
  update_title (self);
  reset_timeline (self);

  s = g_new0 (ShowVideo, 1);
  s->video_id = video_id;
  s->frame = frame;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, resolve_job, s, g_free, g_free, NULL,
                     resolve_done, g_object_ref (self));
  facet_window_update_actions (self);
}

static void
on_video_selected (FacetWindow *self,
                   gint64       video_id)
{
  /* Folded over the work, the list makes way once a video is picked. */
  if (adw_flap_get_folded (self->flap))
    adw_flap_set_reveal_flap (self->flap, FALSE);
  facet_window_show_video (self, video_id, 0);
}

static void
on_videos_changed (FacetWindow *self)
{
  g_autoptr (GArray) order = NULL;

  update_title (self);
  if (self->video_id != 0 && facet_project_get_video (self->project, self->video_id) != NULL)
    return;
  self->video_id = 0;
  order = facet_sidebar_get_video_order (self->sidebar);
  if (order->len > 0)
    facet_window_show_video (self, g_array_index (order, gint64, 0), 0);
  else
    gtk_stack_set_visible_child_name (self->content_stack, "empty");
  facet_window_update_actions (self);
}

/* ---- Project changes ------------------------------------------------------------------------- */

static void
on_project_changed (FacetProject *project,
                    guint         what,
                    gint64        video_id,
                    gint64        first,
                    gint64        last,
                    FacetWindow  *self)
{
  gboolean here = video_id == 0 || video_id == self->video_id;

  if ((what & FACET_STORE_CHANGE_LABELS) && here)
    {
      facet_window_reload_marks (self);
      facet_window_reload_lanes (self);
      facet_window_reload_frame_state (self);
    }
  if ((what & FACET_STORE_CHANGE_PREDICTIONS) && here)
    {
      facet_window_reload_predictions (self);
      facet_window_compare_reload (self);
      facet_window_reload_frame_state (self);
    }
  facet_sidebar_refresh (self->sidebar);
  facet_window_update_actions (self);
}

static gboolean
poll_project (gpointer data)
{
  FacetWindow *self = data;

  if (self->project != NULL)
    facet_project_poll (self->project);
  return G_SOURCE_CONTINUE;
}

static void
on_coder_setting (FacetWindow *self)
{
  g_autofree char *coder = g_settings_get_string (self->settings, "coder-name");

  if (self->project != NULL)
    facet_project_set_coder (self->project, coder);
}

static void
set_project (FacetWindow  *self,
             FacetProject *project)
{
  if (self->project != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->project, self);
      if (facet_analysis_get_running (self->analysis))
        facet_analysis_cancel (self->analysis);
    }
  g_clear_handle_id (&self->poll_source, g_source_remove);
  facet_player_close (self->player);
  facet_explainer_clear (self->explainer);
  g_clear_pointer (&self->frame_state, facet_frame_state_free);
  g_clear_pointer (&self->review_seen, g_hash_table_unref);
  self->review_seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  memset (&self->review_event, 0, sizeof self->review_event);
  self->video_id = 0;
  self->explained_frame = -1;
  g_set_object (&self->project, project);
  facet_window_coding_watch_project (self);
  facet_window_compare_watch_project (self);

  facet_sidebar_set_project (self->sidebar, project);
  facet_frame_view_set_texture (self->frame_view, NULL, -1);
  if (project == NULL)
    {
      gtk_stack_set_visible_child_name (self->main_stack, "start");
      update_recent (self);
      gtk_widget_set_visible (GTK_WIDGET (self->sidebar_button), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->add_button), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->review_button), FALSE);
      gtk_widget_set_visible (self->undo_box, FALSE);
      on_model_changed (self);
      update_title (self);
      update_analysis_header (self);
      return;
    }

  on_coder_setting (self);
  g_signal_connect (project, "changed", G_CALLBACK (on_project_changed), self);
  g_signal_connect_swapped (project, "notify::model-id", G_CALLBACK (on_model_changed), self);
  g_signal_connect_swapped (project, "videos-changed", G_CALLBACK (on_videos_changed), self);
  g_signal_connect_swapped (project, "models-changed", G_CALLBACK (facet_window_update_actions),
                            self);
  g_signal_connect_swapped (project, "models-changed",
                            G_CALLBACK (facet_window_scheme_models_changed), self);
  g_signal_connect_swapped (project, "models-changed", G_CALLBACK (facet_window_compare_reset),
                            self);
  self->poll_source = g_timeout_add_seconds (2, poll_project, self);

  gtk_stack_set_visible_child_name (self->main_stack, "project");
  gtk_widget_set_visible (GTK_WIDGET (self->sidebar_button), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->add_button), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->review_button), TRUE);
  gtk_widget_set_visible (self->undo_box, TRUE);
  on_model_changed (self);
  on_videos_changed (self);
  update_title (self);
  update_analysis_header (self);
}

/* ---- Opening --------------------------------------------------------------------------------- */

static void
project_opened (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (FacetWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetProject) project = facet_project_open_finish (result, &error);

  if (project == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      gtk_stack_set_visible_child_name (self->main_stack, self->project ? "project" : "start");
      if (g_error_matches (error, FACET_STORE_ERROR, FACET_STORE_ERROR_TOO_NEW))
        facet_window_error (self, _("Made by a Newer Facet"),
                            _("This project was saved by a newer version of Facet. Update Facet "
                              "to open "
                              "it; the file was left unchanged."), error);
      else if (g_error_matches (error, FACET_STORE_ERROR, FACET_STORE_ERROR_EXISTS))
        facet_window_error (self, _("The Project Exists Already"),
                            _("Open it instead, or choose another name."), error);
      else
        facet_window_error (self, _("The Project Cannot Be Opened"),
                            _("Check that the file is a Facet project (.facet) and that you may "
                              "read and "
                              "write it and its folder."), error);
      return;
    }
  facet_window_add_recent (self, facet_project_get_path (project));
  set_project (self, project);
  if (self->analyse_on_open)
    {
      self->analyse_on_open = FALSE;
      if (facet_project_get_model_id (project) > 0)
        {
          facet_window_start_analysis (self, facet_project_get_model_id (project), 0);
          /* Started for the coder, not by them: no word when nothing was left. */
          self->analysis_unasked = TRUE;
        }
    }
}

void
facet_window_open_project (FacetWindow *self,
                           const char  *path,
                           gboolean     create,
                           gboolean     analyse)
{
  g_return_if_fail (FACET_IS_WINDOW (self));
  g_return_if_fail (path != NULL);

  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  self->open_cancellable = g_cancellable_new ();
  self->analyse_on_open = analyse;
  facet_project_open_async (path, create, self->open_cancellable, project_opened,
                            g_object_ref (self));
}

void
facet_window_close_project (FacetWindow *self)
{
  g_return_if_fail (FACET_IS_WINDOW (self));
  set_project (self, NULL);
}

/* ---- The demo -------------------------------------------------------------------------------- */

static void
demo_progress (GObject    *source,
               double      fraction,
               const char *message)
{
  FacetWindow *self = FACET_WINDOW (source);

  gtk_progress_bar_set_fraction (self->loading_progress, fraction);
  gtk_progress_bar_set_text (self->loading_progress, message);
}

static void
demo_built (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  FacetWindow *self = FACET_WINDOW (object);
  g_autoptr (GError) error = NULL;
  g_autofree char *project = facet_demo_build_finish (result, &error);

  if (project == NULL)
    {
      gtk_stack_set_visible_child_name (self->main_stack, self->project ? "project" : "start");
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        facet_window_error (self, _("The Demo Project Cannot Be Made"),
                            _("Facet renders the demo videos into your data folder; check that "
                              "there is "
                              "room on the disk and that the folder is writable."), error);
      return;
    }
  facet_window_open_project (self, project, FALSE, TRUE);
}

static void
on_loading_cancel (FacetWindow *self)
{
  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
}

void
facet_window_open_demo (FacetWindow *self,
                        const char  *folder)
{
  g_autofree char *project = NULL;
  g_autofree char *where = NULL;

  g_return_if_fail (FACET_IS_WINDOW (self));

  where = folder ? g_strdup (folder) : facet_demo_default_folder ();
  project = facet_demo_project_path (where);
  if (g_file_test (project, G_FILE_TEST_IS_REGULAR))
    {
      facet_window_open_project (self, project, FALSE, TRUE);
      return;
    }

  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  self->open_cancellable = g_cancellable_new ();
  gtk_progress_bar_set_fraction (self->loading_progress, 0);
  gtk_progress_bar_set_text (self->loading_progress, _("Starting…"));
  adw_status_page_set_title (self->loading_page, _("Preparing the Demo Project"));
  adw_status_page_set_description (self->loading_page,
                                   _("Recording synthetic subjects with known action units. This "
                                     "happens once; the model then analyses them while you look."));
  gtk_stack_set_visible_child_name (self->main_stack, "loading");
  facet_demo_build_async (G_OBJECT (self), "/io/github/facet/Facet/facet-demo.recipe", where,
                          demo_progress, self->open_cancellable, demo_built, NULL);
}

/* ---- Analysis -------------------------------------------------------------------------------- */

static gboolean
start_analysis (FacetWindow *self,
                gint64       model_id,
                gint64       video_id)
{
  g_autofree char *backend = NULL;

  if (self->project == NULL || model_id <= 0)
    return FALSE;
  backend = facet_window_dup_backend (self);
  if (!facet_analysis_start (self->analysis, facet_project_get_path (self->project), model_id,
                             video_id > 0 ? &video_id : NULL, video_id > 0 ? 1 : 0, backend))
    {
      facet_window_toast (self, _("An analysis is running already"));
      return FALSE;
    }
  self->analysis_unasked = FALSE;
  update_notice (self);
  return TRUE;
}

void
facet_window_start_analysis (FacetWindow *self,
                             gint64       model_id,
                             gint64       video_id)
{
  g_return_if_fail (FACET_IS_WINDOW (self));

  if (start_analysis (self, model_id, video_id)
      && model_id != facet_project_get_model_id (self->project))
    facet_project_set_model_id (self->project, model_id);
}

/* The comparison's analysis: the shown model stays. */
void
facet_window_start_compare_analysis (FacetWindow *self,
                                     gint64       model_id,
                                     gint64       video_id)
{
  start_analysis (self, model_id, video_id);
}

static void
on_analysis_progress (FacetAnalysis *analysis,
                      gint64         video_id,
                      FacetWindow   *self)
{
  facet_sidebar_refresh (self->sidebar);
  if (video_id == self->video_id
      && facet_analysis_get_model_id (analysis) == self->compare_model_id)
    facet_window_compare_reload (self);
  if (video_id == self->video_id && facet_analysis_get_model_id (analysis) == self->model_id)
    {
      facet_window_reload_predictions (self);
      if (self->frame_state == NULL || !self->frame_state->analysed)
        facet_window_reload_frame_state (self);
    }
}

/* A map made by occlusion because the video had no calm frame yet (change
 * from neutral asked for, the video not analysed by the model): made again
 * once the analysis has stored the video's predictions. */
static void
redo_neutral_fallback (FacetWindow *self)
{
  const FacetExplanation *x = facet_explainer_get_result (self->explainer);

  if (x == NULL || self->explaining || x->requested != FACET_MAP_NEUTRAL
      || x->method == FACET_MAP_NEUTRAL || x->video_id != self->video_id
      || x->model_id != self->model_id)
    return;
  self->explained_frame = -1;
  maybe_explain (self);
}

static void
on_analysis_finished (FacetAnalysis               *analysis,
                      GError                      *error,
                      const FacetAnalysisProgress *counts,
                      FacetWindow                 *self)
{
  gboolean unasked = self->analysis_unasked;

  self->analysis_unasked = FALSE;
  update_analysis_header (self);
  update_notice (self);
  facet_sidebar_refresh (self->sidebar);
  facet_window_reload_predictions (self);
  facet_window_reload_frame_state (self);
  facet_window_compare_reload (self);
  if (facet_analysis_get_model_id (analysis) == self->model_id)
    redo_neutral_fallback (self);
  if (error == NULL)
    {
      g_autofree char *text = NULL;
      if (counts != NULL && counts->frames_done == 0 && unasked)
        return;
      if (counts != NULL && counts->frames_done == 0)
        text = g_strdup (_("Every frame was analysed already"));
      else
        text = g_strdup_printf (ngettext ("Analysis finished: %d frame",
                                          "Analysis finished: %d frames",
                                          counts ? counts->frames_done : 0),
                                counts ? (int) counts->frames_done : 0);
      facet_window_toast (self, text);
    }
  else if (g_error_matches (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_CANCELLED))
    facet_window_toast (self,
                        _("Analysis stopped; what was done is kept and the next run continues"));
  else
    facet_window_error (self, _("The Analysis Stopped"),
                        _("What was analysed before the problem is kept. Fix the cause and press "
                          "Analyse to continue."), error);
}

/* ---- Timeline and panel callbacks ------------------------------------------------------------ */

static void
on_timeline_seek (FacetWindow *self,
                  gint64       frame)
{
  facet_player_set_playing (self->player, FALSE);
  facet_player_seek (self->player, frame);
}

static void
on_timeline_range_changed (FacetWindow *self)
{
  int lane;
  gint64 first, last;

  if (facet_timeline_get_range (self->timeline, &lane, &first, &last))
    {
      g_autofree char *code = facet_facs_code (self->au_ids[lane]);
      /* TRANSLATORS: hint under the timeline while a range is marked */
      g_autofree char *text = g_strdup_printf (_("%s, frames %d–%d: 1 present, 2 absent, 3 not "
                                                 "codable, "
                                                 "0 clear, Esc cancel"),
                                               code, (int) first, (int) last);
      gtk_label_set_text (self->timeline_hint, text);
    }
  else
    gtk_label_set_text (self->timeline_hint, _("Drag in a lane to mark a range"));
}

static void
on_lane_selected (FacetWindow *self)
{
  int lane = facet_timeline_get_selected_lane (self->timeline);

  if (lane >= 0 && lane != facet_au_panel_get_selected (self->au_panel))
    facet_au_panel_set_selected (self->au_panel, lane);
}

static void
on_panel_selected (FacetWindow *self)
{
  int sel = facet_au_panel_get_selected (self->au_panel);

  if (sel >= 0)
    facet_timeline_set_selected_lane (self->timeline, sel);
  facet_window_update_heatmap (self);
}

static void
on_panel_set_label (FacetWindow *self,
                    int          au,
                    int          state)
{
  if (self->project == NULL || self->video_id == 0)
    return;
  self->edits_in_flight++;
  facet_project_set_labels_async (self->project, self->video_id,
                                  facet_player_get_frame (self->player),
                                  facet_player_get_frame (self->player), au, state,
                                  FACET_LABEL_SOURCE_HUMAN, facet_window_edit_done,
                                  g_object_ref (self));
}

/* ---- Settings -------------------------------------------------------------------------------- */

static gboolean
source_get_mapping (GValue   *value,
                    GVariant *variant,
                    gpointer  user_data)
{
  g_value_set_uint (value, g_str_equal (g_variant_get_string (variant, NULL), "au") ? 1 : 0);
  return TRUE;
}

static GVariant *
source_set_mapping (const GValue       *value,
                    const GVariantType *expected_type,
                    gpointer            user_data)
{
  return g_variant_new_string (g_value_get_uint (value) == 1 ? "au" : "model");
}

static void
on_heatmap_setting (FacetWindow *self)
{
  /* Switching the heat map off stops a slow map being computed. */
  if (!gtk_toggle_button_get_active (self->heatmap_toggle) && self->explaining)
    {
      facet_explainer_clear (self->explainer);
      facet_frame_view_set_heatmap_progress (self->frame_view, -1);
      self->explained_frame = -1;
      self->explaining = FALSE;
    }
  facet_window_update_heatmap (self);
  maybe_explain (self);
}

/* Another method: the maps of the frame on screen are made again. */
static void
on_heatmap_method (FacetWindow *self)
{
  facet_explainer_clear (self->explainer);
  facet_frame_view_set_heatmap_progress (self->frame_view, -1);
  self->explained_frame = -1;
  self->explaining = FALSE;
  on_heatmap_setting (self);
}

static void
on_explain_progress (FacetExplainer *explainer,
                     double          fraction,
                     FacetWindow    *self)
{
  FacetMapMethod method = facet_explainer_get_method (self->settings);

  if (!facet_map_method_is_slow (method))
    return;
  facet_frame_view_set_heatmap_title (self->frame_view, facet_explainer_method_title (method));
  facet_frame_view_set_heatmap_progress (self->frame_view, fraction);
}

static gboolean
on_close_request (GtkWindow *window)
{
  FacetWindow *self = FACET_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  if (facet_analysis_get_running (self->analysis))
    facet_analysis_cancel (self->analysis);
  return GDK_EVENT_PROPAGATE;
}

/* ---- Object ---------------------------------------------------------------------------------- */

static void
facet_window_dispose (GObject *object)
{
  FacetWindow *self = (FacetWindow *) object;

  g_clear_handle_id (&self->poll_source, g_source_remove);
  /* Nothing read for this window is shown or asked again. */
  facet_reload_invalidate (self->frame_reload);
  facet_reload_invalidate (self->probs_reload);
  facet_reload_invalidate (self->lanes_reload);
  facet_reload_invalidate (self->marks_reload);
  facet_reload_invalidate (self->compare_reload);
  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_clear_object (&self->project);
  if (self->player != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->player, self);
      facet_player_close (self->player);
    }
  g_clear_object (&self->player);
  if (self->explainer != NULL)
    g_signal_handlers_disconnect_by_data (self->explainer, self);
  g_clear_object (&self->explainer);
  if (self->analysis != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->analysis, self);
      facet_analysis_cancel (self->analysis);
    }
  g_clear_object (&self->analysis);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->frame_state, facet_frame_state_free);
  g_clear_pointer (&self->review_seen, g_hash_table_unref);
  g_clear_pointer (&self->au_ids, g_free);
  g_clear_pointer (&self->thresholds, g_free);
  g_clear_pointer (&self->au_model, g_free);
  g_clear_pointer (&self->aus_signature, g_free);
  g_clear_pointer (&self->events, g_array_unref);
  g_clear_pointer (&self->notes, g_ptr_array_unref);
  g_clear_pointer (&self->model_path, g_free);
  g_clear_pointer (&self->last_toast, g_free);
  g_clear_pointer (&self->compare_counts, g_array_unref);
  if (self->au_typed != NULL)
    g_string_free (g_steal_pointer (&self->au_typed), TRUE);
  gtk_widget_dispose_template (GTK_WIDGET (self), FACET_TYPE_WINDOW);
  G_OBJECT_CLASS (facet_window_parent_class)->dispose (object);
}

static void
facet_window_finalize (GObject *object)
{
  FacetWindow *self = (FacetWindow *) object;

  g_clear_pointer (&self->frame_reload, facet_reload_free);
  g_clear_pointer (&self->probs_reload, facet_reload_free);
  g_clear_pointer (&self->lanes_reload, facet_reload_free);
  g_clear_pointer (&self->marks_reload, facet_reload_free);
  g_clear_pointer (&self->compare_reload, facet_reload_free);
  G_OBJECT_CLASS (facet_window_parent_class)->finalize (object);
}

static void
facet_window_class_init (FacetWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = facet_window_dispose;
  object_class->finalize = facet_window_finalize;
  window_class->close_request = on_close_request;

  g_type_ensure (FACET_TYPE_AU_PANEL);
  g_type_ensure (FACET_TYPE_FRAME_VIEW);
  g_type_ensure (FACET_TYPE_SIDEBAR);
  g_type_ensure (FACET_TYPE_TIMELINE);
  g_type_ensure (FACET_TYPE_TRANSPORT);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-window.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, add_button);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, analyse_button);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, analysis_button);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, analysis_label);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, analysis_percent);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, analysis_progress);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, analysis_spinner);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, au_panel);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, box_toggle);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, demo_button);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, empty_page);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, frame_view);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, heatmap_source);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, heatmap_toggle);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, landmarks_toggle);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, loading_page);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, loading_progress);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, main_paned);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, opacity_adjustment);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, opacity_scale);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, flap);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, overlay_bar);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, recent_group);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, recent_list);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, review_button);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, sidebar_button);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, start_page);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, timeline);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, timeline_hint);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, timeline_hscroll);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, timeline_vscroll);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, top_paned);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, transport);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, undo_box);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, window_title);
  gtk_widget_class_bind_template_callback (widget_class, on_loading_cancel);
  gtk_widget_class_bind_template_callback (widget_class, on_panel_set_label);
  gtk_widget_class_bind_template_callback (widget_class, on_timeline_range_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_timeline_seek);
  gtk_widget_class_bind_template_callback (widget_class, on_video_selected);

  facet_window_class_init_actions (widget_class);
  facet_window_class_init_marks (widget_class);
  facet_window_class_init_coding (widget_class);
  facet_window_class_init_compare (widget_class);
}

static void
facet_window_init (FacetWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->video_id = 0;
  self->pending_frame = -1;
  self->explained_frame = -1;
  self->in_point = -1;
  self->review_seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->au_typed = g_string_new (NULL);
  self->frame_reload = facet_reload_new (G_OBJECT (self), frame_state_start, frame_state_done);
  self->probs_reload = facet_reload_new (G_OBJECT (self), predictions_start, predictions_done);
  self->lanes_reload = facet_reload_new (G_OBJECT (self), segments_start, segments_done);

  self->settings = g_settings_new ("io.github.facet.Facet");
  gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (self->settings,
                                                                      "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  if (FACET_DEVELOPMENT)
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");

  /* Overlays: the toggles drive the frame view and are remembered. */
  g_settings_bind (self->settings, "show-face-box", self->box_toggle, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-landmarks", self->landmarks_toggle, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-heatmap", self->heatmap_toggle, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "heatmap-opacity", self->opacity_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "heatmap-source", self->heatmap_source, "selected",
                                G_SETTINGS_BIND_DEFAULT, source_get_mapping, source_set_mapping,
                                NULL, NULL);
  g_object_bind_property (self->box_toggle, "active", self->frame_view, "show-box",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->landmarks_toggle, "active", self->frame_view, "show-landmarks",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->heatmap_toggle, "active", self->frame_view, "show-heatmap",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->heatmap_toggle, "active", self->heatmap_source, "sensitive",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->heatmap_toggle, "active", self->opacity_scale, "sensitive",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->opacity_adjustment, "value", self->frame_view, "heatmap-opacity",
                          G_BINDING_SYNC_CREATE);
  /* The button shows and hides the videos; a narrow window folds them
   * over the work and hides them (AdwFlap does both). */
  g_object_bind_property (self->sidebar_button, "active", self->flap, "reveal-flap",
                          G_BINDING_SYNC_CREATE | G_BINDING_BIDIRECTIONAL);
  g_signal_connect_swapped (self->settings, "changed::show-heatmap",
                            G_CALLBACK (on_heatmap_setting), self);
  g_signal_connect_swapped (self->settings, "changed::heatmap-source",
                            G_CALLBACK (on_heatmap_setting), self);
  g_signal_connect_swapped (self->settings, "changed::heatmap-method",
                            G_CALLBACK (on_heatmap_method), self);
  {
    /* win.heatmap-method: the per-AU map's method, stored in GSettings */
    g_autoptr (GAction) action = g_settings_create_action (self->settings, "heatmap-method");
    g_action_map_add_action (G_ACTION_MAP (self), action);
  }
  g_signal_connect_swapped (self->settings, "changed::coder-name", G_CALLBACK (on_coder_setting),
                            self);
  g_signal_connect_swapped (self->settings, "changed::threshold", G_CALLBACK (update_thresholds),
                            self);
  g_signal_connect_swapped (self->settings, "changed::use-model-thresholds",
                            G_CALLBACK (update_thresholds),
                            self);
  g_signal_connect_swapped (self->settings, "changed::recent-projects", G_CALLBACK (update_recent),
                            self);

  self->player = facet_player_new ();
  g_signal_connect_swapped (self->player, "notify::frame", G_CALLBACK (on_frame_changed), self);
  g_signal_connect (self->player, "frame-shown", G_CALLBACK (on_frame_shown), self);
  g_signal_connect_swapped (self->player, "opened", G_CALLBACK (on_player_opened), self);
  g_signal_connect (self->player, "error", G_CALLBACK (on_player_error), self);
  g_signal_connect_swapped (self->player, "notify::playing",
                            G_CALLBACK (facet_window_update_actions), self);
  facet_transport_set_player (self->transport, self->player);

  self->explainer = facet_explainer_new ();
  g_signal_connect (self->explainer, "ready", G_CALLBACK (on_explained), self);
  g_signal_connect (self->explainer, "failed", G_CALLBACK (on_explain_failed), self);
  g_signal_connect (self->explainer, "progress", G_CALLBACK (on_explain_progress), self);

  self->analysis = facet_analysis_new ();
  g_signal_connect_swapped (self->analysis, "notify::running", G_CALLBACK (update_analysis_header),
                            self);
  g_signal_connect_swapped (self->analysis, "notify::fraction", G_CALLBACK (update_analysis_header),
                            self);
  g_signal_connect_swapped (self->analysis, "notify::text", G_CALLBACK (update_analysis_header),
                            self);
  g_signal_connect (self->analysis, "progress", G_CALLBACK (on_analysis_progress), self);
  g_signal_connect (self->analysis, "finished", G_CALLBACK (on_analysis_finished), self);

  gtk_scrollbar_set_adjustment (self->timeline_hscroll,
                                facet_timeline_get_hadjustment (self->timeline));
  gtk_scrollbar_set_adjustment (self->timeline_vscroll,
                                facet_timeline_get_vadjustment (self->timeline));
  g_signal_connect_swapped (self->timeline, "notify::selected-lane", G_CALLBACK (on_lane_selected),
                            self);
  g_signal_connect_swapped (self->au_panel, "notify::selected", G_CALLBACK (on_panel_selected),
                            self);

  facet_window_init_shortcuts (self);
  facet_window_init_marks (self);
  facet_window_init_coding (self);
  facet_window_init_compare (self);
  facet_window_init_dnd (self);
  update_recent (self);
  on_model_changed (self);
  update_analysis_header (self);
}

FacetWindow *
facet_window_new (AdwApplication *application)
{
  return g_object_new (FACET_TYPE_WINDOW, "application", application, NULL);
}
