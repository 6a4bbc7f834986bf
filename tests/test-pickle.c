/* test-pickle.c — the restricted pickle reader on hand-written streams */
#include "config.h"

#include <math.h>
#include <string.h>

#include "engine/engine-checkpoint.h"
#include "engine/engine-error.h"
#include "engine/engine-pickle.h"

#include <glib/gstdio.h>

static FacetPickle *
parse (const char *bytes,
       gsize       len,
       GError    **error)
{
  return facet_pickle_parse ((const guint8 *) bytes, len, "test", error);
}

#define PARSE_OK(s) parse_ok (s, sizeof (s) - 1)

static FacetPickle *
parse_ok (const char *s,
          gsize       len)
{
  g_autoptr (GError) error = NULL;
  FacetPickle *p = parse (s, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (p);
  return p;
}

static void
expect_error (const char *s,
              gsize       len,
              int         code,
              const char *words)
{
  g_autoptr (GError) error = NULL;
  FacetPickle *p = parse (s, len, &error);
  g_assert_null (p);
  g_assert_error (error, FACET_ENGINE_ERROR, code);
  if (words)
    g_assert_nonnull (strstr (error->message, words));
}

static void
test_protocol0 (void)
{
  /* pickle.dumps({'a': 1, 'b': 1.5, 'c': 'x\n'}, protocol=0) */
  static const char s[] = "(dp0\nVa\np1\nI1\nsVb\np2\nF1.5\nsVc\np3\nVx\\u000a\np4\ns.";
  g_autoptr (FacetPickle) p = PARSE_OK (s);
  FacetPickleValue *root = facet_pickle_get_root (p);

  g_assert_cmpint (root->kind, ==, FACET_PICKLE_DICT);
  g_assert_cmpint (facet_pickle_len (root), ==, 3);
  g_assert_cmpint (facet_pickle_dict_lookup (root, "a")->i, ==, 1);
  g_assert_cmpfloat (facet_pickle_dict_lookup (root, "b")->f, ==, 1.5);
  g_assert_cmpstr (facet_pickle_dict_lookup (root, "c")->str.data, ==, "x\n");
}

static void
test_protocol2_memo_and_types (void)
{
  /* pickle.dumps([True, None, -5, 300, 70000, (1, 2), b'ab'], protocol=3)
   * written out by hand, with a memo reuse at the end. */
  static const char s[] =
    "\x80\x03]q\x00(\x88NJ\xfb\xff\xff\xffM,\x01J\x70\x11\x01\x00K\x01K\x02\x86q\x01" "C\x02"
    "abq\x02h\x01" "e.";
  g_autoptr (FacetPickle) p = PARSE_OK (s);
  FacetPickleValue *l = facet_pickle_get_root (p);

  g_assert_cmpint (l->kind, ==, FACET_PICKLE_LIST);
  g_assert_cmpint (facet_pickle_len (l), ==, 8);
  g_assert_true (facet_pickle_item (l, 0)->b);
  g_assert_cmpint (facet_pickle_item (l, 1)->kind, ==, FACET_PICKLE_NONE);
  g_assert_cmpint (facet_pickle_item (l, 2)->i, ==, -5);
  g_assert_cmpint (facet_pickle_item (l, 3)->i, ==, 300);
  g_assert_cmpint (facet_pickle_item (l, 4)->i, ==, 70000);
  g_assert_cmpint (facet_pickle_item (l, 5)->kind, ==, FACET_PICKLE_TUPLE);
  g_assert_cmpint (facet_pickle_item (l, 6)->kind, ==, FACET_PICKLE_BYTES);
  g_assert_true (facet_pickle_item (l, 7) == facet_pickle_item (l, 5)); /* memo: same object */
}

static void
test_long_and_bigint (void)
{
  /* LONG1 of -2 (one byte), and a 10-byte integer kept as bytes. */
  static const char s[] = "\x80\x02]q\x00(\x8a\x01\xfe\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19" "e.";
  g_autoptr (FacetPickle) p = PARSE_OK (s);
  FacetPickleValue *l = facet_pickle_get_root (p);

  g_assert_cmpint (facet_pickle_item (l, 0)->i, ==, -2);
  g_assert_cmpint (facet_pickle_item (l, 1)->kind, ==, FACET_PICKLE_BIGINT);
  g_assert_cmpint (facet_pickle_item (l, 1)->str.len, ==, 10);
}

static void
test_self_reference (void)
{
  /* l = []; l.append(l): a cycle through the memo must neither loop nor leak. */
  static const char s[] = "\x80\x02]q\x00h\x00" "a.";
  g_autoptr (FacetPickle) p = PARSE_OK (s);
  g_autofree char *text = facet_pickle_describe (facet_pickle_get_root (p), 5);
  GString *json = g_string_new (NULL);

  g_assert_nonnull (strstr (text, "…"));
  facet_pickle_to_json (facet_pickle_get_root (p), json, 5);
  g_string_free (json, TRUE);
}

static void
test_globals_stay_opaque (void)
{
  /* os.system('touch x') through GLOBAL + REDUCE, and the same through STACK_GLOBAL. */
  static const char s1[] = "\x80\x02" "cos\nsystem\nq\x00X\x07\x00\x00\x00touch xq\x01\x85q\x02Rq\x03.";
  static const char s2[] = "\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x01x\x85R.";
  g_autoptr (FacetPickle) p1 = PARSE_OK (s1);
  g_autoptr (FacetPickle) p2 = PARSE_OK (s2);
  FacetPickleValue *v = facet_pickle_get_root (p1);

  g_assert_cmpint (v->kind, ==, FACET_PICKLE_OBJECT);
  g_assert_cmpstr (v->obj.module, ==, "os");
  g_assert_cmpstr (v->obj.name, ==, "system");
  g_assert_cmpint (facet_pickle_get_root (p2)->kind, ==, FACET_PICKLE_OBJECT);
}

static void
test_namespace_build (void)
{
  /* argparse.Namespace(model='vit') as protocol 2 writes it: NEWOBJ + BUILD. */
  static const char s[] = "\x80\x02\x63\x61rgparse\nNamespace\nq\x00)\x81q\x01}q\x02X\x05\x00\x00\x00"
                          "modelq\x03X\x03\x00\x00\x00vitq\x04sb.";
  g_autoptr (FacetPickle) p = PARSE_OK (s);
  FacetPickleValue *v = facet_pickle_get_root (p);
  GString *json = g_string_new (NULL);

  g_assert_cmpint (v->kind, ==, FACET_PICKLE_OBJECT);
  g_assert_cmpstr (facet_pickle_dict_lookup (v->obj.state, "model")->str.data, ==, "vit");
  facet_pickle_to_json (v, json, 4);
  g_assert_cmpstr (json->str, ==, "{\"model\":\"vit\"}");
  g_string_free (json, TRUE);
}

static void
test_errors (void)
{
  expect_error ("", 0, FACET_ENGINE_ERROR_FORMAT, "truncated");
  expect_error ("\x80\x02", 2, FACET_ENGINE_ERROR_FORMAT, "truncated");
  expect_error ("\x80\x06.", 3, FACET_ENGINE_ERROR_UNSUPPORTED, "protocol 6");
  expect_error ("\x80\x02\x82\x01.", 5, FACET_ENGINE_ERROR_UNSUPPORTED, "extension registry");
  expect_error ("\x80\x05\x97.", 4, FACET_ENGINE_ERROR_UNSUPPORTED, "out-of-band");
  expect_error ("\x80\x02\xfe.", 4, FACET_ENGINE_ERROR_UNSUPPORTED, "unknown opcode");
  expect_error ("a.", 2, FACET_ENGINE_ERROR_FORMAT, "underflow");
  expect_error ("h\x05.", 3, FACET_ENGINE_ERROR_FORMAT, "memo");
  expect_error ("X\xff\xff\xff\x7f", 5, FACET_ENGINE_ERROR_FORMAT, "truncated");
  expect_error ("X\x02\x00\x00\x00\xc3\x28.", 8, FACET_ENGINE_ERROR_FORMAT, "UTF-8");
  expect_error ("K\x01K\x02.", 5, FACET_ENGINE_ERROR_FORMAT, "left on the stack");
  expect_error ("\x80\x02}K\x01s.", 6, FACET_ENGINE_ERROR_FORMAT, "underflow");
  expect_error ("Pfoo\n.", 6, FACET_ENGINE_ERROR_UNSUPPORTED, "persistent");
  expect_error ("\x80\x02K\x01Q.", 6, FACET_ENGINE_ERROR_UNSUPPORTED, "storage");
  expect_error ("1.", 2, FACET_ENGINE_ERROR_FORMAT, "MARK");
}

static void
test_deep_nesting (void)
{
  /* 200000 nested lists: the reader is iterative and must cope. */
  gsize n = 200000;
  GString *s = g_string_new ("\x80\x02");
  g_autoptr (FacetPickle) p = NULL;
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < n; i++)
    g_string_append_c (s, ']');
  for (gsize i = 0; i + 1 < n; i++)
    g_string_append_c (s, 'a');
  g_string_append_c (s, '.');
  p = parse (s->str, s->len, &error);
  g_assert_no_error (error);
  {
    g_autofree char *d = facet_pickle_describe (facet_pickle_get_root (p), 8);
    g_assert_nonnull (d);
  }
  g_string_free (s, TRUE);
}

static void
test_safetensors_header (void)
{
  static const struct
  {
    const char *json;
    guint64     data;
    const char *words; /* NULL: valid */
  } cases[] = {
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24, NULL },
    { "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]}}", 2, NULL },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 20, "outside" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, "needs" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}}", 24, "shape" },
    { "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unsupported dtype" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "shape" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[0,8]}}", 8, "large" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "outside" },
    { "{\"__metadata__\":{\"k\":3}}", 0, "not a string" },
    { "[1,2]", 0, "not a JSON object" },
    { "{\"a\":", 0, "not valid JSON" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) entries = NULL;
      g_autoptr (GHashTable) meta = NULL;
      gboolean ok = facet_safetensors_parse_header ((const guint8 *) cases[i].json,
                                                    strlen (cases[i].json), cases[i].data, "t",
                                                    &entries, &meta, &error);
      if (cases[i].words == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        {
          g_assert_false (ok);
          g_assert_nonnull (error);
          if (strstr (error->message, cases[i].words) == NULL)
            g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].words);
        }
    }
}

static void
test_safetensors_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("facet-st-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (GPtrArray) tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_tensor_free);
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (FacetCheckpoint) back = NULL;
  gint64 shape[2] = { 3, 5 };
  float *data;

  g_ptr_array_add (tensors, facet_tensor_new_f32 ("w", 2, shape, &data));
  for (int i = 0; i < 15; i++)
    data[i] = (float) i * 0.5f;
  g_ptr_array_add (tensors, facet_tensor_new_f32 ("b", 1, shape, &data));
  data[2] = -1.0f;
  g_hash_table_insert (meta, (gpointer) "note", (gpointer) "ünïcode ✓");
  g_assert_true (facet_safetensors_write (path, tensors, meta, &error));
  g_assert_no_error (error);

  back = facet_checkpoint_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->tensors->len, ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (back->metadata, "note"), ==, "ünïcode ✓");
  {
    FacetTensor *w = g_ptr_array_index (back->tensors, 0);
    FacetTensor *b = g_ptr_array_index (back->tensors, 1);
    g_assert_cmpstr (w->name, ==, "w");
    g_assert_true (facet_tensor_has_shape (w, 2, 3, 5));
    g_assert_cmpfloat (((const float *) w->data)[14], ==, 7.0f);
    g_assert_cmpfloat (((const float *) b->data)[2], ==, -1.0f);
    /* The header is padded so that mapped data is aligned. */
    g_assert_cmpuint ((guintptr) w->data % 8, ==, 0);
  }
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_half_conversions (void)
{
  /* Every finite half converts to float and back exactly. */
  for (guint32 h = 0; h < 0x10000; h++)
    {
      float f = facet_half_to_float ((guint16) h);
      if ((h & 0x7c00) == 0x7c00)
        continue;
      g_assert_cmpuint (facet_float_to_half (f), ==, h);
    }
  g_assert_cmpuint (facet_float_to_half (65520.0f), ==, 0x7c00); /* rounds to infinity */
  g_assert_cmpuint (facet_float_to_half (1.0f + 1.0f / 2048), ==, 0x3c00); /* tie to even */
  g_assert_cmpfloat (facet_bf16_to_float (facet_float_to_bf16 (3.140625f)), ==, 3.140625f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/pickle/protocol0", test_protocol0);
  g_test_add_func ("/engine/pickle/protocol2-memo-types", test_protocol2_memo_and_types);
  g_test_add_func ("/engine/pickle/long-and-bigint", test_long_and_bigint);
  g_test_add_func ("/engine/pickle/self-reference", test_self_reference);
  g_test_add_func ("/engine/pickle/globals-stay-opaque", test_globals_stay_opaque);
  g_test_add_func ("/engine/pickle/namespace-build", test_namespace_build);
  g_test_add_func ("/engine/pickle/errors", test_errors);
  g_test_add_func ("/engine/pickle/deep-nesting", test_deep_nesting);
  g_test_add_func ("/engine/safetensors/header", test_safetensors_header);
  g_test_add_func ("/engine/safetensors/roundtrip", test_safetensors_roundtrip);
  g_test_add_func ("/engine/tensor/half-conversions", test_half_conversions);
  return g_test_run ();
}
