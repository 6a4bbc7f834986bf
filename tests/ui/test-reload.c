/* test-reload.c — FacetReload (one load at a time, coalesced, stale answers
 * dropped), FacetTaskSet (stopping worker threads at quit) and
 * facet_invoke_weak (a worker's report to a main-context object that may be
 * gone), without a display: real GTasks and threads, held at a gate the
 * test opens. */
#include "config.h"

#include <gio/gio.h>

#include "facet-invoke.h"
#include "facet-reload.h"
#include "facet-task-set.h"

typedef struct
{
  GObject      *owner;
  FacetReload  *reload;
  int           value;      /* what the next load reads */
  gboolean      nothing;    /* start says there is nothing to load */
  guint         starts;
  GArray       *answers;    /* int: the values of the answers taken */
  GAsyncQueue  *gate;       /* a load ends when it pops a token */
  GCancellable *last;       /* of the last load started */
} Fixture;

static Fixture *
fixture_of (GObject *owner)
{
  return g_object_get_data (owner, "fixture");
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Fixture *fx = task_data;

  g_async_queue_pop (fx->gate);
  g_task_return_int (task, GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "value")));
}

static gboolean
start (GObject             *owner,
       GCancellable        *cancellable,
       GAsyncReadyCallback  callback,
       gpointer             data)
{
  Fixture *fx = fixture_of (owner);
  g_autoptr (GTask) task = NULL;

  if (fx->nothing)
    return FALSE;
  fx->starts++;
  g_set_object (&fx->last, cancellable);
  /* No source object: the reference that keeps the owner is the reload's. */
  task = g_task_new (NULL, cancellable, callback, data);
  /* The answer comes even when cancelled: the reload must drop it. */
  g_task_set_check_cancellable (task, FALSE);
  g_object_set_data (G_OBJECT (task), "value", GINT_TO_POINTER (fx->value));
  g_task_set_task_data (task, fx, NULL);
  g_task_run_in_thread (task, load_thread);
  return TRUE;
}

static void
done (GObject      *owner,
      GObject      *source,
      GAsyncResult *result)
{
  Fixture *fx = fixture_of (owner);
  int value = (int) g_task_propagate_int (G_TASK (result), NULL);

  g_assert_null (source);
  g_array_append_val (fx->answers, value);
}

static void
fixture_init (Fixture *fx)
{
  fx->owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_data (fx->owner, "fixture", fx);
  fx->reload = facet_reload_new (fx->owner, start, done);
  fx->answers = g_array_new (FALSE, FALSE, sizeof (int));
  fx->gate = g_async_queue_new ();
}

static void
fixture_clear (Fixture *fx)
{
  g_assert_false (facet_reload_is_busy (fx->reload));
  g_assert_cmpuint (G_OBJECT (fx->owner)->ref_count, ==, 1);
  g_clear_pointer (&fx->reload, facet_reload_free);
  g_clear_object (&fx->owner);
  g_clear_object (&fx->last);
  g_array_unref (fx->answers);
  g_async_queue_unref (fx->gate);
}

/* Opens the gate for one load and waits until its answer was taken (and
 * a coalesced reload, if any, has started). */
static void
finish_one (Fixture *fx)
{
  guint starts = fx->starts;
  guint answers = fx->answers->len;
  GCancellable *running = fx->last;

  g_async_queue_push (fx->gate, GINT_TO_POINTER (1));
  while (facet_reload_is_busy (fx->reload) && fx->starts == starts && fx->last == running
         && fx->answers->len == answers)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_coalesce (void)
{
  Fixture fx = { 0 };

  fixture_init (&fx);
  fx.value = 1;
  facet_reload_request (fx.reload);
  g_assert_true (facet_reload_is_busy (fx.reload));
  /* The owner is kept alive while the load runs. */
  g_assert_cmpuint (G_OBJECT (fx.owner)->ref_count, ==, 2);
  /* Three requests while it runs: one load more, reading the last state. */
  for (int v = 2; v <= 4; v++)
    {
      fx.value = v;
      facet_reload_request (fx.reload);
    }
  g_assert_cmpuint (fx.starts, ==, 1);
  finish_one (&fx);
  g_assert_cmpuint (fx.answers->len, ==, 1);
  g_assert_cmpint (g_array_index (fx.answers, int, 0), ==, 1);
  g_assert_cmpuint (fx.starts, ==, 2);
  g_assert_true (facet_reload_is_busy (fx.reload));
  finish_one (&fx);
  g_assert_cmpuint (fx.answers->len, ==, 2);
  g_assert_cmpint (g_array_index (fx.answers, int, 1), ==, 4);
  g_assert_cmpuint (fx.starts, ==, 2);
  g_assert_false (facet_reload_is_busy (fx.reload));
  fixture_clear (&fx);
}

static void
test_invalidate (void)
{
  Fixture fx = { 0 };
  g_autoptr (GCancellable) first = NULL;

  fixture_init (&fx);
  fx.value = 1;
  facet_reload_request (fx.reload);
  first = g_object_ref (fx.last);
  g_assert_true (facet_reload_is_current (fx.reload, first));
  /* A reload asked before the owner moved on is forgotten with the answer. */
  facet_reload_request (fx.reload);
  facet_reload_invalidate (fx.reload);
  g_assert_true (g_cancellable_is_cancelled (first));
  g_assert_false (facet_reload_is_current (fx.reload, first));
  g_assert_true (facet_reload_is_busy (fx.reload));
  finish_one (&fx);
  g_assert_cmpuint (fx.answers->len, ==, 0);
  g_assert_cmpuint (fx.starts, ==, 1);
  g_assert_false (facet_reload_is_busy (fx.reload));

  /* Asked again after invalidating: the stale answer is dropped, the new
   * load runs after it and its answer is taken. */
  fx.value = 2;
  facet_reload_request (fx.reload);
  facet_reload_invalidate (fx.reload);
  fx.value = 3;
  facet_reload_request (fx.reload);
  finish_one (&fx);
  g_assert_cmpuint (fx.answers->len, ==, 0);
  g_assert_cmpuint (fx.starts, ==, 3);
  finish_one (&fx);
  g_assert_cmpuint (fx.answers->len, ==, 1);
  g_assert_cmpint (g_array_index (fx.answers, int, 0), ==, 3);
  fixture_clear (&fx);
}

static void
test_nothing (void)
{
  Fixture fx = { 0 };

  fixture_init (&fx);
  fx.nothing = TRUE;
  facet_reload_request (fx.reload);
  g_assert_false (facet_reload_is_busy (fx.reload));
  g_assert_cmpuint (fx.starts, ==, 0);
  /* A coalesced reload that finds nothing to load leaves it idle. */
  fx.nothing = FALSE;
  facet_reload_request (fx.reload);
  fx.nothing = TRUE;
  facet_reload_request (fx.reload);
  finish_one (&fx);
  g_assert_cmpuint (fx.answers->len, ==, 1);
  g_assert_cmpuint (fx.starts, ==, 1);
  g_assert_false (facet_reload_is_busy (fx.reload));
  fixture_clear (&fx);
}

/* ---- FacetTaskSet ---------------------------------------------------------------------------- */

static FacetTaskSet workers;

static gpointer
worker (gpointer data)
{
  GCancellable *cancellable = data;

  /* Works until stopped, like an analysis between chunks. */
  while (!g_cancellable_is_cancelled (cancellable))
    g_usleep (1000);
  facet_task_set_remove (&workers, cancellable);
  return NULL;
}

static void
test_task_set (void)
{
  GCancellable *c[3];
  GThread *threads[3];

  g_assert_true (facet_task_set_stop_all (&workers, 0));
  for (guint i = 0; i < G_N_ELEMENTS (c); i++)
    {
      c[i] = g_cancellable_new ();
      facet_task_set_add (&workers, c[i]);
      threads[i] = g_thread_new ("worker", worker, c[i]);
    }
  /* Running workers are left: a zero wait says so. */
  g_assert_false (facet_task_set_stop_all (&workers, 0));
  g_assert_true (facet_task_set_stop_all (&workers, 60000));
  for (guint i = 0; i < G_N_ELEMENTS (c); i++)
    {
      g_thread_join (threads[i]);
      g_assert_true (g_cancellable_is_cancelled (c[i]));
      g_object_unref (c[i]);
    }
  g_assert_true (facet_task_set_stop_all (&workers, 0));
}

static void
tracked (GTask        *task,
         gpointer      source,
         gpointer      task_data,
         GCancellable *cancellable)
{
  /* In the set while it runs. */
  g_assert_false (facet_task_set_stop_all (&workers, 0));
  g_task_return_boolean (task, g_cancellable_is_cancelled (cancellable));
}

static void
test_task_set_run (void)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, NULL, NULL);

  g_task_set_check_cancellable (task, FALSE);
  facet_task_set_run_in_thread (&workers, task, tracked);
  /* In the set from the start, before its thread has run. */
  g_assert_true (facet_task_set_stop_all (&workers, 60000));
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  while (!g_task_get_completed (task))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_task_propagate_boolean (task, NULL));
}

/* ---- facet_invoke_weak ----------------------------------------------------------------------- */

static int freed;

static void
count_free (gpointer data)
{
  freed++;
  g_free (data);
}

static void
record (GObject  *owner,
        gpointer  data)
{
  GArray *seen = g_object_get_data (owner, "seen");
  int value = *(int *) data;

  g_array_append_val (seen, value);
}

typedef struct
{
  GObject *owner;
  int      value;
} Post;

static gpointer
post_thread (gpointer data)
{
  Post *p = data;

  facet_invoke_weak (g_main_context_default (), p->owner, record,
                     g_memdup2 (&p->value, sizeof (int)), count_free);
  return NULL;
}

static void
test_invoke (void)
{
  GObject *owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr (GArray) seen = g_array_new (FALSE, FALSE, sizeof (int));
  Post p = { owner, 7 };

  /* The main thread owns its context, as the application's main loop does
   * (else the worker would run the report itself). */
  g_assert_true (g_main_context_acquire (NULL));
  g_object_set_data (owner, "seen", seen);
  /* From a worker: runs on the main context, while the owner lives. */
  g_thread_join (g_thread_new ("post", post_thread, &p));
  g_assert_cmpuint (seen->len, ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (seen->len, ==, 1);
  g_assert_cmpint (g_array_index (seen, int, 0), ==, 7);
  g_assert_cmpint (freed, ==, 1);

  /* The owner finalized before the report runs: dropped, its data freed. */
  p.value = 8;
  g_thread_join (g_thread_new ("post", post_thread, &p));
  g_object_unref (owner);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (seen->len, ==, 1);
  g_assert_cmpint (freed, ==, 2);
  g_main_context_release (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/reload/coalesce", test_coalesce);
  g_test_add_func ("/ui/reload/invalidate", test_invalidate);
  g_test_add_func ("/ui/reload/nothing", test_nothing);
  g_test_add_func ("/ui/task-set/stop-all", test_task_set);
  g_test_add_func ("/ui/task-set/run-in-thread", test_task_set_run);
  g_test_add_func ("/ui/invoke/weak", test_invoke);
  return g_test_run ();
}
