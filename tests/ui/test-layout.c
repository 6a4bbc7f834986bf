/* test-layout.c — the main window at a laptop's size, in the language of
 * the environment, under Xvfb
 *
 * Run twice by meson (LANG=C and LANG=de_DE.UTF-8): the catalogues come
 * from the build folder, the window opens at 1024x700 with a project and
 * must keep that size, show the frame, the AU list and the timeline large
 * enough to code with, and cut no text. Saves the window as
 * layout-LANG.png in the test artefacts.
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ui-harness.h"

#define TIMEOUT 60.0
#define WIDTH   1024
#define HEIGHT  700

static const char recipe[] =
  "[Demo]\nName=layout test\nFramesPerSecond=10\nFrameSize=160\nCodec=h264\nCrop=aligned\n"
  "LabelledFraction=0.5\nCoder=Importer\n"
  "[Subject A1]\nSeed=11\nRecording=1\nSeconds=2\n";

static struct
{
  char        *folder;
  char        *project;
  const char  *lang;
  FacetWindow *window;
} fx;

static void
test_translated (void)
{
  /* The build's catalogue was found: the heading of the timeline (and so
   * everything else) is in the coder's language. */
  const char *timeline = _("Timeline");

  if (g_str_equal (fx.lang, "de"))
    g_assert_cmpstr (timeline, ==, "Zeitleiste");
  else
    g_assert_cmpstr (timeline, ==, "Timeline");
  g_assert_nonnull (ui_find (GTK_WIDGET (fx.window), GTK_TYPE_LABEL, timeline));
}

static void
test_size (void)
{
  GtkWidget *w = GTK_WIDGET (fx.window);
  GtkWidget *view = GTK_WIDGET (facet_window_get_frame_view (fx.window));
  GtkWidget *panel = GTK_WIDGET (facet_window_get_au_panel (fx.window));
  GtkWidget *timeline = GTK_WIDGET (facet_window_get_timeline (fx.window));
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (fx.window));
  int min_w, nat_w, min_h, nat_h;

  gtk_widget_measure (w, GTK_ORIENTATION_HORIZONTAL, -1, &min_w, &nat_w, NULL, NULL);
  gtk_widget_measure (w, GTK_ORIENTATION_VERTICAL, WIDTH, &min_h, &nat_h, NULL, NULL);
  g_test_message ("%s: window %d x %d, needs at least %d x %d; frame %d x %d, AU list %d x %d, "
                  "timeline %d x %d",
                  fx.lang, gtk_widget_get_width (w), gtk_widget_get_height (w), min_w, min_h,
                  gtk_widget_get_width (view), gtk_widget_get_height (view),
                  gtk_widget_get_width (panel), gtk_widget_get_height (panel),
                  gtk_widget_get_width (timeline), gtk_widget_get_height (timeline));
  g_assert_cmpint (min_w, <=, WIDTH);
  g_assert_cmpint (min_h, <=, HEIGHT);
  /* The window kept the size asked for (its surface: the window plus the
   * border GTK draws itself without a window manager). */
  g_assert_cmpint (gdk_surface_get_width (surface), ==, WIDTH);
  g_assert_cmpint (gdk_surface_get_height (surface), ==, HEIGHT);
  /* Enough to code with: a face, the AU list, a few lanes. */
  g_assert_true (gtk_widget_get_mapped (view) && gtk_widget_get_mapped (panel)
                 && gtk_widget_get_mapped (timeline));
  g_assert_cmpint (gtk_widget_get_width (view), >=, 360);
  g_assert_cmpint (gtk_widget_get_height (view), >=, 240);
  g_assert_cmpint (gtk_widget_get_width (panel), >=, 220);
  g_assert_cmpint (gtk_widget_get_height (timeline), >=, 100);
}

static void
test_no_cut_text (void)
{
  g_autofree char *cut = ui_dup_cut_labels (GTK_WIDGET (fx.window));

  if (cut != NULL)
    g_error ("%s: cut text: %s", fx.lang, cut);
}

/* The shortcuts window in this language, without GTK's size warnings
 * (fatal here). */
static void
test_shortcuts (void)
{
  GtkWindow *help;
  g_autofree char *cut = NULL;

  gtk_widget_activate_action (GTK_WIDGET (fx.window), "win.show-help-overlay", NULL);
  ui_idle (1.0);
  help = ui_find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  g_assert_nonnull (help);
  cut = ui_dup_cut_labels (GTK_WIDGET (help));
  if (cut != NULL)
    g_error ("%s: cut text in the shortcuts: %s", fx.lang, cut);
  gtk_window_destroy (help);
  ui_idle (0.2);
}

static void
test_screenshot (void)
{
  g_autoptr (GdkTexture) shot = ui_render (GTK_WIDGET (fx.window));
  const char *dir = g_getenv ("FACET_UI_ARTEFACTS");
  g_autofree char *path = NULL;

  if (dir == NULL)
    return;
  g_mkdir_with_parents (dir, 0755);
  path = g_strdup_printf ("%s/layout-%dx%d-%s.png", dir, WIDTH, HEIGHT, fx.lang);
  g_assert_true (gdk_texture_save_to_png (shot, path));
  g_test_message ("screenshot %s", path);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetApplication) app = NULL;
  const char *messages;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* gtk_init sets the locale from the environment; say whether it could. */
  gtk_init ();
  adw_init ();
  messages = setlocale (LC_MESSAGES, NULL);
  fx.lang = messages != NULL && g_str_has_prefix (messages, "de") ? "de" : "en";
  if (g_str_equal (fx.lang, "en") && g_getenv ("LANG") != NULL
      && g_str_has_prefix (g_getenv ("LANG"), "de"))
    {
      g_printerr ("the locale %s is not installed (locales-all)\n", g_getenv ("LANG"));
      return 77;
    }
  bindtextdomain (GETTEXT_PACKAGE, FACET_BUILD_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  if (!ui_input_available ())
    {
      g_printerr ("no X display with XTest: run under tests/ui/run-xvfb.sh\n");
      return 77;
    }

  fx.folder = g_dir_make_tmp ("facet-layout-XXXXXX", &error);
  g_assert_no_error (error);
  fx.project = ui_build_project (fx.folder, recipe, TRUE, NULL);
  app = ui_app_new ();
  fx.window = ui_window_new (app, WIDTH, HEIGHT);
  facet_window_open_project (fx.window, fx.project, FALSE, FALSE);
  if (!ui_wait_settled (fx.window, TIMEOUT))
    g_error ("the project did not open within %.0f s", TIMEOUT);
  ui_idle (0.5);

  g_test_add_func ("/ui/layout/translated", test_translated);
  g_test_add_func ("/ui/layout/size", test_size);
  g_test_add_func ("/ui/layout/no-cut-text", test_no_cut_text);
  g_test_add_func ("/ui/layout/screenshot", test_screenshot);
  g_test_add_func ("/ui/layout/shortcuts", test_shortcuts);
  status = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (fx.window));
  ui_idle (0.2);
  if (status == 0)
    ui_remove_tree (fx.folder);
  g_free (fx.project);
  g_free (fx.folder);
  return status;
}
