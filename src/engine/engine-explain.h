/* engine-explain.h — evidence maps on demand: where the model's evidence
 * for an AU lies in one image, by five methods
 *
 * Every map is a value per patch of the model's grid (row-major, grid x
 * grid; occlusion and neutral with FacetMapOptions.cells > 1 per cell of
 * a finer grid, facet_map_side), raw and unnormalised, in the method's own
 * unit:
 *   ROLLOUT           share of the readout's attention (>= 0; the same for every AU)
 *   LAST_LAYER        the AU logit's exact share per final patch token (signed; the
 *                     terms plus a constant sum to the logit)
 *   GRAD_ATTENTION    Chefer et al.'s relevance (>= 0)
 *   INPUT_X_GRADIENT  patch embedding times dlogit/dembedding, summed over channels (signed)
 *   OCCLUSION         probability (or logit) of the image minus that of the image with the
 *                     patch hidden (signed: > 0 where hiding the patch lowers the AU)
 *   NEUTRAL           occlusion against a neutral frame of the same person
 *                     (FacetMapOptions.reference, required), both ways: the mean of the
 *                     drop when the neutral frame's patch is put into the image and the
 *                     neutral frame's rise when the image's patch is put into it; how the
 *                     AU's probability follows each patch's change from the person at rest
 * Displays normalise them (facet_map_normalise).
 */
#pragma once

#include "core/facet-core.h"
#include "engine-core.h"

G_BEGIN_DECLS

/* What hides a patch for occlusion (and for the deletion test). */
typedef enum
{
  FACET_OCCLUSION_FILL_MEAN,       /* the normalisation's mean colour (0 in model input) */
  FACET_OCCLUSION_FILL_IMAGE_MEAN, /* the image's own mean colour (the default) */
  FACET_OCCLUSION_FILL_PATCH_MEAN, /* the patch's own mean colour (keeps its brightness) */
  FACET_OCCLUSION_FILL_REFERENCE,  /* the same patch of a reference image of the same person
                                      (FacetMapOptions.reference: a neutral frame), so that a
                                      patch counts by how it differs from the person at rest */
} FacetOcclusionFill;

typedef struct
{
  FacetOcclusionFill fill;
  int                window;      /* side of the hidden square, in cells (1: one cell) */
  int                cells;       /* occlusion and neutral: cells per patch side (1, the
                                     default: a value per patch; 2: per quarter patch, a map
                                     of (2 grid)^2 values; at most 4); other methods: 1 only */
  gboolean           probability; /* occlusion measures the probability's drop (the default),
                                     else the logit's */
  guint              batch;       /* occluded images per forward */
  const float       *reference;   /* [3, size, size] normalised model input, prepared as the
                                     image is; needed by FACET_OCCLUSION_FILL_REFERENCE only */
} FacetMapOptions;

void        facet_map_options_init      (FacetMapOptions      *options);

/* Stable identifiers ("rollout", "last-layer", "grad-attention",
 * "input-x-gradient", "occlusion", "neutral") for files, settings and the CLI. */
const char *facet_map_method_to_string  (FacetMapMethod        method);
gboolean    facet_map_method_from_string (const char          *text,
                                          FacetMapMethod       *method);
/* A short English name for legends (the app translates its own). */
const char *facet_map_method_get_title  (FacetMapMethod        method);
/* FALSE for rollout, which is the same for every AU. */
gboolean    facet_map_method_is_per_au  (FacetMapMethod        method);
/* TRUE where a map costs many forwards (occlusion, neutral): run it off the
 * UI thread with progress. */
gboolean    facet_map_method_is_slow    (FacetMapMethod        method);

/* The side of the map facet_engine_explain writes: the model's grid times
 * @options' cells (NULL: the defaults). */
int         facet_map_side              (const FacetModelConfig *config,
                                         const FacetMapOptions *options);

/**
 * facet_engine_explain:
 * @input: one normalised image, [3, size, size] (facet_engine_prepare_image)
 * @aus: (nullable): indices into the model's AU list; NULL: every AU
 * @n_aus: the length of @aus (ignored when @aus is NULL)
 * @options: (nullable): NULL for the defaults
 * @maps: [n, side * side], n the number of AUs asked for, side
 *   facet_map_side ()
 *
 * Rollout and the last-layer split come from one forward on any backend;
 * occlusion and neutral from batched forwards on any backend (neutral
 * needs @options with a reference); the gradient methods
 * need a backend with a backward pass (the CPU). @progress is called from
 * this thread; @cancellable is checked between forwards.
 */
gboolean    facet_engine_explain        (FacetEngine           *engine,
                                         const float           *input,
                                         FacetMapMethod         method,
                                         const int             *aus,
                                         int                    n_aus,
                                         const FacetMapOptions *options,
                                         float                 *maps,
                                         FacetProgressFunc      progress,
                                         gpointer               progress_data,
                                         GCancellable          *cancellable,
                                         GError               **error);

/* Hides the patches with @hide[p] set (grid x grid) in a copy of @input,
 * written to @output (all [3, size, size], normalised model input).
 * @reference is read for FACET_OCCLUSION_FILL_REFERENCE only (and must not
 * be NULL then). */
void        facet_map_hide_patches      (const FacetModelConfig *config,
                                         const float           *input,
                                         const gboolean        *hide,
                                         FacetOcclusionFill     fill,
                                         const float           *reference,
                                         float                 *output);
/* The same on a grid of @cells x @cells cells per patch: @hide has
 * (grid x cells)^2 entries; a patch-mean fill takes the cell's mean. */
void        facet_map_hide_cells        (const FacetModelConfig *config,
                                         const float           *input,
                                         const gboolean        *hide,
                                         int                    cells,
                                         FacetOcclusionFill     fill,
                                         const float           *reference,
                                         float                 *output);

/* Scales @map (n values) for display: divided by its largest absolute
 * value, so it lies in [-1, 1] with 1 at the strongest evidence for the
 * AU; an all-zero map stays zero. */
void        facet_map_normalise         (float                 *map,
                                         int                    n);

G_END_DECLS
