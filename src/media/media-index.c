/* media-index.c — the on-disk cache of video packet indexes
 *
 * Indexing reads every video packet of a file once; for an hour of HD video
 * that is gigabytes of reading each time a project opens. The index (a few
 * dozen bytes per frame) is therefore kept under
 * $XDG_CACHE_HOME/facet/media-index/, named by a hash of the video's path,
 * and used again only if the video's size, modification time, first and last
 * 64 KiB, chosen stream, codec and time base are unchanged. The 256 most
 * recently used indexes are kept.
 *
 * A cache file is untrusted input like any other: it is read by a small
 * parser that checks every length and a SHA-256 of the whole content, and
 * anything odd makes the caller index the video again. FFmpeg is not needed
 * here, so the parser builds and is fuzzed on its own.
 *
 * Layout (little-endian): "FACETIX1", u32 version, u32 record size, the key
 * (u64 size, i64 mtime in µs, i32 stream, i32 codec id, i32 time base
 * num/den, 32-byte content hash), u64 packet count, the packets (i64 pts,
 * dts, pos, duration, u32 flags), then the SHA-256 of all that.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <utime.h>

#include <glib/gstdio.h>

#include "media-private.h"

#define MAGIC "FACETIX1"
#define VERSION 1
#define RECORD_SIZE (4 * 8 + 4)
#define KEY_SIZE (8 + 8 + 4 * 4 + 32)
#define HEADER_SIZE (8 + 4 + 4 + KEY_SIZE + 8)
#define DIGEST_SIZE 32
#define SAMPLE_BYTES (64 * 1024)
/* The cache keeps the indexes of the most recently opened videos. */
#define MAX_CACHED 256
#define KEEP_AFTER_PRUNE 192
/* More packets than 100 hours at 240 fps means damage, not a video. */
#define MAX_PACKETS ((guint64) 1 << 27)
#define KNOWN_FLAGS (FACET_MEDIA_PACKET_KEY | FACET_MEDIA_PACKET_SHOWN)

static void
put_u32 (GByteArray *out,
         guint32     v)
{
  guint32 le = GUINT32_TO_LE (v);
  g_byte_array_append (out, (const guint8 *) &le, 4);
}

static void
put_u64 (GByteArray *out,
         guint64     v)
{
  guint64 le = GUINT64_TO_LE (v);
  g_byte_array_append (out, (const guint8 *) &le, 8);
}

static guint32
get_u32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

static guint64
get_u64 (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_LE (v);
}

static void
put_key (GByteArray               *out,
         const FacetMediaIndexKey *key)
{
  put_u64 (out, key->file_size);
  put_u64 (out, (guint64) key->mtime_us);
  put_u32 (out, (guint32) key->stream_index);
  put_u32 (out, (guint32) key->codec_id);
  put_u32 (out, (guint32) key->time_base_num);
  put_u32 (out, (guint32) key->time_base_den);
  g_byte_array_append (out, key->content, sizeof key->content);
}

static void
get_key (const guint8       *p,
         FacetMediaIndexKey *key)
{
  key->file_size = get_u64 (p);
  key->mtime_us = (gint64) get_u64 (p + 8);
  key->stream_index = (gint32) get_u32 (p + 16);
  key->codec_id = (gint32) get_u32 (p + 20);
  key->time_base_num = (gint32) get_u32 (p + 24);
  key->time_base_den = (gint32) get_u32 (p + 28);
  memcpy (key->content, p + 32, sizeof key->content);
}

static gboolean
key_equal (const FacetMediaIndexKey *a,
           const FacetMediaIndexKey *b)
{
  return a->file_size == b->file_size && a->mtime_us == b->mtime_us
         && a->stream_index == b->stream_index && a->codec_id == b->codec_id
         && a->time_base_num == b->time_base_num && a->time_base_den == b->time_base_den
         && memcmp (a->content, b->content, sizeof a->content) == 0;
}

static void
digest (const guint8 *data,
        gsize         len,
        guint8        out[DIGEST_SIZE])
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize n = DIGEST_SIZE;

  g_checksum_update (sum, data, len);
  g_checksum_get_digest (sum, out, &n);
  g_checksum_free (sum);
}

GBytes *
facet_media_index_serialize (const FacetMediaIndexKey *key,
                             const FacetMediaPacket   *packets,
                             gsize                     n_packets)
{
  GByteArray *out = g_byte_array_sized_new (HEADER_SIZE + n_packets * RECORD_SIZE + DIGEST_SIZE);
  guint8 sum[DIGEST_SIZE];

  g_byte_array_append (out, (const guint8 *) MAGIC, 8);
  put_u32 (out, VERSION);
  put_u32 (out, RECORD_SIZE);
  put_key (out, key);
  put_u64 (out, n_packets);
  for (gsize i = 0; i < n_packets; i++)
    {
      put_u64 (out, (guint64) packets[i].pts);
      put_u64 (out, (guint64) packets[i].dts);
      put_u64 (out, (guint64) packets[i].pos);
      put_u64 (out, (guint64) packets[i].duration);
      put_u32 (out, packets[i].flags);
    }
  digest (out->data, out->len, sum);
  g_byte_array_append (out, sum, DIGEST_SIZE);
  return g_byte_array_free_to_bytes (out);
}

/**
 * facet_media_index_parse:
 * @expected: (nullable): the key the index must have
 * @key_out: (optional): the key found
 *
 * Returns the packets (g_free() them), or NULL for anything but a complete,
 * intact index file with the expected key.
 */
FacetMediaPacket *
facet_media_index_parse (const guint8             *data,
                         gsize                     len,
                         const FacetMediaIndexKey *expected,
                         FacetMediaIndexKey       *key_out,
                         gsize                    *n_packets)
{
  FacetMediaIndexKey key;
  FacetMediaPacket *packets;
  guint8 sum[DIGEST_SIZE];
  const guint8 *p;
  guint64 n;

  *n_packets = 0;
  if (len < HEADER_SIZE + DIGEST_SIZE || memcmp (data, MAGIC, 8) != 0
      || get_u32 (data + 8) != VERSION || get_u32 (data + 12) != RECORD_SIZE)
    return NULL;
  n = get_u64 (data + HEADER_SIZE - 8);
  if (n == 0 || n > MAX_PACKETS || (len - HEADER_SIZE - DIGEST_SIZE) / RECORD_SIZE != n
      || (len - HEADER_SIZE - DIGEST_SIZE) % RECORD_SIZE != 0)
    return NULL;
  digest (data, len - DIGEST_SIZE, sum);
  if (memcmp (sum, data + len - DIGEST_SIZE, DIGEST_SIZE) != 0)
    return NULL;
  get_key (data + 16, &key);
  if (expected != NULL && !key_equal (&key, expected))
    return NULL;

  packets = g_new (FacetMediaPacket, n);
  p = data + HEADER_SIZE;
  for (guint64 i = 0; i < n; i++, p += RECORD_SIZE)
    {
      packets[i].pts = (gint64) get_u64 (p);
      packets[i].dts = (gint64) get_u64 (p + 8);
      packets[i].pos = (gint64) get_u64 (p + 16);
      packets[i].duration = (gint64) get_u64 (p + 24);
      packets[i].flags = get_u32 (p + 32);
      if (packets[i].flags & ~(guint32) KNOWN_FLAGS)
        {
          g_free (packets);
          return NULL;
        }
    }
  if (key_out != NULL)
    *key_out = key;
  *n_packets = (gsize) n;
  return packets;
}

/* Where the index of @video_path lives; NULL when caching is off
 * (FACET_MEDIA_INDEX_CACHE=0). */
static char *
cache_file (const char *video_path)
{
  const char *env = g_getenv ("FACET_MEDIA_INDEX_CACHE");
  g_autofree char *absolute = NULL;
  g_autofree char *name = NULL;

  if (env != NULL && g_str_equal (env, "0"))
    return NULL;
  absolute = g_canonicalize_filename (video_path, NULL);
  name = g_compute_checksum_for_string (G_CHECKSUM_SHA256, absolute, -1);
  return g_strdup_printf ("%s/facet/media-index/%s.idx", g_get_user_cache_dir (), name);
}

/* Fills the parts of the key that come from the file itself. */
gboolean
facet_media_index_key_init (FacetMediaIndexKey *key,
                            const char         *video_path)
{
  GStatBuf st;
  g_autofree guint8 *buf = NULL;
  GChecksum *sum;
  gsize n = sizeof key->content;
  FILE *f;
  size_t got;

  memset (key, 0, sizeof *key);
  if (g_stat (video_path, &st) != 0)
    return FALSE;
  key->file_size = (guint64) st.st_size;
  key->mtime_us = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;

  /* The first and last 64 KiB: a file replaced by another of the same size
   * and time (copied with its time kept) still differs there. */
  f = fopen (video_path, "rb");
  if (f == NULL)
    return FALSE;
  buf = g_malloc (SAMPLE_BYTES);
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  got = fread (buf, 1, SAMPLE_BYTES, f);
  g_checksum_update (sum, buf, got);
  if (key->file_size > SAMPLE_BYTES && fseeko (f, -(off_t) SAMPLE_BYTES, SEEK_END) == 0)
    {
      got = fread (buf, 1, SAMPLE_BYTES, f);
      g_checksum_update (sum, buf, got);
    }
  fclose (f);
  g_checksum_get_digest (sum, key->content, &n);
  g_checksum_free (sum);
  return TRUE;
}

FacetMediaPacket *
facet_media_index_load (const char               *video_path,
                        const FacetMediaIndexKey *key,
                        gsize                    *n_packets)
{
  g_autofree char *path = cache_file (video_path);
  g_autofree char *data = NULL;
  gsize len;

  FacetMediaPacket *packets;

  *n_packets = 0;
  if (path == NULL || !g_file_get_contents (path, &data, &len, NULL))
    return NULL;
  packets = facet_media_index_parse ((const guint8 *) data, len, key, NULL, n_packets);
  /* Used now: the pruning below goes by modification time. */
  if (packets != NULL)
    g_utime (path, NULL);
  return packets;
}

typedef struct
{
  char   *path;
  gint64  mtime;
} CachedFile;

static int
compare_age (gconstpointer a,
             gconstpointer b)
{
  const CachedFile *x = a, *y = b;

  return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Removes the least recently used indexes once there are too many (videos
 * get deleted and moved; their indexes would otherwise stay forever). */
static void
prune (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GArray) files = g_array_new (FALSE, FALSE, sizeof (CachedFile));
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      CachedFile file;
      GStatBuf st;

      if (!g_str_has_suffix (name, ".idx"))
        continue;
      file.path = g_build_filename (dir, name, NULL);
      file.mtime = g_stat (file.path, &st) == 0 ? (gint64) st.st_mtime : 0;
      g_array_append_val (files, file);
    }
  if (files->len > MAX_CACHED)
    {
      g_array_sort (files, compare_age);
      for (guint i = 0; i < files->len - KEEP_AFTER_PRUNE; i++)
        g_unlink (g_array_index (files, CachedFile, i).path);
    }
  for (guint i = 0; i < files->len; i++)
    g_free (g_array_index (files, CachedFile, i).path);
}

/* Best effort: a cache that cannot be written only costs time later. */
void
facet_media_index_save (const char               *video_path,
                        const FacetMediaIndexKey *key,
                        const FacetMediaPacket   *packets,
                        gsize                     n_packets)
{
  g_autofree char *path = cache_file (video_path);
  g_autofree char *dir = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *data;

  if (path == NULL)
    return;
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_debug ("%s: cannot create the index cache folder", dir);
      return;
    }
  bytes = facet_media_index_serialize (key, packets, n_packets);
  data = g_bytes_get_data (bytes, &len);
  if (!facet_write_file_atomic (path, data, len, &error))
    g_debug ("%s: cannot save its index: %s", video_path, error->message);
  prune (dir);
}
