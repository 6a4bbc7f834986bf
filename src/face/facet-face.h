/* facet-face.h — the face module: detection and 68 landmarks (dlib, behind
 * a C API), following one person through a video, and the crops the model
 * expects (box, aligned, none).
 *
 * CONTRACT (written before the implementation): the pipeline, the store and
 * the app code against these declarations. Add functions freely; change
 * these only together with their callers.
 */
#pragma once

#include <gio/gio.h>

#include "core/facet-core.h"
#include "engine/engine-config.h"

G_BEGIN_DECLS

#define FACET_FACE_ERROR (facet_face_error_quark ())

typedef enum
{
  FACET_FACE_ERROR_MODEL,   /* the landmark model file is missing or damaged */
  FACET_FACE_ERROR_INVALID, /* bad arguments (empty image, ...) */
} FacetFaceError;

GQuark facet_face_error_quark (void);

#define FACET_FACE_N_LANDMARKS 68

typedef struct
{
  float x, y, width, height;                 /* detector box, image pixels */
  float score;                               /* detector confidence */
  float landmarks[2 * FACET_FACE_N_LANDMARKS]; /* x0, y0, x1, y1, ... (iBUG 68 order) */
} FacetFace;

typedef enum
{
  FACET_FACE_STATUS_FOUND,
  FACET_FACE_STATUS_NONE,      /* no face detected */
  FACET_FACE_STATUS_TOO_SMALL, /* a face, but below the minimum size */
} FacetFaceStatus;

typedef struct
{
  FacetFaceStatus status;
  FacetFace       face;        /* valid when FOUND (landmarks smoothed when tracking) */
  float           quality;     /* 0..1: detector score, size, landmark stability */
  double          transform[6]; /* crop -> image affine: x = a*u + b*v + c, y = d*u + e*v + f */
} FacetFaceResult;

typedef struct _FacetFaceDetector FacetFaceDetector;

/* @landmark_model: NULL for Debian's shape_predictor_68_face_landmarks.dat. */
FacetFaceDetector *facet_face_detector_new    (const char        *landmark_model,
                                               GError           **error);
void               facet_face_detector_free   (FacetFaceDetector *detector);
/* All faces in an image, largest first. Thread-safe for one caller at a time. */
GArray            *facet_face_detector_detect (FacetFaceDetector *detector,
                                               const FacetImage  *image,
                                               GError           **error);

/* The model input for a face: @crop from the model configuration (kind,
 * margin, template), @size its input side. Returns a size x size image and
 * fills @transform (crop -> image). */
FacetImage        *facet_face_crop            (const FacetImage       *image,
                                               const FacetFace        *face,
                                               const FacetModelConfig *config,
                                               double                  transform[6]);

/* Follows one person through consecutive frames: matches by overlap with
 * the previous frame's face, smooths landmarks without lag on fast moves. */
typedef struct _FacetFaceTracker FacetFaceTracker;

FacetFaceTracker  *facet_face_tracker_new     (FacetFaceDetector      *detector,
                                               const FacetModelConfig *config);
void               facet_face_tracker_free    (FacetFaceTracker       *tracker);
/* Choose the person: the face containing image point (x, y) in the next frame. */
void               facet_face_tracker_select  (FacetFaceTracker       *tracker,
                                               float                   x,
                                               float                   y);
void               facet_face_tracker_reset   (FacetFaceTracker       *tracker);
/* Detects in @frame, follows the person, fills @result, and returns the crop
 * (NULL when no face: never a crop of the background). */
FacetImage        *facet_face_tracker_process (FacetFaceTracker       *tracker,
                                               const FacetImage       *frame,
                                               FacetFaceResult        *result,
                                               GError                **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetFaceDetector, facet_face_detector_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetFaceTracker, facet_face_tracker_free)

G_END_DECLS
