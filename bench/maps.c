/* maps.c — do the evidence maps follow the model, and do they point at the AU?
 *
 * Synthetic frames of identities the demo model never saw (the generator's
 * recording timelines: AU events, head motion, lighting, noise), cropped as
 * the model expects (detector, landmarks, alignment), and for every map
 * method and every AU present in the frame (intensity >= 0.25):
 *
 * - deletion, top 10 %: hide the tenth of the patches the map ranks highest
 *   (filled with the normalisation's mean colour) and measure the drop of
 *   the AU's probability; the peer is the same number of patches drawn at
 *   random (mean over 8 draws) on the same frame. "beats" is the share of
 *   (frame, AU) pairs where the map's drop is larger than random's, "ratio"
 *   the mean drop over random's mean drop;
 * - deletion AUC: the probability as patches are hidden in the map's order
 *   in steps of a tenth, area under that curve over [0, 1] (lower: the
 *   map's first patches matter more); random order for reference;
 * - pointing: the share of the map's positive mass on patches inside the
 *   AU's region (the generator's boxes for the frame, the same as
 *   `facet-cli synth` writes to OUT.regions.csv, mapped into the crop;
 *   each patch counted by the part of it that lies inside), and "hit", the
 *   share of pairs whose top patch lies inside. A map spread evenly would
 *   put "uniform" of its mass inside. "On the face" is the share inside any
 *   of the generator's regions (brows, eyes, cheeks, nose, mouth, chin):
 *   mass outside it lies on hair, ears, neck or background. "Any present
 *   AU's region" is the share inside the union of the regions of all AUs
 *   present in the frame (the generator draws AUs together: 6+12,
 *   1+2+25+26, 4+9, 1+4+15, and a model may read one from another's place).
 *
 * Change from neutral (FACET_MAP_NEUTRAL) needs a neutral frame of the
 * person: chosen as the app chooses it, without labels: of the recording's
 * frames (one a second) the six whose AU probabilities sum lowest
 * (facet_neutral_pick), and of these the nearest to the frame explained
 * (facet_neutral_nearest).
 *
 * Usage: bench-maps [--model FILE] [--subjects N] [--frames K] [--variants]
 *                   [--only TEXT]
 * FILE defaults to $FACET_DEMO_MODEL. --variants adds rows for the
 * alternatives tried (other occlusion fills and windows, other neutral
 * frames, random masks, smoothed maps, maps on cells finer than a patch:
 * their deletion test and pointing are per cell, against as many random
 * cells); --only keeps the rows whose name holds TEXT (or one of its parts
 * between '|').
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"
#include "face/facet-face.h"
#include "media/media-synth.h"
#include "pipeline/facet-pipeline.h"

#define N_RANDOM 8
#define N_STEPS  10
#define N_CALM   6

typedef struct
{
  const char        *name;
  FacetMapMethod     method;
  FacetOcclusionFill fill;
  int                window;
  gboolean           smooth;
  gboolean           variant;
  gboolean           probability;
  int                reference;   /* with the reference fill: 1 the person's most neutral
                                     frame, 2 of the neutral ones the nearest in appearance,
                                     3 the mean over the calm frames, 4 the nearest frame with
                                     no AU (the generator's truth) */
  int                masks;       /* > 0: random masks (half the patches each) instead of one
                                     patch at a time */
  int                cells;       /* cells per patch side (0 or 1: a value per patch) */
} Row;

static const Row rows[] = {
  { "attention rollout", FACET_MAP_ROLLOUT, 0, 1, FALSE, FALSE },
  { "last-layer split", FACET_MAP_LAST_LAYER, 0, 1, FALSE, FALSE },
  { "grad-attention (Chefer)", FACET_MAP_GRAD_ATTENTION, 0, 1, FALSE, FALSE },
  { "input x gradient", FACET_MAP_INPUT_X_GRADIENT, 0, 1, FALSE, FALSE },
  { "occlusion (image-mean fill, probability drop)", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_IMAGE_MEAN, 1, FALSE, FALSE, TRUE },
  { "change from neutral (the app's default: nearest calm frame, both ways)", FACET_MAP_NEUTRAL, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, FALSE, TRUE, 6 },
  { "occlusion, image-mean fill, probability drop, half-patch cells", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_IMAGE_MEAN, 1, FALSE, TRUE, TRUE, 0, 0, 2 },
  { "change from neutral, half-patch cells", FACET_MAP_NEUTRAL, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, TRUE, 6, 0, 2 },
  { "occlusion, image-mean fill, probability drop, quarter-patch cells", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_IMAGE_MEAN, 1, FALSE, TRUE, TRUE, 0, 0, 4 },
  { "occlusion, most neutral frame fill, probability drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, TRUE, 1 },
  { "occlusion, nearest neutral frame fill, probability drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, TRUE, 2 },
  { "occlusion, mean over the 6 calmest frames as fill, probability drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, TRUE, 3 },
  { "occlusion, nearest frame with no AU (generator's truth) as fill, probability drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, TRUE, 4 },
  { "occlusion, mean over the 3 nearest calm frames as fill, probability drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, TRUE, 5 },
  { "random masks (256, half the patches), nearest neutral frame fill", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, TRUE, 2, 256 },
  { "random masks (256, half the patches), image-mean fill", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_IMAGE_MEAN, 1, FALSE, TRUE, TRUE, 0, 256 },
  { "occlusion, most neutral frame fill, logit drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_REFERENCE, 1, FALSE, TRUE, FALSE, 1 },
  { "occlusion, mean fill, logit drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_MEAN, 1, FALSE, TRUE },
  { "occlusion, image-mean fill, logit drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_IMAGE_MEAN, 1, FALSE, TRUE },
  { "occlusion, patch-mean fill, logit drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_PATCH_MEAN, 1, FALSE, TRUE },
  { "occlusion, mean fill, 3x3 window, logit drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_MEAN, 3, FALSE, TRUE },
  { "occlusion, mean fill, probability drop", FACET_MAP_OCCLUSION, FACET_OCCLUSION_FILL_MEAN, 1, FALSE, TRUE, TRUE },
  { "last-layer, smoothed 3x3", FACET_MAP_LAST_LAYER, 0, 1, TRUE, TRUE },
  { "grad-attention, smoothed 3x3", FACET_MAP_GRAD_ATTENTION, 0, 1, TRUE, TRUE },
  { "input x gradient, smoothed", FACET_MAP_INPUT_X_GRADIENT, 0, 1, TRUE, TRUE },
};
#define N_ROWS G_N_ELEMENTS (rows)

/* What a frame's maps of one resolution are measured against: the shares
 * of each cell on the face and in the present AUs' regions, and random
 * deletion of as many cells (per present AU). */
typedef struct
{
  int    np, k;
  float *face, *any;
  double random_drop[64], random_auc[64];
} Res;

typedef struct
{
  int    pairs, beats, hits;
  double drop, drop_random, auc, auc_random, mass, uniform, face, face_uniform, any;
} Stats;

static void
die (GError *error)
{
  fprintf (stderr, "bench-maps: %s\n", error->message);
  exit (1);
}

/* 3x3 box mean on the grid (clipped at the border). */
static void
smooth (float *map,
        int    g)
{
  g_autofree float *tmp = g_memdup2 (map, sizeof (float) * g * g);

  for (int y = 0; y < g; y++)
    for (int x = 0; x < g; x++)
      {
        double s = 0.0;
        int n = 0;
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++)
            if (y + dy >= 0 && y + dy < g && x + dx >= 0 && x + dx < g)
              {
                s += tmp[(y + dy) * g + x + dx];
                n++;
              }
        map[y * g + x] = (float) (s / n);
      }
}

/* Random masks: each hides half the patches (fill and reference as for
 * occlusion); a patch's value is the mean drop of the AU's probability
 * over the masks that hid it minus that over the masks that kept it. */
static void
random_masks (FacetEngine            *engine,
              const FacetModelConfig *c,
              const float            *input,
              FacetOcclusionFill      fill,
              const float            *reference,
              int                     n_masks,
              guint64                 seed,
              float                  *maps)
{
  int np = facet_model_config_grid (c) * facet_model_config_grid (c), a = c->n_aus, batch = 16;
  gsize per = 3 * (gsize) c->image_size * c->image_size;
  g_autofree float *images = g_new (float, per * batch);
  g_autofree gboolean *hide = g_new (gboolean, (gsize) np * batch);
  g_autofree double *in = g_new0 (double, (gsize) np * a);
  g_autofree double *out = g_new0 (double, (gsize) np * a);
  g_autofree int *n_in = g_new0 (int, np);
  g_autoptr (FacetForwardResult) base = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (c, batch, FACET_FORWARD_NONE);
  g_autoptr (GError) error = NULL;
  FacetRng rng;

  facet_rng_init (&rng, seed);
  if (!facet_engine_forward (engine, input, 1, FACET_FORWARD_NONE, base, &error))
    die (error);
  for (int start = 0; start < n_masks; start += batch)
    {
      int m = MIN (batch, n_masks - start);
      for (int i = 0; i < m; i++)
        {
          for (int q = 0; q < np; q++)
            hide[(gsize) i * np + q] = facet_rng_uniform (&rng) < 0.5;
          facet_map_hide_patches (c, input, hide + (gsize) i * np, fill, reference,
                                  images + per * i);
        }
      if (!facet_engine_forward (engine, images, (guint) m, FACET_FORWARD_NONE, r, &error))
        die (error);
      for (int i = 0; i < m; i++)
        for (int q = 0; q < np; q++)
          {
            double *sum = hide[(gsize) i * np + q] ? in : out;
            n_in[q] += hide[(gsize) i * np + q];
            for (int j = 0; j < a; j++)
              sum[(gsize) q * a + j] += base->probs[j] - r->probs[(gsize) i * a + j];
          }
    }
  for (int j = 0; j < a; j++)
    for (int q = 0; q < np; q++)
      maps[(gsize) j * np + q] =
        (float) (in[(gsize) q * a + j] / MAX (n_in[q], 1)
                 - out[(gsize) q * a + j] / MAX (n_masks - n_in[q], 1));
}

/* The default rows, or with --variants every row; --only TEXT keeps the
 * rows whose name holds TEXT, or one of TEXT's parts between '|'. */
static gboolean
row_wanted (const Row  *row,
            gboolean    variants,
            const char *only)
{
  if (only != NULL)
    {
      g_auto (GStrv) parts = g_strsplit (only, "|", -1);
      for (int i = 0; parts[i] != NULL; i++)
        if (parts[i][0] != '\0' && strstr (row->name, parts[i]) != NULL)
          return TRUE;
      return FALSE;
    }
  return variants || !row->variant;
}

static const float *sort_key;

static int
by_key_desc (const void *a,
             const void *b)
{
  float x = sort_key[*(const int *) a], y = sort_key[*(const int *) b];
  return x < y ? 1 : x > y ? -1 : *(const int *) a - *(const int *) b;
}

/* Probabilities of AU @au as the cells (@cells x @cells a patch) are
 * hidden in @order, a tenth at a time: curve[0] is the image itself,
 * curve[N_STEPS] every cell hidden. */
static void
deletion_curve (FacetEngine            *engine,
                const FacetModelConfig *c,
                int                     cells,
                const float            *input,
                const int              *order,
                int                     au,
                float                   base,
                float                  *curve)
{
  int side = facet_model_config_grid (c) * cells, np = side * side;
  gsize per = 3 * (gsize) c->image_size * c->image_size;
  g_autofree float *images = g_new (float, per * N_STEPS);
  g_autofree gboolean *hide = g_new0 (gboolean, np);
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (c, N_STEPS, FACET_FORWARD_NONE);
  g_autoptr (GError) error = NULL;
  int done = 0;

  for (int s = 1; s <= N_STEPS; s++)
    {
      int upto = (int) lround ((double) np * s / N_STEPS);
      for (; done < upto; done++)
        hide[order[done]] = TRUE;
      facet_map_hide_cells (c, input, hide, cells, FACET_OCCLUSION_FILL_MEAN, NULL,
                            images + per * (s - 1));
    }
  if (!facet_engine_forward (engine, images, N_STEPS, FACET_FORWARD_NONE, r, &error))
    die (error);
  curve[0] = base;
  for (int s = 1; s <= N_STEPS; s++)
    curve[s] = r->probs[(gsize) (s - 1) * c->n_aus + au];
}

static double
curve_auc (const float *curve)
{
  double a = 0.0;
  for (int s = 0; s < N_STEPS; s++)
    a += 0.5 * (curve[s] + curve[s + 1]) / N_STEPS;
  return a;
}

/* The share of each cell (@cells x @cells a patch) that lies in the AU's
 * boxes, by 4x4 samples mapped from the crop into the frame. */
static void
inside_shares (const FacetModelConfig *c,
               int                     cells,
               const double           *transform,
               int                     frame_size,
               float                   boxes[][4],
               const guint            *kinds,
               int                     n_boxes,
               guint                   regions,
               float                  *share)
{
  int g = facet_model_config_grid (c) * cells;
  double p = (double) c->patch_size / cells;

  for (int q = 0; q < g * g; q++)
    {
      int in = 0;
      for (int sy = 0; sy < 4; sy++)
        for (int sx = 0; sx < 4; sx++)
          {
            double u = (q % g) * p + (sx + 0.5) * p / 4.0, v = (q / g) * p + (sy + 0.5) * p / 4.0;
            double x = (transform[0] * u + transform[1] * v + transform[2]) / frame_size;
            double y = (transform[3] * u + transform[4] * v + transform[5]) / frame_size;
            for (int b = 0; b < n_boxes; b++)
              if ((kinds[b] & regions) && x >= boxes[b][0] && x <= boxes[b][2] && y >= boxes[b][1]
                  && y <= boxes[b][3])
                {
                  in++;
                  break;
                }
          }
      share[q] = in / 16.0f;
    }
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *model_path = g_strdup (g_getenv ("FACET_DEMO_MODEL"));
  int n_subjects = 6, n_frames = 6, frame_size = 256;
  gboolean variants = FALSE;
  const char *only = NULL;
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (GError) error = NULL;
  FacetFaceDetector *detector;
  const FacetModelConfig *c;
  Stats stats[N_ROWS] = { 0 };
  double seconds[N_ROWS] = { 0 };
  int g, np, k, n_frames_used = 0;
  Res res[5] = { { 0 } };
  gboolean res_wanted[5] = { FALSE };
  gsize per;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--model") && i + 1 < argc)
        {
          g_free (model_path);
          model_path = g_strdup (argv[++i]);
        }
      else if (g_str_equal (argv[i], "--subjects") && i + 1 < argc)
        n_subjects = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--frames") && i + 1 < argc)
        n_frames = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--variants"))
        variants = TRUE;
      else if (g_str_equal (argv[i], "--only") && i + 1 < argc)
        only = argv[++i];
      else
        {
          fprintf (stderr, "usage: bench-maps [--model FILE] [--subjects N] [--frames K] "
                           "[--variants] [--only TEXT]\n");
          return 2;
        }
    }
  if (model_path == NULL || !g_file_test (model_path, G_FILE_TEST_EXISTS))
    {
      printf ("bench-maps: no model (set FACET_DEMO_MODEL or --model); skipped\n");
      return 77;
    }
  model = facet_model_load (model_path, NULL, &error);
  if (model == NULL)
    die (error);
  engine = facet_engine_new (model, "cpu", &error);
  if (engine == NULL)
    die (error);
  detector = facet_face_detector_new (NULL, &error);
  if (detector == NULL)
    die (error);
  c = facet_model_get_config (model);
  g = facet_model_config_grid (c);
  np = g * g;
  k = MAX (1, (int) lround (0.1 * np));
  per = 3 * (gsize) c->image_size * c->image_size;
  for (guint m = 0; m < N_ROWS; m++)
    if (row_wanted (&rows[m], variants, only))
      res_wanted[MAX (rows[m].cells, 1)] = TRUE;

  printf ("Evidence maps on %s: %d x %d patches, %d subjects x %d frames (%d px), top %d patches\n",
          model_path, g, g, n_subjects, n_frames, frame_size, k);

  for (int s = 0; s < n_subjects; s++)
    {
      /* Identities after the demo model's training range (1-240) */
      guint64 seed = 2001 + (guint64) s * 97;
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (seed);
      g_autoptr (FacetSynthTimeline) timeline = facet_synth_timeline_new (subject, seed, 25 * 60, 25.0);
      g_autofree float *reference = g_new (float, per);
      g_autofree float *all = g_new (float, per * 60);
      g_autoptr (FacetForwardResult) ref_out = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
      double least = G_MAXDOUBLE, sums[60], transforms[60][6];
      gint64 numbers[60];
      int slot[60]; /* second -> its frame's index in all, -1 without a face */
      gboolean blank[60];
      gsize picked[N_CALM];
      int n_all = 0, calm[N_CALM], n_calm = 0;
      g_autofree float *calm_inputs = g_new (float, per * N_CALM);
      int used = 0;

      /* The person's most neutral frame, as the model sees it: the one of
       * the recording's frames (one a second) with the lowest sum of AU
       * probabilities. No ground truth is read, as in the app. */
      for (gint64 f = 0; f < 25 * 60; f += 25)
        {
          float au[FACET_SYNTH_N_AUS];
          FacetSynthPose pose;
          g_autoptr (FacetImage) frame = NULL;
          g_autoptr (FacetImage) crop = NULL;
          g_autoptr (GArray) faces = NULL;
          float *x = all + per * n_all;
          double sum = 0.0;

          slot[f / 25] = -1;
          facet_synth_timeline_get (timeline, f, au, &pose);
          frame = facet_synth_render (subject, au, &pose, frame_size);
          faces = facet_face_detector_detect (detector, frame, &error);
          if (faces == NULL)
            die (error);
          if (faces->len == 0)
            continue;
          crop = facet_face_crop (frame, &g_array_index (faces, FacetFace, 0),
                                  facet_model_config_crop (c), transforms[n_all]);
          facet_engine_prepare_image (engine, crop, x);
          slot[f / 25] = n_all;
          if (!facet_engine_forward (engine, x, 1, FACET_FORWARD_NONE, ref_out, &error))
            die (error);
          for (int a = 0; a < c->n_aus; a++)
            sum += ref_out->probs[a];
          if (sum < least)
            {
              least = sum;
              memcpy (reference, x, sizeof (float) * per);
            }
          blank[n_all] = TRUE;
          for (int i = 0; i < FACET_SYNTH_N_AUS; i++)
            blank[n_all] &= au[i] < FACET_SYNTH_PRESENCE_THRESHOLD;
          numbers[n_all] = f;
          sums[n_all++] = sum;
        }
      /* The N_CALM frames with the lowest sums, at most one a second: the
       * app's choice (facet_neutral_frames_load). */
      n_calm = facet_neutral_pick (numbers, sums, (gsize) n_all, 25, N_CALM, picked);
      for (int i = 0; i < n_calm; i++)
        {
          calm[i] = (int) picked[i];
          memcpy (calm_inputs + per * i, all + per * calm[i], sizeof (float) * per);
        }

      for (gint64 f = 0; f < 25 * 60 && used < n_frames; f += 25)
        {
          float au[FACET_SYNTH_N_AUS], boxes[FACET_SYNTH_N_REGION_BOXES][4];
          guint kinds[FACET_SYNTH_N_REGION_BOXES];
          FacetSynthPose pose;
          g_autoptr (FacetForwardResult) base = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
          g_autoptr (FacetForwardResult) rnd = facet_forward_result_new (c, N_RANDOM, FACET_FORWARD_NONE);
          g_autofree float *input = g_new (float, per);
          g_autofree float *rimages = g_new (float, per * N_RANDOM);
          g_autofree float *maps = g_new (float, (gsize) c->n_aus * np * 16);
          guint present_regions = 0;
          int present[64], n_present = 0, n_boxes;
          const float *nearest = reference, *nearest_blank = reference;
          const float *near3[3] = { reference, reference, reference };
          double d3[3] = { G_MAXDOUBLE, G_MAXDOUBLE, G_MAXDOUBLE };
          double transform[6];
          FacetRng rng;

          facet_synth_timeline_get (timeline, f, au, &pose);
          for (int a = 0; a < c->n_aus; a++)
            {
              int i = facet_synth_au_index (c->au_ids[a]);
              if (i >= 0 && au[i] >= FACET_SYNTH_PRESENCE_THRESHOLD && n_present < 64)
                present[n_present++] = a;
            }
          /* The frame as the first pass cropped it. */
          if (n_present == 0 || slot[f / 25] < 0)
            continue;
          memcpy (input, all + per * slot[f / 25], sizeof (float) * per);
          memcpy (transform, transforms[slot[f / 25]], sizeof transform);
          if (!facet_engine_forward (engine, input, 1, FACET_FORWARD_NONE, base, &error))
            die (error);
          n_boxes = facet_synth_region_boxes (subject, &pose, G_MAXUINT, boxes, kinds);
          for (int i = 0; i < n_present; i++)
            present_regions |= facet_synth_au_regions (c->au_ids[present[i]]);
          used++;
          n_frames_used++;
          /* Of the calm frames, the one nearest to this one (not itself),
           * as the app chooses it (facet_neutral_nearest). */
          {
            double best = G_MAXDOUBLE;
            int near = facet_neutral_nearest (calm_inputs, n_calm, per, input);
            if (near >= 0)
              nearest = calm_inputs + per * near;
            for (int i = 0; i < n_calm; i++)
              {
                const float *y = all + per * calm[i];
                double d = 0.0;
                for (gsize j = 0; j < per; j++)
                  d += (double) (y[j] - input[j]) * (y[j] - input[j]);
                for (int j = 0; j < 3 && d > 0.0; j++)
                  if (d < d3[j])
                    {
                      for (int t = 2; t > j; t--)
                        {
                          d3[t] = d3[t - 1];
                          near3[t] = near3[t - 1];
                        }
                      d3[j] = d;
                      near3[j] = y;
                      break;
                    }
              }
            best = G_MAXDOUBLE;
            for (int i = 0; i < n_all; i++)
              {
                const float *y = all + per * i;
                double d = 0.0;
                if (!blank[i])
                  continue;
                for (gsize j = 0; j < per; j++)
                  d += (double) (y[j] - input[j]) * (y[j] - input[j]);
                if (d > 0.0 && d < best)
                  {
                    best = d;
                    nearest_blank = y;
                  }
              }
          }

          /* Random deletions at each resolution a wanted row has: the same
           * draws for every method of that resolution. */
          for (int r = 1; r <= 4; r++)
            {
              Res *re = &res[r];
              int side = g * r, n = side * side;
              g_autofree int *rorder = NULL;

              if (!res_wanted[r])
                continue;
              re->np = n;
              re->k = MAX (1, (int) lround (0.1 * n));
              g_clear_pointer (&re->face, g_free);
              g_clear_pointer (&re->any, g_free);
              re->face = g_new (float, n);
              re->any = g_new (float, n);
              inside_shares (c, r, transform, frame_size, boxes, kinds, n_boxes, G_MAXUINT,
                             re->face);
              inside_shares (c, r, transform, frame_size, boxes, kinds, n_boxes, present_regions,
                             re->any);
              rorder = g_new (int, n);
              /* per patch (r = 1): the same draws as before finer cells existed */
              facet_rng_init (&rng, seed * 1000 + (guint64) f + (r > 1 ? 7777u * r : 0));
              for (int t = 0; t < N_RANDOM; t++)
                {
                  g_autofree gboolean *hide = g_new0 (gboolean, n);
                  for (int i = 0; i < n; i++)
                    rorder[i] = i;
                  for (int i = 0; i < re->k; i++)
                    {
                      int j = i + (int) (facet_rng_uniform (&rng) * (n - i));
                      int tmp = rorder[i];
                      rorder[i] = rorder[MIN (j, n - 1)];
                      rorder[MIN (j, n - 1)] = tmp;
                      hide[rorder[i]] = TRUE;
                    }
                  facet_map_hide_cells (c, input, hide, r, FACET_OCCLUSION_FILL_MEAN, NULL,
                                        rimages + per * t);
                }
              if (!facet_engine_forward (engine, rimages, N_RANDOM, FACET_FORWARD_NONE, rnd,
                                         &error))
                die (error);
              for (int i = 0; i < n_present; i++)
                {
                  re->random_drop[i] = 0.0;
                  for (int t = 0; t < N_RANDOM; t++)
                    re->random_drop[i] += (base->probs[present[i]]
                                           - rnd->probs[(gsize) t * c->n_aus + present[i]])
                                          / N_RANDOM;
                }
              /* The deletion curve in a random order, for reference. */
              for (int q = 0; q < n; q++)
                rorder[q] = q;
              for (int q = 0; q < n - 1; q++)
                {
                  int j = MIN (q + (int) (facet_rng_uniform (&rng) * (n - q)), n - 1);
                  int tmp = rorder[q];
                  rorder[q] = rorder[j];
                  rorder[j] = tmp;
                }
              for (int i = 0; i < n_present; i++)
                {
                  float rcurve[N_STEPS + 1];
                  deletion_curve (engine, c, r, input, rorder, present[i], base->probs[present[i]],
                                  rcurve);
                  re->random_auc[i] = curve_auc (rcurve);
                }
            }

          for (guint m = 0; m < N_ROWS; m++)
            {
              FacetMapOptions options;
              gint64 t0;

              if (!row_wanted (&rows[m], variants, only))
                continue;
              facet_map_options_init (&options);
              options.fill = rows[m].fill;
              options.window = rows[m].window;
              options.probability = rows[m].probability;
              options.cells = MAX (rows[m].cells, 1);
              options.reference = reference;
              if (rows[m].reference == 2)
                options.reference = nearest;
              if (rows[m].reference == 4)
                options.reference = nearest_blank;
              t0 = g_get_monotonic_time ();
              if (rows[m].masks > 0)
                random_masks (engine, c, input, rows[m].fill, options.reference, rows[m].masks,
                              seed * 7919 + (guint64) f, maps);
              else if (rows[m].reference == 6)
                {
                  /* Change from neutral against the nearest calm frame, as
                   * the app chooses it. */
                  options.reference = nearest;
                  if (!facet_engine_explain (engine, input, rows[m].method, NULL, 0, &options,
                                             maps, NULL, NULL, NULL, &error))
                    die (error);
                }
              else if (rows[m].reference == 3 || rows[m].reference == 5)
                {
                  g_autofree float *one = g_new (float, (gsize) c->n_aus * np);
                  int n_refs = rows[m].reference == 3 ? n_calm : 3;
                  memset (maps, 0, sizeof (float) * c->n_aus * np);
                  for (int i = 0; i < n_refs; i++)
                    {
                      options.reference = rows[m].reference == 3 ? all + per * calm[i] : near3[i];
                      if (!facet_engine_explain (engine, input, rows[m].method, NULL, 0, &options,
                                                 one, NULL, NULL, NULL, &error))
                        die (error);
                      for (int j = 0; j < c->n_aus * np; j++)
                        maps[j] += one[j] / n_refs;
                    }
                }
              else if (!facet_engine_explain (engine, input, rows[m].method, NULL, 0, &options, maps,
                                              NULL, NULL, NULL, &error))
                die (error);
              seconds[m] += (g_get_monotonic_time () - t0) / 1e6;

              for (int i = 0; i < n_present; i++)
                {
                  int a = present[i], r = MAX (rows[m].cells, 1);
                  const Res *re = &res[r];
                  int n = re->np, side = g * r;
                  float *map = maps + (gsize) a * n;
                  float b = base->probs[a], curve[N_STEPS + 1];
                  double random_drop = re->random_drop[i], pos = 0.0, inside = 0.0, uniform = 0.0;
                  double on_face = 0.0, face_uniform = 0.0, in_any = 0.0;
                  g_autofree float *share = g_new (float, n);
                  g_autofree int *order = g_new (int, n);
                  Stats *st = &stats[m];

                  if (rows[m].smooth)
                    smooth (map, side);
                  for (int q = 0; q < n; q++)
                    order[q] = q;
                  sort_key = map;
                  qsort (order, n, sizeof (int), by_key_desc);
                  deletion_curve (engine, c, r, input, order, a, b, curve);
                  /* The curve's first step hides round(n / 10) = k cells. */
                  st->drop += b - curve[1];
                  st->drop_random += random_drop;
                  st->beats += (b - curve[1]) > random_drop;
                  st->auc += curve_auc (curve);
                  st->auc_random += re->random_auc[i];

                  inside_shares (c, r, transform, frame_size, boxes, kinds, n_boxes,
                                 facet_synth_au_regions (c->au_ids[a]), share);
                  for (int q = 0; q < n; q++)
                    {
                      uniform += share[q] / n;
                      face_uniform += re->face[q] / n;
                      if (map[q] > 0)
                        {
                          pos += map[q];
                          inside += map[q] * share[q];
                          on_face += map[q] * re->face[q];
                          in_any += map[q] * re->any[q];
                        }
                    }
                  st->mass += pos > 0 ? inside / pos : 0.0;
                  st->uniform += uniform;
                  st->face += pos > 0 ? on_face / pos : 0.0;
                  st->face_uniform += face_uniform;
                  st->any += pos > 0 ? in_any / pos : 0.0;
                  st->hits += share[order[0]] >= 0.5f;
                  st->pairs++;
                }
            }
        }
    }

  printf ("%d frames; deletion by the AU's probability; pointing in the generator's AU regions\n\n",
          n_frames_used);
  printf ("| method | pairs | beats random | drop top %d | drop random | ratio | deletion AUC "
          "(random) | mass in region (uniform) | top patch in region | in any present AU's region "
          "| on the face (uniform) | s/frame |\n",
          k);
  printf ("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (guint m = 0; m < N_ROWS; m++)
    {
      const Stats *st = &stats[m];
      double n = MAX (st->pairs, 1);
      if (!row_wanted (&rows[m], variants, only))
        continue;
      printf ("| %s | %d | %.0f %% | %.3f | %.3f | %.1fx | %.3f (%.3f) | %.0f %% (%.0f %%) | "
              "%.0f %% | %.0f %% | %.0f %% (%.0f %%) | %.2f |\n",
              rows[m].name, st->pairs, 100.0 * st->beats / n, st->drop / n, st->drop_random / n,
              st->drop_random != 0.0 ? st->drop / st->drop_random : 0.0, st->auc / n,
              st->auc_random / n, 100.0 * st->mass / n, 100.0 * st->uniform / n,
              100.0 * st->hits / n, 100.0 * st->any / n, 100.0 * st->face / n, 100.0 * st->face_uniform / n,
              seconds[m] / MAX (n_frames_used, 1));
    }
  for (int r = 0; r < 5; r++)
    {
      g_free (res[r].face);
      g_free (res[r].any);
    }
  facet_face_detector_free (detector);
  return 0;
}
