/* cli-analyze.c — facet-cli analyze: a project's videos through the model,
 * with progress on stderr, Ctrl+C stopping cleanly, and shards for job
 * arrays */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <glib-unix.h>

#include "cli.h"
#include "pipeline/facet-pipeline.h"
#include "store/facet-store.h"

typedef struct
{
  gboolean tty;
  double   last;
} Progress;

static void
format_duration (char  *buf,
                 gsize  size,
                 double seconds)
{
  if (seconds < 0)
    g_strlcpy (buf, "?", size);
  else if (seconds < 90)
    g_snprintf (buf, size, "%.0f s", seconds);
  else if (seconds < 5400)
    g_snprintf (buf, size, "%.0f min", seconds / 60);
  else
    g_snprintf (buf, size, "%.1f h", seconds / 3600);
}

static void
print_progress (const FacetAnalysisProgress *p,
                gpointer                     data)
{
  Progress *state = data;
  char eta[32];
  gboolean last = p->frames_done >= p->frames_total;

  /* On a terminal one line redrawn; in a log a line every few seconds. */
  if (!last && p->elapsed - state->last < (state->tty ? 0.2 : 5.0))
    return;
  state->last = p->elapsed;
  format_duration (eta, sizeof eta, p->eta);
  fprintf (stderr, "%sanalyse: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " frames (%.1f %%), "
           "%.1f frames/s, ETA %s, video %" G_GINT64_FORMAT "%s", state->tty ? "\r" : "",
           p->frames_done, p->frames_total,
           p->frames_total ? 100.0 * p->frames_done / p->frames_total : 100.0, p->fps, eta,
           p->video_id, state->tty ? "\033[K" : "\n");
  fflush (stderr);
}

/* SIGINT and SIGTERM cancel: the chunk being written is finished or
 * dropped, never half-stored. GLib's signal sources need a main loop; it
 * runs in a thread of its own while the analysis runs. */
typedef struct
{
  GMainContext *context;
  GMainLoop    *loop;
  GCancellable *cancellable;
} SignalWatch;

static gboolean
on_signal (gpointer data)
{
  SignalWatch *w = data;

  fprintf (stderr, "\nfacet-cli: stopping after the frames in flight (the next run continues)\n");
  g_cancellable_cancel (w->cancellable);
  return G_SOURCE_CONTINUE;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gpointer
signal_thread (gpointer data)
{
  SignalWatch *w = data;

  g_main_context_push_thread_default (w->context);
  g_main_loop_run (w->loop);
  g_main_context_pop_thread_default (w->context);
  return NULL;
}

static gboolean
parse_shard (const char *text,
             guint      *index,
             guint      *count)
{
  g_auto (GStrv) parts = g_strsplit (text, "/", 2);
  guint64 i, n;

  if (parts[0] == NULL || parts[1] == NULL
      || !g_ascii_string_to_unsigned (parts[0], 10, 1, 100000, &i, NULL)
      || !g_ascii_string_to_unsigned (parts[1], 10, 1, 100000, &n, NULL) || i > n)
    return FALSE;
  *index = (guint) i;
  *count = (guint) n;
  return TRUE;
}

int
facet_cli_analyze (int    argc,
                   char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — analyse the project's videos "
                                                         "(resumable)");
  g_autoptr (FacetStore) project = NULL, shard = NULL;
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *model_spec = NULL, *video_text = NULL, *backend = NULL, *shard_text = NULL;
  g_autofree char *shard_path = NULL, *precision_name = NULL;
  FacetPrecision precision = FACET_PRECISION_FP32;
  FacetAnalysisOptions opt = { 0 };
  FacetAnalysisProgress result = { 0 };
  Progress progress = { isatty (STDERR_FILENO), -1e9 };
  SignalWatch watch = { 0 };
  GThread *watcher;
  GSource *sources[2];
  gint64 video = 0, model_id = 0, stride = 1;
  int batch = 16;
  gboolean ok;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model_spec,
      "Model file (added to the project) or number (default: the latest)", "M" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text, "One video number, or all (default)", "ID|all" },
    { "stride", 0, 0, G_OPTION_ARG_INT64, &stride, "Analyse every K-th frame (default 1)", "K" },
    { "backend", 0, 0, G_OPTION_ARG_STRING, &backend, "cpu, vulkan or auto (default cpu)", "B" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Images per forward pass (default 16)", "B" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision_name, "fp32, bf16 (CPU products, where the processor has AVX512-BF16), fp16 (Vulkan storage) or auto (bf16 where native) (default: fp32)", "P" },
    { "shard", 0, 0, G_OPTION_ARG_STRING, &shard_text,
      "Do shard i of N into PROJECT.shard-i-of-N.facet (merge them later)", "i/N" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("analyze takes one project (see --help)");
  if (stride < 1 || stride > G_MAXINT32)
    return facet_cli_failf ("--stride %" G_GINT64_FORMAT " must be at least 1", stride);
  if (batch < 1 || batch > 1024)
    return facet_cli_failf ("--batch %d is out of range (1-1024)", batch);
  if (video_text != NULL && !g_str_equal (video_text, "all")
      && !g_ascii_string_to_signed (video_text, 10, 1, G_MAXINT64, &video, NULL))
    return facet_cli_failf ("--video %s is not a video number (or all)", video_text);
  if (precision_name != NULL && !facet_precision_from_string (precision_name, &precision))
    return facet_cli_failf ("unknown precision “%s” (fp32, bf16, fp16 or auto)", precision_name);
  if (shard_text != NULL && !parse_shard (shard_text, &opt.shard_index, &opt.shard_count))
    return facet_cli_failf ("--shard %s is not i/N with 1 <= i <= N", shard_text);

  project = facet_store_open (argv[1], &error);
  if (project == NULL)
    return facet_cli_fail (g_steal_pointer (&error));

  if (opt.shard_count == 0)
    {
      model = facet_pipeline_load_model (project, model_spec, &model_id, &error);
      if (model == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
    }
  else
    {
      /* A shard never writes the project: a model file new to the project
       * is registered in the shard and reaches the project at the merge. */
      gboolean is_file = model_spec != NULL && g_file_test (model_spec, G_FILE_TEST_EXISTS);
      gint64 main_id = 0;
      g_autofree char *sha = NULL;

      if (is_file)
        model = facet_model_load (model_spec, NULL, &error);
      else
        model = facet_pipeline_load_model (project, model_spec, &main_id, &error);
      if (model == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
      if (is_file)
        {
          sha = facet_file_sha256 (model_spec, &error);
          if (sha == NULL || (main_id = facet_store_find_model (project, sha, &error)) < 0)
            return facet_cli_fail (g_steal_pointer (&error));
        }
      shard_path = facet_store_shard_path (facet_store_get_path (project), opt.shard_index,
                                           opt.shard_count);
      shard = facet_store_open_shard (project, shard_path, &error);
      if (shard == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
      model_id = facet_pipeline_register_model (shard, model, 0, &error);
      if (model_id == 0)
        return facet_cli_fail (g_steal_pointer (&error));
      opt.done_store = project;
      opt.done_model_id = main_id;
    }

  facet_backend_set_default_precision (precision);
  engine = facet_engine_new (model, backend, &error);
  if (engine == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (facet_engine_get_notice (engine) != NULL)
    fprintf (stderr, "facet-cli: notice: %s\n", facet_engine_get_notice (engine));

  opt.stride = stride;
  opt.batch = (guint) batch;
  if (video != 0)
    {
      opt.video_ids = &video;
      opt.n_videos = 1;
    }

  watch.context = g_main_context_new ();
  watch.loop = g_main_loop_new (watch.context, FALSE);
  watch.cancellable = cancellable;
  sources[0] = g_unix_signal_source_new (SIGINT);
  sources[1] = g_unix_signal_source_new (SIGTERM);
  for (guint i = 0; i < 2; i++)
    {
      g_source_set_callback (sources[i], on_signal, &watch, NULL);
      g_source_attach (sources[i], watch.context);
    }
  watcher = g_thread_new ("facet-signals", signal_thread, &watch);

  ok = facet_analysis_run (shard ? shard : project, engine, model_id, &opt, print_progress,
                           &progress, cancellable, &result, &error);

  /* Quit from inside the loop: it may not be running yet. */
  {
    GSource *idle = g_idle_source_new ();
    g_source_set_callback (idle, quit_loop, watch.loop, NULL);
    g_source_attach (idle, watch.context);
    g_source_unref (idle);
  }
  g_thread_join (watcher);
  for (guint i = 0; i < 2; i++)
    {
      g_source_destroy (sources[i]);
      g_source_unref (sources[i]);
    }
  g_main_loop_unref (watch.loop);
  g_main_context_unref (watch.context);

  if (progress.tty && result.frames_done > 0)
    fprintf (stderr, "\n");
  if (!ok)
    return facet_cli_fail (g_steal_pointer (&error));
  fprintf (stderr, "analysed %" G_GINT64_FORMAT " frames (%" G_GINT64_FORMAT " without a face) "
           "in %.1f s, %.1f frames/s; %" G_GINT64_FORMAT " were done already%s%s\n",
           result.frames_done, result.frames_no_face, result.elapsed, result.fps,
           result.frames_skipped, shard_path ? "; wrote " : "", shard_path ? shard_path : "");
  return 0;
}
