/* fuzz-pickle.c — libFuzzer target: the restricted pickle reader and the
 * state-dict extraction over it (tensor bounds against fake storages). */
#include "config.h"

#include "engine/engine-checkpoint.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr (FacetPickle) p = facet_pickle_parse (data, size, "fuzz", NULL);
  g_autoptr (GHashTable) storages = NULL;
  g_autoptr (FacetCheckpoint) ckpt = NULL;
  GString *json;
  char *text;

  if (p == NULL)
    return 0;
  text = facet_pickle_describe (facet_pickle_get_root (p), 6);
  g_free (text);
  json = g_string_new (NULL);
  facet_pickle_to_json (facet_pickle_get_root (p), json, 8);
  g_string_free (json, TRUE);

  storages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  for (int i = 0; i < 4; i++)
    g_hash_table_insert (storages, g_strdup_printf ("%d", i), g_bytes_new_take (g_malloc0 (64 << i), 64 << i));
  ckpt = facet_checkpoint_new (FACET_MODEL_FORMAT_PTH_ZIP);
  facet_checkpoint_from_pickle (ckpt, facet_pickle_get_root (p), storages, "fuzz", NULL);
  for (guint i = 0; i < ckpt->tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (ckpt->tensors, i);
      float *f = facet_tensor_to_f32 (t, NULL);
      g_aligned_free (f);
    }
  return 0;
}
