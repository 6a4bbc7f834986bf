/* engine-checkpoint.h — reading and writing checkpoint files (internal)
 *
 * A FacetCheckpoint is what a file holds before it becomes a model: named
 * tensors in file order, in their stored data type, plus whatever else the
 * file says (safetensors metadata, or the non-tensor entries of a torch
 * checkpoint as JSON).
 */
#pragma once

#include "engine-model.h"
#include "engine-pickle.h"

G_BEGIN_DECLS

typedef struct
{
  FacetModelFormat format;
  GPtrArray       *tensors;  /* FacetTensor*, the state dict */
  GHashTable      *metadata; /* char* -> char*, safetensors __metadata__ */
  char            *extras;   /* JSON object of other top-level entries (epoch, args), or NULL */
  GPtrArray       *notes;    /* char*, what was ignored and why */
} FacetCheckpoint;

FacetCheckpoint *facet_checkpoint_new              (FacetModelFormat  format);
void             facet_checkpoint_free             (FacetCheckpoint  *checkpoint);
FacetCheckpoint *facet_checkpoint_read             (const char       *path,
                                                    GError          **error);
FacetCheckpoint *facet_checkpoint_read_safetensors (const char       *path,
                                                    GError          **error);
FacetCheckpoint *facet_checkpoint_read_pth         (const char       *path,
                                                    GError          **error);

/* The safetensors header alone, for the fuzzer and the reader: validates
 * every entry against @data_size (bytes after the header). */
gboolean         facet_safetensors_parse_header    (const guint8     *header,
                                                    gsize             header_len,
                                                    guint64           data_size,
                                                    const char       *name,
                                                    GPtrArray       **entries,
                                                    GHashTable      **metadata,
                                                    GError          **error);

typedef struct
{
  char      *name;
  FacetDType dtype;
  int        ndim;
  gint64     shape[FACET_TENSOR_MAX_DIMS];
  guint64    begin;
  guint64    end;
} FacetSafetensorsEntry;

void             facet_safetensors_entry_free      (gpointer          entry);

gboolean         facet_safetensors_write           (const char       *path,
                                                    GPtrArray        *tensors,
                                                    GHashTable       *metadata,
                                                    GError          **error);

/* Finds the state dict in a parsed torch pickle and turns its entries into
 * tensors over @storages (key -> GBytes of the whole storage). */
gboolean         facet_checkpoint_from_pickle      (FacetCheckpoint  *checkpoint,
                                                    FacetPickleValue *root,
                                                    GHashTable       *storages,
                                                    const char       *name,
                                                    GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetCheckpoint, facet_checkpoint_free)

G_END_DECLS
