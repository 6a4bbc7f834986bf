/* cli-common.c — helpers shared by the facet-cli commands */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
facet_cli_fail (GError *error)
{
  g_autofree char *one_line = g_strdup (error ? error->message : "unknown error");

  g_strdelimit (one_line, "\n", ' ');
  fprintf (stderr, "facet-cli: %s\n", one_line);
  g_clear_error (&error);
  return 1;
}

int
facet_cli_failf (const char *format,
                 ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, "facet-cli: %s\n", msg);
  return 1;
}

/* Parses options; on error prints one line and returns FALSE. */
gboolean
facet_cli_parse (GOptionContext *context,
                 int            *argc,
                 char         ***argv)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      fprintf (stderr, "facet-cli: %s (see --help)\n", error->message);
      return FALSE;
    }
  return TRUE;
}

/* JSON numbers are written locale-independently; non-finite values as null. */
void
facet_cli_json_float (GString *out,
                      double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.9g", value));
}

void
facet_cli_json_floats (GString     *out,
                       const float *values,
                       gsize        n)
{
  g_string_append_c (out, '[');
  for (gsize i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (out, ',');
      facet_cli_json_float (out, values[i]);
    }
  g_string_append_c (out, ']');
}

void
facet_cli_json_string (GString    *out,
                       const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p; p++)
    {
      unsigned char c = (unsigned char) *p;
      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

/* Loads a model with the common override options of the commands. */
FacetModel *
facet_cli_load_model (const char *path,
                      const char *aus,
                      const char *dataset,
                      int         heads,
                      const char *readout,
                      const char *crop,
                      gboolean    create_head,
                      GError    **error)
{
  FacetModelLoadOptions opt = { 0 };
  g_autoptr (GArray) ids = NULL;

  if (aus != NULL)
    {
      if (!facet_parse_int_list (aus, &ids, error))
        return NULL;
      opt.au_ids = (const int *) ids->data;
      opt.n_aus = (int) ids->len;
    }
  opt.dataset = dataset;
  opt.heads = heads;
  opt.readout = readout;
  opt.crop = crop;
  opt.create_head = create_head;
  opt.seed = 0;
  return facet_model_load (path, &opt, error);
}

char *
facet_cli_resolve_model (FacetStore *store,
                         const char *arg,
                         gint64     *model_id,
                         GError    **error)
{
  guint64 id;

  *model_id = 0;
  if (g_ascii_string_to_unsigned (arg, 10, 1, G_MAXINT64, &id, NULL)
      && !g_file_test (arg, G_FILE_TEST_EXISTS))
    {
      g_autoptr (FacetStoreModel) m = facet_store_get_model (store, (gint64) id, error);
      if (m == NULL)
        return NULL;
      *model_id = m->id;
      return facet_store_model_path (store, m);
    }
  if (!g_file_test (arg, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   "%s: no such model file, and not the id of a model in the project", arg);
      return NULL;
    }
  {
    g_autofree char *sha = facet_file_sha256 (arg, error);
    if (sha == NULL)
      return NULL;
    *model_id = facet_store_find_model (store, sha, NULL);
  }
  return g_strdup (arg);
}
