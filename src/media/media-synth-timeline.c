/* media-synth-timeline.c — what a synthetic face does over time: AU events
 * in realistic combinations, blinks, head motion, lighting and noise, and
 * the label file that goes with the video
 *
 * AUs come in patterns that co-occur in real faces (a Duchenne smile is
 * 6+12, surprise 1+2+25+26, disgust 4+9, sadness 1+4+15+17, ...). Each
 * pattern is a renewal process: a random gap, then an event with an onset
 * ramp, an apex and an offset ramp (smoothstep shapes), so events of one
 * pattern never overlap; events of different patterns may, and an AU's
 * intensity is the largest any event gives it. How often each pattern
 * occurs is fitted (iterative proportional fitting) so that each AU is
 * present in about the fraction of frames the subject's base rate asks for.
 * With FACET_SYNTH_EVENTS_INDEPENDENT only the one-AU patterns run (plus one
 * for AU26 alone, which the default never uses): each AU then has events of
 * its own, independent of every other AU's, so they co-occur only by chance.
 *
 * Nothing is stored per frame: events are kept sorted by start, and pose,
 * lighting and noise are smooth functions of time, so any frame can be
 * evaluated directly and the timeline of an hour-long video is small.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "facet-media.h"
#include "media-synth.h"

enum
{
  A1, A2, A4, A6, A9, A12, A15, A17, A25, A26, A43
};

typedef struct
{
  const char *name;
  int         n;
  int         au[4];      /* AU indices */
  float       weight[4];  /* intensity relative to the event's peak */
  float       onset[2], apex[2], offset[2]; /* seconds, uniform ranges */
  float       share;      /* starting point of the rate fit */
} Pattern;

static const Pattern patterns[] = {
  { "smile", 2, { A12, A6 }, { 1.0f, 0.8f }, { 0.3f, 0.9f }, { 0.8f, 3.0f }, { 0.4f, 1.2f }, 1.0f },
  { "social smile", 1, { A12 }, { 0.8f }, { 0.2f, 0.6f }, { 0.5f, 2.0f }, { 0.3f, 0.8f }, 0.6f },
  { "surprise",
    4,
    { A1, A2, A25, A26 },
    { 1.0f, 0.95f, 1.0f, 0.85f },
    { 0.15f, 0.4f },
    { 0.4f, 1.5f },
    { 0.3f, 0.8f },
    0.5f },
  { "brows up",
    2,
    { A1, A2 },
    { 1.0f, 0.9f },
    { 0.2f, 0.5f },
    { 0.3f, 1.5f },
    { 0.3f, 0.8f },
    0.5f },
  { "disgust",
    2,
    { A4, A9 },
    { 0.9f, 1.0f },
    { 0.2f, 0.6f },
    { 0.5f, 1.8f },
    { 0.3f, 0.9f },
    0.5f },
  { "sadness",
    4,
    { A1, A4, A15, A17 },
    { 0.8f, 0.6f, 1.0f, 0.7f },
    { 0.4f, 1.0f },
    { 0.8f, 2.5f },
    { 0.5f, 1.2f },
    0.4f },
  { "frown", 1, { A4 }, { 1.0f }, { 0.2f, 0.6f }, { 0.5f, 2.0f }, { 0.3f, 0.8f }, 0.6f },
  { "doubt",
    2,
    { A17, A15 },
    { 1.0f, 0.6f },
    { 0.2f, 0.5f },
    { 0.4f, 1.5f },
    { 0.3f, 0.8f },
    0.5f },
  { "speech",
    2,
    { A25, A26 },
    { 1.0f, 0.5f },
    { 0.1f, 0.3f },
    { 0.3f, 1.5f },
    { 0.1f, 0.3f },
    1.0f },
  { "squint", 1, { A6 }, { 0.9f }, { 0.2f, 0.6f }, { 0.5f, 1.5f }, { 0.3f, 0.8f }, 0.3f },
  { "inner brows", 1, { A1 }, { 1.0f }, { 0.2f, 0.5f }, { 0.4f, 1.5f }, { 0.3f, 0.8f }, 0.3f },
  { "nose wrinkle", 1, { A9 }, { 1.0f }, { 0.15f, 0.4f }, { 0.3f, 1.0f }, { 0.2f, 0.6f }, 0.2f },
  { "outer brows", 1, { A2 }, { 1.0f }, { 0.2f, 0.5f }, { 0.3f, 1.2f }, { 0.3f, 0.8f }, 0.1f },
  { "corners down", 1, { A15 }, { 1.0f }, { 0.3f, 0.8f }, { 0.5f, 2.0f }, { 0.4f, 1.0f }, 0.2f },
  { "chin raise", 1, { A17 }, { 1.0f }, { 0.2f, 0.6f }, { 0.4f, 1.5f }, { 0.3f, 0.8f }, 0.2f },
  { "lips apart", 1, { A25 }, { 1.0f }, { 0.1f, 0.3f }, { 0.3f, 2.0f }, { 0.1f, 0.4f }, 0.6f },
  { "jaw drop",
    2,
    { A26, A25 },
    { 1.0f, 0.8f },
    { 0.2f, 0.5f },
    { 0.4f, 1.5f },
    { 0.3f, 0.7f },
    0.2f },
  { "blink", 1, { A43 }, { 1.0f }, { 0.05f, 0.08f }, { 0.03f, 0.10f }, { 0.08f, 0.15f }, 1.0f },
  { "eyes closed", 1, { A43 }, { 1.0f }, { 0.15f, 0.4f }, { 0.8f, 2.5f }, { 0.2f, 0.5f }, 0.15f },
  /* independent events only (after the others: their streams stay where they were) */
  { "jaw alone", 1, { A26 }, { 1.0f }, { 0.2f, 0.5f }, { 0.4f, 1.5f }, { 0.3f, 0.7f }, 0.2f },
};
#define N_PATTERNS G_N_ELEMENTS (patterns)
#define FIRST_INDEPENDENT_ONLY 19 /* "jaw alone" */

/* Whether pattern @p runs in @events mode: the default has every pattern
 * but those for independent events only; independent events have the
 * one-AU patterns. */
static gboolean
pattern_runs (guint            p,
              FacetSynthEvents events)
{
  if (events == FACET_SYNTH_EVENTS_INDEPENDENT)
    return patterns[p].n == 1;
  return p < FIRST_INDEPENDENT_ONLY;
}

/* Peaks are drawn from this range, so most events reach presence. */
#define PEAK_MIN 0.35
#define PEAK_MAX 1.0
#define MAX_EVENT_SECONDS 6.0

typedef struct
{
  double start, onset, apex, offset; /* seconds */
  float  peak[4];                    /* per AU of the pattern, weight and jitter applied */
  int    pattern;
  float  wobble_phase;
} Event;

typedef struct
{
  double amplitude, frequency, phase;
} Wave;

#define N_WAVES 3

typedef struct
{
  double start, amount; /* nods: pitch swings; light: brightness steps */
} Moment;

struct _FacetSynthTimeline
{
  guint64  seed;
  gint64   n_frames;
  double   fps;
  GArray  *events;    /* Event, sorted by start */
  Wave     yaw[N_WAVES], pitch[N_WAVES], roll[N_WAVES], dx[N_WAVES], dy[N_WAVES];
  Wave     scale[N_WAVES], gaze_x[N_WAVES], gaze_y[N_WAVES], light[N_WAVES], bright[N_WAVES];
  GArray  *nods;      /* Moment */
  GArray  *steps;     /* Moment: brightness changes */
  double   light_angle, light_strength, noise;
  FacetSynthCondition condition;
};

static double
smoothstep (double t)
{
  t = CLAMP (t, 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}

static double
mean_range (const float r[2])
{
  return 0.5 * (r[0] + r[1]);
}

/* Expected seconds an AU is present in one event of @p at relative weight
 * @w: the apex plus the parts of the ramps above the threshold, averaged
 * over the peak range. */
static double
expected_presence (const Pattern *p,
                   double         w)
{
  double sum = 0.0;
  const int steps = 16;

  for (int i = 0; i < steps; i++)
    {
      double peak = w * (PEAK_MIN + (PEAK_MAX - PEAK_MIN) * (i + 0.5) / steps), lo = 0.0, hi = 1.0;
      double ratio = FACET_SYNTH_PRESENCE_THRESHOLD / peak, above;

      if (ratio >= 1.0)
        continue;
      /* smoothstep (x) = ratio, by bisection */
      for (int k = 0; k < 40; k++)
        {
          double mid = 0.5 * (lo + hi);
          if (smoothstep (mid) < ratio)
            lo = mid;
          else
            hi = mid;
        }
      above = 1.0 - lo;
      sum += mean_range (p->apex) + above * (mean_range (p->onset) + mean_range (p->offset));
    }
  return sum / steps;
}

static double
mean_length (const Pattern *p)
{
  return mean_range (p->onset) + mean_range (p->apex) + mean_range (p->offset);
}

/* Fraction of time each pattern should be busy so that AU k is present in
 * about rates[k] of the frames: iterative proportional fitting of
 * 1 - prod (1 - busy_p * presence_pk / length_p) to the rates. */
static void
fit_pattern_rates (const float      rates[FACET_SYNTH_N_AUS],
                   FacetSynthEvents events,
                   double           busy[N_PATTERNS])
{
  double frac[N_PATTERNS][4];

  for (guint p = 0; p < N_PATTERNS; p++)
    {
      busy[p] = pattern_runs (p, events) ? 0.05 * patterns[p].share : 0.0;
      for (int j = 0; j < patterns[p].n; j++)
        frac[p][j]
          = expected_presence (&patterns[p], patterns[p].weight[j]) / mean_length (&patterns[p]);
    }

  for (int iter = 0; iter < 200; iter++)
    {
      double achieved[FACET_SYNTH_N_AUS];

      for (int k = 0; k < FACET_SYNTH_N_AUS; k++)
        achieved[k] = 1.0;
      for (guint p = 0; p < N_PATTERNS; p++)
        for (int j = 0; j < patterns[p].n; j++)
          achieved[patterns[p].au[j]] *= 1.0 - busy[p] * frac[p][j];
      for (int k = 0; k < FACET_SYNTH_N_AUS; k++)
        achieved[k] = 1.0 - achieved[k];

      for (guint p = 0; p < N_PATTERNS; p++)
        {
          double log_gain = 0.0;
          if (busy[p] == 0.0)
            continue;
          for (int j = 0; j < patterns[p].n; j++)
            {
              int k = patterns[p].au[j];
              double want = MAX (rates[k], 1e-4), got = MAX (achieved[k], 1e-6);
              log_gain += log (want / got);
            }
          busy[p] *= exp (log_gain / patterns[p].n);
          busy[p] = CLAMP (busy[p], 1e-5, 0.9);
        }
    }
}

static void
waves_init (Wave     *w,
            FacetRng *rng,
            double    amplitude,
            double    f_lo,
            double    f_hi)
{
  for (int i = 0; i < N_WAVES; i++)
    {
      w[i].amplitude = amplitude * facet_rng_range (rng, 0.3, 1.0) / N_WAVES * 1.6;
      w[i].frequency = facet_rng_range (rng, f_lo, f_hi);
      w[i].phase = facet_rng_range (rng, 0.0, 2.0 * G_PI);
    }
}

static double
waves_at (const Wave *w,
          double      t)
{
  double v = 0.0;

  for (int i = 0; i < N_WAVES; i++)
    v += w[i].amplitude * sin (2.0 * G_PI * w[i].frequency * t + w[i].phase);
  return v;
}

static gint
compare_events (gconstpointer a,
                gconstpointer b)
{
  const Event *ea = a, *eb = b;

  if (ea->start != eb->start)
    return ea->start < eb->start ? -1 : 1;
  return ea->pattern - eb->pattern;
}

/* The events of every pattern for @duration seconds, sorted by start. Each
 * pattern draws from its own stream, so changing one rate does not
 * reshuffle the others' events. */
static void
generate_events (const double busy[N_PATTERNS],
                 guint64      stream,
                 double       duration,
                 GArray      *events)
{
  FacetRng rng;

  for (guint p = 0; p < N_PATTERNS; p++)
    {
      const Pattern *pat = &patterns[p];
      double mean_gap, t;

      if (busy[p] == 0.0)
        continue; /* not run in this mode */
      mean_gap = mean_length (pat) * (1.0 - busy[p]) / busy[p];
      facet_rng_init (&rng, stream + 0x1000 + p);
      /* the process is already running when the video starts */
      t = -facet_rng_uniform (&rng) * (mean_gap + mean_length (pat));
      while (t < duration)
        {
          Event e = { 0 };
          double peak = facet_rng_range (&rng, PEAK_MIN, PEAK_MAX);

          e.start = t;
          e.onset = facet_rng_range (&rng, pat->onset[0], pat->onset[1]);
          e.apex = facet_rng_range (&rng, pat->apex[0], pat->apex[1]);
          e.offset = facet_rng_range (&rng, pat->offset[0], pat->offset[1]);
          e.pattern = (int) p;
          e.wobble_phase = (float) facet_rng_range (&rng, 0.0, 2.0 * G_PI);
          for (int j = 0; j < pat->n; j++)
            e.peak[j] = (float) CLAMP (peak * pat->weight[j] + facet_rng_range (&rng, -0.08, 0.08),
                                       0.05, 1.0);
          if (e.start + e.onset + e.apex + e.offset > 0.0)
            g_array_append_val (events, e);
          /* gaps: mean_gap on average, between 0.5 and 2.5 times it */
          t = e.start + e.onset + e.apex + e.offset + mean_gap * facet_rng_range (&rng, 0.5, 1.5);
        }
    }
  g_array_sort (events, compare_events);
}

static void event_levels (const GArray *events,
                          double        t,
                          double        level[FACET_SYNTH_N_AUS]);

/* The analytic fit ignores the peak jitter, the apex wobble and the exact
 * gap and overlap statistics; a few rounds of measuring the presence on a
 * long simulated recording (its own fixed stream) and rescaling the
 * patterns correct for all of them. */
static void
calibrate_pattern_rates (const float rates[FACET_SYNTH_N_AUS],
                         double      busy[N_PATTERNS])
{
  const double duration = 3600.0, step = 0.2;

  for (int round = 0; round < 4; round++)
    {
      g_autoptr (GArray) events = g_array_new (FALSE, FALSE, sizeof (Event));
      double present[FACET_SYNTH_N_AUS] = { 0 };
      int n = 0;

      generate_events (busy, G_GUINT64_CONSTANT (0xca1b0a7e), duration, events);
      for (double t = 0.0; t < duration; t += step, n++)
        {
          double level[FACET_SYNTH_N_AUS];
          event_levels (events, t, level);
          for (int k = 0; k < FACET_SYNTH_N_AUS; k++)
            present[k] += level[k] >= FACET_SYNTH_PRESENCE_THRESHOLD;
        }
      for (guint p = 0; p < N_PATTERNS; p++)
        {
          double log_gain = 0.0;
          if (busy[p] == 0.0)
            continue;
          for (int j = 0; j < patterns[p].n; j++)
            {
              int k = patterns[p].au[j];
              double want = MAX (rates[k], 1e-4), got = MAX (present[k] / n, 1e-4);
              log_gain += log (want / got);
            }
          busy[p] = CLAMP (busy[p] * exp (log_gain / patterns[p].n), 1e-5, 0.9);
        }
    }
}

/**
 * facet_synth_timeline_new:
 * @subject: its base rates decide how often each AU occurs
 * @seed: the recording: different seeds give different event sequences,
 *   head motion and lighting for the same subject
 *
 * Returns a timeline of @n_frames frames at @fps, AUs in co-occurring
 * patterns (FACET_SYNTH_EVENTS_PATTERNS).
 */
FacetSynthTimeline *
facet_synth_timeline_new (const FacetSynthSubject *subject,
                          guint64                  seed,
                          gint64                   n_frames,
                          double                   fps)
{
  return facet_synth_timeline_new_full (subject, seed, n_frames, fps,
                                        FACET_SYNTH_EVENTS_PATTERNS);
}

/**
 * facet_synth_timeline_new_full:
 * @events: FACET_SYNTH_EVENTS_PATTERNS (AUs together, as in real faces) or
 *   FACET_SYNTH_EVENTS_INDEPENDENT (each AU on its own: decorrelated material,
 *   where a model cannot read one AU from another's place)
 *
 * As facet_synth_timeline_new (). Head motion, lighting and noise do not
 * depend on @events.
 */
FacetSynthTimeline *
facet_synth_timeline_new_full (const FacetSynthSubject *subject,
                               guint64                  seed,
                               gint64                   n_frames,
                               double                   fps,
                               FacetSynthEvents         events)
{
  FacetSynthTimeline *tl;
  float rates[FACET_SYNTH_N_AUS];
  double busy[N_PATTERNS], duration;
  guint64 stream;
  const int *aus = facet_synth_aus (NULL);
  FacetRng rng;

  g_return_val_if_fail (subject != NULL, NULL);
  g_return_val_if_fail (n_frames > 0, NULL);
  g_return_val_if_fail (fps > 0.0 && fps <= 1000.0, NULL);
  g_return_val_if_fail (events == FACET_SYNTH_EVENTS_PATTERNS
                          || events == FACET_SYNTH_EVENTS_INDEPENDENT, NULL);

  tl = g_new0 (FacetSynthTimeline, 1);
  tl->seed = seed;
  tl->n_frames = n_frames;
  tl->fps = fps;
  tl->events = g_array_new (FALSE, FALSE, sizeof (Event));
  tl->nods = g_array_new (FALSE, FALSE, sizeof (Moment));
  tl->steps = g_array_new (FALSE, FALSE, sizeof (Moment));
  facet_synth_condition_init (&tl->condition);
  duration = n_frames / fps;

  /* The recording's streams mix both seeds: another subject with the same
   * --seed does other things. */
  stream = seed * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)
           ^ facet_synth_subject_get_seed (subject) * G_GUINT64_CONSTANT (0xc2b2ae3d27d4eb4f);
  for (int k = 0; k < FACET_SYNTH_N_AUS; k++)
    rates[k] = facet_synth_subject_get_base_rate (subject, aus[k]);
  fit_pattern_rates (rates, events, busy);
  calibrate_pattern_rates (rates, busy);

  generate_events (busy, stream, duration, tl->events);

  /* head motion: slow drift in every direction, and nods now and then */
  facet_rng_init (&rng, stream + 0x2000);
  waves_init (tl->yaw, &rng, 0.12, 0.02, 0.25);
  waves_init (tl->pitch, &rng, 0.05, 0.02, 0.20);
  waves_init (tl->roll, &rng, 0.05, 0.02, 0.20);
  waves_init (tl->dx, &rng, 0.02, 0.01, 0.15);
  waves_init (tl->dy, &rng, 0.015, 0.01, 0.15);
  waves_init (tl->scale, &rng, 0.03, 0.01, 0.10);
  waves_init (tl->gaze_x, &rng, 0.6, 0.05, 0.5);
  waves_init (tl->gaze_y, &rng, 0.3, 0.05, 0.5);
  for (double t = facet_rng_range (&rng, 2.0, 15.0); t < duration;
       t += facet_rng_range (&rng, 6.0, 25.0))
    {
      Moment nod = { t, facet_rng_range (&rng, 0.05, 0.10) };
      g_array_append_val (tl->nods, nod);
    }

  /* lighting: a gradient from one side, drifting, and brightness steps */
  facet_rng_init (&rng, stream + 0x3000);
  tl->light_angle = facet_rng_range (&rng, 0.0, 2.0 * G_PI);
  tl->light_strength = facet_rng_range (&rng, 0.05, 0.45);
  tl->noise = facet_rng_range (&rng, 1.0, 4.0);
  waves_init (tl->light, &rng, 0.6, 0.01, 0.05);
  waves_init (tl->bright, &rng, 0.06, 0.01, 0.08);
  for (double t = facet_rng_range (&rng, 5.0, 30.0); t < duration;
       t += facet_rng_range (&rng, 10.0, 40.0))
    {
      Moment step = { t, facet_rng_range (&rng, -0.12, 0.12) };
      g_array_append_val (tl->steps, step);
    }
  return tl;
}

void
facet_synth_timeline_free (FacetSynthTimeline *timeline)
{
  if (timeline == NULL)
    return;
  g_array_unref (timeline->events);
  g_array_unref (timeline->nods);
  g_array_unref (timeline->steps);
  g_free (timeline);
}

gint64
facet_synth_timeline_get_n_frames (const FacetSynthTimeline *timeline)
{
  g_return_val_if_fail (timeline != NULL, 0);
  return timeline->n_frames;
}

double
facet_synth_timeline_get_fps (const FacetSynthTimeline *timeline)
{
  g_return_val_if_fail (timeline != NULL, 0.0);
  return timeline->fps;
}

static double
event_level (const Event *e,
             double       t)
{
  double u = t - e->start;

  if (u <= 0.0)
    return 0.0;
  if (u < e->onset)
    return smoothstep (u / e->onset);
  u -= e->onset;
  if (u < e->apex)
    return 1.0 - 0.04 * (1.0 - cos (2.0 * G_PI * u / MAX (e->apex, 0.5) + e->wobble_phase)) * 0.5;
  u -= e->apex;
  if (u < e->offset)
    return 1.0 - smoothstep (u / e->offset);
  return 0.0;
}

/* The first event that could still be running at @t. */
static guint
first_event (const GArray *events,
             double        t)
{
  guint lo = 0, hi = events->len;
  double from = t - MAX_EVENT_SECONDS;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (g_array_index (events, Event, mid).start < from)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Each AU's intensity at @t: the largest any running event gives it. */
static void
event_levels (const GArray *events,
              double        t,
              double        level[FACET_SYNTH_N_AUS])
{
  for (int k = 0; k < FACET_SYNTH_N_AUS; k++)
    level[k] = 0.0;
  for (guint i = first_event (events, t); i < events->len; i++)
    {
      const Event *e = &g_array_index (events, Event, i);
      const Pattern *p = &patterns[e->pattern];
      double l;

      if (e->start > t)
        break;
      l = event_level (e, t);
      for (int j = 0; j < p->n; j++)
        level[p->au[j]] = MAX (level[p->au[j]], l * e->peak[j]);
    }
}

static double
moment_level (const GArray *moments,
              double        t,
              gboolean      nod)
{
  double v = 0.0;

  for (guint i = 0; i < moments->len; i++)
    {
      const Moment *m = &g_array_index (moments, Moment, i);
      double u = t - m->start;

      if (nod)
        {
          /* two swings down and up over 1.2 s */
          if (u > 0.0 && u < 1.2)
            v += m->amount * sin (2.0 * G_PI * u / 0.6) * sin (G_PI * u / 1.2);
        }
      else
        v += m->amount * smoothstep (u / 0.8); /* a light switched over 0.8 s */
    }
  return v;
}

void
facet_synth_condition_init (FacetSynthCondition *condition)
{
  g_return_if_fail (condition != NULL);

  memset (condition, 0, sizeof *condition);
  condition->light_colour[0] = condition->light_colour[1] = condition->light_colour[2] = 1.0f;
  condition->light_strength = -1.0f;
  condition->distance = 1.0f;
  condition->pose_range = 1.0f;
}

gboolean
facet_synth_condition_is_default (const FacetSynthCondition *condition)
{
  FacetSynthCondition d;

  g_return_val_if_fail (condition != NULL, TRUE);
  facet_synth_condition_init (&d);
  return memcmp (&d, condition, sizeof d) == 0;
}

gboolean
facet_synth_condition_check (const FacetSynthCondition *c,
                             GError                   **error)
{
  const char *field = NULL;

  g_return_val_if_fail (c != NULL, FALSE);
  for (int k = 0; k < 3; k++)
    if (!(c->light_colour[k] >= 0.2f && c->light_colour[k] <= 2.0f))
      field = "light colour (each gain 0.2-2)";
  if (!(c->light_strength < 0.0f || c->light_strength <= 0.8f))
    field = "light strength (0-0.8)";
  if (!isfinite (c->light_angle))
    field = "light angle";
  if (!(c->distance >= 0.5f && c->distance <= 4.0f))
    field = "camera distance (0.5-4)";
  if (!(fabsf (c->camera_yaw) <= 0.7f) || !(fabsf (c->camera_pitch) <= 0.5f))
    field = "camera angle (yaw within ±0.7, pitch within ±0.5 radians)";
  if (!(c->pose_range >= 0.0f && c->pose_range <= 4.0f))
    field = "head pose range (0-4)";
  if (!(c->blur >= 0.0f && c->blur <= 8.0f))
    field = "blur (0-8 pixels)";
  if (c->quality < 0 || c->quality > 51)
    field = "quality (1-51)";
  if (field != NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE,
                   "recording condition: %s is out of range", field);
      return FALSE;
    }
  return TRUE;
}

void
facet_synth_timeline_set_condition (FacetSynthTimeline        *timeline,
                                    const FacetSynthCondition *condition)
{
  g_return_if_fail (timeline != NULL && condition != NULL);
  timeline->condition = *condition;
}

const FacetSynthCondition *
facet_synth_timeline_get_condition (const FacetSynthTimeline *timeline)
{
  g_return_val_if_fail (timeline != NULL, NULL);
  return &timeline->condition;
}

/* The camera and the room on one frame's pose: the head's own motion
 * scaled, the camera's angle added, the face smaller (and its drift with
 * it) as the camera moves back, a fixed coloured light, blur. */
static void
apply_condition (const FacetSynthCondition *c,
                 FacetSynthPose            *pose)
{
  pose->yaw = pose->yaw * c->pose_range + c->camera_yaw;
  pose->pitch = pose->pitch * c->pose_range + c->camera_pitch;
  pose->roll *= c->pose_range;
  pose->scale /= c->distance;
  pose->dx /= c->distance;
  pose->dy /= c->distance;
  if (c->light_strength >= 0.0f)
    {
      pose->light_angle = c->light_angle;
      pose->light_strength = c->light_strength;
    }
  for (int k = 0; k < 3; k++)
    pose->tint[k] = c->light_colour[k];
  pose->blur = c->blur;
}

void
facet_synth_timeline_get (const FacetSynthTimeline *timeline,
                          gint64                    frame,
                          float                     au[FACET_SYNTH_N_AUS],
                          FacetSynthPose           *pose)
{
  double t;

  g_return_if_fail (timeline != NULL);
  g_return_if_fail (frame >= 0 && frame < timeline->n_frames);

  t = frame / timeline->fps;
  if (au != NULL)
    {
      double level[FACET_SYNTH_N_AUS];

      event_levels (timeline->events, t, level);
      /* rounded as the label file writes them: drawn == labelled */
      for (int k = 0; k < FACET_SYNTH_N_AUS; k++)
        au[k] = (float) (round (CLAMP (level[k], 0.0, 1.0) * 10000.0) / 10000.0);
    }

  if (pose != NULL)
    {
      const FacetSynthTimeline *tl = timeline;
      guint64 x = tl->seed ^ ((guint64) frame * G_GUINT64_CONSTANT (0xd1b54a32d192ed03));

      facet_synth_pose_init (pose);
      pose->yaw = (float) waves_at (tl->yaw, t);
      pose->pitch = (float) (waves_at (tl->pitch, t) + moment_level (tl->nods, t, TRUE));
      pose->roll = (float) waves_at (tl->roll, t);
      pose->dx = (float) waves_at (tl->dx, t);
      pose->dy = (float) waves_at (tl->dy, t);
      pose->scale = (float) (1.0 + waves_at (tl->scale, t));
      pose->gaze_x = (float) CLAMP (waves_at (tl->gaze_x, t), -1.0, 1.0);
      pose->gaze_y = (float) CLAMP (waves_at (tl->gaze_y, t), -1.0, 1.0);
      pose->light_angle = (float) (tl->light_angle + waves_at (tl->light, t));
      pose->light_strength
        = (float)CLAMP (tl->light_strength + 0.3 * waves_at (tl->bright, t), 0.0, 0.8);
      pose->brightness = (float)CLAMP (
        1.0 + waves_at (tl->bright, t) + moment_level (tl->steps, t, FALSE), 0.6, 1.4);
      pose->noise = (float) tl->noise;
      /* splitmix64 of seed and frame: a different noise field per frame */
      x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
      x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
      x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
      pose->noise_seed = x ^ (x >> 31);
      if (!facet_synth_condition_is_default (&tl->condition))
        apply_condition (&tl->condition, pose);
    }
}

/**
 * facet_synth_timeline_labels:
 *
 * The label file's text: "frame", then for each AU "AUxx" (1 when the
 * intensity is at least FACET_SYNTH_PRESENCE_THRESHOLD, else 0) and
 * "AUxx_i" (intensity, four decimals, '.' as decimal point whatever the
 * locale), in the order of facet_synth_aus (); "\n" line ends.
 */
char *
facet_synth_timeline_labels (const FacetSynthTimeline *timeline)
{
  GString *out;
  const int *aus;
  int n_aus;

  g_return_val_if_fail (timeline != NULL, NULL);

  aus = facet_synth_aus (&n_aus);
  out = g_string_sized_new ((gsize) (timeline->n_frames + 1) * (8 + 9 * n_aus));
  g_string_append (out, "frame");
  for (int k = 0; k < n_aus; k++)
    g_string_append_printf (out, ",AU%02d,AU%02d_i", aus[k], aus[k]);
  g_string_append_c (out, '\n');

  for (gint64 f = 0; f < timeline->n_frames; f++)
    {
      float au[FACET_SYNTH_N_AUS];

      facet_synth_timeline_get (timeline, f, au, NULL);
      g_string_append_printf (out, "%" G_GINT64_FORMAT, f);
      for (int k = 0; k < n_aus; k++)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          g_string_append_printf (out, ",%d,%s", au[k] >= FACET_SYNTH_PRESENCE_THRESHOLD ? 1 : 0,
                                  g_ascii_formatd (buf, sizeof buf, "%.4f", au[k]));
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

gboolean
facet_synth_timeline_write_labels (const FacetSynthTimeline  *timeline,
                                   const char                *path,
                                   GError                   **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (timeline != NULL && path != NULL, FALSE);

  text = facet_synth_timeline_labels (timeline);
  /* written to a temporary file and renamed: never a half-written file */
  if (!g_file_set_contents (path, text, -1, &local))
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO,
                   "%s: cannot write the labels: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}

char *
facet_synth_labels_path (const char *video_path)
{
  g_autofree char *base = NULL;
  const char *dot, *slash;

  g_return_val_if_fail (video_path != NULL, NULL);

  dot = strrchr (video_path, '.');
  slash = strrchr (video_path, G_DIR_SEPARATOR);
  if (dot != NULL && (slash == NULL || dot > slash + 1))
    base = g_strndup (video_path, (gsize) (dot - video_path));
  else
    base = g_strdup (video_path);
  return g_strconcat (base, ".labels.csv", NULL);
}
