/* store-private.h — what the store's source files share: the connection,
 * statement cache, transactions with retry, and small helpers. */
#pragma once

#include <sqlite3.h>

#include "facet-store.h"

G_BEGIN_DECLS

struct _FacetStore
{
  GRecMutex   lock;       /* one caller at a time on the connection */
  sqlite3    *db;
  char       *path;
  char       *folder;
  char       *project_id;
  char       *coder;
  gint64      coder_id;   /* 0 until the coder's row exists */
  char       *layer;      /* the current layer's coder, NULL: the final layer */
  int         version;
  GHashTable *statements; /* SQL text -> sqlite3_stmt */
  int         tx_depth;
  int         lock_depth;
  gboolean    tx_failed;  /* an inner part of a nested transaction failed */
  GArray     *watches;    /* StoreWatch */
  guint       next_watch;
  /* Changes of the running transaction, announced after the commit. */
  guint       pending_what;
  gint64      pending_video;
  gint64      pending_first;
  gint64      pending_last;
};

/* Every public function takes the lock with store_lock() and leaves with
 * store_unlock_and_notify(), which calls the watchers once the outermost
 * lock is gone. */
void          store_lock           (FacetStore   *store);

/* Cached prepared statement, reset and with cleared bindings. The cache
 * is keyed by the address of @sql: pass string literals (or other text
 * that lives as long as the program), never built strings. */
sqlite3_stmt *store_prepare        (FacetStore   *store,
                                    const char   *sql,
                                    GError      **error);
/* A one-off statement (the caller finalizes it). */
sqlite3_stmt *store_prepare_once   (FacetStore   *store,
                                    const char   *sql,
                                    GError      **error);
gboolean      store_exec           (FacetStore   *store,
                                    const char   *sql,
                                    GError      **error);
/* sqlite3_step with the error mapped; SQLITE_ROW/SQLITE_DONE or -1. */
int           store_step           (FacetStore   *store,
                                    sqlite3_stmt *stmt,
                                    GError      **error);
/* "PROJECT: there is no WHAT ID in the project" (FACET_STORE_ERROR_NOT_FOUND). */
void          store_set_not_found  (FacetStore   *store,
                                    const char   *what,
                                    gint64        id,
                                    GError      **error);
/* Runs @sql (a SELECT with one parameter, the id) under the store's lock
 * and returns @from_row of its first row, or NULL with NOT_FOUND naming
 * @what and @id. */
gpointer      store_get_by_id      (FacetStore   *store,
                                    const char   *sql,
                                    gint64        id,
                                    const char   *what,
                                    gpointer    (*from_row) (sqlite3_stmt *stmt),
                                    GError      **error);
/* Steps a statement that returns no rows, then resets it. */
gboolean      store_run            (FacetStore   *store,
                                    sqlite3_stmt *stmt,
                                    GError      **error);
void          store_set_error      (FacetStore   *store,
                                    GError      **error,
                                    int           rc,
                                    const char   *what);

/* BEGIN IMMEDIATE, retried while another process holds the write lock
 * (up to FACET_STORE_BUSY_SECONDS); nested calls join the outer one. */
gboolean      store_begin          (FacetStore   *store,
                                    GError      **error);
/* Commits (announcing the changes to watchers once unlocked by the caller
 * through store_unlock_and_notify) or, on failure, rolls back. */
gboolean      store_commit         (FacetStore   *store,
                                    GError      **error);
void          store_rollback       (FacetStore   *store);
/* Records what the running transaction changes (also bumps the counter). */
gboolean      store_note_change    (FacetStore   *store,
                                    FacetStoreChange what,
                                    gint64        video_id,
                                    gint64        first,
                                    gint64        last,
                                    GError      **error);
/* Unlocks and calls the watchers for what the last commit changed. */
void          store_unlock_and_notify (FacetStore *store);

/* Writes into layer @layer (see store_layer_id); @taken_from goes into the
 * history rows (resolutions), NULL otherwise. */
gint64        store_write_labels_locked (FacetStore        *store,
                                         gint64             layer,
                                         const FacetLabel  *labels,
                                         gsize              n,
                                         FacetChangesetKind kind,
                                         const char        *description,
                                         const char        *taken_from,
                                         GError           **error);
/* The layer value stored in labels.layer for the layer of coder @name: 0 for
 * NULL (the final layer), else the coder's row id. A coder without a row
 * gets one when @create (inside a transaction), else -1, which matches no
 * label. FALSE on a database error. */
gboolean      store_layer_id       (FacetStore   *store,
                                    const char   *name,
                                    gboolean      create,
                                    gint64       *id,
                                    GError      **error);
/* The current layer's value (as above) for reading; -1 on error is not
 * distinguishable from "no such layer", so readers pass @error. */
gboolean      store_current_layer  (FacetStore   *store,
                                    gboolean      create,
                                    gint64       *id,
                                    GError      **error);
gint64        store_subject_id     (FacetStore   *store,
                                    const char   *name,
                                    GError      **error);
gint64        store_coder_id       (FacetStore   *store,
                                    GError      **error);
gboolean      store_video_exists   (FacetStore   *store,
                                    gint64        video_id,
                                    gint64       *n_frames,
                                    GError      **error);
double        store_time_now       (void);
const char   *store_column_text    (sqlite3_stmt *stmt,
                                    int           column);
gboolean      store_au_valid       (int           au);

/* Probabilities are stored as little-endian uint16 (p * 65535). */
void          store_pack_probs     (const float  *probs,
                                    int           n,
                                    guint8       *out);
void          store_unpack_probs   (const guint8 *blob,
                                    int           blob_bytes,
                                    int           n,
                                    float        *out);

/* Inside a transaction: recomputes the timeline summaries of blocks
 * [first_block, last_block] (-1: to the end) of one model and video from
 * the predictions. */
gboolean      store_update_blocks  (FacetStore   *store,
                                    gint64        model_id,
                                    gint64        video_id,
                                    gint64        first_block,
                                    gint64        last_block,
                                    GError      **error);
/* ... of every (model, video) with predictions, or of one when given. */
gboolean      store_rebuild_blocks (FacetStore   *store,
                                    gint64        model_id,
                                    gint64        video_id,
                                    GError      **error);

/* Shared by the exports and the review queue: per-AU thresholds of a model,
 * or @threshold for all when it is a number. */
float        *store_model_thresholds (const FacetStoreModel *model,
                                      float                  threshold);
/* Parses "1,2,4" into an int array; FALSE on junk. */
gboolean      store_parse_au_list  (const char   *text,
                                    int         **au_ids,
                                    int          *n_aus);
char         *store_video_display_name (const FacetStoreVideo *video);

G_END_DECLS
