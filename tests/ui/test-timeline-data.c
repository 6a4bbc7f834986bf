/* test-timeline-data.c — the timeline's decimation and hit-testing, the
 * timecode parser and the demo recipe, without a display */
#include "config.h"

#include <math.h>

#include <glib/gstdio.h>

#include "core/facet-core.h"
#include "store/facet-store.h"
#include "facet-demo.h"
#include "facet-timecode.h"
#include "facet-timeline-data.h"

/* Brute-force reference of a span. */
static void
reference_span (FacetTimelineData *data,
                int                lane,
                gint64             first,
                gint64             end,
                FacetTimelineSpan *out)
{
  double sum = 0;

  out->n = 0;
  out->min = out->max = out->mean = NAN;
  for (gint64 f = MAX (first, 0); f < MIN (end, facet_timeline_data_get_n_frames (data)); f++)
    {
      float v = facet_timeline_data_get_value (data, lane, f);
      if (isnan (v))
        continue;
      out->min = out->n ? MIN (out->min, v) : v;
      out->max = out->n ? MAX (out->max, v) : v;
      sum += v;
      out->n++;
    }
  if (out->n)
    out->mean = (float) (sum / out->n);
}

static void
assert_span_equal (const FacetTimelineSpan *a,
                   const FacetTimelineSpan *b)
{
  g_assert_cmpuint (a->n, ==, b->n);
  if (a->n == 0)
    {
      g_assert_true (isnan (a->min) && isnan (b->min));
      return;
    }
  g_assert_cmpfloat (a->min, ==, b->min);
  g_assert_cmpfloat (a->max, ==, b->max);
  g_assert_cmpfloat_with_epsilon (a->mean, b->mean, 1e-5);
}

/* Values like an analysis produces: smooth with jumps, frames without a face. */
static void
fill_random (FacetTimelineData *data,
             FacetRng          *rng,
             double             no_face)
{
  gint64 n = facet_timeline_data_get_n_frames (data);
  int lanes = facet_timeline_data_get_n_lanes (data);
  g_autofree gint64 *frames = g_new (gint64, n);
  g_autofree float *values = g_new (float, n * lanes);
  g_autofree float *walk = g_new0 (float, lanes);

  for (gint64 f = 0; f < n; f++)
    {
      gboolean missing = facet_rng_uniform (rng) < no_face;
      frames[f] = f;
      for (int l = 0; l < lanes; l++)
        {
          walk[l] = CLAMP (walk[l] + (float) (facet_rng_uniform (rng) - 0.5) * 0.2f, 0.0f, 1.0f);
          values[f * lanes + l] = missing ? NAN : walk[l];
        }
    }
  facet_timeline_data_set_values (data, frames, values, (gsize) n);
}

static void
test_span_exact (void)
{
  g_autoptr (FacetTimelineData) data = facet_timeline_data_new (1000, 3);
  FacetRng rng;

  facet_rng_init (&rng, 7);
  fill_random (data, &rng, 0.1);
  g_assert_cmpint (facet_timeline_data_count_known (data), ==, 1000);
  g_assert_cmpint (facet_timeline_data_first_unknown (data), ==, 1000);

  for (int i = 0; i < 2000; i++)
    {
      gint64 a = (gint64) (facet_rng_uniform (&rng) * 1100) - 50;
      gint64 b = a + (gint64) (facet_rng_uniform (&rng) * 600);
      int lane = (int) (facet_rng_uniform (&rng) * 3);
      FacetTimelineSpan got, want;

      facet_timeline_data_span (data, lane, a, b, &got);
      reference_span (data, lane, a, b, &want);
      assert_span_equal (&got, &want);
    }
}

static void
test_decimate_hour (void)
{
  /* One hour at 30 fps, 12 AUs: what the benchmark draws. */
  const gint64 n = 108000;
  g_autoptr (FacetTimelineData) data = facet_timeline_data_new (n, 12);
  g_autofree FacetTimelineSpan *buckets = g_new (FacetTimelineSpan, 1200);
  FacetRng rng;
  guint64 total = 0;

  facet_rng_init (&rng, 11);
  fill_random (data, &rng, 0.02);
  facet_timeline_data_decimate (data, 5, 0, (double) n / 1200, 1200, buckets);
  for (guint i = 0; i < 1200; i++)
    total += buckets[i].n;
  {
    FacetTimelineSpan all;
    facet_timeline_data_span (data, 5, 0, n, &all);
    /* The buckets cover every frame exactly once. */
    g_assert_cmpuint (total, ==, all.n);
  }
  for (guint i = 0; i < 1200; i += 97)
    {
      FacetTimelineSpan want;
      gint64 a = (gint64) floor (i * ((double) n / 1200));
      gint64 b = (gint64) floor ((i + 1) * ((double) n / 1200));
      reference_span (data, 5, a, b, &want);
      assert_span_equal (&buckets[i], &want);
    }

  /* Zoomed in on a fractional start: buckets of 2.5 frames. */
  facet_timeline_data_decimate (data, 0, 5000.25, 2.5, 400, buckets);
  for (guint i = 0; i < 400; i += 13)
    {
      FacetTimelineSpan want;
      gint64 a = (gint64) floor (5000.25 + i * 2.5);
      gint64 b = (gint64) floor (5000.25 + (i + 1) * 2.5);
      reference_span (data, 0, a, b, &want);
      assert_span_equal (&buckets[i], &want);
    }

  /* Beyond the end: empty. */
  facet_timeline_data_decimate (data, 0, (double) n - 10, 4.0, 10, buckets);
  g_assert_cmpuint (buckets[9].n, ==, 0);
  g_assert_cmpuint (buckets[0].n, >, 0);
}

static void
test_incremental (void)
{
  g_autoptr (FacetTimelineData) data = facet_timeline_data_new (1000, 2);
  gint64 frames[256];
  float values[512];
  FacetTimelineSpan span;

  g_assert_cmpint (facet_timeline_data_first_unknown (data), ==, 0);
  facet_timeline_data_span (data, 0, 0, 1000, &span);
  g_assert_cmpuint (span.n, ==, 0);
  g_assert_true (isnan (span.mean));

  /* Chunks arrive out of order (shards), the first one last. */
  for (int chunk = 3; chunk >= 0; chunk--)
    {
      for (int i = 0; i < 256; i++)
        {
          frames[i] = chunk * 256 + i;
          values[2 * i] = 0.25f;
          values[2 * i + 1] = i % 2 ? NAN : 0.75f;
        }
      facet_timeline_data_set_values (data, frames, values, chunk == 3 ? 1000 - 768 : 256);
      g_assert_cmpint (facet_timeline_data_first_unknown (data), ==, chunk == 0 ? 1000 : 0);
    }
  g_assert_cmpint (facet_timeline_data_count_known (data), ==, 1000);
  facet_timeline_data_span (data, 0, 0, 1000, &span);
  g_assert_cmpuint (span.n, ==, 1000);
  g_assert_cmpfloat_with_epsilon (span.mean, 0.25, 1e-6);
  facet_timeline_data_span (data, 1, 0, 1000, &span);
  g_assert_cmpuint (span.n, ==, 500);
  g_assert_cmpfloat (span.max, ==, 0.75f);

  /* Frames outside the video are ignored, not written. */
  frames[0] = 5000;
  frames[1] = -3;
  facet_timeline_data_set_values (data, frames, values, 2);
  g_assert_cmpint (facet_timeline_data_count_known (data), ==, 1000);

  facet_timeline_data_clear_values (data);
  g_assert_cmpint (facet_timeline_data_count_known (data), ==, 0);
  g_assert_cmpint (facet_timeline_data_first_unknown (data), ==, 0);
  facet_timeline_data_span (data, 0, 0, 1000, &span);
  g_assert_cmpuint (span.n, ==, 0);
  g_assert_false (facet_timeline_data_is_known (data, 10));
}

static void
test_disagreements (void)
{
  g_autoptr (FacetTimelineData) data = facet_timeline_data_new (100, 1);
  FacetLabelSegment labels[] = {
    { 10, 19, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN },
    { 30, 39, FACET_LABEL_ABSENT, FACET_LABEL_SOURCE_IMPORTED },
    { 50, 59, FACET_LABEL_NOT_CODABLE, FACET_LABEL_SOURCE_HUMAN },
  };
  gint64 frames[100];
  float values[100];
  const FacetLabelSegment *d;
  guint n;

  for (int f = 0; f < 100; f++)
    {
      frames[f] = f;
      /* High except frames 12-14; frames 35-36 without a face. */
      values[f] = (f >= 12 && f <= 14) ? 0.2f : 0.8f;
      if (f == 35 || f == 36)
        values[f] = NAN;
    }
  facet_timeline_data_set_values (data, frames, values, 100);
  facet_timeline_data_set_segments (data, 0, labels, G_N_ELEMENTS (labels));

  d = facet_timeline_data_get_disagreements (data, 0, &n);
  /* Present but low at 12-14; absent but high at 30-34 and 37-39; the
   * not-codable run and the frames without a face never disagree. */
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (d[0].first, ==, 12);
  g_assert_cmpint (d[0].last, ==, 14);
  g_assert_cmpint (d[0].state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (d[1].first, ==, 30);
  g_assert_cmpint (d[1].last, ==, 34);
  g_assert_cmpint (d[2].first, ==, 37);
  g_assert_cmpint (d[2].last, ==, 39);
  g_assert_cmpint (d[2].state, ==, FACET_LABEL_ABSENT);

  /* A threshold above every value: now the present run disagrees
   * throughout and the absent one not at all. */
  facet_timeline_data_set_threshold (data, 0, 0.9f);
  g_assert_cmpfloat (facet_timeline_data_get_threshold (data, 0), ==, 0.9f);
  d = facet_timeline_data_get_disagreements (data, 0, &n);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (d[0].first, ==, 10);
  g_assert_cmpint (d[0].last, ==, 19);

  g_assert_cmpint (facet_timeline_segments_find (labels, 3, 15), ==, 0);
  g_assert_cmpint (facet_timeline_segments_find (labels, 3, 30), ==, 1);
  g_assert_cmpint (facet_timeline_segments_find (labels, 3, 59), ==, 2);
  g_assert_cmpint (facet_timeline_segments_find (labels, 3, 25), ==, -1);
  g_assert_cmpint (facet_timeline_segments_find (labels, 3, 60), ==, -1);
  g_assert_cmpint (facet_timeline_segments_find (labels, 0, 1), ==, -1);
}

static void
test_rects (void)
{
  g_autoptr (GArray) rects = g_array_new (FALSE, FALSE, sizeof (FacetTimelineRect));
  g_autoptr (GArray) dense = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));
  FacetLabelSegment wide[] = {
    { 0, 99, FACET_LABEL_PRESENT, 0 },
    { 100, 199, FACET_LABEL_ABSENT, 0 },
    { 300, 300, FACET_LABEL_NOT_CODABLE, 0 },
  };
  const FacetTimelineRect *r;
  guint n;

  /* 1 frame per pixel: exact rectangles. */
  n = facet_timeline_segments_to_rects (wide, 3, 0, 1.0, 400, rects);
  g_assert_cmpuint (n, ==, 3);
  r = (const FacetTimelineRect *) (gpointer) rects->data;
  g_assert_cmpfloat (r[0].x0, ==, 0);
  g_assert_cmpfloat (r[0].x1, ==, 100);
  g_assert_cmpint (r[0].state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpfloat (r[1].x0, ==, 100);
  g_assert_cmpfloat (r[1].x1, ==, 200);
  g_assert_cmpfloat (r[2].x0, ==, 300);
  g_assert_cmpfloat (r[2].x1, ==, 301);

  /* Scrolled to frame 150 at 2 px per frame: the first run is gone, the
   * second clipped at the left edge, the third outside on the right. */
  g_array_set_size (rects, 0);
  n = facet_timeline_segments_to_rects (wide, 3, 150, 0.5, 200, rects);
  g_assert_cmpuint (n, ==, 1);
  r = (const FacetTimelineRect *) (gpointer) rects->data;
  g_assert_cmpfloat (r[0].x0, ==, 0);
  g_assert_cmpfloat (r[0].x1, ==, 100);
  g_assert_cmpint (r[0].state, ==, FACET_LABEL_ABSENT);

  /* A label change on every frame of an hour, drawn 500 px wide: merged
   * into at most a few rectangles per pixel column, mixed where states
   * alternate. */
  for (gint64 f = 0; f < 108000; f++)
    {
      FacetLabelSegment s = { f, f, f % 2 ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT, 0 };
      g_array_append_val (dense, s);
    }
  g_array_set_size (rects, 0);
  n = facet_timeline_segments_to_rects ((const FacetLabelSegment *) (gpointer) dense->data,
                                        dense->len,
                                        0, 108000.0 / 500, 500, rects);
  g_assert_cmpuint (n, <=, 2 * 500 + 2);
  g_assert_cmpuint (n, >=, 250);
  r = (const FacetTimelineRect *) (gpointer) rects->data;
  g_assert_cmpint (r[0].state, ==, FACET_TIMELINE_STATE_MIXED);
  for (guint i = 1; i < n; i++)
    g_assert_cmpfloat (r[i].x0, >=, r[i - 1].x0);
  g_assert_cmpfloat (r[n - 1].x1, <=, 500);
  g_assert_cmpfloat (r[n - 1].x1, >, 499);
}

static FacetTimelineLayout
make_layout (void)
{
  FacetTimelineLayout l = { 0 };

  l.width = 1100;
  l.height = 300;
  l.label_width = 100;
  l.ruler_height = 20;
  l.lane_height = 40;
  l.n_lanes = 12;
  l.n_frames = 10000;
  facet_timeline_layout_fit (&l);
  return l;
}

static void
test_hit (void)
{
  FacetTimelineLayout l = make_layout ();
  FacetTimelineHit hit;

  g_assert_cmpfloat (l.first, ==, 0);
  g_assert_cmpfloat_with_epsilon (l.frames_per_px, 10.0, 1e-9);

  facet_timeline_layout_hit (&l, 600, 10, &hit);
  g_assert_cmpint (hit.area, ==, FACET_TIMELINE_AREA_RULER);
  g_assert_cmpint (hit.frame, ==, 5000);
  g_assert_cmpint (hit.lane, ==, -1);

  facet_timeline_layout_hit (&l, 50, 25, &hit);
  g_assert_cmpint (hit.area, ==, FACET_TIMELINE_AREA_LABEL);
  g_assert_cmpint (hit.lane, ==, 0);

  facet_timeline_layout_hit (&l, 100.5, 20 + 3 * 40 + 1, &hit);
  g_assert_cmpint (hit.area, ==, FACET_TIMELINE_AREA_LANE);
  g_assert_cmpint (hit.lane, ==, 3);
  g_assert_cmpint (hit.frame, ==, 5);

  /* The last pixel is the last frame, never one past it. */
  facet_timeline_layout_hit (&l, 1099.99, 30, &hit);
  g_assert_cmpint (hit.frame, ==, 9999);
  facet_timeline_layout_hit (&l, 1100, 30, &hit);
  g_assert_cmpint (hit.area, ==, FACET_TIMELINE_AREA_NONE);
  facet_timeline_layout_hit (&l, -1, 30, &hit);
  g_assert_cmpint (hit.area, ==, FACET_TIMELINE_AREA_NONE);

  /* Scrolled down by two lanes: the first visible row is lane 2; below
   * the last lane is no lane. */
  l.scroll_y = 80;
  facet_timeline_layout_clamp (&l);
  g_assert_cmpfloat (l.scroll_y, ==, 80);
  facet_timeline_layout_hit (&l, 500, 25, &hit);
  g_assert_cmpint (hit.lane, ==, 2);
  g_assert_cmpfloat (facet_timeline_layout_lane_y (&l, 2), ==, 20);
  l.scroll_y = 1e6;
  facet_timeline_layout_clamp (&l);
  g_assert_cmpfloat (l.scroll_y, ==, 12 * 40 - (300 - 20));
  l.scroll_y = 0;
  l.n_lanes = 2;
  facet_timeline_layout_hit (&l, 500, 20 + 2 * 40 + 5, &hit);
  g_assert_cmpint (hit.lane, ==, -1);
  g_assert_cmpint (hit.area, ==, FACET_TIMELINE_AREA_NONE);
}

static void
test_zoom (void)
{
  FacetTimelineLayout l = make_layout ();
  double anchor = facet_timeline_layout_x_to_frame (&l, 350);
  FacetTimelineHit hit_last;

  /* Zooming keeps the frame under the pointer where it is. */
  facet_timeline_layout_zoom (&l, 4.0, 350);
  g_assert_cmpfloat_with_epsilon (l.frames_per_px, 2.5, 1e-9);
  g_assert_cmpfloat_with_epsilon (facet_timeline_layout_x_to_frame (&l, 350), anchor, 1e-6);
  g_assert_cmpfloat_with_epsilon (facet_timeline_layout_frame_to_x (&l, anchor), 350, 1e-6);

  /* Never beyond 16 px per frame, never beyond the whole video. */
  facet_timeline_layout_zoom (&l, 1000.0, 600);
  g_assert_cmpfloat (l.frames_per_px, ==, 1.0 / FACET_TIMELINE_MAX_PX_PER_FRAME);
  facet_timeline_layout_zoom (&l, 1e-6, 600);
  g_assert_cmpfloat_with_epsilon (l.frames_per_px, 10.0, 1e-9);
  g_assert_cmpfloat (l.first, ==, 0);

  /* Following the playhead pages forward and back. */
  facet_timeline_layout_zoom (&l, 10.0, 100);
  g_assert_cmpfloat (l.first, ==, 0);
  g_assert_false (facet_timeline_layout_follow (&l, 500));
  g_assert_true (facet_timeline_layout_follow (&l, 5000));
  g_assert_cmpfloat (facet_timeline_layout_frame_to_x (&l, 5000), >=, l.label_width);
  g_assert_cmpfloat (facet_timeline_layout_frame_to_x (&l, 5001), <=, l.width);
  g_assert_true (facet_timeline_layout_follow (&l, 10));
  g_assert_cmpfloat (l.first, <=, 10);
  g_assert_true (facet_timeline_layout_follow (&l, 9999));
  g_assert_cmpfloat (l.first + facet_timeline_layout_plot_width (&l) * l.frames_per_px, <=,
                     10000 + 1e-6);

  /* A video shorter than the view at the largest zoom fills the width. */
  l.n_frames = 30;
  facet_timeline_layout_fit (&l);
  g_assert_cmpfloat_with_epsilon (l.frames_per_px, 30.0 / 1000, 1e-12);
  facet_timeline_layout_hit (&l, 1099, 30, &hit_last);
  g_assert_cmpint (hit_last.frame, ==, 29);
}

static void
test_timecode (void)
{
  FacetTimecodeKind kind;
  gint64 frame = -1;
  double seconds = -1;
  static const char *bad[] = { "", "abc", "1:2:3:4:5", "1:60", "-5", "1.5", "#1.5", "1::2",
                               "12:00:00:30", "::", "1e3", "0x10", "5 s s", NULL };

  g_assert_true (facet_timecode_parse ("1234", 25, &kind, &frame, &seconds));
  g_assert_cmpint (kind, ==, FACET_TIMECODE_FRAME);
  g_assert_cmpint (frame, ==, 1234);
  g_assert_true (facet_timecode_parse (" #17 ", 25, &kind, &frame, &seconds));
  g_assert_cmpint (frame, ==, 17);
  g_assert_true (facet_timecode_parse ("75.5s", 25, &kind, &frame, &seconds));
  g_assert_cmpint (kind, ==, FACET_TIMECODE_SECONDS);
  g_assert_cmpfloat (seconds, ==, 75.5);
  g_assert_true (facet_timecode_parse ("1:15,5", 25, &kind, &frame, &seconds));
  g_assert_cmpfloat (seconds, ==, 75.5);
  g_assert_true (facet_timecode_parse ("1:02:03.5", 25, &kind, &frame, &seconds));
  g_assert_cmpfloat (seconds, ==, 3723.5);
  g_assert_true (facet_timecode_parse ("00:00:01:12", 25, &kind, &frame, &seconds));
  g_assert_cmpfloat_with_epsilon (seconds, 1.48, 1e-12);
  /* Frames need a frame rate. */
  g_assert_false (facet_timecode_parse ("00:00:01:12", 0, &kind, &frame, &seconds));
  for (guint i = 0; bad[i] != NULL; i++)
    {
      if (facet_timecode_parse (bad[i], 30, &kind, &frame, &seconds))
        g_error ("“%s” was accepted", bad[i]);
    }
  g_assert_false (facet_timecode_parse (NULL, 30, &kind, &frame, &seconds));

  {
    g_autofree char *a = facet_timecode_format (62.3456);
    g_autofree char *b = facet_timecode_format (3723.5);
    g_autofree char *c = facet_timecode_format (-1);
    g_autofree char *d = facet_timecode_format (NAN);
    g_assert_cmpstr (a, ==, "1:02.346");
    g_assert_cmpstr (b, ==, "1:02:03.500");
    g_assert_cmpstr (c, ==, "0:00.000");
    g_assert_cmpstr (d, ==, "0:00.000");
  }
}

static void
test_recipe (void)
{
  static const char good[] =
    "[Demo]\nName=t\nFramesPerSecond=10\nFrameSize=128\nLabelledFraction=0.5\n"
    "[Subject A]\nSeed=3\nSeconds=2\n[Subject B]\nSeconds=1.5\nLabelledFraction=1\n";
  static const struct
  {
    const char *text;
    const char *message;
  } bad[] = {
    { "[Other]\n", "no [Demo] group" },
    { "[Demo]\n", "no [Subject NAME] group" },
    { "[Demo]\nFramesPerSecond=fast\n[Subject A]\n", "FramesPerSecond is not a number" },
    { "[Demo]\nFrameSize=127\n[Subject A]\n", "FrameSize an even" },
    { "[Demo]\nCrop=round\n[Subject A]\n", "Crop “round”" },
    { "[Demo]\n[Subject a/b]\n", "without slashes" },
    { "[Demo]\n[Subject A]\nSeconds=0\n", "needs Seconds" },
    { "not a key file", "t.recipe" },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetDemoRecipe) r = facet_demo_recipe_load_from_data (good, sizeof good - 1,
                                                                    "t.recipe",
                                                                    &error);

  g_assert_no_error (error);
  g_assert_cmpuint (facet_demo_recipe_get_n_subjects (r), ==, 2);
  g_assert_cmpint (facet_demo_recipe_get_n_frames (r), ==, 20 + 15);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e = NULL;
      g_autoptr (FacetDemoRecipe) b = facet_demo_recipe_load_from_data (bad[i].text,
                                                                        strlen (bad[i].text),
                                                                        "t.recipe", &e);
      g_assert_null (b);
      g_assert_nonnull (e);
      if (strstr (e->message, bad[i].message) == NULL)
        g_error ("recipe %u: “%s” does not mention “%s”", i, e->message, bad[i].message);
    }

  /* The shipped recipe parses. */
  {
    g_autofree char *path = g_build_filename (FACET_SOURCE_DATADIR, "demo", "facet-demo.recipe",
                                              NULL);
    g_autoptr (FacetDemoRecipe) shipped = facet_demo_recipe_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (facet_demo_recipe_get_n_subjects (shipped), >=, 3);
  }
}

/* Removes @path and everything below it. */
static void
remove_folder (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_folder (child);
      else
        g_unlink (child);
    }
  if (dir != NULL)
    g_dir_close (dir);
  g_rmdir (path);
}

/* The models of a demo project, newest last. */
static GPtrArray *
demo_models (const char *project)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (project, &error);
  GPtrArray *models;

  g_assert_no_error (error);
  models = facet_store_list_models (store, &error);
  g_assert_no_error (error);
  return models;
}

/* A demo project made with one demo model gets the current one when the
 * demo model has changed (a newer Facet): added as its newest model, with
 * its metrics, once; labels and the older model stay. */
static void
test_demo_model_update (void)
{
  static const char text[] =
    "[Demo]\nName=update test\nFramesPerSecond=5\nFrameSize=64\nCodec=ffv1\nCrop=none\n"
    "LabelledFraction=0.5\nCoder=Importer\n[Subject A1]\nSeed=11\nRecording=1\nSeconds=1\n";
  const char *old_model = g_getenv ("FACET_DEMO_SCRATCH_MODEL");
  g_autofree char *saved = g_strdup (g_getenv ("FACET_DEMO_MODEL"));
  g_autofree char *new_model = g_build_filename (FACET_SOURCE_DATADIR, "demo",
                                                 "facet-demo.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetDemoRecipe) recipe = facet_demo_recipe_load_from_data (text, strlen (text),
                                                                          "t.recipe", &error);
  g_autofree char *folder = g_dir_make_tmp ("facet-demo-update-XXXXXX", &error);
  g_autofree char *first = NULL, *again = NULL, *third = NULL;
  g_autoptr (GPtrArray) before = NULL, after = NULL, last = NULL;
  const FacetStoreModel *newest;

  g_assert_no_error (error);
  if (old_model == NULL || !g_file_test (old_model, G_FILE_TEST_IS_REGULAR)
      || !g_file_test (new_model, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("the two demo models are not there");
      return;
    }
  g_setenv ("FACET_DEMO_MODEL", old_model, TRUE);
  first = facet_demo_build (recipe, folder, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  before = demo_models (first);
  g_assert_cmpuint (before->len, ==, 1);
  g_assert_cmpstr (((FacetStoreModel *) g_ptr_array_index (before, 0))->name, ==,
                   "facet-demo-scratch");

  g_setenv ("FACET_DEMO_MODEL", new_model, TRUE);
  again = facet_demo_build (recipe, folder, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, first);
  after = demo_models (again);
  g_assert_cmpuint (after->len, ==, 2);
  newest = g_ptr_array_index (after, 1);
  g_assert_cmpstr (newest->name, ==, "facet-demo");
  g_assert_nonnull (strstr (newest->metrics_json, "\"f1_mean\""));

  /* Opened again with the same model: nothing added. */
  third = facet_demo_build (recipe, folder, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  last = demo_models (third);
  g_assert_cmpuint (last->len, ==, 2);

  if (saved != NULL)
    g_setenv ("FACET_DEMO_MODEL", saved, TRUE);
  else
    g_unsetenv ("FACET_DEMO_MODEL");
  remove_folder (folder);
}

/* Intensity runs: present runs with a level, neighbours of one level
 * joined across sources, absent runs and present runs without a level
 * left out (issue 14). */
static void
test_intensity_runs (void)
{
  const FacetLabelSegment segs[] = {
    { 0, 4, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN, 3 },
    { 5, 6, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_IMPORTED, 3 },
    { 7, 9, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN, 5 },
    { 10, 12, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN, 0 },
    { 13, 15, FACET_LABEL_ABSENT, FACET_LABEL_SOURCE_HUMAN, 0 },
    { 20, 21, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN, 5 },
  };
  g_autoptr (GArray) runs = facet_timeline_intensity_runs (segs, G_N_ELEMENTS (segs));
  const FacetLabelSegment *r = (const FacetLabelSegment *) (gpointer) runs->data;

  g_assert_cmpuint (runs->len, ==, 3);
  g_assert_cmpint (r[0].first, ==, 0);
  g_assert_cmpint (r[0].last, ==, 6);
  g_assert_cmpint (r[0].state, ==, 3);
  g_assert_cmpint (r[1].first, ==, 7);
  g_assert_cmpint (r[1].last, ==, 9);
  g_assert_cmpint (r[1].state, ==, 5);
  /* Not joined over the gap of frames 10-19. */
  g_assert_cmpint (r[2].first, ==, 20);
  g_assert_cmpint (r[2].state, ==, 5);
  g_assert_cmpint (facet_timeline_segments_find (r, runs->len, 11), ==, -1);
  g_assert_cmpint (facet_timeline_segments_find (r, runs->len, 5), ==, 0);
}

/* Two models' disagreement runs against a frame-by-frame count: each
 * with its own threshold, frames one model lacks (or without a face) left
 * out, neighbouring frames of one direction joined, a lane without a
 * threshold empty. */
static void
test_compare (void)
{
  const gint64 n_frames = 997;
  g_autoptr (FacetTimelineData) a = facet_timeline_data_new (n_frames, 3);
  g_autoptr (FacetTimelineData) b = facet_timeline_data_new (n_frames, 3);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autofree gint64 *frames = g_new (gint64, n_frames);
  g_autofree float *va = g_new (float, n_frames * 3);
  g_autofree float *vb = g_new (float, n_frames * 3);
  gsize nb = 0;

  for (gint64 f = 0; f < n_frames; f++)
    {
      frames[f] = f;
      for (int k = 0; k < 3; k++)
        {
          /* Slowly varying, so that runs longer than a frame occur. */
          va[f * 3 + k] = (float) (0.5 + 0.45 * sin (f / (7.0 + k)));
          vb[f * 3 + k] = (float) (0.5 + 0.45 * sin (f / (7.0 + k) + 0.6));
        }
      if (f % 50 == 13)
        va[f * 3 + 1] = NAN; /* no face for model a */
    }
  facet_timeline_data_set_values (a, frames, va, n_frames);
  /* Model b analysed every frame but the last hundred. */
  nb = (gsize) n_frames - 100;
  facet_timeline_data_set_values (b, frames, vb, nb);
  facet_timeline_data_set_threshold (a, 0, 0.5f);
  facet_timeline_data_set_threshold (b, 0, 0.7f);
  facet_timeline_data_set_threshold (a, 1, 0.4f);
  facet_timeline_data_set_threshold (b, 1, 0.4f);
  facet_timeline_data_set_threshold (a, 2, 0.5f);
  facet_timeline_data_set_threshold (b, 2, NAN);

  /* The values serial moves with values and thresholds, not with labels
   * (the widget keeps the runs until it moves). */
  {
    guint s0 = facet_timeline_data_get_values_serial (b);
    FacetLabelSegment seg = { 0, 9, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN, 0 };

    facet_timeline_data_set_segments (b, 0, &seg, 1);
    facet_timeline_data_set_threshold (b, 2, NAN);
    g_assert_cmpuint (facet_timeline_data_get_values_serial (b), ==, s0);
    facet_timeline_data_set_threshold (b, 0, 0.7f);
    g_assert_cmpuint (facet_timeline_data_get_values_serial (b), ==, s0);
    facet_timeline_data_set_threshold (b, 0, 0.6f);
    g_assert_cmpuint (facet_timeline_data_get_values_serial (b), !=, s0);
    facet_timeline_data_set_threshold (b, 0, 0.7f);
    s0 = facet_timeline_data_get_values_serial (b);
    facet_timeline_data_set_values (b, frames, vb, 1);
    g_assert_cmpuint (facet_timeline_data_get_values_serial (b), !=, s0);
  }

  for (int lane = 0; lane < 3; lane++)
    {
      g_autoptr (GArray) runs = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));
      gint64 n = facet_timeline_data_compare (a, b, lane, runs);
      const FacetLabelSegment *r = (const FacetLabelSegment *) (gpointer) runs->data;
      gint64 expected = 0, covered = 0;
      float ta = facet_timeline_data_get_threshold (a, lane);
      float tb = facet_timeline_data_get_threshold (b, lane);

      for (gint64 f = 0; f < n_frames; f++)
        {
          float pa = facet_timeline_data_get_value (a, lane, f);
          float pb = facet_timeline_data_get_value (b, lane, f);
          gboolean differs = !isnan (ta) && !isnan (tb) && !isnan (pa) && !isnan (pb)
                             && (pa >= ta) != (pb >= tb);
          int i = facet_timeline_segments_find (r, runs->len, f);

          g_assert_cmpint (differs, ==, i >= 0);
          if (differs)
            {
              expected++;
              g_assert_cmpint (r[i].state, ==, pa >= ta ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT);
            }
        }
      for (guint i = 0; i < runs->len; i++)
        {
          covered += r[i].last - r[i].first + 1;
          /* Joined: the next run starts after a gap or turns the other way. */
          if (i + 1 < runs->len)
            g_assert_true (r[i + 1].first > r[i].last + 1 || r[i + 1].state != r[i].state);
        }
      g_assert_cmpint (n, ==, expected);
      g_assert_cmpint (covered, ==, expected);
      if (lane < 2)
        g_assert_cmpint (expected, >, 20);
      else
        g_assert_cmpuint (runs->len, ==, 0);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/timeline/span-exact", test_span_exact);
  g_test_add_func ("/ui/timeline/decimate-hour", test_decimate_hour);
  g_test_add_func ("/ui/timeline/incremental", test_incremental);
  g_test_add_func ("/ui/timeline/disagreements", test_disagreements);
  g_test_add_func ("/ui/timeline/compare", test_compare);
  g_test_add_func ("/ui/timeline/rects", test_rects);
  g_test_add_func ("/ui/timeline/hit", test_hit);
  g_test_add_func ("/ui/timeline/zoom", test_zoom);
  g_test_add_func ("/ui/timecode", test_timecode);
  g_test_add_func ("/ui/demo/recipe", test_recipe);
  g_test_add_func ("/ui/demo/model-update", test_demo_model_update);
  g_test_add_func ("/ui/timeline/intensity-runs", test_intensity_runs);
  return g_test_run ();
}
