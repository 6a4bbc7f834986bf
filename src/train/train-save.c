/* train-save.c — a fine-tuned model into its project */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <errno.h>

#include <glib/gstdio.h>

#include "train-save.h"

char *
facet_train_settings_json (const FacetTrainConfig *cfg,
                           const char             *mode_text,
                           gint64                  base_id)
{
  g_return_val_if_fail (cfg != NULL, NULL);

  return g_strdup_printf ("{\"mode\":\"%s\",\"iat_lambda\":%g,\"epochs\":%d,\"batch\":%d,"
                          "\"lr\":%g,\"layer_decay\":%g,\"weight_decay\":%g,\"drop_path\":%g,"
                          "\"clip_grad\":%g,\"augment\":%s,\"seed\":%" G_GINT64_FORMAT
                          ",\"val_fraction\":%g,\"base\":%" G_GINT64_FORMAT "}",
                          mode_text ? mode_text : "heads", cfg->iat_lambda, cfg->epochs, cfg->batch,
                          cfg->optim.base_lr, cfg->optim.layer_decay, cfg->optim.weight_decay,
                          cfg->drop_path, cfg->clip_grad, cfg->augment ? "true" : "false",
                          (gint64) cfg->seed, cfg->val_fraction, base_id);
}

/* The base model as an imported model of the project (no parent). */
static gint64
register_base (FacetStore *store,
               const char *path,
               FacetModel *model,
               GError    **error)
{
  const FacetModelConfig *c = facet_model_get_config (model);
  g_autofree char *config = facet_model_config_to_string (c);
  FacetStoreModelInfo info = { 0 };

  info.file = path;
  info.name = c->name;
  info.n_aus = c->n_aus;
  info.au_ids = c->au_ids;
  info.thresholds = c->thresholds;
  info.config_json = config;
  return facet_store_add_model (store, &info, error);
}

gint64
facet_train_save_model (FacetStore                  *store,
                        FacetModel                  *trained,
                        const FacetTrainConfig      *config,
                        const FacetTrainResult      *result,
                        FacetTrainDataset           *dataset,
                        const FacetTrainSaveOptions *options,
                        char                       **out_path,
                        GError                     **error)
{
  g_autofree char *name = NULL, *path = NULL, *settings = NULL;
  g_autofree char *metrics = NULL, *data_json = NULL, *config_json = NULL;
  const char *mode = options->mode_text ? options->mode_text : "heads";
  gint64 base_id = options->base_id, new_id;

  g_return_val_if_fail (store != NULL && trained != NULL && config != NULL, 0);
  g_return_val_if_fail (result != NULL && dataset != NULL && options != NULL, 0);

  if (base_id == 0)
    {
      base_id = register_base (store, options->base_path, options->base, error);
      if (base_id <= 0)
        return 0;
    }
  if (options->name != NULL)
    name = g_strdup (options->name);
  else
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
      name = g_strdup_printf ("finetune-%s-%s", mode, stamp);
      g_strdelimit (name, ":", '-');
    }

  path = facet_train_model_file (store, trained, name, error);
  if (path == NULL)
    return 0;
  settings = facet_train_settings_json (config, mode, base_id);
  {
    g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
    g_hash_table_insert (meta, (gpointer) "facet.training", settings);
    if (!facet_model_save (trained, path, meta, error))
      return 0;
  }
  metrics = facet_train_result_metrics_json (result, facet_model_get_config (trained));
  data_json = facet_train_dataset_describe (dataset, result->val_subjects, result->n_val_subjects);
  config_json = facet_model_config_to_string (facet_model_get_config (trained));
  {
    const FacetModelConfig *mc = facet_model_get_config (trained);
    FacetStoreModelInfo info = { 0 };

    info.file = path;
    info.name = name;
    info.parent_id = base_id;
    info.n_aus = mc->n_aus;
    info.au_ids = mc->au_ids;
    info.thresholds = mc->thresholds;
    info.config_json = config_json;
    info.settings_json = settings;
    info.metrics_json = metrics;
    info.data_json = data_json;
    new_id = facet_store_add_model (store, &info, error);
  }
  if (new_id <= 0)
    return 0;
  if (out_path != NULL)
    *out_path = g_steal_pointer (&path);
  return new_id;
}/**
 * facet_train_model_file:
 *
 * Where a model named @name goes in @store's project: models/NAME.safetensors
 * (slashes in the name made underscores), the folder created; @model takes
 * the name. NULL with @error set when the folder cannot be made.
 */
char *
facet_train_model_file (FacetStore  *store,
                        FacetModel  *model,
                        const char  *name,
                        GError     **error)
{
  g_autofree char *dir = g_build_filename (facet_store_get_folder (store), "models", NULL);
  g_autofree char *file = g_strconcat (name, ".safetensors", NULL);
  FacetModelConfig *mc = facet_model_get_config_mut (model);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "%s: cannot create the folder (%s)", dir, g_strerror (saved));
      return NULL;
    }
  g_strdelimit (file, "/\\", '_');
  g_free (mc->name);
  mc->name = g_strdup (name);
  return g_build_filename (dir, file, NULL);
}


