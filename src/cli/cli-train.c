/* cli-train.c — facet-cli finetune and facet-cli models */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "cli.h"
#include "store/facet-store.h"
#include "train/facet-train.h"
#include "train/train-save.h"

typedef struct
{
  gboolean quiet;
  gboolean tty;
  double   last_print;
  gboolean header_done;
} Reporter;

/* Training runs on the main thread without a main loop: dispatch pending
 * sources (the SIGINT/SIGTERM handlers) now and then so that Ctrl+C stops
 * the run at the next step. */
static void
dispatch_signals (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
on_data_progress (double      fraction,
                  const char *message,
                  gpointer    data)
{
  dispatch_signals ();
}

static void
on_step (const FacetTrainProgress *p,
         gpointer                  data)
{
  Reporter *r = data;
  double now = facet_now ();

  dispatch_signals ();
  /* A terminal gets one line updated in place; a log gets a line per step,
   * at most one a second. */
  if (r->quiet || (now - r->last_print < (r->tty ? 0.2 : 1.0) && p->step != p->n_steps))
    return;
  r->last_print = now;
  fprintf (stderr, "%sepoch %d/%d  step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
                   "  loss %.4f (AU %.4f, ID %.4f)  lr %.2e  %.1f img/s%s",
           r->tty ? "\r" : "", p->epoch, p->n_epochs, p->step, p->n_steps, p->loss, p->au_loss,
           p->id_loss, p->lr, p->images_per_second, r->tty ? "   " : "\n");
  fflush (stderr);
}

static void
print_number (double v)
{
  if (isnan (v) || v < 0)
    printf ("   -  ");
  else
    printf (" %5.3f", v);
}

static void
on_epoch (const FacetEpochReport *e,
          gpointer                data)
{
  Reporter *r = data;

  if (!r->quiet && r->tty)
    fprintf (stderr, "\n");
  if (!r->header_done)
    printf ("epoch   loss  AU loss  ID loss   F1@.5  F1@best (t)   AUC  ID probe  seconds  "
            "ID probe (training subjects)\n");
  r->header_done = TRUE;
  if (e->epoch == 0)
    printf ("base       -        -        -    ");
  else
    printf ("%5d %6.4f  %6.4f   %6.4f  ", e->epoch, e->train_loss, e->train_au_loss, e->train_id_loss);
  print_number (e->f1_05);
  printf ("  ");
  print_number (e->f1_best);
  printf (" (%.2f)", e->best_threshold);
  print_number (e->auc_mean);
  printf ("   ");
  print_number (e->id_probe_acc);
  printf ("  %7.1f  ", e->seconds);
  print_number (e->id_probe_train_acc);
  printf ("\n");
  fflush (stdout);
}

static gboolean
cancel_on_signal (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_CONTINUE;
}

typedef struct
{
  char    *base_arg, *mode_text, *name, *val_names, *precision;
  gboolean resume, no_augment, include_accepted, quiet, balance;
  /* NAN or -1: the mode's default (facet_train_config_set_mode) */
  double   lambda, lr, blr, layer_decay, weight_decay, warmup, drop_path, clip, val, anchor, id_lr;
  int      epochs, batch, max_per_video;
  gint64   seed;
} FinetuneOptions;

static void
finetune_options_clear (FinetuneOptions *o)
{
  g_free (o->base_arg);
  g_free (o->mode_text);
  g_free (o->name);
  g_free (o->val_names);
  g_free (o->precision);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FinetuneOptions, finetune_options_clear)

/* The command line into @cfg; FALSE (with the message printed) on error. */
static gboolean
finetune_parse (int             *argc,
                char          ***argv,
                FinetuneOptions *o,
                FacetTrainConfig *cfg)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — fine-tune a model on the project's labels");
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    { "base", 0, 0, G_OPTION_ARG_STRING, &o->base_arg, "Model to start from: a file or a model id of the project", "M" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &o->mode_text, "heads, last:K or full (default heads)", "MODE" },
    { "iat-lambda", 0, 0, G_OPTION_ARG_DOUBLE, &o->lambda, "Identity adversarial strength (last:K and full: default 0.5; heads: 0, the only value it takes)", "L" },
    { "iat-head-lr", 0, 0, G_OPTION_ARG_DOUBLE, &o->id_lr, "IAT: the identity head's learning rate times F (default 1, the recipe)", "F" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &o->epochs, "Epochs (default 30 in heads mode, else 10)", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &o->batch, "Batch size (default 32)", "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &o->lr, "Peak learning rate (heads mode: 1e-2 for a new head, 3e-4 for a trained one; else blr x batch / 256)", "LR" },
    { "blr", 0, 0, G_OPTION_ARG_DOUBLE, &o->blr, "Base learning rate of last:K and full (default 5e-4)", "BLR" },
    { "layer-decay", 0, 0, G_OPTION_ARG_DOUBLE, &o->layer_decay, "Layer-wise lr decay (default 0.65; heads: 1)", "D" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &o->weight_decay, "AdamW weight decay (default 0.05; heads: 0)", "W" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &o->warmup, "Warm-up epochs (default: min(2, epochs/5))", "E" },
    { "drop-path", 0, 0, G_OPTION_ARG_DOUBLE, &o->drop_path, "Stochastic depth of the last block (default 0.1)", "P" },
    { "clip-grad", 0, 0, G_OPTION_ARG_DOUBLE, &o->clip, "Clip the gradient norm (default off)", "N" },
    { "val-fraction", 0, 0, G_OPTION_ARG_DOUBLE, &o->val, "Share of subjects held out for validation (default 0.25)", "F" },
    { "val-subjects", 0, 0, G_OPTION_ARG_STRING, &o->val_names, "Or hold out exactly these subjects", "S1,S2,..." },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o->seed, "Random seed (split, order, augmentation)", "S" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &o->precision, "Products in fp32 or bf16 (fp32 master weights and optimiser state either way; bf16 where the processor has AVX512-BF16), or auto: bf16 where it has (default: fp32)", "P" },
    { "balance", 0, 0, G_OPTION_ARG_NONE, &o->balance, "Heads mode: class-balanced BCE (present labels weigh absent/present)", NULL },
    { "anchor", 0, 0, G_OPTION_ARG_DOUBLE, &o->anchor, "Heads mode: L2 pull of the AU head towards the base model's (default 0: off)", "K" },
    { "no-augment", 0, 0, G_OPTION_ARG_NONE, &o->no_augment, "Train without augmentation", NULL },
    { "include-accepted", 0, 0, G_OPTION_ARG_NONE, &o->include_accepted, "Use accepted predictions as labels too", NULL },
    { "max-per-video", 0, 0, G_OPTION_ARG_INT, &o->max_per_video, "Use at most N labelled frames of each video", "N" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &o->name, "Name of the new model", "NAME" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &o->resume, "Continue an interrupted run from its checkpoint", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "No progress line", NULL },
    { NULL }
  };
  FacetTrainMode mode = FACET_TRAIN_HEADS;
  int last_k = 2;

  o->lambda = o->lr = o->blr = o->layer_decay = o->weight_decay = NAN;
  o->warmup = -1.0;
  o->id_lr = 1.0;
  o->drop_path = 0.1;
  o->val = 0.25;
  o->epochs = -1;
  o->batch = 32;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, argc, argv))
    return FALSE;
  if (*argc != 2)
    return facet_cli_failf ("finetune takes one project file (see --help)") == 0;
  if (o->base_arg == NULL)
    return facet_cli_failf ("finetune needs --base: a model file or the id of a model in the project") == 0;
  if (o->mode_text != NULL && !facet_train_mode_parse (o->mode_text, &mode, &last_k, &error))
    return facet_cli_fail (g_steal_pointer (&error)) == 0;

  facet_train_config_init (cfg);
  facet_train_config_set_mode (cfg, mode, last_k);
  if (o->precision != NULL
      && (!facet_precision_from_string (o->precision, &cfg->precision)
          || cfg->precision == FACET_PRECISION_FP16))
    return facet_cli_failf ("unknown precision “%s” (fp32, bf16 or auto)", o->precision) == 0;
  cfg->batch = o->batch;
  if (!isnan (o->lambda))
    cfg->iat_lambda = o->lambda;
  if (o->epochs != -1)
    cfg->epochs = o->epochs;
  if (!isnan (o->lr) && o->lr > 0)
    cfg->optim.base_lr = o->lr;
  else if (!isnan (o->blr) && o->blr > 0)
    cfg->optim.base_lr = o->blr * o->batch / 256.0;
  if (!isnan (o->layer_decay))
    cfg->optim.layer_decay = o->layer_decay;
  if (!isnan (o->weight_decay))
    cfg->optim.weight_decay = o->weight_decay;
  cfg->optim.warmup_epochs = o->warmup;
  cfg->drop_path = o->drop_path;
  cfg->clip_grad = o->clip;
  cfg->val_fraction = o->val;
  cfg->seed = (guint64) o->seed;
  cfg->augment = !o->no_augment;
  cfg->resume = o->resume;
  cfg->balance = o->balance;
  cfg->anchor = o->anchor;
  cfg->optim.id_head_lr_scale = o->id_lr;
  return TRUE;
}

/* --val-subjects by name into subject indices of the labels. */
static gboolean
finetune_val_subjects (const char        *project,
                       const char        *names_text,
                       const FacetTrainData *d,
                       GArray            *ids)
{
  g_auto (GStrv) names = g_strsplit (names_text, ",", -1);

  for (guint i = 0; names[i] != NULL; i++)
    {
      int found = -1;
      for (int s = 0; s < d->n_subjects; s++)
        if (g_strcmp0 (d->subject_names[s], g_strstrip (names[i])) == 0)
          found = s;
      if (found < 0)
        return facet_cli_failf ("%s: no subject “%s” in the project", project, names[i]) == 0;
      g_array_append_val (ids, found);
    }
  return TRUE;
}

/* Heads mode's last lines: both models at the thresholds they are used with,
 * and whether the head was kept. */
static void
finetune_summary_heads (const FacetTrainResult *result,
                        const FacetEpochReport *base,
                        const FacetEpochReport *last)
{
  printf ("at each model's own per-AU thresholds (the new model's chosen on the training subjects, "
          "out of fold), held-out mean F1: base %.3f, new %.3f (%+.3f)\n",
          result->base_f1_at_thresholds, result->f1_at_thresholds,
          result->f1_at_thresholds - result->base_f1_at_thresholds);
  if (result->kept_base)
    printf ("note: on the training subjects, out of fold, a new head reached mean F1 %.3f against "
            "the base's %.3f; that is no clear gain, so the new model keeps the base's head and "
            "thresholds\n",
            result->oof_f1, result->base_train_f1);
  else if (result->f1_at_thresholds < result->base_f1_at_thresholds
           || (isnan (result->f1_at_thresholds) && last->f1_05 < base->f1_05))
    printf ("note: the new model is worse than its base on the held-out subjects; "
            "keep using the base\n");
}

/* The last lines: the split, and the new model beside its base on the same
 * held-out frames. */
static void
finetune_summary (const FacetTrainResult *result,
                  const FacetTrainData   *d)
{
  g_autoptr (GString) held = g_string_new (NULL);
  const FacetEpochReport *base = &g_array_index (result->epochs, FacetEpochReport, 0);
  const FacetEpochReport *last = &g_array_index (result->epochs, FacetEpochReport,
                                                 result->epochs->len - 1);

  for (int i = 0; i < result->n_val_subjects; i++)
    g_string_append_printf (held, "%s%s", i ? ", " : "", d->subject_names[result->val_subjects[i]]);
  printf ("trained on %d subjects (%u frames); held out for validation: %d subjects (%u frames): %s\n",
          result->n_train_subjects, result->n_train, result->n_val_subjects, result->n_val,
          held->str);
  if (base->epoch != 0)
    return;
  printf ("held-out mean F1 (at 0.5): base %.3f, new %.3f (%+.3f); mean AUC: base %.3f, new %.3f (%+.3f)\n",
          base->f1_05, last->f1_05, last->f1_05 - base->f1_05, base->auc_mean, last->auc_mean,
          last->auc_mean - base->auc_mean);
  if (last->id_probe_acc >= 0 || last->id_probe_train_acc >= 0)
    printf ("identity probe (split in time; chance in brackets): held-out subjects base %.3f, new %.3f "
            "(%.3f); training subjects base %.3f, new %.3f (%.3f)\n",
            base->id_probe_acc, last->id_probe_acc, last->id_probe_chance, base->id_probe_train_acc,
            last->id_probe_train_acc, last->id_probe_train_chance);
  if (result->f1_at_thresholds_au != NULL)
    finetune_summary_heads (result, base, last);
  else if (last->f1_05 < base->f1_05)
    printf ("note: the new model is worse than its base on the held-out subjects; keep using the base\n");
}

int
facet_cli_finetune (int    argc,
                    char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetModel) base = NULL, trained = NULL;
  g_autoptr (FacetTrainDataset) labels = NULL, dataset = NULL;
  g_autoptr (FacetTrainResult) result = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *base_path = NULL, *checkpoint = NULL, *out_path = NULL;
  g_autoptr (GArray) val_ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_auto (FinetuneOptions) o = { 0 };
  FacetTrainConfig cfg;
  FacetTrainDataOptions dopt = { 0 };
  FacetTrainSaveOptions save = { 0 };
  Reporter reporter = { 0 };
  gint64 base_id = 0, new_id;
  guint sigint_id, sigterm_id;

  if (!finetune_parse (&argc, &argv, &o, &cfg))
    return 1;
  cfg.cancellable = cancel;
  cfg.on_step = on_step;
  cfg.on_epoch = on_epoch;
  reporter.quiet = o.quiet;
  reporter.tty = isatty (fileno (stderr));
  cfg.user_data = &reporter;

  store = facet_store_open (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  base_path = facet_cli_resolve_model (store, o.base_arg, &base_id, &error);
  if (base_path == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  base = facet_train_load_base (store, base_path, (guint64) o.seed, &error);
  if (base == NULL)
    return facet_cli_fail (g_steal_pointer (&error));

  checkpoint = g_strconcat (argv[1], ".finetune.ckpt", NULL);
  cfg.checkpoint = checkpoint;
  if (o.resume && !g_file_test (checkpoint, G_FILE_TEST_IS_REGULAR))
    return facet_cli_failf ("%s: no checkpoint to resume from (start without --resume)", checkpoint);

  /* Everything that can be refused is refused before frames are decoded. */
  if (!facet_train_check_settings (base, &cfg, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  dopt.include_accepted = o.include_accepted;
  dopt.max_per_video = o.max_per_video > 0 ? (guint) o.max_per_video : 0;
  dopt.labels_only = TRUE;
  labels = facet_train_dataset_from_store (store, facet_model_get_config (base), &dopt, &error);
  if (labels == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (o.val_names != NULL)
    {
      if (!finetune_val_subjects (argv[1], o.val_names, facet_train_dataset_get_data (labels), val_ids))
        return 1;
      cfg.val_subjects = (const int *) val_ids->data;
      cfg.n_val_subjects = (int) val_ids->len;
    }
  if (!facet_train_check (base, facet_train_dataset_get_data (labels), &cfg, &error))
    return facet_cli_fail (g_steal_pointer (&error));

  if (facet_train_precision_notice (cfg.precision) != NULL)
    fprintf (stderr, "facet-cli: notice: %s\n", facet_train_precision_notice (cfg.precision));

  sigint_id = g_unix_signal_add (SIGINT, cancel_on_signal, cancel);
  sigterm_id = g_unix_signal_add (SIGTERM, cancel_on_signal, cancel);

  dopt.labels_only = FALSE;
  dopt.cancellable = cancel;
  dopt.progress = on_data_progress;
  if (!o.quiet)
    fprintf (stderr, "reading %u labelled frames…\n", facet_train_dataset_get_data (labels)->n);
  dataset = facet_train_dataset_from_store (store, facet_model_get_config (base), &dopt, &error);
  if (dataset == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (facet_train_dataset_get_skipped (dataset) > 0)
    fprintf (stderr, "facet-cli: note: %u labelled frames were left out (no face found or a damaged "
                     "frame)\n", facet_train_dataset_get_skipped (dataset));

  trained = facet_train_run (base, facet_train_dataset_get_data (dataset), &cfg, &result, &error);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (trained == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      fprintf (stderr, "\nfacet-cli: stopped; the last finished epoch is in %s — continue with "
                       "--resume\n", checkpoint);
      return 1;
    }
  if (trained == NULL)
    return facet_cli_fail (g_steal_pointer (&error));

  /* The new model: a file in the project's models folder and a row (the
   * same code saves what the app fine-tunes). */
  facet_train_config_resolve (&cfg, base); /* the settings the run used, for the record */
  save.name = o.name;
  save.mode_text = o.mode_text;
  save.base = base;
  save.base_path = base_path;
  save.base_id = base_id;
  new_id = facet_train_save_model (store, trained, &cfg, result, dataset, &save, &out_path, &error);
  if (new_id <= 0)
    return facet_cli_fail (g_steal_pointer (&error));
  g_unlink (checkpoint);
  printf ("model %" G_GINT64_FORMAT " “%s”: %s\n", new_id, facet_model_get_config (trained)->name,
          out_path);
  finetune_summary (result, facet_train_dataset_get_data (dataset));
  return 0;
}

static void
json_metric (GString    *out,
             JsonObject *metrics,
             const char *key)
{
  JsonNode *n = metrics ? json_object_get_member (metrics, key) : NULL;

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    g_string_append (out, "null");
  else
    {
      g_autofree char *s = json_to_string (n, FALSE);
      g_string_append (out, s);
    }
}

/* What `models --json` shows of a model's metrics (null where a model has
 * none: a base model, or one fine-tuned before the key existed). */
static const char * const model_metric_keys[] = {
  "f1_mean", "auc_mean", "f1", "auc",
  "base_f1_mean", "base_auc_mean", "base_f1", "base_auc",
  "id_probe_acc", "id_probe_chance", "id_probe_train_acc", "id_probe_train_chance",
  "base_id_probe_acc", "base_id_probe_train_acc", "thresholds", "thresholds_chosen_on",
  "f1_mean_at_thresholds", "f1_at_thresholds",
  "base_f1_mean_at_thresholds", "base_f1_at_thresholds",
  "oof_f1_mean", "base_train_f1_mean", "kept_base_head", "n_train", "n_val",
  "base_model_id", "start_f1_mean", "start_auc_mean",
};

int
facet_cli_models (int    argc,
                  char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — the models of a project");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GPtrArray) models = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "A JSON array, one object per model", NULL },
    { NULL }
  };
  GString *out;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("models takes one project file (see --help)");
  store = facet_store_open (argv[1], &error);
  if (store == NULL || (models = facet_store_list_models (store, &error)) == NULL)
    return facet_cli_fail (g_steal_pointer (&error));

  out = g_string_new (json ? "[" : "");
  if (!json)
    g_string_append (out, "  id  parent  created              F1     AUC    ID probe  name\n");
  for (guint i = 0; i < models->len; i++)
    {
      FacetStoreModel *m = g_ptr_array_index (models, i);
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GDateTime) created = g_date_time_new_from_unix_utc ((gint64) m->created);
      g_autofree char *when = g_date_time_format_iso8601 (created);
      JsonObject *metrics = NULL;

      if (m->metrics_json && json_parser_load_from_data (parser, m->metrics_json, -1, NULL)
          && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        metrics = json_node_get_object (json_parser_get_root (parser));
      if (json)
        {
          g_string_append_printf (out, "%s{\"id\":%" G_GINT64_FORMAT ",\"name\":", i ? "," : "", m->id);
          facet_cli_json_string (out, m->name ? m->name : "");
          g_string_append (out, ",\"file\":");
          facet_cli_json_string (out, m->file);
          if (m->parent_id > 0)
            g_string_append_printf (out, ",\"parent\":%" G_GINT64_FORMAT, m->parent_id);
          else
            g_string_append (out, ",\"parent\":null");
          g_string_append_printf (out, ",\"kind\":\"%s\"", facet_store_model_kind (m));
          g_string_append (out, ",\"created\":");
          facet_cli_json_string (out, when);
          g_string_append (out, ",\"metrics\":{");
          for (guint k = 0; k < G_N_ELEMENTS (model_metric_keys); k++)
            {
              g_string_append_printf (out, "%s\"%s\":", k ? "," : "", model_metric_keys[k]);
              json_metric (out, metrics, model_metric_keys[k]);
            }
          g_string_append (out, "}}");
        }
      else
        {
          double f1 = metrics && json_object_has_member (metrics, "f1_mean")
                          && !json_object_get_null_member (metrics, "f1_mean")
                        ? json_object_get_double_member (metrics, "f1_mean") : NAN;
          double auc = metrics && json_object_has_member (metrics, "auc_mean")
                           && !json_object_get_null_member (metrics, "auc_mean")
                         ? json_object_get_double_member (metrics, "auc_mean") : NAN;
          double probe = metrics && json_object_has_member (metrics, "id_probe_acc")
                             && !json_object_get_null_member (metrics, "id_probe_acc")
                           ? json_object_get_double_member (metrics, "id_probe_acc") : NAN;
          g_string_append_printf (out, "%4" G_GINT64_FORMAT "  ", m->id);
          if (m->parent_id > 0)
            g_string_append_printf (out, "%6" G_GINT64_FORMAT, m->parent_id);
          else
            g_string_append (out, "     -");
          g_string_append_printf (out, "  %.19s  ", when);
          g_string_append_printf (out, isnan (f1) ? "  -   " : "%5.3f ", f1);
          g_string_append_printf (out, isnan (auc) ? "  -    " : " %5.3f ", auc);
          g_string_append_printf (out, isnan (probe) ? "    -     " : "  %5.3f   ", probe);
          g_string_append_printf (out, "%s\n", m->name ? m->name : m->file);
        }
    }
  if (json)
    g_string_append (out, "]\n");
  fputs (out->str, stdout);
  g_string_free (out, TRUE);
  return 0;
}
