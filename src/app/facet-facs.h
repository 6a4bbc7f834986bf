/* facet-facs.h — FACS names of action units, translated
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "store/facet-store.h"

G_BEGIN_DECLS

/* "Lip corner puller" for 12, in the user's language; "Action unit 99"
 * for numbers FACS does not name here. */
char       *facet_facs_name  (int au);
/* "AU12". */
char       *facet_facs_code  (int au);

/* The FACS codes named here, ascending (g_free). */
int        *facet_facs_list  (int *n);
/* "Action unit", "Action descriptor", "Head position", ... */
const char *facet_facs_group (int au);
/* FACS intensity letters: "A" .. "E" for levels 1-5 (facet_intensity_to_level
 * in the store), "" for 0. */
const char *facet_facs_intensity_letter (int   level);
/* "Present", "Absent", "Not codable", translated; @unset for UNSET. */
const char *facet_facs_state_text (FacetLabelState  state,
                                   const char      *unset);

G_END_DECLS
