/* test-media.c — video and image-folder sources, the frame cache, the writer
 *
 * Videos are written here with the writer (and, for variable frame rates, a
 * time offset and rotation, remuxed by the ffmpeg tool). Every frame we
 * decode is compared with what the ffmpeg command-line tool decodes from the
 * same file: an independent front end (its own demuxing, seeking-free
 * sequential decoding and filter graph) over the same decoders. Since the
 * RGB conversion is set up like ffmpeg's, lossy codecs compare bit-exactly
 * too.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <utime.h>

#include "media/facet-media.h"
#include "media/media-private.h"

#define W 232 /* 3 * 232 bytes per row: not a multiple of 16, on purpose */
#define H 176
#define N_FRAMES 40
#define FPS 25.0

static char *tmpdir;

/* Test material ---------------------------------------------------------- */

/* A frame that differs from its neighbours everywhere a codec looks: a
 * drifting colour gradient, a moving square, a bar code of the frame number
 * and some fixed-seed noise. */
static FacetImage *
make_frame (int t)
{
  FacetImage *image = facet_image_new (W, H);
  FacetRng rng;

  facet_rng_init (&rng, 1000 + (guint64) t);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        guint8 *p = image->data + (gsize) y * image->stride + 3 * x;
        int noise = (int) facet_rng_below (&rng, 9) - 4;
        gboolean square = x >= 20 + 4 * t && x < 60 + 4 * t && y >= 40 + t && y < 80 + t;
        gboolean bar = y < 8 && (t >> (x / 24) & 1);

        p[0] = (guint8) CLAMP ((x + 3 * t) % 256 + noise, 0, 255);
        p[1] = (guint8) CLAMP ((y * 2 + t) % 256 + noise, 0, 255);
        p[2] = square || bar ? 250 : (guint8) CLAMP (128 + noise * 4, 0, 255);
      }
  return image;
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static void
write_video (const char                    *path,
             const char                    *codec,
             const FacetMediaWriterOptions *options)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaWriter) writer = NULL;

  writer = facet_media_writer_new_full (path, W, H, FPS, codec, options, &error);
  g_assert_no_error (error);
  for (int t = 0; t < N_FRAMES; t++)
    {
      g_autoptr (FacetImage) frame = make_frame (t);
      g_assert_true (facet_media_writer_add (writer, frame, &error));
      g_assert_no_error (error);
    }
  g_assert_true (facet_media_writer_finish (writer, &error));
  g_assert_no_error (error);
}

static void
run_tool (const char * const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
}

/* The test videos, made once. */
static const char *
fixture (const char *name)
{
  static GHashTable *made;
  char *path;

  if (made == NULL)
    made = g_hash_table_new (g_str_hash, g_str_equal);
  path = g_hash_table_lookup (made, name);
  if (path != NULL)
    return path;
  path = tmp_path (name);

  if (g_str_equal (name, "h264.mp4"))
    {
      FacetMediaWriterOptions o = FACET_MEDIA_WRITER_OPTIONS_INIT;
      o.b_frames = 0;
      write_video (path, "h264", &o);
    }
  else if (g_str_equal (name, "h264-b.mp4") || g_str_equal (name, "h264-b.mkv"))
    {
      /* x264's default: up to 3 B-frames, B-pyramid (reference B-frames). */
      write_video (path, "h264", NULL);
    }
  else if (g_str_equal (name, "mjpeg.mkv") || g_str_equal (name, "mjpeg.avi"))
    write_video (path, "mjpeg", NULL);
  else if (g_str_equal (name, "ffv1.mkv"))
    write_video (path, "ffv1", NULL);
  else if (g_str_equal (name, "mpeg4.avi"))
    write_video (path, "mpeg4", NULL);
  else if (g_str_equal (name, "vfr.mkv"))
    {
      /* 20 frames at 25 fps, then 20 at 8.33 fps (times stay multiples of
       * the encoder's 1/25 s clock); H.264 with B-frames. */
      const char *argv[] = { "ffmpeg", "-v", "error", "-nostdin", "-y", "-i", fixture ("ffv1.mkv"),
                             "-vf", "setpts='if(lt(N,20),N*0.04,0.8+(N-20)*0.12)/TB'",
                             "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                             "-bf", "2", "-g", "12", "-threads", "1", path, NULL };
      run_tool (argv);
    }
  else if (g_str_equal (name, "offset.mp4"))
    {
      const char *argv[] = { "ffmpeg", "-v", "error", "-nostdin", "-y", "-i",
                             fixture ("h264-b.mp4"), "-c", "copy", "-output_ts_offset", "10",
                             path, NULL };
      run_tool (argv);
    }
  else if (g_str_equal (name, "rotated.mp4"))
    {
      const char *argv[] = { "ffmpeg", "-v", "error", "-nostdin", "-y", "-i", fixture ("h264.mp4"),
                             "-c", "copy", "-metadata:s:v", "rotate=90", path, NULL };
      run_tool (argv);
    }
  else
    g_assert_not_reached ();

  g_hash_table_insert (made, g_strdup (name), path);
  return path;
}

static void
assert_image_bytes (const FacetImage *image,
                    const guint8     *rgb,
                    const char       *what)
{
  for (int y = 0; y < image->height; y++)
    if (memcmp (image->data + (gsize) y * image->stride, rgb + (gsize) y * 3 * image->width,
                3 * (gsize) image->width) != 0)
      g_error ("%s: differs from the reference in row %d", what, y);
}

static void
assert_same (const FacetImage *a,
             const FacetImage *b,
             const char       *what)
{
  g_assert_cmpint (a->width, ==, b->width);
  g_assert_cmpint (a->height, ==, b->height);
  if (!facet_image_equal (a, b))
    g_error ("%s: the images differ", what);
}

static char *
find_bytes (char       *haystack,
            gsize       len,
            const char *needle,
            gsize       needle_len)
{
  for (gsize i = 0; i + needle_len <= len; i++)
    if (memcmp (haystack + i, needle, needle_len) == 0)
      return haystack + i;
  return NULL;
}

/* Decodes frame @index and drops it (to fill the cache). */
static void
touch_frame (FacetMediaSource *source,
             gint64            index)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) image = facet_media_source_get_frame (source, index, &error);

  g_assert_no_error (error);
  g_assert_nonnull (image);
}

static double
mean_abs_diff (const FacetImage *a,
               const FacetImage *b)
{
  double sum = 0.0;

  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < 3 * a->width; x++)
      sum += abs (a->data[(gsize) y * a->stride + x] - b->data[(gsize) y * b->stride + x]);
  return sum / (3.0 * a->width * a->height);
}

/* Every frame through a sequential reader. */
static GPtrArray *
read_all (FacetMediaSource *source)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaReader) reader = NULL;
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  FacetImage *image;
  gint64 index = -1;

  reader = facet_media_reader_new (source, 0, 1, &error);
  g_assert_no_error (error);
  while ((image = facet_media_reader_next (reader, &index, &error)) != NULL)
    {
      g_assert_cmpint (index, ==, frames->len);
      g_ptr_array_add (frames, image);
    }
  g_assert_no_error (error);
  g_assert_cmpint (index, ==, frames->len);
  return frames;
}

/* All frames of @path as the ffmpeg tool decodes them, in RGB24, one after
 * the other (its default autorotation included). With @select >= 0, only
 * frame @select, picked by the select filter (which counts frames as they
 * leave the decoder). */
static GBytes *
tool_frames (const char *path,
             int         select)
{
  g_autofree char *out = tmp_path ("ffmpeg-out.rgb");
  g_autofree char *vf = g_strdup_printf ("select=eq(n\\,%d)", select);
  g_autoptr (GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  if (select < 0)
    {
      const char *argv[] = { "ffmpeg", "-v", "error", "-nostdin", "-y", "-threads", "1", "-i",
                             path, "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo",
                             "-pix_fmt", "rgb24", out, NULL };
      run_tool (argv);
    }
  else
    {
      const char *argv[] = { "ffmpeg", "-v", "error", "-nostdin", "-y", "-threads", "1", "-i",
                             path, "-map", "0:v:0", "-vf", vf, "-fps_mode", "passthrough",
                             "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", out, NULL };
      run_tool (argv);
    }
  g_file_get_contents (out, &data, &len, &error);
  g_assert_no_error (error);
  g_unlink (out);
  return g_bytes_new_take (data, len);
}

/* Frame-exact access ------------------------------------------------------ */

/* The whole check for one file: sequential decoding equals the ffmpeg tool
 * frame for frame; random access in shuffled order (no cache) equals
 * sequential; single frames picked by the tool's select filter equal ours. */
static GPtrArray *
check_frame_exact (const char *name,
                   gint64      n_expected)
{
  const char *path = fixture (name);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (GPtrArray) frames = NULL;
  g_autoptr (GBytes) tool = NULL;
  const FacetMediaInfo *info;
  const guint8 *rgb;
  gsize frame_bytes, len;
  guint order[N_FRAMES];
  FacetRng rng;
  FacetMediaStats stats;
  int picks[2];

  source = facet_media_source_open (path, 0, &error);
  g_assert_no_error (error);
  info = facet_media_source_get_info (source);
  g_assert_cmpint (info->n_frames, ==, n_expected);

  frames = read_all (source);
  g_assert_cmpint (frames->len, ==, n_expected);

  tool = tool_frames (path, -1);
  rgb = g_bytes_get_data (tool, &len);
  frame_bytes = 3 * (gsize) info->width * info->height;
  g_assert_cmpuint (len, ==, frame_bytes * n_expected);
  for (guint i = 0; i < frames->len; i++)
    {
      g_autofree char *what = g_strdup_printf ("%s frame %u (sequential vs ffmpeg)", name, i);
      FacetImage *image = g_ptr_array_index (frames, i);

      g_assert_cmpint (image->width, ==, info->width);
      g_assert_cmpint (image->height, ==, info->height);
      assert_image_bytes (image, rgb + i * frame_bytes, what);
    }

  /* Random order, nothing from the cache. */
  facet_media_source_set_cache_size (source, 0);
  for (guint i = 0; i < n_expected; i++)
    order[i] = i;
  facet_rng_init (&rng, 7);
  facet_rng_shuffle (&rng, order, (guint) n_expected);
  for (guint i = 0; i < n_expected; i++)
    {
      g_autofree char *what = g_strdup_printf ("%s frame %u (random vs sequential)", name,
                                               order[i]);
      g_autoptr (FacetImage) image = facet_media_source_get_frame (source, order[i], &error);

      g_assert_no_error (error);
      assert_same (image, g_ptr_array_index (frames, order[i]), what);
    }
  /* Stepping backwards, the worst order for a decoder. */
  for (gint64 i = n_expected - 1; i >= 0; i -= 3)
    {
      g_autoptr (FacetImage) image = facet_media_source_get_frame (source, i, &error);
      g_assert_no_error (error);
      assert_same (image, g_ptr_array_index (frames, i), "backwards");
    }
  facet_media_source_get_stats (source, &stats);
  g_assert_cmpuint (stats.cache_frames, ==, 0);
  g_assert_cmpuint (stats.seeks, >, 0);
  g_assert_cmpuint (stats.decoded, >=, (guint64) n_expected);

  /* Stepping forward one frame at a time: the decoder just continues. (The
   * jump to frame 0 seeks and ends its stretch early; the step to frame 1
   * starts the stretch that then goes on to the end: two seeks at most.) */
  for (gint64 i = 0; i < n_expected; i++)
    {
      g_autoptr (FacetImage) image = facet_media_source_get_frame (source, i, &error);
      g_assert_no_error (error);
      assert_same (image, g_ptr_array_index (frames, i), "stepping forward");
    }
  {
    guint64 seeks_before = stats.seeks;
    facet_media_source_get_stats (source, &stats);
    g_assert_cmpuint (stats.seeks - seeks_before, <=, 2);
  }

  /* Single frames through the tool's select filter: a middle frame that is
   * not a key frame, and the last one. */
  picks[0] = 13;
  picks[1] = (int) n_expected - 1;
  for (guint k = 0; k < G_N_ELEMENTS (picks); k++)
    {
      g_autoptr (GBytes) one = tool_frames (path, picks[k]);
      g_autofree char *what = g_strdup_printf ("%s frame %d (vs ffmpeg select)", name, picks[k]);

      g_assert_cmpuint (g_bytes_get_size (one), ==, frame_bytes);
      assert_image_bytes (g_ptr_array_index (frames, picks[k]), g_bytes_get_data (one, NULL),
                          what);
    }
  return g_steal_pointer (&frames);
}

/* Frames of a lossy file still look like what was written (colours not
 * swapped, frames not shifted by one). */
static void
assert_close_to_originals (GPtrArray *frames,
                           double     max_mean_error)
{
  for (guint i = 0; i < frames->len; i++)
    {
      g_autoptr (FacetImage) original = make_frame ((int) i);
      double err = mean_abs_diff (g_ptr_array_index (frames, i), original);

      if (err > max_mean_error)
        g_error ("frame %u: mean error %.2f against what was written", i, err);
      if (i > 0)
        {
          g_autoptr (FacetImage) neighbour = make_frame ((int) i - 1);
          g_assert_cmpfloat (err, <, mean_abs_diff (g_ptr_array_index (frames, i), neighbour));
        }
    }
}

static void
test_exact_h264_mp4 (void)
{
  g_autoptr (GPtrArray) frames = check_frame_exact ("h264.mp4", N_FRAMES);
  assert_close_to_originals (frames, 8.0);
}

static void
test_exact_h264_bframes_mp4 (void)
{
  g_autoptr (GPtrArray) frames = check_frame_exact ("h264-b.mp4", N_FRAMES);
  assert_close_to_originals (frames, 8.0);
}

static void
test_exact_h264_bframes_mkv (void)
{
  g_autoptr (GPtrArray) frames = check_frame_exact ("h264-b.mkv", N_FRAMES);
  assert_close_to_originals (frames, 8.0);
}

static void
test_exact_mjpeg (void)
{
  g_autoptr (GPtrArray) a = check_frame_exact ("mjpeg.mkv", N_FRAMES);
  g_autoptr (GPtrArray) b = check_frame_exact ("mjpeg.avi", N_FRAMES);

  assert_close_to_originals (a, 8.0);
  for (guint i = 0; i < a->len; i++)
    assert_same (g_ptr_array_index (a, i), g_ptr_array_index (b, i), "mjpeg mkv vs avi");
}

static void
test_exact_mpeg4 (void)
{
  g_autoptr (GPtrArray) frames = check_frame_exact ("mpeg4.avi", N_FRAMES);
  assert_close_to_originals (frames, 10.0);
}

/* FFV1 is lossless: what comes out is what went in, bit for bit. */
static void
test_exact_ffv1 (void)
{
  g_autoptr (GPtrArray) frames = check_frame_exact ("ffv1.mkv", N_FRAMES);

  for (guint i = 0; i < frames->len; i++)
    {
      g_autoptr (FacetImage) original = make_frame ((int) i);
      assert_same (g_ptr_array_index (frames, i), original, "ffv1 round trip");
    }
}

static void
test_exact_vfr (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (GPtrArray) frames = check_frame_exact ("vfr.mkv", N_FRAMES);
  const FacetMediaInfo *info;

  source = facet_media_source_open (fixture ("vfr.mkv"), 0, &error);
  g_assert_no_error (error);
  info = facet_media_source_get_info (source);
  g_assert_true (info->variable_frame_rate);
  for (gint64 i = 0; i < N_FRAMES; i++)
    {
      double expected = i < 20 ? i * 0.04 : 0.8 + (i - 20) * 0.12;
      double t = facet_media_source_frame_time (source, i);

      g_assert_cmpfloat_with_epsilon (t, expected, 0.0011); /* Matroska's 1 ms clock */
      g_assert_cmpint (facet_media_source_frame_at_time (source, t), ==, i);
      g_assert_cmpint (facet_media_source_frame_at_time (source, t + 0.02), ==, i);
    }
  /* The last frame starts at 3.08 s; how long it lasts is the container's
   * word (ffmpeg stores one tick of its 1/25 s clock). */
  g_assert_cmpfloat (info->duration, >, 3.08);
  g_assert_cmpfloat (info->duration, <=, 3.2 + 1e-9);
  g_assert_cmpfloat_with_epsilon (info->fps, N_FRAMES / info->duration, 1e-9);
  /* Pixels: the frames are those of the constant-rate original (lossy now). */
  assert_close_to_originals (frames, 8.0);
}

/* A file whose first timestamp is 10 s: frame 0 is still frame 0, and the
 * frames are exactly those of the file it was copied from. */
static void
test_exact_offset (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetMediaSource) original = NULL;
  g_autoptr (GPtrArray) frames = check_frame_exact ("offset.mp4", N_FRAMES);
  g_autoptr (GPtrArray) reference = NULL;
  const FacetMediaInfo *info;

  source = facet_media_source_open (fixture ("offset.mp4"), 0, &error);
  g_assert_no_error (error);
  info = facet_media_source_get_info (source);
  g_assert_cmpfloat_with_epsilon (info->start_time, 10.0, 1e-3);
  g_assert_false (info->variable_frame_rate);
  g_assert_cmpfloat_with_epsilon (facet_media_source_frame_time (source, 0), 0.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (facet_media_source_frame_time (source, 25), 1.0, 1e-3);
  g_assert_cmpint (facet_media_source_frame_at_time (source, 1.0), ==, 25);

  original = facet_media_source_open (fixture ("h264-b.mp4"), 0, &error);
  g_assert_no_error (error);
  reference = read_all (original);
  for (guint i = 0; i < frames->len; i++)
    assert_same (g_ptr_array_index (frames, i), g_ptr_array_index (reference, i), "offset");
}

static void
test_exact_rotated (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetMediaSource) upright = NULL;
  g_autoptr (FacetImage) turned = NULL;
  g_autoptr (FacetImage) plain = NULL;
  g_autoptr (GPtrArray) frames = check_frame_exact ("rotated.mp4", N_FRAMES);
  const FacetMediaInfo *info;

  source = facet_media_source_open (fixture ("rotated.mp4"), 0, &error);
  g_assert_no_error (error);
  info = facet_media_source_get_info (source);
  /* FFmpeg's "rotate=90" tag writes a matrix that displays the picture
   * turned a quarter counterclockwise, i.e. 270 degrees clockwise. */
  g_assert_cmpint (info->rotation, ==, 270);
  g_assert_cmpint (info->width, ==, H);
  g_assert_cmpint (info->height, ==, W);

  upright = facet_media_source_open (fixture ("h264.mp4"), 0, &error);
  g_assert_no_error (error);
  turned = facet_media_source_get_frame (source, 5, &error);
  g_assert_no_error (error);
  plain = facet_media_source_get_frame (upright, 5, &error);
  g_assert_no_error (error);
  /* 270 clockwise: the top-right pixel goes to the top-left. */
  for (int y = 0; y < H; y += 7)
    for (int x = 0; x < W; x += 5)
      g_assert_cmpmem (plain->data + (gsize) y * plain->stride + 3 * x, 3,
                       turned->data + (gsize) (W - 1 - x) * turned->stride + 3 * y, 3);
}

/* Readers and time ---------------------------------------------------------- */

static void
test_reader_stride (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (FacetMediaReader) reader = NULL;
  FacetImage *image;
  gint64 index, expected = 3;

  source = facet_media_source_open (fixture ("h264-b.mp4"), 0, &error);
  g_assert_no_error (error);
  all = read_all (source);

  /* Stride 14 crosses key frames without decoding everything between. */
  for (int stride = 5; stride <= 14; stride += 9)
    {
      reader = facet_media_reader_new (source, 3, stride, &error);
      g_assert_no_error (error);
      expected = 3;
      while ((image = facet_media_reader_next (reader, &index, &error)) != NULL)
        {
          g_assert_cmpint (index, ==, expected);
          assert_same (image, g_ptr_array_index (all, index), "stride");
          facet_image_unref (image);
          expected += stride;
        }
      g_assert_no_error (error);
      g_assert_cmpint (expected, >=, N_FRAMES);
      /* The end stays the end. */
      g_assert_null (facet_media_reader_next (reader, &index, &error));
      g_assert_no_error (error);
      g_clear_pointer (&reader, facet_media_reader_free);
    }

  reader = facet_media_reader_new (source, 0, 0, &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_assert_null (reader);
  g_clear_error (&error);
  reader = facet_media_reader_new (source, N_FRAMES + 1, 1, &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_clear_error (&error);

  image = facet_media_source_get_frame (source, N_FRAMES, &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_assert_nonnull (strstr (error->message, "h264-b.mp4"));
  g_assert_null (image);
  g_clear_error (&error);
  image = facet_media_source_get_frame (source, -1, &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_assert_null (image);
}

static void
test_info_cfr (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  const FacetMediaInfo *info;

  source = facet_media_source_open (fixture ("h264-b.mkv"), 0, &error);
  g_assert_no_error (error);
  info = facet_media_source_get_info (source);
  g_assert_cmpint (info->n_frames, ==, N_FRAMES);
  g_assert_cmpfloat (info->fps, ==, FPS);
  g_assert_cmpfloat_with_epsilon (info->duration, N_FRAMES / FPS, 1e-9);
  g_assert_false (info->variable_frame_rate);
  g_assert_cmpint (info->width, ==, W);
  g_assert_cmpint (info->height, ==, H);
  g_assert_cmpint (info->rotation, ==, 0);
  g_assert_cmpstr (info->codec, ==, "h264");
  g_assert_cmpstr (info->container, ==, "matroska,webm");
  g_assert_cmpfloat (info->start_time, ==, 0.0);
  g_assert_cmpstr (facet_media_source_get_path (source), ==, fixture ("h264-b.mkv"));
  for (gint64 i = 0; i < N_FRAMES; i++)
    {
      g_assert_cmpfloat_with_epsilon (facet_media_source_frame_time (source, i), i / FPS, 1e-3);
      g_assert_cmpint (facet_media_source_frame_at_time (source, i / FPS + 0.001), ==, i);
    }
  g_assert_cmpint (facet_media_source_frame_at_time (source, -5.0), ==, 0);
  g_assert_cmpint (facet_media_source_frame_at_time (source, 1e9), ==, N_FRAMES - 1);
}

/* The frame cache ------------------------------------------------------------ */

static void
test_cache_lru (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  FacetMediaStats stats;
  gsize frame_bytes;

  source = facet_media_source_open (fixture ("ffv1.mkv"), 0, &error);
  g_assert_no_error (error);

  touch_frame (source, 0);
  facet_media_source_get_stats (source, &stats);
  g_assert_cmpuint (stats.cache_frames, ==, 1);
  frame_bytes = stats.cache_bytes;
  g_assert_cmpuint (frame_bytes, >=, 3 * W * H);

  /* Room for three frames. */
  facet_media_source_set_cache_size (source, 3 * frame_bytes + frame_bytes / 2);
  for (gint64 i = 1; i <= 2; i++)
    {
      g_autoptr (FacetImage) image = facet_media_source_get_frame (source, i, &error);
      g_assert_no_error (error);
    }
  for (gint64 i = 0; i <= 2; i++)
    g_assert_true (facet_media_source_is_cached (source, i));

  /* Touching frame 0 makes frame 1 the least recently used... */
  {
    g_autoptr (FacetImage) again = facet_media_source_get_frame (source, 0, &error);
    g_autoptr (FacetImage) first = make_frame (0);
    assert_same (again, first, "cached frame");
  }
  facet_media_source_get_stats (source, &stats);
  g_assert_cmpuint (stats.hits, ==, 1);
  g_assert_cmpuint (stats.misses, ==, 3);

  /* ... so frame 3 pushes out frame 1. */
  touch_frame (source, 3);
  g_assert_true (facet_media_source_is_cached (source, 0));
  g_assert_false (facet_media_source_is_cached (source, 1));
  g_assert_true (facet_media_source_is_cached (source, 2));
  g_assert_true (facet_media_source_is_cached (source, 3));
  facet_media_source_get_stats (source, &stats);
  g_assert_cmpuint (stats.cache_frames, ==, 3);
  g_assert_cmpuint (stats.cache_bytes, ==, 3 * frame_bytes);
  g_assert_cmpuint (stats.cache_bytes, <=, stats.cache_limit);

  /* Shrinking keeps the most recent. */
  facet_media_source_set_cache_size (source, frame_bytes);
  g_assert_true (facet_media_source_is_cached (source, 3));
  g_assert_false (facet_media_source_is_cached (source, 0));
  g_assert_false (facet_media_source_is_cached (source, 2));

  /* Random use never exceeds the budget. */
  facet_media_source_set_cache_size (source, 5 * frame_bytes);
  for (int i = 0; i < 60; i++)
    {
      g_autoptr (FacetImage) image = facet_media_source_get_frame (source, (i * 7) % N_FRAMES,
                                                                   &error);
      g_assert_no_error (error);
      facet_media_source_get_stats (source, &stats);
      g_assert_cmpuint (stats.cache_bytes, <=, 5 * frame_bytes);
    }
  g_assert_cmpuint (stats.cache_frames, ==, 5);

  facet_media_source_set_cache_size (source, 0);
  facet_media_source_get_stats (source, &stats);
  g_assert_cmpuint (stats.cache_frames, ==, 0);
  g_assert_cmpuint (stats.cache_bytes, ==, 0);
}

/* Threads -------------------------------------------------------------------- */

typedef struct
{
  FacetMediaSource *source;
  GPtrArray        *reference;
  guint64           seed;
  gboolean          use_reader;
  int               checked;
} ThreadJob;

static gpointer
thread_job (gpointer data)
{
  ThreadJob *job = data;
  g_autoptr (GError) error = NULL;
  FacetRng rng;

  facet_rng_init (&rng, job->seed);
  if (job->use_reader)
    {
      g_autoptr (FacetMediaReader) reader = facet_media_reader_new (job->source, 0, 1, &error);
      FacetImage *image;
      gint64 index;

      g_assert_no_error (error);
      while ((image = facet_media_reader_next (reader, &index, &error)) != NULL)
        {
          assert_same (image, g_ptr_array_index (job->reference, index), "thread reader");
          facet_image_unref (image);
          job->checked++;
        }
      g_assert_no_error (error);
      return NULL;
    }
  for (int i = 0; i < 50; i++)
    {
      gint64 index = facet_rng_below (&rng, N_FRAMES);
      g_autoptr (FacetImage) image = facet_media_source_get_frame (job->source, index, &error);

      g_assert_no_error (error);
      assert_same (image, g_ptr_array_index (job->reference, index), "thread random access");
      job->checked++;
    }
  return NULL;
}

/* Two sources used from four threads at once: random access to each source
 * from its own thread, a second thread sharing the first source, and a
 * reader on the first source beside them. */
static void
test_threads (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) a = NULL;
  g_autoptr (FacetMediaSource) b = NULL;
  g_autoptr (GPtrArray) ref_a = NULL;
  g_autoptr (GPtrArray) ref_b = NULL;
  ThreadJob jobs[4];
  GThread *threads[4];

  a = facet_media_source_open (fixture ("h264-b.mp4"), 0, &error);
  g_assert_no_error (error);
  b = facet_media_source_open (fixture ("mjpeg.mkv"), 0, &error);
  g_assert_no_error (error);
  ref_a = read_all (a);
  ref_b = read_all (b);
  /* A small cache so that most requests decode. */
  facet_media_source_set_cache_size (a, 4 * 3 * W * H);
  facet_media_source_set_cache_size (b, 4 * 3 * W * H);

  jobs[0] = (ThreadJob) { a, ref_a, 1, FALSE, 0 };
  jobs[1] = (ThreadJob) { b, ref_b, 2, FALSE, 0 };
  jobs[2] = (ThreadJob) { a, ref_a, 3, FALSE, 0 };
  jobs[3] = (ThreadJob) { a, ref_a, 4, TRUE, 0 };
  for (int i = 0; i < 4; i++)
    threads[i] = g_thread_new ("media-test", thread_job, &jobs[i]);
  for (int i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (jobs[i].checked, ==, 50);
  g_assert_cmpint (jobs[3].checked, ==, N_FRAMES);
}

/* Image folders -------------------------------------------------------------- */

static char *
make_folder (const char *name)
{
  char *dir = tmp_path (name);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

static void
save_frame (const char *dir,
            const char *file,
            int         t,
            gboolean    jpeg)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (FacetImage) image = make_frame (t);
  g_autoptr (GError) error = NULL;

  if (jpeg)
    facet_image_save_jpeg (image, path, 95, &error);
  else
    facet_image_save_png (image, path, &error);
  g_assert_no_error (error);
}

static void
write_text (const char *dir,
            const char *file,
            const char *text)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
test_folder (void)
{
  g_autofree char *dir = make_folder ("frames");
  g_autofree char *jpeg2 = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetImage) expected_jpeg = NULL;
  g_autoptr (GPtrArray) frames = NULL;
  const FacetMediaInfo *info;
  /* Frame t is stored as frame_<t+1>: the order is natural, not by bytes. */
  const int order[] = { 1, 2, 3, 9, 10, 11, 20, 100 };

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_autofree char *file = g_strdup_printf ("frame_%d.%s", order[i], i == 1 ? "JPG" : "png");
      save_frame (dir, file, (int) i, i == 1);
    }
  write_text (dir, "notes.txt", "not a frame");
  write_text (dir, "labels.csv", "frame,AU12\n0,1\n");
  write_text (dir, "._frame_5.jpg", "macOS resource fork, not a JPEG");
  write_text (dir, ".hidden.png", "hidden");

  source = facet_media_source_open (dir, 12.5, &error);
  g_assert_no_error (error);
  info = facet_media_source_get_info (source);
  g_assert_cmpint (info->n_frames, ==, G_N_ELEMENTS (order));
  g_assert_cmpfloat (info->fps, ==, 12.5);
  g_assert_cmpfloat_with_epsilon (info->duration, G_N_ELEMENTS (order) / 12.5, 1e-9);
  g_assert_cmpint (info->width, ==, W);
  g_assert_cmpint (info->height, ==, H);
  g_assert_cmpstr (info->codec, ==, "jpeg+png");
  g_assert_cmpstr (info->container, ==, "image-folder");
  g_assert_cmpfloat_with_epsilon (facet_media_source_frame_time (source, 4), 4 / 12.5, 1e-12);
  g_assert_cmpint (facet_media_source_frame_at_time (source, 0.33), ==, 4);

  frames = read_all (source);
  jpeg2 = g_build_filename (dir, "frame_2.JPG", NULL);
  expected_jpeg = facet_image_load (jpeg2, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < frames->len; i++)
    {
      g_autoptr (FacetImage) original = make_frame ((int) i);
      g_autoptr (FacetImage) random = facet_media_source_get_frame (source, i, &error);

      g_assert_no_error (error);
      assert_same (random, g_ptr_array_index (frames, i), "folder random vs sequential");
      /* PNG is lossless; the JPEG is what libjpeg-turbo decodes. */
      assert_same (g_ptr_array_index (frames, i), i == 1 ? expected_jpeg : original,
                   "folder frame");
    }

  /* Without a rate: 30 frames per second. */
  g_clear_pointer (&source, facet_media_source_unref);
  source = facet_media_source_open (dir, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (facet_media_source_get_info (source)->fps, ==, 30.0);
}

/* One damaged file and one of another size: errors for those frames only. */
static void
test_folder_damaged (void)
{
  g_autofree char *dir = make_folder ("frames-damaged");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetMediaReader) reader = NULL;
  g_autoptr (FacetImage) small = facet_image_new (W / 2, H / 2);
  g_autofree char *small_path = g_build_filename (dir, "img004.png", NULL);
  FacetImage *image;
  gint64 index;
  int good = 0, bad = 0;

  for (int t = 0; t < 6; t++)
    {
      g_autofree char *file = g_strdup_printf ("img%03d.jpg", t);
      if (t == 2)
        write_text (dir, file, "\xff\xd8\xff garbage that is not a JPEG");
      else if (t != 4)
        save_frame (dir, file, t, TRUE);
    }
  facet_image_save_png (small, small_path, &error);
  g_assert_no_error (error);

  source = facet_media_source_open (dir, 25, &error);
  g_assert_no_error (error);
  g_assert_cmpint (facet_media_source_get_info (source)->n_frames, ==, 6);

  image = facet_media_source_get_frame (source, 2, &error);
  g_assert_null (image);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME);
  g_assert_nonnull (strstr (error->message, "img002.jpg"));
  g_clear_error (&error);
  image = facet_media_source_get_frame (source, 4, &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME);
  g_assert_nonnull (strstr (error->message, "img004.png"));
  g_clear_error (&error);

  reader = facet_media_reader_new (source, 0, 1, &error);
  g_assert_no_error (error);
  for (;;)
    {
      image = facet_media_reader_next (reader, &index, &error);
      if (image != NULL)
        {
          good++;
          facet_image_unref (image);
          continue;
        }
      if (error == NULL)
        break;
      g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME);
      g_assert_true (index == 2 || index == 4);
      g_clear_error (&error);
      bad++;
    }
  g_assert_cmpint (good, ==, 4);
  g_assert_cmpint (bad, ==, 2);
}

static void
test_folder_errors (void)
{
  g_autofree char *empty = make_folder ("empty");
  g_autofree char *texts = make_folder ("no-images");
  g_autofree char *missing = tmp_path ("no-such-folder");
  g_autofree char *first_bad = make_folder ("first-bad");
  g_autoptr (GError) error = NULL;
  FacetMediaSource *source;

  write_text (texts, "a.txt", "text");
  write_text (texts, "b.csv", "1,2");
  write_text (texts, "c.mp4.txt", "text");
  write_text (first_bad, "f1.png", "not a PNG at all");

  source = facet_media_source_open (empty, 25, &error);
  g_assert_null (source);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_EMPTY);
  g_assert_nonnull (strstr (error->message, empty));
  g_clear_error (&error);

  source = facet_media_source_open (texts, 25, &error);
  g_assert_null (source);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_EMPTY);
  g_assert_nonnull (strstr (error->message, texts));
  g_clear_error (&error);

  source = facet_media_source_open (missing, 25, &error);
  g_assert_null (source);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  source = facet_media_source_open (first_bad, 25, &error);
  g_assert_null (source);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "f1.png"));
}

/* Damaged and odd files ------------------------------------------------------ */

static char *
write_bytes (const char   *name,
             const guint8 *data,
             gsize         len)
{
  char *path = tmp_path (name);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, (const char *) data, (gssize) len, &error);
  g_assert_no_error (error);
  return path;
}

static void
assert_open_fails (const char *path,
                   int         code)
{
  g_autoptr (GError) error = NULL;
  FacetMediaSource *source = facet_media_source_open (path, 0, &error);

  if (source != NULL)
    g_error ("%s opened, but should not", path);
  g_assert_error (error, FACET_MEDIA_ERROR, code);
  if (strstr (error->message, path) == NULL)
    g_error ("the message “%s” does not name %s", error->message, path);
}

static void
test_corrupt_files (void)
{
  g_autofree char *missing = tmp_path ("missing.mp4");
  g_autofree char *empty = write_bytes ("empty.mp4", (const guint8 *) "", 0);
  g_autofree char *garbage = NULL;
  g_autofree char *text = NULL;
  g_autofree char *cut_mp4 = NULL;
  g_autofree char *cut_mkv = NULL;
  g_autofree guint8 *noise = g_malloc (64 * 1024);
  g_autofree char *contents = NULL;
  gsize len;
  FacetRng rng;
  g_autoptr (GError) error = NULL;

  facet_rng_init (&rng, 99);
  for (gsize i = 0; i < 64 * 1024; i++)
    noise[i] = (guint8) facet_rng_below (&rng, 256);
  garbage = write_bytes ("garbage.mp4", noise, 64 * 1024);
  text = write_bytes ("text.mkv", (const guint8 *) "hello, not a video\n", 19);

  assert_open_fails (missing, FACET_MEDIA_ERROR_IO);
  assert_open_fails (empty, FACET_MEDIA_ERROR_FORMAT);
  assert_open_fails (garbage, FACET_MEDIA_ERROR_FORMAT);
  assert_open_fails (text, FACET_MEDIA_ERROR_FORMAT);

  /* Cut in half: the MP4 index (at the end) is gone; the Matroska file ends
   * inside a frame while its header promises more. */
  g_file_get_contents (fixture ("h264-b.mp4"), &contents, &len, &error);
  g_assert_no_error (error);
  cut_mp4 = write_bytes ("cut.mp4", (const guint8 *) contents, len / 2);
  g_clear_pointer (&contents, g_free);
  assert_open_fails (cut_mp4, FACET_MEDIA_ERROR_FORMAT);

  g_file_get_contents (fixture ("h264-b.mkv"), &contents, &len, &error);
  g_assert_no_error (error);
  cut_mkv = write_bytes ("cut.mkv", (const guint8 *) contents, len / 2 + 7);
  assert_open_fails (cut_mkv, FACET_MEDIA_ERROR_FORMAT);
}

/* Cuts at many places: each either opens or fails cleanly, never crashes,
 * and whatever opens can be read to the end. */
static void
test_corrupt_cuts (void)
{
  const char *names[] = { "h264-b.mp4", "h264-b.mkv", "mjpeg.avi", "ffv1.mkv" };

  for (guint n = 0; n < G_N_ELEMENTS (names); n++)
    {
      g_autofree char *contents = NULL;
      g_autoptr (GError) error = NULL;
      gsize len;

      g_file_get_contents (fixture (names[n]), &contents, &len, &error);
      g_assert_no_error (error);
      for (int k = 1; k <= 6; k++)
        {
          g_autofree char *name = g_strdup_printf ("cut-%u-%d-%s", n, k, names[n]);
          g_autofree char *path = write_bytes (name, (const guint8 *) contents, len * k / 7);
          g_autoptr (FacetMediaSource) source = facet_media_source_open (path, 0, &error);
          g_autoptr (FacetMediaReader) reader = NULL;
          FacetImage *image;

          if (source == NULL)
            {
              g_assert_true (error->domain == FACET_MEDIA_ERROR);
              g_assert_nonnull (strstr (error->message, path));
              g_clear_error (&error);
              continue;
            }
          reader = facet_media_reader_new (source, 0, 1, &error);
          g_assert_no_error (error);
          while ((image = facet_media_reader_next (reader, NULL, &error)) != NULL || error != NULL)
            {
              if (image == NULL)
                {
                  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME);
                  g_clear_error (&error);
                }
              g_clear_pointer (&image, facet_image_unref);
            }
        }
    }
}

/* A codec no decoder knows: the FourCC of an FFV1 stream in Matroska (which
 * stores it as V_MS/VFW/FOURCC) renamed. */
static void
test_corrupt_unsupported (void)
{
  g_autofree char *contents = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  char *id;
  gsize len;

  g_file_get_contents (fixture ("ffv1.mkv"), &contents, &len, &error);
  g_assert_no_error (error);
  id = find_bytes (contents, len, "V_MS/VFW/FOURCC", 15);
  g_assert_nonnull (id);
  id = find_bytes (id, len - (gsize) (id - contents), "FFV1", 4);
  g_assert_nonnull (id);
  memcpy (id, "ZZZZ", 4);
  path = write_bytes ("unknown-codec.mkv", (const guint8 *) contents, len);
  assert_open_fails (path, FACET_MEDIA_ERROR_UNSUPPORTED);
}

/* One MJPEG frame in the middle overwritten with zeros: that frame is an
 * error, its neighbours are the frames the ffmpeg tool decodes (which drops
 * the damaged one, so its numbering shifts by one after it). */
static void
test_corrupt_damaged_frame (void)
{
  g_autofree char *contents = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetMediaReader) reader = NULL;
  g_autoptr (GBytes) tool = NULL;
  g_autoptr (GPtrArray) starts = g_ptr_array_new ();
  const int damaged = 17;
  const guint8 *rgb;
  gsize len, tool_len, frame_bytes = 3 * W * H;
  FacetImage *image;
  gint64 index;
  int decoded = 0, errors = 0;

  g_file_get_contents (fixture ("mjpeg.mkv"), &contents, &len, &error);
  g_assert_no_error (error);
  /* Each frame starts with a JPEG SOI marker; entropy-coded data never
   * contains one (0xff is always followed by 0x00 there). */
  for (char *p = contents; (p = find_bytes (p, len - (gsize) (p - contents), "\xff\xd8\xff", 3));
       p += 3)
    g_ptr_array_add (starts, p);
  g_assert_cmpuint (starts->len, ==, N_FRAMES);
  memset (g_ptr_array_index (starts, damaged), 0, 2000);
  path = write_bytes ("damaged.mkv", (const guint8 *) contents, len);

  source = facet_media_source_open (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (facet_media_source_get_info (source)->n_frames, ==, N_FRAMES);
  tool = tool_frames (path, -1);
  rgb = g_bytes_get_data (tool, &tool_len);
  g_assert_cmpuint (tool_len, ==, frame_bytes * (N_FRAMES - 1));

  /* Random access: the damaged frame, then the ones around it. */
  image = facet_media_source_get_frame (source, damaged, &error);
  g_assert_null (image);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "frame 17"));
  g_clear_error (&error);
  for (int i = damaged + 1; i >= damaged - 1; i -= 2)
    {
      g_autoptr (FacetImage) near = facet_media_source_get_frame (source, i, &error);
      g_assert_no_error (error);
      assert_image_bytes (near, rgb + (gsize) (i < damaged ? i : i - 1) * frame_bytes,
                          "next to the damaged frame");
    }

  /* Sequential: one error for that frame, and the rest continue. */
  reader = facet_media_reader_new (source, 0, 1, &error);
  g_assert_no_error (error);
  for (;;)
    {
      image = facet_media_reader_next (reader, &index, &error);
      if (image == NULL && error == NULL)
        break;
      if (image == NULL)
        {
          g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME);
          g_assert_cmpint (index, ==, damaged);
          g_clear_error (&error);
          errors++;
          continue;
        }
      assert_image_bytes (image, rgb + (gsize) (index < damaged ? index : index - 1) * frame_bytes,
                          "sequential after damage");
      facet_image_unref (image);
      decoded++;
    }
  g_assert_cmpint (errors, ==, 1);
  g_assert_cmpint (decoded, ==, N_FRAMES - 1);
}

/* The writer ----------------------------------------------------------------- */

static void
test_writer_deterministic (void)
{
  const char *names[][2] = { { "det-a.mp4", "h264" }, { "det-a.mkv", "ffv1" },
                             { "det-a.avi", "mjpeg" }, { "det-a-mpeg4.mkv", "mpeg4" } };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *a = tmp_path (names[i][0]);
      g_autofree char *b = g_strdup_printf ("%s-again%s", a, strrchr (names[i][0], '.'));
      g_autofree char *hash_a = NULL;
      g_autofree char *hash_b = NULL;
      g_autoptr (GError) error = NULL;

      write_video (a, names[i][1], NULL);
      write_video (b, names[i][1], NULL);
      hash_a = facet_file_sha256 (a, &error);
      g_assert_no_error (error);
      hash_b = facet_file_sha256 (b, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (hash_a, ==, hash_b);
    }
}

/* MP4 keeps its last frame (packet durations are set) and the file is only
 * there once finished. */
static void
test_writer_mp4_last_frame (void)
{
  g_autofree char *path = tmp_path ("last-frame.mp4");
  g_autofree char *part = g_strdup_printf ("%s.part", path);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaWriter) writer = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (GBytes) tool = NULL;

  writer = facet_media_writer_new (path, W, H, 30000.0 / 1001.0, NULL, &error);
  g_assert_no_error (error);
  for (int t = 0; t < 7; t++)
    {
      g_autoptr (FacetImage) frame = make_frame (t);
      g_assert_true (facet_media_writer_add (writer, frame, &error));
    }
  g_assert_true (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (facet_media_writer_finish (writer, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));

  source = facet_media_source_open (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (facet_media_source_get_info (source)->n_frames, ==, 7);
  g_assert_cmpfloat_with_epsilon (facet_media_source_get_info (source)->fps, 30000.0 / 1001.0,
                                  1e-9);
  tool = tool_frames (path, -1);
  g_assert_cmpuint (g_bytes_get_size (tool), ==, 7 * 3 * W * H);
}

static void
test_writer_errors (void)
{
  g_autofree char *mp4 = tmp_path ("bad.mp4");
  g_autofree char *abandoned = tmp_path ("abandoned.mkv");
  g_autofree char *part = g_strdup_printf ("%s.part", abandoned);
  g_autofree char *nowhere = tmp_path ("no-such-dir/x.mkv");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) wrong = facet_image_new (W + 2, H);
  g_autoptr (FacetImage) right = make_frame (0);
  FacetMediaWriter *writer;

  writer = facet_media_writer_new (mp4, W, H, 25, "ffv1", &error);
  g_assert_null (writer);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "bad.mp4"));
  g_clear_error (&error);

  writer = facet_media_writer_new (mp4, W + 1, H, 25, "h264", &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  writer = facet_media_writer_new (mp4, W, H, 25, "theora-please", &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  writer = facet_media_writer_new (mp4, W, H, 0.0, NULL, &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_clear_error (&error);

  writer = facet_media_writer_new (nowhere, W, H, 25, NULL, &error);
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "x.mkv"));
  g_clear_error (&error);

  /* A wrong-size frame is refused; an abandoned writer leaves nothing. */
  writer = facet_media_writer_new (abandoned, W, H, 25, "mjpeg", &error);
  g_assert_no_error (error);
  g_assert_true (facet_media_writer_add (writer, right, &error));
  g_assert_false (facet_media_writer_add (writer, wrong, &error));
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_clear_error (&error);
  facet_media_writer_free (writer);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (abandoned, G_FILE_TEST_EXISTS));

  /* No frames: no video. */
  writer = facet_media_writer_new (abandoned, W, H, 25, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (facet_media_writer_finish (writer, &error));
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_EMPTY);
  facet_media_writer_free (writer);
  g_assert_false (g_file_test (abandoned, G_FILE_TEST_EXISTS));
}

/* The index cache ---------------------------------------------------------- */

static char *
only_index_file (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "cache", "facet", "media-index", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  char *found = NULL;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_assert_null (found);
      found = g_build_filename (dir, name, NULL);
    }
  g_assert_nonnull (found);
  return found;
}

static FacetMediaSource *
open_counting (const char *path,
               gboolean   *from_cache)
{
  g_autoptr (GError) error = NULL;
  FacetMediaSource *source = facet_media_source_open (path, 0, &error);
  FacetMediaStats stats;

  g_assert_no_error (error);
  facet_media_source_get_stats (source, &stats);
  *from_cache = stats.index_from_cache;
  return source;
}

/* A second open reads the index from the cache and behaves the same; a
 * touched video or a damaged cache file means indexing again. */
static void
test_index_cache (void)
{
  g_autofree char *path = tmp_path ("cached.mkv");
  g_autofree char *contents = NULL;
  g_autofree char *index_file = NULL;
  g_autofree char *index_data = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) first = NULL;
  g_autoptr (FacetMediaSource) second = NULL;
  g_autoptr (GPtrArray) frames = NULL;
  g_autoptr (GPtrArray) again = NULL;
  const FacetMediaInfo *a, *b;
  gboolean from_cache;
  gsize len, index_len;

  /* Only this test's video in the (test-private) cache. */
  g_file_get_contents (fixture ("h264-b.mkv"), &contents, &len, &error);
  g_assert_no_error (error);
  g_file_set_contents (path, contents, (gssize) len, &error);
  g_assert_no_error (error);
  g_setenv ("FACET_MEDIA_INDEX_CACHE", "1", TRUE);

  first = open_counting (path, &from_cache);
  g_assert_false (from_cache);
  second = open_counting (path, &from_cache);
  g_assert_true (from_cache);
  a = facet_media_source_get_info (first);
  b = facet_media_source_get_info (second);
  g_assert_cmpint (a->n_frames, ==, b->n_frames);
  g_assert_cmpfloat (a->fps, ==, b->fps);
  g_assert_cmpfloat (a->duration, ==, b->duration);
  g_assert_cmpfloat (a->start_time, ==, b->start_time);
  frames = read_all (first);
  again = read_all (second);
  facet_media_source_set_cache_size (second, 0);
  for (gint64 i = N_FRAMES - 1; i >= 0; i -= 5)
    {
      g_autoptr (FacetImage) image = facet_media_source_get_frame (second, i, &error);
      g_assert_no_error (error);
      assert_same (image, g_ptr_array_index (frames, i), "random access with a cached index");
      assert_same (g_ptr_array_index (again, i), g_ptr_array_index (frames, i), "cached index");
    }
  g_clear_pointer (&second, facet_media_source_unref);

  /* The index file round-trips through the parser; damage is refused. */
  index_file = only_index_file ();
  g_file_get_contents (index_file, &index_data, &index_len, &error);
  g_assert_no_error (error);
  {
    FacetMediaIndexKey key;
    gsize n = 0;
    g_autofree FacetMediaPacket *packets =
      facet_media_index_parse ((const guint8 *) index_data, index_len, NULL, &key, &n);
    g_autoptr (GBytes) back = NULL;

    g_assert_nonnull (packets);
    g_assert_cmpuint (n, ==, N_FRAMES);
    back = facet_media_index_serialize (&key, packets, n);
    g_assert_cmpmem (g_bytes_get_data (back, NULL), g_bytes_get_size (back), index_data,
                     index_len);
    for (gsize cut = 0; cut < index_len; cut += 37)
      {
        g_assert_null (facet_media_index_parse ((const guint8 *) index_data, cut, NULL, NULL, &n));
        index_data[cut] ^= 0x40;
        g_assert_null (facet_media_index_parse ((const guint8 *) index_data, index_len, NULL, NULL,
                                                &n));
        index_data[cut] ^= 0x40;
      }
  }

  /* A changed modification time: indexed again, then cached again. */
  {
    GStatBuf st;
    struct utimbuf times;

    g_assert_cmpint (g_stat (path, &st), ==, 0);
    times.actime = st.st_atime;
    times.modtime = st.st_mtime - 100;
    g_assert_cmpint (g_utime (path, &times), ==, 0);
  }
  second = open_counting (path, &from_cache);
  g_assert_false (from_cache);
  g_clear_pointer (&second, facet_media_source_unref);
  second = open_counting (path, &from_cache);
  g_assert_true (from_cache);
  g_clear_pointer (&second, facet_media_source_unref);

  /* A damaged cache file: ignored, and the video still opens right. */
  g_clear_pointer (&index_file, g_free);
  g_clear_pointer (&index_data, g_free);
  index_file = only_index_file ();
  g_file_get_contents (index_file, &index_data, &index_len, &error);
  g_assert_no_error (error);
  index_data[index_len / 2] ^= 1;
  g_file_set_contents (index_file, index_data, (gssize) index_len, &error);
  g_assert_no_error (error);
  second = open_counting (path, &from_cache);
  g_assert_false (from_cache);
  g_assert_cmpint (facet_media_source_get_info (second)->n_frames, ==, N_FRAMES);
  g_clear_pointer (&second, facet_media_source_unref);

  /* Too many cached indexes: the oldest go, the newest (ours) stays. */
  {
    g_autofree char *dir = g_path_get_dirname (index_file);
    g_autoptr (GDir) d = NULL;
    struct utimbuf old_times = { 1000000000, 1000000000 };
    guint count = 0;

    for (int i = 0; i < 300; i++)
      {
        g_autofree char *name = g_strdup_printf ("%s/stale-%03d.idx", dir, i);
        g_file_set_contents (name, "stale", -1, &error);
        g_assert_no_error (error);
        old_times.modtime += 60;
        g_utime (name, &old_times);
      }
    g_unlink (index_file);
    second = open_counting (path, &from_cache);
    g_assert_false (from_cache);
    g_clear_pointer (&second, facet_media_source_unref);
    d = g_dir_open (dir, 0, NULL);
    while (g_dir_read_name (d) != NULL)
      count++;
    g_assert_cmpuint (count, ==, 192);
    g_assert_true (g_file_test (index_file, G_FILE_TEST_EXISTS));
    g_clear_pointer (&index_data, g_free);
    index_data = g_build_filename (dir, "stale-000.idx", NULL);
    g_assert_false (g_file_test (index_data, G_FILE_TEST_EXISTS));
  }

  /* Switched off. */
  g_setenv ("FACET_MEDIA_INDEX_CACHE", "0", TRUE);
  second = open_counting (path, &from_cache);
  g_assert_false (from_cache);
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_dir_close (dir);
    }
  g_remove (path);
}

int
main (int    argc,
      char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("facet-media-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  /* The index cache off, except where a test turns it on, and then in a
   * folder of its own (GLib reads XDG_CACHE_HOME on first use). */
  {
    g_autofree char *cache = g_build_filename (tmpdir, "cache", NULL);
    g_setenv ("XDG_CACHE_HOME", cache, TRUE);
    g_setenv ("FACET_MEDIA_INDEX_CACHE", "0", TRUE);
  }

  g_test_add_func ("/media/exact/h264-mp4", test_exact_h264_mp4);
  g_test_add_func ("/media/exact/h264-bframes-mp4", test_exact_h264_bframes_mp4);
  g_test_add_func ("/media/exact/h264-bframes-mkv", test_exact_h264_bframes_mkv);
  g_test_add_func ("/media/exact/mjpeg", test_exact_mjpeg);
  g_test_add_func ("/media/exact/mpeg4-avi", test_exact_mpeg4);
  g_test_add_func ("/media/exact/ffv1-lossless", test_exact_ffv1);
  g_test_add_func ("/media/exact/variable-frame-rate", test_exact_vfr);
  g_test_add_func ("/media/exact/time-offset", test_exact_offset);
  g_test_add_func ("/media/exact/rotated", test_exact_rotated);
  g_test_add_func ("/media/reader/stride", test_reader_stride);
  g_test_add_func ("/media/info/constant-rate", test_info_cfr);
  g_test_add_func ("/media/cache/lru", test_cache_lru);
  g_test_add_func ("/media/threads", test_threads);
  g_test_add_func ("/media/folder/natural-order", test_folder);
  g_test_add_func ("/media/folder/damaged", test_folder_damaged);
  g_test_add_func ("/media/folder/errors", test_folder_errors);
  g_test_add_func ("/media/corrupt/files", test_corrupt_files);
  g_test_add_func ("/media/corrupt/cuts", test_corrupt_cuts);
  g_test_add_func ("/media/corrupt/unsupported-codec", test_corrupt_unsupported);
  g_test_add_func ("/media/corrupt/damaged-frame", test_corrupt_damaged_frame);
  g_test_add_func ("/media/writer/deterministic", test_writer_deterministic);
  g_test_add_func ("/media/writer/mp4-last-frame", test_writer_mp4_last_frame);
  g_test_add_func ("/media/writer/errors", test_writer_errors);
  g_test_add_func ("/media/index-cache", test_index_cache);

  ret = g_test_run ();
  remove_tree (tmpdir);
  g_free (tmpdir);
  return ret;
}
