/* facet-player.h — the video being coded: frame-exact position, decoding
 * off the main loop, playback
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "media/facet-media.h"

G_BEGIN_DECLS

#define FACET_TYPE_PLAYER (facet_player_get_type ())

G_DECLARE_FINAL_TYPE (FacetPlayer, facet_player, FACET, PLAYER, GObject)

FacetPlayer      *facet_player_new              (void);
/* Opens @path in a worker thread; ::opened or ::error follow. */
void              facet_player_open             (FacetPlayer  *self,
                                                 const char   *path,
                                                 double        folder_fps);
void              facet_player_close            (FacetPlayer  *self);
FacetMediaSource *facet_player_get_source       (FacetPlayer  *self);
const char       *facet_player_get_path         (FacetPlayer  *self);

gint64            facet_player_get_n_frames     (FacetPlayer  *self);
double            facet_player_get_fps          (FacetPlayer  *self);
/* The position: the frame asked for, shown as soon as it is decoded. */
gint64            facet_player_get_frame        (FacetPlayer  *self);
double            facet_player_get_time         (FacetPlayer  *self);
double            facet_player_frame_time       (FacetPlayer  *self,
                                                 gint64        frame);
void              facet_player_seek             (FacetPlayer  *self,
                                                 gint64        frame);
void              facet_player_step             (FacetPlayer  *self,
                                                 gint64        delta);
/* Moves by @seconds (negative: back), frame-exactly by the timestamps. */
void              facet_player_skip_seconds     (FacetPlayer  *self,
                                                 double        seconds);
void              facet_player_seek_time        (FacetPlayer  *self,
                                                 double        seconds);

gboolean          facet_player_get_playing      (FacetPlayer  *self);
void              facet_player_set_playing      (FacetPlayer  *self,
                                                 gboolean      playing);
double            facet_player_get_speed        (FacetPlayer  *self);
void              facet_player_set_speed        (FacetPlayer  *self,
                                                 double        speed);

/* The frame on screen (-1 before the first one is decoded). */
gint64            facet_player_get_shown_frame  (FacetPlayer  *self);
GdkTexture       *facet_player_get_texture      (FacetPlayer  *self);
FacetImage       *facet_player_get_image        (FacetPlayer  *self);
/* Whether frame @frame is decoded already (for the benchmark). */
gboolean          facet_player_is_cached        (FacetPlayer  *self,
                                                 gint64        frame);

G_END_DECLS
