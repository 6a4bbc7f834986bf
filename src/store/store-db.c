/* store-db.c — opening projects, the schema and its migrations,
 * transactions that wait for other processes, change notification,
 * subjects and coders */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "store-private.h"

G_DEFINE_QUARK (facet-store-error-quark, facet_store_error)

/* PRAGMA application_id of Facet projects: "FACE". */
#define FACET_STORE_APPLICATION_ID 0x46414345

/* ---- The schema ------------------------------------------------------------
 * A new project is made by running version 1 and then every migration, so
 * the path that old projects take is the one every project takes. */

static const char schema_v1[] =
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
  "CREATE TABLE coders (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,\n"
  "  created REAL NOT NULL);\n"
  "CREATE TABLE subjects (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,\n"
  "  created REAL NOT NULL);\n"
  "CREATE TABLE videos (id INTEGER PRIMARY KEY,\n"
  "  subject_id INTEGER NOT NULL REFERENCES subjects (id),\n"
  "  path TEXT NOT NULL, abs_path TEXT NOT NULL, size INTEGER NOT NULL,\n"
  "  sha256 TEXT NOT NULL, n_frames INTEGER NOT NULL, fps REAL NOT NULL,\n"
  "  width INTEGER NOT NULL, height INTEGER NOT NULL,\n"
  "  crop TEXT NOT NULL CHECK (crop IN ('box', 'aligned', 'none')),\n"
  "  added REAL NOT NULL);\n"
  "CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL,\n"
  "  parent_id INTEGER REFERENCES models (id), created REAL NOT NULL,\n"
  "  aus TEXT NOT NULL, config TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}');\n"
  "CREATE TABLE runs (id INTEGER PRIMARY KEY,\n"
  "  model_id INTEGER NOT NULL REFERENCES models (id),\n"
  "  started REAL NOT NULL, finished REAL, status TEXT NOT NULL,\n"
  "  frames INTEGER NOT NULL DEFAULT 0, settings TEXT NOT NULL DEFAULT '{}');\n"
  "CREATE TABLE faces (video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  frame INTEGER NOT NULL, status INTEGER NOT NULL,\n"
  "  x REAL, y REAL, w REAL, h REAL, landmarks BLOB, quality REAL,\n"
  "  PRIMARY KEY (video_id, frame)) WITHOUT ROWID;\n"
  "CREATE TABLE predictions (model_id INTEGER NOT NULL REFERENCES models (id),\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  frame INTEGER NOT NULL, probs BLOB,\n"
  "  PRIMARY KEY (model_id, video_id, frame)) WITHOUT ROWID;\n"
  "CREATE TABLE labels (video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  frame INTEGER NOT NULL, au INTEGER NOT NULL,\n"
  "  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 3),\n"
  "  coder_id INTEGER NOT NULL REFERENCES coders (id), time REAL NOT NULL,\n"
  "  source INTEGER NOT NULL CHECK (source BETWEEN 0 AND 2),\n"
  "  PRIMARY KEY (video_id, frame, au)) WITHOUT ROWID;\n"
  "CREATE TABLE label_history (id INTEGER PRIMARY KEY,\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  frame INTEGER NOT NULL, au INTEGER NOT NULL,\n"
  "  old_state INTEGER NOT NULL, new_state INTEGER NOT NULL, source INTEGER NOT NULL,\n"
  "  coder_id INTEGER NOT NULL REFERENCES coders (id), time REAL NOT NULL);\n"
  "INSERT INTO meta (key, value) VALUES ('created', strftime('%s', 'now'));\n";

/* Version 2: label intensity and change sets (undo/redo on the history),
 * model hashes and training descriptions, decoder times and crop transforms
 * of faces, per-block prediction summaries for the timeline (filled from
 * C after the SQL), change counters, the project id that shards carry. */
static const char migrate_v1_v2[] =
  "ALTER TABLE labels ADD COLUMN intensity REAL;\n"
  "CREATE INDEX labels_au ON labels (video_id, au, frame);\n"
  "ALTER TABLE models ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';\n"
  "ALTER TABLE models ADD COLUMN thresholds TEXT NOT NULL DEFAULT '';\n"
  "ALTER TABLE models ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';\n"
  "ALTER TABLE models ADD COLUMN data TEXT NOT NULL DEFAULT '{}';\n"
  "CREATE INDEX models_sha256 ON models (sha256);\n"
  "ALTER TABLE faces ADD COLUMN time REAL;\n"
  "ALTER TABLE faces ADD COLUMN score REAL;\n"
  "ALTER TABLE faces ADD COLUMN transform BLOB;\n"
  "CREATE TABLE changesets (id INTEGER PRIMARY KEY,\n"
  "  coder_id INTEGER NOT NULL REFERENCES coders (id), time REAL NOT NULL,\n"
  "  kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 4),\n"
  "  state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),\n"
  "  target_id INTEGER REFERENCES changesets (id), undo_serial INTEGER,\n"
  "  description TEXT NOT NULL DEFAULT '', n_changes INTEGER NOT NULL DEFAULT 0);\n"
  "CREATE INDEX changesets_coder ON changesets (coder_id, state);\n"
  "INSERT INTO changesets (id, coder_id, time, kind, state, description, n_changes)\n"
  "  SELECT id, coder_id, time, 4, 0, 'change made before version 2', 1 FROM label_history;\n"
  "CREATE TABLE label_history_v2 (id INTEGER PRIMARY KEY,\n"
  "  changeset_id INTEGER NOT NULL REFERENCES changesets (id),\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  frame INTEGER NOT NULL, au INTEGER NOT NULL,\n"
  "  old_state INTEGER NOT NULL, old_intensity REAL, old_source INTEGER,\n"
  "  old_coder_id INTEGER REFERENCES coders (id), old_time REAL,\n"
  "  new_state INTEGER NOT NULL, new_intensity REAL, new_source INTEGER NOT NULL,\n"
  "  time REAL NOT NULL);\n"
  "INSERT INTO label_history_v2 (id, changeset_id, video_id, frame, au, old_state,\n"
  "  new_state, new_source, time)\n"
  "  SELECT id, id, video_id, frame, au, old_state, new_state, source, time FROM label_history;\n"
  "DROP TABLE label_history;\n"
  "ALTER TABLE label_history_v2 RENAME TO label_history;\n"
  "CREATE INDEX label_history_cell ON label_history (video_id, frame, au);\n"
  "CREATE INDEX label_history_changeset ON label_history (changeset_id);\n"
  "CREATE TABLE prediction_blocks (model_id INTEGER NOT NULL REFERENCES models (id),\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id), block INTEGER NOT NULL,\n"
  "  stats BLOB NOT NULL, PRIMARY KEY (model_id, video_id, block)) WITHOUT ROWID;\n"
  "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;\n"
  "INSERT INTO counters (name, value) VALUES ('labels', 0), ('predictions', 0),\n"
  "  ('videos', 0), ('models', 0);\n"
  "INSERT OR IGNORE INTO meta (key, value) VALUES ('project_id', lower(hex(randomblob(16))));\n";

/* Version 3: layers. Labels, their history and change sets get a layer: 0 is
 * the final layer (every label of an older project lands there), any other
 * value the coders.id of the coder whose own layer it is (no foreign key:
 * 0 names no coder). Change sets may now be resolutions (kind 5), and a
 * history row remembers which layer a resolved value was taken from.
 * Segments marked for double coding (the reliability sample). */
static const char migrate_v2_v3[] =
  "CREATE TABLE labels_v3 (layer INTEGER NOT NULL DEFAULT 0,\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  frame INTEGER NOT NULL, au INTEGER NOT NULL,\n"
  "  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 3),\n"
  "  coder_id INTEGER NOT NULL REFERENCES coders (id), time REAL NOT NULL,\n"
  "  source INTEGER NOT NULL CHECK (source BETWEEN 0 AND 2), intensity REAL,\n"
  "  PRIMARY KEY (layer, video_id, frame, au)) WITHOUT ROWID;\n"
  "INSERT INTO labels_v3 (layer, video_id, frame, au, state, coder_id, time, source, intensity)\n"
  "  SELECT 0, video_id, frame, au, state, coder_id, time, source, intensity FROM labels;\n"
  "DROP TABLE labels;\n"
  "ALTER TABLE labels_v3 RENAME TO labels;\n"
  "CREATE INDEX labels_au ON labels (layer, video_id, au, frame);\n"
  "CREATE TABLE changesets_v3 (id INTEGER PRIMARY KEY,\n"
  "  coder_id INTEGER NOT NULL REFERENCES coders (id), time REAL NOT NULL,\n"
  "  kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 5),\n"
  "  state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),\n"
  "  target_id INTEGER REFERENCES changesets (id), undo_serial INTEGER,\n"
  "  description TEXT NOT NULL DEFAULT '', n_changes INTEGER NOT NULL DEFAULT 0,\n"
  "  layer INTEGER NOT NULL DEFAULT 0);\n"
  "INSERT INTO changesets_v3 (id, coder_id, time, kind, state, target_id, undo_serial,\n"
  "  description, n_changes)\n"
  "  SELECT id, coder_id, time, kind, state, target_id, undo_serial, description, n_changes\n"
  "  FROM changesets;\n"
  "DROP TABLE changesets;\n"
  "ALTER TABLE changesets_v3 RENAME TO changesets;\n"
  "CREATE INDEX changesets_coder ON changesets (coder_id, layer, state);\n"
  "CREATE INDEX changesets_layer ON changesets (layer);\n"
  "ALTER TABLE label_history ADD COLUMN layer INTEGER NOT NULL DEFAULT 0;\n"
  "ALTER TABLE label_history ADD COLUMN taken_from TEXT;\n"
  "DROP INDEX label_history_cell;\n"
  "CREATE INDEX label_history_cell ON label_history (layer, video_id, frame, au);\n"
  "CREATE TABLE reliability_samples (id INTEGER PRIMARY KEY, created REAL NOT NULL,\n"
  "  percent REAL NOT NULL, seconds REAL NOT NULL, seed INTEGER NOT NULL,\n"
  "  coder_id INTEGER REFERENCES coders (id));\n"
  "CREATE TABLE reliability_segments (id INTEGER PRIMARY KEY,\n"
  "  sample_id INTEGER REFERENCES reliability_samples (id),\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  first INTEGER NOT NULL, last INTEGER NOT NULL CHECK (last >= first));\n"
  "CREATE INDEX reliability_segments_video ON reliability_segments (video_id, first);\n"
  "INSERT OR IGNORE INTO counters (name, value) VALUES ('samples', 0);\n";

/* Version 4 (issue 19): events marked by coders (onset, apex, offset) and
 * notes on a frame, a range or an event. New tables only; the coding
 * scheme is a meta row ('coding_scheme') written when a lab sets one. */
static const char migrate_v3_v4[] =
  "CREATE TABLE events (id INTEGER PRIMARY KEY,\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  au INTEGER NOT NULL, onset INTEGER NOT NULL, apex INTEGER, offset INTEGER NOT NULL,\n"
  "  coder_id INTEGER NOT NULL REFERENCES coders (id), time REAL NOT NULL,\n"
  "  CHECK (onset <= offset));\n"
  "CREATE INDEX events_video ON events (video_id, onset);\n"
  "CREATE TABLE notes (id INTEGER PRIMARY KEY,\n"
  "  video_id INTEGER NOT NULL REFERENCES videos (id),\n"
  "  first INTEGER NOT NULL, last INTEGER NOT NULL, au INTEGER NOT NULL DEFAULT 0,\n"
  "  event_id INTEGER REFERENCES events (id), text TEXT NOT NULL,\n"
  "  coder_id INTEGER NOT NULL REFERENCES coders (id), time REAL NOT NULL,\n"
  "  CHECK (first <= last));\n"
  "CREATE INDEX notes_video ON notes (video_id, first);\n";

/* migrations[v] takes a project from version v to v + 1. */
static const char * const migrations[] = {
  [0] = schema_v1,
  [1] = migrate_v1_v2,
  [2] = migrate_v2_v3,
  [3] = migrate_v3_v4,
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == FACET_STORE_SCHEMA_VERSION);

/* ---- Errors and statements ------------------------------------------------ */

void
store_set_error (FacetStore *store,
                 GError    **error,
                 int         rc,
                 const char *what)
{
  int code;
  const char *msg = store->db ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc);

  switch (rc & 0xff)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_BUSY,
                   "%s: another program kept the project locked for more than %d s (%s)",
                   store->path, FACET_STORE_BUSY_SECONDS, what);
      return;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = FACET_STORE_ERROR_CORRUPT;
      break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      code = FACET_STORE_ERROR_INVALID;
      break;
    default:
      code = FACET_STORE_ERROR_IO;
      break;
    }
  g_set_error (error, FACET_STORE_ERROR, code, "%s: %s (%s)", store->path, msg, what);
}

sqlite3_stmt *
store_prepare_once (FacetStore *store,
                    const char *sql,
                    GError    **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      store_set_error (store, error, rc, "preparing a query");
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

sqlite3_stmt *
store_prepare (FacetStore *store,
               const char *sql,
               GError    **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (store->statements, sql);
  int rc;

  /* Left reset and cleared by its last user (store_query). */
  if (stmt != NULL)
    return stmt;
  rc = sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      store_set_error (store, error, rc, "preparing a query");
      sqlite3_finalize (stmt);
      return NULL;
    }
  g_hash_table_insert (store->statements, (gpointer) sql, stmt);
  return stmt;
}

gboolean
store_exec (FacetStore *store,
            const char *sql,
            GError    **error)
{
  char *msg = NULL;
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, &msg);

  if (rc != SQLITE_OK)
    {
      g_autofree char *what = g_strdup (msg ? msg : sqlite3_errstr (rc));
      sqlite3_free (msg);
      store_set_error (store, error, rc, what);
      return FALSE;
    }
  return TRUE;
}

int
store_step (FacetStore   *store,
            sqlite3_stmt *stmt,
            GError      **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return rc;
  store_set_error (store, error, rc, sqlite3_sql (stmt) ? "running a query" : "query");
  sqlite3_reset (stmt);
  return -1;
}

void
store_set_not_found (FacetStore  *store,
                     const char  *what,
                     gint64       id,
                     GError     **error)
{
  g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
               "%s: there is no %s %" G_GINT64_FORMAT " in the project", store->path, what, id);
}

typedef struct
{
  gpointer (*from_row) (sqlite3_stmt *stmt);
  gpointer   item;
} GetById;

static gboolean
get_by_id_row (sqlite3_stmt *row,
               gpointer      data,
               GError      **error)
{
  GetById *get = data;

  get->item = get->from_row (row);
  return FALSE;
}

gpointer
store_get_by_id (FacetStore   *store,
                 const char   *sql,
                 gint64        id,
                 const char   *what,
                 gpointer    (*from_row) (sqlite3_stmt *stmt),
                 GError      **error)
{
  GetById get = { from_row, NULL };

  if (store_query (store, sql, get_by_id_row, &get, error, STORE_INT (id)) == 0)
    store_set_not_found (store, what, id, error);
  return get.item;
}

const char *
store_column_text (sqlite3_stmt *stmt,
                   int           column)
{
  const unsigned char *t = sqlite3_column_text (stmt, column);
  return t ? (const char *) t : "";
}

double
store_time_now (void)
{
  return (double) g_get_real_time () / G_USEC_PER_SEC;
}

gboolean
store_au_valid (int au)
{
  /* FACS numbers go up to the 90s (gross behaviour codes). */
  return au >= 1 && au <= 99;
}

/* ---- Locking, transactions and notification ------------------------------------ */

void
store_lock (FacetStore *store)
{
  g_rec_mutex_lock (&store->lock);
  store->lock_depth++;
}

typedef struct
{
  guint               id;
  FacetStoreWatchFunc func;
  gpointer            user_data;
  GDestroyNotify      destroy;
} StoreWatch;

void
store_unlock_and_notify (FacetStore *store)
{
  g_autoptr (GArray) calls = NULL;
  guint what;
  gint64 video, first, last;

  store->lock_depth--;
  if (store->lock_depth > 0 || store->tx_depth > 0 || store->pending_what == 0)
    {
      g_rec_mutex_unlock (&store->lock);
      return;
    }
  what = store->pending_what;
  video = store->pending_video;
  first = store->pending_first;
  last = store->pending_last;
  store->pending_what = 0;
  calls = g_array_copy (store->watches);
  g_rec_mutex_unlock (&store->lock);

  for (guint i = 0; i < calls->len; i++)
    {
      StoreWatch *w = &g_array_index (calls, StoreWatch, i);
      w->func (store, (FacetStoreChange) what, video, first, last, w->user_data);
    }
}

gboolean
store_begin (FacetStore *store,
             GError    **error)
{
  gint64 deadline;

  if (store->tx_depth++ > 0)
    return TRUE;
  store->tx_failed = FALSE;
  store->pending_what = 0;
  deadline = g_get_monotonic_time () + (gint64) FACET_STORE_BUSY_SECONDS * G_USEC_PER_SEC;
  for (;;)
    {
      /* The busy handler waits up to its timeout inside this call; the
       * loop covers writers that hold the lock longer than that. */
      int rc = sqlite3_exec (store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
      if (rc == SQLITE_OK)
        return TRUE;
      if ((rc & 0xff) != SQLITE_BUSY || g_get_monotonic_time () > deadline)
        {
          store_set_error (store, error, rc, "starting a change");
          store->tx_depth--;
          return FALSE;
        }
      g_usleep (20000);
    }
}

void
store_rollback (FacetStore *store)
{
  g_assert (store->tx_depth > 0);
  if (--store->tx_depth > 0)
    {
      store->tx_failed = TRUE;
      return;
    }
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  store->pending_what = 0;
  store->tx_failed = FALSE;
}

gboolean
store_commit (FacetStore *store,
              GError    **error)
{
  gint64 deadline;

  g_assert (store->tx_depth > 0);
  if (store->tx_depth > 1)
    {
      store->tx_depth--;
      return TRUE;
    }
  if (store->tx_failed)
    {
      store_rollback (store);
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_IO,
                   "%s: a part of the change failed; nothing was written", store->path);
      return FALSE;
    }
  deadline = g_get_monotonic_time () + (gint64) FACET_STORE_BUSY_SECONDS * G_USEC_PER_SEC;
  for (;;)
    {
      int rc = sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL);
      if (rc == SQLITE_OK)
        break;
      if ((rc & 0xff) != SQLITE_BUSY || g_get_monotonic_time () > deadline)
        {
          store_set_error (store, error, rc, "saving a change");
          store_rollback (store);
          return FALSE;
        }
      g_usleep (20000);
    }
  store->tx_depth = 0;
  return TRUE;
}

static const char *
change_counter_name (FacetStoreChange what)
{
  switch (what)
    {
    case FACET_STORE_CHANGE_LABELS:
      return "labels";
    case FACET_STORE_CHANGE_PREDICTIONS:
      return "predictions";
    case FACET_STORE_CHANGE_VIDEOS:
      return "videos";
    case FACET_STORE_CHANGE_SAMPLES:
      return "samples";
    case FACET_STORE_CHANGE_MODELS:
    default:
      return "models";
    }
}

gboolean
store_note_change (FacetStore      *store,
                   FacetStoreChange what,
                   gint64           video_id,
                   gint64           first,
                   gint64           last,
                   GError         **error)
{
  g_assert (store->tx_depth > 0);

  if ((store->pending_what & what) == 0)
    {
      if (!store_query_run (store, "UPDATE counters SET value = value + 1 WHERE name = ?", error,
                            STORE_TEXT (change_counter_name (what))))
        return FALSE;
    }
  if (store->pending_what == 0)
    {
      store->pending_video = video_id;
      store->pending_first = first;
      store->pending_last = last;
    }
  else if (store->pending_video != video_id)
    {
      store->pending_video = 0;
      store->pending_first = 0;
      store->pending_last = -1;
    }
  else if (store->pending_last >= 0 && last >= 0)
    {
      store->pending_first = MIN (store->pending_first, first);
      store->pending_last = MAX (store->pending_last, last);
    }
  else
    {
      store->pending_first = 0;
      store->pending_last = -1;
    }
  store->pending_what |= what;
  return TRUE;
}

guint
facet_store_add_watch (FacetStore         *store,
                       FacetStoreWatchFunc func,
                       gpointer            user_data,
                       GDestroyNotify      destroy)
{
  StoreWatch w;

  g_return_val_if_fail (store != NULL && func != NULL, 0);

  store_lock (store);
  w.id = ++store->next_watch;
  w.func = func;
  w.user_data = user_data;
  w.destroy = destroy;
  g_array_append_val (store->watches, w);
  store_unlock_and_notify (store);
  return w.id;
}

void
facet_store_remove_watch (FacetStore *store,
                          guint       id)
{
  StoreWatch found = { 0 };

  g_return_if_fail (store != NULL);

  store_lock (store);
  for (guint i = 0; i < store->watches->len; i++)
    if (g_array_index (store->watches, StoreWatch, i).id == id)
      {
        found = g_array_index (store->watches, StoreWatch, i);
        g_array_remove_index (store->watches, i);
        break;
      }
  store_unlock_and_notify (store);
  if (found.destroy != NULL)
    found.destroy (found.user_data);
}

gint64
facet_store_get_serial (FacetStore      *store,
                        FacetStoreChange what)
{
  gint64 value = 0;

  g_return_val_if_fail (store != NULL, 0);

  store_query (store, "SELECT value FROM counters WHERE name = ?", store_row_int64, &value, NULL,
               STORE_TEXT (change_counter_name (what)));
  return value;
}

/* ---- Opening ----------------------------------------------------------------- */

static void
free_statement (gpointer data)
{
  sqlite3_finalize (data);
}

static FacetStore *
store_new (const char *path)
{
  FacetStore *store = g_new0 (FacetStore, 1);
  const char *coder = g_getenv ("FACET_CODER");
  g_autofree char *abs = g_canonicalize_filename (path, NULL);

  g_rec_mutex_init (&store->lock);
  store->path = g_strdup (abs);
  store->folder = g_path_get_dirname (abs);
  /* Keyed by the address of the SQL text: callers pass literals. */
  store->statements = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, free_statement);
  store->watches = g_array_new (FALSE, FALSE, sizeof (StoreWatch));
  store->coder = g_strdup (coder != NULL && *coder != '\0' ? coder : g_get_user_name ());
  return store;
}

void
facet_store_close (FacetStore *store)
{
  if (store == NULL)
    return;
  g_hash_table_destroy (store->statements);
  if (store->db != NULL)
    sqlite3_close (store->db);
  for (guint i = 0; i < store->watches->len; i++)
    {
      StoreWatch *w = &g_array_index (store->watches, StoreWatch, i);
      if (w->destroy != NULL)
        w->destroy (w->user_data);
    }
  g_array_unref (store->watches);
  g_rec_mutex_clear (&store->lock);
  g_free (store->path);
  g_free (store->folder);
  g_free (store->project_id);
  g_free (store->coder);
  g_free (store->layer);
  g_free (store);
}

/* Not store_query: this also reads the probe connection, which is closed
 * right after (a cached statement would keep it open). */
static gboolean
pragma_int (FacetStore *store,
            const char *sql,
            int        *value,
            GError    **error)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql, -1, &st, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    {
      store_set_error (store, error, rc, "reading the file header");
      sqlite3_finalize (st);
      return FALSE;
    }
  *value = sqlite3_column_int (st, 0);
  sqlite3_finalize (st);
  return TRUE;
}

static gboolean
open_connection (FacetStore *store,
                 int         flags,
                 GError    **error)
{
  int rc = sqlite3_open_v2 (store->path, &store->db, flags | SQLITE_OPEN_NOMUTEX, NULL);

  if (rc != SQLITE_OK)
    {
      if (store->db != NULL)
        store_set_error (store, error, rc, "opening");
      else
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_IO, "%s: %s", store->path,
                     sqlite3_errstr (rc));
      return FALSE;
    }
  sqlite3_extended_result_codes (store->db, 1);
  sqlite3_busy_timeout (store->db, 5000);
  /* Defensive: a hostile project file must not reach outside SQL. */
  sqlite3_db_config (store->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_db_config (store->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
  sqlite3_db_config (store->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
  sqlite3_db_config (store->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
  sqlite3_limit (store->db, SQLITE_LIMIT_LENGTH, 64 << 20);
  return TRUE;
}

/* Reads version and application id without writing anything. */
static gboolean
probe_file (FacetStore *store,
            int        *version,
            GError    **error)
{
  int app_id = 0;
  gboolean ok;

  if (!open_connection (store, SQLITE_OPEN_READONLY, error))
    return FALSE;
  ok = pragma_int (store, "PRAGMA application_id", &app_id, error)
       && pragma_int (store, "PRAGMA user_version", version, error);
  sqlite3_close (store->db);
  store->db = NULL;
  if (!ok)
    {
      if (error != NULL && *error != NULL && (*error)->code == FACET_STORE_ERROR_CORRUPT)
        {
          g_clear_error (error);
          g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                       "%s is not a Facet project (not an SQLite file)", store->path);
        }
      return FALSE;
    }
  if (app_id != FACET_STORE_APPLICATION_ID || *version < 1)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                   "%s is not a Facet project (an SQLite file of another program)", store->path);
      return FALSE;
    }
  if (*version > FACET_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_TOO_NEW,
                   "%s was written by a newer Facet (project format %d; this Facet reads up to "
                   "%d): update Facet to open it; the file was left unchanged",
                   store->path, *version, FACET_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  return TRUE;
}

/* Brings the file to version @to in one transaction. The version is read
 * under the write lock, so two processes opening an old project at once
 * migrate it once. */
static gboolean
migrate (FacetStore *store,
         int         to,
         GError    **error)
{
  g_autofree char *set_version = NULL;
  int from = 0;

  /* Table rebuilds must not trip over foreign keys half-way; the check at
   * the end covers the result. The pragma only works outside transactions. */
  if (!store_exec (store, "PRAGMA foreign_keys = OFF", error))
    return FALSE;
  if (!store_begin (store, error))
    return FALSE;
  if (!pragma_int (store, "PRAGMA user_version", &from, error))
    goto fail;
  if (from >= to)
    {
      store_rollback (store);
      return TRUE;
    }
  if (from == 0)
    {
      g_autofree char *app = g_strdup_printf ("PRAGMA application_id = %d",
                                              FACET_STORE_APPLICATION_ID);
      if (!store_exec (store, app, error))
        goto fail;
    }
  for (int v = from; v < to; v++)
    if (!store_exec (store, migrations[v], error))
      {
        g_prefix_error (error, "migrating the project from format %d to %d: ", v, v + 1);
        goto fail;
      }
  /* Summaries that SQL cannot compute (they read the probability blobs). */
  if (from >= 1 && from < 2 && to >= 2 && !store_rebuild_blocks (store, 0, 0, error))
    goto fail;
  set_version = g_strdup_printf ("PRAGMA user_version = %d", to);
  if (!store_exec (store, set_version, error))
    goto fail;
  if (from > 0 && store_query_once (store, "PRAGMA foreign_key_check", NULL, NULL, NULL) != 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                   "%s: broken references between tables; not migrated", store->path);
      goto fail;
    }
  return store_commit (store, error);

fail:
  store_rollback (store);
  return FALSE;
}

static gboolean
read_meta (FacetStore *store,
           GError    **error)
{
  if (!pragma_int (store, "PRAGMA user_version", &store->version, error))
    return FALSE;
  if (store->version < 2)
    return TRUE;
  if (store_query (store, "SELECT value FROM meta WHERE key = 'project_id'", store_row_text,
                   &store->project_id, error) < 0)
    return FALSE;
  if (store->project_id == NULL)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                   "%s: the project has no project_id", store->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
configure_connection (FacetStore *store,
                      GError    **error)
{
  /* WAL: readers never wait for the writer. synchronous=FULL: a committed
   * label survives a power cut; bulk writers may lower it on their own
   * connection. */
  return store_exec (store, "PRAGMA journal_mode = WAL", error)
         && store_exec (store, "PRAGMA synchronous = FULL", error)
         && store_exec (store, "PRAGMA foreign_keys = ON", error);
}

static FacetStore *
create_at_version (const char *path,
                   int         version,
                   GError    **error)
{
  g_autoptr (FacetStore) store = store_new (path);
  int fd;

  g_return_val_if_fail (version >= 1 && version <= FACET_STORE_SCHEMA_VERSION, NULL);

  /* O_EXCL: never write a schema over someone's file. */
  fd = g_open (store->path, O_WRONLY | O_CREAT | O_EXCL, 0666);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, FACET_STORE_ERROR,
                   saved == EEXIST ? FACET_STORE_ERROR_EXISTS : FACET_STORE_ERROR_IO,
                   "%s: %s", store->path,
                   saved == EEXIST ? "a file with this name exists already" : g_strerror (saved));
      return NULL;
    }
  close (fd);

  if (!open_connection (store, SQLITE_OPEN_READWRITE, error)
      || !store_exec (store, "PRAGMA journal_mode = WAL", error)
      || !migrate (store, version, error)
      || !configure_connection (store, error)
      || !read_meta (store, error))
    {
      g_autofree char *wal = g_strconcat (store->path, "-wal", NULL);
      g_autofree char *shm = g_strconcat (store->path, "-shm", NULL);
      sqlite3_close (store->db);
      store->db = NULL;
      g_unlink (store->path);
      g_unlink (wal);
      g_unlink (shm);
      return NULL;
    }
  return g_steal_pointer (&store);
}

/**
 * facet_store_create:
 *
 * Makes a new, empty project at @path (which must not exist).
 */
FacetStore *
facet_store_create (const char *path,
                    GError    **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  return create_at_version (path, FACET_STORE_SCHEMA_VERSION, error);
}

FacetStore *
facet_store_create_at_version (const char *path,
                               int         version,
                               GError    **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  return create_at_version (path, version, error);
}

FacetStore *
facet_store_open (const char *path,
                  GError    **error)
{
  g_autoptr (FacetStore) store = NULL;
  int version = 0;

  g_return_val_if_fail (path != NULL, NULL);

  store = store_new (path);
  if (!g_file_test (store->path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                   "%s: no such project file", store->path);
      return NULL;
    }
  /* Look before writing anything: a newer file must stay byte for byte. */
  if (!probe_file (store, &version, error))
    return NULL;
  if (!open_connection (store, SQLITE_OPEN_READWRITE, error))
    return NULL;
  if (version < FACET_STORE_SCHEMA_VERSION
      && (!store_exec (store, "PRAGMA journal_mode = WAL", error)
          || !migrate (store, FACET_STORE_SCHEMA_VERSION, error)))
    return NULL;
  if (!configure_connection (store, error) || !read_meta (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

const char *
facet_store_get_path (FacetStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->path;
}

const char *
facet_store_get_folder (FacetStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->folder;
}

const char *
facet_store_get_project_id (FacetStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->project_id;
}

int
facet_store_get_schema_version (FacetStore *store)
{
  g_return_val_if_fail (store != NULL, 0);
  return store->version;
}

gboolean
facet_store_exec_sql (FacetStore *store,
                      const char *sql,
                      GError    **error)
{
  gboolean ok;

  g_return_val_if_fail (store != NULL && sql != NULL, FALSE);
  store_lock (store);
  ok = store_exec (store, sql, error);
  store_unlock_and_notify (store);
  return ok;
}

gboolean
facet_store_check_integrity (FacetStore *store,
                             GError    **error)
{
  g_autofree char *result = NULL, *table = NULL;
  gint64 n;

  g_return_val_if_fail (store != NULL, FALSE);

  store_lock (store);
  n = store_query_once (store, "PRAGMA integrity_check", store_row_text, &result, error);
  if (n > 0 && g_strcmp0 (result, "ok") != 0)
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT, "%s: damaged: %s",
                   store->path, result);
      n = -1;
    }
  else if (n >= 0)
    {
      n = store_query_once (store, "PRAGMA foreign_key_check", store_row_text, &table, error);
      if (n > 0)
        g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_CORRUPT,
                     "%s: a row of table %s points at a missing row", store->path, table);
    }
  store_unlock_and_notify (store);
  return n == 0;
}

/* ---- Subjects and coders ------------------------------------------------------ */

void
facet_store_subject_free (FacetStoreSubject *subject)
{
  if (subject == NULL)
    return;
  g_free (subject->name);
  g_free (subject);
}

static gboolean
subject_row (sqlite3_stmt *row,
             gpointer      data,
             GError      **error)
{
  FacetStoreSubject *s = g_new0 (FacetStoreSubject, 1);

  s->id = sqlite3_column_int64 (row, 0);
  s->name = g_strdup (store_column_text (row, 1));
  s->n_videos = (guint) sqlite3_column_int (row, 2);
  g_ptr_array_add (data, s);
  return TRUE;
}

static gboolean
check_name (const char *what,
            const char *name,
            GError    **error)
{
  if (name == NULL || *name == '\0' || strlen (name) > 4096
      || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_INVALID,
                   "%s name must be UTF-8 text of 1 to 4096 bytes", what);
      return FALSE;
    }
  return TRUE;
}

/* Inside a transaction: the id of the subject, added when new. */
static gint64
subject_id_locked (FacetStore *store,
                   const char *name,
                   GError    **error)
{
  gint64 id = 0, n;

  n = store_query (store, "SELECT id FROM subjects WHERE name = ?", store_row_int64, &id, error,
                   STORE_TEXT (name));
  if (n != 0)
    return id;
  if (!store_query_run (store, "INSERT INTO subjects (name, created) VALUES (?, ?)", error,
                        STORE_TEXT (name), STORE_REAL (store_time_now ())))
    return 0;
  return sqlite3_last_insert_rowid (store->db);
}

gint64
store_subject_id (FacetStore *store,
                  const char *name,
                  GError    **error)
{
  return subject_id_locked (store, name, error);
}

gint64
facet_store_add_subject (FacetStore *store,
                         const char *name,
                         GError    **error)
{
  gint64 id = 0;

  g_return_val_if_fail (store != NULL, 0);
  if (!check_name ("a subject", name, error))
    return 0;

  store_lock (store);
  if (store_begin (store, error))
    {
      id = subject_id_locked (store, name, error);
      if (id == 0 || !store_commit (store, error))
        {
          if (store->tx_depth > 0)
            store_rollback (store);
          id = 0;
        }
    }
  store_unlock_and_notify (store);
  return id;
}

GPtrArray *
facet_store_list_subjects (FacetStore *store,
                           GError    **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_subject_free);

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store,
                   "SELECT s.id, s.name, (SELECT count(*) FROM videos v WHERE v.subject_id = s.id) "
                   "FROM subjects s ORDER BY s.id", subject_row, out, error) < 0)
    return NULL;
  return g_steal_pointer (&out);
}

void
facet_store_set_coder (FacetStore *store,
                       const char *name)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (name != NULL && *name != '\0');

  store_lock (store);
  g_free (store->coder);
  store->coder = g_utf8_make_valid (name, MIN (strlen (name), 256));
  store->coder_id = 0;
  store_unlock_and_notify (store);
}

const char *
facet_store_get_coder (FacetStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->coder;
}

/* Inside a transaction: the current coder's row, made on first use. */
gint64
store_coder_id (FacetStore *store,
                GError    **error)
{
  gint64 n;

  if (store->coder_id != 0)
    {
      /* A rolled-back transaction may have taken the row with it. */
      n = store_query (store, "SELECT 1 FROM coders WHERE id = ?", NULL, NULL, error,
                       STORE_INT (store->coder_id));
      if (n < 0)
        return 0;
      if (n > 0)
        return store->coder_id;
      store->coder_id = 0;
    }
  if (!store_layer_id (store, store->coder, TRUE, &store->coder_id, error))
    {
      store->coder_id = 0;
      return 0;
    }
  return store->coder_id;
}

gboolean
store_layer_id (FacetStore *store,
                const char *name,
                gboolean    create,
                gint64     *id,
                GError    **error)
{
  gint64 n;

  *id = 0;
  if (name == NULL)
    return TRUE;
  n = store_query (store, "SELECT id FROM coders WHERE name = ?", store_row_int64, id, error,
                   STORE_TEXT (name));
  if (n < 0)
    {
      *id = -1;
      return FALSE;
    }
  if (n > 0 || !create)
    {
      if (n == 0)
        *id = -1;
      return TRUE;
    }
  if (!store_query_run (store, "INSERT INTO coders (name, created) VALUES (?, ?)", error,
                        STORE_TEXT (name), STORE_REAL (store_time_now ())))
    return FALSE;
  *id = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

gboolean
store_current_layer (FacetStore *store,
                     gboolean    create,
                     gint64     *id,
                     GError    **error)
{
  return store_layer_id (store, store->layer, create, id, error);
}

void
facet_store_set_layer (FacetStore *store,
                       const char *coder)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (coder == NULL || *coder != '\0');

  store_lock (store);
  g_free (store->layer);
  store->layer = coder ? g_utf8_make_valid (coder, MIN (strlen (coder), 256)) : NULL;
  store_unlock_and_notify (store);
}

const char *
facet_store_get_layer (FacetStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->layer;
}

GStrv
facet_store_list_layers (FacetStore *store,
                         GError    **error)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store,
                   "SELECT name FROM coders WHERE id IN (SELECT DISTINCT layer FROM changesets "
                   "WHERE layer != 0) ORDER BY name", store_row_strv, b, error) < 0)
    return NULL;
  return g_strv_builder_end (b);
}

GStrv
facet_store_list_coders (FacetStore *store,
                         GError    **error)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

  g_return_val_if_fail (store != NULL, NULL);

  if (store_query (store, "SELECT name FROM coders ORDER BY id", store_row_strv, b, error) < 0)
    return NULL;
  return g_strv_builder_end (b);
}

/* ---- Small shared helpers --------------------------------------------------------- */

gboolean
store_video_exists (FacetStore *store,
                    gint64      video_id,
                    gint64     *n_frames,
                    GError    **error)
{
  gint64 frames = 0, n;

  n = store_query (store, "SELECT n_frames FROM videos WHERE id = ?", store_row_int64, &frames,
                   error, STORE_INT (video_id));
  if (n == 0)
    store_set_not_found (store, "video", video_id, error);
  if (n > 0 && n_frames != NULL)
    *n_frames = frames;
  return n > 0;
}

void
store_pack_probs (const float *probs,
                  int          n,
                  guint8      *out)
{
  for (int i = 0; i < n; i++)
    {
      float p = probs[i];
      guint16 q;
      if (!(p > 0.0f)) /* also NaN */
        p = 0.0f;
      if (p > 1.0f)
        p = 1.0f;
      q = (guint16) lrintf (p * 65535.0f);
      out[2 * i] = (guint8) (q & 0xff);
      out[2 * i + 1] = (guint8) (q >> 8);
    }
}

void
store_unpack_probs (const guint8 *blob,
                    int           blob_bytes,
                    int           n,
                    float        *out)
{
  for (int i = 0; i < n; i++)
    {
      if (blob == NULL || 2 * i + 1 >= blob_bytes)
        out[i] = NAN;
      else
        out[i] = (float) (blob[2 * i] | (blob[2 * i + 1] << 8)) / 65535.0f;
    }
}

gboolean
store_parse_au_list (const char *text,
                     int       **au_ids,
                     int        *n_aus)
{
  g_auto (GStrv) parts = NULL;
  g_autofree int *ids = NULL;
  guint n;

  *au_ids = NULL;
  *n_aus = 0;
  if (text == NULL || *text == '\0')
    return TRUE;
  parts = g_strsplit (text, ",", -1);
  n = g_strv_length (parts);
  ids = g_new (int, n);
  for (guint i = 0; i < n; i++)
    {
      gint64 v;
      if (!g_ascii_string_to_signed (g_strstrip (parts[i]), 10, 1, 99, &v, NULL))
        return FALSE;
      ids[i] = (int) v;
    }
  *au_ids = g_steal_pointer (&ids);
  *n_aus = (int) n;
  return TRUE;
}
