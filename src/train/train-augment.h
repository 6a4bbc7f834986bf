/* train-augment.h — training augmentation of face crops, deterministic under a seed
 *
 * Threads: plain functions of their arguments, reentrant; any thread.
 * Ownership: everything is borrowed for the call; @out is the caller's.
 */
#pragma once

#include "core/facet-core.h"
#include "engine/engine-config.h"

G_BEGIN_DECLS

typedef struct
{
  double crop_scale_min;  /* random resized crop: area fraction range */
  double crop_scale_max;
  double crop_ratio_min;  /* aspect ratio range */
  double crop_ratio_max;
  double flip_p;          /* horizontal flip */
  double brightness;      /* colour jitter strengths (0 = off) */
  double contrast;
  double saturation;
  double erase_p;         /* random erasing probability */
  double erase_area_min;
  double erase_area_max;
} FacetAugmentConfig;

void facet_augment_config_init (FacetAugmentConfig *config);
void facet_augment_config_none (FacetAugmentConfig *config);

/* Writes the model input for @image (3 x size x size, normalised with the
 * model's mean and std) after augmentation drawn from @seed. */
void facet_augment_image       (const FacetImage         *image,
                                const FacetModelConfig   *model,
                                const FacetAugmentConfig *config,
                                guint64                   seed,
                                float                    *out);

G_END_DECLS
