/* train-augment.c — random resized crop, horizontal flip, colour jitter and
 * random erasing, in one pass from the 8-bit crop to the model's input
 *
 * The recipe of the paper (timm's transforms) crops down to 8 % of the
 * image; face crops are already tight and AUs live in small regions, so the
 * default here keeps at least 60 % of the face. Every draw comes from one
 * FacetRng seeded per sample, so a resumed run augments exactly as an
 * uninterrupted one.
 */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "train-augment.h"

void
facet_augment_config_init (FacetAugmentConfig *c)
{
  c->crop_scale_min = 0.6;
  c->crop_scale_max = 1.0;
  c->crop_ratio_min = 3.0 / 4.0;
  c->crop_ratio_max = 4.0 / 3.0;
  c->flip_p = 0.5;
  c->brightness = 0.3;
  c->contrast = 0.3;
  c->saturation = 0.3;
  c->erase_p = 0.25;
  c->erase_area_min = 0.02;
  c->erase_area_max = 0.2;
}

/* Evaluation: the image resized to the input, nothing else. */
void
facet_augment_config_none (FacetAugmentConfig *c)
{
  memset (c, 0, sizeof *c);
  c->crop_scale_min = c->crop_scale_max = 1.0;
  c->crop_ratio_min = c->crop_ratio_max = 1.0;
}

static inline float
sample (const FacetImage *im,
        float             x,
        float             y,
        int               ch)
{
  int x0, y0, x1, y1;
  float fx, fy, a, b, c, d;

  x = CLAMP (x, 0.0f, (float) im->width - 1.0f);
  y = CLAMP (y, 0.0f, (float) im->height - 1.0f);
  x0 = (int) x;
  y0 = (int) y;
  x1 = MIN (x0 + 1, im->width - 1);
  y1 = MIN (y0 + 1, im->height - 1);
  fx = x - x0;
  fy = y - y0;
  a = im->data[(gsize) y0 * im->stride + 3 * x0 + ch];
  b = im->data[(gsize) y0 * im->stride + 3 * x1 + ch];
  c = im->data[(gsize) y1 * im->stride + 3 * x0 + ch];
  d = im->data[(gsize) y1 * im->stride + 3 * x1 + ch];
  return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

void
facet_augment_image (const FacetImage         *image,
                     const FacetModelConfig   *model,
                     const FacetAugmentConfig *cfg,
                     guint64                   seed,
                     float                    *out)
{
  int size = model->image_size;
  gsize plane = (gsize) size * size;
  FacetRng rng;
  double area, scale, ratio, cw, ch, cx, cy;
  gboolean flip;
  float bright = 1.0f, contrast = 1.0f, sat = 1.0f;

  g_return_if_fail (image != NULL && out != NULL);

  facet_rng_init (&rng, seed);
  area = (double) image->width * image->height;
  scale = facet_rng_range (&rng, cfg->crop_scale_min, cfg->crop_scale_max);
  ratio = exp (facet_rng_range (&rng, log (cfg->crop_ratio_min), log (cfg->crop_ratio_max)));
  cw = MIN (sqrt (area * scale * ratio), image->width);
  ch = MIN (sqrt (area * scale / ratio), image->height);
  cx = facet_rng_range (&rng, 0.0, image->width - cw);
  cy = facet_rng_range (&rng, 0.0, image->height - ch);
  flip = facet_rng_uniform (&rng) < cfg->flip_p;
  if (cfg->brightness > 0)
    bright = (float) facet_rng_range (&rng, 1 - cfg->brightness, 1 + cfg->brightness);
  if (cfg->contrast > 0)
    contrast = (float) facet_rng_range (&rng, 1 - cfg->contrast, 1 + cfg->contrast);
  if (cfg->saturation > 0)
    sat = (float) facet_rng_range (&rng, 1 - cfg->saturation, 1 + cfg->saturation);

  /* Resample the crop box to size x size with half-pixel centres. When the
   * whole image is taken at the input size, this reproduces the pixels. */
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      {
        float sx = (float) (cx + (x + 0.5) * cw / size - 0.5);
        float sy = (float) (cy + (y + 0.5) * ch / size - 0.5);
        gsize o = (gsize) y * size + (flip ? size - 1 - x : x);
        for (int c = 0; c < 3; c++)
          out[c * plane + o] = sample (image, sx, sy, c) / 255.0f;
      }

  if (bright != 1.0f || contrast != 1.0f || sat != 1.0f)
    {
      double mean_gray = 0.0;
      for (gsize i = 0; i < plane; i++)
        mean_gray += 0.299 * out[i] + 0.587 * out[plane + i] + 0.114 * out[2 * plane + i];
      mean_gray /= (double) plane;
      for (gsize i = 0; i < plane; i++)
        {
          float r = out[i] * bright, g = out[plane + i] * bright, b = out[2 * plane + i] * bright;
          float gray = 0.299f * r + 0.587f * g + 0.114f * b;
          r = gray + (r - gray) * sat;
          g = gray + (g - gray) * sat;
          b = gray + (b - gray) * sat;
          r = (float) (mean_gray * bright) + (r - (float) (mean_gray * bright)) * contrast;
          g = (float) (mean_gray * bright) + (g - (float) (mean_gray * bright)) * contrast;
          b = (float) (mean_gray * bright) + (b - (float) (mean_gray * bright)) * contrast;
          out[i] = CLAMP (r, 0.0f, 1.0f);
          out[plane + i] = CLAMP (g, 0.0f, 1.0f);
          out[2 * plane + i] = CLAMP (b, 0.0f, 1.0f);
        }
    }

  for (int c = 0; c < 3; c++)
    for (gsize i = 0; i < plane; i++)
      out[c * plane + i] = (out[c * plane + i] - model->mean[c]) / model->std[c];

  /* Random erasing (timm's "pixel" mode): a rectangle of normal noise in the
   * normalised input. */
  if (cfg->erase_p > 0 && facet_rng_uniform (&rng) < cfg->erase_p)
    for (int attempt = 0; attempt < 10; attempt++)
      {
        double ea = facet_rng_range (&rng, cfg->erase_area_min, cfg->erase_area_max) * plane;
        double er = exp (facet_rng_range (&rng, log (0.3), log (3.3)));
        int ew = (int) round (sqrt (ea * er)), eh = (int) round (sqrt (ea / er));
        int ex, ey;
        if (ew >= size || eh >= size || ew < 1 || eh < 1)
          continue;
        ex = (int) facet_rng_below (&rng, (guint32) (size - ew));
        ey = (int) facet_rng_below (&rng, (guint32) (size - eh));
        for (int c = 0; c < 3; c++)
          for (int y = ey; y < ey + eh; y++)
            for (int x = ex; x < ex + ew; x++)
              out[c * plane + (gsize) y * size + x] = (float) facet_rng_normal (&rng);
        break;
      }
}
