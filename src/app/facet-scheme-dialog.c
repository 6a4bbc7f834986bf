/* facet-scheme-dialog.c — the project's coding scheme: which FACS codes the
 * lab codes, beyond the model's outputs
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model's AUs are always coded (their predictions are there to
 * check), so their boxes are ticked and fixed; any other FACS code picked
 * here is coded by hand.
 */
#define G_LOG_DOMAIN "facet-scheme"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-dialog-parts.h"
#include "facet-facs.h"
#include "facet-scheme-dialog.h"
#include "facet-window-private.h"

struct _FacetSchemeDialog
{
  AdwWindow     parent_instance;

  FacetWindow  *window;  /* weak */
  FacetProject *project;
  GHashTable   *checks;  /* AU -> GtkCheckButton */
  GtkButton    *save_button;
  gboolean      saving;
  gboolean      disposed;
};

G_DEFINE_FINAL_TYPE (FacetSchemeDialog, facet_scheme_dialog, ADW_TYPE_WINDOW)

typedef struct
{
  int *aus;
  int  n;
} SchemeRequest;

static void
scheme_request_free (gpointer data)
{
  SchemeRequest *r = data;

  g_free (r->aus);
  g_free (r);
}

static gpointer
save_job (FacetStore   *store,
          gpointer      data,
          GCancellable *cancellable,
          GError      **error)
{
  SchemeRequest *r = data;

  return facet_store_set_scheme (store, r->aus, r->n, error) ? GINT_TO_POINTER (1) : NULL;
}

static void
save_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (FacetSchemeDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean ok = facet_project_run_finish (FACET_PROJECT (object), result, &error) != NULL;

  self->saving = FALSE;
  if (self->window != NULL)
    self->window->edits_in_flight--;
  if (!ok && self->window != NULL)
    facet_window_error (self->window, _("The Coding Scheme Was Not Saved"),
                        _("The project file could not be written. Check the disk and try again."),
                        error);
  else if (ok && self->window != NULL)
    facet_window_toast (self->window, _("Coding scheme saved"));
  if (!self->disposed)
    gtk_window_destroy (GTK_WINDOW (self));
}

void
facet_scheme_dialog_save (FacetSchemeDialog *self)
{
  g_autoptr (GArray) aus = g_array_new (FALSE, FALSE, sizeof (int));
  FacetStoreModel *m = facet_project_get_model (self->project);
  g_autofree int *vocabulary = NULL;
  SchemeRequest *r;
  gboolean wider = FALSE;
  int n = 0;

  g_return_if_fail (FACET_IS_SCHEME_DIALOG (self));

  if (self->saving)
    return;
  vocabulary = facet_facs_list (&n);
  for (int i = 0; i < n; i++)
    {
      GtkCheckButton *check = g_hash_table_lookup (self->checks, GINT_TO_POINTER (vocabulary[i]));
      if (check != NULL && gtk_check_button_get_active (check))
        {
          g_array_append_val (aus, vocabulary[i]);
          wider |= m == NULL || facet_store_model_find_au (m, vocabulary[i]) < 0;
        }
    }
  /* The model's own AUs only: no scheme of its own (it follows the model). */
  if (!wider)
    g_array_set_size (aus, 0);
  self->saving = TRUE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->save_button), FALSE);
  r = g_new0 (SchemeRequest, 1);
  r->n = (int) aus->len;
  r->aus = (int *) (void *) g_array_free (g_steal_pointer (&aus), FALSE);
  if (self->window != NULL)
    self->window->edits_in_flight++;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_EDIT, save_job, r, scheme_request_free,
                     NULL, NULL, save_done, g_object_ref (self));
}

GtkCheckButton *
facet_scheme_dialog_get_check (FacetSchemeDialog *self,
                               int                au)
{
  g_return_val_if_fail (FACET_IS_SCHEME_DIALOG (self), NULL);
  return g_hash_table_lookup (self->checks, GINT_TO_POINTER (au));
}

GtkWidget *
facet_scheme_dialog_new (FacetWindow  *window,
                         FacetProject *project)
{
  FacetSchemeDialog *self;
  FacetStoreModel *m;
  GtkWidget *box, *content;
  GtkWidget *group = NULL;
  const char *last_group = NULL;
  g_autofree int *vocabulary = NULL;
  const int *scheme;
  int n = 0, n_scheme = 0;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);

  self = g_object_new (FACET_TYPE_SCHEME_DIALOG, "transient-for", window, "modal", TRUE,
                       "default-width", 560, "default-height", 640, NULL);
  self->window = window;
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &self->window);
  self->project = g_object_ref (project);
  m = facet_project_get_model (project);
  scheme = facet_project_get_scheme (project, &n_scheme);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_box_append (GTK_BOX (box),
                  facet_dialog_edit_header (GTK_WINDOW (self), _("Coding Scheme"),
                                            G_CALLBACK (facet_scheme_dialog_save),
                                            &self->save_button));
  content = facet_dialog_body_new (18, 12, 12, 12);
  gtk_box_append (GTK_BOX (content),
                  facet_dialog_note_new (_("The codes this project's coders score. The model's "
                                           "action units are always in the list. Any other code "
                                           "ticked here is coded by hand: it has no prediction, "
                                           "and the panel, the timeline and the exports say so. "
                                           "U, its number and Enter select it; 1, 2, 3 label "
                                           "it.")));

  vocabulary = facet_facs_list (&n);
  /* By kind (units, descriptors, head, eyes, gross behaviour), each by
   * number: a code of each kind stands for it. */
  for (int pass = 0; pass < 5 * n; pass++)
    {
      static const int kind_of[] = { 1, 19, 51, 61, 80 };
      int au = vocabulary[pass % n];

      if (g_strcmp0 (facet_facs_group (au), facet_facs_group (kind_of[pass / n])) != 0)
        continue;
      {
        g_autofree char *code = facet_facs_code (au);
        g_autofree char *name = facet_facs_name (au);
        g_autofree char *title = g_strdup_printf ("%s %s", code, name);
        gboolean predicted = m != NULL && facet_store_model_find_au (m, au) >= 0;
        gboolean in_scheme = FALSE;
        const char *kind = facet_facs_group (au);
        GtkWidget *row = adw_action_row_new ();
        GtkWidget *check = gtk_check_button_new ();

        for (int k = 0; scheme != NULL && k < n_scheme; k++)
          in_scheme |= scheme[k] == au;
        if (g_strcmp0 (kind, last_group) != 0)
          {
            group = adw_preferences_group_new ();
            adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), kind);
            gtk_box_append (GTK_BOX (content), group);
            last_group = kind;
          }
        adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
        adw_action_row_set_subtitle (ADW_ACTION_ROW (row), predicted ? _("predicted by the model")
                                                                     : _("coded by hand"));
        gtk_check_button_set_active (GTK_CHECK_BUTTON (check), predicted || in_scheme);
        gtk_widget_set_sensitive (check, !predicted);
        gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
        gtk_accessible_update_property (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                        title, -1);
        adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
        adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
        adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
        g_hash_table_insert (self->checks, GINT_TO_POINTER (au), check);
      }
    }
  gtk_box_append (GTK_BOX (box), facet_dialog_scroll_clamped (content, 640));
  adw_window_set_content (ADW_WINDOW (self), box);
  return GTK_WIDGET (self);
}

static void
facet_scheme_dialog_dispose (GObject *object)
{
  FacetSchemeDialog *self = FACET_SCHEME_DIALOG (object);

  if (self->window != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
  self->window = NULL;
  self->disposed = TRUE;
  g_hash_table_remove_all (self->checks);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (facet_scheme_dialog_parent_class)->dispose (object);
}

static void
facet_scheme_dialog_finalize (GObject *object)
{
  FacetSchemeDialog *self = FACET_SCHEME_DIALOG (object);

  g_hash_table_unref (self->checks);
  G_OBJECT_CLASS (facet_scheme_dialog_parent_class)->finalize (object);
}

static void
facet_scheme_dialog_class_init (FacetSchemeDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_scheme_dialog_dispose;
  object_class->finalize = facet_scheme_dialog_finalize;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_scheme_dialog_init (FacetSchemeDialog *self)
{
  self->checks = g_hash_table_new (NULL, NULL);
}
