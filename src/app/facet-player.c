/* facet-player.c — frame-exact position, decoding in a worker, playback
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The position changes at once (the frame number and the AU panel follow
 * the key press); the picture follows when it is decoded. One decode runs
 * at a time and only the newest request waits behind it, so holding an
 * arrow key or playing faster than the decoder skips frames instead of
 * queueing them.
 */
#define G_LOG_DOMAIN "facet-player"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "facet-player.h"

/* Decoded frames kept for stepping back and forth. */
#define CACHE_BYTES (256u << 20)

struct _FacetPlayer
{
  GObject           parent_instance;

  FacetMediaSource *source;
  char             *path;
  GCancellable     *cancellable;   /* of the open and the decodes of this source */
  gint64            n_frames;
  double            fps;
  gint64            frame;
  gint64            shown;
  GdkTexture       *texture;
  FacetImage       *image;
  gboolean          decoding;
  gint64            pending;       /* -1: nothing waits */
  gboolean          playing;
  double            speed;
  guint             play_source;
  gint64            play_start_frame;
  gint64            play_start_us;
};

G_DEFINE_FINAL_TYPE (FacetPlayer, facet_player, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_FRAME,
  PROP_N_FRAMES,
  PROP_FPS,
  PROP_PLAYING,
  PROP_SPEED,
  N_PROPS
};

enum {
  OPENED,
  FRAME_SHOWN,
  ERROR,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void request_decode (FacetPlayer *self);

/* ---- Decoding -------------------------------------------------------------------------------- */

typedef struct
{
  FacetMediaSource *source;
  gint64            index;
  FacetImage       *image;
  GdkTexture       *texture;
} Decode;

static void
decode_free (gpointer data)
{
  Decode *d = data;

  facet_media_source_unref (d->source);
  g_clear_pointer (&d->image, facet_image_unref);
  g_clear_object (&d->texture);
  g_free (d);
}

static void
decode_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Decode *d = task_data;
  GError *error = NULL;
  g_autoptr (GBytes) bytes = NULL;

  d->image = facet_media_source_get_frame (d->source, d->index, &error);
  if (d->image == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* The texture shares the decoded pixels; it is made here so that the
   * main loop only swaps it in. */
  bytes = g_bytes_new_with_free_func (d->image->data, (gsize) d->image->stride * d->image->height,
                                      (GDestroyNotify) facet_image_unref,
                                      facet_image_ref (d->image));
  d->texture = gdk_memory_texture_new (d->image->width, d->image->height, GDK_MEMORY_R8G8B8, bytes,
                                       d->image->stride);
  g_task_return_boolean (task, TRUE);
}

static void
decode_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  FacetPlayer *self = FACET_PLAYER (object);
  Decode *d = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  self->decoding = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[ERROR], 0, error);
    }
  else if (d->source == self->source)
    {
      g_set_object (&self->texture, d->texture);
      g_clear_pointer (&self->image, facet_image_unref);
      self->image = facet_image_ref (d->image);
      self->shown = d->index;
      g_signal_emit (self, signals[FRAME_SHOWN], 0, d->index);
    }
  if (self->pending >= 0 && self->source != NULL)
    request_decode (self);
}

static void
request_decode (FacetPlayer *self)
{
  g_autoptr (GTask) task = NULL;
  Decode *d;

  if (self->source == NULL)
    return;
  if (self->decoding)
    {
      self->pending = self->frame;
      return;
    }
  self->pending = -1;
  if (self->frame == self->shown)
    return;

  self->decoding = TRUE;
  d = g_new0 (Decode, 1);
  d->source = facet_media_source_ref (self->source);
  d->index = self->frame;
  task = g_task_new (self, self->cancellable, decode_done, NULL);
  g_task_set_source_tag (task, request_decode);
  g_task_set_task_data (task, d, decode_free);
  g_task_run_in_thread (task, decode_thread);
}

/* ---- Opening --------------------------------------------------------------------------------- */

typedef struct
{
  char             *path;
  double            folder_fps;
  FacetMediaSource *source;
} Open;

static void
open_free (gpointer data)
{
  Open *o = data;

  g_free (o->path);
  g_clear_pointer (&o->source, facet_media_source_unref);
  g_free (o);
}

static void
open_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Open *o = task_data;
  GError *error = NULL;

  o->source = facet_media_source_open (o->path, o->folder_fps, &error);
  if (o->source == NULL)
    g_task_return_error (task, error);
  else
    {
      facet_media_source_set_cache_size (o->source, CACHE_BYTES);
      g_task_return_boolean (task, TRUE);
    }
}

static void
open_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  FacetPlayer *self = FACET_PLAYER (object);
  Open *o = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  const FacetMediaInfo *info;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[ERROR], 0, error);
      return;
    }
  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    return;

  self->source = g_steal_pointer (&o->source);
  info = facet_media_source_get_info (self->source);
  self->n_frames = info->n_frames;
  self->fps = info->fps > 0 ? info->fps : 25.0;
  self->frame = CLAMP (self->frame, 0, MAX (self->n_frames - 1, 0));
  self->shown = -1;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_FRAMES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FPS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRAME]);
  g_signal_emit (self, signals[OPENED], 0);
  request_decode (self);
}

void
facet_player_open (FacetPlayer *self,
                   const char  *path,
                   double       folder_fps)
{
  g_autoptr (GTask) task = NULL;
  Open *o;

  g_return_if_fail (FACET_IS_PLAYER (self));
  g_return_if_fail (path != NULL);

  facet_player_close (self);
  self->path = g_strdup (path);
  self->cancellable = g_cancellable_new ();
  o = g_new0 (Open, 1);
  o->path = g_strdup (path);
  o->folder_fps = folder_fps;
  task = g_task_new (self, self->cancellable, open_done, NULL);
  g_task_set_source_tag (task, facet_player_open);
  g_task_set_task_data (task, o, open_free);
  g_task_run_in_thread (task, open_thread);
}

void
facet_player_close (FacetPlayer *self)
{
  g_return_if_fail (FACET_IS_PLAYER (self));

  facet_player_set_playing (self, FALSE);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->source, facet_media_source_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->image, facet_image_unref);
  self->n_frames = 0;
  self->frame = 0;
  self->shown = -1;
  self->pending = -1;
}

/* ---- Position -------------------------------------------------------------------------------- */

void
facet_player_seek (FacetPlayer *self,
                   gint64       frame)
{
  g_return_if_fail (FACET_IS_PLAYER (self));

  if (self->n_frames <= 0)
    return;
  frame = CLAMP (frame, 0, self->n_frames - 1);
  if (frame == self->frame)
    {
      request_decode (self);
      return;
    }
  self->frame = frame;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRAME]);
  request_decode (self);
}

void
facet_player_step (FacetPlayer *self,
                   gint64       delta)
{
  g_return_if_fail (FACET_IS_PLAYER (self));

  facet_player_set_playing (self, FALSE);
  facet_player_seek (self, self->frame + delta);
}

void
facet_player_seek_time (FacetPlayer *self,
                        double       seconds)
{
  g_return_if_fail (FACET_IS_PLAYER (self));

  if (self->source == NULL)
    return;
  facet_player_seek (self, facet_media_source_frame_at_time (self->source, MAX (seconds, 0.0)));
}

void
facet_player_skip_seconds (FacetPlayer *self,
                           double       seconds)
{
  gint64 target;

  g_return_if_fail (FACET_IS_PLAYER (self));

  if (self->source == NULL)
    return;
  facet_player_set_playing (self, FALSE);
  /* By the timestamps, so that 1 s is a second in a variable frame rate
   * video too; at least one frame so that the key always moves. */
  target = facet_media_source_frame_at_time (self->source,
                                             MAX (facet_player_get_time (self) + seconds, 0.0));
  if (target == self->frame)
    target += seconds > 0 ? 1 : -1;
  facet_player_seek (self, target);
}

gint64
facet_player_get_frame (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), 0);
  return self->frame;
}

double
facet_player_frame_time (FacetPlayer *self,
                         gint64       frame)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), 0.0);

  if (self->source == NULL)
    return 0.0;
  return facet_media_source_frame_time (self->source, frame);
}

double
facet_player_get_time (FacetPlayer *self)
{
  return facet_player_frame_time (self, self->frame);
}

gint64
facet_player_get_n_frames (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), 0);
  return self->n_frames;
}

double
facet_player_get_fps (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), 0.0);
  return self->fps;
}

FacetMediaSource *
facet_player_get_source (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), NULL);
  return self->source;
}

const char *
facet_player_get_path (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), NULL);
  return self->path;
}

gint64
facet_player_get_shown_frame (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), -1);
  return self->shown;
}

GdkTexture *
facet_player_get_texture (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), NULL);
  return self->texture;
}

FacetImage *
facet_player_get_image (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), NULL);
  return self->image;
}

gboolean
facet_player_is_cached (FacetPlayer *self,
                        gint64       frame)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), FALSE);
  return self->source != NULL && facet_media_source_is_cached (self->source, frame);
}

/* ---- Playback -------------------------------------------------------------------------------- */

/* The frame due now follows the wall clock, so a slow decoder drops
 * frames rather than slowing the video down. */
static gboolean
play_tick (gpointer user_data)
{
  FacetPlayer *self = user_data;
  double elapsed = (g_get_monotonic_time () - self->play_start_us) / 1e6;
  gint64 due;

  if (self->source == NULL)
    {
      self->play_source = 0;
      facet_player_set_playing (self, FALSE);
      return G_SOURCE_REMOVE;
    }
  due = facet_media_source_frame_at_time (self->source,
                                          facet_player_frame_time (self, self->play_start_frame)
                                          + elapsed * self->speed);
  if (due >= self->n_frames - 1)
    {
      facet_player_seek (self, self->n_frames - 1);
      self->play_source = 0;
      facet_player_set_playing (self, FALSE);
      return G_SOURCE_REMOVE;
    }
  if (due != self->frame)
    facet_player_seek (self, due);
  return G_SOURCE_CONTINUE;
}

gboolean
facet_player_get_playing (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), FALSE);
  return self->playing;
}

static void
restart_clock (FacetPlayer *self)
{
  guint interval;

  g_clear_handle_id (&self->play_source, g_source_remove);
  if (!self->playing)
    return;
  self->play_start_frame = self->frame;
  self->play_start_us = g_get_monotonic_time ();
  /* Twice per frame, so a frame is never late by more than half its time. */
  interval = (guint) CLAMP (500.0 / (self->fps * self->speed), 4.0, 100.0);
  self->play_source = g_timeout_add_full (G_PRIORITY_HIGH_IDLE, interval, play_tick, self, NULL);
}

void
facet_player_set_playing (FacetPlayer *self,
                          gboolean     playing)
{
  g_return_if_fail (FACET_IS_PLAYER (self));

  playing = !!playing && self->source != NULL && self->n_frames > 1;
  if (self->playing == playing)
    return;
  /* Playing from the last frame starts over. */
  if (playing && self->frame >= self->n_frames - 1)
    facet_player_seek (self, 0);
  self->playing = playing;
  restart_clock (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PLAYING]);
}

double
facet_player_get_speed (FacetPlayer *self)
{
  g_return_val_if_fail (FACET_IS_PLAYER (self), 1.0);
  return self->speed;
}

void
facet_player_set_speed (FacetPlayer *self,
                        double       speed)
{
  g_return_if_fail (FACET_IS_PLAYER (self));

  speed = CLAMP (speed, 0.1, 8.0);
  if (self->speed == speed)
    return;
  self->speed = speed;
  restart_clock (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SPEED]);
}

/* ---- Object ---------------------------------------------------------------------------------- */

static void
facet_player_dispose (GObject *object)
{
  FacetPlayer *self = (FacetPlayer *) object;

  facet_player_close (self);
  G_OBJECT_CLASS (facet_player_parent_class)->dispose (object);
}

static void
facet_player_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  FacetPlayer *self = FACET_PLAYER (object);

  switch (prop_id)
    {
    case PROP_FRAME:
      g_value_set_int64 (value, self->frame);
      break;
    case PROP_N_FRAMES:
      g_value_set_int64 (value, self->n_frames);
      break;
    case PROP_FPS:
      g_value_set_double (value, self->fps);
      break;
    case PROP_PLAYING:
      g_value_set_boolean (value, self->playing);
      break;
    case PROP_SPEED:
      g_value_set_double (value, self->speed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_player_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  FacetPlayer *self = FACET_PLAYER (object);

  switch (prop_id)
    {
    case PROP_FRAME:
      facet_player_seek (self, g_value_get_int64 (value));
      break;
    case PROP_PLAYING:
      facet_player_set_playing (self, g_value_get_boolean (value));
      break;
    case PROP_SPEED:
      facet_player_set_speed (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
facet_player_class_init (FacetPlayerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = facet_player_dispose;
  object_class->get_property = facet_player_get_property;
  object_class->set_property = facet_player_set_property;

  properties[PROP_FRAME] =
    g_param_spec_int64 ("frame", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_FRAMES] =
    g_param_spec_int64 ("n-frames", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FPS] =
    g_param_spec_double ("fps", NULL, NULL, 0, G_MAXDOUBLE, 25,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PLAYING] =
    g_param_spec_boolean ("playing", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SPEED] =
    g_param_spec_double ("speed", NULL, NULL, 0.1, 8.0, 1.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[OPENED] =
    g_signal_new ("opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  /**
   * FacetPlayer::frame-shown:
   * @frame: the frame whose picture is now facet_player_get_texture()
   */
  signals[FRAME_SHOWN] =
    g_signal_new ("frame-shown", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
facet_player_init (FacetPlayer *self)
{
  self->shown = -1;
  self->pending = -1;
  self->speed = 1.0;
  self->fps = 25.0;
}

FacetPlayer *
facet_player_new (void)
{
  return g_object_new (FACET_TYPE_PLAYER, NULL);
}
