/* test-compare.c — two models side by side in the timeline, under Xvfb
 *
 * A small analysed demo project gets two more models, as fine-tuning
 * leaves them: "fine-tuned" (child of the demo model) with predictions of
 * its own on the video, written to the project file, and "not run yet"
 * (the demo model's file under another name) without any. With the
 * fine-tuned model shown, the coder opens the Compare menu with Ctrl+M and
 * picks the parent with the keyboard. The test checks that the second
 * curve holds the parent's predictions as the project file has them for
 * that model id, that the shaded runs are exactly the frames where the
 * two disagree at their thresholds (counted here from the file), that
 * Shift+Ctrl+M goes to one of them, that the AU panel shows the parent's
 * value at the frame, that the choice is kept for the project and that
 * blind coding hides it all. Then the model without predictions: the bar
 * names it and says it has not analysed the video; its button analyses
 * the video with it (the shown model stays) and its curve fills in.
 * "Stop comparing" removes the second curve, the bar and the remembered
 * choice.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <X11/keysym.h>
#include <glib/gi18n.h>

#include "facet-project.h"
#include "facet-timeline.h"
#include "ui-harness.h"

#define TIMEOUT 120.0

static const char recipe[] =
  "[Demo]\nName=compare test\nFramesPerSecond=10\nFrameSize=160\nCodec=h264\nCrop=aligned\n"
  "LabelledFraction=0.5\nCoder=Importer\n"
  "[Subject A1]\nSeed=11\nRecording=1\nSeconds=2\n";

static UiFixture fx;
static gint64 parent_id, child_id, idle_id;
static char *parent_name;

/* The fine-tuned model's probabilities: the parent's, turned over for
 * every other AU, so that they disagree there and agree elsewhere. */
static float
child_value (float parent,
             int   k)
{
  return k % 2 == 0 ? 1.0f - parent : parent;
}

static gint64
add_model (FacetStore            *store,
           const FacetStoreModel *base,
           const char            *file,
           const char            *name,
           const char            *sha256,
           const float           *thresholds)
{
  g_autoptr (GError) error = NULL;
  FacetStoreModelInfo info = { 0 };
  gint64 id;

  info.file = file;
  info.name = name;
  info.sha256 = sha256; /* the same file twice would be one model */
  info.parent_id = base->id;
  info.n_aus = base->n_aus;
  info.au_ids = base->au_ids;
  info.thresholds = thresholds;
  info.config_json = base->config_json;
  id = facet_store_add_model (store, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, base->id);
  return id;
}

/* The two models and the fine-tuned one's predictions on video 1. */
static void
prepare_project (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);
  g_autoptr (FacetStoreModel) base = NULL;
  g_autoptr (FacetPredictionSet) set = NULL;
  g_autofree char *model_file = NULL, *copy = NULL, *contents = NULL;
  g_autofree float *thresholds = NULL;
  g_autofree float *probs = NULL;
  g_autoptr (GArray) results = g_array_new (FALSE, TRUE, sizeof (FacetFrameResult));
  gsize length;

  g_assert_no_error (error);
  parent_id = facet_store_latest_model (store, &error);
  g_assert_no_error (error);
  base = facet_store_get_model (store, parent_id, &error);
  g_assert_no_error (error);
  parent_name = g_strdup (base->name);
  model_file = facet_store_model_path (store, base);

  /* The fine-tuned model: its own thresholds, 0.5 each. */
  thresholds = g_new (float, base->n_aus);
  for (int k = 0; k < base->n_aus; k++)
    thresholds[k] = 0.5f;
  child_id = add_model (store, base, model_file, "fine-tuned", "compare-test-fine-tuned",
                        thresholds);
  set = facet_store_get_predictions (store, parent_id, 1, 0, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (set->n, >=, 10);
  probs = g_new (float, set->n * set->n_aus);
  for (gsize i = 0; i < set->n; i++)
    {
      FacetFrameResult r = { 0 };
      gboolean found = FALSE;

      g_assert_true (facet_store_get_face (store, 1, set->frames[i], &r, &found, &error));
      g_assert_true (found);
      for (int k = 0; k < set->n_aus; k++)
        probs[i * set->n_aus + k] = child_value (set->probs[i * set->n_aus + k], k);
      r.probs = isnan (set->probs[i * set->n_aus]) ? NULL : probs + i * set->n_aus;
      g_array_append_val (results, r);
    }
  g_assert_true (facet_store_write_results (store, child_id, 1,
                                            (const FacetFrameResult *) (gpointer) results->data,
                                            results->len, &error));
  g_assert_no_error (error);

  /* A model that has analysed nothing: the demo model's file copied. */
  g_assert_true (g_file_get_contents (model_file, &contents, &length, &error));
  copy = g_build_filename (fx.folder, "not-run-yet.safetensors", NULL);
  g_assert_true (g_file_set_contents (copy, contents, (gssize) length, &error));
  idle_id = add_model (store, base, copy, "not run yet", "compare-test-not-run-yet", NULL);
}

static FacetTimeline *
timeline (void)
{
  return facet_window_get_timeline (fx.window);
}

static gboolean
popover_shown (gpointer data)
{
  return gtk_widget_get_visible (data);
}

/* The label starting with @prefix that is mapped, or NULL. */
static GtkWidget *
shown_label (const char *prefix)
{
  GtkWidget *w = ui_find (GTK_WIDGET (fx.window), GTK_TYPE_LABEL, prefix);

  return w != NULL && gtk_widget_get_mapped (w) ? w : NULL;
}

static gint64
remembered (void)
{
  g_autoptr (GVariant) dict = g_settings_get_value (fx.settings, "compare-models");
  gint64 id = 0;

  if (!g_variant_lookup (dict, fx.project, "x", &id))
    return 0;
  return id;
}

/* Checks the second curve and the shaded runs against the project file:
 * the second model's probabilities of each lane's AU, and the frames where
 * one model is at or above its threshold and the other below. Returns the
 * frames that differ in all lanes. */
static gint64
check_against_store (gint64 second_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (fx.project, &error);
  g_autoptr (FacetPredictionSet) first = NULL, second = NULL;
  g_autoptr (FacetStoreModel) m1 = NULL, m2 = NULL;
  FacetTimelineData *data = facet_timeline_get_data (timeline ());
  FacetTimelineData *other = facet_timeline_get_compare (timeline ());
  int n_lanes = facet_timeline_data_get_n_lanes (data);
  gint64 differing = 0;

  g_assert_no_error (error);
  g_assert_nonnull (other);
  m1 = facet_store_get_model (store, child_id, &error);
  m2 = facet_store_get_model (store, second_id, &error);
  first = facet_store_get_predictions (store, child_id, 1, 0, -1, &error);
  second = facet_store_get_predictions (store, second_id, 1, 0, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n_lanes, ==, m1->n_aus);
  g_assert_cmpuint (first->n, ==, second->n);
  for (int lane = 0; lane < n_lanes; lane++)
    {
      int k1 = lane, k2 = facet_store_model_find_au (m2, m1->au_ids[lane]);
      float t1 = m1->thresholds[k1], t2 = m2->thresholds[k2];
      guint n_runs;
      const FacetLabelSegment *runs = facet_timeline_get_compare_runs (timeline (), lane,
                                                                       &n_runs);

      g_assert_cmpint (k2, >=, 0);
      /* Each lane reads its threshold from its own model. */
      g_assert_cmpfloat (facet_timeline_data_get_threshold (other, lane), ==, t2);
      g_assert_cmpfloat (facet_timeline_data_get_threshold (data, lane), ==, t1);
      for (gsize i = 0; i < second->n; i++)
        {
          gint64 f = second->frames[i];
          float p1 = first->probs[i * first->n_aus + k1];
          float p2 = second->probs[i * second->n_aus + k2];
          float shown = facet_timeline_data_get_value (other, lane, f);
          gboolean differs = !isnan (p1) && !isnan (p2) && (p1 >= t1) != (p2 >= t2);
          int run = facet_timeline_segments_find (runs, n_runs, f);

          g_assert_cmpint (first->frames[i], ==, f);
          if (isnan (p2))
            g_assert_true (isnan (shown));
          else
            g_assert_cmpfloat (shown, ==, p2);
          g_assert_cmpint (run >= 0, ==, differs);
          if (differs)
            {
              differing++;
              g_assert_cmpint (runs[run].state, ==,
                               p1 >= t1 ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT);
            }
        }
    }
  return differing;
}

static void
save_picture (const char *name)
{
  g_autoptr (GdkTexture) picture = ui_render (GTK_WIDGET (fx.window));
  const char *lang = g_getenv ("LANGUAGE");
  g_autofree char *file = g_strdup_printf ("%s%s%s.png", name, lang ? "-" : "", lang ? lang : "");
  g_autofree char *path = g_build_filename (fx.artefacts, file, NULL);

  g_assert_true (gdk_texture_save_to_png (picture, path));
  g_test_message ("the window: %s", path);
}

/* The first lane with a shaded run, and that run's first frame. */
static int
first_differing_lane (gint64 *first)
{
  int n_lanes = facet_timeline_data_get_n_lanes (facet_timeline_get_data (timeline ()));

  for (int lane = 0; lane < n_lanes; lane++)
    {
      guint n;
      const FacetLabelSegment *runs = facet_timeline_get_compare_runs (timeline (), lane, &n);

      if (n > 0)
        {
          *first = runs[0].first;
          return lane;
        }
    }
  return -1;
}

/* The widget named @name under @root (in any language). */
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

/* The AU panel shows the second model's probability at the frame beside
 * the first's: the curve's value there (checked against the file above). */
static void
check_panel (void)
{
  FacetAuPanel *panel = facet_window_get_au_panel (fx.window);
  FacetTimelineData *other = facet_timeline_get_compare (timeline ());
  gint64 frame = ui_frame (fx.window);

  g_assert_cmpint (facet_au_panel_get_n_aus (panel), ==,
                   facet_timeline_data_get_n_lanes (other));
  for (int i = 0; i < facet_au_panel_get_n_aus (panel); i++)
    {
      float p = facet_timeline_data_get_value (other, i, frame);
      g_autofree char *expected = isnan (p) ? g_strdup ("╍ –") : g_strdup_printf ("╍ %.2f", p);

      g_assert_cmpstr (facet_au_panel_get_compare_text (panel, i), ==, expected);
    }
}

/* The label of item @item of section @section of the Compare menu. */
static char *
menu_label (GtkWidget *button,
            int        section,
            int        item)
{
  GMenuModel *menu = gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (button));
  g_autoptr (GMenuModel) items = NULL;
  char *label = NULL;

  g_assert_cmpint (g_menu_model_get_n_items (menu), >, section);
  items = g_menu_model_get_item_link (menu, section, G_MENU_LINK_SECTION);
  g_assert_cmpint (g_menu_model_get_n_items (items), >, item);
  g_assert_true (g_menu_model_get_item_attribute (items, item, G_MENU_ATTRIBUTE_LABEL, "s",
                                                  &label));
  return label;
}

static void
test_parent (void)
{
  GtkWidget *button, *popover;
  g_autofree char *legend = NULL;
  gint64 differing, first = -1;
  int lane;

  facet_project_set_model_id (facet_window_get_project (fx.window), child_id);
  facet_window_show_video (fx.window, 1, 0);
  ui_settle (fx.window, TIMEOUT);
  g_assert_null (facet_timeline_get_compare (timeline ()));
  g_assert_null (shown_label ("━━"));

  /* Ctrl+M opens the menu; the keyboard picks the first model in it (the
   * parent: the shown model is not offered, "None" comes first, the model
   * without predictions for the video last, in a section of its own). */
  ui_focus (GTK_WINDOW (fx.window));
  button = find_named (GTK_WIDGET (fx.window), "compare-button");
  g_assert_nonnull (button);
  popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (button)));
  /* The menu: None, the parent (said to be), then the model without
   * predictions for this video in a section of its own. */
  {
    g_autofree char *none = menu_label (button, 0, 0);
    g_autofree char *offered = menu_label (button, 0, 1);
    g_autofree char *idle = menu_label (button, 1, 0);
    g_autofree char *parent = g_strdup_printf (_("%s (the shown model’s parent)"), parent_name);

    g_assert_cmpstr (none, ==, _("None"));
    g_assert_cmpstr (offered, ==, parent);
    g_assert_cmpstr (idle, ==, "not run yet");
  }
  ui_key (XK_m, FALSE, TRUE);
  g_assert_true (ui_wait (popover_shown, popover, 10));
  ui_idle (0.3);
  /* The menu opens on its first item, "None". */
  ui_key (XK_Down, FALSE, FALSE);
  ui_key (XK_Return, FALSE, FALSE);
  ui_idle (0.3);
  ui_settle (fx.window, TIMEOUT);
  g_assert_false (gtk_widget_get_visible (popover));
  g_assert_cmpint (remembered (), ==, parent_id);

  /* The second curve and the shading come from the project file. */
  differing = check_against_store (parent_id);
  g_test_message ("the models disagree on %" G_GINT64_FORMAT " frames", differing);
  g_assert_cmpint (differing, >, 0);

  /* The bar names both models. */
  legend = g_strdup_printf ("━━ %s", "fine-tuned");
  g_assert_nonnull (shown_label (legend));
  g_free (legend);
  legend = g_strdup_printf ("╍╍ %s", parent_name);
  g_assert_nonnull (shown_label (legend));
  /* Nothing in the bar is cut off, also at 1024x700 in German. */
  {
    g_autofree char *cut = ui_dup_cut_labels (gtk_widget_get_parent (shown_label (legend)));
    g_assert_null (cut);
  }

  /* Shift+Ctrl+M: to the first frame the selected AU's models disagree on. */
  lane = first_differing_lane (&first);
  g_assert_cmpint (lane, >=, 0);
  facet_timeline_set_selected_lane (timeline (), lane);
  facet_window_show_video (fx.window, 1, 0);
  ui_settle (fx.window, TIMEOUT);
  if (first == 0)
    first = -1; /* already there: the next one, or round to it */
  ui_key (XK_m, TRUE, TRUE);
  ui_settle (fx.window, TIMEOUT);
  if (first > 0)
    g_assert_cmpint (ui_frame (fx.window), ==, first);
  {
    guint n;
    const FacetLabelSegment *runs = facet_timeline_get_compare_runs (timeline (), lane, &n);
    g_assert_cmpint (facet_timeline_segments_find (runs, n, ui_frame (fx.window)), >=, 0);
  }
  check_panel ();
  save_picture ("compare");

  /* Blind coding hides the second model as it hides the first. */
  g_settings_set_boolean (fx.settings, "blind-coding", TRUE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_null (shown_label ("╍╍"));
  g_assert_false (gtk_widget_get_sensitive (button));
  g_settings_set_boolean (fx.settings, "blind-coding", FALSE);
  ui_settle (fx.window, TIMEOUT);
  g_assert_nonnull (shown_label (legend));
  g_assert_true (gtk_widget_get_sensitive (button));
}

/* The mapped button under @root that activates @action, or NULL. */
static GtkWidget *
find_action_button (GtkWidget  *root,
                    const char *action)
{
  if (GTK_IS_BUTTON (root) && gtk_widget_get_mapped (root)
      && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (root)), action) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_action_button (c, action);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
idle_model_done (gpointer data)
{
  FacetTimelineData *other = facet_timeline_get_compare (timeline ());

  return ui_window_settled (fx.window) && other != NULL
         && facet_timeline_data_first_unknown (other) >= facet_timeline_data_get_n_frames (other)
         && shown_label ("“not run yet” has not analysed") == NULL;
}

static void
test_not_analysed (void)
{
  GtkWidget *analyse;
  gint64 differing;

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "compare.model", "x", idle_id);
  ui_settle (fx.window, TIMEOUT);
  g_assert_cmpint (remembered (), ==, idle_id);
  /* Said, with the model's name, and offered. */
  g_assert_nonnull (shown_label ("“not run yet” has not analysed this video"));
  g_assert_cmpint (facet_timeline_data_count_known (facet_timeline_get_compare (timeline ())), ==,
                   0);
  analyse = find_action_button (GTK_WIDGET (fx.window), "win.compare-analyse");
  g_assert_nonnull (analyse);
  g_assert_true (gtk_widget_get_mapped (analyse));
  save_picture ("compare-not-analysed");
  ui_click_centre (analyse);
  g_assert_true (ui_wait (idle_model_done, NULL, TIMEOUT));
  /* The shown model stayed; the new curve is that model's. */
  g_assert_cmpint (facet_project_get_model_id (facet_window_get_project (fx.window)), ==,
                   child_id);
  differing = check_against_store (idle_id);
  g_assert_cmpint (differing, >, 0);
  check_panel ();
  g_assert_false (gtk_widget_get_mapped (analyse));
}

static void
test_off (void)
{
  GtkWidget *stop = find_action_button (GTK_WIDGET (fx.window), "compare.model");

  /* The bar's "Stop Comparing" button. */
  g_assert_nonnull (stop);
  ui_click_centre (stop);
  ui_settle (fx.window, TIMEOUT);
  g_assert_null (facet_timeline_get_compare (timeline ()));
  g_assert_null (shown_label ("━━"));
  g_assert_null (find_action_button (GTK_WIDGET (fx.window), "compare.model"));
  g_assert_cmpint (remembered (), ==, 0);
  g_assert_null (facet_au_panel_get_compare_text (facet_window_get_au_panel (fx.window), 0));
  /* The first model's curve is still there. */
  g_assert_cmpint (facet_timeline_data_count_known (facet_timeline_get_data (timeline ())), >, 0);
}

int
main (int    argc,
      char **argv)
{
  int status, width = 1280, height = 800;

  if (!ui_init (&argc, &argv))
    return 77;
  /* The catalogues of this build, for app-compare-de. */
  bindtextdomain (GETTEXT_PACKAGE, FACET_BUILD_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  ui_fixture_build (&fx, "facet-ui-compare", recipe);
  prepare_project ();
  /* FACET_UI_SIZE: "1024x700" for the smallest window the app supports. */
  if (g_getenv ("FACET_UI_SIZE") != NULL
      && sscanf (g_getenv ("FACET_UI_SIZE"), "%dx%d", &width, &height) != 2)
    g_error ("FACET_UI_SIZE: “%s” is not WIDTHxHEIGHT", g_getenv ("FACET_UI_SIZE"));
  ui_fixture_open (&fx, width, height, TIMEOUT);

  g_test_add_func ("/ui/compare/parent", test_parent);
  g_test_add_func ("/ui/compare/not-analysed", test_not_analysed);
  g_test_add_func ("/ui/compare/off", test_off);
  status = g_test_run ();
  g_free (parent_name);
  return ui_fixture_close (&fx, status);
}
