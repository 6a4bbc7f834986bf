/* engine-pickle.h — a restricted pickle reader (internal)
 *
 * Reads the pickle streams that torch.save() writes (protocols 0-5) into a
 * tree of plain values. It never imports or calls anything: a small set of
 * known constructors (OrderedDict, torch's tensor rebuild functions, sets,
 * storages) is interpreted as data; every other global becomes an opaque
 * object that records its name, arguments and state. Opcodes with no safe
 * meaning (the extension registry, out-of-band buffers) are errors.
 *
 * All values of one parse live in one arena (FacetPickle) and are freed
 * together, so self-referencing containers cannot leak.
 */
#pragma once

#include <glib.h>

#include "engine-tensor.h"

G_BEGIN_DECLS

typedef struct _FacetPickle      FacetPickle;
typedef struct _FacetPickleValue FacetPickleValue;

typedef enum
{
  FACET_PICKLE_NONE,
  FACET_PICKLE_BOOL,
  FACET_PICKLE_INT,
  FACET_PICKLE_FLOAT,
  FACET_PICKLE_STRING,  /* UTF-8 text */
  FACET_PICKLE_BYTES,
  FACET_PICKLE_TUPLE,
  FACET_PICKLE_LIST,
  FACET_PICKLE_SET,
  FACET_PICKLE_DICT,    /* items: key, value, key, value, ... in insertion order */
  FACET_PICKLE_GLOBAL,  /* a reference to module.name, never resolved */
  FACET_PICKLE_OBJECT,  /* an instance of an unknown class, kept opaque */
  FACET_PICKLE_STORAGE, /* a torch storage named by persistent id */
  FACET_PICKLE_TENSOR,
  FACET_PICKLE_BIGINT,  /* an integer wider than 64 bits: str holds its little-endian bytes */
  FACET_PICKLE_MARK,    /* internal */
} FacetPickleKind;

struct _FacetPickleValue
{
  FacetPickleKind kind;
  union
  {
    gboolean b;
    gint64   i;
    double   f;
    struct
    {
      char *data;
      gsize len;
    } str;
    GPtrArray *items;
    struct
    {
      char             *module;
      char             *name;
      FacetPickleValue *args;  /* may be NULL */
      FacetPickleValue *state; /* may be NULL */
      GPtrArray        *items; /* list or dict items added later, may be NULL */
    } obj;                     /* GLOBAL uses module and name only */
    struct
    {
      FacetDType dtype;
      char      *key;
      char      *location;
      gint64     numel;
      gint64     base;         /* element offset into the root storage (views) */
    } storage;
    struct
    {
      FacetPickleValue *storage;
      gint64            offset; /* in elements */
      int               ndim;
      gint64            shape[FACET_TENSOR_MAX_DIMS];
      gint64            stride[FACET_TENSOR_MAX_DIMS];
    } tensor;
  };
};

FacetPickle      *facet_pickle_parse       (const guint8  *data,
                                            gsize          length,
                                            const char    *name,
                                            GError       **error);
FacetPickle      *facet_pickle_parse_next  (const guint8  *data,
                                            gsize          length,
                                            gsize         *consumed,
                                            const char    *name,
                                            GError       **error);
void              facet_pickle_free        (FacetPickle   *pickle);
FacetPickleValue *facet_pickle_get_root    (FacetPickle   *pickle);

FacetPickleValue *facet_pickle_dict_lookup (FacetPickleValue *dict,
                                            const char       *key);
guint             facet_pickle_len         (FacetPickleValue *value);
FacetPickleValue *facet_pickle_item        (FacetPickleValue *value,
                                            guint             index);
gboolean          facet_pickle_is_string   (FacetPickleValue *value,
                                            const char       *text);
char             *facet_pickle_describe    (FacetPickleValue *value,
                                            int               depth);
gboolean          facet_pickle_to_json     (FacetPickleValue *value,
                                            GString          *out,
                                            int               depth);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetPickle, facet_pickle_free)

G_END_DECLS
