/* engine-config.h — what a model is: FacetModelConfig
 *
 * The configuration travels with the weights (safetensors __metadata__), so
 * a model file alone says how to crop, normalise and read out faces.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "core/core-facs.h"

G_BEGIN_DECLS

typedef enum
{
  FACET_READOUT_GLOBAL_POOL, /* mean of patch tokens -> fc_norm -> head */
  FACET_READOUT_CLS_TOKEN,   /* norm(x)[class token] -> head */
} FacetReadout;

typedef struct _FacetModelConfig FacetModelConfig;

struct _FacetModelConfig
{
  char         *name;        /* free text, may be NULL */
  char         *dataset;     /* e.g. "BP4D", may be NULL */
  int           image_size;  /* input side, pixels */
  int           patch_size;
  int           in_chans;
  int           dim;
  int           depth;
  int           heads;
  int           mlp_hidden;
  float         ln_eps;
  FacetReadout  readout;
  int           n_aus;
  int          *au_ids;      /* FACS numbers, n_aus of them */
  float        *thresholds;  /* per-AU decision thresholds, n_aus of them */
  int           n_subjects;  /* outputs of ID_head, 0 when absent */
  float         mean[3];
  float         std[3];
  FacetCropKind crop;
  float         crop_margin; /* fraction of the box added on each side (box crops) */
  float         align_template[10]; /* eye centres, nose tip, mouth corners in [0,1] */
  /* The MAE decoder of a pre-training model (decoder_dim 0: none). Its
   * blocks are the encoder's kind, with MLP width 4 x decoder_dim. */
  int           decoder_dim;
  int           decoder_depth;
  int           decoder_heads;
};

FacetModelConfig *facet_model_config_new        (void);
FacetModelConfig *facet_model_config_copy       (const FacetModelConfig *config);
void              facet_model_config_free       (FacetModelConfig       *config);
void              facet_model_config_set_preset (FacetModelConfig       *config,
                                                 const char             *size);
void              facet_model_config_set_aus    (FacetModelConfig       *config,
                                                 const int              *au_ids,
                                                 int                     n_aus);
gboolean          facet_model_config_validate   (const FacetModelConfig *config,
                                                 GError                **error);
int               facet_model_config_grid       (const FacetModelConfig *config);
int               facet_model_config_tokens     (const FacetModelConfig *config);
int               facet_model_config_find_au    (const FacetModelConfig *config,
                                                 int                     au);

JsonNode         *facet_model_config_to_json    (const FacetModelConfig *config);
FacetModelConfig *facet_model_config_from_json  (JsonNode               *node,
                                                 GError                **error);
char             *facet_model_config_to_string  (const FacetModelConfig *config);
FacetModelConfig *facet_model_config_from_string (const char            *text,
                                                 GError                **error);

const char       *facet_readout_to_string       (FacetReadout            readout);
/* The face module's view of the crop fields (crop, image_size,
 * crop_margin, align_template). */
FacetCropSpec     facet_model_config_crop       (const FacetModelConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetModelConfig, facet_model_config_free)

G_END_DECLS
