/* media-cache.c — an LRU cache of decoded frames, bounded in bytes
 *
 * A coder stepping back and forth around one moment asks for the same few
 * frames again and again; decoding them anew means a seek and a run of
 * decoding from the previous key frame each time. The cache keeps the most
 * recently used frames up to a byte budget. It is not locked itself: the
 * source's lock covers it.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include "media-private.h"

typedef struct
{
  gint64      key;
  FacetImage *image;
  gsize       bytes;
  GList       link;   /* in the recency list; data points back at this entry */
} Entry;

struct _FacetMediaCache
{
  GHashTable *entries;  /* gint64 key -> Entry* */
  GQueue      recency;  /* most recently used at the head */
  gsize       bytes;
  gsize       limit;
  guint64     hits;
  guint64     misses;
};

gsize
facet_media_image_bytes (const FacetImage *image)
{
  return (gsize) image->stride * (gsize) image->height + sizeof (FacetImage);
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  facet_image_unref (entry->image);
  g_free (entry);
}

FacetMediaCache *
facet_media_cache_new (gsize limit)
{
  FacetMediaCache *cache = g_new0 (FacetMediaCache, 1);

  cache->entries = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, entry_free);
  g_queue_init (&cache->recency);
  cache->limit = limit;
  return cache;
}

void
facet_media_cache_free (FacetMediaCache *cache)
{
  if (cache == NULL)
    return;
  /* The links live inside the entries: the table frees them, and
   * g_queue_clear() must not (it would hand them to the slice allocator). */
  g_hash_table_destroy (cache->entries);
  g_free (cache);
}

static void
evict_to (FacetMediaCache *cache,
          gsize            limit)
{
  while (cache->bytes > limit && cache->recency.tail != NULL)
    {
      Entry *oldest = cache->recency.tail->data;

      g_queue_unlink (&cache->recency, &oldest->link);
      cache->bytes -= oldest->bytes;
      g_hash_table_remove (cache->entries, &oldest->key);
    }
}

/* Returns a new reference and marks the frame as the most recently used. */
FacetImage *
facet_media_cache_lookup (FacetMediaCache *cache,
                          gint64           key)
{
  Entry *entry = g_hash_table_lookup (cache->entries, &key);

  if (entry == NULL)
    {
      cache->misses++;
      return NULL;
    }
  cache->hits++;
  g_queue_unlink (&cache->recency, &entry->link);
  g_queue_push_head_link (&cache->recency, &entry->link);
  return facet_image_ref (entry->image);
}

gboolean
facet_media_cache_contains (FacetMediaCache *cache,
                            gint64           key)
{
  return g_hash_table_contains (cache->entries, &key);
}

/* Takes a reference of @image. A frame larger than the whole budget is not
 * kept (it would only flush everything else). */
void
facet_media_cache_insert (FacetMediaCache *cache,
                          gint64           key,
                          FacetImage      *image)
{
  gsize bytes = facet_media_image_bytes (image);
  Entry *entry;

  if (bytes > cache->limit)
    return;
  entry = g_hash_table_lookup (cache->entries, &key);
  if (entry != NULL)
    {
      /* Same frame decoded again: keep the newer pixels, refresh recency. */
      g_queue_unlink (&cache->recency, &entry->link);
      cache->bytes -= entry->bytes;
      g_hash_table_remove (cache->entries, &key);
    }
  evict_to (cache, cache->limit - bytes);

  entry = g_new0 (Entry, 1);
  entry->key = key;
  entry->image = facet_image_ref (image);
  entry->bytes = bytes;
  entry->link.data = entry;
  g_hash_table_insert (cache->entries, &entry->key, entry);
  g_queue_push_head_link (&cache->recency, &entry->link);
  cache->bytes += bytes;
}

void
facet_media_cache_set_limit (FacetMediaCache *cache,
                             gsize            limit)
{
  cache->limit = limit;
  evict_to (cache, limit);
}

void
facet_media_cache_get_stats (FacetMediaCache *cache,
                             FacetMediaStats *stats)
{
  stats->cache_bytes = cache->bytes;
  stats->cache_limit = cache->limit;
  stats->cache_frames = g_hash_table_size (cache->entries);
  stats->hits = cache->hits;
  stats->misses = cache->misses;
}
