/* test-core.c — images, natural sort, the worker pool, the random generator */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "core/facet-core.h"

static char *tmpdir;

static void
test_natural_sort (void)
{
  const char *sorted[] = { "frame_1.jpg", "frame_2.jpg", "frame_10.jpg", "frame_010b.jpg",
                           "frame_11.jpg", "Frame_12.jpg", "frame_100.jpg", "z" };

  for (guint i = 0; i + 1 < G_N_ELEMENTS (sorted); i++)
    {
      if (facet_natural_compare (sorted[i], sorted[i + 1]) >= 0)
        g_error ("“%s” should sort before “%s”", sorted[i], sorted[i + 1]);
      g_assert_cmpint (facet_natural_compare (sorted[i + 1], sorted[i]), >, 0);
    }
  g_assert_cmpint (facet_natural_compare ("a", "a"), ==, 0);
}

static void
count_item (guint    i,
            gpointer data)
{
  gint *hits = data;
  g_atomic_int_inc (&hits[i]);
}

static void
nested_item (guint    i,
             gpointer data)
{
  gint *hits = data;
  /* A loop inside a loop body runs serially instead of deadlocking. */
  facet_parallel_for (3, count_item, hits + 1000 + 3 * i);
}

static void
test_pool (void)
{
  g_autofree gint *hits = g_new0 (gint, 2000);

  facet_parallel_for (997, count_item, hits);
  for (guint i = 0; i < 997; i++)
    g_assert_cmpint (hits[i], ==, 1);
  facet_parallel_for (5, nested_item, hits);
  for (guint i = 1000; i < 1015; i++)
    g_assert_cmpint (hits[i], ==, 1);
  facet_parallel_for (0, count_item, hits);
}

static void
test_rng (void)
{
  FacetRng a, b;
  double sum = 0, sq = 0;
  int n = 100000;

  facet_rng_init (&a, 42);
  facet_rng_init (&b, 42);
  for (int i = 0; i < 100; i++)
    g_assert_cmpuint (facet_rng_next (&a), ==, facet_rng_next (&b));
  for (int i = 0; i < n; i++)
    {
      double x = facet_rng_normal (&a);
      sum += x;
      sq += x * x;
    }
  g_assert_cmpfloat (fabs (sum / n), <, 0.02);
  g_assert_cmpfloat (fabs (sq / n - 1.0), <, 0.02);
  for (int i = 0; i < 1000; i++)
    g_assert_cmpuint (facet_rng_below (&a, 7), <, 7);
}

static FacetImage *
gradient (int w,
          int h)
{
  FacetImage *im = facet_image_new (w, h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint8 *p = im->data + (gsize) y * im->stride + 3 * x;
        p[0] = (guint8) (x * 255 / MAX (w - 1, 1));
        p[1] = (guint8) (y * 255 / MAX (h - 1, 1));
        p[2] = (guint8) ((x + y) & 0xff);
      }
  return im;
}

static void
test_image_png_jpeg (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) im = gradient (37, 21);
  g_autofree char *png = g_build_filename (tmpdir, "g.png", NULL);
  g_autofree char *jpg = g_build_filename (tmpdir, "g.jpg", NULL);
  g_autoptr (FacetImage) back = NULL;
  g_autoptr (FacetImage) back_jpg = NULL;

  g_assert_true (facet_image_save_png (im, png, &error));
  back = facet_image_load (png, &error);
  g_assert_no_error (error);
  g_assert_true (facet_image_equal (im, back));

  g_assert_true (facet_image_save_jpeg (im, jpg, 95, &error));
  back_jpg = facet_image_load (jpg, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back_jpg->width, ==, 37);
  g_assert_cmpint (back_jpg->height, ==, 21);
}

static void
test_image_errors (void)
{
  static const struct
  {
    const char *name;
    const char *bytes;
    gsize       len;
    const char *words;
  } cases[] = {
    { "empty.png", "", 0, "empty" },
    { "text.png", "hello", 5, "not a PNG or JPEG" },
    { "cut.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "damaged PNG" },
    { "cut.jpg", "\xff\xd8\xff\xe0\0\x10JFIF", 10, "damaged JPEG" },
  };
  g_autoptr (GError) missing = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *path = g_build_filename (tmpdir, cases[i].name, NULL);
      g_autoptr (FacetImage) im = NULL;

      g_assert_true (g_file_set_contents (path, cases[i].bytes, (gssize) cases[i].len, NULL));
      im = facet_image_load (path, &error);
      g_assert_null (im);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, cases[i].name));
      if (strstr (error->message, cases[i].words) == NULL)
        g_error ("“%s” does not say “%s”", error->message, cases[i].words);
    }
  g_assert_null (facet_image_load ("/nonexistent/x.png", &missing));
  g_assert_error (missing, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static void
test_image_resize (void)
{
  g_autoptr (FacetImage) im = gradient (64, 48);
  g_autoptr (FacetImage) same = facet_image_resize (im, 64, 48);
  g_autoptr (FacetImage) small = facet_image_resize (im, 16, 12);
  g_autoptr (FacetImage) big = facet_image_resize (im, 129, 97);
  g_autoptr (FacetImage) flat = facet_image_new (30, 30);
  g_autoptr (FacetImage) flat_small = NULL;

  g_assert_true (facet_image_equal (im, same));
  /* A horizontal ramp stays a monotone ramp when shrunk or grown. */
  for (int x = 1; x < 16; x++)
    g_assert_cmpint (small->data[3 * x], >=, small->data[3 * (x - 1)]);
  for (int x = 1; x < 129; x++)
    g_assert_cmpint (big->data[3 * x], >=, big->data[3 * (x - 1)]);
  /* A flat image stays flat (weights are normalised). */
  memset (flat->data, 200, (gsize) flat->stride * 30);
  flat_small = facet_image_resize (flat, 7, 11);
  for (int i = 0; i < 7 * 11 * 3; i++)
    g_assert_cmpint (flat_small->data[i], ==, 200);
}

static void
test_image_tensor (void)
{
  g_autoptr (FacetImage) im = facet_image_new (2, 1);
  float mean[3] = { 0.5f, 0.5f, 0.5f }, std[3] = { 0.5f, 0.25f, 1.0f };
  float out[6];

  im->data[0] = 255; /* R of pixel 0 */
  im->data[4] = 0;   /* G of pixel 1 */
  facet_image_to_tensor (im, mean, std, out);
  g_assert_cmpfloat_with_epsilon (out[0], 1.0f, 1e-6);  /* R plane, pixel 0 */
  g_assert_cmpfloat_with_epsilon (out[3], -2.0f, 1e-6); /* G plane, pixel 1 */
}

/* The FACS vocabulary: what the store's imports, the exports and the
 * model configurations rely on. */
static void
test_facs (void)
{
  static const int bp4d[] = { 1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24 };
  static const FacetCropKind kinds[] = { FACET_CROP_BOX, FACET_CROP_ALIGNED, FACET_CROP_NONE };
  const int *aus;
  int n = 0;
  float template[10];

  aus = facet_dataset_aus ("bp4d+", &n);
  g_assert_nonnull (aus);
  g_assert_cmpmem (aus, n * sizeof (int), bp4d, sizeof bp4d);
  aus = facet_dataset_aus ("DISFA", &n);
  g_assert_nonnull (aus);
  g_assert_cmpint (n, ==, 8);
  g_assert_cmpint (aus[6], ==, 25);
  g_assert_null (facet_dataset_aus ("CK+", &n));
  g_assert_null (facet_dataset_aus (NULL, &n));

  g_assert_cmpstr (facet_au_name (12), ==, "lip corner puller");
  g_assert_cmpstr (facet_au_name (45), ==, "blink");
  g_assert_null (facet_au_name (3));
  /* Every AU of the data sets has a name. */
  for (int i = 0; i < (int) G_N_ELEMENTS (bp4d); i++)
    g_assert_nonnull (facet_au_name (bp4d[i]));

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      FacetCropKind back = (FacetCropKind) -1;
      g_assert_true (facet_crop_kind_from_string (facet_crop_kind_to_string (kinds[i]), &back));
      g_assert_cmpint (back, ==, kinds[i]);
    }
  g_assert_false (facet_crop_kind_from_string ("Box", &(FacetCropKind) { 0 }));
  g_assert_false (facet_crop_kind_from_string (NULL, &(FacetCropKind) { 0 }));

  /* The template keeps the eyes above the nose above the mouth, inside
   * the crop, left before right. */
  facet_crop_default_template (template);
  for (int i = 0; i < 10; i++)
    g_assert_true (template[i] > 0.0f && template[i] < 1.0f);
  g_assert_cmpfloat (template[0], <, template[2]);
  g_assert_cmpfloat (template[1], <, template[5]);
  g_assert_cmpfloat (template[5], <, template[7]);
}

int
main (int    argc,
      char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("facet-core-XXXXXX", NULL);
  g_test_add_func ("/core/natural-sort", test_natural_sort);
  g_test_add_func ("/core/pool", test_pool);
  g_test_add_func ("/core/rng", test_rng);
  g_test_add_func ("/core/facs", test_facs);
  g_test_add_func ("/core/image/png-jpeg", test_image_png_jpeg);
  g_test_add_func ("/core/image/errors", test_image_errors);
  g_test_add_func ("/core/image/resize", test_image_resize);
  g_test_add_func ("/core/image/tensor", test_image_tensor);
  ret = g_test_run ();
  {
    g_autoptr (GDir) dir = g_dir_open (tmpdir, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name (dir)))
      {
        g_autofree char *p = g_build_filename (tmpdir, name, NULL);
        g_unlink (p);
      }
  }
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return ret;
}
