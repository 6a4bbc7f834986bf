/* face-cnn-tool.c — the CNN face detector's raw output and boxes for one
 * image, for test_face_cnn.py (which compares them with PyTorch).
 *
 * Usage: face-cnn-tool MANIFEST IMAGE INPUT_SIZE OUT.f32
 * Writes the n x n x 25 output as little-endian float32 to OUT.f32 and
 * prints "cells N" then one "box x y w h score" line per face at 0.3.
 */
#include "config.h"

#include <stdio.h>

#include "face/face-cnn.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetFaceCnn) cnn = NULL;
  g_autoptr (FacetImage) image = NULL;
  g_autoptr (GArray) faces = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_autofree float *out = NULL;
  int size, n;

  if (argc != 5)
    {
      fprintf (stderr, "usage: face-cnn-tool MANIFEST IMAGE INPUT_SIZE OUT.f32\n");
      return 2;
    }
  cnn = facet_face_cnn_load (argv[1], &error);
  if (cnn == NULL || (image = facet_image_load (argv[2], &error)) == NULL)
    {
      fprintf (stderr, "face-cnn-tool: %s\n", error->message);
      return 1;
    }
  size = atoi (argv[3]);
  if (size < 64 || size > 1024 || size % 32 != 0)
    {
      fprintf (stderr, "face-cnn-tool: the input size must be a multiple of 32 in 64..1024\n");
      return 2;
    }
  out = facet_face_cnn_forward (cnn, image, size, &n);
  if (!g_file_set_contents (argv[4], (const char *) out,
                            (gssize) ((gsize) n * n * FACET_FACE_CNN_OUT_CHANNELS * sizeof (float)),
                            &error))
    {
      fprintf (stderr, "face-cnn-tool: %s\n", error->message);
      return 1;
    }
  printf ("cells %d\n", n);
  facet_face_cnn_detect (cnn, image, size, 0.3, faces);
  for (guint i = 0; i < faces->len; i++)
    {
      const FacetFace *f = &g_array_index (faces, FacetFace, i);
      printf ("box %.3f %.3f %.3f %.3f %.5f\n", f->x, f->y, f->width, f->height, f->score);
    }
  return 0;
}
