/* cli-model.c — facet-cli model info|convert|new */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *
format_name (FacetModelFormat format)
{
  switch (format)
    {
    case FACET_MODEL_FORMAT_SAFETENSORS:
      return "safetensors";
    case FACET_MODEL_FORMAT_PTH_ZIP:
      return "pytorch-zip";
    case FACET_MODEL_FORMAT_PTH_LEGACY:
      return "pytorch-legacy";
    case FACET_MODEL_FORMAT_NEW:
    default:
      return "new";
    }
}

static void
print_info_text (FacetModel *model)
{
  const FacetModelConfig *c = facet_model_get_config (model);
  GPtrArray *tensors = facet_model_get_tensors (model);
  const char * const *notes = facet_model_get_notes (model);
  g_autofree char *aus = facet_format_int_list (c->au_ids, (guint) c->n_aus);

  printf ("file:        %s\n", facet_model_get_path (model));
  printf ("format:      %s\n", format_name (facet_model_get_format (model)));
  if (c->name)
    printf ("name:        %s\n", c->name);
  if (c->dataset)
    printf ("dataset:     %s\n", c->dataset);
  printf ("architecture: ViT, input %dx%d, patch %d, width %d, depth %d, %d heads, MLP %d\n",
          c->image_size, c->image_size, c->patch_size, c->dim, c->depth, c->heads, c->mlp_hidden);
  printf ("readout:     %s\n", facet_readout_to_string (c->readout));
  printf ("AUs:         %s%s\n", c->n_aus ? aus : "none (no AU head)", "");
  printf ("identities:  %d%s\n", c->n_subjects, c->n_subjects ? " (ID_head)" : "");
  printf ("crop:        %s (margin %.2f)\n", facet_crop_kind_to_string (c->crop),
          (double) c->crop_margin);
  printf ("parameters:  %" G_GINT64_FORMAT " in %u tensors\n", facet_model_count_parameters (model),
          tensors->len);
  for (guint i = 0; notes[i] != NULL; i++)
    printf ("note:        %s\n", notes[i]);
}

static void
print_info_json (FacetModel *model)
{
  g_autofree char *config = facet_model_config_to_string (facet_model_get_config (model));
  GPtrArray *tensors = facet_model_get_tensors (model);
  const char * const *notes = facet_model_get_notes (model);
  GString *out = g_string_new ("{\"file\":");

  facet_cli_json_string (out, facet_model_get_path (model));
  g_string_append (out, ",\"format\":");
  facet_cli_json_string (out, format_name (facet_model_get_format (model)));
  g_string_append_printf (out, ",\"config\":%s,\"parameters\":%" G_GINT64_FORMAT ",\"tensors\":[",
                          config, facet_model_count_parameters (model));
  for (guint i = 0; i < tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (tensors, i);
      g_string_append (out, i ? ",{\"name\":" : "{\"name\":");
      facet_cli_json_string (out, t->name);
      g_string_append (out, ",\"shape\":[");
      for (int d = 0; d < t->ndim; d++)
        g_string_append_printf (out, d ? ",%" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, t->shape[d]);
      g_string_append (out, "]}");
    }
  g_string_append (out, "],\"notes\":[");
  for (guint i = 0; notes[i] != NULL; i++)
    {
      if (i)
        g_string_append_c (out, ',');
      facet_cli_json_string (out, notes[i]);
    }
  g_string_append (out, "]}");
  puts (out->str);
  g_string_free (out, TRUE);
}

static int
model_info (int    argc,
            char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE — describe a model file");
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *aus = NULL, *dataset = NULL, *readout = NULL;
  gboolean json = FALSE;
  int heads = 0;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Machine-readable output", NULL },
    { "aus", 0, 0, G_OPTION_ARG_STRING, &aus, "AU numbers of the head outputs", "1,2,4,..." },
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "AU list of a data set", "BP4D|DISFA" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "Attention heads (not stored in .pth)", "N" },
    { "readout", 0, 0, G_OPTION_ARG_STRING, &readout, "global-pool or cls-token", "R" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("model info takes one model file (see --help)");

  model = facet_cli_load_model (argv[1], aus, dataset, heads, readout, NULL, FALSE, &error);
  if (model == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (json)
    print_info_json (model);
  else
    print_info_text (model);
  return 0;
}

static int
model_convert (int    argc,
               char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("IN OUT.safetensors — convert a checkpoint");
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *aus = NULL, *dataset = NULL, *readout = NULL, *crop = NULL, *name = NULL;
  gboolean create_head = FALSE, new_head = FALSE;
  int heads = 0;
  GOptionEntry entries[] = {
    { "aus", 0, 0, G_OPTION_ARG_STRING, &aus, "AU numbers of the head outputs", "1,2,4,..." },
    { "new-head", 0, 0, G_OPTION_ARG_NONE, &new_head,
      "Replace the AU head by a fresh one (for --aus, or the same AUs) to fine-tune the backbone's features on new labels", NULL },
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "AU list of a data set", "BP4D|BP4D+|DISFA" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "Attention heads (not stored in .pth)", "N" },
    { "readout", 0, 0, G_OPTION_ARG_STRING, &readout, "global-pool or cls-token", "R" },
    { "crop", 0, 0, G_OPTION_ARG_STRING, &crop, "Face crop the model expects", "box|aligned|none" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "A name stored with the model", "TEXT" },
    { "create-head", 0, 0, G_OPTION_ARG_NONE, &create_head,
      "Create an AU head when the file has none (pretrained encoders)", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 3)
    return facet_cli_failf ("model convert takes an input and an output file (see --help)");
  if (create_head && aus == NULL && dataset == NULL)
    return facet_cli_failf ("--create-head needs --aus or --dataset to know which AUs to predict");

  if (new_head)
    {
      /* Load with the file's own AU list, then swap the head. */
      g_autoptr (GArray) ids = NULL;
      model = facet_cli_load_model (argv[1], NULL, NULL, heads, readout, crop, FALSE, &error);
      if (model == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
      if (aus != NULL && !facet_parse_int_list (aus, &ids, &error))
        return facet_cli_fail (g_steal_pointer (&error));
      if (!facet_model_make_writable (model, &error))
        return facet_cli_fail (g_steal_pointer (&error));
      facet_model_reset_head (model, ids ? (const int *) ids->data : NULL, ids ? (int) ids->len : 0, 0);
      if (!facet_model_config_validate (facet_model_get_config (model), &error))
        return facet_cli_fail (g_steal_pointer (&error));
    }
  else
    model = facet_cli_load_model (argv[1], aus, dataset, heads, readout, crop,
                                  create_head || aus != NULL || dataset != NULL, &error);
  if (model == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (name != NULL)
    {
      FacetModelConfig *c = facet_model_get_config_mut (model);
      g_free (c->name);
      c->name = g_strdup (name);
    }
  for (const char * const *n = facet_model_get_notes (model); *n != NULL; n++)
    fprintf (stderr, "note: %s\n", *n);
  if (!facet_model_save (model, argv[2], NULL, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

static int
model_new (int    argc,
           char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("OUT.safetensors — a randomly initialised model");
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *size = NULL, *aus = NULL, *crop = NULL, *name = NULL, *readout = NULL;
  gint64 seed = 0;
  int dim = 0, depth = -1, heads = 0, image = 0, patch = 0, subjects = 0;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "Preset: tiny, small, base, large", "SIZE" },
    { "dim", 0, 0, G_OPTION_ARG_INT, &dim, "Embedding width", "N" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "Number of blocks", "N" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "Attention heads", "N" },
    { "image-size", 0, 0, G_OPTION_ARG_INT, &image, "Input side in pixels", "N" },
    { "patch", 0, 0, G_OPTION_ARG_INT, &patch, "Patch side in pixels", "N" },
    { "aus", 0, 0, G_OPTION_ARG_STRING, &aus, "AU numbers of the head (default: BP4D's 12)", "1,2,..." },
    { "subjects", 0, 0, G_OPTION_ARG_INT, &subjects, "Outputs of an identity head", "N" },
    { "readout", 0, 0, G_OPTION_ARG_STRING, &readout, "global-pool or cls-token", "R" },
    { "crop", 0, 0, G_OPTION_ARG_STRING, &crop, "Face crop convention", "box|aligned|none" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "A name stored with the model", "TEXT" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed", "S" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (argc != 2)
    return facet_cli_failf ("model new takes one output file (see --help)");

  if (size != NULL)
    {
      if (!g_strv_contains ((const char *[]) { "tiny", "small", "base", "large", NULL }, size))
        return facet_cli_failf ("unknown size “%s” (tiny, small, base or large)", size);
      facet_model_config_set_preset (c, size);
    }
  if (dim > 0)
    c->dim = dim, c->mlp_hidden = 4 * dim;
  if (depth >= 0)
    c->depth = depth;
  if (heads > 0)
    c->heads = heads;
  if (image > 0)
    c->image_size = image;
  if (patch > 0)
    c->patch_size = patch;
  c->n_subjects = subjects;
  if (aus != NULL)
    {
      g_autoptr (GArray) ids = NULL;
      if (!facet_parse_int_list (aus, &ids, &error))
        return facet_cli_fail (g_steal_pointer (&error));
      facet_model_config_set_aus (c, (const int *) ids->data, (int) ids->len);
    }
  else
    {
      int n;
      const int *ids = facet_dataset_aus ("BP4D", &n);
      facet_model_config_set_aus (c, ids, n);
    }
  if (crop != NULL && !facet_crop_kind_from_string (crop, &c->crop))
    return facet_cli_failf ("unknown crop “%s” (box, aligned or none)", crop);
  if (readout != NULL)
    {
      if (g_str_equal (readout, "cls-token"))
        c->readout = FACET_READOUT_CLS_TOKEN;
      else if (!g_str_equal (readout, "global-pool"))
        return facet_cli_failf ("unknown readout “%s” (global-pool or cls-token)", readout);
    }
  c->name = g_strdup (name);

  model = facet_model_new_random (c, (guint64) seed, &error);
  if (model == NULL || !facet_model_save (model, argv[1], NULL, &error))
    return facet_cli_fail (g_steal_pointer (&error));
  return 0;
}

int
facet_cli_model (int    argc,
                 char **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "info"))
    return model_info (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "convert"))
    return model_convert (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "new"))
    return model_new (argc - 1, argv + 1);
  return facet_cli_failf ("usage: facet-cli model info|convert|new ... (see facet-cli model info --help)");
}
