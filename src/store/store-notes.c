/* store-notes.c — what a coding lab adds around the labels: the coding
 * scheme (the AUs the lab codes, wider than a model), per-AU thresholds
 * edited for a model, marked events (onset, apex, offset) and notes on a
 * frame, a range or an event; their CSV exports and ELAN tiers.
 *
 * Events and notes are announced as FACET_STORE_CHANGE_LABELS (they are
 * the coders' work, and whoever shows labels shows them); the scheme and
 * thresholds as FACET_STORE_CHANGE_MODELS (they change what the AU list
 * and the decisions are). */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <string.h>

#include <libxml/tree.h>

#include "core/facet-core.h"
#include "store-private.h"

#define SCHEME_KEY "coding_scheme"

/* ---- Coding scheme ----------------------------------------------------------------------- */

static int
compare_int (gconstpointer a,
             gconstpointer b)
{
  int x = *(const int *) a, y = *(const int *) b;

  return (x > y) - (x < y);
}

int *
facet_store_get_scheme (FacetStore *store,
                        int        *n_aus,
                        GError    **error)
{
  g_autoptr (GArray) aus = g_array_new (FALSE, FALSE, sizeof (int));
  g_autofree char *value = NULL;
  g_auto (GStrv) parts = NULL;

  g_return_val_if_fail (store != NULL && n_aus != NULL, NULL);

  *n_aus = 0;
  if (store_query (store, "SELECT value FROM meta WHERE key = '" SCHEME_KEY "'", store_row_text,
                   &value, error) < 0)
    return NULL;
  parts = g_strsplit (value ? value : "", ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *end = NULL;
      gint64 au = g_ascii_strtoll (parts[i], &end, 10);
      /* A damaged entry is skipped rather than refusing the project. */
      if (end != parts[i] && *end == '\0' && store_au_valid ((int) au))
        g_array_append_val (aus, (int) { (int) au });
    }
  *n_aus = (int) aus->len;
  return aus->len > 0 ? (int *) (void *) g_array_free (g_steal_pointer (&aus), FALSE) : NULL;
}

gboolean
facet_store_set_scheme (FacetStore *store,
                        const int  *aus,
                        int         n_aus,
                        GError    **error)
{
  g_autoptr (GArray) sorted = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GString) text = g_string_new (NULL);
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL && (aus != NULL || n_aus == 0), FALSE);

  for (int i = 0; i < n_aus; i++)
    {
      if (!store_au_valid (aus[i]))
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                       "%s: AU %d of the coding scheme is not a FACS number (1-99)", store->path,
                       aus[i]);
          return FALSE;
        }
      g_array_append_val (sorted, aus[i]);
    }
  g_array_sort (sorted, compare_int);
  for (guint i = 0; i < sorted->len; i++)
    if (i == 0 || g_array_index (sorted, int, i) != g_array_index (sorted, int, i - 1))
      g_string_append_printf (text, "%s%d", text->len ? "," : "", g_array_index (sorted, int, i));

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  ok = (n_aus == 0
        ? store_query_run (store, "DELETE FROM meta WHERE key = '" SCHEME_KEY "'", error)
        : store_query_run (store, "INSERT OR REPLACE INTO meta (key, value) VALUES ('"
                           SCHEME_KEY "', ?)", error, STORE_TEXT (text->str)))
       && store_note_change (store, FACET_STORE_CHANGE_MODELS, 0, 0, -1, error);
  if (ok)
    ok = store_commit (store, error);
  else
    store_rollback (store);
out:
  store_unlock_and_notify (store);
  return ok;
}

/* ---- Thresholds ---------------------------------------------------------------------------- */

gboolean
facet_store_set_model_thresholds (FacetStore  *store,
                                  gint64       model_id,
                                  const float *thresholds,
                                  int          n,
                                  GError     **error)
{
  g_autoptr (FacetStoreModel) model = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL && thresholds != NULL, FALSE);

  model = facet_store_get_model (store, model_id, error);
  if (model == NULL)
    return FALSE;
  if (n != model->n_aus)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH,
                   "model %" G_GINT64_FORMAT " (%s) has %d outputs, not %d thresholds", model_id,
                   model->name, model->n_aus, n);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      if (!(thresholds[i] > 0.0f && thresholds[i] < 1.0f))
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                       "model %" G_GINT64_FORMAT ": the threshold of AU%02d (%g) is outside (0, 1)",
                       model_id, model->au_ids[i], (double) thresholds[i]);
          return FALSE;
        }
      g_string_append_printf (text, "%s%s", i ? "," : "",
                              g_ascii_formatd (buf, sizeof buf, "%.9g", thresholds[i]));
    }

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  ok = store_query_run (store, "UPDATE models SET thresholds = ? WHERE id = ?", error,
                        STORE_TEXT (text->str), STORE_INT (model_id))
       && store_note_change (store, FACET_STORE_CHANGE_MODELS, 0, 0, -1, error);
  if (ok)
    ok = store_commit (store, error);
  else
    store_rollback (store);
out:
  store_unlock_and_notify (store);
  return ok;
}

static int
compare_float (const void *a,
               const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;

  return (x > y) - (x < y);
}

/* F1 of "p >= t means present" against the coders' present/absent labels,
 * for every threshold at once: sorted by probability, each candidate
 * threshold splits the pairs in two. */
FacetThresholdCurve *
facet_threshold_curve_new (const float *probs,
                           const gboolean *present,
                           gsize        n)
{
  FacetThresholdCurve *c = g_new0 (FacetThresholdCurve, 1);
  g_autofree float *pos = g_new (float, MAX (n, 1));
  g_autofree float *neg = g_new (float, MAX (n, 1));
  gsize np = 0, nn = 0;

  for (gsize i = 0; i < n; i++)
    if (!isnan (probs[i]))
      {
        if (present[i])
          pos[np++] = probs[i];
        else
          neg[nn++] = probs[i];
      }
  c->n_positive = np;
  c->n_negative = nn;
  qsort (pos, np, sizeof (float), compare_float);
  qsort (neg, nn, sizeof (float), compare_float);
  c->positives = g_memdup2 (pos, sizeof (float) * MAX (np, 1));
  c->negatives = g_memdup2 (neg, sizeof (float) * MAX (nn, 1));
  return c;
}

void
facet_threshold_curve_free (FacetThresholdCurve *curve)
{
  if (curve == NULL)
    return;
  g_free (curve->positives);
  g_free (curve->negatives);
  g_free (curve);
}

/* How many of the sorted @v are >= @t. */
static gsize
count_at_least (const float *v,
                gsize        n,
                float        t)
{
  gsize lo = 0, hi = n;

  while (lo < hi)
    {
      gsize mid = (lo + hi) / 2;
      if (v[mid] < t)
        lo = mid + 1;
      else
        hi = mid;
    }
  return n - lo;
}

double
facet_threshold_curve_f1 (const FacetThresholdCurve *curve,
                          float                      threshold)
{
  gsize tp, fp, fn;

  g_return_val_if_fail (curve != NULL, NAN);

  if (curve->n_positive == 0)
    return NAN;
  tp = count_at_least (curve->positives, curve->n_positive, threshold);
  fp = count_at_least (curve->negatives, curve->n_negative, threshold);
  fn = curve->n_positive - tp;
  return tp == 0 ? 0.0 : 2.0 * tp / (double) (2 * tp + fp + fn);
}

float
facet_threshold_curve_best (const FacetThresholdCurve *curve,
                            double                    *f1)
{
  float best_t = 0.5f;
  double best = -1.0;

  g_return_val_if_fail (curve != NULL, 0.5f);

  /* A hundredth apart is as fine as a slider is set. */
  for (int k = 1; k <= 99; k++)
    {
      double v = facet_threshold_curve_f1 (curve, k / 100.0f);
      if (!isnan (v) && v > best + 1e-12)
        best = v, best_t = k / 100.0f;
    }
  if (f1 != NULL)
    *f1 = best < 0 ? NAN : best;
  return best_t;
}

GPtrArray *
facet_store_threshold_curves (FacetStore *store,
                              gint64      model_id,
                              GError    **error)
{
  g_autoptr (FacetStoreModel) model = facet_store_get_model (store, model_id, error);
  g_autoptr (GPtrArray) videos = NULL;
  g_autoptr (GPtrArray) curves = NULL;
  g_autoptr (GPtrArray) probs = NULL, present = NULL;

  if (model == NULL)
    return NULL;
  videos = facet_store_list_videos (store, error);
  if (videos == NULL)
    return NULL;
  probs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  present = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (int a = 0; a < model->n_aus; a++)
    {
      g_ptr_array_add (probs, g_array_new (FALSE, FALSE, sizeof (float)));
      g_ptr_array_add (present, g_array_new (FALSE, FALSE, sizeof (gboolean)));
    }
  for (guint v = 0; v < videos->len; v++)
    {
      const FacetStoreVideo *video = videos->pdata[v];
      g_autoptr (GArray) labels = facet_store_get_labels (store, video->id, 0, 0, -1, error);
      g_autoptr (FacetPredictionSet) set = NULL;
      gsize p = 0;

      if (labels == NULL)
        return NULL;
      if (labels->len == 0)
        continue;
      set = facet_store_get_predictions (store, model_id, video->id, 0, -1, error);
      if (set == NULL)
        return NULL;
      /* Both are ordered by frame: one walk. */
      for (guint i = 0; i < labels->len; i++)
        {
          const FacetLabel *l = &g_array_index (labels, FacetLabel, i);
          int a = facet_store_model_find_au (model, l->au);
          gboolean is_present = l->state == FACET_LABEL_PRESENT;
          float pr;

          if (a < 0 || (l->state != FACET_LABEL_PRESENT && l->state != FACET_LABEL_ABSENT))
            continue;
          while (p < set->n && set->frames[p] < l->frame)
            p++;
          if (p >= set->n || set->frames[p] != l->frame)
            continue;
          pr = set->probs[p * set->n_aus + a];
          if (isnan (pr))
            continue;
          g_array_append_val (probs->pdata[a], pr);
          g_array_append_val (present->pdata[a], is_present);
        }
    }
  curves = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_threshold_curve_free);
  for (int a = 0; a < model->n_aus; a++)
    {
      GArray *pa = probs->pdata[a], *la = present->pdata[a];
      g_ptr_array_add (curves, facet_threshold_curve_new ((const float *) (void *) pa->data,
                                                          (const gboolean *) (void *) la->data,
                                                          pa->len));
    }
  return g_steal_pointer (&curves);
}

/* ---- Events -------------------------------------------------------------------------------- */

static gboolean
check_frames (FacetStore *store,
              gint64      video_id,
              gint64      first,
              gint64      last,
              const char *what,
              GError    **error)
{
  gint64 n_frames = 0;

  if (!store_video_exists (store, video_id, &n_frames, error))
    return FALSE;
  if (first < 0 || last < first || last >= n_frames)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: %s frames %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
                   " lie outside video %" G_GINT64_FORMAT " (frames 0-%" G_GINT64_FORMAT ")",
                   store->path, what, first, last, video_id, n_frames - 1);
      return FALSE;
    }
  return TRUE;
}

gint64
facet_store_add_event (FacetStore            *store,
                       const FacetStoreEvent *event,
                       GError               **error)
{
  gint64 id = -1, coder;

  g_return_val_if_fail (store != NULL && event != NULL, -1);

  if (!store_au_valid (event->au))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: AU %d of an event is not a FACS number (1-99)", store->path, event->au);
      return -1;
    }
  if (event->apex >= 0 && (event->apex < event->onset || event->apex > event->offset))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: the apex (frame %" G_GINT64_FORMAT ") of an AU%02d event lies outside its "
                   "onset and offset (%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT ")",
                   store->path, event->apex, event->au, event->onset, event->offset);
      return -1;
    }
  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  if (!check_frames (store, event->video_id, event->onset, event->offset, "the event's", error)
      || (coder = store_coder_id (store, error)) == 0)
    {
      store_rollback (store);
      goto out;
    }
  if (store_query_run (store,
                       "INSERT INTO events (video_id, au, onset, apex, offset, coder_id, time) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", error,
                       STORE_INT (event->video_id), STORE_INT (event->au), STORE_INT (event->onset),
                       event->apex >= 0 ? STORE_INT (event->apex) : STORE_NULL,
                       STORE_INT (event->offset), STORE_INT (coder), STORE_REAL (store_time_now ())))
    id = sqlite3_last_insert_rowid (store->db);
  if (id > 0 && store_note_change (store, FACET_STORE_CHANGE_LABELS, event->video_id,
                                   event->onset, event->offset, error)
      && store_commit (store, error))
    goto out;
  id = -1;
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return id;
}

/* Deletes a row of @table by id inside a transaction; notes on an event
 * lose their link (and keep their frames). */
static gboolean
delete_row (FacetStore *store,
            const char *delete_sql,
            const char *unlink_sql,
            const char *what,
            gint64      id,
            GError    **error)
{
  gboolean ok = FALSE;

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  if (unlink_sql != NULL && !store_query_run (store, unlink_sql, error, STORE_INT (id)))
    goto fail;
  if (!store_query_run (store, delete_sql, error, STORE_INT (id)))
    goto fail;
  if (sqlite3_changes (store->db) == 0)
    {
      store_set_not_found (store, what, id, error);
      goto fail;
    }
  ok = store_note_change (store, FACET_STORE_CHANGE_LABELS, 0, 0, -1, error)
       && store_commit (store, error);
  if (ok)
    goto out;
fail:
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return ok;
}

gboolean
facet_store_delete_event (FacetStore *store,
                          gint64      event_id,
                          GError    **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return delete_row (store, "DELETE FROM events WHERE id = ?",
                     "UPDATE notes SET event_id = NULL WHERE event_id = ?", "event", event_id,
                     error);
}

static gboolean
event_row (sqlite3_stmt *row,
           gpointer      data,
           GError      **error)
{
  FacetStoreEvent e = {
    .id = sqlite3_column_int64 (row, 0),
    .video_id = sqlite3_column_int64 (row, 1),
    .au = sqlite3_column_int (row, 2),
    .onset = sqlite3_column_int64 (row, 3),
    .apex = sqlite3_column_type (row, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64 (row, 4),
    .offset = sqlite3_column_int64 (row, 5),
    .coder = g_intern_string (store_column_text (row, 6)),
    .time = sqlite3_column_double (row, 7),
  };

  g_array_append_val ((GArray *) data, e);
  return TRUE;
}

GArray *
facet_store_list_events (FacetStore *store,
                         gint64      video_id,
                         int         au,
                         GError    **error)
{
  g_autoptr (GArray) events = g_array_new (FALSE, FALSE, sizeof (FacetStoreEvent));

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store,
                   "SELECT e.id, e.video_id, e.au, e.onset, e.apex, e.offset, c.name, e.time "
                   "FROM events e JOIN coders c ON c.id = e.coder_id "
                   "WHERE (?1 = 0 OR e.video_id = ?1) AND (?2 = 0 OR e.au = ?2) "
                   "ORDER BY e.video_id, e.onset, e.au, e.id", event_row, events, error,
                   STORE_INT (video_id), STORE_INT (au)) < 0)
    return NULL;
  return g_steal_pointer (&events);
}

/* ---- Notes --------------------------------------------------------------------------------- */

void
facet_store_note_free (FacetStoreNote *note)
{
  if (note == NULL)
    return;
  g_free (note->text);
  g_free (note);
}

gint64
facet_store_add_note (FacetStore           *store,
                      const FacetStoreNote *note,
                      GError              **error)
{
  g_autoptr (GArray) event = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 id = -1, coder, n, first = note ? note->first : 0, last = note ? note->last : 0;
  int au = note ? note->au : 0;

  g_return_val_if_fail (store != NULL && note != NULL, -1);

  if (note->text == NULL || !g_utf8_validate (note->text, -1, NULL))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: the text of a note is missing or not UTF-8", store->path);
      return -1;
    }
  {
    g_autofree char *copy = g_strstrip (g_strdup (note->text));
    if (*copy == '\0')
      {
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                     "%s: a note needs some text", store->path);
        return -1;
      }
  }
  if (au != 0 && !store_au_valid (au))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: AU %d of a note is not a FACS number (1-99)", store->path, au);
      return -1;
    }
  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  if (note->event_id > 0)
    {
      /* A note on an event spans the event. */
      n = store_query (store, "SELECT video_id, au, onset, offset FROM events WHERE id = ?",
                       store_row_int64_array, event, error, STORE_INT (note->event_id));
      if (n == 0)
        store_set_not_found (store, "event", note->event_id, error);
      if (n <= 0)
        goto fail;
      if (g_array_index (event, gint64, 0) != note->video_id)
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                       "%s: event %" G_GINT64_FORMAT " is not in video %" G_GINT64_FORMAT,
                       store->path, note->event_id, note->video_id);
          goto fail;
        }
      au = (int) g_array_index (event, gint64, 1);
      first = g_array_index (event, gint64, 2);
      last = g_array_index (event, gint64, 3);
    }
  if (!check_frames (store, note->video_id, first, last, "the note's", error)
      || (coder = store_coder_id (store, error)) == 0)
    goto fail;
  if (!store_query_run (store,
                        "INSERT INTO notes (video_id, first, last, au, event_id, text, coder_id, "
                        "time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", error,
                        STORE_INT (note->video_id), STORE_INT (first), STORE_INT (last),
                        STORE_INT (au), note->event_id > 0 ? STORE_INT (note->event_id) : STORE_NULL,
                        STORE_TEXT (note->text), STORE_INT (coder), STORE_REAL (store_time_now ())))
    goto fail;
  id = sqlite3_last_insert_rowid (store->db);
  if (store_note_change (store, FACET_STORE_CHANGE_LABELS, note->video_id, first, last, error)
      && store_commit (store, error))
    goto out;
fail:
  id = -1;
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return id;
}

gboolean
facet_store_delete_note (FacetStore *store,
                         gint64      note_id,
                         GError    **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return delete_row (store, "DELETE FROM notes WHERE id = ?", NULL, "note", note_id, error);
}

typedef struct
{
  GPtrArray  *notes;
  const char *needle;  /* casefolded search text, or NULL */
} NoteList;

static gboolean
note_row (sqlite3_stmt *row,
          gpointer      data,
          GError      **error)
{
  NoteList *list = data;
  const char *text = store_column_text (row, 6);
  const char *coder = store_column_text (row, 7);
  FacetStoreNote *n;

  /* The search ignores case in any script (SQLite's LIKE only folds
   * ASCII) and also finds the coder and the AU's code. */
  if (list->needle != NULL)
    {
      g_autofree char *hay = g_strdup_printf ("%s\n%s\nAU%02d", text, coder,
                                              sqlite3_column_int (row, 4));
      g_autofree char *folded = g_utf8_casefold (hay, -1);
      if (strstr (folded, list->needle) == NULL)
        return TRUE;
    }
  n = g_new0 (FacetStoreNote, 1);
  n->id = sqlite3_column_int64 (row, 0);
  n->video_id = sqlite3_column_int64 (row, 1);
  n->first = sqlite3_column_int64 (row, 2);
  n->last = sqlite3_column_int64 (row, 3);
  n->au = sqlite3_column_int (row, 4);
  n->event_id = sqlite3_column_type (row, 5) == SQLITE_NULL ? 0 : sqlite3_column_int64 (row, 5);
  n->text = g_strdup (text);
  n->coder = g_intern_string (coder);
  n->time = sqlite3_column_double (row, 8);
  g_ptr_array_add (list->notes, n);
  return TRUE;
}

GPtrArray *
facet_store_list_notes (FacetStore *store,
                        gint64      video_id,
                        const char *search,
                        GError    **error)
{
  g_autoptr (GPtrArray) notes = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_note_free);
  g_autofree char *needle = search && *search ? g_utf8_casefold (search, -1) : NULL;
  NoteList list = { notes, needle };

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store,
                   "SELECT n.id, n.video_id, n.first, n.last, n.au, n.event_id, n.text, c.name,"
                   " n.time FROM notes n JOIN coders c ON c.id = n.coder_id "
                   "WHERE (?1 = 0 OR n.video_id = ?1) ORDER BY n.video_id, n.first, n.id",
                   note_row, &list, error, STORE_INT (video_id)) < 0)
    return NULL;
  return g_steal_pointer (&notes);
}

/* ---- Exports ------------------------------------------------------------------------------- */

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void
append_field (GString    *out,
              const char *text)
{
  if (strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (out, text);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = text; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

static void
append_time (GString *out,
             gint64   frame,
             double   fps)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.6f", (double) frame / fps));
}

/* The video's file name by id, in @videos (numbered from 1). */
static const FacetStoreVideo *
find_video (GPtrArray *videos,
            gint64     id)
{
  for (guint i = 0; i < videos->len; i++)
    if (((FacetStoreVideo *) videos->pdata[i])->id == id)
      return videos->pdata[i];
  return NULL;
}

gboolean
facet_store_export_notes (FacetStore *store,
                          const char *path,
                          gint64      video_id,
                          GError    **error)
{
  g_autoptr (GPtrArray) videos = NULL, notes = NULL;
  g_autoptr (GString) out = g_string_new ("video,file,first_frame,first_time,last_frame,"
                                          "last_time,au,event,coder,text\n");

  g_return_val_if_fail (store != NULL && path != NULL, FALSE);

  if ((videos = facet_store_list_videos (store, error)) == NULL
      || (notes = facet_store_list_notes (store, video_id, NULL, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < notes->len; i++)
    {
      const FacetStoreNote *n = notes->pdata[i];
      const FacetStoreVideo *v = find_video (videos, n->video_id);
      g_autofree char *base = v ? g_path_get_basename (v->path) : g_strdup ("");
      double fps = v && v->fps > 0 ? v->fps : 25.0;

      g_string_append_printf (out, "%" G_GINT64_FORMAT ",", n->video_id);
      append_field (out, base);
      g_string_append_printf (out, ",%" G_GINT64_FORMAT ",", n->first);
      append_time (out, n->first, fps);
      g_string_append_printf (out, ",%" G_GINT64_FORMAT ",", n->last);
      /* The end of the last frame, as the events export has it. */
      append_time (out, n->last + 1, fps);
      if (n->au > 0)
        g_string_append_printf (out, ",AU%02d,", n->au);
      else
        g_string_append (out, ",,");
      if (n->event_id > 0)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, n->event_id);
      g_string_append_c (out, ',');
      append_field (out, n->coder);
      g_string_append_c (out, ',');
      append_field (out, n->text);
      g_string_append_c (out, '\n');
    }
  return facet_write_file_atomic (path, out->str, out->len, error);
}

gboolean
facet_store_export_marked_events (FacetStore *store,
                                  const char *path,
                                  gint64      video_id,
                                  GError    **error)
{
  g_autoptr (GPtrArray) videos = NULL;
  g_autoptr (GArray) events = NULL;
  g_autoptr (GString) out = g_string_new ("video,file,event,au,onset_frame,onset_time,"
                                          "apex_frame,apex_time,offset_frame,offset_time,"
                                          "coder\n");

  g_return_val_if_fail (store != NULL && path != NULL, FALSE);

  if ((videos = facet_store_list_videos (store, error)) == NULL
      || (events = facet_store_list_events (store, video_id, 0, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < events->len; i++)
    {
      const FacetStoreEvent *e = &g_array_index (events, FacetStoreEvent, i);
      const FacetStoreVideo *v = find_video (videos, e->video_id);
      g_autofree char *base = v ? g_path_get_basename (v->path) : g_strdup ("");
      double fps = v && v->fps > 0 ? v->fps : 25.0;

      g_string_append_printf (out, "%" G_GINT64_FORMAT ",", e->video_id);
      append_field (out, base);
      g_string_append_printf (out, ",%" G_GINT64_FORMAT ",AU%02d,%" G_GINT64_FORMAT ",",
                              e->id, e->au, e->onset);
      append_time (out, e->onset, fps);
      g_string_append_c (out, ',');
      if (e->apex >= 0)
        {
          g_string_append_printf (out, "%" G_GINT64_FORMAT ",", e->apex);
          append_time (out, e->apex, fps);
        }
      else
        g_string_append_c (out, ',');
      g_string_append_printf (out, ",%" G_GINT64_FORMAT ",", e->offset);
      append_time (out, e->offset + 1, fps);
      g_string_append_c (out, ',');
      append_field (out, e->coder);
      g_string_append_c (out, '\n');
    }
  return facet_write_file_atomic (path, out->str, out->len, error);
}

gboolean
store_scheme_extend (FacetStore *store,
                     int       **aus,
                     float     **thresholds,
                     int        *n_aus,
                     GError    **error)
{
  g_autofree int *scheme = NULL;
  GArray *all, *t;
  int n_scheme = 0;

  scheme = facet_store_get_scheme (store, &n_scheme, error);
  if (scheme == NULL)
    return n_scheme == 0 && (error == NULL || *error == NULL);
  all = g_array_new (FALSE, FALSE, sizeof (int));
  t = g_array_new (FALSE, FALSE, sizeof (float));
  if (*n_aus > 0)
    {
      g_array_append_vals (all, *aus, (guint) *n_aus);
      g_array_append_vals (t, *thresholds, (guint) *n_aus);
    }
  for (int i = 0; i < n_scheme; i++)
    {
      gboolean known = FALSE;
      for (guint a = 0; a < all->len; a++)
        known |= g_array_index (all, int, a) == scheme[i];
      if (!known)
        {
          g_array_append_val (all, scheme[i]);
          g_array_append_val (t, (float) { 0.5f });
        }
    }
  g_free (*aus);
  g_free (*thresholds);
  *n_aus = (int) all->len;
  *aus = (int *) (void *) g_array_free (all, FALSE);
  *thresholds = (float *) (void *) g_array_free (t, FALSE);
  return TRUE;
}

gboolean
store_events_csv_add_marked (FacetStore            *store,
                             const FacetStoreVideo *video,
                             GString               *out,
                             GError               **error)
{
  g_autoptr (GArray) events = facet_store_list_events (store, video->id, 0, error);
  double fps = video->fps > 0 ? video->fps : 25.0;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (events == NULL)
    return FALSE;
  for (guint i = 0; i < events->len; i++)
    {
      const FacetStoreEvent *e = &g_array_index (events, FacetStoreEvent, i);

      /* video,au,onset_frame,onset_time,apex_frame,apex_time,offset_frame,
       * offset_time,duration,peak_probability,source */
      g_string_append_printf (out, "%" G_GINT64_FORMAT ",AU%02d,%" G_GINT64_FORMAT ",", video->id,
                              e->au, e->onset);
      append_time (out, e->onset, fps);
      g_string_append_c (out, ',');
      if (e->apex >= 0)
        {
          g_string_append_printf (out, "%" G_GINT64_FORMAT ",", e->apex);
          append_time (out, e->apex, fps);
        }
      else
        g_string_append_c (out, ',');
      g_string_append_printf (out, ",%" G_GINT64_FORMAT ",", e->offset);
      append_time (out, e->offset + 1, fps);
      g_string_append_printf (out, ",%s,,marked\n",
                              g_ascii_formatd (buf, sizeof buf, "%.6f",
                                               (double) (e->offset + 1 - e->onset) / fps));
    }
  return TRUE;
}

/* One tier of time-aligned annotations, its slots appended to TIME_ORDER. */
static void
eaf_marks_tier (xmlNodePtr  root,
                xmlNodePtr  order,
                const char *tier_id,
                GArray     *spans,   /* gint64 pairs: start ms, end ms */
                GPtrArray  *values,
                guint      *n_slots,
                guint      *annotation)
{
  xmlNodePtr tier;
  char buf[64];

  if (values->len == 0)
    return;
  tier = xmlNewChild (root, NULL, BAD_CAST "TIER", NULL);
  xmlNewProp (tier, BAD_CAST "TIER_ID", BAD_CAST tier_id);
  xmlNewProp (tier, BAD_CAST "LINGUISTIC_TYPE_REF", BAD_CAST "facet-au");
  for (guint i = 0; i < values->len; i++)
    {
      gint64 ms[2] = { g_array_index (spans, gint64, 2 * i), g_array_index (spans, gint64,
                                                                            2 * i + 1) };
      xmlNodePtr ann = xmlNewChild (tier, NULL, BAD_CAST "ANNOTATION", NULL);
      xmlNodePtr al = xmlNewChild (ann, NULL, BAD_CAST "ALIGNABLE_ANNOTATION", NULL);

      for (int k = 0; k < 2; k++)
        {
          xmlNodePtr slot = xmlNewChild (order, NULL, BAD_CAST "TIME_SLOT", NULL);
          g_snprintf (buf, sizeof buf, "ts%u", ++*n_slots);
          xmlNewProp (slot, BAD_CAST "TIME_SLOT_ID", BAD_CAST buf);
          xmlNewProp (al, BAD_CAST (k == 0 ? "TIME_SLOT_REF1" : "TIME_SLOT_REF2"), BAD_CAST buf);
          g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, MAX (ms[k], k == 1 ? ms[0] + 1 : 0));
          xmlNewProp (slot, BAD_CAST "TIME_VALUE", BAD_CAST buf);
        }
      g_snprintf (buf, sizeof buf, "a%u", ++*annotation);
      xmlNewProp (al, BAD_CAST "ANNOTATION_ID", BAD_CAST buf);
      xmlNewTextChild (al, NULL, BAD_CAST "ANNOTATION_VALUE", BAD_CAST values->pdata[i]);
    }
}

gboolean
store_eaf_add_marks (FacetStore            *store,
                     const FacetStoreVideo *video,
                     xmlNodePtr             root,
                     guint                 *annotation,
                     GError               **error)
{
  g_autoptr (GArray) events = facet_store_list_events (store, video->id, 0, error);
  g_autoptr (GPtrArray) notes = events ? facet_store_list_notes (store, video->id, NULL, error)
                                       : NULL;
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  double fps = video->fps > 0 ? video->fps : 25.0;
  xmlNodePtr order = NULL;
  guint n_slots;

  if (notes == NULL)
    return FALSE;
  for (xmlNodePtr c = xmlFirstElementChild (root); c != NULL; c = xmlNextElementSibling (c))
    if (xmlStrEqual (c->name, BAD_CAST "TIME_ORDER"))
      order = c;
  g_return_val_if_fail (order != NULL, FALSE);
  n_slots = (guint) xmlChildElementCount (order);

  for (guint i = 0; i < events->len; i++)
    {
      const FacetStoreEvent *e = &g_array_index (events, FacetStoreEvent, i);
      gint64 ms[2] = { llround (e->onset / fps * 1000.0), llround ((e->offset + 1) / fps * 1000.0) };
      g_array_append_vals (spans, ms, 2);
      if (e->apex >= 0)
        g_ptr_array_add (values, g_strdup_printf ("AU%02d apex %" G_GINT64_FORMAT " (%s)", e->au,
                                                  e->apex, e->coder));
      else
        g_ptr_array_add (values, g_strdup_printf ("AU%02d (%s)", e->au, e->coder));
    }
  eaf_marks_tier (root, order, "Marked events", spans, values, &n_slots, annotation);
  g_array_set_size (spans, 0);
  g_ptr_array_set_size (values, 0);
  for (guint i = 0; i < notes->len; i++)
    {
      const FacetStoreNote *n = notes->pdata[i];
      gint64 ms[2] = { llround (n->first / fps * 1000.0), llround ((n->last + 1) / fps * 1000.0) };
      g_array_append_vals (spans, ms, 2);
      if (n->au > 0)
        g_ptr_array_add (values, g_strdup_printf ("AU%02d: %s (%s)", n->au, n->text, n->coder));
      else
        g_ptr_array_add (values, g_strdup_printf ("%s (%s)", n->text, n->coder));
    }
  eaf_marks_tier (root, order, "Notes", spans, values, &n_slots, annotation);
  return TRUE;
}
