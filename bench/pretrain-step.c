/* pretrain-step.c — timed MAE pre-training steps of Facet's CPU backend
 * (masking, encoder on the kept patches, decoder, loss, backward, AdamW with
 * the pre-training recipe), for bench/pretrain.py.
 *
 * pretrain-step [--size base] [--batch 16] [--seconds 20] [--mask-ratio 0.75]
 * prints {"images_per_s_best": ..., "images_per_s_mean": ..., "steps": n}
 */
#include "config.h"

#include <stdio.h>

#include "core/core-rng.h"
#include "engine/facet-engine.h"
#include "train/facet-train.h"

static gboolean
trainable (const char *name,
           gpointer    data)
{
  return !g_str_equal (name, "pos_embed") && !g_str_equal (name, "decoder_pos_embed");
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetBackend) cpu = NULL;
  g_autoptr (FacetGrads) grads = NULL;
  g_autoptr (FacetOptimizer) opt = NULL;
  g_autofree char *size = NULL;
  g_autofree float *images = NULL, *noise = NULL;
  int batch = 16, np;
  double seconds = 20.0, ratio = 0.75, best = G_MAXDOUBLE, total = 0.0;
  gsize per;
  guint steps = 0;
  FacetOptimConfig oc;
  FacetRng rng;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "tiny, small or base", "S" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "batch", "B" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "time to measure", "S" },
    { "mask-ratio", 0, 0, G_OPTION_ARG_DOUBLE, &ratio, "mask ratio", "R" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || batch < 1)
    {
      g_printerr ("pretrain-step: %s\n", error ? error->message : "bad arguments");
      return 2;
    }
  facet_model_config_set_preset (c, size ? size : "base");
  c->readout = FACET_READOUT_CLS_TOKEN;
  c->decoder_dim = 512;
  c->decoder_depth = 8;
  c->decoder_heads = 16;
  model = facet_model_new_random (c, 1, &error);
  cpu = facet_cpu_backend_new ();
  if (model == NULL || !facet_backend_load_model (cpu, model, &error))
    goto fail;
  grads = facet_grads_new (model, trainable, NULL);
  facet_optim_config_init (&oc);
  oc.layer_decay = 1.0;
  oc.beta2 = 0.95;
  opt = facet_optimizer_new (model, grads, &oc);

  np = facet_model_config_grid (c) * facet_model_config_grid (c);
  per = 3 * (gsize) c->image_size * c->image_size;
  images = g_new (float, per * batch);
  noise = g_new (float, (gsize) np * batch);
  facet_rng_init (&rng, 3);
  for (gsize i = 0; i < per * batch; i++)
    images[i] = (float) facet_rng_normal (&rng);

  /* One step to allocate, then timed steps. */
  for (gint64 start = 0, now = 0; steps < 3 || (now - start) / 1e6 < seconds;)
    {
      FacetMaeStep step = { (guint) batch, images, noise, (float) ratio, TRUE };
      gint64 t0 = g_get_monotonic_time ();
      double dt;

      for (gsize i = 0; i < (gsize) np * batch; i++)
        noise[i] = (float) facet_rng_uniform (&rng);
      facet_grads_zero (grads);
      if (!facet_backend_mae_step (cpu, &step, grads, NULL, &error))
        goto fail;
      facet_optimizer_step (opt, 1e-4);
      now = g_get_monotonic_time ();
      dt = (now - t0) / 1e6;
      if (start == 0)
        {
          start = now;
          continue;
        }
      best = MIN (best, dt);
      total += dt;
      steps++;
    }
  printf ("{\"images_per_s_best\": %.4f, \"images_per_s_mean\": %.4f, \"steps\": %u}\n",
          batch / best, batch * steps / total, steps);
  return 0;

fail:
  g_printerr ("pretrain-step: %s\n", error ? error->message : "failed");
  return 1;
}
