/* test-vulkan-ops.c — every op of the Vulkan backend against the CPU backend
 *
 * In the style of ggml's test-backend-ops: a table of cases (op, sizes,
 * flags), seeded random inputs, the CPU backend's compute_op as the
 * reference, and the normalised mean squared error
 *   NMSE = sum (vk - cpu)^2 / sum cpu^2
 * against a tolerance per precision. Sizes are odd on purpose (1, 7, 197,
 * 768, 3072 where lavapipe can afford them).
 *
 * Exit code 77 (skipped) only when there is no Vulkan device at all.
 * `test-vulkan-ops --perf` also prints GFLOP/s of both backends per case.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"
#include "engine/vulkan/vulkan-backend.h"
#include "vulkan-test.h"

typedef struct
{
  FacetOpDesc op;
  double      tol32; /* NMSE allowed with fp32 storage */
  double      tol16; /* ... with fp16 storage */
} Case;

static FacetBackend *cpu;
static gboolean      perf_mode;

static void
add (GArray     *cases,
     FacetOpDesc op,
     double      tol32,
     double      tol16)
{
  Case c = { op, tol32, tol16 };
  g_array_append_val (cases, c);
}

/* Every op kind; with @linear_only, the products only (for the kernels
 * of other device types). */
static GArray *
make_cases (gboolean linear_only)
{
  GArray *cases = g_array_new (FALSE, TRUE, sizeof (Case));
  static const int lin_small[][3] = { { 1, 1, 1 }, { 7, 13, 5 }, { 197, 64, 96 }, { 3, 7, 197 } };
  static const int lin_big[][3] = { { 7, 768, 3072 }, { 197, 768, 768 }, { 197, 3072, 768 } };

  for (guint s = 0; s < G_N_ELEMENTS (lin_small); s++)
    for (guint f = 0; f < 8; f++)
      add (cases, (FacetOpDesc) { .kind = FACET_OP_LINEAR, .m = lin_small[s][0],
                                  .n = lin_small[s][1], .k = lin_small[s][2], .flags = f },
           1e-10, 1e-5);
  if (linear_only)
    {
      /* odd sizes that fill several tiles of every kernel, cheaply */
      add (cases, (FacetOpDesc) { .kind = FACET_OP_LINEAR, .m = 197, .n = 290, .k = 132,
                                  .flags = FACET_OP_BIAS | FACET_OP_ACT_GELU | FACET_OP_RESIDUAL },
           1e-10, 1e-5);
      add (cases, (FacetOpDesc) { .kind = FACET_OP_PATCH_EMBED, .batch = 2, .image = 48,
                                  .patch = 16, .dim = 130 },
           1e-10, 1e-5);
      return cases;
    }
  for (guint s = 0; s < G_N_ELEMENTS (lin_big); s++)
    add (cases, (FacetOpDesc) { .kind = FACET_OP_LINEAR, .m = lin_big[s][0], .n = lin_big[s][1],
                                .k = lin_big[s][2],
                                .flags = s == 2 ? FACET_OP_BIAS | FACET_OP_ACT_GELU
                                                : FACET_OP_BIAS | FACET_OP_RESIDUAL },
         1e-10, 1e-5);

  {
    static const int ln[][2] = { { 1, 1 }, { 7, 768 }, { 197, 768 }, { 3, 3072 }, { 394, 384 } };
    for (guint s = 0; s < G_N_ELEMENTS (ln); s++)
      add (cases, (FacetOpDesc) { .kind = FACET_OP_LAYER_NORM, .m = ln[s][0], .n = ln[s][1],
                                  .eps = 1e-6f },
           1e-10, 1e-5);
  }
  {
    static const int sizes[] = { 1, 7, 197, 768 * 197, 3072 * 7 };
    static const FacetOpKind kinds[] = { FACET_OP_GELU, FACET_OP_ADD, FACET_OP_SIGMOID };
    for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
      for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
        add (cases, (FacetOpDesc) { .kind = kinds[k], .n = sizes[s] }, 1e-11, 1e-5);
  }
  {
    static const int sm[][2] = { { 1, 1 }, { 7, 197 }, { 197, 197 }, { 3, 3072 } };
    for (guint s = 0; s < G_N_ELEMENTS (sm); s++)
      add (cases, (FacetOpDesc) { .kind = FACET_OP_SOFTMAX, .m = sm[s][0], .n = sm[s][1],
                                  .alpha = s % 2 ? 0.125f : 1.0f },
           1e-10, 1e-5);
  }
  {
    /* batch, tokens, heads, dim: head dimensions 8, 16, 24, 64, 128 */
    static const int at[][4] = { { 1, 1, 1, 8 }, { 2, 7, 3, 48 }, { 1, 33, 4, 96 },
                                 { 1, 197, 6, 384 }, { 2, 197, 12, 768 }, { 1, 50, 2, 256 } };
    for (guint s = 0; s < G_N_ELEMENTS (at); s++)
      {
        FacetOpDesc op = { .kind = FACET_OP_ATTENTION, .batch = at[s][0], .tokens = at[s][1],
                           .heads = at[s][2], .dim = at[s][3] };
        add (cases, op, 1e-10, 1e-5);
        op.kind = FACET_OP_ATTN_PROBS;
        add (cases, op, 1e-10, 1e-5);
      }
  }
  {
    static const int mp[][3] = { { 1, 2, 7 }, { 3, 197, 768 }, { 2, 7, 1 } };
    for (guint s = 0; s < G_N_ELEMENTS (mp); s++)
      add (cases, (FacetOpDesc) { .kind = FACET_OP_MEAN_POOL, .batch = mp[s][0],
                                  .tokens = mp[s][1], .dim = mp[s][2] },
           1e-11, 1e-5);
  }
  {
    /* batch, image, patch, dim */
    static const int pe[][4] = { { 1, 16, 16, 7 }, { 2, 32, 16, 13 }, { 1, 48, 8, 33 },
                                 { 1, 224, 16, 768 } };
    for (guint s = 0; s < G_N_ELEMENTS (pe); s++)
      add (cases, (FacetOpDesc) { .kind = FACET_OP_PATCH_EMBED, .batch = pe[s][0],
                                  .image = pe[s][1], .patch = pe[s][2], .dim = pe[s][3] },
           1e-10, 1e-5);
  }
  {
    /* batch, tokens, depth */
    static const int ro[][3] = { { 1, 2, 1 }, { 2, 7, 3 }, { 2, 197, 12 } };
    for (guint s = 0; s < G_N_ELEMENTS (ro); s++)
      for (guint cls = 0; cls < 2; cls++)
        add (cases, (FacetOpDesc) { .kind = FACET_OP_ROLLOUT, .batch = ro[s][0],
                                    .tokens = ro[s][1], .depth = ro[s][2],
                                    .flags = cls ? FACET_OP_CLS_READOUT : 0 },
             1e-10, 1e-10);
  }
  return cases;
}

/* Inputs of the sizes and ranges that the model produces. */
static float **
make_inputs (const FacetOpDesc *op,
             guint64            seed)
{
  int n_in = facet_op_n_inputs (op);
  float **in = g_new0 (float *, n_in + 1);
  FacetRng rng;

  facet_rng_init (&rng, seed);
  for (int i = 0; i < n_in; i++)
    {
      gsize n = facet_op_input_size (op, i);
      double scale = 1.0, offset = 0.0;

      in[i] = g_new (float, MAX (n, 1));
      switch (op->kind)
        {
        case FACET_OP_LINEAR:
          scale = i == 1 ? 1.0 / sqrt (op->k) : i == 2 && (op->flags & FACET_OP_BIAS) ? 0.5 : 1.0;
          break;
        case FACET_OP_LAYER_NORM:
          scale = i == 0 ? 3.0 : 0.1;
          offset = i == 0 ? 10.0 : i == 1 ? 1.0 : 0.0;
          break;
        case FACET_OP_GELU:
        case FACET_OP_SOFTMAX:
          scale = 2.0;
          break;
        case FACET_OP_SIGMOID:
          scale = 4.0;
          break;
        case FACET_OP_PATCH_EMBED:
          scale = i == 1 ? 1.0 / sqrt (3.0 * op->patch * op->patch) : 1.0;
          break;
        default:
          break;
        }
      if (op->kind == FACET_OP_ROLLOUT)
        {
          /* row-stochastic, as attention probabilities are */
          for (gsize r = 0; r < n / (gsize) op->tokens; r++)
            {
              float *row = in[i] + r * (gsize) op->tokens;
              double sum = 0;
              for (int j = 0; j < op->tokens; j++)
                sum += row[j] = (float) facet_rng_uniform (&rng) + 0.01f;
              for (int j = 0; j < op->tokens; j++)
                row[j] = (float) (row[j] / sum);
            }
        }
      else
        for (gsize j = 0; j < n; j++)
          in[i][j] = (float) (offset + scale * facet_rng_normal (&rng));
    }
  return in;
}

static double
nmse (const float *ref,
      const float *got,
      gsize        n)
{
  double num = 0.0, den = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      double d = (double) got[i] - ref[i];
      if (!isfinite (got[i]))
        return INFINITY;
      num += d * d;
      den += (double) ref[i] * ref[i];
    }
  return den > 0.0 ? num / den : num;
}

static char *
describe_op (const FacetOpDesc *op)
{
  switch (op->kind)
    {
    case FACET_OP_LINEAR:
      return g_strdup_printf ("linear m=%d n=%d k=%d flags=%u", op->m, op->n, op->k, op->flags);
    case FACET_OP_LAYER_NORM:
    case FACET_OP_SOFTMAX:
      return g_strdup_printf ("%s m=%d n=%d", facet_op_kind_to_string (op->kind), op->m, op->n);
    case FACET_OP_GELU:
    case FACET_OP_ADD:
    case FACET_OP_SIGMOID:
      return g_strdup_printf ("%s n=%d", facet_op_kind_to_string (op->kind), op->n);
    case FACET_OP_ATTENTION:
    case FACET_OP_ATTN_PROBS:
    case FACET_OP_MEAN_POOL:
      return g_strdup_printf ("%s batch=%d tokens=%d heads=%d dim=%d",
                              facet_op_kind_to_string (op->kind), op->batch, op->tokens, op->heads,
                              op->dim);
    case FACET_OP_PATCH_EMBED:
      return g_strdup_printf ("patch_embed batch=%d image=%d patch=%d dim=%d", op->batch,
                              op->image, op->patch, op->dim);
    case FACET_OP_ROLLOUT:
      return g_strdup_printf ("rollout batch=%d tokens=%d depth=%d flags=%u", op->batch,
                              op->tokens, op->depth, op->flags);
    case FACET_OP_N_KINDS:
    default:
      return g_strdup ("?");
    }
}

static void
run_cases (FacetBackend *vk,
           GArray       *cases,
           gboolean      half)
{
  guint kinds_seen = 0;

  for (guint c = 0; c < cases->len; c++)
    {
      Case *tc = &g_array_index (cases, Case, c);
      const FacetOpDesc *op = &tc->op;
      g_autofree char *what = describe_op (op);
      float **in = make_inputs (op, 1000 + c);
      gsize n_out = facet_op_output_size (op);
      g_autofree float *want = g_new0 (float, MAX (n_out, 1));
      g_autofree float *got = g_new0 (float, MAX (n_out, 1));
      g_autoptr (GError) error = NULL;
      double tol = half ? tc->tol16 : tc->tol32, err;
      gint64 t0, t1, t2;

      g_assert_true (facet_backend_supports_op (vk, op));
      t0 = g_get_monotonic_time ();
      g_assert_true (facet_backend_compute_op (cpu, op, (const float *const *) in, want, &error));
      t1 = g_get_monotonic_time ();
      if (!facet_backend_compute_op (vk, op, (const float *const *) in, got, &error))
        g_error ("%s: %s", what, error->message);
      t2 = g_get_monotonic_time ();
      err = nmse (want, got, n_out);
      g_test_message ("%-58s %s NMSE %.3g (max %.0g)", what, half ? "fp16" : "fp32", err, tol);
      if (perf_mode)
        {
          double flops = facet_op_flops (op), gpu = 0.0;
          FacetVulkanPerf perf;

          facet_vulkan_backend_get_perf (vk, &perf);
          for (int k = 0; k <= FACET_OP_N_KINDS; k++)
            gpu += perf.seconds[k];
          facet_vulkan_backend_reset_perf (vk);
          g_print ("%-52s cpu %7.2f  vulkan %7.2f (%7.2f on the device) GFLOP/s\n", what,
                   flops / MAX (t1 - t0, 1) * 1e-3, flops / MAX (t2 - t1, 1) * 1e-3,
                   gpu > 0 ? flops / gpu * 1e-9 : 0.0);
        }
      if (!(err <= tol))
        g_error ("%s (%s): NMSE %.3g exceeds %.3g", what, half ? "fp16" : "fp32", err, tol);
      kinds_seen |= 1u << op->kind;
      g_strfreev ((char **) in);
    }
  if (cases->len > 0 && g_array_index (cases, Case, cases->len - 1).op.kind == FACET_OP_ROLLOUT)
    g_assert_cmpuint (kinds_seen, ==, (1u << FACET_OP_N_KINDS) - 1);
}

static FacetBackend *
vulkan (FacetPrecision precision)
{
  FacetVulkanOptions options = { .precision = precision, .perf = perf_mode };
  g_autoptr (GError) error = NULL;
  FacetBackend *vk = facet_vulkan_backend_new_full (&options, &error);

  g_assert_no_error (error);
  return vk;
}

static void
test_ops_fp32 (void)
{
  g_autoptr (FacetBackend) vk = vulkan (FACET_PRECISION_FP32);
  g_autoptr (GArray) cases = make_cases (FALSE);

  g_assert_cmpint (facet_vulkan_backend_get_precision (vk), ==, FACET_PRECISION_FP32);
  run_cases (vk, cases, FALSE);
}

static void
test_ops_fp16 (void)
{
  g_autoptr (FacetBackend) vk = vulkan (FACET_PRECISION_FP16);
  g_autoptr (GArray) cases = NULL;

  if (facet_vulkan_backend_get_precision (vk) != FACET_PRECISION_FP16)
    {
      g_test_skip ("the device has no 16-bit storage buffers");
      return;
    }
  cases = make_cases (FALSE);
  run_cases (vk, cases, TRUE);
}

/* The product kernels of the other device types (tiled 64 x 64 for
 * integrated GPUs, 128 x 128 for discrete ones, direct for CPU drivers),
 * checked here too: FACET_VK_GEMM chooses. */
static void
test_ops_gemm_kernels (void)
{
  static const char *kernels[] = { "direct", "tiled", "tiled128" };
  g_autoptr (GArray) cases = make_cases (TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (kernels); i++)
    {
      g_autoptr (FacetBackend) vk32 = NULL;
      g_autoptr (FacetBackend) vk16 = NULL;

      g_setenv ("FACET_VK_GEMM", kernels[i], TRUE);
      vk32 = vulkan (FACET_PRECISION_FP32);
      vk16 = vulkan (FACET_PRECISION_FP16);
      g_unsetenv ("FACET_VK_GEMM");
      g_test_message ("kernel %s", kernels[i]);
      run_cases (vk32, cases, FALSE);
      if (facet_vulkan_backend_get_precision (vk16) == FACET_PRECISION_FP16)
        run_cases (vk16, cases, TRUE);
    }
}

static void
test_unsupported (void)
{
  g_autoptr (FacetBackend) vk = vulkan (FACET_PRECISION_FP32);
  g_autoptr (GError) error = NULL;
  FacetOpDesc op = { .kind = FACET_OP_ATTENTION, .batch = 1, .tokens = 3, .heads = 1, .dim = 256 };
  g_autofree float *qkv = g_new0 (float, 3 * 3 * 256);
  g_autofree float *out = g_new0 (float, 3 * 256);
  const float *in[1] = { qkv };

  g_assert_false (facet_backend_supports_op (vk, &op));
  g_assert_false (facet_backend_compute_op (vk, &op, in, out, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  op.kind = FACET_OP_N_KINDS;
  g_assert_false (facet_backend_supports_op (vk, &op));
}

int
main (int    argc,
      char **argv)
{
  FacetBackend *probe;
  int ret;

  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--perf"))
      perf_mode = TRUE;
  g_test_init (&argc, &argv, NULL);

  probe = vulkan_test_open_device ();
  if (probe == NULL)
    return 77;
  {
    g_autofree char *description = facet_backend_describe (probe);
    g_test_message ("%s", description);
    facet_backend_free (probe);
  }

  cpu = facet_cpu_backend_new ();
  g_test_add_func ("/vulkan/ops/fp32", test_ops_fp32);
  g_test_add_func ("/vulkan/ops/fp16", test_ops_fp16);
  g_test_add_func ("/vulkan/ops/gemm-kernels", test_ops_gemm_kernels);
  g_test_add_func ("/vulkan/ops/unsupported", test_unsupported);
  ret = vulkan_test_run ();
  facet_backend_free (cpu);
  return ret;
}
