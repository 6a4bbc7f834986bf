/* fuzz-index.c — libFuzzer target: the parser of cached video indexes.
 *
 * Each input is parsed as it is (the SHA-256 trailer rejects almost all
 * damage) and again with the trailer recomputed, which lets the fuzzer reach
 * the header and record checks behind it. Whatever parses must serialise
 * back to the same bytes. */
#include "config.h"

#include <string.h>

#include "media/media-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
parse_and_check (const guint8 *data,
                 gsize         size)
{
  FacetMediaIndexKey key;
  gsize n = 0;
  g_autofree FacetMediaPacket *packets = facet_media_index_parse (data, size, NULL, &key, &n);

  if (packets != NULL)
    {
      g_autoptr (GBytes) again = facet_media_index_serialize (&key, packets, n);

      g_assert (n > 0);
      g_assert (g_bytes_get_size (again) == size);
      g_assert (memcmp (g_bytes_get_data (again, NULL), data, size) == 0);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree guint8 *fixed = NULL;
  GChecksum *sum;
  gsize len = 32;

  parse_and_check (data, size);
  if (size < 32)
    return 0;
  fixed = g_memdup2 (data, size);
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, fixed, size - 32);
  g_checksum_get_digest (sum, fixed + size - 32, &len);
  g_checksum_free (sum);
  parse_and_check (fixed, size);
  return 0;
}
