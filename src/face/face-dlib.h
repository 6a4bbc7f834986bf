/* face-dlib.h — the C side of the one C++ file: dlib's HOG face detector and
 * 68-point shape predictor behind plain functions (private to src/face/).
 */
#pragma once

#include <glib.h>

#include "facet-face.h"

G_BEGIN_DECLS

typedef struct _FacetFaceDlib FacetFaceDlib;

/* Loads the landmark model at @landmark_model (once; about 0.7 s). */
FacetFaceDlib *facet_face_dlib_new    (const char    *landmark_model,
                                       GError       **error);
void           facet_face_dlib_free   (FacetFaceDlib *dlib);

/* Detects faces in packed RGB pixels, upsampling the image @upsample times
 * (0, 1 or 2) first, and appends a FacetFace with its 68 landmarks (image
 * pixels of the original image) to @faces for each detection, in the
 * detector's order. Detections scoring below @threshold are dropped. */
gboolean       facet_face_dlib_detect (FacetFaceDlib *dlib,
                                       const guint8  *rgb,
                                       int            width,
                                       int            height,
                                       int            stride,
                                       int            upsample,
                                       double         threshold,
                                       GArray        *faces,
                                       GError       **error);

/* Puts the 68 landmarks on the box of @face (from another detector); the
 * box is rounded to whole pixels as dlib's rectangles are. */
gboolean       facet_face_dlib_landmarks (FacetFaceDlib *dlib,
                                          const guint8  *rgb,
                                          int            width,
                                          int            height,
                                          int            stride,
                                          FacetFace     *face,
                                          GError       **error);

G_END_DECLS
