/* take-screenshots.c — the AppStream screenshots (data/screenshots), taken
 * from the running application:
 *
 *   GSETTINGS_SCHEMA_DIR=BUILD/data \
 *     tests/ui/run-xvfb.sh BUILD/tests/ui/take-screenshots [PROJECT.facet] OUTDIR
 *
 * Without a project, the demo project is built (and analysed) in a
 * temporary folder from data/demo/facet-demo.recipe first. The window is
 * shot at 1600x1000 (start.png, coding.png, heatmap.png) and at a
 * laptop's 1024x700 (coding-1024x700.png), in the language of the
 * environment; with LANGUAGE=de the names end in -de (the catalogues come
 * from the build folder).
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ui-harness.h"

static const char *suffix = "";

static void
save (GtkWidget  *widget,
      const char *folder,
      const char *name)
{
  g_autoptr (GdkTexture) texture = ui_render (widget);
  g_autofree char *file = g_strdup_printf ("%s%s.png", name, suffix);
  g_autofree char *path = g_build_filename (folder, file, NULL);

  if (!gdk_texture_save_to_png (texture, path))
    g_error ("%s: cannot write the screenshot", path);
  g_print ("%s\n", path);
}

/* What a lab adds around the labels, so that the shots show it: a coding
 * scheme wider than the model (AU05 and AU45 coded by hand), a marked
 * AU12 event with its apex and a note on it (issue 19). Only once per project. */
static void
add_coding_marks (const char *project)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (project, &error);
  g_autoptr (FacetStoreModel) model = NULL;
  g_autoptr (GArray) events = NULL;
  g_autoptr (GArray) scheme = g_array_new (FALSE, FALSE, sizeof (int));
  static const int extra[] = { 5, 45 };
  FacetStoreEvent event = { .video_id = 2, .au = 12, .onset = 150, .apex = 163, .offset = 178 };
  FacetStoreNote note = { .video_id = 2, .text = (char *) "Smile fades slowly; check the offset" };
  gint64 id;

  if (store == NULL)
    g_error ("%s", error->message);
  events = facet_store_list_events (store, 2, 0, &error);
  if (events == NULL || events->len > 0)
    return;
  model = facet_store_get_model (store, 1, &error);
  if (model == NULL)
    g_error ("%s", error->message);
  g_array_append_vals (scheme, model->au_ids, (guint) model->n_aus);
  g_array_append_vals (scheme, extra, G_N_ELEMENTS (extra));
  facet_store_set_coder (store, "alice");
  if (!facet_store_set_scheme (store, (const int *) (void *) scheme->data, (int) scheme->len, &error)
      || (id = facet_store_add_event (store, &event, &error)) < 0)
    g_error ("%s", error->message);
  note.event_id = id;
  if (facet_store_add_note (store, &note, &error) < 0)
    g_error ("%s", error->message);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetApplication) app = NULL;
  g_autoptr (GSettings) settings = NULL;
  g_autofree char *project = NULL, *recipe_path = NULL, *recipe = NULL, *tmp = NULL;
  const char *out;
  FacetWindow *window;
  FacetProject *p;

  gtk_init ();
  adw_init ();
  bindtextdomain (GETTEXT_PACKAGE, FACET_BUILD_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  if (g_str_has_prefix (setlocale (LC_MESSAGES, NULL), "de"))
    suffix = "-de";
  if (argc < 2)
    {
      g_printerr ("usage: take-screenshots [PROJECT.facet] OUTDIR\n");
      return 2;
    }
  out = argv[argc - 1];
  g_mkdir_with_parents (out, 0755);
  if (argc > 2)
    project = g_strdup (argv[1]);
  else
    {
      recipe_path = g_build_filename (FACET_SOURCE_DATADIR, "demo", "facet-demo.recipe", NULL);
      if (!g_file_get_contents (recipe_path, &recipe, NULL, &error))
        g_error ("%s", error->message);
      tmp = g_dir_make_tmp ("facet-screenshots-XXXXXX", &error);
      g_assert_no_error (error);
      project = ui_build_project (tmp, recipe, TRUE, NULL);
    }

  add_coding_marks (project);
  app = ui_app_new ();
  settings = g_settings_new ("io.github.facet.Facet");
  {
    const char *recent[] = { project, NULL };
    g_settings_set_strv (settings, "recent-projects", recent);
  }
  /* The header bar names the coder: a coder's name, not the login of
   * whoever takes the screenshots. */
  g_settings_set_string (settings, "coder-name", "Ana");
  window = ui_window_new (app, 1600, 1000);
  ui_idle (1.0);
  save (GTK_WIDGET (window), out, "start");

  facet_window_open_project (window, project, FALSE, FALSE);
  if (!ui_wait_settled (window, 120))
    g_error ("the project did not open");
  /* The model the project was analysed with: the first. */
  p = facet_window_get_project (window);
  facet_project_set_model_id (p,
                              ((FacetStoreModel *) g_ptr_array_index (facet_project_get_models (p),
                                                                      0))->id);
  facet_window_show_video (window, 2, 160);
  g_settings_set_boolean (settings, "show-face-box", TRUE);
  g_settings_set_boolean (settings, "show-landmarks", TRUE);
  facet_au_panel_set_selected (facet_window_get_au_panel (window), 5);
  ui_wait_settled (window, 120);
  ui_idle (1.0);
  save (GTK_WIDGET (window), out, "coding");

  g_settings_set_boolean (settings, "show-face-box", FALSE);
  g_settings_set_boolean (settings, "show-landmarks", FALSE);
  g_settings_set_boolean (settings, "show-heatmap", TRUE);
  g_settings_set_string (settings, "heatmap-source", "au");
  /* The map of an AU that is there: AU01 (inner brow raiser) at 1.8 s of
   * S02, with the default method (change from neutral). */
  facet_window_show_video (window, 2, 45);
  facet_au_panel_set_selected (facet_window_get_au_panel (window), 0);
  ui_wait_settled (window, 120);
  ui_idle (1.0);
  save (GTK_WIDGET (window), out, "heatmap");

  /* A laptop's screen: the videos fold away, the rest stays usable. */
  g_settings_set_boolean (settings, "show-heatmap", FALSE);
  facet_window_show_video (window, 2, 160);
  facet_au_panel_set_selected (facet_window_get_au_panel (window), 5);
  g_settings_set_boolean (settings, "show-face-box", TRUE);
  gtk_window_set_default_size (GTK_WINDOW (window), 1024, 700);
  ui_idle (1.0);
  ui_wait_settled (window, 120);
  ui_idle (1.0);
  save (GTK_WIDGET (window), out, "coding-1024x700");

  gtk_window_destroy (GTK_WINDOW (window));
  ui_idle (0.2);
  return 0;
}
