/* face-detector.c — FacetFaceDetector: dlib's detector and landmarks for
 * FacetImages, faces sorted largest first.
 */
#define G_LOG_DOMAIN "facet-face"

#include "config.h"

#include <math.h>

#include "face-dlib.h"
#include "facet-face.h"

/* Above this size a second, upsampled pass costs too much to run on every
 * frame without a face (the image would be enlarged to over 2048 px). */
#define AUTO_UPSAMPLE_MAX_SIDE 1024

/* dlib's HOG scores run from 0 (its own threshold) to about 3 on clear
 * frontal faces; below 0.2 lie mostly false detections on textured
 * clothing, badges and backgrounds (two of them at 0.01 and 0.13 on the
 * rotated test photograph, whose face scores 0.57). */
#define DEFAULT_THRESHOLD 0.2

struct _FacetFaceDetector
{
  FacetFaceDlib *dlib;
  GMutex         lock; /* dlib's detector keeps scratch state per call */
  int            upsample;
  double         threshold;
};

G_DEFINE_QUARK (facet-face-error-quark, facet_face_error)

const char *
facet_face_status_to_string (FacetFaceStatus status)
{
  switch (status)
    {
    case FACET_FACE_STATUS_FOUND:
      return "found";
    case FACET_FACE_STATUS_TOO_SMALL:
      return "too-small";
    case FACET_FACE_STATUS_NONE:
    default:
      return "none";
    }
}

/**
 * facet_face_detector_new:
 * @landmark_model: path of a dlib 68-point shape predictor, or NULL for
 *   Debian's shape_predictor_68_face_landmarks.dat
 *
 * Loads the landmark model (once per detector: it takes most of a second).
 * Returns NULL with FACET_FACE_ERROR_MODEL when the file is missing or is
 * not a 68-point model.
 */
FacetFaceDetector *
facet_face_detector_new (const char  *landmark_model,
                         GError     **error)
{
  FacetFaceDetector *detector;
  FacetFaceDlib *dlib;

  dlib = facet_face_dlib_new (landmark_model ? landmark_model : FACET_DLIB_LANDMARKS, error);
  if (dlib == NULL)
    return NULL;

  detector = g_new0 (FacetFaceDetector, 1);
  detector->dlib = dlib;
  detector->upsample = -1;
  detector->threshold = DEFAULT_THRESHOLD;
  g_mutex_init (&detector->lock);
  return detector;
}

void
facet_face_detector_free (FacetFaceDetector *detector)
{
  if (detector == NULL)
    return;
  facet_face_dlib_free (detector->dlib);
  g_mutex_clear (&detector->lock);
  g_free (detector);
}

void
facet_face_detector_set_upsample (FacetFaceDetector *detector,
                                  int                upsample)
{
  g_return_if_fail (detector != NULL);
  g_return_if_fail (upsample >= -1 && upsample <= 2);

  detector->upsample = upsample;
}

void
facet_face_detector_set_threshold (FacetFaceDetector *detector,
                                   double             threshold)
{
  g_return_if_fail (detector != NULL);
  g_return_if_fail (isfinite (threshold));

  detector->threshold = threshold;
}

static gint
compare_area (gconstpointer a,
              gconstpointer b)
{
  const FacetFace *fa = a, *fb = b;
  float area_a = fa->width * fa->height, area_b = fb->width * fb->height;

  if (area_a != area_b)
    return area_a > area_b ? -1 : 1;
  /* Equal sizes: the more confident first, so the order is deterministic. */
  if (fa->score != fb->score)
    return fa->score > fb->score ? -1 : 1;
  return fa->x < fb->x ? -1 : fa->x > fb->x ? 1 : 0;
}

/**
 * facet_face_detector_detect:
 *
 * Returns an array of FacetFace (box, detector score, 68 landmarks in image
 * pixels), largest face first; an empty array when there is none. Errors
 * only for bad arguments or when dlib itself fails.
 */
GArray *
facet_face_detector_detect (FacetFaceDetector *detector,
                            const FacetImage  *image,
                            GError           **error)
{
  g_autoptr (GArray) faces = NULL;
  gboolean ok;
  int upsample;

  g_return_val_if_fail (detector != NULL, NULL);

  if (image == NULL || image->width <= 0 || image->height <= 0 || image->data == NULL)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "face detection needs a non-empty image");
      return NULL;
    }

  faces = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  upsample = detector->upsample < 0 ? 0 : detector->upsample;

  g_mutex_lock (&detector->lock);
  ok = facet_face_dlib_detect (detector->dlib, image->data, image->width, image->height,
                               image->stride, upsample, detector->threshold, faces, error);
  if (ok && faces->len == 0 && detector->upsample < 0
      && MAX (image->width, image->height) <= AUTO_UPSAMPLE_MAX_SIDE)
    ok = facet_face_dlib_detect (detector->dlib, image->data, image->width, image->height,
                                 image->stride, 1, detector->threshold, faces, error);
  g_mutex_unlock (&detector->lock);
  if (!ok)
    return NULL;

  g_array_sort (faces, compare_area);
  return g_steal_pointer (&faces);
}
