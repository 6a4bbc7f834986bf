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

/* FACS 2002's action units, action descriptors (AD19, AD29-37), head and
 * eye positions (51-66) and gross behaviour codes (80-85), by number: the
 * vocabulary a lab picks its coding scheme from. */
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
  { 8, N_("Lips toward each other") },
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
  { 19, N_("Tongue show") },
  { 20, N_("Lip stretcher") },
  { 21, N_("Neck tightener") },
  { 22, N_("Lip funneler") },
  { 23, N_("Lip tightener") },
  { 24, N_("Lip pressor") },
  { 25, N_("Lips part") },
  { 26, N_("Jaw drop") },
  { 27, N_("Mouth stretch") },
  { 28, N_("Lip suck") },
  { 29, N_("Jaw thrust") },
  { 30, N_("Jaw sideways") },
  { 31, N_("Jaw clencher") },
  { 32, N_("Lip bite") },
  { 33, N_("Cheek blow") },
  { 34, N_("Cheek puff") },
  { 35, N_("Cheek suck") },
  { 36, N_("Tongue bulge") },
  { 37, N_("Lip wipe") },
  { 38, N_("Nostril dilator") },
  { 39, N_("Nostril compressor") },
  { 41, N_("Lid droop") },
  { 42, N_("Slit") },
  { 43, N_("Eyes closed") },
  { 44, N_("Squint") },
  { 45, N_("Blink") },
  { 46, N_("Wink") },
  { 51, N_("Head turn left") },
  { 52, N_("Head turn right") },
  { 53, N_("Head up") },
  { 54, N_("Head down") },
  { 55, N_("Head tilt left") },
  { 56, N_("Head tilt right") },
  { 57, N_("Head forward") },
  { 58, N_("Head back") },
  { 61, N_("Eyes turn left") },
  { 62, N_("Eyes turn right") },
  { 63, N_("Eyes up") },
  { 64, N_("Eyes down") },
  { 65, N_("Walleye") },
  { 66, N_("Cross-eye") },
  { 80, N_("Swallow") },
  { 81, N_("Chewing") },
  { 82, N_("Shoulder shrug") },
  { 84, N_("Head shake back and forth") },
  { 85, N_("Head nod up and down") },
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

int *
facet_facs_list (int *n)
{
  int *aus = g_new (int, G_N_ELEMENTS (names));

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    aus[i] = names[i].au;
  *n = (int) G_N_ELEMENTS (names);
  return aus;
}

const char *
facet_facs_group (int au)
{
  if (au >= 51 && au <= 58)
    return _("Head position");
  if (au >= 61 && au <= 66)
    return _("Eye position");
  if (au >= 80)
    return _("Gross behaviour");
  /* FACS 2002's action descriptors (AD19, AD29, ...); AU31, 38, 39 are units. */
  if (au == 19 || au == 29 || au == 30 || (au >= 32 && au <= 37))
    return _("Action descriptor");
  return _("Action unit");
}

const char *
facet_facs_intensity_letter (int level)
{
  static const char *letters[] = { "", "A", "B", "C", "D", "E" };

  return letters[CLAMP (level, 0, 5)];
}

const char *
facet_facs_state_text (FacetLabelState  state,
                       const char      *unset)
{
  switch (state)
    {
    case FACET_LABEL_PRESENT:
      return _("Present");
    case FACET_LABEL_ABSENT:
      return _("Absent");
    case FACET_LABEL_NOT_CODABLE:
      return _("Not codable");
    case FACET_LABEL_UNSET:
    default:
      return unset;
    }
}
