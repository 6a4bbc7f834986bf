/* facet-sidebar.c — videos by subject, progress, the model shown
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-sidebar"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "core/facet-core.h"

#include "facet-reload.h"
#include "facet-sidebar.h"

struct _FacetSidebar
{
  GtkWidget     parent_instance;

  GtkWidget    *box;
  GtkStack     *stack;
  GtkListBox   *list;
  GtkDropDown  *model_dropdown;
  GtkLabel     *model_metrics;

  FacetProject *project;
  GHashTable   *rows;          /* video id -> GtkListBoxRow */
  gint64        selected;
  gboolean      rebuilding;
  gboolean      updating_models;
  guint         refresh_source;
  FacetReload  *stats_reload;  /* the progress figures of every video */
};

G_DEFINE_FINAL_TYPE (FacetSidebar, facet_sidebar, GTK_TYPE_WIDGET)

enum {
  VIDEO_SELECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- Progress figures ------------------------------------------------------------------------ */

typedef struct
{
  gint64 video_id;
  gint64 n_frames;
  gint64 analysed;
  gint64 labelled;
} VideoStats;

typedef struct
{
  gint64  model_id;
  int     n_aus;    /* of the model: a frame is coded when each has a label */
  int    *au_ids;
  GArray *videos; /* VideoStats, in: id and n_frames; out: counts */
} StatsJob;

static void
stats_job_free (gpointer data)
{
  StatsJob *j = data;

  g_clear_pointer (&j->videos, g_array_unref);
  g_free (j->au_ids);
  g_free (j);
}

/* Frames with a label for every AU of the model (any label without a
 * model): a frame with one AU coded of twelve is not coded. */
static gboolean
count_coded (FacetStore *store,
             StatsJob   *j,
             VideoStats *s,
             GError    **error)
{
  g_autofree guint16 *count = NULL;

  if (j->n_aus == 0)
    {
      g_autoptr (GArray) frames = facet_store_get_labelled_frames (store, s->video_id, 0, error);
      if (frames == NULL)
        return FALSE;
      s->labelled = frames->len;
      return TRUE;
    }
  count = g_new0 (guint16, MAX (s->n_frames, 1));
  for (int a = 0; a < j->n_aus; a++)
    {
      g_autoptr (GArray) frames = facet_store_get_labelled_frames (store, s->video_id,
                                                                   j->au_ids[a], error);
      if (frames == NULL)
        return FALSE;
      for (guint i = 0; i < frames->len; i++)
        {
          gint64 f = g_array_index (frames, gint64, i);
          if (f >= 0 && f < s->n_frames)
            count[f]++;
        }
    }
  s->labelled = 0;
  for (gint64 f = 0; f < s->n_frames; f++)
    s->labelled += count[f] >= j->n_aus;
  return TRUE;
}

static gpointer
stats_job (FacetStore   *store,
           gpointer      data,
           GCancellable *cancellable,
           GError      **error)
{
  StatsJob *j = data;
  GArray *out = g_array_copy (j->videos);

  for (guint i = 0; i < out->len; i++)
    {
      VideoStats *s = &g_array_index (out, VideoStats, i);
      if (j->model_id > 0)
        {
          s->analysed = facet_store_count_analysed (store, j->model_id, s->video_id, error);
          if (s->analysed < 0)
            goto failed;
        }
      if (!count_coded (store, j, s, error))
        goto failed;
    }
  return out;

failed:
  g_array_unref (out);
  return NULL;
}

static void
stats_done (GObject      *owner,
            GObject      *object,
            GAsyncResult *result)
{
  FacetSidebar *self = FACET_SIDEBAR (owner);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) stats = facet_project_run_finish (FACET_PROJECT (object), result, &error);

  if (stats == NULL)
    {
      g_warning ("cannot read the progress of the videos: %s", error->message);
      return;
    }
  for (guint i = 0; i < stats->len; i++)
    {
      const VideoStats *s = &g_array_index (stats, VideoStats, i);
      GtkWidget *row = g_hash_table_lookup (self->rows, &s->video_id);
      GtkProgressBar *bar;
      GtkLabel *progress;
      g_autofree char *text = NULL;
      double analysed = s->n_frames > 0 ? (double) s->analysed / s->n_frames : 0;
      double coded = s->n_frames > 0 ? (double) s->labelled / s->n_frames : 0;

      if (row == NULL)
        continue;
      bar = g_object_get_data (G_OBJECT (row), "bar");
      progress = g_object_get_data (G_OBJECT (row), "progress");
      gtk_progress_bar_set_fraction (bar, CLAMP (analysed, 0, 1));
      /* TRANSLATORS: sidebar progress of a video: share analysed by the model, share of frames
       * with a label for every AU */
      text = g_strdup_printf (_("Analysed %.0f %% · fully coded %.0f %%"), 100 * analysed,
                              100 * coded);
      gtk_label_set_text (progress, text);
      gtk_accessible_update_property (GTK_ACCESSIBLE (bar), GTK_ACCESSIBLE_PROPERTY_VALUE_TEXT,
                                      text, -1);
    }
}

static gboolean
stats_start (GObject             *owner,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  FacetSidebar *self = FACET_SIDEBAR (owner);
  StatsJob *j;
  GPtrArray *videos;
  FacetStoreModel *m;

  if (self->project == NULL)
    return FALSE;
  videos = facet_project_get_videos (self->project);
  j = g_new0 (StatsJob, 1);
  j->model_id = facet_project_get_model_id (self->project);
  if ((m = facet_project_get_model (self->project)) != NULL)
    {
      int n_scheme = 0;
      const int *scheme = facet_project_get_scheme (self->project, &n_scheme);
      GArray *aus = g_array_new (FALSE, FALSE, sizeof (int));

      /* Fully coded: every AU of the lab's scheme, the model's and the hand-coded ones. */
      g_array_append_vals (aus, m->au_ids, (guint) m->n_aus);
      for (int i = 0; scheme != NULL && i < n_scheme; i++)
        if (facet_store_model_find_au (m, scheme[i]) < 0)
          g_array_append_val (aus, scheme[i]);
      j->n_aus = (int) aus->len;
      j->au_ids = (int *) (void *) g_array_free (aus, FALSE);
    }
  j->videos = g_array_new (FALSE, TRUE, sizeof (VideoStats));
  for (guint i = 0; i < videos->len; i++)
    {
      FacetStoreVideo *v = g_ptr_array_index (videos, i);
      VideoStats s = { v->id, v->n_frames, 0, 0 };
      g_array_append_val (j->videos, s);
    }
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, stats_job, j, stats_job_free,
                     (GDestroyNotify) g_array_unref, cancellable, callback, user_data);
  return TRUE;
}

static void
refresh_now (FacetSidebar *self)
{
  facet_reload_request (self->stats_reload);
}

static gboolean
refresh_timeout (gpointer data)
{
  FacetSidebar *self = data;

  self->refresh_source = 0;
  refresh_now (self);
  return G_SOURCE_REMOVE;
}

void
facet_sidebar_refresh (FacetSidebar *self)
{
  g_return_if_fail (FACET_IS_SIDEBAR (self));

  /* During an analysis progress arrives every chunk: a few reads a second
   * are plenty. */
  if (self->refresh_source == 0)
    self->refresh_source = g_timeout_add (500, refresh_timeout, self);
}

/* ---- Rows ------------------------------------------------------------------------------------ */

static void
header_func (GtkListBoxRow *row,
             GtkListBoxRow *before,
             gpointer       user_data)
{
  const char *subject = g_object_get_data (G_OBJECT (row), "subject");
  const char *prev = before ? g_object_get_data (G_OBJECT (before), "subject") : NULL;
  GtkWidget *header;

  if (prev != NULL && g_strcmp0 (subject, prev) == 0)
    {
      gtk_list_box_row_set_header (row, NULL);
      return;
    }
  {
    /* TRANSLATORS: heading of a subject's videos in the sidebar; %s is the subject id */
    g_autofree char *text = g_strdup_printf (_("Subject %s"), subject);
    header = gtk_label_new (text);
  }
  gtk_label_set_xalign (GTK_LABEL (header), 0);
  gtk_widget_add_css_class (header, "heading");
  gtk_widget_add_css_class (header, "subject-header");
  gtk_list_box_row_set_header (row, header);
}

static GtkWidget *
make_row (FacetStoreVideo *v)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  g_autofree char *base = g_path_get_basename (v->path);
  g_autofree char *info = g_strdup_printf (_("%d frames · %.1f s · %d×%d"), (int) v->n_frames,
                                           v->fps > 0 ? v->n_frames / v->fps : 0.0, v->width,
                                           v->height);
  GtkWidget *title = gtk_label_new (base);
  GtkWidget *sub = gtk_label_new (info);
  GtkWidget *progress = gtk_label_new ("");
  GtkWidget *bar = gtk_progress_bar_new ();

  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_set_tooltip_text (title, v->path);
  gtk_label_set_xalign (GTK_LABEL (sub), 0);
  gtk_widget_add_css_class (sub, "caption");
  gtk_widget_add_css_class (sub, "dim-label");
  gtk_label_set_xalign (GTK_LABEL (progress), 0);
  gtk_widget_add_css_class (progress, "caption");
  gtk_widget_add_css_class (bar, "analysis-progress");
  gtk_accessible_update_property (GTK_ACCESSIBLE (bar), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Analysis progress"), -1);
  gtk_box_append (GTK_BOX (box), title);
  gtk_box_append (GTK_BOX (box), sub);
  gtk_box_append (GTK_BOX (box), bar);
  gtk_box_append (GTK_BOX (box), progress);
  gtk_widget_set_margin_top (box, 4);
  gtk_widget_set_margin_bottom (box, 4);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);

  g_object_set_data_full (G_OBJECT (row), "subject", g_strdup (v->subject), g_free);
  g_object_set_data_full (G_OBJECT (row), "video-id", g_memdup2 (&v->id, sizeof v->id), g_free);
  g_object_set_data (G_OBJECT (row), "bar", bar);
  g_object_set_data (G_OBJECT (row), "progress", progress);
  {
    /* TRANSLATORS: a video in the sidebar for screen readers: file name, subject */
    g_autofree char *label = g_strdup_printf (_("%s, subject %s"), base, v->subject);
    gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  }
  return row;
}

static int
compare_videos (gconstpointer a,
                gconstpointer b)
{
  const FacetStoreVideo *va = *(FacetStoreVideo **) a, *vb = *(FacetStoreVideo **) b;
  int c = facet_natural_compare (va->subject, vb->subject);

  return c != 0 ? c : (va->id < vb->id ? -1 : va->id > vb->id);
}

static void
rebuild (FacetSidebar *self)
{
  GtkWidget *child;
  g_autoptr (GPtrArray) sorted = NULL;
  GPtrArray *videos;
  gint64 keep = self->selected;
  GtkWidget *select = NULL;

  self->rebuilding = TRUE;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);
  g_hash_table_remove_all (self->rows);
  videos = self->project ? facet_project_get_videos (self->project) : NULL;
  if (videos != NULL)
    {
      /* A view of the project's array: no free function of its own. */
      sorted = g_ptr_array_sized_new (videos->len);
      for (guint i = 0; i < videos->len; i++)
        g_ptr_array_add (sorted, g_ptr_array_index (videos, i));
      g_ptr_array_sort (sorted, compare_videos);
      for (guint i = 0; i < sorted->len; i++)
        {
          FacetStoreVideo *v = g_ptr_array_index (sorted, i);
          GtkWidget *row = make_row (v);

          gtk_list_box_append (self->list, row);
          g_hash_table_insert (self->rows, g_memdup2 (&v->id, sizeof v->id), row);
          if (v->id == keep)
            select = row;
        }
    }
  gtk_stack_set_visible_child_name (self->stack, videos && videos->len > 0 ? "list" : "empty");
  if (select != NULL)
    gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (select));
  self->rebuilding = FALSE;
  refresh_now (self);
}

static void
on_row_selected (GtkListBox    *list,
                 GtkListBoxRow *row,
                 FacetSidebar  *self)
{
  gint64 *id;

  if (self->rebuilding || row == NULL)
    return;
  id = g_object_get_data (G_OBJECT (row), "video-id");
  if (*id == self->selected)
    return;
  self->selected = *id;
  g_signal_emit (self, signals[VIDEO_SELECTED], 0, *id);
}

/* ---- Models ---------------------------------------------------------------------------------- */

static char *
describe_metrics (const FacetStoreModel *m)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;
  double f1 = -1, auc = -1;

  if (m->metrics_json == NULL || !json_parser_load_from_data (parser, m->metrics_json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return g_strdup (_("No validation metrics"));
  o = json_node_get_object (json_parser_get_root (parser));
  if (json_object_has_member (o, "f1_mean") && !json_object_get_null_member (o, "f1_mean"))
    f1 = json_object_get_double_member (o, "f1_mean");
  if (json_object_has_member (o, "auc_mean") && !json_object_get_null_member (o, "auc_mean"))
    auc = json_object_get_double_member (o, "auc_mean");
  if (f1 < 0 && auc < 0)
    return g_strdup (_("No validation metrics (an imported model)"));
  /* TRANSLATORS: validation metrics of a model: mean F1 and mean ROC AUC */
  return g_strdup_printf (_("Validation: F1 %.2f · AUC %.2f"), f1, auc);
}

/* The dropdown's selection and the metrics of the project's model. The
 * list itself is left alone: replacing it from inside its own
 * notify::selected (the coder picked a model) freed the selection model
 * GtkDropDown was still notifying on. */
static void
update_model_selection (FacetSidebar *self)
{
  GPtrArray *models = self->project ? facet_project_get_models (self->project) : NULL;
  gint64 current = self->project ? facet_project_get_model_id (self->project) : 0;
  guint selected = GTK_INVALID_LIST_POSITION;
  FacetStoreModel *m = self->project ? facet_project_get_model (self->project) : NULL;

  for (guint i = 0; models != NULL && i < models->len; i++)
    if (((FacetStoreModel *) g_ptr_array_index (models, i))->id == current)
      selected = i;
  self->updating_models = TRUE;
  if (gtk_drop_down_get_selected (self->model_dropdown) != selected)
    gtk_drop_down_set_selected (self->model_dropdown, selected);
  self->updating_models = FALSE;
  if (m != NULL)
    {
      g_autofree char *text = describe_metrics (m);
      gtk_label_set_text (self->model_metrics, text);
    }
  else
    gtk_label_set_text (self->model_metrics, _("No model in this project yet"));
}

static void
update_models (FacetSidebar *self)
{
  g_autoptr (GtkStringList) names = gtk_string_list_new (NULL);
  GPtrArray *models = self->project ? facet_project_get_models (self->project) : NULL;

  for (guint i = 0; models != NULL && i < models->len; i++)
    {
      FacetStoreModel *model = g_ptr_array_index (models, i);
      g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT " · %s", model->id,
                                               model->name ? model->name : model->file);
      gtk_string_list_append (names, name);
    }
  self->updating_models = TRUE;
  gtk_drop_down_set_model (self->model_dropdown, G_LIST_MODEL (names));
  self->updating_models = FALSE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->model_dropdown), models != NULL && models->len > 0);
  update_model_selection (self);
}

static void
on_model_selected (GtkDropDown  *dropdown,
                   GParamSpec   *pspec,
                   FacetSidebar *self)
{
  guint i = gtk_drop_down_get_selected (dropdown);
  GPtrArray *models;

  if (self->updating_models || self->project == NULL)
    return;
  models = facet_project_get_models (self->project);
  if (i >= models->len)
    return;
  facet_project_set_model_id (self->project, ((FacetStoreModel *) g_ptr_array_index (models,
                                                                                     i))->id);
}

static void
on_model_changed (FacetSidebar *self)
{
  update_model_selection (self);
  /* Figures counted for the former model are dropped when they come. */
  facet_reload_invalidate (self->stats_reload);
  refresh_now (self);
}

/* ---- Public ---------------------------------------------------------------------------------- */

GtkWidget *
facet_sidebar_new (void)
{
  return g_object_new (FACET_TYPE_SIDEBAR, NULL);
}

void
facet_sidebar_set_project (FacetSidebar *self,
                           FacetProject *project)
{
  g_return_if_fail (FACET_IS_SIDEBAR (self));

  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_set_object (&self->project, project);
  self->selected = 0;
  facet_reload_invalidate (self->stats_reload);
  if (project != NULL)
    {
      g_signal_connect_swapped (project, "videos-changed", G_CALLBACK (rebuild), self);
      g_signal_connect_swapped (project, "models-changed", G_CALLBACK (update_models), self);
      g_signal_connect_swapped (project, "notify::model-id", G_CALLBACK (on_model_changed), self);
    }
  rebuild (self);
  update_models (self);
}

gint64
facet_sidebar_get_selected_video (FacetSidebar *self)
{
  g_return_val_if_fail (FACET_IS_SIDEBAR (self), 0);
  return self->selected;
}

void
facet_sidebar_select_video (FacetSidebar *self,
                            gint64        video_id)
{
  GtkWidget *row;

  g_return_if_fail (FACET_IS_SIDEBAR (self));

  row = g_hash_table_lookup (self->rows, &video_id);
  if (row != NULL)
    gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (row));
}

GArray *
facet_sidebar_get_video_order (FacetSidebar *self)
{
  GArray *order = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_return_val_if_fail (FACET_IS_SIDEBAR (self), order);

  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (self->list)); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      gint64 *id = g_object_get_data (G_OBJECT (c), "video-id");
      if (id != NULL)
        g_array_append_val (order, *id);
    }
  return order;
}

static void
facet_sidebar_dispose (GObject *object)
{
  FacetSidebar *self = (FacetSidebar *) object;

  g_clear_handle_id (&self->refresh_source, g_source_remove);
  facet_reload_invalidate (self->stats_reload);
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_clear_object (&self->project);
  g_clear_pointer (&self->rows, g_hash_table_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), FACET_TYPE_SIDEBAR);
  G_OBJECT_CLASS (facet_sidebar_parent_class)->dispose (object);
}

static void
facet_sidebar_finalize (GObject *object)
{
  FacetSidebar *self = (FacetSidebar *) object;

  g_clear_pointer (&self->stats_reload, facet_reload_free);
  G_OBJECT_CLASS (facet_sidebar_parent_class)->finalize (object);
}

static void
facet_sidebar_class_init (FacetSidebarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_sidebar_dispose;
  object_class->finalize = facet_sidebar_finalize;

  /**
   * FacetSidebar::video-selected:
   * @video_id: the video the coder chose
   */
  signals[VIDEO_SELECTED] =
    g_signal_new ("video-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "videosidebar");
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-sidebar.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetSidebar, box);
  gtk_widget_class_bind_template_child (widget_class, FacetSidebar, list);
  gtk_widget_class_bind_template_child (widget_class, FacetSidebar, model_dropdown);
  gtk_widget_class_bind_template_child (widget_class, FacetSidebar, model_metrics);
  gtk_widget_class_bind_template_child (widget_class, FacetSidebar, stack);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);
}

/* Model names can be long: ellipsized in the button, whole in the list. */
static void
setup_label (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  ellipsize)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  if (ellipsize)
    {
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_width_chars (GTK_LABEL (label), 10);
      gtk_label_set_max_width_chars (GTK_LABEL (label), 24);
    }
  gtk_list_item_set_child (item, label);
}

static void
bind_label (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            gpointer                  user_data)
{
  GtkStringObject *string = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);

  gtk_label_set_text (GTK_LABEL (label), gtk_string_object_get_string (string));
  gtk_widget_set_tooltip_text (label, gtk_string_object_get_string (string));
}

static GtkListItemFactory *
label_factory (gboolean ellipsize)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (setup_label), GINT_TO_POINTER (ellipsize));
  g_signal_connect (factory, "bind", G_CALLBACK (bind_label), NULL);
  return factory;
}

static void
facet_sidebar_init (FacetSidebar *self)
{
  g_autoptr (GtkListItemFactory) button_factory = label_factory (TRUE);
  g_autoptr (GtkListItemFactory) list_factory = label_factory (FALSE);

  g_type_ensure (ADW_TYPE_STATUS_PAGE);
  gtk_widget_init_template (GTK_WIDGET (self));
  self->rows = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->stats_reload = facet_reload_new (G_OBJECT (self), stats_start, stats_done);
  gtk_list_box_set_header_func (self->list, header_func, NULL, NULL);
  gtk_drop_down_set_factory (self->model_dropdown, button_factory);
  gtk_drop_down_set_list_factory (self->model_dropdown, list_factory);
  g_signal_connect (self->model_dropdown, "notify::selected", G_CALLBACK (on_model_selected), self);
}
