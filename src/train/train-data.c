/* train-data.c — gathering labelled face crops from a project
 *
 * Crops follow each video's crop convention: "none" takes the frame as it
 * is; "box" and "aligned" use the face stored by analysis when there is one,
 * and run the detector otherwise. Decoding is sequential where labels are
 * dense (a synthetic or imported data set labels every frame) and by random
 * access where they are sparse (a coder's corrections).
 */
#define G_LOG_DOMAIN "facet-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "face/facet-face.h"
#include "media/facet-media.h"
#include "train-data.h"

struct _FacetTrainDataset
{
  FacetTrainData data;
  GArray        *au_ids;   /* int */
  GArray        *targets;  /* float */
  GArray        *subjects; /* int */
  GPtrArray     *crops;    /* FacetImage* */
  GPtrArray     *names;    /* subject names, NULL-terminated */
  GArray        *video_ids;
  GArray        *frames;   /* gint64, per sample */
  GArray        *sample_videos;
  guint          skipped;
};

void
facet_train_dataset_free (FacetTrainDataset *ds)
{
  if (ds == NULL)
    return;
  g_array_unref (ds->au_ids);
  g_array_unref (ds->targets);
  g_array_unref (ds->subjects);
  g_ptr_array_unref (ds->crops);
  g_ptr_array_unref (ds->names);
  g_array_unref (ds->video_ids);
  g_array_unref (ds->frames);
  g_array_unref (ds->sample_videos);
  g_free (ds);
}

const FacetTrainData *
facet_train_dataset_get_data (FacetTrainDataset *ds)
{
  return &ds->data;
}

guint
facet_train_dataset_get_skipped (FacetTrainDataset *ds)
{
  return ds->skipped;
}

static int
compare_int (gconstpointer a,
             gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

/* A crop at the model input size from a frame, by the video's convention. */
static FacetImage *
crop_frame (FacetStore             *store,
            gint64                  video_id,
            gint64                  frame,
            FacetCropKind           crop,
            FacetImage             *image,
            const FacetModelConfig *model,
            FacetFaceDetector     **detector,
            GError                **error)
{
  FacetModelConfig cfg = *model;
  FacetFrameResult stored;
  gboolean found = FALSE;
  FacetFace face = { 0 };
  double transform[6];

  if (crop == FACET_CROP_NONE)
    {
      if (image->width <= model->image_size * 2 && image->height <= model->image_size * 2)
        return facet_image_ref (image);
      return facet_image_resize (image, model->image_size, model->image_size);
    }

  /* The crop convention of the video decides, whatever the model's. */
  cfg.crop = crop;
  if (!facet_store_get_face (store, video_id, frame, &stored, &found, error))
    return NULL;
  if (found && stored.status == FACET_STORE_FACE_FOUND && stored.has_landmarks)
    {
      face.x = stored.box[0];
      face.y = stored.box[1];
      face.width = stored.box[2];
      face.height = stored.box[3];
      face.score = stored.score;
      memcpy (face.landmarks, stored.landmarks, sizeof face.landmarks);
    }
  else
    {
      g_autoptr (GArray) faces = NULL;
      if (*detector == NULL && (*detector = facet_face_detector_new (NULL, error)) == NULL)
        return NULL;
      faces = facet_face_detector_detect (*detector, image, error);
      if (faces == NULL)
        return NULL;
      if (faces->len == 0)
        return facet_image_new (1, 1); /* marks "no face" for the caller */
      face = g_array_index (faces, FacetFace, 0);
    }
  return facet_face_crop (image, &face, facet_model_config_crop (&cfg), transform);
}

/* Every video's labels (in frame order), and the sorted AUs coded present
 * or absent anywhere. */
static gboolean
read_labels (FacetStore                  *store,
             GPtrArray                   *videos,
             const FacetTrainDataOptions *opt,
             GPtrArray                   *per_video,
             GArray                      *au_ids,
             GError                     **error)
{
  g_autoptr (GHashTable) au_seen = g_hash_table_new (NULL, NULL);
  GHashTableIter it;
  gpointer key;

  for (guint v = 0; v < videos->len; v++)
    {
      FacetStoreVideo *video = g_ptr_array_index (videos, v);
      GArray *labels = facet_store_get_labels (store, video->id, 0, 0, -1, error);
      if (labels == NULL)
        return FALSE;
      for (guint i = 0; i < labels->len; i++)
        {
          FacetLabel *l = &g_array_index (labels, FacetLabel, i);
          if (l->source == FACET_LABEL_SOURCE_ACCEPTED && !opt->include_accepted)
            continue;
          if (l->state == FACET_LABEL_PRESENT || l->state == FACET_LABEL_ABSENT)
            g_hash_table_add (au_seen, GINT_TO_POINTER (l->au));
        }
      g_ptr_array_add (per_video, labels);
    }
  g_hash_table_iter_init (&it, au_seen);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_array_append_val (au_ids, (int) { GPOINTER_TO_INT (key) });
  g_array_sort (au_ids, compare_int);
  return TRUE;
}

/* One target row per labelled frame of a video (labels come ordered by
 * frame): @frames and @rows ([frames, n_aus], -1 where not labelled). */
static void
target_rows (GArray                      *labels,
             GArray                      *au_ids,
             const FacetTrainDataOptions *opt,
             GArray                      *frames,
             GArray                      *rows)
{
  int n_aus = (int) au_ids->len;

  for (guint i = 0; i < labels->len; i++)
    {
      FacetLabel *l = &g_array_index (labels, FacetLabel, i);
      int col = 0;
      float *row;
      if (l->source == FACET_LABEL_SOURCE_ACCEPTED && !opt->include_accepted)
        continue;
      if (l->state != FACET_LABEL_PRESENT && l->state != FACET_LABEL_ABSENT)
        continue;
      if (frames->len == 0 || g_array_index (frames, gint64, frames->len - 1) != l->frame)
        {
          g_array_append_val (frames, l->frame);
          g_array_set_size (rows, rows->len + (guint) n_aus);
          for (int a = 0; a < n_aus; a++)
            g_array_index (rows, float, rows->len - (guint) n_aus + a) = -1.0f;
        }
      while (g_array_index (au_ids, int, col) != l->au)
        col++;
      row = &g_array_index (rows, float, rows->len - (guint) n_aus);
      row[col] = l->state == FACET_LABEL_PRESENT ? 1.0f : 0.0f;
    }
}

static void
add_sample (FacetTrainDataset *ds,
            FacetImage        *crop,
            const float       *row,
            int                subject,
            gint64             frame,
            gint64             video)
{
  g_ptr_array_add (ds->crops, crop);
  g_array_append_vals (ds->targets, row, ds->au_ids->len);
  g_array_append_val (ds->subjects, subject);
  g_array_append_val (ds->frames, frame);
  g_array_append_val (ds->sample_videos, video);
}

typedef struct
{
  FacetStore                  *store;
  const FacetModelConfig      *model;
  const FacetTrainDataOptions *opt;
  FacetFaceDetector           *detector;
  gsize                        total, done;
} Reading;

/* The next frame @want of a video: read in sequence from @reader (dense
 * labels) or sought in @source. NULL without @error: damaged or missing. */
static FacetImage *
read_frame (FacetMediaSource *source,
            FacetMediaReader *reader,
            gint64           *at,
            gint64            want,
            GError          **error)
{
  g_autoptr (FacetImage) image = NULL;
  g_autoptr (GError) frame_error = NULL;

  if (reader == NULL)
    return facet_media_source_get_frame (source, want, NULL);
  while (*at < want)
    {
      g_clear_pointer (&image, facet_image_unref);
      g_clear_error (&frame_error);
      image = facet_media_reader_next (reader, at, &frame_error);
      if (image == NULL && frame_error == NULL)
        break; /* the end */
      if (image == NULL && !g_error_matches (frame_error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME))
        {
          g_propagate_error (error, g_steal_pointer (&frame_error));
          return NULL;
        }
    }
  return *at == want ? g_steal_pointer (&image) : NULL;
}

/* The face crops of a video's labelled frames (every @stride-th). */
static gboolean
read_video_crops (FacetTrainDataset *ds,
                  Reading           *rd,
                  FacetStoreVideo   *video,
                  int                subject,
                  GArray            *frames,
                  GArray            *rows,
                  guint              stride,
                  GError           **error)
{
  g_autoptr (FacetMediaSource) source = NULL;
  g_autoptr (FacetMediaReader) reader = NULL;
  g_autofree char *path = facet_store_resolve_video (rd->store, video->id, error);
  gint64 first, last, at = -1;

  if (path == NULL || (source = facet_media_source_open (path, video->fps, error)) == NULL)
    return FALSE;
  first = g_array_index (frames, gint64, 0);
  last = g_array_index (frames, gint64, frames->len - 1);
  /* Dense labels: one sequential pass; sparse ones: seek to each. */
  if ((gint64) frames->len * 4 >= (last - first + 1)
      && (reader = facet_media_reader_new (source, first, 1, error)) == NULL)
    return FALSE;
  for (guint j = 0; j < frames->len; j += stride)
    {
      gint64 want = g_array_index (frames, gint64, j);
      g_autoptr (FacetImage) image = NULL;
      g_autoptr (GError) read_error = NULL;
      FacetImage *crop;

      if (g_cancellable_set_error_if_cancelled (rd->opt->cancellable, error))
        return FALSE;
      image = read_frame (source, reader, &at, want, &read_error);
      if (read_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&read_error));
          return FALSE;
        }
      if (image == NULL)
        {
          ds->skipped++; /* a damaged or missing frame */
          continue;
        }
      crop = crop_frame (rd->store, video->id, want, video->crop, image, rd->model, &rd->detector, error);
      if (crop == NULL)
        return FALSE;
      if (crop->width == 1)
        {
          facet_image_unref (crop);
          ds->skipped++; /* no face in this frame */
          continue;
        }
      add_sample (ds, crop, &g_array_index (rows, float, (gsize) j * ds->au_ids->len), subject, want,
                  video->id);
      rd->done += stride;
      if (rd->opt->progress && rd->done % 64 < stride)
        rd->opt->progress ((double) rd->done / MAX (rd->total, 1), "Reading labelled frames",
                           rd->opt->progress_data);
    }
  return TRUE;
}

FacetTrainDataset *
facet_train_dataset_from_store (FacetStore                  *store,
                                const FacetModelConfig      *model,
                                const FacetTrainDataOptions *opt,
                                GError                     **error)
{
  g_autoptr (FacetTrainDataset) ds = g_new0 (FacetTrainDataset, 1);
  g_autoptr (GPtrArray) videos = NULL;
  g_autoptr (GPtrArray) subjects = NULL;
  g_autoptr (GHashTable) subject_index = g_hash_table_new (NULL, NULL);
  g_autoptr (GPtrArray) per_video = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  FacetTrainDataOptions defaults = { 0 };
  Reading rd = { 0 };

  g_return_val_if_fail (store != NULL && model != NULL, NULL);
  if (opt == NULL)
    opt = &defaults;
  rd.store = store;
  rd.model = model;
  rd.opt = opt;

  ds->au_ids = g_array_new (FALSE, FALSE, sizeof (int));
  ds->targets = g_array_new (FALSE, FALSE, sizeof (float));
  ds->subjects = g_array_new (FALSE, FALSE, sizeof (int));
  ds->crops = g_ptr_array_new_with_free_func ((GDestroyNotify) facet_image_unref);
  ds->names = g_ptr_array_new_with_free_func (g_free);
  ds->video_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  ds->frames = g_array_new (FALSE, FALSE, sizeof (gint64));
  ds->sample_videos = g_array_new (FALSE, FALSE, sizeof (gint64));

  if ((videos = facet_store_list_videos (store, error)) == NULL
      || (subjects = facet_store_list_subjects (store, error)) == NULL)
    return NULL;
  for (guint i = 0; i < subjects->len; i++)
    {
      FacetStoreSubject *s = g_ptr_array_index (subjects, i);
      g_hash_table_insert (subject_index, GINT_TO_POINTER ((int) s->id), GINT_TO_POINTER ((int) i));
      g_ptr_array_add (ds->names, g_strdup (s->name));
    }
  g_ptr_array_add (ds->names, NULL);

  /* First the labels of every video (which AUs are coded at all). */
  if (!read_labels (store, videos, opt, per_video, ds->au_ids, error))
    return NULL;
  for (guint v = 0; v < videos->len; v++)
    rd.total += ((GArray *) g_ptr_array_index (per_video, v))->len;

  for (guint v = 0; v < videos->len && ds->au_ids->len > 0; v++)
    {
      FacetStoreVideo *video = g_ptr_array_index (videos, v);
      g_autoptr (GArray) frames = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (float));
      int subject = GPOINTER_TO_INT (g_hash_table_lookup (subject_index,
                                                          GINT_TO_POINTER ((int) video->subject_id)));
      guint stride = 1;

      target_rows (g_ptr_array_index (per_video, v), ds->au_ids, opt, frames, rows);
      if (frames->len == 0)
        continue;
      if (opt->max_per_video > 0 && frames->len > opt->max_per_video)
        stride = (frames->len + opt->max_per_video - 1) / opt->max_per_video;
      if (opt->labels_only)
        for (guint j = 0; j < frames->len; j += stride)
          add_sample (ds, NULL, &g_array_index (rows, float, (gsize) j * ds->au_ids->len), subject,
                      g_array_index (frames, gint64, j), video->id);
      else if (!read_video_crops (ds, &rd, video, subject, frames, rows, stride, error))
        {
          g_clear_pointer (&rd.detector, facet_face_detector_free);
          return NULL;
        }
      g_array_append_val (ds->video_ids, video->id);
    }
  g_clear_pointer (&rd.detector, facet_face_detector_free);

  ds->data.n = ds->crops->len;
  ds->data.n_aus = (int) ds->au_ids->len;
  ds->data.au_ids = (const int *) ds->au_ids->data;
  ds->data.targets = (const float *) ds->targets->data;
  ds->data.subjects = (const int *) ds->subjects->data;
  ds->data.n_subjects = (int) subjects->len;
  ds->data.subject_names = (const char * const *) ds->names->pdata;
  ds->data.crops = (FacetImage **) ds->crops->pdata;
  return g_steal_pointer (&ds);
}

char *
facet_train_dataset_describe (FacetTrainDataset *ds,
                              const int         *val_subjects,
                              int                n_val_subjects)
{
  GString *s = g_string_new ("{\"videos\":[");
  g_autoptr (GHashTable) used = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < ds->video_ids->len; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "",
                            g_array_index (ds->video_ids, gint64, i));
  g_string_append_printf (s, "],\"frames\":%u,\"skipped\":%u,\"aus\":[", ds->data.n, ds->skipped);
  for (guint i = 0; i < ds->au_ids->len; i++)
    g_string_append_printf (s, "%s%d", i ? "," : "", g_array_index (ds->au_ids, int, i));
  g_string_append (s, "],\"subjects\":[");
  for (guint i = 0; i < ds->subjects->len; i++)
    g_hash_table_add (used, GINT_TO_POINTER (g_array_index (ds->subjects, int, i) + 1));
  {
    gboolean first = TRUE;
    for (guint i = 0; ds->names->pdata[i] != NULL; i++)
      if (g_hash_table_contains (used, GINT_TO_POINTER ((int) i + 1)))
        {
          g_autoptr (JsonNode) n = json_node_init_string (json_node_alloc (), ds->names->pdata[i]);
          g_autofree char *js = json_to_string (n, FALSE);
          g_string_append_printf (s, "%s%s", first ? "" : ",", js);
          first = FALSE;
        }
  }
  g_string_append (s, "],\"validation_subjects\":[");
  for (int i = 0; i < n_val_subjects; i++)
    {
      g_autoptr (JsonNode) n = json_node_init_string (json_node_alloc (),
                                                      ds->names->pdata[val_subjects[i]]);
      g_autofree char *js = json_to_string (n, FALSE);
      g_string_append_printf (s, "%s%s", i ? "," : "", js);
    }
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}

FacetImage *
facet_train_crop_frame (FacetStore             *store,
                        gint64                  video_id,
                        gint64                  frame,
                        FacetCropKind           crop,
                        FacetImage             *image,
                        const FacetModelConfig *model,
                        FacetFaceDetector     **detector,
                        GError                **error)
{
  return crop_frame (store, video_id, frame, crop, image, model, detector, error);
}
