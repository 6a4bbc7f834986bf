/* test-store.c — the project store through its C API: schema and
 * migrations, labels with history and undo, predictions, the timeline and
 * the review queue, imports and exports, shards, concurrency, hostile input */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "store/facet-store.h"
#include "store/store-private.h"

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* A unique project path per test. */
static char *
new_project_path (void)
{
  static int n;
  g_autofree char *name = g_strdup_printf ("p%d.facet", ++n);
  return tmp_path (name);
}

/* The store only hashes media; any file stands in for a video here. */
static char *
make_media (const char *name,
            gsize       size,
            guint8      seed)
{
  g_autofree guint8 *data = g_malloc (size);
  char *path = tmp_path (name);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 31 + seed);
  g_assert_true (g_file_set_contents (path, (const char *) data, (gssize) size, NULL));
  return path;
}

static gint64
add_video (FacetStore *store,
           const char *name,
           const char *subject,
           gint64      n_frames,
           guint8      seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = make_media (name, 1000 + seed, seed);
  FacetStoreVideoInfo info = { path, subject, FACET_CROP_NONE, n_frames, 30.0, 64, 64 };
  gint64 id = facet_store_add_video (store, &info, &error);

  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static gint64
add_model (FacetStore  *store,
           const char  *name,
           const int   *aus,
           int          n_aus,
           guint8       seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = make_media (name, 500, seed);
  FacetStoreModelInfo info = { .file = path, .n_aus = n_aus, .au_ids = aus,
                               .config_json = "{\"image_size\": 64}" };
  gint64 id = facet_store_add_model (store, &info, &error);

  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static char *
file_sha (const char *path)
{
  g_autofree char *data = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}

/* ---- Schema ---------------------------------------------------------------------- */

static void
test_create_open (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autofree char *id = NULL;
  FacetStore *again;

  g_assert_no_error (error);
  g_assert_cmpint (facet_store_get_schema_version (store), ==, FACET_STORE_SCHEMA_VERSION);
  g_assert_cmpuint (strlen (facet_store_get_project_id (store)), ==, 32);
  id = g_strdup (facet_store_get_project_id (store));
  g_assert_true (facet_store_check_integrity (store, &error));
  g_clear_pointer (&store, facet_store_close);

  /* Creating over an existing file is refused. */
  again = facet_store_create (path, &error);
  g_assert_null (again);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_EXISTS);
  g_clear_error (&error);

  store = facet_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (facet_store_get_project_id (store), ==, id);
}

static void
test_not_a_project (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = tmp_path ("notes.facet");
  g_autofree char *other = tmp_path ("other.sqlite");
  g_autofree char *missing = tmp_path ("missing.facet");
  g_autofree char *before = NULL, *after = NULL;
  FacetStore *store;

  g_assert_true (g_file_set_contents (text, "just some text, not SQLite", -1, NULL));
  store = facet_store_open (text, &error);
  g_assert_null (store);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT);
  g_clear_error (&error);

  /* Another program's SQLite file. */
  {
    g_autofree char *cmd = g_strdup_printf ("sqlite3 '%s' 'CREATE TABLE t (x); PRAGMA user_version = 7;'", other);
    g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  }
  before = file_sha (other);
  store = facet_store_open (other, &error);
  g_assert_null (store);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "not a Facet project"));
  g_clear_error (&error);
  after = file_sha (other);
  g_assert_cmpstr (before, ==, after);

  store = facet_store_open (missing, &error);
  g_assert_null (store);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
}

static void
test_refuse_newer (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL;
  FacetStore *store = facet_store_create (path, &error);

  g_assert_no_error (error);
  add_video (store, "newer.bin", "S1", 10, 3);
  g_assert_true (facet_store_exec_sql (store, "PRAGMA user_version = 99", &error));
  g_assert_no_error (error);
  facet_store_close (store);

  before = file_sha (path);
  store = facet_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_TOO_NEW);
  g_assert_nonnull (strstr (error->message, "newer Facet"));
  g_assert_nonnull (strstr (error->message, "99"));
  after = file_sha (path);
  g_assert_cmpstr (before, ==, after);
}

/* A project in format 1, with data in every table, comes up as format 2
 * with the data kept, the history undoable, and the same schema a new
 * project has. */
static void
test_migrate_v1 (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *fresh = new_project_path ();
  g_autofree char *media = make_media ("v1-video.bin", 2000, 7);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create_at_version (path, 1, &error);
  g_autoptr (FacetStore) clean = NULL;
  g_autoptr (FacetStoreVideo) video = NULL;
  g_autoptr (FacetStoreModel) model = NULL;
  g_autoptr (GArray) history = NULL;
  g_autofree char *sql = NULL;
  FacetLabel label;
  float probs[2];
  gboolean found;

  g_assert_no_error (error);
  g_assert_cmpint (facet_store_get_schema_version (store), ==, 1);
  sql = g_strdup_printf (
    "INSERT INTO coders VALUES (1, 'ana', 1.0);"
    "INSERT INTO subjects VALUES (1, 'S01', 1.0);"
    "INSERT INTO videos VALUES (1, 1, 'v1-video.bin', '%s', 2000, 'abc', 100, 25.0, 64, 48, 'box', 2.0);"
    "INSERT INTO models VALUES (1, 'old', 'old.safetensors', NULL, 3.0, '1,12', '{}', '{}');"
    "INSERT INTO runs VALUES (1, 1, 4.0, 5.0, 'done', 100, '{}');"
    "INSERT INTO faces VALUES (1, 5, 0, 1.0, 2.0, 30.0, 30.0, NULL, 0.9);"
    "INSERT INTO predictions VALUES (1, 1, 5, X'FFFF0000');"
    "INSERT INTO labels VALUES (1, 5, 12, 1, 1, 6.0, 0);"
    "INSERT INTO label_history VALUES (1, 1, 5, 12, 0, 1, 0, 1, 6.0);", media);
  g_assert_true (facet_store_exec_sql (store, sql, &error));
  g_assert_no_error (error);
  g_clear_pointer (&store, facet_store_close);

  store = facet_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (facet_store_get_schema_version (store), ==, FACET_STORE_SCHEMA_VERSION);
  g_assert_true (facet_store_check_integrity (store, &error));
  g_assert_cmpuint (strlen (facet_store_get_project_id (store)), ==, 32);

  video = facet_store_get_video (store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (video->subject, ==, "S01");
  g_assert_cmpint (video->n_frames, ==, 100);
  g_assert_cmpint (video->crop, ==, FACET_CROP_BOX);
  model = facet_store_get_model (store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (model->n_aus, ==, 2);
  g_assert_cmpint (model->au_ids[1], ==, 12);
  g_assert_cmpfloat (model->thresholds[0], ==, 0.5f);
  g_assert_true (facet_store_get_prediction (store, 1, 1, 5, probs, &found, &error));
  g_assert_true (found);
  g_assert_cmpfloat (probs[0], ==, 1.0f);
  g_assert_cmpfloat (probs[1], ==, 0.0f);
  /* The timeline summaries were built from the old predictions. */
  {
    g_autoptr (GArray) tl = facet_store_get_timeline (store, 1, 1, 1, 0, 99, 1, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_array_index (tl, FacetTimelineBucket, 0).n, ==, 1);
    g_assert_cmpfloat (g_array_index (tl, FacetTimelineBucket, 0).max, ==, 1.0f);
  }
  g_assert_true (facet_store_get_label (store, 1, 5, 12, &label, &error));
  g_assert_cmpint (label.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpstr (label.coder, ==, "ana");
  g_assert_true (isnan (label.intensity));
  history = facet_store_get_label_history (store, 1, 5, 12, &error);
  g_assert_cmpuint (history->len, ==, 1);

  /* The old change is ana's to undo. */
  facet_store_set_coder (store, "ana");
  g_assert_cmpint (facet_store_undo (store, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_true (facet_store_get_label (store, 1, 5, 12, &label, &error));
  g_assert_cmpint (label.state, ==, FACET_LABEL_UNSET);

  /* Migrated and new projects have the same tables, columns and indexes. */
  clean = facet_store_create (fresh, &error);
  g_assert_no_error (error);
  {
    const char *q = "SELECT group_concat (type || ' ' || name || ' ' || coalesce (sql, ''), '\n') "
                    "FROM (SELECT * FROM sqlite_schema ORDER BY name)";
    g_autofree char *cmd_a = g_strdup_printf ("sqlite3 '%s' \"%s\"", path, q);
    g_autofree char *cmd_b = g_strdup_printf ("sqlite3 '%s' \"%s\"", fresh, q);
    g_autofree char *out_a = NULL, *out_b = NULL;
    g_assert_true (g_spawn_command_line_sync (cmd_a, &out_a, NULL, NULL, NULL));
    g_assert_true (g_spawn_command_line_sync (cmd_b, &out_b, NULL, NULL, NULL));
    g_assert_cmpuint (strlen (out_a), >, 100);
    g_assert_cmpstr (out_a, ==, out_b);
  }
}

/* ---- Videos --------------------------------------------------------------------- */

static void
test_videos_moved_changed (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *sub = tmp_path ("moving");
  g_autofree char *moved_dir = tmp_path ("moved");
  g_autofree char *project = NULL, *media = NULL, *resolved = NULL;
  g_autofree char *new_project = NULL, *new_media = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetStoreVideo) v = NULL;
  FacetStoreVideoInfo info = { NULL, "S 1", FACET_CROP_ALIGNED, 50, 25.0, 32, 32 };
  gint64 id;

  g_assert_cmpint (g_mkdir_with_parents (sub, 0777), ==, 0);
  project = g_build_filename (sub, "study.facet", NULL);
  media = g_build_filename (sub, "clip.bin", NULL);
  g_assert_true (g_file_set_contents (media, "0123456789", -1, NULL));
  store = facet_store_create (project, &error);
  g_assert_no_error (error);
  info.path = media;
  id = facet_store_add_video (store, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, ==, 1);

  /* The same content again is refused, naming the video. */
  {
    g_autofree char *copy = g_build_filename (sub, "copy.bin", NULL);
    g_assert_true (g_file_set_contents (copy, "0123456789", -1, NULL));
    info.path = copy;
    g_assert_cmpint (facet_store_add_video (store, &info, &error), ==, 0);
    g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_EXISTS);
    g_assert_nonnull (strstr (error->message, "video 1"));
    g_clear_error (&error);
  }
  v = facet_store_get_video (store, id, &error);
  g_assert_cmpstr (v->path, ==, "clip.bin");
  g_assert_cmpint (v->size, ==, 10);
  g_assert_cmpint (facet_store_check_video (store, id, TRUE, &resolved, &error), ==, FACET_VIDEO_OK);
  g_clear_pointer (&store, facet_store_close);

  /* Move the folder: the relative path still finds the video. */
  g_assert_cmpint (g_rename (sub, moved_dir), ==, 0);
  new_project = g_build_filename (moved_dir, "study.facet", NULL);
  new_media = g_build_filename (moved_dir, "clip.bin", NULL);
  store = facet_store_open (new_project, &error);
  g_assert_no_error (error);
  g_clear_pointer (&resolved, g_free);
  g_assert_cmpint (facet_store_check_video (store, id, TRUE, &resolved, &error), ==, FACET_VIDEO_OK);
  g_assert_cmpstr (resolved, ==, new_media);

  /* Same size, other content: only the hash notices. */
  g_assert_true (g_file_set_contents (new_media, "0123456780", -1, NULL));
  g_assert_cmpint (facet_store_check_video (store, id, FALSE, NULL, &error), ==, FACET_VIDEO_OK);
  g_assert_cmpint (facet_store_check_video (store, id, TRUE, NULL, &error), ==, FACET_VIDEO_CHANGED);
  g_assert_true (g_file_set_contents (new_media, "01234", -1, NULL));
  g_assert_cmpint (facet_store_check_video (store, id, FALSE, NULL, &error), ==, FACET_VIDEO_CHANGED);
  g_assert_cmpint (g_unlink (new_media), ==, 0);
  g_assert_cmpint (facet_store_check_video (store, id, FALSE, NULL, &error), ==, FACET_VIDEO_MISSING);
  g_assert_null (facet_store_resolve_video (store, id, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Relocating needs the same content. */
  {
    g_autofree char *elsewhere = tmp_path ("found-again.bin");
    g_autofree char *wrong = tmp_path ("wrong.bin");
    g_assert_true (g_file_set_contents (elsewhere, "0123456789", -1, NULL));
    g_assert_true (g_file_set_contents (wrong, "9876543210", -1, NULL));
    g_assert_false (facet_store_relocate_video (store, id, wrong, &error));
    g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH);
    g_clear_error (&error);
    g_assert_true (facet_store_relocate_video (store, id, elsewhere, &error));
    g_assert_no_error (error);
    g_assert_cmpint (facet_store_check_video (store, id, TRUE, NULL, &error), ==, FACET_VIDEO_OK);
    g_clear_pointer (&v, facet_store_video_free);
    v = facet_store_get_video (store, id, &error);
    g_assert_cmpstr (v->path, ==, "../found-again.bin");
  }
}

/* ---- Labels, history, undo --------------------------------------------------------- */

static void
count_watch (FacetStore      *store,
             FacetStoreChange what,
             gint64           video,
             gint64           first,
             gint64           last,
             gpointer         data)
{
  gint64 *seen = data;
  if (what & FACET_STORE_CHANGE_LABELS)
    {
      seen[0]++;
      seen[1] = video;
      seen[2] = first;
      seen[3] = last;
    }
}

static void
test_labels_undo_redo (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GArray) frame_labels = NULL, segments = NULL, counts = NULL, frames = NULL;
  gint64 seen[4] = { 0 }, video, serial, id;
  FacetLabel l;

  video = add_video (store, "labels.bin", "S1", 1000, 11);
  facet_store_set_coder (store, "ana");
  facet_store_add_watch (store, count_watch, seen, NULL);
  serial = facet_store_get_serial (store, FACET_STORE_CHANGE_LABELS);

  id = facet_store_set_label_range (store, video, 100, 199, 12, FACET_LABEL_PRESENT,
                                    FACET_LABEL_SOURCE_HUMAN, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (seen[0], ==, 1);
  g_assert_cmpint (seen[1], ==, video);
  g_assert_cmpint (seen[2], ==, 100);
  g_assert_cmpint (seen[3], ==, 199);
  g_assert_cmpint (facet_store_get_serial (store, FACET_STORE_CHANGE_LABELS), >, serial);

  g_assert_cmpint (facet_store_set_label (store, video, 150, 12, FACET_LABEL_ABSENT, &error), >, 0);
  g_assert_cmpint (facet_store_set_label (store, video, 150, 4, FACET_LABEL_NOT_CODABLE, &error), >, 0);
  /* Writing what is there already changes nothing and makes no undo step. */
  g_assert_cmpint (facet_store_set_label (store, video, 150, 4, FACET_LABEL_NOT_CODABLE, &error), ==, 0);
  g_assert_no_error (error);

  frame_labels = facet_store_get_frame_labels (store, video, 150, &error);
  g_assert_cmpuint (frame_labels->len, ==, 2);
  g_assert_cmpint (g_array_index (frame_labels, FacetLabel, 0).au, ==, 4);
  g_assert_cmpint (g_array_index (frame_labels, FacetLabel, 1).state, ==, FACET_LABEL_ABSENT);
  segments = facet_store_get_label_segments (store, video, 12, 0, -1, &error);
  g_assert_cmpuint (segments->len, ==, 3);
  g_assert_cmpint (g_array_index (segments, FacetLabelSegment, 0).last, ==, 149);
  g_assert_cmpint (g_array_index (segments, FacetLabelSegment, 1).state, ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (g_array_index (segments, FacetLabelSegment, 2).first, ==, 151);
  counts = facet_store_count_labels (store, video, &error);
  g_assert_cmpuint (counts->len, ==, 2);
  g_assert_cmpint (g_array_index (counts, FacetLabelCount, 1).present, ==, 99);
  g_assert_cmpint (g_array_index (counts, FacetLabelCount, 1).absent, ==, 1);
  g_assert_cmpint (g_array_index (counts, FacetLabelCount, 0).not_codable, ==, 1);
  frames = facet_store_get_labelled_frames (store, video, 0, &error);
  g_assert_cmpuint (frames->len, ==, 100);

  /* Out of range, bad AU: refused, nothing written. */
  g_assert_cmpint (facet_store_set_label_range (store, video, 990, 1000, 12, FACET_LABEL_PRESENT,
                                                FACET_LABEL_SOURCE_HUMAN, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "990"));
  g_clear_error (&error);
  g_assert_cmpint (facet_store_set_label (store, video, 5, 0, FACET_LABEL_PRESENT, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (facet_store_set_label (store, 99, 5, 12, FACET_LABEL_PRESENT, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Another coder's work is not in ana's undo stack. */
  facet_store_set_coder (store, "ben");
  g_assert_cmpint (facet_store_set_label (store, video, 500, 1, FACET_LABEL_PRESENT, &error), >, 0);
  facet_store_set_coder (store, "ana");

  /* Undo survives a restart: close and reopen between steps. */
  g_clear_pointer (&store, facet_store_close);
  store = facet_store_open (path, &error);
  g_assert_no_error (error);
  facet_store_set_coder (store, "ana");
  {
    g_autoptr (FacetChangeset) next = facet_store_peek_undo (store, &error);
    g_assert_nonnull (next);
    g_assert_cmpint (next->n_changes, ==, 1);
    g_assert_nonnull (strstr (next->description, "AU04"));
  }
  g_assert_cmpint (facet_store_undo (store, NULL, &error), >, 0); /* AU4 at 150 */
  g_assert_cmpint (facet_store_undo (store, NULL, &error), >, 0); /* AU12 at 150 */
  g_assert_true (facet_store_get_label (store, video, 150, 12, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_true (facet_store_get_label (store, video, 150, 4, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_UNSET);
  g_clear_pointer (&store, facet_store_close);
  store = facet_store_open (path, &error);
  facet_store_set_coder (store, "ana");
  /* The range is one step. */
  g_assert_cmpint (facet_store_undo (store, NULL, &error), ==, id);
  g_clear_pointer (&frames, g_array_unref);
  frames = facet_store_get_labelled_frames (store, video, 12, &error);
  g_assert_cmpuint (frames->len, ==, 0);
  g_assert_cmpint (facet_store_undo (store, NULL, &error), ==, 0);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOTHING);
  g_clear_error (&error);
  /* Ben's label is still there. */
  g_assert_true (facet_store_get_label (store, video, 500, 1, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpstr (l.coder, ==, "ben");

  /* Redo in the order things were undone: the range first. */
  g_assert_cmpint (facet_store_redo (store, NULL, &error), ==, id);
  g_clear_pointer (&frames, g_array_unref);
  frames = facet_store_get_labelled_frames (store, video, 12, &error);
  g_assert_cmpuint (frames->len, ==, 100);
  g_assert_cmpint (facet_store_redo (store, NULL, &error), >, 0);
  g_assert_true (facet_store_get_label (store, video, 150, 12, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_ABSENT);

  /* A new change ends the redo chain. */
  g_assert_cmpint (facet_store_undo (store, NULL, &error), >, 0);
  g_assert_cmpint (facet_store_set_label (store, video, 10, 2, FACET_LABEL_ABSENT, &error), >, 0);
  g_assert_null (facet_store_peek_redo (store, &error));
  g_assert_no_error (error);

  /* A cell that someone else changed since is left alone by undo. */
  g_assert_cmpint (facet_store_set_label (store, video, 700, 6, FACET_LABEL_PRESENT, &error), >, 0);
  facet_store_set_coder (store, "ben");
  g_assert_cmpint (facet_store_set_label (store, video, 700, 6, FACET_LABEL_ABSENT, &error), >, 0);
  facet_store_set_coder (store, "ana");
  {
    gint64 skipped = 0;
    g_assert_cmpint (facet_store_undo (store, &skipped, &error), >, 0);
    g_assert_cmpint (skipped, ==, 1);
    g_assert_true (facet_store_get_label (store, video, 700, 6, &l, &error));
    g_assert_cmpint (l.state, ==, FACET_LABEL_ABSENT);
    g_assert_cmpstr (l.coder, ==, "ben");
  }

  /* Every change is in the history, undo and redo included. */
  {
    g_autoptr (GArray) h = facet_store_get_label_history (store, video, 150, 12, &error);
    g_autoptr (GPtrArray) sets = facet_store_list_changesets (store, "ana", 0, &error);
    g_assert_cmpuint (h->len, ==, 7);
    g_assert_cmpuint (sets->len, >=, 8);
  }
  g_assert_true (facet_store_check_integrity (store, &error));
}

/* ---- Predictions, timeline, review queue ------------------------------------------------ */

static void
test_predictions_timeline (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GArray) timeline = NULL, analysed = NULL;
  g_autoptr (FacetPredictionSet) set = NULL;
  g_autofree FacetFrameResult *results = g_new0 (FacetFrameResult, 1000);
  g_autofree float *probs = g_new (float, 2000);
  const int aus[] = { 6, 12 };
  gint64 video, model;
  float one[2];
  gboolean found;

  video = add_video (store, "pred.bin", "S1", 1000, 21);
  model = add_model (store, "pred-model.safetensors", aus, 2, 22);
  for (int i = 0; i < 1000; i++)
    {
      results[i].frame = i;
      results[i].time = i / 30.0;
      results[i].status = i == 500 ? FACET_STORE_FACE_NONE : FACET_STORE_FACE_FOUND;
      results[i].box[2] = 40.0f;
      results[i].has_landmarks = i == 3;
      results[i].landmarks[10] = 12.5f;
      results[i].has_transform = i == 3;
      results[i].transform[0] = 0.25;
      probs[2 * i] = (float) i / 999.0f;
      probs[2 * i + 1] = 0.5f;
      results[i].probs = i == 500 ? NULL : probs + 2 * i;
    }
  g_assert_true (facet_store_write_results (store, model, video, results, 1000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (facet_store_count_analysed (store, model, video, &error), ==, 1000);

  g_assert_true (facet_store_get_prediction (store, model, video, 999, one, &found, &error));
  g_assert_true (found);
  g_assert_cmpfloat_with_epsilon (one[0], 1.0f, 1e-4f);
  g_assert_true (facet_store_get_prediction (store, model, video, 500, one, &found, &error));
  g_assert_true (found);
  g_assert_true (isnan (one[0]));
  {
    FacetFrameResult face;
    g_assert_true (facet_store_get_face (store, video, 3, &face, &found, &error));
    g_assert_true (found && face.has_landmarks && face.has_transform);
    g_assert_cmpfloat (face.landmarks[10], ==, 12.5f);
    g_assert_cmpfloat (face.transform[0], ==, 0.25);
    g_assert_cmpfloat (face.box[2], ==, 40.0f);
    g_assert_cmpfloat_with_epsilon (face.time, 0.1, 1e-9);
  }

  /* 10 buckets of 1000 frames: wide enough for the block summaries, so
   * inner edges sit on block multiples; every bucket's statistics are
   * those of the frames in its own span. 100 buckets of 5 frames: equal
   * spans from the rows themselves. */
  for (int mode = 0; mode < 3; mode++)
    {
      const gint64 firsts[] = { 0, 37, 0 }, lasts[] = { 999, 960, 499 };
      const guint counts[] = { 10, 7, 100 };
      timeline = facet_store_get_timeline (store, model, video, 6, firsts[mode], lasts[mode],
                                           counts[mode], &error);
      g_assert_no_error (error);
      g_assert_cmpuint (timeline->len, ==, counts[mode]);
      for (guint b = 0; b < timeline->len; b++)
        {
          FacetTimelineBucket *k = &g_array_index (timeline, FacetTimelineBucket, b);
          double lo = INFINITY, hi = -INFINITY, sum = 0;
          guint n = 0;

          if (b == 0)
            g_assert_cmpint (k->first, ==, firsts[mode]);
          else
            g_assert_cmpint (k->first, ==, g_array_index (timeline, FacetTimelineBucket, b - 1).last + 1);
          if (b + 1 == timeline->len)
            g_assert_cmpint (k->last, ==, lasts[mode]);
          if (mode < 2 && b > 0)
            g_assert_cmpint (k->first % FACET_STORE_TIMELINE_BLOCK, ==, 0);
          if (mode == 2)
            g_assert_cmpint (k->last - k->first, ==, 4);
          for (gint64 f = k->first; f <= k->last; f++)
            if (f != 500)
              {
                double p = (double) lrint (f / 999.0 * 65535.0) / 65535.0;
                lo = MIN (lo, p), hi = MAX (hi, p), sum += p, n++;
              }
          g_assert_cmpuint (k->n, ==, n);
          g_assert_cmpfloat_with_epsilon (k->min, lo, 1e-6);
          g_assert_cmpfloat_with_epsilon (k->max, hi, 1e-6);
          g_assert_cmpfloat_with_epsilon (k->mean, sum / n, 1e-5);
        }
      g_clear_pointer (&timeline, g_array_unref);
    }
  /* More buckets than frames: one per frame. A range without data: NaN. */
  timeline = facet_store_get_timeline (store, model, video, 12, 2000, 2004, 100, &error);
  g_assert_cmpuint (timeline->len, ==, 5);
  g_assert_true (isnan (g_array_index (timeline, FacetTimelineBucket, 0).mean));
  g_clear_pointer (&timeline, g_array_unref);
  g_assert_null (facet_store_get_timeline (store, model, video, 4, 0, 10, 5, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  /* Rewriting frames keeps the summaries right: all of AU6 at 0.25 now. */
  for (int i = 0; i < 1000; i++)
    probs[2 * i] = 0.25f;
  g_assert_true (facet_store_write_results (store, model, video, results + 100, 300, &error));
  timeline = facet_store_get_timeline (store, model, video, 6, 0, 999, 4, &error);
  {
    FacetTimelineBucket *k = &g_array_index (timeline, FacetTimelineBucket, 0);
    g_assert_cmpint (k->last, >=, 200);
    g_assert_cmpint (k->last, <, 400);
    /* Frames 0-99 below 0.1, frames 100 on rewritten to 0.25. */
    g_assert_cmpfloat_with_epsilon (k->max, 0.25, 1e-4);
    g_assert_cmpfloat_with_epsilon (k->min, 0.0, 1e-4);
  }
  g_clear_pointer (&timeline, g_array_unref);

  set = facet_store_get_predictions (store, model, video, 10, 19, &error);
  g_assert_cmpuint (set->n, ==, 10);
  g_assert_cmpint (set->frames[0], ==, 10);
  g_assert_cmpfloat_with_epsilon (set->probs[2 * 9 + 1], 0.5f, 1e-4f);
  analysed = facet_store_get_analysed_frames (store, model, video, &error);
  g_assert_cmpuint (analysed->len, ==, 1000);

  /* Face results alone (no model): the face row changes, predictions stay. */
  {
    FacetFrameResult only = { .frame = 7, .time = 7 / 30.0, .status = FACET_STORE_FACE_TOO_SMALL,
                              .box = { 1, 2, 3, 4 }, .quality = 0.1f };
    FacetFrameResult face;
    g_assert_true (facet_store_write_results (store, 0, video, &only, 1, &error));
    g_assert_no_error (error);
    g_assert_true (facet_store_get_face (store, video, 7, &face, &found, &error));
    g_assert_cmpint (face.status, ==, FACET_STORE_FACE_TOO_SMALL);
    g_assert_cmpfloat (face.box[3], ==, 4.0f);
    g_assert_true (facet_store_get_prediction (store, model, video, 7, one, &found, &error));
    g_assert_true (found);
    only.status = 9;
    g_assert_false (facet_store_write_results (store, 0, video, &only, 1, &error));
    g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
    g_clear_error (&error);
  }

  /* Frames outside the video are refused as a whole. */
  results[0].frame = 1000;
  g_assert_false (facet_store_write_results (store, model, video, results, 2, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
}

static void
test_review_queue (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GArray) queue = NULL;
  const int aus[] = { 1, 2 };
  /* AU1 probabilities per frame; AU2 always 0.9. */
  const float p1[] = { 0.10f, 0.48f, 0.52f, 0.95f, 0.70f, 0.02f, 0.45f, 0.60f };
  FacetFrameResult results[8] = { 0 };
  float probs[16];
  gint64 video, model;

  video = add_video (store, "review.bin", "S1", 8, 31);
  model = add_model (store, "review-model.safetensors", aus, 2, 32);
  for (int i = 0; i < 8; i++)
    {
      probs[2 * i] = p1[i];
      probs[2 * i + 1] = 0.9f;
      results[i] = (FacetFrameResult) { .frame = i, .status = FACET_STORE_FACE_WHOLE,
                                        .probs = probs + 2 * i };
    }
  g_assert_true (facet_store_write_results (store, model, video, results, 8, &error));
  /* Labels: frame 3 absent (model says 0.95: strong disagreement), frame 5
   * present (0.02: stronger), frame 4 present (agrees), frame 6 present
   * (0.45: weak disagreement), frame 7 not codable (never in the queue). */
  g_assert_cmpint (facet_store_set_label (store, video, 3, 1, FACET_LABEL_ABSENT, &error), >, 0);
  g_assert_cmpint (facet_store_set_label (store, video, 5, 1, FACET_LABEL_PRESENT, &error), >, 0);
  g_assert_cmpint (facet_store_set_label (store, video, 4, 1, FACET_LABEL_PRESENT, &error), >, 0);
  g_assert_cmpint (facet_store_set_label (store, video, 6, 1, FACET_LABEL_PRESENT, &error), >, 0);
  g_assert_cmpint (facet_store_set_label (store, video, 7, 1, FACET_LABEL_NOT_CODABLE, &error), >, 0);

  queue = facet_store_review_queue (store, model, video, 1, FACET_REVIEW_DISAGREE | FACET_REVIEW_UNCERTAIN,
                                    NAN, 0, &error);
  g_assert_no_error (error);
  {
    /* Disagreements by confidence, then unlabelled frames by closeness. */
    const gint64 order[] = { 5, 3, 6, 1, 2, 0 };
    const FacetReviewKind kinds[] = { FACET_REVIEW_DISAGREE, FACET_REVIEW_DISAGREE,
                                      FACET_REVIEW_DISAGREE, FACET_REVIEW_UNCERTAIN,
                                      FACET_REVIEW_UNCERTAIN, FACET_REVIEW_UNCERTAIN };
    g_assert_cmpuint (queue->len, ==, G_N_ELEMENTS (order));
    for (guint i = 0; i < queue->len; i++)
      {
        FacetReviewItem *it = &g_array_index (queue, FacetReviewItem, i);
        g_assert_cmpint (it->frame, ==, order[i]);
        g_assert_cmpint (it->kind, ==, kinds[i]);
        g_assert_cmpint (it->au, ==, 1);
      }
  }
  g_clear_pointer (&queue, g_array_unref);
  /* A limit keeps the best; frames 1 and 2 tie at 0.02 from 0.5: by frame. */
  queue = facet_store_review_queue (store, model, 0, 1, FACET_REVIEW_UNCERTAIN, NAN, 2, &error);
  g_assert_cmpuint (queue->len, ==, 2);
  g_assert_cmpint (g_array_index (queue, FacetReviewItem, 0).frame, ==, 1);
  g_assert_cmpint (g_array_index (queue, FacetReviewItem, 1).frame, ==, 2);
  g_clear_pointer (&queue, g_array_unref);
  /* Another threshold changes who disagrees: at 0.01 frame 5 (0.02) agrees. */
  queue = facet_store_review_queue (store, model, video, 1, FACET_REVIEW_DISAGREE, 0.01f, 0, &error);
  g_assert_cmpuint (queue->len, ==, 1);
  g_assert_cmpint (g_array_index (queue, FacetReviewItem, 0).frame, ==, 3);
  g_clear_pointer (&queue, g_array_unref);
  /* All AUs: AU2 has no labels, all uncertain at |0.9 - 0.5|. */
  queue = facet_store_review_queue (store, model, video, 0, FACET_REVIEW_UNCERTAIN, NAN, 0, &error);
  g_assert_cmpuint (queue->len, ==, 3 + 8);
}

/* ---- Models ----------------------------------------------------------------------------- */

static void
test_models (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GPtrArray) models = NULL;
  g_autoptr (FacetStoreModel) m = NULL;
  g_autofree char *file = make_media ("child.safetensors", 300, 41);
  g_autofree char *resolved = NULL;
  const int aus[] = { 1, 2, 4 };
  const float thr[] = { 0.3f, 0.5f, 0.7f };
  gint64 parent, child, again;

  g_assert_cmpint (facet_store_latest_model (store, &error), ==, 0);
  parent = add_model (store, "parent.safetensors", aus, 3, 42);
  {
    FacetStoreModelInfo info = { .file = file, .name = "fine-tuned ' \"; DROP TABLE models; --",
                                 .parent_id = parent, .n_aus = 3, .au_ids = aus, .thresholds = thr,
                                 .config_json = "{\"a\": 1}", .settings_json = "{\"mode\": \"heads\"}",
                                 .data_json = "{\"videos\": [1]}" };
    child = facet_store_add_model (store, &info, &error);
    g_assert_no_error (error);
    again = facet_store_add_model (store, &info, &error);
    g_assert_cmpint (again, ==, child);
    info.config_json = "{not json";
    g_assert_cmpint (facet_store_add_model (store, &info, &error), ==, 0);
    g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
    g_clear_error (&error);
  }
  g_assert_true (facet_store_set_model_metrics (store, child, "{\"f1_mean\": 0.71}", &error));
  m = facet_store_get_model (store, child, &error);
  g_assert_cmpstr (m->name, ==, "fine-tuned ' \"; DROP TABLE models; --");
  g_assert_cmpstr (m->file, ==, "child.safetensors");
  g_assert_cmpint (m->parent_id, ==, parent);
  g_assert_cmpfloat (m->thresholds[2], ==, 0.7f);
  g_assert_cmpstr (m->metrics_json, ==, "{\"f1_mean\": 0.71}");
  g_assert_cmpstr (m->settings_json, ==, "{\"mode\": \"heads\"}");
  resolved = facet_store_model_path (store, m);
  g_assert_cmpstr (resolved, ==, file);
  models = facet_store_list_models (store, &error);
  g_assert_cmpuint (models->len, ==, 2);
  g_assert_cmpint (facet_store_latest_model (store, &error), ==, child);
  g_assert_cmpint (facet_store_find_model (store, m->sha256, &error), ==, child);

  {
    gint64 run = facet_store_begin_run (store, child, "{\"stride\": 2}", &error);
    g_autoptr (GPtrArray) runs = NULL;
    g_assert_cmpint (run, >, 0);
    g_assert_true (facet_store_end_run (store, run, "done", 42, &error));
    runs = facet_store_list_runs (store, &error);
    g_assert_cmpuint (runs->len, ==, 1);
    g_assert_cmpstr (((FacetStoreRun *) runs->pdata[0])->status, ==, "done");
    g_assert_cmpint (((FacetStoreRun *) runs->pdata[0])->frames, ==, 42);
  }
}

/* ---- Hostile input ------------------------------------------------------------------------ */

static void
test_hostile_names (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GPtrArray) subjects = NULL;
  const char *evil = "Robert'); DROP TABLE videos;-- \"%s%n\\";
  g_autofree char *huge = g_strnfill (1 << 20, 'x');
  g_autofree char *media = make_media ("it's a \"video\"; -- %s.bin", 100, 51);
  FacetStoreVideoInfo info = { media, evil, FACET_CROP_BOX, 10, 30.0, 8, 8 };
  gint64 id;

  id = facet_store_add_video (store, &info, &error);
  g_assert_no_error (error);
  subjects = facet_store_list_subjects (store, &error);
  g_assert_cmpstr (((FacetStoreSubject *) subjects->pdata[0])->name, ==, evil);
  {
    g_autoptr (FacetStoreVideo) v = facet_store_get_video (store, id, &error);
    g_assert_cmpstr (v->path, ==, "it's a \"video\"; -- %s.bin");
  }
  /* Invalid UTF-8 and huge names are refused. */
  info.subject = "bad \xff\xfe name";
  g_assert_cmpint (facet_store_add_video (store, &info, &error), ==, 0);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (facet_store_add_subject (store, huge, &error), ==, 0);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  /* Coder names are made valid, never refused. */
  facet_store_set_coder (store, "co\xff" "der'; --");
  g_assert_cmpint (facet_store_set_label (store, id, 1, 1, FACET_LABEL_PRESENT, &error), >, 0);
  g_assert_no_error (error);
  {
    g_auto (GStrv) coders = facet_store_list_coders (store, &error);
    g_assert_true (g_utf8_validate (coders[0], -1, NULL));
  }
  g_assert_true (facet_store_check_integrity (store, &error));
}

/* A project from elsewhere whose video path climbs out with "../": it is
 * resolved to a real, canonical place and its content is checked. */
static void
test_hostile_paths (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autofree char *resolved = NULL;
  gint64 id = add_video (store, "climb.bin", "S", 10, 61);

  g_assert_true (facet_store_exec_sql (store,
                                       "UPDATE videos SET path = '../../../../../../../../etc/passwd',"
                                       " abs_path = '/nonexistent/x'", &error));
  g_assert_cmpint (facet_store_check_video (store, id, TRUE, &resolved, &error), ==,
                   FACET_VIDEO_CHANGED);
  g_assert_cmpstr (resolved, ==, "/etc/passwd");
  g_assert_null (strstr (resolved, ".."));
}

/* ---- Imports ------------------------------------------------------------------------------ */

static FacetLabelFile *
parse (const char      *text,
       const char      *name,
       FacetLabelFormat format,
       GError         **error)
{
  FacetLabelImportOptions opt = { .format = format };
  return facet_label_file_parse (text, strlen (text), name, &opt, error);
}

static void
expect_parse_error (const char      *text,
                    FacetLabelFormat format,
                    const char      *where)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetLabelFile) f = parse (text, "bad.txt", format, &error);

  g_assert_null (f);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_PARSE);
  if (!g_str_has_prefix (error->message, where))
    g_error ("expected the error at %s, got: %s", where, error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static void
test_parse_formats (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetLabelFile) f = NULL;
  FacetParsedLabel *l;

  /* Facet csv (the synth layout), with intensities and an empty cell. */
  f = parse ("frame,AU01,AU01_i,AU12,AU12_i\n0,1,0.75,0,\n1,,,9,\n", "x.labels.csv",
             FACET_LABEL_FORMAT_CSV, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->labels->len, ==, 3);
  l = &g_array_index (f->labels, FacetParsedLabel, 0);
  g_assert_cmpint (l->au, ==, 1);
  g_assert_cmpint (l->state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpfloat (l->intensity, ==, 0.75f);
  l = &g_array_index (f->labels, FacetParsedLabel, 2);
  g_assert_cmpint (l->frame, ==, 1);
  g_assert_cmpint (l->state, ==, FACET_LABEL_NOT_CODABLE);
  g_clear_pointer (&f, facet_label_file_free);

  /* FMAE-IAT JSON lines: BP4D style with 999 fillers; frame_N counts from 1. */
  f = parse ("{\"img_path\": \"2F01_T1/frame_10.jpg\", \"AUs\": [1, 999, 999, 6, 999, 999, 999, "
             "999, 999, 999, 999, 999]}\n", "bp4d.json", FACET_LABEL_FORMAT_FMAE_JSON, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->labels->len, ==, 12);
  l = &g_array_index (f->labels, FacetParsedLabel, 0);
  g_assert_cmpstr (l->video_key, ==, "2F01_T1");
  g_assert_cmpint (l->frame, ==, 9);
  g_assert_cmpint (l->state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (g_array_index (f->labels, FacetParsedLabel, 1).state, ==, FACET_LABEL_ABSENT);
  g_clear_pointer (&f, facet_label_file_free);
  /* DISFA style: present AUs only, the DISFA set. */
  f = parse ("{\"img_path\": \"LeftVideoSN001/frame_3.jpg\", \"AUs\": [12, 25]}\n", "disfa.json",
             FACET_LABEL_FORMAT_FMAE_JSON, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->labels->len, ==, 8);
  g_clear_pointer (&f, facet_label_file_free);

  /* BP4D AU_OCC: header of column numbers, frames from 1, 9 = unknown. */
  {
    GString *s = g_string_new ("0");
    for (int c = 1; c <= 27; c++)
      g_string_append_printf (s, ",%d", c);
    g_string_append (s, "\n");
    for (int fr = 1; fr <= 2; fr++)
      {
        g_string_append_printf (s, "%d", fr);
        for (int c = 1; c <= 27; c++)
          g_string_append_printf (s, ",%d", c == 12 ? 1 : c == 17 && fr == 2 ? 9 : 0);
        g_string_append (s, "\n");
      }
    f = parse (s->str, "F001_T1.csv", FACET_LABEL_FORMAT_BP4D, &error);
    g_string_free (s, TRUE);
  }
  g_assert_no_error (error);
  g_assert_cmpuint (f->labels->len, ==, 24);
  l = &g_array_index (f->labels, FacetParsedLabel, 6);
  g_assert_cmpint (l->au, ==, 12);
  g_assert_cmpint (l->frame, ==, 0);
  g_assert_cmpint (l->state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (g_array_index (f->labels, FacetParsedLabel, 12 + 9).state, ==,
                   FACET_LABEL_NOT_CODABLE);
  g_clear_pointer (&f, facet_label_file_free);

  /* DISFA: the AU from the file name, present from intensity 2. */
  f = parse ("1,0\n2,1\n3,2\n4,5\n", "SN001_au12.txt", FACET_LABEL_FORMAT_DISFA, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->labels->len, ==, 4);
  g_assert_cmpint (g_array_index (f->labels, FacetParsedLabel, 1).state, ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (g_array_index (f->labels, FacetParsedLabel, 2).state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpfloat (g_array_index (f->labels, FacetParsedLabel, 3).intensity, ==, 1.0f);
  g_assert_cmpstr (g_array_index (f->labels, FacetParsedLabel, 3).video_key, ==, "SN001");
  g_clear_pointer (&f, facet_label_file_free);

  /* Malformed files: refused with line and column of the first problem. */
  expect_parse_error ("frame,AU01,AU99x\n", FACET_LABEL_FORMAT_CSV, "bad.txt:1:12:");
  expect_parse_error ("frame,AU01\n0,1\n1,2\n", FACET_LABEL_FORMAT_CSV, "bad.txt:3:3:");
  expect_parse_error ("frame,AU01\n0,1\n0,0\n", FACET_LABEL_FORMAT_CSV, "bad.txt:3:1:");
  expect_parse_error ("frame,AU01\n0,1,1\n", FACET_LABEL_FORMAT_CSV, "bad.txt:2:1:");
  expect_parse_error ("frame,AU01\n-1,1\n", FACET_LABEL_FORMAT_CSV, "bad.txt:2:1:");
  expect_parse_error ("frame,AU01,AU01_i\n0,,0.5\n", FACET_LABEL_FORMAT_CSV, "bad.txt:2:4:");
  expect_parse_error ("frame,AU01,AU01_i\n0,1,1.5\n", FACET_LABEL_FORMAT_CSV, "bad.txt:2:5:");
  expect_parse_error ("frame,AU01\n0,\xff\n", FACET_LABEL_FORMAT_CSV, "bad.txt:2:3:");
  expect_parse_error ("frame,AU01,AU01\n", FACET_LABEL_FORMAT_CSV, "bad.txt:1:12:");
  expect_parse_error ("", FACET_LABEL_FORMAT_CSV, "bad.txt:1:1:");
  expect_parse_error ("frame,AU01\n0,1\n1,1111111111111111111111111111111111111111111111111111111"
                      "11111111111111111111111111111111111\n", FACET_LABEL_FORMAT_CSV, "bad.txt:3:3:");
  expect_parse_error ("{\"img_path\": \"a/frame_1.jpg\", \"AUs\": [1]}\n{\"img_path\": \"a/frame_2.jpg\", "
                      "\"AUs\": [1,]}\n", FACET_LABEL_FORMAT_FMAE_JSON, "bad.txt:2:");
  expect_parse_error ("{\"img_path\": \"a/img_1.jpg\", \"AUs\": [1]}\n", FACET_LABEL_FORMAT_FMAE_JSON,
                      "bad.txt:1:2:");
  expect_parse_error ("{\"img_path\": \"a/frame_1.jpg\", \"AUs\": [7]}\n", FACET_LABEL_FORMAT_FMAE_JSON,
                      "bad.txt:1:31:");
  expect_parse_error ("0,1,2\n1,0,3\n", FACET_LABEL_FORMAT_BP4D, "bad.txt:1:1:");
  expect_parse_error ("1,0\n2,7\n", FACET_LABEL_FORMAT_DISFA, "bad.txt:1:1:");
  {
    g_autoptr (GError) e = NULL;
    g_autoptr (FacetLabelFile) d = parse ("1,0\n2,7\n", "SN002_au1.txt", FACET_LABEL_FORMAT_DISFA, &e);
    g_assert_null (d);
    g_assert_true (g_str_has_prefix (e->message, "SN002_au1.txt:2:3:"));
  }
}

static void
test_import_export_roundtrip (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *path2 = new_project_path ();
  g_autofree char *csv = tmp_path ("clip.labels.csv");
  g_autofree char *out = tmp_path ("exported.csv");
  g_autofree char *out2 = tmp_path ("exported2.csv");
  g_autofree char *bad = tmp_path ("bad.labels.csv");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (FacetStore) other = NULL;
  g_autofree char *a = NULL, *b = NULL;
  FacetLabelImportOptions opt = { .format = FACET_LABEL_FORMAT_CSV };
  gint64 v1, v2, n;
  FacetLabel l;

  v1 = add_video (store, "clip.bin", "S1", 50, 71);
  v2 = add_video (store, "second.bin", "S2", 50, 72);
  /* The synth layout; the name "clip.labels.csv" finds video "clip.bin". */
  g_assert_true (g_file_set_contents (csv,
                                      "frame,AU01,AU01_i,AU02,AU02_i\n"
                                      "0,1,0.123456789,0,0\n"
                                      "1,0,0,1,1\n"
                                      "2,9,,,\n", -1, NULL));
  n = facet_store_import_labels (store, csv, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 5);
  g_assert_true (facet_store_get_label (store, v1, 0, 1, &l, &error));
  g_assert_cmpint (l.source, ==, FACET_LABEL_SOURCE_IMPORTED);
  g_assert_cmpfloat (l.intensity, ==, 0.123456789f);
  /* Into the second video by number, plus hand labels. */
  opt.video_id = v2;
  g_assert_cmpint (facet_store_import_labels (store, csv, &opt, &error), ==, 5);
  g_assert_cmpint (facet_store_set_label (store, v2, 40, 26, FACET_LABEL_ABSENT, &error), >, 0);

  /* A malformed file changes nothing. */
  g_assert_true (g_file_set_contents (bad, "frame,AU01\n3,1\n4,1\n5,x\n", -1, NULL));
  opt.video_id = v1;
  g_assert_cmpint (facet_store_import_labels (store, bad, &opt, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, ":4:3:"));
  g_clear_error (&error);
  g_assert_true (facet_store_get_label (store, v1, 3, 1, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_UNSET);
  /* A frame beyond the video: refused as a whole, naming the line. */
  g_assert_true (g_file_set_contents (bad, "frame,AU01\n3,1\n50,1\n", -1, NULL));
  g_assert_cmpint (facet_store_import_labels (store, bad, &opt, &error), ==, -1);
  g_assert_nonnull (strstr (error->message, ":3: frame 50"));
  g_clear_error (&error);
  g_assert_true (facet_store_get_label (store, v1, 3, 1, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_UNSET);

  /* The import is one undo step. */
  {
    g_autoptr (FacetChangeset) c = facet_store_peek_undo (store, &error);
    g_assert_cmpint (c->kind, ==, FACET_CHANGESET_EDIT);
  }

  /* Export -> import into a fresh project with the same videos -> export:
   * the same bytes, and the same labels. */
  g_assert_true (facet_store_export_labels (store, out, 0, &error));
  g_assert_no_error (error);
  other = facet_store_create (path2, &error);
  add_video (other, "clip.bin", "S1", 50, 71);
  add_video (other, "second.bin", "S2", 50, 72);
  opt.video_id = 0;
  g_assert_cmpint (facet_store_import_labels (other, out, &opt, &error), ==, 11);
  g_assert_no_error (error);
  g_assert_true (facet_store_export_labels (other, out2, 0, &error));
  g_assert_true (g_file_get_contents (out, &a, NULL, NULL));
  g_assert_true (g_file_get_contents (out2, &b, NULL, NULL));
  g_assert_cmpstr (a, ==, b);
  g_assert_true (g_str_has_prefix (a, "file,sha256,frame,AU01,AU01_i,AU02,AU02_i,AU26,AU26_i\n"));
  for (gint64 video = 1; video <= 2; video++)
    for (gint64 frame = 0; frame < 50; frame++)
      for (int au = 1; au <= 26; au++)
        {
          FacetLabel x, y;
          g_assert_true (facet_store_get_label (store, video, frame, au, &x, NULL));
          g_assert_true (facet_store_get_label (other, video, frame, au, &y, NULL));
          g_assert_cmpint (x.state, ==, y.state);
          g_assert_true ((isnan (x.intensity) && isnan (y.intensity)) || x.intensity == y.intensity);
        }
}

static void
test_import_match_files (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *json = tmp_path ("all.json");
  g_autofree char *disfa_dir = tmp_path ("SN001");
  g_autofree char *au1 = g_build_filename (disfa_dir, "SN001_au1.txt", NULL);
  g_autofree char *au2 = g_build_filename (disfa_dir, "SN001_au2.txt", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  FacetLabelImportOptions opt = { .format = FACET_LABEL_FORMAT_FMAE_JSON };
  FacetLabel l;
  gint64 a, b, left, right;

  a = add_video (store, "2F01_T1.avi", "F01", 20, 81);
  b = add_video (store, "2F01_T2.avi", "F01", 20, 82);
  left = add_video (store, "LeftVideoSN001_comp.avi", "SN001", 20, 83);
  right = add_video (store, "RightVideoSN001_comp.avi", "SN001", 20, 84);
  g_assert_true (g_file_set_contents (json,
    "{\"img_path\": \"2F01_T1/frame_1.jpg\", \"AUs\": [1, 999, 999, 999, 999, 999, 999, 999, 999, 999, 999, 999]}\n"
    "{\"img_path\": \"2F01_T2/frame_5.jpg\", \"AUs\": [2, 999, 999, 999, 999, 999, 999, 999, 999, 999, 999, 999]}\n",
    -1, NULL));
  g_assert_cmpint (facet_store_import_labels (store, json, &opt, &error), ==, 24);
  g_assert_no_error (error);
  g_assert_true (facet_store_get_label (store, a, 0, 1, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_true (facet_store_get_label (store, b, 4, 2, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_true (facet_store_get_label (store, b, 4, 1, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_ABSENT);

  /* A folder of DISFA files: labels for both camera views of the subject. */
  g_assert_cmpint (g_mkdir_with_parents (disfa_dir, 0777), ==, 0);
  g_assert_true (g_file_set_contents (au1, "1,0\n2,3\n", -1, NULL));
  g_assert_true (g_file_set_contents (au2, "1,4\n2,0\n", -1, NULL));
  opt.format = FACET_LABEL_FORMAT_DISFA;
  g_assert_cmpint (facet_store_import_labels (store, disfa_dir, &opt, &error), ==, 8);
  g_assert_no_error (error);
  g_assert_true (facet_store_get_label (store, right, 1, 1, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpfloat_with_epsilon (l.intensity, 0.6f, 1e-6f);
  g_assert_true (facet_store_get_label (store, left, 0, 2, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);

  /* An unknown folder name: refused, naming it. */
  g_assert_true (g_file_set_contents (json, "{\"img_path\": \"nobody/frame_1.jpg\", \"AUs\": [1, 999]}\n",
                                      -1, NULL));
  opt.format = FACET_LABEL_FORMAT_FMAE_JSON;
  g_assert_cmpint (facet_store_import_labels (store, json, &opt, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "nobody"));
}

/* ---- Exports -------------------------------------------------------------------------------- */

static void
test_exports (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *of = tmp_path ("export-openface.csv");
  g_autofree char *ev = tmp_path ("export-events.csv");
  g_autofree char *sm = tmp_path ("export-summary.csv");
  g_autofree char *eaf = tmp_path ("export.eaf");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  const int aus[] = { 1, 12 };
  FacetFrameResult results[10] = { 0 };
  float probs[20];
  FacetExportOptions opt = { FACET_EXPORT_TIMESERIES, 0, 0, NAN };
  gint64 video, model;

  video = add_video (store, "export.mkv", "S1", 10, 91);
  model = add_model (store, "export-model.safetensors", aus, 2, 92);
  for (int i = 0; i < 10; i++)
    {
      /* AU1 present at frames 2-4 and 7; AU12 never. */
      probs[2 * i] = (i >= 2 && i <= 4) || i == 7 ? 0.6f + 0.05f * i : 0.1f;
      probs[2 * i + 1] = 0.2f;
      results[i] = (FacetFrameResult) { .frame = i, .time = i / 30.0, .status = FACET_STORE_FACE_WHOLE,
                                        .score = 1.0f, .quality = 1.0f, .probs = probs + 2 * i };
    }
  g_assert_true (facet_store_write_results (store, model, video, results, 10, &error));
  /* The coder says AU1 is absent at 3 (splitting the event) and AU12 present at 9. */
  g_assert_cmpint (facet_store_set_label (store, video, 3, 1, FACET_LABEL_ABSENT, &error), >, 0);
  g_assert_cmpint (facet_store_set_label (store, video, 9, 12, FACET_LABEL_PRESENT, &error), >, 0);

  g_assert_true (facet_store_export (store, &opt, of, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (of, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "frame,face_id,timestamp,confidence,success,AU01_c,AU12_c,AU01_p,"
                                 "AU12_p,AU01_src,AU12_src,AU01_int,AU12_int");
  g_assert_cmpstr (lines[4], ==, "3,0,0.100000,1.0000,1,0,0,0.749996,0.200000,human,model,,");
  g_assert_cmpstr (lines[10], ==, "9,0,0.300000,1.0000,1,0,1,0.100008,0.200000,model,human,,");
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&lines, g_strfreev);

  opt.format = FACET_EXPORT_EVENTS;
  g_assert_true (facet_store_export (store, &opt, ev, &error));
  g_assert_true (g_file_get_contents (ev, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1 + 4 + 1);
  g_assert_cmpstr (lines[1], ==, "1,AU01,2,0.066667,2,0.066667,2,0.100000,0.033333,0.7000,model,");
  g_assert_cmpstr (lines[2], ==, "1,AU01,4,0.133333,4,0.133333,4,0.166667,0.033333,0.8000,model,");
  g_assert_cmpstr (lines[4], ==, "1,AU12,9,0.300000,9,0.300000,9,0.333333,0.033333,0.2000,human,");
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&lines, g_strfreev);

  opt.format = FACET_EXPORT_SUMMARY;
  opt.threshold = 0.5f;
  g_assert_true (facet_store_export (store, &opt, sm, &error));
  g_assert_true (g_file_get_contents (sm, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  /* AU1: 3 of 10 frames, 3 events in 10/30 s = 1/180 min. */
  g_assert_cmpstr (lines[1], ==, "1,\"S1\",AU01,10,30.000,3,540.0000,0.0333");
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&lines, g_strfreev);

  opt.format = FACET_EXPORT_EAF;
  g_assert_true (facet_store_export (store, &opt, eaf, &error));
  g_assert_true (g_file_get_contents (eaf, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "<ANNOTATION_DOCUMENT"));
  g_assert_nonnull (strstr (text, "FORMAT=\"3.0\""));
  g_assert_nonnull (strstr (text, "RELATIVE_MEDIA_URL=\"./export.mkv\""));
  g_assert_nonnull (strstr (text, "TIER_ID=\"AU12\""));

  /* Bad threshold: refused. */
  opt.threshold = 1.5f;
  g_assert_false (facet_store_export (store, &opt, eaf, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
}

/* ---- Shards ------------------------------------------------------------------------------------- */

static void
test_shards (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *shard1 = NULL, *shard2 = NULL, *stranger_path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (FacetStore) s1 = NULL, s2 = NULL, stranger = NULL;
  const int aus[] = { 4 };
  FacetFrameResult r[4] = { 0 };
  float p[4] = { 0.1f, 0.2f, 0.3f, 0.4f };
  FacetMergeStats stats;
  gint64 video, model, shard_model, new_model;

  video = add_video (store, "shard-video.bin", "S1", 100, 101);
  model = add_model (store, "shard-model.safetensors", aus, 1, 102);
  shard1 = facet_store_shard_path (path, 1, 2);
  g_assert_true (g_str_has_suffix (shard1, ".shard-1-of-2.facet"));
  shard2 = facet_store_shard_path (path, 2, 2);
  s1 = facet_store_open_shard (store, shard1, &error);
  g_assert_no_error (error);
  s2 = facet_store_open_shard (store, shard2, &error);
  g_assert_cmpstr (facet_store_get_project_id (s1), ==, facet_store_get_project_id (store));

  for (int i = 0; i < 4; i++)
    r[i] = (FacetFrameResult) { .frame = i, .status = FACET_STORE_FACE_WHOLE, .probs = &p[i] };
  g_assert_true (facet_store_write_results (s1, model, video, r, 2, &error));
  /* A model the project does not know yet, registered in the shard only. */
  shard_model = add_model (s2, "shard-only.safetensors", aus, 1, 103);
  g_assert_true (facet_store_write_results (s2, shard_model, video, r + 2, 2, &error));
  g_assert_true (facet_store_write_results (s2, model, video, r + 2, 2, &error));
  {
    gint64 run = facet_store_begin_run (s2, shard_model, NULL, &error);
    facet_store_end_run (s2, run, "done", 2, &error);
  }
  g_clear_pointer (&s1, facet_store_close);
  g_clear_pointer (&s2, facet_store_close);

  g_assert_true (facet_store_merge_shard (store, shard1, &stats, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stats.predictions, ==, 2);
  g_assert_true (facet_store_merge_shard (store, shard2, &stats, &error));
  g_assert_cmpint (stats.predictions, ==, 4);
  g_assert_cmpint (stats.models, ==, 1);
  g_assert_cmpint (stats.runs, ==, 1);
  g_assert_cmpint (facet_store_count_analysed (store, model, video, &error), ==, 4);
  {
    g_autoptr (GArray) tl = facet_store_get_timeline (store, model, video, 4, 0, 99, 1, &error);
    g_assert_cmpuint (g_array_index (tl, FacetTimelineBucket, 0).n, ==, 4);
    g_assert_cmpfloat_with_epsilon (g_array_index (tl, FacetTimelineBucket, 0).max, 0.4f, 1e-4);
  }
  new_model = facet_store_latest_model (store, &error);
  g_assert_cmpint (new_model, !=, model);
  g_assert_cmpint (facet_store_count_analysed (store, new_model, video, &error), ==, 2);
  /* Merging again changes nothing. */
  g_assert_true (facet_store_merge_shard (store, shard2, &stats, &error));
  g_assert_cmpint (stats.predictions + stats.faces + stats.models + stats.runs, ==, 0);

  /* A shard of another project, and a shard whose video differs, are refused. */
  stranger = facet_store_create (stranger_path, &error);
  add_video (stranger, "stranger.bin", "X", 10, 104);
  g_assert_false (facet_store_merge_shard (store, stranger_path, &stats, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH);
  g_clear_error (&error);
  s1 = facet_store_open_shard (store, shard1, &error);
  g_assert_true (facet_store_exec_sql (s1, "UPDATE videos SET sha256 = 'x', "
                                           "path = '../../../etc/passwd'", &error));
  g_clear_pointer (&s1, facet_store_close);
  g_assert_false (facet_store_merge_shard (store, shard1, &stats, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH);
  g_clear_error (&error);
  {
    g_autoptr (FacetStoreVideo) v = facet_store_get_video (store, video, &error);
    g_assert_cmpstr (v->path, ==, "shard-video.bin");
  }
  g_assert_true (facet_store_check_integrity (store, &error));
}

/* ---- Threads: two connections writing at once ------------------------------------------------------- */

typedef struct
{
  const char *path;
  int         au;
  gint64      video;
  GError     *error;
} Writer;

static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;
  g_autoptr (FacetStore) store = facet_store_open (w->path, &w->error);

  if (store == NULL)
    return NULL;
  facet_store_set_coder (store, w->au == 1 ? "one" : "two");
  for (int f = 0; f < 60 && w->error == NULL; f++)
    if (facet_store_set_label (store, w->video, f, w->au, FACET_LABEL_PRESENT, &w->error) <= 0)
      break;
  return NULL;
}

static void
test_two_connections (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GArray) counts = NULL;
  Writer w[2] = { { path, 1, 0, NULL }, { path, 2, 0, NULL } };
  GThread *t[2];
  gint64 video = add_video (store, "threads.bin", "S1", 60, 111);

  w[0].video = w[1].video = video;
  for (int i = 0; i < 2; i++)
    t[i] = g_thread_new ("writer", writer_thread, &w[i]);
  for (int i = 0; i < 2; i++)
    {
      g_thread_join (t[i]);
      g_assert_no_error (w[i].error);
    }
  counts = facet_store_count_labels (store, video, &error);
  g_assert_cmpuint (counts->len, ==, 2);
  g_assert_cmpint (g_array_index (counts, FacetLabelCount, 0).present, ==, 60);
  g_assert_cmpint (g_array_index (counts, FacetLabelCount, 1).present, ==, 60);
}

/* ---- store_query, the store's private query helper ---------------------------- */

typedef struct
{
  int      rows;
  int      stop_at;   /* return FALSE at this row (1-based), 0: never */
  int      fail_at;   /* set an error at this row, 0: never */
  gint64   sum;
} Counting;

static gboolean
counting_row (sqlite3_stmt *row,
              gpointer      data,
              GError      **error)
{
  Counting *c = data;

  c->rows++;
  c->sum += sqlite3_column_int64 (row, 0);
  if (c->rows == c->fail_at)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "row %d refused", c->rows);
      return FALSE;
    }
  return c->stop_at == 0 || c->rows < c->stop_at;
}

static gboolean
typed_row (sqlite3_stmt *row,
           gpointer      data,
           GError      **error)
{
  static const guint8 blob[] = { 1, 0, 2 };

  g_assert_cmpint (sqlite3_column_type (row, 0), ==, SQLITE_INTEGER);
  g_assert_cmpint (sqlite3_column_int64 (row, 0), ==, G_GINT64_CONSTANT (1) << 40);
  g_assert_cmpint (sqlite3_column_type (row, 1), ==, SQLITE_FLOAT);
  g_assert_cmpfloat (sqlite3_column_double (row, 1), ==, 0.25);
  g_assert_cmpstr ((const char *) sqlite3_column_text (row, 2), ==, "a'b -- ä");
  g_assert_cmpint (sqlite3_column_type (row, 3), ==, SQLITE_BLOB);
  g_assert_cmpint (sqlite3_column_bytes (row, 3), ==, 3);
  g_assert_cmpmem (sqlite3_column_blob (row, 3), 3, blob, 3);
  g_assert_cmpstr ((const char *) sqlite3_column_text (row, 4), ==, "ab");
  for (int c = 5; c < 8; c++)
    g_assert_cmpint (sqlite3_column_type (row, c), ==, SQLITE_NULL);
  /* The lock is recursive: a row callback may call the store. */
  {
    g_auto (GStrv) coders = facet_store_list_coders (data, NULL);
    g_assert_nonnull (coders);
  }
  return TRUE;
}

static void
test_query_helper (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_auto (GStrv) strv = NULL;
  static const guint8 blob[] = { 1, 0, 2 };
  static const char counter[] =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) SELECT x FROM c";
  Counting count = { 0 };
  g_autofree char *text = NULL;
  g_autofree char *built = NULL;
  gint64 value = -1, n;

  g_assert_no_error (error);

  /* Every kind of value, bound in order; NULL text and blobs are SQL NULL. */
  n = store_query (store, "SELECT ?, ?, ?, ?, ?, ?, ?, ?", typed_row, store, &error,
                   STORE_INT (G_GINT64_CONSTANT (1) << 40), STORE_REAL (0.25),
                   STORE_TEXT ("a'b -- ä"), STORE_BLOB (blob, 3), STORE_TEXT_LEN ("abc", 2),
                   STORE_TEXT (NULL), STORE_BLOB (NULL, 3), STORE_NULL);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 1);

  /* The bindings do not outlive the call: fewer values leave NULL. */
  n = store_query (store, "SELECT ?, ?", store_row_int64_array, pairs, &error, STORE_INT (1),
                   STORE_INT (2));
  g_assert_cmpint (n, ==, 1);
  n = store_query (store, "SELECT ?, ?", store_row_int64_array, pairs, &error, STORE_INT (7));
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpuint (pairs->len, ==, 4);
  g_assert_cmpint (g_array_index (pairs, gint64, 2), ==, 7);
  g_assert_cmpint (g_array_index (pairs, gint64, 3), ==, 0); /* NULL read as an integer */
  {
    g_autofree char *second = NULL;
    /* One value for a statement numbered up to ?2: ?2 stays NULL (read as ""). */
    n = store_query (store, "SELECT ?2", store_row_text, &second, &error, STORE_INT (3));
    g_assert_no_error (error);
    g_assert_cmpint (n, ==, 1);
    g_assert_cmpstr (second, ==, "");
  }

  /* Every row, a stop, and a failing callback. */
  n = store_query (store, counter, counting_row, &count, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 10);
  g_assert_cmpint (count.sum, ==, 55);
  count = (Counting) { .stop_at = 3 };
  n = store_query (store, counter, counting_row, &count, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 3);
  g_assert_cmpint (count.sum, ==, 6);
  count = (Counting) { .fail_at = 2 };
  n = store_query (store, counter, counting_row, &count, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpint (n, ==, -1);
  g_clear_error (&error);
  /* ... and the statement runs again after it. */
  count = (Counting) { 0 };
  g_assert_cmpint (store_query (store, counter, counting_row, &count, &error), ==, 10);

  /* A value too many: INVALID, naming the project; nothing else changes. */
  n = store_query (store, "SELECT ?", NULL, NULL, &error, STORE_INT (1), STORE_INT (2));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_cmpint (n, ==, -1);
  g_clear_error (&error);
  g_assert_cmpint (store_query (store, "SELECT ?", store_row_int64, &value, &error,
                                STORE_INT (5)), ==, 1);
  g_assert_cmpint (value, ==, 5);

  /* SQL that fails names the project too. */
  g_assert_false (store_query_run (store, "INSERT INTO no_such_table VALUES (1)", &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  /* Built SQL through a statement of its own; a write; the one-value readers. */
  built = g_strdup_printf ("SELECT %d", 12);
  g_assert_cmpint (store_query_once (store, built, store_row_int64, &value, &error), ==, 1);
  g_assert_cmpint (value, ==, 12);
  g_assert_true (store_query_run (store, "INSERT INTO meta (key, value) VALUES (?, ?)", &error,
                                  STORE_TEXT ("query-test"), STORE_TEXT ("x")));
  g_assert_no_error (error);
  g_assert_cmpint (store_query (store, "SELECT value FROM meta WHERE key = ?", store_row_text,
                                &text, &error, STORE_TEXT ("query-test")), ==, 1);
  g_assert_cmpstr (text, ==, "x");
  g_assert_cmpint (store_query (store, "SELECT value FROM meta WHERE key = ?", store_row_text,
                                &text, &error, STORE_TEXT ("absent")), ==, 0);
  g_assert_cmpstr (text, ==, "x"); /* untouched without a row */
  g_assert_cmpint (store_query (store, "SELECT key FROM meta WHERE key IN ('query-test', "
                                "'created') ORDER BY key", store_row_strv, names, &error), ==, 2);
  strv = g_strv_builder_end (names);
  g_assert_cmpstr (strv[0], ==, "created");
  g_assert_cmpstr (strv[1], ==, "query-test");
  g_assert_null (strv[2]);
}

int
main (int    argc,
      char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("facet-store-XXXXXX", NULL);
  g_setenv ("FACET_CODER", "tester", TRUE);

  g_test_add_func ("/store/schema/create-open", test_create_open);
  g_test_add_func ("/store/schema/not-a-project", test_not_a_project);
  g_test_add_func ("/store/schema/refuse-newer", test_refuse_newer);
  g_test_add_func ("/store/schema/migrate-v1", test_migrate_v1);
  g_test_add_func ("/store/videos/moved-changed", test_videos_moved_changed);
  g_test_add_func ("/store/labels/undo-redo", test_labels_undo_redo);
  g_test_add_func ("/store/predictions/timeline", test_predictions_timeline);
  g_test_add_func ("/store/predictions/review-queue", test_review_queue);
  g_test_add_func ("/store/models", test_models);
  g_test_add_func ("/store/hostile/names", test_hostile_names);
  g_test_add_func ("/store/hostile/paths", test_hostile_paths);
  g_test_add_func ("/store/import/parse", test_parse_formats);
  g_test_add_func ("/store/import/roundtrip", test_import_export_roundtrip);
  g_test_add_func ("/store/import/match-files", test_import_match_files);
  g_test_add_func ("/store/export/formats", test_exports);
  g_test_add_func ("/store/shards", test_shards);
  g_test_add_func ("/store/concurrency/two-connections", test_two_connections);
  g_test_add_func ("/store/query/helper", test_query_helper);

  rc = g_test_run ();
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
    if (rc == 0)
      g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
  }
  g_free (tmpdir);
  return rc;
}
