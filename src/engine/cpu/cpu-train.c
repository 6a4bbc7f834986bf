/* cpu-train.c — the CPU backend's training step: a forward that keeps the
 * activations of the trainable blocks, the losses, and the backward pass
 * into gradient buffers
 *
 * Losses (the FMAE-IAT recipe): binary cross-entropy with logits on the AU
 * vector (unlabelled entries masked out) plus binary cross-entropy on the
 * one-hot subject vector from ID_head. ID_head sits behind a gradient-
 * reversal layer: identity in the forward pass, gradient times -lambda into
 * the shared feature in the backward pass, so the backbone is pushed to
 * remove identity while ID_head itself learns normally.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "core/core-pool.h"
#include "core/core-rng.h"
#include "cpu-kernels.h"
#include "cpu-private.h"
#include "engine/engine-error.h"

typedef CpuVitSaved SavedBlock;

/* bf16 packs of a trained block's weights (bf16 precision only): as the
 * forward reads them, and transposed for the input gradients. Refreshed from
 * the fp32 master weights at every step, after the optimiser changed them. */
typedef struct
{
  FacetBf16Weight *qkv, *proj, *fc1, *fc2;
  FacetBf16Weight *qkv_t, *proj_t, *fc1_t, *fc2_t;
} Bf16Block;

struct _CpuTrainState
{
  guint       cap_batch;
  int         n_saved;   /* blocks with saved activations */
  SavedBlock *saved;
  float      *keep;      /* [depth, 2, batch]: drop-path scale of each branch and image */
  float      *pooled_raw, *feat, *pmean, *prstd, *logits, *id_logits;
  float      *dlogits, *did, *dfeat, *dpooled;
  float      *dx, *dmid, *dtmp, *dh, *dhid, *act, *dqkv, *dattn, *dprobs, *patches, *dpatch;
  Bf16Block  *w16;       /* [n_saved], bf16 precision only */
  FacetBf16Weight *pe16;
};

static float *
falloc (gsize n)
{
  return g_aligned_alloc (MAX (n, 1), sizeof (float), 64);
}

void
facet_cpu_train_state_free (struct _CpuTrainState *st)
{
  if (st == NULL)
    return;
  for (int i = 0; i < st->n_saved && st->w16 != NULL; i++)
    {
      FacetBf16Weight **packs[] = { &st->w16[i].qkv, &st->w16[i].proj, &st->w16[i].fc1,
                                    &st->w16[i].fc2, &st->w16[i].qkv_t, &st->w16[i].proj_t,
                                    &st->w16[i].fc1_t, &st->w16[i].fc2_t };
      for (guint f = 0; f < G_N_ELEMENTS (packs); f++)
        g_clear_pointer (packs[f], facet_bf16_weight_free);
    }
  g_free (st->w16);
  g_clear_pointer (&st->pe16, facet_bf16_weight_free);
  for (int i = 0; i < st->n_saved; i++)
    {
      SavedBlock *b = &st->saved[i];
      float **fields[] = { &b->x_in, &b->h1, &b->mean1, &b->rstd1, &b->qkv, &b->probs, &b->attn,
                           &b->x_mid, &b->h2, &b->mean2, &b->rstd2, &b->pre, &b->act };
      for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
        g_aligned_free (*fields[f]);
    }
  g_free (st->saved);
  {
    float **fields[] = { &st->keep, &st->pooled_raw, &st->feat, &st->pmean, &st->prstd,
                         &st->logits, &st->id_logits, &st->dlogits, &st->did, &st->dfeat,
                         &st->dpooled, &st->dx, &st->dmid, &st->dtmp, &st->dh, &st->dhid,
                         &st->act, &st->dqkv, &st->dattn, &st->dprobs, &st->patches, &st->dpatch };
    for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
      g_aligned_free (*fields[f]);
  }
  g_free (st);
}

static struct _CpuTrainState *
train_state_new (const FacetModelConfig *c,
                 guint                   batch,
                 int                     n_saved,
                 gboolean                keep_act)
{
  struct _CpuTrainState *st = g_new0 (struct _CpuTrainState, 1);
  gsize t = (gsize) facet_model_config_tokens (c), d = (gsize) c->dim, hid = (gsize) c->mlp_hidden;
  gsize m = batch * t, p = t - 1, k = 3 * (gsize) c->patch_size * c->patch_size;
  gsize a = (gsize) MAX (c->n_aus, 1), s = (gsize) MAX (c->n_subjects, 1);
  gsize probs = batch * (gsize) c->heads * t * t;

  st->cap_batch = batch;
  st->n_saved = n_saved;
  st->saved = g_new0 (SavedBlock, MAX (n_saved, 1));
  for (int i = 0; i < n_saved; i++)
    {
      SavedBlock *b = &st->saved[i];
      b->x_in = falloc (m * d);
      b->h1 = falloc (m * d);
      b->mean1 = falloc (m);
      b->rstd1 = falloc (m);
      b->qkv = falloc (m * 3 * d);
      b->probs = falloc (probs);
      b->attn = falloc (m * d);
      b->x_mid = falloc (m * d);
      b->h2 = falloc (m * d);
      b->mean2 = falloc (m);
      b->rstd2 = falloc (m);
      b->pre = falloc (m * hid);
      b->act = keep_act ? falloc (m * hid) : NULL;
    }
  st->keep = falloc ((gsize) MAX (c->depth, 1) * 2 * batch);
  st->pooled_raw = falloc (batch * d);
  st->feat = falloc (batch * d);
  st->pmean = falloc (batch);
  st->prstd = falloc (batch);
  st->logits = falloc (batch * a);
  st->id_logits = falloc (batch * s);
  st->dlogits = falloc (batch * a);
  st->did = falloc (batch * s);
  st->dfeat = falloc (batch * d);
  st->dpooled = falloc (batch * d);
  st->dx = falloc (m * d);
  st->dmid = falloc (m * d);
  st->dtmp = falloc (m * d);
  st->dh = falloc (m * d);
  st->dhid = falloc (m * hid);
  st->act = falloc (m * hid);
  st->dqkv = falloc (m * 3 * d);
  st->dattn = falloc (m * d);
  st->dprobs = falloc (probs);
  st->patches = falloc (batch * p * k);
  st->dpatch = falloc (batch * p * d);
  return st;
}

/* Column-parallel reductions ------------------------------------------------ */

typedef struct
{
  const float *x, *dy, *mean, *rstd;
  gsize        m, n;
  float       *dgamma, *dbeta, *out;
  guint        parts;
} ColJob;

static void
col_sum_part (guint    index,
              gpointer data)
{
  ColJob *j = data;
  gsize c0 = j->n * index / j->parts, c1 = j->n * (index + 1) / j->parts;
  facet_cpu_col_sum (j->dy, j->m, j->n, c0, c1, j->out);
}

static void
ln_params_part (guint    index,
                gpointer data)
{
  ColJob *j = data;
  gsize c0 = j->n * index / j->parts, c1 = j->n * (index + 1) / j->parts;
  facet_cpu_layer_norm_backward_params (j->x, j->dy, j->mean, j->rstd, j->m, j->n, c0, c1,
                                        j->dgamma, j->dbeta);
}

static guint
col_parts (gsize m,
           gsize n)
{
  return m * n >= 65536 && n >= 64 ? facet_parallel_get_threads () : 1;
}

/* out += column sums of dy [m, n] (bias gradients); out NULL: nothing to do. */
static void
bias_grad (const float *dy,
           gsize        m,
           gsize        n,
           float       *out)
{
  ColJob job = { .dy = dy, .m = m, .n = n, .out = out };

  if (out == NULL)
    return;
  job.parts = col_parts (m, n);
  facet_parallel_for (job.parts, col_sum_part, &job);
}

typedef struct
{
  const float *x, *dy, *gamma, *mean, *rstd;
  gsize        m, n;
  float       *dx;
  guint        parts;
} LnDxJob;

static void
ln_dx_part (guint    index,
            gpointer data)
{
  LnDxJob *j = data;
  gsize lo = j->m * index / j->parts, hi = j->m * (index + 1) / j->parts;
  facet_cpu_layer_norm_backward_dx (j->x + lo * j->n, j->dy + lo * j->n, j->gamma, j->mean + lo,
                                    j->rstd + lo, hi - lo, j->n, j->dx + lo * j->n);
}

/* Backward of y = LN(x): dx += ..., dgamma/dbeta += ... (NULL when frozen). */
void
facet_cpu_layer_norm_backward (const float *x,
                     const float *dy,
                     const float *gamma,
                     const float *mean,
                     const float *rstd,
                     gsize        m,
                     gsize        n,
                     float       *dx,
                     float       *dgamma,
                     float       *dbeta)
{
  LnDxJob job = { x, dy, gamma, mean, rstd, m, n, dx, 1 };

  job.parts = m >= facet_parallel_get_threads () && m * n >= 65536 ? facet_parallel_get_threads ()
                                                                  : 1;
  facet_parallel_for (job.parts, ln_dx_part, &job);
  if (dgamma != NULL && dbeta != NULL)
    {
      ColJob cj = { .x = x, .dy = dy, .mean = mean, .rstd = rstd, .m = m, .n = n,
                    .dgamma = dgamma, .dbeta = dbeta };
      cj.parts = col_parts (m, n);
      facet_parallel_for (cj.parts, ln_params_part, &cj);
    }
}

/* Backward of y = x w^T + b: dx (+)= dy w when @dx; dw += dy^T x and
 * db += colsum(dy) when they are trainable (non-NULL). */
void
facet_cpu_linear_backward (const float *x,
                 const float *w,
                 const float *dy,
                 int          m,
                 int          n,
                 int          k,
                 float       *dx,
                 gboolean     accumulate_dx,
                 float       *dw,
                 float       *db)
{
  if (dx != NULL)
    facet_cpu_gemm (FALSE, FALSE, m, k, n, 1.0f, dy, n, w, k, accumulate_dx ? 1.0f : 0.0f, dx, k);
  if (dw != NULL)
    facet_cpu_gemm (TRUE, FALSE, n, k, m, 1.0f, dy, n, x, k, 1.0f, dw, k);
  bias_grad (dy, (gsize) m, (gsize) n, db);
}

/* bf16 training ---------------------------------------------------------------- */

static void
pack_or_update (FacetBf16Weight **pack,
                const float      *w,
                int               n,
                int               k,
                gboolean          transposed)
{
  if (*pack != NULL)
    facet_bf16_weight_update (*pack, w);
  else if (transposed)
    *pack = facet_bf16_weight_new_transposed (w, n, k);
  else
    *pack = facet_bf16_weight_new (w, n, k);
}

/* The bf16 packs of the trained blocks and the patch embedding, made or
 * refreshed from the fp32 master weights as they are now (the optimiser
 * stepped since the last call). */
static void
refresh_bf16 (CpuBackend             *self,
              struct _CpuTrainState  *st,
              int                     first)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  int d = c->dim, hid = c->mlp_hidden, k = 3 * c->patch_size * c->patch_size;

  if (st->w16 == NULL)
    st->w16 = g_new0 (Bf16Block, MAX (st->n_saved, 1));
  for (int i = 0; i < st->n_saved; i++)
    {
      const BlockWeights *bw = &self->blocks[first + i];
      Bf16Block *p = &st->w16[i];
      pack_or_update (&p->qkv, bw->qkvw, 3 * d, d, FALSE);
      pack_or_update (&p->proj, bw->projw, d, d, FALSE);
      pack_or_update (&p->fc1, bw->fc1w, hid, d, FALSE);
      pack_or_update (&p->fc2, bw->fc2w, d, hid, FALSE);
      pack_or_update (&p->qkv_t, bw->qkvw, 3 * d, d, TRUE);
      pack_or_update (&p->proj_t, bw->projw, d, d, TRUE);
      pack_or_update (&p->fc1_t, bw->fc1w, hid, d, TRUE);
      pack_or_update (&p->fc2_t, bw->fc2w, d, hid, TRUE);
    }
  pack_or_update (&st->pe16, self->pe_w, d, k, FALSE);
}

/* Backward of y = x w^T + b with bf16 products (fp32 sums): dx = dy w
 * through w's transposed pack @wt, dw += dy^T x, db += colsum(dy) in fp32.
 * With @gelu_pre (x = gelu(gelu_pre)), dx is carried back through the GELU
 * in the product's epilogue: the gradient of gelu_pre. */
void
facet_cpu_linear_backward_bf16 (const float           *x,
                      const FacetBf16Weight *wt,
                      const float           *dy,
                      int                    m,
                      int                    n,
                      int                    k,
                      float                 *dx,
                      float                 *gelu_pre,
                      float                 *dw,
                      float                 *db)
{
  if (dx != NULL && gelu_pre != NULL)
    facet_cpu_linear_bf16_aux (dy, wt, NULL, dx, gelu_pre, m, FACET_BF16_GELU_GRAD);
  else if (dx != NULL)
    facet_cpu_linear_bf16 (dy, wt, NULL, dx, m, 0);
  if (dw != NULL)
    facet_cpu_weight_grad_bf16 (dy, x, m, n, k, dw, db); /* db on the way */
  else
    bias_grad (dy, (gsize) m, (gsize) n, db);
}

/* Attention backward ---------------------------------------------------------- */

typedef struct
{
  const float *qkv, *probs, *dout;
  float       *dqkv, *scratch;
  int          tokens, heads, dim;
  gboolean     bf16;
} AttnBackJob;

static void
attention_backward_item (guint    index,
                         gpointer data)
{
  AttnBackJob *j = data;
  int t = j->tokens, d = j->dim, dh = d / j->heads;
  int b = (int) index / j->heads, h = (int) index % j->heads;
  gsize tt = (gsize) t * t;
  const float *q = j->qkv + (gsize) b * t * 3 * d + (gsize) h * dh;
  const float *k = q + d, *v = q + 2 * d;
  const float *p = j->probs + index * tt;
  const float *dout = j->dout + (gsize) b * t * d + (gsize) h * dh;
  float *dq = j->dqkv + (gsize) b * t * 3 * d + (gsize) h * dh;
  float *dk = dq + d, *dv = dq + 2 * d;
  float *ds = j->scratch + index * tt;
  float scale = 1.0f / sqrtf ((float) dh);

  if (j->bf16)
    {
      facet_cpu_attention_head_backward_bf16 (q, k, v, (gsize) 3 * d, p, dout, (gsize) d, t, dh,
                                              scale, ds, dq, dk, dv);
      return;
    }
  /* O = P V: dV = P^T dO, dP = dO V^T */
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, t, dh, t, 1.0f, p, t, dout, d, 0.0f, dv,
               3 * d);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dh, 1.0f, dout, d, v, 3 * d, 0.0f, ds,
               t);
  /* softmax: dS = P (dP - rowsum(dP P)) */
  for (int i = 0; i < t; i++)
    {
      float *dsr = ds + (gsize) i * t;
      const float *pr = p + (gsize) i * t;
      float dot = 0.0f;
      for (int c = 0; c < t; c++)
        dot += dsr[c] * pr[c];
      for (int c = 0; c < t; c++)
        dsr[c] = pr[c] * (dsr[c] - dot);
    }
  /* S = scale Q K^T: dQ = scale dS K, dK = scale dS^T Q */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, t, dh, t, scale, ds, t, k, 3 * d, 0.0f,
               dq, 3 * d);
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, t, dh, t, scale, ds, t, q, 3 * d, 0.0f, dk,
               3 * d);
}

/**
 * facet_cpu_attention_backward:
 * @probs: the softmax probabilities the forward kept
 * @dqkv: [batch * tokens, 3 * dim], overwritten
 * @scratch: batch * heads * tokens^2 floats
 */
void
facet_cpu_attention_backward (const float *qkv,
                              const float *probs,
                              const float *dout,
                              float       *dqkv,
                              float       *scratch,
                              int          batch,
                              int          tokens,
                              int          heads,
                              int          dim)
{
  AttnBackJob job = { qkv, probs, dout, dqkv, scratch, tokens, heads, dim, FALSE };

  facet_cpu_blas_init ();
  facet_parallel_for ((guint) (batch * heads), attention_backward_item, &job);
}

/* The same with the four products of each head in bf16 (fp32 sums). */
void
facet_cpu_attention_backward_bf16 (const float *qkv,
                         const float *probs,
                         const float *dout,
                         float       *dqkv,
                         float       *scratch,
                         int          batch,
                         int          tokens,
                         int          heads,
                         int          dim)
{
  AttnBackJob job = { qkv, probs, dout, dqkv, scratch, tokens, heads, dim, TRUE };

  facet_parallel_for ((guint) (batch * heads), attention_backward_item, &job);
}

/* Helpers ---------------------------------------------------------------------- */

static inline double
softplus (double z)
{
  /* log(1 + e^z) without overflow */
  return z > 0 ? z + log1p (exp (-z)) : log1p (exp (z));
}

static inline float
sigmoidf (float z)
{
  return z >= 0 ? 1.0f / (1.0f + expf (-z)) : expf (z) / (1.0f + expf (z));
}

#define GRAD(name) facet_grads_get (grads, name)

/**
 * facet_cpu_heads_step:
 * @pooled_raw: [batch, dim], the feature before the final norm
 * @dpooled: (nullable): receives the gradient for @pooled_raw
 *
 * The readout part of a training step, shared by the full step and by
 * head-only training on cached features: final norm, AU head and ID head
 * (behind the gradient reversal), both losses, and their backward pass into
 * @grads (tensors without a buffer are frozen).
 */
gboolean
facet_cpu_heads_step (const FacetModelConfig *c,
                      const float            *norm_w,
                      const float            *norm_b,
                      const float            *head_w,
                      const float            *head_b,
                      const float            *id_w,
                      const float            *id_b,
                      const float            *pooled_raw,
                      guint                   batch,
                      const float            *au_targets,
                      const int              *subjects,
                      float                   iat_lambda,
                      const float            *pos_weight,
                      FacetGrads             *grads,
                      float                  *dpooled,
                      FacetTrainStepResult   *result,
                      GError                **error)
{
  gsize d = (gsize) c->dim, a = (gsize) c->n_aus, ns = (gsize) MAX (c->n_subjects, 1);
  gboolean global = c->readout == FACET_READOUT_GLOBAL_POOL;
  g_autofree float *feat = g_new (float, batch * d);
  g_autofree float *pmean = g_new (float, batch), *prstd = g_new (float, batch);
  g_autofree float *logits = g_new (float, batch * a), *dlogits = g_new (float, batch * a);
  g_autofree float *id_logits = g_new (float, batch * ns), *did = g_new0 (float, batch * ns);
  g_autofree float *dfeat = g_new (float, batch * d);
  double au_loss = 0.0, id_loss = 0.0;
  int n_labelled = 0, n_with_subject = 0;

  facet_cpu_layer_norm (pooled_raw, feat, batch, d, norm_w, norm_b, c->ln_eps, pmean, prstd);
  facet_cpu_linear (feat, head_w, head_b, logits, (int) batch, c->n_aus, (int) d, FALSE);
  if (c->n_subjects > 0)
    facet_cpu_linear (feat, id_w, id_b, id_logits, (int) batch, c->n_subjects, (int) d, FALSE);

  for (gsize i = 0; i < batch * a; i++)
    if (au_targets[i] >= 0.0f)
      n_labelled++;
  for (gsize i = 0; i < batch * a; i++)
    {
      float y = au_targets[i], z = logits[i];
      if (y < 0.0f)
        {
          dlogits[i] = 0.0f;
          continue;
        }
      if (pos_weight != NULL)
        {
          /* -(w y log s + (1 - y) log (1 - s)): positives count w times */
          float w = pos_weight[i % a];
          au_loss += (w * y + 1.0f - y) * softplus (z) - (double) w * y * z;
          dlogits[i] = ((w * y + 1.0f - y) * sigmoidf (z) - w * y) / (float) n_labelled;
          continue;
        }
      au_loss += softplus (z) - (double) y * z;
      dlogits[i] = (sigmoidf (z) - y) / (float) n_labelled;
    }
  if (n_labelled > 0)
    au_loss /= n_labelled;

  if (c->n_subjects > 0 && subjects != NULL)
    {
      for (guint b = 0; b < batch; b++)
        if (subjects[b] >= 0 && subjects[b] < c->n_subjects)
          n_with_subject++;
      for (guint b = 0; b < batch && n_with_subject > 0; b++)
        {
          int sj = subjects[b];
          if (sj < 0 || sj >= c->n_subjects)
            continue;
          for (int j = 0; j < c->n_subjects; j++)
            {
              float y = j == sj ? 1.0f : 0.0f, z = id_logits[(gsize) b * c->n_subjects + j];
              id_loss += softplus (z) - (double) y * z;
              did[(gsize) b * c->n_subjects + j] =
                (sigmoidf (z) - y) / (float) ((gsize) n_with_subject * c->n_subjects);
            }
        }
      if (n_with_subject > 0)
        id_loss /= (double) n_with_subject * c->n_subjects;
    }
  if (!isfinite (au_loss) || !isfinite (id_loss))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_VALUE,
                   "the loss is not finite (training diverged; lower the learning rate)");
      return FALSE;
    }
  if (result != NULL)
    {
      result->au_loss = au_loss;
      result->id_loss = id_loss;
      result->loss = au_loss + id_loss;
      if (result->logits != NULL)
        memcpy (result->logits, logits, sizeof (float) * batch * a);
    }

  /* Heads; the identity branch reaches the feature through the GRL. */
  facet_cpu_linear_backward (feat, head_w, dlogits, (int) batch, c->n_aus, (int) d, dfeat, FALSE,
                             GRAD ("head.weight"), GRAD ("head.bias"));
  if (c->n_subjects > 0 && n_with_subject > 0)
    {
      facet_cpu_linear_backward (feat, id_w, did, (int) batch, c->n_subjects, (int) d, NULL, FALSE,
                                 GRAD ("ID_head.weight"), GRAD ("ID_head.bias"));
      if (iat_lambda > 0.0f)
        facet_cpu_gemm (FALSE, FALSE, (int) batch, (int) d, c->n_subjects, -iat_lambda, did,
                        c->n_subjects, id_w, (int) d, 1.0f, dfeat, (int) d);
    }

  if (dpooled != NULL)
    memset (dpooled, 0, sizeof (float) * batch * d);
  else
    {
      /* Only the norm's own gradients are wanted; feat is free now. */
      dpooled = feat;
      memset (dpooled, 0, sizeof (float) * batch * d);
    }
  facet_cpu_layer_norm_backward (pooled_raw, dfeat, norm_w, pmean, prstd, batch, d, dpooled,
                                 GRAD (global ? "fc_norm.weight" : "norm.weight"),
                                 GRAD (global ? "fc_norm.bias" : "norm.bias"));
  return TRUE;
}

/* The heads_step slot: the readout alone, on the loaded model's weights. */
gboolean
facet_cpu_heads_train_step (FacetBackend         *backend,
                            const FacetHeadsStep *step,
                            FacetGrads           *grads,
                            FacetTrainStepResult *result,
                            GError              **error)
{
  CpuBackend *self = (CpuBackend *) backend;

  if (backend->model == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "no model loaded");
      return FALSE;
    }
  return facet_cpu_heads_step (facet_model_get_config (backend->model), self->norm_w, self->norm_b,
                               self->head_w, self->head_b, self->id_w, self->id_b, step->pooled_raw,
                               step->batch, step->au_targets, step->subjects, step->iat_lambda,
                               step->pos_weight, grads, NULL, result, error);
}

/* Drop-path draws: one per image, block and branch, rate rising linearly
 * with depth as in timm (dpr = linspace(0, drop_path, depth)). */
static void
draw_drop_path (float                  *keep,
                const FacetModelConfig *c,
                const FacetTrainStep   *step)
{
  FacetRng rng;

  facet_rng_init (&rng, step->seed);
  for (int l = 0; l < c->depth; l++)
    {
      double rate = c->depth > 1 ? step->drop_path * l / (c->depth - 1) : step->drop_path;
      for (guint i = 0; i < 2 * step->batch; i++)
        {
          float k = 1.0f;
          if (rate > 0.0)
            k = facet_rng_uniform (&rng) < rate ? 0.0f : (float) (1.0 / (1.0 - rate));
          keep[((gsize) l * 2) * step->batch + i] = k;
        }
    }
}

/* Patch embedding, class token and positions into self->x. */
static void
embed_forward (CpuBackend             *self,
               struct _CpuTrainState  *st,
               const FacetModelConfig *c,
               const float            *images,
               guint                   batch)
{
  int t = facet_model_config_tokens (c), np = t - 1, d = c->dim;
  int k = 3 * c->patch_size * c->patch_size;

  facet_cpu_patchify (images, st->patches, (int) batch, c->image_size, c->patch_size);
  if (self->precision == FACET_PRECISION_BF16)
    facet_cpu_linear_bf16 (st->patches, st->pe16, self->pe_b, self->h, (int) batch * np,
                           FACET_BF16_BIAS);
  else
    facet_cpu_linear (st->patches, self->pe_w, self->pe_b, self->h, (int) batch * np, d, k, FALSE);
  facet_cpu_add_cls_pos (self->x, self->h, self->cls, self->pos, batch, t, d);
}

/* The gradients of the class token, positions and patch embedding from st->dx. */
static void
embed_backward (CpuBackend             *self,
                struct _CpuTrainState  *st,
                const FacetModelConfig *c,
                guint                   batch,
                FacetGrads             *grads)
{
  int t = facet_model_config_tokens (c), np = t - 1, d = c->dim;
  int k = 3 * c->patch_size * c->patch_size;
  float *dcls = GRAD ("cls_token"), *dpos = GRAD ("pos_embed");

  for (guint b = 0; b < batch; b++)
    {
      const float *dxb = st->dx + (gsize) b * t * d;
      if (dcls)
        facet_cpu_add (dcls, dxb, dcls, (gsize) d);
      if (dpos)
        facet_cpu_add (dpos, dxb, dpos, (gsize) t * d);
      memcpy (st->dpatch + (gsize) b * np * d, dxb + d, sizeof (float) * (gsize) np * d);
    }
  if (self->precision == FACET_PRECISION_BF16)
    facet_cpu_linear_backward_bf16 (st->patches, NULL, st->dpatch, (int) batch * np, d, k, NULL,
                                    NULL, GRAD ("patch_embed.proj.weight"),
                                    GRAD ("patch_embed.proj.bias"));
  else
    facet_cpu_linear_backward (st->patches, self->pe_w, st->dpatch, (int) batch * np, d, k, NULL,
                               FALSE, GRAD ("patch_embed.proj.weight"),
                               GRAD ("patch_embed.proj.bias"));
}

/* Training: the trained blocks' roles on their kept activations. */
typedef struct
{
  CpuBackend            *self;
  struct _CpuTrainState *st;
  int                    first;
} TrainBind;

static void
train_bind (CpuVit *vit,
            int     l)
{
  TrainBind *tb = vit->data;
  int i = l - tb->first;

  vit->w = &tb->self->blocks[l];
  facet_cpu_vit_bind_saved (vit, &tb->st->saved[i]);
  vit->keep[0] = tb->st->keep + (gsize) l * 2 * vit->batch;
  vit->keep[1] = vit->keep[0] + vit->batch;
  if (vit->bf16)
    {
      const Bf16Block *p = &tb->st->w16[i];
      const FacetBf16Weight *packs[4] = { p->qkv, p->proj, p->fc1, p->fc2 };
      const FacetBf16Weight *tpacks[4] = { p->qkv_t, p->proj_t, p->fc1_t, p->fc2_t };
      memcpy (vit->w16, packs, sizeof packs);
      memcpy (vit->wt16, tpacks, sizeof tpacks);
    }
}

/* The training state for this step's batch and trained blocks. */
static struct _CpuTrainState *
ensure_train_state (CpuBackend             *self,
                    const FacetModelConfig *c,
                    guint                   batch,
                    int                     n_train)
{
  gboolean bf16 = self->precision == FACET_PRECISION_BF16;

  facet_cpu_ensure_scratch (self, batch, FALSE);
  if (self->train == NULL || self->train->cap_batch < batch || self->train->n_saved != n_train)
    {
      facet_cpu_train_state_free (self->train);
      self->train = train_state_new (c, batch, n_train, bf16);
    }
  if (bf16)
    refresh_bf16 (self, self->train, c->depth - n_train);
  return self->train;
}

static gboolean
check_step (CpuBackend           *self,
            const FacetTrainStep *step,
            GError              **error)
{
  const FacetModelConfig *c;

  if (self->parent.model == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "no model loaded");
      return FALSE;
    }
  c = facet_model_get_config (self->parent.model);
  if (step->batch == 0 || step->images == NULL || step->au_targets == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "a training step needs images and AU targets");
      return FALSE;
    }
  if (c->n_aus == 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "the model has no AU head to train");
      return FALSE;
    }
  if (step->iat_lambda < 0.0f || !(step->drop_path >= 0.0f && step->drop_path < 1.0f))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "IAT lambda must be >= 0 and drop path in [0, 1)");
      return FALSE;
    }
  return TRUE;
}

/**
 * facet_cpu_train_step:
 *
 * Forward with saved activations, losses, backward into @grads (added to
 * what they hold). Weights are read from the model as they are now. The
 * blocks run engine-vit.h's description: the frozen ones as in inference,
 * the trained ones keeping their activations, with drop path.
 */
gboolean
facet_cpu_train_step (FacetBackend         *backend,
                      const FacetTrainStep *step,
                      FacetGrads           *grads,
                      FacetTrainStepResult *result,
                      GError              **error)
{
  CpuBackend *self = (CpuBackend *) backend;
  const FacetModelConfig *c;
  struct _CpuTrainState *st;
  guint batch = step->batch;
  int first;
  TrainBind tb;
  CpuVit vit;

  if (!check_step (self, step, error))
    return FALSE;
  c = facet_model_get_config (self->parent.model);
  first = CLAMP (step->first_trainable_block, 0, c->depth);
  st = ensure_train_state (self, c, batch, c->depth - first);
  draw_drop_path (st->keep, c, step);

  tb = (TrainBind) { self, st, first };
  vit = (CpuVit) {
    .batch = batch, .tokens = facet_model_config_tokens (c), .dim = c->dim, .heads = c->heads,
    .hidden = c->mlp_hidden, .eps = c->ln_eps, .bf16 = self->precision == FACET_PRECISION_BF16,
    .act_kept = self->precision == FACET_PRECISION_BF16, .dprobs = st->dprobs,
    .grads = grads, .prefix = "blocks", .bind = train_bind, .data = &tb,
  };
  vit.buf[FACET_VIT_X] = self->x;
  vit.buf[FACET_VIT_ACT] = st->act;
  vit.buf[FACET_VIT_DX] = st->dx;
  vit.buf[FACET_VIT_DMID] = st->dmid;
  vit.buf[FACET_VIT_DH] = st->dh;
  vit.buf[FACET_VIT_DHID] = st->dhid;
  vit.buf[FACET_VIT_DQKV] = st->dqkv;
  vit.buf[FACET_VIT_DATTN] = st->dattn;
  vit.buf[FACET_VIT_DTMP] = st->dtmp;

  embed_forward (self, st, c, step->images, batch);
  facet_cpu_infer_blocks (self, self->x, batch, first, NULL);
  facet_vit_blocks_forward (&facet_cpu_vit_ops, &vit, first, c->depth);
  facet_cpu_pool (self->x, st->pooled_raw, batch, vit.tokens, c->dim,
                  c->readout == FACET_READOUT_GLOBAL_POOL);
  if (!facet_cpu_heads_step (c, self->norm_w, self->norm_b, self->head_w, self->head_b, self->id_w,
                             self->id_b, st->pooled_raw, batch, step->au_targets, step->subjects,
                             step->iat_lambda, NULL, grads, st->dpooled, result, error))
    return FALSE;
  if (first == c->depth && !step->train_embedding)
    return TRUE;

  facet_cpu_pool_backward (st->dpooled, st->dx, batch, vit.tokens, c->dim,
                           c->readout == FACET_READOUT_GLOBAL_POOL);
  facet_vit_blocks_backward (&facet_cpu_vit_ops, &vit, first, c->depth);
  if (step->train_embedding && first == 0)
    embed_backward (self, st, c, batch, grads);
  return TRUE;
}
