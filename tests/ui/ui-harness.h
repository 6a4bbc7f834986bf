/* ui-harness.h — driving the real application under Xvfb, for the UI
 * tests and the UI benchmark
 *
 * Keys and the mouse go through the X server (XTest), so they take the
 * same path as a coder's: X event, GDK, GTK's controllers, the window's
 * shortcuts and actions, the project's worker thread, SQLite.
 */
#pragma once

#include <gtk/gtk.h>

#include "facet-application.h"
#include "facet-window.h"

G_BEGIN_DECLS

typedef gboolean (*UiCondition) (gpointer data);

/* The recipe of the small project most UI tests code: two subjects, 3 s
 * each at 10 fps, 160 px, the first half imported as "Importer"'s. */
#define UI_RECIPE_TWO_SUBJECTS(name)                                                             \
  "[Demo]\nName=" name "\nFramesPerSecond=10\nFrameSize=160\nCodec=h264\nCrop=aligned\n"        \
  "LabelledFraction=0.5\nCoder=Importer\n"                                                        \
  "[Subject A1]\nSeed=11\nRecording=1\nSeconds=3\n"                                              \
  "[Subject B2]\nSeed=22\nRecording=2\nSeconds=3\n"

/* A small analysed demo project in @folder from @recipe_text; returns the
 * project path. The model: the demo model when there is one, else the
 * random stand-in (see facet-demo.c). */
char             *ui_build_project   (const char   *folder,
                                      const char   *recipe_text,
                                      gboolean      analyse,
                                      double       *seconds);
/* Another model row in @project for model 1's file, named @name, with a
 * made-up @sha256 (the store keeps one row per content): a model to switch
 * to, with no predictions yet. Returns its id. */
gint64            ui_add_model_row   (const char   *project,
                                      const char   *name,
                                      const char   *sha256);

/* The start of every UI test's main(): GLib's test framework, GTK and
 * libadwaita. FALSE (with a message) when there is no X display with
 * XTest: the test then exits 77 (skipped). */
gboolean          ui_init            (int          *argc,
                                      char       ***argv);

/* What most UI tests share: a small analysed demo project in a temporary
 * folder, the application, and one window on the project, coded as
 * "ui-test" with the face box off. */
typedef struct
{
  char             *folder;    /* the temporary folder, removed when every test passed */
  char             *project;   /* the project file in it */
  char             *artefacts; /* $FACET_UI_ARTEFACTS, else the folder: pictures kept */
  FacetApplication *app;
  FacetWindow      *window;
  GSettings        *settings;  /* the application's, in memory */
} UiFixture;

/* Builds and analyses the project from @recipe_text in a new folder named
 * after @prefix (g_dir_make_tmp's "prefix-XXXXXX"). */
void              ui_fixture_build   (UiFixture    *fx,
                                      const char   *prefix,
                                      const char   *recipe_text);
/* The application and a @width x @height window with the project open
 * and settled (g_error when it does not within @timeout seconds). */
void              ui_fixture_open    (UiFixture    *fx,
                                      int           width,
                                      int           height,
                                      double        timeout);
/* Closes the window and the application, removes the folder when @status
 * is 0 (and $FACET_UI_KEEP is unset), frees @fx; returns @status. */
int               ui_fixture_close   (UiFixture    *fx,
                                      int           status);
/* Waits until @window is settled; g_error after @timeout seconds. */
void              ui_settle          (FacetWindow  *window,
                                      double        timeout);
/* The window's current frame. */
gint64            ui_frame           (FacetWindow  *window);
/* The label in the project file, read through a connection of its own. */
FacetLabel        ui_read_label      (const char   *project,
                                      gint64        video,
                                      gint64        frame,
                                      int           au);

FacetApplication *ui_app_new         (void);
FacetWindow      *ui_window_new      (FacetApplication *app,
                                      int               width,
                                      int               height);
/* Iterates the main loop until @cond holds or @timeout seconds passed. */
gboolean          ui_wait            (UiCondition   cond,
                                      gpointer      data,
                                      double        timeout);
/* Lets the main loop run for @seconds. */
void              ui_idle            (double        seconds);
gboolean          ui_window_settled  (gpointer      window);
/* Waits until the window is settled and has been drawn since. */
gboolean          ui_wait_settled    (FacetWindow  *window,
                                      double        timeout);

/* Real input through the X server. @keysym is an X keysym (XK_Right ...);
 * @shift / @control hold those modifiers. */
gboolean          ui_input_available (void);
void              ui_focus           (GtkWindow    *window);
void              ui_key             (guint         keysym,
                                      gboolean      shift,
                                      gboolean      control);
/* A press at (x0, y0) of @widget, a move to (x1, y1) in steps, a release. */
void              ui_drag            (GtkWidget    *widget,
                                      double        x0,
                                      double        y0,
                                      double        x1,
                                      double        y1);
/* A click of the first button at (x, y) of @widget, or at its centre. */
void              ui_click           (GtkWidget    *widget,
                                      double        x,
                                      double        y);
void              ui_click_centre    (GtkWidget    *widget);
/* Types ASCII @text key by key. */
void              ui_type            (const char   *text);
/* The first widget of @type under @root (itself included) whose label or
 * button label starts with @text (NULL: any). */
GtkWidget        *ui_find            (GtkWidget    *root,
                                      GType         type,
                                      const char   *text);
/* A visible toplevel of @type, NULL when none. */
GtkWindow        *ui_find_toplevel   (GType         type);
/* The mapped labels under @root whose text is cut off (too narrow, too
 * low, or an ellipsized choice of a dropdown), described; NULL when none. */
char             *ui_dup_cut_labels  (GtkWidget    *root);
/* Deletes @path and everything under it (a test's temporary folder). */
void              ui_remove_tree     (const char   *path);

/* The widget as drawn now, as a texture of its size. */
GdkTexture       *ui_render          (GtkWidget    *widget);
/* Variance of the luminance over the whole texture (0: one flat colour). */
double            ui_texture_variance (GdkTexture  *texture);
/* Share of pixels in the rectangle that differ by more than @tolerance
 * (0-255) in any channel between two textures of the same size. */
double            ui_texture_diff    (GdkTexture   *a,
                                      GdkTexture   *b,
                                      const GdkRectangle *area,
                                      int           tolerance);
/* Where @widget lies in @ancestor's coordinates. */
gboolean          ui_widget_bounds   (GtkWidget    *widget,
                                      GtkWidget    *ancestor,
                                      GdkRectangle *bounds);

G_END_DECLS
