/* facet-engine.h — the engine module: models, checkpoints, backends */
#pragma once

#include "engine-backend.h"
#include "engine-config.h"
#include "engine-core.h"
#include "engine-error.h"
#include "engine-explain.h"
#include "engine-model.h"
#include "engine-tensor.h"
