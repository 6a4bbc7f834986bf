/* store.c — the project store and the analysis pipeline against their
 * peers, measured in the same run:
 *   label writes (one per transaction, and a range)  vs plain SQLite inserts
 *   prediction rows written as analysis writes them    vs plain SQLite inserts
 *   timeline of one AU over a 1-hour 30 fps video      vs a bare scan of the rows
 *   analyze end to end (decode, crop, infer, SQL)      vs bare inference of the same frames
 * Environment: FACET_BENCH_MODEL (tiny|small|base, default small: ViT-S/16 at
 * 224, so that inference dominates), FACET_BENCH_FRAMES (analysis frames,
 * default 160), FACET_BENCH_BACKEND (default cpu). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "engine/facet-engine.h"
#include "media/facet-media.h"
#include "pipeline/facet-pipeline.h"
#include "store/facet-store.h"

#define HOUR_FRAMES (3600 * 30)

static char *tmpdir;

static double
now (void)
{
  return (double) g_get_monotonic_time () / G_USEC_PER_SEC;
}

static void
die (GError *error)
{
  fprintf (stderr, "bench-store: %s\n", error ? error->message : "failed");
  exit (1);
}

static int
compare_double (const void *a,
                const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v,
        int     n)
{
  qsort (v, (size_t) n, sizeof *v, compare_double);
  return v[n / 2];
}

/* The peer: the same rows into plain tables, same journal and sync. */
static sqlite3 *
plain_db (const char *name,
          const char *synchronous)
{
  g_autofree char *path = g_build_filename (tmpdir, name, NULL);
  g_autofree char *sync = g_strdup_printf ("PRAGMA synchronous = %s", synchronous);
  sqlite3 *db;

  if (sqlite3_open (path, &db) != SQLITE_OK)
    die (NULL);
  sqlite3_exec (db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
  sqlite3_exec (db, sync, NULL, NULL, NULL);
  sqlite3_exec (db,
                "CREATE TABLE labels (video_id INTEGER, frame INTEGER, au INTEGER, state INTEGER,"
                " coder_id INTEGER, time REAL, source INTEGER, intensity REAL,"
                " PRIMARY KEY (video_id, frame, au)) WITHOUT ROWID;"
                "CREATE TABLE predictions (model_id INTEGER, video_id INTEGER, frame INTEGER,"
                " probs BLOB, PRIMARY KEY (model_id, video_id, frame)) WITHOUT ROWID;",
                NULL, NULL, NULL);
  return db;
}

static void
plain_labels (sqlite3 *db,
              gint64   first,
              gint64   n,
              int      au,
              gboolean one_per_transaction)
{
  sqlite3_stmt *st;

  sqlite3_prepare_v2 (db, "INSERT OR REPLACE INTO labels VALUES (1, ?, ?, 1, 1, 0, 0, NULL)", -1,
                      &st, NULL);
  if (!one_per_transaction)
    sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  for (gint64 f = first; f < first + n; f++)
    {
      if (one_per_transaction)
        sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
      sqlite3_bind_int64 (st, 1, f);
      sqlite3_bind_int (st, 2, au);
      sqlite3_step (st);
      sqlite3_reset (st);
      if (one_per_transaction)
        sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
    }
  if (!one_per_transaction)
    sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
  sqlite3_finalize (st);
}

static void
print_ratio (const char *what,
             double      facet,
             double      peer,
             const char *unit,
             const char *peer_name)
{
  printf ("%-44s facet %12.1f %s   %s %12.1f %s   ratio %.3f\n", what, facet, unit, peer_name, peer,
          unit, facet / peer);
}

/* ---- Store -------------------------------------------------------------------------- */

static void
bench_store (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "bench.facet", NULL);
  g_autofree char *media = g_build_filename (tmpdir, "hour.bin", NULL);
  g_autofree char *model_file = g_build_filename (tmpdir, "model.bin", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autofree FacetFrameResult *results = g_new0 (FacetFrameResult, 256);
  g_autofree float *probs = g_new (float, 256 * 12);
  const int aus[] = { 1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24 };
  FacetStoreVideoInfo info = { media, "S1", FACET_CROP_NONE, HOUR_FRAMES, 30.0, 224, 224 };
  FacetStoreModelInfo minfo = { .file = model_file, .n_aus = 12, .au_ids = aus };
  sqlite3 *peer_full, *peer_normal;
  gint64 video, model;
  double t0, facet, peer, times[21], scans[21];
  const int n_single = 200;
  GRand *rand = g_rand_new_with_seed (7);

  /* The store hashes media only: a stand-in file for a 1-hour video. */
  g_file_set_contents (media, "an hour of video", -1, NULL);
  g_file_set_contents (model_file, "weights", -1, NULL);
  store = facet_store_create (path, &error);
  if (store == NULL)
    die (error);
  video = facet_store_add_video (store, &info, &error);
  model = facet_store_add_model (store, &minfo, &error);
  if (video == 0 || model == 0)
    die (error);
  peer_full = plain_db ("peer-full.sqlite", "FULL");
  peer_normal = plain_db ("peer-normal.sqlite", "NORMAL");

  /* Single label writes: one transaction (and undo step) each. */
  t0 = now ();
  for (int i = 0; i < n_single; i++)
    if (facet_store_set_label (store, video, i * 7, 12, FACET_LABEL_PRESENT, &error) < 0)
      die (error);
  facet = n_single / (now () - t0);
  t0 = now ();
  plain_labels (peer_full, 0, n_single, 12, TRUE);
  peer = n_single / (now () - t0);
  print_ratio ("label writes, one per transaction", facet, peer, "labels/s", "sqlite");

  /* A range: one hour of one AU in one change set. */
  t0 = now ();
  if (facet_store_set_label_range (store, video, 0, HOUR_FRAMES - 1, 6, FACET_LABEL_PRESENT,
                                   FACET_LABEL_SOURCE_HUMAN, &error) < 0)
    die (error);
  facet = HOUR_FRAMES / (now () - t0);
  t0 = now ();
  plain_labels (peer_full, 0, HOUR_FRAMES, 6, FALSE);
  peer = HOUR_FRAMES / (now () - t0);
  print_ratio ("label range (108000 frames, one AU)", facet, peer, "labels/s", "sqlite");
  printf ("%-44s (facet also keeps the history row of every change and its undo step)\n", "");

  /* Predictions: 256-frame chunks as the analysis writer commits them. */
  {
    sqlite3_stmt *st;
    guint8 blob[24];

    facet_store_exec_sql (store, "PRAGMA synchronous = NORMAL", NULL);
    t0 = now ();
    for (gint64 first = 0; first < HOUR_FRAMES; first += 256)
      {
        gsize n = MIN (256, HOUR_FRAMES - first);
        for (gsize i = 0; i < n; i++)
          {
            for (int a = 0; a < 12; a++)
              probs[i * 12 + a] = (float) g_rand_double (rand);
            results[i] = (FacetFrameResult) { .frame = first + (gint64) i,
                                              .time = (first + (double) i) / 30.0,
                                              .status = FACET_STORE_FACE_WHOLE, .score = 1.0f,
                                              .quality = 1.0f, .probs = probs + i * 12 };
          }
        if (!facet_store_write_results (store, model, video, results, n, &error))
          die (error);
      }
    facet = HOUR_FRAMES / (now () - t0);
    sqlite3_prepare_v2 (peer_normal, "INSERT OR REPLACE INTO predictions VALUES (1, 1, ?, ?)", -1,
                        &st, NULL);
    t0 = now ();
    for (gint64 first = 0; first < HOUR_FRAMES; first += 256)
      {
        sqlite3_exec (peer_normal, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        for (gint64 f = first; f < MIN (first + 256, HOUR_FRAMES); f++)
          {
            for (int k = 0; k < 24; k++)
              blob[k] = (guint8) g_rand_int (rand);
            sqlite3_bind_int64 (st, 1, f);
            sqlite3_bind_blob (st, 2, blob, 24, SQLITE_STATIC);
            sqlite3_step (st);
            sqlite3_reset (st);
          }
        sqlite3_exec (peer_normal, "COMMIT", NULL, NULL, NULL);
      }
    peer = HOUR_FRAMES / (now () - t0);
    sqlite3_finalize (st);
    print_ratio ("prediction rows (with face rows), 256/commit", facet, peer, "rows/s", "sqlite");
    printf ("%-44s (the peer writes the prediction blob only)\n", "");
  }

  /* Timeline: one AU over the hour in 1500 buckets (a wide timeline). */
  for (int r = 0; r < 21; r++)
    {
      g_autoptr (GArray) tl = NULL;
      sqlite3_stmt *st;
      sqlite3 *db;
      double sum = 0;

      t0 = now ();
      tl = facet_store_get_timeline (store, model, video, 12, 0, HOUR_FRAMES - 1, 1500, &error);
      if (tl == NULL)
        die (error);
      times[r] = now () - t0;

      /* The peer: the same rows read through SQLite, nothing computed. */
      sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL);
      sqlite3_prepare_v2 (db, "SELECT frame, probs FROM predictions WHERE model_id = ? AND "
                          "video_id = ? AND frame BETWEEN 0 AND ?", -1, &st, NULL);
      sqlite3_bind_int64 (st, 1, model);
      sqlite3_bind_int64 (st, 2, video);
      sqlite3_bind_int64 (st, 3, HOUR_FRAMES - 1);
      t0 = now ();
      while (sqlite3_step (st) == SQLITE_ROW)
        sum += sqlite3_column_bytes (st, 1);
      scans[r] = now () - t0;
      sqlite3_finalize (st);
      sqlite3_close (db);
      g_assert (sum > 0);
    }
  facet = median (times, 21) * 1000.0;
  peer = median (scans, 21) * 1000.0;
  print_ratio ("timeline, 1 AU, 1 h at 30 fps, 1500 buckets", facet, peer, "ms", "row scan");

  sqlite3_close (peer_full);
  sqlite3_close (peer_normal);
  g_rand_free (rand);
}

/* ---- Analysis ------------------------------------------------------------------------- */

/* A moving test pattern, so the encoder has real work and frames differ. */
static void
draw_frame (FacetImage *img,
            int         t)
{
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      {
        guint8 *p = img->data + (gsize) y * img->stride + 3 * x;
        p[0] = (guint8) (x + 3 * t);
        p[1] = (guint8) (y * 2 + t);
        p[2] = (guint8) (((x / 16 + y / 16 + t / 4) % 2) * 200 + 20);
      }
}

static void
bench_analysis (void)
{
  g_autofree char *video = g_build_filename (tmpdir, "analysis.mkv", NULL);
  g_autofree char *model_path = g_build_filename (tmpdir, "vit.safetensors", NULL);
  g_autofree char *project = g_build_filename (tmpdir, "analysis.facet", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetMediaWriter) writer = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetMediaReader) reader = NULL;
  g_autoptr (FacetForwardResult) result = NULL;
  g_autofree float *input = NULL;
  const char *size = g_getenv ("FACET_BENCH_MODEL");
  const char *frames_env = g_getenv ("FACET_BENCH_FRAMES");
  const char *backend = g_getenv ("FACET_BENCH_BACKEND");
  int n_frames = frames_env ? atoi (frames_env) : 160;
  const guint batch = 16;
  FacetAnalysisOptions opt = { .batch = batch };
  FacetAnalysisProgress done;
  gsize per;
  gint64 model_id;
  double t0, bare, piped;

  if (n_frames < (int) batch)
    n_frames = (int) batch;
  facet_model_config_set_preset (config, size ? size : "small");
  {
    int n;
    const int *ids = facet_dataset_aus ("BP4D", &n);
    facet_model_config_set_aus (config, ids, n);
  }
  config->crop = FACET_CROP_NONE;
  model = facet_model_new_random (config, 1, &error);
  if (model == NULL || !facet_model_save (model, model_path, NULL, &error))
    die (error);
  g_clear_pointer (&model, facet_model_unref);
  model = facet_model_load (model_path, NULL, &error);
  if (model == NULL)
    die (error);
  engine = facet_engine_new (model, backend, &error);
  if (engine == NULL)
    die (error);

  writer = facet_media_writer_new (video, config->image_size, config->image_size, 30.0, "h264", &error);
  if (writer == NULL)
    die (error);
  for (int t = 0; t < n_frames; t++)
    {
      g_autoptr (FacetImage) img = facet_image_new (config->image_size, config->image_size);
      draw_frame (img, t);
      if (!facet_media_writer_add (writer, img, &error))
        die (error);
    }
  if (!facet_media_writer_finish (writer, &error))
    die (error);

  /* Bare inference: the frames decoded and normalised beforehand, then
   * only forwards in batches. */
  per = 3 * (gsize) config->image_size * config->image_size;
  input = g_new (float, per * n_frames);
  source = facet_media_source_open (video, 0, &error);
  reader = source ? facet_media_reader_new (source, 0, 1, &error) : NULL;
  if (reader == NULL)
    die (error);
  for (int i = 0; i < n_frames; i++)
    {
      g_autoptr (FacetImage) img = facet_media_reader_next (reader, NULL, &error);
      if (img == NULL)
        die (error);
      facet_engine_prepare_image (engine, img, input + per * i);
    }
  result = facet_forward_result_new (config, batch, FACET_FORWARD_NONE);
  /* One warm-up batch for both (page faults, packing). */
  if (!facet_engine_forward (engine, input, batch, FACET_FORWARD_NONE, result, &error))
    die (error);
  t0 = now ();
  for (int i = 0; i < n_frames; i += batch)
    if (!facet_engine_forward (engine, input + per * i, MIN (batch, (guint) (n_frames - i)),
                               FACET_FORWARD_NONE, result, &error))
      die (error);
  bare = n_frames / (now () - t0);

  /* The pipeline: decode, crop, normalise, infer, write, all in one. */
  store = facet_store_create (project, &error);
  if (store == NULL)
    die (error);
  {
    FacetStoreVideoInfo info = { video, "S1", FACET_CROP_NONE, n_frames, 30.0, config->image_size,
                                 config->image_size };
    if (facet_store_add_video (store, &info, &error) == 0)
      die (error);
  }
  model_id = facet_pipeline_register_model (store, model, 0, &error);
  if (model_id == 0)
    die (error);
  t0 = now ();
  if (!facet_analysis_run (store, engine, model_id, &opt, NULL, NULL, NULL, &done, &error))
    die (error);
  piped = done.frames_done / (now () - t0);
  if (done.frames_done != n_frames)
    die (NULL);

  printf ("%-44s facet %12.2f frames/s   bare %12.2f frames/s   ratio %.3f (target >= 0.90)\n",
          "analyze end to end vs bare inference", piped, bare, piped / bare);
  printf ("%-44s (model %s %dx%d, %d frames, batch %u, backend %s)\n", "", size ? size : "small",
          config->image_size, config->image_size, n_frames, batch,
          facet_backend_get_name (facet_engine_get_backend (engine)));
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *cmd = NULL;

  tmpdir = g_dir_make_tmp ("facet-bench-store-XXXXXX", NULL);
  bench_store ();
  bench_analysis ();
  cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
  g_free (tmpdir);
  return 0;
}
