/* face-cnn.h — a small CNN face detector (private to src/face/): the
 * network of face-api.js's TinyFaceDetector (a TinyYOLOv2 with depthwise
 * separable convolutions), run on the CPU with weights read once from the
 * tfjs manifest and .bin that the npm package @vladmandic/face-api ships
 * (MIT). build-aux/install-deps.sh installs the two files beside dlib's
 * landmark model; nothing is fetched at run time.
 */
#pragma once

#include <glib.h>

#include "facet-face.h"

G_BEGIN_DECLS

#define FACET_FACE_CNN_MANIFEST "tiny_face_detector_model-weights_manifest.json"
/* Channels per output cell: 5 anchors x (x, y, w, h, objectness). */
#define FACET_FACE_CNN_OUT_CHANNELS 25

typedef struct _FacetFaceCnn FacetFaceCnn;

/* Reads the tfjs weights manifest at @manifest_path and the weight files
 * it names (plain names in the manifest's folder). FACET_FACE_ERROR_MODEL
 * with the file and key when a file is missing, truncated or malformed, or
 * a tensor is absent or has the wrong shape. */
FacetFaceCnn *facet_face_cnn_load        (const char    *manifest_path,
                                          GError       **error);
/* The same from memory: @manifest (JSON text) and @weights, the named
 * weight files concatenated in the manifest's order; @name appears in
 * errors. */
FacetFaceCnn *facet_face_cnn_new_from_data (const char   *manifest,
                                            gsize         manifest_len,
                                            const guint8 *weights,
                                            gsize         weights_len,
                                            const char   *name,
                                            GError      **error);
void          facet_face_cnn_free        (FacetFaceCnn  *cnn);

/* The raw network output for @image scaled (padded right/bottom to a
 * square) to @input_size (a multiple of 32, 64..1024): @n_cells^2 cells,
 * row-major, 25 channels each (anchor * 5 + x, y, w, h, score, before the
 * sigmoid). Returns a new array (g_free). */
float        *facet_face_cnn_forward     (FacetFaceCnn     *cnn,
                                          const FacetImage *image,
                                          int               input_size,
                                          int              *n_cells);

/* Faces whose score (0..1) reaches @threshold, after non-maximum
 * suppression (overlap 0.4), appended to @faces as boxes in image pixels
 * (landmarks zero). */
void          facet_face_cnn_detect      (FacetFaceCnn     *cnn,
                                          const FacetImage *image,
                                          int               input_size,
                                          double            threshold,
                                          GArray           *faces);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetFaceCnn, facet_face_cnn_free)

G_END_DECLS
