/* media-source.c — FacetMediaSource: a video file or an image folder as a
 * frame-exact, cached, thread-safe source of RGB frames
 *
 * The backend does the decoding; this file adds what every backend needs:
 * argument checks, a lock per source (random access from several threads is
 * serialised per source, while different sources work in parallel), the LRU
 * frame cache, and the sequential readers.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "media-private.h"

/* A quarter of a GiB: about 90 frames of 1080p, 290 of 640x480. */
#define DEFAULT_CACHE_BYTES ((gsize) 256 << 20)

struct _FacetMediaSource
{
  gint                          ref_count;
  char                         *path;
  FacetMediaInfo                info;
  const FacetMediaBackendClass *klass;
  gpointer                      backend;
  GMutex                        lock;
  FacetMediaCache              *cache;
};

struct _FacetMediaReader
{
  FacetMediaSource *source;
  gpointer          cursor;
  gint64            next;
  gint64            stride;
};

/**
 * facet_media_source_open:
 * @path: a video file, or a folder of JPEG/PNG frames
 * @folder_fps: frames per second of a folder (30 when zero or negative);
 *   ignored for video files
 *
 * Opens and indexes a source. For a video this reads the packet timestamps of
 * the whole file once (no decoding), which is what makes the frame count
 * exact and random access frame-exact.
 *
 * Errors: FACET_MEDIA_ERROR_IO (missing, unreadable), _FORMAT (not a video,
 * empty, truncated, damaged), _UNSUPPORTED (no decoder for the codec),
 * _EMPTY (no frames, a folder without images). Messages name @path.
 */
FacetMediaSource *
facet_media_source_open (const char *path,
                         double      folder_fps,
                         GError    **error)
{
  g_autoptr (FacetMediaSource) source = NULL;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO, "%s: %s", path,
                   saved == ENOENT ? "no such file or folder" : g_strerror (saved));
      return NULL;
    }

  source = g_new0 (FacetMediaSource, 1);
  source->ref_count = 1;
  source->path = g_strdup (path);
  g_mutex_init (&source->lock);
  source->cache = facet_media_cache_new (DEFAULT_CACHE_BYTES);

  if (S_ISDIR (st.st_mode))
    source->backend = facet_media_folder_open (path, folder_fps, &source->info, &source->klass,
                                               error);
  else if (!S_ISREG (st.st_mode))
    g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO,
                 "%s: not a regular file or a folder", path);
  else if (st.st_size == 0)
    g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                 "%s: the file is empty", path);
  else
    source->backend = facet_media_video_open (path, &source->info, &source->klass, error);

  if (source->backend == NULL)
    return NULL;
  g_debug ("%s: %" G_GINT64_FORMAT " frames, %.3f fps, %dx%d, %s in %s", path,
           source->info.n_frames, source->info.fps, source->info.width, source->info.height,
           source->info.codec, source->info.container);
  return g_steal_pointer (&source);
}

FacetMediaSource *
facet_media_source_ref (FacetMediaSource *source)
{
  g_return_val_if_fail (source != NULL, NULL);

  g_atomic_int_inc (&source->ref_count);
  return source;
}

void
facet_media_source_unref (FacetMediaSource *source)
{
  if (source == NULL || !g_atomic_int_dec_and_test (&source->ref_count))
    return;

  if (source->backend != NULL)
    source->klass->free (source->backend);
  facet_media_cache_free (source->cache);
  g_mutex_clear (&source->lock);
  g_free (source->info.codec);
  g_free (source->info.container);
  g_free (source->path);
  g_free (source);
}

const FacetMediaInfo *
facet_media_source_get_info (FacetMediaSource *source)
{
  g_return_val_if_fail (source != NULL, NULL);

  return &source->info;
}

const char *
facet_media_source_get_path (FacetMediaSource *source)
{
  g_return_val_if_fail (source != NULL, NULL);

  return source->path;
}

static gboolean
check_index (FacetMediaSource *source,
             gint64            index,
             GError          **error)
{
  if (index >= 0 && index < source->info.n_frames)
    return TRUE;
  g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE,
               "%s: frame %" G_GINT64_FORMAT " does not exist (the source has frames 0 to %"
               G_GINT64_FORMAT ")", source->path, index, source->info.n_frames - 1);
  return FALSE;
}

/**
 * facet_media_source_get_frame:
 *
 * Frame @index exactly as decoded, converted to RGB and rotated as the file
 * says it should be displayed. A damaged frame gives FACET_MEDIA_ERROR_FRAME
 * and leaves the source usable for the other frames.
 */
FacetImage *
facet_media_source_get_frame (FacetMediaSource *source,
                              gint64            index,
                              GError          **error)
{
  FacetImage *image;

  g_return_val_if_fail (source != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_index (source, index, error))
    return NULL;

  g_mutex_lock (&source->lock);
  image = facet_media_cache_lookup (source->cache, index);
  if (image == NULL)
    {
      image = source->klass->get_frame (source->backend, index, error);
      if (image != NULL)
        facet_media_cache_insert (source->cache, index, image);
    }
  g_mutex_unlock (&source->lock);
  return image;
}

double
facet_media_source_frame_time (FacetMediaSource *source,
                               gint64            index)
{
  g_return_val_if_fail (source != NULL, 0.0);

  if (source->info.n_frames == 0)
    return 0.0;
  index = CLAMP (index, 0, source->info.n_frames - 1);
  return source->klass->frame_time (source->backend, index);
}

/* The frame on screen at @seconds: the last one whose time is not later.
 * Timestamps are rounded to the container's clock (a millisecond in
 * Matroska), so a time within a microsecond of a frame counts as that frame. */
gint64
facet_media_source_frame_at_time (FacetMediaSource *source,
                                  double            seconds)
{
  gint64 lo, hi;

  g_return_val_if_fail (source != NULL, 0);

  if (source->info.n_frames == 0 || !(seconds > 0.0))
    return 0;
  lo = 0;
  hi = source->info.n_frames - 1;
  while (lo < hi)
    {
      gint64 mid = lo + (hi - lo + 1) / 2;

      if (source->klass->frame_time (source->backend, mid) <= seconds + 1e-6)
        lo = mid;
      else
        hi = mid - 1;
    }
  return lo;
}

void
facet_media_source_set_cache_size (FacetMediaSource *source,
                                   gsize             bytes)
{
  g_return_if_fail (source != NULL);

  g_mutex_lock (&source->lock);
  facet_media_cache_set_limit (source->cache, bytes);
  g_mutex_unlock (&source->lock);
}

void
facet_media_source_get_stats (FacetMediaSource *source,
                              FacetMediaStats  *stats)
{
  g_return_if_fail (source != NULL);
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
  g_mutex_lock (&source->lock);
  facet_media_cache_get_stats (source->cache, stats);
  if (source->klass->get_stats != NULL)
    source->klass->get_stats (source->backend, stats);
  g_mutex_unlock (&source->lock);
}

gboolean
facet_media_source_is_cached (FacetMediaSource *source,
                              gint64            index)
{
  gboolean cached;

  g_return_val_if_fail (source != NULL, FALSE);

  g_mutex_lock (&source->lock);
  cached = facet_media_cache_contains (source->cache, index);
  g_mutex_unlock (&source->lock);
  return cached;
}

/* Readers --------------------------------------------------------------- */

/**
 * facet_media_reader_new:
 * @start: the first frame
 * @stride: 1 for every frame, n for every n-th
 *
 * A reader decodes on its own (its own demuxer and decoder), bypassing the
 * cache, so analysis does not fight with a user scrubbing the same source.
 * One thread at a time may use a reader.
 */
FacetMediaReader *
facet_media_reader_new (FacetMediaSource *source,
                        gint64            start,
                        gint64            stride,
                        GError          **error)
{
  FacetMediaReader *reader;
  gpointer cursor;

  g_return_val_if_fail (source != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (stride < 1)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE,
                   "%s: the frame stride must be at least 1 (got %" G_GINT64_FORMAT ")",
                   source->path, stride);
      return NULL;
    }
  if (start != source->info.n_frames && !check_index (source, start, error))
    return NULL;

  cursor = source->klass->cursor_new (source->backend, error);
  if (cursor == NULL)
    return NULL;

  reader = g_new0 (FacetMediaReader, 1);
  reader->source = facet_media_source_ref (source);
  reader->cursor = cursor;
  reader->next = start;
  reader->stride = stride;
  return reader;
}

/**
 * facet_media_reader_next:
 * @index: (out) (optional): the index of the frame returned, or of the
 *   damaged frame on FACET_MEDIA_ERROR_FRAME
 *
 * Returns the next frame, or NULL at the end (no error) or on an error. After
 * FACET_MEDIA_ERROR_FRAME the next call continues with the frame after it.
 */
FacetImage *
facet_media_reader_next (FacetMediaReader *reader,
                         gint64           *index,
                         GError          **error)
{
  GError *local = NULL;
  FacetImage *image;
  gint64 i;

  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  i = reader->next;
  if (index != NULL)
    *index = i;
  if (i >= reader->source->info.n_frames)
    return NULL;

  image = reader->source->klass->cursor_get (reader->cursor, i, &local);
  if (image == NULL)
    {
      /* A damaged frame is passed over; other errors (the file vanished)
       * stay, so the next call tries the same frame again. */
      if (g_error_matches (local, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME))
        reader->next = i + reader->stride;
      g_propagate_error (error, local);
      return NULL;
    }
  reader->next = i + reader->stride;
  return image;
}

void
facet_media_reader_free (FacetMediaReader *reader)
{
  if (reader == NULL)
    return;
  reader->source->klass->cursor_free (reader->cursor);
  facet_media_source_unref (reader->source);
  g_free (reader);
}
