/* cli-pretrain.c — facet-cli pretrain: MAE pre-training on a project's faces */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "cli.h"
#include "store/facet-store.h"
#include "media/facet-media.h"
#include "train/facet-train.h"

typedef struct
{
  gboolean quiet;
  gboolean tty;
  gboolean json;
  int      epochs;
  double   last_print;
} Reporter;

/* The loop runs without a main loop: let the signal sources run now and
 * then, so that Ctrl+C stops the run at the next step. */
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
  Reporter *r = data;

  dispatch_signals ();
  if (!r->quiet && r->tty)
    {
      fprintf (stderr, "\r%s… %3.0f %%", message, 100.0 * fraction);
      fflush (stderr);
    }
}

static void
on_step (const FacetPretrainProgress *p,
         gpointer                     data)
{
  Reporter *r = data;
  double now = facet_now ();

  dispatch_signals ();
  if (r->quiet || (now - r->last_print < (r->tty ? 0.2 : 1.0) && p->step != p->n_steps))
    return;
  r->last_print = now;
  fprintf (stderr, "%sepoch %d/%d  step %u/%u  loss %.4f  %.1f img/s%s", r->tty ? "\r" : "",
           p->epoch, r->epochs, p->step, p->n_steps, p->loss, p->images_per_s,
           r->tty ? "   " : "\n");
  fflush (stderr);
}

static void
on_epoch (const FacetPretrainEpoch *e,
          gpointer                  data)
{
  Reporter *r = data;

  if (!r->quiet && r->tty)
    fprintf (stderr, "\n");
  if (r->json)
    {
      g_autoptr (GString) s = g_string_new ("{\"epoch\":");
      g_string_append_printf (s, "%d,\"loss\":", e->epoch);
      facet_cli_json_float (s, e->loss);
      g_string_append (s, ",\"lr\":");
      facet_cli_json_float (s, e->lr);
      g_string_append (s, ",\"images_per_s\":");
      facet_cli_json_float (s, e->images_per_s);
      g_string_append (s, ",\"seconds\":");
      facet_cli_json_float (s, e->seconds);
      g_string_append (s, "}\n");
      fputs (s->str, stdout);
    }
  else
    printf ("epoch %d  loss %.4f  lr %.2e  %.1f img/s  %.1f s\n", e->epoch, e->loss, e->lr,
            e->images_per_s, e->seconds);
  fflush (stdout);
}

static gboolean
cancel_on_signal (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_CONTINUE;
}

/* The face crops named on the command line: VIDEO_ID:FRAME of the project,
 * or image files that already are face crops. */
static GPtrArray *
show_crops (FacetStore             *store,
            const FacetModelConfig *mc,
            char                  **args,
            int                     n,
            GError                **error)
{
  g_autoptr (GPtrArray) crops = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  g_autoptr (FacetFaceDetector) detector = NULL;

  for (int i = 0; i < n; i++)
    {
      g_auto (GStrv) parts = g_strsplit (args[i], ":", 2);
      guint64 vid, frame;
      FacetImage *crop;

      if (!g_file_test (args[i], G_FILE_TEST_EXISTS) && parts[0] && parts[1]
          && g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXINT64, &vid, NULL)
          && g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXINT64, &frame, NULL))
        {
          g_autoptr (FacetStoreVideo) video = facet_store_get_video (store, (gint64) vid, error);
          g_autoptr (FacetMediaSource) source = NULL;
          g_autoptr (FacetImage) image = NULL;
          g_autofree char *path = NULL;

          if (video == NULL || (path = facet_store_resolve_video (store, video->id, error)) == NULL
              || (source = facet_media_source_open (path, video->fps, error)) == NULL
              || (image = facet_media_source_get_frame (source, (gint64) frame, error)) == NULL)
            return NULL;
          crop = facet_train_crop_frame (store, video->id, (gint64) frame, video->crop, image, mc,
                                         &detector, error);
          if (crop == NULL)
            return NULL;
          if (crop->width == 1)
            {
              facet_image_unref (crop);
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no face in this frame",
                           args[i]);
              return NULL;
            }
        }
      else
        {
          g_autoptr (FacetImage) image = facet_image_load (args[i], error);
          if (image == NULL)
            return NULL;
          crop = facet_image_resize (image, mc->image_size, mc->image_size);
        }
      g_ptr_array_add (crops, crop);
    }
  return g_steal_pointer (&crops);
}

static int
show (FacetStore *store,
      const char *model_arg,
      const char *out_path,
      double      mask_ratio,
      gint64      seed,
      char      **frames,
      int         n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GPtrArray) crops = NULL, panels = NULL;
  g_autoptr (FacetImage) sheet = NULL;
  g_autofree char *path = NULL;
  FacetModelLoadOptions lo = { 0 };
  gint64 id;
  int y = 0;

  if (model_arg == NULL)
    return facet_cli_failf ("--show needs --model: a pre-trained model of the project or an MAE "
                            "checkpoint");
  if (n == 0)
    return facet_cli_failf ("--show needs frames: VIDEO_ID:FRAME or face images");
  path = facet_cli_resolve_model (store, model_arg, &id, &error);
  if (path == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  lo.keep_decoder = TRUE;
  model = facet_model_load (path, &lo, &error);
  if (model == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (facet_model_get_config (model)->decoder_dim <= 0)
    return facet_cli_failf ("%s has no MAE decoder: it cannot reconstruct (use a pre-trained "
                            "model)", path);
  crops = show_crops (store, facet_model_get_config (model), frames, n, &error);
  if (crops == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  panels = facet_pretrain_show (model, (FacetImage * const *) crops->pdata, crops->len, mask_ratio,
                                (guint64) seed, &error);
  if (panels == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  {
    FacetImage *first = g_ptr_array_index (panels, 0);
    sheet = facet_image_new (first->width, first->height * (int) panels->len);
  }
  for (guint i = 0; i < panels->len; i++)
    {
      FacetImage *p = g_ptr_array_index (panels, i);
      for (int r = 0; r < p->height; r++, y++)
        memcpy (sheet->data + (gsize) y * sheet->stride, p->data + (gsize) r * p->stride,
                (gsize) p->width * 3);
    }
  if (!facet_image_save_png (sheet, out_path, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  printf ("%s: original, masked (%.0f %%), reconstruction of %u faces\n", out_path,
          100.0 * mask_ratio, panels->len);
  return 0;
}

/* The start of a run: --size or --base, and a fresh decoder's shape.
 * Returns 0, or 1 with the reason printed when they do not make sense. */
static int
check_start (const char                 *base_arg,
             const char                 *size,
             const FacetPretrainDecoder *decoder)
{
  if (base_arg != NULL && size != NULL)
    return facet_cli_failf ("give either --size (from scratch) or --base (continue), not both");
  if (size != NULL && !g_str_equal (size, "tiny") && !g_str_equal (size, "small")
      && !g_str_equal (size, "base"))
    return facet_cli_failf ("unknown --size “%s” (tiny, small or base)", size);
  if (decoder->dim < 0 || decoder->dim > 8192 || decoder->depth < 0 || decoder->depth > 128
      || decoder->heads < 0)
    return facet_cli_failf ("--decoder-dim must be 1 to 8192, --decoder-depth 1 to 128 and "
                            "--decoder-heads at least 1");
  return 0;
}

static void
print_saved (gboolean    json,
             gint64      id,
             const char *name,
             const char *path)
{
  if (json)
    {
      g_autoptr (GString) s = g_string_new (NULL);
      g_string_append_printf (s, "{\"model\":%" G_GINT64_FORMAT ",\"file\":", id);
      facet_cli_json_string (s, path);
      g_string_append (s, ",\"kind\":\"pre-trained\"}\n");
      fputs (s->str, stdout);
    }
  else
    printf ("model %" G_GINT64_FORMAT " “%s” (pre-trained): %s\n", id, name, path);
}

int
facet_cli_pretrain (int    argc,
                    char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT [FRAME…] — pre-train a model on "
                                                         "the project's faces (masked autoencoder)");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GPtrArray) crops = NULL;
  g_autoptr (GArray) epochs = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *base_arg = NULL, *size = NULL, *name = NULL, *base_path = NULL;
  g_autofree char *checkpoint = NULL, *out_path = NULL, *show_model = NULL, *show_out = NULL;
  FacetPretrainConfig cfg;
  Reporter reporter = { 0 };
  gboolean resume = FALSE, no_augment = FALSE, quiet = FALSE, json = FALSE, do_show = FALSE;
  double mask_ratio = 0.75, blr = 1.5e-4, lr = 0.0, weight_decay = 0.05, warmup = -1.0;
  int epochs_n = 10, batch = 64, stride = 1, heads = 0;
  FacetPretrainDecoder decoder = { 0 };
  gint64 seed = 0, base_id = 0, new_id;
  guint skipped = 0, sigint_id, sigterm_id;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "Start from scratch: tiny, small or base (default base)", "SIZE" },
    { "base", 0, 0, G_OPTION_ARG_STRING, &base_arg, "Or continue from a model: a file (FMAE .pth, Facet model) or a model id of the project", "M" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "Attention heads of --base when the file does not say", "N" },
    { "decoder-dim", 0, 0, G_OPTION_ARG_INT, &decoder.dim,
      "Width of a fresh MAE decoder (default 512, the release's)", "W" },
    { "decoder-depth", 0, 0, G_OPTION_ARG_INT, &decoder.depth,
      "Blocks of a fresh MAE decoder (default 8)", "N" },
    { "decoder-heads", 0, 0, G_OPTION_ARG_INT, &decoder.heads,
      "Attention heads of a fresh MAE decoder (default: 16 at width 512, else width / 32)", "N" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs_n, "Epochs (default 10)", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Batch size (default 64)", "B" },
    { "mask-ratio", 0, 0, G_OPTION_ARG_DOUBLE, &mask_ratio, "Share of patches removed (default 0.75)", "R" },
    { "blr", 0, 0, G_OPTION_ARG_DOUBLE, &blr, "Base learning rate (default 1.5e-4; peak = blr x batch / 256)", "BLR" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Peak learning rate (overrides --blr)", "LR" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "AdamW weight decay (default 0.05)", "W" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup, "Warm-up epochs (default: a tenth of the run, at most 40)", "E" },
    { "stride", 0, 0, G_OPTION_ARG_INT, &stride, "Use every N-th frame (default 1)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (order, augmentation, masking, new weights)", "S" },
    { "no-augment", 0, 0, G_OPTION_ARG_NONE, &no_augment, "Train without random resized crops and flips", NULL },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Name of the new model", "NAME" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &resume, "Continue an interrupted run from its checkpoint", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per epoch on standard output", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress line", NULL },
    { "show", 0, 0, G_OPTION_ARG_NONE, &do_show, "Write original / masked / reconstruction of FRAMEs (VIDEO_ID:FRAME or face images) instead of training", NULL },
    { "model", 0, 0, G_OPTION_ARG_STRING, &show_model, "With --show: the pre-trained model (id or file)", "M" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &show_out, "With --show: the PNG to write (default pretrain-show.png)", "FILE" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc < 2)
    return facet_cli_failf ("pretrain takes a project file (see --help)");
  if (!(mask_ratio > 0.0 && mask_ratio < 1.0))
    return facet_cli_failf ("--mask-ratio must be between 0 and 1 (exclusive)");
  store = facet_store_open (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (do_show)
    return show (store, show_model, show_out ? show_out : "pretrain-show.png", mask_ratio, seed,
                 argv + 2, argc - 2);
  if (argc != 2)
    return facet_cli_failf ("pretrain takes one project file (frames only with --show)");
  if (check_start (base_arg, size, &decoder) != 0)
    return 1;
  if (epochs_n < 1 || batch < 1 || stride < 1)
    return facet_cli_failf ("--epochs, --batch and --stride must be at least 1");

  facet_pretrain_config_init (&cfg);
  cfg.epochs = epochs_n;
  cfg.batch = (guint) batch;
  cfg.mask_ratio = mask_ratio;
  cfg.blr = lr > 0 ? lr * 256.0 / batch : blr;
  cfg.weight_decay = weight_decay;
  cfg.warmup_epochs = warmup;
  cfg.augment = !no_augment;
  cfg.seed = (guint64) seed;
  cfg.resume = resume;
  cfg.cancellable = cancel;
  cfg.on_step = on_step;
  cfg.on_epoch = on_epoch;
  reporter.quiet = quiet;
  reporter.json = json;
  reporter.epochs = epochs_n;
  reporter.tty = isatty (fileno (stderr));
  cfg.user_data = &reporter;

  if (base_arg != NULL)
    {
      base_path = facet_cli_resolve_model (store, base_arg, &base_id, &error);
      if (base_path == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
    }
  model = facet_pretrain_model_new (base_path, size ? size : "base", heads, &decoder,
                                    (guint64) seed, &error);
  if (model == NULL)
    return facet_cli_fail (g_steal_pointer (&error));

  checkpoint = g_strconcat (argv[1], ".pretrain.ckpt", NULL);
  cfg.checkpoint = checkpoint;
  if (resume && !g_file_test (checkpoint, G_FILE_TEST_IS_REGULAR))
    return facet_cli_failf ("%s: no checkpoint to resume from (start without --resume)", checkpoint);

  sigint_id = g_unix_signal_add (SIGINT, cancel_on_signal, cancel);
  sigterm_id = g_unix_signal_add (SIGTERM, cancel_on_signal, cancel);
  crops = facet_pretrain_collect (store, facet_model_get_config (model), (guint) stride, cancel,
                                  on_data_progress, &reporter, &skipped, &error);
  if (crops != NULL)
    {
      if (!quiet)
        fprintf (stderr, "%s%u faces (%u frames left out: no face or damaged)\n",
                 reporter.tty ? "\r" : "", crops->len, skipped);
      epochs = facet_pretrain_run (model, (FacetImage * const *) crops->pdata, crops->len, &cfg,
                                   &error);
    }
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (epochs == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (g_file_test (checkpoint, G_FILE_TEST_IS_REGULAR))
            fprintf (stderr, "\nfacet-cli: stopped; the last finished epoch is in %s — continue "
                             "with --resume\n", checkpoint);
          else
            fprintf (stderr, "\nfacet-cli: stopped before the first epoch finished\n");
          return 1;
        }
      return facet_cli_fail (g_steal_pointer (&error));
    }

  {
    g_autofree char *desc = base_path ? g_strdup (base_path) : g_strdup_printf ("new %s", size ? size : "base");
    FacetPretrainSaveOptions so = { name, base_id, desc, (guint) stride, crops->len, skipped };
    new_id = facet_pretrain_save_model (store, model, &cfg, epochs, &so, &out_path, &error);
  }
  if (new_id <= 0)
    return facet_cli_fail (g_steal_pointer (&error));
  g_unlink (checkpoint);
  print_saved (json, new_id, facet_model_get_config (model)->name, out_path);
  return 0;
}
