/* engine-tensor.c — named, typed, row-major tensors */
#define G_LOG_DOMAIN "facet-engine"

#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "engine-error.h"
#include "engine-tensor.h"

G_DEFINE_QUARK (facet-engine-error-quark, facet_engine_error)

static const struct
{
  const char *name;
  gsize       size;
} dtype_info[] = {
  [FACET_DTYPE_F32] = { "F32", 4 },
  [FACET_DTYPE_F16] = { "F16", 2 },
  [FACET_DTYPE_BF16] = { "BF16", 2 },
  [FACET_DTYPE_F64] = { "F64", 8 },
  [FACET_DTYPE_I64] = { "I64", 8 },
  [FACET_DTYPE_I32] = { "I32", 4 },
  [FACET_DTYPE_I16] = { "I16", 2 },
  [FACET_DTYPE_I8] = { "I8", 1 },
  [FACET_DTYPE_U8] = { "U8", 1 },
  [FACET_DTYPE_BOOL] = { "BOOL", 1 },
};

gsize
facet_dtype_size (FacetDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), 0);
  return dtype_info[dtype].size;
}

/* The safetensors spelling ("F32", "BF16", ...). */
const char *
facet_dtype_to_string (FacetDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), "?");
  return dtype_info[dtype].name;
}

gboolean
facet_dtype_from_string (const char *name,
                         FacetDType *dtype)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtype_info); i++)
    if (g_strcmp0 (dtype_info[i].name, name) == 0)
      {
        *dtype = (FacetDType) i;
        return TRUE;
      }
  return FALSE;
}

/**
 * facet_tensor_new:
 * @bytes: the storage; the tensor takes its own reference
 * @offset: byte offset of the first element in @bytes
 *
 * The caller guarantees that @bytes holds the whole tensor past @offset.
 */
FacetTensor *
facet_tensor_new (const char   *name,
                  FacetDType    dtype,
                  int           ndim,
                  const gint64 *shape,
                  GBytes       *bytes,
                  gsize         offset)
{
  FacetTensor *t;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (ndim >= 0 && ndim <= FACET_TENSOR_MAX_DIMS, NULL);
  g_return_val_if_fail (bytes != NULL, NULL);

  t = g_new0 (FacetTensor, 1);
  t->name = g_strdup (name);
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  t->bytes = g_bytes_ref (bytes);
  t->data = (const guint8 *) g_bytes_get_data (bytes, NULL) + offset;
  g_return_val_if_fail (offset + facet_tensor_nbytes (t) <= g_bytes_get_size (bytes), t);
  return t;
}

/**
 * facet_tensor_new_f32:
 * @data: (out) (optional): where to write the pointer to the new, zeroed values
 *
 * Creates an fp32 tensor owning fresh, 64-byte aligned memory.
 */
FacetTensor *
facet_tensor_new_f32 (const char   *name,
                      int           ndim,
                      const gint64 *shape,
                      float       **data)
{
  g_autoptr (GBytes) bytes = NULL;
  gint64 numel = 1;
  gpointer mem;
  FacetTensor *t;

  for (int i = 0; i < ndim; i++)
    numel *= shape[i];
  mem = g_aligned_alloc0 ((gsize) MAX (numel, 1), sizeof (float), 64);
  bytes = g_bytes_new_with_free_func (mem, (gsize) numel * sizeof (float), g_aligned_free, mem);
  t = facet_tensor_new (name, FACET_DTYPE_F32, ndim, shape, bytes, 0);
  if (data != NULL)
    *data = mem;
  return t;
}

void
facet_tensor_free (FacetTensor *tensor)
{
  if (tensor == NULL)
    return;
  g_free (tensor->name);
  g_bytes_unref (tensor->bytes);
  g_free (tensor);
}

gint64
facet_tensor_numel (const FacetTensor *tensor)
{
  gint64 n = 1;

  g_return_val_if_fail (tensor != NULL, 0);
  for (int i = 0; i < tensor->ndim; i++)
    n *= tensor->shape[i];
  return n;
}

gsize
facet_tensor_nbytes (const FacetTensor *tensor)
{
  return (gsize) facet_tensor_numel (tensor) * facet_dtype_size (tensor->dtype);
}

char *
facet_tensor_shape_string (const FacetTensor *tensor)
{
  GString *s = g_string_new ("[");

  for (int i = 0; i < tensor->ndim; i++)
    g_string_append_printf (s, i ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, tensor->shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/**
 * facet_tensor_has_shape:
 * @...: @ndim sizes, as int
 */
gboolean
facet_tensor_has_shape (const FacetTensor *tensor,
                        int                ndim,
                        ...)
{
  va_list ap;
  gboolean ok = tensor->ndim == ndim;

  va_start (ap, ndim);
  for (int i = 0; i < ndim; i++)
    {
      int d = va_arg (ap, int);
      if (ok && tensor->shape[i] != d)
        ok = FALSE;
    }
  va_end (ap);
  return ok;
}

float
facet_half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  guint32 bits;
  float f;

  if (exp == 0)
    {
      /* zero or subnormal: value = mant * 2^-24 */
      f = (float) mant * (1.0f / 16777216.0f);
      return sign ? -f : f;
    }
  if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13);
  else
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  memcpy (&f, &bits, 4);
  return f;
}

/* Round to nearest even, with overflow to infinity and gradual underflow. */
guint16
facet_float_to_half (float f)
{
  guint32 bits, sign, mant;
  gint32 exp;

  memcpy (&bits, &f, 4);
  sign = (bits >> 16) & 0x8000;
  exp = (gint32) ((bits >> 23) & 0xff) - 127 + 15;
  mant = bits & 0x7fffff;

  if (((bits >> 23) & 0xff) == 0xff)
    return (guint16) (sign | 0x7c00 | (mant ? 0x200 : 0));
  if (exp >= 31)
    return (guint16) (sign | 0x7c00);
  if (exp <= 0)
    {
      guint32 shift, half, rounded;
      if (exp < -10)
        return (guint16) sign;
      mant |= 0x800000;
      shift = (guint32) (14 - exp);
      half = 1u << (shift - 1);
      rounded = mant >> shift;
      if ((mant & ((1u << shift) - 1)) > half
          || ((mant & ((1u << shift) - 1)) == half && (rounded & 1)))
        rounded++;
      return (guint16) (sign | rounded);
    }
  {
    guint32 h = ((guint32) exp << 10) | (mant >> 13);
    guint32 rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
      h++;
    return (guint16) (sign | h);
  }
}

float
facet_bf16_to_float (guint16 h)
{
  guint32 bits = (guint32) h << 16;
  float f;

  memcpy (&f, &bits, 4);
  return f;
}

guint16
facet_float_to_bf16 (float f)
{
  guint32 bits;

  memcpy (&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return (guint16) ((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1);
  return (guint16) (bits >> 16);
}

/**
 * facet_tensor_to_f32:
 *
 * Converts any floating or integer tensor to a new fp32 array (free with
 * g_aligned_free).
 */
float *
facet_tensor_to_f32 (const FacetTensor *tensor,
                     GError           **error)
{
  gint64 n;
  float *out;
  const guint8 *p;

  g_return_val_if_fail (tensor != NULL, NULL);

  n = facet_tensor_numel (tensor);
  out = g_aligned_alloc ((gsize) MAX (n, 1), sizeof (float), 64);
  p = tensor->data;

  switch (tensor->dtype)
    {
    case FACET_DTYPE_F32:
      memcpy (out, p, (gsize) n * 4);
      break;
    case FACET_DTYPE_F16:
      for (gint64 i = 0; i < n; i++)
        {
          guint16 h;
          memcpy (&h, p + 2 * i, 2);
          out[i] = facet_half_to_float (GUINT16_FROM_LE (h));
        }
      break;
    case FACET_DTYPE_BF16:
      for (gint64 i = 0; i < n; i++)
        {
          guint16 h;
          memcpy (&h, p + 2 * i, 2);
          out[i] = facet_bf16_to_float (GUINT16_FROM_LE (h));
        }
      break;
    case FACET_DTYPE_F64:
      for (gint64 i = 0; i < n; i++)
        {
          double d;
          memcpy (&d, p + 8 * i, 8);
          out[i] = (float) d;
        }
      break;
    case FACET_DTYPE_I64:
      for (gint64 i = 0; i < n; i++)
        {
          gint64 v;
          memcpy (&v, p + 8 * i, 8);
          out[i] = (float) v;
        }
      break;
    case FACET_DTYPE_I32:
      for (gint64 i = 0; i < n; i++)
        {
          gint32 v;
          memcpy (&v, p + 4 * i, 4);
          out[i] = (float) v;
        }
      break;
    case FACET_DTYPE_I16:
      for (gint64 i = 0; i < n; i++)
        {
          gint16 v;
          memcpy (&v, p + 2 * i, 2);
          out[i] = (float) v;
        }
      break;
    case FACET_DTYPE_I8:
      for (gint64 i = 0; i < n; i++)
        out[i] = (float) (gint8) p[i];
      break;
    case FACET_DTYPE_U8:
    case FACET_DTYPE_BOOL:
      for (gint64 i = 0; i < n; i++)
        out[i] = (float) p[i];
      break;
    default:
      g_aligned_free (out);
      g_set_error (error, FACET_ENGINE_ERROR, FACET_ENGINE_ERROR_UNSUPPORTED,
                   "tensor %s: unsupported data type", tensor->name);
      return NULL;
    }
  return out;
}
