/* engine-pickle.c — a restricted pickle reader
 *
 * See engine-pickle.h. The reader is a stack machine over the opcodes of
 * pickle protocols 0-5 in which REDUCE, NEWOBJ, BUILD and INST only ever
 * build data: nothing named in the stream is imported or called.
 */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "engine-error.h"
#include "engine-pickle.h"

#include <json-glib/json-glib.h>


struct _FacetPickle
{
  GPtrArray        *arena; /* every value of this parse */
  FacetPickleValue *root;
};

typedef struct
{
  FacetPickle  *pickle;
  const guint8 *data;
  gsize         length;
  gsize         pos;
  const char   *name;
  GPtrArray    *stack;
  GArray       *marks;  /* stack heights at MARK */
  GHashTable   *memo;   /* index -> value */
  GError      **error;
} Reader;

static void
value_free (gpointer data)
{
  FacetPickleValue *v = data;

  switch (v->kind)
    {
    case FACET_PICKLE_STRING:
    case FACET_PICKLE_BYTES:
    case FACET_PICKLE_BIGINT:
      g_free (v->str.data);
      break;
    case FACET_PICKLE_TUPLE:
    case FACET_PICKLE_LIST:
    case FACET_PICKLE_SET:
    case FACET_PICKLE_DICT:
      g_ptr_array_unref (v->items);
      break;
    case FACET_PICKLE_GLOBAL:
    case FACET_PICKLE_OBJECT:
      g_free (v->obj.module);
      g_free (v->obj.name);
      if (v->obj.items)
        g_ptr_array_unref (v->obj.items);
      break;
    case FACET_PICKLE_STORAGE:
      g_free (v->storage.key);
      g_free (v->storage.location);
      break;
    default:
      break;
    }
  g_free (v);
}

static FacetPickleValue *
value_new (Reader         *r,
           FacetPickleKind kind)
{
  FacetPickleValue *v = g_new0 (FacetPickleValue, 1);

  v->kind = kind;
  if (kind == FACET_PICKLE_TUPLE || kind == FACET_PICKLE_LIST || kind == FACET_PICKLE_SET
      || kind == FACET_PICKLE_DICT)
    v->items = g_ptr_array_new ();
  g_ptr_array_add (r->pickle->arena, v);
  return v;
}

static gboolean
fail (Reader     *r,
      int         code,
      const char *format,
      ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (Reader     *r,
      int         code,
      const char *format,
      ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (r->error != NULL && *r->error == NULL)
    g_set_error (r->error, FACET_ENGINE_ERROR, code, "%s: pickle at byte %" G_GSIZE_FORMAT ": %s",
                 r->name, r->pos, msg);
  return FALSE;
}

static gboolean
take (Reader        *r,
      gsize          n,
      const guint8 **out)
{
  if (n > r->length - r->pos)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "truncated (needs %" G_GSIZE_FORMAT " more bytes)",
                 n - (r->length - r->pos));
  *out = r->data + r->pos;
  r->pos += n;
  return TRUE;
}

static gboolean
take_u8 (Reader *r,
         guint  *out)
{
  const guint8 *p = NULL;

  if (!take (r, 1, &p))
    return FALSE;
  *out = p[0];
  return TRUE;
}

static gboolean
take_le (Reader  *r,
         gsize    n,
         guint64 *out)
{
  const guint8 *p = NULL;
  guint64 v = 0;

  if (!take (r, n, &p))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    v |= (guint64) p[i] << (8 * i);
  *out = v;
  return TRUE;
}

/* A text line without its newline; the result points into a new string. */
static gboolean
take_line (Reader *r,
           char  **out)
{
  const guint8 *start = r->data + r->pos;
  const guint8 *nl = memchr (start, '\n', r->length - r->pos);

  if (nl == NULL)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "truncated text line");
  *out = g_strndup ((const char *) start, (gsize) (nl - start));
  r->pos += (gsize) (nl - start) + 1;
  return TRUE;
}

static void
push (Reader           *r,
      FacetPickleValue *v)
{
  g_ptr_array_add (r->stack, v);
}

static gboolean
pop (Reader            *r,
     FacetPickleValue **out)
{
  guint floor = r->marks->len ? g_array_index (r->marks, guint, r->marks->len - 1) : 0;

  if (r->stack->len <= floor)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "stack underflow");
  *out = g_ptr_array_steal_index (r->stack, r->stack->len - 1);
  return TRUE;
}

static gboolean
top (Reader            *r,
     FacetPickleValue **out)
{
  guint floor = r->marks->len ? g_array_index (r->marks, guint, r->marks->len - 1) : 0;

  if (r->stack->len <= floor)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "stack underflow");
  *out = g_ptr_array_index (r->stack, r->stack->len - 1);
  return TRUE;
}

/* Pops everything above the last MARK into @items (in order) and the mark. */
static gboolean
pop_mark (Reader    *r,
          GPtrArray *items)
{
  guint mark;

  if (r->marks->len == 0)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "no MARK on the stack");
  mark = g_array_index (r->marks, guint, r->marks->len - 1);
  g_array_set_size (r->marks, r->marks->len - 1);
  for (guint i = mark; i < r->stack->len; i++)
    if (items != NULL)
      g_ptr_array_add (items, g_ptr_array_index (r->stack, i));
  g_ptr_array_set_size (r->stack, mark);
  return TRUE;
}

static FacetPickleValue *
new_int (Reader *r,
         gint64  i)
{
  FacetPickleValue *v = value_new (r, FACET_PICKLE_INT);
  v->i = i;
  return v;
}

static FacetPickleValue *
new_string (Reader     *r,
            const char *data,
            gsize       len,
            gboolean    text)
{
  FacetPickleValue *v = value_new (r, text ? FACET_PICKLE_STRING : FACET_PICKLE_BYTES);

  v->str.data = g_malloc (len + 1);
  memcpy (v->str.data, data, len);
  v->str.data[len] = '\0';
  v->str.len = len;
  return v;
}

static gboolean
push_text (Reader      *r,
           const guint8 *data,
           gsize        len)
{
  if (!g_utf8_validate_len ((const char *) data, len, NULL))
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "a text string is not valid UTF-8");
  push (r, new_string (r, (const char *) data, len, TRUE));
  return TRUE;
}

static FacetPickleValue *
new_global (Reader     *r,
            const char *module,
            const char *name)
{
  FacetPickleValue *v = value_new (r, FACET_PICKLE_GLOBAL);

  v->obj.module = g_strdup (module);
  v->obj.name = g_strdup (name);
  return v;
}

static gboolean
is_global (FacetPickleValue *v,
           const char       *module,
           const char       *name)
{
  return v != NULL && v->kind == FACET_PICKLE_GLOBAL && g_str_equal (v->obj.module, module)
         && g_str_equal (v->obj.name, name);
}

static FacetPickleValue *
new_object (Reader           *r,
            FacetPickleValue *cls,
            FacetPickleValue *args)
{
  FacetPickleValue *v = value_new (r, FACET_PICKLE_OBJECT);

  if (cls->kind == FACET_PICKLE_GLOBAL)
    {
      v->obj.module = g_strdup (cls->obj.module);
      v->obj.name = g_strdup (cls->obj.name);
    }
  else
    {
      v->obj.module = g_strdup ("?");
      v->obj.name = g_strdup ("?");
    }
  v->obj.args = args;
  return v;
}

static gboolean
get_int (FacetPickleValue *v,
         gint64           *out)
{
  if (v == NULL)
    return FALSE;
  if (v->kind == FACET_PICKLE_INT)
    *out = v->i;
  else if (v->kind == FACET_PICKLE_BOOL)
    *out = v->b;
  else
    return FALSE;
  return TRUE;
}

static gboolean
storage_dtype (const char *name,
               FacetDType *dtype)
{
  static const struct
  {
    const char *name;
    FacetDType  dtype;
  } table[] = {
    { "FloatStorage", FACET_DTYPE_F32 },  { "HalfStorage", FACET_DTYPE_F16 },
    { "BFloat16Storage", FACET_DTYPE_BF16 }, { "DoubleStorage", FACET_DTYPE_F64 },
    { "LongStorage", FACET_DTYPE_I64 },   { "IntStorage", FACET_DTYPE_I32 },
    { "ShortStorage", FACET_DTYPE_I16 },  { "CharStorage", FACET_DTYPE_I8 },
    { "ByteStorage", FACET_DTYPE_U8 },    { "BoolStorage", FACET_DTYPE_BOOL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    if (g_str_equal (name, table[i].name))
      {
        *dtype = table[i].dtype;
        return TRUE;
      }
  return FALSE;
}

/* torch's persistent ids:
 *   zip layout:    ('storage', torch.FloatStorage, key, location, numel)
 *   legacy layout: ('storage', torch.FloatStorage, key, location, numel, view)
 *                  where view is None or (view_key, offset, view_numel) */
static gboolean
persistent_load (Reader            *r,
                 FacetPickleValue  *pid,
                 FacetPickleValue **out)
{
  FacetPickleValue *type, *key, *loc, *view, *s;
  gint64 numel;
  FacetDType dtype;

  if (pid->kind != FACET_PICKLE_TUPLE || pid->items->len < 5
      || !facet_pickle_is_string (g_ptr_array_index (pid->items, 0), "storage"))
    return fail (r, FACET_ENGINE_ERROR_UNSUPPORTED,
                 "persistent id is not a torch storage reference");
  type = g_ptr_array_index (pid->items, 1);
  key = g_ptr_array_index (pid->items, 2);
  loc = g_ptr_array_index (pid->items, 3);
  if (type->kind != FACET_PICKLE_GLOBAL || !g_str_equal (type->obj.module, "torch")
      || !storage_dtype (type->obj.name, &dtype))
    return fail (r, FACET_ENGINE_ERROR_UNSUPPORTED, "unsupported storage type %s.%s",
                 type->kind == FACET_PICKLE_GLOBAL ? type->obj.module : "?",
                 type->kind == FACET_PICKLE_GLOBAL ? type->obj.name : "?");
  if (key->kind != FACET_PICKLE_STRING || loc->kind != FACET_PICKLE_STRING
      || !get_int (g_ptr_array_index (pid->items, 4), &numel) || numel < 0)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed storage reference");

  s = value_new (r, FACET_PICKLE_STORAGE);
  s->storage.dtype = dtype;
  s->storage.key = g_strdup (key->str.data);
  s->storage.location = g_strdup (loc->str.data);
  s->storage.numel = numel;

  view = pid->items->len > 5 ? g_ptr_array_index (pid->items, 5) : NULL;
  if (view != NULL && view->kind == FACET_PICKLE_TUPLE && view->items->len == 3)
    {
      gint64 offset, view_numel;
      if (!get_int (g_ptr_array_index (view->items, 1), &offset)
          || !get_int (g_ptr_array_index (view->items, 2), &view_numel) || offset < 0
          || view_numel < 0)
        return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed storage view");
      s->storage.base = offset;
      s->storage.numel = view_numel;
    }
  *out = s;
  return TRUE;
}

static gboolean
int_tuple (FacetPickleValue *v,
           gint64           *out,
           int              *n)
{
  if (v == NULL || (v->kind != FACET_PICKLE_TUPLE && v->kind != FACET_PICKLE_LIST)
      || v->items->len > FACET_TENSOR_MAX_DIMS)
    return FALSE;
  for (guint i = 0; i < v->items->len; i++)
    if (!get_int (g_ptr_array_index (v->items, i), &out[i]))
      return FALSE;
  *n = (int) v->items->len;
  return TRUE;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, ...) and
 * the older _rebuild_tensor(storage, offset, size, stride). */
static gboolean
rebuild_tensor (Reader            *r,
                FacetPickleValue  *args,
                FacetPickleValue **out)
{
  FacetPickleValue *t;
  gint64 offset;
  int nsize = 0, nstride = 0;

  if (args->kind != FACET_PICKLE_TUPLE || args->items->len < 4)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "tensor rebuild with too few arguments");
  t = value_new (r, FACET_PICKLE_TENSOR);
  t->tensor.storage = g_ptr_array_index (args->items, 0);
  if (t->tensor.storage->kind != FACET_PICKLE_STORAGE)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "tensor rebuild without a storage");
  if (!get_int (g_ptr_array_index (args->items, 1), &offset) || offset < 0
      || !int_tuple (g_ptr_array_index (args->items, 2), t->tensor.shape, &nsize)
      || !int_tuple (g_ptr_array_index (args->items, 3), t->tensor.stride, &nstride)
      || nsize != nstride)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "tensor rebuild with malformed size or stride");
  for (int i = 0; i < nsize; i++)
    if (t->tensor.shape[i] < 0 || t->tensor.stride[i] < 0)
      return fail (r, FACET_ENGINE_ERROR_FORMAT, "tensor with a negative size or stride");
  t->tensor.offset = offset;
  t->tensor.ndim = nsize;
  *out = t;
  return TRUE;
}

static gboolean reduce (Reader *r, FacetPickleValue *callable, FacetPickleValue *args,
                        FacetPickleValue **out, int depth);

/* The few constructors understood as data; everything else stays opaque. */
static gboolean
reduce (Reader            *r,
        FacetPickleValue  *callable,
        FacetPickleValue  *args,
        FacetPickleValue **out,
        int                depth)
{
  guint nargs = args->kind == FACET_PICKLE_TUPLE ? args->items->len : 0;

  if (depth > 4)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "nested tensor rebuilds");

  if (is_global (callable, "torch._utils", "_rebuild_tensor_v2")
      || is_global (callable, "torch._utils", "_rebuild_tensor"))
    return rebuild_tensor (r, args, out);

  if ((is_global (callable, "torch._utils", "_rebuild_parameter")
       || is_global (callable, "torch._utils", "_rebuild_parameter_with_state"))
      && nargs >= 1)
    {
      *out = g_ptr_array_index (args->items, 0);
      return TRUE;
    }

  /* Tensor subclasses: _rebuild_from_type_v2(func, new_type, args, state). */
  if (is_global (callable, "torch._tensor", "_rebuild_from_type_v2") && nargs >= 3)
    {
      FacetPickleValue *inner = g_ptr_array_index (args->items, 2);
      if (inner->kind != FACET_PICKLE_TUPLE)
        return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed tensor subclass rebuild");
      return reduce (r, g_ptr_array_index (args->items, 0), inner, out, depth + 1);
    }

  if (is_global (callable, "collections", "OrderedDict"))
    {
      FacetPickleValue *d = value_new (r, FACET_PICKLE_DICT);
      FacetPickleValue *pairs = nargs >= 1 ? g_ptr_array_index (args->items, 0) : NULL;

      if (pairs != NULL && (pairs->kind == FACET_PICKLE_LIST || pairs->kind == FACET_PICKLE_TUPLE))
        for (guint i = 0; i < pairs->items->len; i++)
          {
            FacetPickleValue *p = g_ptr_array_index (pairs->items, i);
            if (p->kind != FACET_PICKLE_TUPLE || p->items->len != 2)
              return fail (r, FACET_ENGINE_ERROR_FORMAT, "OrderedDict item is not a pair");
            g_ptr_array_add (d->items, g_ptr_array_index (p->items, 0));
            g_ptr_array_add (d->items, g_ptr_array_index (p->items, 1));
          }
      *out = d;
      return TRUE;
    }

  if ((is_global (callable, "builtins", "set") || is_global (callable, "builtins", "frozenset")
       || is_global (callable, "__builtin__", "set")
       || is_global (callable, "__builtin__", "frozenset")))
    {
      FacetPickleValue *s = value_new (r, FACET_PICKLE_SET);
      FacetPickleValue *src = nargs >= 1 ? g_ptr_array_index (args->items, 0) : NULL;

      if (src != NULL && (src->kind == FACET_PICKLE_LIST || src->kind == FACET_PICKLE_TUPLE
                          || src->kind == FACET_PICKLE_SET))
        g_ptr_array_extend (s->items, src->items, NULL, NULL);
      *out = s;
      return TRUE;
    }

  if (is_global (callable, "torch", "Size") && nargs == 1)
    {
      FacetPickleValue *src = g_ptr_array_index (args->items, 0);
      FacetPickleValue *t = value_new (r, FACET_PICKLE_TUPLE);
      if (src->kind == FACET_PICKLE_TUPLE || src->kind == FACET_PICKLE_LIST)
        g_ptr_array_extend (t->items, src->items, NULL, NULL);
      *out = t;
      return TRUE;
    }

  /* Protocol 2 spells bytes as _codecs.encode(text, 'latin1'). */
  if (is_global (callable, "_codecs", "encode") && nargs == 2
      && ((FacetPickleValue *) g_ptr_array_index (args->items, 0))->kind == FACET_PICKLE_STRING)
    {
      FacetPickleValue *text = g_ptr_array_index (args->items, 0);
      GString *bytes = g_string_new (NULL);
      for (const char *p = text->str.data; *p; p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);
          if (c > 0xff)
            {
              g_string_free (bytes, TRUE);
              return fail (r, FACET_ENGINE_ERROR_FORMAT, "latin-1 bytes out of range");
            }
          g_string_append_c (bytes, (char) c);
        }
      *out = new_string (r, bytes->str, bytes->len, FALSE);
      g_string_free (bytes, TRUE);
      return TRUE;
    }

  *out = new_object (r, callable, args);
  return TRUE;
}

static gboolean
set_items (Reader           *r,
           FacetPickleValue *target,
           GPtrArray        *kv)
{
  if (kv->len % 2 != 0)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "odd number of items for SETITEMS");
  if (target->kind == FACET_PICKLE_DICT)
    {
      /* A repeated key is appended again; lookups take the last one, as a
       * Python dict would hold it. */
      g_ptr_array_extend (target->items, kv, NULL, NULL);
      return TRUE;
    }
  if (target->kind == FACET_PICKLE_OBJECT)
    {
      if (target->obj.items == NULL)
        target->obj.items = g_ptr_array_new ();
      g_ptr_array_extend (target->obj.items, kv, NULL, NULL);
      return TRUE;
    }
  return fail (r, FACET_ENGINE_ERROR_FORMAT, "SETITEM on something that is not a dict");
}

static gboolean
append_items (Reader           *r,
              FacetPickleValue *target,
              GPtrArray        *items)
{
  if (target->kind == FACET_PICKLE_LIST || target->kind == FACET_PICKLE_SET)
    {
      g_ptr_array_extend (target->items, items, NULL, NULL);
      return TRUE;
    }
  if (target->kind == FACET_PICKLE_OBJECT)
    {
      if (target->obj.items == NULL)
        target->obj.items = g_ptr_array_new ();
      g_ptr_array_extend (target->obj.items, items, NULL, NULL);
      return TRUE;
    }
  return fail (r, FACET_ENGINE_ERROR_FORMAT, "APPEND on something that is not a list");
}

/* Protocol 0 quoted strings: 'text' or "text" with Python escapes. */
static gboolean
unquote (Reader     *r,
         const char *line,
         GString    *out,
         gboolean    raw_unicode)
{
  gsize len = strlen (line);
  const char *p, *end;

  if (!raw_unicode)
    {
      if (len < 2 || (line[0] != '\'' && line[0] != '"') || line[len - 1] != line[0])
        return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed quoted string");
      p = line + 1;
      end = line + len - 1;
    }
  else
    {
      p = line;
      end = line + len;
    }

  while (p < end)
    {
      if (*p != '\\' || p + 1 >= end)
        {
          g_string_append_c (out, *p++);
          continue;
        }
      p++;
      switch (*p)
        {
        case 'n': g_string_append_c (out, '\n'); p++; break;
        case 't': g_string_append_c (out, '\t'); p++; break;
        case 'r': g_string_append_c (out, '\r'); p++; break;
        case '\\': g_string_append_c (out, '\\'); p++; break;
        case '\'': g_string_append_c (out, '\''); p++; break;
        case '"': g_string_append_c (out, '"'); p++; break;
        case 'x':
        case 'u':
        case 'U':
          {
            int digits = *p == 'x' ? 2 : *p == 'u' ? 4 : 8;
            gunichar c = 0;
            p++;
            if (end - p < digits)
              return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed escape in string");
            for (int i = 0; i < digits; i++, p++)
              {
                int d = g_ascii_xdigit_value (*p);
                if (d < 0)
                  return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed escape in string");
                c = c * 16 + (gunichar) d;
              }
            if (digits == 2 && !raw_unicode)
              g_string_append_c (out, (char) c);
            else if (g_unichar_validate (c))
              g_string_append_unichar (out, c);
            else
              return fail (r, FACET_ENGINE_ERROR_FORMAT, "invalid character in string");
          }
          break;
        default:
          g_string_append_c (out, '\\');
          break;
        }
    }
  return TRUE;
}

static gboolean
memo_put (Reader           *r,
          guint64           index,
          FacetPickleValue *v)
{
  g_hash_table_insert (r->memo, g_memdup2 (&index, sizeof index), v);
  return TRUE;
}

static gboolean
memo_get (Reader  *r,
          guint64  index)
{
  FacetPickleValue *v = g_hash_table_lookup (r->memo, &index);

  if (v == NULL)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "memo entry %" G_GUINT64_FORMAT " is not defined",
                 index);
  push (r, v);
  return TRUE;
}

static gboolean
tuple_from (Reader *r,
            guint   n)
{
  FacetPickleValue *t = value_new (r, FACET_PICKLE_TUPLE);
  guint floor = r->marks->len ? g_array_index (r->marks, guint, r->marks->len - 1) : 0;

  if (r->stack->len < floor + n)
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "stack underflow");
  for (guint i = r->stack->len - n; i < r->stack->len; i++)
    g_ptr_array_add (t->items, g_ptr_array_index (r->stack, i));
  g_ptr_array_set_size (r->stack, r->stack->len - n);
  push (r, t);
  return TRUE;
}

static gboolean
parse_text_int (Reader     *r,
                const char *line,
                gint64     *out)
{
  g_autofree char *copy = g_strdup (line);
  gsize len = strlen (copy);

  if (len > 0 && copy[len - 1] == 'L')
    copy[len - 1] = '\0';
  if (!g_ascii_string_to_signed (copy, 10, G_MININT64, G_MAXINT64, out, NULL))
    return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed integer “%s”", line);
  return TRUE;
}

static gboolean
step (Reader   *r,
      gboolean *stop)
{
  guint op;
  guint64 u;
  const guint8 *p = NULL;
  FacetPickleValue *a, *b, *c;

  if (!take_u8 (r, &op))
    return FALSE;

  switch (op)
    {
    case 0x80: /* PROTO */
      if (!take_u8 (r, &op))
        return FALSE;
      if (op > 5)
        return fail (r, FACET_ENGINE_ERROR_UNSUPPORTED, "pickle protocol %u is newer than 5", op);
      return TRUE;
    case 0x95: /* FRAME */
      return take_le (r, 8, &u);
    case '(': /* MARK */
      g_array_append_val (r->marks, r->stack->len);
      return TRUE;
    case '.': /* STOP */
      *stop = TRUE;
      return TRUE;
    case '0': /* POP */
      if (r->marks->len && g_array_index (r->marks, guint, r->marks->len - 1) == r->stack->len)
        return pop_mark (r, NULL);
      return pop (r, &a);
    case '1': /* POP_MARK */
      return pop_mark (r, NULL);
    case '2': /* DUP */
      if (!top (r, &a))
        return FALSE;
      push (r, a);
      return TRUE;

    case 'N':
      push (r, value_new (r, FACET_PICKLE_NONE));
      return TRUE;
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
      a = value_new (r, FACET_PICKLE_BOOL);
      a->b = op == 0x88;
      push (r, a);
      return TRUE;
    case 'J': /* BININT */
      if (!take_le (r, 4, &u))
        return FALSE;
      push (r, new_int (r, (gint32) (guint32) u));
      return TRUE;
    case 'K': /* BININT1 */
      if (!take_le (r, 1, &u))
        return FALSE;
      push (r, new_int (r, (gint64) u));
      return TRUE;
    case 'M': /* BININT2 */
      if (!take_le (r, 2, &u))
        return FALSE;
      push (r, new_int (r, (gint64) u));
      return TRUE;
    case 0x8a: /* LONG1 */
    case 0x8b: /* LONG4 */
      {
        guint64 n;
        if (!take_le (r, op == 0x8a ? 1 : 4, &n))
          return FALSE;
        if (n > r->length - r->pos)
          return fail (r, FACET_ENGINE_ERROR_FORMAT, "truncated long integer");
        if (n > 8)
          {
            /* Wider than 64 bits: kept as its bytes. */
            if (!take (r, n, &p))
              return FALSE;
            a = new_string (r, (const char *) p, n, FALSE);
            a->kind = FACET_PICKLE_BIGINT;
            push (r, a);
            return TRUE;
          }
        if (!take_le (r, n, &u))
          return FALSE;
        if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1)
          u |= ~(guint64) 0 << (8 * n); /* sign-extend */
        push (r, new_int (r, (gint64) u));
        return TRUE;
      }
    case 'I': /* INT (text) */
    case 'L': /* LONG (text) */
      {
        g_autofree char *line = NULL;
        gint64 v;
        if (!take_line (r, &line))
          return FALSE;
        if (op == 'I' && (g_str_equal (line, "00") || g_str_equal (line, "01")))
          {
            a = value_new (r, FACET_PICKLE_BOOL);
            a->b = line[1] == '1';
            push (r, a);
            return TRUE;
          }
        if (!parse_text_int (r, line, &v))
          return FALSE;
        push (r, new_int (r, v));
        return TRUE;
      }
    case 'G': /* BINFLOAT, big-endian */
      {
        guint64 bits = 0;
        double d;
        if (!take (r, 8, &p))
          return FALSE;
        for (int i = 0; i < 8; i++)
          bits = (bits << 8) | p[i];
        memcpy (&d, &bits, 8);
        a = value_new (r, FACET_PICKLE_FLOAT);
        a->f = d;
        push (r, a);
        return TRUE;
      }
    case 'F': /* FLOAT (text) */
      {
        g_autofree char *line = NULL;
        char *end;
        if (!take_line (r, &line))
          return FALSE;
        a = value_new (r, FACET_PICKLE_FLOAT);
        a->f = g_ascii_strtod (line, &end);
        if (end == line || *end != '\0')
          return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed float “%s”", line);
        push (r, a);
        return TRUE;
      }

    case 'X': /* BINUNICODE */
    case 0x8c: /* SHORT_BINUNICODE */
    case 0x8d: /* BINUNICODE8 */
      if (!take_le (r, op == 0x8c ? 1 : op == 'X' ? 4 : 8, &u))
        return FALSE;
      if (u > r->length - r->pos)
        return fail (r, FACET_ENGINE_ERROR_FORMAT, "truncated string");
      if (!take (r, u, &p))
        return FALSE;
      return push_text (r, p, u);
    case 'B': /* BINBYTES */
    case 'C': /* SHORT_BINBYTES */
    case 0x8e: /* BINBYTES8 */
    case 0x96: /* BYTEARRAY8 */
    case 'T': /* BINSTRING */
    case 'U': /* SHORT_BINSTRING */
      if (!take_le (r, (op == 'C' || op == 'U') ? 1 : (op == 'B' || op == 'T') ? 4 : 8, &u))
        return FALSE;
      if (u > r->length - r->pos)
        return fail (r, FACET_ENGINE_ERROR_FORMAT, "truncated byte string");
      if (!take (r, u, &p))
        return FALSE;
      push (r, new_string (r, (const char *) p, u, FALSE));
      return TRUE;
    case 'S': /* STRING (quoted) */
    case 'V': /* UNICODE (raw-unicode-escape) */
      {
        g_autofree char *line = NULL;
        g_autoptr (GString) s = g_string_new (NULL);
        if (!take_line (r, &line) || !unquote (r, line, s, op == 'V'))
          return FALSE;
        if (op == 'V')
          return push_text (r, (const guint8 *) s->str, s->len);
        push (r, new_string (r, s->str, s->len, FALSE));
        return TRUE;
      }

    case ')': /* EMPTY_TUPLE */
      push (r, value_new (r, FACET_PICKLE_TUPLE));
      return TRUE;
    case 0x85: /* TUPLE1 */
      return tuple_from (r, 1);
    case 0x86: /* TUPLE2 */
      return tuple_from (r, 2);
    case 0x87: /* TUPLE3 */
      return tuple_from (r, 3);
    case 't': /* TUPLE */
      a = value_new (r, FACET_PICKLE_TUPLE);
      if (!pop_mark (r, a->items))
        return FALSE;
      push (r, a);
      return TRUE;
    case ']': /* EMPTY_LIST */
      push (r, value_new (r, FACET_PICKLE_LIST));
      return TRUE;
    case 'l': /* LIST */
      a = value_new (r, FACET_PICKLE_LIST);
      if (!pop_mark (r, a->items))
        return FALSE;
      push (r, a);
      return TRUE;
    case '}': /* EMPTY_DICT */
      push (r, value_new (r, FACET_PICKLE_DICT));
      return TRUE;
    case 'd': /* DICT */
      {
        g_autoptr (GPtrArray) kv = g_ptr_array_new ();
        if (!pop_mark (r, kv))
          return FALSE;
        a = value_new (r, FACET_PICKLE_DICT);
        if (!set_items (r, a, kv))
          return FALSE;
        push (r, a);
        return TRUE;
      }
    case 0x8f: /* EMPTY_SET */
      push (r, value_new (r, FACET_PICKLE_SET));
      return TRUE;
    case 0x91: /* FROZENSET */
      a = value_new (r, FACET_PICKLE_SET);
      if (!pop_mark (r, a->items))
        return FALSE;
      push (r, a);
      return TRUE;
    case 'a': /* APPEND */
      {
        g_autoptr (GPtrArray) one = g_ptr_array_new ();
        if (!pop (r, &b) || !top (r, &a))
          return FALSE;
        g_ptr_array_add (one, b);
        return append_items (r, a, one);
      }
    case 'e': /* APPENDS */
    case 0x90: /* ADDITEMS */
      {
        g_autoptr (GPtrArray) items = g_ptr_array_new ();
        if (!pop_mark (r, items) || !top (r, &a))
          return FALSE;
        return append_items (r, a, items);
      }
    case 's': /* SETITEM */
      {
        g_autoptr (GPtrArray) kv = g_ptr_array_new ();
        if (!pop (r, &c) || !pop (r, &b) || !top (r, &a))
          return FALSE;
        g_ptr_array_add (kv, b);
        g_ptr_array_add (kv, c);
        return set_items (r, a, kv);
      }
    case 'u': /* SETITEMS */
      {
        g_autoptr (GPtrArray) kv = g_ptr_array_new ();
        if (!pop_mark (r, kv) || !top (r, &a))
          return FALSE;
        return set_items (r, a, kv);
      }

    case 'p': /* PUT (text) */
    case 'g': /* GET (text) */
      {
        g_autofree char *line = NULL;
        guint64 idx;
        if (!take_line (r, &line))
          return FALSE;
        if (!g_ascii_string_to_unsigned (line, 10, 0, G_MAXUINT64, &idx, NULL))
          return fail (r, FACET_ENGINE_ERROR_FORMAT, "malformed memo index “%s”", line);
        if (op == 'g')
          return memo_get (r, idx);
        return top (r, &a) && memo_put (r, idx, a);
      }
    case 'q': /* BINPUT */
    case 'r': /* LONG_BINPUT */
      if (!take_le (r, op == 'q' ? 1 : 4, &u) || !top (r, &a))
        return FALSE;
      return memo_put (r, u, a);
    case 0x94: /* MEMOIZE */
      if (!top (r, &a))
        return FALSE;
      return memo_put (r, g_hash_table_size (r->memo), a);
    case 'h': /* BINGET */
    case 'j': /* LONG_BINGET */
      if (!take_le (r, op == 'h' ? 1 : 4, &u))
        return FALSE;
      return memo_get (r, u);

    case 'c': /* GLOBAL module\nname\n */
      {
        g_autofree char *module = NULL, *name = NULL;
        if (!take_line (r, &module) || !take_line (r, &name))
          return FALSE;
        if (!g_utf8_validate (module, -1, NULL) || !g_utf8_validate (name, -1, NULL))
          return fail (r, FACET_ENGINE_ERROR_FORMAT, "global name is not valid UTF-8");
        push (r, new_global (r, module, name));
        return TRUE;
      }
    case 0x93: /* STACK_GLOBAL */
      if (!pop (r, &b) || !pop (r, &a))
        return FALSE;
      if (a->kind != FACET_PICKLE_STRING || b->kind != FACET_PICKLE_STRING)
        return fail (r, FACET_ENGINE_ERROR_FORMAT, "STACK_GLOBAL needs two strings");
      push (r, new_global (r, a->str.data, b->str.data));
      return TRUE;
    case 'R': /* REDUCE */
      if (!pop (r, &b) || !pop (r, &a))
        return FALSE;
      if (b->kind != FACET_PICKLE_TUPLE)
        return fail (r, FACET_ENGINE_ERROR_FORMAT, "REDUCE arguments are not a tuple");
      if (!reduce (r, a, b, &c, 0))
        return FALSE;
      push (r, c);
      return TRUE;
    case 0x81: /* NEWOBJ cls args */
      if (!pop (r, &b) || !pop (r, &a))
        return FALSE;
      if (is_global (a, "collections", "OrderedDict"))
        push (r, value_new (r, FACET_PICKLE_DICT));
      else
        push (r, new_object (r, a, b));
      return TRUE;
    case 0x92: /* NEWOBJ_EX cls args kwargs */
      if (!pop (r, &c) || !pop (r, &b) || !pop (r, &a))
        return FALSE;
      push (r, new_object (r, a, b));
      return TRUE;
    case 'b': /* BUILD */
      if (!pop (r, &b) || !top (r, &a))
        return FALSE;
      /* Instance state is recorded, never applied through code. A dict's
       * state (OrderedDict._metadata of state dicts) is not needed. */
      if (a->kind == FACET_PICKLE_OBJECT)
        a->obj.state = b;
      return TRUE;
    case 'i': /* INST module\nname\n, args above MARK */
      {
        g_autofree char *module = NULL, *name = NULL;
        g_autoptr (GPtrArray) items = g_ptr_array_new ();
        if (!take_line (r, &module) || !take_line (r, &name) || !pop_mark (r, items))
          return FALSE;
        if (!g_utf8_validate (module, -1, NULL) || !g_utf8_validate (name, -1, NULL))
          return fail (r, FACET_ENGINE_ERROR_FORMAT, "class name is not valid UTF-8");
        a = value_new (r, FACET_PICKLE_TUPLE);
        g_ptr_array_extend (a->items, items, NULL, NULL);
        push (r, new_object (r, new_global (r, module, name), a));
        return TRUE;
      }
    case 'o': /* OBJ: MARK cls args... */
      {
        g_autoptr (GPtrArray) items = g_ptr_array_new ();
        if (!pop_mark (r, items))
          return FALSE;
        if (items->len == 0)
          return fail (r, FACET_ENGINE_ERROR_FORMAT, "OBJ without a class");
        a = value_new (r, FACET_PICKLE_TUPLE);
        for (guint i = 1; i < items->len; i++)
          g_ptr_array_add (a->items, g_ptr_array_index (items, i));
        push (r, new_object (r, g_ptr_array_index (items, 0), a));
        return TRUE;
      }
    case 'Q': /* BINPERSID */
      if (!pop (r, &a) || !persistent_load (r, a, &b))
        return FALSE;
      push (r, b);
      return TRUE;
    case 'P': /* PERSID (text) */
      return fail (r, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "text persistent ids are not written by PyTorch");
    case 0x82: /* EXT1 */
    case 0x83: /* EXT2 */
    case 0x84: /* EXT4 */
      return fail (r, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "opcode 0x%02x (extension registry) is not allowed", op);
    case 0x97: /* NEXT_BUFFER */
    case 0x98: /* READONLY_BUFFER */
      return fail (r, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "opcode 0x%02x (out-of-band buffer) is not allowed", op);
    default:
      return fail (r, FACET_ENGINE_ERROR_UNSUPPORTED, "unknown opcode 0x%02x", op);
    }
}

/**
 * facet_pickle_parse_next:
 * @consumed: (out): bytes used by this pickle (the legacy torch format
 *   stores several pickles back to back)
 */
FacetPickle *
facet_pickle_parse_next (const guint8 *data,
                         gsize         length,
                         gsize        *consumed,
                         const char   *name,
                         GError      **error)
{
  g_autoptr (FacetPickle) pickle = g_new0 (FacetPickle, 1);
  Reader r = { 0 };
  gboolean stop = FALSE, ok = TRUE;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  pickle->arena = g_ptr_array_new_with_free_func (value_free);
  r.pickle = pickle;
  r.data = data;
  r.length = length;
  r.name = name ? name : "pickle";
  r.stack = g_ptr_array_new ();
  r.marks = g_array_new (FALSE, FALSE, sizeof (guint));
  r.memo = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  r.error = error;

  while (ok && !stop)
    {
      if (r.pos >= r.length)
        ok = fail (&r, FACET_ENGINE_ERROR_FORMAT, "truncated (no STOP opcode)");
      else
        ok = step (&r, &stop);
    }
  if (ok && r.stack->len != 1)
    ok = fail (&r, FACET_ENGINE_ERROR_FORMAT, "%u values left on the stack at STOP",
               r.stack->len);
  if (ok)
    pickle->root = g_ptr_array_index (r.stack, 0);

  g_ptr_array_unref (r.stack);
  g_array_unref (r.marks);
  g_hash_table_unref (r.memo);

  if (!ok)
    return NULL;
  if (consumed != NULL)
    *consumed = r.pos;
  return g_steal_pointer (&pickle);
}

FacetPickle *
facet_pickle_parse (const guint8 *data,
                    gsize         length,
                    const char   *name,
                    GError      **error)
{
  return facet_pickle_parse_next (data, length, NULL, name, error);
}

void
facet_pickle_free (FacetPickle *pickle)
{
  if (pickle == NULL)
    return;
  g_ptr_array_unref (pickle->arena);
  g_free (pickle);
}

FacetPickleValue *
facet_pickle_get_root (FacetPickle *pickle)
{
  g_return_val_if_fail (pickle != NULL, NULL);
  return pickle->root;
}

gboolean
facet_pickle_is_string (FacetPickleValue *value,
                        const char       *text)
{
  return value != NULL && value->kind == FACET_PICKLE_STRING && g_str_equal (value->str.data, text);
}

/* Value of a string key in a dict (or NULL). */
FacetPickleValue *
facet_pickle_dict_lookup (FacetPickleValue *dict,
                          const char       *key)
{
  if (dict == NULL || dict->kind != FACET_PICKLE_DICT)
    return NULL;
  for (guint i = dict->items->len / 2; i-- > 0;)
    if (facet_pickle_is_string (g_ptr_array_index (dict->items, 2 * i), key))
      return g_ptr_array_index (dict->items, 2 * i + 1);
  return NULL;
}

/* Number of items of a container (dict: number of pairs). */
guint
facet_pickle_len (FacetPickleValue *value)
{
  switch (value->kind)
    {
    case FACET_PICKLE_TUPLE:
    case FACET_PICKLE_LIST:
    case FACET_PICKLE_SET:
      return value->items->len;
    case FACET_PICKLE_DICT:
      return value->items->len / 2;
    default:
      return 0;
    }
}

FacetPickleValue *
facet_pickle_item (FacetPickleValue *value,
                   guint             index)
{
  g_return_val_if_fail (value->items != NULL && index < value->items->len, NULL);
  return g_ptr_array_index (value->items, index);
}

static void
describe (FacetPickleValue *v,
          GString          *s,
          int               depth)
{
  if (depth <= 0)
    {
      g_string_append (s, "…");
      return;
    }
  switch (v->kind)
    {
    case FACET_PICKLE_NONE:
      g_string_append (s, "None");
      break;
    case FACET_PICKLE_BOOL:
      g_string_append (s, v->b ? "True" : "False");
      break;
    case FACET_PICKLE_INT:
      g_string_append_printf (s, "%" G_GINT64_FORMAT, v->i);
      break;
    case FACET_PICKLE_FLOAT:
      g_string_append_printf (s, "%g", v->f);
      break;
    case FACET_PICKLE_STRING:
      g_string_append_printf (s, "'%.*s%s'", (int) MIN (v->str.len, 60), v->str.data,
                              v->str.len > 60 ? "…" : "");
      break;
    case FACET_PICKLE_BYTES:
      g_string_append_printf (s, "<%" G_GSIZE_FORMAT " bytes>", v->str.len);
      break;
    case FACET_PICKLE_BIGINT:
      g_string_append (s, "<big integer>");
      break;
    case FACET_PICKLE_TUPLE:
    case FACET_PICKLE_LIST:
    case FACET_PICKLE_SET:
      g_string_append (s, v->kind == FACET_PICKLE_LIST ? "[" : v->kind == FACET_PICKLE_SET ? "{" : "(");
      for (guint i = 0; i < v->items->len && i < 8; i++)
        {
          if (i)
            g_string_append (s, ", ");
          describe (g_ptr_array_index (v->items, i), s, depth - 1);
        }
      if (v->items->len > 8)
        g_string_append_printf (s, ", … %u items", v->items->len);
      g_string_append (s, v->kind == FACET_PICKLE_LIST ? "]" : v->kind == FACET_PICKLE_SET ? "}" : ")");
      break;
    case FACET_PICKLE_DICT:
      g_string_append (s, "{");
      for (guint i = 0; i + 1 < v->items->len && i < 16; i += 2)
        {
          if (i)
            g_string_append (s, ", ");
          describe (g_ptr_array_index (v->items, i), s, depth - 1);
          g_string_append (s, ": ");
          describe (g_ptr_array_index (v->items, i + 1), s, depth - 1);
        }
      if (v->items->len > 16)
        g_string_append_printf (s, ", … %u items", v->items->len / 2);
      g_string_append (s, "}");
      break;
    case FACET_PICKLE_GLOBAL:
      g_string_append_printf (s, "%s.%s", v->obj.module, v->obj.name);
      break;
    case FACET_PICKLE_OBJECT:
      g_string_append_printf (s, "%s.%s(", v->obj.module, v->obj.name);
      if (v->obj.args)
        describe (v->obj.args, s, depth - 1);
      g_string_append (s, ")");
      break;
    case FACET_PICKLE_STORAGE:
      g_string_append_printf (s, "<storage %s %s>", v->storage.key,
                              facet_dtype_to_string (v->storage.dtype));
      break;
    case FACET_PICKLE_TENSOR:
      g_string_append (s, "<tensor>");
      break;
    case FACET_PICKLE_MARK:
    default:
      g_string_append (s, "?");
      break;
    }
}

/* A short, bounded description for messages. */
char *
facet_pickle_describe (FacetPickleValue *value,
                       int               depth)
{
  GString *s = g_string_new (NULL);

  describe (value, s, depth);
  return g_string_free (s, FALSE);
}

/* At most this much JSON from one value: a pickle may refer to the same
 * list or dict again and again (memo references), and written out in full
 * such a file of a few hundred bytes grows exponentially with the depth. */
#define JSON_MAX_BYTES (1 << 20)

static gboolean
to_json (FacetPickleValue *v,
         GString          *out,
         int               depth,
         gsize             limit)
{
  gboolean complete = TRUE;

  if (depth <= 0 || out->len > limit)
    {
      g_string_append (out, "null");
      return FALSE;
    }
  switch (v->kind)
    {
    case FACET_PICKLE_BOOL:
      g_string_append (out, v->b ? "true" : "false");
      return TRUE;
    case FACET_PICKLE_INT:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, v->i);
      return TRUE;
    case FACET_PICKLE_FLOAT:
      if (isfinite (v->f))
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          g_string_append (out, g_ascii_dtostr (buf, sizeof buf, v->f));
        }
      else
        g_string_append (out, "null");
      return TRUE;
    case FACET_PICKLE_STRING:
      {
        g_autoptr (JsonNode) n = json_node_init_string (json_node_alloc (), v->str.data);
        g_autofree char *s = json_to_string (n, FALSE);
        g_string_append (out, s);
        return TRUE;
      }
    case FACET_PICKLE_TUPLE:
    case FACET_PICKLE_LIST:
    case FACET_PICKLE_SET:
      g_string_append_c (out, '[');
      for (guint i = 0; i < v->items->len && complete; i++)
        {
          if (i)
            g_string_append_c (out, ',');
          complete = to_json (g_ptr_array_index (v->items, i), out, depth - 1, limit)
                     || out->len <= limit;
        }
      g_string_append_c (out, ']');
      return complete;
    case FACET_PICKLE_DICT:
      {
        gboolean first = TRUE;
        g_string_append_c (out, '{');
        for (guint i = 0; i + 1 < v->items->len && complete; i += 2)
          {
            FacetPickleValue *k = g_ptr_array_index (v->items, i);
            if (k->kind != FACET_PICKLE_STRING)
              continue;
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            to_json (k, out, depth - 1, limit);
            g_string_append_c (out, ':');
            complete = to_json (g_ptr_array_index (v->items, i + 1), out, depth - 1, limit)
                       || out->len <= limit;
          }
        g_string_append_c (out, '}');
        return complete;
      }
    case FACET_PICKLE_OBJECT:
      if (v->obj.state != NULL && v->obj.state->kind == FACET_PICKLE_DICT)
        return to_json (v->obj.state, out, depth, limit);
      g_string_append (out, "null");
      return TRUE;
    default:
      g_string_append (out, "null");
      return TRUE;
    }
}

/**
 * facet_pickle_to_json:
 *
 * Appends plain values (numbers, strings, lists, dicts with string keys,
 * opaque objects as their attribute dict) as JSON. Returns FALSE and
 * appends null for anything deeper than @depth; stops (still valid JSON)
 * once about a mebibyte has been written for the value.
 */
gboolean
facet_pickle_to_json (FacetPickleValue *v,
                      GString          *out,
                      int               depth)
{
  return to_json (v, out, depth, out->len + JSON_MAX_BYTES);
}
