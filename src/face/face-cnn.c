/* face-cnn.c — FacetFaceCnn: face-api.js's tiny face detector on the CPU.
 *
 * The network (read from the package's TypeScript, src/tinyYolov2 and
 * src/tinyFaceDetector): the image padded right and bottom to a square,
 * resized bilinearly (TensorFlow's legacy sampling: source = destination *
 * in / out) to the input size, the mean RGB subtracted and divided by 255;
 * a 3x3 convolution without padding (3 -> 16 channels), then five times a
 * 2x2 max pool (stride 2, "same") and a depthwise separable block (3x3
 * depthwise with a 1-pixel zero border, 1x1 pointwise, bias: 16 -> 32 ->
 * ... -> 512 channels), a 2x2 max pool of stride 1, and a 1x1 convolution
 * to 25 channels; every layer but the last is followed by a leaky ReLU
 * (slope 0.1). Each output cell predicts five boxes around fixed anchors
 * (YOLO: centre = (cell + sigmoid) / cells, size = exp * anchor / cells,
 * score = sigmoid), and overlapping boxes are suppressed at IoU 0.4.
 *
 * Activations are kept channels-last, so every 1x1 convolution (and the
 * first one, after im2col) is one sgemm.
 */
#define G_LOG_DOMAIN "facet-face"

#include "config.h"

#include <cblas.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "face-cnn.h"

#define N_BLOCKS 5
#define FIRST_CHANNELS 16
#define LAST_CHANNELS 512
#define NMS_OVERLAP 0.4
#define LEAKY_SLOPE 0.1f

static const float anchors[5][2] = {
  { 1.603231f, 2.094468f }, { 6.041143f, 7.080126f }, { 2.882459f, 3.518061f },
  { 4.266906f, 5.178857f }, { 9.041765f, 10.66308f },
};
static const float mean_rgb[3] = { 117.001f, 114.697f, 97.404f };

/* The tensors the network needs, in the manifest's names and shapes. */
enum
{
  T_CONV0_FILTERS,
  T_CONV0_BIAS,
  T_BLOCK0, /* depthwise, pointwise, bias for each of the five blocks */
  T_CONV8_FILTERS = T_BLOCK0 + 3 * N_BLOCKS,
  T_CONV8_BIAS,
  N_TENSORS
};

typedef struct
{
  char  name[32];
  int   rank;
  int   shape[4];
  gsize n;
} TensorSpec;

struct _FacetFaceCnn
{
  float *values[N_TENSORS];
  float *storage;
};

static void
tensor_specs (TensorSpec specs[N_TENSORS])
{
  int c = FIRST_CHANNELS;

  memset (specs, 0, sizeof (TensorSpec) * N_TENSORS);
  specs[T_CONV0_FILTERS] = (TensorSpec) { "conv0/filters", 4, { 3, 3, 3, c }, 0 };
  specs[T_CONV0_BIAS] = (TensorSpec) { "conv0/bias", 1, { c }, 0 };
  for (int b = 0; b < N_BLOCKS; b++, c *= 2)
    {
      TensorSpec *s = &specs[T_BLOCK0 + 3 * b];

      g_snprintf (s[0].name, sizeof s[0].name, "conv%d/depthwise_filter", b + 1);
      s[0].rank = 4, s[0].shape[0] = 3, s[0].shape[1] = 3, s[0].shape[2] = c, s[0].shape[3] = 1;
      g_snprintf (s[1].name, sizeof s[1].name, "conv%d/pointwise_filter", b + 1);
      s[1].rank = 4, s[1].shape[0] = 1, s[1].shape[1] = 1, s[1].shape[2] = c;
      s[1].shape[3] = 2 * c;
      g_snprintf (s[2].name, sizeof s[2].name, "conv%d/bias", b + 1);
      s[2].rank = 1, s[2].shape[0] = 2 * c;
    }
  specs[T_CONV8_FILTERS]
    = (TensorSpec) { "conv8/filters", 4, { 1, 1, LAST_CHANNELS, FACET_FACE_CNN_OUT_CHANNELS }, 0 };
  specs[T_CONV8_BIAS] = (TensorSpec) { "conv8/bias", 1, { FACET_FACE_CNN_OUT_CHANNELS }, 0 };
  for (int t = 0; t < N_TENSORS; t++)
    {
      specs[t].n = 1;
      for (int d = 0; d < specs[t].rank; d++)
        specs[t].n *= (gsize) specs[t].shape[d];
    }
}

void
facet_face_cnn_free (FacetFaceCnn *cnn)
{
  if (cnn == NULL)
    return;
  g_free (cnn->storage);
  g_free (cnn);
}

/* ---- the manifest ------------------------------------------------------ */

typedef struct
{
  const char *name;   /* file name for errors */
  gsize       offset; /* of the next tensor in the concatenated weights */
  const guint8 *weights;
  gsize       weights_len;
} ParseState;

static gboolean
fail (GError    **error,
      const char *name,
      const char *what)
{
  g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL, "%s: %s", name, what);
  return FALSE;
}

/* The shape of @entry as written; FALSE when it is not a list of 1..4
 * positive integers whose product fits. */
static gboolean
read_shape (JsonObject *entry,
            int         shape[4],
            int        *rank,
            gsize      *n)
{
  JsonNode *node = json_object_get_member (entry, "shape");
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  array = json_node_get_array (node);
  *rank = (int) json_array_get_length (array);
  if (*rank < 1 || *rank > 4)
    return FALSE;
  *n = 1;
  for (int d = 0; d < *rank; d++)
    {
      JsonNode *dim = json_array_get_element (array, (guint) d);
      gint64 v;

      if (!JSON_NODE_HOLDS_VALUE (dim) || json_node_get_value_type (dim) != G_TYPE_INT64)
        return FALSE;
      v = json_node_get_int (dim);
      if (v < 1 || v > 65536)
        return FALSE;
      shape[d] = (int) v;
      *n *= (gsize) v;
      if (*n > (gsize) 1 << 28)
        return FALSE;
    }
  return TRUE;
}

/* A string member, or @fallback when it is absent or not a string (json-glib's
 * own accessor is critical about objects and lists). */
static const char *
get_string (JsonObject *object,
            const char *key,
            const char *fallback)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return fallback;
  return json_node_get_string (node);
}

static gboolean
read_number (JsonObject *object,
             const char *key,
             double     *value)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (json_node_get_value_type (node) != G_TYPE_DOUBLE
      && json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_double (node);
  return isfinite (*value);
}

/* Decodes one manifest entry (float32, or quantised to uint8/uint16 as
 * tfjs writes them: value = q * scale + min) into @out when @out is not
 * NULL; always advances the offset past its bytes. */
static gboolean
read_entry (ParseState *state,
            JsonObject *entry,
            const char *key,
            gsize       n,
            float      *out,
            GError    **error)
{
  JsonObject *quant = NULL;
  const char *dtype = get_string (entry, "dtype", "");
  const char *qtype = "float32";
  double scale = 1.0, min = 0.0;
  gsize bytes;

  if (g_strcmp0 (dtype, "float32") != 0)
    {
      g_autofree char *msg = g_strdup_printf ("%s has dtype \"%s\", float32 is expected", key,
                                              dtype);
      return fail (error, state->name, msg);
    }
  if (json_object_has_member (entry, "quantization"))
    {
      JsonNode *q = json_object_get_member (entry, "quantization");

      quant = JSON_NODE_HOLDS_OBJECT (q) ? json_node_get_object (q) : NULL;
      qtype = quant ? get_string (quant, "dtype", "") : "";
      if (quant == NULL || !read_number (quant, "scale", &scale) || !read_number (quant, "min", &min)
          || (strcmp (qtype, "uint8") != 0 && strcmp (qtype, "uint16") != 0))
        {
          g_autofree char *msg = g_strdup_printf (
            "%s: the quantization needs dtype uint8 or uint16, a scale and a min", key);
          return fail (error, state->name, msg);
        }
    }
  bytes = n * (strcmp (qtype, "uint8") == 0 ? 1 : strcmp (qtype, "uint16") == 0 ? 2 : 4);
  if (bytes > state->weights_len - state->offset)
    {
      g_autofree char *msg = g_strdup_printf (
        "the weights end at byte %" G_GSIZE_FORMAT " but %s needs bytes %" G_GSIZE_FORMAT
        "-%" G_GSIZE_FORMAT " (truncated weight file?)", state->weights_len, key, state->offset,
        state->offset + bytes);
      return fail (error, state->name, msg);
    }
  if (out != NULL)
    {
      const guint8 *p = state->weights + state->offset;

      for (gsize i = 0; i < n; i++)
        {
          if (strcmp (qtype, "uint8") == 0)
            out[i] = (float) (p[i] * scale + min);
          else if (strcmp (qtype, "uint16") == 0)
            out[i] = (float) ((p[2 * i] | p[2 * i + 1] << 8) * scale + min);
          else
            {
              guint32 bits = (guint32) p[4 * i] | (guint32) p[4 * i + 1] << 8
                             | (guint32) p[4 * i + 2] << 16 | (guint32) p[4 * i + 3] << 24;
              memcpy (&out[i], &bits, 4);
            }
          if (!isfinite (out[i]))
            {
              g_autofree char *msg = g_strdup_printf ("%s holds a value that is not finite", key);
              return fail (error, state->name, msg);
            }
        }
    }
  state->offset += bytes;
  return TRUE;
}

/* One entry of a group's "weights": checked against the network's table
 * and decoded into @cnn when the network uses it. */
static gboolean
parse_entry (ParseState       *state,
             JsonNode         *node,
             const TensorSpec *specs,
             FacetFaceCnn     *cnn,
             GError          **error)
{
  JsonObject *entry = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  const char *key = entry ? get_string (entry, "name", NULL) : NULL;
  int shape[4], rank, t;
  gsize n;

  if (key == NULL)
    return fail (error, state->name, "a weight entry without a name");
  if (!read_shape (entry, shape, &rank, &n))
    {
      g_autofree char *msg = g_strdup_printf ("%s: the shape is not a list of 1 to 4 sizes", key);
      return fail (error, state->name, msg);
    }
  for (t = 0; t < N_TENSORS && strcmp (specs[t].name, key) != 0; t++)
    ;
  if (t < N_TENSORS)
    {
      if (cnn->values[t] != NULL)
        {
          g_autofree char *msg = g_strdup_printf ("%s appears twice", key);
          return fail (error, state->name, msg);
        }
      if (rank != specs[t].rank || memcmp (shape, specs[t].shape, sizeof (int) * rank) != 0)
        {
          g_autofree char *msg = g_strdup_printf (
            "%s has shape [%d, %d, %d, %d] (rank %d), the network needs [%d, %d, %d, %d]", key,
            shape[0], rank > 1 ? shape[1] : 0, rank > 2 ? shape[2] : 0, rank > 3 ? shape[3] : 0,
            rank, specs[t].shape[0], specs[t].shape[1], specs[t].shape[2], specs[t].shape[3]);
          return fail (error, state->name, msg);
        }
      cnn->values[t] = cnn->storage;
      for (int u = 0; u < t; u++)
        cnn->values[t] += specs[u].n;
    }
  /* Entries the network does not use are skipped over. */
  return read_entry (state, entry, key, n, t < N_TENSORS ? cnn->values[t] : NULL, error);
}

static gboolean
parse_manifest (JsonNode         *root,
                ParseState       *state,
                const TensorSpec *specs,
                FacetFaceCnn     *cnn,
                GError          **error)
{
  JsonArray *groups;

  if (!JSON_NODE_HOLDS_ARRAY (root) || json_array_get_length (json_node_get_array (root)) == 0)
    return fail (error, state->name, "not a tfjs weights manifest (a list of weight groups)");
  groups = json_node_get_array (root);
  for (guint g = 0; g < json_array_get_length (groups); g++)
    {
      JsonNode *group = json_array_get_element (groups, g);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (group) ? json_node_get_object (group) : NULL;
      JsonNode *weights = object ? json_object_get_member (object, "weights") : NULL;

      if (weights == NULL || !JSON_NODE_HOLDS_ARRAY (weights))
        return fail (error, state->name, "a weight group without a \"weights\" list");
      for (guint i = 0; i < json_array_get_length (json_node_get_array (weights)); i++)
        if (!parse_entry (state, json_array_get_element (json_node_get_array (weights), i), specs,
                          cnn, error))
          return FALSE;
    }
  for (int t = 0; t < N_TENSORS; t++)
    if (cnn->values[t] == NULL)
      {
        g_autofree char *msg = g_strdup_printf ("no weight named %s", specs[t].name);
        return fail (error, state->name, msg);
      }
  if (state->offset != state->weights_len)
    {
      g_autofree char *msg = g_strdup_printf (
        "the weights hold %" G_GSIZE_FORMAT " bytes, the manifest describes %" G_GSIZE_FORMAT,
        state->weights_len, state->offset);
      return fail (error, state->name, msg);
    }
  return TRUE;
}

/**
 * facet_face_cnn_new_from_data:
 *
 * Builds the network from a tfjs weights manifest (JSON) and its weight
 * bytes. Returns NULL with FACET_FACE_ERROR_MODEL naming @name and the key
 * when the manifest is malformed, a tensor is missing or misshapen, or the
 * weights are shorter or longer than the manifest says.
 */
FacetFaceCnn *
facet_face_cnn_new_from_data (const char   *manifest,
                              gsize         manifest_len,
                              const guint8 *weights,
                              gsize         weights_len,
                              const char   *name,
                              GError      **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (FacetFaceCnn) cnn = g_new0 (FacetFaceCnn, 1);
  g_autoptr (GError) json_error = NULL;
  TensorSpec specs[N_TENSORS];
  ParseState state = { name ? name : "face detector", 0, weights, weights_len };
  gsize total = 0;

  g_return_val_if_fail (manifest != NULL || manifest_len == 0, NULL);
  g_return_val_if_fail (weights != NULL || weights_len == 0, NULL);

  tensor_specs (specs);
  for (int t = 0; t < N_TENSORS; t++)
    total += specs[t].n;
  cnn->storage = g_new0 (float, total);
  if (!json_parser_load_from_data (parser, manifest, (gssize) manifest_len, &json_error))
    {
      g_autofree char *msg = g_strdup_printf ("not JSON (%s)", json_error->message);
      fail (error, state.name, msg);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      fail (error, state.name, "an empty manifest");
      return NULL;
    }
  if (!parse_manifest (json_parser_get_root (parser), &state, specs, cnn, error))
    return NULL;
  return g_steal_pointer (&cnn);
}

/* The weight files a manifest names, concatenated in its order; only
 * plain file names in the manifest's own folder are accepted. */
static GByteArray *
read_weight_files (const char *manifest_path,
                   JsonNode   *root,
                   GError    **error)
{
  g_autoptr (GByteArray) all = g_byte_array_new ();
  g_autofree char *dir = g_path_get_dirname (manifest_path);
  JsonArray *groups = JSON_NODE_HOLDS_ARRAY (root) ? json_node_get_array (root) : NULL;

  for (guint g = 0; groups != NULL && g < json_array_get_length (groups); g++)
    {
      JsonNode *group = json_array_get_element (groups, g);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (group) ? json_node_get_object (group) : NULL;
      JsonNode *paths = object ? json_object_get_member (object, "paths") : NULL;

      if (paths == NULL || !JSON_NODE_HOLDS_ARRAY (paths))
        {
          fail (error, manifest_path, "a weight group without a \"paths\" list");
          return NULL;
        }
      for (guint i = 0; i < json_array_get_length (json_node_get_array (paths)); i++)
        {
          JsonNode *p = json_array_get_element (json_node_get_array (paths), i);
          const char *file = JSON_NODE_HOLDS_VALUE (p) ? json_node_get_string (p) : NULL;
          g_autofree char *path = NULL;
          g_autofree char *data = NULL;
          g_autoptr (GError) local = NULL;
          gsize len;

          if (file == NULL || *file == '\0' || strchr (file, '/') != NULL
              || strcmp (file, "..") == 0 || strcmp (file, ".") == 0)
            {
              fail (error, manifest_path, "a weight path that is not a plain file name");
              return NULL;
            }
          path = g_build_filename (dir, file, NULL);
          if (!g_file_get_contents (path, &data, &len, &local))
            {
              g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL,
                           "%s: the weight file of the face detector cannot be read (%s)", path,
                           local->message);
              return NULL;
            }
          g_byte_array_append (all, (const guint8 *) data, (guint) len);
        }
    }
  return g_steal_pointer (&all);
}

/**
 * facet_face_cnn_load:
 *
 * Loads the detector from its tfjs manifest and weight files (read once).
 */
FacetFaceCnn *
facet_face_cnn_load (const char  *manifest_path,
                     GError     **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GByteArray) weights = NULL;
  g_autofree char *name = NULL;
  gsize len;

  g_return_val_if_fail (manifest_path != NULL, NULL);

  if (!g_file_get_contents (manifest_path, &text, &len, &local))
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL,
                   "%s: the face detector's manifest cannot be read (%s)", manifest_path,
                   local->message);
      return NULL;
    }
  /* The paths first (errors name the manifest), then everything else. */
  if (json_parser_load_from_data (parser, text, (gssize) len, NULL)
      && json_parser_get_root (parser) != NULL)
    {
      weights = read_weight_files (manifest_path, json_parser_get_root (parser), error);
      if (weights == NULL)
        return NULL;
    }
  else
    weights = g_byte_array_new ();
  name = g_strdup_printf ("%s (and its weight file)", manifest_path);
  return facet_face_cnn_new_from_data (text, len, weights->data, weights->len, name, error);
}

/* ---- the network ------------------------------------------------------- */

static inline float
leaky (float v)
{
  return v > 0.0f ? v : LEAKY_SLOPE * v;
}

/* The network input, channels last: @image padded right and bottom with
 * black to a square, resized as TensorFlow's legacy bilinear sampling does
 * (source = destination * side / size, the last row and column repeated),
 * centred on the mean RGB and divided by 255. */
static float *
prepare_input (const FacetImage *image,
               int               size)
{
  int side = MAX (image->width, image->height);
  float *x = g_new (float, (gsize) size * size * 3);
  double step = (double) side / size;

  for (int oy = 0; oy < size; oy++)
    {
      double sy = oy * step, fy;
      int y0 = (int) floor (sy), y1 = MIN (y0 + 1, side - 1);

      fy = sy - y0;
      for (int ox = 0; ox < size; ox++)
        {
          double sx = ox * step, fx;
          int x0 = (int) floor (sx), x1 = MIN (x0 + 1, side - 1);
          const int ys[2] = { y0, y1 }, xs[2] = { x0, x1 };

          fx = sx - x0;
          for (int c = 0; c < 3; c++)
            {
              double v[2][2];

              for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                  v[a][b] = ys[a] < image->height && xs[b] < image->width
                              ? image->data[(gsize) ys[a] * image->stride + 3 * xs[b] + c]
                              : 0.0;
              x[((gsize) oy * size + ox) * 3 + c]
                = (float) ((((v[0][0] * (1 - fx) + v[0][1] * fx) * (1 - fy)
                             + (v[1][0] * (1 - fx) + v[1][1] * fx) * fy)
                            - mean_rgb[c])
                           / 255.0);
            }
        }
    }
  return x;
}

/* out[m x n] = leaky?(a[m x k] * b[k x n] + bias) */
static void
matmul_bias (const float *a,
             const float *b,
             const float *bias,
             float       *out,
             int          m,
             int          k,
             int          n,
             gboolean     activate)
{
  for (int i = 0; i < m; i++)
    memcpy (out + (gsize) i * n, bias, sizeof (float) * n);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 1.0f, out, n);
  if (activate)
    for (gsize i = 0; i < (gsize) m * n; i++)
      out[i] = leaky (out[i]);
}

/* The first layer: 3x3, no padding, 3 -> 16 channels, as one sgemm over
 * the image's 3x3 patches. */
static float *
first_conv (const FacetFaceCnn *cnn,
            const float        *x,
            int                 size,
            int                *out_side)
{
  int side = size - 2;
  g_autofree float *cols = g_new (float, (gsize) side * side * 27);
  float *out = g_new (float, (gsize) side * side * FIRST_CHANNELS);

  for (int y = 0; y < side; y++)
    for (int xx = 0; xx < side; xx++)
      {
        float *col = cols + ((gsize) y * side + xx) * 27;

        for (int ky = 0; ky < 3; ky++)
          memcpy (col + ky * 9, x + ((gsize) (y + ky) * size + xx) * 3, sizeof (float) * 9);
      }
  matmul_bias (cols, cnn->values[T_CONV0_FILTERS], cnn->values[T_CONV0_BIAS], out, side * side,
               27, FIRST_CHANNELS, TRUE);
  *out_side = side;
  return out;
}

/* 2x2 max pool, "same": windows start at multiples of @stride, cut at the
 * far edges. */
static float *
max_pool (const float *x,
          int          side,
          int          channels,
          int          stride,
          int         *out_side)
{
  int o = (side + stride - 1) / stride;
  float *out = g_new (float, (gsize) o * o * channels);

  for (int y = 0; y < o; y++)
    for (int xx = 0; xx < o; xx++)
      {
        float *dst = out + ((gsize) y * o + xx) * channels;
        int y0 = y * stride, x0 = xx * stride;
        int y1 = MIN (y0 + 1, side - 1), x1 = MIN (x0 + 1, side - 1);
        const float *p00 = x + ((gsize) y0 * side + x0) * channels;
        const float *p01 = x + ((gsize) y0 * side + x1) * channels;
        const float *p10 = x + ((gsize) y1 * side + x0) * channels;
        const float *p11 = x + ((gsize) y1 * side + x1) * channels;

        for (int c = 0; c < channels; c++)
          dst[c] = MAX (MAX (p00[c], p01[c]), MAX (p10[c], p11[c]));
      }
  *out_side = o;
  return out;
}

/* One separable block: 3x3 depthwise (zero border of 1), then 1x1 to
 * twice the channels with bias and leaky ReLU. */
static float *
separable_block (const FacetFaceCnn *cnn,
                 int                 block,
                 const float        *x,
                 int                 side,
                 int                 channels)
{
  const float *dw = cnn->values[T_BLOCK0 + 3 * block];
  g_autofree float *depth = g_new0 (float, (gsize) side * side * channels);
  float *out = g_new (float, (gsize) side * side * 2 * channels);

  for (int y = 0; y < side; y++)
    for (int xx = 0; xx < side; xx++)
      {
        float *dst = depth + ((gsize) y * side + xx) * channels;

        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++)
            {
              int sy = y + ky - 1, sx = xx + kx - 1;
              const float *src, *w;

              if (sy < 0 || sy >= side || sx < 0 || sx >= side)
                continue;
              src = x + ((gsize) sy * side + sx) * channels;
              w = dw + (ky * 3 + kx) * channels;
              for (int c = 0; c < channels; c++)
                dst[c] += src[c] * w[c];
            }
      }
  matmul_bias (depth, cnn->values[T_BLOCK0 + 3 * block + 1], cnn->values[T_BLOCK0 + 3 * block + 2],
               out, side * side, channels, 2 * channels, TRUE);
  return out;
}

float *
facet_face_cnn_forward (FacetFaceCnn     *cnn,
                        const FacetImage *image,
                        int               input_size,
                        int              *n_cells)
{
  float *x, *next;
  int side, channels = FIRST_CHANNELS;

  g_return_val_if_fail (cnn != NULL && image != NULL && image->width > 0 && image->height > 0, NULL);
  g_return_val_if_fail (input_size >= 64 && input_size <= 1024 && input_size % 32 == 0, NULL);

  next = prepare_input (image, input_size);
  x = first_conv (cnn, next, input_size, &side);
  g_free (next);
  for (int b = 0; b < N_BLOCKS; b++, channels *= 2)
    {
      next = max_pool (x, side, channels, 2, &side);
      g_free (x);
      x = separable_block (cnn, b, next, side, channels);
      g_free (next);
    }
  next = max_pool (x, side, channels, 1, &side);
  g_free (x);
  x = g_new (float, (gsize) side * side * FACET_FACE_CNN_OUT_CHANNELS);
  matmul_bias (next, cnn->values[T_CONV8_FILTERS], cnn->values[T_CONV8_BIAS], x, side * side,
               LAST_CHANNELS, FACET_FACE_CNN_OUT_CHANNELS, FALSE);
  g_free (next);
  *n_cells = side;
  return x;
}

/* ---- boxes ------------------------------------------------------------- */

static double
sigmoid (double v)
{
  return 1.0 / (1.0 + exp (-v));
}

static double
overlap (const FacetFace *a,
         const FacetFace *b)
{
  double ix = MIN (a->x + a->width, b->x + b->width) - MAX (a->x, b->x);
  double iy = MIN (a->y + a->height, b->y + b->height) - MAX (a->y, b->y);
  double inter = MAX (ix, 0.0) * MAX (iy, 0.0);
  double uni = a->width * a->height + b->width * b->height - inter;

  return uni > 0.0 ? inter / uni : 0.0;
}

static gint
compare_score (gconstpointer a,
               gconstpointer b)
{
  const FacetFace *fa = a, *fb = b;

  return fa->score > fb->score ? -1 : fa->score < fb->score ? 1 : 0;
}

void
facet_face_cnn_detect (FacetFaceCnn     *cnn,
                       const FacetImage *image,
                       int               input_size,
                       double            threshold,
                       GArray           *faces)
{
  g_autoptr (GArray) boxes = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  g_autofree float *out = NULL;
  double side = MAX (image->width, image->height);
  int n;

  g_return_if_fail (faces != NULL);

  out = facet_face_cnn_forward (cnn, image, input_size, &n);
  g_return_if_fail (out != NULL);
  for (int cell = 0; cell < n * n; cell++)
    for (int a = 0; a < 5; a++)
      {
        const float *o = out + (gsize) cell * FACET_FACE_CNN_OUT_CHANNELS + 5 * a;
        double score = sigmoid (o[4]), cx, cy, w, h;
        FacetFace face = { 0 };

        if (score < threshold)
          continue;
        cx = (cell % n + sigmoid (o[0])) / n * side;
        cy = (cell / n + sigmoid (o[1])) / n * side;
        w = exp (MIN (o[2], 10.0f)) * anchors[a][0] / n * side;
        h = exp (MIN (o[3], 10.0f)) * anchors[a][1] / n * side;
        face.x = (float) (cx - w / 2), face.y = (float) (cy - h / 2);
        face.width = (float) w, face.height = (float) h;
        face.score = (float) score;
        g_array_append_val (boxes, face);
      }
  g_array_sort (boxes, compare_score);
  for (guint i = 0; i < boxes->len; i++)
    {
      const FacetFace *b = &g_array_index (boxes, FacetFace, i);
      gboolean keep = TRUE;

      for (guint j = 0; j < i && keep; j++)
        if (g_array_index (boxes, FacetFace, j).score >= 0.0f
            && overlap (b, &g_array_index (boxes, FacetFace, j)) > NMS_OVERLAP)
          keep = FALSE;
      if (keep)
        g_array_append_val (faces, *b);
      else
        g_array_index (boxes, FacetFace, i).score = -1.0f; /* suppressed: suppresses no other */
    }
}
