/* facet-coder-pair.c — the choice of two coders to compare
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two drop-downs with mnemonic labels; the store names behind the titles
 * are kept here, so the windows ask for names, never for indexes.
 * ::changed is emitted when the coder picks another coder, not when the
 * window fills the lists or chooses both itself (it reads them again then).
 */
#define G_LOG_DOMAIN "facet-coder-pair"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-coder-pair.h"

struct _FacetCoderPair
{
  GtkBox       parent_instance;

  GtkDropDown *a_drop;
  GtkDropDown *b_drop;
  GStrv        names;
  gboolean     filling;
};

G_DEFINE_FINAL_TYPE (FacetCoderPair, facet_coder_pair, GTK_TYPE_BOX)

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
on_selected (FacetCoderPair *self)
{
  if (!self->filling)
    g_signal_emit (self, signals[CHANGED], 0);
}

GtkWidget *
facet_coder_pair_new (void)
{
  return g_object_new (FACET_TYPE_CODER_PAIR, NULL);
}

void
facet_coder_pair_set_coders (FacetCoderPair     *self,
                             const char * const *names,
                             const char * const *titles,
                             guint               a,
                             guint               b)
{
  g_autoptr (GtkStringList) list = NULL;

  g_return_if_fail (FACET_IS_CODER_PAIR (self));
  g_return_if_fail (names != NULL);

  g_strfreev (self->names);
  self->names = g_strdupv ((char **) names);
  list = gtk_string_list_new (titles != NULL ? titles : names);
  self->filling = TRUE;
  gtk_drop_down_set_model (self->a_drop, G_LIST_MODEL (list));
  gtk_drop_down_set_model (self->b_drop, G_LIST_MODEL (list));
  gtk_drop_down_set_selected (self->a_drop, a);
  gtk_drop_down_set_selected (self->b_drop, b);
  self->filling = FALSE;
}

static int
find (FacetCoderPair *self,
      const char     *name)
{
  for (guint i = 0; self->names != NULL && self->names[i] != NULL; i++)
    if (g_strcmp0 (self->names[i], name) == 0)
      return (int) i;
  return -1;
}

gboolean
facet_coder_pair_select (FacetCoderPair *self,
                         const char     *a,
                         const char     *b)
{
  int ia, ib;

  g_return_val_if_fail (FACET_IS_CODER_PAIR (self), FALSE);

  ia = find (self, a);
  ib = find (self, b);
  if (ia < 0 || ib < 0)
    return FALSE;
  self->filling = TRUE;
  gtk_drop_down_set_selected (self->a_drop, (guint) ia);
  gtk_drop_down_set_selected (self->b_drop, (guint) ib);
  self->filling = FALSE;
  return TRUE;
}

static const char *
chosen (FacetCoderPair *self,
        GtkDropDown    *drop)
{
  guint i = gtk_drop_down_get_selected (drop);

  if (self->names == NULL || i >= g_strv_length (self->names))
    return NULL;
  return self->names[i];
}

const char *
facet_coder_pair_get_a (FacetCoderPair *self)
{
  g_return_val_if_fail (FACET_IS_CODER_PAIR (self), NULL);
  return chosen (self, self->a_drop);
}

const char *
facet_coder_pair_get_b (FacetCoderPair *self)
{
  g_return_val_if_fail (FACET_IS_CODER_PAIR (self), NULL);
  return chosen (self, self->b_drop);
}

guint
facet_coder_pair_get_n (FacetCoderPair *self)
{
  g_return_val_if_fail (FACET_IS_CODER_PAIR (self), 0);
  return self->names != NULL ? g_strv_length (self->names) : 0;
}

static void
facet_coder_pair_finalize (GObject *object)
{
  FacetCoderPair *self = FACET_CODER_PAIR (object);

  g_strfreev (self->names);
  G_OBJECT_CLASS (facet_coder_pair_parent_class)->finalize (object);
}

static void
facet_coder_pair_class_init (FacetCoderPairClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = facet_coder_pair_finalize;

  /**
   * FacetCoderPair::changed:
   *
   * The coder chose another coder A or B.
   */
  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static GtkWidget *
labelled (const char *text,
          GtkWidget  *widget)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new_with_mnemonic (text);

  gtk_label_set_mnemonic_widget (GTK_LABEL (label), widget);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), widget);
  return box;
}

static void
facet_coder_pair_init (FacetCoderPair *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_HORIZONTAL);
  gtk_box_set_spacing (GTK_BOX (self), 18);
  self->a_drop = GTK_DROP_DOWN (gtk_drop_down_new (NULL, NULL));
  self->b_drop = GTK_DROP_DOWN (gtk_drop_down_new (NULL, NULL));
  g_signal_connect_swapped (self->a_drop, "notify::selected", G_CALLBACK (on_selected), self);
  g_signal_connect_swapped (self->b_drop, "notify::selected", G_CALLBACK (on_selected), self);
  /* TRANSLATORS: the first of the two coders compared */
  gtk_box_append (GTK_BOX (self), labelled (_("Coder _A"), GTK_WIDGET (self->a_drop)));
  gtk_box_append (GTK_BOX (self), labelled (_("Coder _B"), GTK_WIDGET (self->b_drop)));
}
