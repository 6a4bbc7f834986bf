/* cpu-backend.c — the reference backend: OpenBLAS for products, our own
 * vectorised kernels for everything between them
 *
 * Threads: one threading model only. OpenBLAS runs single-threaded and every
 * parallel step goes through our worker pool, whose threads sleep when idle:
 * large products are split by rows (as fast as OpenBLAS's own threads on
 * these shapes), attention is spread over (image, head) pairs, and the
 * elementwise passes over row blocks. OpenBLAS's own workers would instead
 * spin (sched_yield) between products and steal the second core from the
 * passes in between.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "core/core-pool.h"
#include "cpu-backend.h"
#include "cpu-kernels.h"
#include "engine/engine-error.h"

#include "cpu-private.h"

/* Products ------------------------------------------------------------------ */

/* Splitting below this much work costs more in wake-ups than it gains. */
#define PARALLEL_MIN_FLOPS 4.0e6
#define PARALLEL_MIN_ROWS  8

typedef struct
{
  gboolean     trans_a, trans_b;
  int          m, n, k;
  float        alpha, beta;
  const float *a;
  int          lda;
  const float *b;
  int          ldb;
  float       *c;
  int          ldc;
  guint        parts;
  gboolean     split_rows;
} GemmJob;

static void
gemm_part (guint    index,
           gpointer data)
{
  GemmJob *j = data;
  int total = j->split_rows ? j->m : j->n;
  int lo = (int) ((gint64) total * index / j->parts);
  int hi = (int) ((gint64) total * (index + 1) / j->parts);
  CBLAS_TRANSPOSE ta = j->trans_a ? CblasTrans : CblasNoTrans;
  CBLAS_TRANSPOSE tb = j->trans_b ? CblasTrans : CblasNoTrans;

  if (hi <= lo)
    return;
  if (j->split_rows)
    cblas_sgemm (CblasRowMajor, ta, tb, hi - lo, j->n, j->k, j->alpha,
                 j->a + (j->trans_a ? (gsize) lo : (gsize) lo * j->lda), j->lda, j->b, j->ldb,
                 j->beta, j->c + (gsize) lo * j->ldc, j->ldc);
  else
    cblas_sgemm (CblasRowMajor, ta, tb, j->m, hi - lo, j->k, j->alpha, j->a, j->lda,
                 j->b + (j->trans_b ? (gsize) lo * j->ldb : (gsize) lo), j->ldb, j->beta,
                 j->c + lo, j->ldc);
}

/**
 * facet_cpu_gemm:
 *
 * C = alpha op(A) op(B) + beta C, row-major, split over the worker pool by
 * rows of C (or by columns when C has few rows). Each part is a
 * single-threaded OpenBLAS call.
 */
void
facet_cpu_gemm (gboolean     trans_a,
                gboolean     trans_b,
                int          m,
                int          n,
                int          k,
                float        alpha,
                const float *a,
                int          lda,
                const float *b,
                int          ldb,
                float        beta,
                float       *c,
                int          ldc)
{
  GemmJob job = { trans_a, trans_b, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc, 1, TRUE };
  guint threads = facet_parallel_get_threads ();

  if (m == 0 || n == 0)
    return;
  facet_cpu_blas_init ();
  if (threads > 1 && 2.0 * m * n * k >= PARALLEL_MIN_FLOPS)
    {
      job.split_rows = m >= (int) threads * PARALLEL_MIN_ROWS;
      if (job.split_rows || n >= (int) threads * PARALLEL_MIN_ROWS)
        job.parts = threads;
    }
  if (job.parts > 1)
    facet_parallel_for (job.parts, gemm_part, &job);
  else
    gemm_part (0, &job);
}

/**
 * facet_cpu_blas_init:
 *
 * Puts OpenBLAS in single-threaded mode (once): parallelism is ours.
 */
void
facet_cpu_blas_init (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      openblas_set_num_threads (1);
      g_once_init_leave (&once, 1);
    }
}

typedef struct
{
  float       *y;
  const float *x, *bias, *gamma, *beta;
  gsize        m, n;
  float        eps;
  float       *mean, *rstd;
  guint        parts;
  int          kind;
} RowJob;

enum
{
  ROWS_ADD_BIAS,
  ROWS_BIAS_GELU,
  ROWS_LAYER_NORM,
};

static void
rows_part (guint    index,
           gpointer data)
{
  RowJob *j = data;
  gsize lo = j->m * index / j->parts, hi = j->m * (index + 1) / j->parts;

  if (hi <= lo)
    return;
  switch (j->kind)
    {
    case ROWS_ADD_BIAS:
      facet_cpu_add_bias (j->y + lo * j->n, j->bias, hi - lo, j->n);
      break;
    case ROWS_BIAS_GELU:
      facet_cpu_bias_gelu (j->y + lo * j->n, j->bias, hi - lo, j->n);
      break;
    case ROWS_LAYER_NORM:
    default:
      facet_cpu_layer_norm (j->x + lo * j->n, j->y + lo * j->n, hi - lo, j->n, j->gamma, j->beta,
                            j->eps, j->mean ? j->mean + lo : NULL, j->rstd ? j->rstd + lo : NULL);
      break;
    }
}

static void
run_rows (RowJob *job)
{
  guint threads = facet_parallel_get_threads ();

  job->parts = job->m * job->n >= 65536 && job->m >= threads ? threads : 1;
  if (job->parts > 1)
    facet_parallel_for (job->parts, rows_part, job);
  else
    rows_part (0, job);
}

/* The row kernels of cpu-kernels.c, spread over the pool for large inputs. */
void
facet_cpu_par_add_bias (float       *y,
                        const float *bias,
                        gsize        m,
                        gsize        n)
{
  RowJob job = { .y = y, .bias = bias, .m = m, .n = n, .kind = ROWS_ADD_BIAS };
  run_rows (&job);
}

void
facet_cpu_par_bias_gelu (float       *y,
                         const float *bias,
                         gsize        m,
                         gsize        n)
{
  RowJob job = { .y = y, .bias = bias, .m = m, .n = n, .kind = ROWS_BIAS_GELU };
  run_rows (&job);
}

void
facet_cpu_par_layer_norm (const float *x,
                          float       *y,
                          gsize        m,
                          gsize        n,
                          const float *gamma,
                          const float *beta,
                          float        eps,
                          float       *mean,
                          float       *rstd)
{
  RowJob job = { .y = y, .x = x, .gamma = gamma, .beta = beta, .m = m, .n = n, .eps = eps,
                 .mean = mean, .rstd = rstd, .kind = ROWS_LAYER_NORM };
  run_rows (&job);
}

/**
 * facet_cpu_linear:
 * @w: [n, k], as PyTorch stores Linear weights
 * @bias: (nullable): [n]
 * @accumulate: add to @y instead of overwriting it (residual connections)
 *
 * y[m, n] (+)= x[m, k] w^T + bias.
 */
void
facet_cpu_linear (const float *x,
                  const float *w,
                  const float *bias,
                  float       *y,
                  int          m,
                  int          n,
                  int          k,
                  gboolean     accumulate)
{
  if (m == 0 || n == 0)
    return;
  if (k == 0)
    {
      if (!accumulate)
        memset (y, 0, sizeof (float) * (gsize) m * n);
    }
  else
    facet_cpu_gemm (FALSE, TRUE, m, n, k, 1.0f, x, k, w, k, accumulate ? 1.0f : 0.0f, y, n);
  if (bias != NULL)
    facet_cpu_par_add_bias (y, bias, (gsize) m, (gsize) n);
}

/* Batch-invariant products.
 *
 * OpenBLAS's kernels do not compute every row of C the same way: on some
 * processors (the Haswell kernels, for one) a row's rounding depends on its
 * place in the call and on how many rows the call has. A product over a whole
 * batch would then give an image slightly different results depending on its
 * neighbours, and an analysis resumed, sharded or run with another --batch
 * would not store the same predictions. Here each image's rows go through
 * calls of their own, split at fixed places (a group of 64 rows or more into
 * two halves, for the threads), so the arithmetic of a row depends only on
 * the image's own row count. */
typedef struct
{
  const float *x, *w;
  float       *y;
  int          n, k;
  float        beta;
  int          group, block, per_group, units;
  guint        parts;
} GroupedJob;

static void
grouped_part (guint    index,
              gpointer data)
{
  GroupedJob *j = data;
  int lo = (int) ((gint64) j->units * index / j->parts);
  int hi = (int) ((gint64) j->units * (index + 1) / j->parts);

  for (int u = lo; u < hi; u++)
    {
      int g = u / j->per_group, b = u % j->per_group;
      gsize r0 = (gsize) g * j->group + (gsize) b * j->block;
      int rows = MIN (j->block, j->group - b * j->block);

      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, rows, j->n, j->k, 1.0f,
                   j->x + r0 * j->k, j->k, j->w, j->k, j->beta, j->y + r0 * j->n, j->n);
    }
}

void
facet_cpu_linear_grouped (const float *x,
                          const float *w,
                          const float *bias,
                          float       *y,
                          int          m,
                          int          n,
                          int          k,
                          gboolean     accumulate,
                          int          group)
{
  GroupedJob job = { x, w, y, n, k, accumulate ? 1.0f : 0.0f, group, group, 1, 0, 1 };
  guint threads = facet_parallel_get_threads ();

  g_assert (group > 0 && m % group == 0);
  if (m == 0 || n == 0 || k == 0)
    {
      facet_cpu_linear (x, w, bias, y, m, n, k, accumulate);
      return;
    }
  facet_cpu_blas_init ();
  if (group >= 64)
    {
      /* Two halves, the first a multiple of 16 rows. */
      job.block = ((group + 1) / 2 + 15) / 16 * 16;
      job.per_group = (group + job.block - 1) / job.block;
    }
  job.units = m / group * job.per_group;
  if (threads > 1 && 2.0 * m * n * k >= PARALLEL_MIN_FLOPS)
    job.parts = MIN (threads, (guint) job.units);
  if (job.parts > 1)
    facet_parallel_for (job.parts, grouped_part, &job);
  else
    grouped_part (0, &job);
  if (bias != NULL)
    facet_cpu_par_add_bias (y, bias, (gsize) m, (gsize) n);
}

typedef struct
{
  const float *qkv;
  float       *out;
  float       *probs;
  int          tokens, heads, dim;
  gboolean     bf16;
} AttnJob;

static void
attention_item (guint    index,
                gpointer data)
{
  AttnJob *job = data;
  int t = job->tokens, d = job->dim, dh = d / job->heads;
  int b = (int) index / job->heads, h = (int) index % job->heads;
  const float *q = job->qkv + (gsize) b * t * 3 * d + (gsize) h * dh;
  const float *k = q + d;
  const float *v = q + 2 * d;
  float *s = job->probs + (gsize) index * t * t;
  float *o = job->out + (gsize) b * t * d + (gsize) h * dh;

  if (job->bf16)
    {
      facet_cpu_attention_head_bf16 (q, k, v, (gsize) 3 * d, t, dh, 1.0f / sqrtf ((float) dh), s,
                                     o, (gsize) d);
      return;
    }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dh, 1.0f, q, 3 * d, k, 3 * d, 0.0f,
               s, t);
  facet_cpu_softmax_rows (s, (gsize) t, (gsize) t, (gsize) t, 1.0f / sqrtf ((float) dh));
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, t, dh, t, 1.0f, s, t, v, 3 * d, 0.0f,
               o, d);
}

typedef struct
{
  const float *probs;
  float       *mean;
  int          tokens, heads;
} MeanJob;

static void
head_mean_item (guint    b,
                gpointer data)
{
  MeanJob *job = data;
  gsize tt = (gsize) job->tokens * job->tokens;
  float *dst = job->mean + b * tt;
  float inv = 1.0f / (float) job->heads;

  memcpy (dst, job->probs + (gsize) b * job->heads * tt, tt * sizeof (float));
  for (int h = 1; h < job->heads; h++)
    facet_cpu_add (dst, job->probs + ((gsize) b * job->heads + h) * tt, dst, tt);
  for (gsize i = 0; i < tt; i++)
    dst[i] *= inv;
}

/**
 * facet_cpu_attention:
 * @qkv: [batch * tokens, 3 * dim]: q, k, v side by side, heads contiguous in each
 * @out: [batch * tokens, dim]
 * @probs: scratch of batch * heads * tokens^2 floats; holds the softmax
 *   probabilities afterwards (the backward pass needs them)
 * @probs_mean: (nullable): [batch, tokens, tokens], probabilities averaged over heads
 */
static void
attention (const float *qkv,
           float       *out,
           float       *probs,
           float       *probs_mean,
           int          batch,
           int          tokens,
           int          heads,
           int          dim,
           gboolean     bf16)
{
  AttnJob job = { qkv, out, probs, tokens, heads, dim, bf16 };

  facet_cpu_blas_init ();
  facet_parallel_for ((guint) (batch * heads), attention_item, &job);

  if (probs_mean != NULL)
    {
      MeanJob mj = { probs, probs_mean, tokens, heads };
      facet_parallel_for ((guint) batch, head_mean_item, &mj);
    }
}

void
facet_cpu_attention (const float *qkv,
                     float       *out,
                     float       *probs,
                     float       *probs_mean,
                     int          batch,
                     int          tokens,
                     int          heads,
                     int          dim)
{
  attention (qkv, out, probs, probs_mean, batch, tokens, heads, dim, FALSE);
}

/* The same with both products of each head in bf16 (softmax in fp32). */
void
facet_cpu_attention_bf16 (const float *qkv,
                          float       *out,
                          float       *probs,
                          float       *probs_mean,
                          int          batch,
                          int          tokens,
                          int          heads,
                          int          dim)
{
  attention (qkv, out, probs, probs_mean, batch, tokens, heads, dim, TRUE);
}

/* images [batch, 3, image, image] -> patches [batch * grid^2, 3 * patch^2], in
 * the order of a flattened Conv2d weight (channel, row, column). */
void
facet_cpu_patchify (const float *images,
                    float       *patches,
                    int          batch,
                    int          image,
                    int          patch)
{
  int grid = image / patch, k = 3 * patch * patch;

  for (int b = 0; b < batch; b++)
    for (int py = 0; py < grid; py++)
      for (int px = 0; px < grid; px++)
        {
          float *dst = patches + ((gsize) b * grid * grid + (gsize) py * grid + px) * k;
          for (int c = 0; c < 3; c++)
            for (int ky = 0; ky < patch; ky++)
              memcpy (dst + (c * patch + ky) * patch,
                      images + (((gsize) b * 3 + c) * image + (gsize) py * patch + ky) * image
                        + (gsize) px * patch,
                      sizeof (float) * (gsize) patch);
        }
}

/* x [batch, tokens, dim] = the class token and the patch embeddings @emb
 * [batch, tokens - 1, dim], each plus its row of the position table. */
void
facet_cpu_add_cls_pos (float       *x,
                       const float *emb,
                       const float *cls,
                       const float *pos,
                       guint        batch,
                       int          tokens,
                       int          dim)
{
  gsize np = (gsize) tokens - 1, d = (gsize) dim;

  for (guint b = 0; b < batch; b++)
    {
      float *xb = x + (gsize) b * tokens * d;
      facet_cpu_add (cls, pos, xb, d);
      facet_cpu_add (emb + (gsize) b * np * d, pos + d, xb + d, np * d);
    }
}

/* The readout's input per image: the mean of the patch tokens (@global)
 * or the class token. */
void
facet_cpu_pool (const float *x,
                float       *pooled,
                guint        batch,
                int          tokens,
                int          dim,
                gboolean     global)
{
  for (guint b = 0; b < batch; b++)
    {
      float *dst = pooled + (gsize) b * dim;
      const float *xb = x + (gsize) b * tokens * dim;

      if (global)
        {
          memset (dst, 0, sizeof (float) * (gsize) dim);
          for (int p = 1; p < tokens; p++)
            facet_cpu_add (dst, xb + (gsize) p * dim, dst, (gsize) dim);
          for (int j = 0; j < dim; j++)
            dst[j] /= (float) (tokens - 1);
        }
      else
        memcpy (dst, xb, sizeof (float) * (gsize) dim);
    }
}

/* Its backward: dx [batch, tokens, dim] overwritten from @dpooled. */
void
facet_cpu_pool_backward (const float *dpooled,
                         float       *dx,
                         guint        batch,
                         int          tokens,
                         int          dim,
                         gboolean     global)
{
  memset (dx, 0, sizeof (float) * batch * (gsize) tokens * dim);
  for (guint b = 0; b < batch; b++)
    {
      const float *dp = dpooled + (gsize) b * dim;
      float *dxb = dx + (gsize) b * tokens * dim;

      if (global)
        for (int p = 1; p < tokens; p++)
          for (int j = 0; j < dim; j++)
            dxb[(gsize) p * dim + j] = dp[j] / (float) (tokens - 1);
      else
        memcpy (dxb, dp, sizeof (float) * (gsize) dim);
    }
}

/**
 * facet_cpu_rollout:
 * @probs: [depth, batch, tokens, tokens], head-averaged attention of each layer
 * @out: [batch, tokens - 1]
 *
 * Attention rollout: with A' = (A + I) / 2 per layer, the relevance of input
 * token j to the readout is r^T A'_L ... A'_1, where r is the readout's
 * weighting of the last layer's tokens (the patch mean, or the class token).
 * Computed right to left as vector-matrix products.
 */
void
facet_cpu_rollout (const float *probs,
                   float       *out,
                   int          batch,
                   int          tokens,
                   int          depth,
                   gboolean     cls_readout)
{
  g_autofree float *v = g_new (float, tokens);
  g_autofree float *w = g_new (float, tokens);
  gsize tt = (gsize) tokens * tokens;

  for (int b = 0; b < batch; b++)
    {
      for (int i = 0; i < tokens; i++)
        v[i] = cls_readout ? (i == 0 ? 1.0f : 0.0f) : (i == 0 ? 0.0f : 1.0f / (tokens - 1));
      for (int l = depth - 1; l >= 0; l--)
        {
          const float *a = probs + ((gsize) l * batch + b) * tt;
          cblas_sgemv (CblasRowMajor, CblasTrans, tokens, tokens, 0.5f, a, tokens, v, 1, 0.0f, w,
                       1);
          for (int i = 0; i < tokens; i++)
            v[i] = w[i] + 0.5f * v[i];
        }
      memcpy (out + (gsize) b * (tokens - 1), v + 1, sizeof (float) * (gsize) (tokens - 1));
    }
}

/* The backend ---------------------------------------------------------------- */

static void
free_scratch (CpuBackend *self)
{
  g_clear_pointer (&self->x, g_aligned_free);
  g_clear_pointer (&self->h, g_aligned_free);
  g_clear_pointer (&self->qkv, g_aligned_free);
  g_clear_pointer (&self->attn, g_aligned_free);
  g_clear_pointer (&self->mlp, g_aligned_free);
  g_clear_pointer (&self->patches, g_aligned_free);
  g_clear_pointer (&self->probs, g_aligned_free);
  g_clear_pointer (&self->probs_mean, g_aligned_free);
  g_clear_pointer (&self->pooled_raw, g_aligned_free);
  g_clear_pointer (&self->row_mean, g_aligned_free);
  g_clear_pointer (&self->row_rstd, g_aligned_free);
  self->cap_batch = 0;
  self->cap_probs = FALSE;
}

static float *
alloc_floats (gsize n)
{
  return g_aligned_alloc (MAX (n, 1), sizeof (float), 64);
}

/* Grows the scratch buffers for @batch images; never shrinks them. */
void
facet_cpu_ensure_scratch (CpuBackend *self,
                guint       batch,
                gboolean    keep_probs)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  gsize t = (gsize) facet_model_config_tokens (c), d = (gsize) c->dim;
  gsize p = (gsize) facet_model_config_grid (c) * facet_model_config_grid (c);
  gsize k = 3 * (gsize) c->patch_size * c->patch_size;

  if (batch <= self->cap_batch && (!keep_probs || self->cap_probs))
    return;
  batch = MAX (batch, self->cap_batch);
  keep_probs = keep_probs || self->cap_probs;
  free_scratch (self);

  self->x = alloc_floats (batch * t * d);
  self->h = alloc_floats (batch * t * MAX (d, (gsize) c->n_aus));
  self->qkv = alloc_floats (batch * t * 3 * d);
  self->attn = alloc_floats (batch * t * d);
  self->mlp = alloc_floats (batch * t * (gsize) c->mlp_hidden);
  self->patches = alloc_floats (batch * p * k);
  self->probs = alloc_floats (batch * (gsize) c->heads * t * t);
  if (keep_probs)
    self->probs_mean = alloc_floats ((gsize) c->depth * batch * t * t);
  self->pooled_raw = alloc_floats (batch * d);
  self->row_mean = alloc_floats (batch);
  self->row_rstd = alloc_floats (batch);
  self->cap_batch = batch;
  self->cap_probs = keep_probs;
}

/* Drops the bf16 copies of blocks [@first, depth) (and of the patch
 * embedding with @embedding); the next forward makes them anew. */
static void
drop_bf16 (CpuBackend *self,
           int         first,
           gboolean    embedding)
{
  const FacetModelConfig *c;

  if (self->parent.model == NULL || self->blocks == NULL)
    return;
  c = facet_model_get_config (self->parent.model);
  for (int l = MAX (first, 0); l < c->depth; l++)
    {
      BlockWeights *bw = &self->blocks[l];
      g_clear_pointer (&bw->qkv16, facet_bf16_weight_free);
      g_clear_pointer (&bw->proj16, facet_bf16_weight_free);
      g_clear_pointer (&bw->fc1_16, facet_bf16_weight_free);
      g_clear_pointer (&bw->fc2_16, facet_bf16_weight_free);
    }
  if (embedding)
    g_clear_pointer (&self->pe16, facet_bf16_weight_free);
}

/* The bf16 copies of block @l (or the patch embedding, @l < 0), made from
 * the current fp32 weights where missing. */
static void
ensure_bf16 (CpuBackend *self,
             int         l)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  int d = c->dim, hid = c->mlp_hidden, k = 3 * c->patch_size * c->patch_size;
  BlockWeights *bw;

  if (l < 0)
    {
      if (self->pe16 == NULL)
        self->pe16 = facet_bf16_weight_new (self->pe_w, d, k);
      return;
    }
  bw = &self->blocks[l];
  if (bw->qkv16 == NULL)
    bw->qkv16 = facet_bf16_weight_new (bw->qkvw, 3 * d, d);
  if (bw->proj16 == NULL)
    bw->proj16 = facet_bf16_weight_new (bw->projw, d, d);
  if (bw->fc1_16 == NULL)
    bw->fc1_16 = facet_bf16_weight_new (bw->fc1w, hid, d);
  if (bw->fc2_16 == NULL)
    bw->fc2_16 = facet_bf16_weight_new (bw->fc2w, d, hid);
}

static void
cpu_free (FacetBackend *backend)
{
  CpuBackend *self = (CpuBackend *) backend;

  drop_bf16 (self, 0, TRUE);
  free_scratch (self);
  facet_cpu_train_state_free (self->train);
  facet_cpu_mae_state_free (self->mae);
  g_free (self->blocks);
  g_free (self->head_wg);
  g_free (self->head_wg_sum);
  g_clear_pointer (&self->parent.model, facet_model_unref);
  g_free (self);
}

static char *
cpu_describe (FacetBackend *backend)
{
  CpuBackend *self = (CpuBackend *) backend;

  if (self->precision == FACET_PRECISION_BF16)
    return g_strdup_printf ("CPU (bf16 products with AVX512-BF16, OpenBLAS %s kernels for the "
                            "rest, %u threads)", openblas_get_corename (),
                            facet_parallel_get_threads ());
  return g_strdup_printf ("CPU (OpenBLAS %s kernels, %u threads)", openblas_get_corename (),
                          facet_parallel_get_threads ());
}

static gboolean
cpu_load_model (FacetBackend *backend,
                FacetModel   *model,
                GError      **error)
{
  CpuBackend *self = (CpuBackend *) backend;
  const FacetModelConfig *c = facet_model_get_config (model);
  gboolean global = c->readout == FACET_READOUT_GLOBAL_POOL;

  free_scratch (self);
  drop_bf16 (self, 0, TRUE);
  g_clear_pointer (&self->train, facet_cpu_train_state_free);
  g_clear_pointer (&self->mae, facet_cpu_mae_state_free);
  g_clear_pointer (&self->blocks, g_free);
  g_clear_pointer (&self->head_wg, g_free);
  g_clear_pointer (&self->head_wg_sum, g_free);
  g_clear_pointer (&self->parent.model, facet_model_unref);
  self->parent.model = facet_model_ref (model);

#define W(name) facet_model_get_weights (model, name)
  self->cls = W ("cls_token");
  self->pos = W ("pos_embed");
  self->pe_w = W ("patch_embed.proj.weight");
  self->pe_b = W ("patch_embed.proj.bias");
  self->norm_w = W (global ? "fc_norm.weight" : "norm.weight");
  self->norm_b = W (global ? "fc_norm.bias" : "norm.bias");
  self->head_w = W ("head.weight");
  self->head_b = W ("head.bias");
  self->id_w = W ("ID_head.weight");
  self->id_b = W ("ID_head.bias");
  self->blocks = g_new0 (BlockWeights, MAX (c->depth, 1));
  for (int i = 0; i < c->depth; i++)
    {
      BlockWeights *bw = &self->blocks[i];
#define BW(field, suffix)                                                  \
  G_STMT_START                                                             \
  {                                                                        \
    g_autofree char *n = g_strdup_printf ("blocks.%d.%s", i, suffix);      \
    bw->field = W (n);                                                     \
  }                                                                        \
  G_STMT_END
      BW (n1w, "norm1.weight");
      BW (n1b, "norm1.bias");
      BW (qkvw, "attn.qkv.weight");
      BW (qkvb, "attn.qkv.bias");
      BW (projw, "attn.proj.weight");
      BW (projb, "attn.proj.bias");
      BW (n2w, "norm2.weight");
      BW (n2b, "norm2.bias");
      BW (fc1w, "mlp.fc1.weight");
      BW (fc1b, "mlp.fc1.bias");
      BW (fc2w, "mlp.fc2.weight");
      BW (fc2b, "mlp.fc2.bias");
#undef BW
      if (!bw->n1w || !bw->n1b || !bw->qkvw || !bw->qkvb || !bw->projw || !bw->projb || !bw->n2w
          || !bw->n2b || !bw->fc1w || !bw->fc1b || !bw->fc2w || !bw->fc2b)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                       "block %d of the model is incomplete", i);
          return FALSE;
        }
    }
#undef W
  if (!self->cls || !self->pos || !self->pe_w || !self->pe_b || !self->norm_w || !self->norm_b
      || (c->n_aus > 0 && (!self->head_w || !self->head_b))
      || (c->n_subjects > 0 && (!self->id_w || !self->id_b)))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                   "the model lacks tensors the forward pass needs");
      return FALSE;
    }

  /* bf16 weights once, at load */
  if (self->precision == FACET_PRECISION_BF16)
    for (int l = -1; l < c->depth; l++)
      ensure_bf16 (self, l);
  return TRUE;
}

/* The per-AU split of each logit over the patches (global-pool models):
 * logit_a = sum_p (U[p, a] - mu s_a) rstd / N + (w_a . beta + b_a), with
 * U = tokens (w_a * gamma)^T and mu, rstd the statistics of the pooled mean. */
static void
au_maps (CpuBackend         *self,
         guint               batch,
         FacetForwardResult *r)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  int t = facet_model_config_tokens (c), n = t - 1, a = c->n_aus, d = c->dim;
  float *u = self->h; /* free at this point: [n, a] per image */

  /* Fold the final norm's gamma into the head (cheap; weights may have
   * changed since the last call when training). */
  self->head_wg = g_renew (float, self->head_wg, (gsize) a * d);
  self->head_wg_sum = g_renew (float, self->head_wg_sum, a);
  for (int i = 0; i < a; i++)
    {
      self->head_wg_sum[i] = 0.0f;
      for (int j = 0; j < d; j++)
        {
          float v = self->head_w[(gsize) i * d + j] * self->norm_w[j];
          self->head_wg[(gsize) i * d + j] = v;
          self->head_wg_sum[i] += v;
        }
    }
  for (int i = 0; i < a; i++)
    {
      float s = self->head_b[i];
      for (int j = 0; j < d; j++)
        s += self->head_w[(gsize) i * d + j] * self->norm_b[j];
      r->au_map_bias[i] = s;
    }
  for (guint b = 0; b < batch; b++)
    {
      const float *tokens = self->x + ((gsize) b * t + 1) * d;
      float mu = self->row_mean[b], rstd = self->row_rstd[b];
      float *out = r->au_maps + (gsize) b * a * n;

      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, a, d, 1.0f, tokens, d,
                   self->head_wg, d, 0.0f, u, a);
      for (int p = 0; p < n; p++)
        for (int i = 0; i < a; i++)
          out[(gsize) i * n + p] = (u[(gsize) p * a + i] - mu * self->head_wg_sum[i]) * rstd / n;
    }
}

/* Inference: the blocks' roles on the backend's scratch, nothing kept. */
typedef struct
{
  CpuBackend *self;
  float      *probs_mean;
} InferBind;

static void
infer_bind (CpuVit *vit,
            int     l)
{
  InferBind *ib = vit->data;
  CpuBackend *self = ib->self;
  BlockWeights *bw = &self->blocks[l];

  vit->w = bw;
  if (vit->bf16)
    {
      ensure_bf16 (self, l);
      vit->w16[FACET_VIT_QKV_LINEAR] = bw->qkv16;
      vit->w16[FACET_VIT_PROJ] = bw->proj16;
      vit->w16[FACET_VIT_FC1] = bw->fc1_16;
      vit->w16[FACET_VIT_FC2] = bw->fc2_16;
    }
  if (ib->probs_mean != NULL)
    vit->probs_mean = ib->probs_mean + (gsize) l * vit->batch * vit->tokens * vit->tokens;
}

/**
 * facet_cpu_infer_blocks:
 * @x: [batch * tokens, dim], updated in place
 * @last: blocks [0, @last) run
 * @probs_mean: (nullable): where to put each layer's head-averaged attention
 *
 * The blocks for inference (engine-vit.h's description on the CPU ops),
 * using the backend's scratch (which must be sized for @batch). In bf16
 * the four products and the two of attention run in bf16 (fp32 sums),
 * epilogues fused; LayerNorm and softmax stay fp32.
 */
void
facet_cpu_infer_blocks (CpuBackend *self,
                        float      *x,
                        guint       batch,
                        int         last,
                        float      *probs_mean)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  InferBind ib = { self, probs_mean };
  CpuVit vit = {
    .batch = batch, .tokens = facet_model_config_tokens (c), .dim = c->dim, .heads = c->heads,
    .hidden = c->mlp_hidden, .eps = c->ln_eps,
    .bf16 = self->precision == FACET_PRECISION_BF16,
    .grouped = self->precision != FACET_PRECISION_BF16,
    .probs = self->probs, .bind = infer_bind, .data = &ib,
  };

  vit.buf[FACET_VIT_X] = x;
  vit.buf[FACET_VIT_H1] = vit.buf[FACET_VIT_H2] = self->h;
  vit.buf[FACET_VIT_QKV] = self->qkv;
  vit.buf[FACET_VIT_ATTN] = self->attn;
  vit.buf[FACET_VIT_ACT] = self->mlp;
  facet_vit_blocks_forward (&facet_cpu_vit_ops, &vit, 0, last);
}

static gboolean
global_pool_head (CpuBackend *self)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  return c->readout == FACET_READOUT_GLOBAL_POOL && c->n_aus > 0;
}

static gboolean
cpu_forward (FacetBackend       *backend,
             const float        *images,
             guint               batch,
             FacetForwardFlags   flags,
             FacetForwardResult *r,
             GError            **error)
{
  CpuBackend *self = (CpuBackend *) backend;
  const FacetModelConfig *c;
  int t, d, g, np, k;
  gboolean rollout = (flags & FACET_FORWARD_ATTENTION) != 0;

  if (self->parent.model == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "no model loaded");
      return FALSE;
    }
  c = facet_model_get_config (self->parent.model);
  t = facet_model_config_tokens (c);
  g = facet_model_config_grid (c);
  np = g * g;
  d = c->dim;
  k = 3 * c->patch_size * c->patch_size;
  if (batch == 0)
    return TRUE;

  facet_cpu_ensure_scratch (self, batch, rollout);

  /* Patch embedding as one product over all patches of the batch. */
  facet_cpu_patchify (images, self->patches, (int) batch, c->image_size, c->patch_size);
  if (self->precision == FACET_PRECISION_BF16)
    {
      /* batch-invariant as it is: every row is summed the same way
       * wherever it falls in a tile, block or thread */
      ensure_bf16 (self, -1);
      facet_cpu_linear_bf16 (self->patches, self->pe16, self->pe_b, self->h, (int) batch * np,
                             FACET_BF16_BIAS);
    }
  else
    facet_cpu_linear_grouped (self->patches, self->pe_w, self->pe_b, self->h, (int) batch * np, d,
                              k, FALSE, np);
  facet_cpu_add_cls_pos (self->x, self->h, self->cls, self->pos, batch, t, d);

  facet_cpu_infer_blocks (self, self->x, batch, c->depth, rollout ? self->probs_mean : NULL);

  /* Readout */
  facet_cpu_pool (self->x, self->pooled_raw, batch, t, d, c->readout == FACET_READOUT_GLOBAL_POOL);
  facet_cpu_layer_norm (self->pooled_raw, r->pooled, batch, (gsize) d, self->norm_w, self->norm_b,
                        c->ln_eps, self->row_mean, self->row_rstd);
  if ((flags & FACET_FORWARD_RAW_FEATURE) && r->pooled_raw != NULL)
    memcpy (r->pooled_raw, self->pooled_raw, sizeof (float) * batch * (gsize) d);

  if (c->n_aus > 0)
    {
      facet_cpu_linear_grouped (r->pooled, self->head_w, self->head_b, r->logits, (int) batch,
                                c->n_aus, d, FALSE, 1);
      facet_cpu_sigmoid (r->logits, r->probs, (gsize) batch * c->n_aus);
    }
  if (c->n_subjects > 0 && r->id_logits != NULL)
    facet_cpu_linear_grouped (r->pooled, self->id_w, self->id_b, r->id_logits, (int) batch,
                              c->n_subjects, d, FALSE, 1);

  if (rollout && r->attention != NULL)
    facet_cpu_rollout (self->probs_mean, r->attention, (int) batch, t, c->depth,
                       c->readout == FACET_READOUT_CLS_TOKEN);
  if ((flags & FACET_FORWARD_AU_MAPS) && r->au_maps != NULL && global_pool_head (self))
    au_maps (self, batch, r);
  return TRUE;
}

static gboolean
cpu_supports_op (FacetBackend      *backend,
                 const FacetOpDesc *op)
{
  return op->kind < FACET_OP_N_KINDS;
}

static gboolean
cpu_compute_op (FacetBackend      *backend,
                const FacetOpDesc *op,
                const float *const *in,
                float             *out,
                GError           **error)
{
  switch (op->kind)
    {
    case FACET_OP_LINEAR:
      {
        int i = 2;
        const float *bias = (op->flags & FACET_OP_BIAS) ? in[i++] : NULL;
        const float *res = (op->flags & FACET_OP_RESIDUAL) ? in[i++] : NULL;
        facet_cpu_linear (in[0], in[1], NULL, out, op->m, op->n, op->k, FALSE);
        if (op->flags & FACET_OP_ACT_GELU)
          {
            if (bias)
              facet_cpu_bias_gelu (out, bias, (gsize) op->m, (gsize) op->n);
            else
              facet_cpu_gelu (out, out, (gsize) op->m * op->n);
          }
        else if (bias)
          facet_cpu_add_bias (out, bias, (gsize) op->m, (gsize) op->n);
        if (res)
          facet_cpu_add (out, res, out, (gsize) op->m * op->n);
        return TRUE;
      }
    case FACET_OP_LAYER_NORM:
      facet_cpu_layer_norm (in[0], out, (gsize) op->m, (gsize) op->n, in[1], in[2], op->eps, NULL,
                            NULL);
      return TRUE;
    case FACET_OP_GELU:
      facet_cpu_gelu (in[0], out, (gsize) op->n);
      return TRUE;
    case FACET_OP_ADD:
      facet_cpu_add (in[0], in[1], out, (gsize) op->n);
      return TRUE;
    case FACET_OP_SIGMOID:
      facet_cpu_sigmoid (in[0], out, (gsize) op->n);
      return TRUE;
    case FACET_OP_SOFTMAX:
      memcpy (out, in[0], sizeof (float) * (gsize) op->m * op->n);
      facet_cpu_softmax_rows (out, (gsize) op->m, (gsize) op->n, (gsize) op->n, op->alpha);
      return TRUE;
    case FACET_OP_ATTENTION:
    case FACET_OP_ATTN_PROBS:
      {
        gsize tt = (gsize) op->tokens * op->tokens;
        g_autofree float *probs = g_new (float, (gsize) op->batch * op->heads * tt);
        g_autofree float *o = op->kind == FACET_OP_ATTN_PROBS
                                ? g_new (float, (gsize) op->batch * op->tokens * op->dim) : NULL;
        if (op->kind == FACET_OP_ATTENTION)
          facet_cpu_attention (in[0], out, probs, NULL, op->batch, op->tokens, op->heads, op->dim);
        else
          facet_cpu_attention (in[0], o, probs, out, op->batch, op->tokens, op->heads, op->dim);
        return TRUE;
      }
    case FACET_OP_MEAN_POOL:
      for (int b = 0; b < op->batch; b++)
        {
          float *dst = out + (gsize) b * op->dim;
          memset (dst, 0, sizeof (float) * (gsize) op->dim);
          for (int p = 1; p < op->tokens; p++)
            facet_cpu_add (dst, in[0] + ((gsize) b * op->tokens + p) * op->dim, dst, (gsize) op->dim);
          for (int j = 0; j < op->dim; j++)
            dst[j] /= (float) (op->tokens - 1);
        }
      return TRUE;
    case FACET_OP_PATCH_EMBED:
      {
        int g = op->image / op->patch, k = 3 * op->patch * op->patch;
        g_autofree float *patches = g_new (float, (gsize) op->batch * g * g * k);
        facet_cpu_patchify (in[0], patches, op->batch, op->image, op->patch);
        facet_cpu_linear (patches, in[1], in[2], out, op->batch * g * g, op->dim, k, FALSE);
        return TRUE;
      }
    case FACET_OP_ROLLOUT:
      facet_cpu_rollout (in[0], out, op->batch, op->tokens, op->depth,
                         (op->flags & FACET_OP_CLS_READOUT) != 0);
      return TRUE;
    case FACET_OP_N_KINDS:
    default:
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "unknown op %d",
                   op->kind);
      return FALSE;
    }
}

static void
cpu_synchronize (FacetBackend *backend)
{
}

/* Training changes the weights of the blocks it trains: their bf16 copies
 * are dropped first, and made anew by the next forward. */
static gboolean
cpu_train_step (FacetBackend         *backend,
                const FacetTrainStep *step,
                FacetGrads           *grads,
                FacetTrainStepResult *result,
                GError              **error)
{
  CpuBackend *self = (CpuBackend *) backend;

  drop_bf16 (self, step->first_trainable_block, step->train_embedding);
  return facet_cpu_train_step (backend, step, grads, result, error);
}

/* Pre-training changes every block and the embedding: all bf16 copies go. */
static gboolean
cpu_mae_step (FacetBackend       *backend,
              const FacetMaeStep *step,
              FacetGrads         *grads,
              FacetMaeStepResult *result,
              GError            **error)
{
  drop_bf16 ((CpuBackend *) backend, 0, TRUE);
  return facet_cpu_mae_step (backend, step, grads, result, error);
}

static const FacetBackendVTable cpu_vtable = {
  .name = "cpu",
  .free = cpu_free,
  .describe = cpu_describe,
  .supports_op = cpu_supports_op,
  .compute_op = cpu_compute_op,
  .load_model = cpu_load_model,
  .forward = cpu_forward,
  .synchronize = cpu_synchronize,
  .train_step = cpu_train_step,
  .mae_step = cpu_mae_step,
  .heads_step = facet_cpu_heads_train_step,
  .gradient_maps = facet_cpu_gradient_maps,
};

/**
 * facet_cpu_backend_new:
 *
 * In the default precision: bf16 products where it asks for bf16 (or
 * auto) and the processor has AVX512-BF16; fp32 otherwise (fp16 is a
 * storage format of the Vulkan backend only).
 */
FacetBackend *
facet_cpu_backend_new (void)
{
  return facet_cpu_backend_new_with_precision (facet_backend_get_default_precision ());
}

/**
 * facet_cpu_backend_new_with_precision:
 * @asked: fp32, bf16 or auto (fp16: fp32)
 *
 * The same with the precision given rather than the process's default
 * (training takes its own from its settings).
 */
FacetBackend *
facet_cpu_backend_new_with_precision (FacetPrecision asked)
{
  CpuBackend *self = g_new0 (CpuBackend, 1);

  self->parent.vtable = &cpu_vtable;
  self->precision = FACET_PRECISION_FP32;
  if (asked == FACET_PRECISION_BF16 || asked == FACET_PRECISION_AUTO)
    {
      if (facet_cpu_bf16_available ())
        self->precision = FACET_PRECISION_BF16;
    }
  facet_cpu_blas_init ();
  return &self->parent;
}

/* The precision in use: bf16 only where it was asked for and is available. */
FacetPrecision
facet_cpu_backend_get_precision (FacetBackend *backend)
{
  return ((CpuBackend *) backend)->precision;
}

