/* engine-config.c — FacetModelConfig and its JSON form */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "engine-config.h"
#include "engine-error.h"

#define CONFIG_FORMAT  "facet-model"
#define CONFIG_VERSION 1

/**
 * facet_model_config_crop:
 *
 * The crop this model expects (kind, input side, margin, template), for
 * the face module, which knows no model configuration.
 */
FacetCropSpec
facet_model_config_crop (const FacetModelConfig *config)
{
  FacetCropSpec spec = { 0 };

  g_return_val_if_fail (config != NULL, spec);

  spec.kind = config->crop;
  spec.size = config->image_size;
  spec.margin = config->crop_margin;
  memcpy (spec.align_template, config->align_template, sizeof spec.align_template);
  return spec;
}

const char *
facet_readout_to_string (FacetReadout readout)
{
  return readout == FACET_READOUT_CLS_TOKEN ? "cls-token" : "global-pool";
}

FacetModelConfig *
facet_model_config_new (void)
{
  FacetModelConfig *c = g_new0 (FacetModelConfig, 1);

  facet_model_config_set_preset (c, "base");
  c->readout = FACET_READOUT_GLOBAL_POOL;
  c->ln_eps = 1e-6f;
  c->mean[0] = 0.485f;
  c->mean[1] = 0.456f;
  c->mean[2] = 0.406f;
  c->std[0] = 0.229f;
  c->std[1] = 0.224f;
  c->std[2] = 0.225f;
  c->crop = FACET_CROP_BOX;
  c->crop_margin = 0.05f;
  facet_crop_default_template (c->align_template);
  return c;
}

/**
 * facet_model_config_set_preset:
 * @size: "tiny", "small", "base" or "large" (ViT-Ti/S/B/L, patch 16, input 224)
 */
void
facet_model_config_set_preset (FacetModelConfig *config,
                               const char       *size)
{
  static const struct
  {
    const char *name;
    int         dim, depth, heads;
  } presets[] = {
    { "tiny", 192, 12, 3 },
    { "small", 384, 12, 6 },
    { "base", 768, 12, 12 },
    { "large", 1024, 24, 16 },
  };

  g_return_if_fail (config != NULL);

  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_strcmp0 (size, presets[i].name) == 0)
      {
        config->image_size = 224;
        config->patch_size = 16;
        config->in_chans = 3;
        config->dim = presets[i].dim;
        config->depth = presets[i].depth;
        config->heads = presets[i].heads;
        config->mlp_hidden = 4 * presets[i].dim;
        return;
      }
  g_return_if_reached ();
}

void
facet_model_config_set_aus (FacetModelConfig *config,
                            const int        *au_ids,
                            int               n_aus)
{
  g_return_if_fail (config != NULL);
  g_return_if_fail (n_aus >= 0);

  g_free (config->au_ids);
  g_free (config->thresholds);
  config->n_aus = n_aus;
  config->au_ids = n_aus ? g_memdup2 (au_ids, sizeof (int) * (gsize) n_aus) : NULL;
  config->thresholds = n_aus ? g_new (float, n_aus) : NULL;
  for (int i = 0; i < n_aus; i++)
    config->thresholds[i] = 0.5f;
}

FacetModelConfig *
facet_model_config_copy (const FacetModelConfig *config)
{
  FacetModelConfig *c;

  g_return_val_if_fail (config != NULL, NULL);

  c = g_memdup2 (config, sizeof *config);
  c->name = g_strdup (config->name);
  c->dataset = g_strdup (config->dataset);
  c->au_ids = config->n_aus ? g_memdup2 (config->au_ids, sizeof (int) * (gsize) config->n_aus)
                            : NULL;
  c->thresholds = config->n_aus ? g_memdup2 (config->thresholds,
                                             sizeof (float) * (gsize) config->n_aus)
                                : NULL;
  return c;
}

void
facet_model_config_free (FacetModelConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->name);
  g_free (config->dataset);
  g_free (config->au_ids);
  g_free (config->thresholds);
  g_free (config);
}

int
facet_model_config_grid (const FacetModelConfig *config)
{
  return config->image_size / config->patch_size;
}

int
facet_model_config_tokens (const FacetModelConfig *config)
{
  int g = facet_model_config_grid (config);
  return g * g + 1;
}

/* Index of @au in the head, or -1. */
int
facet_model_config_find_au (const FacetModelConfig *config,
                            int                     au)
{
  for (int i = 0; i < config->n_aus; i++)
    if (config->au_ids[i] == au)
      return i;
  return -1;
}

#define CONFIG_FAIL(...)                                                                 \
  G_STMT_START                                                                           \
  {                                                                                      \
    g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_CONFIG, __VA_ARGS__);     \
    return FALSE;                                                                        \
  }                                                                                      \
  G_STMT_END

gboolean
facet_model_config_validate (const FacetModelConfig *c,
                             GError                **error)
{
  g_return_val_if_fail (c != NULL, FALSE);

  if (c->patch_size < 1 || c->patch_size > 64)
    CONFIG_FAIL ("patch size %d is out of range (1-64)", c->patch_size);
  if (c->image_size < c->patch_size || c->image_size > 1024 || c->image_size % c->patch_size)
    CONFIG_FAIL ("input size %d is not a multiple of the patch size %d (up to 1024)",
                 c->image_size, c->patch_size);
  if (c->in_chans != 3)
    CONFIG_FAIL ("the model takes %d input channels; only RGB (3) is supported", c->in_chans);
  if (c->dim < 1 || c->dim > 8192)
    CONFIG_FAIL ("embedding size %d is out of range (1-8192)", c->dim);
  if (c->depth < 0 || c->depth > 128)
    CONFIG_FAIL ("depth %d is out of range (0-128)", c->depth);
  if (c->heads < 1 || c->dim % c->heads)
    CONFIG_FAIL ("%d heads do not divide the embedding size %d", c->heads, c->dim);
  if (c->mlp_hidden < 1 || c->mlp_hidden > 65536)
    CONFIG_FAIL ("MLP width %d is out of range", c->mlp_hidden);
  if (!(c->ln_eps > 0.0f && c->ln_eps < 1.0f))
    CONFIG_FAIL ("layer norm epsilon %g is out of range", (double) c->ln_eps);
  if (c->n_aus < 0 || c->n_aus > 256)
    CONFIG_FAIL ("%d AUs is out of range", c->n_aus);
  for (int i = 0; i < c->n_aus; i++)
    {
      if (c->au_ids[i] < 1 || c->au_ids[i] > 99)
        CONFIG_FAIL ("AU %d is not a FACS action unit number (1-99)", c->au_ids[i]);
      for (int j = 0; j < i; j++)
        if (c->au_ids[j] == c->au_ids[i])
          CONFIG_FAIL ("AU %d appears twice in the AU list", c->au_ids[i]);
      if (!(c->thresholds[i] >= 0.0f && c->thresholds[i] <= 1.0f))
        CONFIG_FAIL ("threshold %g of AU %d is not in [0, 1]", (double) c->thresholds[i],
                     c->au_ids[i]);
    }
  if (c->n_subjects < 0 || c->n_subjects > 1000000)
    CONFIG_FAIL ("%d subjects is out of range", c->n_subjects);
  for (int i = 0; i < 3; i++)
    if (!(c->std[i] > 0.0f) || !isfinite (c->mean[i]))
      CONFIG_FAIL ("normalisation of channel %d is invalid (std must be > 0)", i);
  if (!(c->crop_margin >= 0.0f && c->crop_margin <= 2.0f))
    CONFIG_FAIL ("crop margin %g is out of range (0-2)", (double) c->crop_margin);
  if (c->decoder_dim != 0
      && (c->decoder_dim < 1 || c->decoder_dim > 8192 || c->decoder_depth < 0
          || c->decoder_depth > 128 || c->decoder_heads < 1 || c->decoder_dim % c->decoder_heads))
    CONFIG_FAIL ("MAE decoder of width %d, depth %d and %d heads is out of range",
                 c->decoder_dim, c->decoder_depth, c->decoder_heads);
  if (c->decoder_dim > 0 && c->readout != FACET_READOUT_CLS_TOKEN)
    CONFIG_FAIL ("a model with an MAE decoder ends in the encoder's norm (cls-token readout)");
  return TRUE;
}

static JsonNode *
float_array (const float *v,
             int          n)
{
  JsonArray *a = json_array_sized_new ((guint) n);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);

  for (int i = 0; i < n; i++)
    json_array_add_double_element (a, (double) v[i]);
  json_node_take_array (node, a);
  return node;
}

JsonNode *
facet_model_config_to_json (const FacetModelConfig *c)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (c != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, CONFIG_FORMAT);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, CONFIG_VERSION);
  if (c->name != NULL)
    {
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, c->name);
    }
  if (c->dataset != NULL)
    {
      json_builder_set_member_name (b, "dataset");
      json_builder_add_string_value (b, c->dataset);
    }
#define INT_MEMBER(key, v)                                                                         \
  json_builder_set_member_name (b, key);                                                           \
  json_builder_add_int_value (b, v)
  INT_MEMBER ("image_size", c->image_size);
  INT_MEMBER ("patch_size", c->patch_size);
  INT_MEMBER ("in_chans", c->in_chans);
  INT_MEMBER ("dim", c->dim);
  INT_MEMBER ("depth", c->depth);
  INT_MEMBER ("heads", c->heads);
  INT_MEMBER ("mlp_hidden", c->mlp_hidden);
  INT_MEMBER ("n_subjects", c->n_subjects);
  if (c->decoder_dim > 0)
    {
      INT_MEMBER ("decoder_dim", c->decoder_dim);
      INT_MEMBER ("decoder_depth", c->decoder_depth);
      INT_MEMBER ("decoder_heads", c->decoder_heads);
    }
#undef INT_MEMBER
  json_builder_set_member_name (b, "ln_eps");
  json_builder_add_double_value (b, c->ln_eps);
  json_builder_set_member_name (b, "readout");
  json_builder_add_string_value (b, facet_readout_to_string (c->readout));
  json_builder_set_member_name (b, "aus");
  json_builder_begin_array (b);
  for (int i = 0; i < c->n_aus; i++)
    json_builder_add_int_value (b, c->au_ids[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "thresholds");
  json_builder_add_value (b, float_array (c->thresholds, c->n_aus));
  json_builder_set_member_name (b, "mean");
  json_builder_add_value (b, float_array (c->mean, 3));
  json_builder_set_member_name (b, "std");
  json_builder_add_value (b, float_array (c->std, 3));
  json_builder_set_member_name (b, "crop");
  json_builder_add_string_value (b, facet_crop_kind_to_string (c->crop));
  json_builder_set_member_name (b, "crop_margin");
  json_builder_add_double_value (b, c->crop_margin);
  json_builder_set_member_name (b, "align_template");
  json_builder_add_value (b, float_array (c->align_template, 10));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
facet_model_config_to_string (const FacetModelConfig *config)
{
  g_autoptr (JsonNode) node = facet_model_config_to_json (config);
  return json_to_string (node, FALSE);
}

#define JSON_FAIL(...)                                                                    \
  G_STMT_START                                                                            \
  {                                                                                       \
    g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT, __VA_ARGS__);      \
    return NULL;                                                                          \
  }                                                                                       \
  G_STMT_END

static gboolean
read_int (JsonObject *o,
          const char *key,
          int        *out,
          GError    **error)
{
  JsonNode *n = json_object_get_member (o, key);

  if (n == NULL)
    return TRUE; /* keep the default */
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64
      || json_node_get_int (n) < G_MININT || json_node_get_int (n) > G_MAXINT)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "model configuration: “%s” must be a whole number", key);
      return FALSE;
    }
  *out = (int) json_node_get_int (n);
  return TRUE;
}

static gboolean
read_number (JsonObject *o,
             const char *key,
             float      *out,
             GError    **error)
{
  JsonNode *n = json_object_get_member (o, key);

  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n)
      || (json_node_get_value_type (n) != G_TYPE_DOUBLE
          && json_node_get_value_type (n) != G_TYPE_INT64))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "model configuration: “%s” must be a number", key);
      return FALSE;
    }
  *out = (float) json_node_get_double (n);
  return TRUE;
}

static gboolean
read_numbers (JsonObject *o,
              const char *key,
              float      *out,
              int         n,
              GError    **error)
{
  JsonNode *node = json_object_get_member (o, key);
  JsonArray *a;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (a = json_node_get_array (node))
                                         != (guint) n)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "model configuration: “%s” must be a list of %d numbers", key, n);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (a, (guint) i);
      if (!JSON_NODE_HOLDS_VALUE (e)
          || (json_node_get_value_type (e) != G_TYPE_DOUBLE
              && json_node_get_value_type (e) != G_TYPE_INT64))
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                       "model configuration: item %d of “%s” is not a number", i + 1, key);
          return FALSE;
        }
      out[i] = (float) json_node_get_double (e);
    }
  return TRUE;
}

static const char *
read_string (JsonObject *o,
             const char *key)
{
  JsonNode *n = json_object_get_member (o, key);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

/**
 * facet_model_config_from_json:
 *
 * Reads a configuration written by facet_model_config_to_json(). A newer
 * format version is refused rather than half understood.
 */
FacetModelConfig *
facet_model_config_from_json (JsonNode *node,
                              GError  **error)
{
  g_autoptr (FacetModelConfig) c = facet_model_config_new ();
  JsonObject *o;
  JsonNode *aus;
  const char *s;
  int version = CONFIG_VERSION;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    JSON_FAIL ("model configuration is not a JSON object");
  o = json_node_get_object (node);

  if (g_strcmp0 (read_string (o, "format"), CONFIG_FORMAT) != 0)
    JSON_FAIL ("model configuration has no “format”: “%s”", CONFIG_FORMAT);
  if (!read_int (o, "version", &version, error))
    return NULL;
  if (version > CONFIG_VERSION)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "the model was written by a newer Facet (configuration version %d; this "
                   "Facet reads up to %d)", version, CONFIG_VERSION);
      return NULL;
    }

  if (!read_int (o, "image_size", &c->image_size, error)
      || !read_int (o, "patch_size", &c->patch_size, error)
      || !read_int (o, "in_chans", &c->in_chans, error)
      || !read_int (o, "dim", &c->dim, error) || !read_int (o, "depth", &c->depth, error)
      || !read_int (o, "heads", &c->heads, error)
      || !read_int (o, "mlp_hidden", &c->mlp_hidden, error)
      || !read_int (o, "n_subjects", &c->n_subjects, error)
      || !read_int (o, "decoder_dim", &c->decoder_dim, error)
      || !read_int (o, "decoder_depth", &c->decoder_depth, error)
      || !read_int (o, "decoder_heads", &c->decoder_heads, error)
      || !read_number (o, "ln_eps", &c->ln_eps, error)
      || !read_number (o, "crop_margin", &c->crop_margin, error)
      || !read_numbers (o, "mean", c->mean, 3, error)
      || !read_numbers (o, "std", c->std, 3, error)
      || !read_numbers (o, "align_template", c->align_template, 10, error))
    return NULL;

  c->name = g_strdup (read_string (o, "name"));
  c->dataset = g_strdup (read_string (o, "dataset"));

  if ((s = read_string (o, "readout")) != NULL)
    {
      if (g_str_equal (s, "global-pool"))
        c->readout = FACET_READOUT_GLOBAL_POOL;
      else if (g_str_equal (s, "cls-token"))
        c->readout = FACET_READOUT_CLS_TOKEN;
      else
        JSON_FAIL ("model configuration: unknown readout “%s”", s);
    }
  if ((s = read_string (o, "crop")) != NULL && !facet_crop_kind_from_string (s, &c->crop))
    JSON_FAIL ("model configuration: unknown crop “%s”", s);

  aus = json_object_get_member (o, "aus");
  if (aus != NULL)
    {
      JsonArray *a;
      g_autofree int *ids = NULL;
      guint n;

      if (!JSON_NODE_HOLDS_ARRAY (aus))
        JSON_FAIL ("model configuration: “aus” must be a list of AU numbers");
      a = json_node_get_array (aus);
      n = json_array_get_length (a);
      if (n > 256)
        JSON_FAIL ("model configuration: %u AUs is too many", n);
      ids = g_new (int, MAX (n, 1));
      for (guint i = 0; i < n; i++)
        {
          JsonNode *e = json_array_get_element (a, i);
          if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
            JSON_FAIL ("model configuration: item %u of “aus” is not a whole number", i + 1);
          ids[i] = (int) CLAMP (json_node_get_int (e), G_MININT, G_MAXINT);
        }
      facet_model_config_set_aus (c, ids, (int) n);
      if (!read_numbers (o, "thresholds", c->thresholds, (int) n, error))
        return NULL;
    }

  if (!facet_model_config_validate (c, error))
    return NULL;
  return g_steal_pointer (&c);
}

FacetModelConfig *
facet_model_config_from_string (const char *text,
                                GError    **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();

  g_return_val_if_fail (text != NULL, NULL);

  if (!json_parser_load_from_data (parser, text, -1, error))
    {
      if (error && *error)
        g_prefix_error (error, "model configuration: ");
      return NULL;
    }
  return facet_model_config_from_json (json_parser_get_root (parser), error);
}
