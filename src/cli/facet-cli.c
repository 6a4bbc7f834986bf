/* facet-cli.c — Facet without a display: the command table */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "cli.h"

static const FacetCliCommand commands[] = {
  { "model", facet_cli_model, "info, convert or create model files" },
  { "predict", facet_cli_predict, "AU probabilities for images" },
  { "bench", facet_cli_bench, "time batched inference of a model" },
  { "finetune", facet_cli_finetune, "fine-tune a model on a project's labels (IAT)" },
  { "pretrain", facet_cli_pretrain, "pre-train a model on a project's faces (masked autoencoder)" },
  { "models", facet_cli_models, "the models of a project and their metrics" },
  { "probe", facet_cli_probe, "describe a video or an image folder" },
  { "frame", facet_cli_frame, "write one frame of a video as a PNG" },
  { "faces", facet_cli_faces, "faces, landmarks and crops of an image or video frame" },
  { "synth", facet_cli_synth, "a synthetic face video with AU labels" },
  { "init", facet_cli_init, "make a new, empty project" },
  { "add", facet_cli_add, "add videos or image folders of a subject to a project" },
  { "analyze", facet_cli_analyze, "analyse a project's videos (resumable, shardable)" },
  { "labels", facet_cli_labels, "set, import, export, undo or redo labels" },
  { "export", facet_cli_export, "AU time series, events, ELAN documents or summaries" },
  { "status", facet_cli_status, "what a project holds" },
  { "merge", facet_cli_merge, "fold analysis shards into their project" },
  { "agreement", facet_cli_agreement, "inter-coder reliability between two coders (or a model)" },
  { "sample", facet_cli_sample, "mark random segments for double coding" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: facet-cli COMMAND [OPTIONS...]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nfacet-cli COMMAND --help describes a command.\n");
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")
      || g_str_equal (argv[1], "help"))
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 1 : 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("facet-cli %s\n", PACKAGE_VERSION);
      return 0;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].func (argc - 1, argv + 1);

  fprintf (stderr, "facet-cli: unknown command “%s”\n", argv[1]);
  usage (stderr);
  return 1;
}
