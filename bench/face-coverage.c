/* face-coverage.c — who the face detector finds, and what it finds where
 * there is no face
 *
 * Synthetic identities span the generator's whole skin range, each filmed
 * through a recording timeline (head motion, nods, lighting drift and steps,
 * sensor noise) and, for the same AU intensities, in the frontal, evenly lit
 * pose. For every identity it counts the frames where the face is found
 * (a detection whose box centre lies within a fifth of the frame of the
 * drawn face's centre); the table groups identities by skin tone. False
 * detections are counted on frames without a face: synthetic scenes whose
 * person stands outside the frame with only shoulders, hair or background
 * showing, crops of astronaut.png away from her face, and the synthetic
 * frames themselves flipped upside down (the same skin, features and
 * contrast, no upright face). The last line checks astronaut.png itself.
 *
 * The detector's configurations run on the same frames: dlib's HOG alone at
 * its former threshold (the peer), and Facet's detector as it is now; the
 * ratio is frames found by Facet over frames found by dlib alone.
 *
 * Usage: bench-face-coverage [--identities N] [--frames K] [--size PX]
 *        [--dump DIR] [--dump-all DIR]
 *
 * --dump-all writes every frame as PNG and, per configuration, what was
 * found on it (frames.tsv), for comparing other detectors offline.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine-config.h"
#include "face/facet-face.h"
#include "media/media-synth.h"

#define N_TONE_BINS 5
#define FRONTAL_TARGET 0.98

typedef struct
{
  const char *name;
  double      threshold;
  gboolean    normalise;
  gboolean    cnn;
} Config;

static const Config configs[] = {
  { "dlib HOG alone, threshold 0.2 (before)", 0.2, FALSE, FALSE },
  { "dlib HOG alone, threshold 0", 0.0, FALSE, FALSE },
  { "dlib HOG alone, threshold -0.2", -0.2, FALSE, FALSE },
  { "HOG + second look (Facet before the CNN)", -G_MAXDOUBLE, TRUE, FALSE },
  { "Facet (default: HOG, else the CNN)", -G_MAXDOUBLE, TRUE, TRUE },
};
#define N_CONFIGS G_N_ELEMENTS (configs)


typedef struct
{
  int    found_frontal, found_recorded;
  double tone;
} IdentityResult;

static FacetFaceDetector *
make_detector (const Config *config)
{
  g_autoptr (GError) error = NULL;
  FacetFaceDetector *detector = facet_face_detector_new (NULL, &error);

  if (detector == NULL)
    {
      fprintf (stderr, "bench-face-coverage: %s\n", error->message);
      exit (1);
    }
  if (config->threshold > -G_MAXDOUBLE)
    facet_face_detector_set_threshold (detector, config->threshold);
  facet_face_detector_set_normalise (detector, config->normalise);
  if (config->cnn && !facet_face_detector_has_cnn (detector))
    {
      fprintf (stderr, "bench-face-coverage: the CNN face detector is not installed "
                       "(build-aux/install-deps.sh)\n");
      exit (1);
    }
  facet_face_detector_set_cnn (detector, config->cnn);
  return detector;
}

/* Faces found near (cx, cy) and elsewhere. */
static void
detect (FacetFaceDetector *detector,
        const FacetImage  *image,
        double             cx,
        double             cy,
        int               *near,
        int               *elsewhere)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) faces = NULL;
  double radius = 0.2 * MAX (image->width, image->height);

  faces = facet_face_detector_detect (detector, image, &error);
  *near = *elsewhere = 0;
  if (faces == NULL)
    {
      fprintf (stderr, "bench-face-coverage: %s\n", error->message);
      exit (1);
    }
  for (guint i = 0; i < faces->len; i++)
    {
      const FacetFace *f = &g_array_index (faces, FacetFace, i);
      double fx = f->x + 0.5 * f->width, fy = f->y + 0.5 * f->height;

      if (cx >= 0 && hypot (fx - cx, fy - cy) <= radius)
        (*near)++;
      else
        (*elsewhere)++;
    }
}

static FacetImage *
flip_vertical (const FacetImage *image)
{
  FacetImage *out = facet_image_new (image->width, image->height);

  for (int y = 0; y < image->height; y++)
    memcpy (out->data + (gsize) y * out->stride,
            image->data + (gsize) (image->height - 1 - y) * image->stride, 3 * image->width);
  return out;
}

static FacetImage *
load_astronaut (void)
{
  const char *dir = g_getenv ("FACET_TESTDATA");
  g_autofree char *path = g_build_filename (dir ? dir : FACET_SOURCE_DATADIR "/sample",
                                            "astronaut.png", NULL);
  g_autoptr (GError) error = NULL;
  FacetImage *photo = facet_image_load (path, &error);

  if (photo == NULL)
    {
      fprintf (stderr, "bench-face-coverage: %s\n", error->message);
      exit (1);
    }
  return photo;
}

/* Frames without a face: the list is built once and shared by all configs. */
static GPtrArray *
make_faceless (int n_identities,
               int size)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  g_autoptr (FacetImage) photo = load_astronaut ();
  FacetRng rng;

  facet_rng_init (&rng, 1234);
  for (int id = 1; id <= n_identities; id++)
    {
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new ((guint64) id + 1000);
      FacetSynthPose pose;

      /* The person beside or below the frame: hair, shoulders, background. */
      for (int k = 0; k < 4; k++)
        {
          facet_synth_pose_init (&pose);
          pose.dx = (float) (k == 0 ? 0.95 : k == 1 ? -0.95 : facet_rng_range (&rng, -0.4, 0.4));
          pose.dy = (float) (k < 2 ? facet_rng_range (&rng, -0.2, 0.2) : 0.95);
          pose.scale = (float) facet_rng_range (&rng, 0.8, 1.4);
          pose.noise = 2.0f;
          pose.noise_seed = (guint64) id * 16 + (guint64) k;
          g_ptr_array_add (frames, facet_synth_render (subject, NULL, &pose, size));
        }
    }
  /* astronaut.png away from the face (which spans about x 150-290, y 60-250
   * of its 512 px), at several scales. */
  for (int k = 0; k < 4 * n_identities; k++)
    {
      int side = (int) facet_rng_range (&rng, 120, 260);
      int x, y, tries = 0;
      g_autoptr (FacetImage) crop = NULL;

      do
        {
          x = (int) facet_rng_below (&rng, (guint32) (photo->width - side));
          y = (int) facet_rng_below (&rng, (guint32) (photo->height - side));
          tries++;
        }
      while (tries < 1000 && x < 290 && x + side > 150 && y < 250 && y + side > 60);
      crop = facet_image_crop (photo, x, y, side, side);
      g_ptr_array_add (frames, facet_image_resize (crop, size, size));
    }
  return frames;
}

/* Video: the identities of the darker half, 2 s of their recording at
 * 15 fps through the tracker (which keeps a faint face where the person
 * was a frame before), against the detector on the same frames. */
static void
track_videos (const double *tones,
              int           n_identities,
              int           size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceDetector) detector = facet_face_detector_new (NULL, &error);
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  int n = 0, by_detector = 0, by_tracker = 0, ids = 0, ids_detector = 0, ids_tracker = 0;

  config->crop = FACET_CROP_NONE;
  for (int id = 1; id <= n_identities; id++)
    {
      g_autoptr (FacetSynthSubject) subject = NULL;
      g_autoptr (FacetSynthTimeline) timeline = NULL;
      g_autoptr (FacetFaceTracker) tracker = NULL;
      int det = 0, trk = 0;

      if (tones[id - 1] < 0.5)
        continue;
      subject = facet_synth_subject_new ((guint64) id);
      timeline = facet_synth_timeline_new (subject, (guint64) id, 300, 30.0);
      tracker = facet_face_tracker_new (detector, facet_model_config_crop (config));
      for (gint64 f = 0; f < 60; f += 2)
        {
          float au[FACET_SYNTH_N_AUS];
          FacetSynthPose pose;
          FacetFaceResult result;
          g_autoptr (FacetImage) frame = NULL;
          g_autoptr (FacetImage) crop = NULL;
          g_autoptr (GArray) faces = NULL;

          facet_synth_timeline_get (timeline, f, au, &pose);
          frame = facet_synth_render (subject, au, &pose, size);
          faces = facet_face_detector_detect (detector, frame, NULL);
          det += faces != NULL && faces->len > 0;
          crop = facet_face_tracker_process (tracker, frame, &result, NULL);
          trk += result.status == FACET_FACE_STATUS_FOUND;
          n++;
        }
      ids++;
      ids_detector += det > 0;
      ids_tracker += trk > 0;
      by_detector += det;
      by_tracker += trk;
    }
  printf ("Video (identities of skin tone >= 0.5, 30 frames each at 15 fps): the tracker found "
          "%d of %d frames (%d of %d identities), the detector alone %d (%d): %.2fx\n",
          by_tracker, n, ids_tracker, ids, by_detector, ids_detector,
          by_detector > 0 ? (double) by_tracker / by_detector : 0.0);
}

/* Every frame as PNG and frames.tsv: "frame" lines give each frame's file,
 * identity and the drawn face's centre; the configurations append their
 * results as "config kind index near elsewhere". */
static FILE *
dump_frames (const char      *dir,
             GPtrArray       *frontal,
             GPtrArray       *recorded,
             GPtrArray       *faceless,
             GArray          *centres,
             const double    *tones,
             int              n_frames,
             int              size)
{
  g_autofree char *tsv_path = g_build_filename (dir, "frames.tsv", NULL);
  FILE *tsv;

  g_mkdir_with_parents (dir, 0755);
  tsv = fopen (tsv_path, "w");
  if (tsv == NULL)
    {
      fprintf (stderr, "bench-face-coverage: cannot write %s\n", tsv_path);
      exit (1);
    }
  for (guint i = 0; i < frontal->len; i++)
    {
      double *cen = &g_array_index (centres, double, 2 * i);
      g_autofree char *f = g_strdup_printf ("%s/frontal-%04u.png", dir, i);
      g_autofree char *r = g_strdup_printf ("%s/recorded-%04u.png", dir, i);

      facet_image_save_png (g_ptr_array_index (frontal, i), f, NULL);
      facet_image_save_png (g_ptr_array_index (recorded, i), r, NULL);
      fprintf (tsv, "frame\tfrontal\t%u\t%d\t%.2f\t%.2f\t%.3f\n", i, i / n_frames + 1,
               0.5 * size, 0.55 * size, tones[i / n_frames]);
      fprintf (tsv, "frame\trecorded\t%u\t%d\t%.2f\t%.2f\t%.3f\n", i, i / n_frames + 1,
               cen[0], cen[1], tones[i / n_frames]);
    }
  for (guint i = 0; i < faceless->len; i++)
    {
      g_autofree char *f = g_strdup_printf ("%s/faceless-%04u.png", dir, i);

      facet_image_save_png (g_ptr_array_index (faceless, i), f, NULL);
      fprintf (tsv, "frame\tfaceless\t%u\t0\t-1\t-1\t-1\n", i);
    }
  return tsv;
}

int
main (int    argc,
      char **argv)
{
  int n_identities = 60, n_frames = 20, size = 224;
  g_autofree char *dump = NULL;
  g_autofree char *dump_all = NULL;
  FILE *tsv = NULL;
  GOptionEntry entries[] = {
    { "identities", 0, 0, G_OPTION_ARG_INT, &n_identities, "Identities 1..N (default 60)", "N" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &n_frames, "Frames per identity (default 20)", "K" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Frame side (default 224)", "PX" },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &dump, "Write missed frames here as PNG", "DIR" },
    { "dump-all", 0, 0, G_OPTION_ARG_FILENAME, &dump_all,
      "Write every frame and each configuration's result here", "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("— face detection by identity and skin tone");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) faceless = NULL;
  g_autoptr (GPtrArray) recorded = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  g_autoptr (GPtrArray) frontal = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  g_autoptr (GArray) centres = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (FacetImage) photo = load_astronaut ();
  g_autofree double *tones = NULL;
  int found_all[N_CONFIGS] = { 0 };

  /* line by line: the table is worth seeing while the next config runs */
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || n_identities < 1 || n_frames < 1
      || size < 64)
    {
      fprintf (stderr, "bench-face-coverage: %s\n", error ? error->message : "bad arguments");
      return 2;
    }

  /* The material, rendered once. */
  tones = g_new0 (double, n_identities);
  for (int id = 1; id <= n_identities; id++)
    {
      g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new ((guint64) id);
      g_autoptr (FacetSynthTimeline) timeline
        = facet_synth_timeline_new (subject, (guint64) id, 300, 30.0);

      tones[id - 1] = facet_synth_subject_get_skin_tone (subject);
      for (int k = 0; k < n_frames; k++)
        {
          gint64 frame = (gint64) k * 300 / n_frames;
          float au[FACET_SYNTH_N_AUS];
          FacetSynthPose pose, still;
          double c[2];

          facet_synth_timeline_get (timeline, frame, au, &pose);
          facet_synth_pose_init (&still);
          g_ptr_array_add (recorded, facet_synth_render (subject, au, &pose, size));
          g_ptr_array_add (frontal, facet_synth_render (subject, au, &still, size));
          /* the drawn face's centre moves with the head's shift */
          c[0] = size * (0.5 + pose.dx);
          c[1] = size * (0.55 + pose.dy);
          g_array_append_vals (centres, c, 2);
        }
    }
  faceless = make_faceless (n_identities, size);
  for (guint i = 0; i < frontal->len; i += 2)
    g_ptr_array_add (faceless, flip_vertical (g_ptr_array_index (frontal, i)));

  if (dump_all != NULL)
    tsv = dump_frames (dump_all, frontal, recorded, faceless, centres, tones, n_frames, size);

  printf ("Face detection on synthetic identities 1-%d (%d frames each of a 10 s recording, %d px),\n"
          "frontal = the same AU intensities, frontal pose, even light; %u frames without a face.\n\n",
          n_identities, n_frames, size, faceless->len);

  for (guint c = 0; c < N_CONFIGS; c++)
    {
      g_autoptr (FacetFaceDetector) detector = make_detector (&configs[c]);
      g_autofree IdentityResult *results = g_new0 (IdentityResult, n_identities);
      int bin_ids[N_TONE_BINS] = { 0 }, bin_lost[N_TONE_BINS] = { 0 };
      int bin_below[N_TONE_BINS] = { 0 }, bin_frontal[N_TONE_BINS] = { 0 };
      int bin_recorded[N_TONE_BINS] = { 0 };
      int lost = 0, below = 0, false_frames = 0, false_in_faces = 0, near, elsewhere;
      double worst = 1.0;
      gint64 start = g_get_monotonic_time ();
      int worst_id = 0;

      for (int id = 0; id < n_identities; id++)
        {
          results[id].tone = tones[id];
          for (int k = 0; k < n_frames; k++)
            {
              guint i = (guint) (id * n_frames + k);
              double *cen = &g_array_index (centres, double, 2 * i);
              FacetImage *image;

              image = g_ptr_array_index (frontal, i);
              detect (detector, image, 0.5 * size, 0.55 * size, &near, &elsewhere);
              if (tsv != NULL)
                fprintf (tsv, "%u\tfrontal\t%u\t%d\t%d\n", c, i, near, elsewhere);
              false_in_faces += elsewhere;
              if (near > 0)
                results[id].found_frontal++;
              else if (dump != NULL && c == N_CONFIGS - 1)
                {
                  g_autofree char *path = g_strdup_printf ("%s/miss-frontal-%02d-%02d.png", dump,
                                                           id + 1, k);
                  facet_image_save_png (image, path, NULL);
                }
              image = g_ptr_array_index (recorded, i);
              detect (detector, image, cen[0], cen[1], &near, &elsewhere);
              if (tsv != NULL)
                fprintf (tsv, "%u\trecorded\t%u\t%d\t%d\n", c, i, near, elsewhere);
              false_in_faces += elsewhere;
              if (near > 0)
                results[id].found_recorded++;
            }
        }
      for (guint i = 0; i < faceless->len; i++)
        {
          detect (detector, g_ptr_array_index (faceless, i), -1, -1, &near, &elsewhere);
          if (tsv != NULL)
            fprintf (tsv, "%u\tfaceless\t%u\t%d\t%d\n", c, i, near, elsewhere);
          if (elsewhere > 0)
            {
              false_frames++;
              if (dump != NULL && c == N_CONFIGS - 1)
                {
                  g_autofree char *path = g_strdup_printf ("%s/false-%03u.png", dump, i);
                  facet_image_save_png (g_ptr_array_index (faceless, i), path, NULL);
                }
            }
        }

      for (int id = 0; id < n_identities; id++)
        {
          int bin = MIN ((int) (results[id].tone * N_TONE_BINS), N_TONE_BINS - 1);
          double rate = (double) results[id].found_frontal / n_frames;

          bin_ids[bin]++;
          bin_frontal[bin] += results[id].found_frontal;
          bin_recorded[bin] += results[id].found_recorded;
          if (results[id].found_frontal + results[id].found_recorded == 0)
            {
              bin_lost[bin]++;
              lost++;
            }
          if (rate < FRONTAL_TARGET)
            {
              bin_below[bin]++;
              below++;
            }
          if (rate < worst || worst_id == 0)
            {
              worst = rate;
              worst_id = id + 1;
            }
          found_all[c] += results[id].found_frontal + results[id].found_recorded;
        }

      printf ("%s:\n", configs[c].name);
      printf ("  skin tone   identities  never found  < 98 %% frontal  frontal found  recorded found\n");
      for (int b = 0; b < N_TONE_BINS; b++)
        if (bin_ids[b] > 0)
          printf ("  %.1f-%.1f     %6d      %6d        %6d          %6.1f %%       %6.1f %%\n",
                  (double) b / N_TONE_BINS, (double) (b + 1) / N_TONE_BINS, bin_ids[b],
                  bin_lost[b], bin_below[b], 100.0 * bin_frontal[b] / (bin_ids[b] * n_frames),
                  100.0 * bin_recorded[b] / (bin_ids[b] * n_frames));
      {
        g_autoptr (GArray) faces = facet_face_detector_detect (detector, photo, NULL);

        printf ("  all: %d of %d identities never found, %d below 98 %% of frontal frames "
                "(worst: identity %d, %.0f %%);\n"
                "  false detections: %d of %u frames without a face (%.2f %%), %d beside a face;\n"
                "  astronaut.png: %s; %.1f ms per frame\n\n",
                lost, n_identities, below, worst_id, 100.0 * worst, false_frames, faceless->len,
                100.0 * false_frames / faceless->len, false_in_faces,
                faces != NULL && faces->len > 0 ? "found" : "NOT FOUND",
                (g_get_monotonic_time () - start) / 1e3
                  / (2.0 * n_identities * n_frames + faceless->len));
      }
    }
  printf ("Frames found, Facet / dlib alone at 0.2: %.2fx; Facet / HOG + second look: %.2fx\n\n",
          found_all[0] > 0 ? (double) found_all[N_CONFIGS - 1] / found_all[0] : 0.0,
          found_all[N_CONFIGS - 2] > 0
            ? (double) found_all[N_CONFIGS - 1] / found_all[N_CONFIGS - 2] : 0.0);
  if (tsv != NULL)
    fclose (tsv);
  track_videos (tones, n_identities, size);
  return 0;
}
