/* core-image.c — 8-bit RGB images
 *
 * Decoding is by content (PNG signature or JPEG SOI), never by file name.
 * Resampling is a separable triangle (bilinear) filter whose support grows
 * with the reduction factor, computed in fixed point with an 8-bit
 * intermediate row buffer: the same arithmetic as the common Python imaging
 * stack, so a model trained on images resized there sees the same pixels
 * here.
 */
#define G_LOG_DOMAIN "facet-core"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <png.h>
#include <turbojpeg.h>

#include "core-error.h"
#include "core-image.h"

/* Guards against absurd headers before any allocation. */
#define MAX_SIDE   32768
#define MAX_PIXELS (1 << 28)

static void
free_owned (gpointer data)
{
  g_free (data);
}

FacetImage *
facet_image_new (int width,
                 int height)
{
  FacetImage *image;

  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail ((gint64) width * height <= MAX_PIXELS, NULL);

  image = g_new0 (FacetImage, 1);
  image->width = width;
  image->height = height;
  image->stride = 3 * width;
  /* A tail of 64 bytes: FFmpeg's SIMD scalers read up to a vector past the
   * last pixel of the last row (valgrind: swscale's 16-byte loads). */
  image->data = g_malloc0 ((gsize) image->stride * height + 64);
  image->ref_count = 1;
  image->free_func = free_owned;
  image->free_data = image->data;
  return image;
}

/**
 * facet_image_new_wrap:
 *
 * Wraps pixels owned elsewhere; @free_func (may be NULL) is called with
 * @free_data when the last reference goes.
 */
FacetImage *
facet_image_new_wrap (guint8        *data,
                      int            width,
                      int            height,
                      int            stride,
                      GDestroyNotify free_func,
                      gpointer       free_data)
{
  FacetImage *image;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0 && stride >= 3 * width, NULL);

  image = g_new0 (FacetImage, 1);
  image->width = width;
  image->height = height;
  image->stride = stride;
  image->data = data;
  image->ref_count = 1;
  image->free_func = free_func;
  image->free_data = free_data;
  return image;
}

FacetImage *
facet_image_copy (const FacetImage *image)
{
  FacetImage *copy;

  g_return_val_if_fail (image != NULL, NULL);

  copy = facet_image_new (image->width, image->height);
  for (int y = 0; y < image->height; y++)
    memcpy (copy->data + (gsize) y * copy->stride, image->data + (gsize) y * image->stride,
            3 * (gsize) image->width);
  return copy;
}

FacetImage *
facet_image_ref (FacetImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);
  g_atomic_int_inc (&image->ref_count);
  return image;
}

void
facet_image_unref (FacetImage *image)
{
  if (image == NULL)
    return;
  if (g_atomic_int_dec_and_test (&image->ref_count))
    {
      if (image->free_func != NULL)
        image->free_func (image->free_data);
      g_free (image);
    }
}

static FacetImage *
load_png (const guint8 *data,
          gsize         length,
          const char   *name,
          GError      **error)
{
  png_image png = { 0 };
  FacetImage *image;

  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory (&png, data, length))
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_FORMAT,
                   "%s: damaged PNG file (%s)", name, png.message);
      png_image_free (&png);
      return NULL;
    }
  if (png.width == 0 || png.height == 0 || png.width > MAX_SIDE || png.height > MAX_SIDE
      || (gint64) png.width * png.height > MAX_PIXELS)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_UNSUPPORTED,
                   "%s: PNG size %ux%u is out of range", name, png.width, png.height);
      png_image_free (&png);
      return NULL;
    }

  png.format = PNG_FORMAT_RGB;
  image = facet_image_new ((int) png.width, (int) png.height);
  if (!png_image_finish_read (&png, NULL, image->data, image->stride, NULL))
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_FORMAT,
                   "%s: damaged PNG file (%s)", name, png.message);
      png_image_free (&png);
      facet_image_unref (image);
      return NULL;
    }
  png_image_free (&png);
  return image;
}

static FacetImage *
load_jpeg (const guint8 *data,
           gsize         length,
           const char   *name,
           GError      **error)
{
  tjhandle tj;
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  FacetImage *image = NULL;

  if (length > G_MAXULONG)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_UNSUPPORTED,
                   "%s: JPEG file too large", name);
      return NULL;
    }

  tj = tjInitDecompress ();
  if (tj == NULL)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_IO,
                   "%s: cannot start the JPEG decoder", name);
      return NULL;
    }

  if (tjDecompressHeader3 (tj, data, (unsigned long) length, &width, &height, &subsamp,
                           &colorspace) != 0)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_FORMAT,
                   "%s: damaged JPEG file (%s)", name, tjGetErrorStr2 (tj));
      goto out;
    }
  if (width <= 0 || height <= 0)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_FORMAT,
                   "%s: damaged JPEG file (no image size)", name);
      goto out;
    }
  if (width > MAX_SIDE || height > MAX_SIDE
      || (gint64) width * height > MAX_PIXELS)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_UNSUPPORTED,
                   "%s: JPEG size %dx%d is out of range", name, width, height);
      goto out;
    }

  image = facet_image_new (width, height);
  /* Warnings (a truncated scan, say) still give a usable picture; only hard
   * errors make the file unreadable. */
  if (tjDecompress2 (tj, data, (unsigned long) length, image->data, width, image->stride,
                     height, TJPF_RGB, TJFLAG_ACCURATEDCT) != 0
      && tjGetErrorCode (tj) == TJERR_FATAL)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_FORMAT,
                   "%s: damaged JPEG file (%s)", name, tjGetErrorStr2 (tj));
      g_clear_pointer (&image, facet_image_unref);
    }

out:
  tjDestroy (tj);
  return image;
}

/**
 * facet_image_load_from_memory:
 * @name: used in error messages (usually the file name)
 *
 * Decodes a PNG or JPEG image, recognised by its signature.
 */
FacetImage *
facet_image_load_from_memory (const guint8 *data,
                              gsize         length,
                              const char   *name,
                              GError      **error)
{
  static const guint8 png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (name == NULL)
    name = "image";

  if (length >= 8 && memcmp (data, png_sig, 8) == 0)
    return load_png (data, length, name, error);
  if (length >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return load_jpeg (data, length, name, error);

  g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_FORMAT,
               length == 0 ? "%s: the file is empty" : "%s: not a PNG or JPEG image", name);
  return NULL;
}

FacetImage *
facet_image_load (const char *path,
                  GError    **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return facet_image_load_from_memory ((const guint8 *) contents, length, path, error);
}

gboolean
facet_image_save_png (const FacetImage *image,
                      const char       *path,
                      GError          **error)
{
  png_image png = { 0 };

  g_return_val_if_fail (image != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  png.version = PNG_IMAGE_VERSION;
  png.width = (png_uint_32) image->width;
  png.height = (png_uint_32) image->height;
  png.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file (&png, path, FALSE, image->data, image->stride, NULL))
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_IO, "%s: cannot write PNG (%s)",
                   path, png.message);
      png_image_free (&png);
      return FALSE;
    }
  png_image_free (&png);
  return TRUE;
}

gboolean
facet_image_save_jpeg (const FacetImage *image,
                       const char       *path,
                       int               quality,
                       GError          **error)
{
  tjhandle tj;
  unsigned char *buffer = NULL;
  unsigned long size = 0;
  gboolean ok;

  g_return_val_if_fail (image != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  tj = tjInitCompress ();
  if (tj == NULL)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_IO,
                   "%s: cannot start the JPEG encoder", path);
      return FALSE;
    }
  if (tjCompress2 (tj, image->data, image->width, image->stride, image->height, TJPF_RGB,
                   &buffer, &size, TJSAMP_420, CLAMP (quality, 1, 100), TJFLAG_ACCURATEDCT) != 0)
    {
      g_set_error (error, FACET_CORE_ERROR, FACET_CORE_ERROR_IO, "%s: cannot encode JPEG (%s)",
                   path, tjGetErrorStr2 (tj));
      tjDestroy (tj);
      return FALSE;
    }
  ok = g_file_set_contents (path, (const char *) buffer, (gssize) size, error);
  tjFree (buffer);
  tjDestroy (tj);
  return ok;
}

/* Resampling ------------------------------------------------------------- */

#define PRECISION_BITS (32 - 8 - 2)

typedef struct
{
  int  out_size;
  int  ksize;
  int *bounds;  /* (first input index, count) per output sample */
  int *coeffs;  /* ksize fixed-point weights per output sample */
} Kernel;

static double
triangle (double x)
{
  x = fabs (x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

static void
kernel_init (Kernel *k,
             int     in_size,
             int     out_size)
{
  double scale = (double) in_size / out_size;
  double filterscale = MAX (scale, 1.0);
  double support = 1.0 * filterscale;
  g_autofree double *w = NULL;

  k->out_size = out_size;
  k->ksize = (int) ceil (support) * 2 + 1;
  k->bounds = g_new (int, 2 * (gsize) out_size);
  k->coeffs = g_new0 (int, (gsize) out_size * k->ksize);
  w = g_new (double, k->ksize);

  for (int xx = 0; xx < out_size; xx++)
    {
      double center = (xx + 0.5) * scale;
      double total = 0.0;
      int xmin = (int) (center - support + 0.5);
      int xmax = (int) (center + support + 0.5);

      if (xmin < 0)
        xmin = 0;
      if (xmax > in_size)
        xmax = in_size;
      xmax -= xmin;
      for (int x = 0; x < xmax; x++)
        {
          w[x] = triangle ((x + xmin - center + 0.5) / filterscale);
          total += w[x];
        }
      for (int x = 0; x < xmax; x++)
        {
          double v = total != 0.0 ? w[x] / total : 0.0;
          k->coeffs[(gsize) xx * k->ksize + x] =
            (int) (v * (1 << PRECISION_BITS) + (v < 0 ? -0.5 : 0.5));
        }
      k->bounds[2 * xx] = xmin;
      k->bounds[2 * xx + 1] = xmax;
    }
}

static void
kernel_clear (Kernel *k)
{
  g_free (k->bounds);
  g_free (k->coeffs);
}

static inline guint8
clip8 (gint64 v)
{
  v >>= PRECISION_BITS;
  return (guint8) CLAMP (v, 0, 255);
}

/**
 * facet_image_resize:
 *
 * Resamples with a bilinear (triangle) filter that averages over the whole
 * footprint when shrinking, so faces cropped from large frames are not
 * aliased. Returns a new image; a same-size request returns a copy.
 */
FacetImage *
facet_image_resize (const FacetImage *image,
                    int               width,
                    int               height)
{
  FacetImage *mid, *out;
  Kernel kx, ky;

  g_return_val_if_fail (image != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  if (width == image->width && height == image->height)
    return facet_image_copy (image);

  /* Horizontal pass into an 8-bit intermediate, then vertical. */
  if (width != image->width)
    {
      kernel_init (&kx, image->width, width);
      mid = facet_image_new (width, image->height);
      for (int y = 0; y < image->height; y++)
        {
          const guint8 *src = image->data + (gsize) y * image->stride;
          guint8 *dst = mid->data + (gsize) y * mid->stride;

          for (int xx = 0; xx < width; xx++)
            {
              const int *c = kx.coeffs + (gsize) xx * kx.ksize;
              int xmin = kx.bounds[2 * xx], n = kx.bounds[2 * xx + 1];
              gint64 s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;

              for (int x = 0; x < n; x++)
                {
                  const guint8 *p = src + 3 * (gsize) (xmin + x);
                  s0 += (gint64) p[0] * c[x];
                  s1 += (gint64) p[1] * c[x];
                  s2 += (gint64) p[2] * c[x];
                }
              dst[3 * xx + 0] = clip8 (s0);
              dst[3 * xx + 1] = clip8 (s1);
              dst[3 * xx + 2] = clip8 (s2);
            }
        }
      kernel_clear (&kx);
    }
  else
    mid = facet_image_ref ((FacetImage *) image);

  if (height == mid->height)
    return mid;

  kernel_init (&ky, mid->height, height);
  out = facet_image_new (width, height);
  for (int yy = 0; yy < height; yy++)
    {
      const int *c = ky.coeffs + (gsize) yy * ky.ksize;
      int ymin = ky.bounds[2 * yy], n = ky.bounds[2 * yy + 1];
      guint8 *dst = out->data + (gsize) yy * out->stride;

      for (int x = 0; x < 3 * width; x++)
        {
          gint64 s = 1 << (PRECISION_BITS - 1);
          for (int y = 0; y < n; y++)
            s += (gint64) mid->data[(gsize) (ymin + y) * mid->stride + x] * c[y];
          dst[x] = clip8 (s);
        }
    }
  kernel_clear (&ky);
  facet_image_unref (mid);
  return out;
}

/**
 * facet_image_crop:
 *
 * Copies a rectangle; parts outside the image are black.
 */
FacetImage *
facet_image_crop (const FacetImage *image,
                  int               x,
                  int               y,
                  int               width,
                  int               height)
{
  FacetImage *out;

  g_return_val_if_fail (image != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  out = facet_image_new (width, height);
  for (int row = 0; row < height; row++)
    {
      int sy = y + row;
      int x0 = MAX (x, 0), x1 = MIN (x + width, image->width);

      if (sy < 0 || sy >= image->height || x0 >= x1)
        continue;
      memcpy (out->data + (gsize) row * out->stride + 3 * (gsize) (x0 - x),
              image->data + (gsize) sy * image->stride + 3 * (gsize) x0, 3 * (gsize) (x1 - x0));
    }
  return out;
}

/**
 * facet_image_to_tensor:
 * @out: 3 * height * width floats, channel-major (CHW)
 *
 * Scales to [0, 1] and normalises each channel: (v - mean) / std.
 */
void
facet_image_to_tensor (const FacetImage *image,
                       const float       mean[3],
                       const float       std[3],
                       float            *out)
{
  gsize plane;

  g_return_if_fail (image != NULL);
  g_return_if_fail (out != NULL);

  plane = (gsize) image->width * image->height;
  for (int c = 0; c < 3; c++)
    {
      float lut[256];
      for (int v = 0; v < 256; v++)
        lut[v] = ((float) v / 255.0f - mean[c]) / std[c];
      for (int y = 0; y < image->height; y++)
        {
          const guint8 *src = image->data + (gsize) y * image->stride + c;
          float *dst = out + c * plane + (gsize) y * image->width;
          for (int x = 0; x < image->width; x++)
            dst[x] = lut[src[3 * x]];
        }
    }
}

gboolean
facet_image_equal (const FacetImage *a,
                   const FacetImage *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  if (a->width != b->width || a->height != b->height)
    return FALSE;
  for (int y = 0; y < a->height; y++)
    if (memcmp (a->data + (gsize) y * a->stride, b->data + (gsize) y * b->stride,
                3 * (gsize) a->width) != 0)
      return FALSE;
  return TRUE;
}

/**
 * facet_image_hash:
 *
 * SHA-256 of the size and the pixels (not of any file encoding).
 */
char *
facet_image_hash (const FacetImage *image)
{
  GChecksum *sum;
  char *hex;
  guint32 size[2];

  g_return_val_if_fail (image != NULL, NULL);

  sum = g_checksum_new (G_CHECKSUM_SHA256);
  size[0] = GUINT32_TO_LE ((guint32) image->width);
  size[1] = GUINT32_TO_LE ((guint32) image->height);
  g_checksum_update (sum, (const guchar *) size, sizeof size);
  for (int y = 0; y < image->height; y++)
    g_checksum_update (sum, image->data + (gsize) y * image->stride, 3 * (gsize) image->width);
  hex = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return hex;
}
