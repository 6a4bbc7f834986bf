/* facet-train.h — the train module: fine-tuning with IAT, MAE pre-training
 *
 * Ownership, as in the rest of Facet (docs/architecture.md): `get` returns
 * a borrowed pointer, valid while its owner lives; `new`, `run`, `load`,
 * `collect`, `describe`, `_json` and `dup` return owned ones, each header
 * naming the function that frees them; arguments are borrowed for the call
 * unless a comment says otherwise. Callbacks get borrowed pointers, valid
 * during the call.
 *
 * Threads: training and pre-training runs block in the calling thread with
 * a CPU backend of their own, calling their callbacks from it; several runs
 * may go at once (each on its own model copy). A FacetOptimizer and a
 * FacetTrainDataset belong to one thread at a time; the metrics and the
 * augmentation are plain functions any thread may call.
 */
#pragma once

#include "train-augment.h"
#include "train-data.h"
#include "train-loop.h"
#include "train-metrics.h"
#include "train-optim.h"
#include "train-pretrain.h"
