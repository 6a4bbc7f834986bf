/* train-loop.h — fine-tuning with Identity Adversarial Training
 *
 * The loop knows no project file: its caller (facet-cli finetune, the app)
 * gathers labelled face crops and subject ids into a FacetTrainData, and
 * stores the resulting model and metrics.
 *
 * Threads: facet_train_run() blocks and runs in the calling thread (the
 * app's is a GTask thread) with a CPU backend of its own; on_step and
 * on_epoch are called from that thread; @cancellable stops it at the next
 * step or evaluation batch.
 * Ownership: @base, @data and @config are borrowed for the call (@base is
 * copied, never changed); the returned model and *@result are new
 * (transfer full: facet_model_unref(), facet_train_result_free()). A
 * FacetTrainData only points at the caller's arrays and crops (borrowed);
 * a FacetTrainResult owns its arrays and epoch reports, and each
 * FacetEpochReport's f1 and auc (freed with the result).
 */
#pragma once

#include <gio/gio.h>

#include "engine/facet-engine.h"
#include "train-augment.h"
#include "train-optim.h"

G_BEGIN_DECLS

#define FACET_TRAIN_ERROR (facet_train_error_quark ())

typedef enum
{
  FACET_TRAIN_ERROR_SETTINGS,   /* impossible settings, found before any work */
  FACET_TRAIN_ERROR_DATA,       /* no labels, too few subjects, AUs the model lacks */
  FACET_TRAIN_ERROR_CHECKPOINT, /* a resume checkpoint that does not fit */
  FACET_TRAIN_ERROR_DIVERGED,   /* the loss became NaN or infinite */
} FacetTrainError;

GQuark facet_train_error_quark (void);

typedef enum
{
  FACET_TRAIN_HEADS, /* backbone frozen; features computed once */
  FACET_TRAIN_LAST,  /* the last K blocks, the final norm and the heads */
  FACET_TRAIN_FULL,  /* everything */
} FacetTrainMode;

typedef struct
{
  guint        n;           /* samples */
  int          n_aus;       /* label columns */
  const int   *au_ids;      /* their FACS numbers */
  const float *targets;     /* [n, n_aus]: 1 present, 0 absent, < 0 not labelled */
  const int   *subjects;    /* [n]: subject index in 0 .. n_subjects - 1 */
  int          n_subjects;
  const char * const *subject_names; /* n_subjects names, for reports (may be NULL) */
  FacetImage **crops;       /* [n] face crops in the model's crop convention */
} FacetTrainData;

typedef struct
{
  int    epoch;        /* 1-based; 0 is the base model before training (no losses) */
  double train_loss, train_au_loss, train_id_loss;
  double f1_05;        /* validation mean F1 at 0.5 */
  double f1_best;      /* at the best common threshold */
  double best_threshold;
  double auc_mean;
  double id_probe_acc; /* on the held-out subjects, split in time; < 0: not measurable
                        * (fewer than two held-out subjects) */
  double id_probe_chance;       /* its chance level (the most frequent subject's share) */
  double id_probe_train_acc;    /* on the training subjects (base model and last epoch; else < 0) */
  double id_probe_train_chance;
  double seconds;
  double *f1;          /* per AU of the model, at 0.5 (NAN: no labels) */
  double *auc;
} FacetEpochReport;

typedef struct
{
  int     epoch, n_epochs;
  gint64  step, n_steps;     /* within the whole run */
  double  loss, au_loss, id_loss, lr;
  double  images_per_second;
} FacetTrainProgress;

typedef struct
{
  FacetTrainMode     mode;
  int                last_k;
  double             iat_lambda;
  int                epochs;
  int                batch;
  FacetOptimConfig   optim;        /* base_lr 0: blr 5e-4 * batch / 256; see _set_mode () */
  double             drop_path;
  double             clip_grad;    /* 0: off */
  double             anchor;       /* heads mode: L2 pull of the AU head to the base's (0: off) */
  gboolean           balance;      /* heads mode: class-balanced BCE (positives weighted) */
  gboolean           augment;
  FacetAugmentConfig augment_config;
  guint64            seed;
  FacetPrecision     precision;    /* of the CPU products: fp32 (default), bf16 or auto (bf16
                                    * where the processor has AVX512-BF16); masters stay fp32 */
  double             val_fraction; /* subjects held out for validation */
  const int         *val_subjects; /* or exactly these (subject indices of the data) */
  int                n_val_subjects;
  const char        *checkpoint;   /* written after every epoch; NULL: none */
  gboolean           resume;       /* continue from @checkpoint */
  GCancellable      *cancellable;
  void             (*on_step)  (const FacetTrainProgress *progress, gpointer user_data);
  void             (*on_epoch) (const FacetEpochReport   *report,   gpointer user_data);
  gpointer           user_data;
} FacetTrainConfig;

typedef struct
{
  GArray   *epochs;            /* FacetEpochReport, from epoch 0 (the base model) */
  int      *train_subjects;    /* subject indices used for training */
  int       n_train_subjects;
  int      *val_subjects;
  int       n_val_subjects;
  guint     n_train, n_val;    /* samples */
  double   *thresholds;        /* per AU of the model: in heads mode chosen on the training
                                * subjects, out of fold; else tuned on the held-out ones */
  gboolean  thresholds_out_of_fold;
  /* Heads mode (else NAN / NULL): on the held-out frames, mean and per-AU F1
   * of the saved model at its thresholds and of the base at its own; on the
   * training subjects, the out-of-fold estimate of the new head at its
   * thresholds and the base's F1 at its own (what decides @kept_base). */
  double    f1_at_thresholds, base_f1_at_thresholds;
  double   *f1_at_thresholds_au, *base_f1_at_thresholds_au;
  double    oof_f1, base_train_f1;
  gboolean  kept_base;         /* heads mode: the estimate showed no gain; the base head stays */
  int       first_epoch;       /* 1 unless resumed */
  FacetPrecision precision;    /* the products' precision the run had: fp32 or bf16 */
  /* NULL from facet_train_run(); a caller may set it (g_new, arrays owned,
   * freed with the result) to the report of another model on the same
   * held-out frames (facet_train_evaluate()) that the stored base_* metrics
   * should compare with, @reference_id its row: the app fine-tunes from a
   * model adapted to the videos, but compares with the coder's base model. */
  FacetEpochReport *reference;
  gint64            reference_id;
} FacetTrainResult;

/* Heads mode's defaults (see facet_train_config_set_mode): the learning
 * rate for a head that was trained already, and for a new one. */
#define FACET_TRAIN_HEADS_LR     3e-4
#define FACET_TRAIN_HEADS_LR_NEW 1e-2
#define FACET_TRAIN_HEADS_EPOCHS 30
/* How much the out-of-fold estimate on the training subjects must exceed the
 * base model's F1 there before heads mode replaces a trained head. */
#define FACET_TRAIN_HEADS_MIN_GAIN 0.05
/* At most this many folds choose heads mode's thresholds (one subject a
 * fold where there are fewer training subjects). */
#define FACET_TRAIN_HEADS_FOLDS 5

void              facet_train_config_init (FacetTrainConfig       *config);
void              facet_train_config_set_mode (FacetTrainConfig   *config,
                                           FacetTrainMode          mode,
                                           int                     last_k);
void              facet_train_config_resolve (FacetTrainConfig    *config,
                                           FacetModel             *base);
/* (transfer none): a static string, or NULL. */
const char       *facet_train_precision_notice (FacetPrecision  asked);
gboolean          facet_train_mode_parse  (const char             *text,
                                           FacetTrainMode         *mode,
                                           int                    *last_k,
                                           GError                **error);
gboolean          facet_train_check_settings (FacetModel          *base,
                                           const FacetTrainConfig *config,
                                           GError                **error);
gboolean          facet_train_check       (FacetModel             *base,
                                           const FacetTrainData   *data,
                                           const FacetTrainConfig *config,
                                           GError                **error);
FacetModel       *facet_train_run         (FacetModel             *base,
                                           const FacetTrainData   *data,
                                           const FacetTrainConfig *config,
                                           FacetTrainResult      **result,
                                           GError                **error);
void              facet_train_result_free (FacetTrainResult       *result);
gboolean          facet_train_evaluate    (FacetModel             *model,
                                           const FacetTrainData   *data,
                                           const int              *val_subjects,
                                           int                     n_val_subjects,
                                           const FacetTrainConfig *config,
                                           const int              *au_ids,
                                           int                     n_aus,
                                           FacetEpochReport       *report,
                                           GError                **error);
void              facet_epoch_report_clear (FacetEpochReport      *report);
/* (transfer full): a new JSON string (g_free()). */
char             *facet_train_result_metrics_json (const FacetTrainResult *result,
                                                   const FacetModelConfig *model);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetTrainResult, facet_train_result_free)

G_END_DECLS
