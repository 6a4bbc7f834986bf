/* train-pretrain-save.c — a pre-trained model into its project: the file in
 * the project's models folder and its row, kind "pre-trained" (shared by
 * facet-cli pretrain and the app's fine-tuning dialog)
 */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <errno.h>
#include <math.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "train-pretrain.h"
#include "train-save.h"

static void
append_float (GString *s,
              double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    g_string_append (s, "null");
  else
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.9g", value));
}

static char *
settings_json (const FacetPretrainConfig      *cfg,
               const FacetPretrainSaveOptions *options,
               guint                           n_epochs)
{
  g_autoptr (JsonNode) desc = json_node_init_string (json_node_alloc (),
                                                     options->base_desc ? options->base_desc : "");
  g_autofree char *base = json_to_string (desc, FALSE);

  return g_strdup_printf ("{\"kind\":\"pre-trained\",\"epochs\":%u,\"batch\":%u,"
                          "\"mask_ratio\":%g,\"blr\":%g,\"lr\":%g,\"weight_decay\":%g,"
                          "\"warmup_epochs\":%g,\"augment\":%s,\"norm_pix\":%s,"
                          "\"stride\":%u,\"seed\":%" G_GUINT64_FORMAT ",\"base\":%s}",
                          n_epochs, cfg->batch, cfg->mask_ratio, cfg->blr,
                          facet_pretrain_peak_lr (cfg), cfg->weight_decay, cfg->warmup_epochs,
                          cfg->augment ? "true" : "false", cfg->norm_pix ? "true" : "false",
                          MAX (options->stride, 1), cfg->seed, base);
}

static char *
metrics_json (GArray *epochs)
{
  GString *s = g_string_new ("{\"loss\":");

  append_float (s, g_array_index (epochs, FacetPretrainEpoch, epochs->len - 1).loss);
  g_string_append (s, ",\"losses\":[");
  for (guint i = 0; i < epochs->len; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      append_float (s, g_array_index (epochs, FacetPretrainEpoch, i).loss);
    }
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}

gint64
facet_pretrain_save_model (FacetStore                     *store,
                           FacetModel                     *model,
                           const FacetPretrainConfig      *cfg,
                           GArray                         *epochs,
                           const FacetPretrainSaveOptions *options,
                           char                          **out_path,
                           GError                        **error)
{
  g_autofree char *name = NULL, *path = NULL, *settings = NULL, *config = NULL;
  g_autofree char *metrics = NULL, *data = NULL;
  FacetStoreModelInfo info = { 0 };
  gint64 id;

  g_return_val_if_fail (store != NULL && model != NULL && cfg != NULL, 0);
  g_return_val_if_fail (epochs != NULL && epochs->len > 0 && options != NULL, 0);

  if (options->name != NULL)
    name = g_strdup (options->name);
  else
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
      name = g_strdup_printf ("pretrain-%s", stamp);
    }
  path = facet_train_model_file (store, model, name, error);
  if (path == NULL)
    return 0;
  settings = settings_json (cfg, options, epochs->len);
  {
    g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
    g_hash_table_insert (meta, (gpointer) "facet.training", settings);
    /* The file is written under a temporary name and renamed when whole. */
    if (!facet_model_save (model, path, meta, error))
      return 0;
  }
  metrics = metrics_json (epochs);
  data = g_strdup_printf ("{\"frames\":%u,\"skipped\":%u,\"stride\":%u}", options->n_frames,
                          options->skipped, MAX (options->stride, 1));
  config = facet_model_config_to_string (facet_model_get_config (model));
  info.file = path;
  info.name = name;
  info.parent_id = options->base_id;
  info.config_json = config;
  info.settings_json = settings;
  info.metrics_json = metrics;
  info.data_json = data;
  id = facet_store_add_model (store, &info, error);
  if (id > 0 && out_path != NULL)
    *out_path = g_steal_pointer (&path);
  return id;
}
