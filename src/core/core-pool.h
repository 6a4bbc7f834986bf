/* core-pool.h — a small worker pool for data-parallel loops
 *
 * The workers sleep on a condition variable when idle: they never spin, so
 * they do not fight OpenBLAS's own threads for the cores.
 *
 * Threads: one pool per process, started on first use. Any thread may call
 * facet_parallel_for(); one loop runs at a time (callers from different
 * threads take turns) and the caller works too; a call from inside a loop
 * body runs serially in that thread. @func runs on the workers and the
 * caller at once: it must only write what its @index owns.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef void (*FacetParallelFunc) (guint    index,
                                   gpointer user_data);

void  facet_parallel_for         (guint             n,
                                  FacetParallelFunc func,
                                  gpointer          user_data);
guint facet_parallel_get_threads (void);
void  facet_parallel_set_threads (guint             n_threads);

G_END_DECLS
