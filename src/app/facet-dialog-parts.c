/* facet-dialog-parts.c — the pieces the app's dialogs are built from
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "facet-dialog-parts.h"

GtkWidget *
facet_dialog_edit_header (GtkWindow  *window,
                          const char *title,
                          GCallback   on_save,
                          GtkButton **save_button)
{
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  GtkWidget *save = gtk_button_new_with_mnemonic (_("_Save"));

  g_return_val_if_fail (GTK_IS_WINDOW (window), NULL);

  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), adw_window_title_new (title, NULL));
  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (gtk_window_destroy), window);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  gtk_widget_add_css_class (save, "suggested-action");
  g_signal_connect_swapped (save, "clicked", on_save, window);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), save);
  if (save_button != NULL)
    *save_button = GTK_BUTTON (save);
  return header;
}

GtkWidget *
facet_dialog_note_new (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "dim-label");
  return label;
}

GtkWidget *
facet_dialog_body_new (int spacing,
                       int top,
                       int sides,
                       int bottom)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, spacing);

  gtk_widget_set_margin_top (box, top);
  gtk_widget_set_margin_bottom (box, bottom);
  gtk_widget_set_margin_start (box, sides);
  gtk_widget_set_margin_end (box, sides);
  return box;
}

GtkWidget *
facet_dialog_scroll_clamped (GtkWidget *child,
                             int        max_width)
{
  GtkWidget *clamp = adw_clamp_new ();
  GtkWidget *scroller = gtk_scrolled_window_new ();

  adw_clamp_set_maximum_size (ADW_CLAMP (clamp), max_width);
  adw_clamp_set_child (ADW_CLAMP (clamp), child);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), clamp);
  return scroller;
}
