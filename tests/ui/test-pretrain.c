/* test-pretrain.c — "Adapt to these videos first" in the fine-tuning dialog, under Xvfb
 *
 * A small analysed project with a tiny model (64 x 64 crops, two blocks):
 * the switch says when a base cannot be adapted and is worked by the
 * keyboard; Stop during pre-training leaves no model and no file behind,
 * Stop during fine-tuning keeps the finished adapted model;
 * a whole run registers the adapted model (kind "pre-trained", the base
 * as its parent) and the fine-tuned one with the adapted model as its
 * parent, and shows original / masked / reconstruction faces; a missing
 * video is named in the dialog. The dialog is rendered to PNG (a test
 * artefact in the build folder).
 */
#include "config.h"

#include <X11/keysym.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "engine/facet-engine.h"
#include "media/media-synth.h"

#include "facet-finetune-dialog.h"
#include "ui-harness.h"

#define TIMEOUT 60.0
#define SIZE    64

static UiFixture fx;
static gint64    missing_id;

/* A random tiny ViT on 64 x 64 crops of the whole frame: a pre-training
 * step takes seconds on two cores. */
static char *
make_tiny_model (const char *folder)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  char *path = g_build_filename (folder, "tiny.safetensors", NULL);
  const int *aus;
  int n_aus;

  facet_model_config_set_preset (c, "tiny");
  c->depth = 2;
  c->image_size = SIZE;
  c->crop = FACET_CROP_NONE;
  aus = facet_synth_aus (&n_aus);
  facet_model_config_set_aus (c, aus, n_aus);
  c->name = g_strdup ("tiny test model");
  model = facet_model_new_random (c, 3, &error);
  g_assert_no_error (error);
  g_assert_true (facet_model_save (model, path, NULL, &error));
  g_assert_no_error (error);
  return path;
}

/* A second row whose file is not there: a base that cannot be adapted
 * (a pre-trained one without AUs, so that the project does not open with
 * it). */
static void
add_missing_model (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);
  g_autoptr (FacetStoreModel) m = NULL;
  g_autofree char *path = g_build_filename (fx.folder, "gone.safetensors", NULL);
  FacetStoreModelInfo info = { 0 };

  g_assert_no_error (error);
  m = facet_store_get_model (store, 1, &error);
  g_assert_no_error (error);
  info.file = path;
  info.name = "gone";
  info.sha256 = "0000000000000000000000000000000000000000000000000000000000000002";
  info.config_json = m->config_json;
  info.settings_json = "{\"kind\":\"pre-trained\"}";
  missing_id = facet_store_add_model (store, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpint (missing_id, >, 1);
}

static GPtrArray *
list_models (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);
  GPtrArray *models;

  g_assert_no_error (error);
  models = facet_store_list_models (store, &error);
  g_assert_no_error (error);
  return models;
}

/* The names in the project's models folder, sorted, one a line. */
static char *
models_folder (void)
{
  g_autofree char *dir = g_build_filename (fx.folder, "models", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) s = g_string_new (NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s\n", (char *) g_ptr_array_index (names, i));
  return g_string_free (g_steal_pointer (&s), FALSE);
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

static GtkWidget *
by_id (GtkWidget  *dialog,
       const char *id)
{
  GtkWidget *w = find_by_id (dialog, id);

  if (w == NULL)
    g_error ("no widget “%s” in the dialog", id);
  return w;
}

static GtkWidget *
open_dialog (void)
{
  GtkWidget *dialog;

  /* The project reloads its models after a run: open on the new list. */
  ui_settle (fx.window, TIMEOUT);
  dialog = facet_finetune_dialog_new (GTK_WINDOW (fx.window), facet_window_get_project (fx.window));

  gtk_window_present (GTK_WINDOW (dialog));
  ui_idle (0.3);
  return dialog;
}

static gboolean
visible_cond (gpointer widget)
{
  return gtk_widget_get_visible (widget);
}

static gboolean
sensitive_cond (gpointer widget)
{
  return gtk_widget_get_sensitive (widget);
}

/* The labelled frames are counted (Start is refused until then when there
 * is nothing to train on). */
static gboolean
counted_cond (gpointer label)
{
  return !g_str_has_prefix (gtk_label_get_text (label), "Counting");
}

static gboolean
adapting_cond (gpointer label)
{
  return g_str_has_prefix (gtk_label_get_text (label), "Adapting: epoch");
}

static gboolean
running_cond (gpointer button)
{
  return strstr (gtk_button_get_label (button), "Stop") != NULL;
}

/* The Start button reads "Start" again once the worker has returned. */
static gboolean
idle_cond (gpointer button)
{
  return strstr (gtk_button_get_label (button), "Start") != NULL;
}

/* A base whose file is gone cannot be adapted, and the dialog says so and
 * why; the model in use can. */
static void
test_unadaptable (void)
{
  GtkWidget *dialog = open_dialog ();
  GtkWidget *base = by_id (dialog, "base_row"), *row = by_id (dialog, "adapt_row");
  GtkLabel *label = GTK_LABEL (by_id (dialog, "adapt_label"));

  g_assert_cmpuint (adw_combo_row_get_selected (ADW_COMBO_ROW (base)), ==, 0);
  g_assert_true (gtk_widget_get_sensitive (row));
  g_assert_null (strstr (gtk_label_get_text (label), "cannot"));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "new decoder"));
  adw_combo_row_set_selected (ADW_COMBO_ROW (base), 1);
  g_test_message ("%s", gtk_label_get_text (label));
  g_assert_false (gtk_widget_get_sensitive (row));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "cannot be adapted"));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "gone.safetensors"));
  adw_combo_row_set_selected (ADW_COMBO_ROW (base), 0);
  g_assert_true (gtk_widget_get_sensitive (row));
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

/* The switch by the keyboard alone: its row focused, Return turns it on,
 * and the pre-training epochs can then be set. Nothing is cut off (run in
 * German and Dutch too). */
static void
test_keyboard (void)
{
  GtkWidget *dialog = open_dialog ();
  GtkWidget *sw = by_id (dialog, "adapt_switch"), *epochs = by_id (dialog, "pretrain_epochs_row");
  GtkWidget *row = by_id (dialog, "adapt_row");

  g_assert_false (gtk_switch_get_active (GTK_SWITCH (sw)));
  g_assert_false (gtk_widget_get_sensitive (epochs));
  ui_focus (GTK_WINDOW (dialog));
  g_assert_true (gtk_widget_grab_focus (row));
  ui_key (XK_Return, FALSE, FALSE);
  if (!ui_wait (sensitive_cond, epochs, TIMEOUT))
    g_error ("Return did not turn adapting on");
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (sw)));
  {
    g_autoptr (GdkTexture) shot = ui_render (dialog);
    g_autofree char *path = g_build_filename (fx.artefacts, "finetune-adapt-settings.png", NULL);
    g_autofree char *cut = ui_dup_cut_labels (dialog);
    g_assert_true (gdk_texture_save_to_png (shot, path));
    if (cut != NULL)
      g_error ("cut off in the dialog: %s", cut);
  }
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

/* Stop while pre-training: no model row, no file, no checkpoint. */
static void
test_cancel (void)
{
  GtkWidget *dialog = open_dialog ();
  GtkWidget *start = by_id (dialog, "start_button");
  GtkLabel *status = GTK_LABEL (by_id (dialog, "status_label"));
  g_autoptr (GPtrArray) before = list_models (), after = NULL;
  g_autofree char *files_before = models_folder (), *files_after = NULL;
  g_autofree char *ckpt = g_strconcat (fx.project, ".pretrain.ckpt", NULL);

  gtk_switch_set_active (GTK_SWITCH (by_id (dialog, "adapt_switch")), TRUE);
  /* Far more epochs than the test waits for: it stops at the first step. */
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (by_id (dialog, "pretrain_epochs_spin")), 300);
  if (!ui_wait (counted_cond, by_id (dialog, "data_label"), TIMEOUT))
    g_error ("the dialog did not count the labelled frames");
  g_assert_true (gtk_widget_get_sensitive (start));
  gtk_widget_activate (start);
  if (!ui_wait (adapting_cond, status, 300.0))
    g_error ("pre-training did not start: %s", gtk_label_get_text (status));
  {
    g_autoptr (GdkTexture) shot = ui_render (dialog);
    g_autofree char *path = g_build_filename (fx.artefacts, "finetune-adapting.png", NULL);
    g_assert_true (gdk_texture_save_to_png (shot, path));
  }
  gtk_widget_activate (start);
  if (!ui_wait (idle_cond, start, 300.0))
    g_error ("Stop did not stop pre-training: %s", gtk_label_get_text (status));
  g_test_message ("%s", gtk_label_get_text (status));
  g_assert_nonnull (strstr (gtk_label_get_text (status), "Nothing was saved"));
  after = list_models ();
  files_after = models_folder ();
  g_assert_cmpuint (after->len, ==, before->len);
  g_assert_cmpstr (files_after, ==, files_before);
  g_assert_false (g_file_test (ckpt, G_FILE_TEST_EXISTS));
  g_assert_false (gtk_widget_get_visible (by_id (dialog, "learned_box")));
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

/* Adapt, then fine-tune: both models registered with their lineage, the
 * faces as the adapted model fills them in, the comparison's left column
 * named for what it is. */
static void
test_adapt_then_finetune (void)
{
  GtkWidget *dialog = open_dialog ();
  GtkWidget *start = by_id (dialog, "start_button"), *grid = by_id (dialog, "results_grid");
  GtkWidget *picture = by_id (dialog, "learned_picture");
  GtkLabel *status = GTK_LABEL (by_id (dialog, "status_label"));
  g_autoptr (GPtrArray) before = list_models (), after = NULL;
  g_autoptr (GdkTexture) shot = NULL, strip = NULL;
  g_autoptr (GString) cells = g_string_new (NULL);
  g_autofree char *path = g_build_filename (fx.artefacts, "finetune-adapt.png", NULL);
  FacetStoreModel *adapted, *tuned;
  GdkPaintable *paintable;

  gtk_switch_set_active (GTK_SWITCH (by_id (dialog, "adapt_switch")), TRUE);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (by_id (dialog, "pretrain_epochs_spin")), 2);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (by_id (dialog, "epochs_spin")), 2);
  adw_combo_row_set_selected (ADW_COMBO_ROW (by_id (dialog, "mode_row")), 0);
  if (!ui_wait (counted_cond, by_id (dialog, "data_label"), TIMEOUT))
    g_error ("the dialog did not count the labelled frames");
  g_assert_true (gtk_widget_get_sensitive (start));
  gtk_widget_activate (start);
  if (!ui_wait (visible_cond, grid, 600.0))
    g_error ("adapting and fine-tuning did not finish: %s", gtk_label_get_text (status));
  g_test_message ("%s", gtk_label_get_text (status));
  g_assert_nonnull (strstr (gtk_label_get_text (status), "Adapted to the videos as"));

  after = list_models ();
  g_assert_cmpuint (after->len, ==, before->len + 2);
  adapted = g_ptr_array_index (after, after->len - 2);
  tuned = g_ptr_array_index (after, after->len - 1);
  g_assert_cmpstr (facet_store_model_kind (adapted), ==, "pre-trained");
  g_assert_cmpint (adapted->parent_id, ==, 1);
  g_assert_cmpint (adapted->n_aus, ==, 0);
  g_assert_nonnull (strstr (adapted->metrics_json, "\"losses\":["));
  g_assert_nonnull (strstr (adapted->data_json, "\"frames\":60"));
  g_assert_cmpstr (facet_store_model_kind (tuned), ==, "fine-tuned");
  g_assert_cmpint (tuned->parent_id, ==, adapted->id);
  g_assert_cmpint (tuned->n_aus, >, 0);

  for (GtkWidget *c = gtk_widget_get_first_child (grid); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_LABEL (c))
      g_string_append_printf (cells, "%s\n", gtk_label_get_text (GTK_LABEL (c)));
  g_assert_nonnull (strstr (cells->str, "Adapted, before fine-tuning"));
  g_assert_nonnull (strstr (cells->str, adapted->name));

  /* Four faces, each as original, masked and reconstruction. */
  g_assert_true (gtk_widget_get_visible (by_id (dialog, "learned_box")));
  paintable = gtk_picture_get_paintable (GTK_PICTURE (picture));
  g_assert_nonnull (paintable);
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (paintable), ==, 4 * SIZE + 3 * 4);
  g_assert_cmpint (gdk_paintable_get_intrinsic_height (paintable), ==, 3 * SIZE + 2 * 4);
  ui_idle (0.3);
  strip = ui_render (picture);
  g_assert_cmpfloat (ui_texture_variance (strip), >, 0.0);

  {
    g_autofree char *cut = ui_dup_cut_labels (dialog);
    if (cut != NULL)
      g_error ("cut off in the dialog: %s", cut);
  }
  shot = ui_render (dialog);
  g_assert_true (gdk_texture_save_to_png (shot, path));
  g_test_message ("the dialog: %s", path);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

/* Stop once fine-tuning has begun: the finished adapted model stays
 * registered and the dialog says so; no fine-tuned model is added. */
static void
test_cancel_finetune (void)
{
  GtkWidget *dialog = open_dialog ();
  GtkWidget *start = by_id (dialog, "start_button"), *learned = by_id (dialog, "learned_box");
  GtkLabel *status = GTK_LABEL (by_id (dialog, "status_label"));
  g_autoptr (GPtrArray) before = list_models (), after = NULL;
  FacetStoreModel *adapted;

  gtk_switch_set_active (GTK_SWITCH (by_id (dialog, "adapt_switch")), TRUE);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (by_id (dialog, "pretrain_epochs_spin")), 1);
  /* Every layer for far more epochs than the test waits for. */
  adw_combo_row_set_selected (ADW_COMBO_ROW (by_id (dialog, "mode_row")), 2);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (by_id (dialog, "lambda_spin")), 0.0);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (by_id (dialog, "epochs_spin")), 500);
  if (!ui_wait (counted_cond, by_id (dialog, "data_label"), TIMEOUT))
    g_error ("the dialog did not count the labelled frames");
  gtk_widget_activate (start);
  /* The strip is shown after saving the adapted model, before fine-tuning. */
  if (!ui_wait (visible_cond, learned, 300.0))
    g_error ("adapting did not finish: %s", gtk_label_get_text (status));
  gtk_widget_activate (start);
  if (!ui_wait (idle_cond, start, 300.0))
    g_error ("Stop did not stop fine-tuning: %s", gtk_label_get_text (status));
  g_test_message ("%s", gtk_label_get_text (status));
  g_assert_nonnull (strstr (gtk_label_get_text (status), "was saved; the fine-tuning was not"));
  after = list_models ();
  g_assert_cmpuint (after->len, ==, before->len + 1);
  adapted = g_ptr_array_index (after, after->len - 1);
  g_assert_cmpstr (facet_store_model_kind (adapted), ==, "pre-trained");
  g_assert_nonnull (strstr (gtk_label_get_text (status), adapted->name));
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

/* A video that is gone: the dialog names its file, nothing is saved. */
static void
test_missing_video (void)
{
  GtkWidget *dialog = open_dialog ();
  GtkWidget *start = by_id (dialog, "start_button");
  GtkLabel *status = GTK_LABEL (by_id (dialog, "status_label"));
  g_autofree char *video = g_build_filename (fx.folder, "media", "B2.mkv", NULL);
  g_autofree char *moved = g_strconcat (video, ".away", NULL);
  g_autoptr (GPtrArray) before = list_models (), after = NULL;

  gtk_switch_set_active (GTK_SWITCH (by_id (dialog, "adapt_switch")), TRUE);
  if (!ui_wait (counted_cond, by_id (dialog, "data_label"), TIMEOUT))
    g_error ("the dialog did not count the labelled frames");
  g_assert_true (gtk_widget_get_sensitive (start));
  g_assert_cmpint (g_rename (video, moved), ==, 0);
  gtk_widget_activate (start);
  /* A button's activation clicks it a moment later. */
  if (!ui_wait (running_cond, start, TIMEOUT))
    g_error ("Start did not start");
  if (!ui_wait (idle_cond, start, 300.0))
    g_error ("the run did not end: %s", gtk_label_get_text (status));
  g_assert_cmpint (g_rename (moved, video), ==, 0);
  g_test_message ("%s", gtk_label_get_text (status));
  g_assert_true (g_str_has_prefix (gtk_label_get_text (status), "Adapting to the videos failed"));
  g_assert_nonnull (strstr (gtk_label_get_text (status), "B2.mkv"));
  after = list_models ();
  g_assert_cmpuint (after->len, ==, before->len);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *model_folder = NULL, *model = NULL;
  int status;

  if (!ui_init (&argc, &argv))
    return 77;
  /* The catalogues of this build, for a look in German or Dutch (the
   * assertions read the English strings). */
  bindtextdomain (GETTEXT_PACKAGE, FACET_BUILD_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* The project is built with the tiny model in place of the demo model. */
  model_folder = g_dir_make_tmp ("facet-ui-tiny-XXXXXX", &error);
  g_assert_no_error (error);
  model = make_tiny_model (model_folder);
  g_setenv ("FACET_DEMO_MODEL", model, TRUE);
  ui_fixture_build (&fx, "facet-ui-pretrain", UI_RECIPE_TWO_SUBJECTS ("pretrain ui test"));
  add_missing_model ();
  ui_fixture_open (&fx, 1200, 800, TIMEOUT);
  facet_project_set_model_id (facet_window_get_project (fx.window), 1);
  ui_settle (fx.window, TIMEOUT);

  g_test_add_func ("/ui/pretrain/unadaptable", test_unadaptable);
  g_test_add_func ("/ui/pretrain/keyboard", test_keyboard);
  g_test_add_func ("/ui/pretrain/cancel", test_cancel);
  g_test_add_func ("/ui/pretrain/adapt-then-finetune", test_adapt_then_finetune);
  g_test_add_func ("/ui/pretrain/cancel-finetune", test_cancel_finetune);
  g_test_add_func ("/ui/pretrain/missing-video", test_missing_video);
  status = ui_fixture_close (&fx, g_test_run ());
  if (status == 0 && g_getenv ("FACET_UI_KEEP") == NULL)
    ui_remove_tree (model_folder);
  return status;
}
