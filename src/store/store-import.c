/* store-import.c — label files in and out: Facet's csv (the layout of
 * facet-cli synth), FMAE-IAT JSON lines, BP4D AU_OCC tables and DISFA
 * per-AU intensity files
 *
 * A file is parsed completely before anything is written; the first
 * problem refuses it with its line and column, and a good file is written
 * as one change set (one transaction, one undo step). docs/store.md lists
 * the exact layouts. */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "core/facet-core.h"
#include "store-private.h"

/* Larger label files than this are refused before reading them. */
#define MAX_LABEL_FILE_BYTES ((gsize) 1 << 30)
/* No number needs more characters; longer fields are junk. */
#define MAX_FIELD_BYTES 64
/* FMAE-IAT's filler for "an AU that is absent". */
#define FMAE_ABSENT 999

gboolean
facet_label_format_from_string (const char       *text,
                                FacetLabelFormat *format)
{
  static const struct { const char *name; FacetLabelFormat format; } names[] = {
    { "csv", FACET_LABEL_FORMAT_CSV },
    { "fmae-json", FACET_LABEL_FORMAT_FMAE_JSON },
    { "bp4d", FACET_LABEL_FORMAT_BP4D },
    { "disfa", FACET_LABEL_FORMAT_DISFA },
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (text, names[i].name) == 0)
      {
        *format = names[i].format;
        return TRUE;
      }
  return FALSE;
}

void
facet_label_file_free (FacetLabelFile *file)
{
  if (file == NULL)
    return;
  g_free (file->name);
  g_array_unref (file->labels);
  g_string_chunk_free (file->keys);
  g_free (file);
}

static FacetLabelFile *
label_file_new (const char *name)
{
  FacetLabelFile *file = g_new0 (FacetLabelFile, 1);

  file->name = g_utf8_make_valid (name, -1);
  file->labels = g_array_new (FALSE, FALSE, sizeof (FacetParsedLabel));
  file->keys = g_string_chunk_new (256);
  return file;
}

static void
add_label (FacetLabelFile *file,
           const char     *key,
           guint           line,
           gint64          frame,
           int             au,
           FacetLabelState state,
           float           intensity)
{
  FacetParsedLabel l = { key, line, frame, au, state, intensity };
  g_array_append_val (file->labels, l);
}

/* ---- Lines, fields and messages ------------------------------------------------------ */

typedef struct
{
  const char *name;
  const char *data;
  gsize       len;
  gsize       pos;
  guint       line;
} Reader;

typedef struct
{
  const char *text;
  gsize       len;
  guint       column; /* 1-based byte column */
  gboolean    quoted; /* was in quotes: "" inside stands for " */
} Field;

/* A field as it may appear in a message: valid UTF-8, short. */
static char *
quote (const char *text,
       gsize       len)
{
  g_autofree char *valid = g_utf8_make_valid (text, (gssize) MIN (len, 40));
  GString *s = g_string_new (NULL);

  for (const char *p = valid; *p; p++)
    g_string_append_c (s, (guchar) *p < 0x20 ? '?' : *p);
  if (len > 40)
    g_string_append (s, "…");
  return g_string_free (s, FALSE);
}

static void G_GNUC_PRINTF (5, 6)
parse_error (GError    **error,
             const char *name,
             guint       line,
             guint       column,
             const char *format,
             ...)
{
  g_autofree char *msg = NULL, *valid = NULL;
  va_list ap;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* Messages of other parsers may quote broken bytes; ours stay one line
   * of valid UTF-8. */
  valid = g_utf8_make_valid (msg, -1);
  g_strdelimit (valid, "\r\n", ' ');
  g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_PARSE, "%s:%u:%u: %s", name, line,
               column, valid);
}

/* The next line without its end ("\n" or "\r\n"); FALSE at the end. */
static gboolean
next_line (Reader      *r,
           const char **line,
           gsize       *len,
           GError     **error)
{
  const char *start, *nl;

  if (r->pos >= r->len)
    return FALSE;
  start = r->data + r->pos;
  nl = memchr (start, '\n', r->len - r->pos);
  *len = nl ? (gsize) (nl - start) : r->len - r->pos;
  r->pos += *len + (nl ? 1 : 0);
  r->line++;
  *line = start;
  if (*len > 0 && start[*len - 1] == '\r')
    (*len)--;
  if (memchr (start, '\0', *len) != NULL)
    {
      parse_error (error, r->name, r->line, (guint) ((const char *) memchr (start, '\0', *len) - start) + 1,
                   "a NUL byte: this is not a text file");
      *line = NULL;
    }
  else if (!g_utf8_validate (start, (gssize) *len, NULL))
    {
      const char *end;
      g_utf8_validate (start, (gssize) *len, &end);
      parse_error (error, r->name, r->line, (guint) (end - start) + 1, "invalid UTF-8");
      *line = NULL;
    }
  return TRUE;
}

static gboolean
blank (const char *line,
       gsize       len)
{
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isspace (line[i]))
      return FALSE;
  return TRUE;
}

/* Fields between commas; a comma inside double quotes belongs to the field
 * (RFC 4180, as pandas and R write names with commas). */
static void
split_fields (const char *line,
              gsize       len,
              GArray     *fields)
{
  gboolean in_quotes = FALSE;
  gsize start = 0;

  g_array_set_size (fields, 0);
  for (gsize i = 0; i <= len; i++)
    {
      if (i < len && line[i] == '"')
        in_quotes = !in_quotes;
      if (i == len || (line[i] == ',' && !in_quotes))
        {
          Field f = { line + start, i - start, (guint) start + 1, FALSE };
          /* Surrounding spaces are allowed; quotes around a field too. */
          while (f.len > 0 && g_ascii_isspace (*f.text))
            f.text++, f.len--, f.column++;
          while (f.len > 0 && g_ascii_isspace (f.text[f.len - 1]))
            f.len--;
          if (f.len >= 2 && f.text[0] == '"' && f.text[f.len - 1] == '"')
            f.text++, f.len -= 2, f.quoted = TRUE;
          g_array_append_val (fields, f);
          start = i + 1;
        }
    }
}

/* The first line that is not blank, split into @fields (a byte order mark
 * dropped); @expected says what a header looks like for the error. */
static gboolean
read_header (Reader     *r,
             const char *expected,
             GArray     *fields,
             GError    **error)
{
  const char *line;
  gsize len;

  for (;;)
    {
      if (!next_line (r, &line, &len, error))
        {
          parse_error (error, r->name, 1, 1, "the file is empty (a header %s was expected)",
                       expected);
          return FALSE;
        }
      if (line == NULL)
        return FALSE;
      if (!blank (line, len))
        break;
    }
  if (r->line == 1 && len >= 3 && memcmp (line, "\xef\xbb\xbf", 3) == 0)
    line += 3, len -= 3; /* a byte order mark */
  split_fields (line, len, fields);
  return TRUE;
}

static gboolean
field_int (const Field *f,
           gint64       min,
           gint64       max,
           gint64      *out)
{
  char buf[MAX_FIELD_BYTES + 1];

  if (f->len == 0 || f->len > MAX_FIELD_BYTES)
    return FALSE;
  memcpy (buf, f->text, f->len);
  buf[f->len] = '\0';
  return g_ascii_string_to_signed (buf, 10, min, max, out, NULL);
}

/* "1", "1.0", "1e0": whole numbers written as floats by some tools. */
static gboolean
field_whole (const Field *f,
             gint64       min,
             gint64       max,
             gint64      *out)
{
  char buf[MAX_FIELD_BYTES + 1];
  char *end = NULL;
  double v;

  if (field_int (f, min, max, out))
    return TRUE;
  if (f->len == 0 || f->len > MAX_FIELD_BYTES)
    return FALSE;
  memcpy (buf, f->text, f->len);
  buf[f->len] = '\0';
  v = g_ascii_strtod (buf, &end);
  if (*end != '\0' || !isfinite (v) || v != floor (v) || v < (double) min || v > (double) max)
    return FALSE;
  *out = (gint64) v;
  return TRUE;
}

static gboolean
field_float (const Field *f,
             double       min,
             double       max,
             float       *out)
{
  char buf[MAX_FIELD_BYTES + 1];
  char *end = NULL;
  double v;

  if (f->len == 0 || f->len > MAX_FIELD_BYTES)
    return FALSE;
  memcpy (buf, f->text, f->len);
  buf[f->len] = '\0';
  v = g_ascii_strtod (buf, &end);
  if (*end != '\0' || !isfinite (v) || v < min || v > max)
    return FALSE;
  *out = (float) v;
  return TRUE;
}

static gboolean
field_is (const Field *f,
          const char  *text)
{
  return f->len == strlen (text) && g_ascii_strncasecmp (f->text, text, f->len) == 0;
}

/* "AU12" or "AU12_i" (with @suffix) -> 12. */
static int
au_column (const Field *f,
           const char  *suffix)
{
  gsize sl = strlen (suffix);
  Field digits;
  gint64 au;

  if (f->len < 3 + sl || g_ascii_strncasecmp (f->text, "AU", 2) != 0
      || g_ascii_strncasecmp (f->text + f->len - sl, suffix, sl) != 0)
    return 0;
  digits = (Field) { f->text + 2, f->len - 2 - sl, f->column + 2 };
  for (gsize i = 0; i < digits.len; i++)
    if (!g_ascii_isdigit (digits.text[i]))
      return 0;
  if (!field_int (&digits, 1, 99, &au))
    return 0;
  return (int) au;
}

/* Duplicate rows: (key, frame) seen before. */
static gboolean
first_time (GHashTable *seen,
            const char *key,
            gint64      frame,
            guint       line,
            guint      *first_line)
{
  g_autofree char *k = g_strdup_printf ("%s\n%" G_GINT64_FORMAT, key ? key : "", frame);
  gpointer old = g_hash_table_lookup (seen, k);

  if (old != NULL)
    {
      *first_line = GPOINTER_TO_UINT (old);
      return FALSE;
    }
  g_hash_table_insert (seen, g_steal_pointer (&k), GUINT_TO_POINTER (line));
  return TRUE;
}

/* ---- Facet csv ---------------------------------------------------------------------- *
 * [file,sha256,]frame,AU01[,AU01_i],AU02[,AU02_i],...   (frame from 0)
 * file: the video's file name, sha256: its content hash (or empty);
 * an older Facet wrote a video column of video numbers instead.
 * AUxx: 1 present, 0 absent, 9 not codable, empty: no label
 * AUxx_i: intensity 0..1, a FACS letter A-E (0.2 .. 1.0), or empty */

typedef enum
{
  CSV_AU,
  CSV_INTENSITY,
  CSV_FRAME,
  CSV_VIDEO,
  CSV_FILE,
  CSV_SHA256,
} CsvKind;

typedef struct
{
  CsvKind kind;
  int     au; /* CSV_AU, CSV_INTENSITY: the AU */
} CsvColumn;

typedef struct
{
  GArray *columns; /* CsvColumn */
  int     frame_col, video_col, file_col, sha_col;
} CsvLayout;

/* Longest file name the file column takes (the longest a file system
 * allows, with room for multi-byte characters). */
#define MAX_FILE_NAME_BYTES 1024

/* The header's column kinds; FALSE with an error for an unknown or doubled
 * column. */
static gboolean
csv_read_columns (Reader    *r,
                  GArray    *fields,
                  CsvLayout *layout,
                  GError   **error)
{
  guint n_cols = fields->len;
  int *special[] = { &layout->frame_col, &layout->video_col, &layout->file_col, &layout->sha_col };
  static const char *names[] = { "frame", "video", "file", "sha256" };

  g_array_set_size (layout->columns, n_cols);
  for (guint c = 0; c < n_cols; c++)
    {
      Field *f = &g_array_index (fields, Field, c);
      CsvColumn *col = &g_array_index (layout->columns, CsvColumn, c);
      int au, named = -1;

      for (guint k = 0; k < G_N_ELEMENTS (names); k++)
        if (field_is (f, names[k]))
          named = (int) k;
      if (named >= 0)
        {
          col->kind = (CsvKind) (CSV_FRAME + named);
          if (*special[named] >= 0)
            {
              parse_error (error, r->name, r->line, f->column, "column “%s” appears twice",
                           names[named]);
              return FALSE;
            }
          *special[named] = (int) c;
          continue;
        }
      if ((au = au_column (f, "_i")) != 0)
        *col = (CsvColumn) { CSV_INTENSITY, au };
      else if ((au = au_column (f, "")) != 0)
        *col = (CsvColumn) { CSV_AU, au };
      else
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column,
                       "unknown column “%s” (expected file, sha256, frame, AUxx or AUxx_i)", q);
          return FALSE;
        }
      for (guint d = 0; d < c; d++)
        {
          CsvColumn *o = &g_array_index (layout->columns, CsvColumn, d);
          if (o->kind == col->kind && o->au == col->au)
            {
              g_autofree char *q = quote (f->text, f->len);
              parse_error (error, r->name, r->line, f->column, "column “%s” appears twice", q);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* What the header must hold together: a frame, AUs, intensities with
 * their AU, one way of naming videos. */
static gboolean
csv_check_columns (Reader          *r,
                   GArray          *fields,
                   const CsvLayout *layout,
                   GError         **error)
{
  guint n_cols = layout->columns->len, n_au = 0;

  for (guint c = 0; c < n_cols; c++)
    n_au += g_array_index (layout->columns, CsvColumn, c).kind == CSV_AU;
  if (layout->frame_col < 0)
    {
      parse_error (error, r->name, r->line, 1, "the header has no “frame” column");
      return FALSE;
    }
  if (n_au == 0)
    {
      parse_error (error, r->name, r->line, 1, "the header has no AU columns (AU01, AU02, ...)");
      return FALSE;
    }
  if (layout->video_col >= 0 && layout->file_col >= 0)
    {
      parse_error (error, r->name, r->line,
                   g_array_index (fields, Field, layout->video_col).column,
                   "both a “video” and a “file” column: rows name their video one way");
      return FALSE;
    }
  if (layout->sha_col >= 0 && layout->file_col < 0)
    {
      parse_error (error, r->name, r->line, g_array_index (fields, Field, layout->sha_col).column,
                   "a “sha256” column needs the “file” column it belongs to");
      return FALSE;
    }
  for (guint c = 0; c < n_cols; c++)
    {
      const CsvColumn *col = &g_array_index (layout->columns, CsvColumn, c);
      gboolean has_au = FALSE;
      if (col->kind != CSV_INTENSITY)
        continue;
      for (guint d = 0; d < n_cols; d++)
        {
          const CsvColumn *o = &g_array_index (layout->columns, CsvColumn, d);
          has_au |= o->kind == CSV_AU && o->au == col->au;
        }
      if (!has_au)
        {
          parse_error (error, r->name, r->line, g_array_index (fields, Field, c).column,
                       "column AU%02d_i has no AU%02d column", col->au, col->au);
          return FALSE;
        }
    }
  return TRUE;
}

/* A quoted field's text with "" turned back into ". */
static char *
field_unquote (const Field *f)
{
  GString *s = g_string_sized_new (f->len);

  for (gsize i = 0; i < f->len; i++)
    {
      g_string_append_c (s, f->text[i]);
      if (f->quoted && f->text[i] == '"' && i + 1 < f->len && f->text[i + 1] == '"')
        i++;
    }
  return g_string_free (s, FALSE);
}

/* The row's video: a number (video column), or a file name and hash.
 * Sets *key and *sha (interned in the file), or fails with the column. */
static gboolean
csv_row_video (Reader          *r,
               FacetLabelFile  *file,
               const CsvLayout *layout,
               GArray          *fields,
               const char     **key,
               const char     **sha,
               GError         **error)
{
  gint64 v;

  *key = *sha = NULL;
  if (layout->video_col >= 0)
    {
      Field *f = &g_array_index (fields, Field, layout->video_col);
      char buf[32];
      if (!field_int (f, 1, G_MAXINT32, &v))
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column, "video “%s” is not a video number", q);
          return FALSE;
        }
      g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, v);
      *key = g_string_chunk_insert_const (file->keys, buf);
    }
  if (layout->file_col >= 0)
    {
      Field *f = &g_array_index (fields, Field, layout->file_col);
      g_autofree char *name = NULL;
      if (f->len == 0 || f->len > MAX_FILE_NAME_BYTES)
        {
          parse_error (error, r->name, r->line, f->column, f->len == 0
                       ? "the file column is empty (the video's file name)"
                       : "the file name is longer than %d bytes", MAX_FILE_NAME_BYTES);
          return FALSE;
        }
      name = field_unquote (f);
      *key = g_string_chunk_insert_const (file->keys, name);
    }
  if (layout->sha_col >= 0)
    {
      Field *f = &g_array_index (fields, Field, layout->sha_col);
      gboolean hex = f->len == 64;
      for (gsize i = 0; hex && i < f->len; i++)
        hex = g_ascii_isxdigit (f->text[i]);
      if (f->len > 0 && !hex)
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column,
                       "sha256 “%s” is not a SHA-256 (64 hex digits) or empty", q);
          return FALSE;
        }
      if (f->len > 0)
        {
          g_autofree char *lower = g_ascii_strdown (f->text, (gssize) f->len);
          *sha = g_string_chunk_insert_const (file->keys, lower);
        }
    }
  return TRUE;
}

/* One AU or intensity cell into state[au] / intensity[au]. */
static gboolean
csv_cell (Reader          *r,
          const CsvColumn *col,
          const Field     *f,
          int             *state,
          float           *intensity,
          GError         **error)
{
  gint64 v;

  if (col->kind == CSV_AU)
    {
      if (f->len == 0)
        state[col->au] = FACET_LABEL_UNSET;
      else if (field_whole (f, 0, 9, &v) && (v == 0 || v == 1 || v == 9))
        state[col->au] = v == 1 ? FACET_LABEL_PRESENT
                         : v == 0 ? FACET_LABEL_ABSENT : FACET_LABEL_NOT_CODABLE;
      else
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column,
                       "AU%02d is “%s”: expected 1 (present), 0 (absent), 9 (not codable) "
                       "or nothing", col->au, q);
          return FALSE;
        }
    }
  else if (col->kind == CSV_INTENSITY && f->len == 1
           && !isnan (facet_intensity_from_letter (f->text[0])))
    /* A FACS letter, as coders write them in spreadsheets. */
    intensity[col->au] = facet_intensity_from_letter (f->text[0]);
  else if (col->kind == CSV_INTENSITY && f->len > 0
           && !field_float (f, 0.0, 1.0, &intensity[col->au]))
    {
      g_autofree char *q = quote (f->text, f->len);
      parse_error (error, r->name, r->line, f->column,
                   "AU%02d_i is “%s”: expected an intensity from 0 to 1, a FACS letter A-E, or "
                   "nothing", col->au, q);
      return FALSE;
    }
  return TRUE;
}

/* One data row: its video, frame and every AU cell. */
static gboolean
csv_row (Reader          *r,
         FacetLabelFile  *file,
         const CsvLayout *layout,
         GArray          *fields,
         GHashTable      *seen,
         int             *state,
         float           *intensity,
         GError         **error)
{
  guint n_cols = layout->columns->len, first_line;
  g_autofree char *seen_key = NULL;
  const char *key, *sha;
  gint64 frame;
  Field *f;

  if (fields->len != n_cols)
    {
      parse_error (error, r->name, r->line, 1, "%u fields where the header has %u", fields->len,
                   n_cols);
      return FALSE;
    }
  if (!csv_row_video (r, file, layout, fields, &key, &sha, error))
    return FALSE;
  f = &g_array_index (fields, Field, layout->frame_col);
  if (!field_int (f, 0, G_MAXINT32, &frame))
    {
      g_autofree char *q = quote (f->text, f->len);
      parse_error (error, r->name, r->line, f->column,
                   "frame “%s” is not a frame number (0, 1, 2, ...)", q);
      return FALSE;
    }
  seen_key = g_strconcat (key ? key : "", "\n", sha ? sha : "", NULL);
  if (!first_time (seen, seen_key, frame, r->line, &first_line))
    {
      parse_error (error, r->name, r->line, f->column,
                   "frame %" G_GINT64_FORMAT " appears twice (also on line %u)", frame, first_line);
      return FALSE;
    }
  for (int a = 0; a < 100; a++)
    state[a] = -1, intensity[a] = NAN;
  for (guint c = 0; c < n_cols; c++)
    if (!csv_cell (r, &g_array_index (layout->columns, CsvColumn, c),
                   &g_array_index (fields, Field, c), state, intensity, error))
      return FALSE;
  for (guint c = 0; c < n_cols; c++)
    {
      const CsvColumn *col = &g_array_index (layout->columns, CsvColumn, c);
      if (col->kind == CSV_INTENSITY && !isnan (intensity[col->au])
          && state[col->au] == FACET_LABEL_UNSET)
        {
          parse_error (error, r->name, r->line, g_array_index (fields, Field, c).column,
                       "AU%02d_i has an intensity but AU%02d has no label", col->au, col->au);
          return FALSE;
        }
    }
  for (guint c = 0; c < n_cols; c++)
    {
      const CsvColumn *col = &g_array_index (layout->columns, CsvColumn, c);
      if (col->kind == CSV_AU && state[col->au] > FACET_LABEL_UNSET)
        {
          add_label (file, key, r->line, frame, col->au, state[col->au], intensity[col->au]);
          g_array_index (file->labels, FacetParsedLabel, file->labels->len - 1).video_sha256 = sha;
        }
    }
  return TRUE;
}

static gboolean
parse_csv (Reader         *r,
           FacetLabelFile *file,
           GError        **error)
{
  g_autoptr (GArray) fields = g_array_new (FALSE, FALSE, sizeof (Field));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree float *intensity = g_new (float, 100);
  g_autofree int *state = g_new (int, 100);
  CsvLayout layout = { NULL, -1, -1, -1, -1 };
  g_autoptr (GArray) columns = layout.columns = g_array_new (FALSE, TRUE, sizeof (CsvColumn));
  const char *line;
  gsize len;

  if (!read_header (r, "frame,AU01,...", fields, error))
    return FALSE;
  if (!csv_read_columns (r, fields, &layout, error)
      || !csv_check_columns (r, fields, &layout, error))
    return FALSE;
  file->key_kind = layout.file_col >= 0 ? FACET_LABEL_KEY_FILE
                   : layout.video_col >= 0 ? FACET_LABEL_KEY_NUMBER : FACET_LABEL_KEY_NONE;

  while (next_line (r, &line, &len, error))
    {
      if (line == NULL)
        return FALSE;
      if (blank (line, len))
        continue;
      split_fields (line, len, fields);
      if (!csv_row (r, file, &layout, fields, seen, state, intensity, error))
        return FALSE;
    }
  return error == NULL || *error == NULL;
}

/* ---- FMAE-IAT JSON lines ------------------------------------------------------------ *
 * {"img_path": "2F01_T1/frame_123.jpg", "AUs": [1, 999, 4, ...]} per line:
 * the folder names the video, frame_N counts from 1 (frame N - 1 here),
 * listed AUs are present, the other AUs of the set absent; 999 fills.
 * The same objects as one JSON array (pretty-printed or not) are read too. */

typedef struct
{
  const char *key;
  guint       line;
  gint64      frame;
  GArray     *aus;
  guint       aus_column;
} FmaeLine;

static void
fmae_line_clear (gpointer data)
{
  FmaeLine *l = data;
  g_clear_pointer (&l->aus, g_array_unref);
}

/* json-glib says "<data>:LINE:COL: message"; keep the line and column. */
static void
json_error_position (const GError *e,
                     guint        *line,
                     guint        *column)
{
  const char *p = strstr (e->message, ">:");
  guint l, c;

  if (p != NULL && sscanf (p + 2, "%u:%u", &l, &c) == 2)
    *line = l, *column = c;
}

static gboolean
parse_img_path (const char  *text,
                char       **folder,
                gint64      *frame)
{
  g_autofree char *path = g_strdup (text), *base = NULL, *dir = NULL;
  const char *digits, *dot;
  Field f;

  /* Written on Windows: "F001\\frame_1.jpg". */
  g_strdelimit (path, "\\", '/');
  base = g_path_get_basename (path);
  dir = g_path_get_dirname (path);
  if (!g_str_has_prefix (base, "frame_"))
    return FALSE;
  digits = base + 6;
  dot = strrchr (digits, '.');
  if (dot == NULL || dot == digits)
    return FALSE;
  for (const char *p = digits; p < dot; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  f = (Field) { digits, (gsize) (dot - digits), 1, FALSE };
  if (!field_int (&f, 1, G_MAXINT32, frame))
    return FALSE;
  *frame -= 1;
  if (g_str_equal (dir, ".") || g_str_equal (dir, "/"))
    *folder = NULL;
  else
    *folder = g_path_get_basename (dir);
  return TRUE;
}

/* Where a member's name is in a line (for columns); 1 when unknown. */
static guint
member_column (const char *line,
               gsize       len,
               const char *member)
{
  const char *at = line ? g_strstr_len (line, (gssize) len, member) : NULL;

  return at ? (guint) (at - line) + 1 : 1;
}

/* One object {"img_path": ..., "AUs": [...]} from @line (of @text, NULL
 * for a multi-line array item) into @lines. */
static gboolean
fmae_object (Reader         *r,
             FacetLabelFile *file,
             JsonNode       *root,
             guint           line,
             const char     *text,
             gsize           len,
             GArray         *lines,
             GHashTable     *seen,
             gboolean       *fillers,
             GError        **error)
{
  g_autofree char *folder = NULL;
  FmaeLine l = { 0 };
  JsonObject *obj;
  JsonNode *node;
  JsonArray *aus;
  guint first_line;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      parse_error (error, r->name, line, 1, "expected an object {\"img_path\": ..., \"AUs\": [...]}");
      return FALSE;
    }
  obj = json_node_get_object (root);
  node = json_object_get_member (obj, "img_path");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      parse_error (error, r->name, line, 1, "no \"img_path\" string");
      return FALSE;
    }
  if (!parse_img_path (json_node_get_string (node), &folder, &l.frame))
    {
      const char *path = json_node_get_string (node);
      g_autofree char *q = quote (path, strlen (path));
      parse_error (error, r->name, line, member_column (text, len, "\"img_path\""),
                   "img_path “%s” is not FOLDER/frame_N.jpg (N from 1)", q);
      return FALSE;
    }
  l.aus_column = member_column (text, len, "\"AUs\"");
  node = json_object_get_member (obj, "AUs");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      parse_error (error, r->name, line, l.aus_column, "no \"AUs\" list");
      return FALSE;
    }
  aus = json_node_get_array (node);
  if (json_array_get_length (aus) > 1000)
    {
      parse_error (error, r->name, line, l.aus_column, "the AU list is too long");
      return FALSE;
    }
  l.aus = g_array_new (FALSE, FALSE, sizeof (int));
  l.line = line;
  l.key = folder ? g_string_chunk_insert_const (file->keys, folder) : NULL;
  g_array_append_val (lines, l);
  for (guint i = 0; i < json_array_get_length (aus); i++)
    {
      JsonNode *e = json_array_get_element (aus, i);
      gint64 au;
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
          || (au = json_node_get_int (e), au != FMAE_ABSENT && !store_au_valid ((int) au)))
        {
          parse_error (error, r->name, line, l.aus_column,
                       "AUs item %u is not an AU number (1-99, or 999 for absent)", i + 1);
          return FALSE;
        }
      if (au == FMAE_ABSENT)
        *fillers = TRUE;
      else
        {
          int value = (int) au;
          g_array_append_val (g_array_index (lines, FmaeLine, lines->len - 1).aus, value);
        }
    }
  if (!first_time (seen, l.key, l.frame, line, &first_line))
    {
      parse_error (error, r->name, line, 1,
                   "frame_%" G_GINT64_FORMAT " of “%s” appears twice (also on line %u)",
                   l.frame + 1, l.key ? l.key : "", first_line);
      return FALSE;
    }
  return TRUE;
}

/* Where each item of the top-level array starts: json-glib tells the line
 * only while it parses, so its signals note them. */
typedef struct
{
  int     depth;
  guint   pending;
  GArray *starts; /* guint line per item */
} ArrayLines;

static void
on_container_start (JsonParser *parser,
                    gpointer    data)
{
  ArrayLines *a = data;

  if (a->depth == 1 && a->pending == 0)
    a->pending = json_parser_get_current_line (parser);
  a->depth++;
}

static void
on_container_end (JsonParser *parser,
                  gpointer    node,
                  gpointer    data)
{
  ((ArrayLines *) data)->depth--;
}

static void
on_array_element (JsonParser *parser,
                  JsonArray  *array,
                  int         index,
                  gpointer    data)
{
  ArrayLines *a = data;
  guint line;

  if (a->depth != 1)
    return;
  line = a->pending ? a->pending : json_parser_get_current_line (parser);
  g_array_append_val (a->starts, line);
  a->pending = 0;
}

/* The whole file as one JSON array of objects. */
static gboolean
fmae_array (Reader         *r,
            FacetLabelFile *file,
            GArray         *lines,
            GHashTable     *seen,
            gboolean       *fillers,
            GError        **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (guint));
  ArrayLines where = { 0, 0, starts };
  const char *end, *data = r->data;
  gsize len = r->len;
  JsonArray *items;

  if (len >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    data += 3, len -= 3; /* a byte order mark */
  if (memchr (data, '\0', len) != NULL || !g_utf8_validate (data, (gssize) len, &end))
    {
      parse_error (error, r->name, 1, 1, "not a text file (NUL bytes or invalid UTF-8)");
      return FALSE;
    }
  g_signal_connect (parser, "array-start", G_CALLBACK (on_container_start), &where);
  g_signal_connect (parser, "object-start", G_CALLBACK (on_container_start), &where);
  g_signal_connect (parser, "array-end", G_CALLBACK (on_container_end), &where);
  g_signal_connect (parser, "object-end", G_CALLBACK (on_container_end), &where);
  g_signal_connect (parser, "array-element", G_CALLBACK (on_array_element), &where);
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      guint line = 1, column = 1;
      json_error_position (local, &line, &column);
      parse_error (error, r->name, line, column, "not JSON: %s", local->message);
      return FALSE;
    }
  r->line = 1;
  for (gsize i = 0; i < r->len; i++)
    r->line += r->data[i] == '\n';
  items = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      guint line = i < starts->len ? g_array_index (starts, guint, i) : 1;
      if (!fmae_object (r, file, json_array_get_element (items, i), line, NULL, 0, lines, seen,
                        fillers, error))
        return FALSE;
    }
  return TRUE;
}

/* One object per line. */
static gboolean
fmae_lines (Reader         *r,
            FacetLabelFile *file,
            GArray         *lines,
            GHashTable     *seen,
            gboolean       *fillers,
            GError        **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *line;
  gsize len;

  while (next_line (r, &line, &len, error))
    {
      g_autoptr (GError) local = NULL;

      if (line == NULL)
        return FALSE;
      if (blank (line, len))
        continue;
      if (!json_parser_load_from_data (parser, line, (gssize) len, &local))
        {
          guint l = 1, column = 1;
          json_error_position (local, &l, &column);
          parse_error (error, r->name, r->line, column, "not JSON: %s", local->message);
          return FALSE;
        }
      if (!fmae_object (r, file, json_parser_get_root (parser), r->line, line, len, lines, seen,
                        fillers, error))
        return FALSE;
    }
  return error == NULL || *error == NULL;
}

static gboolean
parse_fmae_json (Reader                        *r,
                 FacetLabelFile                *file,
                 const FacetLabelImportOptions *options,
                 GError                       **error)
{
  g_autoptr (GArray) lines = g_array_new (FALSE, TRUE, sizeof (FmaeLine));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const int *set = options->au_ids;
  int n_set = options->n_aus;
  gboolean fillers = FALSE, array;
  gsize first = 0;

  g_array_set_clear_func (lines, fmae_line_clear);
  file->key_kind = FACET_LABEL_KEY_NAME;
  file->frame_base = 1;
  if (r->len >= 3 && memcmp (r->data, "\xef\xbb\xbf", 3) == 0)
    first = 3;
  while (first < r->len && g_ascii_isspace (r->data[first]))
    first++;
  array = first < r->len && r->data[first] == '[';
  if (!(array ? fmae_array : fmae_lines) (r, file, lines, seen, &fillers, error))
    return FALSE;

  /* The AUs the file codes: given, or the data set the writer used (BP4D
   * fills absent AUs with 999; DISFA lists only present ones). */
  if (set == NULL)
    set = facet_dataset_aus (fillers ? "BP4D" : "DISFA", &n_set);
  for (guint i = 0; i < lines->len; i++)
    {
      FmaeLine *l = &g_array_index (lines, FmaeLine, i);
      for (guint k = 0; k < l->aus->len; k++)
        {
          int au = g_array_index (l->aus, int, k);
          gboolean known = FALSE;
          for (int s = 0; s < n_set; s++)
            known |= set[s] == au;
          if (!known)
            {
              g_autofree char *list = facet_format_int_list (set, (guint) n_set);
              parse_error (error, r->name, l->line, l->aus_column,
                           "AU %d is not one of the coded AUs (%s; choose them with --aus)", au,
                           list);
              return FALSE;
            }
        }
      for (int s = 0; s < n_set; s++)
        {
          gboolean present = FALSE;
          for (guint k = 0; k < l->aus->len; k++)
            present |= g_array_index (l->aus, int, k) == set[s];
          add_label (file, l->key, l->line, l->frame, set[s],
                     present ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT, NAN);
        }
    }
  return TRUE;
}

/* ---- BP4D AU_OCC ---------------------------------------------------------------------- *
 * A header of column numbers (0 = the frame, N = AU N), then per frame
 * (counted from 1) 1 present, 0 absent, 9 unknown (not codable). */

static gboolean
parse_bp4d (Reader                        *r,
            FacetLabelFile                *file,
            const FacetLabelImportOptions *options,
            GError                       **error)
{
  g_autoptr (GArray) fields = g_array_new (FALSE, FALSE, sizeof (Field));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree int *col_of = g_new0 (int, 100); /* AU -> column + 1 */
  const int *set = options->au_ids;
  int n_set = options->n_aus;
  const char *line;
  gsize len;
  guint n_cols;

  file->frame_base = 1;
  if (set == NULL)
    set = facet_dataset_aus ("BP4D", &n_set);
  if (!read_header (r, "0,1,2,...", fields, error))
    return FALSE;
  n_cols = fields->len;
  for (guint c = 1; c < n_cols; c++)
    {
      Field *f = &g_array_index (fields, Field, c);
      gint64 au;
      if (!field_whole (f, 0, 99, &au))
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column,
                       "header column “%s” is not an AU number", q);
          return FALSE;
        }
      if (au >= 1 && col_of[au] == 0)
        col_of[au] = (int) c + 1;
    }
  for (int s = 0; s < n_set; s++)
    if (set[s] < 1 || set[s] > 99 || col_of[set[s]] == 0)
      {
        parse_error (error, r->name, r->line, 1, "no column for AU %d", set[s]);
        return FALSE;
      }

  while (next_line (r, &line, &len, error))
    {
      gint64 frame, v;
      guint first_line;
      Field *f;

      if (line == NULL)
        return FALSE;
      if (blank (line, len))
        continue;
      split_fields (line, len, fields);
      if (fields->len != n_cols)
        {
          parse_error (error, r->name, r->line, 1, "%u fields where the header has %u", fields->len,
                       n_cols);
          return FALSE;
        }
      f = &g_array_index (fields, Field, 0);
      if (!field_whole (f, 1, G_MAXINT32, &frame))
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column,
                       "frame “%s” is not a frame number (BP4D counts from 1)", q);
          return FALSE;
        }
      frame -= 1;
      if (!first_time (seen, NULL, frame, r->line, &first_line))
        {
          parse_error (error, r->name, r->line, f->column,
                       "frame %" G_GINT64_FORMAT " appears twice (also on line %u)", frame + 1,
                       first_line);
          return FALSE;
        }
      for (int s = 0; s < n_set; s++)
        {
          f = &g_array_index (fields, Field, col_of[set[s]] - 1);
          if (!field_whole (f, 0, 9, &v) || (v != 0 && v != 1 && v != 9))
            {
              g_autofree char *q = quote (f->text, f->len);
              parse_error (error, r->name, r->line, f->column,
                           "AU %d is “%s”: expected 1, 0 or 9", set[s], q);
              return FALSE;
            }
          add_label (file, NULL, r->line, frame, set[s],
                     v == 1 ? FACET_LABEL_PRESENT : v == 0 ? FACET_LABEL_ABSENT
                     : FACET_LABEL_NOT_CODABLE, NAN);
        }
    }
  return error == NULL || *error == NULL;
}

/* ---- DISFA ------------------------------------------------------------------------------ *
 * SN001_au12.txt: "frame,intensity" per line, frame from 1, intensity 0-5;
 * present from @min_intensity (2, as FMAE-IAT). The subject in the file
 * name is the video key. */

static gboolean
disfa_name (const char *path,
            char      **subject,
            int        *au)
{
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  char *us;
  Field f;
  gint64 v;

  if (dot != NULL)
    *dot = '\0';
  us = strrchr (base, '_');
  if (us == NULL || us == base || g_ascii_strncasecmp (us + 1, "au", 2) != 0)
    return FALSE;
  f = (Field) { us + 3, strlen (us + 3), 1 };
  for (gsize i = 0; i < f.len; i++)
    if (!g_ascii_isdigit (f.text[i]))
      return FALSE;
  if (!field_int (&f, 1, 99, &v))
    return FALSE;
  *us = '\0';
  *subject = g_strdup (base);
  *au = (int) v;
  return TRUE;
}

static gboolean
parse_disfa (Reader                        *r,
             FacetLabelFile                *file,
             const FacetLabelImportOptions *options,
             GError                       **error)
{
  g_autoptr (GArray) fields = g_array_new (FALSE, FALSE, sizeof (Field));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *subject = NULL;
  int au, min = options->min_intensity > 0 ? options->min_intensity : 2;
  gint64 expected = 1;
  const char *key, *line;
  gsize len;

  if (!disfa_name (r->name, &subject, &au))
    {
      parse_error (error, r->name, 1, 1,
                   "a DISFA label file is named SUBJECT_auN.txt (e.g. SN001_au12.txt)");
      return FALSE;
    }
  key = g_string_chunk_insert_const (file->keys, subject);
  file->key_kind = FACET_LABEL_KEY_NAME;
  file->frame_base = 1;
  while (next_line (r, &line, &len, error))
    {
      gint64 frame, v;
      guint first_line;
      Field *f;

      if (line == NULL)
        return FALSE;
      if (blank (line, len))
        continue;
      split_fields (line, len, fields);
      if (fields->len != 2)
        {
          parse_error (error, r->name, r->line, 1, "%u fields; expected frame,intensity",
                       fields->len);
          return FALSE;
        }
      f = &g_array_index (fields, Field, 0);
      if (!field_whole (f, 1, G_MAXINT32, &frame))
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column,
                       "frame “%s” is not a frame number (DISFA counts from 1)", q);
          return FALSE;
        }
      if (!first_time (seen, NULL, frame, r->line, &first_line))
        {
          parse_error (error, r->name, r->line, f->column,
                       "frame %" G_GINT64_FORMAT " appears twice (also on line %u)", frame,
                       first_line);
          return FALSE;
        }
      /* DISFA writes every frame, in order: a gap is a lost line. */
      if (frame != expected)
        {
          parse_error (error, r->name, r->line, f->column, frame > expected
                       ? "frame %" G_GINT64_FORMAT " where frame %" G_GINT64_FORMAT " was expected "
                         "(a line is missing)"
                       : "frame %" G_GINT64_FORMAT " where frame %" G_GINT64_FORMAT " was expected "
                         "(out of order)", frame, expected);
          return FALSE;
        }
      expected++;
      f = &g_array_index (fields, Field, 1);
      if (!field_whole (f, 0, 5, &v))
        {
          g_autofree char *q = quote (f->text, f->len);
          parse_error (error, r->name, r->line, f->column,
                       "intensity “%s” is not 0-5", q);
          return FALSE;
        }
      add_label (file, key, r->line, frame - 1, au,
                 v >= min ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT, (float) v / 5.0f);
    }
  return error == NULL || *error == NULL;
}

FacetLabelFile *
facet_label_file_parse (const char                    *data,
                        gsize                          length,
                        const char                    *name,
                        const FacetLabelImportOptions *options,
                        GError                       **error)
{
  g_autoptr (FacetLabelFile) file = NULL;
  GError *local = NULL;
  Reader r = { 0 };
  gboolean ok = FALSE;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (options != NULL, NULL);

  file = label_file_new (name ? name : "labels");
  r.name = file->name;
  r.data = data ? data : "";
  r.len = length;
  if (options->au_ids != NULL)
    for (int i = 0; i < options->n_aus; i++)
      if (!store_au_valid (options->au_ids[i]))
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                       "AU %d is not a FACS action unit number (1-99)", options->au_ids[i]);
          return NULL;
        }
  switch (options->format)
    {
    case FACET_LABEL_FORMAT_CSV:
      ok = parse_csv (&r, file, &local);
      break;
    case FACET_LABEL_FORMAT_FMAE_JSON:
      ok = parse_fmae_json (&r, file, options, &local);
      break;
    case FACET_LABEL_FORMAT_BP4D:
      ok = parse_bp4d (&r, file, options, &local);
      break;
    case FACET_LABEL_FORMAT_DISFA:
      ok = parse_disfa (&r, file, options, &local);
      break;
    default:
      g_set_error (&local, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID, "unknown label format %d",
                   (int) options->format);
      break;
    }
  if (!ok || local != NULL)
    {
      if (local == NULL)
        parse_error (&local, file->name, r.line, 1, "malformed");
      g_propagate_error (error, local);
      return NULL;
    }
  return g_steal_pointer (&file);
}

/* ---- Matching to the project and writing -------------------------------------------------- */

static char *
file_stem (const char *path)
{
  char *base = g_path_get_basename (path);
  char *dot;

  /* "x.labels.csv" -> "x" (the synthetic generator's pair). */
  if (g_str_has_suffix (base, ".labels.csv"))
    base[strlen (base) - strlen (".labels.csv")] = '\0';
  else if ((dot = strrchr (base, '.')) != NULL && dot != base)
    *dot = '\0';
  return base;
}

typedef struct
{
  GPtrArray  *videos;  /* FacetStoreVideo */
  GHashTable *by_stem; /* stem -> FacetStoreVideo (first added wins) */
} VideoIndex;

static void
video_index_clear (VideoIndex *index)
{
  g_clear_pointer (&index->by_stem, g_hash_table_unref);
  g_clear_pointer (&index->videos, g_ptr_array_unref);
}

/* Videos a name key names: a file stem ("2F01_T1", also DISFA's
 * "LeftVideoSN001_comp" for "LeftVideoSN001"), or for DISFA every video
 * whose name holds the subject. */
static GPtrArray *
match_name (VideoIndex      *index,
            const char      *key,
            FacetLabelFormat format)
{
  GPtrArray *out = g_ptr_array_new ();
  FacetStoreVideo *v;

  if ((v = g_hash_table_lookup (index->by_stem, key)) != NULL)
    g_ptr_array_add (out, v);
  else
    {
      g_autofree char *comp = g_strconcat (key, "_comp", NULL);
      if ((v = g_hash_table_lookup (index->by_stem, comp)) != NULL)
        g_ptr_array_add (out, v);
    }
  if (out->len == 0 && format == FACET_LABEL_FORMAT_DISFA && *key != '\0')
    for (guint i = 0; i < index->videos->len; i++)
      {
        FacetStoreVideo *w = index->videos->pdata[i];
        g_autofree char *stem = file_stem (w->path);
        if (strstr (stem, key) != NULL)
          g_ptr_array_add (out, w);
      }
  return out;
}

/* The video a csv row names by file name and content hash: the hash
 * decides (a renamed file is still the same video); without one the name
 * must be unique in the project. */
static GPtrArray *
match_file (VideoIndex           *index,
            const FacetLabelFile *file,
            const FacetParsedLabel *p,
            GError              **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new ();
  g_autofree char *q = quote (p->video_key, strlen (p->video_key));
  /* A name written with its folder ("P01/clip.mp4") counts by its last part. */
  g_autofree char *want = g_path_get_basename (p->video_key);

  for (guint i = 0; i < index->videos->len; i++)
    {
      FacetStoreVideo *v = index->videos->pdata[i];
      g_autofree char *base = g_path_get_basename (v->path);
      if (p->video_sha256 != NULL ? g_strcmp0 (v->sha256, p->video_sha256) == 0
                                  : g_str_equal (base, want))
        g_ptr_array_add (out, v);
    }
  if (out->len == 0 && p->video_sha256 != NULL)
    g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                 "%s:%u: the project has no video with the content of “%s” (sha256 %.12s…); "
                 "add that video first, or pass --video to put the labels on another",
                 file->name, p->line, q, p->video_sha256);
  else if (out->len == 0)
    g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                 "%s:%u: the project has no video called “%s”; add it first, or pass --video",
                 file->name, p->line, q);
  else if (out->len > 1)
    g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                 "%s:%u: videos %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT " are both called "
                 "“%s” and the file has no sha256 to tell them apart; pass --video",
                 file->name, p->line, ((FacetStoreVideo *) out->pdata[0])->id,
                 ((FacetStoreVideo *) out->pdata[1])->id, q);
  return out->len == 1 ? g_steal_pointer (&out) : NULL;
}

/* A file that keys rows by video (file names or numbers) must name one
 * video when --video forces one, and an older Facet's video numbers are
 * only trusted for one video: they follow the order videos were added. */
static gboolean
check_keys (const FacetLabelFile          *file,
            const FacetLabelImportOptions *options,
            GError                       **error)
{
  const FacetParsedLabel *first = NULL;

  if (file->key_kind != FACET_LABEL_KEY_FILE && file->key_kind != FACET_LABEL_KEY_NUMBER)
    return TRUE;
  for (guint i = 0; i < file->labels->len; i++)
    {
      const FacetParsedLabel *p = &g_array_index (file->labels, FacetParsedLabel, i);
      if (first == NULL)
        first = p;
      else if (p->video_key != first->video_key || p->video_sha256 != first->video_sha256)
        {
          if (options->video_id != 0)
            g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                         "%s:%u: the file holds labels of several videos; --video puts one "
                         "video's labels on another (import without --video)", file->name,
                         p->line);
          else if (file->key_kind == FACET_LABEL_KEY_NUMBER)
            g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                         "%s:%u: the file names its videos only by number (an older Facet's "
                         "export); numbers follow the order videos were added, so they may "
                         "mean other videos here: export the labels again with this Facet",
                         file->name, p->line);
          else
            continue;
          return FALSE;
        }
    }
  return TRUE;
}

/* The videos a label goes to (cached per key), or NULL with an error. */
static GPtrArray *
label_targets (FacetStore                    *store,
               VideoIndex                    *index,
               const FacetLabelFile          *file,
               const FacetParsedLabel        *p,
               const char                    *path,
               const FacetLabelImportOptions *options,
               GHashTable                    *cache,
               GError                       **error)
{
  g_autofree char *stem = p->video_key ? NULL : file_stem (path);
  g_autofree char *key = g_strconcat (p->video_key ? p->video_key : stem, "\n",
                                      p->video_sha256 ? p->video_sha256 : "", NULL);
  GPtrArray *targets = g_hash_table_lookup (cache, key);

  if (targets != NULL)
    return targets;
  if (file->key_kind == FACET_LABEL_KEY_FILE && p->video_key != NULL)
    targets = match_file (index, file, p, error);
  else if (file->key_kind == FACET_LABEL_KEY_NUMBER && p->video_key != NULL)
    {
      gint64 number = g_ascii_strtoll (p->video_key, NULL, 10);
      targets = g_ptr_array_new ();
      for (guint i = 0; i < index->videos->len; i++)
        if (((FacetStoreVideo *) index->videos->pdata[i])->id == number)
          g_ptr_array_add (targets, index->videos->pdata[i]);
      if (targets->len == 0)
        store_set_not_found (store, "video", number, error);
    }
  else
    {
      /* A name from the file, else the label file's own name, else the
       * project's only video. */
      const char *name = p->video_key ? p->video_key : stem;
      targets = match_name (index, name, options->format);
      if (targets->len == 0 && p->video_key == NULL && index->videos->len == 1)
        g_ptr_array_add (targets, index->videos->pdata[0]);
      if (targets->len == 0)
        {
          g_autofree char *q = quote (name, strlen (name));
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                       "%s:%u: no video of the project matches “%s”; pass --video", file->name,
                       p->line, q);
        }
    }
  if (targets != NULL && targets->len == 0)
    g_clear_pointer (&targets, g_ptr_array_unref);
  if (targets != NULL)
    g_hash_table_insert (cache, g_steal_pointer (&key), targets);
  return targets;
}

/* Turns parsed labels into project labels: every key to its videos, every
 * frame checked against the video, all before anything is written. */
static gboolean
resolve_file (FacetStore                    *store,
              VideoIndex                    *index,
              const FacetLabelFile          *file,
              const char                    *path,
              const FacetLabelImportOptions *options,
              GArray                        *out,
              GError                       **error)
{
  g_autoptr (GHashTable) cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                        (GDestroyNotify) g_ptr_array_unref);
  g_autoptr (GPtrArray) whole = NULL;

  if (!check_keys (file, options, error))
    return FALSE;
  if (options->video_id != 0)
    {
      whole = g_ptr_array_new ();
      for (guint i = 0; i < index->videos->len; i++)
        if (((FacetStoreVideo *) index->videos->pdata[i])->id == options->video_id)
          g_ptr_array_add (whole, index->videos->pdata[i]);
      if (whole->len == 0)
        {
          store_set_not_found (store, "video", options->video_id, error);
          return FALSE;
        }
    }

  for (guint i = 0; i < file->labels->len; i++)
    {
      const FacetParsedLabel *p = &g_array_index (file->labels, FacetParsedLabel, i);
      GPtrArray *targets = whole;

      if (targets == NULL)
        targets = label_targets (store, index, file, p, path, options, cache, error);
      if (targets == NULL)
        return FALSE;
      for (guint t = 0; t < targets->len; t++)
        {
          FacetStoreVideo *v = targets->pdata[t];
          FacetLabel l = { .video_id = v->id, .frame = p->frame, .au = p->au, .state = p->state,
                           .intensity = p->intensity, .source = FACET_LABEL_SOURCE_IMPORTED };
          if (p->frame >= v->n_frames)
            {
              /* In the file's own counting, so the number is the one on the line. */
              g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                           "%s:%u: frame %" G_GINT64_FORMAT " is outside video %" G_GINT64_FORMAT
                           " (frames %d-%" G_GINT64_FORMAT "%s)", file->name, p->line,
                           p->frame + file->frame_base, v->id, file->frame_base,
                           v->n_frames - 1 + file->frame_base,
                           file->frame_base == 1 ? ", counted from 1 as in the file" : "");
              return FALSE;
            }
          g_array_append_val (out, l);
        }
    }
  return TRUE;
}

static FacetLabelFile *
read_and_parse (const char                    *path,
                const FacetLabelImportOptions *options,
                GError                       **error)
{
  g_autoptr (GMappedFile) map = NULL;
  g_autofree char *display = g_filename_display_name (path);
  GError *local = NULL;

  map = g_mapped_file_new (path, FALSE, &local);
  if (map == NULL)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_IO, "%s: %s", display,
                   local->message);
      g_error_free (local);
      return NULL;
    }
  if (g_mapped_file_get_length (map) > MAX_LABEL_FILE_BYTES)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: larger than 1 GiB; not a label file", display);
      return NULL;
    }
  return facet_label_file_parse (g_mapped_file_get_contents (map), g_mapped_file_get_length (map),
                                 display, options, error);
}

/* The label files to read: DISFA comes as a folder of per-AU files, the
 * others as one file. */
static GPtrArray *
list_label_files (const char                    *path,
                  const FacetLabelImportOptions *options,
                  GError                       **error)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *display = g_filename_display_name (path);
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (paths, g_strdup (path));
      return g_steal_pointer (&paths);
    }
  if (options->format != FACET_LABEL_FORMAT_DISFA)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s is a folder; only the disfa format reads folders (of SNxxx_auN.txt)",
                   display);
      return NULL;
    }
  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_IO, "%s: cannot read the folder",
                   display);
      return NULL;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".txt"))
      g_ptr_array_add (paths, g_build_filename (path, name, NULL));
  g_ptr_array_sort (paths, (GCompareFunc) g_strcmp0);
  if (paths->len == 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                   "%s: no SNxxx_auN.txt files in the folder", display);
      return NULL;
    }
  return g_steal_pointer (&paths);
}

/* DISFA's AU files of one subject cover the same frames: one that stops
 * early was cut short. (Gaps inside a file are found by the parser.) */
static gboolean
check_disfa_lengths (GPtrArray *files,
                     GError   **error)
{
  for (guint i = 0; i < files->len; i++)
    for (guint j = 0; j < files->len; j++)
      {
        const FacetLabelFile *a = files->pdata[i], *b = files->pdata[j];
        const FacetParsedLabel *la, *lb;
        if (a->labels->len == 0 || b->labels->len == 0)
          continue;
        la = &g_array_index (a->labels, FacetParsedLabel, a->labels->len - 1);
        lb = &g_array_index (b->labels, FacetParsedLabel, b->labels->len - 1);
        if (g_strcmp0 (la->video_key, lb->video_key) != 0 || la->frame >= lb->frame)
          continue;
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_PARSE,
                     "%s:%u: ends at frame %" G_GINT64_FORMAT " but %s goes on to frame %"
                     G_GINT64_FORMAT ": the file was cut short", a->name, la->line, la->frame + 1,
                     b->name, lb->frame + 1);
        return FALSE;
      }
  return TRUE;
}

/* Every file parsed and matched to the project's videos, or nothing. */
static GArray *
collect_labels (FacetStore                    *store,
                const char                    *path,
                const FacetLabelImportOptions *options,
                GError                       **error)
{
  g_autoptr (GPtrArray) files =
    g_ptr_array_new_with_free_func ((GDestroyNotify) facet_label_file_free);
  g_autoptr (GPtrArray) paths = list_label_files (path, options, error);
  g_autoptr (GArray) labels = g_array_new (FALSE, FALSE, sizeof (FacetLabel));
  VideoIndex index = { 0 };
  gboolean ok = TRUE;

  if (paths == NULL)
    return NULL;
  for (guint i = 0; i < paths->len; i++)
    {
      FacetLabelFile *f = read_and_parse (paths->pdata[i], options, error);
      if (f == NULL)
        return NULL;
      g_ptr_array_add (files, f);
    }
  if (options->format == FACET_LABEL_FORMAT_DISFA && !check_disfa_lengths (files, error))
    return NULL;

  index.videos = facet_store_list_videos (store, error);
  if (index.videos == NULL)
    return NULL;
  index.by_stem = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < index.videos->len; i++)
    {
      FacetStoreVideo *v = index.videos->pdata[i];
      char *stem = file_stem (v->path);
      if (g_hash_table_contains (index.by_stem, stem))
        g_free (stem);
      else
        g_hash_table_insert (index.by_stem, stem, v);
    }
  for (guint i = 0; ok && i < files->len; i++)
    ok = resolve_file (store, &index, files->pdata[i], paths->pdata[i], options, labels, error);
  video_index_clear (&index);
  return ok ? g_steal_pointer (&labels) : NULL;
}

gint64
facet_store_import_labels_full (FacetStore                    *store,
                                const char                    *path,
                                const FacetLabelImportOptions *options,
                                gint64                        *n_changed,
                                GError                       **error)
{
  g_autoptr (GArray) labels = NULL;
  g_autofree char *description = NULL, *display = NULL;
  gint64 id = -1, changed = 0;

  g_return_val_if_fail (store != NULL && path != NULL && options != NULL, -1);

  labels = collect_labels (store, path, options, error);
  if (labels == NULL)
    return -1;
  display = g_filename_display_name (path);
  description = g_strdup_printf ("import of %s", display);
  store_lock (store);
  if (store_begin (store, error))
    {
      gint64 layer = 0;
      if (!store_current_layer (store, TRUE, &layer, error))
        id = -1;
      else
        id = store_write_labels_locked (store, layer, (FacetLabel *) labels->data, labels->len,
                                        FACET_CHANGESET_IMPORT, description, NULL, error);
      if (id > 0)
        {
          /* What the change set holds: the labels that differed. */
          if (store_query (store, "SELECT n_changes FROM changesets WHERE id = ?",
                           store_row_int64, &changed, error, STORE_INT (id)) <= 0)
            id = -1;
        }
      if (id < 0)
        store_rollback (store);
      else if (!store_commit (store, error))
        id = -1;
    }
  store_unlock_and_notify (store);
  if (n_changed != NULL)
    *n_changed = id < 0 ? 0 : changed;
  return id < 0 ? -1 : (gint64) labels->len;
}

gint64
facet_store_import_labels (FacetStore                    *store,
                           const char                    *path,
                           const FacetLabelImportOptions *options,
                           GError                       **error)
{
  return facet_store_import_labels_full (store, path, options, NULL, error);
}

/* ---- Export in the csv layout ------------------------------------------------------------------ */

/* The shortest decimal that reads back as the same float (0.4, not
 * 0.400000006). */
static void
append_float (GString *out,
              float    v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (int digits = 6; digits <= 9; digits++)
    {
      char format[8];
      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (buf, sizeof buf, format, (double) v);
      if ((float) g_ascii_strtod (buf, NULL) == v)
        break;
    }
  g_string_append (out, buf);
}

/* A field as CSV: quoted when it holds a comma, quote or surrounding space
 * (line breaks cannot be read back by line; they become spaces). */
static void
append_csv_field (GString    *out,
                  const char *text)
{
  gsize len = strlen (text);
  gboolean plain = len > 0 && !g_ascii_isspace (text[0]) && !g_ascii_isspace (text[len - 1])
                   && strpbrk (text, ",\"\r\n") == NULL;

  if (plain)
    {
      g_string_append (out, text);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = text; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p == '\r' || *p == '\n' ? ' ' : *p);
    }
  g_string_append_c (out, '"');
}

static void
append_label_cells (GString          *out,
                    const FacetLabel *row,
                    guint             n_row,
                    const int        *aus,
                    guint             n_aus)
{
  guint k = 0;

  for (guint a = 0; a < n_aus; a++)
    {
      const FacetLabel *l = NULL;
      while (k < n_row && row[k].au < aus[a])
        k++;
      if (k < n_row && row[k].au == aus[a])
        l = &row[k];
      g_string_append_c (out, ',');
      if (l != NULL)
        g_string_append (out, l->state == FACET_LABEL_PRESENT ? "1"
                              : l->state == FACET_LABEL_ABSENT ? "0" : "9");
      g_string_append_c (out, ',');
      if (l != NULL && !isnan (l->intensity))
        append_float (out, l->intensity);
    }
}

/* Every labelled frame of one video, naming it by file name and hash. */
static gboolean
append_video_labels (FacetStore            *store,
                     GString               *out,
                     const FacetStoreVideo *v,
                     const int             *aus,
                     guint                  n_aus,
                     GError               **error)
{
  g_autoptr (GArray) labels = facet_store_get_labels (store, v->id, 0, 0, -1, error);
  g_autoptr (GString) prefix = g_string_new (NULL);
  g_autofree char *base = g_path_get_basename (v->path);
  guint start = 0;

  if (labels == NULL)
    return FALSE;
  append_csv_field (prefix, base);
  g_string_append_printf (prefix, ",%s,", v->sha256 ? v->sha256 : "");
  while (start < labels->len)
    {
      const FacetLabel *row = &g_array_index (labels, FacetLabel, start);
      guint n = 1;
      while (start + n < labels->len
             && g_array_index (labels, FacetLabel, start + n).frame == row->frame)
        n++;
      g_string_append_len (out, prefix->str, (gssize) prefix->len);
      g_string_append_printf (out, "%" G_GINT64_FORMAT, row->frame);
      append_label_cells (out, row, n, aus, n_aus);
      g_string_append_c (out, '\n');
      start += n;
    }
  return TRUE;
}

gboolean
facet_store_export_labels (FacetStore *store,
                           const char *path,
                           gint64      video_id,
                           GError    **error)
{
  g_autoptr (GPtrArray) videos = NULL;
  g_autoptr (GArray) counts = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree int *aus = NULL;
  guint n_aus;

  g_return_val_if_fail (store != NULL && path != NULL, FALSE);

  videos = facet_store_list_videos (store, error);
  if (videos == NULL)
    return FALSE;
  if (video_id != 0)
    {
      guint keep = G_MAXUINT;
      for (guint i = 0; i < videos->len; i++)
        if (((FacetStoreVideo *) videos->pdata[i])->id == video_id)
          keep = i;
      if (keep == G_MAXUINT)
        {
          store_set_not_found (store, "video", video_id, error);
          return FALSE;
        }
      {
        FacetStoreVideo *only = g_ptr_array_steal_index (videos, keep);
        g_ptr_array_set_size (videos, 0);
        g_ptr_array_add (videos, only);
      }
    }
  counts = facet_store_count_labels (store, video_id, error);
  if (counts == NULL)
    return FALSE;
  n_aus = counts->len;
  aus = g_new (int, MAX (n_aus, 1));
  for (guint a = 0; a < n_aus; a++)
    aus[a] = g_array_index (counts, FacetLabelCount, a).au;
  if (n_aus == 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                   "%s: no labels to export", store->path);
      return FALSE;
    }

  g_string_append (out, "file,sha256,frame");
  for (guint a = 0; a < n_aus; a++)
    g_string_append_printf (out, ",AU%02d,AU%02d_i", aus[a], aus[a]);
  g_string_append_c (out, '\n');
  for (guint i = 0; i < videos->len; i++)
    if (!append_video_labels (store, out, videos->pdata[i], aus, n_aus, error))
      return FALSE;
  return facet_write_file_atomic (path, out->str, out->len, error);
}
