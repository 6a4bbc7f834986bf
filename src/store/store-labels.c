/* store-labels.c — labels, their append-only history, change sets, and
 * undo/redo on top of the history
 *
 * Each cell (video, frame, AU) holds at most one label row. Every change to
 * a cell appends a history row with the state before and after, tagged with
 * its change set; undo and redo replay a change set's rows backwards or
 * forwards as new change sets, so the history itself is never rewritten. */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <string.h>

#include "store-private.h"

const char *
facet_label_state_to_string (FacetLabelState state)
{
  switch (state)
    {
    case FACET_LABEL_PRESENT:
      return "present";
    case FACET_LABEL_ABSENT:
      return "absent";
    case FACET_LABEL_NOT_CODABLE:
      return "not-codable";
    case FACET_LABEL_UNSET:
    default:
      return "unset";
    }
}

gboolean
facet_label_state_from_string (const char      *text,
                               FacetLabelState *state)
{
  static const FacetLabelState all[] = { FACET_LABEL_UNSET, FACET_LABEL_PRESENT,
                                         FACET_LABEL_ABSENT, FACET_LABEL_NOT_CODABLE };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (g_strcmp0 (text, facet_label_state_to_string (all[i])) == 0)
      {
        *state = all[i];
        return TRUE;
      }
  return FALSE;
}

const char *
facet_label_source_to_string (FacetLabelSource source)
{
  switch (source)
    {
    case FACET_LABEL_SOURCE_IMPORTED:
      return "imported";
    case FACET_LABEL_SOURCE_ACCEPTED:
      return "accepted-prediction";
    case FACET_LABEL_SOURCE_HUMAN:
    default:
      return "human";
    }
}

void
facet_changeset_free (FacetChangeset *changeset)
{
  if (changeset == NULL)
    return;
  g_free (changeset->description);
  g_free (changeset);
}

/* The content of one cell: state 0 means no row. */
typedef struct
{
  int      state;
  gboolean has_intensity;
  double   intensity;
  int      source;
  gint64   coder_id;
  double   time;
} Cell;

static gboolean
cell_equal (const Cell *a,
            const Cell *b)
{
  if (a->state != b->state)
    return FALSE;
  if (a->state == FACET_LABEL_UNSET)
    return TRUE;
  return a->source == b->source && a->has_intensity == b->has_intensity
         && (!a->has_intensity || a->intensity == b->intensity);
}

/* Columns state, intensity, source, coder_id, time from @col on. */
static void
cell_from_row (sqlite3_stmt *row,
               int           col,
               Cell         *cell)
{
  cell->state = sqlite3_column_int (row, col);
  cell->has_intensity = sqlite3_column_type (row, col + 1) != SQLITE_NULL;
  cell->intensity = sqlite3_column_double (row, col + 1);
  cell->source = sqlite3_column_int (row, col + 2);
  cell->coder_id = sqlite3_column_int64 (row, col + 3);
  cell->time = sqlite3_column_double (row, col + 4);
}

static gboolean
cell_row (sqlite3_stmt *row,
          gpointer      data,
          GError      **error)
{
  cell_from_row (row, 0, data);
  return FALSE;
}

static gboolean
read_cell (FacetStore *store,
           gint64      layer,
           gint64      video,
           gint64      frame,
           int         au,
           Cell       *cell,
           GError    **error)
{
  memset (cell, 0, sizeof *cell);
  return store_query (store,
                      "SELECT state, intensity, source, coder_id, time FROM labels "
                      "WHERE video_id = ? AND frame = ? AND au = ? AND layer = ?", cell_row, cell,
                      error, STORE_INT (video), STORE_INT (frame), STORE_INT (au),
                      STORE_INT (layer)) >= 0;
}

/* Puts @to into a cell and appends the history row (@from is what was
 * there, @when the time of the change: an undo restores the old label's
 * own time but happens now). */
static gboolean
write_cell (FacetStore *store,
            gint64      layer,
            const char *taken_from,
            gint64      changeset,
            gint64      video,
            gint64      frame,
            int         au,
            const Cell *from,
            const Cell *to,
            double      when,
            GError    **error)
{
  gboolean was_set = from->state != FACET_LABEL_UNSET, is_set = to->state != FACET_LABEL_UNSET;
  gboolean ok;

  if (!is_set)
    ok = store_query_run (store, "DELETE FROM labels WHERE video_id = ? AND frame = ? AND au = ? "
                          "AND layer = ?", error, STORE_INT (video), STORE_INT (frame),
                          STORE_INT (au), STORE_INT (layer));
  else
    ok = store_query_run (store,
                          "INSERT OR REPLACE INTO labels (video_id, frame, au, state, coder_id, "
                          "time, source, intensity, layer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error,
                          STORE_INT (video), STORE_INT (frame), STORE_INT (au),
                          STORE_INT (to->state), STORE_INT (to->coder_id), STORE_REAL (to->time),
                          STORE_INT (to->source),
                          to->has_intensity ? STORE_REAL (to->intensity) : STORE_NULL,
                          STORE_INT (layer));
  if (!ok)
    return FALSE;

  /* Old columns are NULL where there was no label (text NULL binds NULL). */
  return store_query_run (store,
                          "INSERT INTO label_history (changeset_id, video_id, frame, au, old_state, "
                          "old_intensity, old_source, old_coder_id, old_time, new_state, "
                          "new_intensity, new_source, time, layer, taken_from) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error,
                          STORE_INT (changeset), STORE_INT (video), STORE_INT (frame),
                          STORE_INT (au), STORE_INT (from->state),
                          was_set && from->has_intensity ? STORE_REAL (from->intensity) : STORE_NULL,
                          was_set ? STORE_INT (from->source) : STORE_NULL,
                          was_set ? STORE_INT (from->coder_id) : STORE_NULL,
                          was_set ? STORE_REAL (from->time) : STORE_NULL,
                          STORE_INT (to->state),
                          is_set && to->has_intensity ? STORE_REAL (to->intensity) : STORE_NULL,
                          STORE_INT (is_set ? to->source : 0), STORE_REAL (when),
                          STORE_INT (layer), STORE_TEXT (taken_from));
}

static gint64
new_changeset (FacetStore        *store,
               gint64             layer,
               gint64             coder,
               FacetChangesetKind kind,
               gint64             target,
               const char        *description,
               GError           **error)
{
  g_autofree char *desc = g_utf8_make_valid (description ? description : "", -1);

  if (!store_query_run (store,
                        "INSERT INTO changesets (coder_id, time, kind, state, target_id, "
                        "description, n_changes, layer) VALUES (?, ?, ?, 0, ?, ?, 0, ?)", error,
                        STORE_INT (coder), STORE_REAL (store_time_now ()), STORE_INT (kind),
                        target != 0 ? STORE_INT (target) : STORE_NULL, STORE_TEXT (desc),
                        STORE_INT (layer)))
    return 0;
  return sqlite3_last_insert_rowid (store->db);
}

static gboolean
finish_changeset (FacetStore *store,
                  gint64      changeset,
                  gint64      n_changes,
                  GError    **error)
{
  return store_query_run (store, "UPDATE changesets SET n_changes = ? WHERE id = ?", error,
                          STORE_INT (n_changes), STORE_INT (changeset));
}

static gboolean
check_label (FacetStore       *store,
             const FacetLabel *l,
             gint64            n_frames,
             GError          **error)
{
  if (l->frame < 0 || l->frame >= n_frames)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "frame %" G_GINT64_FORMAT " is outside video %" G_GINT64_FORMAT
                   " (frames 0-%" G_GINT64_FORMAT ")", l->frame, l->video_id, n_frames - 1);
      return FALSE;
    }
  if (!store_au_valid (l->au))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "AU %d is not a FACS action unit number (1-99)", l->au);
      return FALSE;
    }
  if ((int) l->state < FACET_LABEL_UNSET || (int) l->state > FACET_LABEL_NOT_CODABLE)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "label state %d of AU %d at frame %" G_GINT64_FORMAT " is not a state",
                   (int) l->state, l->au, l->frame);
      return FALSE;
    }
  if ((int) l->source < FACET_LABEL_SOURCE_HUMAN || (int) l->source > FACET_LABEL_SOURCE_ACCEPTED)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "label source %d of AU %d at frame %" G_GINT64_FORMAT " is not a source",
                   (int) l->source, l->au, l->frame);
      return FALSE;
    }
  if (!isnan (l->intensity) && !(l->intensity >= 0.0f && l->intensity <= 1.0f))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "intensity %g of AU %d at frame %" G_GINT64_FORMAT " is outside 0-1",
                   (double) l->intensity, l->au, l->frame);
      return FALSE;
    }
  return TRUE;
}

/* A new change by a coder ends what they could redo in that layer. */
static gboolean
drop_redo (FacetStore *store,
           gint64      layer,
           gint64      coder,
           GError    **error)
{
  return store_query_run (store, "UPDATE changesets SET state = 2 WHERE coder_id = ? AND layer = ? "
                          "AND state = 1", error, STORE_INT (coder), STORE_INT (layer));
}

/* The cells a write will touch, read up front: one range query per
 * (video, AU) instead of one query per cell. Keys pack video, frame and AU
 * into the pointer itself; values are indexes + 1 into @cells. */
typedef struct
{
  GHashTable *index;
  GArray     *cells; /* Cell */
} CellCache;

static gpointer
cell_key (gint64 video,
          gint64 frame,
          int    au)
{
  /* 24 bits of video, 33 of frame, 7 of AU. */
  return GSIZE_TO_POINTER (((gsize) video << 40) ^ ((gsize) frame << 7) ^ (gsize) au);
}

static void
cell_cache_clear (CellCache *cache)
{
  g_clear_pointer (&cache->index, g_hash_table_unref);
  g_clear_pointer (&cache->cells, g_array_unref);
}

typedef struct
{
  gint64 video;
  int    au;
  gint64 lo, hi;
} CellRange;

typedef struct
{
  CellCache       *cache;
  const CellRange *range;
} CacheFill;

static gboolean
cache_cell_row (sqlite3_stmt *row,
                gpointer      data,
                GError      **error)
{
  CacheFill *fill = data;
  Cell c;

  cell_from_row (row, 1, &c);
  g_array_append_val (fill->cache->cells, c);
  g_hash_table_insert (fill->cache->index,
                       cell_key (fill->range->video, sqlite3_column_int64 (row, 0), fill->range->au),
                       GUINT_TO_POINTER (fill->cache->cells->len));
  return TRUE;
}

static gboolean
cell_cache_fill (FacetStore       *store,
                 gint64            layer,
                 CellCache        *cache,
                 const FacetLabel *labels,
                 gsize             n,
                 GError          **error)
{
  g_autoptr (GArray) ranges = g_array_new (FALSE, FALSE, sizeof (CellRange));
  g_autoptr (GHashTable) range_of = g_hash_table_new (g_direct_hash, g_direct_equal);

  cache->index = g_hash_table_new (g_direct_hash, g_direct_equal);
  cache->cells = g_array_new (FALSE, FALSE, sizeof (Cell));
  for (gsize i = 0; i < n; i++)
    {
      gpointer key = cell_key (labels[i].video_id, 0, labels[i].au);
      guint r = GPOINTER_TO_UINT (g_hash_table_lookup (range_of, key));
      if (r == 0)
        {
          CellRange cr = { labels[i].video_id, labels[i].au, labels[i].frame, labels[i].frame };
          g_array_append_val (ranges, cr);
          g_hash_table_insert (range_of, key, GUINT_TO_POINTER (ranges->len));
        }
      else
        {
          CellRange *cr = &g_array_index (ranges, CellRange, r - 1);
          cr->lo = MIN (cr->lo, labels[i].frame);
          cr->hi = MAX (cr->hi, labels[i].frame);
        }
    }
  for (guint r = 0; r < ranges->len; r++)
    {
      CellRange *cr = &g_array_index (ranges, CellRange, r);
      CacheFill fill = { cache, cr };

      if (store_query (store,
                       "SELECT frame, state, intensity, source, coder_id, time "
                       "FROM labels WHERE video_id = ? AND au = ? "
                       "AND frame BETWEEN ? AND ? AND layer = ?", cache_cell_row, &fill, error,
                       STORE_INT (cr->video), STORE_INT (cr->au), STORE_INT (cr->lo),
                       STORE_INT (cr->hi), STORE_INT (layer)) < 0)
        return FALSE;
    }
  return TRUE;
}

static void
cell_cache_get (CellCache *cache,
                gint64     video,
                gint64     frame,
                int        au,
                Cell      *out)
{
  guint i = GPOINTER_TO_UINT (g_hash_table_lookup (cache->index, cell_key (video, frame, au)));

  if (i == 0)
    memset (out, 0, sizeof *out);
  else
    *out = g_array_index (cache->cells, Cell, i - 1);
}

static void
cell_cache_put (CellCache  *cache,
                gint64      video,
                gint64      frame,
                int         au,
                const Cell *cell)
{
  gpointer key = cell_key (video, frame, au);
  guint i = GPOINTER_TO_UINT (g_hash_table_lookup (cache->index, key));

  if (i != 0)
    g_array_index (cache->cells, Cell, i - 1) = *cell;
  else
    {
      g_array_append_val (cache->cells, *cell);
      g_hash_table_insert (cache->index, key, GUINT_TO_POINTER (cache->cells->len));
    }
}

/**
 * store_write_labels_locked:
 *
 * Inside a transaction: writes labels as one change set of @kind. Returns
 * the change set id, 0 when nothing changed (no change set stays), -1 on
 * error.
 */
gint64
store_write_labels_locked (FacetStore        *store,
                           gint64             layer,
                           const FacetLabel  *labels,
                           gsize              n,
                           FacetChangesetKind kind,
                           const char        *description,
                           const char        *taken_from,
                           GError           **error)
{
  gint64 coder, changeset, changes = 0, video = -1, n_frames = 0;
  gint64 lo = G_MAXINT64, hi = -1;
  gboolean many_videos = FALSE;
  double now = store_time_now ();
  CellCache cache = { 0 };
  gint64 result = -1;

  coder = store_coder_id (store, error);
  if (coder == 0)
    return -1;
  changeset = new_changeset (store, layer, coder, kind, 0, description, error);
  if (changeset == 0)
    return -1;

  /* Check everything before reading or writing anything. */
  for (gsize i = 0; i < n; i++)
    {
      const FacetLabel *l = &labels[i];
      if (l->video_id != video)
        {
          if (!store_video_exists (store, l->video_id, &n_frames, error))
            return -1;
          if (video != -1)
            many_videos = TRUE;
          video = l->video_id;
        }
      if (!check_label (store, l, n_frames, error))
        return -1;
    }
  if (!cell_cache_fill (store, layer, &cache, labels, n, error))
    goto out;

  for (gsize i = 0; i < n; i++)
    {
      const FacetLabel *l = &labels[i];
      Cell from, to = { 0 };

      cell_cache_get (&cache, l->video_id, l->frame, l->au, &from);
      to.state = l->state;
      to.has_intensity = !isnan (l->intensity);
      to.intensity = to.has_intensity ? (double) l->intensity : 0.0;
      to.source = l->source;
      to.coder_id = coder;
      to.time = now;
      if (cell_equal (&from, &to))
        continue;
      if (!write_cell (store, layer, taken_from, changeset, l->video_id, l->frame, l->au, &from,
                       &to, now, error))
        goto out;
      cell_cache_put (&cache, l->video_id, l->frame, l->au, &to);
      changes++;
      lo = MIN (lo, l->frame);
      hi = MAX (hi, l->frame);
    }

  if (changes == 0)
    {
      result = store_query_run (store, "DELETE FROM changesets WHERE id = ?", error,
                                STORE_INT (changeset)) ? 0 : -1;
      goto out;
    }
  if (!finish_changeset (store, changeset, changes, error) || !drop_redo (store, layer, coder, error)
      || !store_note_change (store, FACET_STORE_CHANGE_LABELS, many_videos ? 0 : video,
                             many_videos ? 0 : lo, many_videos ? -1 : hi, error))
    goto out;
  result = changeset;
out:
  cell_cache_clear (&cache);
  return result;
}

gint64
facet_store_write_labels (FacetStore       *store,
                          const FacetLabel *labels,
                          gsize             n,
                          const char       *description,
                          GError          **error)
{
  gint64 id = -1;

  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (labels != NULL || n == 0, -1);

  store_lock (store);
  if (store_begin (store, error))
    {
      gint64 layer = 0;
      if (!store_current_layer (store, TRUE, &layer, error))
        id = -1;
      else
        id = store_write_labels_locked (store, layer, labels, n, FACET_CHANGESET_EDIT, description,
                                        NULL, error);
      if (id < 0)
        store_rollback (store);
      else if (!store_commit (store, error))
        id = -1;
    }
  store_unlock_and_notify (store);
  return id;
}

gint64
facet_store_set_label_range (FacetStore      *store,
                             gint64           video_id,
                             gint64           first,
                             gint64           last,
                             int              au,
                             FacetLabelState  state,
                             FacetLabelSource source,
                             GError         **error)
{
  g_autofree FacetLabel *labels = NULL;
  g_autofree char *description = NULL;
  gint64 n_frames = 0, id = -1;

  g_return_val_if_fail (store != NULL, -1);

  store_lock (store);
  if (!store_video_exists (store, video_id, &n_frames, error))
    goto out;
  if (first < 0 || last < first || last >= n_frames)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "frames %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT " are not inside video %"
                   G_GINT64_FORMAT " (frames 0-%" G_GINT64_FORMAT ")", first, last, video_id,
                   n_frames - 1);
      goto out;
    }
  labels = g_new (FacetLabel, last - first + 1);
  for (gint64 f = first; f <= last; f++)
    labels[f - first] = (FacetLabel) { .video_id = video_id, .frame = f, .au = au,
                                       .state = state, .intensity = NAN, .source = source };
  if (first == last)
    description = g_strdup_printf ("AU%02d %s at frame %" G_GINT64_FORMAT " of video %"
                                   G_GINT64_FORMAT, au, facet_label_state_to_string (state),
                                   first, video_id);
  else
    description = g_strdup_printf ("AU%02d %s at frames %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
                                   " of video %" G_GINT64_FORMAT, au,
                                   facet_label_state_to_string (state), first, last, video_id);
  id = facet_store_write_labels (store, labels, (gsize) (last - first + 1), description, error);
out:
  store_unlock_and_notify (store);
  return id;
}

gint64
facet_store_set_label (FacetStore     *store,
                       gint64          video_id,
                       gint64          frame,
                       int             au,
                       FacetLabelState state,
                       GError        **error)
{
  return facet_store_set_label_range (store, video_id, frame, frame, au, state,
                                      FACET_LABEL_SOURCE_HUMAN, error);
}

/* ---- Reading labels ------------------------------------------------------------- */

static void
label_from_row (sqlite3_stmt *st,
                int           first_col,
                FacetLabel   *l)
{
  l->state = sqlite3_column_int (st, first_col);
  l->intensity = sqlite3_column_type (st, first_col + 1) == SQLITE_NULL
                 ? NAN : (float) sqlite3_column_double (st, first_col + 1);
  l->source = sqlite3_column_int (st, first_col + 2);
  l->coder = g_intern_string (store_column_text (st, first_col + 3));
  l->time = sqlite3_column_double (st, first_col + 4);
}

/* Rows into a GArray of FacetLabel made from @proto; with @first_col 2
 * the row starts with frame and AU. */
typedef struct
{
  GArray    *out;
  FacetLabel proto;
  int        first_col;
} LabelList;

static gboolean
label_list_row (sqlite3_stmt *row,
                gpointer      data,
                GError      **error)
{
  LabelList *list = data;
  FacetLabel l = list->proto;

  if (list->first_col == 2)
    {
      l.frame = sqlite3_column_int64 (row, 0);
      l.au = sqlite3_column_int (row, 1);
    }
  label_from_row (row, list->first_col, &l);
  g_array_append_val (list->out, l);
  return TRUE;
}

static gboolean
label_row (sqlite3_stmt *row,
           gpointer      data,
           GError      **error)
{
  label_from_row (row, 0, data);
  return FALSE;
}

gboolean
facet_store_get_label (FacetStore *store,
                       gint64      video_id,
                       gint64      frame,
                       int         au,
                       FacetLabel *out,
                       GError    **error)
{
  gboolean ok;
  gint64 layer = 0;

  g_return_val_if_fail (store != NULL && out != NULL, FALSE);

  *out = (FacetLabel) { .video_id = video_id, .frame = frame, .au = au,
                        .state = FACET_LABEL_UNSET, .intensity = NAN };

  store_lock (store);
  ok = store_current_layer (store, FALSE, &layer, error)
       && store_query (store,
                       "SELECT l.state, l.intensity, l.source, c.name, l.time FROM labels l "
                       "JOIN coders c ON c.id = l.coder_id "
                       "WHERE l.video_id = ? AND l.frame = ? AND l.au = ? AND l.layer = ?",
                       label_row, out, error, STORE_INT (video_id), STORE_INT (frame),
                       STORE_INT (au), STORE_INT (layer)) >= 0;
  store_unlock_and_notify (store);
  return ok;
}

/* Under the lock: the labels of layer @layer (a stored layer value). */
static GArray *
get_labels_in (FacetStore *store,
               gint64      layer,
               gint64      video_id,
               int         au,
               gint64      first,
               gint64      last,
               GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (FacetLabel));
  LabelList list = { out, { .video_id = video_id }, 2 };
  /* One AU or all; the second statement ignores ?2. */
  const char *sql = au != 0
    ? "SELECT l.frame, l.au, l.state, l.intensity, l.source, c.name, l.time "
      "FROM labels l JOIN coders c ON c.id = l.coder_id "
      "WHERE l.layer = ?5 AND l.video_id = ?1 AND l.au = ?2 "
      "AND l.frame BETWEEN ?3 AND ?4 ORDER BY l.frame"
    : "SELECT l.frame, l.au, l.state, l.intensity, l.source, c.name, l.time "
      "FROM labels l JOIN coders c ON c.id = l.coder_id "
      "WHERE l.layer = ?5 AND l.video_id = ?1 AND l.frame BETWEEN ?3 AND ?4 "
      "ORDER BY l.frame, l.au";

  if (last < 0)
    last = G_MAXINT64;
  if (store_query (store, sql, label_list_row, &list, error, STORE_INT (video_id), STORE_INT (au),
                   STORE_INT (first), STORE_INT (last), STORE_INT (layer)) < 0)
    return NULL;
  return g_steal_pointer (&out);
}

/* A range reader under the lock (get_labels_in, segments_in). */
typedef GArray *(*LayerRangeReader) (FacetStore *store,
                                     gint64      layer,
                                     gint64      video_id,
                                     int         au,
                                     gint64      first,
                                     gint64      last,
                                     GError    **error);

/* @read on the layer named @layer_name, or on the store's current layer
 * where it is NULL, with the lock taken. */
static GArray *
read_in_layer (FacetStore       *store,
               const char       *layer_name,
               LayerRangeReader  read,
               gint64            video_id,
               int               au,
               gint64            first,
               gint64            last,
               GError          **error)
{
  GArray *out = NULL;
  gint64 layer = 0;
  gboolean found;

  g_return_val_if_fail (store != NULL, NULL);

  store_lock (store);
  found = layer_name != NULL ? store_layer_id (store, layer_name, FALSE, &layer, error)
                             : store_current_layer (store, FALSE, &layer, error);
  if (found)
    out = read (store, layer, video_id, au, first, last, error);
  store_unlock_and_notify (store);
  return out;
}

GArray *
facet_store_get_labels (FacetStore *store,
                        gint64      video_id,
                        int         au,
                        gint64      first,
                        gint64      last,
                        GError    **error)
{
  return read_in_layer (store, NULL, get_labels_in, video_id, au, first, last, error);
}

GArray *
facet_store_get_layer_labels (FacetStore *store,
                              const char *layer_name,
                              gint64      video_id,
                              int         au,
                              gint64      first,
                              gint64      last,
                              GError    **error)
{
  return read_in_layer (store, layer_name, get_labels_in, video_id, au, first, last, error);
}

GArray *
facet_store_get_frame_labels (FacetStore *store,
                              gint64      video_id,
                              gint64      frame,
                              GError    **error)
{
  return facet_store_get_labels (store, video_id, 0, frame, frame, error);
}

GArray *
facet_store_get_labelled_frames (FacetStore *store,
                                 gint64      video_id,
                                 int         au,
                                 GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint64));
  gboolean ok;
  gint64 layer = 0;
  /* One AU or all; the second statement ignores ?2. */
  const char *sql = au != 0
    ? "SELECT frame FROM labels WHERE layer = ?3 AND video_id = ?1 AND au = ?2 ORDER BY frame"
    : "SELECT DISTINCT frame FROM labels WHERE layer = ?3 AND video_id = ?1 ORDER BY frame";

  g_return_val_if_fail (store != NULL, NULL);

  store_lock (store);
  ok = store_current_layer (store, FALSE, &layer, error)
       && store_query (store, sql, store_row_int64_array, out, error, STORE_INT (video_id),
                       STORE_INT (au), STORE_INT (layer)) >= 0;
  store_unlock_and_notify (store);
  return ok ? g_steal_pointer (&out) : NULL;
}

static gboolean
segment_row (sqlite3_stmt *row,
             gpointer      data,
             GError      **error)
{
  GArray *out = data;
  gint64 f = sqlite3_column_int64 (row, 0);
  FacetLabelState state = sqlite3_column_int (row, 1);
  FacetLabelSource source = sqlite3_column_int (row, 2);
  int level = state == FACET_LABEL_PRESENT && sqlite3_column_type (row, 3) != SQLITE_NULL
              ? facet_intensity_to_level ((float) sqlite3_column_double (row, 3)) : 0;
  FacetLabelSegment *prev = out->len ? &g_array_index (out, FacetLabelSegment, out->len - 1) : NULL;

  if (prev != NULL && prev->last + 1 == f && prev->state == state && prev->source == source
      && prev->level == level)
    prev->last = f;
  else
    {
      FacetLabelSegment seg = { .first = f, .last = f, .state = state, .source = source,
                                .level = level };
      g_array_append_val (out, seg);
    }
  return TRUE;
}

/* Under the lock: runs of equal state, source and intensity level in one layer. */
static GArray *
segments_in (FacetStore *store,
             gint64      layer,
             gint64      video_id,
             int         au,
             gint64      first,
             gint64      last,
             GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));

  if (last < 0)
    last = G_MAXINT64;
  if (store_query (store,
                   "SELECT frame, state, source, intensity FROM labels WHERE video_id = ? "
                   "AND au = ? AND frame BETWEEN ? AND ? AND layer = ? ORDER BY frame",
                   segment_row, out, error, STORE_INT (video_id), STORE_INT (au),
                   STORE_INT (first), STORE_INT (last), STORE_INT (layer)) < 0)
    return NULL;
  return g_steal_pointer (&out);
}

GArray *
facet_store_get_label_segments (FacetStore *store,
                                gint64      video_id,
                                int         au,
                                gint64      first,
                                gint64      last,
                                GError    **error)
{
  return read_in_layer (store, NULL, segments_in, video_id, au, first, last, error);
}

GArray *
facet_store_get_layer_segments (FacetStore *store,
                                const char *layer_name,
                                gint64      video_id,
                                int         au,
                                gint64      first,
                                gint64      last,
                                GError    **error)
{
  return read_in_layer (store, layer_name, segments_in, video_id, au, first, last, error);
}

static int
compare_count (gconstpointer a,
               gconstpointer b)
{
  return ((const FacetLabelCount *) a)->au - ((const FacetLabelCount *) b)->au;
}

static gboolean
count_row (sqlite3_stmt *row,
           gpointer      data,
           GError      **error)
{
  GArray *out = data;
  int au = sqlite3_column_int (row, 0);
  FacetLabelCount *c = out->len ? &g_array_index (out, FacetLabelCount, out->len - 1) : NULL;
  gint64 n = sqlite3_column_int64 (row, 2);

  if (c == NULL || c->au != au)
    {
      g_array_set_size (out, out->len + 1);
      c = &g_array_index (out, FacetLabelCount, out->len - 1);
      c->au = au;
    }
  switch (sqlite3_column_int (row, 1))
    {
    case FACET_LABEL_PRESENT:
      c->present += n;
      break;
    case FACET_LABEL_ABSENT:
      c->absent += n;
      break;
    default:
      c->not_codable += n;
      break;
    }
  return TRUE;
}

GArray *
facet_store_count_labels (FacetStore *store,
                          gint64      video_id,
                          GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (FacetLabelCount));
  gboolean ok;
  gint64 layer = 0;
  /* One video or all; the second statement ignores ?1. */
  const char *sql = video_id != 0
    ? "SELECT au, state, count(*) FROM labels WHERE layer = ?2 AND video_id = ?1 "
      "GROUP BY au, state ORDER BY au"
    : "SELECT au, state, count(*) FROM labels WHERE layer = ?2 GROUP BY au, state ORDER BY au";

  g_return_val_if_fail (store != NULL, NULL);

  store_lock (store);
  ok = store_current_layer (store, FALSE, &layer, error)
       && store_query (store, sql, count_row, out, error, STORE_INT (video_id),
                       STORE_INT (layer)) >= 0;
  store_unlock_and_notify (store);
  if (!ok)
    return NULL;
  g_array_sort (out, compare_count);
  return g_steal_pointer (&out);
}

/* ---- Change sets, undo and redo ----------------------------------------------------- */

#define CHANGESET_COLUMNS \
  "s.id, c.name, s.time, s.kind, s.state, s.target_id, s.n_changes, s.description, ly.name " \
  "FROM changesets s JOIN coders c ON c.id = s.coder_id LEFT JOIN coders ly ON ly.id = s.layer"

static FacetChangeset *
changeset_from_row (sqlite3_stmt *st)
{
  FacetChangeset *c = g_new0 (FacetChangeset, 1);

  c->id = sqlite3_column_int64 (st, 0);
  c->coder = g_intern_string (store_column_text (st, 1));
  c->time = sqlite3_column_double (st, 2);
  c->kind = sqlite3_column_int (st, 3);
  c->state = sqlite3_column_int (st, 4);
  c->target = sqlite3_column_int64 (st, 5);
  c->n_changes = sqlite3_column_int64 (st, 6);
  c->description = g_strdup (store_column_text (st, 7));
  c->layer = sqlite3_column_type (st, 8) == SQLITE_NULL
             ? NULL : g_intern_string (store_column_text (st, 8));
  return c;
}

/* The coder's next step in the current layer: undo takes their newest
 * applied change set, redo the one they undid last. */
static const char undo_query[] =
  "SELECT " CHANGESET_COLUMNS " WHERE c.name = ?1 AND s.layer = ?2 AND s.state = 0 "
  "AND s.kind IN (0, 1, 4, 5) AND s.n_changes > 0 ORDER BY s.id DESC LIMIT 1";
static const char redo_query[] =
  "SELECT " CHANGESET_COLUMNS " WHERE c.name = ?1 AND s.layer = ?2 AND s.state = 1 "
  "ORDER BY s.undo_serial DESC LIMIT 1";

static gboolean
changeset_row (sqlite3_stmt *row,
               gpointer      data,
               GError      **error)
{
  *(FacetChangeset **) data = changeset_from_row (row);
  return FALSE;
}

static gboolean
changeset_list_row (sqlite3_stmt *row,
                    gpointer      data,
                    GError      **error)
{
  g_ptr_array_add (data, changeset_from_row (row));
  return TRUE;
}

static FacetChangeset *
peek_locked (FacetStore *store,
             const char *sql,
             GError    **error)
{
  FacetChangeset *c = NULL;
  gint64 layer = 0;

  if (!store_current_layer (store, FALSE, &layer, error))
    return NULL;
  store_query (store, sql, changeset_row, &c, error, STORE_TEXT (store->coder), STORE_INT (layer));
  return c;
}

FacetChangeset *
facet_store_peek_undo (FacetStore *store,
                       GError    **error)
{
  FacetChangeset *c;

  g_return_val_if_fail (store != NULL, NULL);
  store_lock (store);
  c = peek_locked (store, undo_query, error);
  store_unlock_and_notify (store);
  return c;
}

FacetChangeset *
facet_store_peek_redo (FacetStore *store,
                       GError    **error)
{
  FacetChangeset *c;

  g_return_val_if_fail (store != NULL, NULL);
  store_lock (store);
  c = peek_locked (store, redo_query, error);
  store_unlock_and_notify (store);
  return c;
}

typedef struct
{
  gint64 video, frame;
  int    au;
  Cell   old_cell, new_cell;
} HistoryRow;

static gboolean
history_row (sqlite3_stmt *row,
             gpointer      data,
             GError      **error)
{
  HistoryRow h = { 0 };

  h.video = sqlite3_column_int64 (row, 0);
  h.frame = sqlite3_column_int64 (row, 1);
  h.au = sqlite3_column_int (row, 2);
  h.old_cell.state = sqlite3_column_int (row, 3);
  h.old_cell.has_intensity = sqlite3_column_type (row, 4) != SQLITE_NULL;
  h.old_cell.intensity = sqlite3_column_double (row, 4);
  h.old_cell.source = sqlite3_column_int (row, 5);
  /* Version 1 history did not keep who had set the old label. */
  h.old_cell.coder_id = sqlite3_column_type (row, 6) != SQLITE_NULL
                        ? sqlite3_column_int64 (row, 6) : 0;
  h.old_cell.time = sqlite3_column_double (row, 7);
  h.new_cell.state = sqlite3_column_int (row, 8);
  h.new_cell.has_intensity = sqlite3_column_type (row, 9) != SQLITE_NULL;
  h.new_cell.intensity = sqlite3_column_double (row, 9);
  h.new_cell.source = sqlite3_column_int (row, 10);
  g_array_append_val ((GArray *) data, h);
  return TRUE;
}

static GArray *
read_changeset_rows (FacetStore *store,
                     gint64      changeset,
                     GError    **error)
{
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (HistoryRow));

  if (store_query (store,
                   "SELECT video_id, frame, au, old_state, old_intensity, old_source, "
                   "old_coder_id, old_time, new_state, new_intensity, new_source "
                   "FROM label_history WHERE changeset_id = ? ORDER BY id", history_row, rows,
                   error, STORE_INT (changeset)) < 0)
    return NULL;
  return g_steal_pointer (&rows);
}

static gint64
step_locked (FacetStore *store,
             gboolean    undo,
             gint64     *n_skipped,
             GError    **error)
{
  g_autoptr (FacetChangeset) target = NULL;
  g_autoptr (GArray) rows = NULL;
  g_autofree char *desc = NULL;
  gint64 coder, step, changes = 0, skipped = 0, lo = G_MAXINT64, hi = -1, video = -1, layer = 0;
  gboolean many = FALSE;
  GError *local = NULL;
  double now = store_time_now ();

  target = peek_locked (store, undo ? undo_query : redo_query, &local);
  if (target == NULL)
    {
      if (local != NULL)
        g_propagate_error (error, local);
      else
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOTHING,
                     "nothing to %s for coder %s", undo ? "undo" : "redo", store->coder);
      return 0;
    }
  if (!store_current_layer (store, FALSE, &layer, error))
    return 0;
  coder = store_coder_id (store, error);
  if (coder == 0)
    return 0;
  rows = read_changeset_rows (store, target->id, error);
  if (rows == NULL)
    return 0;
  desc = g_strdup_printf ("%s: %s", undo ? "undo" : "redo", target->description);
  step = new_changeset (store, layer, coder, undo ? FACET_CHANGESET_UNDO : FACET_CHANGESET_REDO,
                        target->id, desc, error);
  if (step == 0)
    return 0;

  for (guint k = 0; k < rows->len; k++)
    {
      /* Undo walks backwards so a cell changed twice ends where it began. */
      HistoryRow *h = &g_array_index (rows, HistoryRow, undo ? rows->len - 1 - k : k);
      const Cell *expect = undo ? &h->new_cell : &h->old_cell;
      Cell want = undo ? h->old_cell : h->new_cell;
      Cell now_cell;

      if (!read_cell (store, layer, h->video, h->frame, h->au, &now_cell, error))
        return 0;
      if (!cell_equal (&now_cell, expect))
        {
          skipped++;
          continue;
        }
      if (undo && want.state != FACET_LABEL_UNSET && want.coder_id == 0)
        {
          want.coder_id = coder;
          want.time = now;
        }
      if (!undo)
        {
          want.coder_id = coder;
          want.time = now;
        }
      if (!write_cell (store, layer, NULL, step, h->video, h->frame, h->au, &now_cell, &want, now,
                       error))
        return 0;
      changes++;
      if (video != -1 && video != h->video)
        many = TRUE;
      video = h->video;
      lo = MIN (lo, h->frame);
      hi = MAX (hi, h->frame);
    }

  if (!finish_changeset (store, step, changes, error))
    return 0;
  /* Undone: redo order follows the undo step's id. Redone: undoable again. */
  if (!store_query_run (store, "UPDATE changesets SET state = ?, undo_serial = ? WHERE id = ?",
                        error, STORE_INT (undo ? FACET_CHANGESET_UNDONE : FACET_CHANGESET_APPLIED),
                        undo ? STORE_INT (step) : STORE_NULL, STORE_INT (target->id)))
    return 0;
  if (changes > 0
      && !store_note_change (store, FACET_STORE_CHANGE_LABELS, many ? 0 : video, many ? 0 : lo,
                             many ? -1 : hi, error))
    return 0;
  if (n_skipped != NULL)
    *n_skipped = skipped;
  return target->id;
}

static gint64
undo_redo (FacetStore *store,
           gboolean    undo,
           gint64     *n_skipped,
           GError    **error)
{
  gint64 id = 0;

  g_return_val_if_fail (store != NULL, 0);

  if (n_skipped != NULL)
    *n_skipped = 0;
  store_lock (store);
  if (store_begin (store, error))
    {
      id = step_locked (store, undo, n_skipped, error);
      if (id == 0)
        store_rollback (store);
      else if (!store_commit (store, error))
        id = 0;
    }
  store_unlock_and_notify (store);
  return id;
}

gint64
facet_store_undo (FacetStore *store,
                  gint64     *n_skipped,
                  GError    **error)
{
  return undo_redo (store, TRUE, n_skipped, error);
}

gint64
facet_store_redo (FacetStore *store,
                  gint64     *n_skipped,
                  GError    **error)
{
  return undo_redo (store, FALSE, n_skipped, error);
}

GPtrArray *
facet_store_list_changesets (FacetStore *store,
                             const char *coder,
                             guint       limit,
                             GError    **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_changeset_free);
  gboolean ok;
  gint64 layer = 0;

  g_return_val_if_fail (store != NULL, NULL);

  store_lock (store);
  ok = store_current_layer (store, FALSE, &layer, error)
       && store_query (store,
                       "SELECT " CHANGESET_COLUMNS " WHERE (?1 IS NULL OR c.name = ?1) "
                       "AND s.layer = ?3 ORDER BY s.id DESC LIMIT ?2", changeset_list_row, out,
                       error, STORE_TEXT (coder), STORE_INT (limit > 0 ? (gint64) limit : -1),
                       STORE_INT (layer)) >= 0;
  store_unlock_and_notify (store);
  return ok ? g_steal_pointer (&out) : NULL;
}

GArray *
facet_store_get_label_history (FacetStore *store,
                               gint64      video_id,
                               gint64      frame,
                               int         au,
                               GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (FacetLabel));
  LabelList list = { out, { .video_id = video_id, .frame = frame, .au = au }, 0 };
  gboolean ok;
  gint64 layer = 0;

  g_return_val_if_fail (store != NULL, NULL);

  store_lock (store);
  ok = store_current_layer (store, FALSE, &layer, error)
       && store_query (store,
                       "SELECT h.new_state, h.new_intensity, h.new_source, c.name, h.time "
                       "FROM label_history h JOIN changesets s ON s.id = h.changeset_id "
                       "JOIN coders c ON c.id = s.coder_id "
                       "WHERE h.layer = ? AND h.video_id = ? AND h.frame = ? AND h.au = ? "
                       "ORDER BY h.id", label_list_row, &list, error, STORE_INT (layer),
                       STORE_INT (video_id), STORE_INT (frame), STORE_INT (au)) >= 0;
  store_unlock_and_notify (store);
  return ok ? g_steal_pointer (&out) : NULL;
}
