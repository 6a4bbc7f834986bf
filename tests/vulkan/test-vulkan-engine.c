/* test-vulkan-engine.c — whole forwards on the Vulkan backend against the
 * CPU backend, and the ways the backend can fail
 *
 * Small random ViTs (both readouts, head dimensions 32 and 64) keep this
 * fast on lavapipe; facet-cli's end-to-end test covers ViT-S/16. Failures
 * are injected (an allocation that runs out of memory, a submission that
 * loses the device) to show that each gives a GError and that the backend
 * works again afterwards.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"
#include "engine/vulkan/vulkan-backend.h"
#include "vulkan-test.h"

static const int test_aus[] = { 1, 2, 4, 6, 7, 10, 12 };

/* A random model with weights of the size training produces: unlike a fresh
 * initialisation, every bias and norm is non-trivial and the head is large
 * enough that probabilities spread over (0, 1). */
static FacetModel *
make_model (int          image,
            int          patch,
            int          dim,
            int          depth,
            int          heads,
            FacetReadout readout,
            int          n_subjects,
            guint64      seed)
{
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (GError) error = NULL;
  FacetModel *model;
  GPtrArray *tensors;
  FacetRng rng;

  c->image_size = image;
  c->patch_size = patch;
  c->dim = dim;
  c->depth = depth;
  c->heads = heads;
  c->mlp_hidden = 4 * dim;
  c->readout = readout;
  c->n_subjects = n_subjects;
  facet_model_config_set_aus (c, test_aus, G_N_ELEMENTS (test_aus));
  model = facet_model_new_random (c, seed, &error);
  g_assert_no_error (error);

  facet_rng_init (&rng, seed + 1);
  tensors = facet_model_get_tensors (model);
  for (guint i = 0; i < tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (tensors, i);
      float *w = facet_model_get_weights (model, t->name);
      gint64 n = facet_tensor_numel (t);
      gboolean norm = strstr (t->name, "norm") != NULL;

      if (g_str_has_suffix (t->name, ".bias"))
        for (gint64 j = 0; j < n; j++)
          w[j] = (float) (facet_rng_normal (&rng) * 0.05);
      else if (norm)
        for (gint64 j = 0; j < n; j++)
          w[j] = (float) (1.0 + facet_rng_normal (&rng) * 0.1);
      else if (g_str_has_prefix (t->name, "head.") || g_str_has_prefix (t->name, "ID_head."))
        for (gint64 j = 0; j < n; j++)
          w[j] = (float) (facet_rng_normal (&rng) / sqrt (dim));
    }
  return model;
}

static float *
make_images (const FacetModelConfig *c,
             guint                   batch,
             guint64                 seed)
{
  gsize n = (gsize) batch * 3 * c->image_size * c->image_size;
  float *x = g_new (float, n);
  FacetRng rng;

  facet_rng_init (&rng, seed);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) facet_rng_normal (&rng);
  return x;
}

static gboolean use_staging;

static FacetBackend *
vulkan_backend (FacetPrecision precision,
                guint          max_chunk)
{
  FacetVulkanOptions options = { .precision = precision, .max_chunk = max_chunk,
                                 .staging = use_staging };
  g_autoptr (GError) error = NULL;
  FacetBackend *vk = facet_vulkan_backend_new_full (&options, &error);

  g_assert_no_error (error);
  g_assert_nonnull (vk);
  return vk;
}

static double
max_abs_diff (const float *a,
              const float *b,
              gsize        n)
{
  double m = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      double d = fabs ((double) a[i] - b[i]);
      if (!(d <= m))
        m = isnan (d) ? INFINITY : d;
    }
  return m;
}

/* Every output of the two results within @tol (maps relative to their scale). */
static void
assert_results_close (const FacetForwardResult *want,
                      const FacetForwardResult *got,
                      guint                     batch,
                      double                    tol,
                      const char               *what)
{
  gsize np = (gsize) want->grid * want->grid;
  struct
  {
    const char  *name;
    const float *a, *b;
    gsize        n;
    double       tol;
  } parts[] = {
    { "probs", want->probs, got->probs, (gsize) batch * want->n_aus, tol },
    { "logits", want->logits, got->logits, (gsize) batch * want->n_aus, 20 * tol },
    { "pooled", want->pooled, got->pooled, (gsize) batch * want->dim, 20 * tol },
    { "pooled_raw", want->pooled_raw, got->pooled_raw, (gsize) batch * want->dim, 20 * tol },
    { "id_logits", want->id_logits, got->id_logits, (gsize) batch * want->n_subjects, 20 * tol },
    { "attention", want->attention, got->attention, (gsize) batch * np, tol },
    { "au_maps", want->au_maps, got->au_maps, (gsize) batch * want->n_aus * np, tol },
    { "au_map_bias", want->au_map_bias, got->au_map_bias, (gsize) want->n_aus, tol },
  };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      double err;
      if (parts[i].a == NULL)
        {
          g_assert_null (parts[i].b);
          continue;
        }
      g_assert_nonnull (parts[i].b);
      err = max_abs_diff (parts[i].a, parts[i].b, parts[i].n);
      g_test_message ("%s: %s max |difference| %.3g", what, parts[i].name, err);
      if (!(err <= parts[i].tol))
        g_error ("%s: %s differ by %.3g (allowed %.3g)", what, parts[i].name, err, parts[i].tol);
    }
}

static FacetForwardResult *
run (FacetBackend     *backend,
     FacetModel       *model,
     const float      *images,
     guint             batch,
     FacetForwardFlags flags)
{
  g_autoptr (GError) error = NULL;
  FacetForwardResult *r = facet_forward_result_new (facet_model_get_config (model), batch, flags);

  if (!facet_backend_forward (backend, images, batch, flags, r, &error))
    g_error ("forward on %s: %s", facet_backend_get_name (backend), error->message);
  return r;
}

static void
check_model (FacetModel    *model,
             FacetPrecision precision,
             double         tol,
             const char    *what)
{
  const FacetModelConfig *c = facet_model_get_config (model);
  FacetForwardFlags flags = FACET_FORWARD_ATTENTION | FACET_FORWARD_RAW_FEATURE;
  g_autoptr (FacetBackend) cpu = facet_cpu_backend_new ();
  g_autoptr (FacetBackend) vk = vulkan_backend (precision, 0);
  g_autofree float *images = make_images (c, 3, 7);
  g_autoptr (GError) error = NULL;

  if (c->readout == FACET_READOUT_GLOBAL_POOL)
    flags |= FACET_FORWARD_AU_MAPS;
  g_assert_true (facet_backend_load_model (cpu, model, &error));
  g_assert_true (facet_backend_load_model (vk, model, &error));
  g_assert_no_error (error);
  if (precision == FACET_PRECISION_FP16 && facet_vulkan_backend_get_precision (vk) != precision)
    {
      g_test_skip ("the device has no 16-bit storage buffers");
      return;
    }

  /* batches of 3 and 1, with and without the maps */
  for (guint round = 0; round < 3; round++)
    {
      guint batch = round == 1 ? 1 : 3;
      FacetForwardFlags f = round == 2 ? FACET_FORWARD_NONE : flags;
      g_autoptr (FacetForwardResult) want = run (cpu, model, images, batch, f);
      g_autoptr (FacetForwardResult) got = run (vk, model, images, batch, f);
      g_autofree char *label = g_strdup_printf ("%s, batch %u, flags %d", what, batch, f);
      assert_results_close (want, got, batch, tol, label);
    }
}

static void
test_forward_global_pool_fp32 (void)
{
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 3, 3, FACET_READOUT_GLOBAL_POOL, 5, 11);
  check_model (model, FACET_PRECISION_FP32, 1e-4, "global pool fp32");
}

static void
test_forward_cls_token_fp32 (void)
{
  g_autoptr (FacetModel) model = make_model (48, 8, 128, 2, 2, FACET_READOUT_CLS_TOKEN, 0, 12);
  check_model (model, FACET_PRECISION_FP32, 1e-4, "class token fp32");
}

static void
test_forward_global_pool_fp16 (void)
{
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 3, 3, FACET_READOUT_GLOBAL_POOL, 5, 11);
  check_model (model, FACET_PRECISION_FP16, 1e-2, "global pool fp16");
}

/* The copies through staging buffers that discrete GPUs need (weights,
 * images, single ops), on a device that would map its memory instead. */
static void
test_forward_staging (void)
{
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 2, 3, FACET_READOUT_GLOBAL_POOL, 5, 20);
  g_autoptr (FacetBackend) vk = NULL;
  g_autoptr (FacetBackend) cpu = facet_cpu_backend_new ();
  g_autoptr (GError) error = NULL;
  FacetOpDesc op = { .kind = FACET_OP_LINEAR, .m = 7, .n = 9, .k = 12, .flags = FACET_OP_BIAS };
  float x[7 * 12], w[9 * 12], b[9], y[7 * 9], y_cpu[7 * 9];
  const float *in[3] = { x, w, b };

  use_staging = TRUE;
  check_model (model, FACET_PRECISION_FP32, 1e-4, "staging fp32");
  check_model (model, FACET_PRECISION_FP16, 1e-2, "staging fp16");
  vk = vulkan_backend (FACET_PRECISION_FP32, 2);
  use_staging = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = (float) i / 17.0f - 2.0f;
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    w[i] = (float) (i % 13) / 13.0f - 0.5f;
  for (guint i = 0; i < G_N_ELEMENTS (b); i++)
    b[i] = (float) i;
  g_assert_true (facet_backend_compute_op (vk, &op, in, y, &error));
  g_assert_no_error (error);
  g_assert_true (facet_backend_compute_op (cpu, &op, in, y_cpu, &error));
  for (guint i = 0; i < G_N_ELEMENTS (y); i++)
    g_assert_cmpfloat_with_epsilon (y[i], y_cpu[i], 1e-4);
}

/* Batches split into chunks (alternating between the two frames) give the
 * same numbers as one submission. */
static void
test_chunks (void)
{
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 2, 3, FACET_READOUT_GLOBAL_POOL, 5, 13);
  const FacetModelConfig *c = facet_model_get_config (model);
  FacetForwardFlags flags = FACET_FORWARD_ATTENTION | FACET_FORWARD_AU_MAPS;
  g_autoptr (FacetBackend) whole = vulkan_backend (FACET_PRECISION_FP32, 0);
  g_autoptr (FacetBackend) chunked = vulkan_backend (FACET_PRECISION_FP32, 2);
  g_autofree float *images = make_images (c, 5, 8);
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetForwardResult) a = NULL;
  g_autoptr (FacetForwardResult) b = NULL;

  g_assert_true (facet_backend_load_model (whole, model, &error));
  g_assert_true (facet_backend_load_model (chunked, model, &error));
  a = run (whole, model, images, 5, flags);
  b = run (chunked, model, images, 5, flags);
  g_assert_cmpuint (facet_vulkan_backend_get_chunk (whole), ==, 5);
  g_assert_cmpuint (facet_vulkan_backend_get_chunk (chunked), ==, 2);
  /* Each image is computed by the same kernels in both: identical. */
  assert_results_close (a, b, 5, 0.0, "chunks of 2");
}

static void
test_out_of_memory (void)
{
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 2, 3, FACET_READOUT_GLOBAL_POOL, 0, 14);
  const FacetModelConfig *c = facet_model_get_config (model);
  g_autoptr (FacetBackend) vk = vulkan_backend (FACET_PRECISION_FP32, 0);
  g_autoptr (FacetBackend) cpu = facet_cpu_backend_new ();
  g_autofree float *images = make_images (c, 4, 9);
  g_autoptr (FacetForwardResult) want = NULL;
  g_autoptr (FacetForwardResult) got = NULL;
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (c, 4, FACET_FORWARD_NONE);
  g_autoptr (GError) error = NULL;

  /* while loading the weights: an error, no model */
  facet_vulkan_backend_inject_fault (vk, FACET_VULKAN_FAULT_ALLOC, 1);
  g_assert_false (facet_backend_load_model (vk, model, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_OUT_OF_MEMORY);
  g_test_message ("load: %s", error->message);
  g_clear_error (&error);
  g_assert_false (facet_backend_forward (vk, images, 1, FACET_FORWARD_NONE, r, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  /* while sizing the scratch buffers for a batch: an error, and the next
   * forward (which sizes them again) works */
  g_assert_true (facet_backend_load_model (vk, model, &error));
  g_assert_true (facet_backend_load_model (cpu, model, &error));
  facet_vulkan_backend_inject_fault (vk, FACET_VULKAN_FAULT_ALLOC, 2);
  g_assert_false (facet_backend_forward (vk, images, 4, FACET_FORWARD_NONE, r, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_OUT_OF_MEMORY);
  g_test_message ("forward: %s", error->message);
  g_clear_error (&error);
  g_assert_cmpuint (facet_vulkan_backend_get_chunk (vk), ==, 0);
  want = run (cpu, model, images, 4, FACET_FORWARD_NONE);
  got = run (vk, model, images, 4, FACET_FORWARD_NONE);
  assert_results_close (want, got, 4, 1e-4, "after out of memory");
}

static void
test_device_lost (void)
{
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 2, 3, FACET_READOUT_GLOBAL_POOL, 0, 15);
  const FacetModelConfig *c = facet_model_get_config (model);
  g_autoptr (FacetBackend) vk = vulkan_backend (FACET_PRECISION_FP32, 0);
  g_autoptr (FacetBackend) cpu = facet_cpu_backend_new ();
  g_autofree float *images = make_images (c, 2, 10);
  g_autoptr (FacetForwardResult) want = NULL;
  g_autoptr (FacetForwardResult) got = NULL;
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (c, 2, FACET_FORWARD_ATTENTION);
  g_autoptr (GError) error = NULL;
  FacetOpDesc op = { .kind = FACET_OP_GELU, .n = 3 };
  float x[3] = { -1.0f, 0.0f, 2.0f }, y[3], y_cpu[3];
  const float *in[1] = { x };

  g_assert_true (facet_backend_load_model (vk, model, &error));
  g_assert_true (facet_backend_load_model (cpu, model, &error));
  want = run (cpu, model, images, 2, FACET_FORWARD_ATTENTION);

  facet_vulkan_backend_inject_fault (vk, FACET_VULKAN_FAULT_SUBMIT, 1);
  g_assert_false (facet_backend_forward (vk, images, 2, FACET_FORWARD_ATTENTION, r, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_DEVICE_LOST);
  g_test_message ("forward: %s", error->message);
  g_clear_error (&error);
  g_assert_cmpuint (facet_vulkan_backend_get_recoveries (vk), ==, 0);

  /* The next call rebuilds the device and uploads the weights again. */
  got = run (vk, model, images, 2, FACET_FORWARD_ATTENTION);
  g_assert_cmpuint (facet_vulkan_backend_get_recoveries (vk), ==, 1);
  assert_results_close (want, got, 2, 1e-4, "after a lost device");

  /* single ops too */
  facet_vulkan_backend_inject_fault (vk, FACET_VULKAN_FAULT_SUBMIT, 1);
  g_assert_false (facet_backend_compute_op (vk, &op, in, y, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_DEVICE_LOST);
  g_clear_error (&error);
  g_assert_true (facet_backend_compute_op (vk, &op, in, y, &error));
  g_assert_no_error (error);
  g_assert_true (facet_backend_compute_op (cpu, &op, in, y_cpu, &error));
  g_assert_cmpfloat_with_epsilon (y[2], y_cpu[2], 1e-6);
  g_assert_cmpuint (facet_vulkan_backend_get_recoveries (vk), ==, 2);
}

/* FacetEngine puts the model on Vulkan when asked (its fallback to the
 * CPU is tested through facet-cli, with FACET_VK_FAULT). */
static void
test_engine (void)
{
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 2, 3, FACET_READOUT_GLOBAL_POOL, 0, 16);
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (GError) error = NULL;

  engine = facet_engine_new (model, "vulkan", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (facet_backend_get_name (facet_engine_get_backend (engine)), ==, "vulkan");
  g_assert_null (facet_engine_get_notice (engine));
}

static void
test_forward_errors (void)
{
  g_autoptr (FacetBackend) vk = vulkan_backend (FACET_PRECISION_FP32, 0);
  g_autoptr (FacetModel) model = make_model (64, 16, 96, 1, 3, FACET_READOUT_GLOBAL_POOL, 0, 17);
  g_autoptr (FacetModel) wide = make_model (32, 16, 512, 1, 2, FACET_READOUT_GLOBAL_POOL, 0, 18);
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (facet_model_get_config (model), 1,
                                                               FACET_FORWARD_NONE);
  g_autofree float *images = make_images (facet_model_get_config (model), 1, 11);
  g_autoptr (GError) error = NULL;

  g_assert_false (facet_backend_forward (vk, images, 1, FACET_FORWARD_NONE, r, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  /* heads of 256 dimensions are beyond the attention kernel */
  g_assert_false (facet_backend_load_model (vk, wide, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  /* an empty batch is no work */
  g_assert_true (facet_backend_load_model (vk, model, &error));
  g_assert_true (facet_backend_forward (vk, images, 0, FACET_FORWARD_NONE, r, &error));
  g_assert_no_error (error);
}

static void
test_devices (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) devices = facet_backend_list_devices (&error);
  FacetDeviceInfo *first;
  g_autoptr (FacetBackend) by_index = NULL;
  g_autoptr (FacetBackend) by_name = NULL;
  g_autoptr (FacetBackend) missing = NULL;
  g_autoptr (FacetBackend) automatic = NULL;
  g_autofree char *description = NULL;
  g_autofree char *needle = NULL;
  FacetVulkanOptions options = { 0 };

  g_assert_no_error (error);
  g_assert_cmpuint (devices->len, >=, 1);
  first = g_ptr_array_index (devices, 0);
  g_test_message ("device 0: %s (%s, %" G_GUINT64_FORMAT " MiB, %s, Vulkan %s, fp16 %d)",
                  first->name, facet_device_type_to_string (first->type), first->memory >> 20,
                  first->driver, first->api_version, first->fp16);
  g_assert_true (first->usable);
  g_assert_cmpint (first->index, ==, 0);
  g_assert_cmpuint (first->memory, >, 0);

  options.device = "0";
  by_index = facet_vulkan_backend_new_full (&options, &error);
  g_assert_no_error (error);
  description = facet_backend_describe (by_index);
  g_assert_nonnull (strstr (description, first->name));

  /* a case-insensitive part of the name */
  needle = g_ascii_strup (first->name, 4);
  options.device = needle;
  by_name = facet_vulkan_backend_new_full (&options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (by_name);

  options.device = "no such device";
  missing = facet_vulkan_backend_new_full (&options, &error);
  g_assert_null (missing);
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  options.device = "99";
  missing = facet_vulkan_backend_new_full (&options, &error);
  g_assert_null (missing);
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_BACKEND);
  g_clear_error (&error);

  /* "auto" takes Vulkan only on a real GPU */
  automatic = facet_backend_new ("auto", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (facet_backend_get_name (automatic), ==,
                   first->type == FACET_DEVICE_DISCRETE_GPU
                       || first->type == FACET_DEVICE_INTEGRATED_GPU ? "vulkan" : "cpu");
}

/* The pipeline cache is written under $XDG_CACHE_HOME/facet/ and read back. */
static void
test_pipeline_cache (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_cache_dir (), "facet", NULL);
  g_autoptr (GDir) listing = NULL;
  g_autoptr (FacetModel) model = make_model (32, 16, 64, 1, 2, FACET_READOUT_GLOBAL_POOL, 0, 19);
  g_autoptr (GError) error = NULL;
  const char *name;
  gboolean found = FALSE;

  {
    g_autoptr (FacetBackend) vk = vulkan_backend (FACET_PRECISION_FP32, 0);
    g_assert_true (facet_backend_load_model (vk, model, &error));
  }
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (listing)) != NULL)
    if (g_str_has_prefix (name, "vulkan-pipelines-"))
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        GStatBuf st;
        g_assert_cmpint (g_stat (path, &st), ==, 0);
        g_assert_cmpint (st.st_size, >=, 32);
        found = TRUE;
      }
  g_assert_true (found);
  {
    /* a second backend starts from it */
    g_autoptr (FacetBackend) vk = vulkan_backend (FACET_PRECISION_FP32, 0);
    g_assert_true (facet_backend_load_model (vk, model, &error));
    g_assert_no_error (error);
  }
}

int
main (int    argc,
      char **argv)
{
  FacetBackend *probe;

  g_test_init (&argc, &argv, NULL);
  probe = vulkan_test_open_device ();
  if (probe == NULL)
    return 77;
  facet_backend_free (probe);

  g_test_add_func ("/vulkan/forward/global-pool-fp32", test_forward_global_pool_fp32);
  g_test_add_func ("/vulkan/forward/cls-token-fp32", test_forward_cls_token_fp32);
  g_test_add_func ("/vulkan/forward/global-pool-fp16", test_forward_global_pool_fp16);
  g_test_add_func ("/vulkan/forward/staging", test_forward_staging);
  g_test_add_func ("/vulkan/forward/chunks", test_chunks);
  g_test_add_func ("/vulkan/forward/errors", test_forward_errors);
  g_test_add_func ("/vulkan/failure/out-of-memory", test_out_of_memory);
  g_test_add_func ("/vulkan/failure/device-lost", test_device_lost);
  g_test_add_func ("/vulkan/forward/engine", test_engine);
  g_test_add_func ("/vulkan/devices", test_devices);
  g_test_add_func ("/vulkan/pipeline-cache", test_pipeline_cache);
  return vulkan_test_run ();
}
