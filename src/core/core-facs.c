/* core-facs.c — AU names, data set AU lists, crop kinds */
#define G_LOG_DOMAIN "facet-core"

#include "config.h"

#include <string.h>

#include "core-facs.h"

static const int bp4d_aus[] = { 1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24 };
static const int disfa_aus[] = { 1, 2, 4, 6, 9, 12, 25, 26 };

static const struct
{
  int         au;
  const char *name;
} au_names[] = {
  { 1, "inner brow raiser" },   { 2, "outer brow raiser" },  { 4, "brow lowerer" },
  { 5, "upper lid raiser" },    { 6, "cheek raiser" },       { 7, "lid tightener" },
  { 9, "nose wrinkler" },       { 10, "upper lip raiser" },  { 11, "nasolabial deepener" },
  { 12, "lip corner puller" },  { 13, "cheek puffer" },      { 14, "dimpler" },
  { 15, "lip corner depressor" }, { 16, "lower lip depressor" }, { 17, "chin raiser" },
  { 18, "lip pucker" },         { 20, "lip stretcher" },     { 22, "lip funneler" },
  { 23, "lip tightener" },      { 24, "lip pressor" },       { 25, "lips part" },
  { 26, "jaw drop" },           { 27, "mouth stretch" },     { 28, "lip suck" },
  { 43, "eyes closed" },        { 45, "blink" },             { 46, "wink" },
};

static const float default_template[10] = {
  0.335f, 0.400f, 0.665f, 0.400f, 0.500f, 0.580f, 0.360f, 0.740f, 0.640f, 0.740f,
};

void
facet_crop_default_template (float template_out[10])
{
  memcpy (template_out, default_template, sizeof default_template);
}

const char *
facet_au_name (int au)
{
  for (guint i = 0; i < G_N_ELEMENTS (au_names); i++)
    if (au_names[i].au == au)
      return au_names[i].name;
  return NULL;
}

/**
 * facet_dataset_aus:
 *
 * The AU list a data set's models predict, in head order, or NULL.
 */
const int *
facet_dataset_aus (const char *dataset,
                   int        *n_aus)
{
  if (dataset == NULL)
    return NULL;
  if (g_ascii_strcasecmp (dataset, "BP4D") == 0 || g_ascii_strcasecmp (dataset, "BP4D+") == 0
      || g_ascii_strcasecmp (dataset, "BP4DPlus") == 0)
    {
      *n_aus = G_N_ELEMENTS (bp4d_aus);
      return bp4d_aus;
    }
  if (g_ascii_strcasecmp (dataset, "DISFA") == 0)
    {
      *n_aus = G_N_ELEMENTS (disfa_aus);
      return disfa_aus;
    }
  return NULL;
}

const char *
facet_crop_kind_to_string (FacetCropKind crop)
{
  switch (crop)
    {
    case FACET_CROP_ALIGNED:
      return "aligned";
    case FACET_CROP_NONE:
      return "none";
    case FACET_CROP_BOX:
    default:
      return "box";
    }
}

gboolean
facet_crop_kind_from_string (const char    *text,
                             FacetCropKind *crop)
{
  if (g_strcmp0 (text, "box") == 0)
    *crop = FACET_CROP_BOX;
  else if (g_strcmp0 (text, "aligned") == 0)
    *crop = FACET_CROP_ALIGNED;
  else if (g_strcmp0 (text, "none") == 0)
    *crop = FACET_CROP_NONE;
  else
    return FALSE;
  return TRUE;
}
