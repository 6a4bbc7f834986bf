/* train-step-tool.c — one training step of Facet on a given batch, for the
 * parity test against PyTorch autograd (test_train_parity.py).
 *
 * train-step-tool MODEL BATCH.safetensors GRADS.safetensors STEPPED.safetensors
 *   [--heads N] [--lambda L] [--first-block F] [--embedding] [--lr LR]
 *   [--weight-decay WD] [--layer-decay LD] [--drop-path P] [--seed S]
 *   [--precision fp32|bf16|auto]
 *
 * BATCH holds "images" [B,3,S,S], "au_targets" [B,A] (-1 = unlabelled) and
 * "subjects" [B] (float-coded class ids, -1 = none). GRADS receives one
 * tensor per trainable parameter and the losses in its metadata; STEPPED the
 * model after one AdamW step with the recipe's parameter groups; its
 * metadata says the precision the step ran in.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "engine/engine-checkpoint.h"
#include "engine/facet-engine.h"
#include "train/train-optim.h"

typedef struct
{
  int      first_block;
  gboolean embedding;
} Mode;

static gboolean
trainable (const char *name,
           gpointer    data)
{
  Mode *mode = data;

  if (g_str_has_prefix (name, "blocks."))
    return g_ascii_strtoll (name + 7, NULL, 10) >= mode->first_block;
  if (g_str_equal (name, "cls_token") || g_str_equal (name, "pos_embed")
      || g_str_has_prefix (name, "patch_embed"))
    return mode->embedding;
  return TRUE;
}

static const FacetTensor *
find (FacetCheckpoint *ckpt,
      const char      *name)
{
  for (guint i = 0; i < ckpt->tensors->len; i++)
    if (g_str_equal (((FacetTensor *) g_ptr_array_index (ckpt->tensors, i))->name, name))
      return g_ptr_array_index (ckpt->tensors, i);
  g_printerr ("batch file has no tensor %s\n", name);
  exit (2);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL BATCH GRADS STEPPED");
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetBackend) cpu = NULL;
  g_autoptr (FacetGrads) grads = NULL;
  g_autoptr (FacetCheckpoint) batch = NULL;
  g_autoptr (FacetOptimizer) opt = NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_tensor_free);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autofree int *subjects = NULL;
  g_autofree float *images = NULL, *targets = NULL;
  FacetModelLoadOptions lo = { 0 };
  FacetTrainStep step = { 0 };
  FacetTrainStepResult res = { 0 };
  FacetOptimConfig oc;
  Mode mode = { 0, FALSE };
  double lambda = 0.0, lr = 1e-3, wd = 0.05, ld = 0.65, drop = 0.0;
  int heads = 0;
  g_autofree char *precision_name = NULL;
  FacetPrecision precision = FACET_PRECISION_FP32;
  gint64 seed = 0;
  const FacetTensor *subj;
  GPtrArray *names;
  GOptionEntry entries[] = {
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "heads", "N" },
    { "lambda", 0, 0, G_OPTION_ARG_DOUBLE, &lambda, "IAT lambda", "L" },
    { "first-block", 0, 0, G_OPTION_ARG_INT, &mode.first_block, "first trainable block", "F" },
    { "embedding", 0, 0, G_OPTION_ARG_NONE, &mode.embedding, "train the embedding", NULL },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "learning rate", "LR" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &wd, "weight decay", "WD" },
    { "layer-decay", 0, 0, G_OPTION_ARG_DOUBLE, &ld, "layer decay", "LD" },
    { "drop-path", 0, 0, G_OPTION_ARG_DOUBLE, &drop, "drop path", "P" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed", "S" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision_name, "fp32, bf16 or auto", "P" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 5)
    {
      g_printerr ("usage: %s\n", error ? error->message : "MODEL BATCH GRADS STEPPED");
      return 2;
    }

  if (precision_name != NULL && !facet_precision_from_string (precision_name, &precision))
    {
      g_printerr ("unknown precision %s\n", precision_name);
      return 2;
    }
  facet_backend_set_default_precision (precision);
  lo.heads = heads;
  model = facet_model_load (argv[1], &lo, &error);
  if (model == NULL || !facet_model_make_writable (model, &error))
    goto fail;
  cpu = facet_cpu_backend_new ();
  if (!facet_backend_load_model (cpu, model, &error))
    goto fail;
  batch = facet_checkpoint_read (argv[2], &error);
  if (batch == NULL)
    goto fail;

  images = facet_tensor_to_f32 (find (batch, "images"), &error);
  targets = facet_tensor_to_f32 (find (batch, "au_targets"), &error);
  subj = find (batch, "subjects");
  step.batch = (guint) subj->shape[0];
  subjects = g_new (int, step.batch);
  for (guint i = 0; i < step.batch; i++)
    subjects[i] = (int) ((const float *) subj->data)[i];
  step.images = images;
  step.au_targets = targets;
  step.subjects = subjects;
  step.iat_lambda = (float) lambda;
  step.drop_path = (float) drop;
  step.seed = (guint64) seed;
  step.first_trainable_block = mode.first_block;
  step.train_embedding = mode.embedding;

  grads = facet_grads_new (model, trainable, &mode);
  if (!facet_backend_train_step (cpu, &step, grads, &res, &error))
    goto fail;

  names = facet_grads_get_names (grads);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const FacetTensor *t = facet_model_get_tensor (model, name);
      float *dst;
      g_ptr_array_add (out, facet_tensor_new_f32 (name, t->ndim, t->shape, &dst));
      memcpy (dst, facet_grads_get (grads, name), facet_tensor_nbytes (t));
    }
  g_hash_table_insert (meta, (gpointer) "loss", g_strdup_printf ("%.10g", res.loss));
  g_hash_table_insert (meta, (gpointer) "au_loss", g_strdup_printf ("%.10g", res.au_loss));
  g_hash_table_insert (meta, (gpointer) "id_loss", g_strdup_printf ("%.10g", res.id_loss));
  g_hash_table_insert (meta, (gpointer) "precision",
                       g_strdup (facet_precision_to_string (facet_backend_get_precision (cpu))));
  if (!facet_safetensors_write (argv[3], out, meta, &error))
    goto fail;

  facet_optim_config_init (&oc);
  oc.weight_decay = wd;
  oc.layer_decay = ld;
  opt = facet_optimizer_new (model, grads, &oc);
  facet_optimizer_step (opt, lr);
  if (!facet_model_save (model, argv[4], NULL, &error))
    goto fail;
  return 0;

fail:
  g_printerr ("train-step-tool: %s\n", error ? error->message : "failed");
  return 1;
}
