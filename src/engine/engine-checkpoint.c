/* engine-checkpoint.c — safetensors and PyTorch checkpoint files
 *
 * safetensors: 8-byte little-endian header length, a JSON header, then the
 * raw tensor bytes; the file is mapped and tensors point into the mapping.
 *
 * PyTorch .pth, zip layout (torch >= 1.6): an uncompressed zip whose single
 * top folder holds data.pkl (the pickled object, tensors as persistent ids)
 * and data/<key> (one entry per storage), read with libzip.
 *
 * PyTorch .pth, legacy layout: five pickles back to back (magic number,
 * protocol version, system info, the object, the storage keys), then each
 * storage as an int64 element count and its bytes.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <zip.h>

#include "engine-checkpoint.h"
#include "engine-error.h"

#define MAX_HEADER   (100u << 20) /* safetensors header */
#define MAX_PICKLE   (1u << 30)   /* data.pkl */
#define MAX_TREE     64           /* nesting followed when looking for storages */

/* The legacy torch.save magic number, 0x1950a86a20f9469cfc6c, little-endian. */
static const guint8 legacy_magic[] = { 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19 };

FacetCheckpoint *
facet_checkpoint_new (FacetModelFormat format)
{
  FacetCheckpoint *c = g_new0 (FacetCheckpoint, 1);

  c->format = format;
  c->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_tensor_free);
  c->notes = g_ptr_array_new_with_free_func (g_free);
  return c;
}

void
facet_checkpoint_free (FacetCheckpoint *checkpoint)
{
  if (checkpoint == NULL)
    return;
  g_ptr_array_unref (checkpoint->tensors);
  g_ptr_array_unref (checkpoint->notes);
  g_clear_pointer (&checkpoint->metadata, g_hash_table_unref);
  g_free (checkpoint->extras);
  g_free (checkpoint);
}

void
facet_safetensors_entry_free (gpointer data)
{
  FacetSafetensorsEntry *e = data;

  g_free (e->name);
  g_free (e);
}

/* safetensors --------------------------------------------------------------- */

#define HEADER_FAIL(...)                                                                   \
  G_STMT_START                                                                             \
  {                                                                                        \
    g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT, __VA_ARGS__);       \
    return FALSE;                                                                          \
  }                                                                                        \
  G_STMT_END

static gboolean
json_uint (JsonNode *n,
           guint64  *out)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64
      || json_node_get_int (n) < 0)
    return FALSE;
  *out = (guint64) json_node_get_int (n);
  return TRUE;
}

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const FacetSafetensorsEntry *x = *(FacetSafetensorsEntry * const *) a;
  const FacetSafetensorsEntry *y = *(FacetSafetensorsEntry * const *) b;

  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return g_strcmp0 (x->name, y->name);
}

gboolean
facet_safetensors_parse_header (const guint8 *header,
                                gsize         header_len,
                                guint64       data_size,
                                const char   *name,
                                GPtrArray   **entries_out,
                                GHashTable  **metadata_out,
                                GError      **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GHashTable) metadata = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GList) members = NULL;
  JsonObject *root;

  if (!g_utf8_validate_len ((const char *) header, header_len, NULL))
    HEADER_FAIL ("%s: safetensors header is not valid UTF-8", name);
  if (!json_parser_load_from_data (parser, (const char *) header, (gssize) header_len, &local))
    HEADER_FAIL ("%s: safetensors header is not valid JSON (%s)", name, local->message);
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    HEADER_FAIL ("%s: safetensors header is not a JSON object", name);
  root = json_node_get_object (json_parser_get_root (parser));

  entries = g_ptr_array_new_with_free_func (facet_safetensors_entry_free);
  metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *node = json_object_get_member (root, key);
      JsonObject *o;
      JsonNode *n;
      JsonArray *shape, *offsets;
      g_autofree FacetSafetensorsEntry *e = NULL;
      guint64 numel = 1;

      if (g_str_equal (key, "__metadata__"))
        {
          g_autoptr (GList) mkeys = NULL;
          if (!JSON_NODE_HOLDS_OBJECT (node))
            HEADER_FAIL ("%s: __metadata__ is not an object", name);
          mkeys = json_object_get_members (json_node_get_object (node));
          for (GList *m = mkeys; m != NULL; m = m->next)
            {
              JsonNode *v = json_object_get_member (json_node_get_object (node), m->data);
              if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
                HEADER_FAIL ("%s: __metadata__ value “%s” is not a string", name,
                             (const char *) m->data);
              g_hash_table_insert (metadata, g_strdup (m->data),
                                   g_strdup (json_node_get_string (v)));
            }
          continue;
        }

      if (!JSON_NODE_HOLDS_OBJECT (node))
        HEADER_FAIL ("%s: entry “%s” is not an object", name, key);
      o = json_node_get_object (node);
      e = g_new0 (FacetSafetensorsEntry, 1);

      n = json_object_get_member (o, "dtype");
      if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
        HEADER_FAIL ("%s: tensor “%s” has no dtype", name, key);
      if (!facet_dtype_from_string (json_node_get_string (n), &e->dtype))
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                       "%s: tensor “%s” has unsupported dtype “%s”", name, key,
                       json_node_get_string (n));
          return FALSE;
        }

      n = json_object_get_member (o, "shape");
      if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n)
          || json_array_get_length (shape = json_node_get_array (n)) > FACET_TENSOR_MAX_DIMS)
        HEADER_FAIL ("%s: tensor “%s” has no valid shape", name, key);
      e->ndim = (int) json_array_get_length (shape);
      for (int i = 0; i < e->ndim; i++)
        {
          guint64 d;
          if (!json_uint (json_array_get_element (shape, (guint) i), &d) || d > G_MAXINT32)
            HEADER_FAIL ("%s: tensor “%s” has an invalid size in its shape", name, key);
          e->shape[i] = (gint64) d;
          if (d != 0 && numel > G_MAXUINT64 / 16 / d)
            HEADER_FAIL ("%s: tensor “%s” is impossibly large", name, key);
          numel *= d;
        }

      n = json_object_get_member (o, "data_offsets");
      if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n)
          || json_array_get_length (offsets = json_node_get_array (n)) != 2
          || !json_uint (json_array_get_element (offsets, 0), &e->begin)
          || !json_uint (json_array_get_element (offsets, 1), &e->end))
        HEADER_FAIL ("%s: tensor “%s” has no valid data_offsets", name, key);
      if (e->begin > e->end || e->end > data_size)
        HEADER_FAIL ("%s: tensor “%s” lies outside the file (bytes %" G_GUINT64_FORMAT "-%"
                     G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT "); the file may be truncated",
                     name, key, e->begin, e->end, data_size);
      if (e->end - e->begin != numel * facet_dtype_size (e->dtype))
        HEADER_FAIL ("%s: tensor “%s” has %" G_GUINT64_FORMAT " bytes but its shape needs %"
                     G_GUINT64_FORMAT, name, key, e->end - e->begin,
                     numel * (guint64) facet_dtype_size (e->dtype));
      e->name = g_strdup (key);
      g_ptr_array_add (entries, g_steal_pointer (&e));
    }

  /* Keep the file's order (by data offset) so that listings read naturally. */
  g_ptr_array_sort (entries, compare_entries);

  if (entries_out)
    *entries_out = g_steal_pointer (&entries);
  if (metadata_out)
    *metadata_out = g_steal_pointer (&metadata);
  return TRUE;
}

FacetCheckpoint *
facet_checkpoint_read_safetensors (const char *path,
                                   GError    **error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (FacetCheckpoint) ckpt = NULL;
  GHashTable *metadata = NULL;
  const guint8 *data;
  gsize size;
  guint64 header_len = 0;

  mapped = g_mapped_file_new (path, FALSE, error);
  if (mapped == NULL)
    return NULL;
  bytes = g_mapped_file_get_bytes (mapped);
  data = g_bytes_get_data (bytes, &size);

  if (size < 8)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: too short for a safetensors file (%" G_GSIZE_FORMAT " bytes)", path, size);
      return NULL;
    }
  for (int i = 0; i < 8; i++)
    header_len |= (guint64) data[i] << (8 * i);
  if (header_len < 2 || header_len > MAX_HEADER || header_len > size - 8)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: not a safetensors file, or truncated (header of %" G_GUINT64_FORMAT
                   " bytes in a file of %" G_GSIZE_FORMAT ")", path, header_len, size);
      return NULL;
    }
  if (!facet_safetensors_parse_header (data + 8, (gsize) header_len, size - 8 - header_len, path,
                                       &entries, &metadata, error))
    return NULL;

  ckpt = facet_checkpoint_new (FACET_MODEL_FORMAT_SAFETENSORS);
  ckpt->metadata = metadata;
  for (guint i = 0; i < entries->len; i++)
    {
      FacetSafetensorsEntry *e = g_ptr_array_index (entries, i);
      g_ptr_array_add (ckpt->tensors,
                       facet_tensor_new (e->name, e->dtype, e->ndim, e->shape, bytes,
                                         8 + (gsize) header_len + (gsize) e->begin));
    }
  return g_steal_pointer (&ckpt);
}

/**
 * facet_safetensors_write:
 *
 * Writes tensors and string metadata; the header is padded with spaces to a
 * multiple of 8 bytes so the data that follows is aligned when mapped. The
 * file is replaced atomically.
 */
gboolean
facet_safetensors_write (const char *path,
                         GPtrArray  *tensors,
                         GHashTable *metadata,
                         GError    **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GFile) file = NULL;
  g_autoptr (GFileOutputStream) out = NULL;
  g_autofree char *header = NULL;
  GString *padded;
  guint64 offset = 0;
  guint8 len_le[8];
  gboolean ok;

  json_builder_begin_object (b);
  if (metadata != NULL && g_hash_table_size (metadata) > 0)
    {
      g_autoptr (GList) keys = g_list_sort (g_hash_table_get_keys (metadata),
                                            (GCompareFunc) g_strcmp0);
      json_builder_set_member_name (b, "__metadata__");
      json_builder_begin_object (b);
      for (GList *l = keys; l != NULL; l = l->next)
        {
          json_builder_set_member_name (b, l->data);
          json_builder_add_string_value (b, g_hash_table_lookup (metadata, l->data));
        }
      json_builder_end_object (b);
    }
  for (guint i = 0; i < tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (tensors, i);
      gsize nbytes = facet_tensor_nbytes (t);

      json_builder_set_member_name (b, t->name);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dtype");
      json_builder_add_string_value (b, facet_dtype_to_string (t->dtype));
      json_builder_set_member_name (b, "shape");
      json_builder_begin_array (b);
      for (int d = 0; d < t->ndim; d++)
        json_builder_add_int_value (b, t->shape[d]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "data_offsets");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, (gint64) offset);
      json_builder_add_int_value (b, (gint64) (offset + nbytes));
      json_builder_end_array (b);
      json_builder_end_object (b);
      offset += nbytes;
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  header = json_to_string (root, FALSE);

  padded = g_string_new (header);
  while (padded->len % 8 != 0)
    g_string_append_c (padded, ' ');
  for (int i = 0; i < 8; i++)
    len_le[i] = (guint8) ((guint64) padded->len >> (8 * i));

  file = g_file_new_for_path (path);
  out = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, NULL, error);
  if (out == NULL)
    {
      g_string_free (padded, TRUE);
      return FALSE;
    }
  ok = g_output_stream_write_all (G_OUTPUT_STREAM (out), len_le, 8, NULL, NULL, error)
       && g_output_stream_write_all (G_OUTPUT_STREAM (out), padded->str, padded->len, NULL, NULL,
                                     error);
  g_string_free (padded, TRUE);
  for (guint i = 0; ok && i < tensors->len; i++)
    {
      FacetTensor *t = g_ptr_array_index (tensors, i);
      ok = g_output_stream_write_all (G_OUTPUT_STREAM (out), t->data, facet_tensor_nbytes (t),
                                      NULL, NULL, error);
    }
  if (!ok)
    {
      /* Closing after an error would still rename the partial file in place. */
      g_autoptr (GCancellable) cancel = g_cancellable_new ();
      g_cancellable_cancel (cancel);
      g_output_stream_close (G_OUTPUT_STREAM (out), cancel, NULL);
      return FALSE;
    }
  return g_output_stream_close (G_OUTPUT_STREAM (out), NULL, error);
}

/* PyTorch ------------------------------------------------------------------- */

static void
collect_storages (FacetPickleValue *v,
                  GHashTable       *seen,
                  GHashTable       *storages,
                  int               depth)
{
  if (v == NULL || depth > MAX_TREE || g_hash_table_contains (seen, v))
    return;
  g_hash_table_add (seen, v);

  switch (v->kind)
    {
    case FACET_PICKLE_STORAGE:
      g_hash_table_insert (storages, v->storage.key, v);
      break;
    case FACET_PICKLE_TENSOR:
      collect_storages (v->tensor.storage, seen, storages, depth + 1);
      break;
    case FACET_PICKLE_TUPLE:
    case FACET_PICKLE_LIST:
    case FACET_PICKLE_SET:
    case FACET_PICKLE_DICT:
      for (guint i = 0; i < v->items->len; i++)
        collect_storages (g_ptr_array_index (v->items, i), seen, storages, depth + 1);
      break;
    case FACET_PICKLE_OBJECT:
      collect_storages (v->obj.args, seen, storages, depth + 1);
      collect_storages (v->obj.state, seen, storages, depth + 1);
      if (v->obj.items)
        for (guint i = 0; i < v->obj.items->len; i++)
          collect_storages (g_ptr_array_index (v->obj.items, i), seen, storages, depth + 1);
      break;
    default:
      break;
    }
}

static guint
count_tensors (FacetPickleValue *dict)
{
  guint n = 0;

  if (dict == NULL || dict->kind != FACET_PICKLE_DICT)
    return 0;
  for (guint i = 1; i < dict->items->len; i += 2)
    if (((FacetPickleValue *) g_ptr_array_index (dict->items, i))->kind == FACET_PICKLE_TENSOR)
      n++;
  return n;
}

static gboolean
is_contiguous (const FacetPickleValue *t)
{
  gint64 expected = 1;

  for (int i = t->tensor.ndim - 1; i >= 0; i--)
    {
      if (t->tensor.shape[i] != 1 && t->tensor.stride[i] != expected)
        return FALSE;
      expected *= t->tensor.shape[i];
    }
  return TRUE;
}

static FacetTensor *
tensor_from_pickle (const char       *key,
                    FacetPickleValue *t,
                    GHashTable       *storages,
                    const char       *name,
                    GError          **error)
{
  FacetPickleValue *s = t->tensor.storage;
  GBytes *bytes = g_hash_table_lookup (storages, s->storage.key);
  gsize esize = facet_dtype_size (s->storage.dtype);
  gint64 numel = 1, last = 0, start;
  gsize have;

  if (bytes == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: tensor %s: storage %s is missing from the file", name, key,
                   s->storage.key);
      return NULL;
    }
  have = g_bytes_get_size (bytes) / esize;

  for (int i = 0; i < t->tensor.ndim; i++)
    {
      if (t->tensor.shape[i] > 0 && numel > G_MAXINT64 / 4 / t->tensor.shape[i])
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                       "%s: tensor %s is impossibly large", name, key);
          return NULL;
        }
      numel *= t->tensor.shape[i];
      if (t->tensor.shape[i] > 0)
        {
          if (t->tensor.stride[i] > 0 && t->tensor.shape[i] - 1 > (G_MAXINT64 / 4 - last) / t->tensor.stride[i])
            {
              g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                           "%s: tensor %s has impossible strides", name, key);
              return NULL;
            }
          last += (t->tensor.shape[i] - 1) * t->tensor.stride[i];
        }
    }
  /* Every element must lie inside the storage (or its view) and inside the
   * bytes actually present; all quantities are non-negative here. */
  if (numel > 0
      && (s->storage.base > (gint64) have || t->tensor.offset > s->storage.numel
          || last >= s->storage.numel - t->tensor.offset
          || t->tensor.offset + last >= (gint64) have - s->storage.base))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: tensor %s needs %" G_GINT64_FORMAT " elements of storage %s, which holds %"
                   G_GINT64_FORMAT " (storage too short; the file may be truncated)",
                   name, key, MIN (t->tensor.offset, G_MAXINT64 / 2) + last + 1, s->storage.key,
                   MIN ((gint64) have - MIN (s->storage.base, (gint64) have), s->storage.numel));
      return NULL;
    }
  start = s->storage.base + t->tensor.offset;

  if (is_contiguous (t) || numel == 0)
    return facet_tensor_new (key, s->storage.dtype, t->tensor.ndim, t->tensor.shape, bytes,
                             (gsize) (numel ? start : 0) * esize);

  /* A strided view (a transposed weight, say): copy it out in row order. */
  {
    const guint8 *src = g_bytes_get_data (bytes, NULL);
    guint8 *dst = g_malloc ((gsize) numel * esize);
    gint64 idx[FACET_TENSOR_MAX_DIMS] = { 0 };
    g_autoptr (GBytes) copy = NULL;

    for (gint64 n = 0; n < numel; n++)
      {
        gint64 off = start;
        for (int d = 0; d < t->tensor.ndim; d++)
          off += idx[d] * t->tensor.stride[d];
        memcpy (dst + n * esize, src + off * esize, esize);
        for (int d = t->tensor.ndim - 1; d >= 0; d--)
          {
            if (++idx[d] < t->tensor.shape[d])
              break;
            idx[d] = 0;
          }
      }
    copy = g_bytes_new_take (dst, (gsize) numel * esize);
    return facet_tensor_new (key, s->storage.dtype, t->tensor.ndim, t->tensor.shape, copy, 0);
  }
}

gboolean
facet_checkpoint_from_pickle (FacetCheckpoint  *ckpt,
                              FacetPickleValue *root,
                              GHashTable       *storages,
                              const char       *name,
                              GError          **error)
{
  FacetPickleValue *sd = NULL;
  const char *sd_key = NULL;
  g_autoptr (GHashTable) seen_names = g_hash_table_new (g_str_hash, g_str_equal);

  if (root->kind == FACET_PICKLE_DICT)
    {
      static const char *keys[] = { "model", "state_dict", "model_state", "module", "net" };
      for (guint i = 0; i < G_N_ELEMENTS (keys) && sd == NULL; i++)
        {
          FacetPickleValue *v = facet_pickle_dict_lookup (root, keys[i]);
          if (count_tensors (v) > 0)
            {
              sd = v;
              sd_key = keys[i];
            }
        }
      if (sd == NULL && count_tensors (root) > 0)
        sd = root;
    }

  if (sd == NULL)
    {
      g_autofree char *what = facet_pickle_describe (root, 3);
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: no state dict found: expected a dict of tensors, or a checkpoint dict "
                   "with one under “model”; the file holds %s", name, what);
      return FALSE;
    }

  if (sd != root)
    {
      GString *extras = g_string_new ("{");
      gboolean first = TRUE;

      for (guint i = 0; i + 1 < root->items->len; i += 2)
        {
          FacetPickleValue *k = g_ptr_array_index (root->items, i);
          FacetPickleValue *v = g_ptr_array_index (root->items, i + 1);
          GString *json;

          if (k->kind != FACET_PICKLE_STRING || g_str_equal (k->str.data, sd_key))
            continue;
          g_ptr_array_add (ckpt->notes, g_strdup_printf ("ignored checkpoint entry “%s”",
                                                         k->str.data));
          /* Keep small plain entries (epoch, args) for `model info`. */
          json = g_string_new (NULL);
          facet_pickle_to_json (v, json, 6);
          if (json->len < 65536)
            {
              g_autoptr (JsonNode) kn = json_node_init_string (json_node_alloc (), k->str.data);
              g_autofree char *ks = json_to_string (kn, FALSE);
              g_string_append_printf (extras, "%s%s:%s", first ? "" : ",", ks, json->str);
              first = FALSE;
            }
          g_string_free (json, TRUE);
        }
      g_string_append_c (extras, '}');
      ckpt->extras = g_string_free (extras, FALSE);
    }

  for (guint i = 0; i + 1 < sd->items->len; i += 2)
    {
      FacetPickleValue *k = g_ptr_array_index (sd->items, i);
      FacetPickleValue *v = g_ptr_array_index (sd->items, i + 1);
      FacetTensor *t;

      if (k->kind != FACET_PICKLE_STRING)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                       "%s: the state dict has a key that is not a string", name);
          return FALSE;
        }
      if (v->kind != FACET_PICKLE_TENSOR)
        {
          g_autofree char *what = facet_pickle_describe (v, 2);
          g_ptr_array_add (ckpt->notes, g_strdup_printf ("ignored non-tensor state entry “%s” (%s)",
                                                         k->str.data, what));
          continue;
        }
      t = tensor_from_pickle (k->str.data, v, storages, name, error);
      if (t == NULL)
        return FALSE;
      if (g_hash_table_contains (seen_names, k->str.data))
        {
          /* A repeated key: the later value wins, as in a Python dict. */
          for (guint j = 0; j < ckpt->tensors->len; j++)
            if (g_str_equal (((FacetTensor *) g_ptr_array_index (ckpt->tensors, j))->name,
                             k->str.data))
              {
                facet_tensor_free (g_ptr_array_index (ckpt->tensors, j));
                ckpt->tensors->pdata[j] = t;
                break;
              }
          continue;
        }
      g_ptr_array_add (ckpt->tensors, t);
      g_hash_table_add (seen_names, t->name);
    }
  return TRUE;
}

static GBytes *
read_zip_entry (zip_t      *zip,
                zip_int64_t index,
                const char *entry,
                const char *path,
                guint64     limit,
                GError    **error)
{
  zip_stat_t st;
  zip_file_t *zf;
  guint8 *buffer;
  zip_int64_t got;

  zip_stat_init (&st);
  if (zip_stat_index (zip, (zip_uint64_t) index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: cannot read the size of %s (%s)", path, entry, zip_strerror (zip));
      return NULL;
    }
  if (st.size > limit)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: %s is too large (%" G_GUINT64_FORMAT " bytes)", path, entry, st.size);
      return NULL;
    }
  zf = zip_fopen_index (zip, (zip_uint64_t) index, 0);
  if (zf == NULL)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT, "%s: cannot open %s (%s)",
                   path, entry, zip_strerror (zip));
      return NULL;
    }
  buffer = g_aligned_alloc (MAX (st.size, 1), 1, 64);
  got = st.size ? zip_fread (zf, buffer, st.size) : 0;
  if (got < 0 || (zip_uint64_t) got != st.size)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: %s is damaged or truncated (%s)", path, entry,
                   zip_file_strerror (zf));
      zip_fclose (zf);
      g_aligned_free (buffer);
      return NULL;
    }
  /* zip_fclose reports CRC mismatches. */
  if (zip_fclose (zf) != 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: %s fails its checksum: the file is damaged", path, entry);
      g_aligned_free (buffer);
      return NULL;
    }
  return g_bytes_new_with_free_func (buffer, st.size, g_aligned_free, buffer);
}

static FacetCheckpoint *
read_pth_zip (const char *path,
              GError    **error)
{
  g_autoptr (FacetCheckpoint) ckpt = NULL;
  g_autoptr (FacetPickle) pickle = NULL;
  g_autoptr (GBytes) pkl = NULL;
  g_autoptr (GHashTable) refs = NULL;
  g_autoptr (GHashTable) seen = NULL;
  g_autoptr (GHashTable) storages = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *pkl_name = NULL;
  GHashTableIter iter;
  gpointer key, value;
  zip_t *zip;
  zip_int64_t n, pkl_index = -1, order_index;
  int zerr = 0;

  zip = zip_open (path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
  if (zip == NULL)
    {
      zip_error_t ze;
      zip_error_init_with_code (&ze, zerr);
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: not a readable PyTorch zip checkpoint (%s); the file may be truncated",
                   path, zip_error_strerror (&ze));
      zip_error_fini (&ze);
      return NULL;
    }

  n = zip_get_num_entries (zip, 0);
  for (zip_int64_t i = 0; i < n; i++)
    {
      const char *entry = zip_get_name (zip, (zip_uint64_t) i, ZIP_FL_ENC_RAW);
      const char *slash;
      if (entry == NULL)
        continue;
      slash = strrchr (entry, '/');
      if (g_str_equal (slash ? slash + 1 : entry, "data.pkl"))
        {
          gsize plen = slash ? (gsize) (slash - entry) : 0;
          /* The real record sits at the top folder: prefer the shortest path. */
          if (pkl_index < 0 || plen < strlen (prefix))
            {
              g_free (prefix);
              prefix = g_strndup (entry, plen);
              pkl_index = i;
            }
        }
    }
  if (pkl_index < 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: a zip file without data.pkl is not a PyTorch checkpoint", path);
      zip_discard (zip);
      return NULL;
    }

  {
    g_autofree char *order_name = *prefix ? g_strdup_printf ("%s/byteorder", prefix)
                                          : g_strdup ("byteorder");
    order_index = zip_name_locate (zip, order_name, 0);
  }
  if (order_index >= 0)
    {
      g_autoptr (GBytes) order = read_zip_entry (zip, order_index, "byteorder", path, 16, error);
      if (order == NULL)
        {
          zip_discard (zip);
          return NULL;
        }
      if (g_bytes_get_size (order) != 6 || memcmp (g_bytes_get_data (order, NULL), "little", 6) != 0)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                       "%s: big-endian checkpoints are not supported", path);
          zip_discard (zip);
          return NULL;
        }
    }

  pkl_name = *prefix ? g_strdup_printf ("%s/data.pkl", prefix) : g_strdup ("data.pkl");
  pkl = read_zip_entry (zip, pkl_index, pkl_name, path, MAX_PICKLE, error);
  if (pkl == NULL)
    {
      zip_discard (zip);
      return NULL;
    }
  pickle = facet_pickle_parse (g_bytes_get_data (pkl, NULL), g_bytes_get_size (pkl), path, error);
  if (pickle == NULL)
    {
      zip_discard (zip);
      return NULL;
    }

  /* Read only the storages that the object refers to. */
  refs = g_hash_table_new (g_str_hash, g_str_equal);
  seen = g_hash_table_new (NULL, NULL);
  collect_storages (facet_pickle_get_root (pickle), seen, refs, 0);
  storages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  g_hash_table_iter_init (&iter, refs);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      FacetPickleValue *s = value;
      g_autofree char *entry = *prefix ? g_strdup_printf ("%s/data/%s", prefix, s->storage.key)
                                       : g_strdup_printf ("data/%s", s->storage.key);
      zip_int64_t index = zip_name_locate (zip, entry, 0);
      GBytes *bytes;

      if (index < 0)
        {
          g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                       "%s: storage %s is missing from the archive (the file may be truncated)",
                       path, entry);
          zip_discard (zip);
          return NULL;
        }
      bytes = read_zip_entry (zip, index, entry, path, G_MAXUINT64, error);
      if (bytes == NULL)
        {
          zip_discard (zip);
          return NULL;
        }
      g_hash_table_insert (storages, g_strdup (s->storage.key), bytes);
    }
  zip_discard (zip);

  ckpt = facet_checkpoint_new (FACET_MODEL_FORMAT_PTH_ZIP);
  if (!facet_checkpoint_from_pickle (ckpt, facet_pickle_get_root (pickle), storages, path, error))
    return NULL;
  return g_steal_pointer (&ckpt);
}

static FacetCheckpoint *
read_pth_legacy (const char *path,
                 GError    **error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (FacetPickle) magic = NULL, proto = NULL, info = NULL, obj = NULL, keys = NULL;
  g_autoptr (GHashTable) storages = NULL;
  g_autoptr (FacetCheckpoint) ckpt = NULL;
  FacetPickleValue *m, *le, *key_list;
  const guint8 *data;
  gsize size, pos = 0, used = 0;

  mapped = g_mapped_file_new (path, FALSE, error);
  if (mapped == NULL)
    return NULL;
  bytes = g_mapped_file_get_bytes (mapped);
  data = g_bytes_get_data (bytes, &size);

#define NEXT(var)                                                                        \
  G_STMT_START                                                                           \
  {                                                                                      \
    var = facet_pickle_parse_next (data + pos, size - pos, &used, path, error);          \
    if (var == NULL)                                                                     \
      return NULL;                                                                       \
    pos += used;                                                                         \
  }                                                                                      \
  G_STMT_END

  NEXT (magic);
  m = facet_pickle_get_root (magic);
  if (m->kind != FACET_PICKLE_BIGINT || m->str.len != sizeof legacy_magic
      || memcmp (m->str.data, legacy_magic, sizeof legacy_magic) != 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: a pickle file, but not a PyTorch checkpoint (wrong magic number)", path);
      return NULL;
    }
  NEXT (proto);
  if (facet_pickle_get_root (proto)->kind != FACET_PICKLE_INT
      || facet_pickle_get_root (proto)->i != 1001)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "%s: unsupported legacy PyTorch protocol version", path);
      return NULL;
    }
  NEXT (info);
  le = facet_pickle_dict_lookup (facet_pickle_get_root (info), "little_endian");
  if (le != NULL && le->kind == FACET_PICKLE_BOOL && !le->b)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "%s: big-endian checkpoints are not supported", path);
      return NULL;
    }
  NEXT (obj);
  NEXT (keys);
#undef NEXT

  key_list = facet_pickle_get_root (keys);
  if (key_list->kind != FACET_PICKLE_LIST)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                   "%s: legacy checkpoint without a storage key list", path);
      return NULL;
    }

  /* Storages follow in key order, each as an int64 count and its bytes; the
   * element size comes from the storage type named in the object. */
  {
    g_autoptr (GHashTable) refs = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);

    collect_storages (facet_pickle_get_root (obj), seen, refs, 0);
    storages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_bytes_unref);
    for (guint i = 0; i < key_list->items->len; i++)
      {
        FacetPickleValue *k = g_ptr_array_index (key_list->items, i);
        FacetPickleValue *s;
        guint64 count = 0;
        gsize esize;

        if (k->kind != FACET_PICKLE_STRING)
          {
            g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
                         "%s: legacy storage key is not a string", path);
            return NULL;
          }
        s = g_hash_table_lookup (refs, k->str.data);
        esize = s ? facet_dtype_size (s->storage.dtype) : 4;
        if (size - pos < 8)
          goto truncated;
        for (int b = 0; b < 8; b++)
          count |= (guint64) data[pos + b] << (8 * b);
        pos += 8;
        if (count > (size - pos) / esize)
          goto truncated;
        g_hash_table_insert (storages, g_strdup (k->str.data),
                             g_bytes_new_from_bytes (bytes, pos, (gsize) count * esize));
        pos += (gsize) count * esize;
      }
  }

  ckpt = facet_checkpoint_new (FACET_MODEL_FORMAT_PTH_LEGACY);
  if (!facet_checkpoint_from_pickle (ckpt, facet_pickle_get_root (obj), storages, path, error))
    return NULL;
  return g_steal_pointer (&ckpt);

truncated:
  g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
               "%s: storage data is truncated at byte %" G_GSIZE_FORMAT, path, pos);
  return NULL;
}

FacetCheckpoint *
facet_checkpoint_read_pth (const char *path,
                           GError    **error)
{
  guint8 head[4] = { 0 };
  FILE *f = fopen (path, "rb");
  size_t n;

  if (f == NULL)
    {
      int saved = errno;
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_IO, "%s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  n = fread (head, 1, 4, f);
  fclose (f);
  if (n == 4 && memcmp (head, "PK\3\4", 4) == 0)
    return read_pth_zip (path, error);
  if (n >= 1 && head[0] == 0x80)
    return read_pth_legacy (path, error);
  g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
               "%s: not a PyTorch checkpoint (neither a zip archive nor a pickle)", path);
  return NULL;
}

/**
 * facet_checkpoint_read:
 *
 * Reads a checkpoint of any supported kind, recognised by content.
 */
FacetCheckpoint *
facet_checkpoint_read (const char *path,
                       GError    **error)
{
  guint8 head[9] = { 0 };
  FILE *f;
  size_t n;

  g_return_val_if_fail (path != NULL, NULL);

  f = fopen (path, "rb");
  if (f == NULL)
    {
      int saved = errno;
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_IO, "%s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  n = fread (head, 1, sizeof head, f);
  fclose (f);

  if (n == 0)
    {
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT, "%s: the file is empty",
                   path);
      return NULL;
    }
  /* safetensors: a little-endian header length (far below 2^40), then '{'. */
  if (n == 9 && head[8] == '{' && head[5] == 0 && head[6] == 0 && head[7] == 0)
    return facet_checkpoint_read_safetensors (path, error);
  if ((n >= 4 && memcmp (head, "PK\3\4", 4) == 0) || (head[0] == 0x80 && n >= 2 && head[1] <= 5))
    return facet_checkpoint_read_pth (path, error);
  g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_FORMAT,
               "%s: not a model file (expected safetensors or a PyTorch .pth checkpoint)", path);
  return NULL;
}
