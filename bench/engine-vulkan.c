/* bench/engine-vulkan — ViT-B/16 on the Vulkan backend next to the CPU backend
 *
 * Prints, for the chosen Vulkan device ($FACET_VK_DEVICE, else the best):
 *  1. images/s of a whole batched forward for batch sizes 1..64, fp32 and
 *     fp16 storage, next to the CPU backend measured in the same run, and
 *     the ratio;
 *  2. GFLOP/s per op kind at ViT-B/16 shapes: the CPU backend's compute_op
 *     (wall time) against the Vulkan kernels (device timestamps), and the
 *     GPU time per op kind inside one whole forward.
 * Tables are Markdown, ready for the README.
 *
 * On a CPU driver (lavapipe) it only shows that everything runs: batches 1
 * and 2, one cold forward each, fp16 tables left out. Options: --batches 1,2,4 --seconds S
 * (time per measurement) --size small|base|large --no-cpu.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"
#include "engine/vulkan/vulkan-backend.h"

typedef struct
{
  double seconds;
  guint  runs;
} Timing;

static double   opt_seconds = 2.0;
static char    *opt_batches = NULL;
static char    *opt_size = NULL;
static gboolean opt_no_cpu = FALSE;

static float *
random_floats (gsize    n,
               FacetRng *rng)
{
  float *v = g_new (float, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    v[i] = (float) facet_rng_normal (rng);
  return v;
}

/* Best-of timing: one warm-up, then runs until @budget seconds have passed
 * (at least one, at most 50). A zero budget: one cold run, no warm-up. */
static gboolean
time_forward (FacetBackend *backend,
              FacetModel   *model,
              const float  *images,
              guint         batch,
              double        budget,
              Timing       *out,
              GError      **error)
{
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (facet_model_get_config (model),
                                                               batch, FACET_FORWARD_NONE);
  gint64 start;
  double best = INFINITY;
  guint runs = 0;

  if (budget > 0.0 && !facet_backend_forward (backend, images, batch, FACET_FORWARD_NONE, r, error))
    return FALSE;
  start = g_get_monotonic_time ();
  do
    {
      gint64 t0 = g_get_monotonic_time ();
      if (!facet_backend_forward (backend, images, batch, FACET_FORWARD_NONE, r, error))
        return FALSE;
      best = MIN (best, (g_get_monotonic_time () - t0) * 1e-6);
      runs++;
    }
  while ((g_get_monotonic_time () - start) * 1e-6 < budget && runs < 50);
  out->seconds = best;
  out->runs = runs;
  return TRUE;
}

static guint *
parse_batches (const char *text,
               guint      *n)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  guint *b = g_new0 (guint, g_strv_length (parts) + 1);

  *n = 0;
  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint64 v;
      if (g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 4096, &v, NULL))
        b[(*n)++] = (guint) v;
    }
  return b;
}

/* The ops of one ViT forward at @batch images, as single ops. */
static GArray *
vit_ops (const FacetModelConfig *c,
         int                     batch)
{
  GArray *ops = g_array_new (FALSE, TRUE, sizeof (FacetOpDesc));
  int t = facet_model_config_tokens (c), d = c->dim, m = batch * t;
  FacetOpDesc list[] = {
    { .kind = FACET_OP_PATCH_EMBED, .batch = batch, .image = c->image_size,
      .patch = c->patch_size, .dim = d },
    { .kind = FACET_OP_LAYER_NORM, .m = m, .n = d, .eps = 1e-6f },
    { .kind = FACET_OP_LINEAR, .m = m, .n = 3 * d, .k = d, .flags = FACET_OP_BIAS },
    { .kind = FACET_OP_ATTENTION, .batch = batch, .tokens = t, .heads = c->heads, .dim = d },
    { .kind = FACET_OP_ATTN_PROBS, .batch = batch, .tokens = t, .heads = c->heads, .dim = d },
    { .kind = FACET_OP_LINEAR, .m = m, .n = c->mlp_hidden, .k = d,
      .flags = FACET_OP_BIAS | FACET_OP_ACT_GELU },
    { .kind = FACET_OP_LINEAR, .m = m, .n = d, .k = c->mlp_hidden,
      .flags = FACET_OP_BIAS | FACET_OP_RESIDUAL },
    { .kind = FACET_OP_GELU, .n = m * c->mlp_hidden },
    { .kind = FACET_OP_ADD, .n = m * d },
    { .kind = FACET_OP_SOFTMAX, .m = batch * c->heads * t, .n = t, .alpha = 0.125f },
    { .kind = FACET_OP_MEAN_POOL, .batch = batch, .tokens = t, .dim = d },
    { .kind = FACET_OP_SIGMOID, .n = batch * c->n_aus },
    { .kind = FACET_OP_ROLLOUT, .batch = batch, .tokens = t, .depth = c->depth },
  };

  g_array_append_vals (ops, list, G_N_ELEMENTS (list));
  return ops;
}

static char *
op_label (const FacetOpDesc *op)
{
  if (op->kind == FACET_OP_LINEAR)
    return g_strdup_printf ("linear %dx%dx%d%s", op->m, op->n, op->k,
                            (op->flags & FACET_OP_ACT_GELU) ? " +gelu"
                            : (op->flags & FACET_OP_RESIDUAL) ? " +residual" : "");
  return g_strdup (facet_op_kind_to_string (op->kind));
}

static void
bench_ops (FacetBackend           *cpu,
           FacetBackend           *vk,
           const FacetModelConfig *c,
           int                     batch)
{
  g_autoptr (GArray) ops = vit_ops (c, batch);
  FacetRng rng;

  facet_rng_init (&rng, 5);
  printf ("\n### GFLOP/s per op, ViT-%s/16 shapes, batch %d (%s)\n\n", opt_size, batch,
          facet_precision_to_string (facet_vulkan_backend_get_precision (vk)));
  printf ("| op | GFLOP | CPU GFLOP/s | Vulkan GFLOP/s (device) | ratio |\n");
  printf ("|---|---:|---:|---:|---:|\n");
  for (guint i = 0; i < ops->len; i++)
    {
      FacetOpDesc *op = &g_array_index (ops, FacetOpDesc, i);
      int n_in = facet_op_n_inputs (op);
      float *in[4] = { NULL };
      g_autofree float *out = g_new (float, MAX (facet_op_output_size (op), 1));
      g_autofree char *label = op_label (op);
      g_autoptr (GError) error = NULL;
      double flops = facet_op_flops (op), t_cpu = 0.0, t_vk = 0.0;
      FacetVulkanPerf perf;

      for (int j = 0; j < n_in; j++)
        in[j] = random_floats (facet_op_input_size (op, j), &rng);
      if (!opt_no_cpu)
        {
          gint64 t0 = g_get_monotonic_time ();
          facet_backend_compute_op (cpu, op, (const float *const *) in, out, NULL);
          t_cpu = (g_get_monotonic_time () - t0) * 1e-6;
        }
      facet_vulkan_backend_reset_perf (vk);
      if (!facet_backend_compute_op (vk, op, (const float *const *) in, out, &error))
        printf ("| %s | %.3f | | failed: %s | |\n", label, flops * 1e-9, error->message);
      else
        {
          facet_vulkan_backend_get_perf (vk, &perf);
          for (int k = 0; k <= FACET_OP_N_KINDS; k++)
            t_vk += perf.seconds[k];
          printf ("| %s | %.3f | %.1f | %.1f | %.2f |\n", label, flops * 1e-9,
                  t_cpu > 0 ? flops / t_cpu * 1e-9 : 0.0, t_vk > 0 ? flops / t_vk * 1e-9 : 0.0,
                  t_vk > 0 && t_cpu > 0 ? t_cpu / t_vk : 0.0);
        }
      for (int j = 0; j < n_in; j++)
        g_free (in[j]);
    }
}

/* GPU time per op kind inside one whole forward (FACET_VK_PERF's numbers). */
static void
forward_breakdown (FacetBackend *vk,
                   FacetModel   *model,
                   const float  *images,
                   guint         batch)
{
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (facet_model_get_config (model),
                                                               batch, FACET_FORWARD_ATTENTION);
  FacetVulkanPerf perf;
  double total = 0.0;

  facet_vulkan_backend_reset_perf (vk);
  if (!facet_backend_forward (vk, images, batch, FACET_FORWARD_ATTENTION, r, NULL))
    return;
  facet_vulkan_backend_get_perf (vk, &perf);
  for (int k = 0; k <= FACET_OP_N_KINDS; k++)
    total += perf.seconds[k];
  if (total <= 0.0)
    return;
  printf ("\n### GPU time per op kind in one forward with attention maps, batch %u (%s)\n\n",
          batch, facet_precision_to_string (facet_vulkan_backend_get_precision (vk)));
  printf ("| op kind | dispatches | ms | share | GFLOP/s |\n|---|---:|---:|---:|---:|\n");
  for (int k = 0; k <= FACET_OP_N_KINDS; k++)
    if (perf.count[k] > 0)
      printf ("| %s | %u | %.2f | %.1f %% | %.1f |\n",
              k < FACET_OP_N_KINDS ? facet_op_kind_to_string (k) : "au_maps", perf.count[k],
              perf.seconds[k] * 1e3, 100.0 * perf.seconds[k] / total,
              perf.seconds[k] > 0 ? perf.flops[k] / perf.seconds[k] * 1e-9 : 0.0);
}

int
main (int    argc,
      char **argv)
{
  GOptionEntry entries[] = {
    { "batches", 0, 0, G_OPTION_ARG_STRING, &opt_batches, "Batch sizes (default 1,2,4,8,16,32,64; 1,2 on CPU drivers)", "LIST" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &opt_seconds, "Time per measurement (default 2)", "S" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &opt_size, "ViT size: small, base, large (default base)", "SIZE" },
    { "no-cpu", 0, 0, G_OPTION_ARG_NONE, &opt_no_cpu, "Skip the CPU backend", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("— ViT inference on Vulkan and the CPU");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) devices = NULL;
  g_autoptr (FacetModelConfig) config = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetBackend) cpu = facet_cpu_backend_new ();
  g_autoptr (FacetBackend) probe = NULL;
  g_autofree char *description = NULL;
  g_autofree guint *batches = NULL;
  g_autofree float *images = NULL;
  static const int aus[] = { 1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24 };
  guint n_batches, max_batch = 0;
  gboolean cpu_driver;
  FacetRng rng;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "engine-vulkan: %s\n", error->message);
      return 1;
    }
  if (opt_size == NULL)
    opt_size = g_strdup ("base");

  devices = facet_backend_list_devices (&error);
  if (devices == NULL || devices->len == 0)
    {
      fprintf (stderr, "engine-vulkan: no Vulkan device%s%s\n", error ? ": " : "",
               error ? error->message : "");
      return 77;
    }
  printf ("## Vulkan devices\n\n");
  for (guint i = 0; i < devices->len; i++)
    {
      FacetDeviceInfo *d = g_ptr_array_index (devices, i);
      printf ("- %d: %s (%s, %.1f GiB, %s, Vulkan %s, fp16 storage %s)\n", d->index, d->name,
              facet_device_type_to_string (d->type), (double) d->memory / (1 << 30), d->driver,
              d->api_version, d->fp16 ? "yes" : "no");
    }

  {
    FacetVulkanOptions options = { .precision = FACET_PRECISION_FP32 };
    probe = facet_vulkan_backend_new_full (&options, &error);
    if (probe == NULL)
      {
        fprintf (stderr, "engine-vulkan: %s\n", error->message);
        return 1;
      }
    cpu_driver = !facet_vulkan_backend_is_gpu (probe);
    description = facet_backend_describe (probe);
    g_clear_pointer (&probe, facet_backend_free);
  }
  batches = parse_batches (opt_batches != NULL ? opt_batches
                           : cpu_driver ? "1,2" : "1,2,4,8,16,32,64", &n_batches);
  if (cpu_driver && opt_batches == NULL)
    opt_seconds = 0.0; /* one timed forward: lavapipe only shows that it runs */
  for (guint i = 0; i < n_batches; i++)
    max_batch = MAX (max_batch, batches[i]);

  facet_model_config_set_preset (config, opt_size);
  facet_model_config_set_aus (config, aus, G_N_ELEMENTS (aus));
  model = facet_model_new_random (config, 1, &error);
  if (model == NULL || !facet_backend_load_model (cpu, model, &error))
    {
      fprintf (stderr, "engine-vulkan: %s\n", error->message);
      return 1;
    }
  facet_rng_init (&rng, 2);
  images = random_floats ((gsize) max_batch * 3 * config->image_size * config->image_size, &rng);

  printf ("\n## ViT-%s/16 images/s on %s\n\n", opt_size, description);
  {
    g_autofree char *cpu_desc = facet_backend_describe (cpu);
    if (opt_seconds > 0.0)
      printf ("CPU backend: %s. Best of the runs in %.1f s per cell.\n\n", cpu_desc, opt_seconds);
    else
      printf ("CPU backend: %s. One cold run per cell.\n\n", cpu_desc);
  }
  printf ("| batch | CPU | Vulkan fp32 | ratio | Vulkan fp16 | ratio |\n");
  printf ("|---:|---:|---:|---:|---:|---:|\n");
  {
    FacetVulkanOptions o32 = { .precision = FACET_PRECISION_FP32, .perf = TRUE };
    FacetVulkanOptions o16 = { .precision = FACET_PRECISION_FP16, .perf = TRUE };
    g_autoptr (FacetBackend) vk32 = facet_vulkan_backend_new_full (&o32, &error);
    g_autoptr (FacetBackend) vk16 = vk32 ? facet_vulkan_backend_new_full (&o16, &error) : NULL;
    gboolean half;

    if (vk16 == NULL || !facet_backend_load_model (vk32, model, &error)
        || !facet_backend_load_model (vk16, model, &error))
      {
        fprintf (stderr, "engine-vulkan: %s\n", error->message);
        return 1;
      }
    half = facet_vulkan_backend_get_precision (vk16) == FACET_PRECISION_FP16;
    for (guint i = 0; i < n_batches; i++)
      {
        Timing tc = { 0 }, t32 = { 0 }, t16 = { 0 };
        guint b = batches[i];

        if (!opt_no_cpu && !time_forward (cpu, model, images, b, opt_seconds, &tc, &error))
          break;
        if (!time_forward (vk32, model, images, b, opt_seconds, &t32, &error))
          break;
        if (half && !time_forward (vk16, model, images, b, opt_seconds, &t16, &error))
          break;
        printf ("| %u | %.2f | %.2f | %.2f | %s%.2f | %.2f |\n", b,
                tc.seconds > 0 ? b / tc.seconds : 0.0, b / t32.seconds,
                tc.seconds > 0 ? tc.seconds / t32.seconds : 0.0, half ? "" : "(fp32) ",
                half ? b / t16.seconds : b / t32.seconds,
                tc.seconds > 0 ? tc.seconds / (half ? t16.seconds : t32.seconds) : 0.0);
        fflush (stdout);
      }
    if (error != NULL)
      {
        fprintf (stderr, "engine-vulkan: %s\n", error->message);
        return 1;
      }

    /* On a CPU driver, one of each is enough to show that it runs. */
    forward_breakdown (vk32, model, images, cpu_driver ? 1 : batches[n_batches - 1]);
    if (half && !cpu_driver)
      forward_breakdown (vk16, model, images, batches[n_batches - 1]);
    bench_ops (cpu, vk32, config, cpu_driver ? 1 : 8);
    if (half && !cpu_driver)
      bench_ops (cpu, vk16, config, 8);
  }
  g_free (opt_batches);
  g_free (opt_size);
  return 0;
}
