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

/* The FACS codes named here, ascending (g_free). */
int        *facet_facs_list  (int *n);
/* "Action unit", "Action descriptor", "Head position", ... */
const char *facet_facs_group (int au);

G_END_DECLS
