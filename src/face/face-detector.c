/* face-detector.c — FacetFaceDetector: dlib's detector and landmarks for
 * FacetImages, faces sorted largest first.
 */
#define G_LOG_DOMAIN "facet-face"

#include "config.h"

#include <math.h>
#include <string.h>

#include "face-cnn.h"
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

/* The second look (rescue_faint_faces): candidates from this score on ... */
#define RESCUE_THRESHOLD -0.2
/* ... confirmed by a face at this score in the normalised image. */
#define RESCUE_CONFIRM 0.0

/* The CNN detector (face-cnn.c), where dlib's finds nothing: its scores
 * (0..1) from this on count (bench/face-coverage.c chose it: see
 * docs/faces.md) ... */
#define CNN_THRESHOLD 0.6
/* The image upside down is searched from this score on (upright_faces). */
#define CNN_FLIP_THRESHOLD 0.05
/* ... looking at two scales: the image as it is at the network's default
 * input size (faces of 10-70 % of the image), only where that does not
 * enlarge it (enlarged 224 px frames gave 8 more false detections on the
 * faces turned over, and not one face more), and the image in the middle of a grey
 * square twice its side (faces that fill the frame, which the network's
 * anchors do not cover), enlarged at most twice (the faces of smaller
 * images are too small to crop: a 32 px frame has none to offer). */
#define CNN_INPUT_SIZE 416
#define CNN_PADDED_INPUT_SIZE 224
#define CNN_PADDING 2.0
#define CNN_MAX_ENLARGE 2.0
/* The network's boxes reach from the forehead to below the chin; dlib's
 * shape model expects its own detector's tighter, square boxes: side 0.76
 * of the CNN box's width, centre raised by 6 % of its height (measured on
 * astronaut.png and synthetic frames that both detectors find). */
#define CNN_TO_DLIB_SIDE 0.76
#define CNN_TO_DLIB_RAISE 0.06

struct _FacetFaceDetector
{
  FacetFaceDlib *dlib;
  FacetFaceCnn  *cnn; /* NULL when its weights are not installed */
  GMutex         lock; /* dlib's detector keeps scratch state per call */
  int            upsample;
  double         threshold;
  gboolean       normalise;
  gboolean       use_cnn;
  double         cnn_threshold;
};

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
/* The CNN detector's manifest: $FACET_FACE_CNN when set (empty: none),
 * else beside dlib's landmark model, where build-aux/install-deps.sh and
 * the Flatpak put it. A missing default file leaves dlib's detector alone
 * (said once); a file that is there but damaged is an error. */
static gboolean
load_cnn (FacetFaceCnn **cnn,
          GError       **error)
{
  static gsize warned = 0;
  const char *env = g_getenv ("FACET_FACE_CNN");
  g_autofree char *dir = g_path_get_dirname (FACET_DLIB_LANDMARKS);
  g_autofree char *path = NULL;

  *cnn = NULL;
  if (env != NULL && *env == '\0')
    return TRUE;
  path = env != NULL ? g_strdup (env) : g_build_filename (dir, FACET_FACE_CNN_MANIFEST, NULL);
  if (env == NULL && !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (g_once_init_enter (&warned))
        {
          g_message ("%s is not installed: dlib's detector alone misses more darker-skinned "
                     "faces (build-aux/install-deps.sh installs the CNN face detector)",
                     path);
          g_once_init_leave (&warned, 1);
        }
      return TRUE;
    }
  *cnn = facet_face_cnn_load (path, error);
  return *cnn != NULL;
}

FacetFaceDetector *
facet_face_detector_new (const char  *landmark_model,
                         GError     **error)
{
  FacetFaceDetector *detector;
  FacetFaceDlib *dlib;
  FacetFaceCnn *cnn;

  if (!load_cnn (&cnn, error))
    return NULL;
  dlib = facet_face_dlib_new (landmark_model ? landmark_model : FACET_DLIB_LANDMARKS, error);
  if (dlib == NULL)
    {
      facet_face_cnn_free (cnn);
      return NULL;
    }

  detector = g_new0 (FacetFaceDetector, 1);
  detector->dlib = dlib;
  detector->cnn = cnn;
  detector->use_cnn = TRUE;
  detector->cnn_threshold = CNN_THRESHOLD;
  detector->upsample = -1;
  detector->threshold = DEFAULT_THRESHOLD;
  detector->normalise = TRUE;
  g_mutex_init (&detector->lock);
  return detector;
}

void
facet_face_detector_free (FacetFaceDetector *detector)
{
  if (detector == NULL)
    return;
  facet_face_dlib_free (detector->dlib);
  facet_face_cnn_free (detector->cnn);
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

void
facet_face_detector_set_normalise (FacetFaceDetector *detector,
                                   gboolean           normalise)
{
  g_return_if_fail (detector != NULL);

  detector->normalise = normalise;
}

void
facet_face_detector_set_cnn (FacetFaceDetector *detector,
                             gboolean           use_cnn)
{
  g_return_if_fail (detector != NULL);

  detector->use_cnn = use_cnn;
}

void
facet_face_detector_set_cnn_threshold (FacetFaceDetector *detector,
                                       double             threshold)
{
  g_return_if_fail (detector != NULL);
  g_return_if_fail (threshold > 0.0 && threshold < 1.0);

  detector->cnn_threshold = threshold;
}

gboolean
facet_face_detector_has_cnn (FacetFaceDetector *detector)
{
  g_return_val_if_fail (detector != NULL, FALSE);

  return detector->cnn != NULL;
}

/* Luma in 0..255 (Rec. 601 weights, integer). */
static guint8 *
image_luma (const FacetImage *image)
{
  guint8 *luma = g_malloc ((gsize) image->width * image->height);

  for (int y = 0; y < image->height; y++)
    {
      const guint8 *row = image->data + (gsize) y * image->stride;
      for (int x = 0; x < image->width; x++)
        luma[(gsize) y * image->width + x]
          = (guint8) ((77 * row[3 * x] + 150 * row[3 * x + 1] + 29 * row[3 * x + 2] + 128) >> 8);
    }
  return luma;
}

#define CLAHE_TILES 8
#define CLAHE_CLIP 3.0

/* Contrast-limited adaptive histogram equalisation of @luma in place:
 * each tile of an 8x8 grid gets the equalising curve of its own histogram,
 * clipped at three times the mean bin count so that flat areas are not
 * blown up into noise; a pixel takes the bilinear blend of the curves of
 * the four tiles around it, so no tile edges appear. */
static void
equalise_local (guint8 *luma,
                int     width,
                int     height)
{
  float curves[CLAHE_TILES][CLAHE_TILES][256];
  double tile_w = (double) width / CLAHE_TILES, tile_h = (double) height / CLAHE_TILES;

  for (int ty = 0; ty < CLAHE_TILES; ty++)
    for (int tx = 0; tx < CLAHE_TILES; tx++)
      {
        int x0 = (int) (tx * tile_w), x1 = MAX (x0 + 1, (int) ((tx + 1) * tile_w));
        int y0 = (int) (ty * tile_h), y1 = MAX (y0 + 1, (int) ((ty + 1) * tile_h));
        double hist[256] = { 0 }, limit, excess = 0.0, sum = 0.0;
        int n = 0;

        for (int y = y0; y < MIN (y1, height); y++)
          for (int x = x0; x < MIN (x1, width); x++, n++)
            hist[luma[(gsize) y * width + x]] += 1.0;
        limit = MAX (1.0, CLAHE_CLIP * n / 256.0);
        for (int v = 0; v < 256; v++)
          if (hist[v] > limit)
            {
              excess += hist[v] - limit;
              hist[v] = limit;
            }
        for (int v = 0; v < 256; v++)
          {
            sum += hist[v] + excess / 256.0;
            curves[ty][tx][v] = n > 0 ? (float) (255.0 * sum / n) : (float) v;
          }
      }

  for (int y = 0; y < height; y++)
    {
      double fy = (y + 0.5) / tile_h - 0.5;
      int ty0 = CLAMP ((int) floor (fy), 0, CLAHE_TILES - 1);
      int ty1 = MIN (ty0 + 1, CLAHE_TILES - 1);
      double wy = CLAMP (fy - ty0, 0.0, 1.0);

      for (int x = 0; x < width; x++)
        {
          double fx = (x + 0.5) / tile_w - 0.5;
          int tx0 = CLAMP ((int) floor (fx), 0, CLAHE_TILES - 1);
          int tx1 = MIN (tx0 + 1, CLAHE_TILES - 1);
          double wx = CLAMP (fx - tx0, 0.0, 1.0);
          guint8 *p = &luma[(gsize) y * width + x];
          double top = (1 - wx) * curves[ty0][tx0][*p] + wx * curves[ty0][tx1][*p];
          double bottom = (1 - wx) * curves[ty1][tx0][*p] + wx * curves[ty1][tx1][*p];

          *p = (guint8) CLAMP ((1 - wy) * top + wy * bottom + 0.5, 0.0, 255.0);
        }
    }
}

/* A grey image in which a dark face shows its features as a light one
 * does: a gamma that brings the mean luma of the image's centre (where a
 * face usually is) to mid-grey, then local histogram equalisation. */
static FacetImage *
normalise_image (const FacetImage *image)
{
  g_autofree guint8 *luma = image_luma (image);
  gsize n_pixels = (gsize) image->width * image->height;
  double mean = 0.0, gamma;
  guint8 table[256];
  int n = 0;
  FacetImage *out;

  for (int y = image->height / 4; y < 3 * image->height / 4; y++)
    for (int x = image->width / 4; x < 3 * image->width / 4; x++, n++)
      mean += luma[(gsize) y * image->width + x];
  mean = CLAMP (mean / MAX (n, 1) / 255.0, 0.02, 0.98);
  gamma = log (0.5) / log (mean);
  for (int v = 0; v < 256; v++)
    table[v] = (guint8) CLAMP (255.0 * pow (v / 255.0, gamma) + 0.5, 0.0, 255.0);
  for (gsize i = 0; i < n_pixels; i++)
    luma[i] = table[luma[i]];
  equalise_local (luma, image->width, image->height);

  out = facet_image_new (image->width, image->height);
  for (int y = 0; y < image->height; y++)
    {
      guint8 *row = out->data + (gsize) y * out->stride;
      for (int x = 0; x < image->width; x++)
        row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = luma[(gsize) y * image->width + x];
    }
  return out;
}

/* Intersection over union of the boxes of @a and @b. */
static double
box_overlap (const FacetFace *a,
             const FacetFace *b)
{
  double ix = MIN (a->x + a->width, b->x + b->width) - MAX (a->x, b->x);
  double iy = MIN (a->y + a->height, b->y + b->height) - MAX (a->y, b->y);
  double inter = MAX (ix, 0.0) * MAX (iy, 0.0);

  return inter / (a->width * a->height + b->width * b->height - inter);
}

/* The second look, when nothing reached the threshold: faces scoring at
 * least RESCUE_THRESHOLD in the image as it is are kept when the
 * normalised image shows a face at the same place (overlap >= 0.5) scoring
 * at least RESCUE_CONFIRM. Either test alone lets in textures of clothing
 * and backgrounds; both together did not add one false detection on the
 * frames without a face of bench/face-coverage.c, and found 9 in 10 of
 * the frames that the threshold had lost (see docs/faces.md). */
static gboolean
rescue_faint_faces (FacetFaceDetector *detector,
                    const FacetImage  *image,
                    int                upsample,
                    GArray            *faces,
                    GError           **error)
{
  g_autoptr (GArray) candidates = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_autoptr (GArray) confirmed = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_autoptr (FacetImage) normal = NULL;

  if (!facet_face_dlib_detect (detector->dlib, image->data, image->width, image->height,
                               image->stride, upsample, MIN (detector->threshold, RESCUE_THRESHOLD),
                               candidates, error))
    return FALSE;
  if (candidates->len == 0)
    return TRUE;

  normal = normalise_image (image);
  if (!facet_face_dlib_detect (detector->dlib, normal->data, normal->width, normal->height,
                               normal->stride, upsample, RESCUE_CONFIRM, confirmed, error))
    return FALSE;
  for (guint i = 0; i < candidates->len; i++)
    {
      const FacetFace *c = &g_array_index (candidates, FacetFace, i);

      for (guint j = 0; j < confirmed->len; j++)
        if (box_overlap (c, &g_array_index (confirmed, FacetFace, j)) >= 0.5)
          {
            /* the landmarks of the original image: its colours are the
             * ones the shape model was trained on */
            g_array_append_val (faces, *c);
            break;
          }
    }
  return TRUE;
}

/* @image in the middle of a grey square @factor times its longer side;
 * (*dx, *dy) is where the image's corner lies in it. */
static FacetImage *
pad_image (const FacetImage *image,
           double            factor,
           int              *dx,
           int              *dy)
{
  int side = (int) lround (MAX (image->width, image->height) * factor);
  FacetImage *out = facet_image_new (side, side);

  for (int y = 0; y < side; y++)
    memset (out->data + (gsize) y * out->stride, 128, 3 * (gsize) side);
  *dx = (side - image->width) / 2;
  *dy = (side - image->height) / 2;
  for (int y = 0; y < image->height; y++)
    memcpy (out->data + (gsize) (y + *dy) * out->stride + 3 * (gsize) *dx,
            image->data + (gsize) y * image->stride, 3 * (gsize) image->width);
  return out;
}

/* @image upside down. */
static FacetImage *
flip_image (const FacetImage *image)
{
  FacetImage *out = facet_image_new (image->width, image->height);

  for (int y = 0; y < image->height; y++)
    memcpy (out->data + (gsize) y * out->stride,
            image->data + (gsize) (image->height - 1 - y) * image->stride, 3 * (gsize) image->width);
  return out;
}

/* The CNN's faces in @image at @input_size that are upright: the network
 * also scores faces upside down (0.5-0.8 on the synthetic faces turned
 * over, which dlib's detector ignores), so a face is kept only when the
 * image turned upside down does not score higher at the same place
 * (overlap > 0.3). Appended to @found. Skipped when @image would be
 * enlarged more than @max_enlarge times. */
static void
upright_faces (FacetFaceDetector *detector,
               const FacetImage  *image,
               int                input_size,
               double             max_enlarge,
               GArray            *found)
{
  g_autoptr (GArray) faces = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_autoptr (GArray) flipped_faces = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_autoptr (FacetImage) flipped = NULL;

  if (input_size > max_enlarge * MAX (image->width, image->height))
    return;
  facet_face_cnn_detect (detector->cnn, image, input_size, detector->cnn_threshold, faces);
  if (faces->len == 0)
    return;
  flipped = flip_image (image);
  facet_face_cnn_detect (detector->cnn, flipped, input_size, CNN_FLIP_THRESHOLD, flipped_faces);
  for (guint i = 0; i < faces->len; i++)
    {
      const FacetFace *f = &g_array_index (faces, FacetFace, i);
      gboolean upright = TRUE;

      for (guint j = 0; j < flipped_faces->len && upright; j++)
        {
          FacetFace g = g_array_index (flipped_faces, FacetFace, j);

          g.y = image->height - g.y - g.height; /* back to the image's rows */
          if (g.score > f->score && box_overlap (f, &g) > 0.3)
            upright = FALSE;
        }
      if (upright)
        g_array_append_val (found, *f);
    }
}

/* The CNN's look, when dlib's detector found nothing: both scales, their
 * boxes merged (overlap > 0.4: the more confident kept), turned into
 * dlib-like boxes inside the image, each with its landmarks. */
static gboolean
cnn_faces (FacetFaceDetector *detector,
           const FacetImage  *image,
           GArray            *faces,
           GError           **error)
{
  g_autoptr (GArray) found = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_autoptr (FacetImage) padded = NULL;
  guint n_own;
  int dx, dy;

  upright_faces (detector, image, CNN_INPUT_SIZE, 1.0, found);
  n_own = found->len;
  padded = pad_image (image, CNN_PADDING, &dx, &dy);
  upright_faces (detector, padded, CNN_PADDED_INPUT_SIZE, CNN_MAX_ENLARGE, found);
  for (guint i = 0; i < found->len; i++)
    {
      FacetFace *f = &g_array_index (found, FacetFace, i);
      double side = CNN_TO_DLIB_SIDE * f->width;
      double cx = f->x + 0.5 * f->width - (i >= n_own ? dx : 0);
      double cy = f->y + (0.5 - CNN_TO_DLIB_RAISE) * f->height - (i >= n_own ? dy : 0);
      gboolean keep = cx >= 0 && cy >= 0 && cx < image->width && cy < image->height;

      f->x = (float) (cx - side / 2), f->y = (float) (cy - side / 2);
      f->width = f->height = (float) side;
      for (guint j = 0; j < i && keep; j++)
        {
          FacetFace *g = &g_array_index (found, FacetFace, j);

          if (g->score >= 0.0f && box_overlap (f, g) > 0.4 && g->score >= f->score)
            keep = FALSE;
          else if (g->score >= 0.0f && box_overlap (f, g) > 0.4)
            g->score = -1.0f; /* the less confident of two boxes of one face goes */
        }
      if (!keep)
        f->score = -1.0f;
    }
  for (guint i = 0; i < found->len; i++)
    {
      FacetFace face = g_array_index (found, FacetFace, i);

      if (face.score < 0.0f)
        continue;
      if (!facet_face_dlib_landmarks (detector->dlib, image->data, image->width, image->height,
                                      image->stride, &face, error))
        return FALSE;
      g_array_append_val (faces, face);
    }
  return TRUE;
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
 * facet_face_detector_detect_faint:
 *
 * Faces scoring at least @min_score at the image's own size, without the
 * second look, largest first: for callers that check the faces another
 * way (the tracker: the place of the person's face in the frame before).
 */
GArray *
facet_face_detector_detect_faint (FacetFaceDetector *detector,
                                  const FacetImage  *image,
                                  double             min_score,
                                  GError           **error)
{
  g_autoptr (GArray) faces = NULL;
  gboolean ok;

  g_return_val_if_fail (detector != NULL, NULL);

  if (image == NULL || image->width <= 0 || image->height <= 0 || image->data == NULL)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "face detection needs a non-empty image");
      return NULL;
    }
  faces = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_mutex_lock (&detector->lock);
  ok = facet_face_dlib_detect (detector->dlib, image->data, image->width, image->height,
                               image->stride, MAX (detector->upsample, 0), min_score, faces,
                               error);
  g_mutex_unlock (&detector->lock);
  if (!ok)
    return NULL;
  g_array_sort (faces, compare_area);
  return g_steal_pointer (&faces);
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
  /* Where dlib finds nothing, the CNN looks; the second look is for
   * installations without it (with it, the second look added a false
   * detection and no face: docs/faces.md). Without either ("normalise"
   * off), dlib's detector alone. */
  if (ok && faces->len == 0 && detector->normalise && detector->cnn != NULL && detector->use_cnn)
    ok = cnn_faces (detector, image, faces, error);
  else if (ok && faces->len == 0 && detector->normalise)
    ok = rescue_faint_faces (detector, image, upsample, faces, error);
  g_mutex_unlock (&detector->lock);
  if (!ok)
    return NULL;

  g_array_sort (faces, compare_area);
  return g_steal_pointer (&faces);
}
