/* facet-transport.c — play, step, jump, go to; frame number and time
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The buttons activate the window's actions (win.step, win.skip, win.play)
 * so that they do exactly what the keys do.
 */
#define G_LOG_DOMAIN "facet-transport"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-timecode.h"
#include "facet-transport.h"

static const double speeds[] = { 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0 };

struct _FacetTransport
{
  GtkWidget       parent_instance;

  GtkWidget      *box;
  GtkScale       *scale;
  GtkAdjustment  *adjustment;
  GtkButton      *play_button;
  GtkMenuButton  *goto_button;
  GtkPopover     *goto_popover;
  GtkEntry       *goto_entry;
  GtkLabel       *goto_hint;
  GtkLabel       *position_label;
  GtkLabel       *time_label;
  GtkDropDown    *speed_dropdown;

  FacetPlayer    *player;
  gboolean        updating;
  guint           select_source;
  char           *goto_filled;     /* what the go-to entry was filled with */
};

G_DEFINE_FINAL_TYPE (FacetTransport, facet_transport, GTK_TYPE_WIDGET)

static void
update_position (FacetTransport *self)
{
  gint64 frame, n;
  g_autofree char *pos = NULL, *now = NULL, *total = NULL, *time = NULL;

  if (self->player == NULL)
    return;
  frame = facet_player_get_frame (self->player);
  n = facet_player_get_n_frames (self->player);
  /* TRANSLATORS: the frame shown and the number of the last frame, e.g. "Frame 123 / 2999" */
  pos = g_strdup_printf (_("Frame %d / %d"), (int) frame, (int) MAX (n - 1, 0));
  now = facet_timecode_format (facet_player_get_time (self->player));
  total = facet_timecode_format (n > 0 ? facet_player_frame_time (self->player, n - 1) : 0);
  time = g_strdup_printf ("%s / %s", now, total);
  gtk_label_set_text (self->position_label, pos);
  gtk_label_set_text (self->time_label, time);

  self->updating = TRUE;
  gtk_adjustment_configure (self->adjustment, (double) frame, 0, (double) MAX (n - 1, 0) + 1, 1,
                            MAX (facet_player_get_fps (self->player), 1.0), 1);
  self->updating = FALSE;
}

static void
update_playing (FacetTransport *self)
{
  gboolean playing = self->player && facet_player_get_playing (self->player);

  gtk_button_set_icon_name (self->play_button, playing ? "media-playback-pause-symbolic"
                                                      : "media-playback-start-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->play_button),
                               playing ? _("Pause (Space)") : _("Play (Space)"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->play_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  playing ? _("Pause") : _("Play"), -1);
}

static void
update_speed (FacetTransport *self)
{
  double speed = self->player ? facet_player_get_speed (self->player) : 1.0;
  guint best = 3;

  for (guint i = 0; i < G_N_ELEMENTS (speeds); i++)
    if (fabs (speeds[i] - speed) < fabs (speeds[best] - speed))
      best = i;
  self->updating = TRUE;
  gtk_drop_down_set_selected (self->speed_dropdown, best);
  self->updating = FALSE;
}

static void
on_adjustment_changed (GtkAdjustment  *adjustment,
                       FacetTransport *self)
{
  if (self->updating || self->player == NULL)
    return;
  facet_player_seek (self->player, (gint64) (gtk_adjustment_get_value (adjustment) + 0.5));
}

static void
on_speed_selected (GtkDropDown    *dropdown,
                   GParamSpec     *pspec,
                   FacetTransport *self)
{
  guint i = gtk_drop_down_get_selected (dropdown);

  if (self->updating || self->player == NULL || i >= G_N_ELEMENTS (speeds))
    return;
  facet_player_set_speed (self->player, speeds[i]);
}

static void
on_goto_shown (GtkPopover     *popover,
               FacetTransport *self)
{
  g_autofree char *text = NULL;

  if (self->player != NULL)
    text = g_strdup_printf ("%" G_GINT64_FORMAT, facet_player_get_frame (self->player));
  gtk_editable_set_text (GTK_EDITABLE (self->goto_entry), text ? text : "");
  g_free (self->goto_filled);
  self->goto_filled = g_strdup (text ? text : "");
}

/* The pre-filled number is selected, so that typing replaces it ("200",
 * not "20060"). The popover moves the focus itself once it is mapped,
 * which may drop a selection made earlier: select once it has settled. */
static gboolean
select_goto_text (gpointer data)
{
  FacetTransport *self = data;

  self->select_source = 0;
  /* Only while the number shown is still the one filled in: a key the
   * coder typed in between stays. */
  if (gtk_widget_get_mapped (GTK_WIDGET (self->goto_popover))
      && g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->goto_entry)), self->goto_filled) == 0)
    {
      gtk_widget_grab_focus (GTK_WIDGET (self->goto_entry));
      gtk_editable_select_region (GTK_EDITABLE (self->goto_entry), 0, -1);
    }
  return G_SOURCE_REMOVE;
}

static void
on_goto_mapped (FacetTransport *self)
{
  select_goto_text (self);
  g_clear_handle_id (&self->select_source, g_source_remove);
  self->select_source = g_idle_add (select_goto_text, self);
}

static void
on_goto_changed (GtkEditable    *entry,
                 FacetTransport *self)
{
  gtk_widget_remove_css_class (GTK_WIDGET (entry), "error");
}

static void
on_goto_activate (FacetTransport *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->goto_entry));
  FacetTimecodeKind kind;
  gint64 frame = 0, n;
  double seconds = 0;

  if (self->player == NULL)
    return;
  n = facet_player_get_n_frames (self->player);
  if (!facet_timecode_parse (text, facet_player_get_fps (self->player), &kind, &frame, &seconds)
      || (kind == FACET_TIMECODE_FRAME && frame >= n))
    {
      /* Say what is wrong where the coder is looking. */
      gtk_widget_add_css_class (GTK_WIDGET (self->goto_entry), "error");
      if (kind == FACET_TIMECODE_FRAME && frame >= n)
        {
          g_autofree char *msg = g_strdup_printf (_("This video has frames 0 to %d"),
                                                  (int) MAX (n - 1, 0));
          gtk_label_set_text (self->goto_hint, msg);
        }
      else
        gtk_label_set_text (self->goto_hint,
                            _("Not a frame number or a time: type e.g. 1234, 75.5s, "
                                               "1:15.5 or 00:01:15:12"));
      gtk_widget_error_bell (GTK_WIDGET (self->goto_entry));
      return;
    }
  facet_player_set_playing (self->player, FALSE);
  if (kind == FACET_TIMECODE_FRAME)
    facet_player_seek (self->player, frame);
  else
    facet_player_seek_time (self->player, seconds);
  gtk_popover_popdown (self->goto_popover);
}

GtkWidget *
facet_transport_new (void)
{
  return g_object_new (FACET_TYPE_TRANSPORT, NULL);
}

void
facet_transport_set_player (FacetTransport *self,
                            FacetPlayer    *player)
{
  g_return_if_fail (FACET_IS_TRANSPORT (self));
  g_return_if_fail (player == NULL || FACET_IS_PLAYER (player));

  if (self->player != NULL)
    g_signal_handlers_disconnect_by_data (self->player, self);
  g_set_object (&self->player, player);
  if (player != NULL)
    {
      g_signal_connect_swapped (player, "notify::frame", G_CALLBACK (update_position), self);
      g_signal_connect_swapped (player, "notify::n-frames", G_CALLBACK (update_position), self);
      g_signal_connect_swapped (player, "notify::playing", G_CALLBACK (update_playing), self);
      g_signal_connect_swapped (player, "notify::speed", G_CALLBACK (update_speed), self);
    }
  update_position (self);
  update_playing (self);
  update_speed (self);
}

void
facet_transport_show_goto (FacetTransport *self)
{
  g_return_if_fail (FACET_IS_TRANSPORT (self));
  gtk_label_set_text (self->goto_hint,
                      _("A frame number (from 0), seconds (75.5s), m:ss.s, h:mm:ss.s "
                                         "or hh:mm:ss:ff"));
  gtk_menu_button_popup (self->goto_button);
}

char *
facet_transport_dup_position_text (FacetTransport *self)
{
  g_return_val_if_fail (FACET_IS_TRANSPORT (self), NULL);
  return g_strdup_printf ("%s %s", gtk_label_get_text (self->position_label),
                          gtk_label_get_text (self->time_label));
}

static void
facet_transport_dispose (GObject *object)
{
  FacetTransport *self = (FacetTransport *) object;

  if (self->player != NULL)
    g_signal_handlers_disconnect_by_data (self->player, self);
  g_clear_object (&self->player);
  g_clear_handle_id (&self->select_source, g_source_remove);
  g_clear_pointer (&self->goto_filled, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), FACET_TYPE_TRANSPORT);
  G_OBJECT_CLASS (facet_transport_parent_class)->dispose (object);
}

static void
facet_transport_class_init (FacetTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = facet_transport_dispose;

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "transport");
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/facet/Facet/facet-transport.ui");
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, adjustment);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, box);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, goto_button);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, goto_entry);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, goto_hint);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, goto_popover);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, play_button);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, position_label);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, scale);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, speed_dropdown);
  gtk_widget_class_bind_template_child (widget_class, FacetTransport, time_label);
  gtk_widget_class_bind_template_callback (widget_class, on_goto_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_goto_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_goto_shown);
}

static void
facet_transport_init (FacetTransport *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect (self->adjustment, "value-changed", G_CALLBACK (on_adjustment_changed), self);
  g_signal_connect (self->speed_dropdown, "notify::selected", G_CALLBACK (on_speed_selected), self);
  g_signal_connect_swapped (self->goto_popover, "map", G_CALLBACK (on_goto_mapped), self);
  gtk_drop_down_set_selected (self->speed_dropdown, 3);
}
