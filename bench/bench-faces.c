/* bench-faces.c — face detection, landmarks and alignment throughput
 *
 * The sample photo scaled into a 640x480 frame (the face about 80 px wide,
 * found without upsampling), timed stage by stage: dlib's detector with the
 * 68 landmarks, the aligned and box crops at 224 px, the tracker doing all
 * of it with smoothing, and the synthetic face renderer for comparison.
 *
 * There is no peer tool on these machines (neither dlib's Python module nor
 * OpenCV is installed), so the ratios printed are against the detector
 * alone: what landmarks, cropping and tracking add to it.
 *
 * Usage: bench-faces [FRAMES]   (default 100)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine-config.h"
#include "face/facet-face.h"
#include "media/media-synth.h"

static FacetImage *
make_frame (void)
{
  const char *dir = g_getenv ("FACET_TESTDATA");
  g_autofree char *path = g_build_filename (dir ? dir : FACET_SOURCE_DATADIR "/sample",
                                            "astronaut.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetImage) photo = facet_image_load (path, &error);
  g_autoptr (FacetImage) scaled = NULL;
  FacetImage *frame;

  if (photo == NULL)
    {
      fprintf (stderr, "bench-faces: %s\n", error->message);
      exit (1);
    }
  scaled = facet_image_resize (photo, 480, 480);
  frame = facet_image_new (640, 480);
  memset (frame->data, 110, (gsize) frame->stride * frame->height);
  for (int y = 0; y < 480; y++)
    memcpy (frame->data + (gsize)y * frame->stride + 3 * 80,
            scaled->data + (gsize)y * scaled->stride, 3 * 480);
  return frame;
}

static double
seconds_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1e6;
}

int
main (int    argc,
      char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 100;
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceDetector) detector = NULL;
  g_autoptr (FacetFaceTracker) tracker = NULL;
  g_autoptr (FacetModelConfig) aligned = facet_model_config_new ();
  g_autoptr (FacetModelConfig) box = facet_model_config_new ();
  g_autoptr (FacetImage) frame = make_frame ();
  g_autoptr (GArray) faces = NULL;
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (1);
  double t_load, t_detect, t_aligned, t_box, t_track, t_synth;
  FacetFace face;
  gint64 start;

  if (n < 1)
    n = 100;
  aligned->crop = FACET_CROP_ALIGNED;
  box->crop = FACET_CROP_BOX;

  start = g_get_monotonic_time ();
  detector = facet_face_detector_new (NULL, &error);
  if (detector == NULL)
    {
      fprintf (stderr, "bench-faces: %s\n", error->message);
      return 1;
    }
  t_load = seconds_since (start);

  faces = facet_face_detector_detect (detector, frame, &error);
  if (faces == NULL || faces->len != 1)
    {
      fprintf (stderr, "bench-faces: expected one face in the test frame\n");
      return 1;
    }
  face = g_array_index (faces, FacetFace, 0);

  start = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    {
      g_autoptr (GArray) found = facet_face_detector_detect (detector, frame, NULL);
    }
  t_detect = seconds_since (start) / n;

  start = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    {
      g_autoptr (FacetImage) crop
        = facet_face_crop (frame, &face, facet_model_config_crop (aligned), NULL);
    }
  t_aligned = seconds_since (start) / n;

  start = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    {
      g_autoptr (FacetImage) crop
        = facet_face_crop (frame, &face, facet_model_config_crop (box), NULL);
    }
  t_box = seconds_since (start) / n;

  tracker = facet_face_tracker_new (detector, facet_model_config_crop (aligned));
  start = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    {
      FacetFaceResult result;
      g_autoptr (FacetImage) crop = facet_face_tracker_process (tracker, frame, &result, NULL);
    }
  t_track = seconds_since (start) / n;

  start = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    {
      float au[FACET_SYNTH_N_AUS] = { 0 };
      g_autoptr (FacetImage) drawn = NULL;
      au[i % FACET_SYNTH_N_AUS] = 1.0f;
      drawn = facet_synth_render (subject, au, NULL, 224);
    }
  t_synth = seconds_since (start) / n;

  printf ("faces: 640x480 frame, face %.0fx%.0f px, %d frames per stage, one thread\n", face.width,
          face.height, n);
  printf ("  landmark model load          %8.1f ms (once per detector)\n", 1e3 * t_load);
  printf ("  detect + 68 landmarks        %8.2f ms  %7.1f frames/s\n", 1e3 * t_detect,
          1.0 / t_detect);
  printf ("  aligned crop 224             %8.2f ms  %7.1f crops/s\n", 1e3 * t_aligned,
          1.0 / t_aligned);
  printf ("  box crop 224                 %8.2f ms  %7.1f crops/s\n", 1e3 * t_box, 1.0 / t_box);
  printf ("  tracker (detect+smooth+align)%8.2f ms  %7.1f frames/s\n", 1e3 * t_track,
          1.0 / t_track);
  printf ("  synthetic face render 224    %8.2f ms  %7.1f frames/s\n", 1e3 * t_synth,
          1.0 / t_synth);
  printf ("  peer: none installed (python3-dlib, OpenCV); tracker / detector alone = %.3f\n",
          t_track / t_detect);
  return 0;
}
