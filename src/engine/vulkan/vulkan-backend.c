/* vulkan-backend.c — FMAE-IAT on Vulkan compute
 *
 * The forward of a chunk of images is one command buffer: patch embedding
 * (im2col in the product's loads), the blocks as engine-vit.h describes
 * them (layer norm -> qkv product -> fused attention -> projection with the
 * residual add fused -> layer norm -> fc1 with GELU fused -> fc2 with the
 * residual add fused), recorded by this file's ops, then the fp32
 * readout tail, and on request the attention rollout and the per-AU maps.
 * Weights are uploaded once; scratch buffers are sized once per chunk size.
 *
 * A batch larger than what the device holds at once (its storage-buffer
 * range, its memory) is split into chunks that alternate between two
 * frames: while the device computes one chunk the host writes the next
 * chunk's images and reads the previous chunk's results.
 *
 * Precision: fp32, or fp16 storage of weights and activations (arithmetic
 * stays fp32) where the device has 16-bit storage buffers. The readout tail
 * (pooled feature, norms, heads, maps) is fp32 in both.
 */
#define G_LOG_DOMAIN "facet-vulkan"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/engine-vit.h"
#include "vulkan-private.h"
#include "shaders/push-constants.h"

#define MAX_HEAD_DIM  128
#define UPLOAD_BATCH  ((VkDeviceSize) 64 << 20)

/* Push-constant blocks: shaders/push-constants.h, shared with the shaders.
 * Only 32-bit fields, no padding, within the 128 bytes every device has. */
#define CHECK_PUSH(T) \
  G_STATIC_ASSERT (sizeof (T) % 4 == 0 && sizeof (T) <= 128 && G_ALIGNOF (T) == 4)
CHECK_PUSH (MatmulPush);
CHECK_PUSH (NormPush);
CHECK_PUSH (AttnPush);
CHECK_PUSH (ProbsPush);
CHECK_PUSH (SoftmaxPush);
CHECK_PUSH (UnaryPush);
CHECK_PUSH (AddPush);
CHECK_PUSH (PoolPush);
CHECK_PUSH (ClsPush);
CHECK_PUSH (RolloutPush);
CHECK_PUSH (MapsPush);

/* A tensor and an element offset into it. */
typedef struct
{
  const FacetVkTensor *t;
  guint32              off;
} View;

#define VIEW(tensor) ((View) { (tensor), 0 })

typedef struct
{
  FacetVkTensor n1w, n1b, qkvw, qkvb, projw, projb, n2w, n2b, fc1w, fc1b, fc2w, fc2b;
} BlockWeights;

/* What a frame's submission reads and writes on the host side. */
typedef struct
{
  FacetVkArena        arena;
  FacetVkTensor       images, logits, probs, pooled, pooled_raw, id_logits, attention, au_maps;
  FacetForwardResult *result;
  guint               start, count;
  gboolean            rollout, maps, raw;
} FrameIO;

typedef struct
{
  FacetBackend       parent;

  FacetVulkanOptions options;
  char              *device;
  FacetVkContext    *ctx;
  FacetVkFrame       frames[2];
  FrameIO            io[2];
  gboolean           half;        /* fp16 storage in use */
  gboolean           print_perf;  /* FACET_VK_PERF */
  guint              recoveries;
  FacetVulkanPerf    perf;

  /* the model on the device */
  FacetVkArena       weights;
  FacetVkTensor      cls, pos, pe_w, pe_b, norm_w, norm_b, head_w, head_b, id_w, id_b;
  FacetVkTensor      head_wg, head_wg_sum;
  BlockWeights      *blocks;
  float             *au_map_bias;
  gboolean           has_maps;

  /* scratch, for chunks of up to cap images */
  FacetVkArena       scratch;
  guint              cap;
  gboolean           cap_probs;
  FacetVkTensor      x, h, qkv, attn, mlp, lse, stats, u, roll[2], images_dev;
  FacetVkTensor     *probs;       /* one per layer when cap_probs */
} VulkanBackend;

static const char *
act_suffix (VulkanBackend *self)
{
  return self->half ? "f16" : "f32";
}

static FacetVkDtype
act_dtype (VulkanBackend *self)
{
  return self->half ? FACET_VK_F16 : FACET_VK_F32;
}

static FacetVkBinding
vbuf (View v)
{
  return facet_vk_tensor_binding (v.t);
}

/* Element offsets are relative to the tensor: its descriptor starts there. */
static guint32
voff (View v)
{
  return v.t != NULL ? v.off : 0;
}

static guint32
ceil_div (guint64 a,
          guint64 b)
{
  return (guint32) ((a + b - 1) / b);
}

/* Op recording --------------------------------------------------------------- */

typedef struct
{
  const char *variant; /* "matmul-f32", "patch-embed-f16", ... */
  guint       tile;    /* 4, 8: the tiled kernel; 0: the direct one */
  View        a, w, bias, res, d;
  guint32     m, n, k, lda, ldr, ldd;
  guint32     z, a_zstride, r_zstride, d_zstride;
  guint32     flags;
  guint32     image, psize, grid, out_tokens;
  int         kind;
} MatmulArgs;

static const char *
kernel_suffix (guint tile)
{
  return tile == 8 ? "-t8" : tile == 0 ? "-direct" : "";
}

static gboolean
record_matmul (VulkanBackend    *self,
               FacetVkFrame     *frame,
               const MatmulArgs *args,
               GError          **error)
{
  g_autofree char *variant = g_strconcat (args->variant, kernel_suffix (args->tile), NULL);
  FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 5, sizeof (MatmulPush), NULL, 0,
                                              error);
  guint32 gx, gy, flags = args->flags;
  MatmulPush push = {
    args->m, args->n, args->k,
    voff (args->a), voff (args->w), voff (args->bias), voff (args->res), voff (args->d),
    args->lda, args->ldr, args->ldd,
    args->a_zstride, args->r_zstride, args->d_zstride,
    0,
    args->image, args->psize, args->grid, args->out_tokens,
  };
  FacetVkBinding buffers[5];
  guint32 z = MAX (args->z, 1);

  if (args->tile == 0)
    {
      /* 64 invocations x 4 columns by 8 rows; vec4 loads where aligned */
      gx = ceil_div (args->n, 256);
      gy = ceil_div (args->m, 8);
      if (args->k % 4 == 0 && push.a_off % 4 == 0 && push.b_off % 4 == 0 && args->lda % 4 == 0
          && args->a_zstride % 4 == 0)
        flags |= FACET_MATMUL_VEC4;
    }
  else
    {
      gx = ceil_div (args->n, 16 * args->tile);
      gy = ceil_div (args->m, 16 * args->tile);
    }
  push.flags = flags;
  if (p == NULL)
    return FALSE;
  buffers[0] = vbuf (args->a);
  buffers[1] = vbuf (args->w);
  buffers[2] = args->bias.t != NULL ? vbuf (args->bias) : facet_vk_dummy (self->ctx, FALSE);
  buffers[3] = args->res.t != NULL ? vbuf (args->res) : facet_vk_dummy (self->ctx, FALSE);
  buffers[4] = vbuf (args->d);
  return facet_vk_dispatch (self->ctx, frame, p, buffers, &push, gx,
                            gy, z, args->kind,
                            2.0 * args->m * args->n * args->k * z, error);
}

/* The kernel for small products (the readout, the maps): the direct one
 * on CPU drivers, the small tile elsewhere. */
static guint
small_tile (VulkanBackend *self)
{
  return self->ctx->gemm_tile == 0 ? 0 : 4;
}

/* The product of the transformer blocks: the device's kernel, the run's precision. */
static void
matmul_main (VulkanBackend *self,
             MatmulArgs    *args)
{
  args->variant = self->half ? "matmul-f16" : "matmul-f32";
  args->tile = self->ctx->gemm_tile;
  args->kind = FACET_OP_LINEAR;
}

static gboolean
record_layer_norm (VulkanBackend *self,
                   FacetVkFrame  *frame,
                   const char    *suffix,
                   View           x,
                   View           gamma,
                   View           beta,
                   View           y,
                   View           stats,
                   guint32        rows,
                   guint32        n,
                   float          eps,
                   GError       **error)
{
  g_autofree char *variant = g_strconcat ("layer-norm-", suffix, NULL);
  FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 5, sizeof (NormPush), NULL, 0,
                                              error);
  NormPush push = { rows, n, voff (x), voff (gamma), voff (beta), voff (y), voff (stats),
                    stats.t != NULL ? FACET_NORM_STATS : 0, eps };
  FacetVkBinding buffers[5];
  guint32 gx, gy;

  if (p == NULL)
    return FALSE;
  buffers[0] = vbuf (x);
  buffers[1] = vbuf (gamma);
  buffers[2] = vbuf (beta);
  buffers[3] = vbuf (y);
  buffers[4] = stats.t != NULL ? vbuf (stats) : facet_vk_dummy (self->ctx, TRUE);
  facet_vk_row_grid (self->ctx, rows, &gx, &gy);
  return facet_vk_dispatch (self->ctx, frame, p, buffers, &push, gx, gy, 1, FACET_OP_LAYER_NORM,
                            5.0 * rows * n, error);
}

static guint32
keys_per_tile (guint32 dh)
{
  /* two tiles of BKEYS x dh floats in shared memory: 16 KiB */
  return dh <= 64 ? 32 : 16;
}

static gboolean
record_attention (VulkanBackend *self,
                  FacetVkFrame  *frame,
                  View           qkv,
                  View           out,
                  View           lse,
                  guint32        batch,
                  guint32        tokens,
                  guint32        heads,
                  guint32        dim,
                  GError       **error)
{
  g_autofree char *variant = g_strconcat ("attention-", act_suffix (self), NULL);
  guint32 dh = dim / heads;
  guint32 spec[2] = { dh, keys_per_tile (dh) };
  FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 3, sizeof (AttnPush), spec, 2,
                                              error);
  AttnPush push = { batch, tokens, heads, dim, voff (qkv), voff (out), voff (lse),
                    lse.t != NULL ? FACET_ATTENTION_LSE : 0, 1.0f / sqrtf ((float) dh) };
  FacetVkBinding buffers[3];

  if (p == NULL)
    return FALSE;
  buffers[0] = vbuf (qkv);
  buffers[1] = vbuf (out);
  buffers[2] = lse.t != NULL ? vbuf (lse) : facet_vk_dummy (self->ctx, TRUE);
  return facet_vk_dispatch (self->ctx, frame, p, buffers, &push, ceil_div (tokens, 32),
                            batch * heads, 1, FACET_OP_ATTENTION,
                            4.0 * batch * (double) tokens * tokens * dim, error);
}

static gboolean
record_attn_probs (VulkanBackend *self,
                   FacetVkFrame  *frame,
                   View           qkv,
                   View           lse,
                   View           probs,
                   guint32        batch,
                   guint32        tokens,
                   guint32        heads,
                   guint32        dim,
                   GError       **error)
{
  g_autofree char *variant = g_strconcat ("attn-probs-", act_suffix (self), NULL);
  FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 3, sizeof (ProbsPush), NULL, 0,
                                              error);
  ProbsPush push = { batch, tokens, heads, dim, voff (qkv), voff (lse), voff (probs),
                     1.0f / sqrtf ((float) (dim / heads)) };
  FacetVkBinding buffers[3];

  if (p == NULL)
    return FALSE;
  buffers[0] = vbuf (qkv);
  buffers[1] = vbuf (lse);
  buffers[2] = vbuf (probs);
  return facet_vk_dispatch (self->ctx, frame, p, buffers, &push, ceil_div (tokens, 16),
                            ceil_div (tokens, 16), batch, FACET_OP_ATTN_PROBS,
                            2.0 * batch * (double) tokens * tokens * dim, error);
}

static gboolean
record_unary (VulkanBackend *self,
              FacetVkFrame  *frame,
              const char    *shader,
              const char    *suffix,
              int            kind,
              View           x,
              View           y,
              guint32        n,
              GError       **error)
{
  g_autofree char *variant = g_strconcat (shader, "-", suffix, NULL);
  FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 2, sizeof (UnaryPush), NULL, 0,
                                              error);
  UnaryPush push = { n, voff (x), voff (y) };
  FacetVkBinding buffers[2];

  if (p == NULL)
    return FALSE;
  buffers[0] = vbuf (x);
  buffers[1] = vbuf (y);
  return facet_vk_dispatch (self->ctx, frame, p, buffers, &push,
                            MIN (ceil_div (n, 256), 65535u), 1, 1, kind, 5.0 * n, error);
}

static gboolean
record_mean_pool (VulkanBackend *self,
                  FacetVkFrame  *frame,
                  View           x,
                  View           y,
                  guint32        batch,
                  guint32        tokens,
                  guint32        dim,
                  gboolean       cls,
                  GError       **error)
{
  g_autofree char *variant = g_strconcat ("mean-pool-", act_suffix (self), NULL);
  FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 2, sizeof (PoolPush), NULL, 0,
                                              error);
  PoolPush push = { batch, tokens, dim, voff (x), voff (y), cls ? FACET_POOL_CLS : 0 };
  FacetVkBinding buffers[2];

  if (p == NULL)
    return FALSE;
  buffers[0] = vbuf (x);
  buffers[1] = vbuf (y);
  return facet_vk_dispatch (self->ctx, frame, p, buffers, &push, ceil_div (dim, 64), batch, 1,
                            FACET_OP_MEAN_POOL, 5.0 * batch * dim, error);
}

/* One layer of rollout per dispatch, last layer first; @probs holds layer l
 * at element offset l * layer_stride from @probs.off. */
static gboolean
record_rollout (VulkanBackend       *self,
                FacetVkFrame        *frame,
                const FacetVkTensor *layers,
                View                 probs,
                guint32              layer_stride,
                const FacetVkTensor *v0,
                const FacetVkTensor *v1,
                View                 out,
                guint32              batch,
                guint32              tokens,
                guint32              depth,
                gboolean             cls,
                GError             **error)
{
  FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, "rollout-f32", 3, sizeof (RolloutPush),
                                              NULL, 0, error);
  const FacetVkTensor *cur = v0, *next = v1;

  if (p == NULL)
    return FALSE;
  for (int l = (int) depth - 1; l >= 0; l--)
    {
      View a = layers != NULL ? VIEW (&layers[l]) : (View) { probs.t, probs.off + (guint32) l * layer_stride };
      View w = l == 0 ? out : VIEW (next);
      RolloutPush push = { batch, tokens, voff (a), voff (VIEW (cur)), voff (w),
                           (l == (int) depth - 1 ? FACET_ROLLOUT_INIT : 0) | (l == 0 ? FACET_ROLLOUT_FINAL : 0)
                             | (cls ? FACET_ROLLOUT_CLS : 0) };
      FacetVkBinding buffers[3] = { vbuf (a), vbuf (VIEW (cur)), vbuf (w) };
      const FacetVkTensor *tmp;

      if (!facet_vk_dispatch (self->ctx, frame, p, buffers, &push, ceil_div (tokens, 64), batch, 1,
                              FACET_OP_ROLLOUT, 2.0 * batch * (double) tokens * tokens, error))
        return FALSE;
      facet_vk_barrier (frame);
      tmp = cur;
      cur = next;
      next = tmp;
    }
  return TRUE;
}

/* Weights -------------------------------------------------------------------- */

typedef struct
{
  FacetVkTensor *tensor;
  const float   *data;
  float         *owned; /* derived on the host, freed after upload */
} Upload;

static void
clear_uploads (GArray *uploads)
{
  for (guint i = 0; i < uploads->len; i++)
    g_free (g_array_index (uploads, Upload, i).owned);
  g_array_set_size (uploads, 0);
}

/* Uploads through mapped device memory where the device shares it, else
 * through staging buffers of at most UPLOAD_BATCH bytes at a time. */
static gboolean
upload_all (VulkanBackend *self,
            GArray        *uploads,
            GError       **error)
{
  FacetVkContext *ctx = self->ctx;
  FacetVkFrame *frame = &self->frames[0];
  guint first = 0;

  if (ctx->uma)
    {
      for (guint i = 0; i < uploads->len; i++)
        {
          Upload *u = &g_array_index (uploads, Upload, i);
          facet_vk_tensor_write (u->tensor, u->data, u->tensor->n);
        }
      return TRUE;
    }

  while (first < uploads->len)
    {
      FacetVkArena staging;
      g_autofree FacetVkTensor *stage = g_new0 (FacetVkTensor, uploads->len);
      guint last = first;
      gboolean ok;

      facet_vk_arena_init (&staging, ctx, FACET_VK_MEM_HOST);
      while (last < uploads->len
             && (last == first || facet_vk_arena_bytes (&staging) < UPLOAD_BATCH))
        {
          Upload *u = &g_array_index (uploads, Upload, last);
          if (!facet_vk_arena_reserve (&staging, &stage[last], u->tensor->n, u->tensor->dtype, error))
            break;
          last++;
        }
      ok = last > first && facet_vk_arena_commit (ctx, &staging, error)
           && facet_vk_frame_begin (ctx, frame, error);
      if (ok)
        {
          for (guint i = first; i < last; i++)
            {
              Upload *u = &g_array_index (uploads, Upload, i);
              facet_vk_tensor_write (&stage[i], u->data, u->tensor->n);
              facet_vk_copy (frame, &stage[i], u->tensor, 0);
            }
          facet_vk_barrier_transfer_to_compute (frame);
          ok = facet_vk_frame_submit (ctx, frame, error) && facet_vk_frame_wait (ctx, frame, NULL, error);
        }
      facet_vk_arena_clear (ctx, &staging);
      g_array_unref (staging.plan);
      g_ptr_array_unref (staging.blocks);
      if (!ok)
        return FALSE;
      first = last;
    }
  return TRUE;
}

static gboolean
add_weight (VulkanBackend *self,
            GArray        *uploads,
            FacetVkTensor *tensor,
            const char    *name,
            gsize          n,
            FacetVkDtype   dtype,
            GError       **error)
{
  FacetModel *model = self->parent.model;
  const FacetTensor *t = facet_model_get_tensor (model, name);
  Upload u = { tensor, facet_model_get_weights (model, name), NULL };

  if (t == NULL || u.data == NULL || (gsize) facet_tensor_numel (t) != n)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                   "the model lacks tensor “%s” (of %" G_GSIZE_FORMAT " values) that the forward "
                   "pass needs", name, n);
      return FALSE;
    }
  if (!facet_vk_arena_reserve (&self->weights, tensor, n, dtype, error))
    return FALSE;
  g_array_append_val (uploads, u);
  return TRUE;
}

static gboolean
add_derived (VulkanBackend *self,
             GArray        *uploads,
             FacetVkTensor *tensor,
             float         *data,
             gsize          n,
             GError       **error)
{
  Upload u = { tensor, data, data };

  if (!facet_vk_arena_reserve (&self->weights, tensor, n, FACET_VK_F32, error))
    {
      g_free (data);
      return FALSE;
    }
  g_array_append_val (uploads, u);
  return TRUE;
}

static void
free_weights (VulkanBackend *self)
{
  if (self->ctx != NULL)
    facet_vk_arena_clear (self->ctx, &self->weights);
  g_clear_pointer (&self->blocks, g_free);
  g_clear_pointer (&self->au_map_bias, g_free);
  self->has_maps = FALSE;
}

/* The transformer's weights in the run's precision; the readout tail, and
 * the head folded with fc_norm's gamma for the per-AU maps, in fp32. */
static gboolean
upload_weights (VulkanBackend *self,
                GError       **error)
{
  FacetModel *model = self->parent.model;
  const FacetModelConfig *c = facet_model_get_config (model);
  gboolean global = c->readout == FACET_READOUT_GLOBAL_POOL;
  gsize d = (gsize) c->dim, t = (gsize) facet_model_config_tokens (c), hid = (gsize) c->mlp_hidden;
  gsize k = 3 * (gsize) c->patch_size * c->patch_size, a = (gsize) c->n_aus;
  FacetVkDtype wt = act_dtype (self), f32 = FACET_VK_F32;
  g_autoptr (GArray) uploads = g_array_new (FALSE, TRUE, sizeof (Upload));
  const char *norm_w = global ? "fc_norm.weight" : "norm.weight";
  const char *norm_b = global ? "fc_norm.bias" : "norm.bias";
  gboolean ok = TRUE;

  self->blocks = g_new0 (BlockWeights, MAX (c->depth, 1));

#define ADD(field, name, n, dtype) (ok = ok && add_weight (self, uploads, field, name, n, dtype, error))
  ADD (&self->cls, "cls_token", d, wt);
  ADD (&self->pos, "pos_embed", t * d, wt);
  ADD (&self->pe_w, "patch_embed.proj.weight", d * k, wt);
  ADD (&self->pe_b, "patch_embed.proj.bias", d, wt);
  for (int i = 0; i < c->depth && ok; i++)
    {
      BlockWeights *bw = &self->blocks[i];
      static const struct
      {
        const char *suffix;
        gsize       offset;
        int         rows, cols; /* sizes in units of d (1), hid (-1), or 3d (3) */
      } parts[] = {
        { "norm1.weight", G_STRUCT_OFFSET (BlockWeights, n1w), 1, 0 },
        { "norm1.bias", G_STRUCT_OFFSET (BlockWeights, n1b), 1, 0 },
        { "attn.qkv.weight", G_STRUCT_OFFSET (BlockWeights, qkvw), 3, 1 },
        { "attn.qkv.bias", G_STRUCT_OFFSET (BlockWeights, qkvb), 3, 0 },
        { "attn.proj.weight", G_STRUCT_OFFSET (BlockWeights, projw), 1, 1 },
        { "attn.proj.bias", G_STRUCT_OFFSET (BlockWeights, projb), 1, 0 },
        { "norm2.weight", G_STRUCT_OFFSET (BlockWeights, n2w), 1, 0 },
        { "norm2.bias", G_STRUCT_OFFSET (BlockWeights, n2b), 1, 0 },
        { "mlp.fc1.weight", G_STRUCT_OFFSET (BlockWeights, fc1w), -1, 1 },
        { "mlp.fc1.bias", G_STRUCT_OFFSET (BlockWeights, fc1b), -1, 0 },
        { "mlp.fc2.weight", G_STRUCT_OFFSET (BlockWeights, fc2w), 1, -1 },
        { "mlp.fc2.bias", G_STRUCT_OFFSET (BlockWeights, fc2b), 1, 0 },
      };
      for (guint j = 0; j < G_N_ELEMENTS (parts) && ok; j++)
        {
          g_autofree char *name = g_strdup_printf ("blocks.%d.%s", i, parts[j].suffix);
          gsize rows = parts[j].rows == -1 ? hid : (gsize) parts[j].rows * d;
          gsize cols = parts[j].cols == 0 ? 1 : parts[j].cols == -1 ? hid : d;
          ADD ((FacetVkTensor *) ((guint8 *) bw + parts[j].offset), name, rows * cols, wt);
        }
    }
  ADD (&self->norm_w, norm_w, d, f32);
  ADD (&self->norm_b, norm_b, d, f32);
  if (a > 0)
    {
      ADD (&self->head_w, "head.weight", a * d, f32);
      ADD (&self->head_b, "head.bias", a, f32);
    }
  if (c->n_subjects > 0)
    {
      ADD (&self->id_w, "ID_head.weight", (gsize) c->n_subjects * d, f32);
      ADD (&self->id_b, "ID_head.bias", (gsize) c->n_subjects, f32);
    }
#undef ADD

  /* Per-AU maps: the head times fc_norm's gamma, and its row sums, computed
   * as the CPU backend does so that both agree to the rounding. */
  if (ok && global && a > 0)
    {
      const float *hw = facet_model_get_weights (model, "head.weight");
      const float *hb = facet_model_get_weights (model, "head.bias");
      const float *g = facet_model_get_weights (model, norm_w);
      const float *beta = facet_model_get_weights (model, norm_b);
      float *wg = g_new (float, a * d), *wsum = g_new0 (float, a);

      self->au_map_bias = g_new (float, a);
      for (gsize i = 0; i < a; i++)
        {
          float s = hb[i];
          for (gsize j = 0; j < d; j++)
            {
              float v = hw[i * d + j] * g[j];
              wg[i * d + j] = v;
              wsum[i] += v;
              s += hw[i * d + j] * beta[j];
            }
          self->au_map_bias[i] = s;
        }
      if (add_derived (self, uploads, &self->head_wg, wg, a * d, error))
        ok = add_derived (self, uploads, &self->head_wg_sum, wsum, a, error);
      else
        {
          g_free (wsum);
          ok = FALSE;
        }
      self->has_maps = ok;
    }

  ok = ok && facet_vk_arena_commit (self->ctx, &self->weights, error);
  ok = ok && upload_all (self, uploads, error);
  clear_uploads (uploads);
  if (!ok)
    free_weights (self);
  return ok;
}

/* The pipelines a forward needs, created (or fetched from the cache) at load. */
static gboolean
prepare_pipelines (VulkanBackend *self,
                   GError       **error)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  const char *s = act_suffix (self);
  guint32 dh = (guint32) (c->dim / c->heads);
  guint32 spec[2] = { dh, keys_per_tile (dh) };
  g_autofree char *matmul = g_strdup_printf ("matmul-%s%s", s, kernel_suffix (self->ctx->gemm_tile));
  g_autofree char *tail = g_strconcat ("matmul-f32", kernel_suffix (small_tile (self)), NULL);
  g_autofree char *pe = g_strconcat ("patch-embed-", s, kernel_suffix (small_tile (self)), NULL);
  g_autofree char *ln = g_strconcat ("layer-norm-", s, NULL);
  g_autofree char *attn = g_strconcat ("attention-", s, NULL);
  g_autofree char *pool = g_strconcat ("mean-pool-", s, NULL);
  g_autofree char *cls = g_strconcat ("cls-token-", s, NULL);

  return facet_vk_pipeline_get (self->ctx, matmul, 5, sizeof (MatmulPush), NULL, 0, error)
         && facet_vk_pipeline_get (self->ctx, tail, 5, sizeof (MatmulPush), NULL, 0, error)
         && facet_vk_pipeline_get (self->ctx, pe, 5, sizeof (MatmulPush), NULL, 0, error)
         && facet_vk_pipeline_get (self->ctx, ln, 5, sizeof (NormPush), NULL, 0, error)
         && facet_vk_pipeline_get (self->ctx, "layer-norm-f32", 5, sizeof (NormPush), NULL, 0, error)
         && facet_vk_pipeline_get (self->ctx, attn, 3, sizeof (AttnPush), spec, 2, error)
         && facet_vk_pipeline_get (self->ctx, pool, 2, sizeof (PoolPush), NULL, 0, error)
         && facet_vk_pipeline_get (self->ctx, cls, 3, sizeof (ClsPush), NULL, 0, error)
         && facet_vk_pipeline_get (self->ctx, "sigmoid-f32", 2, sizeof (UnaryPush), NULL, 0, error);
}

/* Context lifetime ----------------------------------------------------------- */

static void
free_io (VulkanBackend *self)
{
  for (int i = 0; i < 2; i++)
    if (self->io[i].arena.plan != NULL)
      facet_vk_arena_clear (self->ctx, &self->io[i].arena);
}

static void
free_scratch (VulkanBackend *self)
{
  if (self->ctx != NULL)
    {
      facet_vk_arena_clear (self->ctx, &self->scratch);
      free_io (self);
    }
  g_clear_pointer (&self->probs, g_free);
  self->cap = 0;
  self->cap_probs = FALSE;
}

static void
free_arena_struct (FacetVkArena *arena)
{
  g_clear_pointer (&arena->plan, g_array_unref);
  g_clear_pointer (&arena->blocks, g_ptr_array_unref);
}

static void
teardown (VulkanBackend *self)
{
  if (self->ctx == NULL)
    return;
  for (int i = 0; i < 2; i++)
    if (self->frames[i].pending)
      facet_vk_frame_wait (self->ctx, &self->frames[i], NULL, NULL);
  free_scratch (self);
  free_weights (self);
  for (int i = 0; i < 2; i++)
    {
      facet_vk_frame_clear (self->ctx, &self->frames[i]);
      free_arena_struct (&self->io[i].arena);
    }
  free_arena_struct (&self->scratch);
  free_arena_struct (&self->weights);
  g_clear_pointer (&self->ctx, facet_vk_context_free);
}

static gboolean
setup (VulkanBackend *self,
       GError       **error)
{
  self->ctx = facet_vk_context_new (self->device, self->options.precision == FACET_PRECISION_FP16,
                                    self->options.staging, error);
  if (self->ctx == NULL)
    return FALSE;
  self->ctx->perf = self->ctx->perf || self->options.perf;
  self->half = self->ctx->fp16 && self->options.precision == FACET_PRECISION_FP16;
  facet_vk_arena_init (&self->scratch, self->ctx, FACET_VK_MEM_DEVICE);
  facet_vk_arena_init (&self->weights, self->ctx, FACET_VK_MEM_DEVICE);
  for (int i = 0; i < 2; i++)
    {
      facet_vk_arena_init (&self->io[i].arena, self->ctx, FACET_VK_MEM_HOST);
      if (!facet_vk_frame_init (self->ctx, &self->frames[i], error))
        {
          teardown (self);
          return FALSE;
        }
    }
  return TRUE;
}

/* After a lost device: a new logical device, the weights uploaded again. */
static gboolean
ensure_device (VulkanBackend *self,
               GError       **error)
{
  if (self->ctx != NULL && !self->ctx->lost)
    return TRUE;
  teardown (self);
  if (!setup (self, error))
    return FALSE;
  self->recoveries++;
  if (self->parent.model != NULL)
    {
      if (!upload_weights (self, error) || !prepare_pipelines (self, error))
        {
          teardown (self);
          return FALSE;
        }
    }
  return TRUE;
}

/* Scratch --------------------------------------------------------------------- */

/* Bytes per image of each scratch tensor, for the chunk size. */
static void
per_image_sizes (VulkanBackend *self,
                 gboolean       probs,
                 VkDeviceSize  *largest,
                 VkDeviceSize  *total)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  VkDeviceSize e = self->half ? 2 : 4, t = (VkDeviceSize) facet_model_config_tokens (c);
  VkDeviceSize d = (VkDeviceSize) c->dim, np = t - 1, a = (VkDeviceSize) c->n_aus;
  VkDeviceSize img = 3 * (VkDeviceSize) c->image_size * c->image_size * 4;
  VkDeviceSize sizes[] = {
    t * d * e, t * d * e, 3 * t * d * e, t * d * e, t * (VkDeviceSize) c->mlp_hidden * e,
    img, self->has_maps ? np * a * 4 : 0, probs ? t * t * 4 : 0,
  };
  VkDeviceSize io = img + (2 * a + 2 * d + (VkDeviceSize) c->n_subjects + (probs ? np : 0)
                           + (self->has_maps ? a * np : 0)) * 4;

  *largest = 0;
  *total = 0;
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      *largest = MAX (*largest, sizes[i]);
      *total += sizes[i];
    }
  if (self->ctx->uma)
    *total -= img; /* no device copy of the images */
  if (probs)
    *total += (VkDeviceSize) (c->depth - 1) * t * t * 4 + (VkDeviceSize) c->heads * t * 4 + 2 * t * 4;
  *total += 8 + 2 * io;
}

/* Images per submission: what one storage buffer, the dispatch limits and
 * (roughly) the device memory allow, and the caller's cap. */
static guint
chunk_limit (VulkanBackend *self,
             gboolean       probs)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  VkDeviceSize largest, total, budget, weights = facet_vk_arena_bytes (&self->weights);
  guint64 limit;

  per_image_sizes (self, probs, &largest, &total);
  limit = self->ctx->block_limit / MAX (largest, 1);
  budget = self->ctx->device_memory / 4 * 3;
  budget = budget > weights ? budget - weights : 0;
  limit = MIN (limit, budget / MAX (total, 1));
  limit = MIN (limit, self->ctx->max_groups[1] / (guint) c->heads);
  limit = MIN (limit, self->ctx->max_groups[2]);
  limit = MIN (limit, 65535);
  if (self->options.max_chunk > 0)
    limit = MIN (limit, self->options.max_chunk);
  return (guint) MAX (limit, 1);
}

/* Scratch for chunks of @want images (never more than @limit), grown but
 * never shrunk; the attention probabilities are added when first asked. */
static gboolean
ensure_scratch (VulkanBackend *self,
                guint          want,
                gboolean       probs,
                guint          limit,
                GError       **error)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  gsize t = (gsize) facet_model_config_tokens (c), d = (gsize) c->dim, np = t - 1;
  gsize a = (gsize) c->n_aus, img = 3 * (gsize) c->image_size * c->image_size;
  FacetVkDtype e = act_dtype (self), f32 = FACET_VK_F32;
  FacetVkArena *s = &self->scratch;
  guint cap;
  gboolean ok = TRUE;

  if (want <= self->cap && (!probs || self->cap_probs))
    return TRUE;
  probs = probs || self->cap_probs;
  cap = MIN (MAX (want, self->cap), MAX (limit, want));
  free_scratch (self);

#define RESERVE(arena, tensor, n, dtype) \
  (ok = ok && facet_vk_arena_reserve (arena, tensor, n, dtype, error))
  RESERVE (s, &self->x, cap * t * d, e);
  RESERVE (s, &self->h, cap * t * d, e);
  RESERVE (s, &self->qkv, cap * t * 3 * d, e);
  RESERVE (s, &self->attn, cap * t * d, e);
  RESERVE (s, &self->mlp, cap * t * (gsize) c->mlp_hidden, e);
  RESERVE (s, &self->stats, 2 * (gsize) cap, f32);
  if (self->has_maps)
    RESERVE (s, &self->u, cap * np * a, f32);
  if (!self->ctx->uma)
    RESERVE (s, &self->images_dev, cap * img, f32);
  if (probs)
    {
      self->probs = g_new0 (FacetVkTensor, MAX (c->depth, 1));
      RESERVE (s, &self->lse, cap * (gsize) c->heads * t, f32);
      for (int l = 0; l < c->depth; l++)
        RESERVE (s, &self->probs[l], cap * t * t, f32);
      RESERVE (s, &self->roll[0], cap * t, f32);
      RESERVE (s, &self->roll[1], cap * t, f32);
    }
  for (int i = 0; i < 2; i++)
    {
      FrameIO *io = &self->io[i];
      RESERVE (&io->arena, &io->images, cap * img, f32);
      RESERVE (&io->arena, &io->logits, cap * a, f32);
      RESERVE (&io->arena, &io->probs, cap * a, f32);
      RESERVE (&io->arena, &io->pooled, cap * d, f32);
      RESERVE (&io->arena, &io->pooled_raw, cap * d, f32);
      RESERVE (&io->arena, &io->id_logits, cap * (gsize) c->n_subjects, f32);
      if (probs)
        RESERVE (&io->arena, &io->attention, cap * np, f32);
      if (self->has_maps)
        RESERVE (&io->arena, &io->au_maps, cap * a * np, f32);
    }
#undef RESERVE

  ok = ok && facet_vk_arena_commit (self->ctx, s, error);
  ok = ok && facet_vk_arena_commit (self->ctx, &self->io[0].arena, error);
  ok = ok && facet_vk_arena_commit (self->ctx, &self->io[1].arena, error);
  if (!ok)
    {
      free_scratch (self);
      return FALSE;
    }
  self->cap = cap;
  self->cap_probs = probs;
  return TRUE;
}

/* The forward ----------------------------------------------------------------- */

/* Patch embedding, position added, straight into token rows 1..; then the
 * class token rows. */
static gboolean
record_embed (VulkanBackend       *self,
              FacetVkFrame        *frame,
              const FacetVkTensor *images,
              guint32              n,
              GError             **error)
{
  FacetVkContext *ctx = self->ctx;
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  guint32 t = (guint32) facet_model_config_tokens (c), d = (guint32) c->dim;
  guint32 g = (guint32) facet_model_config_grid (c), np = g * g;
  const char *s = act_suffix (self);
  g_autofree char *pe = g_strconcat ("patch-embed-", s, NULL);
  MatmulArgs args = {
    .variant = pe, .tile = small_tile (self), .kind = FACET_OP_PATCH_EMBED,
    .a = VIEW (images), .w = VIEW (&self->pe_w), .bias = VIEW (&self->pe_b),
    .res = VIEW (&self->pos), .d = VIEW (&self->x),
    .m = n * np, .n = d, .k = 3 * (guint32) (c->patch_size * c->patch_size),
    .ldr = d, .ldd = d, .flags = FACET_MATMUL_BIAS | FACET_MATMUL_RESIDUAL,
    .image = (guint32) c->image_size, .psize = (guint32) c->patch_size, .grid = g,
    .out_tokens = t,
  };
  g_autofree char *cls = g_strconcat ("cls-token-", s, NULL);
  FacetVkPipeline *p;
  ClsPush push = { n, t, d, voff (VIEW (&self->cls)), voff (VIEW (&self->pos)),
                   voff (VIEW (&self->x)) };
  FacetVkBinding buffers[3] = { vbuf (VIEW (&self->cls)), vbuf (VIEW (&self->pos)),
                                vbuf (VIEW (&self->x)) };

  if (!record_matmul (self, frame, &args, error))
    return FALSE;
  p = facet_vk_pipeline_get (ctx, cls, 3, sizeof (ClsPush), NULL, 0, error);
  if (p == NULL
      || !facet_vk_dispatch (ctx, frame, p, buffers, &push, ceil_div (d, 64), n, 1, FACET_OP_ADD,
                             (double) n * d, error))
    return FALSE;
  facet_vk_barrier (frame);
  return TRUE;
}

/* The blocks: engine-vit.h's description, its ops recording dispatches.
 * Nothing is kept for a backward: the roles resolve to the chunk's scratch
 * (H1 and H2 share one buffer, GELU is fused into fc1, the residual adds
 * into the projections). Each op ends with a barrier, but the attention
 * op with @io->rollout, whose head-averaged probabilities (layer l's into
 * probs[l]) need no barrier before the projection that follows. */
typedef struct
{
  VulkanBackend *self;
  FacetVkFrame  *frame;
  FrameIO       *io;
  int            l;
  GError        *error; /* the first failure; the ops do nothing after it */
} VkVit;

static View
vit_view (VkVit      *vit,
          FacetVitBuf b)
{
  VulkanBackend *self = vit->self;

  switch (b)
    {
    case FACET_VIT_X:
      return VIEW (&self->x);
    case FACET_VIT_H1:
    case FACET_VIT_H2:
      return VIEW (&self->h);
    case FACET_VIT_QKV:
      return VIEW (&self->qkv);
    case FACET_VIT_ATTN:
      return VIEW (&self->attn);
    case FACET_VIT_ACT:
      return VIEW (&self->mlp);
    default:
      return (View) { NULL, 0 };
    }
}

static guint32
vit_rows (VkVit *vit)
{
  const FacetModelConfig *c = facet_model_get_config (vit->self->parent.model);
  return vit->io->count * (guint32) facet_model_config_tokens (c);
}

static void
vk_vit_block (gpointer ctx,
              int      l)
{
  ((VkVit *) ctx)->l = l;
}

static void
vk_vit_copy (gpointer    ctx,
             FacetVitBuf src,
             FacetVitBuf dst)
{
  /* nothing is kept */
}

static void
vk_vit_layer_norm (gpointer     ctx,
                   FacetVitNorm norm,
                   FacetVitBuf  x,
                   FacetVitBuf  y)
{
  VkVit *vit = ctx;
  VulkanBackend *self = vit->self;
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  const BlockWeights *bw = &self->blocks[vit->l];
  gboolean first = norm == FACET_VIT_NORM1;
  View none = { NULL, 0 };

  if (vit->error != NULL)
    return;
  if (record_layer_norm (self, vit->frame, act_suffix (self), vit_view (vit, x),
                         VIEW (first ? &bw->n1w : &bw->n2w), VIEW (first ? &bw->n1b : &bw->n2b),
                         vit_view (vit, y), none, vit_rows (vit), (guint32) c->dim, c->ln_eps,
                         &vit->error))
    facet_vk_barrier (vit->frame);
}

static void
vk_vit_linear (gpointer       ctx,
               FacetVitLinear which,
               FacetVitBuf    x,
               FacetVitBuf    y,
               FacetVitBuf    aux,
               guint          flags)
{
  VkVit *vit = ctx;
  VulkanBackend *self = vit->self;
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  const BlockWeights *bw = &self->blocks[vit->l];
  guint32 d = (guint32) c->dim, hid = (guint32) c->mlp_hidden;
  MatmulArgs args = { .a = vit_view (vit, x), .d = vit_view (vit, y), .m = vit_rows (vit),
                      .flags = FACET_MATMUL_BIAS };

  if (vit->error != NULL)
    return;
  switch (which)
    {
    case FACET_VIT_QKV_LINEAR:
      args.w = VIEW (&bw->qkvw), args.bias = VIEW (&bw->qkvb), args.n = 3 * d, args.k = d;
      break;
    case FACET_VIT_PROJ:
      args.w = VIEW (&bw->projw), args.bias = VIEW (&bw->projb), args.n = d, args.k = d;
      break;
    case FACET_VIT_FC1:
      args.w = VIEW (&bw->fc1w), args.bias = VIEW (&bw->fc1b), args.n = hid, args.k = d;
      break;
    case FACET_VIT_FC2:
    default:
      args.w = VIEW (&bw->fc2w), args.bias = VIEW (&bw->fc2b), args.n = d, args.k = hid;
      break;
    }
  args.lda = args.k;
  args.ldd = args.n;
  if (flags & FACET_VIT_OP_GELU)
    args.flags |= FACET_MATMUL_GELU;
  if (flags & FACET_VIT_OP_RESIDUAL)
    args.flags |= FACET_MATMUL_ACCUMULATE;
  matmul_main (self, &args);
  if (record_matmul (self, vit->frame, &args, &vit->error))
    facet_vk_barrier (vit->frame);
}

static void
vk_vit_attention (gpointer    ctx,
                  FacetVitBuf qkv,
                  FacetVitBuf out)
{
  VkVit *vit = ctx;
  VulkanBackend *self = vit->self;
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  guint32 n = vit->io->count, t = (guint32) facet_model_config_tokens (c);
  guint32 d = (guint32) c->dim, heads = (guint32) c->heads;
  View none = { NULL, 0 };

  if (vit->error != NULL
      || !record_attention (self, vit->frame, vit_view (vit, qkv), vit_view (vit, out),
                            vit->io->rollout ? VIEW (&self->lse) : none, n, t, heads, d,
                            &vit->error))
    return;
  facet_vk_barrier (vit->frame);
  /* The head-averaged probabilities need the lse rows just written; the
   * projection does not wait for them. */
  if (vit->io->rollout)
    record_attn_probs (self, vit->frame, vit_view (vit, qkv), VIEW (&self->lse),
                       VIEW (&self->probs[vit->l]), n, t, heads, d, &vit->error);
}

/* Inference only: no backward ops. */
static const FacetVitOps vk_vit_ops = {
  .block = vk_vit_block,
  .copy = vk_vit_copy,
  .layer_norm = vk_vit_layer_norm,
  .linear = vk_vit_linear,
  .attention = vk_vit_attention,
};

static gboolean
record_blocks (VulkanBackend *self,
               FacetVkFrame  *frame,
               FrameIO       *io,
               GError       **error)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  VkVit vit = { self, frame, io, 0, NULL };

  facet_vit_blocks_forward (&vk_vit_ops, &vit, 0, c->depth);
  if (vit.error != NULL)
    {
      g_propagate_error (error, vit.error);
      return FALSE;
    }
  return TRUE;
}

/* Readout, fp32 from here on: pooled feature, its norm, the AU and
 * identity heads, probabilities, and with @io->rollout the rollout map. */
static gboolean
record_readout (VulkanBackend *self,
                FacetVkFrame  *frame,
                FrameIO       *io,
                GError       **error)
{
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  guint32 n = io->count, t = (guint32) facet_model_config_tokens (c), d = (guint32) c->dim;
  guint32 a = (guint32) c->n_aus;
  gboolean cls_readout = c->readout == FACET_READOUT_CLS_TOKEN;
  View none = { NULL, 0 };

  if (!record_mean_pool (self, frame, VIEW (&self->x), VIEW (&io->pooled_raw), n, t, d,
                         cls_readout, error))
    return FALSE;
  facet_vk_barrier (frame);
  if (!record_layer_norm (self, frame, "f32", VIEW (&io->pooled_raw), VIEW (&self->norm_w),
                          VIEW (&self->norm_b), VIEW (&io->pooled),
                          io->maps ? VIEW (&self->stats) : none, n, d, c->ln_eps, error))
    return FALSE;
  facet_vk_barrier (frame);
  if (a > 0)
    {
      MatmulArgs head = { .variant = "matmul-f32", .tile = small_tile (self), .kind = FACET_OP_LINEAR,
                          .a = VIEW (&io->pooled), .w = VIEW (&self->head_w),
                          .bias = VIEW (&self->head_b), .d = VIEW (&io->logits),
                          .m = n, .n = a, .k = d, .lda = d, .ldd = a, .flags = FACET_MATMUL_BIAS };
      if (!record_matmul (self, frame, &head, error))
        return FALSE;
    }
  if (c->n_subjects > 0)
    {
      MatmulArgs id = { .variant = "matmul-f32", .tile = small_tile (self), .kind = FACET_OP_LINEAR,
                        .a = VIEW (&io->pooled), .w = VIEW (&self->id_w),
                        .bias = VIEW (&self->id_b), .d = VIEW (&io->id_logits),
                        .m = n, .n = (guint32) c->n_subjects, .k = d, .lda = d,
                        .ldd = (guint32) c->n_subjects, .flags = FACET_MATMUL_BIAS };
      if (!record_matmul (self, frame, &id, error))
        return FALSE;
    }
  facet_vk_barrier (frame);
  if (a > 0 && !record_unary (self, frame, "sigmoid", "f32", FACET_OP_SIGMOID, VIEW (&io->logits),
                              VIEW (&io->probs), n * a, error))
    return FALSE;

  if (io->rollout && c->depth > 0
      && !record_rollout (self, frame, self->probs, none, 0, &self->roll[0], &self->roll[1],
                          VIEW (&io->attention), n, t, (guint32) c->depth, cls_readout, error))
    return FALSE;
  return TRUE;
}

/* Per-AU maps: U[b] = tokens[b, 1..] (w * gamma)^T, one product per
 * image, then the au-maps kernel applies the norm statistics. */
static gboolean
record_au_maps (VulkanBackend *self,
                FacetVkFrame  *frame,
                FrameIO       *io,
                GError       **error)
{
  FacetVkContext *ctx = self->ctx;
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  guint32 n = io->count, t = (guint32) facet_model_config_tokens (c), d = (guint32) c->dim;
  guint32 g = (guint32) facet_model_config_grid (c), np = g * g, a = (guint32) c->n_aus;
  MatmulArgs gemm = { .variant = self->half ? "matmul-a16" : "matmul-f32",
                      .tile = small_tile (self),
                      .kind = FACET_OP_LINEAR, .a = { &self->x, d },
                      .w = VIEW (&self->head_wg), .d = VIEW (&self->u), .m = np, .n = a,
                      .k = d, .lda = d, .ldd = a, .z = n, .a_zstride = t * d,
                      .d_zstride = np * a };
  FacetVkPipeline *p;
  MapsPush push = { n, np, a, voff (VIEW (&self->u)), voff (VIEW (&self->stats)),
                    voff (VIEW (&self->head_wg_sum)), voff (VIEW (&io->au_maps)) };
  FacetVkBinding buffers[4] = { vbuf (VIEW (&self->u)), vbuf (VIEW (&self->stats)),
                                vbuf (VIEW (&self->head_wg_sum)), vbuf (VIEW (&io->au_maps)) };

  if (!record_matmul (self, frame, &gemm, error))
    return FALSE;
  facet_vk_barrier (frame);
  p = facet_vk_pipeline_get (ctx, "au-maps-f32", 4, sizeof (MapsPush), NULL, 0, error);
  if (p == NULL
      || !facet_vk_dispatch (ctx, frame, p, buffers, &push, ceil_div (np, 64), a, n,
                             FACET_OP_N_KINDS, 3.0 * n * a * np, error))
    return FALSE;
  return TRUE;
}

static gboolean
record_forward (VulkanBackend *self,
                FacetVkFrame  *frame,
                FrameIO       *io,
                GError       **error)
{
  FacetVkContext *ctx = self->ctx;
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  guint32 n = io->count;
  guint32 img = 3 * (guint32) c->image_size * (guint32) c->image_size;
  const FacetVkTensor *images = &io->images;

  if (!facet_vk_frame_begin (ctx, frame, error))
    return FALSE;
  /* The previous submission used the same scratch buffers. */
  facet_vk_barrier (frame);
  if (!ctx->uma)
    {
      facet_vk_copy (frame, &io->images, &self->images_dev, (VkDeviceSize) n * img * 4);
      facet_vk_barrier_transfer_to_compute (frame);
      images = &self->images_dev;
    }

  if (!record_embed (self, frame, images, n, error))
    return FALSE;
  if (!record_blocks (self, frame, io, error))
    return FALSE;
  if (!record_readout (self, frame, io, error))
    return FALSE;
  if (io->maps && !record_au_maps (self, frame, io, error))
    return FALSE;
  facet_vk_barrier_to_host (frame);
  return facet_vk_frame_submit (ctx, frame, error);
}

static void
read_back (VulkanBackend *self,
           FrameIO       *io)
{
  FacetForwardResult *r = io->result;
  const FacetModelConfig *c = facet_model_get_config (self->parent.model);
  gsize a = (gsize) c->n_aus, d = (gsize) c->dim, s = (gsize) c->n_subjects;
  gsize np = (gsize) r->grid * r->grid, n = io->count, b0 = io->start;

  if (a > 0)
    {
      facet_vk_tensor_read (&io->logits, r->logits + b0 * a, n * a);
      facet_vk_tensor_read (&io->probs, r->probs + b0 * a, n * a);
    }
  facet_vk_tensor_read (&io->pooled, r->pooled + b0 * d, n * d);
  if (io->raw)
    facet_vk_tensor_read (&io->pooled_raw, r->pooled_raw + b0 * d, n * d);
  if (s > 0 && r->id_logits != NULL)
    facet_vk_tensor_read (&io->id_logits, r->id_logits + b0 * s, n * s);
  if (io->rollout && c->depth > 0)
    facet_vk_tensor_read (&io->attention, r->attention + b0 * np, n * np);
  else if (io->rollout)
    {
      /* no layers: the readout's own weighting of the patches */
      float w = c->readout == FACET_READOUT_CLS_TOKEN ? 0.0f : 1.0f / (float) np;
      for (gsize i = 0; i < n * np; i++)
        r->attention[b0 * np + i] = w;
    }
  if (io->maps)
    facet_vk_tensor_read (&io->au_maps, r->au_maps + b0 * a * np, n * a * np);
}

static void
print_perf (const FacetVulkanPerf *perf,
            const char            *device,
            guint                  batch)
{
  double total = 0.0;

  for (int k = 0; k <= FACET_OP_N_KINDS; k++)
    total += perf->seconds[k];
  fprintf (stderr, "facet-vulkan: perf on %s, batch %u: %.3f ms GPU time\n", device, batch,
           total * 1e3);
  for (int k = 0; k <= FACET_OP_N_KINDS; k++)
    if (perf->count[k] > 0)
      fprintf (stderr, "  %-12s %5u dispatches %9.3f ms %8.1f GFLOP/s\n",
               k < FACET_OP_N_KINDS ? facet_op_kind_to_string (k) : "au_maps", perf->count[k],
               perf->seconds[k] * 1e3,
               perf->seconds[k] > 0 ? perf->flops[k] / perf->seconds[k] * 1e-9 : 0.0);
}

static void
add_perf (FacetVulkanPerf       *into,
          const FacetVulkanPerf *from)
{
  for (int k = 0; k <= FACET_OP_N_KINDS; k++)
    {
      into->count[k] += from->count[k];
      into->seconds[k] += from->seconds[k];
      into->flops[k] += from->flops[k];
    }
}

static gboolean
wait_frame (VulkanBackend   *self,
            int              i,
            FacetVulkanPerf *perf,
            GError         **error)
{
  if (!self->frames[i].pending)
    return TRUE;
  if (!facet_vk_frame_wait (self->ctx, &self->frames[i], perf, error))
    return FALSE;
  read_back (self, &self->io[i]);
  return TRUE;
}

static gboolean
vk_forward (FacetBackend       *backend,
            const float        *images,
            guint               batch,
            FacetForwardFlags   flags,
            FacetForwardResult *r,
            GError            **error)
{
  VulkanBackend *self = (VulkanBackend *) backend;
  const FacetModelConfig *c;
  gboolean rollout, maps;
  guint limit, n_chunks, per, k = 0;
  gsize img;
  FacetVulkanPerf perf = { { 0 } };

  if (self->parent.model == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "no model loaded");
      return FALSE;
    }
  if (!ensure_device (self, error))
    return FALSE;
  if (batch == 0)
    return TRUE;
  c = facet_model_get_config (self->parent.model);
  img = 3 * (gsize) c->image_size * c->image_size;
  rollout = (flags & FACET_FORWARD_ATTENTION) && r->attention != NULL;
  maps = (flags & FACET_FORWARD_AU_MAPS) && r->au_maps != NULL && self->has_maps;

  limit = chunk_limit (self, rollout);
  n_chunks = (batch + limit - 1) / limit;
  per = (batch + n_chunks - 1) / n_chunks;
  if (!ensure_scratch (self, per, rollout, limit, error))
    return FALSE;

  for (guint start = 0; start < batch; start += per, k++)
    {
      int i = (int) (k % 2);
      FrameIO *io = &self->io[i];

      /* While the device works on the other frame's chunk. */
      if (!wait_frame (self, i, &perf, error))
        goto fail;
      io->result = r;
      io->start = start;
      io->count = MIN (per, batch - start);
      io->rollout = rollout;
      io->maps = maps;
      io->raw = (flags & FACET_FORWARD_RAW_FEATURE) && r->pooled_raw != NULL;
      facet_vk_tensor_write (&io->images, images + (gsize) start * img, (gsize) io->count * img);
      if (!record_forward (self, &self->frames[i], io, error))
        goto fail;
    }
  /* The older submission first. */
  if (!wait_frame (self, (int) (k % 2), &perf, error) || !wait_frame (self, (int) ((k + 1) % 2), &perf, error))
    goto fail;
  if (maps)
    memcpy (r->au_map_bias, self->au_map_bias, sizeof (float) * (gsize) c->n_aus);
  add_perf (&self->perf, &perf);
  if (self->print_perf)
    print_perf (&perf, self->ctx->props.deviceName, batch);
  return TRUE;

fail:
  for (int i = 0; i < 2; i++)
    if (self->frames[i].pending)
      facet_vk_frame_wait (self->ctx, &self->frames[i], NULL, NULL);
  return FALSE;
}

/* Single ops ---------------------------------------------------------------- */

static gboolean
vk_supports_op (FacetBackend      *backend,
                const FacetOpDesc *op)
{
  VulkanBackend *self = (VulkanBackend *) backend;
  VkDeviceSize limit = self->ctx != NULL ? self->ctx->block_limit : 0;
  int n_in;

  if ((guint) op->kind >= FACET_OP_N_KINDS)
    return FALSE;
  if ((op->kind == FACET_OP_ATTENTION || op->kind == FACET_OP_ATTN_PROBS)
      && (op->heads < 1 || op->dim % op->heads != 0 || op->dim / op->heads > MAX_HEAD_DIM))
    return FALSE;
  if (op->kind == FACET_OP_PATCH_EMBED && (op->patch < 1 || op->image < op->patch))
    return FALSE;
  if (op->kind == FACET_OP_ROLLOUT && (op->depth < 1 || op->tokens < 1))
    return FALSE;
  n_in = facet_op_n_inputs (op);
  for (int i = 0; i < n_in; i++)
    if (facet_op_input_size (op, i) * 4 > limit)
      return FALSE;
  return facet_op_output_size (op) * 4 <= limit;
}

/* Whether input @index (or the output, -1) is stored in the activation type. */
static gboolean
op_tensor_is_act (const FacetOpDesc *op,
                  int                index)
{
  switch (op->kind)
    {
    case FACET_OP_ATTN_PROBS:
    case FACET_OP_MEAN_POOL:
      return index >= 0;
    case FACET_OP_PATCH_EMBED:
      return index != 0;
    case FACET_OP_ROLLOUT:
      return FALSE;
    default:
      return TRUE;
    }
}

static gboolean
record_op (VulkanBackend       *self,
           FacetVkFrame        *frame,
           const FacetOpDesc   *op,
           const FacetVkTensor *in,
           const FacetVkTensor *out,
           const FacetVkTensor *tmp,
           GError             **error)
{
  const char *s = act_suffix (self);
  View none = { NULL, 0 };

  switch (op->kind)
    {
    case FACET_OP_LINEAR:
      {
        int i = 2;
        MatmulArgs args = { .a = VIEW (&in[0]), .w = VIEW (&in[1]), .d = VIEW (out),
                            .m = (guint32) op->m, .n = (guint32) op->n, .k = (guint32) op->k,
                            .lda = (guint32) op->k, .ldr = (guint32) op->n, .ldd = (guint32) op->n };
        matmul_main (self, &args);
        if (op->flags & FACET_OP_BIAS)
          {
            args.bias = VIEW (&in[i++]);
            args.flags |= FACET_MATMUL_BIAS;
          }
        if (op->flags & FACET_OP_RESIDUAL)
          {
            args.res = VIEW (&in[i++]);
            args.flags |= FACET_MATMUL_RESIDUAL;
          }
        if (op->flags & FACET_OP_ACT_GELU)
          args.flags |= FACET_MATMUL_GELU;
        return record_matmul (self, frame, &args, error);
      }
    case FACET_OP_LAYER_NORM:
      return record_layer_norm (self, frame, s, VIEW (&in[0]), VIEW (&in[1]), VIEW (&in[2]),
                                VIEW (out), none, (guint32) op->m, (guint32) op->n, op->eps, error);
    case FACET_OP_GELU:
      return record_unary (self, frame, "gelu", s, FACET_OP_GELU, VIEW (&in[0]), VIEW (out),
                           (guint32) op->n, error);
    case FACET_OP_SIGMOID:
      return record_unary (self, frame, "sigmoid", s, FACET_OP_SIGMOID, VIEW (&in[0]), VIEW (out),
                           (guint32) op->n, error);
    case FACET_OP_ADD:
      {
        g_autofree char *variant = g_strconcat ("add-", s, NULL);
        FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 3, sizeof (AddPush), NULL,
                                                    0, error);
        AddPush push = { (guint32) op->n, voff (VIEW (&in[0])), voff (VIEW (&in[1])),
                         voff (VIEW (out)) };
        FacetVkBinding buffers[3] = { vbuf (VIEW (&in[0])), vbuf (VIEW (&in[1])), vbuf (VIEW (out)) };
        return p != NULL
               && facet_vk_dispatch (self->ctx, frame, p, buffers, &push,
                                     MIN (ceil_div ((guint32) op->n, 256), 65535u), 1, 1,
                                     FACET_OP_ADD, (double) op->n, error);
      }
    case FACET_OP_SOFTMAX:
      {
        g_autofree char *variant = g_strconcat ("softmax-", s, NULL);
        FacetVkPipeline *p = facet_vk_pipeline_get (self->ctx, variant, 2, sizeof (SoftmaxPush),
                                                    NULL, 0, error);
        SoftmaxPush push = { (guint32) op->m, (guint32) op->n, voff (VIEW (&in[0])),
                             voff (VIEW (out)), op->alpha };
        FacetVkBinding buffers[2] = { vbuf (VIEW (&in[0])), vbuf (VIEW (out)) };
        guint32 gx, gy;
        facet_vk_row_grid (self->ctx, (guint32) op->m, &gx, &gy);
        return p != NULL
               && facet_vk_dispatch (self->ctx, frame, p, buffers, &push, gx, gy, 1,
                                     FACET_OP_SOFTMAX, 5.0 * op->m * op->n, error);
      }
    case FACET_OP_ATTENTION:
      return record_attention (self, frame, VIEW (&in[0]), VIEW (out), none, (guint32) op->batch,
                               (guint32) op->tokens, (guint32) op->heads, (guint32) op->dim, error);
    case FACET_OP_ATTN_PROBS:
      if (!record_attention (self, frame, VIEW (&in[0]), VIEW (&tmp[0]), VIEW (&tmp[1]),
                             (guint32) op->batch, (guint32) op->tokens, (guint32) op->heads,
                             (guint32) op->dim, error))
        return FALSE;
      facet_vk_barrier (frame);
      return record_attn_probs (self, frame, VIEW (&in[0]), VIEW (&tmp[1]), VIEW (out),
                                (guint32) op->batch, (guint32) op->tokens, (guint32) op->heads,
                                (guint32) op->dim, error);
    case FACET_OP_MEAN_POOL:
      return record_mean_pool (self, frame, VIEW (&in[0]), VIEW (out), (guint32) op->batch,
                               (guint32) op->tokens, (guint32) op->dim, FALSE, error);
    case FACET_OP_PATCH_EMBED:
      {
        g_autofree char *variant = g_strconcat ("patch-embed-", s, NULL);
        guint32 g = (guint32) (op->image / op->patch);
        MatmulArgs args = {
          .variant = variant, .tile = small_tile (self), .kind = FACET_OP_PATCH_EMBED,
          .a = VIEW (&in[0]), .w = VIEW (&in[1]), .bias = VIEW (&in[2]), .d = VIEW (out),
          .m = (guint32) op->batch * g * g, .n = (guint32) op->dim,
          .k = 3 * (guint32) (op->patch * op->patch), .ldd = (guint32) op->dim,
          .flags = FACET_MATMUL_BIAS, .image = (guint32) op->image, .psize = (guint32) op->patch,
          .grid = g,
        };
        return record_matmul (self, frame, &args, error);
      }
    case FACET_OP_ROLLOUT:
      return record_rollout (self, frame, NULL, VIEW (&in[0]),
                             (guint32) (op->batch * op->tokens * op->tokens), &tmp[0], &tmp[1],
                             VIEW (out), (guint32) op->batch, (guint32) op->tokens,
                             (guint32) op->depth, (op->flags & FACET_OP_CLS_READOUT) != 0, error);
    case FACET_OP_N_KINDS:
    default:
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_INVALID, "unknown op %d", op->kind);
      return FALSE;
    }
}

static gboolean
vk_compute_op (FacetBackend        *backend,
               const FacetOpDesc   *op,
               const float * const *inputs,
               float               *output,
               GError             **error)
{
  VulkanBackend *self = (VulkanBackend *) backend;
  FacetVkContext *ctx;
  FacetVkArena dev, host;
  FacetVkTensor in[4], out, tmp[2], stage_in[4], stage_out;
  FacetVkFrame *frame = &self->frames[0];
  int n_in = facet_op_n_inputs (op);
  gsize out_n = facet_op_output_size (op);
  gboolean ok = TRUE;
  FacetVulkanPerf perf = { { 0 } };

  if (!ensure_device (self, error))
    return FALSE;
  if (!vk_supports_op (backend, op))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "the Vulkan backend does not support this %s op (sizes or head dimension)",
                   facet_op_kind_to_string (op->kind));
      return FALSE;
    }
  ctx = self->ctx;
  facet_vk_arena_init (&dev, ctx, FACET_VK_MEM_DEVICE);
  facet_vk_arena_init (&host, ctx, FACET_VK_MEM_HOST);
  memset (tmp, 0, sizeof tmp);

  for (int i = 0; i < n_in && ok; i++)
    {
      FacetVkDtype dt = op_tensor_is_act (op, i) ? act_dtype (self) : FACET_VK_F32;
      gsize n = facet_op_input_size (op, i);
      ok = facet_vk_arena_reserve (&dev, &in[i], n, dt, error)
           && (ctx->uma || facet_vk_arena_reserve (&host, &stage_in[i], n, dt, error));
    }
  ok = ok && facet_vk_arena_reserve (&dev, &out, out_n,
                                     op_tensor_is_act (op, -1) ? act_dtype (self) : FACET_VK_F32,
                                     error);
  ok = ok && (ctx->uma || facet_vk_arena_reserve (&host, &stage_out, out_n, out.dtype, error));
  if (ok && op->kind == FACET_OP_ATTN_PROBS)
    ok = facet_vk_arena_reserve (&dev, &tmp[0], (gsize) op->batch * op->tokens * op->dim,
                                 act_dtype (self), error)
         && facet_vk_arena_reserve (&dev, &tmp[1], (gsize) op->batch * op->heads * op->tokens,
                                    FACET_VK_F32, error);
  if (ok && op->kind == FACET_OP_ROLLOUT)
    ok = facet_vk_arena_reserve (&dev, &tmp[0], (gsize) op->batch * op->tokens, FACET_VK_F32, error)
         && facet_vk_arena_reserve (&dev, &tmp[1], (gsize) op->batch * op->tokens, FACET_VK_F32,
                                    error);
  ok = ok && facet_vk_arena_commit (ctx, &dev, error) && facet_vk_arena_commit (ctx, &host, error);
  ok = ok && facet_vk_frame_begin (ctx, frame, error);
  if (ok)
    {
      for (int i = 0; i < n_in; i++)
        {
          facet_vk_tensor_write (ctx->uma ? &in[i] : &stage_in[i], inputs[i], in[i].n);
          if (!ctx->uma)
            facet_vk_copy (frame, &stage_in[i], &in[i], 0);
        }
      if (!ctx->uma)
        facet_vk_barrier_transfer_to_compute (frame);
      ok = record_op (self, frame, op, in, &out, tmp, error);
    }
  if (ok)
    {
      if (!ctx->uma)
        {
          facet_vk_barrier_compute_to_transfer (frame);
          facet_vk_copy (frame, &out, &stage_out, 0);
        }
      facet_vk_barrier_to_host (frame);
      ok = facet_vk_frame_submit (ctx, frame, error) && facet_vk_frame_wait (ctx, frame, &perf, error);
    }
  if (ok)
    {
      facet_vk_tensor_read (ctx->uma ? &out : &stage_out, output, out_n);
      add_perf (&self->perf, &perf);
    }
  facet_vk_arena_clear (ctx, &dev);
  facet_vk_arena_clear (ctx, &host);
  free_arena_struct (&dev);
  free_arena_struct (&host);
  return ok;
}

/* The backend ------------------------------------------------------------------ */

static gboolean
vk_load_model (FacetBackend *backend,
               FacetModel   *model,
               GError      **error)
{
  VulkanBackend *self = (VulkanBackend *) backend;
  const FacetModelConfig *c = facet_model_get_config (model);

  if (!ensure_device (self, error))
    return FALSE;
  free_scratch (self);
  free_weights (self);
  g_clear_pointer (&self->parent.model, facet_model_unref);

  if (c->dim / c->heads > MAX_HEAD_DIM)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "the Vulkan backend supports attention heads of up to %d dimensions, the "
                   "model has %d", MAX_HEAD_DIM, c->dim / c->heads);
      return FALSE;
    }
  if (c->in_chans != 3)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "the Vulkan backend needs 3 input channels, the model has %d", c->in_chans);
      return FALSE;
    }
  self->parent.model = facet_model_ref (model);
  if (!upload_weights (self, error) || !prepare_pipelines (self, error))
    {
      free_weights (self);
      g_clear_pointer (&self->parent.model, facet_model_unref);
      return FALSE;
    }
  return TRUE;
}

static char *
vk_describe (FacetBackend *backend)
{
  VulkanBackend *self = (VulkanBackend *) backend;
  FacetVkContext *ctx = self->ctx;
  const char *precision;

  if (ctx == NULL)
    return g_strdup ("Vulkan (device lost, not yet recreated)");
  if (self->half)
    precision = "fp16 storage";
  else if (self->options.precision == FACET_PRECISION_FP16)
    precision = "fp32 (the device lacks 16-bit storage or FACET_VK_DISABLE_F16 is set)";
  else
    precision = "fp32";
  return g_strdup_printf ("Vulkan device %d: %s (%s, %s, %.1f GiB), %s", ctx->device_index,
                          ctx->props.deviceName,
                          facet_device_type_to_string (facet_vk_device_type (ctx->props.deviceType)),
                          ctx->driver, (double) ctx->device_memory / (1 << 30), precision);
}

static void
vk_synchronize (FacetBackend *backend)
{
  VulkanBackend *self = (VulkanBackend *) backend;

  if (self->ctx != NULL && !self->ctx->lost)
    vkQueueWaitIdle (self->ctx->queue);
}

static void
vk_free (FacetBackend *backend)
{
  VulkanBackend *self = (VulkanBackend *) backend;

  teardown (self);
  g_clear_pointer (&self->parent.model, facet_model_unref);
  g_free (self->device);
  g_free (self);
}

static const FacetBackendVTable vulkan_vtable = {
  .name = "vulkan",
  .free = vk_free,
  .describe = vk_describe,
  .supports_op = vk_supports_op,
  .compute_op = vk_compute_op,
  .load_model = vk_load_model,
  .forward = vk_forward,
  .synchronize = vk_synchronize,
};

/* FACET_VK_FAULT=alloc:N or submit:N: the N-th device allocation or queue
 * submission from now on fails, to try the out-of-memory and device-lost
 * paths of a whole program (facet-cli falls back to the CPU). */
static void
apply_fault_env (VulkanBackend *self)
{
  const char *v = g_getenv ("FACET_VK_FAULT");
  g_auto (GStrv) parts = NULL;
  guint64 n;

  if (v == NULL)
    return;
  parts = g_strsplit (v, ":", 2);
  if (parts[0] == NULL || parts[1] == NULL
      || !g_ascii_string_to_unsigned (parts[1], 10, 1, G_MAXUINT, &n, NULL))
    return;
  if (g_str_equal (parts[0], "alloc"))
    self->ctx->fault_alloc = (guint) n;
  else if (g_str_equal (parts[0], "submit"))
    self->ctx->fault_submit = (guint) n;
}

/**
 * facet_vulkan_backend_new_full:
 * @options: (nullable): NULL for the defaults (the best device, fp32)
 *
 * Opens a Vulkan device. Fails with FACET_ENGINE_ERROR_BACKEND when there
 * is no driver or no usable device.
 */
FacetBackend *
facet_vulkan_backend_new_full (const FacetVulkanOptions *options,
                               GError                  **error)
{
  VulkanBackend *self = g_new0 (VulkanBackend, 1);

  self->parent.vtable = &vulkan_vtable;
  if (options != NULL)
    self->options = *options;
  self->device = g_strdup (self->options.device);
  self->options.device = self->device;
  self->print_perf = g_getenv ("FACET_VK_PERF") != NULL && g_strcmp0 (g_getenv ("FACET_VK_PERF"), "0") != 0;
  if (!setup (self, error))
    {
      g_free (self->device);
      g_free (self);
      return NULL;
    }
  apply_fault_env (self);
  return &self->parent;
}

/**
 * facet_vulkan_backend_new:
 *
 * The Vulkan backend on the preferred device ($FACET_VK_DEVICE, else
 * discrete, integrated, then CPU drivers), in the default precision.
 */
FacetBackend *
facet_vulkan_backend_new (GError **error)
{
  FacetVulkanOptions options = { .precision = facet_backend_get_default_precision () };

  return facet_vulkan_backend_new_full (&options, error);
}

static VulkanBackend *
vulkan_cast (FacetBackend *backend)
{
  g_return_val_if_fail (backend != NULL && backend->vtable == &vulkan_vtable, NULL);
  return (VulkanBackend *) backend;
}

/* Whether the backend runs on a discrete or integrated GPU (not a CPU driver). */
gboolean
facet_vulkan_backend_is_gpu (FacetBackend *backend)
{
  VulkanBackend *self = vulkan_cast (backend);

  return self != NULL && self->ctx != NULL
         && (self->ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
             || self->ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU);
}

/* The precision in use (fp16 only where the device has 16-bit storage). */
FacetPrecision
facet_vulkan_backend_get_precision (FacetBackend *backend)
{
  VulkanBackend *self = vulkan_cast (backend);

  return self != NULL && self->half ? FACET_PRECISION_FP16 : FACET_PRECISION_FP32;
}

/* Images per submission that the scratch buffers hold now (0 before the
 * first forward). */
guint
facet_vulkan_backend_get_chunk (FacetBackend *backend)
{
  VulkanBackend *self = vulkan_cast (backend);

  return self != NULL ? self->cap : 0;
}

/* How often the device was rebuilt after being lost. */
guint
facet_vulkan_backend_get_recoveries (FacetBackend *backend)
{
  VulkanBackend *self = vulkan_cast (backend);

  return self != NULL ? self->recoveries : 0;
}

/* GPU time per op kind since the last reset (needs options.perf or
 * FACET_VK_PERF, and a queue with timestamps). */
void
facet_vulkan_backend_get_perf (FacetBackend    *backend,
                               FacetVulkanPerf *perf)
{
  VulkanBackend *self = vulkan_cast (backend);

  g_return_if_fail (perf != NULL);
  if (self != NULL)
    *perf = self->perf;
}

void
facet_vulkan_backend_reset_perf (FacetBackend *backend)
{
  VulkanBackend *self = vulkan_cast (backend);

  if (self != NULL)
    memset (&self->perf, 0, sizeof self->perf);
}

/**
 * facet_vulkan_backend_inject_fault:
 * @countdown: the @countdown-th allocation or submission from now fails
 *
 * For tests of the failure paths: an allocation fails as out of device
 * memory, a submission as a lost device (nothing is submitted; the device
 * is rebuilt on the next use, as after a real loss).
 */
void
facet_vulkan_backend_inject_fault (FacetBackend     *backend,
                                   FacetVulkanFault  fault,
                                   guint             countdown)
{
  VulkanBackend *self = vulkan_cast (backend);

  if (self == NULL || self->ctx == NULL)
    return;
  if (fault == FACET_VULKAN_FAULT_ALLOC)
    self->ctx->fault_alloc = countdown;
  else
    self->ctx->fault_submit = countdown;
}
