/* test-synth-condition.c — the recording conditions of the synthetic faces
 * (light colour and direction, camera distance and angle, head pose range,
 * blur, compression, another population of identities): each changes the
 * frames as described, measured on the pixels, and the defaults change
 * nothing.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "media/facet-media.h"
#include "media/media-synth.h"

#define SIZE 128

static FacetImage *
frame_with (const FacetSynthSubject   *subject,
            const FacetSynthCondition *condition,
            gint64                     frame,
            const float               *au_override)
{
  g_autoptr (FacetSynthTimeline) tl = facet_synth_timeline_new (subject, 7, 40, 10.0);
  float au[FACET_SYNTH_N_AUS];
  FacetSynthPose pose;

  if (condition != NULL)
    facet_synth_timeline_set_condition (tl, condition);
  facet_synth_timeline_get (tl, frame, au, &pose);
  pose.noise = 0.0f; /* measurements below compare drawings, not noise fields */
  return facet_synth_render (subject, au_override ? au_override : au, &pose, SIZE);
}

static double
channel_mean (const FacetImage *im,
              int               c,
              int               x0,
              int               x1)
{
  double sum = 0.0;

  for (int y = 0; y < im->height; y++)
    for (int x = x0; x < x1; x++)
      sum += im->data[(gsize) y * im->stride + 3 * x + c];
  return sum / ((double) im->height * (x1 - x0));
}

/* Centroid (x, y, in pixels) and count of the pixels where @a and @b differ. */
static int
diff_centroid (const FacetImage *a,
               const FacetImage *b,
               double           *cx,
               double           *cy)
{
  int n = 0;

  *cx = *cy = 0.0;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      {
        const guint8 *p = a->data + (gsize) y * a->stride + 3 * x;
        const guint8 *q = b->data + (gsize) y * b->stride + 3 * x;
        if (abs (p[0] - q[0]) + abs (p[1] - q[1]) + abs (p[2] - q[2]) > 24)
          {
            *cx += x;
            *cy += y;
            n++;
          }
      }
  if (n > 0)
    {
      *cx /= n;
      *cy /= n;
    }
  return n;
}

/* Sum of absolute horizontal and vertical neighbour differences: edges. */
static double
edge_energy (const FacetImage *im)
{
  double sum = 0.0;

  for (int y = 0; y + 1 < im->height; y++)
    for (int x = 0; x + 1 < 3 * (im->width - 1); x++)
      {
        const guint8 *p = im->data + (gsize) y * im->stride + x;
        sum += abs (p[0] - p[3]) + abs (p[0] - p[im->stride]);
      }
  return sum;
}

/* The default condition, set or not, and the default population give the
 * frames, poses and region boxes of before, bit for bit. */
static void
test_defaults_unchanged (void)
{
  FacetSynthCondition c;

  facet_synth_condition_init (&c);
  g_assert_true (facet_synth_condition_is_default (&c));
  g_assert_true (facet_synth_condition_check (&c, NULL));
  for (guint64 seed = 1; seed <= 3; seed++)
    {
      g_autoptr (FacetSynthSubject) s1 = facet_synth_subject_new (seed);
      g_autoptr (FacetSynthSubject) s2
        = facet_synth_subject_new_in (seed, FACET_SYNTH_POPULATION_DEFAULT);
      g_autoptr (FacetSynthTimeline) t1 = facet_synth_timeline_new (s1, 3, 30, 10.0);
      g_autoptr (FacetSynthTimeline) t2 = facet_synth_timeline_new (s2, 3, 30, 10.0);
      g_autofree char *d1 = facet_synth_subject_describe (s1);
      g_autofree char *d2 = facet_synth_subject_describe (s2);

      g_assert_cmpstr (d1, ==, d2);
      g_assert_true (facet_synth_condition_is_default (facet_synth_timeline_get_condition (t1)));
      facet_synth_timeline_set_condition (t2, &c);
      for (gint64 f = 0; f < 30; f += 7)
        {
          float a1[FACET_SYNTH_N_AUS], a2[FACET_SYNTH_N_AUS];
          FacetSynthPose p1, p2;
          g_autoptr (FacetImage) i1 = NULL;
          g_autoptr (FacetImage) i2 = NULL;
          g_autofree char *h1 = NULL, *h2 = NULL;

          facet_synth_timeline_get (t1, f, a1, &p1);
          facet_synth_timeline_get (t2, f, a2, &p2);
          g_assert_cmpmem (a1, sizeof a1, a2, sizeof a2);
          g_assert_cmpmem (&p1, sizeof p1, &p2, sizeof p2);
          g_assert_cmpfloat (p1.tint[0], ==, 1.0f);
          g_assert_cmpfloat (p1.blur, ==, 0.0f);
          i1 = facet_synth_render (s1, a1, &p1, 96);
          i2 = facet_synth_render (s2, a2, &p2, 96);
          h1 = facet_image_hash (i1);
          h2 = facet_image_hash (i2);
          g_assert_cmpstr (h1, ==, h2);
        }
    }
}

/* A coloured light multiplies each channel by its gain. */
static void
test_light_colour (void)
{
  g_autoptr (FacetSynthSubject) s = facet_synth_subject_new (4);
  g_autoptr (FacetImage) plain = frame_with (s, NULL, 5, NULL);
  g_autoptr (FacetImage) warm = NULL;
  FacetSynthCondition c;
  double ratio[3];

  facet_synth_condition_init (&c);
  c.light_colour[0] = 1.2f;
  c.light_colour[1] = 1.0f;
  c.light_colour[2] = 0.6f;
  warm = frame_with (s, &c, 5, NULL);
  for (int k = 0; k < 3; k++)
    ratio[k] = channel_mean (warm, k, 0, SIZE) / channel_mean (plain, k, 0, SIZE);
  g_test_message ("channel means, warm / white: %.3f %.3f %.3f", ratio[0], ratio[1], ratio[2]);
  /* red saturates in the lightest parts, so it gains a little less */
  g_assert_cmpfloat (ratio[0], >, 1.08);
  g_assert_cmpfloat (ratio[0], <, 1.21);
  g_assert_cmpfloat (fabs (ratio[1] - 1.0), <, 0.01);
  g_assert_cmpfloat (fabs (ratio[2] - 0.6), <, 0.02);
}

/* A fixed side light: the side it comes from is brighter, and turning it
 * round turns the difference round. */
static void
test_light_direction (void)
{
  g_autoptr (FacetSynthSubject) s = facet_synth_subject_new (6);
  double balance[2];

  for (int side = 0; side < 2; side++)
    {
      FacetSynthCondition c;
      g_autoptr (FacetImage) im = NULL;
      double left = 0.0, right = 0.0;

      facet_synth_condition_init (&c);
      c.light_strength = 0.6f;
      c.light_angle = side == 0 ? 0.0f : (float) G_PI; /* from the right, from the left */
      im = frame_with (s, &c, 5, NULL);
      for (int k = 0; k < 3; k++)
        {
          left += channel_mean (im, k, 0, SIZE / 2);
          right += channel_mean (im, k, SIZE / 2, SIZE);
        }
      balance[side] = right / left;
    }
  g_test_message ("right / left brightness: light from the right %.3f, from the left %.3f",
                  balance[0], balance[1]);
  g_assert_cmpfloat (balance[0], >, 1.2);
  g_assert_cmpfloat (balance[1], <, 1.0 / 1.2);
}

/* Twice the camera distance: what an AU changes covers a quarter of the
 * pixels, around the same place. */
static void
test_distance (void)
{
  static const float open_mouth[FACET_SYNTH_N_AUS] = { [8] = 1.0f, [9] = 1.0f };
  static const float neutral[FACET_SYNTH_N_AUS] = { 0 };
  g_autoptr (FacetSynthSubject) s = facet_synth_subject_new (2);
  double area[2];

  for (int far = 0; far < 2; far++)
    {
      FacetSynthCondition c;
      g_autoptr (FacetImage) a = NULL;
      g_autoptr (FacetImage) b = NULL;
      double cx, cy;

      facet_synth_condition_init (&c);
      c.distance = far ? 2.0f : 1.0f;
      c.pose_range = 0.0f; /* a still head: the same place in both */
      a = frame_with (s, &c, 0, neutral);
      b = frame_with (s, &c, 0, open_mouth);
      area[far] = diff_centroid (a, b, &cx, &cy);
    }
  g_test_message ("pixels changed by AU25+26: near %.0f, twice as far %.0f", area[0], area[1]);
  g_assert_cmpfloat (area[1] / area[0], >, 0.15);
  g_assert_cmpfloat (area[1] / area[0], <, 0.4);
}

/* The camera to one side moves what AU9 changes (the nose) to that side of
 * the frontal place; above or below moves it vertically. */
static void
test_camera_angle (void)
{
  static const float nose[FACET_SYNTH_N_AUS] = { [4] = 1.0f };
  static const float neutral[FACET_SYNTH_N_AUS] = { 0 };
  g_autoptr (FacetSynthSubject) s = facet_synth_subject_new (3);
  double x[3], y[3];
  const float angle[3][2] = { { 0.0f, 0.0f }, { 0.5f, 0.0f }, { 0.0f, 0.35f } };

  for (int i = 0; i < 3; i++)
    {
      FacetSynthCondition c;
      g_autoptr (FacetImage) a = NULL;
      g_autoptr (FacetImage) b = NULL;

      facet_synth_condition_init (&c);
      c.pose_range = 0.0f;
      c.camera_yaw = angle[i][0];
      c.camera_pitch = angle[i][1];
      a = frame_with (s, &c, 0, neutral);
      b = frame_with (s, &c, 0, nose);
      g_assert_cmpint (diff_centroid (a, b, &x[i], &y[i]), >, 20);
    }
  g_test_message ("AU9 centroid: frontal (%.1f, %.1f), camera yaw (%.1f, %.1f), pitch (%.1f, %.1f)",
                  x[0], y[0], x[1], y[1], x[2], y[2]);
  g_assert_cmpfloat (fabs (x[1] - x[0]), >, 2.0);
  g_assert_cmpfloat (fabs (y[1] - y[0]), <, fabs (x[1] - x[0]) / 2);
  g_assert_cmpfloat (fabs (y[2] - y[0]), >, 1.5);
  g_assert_cmpfloat (fabs (x[2] - x[0]), <, fabs (y[2] - y[0]) / 2);
}

/* The head's motion scales with the pose range; 0 holds it still. */
static void
test_pose_range (void)
{
  g_autoptr (FacetSynthSubject) s = facet_synth_subject_new (8);
  g_autoptr (FacetSynthTimeline) plain = facet_synth_timeline_new (s, 11, 200, 10.0);
  g_autoptr (FacetSynthTimeline) wide = facet_synth_timeline_new (s, 11, 200, 10.0);
  g_autoptr (FacetSynthTimeline) still = facet_synth_timeline_new (s, 11, 200, 10.0);
  FacetSynthCondition c;
  double spread[3] = { 0 };

  facet_synth_condition_init (&c);
  c.pose_range = 2.5f;
  facet_synth_timeline_set_condition (wide, &c);
  c.pose_range = 0.0f;
  facet_synth_timeline_set_condition (still, &c);
  for (gint64 f = 0; f < 200; f++)
    {
      FacetSynthTimeline *tl[3] = { plain, wide, still };
      for (int i = 0; i < 3; i++)
        {
          FacetSynthPose p;
          facet_synth_timeline_get (tl[i], f, NULL, &p);
          spread[i] += fabs (p.yaw) + fabs (p.pitch) + fabs (p.roll);
        }
    }
  g_test_message ("mean |yaw|+|pitch|+|roll|: default %.4f, x2.5 %.4f, x0 %.4f", spread[0] / 200,
                  spread[1] / 200, spread[2] / 200);
  g_assert_cmpfloat (spread[0], >, 0.0);
  g_assert_cmpfloat (fabs (spread[1] / spread[0] - 2.5), <, 0.01);
  g_assert_cmpfloat (spread[2], ==, 0.0);
}

/* Blur takes the edges away, more with a larger sigma. */
static void
test_blur (void)
{
  g_autoptr (FacetSynthSubject) s = facet_synth_subject_new (9);
  double energy[3];
  const float sigma[3] = { 0.0f, 1.0f, 3.0f };

  for (int i = 0; i < 3; i++)
    {
      FacetSynthCondition c;
      g_autoptr (FacetImage) im = NULL;

      facet_synth_condition_init (&c);
      c.blur = sigma[i];
      im = frame_with (s, &c, 3, NULL);
      energy[i] = edge_energy (im);
    }
  g_test_message ("edge energy: sharp %.0f, blur 1 px %.0f, blur 3 px %.0f", energy[0], energy[1],
                  energy[2]);
  g_assert_cmpfloat (energy[1], <, 0.9 * energy[0]);
  g_assert_cmpfloat (energy[2], <, 0.85 * energy[1]);
}

/* Mean absolute difference between a video's decoded frames and the drawn ones. */
static double
codec_error (const FacetSynthSubject  *s,
             const FacetSynthTimeline *tl,
             const char               *path,
             gint64                   *bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  double sum = 0.0;
  gint64 n = facet_synth_timeline_get_n_frames (tl);
  GStatBuf st;

  g_assert_true (facet_synth_write_video (s, tl, path, 96, "h264", NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  *bytes = st.st_size;
  source = facet_media_source_open (path, 0.0, &error);
  g_assert_no_error (error);
  for (gint64 f = 0; f < n; f++)
    {
      g_autoptr (FacetImage) got = facet_media_source_get_frame (source, f, &error);
      g_autoptr (FacetImage) drawn = NULL;
      float au[FACET_SYNTH_N_AUS];
      FacetSynthPose pose;

      g_assert_no_error (error);
      facet_synth_timeline_get (tl, f, au, &pose);
      drawn = facet_synth_render (s, au, &pose, 96);
      for (int y = 0; y < 96; y++)
        for (int x = 0; x < 3 * 96; x++)
          sum += abs (got->data[(gsize) y * got->stride + x] - drawn->data[(gsize) y * drawn->stride + x]);
    }
  return sum / (n * 96.0 * 96.0 * 3.0);
}

/* Stronger compression: a smaller file, decoded frames further from the drawing. */
static void
test_quality (void)
{
  g_autoptr (FacetSynthSubject) s = facet_synth_subject_new (10);
  g_autoptr (FacetSynthTimeline) plain = facet_synth_timeline_new (s, 1, 10, 10.0);
  g_autoptr (FacetSynthTimeline) coarse = facet_synth_timeline_new (s, 1, 10, 10.0);
  g_autofree char *dir = g_dir_make_tmp ("facet-synth-condition-XXXXXX", NULL);
  g_autofree char *p1 = g_build_filename (dir, "plain.mkv", NULL);
  g_autofree char *p2 = g_build_filename (dir, "coarse.mkv", NULL);
  g_autofree char *l1 = facet_synth_labels_path (p1), *l2 = facet_synth_labels_path (p2);
  g_autofree char *r1 = facet_synth_regions_path (p1), *r2 = facet_synth_regions_path (p2);
  FacetSynthCondition c;
  gint64 b1, b2;
  double e1, e2;

  facet_synth_condition_init (&c);
  c.quality = 42;
  facet_synth_timeline_set_condition (coarse, &c);
  e1 = codec_error (s, plain, p1, &b1);
  e2 = codec_error (s, coarse, p2, &b2);
  g_test_message ("h264 CRF 18: %" G_GINT64_FORMAT " bytes, error %.2f; CRF 42: %" G_GINT64_FORMAT
                  " bytes, error %.2f", b1, e1, b2, e2);
  g_assert_cmpint (b2, <, b1 / 2);
  g_assert_cmpfloat (e2, >, 1.5 * e1);
  for (const char *const *p = (const char *const[]) { p1, p2, l1, l2, r1, r2, NULL }; *p; p++)
    g_unlink (*p);
  g_rmdir (dir);
}

/* The other population: wider faces, and glasses and beards far more
 * often than in the default one, over the same seeds. */
static void
test_population (void)
{
  int extras[2] = { 0 };
  double width[2] = { 0 };

  for (int pop = 0; pop < 2; pop++)
    for (guint64 seed = 1; seed <= 100; seed++)
      {
        g_autoptr (FacetSynthSubject) s = facet_synth_subject_new_in (seed, pop);
        g_autofree char *what = facet_synth_subject_describe (s);
        float boxes[FACET_SYNTH_N_REGION_BOXES][4];
        int n = facet_synth_region_boxes (s, NULL, FACET_SYNTH_REGION_CHEEKS, boxes, NULL);

        g_assert_cmpint (n, ==, 2);
        /* outer edges of the two cheeks */
        width[pop] += MAX (boxes[0][2], boxes[1][2]) - MIN (boxes[0][0], boxes[1][0]);
        extras[pop] += (strstr (what, "glasses") != NULL) + (strstr (what, "beard") != NULL
                                                             || strstr (what, "moustache") != NULL
                                                             || strstr (what, "stubble") != NULL);
      }
  g_test_message ("100 identities: mean cheek span %.3f vs %.3f, glasses+beards %d vs %d",
                  width[0] / 100, width[1] / 100, extras[0], extras[1]);
  g_assert_cmpfloat (width[1], >, 1.05 * width[0]);
  /* expected 0.55 per identity against 0.85 */
  g_assert_cmpint (extras[1], >, extras[0] + 15);
}

static void
test_check (void)
{
  FacetSynthCondition c;
  g_autoptr (GError) error = NULL;

  facet_synth_condition_init (&c);
  c.distance = 9.0f;
  g_assert_false (facet_synth_condition_check (&c, &error));
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_assert_nonnull (strstr (error->message, "distance"));
  g_clear_error (&error);
  facet_synth_condition_init (&c);
  c.light_colour[1] = NAN;
  g_assert_false (facet_synth_condition_check (&c, &error));
  g_assert_nonnull (strstr (error->message, "light colour"));
  g_clear_error (&error);
  facet_synth_condition_init (&c);
  c.blur = -1.0f;
  g_assert_false (facet_synth_condition_check (&c, &error));
  g_assert_nonnull (strstr (error->message, "blur"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/synth-condition/defaults-unchanged", test_defaults_unchanged);
  g_test_add_func ("/synth-condition/light-colour", test_light_colour);
  g_test_add_func ("/synth-condition/light-direction", test_light_direction);
  g_test_add_func ("/synth-condition/distance", test_distance);
  g_test_add_func ("/synth-condition/camera-angle", test_camera_angle);
  g_test_add_func ("/synth-condition/pose-range", test_pose_range);
  g_test_add_func ("/synth-condition/blur", test_blur);
  g_test_add_func ("/synth-condition/quality", test_quality);
  g_test_add_func ("/synth-condition/population", test_population);
  g_test_add_func ("/synth-condition/check", test_check);
  return g_test_run ();
}
