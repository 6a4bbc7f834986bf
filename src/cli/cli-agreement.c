/* cli-agreement.c — facet-cli agreement and sample: inter-coder reliability
 * between two coders' layers (or a model), and the segments marked for
 * double coding */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* ---- agreement -------------------------------------------------------------------------------- */

typedef struct
{
  const char *name;
  size_t      offset;
  gboolean    is_int; /* gint64, else double */
} Column;

#define INT_COL(f)    { #f, G_STRUCT_OFFSET (FacetAgreement, f), TRUE }
#define DOUBLE_COL(f) { #f, G_STRUCT_OFFSET (FacetAgreement, f), FALSE }

/* Everything FacetAgreement holds, in the order of the CSV and JSON. */
static const Column columns[] = {
  INT_COL (frames), INT_COL (both_present), INT_COL (a_only), INT_COL (b_only),
  INT_COL (both_absent), DOUBLE_COL (agreement), DOUBLE_COL (kappa), DOUBLE_COL (prevalence),
  DOUBLE_COL (present_a), DOUBLE_COL (present_b), INT_COL (events_a), INT_COL (events_b),
  INT_COL (matched), INT_COL (onset_agree), INT_COL (offset_agree), DOUBLE_COL (agreement_ratio),
  DOUBLE_COL (onset_agreement), DOUBLE_COL (offset_agreement), INT_COL (intensity_frames),
  DOUBLE_COL (weighted_kappa), DOUBLE_COL (icc),
};

static gint64
col_int (const FacetAgreement *r,
         const Column         *c)
{
  return G_STRUCT_MEMBER (gint64, r, c->offset);
}

static double
col_double (const FacetAgreement *r,
            const Column         *c)
{
  return G_STRUCT_MEMBER (double, r, c->offset);
}

static GString *
agreement_json (GArray     *results,
                const char *a,
                const char *b,
                gint64      video,
                gboolean    sample_only)
{
  GString *out = g_string_new ("{\"coders\":[");

  facet_cli_json_string (out, a);
  g_string_append_c (out, ',');
  facet_cli_json_string (out, b);
  g_string_append (out, "],\"video\":");
  if (video != 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, video);
  else
    g_string_append (out, "null");
  g_string_append_printf (out, ",\"sample_only\":%s,\"icc\":\"ICC(3,1)\",\"aus\":[",
                          sample_only ? "true" : "false");
  for (guint i = 0; i < results->len; i++)
    {
      const FacetAgreement *r = &g_array_index (results, FacetAgreement, i);
      g_string_append_printf (out, "%s{\"au\":%d,\"window\":%d", i ? "," : "", r->au, r->window);
      for (guint c = 0; c < G_N_ELEMENTS (columns); c++)
        {
          g_string_append_printf (out, ",\"%s\":", columns[c].name);
          if (columns[c].is_int)
            g_string_append_printf (out, "%" G_GINT64_FORMAT, col_int (r, &columns[c]));
          else
            facet_cli_json_float (out, col_double (r, &columns[c]));
        }
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}\n");
  return out;
}

/* Undefined statistics are empty cells (pandas reads NaN). */
static GString *
agreement_csv (GArray *results)
{
  GString *out = g_string_new ("au,window");
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint c = 0; c < G_N_ELEMENTS (columns); c++)
    g_string_append_printf (out, ",%s", columns[c].name);
  g_string_append_c (out, '\n');
  for (guint i = 0; i < results->len; i++)
    {
      const FacetAgreement *r = &g_array_index (results, FacetAgreement, i);
      g_string_append_printf (out, "%d,%d", r->au, r->window);
      for (guint c = 0; c < G_N_ELEMENTS (columns); c++)
        {
          g_string_append_c (out, ',');
          if (columns[c].is_int)
            g_string_append_printf (out, "%" G_GINT64_FORMAT, col_int (r, &columns[c]));
          else if (isfinite (col_double (r, &columns[c])))
            g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.6f",
                                                   col_double (r, &columns[c])));
        }
      g_string_append_c (out, '\n');
    }
  return out;
}

/* "0.81", or "n/a" where a statistic is undefined; never the locale's comma. */
static const char *
stat_text (char   *buf,
           gsize   size,
           double  v,
           const char *format)
{
  if (!isfinite (v))
    return "n/a";
  return g_ascii_formatd (buf, size, format, v);
}

/* "72.4 %" for a share, "n/a" when undefined. */
static const char *
pct_text (char   *buf,
          gsize   size,
          double  share)
{
  char num[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (share))
    return "n/a";
  g_snprintf (buf, size, "%s %%", g_ascii_formatd (num, sizeof num, "%.1f", 100 * share));
  return buf;
}

/* A paragraph per AU to paste into a methods section. */
static GString *
agreement_report (GArray     *results,
                  const char *a,
                  const char *b,
                  gint64      video,
                  gboolean    sample_only)
{
  GString *out = g_string_new (NULL);
  char k[32], p[32], r[32], o[32], f[32], w[32], icc[32];

  g_string_append_printf (out, "Inter-coder reliability between %s and %s (%s%s). Frame-level "
                          "statistics count the frames both coded present or absent; frames either "
                          "coder marked not codable or left uncoded are excluded. Kappa is Cohen's "
                          "kappa; events agree when they overlap or their onsets lie within the "
                          "window; intensity (FACS A-E as 1-5) uses linearly weighted kappa and "
                          "ICC(3,1) on frames both coded present. n/a: undefined (no frames, or "
                          "chance agreement of 1).\n\n", a, b,
                          video ? "one video" : "all videos",
                          sample_only ? ", the reliability sample only" : "");
  for (guint i = 0; i < results->len; i++)
    {
      const FacetAgreement *x = &g_array_index (results, FacetAgreement, i);
      const char *name = facet_au_name (x->au);

      g_string_append_printf (out, "AU%d%s%s%s: kappa = %s, agreement = %s, n = %" G_GINT64_FORMAT
                              " frames (prevalence %s).",
                              x->au, name ? " (" : "", name ? name : "", name ? ")" : "",
                              stat_text (k, sizeof k, x->kappa, "%.2f"),
                              pct_text (p, sizeof p, x->agreement), x->frames,
                              pct_text (f, sizeof f, x->prevalence));
      g_string_append_printf (out, " Events: agreement ratio = %s (%" G_GINT64_FORMAT " and %"
                              G_GINT64_FORMAT " events, %" G_GINT64_FORMAT " matched within +-%d "
                              "frames; onsets agree in %s, offsets in %s).",
                              stat_text (r, sizeof r, x->agreement_ratio, "%.2f"), x->events_a,
                              x->events_b, x->matched, x->window,
                              pct_text (o, sizeof o, x->onset_agreement),
                              pct_text (f, sizeof f, x->offset_agreement));
      if (x->intensity_frames > 0)
        g_string_append_printf (out, " Intensity: weighted kappa = %s, ICC(3,1) = %s, n = %"
                                G_GINT64_FORMAT " frames.",
                                stat_text (w, sizeof w, x->weighted_kappa, "%.2f"),
                                stat_text (icc, sizeof icc, x->icc, "%.2f"), x->intensity_frames);
      g_string_append (out, "\n");
    }
  return out;
}

static void
agreement_table (GArray *results)
{
  char b[8][32];

  printf ("%-5s %8s %7s %6s %6s %7s %7s %6s %6s %6s %6s %6s\n", "AU", "frames", "agree", "kappa",
          "prev", "ev.A", "ev.B", "ratio", "onset", "offset", "wkappa", "ICC");
  for (guint i = 0; i < results->len; i++)
    {
      const FacetAgreement *r = &g_array_index (results, FacetAgreement, i);
      printf ("AU%-3d %8" G_GINT64_FORMAT " %7s %6s %6s %7" G_GINT64_FORMAT " %7" G_GINT64_FORMAT
              " %6s %6s %6s %6s %6s\n", r->au, r->frames,
              stat_text (b[0], 32, r->agreement, "%.3f"), stat_text (b[1], 32, r->kappa, "%.3f"),
              stat_text (b[2], 32, r->prevalence, "%.3f"), r->events_a, r->events_b,
              stat_text (b[3], 32, r->agreement_ratio, "%.3f"),
              stat_text (b[4], 32, r->onset_agreement, "%.3f"),
              stat_text (b[5], 32, r->offset_agreement, "%.3f"),
              stat_text (b[6], 32, r->weighted_kappa, "%.3f"), stat_text (b[7], 32, r->icc, "%.3f"));
    }
}

int
facet_cli_agreement (int    argc,
                     char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — inter-coder reliability per AU");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) results = NULL;
  g_autofree char *coders = NULL, *video_text = NULL, *csv = NULL, *report = NULL;
  g_auto (GStrv) pair = NULL;
  gboolean json = FALSE, sample_only = FALSE;
  FacetAgreementOptions opt = { .window = -1, .threshold = NAN };
  double threshold = NAN;
  gint64 video = 0;
  int window = -1;
  GOptionEntry entries[] = {
    { "coders", 0, 0, G_OPTION_ARG_STRING, &coders,
      "Two coders' layers; \"final\" is the final layer, \"model:N\" (or \"model\") a model's "
      "thresholded predictions", "A,B" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text, "Only this video (default all)", "V" },
    { "window", 0, 0, G_OPTION_ARG_INT, &window,
      "Events: onsets and offsets agree within +-N frames (default half a second)", "N" },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold,
      "A model's presence threshold (default: its per-AU ones)", "T" },
    { "sample", 0, 0, G_OPTION_ARG_NONE, &sample_only,
      "Only the frames marked for double coding (facet-cli sample)", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object on stdout", NULL },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv, "Also write the per-AU table as CSV", "FILE" },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, &report,
      "Also write a text block per AU for a methods section", "FILE" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("agreement takes one project (see --help)");
  if (coders != NULL)
    pair = g_strsplit (coders, ",", -1);
  if (pair == NULL || g_strv_length (pair) != 2 || *g_strstrip (pair[0]) == '\0'
      || *g_strstrip (pair[1]) == '\0')
    return facet_cli_failf ("agreement needs --coders A,B (two coders, or a coder and model:N)");
  if (video_text != NULL && !g_ascii_string_to_signed (video_text, 10, 1, G_MAXINT64, &video, NULL))
    return facet_cli_failf ("--video %s is not a video number", video_text);
  if (window < -1)
    return facet_cli_failf ("--window %d: give a number of frames, 0 or more", window);
  if (!isnan (threshold) && !(threshold > 0.0 && threshold < 1.0))
    return facet_cli_failf ("--threshold %g is outside (0, 1)", threshold);
  opt.window = window;
  opt.threshold = (float) threshold;
  opt.sample_only = sample_only;

  store = facet_store_open (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  results = facet_store_agreement (store, pair[0], pair[1], video, &opt, &error);
  if (results == NULL)
    return facet_cli_fail (g_steal_pointer (&error));

  if (csv != NULL)
    {
      g_autoptr (GString) text = agreement_csv (results);
      if (!facet_write_file_atomic (csv, text->str, text->len, &error))
        return facet_cli_fail (g_steal_pointer (&error));
    }
  if (report != NULL)
    {
      g_autoptr (GString) text = agreement_report (results, pair[0], pair[1], video, sample_only);
      if (!facet_write_file_atomic (report, text->str, text->len, &error))
        return facet_cli_fail (g_steal_pointer (&error));
    }
  if (json)
    {
      g_autoptr (GString) text = agreement_json (results, pair[0], pair[1], video, sample_only);
      fputs (text->str, stdout);
    }
  else if (results->len == 0)
    printf ("%s and %s have no AU in common to compare\n", pair[0], pair[1]);
  else
    agreement_table (results);
  return 0;
}

/* ---- sample ----------------------------------------------------------------------------------- */

int
facet_cli_sample (int    argc,
                  char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PROJECT — mark random segments for "
                                                         "double coding (the reliability sample)");
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) segments = NULL;
  g_autofree char *video_text = NULL;
  gboolean list = FALSE, clear = FALSE, json = FALSE;
  double percent = 0, seconds = 0;
  gint64 seed = -1, video = 0, sample = 0;
  GOptionEntry entries[] = {
    { "percent", 0, 0, G_OPTION_ARG_DOUBLE, &percent, "Share of each video's frames to mark", "X" },
    { "segment", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Segment length in seconds", "SECONDS" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (default: a new one, printed)", "S" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video_text, "Only this video (default all)", "V" },
    { "list", 0, 0, G_OPTION_ARG_NONE, &list, "List the marked segments", NULL },
    { "clear", 0, 0, G_OPTION_ARG_NONE, &clear, "Remove every marked segment", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "With --list: JSON", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("sample takes one project (see --help)");
  if (video_text != NULL && !g_ascii_string_to_signed (video_text, 10, 1, G_MAXINT64, &video, NULL))
    return facet_cli_failf ("--video %s is not a video number", video_text);
  if (list + clear + (percent != 0 || seconds != 0) != 1)
    return facet_cli_failf ("sample needs --percent X --segment SECONDS, or --list, or --clear");
  if (seed < -1 || seed > G_MAXUINT32)
    return facet_cli_failf ("--seed %" G_GINT64_FORMAT " is outside 0-%u", seed, G_MAXUINT32);

  store = facet_store_open (argv[1], &error);
  if (store == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (clear)
    {
      if (!facet_store_clear_reliability (store, 0, &error))
        return facet_cli_fail (g_steal_pointer (&error));
      return 0;
    }
  if (!list)
    {
      FacetSampleOptions opt = { .percent = percent, .seconds = seconds, .video_id = video };
      opt.seed = seed >= 0 ? (guint32) seed : g_random_int ();
      sample = facet_store_sample_reliability (store, &opt, &error);
      if (sample == 0)
        return facet_cli_fail (g_steal_pointer (&error));
      printf ("sample %" G_GINT64_FORMAT " (seed %u):\n", sample, opt.seed);
    }
  segments = facet_store_list_reliability (store, video, &error);
  if (segments == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (json)
    {
      g_autoptr (GString) out = g_string_new ("[");
      for (guint i = 0; i < segments->len; i++)
        {
          const FacetReliabilitySegment *s = segments->pdata[i];
          g_string_append_printf (out, "%s{\"id\":%" G_GINT64_FORMAT ",\"sample\":%" G_GINT64_FORMAT
                                  ",\"video\":%" G_GINT64_FORMAT ",\"first\":%" G_GINT64_FORMAT
                                  ",\"last\":%" G_GINT64_FORMAT ",\"subject\":", i ? "," : "",
                                  s->id, s->sample_id, s->video_id, s->first, s->last);
          facet_cli_json_string (out, s->subject);
          g_string_append_c (out, '}');
        }
      g_string_append (out, "]\n");
      fputs (out->str, stdout);
      return 0;
    }
  for (guint i = 0; i < segments->len; i++)
    {
      const FacetReliabilitySegment *s = segments->pdata[i];
      if (sample != 0 && s->sample_id != sample)
        continue;
      printf ("video %" G_GINT64_FORMAT " (subject %s): frames %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
              "\n", s->video_id, s->subject, s->first, s->last);
    }
  return 0;
}
