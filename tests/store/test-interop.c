/* test-interop.c — files other tools read and write (issue 15): labels
 * csv that names its videos by file and content hash, OpenFace 2.2's
 * layout, DISFA files cut short, events at a stride, ELAN documents under
 * another locale, 1-based frames in messages, JSON arrays and Windows
 * paths in FMAE-IAT files */
#include "config.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "store/facet-store.h"

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static char *
new_project_path (void)
{
  static int n;
  g_autofree char *name = g_strdup_printf ("interop%d.facet", ++n);
  return tmp_path (name);
}

/* The store only hashes media; any file stands in for a video. The same
 * seed gives the same content (the same video under another name). */
static char *
make_media (const char *name,
            guint8      seed)
{
  g_autofree guint8 *data = g_malloc (1000);
  char *path = tmp_path (name);
  g_autofree char *dir = g_path_get_dirname (path);

  for (gsize i = 0; i < 1000; i++)
    data[i] = (guint8) (i * 31 + seed);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, (const char *) data, 1000, NULL));
  return path;
}

static gint64
add_video (FacetStore *store,
           const char *name,
           gint64      n_frames,
           guint8      seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = make_media (name, seed);
  FacetStoreVideoInfo info = { path, "S1", FACET_CROP_NONE, n_frames, 30.0, 64, 64 };
  gint64 id = facet_store_add_video (store, &info, &error);

  g_assert_no_error (error);
  return id;
}

static gint64
add_model (FacetStore *store,
           const int  *aus,
           int         n_aus,
           guint8      seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("model-%u.safetensors", seed);
  g_autofree char *path = make_media (name, seed);
  FacetStoreModelInfo info = { .file = path, .n_aus = n_aus, .au_ids = aus,
                               .config_json = "{\"image_size\": 64}" };
  gint64 id = facet_store_add_model (store, &info, &error);

  g_assert_no_error (error);
  return id;
}

static FacetLabelState
label_state (FacetStore *store,
             gint64      video,
             gint64      frame,
             int         au)
{
  g_autoptr (GError) error = NULL;
  FacetLabel l;

  g_assert_true (facet_store_get_label (store, video, frame, au, &l, &error));
  return l.state;
}

static gint64
import (FacetStore      *store,
        const char      *path,
        FacetLabelFormat format,
        gint64           video,
        gint64          *changed,
        GError         **error)
{
  FacetLabelImportOptions opt = { .format = format, .video_id = video };
  return facet_store_import_labels_full (store, path, &opt, changed, error);
}

/* A cell of a CSV without quotes, by row (0 = first data row) and column name. */
static char *
csv_cell (const char *text,
          guint       row,
          const char *column)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_auto (GStrv) header = g_strsplit (lines[0], ",", -1);
  g_auto (GStrv) cells = NULL;
  guint c;

  g_assert_cmpuint (row + 1, <, g_strv_length (lines));
  for (c = 0; header[c] != NULL && !g_str_equal (header[c], column); c++)
    ;
  g_assert_nonnull (header[c]);
  cells = g_strsplit (lines[row + 1], ",", -1);
  g_assert_cmpuint (g_strv_length (cells), ==, g_strv_length (header));
  return g_strdup (cells[c]);
}

#define assert_cell(text, row, column, expected) \
  G_STMT_START { g_autofree char *cell_ = csv_cell (text, row, column); \
                 g_assert_cmpstr (cell_, ==, expected); } G_STMT_END

/* ---- 1. Labels csv: rows name their video by file name and hash -------------------------- */

static void
test_labels_by_file (void)
{
  g_autofree char *pa = new_project_path (), *pb = new_project_path (), *pc = new_project_path ();
  g_autofree char *pe = new_project_path ();
  g_autofree char *out = tmp_path ("by-file.csv"), *text = NULL, *line = NULL;
  g_autofree char *single = tmp_path ("single.csv"), *old = tmp_path ("old.csv");
  g_autofree char *dup = tmp_path ("dup.csv"), *dup_sha = tmp_path ("dup-sha.csv");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) a = facet_store_create (pa, &error);
  g_autoptr (FacetStore) b = facet_store_create (pb, &error);
  g_autoptr (FacetStore) c = facet_store_create (pc, &error);
  g_autoptr (FacetStore) e = facet_store_create (pe, &error);
  g_autoptr (FacetStoreVideo) clip = NULL, e2 = NULL;
  FacetLabel two[2] = {
    { .video_id = 1, .frame = 0, .au = 1, .state = FACET_LABEL_PRESENT, .intensity = 0.4f },
    { .video_id = 2, .frame = 5, .au = 2, .state = FACET_LABEL_ABSENT, .intensity = NAN },
  };
  gint64 changed = -1, b_second, b_clip, e_a, e_b;

  add_video (a, "clip.bin", 20, 1);
  add_video (a, "second.bin", 20, 2);
  g_assert_cmpint (facet_store_write_labels (a, two, 2, "two videos", &error), >, 0);
  g_assert_true (facet_store_export_labels (a, out, 0, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (out, &text, NULL, NULL));
  clip = facet_store_get_video (a, 1, &error);
  /* The header names the video columns; 0.4 is written as 0.4 (a float's
   * shortest form), not 0.400000006. */
  g_assert_true (g_str_has_prefix (text, "file,sha256,frame,AU01,AU01_i,AU02,AU02_i\n"));
  line = g_strdup_printf ("\nclip.bin,%s,0,1,0.4,,\n", clip->sha256);
  g_assert_nonnull (strstr (text, line));

  /* A project that added the videos the other way round: the labels go
   * to the same files, not to the same numbers. */
  b_second = add_video (b, "second.bin", 20, 2);
  b_clip = add_video (b, "clip.bin", 20, 1);
  g_assert_cmpint (import (b, out, FACET_LABEL_FORMAT_CSV, 0, &changed, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpint (changed, ==, 2);
  g_assert_cmpint (label_state (b, b_clip, 0, 1), ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (label_state (b, b_second, 5, 2), ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (label_state (b, b_second, 0, 1), ==, FACET_LABEL_UNSET);
  /* The same file again changes nothing, and says so. */
  g_assert_cmpint (import (b, out, FACET_LABEL_FORMAT_CSV, 0, &changed, &error), ==, 2);
  g_assert_cmpint (changed, ==, 0);

  /* A project without one of the videos: refused as a whole, naming it. */
  add_video (c, "clip.bin", 20, 1);
  g_assert_cmpint (import (c, out, FACET_LABEL_FORMAT_CSV, 0, NULL, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "second.bin"));
  g_clear_error (&error);
  g_assert_cmpint (label_state (c, 1, 0, 1), ==, FACET_LABEL_UNSET);
  /* --video puts one video's labels anywhere, but not several videos'. */
  g_assert_cmpint (import (c, out, FACET_LABEL_FORMAT_CSV, 1, NULL, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (facet_store_export_labels (a, single, 2, &error));
  g_assert_cmpint (import (c, single, FACET_LABEL_FORMAT_CSV, 1, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (label_state (c, 1, 5, 2), ==, FACET_LABEL_ABSENT);

  /* Two videos called dup.bin: the name alone cannot tell them apart, the
   * hash can. */
  e_a = add_video (e, "a/dup.bin", 20, 11);
  e_b = add_video (e, "b/dup.bin", 20, 12);
  e2 = facet_store_get_video (e, e_b, &error);
  g_assert_true (g_file_set_contents (dup, "file,frame,AU01\ndup.bin,3,1\n", -1, NULL));
  g_assert_cmpint (import (e, dup, FACET_LABEL_FORMAT_CSV, 0, NULL, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "tell them apart"));
  g_clear_error (&error);
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf ("file,sha256,frame,AU01\n\"dup.bin\",%s,3,1\n", e2->sha256);
  g_assert_true (g_file_set_contents (dup_sha, text, -1, NULL));
  g_assert_cmpint (import (e, dup_sha, FACET_LABEL_FORMAT_CSV, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (label_state (e, e_b, 3, 1), ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (label_state (e, e_a, 3, 1), ==, FACET_LABEL_UNSET);
  /* A name with its folder counts by its last part. */
  g_assert_true (g_file_set_contents (dup, "file,frame,AU01\nsessions/clip.bin,4,1\n", -1,
                                      NULL));
  g_assert_cmpint (import (b, dup, FACET_LABEL_FORMAT_CSV, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (label_state (b, b_clip, 4, 1), ==, FACET_LABEL_PRESENT);

  /* An older Facet's file: video numbers are trusted for one video only. */
  g_assert_true (g_file_set_contents (old, "video,frame,AU01\n1,0,1\n2,0,1\n", -1, NULL));
  g_assert_cmpint (import (b, old, FACET_LABEL_FORMAT_CSV, 0, NULL, &error), ==, -1);
  g_assert_nonnull (strstr (error->message, "older Facet"));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (old, "video,frame,AU01\n1,7,1\n", -1, NULL));
  g_assert_cmpint (import (b, old, FACET_LABEL_FORMAT_CSV, 0, NULL, &error), ==, 1);
  g_assert_cmpint (label_state (b, 1, 7, 1), ==, FACET_LABEL_PRESENT);
}

/* A file name with a comma and quotes survives the round trip (quoted as
 * RFC 4180 says). */
static void
test_labels_quoted_name (void)
{
  g_autofree char *pa = new_project_path (), *pb = new_project_path ();
  g_autofree char *out = tmp_path ("quoted.csv"), *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) a = facet_store_create (pa, &error);
  g_autoptr (FacetStore) b = facet_store_create (pb, &error);
  gint64 va = add_video (a, "odd/take 1, \"best\".bin", 10, 21), vb;

  g_assert_cmpint (facet_store_set_label (a, va, 2, 12, FACET_LABEL_PRESENT, &error), >, 0);
  g_assert_true (facet_store_export_labels (a, out, 0, &error));
  g_assert_true (g_file_get_contents (out, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\n\"take 1, \"\"best\"\".bin\","));
  add_video (b, "other.bin", 10, 22);
  vb = add_video (b, "odd2/take 1, \"best\".bin", 10, 21);
  g_assert_cmpint (import (b, out, FACET_LABEL_FORMAT_CSV, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (label_state (b, vb, 2, 12), ==, FACET_LABEL_PRESENT);
}

/* ---- 2. OpenFace 2.2's layout ------------------------------------------------------------- */

/* The columns FeatureExtraction writes with -2Dfp -pose -gaze -aus, less the
 * eye-region landmarks, in its order. */
static char *
openface_header (void)
{
  static const int reg[] = { 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45 };
  static const int cls[] = { 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45 };
  GString *s = g_string_new ("frame,face_id,timestamp,confidence,success,gaze_0_x,gaze_0_y,"
                             "gaze_0_z,gaze_1_x,gaze_1_y,gaze_1_z,gaze_angle_x,gaze_angle_y,"
                             "pose_Tx,pose_Ty,pose_Tz,pose_Rx,pose_Ry,pose_Rz");

  for (int i = 0; i < 68; i++)
    g_string_append_printf (s, ",x_%d", i);
  for (int i = 0; i < 68; i++)
    g_string_append_printf (s, ",y_%d", i);
  for (guint i = 0; i < G_N_ELEMENTS (reg); i++)
    g_string_append_printf (s, ",AU%02d_r", reg[i]);
  for (guint i = 0; i < G_N_ELEMENTS (cls); i++)
    g_string_append_printf (s, ",AU%02d_c", cls[i]);
  return g_string_free (s, FALSE);
}

static void
test_openface (void)
{
  g_autofree char *path = new_project_path (), *hand_path = new_project_path ();
  g_autofree char *of = tmp_path ("openface.csv"), *hand_of = tmp_path ("openface-hand.csv");
  g_autofree char *text = NULL, *header = openface_header ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (FacetStore) hand = facet_store_create (hand_path, &error);
  const int aus[] = { 1, 12, 24 };
  FacetFrameResult results[7] = { 0 };
  float probs[7 * 3];
  FacetExportOptions opt = { FACET_EXPORT_OPENFACE, 0, 0, 0.5f };
  FacetLabel l = { .video_id = 1, .frame = 8, .au = 12, .state = FACET_LABEL_PRESENT,
                   .intensity = 0.4f };
  gint64 video = add_video (store, "of.bin", 10, 31), model = add_model (store, aus, 3, 32);

  for (int i = 0; i < 7; i++)
    {
      results[i] = (FacetFrameResult) { .frame = i, .time = i / 30.0, .quality = 0.5f };
      results[i].status = i < 5 ? FACET_STORE_FACE_FOUND : FACET_STORE_FACE_NONE;
      results[i].has_landmarks = i < 5;
      for (int k = 0; k < 68; k++)
        results[i].landmarks[2 * k] = (float) k, results[i].landmarks[2 * k + 1] = 100.0f + k;
      probs[3 * i] = i == 2 ? 0.9f : 0.1f;
      probs[3 * i + 1] = probs[3 * i + 2] = 0.2f;
      results[i].probs = i < 5 ? probs + 3 * i : NULL;
    }
  g_assert_true (facet_store_write_results (store, model, video, results, 7, &error));
  g_assert_cmpint (facet_store_write_labels (store, &l, 1, "AU12 with intensity", &error), >, 0);
  /* AU05 is no AU of the model, but OpenFace has a column for it. */
  g_assert_cmpint (facet_store_set_label (store, video, 5, 5, FACET_LABEL_PRESENT, &error), >, 0);

  g_assert_true (facet_store_export (store, &opt, of, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (of, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, header));
  g_assert_cmpint (text[strlen (header)], ==, '\n');
  g_assert_null (strstr (text, "AU24"));
  /* Rows: the analysed frames 0-6 and the labelled frame 8, from 1. */
  assert_cell (text, 0, "frame", "1");
  assert_cell (text, 7, "frame", "9");
  g_assert_null (strstr (text, "\n8,"));
  /* A face Facet found: success 1, its quality 0.5 mapped to 0.9. */
  assert_cell (text, 0, "success", "1");
  assert_cell (text, 0, "confidence", "0.9000");
  assert_cell (text, 0, "x_3", "3.00");
  assert_cell (text, 0, "y_67", "167.00");
  assert_cell (text, 2, "AU01_c", "1");
  assert_cell (text, 0, "AU01_c", "0");
  assert_cell (text, 0, "AU01_r", "");
  assert_cell (text, 0, "gaze_0_x", "");
  assert_cell (text, 0, "AU45_c", "");
  /* No face, but a coder coded AU05: tracked for sure. */
  assert_cell (text, 5, "success", "1");
  assert_cell (text, 5, "confidence", "1.0000");
  assert_cell (text, 5, "AU05_c", "1");
  assert_cell (text, 5, "x_0", "");
  /* No face, nothing coded. */
  assert_cell (text, 6, "success", "0");
  assert_cell (text, 6, "confidence", "0.0000");
  assert_cell (text, 6, "AU01_c", "");
  /* The coder's intensity 0.4 is OpenFace's 2 of 5. */
  assert_cell (text, 7, "AU12_r", "2.00");
  assert_cell (text, 7, "AU12_c", "1");
  assert_cell (text, 7, "success", "1");

  /* Labels and no model: every coded frame passes OpenFace's usual filter. */
  add_video (hand, "hand.bin", 10, 33);
  g_assert_cmpint (facet_store_set_label_range (hand, 1, 0, 9, 12, FACET_LABEL_ABSENT,
                                                FACET_LABEL_SOURCE_HUMAN, &error), >, 0);
  g_assert_true (facet_store_export (hand, &opt, hand_of, &error));
  g_assert_no_error (error);
  g_clear_pointer (&text, g_free);
  g_assert_true (g_file_get_contents (hand_of, &text, NULL, NULL));
  for (guint r = 0; r < 10; r++)
    {
      assert_cell (text, r, "success", "1");
      assert_cell (text, r, "confidence", "1.0000");
      assert_cell (text, r, "AU12_c", "0");
    }
}

/* ---- 3. DISFA files cut short or with a lost line ---------------------------------------- */

static void
test_disfa_short (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *dir = tmp_path ("SN009");
  g_autofree char *au1 = g_build_filename (dir, "SN009_au1.txt", NULL);
  g_autofree char *au2 = g_build_filename (dir, "SN009_au2.txt", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (FacetLabelFile) f = NULL;
  FacetLabelImportOptions opt = { .format = FACET_LABEL_FORMAT_DISFA };

  add_video (store, "LeftVideoSN009_comp.bin", 10, 41);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (au1, "1,3\n2,3\n3,3\n4,3\n5,3\n6,3\n7,3\n8,3\n9,3\n10,3\n",
                                      -1, NULL));
  g_assert_true (g_file_set_contents (au2, "1,3\n2,3\n3,3\n4,3\n", -1, NULL));
  g_assert_cmpint (facet_store_import_labels (store, dir, &opt, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "/SN009_au2.txt:4: ends at frame 4"));
  g_assert_nonnull (strstr (error->message, "cut short"));
  g_assert_nonnull (strstr (error->message, "SN009_au1.txt"));
  g_clear_error (&error);
  g_assert_cmpint (label_state (store, 1, 0, 1), ==, FACET_LABEL_UNSET);

  /* A lost line: frame 3 is missing. */
  f = facet_label_file_parse ("1,0\n2,0\n4,0\n5,0\n", 16, "SN009_au1.txt", &opt, &error);
  g_assert_null (f);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_PARSE);
  g_assert_true (g_str_has_prefix (error->message, "SN009_au1.txt:3:1:"));
  g_assert_nonnull (strstr (error->message, "missing"));
}

/* ---- 4. Events at a stride ----------------------------------------------------------------- */

static void
test_stride_events (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *ev = tmp_path ("stride-events.csv"), *sm = tmp_path ("stride-summary.csv");
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  const int aus[] = { 1 };
  FacetFrameResult results[10] = { 0 };
  float probs[10];
  FacetExportOptions opt = { FACET_EXPORT_EVENTS, 0, 0, 0.5f };
  gint64 video = add_video (store, "stride.bin", 30, 51), model = add_model (store, aus, 1, 52);

  /* Every 3rd frame of 30 analysed; AU1 at frames 3-9, 21 and 27. */
  for (int i = 0; i < 10; i++)
    {
      gint64 frame = 3 * i;
      probs[i] = (frame >= 3 && frame <= 9) || frame == 21 || frame == 27 ? 0.9f : 0.1f;
      results[i] = (FacetFrameResult) { .frame = frame, .time = frame / 30.0,
                                        .status = FACET_STORE_FACE_WHOLE, .quality = 1.0f,
                                        .probs = probs + i };
    }
  g_assert_true (facet_store_write_results (store, model, video, results, 10, &error));
  g_assert_true (facet_store_export (store, &opt, ev, &error));
  g_assert_true (g_file_get_contents (ev, &text, NULL, NULL));
  /* Each row stands for 3 frames: an event of rows 3, 6, 9 is frames 3-11. */
  assert_cell (text, 0, "onset_frame", "3");
  assert_cell (text, 0, "offset_frame", "11");
  assert_cell (text, 0, "duration", "0.300000");
  assert_cell (text, 1, "offset_frame", "23");
  assert_cell (text, 1, "duration", "0.100000");
  assert_cell (text, 2, "offset_frame", "29");
  assert_cell (text, 2, "offset_time", "1.000000");

  /* The summary agrees: 15 of 30 frames present, 3 events of 0.5 s in all. */
  opt.format = FACET_EXPORT_SUMMARY;
  g_assert_true (facet_store_export (store, &opt, sm, &error));
  g_clear_pointer (&text, g_free);
  g_assert_true (g_file_get_contents (sm, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\n1,\"S1\",AU01,10,50.000,3,180.0000,0.1667\n"));
}

/* ---- 5. ELAN documents -------------------------------------------------------------------- */

static void
test_eaf (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *eaf = tmp_path ("elan.eaf"), *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  const int aus[] = { 1, 2, 4 };
  FacetFrameResult results[6] = { 0 };
  float probs[6 * 3];
  FacetExportOptions opt = { FACET_EXPORT_EAF, 0, 0, 0.5f };
  char probe[16];
  gint64 video = add_video (store, "my clip #1.bin", 6, 61), model = add_model (store, aus, 3, 62);

  for (int i = 0; i < 6; i++)
    {
      probs[3 * i] = i == 1 ? 0.7f : 0.1f;
      probs[3 * i + 1] = probs[3 * i + 2] = 0.1f;
      results[i] = (FacetFrameResult) { .frame = i, .time = i / 30.0,
                                        .status = FACET_STORE_FACE_WHOLE, .quality = 1.0f,
                                        .probs = probs + 3 * i };
    }
  g_assert_true (facet_store_write_results (store, model, video, results, 6, &error));
  facet_store_set_coder (store, "ana");
  g_assert_cmpint (facet_store_set_label (store, video, 4, 4, FACET_LABEL_PRESENT, &error), >, 0);

  /* German numbers: "0,70" is what printf would write. */
  g_assert_nonnull (setlocale (LC_ALL, "de_DE.UTF-8"));
  g_snprintf (probe, sizeof probe, "%.2f", 0.7);
  g_assert_cmpstr (probe, ==, "0,70");
  g_assert_true (facet_store_export (store, &opt, eaf, &error));
  setlocale (LC_ALL, "C");
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (eaf, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "(model, peak 0.70)"));
  g_assert_null (strstr (text, "0,70"));
  g_assert_nonnull (strstr (text, "RELATIVE_MEDIA_URL=\"./my%20clip%20%231.bin\""));
  /* AU2 has no event in this video: no tier for it. */
  g_assert_nonnull (strstr (text, "TIER_ID=\"AU01\""));
  g_assert_null (strstr (text, "TIER_ID=\"AU02\""));
  /* Who made the events: the model for AU1, ana for AU4. */
  g_assert_nonnull (strstr (text, "TIER_ID=\"AU01\" LINGUISTIC_TYPE_REF=\"facet-au\" "
                                  "ANNOTATOR=\"Facet\""));
  g_assert_nonnull (strstr (text, "TIER_ID=\"AU04\" LINGUISTIC_TYPE_REF=\"facet-au\" "
                                  "ANNOTATOR=\"ana\""));
}

/* ---- 6. Messages in the file's counting, JSON arrays, Windows paths ------------------------- */

static void
test_one_based_and_json (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *bp4d = tmp_path ("F001_T9.csv"), *json = tmp_path ("array.json");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (FacetLabelFile) f = NULL;
  FacetLabelImportOptions opt = { .format = FACET_LABEL_FORMAT_FMAE_JSON };
  const char *array = "[\n"
                      "  {\n"
                      "    \"img_path\": \"F001_T9\\\\frame_1.jpg\",\n"
                      "    \"AUs\": [12, 999]\n"
                      "  },\n"
                      "  {\n"
                      "    \"img_path\": \"F001_T9\\\\frame_2.jpg\",\n"
                      "    \"AUs\": [999, 999]\n"
                      "  }\n"
                      "]\n";
  GString *s = g_string_new ("0,1,2,4,6,7,10,12,14,15,17,23,24\n");

  add_video (store, "F001_T9.bin", 50, 71);
  /* BP4D counts from 1: line 52 holds frame 51 of a 50-frame video. */
  for (int frame = 1; frame <= 51; frame++)
    g_string_append_printf (s, "%d,0,0,0,0,0,0,1,0,0,0,0,0\n", frame);
  g_assert_true (g_file_set_contents (bp4d, s->str, -1, NULL));
  g_string_free (s, TRUE);
  g_assert_cmpint (import (store, bp4d, FACET_LABEL_FORMAT_BP4D, 0, NULL, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, ":52: frame 51 is outside video 1 (frames 1-50"));
  g_clear_error (&error);

  /* A pretty-printed array of FMAE-IAT objects, written on Windows. */
  f = facet_label_file_parse (array, strlen (array), "array.json", &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->labels->len, ==, 2 * 12);
  g_assert_cmpstr (g_array_index (f->labels, FacetParsedLabel, 0).video_key, ==, "F001_T9");
  g_assert_cmpint (g_array_index (f->labels, FacetParsedLabel, 0).line, ==, 2);
  g_assert_cmpint (g_array_index (f->labels, FacetParsedLabel, 12).frame, ==, 1);
  g_assert_cmpint (g_array_index (f->labels, FacetParsedLabel, 12).line, ==, 6);
  g_assert_true (g_file_set_contents (json, array, -1, NULL));
  g_assert_cmpint (import (store, json, FACET_LABEL_FORMAT_FMAE_JSON, 0, NULL, &error), ==, 24);
  g_assert_no_error (error);
  g_assert_cmpint (label_state (store, 1, 0, 12), ==, FACET_LABEL_PRESENT);
  g_clear_pointer (&f, facet_label_file_free);
  /* A bad item is reported at its own line. */
  array = "[{\"img_path\": \"a/frame_1.jpg\", \"AUs\": [12]},\n"
          " {\"img_path\": \"a/frame_2.jpg\", \"AUs\": [7]}]\n";
  f = facet_label_file_parse (array, strlen (array), "bad.json", &opt, &error);
  g_assert_null (f);
  g_assert_true (g_str_has_prefix (error->message, "bad.json:2:"));
}

int
main (int    argc,
      char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("facet-interop-XXXXXX", NULL);
  g_setenv ("FACET_CODER", "tester", TRUE);

  g_test_add_func ("/interop/labels/by-file", test_labels_by_file);
  g_test_add_func ("/interop/labels/quoted-name", test_labels_quoted_name);
  g_test_add_func ("/interop/export/openface", test_openface);
  g_test_add_func ("/interop/import/disfa-short", test_disfa_short);
  g_test_add_func ("/interop/export/stride-events", test_stride_events);
  g_test_add_func ("/interop/export/eaf", test_eaf);
  g_test_add_func ("/interop/import/one-based-json", test_one_based_and_json);

  rc = g_test_run ();
  if (rc == 0)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
      g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
    }
  g_free (tmpdir);
  return rc;
}
