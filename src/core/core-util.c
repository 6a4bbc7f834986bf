/* core-util.c — small helpers shared by every module */
#define G_LOG_DOMAIN "facet-core"

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "core-error.h"
#include "core-util.h"

/**
 * facet_natural_compare:
 *
 * Compares file names the way people count: runs of digits compare by value,
 * so "frame_2" sorts before "frame_10". Ties fall back to plain byte order so
 * the order is total.
 */
int
facet_natural_compare (const char *a,
                       const char *b)
{
  const char *pa = a, *pb = b;

  while (*pa != '\0' && *pb != '\0')
    {
      if (g_ascii_isdigit (*pa) && g_ascii_isdigit (*pb))
        {
          const char *ea, *eb;
          gsize la, lb;

          while (*pa == '0' && g_ascii_isdigit (pa[1]))
            pa++;
          while (*pb == '0' && g_ascii_isdigit (pb[1]))
            pb++;
          for (ea = pa; g_ascii_isdigit (*ea); ea++)
            ;
          for (eb = pb; g_ascii_isdigit (*eb); eb++)
            ;
          la = (gsize) (ea - pa);
          lb = (gsize) (eb - pb);
          if (la != lb)
            return la < lb ? -1 : 1;
          for (gsize i = 0; i < la; i++)
            if (pa[i] != pb[i])
              return pa[i] < pb[i] ? -1 : 1;
          pa = ea;
          pb = eb;
        }
      else
        {
          char ca = g_ascii_tolower (*pa), cb = g_ascii_tolower (*pb);
          if (ca != cb)
            return ca < cb ? -1 : 1;
          pa++;
          pb++;
        }
    }
  if (*pa != *pb)
    return *pa == '\0' ? -1 : 1;
  return strcmp (a, b);
}

/* Seconds on the monotonic clock. */
double
facet_now (void)
{
  return (double) g_get_monotonic_time () / G_USEC_PER_SEC;
}

/**
 * facet_file_sha256:
 *
 * Hashes a file's content in a streaming way (videos can be large).
 */
char *
facet_file_sha256 (const char *path,
                   GError    **error)
{
  g_autoptr (GChecksum) sum = NULL;
  guint8 buffer[1 << 16];
  FILE *f;
  size_t n;

  g_return_val_if_fail (path != NULL, NULL);

  f = fopen (path, "rb");
  if (f == NULL)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  while ((n = fread (buffer, 1, sizeof buffer, f)) > 0)
    g_checksum_update (sum, buffer, n);
  if (ferror (f))
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_IO, "%s: read error", path);
      fclose (f);
      return NULL;
    }
  fclose (f);
  return g_strdup (g_checksum_get_string (sum));
}

/**
 * facet_parse_int_list:
 * @out: (out): a new GArray of int
 *
 * Parses "1,2,4" (spaces allowed). Empty items or non-numbers are errors.
 */
gboolean
facet_parse_int_list (const char *text,
                      GArray    **out,
                      GError    **error)
{
  g_auto (GStrv) parts = NULL;
  g_autoptr (GArray) values = NULL;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  values = g_array_new (FALSE, FALSE, sizeof (int));
  parts = g_strsplit (text, ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      gint64 v;
      char *item = g_strstrip (parts[i]);
      if (!g_ascii_string_to_signed (item, 10, G_MININT, G_MAXINT, &v, NULL))
        {
          g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_INVALID,
                       "“%s” is not a list of whole numbers (item %u: “%s”)", text, i + 1, item);
          return FALSE;
        }
      g_array_append_val (values, (int) { (int) v });
    }
  *out = g_steal_pointer (&values);
  return TRUE;
}

char *
facet_format_int_list (const int *values,
                       guint      n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, i ? ",%d" : "%d", values[i]);
  return g_string_free (s, FALSE);
}

/**
 * facet_write_file_atomic:
 *
 * Writes to a temporary file in the same folder, syncs it and renames it into
 * place, so a crash leaves either the old file or the new one.
 */
gboolean
facet_write_file_atomic (const char *path,
                         const void *data,
                         gsize       length,
                         GError    **error)
{
  g_autoptr (GFile) file = NULL;

  g_return_val_if_fail (path != NULL, FALSE);

  file = g_file_new_for_path (path);
  return g_file_replace_contents (file, data, length, NULL, FALSE, G_FILE_CREATE_NONE, NULL,
                                  NULL, error);
}
