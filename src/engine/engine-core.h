/* engine-core.h — FacetEngine: a model on a backend, fed with images
 *
 * The engine turns face crops (FacetImage) into model input (resize,
 * normalise), runs batched forwards on its backend and returns results.
 *
 * Threads: a FacetEngine is single-thread, like the backend it owns (see
 * engine-backend.h): one thread at a time, or a lock around each call.
 * Ownership: facet_engine_new() takes a reference on @model; the get_
 * functions return borrowed pointers, valid while the engine lives;
 * facet_engine_predict_images() returns a new result (the caller's).
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
