/* fuzz-safetensors.c — libFuzzer target: the safetensors header parser.
 * Input: 8-byte little-endian header length, header, data. */
#include "config.h"

#include "engine/engine-checkpoint.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GHashTable) meta = NULL;
  guint64 n = 0;

  if (size < 8)
    return 0;
  for (int i = 0; i < 8; i++)
    n |= (guint64) data[i] << (8 * i);
  if (n > size - 8)
    return 0;
  if (facet_safetensors_parse_header (data + 8, (gsize) n, size - 8 - n, "fuzz", &entries, &meta, NULL))
    for (guint i = 0; i < entries->len; i++)
      {
        FacetSafetensorsEntry *e = g_ptr_array_index (entries, i);
        g_assert (e->end <= size - 8 - n);
        g_assert (e->begin <= e->end);
      }
  return 0;
}
