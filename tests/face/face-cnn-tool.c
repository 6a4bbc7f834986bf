/* face-cnn-tool.c — the CNN face detector's raw output and boxes for one
 * image, for test_face_cnn.py (which compares them with PyTorch).
 *
 * Usage: face-cnn-tool MANIFEST IMAGE INPUT_SIZE OUT.f32
 *        face-cnn-tool --synth SUBJECT SIZE OUT.png
 * Writes the n x n x 25 output as little-endian float32 to OUT.f32 and
 * prints "cells N" then one "box x y w h score" line per face at 0.3.
 * --synth renders synthetic subject SUBJECT frontal (the first frame of
 * `facet-cli synth --subject SUBJECT`'s look, no AU) and prints its skin
 * tone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/face-cnn.h"
#include "media/media-synth.h"

static int
render_synth (const char *subject_id,
              const char *size_text,
              const char *path)
{
  g_autoptr (FacetSynthSubject) subject = facet_synth_subject_new (g_ascii_strtoull (subject_id, NULL, 10));
  g_autoptr (FacetImage) frame = NULL;
  g_autoptr (GError) error = NULL;
  FacetSynthPose pose;

  facet_synth_pose_init (&pose);
  frame = facet_synth_render (subject, NULL, &pose, atoi (size_text));
  if (!facet_image_save_png (frame, path, &error))
    {
      fprintf (stderr, "face-cnn-tool: %s\n", error->message);
      return 1;
    }
  printf ("tone %.3f\n", facet_synth_subject_get_skin_tone (subject));
  return 0;
}

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

  if (argc == 5 && strcmp (argv[1], "--synth") == 0)
    return render_synth (argv[2], argv[3], argv[4]);
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
