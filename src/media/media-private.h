/* media-private.h — what the files of the media module share
 *
 * A FacetMediaSource is a thin, locked front (media-source.c) over one of two
 * backends: FFmpeg video files (media-video.c) and image folders
 * (media-folder.c). Each backend answers random access and hands out
 * sequential cursors; the front adds the frame cache and the locking.
 */
#pragma once

#include "facet-media.h"

G_BEGIN_DECLS

typedef struct
{
  const char *name;
  /* Random access. Called with the source's lock held. */
  FacetImage *(*get_frame)     (gpointer    backend,
                                gint64      index,
                                GError    **error);
  /* A sequential cursor: frames are asked for in increasing order. Cursors
   * are used by one thread at a time and without the source's lock. */
  gpointer    (*cursor_new)    (gpointer    backend,
                                GError    **error);
  FacetImage *(*cursor_get)    (gpointer    cursor,
                                gint64      index,
                                GError    **error);
  void        (*cursor_free)   (gpointer    cursor);
  double      (*frame_time)    (gpointer    backend,
                                gint64      index);
  /* Adds the backend's decoder counters (seeks, decoded frames). */
  void        (*get_stats)     (gpointer         backend,
                                FacetMediaStats *stats);
  void        (*free)          (gpointer    backend);
} FacetMediaBackendClass;

/* Backends fill @info (the strings are owned by the source afterwards). */
gpointer facet_media_video_open  (const char                     *path,
                                  FacetMediaInfo                 *info,
                                  const FacetMediaBackendClass  **klass,
                                  GError                        **error);
gpointer facet_media_folder_open (const char                     *path,
                                  double                          fps,
                                  FacetMediaInfo                 *info,
                                  const FacetMediaBackendClass  **klass,
                                  GError                        **error);

/* The frame cache: an LRU of decoded frames bounded in bytes. Not locked;
 * the source's lock protects it. */
typedef struct _FacetMediaCache FacetMediaCache;

FacetMediaCache *facet_media_cache_new       (gsize             limit);
void             facet_media_cache_free      (FacetMediaCache  *cache);
FacetImage      *facet_media_cache_lookup    (FacetMediaCache  *cache,
                                              gint64            key);
gboolean         facet_media_cache_contains  (FacetMediaCache  *cache,
                                              gint64            key);
void             facet_media_cache_insert    (FacetMediaCache  *cache,
                                              gint64            key,
                                              FacetImage       *image);
void             facet_media_cache_set_limit (FacetMediaCache  *cache,
                                              gsize             limit);
void             facet_media_cache_get_stats (FacetMediaCache  *cache,
                                              FacetMediaStats  *stats);
gsize            facet_media_image_bytes     (const FacetImage *image);

/* One video packet in the index, in decode order. */
typedef struct
{
  gint64  pts;      /* presentation time; the dts where the container has none */
  gint64  dts;
  gint64  pos;      /* byte position in the file, -1 if unknown */
  gint64  duration;
  guint32 flags;
} FacetMediaPacket;

enum
{
  FACET_MEDIA_PACKET_KEY = 1 << 0,
  FACET_MEDIA_PACKET_SHOWN = 1 << 1, /* not dropped by an edit list */
};

/* What must not have changed for a cached index to be used again. */
typedef struct
{
  guint64 file_size;
  gint64  mtime_us;
  gint32  stream_index;
  gint32  codec_id;
  gint32  time_base_num;
  gint32  time_base_den;
  guint8  content[32];  /* SHA-256 of the first and last 64 KiB */
} FacetMediaIndexKey;

gboolean          facet_media_index_key_init  (FacetMediaIndexKey       *key,
                                               const char               *video_path);
FacetMediaPacket *facet_media_index_load      (const char               *video_path,
                                               const FacetMediaIndexKey *key,
                                               gsize                    *n_packets);
void              facet_media_index_save      (const char               *video_path,
                                               const FacetMediaIndexKey *key,
                                               const FacetMediaPacket   *packets,
                                               gsize                     n_packets);
GBytes           *facet_media_index_serialize (const FacetMediaIndexKey *key,
                                               const FacetMediaPacket   *packets,
                                               gsize                     n_packets);
FacetMediaPacket *facet_media_index_parse     (const guint8             *data,
                                               gsize                     len,
                                               const FacetMediaIndexKey *expected,
                                               FacetMediaIndexKey       *key_out,
                                               gsize                    *n_packets);

/* Routes FFmpeg's own log lines to g_debug() (domain "facet-ffmpeg"), once
 * per process: a damaged frame should reach the user as one GError, not as
 * a screenful of decoder chatter on stderr. */
void             facet_media_init_ffmpeg     (void);
/* A short English text for an FFmpeg error code. */
char            *facet_media_av_error_string (int               code);

G_END_DECLS
