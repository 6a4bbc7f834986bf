/* face-crop.c — the model's input for a face: box, aligned or whole-image
 * crops, the similarity fit behind aligned crops, and an affine sampler.
 *
 * Coordinates are pixel indices: pixel (i, j) has its centre at (i, j), as
 * dlib's landmarks do. A template point t in [0, 1] crop coordinates (the
 * crop spans [0, 1]) is therefore at t * size - 0.5 in crop pixels.
 */
#define G_LOG_DOMAIN "facet-face"

#include "config.h"

#include <math.h>
#include <string.h>

#include "facet-face.h"

/* Shrinking by more than this first low-passes the source with the core's
 * antialiasing resize; plain bilinear sampling would alias. */
#define MAX_PLAIN_SHRINK 1.25

void
facet_face_alignment_points (const FacetFace *face,
                             float            points[10])
{
  double lx = 0, ly = 0, rx = 0, ry = 0;

  g_return_if_fail (face != NULL && points != NULL);

  /* iBUG order: 36-41 is the eye on the image's left, 42-47 the other. */
  for (int i = 0; i < 6; i++)
    {
      lx += face->landmarks[2 * (36 + i)];
      ly += face->landmarks[2 * (36 + i) + 1];
      rx += face->landmarks[2 * (42 + i)];
      ry += face->landmarks[2 * (42 + i) + 1];
    }
  points[0] = (float) (lx / 6.0);
  points[1] = (float) (ly / 6.0);
  points[2] = (float) (rx / 6.0);
  points[3] = (float) (ry / 6.0);
  points[4] = face->landmarks[2 * 30];
  points[5] = face->landmarks[2 * 30 + 1];
  points[6] = face->landmarks[2 * 48];
  points[7] = face->landmarks[2 * 48 + 1];
  points[8] = face->landmarks[2 * 54];
  points[9] = face->landmarks[2 * 54 + 1];
}

/**
 * facet_face_fit_similarity:
 *
 * The closed-form least-squares similarity (Umeyama's solution restricted
 * to 2-D without reflection): with centred point sets s and d,
 * a = sum (s . d) / sum |s|^2 and b = sum (s x d) / sum |s|^2 give the
 * scaled rotation [a -b; b a].
 */
gboolean
facet_face_fit_similarity (const float *src,
                           const float *dst,
                           int          n,
                           double       transform[6])
{
  return facet_face_fit_similarity_weighted (src, dst, NULL, n, transform);
}

/**
 * facet_face_fit_similarity_weighted:
 * @weights: (nullable): one non-negative weight per point (NULL: all 1)
 *
 * The same fit with each point's squared error weighted.
 */
gboolean
facet_face_fit_similarity_weighted (const float *src,
                                    const float *dst,
                                    const float *weights,
                                    int          n,
                                    double       transform[6])
{
  double msx = 0, msy = 0, mdx = 0, mdy = 0, den = 0, num_a = 0, num_b = 0, wsum = 0, a, b;

  g_return_val_if_fail (src != NULL && dst != NULL && transform != NULL, FALSE);
  g_return_val_if_fail (n >= 2, FALSE);

  for (int i = 0; i < n; i++)
    {
      double w = weights ? weights[i] : 1.0;
      msx += w * src[2 * i];
      msy += w * src[2 * i + 1];
      mdx += w * dst[2 * i];
      mdy += w * dst[2 * i + 1];
      wsum += w;
    }
  if (!(wsum > 0))
    return FALSE;
  msx /= wsum;
  msy /= wsum;
  mdx /= wsum;
  mdy /= wsum;
  for (int i = 0; i < n; i++)
    {
      double w = weights ? weights[i] : 1.0;
      double sx = src[2 * i] - msx, sy = src[2 * i + 1] - msy;
      double dx = dst[2 * i] - mdx, dy = dst[2 * i + 1] - mdy;

      den += w * (sx * sx + sy * sy);
      num_a += w * (sx * dx + sy * dy);
      num_b += w * (sx * dy - sy * dx);
    }
  if (!(den > 1e-12))
    return FALSE;
  a = num_a / den;
  b = num_b / den;
  transform[0] = a;
  transform[1] = -b;
  transform[2] = mdx - (a * msx - b * msy);
  transform[3] = b;
  transform[4] = a;
  transform[5] = mdy - (b * msx + a * msy);
  return isfinite (transform[2]) && isfinite (transform[5]) && (a != 0.0 || b != 0.0);
}

gboolean
facet_face_invert_affine (const double transform[6],
                          double       inverse[6])
{
  const double *t = transform;
  double det = t[0] * t[4] - t[1] * t[3];

  g_return_val_if_fail (transform != NULL && inverse != NULL, FALSE);

  if (!isfinite (det) || fabs (det) < 1e-12)
    return FALSE;
  inverse[0] = t[4] / det;
  inverse[1] = -t[1] / det;
  inverse[3] = -t[3] / det;
  inverse[4] = t[0] / det;
  inverse[2] = -(inverse[0] * t[2] + inverse[1] * t[5]);
  inverse[5] = -(inverse[3] * t[2] + inverse[4] * t[5]);
  return TRUE;
}

static void
sample_bilinear (const FacetImage *image,
                 const double      t[6],
                 FacetImage       *out)
{
  int w = image->width, h = image->height;

  for (int v = 0; v < out->height; v++)
    {
      guint8 *dst = out->data + (gsize) v * out->stride;

      for (int u = 0; u < out->width; u++, dst += 3)
        {
          double x = t[0] * u + t[1] * v + t[2];
          double y = t[3] * u + t[4] * v + t[5];
          double fx, fy, acc[3] = { 0, 0, 0 };
          int x0, y0;

          if (!(x > -1.0 && y > -1.0 && x < w && y < h))
            continue; /* black: nothing of the image is here */
          x0 = (int) floor (x);
          y0 = (int) floor (y);
          fx = x - x0;
          fy = y - y0;
          for (int k = 0; k < 4; k++)
            {
              int xx = x0 + (k & 1), yy = y0 + (k >> 1);
              double weight = ((k & 1) ? fx : 1.0 - fx) * ((k >> 1) ? fy : 1.0 - fy);
              const guint8 *p;

              if (xx < 0 || yy < 0 || xx >= w || yy >= h || weight == 0.0)
                continue;
              p = image->data + (gsize) yy * image->stride + 3 * (gsize) xx;
              acc[0] += weight * p[0];
              acc[1] += weight * p[1];
              acc[2] += weight * p[2];
            }
          for (int c = 0; c < 3; c++)
            dst[c] = (guint8) CLAMP ((int) (acc[c] + 0.5), 0, 255);
        }
    }
}

FacetImage *
facet_face_warp (const FacetImage *image,
                 const double      transform[6],
                 int               width,
                 int               height)
{
  FacetImage *out;
  double scale;

  g_return_val_if_fail (image != NULL && transform != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  out = facet_image_new (width, height);
  scale = sqrt (fabs (transform[0] * transform[4] - transform[1] * transform[3]));
  if (!isfinite (scale) || scale == 0.0)
    return out;

  if (scale > MAX_PLAIN_SHRINK)
    {
      /* Low-pass only the part of the image the crop covers: cut its
       * bounding box out, shrink it with the antialiasing resize, then
       * sample the shrunk copy with the transform adjusted to it. */
      double corners[4][2] = { { -0.5, -0.5 }, { width - 0.5, -0.5 },
                               { -0.5, height - 0.5 }, { width - 0.5, height - 0.5 } };
      double x_min = G_MAXDOUBLE, y_min = G_MAXDOUBLE, x_max = -G_MAXDOUBLE, y_max = -G_MAXDOUBLE;
      double t[6], fx, fy;
      int bx0, by0, bx1, by1, sw, sh;
      g_autoptr (FacetImage) part = NULL;
      g_autoptr (FacetImage) small = NULL;

      for (int k = 0; k < 4; k++)
        {
          double x = transform[0] * corners[k][0] + transform[1] * corners[k][1] + transform[2];
          double y = transform[3] * corners[k][0] + transform[4] * corners[k][1] + transform[5];
          x_min = MIN (x_min, x);
          x_max = MAX (x_max, x);
          y_min = MIN (y_min, y);
          y_max = MAX (y_max, y);
        }
      bx0 = (int) MAX (floor (x_min) - 2, 0);
      by0 = (int) MAX (floor (y_min) - 2, 0);
      bx1 = (int) MIN (ceil (x_max) + 3, image->width);
      by1 = (int) MIN (ceil (y_max) + 3, image->height);
      if (bx1 <= bx0 || by1 <= by0)
        return out; /* the crop lies entirely outside the image */

      part = facet_image_crop (image, bx0, by0, bx1 - bx0, by1 - by0);
      sw = MAX (1, (int) lround ((bx1 - bx0) / scale));
      sh = MAX (1, (int) lround ((by1 - by0) / scale));
      small = facet_image_resize (part, sw, sh);
      fx = (double) (bx1 - bx0) / sw;
      fy = (double) (by1 - by0) / sh;
      /* small pixel centre xs covers image x = bx0 + (xs + 0.5) * fx - 0.5 */
      t[0] = transform[0] / fx;
      t[1] = transform[1] / fx;
      t[2] = (transform[2] - bx0 + 0.5) / fx - 0.5;
      t[3] = transform[3] / fy;
      t[4] = transform[4] / fy;
      t[5] = (transform[5] - by0 + 0.5) / fy - 0.5;
      sample_bilinear (small, t, out);
      return out;
    }

  sample_bilinear (image, transform, out);
  return out;
}

static FacetImage *
crop_box (const FacetImage *image,
          const FacetFace  *face,
          float             margin,
          int               size,
          double            transform[6])
{
  double side = MAX (face->width, face->height) * (1.0 + 2.0 * margin);
  double cx = face->x + face->width / 2.0, cy = face->y + face->height / 2.0;
  int side_px = MAX (1, (int) lround (side));
  int x0 = (int) lround (cx - side_px / 2.0), y0 = (int) lround (cy - side_px / 2.0);
  g_autoptr (FacetImage) square = NULL;
  double scale = (double) side_px / size;

  /* An integer square cut, then the core's (PIL-compatible) resize: the
   * pixels a Python pipeline that crops and resizes the box would make. */
  square = facet_image_crop (image, x0, y0, side_px, side_px);
  transform[0] = scale;
  transform[1] = 0.0;
  transform[2] = x0 + 0.5 * scale - 0.5;
  transform[3] = 0.0;
  transform[4] = scale;
  transform[5] = y0 + 0.5 * scale - 0.5;
  return facet_image_resize (square, size, size);
}

static FacetImage *
crop_aligned (const FacetImage    *image,
              const FacetFace     *face,
              const FacetCropSpec *crop,
              int                  size,
              double               transform[6])
{
  /* The eyes weigh most: they are the most stable landmarks and what AU
   * models are most sensitive to; faces whose eye-to-mouth proportion
   * differs from the template's keep their eyes on it, and the nose and
   * mouth take up the difference. */
  static const float weights[5] = { 4.0f, 4.0f, 1.0f, 1.0f, 1.0f };
  float points[10], target[10];
  double to_crop[6];

  facet_face_alignment_points (face, points);
  for (int i = 0; i < 10; i++)
    target[i] = crop->align_template[i] * size - 0.5f;
  /* Fit image -> crop (the error is minimised in crop pixels, the common
   * convention for template alignment), then invert for crop -> image. */
  if (!facet_face_fit_similarity_weighted (points, target, weights, 5, to_crop)
      || !facet_face_invert_affine (to_crop, transform))
    {
      /* Degenerate landmarks (all on one point): fall back to the box so
       * that the caller still gets the face, not garbage. */
      return crop_box (image, face, crop->margin, size, transform);
    }
  return facet_face_warp (image, transform, size, size);
}

/**
 * facet_face_crop:
 * @face: the face (may be NULL for FACET_CROP_NONE)
 *
 * Box: the detector box grown by crop_margin on each side, made square
 * around its centre, cut out (black outside the image) and resized.
 * Aligned: the similarity that puts the five alignment points onto the
 * template, sampled bilinearly. None: the whole image resized to the input.
 */
FacetImage *
facet_face_crop (const FacetImage *image,
                 const FacetFace  *face,
                 FacetCropSpec     crop,
                 double            transform[6])
{
  double unused[6];
  int size;

  g_return_val_if_fail (image != NULL, NULL);
  g_return_val_if_fail (crop.size > 0, NULL);
  g_return_val_if_fail (face != NULL || crop.kind == FACET_CROP_NONE, NULL);

  if (transform == NULL)
    transform = unused;
  size = crop.size;

  switch (crop.kind)
    {
    case FACET_CROP_BOX:
      return crop_box (image, face, crop.margin, size, transform);
    case FACET_CROP_ALIGNED:
      return crop_aligned (image, face, &crop, size, transform);
    case FACET_CROP_NONE:
    default:
      transform[0] = (double) image->width / size;
      transform[1] = 0.0;
      transform[2] = 0.5 * transform[0] - 0.5;
      transform[3] = 0.0;
      transform[4] = (double) image->height / size;
      transform[5] = 0.5 * transform[4] - 0.5;
      if (image->width == size && image->height == size)
        return facet_image_ref ((FacetImage *) image);
      return facet_image_resize (image, size, size);
    }
}
