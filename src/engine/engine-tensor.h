/* engine-tensor.h — named, typed, row-major tensors
 *
 * A tensor does not own its bytes: it holds a reference on a GBytes that may
 * be a mapped file, a buffer read from a zip entry, or owned memory.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FACET_TENSOR_MAX_DIMS 8

typedef enum
{
  FACET_DTYPE_F32,
  FACET_DTYPE_F16,
  FACET_DTYPE_BF16,
  FACET_DTYPE_F64,
  FACET_DTYPE_I64,
  FACET_DTYPE_I32,
  FACET_DTYPE_I16,
  FACET_DTYPE_I8,
  FACET_DTYPE_U8,
  FACET_DTYPE_BOOL,
} FacetDType;

typedef struct _FacetTensor FacetTensor;

struct _FacetTensor
{
  char         *name;
  FacetDType    dtype;
  int           ndim;
  gint64        shape[FACET_TENSOR_MAX_DIMS];
  gconstpointer data;   /* contiguous, row-major, little-endian */
  GBytes       *bytes;  /* keeps data alive */
};

gsize        facet_dtype_size       (FacetDType         dtype);
const char  *facet_dtype_to_string  (FacetDType         dtype);
gboolean     facet_dtype_from_string (const char       *name,
                                      FacetDType       *dtype);

FacetTensor *facet_tensor_new       (const char        *name,
                                     FacetDType         dtype,
                                     int                ndim,
                                     const gint64      *shape,
                                     GBytes            *bytes,
                                     gsize              offset);
FacetTensor *facet_tensor_new_f32   (const char        *name,
                                     int                ndim,
                                     const gint64      *shape,
                                     float            **data);
void         facet_tensor_free      (FacetTensor       *tensor);
gint64       facet_tensor_numel     (const FacetTensor *tensor);
gsize        facet_tensor_nbytes    (const FacetTensor *tensor);
char        *facet_tensor_shape_string (const FacetTensor *tensor);
gboolean     facet_tensor_has_shape (const FacetTensor *tensor,
                                     int                ndim,
                                     ...);
float       *facet_tensor_to_f32    (const FacetTensor *tensor,
                                     GError           **error);

float        facet_half_to_float   (guint16             h);
guint16      facet_float_to_half   (float               f);
float        facet_bf16_to_float   (guint16             h);
guint16      facet_float_to_bf16   (float               f);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetTensor, facet_tensor_free)

G_END_DECLS
