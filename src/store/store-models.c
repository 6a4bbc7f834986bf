/* store-models.c — model rows (file, parent, configuration, training
 * settings, metrics, data) and analysis runs */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "core/facet-core.h"
#include "store-private.h"

void
facet_store_model_free (FacetStoreModel *model)
{
  if (model == NULL)
    return;
  g_free (model->name);
  g_free (model->file);
  g_free (model->sha256);
  g_free (model->au_ids);
  g_free (model->thresholds);
  g_free (model->config_json);
  g_free (model->settings_json);
  g_free (model->metrics_json);
  g_free (model->data_json);
  g_free (model);
}

void
facet_store_run_free (FacetStoreRun *run)
{
  if (run == NULL)
    return;
  g_free (run->status);
  g_free (run->settings_json);
  g_free (run);
}

int
facet_store_model_find_au (const FacetStoreModel *model,
                           int                    au)
{
  for (int i = 0; i < model->n_aus; i++)
    if (model->au_ids[i] == au)
      return i;
  return -1;
}

/* Settings that record MAE pre-training ("kind": "pre-trained"). */
static gboolean
settings_pretrained (const char *settings_json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;

  if (settings_json == NULL || !json_parser_load_from_data (parser, settings_json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  o = json_node_get_object (json_parser_get_root (parser));
  return g_strcmp0 (json_object_get_string_member_with_default (o, "kind", NULL),
                    "pre-trained") == 0;
}

/* What made the model: the "kind" its settings record ("pre-trained" for MAE
 * pre-training), else "fine-tuned" when it has a parent, else "imported". */
const char *
facet_store_model_kind (const FacetStoreModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  if (settings_pretrained (model->settings_json))
    return "pre-trained";
  return model->parent_id > 0 ? "fine-tuned" : "imported";
}

/* JSON text for a column: "{}" for NULL, refused when not JSON. */
static gboolean
check_json (const char  *what,
            const char  *text,
            const char **out,
            GError     **error)
{
  g_autoptr (JsonParser) parser = NULL;

  if (text == NULL || *text == '\0')
    {
      *out = "{}";
      return TRUE;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, -1, NULL))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "the model's %s is not valid JSON", what);
      return FALSE;
    }
  *out = text;
  return TRUE;
}

static char *
format_floats (const float *values,
               int          n)
{
  GString *s = g_string_new (NULL);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (int i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.9g", values ? values[i] : 0.5));
    }
  return g_string_free (s, FALSE);
}

static float *
parse_floats (const char *text,
              int         n)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  float *out = g_new (float, MAX (n, 1));

  for (int i = 0; i < n; i++)
    {
      double v = 0.5;
      if (i < (int) g_strv_length (parts))
        {
          char *end = NULL;
          v = g_ascii_strtod (parts[i], &end);
          if (end == parts[i] || !isfinite (v) || v <= 0.0 || v >= 1.0)
            v = 0.5;
        }
      out[i] = (float) v;
    }
  return out;
}

gint64
facet_store_add_model (FacetStore                *store,
                       const FacetStoreModelInfo *info,
                       GError                   **error)
{
  g_autofree char *abs = NULL, *sha = NULL, *file = NULL, *name = NULL, *aus = NULL;
  g_autofree char *thresholds = NULL;
  const char *config, *settings, *metrics, *data;
  gint64 id = 0, n;

  g_return_val_if_fail (store != NULL && info != NULL && info->file != NULL, 0);

  /* A pre-trained encoder has no head yet: it is a base for fine-tuning. */
  if ((info->n_aus < 1 || info->au_ids == NULL) && !settings_pretrained (info->settings_json))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: a model in a project needs an AU head", info->file);
      return 0;
    }
  for (int i = 0; i < info->n_aus; i++)
    if (!store_au_valid (info->au_ids[i])
        || (info->thresholds != NULL
            && !(info->thresholds[i] > 0.0f && info->thresholds[i] < 1.0f)))
      {
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                     "%s: output %d has AU %d or threshold outside (0, 1)", info->file, i,
                     info->au_ids[i]);
        return 0;
      }
  if (!check_json ("configuration", info->config_json, &config, error)
      || !check_json ("settings", info->settings_json, &settings, error)
      || !check_json ("metrics", info->metrics_json, &metrics, error)
      || !check_json ("data description", info->data_json, &data, error))
    return 0;
  if (info->name != NULL && (!g_utf8_validate (info->name, -1, NULL) || strlen (info->name) > 4096))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: the model name must be UTF-8 text up to 4096 bytes", info->file);
      return 0;
    }

  abs = g_canonicalize_filename (info->file, NULL);
  if (!g_utf8_validate (abs, -1, NULL))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: the path is not valid UTF-8; rename the file", info->file);
      return 0;
    }
  if (info->sha256 != NULL)
    sha = g_strdup (info->sha256);
  else if ((sha = facet_file_sha256 (abs, error)) == NULL)
    return 0;
  /* Inside the project folder the path is kept relative so a moved project
   * keeps its models; elsewhere it stays absolute. */
  if (g_str_has_prefix (abs, store->folder) && abs[strlen (store->folder)] == G_DIR_SEPARATOR)
    file = g_strdup (abs + strlen (store->folder) + 1);
  else
    file = g_strdup (abs);
  if (info->name != NULL && *info->name != '\0')
    name = g_strdup (info->name);
  else
    name = g_path_get_basename (abs);
  aus = facet_format_int_list (info->au_ids, (guint) info->n_aus);
  thresholds = format_floats (info->thresholds, info->n_aus);

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  n = store_query (store, "SELECT id FROM models WHERE sha256 = ? ORDER BY id LIMIT 1",
                   store_row_int64, &id, error, STORE_TEXT (sha));
  if (n < 0)
    goto fail;
  if (n > 0)
    {
      store_rollback (store);
      goto out;
    }
  if (info->parent_id != 0)
    {
      n = store_query (store, "SELECT 1 FROM models WHERE id = ?", NULL, NULL, error,
                       STORE_INT (info->parent_id));
      if (n == 0)
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                     "%s: parent model %" G_GINT64_FORMAT " is not in the project",
                     info->file, info->parent_id);
      if (n <= 0)
        goto fail;
    }
  if (!store_query_run (store,
                        "INSERT INTO models (name, file, parent_id, created, aus, config, metrics, "
                        "sha256, thresholds, settings, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        error, STORE_TEXT (name), STORE_TEXT (file),
                        info->parent_id != 0 ? STORE_INT (info->parent_id) : STORE_NULL,
                        STORE_REAL (store_time_now ()), STORE_TEXT (aus), STORE_TEXT (config),
                        STORE_TEXT (metrics), STORE_TEXT (sha), STORE_TEXT (thresholds),
                        STORE_TEXT (settings), STORE_TEXT (data)))
    goto fail;
  id = sqlite3_last_insert_rowid (store->db);
  if (!store_note_change (store, FACET_STORE_CHANGE_MODELS, 0, 0, -1, error))
    goto fail;
  if (!store_commit (store, error))
    id = 0;
  goto out;

fail:
  id = 0;
  store_rollback (store);
out:
  store_unlock_and_notify (store);
  return id;
}

#define MODEL_COLUMNS \
  "id, name, file, sha256, parent_id, created, aus, thresholds, config, settings, metrics, data " \
  "FROM models"

static FacetStoreModel *
model_from_row (sqlite3_stmt *st)
{
  FacetStoreModel *m = g_new0 (FacetStoreModel, 1);

  m->id = sqlite3_column_int64 (st, 0);
  m->name = g_strdup (store_column_text (st, 1));
  m->file = g_strdup (store_column_text (st, 2));
  m->sha256 = g_strdup (store_column_text (st, 3));
  m->parent_id = sqlite3_column_int64 (st, 4);
  m->created = sqlite3_column_double (st, 5);
  if (!store_parse_au_list (store_column_text (st, 6), &m->au_ids, &m->n_aus))
    {
      m->au_ids = NULL;
      m->n_aus = 0;
    }
  m->thresholds = parse_floats (store_column_text (st, 7), m->n_aus);
  m->config_json = g_strdup (store_column_text (st, 8));
  m->settings_json = g_strdup (store_column_text (st, 9));
  m->metrics_json = g_strdup (store_column_text (st, 10));
  m->data_json = g_strdup (store_column_text (st, 11));
  return m;
}

FacetStoreModel *
facet_store_get_model (FacetStore *store,
                       gint64      model_id,
                       GError    **error)
{
  FacetStoreModel *m;

  g_return_val_if_fail (store != NULL, NULL);

  m = store_get_by_id (store, "SELECT " MODEL_COLUMNS " WHERE id = ?", model_id, "model",
                       (gpointer (*) (sqlite3_stmt *)) model_from_row, error);
  if (m != NULL && m->n_aus == 0 && !settings_pretrained (m->settings_json))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                   "%s: model %" G_GINT64_FORMAT " has a damaged AU list", store->path, model_id);
      facet_store_model_free (m);
      return NULL;
    }
  return m;
}

static gboolean
model_row (sqlite3_stmt *row,
           gpointer      data,
           GError      **error)
{
  g_ptr_array_add (data, model_from_row (row));
  return TRUE;
}

GPtrArray *
facet_store_list_models (FacetStore *store,
                         GError    **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_model_free);

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store, "SELECT " MODEL_COLUMNS " ORDER BY id", model_row, out, error) < 0)
    return NULL;
  return g_steal_pointer (&out);
}

gint64
facet_store_latest_model (FacetStore *store,
                          GError    **error)
{
  gint64 id = 0;

  g_return_val_if_fail (store != NULL, -1);
  /* Pre-trained encoders (no AU list) cannot analyse: never the default. */
  if (store_query (store, "SELECT id FROM models WHERE aus != '' ORDER BY created DESC, id DESC "
                   "LIMIT 1", store_row_int64, &id, error) < 0)
    return -1;
  return id;
}

gint64
facet_store_find_model (FacetStore *store,
                        const char *sha256,
                        GError    **error)
{
  gint64 id = 0;

  g_return_val_if_fail (store != NULL && sha256 != NULL, -1);
  if (store_query (store, "SELECT id FROM models WHERE sha256 = ? ORDER BY id LIMIT 1",
                   store_row_int64, &id, error, STORE_TEXT (sha256)) < 0)
    return -1;
  return id;
}

char *
facet_store_model_path (FacetStore            *store,
                        const FacetStoreModel *model)
{
  g_return_val_if_fail (store != NULL && model != NULL, NULL);
  return g_canonicalize_filename (model->file, store->folder);
}

gboolean
facet_store_set_model_metrics (FacetStore *store,
                               gint64      model_id,
                               const char *metrics_json,
                               GError    **error)
{
  const char *metrics;
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_json ("metrics", metrics_json, &metrics, error))
    return FALSE;

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  ok = store_query_run (store, "UPDATE models SET metrics = ? WHERE id = ?", error,
                        STORE_TEXT (metrics), STORE_INT (model_id));
  if (ok && sqlite3_changes (store->db) == 0)
    {
      store_set_not_found (store, "model", model_id, error);
      ok = FALSE;
    }
  ok = ok && store_note_change (store, FACET_STORE_CHANGE_MODELS, 0, 0, -1, error);
  if (ok)
    ok = store_commit (store, error);
  else
    store_rollback (store);
out:
  store_unlock_and_notify (store);
  return ok;
}

float *
store_model_thresholds (const FacetStoreModel *model,
                        float                  threshold)
{
  float *t = g_new (float, MAX (model->n_aus, 1));

  for (int i = 0; i < model->n_aus; i++)
    t[i] = isnan (threshold) ? model->thresholds[i] : threshold;
  return t;
}

/* ---- Runs --------------------------------------------------------------------------- */

gint64
facet_store_begin_run (FacetStore *store,
                       gint64      model_id,
                       const char *settings_json,
                       GError    **error)
{
  const char *settings;
  gint64 id = 0;

  g_return_val_if_fail (store != NULL, 0);
  if (!check_json ("run settings", settings_json, &settings, error))
    return 0;

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  if (store_query_run (store,
                       "INSERT INTO runs (model_id, started, status, frames, settings) "
                       "VALUES (?, ?, 'running', 0, ?)", error,
                       STORE_INT (model_id), STORE_REAL (store_time_now ()), STORE_TEXT (settings)))
    id = sqlite3_last_insert_rowid (store->db);
  if (id == 0 || !store_commit (store, error))
    {
      if (store->tx_depth > 0)
        store_rollback (store);
      id = 0;
    }
out:
  store_unlock_and_notify (store);
  return id;
}

gboolean
facet_store_end_run (FacetStore *store,
                     gint64      run_id,
                     const char *status,
                     gint64      frames,
                     GError    **error)
{
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL && status != NULL, FALSE);

  store_lock (store);
  if (!store_begin (store, error))
    goto out;
  ok = store_query_run (store, "UPDATE runs SET finished = ?, status = ?, frames = ? WHERE id = ?",
                        error, STORE_REAL (store_time_now ()), STORE_TEXT (status),
                        STORE_INT (frames), STORE_INT (run_id));
  if (ok)
    ok = store_commit (store, error);
  else
    store_rollback (store);
out:
  store_unlock_and_notify (store);
  return ok;
}

static gboolean
run_row (sqlite3_stmt *row,
         gpointer      data,
         GError      **error)
{
  FacetStoreRun *r = g_new0 (FacetStoreRun, 1);

  r->id = sqlite3_column_int64 (row, 0);
  r->model_id = sqlite3_column_int64 (row, 1);
  r->started = sqlite3_column_double (row, 2);
  r->finished = sqlite3_column_double (row, 3);
  r->status = g_strdup (store_column_text (row, 4));
  r->frames = sqlite3_column_int64 (row, 5);
  r->settings_json = g_strdup (store_column_text (row, 6));
  g_ptr_array_add (data, r);
  return TRUE;
}

GPtrArray *
facet_store_list_runs (FacetStore *store,
                       GError    **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_run_free);

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store,
                   "SELECT id, model_id, started, finished, status, frames, settings FROM runs "
                   "ORDER BY id", run_row, out, error) < 0)
    return NULL;
  return g_steal_pointer (&out);
}
