/* cli-predict.c — facet-cli predict: AU probabilities for images */
#define G_LOG_DOMAIN "facet-cli"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Box and aligned crops share one detector (loaded on first use). */
static FacetFaceDetector *face_detector;

static void
free_face_detector (void)
{
  g_clear_pointer (&face_detector, facet_face_detector_free);
}

/* The model input for one image under a crop convention. */
static FacetImage *
crop_image (FacetImage             *image,
            FacetCropKind           crop,
            const FacetModelConfig *config,
            const char             *file,
            GError                **error)
{
  g_autoptr (FacetModelConfig) with_crop = NULL;
  g_autoptr (GArray) faces = NULL;

  switch (crop)
    {
    case FACET_CROP_NONE:
      return facet_image_ref (image);
    case FACET_CROP_BOX:
    case FACET_CROP_ALIGNED:
    default:
      /* One detector for all images: its landmark model takes 0.7 s. */
      if (face_detector == NULL)
        {
          face_detector = facet_face_detector_new (NULL, error);
          if (face_detector == NULL)
            return NULL;
          atexit (free_face_detector);
        }
      faces = facet_face_detector_detect (face_detector, image, error);
      if (faces == NULL)
        {
          g_prefix_error (error, "%s: ", file);
          return NULL;
        }
      if (faces->len == 0)
        {
          g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID, "%s: no face found", file);
          return NULL;
        }
      /* The largest face, cropped as asked (which may differ from the
       * model's own convention when --crop is given). */
      with_crop = facet_model_config_copy (config);
      with_crop->crop = crop;
      return facet_face_crop (image, &g_array_index (faces, FacetFace, 0),
                              facet_model_config_crop (with_crop), NULL);
    }
}

static void
print_json (const char               *file,
            const FacetModelConfig   *c,
            const FacetForwardResult *r,
            guint                     i,
            gboolean                  features,
            const char               *method,
            const float              *maps)
{
  GString *out = g_string_new ("{\"file\":");
  gsize g2 = (gsize) r->grid * r->grid;

  facet_cli_json_string (out, file);
  g_string_append (out, ",\"au\":[");
  for (int a = 0; a < c->n_aus; a++)
    g_string_append_printf (out, a ? ",%d" : "%d", c->au_ids[a]);
  g_string_append (out, "],\"logit\":");
  facet_cli_json_floats (out, r->logits + (gsize) i * c->n_aus, (gsize) c->n_aus);
  g_string_append (out, ",\"prob\":");
  facet_cli_json_floats (out, r->probs + (gsize) i * c->n_aus, (gsize) c->n_aus);
  if (r->attention != NULL)
    {
      g_string_append_printf (out, ",\"grid\":%d,\"attention\":", r->grid);
      facet_cli_json_floats (out, r->attention + i * g2, g2);
    }
  if (r->au_maps != NULL)
    {
      g_string_append (out, ",\"au_maps\":[");
      for (int a = 0; a < c->n_aus; a++)
        {
          if (a)
            g_string_append_c (out, ',');
          facet_cli_json_floats (out, r->au_maps + ((gsize) i * c->n_aus + a) * g2, g2);
        }
      g_string_append (out, "],\"au_map_bias\":");
      facet_cli_json_floats (out, r->au_map_bias, (gsize) c->n_aus);
    }
  if (maps != NULL)
    {
      g_string_append_printf (out, ",\"grid\":%d,\"map_method\":\"%s\",\"maps\":[", r->grid,
                              method);
      for (int a = 0; a < c->n_aus; a++)
        {
          if (a)
            g_string_append_c (out, ',');
          facet_cli_json_floats (out, maps + (gsize) a * g2, g2);
        }
      g_string_append_c (out, ']');
    }
  if (features)
    {
      g_string_append (out, ",\"pooled\":");
      facet_cli_json_floats (out, r->pooled + (gsize) i * r->dim, (gsize) r->dim);
      if (r->id_logits != NULL)
        {
          g_string_append (out, ",\"id_logit\":");
          facet_cli_json_floats (out, r->id_logits + (gsize) i * r->n_subjects,
                                 (gsize) r->n_subjects);
        }
    }
  g_string_append_c (out, '}');
  puts (out->str);
  g_string_free (out, TRUE);
}

static void
print_text (const char               *file,
            const FacetModelConfig   *c,
            const FacetForwardResult *r,
            guint                     i)
{
  printf ("%s\n", file);
  for (int a = 0; a < c->n_aus; a++)
    {
      float p = r->probs[(gsize) i * c->n_aus + a];
      const char *name = facet_au_name (c->au_ids[a]);
      int bar = (int) (p * 20.0f + 0.5f);
      printf ("  AU%02d %-22s %5.3f %s%.*s\n", c->au_ids[a], name ? name : "", (double) p,
              p >= c->thresholds[a] ? "* " : "  ", bar, "####################");
    }
}

/* --occlusion-fill, --occlusion-drop and --occlusion-window into
 * @options; FALSE after a message when one is unknown or out of range. */
static gboolean
parse_occlusion (const char      *fill_name,
                 const char      *drop_name,
                 int              window,
                 FacetMapOptions *options)
{
  if (fill_name != NULL)
    {
      if (g_str_equal (fill_name, "mean"))
        options->fill = FACET_OCCLUSION_FILL_MEAN;
      else if (g_str_equal (fill_name, "image-mean"))
        options->fill = FACET_OCCLUSION_FILL_IMAGE_MEAN;
      else if (g_str_equal (fill_name, "patch-mean"))
        options->fill = FACET_OCCLUSION_FILL_PATCH_MEAN;
      else if (g_str_equal (fill_name, "reference"))
        options->fill = FACET_OCCLUSION_FILL_REFERENCE;
      else
        {
          facet_cli_failf ("unknown occlusion fill “%s” (mean, image-mean, patch-mean or "
                           "reference)", fill_name);
          return FALSE;
        }
    }
  if (drop_name != NULL)
    {
      if (g_str_equal (drop_name, "probability"))
        options->probability = TRUE;
      else if (g_str_equal (drop_name, "logit"))
        options->probability = FALSE;
      else
        {
          facet_cli_failf ("unknown occlusion drop “%s” (probability or logit)", drop_name);
          return FALSE;
        }
    }
  if (window < 1 || window > 8)
    {
      facet_cli_failf ("--occlusion-window %d is out of range (1-8)", window);
      return FALSE;
    }
  options->window = window;
  return TRUE;
}

/* Every AU's evidence map of one cropped image by @method, owned
 * ([n_aus, grid * grid]); NULL with an error naming @file. */
static float *
explain_image (FacetEngine            *engine,
               const FacetModelConfig *c,
               FacetImage             *crop,
               int                     grid,
               FacetMapMethod          method,
               const FacetMapOptions  *options,
               const char             *file,
               GError                **error)
{
  g_autofree float *input = g_new (float, 3 * (gsize) c->image_size * c->image_size);
  g_autofree float *map = g_new (float, (gsize) c->n_aus * grid * grid);

  facet_engine_prepare_image (engine, crop, input);
  if (!facet_engine_explain (engine, input, method, NULL, 0, options, map, NULL, NULL, NULL,
                             error))
    {
      g_prefix_error (error, "%s: ", file);
      return NULL;
    }
  return g_steal_pointer (&map);
}

/* The neutral frame of --occlusion-reference, cropped as the images are
 * and prepared as model input (owned); NULL with an error naming @path. */
static float *
load_reference (FacetEngine            *engine,
                const FacetModelConfig *c,
                FacetCropKind           crop,
                const char             *path,
                GError                **error)
{
  g_autoptr (FacetImage) image = facet_image_load (path, error);
  g_autoptr (FacetImage) cropped = NULL;
  float *input;

  if (image == NULL)
    return NULL;
  cropped = crop_image (image, crop, c, path, error);
  if (cropped == NULL)
    return NULL;
  input = g_new (float, 3 * (gsize) c->image_size * c->image_size);
  facet_engine_prepare_image (engine, cropped, input);
  return input;
}

int
facet_cli_predict (int    argc,
                   char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("IMAGE... — AU probabilities for images");
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *model_path = NULL, *crop_name = NULL, *backend = NULL, *aus = NULL;
  g_autofree char *precision_name = NULL;
  FacetPrecision precision = FACET_PRECISION_FP32;
  g_autofree char *dataset = NULL, *map_name = NULL, *fill_name = NULL, *drop_name = NULL;
  g_autofree char *reference_path = NULL;
  g_autofree float *reference = NULL;
  FacetMapMethod map_method = FACET_MAP_ROLLOUT;
  FacetMapOptions map_options;
  int window = 1;
  gboolean json = FALSE, attention = FALSE, maps = FALSE, features = FALSE;
  int batch = 8, heads = 0;
  const FacetModelConfig *c;
  FacetCropKind crop;
  FacetForwardFlags flags = FACET_FORWARD_NONE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path, "Model file (.safetensors or .pth)", "FILE" },
    { "crop", 0, 0, G_OPTION_ARG_STRING, &crop_name, "Face crop: box, aligned or none (default: the model's)", "KIND" },
    { "backend", 0, 0, G_OPTION_ARG_STRING, &backend, "cpu, vulkan or auto (default: cpu)", "NAME" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision_name, "fp32, bf16 (CPU products, where the processor has AVX512-BF16), fp16 (Vulkan storage) or auto (bf16 where native) (default: fp32)", "P" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Images per forward pass (default 8)", "N" },
    { "attention", 0, 0, G_OPTION_ARG_NONE, &attention, "Add the attention rollout map", NULL },
    { "au-maps", 0, 0, G_OPTION_ARG_NONE, &maps, "Add per-AU patch maps (global-pool models)", NULL },
    { "map", 0, 0, G_OPTION_ARG_STRING, &map_name, "Add every AU's evidence map by METHOD: rollout, last-layer, grad-attention, input-x-gradient, occlusion or neutral (change from --occlusion-reference) (JSON only)", "METHOD" },
    { "occlusion-fill", 0, 0, G_OPTION_ARG_STRING, &fill_name, "What hides a patch for occlusion: image-mean (the image's mean colour, default), mean (the normalisation's mean colour), patch-mean, or reference (the same patch of --occlusion-reference)", "FILL" },
    { "occlusion-reference", 0, 0, G_OPTION_ARG_FILENAME, &reference_path, "The same person's neutral face, cropped as the images are, for --map neutral and --occlusion-fill reference", "IMAGE" },
    { "occlusion-drop", 0, 0, G_OPTION_ARG_STRING, &drop_name, "What occlusion measures: probability (default) or logit", "UNIT" },
    { "occlusion-window", 0, 0, G_OPTION_ARG_INT, &window, "Side of the hidden square for occlusion, in patches (default 1)", "N" },
    { "features", 0, 0, G_OPTION_ARG_NONE, &features, "Add the pooled feature and identity logits", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per image", NULL },
    { "aus", 0, 0, G_OPTION_ARG_STRING, &aus, "AU numbers of the head outputs (.pth)", "1,2,..." },
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "AU list of a data set (.pth)", "BP4D|DISFA" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "Attention heads (.pth)", "N" },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!facet_cli_parse (ctx, &argc, &argv))
    return 1;
  if (model_path == NULL)
    return facet_cli_failf ("predict needs --model FILE");
  if (argc < 2)
    return facet_cli_failf ("predict needs at least one image");
  if (batch < 1 || batch > 4096)
    return facet_cli_failf ("--batch %d is out of range (1-4096)", batch);
  if (precision_name != NULL && !facet_precision_from_string (precision_name, &precision))
    return facet_cli_failf ("unknown precision “%s” (fp32, bf16, fp16 or auto)", precision_name);

  facet_map_options_init (&map_options);
  if (map_name != NULL && !facet_map_method_from_string (map_name, &map_method))
    return facet_cli_failf ("unknown map method “%s” (rollout, last-layer, grad-attention, "
                            "input-x-gradient, occlusion or neutral)", map_name);
  if (map_name != NULL && !json)
    return facet_cli_failf ("--map needs --json");
  if (!parse_occlusion (fill_name, drop_name, window, &map_options))
    return 1;
  if (map_name != NULL && map_method == FACET_MAP_NEUTRAL && reference_path == NULL)
    return facet_cli_failf ("--map neutral needs --occlusion-reference IMAGE (a neutral frame of "
                            "the same person)");
  if (map_options.fill == FACET_OCCLUSION_FILL_REFERENCE && reference_path == NULL)
    return facet_cli_failf ("--occlusion-fill reference needs --occlusion-reference IMAGE");
  if (reference_path != NULL && map_options.fill != FACET_OCCLUSION_FILL_REFERENCE
      && (map_name == NULL || map_method != FACET_MAP_NEUTRAL))
    return facet_cli_failf ("--occlusion-reference needs --map neutral or --occlusion-fill "
                            "reference");

  model = facet_cli_load_model (model_path, aus, dataset, heads, NULL, crop_name, FALSE, &error);
  if (model == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  c = facet_model_get_config (model);
  crop = c->crop;
  if (crop_name != NULL && !facet_crop_kind_from_string (crop_name, &crop))
    return facet_cli_failf ("unknown crop “%s” (box, aligned or none)", crop_name);
  if (c->n_aus == 0 && !features)
    return facet_cli_failf ("%s: the model has no AU head (a pretrained encoder); fine-tune it "
                            "or convert it with --aus first (or ask for --features)", model_path);

  facet_backend_set_default_precision (precision);
  engine = facet_engine_new (model, backend, &error);
  if (engine == NULL)
    return facet_cli_fail (g_steal_pointer (&error));
  if (facet_engine_get_notice (engine) != NULL)
    fprintf (stderr, "facet-cli: notice: %s\n", facet_engine_get_notice (engine));

  if (reference_path != NULL)
    {
      reference = load_reference (engine, c, crop, reference_path, &error);
      if (reference == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
      map_options.reference = reference;
    }

  if (attention)
    flags |= FACET_FORWARD_ATTENTION;
  if (maps)
    {
      if (c->readout != FACET_READOUT_GLOBAL_POOL)
        return facet_cli_failf ("%s: per-AU maps need a global-pool model", model_path);
      flags |= FACET_FORWARD_AU_MAPS;
    }

  for (int start = 1; start < argc; start += batch)
    {
      int n = MIN (batch, argc - start);
      g_autoptr (GPtrArray) crops = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
      g_autoptr (FacetForwardResult) r = NULL;

      for (int i = 0; i < n; i++)
        {
          g_autoptr (FacetImage) image = facet_image_load (argv[start + i], &error);
          FacetImage *cropped;
          if (image == NULL)
            return facet_cli_fail (g_steal_pointer (&error));
          cropped = crop_image (image, crop, c, argv[start + i], &error);
          if (cropped == NULL)
            return facet_cli_fail (g_steal_pointer (&error));
          g_ptr_array_add (crops, cropped);
        }
      r = facet_engine_predict_images (engine, (FacetImage **) crops->pdata, (guint) n, flags,
                                       &error);
      if (r == NULL)
        return facet_cli_fail (g_steal_pointer (&error));
      for (int i = 0; i < n; i++)
        {
          g_autofree float *map = NULL;

          if (map_name != NULL && c->n_aus > 0)
            {
              map = explain_image (engine, c, crops->pdata[i], r->grid, map_method, &map_options,
                                   argv[start + i], &error);
              if (map == NULL)
                return facet_cli_fail (g_steal_pointer (&error));
            }
          if (json)
            print_json (argv[start + i], c, r, (guint) i, features, map_name, map);
          else
            print_text (argv[start + i], c, r, (guint) i);
        }
    }
  return 0;
}
