/* store-predictions.c — per-frame face results and model predictions, the
 * decimated timeline and the review queue
 *
 * A prediction row holds one frame's probabilities for every AU of the
 * model as little-endian uint16 (p * 65535: 2 bytes per AU, resolution
 * 1.5e-5), keyed by (model, video, frame); a NULL blob means the frame was
 * analysed and had no face. */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <string.h>

#include "store-private.h"

/* The AU count of a model (0 and an error when it is unknown). */
static int
model_n_aus (FacetStore *store,
             gint64      model_id,
             GError    **error)
{
  g_autofree char *aus = NULL;
  g_autofree int *ids = NULL;
  gint64 rows;
  int n = 0;

  rows = store_query (store, "SELECT aus FROM models WHERE id = ?", store_row_text, &aus, error,
                      STORE_INT (model_id));
  if (rows > 0 && !store_parse_au_list (aus, &ids, &n))
    n = 0;
  if (rows == 0)
    store_set_not_found (store, "model", model_id, error);
  else if (rows > 0 && n == 0)
    g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                 "%s: model %" G_GINT64_FORMAT " has a damaged AU list", store->path, model_id);
  return n;
}

static void
pack_floats (const float *values,
             int          n,
             guint8      *out)
{
  for (int i = 0; i < n; i++)
    {
      guint32 bits;
      memcpy (&bits, &values[i], 4);
      bits = GUINT32_TO_LE (bits);
      memcpy (out + 4 * i, &bits, 4);
    }
}

static void
unpack_floats (const guint8 *blob,
               int           n,
               float        *out)
{
  for (int i = 0; i < n; i++)
    {
      guint32 bits;
      memcpy (&bits, blob + 4 * i, 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&out[i], &bits, 4);
    }
}

static void
pack_doubles (const double *values,
              int           n,
              guint8       *out)
{
  for (int i = 0; i < n; i++)
    {
      guint64 bits;
      memcpy (&bits, &values[i], 8);
      bits = GUINT64_TO_LE (bits);
      memcpy (out + 8 * i, &bits, 8);
    }
}

static void
unpack_doubles (const guint8 *blob,
                int           n,
                double       *out)
{
  for (int i = 0; i < n; i++)
    {
      guint64 bits;
      memcpy (&bits, blob + 8 * i, 8);
      bits = GUINT64_FROM_LE (bits);
      memcpy (&out[i], &bits, 8);
    }
}

/* ---- Timeline summaries ------------------------------------------------------
 * prediction_blocks holds, per FACET_STORE_TIMELINE_BLOCK frames of a model
 * and video: the number of frames with a face (u16), then per AU the
 * minimum and maximum (u16, as the predictions) and the sum (u32). Every
 * write of predictions updates the blocks it touches in its transaction. */

#define BLOCK FACET_STORE_TIMELINE_BLOCK

static void
put_u16 (guint8 *p,
         guint   v)
{
  p[0] = (guint8) (v & 0xff);
  p[1] = (guint8) (v >> 8);
}

static void
put_u32 (guint8 *p,
         guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8) (v >> (8 * i));
}

static guint
get_u16 (const guint8 *p)
{
  return p[0] | (p[1] << 8);
}

static guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static gboolean
flush_block (FacetStore   *store,
             gint64        model_id,
             gint64        video_id,
             gint64        block,
             int           n_aus,
             guint8       *stats,
             guint         count,
             GError      **error)
{
  if (count == 0)
    return TRUE;
  put_u16 (stats, count);
  return store_query_run (store, "INSERT OR REPLACE INTO prediction_blocks (model_id, video_id, "
                          "block, stats) VALUES (?, ?, ?, ?)", error, STORE_INT (model_id),
                          STORE_INT (video_id), STORE_INT (block),
                          STORE_BLOB (stats, 2 + 8 * n_aus));
}

/* The block being summed while store_update_blocks reads predictions. */
typedef struct
{
  FacetStore *store;
  gint64      model_id, video_id, block;
  int         n_aus;
  guint8     *stats;
  guint       count;
} BlockSum;

static gboolean
block_sum_row (sqlite3_stmt *row,
               gpointer      data,
               GError      **error)
{
  BlockSum *sum = data;
  const guint8 *blob = sqlite3_column_blob (row, 1);
  gint64 b = sqlite3_column_int64 (row, 0) / BLOCK;

  if (sqlite3_column_bytes (row, 1) < 2 * sum->n_aus)
    return TRUE;
  if (b != sum->block)
    {
      if (!flush_block (sum->store, sum->model_id, sum->video_id, sum->block, sum->n_aus,
                        sum->stats, sum->count, error))
        return FALSE;
      sum->block = b;
      sum->count = 0;
    }
  for (int a = 0; a < sum->n_aus; a++)
    {
      guint8 *s = sum->stats + 2 + 8 * a;
      guint v = get_u16 (blob + 2 * a);
      if (sum->count == 0)
        {
          put_u16 (s, v);
          put_u16 (s + 2, v);
          put_u32 (s + 4, v);
        }
      else
        {
          put_u16 (s, MIN (get_u16 (s), v));
          put_u16 (s + 2, MAX (get_u16 (s + 2), v));
          put_u32 (s + 4, get_u32 (s + 4) + v);
        }
    }
  sum->count++;
  return TRUE;
}

gboolean
store_update_blocks (FacetStore *store,
                     gint64      model_id,
                     gint64      video_id,
                     gint64      first_block,
                     gint64      last_block,
                     GError    **error)
{
  g_autofree guint8 *stats = NULL;
  BlockSum sum = { store, model_id, video_id, -1, 0, NULL, 0 };

  sum.n_aus = model_n_aus (store, model_id, error);
  if (sum.n_aus == 0)
    return FALSE;
  if (last_block < 0)
    last_block = G_MAXINT64 / BLOCK - 1;
  if (!store_query_run (store, "DELETE FROM prediction_blocks WHERE model_id = ? AND video_id = ? "
                        "AND block BETWEEN ? AND ?", error, STORE_INT (model_id),
                        STORE_INT (video_id), STORE_INT (first_block), STORE_INT (last_block)))
    return FALSE;

  stats = sum.stats = g_new0 (guint8, 2 + 8 * sum.n_aus);
  /* A statement of its own: the callback writes while it steps. */
  if (store_query_once (store,
                        "SELECT frame, probs FROM predictions WHERE model_id = ? AND video_id = ? "
                        "AND frame BETWEEN ? AND ? AND probs IS NOT NULL ORDER BY frame",
                        block_sum_row, &sum, error, STORE_INT (model_id), STORE_INT (video_id),
                        STORE_INT (first_block * BLOCK),
                        STORE_INT (last_block * BLOCK + BLOCK - 1)) < 0)
    return FALSE;
  return flush_block (store, model_id, video_id, sum.block, sum.n_aus, stats, sum.count, error);
}

gboolean
store_rebuild_blocks (FacetStore *store,
                      gint64      model_id,
                      gint64      video_id,
                      GError    **error)
{
  g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (model_id != 0)
    return store_update_blocks (store, model_id, video_id, 0, -1, error);
  if (store_query_once (store, "SELECT DISTINCT model_id, video_id FROM predictions",
                        store_row_int64_array, pairs, error) < 0)
    return FALSE;
  for (guint i = 0; i < pairs->len; i += 2)
    if (!store_update_blocks (store, g_array_index (pairs, gint64, i),
                              g_array_index (pairs, gint64, i + 1), 0, -1, error))
      return FALSE;
  return TRUE;
}

static gboolean
write_face_row (FacetStore             *store,
                gint64                  video_id,
                const FacetFrameResult *r,
                GError                **error)
{
  guint8 landmarks[8 * FACET_STORE_N_LANDMARKS], transform[48];

  if (r->has_landmarks)
    pack_floats (r->landmarks, 2 * FACET_STORE_N_LANDMARKS, landmarks);
  if (r->has_transform)
    pack_doubles (r->transform, 6, transform);
  return store_query_run (store,
                          "INSERT OR REPLACE INTO faces (video_id, frame, status, x, y, w, h, "
                          "landmarks, quality, time, score, transform) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error,
                          STORE_INT (video_id), STORE_INT (r->frame), STORE_INT (r->status),
                          STORE_REAL (r->box[0]), STORE_REAL (r->box[1]), STORE_REAL (r->box[2]),
                          STORE_REAL (r->box[3]),
                          STORE_BLOB (r->has_landmarks ? landmarks : NULL, sizeof landmarks),
                          STORE_REAL (r->quality), STORE_REAL (r->time), STORE_REAL (r->score),
                          STORE_BLOB (r->has_transform ? transform : NULL, sizeof transform));
}

static gboolean
write_locked (FacetStore             *store,
              gint64                  model_id,
              gint64                  video_id,
              const FacetFrameResult *results,
              gsize                   n,
              GError                **error)
{
  g_autofree guint8 *probs = NULL;
  gint64 n_frames = 0, lo = G_MAXINT64, hi = -1;
  int n_aus = 0;

  if (model_id != 0 && (n_aus = model_n_aus (store, model_id, error)) == 0)
    return FALSE;
  if (!store_video_exists (store, video_id, &n_frames, error))
    return FALSE;
  probs = g_new (guint8, 2 * MAX (n_aus, 1));
  for (gsize i = 0; i < n; i++)
    {
      const FacetFrameResult *r = &results[i];

      if (r->frame < 0 || r->frame >= n_frames)
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                       "frame %" G_GINT64_FORMAT " is outside video %" G_GINT64_FORMAT
                       " (frames 0-%" G_GINT64_FORMAT ")", r->frame, video_id, n_frames - 1);
          return FALSE;
        }
      if ((int) r->status < FACET_STORE_FACE_FOUND || (int) r->status > FACET_STORE_FACE_WHOLE)
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                       "face status %d at frame %" G_GINT64_FORMAT " is not a status",
                       (int) r->status, r->frame);
          return FALSE;
        }
      if (!write_face_row (store, video_id, r, error))
        return FALSE;
      if (model_id != 0)
        {
          if (r->probs != NULL)
            store_pack_probs (r->probs, n_aus, probs);
          if (!store_query_run (store, "INSERT OR REPLACE INTO predictions (model_id, video_id, "
                                "frame, probs) VALUES (?, ?, ?, ?)", error, STORE_INT (model_id),
                                STORE_INT (video_id), STORE_INT (r->frame),
                                STORE_BLOB (r->probs != NULL ? probs : NULL, 2 * n_aus)))
            return FALSE;
        }
      lo = MIN (lo, r->frame);
      hi = MAX (hi, r->frame);
    }
  if (n > 0 && model_id != 0
      && !store_update_blocks (store, model_id, video_id, lo / BLOCK, hi / BLOCK, error))
    return FALSE;
  return n == 0
         || store_note_change (store, FACET_STORE_CHANGE_PREDICTIONS, video_id, lo, hi, error);
}

gboolean
facet_store_write_results (FacetStore             *store,
                           gint64                  model_id,
                           gint64                  video_id,
                           const FacetFrameResult *results,
                           gsize                   n,
                           GError                **error)
{
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (results != NULL || n == 0, FALSE);

  store_lock (store);
  if (store_begin (store, error))
    {
      ok = write_locked (store, model_id, video_id, results, n, error);
      if (ok)
        ok = store_commit (store, error);
      else
        store_rollback (store);
    }
  store_unlock_and_notify (store);
  return ok;
}

static gboolean
face_row (sqlite3_stmt *row,
          gpointer      data,
          GError      **error)
{
  FacetFrameResult *out = data;
  const guint8 *lm = sqlite3_column_blob (row, 5);
  const guint8 *tf = sqlite3_column_blob (row, 9);

  out->status = sqlite3_column_int (row, 0);
  for (int k = 0; k < 4; k++)
    out->box[k] = (float) sqlite3_column_double (row, 1 + k);
  if (lm != NULL && sqlite3_column_bytes (row, 5) == 8 * FACET_STORE_N_LANDMARKS)
    {
      unpack_floats (lm, 2 * FACET_STORE_N_LANDMARKS, out->landmarks);
      out->has_landmarks = TRUE;
    }
  out->quality = (float) sqlite3_column_double (row, 6);
  out->time = sqlite3_column_double (row, 7);
  out->score = (float) sqlite3_column_double (row, 8);
  if (tf != NULL && sqlite3_column_bytes (row, 9) == 48)
    {
      unpack_doubles (tf, 6, out->transform);
      out->has_transform = TRUE;
    }
  return FALSE;
}

gboolean
facet_store_get_face (FacetStore       *store,
                      gint64            video_id,
                      gint64            frame,
                      FacetFrameResult *out,
                      gboolean         *found,
                      GError          **error)
{
  gint64 n;

  g_return_val_if_fail (store != NULL && out != NULL && found != NULL, FALSE);

  memset (out, 0, sizeof *out);
  out->frame = frame;
  n = store_query (store,
                   "SELECT status, x, y, w, h, landmarks, quality, time, score, transform "
                   "FROM faces WHERE video_id = ? AND frame = ?", face_row, out, error,
                   STORE_INT (video_id), STORE_INT (frame));
  *found = n > 0;
  return n >= 0;
}

/* Unpacks a probability blob in column @col into @probs (NULL: only found). */
typedef struct
{
  float *probs;
  int    n_aus;
} ProbsOut;

static gboolean
probs_row (sqlite3_stmt *row,
           gpointer      data,
           GError      **error)
{
  ProbsOut *p = data;

  if (p->probs != NULL)
    store_unpack_probs (sqlite3_column_blob (row, 0), sqlite3_column_bytes (row, 0), p->n_aus,
                        p->probs);
  return FALSE;
}

gboolean
facet_store_get_prediction (FacetStore *store,
                            gint64      model_id,
                            gint64      video_id,
                            gint64      frame,
                            float      *probs,
                            gboolean   *found,
                            GError    **error)
{
  ProbsOut p = { probs, 0 };
  gint64 n = -1;

  g_return_val_if_fail (store != NULL && found != NULL, FALSE);

  store_lock (store);
  p.n_aus = model_n_aus (store, model_id, error);
  if (p.n_aus > 0)
    n = store_query (store,
                     "SELECT probs FROM predictions WHERE model_id = ? AND video_id = ? AND frame = ?",
                     probs_row, &p, error, STORE_INT (model_id), STORE_INT (video_id),
                     STORE_INT (frame));
  store_unlock_and_notify (store);
  *found = n > 0;
  return n >= 0;
}

void
facet_prediction_set_free (FacetPredictionSet *set)
{
  if (set == NULL)
    return;
  g_free (set->au_ids);
  g_free (set->frames);
  g_free (set->probs);
  g_free (set);
}

typedef struct
{
  GArray *frames, *probs;
  int     n_aus;
} ProbsList;

static gboolean
probs_list_row (sqlite3_stmt *row,
                gpointer      data,
                GError      **error)
{
  ProbsList *list = data;
  gint64 f = sqlite3_column_int64 (row, 0);
  guint at = list->probs->len;

  g_array_append_val (list->frames, f);
  g_array_set_size (list->probs, at + list->n_aus);
  store_unpack_probs (sqlite3_column_blob (row, 1), sqlite3_column_bytes (row, 1), list->n_aus,
                      &g_array_index (list->probs, float, at));
  return TRUE;
}

FacetPredictionSet *
facet_store_get_predictions (FacetStore *store,
                             gint64      model_id,
                             gint64      video_id,
                             gint64      first,
                             gint64      last,
                             GError    **error)
{
  g_autoptr (FacetStoreModel) model = NULL;
  g_autoptr (GArray) frames = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) probs = g_array_new (FALSE, FALSE, sizeof (float));
  FacetPredictionSet *set;
  ProbsList list = { frames, probs, 0 };

  g_return_val_if_fail (store != NULL, NULL);

  model = facet_store_get_model (store, model_id, error);
  if (model == NULL)
    return NULL;
  list.n_aus = model->n_aus;
  if (last < 0)
    last = G_MAXINT64;
  if (store_query (store,
                   "SELECT frame, probs FROM predictions WHERE model_id = ? AND video_id = ? "
                   "AND frame BETWEEN ? AND ? ORDER BY frame", probs_list_row, &list, error,
                   STORE_INT (model_id), STORE_INT (video_id), STORE_INT (first),
                   STORE_INT (last)) < 0)
    return NULL;
  set = g_new0 (FacetPredictionSet, 1);
  set->n = frames->len;
  set->n_aus = model->n_aus;
  set->au_ids = g_memdup2 (model->au_ids, sizeof (int) * model->n_aus);
  set->frames = (gint64 *) g_array_free (g_steal_pointer (&frames), FALSE);
  set->probs = (float *) g_array_free (g_steal_pointer (&probs), FALSE);
  return set;
}

GArray *
facet_store_get_analysed_frames (FacetStore *store,
                                 gint64      model_id,
                                 gint64      video_id,
                                 GError    **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store,
                   "SELECT frame FROM predictions WHERE model_id = ? AND video_id = ? "
                   "ORDER BY frame", store_row_int64_array, out, error, STORE_INT (model_id),
                   STORE_INT (video_id)) < 0)
    return NULL;
  return g_steal_pointer (&out);
}

gint64
facet_store_count_analysed (FacetStore *store,
                            gint64      model_id,
                            gint64      video_id,
                            GError    **error)
{
  gint64 n = -1;

  g_return_val_if_fail (store != NULL, -1);

  if (store_query (store,
                   "SELECT count(*) FROM predictions WHERE model_id = ?1 "
                   "AND (?2 = 0 OR video_id = ?2)", store_row_int64, &n, error,
                   STORE_INT (model_id), STORE_INT (video_id)) < 0)
    return -1;
  return n;
}

/* ---- Timeline ------------------------------------------------------------------- */

/* Sums of one AU's probabilities into timeline buckets. */
typedef struct
{
  GArray       *buckets;
  const gint64 *starts;
  double       *sums;
  int           index;
  guint         b;       /* the bucket of the last row */
} TimelineSum;

static gboolean
timeline_raw_row (sqlite3_stmt *row,
                  gpointer      data,
                  GError      **error)
{
  TimelineSum *t = data;
  const guint8 *blob = sqlite3_column_blob (row, 1);
  gint64 f = sqlite3_column_int64 (row, 0);
  FacetTimelineBucket *k;
  float p;

  if (blob == NULL || sqlite3_column_bytes (row, 1) < 2 * (t->index + 1))
    return TRUE;
  while (t->b + 1 < t->buckets->len && f >= t->starts[t->b + 1])
    t->b++;
  p = (float) get_u16 (blob + 2 * t->index) / 65535.0f;
  k = &g_array_index (t->buckets, FacetTimelineBucket, t->b);
  k->n++;
  k->min = MIN (k->min, p);
  k->max = MAX (k->max, p);
  t->sums[t->b] += p;
  return TRUE;
}

static gboolean
timeline_block_row (sqlite3_stmt *row,
                    gpointer      data,
                    GError      **error)
{
  TimelineSum *t = data;
  const guint8 *stats = sqlite3_column_blob (row, 1);
  gint64 f = sqlite3_column_int64 (row, 0) * BLOCK;
  FacetTimelineBucket *k;
  const guint8 *s;

  if (stats == NULL || sqlite3_column_bytes (row, 1) < 2 + 8 * (t->index + 1))
    return TRUE;
  while (t->b + 1 < t->buckets->len && f >= t->starts[t->b + 1])
    t->b++;
  k = &g_array_index (t->buckets, FacetTimelineBucket, t->b);
  s = stats + 2 + 8 * t->index;
  k->n += get_u16 (stats);
  k->min = MIN (k->min, (float) get_u16 (s) / 65535.0f);
  k->max = MAX (k->max, (float) get_u16 (s + 2) / 65535.0f);
  t->sums[t->b] += (double) get_u32 (s + 4) / 65535.0;
  return TRUE;
}

/* Adds the frames [from, to] read from the predictions themselves. */
static gboolean
timeline_raw (FacetStore    *store,
              gint64         model_id,
              gint64         video_id,
              gint64         from,
              gint64         to,
              TimelineSum   *sum,
              GError       **error)
{
  /* Each call starts at the first bucket, as the rows come in frame order. */
  sum->b = 0;
  return from > to
         || store_query (store,
                         "SELECT frame, probs FROM predictions WHERE model_id = ? AND video_id = ? "
                         "AND frame BETWEEN ? AND ? ORDER BY frame", timeline_raw_row, sum, error,
                         STORE_INT (model_id), STORE_INT (video_id), STORE_INT (from),
                         STORE_INT (to)) >= 0;
}

GArray *
facet_store_get_timeline (FacetStore *store,
                          gint64      model_id,
                          gint64      video_id,
                          int         au,
                          gint64      first,
                          gint64      last,
                          guint       n_buckets,
                          GError    **error)
{
  g_autoptr (FacetStoreModel) model = NULL;
  g_autoptr (GArray) out = NULL;
  g_autofree double *sums = NULL;
  g_autofree gint64 *starts = NULL;
  gboolean blocks, ok;
  gint64 span;
  TimelineSum sum = { 0 };
  int index;

  g_return_val_if_fail (store != NULL, NULL);

  model = facet_store_get_model (store, model_id, error);
  if (model == NULL)
    return NULL;
  index = facet_store_model_find_au (model, au);
  if (index < 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "model %" G_GINT64_FORMAT " does not predict AU%02d", model_id, au);
      return NULL;
    }
  if (first < 0 || last < first || last > G_MAXINT64 / 4 || n_buckets == 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "timeline of frames %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT " in %u buckets "
                   "is not a range", first, last, n_buckets);
      return NULL;
    }
  span = last - first + 1;
  if ((gint64) n_buckets > span)
    n_buckets = (guint) span;

  /* Bucket starts: equal spans, or on block edges when spans are wide
   * enough to be made of whole blocks (consecutive starts then stay at
   * least a block apart). */
  blocks = span / n_buckets >= 2 * BLOCK;
  starts = g_new (gint64, n_buckets + 1);
  for (guint b = 0; b <= n_buckets; b++)
    {
      gint64 at = first + (gint64) ((double) b * span / n_buckets);
      if (b == 0)
        at = first;
      else if (b == n_buckets)
        at = last + 1;
      else if (blocks)
        at = (at + BLOCK / 2) / BLOCK * BLOCK;
      starts[b] = at;
    }
  out = g_array_sized_new (FALSE, FALSE, sizeof (FacetTimelineBucket), n_buckets);
  g_array_set_size (out, n_buckets);
  sums = g_new0 (double, n_buckets);
  for (guint b = 0; b < n_buckets; b++)
    {
      FacetTimelineBucket *k = &g_array_index (out, FacetTimelineBucket, b);
      k->first = starts[b];
      k->last = starts[b + 1] - 1;
      k->n = 0;
      k->min = INFINITY;
      k->max = -INFINITY;
    }

  sum = (TimelineSum) { out, starts, sums, index, 0 };
  store_lock (store);
  if (!blocks)
    ok = timeline_raw (store, model_id, video_id, first, last, &sum, error);
  else
    {
      /* Whole blocks from the summaries, the partial ones at both ends of
       * the range from the predictions. */
      gint64 fb = (first + BLOCK - 1) / BLOCK, lb = (last + 1) / BLOCK - 1;

      ok = timeline_raw (store, model_id, video_id, first, MIN (fb * BLOCK - 1, last), &sum, error);
      if (ok && lb >= fb)
        {
          ok = timeline_raw (store, model_id, video_id, (lb + 1) * BLOCK, last, &sum, error);
          sum.b = 0;
          ok = ok && store_query (store, "SELECT block, stats FROM prediction_blocks "
                                  "WHERE model_id = ? AND video_id = ? AND block BETWEEN ? AND ? "
                                  "ORDER BY block", timeline_block_row, &sum, error,
                                  STORE_INT (model_id), STORE_INT (video_id), STORE_INT (fb),
                                  STORE_INT (lb)) >= 0;
        }
    }
  store_unlock_and_notify (store);
  if (!ok)
    return NULL;
  for (guint b = 0; b < n_buckets; b++)
    {
      FacetTimelineBucket *k = &g_array_index (out, FacetTimelineBucket, b);
      if (k->n == 0)
        k->min = k->max = k->mean = NAN;
      else
        k->mean = (float) (sums[b] / k->n);
    }
  return g_steal_pointer (&out);
}

/* ---- Review queue ------------------------------------------------------------------- */

/* A bounded heap keeping the @limit best items by a comparison. */
typedef struct
{
  GArray       *items;
  guint         limit;
  GCompareFunc  better; /* < 0 when a should come before b in the queue */
} Best;

static void
best_sift_up (Best *h,
              guint i)
{
  FacetReviewItem *a = (FacetReviewItem *) h->items->data;

  /* The root is the worst kept item. */
  while (i > 0)
    {
      guint p = (i - 1) / 2;
      FacetReviewItem t;
      if (h->better (&a[p], &a[i]) >= 0)
        break;
      t = a[p], a[p] = a[i], a[i] = t;
      i = p;
    }
}

static void
best_sift_down (Best *h)
{
  FacetReviewItem *a = (FacetReviewItem *) h->items->data;
  guint n = h->items->len, i = 0;

  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, w = i;
      FacetReviewItem t;
      if (l < n && h->better (&a[w], &a[l]) < 0)
        w = l;
      if (r < n && h->better (&a[w], &a[r]) < 0)
        w = r;
      if (w == i)
        break;
      t = a[w], a[w] = a[i], a[i] = t;
      i = w;
    }
}

static void
best_add (Best                  *h,
          const FacetReviewItem *item)
{
  if (h->items->len < h->limit)
    {
      g_array_append_val (h->items, *item);
      best_sift_up (h, h->items->len - 1);
    }
  else if (h->limit > 0 && h->better (item, h->items->data) < 0)
    {
      g_array_index (h->items, FacetReviewItem, 0) = *item;
      best_sift_down (h);
    }
}

static int
compare_position (const FacetReviewItem *a,
                  const FacetReviewItem *b)
{
  if (a->video_id != b->video_id)
    return a->video_id < b->video_id ? -1 : 1;
  if (a->frame != b->frame)
    return a->frame < b->frame ? -1 : 1;
  return a->au - b->au;
}

/* Disagreements: the most confident model first. */
static int
better_disagree (gconstpointer pa,
                 gconstpointer pb)
{
  const FacetReviewItem *a = pa, *b = pb;

  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  return compare_position (a, b);
}

/* Uncertain: nearest the threshold first. */
static int
better_uncertain (gconstpointer pa,
                  gconstpointer pb)
{
  const FacetReviewItem *a = pa, *b = pb;

  if (a->score != b->score)
    return a->score < b->score ? -1 : 1;
  return compare_position (a, b);
}

/* What review_video collects over one video's predictions. */
typedef struct
{
  const FacetStoreModel *model;
  gint64                 video_id;
  int                    index;
  const float           *thresholds;
  FacetReviewKind        kinds;
  Best                  *disagree, *uncertain;
  /* (frame * 128 + AU) -> state, packed into the pointers themselves. */
  GHashTable            *labels;
  float                 *probs;
} Review;

static gboolean
review_label_row (sqlite3_stmt *row,
                  gpointer      data,
                  GError      **error)
{
  Review *r = data;
  guint64 key = (guint64) sqlite3_column_int64 (row, 0) * 128 + (guint64) sqlite3_column_int (row, 1);

  g_hash_table_insert (r->labels, GSIZE_TO_POINTER ((gsize) key),
                       GINT_TO_POINTER (sqlite3_column_int (row, 2)));
  return TRUE;
}

static gboolean
review_prediction_row (sqlite3_stmt *row,
                       gpointer      data,
                       GError      **error)
{
  Review *r = data;
  const FacetStoreModel *model = r->model;
  const guint8 *blob = sqlite3_column_blob (row, 1);
  gint64 frame = sqlite3_column_int64 (row, 0);

  if (blob == NULL)
    return TRUE;
  store_unpack_probs (blob, sqlite3_column_bytes (row, 1), model->n_aus, r->probs);
  for (int a = 0; a < model->n_aus; a++)
    {
      float p = r->probs[a], t = r->thresholds[a];
      FacetReviewItem item;
      guint64 key;
      int state;

      if ((r->index >= 0 && a != r->index) || isnan (p))
        continue;
      key = (guint64) frame * 128 + (guint64) model->au_ids[a];
      state = GPOINTER_TO_INT (g_hash_table_lookup (r->labels, GSIZE_TO_POINTER ((gsize) key)));
      item.video_id = r->video_id;
      item.frame = frame;
      item.au = model->au_ids[a];
      item.prob = p;
      item.threshold = t;
      item.label = state;
      item.score = fabsf (p - t);
      if (state == FACET_LABEL_PRESENT || state == FACET_LABEL_ABSENT)
        {
          gboolean says_present = p >= t;
          if ((r->kinds & FACET_REVIEW_DISAGREE) && says_present != (state == FACET_LABEL_PRESENT))
            {
              item.kind = FACET_REVIEW_DISAGREE;
              best_add (r->disagree, &item);
            }
        }
      else if (state == FACET_LABEL_UNSET && (r->kinds & FACET_REVIEW_UNCERTAIN))
        {
          item.kind = FACET_REVIEW_UNCERTAIN;
          best_add (r->uncertain, &item);
        }
    }
  return TRUE;
}

static gboolean
review_video (FacetStore            *store,
              const FacetStoreModel *model,
              gint64                 video_id,
              int                    index,
              const float           *thresholds,
              FacetReviewKind        kinds,
              Best                  *disagree,
              Best                  *uncertain,
              GError               **error)
{
  g_autoptr (GHashTable) labels = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autofree float *probs = g_new (float, model->n_aus);
  Review r = { model, video_id, index, thresholds, kinds, disagree, uncertain, labels, probs };
  gint64 layer = 0;

  return store_current_layer (store, FALSE, &layer, error)
         && store_query (store,
                         "SELECT frame, au, state FROM labels WHERE layer = ? AND video_id = ?",
                         review_label_row, &r, error, STORE_INT (layer), STORE_INT (video_id)) >= 0
         && store_query (store,
                         "SELECT frame, probs FROM predictions WHERE model_id = ? AND video_id = ?",
                         review_prediction_row, &r, error, STORE_INT (model->id),
                         STORE_INT (video_id)) >= 0;
}

GArray *
facet_store_review_queue (FacetStore     *store,
                          gint64          model_id,
                          gint64          video_id,
                          int             au,
                          FacetReviewKind kinds,
                          float           threshold,
                          guint           limit,
                          GError        **error)
{
  g_autoptr (FacetStoreModel) model = NULL;
  g_autoptr (GPtrArray) videos = NULL;
  g_autofree float *thresholds = NULL;
  Best disagree = { 0 }, uncertain = { 0 };
  GArray *out = NULL;
  gboolean ok = TRUE;
  int index = -1;

  g_return_val_if_fail (store != NULL, NULL);

  model = facet_store_get_model (store, model_id, error);
  if (model == NULL)
    return NULL;
  if (au != 0 && (index = facet_store_model_find_au (model, au)) < 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "model %" G_GINT64_FORMAT " does not predict AU%02d", model_id, au);
      return NULL;
    }
  if (!isnan (threshold) && !(threshold > 0.0f && threshold < 1.0f))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "threshold %g is outside (0, 1)", (double) threshold);
      return NULL;
    }
  if (video_id == 0)
    {
      videos = facet_store_list_videos (store, error);
      if (videos == NULL)
        return NULL;
    }
  else
    {
      FacetStoreVideo *v = facet_store_get_video (store, video_id, error);
      if (v == NULL)
        return NULL;
      videos = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_video_free);
      g_ptr_array_add (videos, v);
    }
  thresholds = store_model_thresholds (model, threshold);
  if (limit == 0)
    limit = G_MAXUINT;
  disagree.items = g_array_new (FALSE, FALSE, sizeof (FacetReviewItem));
  disagree.limit = limit;
  disagree.better = better_disagree;
  uncertain.items = g_array_new (FALSE, FALSE, sizeof (FacetReviewItem));
  uncertain.limit = limit;
  uncertain.better = better_uncertain;

  store_lock (store);
  for (guint i = 0; ok && i < videos->len; i++)
    ok = review_video (store, model, ((FacetStoreVideo *) videos->pdata[i])->id, index, thresholds,
                       kinds, &disagree, &uncertain, error);
  store_unlock_and_notify (store);

  if (ok)
    {
      g_array_sort (disagree.items, better_disagree);
      g_array_sort (uncertain.items, better_uncertain);
      out = g_array_new (FALSE, FALSE, sizeof (FacetReviewItem));
      g_array_append_vals (out, disagree.items->data, MIN (disagree.items->len, limit));
      if (out->len < limit)
        g_array_append_vals (out, uncertain.items->data,
                             MIN (uncertain.items->len, limit - out->len));
    }
  g_array_unref (disagree.items);
  g_array_unref (uncertain.items);
  return out;
}
