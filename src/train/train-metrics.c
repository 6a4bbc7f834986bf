/* train-metrics.c — evaluation measures of AU detection and of identity
 * leakage (the paper's linear probe) */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "core/core-rng.h"
#include "train-metrics.h"

/* F1 of one AU at a threshold; NAN when the AU has no labelled frame in
 * which it is present (F1 measures finding it; without a positive there is
 * nothing to find, and the AU is left out of the mean). */
double
facet_metrics_f1 (const float *probs,
                  const float *targets,
                  gsize        n,
                  int          n_aus,
                  int          au,
                  double       threshold)
{
  gsize tp = 0, fp = 0, fn = 0, labelled = 0;

  for (gsize i = 0; i < n; i++)
    {
      float y = targets[i * n_aus + au];
      gboolean pred;
      if (y < 0)
        continue;
      labelled++;
      pred = probs[i * n_aus + au] >= threshold;
      if (pred && y >= 0.5f)
        tp++;
      else if (pred)
        fp++;
      else if (y >= 0.5f)
        fn++;
    }
  if (labelled == 0 || tp + fn == 0)
    return NAN;
  return 2.0 * tp / (2.0 * tp + fp + fn);
}

/* Mean F1 over AUs with labels; per-AU values into @per_au (may be NULL). */
double
facet_metrics_mean_f1 (const float  *probs,
                       const float  *targets,
                       gsize         n,
                       int           n_aus,
                       const double *thresholds,
                       double       *per_au)
{
  double sum = 0.0;
  int counted = 0;

  for (int a = 0; a < n_aus; a++)
    {
      double f = facet_metrics_f1 (probs, targets, n, n_aus, a, thresholds ? thresholds[a] : 0.5);
      if (per_au)
        per_au[a] = f;
      if (!isnan (f))
        {
          sum += f;
          counted++;
        }
    }
  return counted ? sum / counted : NAN;
}

/* The one threshold (0.05 .. 0.95) that maximises mean F1. */
double
facet_metrics_best_common_threshold (const float *probs,
                                     const float *targets,
                                     gsize        n,
                                     int          n_aus,
                                     double      *mean_f1)
{
  double best = 0.5, best_f1 = -1.0;
  double th[256];

  for (int step = 5; step <= 95; step++)
    {
      double f;
      for (int a = 0; a < MIN (n_aus, 256); a++)
        th[a] = step / 100.0;
      f = facet_metrics_mean_f1 (probs, targets, n, n_aus, th, NULL);
      if (!isnan (f) && f > best_f1 + 1e-12)
        {
          best_f1 = f;
          best = step / 100.0;
        }
    }
  if (mean_f1)
    *mean_f1 = best_f1 < 0 ? NAN : best_f1;
  return best;
}

/* The threshold of one AU that maximises its F1 (0.5 without labels). */
double
facet_metrics_best_threshold (const float *probs,
                              const float *targets,
                              gsize        n,
                              int          n_aus,
                              int          au)
{
  double best = 0.5, best_f1 = -1.0;

  for (int step = 5; step <= 95; step++)
    {
      double f = facet_metrics_f1 (probs, targets, n, n_aus, au, step / 100.0);
      /* prefer the threshold nearest 0.5 among equals */
      if (!isnan (f) && (f > best_f1 + 1e-12
                         || (fabs (f - best_f1) <= 1e-12 && fabs (step / 100.0 - 0.5) < fabs (best - 0.5))))
        {
          best_f1 = f;
          best = step / 100.0;
        }
    }
  return best;
}

/* The threshold of one AU that maximises the mean over subjects of its F1
 * (subjects in whose frames it is never present left out), 0.5 without any.
 * One operating point has to serve people it was not chosen on: a subject
 * with many frames or many events would decide a pooled F1 alone. */
double
facet_metrics_best_threshold_by_subject (const float *probs,
                                         const float *targets,
                                         const int   *subjects,
                                         gsize        n,
                                         int          n_aus,
                                         int          au)
{
  g_autoptr (GHashTable) group = g_hash_table_new (NULL, NULL);
  g_autofree gsize *start = NULL, *fill = NULL;
  g_autofree float *p = g_new (float, MAX (n, 1)), *t = g_new (float, MAX (n, 1));
  guint k = 0;
  double best = 0.5, best_f1 = -1.0;

  /* The frames grouped by subject once: every threshold then walks them in
   * one pass. */
  for (gsize i = 0; i < n; i++)
    if (!g_hash_table_contains (group, GINT_TO_POINTER (subjects[i] + 1)))
      g_hash_table_insert (group, GINT_TO_POINTER (subjects[i] + 1), GUINT_TO_POINTER (k++));
  start = g_new0 (gsize, k + 1);
  fill = g_new0 (gsize, MAX (k, 1));
  for (gsize i = 0; i < n; i++)
    start[GPOINTER_TO_UINT (g_hash_table_lookup (group, GINT_TO_POINTER (subjects[i] + 1))) + 1]++;
  for (guint g = 0; g < k; g++)
    start[g + 1] += start[g];
  for (gsize i = 0; i < n; i++)
    {
      guint g = GPOINTER_TO_UINT (g_hash_table_lookup (group, GINT_TO_POINTER (subjects[i] + 1)));
      p[start[g] + fill[g]] = probs[i * n_aus + au];
      t[start[g] + fill[g]++] = targets[i * n_aus + au];
    }
  for (int step = 5; step <= 95; step++)
    {
      double sum = 0.0, f;
      int counted = 0;
      for (guint g = 0; g < k; g++)
        {
          f = facet_metrics_f1 (p + start[g], t + start[g], start[g + 1] - start[g], 1, 0,
                                step / 100.0);
          if (!isnan (f))
            {
              sum += f;
              counted++;
            }
        }
      f = counted ? sum / counted : NAN;
      /* prefer the threshold nearest 0.5 among equals */
      if (!isnan (f)
          && (f > best_f1 + 1e-12
              || (fabs (f - best_f1) <= 1e-12 && fabs (step / 100.0 - 0.5) < fabs (best - 0.5))))
        {
          best_f1 = f;
          best = step / 100.0;
        }
    }
  return best;
}

typedef struct
{
  float    p;
  gboolean pos;
} Scored;

static int
compare_scored (gconstpointer a,
                gconstpointer b)
{
  float x = ((const Scored *) a)->p, y = ((const Scored *) b)->p;
  return x < y ? -1 : x > y;
}

/* ROC AUC by the rank statistic (ties share their mean rank); NAN when an
 * AU has no positive or no negative frame. */
double
facet_metrics_auc (const float *probs,
                   const float *targets,
                   gsize        n,
                   int          n_aus,
                   int          au)
{
  g_autofree Scored *s = g_new (Scored, MAX (n, 1));
  gsize m = 0, pos = 0;
  double rank_sum = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      float y = targets[i * n_aus + au];
      if (y < 0)
        continue;
      s[m].p = probs[i * n_aus + au];
      s[m].pos = y >= 0.5f;
      pos += s[m].pos;
      m++;
    }
  if (pos == 0 || pos == m)
    return NAN;
  qsort (s, m, sizeof (Scored), compare_scored);
  for (gsize i = 0; i < m;)
    {
      gsize j = i;
      double mean_rank;
      while (j < m && s[j].p == s[i].p)
        j++;
      mean_rank = (i + 1 + j) / 2.0; /* ranks i+1 .. j */
      for (gsize q = i; q < j; q++)
        if (s[q].pos)
          rank_sum += mean_rank;
      i = j;
    }
  return (rank_sum - pos * (pos + 1) / 2.0) / ((double) pos * (m - pos));
}

#define PROBE_MIN_FRAMES 4
#define PROBE_FIT_SHARE  0.7
#define PROBE_GAP_SHARE  0.05

/* The probe's classes: subjects with at least PROBE_MIN_FRAMES frames (a
 * subject whose face was rarely found cannot be split), numbered 0..k-1 in
 * order of first frame into @cls (-1 for the other frames). Returns k. */
static int
probe_classes (const int *subjects,
               gsize      n,
               int       *cls)
{
  g_autoptr (GHashTable) classes = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) frames = g_hash_table_new (NULL, NULL);
  int k = 0;

  for (gsize i = 0; i < n; i++)
    if (subjects[i] >= 0)
      {
        gpointer key = GINT_TO_POINTER (subjects[i]);
        g_hash_table_insert (frames, key,
                             GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (frames, key)) + 1));
      }
  for (gsize i = 0; i < n; i++)
    {
      gpointer key = GINT_TO_POINTER (subjects[i]), v;
      if (subjects[i] < 0 || GPOINTER_TO_INT (g_hash_table_lookup (frames, key)) < PROBE_MIN_FRAMES)
        {
          cls[i] = -1;
          continue;
        }
      if (!g_hash_table_lookup_extended (classes, key, NULL, &v))
        {
          v = GINT_TO_POINTER (k++);
          g_hash_table_insert (classes, key, v);
        }
      cls[i] = GPOINTER_TO_INT (v);
    }
  return k;
}

/* In time, not at random: neighbouring frames are near copies, and a
 * random split puts copies on both sides, so the probe would read near
 * 1.0 for any model. The first 70 % of a subject's frames fit the probe,
 * the last 30 % test it (@is_test), with a gap between (@cls set to -1). */
static void
probe_split_in_time (int      *cls,
                     gboolean *is_test,
                     gsize     n,
                     int       k)
{
  for (int c = 0; c < k; c++)
    {
      g_autoptr (GArray) idx = g_array_new (FALSE, FALSE, sizeof (guint));
      guint fit, gap;
      for (gsize i = 0; i < n; i++)
        if (cls[i] == c)
          g_array_append_val (idx, (guint) { (guint) i });
      fit = (guint) (PROBE_FIT_SHARE * idx->len);
      gap = MAX (1, (guint) (PROBE_GAP_SHARE * idx->len));
      for (guint j = 0; j < idx->len; j++)
        {
          guint i = g_array_index (idx, guint, j);
          is_test[i] = j >= fit + gap;
          if (j >= fit && j < fit + gap)
            cls[i] = -1; /* the gap: in neither part */
        }
    }
}

/* Chance: the share of the test frames' most frequent subject, what a
 * probe that always guesses it reaches; -1 without test frames. */
static double
probe_chance (const int      *cls,
              const gboolean *is_test,
              gsize           n,
              int             k)
{
  g_autofree int *count = g_new0 (int, k);
  int most = 0, total = 0;

  for (gsize i = 0; i < n; i++)
    if (cls[i] >= 0 && is_test[i])
      {
        count[cls[i]]++;
        most = MAX (most, count[cls[i]]);
        total++;
      }
  return total ? (double) most / total : -1.0;
}

/* The features standardised with the training frames' statistics, owned
 * ([n, dim]); *@n_train gets the number of training frames. */
static float *
probe_standardise (const float    *features,
                   gsize           n,
                   int             dim,
                   const int      *cls,
                   const gboolean *is_test,
                   int            *n_train)
{
  g_autofree double *mu = g_new0 (double, dim), *sd = g_new0 (double, dim);
  float *x;

  *n_train = 0;
  for (gsize i = 0; i < n; i++)
    if (cls[i] >= 0 && !is_test[i])
      {
        (*n_train)++;
        for (int d = 0; d < dim; d++)
          mu[d] += features[i * dim + d];
      }
  for (int d = 0; d < dim; d++)
    mu[d] /= *n_train;
  for (gsize i = 0; i < n; i++)
    if (cls[i] >= 0 && !is_test[i])
      for (int d = 0; d < dim; d++)
        sd[d] += (features[i * dim + d] - mu[d]) * (features[i * dim + d] - mu[d]);
  for (int d = 0; d < dim; d++)
    sd[d] = sqrt (sd[d] / *n_train) + 1e-6;
  x = g_new (float, n * dim);
  for (gsize i = 0; i < n; i++)
    for (int d = 0; d < dim; d++)
      x[i * dim + d] = (float) ((features[i * dim + d] - mu[d]) / sd[d]);
  return x;
}

/* The logits of frame @x ([dim]) into @logits ([k]); returns the largest. */
static float
probe_logits (const float *w,
              const float *b,
              const float *x,
              int          k,
              int          dim,
              float       *logits)
{
  float mx = -INFINITY;

  for (int c = 0; c < k; c++)
    {
      float v = b[c];
      for (int d = 0; d < dim; d++)
        v += w[c * dim + d] * x[d];
      logits[c] = v;
      mx = MAX (mx, v);
    }
  return mx;
}

/* Softmax regression on the training frames, full batch, 300 steps of
 * Adam, small L2: the weights into @w ([k, dim]) and @b ([k]), zeroed. */
static void
probe_fit (const float    *x,
           gsize           n,
           int             dim,
           const int      *cls,
           const gboolean *is_test,
           int             k,
           int             n_train,
           float          *w,
           float          *b)
{
  gsize nw = (gsize) k * dim;
  g_autofree float *gw = g_new (float, nw), *gb = g_new (float, k);
  g_autofree float *mw = g_new0 (float, (nw + k) * 2), *logits = g_new (float, k);
  float *vw = mw + nw + k;

  for (int it = 1; it <= 300; it++)
    {
      memset (gw, 0, sizeof (float) * nw);
      memset (gb, 0, sizeof (float) * k);
      for (gsize i = 0; i < n; i++)
        {
          float mx, z = 0;
          if (cls[i] < 0 || is_test[i])
            continue;
          mx = probe_logits (w, b, x + i * dim, k, dim, logits);
          for (int c = 0; c < k; c++)
            z += (logits[c] = expf (logits[c] - mx));
          for (int c = 0; c < k; c++)
            {
              float g = (logits[c] / z - (c == cls[i])) / n_train;
              gb[c] += g;
              for (int d = 0; d < dim; d++)
                gw[c * dim + d] += g * x[i * dim + d];
            }
        }
      for (gsize j = 0; j < nw + k; j++)
        {
          gboolean is_w = j < nw;
          float *p = is_w ? &w[j] : &b[j - nw];
          float g = is_w ? gw[j] + 1e-4f * w[j] : gb[j - nw];
          float mhat, vhat;
          mw[j] = 0.9f * mw[j] + 0.1f * g;
          vw[j] = 0.999f * vw[j] + 0.001f * g * g;
          mhat = mw[j] / (1.0f - powf (0.9f, (float) it));
          vhat = vw[j] / (1.0f - powf (0.999f, (float) it));
          *p -= 0.05f * mhat / (sqrtf (vhat) + 1e-8f);
        }
    }
}

double
facet_metrics_identity_probe (const float *features,
                              gsize        n,
                              int          dim,
                              const int   *subjects,
                              double      *chance)
{
  g_autofree int *cls = g_new (int, MAX (n, 1));
  g_autofree gboolean *is_test = g_new0 (gboolean, MAX (n, 1));
  g_autofree float *x = NULL, *w = NULL, *b = NULL, *logits = NULL;
  int k, n_train, n_test = 0, correct = 0;

  if (chance)
    *chance = -1.0;
  k = probe_classes (subjects, n, cls);
  if (k < 2)
    return -1.0;
  probe_split_in_time (cls, is_test, n, k);
  if (chance)
    *chance = probe_chance (cls, is_test, n, k);
  x = probe_standardise (features, n, dim, cls, is_test, &n_train);
  w = g_new0 (float, (gsize) k * dim);
  b = g_new0 (float, k);
  probe_fit (x, n, dim, cls, is_test, k, n_train, w, b);

  logits = g_new (float, k);
  for (gsize i = 0; i < n; i++)
    {
      int best = 0;
      float best_v = -INFINITY;
      if (cls[i] < 0 || !is_test[i])
        continue;
      n_test++;
      probe_logits (w, b, x + i * dim, k, dim, logits);
      for (int c = 0; c < k; c++)
        if (logits[c] > best_v)
          {
            best_v = logits[c];
            best = c;
          }
      correct += best == cls[i];
    }
  return n_test ? (double) correct / n_test : -1.0;
}
