/* test-ergonomics.c — a lab's coding work beyond the labels, under Xvfb
 * (issue 19): the AU list coming back into view when the window shrinks,
 * a coding scheme wider than the model (AUs coded by hand in the panel,
 * the timeline and the exports, chosen with U and digits), marked events
 * (S, P, F, X) on the timeline and in the exports, notes (T, Ctrl+F: search,
 * jump, export) and a model's thresholds edited with the F1 at each.
 *
 * Every step goes through X key and mouse events, and every result is
 * read back from the project file through a connection of its own.
 */
#include "config.h"

#include <math.h>

#include <X11/keysym.h>
#include <glib/gstdio.h>

#include "facet-notes-window.h"
#include "facet-scheme-dialog.h"
#include "facet-thresholds-dialog.h"
#include "ui-harness.h"

#define TIMEOUT 60.0

static UiFixture fx;
static int       hand_coded[2];  /* the two AUs the scheme adds */

static FacetStore *
open_store (void)
{
  g_autoptr (GError) error = NULL;
  FacetStore *store = facet_store_open (fx.project, &error);

  g_assert_no_error (error);
  return store;
}

static int
lane_of (int au)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);

  for (int i = 0; i < facet_au_panel_get_n_aus (panel); i++)
    if (facet_au_panel_get_au (panel, i) == au)
      return i;
  return -1;
}

static char *
read_text (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

/* The dialog has no cut text, and its picture goes to the artefacts. */
static void
check_dialog (GtkWindow  *dialog,
              const char *name)
{
  g_autofree char *cut = ui_dup_cut_labels (GTK_WIDGET (dialog));
  const char *folder = g_getenv ("FACET_UI_ARTEFACTS");

  if (cut != NULL)
    g_error ("cut text in %s: %s", name, cut);
  if (folder != NULL)
    {
      g_autoptr (GdkTexture) texture = ui_render (GTK_WIDGET (dialog));
      g_autofree char *file = g_strdup_printf ("%s.png", name);
      g_autofree char *path = g_build_filename (folder, file, NULL);

      g_mkdir_with_parents (folder, 0755);
      g_assert_true (gdk_texture_save_to_png (texture, path));
    }
}

static gboolean
toplevel_shown (gpointer type)
{
  return ui_find_toplevel ((GType) GPOINTER_TO_SIZE (type)) != NULL;
}

static GtkWindow *
wait_toplevel (GType type)
{
  g_assert_true (ui_wait (toplevel_shown, GSIZE_TO_POINTER (type), 5.0));
  return ui_find_toplevel (type);
}

/* The selected AU scrolled to the bottom of the list stays in view when
 * the window shrinks (the list's page gets smaller under it). */
static void
test_panel_rescroll (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  int n = facet_au_panel_get_n_aus (panel);

  facet_au_panel_set_selected (panel, n - 1);
  ui_settle (fx.window, TIMEOUT);
  ui_idle (0.3);
  g_assert_true (facet_au_panel_selected_in_view (panel));
  gtk_window_set_default_size (GTK_WINDOW (fx.window), 1024, 700);
  ui_idle (1.0);
  ui_settle (fx.window, TIMEOUT);
  ui_idle (0.3);
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (fx.window)), <=, 1100);
  g_assert_true (facet_au_panel_selected_in_view (panel));
  gtk_window_set_default_size (GTK_WINDOW (fx.window), 1400, 900);
  ui_idle (1.0);
  ui_settle (fx.window, TIMEOUT);
}

/* Two FACS codes the model lacks join the scheme in its dialog; they are
 * coded by hand everywhere, and U with their number selects them. */
static void
test_scheme (void)
{
  static const int candidates[] = { 45, 28, 20, 5, 43, 61 };
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  FacetTimeline *timeline = facet_window_get_timeline (fx.window);
  FacetStoreModel *m = facet_project_get_model (facet_window_get_project (fx.window));
  int n_before = facet_au_panel_get_n_aus (panel), k = 0, n_scheme = 0, n_model, model_au;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree int *scheme = NULL;
  g_autofree char *csv = g_build_filename (fx.folder, "timeseries.csv", NULL);
  g_autofree char *text = NULL;
  GtkWindow *dialog;
  GtkWidget *save;
  FacetLabel label;
  int lane;

  g_assert_nonnull (m);
  /* The project's copy of the model is read again once the scheme is saved. */
  n_model = m->n_aus;
  model_au = m->au_ids[0];
  for (guint i = 0; i < G_N_ELEMENTS (candidates) && k < 2; i++)
    if (facet_store_model_find_au (m, candidates[i]) < 0)
      hand_coded[k++] = candidates[i];
  g_assert_cmpint (k, ==, 2);

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.coding-scheme", NULL);
  dialog = wait_toplevel (FACET_TYPE_SCHEME_DIALOG);
  ui_idle (0.5);
  check_dialog (dialog, "coding-scheme");
  /* The model's AUs are fixed in the scheme. */
  g_assert_false (gtk_widget_get_sensitive (
    GTK_WIDGET (facet_scheme_dialog_get_check (FACET_SCHEME_DIALOG (dialog), m->au_ids[0]))));
  for (int i = 0; i < 2; i++)
    {
      GtkCheckButton *check = facet_scheme_dialog_get_check (FACET_SCHEME_DIALOG (dialog),
                                                             hand_coded[i]);
      g_assert_nonnull (check);
      g_assert_false (gtk_check_button_get_active (check));
      /* Scroll it into view before clicking it. */
      gtk_widget_grab_focus (GTK_WIDGET (check));
      ui_idle (0.3);
      ui_click_centre (GTK_WIDGET (check));
      ui_idle (0.2);
      g_assert_true (gtk_check_button_get_active (check));
    }
  save = ui_find (GTK_WIDGET (dialog), GTK_TYPE_BUTTON, "_Save");
  g_assert_nonnull (save);
  ui_click_centre (save);
  ui_idle (0.5);
  ui_settle (fx.window, TIMEOUT);
  g_assert_null (ui_find_toplevel (FACET_TYPE_SCHEME_DIALOG));

  store = open_store ();
  scheme = facet_store_get_scheme (store, &n_scheme, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n_scheme, ==, n_model + 2);
  g_assert_cmpint (facet_au_panel_get_n_aus (panel), ==, n_before + 2);
  for (int i = 0; i < 2; i++)
    {
      lane = lane_of (hand_coded[i]);
      g_assert_cmpint (lane, >=, 0);
      g_assert_true (facet_au_panel_get_hand_coded (panel, lane));
      g_assert_true (facet_timeline_get_hand_coded (timeline, lane));
    }
  g_assert_false (facet_au_panel_get_hand_coded (panel, lane_of (model_au)));
  g_assert_false (facet_timeline_get_hand_coded (timeline, lane_of (model_au)));
  /* The model's lanes still have their predictions, the new ones none. */
  g_assert_cmpint (facet_timeline_data_count_known (facet_timeline_get_data (timeline)), ==, 30);

  /* U, the number, Enter selects an AU coded by hand; 1 labels it. */
  facet_window_show_video (fx.window, 1, 22);
  ui_settle (fx.window, TIMEOUT);
  ui_focus (GTK_WINDOW (fx.window));
  {
    g_autofree char *digits = g_strdup_printf ("%d", hand_coded[0]);
    ui_key (XK_u, FALSE, FALSE);
    ui_type (digits);
    ui_key (XK_Return, FALSE, FALSE);
  }
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (facet_au_panel_get_selected (panel), ==, lane_of (hand_coded[0]));
  ui_key (XK_1, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_true (facet_store_get_label (store, 1, 22, hand_coded[0], &label, &error));
  g_assert_no_error (error);
  g_assert_cmpint (label.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpstr (label.coder, ==, "ui-test");
  g_assert_cmpint (facet_au_panel_get_label_state (panel, lane_of (hand_coded[0])), ==,
                   FACET_LABEL_PRESENT);
  /* Accepting predictions leaves it alone: there is none. */
  ui_key (XK_a, TRUE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_true (facet_store_get_label (store, 1, 22, hand_coded[1], &label, &error));
  g_assert_cmpint (label.state, ==, FACET_LABEL_UNSET);

  /* The exports have a column for it, decided by the coder's label only. */
  {
    FacetExportOptions options = { FACET_EXPORT_TIMESERIES, 1, 1, NAN };
    g_autofree char *col = g_strdup_printf ("AU%02d", hand_coded[0]);
    g_autofree char *col2 = g_strdup_printf ("AU%02d", hand_coded[1]);

    g_assert_true (facet_store_export (store, &options, csv, &error));
    g_assert_no_error (error);
    text = read_text (csv);
    g_assert_nonnull (strstr (text, col));
    g_assert_nonnull (strstr (text, col2));
  }
}

static void
step_to (gint64 target)
{
  facet_window_show_video (fx.window, 1, target);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (ui_frame (fx.window), ==, target);
}

/* S at the onset, P at the apex, F at the offset: an event in the store,
 * on the timeline, in the events CSV and the ELAN file; X deletes it. */
static void
test_events (void)
{
  FacetTimeline *timeline = facet_window_get_timeline (fx.window);
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  g_autoptr (FacetStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) events = NULL;
  g_autoptr (GdkTexture) before = NULL, after = NULL;
  g_autofree char *csv = g_build_filename (fx.folder, "events.csv", NULL);
  g_autofree char *eaf = g_build_filename (fx.folder, "video.eaf", NULL);
  g_autofree char *text = NULL, *row = NULL, *apex = NULL;
  int au = hand_coded[1], lane = lane_of (au);
  FacetStoreEvent e;
  GdkRectangle area;

  g_assert_cmpint (lane, >=, 0);
  step_to (5);
  ui_focus (GTK_WINDOW (fx.window));
  facet_au_panel_set_selected (panel, lane);
  facet_timeline_zoom_fit (timeline);
  ui_settle (fx.window, TIMEOUT);
  ui_idle (0.3);
  before = ui_render (GTK_WIDGET (timeline));

  ui_key (XK_s, FALSE, FALSE);
  for (int i = 0; i < 3; i++)
    ui_key (XK_Right, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  ui_key (XK_p, FALSE, FALSE);
  for (int i = 0; i < 4; i++)
    ui_key (XK_Right, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (ui_frame (fx.window), ==, 12);
  /* While it is being marked, the timeline shows it. */
  g_assert_cmpuint (facet_timeline_count_marks (timeline, FACET_TIMELINE_MARK_PENDING), ==, 1);
  ui_key (XK_f, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);

  events = facet_store_list_events (store, 1, au, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 1);
  e = g_array_index (events, FacetStoreEvent, 0);
  g_assert_cmpint (e.onset, ==, 5);
  g_assert_cmpint (e.apex, ==, 8);
  g_assert_cmpint (e.offset, ==, 12);
  g_assert_cmpstr (e.coder, ==, "ui-test");
  g_assert_cmpuint (facet_window_get_n_marked_events (fx.window), ==, 1);
  g_assert_cmpuint (facet_timeline_count_marks (timeline, FACET_TIMELINE_MARK_EVENT), ==, 1);
  g_assert_cmpuint (facet_timeline_count_marks (timeline, FACET_TIMELINE_MARK_PENDING), ==, 0);

  /* Drawn in its lane between onset and offset. */
  ui_idle (0.3);
  after = ui_render (GTK_WIDGET (timeline));
  {
    const FacetTimelineLayout *l = facet_timeline_get_layout (timeline);
    double x0 = facet_timeline_layout_frame_to_x (l, 5), x1 = facet_timeline_layout_frame_to_x (l, 13);
    double y = facet_timeline_layout_lane_y (l, lane);
    area = (GdkRectangle) { (int) x0 + 1, (int) y + 2, MAX ((int) (x1 - x0) - 2, 1), 12 };
    g_test_message ("event drawn at x %.0f-%.0f, lane y %.0f", x0, x1, y);
    g_assert_cmpfloat (y, >=, l->ruler_height);
  }
  g_assert_cmpfloat (ui_texture_diff (before, after, &area, 40), >, 0.2);

  /* Exports: the marked events as CSV, and a tier in the ELAN file. */
  g_assert_true (facet_store_export_marked_events (store, csv, 0, &error));
  g_assert_no_error (error);
  text = read_text (csv);
  row = g_strdup_printf (",AU%02d,5,0.500000,8,0.800000,12,1.300000,ui-test\n", au);
  g_assert_nonnull (strstr (text, row));
  {
    FacetExportOptions options = { FACET_EXPORT_EAF, 1, 1, NAN };
    g_autofree char *xml = NULL;

    g_assert_true (facet_store_export (store, &options, eaf, &error));
    g_assert_no_error (error);
    xml = read_text (eaf);
    apex = g_strdup_printf ("AU%02d apex 8 (ui-test)", au);
    g_assert_nonnull (strstr (xml, "TIER_ID=\"Marked events\""));
    g_assert_nonnull (strstr (xml, apex));
  }

  /* X on the event deletes it; S, F marks one without an apex. */
  ui_key (XK_Left, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  ui_key (XK_x, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_clear_pointer (&events, g_array_unref);
  events = facet_store_list_events (store, 1, au, &error);
  g_assert_cmpuint (events->len, ==, 0);
  g_assert_cmpuint (facet_timeline_count_marks (timeline, FACET_TIMELINE_MARK_EVENT), ==, 0);
  ui_key (XK_s, FALSE, FALSE);
  ui_key (XK_Right, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  ui_key (XK_f, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_clear_pointer (&events, g_array_unref);
  events = facet_store_list_events (store, 1, au, &error);
  g_assert_cmpuint (events->len, ==, 1);
  g_assert_cmpint (g_array_index (events, FacetStoreEvent, 0).onset, ==, 11);
  g_assert_cmpint (g_array_index (events, FacetStoreEvent, 0).apex, ==, -1);
  g_assert_cmpint (g_array_index (events, FacetStoreEvent, 0).offset, ==, 12);
  /* F without S says what to do and marks nothing. */
  ui_key (XK_f, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_true (g_str_has_prefix (facet_window_get_last_toast (fx.window), "Mark the onset"));
}

static gboolean
dialog_shown (gpointer data)
{
  return ui_find_toplevel (ADW_TYPE_MESSAGE_DIALOG) != NULL;
}

static gboolean
dialog_gone (gpointer data)
{
  return ui_find_toplevel (ADW_TYPE_MESSAGE_DIALOG) == NULL;
}

static void
add_note (const char *text)
{
  ui_key (XK_t, FALSE, FALSE);
  g_assert_true (ui_wait (dialog_shown, NULL, 5.0));
  ui_idle (0.3);
  ui_type (text);
  ui_key (XK_Return, FALSE, FALSE);
  g_assert_true (ui_wait (dialog_gone, NULL, 5.0));
  ui_settle (fx.window, TIMEOUT);
}

static gboolean
file_exists (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static gboolean
notes_loaded (gpointer window)
{
  return !facet_notes_window_is_loading (window);
}

/* T adds a note on the frame, on a range, on an event; Ctrl+F finds them,
 * a search narrows them, a row goes there; they are exported. */
static void
test_notes (void)
{
  FacetTimeline *timeline = facet_window_get_timeline (fx.window);
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  g_autoptr (FacetStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) notes = NULL;
  g_autofree char *csv = g_build_filename (fx.folder, "notes.csv", NULL);
  g_autofree char *eaf = g_build_filename (fx.folder, "notes.eaf", NULL);
  g_autofree char *text = NULL;
  FacetNotesWindow *win;
  const FacetStoreNote *n;
  int lane = lane_of (hand_coded[0]);

  step_to (3);
  ui_focus (GTK_WINDOW (fx.window));
  add_note ("smile onset unclear");
  /* A range in a lane: I, then O two frames on. */
  facet_au_panel_set_selected (panel, lane);
  ui_key (XK_i, FALSE, FALSE);
  ui_key (XK_Right, FALSE, FALSE);
  ui_key (XK_Right, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  ui_key (XK_o, FALSE, FALSE);
  g_assert_true (facet_timeline_get_range (timeline, NULL, NULL, NULL));
  add_note ("occluded by the hand");
  ui_key (XK_Escape, FALSE, FALSE);
  /* On the marked event of the previous test (frames 11-12). */
  facet_au_panel_set_selected (panel, lane_of (hand_coded[1]));
  step_to (12);
  ui_focus (GTK_WINDOW (fx.window));
  add_note ("weak, check with a second coder");

  notes = facet_store_list_notes (store, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (notes->len, ==, 3);
  n = notes->pdata[0];
  g_assert_cmpint (n->first, ==, 3);
  g_assert_cmpint (n->last, ==, 3);
  g_assert_cmpint (n->au, ==, 0);
  g_assert_cmpstr (n->text, ==, "smile onset unclear");
  n = notes->pdata[1];
  g_assert_cmpint (n->first, ==, 3);
  g_assert_cmpint (n->last, ==, 5);
  g_assert_cmpint (n->au, ==, hand_coded[0]);
  g_assert_cmpstr (n->text, ==, "occluded by the hand");
  n = notes->pdata[2];
  g_assert_cmpint (n->first, ==, 11);
  g_assert_cmpint (n->last, ==, 12);
  g_assert_cmpint (n->au, ==, hand_coded[1]);
  g_assert_cmpint (n->event_id, >, 0);
  g_assert_cmpuint (facet_timeline_count_marks (timeline, FACET_TIMELINE_MARK_NOTE), ==, 3);

  /* Ctrl+F lists them; typing narrows; a row goes to the note. */
  ui_key (XK_f, FALSE, TRUE);
  win = FACET_NOTES_WINDOW (wait_toplevel (FACET_TYPE_NOTES_WINDOW));
  g_assert_true (ui_wait (notes_loaded, win, 5.0));
  g_assert_cmpuint (facet_notes_window_get_n_notes (win), ==, 3);
  ui_idle (0.3);
  check_dialog (GTK_WINDOW (win), "coding-notes");
  ui_type ("occluded");
  ui_idle (0.6);
  g_assert_true (ui_wait (notes_loaded, win, 5.0));
  g_assert_cmpstr (gtk_editable_get_text (facet_notes_window_get_search (win)), ==, "occluded");
  g_assert_cmpuint (facet_notes_window_get_n_notes (win), ==, 1);
  g_assert_true (facet_notes_window_activate_row (win, 0));
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (ui_frame (fx.window), ==, 3);
  g_assert_cmpint (facet_au_panel_get_selected (panel), ==, lane);

  /* Exported: a CSV of the notes, and a tier in the ELAN file. */
  facet_notes_window_export_to (win, csv, FALSE);
  g_assert_true (ui_wait (file_exists, csv, 10.0));
  ui_idle (0.3);
  text = read_text (csv);
  g_assert_true (g_str_has_prefix (text, "video,file,first_frame,first_time,last_frame"));
  g_assert_nonnull (strstr (text, ",ui-test,occluded by the hand\n"));
  g_assert_nonnull (strstr (text, ",ui-test,\"weak, check with a second coder\"\n"));
  gtk_window_destroy (GTK_WINDOW (win));
  ui_idle (0.2);
  {
    FacetExportOptions options = { FACET_EXPORT_EAF, 1, 1, NAN };
    g_autofree char *xml = NULL;

    g_assert_true (facet_store_export (store, &options, eaf, &error));
    g_assert_no_error (error);
    xml = read_text (eaf);
    g_assert_nonnull (strstr (xml, "TIER_ID=\"Notes\""));
    g_assert_nonnull (strstr (xml, "smile onset unclear (ui-test)"));
  }
}

/* F1 of p >= t against the project's present/absent labels, counted here
 * without the store's curve code. */
static double
f1_by_hand (FacetStore *store,
            int         au,
            float       t,
            gsize      *n_labelled)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStoreModel) m = facet_store_get_model (store, 1, &error);
  int k = facet_store_model_find_au (m, au);
  gsize tp = 0, fp = 0, fn = 0;

  *n_labelled = 0;
  for (gint64 video = 1; video <= 2; video++)
    {
      g_autoptr (GArray) labels = facet_store_get_labels (store, video, au, 0, -1, &error);
      g_autoptr (FacetPredictionSet) set = facet_store_get_predictions (store, 1, video, 0, -1,
                                                                        &error);
      g_assert_no_error (error);
      for (guint i = 0; i < labels->len; i++)
        {
          const FacetLabel *l = &g_array_index (labels, FacetLabel, i);
          if (l->state != FACET_LABEL_PRESENT && l->state != FACET_LABEL_ABSENT)
            continue;
          for (gsize r = 0; r < set->n; r++)
            if (set->frames[r] == l->frame && !isnan (set->probs[r * set->n_aus + k]))
              {
                gboolean said = set->probs[r * set->n_aus + k] >= t;
                gboolean is = l->state == FACET_LABEL_PRESENT;
                tp += said && is;
                fp += said && !is;
                fn += !said && is;
                (*n_labelled)++;
              }
        }
    }
  return tp == 0 ? 0.0 : 2.0 * tp / (double) (2 * tp + fp + fn);
}

static gboolean
measured (gpointer dialog)
{
  return facet_thresholds_dialog_is_measured (dialog);
}

static gboolean
threshold_is (gpointer data)
{
  const float *want = data;

  return fabsf (facet_window_get_threshold (fx.window, (int) want[0]) - want[1]) < 1e-4f;
}

/* The model's thresholds, dragged with the F1 shown at each, saved with
 * the model and then used by the window. */
static void
test_thresholds (void)
{
  g_autoptr (FacetStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStoreModel) m = facet_store_get_model (store, 1, &error);
  g_autoptr (GSettings) settings = g_settings_new ("io.github.facet.Facet");
  g_autoptr (FacetStoreModel) saved = NULL;
  FacetThresholdsDialog *dialog;
  GtkRange *scale = NULL;
  g_autofree char *want = NULL;
  const char *shown;
  double f1, value;
  gsize n_labelled = 0;
  int au = 0, k;
  float expect[2];

  g_assert_no_error (error);
  /* The edit only counts with the model's own thresholds in use. */
  g_settings_set_boolean (settings, "use-model-thresholds", FALSE);
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.thresholds", NULL);
  dialog = FACET_THRESHOLDS_DIALOG (wait_toplevel (FACET_TYPE_THRESHOLDS_DIALOG));
  g_assert_true (ui_wait (measured, dialog, TIMEOUT));
  ui_idle (0.5);
  /* An AU with labelled present frames. */
  for (k = 0; k < m->n_aus && au == 0; k++)
    if (g_str_has_prefix (facet_thresholds_dialog_get_f1_text (dialog, m->au_ids[k]), "F1 "))
      au = m->au_ids[k];
  g_assert_cmpint (au, >, 0);
  check_dialog (GTK_WINDOW (dialog), "coding-thresholds");
  scale = facet_thresholds_dialog_get_scale (dialog, au);
  g_assert_nonnull (scale);
  gtk_widget_grab_focus (GTK_WIDGET (scale));
  ui_idle (0.3);
  /* Moved with the keyboard, a hundredth a step: the F1 line follows
   * each step, as it does under the mouse. */
  for (int step = 0; step < 20; step++)
    ui_key (XK_Left, FALSE, FALSE);
  ui_idle (0.3);
  value = gtk_range_get_value (scale);
  g_assert_cmpfloat (value, <, m->thresholds[k - 1] - 0.1);
  f1 = f1_by_hand (store, au, (float) value, &n_labelled);
  shown = facet_thresholds_dialog_get_f1_text (dialog, au);
  want = g_strdup_printf ("F1 %.3f ·", f1);
  g_test_message ("AU%02d at %.2f: %s (by hand: F1 %.3f on %zu frames)", au, value, shown, f1,
                  n_labelled);
  g_assert_cmpuint (n_labelled, >, 0);
  g_assert_true (g_str_has_prefix (shown, want));

  facet_thresholds_dialog_save (dialog);
  expect[0] = (float) au;
  expect[1] = roundf ((float) value * 100.0f) / 100.0f;
  g_assert_true (ui_wait (threshold_is, expect, TIMEOUT));
  ui_settle (fx.window, TIMEOUT);
  g_assert_null (ui_find_toplevel (FACET_TYPE_THRESHOLDS_DIALOG));
  saved = facet_store_get_model (store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (fabsf (saved->thresholds[k - 1] - expect[1]), <, 1e-6);
  g_assert_true (g_settings_get_boolean (settings, "use-model-thresholds"));
  /* The timeline draws the edited threshold too. */
  g_assert_cmpfloat (fabsf (facet_timeline_data_get_threshold (
                       facet_timeline_get_data (facet_window_get_timeline (fx.window)),
                       lane_of (au)) - expect[1]), <, 1e-6);
}

int
main (int    argc,
      char **argv)
{
  if (!ui_init (&argc, &argv))
    return 77;
  ui_fixture_build (&fx, "facet-ergonomics", UI_RECIPE_TWO_SUBJECTS ("coding test"));
  ui_fixture_open (&fx, 1400, 900, TIMEOUT);

  g_test_add_func ("/ui/ergonomics/panel-rescroll", test_panel_rescroll);
  g_test_add_func ("/ui/ergonomics/scheme", test_scheme);
  g_test_add_func ("/ui/ergonomics/events", test_events);
  g_test_add_func ("/ui/ergonomics/notes", test_notes);
  g_test_add_func ("/ui/ergonomics/thresholds", test_thresholds);
  return ui_fixture_close (&fx, g_test_run ());
}
