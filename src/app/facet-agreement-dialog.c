/* facet-agreement-dialog.c — inter-coder reliability per AU
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two "coders" (a coder's layer, the final labels or a model of the
 * project), the store's per-AU statistics (facet_store_agreement) as a
 * table, and "Copy Report": a text block for a methods section. The
 * statistics are computed on the project's bulk-read connection.
 */
#define G_LOG_DOMAIN "facet-agreement"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-agreement-dialog.h"
#include "facet-coder-pair.h"
#include "facet-dialog-parts.h"
#include "facet-facs.h"
#include "facet-reload.h"

struct _FacetAgreementDialog
{
  AdwWindow      parent_instance;

  FacetCoderPair *pair;      /* store names: "final", a layer's coder, "model:ID" */
  GtkCheckButton *sample_check;
  GtkGrid        *grid;
  GtkLabel       *status_label;
  GtkButton      *copy_button;

  FacetProject   *project;
  FacetReload    *reload;    /* the statistics for the coders chosen */
  GArray         *rows;      /* FacetAgreement of the last answer */
  char           *report;
};

G_DEFINE_FINAL_TYPE (FacetAgreementDialog, facet_agreement_dialog, ADW_TYPE_WINDOW)

/* ---- Jobs ------------------------------------------------------------------------------------ */

typedef struct
{
  char     *a;
  char     *b;
  gboolean  sample_only;
} Query;

static void
query_free (gpointer data)
{
  Query *q = data;

  g_free (q->a);
  g_free (q->b);
  g_free (q);
}

static gpointer
agreement_job (FacetStore   *store,
               gpointer      data,
               GCancellable *cancellable,
               GError      **error)
{
  Query *q = data;
  FacetAgreementOptions options = { .window = -1, .threshold = NAN,
                                    .sample_only = q->sample_only };

  return facet_store_agreement (store, q->a, q->b, 0, &options, error);
}

/* ---- Table and report ---------------------------------------------------------------------- */

static char *
format_ratio (double v)
{
  return isnan (v) ? g_strdup ("—") : g_strdup_printf ("%.2f", v);
}

static char *
format_percent (double v)
{
  return isnan (v) ? g_strdup ("—") : g_strdup_printf ("%.1f %%", 100.0 * v);
}

static void
grid_cell (FacetAgreementDialog *self,
           int                   column,
           int                   row,
           const char           *text,
           gboolean              heading)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), column == 0 ? 0.0f : 1.0f);
  gtk_widget_add_css_class (label, heading ? "heading" : "numeric");
  gtk_grid_attach (self->grid, label, column, row, 1, 1);
}

static const char *
coder_title (FacetAgreementDialog *self,
             const char           *coder,
             char                **owned)
{
  if (g_str_equal (coder, "final"))
    return _("the final labels");
  if (g_str_has_prefix (coder, "model:"))
    {
      FacetStoreModel *m = facet_project_find_model (self->project,
                                                     g_ascii_strtoll (coder + 6, NULL, 10));
      /* TRANSLATORS: a model taken as a coder in the agreement; %s: its name */
      *owned = g_strdup_printf (_("the model “%s”"), m != NULL ? m->name : coder + 6);
      return *owned;
    }
  return coder;
}

static void
fill_table (FacetAgreementDialog *self,
            const char           *a,
            const char           *b)
{
  static const char *headings[] = {
    N_("AU"), N_("Frames"), N_("Agreement"), N_("Kappa"), N_("Prevalence"), N_("Events"),
    N_("Ratio"), N_("Weighted κ"), N_("ICC"),
  };
  GtkWidget *child;
  g_autoptr (GString) report = g_string_new (NULL);
  g_autofree char *own_a = NULL, *own_b = NULL;
  double sum_kappa = 0, min_kappa = INFINITY, max_kappa = -INFINITY;
  int n_kappa = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->grid))) != NULL)
    gtk_grid_remove (self->grid, child);
  for (guint c = 0; c < G_N_ELEMENTS (headings); c++)
    grid_cell (self, (int) c, 0, _(headings[c]), TRUE);

  /* TRANSLATORS: the report's first lines for a methods section; coders A and B */
  g_string_append_printf (report,
                          _("Inter-coder reliability between %s and %s (Facet, FACS action units; "
                            "frames both coded present or absent, not-codable frames excluded):\n"),
                          coder_title (self, a, &own_a), coder_title (self, b, &own_b));
  for (guint i = 0; i < self->rows->len; i++)
    {
      const FacetAgreement *r = &g_array_index (self->rows, FacetAgreement, i);
      g_autofree char *code = facet_facs_code (r->au);
      g_autofree char *name = facet_facs_name (r->au);
      g_autofree char *frames = g_strdup_printf ("%" G_GINT64_FORMAT, r->frames);
      g_autofree char *agree = format_percent (r->agreement);
      g_autofree char *kappa = format_ratio (r->kappa);
      g_autofree char *prev = format_percent (r->prevalence);
      g_autofree char *events = g_strdup_printf ("%" G_GINT64_FORMAT " / %" G_GINT64_FORMAT,
                                                 r->events_a, r->events_b);
      g_autofree char *ratio = format_ratio (r->agreement_ratio);
      g_autofree char *wkappa = format_ratio (r->weighted_kappa);
      g_autofree char *icc = format_ratio (r->icc);
      const char *cells[] = { code, frames, agree, kappa, prev, events, ratio, wkappa, icc };

      for (guint c = 0; c < G_N_ELEMENTS (cells); c++)
        grid_cell (self, (int) c, (int) i + 1, cells[c], FALSE);
      /* TRANSLATORS: one line of the report: AU code, name, kappa, agreement,
       * frames, event agreement ratio, window in frames */
      g_string_append_printf (report, _("%s (%s): κ = %s, agreement %s, n = %s frames; "
                                        "event agreement ratio %s (±%d frames)\n"),
                              code, name, kappa, agree, frames, ratio, r->window);
      if (!isnan (r->kappa))
        {
          sum_kappa += r->kappa;
          min_kappa = MIN (min_kappa, r->kappa);
          max_kappa = MAX (max_kappa, r->kappa);
          n_kappa++;
        }
    }
  if (n_kappa > 0)
    /* TRANSLATORS: the report's last line: mean kappa, number of AUs, range */
    g_string_append_printf (report, _("Mean κ over %d action units: %.2f (%.2f to %.2f).\n"),
                            n_kappa, sum_kappa / n_kappa, min_kappa, max_kappa);
  g_free (self->report);
  self->report = g_string_free (g_steal_pointer (&report), FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->copy_button), self->rows->len > 0);
  if (self->rows->len == 0)
    gtk_label_set_text (self->status_label,
                        _("No action unit was coded by both: nothing to compare yet."));
  else
    gtk_label_set_text (self->status_label, "");
}

static void
agreement_done (GObject      *owner,
                GObject      *object,
                GAsyncResult *result)
{
  FacetAgreementDialog *self = FACET_AGREEMENT_DIALOG (owner);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = facet_project_run_finish (FACET_PROJECT (object), result, &error);

  if (rows == NULL)
    {
      gtk_label_set_text (self->status_label, error->message);
      return;
    }
  g_array_set_size (self->rows, 0);
  g_array_append_vals (self->rows, rows->data, rows->len);
  /* Not stale: the coders chosen are those it was computed for. */
  fill_table (self, facet_coder_pair_get_a (self->pair), facet_coder_pair_get_b (self->pair));
}

static gboolean
agreement_start (GObject             *owner,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  FacetAgreementDialog *self = FACET_AGREEMENT_DIALOG (owner);
  const char *a = facet_coder_pair_get_a (self->pair);
  const char *b = facet_coder_pair_get_b (self->pair);
  Query *q;

  if (self->project == NULL || a == NULL || b == NULL || g_str_equal (a, b))
    return FALSE;
  q = g_new0 (Query, 1);
  q->a = g_strdup (a);
  q->b = g_strdup (b);
  q->sample_only = gtk_check_button_get_active (self->sample_check);
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, agreement_job, q, query_free,
                     (GDestroyNotify) g_array_unref, cancellable, callback, user_data);
  return TRUE;
}

static void
recompute (FacetAgreementDialog *self)
{
  const char *a = facet_coder_pair_get_a (self->pair);
  const char *b = facet_coder_pair_get_b (self->pair);

  if (a == NULL || b == NULL)
    return;
  /* What is computing was asked for the coders chosen before. */
  facet_reload_invalidate (self->reload);
  if (g_str_equal (a, b))
    {
      g_array_set_size (self->rows, 0);
      gtk_label_set_text (self->status_label, _("Choose two different coders."));
      gtk_widget_set_sensitive (GTK_WIDGET (self->copy_button), FALSE);
      return;
    }
  gtk_label_set_text (self->status_label, _("Computing…"));
  facet_reload_request (self->reload);
}

static void
layers_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetAgreementDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) layers = facet_project_list_layers_finish (FACET_PROJECT (object), result,
                                                            &error);
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) titles = g_strv_builder_new ();
  g_auto (GStrv) name_list = NULL, title_list = NULL;
  GPtrArray *models;

  if (self->project == NULL)
    return;
  if (layers == NULL && error != NULL)
    {
      gtk_label_set_text (self->status_label, error->message);
      return;
    }
  for (guint i = 0; layers != NULL && layers[i] != NULL; i++)
    {
      g_strv_builder_add (names, layers[i]);
      g_strv_builder_add (titles, layers[i]);
    }
  g_strv_builder_add (names, "final");
  g_strv_builder_add (titles, _("Final labels"));
  models = facet_project_get_models (self->project);
  for (guint i = 0; models != NULL && i < models->len; i++)
    {
      FacetStoreModel *m = g_ptr_array_index (models, i);
      g_autofree char *name = g_strdup_printf ("model:%" G_GINT64_FORMAT, m->id);
      /* TRANSLATORS: a model as a coder in the agreement's choice; %s: its name */
      g_autofree char *title = g_strdup_printf (_("Model: %s"), m->name);

      g_strv_builder_add (names, name);
      g_strv_builder_add (titles, title);
    }
  name_list = g_strv_builder_end (names);
  title_list = g_strv_builder_end (titles);
  /* The first two coders' layers when there are two, else a coder and the
   * final labels. */
  facet_coder_pair_set_coders (self->pair, (const char *const *) name_list,
                               (const char *const *) title_list, 0,
                               MIN (1, g_strv_length (name_list) - 1));
  recompute (self);
}

static void
on_copy (FacetAgreementDialog *self)
{
  if (self->report == NULL)
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), self->report);
  gtk_button_set_label (self->copy_button, _("Copied"));
}

/* ---- Public ---------------------------------------------------------------------------------- */

FacetAgreementDialog *
facet_agreement_dialog_new (GtkWindow    *parent,
                            FacetProject *project)
{
  FacetAgreementDialog *self;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);

  self = g_object_new (FACET_TYPE_AGREEMENT_DIALOG, "transient-for", parent, "modal", TRUE,
                       NULL);
  self->project = g_object_ref (project);
  facet_project_list_layers_async (project, layers_done, g_object_ref (self));
  return self;
}

gboolean
facet_agreement_dialog_set_coders (FacetAgreementDialog *self,
                                   const char           *a,
                                   const char           *b)
{
  g_return_val_if_fail (FACET_IS_AGREEMENT_DIALOG (self), FALSE);

  if (!facet_coder_pair_select (self->pair, a, b))
    return FALSE;
  recompute (self);
  return TRUE;
}

const GArray *
facet_agreement_dialog_get_rows (FacetAgreementDialog *self)
{
  g_return_val_if_fail (FACET_IS_AGREEMENT_DIALOG (self), NULL);
  return self->rows;
}

const char *
facet_agreement_dialog_get_report (FacetAgreementDialog *self)
{
  g_return_val_if_fail (FACET_IS_AGREEMENT_DIALOG (self), NULL);
  return self->report;
}

gboolean
facet_agreement_dialog_is_busy (FacetAgreementDialog *self)
{
  g_return_val_if_fail (FACET_IS_AGREEMENT_DIALOG (self), FALSE);
  return facet_coder_pair_get_n (self->pair) == 0 || facet_reload_is_busy (self->reload);
}

/* ---- Object ---------------------------------------------------------------------------------- */

static void
facet_agreement_dialog_dispose (GObject *object)
{
  FacetAgreementDialog *self = FACET_AGREEMENT_DIALOG (object);

  facet_reload_invalidate (self->reload);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (facet_agreement_dialog_parent_class)->dispose (object);
}

static void
facet_agreement_dialog_finalize (GObject *object)
{
  FacetAgreementDialog *self = FACET_AGREEMENT_DIALOG (object);

  g_clear_pointer (&self->reload, facet_reload_free);
  g_array_unref (self->rows);
  g_free (self->report);
  G_OBJECT_CLASS (facet_agreement_dialog_parent_class)->finalize (object);
}

static void
facet_agreement_dialog_class_init (FacetAgreementDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_agreement_dialog_dispose;
  object_class->finalize = facet_agreement_dialog_finalize;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_agreement_dialog_init (FacetAgreementDialog *self)
{
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *body = facet_dialog_body_new (12, 12, 18, 18);
  GtkWidget *choice;
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkWidget *header = adw_header_bar_new ();

  self->rows = g_array_new (FALSE, TRUE, sizeof (FacetAgreement));
  self->reload = facet_reload_new (G_OBJECT (self), agreement_start, agreement_done);
  gtk_window_set_title (GTK_WINDOW (self), _("Agreement Between Coders"));
  gtk_window_set_default_size (GTK_WINDOW (self), 820, 520);

  self->copy_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Copy Report")));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->copy_button),
                               _("Copy the figures as a text block for a methods section"));
  gtk_widget_add_css_class (GTK_WIDGET (self->copy_button), "suggested-action");
  gtk_widget_set_sensitive (GTK_WIDGET (self->copy_button), FALSE);
  g_signal_connect_swapped (self->copy_button, "clicked", G_CALLBACK (on_copy), self);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), GTK_WIDGET (self->copy_button));
  gtk_box_append (GTK_BOX (content), header);

  choice = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 18);
  self->pair = FACET_CODER_PAIR (facet_coder_pair_new ());
  g_signal_connect_swapped (self->pair, "changed", G_CALLBACK (recompute), self);
  gtk_box_append (GTK_BOX (choice), GTK_WIDGET (self->pair));
  self->sample_check = GTK_CHECK_BUTTON (gtk_check_button_new_with_mnemonic (
                                           _("Only the _reliability sample")));
  g_signal_connect_swapped (self->sample_check, "toggled", G_CALLBACK (recompute), self);
  gtk_box_append (GTK_BOX (choice), GTK_WIDGET (self->sample_check));
  gtk_box_append (GTK_BOX (body), choice);

  self->grid = GTK_GRID (gtk_grid_new ());
  gtk_grid_set_column_spacing (self->grid, 18);
  gtk_grid_set_row_spacing (self->grid, 6);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->grid));
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_box_append (GTK_BOX (body), scroller);

  self->status_label = GTK_LABEL (facet_dialog_note_new (_("Computing…")));
  gtk_box_append (GTK_BOX (body), GTK_WIDGET (self->status_label));
  {
    GtkWidget *hint = gtk_label_new (_("Per AU on the frames both coded: the share of frames "
                                       "they agree on, Cohen's kappa, the share of present codes, "
                                       "the events each coded, the event agreement ratio "
                                       "2 × agreements / (events A + events B), and for "
                                       "intensity the weighted kappa and the ICC."));
    gtk_label_set_wrap (GTK_LABEL (hint), TRUE);
    gtk_label_set_xalign (GTK_LABEL (hint), 0);
    gtk_widget_add_css_class (hint, "caption");
    gtk_widget_add_css_class (hint, "dim-label");
    gtk_box_append (GTK_BOX (body), hint);
  }
  gtk_box_append (GTK_BOX (content), body);
  adw_window_set_content (ADW_WINDOW (self), content);
}
