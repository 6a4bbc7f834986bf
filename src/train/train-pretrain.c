/* train-pretrain.c — masked-autoencoder pre-training on a project's faces */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "core/core-rng.h"
#include "engine/engine-checkpoint.h"
#include "media/facet-media.h"
#include "train-augment.h"
#include "train-data.h"
#include "train-optim.h"
#include "train-pretrain.h"

#define CHECKPOINT_FORMAT "facet-pretrain-checkpoint/1"

/* The release's decoder for every encoder size. */
#define DECODER_DIM   512
#define DECODER_DEPTH 8
#define DECODER_HEADS 16

void
facet_pretrain_config_init (FacetPretrainConfig *c)
{
  memset (c, 0, sizeof *c);
  c->epochs = 10;
  c->batch = 64;
  c->mask_ratio = 0.75;
  c->blr = 1.5e-4;
  c->weight_decay = 0.05;
  c->warmup_epochs = -1.0;
  c->min_lr = 0.0;
  c->augment = TRUE;
  c->norm_pix = TRUE;
}

double
facet_pretrain_peak_lr (const FacetPretrainConfig *c)
{
  return c->blr * c->batch / 256.0;
}

/* Data ------------------------------------------------------------------------ */

GPtrArray *
facet_pretrain_collect (FacetStore             *store,
                        const FacetModelConfig *model,
                        guint                   stride,
                        GCancellable           *cancellable,
                        FacetProgressFunc       progress,
                        gpointer                progress_data,
                        guint                  *skipped,
                        GError                **error)
{
  g_autoptr (GPtrArray) crops = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  g_autoptr (GPtrArray) videos = NULL;
  g_autoptr (FacetFaceDetector) detector = NULL;
  gint64 total = 0, done = 0;

  g_return_val_if_fail (store != NULL && model != NULL, NULL);

  *skipped = 0;
  stride = MAX (stride, 1);
  videos = facet_store_list_videos (store, error);
  if (videos == NULL)
    return NULL;
  for (guint v = 0; v < videos->len; v++)
    total += ((FacetStoreVideo *) g_ptr_array_index (videos, v))->n_frames / stride;

  for (guint v = 0; v < videos->len; v++)
    {
      FacetStoreVideo *video = g_ptr_array_index (videos, v);
      g_autoptr (FacetMediaSource) source = NULL;
      g_autoptr (FacetMediaReader) reader = NULL;
      g_autofree char *path = facet_store_resolve_video (store, video->id, error);

      if (path == NULL)
        return NULL;
      source = facet_media_source_open (path, video->fps, error);
      if (source == NULL)
        return NULL;
      reader = facet_media_reader_new (source, 0, stride, error);
      if (reader == NULL)
        return NULL;
      for (;;)
        {
          g_autoptr (GError) frame_error = NULL;
          g_autoptr (FacetImage) image = NULL;
          FacetFrameResult stored;
          gboolean found = FALSE;
          FacetImage *crop;
          gint64 at = -1;

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return NULL;
          image = facet_media_reader_next (reader, &at, &frame_error);
          if (image == NULL && frame_error == NULL)
            break;
          done++;
          if (progress != NULL && done % 32 == 0)
            progress ((double) done / MAX (total, 1), "Reading faces", progress_data);
          if (image == NULL)
            {
              if (!g_error_matches (frame_error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME))
                {
                  g_propagate_error (error, g_steal_pointer (&frame_error));
                  return NULL;
                }
              (*skipped)++; /* a damaged frame */
              continue;
            }
          /* Where analysis found no face, do not look again. */
          if (video->crop != FACET_CROP_NONE
              && !facet_store_get_face (store, video->id, at, &stored, &found, error))
            return NULL;
          if (found && stored.status != FACET_STORE_FACE_FOUND
              && stored.status != FACET_STORE_FACE_WHOLE)
            {
              (*skipped)++;
              continue;
            }
          crop = facet_train_crop_frame (store, video->id, at, video->crop, image, model, &detector,
                                         error);
          if (crop == NULL)
            return NULL;
          if (crop->width == 1)
            {
              facet_image_unref (crop);
              (*skipped)++;
              continue;
            }
          g_ptr_array_add (crops, crop);
        }
    }
  return g_steal_pointer (&crops);
}

/* The model -------------------------------------------------------------------- */

FacetModel *
facet_pretrain_model_new (const char                 *base_path,
                          const char                 *size,
                          int                         heads,
                          const FacetPretrainDecoder *decoder,
                          guint64                     seed,
                          GError                    **error)
{
  gboolean custom = decoder != NULL && (decoder->dim || decoder->depth || decoder->heads);
  g_autoptr (FacetModel) base = NULL;
  g_autoptr (FacetModelConfig) c = NULL;
  FacetModel *fresh;

  if (base_path != NULL)
    {
      FacetModelLoadOptions lo = { 0 };
      lo.keep_decoder = TRUE;
      lo.heads = heads;
      base = facet_model_load (base_path, &lo, error);
      if (base == NULL)
        return NULL;
      if (facet_model_get_config (base)->decoder_dim > 0)
        {
          if (custom)
            {
              g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS,
                           "%s already has an MAE decoder (width %d, depth %d): its shape cannot "
                           "be changed (leave out the decoder settings)", base_path,
                           facet_model_get_config (base)->decoder_dim,
                           facet_model_get_config (base)->decoder_depth);
              return NULL;
            }
          return facet_model_copy (base);
        }
      c = facet_model_config_copy (facet_model_get_config (base));
    }
  else
    {
      c = facet_model_config_new ();
      facet_model_config_set_preset (c, size ? size : "base");
      c->crop = FACET_CROP_ALIGNED;
      if (heads > 0)
        c->heads = heads;
    }
  /* An encoder alone: a fresh decoder (the release's unless told) and no heads. */
  c->readout = FACET_READOUT_CLS_TOKEN;
  c->decoder_dim = custom && decoder->dim > 0 ? decoder->dim : DECODER_DIM;
  c->decoder_depth = custom && decoder->depth > 0 ? decoder->depth : DECODER_DEPTH;
  if (custom && decoder->heads > 0)
    c->decoder_heads = decoder->heads;
  else
    c->decoder_heads = c->decoder_dim == DECODER_DIM ? DECODER_HEADS : MAX (1, c->decoder_dim / 32);
  if (c->decoder_dim % c->decoder_heads != 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS,
                   "a decoder %d wide cannot have %d attention heads (the width must be a "
                   "multiple of the head count)", c->decoder_dim, c->decoder_heads);
      return NULL;
    }
  facet_model_config_set_aus (c, NULL, 0);
  c->n_subjects = 0;
  fresh = facet_model_new_random (c, seed, error);
  if (fresh == NULL || base == NULL)
    return fresh;
  {
    GPtrArray *tensors = facet_model_get_tensors (fresh);
    for (guint i = 0; i < tensors->len; i++)
      {
        FacetTensor *t = g_ptr_array_index (tensors, i);
        const FacetTensor *old = facet_model_get_tensor (base, t->name);
        if (old != NULL && facet_tensor_nbytes (old) == facet_tensor_nbytes (t))
          memcpy ((gpointer) t->data, old->data, facet_tensor_nbytes (t));
      }
  }
  return fresh;
}

FacetModel *
facet_train_load_base (FacetStore *store,
                       const char *path,
                       guint64     seed,
                       GError    **error)
{
  g_autoptr (FacetModel) model = facet_model_load (path, NULL, error);
  g_autoptr (FacetTrainDataset) labels = NULL;
  FacetTrainDataOptions dopt = { 0 };
  FacetModelLoadOptions lo = { 0 };
  const FacetTrainData *d;

  if (model == NULL || facet_model_get_config (model)->n_aus > 0)
    return g_steal_pointer (&model);
  /* A pre-trained encoder: global pooling with a fresh norm and a fresh head
   * for the AUs the project's coders label, as FMAE fine-tunes. */
  dopt.labels_only = TRUE;
  labels = facet_train_dataset_from_store (store, facet_model_get_config (model), &dopt, error);
  if (labels == NULL)
    return NULL;
  d = facet_train_dataset_get_data (labels);
  if (d->n_aus == 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_DATA,
                   "%s is a pre-trained encoder and the project has no labels to give it an AU "
                   "head", path);
      return NULL;
    }
  lo.au_ids = d->au_ids;
  lo.n_aus = d->n_aus;
  lo.readout = "global-pool";
  lo.create_head = TRUE;
  lo.seed = seed;
  lo.heads = facet_model_get_config (model)->heads;
  return facet_model_load (path, &lo, error);
}

/* The loop ---------------------------------------------------------------------- */

static gboolean
trainable (const char *name,
           gpointer    data)
{
  /* The release keeps both position tables fixed. */
  return !g_str_equal (name, "pos_embed") && !g_str_equal (name, "decoder_pos_embed");
}

static guint64
mix (guint64 seed,
     guint64 a,
     guint64 b)
{
  FacetRng rng;
  facet_rng_init (&rng, seed ^ (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full));
  return facet_rng_next (&rng);
}

static char *
fingerprint (const FacetPretrainConfig *cfg,
             FacetImage * const        *crops,
             guint                      n,
             const FacetModelConfig    *mc)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *settings = g_strdup_printf (
    "%u/%.17g/%.17g/%.17g/%.17g/%.17g/%d/%d/%" G_GUINT64_FORMAT "/%d/%d/%d/%d/%d", cfg->batch,
    cfg->mask_ratio, cfg->blr, cfg->weight_decay, cfg->warmup_epochs, cfg->min_lr, cfg->augment,
    cfg->norm_pix, cfg->seed, mc->dim, mc->depth, mc->decoder_dim, mc->decoder_depth, mc->image_size);

  g_checksum_update (sum, (const guchar *) settings, -1);
  g_checksum_update (sum, (const guchar *) &n, sizeof n);
  for (guint i = 0; i < n; i++)
    for (int y = 0; y < crops[i]->height; y++)
      g_checksum_update (sum, crops[i]->data + (gsize) y * crops[i]->stride,
                         (gssize) crops[i]->width * 3);
  return g_strdup (g_checksum_get_string (sum));
}

static char *
epochs_to_json (GArray *epochs)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < epochs->len; i++)
    {
      FacetPretrainEpoch *e = &g_array_index (epochs, FacetPretrainEpoch, i);
      g_string_append_printf (s, "%s[%d,%.17g,%.17g,%.17g,%.17g]", i ? "," : "", e->epoch, e->loss,
                              e->lr, e->images_per_s, e->seconds);
    }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
epochs_from_json (const char *text,
                  GArray     *epochs)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *a;

  if (text == NULL || !json_parser_load_from_data (parser, text, -1, NULL)
      || !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    return FALSE;
  a = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *n = json_array_get_element (a, i);
      JsonArray *row;
      FacetPretrainEpoch e = { 0 };
      if (!JSON_NODE_HOLDS_ARRAY (n) || json_array_get_length (json_node_get_array (n)) != 5)
        return FALSE;
      row = json_node_get_array (n);
      e.epoch = (int) json_array_get_int_element (row, 0);
      e.loss = json_array_get_double_element (row, 1);
      e.lr = json_array_get_double_element (row, 2);
      e.images_per_s = json_array_get_double_element (row, 3);
      e.seconds = json_array_get_double_element (row, 4);
      g_array_append_val (epochs, e);
    }
  return TRUE;
}

static gboolean
write_checkpoint (const FacetPretrainConfig *cfg,
                  FacetModel                *model,
                  FacetOptimizer            *opt,
                  GArray                    *epochs,
                  const char                *print,
                  GError                   **error)
{
  g_autoptr (GPtrArray) tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_tensor_free);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GPtrArray *mt = facet_model_get_tensors (model);

  for (guint i = 0; i < mt->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (mt, i);
      g_autofree char *name = g_strconcat ("model.", t->name, NULL);
      float *dst;
      g_ptr_array_add (tensors, facet_tensor_new_f32 (name, t->ndim, t->shape, &dst));
      memcpy (dst, t->data, facet_tensor_nbytes (t));
    }
  facet_optimizer_export (opt, tensors, meta);
  g_hash_table_insert (meta, g_strdup ("format"), g_strdup (CHECKPOINT_FORMAT));
  g_hash_table_insert (meta, g_strdup ("epoch"), g_strdup_printf ("%u", epochs->len));
  g_hash_table_insert (meta, g_strdup ("fingerprint"), g_strdup (print));
  g_hash_table_insert (meta, g_strdup ("facet.config"),
                       facet_model_config_to_string (facet_model_get_config (model)));
  g_hash_table_insert (meta, g_strdup ("epochs"), epochs_to_json (epochs));
  return facet_safetensors_write (cfg->checkpoint, tensors, meta, error);
}

/* Weights, optimiser state and epoch reports; FALSE with @error when the
 * checkpoint does not belong to this run. */
static gboolean
read_checkpoint (const FacetPretrainConfig *cfg,
                 FacetModel                *model,
                 FacetOptimizer            *opt,
                 GArray                    *epochs,
                 const char                *print,
                 GError                   **error)
{
  g_autoptr (FacetCheckpoint) ck = facet_checkpoint_read (cfg->checkpoint, error);
  g_autoptr (GPtrArray) adam = g_ptr_array_new ();
  const char *fmt, *fp;

  if (ck == NULL)
    return FALSE;
  fmt = ck->metadata ? g_hash_table_lookup (ck->metadata, "format") : NULL;
  fp = ck->metadata ? g_hash_table_lookup (ck->metadata, "fingerprint") : NULL;
  if (g_strcmp0 (fmt, CHECKPOINT_FORMAT) != 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                   "%s is not a Facet pre-training checkpoint", cfg->checkpoint);
      return FALSE;
    }
  if (g_strcmp0 (fp, print) != 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                   "%s was made with other faces or settings; resume with the same project, "
                   "model and options, or start afresh without --resume", cfg->checkpoint);
      return FALSE;
    }
  for (guint i = 0; i < ck->tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (ck->tensors, i);
      if (g_str_has_prefix (t->name, "model."))
        {
          const FacetTensor *mt = facet_model_get_tensor (model, t->name + 6);
          if (mt == NULL || t->dtype != FACET_DTYPE_F32
              || facet_tensor_nbytes (t) != facet_tensor_nbytes (mt))
            {
              g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                           "%s: tensor %s does not fit the model", cfg->checkpoint, t->name);
              return FALSE;
            }
          memcpy ((gpointer) mt->data, t->data, facet_tensor_nbytes (t));
        }
      else
        g_ptr_array_add (adam, t);
    }
  if (!facet_optimizer_import (opt, adam, ck->metadata, error))
    return FALSE;
  if (!epochs_from_json (ck->metadata ? g_hash_table_lookup (ck->metadata, "epochs") : NULL, epochs))
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_CHECKPOINT,
                   "%s: damaged epoch reports", cfg->checkpoint);
      return FALSE;
    }
  return TRUE;
}

/* What facet_pretrain_run() refuses before any work (@np: the model's
 * patches, @n: the faces). */
static gboolean
check_settings (const FacetPretrainConfig *cfg,
                int                        np,
                guint                      n,
                GError                   **error)
{
  if (cfg->epochs < 1 || cfg->batch < 1 || !(cfg->blr > 0.0) || cfg->weight_decay < 0.0
      || !(cfg->mask_ratio > 0.0 && cfg->mask_ratio < 1.0)
      || facet_mae_keep_count (np, (float) cfg->mask_ratio) < 1
      || facet_mae_keep_count (np, (float) cfg->mask_ratio) >= np)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS,
                   "pre-training needs epochs >= 1, batch >= 1, a positive learning rate and a "
                   "mask ratio that keeps and removes at least one patch");
      return FALSE;
    }
  if (n == 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_DATA,
                   "no faces to pre-train on (run analysis, or check that faces are found)");
      return FALSE;
    }
  if (cfg->resume && cfg->checkpoint == NULL)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS,
                   "resuming needs a checkpoint file");
      return FALSE;
    }
  return TRUE;
}

/* One pre-training run: its settings, the faces (borrowed), the backend,
 * gradients and optimiser, and the batch buffers reused by every step. */
typedef struct
{
  FacetPretrainConfig     cfg;
  FacetImage * const     *crops;
  guint                   n;
  guint                   batch;
  guint                   steps;
  int                     np;
  gsize                   per_image;
  const FacetModelConfig *mc;
  FacetBackend           *cpu;
  FacetGrads             *grads;
  FacetOptimizer         *opt;
  FacetOptimConfig        oc;
  FacetAugmentConfig      aug;
  float                  *images;
  float                  *noise;
  guint                  *order;
} Pretrain;

static void
pretrain_clear (Pretrain *p)
{
  g_clear_pointer (&p->opt, facet_optimizer_free);
  g_clear_pointer (&p->grads, facet_grads_free);
  g_clear_pointer (&p->cpu, facet_backend_free);
  g_clear_pointer (&p->images, g_free);
  g_clear_pointer (&p->noise, g_free);
  g_clear_pointer (&p->order, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Pretrain, pretrain_clear)

/* The MAE recipe's AdamW (betas 0.9, 0.95; no layer decay) and augmentation
 * (random resized crops from 0.2 of the face, no colour changes, no erasing). */
static void
pretrain_recipe (Pretrain *p)
{
  facet_optim_config_init (&p->oc);
  p->oc.base_lr = facet_pretrain_peak_lr (&p->cfg);
  p->oc.min_lr = p->cfg.min_lr;
  p->oc.warmup_epochs = p->cfg.warmup_epochs;
  p->oc.epochs = p->cfg.epochs;
  p->oc.weight_decay = p->cfg.weight_decay;
  p->oc.layer_decay = 1.0;
  p->oc.beta1 = 0.9;
  p->oc.beta2 = 0.95;

  facet_augment_config_init (&p->aug);
  if (p->cfg.augment)
    {
      p->aug.crop_scale_min = 0.2;
      p->aug.brightness = p->aug.contrast = p->aug.saturation = 0.0;
      p->aug.erase_p = 0.0;
    }
  else
    facet_augment_config_none (&p->aug);
}

/* Step @s of @epoch: the batch's augmented faces and masking noise, one MAE
 * step and the optimiser's update at the schedule's rate (*@lr). */
static gboolean
pretrain_step (Pretrain *p,
               int       epoch,
               guint     s,
               double   *loss,
               double   *lr,
               GError  **error)
{
  FacetMaeStep step = { 0 };
  FacetMaeStepResult res = { 0 };
  guint64 seed = p->cfg.seed;
  FacetRng nr;

  for (guint b = 0; b < p->batch; b++)
    {
      guint idx = p->order[s * p->batch + b];
      facet_augment_image (p->crops[idx], p->mc, &p->aug,
                           mix (seed, (guint64) epoch, 1 + s * p->batch + b),
                           p->images + b * p->per_image);
    }
  facet_rng_init (&nr, mix (seed ^ 0x6d61736bull, (guint64) epoch, s));
  for (gsize i = 0; i < (gsize) p->batch * p->np; i++)
    p->noise[i] = (float) facet_rng_uniform (&nr);

  step.batch = p->batch;
  step.images = p->images;
  step.noise = p->noise;
  step.mask_ratio = (float) p->cfg.mask_ratio;
  step.norm_pix = p->cfg.norm_pix;
  facet_grads_zero (p->grads);
  if (!facet_backend_mae_step (p->cpu, &step, p->grads, &res, error))
    {
      g_prefix_error (error, "epoch %d, step %u: ", epoch, s + 1);
      return FALSE;
    }
  *lr = facet_optim_lr_at (&p->oc, (epoch - 1) + (double) s / p->steps);
  facet_optimizer_step (p->opt, *lr);
  *loss = res.loss;
  return TRUE;
}

/* One epoch over the faces in an order drawn from the seed and @epoch. */
static gboolean
pretrain_epoch (Pretrain           *p,
                int                 epoch,
                FacetPretrainEpoch *report,
                GError            **error)
{
  gint64 start = g_get_monotonic_time ();
  double sum = 0.0, lr = 0.0;
  FacetRng rng;

  facet_rng_init (&rng, mix (p->cfg.seed, (guint64) epoch, 0));
  for (guint i = 0; i < p->n; i++)
    p->order[i] = i;
  facet_rng_shuffle (&rng, p->order, p->n);

  for (guint s = 0; s < p->steps; s++)
    {
      double loss;

      if (g_cancellable_set_error_if_cancelled (p->cfg.cancellable, error))
        return FALSE;
      if (!pretrain_step (p, epoch, s, &loss, &lr, error))
        return FALSE;
      sum += loss;
      if (p->cfg.on_step != NULL)
        {
          FacetPretrainProgress progress = { epoch, s + 1, p->steps, sum / (s + 1), 0.0 };
          double secs = (g_get_monotonic_time () - start) / 1e6;
          progress.images_per_s = secs > 0 ? (double) (s + 1) * p->batch / secs : 0.0;
          p->cfg.on_step (&progress, p->cfg.user_data);
        }
    }
  report->epoch = epoch;
  report->loss = sum / p->steps;
  report->lr = lr;
  report->seconds = (g_get_monotonic_time () - start) / 1e6;
  report->images_per_s = report->seconds > 0 ? (double) p->steps * p->batch / report->seconds
                                              : 0.0;
  return TRUE;
}

GArray *
facet_pretrain_run (FacetModel                *model,
                    FacetImage * const        *crops,
                    guint                      n,
                    const FacetPretrainConfig *cfg_in,
                    GError                   **error)
{
  g_autoptr (GArray) epochs = g_array_new (FALSE, TRUE, sizeof (FacetPretrainEpoch));
  g_autofree char *print = NULL;
  g_auto (Pretrain) p = { 0 };

  g_return_val_if_fail (model != NULL && cfg_in != NULL, NULL);

  p.cfg = *cfg_in;
  p.crops = crops;
  p.n = n;
  p.mc = facet_model_get_config (model);
  if (p.mc->decoder_dim <= 0)
    {
      g_set_error (error, FACET_TRAIN_ERROR, FACET_TRAIN_ERROR_SETTINGS,
                   "the model has no MAE decoder to pre-train with");
      return NULL;
    }
  p.np = facet_model_config_grid (p.mc) * facet_model_config_grid (p.mc);
  if (!check_settings (&p.cfg, p.np, n, error))
    return NULL;
  /* As the release's loader (drop_last), but a project smaller than one batch still trains. */
  p.batch = MIN (p.cfg.batch, n);
  p.steps = n / p.batch;
  if (p.cfg.warmup_epochs < 0)
    p.cfg.warmup_epochs = MIN (40.0, p.cfg.epochs / 10.0);
  if (!facet_model_make_writable (model, error))
    return NULL;

  p.cpu = facet_cpu_backend_new ();
  if (!facet_backend_load_model (p.cpu, model, error))
    return NULL;
  p.grads = facet_grads_new (model, trainable, NULL);
  pretrain_recipe (&p);
  p.opt = facet_optimizer_new (model, p.grads, &p.oc);

  print = fingerprint (&p.cfg, crops, n, p.mc);
  if (p.cfg.resume && !read_checkpoint (&p.cfg, model, p.opt, epochs, print, error))
    return NULL;

  p.per_image = 3 * (gsize) p.mc->image_size * p.mc->image_size;
  p.images = g_new (float, p.batch * p.per_image);
  p.noise = g_new (float, (gsize) p.batch * p.np);
  p.order = g_new (guint, n);

  for (int epoch = (int) epochs->len + 1; epoch <= p.cfg.epochs; epoch++)
    {
      FacetPretrainEpoch report = { 0 };

      if (!pretrain_epoch (&p, epoch, &report, error))
        return NULL;
      g_array_append_val (epochs, report);
      if (p.cfg.checkpoint != NULL
          && !write_checkpoint (&p.cfg, model, p.opt, epochs, print, error))
        return NULL;
      if (p.cfg.on_epoch != NULL)
        p.cfg.on_epoch (&report, p.cfg.user_data);
    }
  return g_steal_pointer (&epochs);
}

/* Seeing what it learned ------------------------------------------------------- */

static gboolean
no_grads (const char *name,
          gpointer    data)
{
  return FALSE;
}

static guint8
to_byte (float v,
         float mean,
         float std)
{
  float x = (v * std + mean) * 255.0f;
  return (guint8) CLAMP (lroundf (x), 0, 255);
}

GPtrArray *
facet_pretrain_show (FacetModel         *model,
                     FacetImage * const *crops,
                     guint               n,
                     double              mask_ratio,
                     guint64             seed,
                     GError            **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  g_autoptr (FacetBackend) cpu = facet_cpu_backend_new ();
  g_autoptr (FacetGrads) grads = NULL;
  const FacetModelConfig *mc = facet_model_get_config (model);
  int size = mc->image_size, p = mc->patch_size, grid = size / p, np = grid * grid;
  int k = 3 * p * p;
  gsize per_image = 3 * (gsize) size * size;
  g_autofree float *img = g_new (float, per_image), *noise = g_new (float, np);
  g_autofree float *pred = g_new (float, (gsize) np * k), *mask = g_new (float, np);
  FacetAugmentConfig none;

  if (!facet_backend_load_model (cpu, model, error))
    return NULL;
  grads = facet_grads_new (model, no_grads, NULL);
  facet_augment_config_none (&none);
  for (guint i = 0; i < n; i++)
    {
      FacetMaeStep step = { 1, img, noise, (float) mask_ratio, TRUE };
      FacetMaeStepResult res = { 0, pred, mask };
      FacetImage *panel = facet_image_new (3 * size, size);
      FacetRng rng;

      facet_augment_image (crops[i], mc, &none, 0, img);
      facet_rng_init (&rng, mix (seed, i, 7));
      for (int j = 0; j < np; j++)
        noise[j] = (float) facet_rng_uniform (&rng);
      if (!facet_backend_mae_step (cpu, &step, grads, &res, error))
        {
          facet_image_unref (panel);
          return NULL;
        }
      for (int gy = 0; gy < grid; gy++)
        for (int gx = 0; gx < grid; gx++)
          {
            int patch = gy * grid + gx;
            const float *pp = pred + (gsize) patch * k;
            double var = 0.0, all = 0.0;
            /* The prediction is of normalised pixels (norm_pix_loss): give it the
             * original patch's mean and spread back, as the release's demo does. */
            for (int y = 0; y < p; y++)
              for (int x = 0; x < p; x++)
                for (int ch = 0; ch < 3; ch++)
                  all += img[((gsize) ch * size + gy * p + y) * size + gx * p + x];
            all /= k;
            for (int y = 0; y < p; y++)
              for (int x = 0; x < p; x++)
                for (int ch = 0; ch < 3; ch++)
                  {
                    double v = img[((gsize) ch * size + gy * p + y) * size + gx * p + x] - all;
                    var += v * v;
                  }
            var /= k - 1;
            for (int y = 0; y < p; y++)
              for (int x = 0; x < p; x++)
                for (int ch = 0; ch < 3; ch++)
                  {
                    float v = img[((gsize) ch * size + gy * p + y) * size + gx * p + x];
                    float r = (float) (pp[(y * p + x) * 3 + ch] * sqrt (var + 1e-6) + all);
                    guint8 *row = panel->data + (gsize) (gy * p + y) * panel->stride;
                    int col = gx * p + x;
                    gboolean removed = mask[patch] > 0.5f;
                    row[3 * col + ch] = to_byte (v, mc->mean[ch], mc->std[ch]);
                    row[3 * (size + col) + ch] = removed ? 96 : to_byte (v, mc->mean[ch], mc->std[ch]);
                    row[3 * (2 * size + col) + ch] = to_byte (removed ? r : v, mc->mean[ch], mc->std[ch]);
                  }
          }
      g_ptr_array_add (out, panel);
    }
  return g_steal_pointer (&out);
}
