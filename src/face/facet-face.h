/* facet-face.h — the face module: detection and 68 landmarks (dlib, behind
 * a C API), following one person through a video, and the crops the model
 * expects (box, aligned, none).
 *
 * CONTRACT (written before the implementation): the pipeline, the store and
 * the app code against these declarations. Add functions freely; change
 * these only together with their callers.
 *
 * Threads: a FacetFaceDetector may be shared: it holds a lock for each
 * detection (dlib keeps scratch state per call), so threads sharing one
 * take turns. A FacetFaceTracker and a FacetFaceSmoother are single-thread
 * (they remember the previous frame): one per video being followed. The
 * other functions are reentrant.
 * Ownership: crops and warps return new images (facet_image_unref());
 * detections return a new GArray of FacetFace (g_array_unref()).
 */
#pragma once

#include <gio/gio.h>

#include "core/facet-core.h"

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
/* All faces in an image, largest first. Callers in several threads take
 * turns (the detector's lock). */
GArray            *facet_face_detector_detect (FacetFaceDetector *detector,
                                               const FacetImage  *image,
                                               GError           **error);

/* The model input for a face: @crop says how (kind, margin, template) and
 * its side (engine: facet_model_config_crop()). Returns a new size x size
 * image (owned by the caller) and fills @transform (crop -> image; may be
 * NULL). @face may be NULL for FACET_CROP_NONE. */
FacetImage        *facet_face_crop            (const FacetImage       *image,
                                               const FacetFace        *face,
                                               FacetCropSpec           crop,
                                               double                  transform[6]);

/* Follows one person through consecutive frames: matches by overlap with
 * the previous frame's face, smooths landmarks without lag on fast moves. */
typedef struct _FacetFaceTracker FacetFaceTracker;

/* @detector is borrowed and must outlive the tracker; @crop is copied. */
FacetFaceTracker  *facet_face_tracker_new     (FacetFaceDetector      *detector,
                                               FacetCropSpec           crop);
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

/* Additions to the contract (used by the CLI, the tests and the synthetic
 * material). */

const char        *facet_face_status_to_string (FacetFaceStatus status);

/* How often the detector enlarges the image before looking (dlib finds
 * faces from about 80 px; each doubling halves that at four times the
 * cost): 0, 1, 2, or -1 (the default) for "once, when nothing was found at
 * the original size and the image is at most 1024 px wide and high". */
void               facet_face_detector_set_upsample (FacetFaceDetector *detector,
                                                     int                upsample);

/* The lowest detector score accepted (dlib's HOG scores: 0 is its own
 * threshold, clear frontal faces reach 1-3). Default 0.2, which drops
 * most false detections on clothing and backgrounds. */
void               facet_face_detector_set_threshold (FacetFaceDetector *detector,
                                                      double             threshold);

/* When no face reaches the threshold, take a second look: faces scoring
 * from -0.2 are kept when a contrast-normalised grey copy of the image
 * (gamma by the centre's luminance, then local histogram equalisation)
 * shows a face at the same place scoring at least 0. dlib's HOG scores
 * darker skin lower than light skin; this finds most of those faces
 * without letting in the textures that a lower threshold alone would.
 * Where the CNN detector is installed and on (facet_face_detector_set_cnn),
 * it looks instead. Default TRUE; FALSE gives dlib's detector alone (no
 * second look, no CNN). */
void               facet_face_detector_set_normalise (FacetFaceDetector *detector,
                                                      gboolean           normalise);

/* A second detector, a small CNN (face-api.js's tiny face detector, whose
 * weights build-aux/install-deps.sh installs beside dlib's landmark model;
 * $FACET_FACE_CNN names another manifest, an empty value none), looks
 * where dlib's finds nothing: it finds the darker-skinned faces that HOG
 * misses. Default TRUE when installed; FALSE: the second look instead. */
void               facet_face_detector_set_cnn (FacetFaceDetector *detector,
                                                gboolean           use_cnn);
/* The CNN's lowest accepted score (0..1, default 0.5). */
void               facet_face_detector_set_cnn_threshold (FacetFaceDetector *detector,
                                                          double             threshold);
/* Whether the CNN detector's weights were found and loaded. */
gboolean           facet_face_detector_has_cnn (FacetFaceDetector *detector);

/* Faces scoring at least @min_score, at the image's own size and without
 * the second look: for callers that check them another way (the tracker
 * accepts a faint face only where the person's face was a frame before). */
GArray            *facet_face_detector_detect_faint (FacetFaceDetector *detector,
                                                     const FacetImage  *image,
                                                     double             min_score,
                                                     GError           **error);

/* The five alignment points of a face, in template order: image-left eye
 * centre (mean of points 36-41), image-right eye centre (42-47), nose tip
 * (30), mouth corners (48, 54); @points gets x0, y0, ..., x4, y4. */
void               facet_face_alignment_points (const FacetFace *face,
                                                float            points[10]);

/* Least-squares similarity transform (rotation, uniform scale,
 * translation; no reflection) taking the @n points @src onto @dst (x, y
 * pairs), as an affine in the layout of FacetFaceResult.transform.
 * Returns FALSE when the points are degenerate (all equal). */
gboolean           facet_face_fit_similarity   (const float *src,
                                                const float *dst,
                                                int          n,
                                                double       transform[6]);
gboolean           facet_face_fit_similarity_weighted (const float *src,
                                                       const float *dst,
                                                       const float *weights,
                                                       int          n,
                                                       double       transform[6]);
/* Inverts an affine transform; FALSE when it is singular. */
gboolean           facet_face_invert_affine    (const double transform[6],
                                                double       inverse[6]);
/* Samples a @width x @height image whose pixel (u, v) shows @image at
 * @transform (u, v), bilinear; outside the image is black. Shrinking
 * transforms low-pass the source first so that large faces do not alias. */
FacetImage        *facet_face_warp             (const FacetImage *image,
                                                const double      transform[6],
                                                int               width,
                                                int               height);

/* Faces whose box is narrower than @min_size pixels are reported as
 * FACET_FACE_STATUS_TOO_SMALL (default 40). */
void               facet_face_tracker_set_min_size (FacetFaceTracker *tracker,
                                                    float             min_size);

/* Landmark smoothing over time (a One-Euro filter, per frame): the face's
 * centroid and each point's offset from it are low-passed with a cutoff
 * that rises with their speed, so jitter is removed while the face is still
 * and a fast move is followed within a frame or two. Speeds are measured in
 * face widths per frame, so the behaviour does not depend on face size.
 * @min_cutoff (cycles per frame, default 0.05) and @beta (default 10): 0 or
 * less for the defaults. */
typedef struct _FacetFaceSmoother FacetFaceSmoother;

FacetFaceSmoother *facet_face_smoother_new     (double             min_cutoff,
                                                double             beta);
void               facet_face_smoother_free    (FacetFaceSmoother *smoother);
void               facet_face_smoother_reset   (FacetFaceSmoother *smoother);
/* Replaces @face's box and landmarks by their smoothed values. */
void               facet_face_smoother_apply   (FacetFaceSmoother *smoother,
                                                FacetFace         *face);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetFaceSmoother, facet_face_smoother_free)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetFaceDetector, facet_face_detector_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetFaceTracker, facet_face_tracker_free)

G_END_DECLS
