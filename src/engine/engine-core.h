/* engine-core.h — FacetEngine: a model on a backend, fed with images
 *
 * The engine turns face crops (FacetImage) into model input (resize,
 * normalise), runs batched forwards on its backend and returns results.
 */
#pragma once

#include "core/facet-core.h"
#include "engine-backend.h"

G_BEGIN_DECLS

typedef struct _FacetEngine FacetEngine;

FacetEngine        *facet_engine_new            (FacetModel        *model,
                                                 const char        *backend,
                                                 GError           **error);
void                facet_engine_free           (FacetEngine       *engine);
FacetModel         *facet_engine_get_model      (FacetEngine       *engine);
FacetBackend       *facet_engine_get_backend    (FacetEngine       *engine);
const char         *facet_engine_get_notice     (FacetEngine       *engine);
void                facet_engine_prepare_image  (FacetEngine       *engine,
                                                 const FacetImage  *image,
                                                 float             *out);
gboolean            facet_engine_forward        (FacetEngine       *engine,
                                                 const float       *input,
                                                 guint              batch,
                                                 FacetForwardFlags  flags,
                                                 FacetForwardResult *result,
                                                 GError           **error);
FacetForwardResult *facet_engine_predict_images (FacetEngine       *engine,
                                                 FacetImage       **images,
                                                 guint              n_images,
                                                 FacetForwardFlags  flags,
                                                 GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetEngine, facet_engine_free)

G_END_DECLS
