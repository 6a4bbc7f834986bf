/* store-query.c — one call for the store's lock, prepare, bind, step,
 * reset and unlock sequence (store_query and its row callbacks; the
 * contract is in store-private.h). */
#define G_LOG_DOMAIN "facet-store"

#include "config.h"

#include "store-private.h"

static gboolean
bind_values (FacetStore       *store,
             sqlite3_stmt     *st,
             const StoreValue *values,
             gsize             n_values,
             GError          **error)
{
  for (gsize i = 0; i < n_values; i++)
    {
      const StoreValue *v = &values[i];
      int k = (int) i + 1, rc = SQLITE_OK;

      /* The helper clears the bindings before it returns, so SQLite never
       * keeps a pointer past the call: the caller's memory need not be
       * copied. */
      switch (v->type)
        {
        case STORE_VALUE_INT:
          rc = sqlite3_bind_int64 (st, k, v->i);
          break;
        case STORE_VALUE_REAL:
          rc = sqlite3_bind_double (st, k, v->d);
          break;
        case STORE_VALUE_TEXT:
          rc = v->p == NULL ? sqlite3_bind_null (st, k)
                            : sqlite3_bind_text (st, k, v->p, v->n, SQLITE_STATIC);
          break;
        case STORE_VALUE_BLOB:
          rc = v->p == NULL ? sqlite3_bind_null (st, k)
                            : sqlite3_bind_blob (st, k, v->p, v->n, SQLITE_STATIC);
          break;
        case STORE_VALUE_NULL:
          rc = sqlite3_bind_null (st, k);
          break;
        default:
          g_assert_not_reached ();
        }
      if (rc != SQLITE_OK)
        {
          store_set_error (store, error, rc, "binding a query parameter");
          return FALSE;
        }
    }
  return TRUE;
}

/* Steps @st through its rows; the statement is left for the caller to
 * reset. */
static gint64
step_rows (FacetStore   *store,
           sqlite3_stmt *st,
           StoreRowFunc  row,
           gpointer      data,
           GError      **error)
{
  gint64 n = 0;
  int rc;

  while ((rc = store_step (store, st, error)) == SQLITE_ROW)
    {
      GError *local = NULL;

      n++;
      if (row == NULL)
        continue;
      if (!row (st, data, &local))
        {
          if (local == NULL)
            return n;
          g_propagate_error (error, local);
          return -1;
        }
    }
  return rc == SQLITE_DONE ? n : -1;
}

gint64
store_query_full (FacetStore       *store,
                  StoreQueryFlags   flags,
                  const char       *sql,
                  StoreRowFunc      row,
                  gpointer          data,
                  GError          **error,
                  const StoreValue *values,
                  gsize             n_values)
{
  sqlite3_stmt *st;
  gint64 n = -1;

  g_assert (store != NULL && sql != NULL);
  g_assert (n_values == 0 || values != NULL);

  store_lock (store);
  st = (flags & STORE_QUERY_ONCE) ? store_prepare_once (store, sql, error)
                                  : store_prepare (store, sql, error);
  if (st != NULL)
    {
      if (bind_values (store, st, values, n_values, error))
        n = step_rows (store, st, row, data, error);
      if (flags & STORE_QUERY_ONCE)
        sqlite3_finalize (st);
      else
        {
          sqlite3_reset (st);
          sqlite3_clear_bindings (st);
        }
    }
  store_unlock_and_notify (store);
  return n;
}

/* ---- Row callbacks for the common shapes ----------------------------------- */

gboolean
store_row_int64 (sqlite3_stmt *row,
                 gpointer      data,
                 GError      **error)
{
  *(gint64 *) data = sqlite3_column_int64 (row, 0);
  return FALSE;
}

gboolean
store_row_int (sqlite3_stmt *row,
               gpointer      data,
               GError      **error)
{
  *(int *) data = sqlite3_column_int (row, 0);
  return FALSE;
}

gboolean
store_row_double (sqlite3_stmt *row,
                  gpointer      data,
                  GError      **error)
{
  *(double *) data = sqlite3_column_double (row, 0);
  return FALSE;
}

gboolean
store_row_text (sqlite3_stmt *row,
                gpointer      data,
                GError      **error)
{
  char **out = data;

  g_free (*out);
  *out = g_strdup (store_column_text (row, 0));
  return FALSE;
}

gboolean
store_row_strv (sqlite3_stmt *row,
                gpointer      data,
                GError      **error)
{
  g_strv_builder_add (data, store_column_text (row, 0));
  return TRUE;
}

gboolean
store_row_int64_array (sqlite3_stmt *row,
                       gpointer      data,
                       GError      **error)
{
  int n = sqlite3_column_count (row);

  for (int c = 0; c < n; c++)
    {
      gint64 v = sqlite3_column_int64 (row, c);
      g_array_append_val ((GArray *) data, v);
    }
  return TRUE;
}

gboolean
store_row_int_array (sqlite3_stmt *row,
                     gpointer      data,
                     GError      **error)
{
  int n = sqlite3_column_count (row);

  for (int c = 0; c < n; c++)
    {
      int v = sqlite3_column_int (row, c);
      g_array_append_val ((GArray *) data, v);
    }
  return TRUE;
}
