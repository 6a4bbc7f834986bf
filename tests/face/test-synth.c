/* test-synth.c — the synthetic face generator: determinism, labels that
 * match the drawing, each AU in its own facial region, distinct subjects,
 * and what dlib makes of the cartoon faces.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "face/facet-face.h"
#include "media/facet-media.h"
#include "media/media-synth.h"

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static double
sum_abs_diff (const FacetImage *a,
              const FacetImage *b,
              const FacetImage *mask,
              double           *inside)
{
  double all = 0.0;

  g_assert_cmpint (a->width, ==, b->width);
  g_assert_cmpint (a->height, ==, b->height);
  if (inside)
    *inside = 0.0;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < 3 * a->width; x++)
      {
        double d = abs (a->data[(gsize) y * a->stride + x] - b->data[(gsize) y * b->stride + x]);
        all += d;
        if (inside && mask->data[(gsize) y * mask->stride + x] != 0)
          *inside += d;
      }
  return all;
}

/* Same seeds, same pixels: every frame of two independently built
 * subjects and timelines, with pose, lighting and noise on. */
static void
test_determinism (void)
{
  for (int run = 0; run < 2; run++)
    {
      g_autoptr (FacetSynthSubject) s1 = facet_synth_subject_new (5);
      g_autoptr (FacetSynthSubject) s2 = facet_synth_subject_new (5);
      g_autoptr (FacetSynthTimeline) t1 = NULL;
      g_autoptr (FacetSynthTimeline) t2 = NULL;
      g_autoptr (FacetSynthTimeline) other = NULL;
      int differ = 0;

      if (run == 1)
        {
          facet_synth_subject_apply_bias_profile (s1);
          facet_synth_subject_apply_bias_profile (s2);
        }
      t1 = facet_synth_timeline_new (s1, 42, 60, 15.0);
      t2 = facet_synth_timeline_new (s2, 42, 60, 15.0);
      other = facet_synth_timeline_new (s1, 43, 60, 15.0);
      for (gint64 f = 0; f < 60; f += 3)
        {
          float a1[FACET_SYNTH_N_AUS], a2[FACET_SYNTH_N_AUS], a3[FACET_SYNTH_N_AUS];
          FacetSynthPose p1, p2, p3;
          g_autoptr (FacetImage) i1 = NULL;
          g_autoptr (FacetImage) i2 = NULL;
          g_autoptr (FacetImage) i3 = NULL;
          g_autofree char *h1 = NULL, *h2 = NULL, *h3 = NULL;

          facet_synth_timeline_get (t1, f, a1, &p1);
          facet_synth_timeline_get (t2, f, a2, &p2);
          facet_synth_timeline_get (other, f, a3, &p3);
          g_assert_cmpmem (a1, sizeof a1, a2, sizeof a2);
          g_assert_cmpfloat (p1.noise, >, 0.0f);
          i1 = facet_synth_render (s1, a1, &p1, 96);
          i2 = facet_synth_render (s2, a2, &p2, 96);
          i3 = facet_synth_render (s1, a3, &p3, 96);
          h1 = facet_image_hash (i1);
          h2 = facet_image_hash (i2);
          h3 = facet_image_hash (i3);
          g_assert_cmpstr (h1, ==, h2);
          differ += g_strcmp0 (h1, h3) != 0;
        }
      /* another recording seed: another recording */
      g_assert_cmpint (differ, ==, 20);
    }
}

static void
write_video (const FacetSynthSubject  *subject,
             const FacetSynthTimeline *timeline,
             const char               *path,
             int                       size,
             const char               *codec)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (facet_synth_write_video (subject, timeline, path, size, codec, NULL, NULL, NULL,
                                          &error));
  g_assert_no_error (error);
}

static GPtrArray *
decode_hashes (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = facet_media_source_open (path, 0.0, &error);
  GPtrArray *hashes = g_ptr_array_new_with_free_func (g_free);

  g_assert_no_error (error);
  for (gint64 f = 0; f < facet_media_source_get_info (source)->n_frames; f++)
    {
      g_autoptr (FacetImage) frame = facet_media_source_get_frame (source, f, &error);
      g_assert_no_error (error);
      g_ptr_array_add (hashes, facet_image_hash (frame));
    }
  return hashes;
}

/* Two runs of the video writer give the same frames (and files); with the
 * lossless codec the decoded frames are exactly the drawn ones. */
static void
test_video_determinism (void)
{
  const char *codecs[] = { "ffv1", "h264" };

  for (guint c = 0; c < G_N_ELEMENTS (codecs); c++)
    {
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (2);
      g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, 3, 12, 12.0);
      g_autofree char *name_a = g_strdup_printf ("a-%s.mkv", codecs[c]);
      g_autofree char *name_b = g_strdup_printf ("b-%s.mkv", codecs[c]);
      g_autofree char *path_a = tmp_path (name_a), *path_b = tmp_path (name_b);
      g_autofree char *bytes_a = NULL, *bytes_b = NULL;
      g_autoptr (GPtrArray) hashes_a = NULL;
      g_autoptr (GPtrArray) hashes_b = NULL;
      gsize len_a, len_b;

      write_video (subject, timeline, path_a, 96, codecs[c]);
      write_video (subject, timeline, path_b, 96, codecs[c]);
      hashes_a = decode_hashes (path_a);
      hashes_b = decode_hashes (path_b);
      g_assert_cmpuint (hashes_a->len, ==, 12);
      g_assert_cmpuint (hashes_b->len, ==, 12);
      for (guint i = 0; i < hashes_a->len; i++)
        g_assert_cmpstr (hashes_a->pdata[i], ==, hashes_b->pdata[i]);
      g_assert_true (g_file_get_contents (path_a, &bytes_a, &len_a, NULL));
      g_assert_true (g_file_get_contents (path_b, &bytes_b, &len_b, NULL));
      g_assert_cmpmem (bytes_a, len_a, bytes_b, len_b);

      if (g_str_equal (codecs[c], "ffv1"))
        for (gint64 f = 0; f < 12; f++)
          {
            float au[FACET_SYNTH_N_AUS];
            FacetSynthPose pose;
            g_autoptr (FacetImage) drawn = NULL;
            g_autofree char *hash = NULL;

            facet_synth_timeline_get (timeline, f, au, &pose);
            drawn = facet_synth_render (subject, au, &pose, 96);
            hash = facet_image_hash (drawn);
            g_assert_cmpstr (hash, ==, hashes_a->pdata[f]);
          }
    }
}

/* The label file: the exact header, one row per frame, intensities as the
 * timeline gives them, presence by the stated threshold; and the frames of
 * the (lossless) video are exactly what those labels draw. */
static void
test_labels (void)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (4);
  g_autoptr (FacetSynthTimeline) timeline = NULL;
  g_autofree char *path = tmp_path ("labels.mkv");
  g_autofree char *labels = facet_synth_labels_path (path);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetMediaSource) source = NULL;
  g_auto (GStrv) lines = NULL;
  const int *aus;
  int n_aus, seen_present = 0;
  GString *header = g_string_new ("frame");

  /* frequent AUs, so that the short video has some of each state */
  g_assert_true (facet_synth_subject_set_base_rate (subject, 12, 0.6f, &error));
  g_assert_true (facet_synth_subject_set_base_rate (subject, 25, 0.5f, &error));
  g_assert_no_error (error);
  timeline = facet_synth_timeline_new (subject, 9, 90, 15.0);
  write_video (subject, timeline, path, 64, "ffv1");
  g_assert_true (g_str_has_suffix (labels, "labels.labels.csv"));
  g_assert_true (g_file_get_contents (labels, &text, NULL, &error));
  g_assert_no_error (error);

  aus = facet_synth_aus (&n_aus);
  for (int k = 0; k < n_aus; k++)
    g_string_append_printf (header, ",AU%02d,AU%02d_i", aus[k], aus[k]);
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpstr (lines[0], ==, header->str);
  g_assert_cmpstr (lines[0], ==,
                   "frame,AU01,AU01_i,AU02,AU02_i,AU04,AU04_i,AU06,AU06_i,AU09,AU09_i,"
                   "AU12,AU12_i,AU15,AU15_i,AU17,AU17_i,AU25,AU25_i,AU26,AU26_i,"
                   "AU43,AU43_i");
  g_string_free (header, TRUE);
  g_assert_cmpuint (g_strv_length (lines), ==, 90 + 2); /* header, rows, "" after the last \n */
  g_assert_cmpstr (lines[91], ==, "");

  source = facet_media_source_open (path, 0.0, &error);
  g_assert_no_error (error);
  for (gint64 f = 0; f < 90; f++)
    {
      g_auto (GStrv) cells = g_strsplit (lines[f + 1], ",", -1);
      float au[FACET_SYNTH_N_AUS], parsed[FACET_SYNTH_N_AUS];
      FacetSynthPose pose;
      g_autoptr (FacetImage) frame = NULL;
      g_autoptr (FacetImage) drawn = NULL;

      g_assert_cmpuint (g_strv_length (cells), ==, 1 + 2 * (guint) n_aus);
      g_assert_cmpint (g_ascii_strtoll (cells[0], NULL, 10), ==, f);
      facet_synth_timeline_get (timeline, f, au, &pose);
      for (int k = 0; k < n_aus; k++)
        {
          const char *present = cells[1 + 2 * k], *intensity = cells[2 + 2 * k];
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          parsed[k] = (float) g_ascii_strtod (intensity, NULL);
          g_assert_cmpstr (intensity, ==, g_ascii_formatd (buf, sizeof buf, "%.4f", au[k]));
          g_assert_cmpfloat (parsed[k], ==, au[k]);
          g_assert_cmpfloat (parsed[k], >=, 0.0f);
          g_assert_cmpfloat (parsed[k], <=, 1.0f);
          g_assert_cmpstr (present, ==, parsed[k] >= FACET_SYNTH_PRESENCE_THRESHOLD ? "1" : "0");
          seen_present += present[0] == '1';
        }
      /* what the labels say, drawn, is the frame in the video */
      frame = facet_media_source_get_frame (source, f, &error);
      g_assert_no_error (error);
      drawn = facet_synth_render (subject, parsed, &pose, 64);
      g_assert_true (facet_image_equal (frame, drawn));
    }
  g_assert_cmpint (seen_present, >, 0);
}

/* Intensity is drawn: nothing at 0, more at 1 than at 0.5, for every AU. */
static void
test_intensity (void)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (8);
  g_autoptr (FacetImage) neutral = facet_synth_render (subject, NULL, NULL, 160);
  const int *aus;
  int n_aus;

  aus = facet_synth_aus (&n_aus);
  for (int k = 0; k < n_aus; k++)
    {
      float au[FACET_SYNTH_N_AUS] = { 0 };
      g_autoptr (FacetImage) zero = NULL;
      g_autoptr (FacetImage) half = NULL;
      g_autoptr (FacetImage) full = NULL;
      double d_half, d_full;

      zero = facet_synth_render (subject, au, NULL, 160);
      au[k] = 0.5f;
      half = facet_synth_render (subject, au, NULL, 160);
      au[k] = 1.0f;
      full = facet_synth_render (subject, au, NULL, 160);
      g_assert_true (facet_image_equal (zero, neutral));
      d_half = sum_abs_diff (half, neutral, NULL, NULL);
      d_full = sum_abs_diff (full, neutral, NULL, NULL);
      g_test_message ("AU%02d: change at 0.5 %.0f, at 1 %.0f", aus[k], d_half, d_full);
      g_assert_cmpfloat (d_half, >, 0.0);
      g_assert_cmpfloat (d_full, >, d_half);
    }
}

/* Each AU changes pixels mainly inside its own facial region(s). */
static void
test_regions (void)
{
  const int *aus;
  int n_aus;
  double worst = 1.0;
  int worst_au = 0;

  aus = facet_synth_aus (&n_aus);
  for (guint64 seed = 1; seed <= 6; seed++)
    {
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (seed);
      g_autoptr (FacetImage) neutral = facet_synth_render (subject, NULL, NULL, 224);

      for (int k = 0; k < n_aus; k++)
        {
          float au[FACET_SYNTH_N_AUS] = { 0 };
          g_autoptr (FacetImage) moved = NULL;
          g_autoptr (FacetImage) mask = NULL;
          double inside, all, area = 0.0;

          au[k] = 1.0f;
          moved = facet_synth_render (subject, au, NULL, 224);
          mask = facet_synth_region_mask (subject, facet_synth_au_regions (aus[k]), 224);
          for (gsize i = 0; i < (gsize) mask->stride * mask->height; i += 3)
            area += mask->data[i] != 0;
          area /= 224.0 * 224.0;
          all = sum_abs_diff (moved, neutral, mask, &inside);
          g_assert_cmpfloat (all, >, 0.0);
          /* a region is a part of the face, not most of the frame */
          g_assert_cmpfloat (area, <, 0.45);
          g_assert_cmpfloat (inside / all, >, 0.7);
          if (inside / all < worst)
            {
              worst = inside / all;
              worst_au = aus[k];
            }
        }
    }
  g_test_message ("smallest share of change inside the AU's region: %.3f (AU%02d)", worst,
                  worst_au);
}

/* Under head motion the boxes follow the face: what an AU changes in a
 * turned, tilted, shifted and scaled frame lies inside that frame's boxes
 * of the AU's regions. */
static void
test_regions_posed (void)
{
  const int *aus;
  int n_aus;
  double worst = 1.0;
  int worst_au = 0;

  aus = facet_synth_aus (&n_aus);
  for (guint64 seed = 1; seed <= 4; seed++)
    {
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (seed);
      g_autoptr (FacetImage) neutral = NULL;
      FacetSynthPose pose;

      facet_synth_pose_init (&pose);
      pose.yaw = seed % 2 ? 0.2f : -0.15f;
      pose.pitch = seed < 3 ? 0.1f : -0.1f;
      pose.roll = 0.12f * (seed % 2 ? 1 : -1);
      pose.dx = 0.05f;
      pose.dy = -0.04f;
      pose.scale = 0.85f;
      neutral = facet_synth_render (subject, NULL, &pose, 224);
      for (int k = 0; k < n_aus; k++)
        {
          float au[FACET_SYNTH_N_AUS] = { 0 }, boxes[FACET_SYNTH_N_REGION_BOXES][4];
          g_autoptr (FacetImage) moved = NULL;
          g_autoptr (FacetImage) mask = facet_image_new (224, 224);
          double inside, all;
          int n;

          au[k] = 1.0f;
          moved = facet_synth_render (subject, au, &pose, 224);
          n = facet_synth_region_boxes (subject, &pose, facet_synth_au_regions (aus[k]), boxes,
                                        NULL);
          g_assert_cmpint (n, >=, 1);
          memset (mask->data, 0, (gsize) mask->stride * mask->height);
          for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++)
              for (int b = 0; b < n; b++)
                if ((x + 0.5) / 224 >= boxes[b][0] && (x + 0.5) / 224 <= boxes[b][2]
                    && (y + 0.5) / 224 >= boxes[b][1] && (y + 0.5) / 224 <= boxes[b][3])
                  memset (mask->data + (gsize) y * mask->stride + 3 * x, 255, 3);
          all = sum_abs_diff (moved, neutral, mask, &inside);
          g_assert_cmpfloat (all, >, 0.0);
          g_assert_cmpfloat (inside / all, >, 0.7);
          if (inside / all < worst)
            {
              worst = inside / all;
              worst_au = aus[k];
            }
        }
    }
  g_test_message ("posed: smallest share of change inside the AU's boxes: %.3f (AU%02d)", worst,
                  worst_au);
}

/* The regions file: one comment per AU naming its boxes, the header, and a
 * row per frame holding that frame's boxes; written beside the video. */
static void
test_regions_file (void)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (5);
  g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, 3, 40, 10.0);
  g_autofree char *text = facet_synth_timeline_regions (subject, timeline);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *video = tmp_path ("regions.mkv");
  g_autofree char *path = facet_synth_regions_path (video);
  g_autofree char *written = NULL;
  g_autoptr (GError) error = NULL;
  int n_aus, row = 0;
  const int *aus = facet_synth_aus (&n_aus);
  float still[FACET_SYNTH_N_REGION_BOXES][4], shifted[FACET_SYNTH_N_REGION_BOXES][4];
  FacetSynthPose pose;

  /* a shift of the head shifts every box by as much */
  facet_synth_pose_init (&pose);
  facet_synth_region_boxes (subject, &pose, ~0u, still, NULL);
  pose.dx = 0.1f;
  pose.dy = -0.05f;
  facet_synth_region_boxes (subject, &pose, ~0u, shifted, NULL);
  for (int b = 0; b < 6; b++) /* the chin box reaches the frame's bottom edge */
    {
      g_assert_cmpfloat (fabs (shifted[b][0] - still[b][0] - 0.1), <, 1e-5);
      g_assert_cmpfloat (fabs (shifted[b][1] - still[b][1] + 0.05), <, 1e-5);
    }

  g_assert_true (g_str_has_suffix (path, "regions.regions.csv"));
  for (int k = 0; k < n_aus; k++)
    {
      g_autofree char *start = g_strdup_printf ("# AU%02d:", aus[k]);
      g_assert_true (g_str_has_prefix (lines[k], start));
    }
  g_assert_true (strstr (lines[0], "brows") != NULL);                     /* AU01 */
  g_assert_true (strstr (lines[n_aus - 1], "eye_left eye_right") != NULL); /* AU43 */
  g_assert_true (g_str_has_prefix (lines[n_aus], "frame,brows_x0,brows_y0,brows_x1,brows_y1,"));
  for (int i = n_aus + 1; lines[i] != NULL && lines[i][0] != '\0'; i++, row++)
    {
      g_auto (GStrv) cells = g_strsplit (lines[i], ",", -1);
      float au[FACET_SYNTH_N_AUS], boxes[FACET_SYNTH_N_REGION_BOXES][4];
      FacetSynthPose frame_pose;
      int n;

      g_assert_cmpuint (g_strv_length (cells), ==, 1 + 4 * FACET_SYNTH_N_REGION_BOXES);
      g_assert_cmpint (atoi (cells[0]), ==, row);
      facet_synth_timeline_get (timeline, row, au, &frame_pose);
      n = facet_synth_region_boxes (subject, &frame_pose, ~0u, boxes, NULL);
      g_assert_cmpint (n, ==, FACET_SYNTH_N_REGION_BOXES);
      for (int b = 0; b < n; b++)
        {
          /* brows above eyes above nose tip above mouth above chin */
          g_assert_cmpfloat (boxes[b][0], <, boxes[b][2]);
          g_assert_cmpfloat (boxes[b][1], <, boxes[b][3]);
          for (int c = 0; c < 4; c++)
            g_assert_cmpfloat (fabs (g_ascii_strtod (cells[1 + 4 * b + c], NULL) - boxes[b][c]), <,
                               1e-4);
        }
      g_assert_cmpfloat (boxes[0][1], <, boxes[1][1]);
      g_assert_cmpfloat (boxes[5][3], <, boxes[6][3]);
      g_assert_cmpfloat (boxes[6][1], <, boxes[7][1]);
    }
  g_assert_cmpint (row, ==, 40);

  g_assert_true (facet_synth_write_video (subject, timeline, video, 64, "ffv1", NULL, NULL, NULL,
                                          &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &written, NULL, &error));
  g_assert_cmpstr (written, ==, text);
  g_unlink (path);
  g_unlink (video);
  {
    g_autofree char *labels = facet_synth_labels_path (video);
    g_unlink (labels);
  }
}

/* Subjects are clearly different people: neutral faces differ by much more
 * than an expression changes one face. */
static void
test_subjects_differ (void)
{
  enum { N = 10 };
  FacetImage *faces[N];
  g_autoptr (GHashTable) descriptions
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  double smallest = G_MAXDOUBLE, largest_expression = 0.0;

  for (int i = 0; i < N; i++)
    {
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new ((guint64) i + 1);
      float au[FACET_SYNTH_N_AUS] = { 0 };
      g_autoptr (FacetImage) smiling = NULL;

      faces[i] = facet_synth_render (subject, NULL, NULL, 128);
      au[facet_synth_au_index (12)] = 1.0f;
      au[facet_synth_au_index (6)] = 1.0f;
      au[facet_synth_au_index (25)] = 1.0f;
      smiling = facet_synth_render (subject, au, NULL, 128);
      largest_expression = MAX (largest_expression, sum_abs_diff (faces[i], smiling, NULL, NULL));
      g_hash_table_add (descriptions, facet_synth_subject_describe (subject));
    }
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      smallest = MIN (smallest, sum_abs_diff (faces[i], faces[j], NULL, NULL));
  g_test_message ("closest two subjects differ by %.0f; the largest expression change is %.0f",
                  smallest, largest_expression);
  g_assert_cmpfloat (smallest, >, 3.0 * largest_expression);
  g_assert_cmpuint (g_hash_table_size (descriptions), >=, N * 7 / 10);
  for (int i = 0; i < N; i++)
    facet_image_unref (faces[i]);
}

/* Base rates: asked-for presence fractions come out over a long recording,
 * and bad AUs and rates are refused. */
static void
test_base_rates (void)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (3);
  g_autoptr (FacetSynthSubject) profiled = facet_synth_subject_new (3);
  g_autoptr (FacetSynthTimeline) timeline = NULL;
  g_autoptr (GError) error = NULL;
  const gint64 n = 10 * 3600; /* an hour at 10 fps */
  const int *aus;
  int n_aus, changed = 0;
  double present[FACET_SYNTH_N_AUS] = { 0 };

  g_assert_false (facet_synth_subject_set_base_rate (subject, 14, 0.5f, &error));
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "AU14"));
  g_clear_error (&error);
  g_assert_false (facet_synth_subject_set_base_rate (subject, 12, 0.95f, &error));
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
  g_clear_error (&error);

  g_assert_true (facet_synth_subject_set_base_rate (subject, 12, 0.6f, &error));
  g_assert_true (facet_synth_subject_set_base_rate (subject, 4, 0.3f, &error));
  timeline = facet_synth_timeline_new (subject, 1, n, 10.0);
  aus = facet_synth_aus (&n_aus);
  for (gint64 f = 0; f < n; f++)
    {
      float au[FACET_SYNTH_N_AUS];
      facet_synth_timeline_get (timeline, f, au, NULL);
      for (int k = 0; k < n_aus; k++)
        present[k] += au[k] >= FACET_SYNTH_PRESENCE_THRESHOLD;
    }
  for (int k = 0; k < n_aus; k++)
    {
      double want = facet_synth_subject_get_base_rate (subject, aus[k]);
      g_test_message ("AU%02d present in %.3f of frames (base rate %.3f)", aus[k], present[k] / n,
                      want);
      g_assert_cmpfloat (fabs (present[k] / n - want), <, 0.03 + 0.1 * want);
    }

  /* the profile from the seed changes some rates, the same way each time */
  facet_synth_subject_apply_bias_profile (profiled);
  {
    g_autoptr (FacetSynthSubject) plain = facet_synth_subject_new (3);
    g_autoptr (FacetSynthSubject) again = facet_synth_subject_new (3);

    facet_synth_subject_apply_bias_profile (again);
    for (int k = 0; k < n_aus; k++)
      {
        changed += facet_synth_subject_get_base_rate (profiled, aus[k])
                   != facet_synth_subject_get_base_rate (plain, aus[k]);
        g_assert_cmpfloat (facet_synth_subject_get_base_rate (profiled, aus[k]), ==,
                           facet_synth_subject_get_base_rate (again, aus[k]));
      }
  }
  g_assert_cmpint (changed, ==, 3);
}

/* Phi coefficient of the presence of the AUs at indices @a and @b. */
static double
presence_phi (const FacetSynthTimeline *timeline,
              gint64                    n,
              int                       a,
              int                       b)
{
  double na = 0, nb = 0, nab = 0, pa, pb;

  for (gint64 f = 0; f < n; f++)
    {
      float au[FACET_SYNTH_N_AUS];
      gboolean in_a, in_b;

      facet_synth_timeline_get (timeline, f, au, NULL);
      in_a = au[a] >= FACET_SYNTH_PRESENCE_THRESHOLD;
      in_b = au[b] >= FACET_SYNTH_PRESENCE_THRESHOLD;
      na += in_a;
      nb += in_b;
      nab += in_a && in_b;
    }
  pa = na / n;
  pb = nb / n;
  return (nab / n - pa * pb) / sqrt (pa * (1 - pa) * pb * (1 - pb) + 1e-12);
}

/* Independent events: every AU still at its base rate, but the patterns'
 * pairs (6+12, 1+2, 4+9, 25+26) no longer go together; the default
 * timeline is not changed by the option's existence. */
static void
test_independent_events (void)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (5);
  g_autoptr (FacetSynthTimeline) patterned = NULL, independent = NULL, plain = NULL;
  const gint64 n = 10 * 3600;
  const int pairs[][2] = { { 6, 12 }, { 1, 2 }, { 4, 9 }, { 25, 26 } };
  const int *aus;
  int n_aus;
  double present[FACET_SYNTH_N_AUS] = { 0 };

  aus = facet_synth_aus (&n_aus);
  for (int k = 0; k < n_aus; k++)
    g_assert_true (facet_synth_subject_set_base_rate (subject, aus[k], 0.3f, NULL));
  patterned = facet_synth_timeline_new_full (subject, 1, n, 10.0, FACET_SYNTH_EVENTS_PATTERNS);
  independent = facet_synth_timeline_new_full (subject, 1, n, 10.0, FACET_SYNTH_EVENTS_INDEPENDENT);
  plain = facet_synth_timeline_new (subject, 1, 300, 10.0);

  for (gint64 f = 0; f < 300; f++)
    {
      float a[FACET_SYNTH_N_AUS], b[FACET_SYNTH_N_AUS];
      facet_synth_timeline_get (plain, f, a, NULL);
      facet_synth_timeline_get (patterned, f, b, NULL);
      g_assert_cmpmem (a, sizeof a, b, sizeof b);
    }

  for (gint64 f = 0; f < n; f++)
    {
      float au[FACET_SYNTH_N_AUS];
      facet_synth_timeline_get (independent, f, au, NULL);
      for (int k = 0; k < n_aus; k++)
        present[k] += au[k] >= FACET_SYNTH_PRESENCE_THRESHOLD;
    }
  for (int k = 0; k < n_aus; k++)
    {
      g_test_message ("independent: AU%02d present in %.3f of frames (base rate 0.3)", aus[k],
                      present[k] / n);
      g_assert_cmpfloat (fabs (present[k] / n - 0.3), <, 0.06);
    }

  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      int a = -1, b = -1;
      double with, without;

      for (int k = 0; k < n_aus; k++)
        {
          if (aus[k] == pairs[i][0])
            a = k;
          if (aus[k] == pairs[i][1])
            b = k;
        }
      with = presence_phi (patterned, n, a, b);
      without = presence_phi (independent, n, a, b);
      g_test_message ("AU%02d+AU%02d: phi %.3f in patterns, %.3f independent", pairs[i][0],
                      pairs[i][1], with, without);
      g_assert_cmpfloat (with, >, 0.2);
      g_assert_cmpfloat (fabs (without), <, 0.08);
    }
}

static void
test_paths_and_errors (void)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (1);
  g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, 0, 3, 10.0);
  g_autoptr (GError) error = NULL;
  g_autofree char *a = facet_synth_labels_path ("/x/OUT.mkv");
  g_autofree char *b = facet_synth_labels_path ("/x.y/OUT");
  g_autofree char *c = facet_synth_labels_path ("clip.v2.mp4");
  g_autofree char *missing = tmp_path ("no-such-dir/out.mkv");
  g_autofree char *missing_labels = facet_synth_labels_path (missing);

  g_assert_cmpstr (a, ==, "/x/OUT.labels.csv");
  g_assert_cmpstr (b, ==, "/x.y/OUT.labels.csv");
  g_assert_cmpstr (c, ==, "clip.v2.labels.csv");

  g_assert_false (facet_synth_write_video (subject, timeline, missing, 64, "ffv1", NULL, NULL, NULL,
                                           &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "no-such-dir"));
  g_assert_false (g_file_test (missing_labels, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  g_assert_false (facet_synth_write_video (subject, timeline, missing, 8, "ffv1", NULL, NULL, NULL,
                                           &error));
  g_assert_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE);
}

/* The cartoon faces are not what dlib was trained on; they need no
 * detection (crop convention "none"), but how often it finds them says
 * how face-like they are. */
static void
test_dlib_finds_synthetic_faces (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceDetector) detector = facet_face_detector_new (NULL, &error);
  int found = 0, total = 0, eyes_ok = 0;

  g_assert_no_error (error);
  for (guint64 seed = 1; seed <= 8; seed++)
    {
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (seed);
      g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, seed, 150, 30.0);

      for (gint64 f = 0; f < 150; f += 30)
        {
          float au[FACET_SYNTH_N_AUS];
          FacetSynthPose pose;
          g_autoptr (FacetImage) frame = NULL;
          g_autoptr (GArray) faces = NULL;

          facet_synth_timeline_get (timeline, f, au, &pose);
          frame = facet_synth_render (subject, au, &pose, 224);
          faces = facet_face_detector_detect (detector, frame, &error);
          g_assert_no_error (error);
          total++;
          if (faces->len > 0)
            {
              float p[10];
              found++;
              /* where found, the landmarks put the eyes where they are drawn */
              facet_face_alignment_points (&g_array_index (faces, FacetFace, 0), p);
              eyes_ok
                += p[0] < 112 && p[2] > 112 && p[1] > 60 && p[1] < 120 && p[3] > 60 && p[3] < 120;
            }
        }
    }
  g_test_message ("dlib found a face in %d of %d synthetic frames (%.0f %%), eyes in place in %d",
                  found, total, 100.0 * found / total, eyes_ok);
  g_assert_cmpint (found, >=, total / 2);
  g_assert_cmpint (eyes_ok, >=, found * 9 / 10);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("facet-synth-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);

  g_test_add_func ("/synth/determinism", test_determinism);
  g_test_add_func ("/synth/video-determinism", test_video_determinism);
  g_test_add_func ("/synth/labels", test_labels);
  g_test_add_func ("/synth/intensity", test_intensity);
  g_test_add_func ("/synth/regions", test_regions);
  g_test_add_func ("/synth/regions-posed", test_regions_posed);
  g_test_add_func ("/synth/regions-file", test_regions_file);
  g_test_add_func ("/synth/subjects-differ", test_subjects_differ);
  g_test_add_func ("/synth/base-rates", test_base_rates);
  g_test_add_func ("/synth/independent-events", test_independent_events);
  g_test_add_func ("/synth/paths-and-errors", test_paths_and_errors);
  g_test_add_func ("/synth/dlib", test_dlib_finds_synthetic_faces);

  status = g_test_run ();

  {
    g_autoptr (GDir) dir = g_dir_open (tmp_dir, 0, NULL);
    const char *name;
    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = tmp_path (name);
        g_unlink (path);
      }
    g_rmdir (tmp_dir);
    g_free (tmp_dir);
  }
  return status;
}
