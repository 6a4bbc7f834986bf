/* main.c — the facet application
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <glib/gi18n.h>

#include "facet-application.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr (FacetApplication) app = NULL;
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  /* FACET_LOCALEDIR: the catalogues of an uninstalled build (BUILD/po),
   * as build-aux/run-demo.sh sets it. */
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("FACET_LOCALEDIR") ? g_getenv ("FACET_LOCALEDIR")
                                                                : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Without its schema GSettings aborts; say what to do instead. */
  if (!facet_application_check_schema (&error))
    {
      fprintf (stderr, "facet: %s\n", error->message);
      return 1;
    }
  app = facet_application_new (APPLICATION_ID, G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
