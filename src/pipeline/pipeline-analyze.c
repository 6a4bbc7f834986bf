/* pipeline-analyze.c — batch analysis: decode -> faces -> engine -> store
 *
 * Four threads joined by bounded queues. The decoder walks the chunks of
 * work in order and ends each with a marker; the face stage crops and
 * normalises; the engine (the calling thread) runs full batches and passes
 * everything on in the order it came, markers included; the writer commits
 * one chunk per transaction. Order is kept end to end, so a chunk is only
 * written once all its frames are through. */
#define G_LOG_DOMAIN "facet-pipeline"

#include "config.h"

#include <math.h>
#include <string.h>

#include "face/facet-face.h"
#include "media/facet-media.h"
#include "facet-pipeline.h"

G_DEFINE_QUARK (facet-pipeline-error-quark, facet_pipeline_error)

/* Items in flight per queue: enough to keep every stage busy, few enough
 * that a cancelled run stops at once and memory stays small. */
#define QUEUE_DEPTH_PER_BATCH 2

typedef struct _Pipeline Pipeline;

typedef enum
{
  ITEM_FRAME,
  ITEM_CHUNK_END,
} ItemKind;

typedef struct
{
  ItemKind         kind;
  guint            video;   /* index into Pipeline.videos */
  gboolean         chunk_start;
  FacetImage      *image;   /* decoder -> faces */
  float           *tensor;  /* faces -> engine; NULL without a face */
  float           *probs;   /* engine -> writer */
  FacetFrameResult result;
} Item;

static void
item_free (Item *item)
{
  if (item == NULL)
    return;
  g_clear_pointer (&item->image, facet_image_unref);
  g_free (item->tensor);
  g_free (item->probs);
  g_free (item);
}

/* ---- Bounded queues --------------------------------------------------------- */

typedef struct
{
  GMutex    lock;
  GCond     cond;
  GQueue    items;
  guint     capacity;
  gboolean  closed;
  Pipeline *pipeline;
} Queue;

typedef struct
{
  guint  video;
  gint64 first; /* frames [first, end) of the video */
  gint64 end;
} Chunk;

struct _Pipeline
{
  FacetStore             *store;
  FacetEngine            *engine;
  const FacetModelConfig *config;
  gint64                  model_id;
  int                     n_aus;
  gsize                   tensor_floats;
  gint64                  stride;
  guint                   batch;

  GPtrArray              *videos;  /* FacetStoreVideo */
  GPtrArray              *paths;   /* where each video is now */
  GPtrArray              *done;    /* per video: bitset of frames to skip */
  GArray                 *chunks;  /* Chunk, in order */

  Queue                   decoded;
  Queue                   faced;
  Queue                   results;

  gint                    aborted;
  GMutex                  error_lock;
  GError                 *error;

  FacetFaceDetector      *detector;
  FacetAnalysisProgressFunc progress_func;
  gpointer                progress_data;
  FacetAnalysisProgress   progress;
  gint64                  start_time;
};

static void
queue_init (Queue    *q,
            Pipeline *p,
            guint     capacity)
{
  g_mutex_init (&q->lock);
  g_cond_init (&q->cond);
  g_queue_init (&q->items);
  q->capacity = capacity;
  q->pipeline = p;
}

static void
queue_clear (Queue *q)
{
  g_queue_clear_full (&q->items, (GDestroyNotify) item_free);
  g_mutex_clear (&q->lock);
  g_cond_clear (&q->cond);
}

/* Blocks while full; FALSE (and the item freed) once the run is aborted. */
static gboolean
queue_push (Queue *q,
            Item  *item)
{
  gboolean ok;

  g_mutex_lock (&q->lock);
  while (q->items.length >= q->capacity && !g_atomic_int_get (&q->pipeline->aborted))
    g_cond_wait (&q->cond, &q->lock);
  ok = !g_atomic_int_get (&q->pipeline->aborted);
  if (ok)
    {
      g_queue_push_tail (&q->items, item);
      g_cond_broadcast (&q->cond);
    }
  g_mutex_unlock (&q->lock);
  if (!ok)
    item_free (item);
  return ok;
}

/* Blocks while empty; NULL at the end of the stream or once aborted. */
static Item *
queue_pop (Queue *q)
{
  Item *item = NULL;

  g_mutex_lock (&q->lock);
  while (q->items.length == 0 && !q->closed && !g_atomic_int_get (&q->pipeline->aborted))
    g_cond_wait (&q->cond, &q->lock);
  if (!g_atomic_int_get (&q->pipeline->aborted))
    {
      item = g_queue_pop_head (&q->items);
      g_cond_broadcast (&q->cond);
    }
  g_mutex_unlock (&q->lock);
  return item;
}

static void
queue_close (Queue *q)
{
  g_mutex_lock (&q->lock);
  q->closed = TRUE;
  g_cond_broadcast (&q->cond);
  g_mutex_unlock (&q->lock);
}

static void
queue_wake (Queue *q)
{
  g_mutex_lock (&q->lock);
  g_cond_broadcast (&q->cond);
  g_mutex_unlock (&q->lock);
}

/* Stops every stage; the first error is the one reported. */
static void
pipeline_abort (Pipeline *p,
                GError   *error)
{
  g_mutex_lock (&p->error_lock);
  if (p->error == NULL && error != NULL)
    p->error = error;
  else if (error != NULL)
    g_error_free (error);
  g_mutex_unlock (&p->error_lock);
  g_atomic_int_set (&p->aborted, 1);
  queue_wake (&p->decoded);
  queue_wake (&p->faced);
  queue_wake (&p->results);
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  pipeline_abort (data, g_error_new_literal (FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_CANCELLED,
                                             "the analysis was cancelled"));
}

static gboolean
bit_get (const guint8 *bits,
         gint64        i)
{
  return (bits[i >> 3] >> (i & 7)) & 1;
}

static void
bit_set (guint8 *bits,
         gint64  i)
{
  bits[i >> 3] |= (guint8) (1 << (i & 7));
}

/* ---- Decoder ----------------------------------------------------------------------------- */

static gpointer
decoder_thread (gpointer data)
{
  Pipeline *p = data;
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetMediaReader) reader = NULL;
  guint source_video = G_MAXUINT;
  gint64 reader_next = -1;

  for (guint c = 0; c < p->chunks->len && !g_atomic_int_get (&p->aborted); c++)
    {
      const Chunk *chunk = &g_array_index (p->chunks, Chunk, c);
      FacetStoreVideo *v = p->videos->pdata[chunk->video];
      const guint8 *done = p->done->pdata[chunk->video];
      gboolean first = TRUE;
      gint64 f = (chunk->first + p->stride - 1) / p->stride * p->stride;
      Item *end;

      if (chunk->video != source_video)
        {
          GError *error = NULL;
          g_clear_pointer (&reader, facet_media_reader_free);
          g_clear_pointer (&source, facet_media_source_unref);
          source = facet_media_source_open (p->paths->pdata[chunk->video], v->fps, &error);
          if (source == NULL)
            {
              pipeline_abort (p, error);
              break;
            }
          if (facet_media_source_get_info (source)->n_frames < v->n_frames)
            {
              pipeline_abort (p, g_error_new (FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_MISMATCH,
                                              "%s has %" G_GINT64_FORMAT " frames, the project "
                                              "expects %" G_GINT64_FORMAT " (video %" G_GINT64_FORMAT
                                              "): has it changed?", (char *) p->paths->pdata[chunk->video],
                                              facet_media_source_get_info (source)->n_frames,
                                              v->n_frames, v->id));
              break;
            }
          source_video = chunk->video;
          reader_next = -1;
        }

      for (; f < chunk->end && !g_atomic_int_get (&p->aborted); f += p->stride)
        {
          GError *error = NULL;
          Item *item;
          gint64 index;

          if (bit_get (done, f))
            continue;
          /* Seek only where the reader is not already (sequential runs and
           * neighbouring chunks keep one reader). */
          if (reader == NULL || reader_next != f)
            {
              g_clear_pointer (&reader, facet_media_reader_free);
              reader = facet_media_reader_new (source, f, p->stride, &error);
              if (reader == NULL)
                {
                  pipeline_abort (p, error);
                  break;
                }
            }
          item = g_new0 (Item, 1);
          item->kind = ITEM_FRAME;
          item->video = chunk->video;
          item->chunk_start = first;
          first = FALSE;
          item->image = facet_media_reader_next (reader, &index, &error);
          reader_next = index + p->stride;
          if (item->image == NULL)
            {
              /* A damaged frame is analysed as one without a face; anything
               * else (the file vanished) ends the run. */
              if (!g_error_matches (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME))
                {
                  if (error == NULL)
                    error = g_error_new (FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_MISMATCH,
                                         "%s ended at frame %" G_GINT64_FORMAT,
                                         (char *) p->paths->pdata[chunk->video], index);
                  item_free (item);
                  pipeline_abort (p, error);
                  break;
                }
              g_debug ("%s: frame %" G_GINT64_FORMAT " is damaged: %s",
                       (char *) p->paths->pdata[chunk->video], index, error->message);
              g_clear_error (&error);
            }
          g_assert (index == f);
          item->result.frame = f;
          item->result.time = facet_media_source_frame_time (source, f);
          if (!queue_push (&p->decoded, item))
            break;
        }
      if (g_atomic_int_get (&p->aborted))
        break;
      end = g_new0 (Item, 1);
      end->kind = ITEM_CHUNK_END;
      end->video = chunk->video;
      if (!queue_push (&p->decoded, end))
        break;
    }
  queue_close (&p->decoded);
  return NULL;
}

/* ---- Faces ----------------------------------------------------------------------------- */

FacetModelConfig *
facet_pipeline_crop_config (const FacetModelConfig *model_config,
                            FacetCropKind           video_crop)
{
  FacetModelConfig *c = facet_model_config_copy (model_config);

  /* The model's convention decides how a face is cropped; only a model
   * that expects whole images takes the video's kind. */
  if (video_crop == FACET_CROP_NONE || c->crop == FACET_CROP_NONE)
    c->crop = video_crop;
  return c;
}

static gpointer
faces_thread (gpointer data)
{
  Pipeline *p = data;
  g_autoptr (FacetFaceTracker) tracker = NULL;
  guint tracker_video = G_MAXUINT;
  Item *item;

  while ((item = queue_pop (&p->decoded)) != NULL)
    {
      FacetStoreVideo *v = p->videos->pdata[item->video];
      g_autoptr (FacetImage) crop = NULL;
      FacetFrameResult *r = &item->result;

      if (item->kind == ITEM_FRAME && item->image != NULL)
        {
          if (v->crop == FACET_CROP_NONE)
            {
              crop = facet_image_ref (item->image);
              r->status = FACET_STORE_FACE_WHOLE;
              r->box[2] = (float) item->image->width;
              r->box[3] = (float) item->image->height;
              r->score = 1.0f;
              r->quality = 1.0f;
            }
          else
            {
              FacetFaceResult fr;
              GError *error = NULL;

              if (tracker == NULL || tracker_video != item->video)
                {
                  g_autoptr (FacetModelConfig) c = facet_pipeline_crop_config (p->config, v->crop);
                  g_clear_pointer (&tracker, facet_face_tracker_free);
                  tracker = facet_face_tracker_new (p->detector, facet_model_config_crop (c));
                  tracker_video = item->video;
                }
              /* Every chunk starts afresh: resumed runs and shards see the
               * same tracker history as an uninterrupted run. */
              if (item->chunk_start)
                facet_face_tracker_reset (tracker);
              crop = facet_face_tracker_process (tracker, item->image, &fr, &error);
              if (error != NULL)
                {
                  g_prefix_error (&error, "video %" G_GINT64_FORMAT " frame %" G_GINT64_FORMAT ": ",
                                  v->id, r->frame);
                  item_free (item);
                  pipeline_abort (p, error);
                  break;
                }
              r->status = fr.status == FACET_FACE_STATUS_FOUND ? FACET_STORE_FACE_FOUND
                          : fr.status == FACET_FACE_STATUS_TOO_SMALL ? FACET_STORE_FACE_TOO_SMALL
                          : FACET_STORE_FACE_NONE;
              r->quality = fr.quality;
              if (fr.status != FACET_FACE_STATUS_NONE)
                {
                  r->box[0] = fr.face.x;
                  r->box[1] = fr.face.y;
                  r->box[2] = fr.face.width;
                  r->box[3] = fr.face.height;
                  r->score = fr.face.score;
                  r->has_landmarks = TRUE;
                  memcpy (r->landmarks, fr.face.landmarks, sizeof r->landmarks);
                }
              if (crop != NULL)
                {
                  r->has_transform = TRUE;
                  memcpy (r->transform, fr.transform, sizeof r->transform);
                }
            }
          if (crop != NULL)
            {
              item->tensor = g_new (float, p->tensor_floats);
              facet_engine_prepare_image (p->engine, crop, item->tensor);
            }
        }
      else if (item->kind == ITEM_FRAME)
        r->status = FACET_STORE_FACE_NONE;
      /* The frame itself is not needed any more. */
      g_clear_pointer (&item->image, facet_image_unref);
      if (!queue_push (&p->faced, item))
        break;
    }
  queue_close (&p->faced);
  return NULL;
}

/* ---- Writer ------------------------------------------------------------------------------ */

static gpointer
writer_thread (gpointer data)
{
  Pipeline *p = data;
  g_autoptr (FacetStore) out = NULL;
  g_autoptr (GPtrArray) pending = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  g_autoptr (GArray) results = g_array_new (FALSE, FALSE, sizeof (FacetFrameResult));
  GError *error = NULL;
  Item *item;

  /* A connection of its own: the caller's store stays free for reading.
   * Predictions can be recomputed, so a power cut may cost the last few. */
  out = facet_store_open (facet_store_get_path (p->store), &error);
  if (out == NULL || !facet_store_exec_sql (out, "PRAGMA synchronous = NORMAL", &error))
    {
      pipeline_abort (p, error);
      return NULL;
    }
  while ((item = queue_pop (&p->results)) != NULL)
    {
      if (item->kind == ITEM_FRAME)
        {
          g_ptr_array_add (pending, item);
          continue;
        }
      if (pending->len > 0)
        {
          FacetStoreVideo *v = p->videos->pdata[item->video];
          gint64 no_face = 0;
          double now;

          g_array_set_size (results, 0);
          for (guint i = 0; i < pending->len; i++)
            {
              Item *f = pending->pdata[i];
              f->result.probs = f->probs;
              no_face += f->probs == NULL;
              g_array_append_val (results, f->result);
            }
          if (!facet_store_write_results (out, p->model_id, v->id, (FacetFrameResult *) results->data,
                                          results->len, &error))
            {
              item_free (item);
              pipeline_abort (p, error);
              break;
            }
          now = (double) (g_get_monotonic_time () - p->start_time) / G_USEC_PER_SEC;
          p->progress.frames_done += results->len;
          p->progress.frames_no_face += no_face;
          p->progress.video_id = v->id;
          p->progress.elapsed = now;
          p->progress.fps = now > 0 ? p->progress.frames_done / now : 0.0;
          p->progress.eta = p->progress.fps > 0
                            ? (p->progress.frames_total - p->progress.frames_done) / p->progress.fps
                            : -1.0;
          g_ptr_array_set_size (pending, 0);
          if (p->progress_func != NULL)
            p->progress_func (&p->progress, p->progress_data);
        }
      item_free (item);
    }
  return NULL;
}

/* ---- Engine (the calling thread) ---------------------------------------------------------------- */

static gboolean
run_batch (Pipeline           *p,
           GPtrArray          *pending,
           guint               n_tensors,
           float              *input,
           FacetForwardResult *result)
{
  GError *error = NULL;
  guint k = 0;

  if (n_tensors > 0)
    {
      for (guint i = 0; i < pending->len; i++)
        {
          Item *item = pending->pdata[i];
          if (item->tensor != NULL)
            memcpy (input + (gsize) k++ * p->tensor_floats, item->tensor,
                    p->tensor_floats * sizeof (float));
        }
      if (!facet_engine_forward (p->engine, input, n_tensors, FACET_FORWARD_NONE, result, &error))
        {
          pipeline_abort (p, error);
          return FALSE;
        }
    }
  /* Everything goes on in the order it came, markers included. */
  k = 0;
  while (pending->len > 0)
    {
      Item *item = g_ptr_array_steal_index (pending, 0);
      if (item->tensor != NULL)
        {
          item->probs = g_memdup2 (result->probs + (gsize) k++ * p->n_aus, sizeof (float) * p->n_aus);
          g_clear_pointer (&item->tensor, g_free);
        }
      if (!queue_push (&p->results, item))
        return FALSE;
    }
  return TRUE;
}

static void
engine_loop (Pipeline *p)
{
  g_autoptr (GPtrArray) pending = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  g_autoptr (FacetForwardResult) result = facet_forward_result_new (p->config, p->batch,
                                                                    FACET_FORWARD_NONE);
  g_autofree float *input = g_new (float, p->tensor_floats * p->batch);
  guint n_tensors = 0;
  Item *item;

  while ((item = queue_pop (&p->faced)) != NULL)
    {
      g_ptr_array_add (pending, item);
      if (item->tensor != NULL && ++n_tensors == p->batch)
        {
          if (!run_batch (p, pending, n_tensors, input, result))
            break;
          n_tensors = 0;
        }
    }
  if (!g_atomic_int_get (&p->aborted))
    run_batch (p, pending, n_tensors, input, result);
  queue_close (&p->results);
}

/* ---- Planning ------------------------------------------------------------------------------ */

static gboolean
mark_done (FacetStore *store,
           gint64      model_id,
           gint64      video_id,
           guint8     *bits,
           gint64      n_frames,
           gint64     *n_marked,
           GError    **error)
{
  g_autoptr (GArray) frames = facet_store_get_analysed_frames (store, model_id, video_id, error);

  if (frames == NULL)
    return FALSE;
  for (guint i = 0; i < frames->len; i++)
    {
      gint64 f = g_array_index (frames, gint64, i);
      if (f >= 0 && f < n_frames && !bit_get (bits, f))
        {
          bit_set (bits, f);
          (*n_marked)++;
        }
    }
  return TRUE;
}

static gboolean
plan (Pipeline                   *p,
      const FacetAnalysisOptions *options,
      GError                    **error)
{
  g_autoptr (GPtrArray) all = facet_store_list_videos (p->store, error);
  gint64 global = 0;

  if (all == NULL)
    return FALSE;
  p->videos = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_store_video_free);
  p->paths = g_ptr_array_new_with_free_func (g_free);
  p->done = g_ptr_array_new_with_free_func (g_free);
  p->chunks = g_array_new (FALSE, FALSE, sizeof (Chunk));

  if (options->video_ids != NULL)
    for (guint i = 0; i < options->n_videos; i++)
      {
        gboolean known = FALSE;
        for (guint k = 0; k < all->len; k++)
          known |= ((FacetStoreVideo *) all->pdata[k])->id == options->video_ids[i];
        if (!known)
          {
            g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                         "%s: there is no video %" G_GINT64_FORMAT " in the project",
                         facet_store_get_path (p->store), options->video_ids[i]);
            return FALSE;
          }
      }

  for (guint k = 0; k < all->len; k++)
    {
      FacetStoreVideo *v = all->pdata[k];
      gboolean wanted = options->video_ids == NULL;
      g_autofree guint8 *bits = NULL;
      gint64 marked = 0, ignored = 0;
      guint index;

      for (guint i = 0; !wanted && i < options->n_videos; i++)
        wanted = options->video_ids[i] == v->id;
      if (!wanted)
        continue;
      bits = g_new0 (guint8, (v->n_frames + 7) / 8);
      if (!mark_done (p->store, p->model_id, v->id, bits, v->n_frames, &marked, error))
        return FALSE;
      if (options->done_store != NULL
          && !mark_done (options->done_store, options->done_model_id, v->id, bits, v->n_frames,
                         &ignored, error))
        return FALSE;

      index = p->videos->len;
      for (gint64 first = 0; first < v->n_frames; first += FACET_ANALYSIS_CHUNK_FRAMES)
        {
          Chunk c = { index, first, MIN (first + FACET_ANALYSIS_CHUNK_FRAMES, v->n_frames) };
          gint64 missing = 0, selected = 0;
          for (gint64 f = (first + p->stride - 1) / p->stride * p->stride; f < c.end; f += p->stride)
            {
              selected++;
              missing += !bit_get (bits, f);
            }
          if (selected == 0)
            continue;
          /* Chunks with frames count for the shard assignment whether done
           * or not, so every run of a shard sees the same chunks. */
          if (options->shard_count > 0 && global++ % options->shard_count != options->shard_index - 1)
            continue;
          p->progress.frames_skipped += selected - missing;
          if (missing == 0)
            continue;
          p->progress.frames_total += missing;
          g_array_append_val (p->chunks, c);
        }
      g_ptr_array_add (p->videos, g_steal_pointer (&all->pdata[k]));
      g_ptr_array_add (p->paths, NULL);
      g_ptr_array_add (p->done, g_steal_pointer (&bits));
    }
  /* Every video with work must be where the project says, unchanged in
   * size, before any work starts. */
  for (guint c = 0; c < p->chunks->len; c++)
    {
      guint vi = g_array_index (p->chunks, Chunk, c).video;
      FacetStoreVideo *v = p->videos->pdata[vi];
      g_autofree char *resolved = NULL;
      FacetVideoStatus status;

      if (p->paths->pdata[vi] != NULL)
        continue;
      status = facet_store_check_video (p->store, v->id, FALSE, &resolved, error);
      if (status == FACET_VIDEO_MISSING || status == FACET_VIDEO_CHANGED)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, FACET_STORE_ERROR, FACET_STORE_ERROR_NOT_FOUND,
                         "video %" G_GINT64_FORMAT " (%s) is %s", v->id, v->path,
                         facet_video_status_to_string (status));
          return FALSE;
        }
      p->paths->pdata[vi] = g_steal_pointer (&resolved);
    }
  return TRUE;
}

static char *
settings_json (const FacetAnalysisOptions *options,
               gint64                      stride,
               guint                       batch,
               FacetEngine                *engine)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "{\"stride\": %" G_GINT64_FORMAT ", \"batch\": %u, \"backend\": \"%s\"",
                          stride, batch, facet_backend_get_name (facet_engine_get_backend (engine)));
  if (options->shard_count > 0)
    g_string_append_printf (s, ", \"shard\": \"%u/%u\"", options->shard_index, options->shard_count);
  if (options->video_ids != NULL)
    {
      g_string_append (s, ", \"videos\": [");
      for (guint i = 0; i < options->n_videos; i++)
        g_string_append_printf (s, i ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
                                options->video_ids[i]);
      g_string_append_c (s, ']');
    }
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

static gboolean
check_model (FacetStore             *store,
             gint64                  model_id,
             const FacetModelConfig *config,
             GError                **error)
{
  g_autoptr (FacetStoreModel) row = facet_store_get_model (store, model_id, error);

  if (row == NULL)
    return FALSE;
  if (row->n_aus != config->n_aus
      || memcmp (row->au_ids, config->au_ids, sizeof (int) * config->n_aus) != 0)
    {
      g_autofree char *a = facet_format_int_list (row->au_ids, (guint) row->n_aus);
      g_autofree char *b = facet_format_int_list (config->au_ids, (guint) config->n_aus);
      g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_MISMATCH,
                   "model %" G_GINT64_FORMAT " of the project predicts AUs %s but the engine's "
                   "model predicts %s", model_id, a, b);
      return FALSE;
    }
  return TRUE;
}

gboolean
facet_analysis_run (FacetStore                 *store,
                    FacetEngine                *engine,
                    gint64                      model_id,
                    const FacetAnalysisOptions *options,
                    FacetAnalysisProgressFunc   progress,
                    gpointer                    user_data,
                    GCancellable               *cancellable,
                    FacetAnalysisProgress      *result,
                    GError                    **error)
{
  static const FacetAnalysisOptions defaults = { 0 };
  g_autofree char *settings = NULL;
  Pipeline p = { 0 };
  GThread *threads[3] = { NULL };
  gboolean need_faces = FALSE, ok = FALSE;
  gulong cancel_id = 0;
  gint64 run_id;

  g_return_val_if_fail (store != NULL && engine != NULL, FALSE);

  if (options == NULL)
    options = &defaults;
  p.store = store;
  p.engine = engine;
  p.config = facet_model_get_config (facet_engine_get_model (engine));
  p.model_id = model_id;
  p.n_aus = p.config->n_aus;
  p.tensor_floats = 3 * (gsize) p.config->image_size * p.config->image_size;
  p.stride = options->stride > 0 ? options->stride : 1;
  p.batch = options->batch > 0 ? options->batch : 16;
  p.progress_func = progress;
  p.progress_data = user_data;
  p.progress.eta = -1.0;
  g_mutex_init (&p.error_lock);

  if (p.batch > 1024 || p.stride > G_MAXINT32
      || (options->shard_count > 0
          && (options->shard_index < 1 || options->shard_index > options->shard_count)))
    {
      g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_INVALID,
                   "bad analysis settings: batch %u (1-1024), stride %" G_GINT64_FORMAT
                   ", shard %u/%u (1..N)", p.batch, p.stride, options->shard_index,
                   options->shard_count);
      g_mutex_clear (&p.error_lock);
      return FALSE;
    }
  if (p.n_aus == 0)
    {
      g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_MISMATCH,
                   "the model has no AU head; it cannot analyse videos");
      g_mutex_clear (&p.error_lock);
      return FALSE;
    }
  if (!check_model (store, model_id, p.config, error) || !plan (&p, options, error))
    goto out;

  for (guint c = 0; c < p.chunks->len; c++)
    need_faces |= ((FacetStoreVideo *) p.videos->pdata[g_array_index (p.chunks, Chunk, c).video])->crop
                  != FACET_CROP_NONE;
  if (need_faces && (p.detector = facet_face_detector_new (NULL, error)) == NULL)
    goto out;

  settings = settings_json (options, p.stride, p.batch, engine);
  run_id = facet_store_begin_run (store, model_id, settings, error);
  if (run_id == 0)
    goto out;

  queue_init (&p.decoded, &p, QUEUE_DEPTH_PER_BATCH * p.batch);
  queue_init (&p.faced, &p, QUEUE_DEPTH_PER_BATCH * p.batch);
  queue_init (&p.results, &p, QUEUE_DEPTH_PER_BATCH * p.batch);
  p.start_time = g_get_monotonic_time ();
  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), &p, NULL);

  threads[0] = g_thread_new ("facet-decode", decoder_thread, &p);
  threads[1] = g_thread_new ("facet-faces", faces_thread, &p);
  threads[2] = g_thread_new ("facet-write", writer_thread, &p);
  engine_loop (&p);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, cancel_id);

  ok = p.error == NULL && !g_atomic_int_get (&p.aborted);
  {
    const char *status = ok ? "done"
                         : g_error_matches (p.error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_CANCELLED)
                         ? "cancelled" : "failed";
    GError *end_error = NULL;
    if (!facet_store_end_run (store, run_id, status, p.progress.frames_done, &end_error))
      {
        if (ok)
          g_propagate_error (error, end_error);
        else
          g_error_free (end_error);
        ok = FALSE;
      }
  }
  if (p.error != NULL)
    g_propagate_error (error, g_steal_pointer (&p.error));
  else if (!ok && error != NULL && *error == NULL)
    g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_CANCELLED,
                 "the analysis was stopped");
  queue_clear (&p.decoded);
  queue_clear (&p.faced);
  queue_clear (&p.results);

out:
  if (result != NULL)
    *result = p.progress;
  g_clear_pointer (&p.detector, facet_face_detector_free);
  g_clear_pointer (&p.videos, g_ptr_array_unref);
  g_clear_pointer (&p.paths, g_ptr_array_unref);
  g_clear_pointer (&p.done, g_ptr_array_unref);
  g_clear_pointer (&p.chunks, g_array_unref);
  g_clear_error (&p.error);
  g_mutex_clear (&p.error_lock);
  return ok;
}

/* ---- Models --------------------------------------------------------------------------------- */

gint64
facet_pipeline_register_model (FacetStore *store,
                               FacetModel *model,
                               gint64      parent_id,
                               GError    **error)
{
  const FacetModelConfig *c;
  g_autofree char *config = NULL;
  FacetStoreModelInfo info = { 0 };

  g_return_val_if_fail (store != NULL && model != NULL, 0);

  c = facet_model_get_config (model);
  if (facet_model_get_path (model) == NULL)
    {
      g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_INVALID,
                   "the model has no file yet; save it before adding it to a project");
      return 0;
    }
  if (c->n_aus == 0)
    {
      g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_MISMATCH,
                   "%s has no AU head (a pretrained encoder); fine-tune or convert it first",
                   facet_model_get_path (model));
      return 0;
    }
  config = facet_model_config_to_string (c);
  info.file = facet_model_get_path (model);
  info.name = c->name;
  info.parent_id = parent_id;
  info.n_aus = c->n_aus;
  info.au_ids = c->au_ids;
  info.thresholds = c->thresholds;
  info.config_json = config;
  return facet_store_add_model (store, &info, error);
}

static gboolean
all_digits (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

FacetModel *
facet_pipeline_load_model (FacetStore *store,
                           const char *spec,
                           gint64     *model_id,
                           GError    **error)
{
  g_autoptr (FacetModel) model = NULL;
  gint64 id;

  g_return_val_if_fail (store != NULL && model_id != NULL, NULL);

  *model_id = 0;
  if (spec == NULL || (all_digits (spec) && !g_file_test (spec, G_FILE_TEST_EXISTS)))
    {
      g_autoptr (FacetStoreModel) row = NULL;
      g_autofree char *path = NULL;

      if (spec == NULL)
        {
          id = facet_store_latest_model (store, error);
          if (id < 0)
            return NULL;
          if (id == 0)
            {
              g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_NO_MODEL,
                           "%s has no model yet: pass --model FILE (a .safetensors or .pth "
                           "model) to analyse with it", facet_store_get_path (store));
              return NULL;
            }
        }
      else
        id = g_ascii_strtoll (spec, NULL, 10);
      row = facet_store_get_model (store, id, error);
      if (row == NULL)
        return NULL;
      if (row->n_aus == 0)
        {
          /* A pre-trained encoder (facet-cli pretrain) has no AU head yet. */
          g_set_error (error, FACET_PIPELINE_ERROR, FACET_PIPELINE_ERROR_NO_MODEL,
                       "model %" G_GINT64_FORMAT " of the project is a pre-trained encoder without "
                       "AU outputs: fine-tune it first (facet-cli finetune --base %" G_GINT64_FORMAT
                       ")", id, id);
          return NULL;
        }
      path = facet_store_model_path (store, row);
      model = facet_model_load (path, NULL, error);
      if (model == NULL)
        {
          g_prefix_error (error, "model %" G_GINT64_FORMAT " of the project: ", id);
          return NULL;
        }
    }
  else
    {
      model = facet_model_load (spec, NULL, error);
      if (model == NULL)
        return NULL;
      id = facet_pipeline_register_model (store, model, 0, error);
      if (id == 0)
        return NULL;
    }
  if (!check_model (store, id, facet_model_get_config (model), error))
    return NULL;
  *model_id = id;
  return g_steal_pointer (&model);
}
