/* media.c — decoding speed of Facet's video sources against the ffmpeg tool
 *
 * A 640x480 H.264 file (key frame every 12 frames) is made from the sample
 * photo, panned and zoomed, with a little sensor noise. Facet's sequential
 * reader then decodes it to RGB24, and the ffmpeg tool decodes the same file
 * in the same run, like with like: one decoding thread, one filter thread,
 * conversion to rgb24 (`ffmpeg -threads 1 -filter_threads 1 -i F -pix_fmt
 * rgb24 -f null -`, timed by its own -benchmark, which leaves out its
 * start-up). Both CPU time and wall time are printed; the ratios use CPU time,
 * which other work on the shared machine disturbs much less. Decoding alone
 * (without the RGB conversion) is printed for reference. Random access is
 * timed on the same file with the cache off (uniformly random frames) and
 * compared with the cost of a sequential frame. An all-intra MJPEG file
 * shows the same measures without a key-frame run-up.
 *
 * Usage: bench-media [FRAMES]   (default 360)
 * Runs bench-faces (face detection + alignment throughput) afterwards when
 * it was built next to this program.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>

#include <glib/gstdio.h>

#include "media/facet-media.h"

#define WIDTH 640
#define HEIGHT 480
#define GOP 12
#define FPS 30.0
#define REPEATS 3
#define RANDOM_REQUESTS 120

/* The sample photo, enlarged and panned smoothly, plus noise: real image
 * statistics and real motion, so the encoder and decoder do real work. */
static FacetImage *
make_frame (const FacetImage *scaled,
            int               t,
            FacetRng         *rng)
{
  int x0 = (int) ((scaled->width - WIDTH) * (0.5 + 0.45 * sin (t * 0.031)));
  int y0 = (int) ((scaled->height - HEIGHT) * (0.5 + 0.45 * cos (t * 0.023)));
  FacetImage *frame = facet_image_crop (scaled, CLAMP (x0, 0, scaled->width - WIDTH),
                                        CLAMP (y0, 0, scaled->height - HEIGHT), WIDTH, HEIGHT);

  for (int y = 0; y < HEIGHT; y++)
    {
      guint8 *row = frame->data + (gsize) y * frame->stride;
      for (int x = 0; x < 3 * WIDTH; x++)
        row[x] = (guint8) CLAMP (row[x] + (int) facet_rng_below (rng, 5) - 2, 0, 255);
    }
  return frame;
}

static void
make_video (const char *path,
            const char *codec,
            int         n_frames,
            int         b_frames)
{
  g_autofree char *photo_path = g_build_filename (g_getenv ("FACET_TESTDATA")
                                                    ? g_getenv ("FACET_TESTDATA") : "data/sample",
                                                  "astronaut.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) photo = facet_image_load (photo_path, &error);
  g_autoptr (FacetMediaWriter) writer = NULL;
  FacetMediaWriterOptions options = FACET_MEDIA_WRITER_OPTIONS_INIT;
  FacetRng rng;

  g_autoptr (FacetImage) scaled = NULL;

  if (photo == NULL)
    g_error ("%s", error->message);
  scaled = facet_image_resize (photo, photo->width * 9 / 5, photo->height * 9 / 5);
  options.gop = GOP;
  options.b_frames = b_frames;
  options.quality = 20;
  writer = facet_media_writer_new_full (path, WIDTH, HEIGHT, FPS, codec, &options, &error);
  if (writer == NULL)
    g_error ("%s", error->message);
  facet_rng_init (&rng, 42);
  for (int t = 0; t < n_frames; t++)
    {
      g_autoptr (FacetImage) frame = make_frame (scaled, t, &rng);
      if (!facet_media_writer_add (writer, frame, &error))
        g_error ("%s", error->message);
    }
  if (!facet_media_writer_finish (writer, &error))
    g_error ("%s", error->message);
}

/* Wall-clock and CPU seconds (user + system, all threads). The machine is
 * shared, so wall time swings with other people's work; CPU time much less.
 * Both are printed; the ratios use CPU time. */
typedef struct
{
  double wall;
  double cpu;
} Timing;

static double
cpu_now (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static Timing
timing_start (void)
{
  return (Timing) { facet_now (), cpu_now () };
}

static Timing
timing_since (Timing start)
{
  return (Timing) { facet_now () - start.wall, cpu_now () - start.cpu };
}

static void
keep_best (Timing *best,
           Timing  t)
{
  best->wall = MIN (best->wall, t.wall);
  best->cpu = MIN (best->cpu, t.cpu);
}

/* The ffmpeg tool's own timing of its decoding loop (-benchmark: utime,
 * stime, rtime; its start-up and probing are left out). */
static Timing
ffmpeg_run (const char *path,
            gboolean    rgb,
            int         threads)
{
  g_autofree char *t = g_strdup_printf ("%d", threads);
  const char *argv_rgb[] = { "ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-threads", t,
                             "-filter_threads", t, "-i", path, "-pix_fmt", "rgb24", "-f", "null",
                             "-", NULL };
  const char *argv_plain[] = { "ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-threads", t,
                               "-i", path, "-f", "null", "-", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  const char *line;
  int status = 0;
  double utime, stime, rtime;

  if (!g_spawn_sync (NULL, (char **) (rgb ? argv_rgb : argv_plain), NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                     &status, &error))
    g_error ("cannot run ffmpeg: %s", error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("ffmpeg failed: %s", err);
  line = strstr (err, "bench: utime=");
  if (line == NULL || sscanf (line, "bench: utime=%lfs stime=%lfs rtime=%lfs", &utime, &stime,
                              &rtime) != 3)
    g_error ("no -benchmark line from ffmpeg: %s", err);
  return (Timing) { rtime, utime + stime };
}

static Timing
best_ffmpeg (const char *path,
             gboolean    rgb,
             int         threads)
{
  Timing best = { G_MAXDOUBLE, G_MAXDOUBLE };

  for (int r = 0; r < REPEATS; r++)
    keep_best (&best, ffmpeg_run (path, rgb, threads));
  return best;
}

static Timing
facet_sequential (FacetMediaSource *source,
                  gint64            n_frames)
{
  Timing best = { G_MAXDOUBLE, G_MAXDOUBLE };

  for (int r = 0; r < REPEATS; r++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (FacetMediaReader) reader = NULL;
      FacetImage *image;
      gint64 count = 0;
      Timing start = timing_start ();

      reader = facet_media_reader_new (source, 0, 1, &error);
      if (reader == NULL)
        g_error ("%s", error->message);
      while ((image = facet_media_reader_next (reader, NULL, &error)) != NULL)
        {
          facet_image_unref (image);
          count++;
        }
      if (error != NULL || count != n_frames)
        g_error ("sequential decoding stopped at frame %" G_GINT64_FORMAT ": %s", count,
                 error ? error->message : "early end");
      keep_best (&best, timing_since (start));
    }
  return best;
}

typedef struct
{
  Timing time;
  double decoded_per_request;
  double seeks_per_request;
} RandomResult;

static RandomResult
facet_random (FacetMediaSource *source,
              gint64            n_frames)
{
  RandomResult result = { { G_MAXDOUBLE, G_MAXDOUBLE }, 0, 0 };

  facet_media_source_set_cache_size (source, 0);
  for (int r = 0; r < REPEATS; r++)
    {
      FacetMediaStats before, after;
      FacetRng rng;
      Timing start;

      facet_rng_init (&rng, 1234 + (guint64) r);
      facet_media_source_get_stats (source, &before);
      start = timing_start ();
      for (int i = 0; i < RANDOM_REQUESTS; i++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (FacetImage) image = facet_media_source_get_frame (
            source, facet_rng_below (&rng, (guint32) n_frames), &error);
          if (image == NULL)
            g_error ("%s", error->message);
        }
      keep_best (&result.time, timing_since (start));
      facet_media_source_get_stats (source, &after);
      result.decoded_per_request = (double) (after.decoded - before.decoded) / RANDOM_REQUESTS;
      result.seeks_per_request = (double) (after.seeks - before.seeks) / RANDOM_REQUESTS;
    }
  return result;
}

static void
print_rate (const char *what,
            Timing      t,
            double      frames,
            const char *note)
{
  printf ("  %-30s %7.1f frames/s CPU %7.1f wall  %6.2f ms/frame CPU%s\n", what, frames / t.cpu,
          frames / t.wall, t.cpu / frames * 1e3, note);
}

static void
bench_file (const char *dir,
            const char *codec,
            int         n_frames,
            int         b_frames,
            int         threads)
{
  gboolean h264 = g_str_equal (codec, "h264");
  g_autofree char *path = g_strdup_printf ("%s/bench-%s-%s.%s", dir, codec, b_frames ? "b" : "p",
                                           h264 ? "mp4" : "mkv");
  g_autofree char *threads_text = g_strdup_printf ("%d", threads);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  Timing t_open, t_seq, t_tool_rgb, t_tool_plain;
  RandomResult random;
  gint64 n;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    make_video (path, codec, n_frames, b_frames);
  g_setenv ("FACET_MEDIA_THREADS", threads_text, TRUE);
  /* Index the file itself each time: that is what a first open costs. */
  g_setenv ("FACET_MEDIA_INDEX_CACHE", "0", TRUE);

  t_open = timing_start ();
  source = facet_media_source_open (path, 0, &error);
  if (source == NULL)
    g_error ("%s", error->message);
  t_open = timing_since (t_open);
  n = facet_media_source_get_info (source)->n_frames;

  t_seq = facet_sequential (source, n);
  t_tool_rgb = best_ffmpeg (path, TRUE, threads);
  t_tool_plain = best_ffmpeg (path, FALSE, threads);
  random = facet_random (source, n);

  printf ("\n%dx%d %s, %s, %" G_GINT64_FORMAT " frames; %d decoding thread%s "
          "(Facet and ffmpeg); best of %d runs\n", WIDTH, HEIGHT, h264 ? "H.264" : codec,
          !h264 ? "every frame a key frame"
                : b_frames ? "GOP 12, x264's B-frames (3, pyramid)" : "GOP 12, no B-frames",
          n, threads, threads == 1 ? "" : "s", REPEATS);
  printf ("  %-30s %7.1f ms wall\n", "open + index (no cache)", t_open.wall * 1e3);
  print_rate ("sequential, Facet (RGB24)", t_seq, n, "");
  print_rate ("sequential, ffmpeg (rgb24)", t_tool_rgb, n, "");
  printf ("  %-30s %7.2f CPU %7.2f wall  (target >= 0.90)\n", "ratio Facet/ffmpeg",
          t_tool_rgb.cpu / t_seq.cpu, t_tool_rgb.wall / t_seq.wall);
  print_rate ("ffmpeg decoding only", t_tool_plain, n, "  (no RGB conversion)");
  print_rate ("random access, Facet", random.time, RANDOM_REQUESTS, "");
  printf ("  %-30s %.2f frames decoded and %.2f seeks per request\n", "",
          random.decoded_per_request, random.seeks_per_request);
  printf ("  %-30s %7.2f CPU %7.2f wall  (target <= 3)\n", "random / sequential cost",
          (random.time.cpu / RANDOM_REQUESTS) / (t_seq.cpu / n),
          (random.time.wall / RANDOM_REQUESTS) / (t_seq.wall / n));
  fflush (stdout);
}

static void
run_face_bench (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : g_strdup (".");
  g_autofree char *faces = g_build_filename (dir, "bench-faces", NULL);
  g_autoptr (GError) error = NULL;
  const char *argv[] = { faces, NULL };
  int status = 0;

  printf ("\nface detection + alignment\n");
  fflush (stdout);
  if (!g_file_test (faces, G_FILE_TEST_IS_EXECUTABLE))
    {
      printf ("  bench-faces is not built here; skipped\n");
      return;
    }
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL,
                     NULL, &status, &error))
    printf ("  cannot run %s: %s\n", faces, error->message);
  else if (!g_spawn_check_wait_status (status, &error))
    printf ("  %s failed: %s\n", faces, error->message);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *dir = g_dir_make_tmp ("facet-bench-media-XXXXXX", NULL);
  int n_frames = argc > 1 ? atoi (argv[1]) : 360;
  g_autofree char *tool = g_find_program_in_path ("ffmpeg");
  g_autofree char *p = NULL, *b = NULL, *mj = NULL;

  if (n_frames < GOP)
    n_frames = 360;
  printf ("bench/media: decoding frames/s, Facet against the ffmpeg tool\n");
  if (tool == NULL)
    {
      printf ("the ffmpeg tool is not installed; skipped\n");
      return 77;
    }

  bench_file (dir, "h264", n_frames, 0, 1);
  bench_file (dir, "h264", n_frames, -1, 1);
  /* Both sides with two decoding threads (frame threads): like with like. */
  bench_file (dir, "h264", n_frames, 0, 2);
  /* An all-intra codec, for comparison: random access needs no run-up. */
  bench_file (dir, "mjpeg", n_frames, 0, 1);

  p = g_strdup_printf ("%s/bench-h264-p.mp4", dir);
  b = g_strdup_printf ("%s/bench-h264-b.mp4", dir);
  mj = g_strdup_printf ("%s/bench-mjpeg-p.mkv", dir);
  g_unlink (p);
  g_unlink (b);
  g_unlink (mj);
  g_rmdir (dir);

  run_face_bench ();
  return 0;
}
