/* train-loop.c — the fine-tuning loop: split, epochs, evaluation,
 * checkpoints that resume exactly, cancellation
 *
 * Determinism: the subject split, the order of samples in each epoch, every
 * augmentation and every drop-path draw derive from the seed and the
 * (epoch, step, sample) they belong to, never from a running generator, so a
 * run resumed from the checkpoint of epoch e continues exactly as if it had
 * never stopped.
 */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "core/core-rng.h"
#include "engine/engine-checkpoint.h"
#include "train-loop.h"
#include "train-metrics.h"

G_DEFINE_QUARK (facet-train-error-quark, facet_train_error)

#define CHECKPOINT_FORMAT "facet-train-checkpoint/2"

void
facet_train_config_init (FacetTrainConfig *c)
{
  memset (c, 0, sizeof *c);
  c->batch = 32;
  facet_optim_config_init (&c->optim);
  c->optim.epochs = 0.0;
  c->optim.warmup_epochs = -1.0;
  c->drop_path = 0.1;
  c->clip_grad = 0.0;
  c->augment = TRUE;
  facet_augment_config_init (&c->augment_config);
  c->seed = 0;
  c->val_fraction = 0.25;
  facet_train_config_set_mode (c, FACET_TRAIN_HEADS, 2);
}

/**
 * facet_train_precision_notice:
 *
 * Why a run that asks for @asked computes in fp32 (bf16 asked on a
 * processor without AVX512-BF16, or with it switched off by
 * FACET_CPU_FEATURES), or NULL when it gets what it asked for (auto never
 * needs a notice: it means bf16 only where the processor has it).
 */
const char *
facet_train_precision_notice (FacetPrecision asked)
{
  if (asked == FACET_PRECISION_BF16
      && facet_cpu_backend_resolve_precision (asked) != FACET_PRECISION_BF16)
    return "bf16 was asked for but this processor has no AVX512-BF16 (or FACET_CPU_FEATURES "
           "switches it off); training in fp32";
  return NULL;
}

/**
 * facet_train_config_set_mode:
 *
 * The mode and its own defaults. Heads mode is a linear probe on frozen
 * features: its own learning rate, chosen when the run starts from the
 * base model's head: a new head (the recipe's initialisation, never trained)
 * is learnt at a linear probe's 1e-2; a trained one is adjusted at 3e-4
 * (measured on synthetic projects: 1e-3 and 1e-2 fit the few training
 * subjects and lose held-out F1), no
 * layer decay (there are no layers to decay), no weight decay, and more
 * epochs (an epoch costs next to nothing once the features are cached); no
 * IAT, which needs a trainable backbone. last:K and full keep the FMAE-IAT
 * recipe: blr 5e-4 (base_lr 0 here: scaled by the batch when the run
 * starts), layer decay 0.65, weight decay 0.05, IAT lambda 0.5.
 */
void
facet_train_config_set_mode (FacetTrainConfig *c,
                             FacetTrainMode    mode,
                             int               last_k)
{
  gboolean heads = mode == FACET_TRAIN_HEADS;

  c->mode = mode;
  c->last_k = last_k;
  c->iat_lambda = heads ? 0.0 : 0.5;
  c->epochs = heads ? FACET_TRAIN_HEADS_EPOCHS : 10;
  c->optim.base_lr = 0.0; /* from the batch, or the head (heads mode), at the start */
  c->optim.layer_decay = heads ? 1.0 : 0.65;
  c->optim.weight_decay = heads ? 0.0 : 0.05;
}

/* A head that still holds the recipe's initialisation (truncated normal,
 * std 2e-5): RMS far below any trained head's. */
static gboolean
head_is_new (FacetModel *model)
{
  const FacetTensor *t = facet_model_get_tensor (model, "head.weight");
  gsize n = t ? facet_tensor_nbytes (t) / sizeof (float) : 0;
  const float *w = t ? (const float *) t->data : NULL;
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    sum += (double) w[i] * w[i];
  return n > 0 && sqrt (sum / n) < 1e-3;
}

/* What is left to the run: the peak rate from the batch (or, in heads
 * mode, from @base's head), the schedule's length and warm-up. */
void
facet_train_config_resolve (FacetTrainConfig *c,
                            FacetModel       *base)
{
  if (c->optim.base_lr <= 0.0 && c->mode == FACET_TRAIN_HEADS && base != NULL)
    c->optim.base_lr = head_is_new (base) ? FACET_TRAIN_HEADS_LR_NEW : FACET_TRAIN_HEADS_LR;
  if (c->optim.base_lr <= 0.0)
    c->optim.base_lr = 5e-4 * c->batch / 256.0;
  c->optim.epochs = c->epochs;
  if (c->optim.warmup_epochs < 0)
    c->optim.warmup_epochs = MIN (2.0, c->epochs / 5.0);
}

/**
 * facet_train_mode_parse:
 *
 * "heads", "full" or "last:K".
 */
gboolean
facet_train_mode_parse (const char     *text,
                        FacetTrainMode *mode,
                        int            *last_k,
                        GError        **error)
{
  guint64 k;

  if (g_strcmp0 (text, "heads") == 0)
    *mode = FACET_TRAIN_HEADS;
  else if (g_strcmp0 (text, "full") == 0)
    *mode = FACET_TRAIN_FULL;
  else if (text != NULL && g_str_has_prefix (text, "last:")
           && g_ascii_string_to_unsigned (text + 5, 10, 1, 128, &k, NULL))
    {
      *mode = FACET_TRAIN_LAST;
      *last_k = (int) k;
    }
  else
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS,
                   "unknown mode “%s” (heads, last:K or full)", text ? text : "");
      return FALSE;
    }
  return TRUE;
}

void
facet_train_result_free (FacetTrainResult *r)
{
  if (r == NULL)
    return;
  /* A run refused by its checks ends before the reports exist. */
  for (guint i = 0; r->epochs != NULL && i < r->epochs->len; i++)
    {
      FacetEpochReport *e = &g_array_index (r->epochs, FacetEpochReport, i);
      g_free (e->f1);
      g_free (e->auc);
    }
  g_clear_pointer (&r->epochs, g_array_unref);
  g_free (r->train_subjects);
  g_free (r->val_subjects);
  g_free (r->thresholds);
  facet_epoch_report_clear (r->reference);
  g_free (r->reference);
  g_free (r->f1_at_thresholds_au);
  g_free (r->base_f1_at_thresholds_au);
  g_free (r);
}

#define SETTINGS_FAIL(...)                                                                  \
  G_STMT_START                                                                              \
  {                                                                                         \
    g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS, __VA_ARGS__);        \
    return FALSE;                                                                           \
  }                                                                                         \
  G_STMT_END
#define DATA_FAIL(...)                                                                      \
  G_STMT_START                                                                              \
  {                                                                                         \
    g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_DATA, __VA_ARGS__);            \
    return FALSE;                                                                           \
  }                                                                                         \
  G_STMT_END

static int
count_present_subjects (const FacetTrainData *data)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < data->n; i++)
    g_hash_table_add (seen, GINT_TO_POINTER (data->subjects[i] + 1));
  return (int) g_hash_table_size (seen);
}

static int
validation_count (int n_subjects,
                  double fraction)
{
  int v = (int) floor (n_subjects * fraction + 0.5);
  return CLAMP (v, 1, n_subjects - 1);
}

/**
 * facet_train_check:
 *
 * Everything that can be known wrong before any work starts: settings out
 * of range, no labels, too few subjects, AUs the base model does not have.
 */
gboolean
facet_train_check_settings (FacetModel             *base,
                            const FacetTrainConfig *cfg,
                            GError                **error)
{
  const FacetModelConfig *mc = facet_model_get_config (base);

  if (cfg->iat_lambda < 0.0 || !isfinite (cfg->iat_lambda))
    SETTINGS_FAIL ("the IAT lambda must be 0 or more (it is %g): the gradient reversal already "
                   "supplies the minus sign", cfg->iat_lambda);
  if (cfg->mode == FACET_TRAIN_HEADS && cfg->iat_lambda != 0.0)
    SETTINGS_FAIL ("identity adversarial training (IAT lambda %g) needs a trainable backbone, which "
                   "heads mode freezes: choose the mode last:K or full, or set the IAT lambda to 0",
                   cfg->iat_lambda);
  if (cfg->epochs < 1 || cfg->epochs > 10000)
    SETTINGS_FAIL ("epochs must be between 1 and 10000 (not %d)", cfg->epochs);
  if (cfg->batch < 1 || cfg->batch > 4096)
    SETTINGS_FAIL ("the batch size must be between 1 and 4096 (not %d)", cfg->batch);
  if (!(cfg->drop_path >= 0.0 && cfg->drop_path < 1.0))
    SETTINGS_FAIL ("drop path must be in [0, 1) (not %g)", cfg->drop_path);
  if (!(cfg->val_fraction > 0.0 && cfg->val_fraction < 1.0))
    SETTINGS_FAIL ("the validation fraction must be between 0 and 1 (not %g)", cfg->val_fraction);
  if (cfg->optim.base_lr < 0.0 || !(cfg->optim.layer_decay > 0.0 && cfg->optim.layer_decay <= 1.0))
    SETTINGS_FAIL ("the learning rate must be >= 0 and the layer decay in (0, 1]");
  if (!(cfg->optim.id_head_lr_scale > 0.0 && cfg->optim.id_head_lr_scale <= 1e4))
    SETTINGS_FAIL ("the identity head's learning-rate factor must be in (0, 10000] (not %g)",
                   cfg->optim.id_head_lr_scale);
  if (cfg->mode == FACET_TRAIN_LAST && (cfg->last_k < 1 || cfg->last_k > mc->depth))
    SETTINGS_FAIL ("last:%d asks for more blocks than the model has (%d)", cfg->last_k, mc->depth);
  if (cfg->resume && cfg->checkpoint == NULL)
    SETTINGS_FAIL ("resuming needs a checkpoint file");
  if (mc->n_aus == 0)
    DATA_FAIL ("the base model has no AU head to fine-tune (convert it with --aus first)");
  return TRUE;
}

gboolean
facet_train_check (FacetModel             *base,
                   const FacetTrainData   *data,
                   const FacetTrainConfig *cfg,
                   GError                **error)
{
  const FacetModelConfig *mc = facet_model_get_config (base);
  g_autoptr (GString) missing = g_string_new (NULL);
  gsize labelled = 0;
  int subjects;

  if (!facet_train_check_settings (base, cfg, error))
    return FALSE;
  if (data->n == 0)
    DATA_FAIL ("there are no labelled frames to train on: label some frames first");
  for (gsize i = 0; i < (gsize) data->n * data->n_aus; i++)
    labelled += data->targets[i] >= 0.0f;
  if (labelled == 0)
    DATA_FAIL ("there are no labels (every AU of every frame is unlabelled)");
  for (int a = 0; a < data->n_aus; a++)
    if (facet_model_config_find_au (mc, data->au_ids[a]) < 0)
      g_string_append_printf (missing, missing->len ? ", %d" : "%d", data->au_ids[a]);
  if (missing->len)
    DATA_FAIL ("the base model does not predict AU %s, which the labels use; choose a base model "
               "with these AUs", missing->str);
  for (guint i = 0; i < data->n; i++)
    if (data->subjects[i] < 0 || data->subjects[i] >= data->n_subjects)
      DATA_FAIL ("sample %u has no valid subject", i);

  for (int i = 0; i < cfg->n_val_subjects; i++)
    {
      gboolean found = FALSE;
      for (guint j = 0; j < data->n && !found; j++)
        found = data->subjects[j] == cfg->val_subjects[i];
      if (!found)
        DATA_FAIL ("validation subject %s has no labelled frames",
                   data->subject_names ? data->subject_names[cfg->val_subjects[i]] : "?");
    }
  subjects = count_present_subjects (data);
  if (cfg->n_val_subjects > 0 && cfg->n_val_subjects >= subjects)
    DATA_FAIL ("every subject is held out for validation; leave some to train on");
  if (subjects < 2)
    DATA_FAIL ("the labelled frames come from one subject only; fine-tuning validates on held-out "
               "subjects and needs at least two");
  if (cfg->iat_lambda > 0.0
      && subjects - (cfg->n_val_subjects > 0 ? cfg->n_val_subjects
                                             : validation_count (subjects, cfg->val_fraction)) < 2)
    DATA_FAIL ("identity adversarial training needs at least two training subjects (%d subjects "
               "with %d held out for validation); add subjects or use --iat-lambda 0", subjects,
               cfg->n_val_subjects > 0 ? cfg->n_val_subjects
                                       : validation_count (subjects, cfg->val_fraction));
  return TRUE;
}

static gboolean
trainable_for_mode (const char *name,
                    gpointer    data)
{
  const int *first = data; /* first[0]: first trainable block, first[1]: embedding,
                            * first[2]: heads mode (a linear probe: the heads alone) */

  if (g_str_has_prefix (name, "blocks."))
    return g_ascii_strtoll (name + 7, NULL, 10) >= first[0];
  if (first[2] && (g_str_has_prefix (name, "norm.") || g_str_has_prefix (name, "fc_norm.")))
    return FALSE;
  if (g_str_equal (name, "cls_token") || g_str_equal (name, "pos_embed")
      || g_str_has_prefix (name, "patch_embed"))
    return first[1] != 0;
  return TRUE;
}

static guint64
mix (guint64 a,
     guint64 b)
{
  guint64 z = a * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + b + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

typedef struct
{
  const FacetTrainData   *data;
  const FacetTrainConfig *cfg;
  FacetModel             *model;
  const FacetModelConfig *mc;
  FacetBackend           *cpu;
  FacetGrads             *grads;
  FacetOptimizer         *opt;
  int                    *au_map;     /* data AU column -> model AU index */
  int                    *id_class;   /* data subject -> identity class, -1 for validation */
  GArray                 *train_idx;  /* guint */
  GArray                 *val_idx;
  int                     first_block;
  gboolean                embedding;
  float                  *raw_train;  /* heads mode: cached features (before the final norm) */
  float                  *feat_train; /* heads mode: the AU head's input, training samples */
  float                  *feat_val;   /* heads mode: the same, held-out samples */
  int                     trainable[3]; /* for trainable_for_mode */
  float                  *anchor;     /* heads mode: the base model's AU head (weight, bias) */
  float                  *pos_weight; /* heads mode with balance: per model AU, or NULL */
  char                   *print;      /* checkpoint fingerprint */
  gint64                  steps_per_epoch;
  guint                  *order;      /* an epoch's sample order */
  float                  *input;      /* a batch: images, or cached features in heads mode */
  float                  *targets;
  int                    *classes;
} Run;

/* Model-ordered targets for sample @i (unlabelled model AUs: -1). */
static void
fill_targets (Run   *run,
              guint  i,
              float *out)
{
  const FacetTrainData *d = run->data;

  for (int a = 0; a < run->mc->n_aus; a++)
    out[a] = -1.0f;
  /* A label of an AU the model lacks (facet_train_evaluate only: training
   * refuses such data) has no place in the model's order. */
  for (int a = 0; a < d->n_aus; a++)
    if (run->au_map[a] >= 0)
      out[run->au_map[a]] = d->targets[(gsize) i * d->n_aus + a];
}

/* Forward (no augmentation) of samples @idx: probabilities, normalised and
 * raw features. */
static gboolean
predict_samples (Run      *run,
                 GArray   *idx,
                 float    *probs,
                 float    *feats,
                 float    *raw,
                 GError  **error)
{
  const FacetModelConfig *mc = run->mc;
  gsize per = 3 * (gsize) mc->image_size * mc->image_size;
  guint chunk = 16;
  g_autofree float *input = g_new (float, per * chunk);
  FacetAugmentConfig none;

  facet_augment_config_none (&none);
  for (guint s = 0; s < idx->len; s += chunk)
    {
      guint n = MIN (chunk, idx->len - s);
      g_autoptr (FacetForwardResult) r = facet_forward_result_new (mc, n, FACET_FORWARD_RAW_FEATURE);

      for (guint j = 0; j < n; j++)
        facet_augment_image (run->data->crops[g_array_index (idx, guint, s + j)], mc, &none, 0,
                             input + per * j);
      if (!facet_backend_forward (run->cpu, input, n, FACET_FORWARD_RAW_FEATURE, r, error))
        return FALSE;
      if (probs)
        memcpy (probs + (gsize) s * mc->n_aus, r->probs, sizeof (float) * n * (gsize) mc->n_aus);
      if (feats)
        memcpy (feats + (gsize) s * mc->dim, r->pooled, sizeof (float) * n * (gsize) mc->dim);
      if (raw)
        memcpy (raw + (gsize) s * mc->dim, r->pooled_raw, sizeof (float) * n * (gsize) mc->dim);
      if (g_cancellable_set_error_if_cancelled (run->cfg->cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* The AU probabilities of @n cached head inputs @feats ([n, dim]) under
 * @head (weight then bias; NULL: the model's own head now). */
static void
head_probs (Run         *run,
            const float *feats,
            guint        n,
            const float *head,
            float       *probs)
{
  const FacetModelConfig *mc = run->mc;
  const float *w = head ? head : facet_model_get_weights (run->model, "head.weight");
  const float *b = head ? head + (gsize) mc->n_aus * mc->dim
                        : facet_model_get_weights (run->model, "head.bias");

  for (guint i = 0; i < n; i++)
    for (int a = 0; a < mc->n_aus; a++)
      {
        double z = b[a];
        for (int d = 0; d < mc->dim; d++)
          z += (double) w[(gsize) a * mc->dim + d] * feats[(gsize) i * mc->dim + d];
        probs[(gsize) i * mc->n_aus + a] = (float) (1.0 / (1.0 + exp (-z)));
      }
}

/* The identity probe on the normalised features of samples @idx (at most
 * PROBE_MAX_FRAMES, an even subsample that keeps time order). */
#define PROBE_MAX_FRAMES 3000

static gboolean
probe_samples (Run     *run,
               GArray  *idx,
               double  *acc,
               double  *chance,
               GError **error)
{
  guint step = (idx->len + PROBE_MAX_FRAMES - 1) / PROBE_MAX_FRAMES;
  g_autoptr (GArray) picked = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree float *feats = NULL;
  g_autofree int *subjects = NULL;

  for (guint j = 0; j < idx->len; j += MAX (step, 1))
    g_array_append_val (picked, g_array_index (idx, guint, j));
  feats = g_new (float, (gsize) MAX (picked->len, 1) * run->mc->dim);
  subjects = g_new (int, MAX (picked->len, 1));
  if (!predict_samples (run, picked, NULL, feats, NULL, error))
    return FALSE;
  for (guint j = 0; j < picked->len; j++)
    subjects[j] = run->data->subjects[g_array_index (picked, guint, j)];
  *acc = facet_metrics_identity_probe (feats, picked->len, run->mc->dim, subjects, chance);
  return TRUE;
}

/* The model now on the held-out subjects: F1, AUC, the identity probe;
 * with @probe_train, the probe on the training subjects too (an inference
 * pass over them: done for the base model and the last epoch only). */
static gboolean
evaluate (Run              *run,
          FacetEpochReport *rep,
          gboolean          probe_train,
          double          **thresholds_out,
          GError          **error)
{
  const FacetModelConfig *mc = run->mc;
  guint n = run->val_idx->len;
  g_autofree float *probs = g_new (float, (gsize) MAX (n, 1) * mc->n_aus);
  g_autofree float *feats = g_new (float, (gsize) MAX (n, 1) * mc->dim);
  g_autofree float *targets = g_new (float, (gsize) MAX (n, 1) * mc->n_aus);
  g_autofree int *subjects = g_new (int, MAX (n, 1));
  double auc_sum = 0;
  int auc_n = 0;

  rep->id_probe_train_acc = rep->id_probe_train_chance = -1.0;
  if (run->feat_val != NULL)
    {
      /* Heads mode: the frozen backbone's features do not change. */
      memcpy (feats, run->feat_val, sizeof (float) * n * mc->dim);
      head_probs (run, run->feat_val, n, NULL, probs);
    }
  else if (!predict_samples (run, run->val_idx, probs, feats, NULL, error))
    return FALSE;
  for (guint j = 0; j < n; j++)
    {
      guint i = g_array_index (run->val_idx, guint, j);
      fill_targets (run, i, targets + (gsize) j * mc->n_aus);
      subjects[j] = run->data->subjects[i];
    }
  rep->f1 = g_new (double, mc->n_aus);
  rep->auc = g_new (double, mc->n_aus);
  rep->f1_05 = facet_metrics_mean_f1 (probs, targets, n, mc->n_aus, NULL, rep->f1);
  rep->best_threshold = facet_metrics_best_common_threshold (probs, targets, n, mc->n_aus,
                                                             &rep->f1_best);
  for (int a = 0; a < mc->n_aus; a++)
    {
      rep->auc[a] = facet_metrics_auc (probs, targets, n, mc->n_aus, a);
      if (!isnan (rep->auc[a]))
        {
          auc_sum += rep->auc[a];
          auc_n++;
        }
    }
  rep->auc_mean = auc_n ? auc_sum / auc_n : NAN;
  rep->id_probe_acc = facet_metrics_identity_probe (feats, n, mc->dim, subjects,
                                                    &rep->id_probe_chance);
  if (probe_train && !probe_samples (run, run->train_idx, &rep->id_probe_train_acc,
                                     &rep->id_probe_train_chance, error))
    return FALSE;
  if (thresholds_out)
    {
      *thresholds_out = g_new (double, mc->n_aus);
      for (int a = 0; a < mc->n_aus; a++)
        (*thresholds_out)[a] = facet_metrics_best_threshold (probs, targets, n, mc->n_aus, a);
    }
  return TRUE;
}

/* Checkpoints ----------------------------------------------------------------- */

static char *
reports_to_json (GArray *epochs,
                 int     n_aus)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < epochs->len; i++)
    {
      FacetEpochReport *e = &g_array_index (epochs, FacetEpochReport, i);
      char b[11][G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (s, "%s[%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s", i ? "," : "", e->epoch,
                              g_ascii_dtostr (b[0], sizeof b[0], isnan (e->train_loss) ? -1 : e->train_loss),
                              g_ascii_dtostr (b[1], sizeof b[1], isnan (e->train_au_loss) ? -1 : e->train_au_loss),
                              g_ascii_dtostr (b[2], sizeof b[2], isnan (e->train_id_loss) ? -1 : e->train_id_loss),
                              g_ascii_dtostr (b[3], sizeof b[3], isnan (e->f1_05) ? -1 : e->f1_05),
                              g_ascii_dtostr (b[4], sizeof b[4], isnan (e->f1_best) ? -1 : e->f1_best),
                              g_ascii_dtostr (b[5], sizeof b[5], e->best_threshold),
                              g_ascii_dtostr (b[6], sizeof b[6], isnan (e->auc_mean) ? -1 : e->auc_mean),
                              g_ascii_dtostr (b[7], sizeof b[7], e->id_probe_acc),
                              g_ascii_dtostr (b[8], sizeof b[8], e->id_probe_chance),
                              g_ascii_dtostr (b[9], sizeof b[9], e->id_probe_train_acc),
                              g_ascii_dtostr (b[10], sizeof b[10], e->id_probe_train_chance));
      for (int a = 0; a < n_aus; a++)
        {
          char x[G_ASCII_DTOSTR_BUF_SIZE], y[G_ASCII_DTOSTR_BUF_SIZE];
          g_string_append_printf (s, ",%s,%s", g_ascii_dtostr (x, sizeof x, isnan (e->f1[a]) ? -1 : e->f1[a]),
                                  g_ascii_dtostr (y, sizeof y, isnan (e->auc[a]) ? -1 : e->auc[a]));
        }
      g_string_append_c (s, ']');
    }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

#define REPORT_FIELDS 12 /* the numbers of a report before its per-AU pairs */

static gboolean
reports_from_json (const char *text,
                   int         n_aus,
                   GArray     *epochs)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *rows;

  if (!json_parser_load_from_data (parser, text, -1, NULL)
      || !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    return FALSE;
  rows = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonArray *r = json_array_get_array_element (rows, i);
      FacetEpochReport e = { 0 };
      double v[REPORT_FIELDS];
      if (r == NULL || json_array_get_length (r) != REPORT_FIELDS + 2 * (guint) n_aus)
        return FALSE;
      for (int k = 0; k < REPORT_FIELDS; k++)
        v[k] = json_array_get_double_element (r, (guint) k);
      e.epoch = (int) v[0];
      e.train_loss = v[1] < 0 ? NAN : v[1];
      e.train_au_loss = v[2] < 0 ? NAN : v[2];
      e.train_id_loss = v[3] < 0 ? NAN : v[3];
      e.f1_05 = v[4] < 0 ? NAN : v[4];
      e.f1_best = v[5] < 0 ? NAN : v[5];
      e.best_threshold = v[6];
      e.auc_mean = v[7] < 0 ? NAN : v[7];
      e.id_probe_acc = v[8];
      e.id_probe_chance = v[9];
      e.id_probe_train_acc = v[10];
      e.id_probe_train_chance = v[11];
      e.f1 = g_new (double, n_aus);
      e.auc = g_new (double, n_aus);
      for (int a = 0; a < n_aus; a++)
        {
          double f = json_array_get_double_element (r, REPORT_FIELDS + 2 * (guint) a);
          double u = json_array_get_double_element (r, REPORT_FIELDS + 1 + 2 * (guint) a);
          e.f1[a] = f < 0 ? NAN : f;
          e.auc[a] = u < 0 ? NAN : u;
        }
      g_array_append_val (epochs, e);
    }
  return TRUE;
}

/* What a checkpoint must agree on to be resumed: the data and the settings
 * that shape the run (not the number of epochs, which may be extended). */
static char *
fingerprint (const FacetTrainData   *data,
             const FacetTrainConfig *cfg,
             const FacetModelConfig *base)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *settings = g_strdup_printf (
    "%d/%d/%.17g/%d/%.17g/%.17g/%.17g/%.17g/%.17g/%d/%" G_GUINT64_FORMAT "/%.17g/%d/%d/%d/%d/%.17g",
    cfg->mode, cfg->last_k, cfg->iat_lambda, cfg->batch, cfg->optim.base_lr, cfg->optim.weight_decay,
    cfg->optim.layer_decay, cfg->drop_path, cfg->clip_grad, cfg->augment, cfg->seed,
    cfg->val_fraction, base->dim, base->depth, base->n_aus, cfg->balance, cfg->anchor);

  g_checksum_update (sum, (const guchar *) settings, -1);
  if (cfg->optim.id_head_lr_scale != 1.0) /* so that the recipe's checkpoints keep their print */
    g_checksum_update (sum, (const guchar *) &cfg->optim.id_head_lr_scale, sizeof (double));
  g_checksum_update (sum, (const guchar *) &data->n, sizeof data->n);
  g_checksum_update (sum, (const guchar *) data->au_ids, sizeof (int) * (gsize) data->n_aus);
  g_checksum_update (sum, (const guchar *) data->targets, sizeof (float) * (gsize) data->n * data->n_aus);
  g_checksum_update (sum, (const guchar *) data->subjects, sizeof (int) * (gsize) data->n);
  if (cfg->n_val_subjects > 0)
    g_checksum_update (sum, (const guchar *) cfg->val_subjects, sizeof (int) * (gsize) cfg->n_val_subjects);
  return g_strdup (g_checksum_get_string (sum));
}

static gboolean
write_checkpoint (Run        *run,
                  int         epoch,
                  GArray     *reports,
                  const char *print,
                  GError    **error)
{
  g_autoptr (GPtrArray) tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_tensor_free);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GPtrArray *mt = facet_model_get_tensors (run->model);

  for (guint i = 0; i < mt->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (mt, i);
      g_autofree char *name = g_strconcat ("model.", t->name, NULL);
      float *dst;
      g_ptr_array_add (tensors, facet_tensor_new_f32 (name, t->ndim, t->shape, &dst));
      memcpy (dst, t->data, facet_tensor_nbytes (t));
    }
  facet_optimizer_export (run->opt, tensors, meta);
  g_hash_table_insert (meta, g_strdup ("format"), g_strdup (CHECKPOINT_FORMAT));
  g_hash_table_insert (meta, g_strdup ("epoch"), g_strdup_printf ("%d", epoch));
  g_hash_table_insert (meta, g_strdup ("fingerprint"), g_strdup (print));
  g_hash_table_insert (meta, g_strdup ("facet.config"), facet_model_config_to_string (run->mc));
  g_hash_table_insert (meta, g_strdup ("reports"), reports_to_json (reports, run->mc->n_aus));
  return facet_safetensors_write (run->cfg->checkpoint, tensors, meta, error);
}

/* Loads weights, optimiser state and reports; returns the last finished epoch. */
static int
read_checkpoint (Run        *run,
                 GArray     *reports,
                 const char *print,
                 GError    **error)
{
  g_autoptr (FacetCheckpoint) ck = NULL;
  g_autoptr (GPtrArray) adam = g_ptr_array_new ();
  const char *fmt, *fp, *ep, *rep;
  guint64 epoch;

  ck = facet_checkpoint_read (run->cfg->checkpoint, error);
  if (ck == NULL)
    return -1;
  fmt = ck->metadata ? g_hash_table_lookup (ck->metadata, "format") : NULL;
  fp = ck->metadata ? g_hash_table_lookup (ck->metadata, "fingerprint") : NULL;
  ep = ck->metadata ? g_hash_table_lookup (ck->metadata, "epoch") : NULL;
  rep = ck->metadata ? g_hash_table_lookup (ck->metadata, "reports") : NULL;
  if (g_strcmp0 (fmt, CHECKPOINT_FORMAT) != 0 || ep == NULL
      || !g_ascii_string_to_unsigned (ep, 10, 1, 100000, &epoch, NULL))
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                   "%s is not a Facet training checkpoint", run->cfg->checkpoint);
      return -1;
    }
  if (g_strcmp0 (fp, print) != 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                   "%s was made with other data or settings; resume with the same labels, "
                   "base model and options, or start afresh without --resume",
                   run->cfg->checkpoint);
      return -1;
    }
  for (guint i = 0; i < ck->tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (ck->tensors, i);
      if (g_str_has_prefix (t->name, "model."))
        {
          const FacetTensor *mt = facet_model_get_tensor (run->model, t->name + 6);
          if (mt == NULL || t->dtype != FACET_DTYPE_F32 || facet_tensor_nbytes (t) != facet_tensor_nbytes (mt))
            {
              g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                           "%s: tensor %s does not fit the model", run->cfg->checkpoint, t->name);
              return -1;
            }
          memcpy ((gpointer) mt->data, t->data, facet_tensor_nbytes (t));
        }
      else
        g_ptr_array_add (adam, t);
    }
  if (!facet_optimizer_import (run->opt, adam, ck->metadata, error))
    return -1;
  if (rep == NULL || !reports_from_json (rep, run->mc->n_aus, reports))
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                   "%s: damaged epoch reports", run->cfg->checkpoint);
      return -1;
    }
  return (int) epoch;
}

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->opt, facet_optimizer_free);
  g_clear_pointer (&run->grads, facet_grads_free);
  g_clear_pointer (&run->cpu, facet_backend_free);
  g_clear_pointer (&run->au_map, g_free);
  g_clear_pointer (&run->id_class, g_free);
  g_clear_pointer (&run->train_idx, g_array_unref);
  g_clear_pointer (&run->val_idx, g_array_unref);
  g_clear_pointer (&run->raw_train, g_free);
  g_clear_pointer (&run->feat_train, g_free);
  g_clear_pointer (&run->feat_val, g_free);
  g_clear_pointer (&run->print, g_free);
  g_clear_pointer (&run->anchor, g_free);
  g_clear_pointer (&run->pos_weight, g_free);
  g_clear_pointer (&run->order, g_free);
  g_clear_pointer (&run->input, g_free);
  g_clear_pointer (&run->targets, g_free);
  g_clear_pointer (&run->classes, g_free);
}

/* The training subjects become identity classes 0 .. k-1 of a fresh ID_head
 * when the base model's head does not have exactly k outputs. */
static void
prepare_id_head (Run     *run,
                 int      k,
                 guint64  seed)
{
  FacetModelConfig *mc = facet_model_get_config_mut (run->model);
  gint64 wshape[2] = { k, mc->dim }, bshape[1] = { k };
  float *w, *b;
  FacetTensor *wt, *bt;
  FacetRng rng;

  if (mc->n_subjects == k && facet_model_get_tensor (run->model, "ID_head.weight") != NULL)
    return;
  wt = facet_tensor_new_f32 ("ID_head.weight", 2, wshape, &w);
  bt = facet_tensor_new_f32 ("ID_head.bias", 1, bshape, &b);
  facet_rng_init (&rng, seed);
  for (gint64 i = 0; i < (gint64) k * mc->dim; i++)
    w[i] = (float) facet_rng_trunc_normal (&rng, 2e-5, -2.0, 2.0);
  facet_model_set_tensor (run->model, wt);
  facet_model_set_tensor (run->model, bt);
  mc->n_subjects = k;
}

static int
compare_int (gconstpointer a,
             gconstpointer b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return x < y ? -1 : x > y;
}

/* The subject-exclusive split, from the seed alone: the held-out subjects
 * into @result, identity classes (training subjects, in sorted id order) into
 * run->id_class, samples into run->train_idx and run->val_idx. */
static void
split_subjects (Run              *run,
                FacetTrainResult *result)
{
  const FacetTrainData *data = run->data;
  const FacetTrainConfig *cfg = run->cfg;
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autofree int *order = NULL;
  int present, n_val, k = 0;
  FacetRng rng;

  for (guint i = 0; i < data->n; i++)
    if (g_hash_table_add (seen, GINT_TO_POINTER (data->subjects[i] + 1)))
      g_array_append_val (ids, data->subjects[i]);
  /* Sorted, so that the split does not depend on sample order. */
  g_array_sort (ids, compare_int);
  present = (int) ids->len;
  order = g_new (int, MAX (present, 1));
  memcpy (order, ids->data, sizeof (int) * present);
  facet_rng_init (&rng, mix (cfg->seed, 1));
  facet_rng_shuffle (&rng, (guint *) order, (guint) present);

  n_val = validation_count (present, cfg->val_fraction);
  if (cfg->n_val_subjects > 0)
    {
      /* Held-out subjects named by the caller go first in the order. */
      n_val = 0;
      for (int i = 0; i < cfg->n_val_subjects; i++)
        for (int j = n_val; j < present; j++)
          if (order[j] == cfg->val_subjects[i])
            {
              int t = order[n_val];
              order[n_val++] = order[j];
              order[j] = t;
              break;
            }
    }
  result->n_val_subjects = n_val;
  result->val_subjects = g_memdup2 (order, sizeof (int) * MAX (n_val, 1));
  result->n_train_subjects = present - n_val;
  result->train_subjects = g_memdup2 (order + n_val, sizeof (int) * MAX (present - n_val, 1));

  run->id_class = g_new (int, MAX (data->n_subjects, 1));
  for (int s = 0; s < data->n_subjects; s++)
    run->id_class[s] = -1;
  for (int i = n_val; i < present; i++)
    run->id_class[order[i]] = 0;
  /* Classes follow sorted subject order, so they too are independent of the shuffle. */
  for (int i = 0; i < present; i++)
    if (run->id_class[g_array_index (ids, int, i)] >= 0)
      run->id_class[g_array_index (ids, int, i)] = k++;

  run->train_idx = g_array_new (FALSE, FALSE, sizeof (guint));
  run->val_idx = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < data->n; i++)
    g_array_append_val (run->id_class[data->subjects[i]] >= 0 ? run->train_idx : run->val_idx, i);
  result->n_train = run->train_idx->len;
  result->n_val = run->val_idx->len;
}

/* Class-balanced BCE: each AU's present labels weigh (absent / present)
 * of the training frames, at most 20 (an AU coded present in a handful of
 * frames would otherwise dominate). */
static float *
balanced_pos_weight (Run *run)
{
  const FacetModelConfig *mc = run->mc;
  g_autofree double *pos = g_new0 (double, mc->n_aus), *neg = g_new0 (double, mc->n_aus);
  g_autofree float *t = g_new (float, mc->n_aus);
  float *w = g_new (float, mc->n_aus);

  for (guint j = 0; j < run->train_idx->len; j++)
    {
      fill_targets (run, g_array_index (run->train_idx, guint, j), t);
      for (int a = 0; a < mc->n_aus; a++)
        {
          pos[a] += t[a] >= 0.5f;
          neg[a] += t[a] >= 0.0f && t[a] < 0.5f;
        }
    }
  for (int a = 0; a < mc->n_aus; a++)
    w[a] = pos[a] > 0 ? (float) CLAMP (neg[a] / pos[a], 1.0, 20.0) : 1.0f;
  return w;
}

/* The model copy, its backend, gradients and optimiser for the mode. */
static gboolean
prepare_run (Run              *run,
             FacetTrainResult *result,
             GError          **error)
{
  const FacetTrainData *data = run->data;
  const FacetTrainConfig *cfg = run->cfg;

  prepare_id_head (run, result->n_train_subjects, mix (cfg->seed, 2));
  run->mc = facet_model_get_config (run->model);
  run->au_map = g_new (int, MAX (data->n_aus, 1));
  for (int a = 0; a < data->n_aus; a++)
    run->au_map[a] = facet_model_config_find_au (run->mc, data->au_ids[a]);

  run->first_block = cfg->mode == FACET_TRAIN_FULL ? 0
                     : cfg->mode == FACET_TRAIN_LAST ? run->mc->depth - cfg->last_k
                                                     : run->mc->depth;
  run->embedding = cfg->mode == FACET_TRAIN_FULL;
  run->trainable[0] = run->first_block;
  run->trainable[1] = run->embedding;
  run->trainable[2] = cfg->mode == FACET_TRAIN_HEADS;
  run->cpu = facet_cpu_backend_new_with_precision (cfg->precision);
  if (!facet_backend_load_model (run->cpu, run->model, error))
    return FALSE;
  result->precision = facet_backend_get_precision (run->cpu);
  if (cfg->mode == FACET_TRAIN_HEADS && cfg->balance)
    run->pos_weight = balanced_pos_weight (run);
  run->grads = facet_grads_new (run->model, trainable_for_mode, run->trainable);
  run->opt = facet_optimizer_new (run->model, run->grads, &cfg->optim);
  return TRUE;
}

/* Heads mode pulls the AU head towards the base model's (L2-SP): a few
 * minutes of a lab's video hold a handful of subjects, and a free linear
 * head fits their identities rather than their AUs. */
static void
anchor_head (Run *run)
{
  const FacetModelConfig *mc = run->mc;
  gsize nw = (gsize) mc->n_aus * mc->dim;
  float *gw = facet_grads_get (run->grads, "head.weight");
  float *gb = facet_grads_get (run->grads, "head.bias");
  const float *w = facet_model_get_weights (run->model, "head.weight");
  const float *b = facet_model_get_weights (run->model, "head.bias");
  float k = (float) run->cfg->anchor;

  if (k <= 0.0f || gw == NULL || gb == NULL || run->anchor == NULL)
    return;
  for (gsize i = 0; i < nw; i++)
    gw[i] += k * (w[i] - run->anchor[i]);
  for (int a = 0; a < mc->n_aus; a++)
    gb[a] += k * (b[a] - run->anchor[nw + a]);
}

/* One optimisation step on the samples order[start .. start + nb). */
static gboolean
train_step (Run                  *run,
            const guint          *order,
            guint                 start,
            guint                 nb,
            int                   epoch,
            gint64                global_step,
            FacetTrainStepResult *sr,
            GError              **error)
{
  const FacetTrainConfig *cfg = run->cfg;
  const FacetModelConfig *mc = run->mc;
  gboolean heads = cfg->mode == FACET_TRAIN_HEADS;

  for (guint j = 0; j < nb; j++)
    {
      /* Heads mode walks the cached features (positions in train_idx);
       * the other modes walk sample indices. */
      guint i = heads ? g_array_index (run->train_idx, guint, order[start + j]) : order[start + j];
      fill_targets (run, i, run->targets + (gsize) j * mc->n_aus);
      run->classes[j] = run->id_class[run->data->subjects[i]];
    }
  facet_grads_zero (run->grads);
  if (heads)
    {
      FacetHeadsStep step = { 0 };
      for (guint j = 0; j < nb; j++)
        memcpy (run->input + (gsize) j * mc->dim, run->raw_train + (gsize) order[start + j] * mc->dim,
                sizeof (float) * mc->dim);
      step.batch = nb;
      step.pooled_raw = run->input;
      step.au_targets = run->targets;
      step.subjects = NULL; /* no IAT on a frozen backbone: the ID head would learn for nothing */
      step.iat_lambda = 0.0f;
      step.pos_weight = run->pos_weight;
      if (!facet_backend_heads_step (run->cpu, &step, run->grads, sr, error))
        return FALSE;
      anchor_head (run);
      return TRUE;
    }
  else
    {
      FacetTrainStep step = { 0 };
      gsize per = 3 * (gsize) mc->image_size * mc->image_size;
      FacetAugmentConfig none;

      facet_augment_config_none (&none);
      for (guint j = 0; j < nb; j++)
        {
          guint i = order[start + j];
          facet_augment_image (run->data->crops[i], mc, cfg->augment ? &cfg->augment_config : &none,
                               mix (cfg->seed, mix ((guint64) epoch, i)), run->input + per * j);
        }
      step.batch = nb;
      step.images = run->input;
      step.au_targets = run->targets;
      step.subjects = run->classes;
      step.iat_lambda = (float) cfg->iat_lambda;
      step.drop_path = (float) cfg->drop_path;
      step.seed = mix (cfg->seed, 5000000 + (guint64) global_step);
      step.first_trainable_block = run->first_block;
      step.train_embedding = run->embedding;
      return facet_backend_train_step (run->cpu, &step, run->grads, sr, error);
    }
}

/* An epoch's optimisation steps with @opt over run->order[0 .. n) (sample
 * indices, or positions in the cached features in heads mode): progress to
 * on_step when @report, the summed losses (total, AU, ID) into @sums. */
static gboolean
fit_epoch (Run            *run,
           FacetOptimizer *opt,
           guint           n,
           int             epoch,
           gboolean        report,
           double          sums[3],
           GError        **error)
{
  const FacetTrainConfig *cfg = run->cfg;
  gint64 steps = MAX (1, (gint64) n / cfg->batch), global_step = (gint64) (epoch - 1) * steps;
  double t0 = facet_now ();

  for (gint64 s = 0; s < steps; s++, global_step++)
    {
      guint start = (guint) (s * cfg->batch);
      guint nb = MIN ((guint) cfg->batch, n - start);
      FacetTrainStepResult sr = { 0 };
      double lr;

      if (g_cancellable_set_error_if_cancelled (cfg->cancellable, error)
          || !train_step (run, run->order, start, nb, epoch, global_step, &sr, error))
        return FALSE;
      if (!isfinite (sr.loss))
        {
          g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_DIVERGED,
                       "the loss became %g at epoch %d, step %" G_GINT64_FORMAT
                       ": lower the learning rate", sr.loss, epoch, s + 1);
          return FALSE;
        }
      if (cfg->clip_grad > 0)
        facet_clip_grad_norm (run->grads, cfg->clip_grad);
      lr = facet_optim_lr_at (&cfg->optim, (epoch - 1) + (double) s / steps);
      facet_optimizer_step (opt, lr);
      sums[0] += sr.loss;
      sums[1] += sr.au_loss;
      sums[2] += sr.id_loss;
      if (report && cfg->on_step)
        {
          double elapsed = facet_now () - t0;
          FacetTrainProgress p = { epoch, cfg->epochs, global_step + 1,
                                   (gint64) cfg->epochs * steps, sr.loss, sr.au_loss,
                                   sr.id_loss, lr,
                                   /* too short a time to measure a rate over says nothing */
                                   elapsed >= 0.05 ? (double) nb * (s + 1) / elapsed : 0.0 };
          cfg->on_step (&p, cfg->user_data);
        }
    }
  return TRUE;
}

/* One epoch: steps, then the evaluation on the held-out subjects (with the
 * per-AU thresholds and the probe on the training subjects at the last). */
static gboolean
run_epoch (Run              *run,
           int               epoch,
           FacetTrainResult *result,
           GError          **error)
{
  const FacetTrainConfig *cfg = run->cfg;
  gboolean heads = cfg->mode == FACET_TRAIN_HEADS;
  FacetEpochReport rep = { 0 };
  FacetRng rng;
  double sums[3] = { 0 }, t0 = facet_now ();
  guint n_train = run->train_idx->len;
  gboolean last = epoch == cfg->epochs;

  rep.epoch = epoch;
  for (guint i = 0; i < n_train; i++)
    run->order[i] = heads ? i : g_array_index (run->train_idx, guint, i);
  facet_rng_init (&rng, mix (cfg->seed, 1000 + (guint64) epoch));
  facet_rng_shuffle (&rng, run->order, n_train);
  if (!fit_epoch (run, run->opt, n_train, epoch, TRUE, sums, error))
    return FALSE;

  rep.train_loss = sums[0] / run->steps_per_epoch;
  rep.train_au_loss = sums[1] / run->steps_per_epoch;
  rep.train_id_loss = sums[2] / run->steps_per_epoch;
  /* Heads mode chose its thresholds on the training subjects before the
   * epochs; the other modes tune them on the held-out ones here. */
  if (!evaluate (run, &rep, last, last && !heads ? &result->thresholds : NULL, error))
    {
      g_free (rep.f1);
      g_free (rep.auc);
      return FALSE;
    }
  rep.seconds = facet_now () - t0;
  g_array_append_val (result->epochs, rep);
  if (cfg->checkpoint != NULL && !write_checkpoint (run, epoch, result->epochs, run->print, error))
    return FALSE;
  if (cfg->on_epoch)
    cfg->on_epoch (&g_array_index (result->epochs, FacetEpochReport, result->epochs->len - 1),
                   cfg->user_data);
  return TRUE;
}

/* Epoch 0: the base model on the held-out subjects, the reference the
 * fine-tuned model is compared with (the same frames, the same measures). */
static gboolean
evaluate_base (Run              *run,
               FacetTrainResult *result,
               GError          **error)
{
  FacetEpochReport rep = { 0 };
  double t0 = facet_now ();

  rep.train_loss = rep.train_au_loss = rep.train_id_loss = NAN;
  if (!evaluate (run, &rep, TRUE, NULL, error))
    {
      g_free (rep.f1);
      g_free (rep.auc);
      return FALSE;
    }
  rep.seconds = facet_now () - t0;
  g_array_append_val (result->epochs, rep);
  if (run->cfg->on_epoch)
    run->cfg->on_epoch (&g_array_index (result->epochs, FacetEpochReport, 0), run->cfg->user_data);
  return TRUE;
}

/* Per-AU values of @mc's order into @au_ids' order (NAN where @mc has no such AU). */
static double *
remap_per_au (const double           *values,
              const FacetModelConfig *mc,
              const int              *au_ids,
              int                     n_aus)
{
  double *out = g_new (double, MAX (n_aus, 1));

  for (int a = 0; a < n_aus; a++)
    {
      int k = facet_model_config_find_au (mc, au_ids[a]);
      out[a] = k >= 0 ? values[k] : NAN;
    }
  return out;
}

/**
 * facet_train_evaluate:
 * @model: the model to measure (borrowed; not changed)
 * @data: the samples, crops in @model's crop convention
 * @val_subjects: the held-out subjects (subject indices of @data), e.g. a
 *   FacetTrainResult's
 * @config: its precision and cancellable are used, nothing else
 * @au_ids: (array length=n_aus): the order of @report's per-AU values
 * @report: (out caller-allocates): free its arrays with facet_epoch_report_clear()
 *
 * Measures @model on the samples of @val_subjects exactly as
 * facet_train_run() measures its base model (epoch 0): F1 at 0.5 and at the
 * best common threshold, ROC AUC, the identity probe on the held-out
 * subjects and on every other subject of @data (the training subjects).
 * Labels of AUs @model lacks are left out; @report's f1 and auc follow
 * @au_ids, NAN where @model has no such AU. For the app, which fine-tunes
 * from a model adapted to the videos and compares the result with the base
 * model the coder chose, on the same held-out frames.
 */
gboolean
facet_train_evaluate (FacetModel             *model,
                      const FacetTrainData   *data,
                      const int              *val_subjects,
                      int                     n_val_subjects,
                      const FacetTrainConfig *config,
                      const int              *au_ids,
                      int                     n_aus,
                      FacetEpochReport       *report,
                      GError                **error)
{
  g_autoptr (FacetTrainResult) split = g_new0 (FacetTrainResult, 1);
  FacetTrainConfig cfg;
  FacetEpochReport rep = { 0 };
  Run run = { 0 };
  gboolean ok;
  double t0 = facet_now ();

  g_return_val_if_fail (model != NULL && data != NULL && config != NULL && report != NULL, FALSE);
  g_return_val_if_fail (val_subjects != NULL && n_val_subjects > 0, FALSE);
  g_return_val_if_fail (au_ids != NULL || n_aus == 0, FALSE);

  memset (report, 0, sizeof *report);
  facet_train_config_init (&cfg);
  cfg.precision = config->precision;
  cfg.cancellable = config->cancellable;
  cfg.val_subjects = val_subjects;
  cfg.n_val_subjects = n_val_subjects;
  run.data = data;
  run.cfg = &cfg;
  run.model = model;
  run.mc = facet_model_get_config (model);
  split_subjects (&run, split);
  if (split->n_val_subjects == 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_DATA,
                   "none of the %d held-out subjects has labelled frames to measure on",
                   n_val_subjects);
      run_clear (&run);
      return FALSE;
    }
  run.au_map = g_new (int, MAX (data->n_aus, 1));
  for (int a = 0; a < data->n_aus; a++)
    run.au_map[a] = facet_model_config_find_au (run.mc, data->au_ids[a]);
  run.cpu = facet_cpu_backend_new_with_precision (cfg.precision);
  rep.train_loss = rep.train_au_loss = rep.train_id_loss = NAN;
  ok = facet_backend_load_model (run.cpu, model, error)
       && evaluate (&run, &rep, split->n_train_subjects > 0, NULL, error);
  run_clear (&run);
  if (ok)
    {
      report->epoch = 0;
      report->train_loss = report->train_au_loss = report->train_id_loss = NAN;
      report->f1_05 = rep.f1_05;
      report->f1_best = rep.f1_best;
      report->best_threshold = rep.best_threshold;
      report->auc_mean = rep.auc_mean;
      report->id_probe_acc = rep.id_probe_acc;
      report->id_probe_chance = rep.id_probe_chance;
      report->id_probe_train_acc = rep.id_probe_train_acc;
      report->id_probe_train_chance = rep.id_probe_train_chance;
      report->f1 = remap_per_au (rep.f1, run.mc, au_ids, n_aus);
      report->auc = remap_per_au (rep.auc, run.mc, au_ids, n_aus);
      report->seconds = facet_now () - t0;
    }
  g_free (rep.f1);
  g_free (rep.auc);
  return ok;
}

void
facet_epoch_report_clear (FacetEpochReport *report)
{
  if (report == NULL)
    return;
  g_clear_pointer (&report->f1, g_free);
  g_clear_pointer (&report->auc, g_free);
}

/* Heads mode's operating point ------------------------------------------------ */

/* The targets and subjects of the training samples, in train_idx order. */
static void
training_labels (Run   *run,
                 float *targets,
                 int   *subjects)
{
  for (guint j = 0; j < run->train_idx->len; j++)
    {
      guint i = g_array_index (run->train_idx, guint, j);
      fill_targets (run, i, targets + (gsize) j * run->mc->n_aus);
      subjects[j] = run->data->subjects[i];
    }
}

/* Puts @head (weight then bias) into the model. */
static void
set_head (Run         *run,
          const float *head)
{
  gsize nw = (gsize) run->mc->n_aus * run->mc->dim;

  memcpy ((float *) facet_model_get_weights (run->model, "head.weight"), head, sizeof (float) * nw);
  memcpy ((float *) facet_model_get_weights (run->model, "head.bias"), head + nw,
          sizeof (float) * run->mc->n_aus);
}

/* A copy of the model's head now (weight then bias). */
static float *
get_head (Run *run)
{
  gsize nw = (gsize) run->mc->n_aus * run->mc->dim;
  float *head = g_new (float, nw + run->mc->n_aus);

  memcpy (head, facet_model_get_weights (run->model, "head.weight"), sizeof (float) * nw);
  memcpy (head + nw, facet_model_get_weights (run->model, "head.bias"),
          sizeof (float) * run->mc->n_aus);
  return head;
}

/* Out-of-fold scores of the training samples into @oof: the training
 * subjects fall into FACET_TRAIN_HEADS_FOLDS folds (one subject each where
 * there are no more), each fold in turn is left out, and a head trained
 * from the base's on the others (the run's settings, schedule and seed)
 * scores its frames. The model's head is left as it was; the run's
 * optimiser is not touched. */
static gboolean
heads_out_of_fold (Run              *run,
                   FacetTrainResult *result,
                   const float      *base_head,
                   const int        *subjects,
                   float            *oof,
                   GError          **error)
{
  const FacetModelConfig *mc = run->mc;
  g_autofree float *saved = get_head (run);
  g_autofree int *fold = g_new (int, MAX (run->data->n_subjects, 1));
  guint n = run->train_idx->len;
  int n_folds = MIN (result->n_train_subjects, FACET_TRAIN_HEADS_FOLDS);
  gboolean ok = TRUE;

  /* train_subjects is in the seed's shuffled order */
  for (int k = 0; k < result->n_train_subjects; k++)
    fold[result->train_subjects[k]] = k % n_folds;
  for (int k = 0; k < n_folds && ok; k++)
    {
      g_autoptr (FacetOptimizer) opt = NULL;

      set_head (run, base_head);
      opt = facet_optimizer_new (run->model, run->grads, &run->cfg->optim);
      for (int epoch = 1; epoch <= run->cfg->epochs && ok; epoch++)
        {
          double sums[3] = { 0 };
          FacetRng rng;
          guint m = 0;
          for (guint j = 0; j < n; j++)
            if (fold[subjects[j]] != k)
              run->order[m++] = j;
          facet_rng_init (&rng, mix (run->cfg->seed, mix (2000 + (guint64) k, (guint64) epoch)));
          facet_rng_shuffle (&rng, run->order, m);
          ok = m > 0 && fit_epoch (run, opt, m, epoch, FALSE, sums, error);
        }
      for (guint j = 0; j < n && ok; j++)
        if (fold[subjects[j]] == k)
          head_probs (run, run->feat_train + (gsize) j * mc->dim, 1, NULL,
                      oof + (gsize) j * mc->n_aus);
    }
  set_head (run, saved);
  return ok;
}

/* Heads mode's operating point, chosen without the held-out subjects: per-AU
 * thresholds that maximise the mean over the training subjects of each AU's
 * F1 on the out-of-fold scores; and whether a new head is worth having: a
 * trained base head stays unless the out-of-fold estimate (mean F1 at those
 * thresholds) beats the base's F1 on the same frames at its own thresholds
 * by FACET_TRAIN_HEADS_MIN_GAIN (the base never saw these subjects, so its
 * F1 there is an honest estimate; the new head's is slightly flattered by
 * thresholds chosen on the same scores, which the margin covers). */
static gboolean
heads_operating_point (Run              *run,
                       FacetTrainResult *result,
                       const float      *base_head,
                       const float      *base_thresholds,
                       gboolean          head_new,
                       GError          **error)
{
  const FacetModelConfig *mc = run->mc;
  guint n = run->train_idx->len;
  g_autofree float *oof = g_new (float, (gsize) MAX (n, 1) * mc->n_aus);
  g_autofree float *targets = g_new (float, (gsize) MAX (n, 1) * mc->n_aus);
  g_autofree int *subjects = g_new (int, MAX (n, 1));
  g_autofree double *base_th = g_new (double, mc->n_aus);

  result->thresholds = g_new (double, mc->n_aus);
  for (int a = 0; a < mc->n_aus; a++)
    result->thresholds[a] = base_th[a] = head_new ? 0.5 : base_thresholds[a];
  if (result->n_train_subjects < 2)
    return TRUE; /* nobody to leave out: the base's thresholds, no estimate */
  training_labels (run, targets, subjects);
  if (!heads_out_of_fold (run, result, base_head, subjects, oof, error))
    return FALSE;
  for (int a = 0; a < mc->n_aus; a++)
    result->thresholds[a] = facet_metrics_best_threshold_by_subject (oof, targets, subjects, n,
                                                                     mc->n_aus, a);
  result->thresholds_out_of_fold = TRUE;
  result->oof_f1 = facet_metrics_mean_f1 (oof, targets, n, mc->n_aus, result->thresholds, NULL);
  head_probs (run, run->feat_train, n, base_head, oof);
  result->base_train_f1 = facet_metrics_mean_f1 (oof, targets, n, mc->n_aus, base_th, NULL);
  result->kept_base = !head_new
                      && !(result->oof_f1 > result->base_train_f1 + FACET_TRAIN_HEADS_MIN_GAIN);
  return TRUE;
}

/* Heads mode, after the epochs: where the estimate showed no gain, the base
 * head and thresholds go back into the model and the last report measures
 * that model; then both models' F1 at their own thresholds on the held-out
 * frames, what a user of each gets (analysis and export use them). */
static gboolean
heads_finish (Run              *run,
              FacetTrainResult *result,
              const float      *base_head,
              const float      *base_thresholds,
              GError          **error)
{
  const FacetModelConfig *mc = run->mc;
  guint n = run->val_idx->len;
  g_autofree float *probs = g_new (float, (gsize) MAX (n, 1) * mc->n_aus);
  g_autofree float *targets = g_new (float, (gsize) MAX (n, 1) * mc->n_aus);
  g_autofree double *base_th = g_new (double, mc->n_aus);
  FacetEpochReport *last = &g_array_index (result->epochs, FacetEpochReport,
                                           result->epochs->len - 1);

  for (int a = 0; a < mc->n_aus; a++)
    base_th[a] = base_thresholds[a];
  if (result->kept_base)
    {
      FacetEpochReport again = { 0 };
      set_head (run, base_head);
      memcpy (result->thresholds, base_th, sizeof (double) * mc->n_aus);
      if (!evaluate (run, &again, FALSE, NULL, error))
        return FALSE;
      g_free (last->f1);
      g_free (last->auc);
      last->f1 = again.f1;
      last->auc = again.auc;
      last->f1_05 = again.f1_05;
      last->f1_best = again.f1_best;
      last->best_threshold = again.best_threshold;
      last->auc_mean = again.auc_mean;
    }
  for (guint j = 0; j < n; j++)
    fill_targets (run, g_array_index (run->val_idx, guint, j), targets + (gsize) j * mc->n_aus);
  result->f1_at_thresholds_au = g_new (double, mc->n_aus);
  result->base_f1_at_thresholds_au = g_new (double, mc->n_aus);
  head_probs (run, run->feat_val, n, NULL, probs);
  result->f1_at_thresholds = facet_metrics_mean_f1 (probs, targets, n, mc->n_aus, result->thresholds,
                                                    result->f1_at_thresholds_au);
  head_probs (run, run->feat_val, n, base_head, probs);
  result->base_f1_at_thresholds = facet_metrics_mean_f1 (probs, targets, n, mc->n_aus, base_th,
                                                         result->base_f1_at_thresholds_au);
  return TRUE;
}

/* Heads mode before the epochs: the frozen backbone's features, once (the
 * same every epoch), the base head to anchor to, and the operating point. */
static gboolean
heads_prepare (Run              *run,
               FacetTrainResult *result,
               FacetModel       *base,
               const float      *base_head,
               GError          **error)
{
  const FacetModelConfig *mc = run->mc;
  guint nt = MAX (run->train_idx->len, 1), nv = MAX (run->val_idx->len, 1);

  if (run->cfg->anchor > 0.0)
    run->anchor = g_memdup2 (base_head, sizeof (float) * ((gsize) mc->n_aus * mc->dim + mc->n_aus));
  run->raw_train = g_new (float, (gsize) nt * mc->dim);
  run->feat_train = g_new (float, (gsize) nt * mc->dim);
  run->feat_val = g_new (float, (gsize) nv * mc->dim);
  if (!predict_samples (run, run->train_idx, NULL, run->feat_train, run->raw_train, error)
      || !predict_samples (run, run->val_idx, NULL, run->feat_val, NULL, error))
    return FALSE;
  return heads_operating_point (run, result, base_head, facet_model_get_config (base)->thresholds,
                                head_is_new (base), error);
}

/* Resumes from the checkpoint when asked; returns the first epoch to run,
 * 0 on error. */
static int
resume_point (Run              *run,
              FacetTrainResult *result,
              GError          **error)
{
  int done;

  if (!run->cfg->resume)
    return 1;
  done = read_checkpoint (run, result->epochs, run->print, error);
  if (done < 0)
    return 0;
  if (done >= run->cfg->epochs)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                   "%s already holds all %d epochs; nothing to resume",
                   run->cfg->checkpoint, run->cfg->epochs);
      return 0;
    }
  return done + 1;
}

/**
 * facet_train_run:
 * @result: (out) (optional): per-epoch reports (epoch 0: the base model on
 *   the same held-out frames), the split, tuned thresholds
 *
 * Fine-tunes a copy of @base and returns it, with per-AU thresholds tuned
 * on the validation subjects stored in its configuration.
 */
FacetModel *
facet_train_run (FacetModel             *base,
                 const FacetTrainData   *data,
                 const FacetTrainConfig *cfg_in,
                 FacetTrainResult      **result_out,
                 GError                **error)
{
  g_autoptr (FacetTrainResult) result = g_new0 (FacetTrainResult, 1);
  g_autoptr (FacetModel) model = NULL;
  FacetTrainConfig cfg = *cfg_in;
  Run run = { 0 };
  FacetModelConfig *mc;
  g_autofree float *base_head = NULL;
  gboolean heads = cfg_in->mode == FACET_TRAIN_HEADS;
  int first_epoch;
  gsize per;

  g_return_val_if_fail (base != NULL && data != NULL && cfg_in != NULL, NULL);

  if (!facet_train_check (base, data, &cfg, error))
    return NULL;
  facet_train_config_resolve (&cfg, base);

  result->epochs = g_array_new (FALSE, TRUE, sizeof (FacetEpochReport));
  result->f1_at_thresholds = result->base_f1_at_thresholds = NAN;
  result->oof_f1 = result->base_train_f1 = NAN;
  model = facet_model_copy (base);
  run.data = data;
  run.cfg = &cfg;
  run.model = model;
  run.print = fingerprint (data, &cfg, facet_model_get_config (base));
  split_subjects (&run, result);
  if (!prepare_run (&run, result, error) || (first_epoch = resume_point (&run, result, error)) == 0)
    goto fail;
  result->first_epoch = first_epoch;

  per = cfg.mode == FACET_TRAIN_HEADS ? (gsize) run.mc->dim
                                      : 3 * (gsize) run.mc->image_size * run.mc->image_size;
  run.steps_per_epoch = MAX (1, (gint64) run.train_idx->len / cfg.batch);
  run.order = g_new (guint, MAX (run.train_idx->len, 1));
  run.input = g_new (float, per * (gsize) cfg.batch);
  run.targets = g_new (float, (gsize) cfg.batch * run.mc->n_aus);
  run.classes = g_new (int, cfg.batch);
  if (heads)
    {
      /* The base's head, not the model's: a resumed run holds the checkpoint's. */
      base_head = g_new (float, (gsize) run.mc->n_aus * run.mc->dim + run.mc->n_aus);
      memcpy (base_head, facet_model_get_weights (base, "head.weight"),
              sizeof (float) * run.mc->n_aus * run.mc->dim);
      memcpy (base_head + (gsize) run.mc->n_aus * run.mc->dim,
              facet_model_get_weights (base, "head.bias"), sizeof (float) * run.mc->n_aus);
      if (!heads_prepare (&run, result, base, base_head, error))
        goto fail;
    }
  if (first_epoch == 1 && !evaluate_base (&run, result, error))
    goto fail;
  for (int epoch = first_epoch; epoch <= cfg.epochs; epoch++)
    if (!run_epoch (&run, epoch, result, error))
      goto fail;
  if (heads
      && !heads_finish (&run, result, base_head, facet_model_get_config (base)->thresholds, error))
    goto fail;

  /* Per-AU thresholds travel with the model (heads mode: chosen on the
   * training subjects; else tuned on the held-out ones). */
  mc = facet_model_get_config_mut (model);
  for (int a = 0; a < mc->n_aus; a++)
    mc->thresholds[a] = (float) result->thresholds[a];

  run_clear (&run);
  if (result_out)
    *result_out = g_steal_pointer (&result);
  return g_steal_pointer (&model);

fail:
  run_clear (&run);
  return NULL;
}

static const char *
json_number (char   *buf,
             double  v)
{
  return isnan (v) || v < -0.5 ? "null" : g_ascii_dtostr (buf, G_ASCII_DTOSTR_BUF_SIZE, v);
}

/* "KEY":{"AU01":v,...} */
static void
append_per_au (GString                *s,
               const char             *key,
               const FacetModelConfig *mc,
               const double           *values)
{
  char b[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (s, ",\"%s\":{", key);
  for (int a = 0; a < mc->n_aus; a++)
    g_string_append_printf (s, "%s\"AU%02d\":%s", a ? "," : "", mc->au_ids[a],
                            json_number (b, values[a]));
  g_string_append_c (s, '}');
}

/* Where the stored thresholds come from and, in heads mode, both models at
 * their own thresholds on the held-out frames. */
static void
append_operating_point (GString                *s,
                        const FacetTrainResult *r,
                        const FacetModelConfig *mc)
{
  char b[G_ASCII_DTOSTR_BUF_SIZE];
  gboolean heads = r->f1_at_thresholds_au != NULL;

  g_string_append_printf (s, ",\"thresholds_chosen_on\":\"%s\"",
                          r->kept_base ? "base model"
                          : r->thresholds_out_of_fold ? "training subjects, out of fold"
                          : heads ? "base model" : "held-out subjects");
  if (!heads)
    return;
  g_string_append_printf (s, ",\"f1_mean_at_thresholds\":%s", json_number (b, r->f1_at_thresholds));
  append_per_au (s, "f1_at_thresholds", mc, r->f1_at_thresholds_au);
  g_string_append_printf (s, ",\"base_f1_mean_at_thresholds\":%s",
                          json_number (b, r->base_f1_at_thresholds));
  append_per_au (s, "base_f1_at_thresholds", mc, r->base_f1_at_thresholds_au);
  g_string_append_printf (s, ",\"oof_f1_mean\":%s", json_number (b, r->oof_f1));
  g_string_append_printf (s, ",\"base_train_f1_mean\":%s", json_number (b, r->base_train_f1));
  g_string_append_printf (s, ",\"kept_base_head\":%s", r->kept_base ? "true" : "false");
}

/**
 * facet_train_result_metrics_json:
 *
 * The metrics of the last epoch as the models table stores them, beside the
 * base model's on the same held-out frames (epoch 0):
 * {"f1_mean", "auc_mean", "f1": {"AU01": ...}, "auc": {...}, "base_f1_mean",
 *  "base_auc_mean", "base_f1": {...}, "base_auc": {...}, "id_probe_acc",
 *  "id_probe_chance", "id_probe_train_acc", "id_probe_train_chance",
 *  "base_id_probe_acc", "base_id_probe_train_acc", "f1_best_threshold",
 *  "best_threshold", "thresholds": {...}, "thresholds_chosen_on", "n_train", "n_val",
 *  "epochs": [...]}, and in heads mode "f1_mean_at_thresholds",
 * "f1_at_thresholds", "base_f1_mean_at_thresholds", "base_f1_at_thresholds",
 * "oof_f1_mean", "base_train_f1_mean", "kept_base_head".
 * f1_mean and base_f1_mean are at 0.5 for both models. The *_at_thresholds
 * values are at each model's stored thresholds, which analysis and export
 * use: measured only where the thresholds were not chosen on these frames
 * (heads mode chooses them on the training subjects, out of fold). With @r's
 * reference set, the base_* values are the reference model's (named by
 * "base_model_id"), and the model training started from (epoch 0) is in
 * "start_f1_mean", "start_auc_mean" and the epochs list.
 */
char *
facet_train_result_metrics_json (const FacetTrainResult *r,
                                 const FacetModelConfig *mc)
{
  GString *s = g_string_new ("{");
  const FacetEpochReport *last, *base;
  char b[G_ASCII_DTOSTR_BUF_SIZE];

  if (r->epochs->len == 0)
    {
      g_string_append (s, "}");
      return g_string_free (s, FALSE);
    }
  last = &g_array_index (r->epochs, FacetEpochReport, r->epochs->len - 1);
  base = r->reference != NULL ? r->reference : &g_array_index (r->epochs, FacetEpochReport, 0);
  g_string_append_printf (s, "\"f1_mean\":%s", json_number (b, last->f1_05));
  g_string_append_printf (s, ",\"auc_mean\":%s", json_number (b, last->auc_mean));
  append_per_au (s, "f1", mc, last->f1);
  append_per_au (s, "auc", mc, last->auc);
  if (base->epoch == 0)
    {
      g_string_append_printf (s, ",\"base_f1_mean\":%s", json_number (b, base->f1_05));
      g_string_append_printf (s, ",\"base_auc_mean\":%s", json_number (b, base->auc_mean));
      append_per_au (s, "base_f1", mc, base->f1);
      append_per_au (s, "base_auc", mc, base->auc);
      g_string_append_printf (s, ",\"base_id_probe_acc\":%s", json_number (b, base->id_probe_acc));
      g_string_append_printf (s, ",\"base_id_probe_train_acc\":%s",
                              json_number (b, base->id_probe_train_acc));
    }
  if (r->reference != NULL)
    {
      const FacetEpochReport *start = &g_array_index (r->epochs, FacetEpochReport, 0);

      g_string_append_printf (s, ",\"base_model_id\":%" G_GINT64_FORMAT, r->reference_id);
      if (start->epoch == 0)
        {
          g_string_append_printf (s, ",\"start_f1_mean\":%s", json_number (b, start->f1_05));
          g_string_append_printf (s, ",\"start_auc_mean\":%s", json_number (b, start->auc_mean));
        }
    }
  g_string_append_printf (s, ",\"id_probe_acc\":%s", json_number (b, last->id_probe_acc));
  g_string_append_printf (s, ",\"id_probe_chance\":%s", json_number (b, last->id_probe_chance));
  g_string_append_printf (s, ",\"id_probe_train_acc\":%s", json_number (b, last->id_probe_train_acc));
  g_string_append_printf (s, ",\"id_probe_train_chance\":%s",
                          json_number (b, last->id_probe_train_chance));
  g_string_append_printf (s, ",\"f1_best_threshold\":%s", json_number (b, last->f1_best));
  g_string_append_printf (s, ",\"best_threshold\":%s", json_number (b, last->best_threshold));
  if (r->thresholds)
    append_per_au (s, "thresholds", mc, r->thresholds);
  append_operating_point (s, r, mc);
  g_string_append_printf (s, ",\"n_train\":%u,\"n_val\":%u,\"epochs\":[", r->n_train, r->n_val);
  for (guint i = 0; i < r->epochs->len; i++)
    {
      const FacetEpochReport *e = &g_array_index (r->epochs, FacetEpochReport, i);
      g_string_append_printf (s, "%s{\"epoch\":%d,\"loss\":%s", i ? "," : "", e->epoch,
                              json_number (b, e->train_loss));
      g_string_append_printf (s, ",\"f1_mean\":%s", json_number (b, e->f1_05));
      g_string_append_printf (s, ",\"auc_mean\":%s", json_number (b, e->auc_mean));
      g_string_append_printf (s, ",\"id_probe_acc\":%s}", json_number (b, e->id_probe_acc));
    }
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}
