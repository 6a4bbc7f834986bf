/* cpu-explain.c — the CPU backend's gradient-based evidence maps
 *
 * One image: a forward that keeps every block's activations, then for each
 * AU asked for one backward pass of that AU's logit (not a loss) down to
 * the patch embeddings, using the backward ops of cpu-train.c. Two maps
 * come out of it:
 *
 * - FACET_MAP_GRAD_ATTENTION (Chefer, Gur, Wolf 2021, "Generic
 *   attention-model explainability"): per block, Abar = mean over heads of
 *   max(dlogit/dA * A, 0), A the softmax probabilities; R = I, then
 *   R = R + Abar R block by block from the input up. With the class-token
 *   readout the map is R's class row at the patch columns. With the
 *   global-pool readout (the head reads the mean of the patch tokens) the
 *   map is the mean of R's patch rows, without the identity: I adds the
 *   same 1/N to every patch (each token's own residual path) and says
 *   nothing about where the model looked.
 * - FACET_MAP_INPUT_X_GRADIENT: per patch, the sum over the embedding's
 *   channels of e * dlogit/de, e the patch embedding (the convolution's
 *   output with its bias, before the position table is added).
 *
 * Weights are the fp32 ones whatever precision the forward uses.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <string.h>

#include <cblas.h>

#include "cpu-kernels.h"
#include "cpu-private.h"
#include "engine/engine-error.h"

typedef CpuVitSaved Saved;

typedef struct
{
  int    t, np, d, hid, heads, depth, k;
  Saved *saved;
  float *patches, *emb, *x, *pooled_raw, *feat, *pmean, *prstd;
  /* backward scratch */
  float *dx, *dmid, *dh, *dhid, *act, *dattn, *dqkv, *scratch, *dprobs, *cams;
  CpuBackend *self;
  gboolean    want_cams;
} Explain;

static void
explain_clear (Explain *e)
{
  for (int l = 0; l < e->depth && e->saved != NULL; l++)
    {
      Saved *s = &e->saved[l];
      float **fields[] = { &s->x_in, &s->h1, &s->mean1, &s->rstd1, &s->qkv, &s->probs, &s->attn,
                           &s->x_mid, &s->h2, &s->mean2, &s->rstd2, &s->pre };
      for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
        g_free (*fields[f]);
    }
  g_free (e->saved);
  {
    float **fields[] = { &e->patches, &e->emb, &e->x, &e->pooled_raw, &e->feat, &e->pmean,
                         &e->prstd, &e->dx, &e->dmid, &e->dh, &e->dhid, &e->act, &e->dattn,
                         &e->dqkv, &e->scratch, &e->dprobs, &e->cams };
    for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
      g_free (*fields[f]);
  }
}

#define ALLOC(n) g_new0 (float, MAX ((gsize) (n), 1))

static void
explain_init (Explain                *e,
              const FacetModelConfig *c)
{
  gsize t, d, hid, tt;

  memset (e, 0, sizeof *e);
  e->t = facet_model_config_tokens (c);
  e->np = e->t - 1;
  e->d = c->dim;
  e->hid = c->mlp_hidden;
  e->heads = c->heads;
  e->depth = c->depth;
  e->k = 3 * c->patch_size * c->patch_size;
  t = (gsize) e->t;
  d = (gsize) e->d;
  hid = (gsize) e->hid;
  tt = t * t;
  e->saved = g_new0 (Saved, MAX (e->depth, 1));
  for (int l = 0; l < e->depth; l++)
    {
      Saved *s = &e->saved[l];
      s->x_in = ALLOC (t * d);
      s->h1 = ALLOC (t * d);
      s->mean1 = ALLOC (t);
      s->rstd1 = ALLOC (t);
      s->qkv = ALLOC (t * 3 * d);
      s->probs = ALLOC (e->heads * tt);
      s->attn = ALLOC (t * d);
      s->x_mid = ALLOC (t * d);
      s->h2 = ALLOC (t * d);
      s->mean2 = ALLOC (t);
      s->rstd2 = ALLOC (t);
      s->pre = ALLOC (t * hid);
    }
  e->patches = ALLOC ((gsize) e->np * e->k);
  e->emb = ALLOC ((gsize) e->np * d);
  e->x = ALLOC (t * d);
  e->pooled_raw = ALLOC (d);
  e->feat = ALLOC (d);
  e->pmean = ALLOC (1);
  e->prstd = ALLOC (1);
  e->dx = ALLOC (t * d);
  e->dmid = ALLOC (t * d);
  e->dh = ALLOC (t * d);
  e->dhid = ALLOC (t * hid);
  e->act = ALLOC (t * hid);
  e->dattn = ALLOC (t * d);
  e->dqkv = ALLOC (t * 3 * d);
  e->scratch = ALLOC (e->heads * tt);
  e->dprobs = ALLOC (tt);
  e->cams = ALLOC ((gsize) e->depth * tt);
}

static void add_head_cam (const Explain *e,
                          const Saved   *s,
                          int            h,
                          float         *cam);

/* The blocks' roles on the kept activations of block l. */
static void
explain_bind (CpuVit *vit,
              int     l)
{
  Explain *e = vit->data;

  vit->w = &e->self->blocks[l];
  facet_cpu_vit_bind_saved (vit, &e->saved[l]);
}

/* Before the attention backward of block l: its Abar into e->cams. */
static void
explain_cams (CpuVit *vit)
{
  Explain *e = vit->data;
  gsize tt = (gsize) e->t * e->t;
  float *cam = e->cams + (gsize) vit->layer * tt;

  if (!e->want_cams)
    return;
  memset (cam, 0, sizeof (float) * tt);
  for (int h = 0; h < e->heads; h++)
    add_head_cam (e, &e->saved[vit->layer], h, cam);
}

/* One image through engine-vit.h's description on the CPU ops (fp32
 * products, activations kept, no weight gradients). */
static CpuVit
explain_vit (CpuBackend             *self,
             const FacetModelConfig *c,
             Explain                *e)
{
  CpuVit vit = {
    .batch = 1, .tokens = e->t, .dim = e->d, .heads = e->heads, .hidden = e->hid,
    .eps = c->ln_eps, .dprobs = e->scratch, .bind = explain_bind, .data = e,
    .attention_hook = explain_cams,
  };

  e->self = self;
  vit.buf[FACET_VIT_X] = e->x;
  vit.buf[FACET_VIT_ACT] = e->act;
  vit.buf[FACET_VIT_DX] = e->dx;
  vit.buf[FACET_VIT_DMID] = e->dmid;
  vit.buf[FACET_VIT_DH] = e->dh;
  vit.buf[FACET_VIT_DHID] = e->dhid;
  vit.buf[FACET_VIT_DQKV] = e->dqkv;
  vit.buf[FACET_VIT_DATTN] = e->dattn;
  return vit;
}

/* The forward of one image, keeping what the backward needs. */
static void
explain_forward (CpuBackend             *self,
                 const FacetModelConfig *c,
                 Explain                *e,
                 const float            *image)
{
  int t = e->t, d = e->d;
  gboolean global = c->readout == FACET_READOUT_GLOBAL_POOL;

  facet_cpu_patchify (image, e->patches, 1, c->image_size, c->patch_size);
  facet_cpu_linear (e->patches, self->pe_w, self->pe_b, e->emb, e->np, d, e->k, FALSE);
  facet_cpu_add_cls_pos (e->x, e->emb, self->cls, self->pos, 1, t, d);

  {
    CpuVit vit = explain_vit (self, c, e);
    facet_vit_blocks_forward (&facet_cpu_vit_ops, &vit, 0, e->depth);
  }

  facet_cpu_pool (e->x, e->pooled_raw, 1, t, d, global);
  facet_cpu_layer_norm (e->pooled_raw, e->feat, 1, (gsize) d, self->norm_w, self->norm_b,
                        c->ln_eps, e->pmean, e->prstd);
}

/* cam += max(dP * P, 0) / heads for one head, dP = dO_h V_h^T. */
static void
add_head_cam (const Explain *e,
              const Saved   *s,
              int            h,
              float         *cam)
{
  int t = e->t, d = e->d, dh = d / e->heads;
  gsize tt = (gsize) t * t;
  const float *p = s->probs + (gsize) h * tt;
  float inv = 1.0f / (float) e->heads;

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dh, 1.0f, e->dattn + (gsize) h * dh,
               d, s->qkv + 2 * (gsize) d + (gsize) h * dh, 3 * d, 0.0f, e->dprobs, t);
  for (gsize i = 0; i < tt; i++)
    {
      float v = e->dprobs[i] * p[i];
      if (v > 0.0f)
        cam[i] += v * inv;
    }
}

/* The backward of logit @au into e->dx (the gradient at the block input,
 * rows 1.. are the patch embeddings'); e->cams gets each block's Abar when
 * @cams. */
static void
explain_backward (CpuBackend             *self,
                  const FacetModelConfig *c,
                  Explain                *e,
                  int                     au,
                  gboolean                cams)
{
  int t = e->t, d = e->d;
  g_autofree float *dpooled = g_new0 (float, d);

  /* logit = head_w[au] . LN(pooled_raw) + head_b[au] */
  facet_cpu_layer_norm_backward (e->pooled_raw, self->head_w + (gsize) au * d, self->norm_w,
                                 e->pmean, e->prstd, 1, (gsize) d, dpooled, NULL, NULL);
  facet_cpu_pool_backward (dpooled, e->dx, 1, t, d, c->readout == FACET_READOUT_GLOBAL_POOL);

  {
    CpuVit vit = explain_vit (self, c, e);
    e->want_cams = cams;
    facet_vit_blocks_backward (&facet_cpu_vit_ops, &vit, 0, e->depth);
  }
}

/* R = I; R += Abar_l R for l = 0 .. depth-1; then the readout's row(s). */
static void
grad_attention_map (const FacetModelConfig *c,
                    const Explain          *e,
                    float                  *map)
{
  int t = e->t, np = e->np;
  gsize tt = (gsize) t * t;
  g_autofree float *r = g_new0 (float, tt);
  g_autofree float *tmp = g_new (float, tt);

  for (int i = 0; i < t; i++)
    r[(gsize) i * t + i] = 1.0f;
  for (int l = 0; l < e->depth; l++)
    {
      memcpy (tmp, r, sizeof (float) * tt);
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, t, t, t, 1.0f,
                   e->cams + (gsize) l * tt, t, tmp, t, 1.0f, r, t);
    }
  if (c->readout == FACET_READOUT_CLS_TOKEN)
    {
      memcpy (map, r + 1, sizeof (float) * (gsize) np);
      return;
    }
  /* The mean of the patch rows of R - I. */
  for (int j = 0; j < np; j++)
    {
      double sum = 0.0;
      for (int i = 1; i < t; i++)
        sum += r[(gsize) i * t + 1 + j];
      map[j] = (float) ((sum - 1.0) / np);
    }
}

/**
 * facet_cpu_gradient_maps:
 *
 * The gradient_maps slot of the CPU backend (see engine-backend.h).
 */
gboolean
facet_cpu_gradient_maps (FacetBackend   *backend,
                         const float    *image,
                         FacetMapMethod  method,
                         const int      *aus,
                         int             n,
                         float          *maps,
                         GCancellable   *cancellable,
                         GError        **error)
{
  CpuBackend *self = (CpuBackend *) backend;
  const FacetModelConfig *c;
  Explain e;

  if (backend->model == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "no model loaded");
      return FALSE;
    }
  c = facet_model_get_config (backend->model);
  if (method != FACET_MAP_GRAD_ATTENTION && method != FACET_MAP_INPUT_X_GRADIENT)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                   "map method %d is not a gradient method", (int) method);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    if (aus[i] < 0 || aus[i] >= c->n_aus)
      {
        g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID,
                     "AU index %d is outside the model's %d AUs", aus[i], c->n_aus);
        return FALSE;
      }

  facet_cpu_blas_init ();
  explain_init (&e, c);
  explain_forward (self, c, &e, image);
  for (int i = 0; i < n; i++)
    {
      float *map = maps + (gsize) i * e.np;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          explain_clear (&e);
          return FALSE;
        }
      explain_backward (self, c, &e, aus[i], method == FACET_MAP_GRAD_ATTENTION);
      if (method == FACET_MAP_GRAD_ATTENTION)
        grad_attention_map (c, &e, map);
      else
        for (int p = 0; p < e.np; p++)
          {
            const float *emb = e.emb + (gsize) p * e.d, *g = e.dx + (gsize) (p + 1) * e.d;
            double sum = 0.0;
            for (int j = 0; j < e.d; j++)
              sum += (double) emb[j] * g[j];
            map[p] = (float) sum;
          }
    }
  explain_clear (&e);
  return TRUE;
}
