/* facet-consensus-dialog.c — resolving two coders' disagreements
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Lists where two coders' layers differ (facet_store_list_disagreements,
 * unresolved ones only), one row per run of neighbouring frames of an AU
 * with the same two codes, side by side with the final label. Keys:
 * Up/Down (or K/J) move, Enter shows the run in the main window, A takes
 * coder A's codes, B coder B's, 1/2/3 set present/absent/not codable and 0
 * clears, each for the whole run, written to the final layer with the
 * decision recorded (facet_store_resolve_labels: which layer it came from,
 * and who decided).
 */
#define G_LOG_DOMAIN "facet-consensus"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-coder-pair.h"
#include "facet-consensus-dialog.h"
#include "facet-dialog-parts.h"
#include "facet-facs.h"
#include "facet-reload.h"

/* A run of disagreeing frames with the same two codes. */
typedef struct
{
  gint64          video_id;
  int             au;
  gint64          first;
  gint64          last;
  FacetLabelState state_a;
  int             level_a;
  FacetLabelState state_b;
  int             level_b;
  FacetLabelState final_state;
  int             final_level;
} Run;

struct _FacetConsensusDialog
{
  AdwWindow      parent_instance;

  FacetCoderPair *pair;          /* the coders' layers compared */
  GtkListBox     *list;
  GtkLabel       *status_label;
  GtkButton      *agreed_button;

  FacetProject   *project;
  gboolean        layers_loading;
  FacetReload    *runs_reload;   /* the disagreements of the pair chosen */
  GArray         *runs;          /* Run, one per list row */
  guint           writing;
  int             keep_index;    /* the row to select after the next reload */
};

G_DEFINE_FINAL_TYPE (FacetConsensusDialog, facet_consensus_dialog, ADW_TYPE_WINDOW)

enum {
  SHOW_FRAME,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static char *
code_text (FacetLabelState state,
           int             level)
{
  if (state == FACET_LABEL_PRESENT && level > 0)
    return g_strdup_printf ("%s %s", facet_facs_state_text (state, "—"),
                            facet_facs_intensity_letter (level));
  return g_strdup (facet_facs_state_text (state, "—"));
}

/* ---- Loading --------------------------------------------------------------------------------- */

typedef struct
{
  char *a;
  char *b;
} Pair;

static void
pair_free (gpointer data)
{
  Pair *p = data;

  g_free (p->a);
  g_free (p->b);
  g_free (p);
}

static gpointer
runs_job (FacetStore   *store,
          gpointer      data,
          GCancellable *cancellable,
          GError      **error)
{
  Pair *pair = data;
  g_autoptr (GArray) cells = facet_store_list_disagreements (store, pair->a, pair->b, 0, 0, TRUE,
                                                             0, error);
  GArray *runs;

  if (cells == NULL)
    return NULL;
  runs = g_array_new (FALSE, TRUE, sizeof (Run));
  /* The store orders by video, frame, AU: gather each AU's runs. */
  for (guint i = 0; i < cells->len; i++)
    {
      const FacetDisagreement *d = &g_array_index (cells, FacetDisagreement, i);
      Run r = { d->video_id, d->au, d->frame, d->frame, d->state_a,
                facet_intensity_to_level (d->intensity_a), d->state_b,
                facet_intensity_to_level (d->intensity_b), d->final_state,
                facet_intensity_to_level (d->final_intensity) };
      gboolean joined = FALSE;

      for (guint k = runs->len; k-- > 0;)
        {
          Run *o = &g_array_index (runs, Run, k);

          if (o->video_id != r.video_id || o->last < r.first - 1)
            break;
          if (o->au == r.au && o->last == r.first - 1 && o->state_a == r.state_a
              && o->level_a == r.level_a && o->state_b == r.state_b && o->level_b == r.level_b
              && o->final_state == r.final_state && o->final_level == r.final_level)
            {
              o->last = r.first;
              joined = TRUE;
              break;
            }
        }
      if (!joined)
        g_array_append_val (runs, r);
    }
  return runs;
}

static GtkWidget *
row_new (FacetConsensusDialog *self,
         const Run            *r)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  FacetStoreVideo *v = facet_project_get_video (self->project, r->video_id);
  g_autofree char *code = facet_facs_code (r->au);
  g_autofree char *where = NULL;
  g_autofree char *a = code_text (r->state_a, r->level_a);
  g_autofree char *b = code_text (r->state_b, r->level_b);
  g_autofree char *fin = code_text (r->final_state, r->final_level);
  const char *texts[3] = { a, b, NULL };
  GtkWidget *label;

  if (r->first == r->last)
    /* TRANSLATORS: consensus row: AU code, video, frame */
    where = g_strdup_printf (_("%s · %s · frame %d"), code, v != NULL ? v->subject : "?",
                             (int) r->first);
  else
    /* TRANSLATORS: consensus row: AU code, video, first and last frame */
    where = g_strdup_printf (_("%s · %s · frames %d–%d"), code, v != NULL ? v->subject : "?",
                             (int) r->first, (int) r->last);
  label = gtk_label_new (where);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), label);
  texts[2] = fin;
  for (guint i = 0; i < 3; i++)
    {
      label = gtk_label_new (texts[i]);
      gtk_label_set_width_chars (GTK_LABEL (label), 14);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      if (i == 2)
        gtk_widget_add_css_class (label, "dim-label");
      gtk_box_append (GTK_BOX (box), label);
    }
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 4);
  gtk_widget_set_margin_bottom (box, 4);
  return box;
}

static void
runs_done (GObject      *owner,
           GObject      *object,
           GAsyncResult *result)
{
  FacetConsensusDialog *self = FACET_CONSENSUS_DIALOG (owner);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) runs = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  GtkWidget *child;
  GtkListBoxRow *row;

  if (runs == NULL)
    {
      gtk_label_set_text (self->status_label, error->message);
      return;
    }
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);
  g_array_set_size (self->runs, 0);
  g_array_append_vals (self->runs, runs->data, runs->len);
  for (guint i = 0; i < runs->len; i++)
    gtk_list_box_append (self->list, row_new (self, &g_array_index (runs, Run, i)));
  if (runs->len == 0)
    gtk_label_set_text (self->status_label,
                        _("No disagreements left between these coders: the final labels agree "
                          "with one of them everywhere both coded."));
  else
    {
      /* TRANSLATORS: consensus status; %u: runs of frames left */
      g_autofree char *text = g_strdup_printf (ngettext ("%u disagreement left. A: take coder A, "
                                                         "B: take coder B, 1/2/3/0: set, Enter: "
                                                         "show",
                                                         "%u disagreements left. A: take coder A, "
                                                         "B: take coder B, 1/2/3/0: set, Enter: "
                                                         "show", runs->len), runs->len);
      gtk_label_set_text (self->status_label, text);
    }
  row = gtk_list_box_get_row_at_index (self->list, CLAMP (self->keep_index, 0,
                                                          (int) runs->len - 1));
  if (row != NULL)
    {
      gtk_list_box_select_row (self->list, row);
      gtk_widget_grab_focus (GTK_WIDGET (row));
    }
}

/* The two coders chosen, when they are two; NULL otherwise. */
static Pair *
chosen_pair (FacetConsensusDialog *self)
{
  const char *a = facet_coder_pair_get_a (self->pair);
  const char *b = facet_coder_pair_get_b (self->pair);
  Pair *pair;

  if (a == NULL || b == NULL || g_str_equal (a, b))
    return NULL;
  pair = g_new0 (Pair, 1);
  pair->a = g_strdup (a);
  pair->b = g_strdup (b);
  return pair;
}

static gboolean
runs_start (GObject             *owner,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  FacetConsensusDialog *self = FACET_CONSENSUS_DIALOG (owner);
  Pair *pair = self->project != NULL ? chosen_pair (self) : NULL;

  if (pair == NULL)
    return FALSE;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_LOAD, runs_job, pair, pair_free,
                     (GDestroyNotify) g_array_unref, cancellable, callback, user_data);
  return TRUE;
}

static void
reload (FacetConsensusDialog *self)
{
  const char *a = facet_coder_pair_get_a (self->pair);
  const char *b = facet_coder_pair_get_b (self->pair);

  if (a == NULL || b == NULL)
    return;
  /* What is reading was asked for other coders, or before a decision. */
  facet_reload_invalidate (self->runs_reload);
  if (g_str_equal (a, b))
    {
      gtk_label_set_text (self->status_label, _("Choose two different coders."));
      return;
    }
  facet_reload_request (self->runs_reload);
}

static void
layers_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetConsensusDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) layers = facet_project_list_layers_finish (FACET_PROJECT (object), result,
                                                            &error);

  self->layers_loading = FALSE;
  if (self->project == NULL)
    return;
  if (layers == NULL)
    {
      gtk_label_set_text (self->status_label, error ? error->message : "");
      return;
    }
  if (g_strv_length (layers) < 2)
    {
      gtk_label_set_text (self->status_label,
                          _("Consensus needs two coders who coded independently: turn on "
                            "independent coding in the coder menu of the header bar."));
      return;
    }
  facet_coder_pair_set_coders (self->pair, (const char *const *) layers, NULL, 0, 1);
  reload (self);
}

/* ---- Resolving ------------------------------------------------------------------------------- */

typedef struct
{
  GArray *labels;
  char   *taken_from;
} Decision;

static void
decision_free (gpointer data)
{
  Decision *d = data;

  g_array_unref (d->labels);
  g_free (d->taken_from);
  g_free (d);
}

static gpointer
resolve_job (FacetStore   *store,
             gpointer      data,
             GCancellable *cancellable,
             GError      **error)
{
  Decision *d = data;
  gint64 id = facet_store_resolve_labels (store, (const FacetLabel *) (gpointer) d->labels->data,
                                          d->labels->len, d->taken_from, "consensus", error);

  return id < 0 ? NULL : GINT_TO_POINTER (1);
}

static void
resolve_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (FacetConsensusDialog) self = user_data;
  g_autoptr (GError) error = NULL;

  self->writing--;
  if (facet_project_run_finish (FACET_PROJECT (object), result, &error) == NULL)
    {
      if (self->project != NULL)
        gtk_label_set_text (self->status_label, error->message);
      return;
    }
  if (self->project != NULL)
    reload (self);
}

/* @which: 'a', 'b', or 's' with @state for a value of the resolver's own. */
static void
decide (FacetConsensusDialog *self,
        char                  which,
        FacetLabelState       state)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (self->list);
  const Run *r;
  Decision *d;
  int index;

  if (row == NULL || facet_consensus_dialog_is_busy (self))
    return;
  index = gtk_list_box_row_get_index (row);
  if (index < 0 || index >= (int) self->runs->len)
    return;
  r = &g_array_index (self->runs, Run, index);
  d = g_new0 (Decision, 1);
  d->labels = g_array_new (FALSE, TRUE, sizeof (FacetLabel));
  if (which == 'a')
    d->taken_from = g_strdup (facet_coder_pair_get_a (self->pair));
  else if (which == 'b')
    d->taken_from = g_strdup (facet_coder_pair_get_b (self->pair));
  for (gint64 f = r->first; f <= r->last; f++)
    {
      FacetLabel l = { 0 };

      l.video_id = r->video_id;
      l.frame = f;
      l.au = r->au;
      l.source = FACET_LABEL_SOURCE_HUMAN;
      l.state = which == 'a' ? r->state_a : which == 'b' ? r->state_b : state;
      l.intensity = facet_intensity_from_level (which == 'a' ? r->level_a
                                                : which == 'b' ? r->level_b : 0);
      g_array_append_val (d->labels, l);
    }
  self->keep_index = index;
  self->writing++;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_EDIT, resolve_job, d, decision_free, NULL,
                     NULL, resolve_done, g_object_ref (self));
}

static void
show_selected (FacetConsensusDialog *self)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (self->list);
  int index = row ? gtk_list_box_row_get_index (row) : -1;
  const Run *r;

  if (index < 0 || index >= (int) self->runs->len)
    return;
  r = &g_array_index (self->runs, Run, index);
  g_signal_emit (self, signals[SHOW_FRAME], 0, r->video_id, r->first, r->au);
}

static void
on_row_activated (GtkListBox           *list,
                  GtkListBoxRow        *row,
                  FacetConsensusDialog *self)
{
  show_selected (self);
}

static void
move (FacetConsensusDialog *self,
      int                   delta)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (self->list);
  int index = row ? gtk_list_box_row_get_index (row) + delta : 0;

  row = gtk_list_box_get_row_at_index (self->list, CLAMP (index, 0, (int) self->runs->len - 1));
  if (row != NULL)
    {
      gtk_list_box_select_row (self->list, row);
      gtk_widget_grab_focus (GTK_WIDGET (row));
    }
}

static void
act_decide (GtkWidget  *widget,
            const char *name,
            GVariant   *param)
{
  FacetConsensusDialog *self = FACET_CONSENSUS_DIALOG (widget);
  const char *what = g_variant_get_string (param, NULL);

  if (g_str_equal (what, "a") || g_str_equal (what, "b"))
    decide (self, what[0], FACET_LABEL_UNSET);
  else
    decide (self, 's', (FacetLabelState) (what[0] - '0'));
}

static void
act_move (GtkWidget  *widget,
          const char *name,
          GVariant   *param)
{
  move (FACET_CONSENSUS_DIALOG (widget), g_variant_get_int32 (param));
}

/* The first step of a consensus: where both coded alike, into the final
 * labels at once (facet_store_resolve_agreed; cells the final layer has
 * already are left alone). */
typedef struct
{
  gint64 copied;
  gint64 disagree;
} Agreed;

static gpointer
agreed_job (FacetStore   *store,
            gpointer      data,
            GCancellable *cancellable,
            GError      **error)
{
  Pair *pair = data;
  Agreed *out = g_new0 (Agreed, 1);

  if (facet_store_resolve_agreed (store, pair->a, pair->b, 0, FALSE, &out->copied,
                                  &out->disagree, error) < 0)
    {
      g_free (out);
      return NULL;
    }
  return out;
}

static void
agreed_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (FacetConsensusDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree Agreed *out = facet_project_run_finish (FACET_PROJECT (object), result, &error);
  g_autofree char *text = NULL;

  self->writing--;
  if (self->project == NULL)
    return;
  if (out == NULL)
    {
      gtk_label_set_text (self->status_label, error->message);
      return;
    }
  /* TRANSLATORS: consensus: frames where both coders agree, copied */
  text = g_strdup_printf (ngettext ("%d agreed code copied into the final labels",
                                    "%d agreed codes copied into the final labels",
                                    (gulong) out->copied), (int) out->copied);
  gtk_button_set_label (self->agreed_button, text);
  gtk_widget_set_sensitive (GTK_WIDGET (self->agreed_button), FALSE);
  reload (self);
}

static void
on_copy_agreed (FacetConsensusDialog *self)
{
  Pair *pair;

  if (self->writing > 0 || (pair = chosen_pair (self)) == NULL)
    return;
  self->writing++;
  facet_project_run (self->project, FACET_PROJECT_QUEUE_EDIT, agreed_job, pair, pair_free,
                     g_free, NULL, agreed_done, g_object_ref (self));
}

/* ---- Public ---------------------------------------------------------------------------------- */

FacetConsensusDialog *
facet_consensus_dialog_new (GtkWindow    *parent,
                            FacetProject *project)
{
  FacetConsensusDialog *self;

  g_return_val_if_fail (FACET_IS_PROJECT (project), NULL);

  self = g_object_new (FACET_TYPE_CONSENSUS_DIALOG, "transient-for", parent, NULL);
  self->project = g_object_ref (project);
  self->layers_loading = TRUE;
  facet_project_list_layers_async (project, layers_done, g_object_ref (self));
  return self;
}

gboolean
facet_consensus_dialog_set_coders (FacetConsensusDialog *self,
                                   const char           *a,
                                   const char           *b)
{
  g_return_val_if_fail (FACET_IS_CONSENSUS_DIALOG (self), FALSE);

  if (!facet_coder_pair_select (self->pair, a, b))
    return FALSE;
  reload (self);
  return TRUE;
}

guint
facet_consensus_dialog_get_n_runs (FacetConsensusDialog *self)
{
  g_return_val_if_fail (FACET_IS_CONSENSUS_DIALOG (self), 0);
  return self->runs->len;
}

gboolean
facet_consensus_dialog_is_busy (FacetConsensusDialog *self)
{
  g_return_val_if_fail (FACET_IS_CONSENSUS_DIALOG (self), FALSE);
  return self->layers_loading || facet_reload_is_busy (self->runs_reload) || self->writing > 0;
}

/* ---- Object ---------------------------------------------------------------------------------- */

static void
facet_consensus_dialog_dispose (GObject *object)
{
  FacetConsensusDialog *self = FACET_CONSENSUS_DIALOG (object);

  facet_reload_invalidate (self->runs_reload);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (facet_consensus_dialog_parent_class)->dispose (object);
}

static void
facet_consensus_dialog_finalize (GObject *object)
{
  FacetConsensusDialog *self = FACET_CONSENSUS_DIALOG (object);

  g_clear_pointer (&self->runs_reload, facet_reload_free);
  g_array_unref (self->runs);
  G_OBJECT_CLASS (facet_consensus_dialog_parent_class)->finalize (object);
}

static void
facet_consensus_dialog_class_init (FacetConsensusDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  static const struct
  {
    guint       keyval;
    const char *what;
  } keys[] = {
    { GDK_KEY_a, "a" }, { GDK_KEY_b, "b" }, { GDK_KEY_1, "1" }, { GDK_KEY_2, "2" },
    { GDK_KEY_3, "3" }, { GDK_KEY_0, "0" }, { GDK_KEY_KP_1, "1" }, { GDK_KEY_KP_2, "2" },
    { GDK_KEY_KP_3, "3" }, { GDK_KEY_KP_0, "0" }, { GDK_KEY_Delete, "0" },
  };

  object_class->dispose = facet_consensus_dialog_dispose;
  object_class->finalize = facet_consensus_dialog_finalize;

  /**
   * FacetConsensusDialog::show-frame:
   * @video_id: the video
   * @frame: the run's first frame
   * @au: the AU
   */
  signals[SHOW_FRAME] =
    g_signal_new ("show-frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_INT64, G_TYPE_INT64, G_TYPE_INT);

  gtk_widget_class_install_action (widget_class, "consensus.decide", "s", act_decide);
  gtk_widget_class_install_action (widget_class, "consensus.move", "i", act_move);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    gtk_widget_class_add_binding_action (widget_class, keys[i].keyval, 0, "consensus.decide", "s",
                                         keys[i].what);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_j, 0, "consensus.move", "i", 1);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_k, 0, "consensus.move", "i", -1);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
facet_consensus_dialog_init (FacetConsensusDialog *self)
{
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *body = facet_dialog_body_new (12, 12, 18, 18);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkWidget *label;

  self->runs = g_array_new (FALSE, TRUE, sizeof (Run));
  self->runs_reload = facet_reload_new (G_OBJECT (self), runs_start, runs_done);
  gtk_window_set_title (GTK_WINDOW (self), _("Consensus"));
  gtk_window_set_default_size (GTK_WINDOW (self), 760, 520);
  {
    GtkWidget *header = adw_header_bar_new ();

    self->agreed_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("Copy the _Agreed Codes")));
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->agreed_button),
                                 _("Where both coders coded alike, take their code into the final "
                                   "labels at once (final labels already there stay)"));
    gtk_widget_set_focus_on_click (GTK_WIDGET (self->agreed_button), FALSE);
    g_signal_connect_swapped (self->agreed_button, "clicked", G_CALLBACK (on_copy_agreed), self);
    adw_header_bar_pack_start (ADW_HEADER_BAR (header), GTK_WIDGET (self->agreed_button));
    gtk_box_append (GTK_BOX (content), header);
  }

  self->pair = FACET_CODER_PAIR (facet_coder_pair_new ());
  g_signal_connect_swapped (self->pair, "changed", G_CALLBACK (reload), self);
  gtk_box_append (GTK_BOX (body), GTK_WIDGET (self->pair));

  /* Captions over the columns of the rows (row_new lays them out alike). */
  {
    GtkWidget *captions = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
    const char *texts[] = { _("Where"), _("Coder A"), _("Coder B"), _("Final") };

    for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
      {
        label = gtk_label_new (texts[i]);
        gtk_label_set_xalign (GTK_LABEL (label), 0);
        if (i == 0)
          gtk_widget_set_hexpand (label, TRUE);
        else
          gtk_label_set_width_chars (GTK_LABEL (label), 14);
        gtk_widget_add_css_class (label, "caption-heading");
        gtk_box_append (GTK_BOX (captions), label);
      }
    gtk_widget_set_margin_start (captions, 7);
    gtk_widget_set_margin_end (captions, 7);
    gtk_box_append (GTK_BOX (body), captions);
  }

  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_BROWSE);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "boxed-list");
  g_signal_connect (self->list, "row-activated", G_CALLBACK (on_row_activated), self);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->list));
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_box_append (GTK_BOX (body), scroller);

  self->status_label = GTK_LABEL (facet_dialog_note_new (_("Reading the coders’ layers…")));
  gtk_box_append (GTK_BOX (body), GTK_WIDGET (self->status_label));
  gtk_box_append (GTK_BOX (content), body);
  adw_window_set_content (ADW_WINDOW (self), content);
}
