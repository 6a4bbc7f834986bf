/* engine-model.h — a model: configuration plus fp32 weights
 *
 * facet_model_load() reads safetensors and PyTorch .pth files (zip or legacy
 * layout), finds the state dict, infers what the file does not say, checks
 * every tensor against the configuration and packs the weights as
 * contiguous fp32, once. fp32 safetensors are used in place from the mapped
 * file.
 *
 * Ownership: a FacetModel is reference counted (atomically); load, new_random
 * and copy return a new reference. Every get_ function returns a pointer
 * borrowed from the model (config, path, notes, the tensor array, a tensor,
 * its weights), valid while the model lives and until it is changed.
 * facet_model_set_tensor() takes ownership of @tensor.
 *
 * Threads: once loaded, a model is read-only and may be shared by any
 * number of threads and backends. The changing functions (get_config_mut,
 * reset_head, set_tensor, make_writable; the optimiser writing weights in
 * place during training) are for a model that one thread owns: fine-tuning
 * works on its own copy (facet_model_copy()), pre-training on a model it
 * loaded itself.
 */
#pragma once

#include "engine-config.h"
#include "engine-tensor.h"

G_BEGIN_DECLS

typedef struct _FacetModel FacetModel;

typedef struct
{
  const int  *au_ids;      /* override or supply the AU list */
  int         n_aus;
  const char *dataset;     /* "BP4D", "BP4D+", "DISFA": sets the AU list */
  int         heads;       /* override the head count (not in the file) */
  const char *readout;     /* "global-pool" or "cls-token" */
  const char *crop;        /* "box", "aligned", "none" */
  gboolean    create_head; /* add a fresh AU head when the file has none */
  guint64     seed;        /* for created heads */
  gboolean    keep_decoder;  /* keep an MAE decoder (pre-training); else it is ignored */
  int         decoder_heads; /* the decoder's head count (not in the file) */
} FacetModelLoadOptions;

typedef enum
{
  FACET_MODEL_FORMAT_SAFETENSORS,
  FACET_MODEL_FORMAT_PTH_ZIP,
  FACET_MODEL_FORMAT_PTH_LEGACY,
  FACET_MODEL_FORMAT_NEW,
} FacetModelFormat;

FacetModel             *facet_model_load              (const char                  *path,
                                                       const FacetModelLoadOptions *options,
                                                       GError                     **error);
FacetModel             *facet_model_new_random        (const FacetModelConfig      *config,
                                                       guint64                      seed,
                                                       GError                     **error);
FacetModel             *facet_model_copy              (FacetModel                  *model);
FacetModel             *facet_model_ref               (FacetModel                  *model);
void                    facet_model_unref             (FacetModel                  *model);

const FacetModelConfig *facet_model_get_config        (FacetModel                  *model);
FacetModelConfig       *facet_model_get_config_mut    (FacetModel                  *model);
FacetModelFormat        facet_model_get_format        (FacetModel                  *model);
const char             *facet_model_get_path          (FacetModel                  *model);
/* NULL-terminated. */
const char * const     *facet_model_get_notes         (FacetModel                  *model);
GPtrArray              *facet_model_get_tensors       (FacetModel                  *model);
const FacetTensor      *facet_model_get_tensor        (FacetModel                  *model,
                                                       const char                  *name);
float                  *facet_model_get_weights       (FacetModel                  *model,
                                                       const char                  *name);
gint64                  facet_model_count_parameters  (FacetModel                  *model);
void                    facet_model_reset_head        (FacetModel                  *model,
                                                       const int                   *au_ids,
                                                       int                          n_aus,
                                                       guint64                      seed);
void                    facet_model_set_tensor        (FacetModel                  *model,
                                                       FacetTensor                 *tensor);
gboolean                facet_model_make_writable     (FacetModel                  *model,
                                                       GError                     **error);
gboolean                facet_model_save              (FacetModel                  *model,
                                                       const char                  *path,
                                                       GHashTable                  *extra_metadata,
                                                       GError                     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetModel, facet_model_unref)

G_END_DECLS
