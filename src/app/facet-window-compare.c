/* facet-window-compare.c — a second model's probabilities in the timeline
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * After fine-tuning a coder wants to see where the new model and its
 * parent (or any other model of the project) part ways on a video. The
 * timeline's "Compare" menu (Ctrl+M) picks a second model; every lane then
 * shows its probability as a dashed orange line over the shown model's
 * blue curve, and the frames where the two disagree at their thresholds
 * are shaded. Every lane, not only the selected AU's: the shading is what
 * lets a coder find in which AUs the models differ at all, and one dashed
 * line without a band still reads in a 44-pixel lane. Ctrl+Shift+M goes
 * to the next such stretch of the selected AU.
 *
 * The choice is remembered per project file ("compare-models", as
 * "independent-projects" remembers independent coding). When the second
 * model has not analysed the video (or only part of it) the bar under the
 * timeline's header says so, naming the model, and offers to analyse the
 * video with it through the window's ordinary analysis.
 */
#define G_LOG_DOMAIN "facet-window"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-facs.h"
#include "facet-timeline.h"
#include "facet-window-private.h"

/* Colours of the timeline's curves, for the legend (facet-timeline.c). */
#define FIRST_COLOUR  "#1c71d8"
#define SECOND_COLOUR "#e66100"

static FacetStoreModel *
compare_model (FacetWindow *self)
{
  FacetStoreModel *m;

  if (self->project == NULL || self->compare_model_id == 0
      || self->compare_model_id == self->model_id)
    return NULL;
  m = facet_project_find_model (self->project, self->compare_model_id);
  return m != NULL && m->n_aus > 0 ? m : NULL;
}

static const char *
model_name (const FacetStoreModel *m)
{
  return m->name != NULL && m->name[0] != '\0' ? m->name : m->file;
}

/* Frames of the video shown that @model_id analysed, -1 when not counted yet. */
static gint64
analysed_frames (FacetWindow *self,
                 gint64       model_id)
{
  for (guint i = 0; self->compare_counts != NULL && i + 1 < self->compare_counts->len; i += 2)
    if (g_array_index (self->compare_counts, gint64, i) == model_id)
      return g_array_index (self->compare_counts, gint64, i + 1);
  return -1;
}

/* Models that predict AUs (a pre-trained encoder has no AU outputs). */
static gboolean
predicts_aus (const FacetStoreModel *m)
{
  return m->n_aus > 0 && !g_str_equal (facet_store_model_kind (m), "pre-trained");
}

/* ---- Persistence ----------------------------------------------------------------------------- */

static gint64
stored_choice (FacetWindow *self)
{
  g_autoptr (GVariant) dict = NULL;
  gint64 id = 0;

  if (self->project == NULL)
    return 0;
  dict = g_settings_get_value (self->settings, "compare-models");
  if (!g_variant_lookup (dict, facet_project_get_path (self->project), "x", &id))
    return 0;
  return id;
}

static void
store_choice (FacetWindow *self,
              gint64       model_id)
{
  g_autoptr (GVariant) dict = NULL;
  GVariantBuilder builder;
  GVariantIter iter;
  const char *path, *key;
  gint64 id;

  if (self->project == NULL || stored_choice (self) == model_id)
    return;
  path = facet_project_get_path (self->project);
  dict = g_settings_get_value (self->settings, "compare-models");
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sx}"));
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sx}", &key, &id))
    if (!g_str_equal (key, path))
      g_variant_builder_add (&builder, "{sx}", key, id);
  if (model_id > 0)
    g_variant_builder_add (&builder, "{sx}", path, model_id);
  g_settings_set_value (self->settings, "compare-models", g_variant_builder_end (&builder));
}

/* ---- The menu, the legend and the bar -------------------------------------------------------- */

static void
update_menu (FacetWindow *self)
{
  g_autoptr (GMenu) menu = g_menu_new ();
  g_autoptr (GMenu) ready = g_menu_new ();
  g_autoptr (GMenu) missing = g_menu_new ();
  GPtrArray *models = self->project ? facet_project_get_models (self->project) : NULL;
  FacetStoreModel *shown = self->project ? facet_project_get_model (self->project) : NULL;

  g_menu_append (ready, _("None"), "compare.model(int64 0)");
  for (guint i = 0; models != NULL && i < models->len; i++)
    {
      FacetStoreModel *m = g_ptr_array_index (models, i);
      g_autofree char *action = NULL, *label = NULL;
      gint64 n;

      if (m->id == self->model_id || !predicts_aus (m))
        continue;
      action = g_strdup_printf ("compare.model(int64 %" G_GINT64_FORMAT ")", m->id);
      n = analysed_frames (self, m->id);
      /* The comparison fine-tuning asks for: the model it started from. */
      if (shown != NULL && m->id == shown->parent_id)
        /* TRANSLATORS: Compare menu: a model's name */
        label = g_strdup_printf (_("%s (the shown model’s parent)"), model_name (m));
      else if (shown != NULL && m->parent_id == shown->id)
        /* TRANSLATORS: Compare menu: a model's name */
        label = g_strdup_printf (_("%s (fine-tuned from the shown model)"), model_name (m));
      g_menu_append (n == 0 ? missing : ready, label ? label : model_name (m), action);
    }
  g_menu_append_section (menu, NULL, G_MENU_MODEL (ready));
  if (g_menu_model_get_n_items (G_MENU_MODEL (missing)) > 0)
    g_menu_append_section (menu, _("Not analysed for this video"), G_MENU_MODEL (missing));
  gtk_menu_button_set_menu_model (self->compare_button, G_MENU_MODEL (menu));
}

static char *
legend_markup (const char *colour,
               const char *stroke,
               const char *name)
{
  return g_markup_printf_escaped ("<span foreground=\"%s\" weight=\"bold\">%s</span> %s", colour,
                                  stroke, name);
}

/* How many frames of the selected AU (and of every AU) the models disagree on. */
static char *
summary_text (FacetWindow *self)
{
  int lane = facet_timeline_get_selected_lane (self->timeline);
  gint64 here = 0, all = 0;
  g_autofree char *code = NULL, *first = NULL, *second = NULL;

  for (int i = 0; i < self->n_aus; i++)
    {
      guint n;
      const FacetLabelSegment *runs = facet_timeline_get_compare_runs (self->timeline, i, &n);

      for (guint k = 0; k < n; k++)
        {
          all += runs[k].last - runs[k].first + 1;
          if (i == lane)
            here += runs[k].last - runs[k].first + 1;
        }
    }
  if (lane < 0 || lane >= self->n_aus)
    return NULL;
  code = facet_facs_code (self->au_ids[lane]);
  /* TRANSLATORS: %s is an AU code ("AU12"), %d a number of frames */
  first = g_strdup_printf (ngettext ("%s: the models disagree on %d frame",
                                     "%s: the models disagree on %d frames", (gulong) here),
                           code, (int) here);
  second = g_strdup_printf (ngettext ("%d in all AUs", "%d in all AUs", (gulong) all), (int) all);
  return g_strdup_printf ("%s (%s)", first, second);
}

/* The second model's probabilities at the frame, beside the first's in
 * the AU panel. */
static void
update_panel (FacetWindow *self)
{
  FacetTimelineData *other = facet_timeline_get_compare (self->timeline);
  FacetStoreModel *m = compare_model (self);
  gint64 frame = facet_player_get_frame (self->player);
  int n = facet_au_panel_get_n_aus (self->au_panel);
  g_autofree float *p = NULL, *t = NULL;

  if (other == NULL || m == NULL || self->blind || facet_timeline_data_get_n_lanes (other) != n)
    {
      facet_au_panel_set_compare (self->au_panel, NULL, NULL, NULL);
      return;
    }
  p = g_new (float, MAX (n, 1));
  t = g_new (float, MAX (n, 1));
  for (int i = 0; i < n; i++)
    {
      gboolean inside = frame >= 0 && frame < facet_timeline_data_get_n_frames (other);

      p[i] = inside ? facet_timeline_data_get_value (other, i, frame) : NAN;
      t[i] = facet_timeline_data_get_threshold (other, i);
    }
  facet_au_panel_set_compare (self->au_panel, model_name (m), p, t);
}

void
facet_window_compare_frame_changed (FacetWindow *self)
{
  update_panel (self);
}

/* The bar under the timeline's header: both names, the legend, how much
 * they disagree, and what is missing. */
static void
update_bar (FacetWindow *self)
{
  FacetStoreModel *m = compare_model (self);
  FacetStoreModel *shown = self->project ? facet_project_get_model (self->project) : NULL;
  FacetStoreVideo *v = self->project ? facet_project_get_video (self->project, self->video_id)
                                     : NULL;
  gboolean running = facet_analysis_get_running (self->analysis);
  g_autofree char *a = NULL, *b = NULL, *text = NULL, *tip = NULL;
  gint64 n;

  /* Blind coding hides every prediction, the second model's too. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->compare_button), !self->blind);
  if (self->blind)
    m = NULL;
  gtk_widget_set_visible (self->compare_bar, m != NULL && shown != NULL && v != NULL);
  update_panel (self);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.compare-next",
                                 m != NULL && shown != NULL && v != NULL);
  if (m == NULL || shown == NULL || v == NULL)
    {
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.compare-analyse", FALSE);
      return;
    }
  a = legend_markup (FIRST_COLOUR, "━━", model_name (shown));
  b = legend_markup (SECOND_COLOUR, "╍╍", model_name (m));
  gtk_label_set_markup (self->compare_first, a);
  gtk_label_set_markup (self->compare_second, b);

  n = analysed_frames (self, m->id);
  if (n == 0 && running && facet_analysis_get_model_id (self->analysis) == m->id)
    /* TRANSLATORS: %s is a model's name */
    text = g_strdup_printf (_("“%s” is analysing this video"), model_name (m));
  else if (n == 0 && running)
    /* TRANSLATORS: %s is a model's name */
    text = g_strdup_printf (_("“%s” has not analysed this video; it can once the running "
                              "analysis ends"), model_name (m));
  else if (n == 0)
    /* TRANSLATORS: %s is a model's name */
    text = g_strdup_printf (_("“%s” has not analysed this video"), model_name (m));
  else if (n > 0 && n < v->n_frames)
    {
      g_autofree char *rest = summary_text (self);
      /* TRANSLATORS: %s a model's name, then frames analysed of all frames, then the summary */
      text = g_strdup_printf (_("“%s” has analysed %d of %d frames · %s"), model_name (m), (int) n,
                              (int) v->n_frames, rest ? rest : "");
    }
  else
    text = summary_text (self);
  gtk_label_set_text (self->compare_summary, text ? text : "");
  /* TRANSLATORS: %s is a model's name */
  tip = g_strdup_printf (_("Analyse this video with “%s”"), model_name (m));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->compare_analyse), tip);
  gtk_widget_set_visible (GTK_WIDGET (self->compare_analyse), n >= 0 && n < v->n_frames);
  /* Nothing to step to before the second model has a curve. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.compare-next", n != 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.compare-analyse",
                                 n >= 0 && n < v->n_frames && !running);
}

/* ---- Loading --------------------------------------------------------------------------------- */

typedef struct
{
  gint64  video_id;
  gint64  model_id;  /* 0: only the counts */
  gint64  first;
  GArray *model_ids; /* gint64: models to count the analysed frames of */
} CompareQuery;

typedef struct
{
  GArray             *counts; /* gint64 pairs: model id, analysed frames */
  FacetPredictionSet *set;    /* NULL without a model */
} CompareAnswer;

static void
compare_query_free (gpointer data)
{
  CompareQuery *q = data;

  g_array_unref (q->model_ids);
  g_free (q);
}

static void
compare_answer_free (gpointer data)
{
  CompareAnswer *a = data;

  g_clear_pointer (&a->counts, g_array_unref);
  g_clear_pointer (&a->set, facet_prediction_set_free);
  g_free (a);
}

static gpointer
compare_job (FacetStore   *store,
             gpointer      data,
             GCancellable *cancellable,
             GError      **error)
{
  CompareQuery *q = data;
  CompareAnswer *a = g_new0 (CompareAnswer, 1);

  a->counts = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < q->model_ids->len; i++)
    {
      gint64 id = g_array_index (q->model_ids, gint64, i);
      gint64 n = facet_store_count_analysed (store, id, q->video_id, error);

      if (n < 0)
        {
          compare_answer_free (a);
          return NULL;
        }
      g_array_append_val (a->counts, id);
      g_array_append_val (a->counts, n);
    }
  if (q->model_id > 0)
    {
      a->set = facet_store_get_predictions (store, q->model_id, q->video_id, q->first, -1, error);
      if (a->set == NULL)
        {
          compare_answer_free (a);
          return NULL;
        }
    }
  return a;
}

static gboolean
compare_start (GObject             *owner,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  FacetWindow *self = FACET_WINDOW (owner);
  FacetTimelineData *other = facet_timeline_get_compare (self->timeline);
  GPtrArray *models;
  CompareQuery *q;

  if (self->project == NULL || self->video_id == 0)
    return FALSE;
  q = g_new0 (CompareQuery, 1);
  q->video_id = self->video_id;
  q->model_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  models = facet_project_get_models (self->project);
  for (guint i = 0; i < models->len; i++)
    {
      FacetStoreModel *m = g_ptr_array_index (models, i);

      if (predicts_aus (m))
        g_array_append_val (q->model_ids, m->id);
    }
  /* Only the frames the timeline lacks, as for the shown model. */
  if (other != NULL && compare_model (self) != NULL
      && facet_timeline_data_first_unknown (other) < facet_timeline_data_get_n_frames (other))
    {
      q->model_id = self->compare_model_id;
      q->first = facet_timeline_data_first_unknown (other);
    }
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, compare_job, q, compare_query_free,
                     compare_answer_free, cancellable, callback, user_data);
  return TRUE;
}

/* The set's rows into the lanes: lane i holds the set's output for the
 * lane's AU, NAN where the second model does not predict it. */
static void
take_predictions (FacetWindow        *self,
                  FacetTimelineData  *other,
                  FacetPredictionSet *set)
{
  g_autofree int *k = g_new (int, MAX (self->n_aus, 1));
  g_autofree float *values = g_new (float, MAX (set->n * (gsize) self->n_aus, 1));

  for (int i = 0; i < self->n_aus; i++)
    {
      k[i] = -1;
      for (int j = 0; j < set->n_aus && !facet_window_scheme_is_hand_coded (self, i); j++)
        if (set->au_ids[j] == self->au_ids[i])
          k[i] = j;
    }
  for (gsize r = 0; r < set->n; r++)
    for (int i = 0; i < self->n_aus; i++)
      values[r * self->n_aus + i] = k[i] >= 0 ? set->probs[r * set->n_aus + k[i]] : NAN;
  facet_timeline_data_set_values (other, set->frames, values, set->n);
}

static void
compare_done (GObject      *owner,
              GObject      *object,
              GAsyncResult *result)
{
  FacetWindow *self = FACET_WINDOW (owner);
  g_autoptr (GError) error = NULL;
  CompareAnswer *a = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  FacetTimelineData *other = facet_timeline_get_compare (self->timeline);

  if (a == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        facet_window_toast (self, error->message);
      return;
    }
  g_clear_pointer (&self->compare_counts, g_array_unref);
  self->compare_counts = g_steal_pointer (&a->counts);
  if (a->set != NULL && other != NULL && a->set->n > 0)
    {
      take_predictions (self, other, a->set);
      facet_timeline_data_changed (self->timeline);
    }
  compare_answer_free (a);
  update_menu (self);
  update_bar (self);
}

void
facet_window_compare_update (FacetWindow *self)
{
  update_bar (self);
}

void
facet_window_compare_reload (FacetWindow *self)
{
  facet_reload_request (self->compare_reload);
}

/* ---- Choosing -------------------------------------------------------------------------------- */

void
facet_window_compare_reset (FacetWindow *self)
{
  FacetStoreModel *m = compare_model (self);
  FacetStoreModel *shown = self->project ? facet_project_get_model (self->project) : NULL;
  FacetTimelineData *data = facet_timeline_get_data (self->timeline);
  gboolean model_thresholds = g_settings_get_boolean (self->settings, "use-model-thresholds");
  float common = (float) g_settings_get_double (self->settings, "threshold");
  FacetTimelineData *other = NULL;

  /* Counts and predictions asked for the former video or model are dropped. */
  facet_reload_invalidate (self->compare_reload);
  if (m != NULL && shown != NULL && data != NULL
      && facet_timeline_data_get_n_lanes (data) == self->n_aus)
    {
      other = facet_timeline_data_new (facet_timeline_data_get_n_frames (data), self->n_aus);
      for (int i = 0; i < self->n_aus; i++)
        {
          int k = facet_window_scheme_is_hand_coded (self, i)
                    ? -1 : facet_store_model_find_au (m, self->au_ids[i]);
          float t = k < 0 ? NAN : !model_thresholds ? common
                    : m->thresholds != NULL ? m->thresholds[k] : 0.5f;

          facet_timeline_data_set_threshold (other, i, t);
        }
    }
  if (data != NULL)
    facet_timeline_set_compare (self->timeline, other, shown ? model_name (shown) : NULL,
                                m ? model_name (m) : NULL);
  update_menu (self);
  update_bar (self);
  facet_window_compare_reload (self);
}

static void
on_compare_model (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  FacetWindow *self = FACET_WINDOW (user_data);
  gint64 id = g_variant_get_int64 (parameter);

  if (id != 0 && (self->project == NULL || facet_project_find_model (self->project, id) == NULL))
    return;
  g_simple_action_set_state (action, parameter);
  self->compare_model_id = id;
  store_choice (self, id);
  facet_window_compare_reset (self);
}

void
facet_window_compare_watch_project (FacetWindow *self)
{
  self->compare_model_id = stored_choice (self);
  g_clear_pointer (&self->compare_counts, g_array_unref);
  g_simple_action_set_state (self->compare_action, g_variant_new_int64 (self->compare_model_id));
  update_menu (self);
  update_bar (self);
}

/* ---- Actions --------------------------------------------------------------------------------- */

static void
act_compare_menu (GtkWidget  *widget,
                  const char *name,
                  GVariant   *parameter)
{
  FacetWindow *self = FACET_WINDOW (widget);

  if (self->project != NULL && gtk_widget_is_visible (GTK_WIDGET (self->compare_button))
      && !self->blind)
    gtk_menu_button_popup (self->compare_button);
}

/* The next stretch of the selected AU where the models disagree (from the
 * start of the video after the last one). */
static void
act_compare_next (GtkWidget  *widget,
                  const char *name,
                  GVariant   *parameter)
{
  FacetWindow *self = FACET_WINDOW (widget);
  int lane = facet_timeline_get_selected_lane (self->timeline);
  gint64 frame = facet_player_get_frame (self->player);
  const FacetLabelSegment *runs;
  guint n;

  runs = facet_timeline_get_compare_runs (self->timeline, lane, &n);
  if (n == 0)
    {
      g_autofree char *code = lane >= 0 && lane < self->n_aus ? facet_facs_code (self->au_ids[lane])
                                                              : g_strdup ("");
      /* TRANSLATORS: %s is an AU code */
      g_autofree char *text = g_strdup_printf (_("The models agree on %s throughout"), code);
      facet_window_toast (self, text);
      return;
    }
  for (guint i = 0; i < n; i++)
    if (runs[i].first > frame)
      {
        facet_player_seek (self->player, runs[i].first);
        return;
      }
  facet_player_seek (self->player, runs[0].first);
}

static void
act_compare_analyse (GtkWidget  *widget,
                     const char *name,
                     GVariant   *parameter)
{
  FacetWindow *self = FACET_WINDOW (widget);
  FacetStoreModel *m = compare_model (self);

  if (m == NULL || self->video_id == 0)
    return;
  facet_window_start_compare_analysis (self, m->id, self->video_id);
  update_bar (self);
}

static void
on_selected_lane (FacetWindow *self)
{
  /* Only the summary names the selected AU. */
  if (gtk_widget_get_visible (self->compare_bar))
    update_bar (self);
}

void
facet_window_init_compare (FacetWindow *self)
{
  GSimpleActionGroup *group = g_simple_action_group_new ();
  g_autoptr (GSimpleAction) model = g_simple_action_new_stateful ("model", G_VARIANT_TYPE_INT64,
                                                                  g_variant_new_int64 (0));

  g_signal_connect (model, "activate", G_CALLBACK (on_compare_model), self);
  g_action_map_add_action (G_ACTION_MAP (group), G_ACTION (model));
  self->compare_action = model; /* the group holds it */
  gtk_widget_insert_action_group (GTK_WIDGET (self), "compare", G_ACTION_GROUP (group));
  g_object_unref (group);
  self->compare_reload = facet_reload_new (G_OBJECT (self), compare_start, compare_done);
  g_signal_connect_swapped (self->timeline, "notify::selected-lane", G_CALLBACK (on_selected_lane),
                            self);
  g_signal_connect_swapped (self->analysis, "notify::running", G_CALLBACK (update_bar), self);
  g_signal_connect_swapped (self->settings, "changed::blind-coding", G_CALLBACK (update_bar), self);
  g_signal_connect_swapped (self->settings, "changed::threshold",
                            G_CALLBACK (facet_window_compare_reset), self);
  g_signal_connect_swapped (self->settings, "changed::use-model-thresholds",
                            G_CALLBACK (facet_window_compare_reset), self);
  update_menu (self);
  update_bar (self);
}

void
facet_window_class_init_compare (GtkWidgetClass *widget_class)
{
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, compare_analyse);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, compare_bar);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, compare_button);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, compare_first);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, compare_second);
  gtk_widget_class_bind_template_child (widget_class, FacetWindow, compare_summary);
  gtk_widget_class_install_action (widget_class, "win.compare-menu", NULL, act_compare_menu);
  gtk_widget_class_install_action (widget_class, "win.compare-next", NULL, act_compare_next);
  gtk_widget_class_install_action (widget_class, "win.compare-analyse", NULL, act_compare_analyse);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK,
                                       "win.compare-menu", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.compare-next", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_M, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.compare-next", NULL);
}
