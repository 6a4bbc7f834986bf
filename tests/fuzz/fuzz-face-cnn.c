/* fuzz-face-cnn.c — libFuzzer target: the CNN face detector's tfjs weights
 * manifest and weights parser. Input: 4-byte little-endian manifest length,
 * the manifest (JSON), then the weight bytes. */
#include "config.h"

#include "face/face-cnn.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceCnn) cnn = NULL;
  guint32 n = 0;

  if (size < 4)
    return 0;
  for (int i = 0; i < 4; i++)
    n |= (guint32) data[i] << (8 * i);
  if (n > size - 4)
    return 0;
  cnn = facet_face_cnn_new_from_data ((const char *) data + 4, n, data + 4 + n, size - 4 - n,
                                      "fuzz", &error);
  /* either a network or an error of the model kind, never both */
  g_assert ((cnn == NULL) == (error != NULL));
  if (error != NULL)
    g_assert (error->domain == FACET_FACE_ERROR && error->code == FACET_FACE_ERROR_MODEL);
  return 0;
}
