/* store-coding.c — FACS coding as labs do it: intensity letters, the
 * consensus (final) layer built from the coders' layers, and the segments
 * marked for double coding (the reliability sample)
 *
 * Layers themselves live in store-labels.c (every label query names its
 * layer); this file holds what is built on top of them. */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <string.h>

#include "store-private.h"

/* ---- Intensity -------------------------------------------------------------------------------- */

int
facet_intensity_to_level (float intensity)
{
  long level;

  if (isnan (intensity) || intensity <= 0.0f)
    return 0;
  /* An imported continuous value takes the nearest level; anything above 0 is at least A. */
  level = (long) floorf (intensity * FACET_INTENSITY_LEVELS + 0.5f);
  return (int) CLAMP (level, 1, FACET_INTENSITY_LEVELS);
}

float
facet_intensity_from_level (int level)
{
  if (level < 1 || level > FACET_INTENSITY_LEVELS)
    return NAN;
  return (float) level / FACET_INTENSITY_LEVELS;
}

char
facet_intensity_to_letter (float intensity)
{
  int level = facet_intensity_to_level (intensity);

  return level == 0 ? '\0' : (char) ('A' + level - 1);
}

float
facet_intensity_from_letter (char letter)
{
  char up = g_ascii_toupper (letter);

  if (up < 'A' || up > 'E')
    return NAN;
  return facet_intensity_from_level (up - 'A' + 1);
}

/* ---- Consensus -------------------------------------------------------------------------------- */

gint64
facet_store_resolve_labels (FacetStore       *store,
                            const FacetLabel *labels,
                            gsize             n,
                            const char       *taken_from,
                            const char       *description,
                            GError          **error)
{
  g_autofree char *from = NULL, *desc = NULL;
  gint64 id = -1;

  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (labels != NULL || n == 0, -1);

  if (taken_from != NULL)
    from = g_utf8_make_valid (taken_from, MIN (strlen (taken_from), 256));
  if (description != NULL)
    desc = g_strdup (description);
  else if (n == 1)
    desc = g_strdup_printf ("resolve AU%02d at frame %" G_GINT64_FORMAT " of video %" G_GINT64_FORMAT
                            " (%s)", labels[0].au, labels[0].frame, labels[0].video_id,
                            from ? from : "new value");
  else
    desc = g_strdup_printf ("resolve %" G_GSIZE_FORMAT " labels (%s)", n, from ? from : "new values");

  store_lock (store);
  if (store_begin (store, error))
    {
      /* Always the final layer (0), whichever layer the store shows. */
      id = store_write_labels_locked (store, 0, labels, n, FACET_CHANGESET_RESOLVE, desc, from,
                                      error);
      if (id < 0)
        store_rollback (store);
      else if (!store_commit (store, error))
        id = -1;
    }
  store_unlock_and_notify (store);
  return id;
}

gint64
facet_store_resolve_label (FacetStore       *store,
                           gint64            video_id,
                           gint64            frame,
                           int               au,
                           const FacetLabel *chosen,
                           const char       *taken_from,
                           GError          **error)
{
  FacetLabel l;

  g_return_val_if_fail (store != NULL && chosen != NULL, -1);

  l = *chosen;
  l.video_id = video_id;
  l.frame = frame;
  l.au = au;
  return facet_store_resolve_labels (store, &l, 1, taken_from, NULL, error);
}

typedef struct
{
  gboolean *resolved;
  char    **taken_from;
  char    **resolver;
} Resolution;

static gboolean
resolution_row (sqlite3_stmt *row,
                gpointer      data,
                GError      **error)
{
  Resolution *r = data;

  if (sqlite3_column_int (row, 0) != FACET_CHANGESET_RESOLVE)
    return FALSE;
  if (r->resolved != NULL)
    *r->resolved = TRUE;
  if (r->taken_from != NULL && sqlite3_column_type (row, 1) != SQLITE_NULL)
    *r->taken_from = g_strdup (store_column_text (row, 1));
  if (r->resolver != NULL)
    *r->resolver = g_strdup (store_column_text (row, 2));
  return FALSE;
}

gboolean
facet_store_get_resolution (FacetStore *store,
                            gint64      video_id,
                            gint64      frame,
                            int         au,
                            gboolean   *resolved,
                            char      **taken_from,
                            char      **resolver,
                            GError    **error)
{
  Resolution r = { resolved, taken_from, resolver };

  g_return_val_if_fail (store != NULL, FALSE);

  if (resolved != NULL)
    *resolved = FALSE;
  if (taken_from != NULL)
    *taken_from = NULL;
  if (resolver != NULL)
    *resolver = NULL;
  return store_query (store,
                      "SELECT s.kind, h.taken_from, c.name FROM label_history h "
                      "JOIN changesets s ON s.id = h.changeset_id JOIN coders c ON c.id = s.coder_id "
                      "WHERE h.layer = 0 AND h.video_id = ? AND h.frame = ? AND h.au = ? "
                      "ORDER BY h.id DESC LIMIT 1", resolution_row, &r, error,
                      STORE_INT (video_id), STORE_INT (frame), STORE_INT (au)) >= 0;
}

static gboolean
same_code (FacetLabelState sa,
           float           ia,
           FacetLabelState sb,
           float           ib)
{
  if (sa != sb)
    return FALSE;
  return sa != FACET_LABEL_PRESENT || facet_intensity_to_level (ia) == facet_intensity_to_level (ib);
}

static float
column_intensity (sqlite3_stmt *st,
                  int           col)
{
  return sqlite3_column_type (st, col) == SQLITE_NULL ? NAN : (float) sqlite3_column_double (st, col);
}

typedef struct
{
  GArray  *out;
  gboolean unresolved_only;
  guint    limit;
} Disagreements;

static gboolean
disagreement_row (sqlite3_stmt *row,
                  gpointer      data,
                  GError      **error)
{
  Disagreements *dis = data;
  FacetDisagreement d;

  d.video_id = sqlite3_column_int64 (row, 0);
  d.frame = sqlite3_column_int64 (row, 1);
  d.au = sqlite3_column_int (row, 2);
  d.state_a = sqlite3_column_int (row, 3);
  d.intensity_a = column_intensity (row, 4);
  d.state_b = sqlite3_column_int (row, 5);
  d.intensity_b = column_intensity (row, 6);
  d.final_state = sqlite3_column_type (row, 7) == SQLITE_NULL ? FACET_LABEL_UNSET
                                                               : sqlite3_column_int (row, 7);
  d.final_intensity = column_intensity (row, 8);
  if (same_code (d.state_a, d.intensity_a, d.state_b, d.intensity_b))
    return TRUE;
  if (dis->unresolved_only
      && (same_code (d.final_state, d.final_intensity, d.state_a, d.intensity_a)
          || same_code (d.final_state, d.final_intensity, d.state_b, d.intensity_b)))
    return TRUE;
  g_array_append_val (dis->out, d);
  /* At the limit: stop (not an error). */
  return dis->limit == 0 || dis->out->len < dis->limit;
}

GArray *
facet_store_list_disagreements (FacetStore *store,
                                const char *a,
                                const char *b,
                                gint64      video_id,
                                int         au,
                                gboolean    unresolved_only,
                                guint       limit,
                                GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (FacetDisagreement));
  Disagreements dis = { out, unresolved_only, limit };
  gint64 la = 0, lb = 0;
  gboolean ok;

  g_return_val_if_fail (store != NULL, NULL);

  store_lock (store);
  ok = store_layer_id (store, a, FALSE, &la, error) && store_layer_id (store, b, FALSE, &lb, error);
  /* A layer nobody wrote (-1): nothing differs. */
  if (ok && la >= 0 && lb >= 0)
    ok = store_query (store,
                      "SELECT a.video_id, a.frame, a.au, a.state, a.intensity, b.state, "
                      "b.intensity, f.state, f.intensity FROM labels a "
                      "JOIN labels b ON b.layer = ?2 AND b.video_id = a.video_id "
                      "AND b.frame = a.frame AND b.au = a.au "
                      "LEFT JOIN labels f ON f.layer = 0 AND f.video_id = a.video_id "
                      "AND f.frame = a.frame AND f.au = a.au "
                      "WHERE a.layer = ?1 AND (?3 = 0 OR a.video_id = ?3) AND (?4 = 0 OR a.au = ?4) "
                      "ORDER BY a.video_id, a.frame, a.au", disagreement_row, &dis, error,
                      STORE_INT (la), STORE_INT (lb), STORE_INT (video_id), STORE_INT (au)) >= 0;
  store_unlock_and_notify (store);
  return ok ? g_steal_pointer (&out) : NULL;
}

typedef struct
{
  GArray  *cells;
  gboolean overwrite;
  gint64   differ;
} Agreed;

static gboolean
agreed_row (sqlite3_stmt *row,
            gpointer      data,
            GError      **error)
{
  Agreed *ag = data;
  FacetLabel l = { 0 };

  l.video_id = sqlite3_column_int64 (row, 0);
  l.frame = sqlite3_column_int64 (row, 1);
  l.au = sqlite3_column_int (row, 2);
  l.state = sqlite3_column_int (row, 3);
  l.intensity = column_intensity (row, 4);
  l.source = FACET_LABEL_SOURCE_HUMAN;
  if (!same_code (l.state, l.intensity, sqlite3_column_int (row, 5), column_intensity (row, 6)))
    {
      ag->differ++;
      return TRUE;
    }
  if (!ag->overwrite && sqlite3_column_type (row, 7) != SQLITE_NULL)
    return TRUE;
  g_array_append_val (ag->cells, l);
  return TRUE;
}

gint64
facet_store_resolve_agreed (FacetStore *store,
                            const char *a,
                            const char *b,
                            gint64      video_id,
                            gboolean    overwrite,
                            gint64     *n_copied,
                            gint64     *n_disagree,
                            GError    **error)
{
  g_autoptr (GArray) cells = g_array_new (FALSE, FALSE, sizeof (FacetLabel));
  g_autofree char *from = NULL, *desc = NULL;
  Agreed ag = { cells, overwrite, 0 };
  gint64 la = 0, lb = 0, id = -1;

  g_return_val_if_fail (store != NULL, -1);

  if (n_copied != NULL)
    *n_copied = 0;
  if (n_disagree != NULL)
    *n_disagree = 0;
  from = g_strdup_printf ("%s,%s", a ? a : "final", b ? b : "final");
  desc = g_strdup_printf ("labels %s agree on", from);
  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  if (!store_layer_id (store, a, FALSE, &la, error) || !store_layer_id (store, b, FALSE, &lb, error))
    goto fail;
  if (la < 0 || lb < 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                   "%s: coder “%s” has no layer of their own", store->path, la < 0 ? a : b);
      goto fail;
    }
  if (store_query (store,
                   "SELECT a.video_id, a.frame, a.au, a.state, a.intensity, b.state, b.intensity, "
                   "f.state FROM labels a JOIN labels b ON b.layer = ?2 AND b.video_id = a.video_id "
                   "AND b.frame = a.frame AND b.au = a.au "
                   "LEFT JOIN labels f ON f.layer = 0 AND f.video_id = a.video_id "
                   "AND f.frame = a.frame AND f.au = a.au "
                   "WHERE a.layer = ?1 AND (?3 = 0 OR a.video_id = ?3) "
                   "ORDER BY a.video_id, a.frame, a.au", agreed_row, &ag, error,
                   STORE_INT (la), STORE_INT (lb), STORE_INT (video_id)) < 0)
    goto fail;
  id = store_write_labels_locked (store, 0, (FacetLabel *) cells->data, cells->len,
                                  FACET_CHANGESET_RESOLVE, desc, from, error);
  if (id < 0 || !store_commit (store, error))
    {
      if (store->tx_depth > 0)
        store_rollback (store);
      id = -1;
      goto out;
    }
  if (n_copied != NULL)
    *n_copied = id > 0 ? (gint64) cells->len : 0;
  if (n_disagree != NULL)
    *n_disagree = ag.differ;
  goto out;
fail:
  id = -1;
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return id;
}

/* ---- The reliability sample ------------------------------------------------------------------- */

void
facet_reliability_segment_free (FacetReliabilitySegment *segment)
{
  if (segment == NULL)
    return;
  g_free (segment->subject);
  g_free (segment);
}

typedef struct
{
  gint64 first, last;
} Span;

static gboolean
span_free (GArray *taken,
           gint64  first,
           gint64  last)
{
  for (guint i = 0; i < taken->len; i++)
    {
      const Span *s = &g_array_index (taken, Span, i);
      if (first <= s->last && s->first <= last)
        return FALSE;
    }
  return TRUE;
}

static gboolean
span_row (sqlite3_stmt *row,
          gpointer      data,
          GError      **error)
{
  Span s = { sqlite3_column_int64 (row, 0), sqlite3_column_int64 (row, 1) };

  g_array_append_val ((GArray *) data, s);
  return TRUE;
}

static GArray *
read_taken (FacetStore *store,
            gint64      video_id,
            GError    **error)
{
  g_autoptr (GArray) taken = g_array_new (FALSE, FALSE, sizeof (Span));

  if (store_query (store, "SELECT first, last FROM reliability_segments WHERE video_id = ?",
                   span_row, taken, error, STORE_INT (video_id)) < 0)
    return NULL;
  return g_steal_pointer (&taken);
}

static gboolean
insert_segment (FacetStore *store,
                gint64      sample_id,
                gint64      video_id,
                gint64      first,
                gint64      last,
                GError    **error)
{
  return store_query_run (store, "INSERT INTO reliability_segments (sample_id, video_id, first, "
                          "last) VALUES (?, ?, ?, ?)", error,
                          sample_id != 0 ? STORE_INT (sample_id) : STORE_NULL, STORE_INT (video_id),
                          STORE_INT (first), STORE_INT (last));
}

/* Random non-overlapping segments of @seg frames in one video until @need
 * frames are covered (or no room is left): random starts first, then a
 * sweep from a random point for the gaps random starts keep missing. */
static gboolean
sample_video (FacetStore            *store,
              GRand                 *rand,
              gint64                 sample_id,
              const FacetStoreVideo *video,
              double                 percent,
              double                 seconds,
              GError               **error)
{
  g_autoptr (GArray) taken = read_taken (store, video->id, error);
  gint64 n = video->n_frames;
  gint64 seg = MAX (1, (gint64) llround (seconds * video->fps));
  gint64 need = (gint64) ceil (percent / 100.0 * (double) n - 1e-9);
  gint64 covered = 0;

  if (taken == NULL)
    return FALSE;
  if (n <= 0 || need <= 0)
    return TRUE;
  seg = MIN (seg, n);
  for (guint tries = 0; covered < need && tries < 2000; tries++)
    {
      gint64 start = n - seg > 0 ? (gint64) g_rand_double_range (rand, 0, (double) (n - seg + 1)) : 0;
      Span s;
      start = MIN (start, n - seg);
      s = (Span) { start, start + seg - 1 };
      if (!span_free (taken, s.first, s.last))
        continue;
      if (!insert_segment (store, sample_id, video->id, s.first, s.last, error))
        return FALSE;
      g_array_append_val (taken, s);
      covered += seg;
    }
  if (covered < need)
    {
      gint64 origin = (gint64) g_rand_double_range (rand, 0, (double) n);
      for (gint64 k = 0; k < n && covered < need; k++)
        {
          gint64 start = (origin + k) % n;
          Span s = { start, start + seg - 1 };
          if (s.last >= n || !span_free (taken, s.first, s.last))
            continue;
          if (!insert_segment (store, sample_id, video->id, s.first, s.last, error))
            return FALSE;
          g_array_append_val (taken, s);
          covered += seg;
        }
    }
  return TRUE;
}

gint64
facet_store_sample_reliability (FacetStore               *store,
                                const FacetSampleOptions *options,
                                GError                  **error)
{
  g_autoptr (GPtrArray) videos = NULL, subjects = NULL;
  g_autoptr (GRand) rand = NULL;
  gint64 sample_id = 0, coder;

  g_return_val_if_fail (store != NULL && options != NULL, 0);

  if (!(options->percent > 0.0 && options->percent <= 100.0))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "a reliability sample of %g %% of the frames: give more than 0 and at most 100",
                   options->percent);
      return 0;
    }
  if (!(options->seconds > 0.0 && options->seconds < 86400.0))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "a segment length of %g s: give a positive number of seconds", options->seconds);
      return 0;
    }
  videos = facet_store_list_videos (store, error);
  subjects = videos ? facet_store_list_subjects (store, error) : NULL;
  if (subjects == NULL)
    return 0;
  if (options->video_id != 0 && (options->video_id < 1 || options->video_id > (gint64) videos->len))
    {
      store_set_not_found (store, "video", options->video_id, error);
      return 0;
    }
  rand = g_rand_new_with_seed (options->seed);

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  coder = store_coder_id (store, error);
  if (coder == 0
      || !store_query_run (store, "INSERT INTO reliability_samples (created, percent, seconds, "
                           "seed, coder_id) VALUES (?, ?, ?, ?, ?)", error,
                           STORE_REAL (store_time_now ()), STORE_REAL (options->percent),
                           STORE_REAL (options->seconds), STORE_INT (options->seed),
                           STORE_INT (coder)))
    goto fail;
  sample_id = sqlite3_last_insert_rowid (store->db);
  /* Stratified: subject by subject, each of their videos gets its share, so
   * every subject is represented by the same part of their frames. */
  for (guint s = 0; s < subjects->len; s++)
    {
      const FacetStoreSubject *subject = subjects->pdata[s];
      for (guint v = 0; v < videos->len; v++)
        {
          const FacetStoreVideo *video = videos->pdata[v];
          if (video->subject_id != subject->id
              || (options->video_id != 0 && video->id != options->video_id))
            continue;
          if (!sample_video (store, rand, sample_id, video, options->percent, options->seconds,
                             error))
            goto fail;
        }
    }
  if (!store_note_change (store, FACET_STORE_CHANGE_SAMPLES, options->video_id, 0, -1, error)
      || !store_commit (store, error))
    {
      sample_id = 0;
      goto out;
    }
  goto out;
fail:
  sample_id = 0;
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return sample_id;
}

gint64
facet_store_mark_reliability (FacetStore *store,
                              gint64      video_id,
                              gint64      first,
                              gint64      last,
                              GError    **error)
{
  gint64 n_frames = 0, id = 0;

  g_return_val_if_fail (store != NULL, 0);

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  if (!store_video_exists (store, video_id, &n_frames, error))
    goto fail;
  if (first < 0 || last < first || last >= n_frames)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "frames %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT " are not inside video %"
                   G_GINT64_FORMAT " (frames 0-%" G_GINT64_FORMAT ")", first, last, video_id,
                   n_frames - 1);
      goto fail;
    }
  if (!insert_segment (store, 0, video_id, first, last, error))
    goto fail;
  id = sqlite3_last_insert_rowid (store->db);
  if (!store_note_change (store, FACET_STORE_CHANGE_SAMPLES, video_id, first, last, error)
      || !store_commit (store, error))
    id = 0;
  goto out;
fail:
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return id;
}

gboolean
facet_store_clear_reliability (FacetStore *store,
                               gint64      segment_id,
                               GError    **error)
{
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL, FALSE);

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  if (!store_query_run (store, "DELETE FROM reliability_segments WHERE ?1 = 0 OR id = ?1", error,
                        STORE_INT (segment_id)))
    goto fail;
  if (segment_id != 0 && sqlite3_changes (store->db) == 0)
    {
      store_set_not_found (store, "reliability segment", segment_id, error);
      goto fail;
    }
  if (!store_exec (store, "DELETE FROM reliability_samples WHERE id NOT IN "
                   "(SELECT sample_id FROM reliability_segments WHERE sample_id IS NOT NULL)", error)
      || !store_note_change (store, FACET_STORE_CHANGE_SAMPLES, 0, 0, -1, error))
    goto fail;
  ok = store_commit (store, error);
  goto out;
fail:
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return ok;
}

static gboolean
segment_row (sqlite3_stmt *row,
             gpointer      data,
             GError      **error)
{
  FacetReliabilitySegment *seg = g_new0 (FacetReliabilitySegment, 1);

  seg->id = sqlite3_column_int64 (row, 0);
  seg->sample_id = sqlite3_column_int64 (row, 1);
  seg->video_id = sqlite3_column_int64 (row, 2);
  seg->first = sqlite3_column_int64 (row, 3);
  seg->last = sqlite3_column_int64 (row, 4);
  seg->subject = g_strdup (store_column_text (row, 5));
  g_ptr_array_add (data, seg);
  return TRUE;
}

GPtrArray *
facet_store_list_reliability (FacetStore *store,
                              gint64      video_id,
                              GError    **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_reliability_segment_free);

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store,
                   "SELECT r.id, r.sample_id, r.video_id, r.first, r.last, s.name "
                   "FROM reliability_segments r JOIN videos v ON v.id = r.video_id "
                   "JOIN subjects s ON s.id = v.subject_id "
                   "WHERE ?1 = 0 OR r.video_id = ?1 ORDER BY r.video_id, r.first, r.id",
                   segment_row, out, error, STORE_INT (video_id)) < 0)
    return NULL;
  return g_steal_pointer (&out);
}
