/* train-data.h — labelled face crops from a project, for fine-tuning
 *
 * Threads: facet_train_dataset_from_store() blocks in the calling thread
 * (decoding, face detection) and calls @options->progress from it; @store
 * is thread-safe, so others may use it meanwhile. A FacetTrainDataset is
 * read-only once made: threads may read it, one frees it.
 * Ownership: see each function; @store, @model and @options are borrowed.
 */
#pragma once

#include "face/facet-face.h"
#include "store/facet-store.h"
#include "train-loop.h"

G_BEGIN_DECLS

typedef struct
{
  gboolean          include_accepted; /* accepted predictions count as labels */
  guint             max_per_video;    /* 0: all labelled frames; else an even subsample */
  gboolean          labels_only;      /* no decoding: crops stay NULL (for checks before work) */
  GCancellable     *cancellable;
  FacetProgressFunc progress;
  gpointer          progress_data;
} FacetTrainDataOptions;

typedef struct _FacetTrainDataset FacetTrainDataset;

/* Every frame with at least one label (present, absent; not-codable AUs
 * are left out of the loss), its subject, and its face crop in the crop
 * convention of its video, at @model's input size. Frames whose face cannot
 * be found are left out and counted. */
/* Returns (transfer full): free with facet_train_dataset_free(). */
FacetTrainDataset    *facet_train_dataset_from_store (FacetStore                  *store,
                                                      const FacetModelConfig      *model,
                                                      const FacetTrainDataOptions *options,
                                                      GError                     **error);
void                  facet_train_dataset_free       (FacetTrainDataset           *dataset);
/* (transfer none): the samples, owned by @dataset (crops included). */
const FacetTrainData *facet_train_dataset_get_data   (FacetTrainDataset           *dataset);
guint                 facet_train_dataset_get_skipped (FacetTrainDataset          *dataset);
/* {"videos": [...], "frames": n, "skipped": n, "aus": [...], "subjects": [...],
 *  "validation_subjects": [...]}: subjects by name; @val_subjects are
 * subject indices (FacetTrainResult's held-out subjects). Returns (transfer
 * full) a new string (g_free()). */
char                 *facet_train_dataset_describe   (FacetTrainDataset           *dataset,
                                                      const int                   *val_subjects,
                                                      int                          n_val_subjects);

/* A face crop of @image (frame @frame of the video) at @model's input size in
 * the crop convention @crop: the stored face when analysis found one, else
 * the detector's (created in *detector on first use; the caller owns it and
 * frees it with facet_face_detector_free() when done). A 1x1 image means
 * "no face". Returns (transfer full) a new image (facet_image_unref());
 * @image is borrowed. */
FacetImage           *facet_train_crop_frame         (FacetStore                  *store,
                                                      gint64                       video_id,
                                                      gint64                       frame,
                                                      FacetCropKind                crop,
                                                      FacetImage                  *image,
                                                      const FacetModelConfig      *model,
                                                      FacetFaceDetector          **detector,
                                                      GError                     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetTrainDataset, facet_train_dataset_free)

G_END_DECLS
