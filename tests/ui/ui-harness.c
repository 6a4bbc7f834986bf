/* ui-harness.c — driving the real application under Xvfb */
#include "config.h"

#include <math.h>

#include <glib/gstdio.h>

#include <gdk/x11/gdkx.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "engine/facet-engine.h"
#include "pipeline/facet-pipeline.h"

#include "facet-demo.h"
#include "ui-harness.h"

gint64
ui_add_model_row (const char *project,
                  const char *name,
                  const char *sha256)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (project, &error);
  g_autoptr (FacetStoreModel) m = NULL;
  g_autofree char *path = NULL;
  FacetStoreModelInfo info = { 0 };
  gint64 id;

  g_assert_no_error (error);
  m = facet_store_get_model (store, 1, &error);
  g_assert_no_error (error);
  path = facet_store_model_path (store, m);
  info.file = path;
  info.name = name;
  info.sha256 = sha256;
  info.n_aus = m->n_aus;
  info.au_ids = m->au_ids;
  info.thresholds = m->thresholds;
  info.config_json = m->config_json;
  info.settings_json = m->settings_json;
  id = facet_store_add_model (store, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 1);
  return id;
}

char *
ui_build_project (const char *folder,
                  const char *recipe_text,
                  gboolean    analyse,
                  double     *seconds)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetDemoRecipe) recipe = NULL;
  g_autoptr (FacetStore) store = NULL;
  g_autoptr (FacetModel) model = NULL;
  g_autoptr (FacetEngine) engine = NULL;
  char *project;
  gint64 model_id = 0;
  double start = g_get_monotonic_time () / 1e6;

  recipe = facet_demo_recipe_load_from_data (recipe_text, strlen (recipe_text), "test.recipe",
                                             &error);
  g_assert_no_error (error);
  project = facet_demo_build (recipe, folder, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  if (analyse)
    {
      store = facet_store_open (project, &error);
      g_assert_no_error (error);
      model = facet_pipeline_load_model (store, NULL, &model_id, &error);
      g_assert_no_error (error);
      engine = facet_engine_new (model, "cpu", &error);
      g_assert_no_error (error);
      facet_analysis_run (store, engine, model_id, NULL, NULL, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
    }
  if (seconds != NULL)
    *seconds = g_get_monotonic_time () / 1e6 - start;
  return project;
}

gboolean
ui_init (int    *argc,
         char ***argv)
{
  g_test_init (argc, argv, NULL);
  gtk_init ();
  adw_init ();
  if (!ui_input_available ())
    {
      g_printerr ("no X display with XTest: run under tests/ui/run-xvfb.sh\n");
      return FALSE;
    }
  return TRUE;
}

void
ui_fixture_build (UiFixture  *fx,
                  const char *prefix,
                  const char *recipe_text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *pattern = g_strdup_printf ("%s-XXXXXX", prefix);
  const char *artefacts = g_getenv ("FACET_UI_ARTEFACTS");
  double seconds;

  fx->folder = g_dir_make_tmp (pattern, &error);
  g_assert_no_error (error);
  fx->artefacts = g_strdup (artefacts != NULL ? artefacts : fx->folder);
  g_mkdir_with_parents (fx->artefacts, 0755);
  fx->project = ui_build_project (fx->folder, recipe_text, TRUE, &seconds);
  g_test_message ("demo project built and analysed in %.1f s", seconds);
}

void
ui_fixture_open (UiFixture *fx,
                 int        width,
                 int        height,
                 double     timeout)
{
  fx->app = ui_app_new ();
  fx->settings = g_settings_new ("io.github.facet.Facet");
  g_settings_set_string (fx->settings, "coder-name", "ui-test");
  g_settings_set_boolean (fx->settings, "show-face-box", FALSE);
  fx->window = ui_window_new (fx->app, width, height);
  facet_window_open_project (fx->window, fx->project, FALSE, FALSE);
  if (!ui_wait_settled (fx->window, timeout))
    g_error ("the demo project did not open within %.0f s", timeout);
}

int
ui_fixture_close (UiFixture *fx,
                  int        status)
{
  if (fx->window != NULL)
    gtk_window_destroy (GTK_WINDOW (fx->window));
  fx->window = NULL;
  ui_idle (0.2);
  g_clear_object (&fx->settings);
  g_clear_object (&fx->app);
  if (status == 0 && g_getenv ("FACET_UI_KEEP") == NULL && fx->folder != NULL)
    ui_remove_tree (fx->folder);
  g_clear_pointer (&fx->folder, g_free);
  g_clear_pointer (&fx->project, g_free);
  g_clear_pointer (&fx->artefacts, g_free);
  return status;
}

void
ui_settle (FacetWindow *window,
           double       timeout)
{
  if (!ui_wait_settled (window, timeout))
    g_error ("the window did not settle within %.0f s", timeout);
}

gint64
ui_frame (FacetWindow *window)
{
  return facet_player_get_frame (facet_window_get_player (window));
}

FacetLabel
ui_read_label (const char *project,
               gint64      video,
               gint64      frame,
               int         au)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FacetStore) store = facet_store_open (project, &error);
  FacetLabel label = { 0 };

  g_assert_no_error (error);
  facet_store_get_label (store, video, frame, au, &label, &error);
  g_assert_no_error (error);
  return label;
}

FacetApplication *
ui_app_new (void)
{
  g_autoptr (GError) error = NULL;
  FacetApplication *app;

  g_assert_true (facet_application_check_schema (&error));
  /* Not unique: tests never meet another instance over D-Bus. */
  app = facet_application_new ("io.github.facet.Facet.UiTest", G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);
  return app;
}

FacetWindow *
ui_window_new (FacetApplication *app,
               int               width,
               int               height)
{
  FacetWindow *window = facet_window_new (ADW_APPLICATION (app));

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_present (GTK_WINDOW (window));
  ui_idle (0.3);
  return window;
}

gboolean
ui_wait (UiCondition cond,
         gpointer    data,
         double      timeout)
{
  gint64 end = g_get_monotonic_time () + (gint64) (timeout * 1e6);

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      /* Short sleeps: answers from worker threads come as idle sources. */
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
  return TRUE;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

void
ui_idle (double seconds)
{
  ui_wait (never, NULL, seconds);
}

gboolean
ui_window_settled (gpointer window)
{
  return facet_window_is_settled (FACET_WINDOW (window));
}

static void
on_after_paint (GdkFrameClock *clock,
                gboolean      *painted)
{
  *painted = TRUE;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

gboolean
ui_wait_settled (FacetWindow *window,
                 double       timeout)
{
  gint64 end = g_get_monotonic_time () + (gint64) (timeout * 1e6);

  /* Settled, then drawn, and still settled after the drawing: a reload
   * may start in between (the project is polled for other writers), and
   * then the wait goes on. */
  for (;;)
    {
      double left = (end - g_get_monotonic_time ()) / 1e6;
      GdkFrameClock *clock;
      gboolean painted = FALSE;
      gulong id;

      if (left <= 0 || !ui_wait (ui_window_settled, window, left))
        return FALSE;
      clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
      if (clock == NULL)
        return TRUE;
      id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &painted);
      gtk_widget_queue_draw (GTK_WIDGET (window));
      left = (end - g_get_monotonic_time ()) / 1e6;
      /* The machine may be loaded (tests run in parallel): the same
       * patience as for the data. */
      ui_wait (is_true, &painted, MAX (left, 0.1));
      g_signal_handler_disconnect (clock, id);
      if (!painted)
        return FALSE;
      if (facet_window_is_settled (window))
        return TRUE;
    }
}

/* ---- Input ------------------------------------------------------------------ */

static Display *
x_display (void)
{
  GdkDisplay *display = gdk_display_get_default ();

  if (display == NULL || !GDK_IS_X11_DISPLAY (display))
    return NULL;
  return gdk_x11_display_get_xdisplay (display);
}

gboolean
ui_input_available (void)
{
  Display *dpy = x_display ();
  int event, error, major, minor;

  return dpy != NULL && XTestQueryExtension (dpy, &event, &error, &major, &minor);
}

void
ui_focus (GtkWindow *window)
{
  Display *dpy = x_display ();
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (window));

  g_assert_nonnull (dpy);
  /* No window manager under Xvfb: give the window the focus ourselves. */
  XSetInputFocus (dpy, gdk_x11_surface_get_xid (surface), RevertToParent, CurrentTime);
  XSync (dpy, False);
  ui_idle (0.1);
}

static void
key_event (Display *dpy,
           KeySym   keysym,
           Bool     press)
{
  KeyCode code = XKeysymToKeycode (dpy, keysym);

  g_assert_cmpint (code, !=, 0);
  XTestFakeKeyEvent (dpy, code, press, CurrentTime);
}

void
ui_key (guint    keysym,
        gboolean shift,
        gboolean control)
{
  Display *dpy = x_display ();

  g_assert_nonnull (dpy);
  if (control)
    key_event (dpy, XK_Control_L, True);
  if (shift)
    key_event (dpy, XK_Shift_L, True);
  key_event (dpy, keysym, True);
  key_event (dpy, keysym, False);
  if (shift)
    key_event (dpy, XK_Shift_L, False);
  if (control)
    key_event (dpy, XK_Control_L, False);
  XSync (dpy, False);
  ui_idle (0.05);
}

/* Root coordinates of a point of @widget: without a window manager the
 * toplevel sits at the surface's position, plus its decoration offset. */
static void
to_root (GtkWidget *widget,
         double     x,
         double     y,
         int       *rx,
         int       *ry)
{
  GtkNative *native = gtk_widget_get_native (widget);
  GdkSurface *surface = gtk_native_get_surface (native);
  Display *dpy = x_display ();
  graphene_point_t p;
  double sx, sy;
  Window child;
  int ox, oy;

  g_assert_true (gtk_widget_compute_point (widget, GTK_WIDGET (native), &GRAPHENE_POINT_INIT (x, y),
                                           &p));
  gtk_native_get_surface_transform (native, &sx, &sy);
  XTranslateCoordinates (dpy, gdk_x11_surface_get_xid (surface), DefaultRootWindow (dpy), 0, 0, &ox,
                         &oy,
                         &child);
  *rx = ox + (int) lround (p.x + sx);
  *ry = oy + (int) lround (p.y + sy);
}

/* The pointer to (@x, @y) of @widget, then the first button down. */
static void
move_and_press (Display   *dpy,
                GtkWidget *widget,
                double     x,
                double     y)
{
  int rx, ry;

  g_assert_nonnull (dpy);
  to_root (widget, x, y, &rx, &ry);
  XTestFakeMotionEvent (dpy, -1, rx, ry, CurrentTime);
  XSync (dpy, False);
  ui_idle (0.05);
  XTestFakeButtonEvent (dpy, 1, True, CurrentTime);
  XSync (dpy, False);
}

void
ui_drag (GtkWidget *widget,
         double     x0,
         double     y0,
         double     x1,
         double     y1)
{
  Display *dpy = x_display ();
  int rx, ry;

  move_and_press (dpy, widget, x0, y0);
  ui_idle (0.05);
  for (int i = 1; i <= 8; i++)
    {
      to_root (widget, x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8, &rx, &ry);
      XTestFakeMotionEvent (dpy, -1, rx, ry, CurrentTime);
      XSync (dpy, False);
      ui_idle (0.03);
    }
  XTestFakeButtonEvent (dpy, 1, False, CurrentTime);
  XSync (dpy, False);
  ui_idle (0.1);
}

void
ui_click (GtkWidget *widget,
          double     x,
          double     y)
{
  Display *dpy = x_display ();

  move_and_press (dpy, widget, x, y);
  ui_idle (0.03);
  XTestFakeButtonEvent (dpy, 1, False, CurrentTime);
  XSync (dpy, False);
  ui_idle (0.1);
}

void
ui_click_centre (GtkWidget *widget)
{
  ui_click (widget, gtk_widget_get_width (widget) / 2.0, gtk_widget_get_height (widget) / 2.0);
}

void
ui_type (const char *text)
{
  for (const char *c = text; *c != '\0'; c++)
    ui_key (gdk_unicode_to_keyval ((guint) *c), FALSE, FALSE);
}

GtkWidget *
ui_find (GtkWidget  *root,
         GType       type,
         const char *text)
{
  gboolean matches = G_TYPE_CHECK_INSTANCE_TYPE (root, type);

  if (matches && text != NULL)
    {
      const char *has = GTK_IS_BUTTON (root) ? gtk_button_get_label (GTK_BUTTON (root))
                        : GTK_IS_LABEL (root) ? gtk_label_get_text (GTK_LABEL (root)) : NULL;
      matches = has != NULL && g_str_has_prefix (has, text);
    }
  if (matches)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = ui_find (c, type, text);
      if (found != NULL)
        return found;
    }
  return NULL;
}

GtkWindow *
ui_find_toplevel (GType type)
{
  GList *toplevels = gtk_window_list_toplevels ();
  GtkWindow *found = NULL;

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type) && gtk_widget_get_visible (l->data))
      found = l->data;
  g_list_free (toplevels);
  return found;
}

/* A label whose text does not fit where it is drawn: wider than its
 * allocation without ellipsizing, taller than it when wrapped, or
 * ellipsized although the text is what the coder needs to read. */
static void
check_label (GtkLabel *label,
             GString  *cut)
{
  GtkWidget *w = GTK_WIDGET (label);
  int width = gtk_widget_get_width (w), height = gtk_widget_get_height (w);
  const char *text = gtk_label_get_text (label);
  PangoLayout *layout;
  PangoRectangle ink, logical;

  if (!gtk_widget_get_mapped (w) || text == NULL || *text == '\0' || width <= 0)
    return;
  /* The text as laid out for the label's allocation (its content box). */
  layout = gtk_label_get_layout (label);
  pango_layout_get_pixel_extents (layout, &ink, &logical);
  if (gtk_label_get_ellipsize (label) == PANGO_ELLIPSIZE_NONE && !gtk_label_get_wrap (label)
      && logical.width > width + 1)
    g_string_append_printf (cut, "'%s' needs %d px, has %d; ", text, logical.width, width);
  else if (gtk_label_get_wrap (label) && logical.height > height + 1)
    g_string_append_printf (cut, "'%s' needs %d px height, has %d; ", text, logical.height,
                            height);
  else if (pango_layout_is_ellipsized (layout)
           && (gtk_widget_get_ancestor (w, GTK_TYPE_DROP_DOWN) != NULL
               || gtk_widget_get_ancestor (w, ADW_TYPE_COMBO_ROW) != NULL)
           && gtk_widget_get_ancestor (w, GTK_TYPE_POPOVER) == NULL)
    g_string_append_printf (cut, "'%s' (a choice) is ellipsized; ", text);
}

static void
collect_cut (GtkWidget *root,
             GString   *cut)
{
  if (!gtk_widget_get_mapped (root))
    return;
  if (GTK_IS_LABEL (root))
    check_label (GTK_LABEL (root), cut);
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    collect_cut (c, cut);
}

char *
ui_dup_cut_labels (GtkWidget *root)
{
  GString *cut = g_string_new (NULL);

  collect_cut (root, cut);
  if (cut->len == 0)
    {
      g_string_free (cut, TRUE);
      return NULL;
    }
  return g_string_free (cut, FALSE);
}

static void
remove_file_tree (GFile *file)
{
  g_autoptr (GFileEnumerator) children =
    g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                               G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                               NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autoptr (GFile) child = g_file_get_child (file, g_file_info_get_name (info));
      remove_file_tree (child);
      g_object_unref (info);
    }
  g_file_delete (file, NULL, NULL);
}

void
ui_remove_tree (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);

  remove_file_tree (file);
}

/* ---- Pictures --------------------------------------------------------------- */

/* A widget that has not been drawn since it last changed (a window that
 * just got its focus back from a closed dialog, say) snapshots to nothing:
 * it is then asked to draw and tried again, for up to 10 s. */
GdkTexture *
ui_render (GtkWidget *widget)
{
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  g_autoptr (GskRenderNode) node = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  g_assert_cmpint (w, >, 0);
  g_assert_cmpint (h, >, 0);
  for (int attempt = 0; attempt < 100 && node == NULL; attempt++)
    {
      GtkSnapshot *snapshot = gtk_snapshot_new ();

      if (attempt > 0)
        {
          gtk_widget_queue_draw (widget);
          ui_idle (0.1);
        }
      gdk_paintable_snapshot (paintable, snapshot, w, h);
      node = gtk_snapshot_free_to_node (snapshot);
    }
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
}

static guint8 *
download (GdkTexture *t,
          gsize      *stride)
{
  int w = gdk_texture_get_width (t), h = gdk_texture_get_height (t);
  guint8 *data;

  *stride = (gsize) w * 4;
  data = g_malloc (*stride * h);
  gdk_texture_download (t, data, *stride);
  return data;
}

double
ui_texture_variance (GdkTexture *texture)
{
  gsize stride;
  g_autofree guint8 *px = download (texture, &stride);
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  double sum = 0, sum2 = 0, n = (double) w * h;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const guint8 *p = px + y * stride + 4 * x;
        /* Cairo's ARGB32 in memory: B, G, R, A. */
        double l = 0.0722 * p[0] + 0.7152 * p[1] + 0.2126 * p[2];
        sum += l;
        sum2 += l * l;
      }
  return sum2 / n - (sum / n) * (sum / n);
}

double
ui_texture_diff (GdkTexture         *a,
                 GdkTexture         *b,
                 const GdkRectangle *area,
                 int                 tolerance)
{
  gsize sa, sb;
  g_autofree guint8 *pa = download (a, &sa);
  g_autofree guint8 *pb = download (b, &sb);
  int w = MIN (gdk_texture_get_width (a), gdk_texture_get_width (b));
  int h = MIN (gdk_texture_get_height (a), gdk_texture_get_height (b));
  int x0 = CLAMP (area->x, 0, w), y0 = CLAMP (area->y, 0, h);
  int x1 = CLAMP (area->x + area->width, 0, w), y1 = CLAMP (area->y + area->height, 0, h);
  double differ = 0, n = 0;

  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      {
        const guint8 *p = pa + y * sa + 4 * x, *q = pb + y * sb + 4 * x;
        n++;
        for (int c = 0; c < 3; c++)
          if (abs (p[c] - q[c]) > tolerance)
            {
              differ++;
              break;
            }
      }
  return n > 0 ? differ / n : 0;
}

gboolean
ui_widget_bounds (GtkWidget    *widget,
                  GtkWidget    *ancestor,
                  GdkRectangle *bounds)
{
  graphene_rect_t r;

  if (!gtk_widget_compute_bounds (widget, ancestor, &r))
    return FALSE;
  bounds->x = (int) r.origin.x;
  bounds->y = (int) r.origin.y;
  bounds->width = (int) r.size.width;
  bounds->height = (int) r.size.height;
  return TRUE;
}
