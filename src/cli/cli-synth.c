/* cli-synth.c — facet-cli synth: a synthetic face video with its labels */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "media/facet-media.h"
#include "media/media-synth.h"

static void
show_progress (double      fraction,
               const char *message,
               gpointer    user_data)
{
  fprintf (stderr, "\rsynth: %3d %%", (int) (fraction * 100.0 + 0.5));
  if (fraction >= 1.0)
    fprintf (stderr, "\n");
  fflush (stderr);
}

/* "12,6" -> numbers; FALSE with a message when malformed. */
static gboolean
parse_list (const char *text,
            const char *option,
            GArray     *values)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);

  for (int i = 0; parts[i] != NULL; i++)
    {
      char *end = NULL;
      double v = g_ascii_strtod (g_strstrip (parts[i]), &end);

      if (end == parts[i] || *end != '\0')
        {
          facet_cli_failf ("%s: “%s” is not a number", option, parts[i]);
          return FALSE;
        }
      g_array_append_val (values, v);
    }
  return TRUE;
}

/* --bias-au AU[,AU...] with --bias-rate R[,R...] (one rate for all, or
 * one per AU) set on @subject; FALSE after a message when malformed. */
static gboolean
apply_bias (FacetSynthSubject *subject,
            const char        *bias_au,
            const char        *bias_rate)
{
  g_autoptr (GArray) bias_aus = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) bias_rates = g_array_new (FALSE, FALSE, sizeof (double));

  if (!parse_list (bias_au, "--bias-au", bias_aus)
      || !parse_list (bias_rate, "--bias-rate", bias_rates))
    return FALSE;
  if (bias_rates->len != 1 && bias_rates->len != bias_aus->len)
    {
      facet_cli_failf ("--bias-rate needs one rate, or one per AU of --bias-au");
      return FALSE;
    }
  for (guint i = 0; i < bias_aus->len; i++)
    {
      g_autoptr (GError) error = NULL;
      double au = g_array_index (bias_aus, double, i);
      double rate = g_array_index (bias_rates, double, bias_rates->len == 1 ? 0 : i);

      if (au != (int) au
          || !facet_synth_subject_set_base_rate (subject, (int) au, (float) rate, &error))
        {
          if (error == NULL)
            facet_cli_failf ("--bias-au: %g is not an AU number", au);
          else
            facet_cli_fail (g_steal_pointer (&error));
          return FALSE;
        }
    }
  return TRUE;
}

/* What came out: presence per AU, against the base rate asked for. */
static void
print_summary (const char         *path,
               FacetSynthSubject  *subject,
               FacetSynthTimeline *timeline,
               gint64              subject_seed,
               gint64              n_frames)
{
  g_autofree char *labels = facet_synth_labels_path (path);
  g_autofree char *description = facet_synth_subject_describe (subject);
  int n_aus;
  const int *aus = facet_synth_aus (&n_aus);
  g_autofree gint64 *present = g_new0 (gint64, n_aus);

  printf ("%s: %" G_GINT64_FORMAT " frames of subject %" G_GINT64_FORMAT " (%s)\n", path,
          n_frames, subject_seed, description);
  printf ("%s: presence (intensity >= %.2f), fraction of frames, and the base rate asked for\n",
          labels, (double)FACET_SYNTH_PRESENCE_THRESHOLD);
  for (gint64 f = 0; f < n_frames; f++)
    {
      float au[FACET_SYNTH_N_AUS];
      facet_synth_timeline_get (timeline, f, au, NULL);
      for (int k = 0; k < n_aus; k++)
        present[k] += au[k] >= FACET_SYNTH_PRESENCE_THRESHOLD;
    }
  for (int k = 0; k < n_aus; k++)
    printf ("  AU%02d %5.3f (base rate %.3f)\n", aus[k], (double) present[k] / n_frames,
            (double) facet_synth_subject_get_base_rate (subject, aus[k]));
}

int
facet_cli_synth (int    argc,
                 char **argv)
{
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("OUT.mkv — a synthetic face video and OUT.labels.csv");
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetSynthSubject) subject = NULL;
  g_autoptr (FacetSynthTimeline) timeline = NULL;
  g_autofree char *codec = NULL, *bias_au = NULL, *bias_rate = NULL;
  g_autofree char *population = NULL, *light_colour = NULL;
  g_autoptr (GArray) colour = g_array_new (FALSE, FALSE, sizeof (double));
  FacetSynthCondition condition;
  double light_angle = 0.0, light_strength = -1.0, distance = 1.0, camera_yaw = 0.0;
  double camera_pitch = 0.0, pose_range = 1.0, blur = 0.0;
  int quality = 0;
  gint64 subject_seed = 1, seed = 0, n_frames;
  double seconds = 10.0, fps = 30.0;
  int size = 224;
  gboolean bias = FALSE, independent = FALSE, quiet = FALSE;
  GOptionEntry entries[]
    = { { "subject", 0, 0, G_OPTION_ARG_INT64, &subject_seed, "Subject (identity) seed (default 1)",
          "S" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed,
          "Recording seed: events, motion, lighting (default 0)", "N" },
        { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Duration (default 10)", "T" },
        { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &fps, "Frame rate (default 30)", "F" },
        { "size", 0, 0, G_OPTION_ARG_INT, &size, "Frame side in pixels (default 224)", "PX" },
        { "codec", 0, 0, G_OPTION_ARG_STRING, &codec, "ffv1 (lossless), h264 (default) or mjpeg",
          "NAME" },
        { "bias", 0, 0, G_OPTION_ARG_NONE, &bias,
          "AU base rates biased by a profile from the subject seed", NULL },
        { "bias-au", 0, 0, G_OPTION_ARG_STRING, &bias_au, "AUs whose base rate to set",
          "AU[,AU...]" },
        { "bias-rate", 0, 0, G_OPTION_ARG_STRING, &bias_rate,
          "Their base rates: fraction of frames (0-0.9)", "R[,R...]" },
        { "independent", 0, 0, G_OPTION_ARG_NONE, &independent,
          "Each AU in events of its own, not in patterns such as 6+12 or 1+2+25+26 (AUs meet only "
          "by chance: decorrelated training material)", NULL },
        { "population", 0, 0, G_OPTION_ARG_STRING, &population,
          "Identities: default (the demo model's) or other (unlike them)", "NAME" },
        { "light-colour", 0, 0, G_OPTION_ARG_STRING, &light_colour,
          "Colour of the light: gains of red, green, blue (default 1,1,1)", "R,G,B" },
        { "light-strength", 0, 0, G_OPTION_ARG_DOUBLE, &light_strength,
          "A fixed light from one side, the far side darker by this much (0-0.8; default: the "
          "recording's drifting light)", "S" },
        { "light-angle", 0, 0, G_OPTION_ARG_DOUBLE, &light_angle,
          "Where that light comes from, degrees (0 right, 90 below, 180 left, 270 above)", "DEG" },
        { "distance", 0, 0, G_OPTION_ARG_DOUBLE, &distance,
          "Camera distance: 1 (default) the face fills the frame, 2 half as large", "D" },
        { "camera-yaw", 0, 0, G_OPTION_ARG_DOUBLE, &camera_yaw,
          "Camera off to the side, degrees (within ±40; default 0)", "DEG" },
        { "camera-pitch", 0, 0, G_OPTION_ARG_DOUBLE, &camera_pitch,
          "Camera below (>0) or above (<0) the face, degrees (within ±28; default 0)", "DEG" },
        { "pose-range", 0, 0, G_OPTION_ARG_DOUBLE, &pose_range,
          "Head turns, nods and tilts times this (0-4; default 1)", "X" },
        { "blur", 0, 0, G_OPTION_ARG_DOUBLE, &blur,
          "Optical blur, Gaussian sigma in pixels (0-8; default 0)", "PX" },
        { "quality", 0, 0, G_OPTION_ARG_INT, &quality,
          "Compression: h264 CRF 1-51 (default 18), mjpeg qscale 1-31 (default 3)", "Q" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress and summary", NULL },
        { NULL } };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("synth needs one output file, e.g. OUT.mkv (see --help)");
  if (subject_seed < 0 || seed < 0)
    return facet_cli_failf ("--subject and --seed must not be negative");
  if (!(fps > 0.0 && fps <= 240.0))
    return facet_cli_failf ("--fps %g is out of range (0-240)", fps);
  if (!(seconds > 0.0 && seconds <= 24 * 3600.0))
    return facet_cli_failf ("--seconds %g is out of range (up to a day)", seconds);
  if (size < 16 || size > 4096)
    return facet_cli_failf ("--size %d is out of range (16-4096)", size);
  if (codec != NULL && !g_str_equal (codec, "ffv1") && !g_str_equal (codec, "h264")
      && !g_str_equal (codec, "mjpeg"))
    return facet_cli_failf ("unknown codec “%s” (ffv1, h264 or mjpeg)", codec);
  if ((bias_au == NULL) != (bias_rate == NULL))
    return facet_cli_failf ("--bias-au and --bias-rate go together");
  if (population != NULL && !g_str_equal (population, "default")
      && !g_str_equal (population, "other"))
    return facet_cli_failf ("unknown population “%s” (default or other)", population);
  facet_synth_condition_init (&condition);
  if (light_colour != NULL)
    {
      if (!parse_list (light_colour, "--light-colour", colour))
        return 1;
      if (colour->len != 3)
        return facet_cli_failf ("--light-colour needs three gains, e.g. 1.2,1,0.7");
      for (int k = 0; k < 3; k++)
        condition.light_colour[k] = (float) g_array_index (colour, double, k);
    }
  if (light_strength >= 0.0)
    {
      condition.light_strength = (float) light_strength;
      condition.light_angle = (float) (light_angle * G_PI / 180.0);
    }
  condition.distance = (float) distance;
  condition.camera_yaw = (float) (camera_yaw * G_PI / 180.0);
  condition.camera_pitch = (float) (camera_pitch * G_PI / 180.0);
  condition.pose_range = (float) pose_range;
  condition.blur = (float) blur;
  condition.quality = quality;
  if (codec != NULL && g_str_equal (codec, "mjpeg") && quality > 31)
    return facet_cli_failf ("--quality %d is out of range for mjpeg (1-31)", quality);
  if (!facet_synth_condition_check (&condition, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  if (quality != 0 && codec != NULL && g_str_equal (codec, "ffv1"))
    return facet_cli_failf ("--quality does not apply to the lossless ffv1");

  n_frames = (gint64) (seconds * fps + 0.5);
  if (n_frames < 1)
    return facet_cli_failf ("%g s at %g fps is not a single frame", seconds, fps);

  subject = facet_synth_subject_new_in ((guint64) subject_seed,
                                        population != NULL && g_str_equal (population, "other")
                                          ? FACET_SYNTH_POPULATION_OTHER
                                          : FACET_SYNTH_POPULATION_DEFAULT);
  if (bias)
    facet_synth_subject_apply_bias_profile (subject);
  if (bias_au != NULL && !apply_bias (subject, bias_au, bias_rate))
    return 1;

  timeline = facet_synth_timeline_new_full (subject, (guint64) seed, n_frames, fps,
                                            independent ? FACET_SYNTH_EVENTS_INDEPENDENT
                                                        : FACET_SYNTH_EVENTS_PATTERNS);
  facet_synth_timeline_set_condition (timeline, &condition);
  if (!facet_synth_write_video (subject, timeline, argv[1], size, codec,
                                quiet ? NULL : show_progress, NULL, NULL, &error))
    return facet_cli_fail (g_steal_pointer (&error));

  if (quiet)
    return 0;

  print_summary (argv[1], subject, timeline, subject_seed, n_frames);
  return 0;
}
