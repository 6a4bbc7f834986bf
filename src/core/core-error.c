#define G_LOG_DOMAIN "facet-core"

#include "config.h"

#include "core-error.h"

G_DEFINE_QUARK (facet-core-error-quark, facet_core_error)
