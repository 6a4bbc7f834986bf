/* memcheck-cli.c — facet-cli's `model` and `predict` commands, linked without
 * the media module.
 *
 * The memcheck test runs these under valgrind. facet-cli itself links FFmpeg,
 * which pulls in libjxl and libhwy; libhwy's library constructor executes
 * RDTSCP, which valgrind cannot run on processors (or virtual machines) that
 * do not announce the instruction, so the whole program dies with SIGILL
 * before main. The commands are the very same code (cli-model.c,
 * cli-predict.c, cli-common.c); only the command table is smaller. */
#define G_LOG_DOMAIN "memcheck-cli"

#include "config.h"

#include <locale.h>
#include <stdio.h>

#include "cli.h"

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");
  if (argc >= 2 && g_str_equal (argv[1], "model"))
    return facet_cli_model (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "predict"))
    return facet_cli_predict (argc - 1, argv + 1);
  fprintf (stderr, "Usage: memcheck-cli model|predict [OPTIONS...]\n");
  return 1;
}
