/* main.c — the facet application
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <glib/gi18n.h>

#include "facet-analysis.h"
#include "facet-application.h"
#include "facet-demo.h"
#include "facet-explainer.h"
#include "facet-finetune-dialog.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr (FacetApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  int status;
  g_autofree char *locale_dir = facet_relocated_data_path ("locale");
  g_autofree char *schemas = facet_relocated_data_path ("glib-2.0/schemas/gschemas.compiled");

  /* Installed away from the configured prefix (a staging folder, a moved
   * tree): the translations and the settings schema next to the program.
   * GSettings reads GSETTINGS_SCHEMA_DIR once, at its first use, below. */
  if (schemas != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (schemas);
      const char *set = g_getenv ("GSETTINGS_SCHEMA_DIR");
      g_autofree char *value = set && *set ? g_strjoin (":", set, dir, NULL) : g_strdup (dir);
      g_setenv ("GSETTINGS_SCHEMA_DIR", value, TRUE);
    }
  setlocale (LC_ALL, "");
  /* FACET_LOCALEDIR: the catalogues of an uninstalled build (BUILD/po), as
   * build-aux/run-demo.sh sets it; else those next to the program, else the
   * configured prefix's. */
  if (g_getenv ("FACET_LOCALEDIR") != NULL)
    bindtextdomain (GETTEXT_PACKAGE, g_getenv ("FACET_LOCALEDIR"));
  else
    bindtextdomain (GETTEXT_PACKAGE, locale_dir ? locale_dir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Without its schema GSettings aborts; say what to do instead. */
  if (!facet_application_check_schema (&error))
    {
      fprintf (stderr, "facet: %s\n", error->message);
      return 1;
    }
  app = facet_application_new (APPLICATION_ID, G_APPLICATION_DEFAULT_FLAGS);
  status = g_application_run (G_APPLICATION (app), argc, argv);
  /* Closing the last window ends the main loop, not the analysis threads:
   * stop them before the process exits under them. */
  if (!facet_analysis_stop_all (60000))
    g_warning ("an analysis did not stop within a minute of quitting");
  if (!facet_explainer_stop_all (60000))
    g_warning ("a heat map did not stop within a minute of quitting");
  if (!facet_finetune_stop_all (60000))
    g_warning ("a fine-tuning run did not stop within a minute of quitting");
  return status;
}
