/* facet-media.h — the media module: video files and image folders as
 * frame-exact sources of RGB frames, a frame cache, a video writer, and the
 * synthetic face generator.
 *
 * CONTRACT (written before the implementation): the pipeline, the store and
 * the app code against these declarations. Add functions freely; change
 * these only together with their callers.
 *
 * Threads: a FacetMediaSource is reference counted and thread-safe (a lock
 * per source around its decoder and cache): the player's decode tasks and
 * the app share one. A FacetMediaReader and a FacetMediaWriter are
 * single-thread: one thread at a time (the pipeline's decoder thread owns
 * its reader).
 * Ownership: get_info and get_path are borrowed from the source (valid
 * while it lives); frames are returned as new references
 * (facet_image_unref()).
 */
#pragma once

#include <gio/gio.h>

#include "core/facet-core.h"

G_BEGIN_DECLS

#define FACET_MEDIA_ERROR (facet_media_error_quark ())

typedef enum
{
  FACET_MEDIA_ERROR_IO,          /* missing or unreadable file or folder */
  FACET_MEDIA_ERROR_FORMAT,      /* not a video / image, truncated, corrupt */
  FACET_MEDIA_ERROR_UNSUPPORTED, /* a codec or pixel format we cannot decode */
  FACET_MEDIA_ERROR_RANGE,       /* frame index outside the source */
  FACET_MEDIA_ERROR_FRAME,       /* this one frame is damaged; others may be fine */
  FACET_MEDIA_ERROR_EMPTY,       /* a folder without images, a video without frames */
  FACET_MEDIA_ERROR_CANCELLED,
} FacetMediaError;

GQuark facet_media_error_quark (void);

typedef struct
{
  gint64  n_frames;   /* exact count (frames count from 0) */
  double  fps;        /* average frame rate */
  double  duration;   /* seconds */
  int     width;      /* as displayed (after rotation) */
  int     height;
  int     rotation;   /* degrees clockwise applied to decoded frames: 0, 90, 180, 270 */
  gboolean variable_frame_rate;
  double  start_time; /* timestamp of frame 0 in the container, seconds */
  char   *codec;      /* e.g. "h264", "ffv1", "mjpeg", "png" */
  char   *container;  /* e.g. "matroska,webm", "mov,mp4,...", "image-folder" */
} FacetMediaInfo;

typedef struct _FacetMediaSource FacetMediaSource;

/* Opens a video file, or a folder of JPEG/PNG frames (natural sort order,
 * @folder_fps frames per second; ignored for videos). */
FacetMediaSource     *facet_media_source_open          (const char        *path,
                                                        double             folder_fps,
                                                        GError           **error);
FacetMediaSource     *facet_media_source_ref           (FacetMediaSource  *source);
void                  facet_media_source_unref         (FacetMediaSource  *source);
const FacetMediaInfo *facet_media_source_get_info      (FacetMediaSource  *source);
const char           *facet_media_source_get_path      (FacetMediaSource  *source);

/* Frame-exact random access (seek to the key frame before, decode forward),
 * served from an LRU cache when possible. Returns a new reference. */
FacetImage           *facet_media_source_get_frame     (FacetMediaSource  *source,
                                                        gint64             index,
                                                        GError           **error);
/* Presentation time of frame @index in seconds from frame 0. */
double                facet_media_source_frame_time    (FacetMediaSource  *source,
                                                        gint64             index);
/* The index of the frame shown at @seconds (for "go to timecode"). */
gint64                facet_media_source_frame_at_time (FacetMediaSource  *source,
                                                        double             seconds);
void                  facet_media_source_set_cache_size (FacetMediaSource *source,
                                                        gsize              bytes);

/* Fast sequential decoding for analysis: frames start, start + stride, ...
 * A damaged frame yields FACET_MEDIA_ERROR_FRAME for that index (with
 * *index set) and the next call continues after it; the end of the source
 * returns NULL without error. */
typedef struct _FacetMediaReader FacetMediaReader;

FacetMediaReader     *facet_media_reader_new           (FacetMediaSource  *source,
                                                        gint64             start,
                                                        gint64             stride,
                                                        GError           **error);
FacetImage           *facet_media_reader_next          (FacetMediaReader  *reader,
                                                        gint64            *index,
                                                        GError           **error);
void                  facet_media_reader_free          (FacetMediaReader  *reader);

/* Encoding (synthetic videos, tests, exports). @codec: "h264", "ffv1",
 * "mjpeg", "mpeg4" or NULL for the container's usual one. */
typedef struct _FacetMediaWriter FacetMediaWriter;

FacetMediaWriter     *facet_media_writer_new           (const char        *path,
                                                        int                width,
                                                        int                height,
                                                        double             fps,
                                                        const char        *codec,
                                                        GError           **error);
gboolean              facet_media_writer_add           (FacetMediaWriter  *writer,
                                                        const FacetImage  *frame,
                                                        GError           **error);
gboolean              facet_media_writer_finish        (FacetMediaWriter  *writer,
                                                        GError           **error);
void                  facet_media_writer_free          (FacetMediaWriter  *writer);

/* Added after the contract ------------------------------------------------ */

/* What a source's frame cache holds and what its random-access decoder did. */
typedef struct
{
  gsize   cache_bytes;  /* decoded frames held now, in bytes */
  gsize   cache_limit;
  guint   cache_frames;
  guint64 hits;         /* get_frame answered from the cache */
  guint64 misses;
  guint64 seeks;        /* decoder repositionings (jumps to a key frame) */
  guint64 decoded;      /* frames decoded, including the ones passed over */
  gboolean index_from_cache; /* the packet index was read from the index cache */
} FacetMediaStats;

void                  facet_media_source_get_stats     (FacetMediaSource  *source,
                                                        FacetMediaStats   *stats);
/* Whether frame @index is in the cache now (does not change the LRU order). */
gboolean              facet_media_source_is_cached     (FacetMediaSource  *source,
                                                        gint64             index);

/* Encoder settings; zero fields mean the defaults. */
typedef struct
{
  int         gop;      /* frames from one key frame to the next; 0: 12 */
  int         b_frames; /* -1: the codec's default (h264: 3, others: 0); 0: none */
  int         quality;  /* h264: CRF 1..51 (default 18); mjpeg, mpeg4: qscale 1..31
                         * (default 3); ignored by the lossless ffv1; 0: default */
  const char *preset;   /* x264 preset; NULL: "fast" */
} FacetMediaWriterOptions;

#define FACET_MEDIA_WRITER_OPTIONS_INIT { 0, -1, 0, NULL }

FacetMediaWriter     *facet_media_writer_new_full      (const char        *path,
                                                        int                width,
                                                        int                height,
                                                        double             fps,
                                                        const char        *codec,
                                                        const FacetMediaWriterOptions *options,
                                                        GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetMediaSource, facet_media_source_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetMediaReader, facet_media_reader_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetMediaWriter, facet_media_writer_free)

G_END_DECLS
