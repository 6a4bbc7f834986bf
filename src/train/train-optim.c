/* train-optim.c — AdamW, parameter groups and learning-rate schedule
 *
 * Follows the FMAE-IAT fine-tuning recipe (see REFERENCE.md): layer-wise lr
 * decay with the class token, position table and patch embedding in layer 0,
 * block i in layer i + 1, and everything after the blocks in layer depth + 1;
 * no weight decay on 1-D tensors, the class token and the position table;
 * linear warm-up then a half-cycle cosine, evaluated per step. The update is
 * written in the same order of operations as torch.optim.AdamW so that one
 * step gives the same weights.
 */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "core/core-pool.h"
#include "train-optim.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FACET_NO_CLONES)
#define OPTIM_KERNEL __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define OPTIM_KERNEL
#endif

typedef struct
{
  char   *name;
  float  *param;
  float  *grad;
  float  *m, *v;
  gsize   n;
  double  lr_scale;
  double  weight_decay;
} Param;

struct _FacetOptimizer
{
  FacetOptimConfig config;
  GArray          *params; /* Param */
  gint64           steps;
};

void
facet_optim_config_init (FacetOptimConfig *c)
{
  c->base_lr = 5e-4 * 64 / 256;
  c->min_lr = 1e-6;
  c->warmup_epochs = 2;
  c->epochs = 20;
  c->weight_decay = 0.05;
  c->layer_decay = 0.65;
  c->id_head_lr_scale = 1.0;
  c->beta1 = 0.9;
  c->beta2 = 0.999;
  c->eps = 1e-8;
}

/* The learning rate at a fractional epoch. */
double
facet_optim_lr_at (const FacetOptimConfig *c,
                   double                  epoch)
{
  if (epoch < c->warmup_epochs)
    return c->base_lr * epoch / c->warmup_epochs;
  if (c->epochs <= c->warmup_epochs)
    return c->base_lr;
  return c->min_lr + (c->base_lr - c->min_lr) * 0.5
                       * (1.0 + cos (G_PI * (epoch - c->warmup_epochs)
                                     / (c->epochs - c->warmup_epochs)));
}

static int
layer_id (const char *name,
          int         depth)
{
  if (g_str_equal (name, "cls_token") || g_str_equal (name, "pos_embed")
      || g_str_has_prefix (name, "patch_embed"))
    return 0;
  if (g_str_has_prefix (name, "blocks."))
    return (int) g_ascii_strtoll (name + 7, NULL, 10) + 1;
  return depth + 1;
}

/**
 * facet_optimizer_new:
 *
 * One AdamW state per tensor that has a gradient buffer. The model must be
 * writable (facet_model_make_writable) and stay alive.
 */
FacetOptimizer *
facet_optimizer_new (FacetModel             *model,
                     FacetGrads             *grads,
                     const FacetOptimConfig *config)
{
  FacetOptimizer *opt = g_new0 (FacetOptimizer, 1);
  GPtrArray *names = facet_grads_get_names (grads);
  int depth = facet_model_get_config (model)->depth;

  opt->config = *config;
  opt->params = g_array_new (FALSE, TRUE, sizeof (Param));
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const FacetTensor *t = facet_model_get_tensor (model, name);
      Param p = { 0 };

      g_assert (t != NULL);
      p.name = g_strdup (name);
      p.param = (float *) t->data;
      p.grad = facet_grads_get (grads, name);
      p.n = (gsize) facet_tensor_numel (t);
      p.m = g_aligned_alloc0 (MAX (p.n, 1), sizeof (float), 64);
      p.v = g_aligned_alloc0 (MAX (p.n, 1), sizeof (float), 64);
      p.lr_scale = pow (config->layer_decay, depth + 1 - layer_id (name, depth));
      if (g_str_has_prefix (name, "ID_head."))
        p.lr_scale *= config->id_head_lr_scale;
      p.weight_decay = (t->ndim == 1 || g_str_equal (name, "cls_token")
                        || g_str_equal (name, "pos_embed"))
                         ? 0.0
                         : config->weight_decay;
      g_array_append_val (opt->params, p);
    }
  return opt;
}

void
facet_optimizer_free (FacetOptimizer *opt)
{
  if (opt == NULL)
    return;
  for (guint i = 0; i < opt->params->len; i++)
    {
      Param *p = &g_array_index (opt->params, Param, i);
      g_free (p->name);
      g_aligned_free (p->m);
      g_aligned_free (p->v);
    }
  g_array_unref (opt->params);
  g_free (opt);
}

typedef struct
{
  Param *p;
  float  decay, step_size, b1, b2, inv_bc2, eps;
  guint  parts;
} AdamJob;

/* AdamW on n elements, torch's order of operations. Built with -O3,
 * -fno-math-errno and -ffp-contract=off (meson.build): the loop vectorises
 * (vsqrtps and vdivps round as sqrtf and / do) and no product is fused into
 * an add, so every element gets the bits the scalar loop gives it, whatever
 * the clone, the split over threads or where a vector ends. */
static OPTIM_KERNEL void
adam_update (float *restrict       param,
             const float *restrict grad,
             float *restrict       m,
             float *restrict       v,
             gsize                 n,
             const AdamJob        *j)
{
  float decay = j->decay, b1 = j->b1, b2 = j->b2, c1 = 1.0f - j->b1, c2 = 1.0f - j->b2;
  float inv_bc2 = j->inv_bc2, eps = j->eps, step_size = j->step_size;

  for (gsize i = 0; i < n; i++)
    {
      float g = grad[i];
      float mi = m[i] * b1 + g * c1;
      float vi = v[i] * b2 + g * g * c2;
      float denom = sqrtf (vi) * inv_bc2 + eps;
      m[i] = mi;
      v[i] = vi;
      param[i] = param[i] * decay - step_size * (mi / denom);
    }
}

static void
adam_range (const AdamJob *j,
            gsize          lo,
            gsize          hi)
{
  Param *p = j->p;

  adam_update (p->param + lo, p->grad + lo, p->m + lo, p->v + lo, hi - lo, j);
}

static void
adam_part (guint    index,
           gpointer data)
{
  const AdamJob *j = data;
  gsize n = j->p->n;

  adam_range (j, n * index / j->parts, n * (index + 1) / j->parts);
}

/**
 * facet_optimizer_step:
 * @lr: the schedule's learning rate for this step (each group scales it)
 *
 * Large tensors are split over the worker pool: each element's update is
 * independent, so the result does not depend on the split.
 */
void
facet_optimizer_step (FacetOptimizer *opt,
                      double          lr)
{
  const FacetOptimConfig *c = &opt->config;
  guint threads = facet_parallel_get_threads ();
  double bc1, bc2_sqrt;

  opt->steps++;
  bc1 = 1.0 - pow (c->beta1, (double) opt->steps);
  bc2_sqrt = sqrt (1.0 - pow (c->beta2, (double) opt->steps));

  for (guint i = 0; i < opt->params->len; i++)
    {
      Param *p = &g_array_index (opt->params, Param, i);
      float group_lr = (float) (lr * p->lr_scale);
      AdamJob job = {
        .p = p,
        .decay = (float) (1.0 - (double) group_lr * p->weight_decay),
        .step_size = (float) ((double) group_lr / bc1),
        .b1 = (float) c->beta1,
        .b2 = (float) c->beta2,
        .inv_bc2 = (float) (1.0 / bc2_sqrt),
        .eps = (float) c->eps,
        .parts = 1,
      };

      if (threads > 1 && p->n >= 65536)
        {
          job.parts = 4 * threads;
          facet_parallel_for (job.parts, adam_part, &job);
        }
      else
        adam_range (&job, 0, p->n);
    }
}

gint64
facet_optimizer_get_steps (FacetOptimizer *opt)
{
  return opt->steps;
}

static Param *
find_param (FacetOptimizer *opt,
            const char     *name)
{
  for (guint i = 0; i < opt->params->len; i++)
    if (g_str_equal (g_array_index (opt->params, Param, i).name, name))
      return &g_array_index (opt->params, Param, i);
  return NULL;
}

double
facet_optimizer_lr_scale (FacetOptimizer *opt,
                          const char     *name)
{
  Param *p = find_param (opt, name);
  return p ? p->lr_scale : 0.0;
}

double
facet_optimizer_decay_of (FacetOptimizer *opt,
                          const char     *name)
{
  Param *p = find_param (opt, name);
  return p ? p->weight_decay : 0.0;
}

void
facet_optimizer_export (FacetOptimizer *opt,
                        GPtrArray      *tensors,
                        GHashTable     *metadata)
{
  for (guint i = 0; i < opt->params->len; i++)
    {
      Param *p = &g_array_index (opt->params, Param, i);
      gint64 shape[1] = { (gint64) p->n };
      g_autofree char *mname = g_strconcat ("adam.m.", p->name, NULL);
      g_autofree char *vname = g_strconcat ("adam.v.", p->name, NULL);
      float *dst;

      g_ptr_array_add (tensors, facet_tensor_new_f32 (mname, 1, shape, &dst));
      memcpy (dst, p->m, sizeof (float) * p->n);
      g_ptr_array_add (tensors, facet_tensor_new_f32 (vname, 1, shape, &dst));
      memcpy (dst, p->v, sizeof (float) * p->n);
    }
  g_hash_table_insert (metadata, g_strdup ("adam.steps"),
                       g_strdup_printf ("%" G_GINT64_FORMAT, opt->steps));
}

gboolean
facet_optimizer_import (FacetOptimizer *opt,
                        GPtrArray      *tensors,
                        GHashTable     *metadata,
                        GError        **error)
{
  const char *steps = g_hash_table_lookup (metadata, "adam.steps");
  guint64 n = 0;

  if (steps == NULL || !g_ascii_string_to_unsigned (steps, 10, 0, G_MAXINT64, &n, NULL))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "checkpoint has no optimiser step count");
      return FALSE;
    }
  for (guint i = 0; i < opt->params->len; i++)
    {
      Param *p = &g_array_index (opt->params, Param, i);
      gboolean found_m = FALSE, found_v = FALSE;
      for (guint j = 0; j < tensors->len; j++)
        {
          FacetTensor *t = g_ptr_array_index (tensors, j);
          gboolean is_m = g_str_has_prefix (t->name, "adam.m.") && g_str_equal (t->name + 7, p->name);
          gboolean is_v = g_str_has_prefix (t->name, "adam.v.") && g_str_equal (t->name + 7, p->name);
          if (!is_m && !is_v)
            continue;
          if (t->dtype != FACET_DTYPE_F32 || (gsize) facet_tensor_numel (t) != p->n)
            {
              g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_SHAPE,
                           "optimiser state %s does not fit the model", t->name);
              return FALSE;
            }
          memcpy (is_m ? p->m : p->v, t->data, sizeof (float) * p->n);
          found_m |= is_m;
          found_v |= is_v;
        }
      if (!found_m || !found_v)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                       "checkpoint has no optimiser state for %s", p->name);
          return FALSE;
        }
    }
  opt->steps = (gint64) n;
  return TRUE;
}

/* Scales all gradients so that their global norm is at most @max_norm (as
 * torch.nn.utils.clip_grad_norm_); returns the norm before clipping. */
double
facet_clip_grad_norm (FacetGrads *grads,
                      double      max_norm)
{
  double norm = facet_grads_norm (grads);

  if (max_norm > 0.0 && norm > max_norm)
    facet_grads_scale (grads, (float) (max_norm / (norm + 1e-6)));
  return norm;
}
