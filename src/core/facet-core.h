/* facet-core.h — the core module: errors, FACS vocabulary, images, progress, worker pool */
#pragma once

#include "core-error.h"
#include "core-facs.h"
#include "core-image.h"
#include "core-pool.h"
#include "core-progress.h"
#include "core-rng.h"
#include "core-util.h"
