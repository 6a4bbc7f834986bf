/* facet-engine.h — the engine module: models, checkpoints, backends
 *
 * Ownership: `get` returns a borrowed pointer (valid while its owner lives,
 * never freed by the caller); `new`, `load`, `dup`, `copy` and `describe`
 * return owned ones (transfer full), freed by the matching `free`/`unref`;
 * `const char *` results are borrowed or static. Each header says where it
 * differs (facet_engine_new() takes a reference on its model).
 *
 * Threads: a FacetModel is reference counted (atomic) and read-only once
 * loaded, so any threads and backends may share it; training changes only
 * its own writable copy (facet_model_make_writable()). A FacetEngine or a
 * FacetBackend is single-thread (scratch buffers reused by every call; see
 * engine-backend.h): one thread at a time, or a lock around each call.
 * FacetGrads and FacetForwardResult belong to the thread using them.
 */
#pragma once

#include "engine-backend.h"
#include "engine-config.h"
#include "engine-core.h"
#include "engine-error.h"
#include "engine-explain.h"
#include "engine-model.h"
#include "engine-tensor.h"
