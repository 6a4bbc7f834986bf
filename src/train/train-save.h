/* train-save.h — a fine-tuned model into its project: the file in the
 * project's models folder and its row with parent, settings, data and
 * metrics (shared by facet-cli finetune and the app)
 *
 * Threads: any thread (the store is thread-safe); @trained is changed
 * (named), so only its owner's thread. Ownership: everything is borrowed
 * for the call; returned strings are new (transfer full, g_free()).
 */
#pragma once

#include "store/facet-store.h"
#include "train-data.h"
#include "train-loop.h"

G_BEGIN_DECLS

typedef struct
{
  const char *name;       /* NULL: "finetune-MODE-YYYYmmdd-HHMMSS" */
  const char *mode_text;  /* "heads", "last:K" or "full", as the user gave it */
  FacetModel *base;       /* the model training started from */
  const char *base_path;  /* its file */
  gint64      base_id;    /* its row in the project, 0: registered here as imported */
} FacetTrainSaveOptions;

/* The training settings as the JSON object stored with the model (file
 * metadata "facet.training" and the row's settings). */
char   *facet_train_settings_json (const FacetTrainConfig      *config,
                                   const char                  *mode_text,
                                   gint64                       base_id);

/* Names @trained, saves it as models/NAME.safetensors next to the project
 * (the settings in its metadata) and adds its row with @base as parent.
 * Returns the new model's id (0 on error); @out_path (nullable) gets the
 * file written. */
gint64  facet_train_save_model    (FacetStore                  *store,
                                   FacetModel                  *trained,
                                   const FacetTrainConfig      *config,
                                   const FacetTrainResult      *result,
                                   FacetTrainDataset           *dataset,
                                   const FacetTrainSaveOptions *options,
                                   char                       **out_path,
                                   GError                     **error);

/* models/NAME.safetensors in @store's project, the folder created; @model
 * takes @name. */
char   *facet_train_model_file    (FacetStore                  *store,
                                   FacetModel                  *model,
                                   const char                  *name,
                                   GError                     **error);

G_END_DECLS
