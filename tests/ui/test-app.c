/* test-app.c — the application as a coder uses it, under Xvfb
 *
 * Opens a small analysed demo project, steps through frames with the
 * arrow keys, labels with the number keys, marks a range by dragging in a
 * timeline lane, undoes and redoes with Ctrl+Z, and checks every step in
 * the project file through a connection of its own. Renders the main
 * window with each overlay to PNG (test artefacts in the build folder) and
 * fails when the picture is blank or an overlay changes nothing.
 */
#include "config.h"

#include <math.h>

#include <X11/keysym.h>
#include <glib/gstdio.h>

#include "media/media-synth.h"

#include "facet-add-media-dialog.h"
#include "facet-finetune-dialog.h"
#include "ui-harness.h"

#define TIMEOUT 60.0

/* Two subjects, three seconds each: small enough for `make check`. */
static const char recipe[] =
  "[Demo]\nName=ui test\nFramesPerSecond=10\nFrameSize=160\nCodec=h264\nCrop=aligned\n"
  "LabelledFraction=0.5\nCoder=Importer\n"
  "[Subject A1]\nSeed=11\nRecording=1\nSeconds=3\n"
  "[Subject B2]\nSeed=22\nRecording=2\nSeconds=3\n";

static struct
{
  char             *folder;
  char             *project;
  char             *artefacts;
  FacetApplication *app;
  FacetWindow      *window;
} fx;

static FacetLabel
read_label (gint64 video,
            gint64 frame,
            int    au)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);
  FacetLabel label = { 0 };

  g_assert_no_error (error);
  facet_store_get_label (store, video, frame, au, &label, &error);
  g_assert_no_error (error);
  return label;
}

static void
settle (void)
{
  if (!ui_wait_settled (fx.window, TIMEOUT))
    g_error ("the window did not settle within %.0f s", TIMEOUT);
}

static gint64
frame (void)
{
  return facet_player_get_frame (facet_window_get_player (fx.window));
}

static void
test_open (void)
{
  FacetTimeline *timeline = facet_window_get_timeline (fx.window);
  FacetTimelineData *data = facet_timeline_get_data (timeline);
  g_autofree char *position = NULL;

  g_assert_cmpint (facet_window_get_video_id (fx.window), ==, 1);
  g_assert_cmpint (facet_player_get_n_frames (facet_window_get_player (fx.window)), ==, 30);
  g_assert_cmpint (facet_frame_view_get_frame (facet_window_get_frame_view (fx.window)), ==, 0);
  g_assert_cmpint (facet_au_panel_get_n_aus (facet_window_get_au_panel (fx.window)), >=, 8);
  g_assert_nonnull (data);
  /* Every frame was analysed before opening: the timeline has them all. */
  g_assert_cmpint (facet_timeline_data_count_known (data), ==, 30);
  position = facet_transport_dup_position_text (facet_window_get_transport (fx.window));
  g_assert_nonnull (strstr (position, "0 / 29"));
}

static void
test_step (void)
{
  g_autofree char *position = NULL;

  ui_focus (GTK_WINDOW (fx.window));
  for (int i = 0; i < 3; i++)
    ui_key (XK_Right, FALSE, FALSE);
  settle ();
  g_assert_cmpint (frame (), ==, 3);
  /* The picture on screen is that frame, not a neighbour. */
  g_assert_cmpint (facet_frame_view_get_frame (facet_window_get_frame_view (fx.window)), ==, 3);
  position = facet_transport_dup_position_text (facet_window_get_transport (fx.window));
  g_assert_nonnull (strstr (position, "3 / 29"));

  /* A second is ten frames here. */
  ui_key (XK_Right, TRUE, FALSE);
  settle ();
  g_assert_cmpint (frame (), ==, 13);
  ui_key (XK_Left, FALSE, FALSE);
  settle ();
  g_assert_cmpint (frame (), ==, 12);
  ui_key (XK_End, FALSE, FALSE);
  settle ();
  g_assert_cmpint (frame (), ==, 29);
  ui_key (XK_Home, FALSE, FALSE);
  settle ();
  g_assert_cmpint (frame (), ==, 0);
  g_assert_cmpint (facet_timeline_get_position (facet_window_get_timeline (fx.window)), ==, 0);
}

static void
test_label_keys (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  FacetLabel l;
  int au;

  ui_focus (GTK_WINDOW (fx.window));
  /* Frame 20 is past the imported half: unlabelled. */
  for (int i = 0; i < 2; i++)
    ui_key (XK_Right, TRUE, FALSE);
  settle ();
  g_assert_cmpint (frame (), ==, 20);
  facet_au_panel_set_selected (panel, 0);
  ui_key (XK_Down, FALSE, FALSE);
  settle ();
  g_assert_cmpint (facet_au_panel_get_selected (panel), ==, 1);
  au = facet_au_panel_get_au (panel, 1);
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_UNSET);

  ui_key (XK_1, FALSE, FALSE);
  settle ();
  l = read_label (1, 20, au);
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (l.source, ==, FACET_LABEL_SOURCE_HUMAN);
  g_assert_cmpstr (l.coder, ==, "ui-test");
  g_assert_cmpint (facet_au_panel_get_label_state (panel, 1), ==, FACET_LABEL_PRESENT);

  ui_key (XK_2, FALSE, FALSE);
  settle ();
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_ABSENT);
  ui_key (XK_3, FALSE, FALSE);
  settle ();
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_NOT_CODABLE);
  g_assert_cmpint (facet_au_panel_get_label_state (panel, 1), ==, FACET_LABEL_NOT_CODABLE);

  /* Undo walks back through the store's history, redo forward again. */
  ui_key (XK_z, FALSE, TRUE);
  settle ();
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_ABSENT);
  ui_key (XK_z, FALSE, TRUE);
  settle ();
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_PRESENT);
  ui_key (XK_z, TRUE, TRUE);
  settle ();
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (facet_au_panel_get_label_state (panel, 1), ==, FACET_LABEL_ABSENT);

  ui_key (XK_0, FALSE, FALSE);
  settle ();
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_UNSET);
  g_assert_cmpint (facet_au_panel_get_label_state (panel, 1), ==, FACET_LABEL_UNSET);

  /* Moving on keeps the label where it was made. */
  ui_key (XK_Right, FALSE, FALSE);
  ui_key (XK_1, FALSE, FALSE);
  settle ();
  g_assert_cmpint (read_label (1, 21, au).state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (read_label (1, 20, au).state, ==, FACET_LABEL_UNSET);
}

static void
test_range (void)
{
  FacetTimeline *timeline = facet_window_get_timeline (fx.window);
  const FacetTimelineLayout *l = facet_timeline_get_layout (timeline);
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  int lane = 2, au = facet_au_panel_get_au (panel, 2), lane0;
  gint64 first, last;
  double y, x0, x1;

  ui_focus (GTK_WINDOW (fx.window));
  facet_timeline_zoom_fit (timeline);
  settle ();
  y = facet_timeline_layout_lane_y (l, lane) + l->lane_height / 2;
  x0 = facet_timeline_layout_frame_to_x (l, 16.5);
  x1 = facet_timeline_layout_frame_to_x (l, 24.5);
  ui_drag (GTK_WIDGET (timeline), x0, y, x1, y);
  g_assert_true (facet_timeline_get_range (timeline, &lane0, &first, &last));
  g_assert_cmpint (lane0, ==, lane);
  g_assert_cmpint (first, ==, 16);
  g_assert_cmpint (last, ==, 24);
  /* The range menu is open; the key marks the range whatever has focus. */
  ui_key (XK_Escape, FALSE, FALSE);
  g_assert_true (facet_timeline_get_range (timeline, NULL, NULL, NULL));
  ui_focus (GTK_WINDOW (fx.window));
  ui_key (XK_1, FALSE, FALSE);
  settle ();
  g_assert_false (facet_timeline_get_range (timeline, NULL, NULL, NULL));
  for (gint64 f = 16; f <= 24; f++)
    g_assert_cmpint (read_label (1, f, au).state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (read_label (1, 25, au).state, ==, FACET_LABEL_UNSET);
  /* The lane shows the new run. */
  {
    guint n;
    const FacetLabelSegment *segs =
      facet_timeline_data_get_segments (facet_timeline_get_data (timeline), lane, &n);
    int i = facet_timeline_segments_find (segs, n, 20);
    g_assert_cmpint (i, >=, 0);
    g_assert_cmpint (segs[i].state, ==, FACET_LABEL_PRESENT);
  }

  /* One undo step takes the whole range back. */
  ui_key (XK_z, FALSE, TRUE);
  settle ();
  for (gint64 f = 16; f <= 24; f++)
    g_assert_cmpint (read_label (1, f, au).state, ==, FACET_LABEL_UNSET);
}

typedef struct
{
  const char *name;
  gboolean    box;
  gboolean    landmarks;
  gboolean    heatmap;
  gboolean    per_au;
} Overlay;

static void
set_overlay (GSettings     *settings,
             const Overlay *o)
{
  /* The overlay keys of the scheme, pressed only when the state differs. */
  if (g_settings_get_boolean (settings, "show-face-box") != o->box)
    ui_key (XK_b, FALSE, FALSE);
  if (g_settings_get_boolean (settings, "show-landmarks") != o->landmarks)
    ui_key (XK_l, FALSE, FALSE);
  if (g_settings_get_boolean (settings, "show-heatmap") != o->heatmap)
    ui_key (XK_h, FALSE, FALSE);
  if ((g_settings_get_enum (settings, "heatmap-source") == 1) != o->per_au)
    ui_key (XK_m, FALSE, FALSE);
  settle ();
  g_assert_cmpint (g_settings_get_boolean (settings, "show-face-box"), ==, o->box);
  g_assert_cmpint (g_settings_get_boolean (settings, "show-landmarks"), ==, o->landmarks);
  g_assert_cmpint (g_settings_get_boolean (settings, "show-heatmap"), ==, o->heatmap);
}

static void
test_screenshots (void)
{
  static const Overlay overlays[] = {
    { "plain", FALSE, FALSE, FALSE, FALSE },
    { "face-box", TRUE, FALSE, FALSE, FALSE },
    { "landmarks", FALSE, TRUE, FALSE, FALSE },
    { "heatmap-model", FALSE, FALSE, TRUE, FALSE },
    { "heatmap-au", FALSE, FALSE, TRUE, TRUE },
    { "all", TRUE, TRUE, TRUE, FALSE },
  };
  g_autoptr (GSettings) settings = g_settings_new ("io.github.facet.Facet");
  g_autoptr (GdkTexture) plain = NULL, model_map = NULL;
  GdkRectangle view;

  ui_focus (GTK_WINDOW (fx.window));
  /* A frame with a face, a few into the video. */
  facet_window_show_video (fx.window, 2, 7);
  settle ();
  g_assert_true (ui_widget_bounds (GTK_WIDGET (facet_window_get_frame_view (fx.window)),
                                   GTK_WIDGET (fx.window), &view));
  for (guint i = 0; i < G_N_ELEMENTS (overlays); i++)
    {
      g_autoptr (GdkTexture) shot = NULL;
      g_autofree char *path = g_strdup_printf ("%s/main-%s.png", fx.artefacts, overlays[i].name);
      double variance;

      set_overlay (settings, &overlays[i]);
      shot = ui_render (GTK_WIDGET (fx.window));
      g_assert_true (gdk_texture_save_to_png (shot, path));
      g_test_message ("screenshot %s", path);

      /* Blank, or one flat colour, is a failure whatever else works. */
      variance = ui_texture_variance (shot);
      g_test_message ("%s: luminance variance %.1f", overlays[i].name, variance);
      g_assert_cmpfloat (variance, >, 100.0);

      if (g_str_equal (overlays[i].name, "heatmap-model"))
        model_map = g_object_ref (shot);
      if (g_str_equal (overlays[i].name, "heatmap-au"))
        {
          /* M switched to another map: the AU's evidence, not the attention. */
          double d = ui_texture_diff (model_map, shot, &view, 24);
          g_test_message ("heatmap-au: %.2f %% differs from the model's attention", 100 * d);
          g_assert_cmpfloat (d, >, 0.01);
        }
      if (i == 0)
        plain = g_object_ref (shot);
      else
        {
          /* Each overlay changes the frame view, and only a part of it. */
          double d = ui_texture_diff (plain, shot, &view, 24);
          g_test_message ("%s: %.2f %% of the frame view differs from the plain frame",
                          overlays[i].name,
                          100 * d);
          g_assert_cmpfloat (d, >, 0.002);
          g_assert_cmpfloat (d, <, 0.9);
        }
    }
}

static void
test_review (void)
{
  gint64 before_video = facet_window_get_video_id (fx.window), before = frame ();
  gboolean moved = FALSE;

  ui_focus (GTK_WINDOW (fx.window));
  /* "Next to check" lands on a different frame each time it is pressed. */
  for (int i = 0; i < 3; i++)
    {
      ui_key (XK_n, FALSE, FALSE);
      settle ();
      moved |= facet_window_get_video_id (fx.window) != before_video || frame () != before;
      before_video = facet_window_get_video_id (fx.window);
      before = frame ();
    }
  g_assert_true (moved);
}

static GtkWidget *
find_widget (GtkWidget   *root,
             GType        type,
             const char  *label)
{
  gboolean labelled = label == NULL
                      || (GTK_IS_BUTTON (root)
                          && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0);

  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type) && labelled)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_widget (c, type, label);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
three_videos (gpointer data)
{
  return facet_project_get_videos (facet_window_get_project (fx.window))->len == 3;
}

static void
test_add_media (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (33);
  g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, 3, 10, 10.0);
  g_autofree char *path = g_build_filename (fx.folder, "c33_session1.mkv", NULL);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *guess = facet_add_media_guess_subject (path);
  GtkWidget *dialog, *entry, *add;
  GtkWindow *found = NULL;
  GList *toplevels;
  FacetStoreVideo *v;

  g_assert_cmpstr (guess, ==, "c33");
  facet_synth_write_video (subject, timeline, path, 160, "h264", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (files, g_file_new_for_path (path));

  /* What a drop or the file chooser hands over. */
  facet_window_add_files (fx.window, files);
  ui_idle (0.5);
  toplevels = gtk_window_list_toplevels ();
  for (GList *l = toplevels; l != NULL; l = l->next)
    if (FACET_IS_ADD_MEDIA_DIALOG (l->data))
      found = l->data;
  g_list_free (toplevels);
  g_assert_nonnull (found);
  dialog = GTK_WIDGET (found);
  entry = find_widget (dialog, ADW_TYPE_ENTRY_ROW, NULL);
  g_assert_nonnull (entry);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "c33");
  gtk_editable_set_text (GTK_EDITABLE (entry), "C3");
  add = find_widget (dialog, GTK_TYPE_BUTTON, "_Add");
  g_assert_nonnull (add);
  g_signal_emit_by_name (add, "clicked");
  g_assert_true (ui_wait (three_videos, NULL, TIMEOUT));
  v = facet_project_get_video (facet_window_get_project (fx.window), 3);
  g_assert_nonnull (v);
  g_assert_cmpstr (v->subject, ==, "C3");
  g_assert_cmpint (v->n_frames, ==, 10);
  g_assert_cmpint (v->crop, ==, FACET_CROP_ALIGNED);

  /* The same file again is refused, and says so in the dialog. */
  facet_window_add_files (fx.window, files);
  ui_idle (0.5);
  found = NULL;
  toplevels = gtk_window_list_toplevels ();
  for (GList *l = toplevels; l != NULL; l = l->next)
    if (FACET_IS_ADD_MEDIA_DIALOG (l->data))
      found = l->data;
  g_list_free (toplevels);
  g_assert_nonnull (found);
  add = find_widget (GTK_WIDGET (found), GTK_TYPE_BUTTON, "_Add");
  g_signal_emit_by_name (add, "clicked");
  ui_idle (2.0);
  g_assert_cmpuint (facet_project_get_videos (facet_window_get_project (fx.window))->len, ==, 3);
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (add)), ==, "_Close");
  gtk_window_destroy (found);
  settle ();
}

/* A child of a template by its id in the .ui file. */
static GtkWidget *
find_by_id (GtkWidget  *root,
            const char *id)
{
  if (g_strcmp0 (gtk_buildable_get_buildable_id (GTK_BUILDABLE (root)), id) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_by_id (c, id);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
visible_cond (gpointer widget)
{
  return gtk_widget_get_visible (widget);
}

/* Fine-tuning from the app: IAT's strength is off in heads mode; a heads
 * run ends with the base and the new model side by side on the same
 * held-out frames, every AU listed, the notes under the table, and the
 * re-analyse button offered as the next step only when the new model is
 * not worse. */
static void
test_finetune (void)
{
  GtkWidget *dialog = facet_finetune_dialog_new (GTK_WINDOW (fx.window),
                                                 facet_window_get_project (fx.window));
  GtkWidget *mode, *lambda, *epochs, *start, *grid, *reanalyse, *status;
  g_autoptr (GString) cells = g_string_new (NULL);
  const char *status_text;

  gtk_window_present (GTK_WINDOW (dialog));
  mode = find_by_id (dialog, "mode_row");
  lambda = find_by_id (dialog, "lambda_spin");
  epochs = find_by_id (dialog, "epochs_spin");
  start = find_by_id (dialog, "start_button");
  grid = find_by_id (dialog, "results_grid");
  reanalyse = find_by_id (dialog, "reanalyse_button");
  status = find_by_id (dialog, "status_label");
  g_assert_true (mode && lambda && epochs && start && grid && reanalyse && status);

  adw_combo_row_set_selected (ADW_COMBO_ROW (mode), 1);
  g_assert_true (gtk_widget_get_sensitive (lambda));
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (lambda)), ==, 0.5);
  adw_combo_row_set_selected (ADW_COMBO_ROW (mode), 0);
  g_assert_false (gtk_widget_get_sensitive (lambda));
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (lambda)), ==, 0.0);

  gtk_spin_button_set_value (GTK_SPIN_BUTTON (epochs), 3);
  ui_wait (visible_cond, start, TIMEOUT);
  g_assert_true (gtk_widget_get_sensitive (start));
  gtk_widget_activate (start);
  if (!ui_wait (visible_cond, grid, 300.0))
    g_error ("fine-tuning did not finish: %s", gtk_label_get_text (GTK_LABEL (status)));
  for (GtkWidget *c = gtk_widget_get_first_child (grid); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_LABEL (c))
      g_string_append_printf (cells, "%s\n", gtk_label_get_text (GTK_LABEL (c)));
  g_test_message ("%s", cells->str);
  g_assert_nonnull (strstr (cells->str, "Base model"));
  g_assert_nonnull (strstr (cells->str, "F1 AU01"));
  g_assert_nonnull (strstr (cells->str, "AUC AU43"));
  g_assert_nonnull (strstr (cells->str, "Identity probe, training subjects"));
  g_assert_nonnull (strstr (cells->str, "sidebar"));
  g_assert_true (gtk_widget_get_visible (reanalyse));
  status_text = gtk_label_get_text (GTK_LABEL (status));
  g_test_message ("%s", status_text);
  g_assert_cmpint (strstr (status_text, "worse") != NULL, ==,
                   !gtk_widget_has_css_class (reanalyse, "suggested-action"));
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

static void
remove_tree (GFile *file)
{
  g_autoptr (GFileEnumerator) children =
    g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                               G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                               NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autoptr (GFile) child = g_file_get_child (file, g_file_info_get_name (info));
      remove_tree (child);
      g_object_unref (info);
    }
  g_file_delete (file, NULL, NULL);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSettings) settings = NULL;
  double seconds;
  int status;

  g_test_init (&argc, &argv, NULL);
  gtk_init ();
  adw_init ();
  if (!ui_input_available ())
    {
      g_printerr ("no X display with XTest: run under tests/ui/run-xvfb.sh\n");
      return 77;
    }

  fx.folder = g_dir_make_tmp ("facet-ui-XXXXXX", &error);
  g_assert_no_error (error);
  fx.artefacts = g_build_filename (g_getenv ("FACET_UI_ARTEFACTS") ? g_getenv ("FACET_UI_ARTEFACTS")
                                                                   : fx.folder, NULL);
  g_mkdir_with_parents (fx.artefacts, 0755);
  fx.project = ui_build_project (fx.folder, recipe, TRUE, &seconds);
  g_test_message ("demo project built and analysed in %.1f s", seconds);

  fx.app = ui_app_new ();
  settings = g_settings_new ("io.github.facet.Facet");
  g_settings_set_string (settings, "coder-name", "ui-test");
  g_settings_set_boolean (settings, "show-face-box", FALSE);
  fx.window = ui_window_new (fx.app, 1400, 900);
  facet_window_open_project (fx.window, fx.project, FALSE, FALSE);
  if (!ui_wait_settled (fx.window, TIMEOUT))
    g_error ("the demo project did not open within %.0f s", TIMEOUT);

  g_test_add_func ("/ui/app/open", test_open);
  g_test_add_func ("/ui/app/step", test_step);
  g_test_add_func ("/ui/app/label-keys", test_label_keys);
  g_test_add_func ("/ui/app/range", test_range);
  g_test_add_func ("/ui/app/screenshots", test_screenshots);
  g_test_add_func ("/ui/app/review", test_review);
  g_test_add_func ("/ui/app/add-media", test_add_media);
  g_test_add_func ("/ui/app/finetune", test_finetune);
  status = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (fx.window));
  ui_idle (0.2);
  g_clear_object (&fx.app);
  if (status == 0 && g_getenv ("FACET_UI_KEEP") == NULL)
    {
      g_autoptr (GFile) folder = g_file_new_for_path (fx.folder);
      remove_tree (folder);
    }
  g_free (fx.folder);
  g_free (fx.project);
  g_free (fx.artefacts);
  return status;
}
