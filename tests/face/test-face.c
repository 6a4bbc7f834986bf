/* test-face.c — detection, landmarks, crops, tracking and smoothing on a
 * real photograph (data/sample/astronaut.png) with dlib's real models.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "engine/engine-config.h"
#include "face/face-cnn.h"
#include "face/facet-face.h"
#include "media/media-synth.h"

static FacetFaceDetector *detector; /* loaded once: the landmark model takes 0.7 s */

static FacetImage *
load_astronaut (void)
{
  const char *dir = g_getenv ("FACET_TESTDATA");
  g_autofree char *path = g_build_filename (dir ? dir : ".", "astronaut.png", NULL);
  g_autoptr (GError) error = NULL;
  FacetImage *image = facet_image_load (path, &error);

  g_assert_no_error (error);
  return image;
}

/* Rotates @image by @degrees about its centre (clockwise on screen, since y
 * points down) and scales it by @scale. @forward gets the image -> result
 * point mapping for checking where landmarks should move. */
static FacetImage *
rotate_scale (const FacetImage *image,
              double            degrees,
              double            scale,
              double            forward[6])
{
  double r = degrees * G_PI / 180.0, cx = (image->width - 1) / 2.0, cy = (image->height - 1) / 2.0;
  double c = cos (r), s = sin (r);
  /* result (u, v) shows the source at R^-1 (u - centre) + centre */
  double back[6] = { c, s, cx - c * cx - s * cy, -s, c, cy + s * cx - c * cy };
  g_autoptr (FacetImage) rotated = facet_face_warp (image, back, image->width, image->height);
  int w = (int) lround (image->width * scale), h = (int) lround (image->height * scale);
  double fx = (double) w / image->width, fy = (double) h / image->height;

  /* rotated point q = R (p - centre) + centre, then the resize maps x to
   * (x + 0.5) * f - 0.5 */
  forward[0] = c * fx;
  forward[1] = -s * fx;
  forward[2] = (cx - c * cx + s * cy + 0.5) * fx - 0.5;
  forward[3] = s * fy;
  forward[4] = c * fy;
  forward[5] = (cy - s * cx - c * cy + 0.5) * fy - 0.5;
  if (w == image->width && h == image->height)
    return g_steal_pointer (&rotated);
  return facet_image_resize (rotated, w, h);
}

static void
apply (const double t[6],
       double       x,
       double       y,
       double      *ox,
       double      *oy)
{
  *ox = t[0] * x + t[1] * y + t[2];
  *oy = t[3] * x + t[4] * y + t[5];
}

static GArray *
detect (const FacetImage *image)
{
  g_autoptr (GError) error = NULL;
  GArray *faces = facet_face_detector_detect (detector, image, &error);

  g_assert_no_error (error);
  g_assert_nonnull (faces);
  return faces;
}

/* Eyes above nose above mouth, the eyes side by side at a plausible
 * distance for a face of this box. */
static void
assert_face_anatomy (const FacetFace *f)
{
  float p[10];
  double iod, mouth_y;

  facet_face_alignment_points (f, p);
  iod = hypot (p[2] - p[0], p[3] - p[1]);
  mouth_y = (p[7] + p[9]) / 2.0;
  g_assert_cmpfloat (p[0], <, p[2]);
  g_assert_cmpfloat (MAX (p[1], p[3]), <, p[5]);
  g_assert_cmpfloat (p[5], <, mouth_y);
  /* in adults the eye centres are about 0.4-0.6 of a dlib box apart */
  g_assert_cmpfloat (iod, >, 0.35 * f->width);
  g_assert_cmpfloat (iod, <, 0.7 * f->width);
  for (int i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    {
      g_assert_cmpfloat (f->landmarks[2 * i], >, f->x - 0.3f * f->width);
      g_assert_cmpfloat (f->landmarks[2 * i], <, f->x + 1.3f * f->width);
      g_assert_cmpfloat (f->landmarks[2 * i + 1], >, f->y - 0.3f * f->height);
      g_assert_cmpfloat (f->landmarks[2 * i + 1], <, f->y + 1.4f * f->height);
    }
}

static void
test_detect_astronaut (void)
{
  g_autoptr (FacetImage) image = load_astronaut ();
  g_autoptr (GArray) faces = detect (image);
  const FacetFace *f;
  float p[10];

  g_assert_cmpuint (faces->len, ==, 1);
  f = &g_array_index (faces, FacetFace, 0);
  g_test_message ("box (%.0f,%.0f)-(%.0f,%.0f) score %.2f", f->x, f->y, f->x + f->width - 1,
                  f->y + f->height - 1, f->score);
  g_assert_cmpfloat (fabs (f->x - 179), <=, 6);
  g_assert_cmpfloat (fabs (f->y - 83), <=, 6);
  g_assert_cmpfloat (fabs (f->x + f->width - 1 - 266), <=, 6);
  g_assert_cmpfloat (fabs (f->y + f->height - 1 - 170), <=, 6);
  g_assert_cmpfloat (f->score, >, 0.0f);
  assert_face_anatomy (f);

  /* where the eyes, nose and mouth of this photograph are */
  facet_face_alignment_points (f, p);
  g_test_message ("eyes (%.1f,%.1f) (%.1f,%.1f) nose (%.0f,%.0f) mouth (%.0f,%.0f) (%.0f,%.0f)",
                  p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9]);
  g_assert_cmpfloat (hypot (p[0] - 203, p[1] - 102), <, 5);
  g_assert_cmpfloat (hypot (p[2] - 247, p[3] - 104), <, 5);
  g_assert_cmpfloat (hypot (p[4] - 225, p[5] - 127), <, 5);
}

/* Rotated by 10 degrees and halved: still one face, and box and landmarks
 * where the geometry puts them. */
static void
check_transformed (double degrees,
                   double scale,
                   double max_mean_error)
{
  g_autoptr (FacetImage) image = load_astronaut ();
  g_autoptr (GArray) original = detect (image);
  double forward[6], error_sum = 0.0, bx, by;
  g_autoptr (FacetImage) moved = rotate_scale (image, degrees, scale, forward);
  g_autoptr (GArray) faces = detect (moved);
  const FacetFace *o = &g_array_index (original, FacetFace, 0), *f;

  for (guint i = 0; i < faces->len; i++)
    {
      f = &g_array_index (faces, FacetFace, i);
      g_test_message ("face %u: %.0f,%.0f %.0fx%.0f score %.2f", i, f->x, f->y, f->width,
                      f->height, f->score);
    }

  g_assert_cmpuint (faces->len, ==, 1);
  f = &g_array_index (faces, FacetFace, 0);
  assert_face_anatomy (f);

  for (int i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    {
      double x, y;
      apply (forward, o->landmarks[2 * i], o->landmarks[2 * i + 1], &x, &y);
      error_sum += hypot (x - f->landmarks[2 * i], y - f->landmarks[2 * i + 1]);
    }
  g_test_message ("rotated %.0f deg, scale %.2f: box %.0fx%.0f, mean landmark error %.2f px",
                  degrees, scale, f->width, f->height, error_sum / FACET_FACE_N_LANDMARKS);
  g_assert_cmpfloat (error_sum / FACET_FACE_N_LANDMARKS, <, max_mean_error);

  apply (forward, o->x + o->width / 2.0, o->y + o->height / 2.0, &bx, &by);
  g_assert_cmpfloat (hypot (bx - (f->x + f->width / 2.0), by - (f->y + f->height / 2.0)), <,
                     0.15 * f->width);
  g_assert_cmpfloat (f->width, >, 0.75 * scale * o->width);
  g_assert_cmpfloat (f->width, <, 1.3 * scale * o->width);
}

static void
test_detect_rotated (void)
{
  check_transformed (10.0, 1.0, 3.0);
}

static void
test_detect_rotated_scaled (void)
{
  check_transformed (10.0, 0.5, 2.0);
}

static void
test_detect_none (void)
{
  g_autoptr (FacetImage) blank = facet_image_new (320, 240);
  g_autoptr (FacetImage) noise = facet_image_new (320, 240);
  g_autoptr (GArray) in_blank = NULL;
  g_autoptr (GArray) in_noise = NULL;
  FacetRng rng;

  memset (blank->data, 128, (gsize) blank->stride * blank->height);
  facet_rng_init (&rng, 7);
  for (gsize i = 0; i < (gsize) noise->stride * noise->height; i++)
    noise->data[i] = (guint8) facet_rng_below (&rng, 256);

  in_blank = detect (blank);
  in_noise = detect (noise);
  g_assert_cmpuint (in_blank->len, ==, 0);
  g_assert_cmpuint (in_noise->len, ==, 0);
}

/* Frames of `facet-cli synth --subject 11 --seed 12` (dark skin, frontal,
 * well lit) in which @d finds a face at the drawn face's place. */
static int
count_dark_skin_found (FacetFaceDetector *d,
                       int                n_frames)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (11);
  g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, 12, 300, 30.0);
  int found = 0;

  g_assert_cmpfloat (facet_synth_subject_get_skin_tone (subject), >, 0.7);
  for (int k = 0; k < n_frames; k++)
    {
      float au[FACET_SYNTH_N_AUS];
      FacetSynthPose pose;
      g_autoptr (FacetImage) frame = NULL;
      g_autoptr (GArray) faces = NULL;
      g_autoptr (GError) error = NULL;

      facet_synth_timeline_get (timeline, (gint64) k * 300 / n_frames, au, &pose);
      frame = facet_synth_render (subject, au, &pose, 224);
      faces = facet_face_detector_detect (d, frame, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < faces->len; i++)
        {
          const FacetFace *f = &g_array_index (faces, FacetFace, i);
          double cx = f->x + f->width / 2.0 - 224 * (0.5 + pose.dx);
          double cy = f->y + f->height / 2.0 - 224 * (0.55 + pose.dy);

          if (hypot (cx, cy) < 0.2 * 224)
            {
              assert_face_anatomy (f);
              found++;
              break;
            }
        }
    }
  return found;
}

/* The detector finds darker skin: dlib's HOG alone, at the threshold Facet
 * used before, finds this person in none of these 20 frames (the issue saw
 * 1 of 20 in the encoded video); with the second look, 18 (measured); with
 * the CNN detector where both find nothing, all 20, each with landmarks
 * where a face's belong (the target: >= 98 % of frontal frames). */
static void
test_detect_dark_skin (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceDetector) plain = facet_face_detector_new (NULL, &error);
  int found, before, hog;

  g_assert_no_error (error);
  if (!facet_face_detector_has_cnn (detector))
    {
      g_test_fail_printf ("the CNN face detector is not installed (build-aux/install-deps.sh)");
      return;
    }
  facet_face_detector_set_normalise (plain, FALSE);
  facet_face_detector_set_cnn (plain, FALSE);
  before = count_dark_skin_found (plain, 20);
  facet_face_detector_set_normalise (plain, TRUE);
  hog = count_dark_skin_found (plain, 20);
  found = count_dark_skin_found (detector, 20);
  g_test_message ("dark skin: found in %d of 20 frames (dlib HOG alone: %d, with the second "
                  "look: %d)", found, before, hog);
  g_assert_cmpint (before, <=, 5);
  g_assert_cmpint (hog, >=, 16);
  g_assert_cmpint (found, ==, 20);
}

/* A tfjs manifest for the tiny face detector's tensors (float32, or uint8
 * with @quantised), @drop left out and @bad given a wrong shape; @n_bytes
 * gets the size of the weights it describes. */
static char *
make_manifest (const char *drop,
               const char *bad,
               gboolean    quantised,
               gsize      *n_bytes)
{
  GString *json = g_string_new ("[{\"paths\": [\"w.bin\"], \"weights\": [");
  int c = 16;

  *n_bytes = 0;
  for (int layer = 0; layer <= 8; layer++)
    {
      const char *kinds[3] = { NULL, NULL, NULL };
      int shapes[3][4] = { { 0 } };

      if (layer == 6 || layer == 7)
        continue;
      if (layer == 0 || layer == 8)
        {
          int cin = layer == 0 ? 3 : 512, cout = layer == 0 ? 16 : 25, k = layer == 0 ? 3 : 1;
          kinds[0] = "filters", kinds[1] = "bias";
          memcpy (shapes[0], (int[4]) { k, k, cin, cout }, sizeof shapes[0]);
          memcpy (shapes[1], (int[4]) { cout, 0, 0, 0 }, sizeof shapes[1]);
        }
      else
        {
          kinds[0] = "depthwise_filter", kinds[1] = "pointwise_filter", kinds[2] = "bias";
          memcpy (shapes[0], (int[4]) { 3, 3, c, 1 }, sizeof shapes[0]);
          memcpy (shapes[1], (int[4]) { 1, 1, c, 2 * c }, sizeof shapes[1]);
          memcpy (shapes[2], (int[4]) { 2 * c, 0, 0, 0 }, sizeof shapes[2]);
          c *= 2;
        }
      for (int k = 0; k < 3 && kinds[k] != NULL; k++)
        {
          g_autofree char *name = g_strdup_printf ("conv%d/%s", layer, kinds[k]);
          gsize n = 1;

          if (g_strcmp0 (name, drop) == 0)
            continue;
          if (g_strcmp0 (name, bad) == 0)
            shapes[k][0]++;
          g_string_append_printf (json, "%s{\"name\": \"%s\", \"shape\": [",
                                  json->str[json->len - 1] == '[' ? "" : ", ", name);
          for (int d = 0; d < 4 && shapes[k][d] > 0; d++)
            {
              g_string_append_printf (json, "%s%d", d ? ", " : "", shapes[k][d]);
              n *= (gsize) shapes[k][d];
            }
          g_string_append (json, "], \"dtype\": \"float32\"");
          if (quantised)
            g_string_append (json, ", \"quantization\": {\"dtype\": \"uint8\", "
                                   "\"scale\": 0.01, \"min\": -1.0}");
          g_string_append (json, "}");
          *n_bytes += quantised ? n : 4 * n;
        }
    }
  g_string_append (json, "]}]");
  return g_string_free (json, FALSE);
}

static void
assert_cnn_error (const char   *manifest,
                  const guint8 *weights,
                  gsize         n,
                  const char   *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceCnn) cnn
    = facet_face_cnn_new_from_data (manifest, strlen (manifest), weights, n, "test.json", &error);

  g_assert_null (cnn);
  g_assert_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "test.json"));
  g_assert_nonnull (strstr (error->message, words));
}

/* The CNN's manifest and weights: a complete one loads (float32 and uint8),
 * and each defect is a FACET_FACE_ERROR_MODEL naming the file and key. */
static void
test_cnn_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("facet-cnn-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "m.json", NULL);
  g_autofree char *bin = g_build_filename (dir, "w.bin", NULL);
  g_autofree char *good = NULL, *quant = NULL, *missing = NULL, *misshapen = NULL;
  g_autofree guint8 *weights = NULL;
  g_autoptr (FacetFaceCnn) cnn = NULL;
  g_autoptr (FacetImage) image = facet_image_new (100, 60);
  g_autofree float *out = NULL;
  gsize n, nq, n2;
  int cells;

  good = make_manifest (NULL, NULL, FALSE, &n);
  quant = make_manifest (NULL, NULL, TRUE, &nq);
  missing = make_manifest ("conv3/bias", NULL, FALSE, &n2);
  misshapen = make_manifest (NULL, "conv5/pointwise_filter", FALSE, &n2);
  weights = g_malloc0 (n + 8);
  memset (weights, 0, n);

  cnn = facet_face_cnn_new_from_data (good, strlen (good), weights, n, "test.json", &error);
  g_assert_no_error (error);
  /* zero weights: every output is 0 */
  out = facet_face_cnn_forward (cnn, image, 128, &cells);
  g_assert_cmpint (cells, ==, 4);
  for (int i = 0; i < cells * cells * FACET_FACE_CNN_OUT_CHANNELS; i++)
    g_assert_cmpfloat (out[i], ==, 0.0f);
  g_clear_pointer (&cnn, facet_face_cnn_free);
  cnn = facet_face_cnn_new_from_data (quant, strlen (quant), weights, nq, "test.json", &error);
  g_assert_no_error (error);

  assert_cnn_error (good, weights, n - 1, "truncated");
  assert_cnn_error (good, weights, n + 8, "the manifest describes");
  assert_cnn_error (missing, weights, n2, "no weight named conv3/bias");
  assert_cnn_error (misshapen, weights, n, "conv5/pointwise_filter has shape");
  assert_cnn_error ("[{\"weights\": [", weights, n, "not JSON");
  assert_cnn_error ("{\"weights\": []}", weights, n, "not a tfjs weights manifest");
  assert_cnn_error ("[{\"weights\": [{\"name\": \"conv0/bias\", \"shape\": [16], "
                    "\"dtype\": \"int32\"}]}]", weights, n, "conv0/bias has dtype");
  assert_cnn_error ("[{\"weights\": [{\"name\": \"conv0/bias\", \"shape\": [-16]}]}]",
                    weights, n, "conv0/bias: the shape");
  assert_cnn_error ("[{\"weights\": [{\"name\": {\"a\": 1}, \"shape\": [16]}]}]", weights, n,
                    "a weight entry without a name");

  /* From files: a missing manifest, a missing and a short weight file. */
  g_assert_null (facet_face_cnn_load (path, &error));
  g_assert_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, good, -1, NULL));
  g_assert_null (facet_face_cnn_load (path, &error));
  g_assert_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, bin));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (bin, (const char *) weights, (gssize) n / 2, NULL));
  g_assert_null (facet_face_cnn_load (path, &error));
  g_assert_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "truncated"));
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (bin, (const char *) weights, (gssize) n, NULL));
  g_clear_pointer (&cnn, facet_face_cnn_free);
  cnn = facet_face_cnn_load (path, &error);
  g_assert_no_error (error);

  g_unlink (path);
  g_unlink (bin);
  g_rmdir (dir);
}

/* The tracker keeps a faint face where the person was a frame before: 2 s
 * of the dark-skinned subject at 15 fps, then the person steps out of the
 * frame, which must end the following at once. */
static void
test_tracker_faint_face (void)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (11);
  g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, 12, 300, 30.0);
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetFaceTracker) tracker = NULL;
  g_autoptr (FacetImage) gone = NULL;
  g_autoptr (FacetImage) crop = NULL;
  FacetFaceResult result;
  FacetSynthPose pose;
  int by_detector = 0, by_tracker = 0;

  config->crop = FACET_CROP_NONE;
  /* HOG + second look, as where the CNN is not installed: with the CNN the
   * detector alone finds all 30 frames and leaves nothing to rescue. */
  facet_face_detector_set_cnn (detector, FALSE);
  tracker = facet_face_tracker_new (detector, facet_model_config_crop (config));
  for (gint64 f = 0; f < 60; f += 2)
    {
      float au[FACET_SYNTH_N_AUS];
      g_autoptr (FacetImage) frame = NULL;
      g_autoptr (FacetImage) tracked = NULL;
      g_autoptr (GArray) faces = NULL;
      g_autoptr (GError) error = NULL;

      facet_synth_timeline_get (timeline, f, au, &pose);
      frame = facet_synth_render (subject, au, &pose, 224);
      faces = detect (frame);
      by_detector += faces->len > 0;
      tracked = facet_face_tracker_process (tracker, frame, &result, &error);
      g_assert_no_error (error);
      if (result.status == FACET_FACE_STATUS_FOUND)
        {
          by_tracker++;
          assert_face_anatomy (&result.face);
        }
    }
  g_test_message ("dark skin, 30 frames: the tracker found %d, the detector alone %d",
                  by_tracker, by_detector);
  g_assert_cmpint (by_tracker, >=, by_detector);
  g_assert_cmpint (by_tracker, >=, 28);

  /* the person steps out: no face, although one was followed */
  pose.dx = 0.95f;
  gone = facet_synth_render (subject, NULL, &pose, 224);
  crop = facet_face_tracker_process (tracker, gone, &result, NULL);
  g_assert_null (crop);
  g_assert_cmpint (result.status, ==, FACET_FACE_STATUS_NONE);
  facet_face_detector_set_cnn (detector, TRUE);
}

static void
test_bad_model (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("facet-face-XXXXXX", NULL);
  g_autofree char *damaged = g_build_filename (dir, "landmarks.dat", NULL);
  FacetFaceDetector *d;

  d = facet_face_detector_new ("/nonexistent/shape_predictor.dat", &error);
  g_assert_null (d);
  g_assert_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "/nonexistent/shape_predictor.dat"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (damaged, "not a dlib model, just some bytes", -1, NULL));
  d = facet_face_detector_new (damaged, &error);
  g_assert_null (d);
  g_assert_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, damaged));
  g_clear_error (&error);

  g_assert_null (facet_face_detector_detect (detector, NULL, &error));
  g_assert_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID);

  g_unlink (damaged);
  g_rmdir (dir);
}

/* A box crop is the squared, enlarged box, pixel for pixel when no
 * resizing is involved. */
static void
test_crop_box (void)
{
  g_autoptr (FacetImage) image = facet_image_new (300, 200);
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetImage) crop = NULL;
  FacetFace face = { 0 };
  double t[6], x, y;

  for (int yy = 0; yy < image->height; yy++)
    for (int xx = 0; xx < image->width; xx++)
      {
        guint8 *p = image->data + (gsize) yy * image->stride + 3 * xx;
        p[0] = (guint8) xx;
        p[1] = (guint8) yy;
        p[2] = (guint8) ((xx / 10 + yy / 10) % 2 * 200 + 20);
      }

  /* 100 x 80 box, 10 % margin: a 120 px square around the box centre */
  config->image_size = 120;
  config->crop = FACET_CROP_BOX;
  config->crop_margin = 0.1f;
  face.x = 100;
  face.y = 60;
  face.width = 100;
  face.height = 80;
  crop = facet_face_crop (image, &face, facet_model_config_crop (config), t);
  g_assert_cmpint (crop->width, ==, 120);
  g_assert_cmpint (crop->height, ==, 120);
  g_assert_cmpfloat (fabs (t[0] - 1.0), <, 1e-9);
  g_assert_cmpfloat (fabs (t[4] - 1.0), <, 1e-9);
  g_assert_cmpfloat (fabs (t[1]) + fabs (t[3]), <, 1e-9);
  g_assert_cmpfloat (fabs (t[2] - 90.0), <, 1e-9); /* centre 150 - 60 */
  g_assert_cmpfloat (fabs (t[5] - 40.0), <, 1e-9); /* centre 100 - 60 */
  for (int v = 0; v < crop->height; v += 7)
    for (int u = 0; u < crop->width; u += 5)
      {
        int sx = u + 90, sy = v + 40;
        g_assert_cmpmem (crop->data + (gsize) v * crop->stride + 3 * u, 3,
                         image->data + (gsize) sy * image->stride + 3 * sx, 3);
      }

  /* Resized: the crop centre shows the box centre; a box over the image's
   * edge gives black outside, not stretched pixels. */
  g_clear_pointer (&crop, facet_image_unref);
  config->image_size = 224;
  config->crop_margin = 0.05f;
  face.x = -20;
  face.y = 20;
  face.width = 80;
  face.height = 80;
  crop = facet_face_crop (image, &face, facet_model_config_crop (config), t);
  g_assert_cmpint (crop->width, ==, 224);
  /* 88 px square from (-24, 16); its centre pixel is the box's (19.5, 59.5) */
  apply (t, 111.5, 111.5, &x, &y);
  g_assert_cmpfloat (fabs (x - 19.5), <, 1e-9);
  g_assert_cmpfloat (fabs (y - 59.5), <, 1e-9);
  g_assert_cmpfloat (fabs (t[0] - 88.0 / 224.0), <, 1e-9);
  {
    const guint8 *corner = crop->data + 10 * (gsize) crop->stride + 3 * 5;
    g_assert_cmpint (corner[0] + corner[1] + corner[2], ==, 0);
  }
  /* a pixel inside: the gradient encodes its image position */
  {
    const guint8 *p = crop->data + 150 * (gsize) crop->stride + 3 * 180;
    apply (t, 180, 150, &x, &y);
    g_assert_cmpfloat (fabs (p[0] - x), <, 1.5);
    g_assert_cmpfloat (fabs (p[1] - y), <, 1.5);
  }

  /* none: the image is the crop */
  g_clear_pointer (&crop, facet_image_unref);
  config->crop = FACET_CROP_NONE;
  crop = facet_face_crop (image, NULL, facet_model_config_crop (config), t);
  g_assert_cmpint (crop->width, ==, 224);
  g_assert_cmpfloat (fabs (t[0] - 300.0 / 224.0), <, 1e-9);
  g_assert_cmpfloat (fabs (t[4] - 200.0 / 224.0), <, 1e-9);
}

static void
test_similarity (void)
{
  /* points moved by a known similarity come back exactly */
  const float src[10] = { 10, 20, 50, 22, 30, 40, 15, 60, 45, 61 };
  double truth[6]
    = { 0.8 * cos (0.3), -0.8 * sin (0.3), 12.5, 0.8 * sin (0.3), 0.8 * cos (0.3), -4 };
  float dst[10];
  double t[6], inv[6], back[6];

  for (int i = 0; i < 5; i++)
    {
      double x, y;
      apply (truth, src[2 * i], src[2 * i + 1], &x, &y);
      dst[2 * i] = (float) x;
      dst[2 * i + 1] = (float) y;
    }
  g_assert_true (facet_face_fit_similarity (src, dst, 5, t));
  for (int k = 0; k < 6; k++)
    g_assert_cmpfloat (fabs (t[k] - truth[k]), <, 1e-4);
  g_assert_true (facet_face_invert_affine (t, inv));
  g_assert_true (facet_face_invert_affine (inv, back));
  for (int k = 0; k < 6; k++)
    g_assert_cmpfloat (fabs (back[k] - t[k]), <, 1e-9);

  /* all points on one spot: no transform */
  {
    const float same[10] = { 5, 5, 5, 5, 5, 5, 5, 5, 5, 5 };
    g_assert_false (facet_face_fit_similarity (same, dst, 5, t));
  }
}

/* The eye centres found again in an aligned crop of the rotated photograph,
 * compared with where the template puts them. */
static void
eyes_in_crop (const FacetImage *crop,
              float             eyes[4])
{
  g_autoptr (GArray) faces = detect (crop);
  float p[10];

  g_assert_cmpuint (faces->len, ==, 1);
  facet_face_alignment_points (&g_array_index (faces, FacetFace, 0), p);
  memcpy (eyes, p, 4 * sizeof (float));
}

static void
test_crop_aligned (void)
{
  g_autoptr (FacetImage) image = load_astronaut ();
  g_autoptr (GArray) upright = detect (image);
  double forward[6], t[6];
  g_autoptr (FacetImage) rotated = rotate_scale (image, 10.0, 1.0, forward);
  g_autoptr (GArray) faces = detect (rotated);
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetImage) crop = NULL;
  const FacetFace *f;
  float p[10], up[10], eyes[4];
  double iod, worst = 0.0;
  const int size = 224;

  g_assert_cmpuint (faces->len, ==, 1);
  f = &g_array_index (faces, FacetFace, 0);
  config->crop = FACET_CROP_ALIGNED;
  config->image_size = size;

  /* 1. A template this face fits (its own upright proportions, placed as
   * the default template places a face): alignment must undo the rotation
   * and put the eyes on the template within 3 px. */
  facet_face_alignment_points (&g_array_index (upright, FacetFace, 0), up);
  iod = hypot (up[2] - up[0], up[3] - up[1]);
  for (int i = 0; i < 5; i++)
    {
      config->align_template[2 * i] = (float)(0.5 + (up[2 * i] - (up[0] + up[2]) / 2) * 0.33 / iod);
      config->align_template[2 * i + 1]
        = (float)(0.4 + (up[2 * i + 1] - (up[1] + up[3]) / 2) * 0.33 / iod);
    }
  crop = facet_face_crop (rotated, f, facet_model_config_crop (config), t);
  eyes_in_crop (crop, eyes);
  for (int e = 0; e < 2; e++)
    {
      double d = hypot (eyes[2 * e] - (config->align_template[2 * e] * size - 0.5),
                        eyes[2 * e + 1] - (config->align_template[2 * e + 1] * size - 0.5));
      worst = MAX (worst, d);
      g_assert_cmpfloat (d, <, 3.0);
    }
  g_test_message ("own-proportion template: eyes within %.2f px of the template", worst);
  g_assert_cmpfloat (fabs (atan2 (t[3], t[0]) * 180.0 / G_PI - 10.0), <, 2.0);

  /* The transform maps crop pixels onto the image: the template's eye
   * positions land on the rotated image's eye centres. */
  facet_face_alignment_points (f, p);
  for (int e = 0; e < 2; e++)
    {
      double x, y;
      apply (t, config->align_template[2 * e] * size - 0.5,
             config->align_template[2 * e + 1] * size - 0.5, &x, &y);
      g_assert_cmpfloat (hypot (x - p[2 * e], y - p[2 * e + 1]), <, 3.0 * t[0] + 1.0);
    }

  /* 2. The default template (a mean face, which the astronaut's shorter
   * eye-to-mouth distance does not match exactly): the eye-weighted fit
   * still puts the eyes on the template within 3 px, and level. */
  {
    g_autoptr (FacetModelConfig) plain = facet_model_config_new ();
    g_autoptr (FacetImage) crop2 = NULL;
    double inv[6], expect[4];

    plain->crop = FACET_CROP_ALIGNED;
    plain->image_size = size;
    crop2 = facet_face_crop (rotated, f, facet_model_config_crop (plain), t);
    g_assert_true (facet_face_invert_affine (t, inv));
    apply (inv, p[0], p[1], &expect[0], &expect[1]);
    apply (inv, p[2], p[3], &expect[2], &expect[3]);
    eyes_in_crop (crop2, eyes);
    worst = 0.0;
    for (int e = 0; e < 2; e++)
      {
        double to_template
          = hypot (eyes[2 * e] - (plain->align_template[2 * e] * size - 0.5),
                   eyes[2 * e + 1] - (plain->align_template[2 * e + 1] * size - 0.5));
        worst = MAX (worst, to_template);
        g_assert_cmpfloat (hypot (eyes[2 * e] - expect[2 * e], eyes[2 * e + 1] - expect[2 * e + 1]),
                           <, 3.0);
        g_assert_cmpfloat (to_template, <, 3.0);
      }
    g_assert_cmpfloat (fabs (eyes[1] - eyes[3]), <, 3.0);
    g_test_message ("default template: eyes within %.2f px of the template", worst);
  }
}

/* A canvas with two copies of the photograph's head, scaled @s_left and
 * @s_right, the left one shifted by @dx. */
static FacetImage *
two_people (const FacetImage *head,
            double            s_left,
            double            s_right,
            int               dx)
{
  FacetImage *canvas = facet_image_new (640, 320);
  const double scales[2] = { s_left, s_right };
  const int centres[2] = { 160 + dx, 480 };

  memset (canvas->data, 90, (gsize) canvas->stride * canvas->height);
  for (int k = 0; k < 2; k++)
    {
      int side = (int) lround (head->width * scales[k]);
      g_autoptr (FacetImage) copy = facet_image_resize (head, side, side);
      int x0 = centres[k] - side / 2, y0 = 160 - side / 2;

      for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
          if (x0 + x >= 0 && x0 + x < canvas->width && y0 + y >= 0 && y0 + y < canvas->height)
            memcpy (canvas->data + (gsize) (y0 + y) * canvas->stride + 3 * (gsize) (x0 + x),
                    copy->data + (gsize) y * copy->stride + 3 * (gsize) x, 3);
    }
  return canvas;
}

static void
test_tracker_two_people (void)
{
  g_autoptr (FacetImage) image = load_astronaut ();
  g_autoptr (FacetImage) head = facet_image_crop (image, 110, 20, 230, 230);
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetFaceTracker) tracker
      = facet_face_tracker_new (detector, facet_model_config_crop (config));
  g_autoptr (GError) error = NULL;
  FacetFaceResult result;

  /* The left person starts larger, then shrinks below the right one while
   * moving: the tracker must stay with them, not jump to the now-largest. */
  for (int k = 0; k < 6; k++)
    {
      double s_left = 1.15 - 0.07 * k, s_right = 0.85 + 0.05 * k;
      g_autoptr (FacetImage) frame = two_people (head, s_left, s_right, 6 * k);
      g_autoptr (FacetImage) crop = facet_face_tracker_process (tracker, frame, &result, &error);

      g_assert_no_error (error);
      g_assert_cmpint (result.status, ==, FACET_FACE_STATUS_FOUND);
      g_assert_nonnull (crop);
      g_assert_cmpint (crop->width, ==, config->image_size);
      g_assert_cmpfloat (result.face.x + result.face.width / 2, <, 320);
      g_assert_cmpfloat (result.quality, >, 0.0f);
      g_assert_cmpfloat (result.quality, <=, 1.0f);
    }

  /* Choosing the other person by a point on their face. */
  facet_face_tracker_select (tracker, 480, 160);
  for (int k = 0; k < 3; k++)
    {
      g_autoptr (FacetImage) frame = two_people (head, 1.1, 0.9, -4 * k);
      g_autoptr (FacetImage) crop = facet_face_tracker_process (tracker, frame, &result, &error);

      g_assert_no_error (error);
      g_assert_cmpint (result.status, ==, FACET_FACE_STATUS_FOUND);
      g_assert_cmpfloat (result.face.x + result.face.width / 2, >, 320);
    }
}

static void
test_tracker_no_face (void)
{
  g_autoptr (FacetImage) image = load_astronaut ();
  g_autoptr (FacetImage) blank = facet_image_new (320, 240);
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetFaceTracker) tracker
      = facet_face_tracker_new (detector, facet_model_config_crop (config));
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) crop = NULL;
  FacetFaceResult result;

  crop = facet_face_tracker_process (tracker, blank, &result, &error);
  g_assert_no_error (error);
  g_assert_null (crop);
  g_assert_cmpint (result.status, ==, FACET_FACE_STATUS_NONE);

  /* a real face, but below the minimum size asked for */
  facet_face_tracker_set_min_size (tracker, 120.0f);
  crop = facet_face_tracker_process (tracker, image, &result, &error);
  g_assert_no_error (error);
  g_assert_null (crop);
  g_assert_cmpint (result.status, ==, FACET_FACE_STATUS_TOO_SMALL);

  facet_face_tracker_set_min_size (tracker, 40.0f);
  crop = facet_face_tracker_process (tracker, image, &result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (crop);
  g_assert_cmpint (result.status, ==, FACET_FACE_STATUS_FOUND);
}

/* Real frames: the photograph jumps 24 px right; the tracked landmarks
 * follow the new detection within two frames. */
static void
test_tracker_follows_move (void)
{
  g_autoptr (FacetImage) image = load_astronaut ();
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetFaceTracker) tracker
      = facet_face_tracker_new (detector, facet_model_config_crop (config));
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) moved = facet_image_crop (image, -24, 0, image->width, image->height);
  g_autoptr (GArray) raw = detect (moved);
  const FacetFace *target = &g_array_index (raw, FacetFace, 0);
  FacetFaceResult result;
  double error_px = 0.0;

  for (int k = 0; k < 4; k++)
    {
      g_autoptr (FacetImage) crop = facet_face_tracker_process (tracker, image, &result, &error);
      g_assert_no_error (error);
    }
  for (int k = 0; k < 2; k++)
    {
      g_autoptr (FacetImage) crop = facet_face_tracker_process (tracker, moved, &result, &error);
      g_assert_no_error (error);
      g_assert_cmpint (result.status, ==, FACET_FACE_STATUS_FOUND);
    }
  for (int i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    error_px += hypot (result.face.landmarks[2 * i] - target->landmarks[2 * i],
                       result.face.landmarks[2 * i + 1] - target->landmarks[2 * i + 1]);
  error_px /= FACET_FACE_N_LANDMARKS;
  g_test_message ("two frames after a 24 px jump: %.2f px from the detection", error_px);
  g_assert_cmpfloat (error_px, <, 2.0);
}

/* A synthetic face: the 68 points on a plausible layout, 100 px wide. */
static void
make_face (FacetFace *face,
           double     dx,
           double     mouth_open)
{
  memset (face, 0, sizeof *face);
  face->x = (float) (100 + dx);
  face->y = 100;
  face->width = 100;
  face->height = 100;
  for (int i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    {
      double angle = i * 2.0 * G_PI / FACET_FACE_N_LANDMARKS;
      face->landmarks[2 * i] = (float) (150 + dx + 40 * cos (angle));
      face->landmarks[2 * i + 1] = (float) (150 + 45 * sin (angle));
    }
  /* lower lip (points 56-58, 65-67) opens downwards */
  for (int i = 56; i <= 58; i++)
    face->landmarks[2 * i + 1] += (float) mouth_open;
  for (int i = 65; i <= 67; i++)
    face->landmarks[2 * i + 1] += (float) mouth_open;
}

static double
landmark_error (const FacetFace *a,
                const FacetFace *b,
                int              first,
                int              last)
{
  double sum = 0.0;

  for (int i = first; i <= last; i++)
    sum += hypot (a->landmarks[2 * i] - b->landmarks[2 * i],
                  a->landmarks[2 * i + 1] - b->landmarks[2 * i + 1]);
  return sum / (last - first + 1);
}

static void
test_smoother (void)
{
  g_autoptr (FacetFaceSmoother) smoother = facet_face_smoother_new (0.0, 0.0);
  FacetFace truth, noisy, out;
  FacetRng rng;
  double raw_sq = 0.0, smooth_sq = 0.0, step_error[3], mouth_error[3];
  int n = 0;

  /* 1. Jitter of 1 px on a still face is reduced. */
  facet_rng_init (&rng, 11);
  make_face (&truth, 0, 0);
  for (int k = 0; k < 120; k++)
    {
      noisy = truth;
      for (int i = 0; i < 2 * FACET_FACE_N_LANDMARKS; i++)
        noisy.landmarks[i] += (float) facet_rng_normal (&rng);
      out = noisy;
      facet_face_smoother_apply (smoother, &out);
      if (k >= 20)
        {
          for (int i = 0; i < 2 * FACET_FACE_N_LANDMARKS; i++)
            {
              raw_sq += pow (noisy.landmarks[i] - truth.landmarks[i], 2);
              smooth_sq += pow (out.landmarks[i] - truth.landmarks[i], 2);
            }
          n++;
        }
    }
  g_test_message ("jitter: raw %.3f px rms, smoothed %.3f px rms", sqrt (raw_sq / n / 136),
                  sqrt (smooth_sq / n / 136));
  g_assert_cmpfloat (sqrt (smooth_sq / raw_sq), <, 0.6);

  /* 2. A step of a quarter face width (a fast head move, no noise) is
   * followed within two frames. */
  facet_face_smoother_reset (smoother);
  for (int k = 0; k < 30; k++)
    {
      out = truth;
      facet_face_smoother_apply (smoother, &out);
    }
  make_face (&truth, 25, 0);
  for (int k = 0; k < 3; k++)
    {
      out = truth;
      facet_face_smoother_apply (smoother, &out);
      step_error[k] = landmark_error (&out, &truth, 0, FACET_FACE_N_LANDMARKS - 1);
    }
  g_test_message ("25 px step: %.2f, %.2f, %.2f px behind after 1, 2, 3 frames", step_error[0],
                  step_error[1], step_error[2]);
  g_assert_cmpfloat (step_error[0], <, 0.25 * 25);
  g_assert_cmpfloat (step_error[1], <, 0.05 * 25);
  g_assert_cmpfloat (step_error[2], <, step_error[1] + 1e-9);

  /* 3. The mouth opens by 10 px in one frame: the lip points follow. */
  make_face (&truth, 25, 10);
  for (int k = 0; k < 3; k++)
    {
      out = truth;
      facet_face_smoother_apply (smoother, &out);
      mouth_error[k] = landmark_error (&out, &truth, 56, 58);
    }
  g_test_message ("mouth opening 10 px: %.2f, %.2f px behind after 1, 2 frames", mouth_error[0],
                  mouth_error[1]);
  g_assert_cmpfloat (mouth_error[1], <, 1.5);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  detector = facet_face_detector_new (NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/face/detect/astronaut", test_detect_astronaut);
  g_test_add_func ("/face/detect/rotated", test_detect_rotated);
  g_test_add_func ("/face/detect/rotated-scaled", test_detect_rotated_scaled);
  g_test_add_func ("/face/detect/none", test_detect_none);
  g_test_add_func ("/face/detect/dark-skin", test_detect_dark_skin);
  g_test_add_func ("/face/detect/bad-model", test_bad_model);
  g_test_add_func ("/face/cnn/errors", test_cnn_errors);
  g_test_add_func ("/face/crop/box", test_crop_box);
  g_test_add_func ("/face/crop/similarity", test_similarity);
  g_test_add_func ("/face/crop/aligned", test_crop_aligned);
  g_test_add_func ("/face/tracker/two-people", test_tracker_two_people);
  g_test_add_func ("/face/tracker/no-face", test_tracker_no_face);
  g_test_add_func ("/face/tracker/follows-move", test_tracker_follows_move);
  g_test_add_func ("/face/tracker/faint-face", test_tracker_faint_face);
  g_test_add_func ("/face/smoother", test_smoother);

  status = g_test_run ();
  facet_face_detector_free (detector);
  return status;
}
