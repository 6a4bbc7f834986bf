/* test-pipeline.c — the analysis pipeline through its C API: progress,
 * cancellation and resumption, strides and video selection, frames without
 * a face, a model that does not fit; a video's calm frames (the reference
 * of the change-from-neutral map) */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "media/facet-media.h"
#include "pipeline/facet-pipeline.h"

static char *tmpdir;

typedef struct
{
  FacetStore  *store;
  FacetEngine *engine;
  FacetModel  *model;
  gint64       model_id;
  gint64       video;
  char        *path;
} Fixture;

/* A moving pattern the model sees as different frames. */
static char *
write_video (const char *name,
             int         n_frames,
             int         size)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (tmpdir, name, NULL);
  g_autoptr (FacetMediaWriter) w = facet_media_writer_new (path, size, size, 25.0, "ffv1", &error);

  g_assert_no_error (error);
  for (int t = 0; t < n_frames; t++)
    {
      g_autoptr (FacetImage) img = facet_image_new (size, size);
      for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
          {
            guint8 *p = img->data + (gsize) y * img->stride + 3 * x;
            p[0] = (guint8) (x * 4 + t), p[1] = (guint8) (y * 4), p[2] = (guint8) (t * 7);
          }
      g_assert_true (facet_media_writer_add (w, img, &error));
    }
  g_assert_true (facet_media_writer_finish (w, &error));
  return path;
}

static void
fixture_init (Fixture      *f,
              const char   *name,
              int           n_frames,
              FacetCropKind crop)
{
  static int serial;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autofree char *video = NULL, *model_path = NULL, *video_name = NULL;
  FacetStoreVideoInfo info = { NULL, "S1", crop, n_frames, 25.0, 64, 64 };

  serial++;
  video_name = g_strdup_printf ("%s-%d.mkv", name, serial);
  video = write_video (video_name, n_frames, 64);
  f->path = g_strdup_printf ("%s/%s-%d.facet", tmpdir, name, serial);
  f->store = facet_store_create (f->path, &error);
  g_assert_no_error (error);
  info.path = video;
  f->video = facet_store_add_video (f->store, &info, &error);
  g_assert_no_error (error);

  facet_model_config_set_preset (c, "tiny");
  c->depth = 2;
  c->image_size = 64;
  c->crop = FACET_CROP_NONE;
  {
    const int aus[] = { 1, 2, 12 };
    facet_model_config_set_aus (c, aus, 3);
  }
  model_path = g_strdup_printf ("%s/model-%d.safetensors", tmpdir, serial);
  {
    g_autoptr (FacetModel) m = facet_model_new_random (c, 3, &error);
    g_assert_true (facet_model_save (m, model_path, NULL, &error));
  }
  f->model = facet_pipeline_load_model (f->store, model_path, &f->model_id, &error);
  g_assert_no_error (error);
  f->engine = facet_engine_new (f->model, "cpu", &error);
  g_assert_no_error (error);
}

static void
fixture_clear (Fixture *f)
{
  facet_engine_free (f->engine);
  facet_model_unref (f->model);
  facet_store_close (f->store);
  g_free (f->path);
}

typedef struct
{
  GCancellable *cancellable;
  int           calls;
  gint64        last_done;
  gint64        cancel_after;
} Watch;

static void
on_progress (const FacetAnalysisProgress *p,
             gpointer                     data)
{
  Watch *w = data;

  w->calls++;
  g_assert_cmpint (p->frames_done, >, w->last_done);
  g_assert_cmpint (p->frames_done, <=, p->frames_total);
  w->last_done = p->frames_done;
  if (w->cancellable != NULL && p->frames_done >= w->cancel_after)
    g_cancellable_cancel (w->cancellable);
}

static void
test_cancel_resume (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GArray) frames = NULL;
  Fixture f = { 0 };
  Watch w = { cancellable, 0, 0, 256 };
  FacetAnalysisOptions opt = { .batch = 4 };
  FacetAnalysisProgress result;
  gboolean ok;

  fixture_init (&f, "cancel", 900, FACET_CROP_NONE);
  ok = facet_analysis_run (f.store, f.engine, f.model_id, &opt, on_progress, &w, cancellable,
                           &result, &error);
  g_assert_false (ok);
  g_assert_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (result.frames_total, ==, 900);
  /* Whole chunks only, and fewer than all of them. */
  g_assert_cmpint (result.frames_done % FACET_ANALYSIS_CHUNK_FRAMES, ==, 0);
  g_assert_cmpint (result.frames_done, <, 900);
  g_assert_cmpint (facet_store_count_analysed (f.store, f.model_id, f.video, &error), ==,
                   result.frames_done);

  w = (Watch) { NULL, 0, 0, 0 };
  g_assert_true (facet_analysis_run (f.store, f.engine, f.model_id, &opt, on_progress, &w, NULL,
                                     &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.frames_skipped + result.frames_done, ==, 900);
  g_assert_cmpint (w.last_done, ==, result.frames_done);
  frames = facet_store_get_analysed_frames (f.store, f.model_id, f.video, &error);
  g_assert_cmpuint (frames->len, ==, 900);
  {
    g_autoptr (GPtrArray) runs = facet_store_list_runs (f.store, &error);
    g_assert_cmpuint (runs->len, ==, 2);
    g_assert_cmpstr (((FacetStoreRun *) runs->pdata[0])->status, ==, "cancelled");
    g_assert_cmpstr (((FacetStoreRun *) runs->pdata[1])->status, ==, "done");
  }
  /* The same frames analysed alone give the same probabilities. */
  {
    g_autoptr (FacetMediaSource) src = NULL;
    g_autoptr (FacetForwardResult) r = NULL;
    g_autofree char *path = facet_store_resolve_video (f.store, f.video, &error);
    const gint64 check[] = { 0, 255, 256, 899 };
    src = facet_media_source_open (path, 0, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < G_N_ELEMENTS (check); i++)
      {
        g_autoptr (FacetImage) img = facet_media_source_get_frame (src, check[i], &error);
        float stored[3];
        gboolean found;
        FacetImage *one[1] = { img };
        r = facet_engine_predict_images (f.engine, one, 1, FACET_FORWARD_NONE, &error);
        g_assert_true (facet_store_get_prediction (f.store, f.model_id, f.video, check[i], stored,
                                                   &found, &error));
        g_assert_true (found);
        for (int a = 0; a < 3; a++)
          g_assert_cmpfloat_with_epsilon (stored[a], r->probs[a], 1.0 / 65535.0);
        g_clear_pointer (&r, facet_forward_result_free);
      }
  }
  fixture_clear (&f);
}

static void
test_stride_selection (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) frames = NULL;
  Fixture f = { 0 };
  FacetAnalysisOptions opt = { .stride = 7, .batch = 3 };
  FacetAnalysisProgress result;
  gint64 other, missing = 99;

  fixture_init (&f, "stride", 100, FACET_CROP_NONE);
  {
    g_autofree char *second = write_video ("stride-second.mkv", 30, 64);
    FacetStoreVideoInfo info = { second, "S2", FACET_CROP_NONE, 30, 25.0, 64, 64 };
    other = facet_store_add_video (f.store, &info, &error);
  }
  opt.video_ids = &other;
  opt.n_videos = 1;
  g_assert_true (facet_analysis_run (f.store, f.engine, f.model_id, &opt, NULL, NULL, NULL, &result,
                                     &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.frames_done, ==, 5); /* 0, 7, 14, 21, 28 */
  g_assert_cmpint (facet_store_count_analysed (f.store, f.model_id, f.video, &error), ==, 0);
  frames = facet_store_get_analysed_frames (f.store, f.model_id, other, &error);
  g_assert_cmpuint (frames->len, ==, 5);
  g_assert_cmpint (g_array_index (frames, gint64, 4), ==, 28);
  {
    FacetFrameResult face;
    gboolean found;
    g_assert_true (facet_store_get_face (f.store, other, 21, &face, &found, &error));
    g_assert_true (found);
    g_assert_cmpint (face.status, ==, FACET_STORE_FACE_WHOLE);
    g_assert_cmpfloat_with_epsilon (face.time, 21 / 25.0, 1e-6);
  }
  /* All videos, every frame: the stride-7 frames are not done again. */
  opt = (FacetAnalysisOptions) { 0 };
  g_assert_true (facet_analysis_run (f.store, f.engine, f.model_id, &opt, NULL, NULL, NULL, &result,
                                     &error));
  g_assert_cmpint (result.frames_done, ==, 100 + 25);
  g_assert_cmpint (result.frames_skipped, ==, 5);
  /* A video that is not there. */
  opt.video_ids = &missing;
  opt.n_videos = 1;
  g_assert_false (facet_analysis_run (f.store, f.engine, f.model_id, &opt, NULL, NULL, NULL, NULL,
                                      &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Bad shard numbers. */
  opt = (FacetAnalysisOptions) { .shard_index = 3, .shard_count = 2 };
  g_assert_false (facet_analysis_run (f.store, f.engine, f.model_id, &opt, NULL, NULL, NULL, NULL,
                                      &error));
  g_assert_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_INVALID);
  fixture_clear (&f);
}

/* Face detection on frames without a face: analysed, no prediction. */
static void
test_no_face (void)
{
  g_autoptr (GError) error = NULL;
  Fixture f = { 0 };
  FacetAnalysisProgress result;
  FacetFrameResult face;
  gboolean found;
  float probs[3];

  fixture_init (&f, "noface", 12, FACET_CROP_BOX);
  g_assert_true (facet_analysis_run (f.store, f.engine, f.model_id, NULL, NULL, NULL, NULL, &result,
                                     &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.frames_done, ==, 12);
  g_assert_cmpint (result.frames_no_face, ==, 12);
  g_assert_true (facet_store_get_prediction (f.store, f.model_id, f.video, 5, probs, &found, &error));
  g_assert_true (found);
  g_assert_true (isnan (probs[0]));
  g_assert_true (facet_store_get_face (f.store, f.video, 5, &face, &found, &error));
  g_assert_cmpint (face.status, ==, FACET_STORE_FACE_NONE);
  fixture_clear (&f);
}

static void
test_model_mismatch (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (FacetModel) other = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  Fixture f = { 0 };
  gint64 id;

  fixture_init (&f, "mismatch", 10, FACET_CROP_NONE);
  facet_model_config_set_preset (c, "tiny");
  c->depth = 1;
  c->image_size = 32;
  {
    const int aus[] = { 4 };
    facet_model_config_set_aus (c, aus, 1);
  }
  other = facet_model_new_random (c, 1, &error);
  engine = facet_engine_new (other, "cpu", &error);
  /* The store's model predicts AUs 1, 2, 12; this engine's model AU 4. */
  g_assert_false (facet_analysis_run (f.store, engine, f.model_id, NULL, NULL, NULL, NULL, NULL,
                                      &error));
  g_assert_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_MISMATCH);
  g_clear_error (&error);
  /* A project without models, no model asked for: say to pass one. */
  {
    g_autofree char *empty = g_build_filename (tmpdir, "empty.facet", NULL);
    g_autoptr (FacetStore) store = facet_store_create (empty, &error);
    g_assert_null (facet_pipeline_load_model (store, NULL, &id, &error));
    g_assert_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_NO_MODEL);
    g_assert_nonnull (strstr (error->message, "--model"));
    g_clear_error (&error);
    g_assert_null (facet_pipeline_load_model (store, "7", &id, &error));
    g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  }
  fixture_clear (&f);
}

static void
test_neutral_pick (void)
{
  /* Frames 0..9 one apart; the lowest scores are at 4, 5 and 9; NAN is
   * a frame without a face. */
  const gint64 frames[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  const double calm[] = { 0.9, 0.8, NAN, 0.7, 0.1, 0.2, 0.6, 0.5, 0.4, 0.3 };
  gsize picked[10];
  const float a[] = { 0, 0, 0, 1, 1, 1, 5, 5, 5 }, x[] = { 1, 1, 1 };

  /* No spacing: the calmest first. */
  g_assert_cmpint (facet_neutral_pick (frames, calm, 10, 0, 3, picked), ==, 3);
  g_assert_cmpint (picked[0], ==, 4);
  g_assert_cmpint (picked[1], ==, 5);
  g_assert_cmpint (picked[2], ==, 9);
  /* Three frames apart: 4, then 9 (5 is too near 4), then 0 or 1 (6, 7
   * and 8 too near): 1 is calmer. */
  g_assert_cmpint (facet_neutral_pick (frames, calm, 10, 3, 5, picked), ==, 3);
  g_assert_cmpint (picked[0], ==, 4);
  g_assert_cmpint (picked[1], ==, 9);
  g_assert_cmpint (picked[2], ==, 1);
  /* Never a frame without a face, never one twice. */
  g_assert_cmpint (facet_neutral_pick (frames, calm, 10, 0, 10, picked), ==, 9);
  for (int i = 0; i < 9; i++)
    g_assert_cmpint (picked[i], !=, 2);
  g_assert_cmpint (facet_neutral_pick (frames, calm, 0, 0, 3, picked), ==, 0);

  /* The nearest candidate, an exact copy of the input excepted. */
  g_assert_cmpint (facet_neutral_nearest (a, 3, 3, x), ==, 0);
  g_assert_cmpint (facet_neutral_nearest (a + 3, 2, 3, x), ==, 1);
  g_assert_cmpint (facet_neutral_nearest (a + 3, 1, 3, x), ==, -1);
}

static void
test_neutral_frames (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetPredictionSet) set = NULL;
  g_autoptr (FacetNeutralFrames) none = NULL;
  g_autoptr (FacetNeutralFrames) calm = NULL;
  const FacetModelConfig *c;
  Fixture f = { 0 };
  double least = G_MAXDOUBLE;
  gint64 calmest = -1;
  gsize per;

  fixture_init (&f, "neutral", 60, FACET_CROP_NONE);
  c = facet_model_get_config (f.model);
  per = 3 * (gsize) c->image_size * c->image_size;

  /* Not analysed yet: no calm frame, no error. */
  none = facet_neutral_frames_load (f.store, f.model_id, f.video, f.engine, 4, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (none);
  g_assert_cmpint (none->n, ==, 0);

  g_assert_true (facet_analysis_run (f.store, f.engine, f.model_id, NULL, NULL, NULL, NULL, NULL,
                                     &error));
  g_assert_no_error (error);
  calm = facet_neutral_frames_load (f.store, f.model_id, f.video, f.engine, 4, NULL, &error);
  g_assert_no_error (error);
  /* 60 frames at 25 fps, at most one a second: two or three. */
  g_assert_cmpint (calm->n, >=, 2);
  g_assert_cmpint (calm->n, <=, 3);
  for (int i = 0; i < calm->n; i++)
    for (int j = 0; j < i; j++)
      g_assert_cmpint (ABS (calm->frames[i] - calm->frames[j]), >=, 25);

  /* The first is the calmest frame of the video by the stored predictions. */
  set = facet_store_get_predictions (f.store, f.model_id, f.video, 0, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (set->n, ==, 60);
  for (gsize i = 0; i < set->n; i++)
    {
      double sum = 0.0;
      for (int a = 0; a < set->n_aus; a++)
        sum += set->probs[i * set->n_aus + a];
      if (sum < least)
        {
          least = sum;
          calmest = set->frames[i];
        }
    }
  g_assert_cmpint (calm->frames[0], ==, calmest);

  /* Each input is its frame, decoded and prepared as the engine does. */
  {
    g_autofree char *path = facet_store_resolve_video (f.store, f.video, &error);
    g_autoptr (FacetMediaSource) media = facet_media_source_open (path, 25.0, &error);
    g_assert_no_error (error);
    for (int i = 0; i < calm->n; i++)
      {
        g_autoptr (FacetImage) image = facet_media_source_get_frame (media, calm->frames[i], &error);
        g_autofree float *want = g_new (float, per);
        g_assert_no_error (error);
        facet_engine_prepare_image (f.engine, image, want);
        g_assert_cmpmem (calm->inputs + per * i, per * sizeof (float), want, per * sizeof (float));
      }

    /* The video gone: an error, not an empty set. */
    {
      g_autofree char *moved = g_strconcat (path, ".moved", NULL);
      g_autoptr (FacetNeutralFrames) lost = NULL;
      g_assert_cmpint (g_rename (path, moved), ==, 0);
      lost = facet_neutral_frames_load (f.store, f.model_id, f.video, f.engine, 4, NULL, &error);
      g_assert_null (lost);
      g_assert_nonnull (error);
      g_clear_error (&error);
      g_assert_cmpint (g_rename (moved, path), ==, 0);
    }
  }
  fixture_clear (&f);
}

int
main (int    argc,
      char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("facet-pipeline-XXXXXX", NULL);

  g_test_add_func ("/pipeline/cancel-resume", test_cancel_resume);
  g_test_add_func ("/pipeline/stride-selection", test_stride_selection);
  g_test_add_func ("/pipeline/no-face", test_no_face);
  g_test_add_func ("/pipeline/model-mismatch", test_model_mismatch);
  g_test_add_func ("/pipeline/neutral-pick", test_neutral_pick);
  g_test_add_func ("/pipeline/neutral-frames", test_neutral_frames);

  rc = g_test_run ();
  if (rc == 0)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
      g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
    }
  g_free (tmpdir);
  return rc;
}
