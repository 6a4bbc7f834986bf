/* engine-error.h — GError domain of the engine */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FACET_ENGINE_ERROR (facet_engine_error_quark ())

typedef enum
{
  FACET_ENGINE_ERROR_IO,          /* cannot read or write the file */
  FACET_ENGINE_ERROR_FORMAT,      /* not a model file, or a damaged one */
  FACET_ENGINE_ERROR_UNSUPPORTED, /* a valid file using something we refuse (opcode, dtype) */
  FACET_ENGINE_ERROR_MISSING,     /* a tensor the model needs is absent */
  FACET_ENGINE_ERROR_SHAPE,       /* a tensor's shape does not fit the configuration */
  FACET_ENGINE_ERROR_VALUE,       /* NaN or infinite weights */
  FACET_ENGINE_ERROR_CONFIG,      /* an impossible or inconsistent configuration */
  FACET_ENGINE_ERROR_INVALID,     /* a bad argument (batch size, image size, ...) */
  FACET_ENGINE_ERROR_BACKEND,     /* the backend is not available on this machine */
  FACET_ENGINE_ERROR_OUT_OF_MEMORY,
  FACET_ENGINE_ERROR_DEVICE_LOST,
} FacetEngineError;

GQuark facet_engine_error_quark (void);

G_END_DECLS
