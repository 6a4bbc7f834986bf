/* test-backward.c — every backward op of the CPU backend against central
 * finite differences of a double-precision forward, at odd sizes; and the
 * whole training step (heads, pooling, GRL, losses) against finite
 * differences of its own loss. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "core/facet-core.h"
#include "engine/cpu/cpu-backend.h"
#include "engine/cpu/cpu-kernels.h"
#include "engine/facet-engine.h"

static FacetRng rng;

static float *
randn (gsize  n,
       double scale)
{
  float *v = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    v[i] = (float) (facet_rng_normal (&rng) * scale);
  return v;
}

/* Compares analytic gradients with central differences on a sample of
 * entries; @loss evaluates sum(R * f(x)) in double with x[i] perturbed. */
typedef double (*LossFunc) (gpointer data);

static void
check_grad (const char *what,
            float      *x,
            gsize       n,
            const float *analytic,
            LossFunc    loss,
            gpointer    data,
            double      h,
            double      tol)
{
  /* Below @floor a gradient is compared absolutely: float losses make the
   * differences noisy at about 1e-7 * |loss| / h. */
  double floor = tol > 5e-3 ? 1e-2 : 1e-3;
  double worst = 0.0;
  guint samples = MIN (n, 24);

  for (guint s = 0; s < samples; s++)
    {
      gsize i = n <= 24 ? s : facet_rng_below (&rng, (guint32) n);
      float saved = x[i];
      double up, down, fd, err;

      x[i] = (float) (saved + h);
      up = loss (data);
      x[i] = (float) (saved - h);
      down = loss (data);
      x[i] = saved;
      fd = (up - down) / (((double) (float) (saved + h)) - ((double) (float) (saved - h)));
      err = fabs (fd - analytic[i]) / (fabs (fd) + floor);
      worst = MAX (worst, err);
      if (err > tol)
        g_error ("%s: element %" G_GSIZE_FORMAT ": analytic %.7g, finite difference %.7g", what, i,
                 (double) analytic[i], fd);
    }
  g_test_message ("%s: worst relative error %.2e", what, worst);
}

/* Linear ---------------------------------------------------------------------- */

typedef struct
{
  int    m, n, k;
  float *x, *w, *b, *r;
} LinearCase;

static double
linear_loss (gpointer data)
{
  LinearCase *c = data;
  double sum = 0;

  for (int i = 0; i < c->m; i++)
    for (int j = 0; j < c->n; j++)
      {
        double y = c->b[j];
        for (int q = 0; q < c->k; q++)
          y += (double) c->x[i * c->k + q] * c->w[j * c->k + q];
        sum += y * c->r[i * c->n + j];
      }
  return sum;
}

static void
test_linear_backward (void)
{
  static const int sizes[][3] = { { 1, 1, 1 }, { 7, 5, 3 }, { 13, 197, 7 }, { 197, 7, 64 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      LinearCase c = { sizes[s][0], sizes[s][1], sizes[s][2] };
      g_autofree float *dx = g_new0 (float, (gsize) c.m * c.k);
      g_autofree float *dw = g_new0 (float, (gsize) c.n * c.k);
      g_autofree float *db = g_new0 (float, c.n);

      c.x = randn ((gsize) c.m * c.k, 1.0);
      c.w = randn ((gsize) c.n * c.k, 1.0);
      c.b = randn ((gsize) c.n, 1.0);
      c.r = randn ((gsize) c.m * c.n, 1.0);
      facet_cpu_linear_backward (c.x, c.w, c.r, c.m, c.n, c.k, dx, FALSE, dw, db);
      check_grad ("linear dx", c.x, (gsize) c.m * c.k, dx, linear_loss, &c, 1e-2, 2e-3);
      check_grad ("linear dw", c.w, (gsize) c.n * c.k, dw, linear_loss, &c, 1e-2, 2e-3);
      check_grad ("linear db", c.b, (gsize) c.n, db, linear_loss, &c, 1e-2, 2e-3);
      g_free (c.x);
      g_free (c.w);
      g_free (c.b);
      g_free (c.r);
    }
}

/* Layer norm --------------------------------------------------------------------- */

typedef struct
{
  int    m, n;
  float *x, *g, *b, *r;
} LnCase;

static double
ln_loss (gpointer data)
{
  LnCase *c = data;
  double sum = 0;

  for (int i = 0; i < c->m; i++)
    {
      double mean = 0, var = 0;
      for (int j = 0; j < c->n; j++)
        mean += c->x[i * c->n + j];
      mean /= c->n;
      for (int j = 0; j < c->n; j++)
        var += (c->x[i * c->n + j] - mean) * (c->x[i * c->n + j] - mean);
      var /= c->n;
      for (int j = 0; j < c->n; j++)
        sum += ((c->x[i * c->n + j] - mean) / sqrt (var + 1e-6) * c->g[j] + c->b[j])
               * c->r[i * c->n + j];
    }
  return sum;
}

static void
test_layer_norm_backward (void)
{
  static const int sizes[][2] = { { 1, 2 }, { 7, 7 }, { 5, 197 }, { 3, 768 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      LnCase c = { sizes[s][0], sizes[s][1] };
      g_autofree float *y = g_new (float, (gsize) c.m * c.n);
      g_autofree float *mean = g_new (float, c.m), *rstd = g_new (float, c.m);
      g_autofree float *dx = g_new0 (float, (gsize) c.m * c.n);
      g_autofree float *dg = g_new0 (float, c.n), *db = g_new0 (float, c.n);

      c.x = randn ((gsize) c.m * c.n, 2.0);
      c.g = randn ((gsize) c.n, 1.0);
      c.b = randn ((gsize) c.n, 1.0);
      c.r = randn ((gsize) c.m * c.n, 1.0);
      facet_cpu_layer_norm (c.x, y, (gsize) c.m, (gsize) c.n, c.g, c.b, 1e-6f, mean, rstd);
      facet_cpu_layer_norm_backward (c.x, c.r, c.g, mean, rstd, (gsize) c.m, (gsize) c.n, dx, dg, db);
      check_grad ("layer norm dx", c.x, (gsize) c.m * c.n, dx, ln_loss, &c, 1e-2, 2e-3);
      check_grad ("layer norm dgamma", c.g, (gsize) c.n, dg, ln_loss, &c, 1e-2, 2e-3);
      check_grad ("layer norm dbeta", c.b, (gsize) c.n, db, ln_loss, &c, 1e-2, 2e-3);
      g_free (c.x);
      g_free (c.g);
      g_free (c.b);
      g_free (c.r);
    }
}

/* GELU ----------------------------------------------------------------------------- */

static void
test_gelu_backward (void)
{
  gsize n = 1031;
  g_autofree float *x = randn (n, 3.0);
  g_autofree float *dy = randn (n, 1.0);
  g_autofree float *dx = g_new (float, n);
  double worst = 0;

  x[0] = 0.0f;
  x[1] = -8.0f;
  x[2] = 8.0f;
  facet_cpu_gelu_backward (x, dy, dx, n);
  for (gsize i = 0; i < n; i++)
    {
      double h = 1e-4, xi = x[i];
      double gp = 0.5 * (xi + h) * erfc (-(xi + h) / sqrt (2.0));
      double gm = 0.5 * (xi - h) * erfc (-(xi - h) / sqrt (2.0));
      double fd = (gp - gm) / (2 * h) * dy[i];
      double err = fabs (fd - dx[i]) / (fabs (fd) + 1e-6);
      worst = MAX (worst, err);
      if (err > 1e-4)
        g_error ("gelu backward at %g: %.8g vs %.8g", xi, (double) dx[i], fd);
    }
  g_test_message ("gelu backward: worst relative error %.2e", worst);
}

/* Attention ---------------------------------------------------------------------- */

typedef struct
{
  int    b, t, h, d;
  float *qkv, *r;
} AttnCase;

static double
attn_loss (gpointer data)
{
  AttnCase *c = data;
  int dh = c->d / c->h;
  g_autofree double *s = g_new (double, c->t);
  double sum = 0;

  for (int b = 0; b < c->b; b++)
    for (int h = 0; h < c->h; h++)
      for (int i = 0; i < c->t; i++)
        {
          const float *q = c->qkv + ((gsize) b * c->t + i) * 3 * c->d + h * dh;
          double mx = -INFINITY, z = 0;
          for (int j = 0; j < c->t; j++)
            {
              const float *k = c->qkv + ((gsize) b * c->t + j) * 3 * c->d + c->d + h * dh;
              double v = 0;
              for (int e = 0; e < dh; e++)
                v += (double) q[e] * k[e];
              s[j] = v / sqrt (dh);
              mx = MAX (mx, s[j]);
            }
          for (int j = 0; j < c->t; j++)
            z += (s[j] = exp (s[j] - mx));
          for (int e = 0; e < dh; e++)
            {
              double o = 0;
              for (int j = 0; j < c->t; j++)
                o += s[j] / z * c->qkv[((gsize) b * c->t + j) * 3 * c->d + 2 * c->d + h * dh + e];
              sum += o * c->r[((gsize) b * c->t + i) * c->d + h * dh + e];
            }
        }
  return sum;
}

static void
test_attention_backward (void)
{
  static const int cases[][4] = { { 1, 1, 1, 2 }, { 2, 7, 3, 12 }, { 1, 17, 2, 8 } };

  for (guint s = 0; s < G_N_ELEMENTS (cases); s++)
    {
      AttnCase c = { cases[s][0], cases[s][1], cases[s][2], cases[s][3] };
      gsize tt = (gsize) c.t * c.t;
      g_autofree float *out = g_new (float, (gsize) c.b * c.t * c.d);
      g_autofree float *probs = g_new (float, (gsize) c.b * c.h * tt);
      g_autofree float *scratch = g_new (float, (gsize) c.b * c.h * tt);
      g_autofree float *dqkv = g_new (float, (gsize) c.b * c.t * 3 * c.d);

      c.qkv = randn ((gsize) c.b * c.t * 3 * c.d, 1.0);
      c.r = randn ((gsize) c.b * c.t * c.d, 1.0);
      facet_cpu_attention (c.qkv, out, probs, NULL, c.b, c.t, c.h, c.d);
      facet_cpu_attention_backward (c.qkv, probs, c.r, dqkv, scratch, c.b, c.t, c.h, c.d);
      check_grad ("attention dqkv", c.qkv, (gsize) c.b * c.t * 3 * c.d, dqkv, attn_loss, &c, 1e-2, 2e-3);
      g_free (c.qkv);
      g_free (c.r);
    }
}

/* The whole step ------------------------------------------------------------------ */

typedef struct
{
  FacetBackend   *cpu;
  FacetTrainStep *step;
  FacetGrads     *scratch;
  gboolean        id_part;
} StepCase;

static double
step_loss (gpointer data)
{
  StepCase *c = data;
  FacetTrainStepResult r = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (facet_backend_train_step (c->cpu, c->step, c->scratch, &r, &error));
  /* With lambda 0 the backbone and the AU head see only the AU loss, and
   * ID_head only the identity loss. */
  return c->id_part ? r.id_loss : r.au_loss;
}

static void
test_whole_step (void)
{
  g_autoptr (FacetModelConfig) cfg = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetBackend) cpu = facet_cpu_backend_new ();
  g_autoptr (FacetGrads) grads = NULL;
  g_autoptr (FacetGrads) scratch = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *images = NULL, *targets = g_new (float, 3 * 4);
  int subjects[3] = { 1, -1, 2 };
  FacetTrainStep step = { 0 };
  StepCase sc;
  GPtrArray *names;

  cfg->image_size = 16;
  cfg->patch_size = 8;
  cfg->dim = 12;
  cfg->depth = 2;
  cfg->heads = 3;
  cfg->mlp_hidden = 20;
  cfg->n_subjects = 3;
  facet_model_config_set_aus (cfg, (const int[]) { 1, 2, 6, 12 }, 4);
  model = facet_model_new_random (cfg, 5, &error);
  g_assert_no_error (error);
  /* Heads start near zero in the recipe; give them weight so that every
   * gradient is visible to finite differences. */
  {
    float *w = facet_model_get_weights (model, "head.weight");
    float *iw = facet_model_get_weights (model, "ID_head.weight");
    for (int i = 0; i < 4 * 12; i++)
      w[i] = (float) facet_rng_normal (&rng) * 0.5f;
    for (int i = 0; i < 3 * 12; i++)
      iw[i] = (float) facet_rng_normal (&rng) * 0.5f;
  }
  g_assert_true (facet_backend_load_model (cpu, model, &error));
  images = randn (3 * 3 * 16 * 16, 1.0);
  for (int i = 0; i < 12; i++)
    targets[i] = (float) (i % 3 == 0 ? -1 : i % 2);
  step.batch = 3;
  step.images = images;
  step.au_targets = targets;
  step.subjects = subjects;
  step.iat_lambda = 0.0f; /* with reversal the step's gradient is not the loss's */
  step.train_embedding = TRUE;

  grads = facet_grads_new (model, NULL, NULL);
  scratch = facet_grads_new (model, NULL, NULL);
  g_assert_true (facet_backend_train_step (cpu, &step, grads, NULL, &error));
  sc = (StepCase) { cpu, &step, scratch, FALSE };
  names = facet_grads_get_names (grads);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const FacetTensor *t = facet_model_get_tensor (model, name);
      sc.id_part = g_str_has_prefix (name, "ID_head");
      check_grad (name, (float *) t->data, (gsize) facet_tensor_numel (t),
                  facet_grads_get (grads, name), step_loss, &sc, 2e-3, 1e-2);
    }

  /* The reversal: with lambda, the ID head's own gradients are unchanged and
   * the backbone's identity part flips sign and scales. */
  {
    g_autoptr (FacetGrads) g0 = facet_grads_new (model, NULL, NULL);
    g_autoptr (FacetGrads) g1 = facet_grads_new (model, NULL, NULL);
    g_autoptr (FacetGrads) g2 = facet_grads_new (model, NULL, NULL);
    g_autofree float *no_aus = g_new (float, 12);
    const float *a, *b, *c;

    for (int i = 0; i < 12; i++)
      no_aus[i] = -1.0f; /* only the identity loss */
    step.au_targets = no_aus;
    step.iat_lambda = 0.0f;
    g_assert_true (facet_backend_train_step (cpu, &step, g0, NULL, &error));
    step.iat_lambda = 1.0f;
    g_assert_true (facet_backend_train_step (cpu, &step, g1, NULL, &error));
    step.iat_lambda = 2.5f;
    g_assert_true (facet_backend_train_step (cpu, &step, g2, NULL, &error));
    a = facet_grads_get (g0, "ID_head.weight");
    b = facet_grads_get (g2, "ID_head.weight");
    for (int i = 0; i < 36; i++)
      g_assert_cmpfloat_with_epsilon (a[i], b[i], 1e-7);
    a = facet_grads_get (g0, "fc_norm.weight");
    b = facet_grads_get (g1, "fc_norm.weight");
    c = facet_grads_get (g2, "fc_norm.weight");
    for (int i = 0; i < 12; i++)
      {
        /* lambda 0: no identity gradient reaches the backbone at all. */
        g_assert_cmpfloat (a[i], ==, 0.0f);
        g_assert_cmpfloat_with_epsilon (c[i], 2.5f * b[i], 1e-6);
      }
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  facet_rng_init (&rng, 1234);
  g_test_add_func ("/train/backward/linear", test_linear_backward);
  g_test_add_func ("/train/backward/layer-norm", test_layer_norm_backward);
  g_test_add_func ("/train/backward/gelu", test_gelu_backward);
  g_test_add_func ("/train/backward/attention", test_attention_backward);
  g_test_add_func ("/train/backward/whole-step", test_whole_step);
  return g_test_run ();
}
