/* core-facs.h — the FACS vocabulary every module shares: action-unit
 * numbers and names, the AU lists of the public data sets, and how a face
 * is cut out for a model (crop kinds and their parameters).
 *
 * These are facts about faces and data sets, not about the engine: the
 * store, the face module and the engine all read them, so they live below
 * all three.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  FACET_CROP_BOX,     /* detector box + margin, squared, resized */
  FACET_CROP_ALIGNED, /* similarity transform of 5 landmarks onto a template */
  FACET_CROP_NONE,    /* the image already is the crop */
} FacetCropKind;

/* How one face becomes a model input: the part of a model configuration
 * that the face module needs (engine: facet_model_config_crop()). Plain
 * data, passed by value. */
typedef struct
{
  FacetCropKind kind;
  int           size;               /* output side, pixels (> 0) */
  float         margin;             /* box crops: fraction of the box added on each side */
  float         align_template[10]; /* aligned crops: eye centres, nose tip, mouth
                                     * corners in [0,1] of the crop */
} FacetCropSpec;

/* The default 5-point template (eye centres, nose tip, mouth corners):
 * keeps the brows and the chin inside the crop, as AU coding needs.
 * Copies 10 floats into @template_out. */
void        facet_crop_default_template (float          template_out[10]);

/* Static strings ("box", "aligned", "none"); not to be freed. */
const char *facet_crop_kind_to_string   (FacetCropKind  crop);
gboolean    facet_crop_kind_from_string (const char    *text,
                                         FacetCropKind *crop);

/* The AU list a data set's models predict, in head order ("BP4D",
 * "BP4D+", "DISFA"; case-insensitive), or NULL. The array is static:
 * borrowed, never freed. */
const int  *facet_dataset_aus           (const char    *dataset,
                                         int           *n_aus);

/* The English FACS name of an action unit ("lip corner puller" for 12),
 * a static string, or NULL for numbers this table does not name. The
 * translated names for the UI are in src/app/facet-facs.h. */
const char *facet_au_name               (int            au);

G_END_DECLS
