/* facet-demo.h — the demo project: synthetic subjects, labels and a model
 *
 * Plain C without GTK: the app builds the demo on first use, the UI tests
 * and the benchmark build small ones from their own recipes. A recipe is a
 * key file (data/demo/facet-demo.recipe describes the keys).
 */
#pragma once

#include <gio/gio.h>

#include "core/facet-core.h"

G_BEGIN_DECLS

typedef struct _FacetDemoRecipe FacetDemoRecipe;

FacetDemoRecipe *facet_demo_recipe_load_from_data (const char       *data,
                                                   gsize             length,
                                                   const char       *name,
                                                   GError          **error);
FacetDemoRecipe *facet_demo_recipe_load           (const char       *path,
                                                   GError          **error);
void             facet_demo_recipe_free           (FacetDemoRecipe  *recipe);
guint            facet_demo_recipe_get_n_subjects (const FacetDemoRecipe *recipe);
/* Frames over every subject's video. */
gint64           facet_demo_recipe_get_n_frames   (const FacetDemoRecipe *recipe);

/* The demo model file, looked for in one place only: $FACET_DEMO_MODEL,
 * the installed data folder, then the source tree's data/demo. NULL when
 * there is none (the demo then makes a random model, see facet_demo_build). */
char            *facet_demo_find_model            (void);
char            *facet_demo_default_folder        (void);
char            *facet_relocated_data_path        (const char *relative);
char            *facet_installed_data_path        (const char *relative);

/* The project file of the demo in @folder. */
char            *facet_demo_project_path          (const char       *folder);

/* Renders the recipe's subjects into @folder/media, writes their labels,
 * makes the project @folder/demo.facet with the videos, the recipe's share
 * of the labels (imported for the recipe's coder) and the demo model
 * (facet_demo_find_model, or a random tiny model with the generator's AUs
 * saved in @folder/models when there is none). Not analysed: the app does
 * that in the background so the timeline fills in while the coder looks.
 * The project file appears only when everything is done, so an interrupted
 * build starts again. Returns the project path. */
char            *facet_demo_build                 (const FacetDemoRecipe *recipe,
                                                   const char       *folder,
                                                   FacetProgressFunc progress,
                                                   gpointer          progress_data,
                                                   GCancellable     *cancellable,
                                                   GError          **error);

/* Progress of facet_demo_build_async, on the caller's main context, while
 * @source lives. */
typedef void (*FacetDemoProgressFunc) (GObject    *source,
                                       double      fraction,
                                       const char *message);

/* facet_demo_build in a worker thread, the recipe read from the GResource
 * @recipe_resource (the app's carries "facet-demo.recipe"); @source is the
 * GTask's source object (kept alive until the answer). */
void             facet_demo_build_async           (GObject               *source,
                                                   const char            *recipe_resource,
                                                   const char            *folder,
                                                   FacetDemoProgressFunc  progress,
                                                   GCancellable          *cancellable,
                                                   GAsyncReadyCallback    callback,
                                                   gpointer               user_data);
/* The project path, or NULL with @error set. */
char            *facet_demo_build_finish          (GAsyncResult          *result,
                                                   GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetDemoRecipe, facet_demo_recipe_free)

G_END_DECLS
