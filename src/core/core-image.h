/* core-image.h — 8-bit RGB images: load, save, resample, normalise
 *
 * A FacetImage is reference counted because decoded video frames are shared
 * between the frame cache, the pipeline and the app.
 *
 * Threads and ownership: the count is atomic, and an image that has been
 * shared (given to a cache, a queue or another thread) is read-only; only
 * the code that made it writes its pixels before sharing it. Every
 * function returning a FacetImage * returns a new reference.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FacetImage FacetImage;

struct _FacetImage
{
  int     width;
  int     height;
  int     stride; /* bytes per row, at least 3 * width */
  guint8 *data;   /* packed RGB, top row first */

  /*< private >*/
  gint    ref_count;
  GDestroyNotify free_func;
  gpointer free_data;
};

FacetImage *facet_image_new          (int                width,
                                      int                height);
FacetImage *facet_image_new_wrap     (guint8            *data,
                                      int                width,
                                      int                height,
                                      int                stride,
                                      GDestroyNotify     free_func,
                                      gpointer           free_data);
FacetImage *facet_image_copy         (const FacetImage  *image);
FacetImage *facet_image_ref          (FacetImage        *image);
void        facet_image_unref        (FacetImage        *image);

FacetImage *facet_image_load         (const char        *path,
                                      GError           **error);
FacetImage *facet_image_load_from_memory (const guint8  *data,
                                      gsize              length,
                                      const char        *name,
                                      GError           **error);
gboolean    facet_image_save_png     (const FacetImage  *image,
                                      const char        *path,
                                      GError           **error);
gboolean    facet_image_save_jpeg    (const FacetImage  *image,
                                      const char        *path,
                                      int                quality,
                                      GError           **error);

FacetImage *facet_image_resize       (const FacetImage  *image,
                                      int                width,
                                      int                height);
FacetImage *facet_image_crop         (const FacetImage  *image,
                                      int                x,
                                      int                y,
                                      int                width,
                                      int                height);
void        facet_image_to_tensor    (const FacetImage  *image,
                                      const float        mean[3],
                                      const float        std[3],
                                      float             *out);
gboolean    facet_image_equal        (const FacetImage  *a,
                                      const FacetImage  *b);
char       *facet_image_hash         (const FacetImage  *image);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetImage, facet_image_unref)

G_END_DECLS
