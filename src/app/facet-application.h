/* facet-application.h — Facet as an AdwApplication
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define FACET_TYPE_APPLICATION (facet_application_get_type ())

G_DECLARE_FINAL_TYPE (FacetApplication, facet_application, FACET, APPLICATION, AdwApplication)

FacetApplication *facet_application_new (const char        *application_id,
                                         GApplicationFlags  flags);
/* Whether the GSettings schema can be found (it is compiled into the
 * build folder's data/ for uninstalled runs). */
gboolean          facet_application_check_schema (GError **error);

G_END_DECLS
