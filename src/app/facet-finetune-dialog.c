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
 *
 * "Adapt to these videos first" runs MAE pre-training (the library calls of
 * `facet-cli pretrain`) on every face of the project's videos before that,
 * in the same thread: the adapted model is saved and registered only once
 * its last epoch is done, fine-tuning starts from it, and a strip of
 * original / masked / reconstructed faces shows what it learnt. The
 * comparison is still with the base model the coder chose, measured on the
 * fine-tuning's held-out frames (facet_train_evaluate): the adapted model
 * with its untrained AU heads would only show chance.
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
#include "facet-invoke.h"
#include "facet-task-set.h"
#include "facet-train-plot.h"

static const char *modes[] = { "heads", "last:2", "full" };

struct _FacetFinetuneDialog
{
  AdwWindow       parent_instance;

  GtkButton      *close_button;
  GtkButton      *start_button;
  AdwActionRow   *adapt_row;
  GtkLabel       *adapt_label;
  GtkSwitch      *adapt_switch;
  AdwComboRow    *base_row;
  AdwComboRow    *mode_row;
  GtkSpinButton  *lambda_spin;
  GtkSpinButton  *epochs_spin;
  GtkLabel       *data_label;
  GtkBox         *learned_box;
  GtkLabel       *learned_label;
  GtkPicture     *learned_picture;
  AdwActionRow   *pretrain_epochs_row;
  GtkSpinButton  *pretrain_epochs_spin;
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
  double          lambda;       /* IAT strength set for last:2 and full */
  gboolean        can_adapt;    /* the chosen base model can be pre-trained further */
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
  char         *base_name;      /* the base model the coder chose, for the comparison */
  char         *chosen_path;    /* its file (base_path becomes the adapted model's) */
  gint64        chosen_id;
  char         *mode_text;
  double        lambda;
  int           epochs;
  gboolean      heads;
  gboolean      adapt;          /* pre-train on the project's faces first */
  int           pretrain_epochs;
  gboolean      adapting;       /* still in the pre-training phase */

  /* Results */
  gint64        adapted_id;     /* the pre-trained model, 0: none (yet) */
  char         *adapted_name;
  double        start_f1;       /* the adapted model with new heads, before fine-tuning */
  gboolean      chosen_no_aus;  /* the chosen base predicts no AUs (a pre-trained one) */
  gint64        new_id;
  char         *new_name;
  int           n_aus;
  int          *au_ids;
  double        metrics[2][4];  /* base, new: F1 at 0.5, AUC, identity probe (held-out,
                                 * training subjects) */
  double        chance[2];      /* the probe's chance level: held-out, training subjects */
  double       *f1[2];          /* per AU of the model */
  double       *auc[2];
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
  g_free (r->base_name);
  g_free (r->chosen_path);
  g_free (r->mode_text);
  g_free (r->adapted_name);
  g_free (r->new_name);
  g_free (r->au_ids);
  g_free (r->f1[0]);
  g_free (r->f1[1]);
  g_free (r->auc[0]);
  g_free (r->auc[1]);
  g_free (r);
}

typedef enum
{
  REPORT_STATUS,
  REPORT_STEP,
  REPORT_EPOCH,
  REPORT_LEARNED,
} ReportKind;

typedef struct
{
  ReportKind  kind;
  double      fraction;
  char       *text;
  gint64      step;
  gint64      n_steps;
  int         epoch;
  int         n_epochs;
  double      value;
  GBytes     *pixels;   /* REPORT_LEARNED: RGB, @width x @height */
  int         width;
  int         height;
} Report;

static void
report_free (gpointer data)
{
  Report *r = data;

  g_free (r->text);
  g_clear_pointer (&r->pixels, g_bytes_unref);
  g_free (r);
}

/* The strip of original, masked and reconstructed faces, and what it shows. */
static void
show_learned (FacetFinetuneDialog *self,
              const Report        *r)
{
  g_autoptr (GdkTexture) texture = gdk_memory_texture_new (r->width, r->height, GDK_MEMORY_R8G8B8,
                                                           r->pixels, 3 * (gsize) r->width);

  gtk_picture_set_paintable (self->learned_picture, GDK_PAINTABLE (texture));
  gtk_label_set_text (self->learned_label, r->text);
  gtk_widget_set_visible (GTK_WIDGET (self->learned_box), TRUE);
}

static void
deliver (GObject  *owner,
         gpointer  data)
{
  FacetFinetuneDialog *self = FACET_FINETUNE_DIALOG (owner);
  Report *r = data;

  if (!self->running)
    return;
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
    case REPORT_LEARNED:
      show_learned (self, r);
      break;
    case REPORT_EPOCH:
    default:
      facet_train_plot_add_f1 (self->plot, r->epoch, r->value);
      gtk_label_set_text (self->status_label, r->text);
      break;
    }
}

static void
post (Run    *run,
      Report *r)
{
  g_autoptr (GObject) self = g_weak_ref_get (&run->self);

  facet_invoke_weak (run->context, self, deliver, r, report_free);
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
  /* Heads mode steps on cached features: a rate of "images" would count
   * none (hundreds of thousands a second); nor does a step too short to time. */
  if (p->images_per_second > 0 && !((Run *) user_data)->heads)
    /* TRANSLATORS: training progress: epoch of epochs, loss, speed */
    r->text = g_strdup_printf (_("Epoch %d of %d · loss %.4f · %.0f images/s"), p->epoch,
                               p->n_epochs, p->loss, p->images_per_second);
  else
    /* TRANSLATORS: training progress: epoch of epochs, loss */
    r->text = g_strdup_printf (_("Epoch %d of %d · loss %.4f"), p->epoch, p->n_epochs, p->loss);
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

/* A report's numbers into column @k of the comparison (0: base, 1: new). */
static void
keep_report (Run                    *run,
             int                     k,
             const FacetEpochReport *e)
{
  run->metrics[k][0] = e->f1_05;
  run->metrics[k][1] = e->auc_mean;
  run->metrics[k][2] = e->id_probe_acc;
  run->metrics[k][3] = e->id_probe_train_acc;
  run->chance[0] = e->id_probe_chance;
  run->chance[1] = e->id_probe_train_chance;
  run->f1[k] = g_memdup2 (e->f1, sizeof (double) * run->n_aus);
  run->auc[k] = g_memdup2 (e->auc, sizeof (double) * run->n_aus);
}

/* ---- Adapting: MAE pre-training on the project's faces ----------------------------------------- */

#define LEARNED_FACES 4
#define LEARNED_GAP   4
/* More frames than this are thinned out to every n-th: the faces are held
 * in memory, 150 kB each at 224 x 224 (1.2 GB). */
#define ADAPT_MAX_FACES 8000

/* Every n-th frame so that the videos give at most ADAPT_MAX_FACES. */
static guint
adapt_stride (FacetStore *store,
              GError    **error)
{
  g_autoptr (GPtrArray) videos = facet_store_list_videos (store, error);
  gint64 total = 0;

  if (videos == NULL)
    return 0;
  for (guint v = 0; v < videos->len; v++)
    total += ((FacetStoreVideo *) g_ptr_array_index (videos, v))->n_frames;
  return (guint) MAX (1, (total + ADAPT_MAX_FACES - 1) / ADAPT_MAX_FACES);
}

static void
on_faces_progress (double      fraction,
                   const char *message,
                   gpointer    user_data)
{
  g_autofree char *text = g_strdup_printf (_("Reading the faces of the videos… %.0f %%"),
                                           100 * MAX (fraction, 0));

  post_status (user_data, fraction, text);
}

static void
on_pretrain_step (const FacetPretrainProgress *p,
                  gpointer                     user_data)
{
  Run *run = user_data;
  Report *r = g_new0 (Report, 1);

  /* The plot and the bar count steps over the whole phase. */
  r->kind = REPORT_STEP;
  r->step = (gint64) (p->epoch - 1) * p->n_steps + p->step;
  r->n_steps = (gint64) run->pretrain_epochs * p->n_steps;
  r->n_epochs = run->pretrain_epochs;
  r->value = p->loss;
  /* TRANSLATORS: pre-training progress: epoch of epochs, reconstruction loss, speed */
  r->text = g_strdup_printf (_("Adapting: epoch %d of %d · reconstruction loss %.4f · %.0f "
                               "images/s"), p->epoch, run->pretrain_epochs, p->loss,
                             p->images_per_s);
  post (run, r);
}

/* The panels of facet_pretrain_show (original | masked | reconstruction,
 * side by side) regrouped into one picture: a column per face, a row per
 * kind of panel. */
static GBytes *
learned_sheet (GPtrArray *panels,
               int       *width,
               int       *height)
{
  FacetImage *first = g_ptr_array_index (panels, 0);
  int size = first->height, n = (int) panels->len;
  gsize stride;
  guint8 *pixels;

  *width = n * size + (n - 1) * LEARNED_GAP;
  *height = 3 * size + 2 * LEARNED_GAP;
  stride = 3 * (gsize) *width;
  pixels = g_malloc (stride * *height);
  memset (pixels, 255, stride * *height);
  for (int i = 0; i < n; i++)
    {
      FacetImage *p = g_ptr_array_index (panels, i);
      for (int k = 0; k < 3; k++)
        for (int y = 0; y < size; y++)
          memcpy (pixels + (gsize) (k * (size + LEARNED_GAP) + y) * stride
                    + 3 * (gsize) i * (size + LEARNED_GAP),
                  p->data + (gsize) y * p->stride + 3 * (gsize) k * size, 3 * (gsize) size);
    }
  return g_bytes_new_take (pixels, stride * *height);
}

/* A few faces spread over the project, through the adapted model. */
static gboolean
post_learned (Run                       *run,
              FacetModel                *model,
              GPtrArray                 *crops,
              const FacetPretrainConfig *cfg,
              GError                   **error)
{
  FacetImage *picks[LEARNED_FACES];
  guint n = MIN (crops->len, LEARNED_FACES);
  g_autoptr (GPtrArray) panels = NULL;
  Report *r;

  for (guint i = 0; i < n; i++)
    picks[i] = g_ptr_array_index (crops, (gsize) i * crops->len / n);
  panels = facet_pretrain_show (model, picks, n, cfg->mask_ratio, cfg->seed, error);
  if (panels == NULL)
    return FALSE;
  r = g_new0 (Report, 1);
  r->kind = REPORT_LEARNED;
  r->pixels = learned_sheet (panels, &r->width, &r->height);
  /* TRANSLATORS: under the picture of faces; %.0f is the share of the face hidden */
  r->text = g_strdup_printf (_("Top: faces of these videos. Middle: what the model was shown, "
                               "%.0f %% hidden (grey). Bottom: how it filled them in."),
                             100 * cfg->mask_ratio);
  post (run, r);
  return TRUE;
}

/* Pre-trains on every face of the project's videos, from the base model,
 * saves and registers the result, and makes it the base of fine-tuning. */
static gboolean
adapt (Run          *run,
       FacetStore   *store,
       GCancellable *cancellable,
       GError      **error)
{
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GPtrArray) crops = NULL;
  g_autoptr (GArray) epochs = NULL;
  g_autofree char *path = NULL;
  FacetPretrainSaveOptions so = { 0 };
  FacetPretrainConfig cfg;
  guint skipped = 0, stride;

  run->adapting = TRUE; /* read by train_done once the thread has returned */
  post_status (run, -1, _("Preparing to adapt the base model…"));
  model = facet_pretrain_model_new (run->base_path, NULL, 0, NULL, 0, error);
  if (model == NULL || (stride = adapt_stride (store, error)) == 0)
    return FALSE;
  crops = facet_pretrain_collect (store, facet_model_get_config (model), stride, cancellable,
                                  on_faces_progress, run, &skipped, error);
  if (crops == NULL)
    return FALSE;

  facet_pretrain_config_init (&cfg);
  cfg.epochs = run->pretrain_epochs;
  cfg.cancellable = cancellable;
  cfg.on_step = on_pretrain_step;
  cfg.user_data = run;
  /* No checkpoint: a stopped run leaves nothing behind. */
  epochs = facet_pretrain_run (model, (FacetImage * const *) crops->pdata, crops->len, &cfg, error);
  if (epochs == NULL || g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  post_status (run, 1.0, _("Saving the adapted model…"));
  so.base_id = run->base_id;
  so.base_desc = run->base_path;
  so.stride = stride;
  so.n_frames = crops->len;
  so.skipped = skipped;
  run->adapted_id = facet_pretrain_save_model (store, model, &cfg, epochs, &so, &path, error);
  if (run->adapted_id <= 0)
    return FALSE;
  run->adapted_name = g_strdup (facet_model_get_config (model)->name);
  if (!post_learned (run, model, crops, &cfg, error))
    return FALSE;

  /* Fine-tuning goes on from the adapted model, its row the new one's parent. */
  g_free (run->base_path);
  run->base_path = g_steal_pointer (&path);
  run->base_id = run->adapted_id;
  run->adapting = FALSE;
  return TRUE;
}

/* The base model for fine-tuning from run->base_path, @cfg set from the
 * dialog, and everything that can be refused refused before frames are
 * decoded. */
static gboolean
prepare (Run                *run,
         FacetStore         *store,
         GCancellable       *cancellable,
         FacetTrainConfig   *cfg,
         FacetModel        **base,
         FacetTrainDataset **labels,
         GError            **error)
{
  FacetTrainDataOptions dopt = { 0 };
  FacetTrainMode mode;
  int last_k = 2;

  g_clear_pointer (base, facet_model_unref);
  g_clear_pointer (labels, facet_train_dataset_free);
  post_status (run, -1, _("Loading the base model…"));
  /* A pre-trained encoder gets a fresh head for the AUs the coders label. */
  *base = facet_train_load_base (store, run->base_path, 0, error);
  if (*base == NULL)
    return FALSE;

  facet_train_config_init (cfg);
  if (!facet_train_mode_parse (run->mode_text, &mode, &last_k, error))
    return FALSE;
  /* The mode's own defaults (heads mode: a linear probe's rate, no IAT). */
  facet_train_config_set_mode (cfg, mode, last_k);
  cfg->iat_lambda = run->lambda;
  cfg->epochs = run->epochs;
  /* the preferences' precision (FacetApplication makes it the default) */
  cfg->precision = facet_backend_get_default_precision ();
  cfg->cancellable = cancellable;
  cfg->on_step = on_step;
  cfg->on_epoch = on_epoch;
  cfg->user_data = run;
  if (!facet_train_check_settings (*base, cfg, error))
    return FALSE;

  dopt.labels_only = TRUE;
  *labels = facet_train_dataset_from_store (store, facet_model_get_config (*base), &dopt, error);
  return *labels != NULL
         && facet_train_check (*base, facet_train_dataset_get_data (*labels), cfg, error);
}

/* The base model the coder chose, on the held-out frames of @result, as the
 * comparison's reference (after adapting, fine-tuning started from another
 * model). A chosen model without AU outputs has nothing to compare: its
 * report is empty ("—"). */
static gboolean
measure_chosen (Run                    *run,
                FacetTrainDataset      *dataset,
                const FacetTrainConfig *cfg,
                FacetModel             *trained,
                FacetTrainResult       *result,
                GError                **error)
{
  const FacetModelConfig *mc = facet_model_get_config (trained);
  g_autoptr (FacetModel) chosen = NULL;
  FacetEpochReport *rep = g_new0 (FacetEpochReport, 1);

  post_status (run, -1, _("Measuring the base model on the same held-out frames…"));
  chosen = facet_model_load (run->chosen_path, NULL, error);
  if (chosen == NULL)
    {
      g_free (rep);
      return FALSE;
    }
  run->chosen_no_aus = facet_model_get_config (chosen)->n_aus == 0;
  if (run->chosen_no_aus)
    {
      rep->f1_05 = rep->f1_best = rep->best_threshold = rep->auc_mean = NAN;
      rep->train_loss = rep->train_au_loss = rep->train_id_loss = NAN;
      rep->id_probe_acc = rep->id_probe_chance = -1.0;
      rep->id_probe_train_acc = rep->id_probe_train_chance = -1.0;
      rep->f1 = g_new (double, MAX (mc->n_aus, 1));
      rep->auc = g_new (double, MAX (mc->n_aus, 1));
      for (int a = 0; a < mc->n_aus; a++)
        rep->f1[a] = rep->auc[a] = NAN;
    }
  else if (!facet_train_evaluate (chosen, facet_train_dataset_get_data (dataset),
                                  result->val_subjects, result->n_val_subjects, cfg, mc->au_ids,
                                  mc->n_aus, rep, error))
    {
      g_free (rep);
      return FALSE;
    }
  result->reference = rep;
  result->reference_id = run->chosen_id;
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

  store = facet_store_open (run->project_path, &error);
  if (store == NULL || !prepare (run, store, cancellable, &cfg, &base, &labels, &error))
    goto failed;
  /* Fine-tuning's settings and labels are checked above, before adapting,
   * and again for the adapted model. */
  if (run->adapt && (!adapt (run, store, cancellable, &error)
                     || !prepare (run, store, cancellable, &cfg, &base, &labels, &error)))
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
  /* The stored base_* metrics and the left column: the chosen base, not the
   * adapted model (epoch 0) with its untrained heads. */
  if (run->adapt && !measure_chosen (run, dataset, &cfg, trained, result, &error))
    goto failed;

  facet_train_config_resolve (&cfg, base); /* the settings the run used, for the record */
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
  /* Epoch 0 is the base model on the same held-out frames as the new one;
   * after adapting, the chosen base measured there (result->reference). */
  last = &g_array_index (result->epochs, FacetEpochReport, result->epochs->len - 1);
  run->start_f1 = g_array_index (result->epochs, FacetEpochReport, 0).f1_05;
  keep_report (run, 0, result->reference != NULL ? result->reference
                                                 : &g_array_index (result->epochs,
                                                                   FacetEpochReport, 0));
  keep_report (run, 1, last);
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

/* The words under the table: what "—" means, AUs that could not be
 * measured, why the base model's numbers differ from the sidebar's. */
static char *
results_notes (const Run *run)
{
  g_autoptr (GString) notes = g_string_new (NULL);
  g_autoptr (GString) unmeasured = g_string_new (NULL);

  for (int a = 0; a < run->n_aus; a++)
    if (!isfinite (run->f1[1][a]) && !isfinite (run->f1[0][a]))
      {
        g_autofree char *code = facet_facs_code (run->au_ids[a]);
        g_string_append_printf (unmeasured, "%s%s", unmeasured->len ? ", " : "", code);
      }
  if (unmeasured->len > 0)
    {
      /* TRANSLATORS: %s is a list of AU codes */
      g_string_append_printf (notes, _("No held-out frame shows %s, so F1 cannot be measured for "
                                       "them (—)."), unmeasured->str);
      g_string_append_c (notes, '\n');
    }
  if (!(run->metrics[1][2] >= 0))
    {
      g_string_append (notes, _("Identity probe on the held-out subjects: — means fewer than two "
                                "held-out subjects with enough frames to tell apart."));
      g_string_append_c (notes, '\n');
    }
  if (run->chance[0] >= 0 || run->chance[1] >= 0)
    {
      g_autofree char *c0 = run->chance[0] >= 0 ? g_strdup_printf ("%.3f", run->chance[0]) : g_strdup ("—");
      g_autofree char *c1 = run->chance[1] >= 0 ? g_strdup_printf ("%.3f", run->chance[1]) : g_strdup ("—");
      /* TRANSLATORS: the identity probe's chance levels: held-out, training subjects */
      g_string_append_printf (notes, _("The identity probe guesses who is shown from the model's "
                                       "features, fitted on the first 70 %% of each person's frames "
                                       "and tested on the last 30 %%; lower means the model relies less "
                                       "on who the person is. Chance: %s held-out, %s training "
                                       "subjects."), c0, c1);
      g_string_append_c (notes, '\n');
    }
  if (run->adapt && run->chosen_no_aus)
    {
      /* TRANSLATORS: %s is the base model's name */
      g_string_append_printf (notes, _("The base model “%s” is a pre-trained model without AU "
                                       "outputs: there is nothing of it to compare (—)."),
                              run->base_name);
      g_string_append_c (notes, '\n');
    }
  if (run->adapt)
    {
      g_autofree char *start = metric_text (run->start_f1);
      /* TRANSLATORS: the adapted model's name and its mean F1 with untrained AU heads */
      g_string_append_printf (notes, _("Fine-tuning started from the adapted model “%s”, whose new AU "
                                       "heads no label had trained yet (mean F1 %s, chance level); "
                                       "the left column is the base model you chose."),
                              run->adapted_name, start);
      g_string_append_c (notes, '\n');
    }
  g_string_append (notes, _("Both columns are measured here on the same held-out frames of this "
                            "project; the sidebar shows what the base model reached on the frames it "
                            "was checked on when it was made, so its numbers differ."));
  return g_string_free (g_steal_pointer (&notes), FALSE);
}

static void
add_row (FacetFinetuneDialog *self,
         int                  row,
         const char          *label,
         double               a,
         double               b)
{
  g_autofree char *x = metric_text (a);
  g_autofree char *y = metric_text (b);

  add_cell (self, label, 0, row, FALSE);
  add_cell (self, x, 1, row, FALSE);
  add_cell (self, y, 2, row, FALSE);
}

static void
show_results (FacetFinetuneDialog *self,
              const Run           *run)
{
  static const char *names[] = { N_("Mean F1 at 0.5"), N_("Mean ROC AUC"),
                                 N_("Identity probe, held-out subjects"),
                                 N_("Identity probe, training subjects") };
  g_autofree char *notes = results_notes (run);
  g_autofree char *base = NULL;
  GtkWidget *child, *label;
  int row = 1;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->results_grid))) != NULL)
    gtk_grid_remove (self->results_grid, child);
  add_cell (self, _("On the held-out subjects"), 0, 0, TRUE);
  /* TRANSLATORS: a column heading: the base model's name (also after adapting to the videos:
   * the model the coder chose, not the adapted one) */
  base = g_strdup_printf (_("Base model “%s”"), run->base_name);
  add_cell (self, base, 1, 0, TRUE);
  add_cell (self, run->new_name, 2, 0, TRUE);
  for (guint m = 0; m < G_N_ELEMENTS (names); m++, row++)
    add_row (self, row, _(names[m]), run->metrics[0][m], run->metrics[1][m]);
  /* Every AU of the model, measured or not (the notes say why not). */
  for (int a = 0; a < run->n_aus; a++)
    {
      g_autofree char *code = facet_facs_code (run->au_ids[a]);
      g_autofree char *f1 = g_strdup_printf (_("F1 %s"), code);
      g_autofree char *auc = g_strdup_printf (_("AUC %s"), code);
      add_row (self, row++, f1, run->f1[0][a], run->f1[1][a]);
      add_row (self, row++, auc, run->auc[0][a], run->auc[1][a]);
    }
  label = gtk_label_new (notes);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_grid_attach (self->results_grid, label, 0, row, 3, 1);
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
  gtk_widget_set_sensitive (GTK_WIDGET (self->lambda_spin),
                            !running && adw_combo_row_get_selected (self->mode_row) != 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->epochs_spin), !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->adapt_row), !running && self->can_adapt);
  gtk_widget_set_sensitive (GTK_WIDGET (self->pretrain_epochs_row),
                            !running && self->can_adapt
                              && gtk_switch_get_active (self->adapt_switch));
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
      g_autofree char *text = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && run->adapted_id > 0)
        /* TRANSLATORS: %s is the adapted (pre-trained) model's name */
        /* TRANSLATORS: the adapted (pre-trained) model's name, the base model's name */
        text = g_strdup_printf (_("Stopped. The adapted model “%s” was saved; the fine-tuning "
                                  "was not, so there is no new model to compare with the base "
                                  "model “%s”. Choose the adapted model as the base model to "
                                  "fine-tune from it."),
                                run->adapted_name, run->base_name);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        text = g_strdup (_("Stopped. Nothing was saved; start again when you like."));
      else if (run->adapting)
        text = g_strdup_printf (_("Adapting to the videos failed: %s"), error->message);
      else
        text = g_strdup_printf (_("Training failed: %s"), error->message);
      gtk_label_set_text (self->status_label, text);
      if (run->adapted_id > 0)
        facet_project_reload (self->project);
      gtk_progress_bar_set_fraction (self->progress, 0);
      return;
    }
  self->new_model_id = run->new_id;
  {
    g_autofree char *text = NULL;

    if (run->adapt)
      /* TRANSLATORS: after adapting and fine-tuning: the adapted model's name, the new
       * model's name, training and validation sample counts */
      text = g_strdup_printf (_("Adapted to the videos as “%s”, then fine-tuned and saved as "
                                "model “%s”, trained on %u frames and checked on %u frames of "
                                "other subjects."),
                              run->adapted_name, run->new_name, run->n_train, run->n_val);
    else
      /* TRANSLATORS: after fine-tuning: the new model's name, training and
       * validation sample counts */
      text = g_strdup_printf (_("Saved as model “%s”, trained on %u frames and "
                                "checked on %u "
                                "frames of other subjects."),
                              run->new_name, run->n_train, run->n_val);
    gtk_label_set_text (self->status_label, text);
  }
  show_results (self, run);
  gtk_widget_set_visible (GTK_WIDGET (self->reanalyse_button), TRUE);
  if (run->metrics[1][0] < run->metrics[0][0])
    {
      /* TRANSLATORS: fine-tuning made things worse: new and base mean F1 */
      g_autofree char *text = g_strdup_printf (_("The new model is worse than the base model on the "
                                                 "held-out subjects (mean F1 %.3f against %.3f): keep "
                                                 "analysing with the base model, or code more frames "
                                                 "and people and train again."),
                                               run->metrics[1][0], run->metrics[0][0]);
      gtk_label_set_text (self->status_label, text);
      /* Still possible (a coder may know better), but not offered as the next step. */
      gtk_widget_remove_css_class (GTK_WIDGET (self->reanalyse_button), "suggested-action");
      gtk_button_set_label (self->reanalyse_button, _("_Analyse with the Worse Model Anyway"));
    }
  else
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->reanalyse_button), "suggested-action");
      gtk_button_set_label (self->reanalyse_button,
                            _("_Analyse the Videos with the New Model"));
    }
  facet_project_reload (self->project);
}

/* The training threads still running, process-wide (facet_finetune_stop_all). */
static FacetTaskSet training;

gboolean
facet_finetune_stop_all (guint timeout_ms)
{
  return facet_task_set_stop_all (&training, timeout_ms);
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
  run->chosen_path = g_strdup (run->base_path);
  run->chosen_id = m->id;
  run->base_name = m->name != NULL ? g_strdup (m->name) : g_path_get_basename (m->file);
  run->start_f1 = NAN;
  run->mode_text = g_strdup (modes[MIN (mode, G_N_ELEMENTS (modes) - 1)]);
  run->lambda = gtk_spin_button_get_value (self->lambda_spin);
  run->heads = mode == 0;
  run->epochs = gtk_spin_button_get_value_as_int (self->epochs_spin);
  run->adapt = self->can_adapt && gtk_switch_get_active (self->adapt_switch);
  run->pretrain_epochs = gtk_spin_button_get_value_as_int (self->pretrain_epochs_spin);
  run->metrics[0][0] = run->metrics[0][1] = run->metrics[0][2] = NAN;

  self->cancellable = g_cancellable_new ();
  self->new_model_id = 0;
  gtk_widget_set_visible (GTK_WIDGET (self->results_grid), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->reanalyse_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->learned_box), FALSE);
  facet_train_plot_reset (self->plot, 1, run->epochs);
  set_running (self, TRUE);
  task = g_task_new (self, self->cancellable, train_done, NULL);
  g_task_set_source_tag (task, on_start_clicked);
  g_task_set_task_data (task, run, run_free);
  facet_task_set_run_in_thread (&training, task, train_thread);
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

/* ---- Whether the base can be adapted ----------------------------------------------------------- */

/* NULL when @m can be pre-trained further, else why not. */
static char *
adapt_refusal (FacetFinetuneDialog   *self,
               const FacetStoreModel *m,
               gboolean              *has_decoder)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetModelConfig) c = facet_model_config_from_string (m->config_json, &error);
  g_autofree char *folder = g_path_get_dirname (facet_project_get_path (self->project));
  g_autofree char *path = g_path_is_absolute (m->file) ? g_strdup (m->file)
                                                       : g_build_filename (folder, m->file, NULL);

  if (c == NULL)
    /* TRANSLATORS: %s says what is wrong with the model's description */
    return g_strdup_printf (_("its description cannot be read (%s)"), error->message);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    /* TRANSLATORS: %s is a file name */
    return g_strdup_printf (_("its file %s is missing"), path);
  if (c->in_chans != 3 || c->patch_size <= 0 || c->image_size % c->patch_size != 0
      || facet_model_config_grid (c) < 2)
    return g_strdup (_("its input is not a colour image cut into square patches, which "
                       "pre-training hides and fills in"));
  *has_decoder = c->decoder_dim > 0;
  return NULL;
}

/* What adapting would start from, or why it cannot; the switch follows. */
static void
update_adapt (FacetFinetuneDialog *self)
{
  guint row = adw_combo_row_get_selected (self->base_row);
  FacetStoreModel *m = NULL;
  g_autofree char *why = NULL, *text = NULL;
  gboolean has_decoder = FALSE;

  if (self->project != NULL && row < self->model_ids->len)
    m = facet_project_find_model (self->project, g_array_index (self->model_ids, gint64, row));
  if (m == NULL)
    why = g_strdup (_("no base model is chosen"));
  else
    why = adapt_refusal (self, m, &has_decoder);
  self->can_adapt = why == NULL;
  if (why != NULL)
    {
      /* TRANSLATORS: %s says why, e.g. "its file /x/y.safetensors is missing" */
      text = g_strdup_printf (_("This base model cannot be adapted: %s."), why);
      gtk_switch_set_active (self->adapt_switch, FALSE);
    }
  else if (has_decoder)
    text = g_strdup (_("Continues this pre-trained model’s training on these videos; fine-tuning "
                       "then gives it AU heads."));
  else
    text = g_strdup (_("Starts from this model’s encoder with a new decoder. Fine-tuning then "
                       "learns its AU heads anew from your labels."));
  gtk_label_set_text (self->adapt_label, text);
  set_running (self, self->running);
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
  update_adapt (self);
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
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, adapt_label);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, adapt_row);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, adapt_switch);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, base_row);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, close_button);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, data_label);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, epochs_spin);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, lambda_spin);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, learned_box);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, learned_label);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, learned_picture);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, mode_row);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, plot);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, pretrain_epochs_row);
  gtk_widget_class_bind_template_child (widget_class, FacetFinetuneDialog, pretrain_epochs_spin);
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

/* Heads mode freezes the backbone, where IAT acts: its strength is 0 there
 * and cannot be set; the other modes get back what was set for them. */
static void
on_mode_changed (FacetFinetuneDialog *self)
{
  gboolean heads = adw_combo_row_get_selected (self->mode_row) == 0;

  if (heads && gtk_widget_get_sensitive (GTK_WIDGET (self->lambda_spin)))
    self->lambda = gtk_spin_button_get_value (self->lambda_spin);
  gtk_spin_button_set_value (self->lambda_spin, heads ? 0.0 : self->lambda);
  gtk_widget_set_sensitive (GTK_WIDGET (self->lambda_spin), !heads && !self->running);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->lambda_spin),
                               heads ? _("Needs a trainable backbone: choose the last two blocks "
                                         "or every layer")
                                     : NULL);
}

static void
facet_finetune_dialog_init (FacetFinetuneDialog *self)
{
  self->model_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gtk_widget_init_template (GTK_WIDGET (self));
  self->lambda = gtk_spin_button_get_value (self->lambda_spin);
  g_signal_connect_swapped (self->mode_row, "notify::selected", G_CALLBACK (on_mode_changed), self);
  on_mode_changed (self);
  g_signal_connect_swapped (self->base_row, "notify::selected", G_CALLBACK (update_adapt), self);
  g_signal_connect_swapped (self->adapt_switch, "notify::active", G_CALLBACK (update_adapt), self);
}
