/* test-pretrain.c — "Adapt to these videos first" in the fine-tuning dialog, under Xvfb
 *
 * A small analysed project with a tiny model (64 x 64 crops, two blocks):
 * the switch says when a base cannot be adapted and is worked by the
 * keyboard; Stop during pre-training leaves no model and no file behind,
 * Stop during fine-tuning keeps the finished adapted model;
 * a whole run registers the adapted model (kind "pre-trained", the base
 * as its parent) and the fine-tuned one with the adapted model as its
 * parent, and shows original / masked / reconstruction faces; its
 * comparison's base column is the base model the coder chose, measured
 * here independently on the same held-out frames, not the adapted model
 * with its untrained heads (issue 12); a missing video is named in the dialog. The dialog is rendered to PNG (a test
 * artefact in the build folder).
 */
#include "config.h"

#include <X11/keysym.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include <json-glib/json-glib.h>
#include <math.h>

#include "engine/facet-engine.h"
#include "media/media-synth.h"
#include "train/facet-train.h"

#include "facet-finetune-dialog.h"
#include "ui-harness.h"

#define TIMEOUT 60.0
#define SIZE    64

/* Two subjects whose three labelled seconds each show some AUs present and
 * absent (recording 5 of either), so that the held-out F1 and AUC of the
 * comparison can be measured. */
#define RECIPE                                                                                   \
  "[Demo]\nName=pretrain ui test\nFramesPerSecond=10\nFrameSize=160\nCodec=h264\nCrop=aligned\n" \
  "LabelledFraction=1\nCoder=Importer\n"                                                          \
  "[Subject A1]\nSeed=11\nRecording=5\nSeconds=3\n"                                              \
  "[Subject B2]\nSeed=22\nRecording=5\nSeconds=3\n"

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

/* The held-out measures of the model in @path, computed here with the
 * engine and the metrics (not the training loop): per AU of @au_ids (NAN
 * where it has none), F1 at 0.5 and ROC AUC, and their means. A model
 * without AU heads gets fresh ones as fine-tuning gives them
 * (facet_train_load_base, seed 0). */
typedef struct
{
  double f1_mean, auc_mean;
  double f1[32], auc[32];
} Measured;

static void
measure_held_out (FacetStore            *store,
                  const char            *path,
                  const FacetTrainData  *data,
                  const gboolean        *held_out,
                  const int             *au_ids,
                  int                    n_aus,
                  Measured              *out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetModel) model = facet_train_load_base (store, path, 0, &error);
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (FacetForwardResult) r = NULL;
  g_autoptr (GPtrArray) crops = g_ptr_array_new ();
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (guint));
  const FacetModelConfig *mc;
  g_autofree float *targets = NULL;
  g_autofree double *f1 = NULL;
  double auc_sum = 0;
  int auc_n = 0;

  g_assert_no_error (error);
  mc = facet_model_get_config (model);
  g_assert_cmpint (n_aus, <=, 32);
  engine = facet_engine_new (model, "cpu", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < data->n; i++)
    if (held_out[data->subjects[i]])
      {
        g_ptr_array_add (crops, data->crops[i]);
        g_array_append_val (rows, i);
      }
  g_assert_cmpuint (crops->len, >, 0);
  r = facet_engine_predict_images (engine, (FacetImage **) crops->pdata, crops->len, 0, &error);
  g_assert_no_error (error);
  /* The labels in the model's AU order. */
  targets = g_new (float, (gsize) crops->len * mc->n_aus);
  for (guint j = 0; j < crops->len; j++)
    for (int a = 0; a < mc->n_aus; a++)
      {
        int col = -1;
        for (int c = 0; c < data->n_aus; c++)
          if (data->au_ids[c] == mc->au_ids[a])
            col = c;
        targets[(gsize) j * mc->n_aus + a]
          = col < 0 ? -1.0f
                    : data->targets[(gsize) g_array_index (rows, guint, j) * data->n_aus + col];
      }
  f1 = g_new (double, mc->n_aus);
  out->f1_mean = facet_metrics_mean_f1 (r->probs, targets, crops->len, mc->n_aus, NULL, f1);
  for (int a = 0; a < mc->n_aus; a++)
    {
      double auc = facet_metrics_auc (r->probs, targets, crops->len, mc->n_aus, a);
      if (!isnan (auc))
        {
          auc_sum += auc;
          auc_n++;
        }
    }
  out->auc_mean = auc_n ? auc_sum / auc_n : NAN;
  for (int a = 0; a < n_aus; a++)
    {
      int k = facet_model_config_find_au (mc, au_ids[a]);
      out->f1[a] = k < 0 ? NAN : f1[k];
      out->auc[a] = k < 0 ? NAN : facet_metrics_auc (r->probs, targets, crops->len, mc->n_aus, k);
    }
}

/* A model row's file (relative to the project's folder unless absolute). */
static char *
model_path (const FacetStoreModel *m)
{
  return g_path_is_absolute (m->file) ? g_strdup (m->file)
                                      : g_build_filename (fx.folder, m->file, NULL);
}

/* A number of the comparison table ("—": NAN). */
static double
grid_number (GtkWidget *grid,
             int        column,
             int        row)
{
  GtkWidget *cell = gtk_grid_get_child_at (GTK_GRID (grid), column, row);
  const char *text;

  g_assert_true (GTK_IS_LABEL (cell));
  text = gtk_label_get_text (GTK_LABEL (cell));
  return g_str_equal (text, "—") ? NAN : g_ascii_strtod (text, NULL);
}

static void
assert_close (double      shown,
              double      want,
              double      tolerance,
              const char *what)
{
  if (isnan (want) ? !isnan (shown) : !(fabs (shown - want) <= tolerance))
    g_error ("%s: %.4f shown, %.4f measured here", what, shown, want);
}

/* The base column of the finished dialog and the stored base_* metrics
 * against the chosen base model (row 1) measured here on the fine-tuned
 * model's held-out subjects; and the adapted model with its fresh heads
 * measured likewise must differ from it (else the test shows nothing). */
static void
assert_base_column (GtkWidget             *grid,
                    const FacetStoreModel *base,
                    const FacetStoreModel *adapted,
                    const FacetStoreModel *tuned)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);
  g_autoptr (FacetModel) base_model = NULL;
  g_autoptr (FacetTrainDataset) dataset = NULL;
  g_autoptr (JsonParser) data_json = json_parser_new (), metrics_json = json_parser_new ();
  g_autofree gboolean *held_out = NULL;
  g_autofree char *base_path = model_path (base), *adapted_path = model_path (adapted);
  FacetTrainDataOptions opt = { 0 };
  const FacetTrainData *data;
  JsonArray *val;
  JsonObject *m;
  Measured chosen, start;
  double differ = 0;

  g_assert_no_error (error);
  base_model = facet_model_load (base_path, NULL, &error);
  g_assert_no_error (error);
  dataset = facet_train_dataset_from_store (store, facet_model_get_config (base_model), &opt, &error);
  g_assert_no_error (error);
  data = facet_train_dataset_get_data (dataset);

  /* The held-out subjects the fine-tuned model's row names. */
  g_assert_true (json_parser_load_from_data (data_json, tuned->data_json, -1, NULL));
  val = json_object_get_array_member (json_node_get_object (json_parser_get_root (data_json)),
                                      "validation_subjects");
  g_assert_cmpuint (json_array_get_length (val), >, 0);
  held_out = g_new0 (gboolean, data->n_subjects);
  for (guint i = 0; i < json_array_get_length (val); i++)
    for (int s = 0; s < data->n_subjects; s++)
      if (g_str_equal (data->subject_names[s], json_array_get_string_element (val, i)))
        held_out[s] = TRUE;

  measure_held_out (store, base_path, data, held_out, tuned->au_ids, tuned->n_aus, &chosen);
  measure_held_out (store, adapted_path, data, held_out, tuned->au_ids, tuned->n_aus, &start);
  g_test_message ("held-out mean F1 / AUC: chosen base %.3f / %.3f, adapted with new heads "
                  "%.3f / %.3f", chosen.f1_mean, chosen.auc_mean, start.f1_mean, start.auc_mean);

  /* The table: rows 1 and 2 the means, then F1 and AUC of every AU. */
  assert_close (grid_number (grid, 1, 1), chosen.f1_mean, 0.0015, "mean F1");
  assert_close (grid_number (grid, 1, 2), chosen.auc_mean, 0.0015, "mean AUC");
  for (int a = 0; a < tuned->n_aus; a++)
    {
      assert_close (grid_number (grid, 1, 5 + 2 * a), chosen.f1[a], 0.0015, "F1 of an AU");
      assert_close (grid_number (grid, 1, 6 + 2 * a), chosen.auc[a], 0.0015, "AUC of an AU");
      if (!isnan (chosen.auc[a]) && !isnan (start.auc[a]))
        differ = MAX (differ, fabs (chosen.auc[a] - start.auc[a]));
    }
  g_assert_cmpfloat (differ, >, 0.01);

  /* The stored metrics: base_* are the chosen base's, named by
   * base_model_id; the adapted start is apart. */
  g_assert_true (json_parser_load_from_data (metrics_json, tuned->metrics_json, -1, NULL));
  m = json_node_get_object (json_parser_get_root (metrics_json));
  g_assert_cmpint (json_object_get_int_member (m, "base_model_id"), ==, base->id);
  assert_close (json_object_get_double_member (m, "base_auc_mean"), chosen.auc_mean, 1e-4,
                "stored base_auc_mean");
  assert_close (json_object_get_double_member (m, "start_auc_mean"), start.auc_mean, 1e-4,
                "stored start_auc_mean");
  if (!isnan (chosen.f1_mean))
    assert_close (json_object_get_double_member (m, "base_f1_mean"), chosen.f1_mean, 1e-4,
                  "stored base_f1_mean");
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
  /* Against the chosen base, two epochs of a new head may well be worse:
   * then the dialog says that instead of where the models were saved. */
  if (strstr (gtk_label_get_text (status), "worse than the base model") != NULL)
    g_assert_nonnull (strstr (gtk_button_get_label (GTK_BUTTON (by_id (dialog, "reanalyse_button"))),
                              "Anyway"));
  else
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
  g_test_message ("%s", cells->str);
  /* The left column names the base model the coder chose; the notes name
   * the adapted one, where fine-tuning started. */
  {
    FacetStoreModel *base = g_ptr_array_index (after, 0);
    g_autofree char *heading = NULL;

    g_assert_cmpint (base->id, ==, 1);
    g_assert_nonnull (base->name);
    heading = g_strdup_printf ("Base model “%s”", base->name);
    g_assert_nonnull (strstr (cells->str, heading));
  }
  g_assert_nonnull (strstr (cells->str, adapted->name));
  g_assert_null (strstr (cells->str, "Adapted, before fine-tuning"));
  assert_base_column (grid, g_ptr_array_index (after, 0), adapted, tuned);

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
  ui_fixture_build (&fx, "facet-ui-pretrain", RECIPE);
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
