/* facet-facs.h — FACS names of action units, translated
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "Lip corner puller" for 12, in the user's language; "Action unit 99"
 * for numbers FACS does not name here. */
char       *facet_facs_name  (int au);
/* "AU12". */
char       *facet_facs_code  (int au);

/* FACS intensity: A (trace) to E (maximum) is level 1 to 5; the store
 * keeps it as level / 5 (0..1, as DISFA's 0-5 imports). Level 0: none. */
int         facet_facs_intensity_level  (float intensity);
float       facet_facs_intensity_value  (int   level);
/* "A" .. "E" for levels 1-5, "" for 0. */
const char *facet_facs_intensity_letter (int   level);

G_END_DECLS
