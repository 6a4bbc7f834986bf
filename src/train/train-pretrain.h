/* train-pretrain.h — masked-autoencoder pre-training on a project's faces
 *
 * FMAE's first stage (REFERENCE.md, "MAE pre-training") on unlabelled face
 * crops: every frame of the project's videos where a face is found, labelled
 * or not. The release's recipe: AdamW with betas (0.9, 0.95) and weight
 * decay 0.05, peak lr 1.5e-4 x batch / 256, linear warm-up then a cosine per
 * step, random resized crop (area 0.2-1) and flip. Every draw (order,
 * augmentation, masking noise) is a function of the seed, the epoch and the
 * step, so a run resumed from the checkpoint of epoch e continues exactly as
 * if it had not stopped.
 *
 * Threads: facet_pretrain_collect() and facet_pretrain_run() block in the
 * calling thread (run with a CPU backend of its own) and call their
 * callbacks from it; @store is thread-safe and stays usable meanwhile.
 * Ownership: arguments are borrowed for the call (@crops and their images
 * too); returned arrays and models are new (transfer full), as each
 * function says.
 */
#pragma once

#include "face/facet-face.h"
#include "store/facet-store.h"
#include "train-loop.h"

G_BEGIN_DECLS

typedef struct
{
  int           epoch;        /* 1-based */
  guint         step, n_steps;
  double        loss;         /* running mean of the epoch so far */
  double        images_per_s;
} FacetPretrainProgress;

typedef struct
{
  int    epoch;
  double loss;          /* mean reconstruction loss of the epoch's steps */
  double lr;            /* at the epoch's end */
  double images_per_s;
  double seconds;
} FacetPretrainEpoch;

typedef struct
{
  int           epochs;
  guint         batch;
  double        mask_ratio;
  double        blr;           /* base lr; the peak is blr x batch / 256 */
  double        weight_decay;
  double        warmup_epochs; /* < 0: min(40, epochs / 10) as a share of the run */
  double        min_lr;
  gboolean      augment;       /* random resized crop + flip */
  gboolean      norm_pix;
  guint64       seed;
  const char   *checkpoint;    /* written after every epoch (NULL: none) */
  gboolean      resume;        /* continue from @checkpoint */
  GCancellable *cancellable;
  void        (*on_step)  (const FacetPretrainProgress *progress, gpointer user_data);
  void        (*on_epoch) (const FacetPretrainEpoch    *epoch,    gpointer user_data);
  gpointer      user_data;
} FacetPretrainConfig;

void        facet_pretrain_config_init  (FacetPretrainConfig       *config);

/* The face crops of every frame of the project's videos (every @stride-th)
 * where a face is found, at @model's input size, in each video's crop
 * convention. Frames the analysis found no face in are skipped without
 * running the detector again; *skipped counts frames left out. Returns
 * (transfer full) an array of FacetImage that frees its images. */
GPtrArray  *facet_pretrain_collect      (FacetStore                *store,
                                         const FacetModelConfig    *model,
                                         guint                      stride,
                                         GCancellable              *cancellable,
                                         FacetProgressFunc          progress,
                                         gpointer                   progress_data,
                                         guint                     *skipped,
                                         GError                   **error);

/* The shape of a fresh MAE decoder: 0 in a member means the release's
 * (512 wide, 8 blocks); heads 0 means 16 at width 512, else width / 32
 * (at least 1), as the loader assumes for a file that does not say. */
typedef struct
{
  int dim;
  int depth;
  int heads;
} FacetPretrainDecoder;

/* A model to pre-train: @base with its decoder when it has one (an MAE
 * checkpoint or a Facet pre-trained model; @decoder must then be NULL or
 * all zero, else FACET_TRAIN_ERROR_SETTINGS), else its encoder with a fresh
 * decoder of @decoder's shape (NULL: the release's, 512 wide, 8 blocks,
 * 16 heads) — or, @base NULL, a fresh ViT of @size ("tiny", "small",
 * "base"). Returns (transfer full) a new model (facet_model_unref()). */
FacetModel *facet_pretrain_model_new    (const char                 *base_path,
                                         const char                 *size,
                                         int                         heads,
                                         const FacetPretrainDecoder *decoder,
                                         guint64                     seed,
                                         GError                    **error);

/* The base model of fine-tuning: @path as it is when it has an AU head;
 * a pre-trained encoder (a Facet pre-trained model, a release MAE .pth)
 * gets global pooling and a fresh head for the AUs the project labels.
 * Returns (transfer full) a new model (facet_model_unref()). */
FacetModel *facet_train_load_base       (FacetStore                *store,
                                         const char                *path,
                                         guint64                    seed,
                                         GError                   **error);

/* Pre-trains @model (with a decoder) on @crops in place. Returns the epoch
 * reports (FacetPretrainEpoch, all epochs including resumed ones), NULL on
 * error or cancellation (G_IO_ERROR_CANCELLED; the last finished epoch is
 * in the checkpoint). Returns (transfer full) a new array (g_array_unref()).
 * @model is changed (made writable, then trained): no other thread may use
 * it meanwhile. */
GArray     *facet_pretrain_run          (FacetModel                *model,
                                         FacetImage * const        *crops,
                                         guint                      n,
                                         const FacetPretrainConfig *config,
                                         GError                   **error);

/* The peak learning rate and the warm-up of @config for a run. */
double      facet_pretrain_peak_lr      (const FacetPretrainConfig *config);

/* Original, masked and reconstructed image side by side (RGB, 3 x size
 * wide) for each crop, with masking drawn from @seed. Returns (transfer
 * full) an array of FacetImage that frees its images. */
GPtrArray  *facet_pretrain_show         (FacetModel                *model,
                                         FacetImage * const        *crops,
                                         guint                      n,
                                         double                     mask_ratio,
                                         guint64                    seed,
                                         GError                   **error);

/* What describes a pre-trained model's row besides the run's settings. */
typedef struct
{
  const char *name;      /* NULL: "pretrain-YYYYmmdd-HHMMSS" */
  gint64      base_id;   /* the parent row, 0: none (a fresh model or a file) */
  const char *base_desc; /* the start as written in the settings: a file or "new SIZE" */
  guint       stride;
  guint       n_frames;  /* the faces it was pre-trained on */
  guint       skipped;   /* frames left out (no face, damaged) */
} FacetPretrainSaveOptions;

/* Names @model, saves it as models/NAME.safetensors next to the project
 * (the settings in its metadata; the file appears whole or not at all)
 * and adds its row, kind "pre-trained", with the epochs' losses. Returns
 * the new model's id (0 on error); @out_path (nullable) gets the file. */
gint64      facet_pretrain_save_model   (FacetStore                     *store,
                                         FacetModel                     *model,
                                         const FacetPretrainConfig      *config,
                                         GArray                         *epochs,
                                         const FacetPretrainSaveOptions *options,
                                         char                          **out_path,
                                         GError                        **error);

G_END_DECLS
