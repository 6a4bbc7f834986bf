/* facet-timeline-data.c — decimated timeline data and hit-testing (no GTK)
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-timeline-data"

#include "config.h"

#include <math.h>
#include <string.h>

#include "facet-timeline-data.h"

/* The pyramid starts at blocks of 2^FIRST_LEVEL frames: below that a span
 * reads the frames themselves (at most 2 * 7 of them), which keeps the
 * pyramid at a sixth of the memory of the values. */
#define FIRST_LEVEL 3

typedef struct
{
  gint64   n_blocks;
  float   *min;   /* [lane * n_blocks + block] */
  float   *max;
  double  *sum;
  guint32 *count;
} Level;

struct _FacetTimelineData
{
  gint64   n_frames;
  int      n_lanes;
  float   *values;      /* [lane * n_frames + frame], NAN when unknown or no face */
  guint8  *known;       /* [frame]: analysed */
  gint64   n_known;
  gint64   first_unknown;
  Level   *levels;      /* levels[i] has blocks of 2^(FIRST_LEVEL + i) frames */
  int      n_levels;
  GArray **segments;    /* [lane]: FacetLabelSegment */
  GArray **intensity;   /* [lane]: FacetLabelSegment, state = intensity 1-5 (A-E) */
  GArray **disagree;    /* [lane]: FacetLabelSegment, valid unless dirty */
  gboolean *dirty;
  float   *thresholds;
  guint    values_serial; /* raised when a value or a threshold changes */
};

FacetTimelineData *
facet_timeline_data_new (gint64 n_frames,
                         int    n_lanes)
{
  FacetTimelineData *data;
  gint64 blocks;

  g_return_val_if_fail (n_frames >= 0, NULL);
  g_return_val_if_fail (n_lanes >= 0, NULL);

  data = g_new0 (FacetTimelineData, 1);
  data->n_frames = n_frames;
  data->n_lanes = n_lanes;
  data->values = g_new (float, MAX (1, (gsize) n_frames * (gsize) n_lanes));
  for (gsize i = 0; i < (gsize) n_frames * (gsize) n_lanes; i++)
    data->values[i] = NAN;
  data->known = g_new0 (guint8, MAX (1, n_frames));

  /* Levels until one block covers the whole video. */
  blocks = n_frames;
  for (int k = 1; k <= FIRST_LEVEL; k++)
    blocks = (blocks + 1) / 2;
  data->n_levels = 0;
  data->levels = g_new0 (Level, 64);
  while (n_frames > 0)
    {
      Level *l = &data->levels[data->n_levels++];
      gsize size = (gsize) blocks * (gsize) MAX (n_lanes, 1);

      l->n_blocks = blocks;
      l->min = g_new (float, size);
      l->max = g_new (float, size);
      l->sum = g_new0 (double, size);
      l->count = g_new0 (guint32, size);
      for (gsize i = 0; i < size; i++)
        l->min[i] = l->max[i] = NAN;
      if (blocks <= 1)
        break;
      blocks = (blocks + 1) / 2;
    }

  data->segments = g_new0 (GArray *, MAX (n_lanes, 1));
  data->intensity = g_new0 (GArray *, MAX (n_lanes, 1));
  data->disagree = g_new0 (GArray *, MAX (n_lanes, 1));
  data->dirty = g_new0 (gboolean, MAX (n_lanes, 1));
  data->thresholds = g_new (float, MAX (n_lanes, 1));
  for (int i = 0; i < n_lanes; i++)
    {
      data->segments[i] = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));
      data->intensity[i] = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));
      data->disagree[i] = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));
      data->thresholds[i] = 0.5f;
    }
  return data;
}

void
facet_timeline_data_free (FacetTimelineData *data)
{
  if (data == NULL)
    return;
  for (int i = 0; i < data->n_levels; i++)
    {
      g_free (data->levels[i].min);
      g_free (data->levels[i].max);
      g_free (data->levels[i].sum);
      g_free (data->levels[i].count);
    }
  for (int i = 0; i < data->n_lanes; i++)
    {
      g_array_unref (data->segments[i]);
      g_array_unref (data->intensity[i]);
      g_array_unref (data->disagree[i]);
    }
  g_free (data->levels);
  g_free (data->segments);
  g_free (data->intensity);
  g_free (data->disagree);
  g_free (data->dirty);
  g_free (data->thresholds);
  g_free (data->values);
  g_free (data->known);
  g_free (data);
}

gint64
facet_timeline_data_get_n_frames (const FacetTimelineData *data)
{
  g_return_val_if_fail (data != NULL, 0);
  return data->n_frames;
}

int
facet_timeline_data_get_n_lanes (const FacetTimelineData *data)
{
  g_return_val_if_fail (data != NULL, 0);
  return data->n_lanes;
}

/* Recomputes block @b of level @li of @lane from the level below (or the
 * frames for the first level). */
static void
rebuild_block (FacetTimelineData *data,
               int                li,
               int                lane,
               gint64             b)
{
  Level *l = &data->levels[li];
  gsize at = (gsize) lane * (gsize) l->n_blocks + (gsize) b;
  float mn = NAN, mx = NAN;
  double sum = 0.0;
  guint32 count = 0;

  if (li == 0)
    {
      gint64 first = b << FIRST_LEVEL;
      gint64 end = MIN (data->n_frames, first + (1 << FIRST_LEVEL));
      const float *v = data->values + (gsize) lane * (gsize) data->n_frames;

      for (gint64 f = first; f < end; f++)
        if (!isnan (v[f]))
          {
            mn = count ? MIN (mn, v[f]) : v[f];
            mx = count ? MAX (mx, v[f]) : v[f];
            sum += v[f];
            count++;
          }
    }
  else
    {
      Level *below = &data->levels[li - 1];

      for (gint64 c = 2 * b; c < MIN (below->n_blocks, 2 * b + 2); c++)
        {
          gsize bat = (gsize) lane * (gsize) below->n_blocks + (gsize) c;

          if (below->count[bat] == 0)
            continue;
          mn = count ? MIN (mn, below->min[bat]) : below->min[bat];
          mx = count ? MAX (mx, below->max[bat]) : below->max[bat];
          sum += below->sum[bat];
          count += below->count[bat];
        }
    }
  l->min[at] = mn;
  l->max[at] = mx;
  l->sum[at] = sum;
  l->count[at] = count;
}

static void
rebuild_range (FacetTimelineData *data,
               gint64             first,
               gint64             last)
{
  gint64 b0 = first >> FIRST_LEVEL, b1 = last >> FIRST_LEVEL;

  for (int li = 0; li < data->n_levels; li++)
    {
      for (int lane = 0; lane < data->n_lanes; lane++)
        for (gint64 b = b0; b <= b1; b++)
          rebuild_block (data, li, lane, b);
      b0 >>= 1;
      b1 >>= 1;
    }
}

void
facet_timeline_data_set_values (FacetTimelineData *data,
                                const gint64      *frames,
                                const float       *values,
                                gsize              n)
{
  gint64 lo = G_MAXINT64, hi = -1;

  g_return_if_fail (data != NULL);
  g_return_if_fail (n == 0 || (frames != NULL && values != NULL));

  data->values_serial++;

  for (gsize i = 0; i < n; i++)
    {
      gint64 f = frames[i];

      if (f < 0 || f >= data->n_frames)
        continue;
      for (int lane = 0; lane < data->n_lanes; lane++)
        data->values[(gsize) lane * (gsize) data->n_frames + (gsize) f] =
          values[i * (gsize) data->n_lanes + (gsize) lane];
      if (!data->known[f])
        {
          data->known[f] = 1;
          data->n_known++;
        }
      lo = MIN (lo, f);
      hi = MAX (hi, f);
    }
  if (hi < 0)
    return;

  /* Long unordered updates would rebuild the same blocks many times; one
   * pass over the hull of the frames touched is what a chunk costs anyway. */
  rebuild_range (data, lo, hi);
  for (int lane = 0; lane < data->n_lanes; lane++)
    data->dirty[lane] = TRUE;
}

void
facet_timeline_data_clear_values (FacetTimelineData *data)
{
  g_return_if_fail (data != NULL);

  data->values_serial++;

  for (gsize i = 0; i < (gsize) data->n_frames * (gsize) data->n_lanes; i++)
    data->values[i] = NAN;
  memset (data->known, 0, (gsize) MAX (1, data->n_frames));
  data->n_known = 0;
  data->first_unknown = 0;
  for (int li = 0; li < data->n_levels; li++)
    {
      Level *l = &data->levels[li];
      gsize size = (gsize) l->n_blocks * (gsize) MAX (data->n_lanes, 1);

      for (gsize i = 0; i < size; i++)
        l->min[i] = l->max[i] = NAN;
      memset (l->sum, 0, size * sizeof (double));
      memset (l->count, 0, size * sizeof (guint32));
    }
  for (int lane = 0; lane < data->n_lanes; lane++)
    data->dirty[lane] = TRUE;
}

gint64
facet_timeline_data_first_unknown (const FacetTimelineData *data)
{
  FacetTimelineData *mut = (FacetTimelineData *) data;

  g_return_val_if_fail (data != NULL, 0);

  /* Frames only become known (until a clear), so the scan resumes where
   * it stopped: amortised O(1) per frame over a whole analysis. */
  while (mut->first_unknown < data->n_frames && data->known[mut->first_unknown])
    mut->first_unknown++;
  return data->first_unknown;
}

gint64
facet_timeline_data_count_known (const FacetTimelineData *data)
{
  g_return_val_if_fail (data != NULL, 0);
  return data->n_known;
}

float
facet_timeline_data_get_value (const FacetTimelineData *data,
                               int                      lane,
                               gint64                   frame)
{
  g_return_val_if_fail (data != NULL, NAN);

  if (lane < 0 || lane >= data->n_lanes || frame < 0 || frame >= data->n_frames)
    return NAN;
  return data->values[(gsize) lane * (gsize) data->n_frames + (gsize) frame];
}

gboolean
facet_timeline_data_is_known (const FacetTimelineData *data,
                              gint64                   frame)
{
  g_return_val_if_fail (data != NULL, FALSE);
  return frame >= 0 && frame < data->n_frames && data->known[frame];
}

typedef struct
{
  float   min, max;
  double  sum;
  guint32 count;
} Acc;

static inline void
acc_value (Acc  *acc,
           float v)
{
  if (isnan (v))
    return;
  acc->min = acc->count ? MIN (acc->min, v) : v;
  acc->max = acc->count ? MAX (acc->max, v) : v;
  acc->sum += v;
  acc->count++;
}

static inline void
acc_block (Acc         *acc,
           const Level *l,
           gsize        at)
{
  if (l->count[at] == 0)
    return;
  acc->min = acc->count ? MIN (acc->min, l->min[at]) : l->min[at];
  acc->max = acc->count ? MAX (acc->max, l->max[at]) : l->max[at];
  acc->sum += l->sum[at];
  acc->count += l->count[at];
}

void
facet_timeline_data_span (const FacetTimelineData *data,
                          int                      lane,
                          gint64                   first,
                          gint64                   end,
                          FacetTimelineSpan       *out)
{
  const float *v;
  Acc acc = { NAN, NAN, 0.0, 0 };
  gint64 f;

  g_return_if_fail (data != NULL);
  g_return_if_fail (out != NULL);

  first = MAX (first, 0);
  end = MIN (end, data->n_frames);
  if (lane < 0 || lane >= data->n_lanes || first >= end)
    {
      out->min = out->max = out->mean = NAN;
      out->n = 0;
      return;
    }

  v = data->values + (gsize) lane * (gsize) data->n_frames;
  f = first;
  /* Frames up to the first block boundary, then the largest aligned blocks
   * that fit, then the frames after the last block. */
  while (f < end && (f & ((1 << FIRST_LEVEL) - 1)) != 0)
    acc_value (&acc, v[f++]);
  while (f + (1 << FIRST_LEVEL) <= end)
    {
      int li = 0;

      while (li + 1 < data->n_levels
             && (f & ((G_GINT64_CONSTANT (1) << (FIRST_LEVEL + li + 1)) - 1)) == 0
             && f + (G_GINT64_CONSTANT (1) << (FIRST_LEVEL + li + 1)) <= end)
        li++;
      acc_block (&acc, &data->levels[li],
                 (gsize) lane * (gsize) data->levels[li].n_blocks
                 + (gsize) (f >> (FIRST_LEVEL + li)));
      f += G_GINT64_CONSTANT (1) << (FIRST_LEVEL + li);
    }
  while (f < end)
    acc_value (&acc, v[f++]);

  out->n = acc.count;
  out->min = acc.count ? acc.min : NAN;
  out->max = acc.count ? acc.max : NAN;
  out->mean = acc.count ? (float) (acc.sum / acc.count) : NAN;
}

void
facet_timeline_data_decimate (const FacetTimelineData *data,
                              int                      lane,
                              double                   first,
                              double                   frames_per_bucket,
                              guint                    n_buckets,
                              FacetTimelineSpan       *out)
{
  g_return_if_fail (data != NULL);
  g_return_if_fail (out != NULL || n_buckets == 0);
  g_return_if_fail (frames_per_bucket >= 1.0);

  for (guint i = 0; i < n_buckets; i++)
    {
      gint64 a = (gint64) floor (first + i * frames_per_bucket);
      gint64 b = (gint64) floor (first + (i + 1) * frames_per_bucket);

      facet_timeline_data_span (data, lane, a, MAX (b, a + 1), &out[i]);
    }
}

void
facet_timeline_data_set_segments (FacetTimelineData       *data,
                                  int                      lane,
                                  const FacetLabelSegment *segments,
                                  guint                    n)
{
  g_return_if_fail (data != NULL);
  g_return_if_fail (lane >= 0 && lane < data->n_lanes);

  g_array_set_size (data->segments[lane], 0);
  if (n > 0)
    g_array_append_vals (data->segments[lane], segments, n);
  data->dirty[lane] = TRUE;
}

const FacetLabelSegment *
facet_timeline_data_get_segments (const FacetTimelineData *data,
                                  int                      lane,
                                  guint                   *n)
{
  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (n != NULL, NULL);

  if (lane < 0 || lane >= data->n_lanes)
    {
      *n = 0;
      return NULL;
    }
  *n = data->segments[lane]->len;
  return (const FacetLabelSegment *) (gpointer) data->segments[lane]->data;
}

void
facet_timeline_data_set_intensities (FacetTimelineData       *data,
                                     int                      lane,
                                     const FacetLabelSegment *runs,
                                     guint                    n)
{
  g_return_if_fail (data != NULL);
  g_return_if_fail (lane >= 0 && lane < data->n_lanes);

  g_array_set_size (data->intensity[lane], 0);
  if (n > 0)
    g_array_append_vals (data->intensity[lane], runs, n);
}

const FacetLabelSegment *
facet_timeline_data_get_intensities (const FacetTimelineData *data,
                                     int                      lane,
                                     guint                   *n)
{
  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (n != NULL, NULL);

  if (lane < 0 || lane >= data->n_lanes)
    {
      *n = 0;
      return NULL;
    }
  *n = data->intensity[lane]->len;
  return (const FacetLabelSegment *) (gpointer) data->intensity[lane]->data;
}

GArray *
facet_timeline_intensity_runs (const FacetLabelSegment *segments,
                               guint                    n)
{
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (FacetLabelSegment));

  for (guint i = 0; i < n; i++)
    {
      const FacetLabelSegment *s = &segments[i];
      FacetLabelSegment *last;

      if (s->state != FACET_LABEL_PRESENT || s->level < 1 || s->level > 5)
        continue;
      /* Runs the store splits by source (coded, imported) join here. */
      last = runs->len > 0 ? &g_array_index (runs, FacetLabelSegment, runs->len - 1) : NULL;
      if (last != NULL && last->last + 1 == s->first && (int) last->state == s->level)
        last->last = s->last;
      else
        g_array_append_val (runs, ((FacetLabelSegment) { s->first, s->last,
                                                         (FacetLabelState) s->level, s->source,
                                                         s->level }));
    }
  return runs;
}

int
facet_timeline_segments_find (const FacetLabelSegment *segments,
                              guint                    n,
                              gint64                   frame)
{
  guint lo = 0, hi = n;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (segments[mid].last < frame)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo < n && segments[lo].first <= frame && frame <= segments[lo].last)
    return (int) lo;
  return -1;
}

void
facet_timeline_data_set_threshold (FacetTimelineData *data,
                                   int                lane,
                                   float              threshold)
{
  g_return_if_fail (data != NULL);
  g_return_if_fail (lane >= 0 && lane < data->n_lanes);

  /* NAN != NAN: a lane without a threshold is not changed again. */
  if (data->thresholds[lane] != threshold && !(isnan (threshold) && isnan (data->thresholds[lane])))
    {
      data->thresholds[lane] = threshold;
      data->dirty[lane] = TRUE;
      data->values_serial++;
    }
}

guint
facet_timeline_data_get_values_serial (const FacetTimelineData *data)
{
  g_return_val_if_fail (data != NULL, 0);
  return data->values_serial;
}

float
facet_timeline_data_get_threshold (const FacetTimelineData *data,
                                   int                      lane)
{
  g_return_val_if_fail (data != NULL, NAN);
  if (lane < 0 || lane >= data->n_lanes)
    return NAN;
  return data->thresholds[lane];
}

const FacetLabelSegment *
facet_timeline_data_get_disagreements (FacetTimelineData *data,
                                       int                lane,
                                       guint             *n)
{
  GArray *out;
  const float *v;
  float t;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (n != NULL, NULL);

  if (lane < 0 || lane >= data->n_lanes)
    {
      *n = 0;
      return NULL;
    }
  out = data->disagree[lane];
  if (data->dirty[lane])
    {
      GArray *segs = data->segments[lane];

      g_array_set_size (out, 0);
      v = data->values + (gsize) lane * (gsize) data->n_frames;
      t = data->thresholds[lane];
      for (guint i = 0; i < segs->len; i++)
        {
          const FacetLabelSegment *s = &g_array_index (segs, FacetLabelSegment, i);
          gint64 last = MIN (s->last, data->n_frames - 1);

          if (s->state != FACET_LABEL_PRESENT && s->state != FACET_LABEL_ABSENT)
            continue;
          for (gint64 f = MAX (s->first, 0); f <= last; f++)
            {
              gboolean differs = !isnan (v[f])
                                 && ((s->state == FACET_LABEL_PRESENT) != (v[f] >= t));
              FacetLabelSegment *prev = out->len ? &g_array_index (out, FacetLabelSegment,
                                                                   out->len - 1)
                                                 : NULL;

              if (!differs)
                continue;
              if (prev != NULL && prev->last == f - 1 && prev->state == s->state)
                prev->last = f;
              else
                {
                  FacetLabelSegment d = { f, f, s->state, s->source };
                  g_array_append_val (out, d);
                }
            }
        }
      data->dirty[lane] = FALSE;
    }
  *n = out->len;
  return (const FacetLabelSegment *) (gpointer) out->data;
}

gint64
facet_timeline_data_compare (const FacetTimelineData *a,
                             const FacetTimelineData *b,
                             int                      lane,
                             GArray                  *out)
{
  const float *va, *vb;
  float ta, tb;
  gint64 n = 0;

  g_return_val_if_fail (a != NULL && b != NULL, 0);
  g_return_val_if_fail (out != NULL, 0);
  g_return_val_if_fail (a->n_frames == b->n_frames, 0);

  if (lane < 0 || lane >= a->n_lanes || lane >= b->n_lanes)
    return 0;
  ta = a->thresholds[lane];
  tb = b->thresholds[lane];
  /* A lane without a threshold (coded by hand, an AU one model lacks) has
   * nothing to compare. */
  if (isnan (ta) || isnan (tb))
    return 0;
  va = a->values + (gsize) lane * (gsize) a->n_frames;
  vb = b->values + (gsize) lane * (gsize) b->n_frames;
  for (gint64 f = 0; f < a->n_frames; f++)
    {
      FacetLabelState state;
      FacetLabelSegment *prev;

      /* NAN: not analysed by that model, or no face there. */
      if (isnan (va[f]) || isnan (vb[f]) || (va[f] >= ta) == (vb[f] >= tb))
        continue;
      state = va[f] >= ta ? FACET_LABEL_PRESENT : FACET_LABEL_ABSENT;
      prev = out->len ? &g_array_index (out, FacetLabelSegment, out->len - 1) : NULL;
      if (prev != NULL && prev->last == f - 1 && prev->state == state)
        prev->last = f;
      else
        {
          FacetLabelSegment d = { f, f, state, FACET_LABEL_SOURCE_HUMAN, 0 };
          g_array_append_val (out, d);
        }
      n++;
    }
  return n;
}

guint
facet_timeline_segments_to_rects (const FacetLabelSegment *segments,
                                  guint                    n,
                                  double                   first,
                                  double                   frames_per_px,
                                  double                   width,
                                  GArray                  *out)
{
  double end = first + width * frames_per_px;
  guint added = 0, start;
  int i;

  g_return_val_if_fail (out != NULL, 0);
  g_return_val_if_fail (frames_per_px > 0, 0);

  if (n == 0 || width <= 0)
    return 0;
  /* The first run that ends at or after the left edge. */
  i = facet_timeline_segments_find (segments, n, (gint64) floor (first));
  if (i < 0)
    {
      guint lo = 0, hi = n;

      while (lo < hi)
        {
          guint mid = lo + (hi - lo) / 2;
          if ((double) segments[mid].last + 1 <= first)
            lo = mid + 1;
          else
            hi = mid;
        }
      i = (int) lo;
    }
  start = out->len;
  for (; (guint) i < n && (double) segments[i].first < end; i++)
    {
      FacetTimelineRect r;
      FacetTimelineRect *prev = out->len > start ? &g_array_index (out, FacetTimelineRect,
                                                                   out->len - 1)
                                                 : NULL;

      r.x0 = CLAMP (((double) segments[i].first - first) / frames_per_px, 0.0, width);
      r.x1 = CLAMP (((double) segments[i].last + 1 - first) / frames_per_px, 0.0, width);
      r.state = segments[i].state;
      if (r.x1 <= r.x0)
        continue;
      /* Runs narrower than a pixel that fall into the pixel column where
       * the previous narrow rectangle ends join it: dense label changes
       * never make more than about two rectangles per column, while wide
       * runs keep their own state. */
      if (prev != NULL && r.x1 - r.x0 < 1.0 && prev->x1 - prev->x0 < 1.0
          && r.x0 < floor (prev->x1) + 1.0)
        {
          if (prev->state != r.state)
            prev->state = FACET_TIMELINE_STATE_MIXED;
          prev->x1 = MAX (prev->x1, r.x1);
          continue;
        }
      g_array_append_val (out, r);
      added++;
    }
  return added;
}

/* ---- Geometry -------------------------------------------------------------------------------- */

double
facet_timeline_layout_plot_width (const FacetTimelineLayout *layout)
{
  return MAX (0.0, layout->width - layout->label_width);
}

double
facet_timeline_layout_frame_to_x (const FacetTimelineLayout *layout,
                                  double                     frame)
{
  return layout->label_width + (frame - layout->first) / layout->frames_per_px;
}

double
facet_timeline_layout_x_to_frame (const FacetTimelineLayout *layout,
                                  double                     x)
{
  return layout->first + (x - layout->label_width) * layout->frames_per_px;
}

double
facet_timeline_layout_lane_y (const FacetTimelineLayout *layout,
                              int                        lane)
{
  return layout->ruler_height + lane * layout->lane_height - layout->scroll_y;
}

void
facet_timeline_layout_hit (const FacetTimelineLayout *layout,
                           double                     x,
                           double                     y,
                           FacetTimelineHit          *hit)
{
  double f;

  g_return_if_fail (layout != NULL);
  g_return_if_fail (hit != NULL);

  hit->area = FACET_TIMELINE_AREA_NONE;
  hit->lane = -1;
  hit->frame = -1;
  if (x < 0 || y < 0 || x >= layout->width || y >= layout->height)
    return;

  if (layout->n_frames > 0)
    {
      f = floor (facet_timeline_layout_x_to_frame (layout, MAX (x, layout->label_width)));
      hit->frame = (gint64) CLAMP (f, 0.0, (double) (layout->n_frames - 1));
    }
  if (y < layout->ruler_height)
    {
      hit->area = x < layout->label_width ? FACET_TIMELINE_AREA_NONE : FACET_TIMELINE_AREA_RULER;
      return;
    }
  if (layout->lane_height > 0)
    {
      double row = floor ((y - layout->ruler_height + layout->scroll_y) / layout->lane_height);

      if (row >= 0 && row < layout->n_lanes)
        hit->lane = (int) row;
    }
  if (hit->lane < 0)
    return;
  hit->area = x < layout->label_width ? FACET_TIMELINE_AREA_LABEL : FACET_TIMELINE_AREA_LANE;
}

void
facet_timeline_layout_clamp (FacetTimelineLayout *layout)
{
  double plot = facet_timeline_layout_plot_width (layout);
  double n = (double) MAX (layout->n_frames, 1);
  double min_fpp, max_fpp, visible, content;

  g_return_if_fail (layout != NULL);

  if (plot <= 0)
    return;
  /* Zoomed in at most to 16 px per frame, unless the whole video is
   * shorter than that: then it fills the width. */
  min_fpp = MIN (1.0 / FACET_TIMELINE_MAX_PX_PER_FRAME, n / plot);
  max_fpp = MAX (n / plot, min_fpp);
  if (!(layout->frames_per_px > 0))
    layout->frames_per_px = max_fpp;
  layout->frames_per_px = CLAMP (layout->frames_per_px, min_fpp, max_fpp);
  visible = plot * layout->frames_per_px;
  layout->first = CLAMP (layout->first, 0.0, MAX (0.0, n - visible));

  content = layout->n_lanes * layout->lane_height;
  layout->scroll_y = CLAMP (layout->scroll_y, 0.0,
                            MAX (0.0, content - (layout->height - layout->ruler_height)));
}

void
facet_timeline_layout_fit (FacetTimelineLayout *layout)
{
  double plot = facet_timeline_layout_plot_width (layout);

  g_return_if_fail (layout != NULL);

  layout->first = 0;
  layout->frames_per_px = plot > 0 ? (double) MAX (layout->n_frames, 1) / plot : 1.0;
  facet_timeline_layout_clamp (layout);
}

void
facet_timeline_layout_zoom (FacetTimelineLayout *layout,
                            double               factor,
                            double               anchor_x)
{
  double anchor_frame;

  g_return_if_fail (layout != NULL);
  g_return_if_fail (factor > 0);

  anchor_x = CLAMP (anchor_x, layout->label_width, layout->width);
  anchor_frame = facet_timeline_layout_x_to_frame (layout, anchor_x);
  layout->frames_per_px /= factor;
  facet_timeline_layout_clamp (layout);
  layout->first = anchor_frame - (anchor_x - layout->label_width) * layout->frames_per_px;
  facet_timeline_layout_clamp (layout);
}

gboolean
facet_timeline_layout_follow (FacetTimelineLayout *layout,
                              gint64               frame)
{
  double visible = facet_timeline_layout_plot_width (layout) * layout->frames_per_px;
  double old = layout->first;

  g_return_val_if_fail (layout != NULL, FALSE);

  if (visible <= 0)
    return FALSE;
  if (frame < layout->first)
    layout->first = MAX (0.0, (double) frame - visible * 0.1);
  else if (frame + 1 > layout->first + visible)
    layout->first = (double) frame - visible * 0.1;
  facet_timeline_layout_clamp (layout);
  return layout->first != old;
}
