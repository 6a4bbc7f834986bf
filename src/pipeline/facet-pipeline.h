/* facet-pipeline.h — where the store meets the engine: batch analysis of
 * a project's videos as a bounded producer/consumer pipeline
 *
 *   decode (media) -> faces and crops (face) -> inference (engine) -> SQL writer (store)
 *
 * Each stage runs in its own thread with small bounded queues between
 * them, so decoding, face work and writing hide behind inference. The work
 * is cut into chunks of FACET_ANALYSIS_CHUNK_FRAMES consecutive frames of a
 * video; a chunk is written in one transaction and the face tracker starts
 * afresh at every chunk, so an analysis that was killed and resumed (frames
 * already stored for the model are skipped) gives exactly the result of an
 * uninterrupted run, and so do shards. Used by facet-cli, the app and
 * training.
 *
 * Threads: facet_analysis_run() starts three threads of its own (decode,
 * faces, write) and joins them before it returns, also on error and
 * cancellation; inference runs in the calling thread, so @engine must not
 * be used elsewhere meanwhile. The progress callback runs in the writer
 * thread. The writer commits through a connection of its own, so @store
 * (thread-safe) stays usable by others meanwhile.
 * Ownership: @store, @engine and @options are borrowed for the call;
 * load_model and crop_config return new objects (facet_model_unref(),
 * facet_model_config_free()).
 */
#pragma once

#include <gio/gio.h>

#include "engine/facet-engine.h"
#include "store/facet-store.h"

G_BEGIN_DECLS

#define FACET_PIPELINE_ERROR (facet_pipeline_error_quark ())

typedef enum
{
  FACET_PIPELINE_ERROR_INVALID,   /* bad options (stride, batch, shard) */
  FACET_PIPELINE_ERROR_NO_MODEL,  /* no --model and none in the project */
  FACET_PIPELINE_ERROR_MISMATCH,  /* the model does not fit the project or the engine */
  FACET_PIPELINE_ERROR_CANCELLED,
} FacetPipelineError;

GQuark facet_pipeline_error_quark (void);

/* Frames per unit of work: one transaction, one shard unit. */
#define FACET_ANALYSIS_CHUNK_FRAMES 256

typedef struct
{
  const gint64 *video_ids;   /* NULL: every video of the project */
  guint         n_videos;
  gint64        stride;      /* analyse frames 0, K, 2K, ...; 0 means 1 */
  guint         batch;       /* images per forward; 0 means 16 */
  guint         shard_index; /* 1..shard_count: do every shard_count-th chunk */
  guint         shard_count; /* 0: no sharding */
  /* Frames analysed there are skipped too (a shard skips what the main
   * project has already); may be NULL. */
  FacetStore   *done_store;
  gint64        done_model_id;
} FacetAnalysisOptions;

typedef struct
{
  gint64 frames_total;   /* frames this run has to analyse */
  gint64 frames_done;    /* ... of which written */
  gint64 frames_skipped; /* already in the store before the run */
  gint64 frames_no_face; /* written without a prediction (no face, damaged frame) */
  gint64 video_id;       /* where the last write was */
  double elapsed;        /* seconds since the start */
  double fps;            /* frames written per second */
  double eta;            /* seconds left, negative when unknown */
} FacetAnalysisProgress;

/* Called from the writer thread after every committed chunk; @progress is
 * borrowed for the call. */
typedef void (*FacetAnalysisProgressFunc) (const FacetAnalysisProgress *progress,
                                           gpointer                     user_data);

/* Analyses the selected videos of @store with @engine, whose model is the
 * store's model @model_id. Blocks until done, running inference in the
 * calling thread (the app calls it from a GTask thread). Writes through a
 * connection of its own, so @store stays usable meanwhile. Cancellation
 * stops at once; what was committed stays. @result (nullable) gets the
 * final counts. */
gboolean    facet_analysis_run          (FacetStore                  *store,
                                         FacetEngine                 *engine,
                                         gint64                       model_id,
                                         const FacetAnalysisOptions  *options,
                                         FacetAnalysisProgressFunc    progress,
                                         gpointer                     user_data,
                                         GCancellable                *cancellable,
                                         FacetAnalysisProgress       *result,
                                         GError                     **error);

/* The store row of a loaded model: found by the file's content hash, or
 * added (name, AUs, thresholds, configuration from the file). @store and
 * @model are borrowed; returns the id, 0 on error. Any thread (the store
 * is thread-safe, the model read-only). */
gint64      facet_pipeline_register_model (FacetStore  *store,
                                           FacetModel  *model,
                                           gint64       parent_id,
                                           GError     **error);

/* A model given on the command line: a file (registered in @store on first
 * use) or the number of a model in @store; NULL @spec: the project's most
 * recent model. Returns (transfer full) the loaded model (facet_model_unref())
 * and its id in @store. */
FacetModel *facet_pipeline_load_model   (FacetStore  *store,
                                         const char  *spec,
                                         gint64      *model_id,
                                         GError     **error);

/* The crop used for a video's frames: a video added with crop "none" is
 * used whole; otherwise faces are detected and cropped by the model's
 * convention (box or aligned, its margin and template), or by the video's
 * kind when the model itself expects whole images. Returns (transfer full)
 * a new configuration (facet_model_config_free()); @model_config is
 * borrowed. Any thread. */
FacetModelConfig *facet_pipeline_crop_config (const FacetModelConfig *model_config,
                                              FacetCropKind           video_crop);

/* ---- Neutral frames (pipeline-neutral.c) ----------------------------------
 * The reference of the change-from-neutral map (FACET_MAP_NEUTRAL): the
 * person at rest, as the model sees it, without labels. */

/* Of @n frames with calm scores @calm (the sum of the AU probabilities;
 * NAN: no face), the indices of up to @want with the lowest scores, no two
 * closer than @spacing frames, calmest first; returns how many. */
int                 facet_neutral_pick        (const gint64 *frames,
                                               const double *calm,
                                               gsize         n,
                                               gint64        spacing,
                                               int           want,
                                               gsize        *picked);
/* The index of the candidate ([n, per] model inputs) nearest to @input in
 * squared distance, an exact copy of @input excepted; -1 when there is none. */
int                 facet_neutral_nearest     (const float  *candidates,
                                               int           n,
                                               gsize         per,
                                               const float  *input);

typedef struct
{
  int     n;
  gint64 *frames;  /* [n] */
  float  *inputs;  /* [n, 3, size, size]: each frame cropped as the model expects, prepared */
} FacetNeutralFrames;

/* The @want calmest analysed frames of @video_id by @model_id's stored
 * predictions, at most one a second, decoded and cropped as the engine's
 * model expects (n may be 0: the video is not analysed by that model, or
 * has no face). Errors: the video's file missing or unreadable. */
FacetNeutralFrames *facet_neutral_frames_load (FacetStore   *store,
                                               gint64        model_id,
                                               gint64        video_id,
                                               FacetEngine  *engine,
                                               int           want,
                                               GCancellable *cancellable,
                                               GError      **error);
void                facet_neutral_frames_free (FacetNeutralFrames *set);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetNeutralFrames, facet_neutral_frames_free)

G_END_DECLS
