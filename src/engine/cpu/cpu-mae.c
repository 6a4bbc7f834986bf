/* cpu-mae.c — the CPU backend's masked-autoencoder pre-training step
 *
 * The FMAE release's MAE (REFERENCE.md, "MAE pre-training"): each image
 * keeps the patches whose noise is lowest; the encoder runs on those and the
 * class token only (a quarter of the tokens at the default ratio, which is
 * what makes pre-training cheap); the light decoder sees every position,
 * with a shared mask token where a patch was removed, and predicts the
 * pixels of each patch. The loss is the mean squared error on the removed
 * patches against per-patch normalised pixels.
 *
 * Encoder and decoder blocks are the same pre-norm block; one forward that
 * keeps activations and one backward serve both, with the block's own
 * shape and gradient names.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-kernels.h"
#include "cpu-private.h"
#include "engine/engine-error.h"

typedef CpuVitSaved Saved;

/* The shape of a stack of blocks: the encoder on the kept tokens, or the decoder. */
typedef struct
{
  const char         *prefix; /* "blocks" or "decoder_blocks": gradient names */
  const BlockWeights *weights;
  Saved              *saved;
  int                 depth, tokens, dim, heads, hidden;
} Stack;

struct _CpuMaeState
{
  FacetModel   *model;     /* the weights the decoder table points into (not a reference) */
  guint         cap_batch;
  int           keep;
  BlockWeights *dec_weights;
  Stack         enc, dec;
  int          *ids_shuffle, *ids_restore; /* [batch, patches] */
  float        *mask;                      /* [batch, patches] */
  float        *patches, *kept, *emb;      /* all patches, the kept ones, their embedding */
  float        *xe, *ze, *zmean, *zrstd, *y;
  float        *xd, *zd, *dmean, *drstd, *pred, *target, *dpred;
  float        *dzd, *dxd, *dy, *dze, *dxe;
  /* block scratch, sized for the larger of encoder and decoder */
  float        *dmid, *dh, *dhid, *act, *dqkv, *dattn, *dprobs;
};

static float *
falloc (gsize n)
{
  return g_aligned_alloc (MAX (n, 1), sizeof (float), 64);
}

static void
saved_free (Saved *s,
            int    n)
{
  for (int i = 0; i < n; i++)
    {
      float **f[] = { &s[i].x_in, &s[i].h1, &s[i].mean1, &s[i].rstd1, &s[i].qkv, &s[i].probs,
                      &s[i].attn, &s[i].x_mid, &s[i].h2, &s[i].mean2, &s[i].rstd2, &s[i].pre };
      for (guint j = 0; j < G_N_ELEMENTS (f); j++)
        g_aligned_free (*f[j]);
    }
  g_free (s);
}

static Saved *
saved_new (int   n,
           gsize m,
           gsize d,
           gsize hidden,
           gsize probs)
{
  Saved *s = g_new0 (Saved, MAX (n, 1));

  for (int i = 0; i < n; i++)
    {
      s[i].x_in = falloc (m * d);
      s[i].h1 = falloc (m * d);
      s[i].mean1 = falloc (m);
      s[i].rstd1 = falloc (m);
      s[i].qkv = falloc (m * 3 * d);
      s[i].probs = falloc (probs);
      s[i].attn = falloc (m * d);
      s[i].x_mid = falloc (m * d);
      s[i].h2 = falloc (m * d);
      s[i].mean2 = falloc (m);
      s[i].rstd2 = falloc (m);
      s[i].pre = falloc (m * hidden);
    }
  return s;
}

void
facet_cpu_mae_state_free (struct _CpuMaeState *st)
{
  if (st == NULL)
    return;
  saved_free (st->enc.saved, st->enc.depth);
  saved_free (st->dec.saved, st->dec.depth);
  g_free (st->dec_weights);
  g_free (st->ids_shuffle);
  g_free (st->ids_restore);
  {
    float **f[] = { &st->mask, &st->patches, &st->kept, &st->emb, &st->xe, &st->ze, &st->zmean,
                    &st->zrstd, &st->y, &st->xd, &st->zd, &st->dmean, &st->drstd, &st->pred,
                    &st->target, &st->dpred, &st->dzd, &st->dxd, &st->dy, &st->dze, &st->dxe,
                    &st->dmid, &st->dh, &st->dhid, &st->act, &st->dqkv, &st->dattn, &st->dprobs };
    for (guint j = 0; j < G_N_ELEMENTS (f); j++)
      g_aligned_free (*f[j]);
  }
  g_free (st);
}

/* The decoder's block weights, looked up once per model; NULL (and @error)
 * when a tensor is missing. */
static BlockWeights *
decoder_weights (FacetModel *model,
                 int         depth,
                 GError    **error)
{
  g_autofree BlockWeights *all = g_new0 (BlockWeights, MAX (depth, 1));

  for (int i = 0; i < depth; i++)
    {
      BlockWeights *bw = &all[i];
      const float **fields[] = { &bw->n1w, &bw->n1b, &bw->qkvw, &bw->qkvb, &bw->projw, &bw->projb,
                                 &bw->n2w, &bw->n2b, &bw->fc1w, &bw->fc1b, &bw->fc2w, &bw->fc2b };
      static const char *const suffix[] = { "norm1.weight", "norm1.bias", "attn.qkv.weight",
                                            "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                                            "norm2.weight", "norm2.bias", "mlp.fc1.weight",
                                            "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias" };
      for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
        {
          char name[80];
          g_snprintf (name, sizeof name, "decoder_blocks.%d.%s", i, suffix[f]);
          *fields[f] = facet_model_get_weights (model, name);
          if (*fields[f] == NULL)
            {
              g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                           "the model has no tensor %s", name);
              return NULL;
            }
        }
    }
  return g_steal_pointer (&all);
}

static struct _CpuMaeState *
mae_state_new (CpuBackend *self,
               guint       batch,
               int         keep,
               GError    **error)
{
  FacetModel *model = self->parent.model;
  const FacetModelConfig *c = facet_model_get_config (model);
  struct _CpuMaeState *st = g_new0 (struct _CpuMaeState, 1);
  gsize np = (gsize) facet_model_config_grid (c) * facet_model_config_grid (c);
  gsize k = 3 * (gsize) c->patch_size * c->patch_size, d = (gsize) c->dim;
  gsize dd = (gsize) c->decoder_dim, te = 1 + (gsize) keep, td = 1 + np;
  gsize me = batch * te, md = batch * td;
  gsize probs_e = batch * (gsize) c->heads * te * te;
  gsize probs_d = batch * (gsize) c->decoder_heads * td * td;
  gsize wide = MAX (me * d, md * dd), hid = MAX (me * (gsize) c->mlp_hidden, md * 4 * dd);

  st->dec_weights = decoder_weights (model, c->decoder_depth, error);
  if (st->dec_weights == NULL)
    {
      facet_cpu_mae_state_free (st);
      return NULL;
    }
  st->model = model;
  st->cap_batch = batch;
  st->keep = keep;
  st->enc = (Stack) { "blocks", self->blocks, NULL, c->depth, (int) te, c->dim, c->heads,
                      c->mlp_hidden };
  st->dec = (Stack) { "decoder_blocks", st->dec_weights, NULL, c->decoder_depth, (int) td,
                      c->decoder_dim, c->decoder_heads, 4 * c->decoder_dim };
  st->enc.saved = saved_new (c->depth, me, d, (gsize) c->mlp_hidden, probs_e);
  st->dec.saved = saved_new (c->decoder_depth, md, dd, 4 * dd, probs_d);

  st->ids_shuffle = g_new (int, batch * np);
  st->ids_restore = g_new (int, batch * np);
  st->mask = falloc (batch * np);
  st->patches = falloc (batch * np * k);
  st->kept = falloc (batch * (gsize) keep * k);
  st->emb = falloc (batch * (gsize) keep * d);
  st->xe = falloc (me * d);
  st->ze = falloc (me * d);
  st->zmean = falloc (me);
  st->zrstd = falloc (me);
  st->y = falloc (me * dd);
  st->xd = falloc (md * dd);
  st->zd = falloc (md * dd);
  st->dmean = falloc (md);
  st->drstd = falloc (md);
  st->pred = falloc (md * k);
  st->target = falloc (batch * np * k);
  st->dpred = falloc (md * k);
  st->dzd = falloc (md * dd);
  st->dxd = falloc (md * dd);
  st->dy = falloc (me * dd);
  st->dze = falloc (me * d);
  st->dxe = falloc (me * d);
  st->dmid = falloc (wide);
  st->dh = falloc (wide);
  st->dhid = falloc (hid);
  st->act = falloc (hid);
  st->dqkv = falloc (3 * wide);
  st->dattn = falloc (wide);
  st->dprobs = falloc (MAX (probs_e, probs_d));
  return st;
}

/* The stack's blocks on the CPU ops: their roles on its kept activations. */
static void
stack_bind (CpuVit *vit,
            int     l)
{
  const Stack *s = vit->data;

  vit->w = &s->weights[l];
  facet_cpu_vit_bind_saved (vit, &s->saved[l]);
}

static CpuVit
stack_vit (struct _CpuMaeState *st,
           const Stack         *s,
           guint                batch,
           float                eps,
           FacetGrads          *grads)
{
  CpuVit vit = {
    .batch = batch, .tokens = s->tokens, .dim = s->dim, .heads = s->heads, .hidden = s->hidden,
    .eps = eps, .dprobs = st->dprobs, .grads = grads, .prefix = s->prefix, .bind = stack_bind,
    .data = (gpointer) s,
  };

  vit.buf[FACET_VIT_ACT] = st->act;
  vit.buf[FACET_VIT_DMID] = st->dmid;
  vit.buf[FACET_VIT_DH] = st->dh;
  vit.buf[FACET_VIT_DHID] = st->dhid;
  vit.buf[FACET_VIT_DQKV] = st->dqkv;
  vit.buf[FACET_VIT_DATTN] = st->dattn;
  return vit;
}

/* x [batch * tokens, dim] through the stack (engine-vit.h's description),
 * keeping what the backward needs. */
static void
stack_forward (struct _CpuMaeState *st,
               const Stack         *s,
               float               *x,
               guint                batch,
               float                eps)
{
  CpuVit vit = stack_vit (st, s, batch, eps, NULL);

  vit.buf[FACET_VIT_X] = x;
  facet_vit_blocks_forward (&facet_cpu_vit_ops, &vit, 0, s->depth);
}

/* dx: the gradient of the stack's output on entry, of its input on return. */
static void
stack_backward (struct _CpuMaeState *st,
                const Stack         *s,
                float               *dx,
                guint                batch,
                FacetGrads          *grads)
{
  CpuVit vit = stack_vit (st, s, batch, 0.0f, grads);

  vit.buf[FACET_VIT_DX] = dx;
  facet_vit_blocks_backward (&facet_cpu_vit_ops, &vit, 0, s->depth);
}

typedef struct
{
  const float *noise;
  int          index;
} Ranked;

static int
ranked_cmp (const void *a,
            const void *b)
{
  const Ranked *x = a, *y = b;

  if (x->noise[x->index] != y->noise[y->index])
    return x->noise[x->index] < y->noise[y->index] ? -1 : 1;
  return x->index - y->index; /* ties: the earlier patch first (a stable sort) */
}

/* images [batch, 3, S, S] -> [batch * patches, p * p * 3] in the release's
 * patchify order: patch row, patch column, then channel last. */
static void
patchify_channel_last (const float *images,
                       float       *out,
                       int          batch,
                       int          image,
                       int          p)
{
  int grid = image / p, k = 3 * p * p;

  for (int b = 0; b < batch; b++)
    for (int gy = 0; gy < grid; gy++)
      for (int gx = 0; gx < grid; gx++)
        {
          float *dst = out + ((gsize) b * grid * grid + (gsize) gy * grid + gx) * k;
          for (int y = 0; y < p; y++)
            for (int x = 0; x < p; x++)
              for (int ch = 0; ch < 3; ch++)
                dst[(y * p + x) * 3 + ch] =
                  images[(((gsize) b * 3 + ch) * image + (gsize) gy * p + y) * image
                         + (gsize) gx * p + x];
        }
}

#define GRAD(name) facet_grads_get (grads, name)
#define W(name) facet_model_get_weights (model, name)

/* The decoder's tensors outside its blocks. */
typedef struct
{
  const float *mask_token, *dpos, *de_w, *de_b, *dn_w, *dn_b, *dp_w, *dp_b;
} Decoder;

/* The step's model, batch and ratio checked; the decoder's tensors looked up. */
static gboolean
check_step (FacetModel         *model,
            const FacetMaeStep *step,
            int                *keep,
            Decoder            *dec,
            GError            **error)
{
  const FacetModelConfig *c;
  int np;

  if (model == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "no model loaded");
      return FALSE;
    }
  c = facet_model_get_config (model);
  if (c->decoder_dim <= 0 || c->readout != FACET_READOUT_CLS_TOKEN)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "the model has no MAE decoder: pre-training needs one");
      return FALSE;
    }
  if (step->batch == 0 || step->images == NULL || step->noise == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "a pre-training step needs images and masking noise");
      return FALSE;
    }
  np = facet_model_config_grid (c) * facet_model_config_grid (c);
  *keep = facet_mae_keep_count (np, step->mask_ratio);
  if (!(step->mask_ratio > 0.0f && step->mask_ratio < 1.0f) || *keep < 1 || *keep >= np)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "mask ratio %g keeps %d of %d patches; it must keep at least one and remove "
                   "at least one", (double) step->mask_ratio, *keep, np);
      return FALSE;
    }
  *dec = (Decoder) { W ("mask_token"), W ("decoder_pos_embed"), W ("decoder_embed.weight"),
                     W ("decoder_embed.bias"), W ("decoder_norm.weight"), W ("decoder_norm.bias"),
                     W ("decoder_pred.weight"), W ("decoder_pred.bias") };
  if (!dec->mask_token || !dec->dpos || !dec->de_w || !dec->de_b || !dec->dn_w || !dec->dn_b
      || !dec->dp_w || !dec->dp_b)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                   "the model's MAE decoder is incomplete");
      return FALSE;
    }
  return TRUE;
}

/* Masking: ids_shuffle = argsort(noise), ids_restore = argsort(ids_shuffle). */
static void
mask_patches (struct _CpuMaeState *st,
              const float         *noise,
              guint                batch,
              int                  np)
{
  g_autofree Ranked *r = g_new (Ranked, np);

  for (guint b = 0; b < batch; b++)
    {
      int *shuffle = st->ids_shuffle + (gsize) b * np, *restore = st->ids_restore + (gsize) b * np;
      for (int i = 0; i < np; i++)
        r[i] = (Ranked) { noise + (gsize) b * np, i };
      qsort (r, (gsize) np, sizeof (Ranked), ranked_cmp);
      for (int j = 0; j < np; j++)
        {
          shuffle[j] = r[j].index;
          restore[r[j].index] = j;
        }
      for (int i = 0; i < np; i++)
        st->mask[(gsize) b * np + i] = restore[i] >= st->keep ? 1.0f : 0.0f;
    }
}

/* The encoder's input: only the kept patches are embedded. */
static void
embed_kept (CpuBackend             *self,
            struct _CpuMaeState    *st,
            const FacetModelConfig *c,
            const float            *images,
            guint                   batch)
{
  int np = facet_model_config_grid (c) * facet_model_config_grid (c), keep = st->keep;
  int k = 3 * c->patch_size * c->patch_size, d = c->dim, te = 1 + keep;

  facet_cpu_patchify (images, st->patches, (int) batch, c->image_size, c->patch_size);
  for (guint b = 0; b < batch; b++)
    for (int j = 0; j < keep; j++)
      memcpy (st->kept + ((gsize) b * keep + j) * k,
              st->patches + ((gsize) b * np + st->ids_shuffle[(gsize) b * np + j]) * k,
              sizeof (float) * (gsize) k);
  facet_cpu_linear (st->kept, self->pe_w, self->pe_b, st->emb, (int) batch * keep, d, k, FALSE);
  for (guint b = 0; b < batch; b++)
    {
      float *xb = st->xe + (gsize) b * te * d;
      facet_cpu_add (self->cls, self->pos, xb, (gsize) d);
      for (int j = 0; j < keep; j++)
        facet_cpu_add (st->emb + ((gsize) b * keep + j) * d,
                       self->pos + (gsize) (1 + st->ids_shuffle[(gsize) b * np + j]) * d,
                       xb + (gsize) (1 + j) * d, (gsize) d);
    }
}

/* The decoder's input: embedded encoder output, mask tokens where patches
 * were removed, original order. */
static void
decoder_input (struct _CpuMaeState    *st,
               const FacetModelConfig *c,
               const Decoder          *dec,
               guint                   batch)
{
  int np = facet_model_config_grid (c) * facet_model_config_grid (c);
  int dd = c->decoder_dim, te = 1 + st->keep, td = 1 + np;

  facet_cpu_linear (st->ze, dec->de_w, dec->de_b, st->y, (int) batch * te, dd, c->dim, FALSE);
  for (guint b = 0; b < batch; b++)
    {
      const float *yb = st->y + (gsize) b * te * dd;
      float *xb = st->xd + (gsize) b * td * dd;
      facet_cpu_add (yb, dec->dpos, xb, (gsize) dd);
      for (int i = 0; i < np; i++)
        {
          int r = st->ids_restore[(gsize) b * np + i];
          const float *src = r < st->keep ? yb + (gsize) (1 + r) * dd : dec->mask_token;
          facet_cpu_add (src, dec->dpos + (gsize) (1 + i) * dd, xb + (gsize) (1 + i) * dd,
                         (gsize) dd);
        }
    }
}

/* Loss on the removed patches, each against its own normalised pixels;
 * st->dpred its gradient. */
static double
reconstruction_loss (struct _CpuMaeState    *st,
                     const FacetModelConfig *c,
                     const FacetMaeStep     *step)
{
  guint batch = step->batch;
  int np = facet_model_config_grid (c) * facet_model_config_grid (c), td = 1 + np;
  int k = 3 * c->patch_size * c->patch_size;
  double loss = 0.0, n_removed = 0.0;

  patchify_channel_last (step->images, st->target, (int) batch, c->image_size, c->patch_size);
  for (gsize i = 0; i < batch * (gsize) np; i++)
    n_removed += st->mask[i];
  memset (st->dpred, 0, sizeof (float) * batch * (gsize) td * k);
  for (guint b = 0; b < batch; b++)
    for (int i = 0; i < np; i++)
      {
        float *t = st->target + ((gsize) b * np + i) * k;
        const float *p = st->pred + ((gsize) b * td + 1 + i) * k;
        float *dp = st->dpred + ((gsize) b * td + 1 + i) * k;
        double err = 0.0;

        if (step->norm_pix)
          {
            /* mean and unbiased variance, as torch.var */
            double mean = 0.0, var = 0.0;
            for (int j = 0; j < k; j++)
              mean += t[j];
            mean /= k;
            for (int j = 0; j < k; j++)
              var += (t[j] - mean) * (t[j] - mean);
            var /= k - 1;
            for (int j = 0; j < k; j++)
              t[j] = (float) ((t[j] - mean) / sqrt (var + 1e-6));
          }
        if (st->mask[(gsize) b * np + i] == 0.0f)
          continue;
        for (int j = 0; j < k; j++)
          {
            double e = (double) p[j] - t[j];
            err += e * e;
            dp[j] = (float) (2.0 * e / ((double) k * n_removed));
          }
        loss += err / k;
      }
  return loss / n_removed;
}

/* The decoder input's gradient (st->dxd) to the position table, the mask
 * token and the embedded encoder output (st->dy). */
static void
decoder_input_backward (struct _CpuMaeState    *st,
                        const FacetModelConfig *c,
                        guint                   batch,
                        FacetGrads             *grads)
{
  int np = facet_model_config_grid (c) * facet_model_config_grid (c);
  int dd = c->decoder_dim, te = 1 + st->keep, td = 1 + np;
  float *g_dpos = GRAD ("decoder_pos_embed"), *g_mask = GRAD ("mask_token");

  for (guint b = 0; b < batch; b++)
    {
      const float *db = st->dxd + (gsize) b * td * dd;
      float *dyb = st->dy + (gsize) b * te * dd;
      if (g_dpos != NULL)
        facet_cpu_add (g_dpos, db, g_dpos, (gsize) td * dd);
      memcpy (dyb, db, sizeof (float) * (gsize) dd);
      for (int i = 0; i < np; i++)
        {
          int r = st->ids_restore[(gsize) b * np + i];
          const float *src = db + (gsize) (1 + i) * dd;
          if (r < st->keep)
            memcpy (dyb + (gsize) (1 + r) * dd, src, sizeof (float) * (gsize) dd);
          else if (g_mask != NULL)
            facet_cpu_add (g_mask, src, g_mask, (gsize) dd);
        }
    }
}

/* The encoder input's gradient (st->dxe) to the class token, the position
 * table and the patch embedding. */
static void
embed_kept_backward (CpuBackend             *self,
                     struct _CpuMaeState    *st,
                     const FacetModelConfig *c,
                     guint                   batch,
                     FacetGrads             *grads)
{
  int np = facet_model_config_grid (c) * facet_model_config_grid (c), keep = st->keep;
  int k = 3 * c->patch_size * c->patch_size, d = c->dim, te = 1 + keep;
  float *g_cls = GRAD ("cls_token"), *g_pos = GRAD ("pos_embed");

  for (guint b = 0; b < batch; b++)
    {
      const float *db = st->dxe + (gsize) b * te * d;
      if (g_cls != NULL)
        facet_cpu_add (g_cls, db, g_cls, (gsize) d);
      if (g_pos != NULL)
        {
          facet_cpu_add (g_pos, db, g_pos, (gsize) d);
          for (int j = 0; j < keep; j++)
            {
              float *row = g_pos + (gsize) (1 + st->ids_shuffle[(gsize) b * np + j]) * d;
              facet_cpu_add (row, db + (gsize) (1 + j) * d, row, (gsize) d);
            }
        }
      memcpy (st->emb + (gsize) b * keep * d, db + d, sizeof (float) * (gsize) keep * d);
    }
  facet_cpu_linear_backward (st->kept, self->pe_w, st->emb, (int) batch * keep, d, k, NULL, FALSE,
                             GRAD ("patch_embed.proj.weight"), GRAD ("patch_embed.proj.bias"));
}

/**
 * facet_cpu_mae_step:
 *
 * Forward with saved activations, the reconstruction loss, and its backward
 * into @grads (added to what they hold; tensors without a buffer are frozen,
 * as the release freezes both position tables). Encoder and decoder blocks
 * run engine-vit.h's description.
 */
gboolean
facet_cpu_mae_step (FacetBackend       *backend,
                    const FacetMaeStep *step,
                    FacetGrads         *grads,
                    FacetMaeStepResult *result,
                    GError            **error)
{
  CpuBackend *self = (CpuBackend *) backend;
  FacetModel *model = self->parent.model;
  const FacetModelConfig *c;
  struct _CpuMaeState *st;
  Decoder dec;
  guint batch = step->batch;
  int np, keep, k, d, dd, te, td;
  double loss;

  if (!check_step (model, step, &keep, &dec, error))
    return FALSE;
  c = facet_model_get_config (model);
  if (self->mae == NULL || self->mae->model != model || self->mae->cap_batch < batch
      || self->mae->keep != keep)
    {
      g_clear_pointer (&self->mae, facet_cpu_mae_state_free);
      self->mae = mae_state_new (self, batch, keep, error);
      if (self->mae == NULL)
        return FALSE;
    }
  st = self->mae;
  np = facet_model_config_grid (c) * facet_model_config_grid (c);
  k = 3 * c->patch_size * c->patch_size;
  d = c->dim;
  dd = c->decoder_dim;
  te = 1 + keep;
  td = 1 + np;

  /* Forward: encoder on the kept patches, decoder on every position */
  mask_patches (st, step->noise, batch, np);
  embed_kept (self, st, c, step->images, batch);
  stack_forward (st, &st->enc, st->xe, batch, c->ln_eps);
  facet_cpu_par_layer_norm (st->xe, st->ze, batch * (gsize) te, (gsize) d, self->norm_w,
                            self->norm_b, c->ln_eps, st->zmean, st->zrstd);
  decoder_input (st, c, &dec, batch);
  stack_forward (st, &st->dec, st->xd, batch, c->ln_eps);
  facet_cpu_par_layer_norm (st->xd, st->zd, batch * (gsize) td, (gsize) dd, dec.dn_w, dec.dn_b,
                            c->ln_eps, st->dmean, st->drstd);
  facet_cpu_linear (st->zd, dec.dp_w, dec.dp_b, st->pred, (int) batch * td, k, dd, FALSE);

  loss = reconstruction_loss (st, c, step);
  if (!isfinite (loss))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_VALUE,
                   "the loss is not finite (training diverged; lower the learning rate)");
      return FALSE;
    }
  if (result != NULL)
    {
      result->loss = loss;
      if (result->mask != NULL)
        memcpy (result->mask, st->mask, sizeof (float) * batch * (gsize) np);
      if (result->pred != NULL)
        for (guint b = 0; b < batch; b++)
          memcpy (result->pred + (gsize) b * np * k, st->pred + ((gsize) b * td + 1) * k,
                  sizeof (float) * (gsize) np * k);
    }

  /* Backward through the decoder ... */
  facet_cpu_linear_backward (st->zd, dec.dp_w, st->dpred, (int) batch * td, k, dd, st->dzd, FALSE,
                             GRAD ("decoder_pred.weight"), GRAD ("decoder_pred.bias"));
  memset (st->dxd, 0, sizeof (float) * batch * (gsize) td * dd);
  facet_cpu_layer_norm_backward (st->xd, st->dzd, dec.dn_w, st->dmean, st->drstd,
                                 batch * (gsize) td, (gsize) dd, st->dxd,
                                 GRAD ("decoder_norm.weight"), GRAD ("decoder_norm.bias"));
  stack_backward (st, &st->dec, st->dxd, batch, grads);
  decoder_input_backward (st, c, batch, grads);
  facet_cpu_linear_backward (st->ze, dec.de_w, st->dy, (int) batch * te, dd, d, st->dze, FALSE,
                             GRAD ("decoder_embed.weight"), GRAD ("decoder_embed.bias"));

  /* ... and the encoder */
  memset (st->dxe, 0, sizeof (float) * batch * (gsize) te * d);
  facet_cpu_layer_norm_backward (st->xe, st->dze, self->norm_w, st->zmean, st->zrstd,
                                 batch * (gsize) te, (gsize) d, st->dxe, GRAD ("norm.weight"),
                                 GRAD ("norm.bias"));
  stack_backward (st, &st->enc, st->dxe, batch, grads);
  embed_kept_backward (self, st, c, batch, grads);
  return TRUE;
}
