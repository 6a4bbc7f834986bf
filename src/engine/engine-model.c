/* engine-model.c — loading, checking, creating and saving models */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "core/core-rng.h"
#include "engine-checkpoint.h"
#include "engine-error.h"
#include "engine-model.h"

#define CONFIG_KEY "facet.config"
#define TRAINING_KEY "facet.training"

struct _FacetModel
{
  gint              ref_count;
  FacetModelConfig *config;
  FacetModelFormat  format;
  char             *path;
  GPtrArray        *tensors; /* fp32 FacetTensor*, canonical order */
  GHashTable       *by_name;
  GPtrArray        *notes;   /* NULL-terminated char* */
  char             *extras;
  char             *training; /* "facet.training" of the file: how the weights were made */
  gboolean          writable; /* every tensor in owned memory */
};

typedef struct
{
  char  *name;
  int    ndim;
  gint64 shape[4];
} Expected;

static void
expected_free (gpointer data)
{
  Expected *e = data;
  g_free (e->name);
  g_free (e);
}

static void
expect (GPtrArray  *list,
        const char *name,
        int         ndim,
        gint64      d0,
        gint64      d1,
        gint64      d2,
        gint64      d3)
{
  Expected *e = g_new0 (Expected, 1);

  e->name = g_strdup (name);
  e->ndim = ndim;
  e->shape[0] = d0;
  e->shape[1] = d1;
  e->shape[2] = d2;
  e->shape[3] = d3;
  g_ptr_array_add (list, e);
}

/* The tensors of one transformer block (the encoder's and the MAE decoder's). */
static void
expect_block (GPtrArray  *list,
              const char *prefix,
              int         i,
              int         d,
              int         hidden)
{
  g_autofree char *p = g_strdup_printf ("%s.%d.", prefix, i);
#define B(suffix, ...)                                                    \
  G_STMT_START                                                            \
  {                                                                       \
    g_autofree char *n = g_strconcat (p, suffix, NULL);                   \
    expect (list, n, __VA_ARGS__);                                        \
  }                                                                       \
  G_STMT_END
  B ("norm1.weight", 1, d, 0, 0, 0);
  B ("norm1.bias", 1, d, 0, 0, 0);
  B ("attn.qkv.weight", 2, 3 * d, d, 0, 0);
  B ("attn.qkv.bias", 1, 3 * d, 0, 0, 0);
  B ("attn.proj.weight", 2, d, d, 0, 0);
  B ("attn.proj.bias", 1, d, 0, 0, 0);
  B ("norm2.weight", 1, d, 0, 0, 0);
  B ("norm2.bias", 1, d, 0, 0, 0);
  B ("mlp.fc1.weight", 2, hidden, d, 0, 0);
  B ("mlp.fc1.bias", 1, hidden, 0, 0, 0);
  B ("mlp.fc2.weight", 2, d, hidden, 0, 0);
  B ("mlp.fc2.bias", 1, d, 0, 0, 0);
#undef B
}

/* Every tensor a model with @c has, in canonical order, with its shape. */
static GPtrArray *
expected_tensors (const FacetModelConfig *c)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (expected_free);
  int d = c->dim, t = facet_model_config_tokens (c);

  expect (list, "cls_token", 3, 1, 1, d, 0);
  expect (list, "pos_embed", 3, 1, t, d, 0);
  expect (list, "patch_embed.proj.weight", 4, d, c->in_chans, c->patch_size, c->patch_size);
  expect (list, "patch_embed.proj.bias", 1, d, 0, 0, 0);
  for (int i = 0; i < c->depth; i++)
    expect_block (list, "blocks", i, d, c->mlp_hidden);
  if (c->readout == FACET_READOUT_GLOBAL_POOL)
    {
      expect (list, "fc_norm.weight", 1, d, 0, 0, 0);
      expect (list, "fc_norm.bias", 1, d, 0, 0, 0);
    }
  else
    {
      expect (list, "norm.weight", 1, d, 0, 0, 0);
      expect (list, "norm.bias", 1, d, 0, 0, 0);
    }
  if (c->n_aus > 0)
    {
      expect (list, "head.weight", 2, c->n_aus, d, 0, 0);
      expect (list, "head.bias", 1, c->n_aus, 0, 0, 0);
    }
  if (c->n_subjects > 0)
    {
      expect (list, "ID_head.weight", 2, c->n_subjects, d, 0, 0);
      expect (list, "ID_head.bias", 1, c->n_subjects, 0, 0, 0);
    }
  if (c->decoder_dim > 0)
    {
      int dd = c->decoder_dim, k = c->in_chans * c->patch_size * c->patch_size;
      expect (list, "mask_token", 3, 1, 1, dd, 0);
      expect (list, "decoder_embed.weight", 2, dd, d, 0, 0);
      expect (list, "decoder_embed.bias", 1, dd, 0, 0, 0);
      expect (list, "decoder_pos_embed", 3, 1, t, dd, 0);
      for (int i = 0; i < c->decoder_depth; i++)
        expect_block (list, "decoder_blocks", i, dd, 4 * dd);
      expect (list, "decoder_norm.weight", 1, dd, 0, 0, 0);
      expect (list, "decoder_norm.bias", 1, dd, 0, 0, 0);
      expect (list, "decoder_pred.weight", 2, k, dd, 0, 0);
      expect (list, "decoder_pred.bias", 1, k, 0, 0, 0);
    }
  return list;
}

static char *
expected_shape_string (const Expected *e)
{
  GString *s = g_string_new ("[");

  for (int i = 0; i < e->ndim; i++)
    g_string_append_printf (s, i ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, e->shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static FacetModel *
model_new (FacetModelConfig *config,
           FacetModelFormat  format,
           const char       *path)
{
  FacetModel *m = g_new0 (FacetModel, 1);

  m->ref_count = 1;
  m->config = config;
  m->format = format;
  m->path = g_strdup (path);
  m->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_tensor_free);
  m->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  m->notes = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (m->notes, NULL);
  return m;
}

static void
add_note (FacetModel *m,
          char       *note)
{
  g_ptr_array_insert (m->notes, (int) m->notes->len - 1, note);
}

static void
add_tensor (FacetModel  *m,
            FacetTensor *t)
{
  g_ptr_array_add (m->tensors, t);
  g_hash_table_insert (m->by_name, t->name, t);
}

FacetModel *
facet_model_ref (FacetModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_atomic_int_inc (&model->ref_count);
  return model;
}

void
facet_model_unref (FacetModel *model)
{
  if (model == NULL || !g_atomic_int_dec_and_test (&model->ref_count))
    return;
  facet_model_config_free (model->config);
  g_free (model->path);
  g_hash_table_unref (model->by_name);
  g_ptr_array_unref (model->tensors);
  g_ptr_array_unref (model->notes);
  g_free (model->extras);
  g_free (model->training);
  g_free (model);
}

const FacetModelConfig *
facet_model_get_config (FacetModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return model->config;
}

/* For tools that change thresholds or names before saving. */
FacetModelConfig *
facet_model_get_config_mut (FacetModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return model->config;
}

FacetModelFormat
facet_model_get_format (FacetModel *model)
{
  return model->format;
}

const char *
facet_model_get_path (FacetModel *model)
{
  return model->path;
}

/* What loading ignored, assumed or created, one sentence each. */
const char * const *
facet_model_get_notes (FacetModel *model)
{
  return (const char * const *) model->notes->pdata;
}

GPtrArray *
facet_model_get_tensors (FacetModel *model)
{
  return model->tensors;
}

const FacetTensor *
facet_model_get_tensor (FacetModel *model,
                        const char *name)
{
  g_return_val_if_fail (model != NULL, NULL);
  return g_hash_table_lookup (model->by_name, name);
}

/* The fp32 values of a tensor, or NULL when the model has no such tensor. */
float *
facet_model_get_weights (FacetModel *model,
                         const char *name)
{
  const FacetTensor *t = facet_model_get_tensor (model, name);
  return t ? (float *) t->data : NULL;
}

gint64
facet_model_count_parameters (FacetModel *model)
{
  gint64 n = 0;

  for (guint i = 0; i < model->tensors->len; i++)
    n += facet_tensor_numel (g_ptr_array_index (model->tensors, i));
  return n;
}

/* Replaces or adds a tensor (fp32); the model takes ownership. */
void
facet_model_set_tensor (FacetModel  *model,
                        FacetTensor *tensor)
{
  FacetTensor *old;

  g_return_if_fail (model != NULL && tensor != NULL && tensor->dtype == FACET_DTYPE_F32);

  old = g_hash_table_lookup (model->by_name, tensor->name);
  if (old != NULL)
    {
      for (guint i = 0; i < model->tensors->len; i++)
        if (g_ptr_array_index (model->tensors, i) == old)
          {
            g_hash_table_remove (model->by_name, old->name);
            facet_tensor_free (old);
            model->tensors->pdata[i] = tensor;
            g_hash_table_insert (model->by_name, tensor->name, tensor);
            return;
          }
    }
  add_tensor (model, tensor);
}

/**
 * facet_model_make_writable:
 *
 * Copies every tensor that points into a mapped file into owned memory, so
 * training can update the weights in place.
 */
gboolean
facet_model_make_writable (FacetModel *model,
                           GError    **error)
{
  g_return_val_if_fail (model != NULL, FALSE);

  if (model->writable)
    return TRUE;
  for (guint i = 0; i < model->tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (model->tensors, i);
      float *dst;
      FacetTensor *copy = facet_tensor_new_f32 (t->name, t->ndim, t->shape, &dst);

      memcpy (dst, t->data, facet_tensor_nbytes (t));
      g_hash_table_replace (model->by_name, copy->name, copy);
      facet_tensor_free (t);
      model->tensors->pdata[i] = copy;
    }
  model->writable = TRUE;
  return TRUE;
}

/**
 * facet_model_copy:
 *
 * A writable deep copy (weights in owned memory), e.g. to fine-tune a model
 * that others keep using.
 */
FacetModel *
facet_model_copy (FacetModel *model)
{
  FacetModel *copy;

  g_return_val_if_fail (model != NULL, NULL);

  copy = model_new (facet_model_config_copy (model->config), FACET_MODEL_FORMAT_NEW, model->path);
  for (guint i = 0; i < model->tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (model->tensors, i);
      float *dst;
      FacetTensor *c = facet_tensor_new_f32 (t->name, t->ndim, t->shape, &dst);
      memcpy (dst, t->data, facet_tensor_nbytes (t));
      add_tensor (copy, c);
    }
  for (guint i = 0; model->notes->pdata[i] != NULL; i++)
    add_note (copy, g_strdup (model->notes->pdata[i]));
  copy->training = g_strdup (model->training);
  copy->writable = TRUE;
  return copy;
}

static void create_head (FacetModel *m, const char *prefix, int rows, guint64 seed);

/**
 * facet_model_reset_head:
 * @au_ids: (nullable): the new head's AUs; NULL keeps the current list
 *
 * Replaces the AU head with a fresh one initialised as the fine-tuning
 * recipe does (truncated normal, std 2e-5; zero bias): the start of
 * fine-tuning a pretrained backbone on new labels. Thresholds go back to 0.5.
 */
void
facet_model_reset_head (FacetModel *model,
                        const int  *au_ids,
                        int         n_aus,
                        guint64     seed)
{
  g_autofree int *ids = NULL;

  g_return_if_fail (model != NULL);

  if (au_ids == NULL)
    {
      ids = g_memdup2 (model->config->au_ids, sizeof (int) * (gsize) model->config->n_aus);
      n_aus = model->config->n_aus;
    }
  else
    ids = g_memdup2 (au_ids, sizeof (int) * (gsize) n_aus);
  facet_model_config_set_aus (model->config, ids, n_aus);
  g_clear_pointer (&model->training, g_free); /* a fresh head: no longer the trained model */
  for (guint i = 0; i < model->tensors->len;)
    {
      FacetTensor *t = g_ptr_array_index (model->tensors, i);
      if (g_str_has_prefix (t->name, "head."))
        {
          g_hash_table_remove (model->by_name, t->name);
          g_ptr_array_remove_index (model->tensors, i);
        }
      else
        i++;
    }
  if (n_aus > 0)
    create_head (model, "head", n_aus, seed);
}

/* Converts to fp32 (or uses the bytes as they are) and rejects non-finite values. */
static FacetTensor *
pack_tensor (const FacetTensor *src,
             const char        *name,
             GError           **error)
{
  FacetTensor *t;

  if (src->dtype == FACET_DTYPE_F32 && ((guintptr) src->data % 4) == 0)
    t = facet_tensor_new (name, FACET_DTYPE_F32, src->ndim, src->shape, src->bytes,
                          (gsize) ((const guint8 *) src->data
                                   - (const guint8 *) g_bytes_get_data (src->bytes, NULL)));
  else if (src->dtype == FACET_DTYPE_F32 || src->dtype == FACET_DTYPE_F16
           || src->dtype == FACET_DTYPE_BF16 || src->dtype == FACET_DTYPE_F64)
    {
      float *data = facet_tensor_to_f32 (src, error);
      gsize nbytes = (gsize) facet_tensor_numel (src) * sizeof (float);
      g_autoptr (GBytes) bytes = NULL;

      if (data == NULL)
        return NULL;
      bytes = g_bytes_new_with_free_func (data, nbytes, g_aligned_free, data);
      t = facet_tensor_new (name, FACET_DTYPE_F32, src->ndim, src->shape, bytes, 0);
    }
  else
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "tensor %s has data type %s; weights must be float32, float16 or bfloat16",
                   name, facet_dtype_to_string (src->dtype));
      return NULL;
    }

  {
    const float *v = t->data;
    gint64 n = facet_tensor_numel (t);
    for (gint64 i = 0; i < n; i++)
      if (!isfinite (v[i]))
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_VALUE,
                       "tensor %s holds %s at element %" G_GINT64_FORMAT
                       ": the checkpoint is damaged or training diverged",
                       name, isnan (v[i]) ? "NaN" : "an infinite value", i);
          facet_tensor_free (t);
          return NULL;
        }
  }
  return t;
}

static FacetTensor *
constant_tensor (const char *name,
                 int         ndim,
                 gint64      d0,
                 gint64      d1,
                 float       value)
{
  gint64 shape[2] = { d0, d1 };
  float *data;
  FacetTensor *t = facet_tensor_new_f32 (name, ndim, shape, &data);
  gint64 n = facet_tensor_numel (t);

  for (gint64 i = 0; i < n; i++)
    data[i] = value;
  return t;
}

/* The AU head of the paper's recipe: truncated normal, std 2e-5, zero bias. */
static void
create_head (FacetModel *m,
             const char *prefix,
             int         rows,
             guint64     seed)
{
  g_autofree char *wname = g_strconcat (prefix, ".weight", NULL);
  g_autofree char *bname = g_strconcat (prefix, ".bias", NULL);
  gint64 shape[2] = { rows, m->config->dim };
  float *w;
  FacetTensor *t = facet_tensor_new_f32 (wname, 2, shape, &w);
  FacetRng rng;

  facet_rng_init (&rng, seed);
  for (gint64 i = 0; i < (gint64) rows * m->config->dim; i++)
    w[i] = (float) facet_rng_trunc_normal (&rng, 2e-5, -2.0, 2.0);
  add_tensor (m, t);
  add_tensor (m, constant_tensor (bname, 1, rows, 0, 0.0f));
}

/* Hints from the training script's argparse Namespace (checkpoint["args"]). */
typedef struct
{
  int       heads;
  int       readout; /* -1 unknown */
  char     *dataset;
} ArgsHints;

static void
read_hints (const char *extras,
            ArgsHints  *hints)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *args;
  JsonNode *n;

  hints->heads = 0;
  hints->readout = -1;
  hints->dataset = NULL;
  if (extras == NULL || !json_parser_load_from_data (parser, extras, -1, NULL))
    return;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  root = json_node_get_object (json_parser_get_root (parser));
  n = json_object_get_member (root, "args");
  if (n == NULL || !JSON_NODE_HOLDS_OBJECT (n))
    return;
  args = json_node_get_object (n);

  n = json_object_get_member (args, "model");
  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    {
      const char *model = json_node_get_string (n);
      if (strstr (model, "small"))
        hints->heads = 6;
      else if (strstr (model, "base"))
        hints->heads = 12;
      else if (strstr (model, "large") || strstr (model, "huge"))
        hints->heads = 16;
      else if (strstr (model, "tiny"))
        hints->heads = 3;
    }
  n = json_object_get_member (args, "global_pool");
  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN)
    hints->readout = json_node_get_boolean (n) ? FACET_READOUT_GLOBAL_POOL : FACET_READOUT_CLS_TOKEN;

  /* FMAE-IAT names its label files after the data set (BP4D_train3.json). */
  for (const char *const *k = (const char *const[]) { "dataset", "train_path", "data_path", NULL };
       *k != NULL; k++)
    {
      n = json_object_get_member (args, *k);
      if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
        {
          g_autofree char *up = g_ascii_strup (json_node_get_string (n), -1);
          if (strstr (up, "DISFA"))
            hints->dataset = g_strdup ("DISFA");
          else if (strstr (up, "BP4D_PLUS") || strstr (up, "BP4D+") || strstr (up, "BP4DPLUS"))
            hints->dataset = g_strdup ("BP4D+");
          else if (strstr (up, "BP4D"))
            hints->dataset = g_strdup ("BP4D");
          if (hints->dataset)
            return;
        }
    }
}

static int
heads_for_dim (int dim)
{
  switch (dim)
    {
    case 192:
      return 3;
    case 384:
      return 6;
    case 768:
      return 12;
    case 1024:
    case 1280:
      return 16;
    default:
      return dim % 64 == 0 ? dim / 64 : 1;
    }
}

static gboolean
is_decoder_key (const char *name)
{
  return g_str_has_prefix (name, "decoder_") || g_str_equal (name, "mask_token");
}

/* The MAE decoder of a pre-training checkpoint (decoder_embed, decoder_blocks.N):
 * its width and depth from the tensors; its head count from the options, or
 * MAE's 16 for width 512, or one head per 32 channels. No decoder_embed:
 * none (decoder_dim stays 0). */
static gboolean
infer_decoder (FacetModelConfig            *c,
               GHashTable                  *by_name,
               const FacetModelLoadOptions *opt,
               const char                  *path,
               GPtrArray                   *notes,
               GError                     **error)
{
  FacetTensor *embed = g_hash_table_lookup (by_name, "decoder_embed.weight");
  GHashTableIter iter;
  gpointer key;
  int depth = 0;

  if (embed == NULL)
    return TRUE;
  if (embed->ndim != 2 || embed->shape[1] != c->dim || embed->shape[0] < 1
      || embed->shape[0] > 8192)
    {
      g_autofree char *have = facet_tensor_shape_string (embed);
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_SHAPE,
                   "%s: tensor decoder_embed.weight has shape %s, but the encoder width is %d",
                   path, have, c->dim);
      return FALSE;
    }
  g_hash_table_iter_init (&iter, by_name);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      const char *name = key;
      guint64 i;
      if (g_str_has_prefix (name, "decoder_blocks."))
        {
          const char *num = name + strlen ("decoder_blocks.");
          const char *dot = strchr (num, '.');
          g_autofree char *digits = dot ? g_strndup (num, (gsize) (dot - num)) : NULL;
          if (digits && g_ascii_string_to_unsigned (digits, 10, 0, 127, &i, NULL))
            depth = MAX (depth, (int) i + 1);
        }
    }
  c->decoder_dim = (int) embed->shape[0];
  c->decoder_depth = depth;
  if (opt->decoder_heads > 0)
    c->decoder_heads = opt->decoder_heads;
  else
    {
      c->decoder_heads = c->decoder_dim == 512 ? 16
                         : c->decoder_dim % 32 == 0 ? c->decoder_dim / 32 : 1;
      g_ptr_array_add (notes, g_strdup_printf ("assumed %d attention heads for the decoder of "
                                               "width %d (the file does not say)",
                                               c->decoder_heads, c->decoder_dim));
    }
  /* MAE's encoder ends in norm; a pre-training model reads out its class token. */
  c->readout = FACET_READOUT_CLS_TOKEN;
  return TRUE;
}

/* Builds the configuration of a checkpoint that does not carry one. */
static FacetModelConfig *
infer_config (GHashTable                  *by_name,
              const ArgsHints             *hints,
              const FacetModelLoadOptions *opt,
              const char                  *path,
              GPtrArray                   *notes,
              GError                     **error)
{
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  FacetTensor *pe = g_hash_table_lookup (by_name, "patch_embed.proj.weight");
  FacetTensor *pos = g_hash_table_lookup (by_name, "pos_embed");
  FacetTensor *fc1 = g_hash_table_lookup (by_name, "blocks.0.mlp.fc1.weight");
  FacetTensor *head = g_hash_table_lookup (by_name, "head.weight");
  FacetTensor *id_head = g_hash_table_lookup (by_name, "ID_head.weight");
  GHashTableIter iter;
  gpointer key;
  gint64 grid;
  int depth = 0;

  if (pe == NULL || pe->ndim != 4 || pe->shape[2] != pe->shape[3])
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                   "%s: no patch_embed.proj.weight of shape [dim, 3, p, p]: not a ViT checkpoint",
                   path);
      return NULL;
    }
  if (pos == NULL || pos->ndim != 3 || pos->shape[2] != pe->shape[0])
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                   "%s: no pos_embed of shape [1, tokens, %" G_GINT64_FORMAT "]", path,
                   pe->shape[0]);
      return NULL;
    }
  c->dim = (int) pe->shape[0];
  c->in_chans = (int) pe->shape[1];
  c->patch_size = (int) pe->shape[2];
  grid = (gint64) llround (sqrt ((double) (pos->shape[1] - 1)));
  if (grid < 1 || grid * grid + 1 != pos->shape[1])
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_SHAPE,
                   "%s: pos_embed has %" G_GINT64_FORMAT " tokens, which is not a square grid "
                   "plus a class token", path, pos->shape[1]);
      return NULL;
    }
  c->image_size = (int) (grid * c->patch_size);

  g_hash_table_iter_init (&iter, by_name);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      guint64 i;
      const char *name = key;
      if (g_str_has_prefix (name, "blocks."))
        {
          const char *dot = strchr (name + 7, '.');
          g_autofree char *num = dot ? g_strndup (name + 7, (gsize) (dot - name - 7)) : NULL;
          if (num && g_ascii_string_to_unsigned (num, 10, 0, 127, &i, NULL))
            depth = MAX (depth, (int) i + 1);
        }
    }
  c->depth = depth;
  c->mlp_hidden = fc1 && fc1->ndim == 2 ? (int) fc1->shape[0] : 4 * c->dim;

  if (opt && opt->heads > 0)
    c->heads = opt->heads;
  else if (hints->heads > 0 && c->dim % hints->heads == 0)
    c->heads = hints->heads;
  else
    {
      c->heads = heads_for_dim (c->dim);
      g_ptr_array_add (notes, g_strdup_printf ("assumed %d attention heads for width %d (the file "
                                               "does not say; use --heads to change)",
                                               c->heads, c->dim));
    }

  if (g_hash_table_contains (by_name, "fc_norm.weight"))
    c->readout = FACET_READOUT_GLOBAL_POOL;
  else if (g_hash_table_contains (by_name, "norm.weight"))
    c->readout = FACET_READOUT_CLS_TOKEN;
  else if (hints->readout >= 0)
    c->readout = (FacetReadout) hints->readout;

  if (head != NULL && head->ndim == 2)
    {
      int n = (int) head->shape[0];
      const int *ids = NULL;
      int n_ids = 0;
      const char *dataset = hints->dataset;

      if (opt && opt->dataset == NULL && opt->au_ids == NULL && dataset == NULL)
        {
          /* Guess from the head size alone: the published data sets. */
          if (n == 12)
            dataset = "BP4D";
          else if (n == 8)
            dataset = "DISFA";
          if (dataset)
            g_ptr_array_add (notes, g_strdup_printf ("assumed the %s AU list for a head of %d "
                                                     "outputs (use --aus or --dataset to change)",
                                                     dataset, n));
        }
      ids = facet_dataset_aus (dataset, &n_ids);
      if (ids != NULL && n_ids == n)
        {
          facet_model_config_set_aus (c, ids, n);
          c->dataset = g_strdup (dataset);
        }
      else if (!(opt && (opt->au_ids || opt->dataset)))
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_CONFIG,
                       "%s: cannot tell which AUs the %d outputs of head.weight are; "
                       "pass --aus 1,2,4,... or --dataset BP4D|DISFA", path, n);
          return NULL;
        }
    }
  if (id_head != NULL && id_head->ndim == 2)
    c->n_subjects = (int) id_head->shape[0];

  if (opt && opt->keep_decoder && !infer_decoder (c, by_name, opt, path, notes, error))
    return NULL;
  return g_steal_pointer (&c);
}

static gboolean
apply_options (FacetModelConfig            *c,
               const FacetModelLoadOptions *opt,
               GError                     **error)
{
  if (opt == NULL)
    return TRUE;
  if (opt->dataset != NULL)
    {
      int n = 0;
      const int *ids = facet_dataset_aus (opt->dataset, &n);
      if (ids == NULL)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_CONFIG,
                       "unknown data set “%s” (known: BP4D, BP4D+, DISFA)", opt->dataset);
          return FALSE;
        }
      facet_model_config_set_aus (c, ids, n);
      g_free (c->dataset);
      c->dataset = g_strdup (opt->dataset);
    }
  if (opt->au_ids != NULL)
    facet_model_config_set_aus (c, opt->au_ids, opt->n_aus);
  if (opt->heads > 0)
    c->heads = opt->heads;
  if (opt->readout != NULL)
    {
      if (g_str_equal (opt->readout, "global-pool"))
        c->readout = FACET_READOUT_GLOBAL_POOL;
      else if (g_str_equal (opt->readout, "cls-token"))
        c->readout = FACET_READOUT_CLS_TOKEN;
      else
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_CONFIG,
                       "unknown readout “%s” (global-pool or cls-token)", opt->readout);
          return FALSE;
        }
    }
  if (opt->crop != NULL && !facet_crop_kind_from_string (opt->crop, &c->crop))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_CONFIG,
                   "unknown crop “%s” (box, aligned or none)", opt->crop);
      return FALSE;
    }
  return TRUE;
}

/* Tensors by name (borrowed from @tensors). Checkpoints saved from
 * DistributedDataParallel prefix every key with "module.": the prefix is
 * removed in place when every key has it. */
static GHashTable *
index_tensors (GPtrArray *tensors)
{
  GHashTable *by_name = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean strip_module = TRUE;

  for (guint i = 0; i < tensors->len; i++)
    if (!g_str_has_prefix (((FacetTensor *) g_ptr_array_index (tensors, i))->name, "module."))
      strip_module = FALSE;
  for (guint i = 0; i < tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (tensors, i);
      if (strip_module)
        memmove (t->name, t->name + 7, strlen (t->name + 7) + 1);
      g_hash_table_insert (by_name, t->name, t);
    }
  return by_name;
}

/* A tensor the configuration needs and the file lacks: created where that
 * is the known convention (a new head on request, MAE's fc_norm, a zero
 * qkv bias), otherwise an error naming it. */
static gboolean
add_missing_tensor (FacetModel                  *model,
                    const Expected              *e,
                    GHashTable                  *by_name,
                    const FacetModelLoadOptions *options,
                    const char                  *path,
                    GError                     **error)
{
  gboolean is_head = g_str_has_prefix (e->name, "head.");

  if (is_head && options && options->create_head)
    {
      if (g_str_equal (e->name, "head.weight"))
        {
          create_head (model, "head", model->config->n_aus, options->seed);
          add_note (model, g_strdup_printf ("created a new AU head for %d AUs (the file "
                                            "has none)", model->config->n_aus));
        }
      return TRUE;
    }
  if (g_str_has_prefix (e->name, "fc_norm.") && g_hash_table_contains (by_name, "norm.weight"))
    {
      /* MAE fine-tuning starts global pooling with a fresh norm. */
      add_tensor (model, constant_tensor (e->name, 1, e->shape[0], 0,
                                          g_str_has_suffix (e->name, "weight") ? 1.0f : 0.0f));
      if (g_str_has_suffix (e->name, "weight"))
        add_note (model, g_strdup ("created fc_norm (ones and zeros) for global pooling; "
                                   "the file's final norm is not used"));
      return TRUE;
    }
  if (g_str_has_suffix (e->name, "attn.qkv.bias"))
    {
      add_tensor (model, constant_tensor (e->name, 1, e->shape[0], 0, 0.0f));
      return TRUE;
    }
  if (is_head)
    g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                 "%s: the file has no AU head (head.weight): it is a pretrained "
                 "encoder; fine-tune it, or convert it with --aus to create a head", path);
  else
    g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                 "%s: tensor %s is missing", path, e->name);
  return FALSE;
}

static gboolean
check_shape (const FacetTensor *src,
             const Expected    *e,
             const char        *path,
             GError           **error)
{
  gboolean shape_ok = src->ndim == e->ndim;

  for (int d = 0; shape_ok && d < e->ndim; d++)
    shape_ok = src->shape[d] == e->shape[d];
  if (!shape_ok)
    {
      g_autofree char *want = expected_shape_string (e);
      g_autofree char *have = facet_tensor_shape_string (src);
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_SHAPE,
                   "%s: tensor %s has shape %s, but the model configuration needs %s", path,
                   e->name, have, want);
      return FALSE;
    }
  return TRUE;
}

/* Notes for the file's tensors that the model does not use (the MAE
 * decoder's counted in one note). */
static void
note_unused_tensors (FacetModel *model,
                     GPtrArray  *tensors,
                     GHashTable *used)
{
  guint n_decoder = 0;

  for (guint i = 0; i < tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (tensors, i);
      if (g_hash_table_contains (used, t->name))
        continue;
      if (is_decoder_key (t->name))
        n_decoder++;
      else
        add_note (model, g_strdup_printf ("ignored tensor %s (not part of this model)", t->name));
    }
  if (n_decoder > 0)
    add_note (model, g_strdup_printf ("ignored %u MAE decoder tensors (pretraining only)",
                                      n_decoder));
}

/**
 * facet_model_load:
 * @options: (nullable): overrides for what the file does not say
 *
 * Loads a model from a safetensors or PyTorch file. Everything ignored or
 * assumed on the way is listed by facet_model_get_notes().
 */
FacetModel *
facet_model_load (const char                  *path,
                  const FacetModelLoadOptions *options,
                  GError                     **error)
{
  g_autoptr (FacetCheckpoint) ckpt = NULL;
  g_autoptr (GHashTable) by_name = NULL;
  g_autoptr (GPtrArray) expected = NULL;
  g_autoptr (GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) used = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (FacetModelConfig) config = NULL;
  g_autoptr (FacetModel) model = NULL;
  const char *config_json;
  ArgsHints hints;

  g_return_val_if_fail (path != NULL, NULL);

  ckpt = facet_checkpoint_read (path, error);
  if (ckpt == NULL)
    return NULL;
  if (ckpt->tensors->len == 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_MISSING,
                   "%s: the file holds no tensors", path);
      return NULL;
    }
  for (guint i = 0; i < ckpt->notes->len; i++)
    g_ptr_array_add (notes, g_strdup (g_ptr_array_index (ckpt->notes, i)));

  by_name = index_tensors (ckpt->tensors);

  read_hints (ckpt->extras, &hints);
  config_json = ckpt->metadata ? g_hash_table_lookup (ckpt->metadata, CONFIG_KEY) : NULL;
  if (config_json != NULL)
    {
      config = facet_model_config_from_string (config_json, error);
      if (config == NULL)
        {
          g_prefix_error (error, "%s: ", path);
          g_free (hints.dataset);
          return NULL;
        }
    }
  else
    {
      config = infer_config (by_name, &hints, options, path, notes, error);
      if (config == NULL)
        {
          g_free (hints.dataset);
          return NULL;
        }
    }
  g_free (hints.dataset);
  if (options == NULL || !options->keep_decoder)
    config->decoder_dim = config->decoder_depth = config->decoder_heads = 0;

  if (!apply_options (config, options, error) || !facet_model_config_validate (config, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }

  model = model_new (g_steal_pointer (&config), ckpt->format, path);
  for (guint i = 0; i < notes->len; i++)
    add_note (model, g_strdup (g_ptr_array_index (notes, i)));

  expected = expected_tensors (model->config);
  for (guint i = 0; i < expected->len; i++)
    {
      Expected *e = g_ptr_array_index (expected, i);
      FacetTensor *src = g_hash_table_lookup (by_name, e->name);
      FacetTensor *packed;

      if (src == NULL)
        {
          if (!add_missing_tensor (model, e, by_name, options, path, error))
            return NULL;
          continue;
        }
      if (!check_shape (src, e, path, error))
        return NULL;

      packed = pack_tensor (src, e->name, error);
      if (packed == NULL)
        {
          g_prefix_error (error, "%s: ", path);
          return NULL;
        }
      add_tensor (model, packed);
      g_hash_table_add (used, src->name);
    }

  note_unused_tensors (model, ckpt->tensors, used);
  model->extras = g_steal_pointer (&ckpt->extras);
  if (ckpt->metadata != NULL)
    model->training = g_strdup (g_hash_table_lookup (ckpt->metadata, TRAINING_KEY));
  return g_steal_pointer (&model);
}

/* 2-D sine-cosine position table of MAE: half the channels encode the row,
 * half the column; the class token's row is zero. */
static void
sincos_pos_embed (float *out,
                  int    grid,
                  int    dim)
{
  int quarter = dim / 4;

  memset (out, 0, sizeof (float) * (gsize) dim);
  for (int y = 0; y < grid; y++)
    for (int x = 0; x < grid; x++)
      {
        float *row = out + (gsize) (1 + y * grid + x) * dim;
        for (int i = 0; i < quarter; i++)
          {
            double omega = 1.0 / pow (10000.0, (double) i / quarter);
            row[i] = (float) sin (x * omega);
            row[quarter + i] = (float) cos (x * omega);
            row[2 * quarter + i] = (float) sin (y * omega);
            row[3 * quarter + i] = (float) cos (y * omega);
          }
      }
}

/**
 * facet_model_new_random:
 *
 * A freshly initialised model for training from scratch, as MAE initialises
 * its encoder: Xavier-uniform linear and patch weights, zero biases, unit
 * norms, a fixed sine-cosine position table, and heads with a truncated
 * normal of std 0.02. The same seed gives the same model.
 */
FacetModel *
facet_model_new_random (const FacetModelConfig *config,
                        guint64                 seed,
                        GError                **error)
{
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GPtrArray) expected = NULL;
  FacetRng rng;

  g_return_val_if_fail (config != NULL, NULL);

  if (!facet_model_config_validate (config, error))
    return NULL;

  model = model_new (facet_model_config_copy (config), FACET_MODEL_FORMAT_NEW, NULL);
  model->writable = TRUE;
  facet_rng_init (&rng, seed);
  expected = expected_tensors (config);
  for (guint i = 0; i < expected->len; i++)
    {
      Expected *e = g_ptr_array_index (expected, i);
      float *data;
      FacetTensor *t = facet_tensor_new_f32 (e->name, e->ndim, e->shape, &data);
      gint64 n = facet_tensor_numel (t);

      if (g_str_equal (e->name, "pos_embed"))
        sincos_pos_embed (data, facet_model_config_grid (config), config->dim);
      else if (g_str_equal (e->name, "decoder_pos_embed"))
        sincos_pos_embed (data, facet_model_config_grid (config), config->decoder_dim);
      else if (g_str_equal (e->name, "cls_token") || g_str_equal (e->name, "mask_token"))
        for (gint64 j = 0; j < n; j++)
          data[j] = (float) (facet_rng_normal (&rng) * 0.02);
      else if (g_str_has_prefix (e->name, "head.") || g_str_has_prefix (e->name, "ID_head."))
        {
          /* timm's init for a network trained from scratch (std 0.02): the
           * fine-tuning recipe's near-zero heads (2e-5) starve a random
           * backbone of gradient. */
          if (g_str_has_suffix (e->name, ".weight"))
            for (gint64 j = 0; j < n; j++)
              data[j] = (float) facet_rng_trunc_normal (&rng, 0.02, -2.0, 2.0);
        }
      else if (g_str_has_suffix (e->name, ".weight") && e->ndim >= 2)
        {
          gint64 fan_out = e->shape[0], fan_in = n / e->shape[0];
          double a = sqrt (6.0 / (double) (fan_in + fan_out));
          for (gint64 j = 0; j < n; j++)
            data[j] = (float) facet_rng_range (&rng, -a, a);
        }
      else if (g_str_has_suffix (e->name, "norm1.weight") || g_str_has_suffix (e->name, "norm2.weight")
               || g_str_equal (e->name, "fc_norm.weight") || g_str_equal (e->name, "norm.weight")
               || g_str_equal (e->name, "decoder_norm.weight"))
        for (gint64 j = 0; j < n; j++)
          data[j] = 1.0f;
      add_tensor (model, t);
    }
  return g_steal_pointer (&model);
}

/**
 * facet_model_save:
 * @extra_metadata: (nullable): more string pairs for the safetensors header
 *
 * Writes the model as safetensors with its configuration in the metadata,
 * and how its weights were made: @extra_metadata's "facet.training" when it
 * has one (a training run saving its result), else the one the model was
 * loaded with (a converted or renamed model keeps its lineage).
 */
gboolean
facet_model_save (FacetModel *model,
                  const char *path,
                  GHashTable *extra_metadata,
                  GError    **error)
{
  g_autoptr (GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (extra_metadata != NULL)
    {
      GHashTableIter iter;
      gpointer k, v;
      g_hash_table_iter_init (&iter, extra_metadata);
      while (g_hash_table_iter_next (&iter, &k, &v))
        g_hash_table_insert (metadata, g_strdup (k), g_strdup (v));
    }
  if (model->training != NULL && !g_hash_table_contains (metadata, TRAINING_KEY))
    g_hash_table_insert (metadata, g_strdup (TRAINING_KEY), g_strdup (model->training));
  g_hash_table_insert (metadata, g_strdup ("format"), g_strdup ("pt"));
  g_hash_table_insert (metadata, g_strdup (CONFIG_KEY),
                       facet_model_config_to_string (model->config));
  return facet_safetensors_write (path, model->tensors, metadata, error);
}
