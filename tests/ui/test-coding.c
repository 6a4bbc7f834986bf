/* test-coding.c — FACS coding as labs do it, under Xvfb (issue 14)
 *
 * The real application on a small analysed demo project, driven by X key
 * and mouse events: intensity A-E right after 1 and by click, shown in
 * the AU panel and the timeline, undone with Ctrl+Z; the coder in the
 * header bar; blind coding hiding the model; independent coding into each
 * coder's own layer (undo per coder); the consensus window taking coder
 * A's codes by key; the agreement table and its report; the reliability
 * sample and N stepping through it. Every step is checked in the project
 * file through a connection of its own.
 */
#include "config.h"

#include <math.h>

#include <X11/keysym.h>
#include <glib/gstdio.h>

#include "facet-agreement-dialog.h"
#include "facet-consensus-dialog.h"
#include "facet-facs.h"
#include "facet-sample-dialog.h"
#include "facet-window-private.h"
#include "ui-harness.h"

#define TIMEOUT 60.0

static UiFixture fx;

/* Renders @widget to BUILD/tests/ui/artefacts/coding-NAME.png and fails
 * when the picture is one flat colour. */
static void
save_render (GtkWidget  *widget,
             const char *name)
{
  g_autoptr (GdkTexture) texture = ui_render (widget);
  const char *folder = g_getenv ("FACET_UI_ARTEFACTS");
  g_autofree char *file = g_strdup_printf ("coding-%s.png", name);
  g_autofree char *path = NULL;

  g_assert_nonnull (texture);
  g_assert_cmpfloat (ui_texture_variance (texture), >, 1.0);
  if (folder == NULL)
    return;
  g_mkdir_with_parents (folder, 0755);
  path = g_build_filename (folder, file, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

static void
go_to (gint64 target)
{
  ui_focus (GTK_WINDOW (fx.window));
  ui_key (XK_Home, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  while (ui_frame (fx.window) < target)
    {
      ui_key (XK_Right, FALSE, FALSE);
      ui_settle (fx.window, TIMEOUT);
    }
  g_assert_cmpint (ui_frame (fx.window), ==, target);
}

static GtkWidget *
find_named (GtkWidget  *root,
            const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_named (c, name);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A button of @root whose label is @label. */
static GtkWidget *
find_button (GtkWidget  *root,
             const char *label)
{
  if (GTK_IS_BUTTON (root) && !GTK_IS_MENU_BUTTON (root)
      && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_button (c, label);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static const char *
coder_label (void)
{
  GtkWidget *button = find_named (GTK_WIDGET (fx.window), "coder-button");

  return gtk_menu_button_get_label (GTK_MENU_BUTTON (button));
}

/* The intensity level of the timeline's lane at @f (0: none drawn). */
static int
lane_intensity (int    lane,
                gint64 f)
{
  FacetTimelineData *data = facet_timeline_get_data (facet_window_get_timeline (fx.window));
  guint n;
  const FacetLabelSegment *runs = facet_timeline_data_get_intensities (data, lane, &n);
  int i = facet_timeline_segments_find (runs, n, f);

  return i >= 0 ? (int) runs[i].state : 0;
}

static void
test_intensity_keys (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  FacetLabel l;
  int au;

  /* Frame 20 lies past the imported half: unlabelled. */
  go_to (20);
  facet_au_panel_set_selected (panel, 1);
  au = facet_au_panel_get_au (panel, 1);
  g_assert_cmpint (ui_read_label (fx.project, 1, 20, au).state, ==, FACET_LABEL_UNSET);

  /* 1 then C: present at intensity C, one label. */
  ui_key (XK_1, FALSE, FALSE);
  ui_key (XK_c, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  l = ui_read_label (fx.project, 1, 20, au);
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (facet_intensity_to_level (l.intensity), ==, 3);
  g_assert_cmpfloat_with_epsilon (l.intensity, 0.6f, 1e-6);
  g_assert_cmpstr (l.coder, ==, "ui-test");
  g_assert_cmpint (facet_au_panel_get_intensity (panel, 1), ==, 3);
  g_assert_cmpint (lane_intensity (1, 20), ==, 3);
  g_assert_cmpint (lane_intensity (1, 21), ==, 0);

  /* Undo takes the intensity back, the presence stays. */
  ui_key (XK_z, FALSE, TRUE);
  ui_settle (fx.window, TIMEOUT);
  l = ui_read_label (fx.project, 1, 20, au);
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_true (isnan (l.intensity));
  g_assert_cmpint (facet_au_panel_get_intensity (panel, 1), ==, 0);
  g_assert_cmpint (lane_intensity (1, 20), ==, 0);
  /* Redo brings it again. */
  ui_key (XK_z, TRUE, TRUE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (facet_intensity_to_level (ui_read_label (fx.project, 1, 20, au).intensity), ==, 3);

  /* After another key the letters are theirs again: B toggles the face
   * box and no intensity is written. */
  ui_key (XK_Right, FALSE, FALSE);
  ui_key (XK_1, FALSE, FALSE);
  ui_key (XK_Right, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (ui_frame (fx.window), ==, 22);
  {
    gboolean box = g_settings_get_boolean (fx.settings, "show-face-box");

    ui_key (XK_b, FALSE, FALSE);
    ui_settle (fx.window, TIMEOUT);
    g_assert_cmpint (g_settings_get_boolean (fx.settings, "show-face-box"), ==, !box);
    ui_key (XK_b, FALSE, FALSE);
    ui_settle (fx.window, TIMEOUT);
  }
  l = ui_read_label (fx.project, 1, 21, au);
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_true (isnan (l.intensity));
  g_assert_cmpint (ui_read_label (fx.project, 1, 22, au).state, ==, FACET_LABEL_UNSET);
  g_assert_cmpint (facet_intensity_to_level (ui_read_label (fx.project, 1, 20, au).intensity), ==, 3);

  /* Shift+E after 1 is not an intensity (Shift+A there is "accept all");
   * E alone is. */
  ui_key (XK_Left, FALSE, FALSE);
  ui_key (XK_1, FALSE, FALSE);
  ui_key (XK_E, TRUE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_true (isnan (ui_read_label (fx.project, 1, 21, au).intensity));
  ui_key (XK_1, FALSE, FALSE);
  ui_key (XK_e, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  l = ui_read_label (fx.project, 1, 21, au);
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (facet_intensity_to_level (l.intensity), ==, 5);
  g_assert_cmpint (lane_intensity (1, 21), ==, 5);
}

/* A range marked with I and O, 1, then a letter: the whole range. */
static void
test_intensity_range (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  int au;

  go_to (22);
  facet_au_panel_set_selected (panel, 2);
  au = facet_au_panel_get_au (panel, 2);
  ui_key (XK_i, FALSE, FALSE);
  for (int i = 0; i < 4; i++)
    ui_key (XK_Right, FALSE, FALSE);
  ui_key (XK_o, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  ui_key (XK_1, FALSE, FALSE);
  ui_key (XK_b, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  for (gint64 f = 22; f <= 26; f++)
    {
      FacetLabel l = ui_read_label (fx.project, 1, f, au);

      g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
      g_assert_cmpint (facet_intensity_to_level (l.intensity), ==, 2);
      g_assert_cmpint (lane_intensity (2, f), ==, 2);
    }
  g_assert_cmpint (ui_read_label (fx.project, 1, 27, au).state, ==, FACET_LABEL_UNSET);
  /* One undo step for the intensity of the whole range. */
  ui_key (XK_z, FALSE, TRUE);
  ui_settle (fx.window, TIMEOUT);
  for (gint64 f = 22; f <= 26; f++)
    g_assert_true (isnan (ui_read_label (fx.project, 1, f, au).intensity));
}

/* The AU panel's letter button: a click and a letter in its popover. */
static void
test_intensity_click (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  GtkWidget *row, *button, *popover, *d;
  int au;

  go_to (20);
  facet_au_panel_set_selected (panel, 1);
  au = facet_au_panel_get_au (panel, 1);
  g_assert_cmpint (ui_read_label (fx.project, 1, 20, au).state, ==, FACET_LABEL_PRESENT);
  row = gtk_widget_get_ancestor (find_named (GTK_WIDGET (panel), "intensity-button"),
                                 GTK_TYPE_LIST_BOX_ROW);
  /* The first row with a letter button shown is the present AU's. */
  for (GtkWidget *r = row; r != NULL; r = gtk_widget_get_next_sibling (r))
    {
      button = find_named (r, "intensity-button");
      if (button != NULL && gtk_widget_get_visible (button))
        break;
      button = NULL;
    }
  g_assert_nonnull (button);
  g_assert_cmpstr (gtk_menu_button_get_label (GTK_MENU_BUTTON (button)), ==, "C");
  ui_click_centre (button);
  ui_idle (0.3);
  popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (button)));
  g_assert_true (gtk_widget_get_visible (popover));
  d = find_button (popover, "D");
  g_assert_nonnull (d);
  ui_click_centre (d);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (facet_intensity_to_level (ui_read_label (fx.project, 1, 20, au).intensity), ==, 4);
  g_assert_cmpint (facet_au_panel_get_intensity (panel, 1), ==, 4);
  g_assert_cmpstr (gtk_menu_button_get_label (GTK_MENU_BUTTON (button)), ==, "D");
  save_render (GTK_WIDGET (fx.window), "intensity");
}

/* Blind coding hides the model: no probabilities in the panel or the
 * timeline, no heat map, nothing to accept. */
static void
test_blind (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  FacetTimeline *timeline = facet_window_get_timeline (fx.window);
  GtkWidget *bar = NULL;
  int au;

  go_to (28);
  facet_au_panel_set_selected (panel, 0);
  au = facet_au_panel_get_au (panel, 0);
  bar = GTK_WIDGET (ui_find (GTK_WIDGET (panel), GTK_TYPE_LEVEL_BAR, NULL));
  g_assert_nonnull (bar);
  g_assert_true (gtk_widget_get_visible (bar));
  g_assert_false (facet_timeline_get_hide_predictions (timeline));

  g_settings_set_boolean (fx.settings, "blind-coding", TRUE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_false (gtk_widget_get_visible (bar));
  g_assert_true (facet_timeline_get_hide_predictions (timeline));
  save_render (GTK_WIDGET (fx.window), "blind");
  g_assert_false (gtk_widget_is_sensitive (find_named (GTK_WIDGET (fx.window), "heatmap-toggle")));
  /* A would accept the model's word: not while blind. */
  ui_focus (GTK_WINDOW (fx.window));
  ui_key (XK_a, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (ui_read_label (fx.project, 1, 28, au).state, ==, FACET_LABEL_UNSET);
  g_assert_nonnull (strstr (coder_label (), "ui-test"));

  g_settings_set_boolean (fx.settings, "blind-coding", FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_true (gtk_widget_get_visible (bar));
  g_assert_false (facet_timeline_get_hide_predictions (timeline));
  ui_key (XK_a, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (ui_read_label (fx.project, 1, 28, au).source, ==, FACET_LABEL_SOURCE_ACCEPTED);
}

/* The header bar names the coder; the name typed in its popover is the
 * one the next label is recorded with. */
static void
test_coder_button (void)
{
  GtkMenuButton *button = GTK_MENU_BUTTON (find_named (GTK_WIDGET (fx.window), "coder-button"));
  GtkWidget *entry;
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  int au;

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (button)));
  g_assert_cmpstr (gtk_menu_button_get_label (button), ==, "ui-test");
  ui_click_centre (GTK_WIDGET (button));
  ui_idle (0.3);
  entry = ui_find (GTK_WIDGET (gtk_menu_button_get_popover (button)), ADW_TYPE_ENTRY_ROW, NULL);
  g_assert_nonnull (entry);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "ui-test");
  gtk_widget_grab_focus (entry);
  gtk_editable_select_region (GTK_EDITABLE (entry), 0, -1);
  ui_type ("bob");
  ui_key (XK_Return, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpstr (g_settings_get_string (fx.settings, "coder-name"), ==, "bob");
  g_assert_cmpstr (gtk_menu_button_get_label (button), ==, "bob");

  go_to (27);
  facet_au_panel_set_selected (panel, 3);
  au = facet_au_panel_get_au (panel, 3);
  ui_key (XK_2, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpstr (ui_read_label (fx.project, 1, 27, au).coder, ==, "bob");
  g_settings_set_string (fx.settings, "coder-name", "ui-test");
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpstr (gtk_menu_button_get_label (button), ==, "ui-test");
}

/* The label of @layer (a coder's name; NULL: final) at one cell. */
static FacetLabel
read_layer (const char *layer,
            gint64      f,
            int         au)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);
  g_autoptr (GArray) labels = NULL;
  FacetLabel label = { 0 };

  g_assert_no_error (error);
  labels = facet_store_get_layer_labels (store, layer, 1, au, f, f, &error);
  g_assert_no_error (error);
  if (labels->len > 0)
    label = g_array_index (labels, FacetLabel, 0);
  return label;
}

static void
set_independent (gboolean on)
{
  const char *path = facet_project_get_path (facet_window_get_project (fx.window));
  const char *list[] = { path, NULL };

  g_settings_set_strv (fx.settings, "independent-projects", on ? list : NULL);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (facet_window_get_independent (fx.window), ==, on);
}

static int layer_au;

/* Two coders code the same frame independently: neither overwrites the
 * other nor the final labels, and each undoes only their own work. */
static void
test_independent (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  FacetLabel l;

  set_independent (TRUE);
  g_assert_nonnull (strstr (coder_label (), "ui-test"));
  go_to (25);
  facet_au_panel_set_selected (panel, 4);
  layer_au = facet_au_panel_get_au (panel, 4);
  ui_key (XK_1, FALSE, FALSE);
  ui_key (XK_d, FALSE, FALSE);
  /* Frame 24 both code absent: an agreed cell for the consensus. */
  ui_key (XK_Left, FALSE, FALSE);
  ui_key (XK_2, FALSE, FALSE);
  ui_key (XK_Right, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (read_layer ("ui-test", 24, layer_au).state, ==, FACET_LABEL_ABSENT);
  l = read_layer ("ui-test", 25, layer_au);
  g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (facet_intensity_to_level (l.intensity), ==, 4);
  g_assert_cmpint (ui_read_label (fx.project, 1, 25, layer_au).state, ==, FACET_LABEL_UNSET);

  /* Bob codes the same frame absent in his own layer. */
  g_settings_set_string (fx.settings, "coder-name", "bob");
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (facet_au_panel_get_label_state (panel, 4), ==, FACET_LABEL_UNSET);
  ui_focus (GTK_WINDOW (fx.window));
  ui_key (XK_2, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (read_layer ("bob", 25, layer_au).state, ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (read_layer ("ui-test", 25, layer_au).state, ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (ui_read_label (fx.project, 1, 25, layer_au).state, ==, FACET_LABEL_UNSET);

  /* Bob's undo takes back Bob's label only. */
  ui_key (XK_z, FALSE, TRUE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (read_layer ("bob", 25, layer_au).state, ==, FACET_LABEL_UNSET);
  g_assert_cmpint (read_layer ("ui-test", 25, layer_au).state, ==, FACET_LABEL_PRESENT);
  ui_key (XK_2, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (read_layer ("bob", 25, layer_au).state, ==, FACET_LABEL_ABSENT);
  ui_key (XK_Left, FALSE, FALSE);
  ui_key (XK_2, FALSE, FALSE);
  ui_key (XK_Right, FALSE, FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (read_layer ("bob", 24, layer_au).state, ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (ui_read_label (fx.project, 1, 24, layer_au).state, ==, FACET_LABEL_UNSET);

  /* Back to ui-test: the panel shows ui-test's own code again. */
  g_settings_set_string (fx.settings, "coder-name", "ui-test");
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (facet_au_panel_get_label_state (panel, 4), ==, FACET_LABEL_PRESENT);
  g_assert_cmpint (facet_au_panel_get_intensity (panel, 4), ==, 4);
}

static gboolean
consensus_ready (gpointer data)
{
  return !facet_consensus_dialog_is_busy (data);
}

/* The consensus window: A takes coder A's codes into the final labels,
 * and the decision is recorded. */
static void
test_consensus (void)
{
  FacetConsensusDialog *dialog;
  gboolean resolved = FALSE;
  g_autofree char *taken = NULL, *resolver = NULL;
  guint before;

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.consensus", NULL);
  ui_idle (0.3);
  dialog = FACET_CONSENSUS_DIALOG (ui_find_toplevel (FACET_TYPE_CONSENSUS_DIALOG));
  g_assert_nonnull (dialog);
  g_assert_true (ui_wait (consensus_ready, dialog, TIMEOUT));
  g_assert_true (facet_consensus_dialog_set_coders (dialog, "ui-test", "bob"));
  g_assert_true (ui_wait (consensus_ready, dialog, TIMEOUT));
  before = facet_consensus_dialog_get_n_runs (dialog);
  g_assert_cmpuint (before, >=, 1);

  /* The agreed cell first, by the header's button. */
  ui_click_centre (find_button (GTK_WIDGET (dialog), "Copy the _Agreed Codes"));
  ui_idle (0.2);
  g_assert_true (ui_wait (consensus_ready, dialog, TIMEOUT));
  g_assert_cmpint (ui_read_label (fx.project, 1, 24, layer_au).state, ==, FACET_LABEL_ABSENT);
  g_assert_cmpint (ui_read_label (fx.project, 1, 25, layer_au).state, ==, FACET_LABEL_UNSET);
  g_assert_cmpuint (facet_consensus_dialog_get_n_runs (dialog), ==, before);

  save_render (GTK_WIDGET (dialog), "consensus");
  ui_focus (GTK_WINDOW (dialog));
  ui_key (XK_a, FALSE, FALSE);
  ui_idle (0.2);
  g_assert_true (ui_wait (consensus_ready, dialog, TIMEOUT));
  g_assert_cmpuint (facet_consensus_dialog_get_n_runs (dialog), ==, before - 1);
  {
    FacetLabel l = ui_read_label (fx.project, 1, 25, layer_au);
    g_autoptr (GError) error = NULL;
    g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);

    g_assert_cmpint (l.state, ==, FACET_LABEL_PRESENT);
    g_assert_cmpint (facet_intensity_to_level (l.intensity), ==, 4);
    g_assert_true (facet_store_get_resolution (store, 1, 25, layer_au, &resolved, &taken,
                                               &resolver, &error));
    g_assert_no_error (error);
  }
  g_assert_true (resolved);
  g_assert_cmpstr (taken, ==, "ui-test");
  g_assert_cmpstr (resolver, ==, "ui-test");
  /* The coders' own layers are as they were. */
  g_assert_cmpint (read_layer ("bob", 25, layer_au).state, ==, FACET_LABEL_ABSENT);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
}

static gboolean
agreement_ready (gpointer data)
{
  return !facet_agreement_dialog_is_busy (data);
}

/* The agreement table for the two coders and its report. */
static void
test_agreement (void)
{
  FacetAgreementDialog *dialog;
  const GArray *rows;
  const FacetAgreement *row = NULL;
  g_autofree char *code = facet_facs_code (layer_au);
  const char *report;

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.agreement", NULL);
  ui_idle (0.3);
  dialog = FACET_AGREEMENT_DIALOG (ui_find_toplevel (FACET_TYPE_AGREEMENT_DIALOG));
  g_assert_nonnull (dialog);
  g_assert_true (ui_wait (agreement_ready, dialog, TIMEOUT));
  g_assert_true (facet_agreement_dialog_set_coders (dialog, "ui-test", "bob"));
  g_assert_true (ui_wait (agreement_ready, dialog, TIMEOUT));
  rows = facet_agreement_dialog_get_rows (dialog);
  for (guint i = 0; i < rows->len; i++)
    if (g_array_index (rows, FacetAgreement, i).au == layer_au)
      row = &g_array_index (rows, FacetAgreement, i);
  g_assert_nonnull (row);
  /* Two frames both coded: absent and absent, present against absent. */
  g_assert_cmpint (row->frames, ==, 2);
  g_assert_cmpint (row->a_only, ==, 1);
  g_assert_cmpint (row->both_absent, ==, 1);
  g_assert_cmpfloat (row->agreement, ==, 0.5);
  report = facet_agreement_dialog_get_report (dialog);
  g_assert_nonnull (report);
  g_assert_nonnull (strstr (report, code));
  g_assert_nonnull (strstr (report, "bob"));
  g_assert_nonnull (strstr (report, "n = 2 "));
  save_render (GTK_WIDGET (dialog), "agreement");
  ui_click_centre (find_button (GTK_WIDGET (dialog), "_Copy Report"));
  ui_idle (0.2);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_idle (0.2);
  set_independent (FALSE);
}

static gboolean
sample_marked (gpointer data)
{
  const char *toast = facet_window_get_last_toast (fx.window);

  return toast != NULL && strstr (toast, "double coding") != NULL;
}

static gboolean
sample_toast (gpointer data)
{
  const char *toast = facet_window_get_last_toast (fx.window);

  return toast != NULL && g_str_has_prefix (toast, "Reliability segment");
}

/* The segment N should go to from (@video_id, @f): the first after it,
 * else the first of all. */
static FacetReliabilitySegment *
expected_next (GPtrArray *segments,
               gint64     video_id,
               gint64     f)
{
  for (guint i = 0; i < segments->len; i++)
    {
      FacetReliabilitySegment *s = g_ptr_array_index (segments, i);

      if (s->video_id > video_id || (s->video_id == video_id && s->first > f))
        return s;
    }
  return g_ptr_array_index (segments, 0);
}

/* The reliability sample: marked from the menu's dialog, then N steps
 * through its segments (with review-sample on, and while blind). */
static void
test_sample (void)
{
  GtkWindow *dialog;
  g_autoptr (GPtrArray) segments = NULL;

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.sample-reliability", NULL);
  ui_idle (0.3);
  dialog = ui_find_toplevel (FACET_TYPE_SAMPLE_DIALOG);
  g_assert_nonnull (dialog);
  facet_sample_dialog_set_values (FACET_SAMPLE_DIALOG (dialog), 30, 1.0);
  ui_click_centre (find_button (GTK_WIDGET (dialog), "_Mark Segments"));
  g_assert_true (ui_wait (sample_marked, NULL, TIMEOUT));
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);

    g_assert_no_error (error);
    segments = facet_store_list_reliability (store, 0, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (segments->len, >=, 2);

  g_settings_set_boolean (fx.settings, "review-sample", TRUE);
  go_to (0);
  for (int i = 0; i < 2; i++)
    {
      gint64 video = facet_window_get_video_id (fx.window);
      FacetReliabilitySegment *next = expected_next (segments, video, ui_frame (fx.window));

      facet_window_toast (fx.window, "-");
      ui_focus (GTK_WINDOW (fx.window));
      ui_key (XK_n, FALSE, FALSE);
      g_assert_true (ui_wait (sample_toast, NULL, TIMEOUT));
      ui_settle (fx.window, TIMEOUT);
      g_assert_cmpint (facet_window_get_video_id (fx.window), ==, next->video_id);
      g_assert_cmpint (ui_frame (fx.window), ==, next->first);
    }
  g_settings_set_boolean (fx.settings, "review-sample", FALSE);

  /* Blind, N takes the sample too (the model's queue is hidden). */
  g_settings_set_boolean (fx.settings, "blind-coding", TRUE);
  ui_settle (fx.window, TIMEOUT);
  facet_window_toast (fx.window, "-");
  ui_focus (GTK_WINDOW (fx.window));
  ui_key (XK_n, FALSE, FALSE);
  g_assert_true (ui_wait (sample_toast, NULL, TIMEOUT));
  g_settings_set_boolean (fx.settings, "blind-coding", FALSE);
  ui_settle (fx.window, TIMEOUT);
}

int
main (int    argc,
      char **argv)
{
  if (!ui_init (&argc, &argv))
    return 77;
  ui_fixture_build (&fx, "facet-coding", UI_RECIPE_TWO_SUBJECTS ("coding test"));
  ui_fixture_open (&fx, 1400, 900, TIMEOUT);

  g_test_add_func ("/ui/coding/intensity-keys", test_intensity_keys);
  g_test_add_func ("/ui/coding/intensity-range", test_intensity_range);
  g_test_add_func ("/ui/coding/intensity-click", test_intensity_click);
  g_test_add_func ("/ui/coding/blind", test_blind);
  g_test_add_func ("/ui/coding/coder-button", test_coder_button);
  g_test_add_func ("/ui/coding/independent", test_independent);
  g_test_add_func ("/ui/coding/consensus", test_consensus);
  g_test_add_func ("/ui/coding/agreement", test_agreement);
  g_test_add_func ("/ui/coding/sample", test_sample);
  return ui_fixture_close (&fx, g_test_run ());
}
