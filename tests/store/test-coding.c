/* test-coding.c — layers (independent coders, the final layer), consensus,
 * intensity letters, the version 2 -> 3 migration and the reliability
 * sample, through the store's C API. The statistics are checked against
 * numpy in test_agreement.py. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "store/facet-store.h"

static char *tmpdir;

static char *
new_project_path (void)
{
  static int n;
  g_autofree char *name = g_strdup_printf ("c%d.facet", ++n);
  return g_build_filename (tmpdir, name, NULL);
}

static gint64
add_video (FacetStore *store,
           const char *name,
           const char *subject,
           gint64      n_frames,
           double      fps,
           guint8      seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (tmpdir, name, NULL);
  g_autofree guint8 *data = g_malloc (1000 + seed);
  FacetStoreVideoInfo info = { path, subject, FACET_CROP_NONE, n_frames, fps, 64, 64 };
  gint64 id;

  for (gsize i = 0; i < 1000u + seed; i++)
    data[i] = (guint8) (i * 31 + seed);
  g_assert_true (g_file_set_contents (path, (const char *) data, 1000 + seed, NULL));
  id = facet_store_add_video (store, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static FacetLabelState
state_at (FacetStore *store,
          gint64      video,
          gint64      frame,
          int         au)
{
  g_autoptr (GError) error = NULL;
  FacetLabel l;

  g_assert_true (facet_store_get_label (store, video, frame, au, &l, &error));
  g_assert_no_error (error);
  return l.state;
}

/* ---- Intensity letters ------------------------------------------------------------------------ */

static void
test_intensity_letters (void)
{
  const char letters[] = "ABCDE";

  for (int level = 1; level <= 5; level++)
    {
      float v = facet_intensity_from_letter (letters[level - 1]);
      g_assert_cmpfloat_with_epsilon (v, level / 5.0f, 1e-6);
      g_assert_cmpint (facet_intensity_to_level (v), ==, level);
      g_assert_cmpint (facet_intensity_to_letter (v), ==, letters[level - 1]);
      g_assert_cmpfloat (facet_intensity_from_letter (g_ascii_tolower (letters[level - 1])), ==, v);
      g_assert_cmpfloat (facet_intensity_from_level (level), ==, v);
    }
  g_assert_true (isnan (facet_intensity_from_letter ('F')));
  g_assert_true (isnan (facet_intensity_from_letter ('0')));
  g_assert_true (isnan (facet_intensity_from_level (0)));
  g_assert_true (isnan (facet_intensity_from_level (6)));
  g_assert_cmpint (facet_intensity_to_letter (NAN), ==, 0);
  g_assert_cmpint (facet_intensity_to_letter (0.0f), ==, 0);
  /* Continuous values: the nearest level, never below A. */
  g_assert_cmpint (facet_intensity_to_letter (0.01f), ==, 'A');
  g_assert_cmpint (facet_intensity_to_letter (0.5f), ==, 'C');
  g_assert_cmpint (facet_intensity_to_letter (0.69f), ==, 'C');
  g_assert_cmpint (facet_intensity_to_letter (0.71f), ==, 'D');
}

/* ---- Migration from version 2 ----------------------------------------------------------------- */

static void
test_migrate_v2 (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *fresh = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create_at_version (path, 2, &error);
  g_autoptr (FacetStore) clean = NULL;
  g_autoptr (GArray) history = NULL, labels = NULL;
  g_autoptr (GPtrArray) sets = NULL;
  g_auto (GStrv) layers = NULL;
  FacetLabel l;

  g_assert_no_error (error);
  g_assert_cmpint (facet_store_get_schema_version (store), ==, 2);
  /* A version 2 project as Facet 2 wrote it: two change sets of ana (the
   * second one undoable), labels with an intensity. */
  g_assert_true (facet_store_exec_sql (store,
    "INSERT INTO coders VALUES (1, 'ana', 1.0);"
    "INSERT INTO subjects VALUES (1, 'S01', 1.0);"
    "INSERT INTO videos VALUES (1, 1, 'v.bin', '/x/v.bin', 2000, 'abc', 100, 25.0, 64, 48, 'none', 2.0);"
    "INSERT INTO changesets (id, coder_id, time, kind, state, description, n_changes) VALUES"
    "  (1, 1, 5.0, 1, 0, 'import of x', 2), (2, 1, 6.0, 0, 0, 'AU12 absent', 1);"
    "INSERT INTO labels (video_id, frame, au, state, coder_id, time, source, intensity) VALUES"
    "  (1, 5, 12, 2, 1, 6.0, 0, NULL), (1, 6, 12, 1, 1, 5.0, 1, 0.6);"
    "INSERT INTO label_history (changeset_id, video_id, frame, au, old_state, new_state,"
    "  new_intensity, new_source, time) VALUES (1, 1, 5, 12, 0, 1, 0.4, 1, 5.0),"
    "  (1, 1, 6, 12, 0, 1, 0.6, 1, 5.0);"
    "INSERT INTO label_history (changeset_id, video_id, frame, au, old_state, old_intensity,"
    "  old_source, old_coder_id, old_time, new_state, new_source, time)"
    "  VALUES (2, 1, 5, 12, 1, 0.4, 1, 1, 5.0, 2, 0, 6.0);", &error));
  g_assert_no_error (error);
  g_clear_pointer (&store, facet_store_close);

  store = facet_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (facet_store_get_schema_version (store), ==, FACET_STORE_SCHEMA_VERSION);
  g_assert_true (facet_store_check_integrity (store, &error));
  g_assert_no_error (error);

  /* Every label is in the final layer, with its intensity. */
  g_assert_null (facet_store_get_layer (store));
  labels = facet_store_get_labels (store, 1, 0, 0, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (labels->len, ==, 2);
  g_assert_true (facet_store_get_label (store, 1, 6, 12, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (facet_intensity_to_letter (l.intensity), ==, 'C');
  g_assert_cmpstr (l.coder, ==, "ana");
  history = facet_store_get_label_history (store, 1, 5, 12, &error);
  g_assert_cmpuint (history->len, ==, 2);
  layers = facet_store_list_layers (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (layers), ==, 0);
  sets = facet_store_list_changesets (store, NULL, 0, &error);
  g_assert_cmpuint (sets->len, ==, 2);
  g_assert_null (((FacetChangeset *) sets->pdata[0])->layer);

  /* A coder's layer starts empty. */
  facet_store_set_layer (store, "ana");
  g_clear_pointer (&labels, g_array_unref);
  labels = facet_store_get_labels (store, 1, 0, 0, -1, &error);
  g_assert_cmpuint (labels->len, ==, 0);
  facet_store_set_layer (store, NULL);

  /* ana's undo stack came through: undoing restores the label before. */
  facet_store_set_coder (store, "ana");
  g_assert_cmpint (facet_store_undo (store, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpint (state_at (store, 1, 5, 12), ==, FACET_LABEL_PRESENT);

  /* Migrated and new projects have the same schema. */
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
    g_assert_nonnull (strstr (out_a, "reliability_segments"));
    g_assert_cmpstr (out_a, ==, out_b);
  }
}

/* ---- Layers ----------------------------------------------------------------------------------- */

static void
test_layers_independent (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (FacetStore) other = NULL;
  g_autoptr (GArray) counts = NULL, ana_labels = NULL;
  g_autoptr (GPtrArray) sets = NULL;
  g_auto (GStrv) layers = NULL;
  gint64 video, skipped = -1;

  g_assert_no_error (error);
  video = add_video (store, "layers.bin", "S1", 200, 30.0, 1);
  /* The final layer has a label before anyone double-codes. */
  facet_store_set_coder (store, "lead");
  g_assert_cmpint (facet_store_set_label_range (store, video, 0, 49, 12, FACET_LABEL_ABSENT,
                                                FACET_LABEL_SOURCE_HUMAN, &error), >, 0);

  /* Two coders, two connections, the same cells. */
  other = facet_store_open (path, &error);
  g_assert_no_error (error);
  facet_store_set_coder (store, "ana");
  facet_store_set_layer (store, "ana");
  facet_store_set_coder (other, "ben");
  facet_store_set_layer (other, "ben");
  g_assert_cmpstr (facet_store_get_layer (store), ==, "ana");
  g_assert_cmpint (facet_store_set_label_range (store, video, 10, 29, 12, FACET_LABEL_PRESENT,
                                                FACET_LABEL_SOURCE_HUMAN, &error), >, 0);
  g_assert_cmpint (facet_store_set_label_range (other, video, 20, 39, 12, FACET_LABEL_ABSENT,
                                                FACET_LABEL_SOURCE_HUMAN, &error), >, 0);
  g_assert_cmpint (facet_store_set_label_range (other, video, 25, 25, 12, FACET_LABEL_PRESENT,
                                                FACET_LABEL_SOURCE_HUMAN, &error), >, 0);
  g_assert_no_error (error);

  /* ben's writes left ana's layer alone, and both left the final layer. */
  g_assert_cmpint (state_at (store, video, 20, 12), ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (state_at (store, video, 35, 12), ==, FACET_LABEL_UNSET);
  g_assert_cmpint (state_at (other, video, 20, 12), ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (state_at (other, video, 15, 12), ==, FACET_LABEL_UNSET);
  {
    /* ben's lane beside the current one, with intensity levels splitting runs. */
    g_autoptr (GArray) lane = facet_store_get_layer_segments (store, "ben", video, 12, 0, -1, &error);
    g_autoptr (GArray) mine = NULL;
    FacetLabel c[2] = { { .video_id = video, .frame = 12, .au = 12, .state = FACET_LABEL_PRESENT,
                          .intensity = 0.6f },
                        { .video_id = video, .frame = 13, .au = 12, .state = FACET_LABEL_PRESENT,
                          .intensity = 0.6f } };
    g_assert_no_error (error);
    g_assert_cmpuint (lane->len, ==, 3); /* absent 20-24, present 25, absent 26-39 */
    g_assert_cmpint (g_array_index (lane, FacetLabelSegment, 1).first, ==, 25);
    g_assert_cmpint (g_array_index (lane, FacetLabelSegment, 1).state, ==, FACET_LABEL_PRESENT);
    g_assert_cmpint (g_array_index (lane, FacetLabelSegment, 1).level, ==, 0);
    g_assert_cmpint (facet_store_write_labels (store, c, 2, "C at 12-13", &error), >, 0);
    mine = facet_store_get_label_segments (store, video, 12, 0, -1, &error);
    g_assert_cmpuint (mine->len, ==, 3); /* 10-11, 12-13 at C, 14-29 */
    g_assert_cmpint (g_array_index (mine, FacetLabelSegment, 1).first, ==, 12);
    g_assert_cmpint (g_array_index (mine, FacetLabelSegment, 1).last, ==, 13);
    g_assert_cmpint (g_array_index (mine, FacetLabelSegment, 1).level, ==, 3);
    g_assert_cmpint (facet_store_undo (store, NULL, &error), >, 0);
  }
  ana_labels = facet_store_get_layer_labels (other, "ana", video, 12, 0, -1, &error);
  g_assert_cmpuint (ana_labels->len, ==, 20);
  g_assert_cmpstr (g_array_index (ana_labels, FacetLabel, 0).coder, ==, "ana");
  facet_store_set_layer (store, NULL);
  g_assert_cmpint (state_at (store, video, 20, 12), ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (state_at (store, video, 60, 12), ==, FACET_LABEL_UNSET);
  counts = facet_store_count_labels (store, video, &error);
  g_assert_cmpint (g_array_index (counts, FacetLabelCount, 0).absent, ==, 50);
  g_assert_cmpint (g_array_index (counts, FacetLabelCount, 0).present, ==, 0);

  layers = facet_store_list_layers (store, &error);
  g_assert_cmpuint (g_strv_length (layers), ==, 2);
  g_assert_cmpstr (layers[0], ==, "ana");
  g_assert_cmpstr (layers[1], ==, "ben");

  /* Undo is per coder and per layer: ana has nothing to undo in the final
   * layer, ben's undo takes back his last step in his layer only. */
  g_assert_cmpint (facet_store_undo (store, NULL, &error), ==, 0);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOTHING);
  g_clear_error (&error);
  g_assert_cmpint (facet_store_undo (other, &skipped, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpint (skipped, ==, 0);
  g_assert_cmpint (state_at (other, video, 25, 12), ==, FACET_LABEL_ABSENT);
  facet_store_set_layer (store, "ana");
  g_assert_cmpint (state_at (store, video, 25, 12), ==, FACET_LABEL_PRESENT);
  /* The same coder in the final layer has a stack of their own there. */
  facet_store_set_layer (store, NULL);
  g_assert_cmpint (facet_store_set_label (store, video, 100, 4, FACET_LABEL_PRESENT, &error), >, 0);
  facet_store_set_layer (store, "ana");
  g_assert_cmpint (facet_store_undo (store, NULL, &error), >, 0);
  g_assert_cmpint (state_at (store, video, 10, 12), ==, FACET_LABEL_UNSET);
  facet_store_set_layer (store, NULL);
  g_assert_cmpint (state_at (store, video, 100, 4), ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (facet_store_undo (store, NULL, &error), >, 0);
  g_assert_cmpint (state_at (store, video, 100, 4), ==, FACET_LABEL_UNSET);
  g_assert_cmpint (state_at (store, video, 20, 12), ==, FACET_LABEL_ABSENT);

  /* Change sets and history are the layer's. */
  facet_store_set_layer (store, "ben");
  sets = facet_store_list_changesets (store, NULL, 0, &error);
  g_assert_cmpuint (sets->len, ==, 3); /* two edits and the undo */
  for (guint i = 0; i < sets->len; i++)
    g_assert_cmpstr (((FacetChangeset *) sets->pdata[i])->layer, ==, "ben");
  g_assert_true (facet_store_check_integrity (store, &error));
}

static void
test_resolve (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GArray) dis = NULL, unresolved = NULL;
  g_autoptr (FacetChangeset) next = NULL;
  g_autofree char *from = NULL, *who = NULL;
  gboolean resolved = FALSE;
  gint64 video, id;
  FacetLabel w[4], chosen, l;

  g_assert_no_error (error);
  video = add_video (store, "resolve.bin", "S1", 50, 25.0, 2);
  /* ana: present C at 1-3; ben: present at 1, E at 2, absent at 3. */
  facet_store_set_coder (store, "ana");
  facet_store_set_layer (store, "ana");
  for (int i = 0; i < 3; i++)
    w[i] = (FacetLabel) { .video_id = video, .frame = 1 + i, .au = 6, .state = FACET_LABEL_PRESENT,
                          .intensity = facet_intensity_from_letter ('C') };
  g_assert_cmpint (facet_store_write_labels (store, w, 3, "ana codes", &error), >, 0);
  facet_store_set_coder (store, "ben");
  facet_store_set_layer (store, "ben");
  w[1].intensity = facet_intensity_from_letter ('E');
  w[2].state = FACET_LABEL_ABSENT;
  w[2].intensity = NAN;
  g_assert_cmpint (facet_store_write_labels (store, w, 3, "ben codes", &error), >, 0);

  dis = facet_store_list_disagreements (store, "ana", "ben", 0, 0, FALSE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dis->len, ==, 2);
  g_assert_cmpint (g_array_index (dis, FacetDisagreement, 0).frame, ==, 2);
  g_assert_cmpint (facet_intensity_to_letter (g_array_index (dis, FacetDisagreement, 0).intensity_b),
                   ==, 'E');
  g_assert_cmpint (g_array_index (dis, FacetDisagreement, 1).state_b, ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (g_array_index (dis, FacetDisagreement, 1).final_state, ==, FACET_LABEL_UNSET);

  /* Agreed cells go to the final layer in one step; the two others are left. */
  facet_store_set_coder (store, "lead");
  {
    gint64 copied = -1, differ = -1;
    g_autofree char *both = NULL;
    g_assert_cmpint (facet_store_resolve_agreed (store, "ana", "ben", 0, FALSE, &copied, &differ,
                                                 &error), >, 0);
    g_assert_no_error (error);
    g_assert_cmpint (copied, ==, 1);
    g_assert_cmpint (differ, ==, 2);
    g_assert_true (facet_store_get_resolution (store, video, 1, 6, &resolved, &both, NULL, &error));
    g_assert_true (resolved);
    g_assert_cmpstr (both, ==, "ana,ben");
    /* Again: nothing new to copy. */
    g_assert_cmpint (facet_store_resolve_agreed (store, "ana", "ben", 0, FALSE, &copied, NULL,
                                                 &error), ==, 0);
    g_assert_cmpint (copied, ==, 0);
    g_assert_cmpint (facet_store_resolve_agreed (store, "ana", "nobody", 0, FALSE, NULL, NULL,
                                                 &error), ==, -1);
    g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  facet_store_set_layer (store, NULL);
  g_assert_true (facet_store_get_label (store, video, 1, 6, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (facet_intensity_to_letter (l.intensity), ==, 'C');
  facet_store_set_layer (store, "ben");

  /* The lead resolves frame 3 with ana's label, while looking at ben's layer. */
  chosen = (FacetLabel) { .state = FACET_LABEL_PRESENT, .intensity = facet_intensity_from_letter ('C') };
  id = facet_store_resolve_label (store, video, 3, 6, &chosen, "ana", &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpstr (facet_store_get_layer (store), ==, "ben");
  g_assert_cmpint (state_at (store, video, 3, 6), ==, FACET_LABEL_ABSENT); /* ben's, unchanged */
  facet_store_set_layer (store, NULL);
  g_assert_true (facet_store_get_label (store, video, 3, 6, &l, &error));
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpstr (l.coder, ==, "lead");
  g_assert_true (facet_store_get_resolution (store, video, 3, 6, &resolved, &from, &who, &error));
  g_assert_true (resolved);
  g_assert_cmpstr (from, ==, "ana");
  g_assert_cmpstr (who, ==, "lead");
  g_clear_pointer (&from, g_free);
  g_clear_pointer (&who, g_free);
  /* Resolving again to the same label records nothing. */
  g_assert_cmpint (facet_store_resolve_label (store, video, 3, 6, &chosen, "ana", &error), ==, 0);

  /* A value of the lead's own at frame 2 (D: neither C nor E). */
  chosen.intensity = facet_intensity_from_letter ('D');
  g_assert_cmpint (facet_store_resolve_label (store, video, 2, 6, &chosen, NULL, &error), >, 0);
  g_assert_true (facet_store_get_resolution (store, video, 2, 6, &resolved, &from, &who, &error));
  g_assert_true (resolved);
  g_assert_null (from);
  unresolved = facet_store_list_disagreements (store, "ana", "ben", video, 6, TRUE, 0, &error);
  g_assert_cmpuint (unresolved->len, ==, 1); /* frame 2: D is neither coder's */
  g_assert_cmpint (g_array_index (unresolved, FacetDisagreement, 0).frame, ==, 2);

  /* A resolution is an undo step of the resolver in the final layer. */
  next = facet_store_peek_undo (store, &error);
  g_assert_nonnull (next);
  g_assert_cmpint (next->kind, ==, FACET_CHANGESET_RESOLVE);
  g_assert_cmpint (facet_store_undo (store, NULL, &error), >, 0);
  g_assert_cmpint (state_at (store, video, 2, 6), ==, FACET_LABEL_UNSET);
  g_assert_true (facet_store_get_resolution (store, video, 2, 6, &resolved, NULL, NULL, &error));
  g_assert_false (resolved);

  /* Bad input changes nothing. */
  chosen.intensity = 3.0f;
  g_assert_cmpint (facet_store_resolve_label (store, video, 4, 6, &chosen, "ana", &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (state_at (store, video, 4, 6), ==, FACET_LABEL_UNSET);
}

/* ---- Agreement (a hand-worked case; test_agreement.py checks against numpy) ------------------- */

static void
test_agreement_small (void)
{
  g_autofree char *path = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (GArray) r1 = NULL, r2 = NULL, none = NULL;
  FacetAgreementOptions opt = { .window = 1, .threshold = NAN };
  const FacetAgreement *a;
  gint64 video;

  g_assert_no_error (error);
  video = add_video (store, "agree.bin", "S1", 20, 25.0, 6);
  /* ana: AU12 present 2-6, absent elsewhere, not codable at 10.
   * ben: present 4-8, absent elsewhere. */
  facet_store_set_layer (store, "ana");
  facet_store_set_label_range (store, video, 0, 19, 12, FACET_LABEL_ABSENT, FACET_LABEL_SOURCE_HUMAN, &error);
  facet_store_set_label_range (store, video, 2, 6, 12, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN, &error);
  facet_store_set_label (store, video, 10, 12, FACET_LABEL_NOT_CODABLE, &error);
  facet_store_set_layer (store, "ben");
  facet_store_set_label_range (store, video, 0, 19, 12, FACET_LABEL_ABSENT, FACET_LABEL_SOURCE_HUMAN, &error);
  facet_store_set_label_range (store, video, 4, 8, 12, FACET_LABEL_PRESENT, FACET_LABEL_SOURCE_HUMAN, &error);
  g_assert_no_error (error);

  r1 = facet_store_agreement (store, "ana", "ben", 0, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r1->len, ==, 1);
  a = &g_array_index (r1, FacetAgreement, 0);
  /* n = 19 (frame 10 left out): n11 = 3 (4-6), n10 = 2, n01 = 2, n00 = 12.
   * p_o = 15/19, p_e = (5/19)^2 + (14/19)^2 = 221/361, kappa = 64/140. */
  g_assert_cmpint (a->au, ==, 12);
  g_assert_cmpint (a->frames, ==, 19);
  g_assert_cmpint (a->both_present, ==, 3);
  g_assert_cmpint (a->a_only, ==, 2);
  g_assert_cmpint (a->b_only, ==, 2);
  g_assert_cmpfloat_with_epsilon (a->agreement, 15.0 / 19.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (a->kappa, 64.0 / 140.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (a->prevalence, 10.0 / 38.0, 1e-12);
  /* One event each, overlapping: matched; onsets 2/4 and offsets 6/8 are 2 apart. */
  g_assert_cmpint (a->events_a, ==, 1);
  g_assert_cmpint (a->matched, ==, 1);
  g_assert_cmpfloat (a->agreement_ratio, ==, 1.0);
  g_assert_cmpint (a->onset_agree, ==, 0);
  g_assert_cmpint (a->offset_agree, ==, 0);
  g_assert_cmpint (a->intensity_frames, ==, 0);
  g_assert_true (isnan (a->icc));
  opt.window = 2;
  r2 = facet_store_agreement (store, "ben", "ana", video, &opt, &error);
  a = &g_array_index (r2, FacetAgreement, 0);
  g_assert_cmpfloat (a->onset_agreement, ==, 1.0);
  g_assert_cmpfloat (a->offset_agreement, ==, 1.0);
  g_assert_cmpfloat_with_epsilon (a->kappa, 64.0 / 140.0, 1e-12);

  /* The final layer is empty: no frames in common, nothing defined. */
  none = facet_store_agreement (store, "ana", "final", 0, NULL, &error);
  g_assert_no_error (error);
  a = &g_array_index (none, FacetAgreement, 0);
  g_assert_cmpint (a->frames, ==, 0);
  g_assert_true (isnan (a->kappa) && isnan (a->agreement));
  g_assert_null (facet_store_agreement (store, "ana", "nobody", 0, NULL, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
}

/* ---- Reliability sample ----------------------------------------------------------------------- */

static gint64
covered (GPtrArray *segs,
         gint64     video)
{
  gint64 n = 0;

  for (guint i = 0; i < segs->len; i++)
    {
      FacetReliabilitySegment *s = segs->pdata[i];
      if (s->video_id == video)
        n += s->last - s->first + 1;
    }
  return n;
}

static void
test_sample (void)
{
  g_autofree char *path = new_project_path ();
  g_autofree char *path2 = new_project_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_create (path, &error);
  g_autoptr (FacetStore) twin = facet_store_create (path2, &error);
  g_autoptr (GPtrArray) segs = NULL, segs2 = NULL, after = NULL;
  FacetSampleOptions opt = { .percent = 20, .seconds = 2, .seed = 7 };
  gint64 v[3], n_frames[3] = { 3000, 900, 1500 }, id;

  g_assert_no_error (error);
  /* Two subjects, three videos at different rates. */
  v[0] = add_video (store, "s1.bin", "S1", n_frames[0], 30.0, 3);
  v[1] = add_video (store, "s2.bin", "S2", n_frames[1], 25.0, 4);
  v[2] = add_video (store, "s3.bin", "S1", n_frames[2], 30.0, 5);
  add_video (twin, "s1.bin", "S1", n_frames[0], 30.0, 3);
  add_video (twin, "s2.bin", "S2", n_frames[1], 25.0, 4);
  add_video (twin, "s3.bin", "S1", n_frames[2], 30.0, 5);

  id = facet_store_sample_reliability (store, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  segs = facet_store_list_reliability (store, 0, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 3; i++)
    {
      double fps = i == 1 ? 25.0 : 30.0;
      gint64 seg = (gint64) (2 * fps), c = covered (segs, v[i]);
      /* At least 20 % of every video (so of every subject), less than one segment more. */
      g_assert_cmpint (c * 100, >=, 20 * n_frames[i]);
      g_assert_cmpint (c * 100, <, 20 * n_frames[i] + 100 * seg);
    }
  for (guint i = 0; i < segs->len; i++)
    {
      FacetReliabilitySegment *s = segs->pdata[i];
      gint64 seg = s->video_id == v[1] ? 50 : 60;
      g_assert_cmpint (s->last - s->first + 1, ==, seg);
      g_assert_cmpint (s->sample_id, ==, id);
      g_assert_cmpstr (s->subject, ==, s->video_id == v[1] ? "S2" : "S1");
      g_assert_cmpint (s->first, >=, 0);
      if (i > 0)
        {
          FacetReliabilitySegment *p = segs->pdata[i - 1];
          /* Ordered by video and frame, never overlapping. */
          g_assert_true (p->video_id < s->video_id || p->last < s->first);
        }
    }
  /* The same seed, the same sample; another seed, another one. */
  g_assert_cmpint (facet_store_sample_reliability (twin, &opt, &error), >, 0);
  segs2 = facet_store_list_reliability (twin, 0, &error);
  g_assert_cmpuint (segs2->len, ==, segs->len);
  for (guint i = 0; i < segs->len; i++)
    g_assert_cmpint (((FacetReliabilitySegment *) segs->pdata[i])->first, ==,
                     ((FacetReliabilitySegment *) segs2->pdata[i])->first);

  /* A second sample adds segments that avoid the first ones. */
  opt.seed = 8;
  opt.video_id = v[1];
  g_assert_cmpint (facet_store_sample_reliability (store, &opt, &error), >, id);
  after = facet_store_list_reliability (store, v[1], &error);
  g_assert_cmpint (covered (after, v[1]), >=, 2 * covered (segs, v[1]));
  for (guint i = 1; i < after->len; i++)
    g_assert_cmpint (((FacetReliabilitySegment *) after->pdata[i - 1])->last, <,
                     ((FacetReliabilitySegment *) after->pdata[i])->first);

  /* By hand, and clearing. */
  g_assert_cmpint (facet_store_mark_reliability (store, v[0], 10, 20, &error), >, 0);
  g_assert_cmpint (facet_store_mark_reliability (store, v[0], 10, 5000, &error), ==, 0);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  opt.percent = 0;
  g_assert_cmpint (facet_store_sample_reliability (store, &opt, &error), ==, 0);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (facet_store_clear_reliability (store, 0, &error));
  g_clear_pointer (&after, g_ptr_array_unref);
  after = facet_store_list_reliability (store, 0, &error);
  g_assert_cmpuint (after->len, ==, 0);
  g_assert_true (facet_store_check_integrity (store, &error));
}

int
main (int    argc,
      char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("facet-coding-XXXXXX", NULL);
  g_setenv ("FACET_CODER", "tester", TRUE);

  g_test_add_func ("/store/coding/intensity-letters", test_intensity_letters);
  g_test_add_func ("/store/coding/migrate-v2", test_migrate_v2);
  g_test_add_func ("/store/coding/layers", test_layers_independent);
  g_test_add_func ("/store/coding/resolve", test_resolve);
  g_test_add_func ("/store/coding/agreement", test_agreement_small);
  g_test_add_func ("/store/coding/sample", test_sample);

  rc = g_test_run ();
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
    if (rc == 0)
      g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
  }
  g_free (tmpdir);
  return rc;
}
