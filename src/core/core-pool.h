/* core-pool.h — a small worker pool for data-parallel loops
 *
 * The workers sleep on a condition variable when idle: they never spin, so
 * they do not fight OpenBLAS's own threads for the cores.
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
