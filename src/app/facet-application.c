/* facet-application.c — command line, app actions, about, preferences
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-application"

#include "config.h"

#include <glib/gi18n.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"

#include "facet-application.h"
#include "facet-preferences-window.h"
#include "facet-window.h"

/* From the compiled GResource (registered by hand: a constructor in a
 * static archive would be dropped by the linker). */
void facet_register_resource (void);

#define SCHEMA_ID "io.github.facet.Facet"

struct _FacetApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;
};

G_DEFINE_FINAL_TYPE (FacetApplication, facet_application, ADW_TYPE_APPLICATION)

gboolean
facet_application_check_schema (GError **error)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, SCHEMA_ID,
                                                                                 TRUE)
                                              : NULL;

  if (schema == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "the settings schema %s is not installed: install Facet, or run it from the "
                   "build "
                   "folder with GSETTINGS_SCHEMA_DIR=BUILD/data (make run does this)", SCHEMA_ID);
      return FALSE;
    }
  return TRUE;
}

static FacetWindow *
get_window (FacetApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window != NULL && FACET_IS_WINDOW (window))
    return FACET_WINDOW (window);
  return facet_window_new (ADW_APPLICATION (self));
}

static void
apply_threads (FacetApplication *self)
{
  int threads = g_settings_get_int (self->settings, "threads");

  /* 0: the pool's own default (a worker per core, or FACET_THREADS). */
  if (threads > 0)
    facet_parallel_set_threads ((guint) threads);
}

/* The precision of the processor's products, for analyses and fine-tuning
 * started from now on (engines and training read the default). */
static void
apply_precision (FacetApplication *self)
{
  g_autofree char *name = g_settings_get_string (self->settings, "precision");
  FacetPrecision precision = FACET_PRECISION_FP32;

  if (!facet_precision_from_string (name, &precision))
    precision = FACET_PRECISION_FP32;
  facet_backend_set_default_precision (precision);
}

static void
quit_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  GApplication *app = user_data;
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (app));

  /* Through close-request, so windows save their size and stop work. */
  for (GList *l = g_list_copy (windows); l != NULL; l = g_list_delete_link (l, l))
    gtk_window_close (l->data);
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  gtk_window_present (GTK_WINDOW (facet_preferences_window_new (parent)));
}

static void
about_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  static const char *developers[] = { "The Facet authors", NULL };
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  GtkWidget *about = adw_about_window_new ();

  gtk_window_set_transient_for (GTK_WINDOW (about), parent);
  adw_about_window_set_application_name (ADW_ABOUT_WINDOW (about), _("Facet"));
  adw_about_window_set_application_icon (ADW_ABOUT_WINDOW (about), APPLICATION_ID);
  adw_about_window_set_version (ADW_ABOUT_WINDOW (about), PACKAGE_VERSION);
  adw_about_window_set_developer_name (ADW_ABOUT_WINDOW (about), "The Facet authors");
  adw_about_window_set_developers (ADW_ABOUT_WINDOW (about), developers);
  adw_about_window_set_license_type (ADW_ABOUT_WINDOW (about), GTK_LICENSE_GPL_3_0);
  adw_about_window_set_website (ADW_ABOUT_WINDOW (about), "https://github.com/facet/facet");
  adw_about_window_set_issue_url (ADW_ABOUT_WINDOW (about),
                                  "https://github.com/facet/facet/issues");
  adw_about_window_set_comments (ADW_ABOUT_WINDOW (about),
                                 _("A workstation for coding facial action units: an FMAE-IAT "
                                   "model "
                                   "predicts them frame by frame, shows where it looks, and "
                                   "learns from "
                                   "the coder's corrections. Everything runs on this computer."));
  /* TRANSLATORS: your names, one per line */
  adw_about_window_set_translator_credits (ADW_ABOUT_WINDOW (about), _("translator-credits"));
  gtk_window_present (GTK_WINDOW (about));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action, NULL, NULL, NULL, { 0 } },
  { "preferences", preferences_action, NULL, NULL, NULL, { 0 } },
  { "about", about_action, NULL, NULL, NULL, { 0 } },
};

static void
facet_application_startup (GApplication *app)
{
  FacetApplication *self = FACET_APPLICATION (app);
  static const char *quit[] = { "<Control>q", NULL };
  static const char *prefs[] = { "<Control>comma", NULL };

  facet_register_resource ();
  G_APPLICATION_CLASS (facet_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions),
                                   app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences", prefs);

  self->settings = g_settings_new (SCHEMA_ID);
  g_signal_connect_swapped (self->settings, "changed::threads", G_CALLBACK (apply_threads), self);
  apply_threads (self);
  g_signal_connect_swapped (self->settings, "changed::precision", G_CALLBACK (apply_precision),
                            self);
  apply_precision (self);
}

static void
facet_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (get_window (FACET_APPLICATION (app))));
}

static void
facet_application_open (GApplication  *app,
                        GFile        **files,
                        int            n_files,
                        const char    *hint)
{
  FacetWindow *window = get_window (FACET_APPLICATION (app));
  g_autofree char *path = n_files > 0 ? g_file_get_path (files[0]) : NULL;

  gtk_window_present (GTK_WINDOW (window));
  if (path != NULL)
    facet_window_open_project (window, path, FALSE, FALSE);
}

static int
facet_application_command_line (GApplication            *app,
                                GApplicationCommandLine *command_line)
{
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);
  FacetWindow *window = get_window (FACET_APPLICATION (app));
  g_autofree char *demo = NULL;
  g_autofree const char **rest = NULL;
  gboolean analyse = FALSE, want_demo = FALSE;

  g_variant_dict_lookup (options, "analyse", "b", &analyse);
  g_variant_dict_lookup (options, "demo", "b", &want_demo);
  g_variant_dict_lookup (options, "demo-folder", "^ay", &demo);
  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&ay", &rest);

  gtk_window_present (GTK_WINDOW (window));
  if (want_demo || demo != NULL)
    {
      g_autoptr (GFile) folder =
        demo ? g_application_command_line_create_file_for_arg (command_line, demo)
                                      : NULL;
      g_autofree char *path = folder ? g_file_get_path (folder) : NULL;
      facet_window_open_demo (window, path);
    }
  else if (rest != NULL && rest[0] != NULL)
    {
      g_autoptr (GFile) file = g_application_command_line_create_file_for_arg (command_line,
                                                                               rest[0]);
      g_autofree char *path = g_file_get_path (file);
      facet_window_open_project (window, path, FALSE, analyse);
    }
  return 0;
}

static void
facet_application_dispose (GObject *object)
{
  FacetApplication *self = (FacetApplication *) object;

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (facet_application_parent_class)->dispose (object);
}

static void
facet_application_class_init (FacetApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = facet_application_dispose;
  app_class->startup = facet_application_startup;
  app_class->activate = facet_application_activate;
  app_class->open = facet_application_open;
  app_class->command_line = facet_application_command_line;
}

static void
facet_application_init (FacetApplication *self)
{
  static const GOptionEntry entries[] = {
    { "demo", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Open the demo project, making it first when it is missing"), NULL },
    { "demo-folder", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Where the demo project is (default: the user cache folder)"), N_("FOLDER") },
    { "analyse", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Analyse what the model has not seen yet once the project is open"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL, N_("[PROJECT.facet]") },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Facial action unit coding with a model at your "
                                              "side"));
}

FacetApplication *
facet_application_new (const char        *application_id,
                       GApplicationFlags  flags)
{
  return g_object_new (FACET_TYPE_APPLICATION,
                       "application-id", application_id,
                       "flags",
                       flags | G_APPLICATION_HANDLES_COMMAND_LINE | G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/facet/Facet",
                       NULL);
}
