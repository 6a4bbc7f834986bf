/* mae-step-tool.c — one MAE pre-training step of Facet on a given batch, for
 * the parity test against PyTorch autograd (test_mae_parity.py).
 *
 * mae-step-tool MODEL BATCH.safetensors OUT.safetensors [--heads N]
 *   [--decoder-heads N] [--mask-ratio R] [--no-norm-pix]
 * mae-step-tool MODEL --dump OUT.safetensors [--heads N] [--decoder-heads N]
 *
 * BATCH holds "images" [B,3,S,S] and "noise" [B,L]. OUT receives the
 * gradient of every trainable tensor (as "grad.NAME"), "pred" and "mask",
 * and the loss in its metadata. --dump writes the model as loaded (the
 * checkpoint-layout test).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "engine/engine-checkpoint.h"
#include "engine/facet-engine.h"

/* The release keeps both position tables fixed. */
static gboolean
trainable (const char *name,
           gpointer    data)
{
  return !g_str_equal (name, "pos_embed") && !g_str_equal (name, "decoder_pos_embed");
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
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL BATCH OUT");
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetBackend) cpu = NULL;
  g_autoptr (FacetGrads) grads = NULL;
  g_autoptr (FacetCheckpoint) batch = NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_tensor_free);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autofree float *images = NULL, *noise = NULL;
  g_autofree char *dump = NULL;
  FacetModelLoadOptions lo = { 0 };
  FacetMaeStep step = { 0 };
  FacetMaeStepResult res = { 0 };
  const FacetModelConfig *c;
  const FacetTensor *nt;
  double ratio = 0.75;
  gboolean no_norm_pix = FALSE;
  int heads = 0, decoder_heads = 0, np, k;
  GPtrArray *names;
  float *pred, *mask;
  GOptionEntry entries[] = {
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "heads", "N" },
    { "decoder-heads", 0, 0, G_OPTION_ARG_INT, &decoder_heads, "decoder heads", "N" },
    { "mask-ratio", 0, 0, G_OPTION_ARG_DOUBLE, &ratio, "mask ratio", "R" },
    { "no-norm-pix", 0, 0, G_OPTION_ARG_NONE, &no_norm_pix, "plain pixel targets", NULL },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &dump, "write the loaded model", "OUT" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != (dump ? 2 : 4))
    {
      g_printerr ("usage: %s\n", error ? error->message : "MODEL BATCH OUT");
      return 2;
    }

  lo.heads = heads;
  lo.decoder_heads = decoder_heads;
  lo.keep_decoder = TRUE;
  model = facet_model_load (argv[1], &lo, &error);
  if (model == NULL)
    goto fail;
  if (dump != NULL)
    {
      if (!facet_model_save (model, dump, NULL, &error))
        goto fail;
      return 0;
    }
  if (!facet_model_make_writable (model, &error))
    goto fail;
  c = facet_model_get_config (model);
  cpu = facet_cpu_backend_new ();
  if (!facet_backend_load_model (cpu, model, &error))
    goto fail;
  batch = facet_checkpoint_read (argv[2], &error);
  if (batch == NULL)
    goto fail;
  images = facet_tensor_to_f32 (find (batch, "images"), &error);
  nt = find (batch, "noise");
  noise = facet_tensor_to_f32 (nt, &error);
  step.batch = (guint) nt->shape[0];
  step.images = images;
  step.noise = noise;
  step.mask_ratio = (float) ratio;
  step.norm_pix = !no_norm_pix;

  np = facet_model_config_grid (c) * facet_model_config_grid (c);
  k = 3 * c->patch_size * c->patch_size;
  {
    gint64 ps[3] = { step.batch, np, k }, ms[2] = { step.batch, np };
    FacetTensor *pt = facet_tensor_new_f32 ("pred", 3, ps, &pred);
    FacetTensor *mt = facet_tensor_new_f32 ("mask", 2, ms, &mask);
    g_ptr_array_add (out, pt);
    g_ptr_array_add (out, mt);
  }
  res.pred = pred;
  res.mask = mask;
  grads = facet_grads_new (model, trainable, NULL);
  if (!facet_backend_mae_step (cpu, &step, grads, &res, &error))
    goto fail;

  names = facet_grads_get_names (grads);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const FacetTensor *t = facet_model_get_tensor (model, name);
      g_autofree char *gname = g_strconcat ("grad.", name, NULL);
      float *dst;
      g_ptr_array_add (out, facet_tensor_new_f32 (gname, t->ndim, t->shape, &dst));
      memcpy (dst, facet_grads_get (grads, name), facet_tensor_nbytes (t));
    }
  g_hash_table_insert (meta, (gpointer) "loss", g_strdup_printf ("%.10g", res.loss));
  if (!facet_safetensors_write (argv[3], out, meta, &error))
    goto fail;
  return 0;

fail:
  g_printerr ("mae-step-tool: %s\n", error ? error->message : "failed");
  return 1;
}
