/* facet-preferences-window.h — backend, devices, threads, threshold, coder
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define FACET_TYPE_PREFERENCES_WINDOW (facet_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (FacetPreferencesWindow, facet_preferences_window, FACET, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

GtkWidget *facet_preferences_window_new (GtkWindow *parent);

G_END_DECLS
