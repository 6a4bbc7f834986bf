/* core-pool.c — a sleeping worker pool for parallel loops
 *
 * One loop runs at a time (callers are serialised); the calling thread works
 * too. Nested calls from inside a loop body run serially, so a parallel
 * kernel may call another without deadlock.
 */
#define G_LOG_DOMAIN "facet-core"

#include "config.h"

#include "core-pool.h"

#define MAX_THREADS 64

typedef struct
{
  GMutex            lock;       /* serialises whole loops */
  GMutex            state_lock;
  GCond             work_cond;
  GCond             done_cond;
  GThread          *threads[MAX_THREADS];
  guint             n_threads;  /* including the caller */
  guint             n_started;  /* worker threads created */
  guint64           generation;
  FacetParallelFunc func;
  gpointer          user_data;
  guint             n;
  gint              next;       /* atomic: next index to take */
  guint             active;     /* workers still inside this generation */
  guint             limit;      /* workers with a lower index take part */
} Pool;

static Pool pool;
static GPrivate in_loop;

static guint
default_threads (void)
{
  const char *env = g_getenv ("FACET_THREADS");
  guint64 n = 0;

  if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, MAX_THREADS, &n, NULL))
    return (guint) n;
  return CLAMP (g_get_num_processors (), 1, MAX_THREADS);
}

static void
run_items (void)
{
  for (;;)
    {
      gint i = g_atomic_int_add (&pool.next, 1);
      if (i < 0 || (guint) i >= pool.n)
        break;
      pool.func ((guint) i, pool.user_data);
    }
}

static gpointer
worker_main (gpointer data)
{
  guint64 seen = 0;
  guint index = GPOINTER_TO_UINT (data);

  g_private_set (&in_loop, GINT_TO_POINTER (1));
  for (;;)
    {
      g_mutex_lock (&pool.state_lock);
      while (pool.generation == seen)
        g_cond_wait (&pool.work_cond, &pool.state_lock);
      seen = pool.generation;
      g_mutex_unlock (&pool.state_lock);

      if (index < pool.limit)
        run_items ();

      g_mutex_lock (&pool.state_lock);
      if (--pool.active == 0)
        g_cond_signal (&pool.done_cond);
      g_mutex_unlock (&pool.state_lock);
    }
  return NULL;
}

static void
ensure_init (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      g_mutex_init (&pool.lock);
      g_mutex_init (&pool.state_lock);
      g_cond_init (&pool.work_cond);
      g_cond_init (&pool.done_cond);
      pool.n_threads = default_threads ();
      g_once_init_leave (&once, 1);
    }
}

guint
facet_parallel_get_threads (void)
{
  ensure_init ();
  return pool.n_threads;
}

/**
 * facet_parallel_set_threads:
 *
 * Sets how many threads (the caller included) later loops use; 0 means one
 * per processor, or FACET_THREADS from the environment.
 */
void
facet_parallel_set_threads (guint n_threads)
{
  ensure_init ();
  g_mutex_lock (&pool.lock);
  pool.n_threads = n_threads == 0 ? default_threads () : MIN (n_threads, MAX_THREADS);
  g_mutex_unlock (&pool.lock);
}

/**
 * facet_parallel_for:
 *
 * Calls @func for every index in [0, @n), spread over the pool, and returns
 * when all calls have returned. The order of calls is unspecified.
 */
void
facet_parallel_for (guint             n,
                    FacetParallelFunc func,
                    gpointer          user_data)
{
  guint workers;

  g_return_if_fail (func != NULL);

  if (n == 0)
    return;

  ensure_init ();

  if (n == 1 || g_private_get (&in_loop) != NULL || pool.n_threads <= 1)
    {
      for (guint i = 0; i < n; i++)
        func (i, user_data);
      return;
    }

  g_mutex_lock (&pool.lock);
  workers = MIN (pool.n_threads, n) - 1;
  while (pool.n_started < workers)
    {
      pool.threads[pool.n_started] = g_thread_new ("facet-worker", worker_main,
                                                  GUINT_TO_POINTER (pool.n_started));
      pool.n_started++;
    }

  g_mutex_lock (&pool.state_lock);
  pool.func = func;
  pool.user_data = user_data;
  pool.n = n;
  pool.limit = workers;
  g_atomic_int_set (&pool.next, 0);
  /* Every started worker wakes for a generation; idle ones find no work. */
  pool.active = pool.n_started;
  pool.generation++;
  g_cond_broadcast (&pool.work_cond);
  g_mutex_unlock (&pool.state_lock);

  g_private_set (&in_loop, GINT_TO_POINTER (1));
  run_items ();
  g_private_set (&in_loop, NULL);

  g_mutex_lock (&pool.state_lock);
  while (pool.active > 0)
    g_cond_wait (&pool.done_cond, &pool.state_lock);
  g_mutex_unlock (&pool.state_lock);

  g_mutex_unlock (&pool.lock);
}
