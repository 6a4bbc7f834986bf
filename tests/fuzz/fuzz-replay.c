/* fuzz-replay.c — runs a fuzz target over a corpus folder without libFuzzer
 * (for compilers without it, and for replaying crashes under valgrind). */
#include "config.h"

#include <glib.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
main (int    argc,
      char **argv)
{
  guint n = 0;

  for (int a = 1; a < argc; a++)
    {
      g_autoptr (GDir) dir = g_dir_open (argv[a], 0, NULL);
      const char *name;

      if (dir == NULL)
        {
          fprintf (stderr, "cannot open corpus folder %s\n", argv[a]);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[a], name, NULL);
          g_autofree char *data = NULL;
          gsize len;

          if (!g_file_get_contents (path, &data, &len, NULL))
            continue;
          LLVMFuzzerTestOneInput ((const guint8 *) data, len);
          /* Every prefix too: truncation is the most common damage. */
          for (gsize cut = 0; cut < len; cut += 1 + len / 64)
            LLVMFuzzerTestOneInput ((const guint8 *) data, cut);
          n++;
        }
    }
  printf ("replayed %u inputs and their prefixes\n", n);
  return n > 0 ? 0 : 1;
}
