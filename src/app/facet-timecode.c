/* facet-timecode.c — parsing and formatting of frame numbers and timecodes
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-timecode"

#include "config.h"

#include <math.h>
#include <string.h>

#include "facet-timecode.h"

/* A non-negative decimal number with an optional fraction, nothing else. */
static gboolean
parse_number (const char *text,
              gboolean    allow_fraction,
              double     *value)
{
  const char *p = text;
  gboolean digits = FALSE, dot = FALSE;
  char *end = NULL;

  if (*p == '\0')
    return FALSE;
  for (; *p; p++)
    {
      if (g_ascii_isdigit (*p))
        digits = TRUE;
      else if ((*p == '.' || *p == ',') && allow_fraction && !dot)
        dot = TRUE;
      else
        return FALSE;
    }
  if (!digits)
    return FALSE;
  {
    /* A decimal comma is as common as a point for the people who type it. */
    g_autofree char *copy = g_strdelimit (g_strdup (text), ",", '.');
    *value = g_ascii_strtod (copy, &end);
    return end != NULL && *end == '\0' && isfinite (*value);
  }
}

gboolean
facet_timecode_parse (const char        *text,
                      double             fps,
                      FacetTimecodeKind *kind,
                      gint64            *frame,
                      double            *seconds)
{
  g_autofree char *t = NULL;
  g_auto (GStrv) parts = NULL;
  guint n;
  double v;
  gsize len;

  g_return_val_if_fail (kind != NULL && frame != NULL && seconds != NULL, FALSE);

  if (text == NULL)
    return FALSE;
  t = g_strstrip (g_strdup (text));
  len = strlen (t);
  if (len == 0 || len > 64)
    return FALSE;

  if (t[0] == '#')
    {
      if (!parse_number (t + 1, FALSE, &v) || v > (double) G_MAXINT64 / 2)
        return FALSE;
      *kind = FACET_TIMECODE_FRAME;
      *frame = (gint64) v;
      return TRUE;
    }
  if (t[len - 1] == 's' || t[len - 1] == 'S')
    {
      t[len - 1] = '\0';
      g_strchomp (t);
      if (!parse_number (t, TRUE, &v))
        return FALSE;
      *kind = FACET_TIMECODE_SECONDS;
      *seconds = v;
      return TRUE;
    }
  if (strchr (t, ':') == NULL)
    {
      if (!parse_number (t, FALSE, &v) || v > (double) G_MAXINT64 / 2)
        return FALSE;
      *kind = FACET_TIMECODE_FRAME;
      *frame = (gint64) v;
      return TRUE;
    }

  parts = g_strsplit (t, ":", -1);
  n = g_strv_length (parts);
  if (n == 4)
    {
      /* hh:mm:ss:ff — whole numbers, frames below the frame rate. */
      double h, m, s, f;
      if (fps <= 0 || !parse_number (parts[0], FALSE, &h) || !parse_number (parts[1], FALSE, &m)
          || !parse_number (parts[2], FALSE, &s) || !parse_number (parts[3], FALSE, &f)
          || m >= 60 || s >= 60 || f >= ceil (fps))
        return FALSE;
      *kind = FACET_TIMECODE_SECONDS;
      *seconds = h * 3600 + m * 60 + s + f / fps;
      return TRUE;
    }
  if (n == 2 || n == 3)
    {
      double total = 0, part;
      for (guint i = 0; i < n; i++)
        {
          gboolean last = i + 1 == n;
          if (!parse_number (parts[i], last, &part))
            return FALSE;
          /* Minutes and seconds after the first field stay below 60. */
          if (i > 0 && part >= 60)
            return FALSE;
          total = total * 60 + part;
        }
      *kind = FACET_TIMECODE_SECONDS;
      *seconds = total;
      return TRUE;
    }
  return FALSE;
}

char *
facet_timecode_format (double seconds)
{
  gint64 ms, h, m, s;

  if (!isfinite (seconds) || seconds < 0)
    seconds = 0;
  ms = (gint64) llround (seconds * 1000.0);
  h = ms / 3600000;
  m = (ms / 60000) % 60;
  s = (ms / 1000) % 60;
  if (h > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT
                            ".%03" G_GINT64_FORMAT, h, m, s, ms % 1000);
  return g_strdup_printf ("%" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT ".%03" G_GINT64_FORMAT,
                          m, s, ms % 1000);
}
