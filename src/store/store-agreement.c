/* store-agreement.c — inter-coder reliability between two layers (or a
 * layer and a model): frame-level agreement and Cohen's kappa, FACS event
 * agreement, and intensity agreement (linear weighted kappa, ICC(3,1))
 *
 * docs/store.md writes out every formula; tests/store/test_agreement.py
 * checks each against a numpy reference. */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <string.h>

#include "store-private.h"

/* Who a "coder" argument names. */
typedef struct
{
  char            *name;
  gboolean         is_model;
  gint64           layer;     /* stored layer value (0: final) */
  FacetStoreModel *model;
  float           *thresholds;
} Coder;

static void
coder_clear (Coder *c)
{
  g_free (c->name);
  g_clear_pointer (&c->model, facet_store_model_free);
  g_free (c->thresholds);
}

static gboolean
coder_resolve (FacetStore                  *store,
               const char                  *spec,
               const FacetAgreementOptions *options,
               Coder                       *c,
               GError                     **error)
{
  memset (c, 0, sizeof *c);
  c->name = g_strdup (spec);
  if (g_str_equal (spec, "final"))
    return TRUE;
  if (g_str_equal (spec, "model") || g_str_has_prefix (spec, "model:"))
    {
      gint64 id = 0;
      c->is_model = TRUE;
      if (spec[5] == ':')
        {
          if (!g_ascii_string_to_signed (spec + 6, 10, 1, G_MAXINT64, &id, NULL))
            {
              g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                           "“%s” names no model: write model:N with N a model number", spec);
              return FALSE;
            }
        }
      else
        {
          GError *local = NULL;
          id = facet_store_latest_model (store, &local);
          if (id == 0)
            {
              if (local != NULL)
                g_propagate_error (error, local);
              else
                g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                             "%s: “model” as a coder: the project has no model", store->path);
              return FALSE;
            }
        }
      c->model = facet_store_get_model (store, id, error);
      if (c->model == NULL)
        return FALSE;
      /* Only a threshold inside (0, 1) overrides the model's own (a zeroed struct does not). */
      c->thresholds = store_model_thresholds (c->model, options != NULL && options->threshold > 0.0f
                                                        && options->threshold < 1.0f
                                                        ? options->threshold : NAN);
      return TRUE;
    }
  if (!store_layer_id (store, spec, FALSE, &c->layer, error))
    return FALSE;
  if (c->layer < 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                   "%s: coder “%s” has no layer of their own (coders with one are listed by "
                   "`facet-cli labels layers`)", store->path, spec);
      return FALSE;
    }
  return TRUE;
}

static int
compare_int (gconstpointer a,
             gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

/* The AUs a coder codes in the videos considered (ascending). */
static GArray *
coder_aus (FacetStore  *store,
           const Coder *c,
           gint64       video_id,
           GError     **error)
{
  g_autoptr (GArray) aus = g_array_new (FALSE, FALSE, sizeof (int));

  if (c->is_model)
    {
      for (int a = 0; a < c->model->n_aus; a++)
        g_array_append_val (aus, c->model->au_ids[a]);
      return g_steal_pointer (&aus);
    }
  if (store_query (store, "SELECT DISTINCT au FROM labels WHERE layer = ?1 "
                   "AND (?2 = 0 OR video_id = ?2) ORDER BY au", store_row_int_array, aus, error,
                   STORE_INT (c->layer), STORE_INT (video_id)) < 0)
    return NULL;
  return g_steal_pointer (&aus);
}

static gboolean
has_au (GArray *aus,
        int     au)
{
  for (guint i = 0; i < aus->len; i++)
    if (g_array_index (aus, int, i) == au)
      return TRUE;
  return FALSE;
}

/* A coder's codes in one video: [frame * n_aus + a] state (0: none) and
 * intensity level (0: none). */
typedef struct
{
  guint8 *state;
  guint8 *level;
} Codes;

/* What label_code_row fills: @codes of @video, AU -> column @index. */
typedef struct
{
  Codes                 *codes;
  const FacetStoreVideo *video;
  const int             *index;
  guint                  n_aus;
} CodesFill;

static gboolean
label_code_row (sqlite3_stmt *row,
                gpointer      data,
                GError      **error)
{
  CodesFill *fill = data;
  gint64 f = sqlite3_column_int64 (row, 0);
  int au = sqlite3_column_int (row, 1), a = au >= 0 && au < 100 ? fill->index[au] : -1;
  gsize k;

  if (a < 0 || f < 0 || f >= fill->video->n_frames)
    return TRUE;
  k = (gsize) f * fill->n_aus + a;
  fill->codes->state[k] = (guint8) sqlite3_column_int (row, 2);
  if (sqlite3_column_type (row, 3) != SQLITE_NULL)
    fill->codes->level[k] = (guint8) facet_intensity_to_level ((float) sqlite3_column_double (row, 3));
  return TRUE;
}

static gboolean
coder_fill (FacetStore            *store,
            const Coder           *c,
            const FacetStoreVideo *video,
            GArray                *aus,
            Codes                 *codes,
            GError               **error)
{
  gsize cells = (gsize) video->n_frames * aus->len;
  int index[100];
  CodesFill fill = { codes, video, index, aus->len };

  codes->state = g_malloc0 (cells);
  codes->level = g_malloc0 (cells);
  for (int i = 0; i < 100; i++)
    index[i] = -1;
  for (guint a = 0; a < aus->len; a++)
    index[g_array_index (aus, int, a)] = (int) a;

  if (c->is_model)
    {
      g_autoptr (FacetPredictionSet) set = facet_store_get_predictions (store, c->model->id,
                                                                        video->id, 0, -1, error);
      if (set == NULL)
        return FALSE;
      for (gsize i = 0; i < set->n; i++)
        {
          gint64 f = set->frames[i];
          if (f < 0 || f >= video->n_frames)
            continue;
          for (int m = 0; m < set->n_aus; m++)
            {
              int au = set->au_ids[m], a = au >= 0 && au < 100 ? index[au] : -1;
              float p = set->probs[i * set->n_aus + m];
              if (a < 0 || isnan (p))
                continue;
              codes->state[(gsize) f * aus->len + a] = p >= c->thresholds[m] ? FACET_LABEL_PRESENT
                                                                              : FACET_LABEL_ABSENT;
            }
        }
      return TRUE;
    }
  return store_query (store, "SELECT frame, au, state, intensity FROM labels "
                      "WHERE layer = ? AND video_id = ?", label_code_row, &fill, error,
                      STORE_INT (c->layer), STORE_INT (video->id)) >= 0;
}

/* Running sums of one AU over the videos. */
typedef struct
{
  gint64 n11, n10, n01, n00;
  gint64 events_a, events_b, matched, onset, offset;
  int    window;
  gboolean window_set;
  gint64 levels[FACET_INTENSITY_LEVELS][FACET_INTENSITY_LEVELS];
} Tally;

typedef struct
{
  gint64 onset, offset;
} Event;

static GArray *
find_events (const guint8 *state,
             gsize         stride,
             gint64        n_frames)
{
  GArray *events = g_array_new (FALSE, FALSE, sizeof (Event));
  gint64 start = -1;

  for (gint64 f = 0; f <= n_frames; f++)
    {
      gboolean present = f < n_frames && state[(gsize) f * stride] == FACET_LABEL_PRESENT;
      if (present && start < 0)
        start = f;
      else if (!present && start >= 0)
        {
          Event e = { start, f - 1 };
          g_array_append_val (events, e);
          start = -1;
        }
    }
  return events;
}

/* One to one in onset order: each A event takes the first B event not yet
 * taken that overlaps it or starts within +-window frames of it. */
static void
match_events (GArray *ea,
              GArray *eb,
              int     window,
              Tally  *t)
{
  g_autofree gboolean *taken = g_new0 (gboolean, eb->len + 1);

  t->events_a += ea->len;
  t->events_b += eb->len;
  for (guint i = 0; i < ea->len; i++)
    {
      const Event *a = &g_array_index (ea, Event, i);
      for (guint j = 0; j < eb->len; j++)
        {
          const Event *b = &g_array_index (eb, Event, j);
          gboolean overlap = a->onset <= b->offset && b->onset <= a->offset;
          if (taken[j] || !(overlap || ABS (a->onset - b->onset) <= window))
            continue;
          taken[j] = TRUE;
          t->matched++;
          t->onset += ABS (a->onset - b->onset) <= window;
          t->offset += ABS (a->offset - b->offset) <= window;
          break;
        }
    }
}

/* @spans: first, last, first, last, ... */
static gboolean
in_sample (GArray *spans,
           gint64  frame)
{
  for (guint i = 0; i + 1 < spans->len; i += 2)
    if (frame >= g_array_index (spans, gint64, i) && frame <= g_array_index (spans, gint64, i + 1))
      return TRUE;
  return FALSE;
}

static gboolean
video_tally (FacetStore                  *store,
             const Coder                 *ca,
             const Coder                 *cb,
             const FacetStoreVideo       *video,
             GArray                      *aus,
             const FacetAgreementOptions *options,
             Tally                       *tallies,
             GError                     **error)
{
  Codes a = { 0 }, b = { 0 };
  gboolean ok = FALSE;
  gsize n_aus = aus->len;
  int window;

  if (options != NULL && options->window >= 0)
    window = options->window;
  else
    window = (int) lround (video->fps / 2.0);

  if (!coder_fill (store, ca, video, aus, &a, error) || !coder_fill (store, cb, video, aus, &b, error))
    goto out;
  if (options != NULL && options->sample_only)
    {
      /* Outside the marked segments nothing counts as coded. */
      g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (gint64));
      if (store_query (store, "SELECT first, last FROM reliability_segments WHERE video_id = ?",
                       store_row_int64_array, spans, error, STORE_INT (video->id)) < 0)
        goto out;
      for (gint64 f = 0; f < video->n_frames; f++)
        if (!in_sample (spans, f))
          {
            memset (a.state + (gsize) f * n_aus, 0, n_aus);
            memset (b.state + (gsize) f * n_aus, 0, n_aus);
          }
    }

  for (gsize k = 0; k < n_aus; k++)
    {
      Tally *t = &tallies[k];
      g_autoptr (GArray) ea = find_events (a.state + k, n_aus, video->n_frames);
      g_autoptr (GArray) eb = find_events (b.state + k, n_aus, video->n_frames);

      for (gint64 f = 0; f < video->n_frames; f++)
        {
          gsize i = (gsize) f * n_aus + k;
          int sa = a.state[i], sb = b.state[i];
          if ((sa != FACET_LABEL_PRESENT && sa != FACET_LABEL_ABSENT)
              || (sb != FACET_LABEL_PRESENT && sb != FACET_LABEL_ABSENT))
            continue;
          if (sa == FACET_LABEL_PRESENT && sb == FACET_LABEL_PRESENT)
            {
              t->n11++;
              if (a.level[i] > 0 && b.level[i] > 0)
                t->levels[a.level[i] - 1][b.level[i] - 1]++;
            }
          else if (sa == FACET_LABEL_PRESENT)
            t->n10++;
          else if (sb == FACET_LABEL_PRESENT)
            t->n01++;
          else
            t->n00++;
        }
      match_events (ea, eb, window, t);
      if (!t->window_set)
        {
          t->window = window;
          t->window_set = TRUE;
        }
    }
  ok = TRUE;
out:
  g_free (a.state);
  g_free (a.level);
  g_free (b.state);
  g_free (b.level);
  return ok;
}

static double
ratio (double num,
       double den)
{
  return den > 0 ? num / den : NAN;
}

/* Cohen's kappa of a 2x2 table; NAN when the expected agreement is 1. */
static double
kappa2 (gint64 n11,
        gint64 n10,
        gint64 n01,
        gint64 n00)
{
  double n = (double) (n11 + n10 + n01 + n00), po, pa, pb, pe;

  if (n == 0)
    return NAN;
  po = (double) (n11 + n00) / n;
  pa = (double) (n11 + n10) / n;
  pb = (double) (n11 + n01) / n;
  pe = pa * pb + (1 - pa) * (1 - pb);
  if (1 - pe < 1e-12)
    return NAN;
  return (po - pe) / (1 - pe);
}

static void
intensity_stats (const Tally    *t,
                 FacetAgreement *r)
{
  const int K = FACET_INTENSITY_LEVELS;
  double n = 0, row[FACET_INTENSITY_LEVELS] = { 0 }, col[FACET_INTENSITY_LEVELS] = { 0 };
  double po = 0, pe = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;

  for (int i = 0; i < K; i++)
    for (int j = 0; j < K; j++)
      {
        double c = (double) t->levels[i][j], x = i + 1, y = j + 1;
        n += c;
        row[i] += c;
        col[j] += c;
        po += c * (1.0 - fabs ((double) (i - j)) / (K - 1));
        sx += c * x;
        sy += c * y;
        sxx += c * x * x;
        syy += c * y * y;
        sxy += c * x * y;
      }
  r->intensity_frames = (gint64) n;
  r->weighted_kappa = NAN;
  r->icc = NAN;
  if (n == 0)
    return;
  po /= n;
  for (int i = 0; i < K; i++)
    for (int j = 0; j < K; j++)
      pe += (1.0 - fabs ((double) (i - j)) / (K - 1)) * row[i] * col[j] / (n * n);
  if (1 - pe > 1e-12)
    r->weighted_kappa = (po - pe) / (1 - pe);

  if (n >= 2)
    {
      /* Two-way ANOVA with k = 2 raters over n frames. */
      double grand = (sx + sy) / (2 * n);
      double sst = sxx + syy - 2 * n * grand * grand;
      double ssr = 2 * ((sxx + 2 * sxy + syy) / 4.0) - 2 * n * grand * grand;
      double ssc = n * ((sx / n - grand) * (sx / n - grand) + (sy / n - grand) * (sy / n - grand));
      double sse = sst - ssr - ssc;
      double msr = ssr / (n - 1), mse = sse / (n - 1);
      if (msr + mse > 1e-12)
        r->icc = (msr - mse) / (msr + mse);
    }
}

GArray *
facet_store_agreement (FacetStore                  *store,
                       const char                  *coder_a,
                       const char                  *coder_b,
                       gint64                       video_id,
                       const FacetAgreementOptions *options,
                       GError                     **error)
{
  g_autoptr (GPtrArray) videos = NULL;
  g_autoptr (GArray) aus = NULL, aus_a = NULL, aus_b = NULL, out = NULL;
  g_autofree Tally *tallies = NULL;
  Coder ca = { 0 }, cb = { 0 };
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL && coder_a != NULL && coder_b != NULL, NULL);

  videos = facet_store_list_videos (store, error);
  if (videos == NULL)
    return NULL;
  if (video_id != 0 && (video_id < 1 || video_id > (gint64) videos->len))
    {
      store_set_not_found (store, "video", video_id, error);
      return NULL;
    }

  store_lock (store);
  if (!coder_resolve (store, coder_a, options, &ca, error)
      || !coder_resolve (store, coder_b, options, &cb, error))
    goto out;
  aus_a = coder_aus (store, &ca, video_id, error);
  aus_b = aus_a ? coder_aus (store, &cb, video_id, error) : NULL;
  if (aus_b == NULL)
    goto out;
  /* Two layers: every AU either labelled. A model only adds AUs the other
   * side labelled (a model "codes" all of its AUs everywhere). */
  aus = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < aus_a->len; i++)
    {
      int au = g_array_index (aus_a, int, i);
      if ((!ca.is_model && !cb.is_model) || has_au (aus_b, au))
        g_array_append_val (aus, au);
    }
  if (!ca.is_model && !cb.is_model)
    for (guint i = 0; i < aus_b->len; i++)
      {
        int au = g_array_index (aus_b, int, i);
        if (!has_au (aus, au))
          g_array_append_val (aus, au);
      }
  g_array_sort (aus, compare_int);

  tallies = g_new0 (Tally, aus->len + 1);
  if (aus->len > 0)
    for (guint v = 0; v < videos->len; v++)
      {
        const FacetStoreVideo *video = videos->pdata[v];
        if (video_id != 0 && video->id != video_id)
          continue;
        if (!video_tally (store, &ca, &cb, video, aus, options, tallies, error))
          goto out;
      }

  out = g_array_new (FALSE, TRUE, sizeof (FacetAgreement));
  for (guint k = 0; k < aus->len; k++)
    {
      const Tally *t = &tallies[k];
      FacetAgreement r = { 0 };
      double n;

      r.au = g_array_index (aus, int, k);
      r.both_present = t->n11;
      r.a_only = t->n10;
      r.b_only = t->n01;
      r.both_absent = t->n00;
      r.frames = t->n11 + t->n10 + t->n01 + t->n00;
      n = (double) r.frames;
      r.agreement = ratio ((double) (t->n11 + t->n00), n);
      r.kappa = kappa2 (t->n11, t->n10, t->n01, t->n00);
      r.prevalence = ratio ((double) (2 * t->n11 + t->n10 + t->n01), 2 * n);
      r.present_a = ratio ((double) (t->n11 + t->n10), n);
      r.present_b = ratio ((double) (t->n11 + t->n01), n);
      r.window = t->window;
      r.events_a = t->events_a;
      r.events_b = t->events_b;
      r.matched = t->matched;
      r.onset_agree = t->onset;
      r.offset_agree = t->offset;
      r.agreement_ratio = ratio (2.0 * (double) t->matched, (double) (t->events_a + t->events_b));
      r.onset_agreement = ratio ((double) t->onset, (double) t->matched);
      r.offset_agreement = ratio ((double) t->offset, (double) t->matched);
      intensity_stats (t, &r);
      g_array_append_val (out, r);
    }
  ok = TRUE;
out:
  store_unlock_and_notify (store);
  coder_clear (&ca);
  coder_clear (&cb);
  return ok ? g_steal_pointer (&out) : NULL;
}
