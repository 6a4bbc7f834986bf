/* test-loop.c — the fine-tuning loop on a small synthetic problem: it
 * learns, it refuses bad settings before any work, and a run stopped after
 * an epoch and resumed ends with the same weights as an uninterrupted one. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"
#include "train/facet-train.h"

#define N_SUBJ 6
#define PER    30
#define SIZE   32

typedef struct
{
  FacetTrainData data;
  FacetImage    *crops[N_SUBJ * PER];
  float          targets[N_SUBJ * PER * 2];
  int            subjects[N_SUBJ * PER];
  int            aus[2];
} Synthetic;

/* Each subject has its own background (an identity signal); AU1 lights the
 * top-left corner and AU2 the bottom-right one (the AU signal). */
static void
synthetic_init (Synthetic *s)
{
  FacetRng rng;

  facet_rng_init (&rng, 99);
  s->aus[0] = 1;
  s->aus[1] = 2;
  for (int i = 0; i < N_SUBJ * PER; i++)
    {
      int subj = i / PER;
      FacetImage *im = facet_image_new (SIZE, SIZE);
      gboolean au1 = facet_rng_uniform (&rng) < 0.4, au2 = facet_rng_uniform (&rng) < 0.4;
      for (int y = 0; y < SIZE; y++)
        for (int x = 0; x < SIZE; x++)
          {
            guint8 *p = im->data + (gsize) y * im->stride + 3 * x;
            int base = 40 + 30 * subj;
            gboolean lit = (au1 && x < 12 && y < 12) || (au2 && x >= 20 && y >= 20);
            p[0] = (guint8) CLAMP (base + (lit ? 120 : 0) + (int) (facet_rng_normal (&rng) * 10), 0, 255);
            p[1] = (guint8) CLAMP (200 - base + (int) (facet_rng_normal (&rng) * 10), 0, 255);
            p[2] = (guint8) CLAMP ((lit ? 200 : 60) + (int) (facet_rng_normal (&rng) * 10), 0, 255);
          }
      s->crops[i] = im;
      s->targets[2 * i] = au1;
      s->targets[2 * i + 1] = au2;
      s->subjects[i] = subj;
    }
  s->data.n = N_SUBJ * PER;
  s->data.n_aus = 2;
  s->data.au_ids = s->aus;
  s->data.targets = s->targets;
  s->data.subjects = s->subjects;
  s->data.n_subjects = N_SUBJ;
  s->data.crops = s->crops;
}

static void
synthetic_clear (Synthetic *s)
{
  for (int i = 0; i < N_SUBJ * PER; i++)
    facet_image_unref (s->crops[i]);
}

static FacetModel *
tiny_model (void)
{
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (GError) error = NULL;
  FacetModel *m;

  c->image_size = SIZE;
  c->patch_size = 8;
  c->dim = 32;
  c->depth = 2;
  c->heads = 2;
  c->mlp_hidden = 64;
  c->crop = FACET_CROP_NONE;
  facet_model_config_set_aus (c, (const int[]) { 1, 2, 4 }, 3);
  m = facet_model_new_random (c, 3, &error);
  g_assert_no_error (error);
  return m;
}

static void
test_learns (void)
{
  Synthetic s;
  g_autoptr (FacetModel) base = tiny_model ();
  g_autoptr (FacetTrainResult) result = NULL;
  g_autoptr (FacetModel) trained = NULL;
  g_autoptr (GError) error = NULL;
  FacetTrainConfig cfg;
  FacetEpochReport *first, *last;

  synthetic_init (&s);
  facet_train_config_init (&cfg);
  facet_train_config_set_mode (&cfg, FACET_TRAIN_FULL, 0);
  cfg.epochs = 6;
  cfg.batch = 16;
  cfg.optim.base_lr = 2e-3;
  cfg.optim.layer_decay = 1.0;
  cfg.iat_lambda = 0.3;
  cfg.augment = FALSE;
  cfg.drop_path = 0.0;
  cfg.seed = 4;
  trained = facet_train_run (base, &s.data, &cfg, &result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (trained);
  first = &g_array_index (result->epochs, FacetEpochReport, 0);
  last = &g_array_index (result->epochs, FacetEpochReport, result->epochs->len - 1);
  g_test_message ("validation mean F1: base model %.3f, epoch %d %.3f; AUC %.3f; identity probe %.2f",
                  first->f1_05, last->epoch, last->f1_05, last->auc_mean, last->id_probe_acc);
  g_assert_cmpint (first->epoch, ==, 0);
  g_assert_cmpint (result->n_val_subjects, ==, 2);
  g_assert_cmpint (result->n_train_subjects, ==, 4);
  g_assert_cmpfloat (last->f1_05, >, 0.85);
  g_assert_cmpfloat (last->auc_mean, >, 0.9);
  /* AU4 has no labels: no F1 for it, and the model still predicts it. */
  g_assert_true (isnan (last->f1[2]));
  g_assert_cmpint (facet_model_get_config (trained)->n_subjects, ==, 4);
  /* The base model is untouched. */
  g_assert_cmpint (facet_model_get_config (base)->n_subjects, ==, 0);
  synthetic_clear (&s);
}

/* bf16 mixed precision (bf16 products, fp32 masters and optimiser state):
 * last:1 and full both learn, the training loss going down epoch by epoch,
 * and end where the same runs in fp32 end (loss within 10%, validation F1
 * within 0.05). */
static void
test_learns_bf16 (void)
{
  static const FacetTrainMode modes[] = { FACET_TRAIN_LAST, FACET_TRAIN_FULL };
  Synthetic s;
  g_autoptr (FacetModel) base = tiny_model ();

  if (facet_cpu_backend_resolve_precision (FACET_PRECISION_BF16) != FACET_PRECISION_BF16)
    {
      g_test_skip ("no AVX512-BF16 here (or FACET_CPU_FEATURES switches it off)");
      return;
    }
  synthetic_init (&s);
  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      FacetEpochReport e1[2], last[2];

      for (int bf16 = 0; bf16 < 2; bf16++)
        {
          g_autoptr (FacetTrainResult) result = NULL;
          g_autoptr (FacetModel) trained = NULL;
          g_autoptr (GError) error = NULL;
          FacetTrainConfig cfg;

          facet_train_config_init (&cfg);
          facet_train_config_set_mode (&cfg, modes[i], 1);
          cfg.precision = bf16 ? FACET_PRECISION_BF16 : FACET_PRECISION_FP32;
          cfg.epochs = 6;
          cfg.batch = 16;
          cfg.optim.base_lr = 2e-3;
          cfg.optim.layer_decay = 1.0;
          cfg.iat_lambda = 0.3;
          cfg.augment = FALSE;
          cfg.drop_path = modes[i] == FACET_TRAIN_FULL ? 0.1 : 0.0;
          cfg.seed = 4;
          g_assert_null (facet_train_precision_notice (cfg.precision));
          trained = facet_train_run (base, &s.data, &cfg, &result, &error);
          g_assert_no_error (error);
          g_assert_nonnull (trained);
          g_assert_cmpint (result->precision, ==, cfg.precision);
          e1[bf16] = g_array_index (result->epochs, FacetEpochReport, 1);
          last[bf16] = g_array_index (result->epochs, FacetEpochReport, result->epochs->len - 1);
          g_assert_cmpint (e1[bf16].epoch, ==, 1);
          g_assert_cmpint (last[bf16].epoch, ==, 6);
          g_test_message ("%s %s: training loss epoch 1 %.4f, epoch 6 %.4f; validation F1 %.3f, "
                          "AUC %.3f", bf16 ? "bf16" : "fp32",
                          modes[i] == FACET_TRAIN_FULL ? "full" : "last:1", e1[bf16].train_loss,
                          last[bf16].train_loss, last[bf16].f1_05, last[bf16].auc_mean);
        }
      g_assert_cmpfloat (last[1].train_loss, <, 0.85 * e1[1].train_loss);
      g_assert_cmpfloat (fabs (last[1].train_loss - last[0].train_loss), <, 0.1 * last[0].train_loss);
      g_assert_cmpfloat (fabs (last[1].f1_05 - last[0].f1_05), <=, 0.05);
    }
  synthetic_clear (&s);
}

/* bf16 asked where the processor has none (FACET_CPU_FEATURES=-bf16): a
 * notice, and the run is the fp32 run to the byte. */
static void
test_bf16_fallback (void)
{
  Synthetic s;
  g_autoptr (FacetModel) base = tiny_model ();
  g_autoptr (FacetModel) a = NULL, b = NULL;
  g_autoptr (FacetTrainResult) ra = NULL, rb = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *old = g_strdup (g_getenv ("FACET_CPU_FEATURES"));
  FacetTrainConfig cfg;
  GPtrArray *ta, *tb;

  synthetic_init (&s);
  facet_train_config_init (&cfg);
  facet_train_config_set_mode (&cfg, FACET_TRAIN_LAST, 1);
  cfg.epochs = 1;
  cfg.batch = 16;
  cfg.seed = 2;
  a = facet_train_run (base, &s.data, &cfg, &ra, &error);
  g_assert_no_error (error);

  g_setenv ("FACET_CPU_FEATURES", "-bf16", TRUE);
  cfg.precision = FACET_PRECISION_BF16;
  g_assert_nonnull (facet_train_precision_notice (cfg.precision));
  g_assert_nonnull (strstr (facet_train_precision_notice (cfg.precision), "fp32"));
  /* The engine's public answer agrees with the backend it makes. */
  g_assert_cmpint (facet_cpu_backend_resolve_precision (FACET_PRECISION_BF16), ==,
                   FACET_PRECISION_FP32);
  g_assert_cmpint (facet_cpu_backend_resolve_precision (FACET_PRECISION_AUTO), ==,
                   FACET_PRECISION_FP32);
  {
    g_autoptr (FacetBackend) cpu = facet_cpu_backend_new_with_precision (FACET_PRECISION_BF16);
    g_assert_cmpint (facet_backend_get_precision (cpu), ==, FACET_PRECISION_FP32);
  }
  b = facet_train_run (base, &s.data, &cfg, &rb, &error);
  g_assert_no_error (error);
  if (old != NULL)
    g_setenv ("FACET_CPU_FEATURES", old, TRUE);
  else
    g_unsetenv ("FACET_CPU_FEATURES");

  g_assert_cmpint (ra->precision, ==, FACET_PRECISION_FP32);
  g_assert_cmpint (rb->precision, ==, FACET_PRECISION_FP32);
  ta = facet_model_get_tensors (a);
  tb = facet_model_get_tensors (b);
  g_assert_cmpuint (ta->len, ==, tb->len);
  for (guint i = 0; i < ta->len; i++)
    {
      FacetTensor *x = g_ptr_array_index (ta, i), *y = g_ptr_array_index (tb, i);
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpmem (x->data, facet_tensor_nbytes (x), y->data, facet_tensor_nbytes (y));
    }
  synthetic_clear (&s);
}

static void
test_heads_mode (void)
{
  Synthetic s;
  g_autoptr (FacetModel) random_base = tiny_model ();
  g_autoptr (FacetModel) base = NULL;
  g_autoptr (FacetTrainResult) result = NULL;
  g_autoptr (FacetModel) trained = NULL;
  g_autoptr (GError) error = NULL;
  FacetTrainConfig cfg;
  FacetEpochReport *first, *last;
  gint64 shape[2] = { 3, 32 };
  float *w;

  synthetic_init (&s);
  /* A backbone that has learnt the task, with its AU head thrown away (a
   * fresh head of the recipe's tiny init): what is left for heads mode is
   * to learn the head from frozen features. */
  facet_train_config_init (&cfg);
  facet_train_config_set_mode (&cfg, FACET_TRAIN_FULL, 0);
  cfg.epochs = 4;
  cfg.batch = 16;
  cfg.optim.base_lr = 2e-3;
  cfg.iat_lambda = 0.0;
  cfg.augment = FALSE;
  cfg.seed = 6;
  base = facet_train_run (random_base, &s.data, &cfg, NULL, &error);
  g_assert_no_error (error);
  {
    FacetTensor *t = facet_tensor_new_f32 ("head.weight", 2, shape, &w);
    FacetRng rng;
    facet_rng_init (&rng, 1);
    for (int i = 0; i < 3 * 32; i++)
      w[i] = (float) facet_rng_trunc_normal (&rng, 2e-5, -2, 2);
    facet_model_set_tensor (base, t);
  }

  /* Heads mode with its own defaults; IAT is refused (the backbone is frozen). */
  facet_train_config_set_mode (&cfg, FACET_TRAIN_HEADS, 0);
  cfg.iat_lambda = 0.5;
  g_assert_null (facet_train_run (base, &s.data, &cfg, NULL, &error));
  g_assert_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS);
  g_assert_nonnull (strstr (error->message, "last:K or full"));
  g_clear_error (&error);
  cfg.iat_lambda = 0.0;
  cfg.seed = 5;
  trained = facet_train_run (base, &s.data, &cfg, &result, &error);
  g_assert_no_error (error);
  first = &g_array_index (result->epochs, FacetEpochReport, 0);
  last = &g_array_index (result->epochs, FacetEpochReport, result->epochs->len - 1);
  g_test_message ("heads: F1 %.3f -> %.3f, AUC %.3f -> %.3f", first->f1_05, last->f1_05,
                  first->auc_mean, last->auc_mean);
  g_assert_cmpfloat (last->auc_mean, >, 0.9);
  g_assert_cmpfloat (last->f1_05, >, 0.7);
  g_assert_cmpfloat (last->f1_05, >, first->f1_05);
  /* Only the final norm and the heads changed. */
  g_assert_cmpmem (facet_model_get_weights (base, "blocks.1.mlp.fc1.weight"), 64 * 32 * 4,
                   facet_model_get_weights (trained, "blocks.1.mlp.fc1.weight"), 64 * 32 * 4);
  g_assert_true (memcmp (facet_model_get_weights (base, "head.weight"),
                         facet_model_get_weights (trained, "head.weight"), 3 * 32 * 4) != 0);
  /* Its thresholds were chosen on the training subjects, out of fold, and
   * both models are measured at their own on the held-out frames. */
  g_assert_true (result->thresholds_out_of_fold);
  g_assert_false (result->kept_base);
  g_assert_false (isnan (result->f1_at_thresholds) || isnan (result->base_f1_at_thresholds));
  for (int a = 0; a < 3; a++)
    g_assert_cmpfloat (facet_model_get_config (trained)->thresholds[a], ==,
                       (float) result->thresholds[a]);
  {
    /* A head that a new one does not beat clearly on the training subjects
     * stays, with its thresholds, and the report measures the model that is
     * saved. A rate too small to move the head makes the new one equal the
     * old: the first run only re-chooses the thresholds; the second, from
     * its result, finds no gain at all. */
    g_autoptr (FacetTrainResult) again = NULL, once = NULL;
    g_autoptr (FacetModel) rethresholded = NULL, kept = NULL;
    const FacetEpochReport *end;
    cfg.optim.base_lr = 1e-12;
    rethresholded = facet_train_run (trained, &s.data, &cfg, &once, &error);
    g_assert_no_error (error);
    kept = facet_train_run (rethresholded, &s.data, &cfg, &again, &error);
    g_assert_no_error (error);
    end = &g_array_index (again->epochs, FacetEpochReport, again->epochs->len - 1);
    g_test_message ("again: out of fold %.3f, the base on the training subjects %.3f",
                    again->oof_f1, again->base_train_f1);
    g_assert_true (again->kept_base);
    g_assert_cmpfloat (again->oof_f1, <=, again->base_train_f1 + FACET_TRAIN_HEADS_MIN_GAIN);
    g_assert_cmpmem (facet_model_get_weights (rethresholded, "head.weight"), 3 * 32 * 4,
                     facet_model_get_weights (kept, "head.weight"), 3 * 32 * 4);
    g_assert_cmpmem (facet_model_get_config (rethresholded)->thresholds, 3 * 4,
                     facet_model_get_config (kept)->thresholds, 3 * 4);
    g_assert_cmpfloat_with_epsilon (end->f1_05,
                                    g_array_index (again->epochs, FacetEpochReport, 0).f1_05, 1e-9);
    g_assert_cmpfloat_with_epsilon (again->f1_at_thresholds, again->base_f1_at_thresholds, 1e-9);
  }
  synthetic_clear (&s);
}

typedef struct
{
  GCancellable *cancel;
  int           stop_after;
} StopAt;

static void
stop_after_epoch (const FacetEpochReport *r,
                  gpointer                data)
{
  StopAt *s = data;
  if (r->epoch == s->stop_after)
    g_cancellable_cancel (s->cancel);
}

static void
test_resume_is_exact (void)
{
  Synthetic s;
  g_autoptr (FacetModel) base = tiny_model ();
  g_autoptr (FacetModel) straight = NULL, resumed = NULL, stopped = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *dir = g_dir_make_tmp ("facet-resume-XXXXXX", NULL);
  g_autofree char *ck1 = g_build_filename (dir, "a.ckpt", NULL);
  g_autofree char *ck2 = g_build_filename (dir, "b.ckpt", NULL);
  FacetTrainConfig cfg;
  StopAt stop = { cancel, 2 };
  GPtrArray *ta, *tb;

  synthetic_init (&s);
  facet_train_config_init (&cfg);
  facet_train_config_set_mode (&cfg, FACET_TRAIN_LAST, 1);
  cfg.epochs = 4;
  cfg.batch = 16;
  cfg.drop_path = 0.2;  /* random draws must replay too */
  cfg.augment = TRUE;
  cfg.seed = 8;
  cfg.checkpoint = ck1;
  straight = facet_train_run (base, &s.data, &cfg, NULL, &error);
  g_assert_no_error (error);

  cfg.checkpoint = ck2;
  cfg.cancellable = cancel;
  cfg.on_epoch = stop_after_epoch;
  cfg.user_data = &stop;
  stopped = facet_train_run (base, &s.data, &cfg, NULL, &error);
  g_assert_null (stopped);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  cfg.cancellable = NULL;
  cfg.on_epoch = NULL;
  cfg.resume = TRUE;
  resumed = facet_train_run (base, &s.data, &cfg, NULL, &error);
  g_assert_no_error (error);

  ta = facet_model_get_tensors (straight);
  tb = facet_model_get_tensors (resumed);
  g_assert_cmpuint (ta->len, ==, tb->len);
  for (guint i = 0; i < ta->len; i++)
    {
      FacetTensor *a = g_ptr_array_index (ta, i), *b = g_ptr_array_index (tb, i);
      g_assert_cmpstr (a->name, ==, b->name);
      g_assert_cmpmem (a->data, facet_tensor_nbytes (a), b->data, facet_tensor_nbytes (b));
    }

  /* A checkpoint made with other settings is refused. */
  cfg.seed = 9;
  g_assert_null (facet_train_run (base, &s.data, &cfg, NULL, &error));
  g_assert_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT);

  g_unlink (ck1);
  g_unlink (ck2);
  g_rmdir (dir);
  synthetic_clear (&s);
}

static void
test_bad_settings (void)
{
  Synthetic s;
  g_autoptr (FacetModel) base = tiny_model ();
  FacetTrainConfig cfg;
  float *saved = g_memdup2 (NULL, 0);

  synthetic_init (&s);
  facet_train_config_init (&cfg);
  facet_train_config_set_mode (&cfg, FACET_TRAIN_FULL, 0);

  {
    g_autoptr (GError) error = NULL;
    cfg.iat_lambda = -1.0;
    g_assert_false (facet_train_check (base, &s.data, &cfg, &error));
    g_assert_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS);
    g_assert_nonnull (strstr (error->message, "lambda"));
    cfg.iat_lambda = 0.5;
  }
  {
    g_autoptr (GError) error = NULL;
    cfg.optim.id_head_lr_scale = 0.0;
    g_assert_false (facet_train_check (base, &s.data, &cfg, &error));
    g_assert_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS);
    g_assert_nonnull (strstr (error->message, "identity head"));
    cfg.optim.id_head_lr_scale = 1.0;
  }
  {
    g_autoptr (GError) error = NULL;
    float none[N_SUBJ * PER * 2];
    FacetTrainData d = s.data;
    for (int i = 0; i < N_SUBJ * PER * 2; i++)
      none[i] = -1.0f;
    d.targets = none;
    g_assert_false (facet_train_check (base, &d, &cfg, &error));
    g_assert_nonnull (strstr (error->message, "no labels"));
  }
  {
    g_autoptr (GError) error = NULL;
    FacetTrainData d = s.data;
    d.n = PER; /* subject 0 only */
    g_assert_false (facet_train_check (base, &d, &cfg, &error));
    g_assert_nonnull (strstr (error->message, "one subject"));
  }
  {
    g_autoptr (GError) error = NULL;
    FacetTrainData d = s.data;
    d.n = 2 * PER; /* two subjects: one trains, one validates; IAT needs two */
    g_assert_false (facet_train_check (base, &d, &cfg, &error));
    g_assert_nonnull (strstr (error->message, "identity adversarial training needs"));
    cfg.iat_lambda = 0.0;
    g_clear_error (&error);
    g_assert_true (facet_train_check (base, &d, &cfg, &error));
    cfg.iat_lambda = 0.5;
  }
  {
    g_autoptr (GError) error = NULL;
    int other[2] = { 1, 26 };
    FacetTrainData d = s.data;
    d.au_ids = other;
    g_assert_false (facet_train_check (base, &d, &cfg, &error));
    g_assert_nonnull (strstr (error->message, "AU 26"));
  }
  g_free (saved);
  synthetic_clear (&s);
}

static void
test_metrics (void)
{
  float probs[] = { 0.9f, 0.8f, 0.3f, 0.2f, 0.6f, 0.1f };
  float targets[] = { 1, 1, 0, 0, 0, -1 };
  g_autofree int *subj = NULL;

  /* tp 2 (0.9, 0.8), fp 1 (0.6), fn 0 -> F1 0.8; AUC: positives outrank all negatives */
  g_assert_cmpfloat_with_epsilon (facet_metrics_f1 (probs, targets, 6, 1, 0, 0.5), 0.8, 1e-9);
  g_assert_cmpfloat_with_epsilon (facet_metrics_auc (probs, targets, 6, 1, 0), 1.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (facet_metrics_best_threshold (probs, targets, 6, 1, 0), 0.61, 0.011);
  {
    /* One threshold for several people: the mean over subjects of the F1.
     * Subject 0 as above; subject 1 present at 0.4 and absent at 0.35 (its
     * F1 is 1 between them, 0 at 0.61); subject 2 never present, left out.
     * Mean F1 0.9 at 0.36-0.40 (0.8 and 1), 0.5 at 0.61: 0.40, the nearest
     * 0.5 of the best. */
    float p3[] = { 0.9f, 0.8f, 0.3f, 0.2f, 0.6f, 0.4f, 0.35f, 0.97f, 0.95f };
    float t3[] = { 1, 1, 0, 0, 0, 1, 0, 0, 0 };
    int s3[] = { 0, 0, 0, 0, 0, 1, 1, 2, 2 };
    g_assert_cmpfloat_with_epsilon (facet_metrics_best_threshold_by_subject (p3, t3, s3, 9, 1, 0),
                                    0.40, 1e-9);
    g_assert_cmpfloat_with_epsilon (facet_metrics_best_threshold_by_subject (p3, t3, s3, 5, 1, 0),
                                    0.61, 0.011);
  }
  {
    /* Ties share ranks: all equal scores give AUC 0.5. */
    float p2[] = { 0.5f, 0.5f, 0.5f, 0.5f };
    float t2[] = { 1, 0, 1, 0 };
    g_assert_cmpfloat_with_epsilon (facet_metrics_auc (p2, t2, 4, 1, 0), 0.5, 1e-9);
  }
  {
    /* The identity probe finds separable subjects and fails on noise. */
    FacetRng rng;
    int n = 120, dim = 8;
    g_autofree float *f = g_new (float, n * dim);
    subj = g_new (int, n);
    facet_rng_init (&rng, 3);
    for (int i = 0; i < n; i++)
      {
        subj[i] = i % 3;
        for (int d = 0; d < dim; d++)
          f[i * dim + d] = (float) facet_rng_normal (&rng) * 0.3f + (d == subj[i] ? 2.0f : 0.0f);
      }
    g_assert_cmpfloat (facet_metrics_identity_probe (f, n, dim, subj, NULL), >, 0.9);
    for (int i = 0; i < n * dim; i++)
      f[i] = (float) facet_rng_normal (&rng);
    g_assert_cmpfloat (facet_metrics_identity_probe (f, n, dim, subj, NULL), <, 0.6);

    /* A subject seen in too few frames to split (a face the detector
     * rarely found) is left out; the others are still measured. */
    for (int i = 0; i < n; i++)
      for (int d = 0; d < dim; d++)
        f[i * dim + d] = (float) facet_rng_normal (&rng) * 0.3f + (d == subj[i] ? 2.0f : 0.0f);
    subj[0] = subj[1] = 7;
    g_assert_cmpfloat (facet_metrics_identity_probe (f, n, dim, subj, NULL), >, 0.9);
    /* With one subject left there is nothing to tell apart. */
    for (int i = 0; i < n; i++)
      subj[i] = i < 3 ? 5 : 6;
    g_assert_cmpfloat (facet_metrics_identity_probe (f, n, dim, subj, NULL), <, 0.0);
  }
  {
    /* Features that drift in time (each frame 0.8 like the one before,
     * the same stationary law for every subject) and carry no identity: a
     * random split finds each test frame's near copy among the fitted ones;
     * the split in time must read near chance (three subjects of 100 frames). */
    FacetRng rng;
    int n = 300, dim = 24;
    double chance, acc;
    g_autofree float *f = g_new (float, n * dim);
    g_autofree int *s3 = g_new (int, n);
    facet_rng_init (&rng, 5);
    for (int sj = 0; sj < 3; sj++)
      {
        float walk[24] = { 0 };
        for (int t = 0; t < 100; t++)
          {
            int i = sj * 100 + t;
            s3[i] = sj;
            for (int d = 0; d < dim; d++)
              {
                walk[d] = 0.8f * walk[d] + (float) facet_rng_normal (&rng) * 0.6f;
                f[i * dim + d] = walk[d];
              }
          }
      }
    acc = facet_metrics_identity_probe (f, n, dim, s3, &chance);
    g_test_message ("time-split probe on drifting features without identity: %.2f (chance %.2f)",
                    acc, chance);
    g_assert_cmpfloat_with_epsilon (chance, 1.0 / 3.0, 1e-9);
    g_assert_cmpfloat (acc, <, 0.55);
  }
}

/* More subjects than any fixed table held (4096 once): each subject one
 * frame of the same small crop; the split must count every one. */
static void
test_many_subjects (void)
{
  const guint n = 5000;
  g_autoptr (FacetModel) base = tiny_model ();
  g_autoptr (FacetModel) trained = NULL;
  g_autoptr (FacetTrainResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *targets = g_new (float, 2 * n);
  g_autofree int *subjects = g_new (int, n);
  g_autofree FacetImage **crops = g_new (FacetImage *, n);
  FacetImage *im = facet_image_new (SIZE, SIZE);
  int aus[2] = { 1, 2 };
  FacetTrainData d = { 0 };
  FacetTrainConfig cfg;

  memset (im->data, 90, (gsize) im->stride * SIZE);
  for (guint i = 0; i < n; i++)
    {
      targets[2 * i] = i % 2;
      targets[2 * i + 1] = (i / 2) % 2;
      subjects[i] = (int) (n - 1 - i); /* not in sample order */
      crops[i] = im;
    }
  d.n = n;
  d.n_aus = 2;
  d.au_ids = aus;
  d.targets = targets;
  d.subjects = subjects;
  d.n_subjects = (int) n;
  d.crops = crops;
  facet_train_config_init (&cfg);
  cfg.epochs = 1;
  cfg.batch = 256;
  trained = facet_train_run (base, &d, &cfg, &result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result->n_val_subjects, ==, 1250);
  g_assert_cmpint (result->n_train_subjects, ==, 3750);
  g_assert_cmpuint (result->n_train + result->n_val, ==, n);
  facet_image_unref (im);
}

static gboolean
heads_only (const char *name,
            gpointer    data)
{
  return g_str_has_prefix (name, "head.") || g_str_has_prefix (name, "ID_head.");
}

/* --iat-head-lr: the identity head's learning rate times the factor, the
 * AU head's untouched. Adam's first step moves every weight by lr times its
 * group's scale (the gradient's size cancels), so the biases (no weight
 * decay) show the factor exactly. */
static void
test_id_head_lr (void)
{
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (FacetModel) m = NULL;
  g_autoptr (GError) error = NULL;
  FacetOptimConfig oc;
  FacetOptimizer *opt;
  FacetGrads *grads;
  float head_b0, id_b0, *g;

  c->image_size = SIZE;
  c->patch_size = 8;
  c->dim = 32;
  c->depth = 2;
  c->heads = 2;
  c->mlp_hidden = 64;
  c->n_subjects = 4;
  facet_model_config_set_aus (c, (const int[]) { 1, 2, 4 }, 3);
  m = facet_model_new_random (c, 3, &error);
  g_assert_no_error (error);
  g_assert_true (facet_model_make_writable (m, &error));
  g_assert_nonnull (facet_model_get_tensor (m, "ID_head.bias"));
  grads = facet_grads_new (m, heads_only, NULL);
  facet_optim_config_init (&oc);
  g_assert_cmpfloat (oc.id_head_lr_scale, ==, 1.0);
  oc.id_head_lr_scale = 10.0;
  opt = facet_optimizer_new (m, grads, &oc);
  g_assert_cmpfloat_with_epsilon (facet_optimizer_lr_scale (opt, "ID_head.weight"),
                                  10.0 * facet_optimizer_lr_scale (opt, "head.weight"), 1e-12);
  head_b0 = facet_model_get_weights (m, "head.bias")[0];
  id_b0 = facet_model_get_weights (m, "ID_head.bias")[0];
  g = facet_grads_get (grads, "head.bias");
  g[0] = 0.3f;
  g = facet_grads_get (grads, "ID_head.bias");
  g[0] = 0.3f;
  facet_optimizer_step (opt, 1e-3);
  g_assert_cmpfloat_with_epsilon (head_b0 - facet_model_get_weights (m, "head.bias")[0], 1e-3, 1e-7);
  g_assert_cmpfloat_with_epsilon (id_b0 - facet_model_get_weights (m, "ID_head.bias")[0], 1e-2, 1e-6);
  facet_optimizer_free (opt);
  facet_grads_free (grads);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/metrics", test_metrics);
  g_test_add_func ("/train/loop/bad-settings", test_bad_settings);
  g_test_add_func ("/train/optim/id-head-lr", test_id_head_lr);
  g_test_add_func ("/train/loop/learns", test_learns);
  g_test_add_func ("/train/loop/learns-bf16", test_learns_bf16);
  g_test_add_func ("/train/loop/bf16-fallback", test_bf16_fallback);
  g_test_add_func ("/train/loop/heads-mode", test_heads_mode);
  g_test_add_func ("/train/loop/resume-is-exact", test_resume_is_exact);
  g_test_add_func ("/train/loop/many-subjects", test_many_subjects);
  return g_test_run ();
}
