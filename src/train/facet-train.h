/* facet-train.h — the train module: fine-tuning with IAT */
#pragma once

#include "train-augment.h"
#include "train-data.h"
#include "train-loop.h"
#include "train-metrics.h"
#include "train-optim.h"
#include "train-pretrain.h"
