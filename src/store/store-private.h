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

/* ---- Queries (store-query.c) ------------------------------------------------
 *
 *   gint64 id = 0;
 *   int found = store_query (store, "SELECT id FROM coders WHERE name = ?",
 *                            store_row_int64, &id, error, STORE_TEXT (name));
 *   if (!store_query_run (store, "UPDATE videos SET path = ? WHERE id = ?", error,
 *                         STORE_TEXT (rel), STORE_INT (video_id)))
 *     ...
 *
 * store_query() takes the store's lock, prepares @sql (from the statement
 * cache, so @sql must be a literal: see store_prepare), binds the values in
 * order to the `?` parameters, calls @row for each result row, resets the
 * statement, clears its bindings and unlocks. It returns the number of
 * rows seen (0 for a statement without rows), or -1 with @error set
 * ("PROJECT: sqlite's message (running a query)", as store_step).
 *
 * Values (type-checked by the compiler, one per `?`):
 *   STORE_INT (x)     any integer (bound as int64)
 *   STORE_REAL (x)    a double
 *   STORE_TEXT (s)    UTF-8 text up to its NUL, NULL binds SQL NULL
 *   STORE_TEXT_LEN (s, n), STORE_BLOB (p, n)   @n bytes at @p (NULL: SQL NULL)
 *   STORE_NULL        SQL NULL
 * Text and blobs are borrowed, not copied: they need to live only for the
 * call (the bindings are cleared before it returns).
 *
 * Row callbacks read the current row with sqlite3_column_*() (column
 * pointers are valid only inside the callback: copy what you keep). They
 * return TRUE for the next row, FALSE to stop; a callback that stops with
 * @error set makes the query fail (-1, the error passed on). They run with
 * the store's lock held, so they may call other store_* functions, but
 * never the same SQL text (it is the same cached statement) and nothing
 * that waits for another thread using this store.
 *
 * Threads: as every store function, any thread; the lock is recursive, so
 * a query inside a transaction (store_begin) joins it. Write statements
 * belong inside a transaction, as before.
 *
 * STORE_QUERY_ONCE (store_query_once, store_query_run_once) prepares a
 * statement for this call only: SQL built at run time, statements on an
 * attached database, rare maintenance queries. */

typedef enum
{
  STORE_VALUE_NULL,
  STORE_VALUE_INT,
  STORE_VALUE_REAL,
  STORE_VALUE_TEXT,
  STORE_VALUE_BLOB,
} StoreValueType;

typedef struct
{
  StoreValueType type;
  int            n;       /* text/blob bytes; -1: text up to its NUL */
  union
  {
    gint64        i;
    double        d;
    gconstpointer p;
  };
} StoreValue;

#define STORE_INT(x)          ((StoreValue) { .type = STORE_VALUE_INT, .i = (x) })
#define STORE_REAL(x)         ((StoreValue) { .type = STORE_VALUE_REAL, .d = (x) })
#define STORE_TEXT(s)         ((StoreValue) { .type = STORE_VALUE_TEXT, .p = (const char *) (s), .n = -1 })
#define STORE_TEXT_LEN(s, len) ((StoreValue) { .type = STORE_VALUE_TEXT, .p = (const char *) (s), .n = (len) })
#define STORE_BLOB(ptr, len)  ((StoreValue) { .type = STORE_VALUE_BLOB, .p = (ptr), .n = (len) })
#define STORE_NULL            ((StoreValue) { .type = STORE_VALUE_NULL })

typedef enum
{
  STORE_QUERY_CACHED = 0,
  STORE_QUERY_ONCE   = 1 << 0,
} StoreQueryFlags;

/* Reads the current row of @row; see above. */
typedef gboolean (*StoreRowFunc) (sqlite3_stmt *row,
                                  gpointer      data,
                                  GError      **error);

gint64        store_query_full     (FacetStore       *store,
                                    StoreQueryFlags   flags,
                                    const char       *sql,
                                    StoreRowFunc      row,
                                    gpointer          data,
                                    GError          **error,
                                    const StoreValue *values,
                                    gsize             n_values);

/* The values as an array and its length (none is allowed). */
#define STORE_VALUES(...) \
  (const StoreValue[]) { __VA_ARGS__ }, \
  (sizeof ((const StoreValue[]) { __VA_ARGS__ }) / sizeof (StoreValue))

#define store_query(store, sql, row, data, error, ...) \
  store_query_full ((store), STORE_QUERY_CACHED, (sql), (row), (data), (error), \
                    STORE_VALUES (__VA_ARGS__))
#define store_query_once(store, sql, row, data, error, ...) \
  store_query_full ((store), STORE_QUERY_ONCE, (sql), (row), (data), (error), \
                    STORE_VALUES (__VA_ARGS__))
/* A statement whose rows, if any, are not read: TRUE or FALSE with @error. */
#define store_query_run(store, sql, error, ...) \
  (store_query_full ((store), STORE_QUERY_CACHED, (sql), NULL, NULL, (error), \
                     STORE_VALUES (__VA_ARGS__)) >= 0)
#define store_query_run_once(store, sql, error, ...) \
  (store_query_full ((store), STORE_QUERY_ONCE, (sql), NULL, NULL, (error), \
                     STORE_VALUES (__VA_ARGS__)) >= 0)

/* Row callbacks for the common shapes. The first four read column 0 of the
 * first row into @data (gint64 *, int *, double *, or char ** that is NULL
 * or owned: the caller frees the copy) and stop; the others collect every
 * row. */
gboolean      store_row_int64      (sqlite3_stmt *row, gpointer data, GError **error);
gboolean      store_row_int        (sqlite3_stmt *row, gpointer data, GError **error);
gboolean      store_row_double     (sqlite3_stmt *row, gpointer data, GError **error);
gboolean      store_row_text       (sqlite3_stmt *row, gpointer data, GError **error);
/* Column 0 into a GStrvBuilder (NULL as ""); every column, in order, into
 * a GArray of gint64 / of int (two columns: pairs one after the other). */
gboolean      store_row_strv       (sqlite3_stmt *row, gpointer data, GError **error);
gboolean      store_row_int64_array (sqlite3_stmt *row, gpointer data, GError **error);
gboolean      store_row_int_array  (sqlite3_stmt *row, gpointer data, GError **error);

/* Every public function takes the lock with store_lock() and leaves with
 * store_unlock_and_notify(), which calls the watchers once the outermost
 * lock is gone. */
void          store_lock           (FacetStore   *store);

/* The building blocks of store_query (below); new code calls store_query.
 *
 * Cached prepared statement. The cache is keyed by the address of @sql:
 * pass string literals (or other text that lives as long as the program),
 * never built strings. The compiler may merge equal literals, so equal SQL
 * text is one statement. Cached statements rest reset and with cleared
 * bindings: store_query leaves them so, and so must any other caller. */
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

/* store-notes.c: the scheme's AUs the model lacks joined to an export's
 * (threshold 0.5, no prediction: labels decide them); the marked events
 * and notes of @video as two tiers of an ELAN document (slots appended to
 * its TIME_ORDER). */
gboolean      store_scheme_extend  (FacetStore   *store,
                                    int         **aus,
                                    float       **thresholds,
                                    int          *n_aus,
                                    GError      **error);
/* Rows of the events export for the events coders marked in @video. */
gboolean      store_events_csv_add_marked (FacetStore            *store,
                                           const FacetStoreVideo *video,
                                           GString               *out,
                                           GError               **error);
struct _xmlNode;
gboolean      store_eaf_add_marks  (FacetStore            *store,
                                    const FacetStoreVideo *video,
                                    struct _xmlNode       *root,
                                    guint                 *annotation,
                                    GError               **error);

G_END_DECLS
