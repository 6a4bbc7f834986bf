/* facet-finetune-dialog.c — fine-tuning with live curves and a comparison
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Training runs in a worker thread through the same library calls as
 * `facet-cli finetune` (dataset from the store, facet_train_run, and
 * facet_train_save_model for the file and the row). The base model is
 * measured on the same held-out subjects as the new one, so the two
 * columns of the result compare like with like.
 */
#define G_LOG_DOMAIN "facet-finetune"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "train/facet-train.h"
#include "train/train-save.h"

#include "facet-facs.h"
#include "facet-finetune-dialog.h"
#include "facet-train-plot.h"

static const char *modes[] = { "heads", "last:2", "full" };

struct _FacetFinetuneDialog
{
  AdwWindow       parent_instance;

  GtkButton      *close_button;
  GtkButton      *start_button;
  AdwComboRow    *base_row;
  AdwComboRow    *mode_row;
  GtkSpinButton  *lambda_spin;
  GtkSpinButton  *epochs_spin;
  GtkLabel       *data_label;
  FacetTrainPlot *plot;
  GtkProgressBar *progress;
  GtkLabel       *status_label;
  GtkGrid        *results_grid;
  GtkButton      *reanalyse_button;

  FacetProject   *project;
  GArray         *model_ids;
  GCancellable   *cancellable;
  gboolean        running;
  gint64          new_model_id;
};

G_DEFINE_FINAL_TYPE (FacetFinetuneDialog, facet_finetune_dialog, ADW_TYPE_WINDOW)

enum {
  REANALYSE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- The run --------------------------------------------------------------------------------- */

typedef struct
{
  GWeakRef      self;
  GMainContext *context;
  char         *project_path;
  char         *base_path;
  gint64        base_id;
  char         *mode_text;
  double        lambda;
  int           epochs;

  /* Results */
  gint64        new_id;
  char         *new_name;
  int           n_aus;
  int          *au_ids;
  double        metrics[2][3];  /* base, new: F1 at 0.5, AUC, identity probe */
  double       *f1[2];          /* per AU of the model */
  guint         n_train;
  guint         n_val;
} Run;

static void
run_free (gpointer data)
{
  Run *r = data;

  g_weak_ref_clear (&r->self);
  g_main_context_unref (r->context);
  g_free (r->project_path);
  g_free (r->base_path);
  g_free (r->mode_text);
  g_free (r->new_name);
  g_free (r->au_ids);
  g_free (r->f1[0]);
  g_free (r->f1[1]);
  g_free (r);
}

typedef enum
{
  REPORT_STATUS,
  REPORT_STEP,
  REPORT_EPOCH,
} ReportKind;

typedef struct
{
  GWeakRef    self;
  ReportKind  kind;
  double      fraction;
  char       *text;
  gint64      step;
  gint64      n_steps;
  int         epoch;
  int         n_epochs;
  double      value;
} Report;

static void
report_free (gpointer data)
{
  Report *r = data;

  g_weak_ref_clear (&r->self);
  g_free (r->text);
  g_free (r);
}

static gboolean
deliver (gpointer data)
{
  Report *r = data;
  g_autoptr (FacetFinetuneDialog) self = g_weak_ref_get (&r->self);

  if (self == NULL || !self->running)
    return G_SOURCE_REMOVE;
  switch (r->kind)
    {
    case REPORT_STATUS:
      gtk_label_set_text (self->status_label, r->text);
      if (r->fraction >= 0)
        gtk_progress_bar_set_fraction (self->progress, r->fraction);
      else
        gtk_progress_bar_pulse (self->progress);
      break;
    case REPORT_STEP:
      if (r->step == 1 || facet_train_plot_get_n_points (self->plot) == 0)
        facet_train_plot_reset (self->plot, r->n_steps, r->n_epochs);
      facet_train_plot_add_loss (self->plot, r->step, r->value);
      gtk_progress_bar_set_fraction (self->progress, (double) r->step / MAX (r->n_steps, 1));
      gtk_label_set_text (self->status_label, r->text);
      break;
    case REPORT_EPOCH:
    default:
      facet_train_plot_add_f1 (self->plot, r->epoch, r->value);
      gtk_label_set_text (self->status_label, r->text);
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
post (Run    *run,
      Report *r)
{
  g_autoptr (FacetFinetuneDialog) self = g_weak_ref_get (&run->self);

  g_weak_ref_init (&r->self, self);
  g_main_context_invoke_full (run->context, G_PRIORITY_DEFAULT, deliver, r, report_free);
}

static void
post_status (Run        *run,
             double      fraction,
             const char *text)
{
  Report *r = g_new0 (Report, 1);

  r->kind = REPORT_STATUS;
  r->fraction = fraction;
  r->text = g_strdup (text);
  post (run, r);
}

static void
on_data_progress (double      fraction,
                  const char *message,
                  gpointer    user_data)
{
  g_autofree char *text = g_strdup_printf (_("Reading the labelled frames… %.0f %%"),
                                           100 * MAX (fraction, 0));

  post_status (user_data, fraction, text);
}

static void
on_step (const FacetTrainProgress *p,
         gpointer                  user_data)
{
  Report *r = g_new0 (Report, 1);

  r->kind = REPORT_STEP;
  r->step = p->step;
  r->n_steps = p->n_steps;
  r->n_epochs = p->n_epochs;
  r->value = p->loss;
  /* TRANSLATORS: training progress: epoch of epochs, loss, speed */
  r->text = g_strdup_printf (_("Epoch %d of %d · loss %.4f · %.0f images/s"), p->epoch,
                             p->n_epochs, p->loss, p->images_per_second);
  post (user_data, r);
}

static void
on_epoch (const FacetEpochReport *e,
          gpointer                user_data)
{
  Report *r = g_new0 (Report, 1);

  r->kind = REPORT_EPOCH;
  r->epoch = e->epoch;
  r->value = e->f1_05;
  /* TRANSLATORS: after an epoch: its number, validation F1 and ROC AUC */
  r->text = g_strdup_printf (_("Epoch %d done · validation F1 %.3f · AUC %.3f"), e->epoch,
                             e->f1_05, e->auc_mean);
  post (user_data, r);
}

/* The base model on the validation subjects of the run, with every
 * threshold at 0.5 as the run's own F1 is. */
static gboolean
measure_base (Run                  *run,
              FacetModel           *base,
              const FacetTrainData *data,
              const FacetTrainResult *result,
              GError              **error)
{
  const FacetModelConfig *c = facet_model_get_config (base);
  g_autoptr (FacetEngine) engine = facet_engine_new (base, "cpu", error);
  g_autoptr (GArray) picked = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree float *probs = NULL, *targets = NULL, *features = NULL;
  g_autofree double *thresholds = NULL;
  g_autofree int *subjects = NULL;
  int dim = 0, n_auc = 0;
  double auc_sum = 0;

  if (engine == NULL)
    return FALSE;
  for (guint i = 0; i < data->n; i++)
    for (int v = 0; v < result->n_val_subjects; v++)
      if (data->subjects[i] == result->val_subjects[v])
        g_array_append_val (picked, i);
  if (picked->len == 0)
    return TRUE;

  probs = g_new (float, (gsize) picked->len * c->n_aus);
  targets = g_new (float, (gsize) picked->len * c->n_aus);
  subjects = g_new (int, picked->len);
  for (guint k = 0; k < picked->len; k += 32)
    {
      guint n = MIN (32, picked->len - k);
      g_autofree FacetImage **crops = g_new (FacetImage *, n);
      g_autoptr (FacetForwardResult) out = NULL;

      for (guint j = 0; j < n; j++)
        crops[j] = data->crops[g_array_index (picked, guint, k + j)];
      out = facet_engine_predict_images (engine, crops, n, FACET_FORWARD_NONE, error);
      if (out == NULL)
        return FALSE;
      if (features == NULL)
        {
          dim = out->dim;
          features = g_new (float, (gsize) picked->len * dim);
        }
      memcpy (probs + (gsize) k * c->n_aus, out->probs, sizeof (float) * n * c->n_aus);
      memcpy (features + (gsize) k * dim, out->pooled, sizeof (float) * n * dim);
    }
  /* The labels in the model's AU order; AUs without labels stay < 0. */
  for (guint k = 0; k < picked->len; k++)
    {
      guint i = g_array_index (picked, guint, k);

      subjects[k] = data->subjects[i];
      for (int a = 0; a < c->n_aus; a++)
        targets[(gsize) k * c->n_aus + a] = -1.0f;
      for (int col = 0; col < data->n_aus; col++)
        {
          int a = facet_model_config_find_au (c, data->au_ids[col]);
          if (a >= 0)
            targets[(gsize) k * c->n_aus + a] = data->targets[(gsize) i * data->n_aus + col];
        }
    }
  thresholds = g_new (double, c->n_aus);
  for (int a = 0; a < c->n_aus; a++)
    thresholds[a] = 0.5;
  run->f1[0] = g_new (double, c->n_aus);
  run->metrics[0][0] = facet_metrics_mean_f1 (probs, targets, picked->len, c->n_aus, thresholds,
                                              run->f1[0]);
  for (int a = 0; a < c->n_aus; a++)
    {
      double auc = facet_metrics_auc (probs, targets, picked->len, c->n_aus, a);
      if (isfinite (auc))
        {
          auc_sum += auc;
          n_auc++;
        }
    }
  run->metrics[0][1] = n_auc > 0 ? auc_sum / n_auc : NAN;
  run->metrics[0][2] = facet_metrics_identity_probe (features, picked->len, dim, subjects, NULL);
  return TRUE;
}

static void
train_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  Run *run = task_data;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetModel) base = NULL, trained = NULL;
  g_autoptr (FacetTrainDataset) labels = NULL, dataset = NULL;
  g_autoptr (FacetTrainResult) result = NULL;
  FacetTrainDataOptions dopt = { 0 };
  FacetTrainSaveOptions sopt = { 0 };
  FacetTrainConfig cfg;
  GError *error = NULL;
  const FacetEpochReport *last;

  post_status (run, -1, _("Loading the base model…"));
  store = facet_store_open (run->project_path, &error);
  if (store == NULL)
    goto failed;
  base = facet_model_load (run->base_path, NULL, &error);
  if (base == NULL)
    goto failed;

  facet_train_config_init (&cfg);
  {
    FacetTrainMode mode;
    int last_k = 2;
    if (!facet_train_mode_parse (run->mode_text, &mode, &last_k, &error))
      goto failed;
    /* The mode's own defaults (heads mode: a linear probe's rate, no IAT). */
    facet_train_config_set_mode (&cfg, mode, last_k);
  }
  cfg.iat_lambda = run->lambda;
  cfg.epochs = run->epochs;
  cfg.cancellable = cancellable;
  cfg.on_step = on_step;
  cfg.on_epoch = on_epoch;
  cfg.user_data = run;
  if (!facet_train_check_settings (base, &cfg, &error))
    goto failed;

  /* Everything that can be refused is refused before frames are decoded. */
  dopt.labels_only = TRUE;
  labels = facet_train_dataset_from_store (store, facet_model_get_config (base), &dopt, &error);
  if (labels == NULL || !facet_train_check (base, facet_train_dataset_get_data (labels), &cfg,
                                            &error))
    goto failed;
  dopt.labels_only = FALSE;
  dopt.cancellable = cancellable;
  dopt.progress = on_data_progress;
  dopt.progress_data = run;
  dataset = facet_train_dataset_from_store (store, facet_model_get_config (base), &dopt, &error);
  if (dataset == NULL)
    goto failed;

  trained = facet_train_run (base, facet_train_dataset_get_data (dataset), &cfg, &result, &error);
  if (trained == NULL)
    goto failed;

  post_status (run, 1.0, _("Measuring the base model on the same subjects…"));
  if (!measure_base (run, base, facet_train_dataset_get_data (dataset), result, &error))
    goto failed;

  sopt.mode_text = run->mode_text;
  sopt.base = base;
  sopt.base_path = run->base_path;
  sopt.base_id = run->base_id;
  run->new_id = facet_train_save_model (store, trained, &cfg, result, dataset, &sopt, NULL, &error);
  if (run->new_id <= 0)
    goto failed;

  run->new_name = g_strdup (facet_model_get_config (trained)->name);
  run->n_aus = facet_model_get_config (trained)->n_aus;
  run->au_ids = g_memdup2 (facet_model_get_config (trained)->au_ids, sizeof (int) * run->n_aus);
  last = &g_array_index (result->epochs, FacetEpochReport, result->epochs->len - 1);
  run->metrics[1][0] = last->f1_05;
  run->metrics[1][1] = last->auc_mean;
  run->metrics[1][2] = last->id_probe_acc;
  run->f1[1] = g_memdup2 (last->f1, sizeof (double) * run->n_aus);
  run->n_train = result->n_train;
  run->n_val = result->n_val;
  g_task_return_boolean (task, TRUE);
  return;

failed:
  g_task_return_error (task, error);
}

static void
add_cell (FacetFinetuneDialog *self,
          const char          *text,
          int                  column,
          int                  row,
          gboolean             heading)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), column == 0 ? 0.0f : 1.0f);
  if (heading)
    gtk_widget_add_css_class (label, "heading");
  if (column > 0)
    gtk_widget_add_css_class (label, "numeric");
  gtk_grid_attach (self->results_grid, label, column, row, 1, 1);
}

static char *
metric_text (double v)
{
  return isfinite (v) && v >= 0 ? g_strdup_printf ("%.3f", v) : g_strdup ("—");
}

static void
show_results (FacetFinetuneDialog *self,
              const Run           *run)
{
  static const char *names[] = { N_("Mean F1 at 0.5"), N_("Mean ROC AUC"), N_("Identity probe "
                                                                              "accuracy") };
  GtkWidget *child;
  int row = 1;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->results_grid))) != NULL)
    gtk_grid_remove (self->results_grid, child);
  add_cell (self, _("On the held-out subjects"), 0, 0, TRUE);
  add_cell (self, _("Base model"), 1, 0, TRUE);
  add_cell (self, run->new_name, 2, 0, TRUE);
  for (guint m = 0; m < G_N_ELEMENTS (names); m++, row++)
    {
      g_autofree char *a = metric_text (run->metrics[0][m]);
      g_autofree char *b = metric_text (run->metrics[1][m]);
      add_cell (self, _(names[m]), 0, row, FALSE);
      add_cell (self, a, 1, row, FALSE);
      add_cell (self, b, 2, row, FALSE);
    }
  for (int a = 0; a < run->n_aus; a++, row++)
    {
      g_autofree char *code = facet_facs_code (run->au_ids[a]);
      g_autofree char *label = g_strdup_printf (_("F1 %s"), code);
      g_autofree char *x = metric_text (run->f1[0] ? run->f1[0][a] : NAN);
      g_autofree char *y = metric_text (run->f1[1] ? run->f1[1][a] : NAN);

      if (!(run->f1[1] && isfinite (run->f1[1][a])) && !(run->f1[0] && isfinite (run->f1[0][a])))
        {
          row--;
          continue;
        }
      add_cell (self, label, 0, row, FALSE);
      add_cell (self, x, 1, row, FALSE);
      add_cell (self, y, 2, row, FALSE);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->results_grid), TRUE);
}

static void
set_running (FacetFinetuneDialog *self,
             gboolean             running)
{
  self->running = running;
  gtk_button_set_label (self->start_button, running ? _("_Stop") : _("_Start Training"));
  if (running)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->start_button), "suggested-action");
      gtk_widget_add_css_class (GTK_WIDGET (self->start_button), "destructive-action");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->start_button), "destructive-action");
      gtk_widget_add_css_class (GTK_WIDGET (self->start_button), "suggested-action");
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->base_row), !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->mode_row), !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->lambda_spin), !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->epochs_spin), !running);
}

static void
train_done (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  FacetFinetuneDialog *self = FACET_FINETUNE_DIALOG (object);
  Run *run = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  set_running (self, FALSE);
  g_clear_object (&self->cancellable);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_label_set_text (self->status_label,
                            _("Stopped. Nothing was saved; start again when you like."));
      else
        {
          g_autofree char *text = g_strdup_printf (_("Training failed: %s"), error->message);
          gtk_label_set_text (self->status_label, text);
        }
      gtk_progress_bar_set_fraction (self->progress, 0);
      return;
    }
  self->new_model_id = run->new_id;
  {
    /* TRANSLATORS: after fine-tuning: the new model's name, training and
     * validation sample counts */
    g_autofree char *text = g_strdup_printf (_("Saved as model “%s”, trained on %u frames and "
                                               "checked on %u "
                                               "frames of other subjects."),
                                             run->new_name, run->n_train, run->n_val);
    gtk_label_set_text (self->status_label, text);
  }
  show_results (self, run);
  gtk_widget_set_visible (GTK_WIDGET (self->reanalyse_button), TRUE);
  facet_project_reload (self->project);
}

static void
on_start_clicked (FacetFinetuneDialog *self)
{
  g_autoptr (GTask) task = NULL;
  FacetStoreModel *m;
  guint base_row = adw_combo_row_get_selected (self->base_row);
  guint mode = adw_combo_row_get_selected (self->mode_row);
  Run *run;

  if (self->running)
    {
      g_cancellable_cancel (self->cancellable);
      gtk_label_set_text (self->status_label, _("Stopping after the current step…"));
      return;
    }
  if (base_row >= self->model_ids->len
      || (m = facet_project_find_model (self->project, g_array_index (self->model_ids, gint64,
                                                                      base_row))) == NULL)
    return;

  run = g_new0 (Run, 1);
  g_weak_ref_init (&run->self, self);
  run->context = g_main_context_ref_thread_default ();
  run->project_path = g_strdup (facet_project_get_path (self->project));
  {
    g_autofree char *folder = g_path_get_dirname (run->project_path);
    run->base_path = g_path_is_absolute (m->file) ? g_strdup (m->file)
                                                  : g_build_filename (folder, m->file, NULL);
  }
  run->base_id = m->id;
  run->mode_text = g_strdup (modes[MIN (mode, G_N_ELEMENTS (modes) - 1)]);
  run->lambda = gtk_spin_button_get_value (self->lambda_spin);
  run->epochs = gtk_spin_button_get_value_as_int (self->epochs_spin);
  run->metrics[0][0] = run->metrics[0][1] = run->metrics[0][2] = NAN;

  self->cancellable = g_cancellable_new ();
  self->new_model_id = 0;
  gtk_widget_set_visible (GTK_WIDGET (self->results_grid), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->reanalyse_button), FALSE);
  facet_train_plot_reset (self->plot, 1, run->epochs);
  set_running (self, TRUE);
  task = g_task_new (self, self->cancellable, train_done, NULL);
  g_task_set_source_tag (task, on_start_clicked);
  g_task_set_task_data (task, run, run_free);
  g_task_run_in_thread (task, train_thread);
}

static void
on_reanalyse_clicked (FacetFinetuneDialog *self)
{
  if (self->new_model_id > 0)
    g_signal_emit (self, signals[REANALYSE], 0, self->new_model_id);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
on_close_clicked (FacetFinetuneDialog *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static gboolean
facet_finetune_dialog_close_request (GtkWindow *window)
{
  FacetFinetuneDialog *self = FACET_FINETUNE_DIALOG (window);

  /* Closing stops the run; what a stopped run learnt is not kept. */
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  return GDK_EVENT_PROPAGATE;
}

/* ---- What there is to train on --------------------------------------------------------------- */

static gpointer
count_job (FacetStore   *store,
           gpointer      data,
           GCancellable *cancellable,
           GError      **error)
{
  g_autoptr (FacetModelConfig) config = facet_model_config_from_string (data, error);
  g_autoptr (FacetTrainDataset) dataset = NULL;
  FacetTrainDataOptions options = { 0 };
  const FacetTrainData *d;

  if (config == NULL)
    return NULL;
  options.labels_only = TRUE;
  dataset = facet_train_dataset_from_store (store, config, &options, error);
  if (dataset == NULL)
    return NULL;
  d = facet_train_dataset_get_data (dataset);
  /* TRANSLATORS: what fine-tuning will use: labelled frames, subjects */
  return g_strdup_printf (_("%u labelled frames of %d subjects. A quarter of the subjects is held "
                            "out to "
                            "measure the new model; the coders' labels are never changed."),
                          d->n, d->n_subjects);
}

static void
count_done (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (FacetFinetuneDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = facet_project_run_finish (FACET_PROJECT (object), result, &error);

  if (text == NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("Nothing to train on yet: %s"), error->message);
      gtk_label_set_text (self->data_label, msg);
      gtk_widget_set_sensitive (GTK_WIDGET (self->start_button), FALSE);
      return;
    }
  gtk_label_set_text (self->data_label, text);
}

GtkWidget *
facet_finetune_dialog_new (GtkWindow    *parent,
                           FacetProject *project)
{
  FacetFinetuneDialog *self;
  g_autoptr (GtkStringList) names = gtk_string_list_new (NULL);
  GPtrArray *models;
  FacetStoreModel *current;
  guint selected = 0;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);

  self = g_object_new (FACET_TYPE_FINETUNE_DIALOG, "transient-for", parent, NULL);
  self->project = g_object_ref (project);
  models = facet_project_get_models (project);
  for (guint i = 0; i < models->len; i++)
    {
      FacetStoreModel *m = g_ptr_array_index (models, i);
      g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT " · %s", m->id,
                                               m->name ? m->name : m->file);

      gtk_string_list_append (names, text);
      g_array_append_val (self->model_ids, m->id);
      if (m->id == facet_project_get_model_id (project))
        selected = i;
    }
  adw_combo_row_set_model (self->base_row, G_LIST_MODEL (names));
  adw_combo_row_set_selected (self->base_row, selected);
  current = facet_project_get_model (project);
  if (current != NULL)
    facet_project_run (project, FACET_PROJECT_QUEUE_LOAD, count_job,
                       g_strdup (current->config_json), g_free,
                       g_free, NULL, count_done, g_object_ref (self));
  return GTK_WIDGET (self);
}

static void
facet_finetune_dialog_dispose (GObject *object)
{
  FacetFinetuneDialog *self = (FacetFinetuneDialog *) object;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->project);
  g_clear_pointer (&self->model_ids, g_array_unref);
  G_OBJECT_CLASS (facet_finetune_dialog_parent_class)->dispose (object);
}

static void
facet_finetune_dialog_class_init (FacetFinetuneDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = facet_finetune_dialog_dispose;
  window_class->close_request = facet_finetune_dialog_close_request;

  /**
   * FacetFinetuneDialog::reanalyse:
   * @model_id: the new model
   */
  signals[REANALYSE] =
    g_signal_new ("reanalyse", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);

  g_type_ensure (FACET_TYPE_TRAIN_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-finetune-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, base_row);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, close_button);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, data_label);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, epochs_spin);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, lambda_spin);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, mode_row);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, plot);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, progress);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, reanalyse_button);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, results_grid);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, start_button);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, status_label);
  gtk_widget_class_bind_template_callback (widget_class, on_close_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_reanalyse_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_start_clicked);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_finetune_dialog_init (FacetFinetuneDialog *self)
{
  self->model_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gtk_widget_init_template (GTK_WIDGET (self));
}
