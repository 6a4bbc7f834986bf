/* test-notes.c — the coding scheme, edited thresholds, marked events and
 * notes of the store (store-notes.c), on real SQLite files */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "store/facet-store.h"

static char *folder;

static char *
tmp_path (const char *name)
{
  return g_build_filename (folder, name, NULL);
}

/* A project with one 50-frame video and a model of AUs 1, 12. */
static FacetStore *
new_project (const char *name,
             gint64     *video_id)
{
  static guint8 seed = 1;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tmp_path (name);
  g_autofree char *media = NULL, *model = NULL;
  g_autofree guint8 *data = g_malloc (777);
  static const int aus[] = { 1, 12 };
  FacetStoreVideoInfo info = { NULL, "S01", FACET_CROP_NONE, 50, 25.0, 64, 64 };
  FacetStoreModelInfo minfo = { .n_aus = 2, .au_ids = aus, .config_json = "{}" };
  FacetStore *store;

  for (gsize i = 0; i < 777; i++)
    data[i] = (guint8) (i * 13 + seed);
  seed++;
  media = g_strdup_printf ("%s.media", path);
  model = g_strdup_printf ("%s.model", path);
  g_assert_true (g_file_set_contents (media, (const char *) data, 777, NULL));
  data[0] ^= 0xff;
  g_assert_true (g_file_set_contents (model, (const char *) data, 777, NULL));
  store = facet_store_create (path, &error);
  g_assert_no_error (error);
  facet_store_set_coder (store, "ana");
  info.path = media;
  *video_id = facet_store_add_video (store, &info, &error);
  g_assert_no_error (error);
  minfo.file = model;
  g_assert_cmpint (facet_store_add_model (store, &minfo, &error), ==, 1);
  g_assert_no_error (error);
  return store;
}

static char *
read_text (const char *path)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static void
test_scheme (void)
{
  g_autoptr (GError) error = NULL;
  gint64 video;
  g_autoptr (FacetStore) store = new_project ("scheme.facet", &video);
  g_autofree int *got = NULL;
  static const int scheme[] = { 45, 5, 12, 1, 5, 28 };
  static const int bad[] = { 12, 100 };
  gint64 serial = facet_store_get_serial (store, FACET_STORE_CHANGE_MODELS);
  int n = -1;

  /* None yet: the model's AUs are the scheme. */
  got = facet_store_get_scheme (store, &n, &error);
  g_assert_no_error (error);
  g_assert_null (got);
  g_assert_cmpint (n, ==, 0);

  g_assert_true (facet_store_set_scheme (store, scheme, G_N_ELEMENTS (scheme), &error));
  g_assert_no_error (error);
  g_assert_cmpint (facet_store_get_serial (store, FACET_STORE_CHANGE_MODELS), >, serial);
  got = facet_store_get_scheme (store, &n, &error);
  /* Ascending, once each. */
  g_assert_cmpint (n, ==, 5);
  g_assert_cmpint (got[0], ==, 1);
  g_assert_cmpint (got[1], ==, 5);
  g_assert_cmpint (got[2], ==, 12);
  g_assert_cmpint (got[3], ==, 28);
  g_assert_cmpint (got[4], ==, 45);
  g_clear_pointer (&got, g_free);

  /* A code outside FACS is refused and nothing changes. */
  g_assert_false (facet_store_set_scheme (store, bad, 2, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "AU 100"));
  g_clear_error (&error);
  got = facet_store_get_scheme (store, &n, &error);
  g_assert_cmpint (n, ==, 5);
  g_clear_pointer (&got, g_free);

  /* The exports carry the scheme's AUs the model lacks. */
  {
    g_autofree char *csv = tmp_path ("scheme-timeseries.csv");
    g_autofree char *text = NULL;
    FacetExportOptions options = { FACET_EXPORT_TIMESERIES, 1, video, NAN };

    g_assert_cmpint (facet_store_set_label (store, video, 3, 45, FACET_LABEL_PRESENT, &error), >,
                     0);
    g_assert_true (facet_store_export (store, &options, csv, &error));
    g_assert_no_error (error);
    text = read_text (csv);
    g_assert_nonnull (strstr (text, "AU45"));
    g_assert_nonnull (strstr (text, "AU28"));
  }

  g_assert_true (facet_store_set_scheme (store, NULL, 0, &error));
  got = facet_store_get_scheme (store, &n, &error);
  g_assert_no_error (error);
  g_assert_null (got);
  g_assert_cmpint (n, ==, 0);
}

static void
test_thresholds (void)
{
  g_autoptr (GError) error = NULL;
  gint64 video;
  g_autoptr (FacetStore) store = new_project ("thresholds.facet", &video);
  g_autoptr (FacetStoreModel) m = NULL;
  const float good[] = { 0.25f, 0.7f }, bad[] = { 0.3f, 1.0f };

  g_assert_true (facet_store_set_model_thresholds (store, 1, good, 2, &error));
  g_assert_no_error (error);
  m = facet_store_get_model (store, 1, &error);
  g_assert_cmpfloat (m->thresholds[0], ==, 0.25f);
  g_assert_cmpfloat (m->thresholds[1], ==, 0.7f);
  g_clear_pointer (&m, facet_store_model_free);

  g_assert_false (facet_store_set_model_thresholds (store, 1, bad, 2, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "AU12"));
  g_clear_error (&error);
  g_assert_false (facet_store_set_model_thresholds (store, 1, good, 1, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH);
  g_clear_error (&error);
  g_assert_false (facet_store_set_model_thresholds (store, 7, good, 2, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  m = facet_store_get_model (store, 1, &error);
  g_assert_cmpfloat (m->thresholds[1], ==, 0.7f);
}

/* The curve's F1 against counting at each threshold. */
static void
test_curve (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (19);
  float probs[257];
  gboolean present[257];
  g_autoptr (FacetThresholdCurve) curve = NULL;
  double best_f1 = 0, best_seen = -1;
  float best;

  for (int i = 0; i < 257; i++)
    {
      present[i] = g_rand_boolean (rand);
      probs[i] = i == 17 ? NAN : (float) CLAMP (g_rand_double (rand) * 0.6 + (present[i] ? 0.3 : 0),
                                                0, 1);
    }
  curve = facet_threshold_curve_new (probs, present, 257);
  for (int k = 1; k <= 99; k++)
    {
      float t = k / 100.0f;
      gsize tp = 0, fp = 0, fn = 0;
      double f1;
      for (int i = 0; i < 257; i++)
        {
          if (isnan (probs[i]))
            continue;
          tp += probs[i] >= t && present[i];
          fp += probs[i] >= t && !present[i];
          fn += probs[i] < t && present[i];
        }
      f1 = tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
      g_assert_cmpfloat (fabs (facet_threshold_curve_f1 (curve, t) - f1), <, 1e-12);
      best_seen = MAX (best_seen, f1);
    }
  best = facet_threshold_curve_best (curve, &best_f1);
  g_assert_cmpfloat (fabs (best_f1 - best_seen), <, 1e-12);
  g_assert_cmpfloat (fabs (facet_threshold_curve_f1 (curve, best) - best_seen), <, 1e-12);
  /* No positive: no F1. */
  {
    gboolean none[3] = { FALSE, FALSE, FALSE };
    float p[3] = { 0.1f, 0.9f, 0.5f };
    g_autoptr (FacetThresholdCurve) c = facet_threshold_curve_new (p, none, 3);
    g_assert_true (isnan (facet_threshold_curve_f1 (c, 0.5f)));
  }
}

static void
test_events (void)
{
  g_autoptr (GError) error = NULL;
  gint64 video, id, id2;
  g_autoptr (FacetStore) store = new_project ("events.facet", &video);
  g_autoptr (GArray) events = NULL;
  g_autofree char *csv = tmp_path ("events.csv");
  g_autofree char *text = NULL;
  FacetStoreEvent e = { .video_id = video, .au = 12, .onset = 10, .apex = 14, .offset = 20 };
  gint64 serial = facet_store_get_serial (store, FACET_STORE_CHANGE_LABELS);

  id = facet_store_add_event (store, &e, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (facet_store_get_serial (store, FACET_STORE_CHANGE_LABELS), >, serial);
  e = (FacetStoreEvent) { .video_id = video, .au = 45, .onset = 2, .apex = -1, .offset = 3 };
  id2 = facet_store_add_event (store, &e, &error);
  g_assert_cmpint (id2, >, id);

  /* Bad ones are refused, naming what was wrong. */
  e = (FacetStoreEvent) { .video_id = video, .au = 12, .onset = 40, .apex = -1, .offset = 50 };
  g_assert_cmpint (facet_store_add_event (store, &e, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "frames 40-50"));
  g_clear_error (&error);
  e = (FacetStoreEvent) { .video_id = video, .au = 12, .onset = 5, .apex = 9, .offset = 8 };
  g_assert_cmpint (facet_store_add_event (store, &e, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  e = (FacetStoreEvent) { .video_id = 9, .au = 12, .onset = 1, .apex = -1, .offset = 2 };
  g_assert_cmpint (facet_store_add_event (store, &e, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  events = facet_store_list_events (store, video, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 2);
  /* By onset. */
  g_assert_cmpint (g_array_index (events, FacetStoreEvent, 0).au, ==, 45);
  g_assert_cmpint (g_array_index (events, FacetStoreEvent, 0).apex, ==, -1);
  g_assert_cmpint (g_array_index (events, FacetStoreEvent, 1).apex, ==, 14);
  g_assert_cmpstr (g_array_index (events, FacetStoreEvent, 1).coder, ==, "ana");

  g_assert_true (facet_store_export_marked_events (store, csv, 0, &error));
  g_assert_no_error (error);
  text = read_text (csv);
  g_assert_true (g_str_has_prefix (text, "video,file,event,au,onset_frame,onset_time,apex_frame"));
  /* Times at 25 fps; the offset's time is the end of its frame. */
  g_assert_nonnull (strstr (text, ",AU12,10,0.400000,14,0.560000,20,0.840000,ana\n"));
  g_assert_nonnull (strstr (text, ",AU45,2,0.080000,,,3,0.160000,ana\n"));

  /* The events export has them too, source "marked". */
  {
    g_autofree char *all = tmp_path ("all-events.csv");
    g_autofree char *rows = NULL;
    FacetExportOptions options = { FACET_EXPORT_EVENTS, 1, video, NAN };

    g_assert_true (facet_store_export (store, &options, all, &error));
    g_assert_no_error (error);
    rows = read_text (all);
    g_assert_nonnull (strstr (rows, "\n1,AU12,10,0.400000,14,0.560000,20,0.840000,0.440000,,marked\n"));
    g_assert_nonnull (strstr (rows, "\n1,AU45,2,0.080000,,,3,0.160000,0.080000,,marked\n"));
  }
  g_assert_true (facet_store_delete_event (store, id, &error));
  g_assert_false (facet_store_delete_event (store, id, &error));
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_pointer (&events, g_array_unref);
  events = facet_store_list_events (store, 0, 12, &error);
  g_assert_cmpuint (events->len, ==, 0);
  g_assert_true (facet_store_check_integrity (store, &error));
}

static void
test_notes (void)
{
  g_autoptr (GError) error = NULL;
  gint64 video, event_id, note_id;
  g_autoptr (FacetStore) store = new_project ("notes.facet", &video);
  g_autoptr (GPtrArray) notes = NULL;
  g_autofree char *csv = tmp_path ("notes.csv");
  g_autofree char *text = NULL;
  FacetStoreEvent e = { .video_id = video, .au = 6, .onset = 30, .apex = 33, .offset = 36 };
  FacetStoreNote n = { .video_id = video, .first = 4, .last = 4, .text = (char *) "Ärger im Gesicht" };

  g_assert_cmpint (facet_store_add_note (store, &n, &error), >, 0);
  g_assert_no_error (error);
  n = (FacetStoreNote) { .video_id = video, .first = 7, .last = 9, .au = 12,
                         .text = (char *) "hand, \"over\" mouth" };
  g_assert_cmpint (facet_store_add_note (store, &n, &error), >, 0);
  event_id = facet_store_add_event (store, &e, &error);
  /* A note on an event takes the event's frames and AU. */
  n = (FacetStoreNote) { .video_id = video, .first = 0, .last = 0, .event_id = event_id,
                         .text = (char *) "weak apex" };
  note_id = facet_store_add_note (store, &n, &error);
  g_assert_no_error (error);

  /* Blank text, frames outside the video: refused. */
  n = (FacetStoreNote) { .video_id = video, .first = 1, .last = 1, .text = (char *) "  \n" };
  g_assert_cmpint (facet_store_add_note (store, &n, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);
  n = (FacetStoreNote) { .video_id = video, .first = 49, .last = 50, .text = (char *) "late" };
  g_assert_cmpint (facet_store_add_note (store, &n, &error), ==, -1);
  g_assert_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID);
  g_clear_error (&error);

  notes = facet_store_list_notes (store, video, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (notes->len, ==, 3);
  {
    const FacetStoreNote *on_event = notes->pdata[2];
    g_assert_cmpint (on_event->id, ==, note_id);
    g_assert_cmpint (on_event->first, ==, 30);
    g_assert_cmpint (on_event->last, ==, 36);
    g_assert_cmpint (on_event->au, ==, 6);
    g_assert_cmpint (on_event->event_id, ==, event_id);
  }
  g_clear_pointer (&notes, g_ptr_array_unref);
  /* The search ignores case beyond ASCII, and finds AU codes and coders. */
  notes = facet_store_list_notes (store, 0, "ärger", &error);
  g_assert_cmpuint (notes->len, ==, 1);
  g_clear_pointer (&notes, g_ptr_array_unref);
  notes = facet_store_list_notes (store, 0, "au12", &error);
  g_assert_cmpuint (notes->len, ==, 1);
  g_clear_pointer (&notes, g_ptr_array_unref);
  notes = facet_store_list_notes (store, 0, "ANA", &error);
  g_assert_cmpuint (notes->len, ==, 3);
  g_clear_pointer (&notes, g_ptr_array_unref);

  g_assert_true (facet_store_export_notes (store, csv, 0, &error));
  g_assert_no_error (error);
  text = read_text (csv);
  g_assert_nonnull (strstr (text, ",7,0.280000,9,0.400000,AU12,,ana,\"hand, \"\"over\"\" mouth\"\n"));
  g_assert_nonnull (strstr (text, ",4,0.160000,4,0.200000,,,ana,Ärger im Gesicht\n"));

  /* Deleting the event keeps the note, unlinked. */
  g_assert_true (facet_store_delete_event (store, event_id, &error));
  notes = facet_store_list_notes (store, video, NULL, &error);
  g_assert_cmpint (((FacetStoreNote *) notes->pdata[2])->event_id, ==, 0);
  g_assert_true (facet_store_delete_note (store, note_id, &error));
  g_assert_true (facet_store_check_integrity (store, &error));
  g_assert_no_error (error);
}

/* A project of the previous version gains the tables on opening. */
static void
test_migration (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tmp_path ("old.facet");
  g_autoptr (FacetStore) store = facet_store_create_at_version (path,
                                                                FACET_STORE_SCHEMA_VERSION - 1,
                                                                &error);
  g_autoptr (GArray) events = NULL;

  g_assert_no_error (error);
  g_assert_false (facet_store_exec_sql (store, "SELECT * FROM notes", NULL));
  g_clear_pointer (&store, facet_store_close);
  store = facet_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (facet_store_get_schema_version (store), ==, FACET_STORE_SCHEMA_VERSION);
  events = facet_store_list_events (store, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 0);
  g_assert_true (facet_store_check_integrity (store, &error));
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  folder = g_dir_make_tmp ("facet-notes-XXXXXX", NULL);
  g_test_add_func ("/store/notes/scheme", test_scheme);
  g_test_add_func ("/store/notes/thresholds", test_thresholds);
  g_test_add_func ("/store/notes/curve", test_curve);
  g_test_add_func ("/store/notes/events", test_events);
  g_test_add_func ("/store/notes/notes", test_notes);
  g_test_add_func ("/store/notes/migration", test_migration);
  status = g_test_run ();
  if (status == 0)
    {
      g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *p = g_build_filename (folder, name, NULL);
          g_unlink (p);
        }
      g_rmdir (folder);
    }
  g_free (folder);
  return status;
}
