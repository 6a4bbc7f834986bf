/* cli-bench.c — facet-cli bench: inference speed of a model on a backend */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "train/facet-train.h"

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* CPU seconds of the process, all threads. */
static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Multiply-adds of one image's forward, counted twice (the usual GFLOP). */
static double
forward_flops (const FacetModelConfig *c)
{
  double t = facet_model_config_tokens (c), d = c->dim, hid = c->mlp_hidden;
  double np = t - 1, k = 3.0 * c->patch_size * c->patch_size;
  double block = 2.0 * t * d * (3 * d + d + 2 * hid) + 4.0 * t * t * d;

  return 2.0 * np * d * k + c->depth * block + 2.0 * d * MAX (c->n_aus, 0);
}

/* What one timed run measured: wall seconds of each timed iteration, in
 * order, and the CPU seconds of all threads over them. */
typedef struct
{
  GArray *times;
  double  total;
  double  cpu_total;
} Timing;

static gboolean
timing_more (const Timing *t,
             int           iterations,
             double        seconds)
{
  return (int) t->times->len < iterations || t->total < seconds;
}

static void
timing_add (Timing *t,
            double  dt)
{
  g_array_append_val (t->times, dt);
  t->total += dt;
}

/* The model to time: the file, or a random one of a preset size (BP4D's
 * AUs). @size was checked by the caller. */
static FacetModel *
bench_model (const char *model_path,
             const char *size,
             GError    **error)
{
  g_autoptr (FacetModelConfig) cfg = NULL;
  const int *aus;
  int nau;

  if (model_path != NULL)
    return facet_model_load (model_path, NULL, error);
  cfg = facet_model_config_new ();
  aus = facet_dataset_aus ("BP4D", &nau);
  facet_model_config_set_preset (cfg, size);
  facet_model_config_set_aus (cfg, aus, nau);
  return facet_model_new_random (cfg, 1, error);
}

/* Full training steps (forward, backward, AdamW) on @input; the first,
 * which allocates, is not timed. Replaces *@engine by a CPU engine on the
 * writable copy of @model. */
static gboolean
time_train_steps (FacetModel   *model,
                  FacetEngine **engine,
                  float        *input,
                  int           batch,
                  int           iterations,
                  double        seconds,
                  Timing       *timing,
                  GError      **error)
{
  const FacetModelConfig *c = facet_model_get_config (model);
  g_autoptr (FacetGrads) grads = NULL;
  g_autoptr (FacetOptimizer) opt = NULL;
  g_autofree float *targets = g_new (float, (gsize) batch * c->n_aus);
  g_autofree int *subjects = g_new (int, batch);
  FacetOptimConfig oc;
  FacetTrainStep step = { 0 };
  double cpu_start = 0.0;

  if (!facet_model_make_writable (model, error))
    return FALSE;
  /* The backend holds pointers into the weights: reload it after the copy. */
  g_clear_pointer (engine, facet_engine_free);
  *engine = facet_engine_new (model, "cpu", error);
  if (*engine == NULL)
    return FALSE;
  for (int i = 0; i < batch * c->n_aus; i++)
    targets[i] = (float) (i % 3 == 0);
  for (int i = 0; i < batch; i++)
    subjects[i] = -1;
  grads = facet_grads_new (model, NULL, NULL);
  facet_optim_config_init (&oc);
  opt = facet_optimizer_new (model, grads, &oc);
  step.batch = (guint) batch;
  step.images = input;
  step.au_targets = targets;
  step.subjects = subjects;
  step.drop_path = 0.0f;
  step.train_embedding = TRUE;
  for (int i = -1; i < 0 || timing_more (timing, iterations, seconds); i++)
    {
      double t0 = facet_now ();
      if (i == 0)
        cpu_start = cpu_seconds ();
      facet_grads_zero (grads);
      if (!facet_backend_train_step (facet_engine_get_backend (*engine), &step, grads, NULL, error))
        return FALSE;
      facet_optimizer_step (opt, 1e-4);
      if (i >= 0) /* the first step allocates */
        timing_add (timing, facet_now () - t0);
    }
  timing->cpu_total = cpu_seconds () - cpu_start;
  return TRUE;
}

/* Forwards of @input; one untimed forward first allocates scratch and
 * warms caches. */
static gboolean
time_forwards (FacetEngine        *engine,
               const float        *input,
               int                 batch,
               FacetForwardResult *result,
               int                 iterations,
               double              seconds,
               Timing             *timing,
               GError            **error)
{
  double cpu_start;

  if (!facet_engine_forward (engine, input, (guint) batch, result->flags, result, error))
    return FALSE;
  cpu_start = cpu_seconds ();
  while (timing_more (timing, iterations, seconds))
    {
      double t0 = facet_now ();
      if (!facet_engine_forward (engine, input, (guint) batch, result->flags, result, error))
        return FALSE;
      timing_add (timing, facet_now () - t0);
    }
  timing->cpu_total = cpu_seconds () - cpu_start;
  return TRUE;
}

/* Best and median images per second, with the backend; as JSON also the
 * GFLOP per image, the GFLOP/s per CPU second and the bf16 peak. */
static void
print_report (FacetEngine            *engine,
              const FacetModelConfig *c,
              Timing                 *timing,
              int                     batch,
              gboolean                train,
              gboolean                json)
{
  GArray *times = timing->times;
  FacetBackend *backend = facet_engine_get_backend (engine);
  /* a training step: the forward, and the two products of the backward
   * (input and weight gradients) for each of the forward's */
  double step_flops = (train ? 3.0 : 1.0) * forward_flops (c);
  double best, median;
  g_autofree char *desc = facet_backend_describe (backend);
  GString *out;

  g_array_sort (times, compare_double);
  best = g_array_index (times, double, 0);
  median = g_array_index (times, double, times->len / 2);
  if (!json)
    {
      printf ("%s, batch %d: %.2f images/s (best of %u), %.2f median\n", desc, batch, batch / best,
              times->len, batch / median);
      return;
    }
  out = g_string_new ("{\"backend\":");
  facet_cli_json_string (out, desc);
  g_string_append (out, ",\"precision\":");
  facet_cli_json_string (out, facet_precision_to_string (facet_backend_get_precision (backend)));
  g_string_append (out, ",\"gflop_per_image\":");
  facet_cli_json_float (out, step_flops / 1e9);
  if (timing->cpu_total > 0.0)
    {
      /* on a machine shared with other work: what the threads did
       * while they ran (pool workers sleep when idle) */
      g_string_append (out, ",\"gflops_per_cpu_s\":");
      facet_cli_json_float (out, step_flops * batch * times->len / timing->cpu_total / 1e9);
    }
  if (facet_backend_get_precision (backend) == FACET_PRECISION_BF16)
    {
      /* measured on the threads used, next to what the run reached */
      g_string_append (out, ",\"bf16_peak_gflops\":");
      facet_cli_json_float (out, facet_cpu_backend_bf16_peak_gflops (facet_parallel_get_threads ()));
    }
  g_string_append_printf (out, ",\"batch\":%d,\"iterations\":%u,\"images_per_s_best\":", batch,
                          times->len);
  facet_cli_json_float (out, batch / best);
  g_string_append (out, ",\"images_per_s_median\":");
  facet_cli_json_float (out, batch / median);
  g_string_append (out, "}");
  puts (out->str);
  g_string_free (out, TRUE);
}

int
facet_cli_bench (int    argc,
                 char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("— time batched inference");
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (FacetForwardResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *model_path = NULL, *backend = NULL, *size = NULL, *precision_name = NULL;
  FacetPrecision precision = FACET_PRECISION_FP32;
  g_autofree float *input = NULL;
  gboolean json = FALSE, attention = FALSE, train = FALSE, ok;
  int batch = 8, iterations = 5, threads = 0;
  double seconds = 0.0;
  Timing timing = { times, 0.0, 0.0 };
  const FacetModelConfig *c;
  FacetRng rng;
  gsize n;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path, "Model file", "FILE" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "Or a random model of this size: tiny, small, base, large", "SIZE" },
    { "backend", 0, 0, G_OPTION_ARG_STRING, &backend, "cpu, vulkan or auto", "NAME" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Images per forward (default 8)", "N" },
    { "iterations", 0, 0, G_OPTION_ARG_INT, &iterations, "Timed forwards (default 5)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Or run for at least this long", "S" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision_name, "fp32, bf16 (CPU, where the processor has AVX512-BF16), fp16 (Vulkan) or auto (default: fp32)", "P" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Worker threads (default: all cores)", "N" },
    { "attention", 0, 0, G_OPTION_ARG_NONE, &attention, "Include the attention rollout", NULL },
    { "train", 0, 0, G_OPTION_ARG_NONE, &train, "Time full training steps (forward, backward, AdamW)", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Machine-readable output", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if ((model_path == NULL) == (size == NULL))
    return facet_cli_failf ("bench needs --model FILE or --size SIZE");
  if (batch < 1 || iterations < 1)
    return facet_cli_failf ("--batch and --iterations must be at least 1");
  if (precision_name != NULL && !facet_precision_from_string (precision_name, &precision))
    return facet_cli_failf ("unknown precision “%s” (fp32, bf16, fp16 or auto)", precision_name);
  if (size != NULL
      && !g_strv_contains ((const char *[]) { "tiny", "small", "base", "large", NULL }, size))
    return facet_cli_failf ("unknown size “%s”", size);
  if (threads > 0)
    facet_parallel_set_threads ((guint) threads);
  facet_backend_set_default_precision (precision);

  model = bench_model (model_path, size, &error);
  if (model == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  engine = facet_engine_new (model, backend, &error);
  if (engine == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (facet_engine_get_notice (engine))
    fprintf (stderr, "facet-cli: notice: %s\n", facet_engine_get_notice (engine));

  c = facet_model_get_config (model);
  n = (gsize) batch * 3 * c->image_size * c->image_size;
  input = g_new (float, n);
  facet_rng_init (&rng, 7);
  for (gsize i = 0; i < n; i++)
    input[i] = (float) facet_rng_normal (&rng);
  result = facet_forward_result_new (c, (guint) batch,
                                     attention ? FACET_FORWARD_ATTENTION : FACET_FORWARD_NONE);
  if (train)
    ok = time_train_steps (model, &engine, input, batch, iterations, seconds, &timing, &error);
  else
    ok = time_forwards (engine, input, batch, result, iterations, seconds, &timing, &error);
  if (!ok)
    return facet_cli_fail (g_steal_pointer (&error));
  print_report (engine, c, &timing, batch, train, json);
  return 0;
}
