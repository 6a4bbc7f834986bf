/* cpu-vit.c — the CPU backend's ops for the model description
 * (engine/engine-vit.h)
 *
 * One implementation of each op serves every CPU pass; what differs
 * between them is the context's configuration, which keeps each pass's
 * numerics as they were when the passes were written out by hand:
 *
 * - inference in fp32 runs batch-invariant products (one call per image,
 *   facet_cpu_linear_grouped), fc1's bias and GELU fused in one pass, and
 *   the residual added by the product (beta = 1);
 * - bf16 (inference and training) runs the packed bf16 products with their
 *   fused epilogues (bias, GELU, residual, GELU's input kept, GELU's
 *   gradient in the backward product);
 * - training in fp32 adds each branch scaled by its drop-path factors
 *   (bf16 does so only where a factor is not 1);
 * - MAE pre-training and the evidence maps run fp32 products over the
 *   whole batch and add the residual in the product.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <string.h>

#include "cpu-kernels.h"
#include "cpu-private.h"

static gsize
rows (const CpuVit *vit)
{
  return (gsize) vit->batch * vit->tokens;
}

static float *
B (CpuVit     *vit,
   FacetVitBuf b)
{
  return b == FACET_VIT_NONE ? NULL : vit->buf[b];
}

/* The product's weights and shape (y [m, n] = x [m, k] w^T + b). */
static void
product (const CpuVit   *vit,
         FacetVitLinear  which,
         const float   **w,
         const float   **b,
         int            *n,
         int            *k,
         const char    **name)
{
  const BlockWeights *bw = vit->w;
  int d = vit->dim, hid = vit->hidden;

  switch (which)
    {
    case FACET_VIT_QKV_LINEAR:
      *w = bw->qkvw, *b = bw->qkvb, *n = 3 * d, *k = d, *name = "attn.qkv";
      break;
    case FACET_VIT_PROJ:
      *w = bw->projw, *b = bw->projb, *n = d, *k = d, *name = "attn.proj";
      break;
    case FACET_VIT_FC1:
      *w = bw->fc1w, *b = bw->fc1b, *n = hid, *k = d, *name = "mlp.fc1";
      break;
    case FACET_VIT_FC2:
    default:
      *w = bw->fc2w, *b = bw->fc2b, *n = d, *k = hid, *name = "mlp.fc2";
      break;
    }
}

static float *
grad (CpuVit     *vit,
      const char *name,
      const char *suffix)
{
  char full[96];

  if (vit->grads == NULL)
    return NULL;
  g_snprintf (full, sizeof full, "%s.%d.%s%s", vit->prefix, vit->layer, name, suffix);
  return facet_grads_get (vit->grads, full);
}

static gboolean
all_ones (const float *scale,
          guint        n)
{
  for (guint i = 0; i < n; i++)
    if (scale[i] != 1.0f)
      return FALSE;
  return TRUE;
}

/* y += scale[image] * src, rows of @tokens per image. */
static void
add_scaled_rows (const CpuVit *vit,
                 float        *y,
                 const float  *src,
                 const float  *scale)
{
  gsize per = (gsize) vit->tokens * vit->dim;

  for (guint b = 0; b < vit->batch; b++)
    {
      float s = scale[b];
      float *yb = y + b * per;
      const float *xb = src + b * per;
      if (s == 0.0f)
        continue;
      for (gsize i = 0; i < per; i++)
        yb[i] += s * xb[i];
    }
}

/* Ops ------------------------------------------------------------------------ */

static void
op_block (gpointer ctx,
          int      l)
{
  CpuVit *vit = ctx;

  vit->layer = l;
  vit->bind (vit, l);
}

static void
op_copy (gpointer    ctx,
         FacetVitBuf src,
         FacetVitBuf dst)
{
  CpuVit *vit = ctx;
  float *s = B (vit, src), *d = B (vit, dst);

  if (s != NULL && d != NULL && s != d)
    memcpy (d, s, sizeof (float) * rows (vit) * vit->dim);
}

static void
op_layer_norm (gpointer     ctx,
               FacetVitNorm norm,
               FacetVitBuf  x,
               FacetVitBuf  y)
{
  CpuVit *vit = ctx;
  const BlockWeights *bw = vit->w;
  gboolean first = norm == FACET_VIT_NORM1;

  facet_cpu_par_layer_norm (B (vit, x), B (vit, y), rows (vit), (gsize) vit->dim,
                            first ? bw->n1w : bw->n2w, first ? bw->n1b : bw->n2b, vit->eps,
                            vit->mean[norm], vit->rstd[norm]);
}

static void
linear_bf16 (CpuVit         *vit,
             FacetVitLinear  which,
             const float    *x,
             const float    *bias,
             float          *y,
             float          *aux,
             guint           flags)
{
  const FacetBf16Weight *w = vit->w16[which];
  const float *keep = (flags & FACET_VIT_OP_RESIDUAL) ? vit->keep[which == FACET_VIT_FC2] : NULL;
  int m = (int) rows (vit);

  if (flags & FACET_VIT_OP_GELU)
    {
      if (aux != NULL)
        facet_cpu_linear_bf16_aux (x, w, bias, y, aux, m,
                                   FACET_BF16_BIAS | FACET_BF16_GELU | FACET_BF16_KEEP_PRE);
      else
        facet_cpu_linear_bf16 (x, w, bias, y, m, FACET_BF16_BIAS | FACET_BF16_GELU);
    }
  else if ((flags & FACET_VIT_OP_RESIDUAL) && keep != NULL && !all_ones (keep, vit->batch))
    {
      float *tmp = vit->buf[FACET_VIT_DTMP];
      facet_cpu_linear_bf16 (x, w, bias, tmp, m, FACET_BF16_BIAS);
      add_scaled_rows (vit, y, tmp, keep);
    }
  else
    facet_cpu_linear_bf16 (x, w, bias, y, m,
                           FACET_BF16_BIAS
                             | ((flags & FACET_VIT_OP_RESIDUAL) ? FACET_BF16_ACCUMULATE : 0));
}

static void
op_linear (gpointer       ctx,
           FacetVitLinear which,
           FacetVitBuf    xb,
           FacetVitBuf    yb,
           FacetVitBuf    auxb,
           guint          flags)
{
  CpuVit *vit = ctx;
  const float *w, *bias, *x = B (vit, xb);
  const char *name;
  float *y = B (vit, yb), *aux = B (vit, auxb);
  int n, k, m = (int) rows (vit);
  gboolean residual = (flags & FACET_VIT_OP_RESIDUAL) != 0;
  const float *keep = residual ? vit->keep[which == FACET_VIT_FC2] : NULL;

  product (vit, which, &w, &bias, &n, &k, &name);
  if (vit->bf16)
    {
      linear_bf16 (vit, which, x, bias, y, aux, flags);
      return;
    }
  if (vit->grouped)
    {
      /* inference: per-image products; fc1's bias and GELU in one pass */
      g_assert (keep == NULL && aux == NULL);
      if (flags & FACET_VIT_OP_GELU)
        {
          facet_cpu_linear_grouped (x, w, NULL, y, m, n, k, FALSE, vit->tokens);
          facet_cpu_par_bias_gelu (y, bias, (gsize) m, (gsize) n);
        }
      else
        facet_cpu_linear_grouped (x, w, bias, y, m, n, k, residual, vit->tokens);
      return;
    }
  if (flags & FACET_VIT_OP_GELU)
    {
      /* GELU's input kept in aux */
      facet_cpu_linear (x, w, bias, aux, m, n, k, FALSE);
      facet_cpu_gelu (aux, y, (gsize) m * n);
    }
  else if (keep != NULL)
    {
      float *tmp = vit->buf[FACET_VIT_DTMP];
      facet_cpu_linear (x, w, bias, tmp, m, n, k, FALSE);
      add_scaled_rows (vit, y, tmp, keep);
    }
  else
    facet_cpu_linear (x, w, bias, y, m, n, k, residual);
}

static void
op_attention (gpointer    ctx,
              FacetVitBuf qkv,
              FacetVitBuf out)
{
  CpuVit *vit = ctx;

  if (vit->bf16)
    facet_cpu_attention_bf16 (B (vit, qkv), B (vit, out), vit->probs, vit->probs_mean,
                              (int) vit->batch, vit->tokens, vit->heads, vit->dim);
  else
    facet_cpu_attention (B (vit, qkv), B (vit, out), vit->probs, vit->probs_mean,
                         (int) vit->batch, vit->tokens, vit->heads, vit->dim);
}

static void
op_gelu (gpointer    ctx,
         FacetVitBuf x,
         FacetVitBuf y)
{
  CpuVit *vit = ctx;

  if (!vit->act_kept)
    facet_cpu_gelu (B (vit, x), B (vit, y), rows (vit) * vit->hidden);
}

static FacetVitBuf
op_drop_path_grad (gpointer       ctx,
                   FacetVitBranch branch,
                   FacetVitBuf    dy,
                   FacetVitBuf    tmp)
{
  CpuVit *vit = ctx;
  const float *keep = vit->keep[branch];
  gsize per = (gsize) vit->tokens * vit->dim;
  const float *src = B (vit, dy);
  float *dst = B (vit, tmp);

  /* a factor of 1 changes nothing: the gradient as it is */
  if (keep == NULL || all_ones (keep, vit->batch))
    return dy;
  for (guint b = 0; b < vit->batch; b++)
    for (gsize i = 0; i < per; i++)
      dst[b * per + i] = keep[b] * src[b * per + i];
  return tmp;
}

static void
op_linear_backward (gpointer       ctx,
                    FacetVitLinear which,
                    FacetVitBuf    x,
                    FacetVitBuf    dy,
                    FacetVitBuf    dx,
                    FacetVitBuf    aux,
                    guint          flags)
{
  CpuVit *vit = ctx;
  const float *w, *bias;
  const char *name;
  int n, k, m = (int) rows (vit);
  float *gelu_pre = (flags & FACET_VIT_OP_GELU_GRAD) ? B (vit, aux) : NULL;

  product (vit, which, &w, &bias, &n, &k, &name);
  if (vit->bf16)
    {
      facet_cpu_linear_backward_bf16 (B (vit, x), vit->wt16[which], B (vit, dy), m, n, k,
                                      B (vit, dx), gelu_pre, grad (vit, name, ".weight"),
                                      grad (vit, name, ".bias"));
      return;
    }
  facet_cpu_linear_backward (B (vit, x), w, B (vit, dy), m, n, k, B (vit, dx), FALSE,
                             grad (vit, name, ".weight"), grad (vit, name, ".bias"));
  if (gelu_pre != NULL)
    facet_cpu_gelu_backward (gelu_pre, B (vit, dx), B (vit, dx), (gsize) m * k);
}

static void
op_layer_norm_backward (gpointer     ctx,
                        FacetVitNorm norm,
                        FacetVitBuf  x,
                        FacetVitBuf  dy,
                        FacetVitBuf  dx)
{
  CpuVit *vit = ctx;
  gboolean first = norm == FACET_VIT_NORM1;

  facet_cpu_layer_norm_backward (B (vit, x), B (vit, dy), first ? vit->w->n1w : vit->w->n2w,
                                 vit->mean[norm], vit->rstd[norm], rows (vit), (gsize) vit->dim,
                                 B (vit, dx), grad (vit, first ? "norm1" : "norm2", ".weight"),
                                 grad (vit, first ? "norm1" : "norm2", ".bias"));
}

static void
op_attention_backward (gpointer    ctx,
                       FacetVitBuf qkv,
                       FacetVitBuf dout,
                       FacetVitBuf dqkv)
{
  CpuVit *vit = ctx;

  if (vit->attention_hook != NULL)
    vit->attention_hook (vit);
  if (vit->bf16)
    facet_cpu_attention_backward_bf16 (B (vit, qkv), vit->probs, B (vit, dout), B (vit, dqkv),
                                       vit->dprobs, (int) vit->batch, vit->tokens, vit->heads,
                                       vit->dim);
  else
    facet_cpu_attention_backward (B (vit, qkv), vit->probs, B (vit, dout), B (vit, dqkv),
                                  vit->dprobs, (int) vit->batch, vit->tokens, vit->heads,
                                  vit->dim);
}

const FacetVitOps facet_cpu_vit_ops = {
  .block = op_block,
  .copy = op_copy,
  .layer_norm = op_layer_norm,
  .linear = op_linear,
  .attention = op_attention,
  .gelu = op_gelu,
  .drop_path_grad = op_drop_path_grad,
  .linear_backward = op_linear_backward,
  .layer_norm_backward = op_layer_norm_backward,
  .attention_backward = op_attention_backward,
};

/* Points the kept roles at @saved (a pass's bind calls this for block l). */
void
facet_cpu_vit_bind_saved (CpuVit            *vit,
                          const CpuVitSaved *saved)
{
  vit->buf[FACET_VIT_X_IN] = saved->x_in;
  vit->buf[FACET_VIT_X_MID] = saved->x_mid;
  vit->buf[FACET_VIT_H1] = saved->h1;
  vit->buf[FACET_VIT_H2] = saved->h2;
  vit->buf[FACET_VIT_QKV] = saved->qkv;
  vit->buf[FACET_VIT_ATTN] = saved->attn;
  vit->buf[FACET_VIT_HID] = saved->pre;
  if (saved->act != NULL)
    vit->buf[FACET_VIT_ACT] = saved->act;
  vit->mean[0] = saved->mean1;
  vit->rstd[0] = saved->rstd1;
  vit->mean[1] = saved->mean2;
  vit->rstd[1] = saved->rstd2;
  vit->probs = saved->probs;
}
