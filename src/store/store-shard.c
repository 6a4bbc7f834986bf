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
  sqlite3_stmt *st = store_prepare (store, "SELECT value FROM meta WHERE key = ?", error);
  char *value = NULL;

  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
  if (store_step (store, st, error) == SQLITE_ROW)
    value = g_strdup (store_column_text (st, 0));
  sqlite3_reset (st);
  return value;
}

static gboolean
write_meta_value (FacetStore *store,
                  const char *key,
                  const char *value,
                  GError    **error)
{
  sqlite3_stmt *st = store_prepare (store, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                    error);

  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, value, -1, SQLITE_TRANSIENT);
  return store_run (store, st, error);
}

static gboolean
attach (FacetStore *store,
        const char *path,
        const char *schema,
        GError    **error)
{
  g_autofree char *sql = g_strdup_printf ("ATTACH DATABASE ? AS %s", schema);
  sqlite3_stmt *st = store_prepare_once (store, sql, error);
  int rc;

  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, path, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (st);
  sqlite3_finalize (st);
  if (rc != SQLITE_DONE)
    {
      store_set_error (store, error, rc, "attaching another project file");
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
  sqlite3_stmt *st = store_prepare_once (store, sql, error);
  gint64 n = -1;

  if (st == NULL)
    return -1;
  if (store_step (store, st, error) == SQLITE_ROW)
    n = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  return n;
}

gboolean
facet_store_merge_shard (FacetStore      *store,
                         const char      *shard_path,
                         FacetMergeStats *stats,
                         GError         **error)
{
  g_autoptr (FacetStore) shard = NULL;
  g_autoptr (GPtrArray) shard_videos = NULL, shard_models = NULL;
  g_autofree char *shard_id = NULL, *abs = NULL, *merged_key = NULL, *merged = NULL;
  g_autofree char *runs_sql = NULL;
  FacetMergeStats local_stats = { 0 };
  GError *local = NULL;
  gboolean ok = FALSE, attached = FALSE;
  gint64 n, last_run = 0, max_run = 0;

  g_return_val_if_fail (store != NULL && shard_path != NULL, FALSE);

  abs = g_canonicalize_filename (shard_path, NULL);
  if (g_str_equal (abs, store->path))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s is the project itself, not a shard", shard_path);
      return FALSE;
    }
  /* Opening checks the format (and migrates an older shard). */
  shard = facet_store_open (abs, error);
  if (shard == NULL)
    return FALSE;
  store_lock (shard);
  shard_id = read_meta_value (shard, "shard_id", &local);
  max_run = count_of (shard, "SELECT coalesce(max(id), 0) FROM runs", local ? NULL : &local);
  store_unlock_and_notify (shard);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (shard_id == NULL || g_strcmp0 (shard->project_id, store->project_id) != 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_MISMATCH,
                   "%s is not a shard of %s (another project id)", shard_path, store->path);
      return FALSE;
    }
  shard_videos = facet_store_list_videos (shard, error);
  shard_models = facet_store_list_models (shard, error);
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
          local_stats.models++;
        }
    }
  g_clear_pointer (&shard, facet_store_close);

  merged_key = g_strdup_printf ("merged_runs:%s", shard_id);
  store_lock (store);
  if (!attach (store, abs, "shard", error))
    goto out;
  attached = TRUE;
  if (!store_begin (store, error))
    goto out;
  merged = read_meta_value (store, merged_key, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      goto fail;
    }
  if (merged != NULL)
    last_run = g_ascii_strtoll (merged, NULL, 10);
  if (!store_exec (store,
                   "CREATE TEMP TABLE IF NOT EXISTS merge_models (shard_id INTEGER PRIMARY KEY,"
                   "  main_id INTEGER NOT NULL, n_aus INTEGER NOT NULL);\n"
                   "DELETE FROM temp.merge_models;\n"
                   "INSERT INTO temp.merge_models SELECT s.id, m.id,"
                   "  length (m.aus) - length (replace (m.aus, ',', '')) + 1"
                   "  FROM shard.models s JOIN main.models m ON m.sha256 = s.sha256"
                   "  AND m.id = (SELECT min (id) FROM main.models WHERE sha256 = s.sha256);\n",
                   error))
    goto fail;
  /* Nothing damaged may come in: blobs of the model's size, frames inside
   * their video, known models. */
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
      goto fail;
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
      goto fail;
    }
  /* Rows already in the project stay as they are: merging twice is a no-op. */
  local_stats.predictions = changes_of (store,
                                        "INSERT OR IGNORE INTO main.predictions (model_id, video_id,"
                                        "  frame, probs) SELECT m.main_id, p.video_id, p.frame, p.probs"
                                        "  FROM shard.predictions p JOIN temp.merge_models m"
                                        "  ON m.shard_id = p.model_id", error);
  if (local_stats.predictions < 0)
    goto fail;
  /* The timeline summaries of everything that came in. */
  if (local_stats.predictions > 0)
    {
      g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (gint64));
      sqlite3_stmt *st = store_prepare_once (store,
                                             "SELECT DISTINCT m.main_id, p.video_id FROM shard.predictions p"
                                             "  JOIN temp.merge_models m ON m.shard_id = p.model_id", error);
      int rc;
      if (st == NULL)
        goto fail;
      while ((rc = store_step (store, st, error)) == SQLITE_ROW)
        {
          gint64 m = sqlite3_column_int64 (st, 0), v = sqlite3_column_int64 (st, 1);
          g_array_append_val (pairs, m);
          g_array_append_val (pairs, v);
        }
      sqlite3_finalize (st);
      if (rc != SQLITE_DONE)
        goto fail;
      for (guint i = 0; i < pairs->len; i += 2)
        if (!store_rebuild_blocks (store, g_array_index (pairs, gint64, i),
                                   g_array_index (pairs, gint64, i + 1), error))
          goto fail;
    }
  local_stats.faces = changes_of (store,
                                  "INSERT OR IGNORE INTO main.faces (video_id, frame, status, x, y, w,"
                                  "  h, landmarks, quality, time, score, transform)"
                                  "  SELECT video_id, frame, status, x, y, w, h, landmarks, quality,"
                                  "  time, score, transform FROM shard.faces", error);
  if (local_stats.faces < 0)
    goto fail;
  runs_sql = g_strdup_printf ("INSERT INTO main.runs (model_id, started, finished, status, frames,"
                              "  settings) SELECT m.main_id, r.started, r.finished, r.status, r.frames,"
                              "  r.settings FROM shard.runs r JOIN temp.merge_models m"
                              "  ON m.shard_id = r.model_id WHERE r.id > %" G_GINT64_FORMAT
                              "  ORDER BY r.id", last_run);
  local_stats.runs = changes_of (store, runs_sql, error);
  if (local_stats.runs < 0)
    goto fail;
  {
    char buf[32];
    g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, MAX (max_run, last_run));
    if (!write_meta_value (store, merged_key, buf, error))
      goto fail;
  }
  if (local_stats.predictions + local_stats.faces > 0
      && !store_note_change (store, FACET_STORE_CHANGE_PREDICTIONS, 0, 0, -1, error))
    goto fail;
  ok = store_commit (store, error);
  goto out;

fail:
  store_rollback (store);
out:
  if (attached)
    {
      sqlite3_exec (store->db, "DROP TABLE IF EXISTS temp.merge_models", NULL, NULL, NULL);
      detach (store, "shard");
    }
  store_unlock_and_notify (store);
  if (ok && stats != NULL)
    *stats = local_stats;
  return ok;
}
