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
    printf ("epoch   loss  AU loss  ID loss   F1@.5  F1@best (t)   AUC  ID probe  seconds\n");
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
  printf ("  %7.1f\n", e->seconds);
  fflush (stdout);
}

static gboolean
cancel_on_signal (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_CONTINUE;
}

int
facet_cli_finetune (int    argc,
                    char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — fine-tune a model on the project's labels");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetModel) base = NULL, trained = NULL;
  g_autoptr (FacetTrainDataset) labels = NULL, dataset = NULL;
  g_autoptr (FacetTrainResult) result = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *base_arg = NULL, *mode_text = NULL, *name = NULL, *base_path = NULL;
  g_autofree char *checkpoint = NULL, *out_path = NULL, *val_names = NULL;
  g_autoptr (GArray) val_ids = g_array_new (FALSE, FALSE, sizeof (int));
  FacetTrainConfig cfg;
  FacetTrainDataOptions dopt = { 0 };
  Reporter reporter = { 0 };
  gboolean resume = FALSE, no_augment = FALSE, include_accepted = FALSE, quiet = FALSE;
  double lambda = 0.5, lr = 0.0, blr = 0.0, drop_path = 0.1, clip = 0.0, val = 0.25;
  double layer_decay = 0.65, weight_decay = 0.05, warmup = -1.0;
  int epochs = 10, batch = 32, max_per_video = 0;
  gint64 seed = 0, base_id = 0, new_id;
  guint sigint_id, sigterm_id;
  GOptionEntry entries[] = {
    { "base", 0, 0, G_OPTION_ARG_STRING, &base_arg, "Model to start from: a file or a model id of the project", "M" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode_text, "heads, last:K or full (default heads)", "MODE" },
    { "iat-lambda", 0, 0, G_OPTION_ARG_DOUBLE, &lambda, "Identity adversarial strength (0: plain fine-tuning; default 0.5)", "L" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "Epochs (default 10)", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Batch size (default 32)", "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Peak learning rate (default: blr x batch / 256)", "LR" },
    { "blr", 0, 0, G_OPTION_ARG_DOUBLE, &blr, "Base learning rate (default 5e-4)", "BLR" },
    { "layer-decay", 0, 0, G_OPTION_ARG_DOUBLE, &layer_decay, "Layer-wise lr decay (default 0.65)", "D" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "AdamW weight decay (default 0.05)", "W" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup, "Warm-up epochs (default: min(2, epochs/5))", "E" },
    { "drop-path", 0, 0, G_OPTION_ARG_DOUBLE, &drop_path, "Stochastic depth of the last block (default 0.1)", "P" },
    { "clip-grad", 0, 0, G_OPTION_ARG_DOUBLE, &clip, "Clip the gradient norm (default off)", "N" },
    { "val-fraction", 0, 0, G_OPTION_ARG_DOUBLE, &val, "Share of subjects held out for validation (default 0.25)", "F" },
    { "val-subjects", 0, 0, G_OPTION_ARG_STRING, &val_names, "Or hold out exactly these subjects", "S1,S2,..." },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (split, order, augmentation)", "S" },
    { "no-augment", 0, 0, G_OPTION_ARG_NONE, &no_augment, "Train without augmentation", NULL },
    { "include-accepted", 0, 0, G_OPTION_ARG_NONE, &include_accepted, "Use accepted predictions as labels too", NULL },
    { "max-per-video", 0, 0, G_OPTION_ARG_INT, &max_per_video, "Use at most N labelled frames of each video", "N" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Name of the new model", "NAME" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &resume, "Continue an interrupted run from its checkpoint", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress line", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("finetune takes one project file (see --help)");
  if (base_arg == NULL)
    return facet_cli_failf ("finetune needs --base: a model file or the id of a model in the project");

  facet_train_config_init (&cfg);
  if (mode_text != NULL && !facet_train_mode_parse (mode_text, &cfg.mode, &cfg.last_k, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  cfg.iat_lambda = lambda;
  cfg.epochs = epochs;
  cfg.batch = batch;
  cfg.optim.base_lr = lr > 0 ? lr : (blr > 0 ? blr : 5e-4) * batch / 256.0;
  cfg.optim.layer_decay = layer_decay;
  cfg.optim.weight_decay = weight_decay;
  cfg.optim.warmup_epochs = warmup;
  cfg.drop_path = drop_path;
  cfg.clip_grad = clip;
  cfg.val_fraction = val;
  cfg.seed = (guint64) seed;
  cfg.augment = !no_augment;
  cfg.resume = resume;
  cfg.cancellable = cancel;
  cfg.on_step = on_step;
  cfg.on_epoch = on_epoch;
  reporter.quiet = quiet;
  reporter.tty = isatty (fileno (stderr));
  cfg.user_data = &reporter;

  store = facet_store_open (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  base_path = facet_cli_resolve_model (store, base_arg, &base_id, &error);
  if (base_path == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  base = facet_train_load_base (store, base_path, (guint64) seed, &error);
  if (base == NULL)
    return facet_cli_fail (g_steal_pointer (&error));

  checkpoint = g_strconcat (argv[1], ".finetune.ckpt", NULL);
  cfg.checkpoint = checkpoint;
  if (resume && !g_file_test (checkpoint, G_FILE_TEST_IS_REGULAR))
    return facet_cli_failf ("%s: no checkpoint to resume from (start without --resume)", checkpoint);

  /* Everything that can be refused is refused before frames are decoded. */
  if (!facet_train_check_settings (base, &cfg, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  dopt.include_accepted = include_accepted;
  dopt.max_per_video = max_per_video > 0 ? (guint) max_per_video : 0;
  dopt.labels_only = TRUE;
  labels = facet_train_dataset_from_store (store, facet_model_get_config (base), &dopt, &error);
  if (labels == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (val_names != NULL)
    {
      const FacetTrainData *d = facet_train_dataset_get_data (labels);
      g_auto (GStrv) names = g_strsplit (val_names, ",", -1);
      for (guint i = 0; names[i] != NULL; i++)
        {
          int found = -1;
          for (int s = 0; s < d->n_subjects; s++)
            if (g_strcmp0 (d->subject_names[s], g_strstrip (names[i])) == 0)
              found = s;
          if (found < 0)
            return facet_cli_failf ("%s: no subject “%s” in the project", argv[1], names[i]);
          g_array_append_val (val_ids, found);
        }
      cfg.val_subjects = (const int *) val_ids->data;
      cfg.n_val_subjects = (int) val_ids->len;
    }
  if (!facet_train_check (base, facet_train_dataset_get_data (labels), &cfg, &error))
    return facet_cli_fail (g_steal_pointer (&error));

  sigint_id = g_unix_signal_add (SIGINT, cancel_on_signal, cancel);
  sigterm_id = g_unix_signal_add (SIGTERM, cancel_on_signal, cancel);

  dopt.labels_only = FALSE;
  dopt.cancellable = cancel;
  dopt.progress = on_data_progress;
  if (!quiet)
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
  if (trained == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          fprintf (stderr, "\nfacet-cli: stopped; the last finished epoch is in %s — continue with "
                           "--resume\n", checkpoint);
          return 1;
        }
      return facet_cli_fail (g_steal_pointer (&error));
    }

  /* The new model: a file in the project's models folder and a row (the
   * same code saves what the app fine-tunes). */
  {
    FacetTrainSaveOptions save = { 0 };

    save.name = name;
    save.mode_text = mode_text;
    save.base = base;
    save.base_path = base_path;
    save.base_id = base_id;
    new_id = facet_train_save_model (store, trained, &cfg, result, dataset, &save, &out_path, &error);
    if (new_id <= 0)
      return facet_cli_fail (g_steal_pointer (&error));
  }
  g_unlink (checkpoint);
  printf ("model %" G_GINT64_FORMAT " “%s”: %s\n", new_id, facet_model_get_config (trained)->name,
          out_path);
  {
    const FacetTrainData *d = facet_train_dataset_get_data (dataset);
    g_autoptr (GString) held = g_string_new (NULL);

    for (int i = 0; i < result->n_val_subjects; i++)
      g_string_append_printf (held, "%s%s", i ? ", " : "", d->subject_names[result->val_subjects[i]]);
    printf ("trained on %d subjects (%u frames); held out for validation: %d subjects (%u frames): %s\n",
            result->n_train_subjects, result->n_train, result->n_val_subjects, result->n_val,
            held->str);
  }
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
          g_string_append (out, ",\"metrics\":{\"f1_mean\":");
          json_metric (out, metrics, "f1_mean");
          g_string_append (out, ",\"f1\":");
          json_metric (out, metrics, "f1");
          g_string_append (out, ",\"auc_mean\":");
          json_metric (out, metrics, "auc_mean");
          g_string_append (out, ",\"id_probe_acc\":");
          json_metric (out, metrics, "id_probe_acc");
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
