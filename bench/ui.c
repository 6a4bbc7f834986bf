/* ui.c — the application's responsiveness, measured in one run under Xvfb
 *
 *   time to first frame after opening the demo project,
 *   frame-step latency to the screen, cached and not,
 *   timeline redraw for a 1-hour 30 fps video with 12 AU lanes,
 *
 * each printed next to the yardstick of this machine: how long a plain
 * decode of one frame of the same video takes (FacetMediaReader,
 * sequential), and a random-access decode without the cache.
 *
 * Run with `make bench` (suite 'bench'), or bench/ui under
 * tests/ui/run-xvfb.sh.
 */
#include "config.h"

#include <math.h>
#include <time.h>

#include "core/facet-core.h"
#include "media/facet-media.h"

#include "ui-harness.h"

static const char recipe[] =
  "[Demo]\nName=ui bench\nFramesPerSecond=25\nFrameSize=256\nCodec=h264\nCrop=aligned\n"
  "LabelledFraction=0.3\nCoder=bench\n"
  "[Subject S1]\nSeed=5\nRecording=1\nSeconds=20\n"
  "[Subject S2]\nSeed=6\nRecording=2\nSeconds=8\n";

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* Processor time of this thread: what a redraw costs, whatever else the
 * machine is doing meanwhile. */
static double
cpu_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
percentile (GArray *values,
            double  p)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, MIN (values->len - 1,
                                             (guint) floor (p * (values->len - 1) + 0.5)));
}

/* ---- The yardstick ------------------------------------------------------------- */

typedef struct
{
  double sequential; /* seconds per frame */
  double random;     /* seconds per uncached random access */
} Yardstick;

static Yardstick
measure_decode (const char *video)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = facet_media_source_open (video, 0, &error);
  g_autoptr (FacetMediaReader) reader = NULL;
  g_autoptr (GArray) random = g_array_new (FALSE, FALSE, sizeof (double));
  Yardstick y = { 0 };
  gint64 n = 0, index;
  FacetImage *image;
  double t;

  g_assert_no_error (error);
  reader = facet_media_reader_new (source, 0, 1, &error);
  g_assert_no_error (error);
  t = now ();
  while ((image = facet_media_reader_next (reader, &index, &error)) != NULL)
    {
      facet_image_unref (image);
      n++;
    }
  g_assert_no_error (error);
  y.sequential = (now () - t) / MAX (n, 1);

  /* Random access with the cache off: seek to the key frame, decode on. */
  facet_media_source_set_cache_size (source, 0);
  for (int i = 0; i < 24; i++)
    {
      gint64 f = (i * 7919) % n;
      t = now ();
      image = facet_media_source_get_frame (source, f, &error);
      g_assert_no_error (error);
      g_array_append_val (random, (double) { now () - t });
      facet_image_unref (image);
    }
  y.random = percentile (random, 0.5);
  return y;
}

/* ---- Frames on screen ------------------------------------------------------------- */

typedef struct
{
  FacetWindow *window;
  gint64       frame;
  gboolean     painted;
  double       shown;   /* when the decoded picture reached the main loop */
} ShownWait;

static void
on_frame_shown (FacetPlayer *player,
                gint64       frame,
                ShownWait   *w)
{
  if (frame == w->frame && w->shown == 0)
    w->shown = g_get_monotonic_time () / 1e6;
}

static void
on_after_paint (GdkFrameClock *clock,
                ShownWait     *w)
{
  if (facet_frame_view_get_frame (facet_window_get_frame_view (w->window)) == w->frame)
    w->painted = TRUE;
}

static gboolean
shown_and_painted (gpointer data)
{
  return ((ShownWait *) data)->painted;
}

/* Seconds from now until @frame is on screen (drawn by the frame clock);
 * @decoded (nullable) gets the seconds until its picture was ready. */
static double
until_painted (FacetWindow *window,
               gint64       frame,
               double       start,
               double      *decoded)
{
  ShownWait w = { window, frame, FALSE, 0 };
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  FacetPlayer *player = facet_window_get_player (window);
  gulong id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &w);
  gulong sid = g_signal_connect (player, "frame-shown", G_CALLBACK (on_frame_shown), &w);

  if (!ui_wait (shown_and_painted, &w, 60))
    g_error ("frame %" G_GINT64_FORMAT " never reached the screen", frame);
  g_signal_handler_disconnect (clock, id);
  g_signal_handler_disconnect (player, sid);
  if (decoded != NULL)
    *decoded = (w.shown > 0 ? w.shown : now ()) - start;
  return now () - start;
}

static double
time_to_first_frame (FacetWindow *window,
                     const char  *project)
{
  double start = now ();
  double t;

  facet_window_open_project (window, project, FALSE, FALSE);
  t = until_painted (window, 0, start, NULL);
  /* Let the rest (timeline, labels) arrive before the next measurement. */
  ui_wait_settled (window, 60);
  return t;
}

static double
step_to (FacetWindow *window,
         gint64       frame,
         GArray      *decoded)
{
  double start = now (), d, t;

  facet_player_seek (facet_window_get_player (window), frame);
  t = until_painted (window, frame, start, &d);
  if (decoded != NULL)
    g_array_append_val (decoded, d);
  return t;
}

/* ---- The timeline ------------------------------------------------------------------- */

static FacetTimelineData *
hour_of_data (int     lanes,
              guint64 seed)
{
  const gint64 n = 108000;
  FacetTimelineData *data = facet_timeline_data_new (n, lanes);
  g_autofree gint64 *frames = g_new (gint64, n);
  g_autofree float *values = g_new (float, n * lanes);
  g_autofree float *walk = g_new0 (float, lanes);
  FacetRng rng;

  facet_rng_init (&rng, seed);
  for (gint64 f = 0; f < n; f++)
    {
      frames[f] = f;
      for (int l = 0; l < lanes; l++)
        {
          walk[l] = CLAMP (walk[l] + (float) (facet_rng_uniform (&rng) - 0.5) * 0.1f, 0.0f, 1.0f);
          values[f * lanes + l] = walk[l];
        }
    }
  facet_timeline_data_set_values (data, frames, values, n);
  /* A coder's labels on a third of the hour, in runs of 1-10 s. */
  for (int l = 0; l < lanes; l++)
    {
      g_autoptr (GArray) segs = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));
      gint64 f = 0;

      while (f < n)
        {
          gint64 len = 30 + facet_rng_below (&rng, 270);
          FacetLabelSegment s = { f, MIN (f + len, n) - 1,
                                  facet_rng_uniform (&rng) < 0.4 ? FACET_LABEL_PRESENT
                                                                 : FACET_LABEL_ABSENT, 0 };
          if (facet_rng_uniform (&rng) < 0.33)
            g_array_append_val (segs, s);
          f += len;
        }
      facet_timeline_data_set_segments (data, l, (const FacetLabelSegment *) (gpointer) segs->data,
                                        segs->len);
    }
  return data;
}

/* What a redraw of the widget costs: its snapshot (decimation, curves,
 * lanes, labels) and the rendering of the nodes into pixels. */
static GdkTexture *
render_widget (GtkWidget *widget)
{
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);

  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
}

/* Scrolling and playing at four zooms. */
static void
measure_zooms (GtkWidget *timeline,
               double     yardstick)
{
  static const struct
  {
    const char *name;
    double      zoom;
  } zooms[] = {
    { "whole hour", 1.0 }, { "zoomed 8x", 8.0 }, { "zoomed 64x", 64.0 }, { "frame level", 4096.0 },
  };

  for (guint z = 0; z < G_N_ELEMENTS (zooms); z++)
    {
      g_autoptr (GArray) scroll = g_array_new (FALSE, FALSE, sizeof (double));
      g_autoptr (GArray) play = g_array_new (FALSE, FALSE, sizeof (double));
      g_autoptr (GArray) scroll_cpu = g_array_new (FALSE, FALSE, sizeof (double));
      g_autoptr (GArray) play_cpu = g_array_new (FALSE, FALSE, sizeof (double));
      GtkAdjustment *h = facet_timeline_get_hadjustment (FACET_TIMELINE (timeline));

      facet_timeline_zoom_fit (FACET_TIMELINE (timeline));
      facet_timeline_set_position (FACET_TIMELINE (timeline), 54000);
      facet_timeline_zoom (FACET_TIMELINE (timeline), zooms[z].zoom);
      for (int i = 0; i < 30; i++)
        {
          double t, c;
          g_autoptr (GdkTexture) a = NULL, b = NULL;

          /* Scrolling: every redraw shows another stretch of the hour, so
           * the lanes are drawn from the data again. */
          gtk_adjustment_set_value (h, gtk_adjustment_get_value (h) + (i % 2 ? -1 : 1)
                                      * gtk_adjustment_get_page_size (h) * 0.03 * (i + 1));
          t = now ();
          c = cpu_now ();
          a = render_widget (timeline);
          g_array_append_val (scroll, (double) { now () - t });
          g_array_append_val (scroll_cpu, (double) { cpu_now () - c });

          /* Playing: only the playhead moves. */
          facet_timeline_set_position (FACET_TIMELINE (timeline),
                                       (gint64) (gtk_adjustment_get_value (h) + 10 + i));
          t = now ();
          c = cpu_now ();
          b = render_widget (timeline);
          g_array_append_val (play, (double) { now () - t });
          g_array_append_val (play_cpu, (double) { cpu_now () - c });
        }
      {
        double s50 = percentile (scroll, 0.5), s95 = percentile (scroll, 0.95);
        double p50 = percentile (play, 0.5);
        double sc = percentile (scroll_cpu, 0.5), pc = percentile (play_cpu, 0.5);
        g_print ("  %-11s scrolling: median %6.2f ms (CPU %5.2f), p95 %6.2f ms = %5.2f plain "
                 "decodes; "
                 "playhead moving: %5.2f ms (CPU %5.2f) = "
                 "%5.2f\n", zooms[z].name, 1e3 * s50, 1e3 * sc,
                 1e3 * s95, s50 / yardstick, 1e3 * p50, 1e3 * pc, p50 / yardstick);
      }
    }
}

static void
bench_timeline (FacetApplication *app,
                double            yardstick)
{
  static const int au_ids[12] = { 1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24 };
  GtkWidget *window = adw_application_window_new (GTK_APPLICATION (app));
  GtkWidget *timeline = facet_timeline_new ();
  double build = now ();
  FacetTimelineData *data = hour_of_data (12, 3);

  build = now () - build;
  facet_timeline_set_data (FACET_TIMELINE (timeline), data, au_ids, 30.0);
  adw_application_window_set_content (ADW_APPLICATION_WINDOW (window), timeline);
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 22 + 12 * 44);
  gtk_window_present (GTK_WINDOW (window));
  ui_idle (0.5);

  g_print ("timeline: 1 h at 30 fps (108000 frames) x 12 AUs, %d x %d px; data prepared in %.0f "
           "ms\n",
           gtk_widget_get_width (timeline), gtk_widget_get_height (timeline), 1e3 * build);
  measure_zooms (timeline, yardstick);
  /* A second model's curves and the shading where the two disagree. */
  facet_timeline_set_compare (FACET_TIMELINE (timeline), hour_of_data (12, 5), "first", "second");
  g_print ("the same with a second model compared:\n");
  measure_zooms (timeline, yardstick);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetApplication) app = NULL;
  g_autoptr (GArray) cold = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) uncached = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) cached = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) uncached_ready = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) cached_ready = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *folder = NULL, *project = NULL, *video = NULL;
  FacetWindow *window;
  Yardstick y;
  double built;

  gtk_init ();
  adw_init ();
  if (gdk_display_get_default () == NULL)
    {
      g_printerr ("bench-ui: no display: run under tests/ui/run-xvfb.sh\n");
      return 77;
    }
  /* FACET_BENCH_UI=timeline: only the timeline part (for profiling). */
  if (g_strcmp0 (g_getenv ("FACET_BENCH_UI"), "timeline") == 0)
    {
      app = ui_app_new ();
      bench_timeline (app, NAN);
      return 0;
    }
  folder = g_dir_make_tmp ("facet-bench-ui-XXXXXX", &error);
  g_assert_no_error (error);
  project = ui_build_project (folder, recipe, TRUE, &built);
  video = g_build_filename (folder, "media", "S1.mkv", NULL);
  g_print ("demo project (2 subjects, 28 s at 25 fps, 256 px, analysed) built in %.1f s\n", built);

  y = measure_decode (video);
  g_print ("yardstick: plain decode %.2f ms per frame (sequential, %.0f frames/s); "
           "random access without cache %.2f ms\n",
           1e3 * y.sequential, 1 / y.sequential, 1e3 * y.random);

  app = ui_app_new ();
  window = ui_window_new (app, 1400, 900);

  for (int i = 0; i < 3; i++)
    {
      double t = time_to_first_frame (window, project);
      g_array_append_val (cold, t);
      facet_window_close_project (window);
      ui_idle (0.3);
    }
  facet_window_open_project (window, project, FALSE, FALSE);
  ui_wait_settled (window, 60);
  {
    double median = percentile (cold, 0.5);
    g_print ("time to first frame after opening: median %.0f ms of 3 = %.0f plain decodes\n",
             1e3 * median,
             median / y.sequential);
  }

  /* Steps to frames far apart, none decoded before: seek and decode. */
  for (int i = 1; i <= 20; i++)
    {
      gint64 target = (i * 211) % 500;
      if (facet_player_is_cached (facet_window_get_player (window), target))
        continue;
      g_array_append_val (uncached, (double) { step_to (window, target, uncached_ready) });
    }
  /* Stepping back and forth over frames seen a moment ago. */
  step_to (window, 100, NULL);
  for (int i = 1; i <= 10; i++)
    step_to (window, 100 + i, NULL);
  for (int i = 0; i < 20; i++)
    {
      gint64 target = 100 + (i % 2 ? 10 - i / 2 : i / 2);
      g_assert_true (facet_player_is_cached (facet_window_get_player (window), target));
      g_array_append_val (cached, (double) { step_to (window, target, cached_ready) });
    }
  {
    double u50 = percentile (uncached, 0.5), u95 = percentile (uncached, 0.95);
    double c50 = percentile (cached, 0.5), c95 = percentile (cached, 0.95);
    double ur = percentile (uncached_ready, 0.5), cr = percentile (cached_ready, 0.5);
    g_print ("frame step, not cached: picture ready after %.1f ms (= %.1f plain decodes), "
             "on screen after median %.1f ms, p95 %.1f ms (%u steps)\n", 1e3 * ur,
             ur / y.sequential, 1e3 * u50, 1e3 * u95, uncached->len);
    g_print ("frame step, cached:     picture ready after %.1f ms (= %.1f plain decodes), "
             "on screen after median %.1f ms, p95 %.1f ms (%u steps)\n", 1e3 * cr,
             cr / y.sequential, 1e3 * c50, 1e3 * c95, cached->len);
    g_print ("(on screen waits for the next frame of the 60 Hz frame clock: at least ~16.7 ms)\n");
  }

  bench_timeline (app, y.sequential);

  gtk_window_destroy (GTK_WINDOW (window));
  ui_idle (0.2);
  {
    g_autoptr (GFile) dir = g_file_new_for_path (folder);
    g_autoptr (GFileEnumerator) e = NULL;
    GFileInfo *info;
    const char *sub[] = { "media", "models", NULL };

    for (int i = 0; sub[i] != NULL; i++)
      {
        g_autoptr (GFile) child = g_file_get_child (dir, sub[i]);
        g_autoptr (GFileEnumerator) ce = g_file_enumerate_children (child, "standard::name", 0,
                                                                    NULL, NULL);
        while (ce != NULL && (info = g_file_enumerator_next_file (ce, NULL, NULL)) != NULL)
          {
            g_autoptr (GFile) f = g_file_get_child (child, g_file_info_get_name (info));
            g_file_delete (f, NULL, NULL);
            g_object_unref (info);
          }
        g_file_delete (child, NULL, NULL);
      }
    e = g_file_enumerate_children (dir, "standard::name", 0, NULL, NULL);
    while (e != NULL && (info = g_file_enumerator_next_file (e, NULL, NULL)) != NULL)
      {
        g_autoptr (GFile) f = g_file_get_child (dir, g_file_info_get_name (info));
        g_file_delete (f, NULL, NULL);
        g_object_unref (info);
      }
    g_file_delete (dir, NULL, NULL);
  }
  return 0;
}
