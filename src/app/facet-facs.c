/* facet-facs.c — FACS names of action units, translated
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The engine has the English names for files and the command line; coders
 * read them in their own language.
 */
#define G_LOG_DOMAIN "facet-facs"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-facs.h"

static const struct
{
  int         au;
  const char *name;
} names[] = {
  { 1, N_("Inner brow raiser") },
  { 2, N_("Outer brow raiser") },
  { 4, N_("Brow lowerer") },
  { 5, N_("Upper lid raiser") },
  { 6, N_("Cheek raiser") },
  { 7, N_("Lid tightener") },
  { 9, N_("Nose wrinkler") },
  { 10, N_("Upper lip raiser") },
  { 11, N_("Nasolabial deepener") },
  { 12, N_("Lip corner puller") },
  { 13, N_("Cheek puffer") },
  { 14, N_("Dimpler") },
  { 15, N_("Lip corner depressor") },
  { 16, N_("Lower lip depressor") },
  { 17, N_("Chin raiser") },
  { 18, N_("Lip pucker") },
  { 20, N_("Lip stretcher") },
  { 22, N_("Lip funneler") },
  { 23, N_("Lip tightener") },
  { 24, N_("Lip pressor") },
  { 25, N_("Lips part") },
  { 26, N_("Jaw drop") },
  { 27, N_("Mouth stretch") },
  { 28, N_("Lip suck") },
  { 43, N_("Eyes closed") },
  { 45, N_("Blink") },
  { 46, N_("Wink") },
};

char *
facet_facs_name (int au)
{
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].au == au)
      return g_strdup (_(names[i].name));
  /* TRANSLATORS: an action unit FACS has no name for here; %d is its number */
  return g_strdup_printf (_("Action unit %d"), au);
}

char *
facet_facs_code (int au)
{
  return g_strdup_printf ("AU%02d", au);
}

const char *
facet_facs_intensity_letter (int level)
{
  static const char *letters[] = { "", "A", "B", "C", "D", "E" };

  return letters[CLAMP (level, 0, 5)];
}
