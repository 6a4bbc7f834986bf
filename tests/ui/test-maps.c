/* test-maps.c — the heat map's method, under Xvfb
 *
 * Opens a small analysed demo project, shows the selected AU's map by the
 * default method (change from neutral), and switches the method through win.heatmap-method (the action the menu
 * next to the frame view activates): the legend names the method, the map
 * changes, the choice is stored in GSettings; change from neutral finds a
 * calm frame of the analysed video and names it. Shift+M, typed through
 * the X server, goes to the next method and shows the selected AU's map
 * if the heat map was off. A slow method (occlusion)
 * stops when the heat map is switched off, and no explainer thread is
 * left running at the end. On a video the model has not analysed, change
 * from neutral falls back to occlusion and says so, and the map is made
 * again from a calm frame once the analysis has run.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <X11/keysym.h>

#include "facet-explainer.h"
#include "ui-harness.h"

#define TIMEOUT 120.0

static const char recipe[] =
  "[Demo]\nName=maps test\nFramesPerSecond=10\nFrameSize=160\nCodec=h264\nCrop=aligned\n"
  "LabelledFraction=0.5\nCoder=Importer\n"
  "[Subject A1]\nSeed=11\nRecording=1\nSeconds=2\n";

static UiFixture fx;

/* The map on screen, copied, and the legend. */
static float *
shown_map (int   *grid,
           char **legend)
{
  FacetFrameView *view = facet_window_get_frame_view (fx.window);
  const float *values = facet_frame_view_get_heatmap (view, grid);

  *legend = facet_frame_view_get_legend (view);
  return values != NULL ? g_memdup2 (values, sizeof (float) * *grid * *grid) : NULL;
}

static void
use_method (const char *id)
{
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.heatmap-method", "s", id);
  ui_settle (fx.window, TIMEOUT);
}

/* The first AU's map at @frame of video 1, settled. */
static void
show_au_map (gint64 frame)
{
  facet_window_show_video (fx.window, 1, frame);
  g_settings_set_string (fx.settings, "heatmap-source", "au");
  g_settings_set_boolean (fx.settings, "show-heatmap", TRUE);
  facet_au_panel_set_selected (facet_window_get_au_panel (fx.window), 0);
  ui_settle (fx.window, TIMEOUT);
}

static double
map_difference (const float *a,
                const float *b,
                int          n)
{
  double d = 0.0, top = 0.0;

  for (int i = 0; i < n; i++)
    {
      d = MAX (d, fabs (a[i] - b[i]));
      top = MAX (top, MAX (fabs (a[i]), fabs (b[i])));
    }
  return top > 0 ? d / top : 0.0;
}

/* What a coder sees first: the selected AU's map by the default method,
 * change from neutral (the one that follows the model and points at the
 * AU best in bench/maps), named in the legend with its calm frame. */
static void
test_default (void)
{
  g_autofree char *stored = NULL;
  g_autofree char *legend = NULL;
  g_autofree float *map = NULL;
  int grid = 0;

  stored = g_settings_get_string (fx.settings, "heatmap-method");
  g_assert_cmpstr (stored, ==, "neutral");
  show_au_map (5);
  map = shown_map (&grid, &legend);
  g_assert_nonnull (map);
  g_assert_nonnull (strstr (legend, facet_explainer_method_title (FACET_MAP_NEUTRAL)));
  g_assert_nonnull (strstr (legend, "(calm frame at "));
}

static void
test_switch (void)
{
  static const char *const ids[] = { "grad-attention", "input-x-gradient", "last-layer",
                                     "occlusion", "neutral" };
  float *maps[G_N_ELEMENTS (ids)] = { NULL };
  int grid = 0;

  show_au_map (5);

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      FacetMapMethod method = FACET_MAP_N_METHODS;
      g_autofree char *legend = NULL;
      g_autofree char *stored = NULL;

      use_method (ids[i]);
      stored = g_settings_get_string (fx.settings, "heatmap-method");
      g_assert_cmpstr (stored, ==, ids[i]);
      g_assert_true (facet_map_method_from_string (ids[i], &method));
      maps[i] = shown_map (&grid, &legend);
      g_test_message ("%s: legend “%s”", ids[i], legend);
      g_assert_nonnull (maps[i]);
      g_assert_cmpint (grid, >, 1);
      /* The legend names the method that made the map; change from
       * neutral also the time of the calm frame it was measured against
       * (the project is analysed, so there is one). */
      g_assert_nonnull (strstr (legend, facet_explainer_method_title (method)));
      if (method == FACET_MAP_NEUTRAL)
        g_assert_nonnull (strstr (legend, "(calm frame at "));
      /* A different method, a different map. */
      for (guint j = 0; j < i; j++)
        {
          double d = map_difference (maps[i], maps[j], grid * grid);
          g_test_message ("%s against %s: largest difference %.3f of the largest value", ids[i],
                          ids[j], d);
          g_assert_cmpfloat (d, >, 0.01);
        }
    }
  /* Back to the first: the same map again (the maps are deterministic). */
  use_method (ids[0]);
  {
    g_autofree char *legend = NULL;
    g_autofree float *again = shown_map (&grid, &legend);
    g_assert_cmpfloat (map_difference (again, maps[0], grid * grid), <, 1e-6);
  }
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    g_free (maps[i]);
}

/* Shift+M from the keyboard: the next method of the menu's order, and the
 * selected AU's map shown even when the heat map was off or showing the
 * model's attention. */
static void
test_next_key (void)
{
  static const char *const expect[] = { "last-layer", "rollout" };

  use_method ("input-x-gradient");
  g_settings_set_boolean (fx.settings, "show-heatmap", FALSE);
  g_settings_set_string (fx.settings, "heatmap-source", "model");
  ui_settle (fx.window, TIMEOUT);
  ui_focus (GTK_WINDOW (fx.window));
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      g_autofree char *stored = NULL;
      g_autofree char *source = NULL;
      g_autofree char *legend = NULL;
      g_autofree float *map = NULL;
      FacetMapMethod method = FACET_MAP_N_METHODS;
      int grid = 0;

      ui_key (XK_m, TRUE, FALSE);
      ui_settle (fx.window, TIMEOUT);
      stored = g_settings_get_string (fx.settings, "heatmap-method");
      source = g_settings_get_string (fx.settings, "heatmap-source");
      g_assert_cmpstr (stored, ==, expect[i]);
      g_assert_cmpstr (source, ==, "au");
      g_assert_true (g_settings_get_boolean (fx.settings, "show-heatmap"));
      g_assert_true (facet_map_method_from_string (expect[i], &method));
      map = shown_map (&grid, &legend);
      g_assert_nonnull (map);
      g_assert_nonnull (strstr (legend, facet_explainer_method_title (method)));
    }
}

static gboolean
heatmap_off_and_idle (gpointer data)
{
  return ui_window_settled (fx.window) && facet_explainer_stop_all (0);
}

static void
test_cancel (void)
{
  /* Occlusion on another frame, switched off at once: the computation
   * stops, and nothing is left running. */
  use_method ("occlusion");
  facet_window_show_video (fx.window, 1, 12);
  ui_idle (0.05);
  g_settings_set_boolean (fx.settings, "show-heatmap", FALSE);
  g_assert_true (ui_wait (heatmap_off_and_idle, NULL, TIMEOUT));
  /* And on again: the map comes. */
  g_settings_set_boolean (fx.settings, "show-heatmap", TRUE);
  ui_settle (fx.window, TIMEOUT);
  {
    int grid = 0;
    g_autofree char *legend = NULL;
    g_autofree float *map = shown_map (&grid, &legend);
    g_assert_nonnull (map);
    g_assert_nonnull (strstr (legend, facet_explainer_method_title (FACET_MAP_OCCLUSION)));
  }
}

/* Model 2: the same file as model 1 under another row, so the video is
 * not analysed by it yet. */
static gint64 again_id;

static gboolean
legend_has_calm_frame (gpointer data)
{
  g_autofree char *legend = facet_frame_view_get_legend (facet_window_get_frame_view (fx.window));

  return legend != NULL && strstr (legend, "(calm frame at ") != NULL;
}

/* Change from neutral on a video the model has not analysed: occlusion,
 * and the legend says why; once the analysis has stored the video's
 * predictions, the map on screen is made again from a calm frame. */
static void
test_after_analysis (void)
{
  FacetProject *project = facet_window_get_project (fx.window);
  g_autofree char *legend = NULL;
  g_autofree float *map = NULL;
  int grid = 0;

  use_method ("neutral");
  facet_project_set_model_id (project, again_id);
  show_au_map (7);
  map = shown_map (&grid, &legend);
  g_test_message ("before the analysis: “%s”", legend);
  g_assert_nonnull (map);
  g_assert_nonnull (strstr (legend, facet_explainer_method_title (FACET_MAP_OCCLUSION)));
  g_assert_nonnull (strstr (legend, "no neutral frame"));

  /* What the Analyse button does. */
  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.analyse", NULL);
  g_assert_true (ui_wait (legend_has_calm_frame, NULL, TIMEOUT));
  g_clear_pointer (&legend, g_free);
  g_clear_pointer (&map, g_free);
  ui_settle (fx.window, TIMEOUT);
  map = shown_map (&grid, &legend);
  g_test_message ("after the analysis: “%s”", legend);
  g_assert_nonnull (map);
  g_assert_nonnull (strstr (legend, facet_explainer_method_title (FACET_MAP_NEUTRAL)));
  facet_project_set_model_id (project, 1);
  ui_settle (fx.window, TIMEOUT);
}

int
main (int    argc,
      char **argv)
{
  int status;

  if (!ui_init (&argc, &argv))
    return 77;
  ui_fixture_build (&fx, "facet-ui-maps", recipe);
  again_id = ui_add_model_row (fx.project, "not analysed yet",
                               "0000000000000000000000000000000000000000000000000000000000000003");
  ui_fixture_open (&fx, 1200, 800, TIMEOUT);
  facet_project_set_model_id (facet_window_get_project (fx.window), 1);
  ui_settle (fx.window, TIMEOUT);

  g_test_add_func ("/ui/maps/default", test_default);
  g_test_add_func ("/ui/maps/switch", test_switch);
  g_test_add_func ("/ui/maps/next-key", test_next_key);
  g_test_add_func ("/ui/maps/cancel", test_cancel);
  g_test_add_func ("/ui/maps/after-analysis", test_after_analysis);
  status = g_test_run ();

  /* No explainer thread outlives the window. */
  gtk_window_destroy (GTK_WINDOW (g_steal_pointer (&fx.window)));
  ui_idle (0.2);
  g_assert_true (facet_explainer_stop_all (60000));
  return ui_fixture_close (&fx, status);
}
