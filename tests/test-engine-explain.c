/* test-engine-explain.c — evidence maps: shapes, the methods' invariants,
 * occlusion against a direct computation, hiding patches, normalisation,
 * errors and cancellation (the gradient methods against PyTorch are in
 * parity/test_maps_parity.py)
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"

#define SIZE  32
#define PATCH 8
#define GRID  (SIZE / PATCH)
#define NP    (GRID * GRID)
#define N_AUS 3
#define PER   (3 * SIZE * SIZE)

static FacetEngine *
tiny_engine (FacetReadout readout)
{
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GError) error = NULL;
  FacetEngine *engine;

  c->image_size = SIZE;
  c->patch_size = PATCH;
  c->dim = 24;
  c->depth = 2;
  c->heads = 3;
  c->mlp_hidden = 40;
  c->readout = readout;
  facet_model_config_set_aus (c, (const int[]) { 1, 2, 12 }, N_AUS);
  model = facet_model_new_random (c, 5, &error);
  g_assert_no_error (error);
  engine = facet_engine_new (model, "cpu", &error);
  g_assert_no_error (error);
  return engine;
}

static float *
random_image (guint64 seed)
{
  float *x = g_new (float, PER);
  FacetRng rng;

  facet_rng_init (&rng, seed);
  for (int i = 0; i < PER; i++)
    x[i] = (float) (2.0 * facet_rng_uniform (&rng) - 1.0);
  return x;
}

static void
test_methods (void)
{
  for (int m = 0; m < FACET_MAP_N_METHODS; m++)
    {
      FacetMapMethod back = FACET_MAP_N_METHODS;
      const char *id = facet_map_method_to_string ((FacetMapMethod) m);
      g_assert_nonnull (id);
      g_assert_nonnull (facet_map_method_get_title ((FacetMapMethod) m));
      g_assert_true (facet_map_method_from_string (id, &back));
      g_assert_cmpint (back, ==, m);
    }
  {
    FacetMapMethod m = FACET_MAP_OCCLUSION;
    g_assert_false (facet_map_method_from_string ("saliency", &m));
    g_assert_false (facet_map_method_from_string (NULL, &m));
    g_assert_cmpint (m, ==, FACET_MAP_OCCLUSION);
  }
  g_assert_false (facet_map_method_is_per_au (FACET_MAP_ROLLOUT));
  g_assert_true (facet_map_method_is_per_au (FACET_MAP_GRAD_ATTENTION));
  g_assert_true (facet_map_method_is_slow (FACET_MAP_OCCLUSION));
  g_assert_false (facet_map_method_is_slow (FACET_MAP_INPUT_X_GRADIENT));
}

static void
test_normalise (void)
{
  float map[] = { 2.0f, -4.0f, 1.0f, 0.0f };
  float zero[] = { 0.0f, 0.0f };

  facet_map_normalise (map, 4);
  g_assert_cmpfloat (map[0], ==, 0.5f);
  g_assert_cmpfloat (map[1], ==, -1.0f);
  g_assert_cmpfloat (map[2], ==, 0.25f);
  g_assert_cmpfloat (map[3], ==, 0.0f);
  facet_map_normalise (zero, 2);
  g_assert_cmpfloat (zero[0], ==, 0.0f);
  g_assert_cmpfloat (zero[1], ==, 0.0f);
}

static void
test_hide (void)
{
  g_autoptr (FacetEngine) engine = tiny_engine (FACET_READOUT_GLOBAL_POOL);
  const FacetModelConfig *c = facet_model_get_config (facet_engine_get_model (engine));
  g_autofree float *x = random_image (3);
  g_autofree float *y = g_new (float, PER);
  gboolean hide[NP] = { FALSE };
  int q = 6, qy = q / GRID, qx = q % GRID;

  hide[q] = TRUE;
  for (int fill = FACET_OCCLUSION_FILL_MEAN; fill <= FACET_OCCLUSION_FILL_PATCH_MEAN; fill++)
    {
      facet_map_hide_patches (c, x, hide, (FacetOcclusionFill) fill, NULL, y);
      for (int ch = 0; ch < 3; ch++)
        {
          double image_mean = 0.0, patch_mean = 0.0, want;
          for (int i = 0; i < SIZE * SIZE; i++)
            image_mean += x[ch * SIZE * SIZE + i] / (double) (SIZE * SIZE);
          for (int py = 0; py < PATCH; py++)
            for (int px = 0; px < PATCH; px++)
              patch_mean += x[ch * SIZE * SIZE + (qy * PATCH + py) * SIZE + qx * PATCH + px]
                            / (double) (PATCH * PATCH);
          want = fill == FACET_OCCLUSION_FILL_MEAN ? 0.0
                 : fill == FACET_OCCLUSION_FILL_IMAGE_MEAN ? image_mean : patch_mean;
          for (int yy = 0; yy < SIZE; yy++)
            for (int xx = 0; xx < SIZE; xx++)
              {
                int i = ch * SIZE * SIZE + yy * SIZE + xx;
                gboolean inside = yy / PATCH == qy && xx / PATCH == qx;
                if (inside)
                  g_assert_cmpfloat_with_epsilon (y[i], want, 1e-5);
                else
                  g_assert_cmpfloat (y[i], ==, x[i]);
              }
        }
    }

  /* The reference fill: the reference's own pixels inside, the image's
   * outside. */
  {
    g_autofree float *ref = random_image (9);
    facet_map_hide_patches (c, x, hide, FACET_OCCLUSION_FILL_REFERENCE, ref, y);
    for (int ch = 0; ch < 3; ch++)
      for (int yy = 0; yy < SIZE; yy++)
        for (int xx = 0; xx < SIZE; xx++)
          {
            int i = ch * SIZE * SIZE + yy * SIZE + xx;
            gboolean inside = yy / PATCH == qy && xx / PATCH == qx;
            g_assert_cmpfloat (y[i], ==, inside ? ref[i] : x[i]);
          }
  }
}

typedef struct
{
  int    calls;
  double last;
} Progress;

static void
on_progress (double      fraction,
             const char *message,
             gpointer    data)
{
  Progress *p = data;

  g_assert_cmpfloat (fraction, >=, p->last);
  g_assert_cmpfloat (fraction, <=, 1.0);
  p->last = fraction;
  p->calls++;
}

static void
test_reference (void)
{
  g_autoptr (FacetEngine) engine = tiny_engine (FACET_READOUT_GLOBAL_POOL);
  const FacetModelConfig *c = facet_model_get_config (facet_engine_get_model (engine));
  g_autofree float *x = random_image (3);
  g_autofree float *ref = random_image (5);
  g_autofree float *maps = g_new (float, (gsize) c->n_aus * NP);
  g_autoptr (GError) error = NULL;
  FacetMapOptions o;

  /* Asked for without the reference image: an error, nothing written. */
  facet_map_options_init (&o);
  o.fill = FACET_OCCLUSION_FILL_REFERENCE;
  maps[0] = 7.0f;
  g_assert_false (facet_engine_explain (engine, x, FACET_MAP_OCCLUSION, NULL, 0, &o, maps, NULL,
                                        NULL, NULL, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "reference"));
  g_assert_cmpfloat (maps[0], ==, 7.0f);
  g_clear_error (&error);

  /* The image as its own reference: no patch changes, every drop is 0;
   * another reference: drops that are not all 0. */
  o.reference = x;
  g_assert_true (facet_engine_explain (engine, x, FACET_MAP_OCCLUSION, NULL, 0, &o, maps, NULL,
                                       NULL, NULL, &error));
  for (int i = 0; i < c->n_aus * NP; i++)
    g_assert_cmpfloat (maps[i], ==, 0.0f);
  o.reference = ref;
  g_assert_true (facet_engine_explain (engine, x, FACET_MAP_OCCLUSION, NULL, 0, &o, maps, NULL,
                                       NULL, NULL, &error));
  {
    float top = 0.0f;
    for (int i = 0; i < c->n_aus * NP; i++)
      top = MAX (top, fabsf (maps[i]));
    g_assert_cmpfloat (top, >, 0.0f);
  }

  /* Change from neutral, both ways: the mean of this drop and of the
   * reference's rise, i.e. minus the drop of the reference against the
   * image; progress runs once from 0 to 1 over the two halves. */
  {
    g_autofree float *back = g_new (float, (gsize) c->n_aus * NP);
    g_autofree float *both = g_new (float, (gsize) c->n_aus * NP);
    Progress progress = { 0, 0.0 };

    o.reference = x;
    g_assert_true (facet_engine_explain (engine, ref, FACET_MAP_OCCLUSION, NULL, 0, &o, back,
                                         NULL, NULL, NULL, &error));
    o.reference = ref;
    g_assert_true (facet_engine_explain (engine, x, FACET_MAP_NEUTRAL, NULL, 0, &o, both,
                                         on_progress, &progress, NULL, &error));
    for (int i = 0; i < c->n_aus * NP; i++)
      g_assert_cmpfloat_with_epsilon (both[i], 0.5f * (maps[i] - back[i]), 1e-6);
    g_assert_cmpfloat (progress.last, ==, 1.0);
    g_assert_cmpint (progress.calls, >, 1);
  }
}

/* Occlusion on cells finer than the patches (2 x 2 a patch): each cell's
 * value is the drop when that cell alone is hidden, computed directly; a
 * cell hides only its own pixels; a cell count that does not divide the
 * patch, or a finer map from another method, is refused. */
static void
test_cells (void)
{
  g_autoptr (FacetEngine) engine = tiny_engine (FACET_READOUT_GLOBAL_POOL);
  const FacetModelConfig *c = facet_model_get_config (facet_engine_get_model (engine));
  const int side = GRID * 2, n = side * side, cell = PATCH / 2;
  g_autofree float *x = random_image (11);
  g_autofree float *ref = random_image (12);
  g_autofree float *y = g_new (float, PER);
  g_autofree float *maps = g_new (float, (gsize) N_AUS * n);
  g_autofree float *both = g_new (float, (gsize) N_AUS * n);
  g_autofree float *back = g_new (float, (gsize) N_AUS * n);
  g_autofree gboolean *hide = g_new0 (gboolean, n);
  g_autoptr (FacetForwardResult) base = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
  g_autoptr (FacetForwardResult) one = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
  g_autoptr (GError) error = NULL;
  FacetMapOptions o;

  facet_map_options_init (&o);
  g_assert_cmpint (o.cells, ==, 1);
  g_assert_cmpint (facet_map_side (c, &o), ==, GRID);
  o.cells = 2;
  g_assert_cmpint (facet_map_side (c, &o), ==, side);

  /* Hiding cell 9 (row 1, column 1) touches its own 4 x 4 pixels only. */
  hide[9] = TRUE;
  facet_map_hide_cells (c, x, hide, 2, FACET_OCCLUSION_FILL_REFERENCE, ref, y);
  for (int ch = 0; ch < 3; ch++)
    for (int yy = 0; yy < SIZE; yy++)
      for (int xx = 0; xx < SIZE; xx++)
        {
          int i = ch * SIZE * SIZE + yy * SIZE + xx;
          gboolean inside = yy / cell == 1 && xx / cell == 1;
          g_assert_cmpfloat (y[i], ==, inside ? ref[i] : x[i]);
        }
  hide[9] = FALSE;

  g_assert_true (facet_engine_explain (engine, x, FACET_MAP_OCCLUSION, NULL, 0, &o, maps, NULL,
                                       NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (facet_engine_forward (engine, x, 1, FACET_FORWARD_NONE, base, &error));
  for (int q = 0; q < n; q++)
    {
      hide[q] = TRUE;
      facet_map_hide_cells (c, x, hide, 2, o.fill, NULL, y);
      hide[q] = FALSE;
      g_assert_true (facet_engine_forward (engine, y, 1, FACET_FORWARD_NONE, one, &error));
      for (int a = 0; a < N_AUS; a++)
        g_assert_cmpfloat_with_epsilon (maps[(gsize) a * n + q], base->probs[a] - one->probs[a],
                                        1e-6);
    }

  /* Change from neutral on cells: the mean of the two one-way maps. */
  o.fill = FACET_OCCLUSION_FILL_REFERENCE;
  o.reference = ref;
  g_assert_true (facet_engine_explain (engine, x, FACET_MAP_OCCLUSION, NULL, 0, &o, maps, NULL,
                                       NULL, NULL, &error));
  o.reference = x;
  g_assert_true (facet_engine_explain (engine, ref, FACET_MAP_OCCLUSION, NULL, 0, &o, back, NULL,
                                       NULL, NULL, &error));
  o.reference = ref;
  g_assert_true (facet_engine_explain (engine, x, FACET_MAP_NEUTRAL, NULL, 0, &o, both, NULL, NULL,
                                       NULL, &error));
  for (int i = 0; i < N_AUS * n; i++)
    g_assert_cmpfloat_with_epsilon (both[i], 0.5f * (maps[i] - back[i]), 1e-6);

  /* Refused, nothing written. */
  maps[0] = 7.0f;
  o.cells = 3;
  g_assert_false (facet_engine_explain (engine, x, FACET_MAP_OCCLUSION, NULL, 0, &o, maps, NULL,
                                        NULL, NULL, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "3 cells per patch side"));
  g_clear_error (&error);
  o.cells = 2;
  g_assert_false (facet_engine_explain (engine, x, FACET_MAP_GRAD_ATTENTION, NULL, 0, &o, maps,
                                        NULL, NULL, NULL, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "grad-attention"));
  g_clear_error (&error);
  g_assert_cmpfloat (maps[0], ==, 7.0f);
}

static void
test_shapes (void)
{
  g_autoptr (FacetEngine) engine = tiny_engine (FACET_READOUT_GLOBAL_POOL);
  const FacetModelConfig *c = facet_model_get_config (facet_engine_get_model (engine));
  g_autofree float *x = random_image (4);
  g_autoptr (FacetForwardResult) r = facet_forward_result_new (c, 1, FACET_FORWARD_AU_MAPS);
  g_autoptr (GError) error = NULL;
  g_autofree float *neutral = random_image (8);
  FacetMapOptions logit_mean;

  g_assert_true (facet_engine_forward (engine, x, 1, FACET_FORWARD_AU_MAPS, r, &error));
  facet_map_options_init (&logit_mean);
  logit_mean.reference = neutral; /* for the change-from-neutral map; ignored by the others */
  g_assert_cmpint (logit_mean.fill, ==, FACET_OCCLUSION_FILL_IMAGE_MEAN);
  g_assert_true (logit_mean.probability);
  logit_mean.fill = FACET_OCCLUSION_FILL_MEAN;
  logit_mean.probability = FALSE;
  for (int m = 0; m < FACET_MAP_N_METHODS; m++)
    {
      float all[N_AUS * NP], one[NP + 1];
      Progress progress = { 0, 0.0 };
      const int au = 2;

      one[NP] = 12345.0f; /* nothing is written past one AU's map */
      g_assert_true (facet_engine_explain (engine, x, (FacetMapMethod) m, NULL, 0, &logit_mean,
                                           all, on_progress, &progress, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (facet_engine_explain (engine, x, (FacetMapMethod) m, &au, 1, &logit_mean, one,
                                           NULL, NULL, NULL, &error));
      g_assert_cmpfloat (one[NP], ==, 12345.0f);
      for (int p = 0; p < NP; p++)
        g_assert_cmpfloat_with_epsilon (one[p], all[2 * NP + p], 1e-5);
      for (int i = 0; i < N_AUS * NP; i++)
        g_assert_true (isfinite (all[i]));
      if (facet_map_method_is_slow ((FacetMapMethod) m)
          || m == FACET_MAP_GRAD_ATTENTION || m == FACET_MAP_INPUT_X_GRADIENT)
        {
          g_assert_cmpint (progress.calls, >, 0);
          g_assert_cmpfloat (progress.last, ==, 1.0);
        }

      switch (m)
        {
        case FACET_MAP_ROLLOUT:
          /* Model-wide: the same map for every AU, a distribution over patches
           * up to the class token's share. */
          {
            double sum = 0.0;
            for (int p = 0; p < NP; p++)
              {
                g_assert_cmpfloat (all[p], ==, all[NP + p]);
                g_assert_cmpfloat (all[p], >, 0.0f);
                sum += all[p];
              }
            g_assert_cmpfloat (sum, <=, 1.0 + 1e-5);
            g_assert_cmpfloat (sum, >, 0.5);
          }
          break;
        case FACET_MAP_LAST_LAYER:
          /* The terms add up to the logit. */
          for (int a = 0; a < N_AUS; a++)
            {
              double sum = r->au_map_bias[a];
              for (int p = 0; p < NP; p++)
                sum += all[a * NP + p];
              g_assert_cmpfloat_with_epsilon (sum, r->logits[a], 1e-4);
            }
          break;
        case FACET_MAP_GRAD_ATTENTION:
          for (int i = 0; i < N_AUS * NP; i++)
            g_assert_cmpfloat (all[i], >=, 0.0f);
          break;
        case FACET_MAP_OCCLUSION:
          /* Against a direct computation: hide the patch, run the forward. */
          for (int q = 0; q < NP; q += 5)
            {
              gboolean hide[NP] = { FALSE };
              g_autofree float *y = g_new (float, PER);
              g_autoptr (FacetForwardResult) h = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
              hide[q] = TRUE;
              facet_map_hide_patches (c, x, hide, FACET_OCCLUSION_FILL_MEAN, NULL, y);
              g_assert_true (facet_engine_forward (engine, y, 1, FACET_FORWARD_NONE, h, &error));
              for (int a = 0; a < N_AUS; a++)
                g_assert_cmpfloat_with_epsilon (all[a * NP + q], r->logits[a] - h->logits[a],
                                                1e-4);
            }
          break;
        case FACET_MAP_NEUTRAL:
          /* Against a direct computation: half the logit's drop with the
           * neutral frame's patch put in, plus half the neutral frame's
           * rise with this image's patch put in. */
          for (int q = 0; q < NP; q += 5)
            {
              gboolean hide[NP] = { FALSE };
              g_autofree float *y = g_new (float, 2 * PER);
              g_autoptr (FacetForwardResult) h = facet_forward_result_new (c, 2, FACET_FORWARD_NONE);
              g_autoptr (FacetForwardResult) n0 = facet_forward_result_new (c, 1, FACET_FORWARD_NONE);
              hide[q] = TRUE;
              facet_map_hide_patches (c, x, hide, FACET_OCCLUSION_FILL_REFERENCE, neutral, y);
              facet_map_hide_patches (c, neutral, hide, FACET_OCCLUSION_FILL_REFERENCE, x, y + PER);
              g_assert_true (facet_engine_forward (engine, y, 2, FACET_FORWARD_NONE, h, &error));
              g_assert_true (facet_engine_forward (engine, neutral, 1, FACET_FORWARD_NONE, n0, &error));
              for (int a = 0; a < N_AUS; a++)
                g_assert_cmpfloat_with_epsilon (all[a * NP + q],
                                                0.5f * (r->logits[a] - h->logits[a])
                                                  + 0.5f * (h->logits[N_AUS + a] - n0->logits[a]),
                                                1e-4);
            }
          break;
        default:
          break;
        }
    }
}

static void
test_errors (void)
{
  g_autoptr (FacetEngine) engine = tiny_engine (FACET_READOUT_GLOBAL_POOL);
  g_autoptr (FacetEngine) cls = tiny_engine (FACET_READOUT_CLS_TOKEN);
  g_autofree float *x = random_image (5);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  float maps[N_AUS * NP];
  const int bad = N_AUS;
  GError *error = NULL;

  for (int i = 0; i < N_AUS * NP; i++)
    maps[i] = 7.0f;
  g_assert_false (facet_engine_explain (engine, x, FACET_MAP_GRAD_ATTENTION, &bad, 1, NULL, maps,
                                        NULL, NULL, NULL, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "AU index 3"));
  g_clear_error (&error);
  g_assert_cmpfloat (maps[0], ==, 7.0f);

  g_assert_false (facet_engine_explain (cls, x, FACET_MAP_LAST_LAYER, NULL, 0, NULL, maps, NULL,
                                        NULL, NULL, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  /* The class-token readout has the other maps. */
  g_assert_true (facet_engine_explain (cls, x, FACET_MAP_GRAD_ATTENTION, NULL, 0, NULL, maps, NULL,
                                       NULL, NULL, &error));
  g_assert_no_error (error);

  g_cancellable_cancel (cancellable);
  for (int m = FACET_MAP_GRAD_ATTENTION; m <= FACET_MAP_OCCLUSION; m++)
    {
      g_assert_false (facet_engine_explain (engine, x, (FacetMapMethod) m, NULL, 0, NULL, maps,
                                            NULL, NULL, cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
    }

  /* Change from neutral without a neutral frame: said, nothing written;
   * with one, it stops when cancelled. */
  for (int i = 0; i < N_AUS * NP; i++)
    maps[i] = 7.0f;
  g_assert_false (facet_engine_explain (engine, x, FACET_MAP_NEUTRAL, NULL, 0, NULL, maps, NULL,
                                        NULL, NULL, &error));
  g_assert_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "neutral frame"));
  g_clear_error (&error);
  g_assert_cmpfloat (maps[0], ==, 7.0f);
  {
    g_autofree float *neutral = random_image (6);
    FacetMapOptions o;
    facet_map_options_init (&o);
    o.reference = neutral;
    g_assert_false (facet_engine_explain (engine, x, FACET_MAP_NEUTRAL, NULL, 0, &o, maps, NULL,
                                          NULL, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/explain/methods", test_methods);
  g_test_add_func ("/engine/explain/normalise", test_normalise);
  g_test_add_func ("/engine/explain/hide", test_hide);
  g_test_add_func ("/engine/explain/reference", test_reference);
  g_test_add_func ("/engine/explain/cells", test_cells);
  g_test_add_func ("/engine/explain/shapes", test_shapes);
  g_test_add_func ("/engine/explain/errors", test_errors);
  return g_test_run ();
}
