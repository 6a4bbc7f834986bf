/* core-error.h — GError domain of the core module
 *
 * Each module has its own domain (FACET_ENGINE_ERROR, FACET_MEDIA_ERROR, ...)
 * with codes a caller can act on; messages name the file, frame or key.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FACET_CORE_ERROR (facet_core_error_quark ())

typedef enum
{
  FACET_CORE_ERROR_IO,          /* a file could not be read or written */
  FACET_CORE_ERROR_FORMAT,      /* the file is not what it claims to be, or damaged */
  FACET_CORE_ERROR_UNSUPPORTED, /* a valid file using a feature we do not handle */
  FACET_CORE_ERROR_INVALID,     /* an argument out of range */
  FACET_CORE_ERROR_CANCELLED,
} FacetCoreError;

GQuark facet_core_error_quark (void);

G_END_DECLS
