/* store-shard.c — shard projects for cluster job arrays, and merging them
 *
 * A shard is a project file next to its project with the same project id,
 * a copy of its subjects, videos and models, and a shard id of its own. An
 * analysis shard writes only there, so many jobs never contend for one
 * file; merging folds predictions, faces and runs back. Videos must be the
 * project's (same number, same content hash); models are matched by the
 * content hash of their file, because a shard may have registered a model
 * file that the project learns about only at the merge. */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <string.h>

#include "store-private.h"

char *
facet_store_shard_path (const char *project_path,
                        guint       index,
                        guint       count)
{
  g_autofree char *base = NULL;

  g_return_val_if_fail (project_path != NULL, NULL);

  base = g_str_has_suffix (project_path, ".facet")
         ? g_strndup (project_path, strlen (project_path) - strlen (".facet"))
         : g_strdup (project_path);
  return g_strdup_printf ("%s.shard-%u-of-%u.facet", base, index, count);
}

static char *
read_meta_value (FacetStore *store,
                 const char *key,
                 GError    **error)
{
  char *value = NULL;

  store_query (store, "SELECT value FROM meta WHERE key = ?", store_row_text, &value, error,
               STORE_TEXT (key));
  return value;
}

static gboolean
write_meta_value (FacetStore *store,
                  const char *key,
                  const char *value,
                  GError    **error)
{
  return store_query_run (store, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", error,
                          STORE_TEXT (key), STORE_TEXT (value));
}

static gboolean
attach (FacetStore *store,
        const char *path,
        const char *schema,
        GError    **error)
{
  g_autofree char *sql = g_strdup_printf ("ATTACH DATABASE ? AS %s", schema);

  if (!store_query_run_once (store, sql, error, STORE_TEXT (path)))
    {
      g_prefix_error (error, "attaching %s: ", path);
      return FALSE;
    }
  return TRUE;
}

static void
detach (FacetStore *store,
        const char *schema)
{
  g_autofree char *sql = g_strdup_printf ("DETACH DATABASE %s", schema);
  sqlite3_exec (store->db, sql, NULL, NULL, NULL);
}

/* Copies what the shard needs from the project (rows it lacks). */
static gboolean
refresh_shard (FacetStore *shard,
               FacetStore *store,
               GError    **error)
{
  gboolean ok;

  if (!attach (shard, store->path, "project", error))
    return FALSE;
  ok = store_begin (shard, error);
  if (ok)
    {
      ok = store_exec (shard,
                       "INSERT OR IGNORE INTO subjects SELECT * FROM project.subjects;\n"
                       "INSERT OR IGNORE INTO videos SELECT * FROM project.videos;\n"
                       "INSERT OR IGNORE INTO models (id, name, file, parent_id, created, aus, config,"
                       "  metrics, sha256, thresholds, settings, data)"
                       "  SELECT id, name, file, NULL, created, aus, config, metrics, sha256,"
                       "  thresholds, settings, data FROM project.models"
                       "  WHERE sha256 NOT IN (SELECT sha256 FROM main.models);\n", error);
      if (ok)
        ok = store_commit (shard, error);
      else
        store_rollback (shard);
    }
  detach (shard, "project");
  return ok;
}

FacetStore *
facet_store_open_shard (FacetStore *store,
                        const char *path,
                        GError    **error)
{
  g_autoptr (FacetStore) shard = NULL;
  g_autofree char *abs = NULL, *dir = NULL, *shard_id = NULL;
  GError *local = NULL;

  g_return_val_if_fail (store != NULL && path != NULL, NULL);

  abs = g_canonicalize_filename (path, NULL);
  dir = g_path_get_dirname (abs);
  /* Relative video and model paths must mean the same in both files. */
  if (!g_str_equal (dir, store->folder) || g_str_equal (abs, store->path))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s: a shard must be another file in the project's folder %s", path,
                   store->folder);
      return NULL;
    }
  if (g_file_test (abs, G_FILE_TEST_EXISTS))
    {
      shard = facet_store_open (abs, error);
      if (shard == NULL)
        return NULL;
      store_lock (shard);
      shard_id = read_meta_value (shard, "shard_id", &local);
      store_unlock_and_notify (shard);
      if (local != NULL)
        {
          g_propagate_error (error, local);
          return NULL;
        }
      if (shard_id == NULL || g_strcmp0 (shard->project_id, store->project_id) != 0)
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH,
                       "%s is not a shard of %s", abs, store->path);
          return NULL;
        }
    }
  else
    {
      gboolean ok;
      shard = facet_store_create (abs, error);
      if (shard == NULL)
        return NULL;
      store_lock (shard);
      ok = store_begin (shard, error);
      if (ok)
        {
          g_autofree char *rand = g_uuid_string_random ();
          g_autofree char *of = g_path_get_basename (store->path);
          ok = write_meta_value (shard, "project_id", store->project_id, error)
               && write_meta_value (shard, "shard_id", rand, error)
               && write_meta_value (shard, "shard_of", of, error);
          if (ok)
            ok = store_commit (shard, error);
          else
            store_rollback (shard);
        }
      if (ok)
        {
          g_free (shard->project_id);
          shard->project_id = g_strdup (store->project_id);
        }
      store_unlock_and_notify (shard);
      if (!ok)
        return NULL;
    }
  store_lock (shard);
  if (!refresh_shard (shard, store, error))
    {
      store_unlock_and_notify (shard);
      return NULL;
    }
  store_unlock_and_notify (shard);
  return g_steal_pointer (&shard);
}

static gint64
changes_of (FacetStore *store,
            const char *sql,
            GError    **error)
{
  if (!store_exec (store, sql, error))
    return -1;
  return sqlite3_changes64 (store->db);
}

static gint64
count_of (FacetStore *store,
          const char *sql,
          GError    **error)
{
  gint64 n = -1;

  if (store_query_once (store, sql, store_row_int64, &n, error) < 0)
    return -1;
  return n;
}

/* Opens the shard at @abs and checks that it belongs to @store: its shard
 * id and the highest run id it holds come back. */
static FacetStore *
open_shard_of (FacetStore *store,
               const char *abs,
               const char *shard_path,
               char      **shard_id,
               gint64     *max_run,
               GError    **error)
{
  g_autoptr (FacetStore) shard = NULL;
  GError *local = NULL;

  /* Opening checks the format (and migrates an older shard). */
  shard = facet_store_open (abs, error);
  if (shard == NULL)
    return NULL;
  store_lock (shard);
  *shard_id = read_meta_value (shard, "shard_id", &local);
  *max_run = count_of (shard, "SELECT coalesce(max(id), 0) FROM runs", local ? NULL : &local);
  store_unlock_and_notify (shard);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (*shard_id == NULL || g_strcmp0 (shard->project_id, store->project_id) != 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH,
                   "%s is not a shard of %s (another project id)", shard_path, store->path);
      return NULL;
    }
  return g_steal_pointer (&shard);
}

/* The shard's videos must be the project's; its models are found in the
 * project by content hash, or added (counted in @stats). */
static gboolean
match_videos_and_models (FacetStore      *store,
                         FacetStore      *shard,
                         const char      *shard_path,
                         FacetMergeStats *stats,
                         GError         **error)
{
  g_autoptr (GPtrArray) shard_videos = facet_store_list_videos (shard, error);
  g_autoptr (GPtrArray) shard_models = shard_videos ? facet_store_list_models (shard, error) : NULL;

  if (shard_videos == NULL || shard_models == NULL)
    return FALSE;
  for (guint i = 0; i < shard_videos->len; i++)
    {
      FacetStoreVideo *sv = shard_videos->pdata[i];
      g_autoptr (FacetStoreVideo) mv = facet_store_get_video (store, sv->id, NULL);
      if (mv == NULL || g_strcmp0 (mv->sha256, sv->sha256) != 0)
        {
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH,
                       "%s: its video %" G_GINT64_FORMAT " is not the project's video %"
                       G_GINT64_FORMAT " (other content)", shard_path, sv->id, sv->id);
          return FALSE;
        }
    }
  /* Models: the project's row with the same file content, or a new row. */
  for (guint i = 0; i < shard_models->len; i++)
    {
      FacetStoreModel *sm = shard_models->pdata[i];
      gint64 id = facet_store_find_model (store, sm->sha256, error);
      if (id < 0)
        return FALSE;
      if (id == 0)
        {
          g_autofree char *file = facet_store_model_path (shard, sm);
          FacetStoreModelInfo info = { .file = file, .name = sm->name, .sha256 = sm->sha256,
                                       .n_aus = sm->n_aus, .au_ids = sm->au_ids,
                                       .thresholds = sm->thresholds, .config_json = sm->config_json,
                                       .settings_json = sm->settings_json,
                                       .metrics_json = sm->metrics_json, .data_json = sm->data_json };
          if (facet_store_add_model (store, &info, error) == 0)
            return FALSE;
          stats->models++;
        }
    }
  return TRUE;
}

/* In the transaction, with the shard attached as "shard": fills
 * temp.merge_models (shard model id -> project model id) and refuses a
 * shard with damaged rows. Nothing damaged may come in: blobs of the
 * model's size, frames inside their video, known models. */
static gboolean
check_shard_rows (FacetStore *store,
                  const char *shard_path,
                  GError    **error)
{
  gint64 n;

  if (!store_exec (store,
                   "CREATE TEMP TABLE IF NOT EXISTS merge_models (shard_id INTEGER PRIMARY KEY,"
                   "  main_id INTEGER NOT NULL, n_aus INTEGER NOT NULL);\n"
                   "DELETE FROM temp.merge_models;\n"
                   "INSERT INTO temp.merge_models SELECT s.id, m.id,"
                   "  length (m.aus) - length (replace (m.aus, ',', '')) + 1"
                   "  FROM shard.models s JOIN main.models m ON m.sha256 = s.sha256"
                   "  AND m.id = (SELECT min (id) FROM main.models WHERE sha256 = s.sha256);\n",
                   error))
    return FALSE;
  n = count_of (store,
                "SELECT count(*) FROM shard.predictions p LEFT JOIN temp.merge_models m"
                "  ON m.shard_id = p.model_id LEFT JOIN main.videos v ON v.id = p.video_id"
                "  WHERE m.main_id IS NULL OR v.id IS NULL OR p.frame < 0 OR p.frame >= v.n_frames"
                "  OR (p.probs IS NOT NULL AND (typeof (p.probs) != 'blob'"
                "      OR length (p.probs) != 2 * m.n_aus))", error);
  if (n != 0)
    {
      if (n > 0)
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                     "%s: %" G_GINT64_FORMAT " predictions are damaged or point outside the "
                     "project; nothing merged", shard_path, n);
      return FALSE;
    }
  n = count_of (store,
                "SELECT count(*) FROM shard.faces f LEFT JOIN main.videos v ON v.id = f.video_id"
                "  WHERE v.id IS NULL OR f.frame < 0 OR f.frame >= v.n_frames"
                "  OR (f.landmarks IS NOT NULL AND length (f.landmarks) != 544)"
                "  OR (f.transform IS NOT NULL AND length (f.transform) != 48)", error);
  if (n != 0)
    {
      if (n > 0)
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                     "%s: %" G_GINT64_FORMAT " face results are damaged; nothing merged",
                     shard_path, n);
      return FALSE;
    }
  return TRUE;
}

/* The timeline summaries of every (model, video) that came in. */
static gboolean
rebuild_merged_blocks (FacetStore *store,
                       GError    **error)
{
  g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (store_query_once (store,
                        "SELECT DISTINCT m.main_id, p.video_id FROM shard.predictions p"
                        "  JOIN temp.merge_models m ON m.shard_id = p.model_id",
                        store_row_int64_array, pairs, error) < 0)
    return FALSE;
  for (guint i = 0; i < pairs->len; i += 2)
    if (!store_rebuild_blocks (store, g_array_index (pairs, gint64, i),
                               g_array_index (pairs, gint64, i + 1), error))
      return FALSE;
  return TRUE;
}

/* In the transaction, after check_shard_rows: copies predictions, faces and
 * the runs not merged before (the meta row @merged_key holds the last
 * merged run id). Rows already in the project stay as they are: merging
 * twice is a no-op. */
static gboolean
copy_shard_rows (FacetStore      *store,
                 const char      *merged_key,
                 gint64           max_run,
                 FacetMergeStats *stats,
                 GError         **error)
{
  g_autofree char *merged = NULL, *runs_sql = NULL;
  GError *local = NULL;
  gint64 last_run = 0;
  char buf[32];

  merged = read_meta_value (store, merged_key, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (merged != NULL)
    last_run = g_ascii_strtoll (merged, NULL, 10);
  stats->predictions = changes_of (store,
                                   "INSERT OR IGNORE INTO main.predictions (model_id, video_id,"
                                   "  frame, probs) SELECT m.main_id, p.video_id, p.frame, p.probs"
                                   "  FROM shard.predictions p JOIN temp.merge_models m"
                                   "  ON m.shard_id = p.model_id", error);
  if (stats->predictions < 0)
    return FALSE;
  if (stats->predictions > 0 && !rebuild_merged_blocks (store, error))
    return FALSE;
  stats->faces = changes_of (store,
                             "INSERT OR IGNORE INTO main.faces (video_id, frame, status, x, y, w,"
                             "  h, landmarks, quality, time, score, transform)"
                             "  SELECT video_id, frame, status, x, y, w, h, landmarks, quality,"
                             "  time, score, transform FROM shard.faces", error);
  if (stats->faces < 0)
    return FALSE;
  runs_sql = g_strdup_printf ("INSERT INTO main.runs (model_id, started, finished, status, frames,"
                              "  settings) SELECT m.main_id, r.started, r.finished, r.status, r.frames,"
                              "  r.settings FROM shard.runs r JOIN temp.merge_models m"
                              "  ON m.shard_id = r.model_id WHERE r.id > %" G_GINT64_FORMAT
                              "  ORDER BY r.id", last_run);
  stats->runs = changes_of (store, runs_sql, error);
  if (stats->runs < 0)
    return FALSE;
  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, MAX (max_run, last_run));
  if (!write_meta_value (store, merged_key, buf, error))
    return FALSE;
  return stats->predictions + stats->faces == 0
         || store_note_change (store, FACET_STORE_CHANGE_PREDICTIONS, 0, 0, -1, error);
}

gboolean
facet_store_merge_shard (FacetStore      *store,
                         const char      *shard_path,
                         FacetMergeStats *stats,
                         GError         **error)
{
  g_autoptr (FacetStore) shard = NULL;
  g_autofree char *shard_id = NULL, *abs = NULL, *merged_key = NULL;
  FacetMergeStats local_stats = { 0 };
  gboolean ok = FALSE;
  gint64 max_run = 0;

  g_return_val_if_fail (store != NULL && shard_path != NULL, FALSE);

  abs = g_canonicalize_filename (shard_path, NULL);
  if (g_str_equal (abs, store->path))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s is the project itself, not a shard", shard_path);
      return FALSE;
    }
  shard = open_shard_of (store, abs, shard_path, &shard_id, &max_run, error);
  if (shard == NULL || !match_videos_and_models (store, shard, shard_path, &local_stats, error))
    return FALSE;
  g_clear_pointer (&shard, facet_store_close);

  merged_key = g_strdup_printf ("merged_runs:%s", shard_id);
  store_lock (store);
  if (attach (store, abs, "shard", error))
    {
      if (store_begin (store, error))
        {
          ok = check_shard_rows (store, shard_path, error)
               && copy_shard_rows (store, merged_key, max_run, &local_stats, error);
          if (ok)
            ok = store_commit (store, error);
          else
            store_rollback (store);
        }
      sqlite3_exec (store->db, "DROP TABLE IF EXISTS temp.merge_models", NULL, NULL, NULL);
      detach (store, "shard");
    }
  store_unlock_and_notify (store);
  if (ok && stats != NULL)
    *stats = local_stats;
  return ok;
}
