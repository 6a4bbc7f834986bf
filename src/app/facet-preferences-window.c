/* facet-preferences-window.c — backend, precision, devices, threads, threshold, coder
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-preferences"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/facet-engine.h"

#include "facet-preferences-window.h"

struct _FacetPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  AdwEntryRow          *coder_row;
  GtkSwitch            *model_thresholds_switch;
  AdwActionRow         *threshold_row;
  GtkAdjustment        *threshold_adjustment;
  AdwComboRow          *backend_row;
  AdwComboRow          *precision_row;
  GtkAdjustment        *threads_adjustment;
  AdwExpanderRow       *devices_row;

  GSettings            *settings;
  GPtrArray            *backends; /* names in the combo's order */
  GCancellable         *cancellable;
};

G_DEFINE_FINAL_TYPE (FacetPreferencesWindow, facet_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static const char *
backend_title (const char *name)
{
  if (g_str_equal (name, "cpu"))
    return _("Processor (OpenBLAS)");
  if (g_str_equal (name, "vulkan"))
    return _("Graphics card (Vulkan)");
  if (g_str_equal (name, "auto"))
    return _("Automatic: a real graphics card when there is one");
  return name;
}

static void
on_backend_selected (FacetPreferencesWindow *self)
{
  guint i = adw_combo_row_get_selected (self->backend_row);

  if (i < self->backends->len)
    g_settings_set_string (self->settings, "backend", g_ptr_array_index (self->backends, i));
}

/* The precision setting's values, in the combo's order. */
static const char * const precisions[] = { "fp32", "bf16", "auto" };

static void
on_precision_selected (FacetPreferencesWindow *self)
{
  guint i = adw_combo_row_get_selected (self->precision_row);

  if (i < G_N_ELEMENTS (precisions))
    g_settings_set_string (self->settings, "precision", precisions[i]);
}

static void
setup_precision (FacetPreferencesWindow *self)
{
  g_autoptr (GtkStringList) titles = gtk_string_list_new (NULL);
  g_autofree char *current = g_settings_get_string (self->settings, "precision");
  guint selected = 0;

  gtk_string_list_append (titles, _("Full (fp32)"));
  gtk_string_list_append (titles, _("Fast (bf16 products)"));
  gtk_string_list_append (titles, _("Automatic: bf16 where the processor has it"));
  for (guint i = 0; i < G_N_ELEMENTS (precisions); i++)
    if (g_str_equal (precisions[i], current))
      selected = i;
  adw_combo_row_set_model (self->precision_row, G_LIST_MODEL (titles));
  adw_combo_row_set_selected (self->precision_row, selected);
  /* Whether bf16 can run here: asked for without it, fp32 runs. */
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->precision_row),
                               facet_cpu_backend_resolve_precision (FACET_PRECISION_BF16)
                                   == FACET_PRECISION_BF16
                                 ? _("This processor has bf16 products (AVX512-BF16)")
                                 : _("This processor has no bf16 products: fp32 is used"));
  g_signal_connect_swapped (self->precision_row, "notify::selected",
                            G_CALLBACK (on_precision_selected), self);
}

/* ---- Devices (Vulkan enumeration can take a moment: a worker asks) ----------------- */

static void
devices_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  GError *error = NULL;
  GPtrArray *devices = facet_backend_list_devices (&error);

  if (devices == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, devices, (GDestroyNotify) g_ptr_array_unref);
}

static const char *
device_kind (FacetDeviceType type)
{
  switch (type)
    {
    case FACET_DEVICE_DISCRETE_GPU:
      return _("graphics card");
    case FACET_DEVICE_INTEGRATED_GPU:
      return _("integrated graphics");
    case FACET_DEVICE_VIRTUAL_GPU:
      return _("virtual graphics");
    case FACET_DEVICE_CPU:
      return _("processor (software Vulkan)");
    case FACET_DEVICE_OTHER:
    default:
      return _("other device");
    }
}

static void
devices_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) devices = g_task_propagate_pointer (G_TASK (result), &error);
  FacetPreferencesWindow *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = FACET_PREFERENCES_WINDOW (object);
  if (devices == NULL)
    {
      adw_expander_row_set_subtitle (self->devices_row, error->message);
      return;
    }
  if (devices->len == 0)
    {
      adw_expander_row_set_subtitle (self->devices_row,
                                     _("No Vulkan device: the processor does the work"));
      return;
    }
  {
    g_autofree char *text = g_strdup_printf (ngettext ("%u Vulkan device", "%u Vulkan devices",
                                                       devices->len),
                                             devices->len);
    adw_expander_row_set_subtitle (self->devices_row, text);
  }
  for (guint i = 0; i < devices->len; i++)
    {
      FacetDeviceInfo *d = g_ptr_array_index (devices, i);
      GtkWidget *row = adw_action_row_new ();
      /* TRANSLATORS: a compute device: kind, memory, driver, Vulkan version, whether usable */
      g_autofree char *sub = g_strdup_printf (_("%s · %.1f GiB · %s · Vulkan %s%s"),
                                              device_kind (d->type),
                                              d->memory / (1024.0 * 1024 * 1024),
                                              d->driver ? d->driver : "",
                                              d->api_version ? d->api_version : "",
                                              d->usable ? "" : _(" · not usable"));
      g_autofree char *title = g_strdup_printf ("%d · %s", d->index, d->name);

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), sub);
      adw_expander_row_add_row (self->devices_row, row);
    }
}

/* ---- Object ---------------------------------------------------------------------- */

GtkWidget *
facet_preferences_window_new (GtkWindow *parent)
{
  return g_object_new (FACET_TYPE_PREFERENCES_WINDOW, "transient-for", parent, NULL);
}

static void
facet_preferences_window_dispose (GObject *object)
{
  FacetPreferencesWindow *self = (FacetPreferencesWindow *) object;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->backends, g_ptr_array_unref);
  G_OBJECT_CLASS (facet_preferences_window_parent_class)->dispose (object);
}

static void
facet_preferences_window_class_init (FacetPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (
    widget_class, "/io/github/facet/Facet/facet-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow, backend_row);
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow, coder_row);
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow, devices_row);
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow,
                                        model_thresholds_switch);
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow, precision_row);
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow, threads_adjustment);
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow, threshold_adjustment);
  gtk_widget_class_bind_template_child (widget_class, FacetPreferencesWindow, threshold_row);
}

static void
facet_preferences_window_init (FacetPreferencesWindow *self)
{
  g_autoptr (GtkStringList) titles = gtk_string_list_new (NULL);
  g_autoptr (GTask) task = NULL;
  g_autofree char *current = NULL;
  const char * const *names = facet_backend_list ();
  guint selected = 0;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new ("io.github.facet.Facet");

  g_settings_bind (self->settings, "coder-name", self->coder_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "use-model-thresholds", self->model_thresholds_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "use-model-thresholds", self->threshold_row, "sensitive",
                   G_SETTINGS_BIND_GET | G_SETTINGS_BIND_INVERT_BOOLEAN);
  g_settings_bind (self->settings, "threshold", self->threshold_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "threads", self->threads_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  {
    /* The coder's name, when not set, is who the store would record. */
    const char *who = g_getenv ("FACET_CODER") ? g_getenv ("FACET_CODER") : g_get_user_name ();
    g_autofree char *hint = g_strdup_printf (_("Coder Name (empty: %s)"), who);
    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->coder_row), hint);
  }

  self->backends = g_ptr_array_new_with_free_func (g_free);
  current = g_settings_get_string (self->settings, "backend");
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_ptr_array_add (self->backends, g_strdup (names[i]));
      gtk_string_list_append (titles, backend_title (names[i]));
    }
  g_ptr_array_add (self->backends, g_strdup ("auto"));
  gtk_string_list_append (titles, backend_title ("auto"));
  for (guint i = 0; i < self->backends->len; i++)
    if (g_str_equal (g_ptr_array_index (self->backends, i), current))
      selected = i;
  adw_combo_row_set_model (self->backend_row, G_LIST_MODEL (titles));
  adw_combo_row_set_selected (self->backend_row, selected);
  g_signal_connect_swapped (self->backend_row, "notify::selected", G_CALLBACK (on_backend_selected),
                            self);
  setup_precision (self);

  self->cancellable = g_cancellable_new ();
  task = g_task_new (self, self->cancellable, devices_done, NULL);
  g_task_set_source_tag (task, facet_preferences_window_init);
  g_task_run_in_thread (task, devices_thread);
}
