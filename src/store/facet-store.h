/* facet-store.h — the project store: one SQLite file per study (*.facet)
 *
 * Everything Facet knows about a study lives in the project file: subjects,
 * videos (by path relative to the project), models, analysis runs, per-frame
 * face results, predictions, labels and the full history of every label
 * change. docs/store.md describes the schema and the rules behind this API.
 *
 * Threads: a FacetStore is one SQLite connection guarded by a mutex, so every
 * function may be called from any thread and each call is atomic. Calls on
 * one FacetStore run one after another; for work in parallel (an analysis
 * writer next to the app's reads) open a second FacetStore on the same file.
 * Several processes may use one project at the same time: writers wait for
 * each other (FACET_STORE_ERROR_BUSY only after FACET_STORE_BUSY_SECONDS).
 *
 * Numbering: videos are numbered from 1 in the order they were added; frames
 * count from 0; AUs are FACS numbers (12 for AU12).
 */
#pragma once

#include <gio/gio.h>

#include "engine/engine-config.h"

G_BEGIN_DECLS

#define FACET_STORE_ERROR (facet_store_error_quark ())

typedef enum
{
  FACET_STORE_ERROR_IO,        /* the file cannot be opened, read or written */
  FACET_STORE_ERROR_CORRUPT,   /* not a Facet project, or a damaged one */
  FACET_STORE_ERROR_TOO_NEW,   /* written by a newer Facet: refused, left untouched */
  FACET_STORE_ERROR_BUSY,      /* another process kept the project locked too long */
  FACET_STORE_ERROR_NOT_FOUND, /* no such video, model, subject or frame */
  FACET_STORE_ERROR_INVALID,   /* a bad argument: frame out of range, unknown AU, ... */
  FACET_STORE_ERROR_EXISTS,    /* the project file exists, the video is already there */
  FACET_STORE_ERROR_PARSE,     /* an import file is malformed (line and column in the message) */
  FACET_STORE_ERROR_MISMATCH,  /* a shard of another project, a model with other AUs */
  FACET_STORE_ERROR_NOTHING,   /* nothing to undo or redo */
} FacetStoreError;

GQuark facet_store_error_quark (void);

/* The schema version this Facet writes (PRAGMA user_version). */
#define FACET_STORE_SCHEMA_VERSION 3
/* How long a writer waits for another process before giving up. */
#define FACET_STORE_BUSY_SECONDS   120

typedef struct _FacetStore FacetStore;

/* ---- Opening ----------------------------------------------------------- */

FacetStore *facet_store_create      (const char  *path,
                                     GError     **error);
/* Opens an existing project and migrates an older schema forward (in one
 * transaction). A file from a newer Facet is refused and left unchanged. */
FacetStore *facet_store_open        (const char  *path,
                                     GError     **error);
void        facet_store_close       (FacetStore  *store);
const char *facet_store_get_path    (FacetStore  *store);
/* The folder relative video and model paths start from. */
const char *facet_store_get_folder  (FacetStore  *store);
/* A random identifier made at creation; shards carry their project's. */
const char *facet_store_get_project_id (FacetStore *store);
int         facet_store_get_schema_version (FacetStore *store);
/* PRAGMA integrity_check and foreign_key_check; FALSE with the first problem. */
gboolean    facet_store_check_integrity (FacetStore *store,
                                         GError    **error);

/* For tests of the migrations: a new project at an earlier @version. */
FacetStore *facet_store_create_at_version (const char  *path,
                                           int          version,
                                           GError     **error);
/* Raw SQL on the connection (tests and tools only; never with user text). */
gboolean    facet_store_exec_sql    (FacetStore  *store,
                                     const char  *sql,
                                     GError     **error);

/* ---- Change notification ------------------------------------------------ */

typedef enum
{
  FACET_STORE_CHANGE_LABELS      = 1 << 0,
  FACET_STORE_CHANGE_PREDICTIONS = 1 << 1,
  FACET_STORE_CHANGE_VIDEOS      = 1 << 2,
  FACET_STORE_CHANGE_MODELS      = 1 << 3,
  FACET_STORE_CHANGE_SAMPLES     = 1 << 4, /* reliability segments marked or cleared */
} FacetStoreChange;

/* Called after a commit through this FacetStore, in the committing thread,
 * without the store's lock held. @first/@last: the frames touched in
 * @video_id (0 and -1 when many videos or not frame-related). */
typedef void (*FacetStoreWatchFunc) (FacetStore      *store,
                                     FacetStoreChange what,
                                     gint64           video_id,
                                     gint64           first,
                                     gint64           last,
                                     gpointer         user_data);

guint   facet_store_add_watch    (FacetStore          *store,
                                  FacetStoreWatchFunc  func,
                                  gpointer             user_data,
                                  GDestroyNotify       destroy);
void    facet_store_remove_watch (FacetStore          *store,
                                  guint                id);
/* A counter per kind of data, stored in the project and raised by every
 * commit from any process: poll it to notice other processes' changes. */
gint64  facet_store_get_serial   (FacetStore          *store,
                                  FacetStoreChange     what);

/* ---- Subjects and coders ---------------------------------------------- */

typedef struct
{
  gint64 id;
  char  *name;
  guint  n_videos;
} FacetStoreSubject;

void    facet_store_subject_free   (FacetStoreSubject *subject);
/* Returns the id of the subject called @name, adding it when new. */
gint64  facet_store_add_subject    (FacetStore  *store,
                                    const char  *name,
                                    GError     **error);
/* Array of FacetStoreSubject, by id. */
GPtrArray *facet_store_list_subjects (FacetStore *store,
                                      GError    **error);

/* The coder that label changes and undo/redo act for (default: $FACET_CODER,
 * else the login name). */
void        facet_store_set_coder  (FacetStore *store,
                                    const char *name);
const char *facet_store_get_coder  (FacetStore *store);
/* The names of everyone who changed a label, by first appearance. */
GStrv       facet_store_list_coders (FacetStore *store,
                                     GError    **error);

/* ---- Videos ------------------------------------------------------------ */

typedef struct
{
  gint64        id;
  gint64        subject_id;
  char         *subject;
  char         *path;      /* as stored: relative to the project folder */
  char         *abs_path;  /* where it was when added (used when the relative path fails) */
  gint64        size;      /* bytes (sum over the images of a folder) */
  char         *sha256;    /* content hash */
  gint64        n_frames;
  double        fps;
  int           width;
  int           height;
  FacetCropKind crop;
  double        added;     /* Unix time */
} FacetStoreVideo;

/* What the caller learnt from the media module when adding a video. */
typedef struct
{
  const char   *path;      /* as the user gave it (absolute or relative to the cwd) */
  const char   *subject;
  FacetCropKind crop;
  gint64        n_frames;
  double        fps;
  int           width;
  int           height;
} FacetStoreVideoInfo;

typedef enum
{
  FACET_VIDEO_OK,      /* at its relative path, same size (and hash when checked) */
  FACET_VIDEO_MOVED,   /* not at the relative path but at the absolute one it had */
  FACET_VIDEO_CHANGED, /* a file is there but its size or content hash differs */
  FACET_VIDEO_MISSING, /* neither path has it */
} FacetVideoStatus;

void              facet_store_video_free   (FacetStoreVideo *video);
/* Hashes the media (a folder: every image in natural order) and adds it;
 * the same content twice is FACET_STORE_ERROR_EXISTS naming the video. */
gint64            facet_store_add_video    (FacetStore                *store,
                                            const FacetStoreVideoInfo *info,
                                            GError                   **error);
FacetStoreVideo  *facet_store_get_video    (FacetStore  *store,
                                            gint64       video_id,
                                            GError     **error);
/* Array of FacetStoreVideo, numbered from 1. */
GPtrArray        *facet_store_list_videos  (FacetStore  *store,
                                            GError     **error);
/* Where the media is now: the relative path first, then the absolute one;
 * NULL and FACET_STORE_ERROR_NOT_FOUND when neither exists. */
char             *facet_store_resolve_video (FacetStore *store,
                                             gint64      video_id,
                                             GError    **error);
/* Checks one video (@full_hash: compare the content hash, not only the
 * size); @resolved receives the path found, or NULL. */
FacetVideoStatus  facet_store_check_video  (FacetStore  *store,
                                            gint64       video_id,
                                            gboolean     full_hash,
                                            char       **resolved,
                                            GError     **error);
/* Points a video at a new file, which must have the recorded content hash. */
gboolean          facet_store_relocate_video (FacetStore *store,
                                              gint64      video_id,
                                              const char *new_path,
                                              GError    **error);
const char       *facet_video_status_to_string (FacetVideoStatus status);

/* ---- Models and analysis runs -------------------------------------------- */

typedef struct
{
  gint64  id;
  char   *name;
  char   *file;         /* relative to the project folder (or absolute outside it) */
  char   *sha256;
  gint64  parent_id;    /* 0: imported, no parent */
  double  created;      /* Unix time */
  int     n_aus;
  int    *au_ids;
  float  *thresholds;   /* per AU */
  char   *config_json;  /* the model configuration */
  char   *settings_json;/* how it was trained ("{}" for imported models) */
  char   *metrics_json; /* validation metrics ("{}" until known) */
  char   *data_json;    /* which data it was trained on ("{}" for imported models) */
} FacetStoreModel;

/* What describes a model row when adding it; NULL strings become "{}". */
typedef struct
{
  const char  *file;          /* absolute or relative to the cwd */
  const char  *name;          /* NULL: the file's base name */
  const char  *sha256;        /* NULL: hashed here */
  gint64       parent_id;
  int          n_aus;
  const int   *au_ids;
  const float *thresholds;    /* NULL: 0.5 each */
  const char  *config_json;
  const char  *settings_json;
  const char  *metrics_json;
  const char  *data_json;
} FacetStoreModelInfo;

void             facet_store_model_free     (FacetStoreModel *model);
/* Adds a model row; the same file content twice returns the existing id. */
gint64           facet_store_add_model      (FacetStore                *store,
                                             const FacetStoreModelInfo *info,
                                             GError                   **error);
FacetStoreModel *facet_store_get_model      (FacetStore  *store,
                                             gint64       model_id,
                                             GError     **error);
/* Array of FacetStoreModel, oldest first. */
GPtrArray       *facet_store_list_models    (FacetStore  *store,
                                             GError     **error);
/* The id of the most recently created model that predicts AUs (not a
 * pre-trained encoder), 0 when there is none. */
gint64           facet_store_latest_model   (FacetStore  *store,
                                             GError     **error);
/* The model whose file has this content hash, 0 when none. */
gint64           facet_store_find_model     (FacetStore  *store,
                                             const char  *sha256,
                                             GError     **error);
char            *facet_store_model_path     (FacetStore  *store,
                                             const FacetStoreModel *model);
gboolean         facet_store_set_model_metrics (FacetStore *store,
                                                gint64      model_id,
                                                const char *metrics_json,
                                                GError    **error);
/* "pre-trained", "fine-tuned" or "imported". */
const char      *facet_store_model_kind     (const FacetStoreModel *model);
/* Index of @au in the model's outputs, or -1. */
int              facet_store_model_find_au  (const FacetStoreModel *model,
                                             int                    au);

typedef struct
{
  gint64  id;
  gint64  model_id;
  double  started;
  double  finished;  /* 0 while running or after a crash */
  char   *status;    /* "running", "done", "cancelled", "failed" */
  gint64  frames;    /* frames written by this run */
  char   *settings_json;
} FacetStoreRun;

void           facet_store_run_free   (FacetStoreRun *run);
gint64         facet_store_begin_run  (FacetStore  *store,
                                       gint64       model_id,
                                       const char  *settings_json,
                                       GError     **error);
gboolean       facet_store_end_run    (FacetStore  *store,
                                       gint64       run_id,
                                       const char  *status,
                                       gint64       frames,
                                       GError     **error);
/* Array of FacetStoreRun, oldest first. */
GPtrArray     *facet_store_list_runs  (FacetStore  *store,
                                       GError     **error);

/* ---- Face results and predictions ---------------------------------------- */

typedef enum
{
  FACET_STORE_FACE_FOUND     = 0,
  FACET_STORE_FACE_NONE      = 1, /* no face: no prediction for this frame */
  FACET_STORE_FACE_TOO_SMALL = 2,
  FACET_STORE_FACE_WHOLE     = 3, /* crop "none": the frame is the face */
} FacetStoreFaceStatus;

#define FACET_STORE_N_LANDMARKS 68

/* One analysed frame: where the face was and what the model said. */
typedef struct
{
  gint64               frame;
  double               time;        /* presentation time from the decoder, seconds */
  FacetStoreFaceStatus status;
  float                box[4];      /* x, y, width, height in image pixels */
  float                score;       /* detector confidence (1 for whole frames) */
  float                quality;     /* 0..1 */
  gboolean             has_landmarks;
  float                landmarks[2 * FACET_STORE_N_LANDMARKS];
  gboolean             has_transform;
  double               transform[6]; /* crop -> image affine */
  const float         *probs;       /* n_aus of the model; NULL when no face */
} FacetFrameResult;

/* Writes face results and predictions of one video in one transaction;
 * frames already there are replaced. @model_id 0 writes face results only
 * (probs are ignored). */
gboolean  facet_store_write_results   (FacetStore             *store,
                                       gint64                  model_id,
                                       gint64                  video_id,
                                       const FacetFrameResult *results,
                                       gsize                   n,
                                       GError                **error);
/* Only the face result of a frame (@found FALSE when not analysed). */
gboolean  facet_store_get_face        (FacetStore       *store,
                                       gint64            video_id,
                                       gint64            frame,
                                       FacetFrameResult *out,
                                       gboolean         *found,
                                       GError          **error);
/* The model's probabilities at a frame into @probs (n_aus floats, NAN when
 * the frame had no face); @found FALSE when the frame is not analysed. */
gboolean  facet_store_get_prediction  (FacetStore  *store,
                                       gint64       model_id,
                                       gint64       video_id,
                                       gint64       frame,
                                       float       *probs,
                                       gboolean    *found,
                                       GError     **error);

/* Predictions of a frame range, all AUs. */
typedef struct
{
  gsize   n;
  int     n_aus;
  int    *au_ids;
  gint64 *frames;  /* ascending */
  float  *probs;   /* [n, n_aus]; NAN rows for frames without a face */
} FacetPredictionSet;

void                facet_prediction_set_free (FacetPredictionSet *set);
FacetPredictionSet *facet_store_get_predictions (FacetStore *store,
                                                 gint64      model_id,
                                                 gint64      video_id,
                                                 gint64      first,
                                                 gint64      last,
                                                 GError    **error);
/* Frames of @video_id analysed by @model_id, ascending (GArray of gint64). */
GArray   *facet_store_get_analysed_frames (FacetStore *store,
                                           gint64      model_id,
                                           gint64      video_id,
                                           GError    **error);
gint64    facet_store_count_analysed  (FacetStore  *store,
                                       gint64       model_id,
                                       gint64       video_id,
                                       GError     **error);

/* The timeline: one AU over frames [first, last] cut into @n_buckets
 * spans, each with statistics over its analysed frames with a face. Spans
 * are equal (within a frame) while they are narrower than 32 frames;
 * wider ones start on multiples of FACET_STORE_TIMELINE_BLOCK so that they
 * come from per-block summaries (a 1-hour video at 30 fps in about 7000
 * rows instead of 108000): each bucket reports its own first and last. */
#define FACET_STORE_TIMELINE_BLOCK 16

typedef struct
{
  gint64 first;
  gint64 last;
  guint  n;      /* frames with a probability in the span */
  float  min;    /* NAN when n is 0 */
  float  max;
  float  mean;
} FacetTimelineBucket;

GArray   *facet_store_get_timeline    (FacetStore  *store,
                                       gint64       model_id,
                                       gint64       video_id,
                                       int          au,
                                       gint64       first,
                                       gint64       last,
                                       guint        n_buckets,
                                       GError     **error);

/* ---- Labels --------------------------------------------------------------- */

typedef enum
{
  FACET_LABEL_UNSET       = 0, /* no label (writing it clears one) */
  FACET_LABEL_PRESENT     = 1,
  FACET_LABEL_ABSENT      = 2,
  FACET_LABEL_NOT_CODABLE = 3,
} FacetLabelState;

typedef enum
{
  FACET_LABEL_SOURCE_HUMAN    = 0,
  FACET_LABEL_SOURCE_IMPORTED = 1,
  FACET_LABEL_SOURCE_ACCEPTED = 2, /* an accepted prediction */
} FacetLabelSource;

typedef struct
{
  gint64           video_id;
  gint64           frame;
  int              au;
  FacetLabelState  state;
  float            intensity; /* 0..1, NAN when not coded; FACS A-E are 0.2 .. 1.0 (see
                               * facet_intensity_from_letter) */
  FacetLabelSource source;
  const char      *coder;     /* interned; ignored when writing */
  double           time;      /* Unix time of the change; ignored when writing */
} FacetLabel;

const char *facet_label_state_to_string  (FacetLabelState  state);
gboolean    facet_label_state_from_string (const char      *text,
                                           FacetLabelState *state);
const char *facet_label_source_to_string (FacetLabelSource source);

/* Sets frames [first, last] of one AU to @state (UNSET clears) as one
 * change set, i.e. one undo step, for the current coder. Returns the change
 * set id; 0 when nothing changed (no change set is made); -1 on error. */
gint64    facet_store_set_label_range (FacetStore       *store,
                                       gint64            video_id,
                                       gint64            first,
                                       gint64            last,
                                       int               au,
                                       FacetLabelState   state,
                                       FacetLabelSource  source,
                                       GError          **error);
gint64    facet_store_set_label       (FacetStore       *store,
                                       gint64            video_id,
                                       gint64            frame,
                                       int               au,
                                       FacetLabelState   state,
                                       GError          **error);
/* Any set of label writes (state, intensity, source) as one change set;
 * a later entry for the same frame and AU wins. Returns as above. */
gint64    facet_store_write_labels    (FacetStore       *store,
                                       const FacetLabel *labels,
                                       gsize             n,
                                       const char       *description,
                                       GError          **error);
/* @out->state is FACET_LABEL_UNSET when the frame has no label for @au. */
gboolean  facet_store_get_label       (FacetStore  *store,
                                       gint64       video_id,
                                       gint64       frame,
                                       int          au,
                                       FacetLabel  *out,
                                       GError     **error);
/* The labels of one frame, every AU (GArray of FacetLabel, by AU). */
GArray   *facet_store_get_frame_labels (FacetStore *store,
                                        gint64      video_id,
                                        gint64      frame,
                                        GError    **error);
/* Labels in frames [first, last] (last -1: to the end) of one AU or all
 * (@au 0), ordered by frame then AU (GArray of FacetLabel). */
GArray   *facet_store_get_labels      (FacetStore  *store,
                                       gint64       video_id,
                                       int          au,
                                       gint64       first,
                                       gint64       last,
                                       GError     **error);
/* Distinct frames with at least one label (of @au, or any when 0). */
GArray   *facet_store_get_labelled_frames (FacetStore *store,
                                           gint64      video_id,
                                           int         au,
                                           GError    **error);

/* Runs of equal state, source and intensity level for the timeline lanes. */
typedef struct
{
  gint64           first;
  gint64           last;
  FacetLabelState  state;
  FacetLabelSource source;
  int              level;  /* FACS intensity 1-5 (A-E) of a present run, 0 when none */
} FacetLabelSegment;

GArray   *facet_store_get_label_segments (FacetStore *store,
                                          gint64      video_id,
                                          int         au,
                                          gint64      first,
                                          gint64      last,
                                          GError    **error);

typedef struct
{
  int    au;
  gint64 present;
  gint64 absent;
  gint64 not_codable;
} FacetLabelCount;

/* Per AU counts over one video or all (@video_id 0), by AU. */
GArray   *facet_store_count_labels    (FacetStore  *store,
                                       gint64       video_id,
                                       GError     **error);

/* ---- History, undo and redo ---------------------------------------------- *
 * Every label change is appended to the history with its change set; a
 * change set is one undo step (a range, an import). Undo and redo are per
 * coder: each coder steps through their own change sets, so two coders on
 * one project never undo each other's work. A cell that someone else
 * changed after the change set is left as it is (their later work wins).
 * The stacks live in the project, so they survive a restart. */

typedef enum
{
  FACET_CHANGESET_EDIT   = 0,
  FACET_CHANGESET_IMPORT = 1,
  FACET_CHANGESET_UNDO   = 2,
  FACET_CHANGESET_REDO   = 3,
  FACET_CHANGESET_LEGACY = 4, /* history of a version 1 project, one per change */
  FACET_CHANGESET_RESOLVE = 5, /* consensus: a disagreement between layers settled in the final
                                * layer (facet_store_resolve_label) */
} FacetChangesetKind;

typedef enum
{
  FACET_CHANGESET_APPLIED = 0,
  FACET_CHANGESET_UNDONE  = 1,
  FACET_CHANGESET_DEAD    = 2, /* undone, then a new change: no longer redoable */
} FacetChangesetState;

typedef struct
{
  gint64              id;
  const char         *coder;  /* interned */
  double              time;
  FacetChangesetKind  kind;
  FacetChangesetState state;
  gint64              target; /* undo/redo: the change set acted on */
  gint64              n_changes;
  char               *description;
  const char         *layer;  /* interned coder name of the layer it changed; NULL: final */
} FacetChangeset;

void      facet_changeset_free        (FacetChangeset *changeset);
/* The next undo or redo step of the current coder, or NULL (no error). */
FacetChangeset *facet_store_peek_undo (FacetStore *store,
                                       GError    **error);
FacetChangeset *facet_store_peek_redo (FacetStore *store,
                                       GError    **error);
/* Undoes the current coder's last change set; returns its id (0 and
 * FACET_STORE_ERROR_NOTHING when there is none). @n_skipped (nullable):
 * cells left alone because someone changed them since. */
gint64    facet_store_undo            (FacetStore  *store,
                                       gint64      *n_skipped,
                                       GError     **error);
gint64    facet_store_redo            (FacetStore  *store,
                                       gint64      *n_skipped,
                                       GError     **error);
/* Change sets, newest first (@coder NULL: everyone's; @limit 0: all). */
GPtrArray *facet_store_list_changesets (FacetStore *store,
                                        const char *coder,
                                        guint       limit,
                                        GError    **error);
/* The history rows of one frame and AU, oldest first (GArray of FacetLabel:
 * the state after each change). */
GArray   *facet_store_get_label_history (FacetStore *store,
                                         gint64      video_id,
                                         gint64      frame,
                                         int         au,
                                         GError    **error);

/* ---- Intensity (FACS A-E) -------------------------------------------------- *
 * A label's intensity is stored on the 0..1 scale schema 2 introduced. The FACS
 * letters are the levels 1-5 of it: A = 0.2, B = 0.4, C = 0.6, D = 0.8, E = 1.0
 * (level = intensity x 5, so OpenFace's AU_r column, 0-5, is 5 x intensity and
 * DISFA's 0-5 maps 1-5 onto A-E, 0 being absent). An intensity between two
 * levels (an imported continuous value) reads as the nearest level, at least A. */

#define FACET_INTENSITY_LEVELS 5

/* 0 when @intensity is NAN or 0 (none), else 1..5. */
int         facet_intensity_to_level    (float intensity);
/* @level 1..5 -> level / 5; NAN for anything else. */
float       facet_intensity_from_level  (int   level);
/* 'A'..'E', or 0 when none. */
char        facet_intensity_to_letter   (float intensity);
/* 'A'..'E' (or 'a'..'e') -> 0.2 .. 1.0; NAN for anything else. */
float       facet_intensity_from_letter (char  letter);

/* ---- Layers: independent coders and the final layer ------------------------ *
 * Every label belongs to a layer. The final layer (NULL) is the project's
 * labels as they were before layers existed: what exports, training and the
 * review queue use unless told otherwise. Each coder may also code in a layer
 * of their own, which no other layer's writes touch: two coders double-coding
 * the same frames never overwrite each other. The final layer can be built
 * from the coders' layers with facet_store_resolve_label(), which records
 * which layer a label was taken from.
 *
 * Every label function above and below (write, read, counts, segments,
 * history, undo/redo, review queue, label import and export, exports) acts on
 * the store's current layer; undo and redo step through the current coder's
 * change sets *in the current layer*. The layer and the coder are separate:
 * the coder says who made a change (recorded in the history), the layer says
 * whose labels it changes. A coder's layer is named by the coder's name. */

/* NULL: the final layer (the default); a coder's name: that coder's layer
 * (made on first write). */
void        facet_store_set_layer   (FacetStore *store,
                                     const char *coder);
/* The current layer's coder, NULL for the final layer. */
const char *facet_store_get_layer   (FacetStore *store);
/* Coders with a layer of their own (anything ever written there), by name. */
GStrv       facet_store_list_layers (FacetStore *store,
                                     GError    **error);
/* Labels of a named layer (@layer NULL: final) without switching the current
 * one: as facet_store_get_labels (GArray of FacetLabel). */
GArray     *facet_store_get_layer_labels (FacetStore  *store,
                                          const char  *layer,
                                          gint64       video_id,
                                          int          au,
                                          gint64       first,
                                          gint64       last,
                                          GError     **error);

/* The same for the timeline lanes of a named layer (side by side). */
GArray     *facet_store_get_layer_segments (FacetStore  *store,
                                            const char  *layer,
                                            gint64       video_id,
                                            int          au,
                                            gint64       first,
                                            gint64       last,
                                            GError     **error);

/* Writes @chosen (its state, intensity and source; FACET_LABEL_UNSET clears)
 * into the final layer at (@video_id, @frame, @au) as one change set of kind
 * FACET_CHANGESET_RESOLVE by the current coder, whatever the current layer.
 * @taken_from: the layer whose label was taken (a coder's name, or
 * "model:ID"), NULL when the resolver set a value of their own; it is kept
 * in the history row. Returns the change set id, 0 when the final layer
 * already had that label (nothing recorded), -1 on error. Undo it in the
 * final layer (facet_store_set_layer (store, NULL); facet_store_undo). */
gint64      facet_store_resolve_label  (FacetStore       *store,
                                        gint64            video_id,
                                        gint64            frame,
                                        int               au,
                                        const FacetLabel *chosen,
                                        const char       *taken_from,
                                        GError          **error);
/* The same for many cells at once (one change set; @labels' video_id, frame
 * and au say where). */
gint64      facet_store_resolve_labels (FacetStore       *store,
                                        const FacetLabel *labels,
                                        gsize             n,
                                        const char       *taken_from,
                                        const char       *description,
                                        GError          **error);
/* The first step of a consensus: copies into the final layer, as one
 * resolution change set taken from "A,B", every cell where layers @a and @b
 * agree (same state; same intensity level when present) and the final layer
 * has no label (any label, with @overwrite). @n_disagree (nullable): the
 * cells both coded differently, left for facet_store_resolve_label. Returns
 * the change set id, 0 when nothing was copied, -1 on error. */
gint64      facet_store_resolve_agreed (FacetStore  *store,
                                        const char  *a,
                                        const char  *b,
                                        gint64       video_id,
                                        gboolean     overwrite,
                                        gint64      *n_copied,
                                        gint64      *n_disagree,
                                        GError     **error);
/* Who decided a final-layer cell last and where the value came from:
 * @taken_from receives the layer name or NULL (new value, or not resolved),
 * @resolved whether the last change of the cell was a resolution. */
gboolean    facet_store_get_resolution (FacetStore  *store,
                                        gint64       video_id,
                                        gint64       frame,
                                        int          au,
                                        gboolean    *resolved,
                                        char       **taken_from,
                                        char       **resolver,
                                        GError     **error);

/* One cell where two layers differ, for the consensus view. */
typedef struct
{
  gint64          video_id;
  gint64          frame;
  int             au;
  FacetLabelState state_a;     /* UNSET when the layer has no label there */
  float           intensity_a; /* NAN when none */
  FacetLabelState state_b;
  float           intensity_b;
  FacetLabelState final_state; /* what the final layer has now */
  float           final_intensity;
} FacetDisagreement;

/* Cells where layers @a and @b (coder names; NULL: final) both have a label
 * and differ in state, or in intensity level when both say present; by
 * video, frame, AU. @video_id 0: all; @au 0: all; @limit 0: all. With
 * @unresolved_only, cells whose final label already equals one of the two
 * are left out. */
GArray     *facet_store_list_disagreements (FacetStore  *store,
                                            const char  *a,
                                            const char  *b,
                                            gint64       video_id,
                                            int          au,
                                            gboolean     unresolved_only,
                                            guint        limit,
                                            GError     **error);

/* ---- Agreement between coders (inter-coder reliability) --------------------- *
 * docs/store.md gives every formula. A "coder" is a layer's name, "final"
 * for the final layer, or "model:ID" (a project model's predictions,
 * thresholded; "model" alone: the latest model). Statistics are NAN where
 * undefined (no frames, or an expected agreement of 1 for kappa). */

/* Pass NULL for the defaults (half-second window, the model's thresholds, all frames). */
typedef struct
{
  int   window;    /* events: onset/offset tolerance in frames; < 0: half a second at each
                    * video's frame rate (rounded half up); 0: onsets must be equal */
  float threshold; /* model "coders": presence threshold in (0, 1); anything else (NAN, 0):
                    * the model's per-AU thresholds */
  gboolean sample_only; /* only frames inside the reliability segments */
} FacetAgreementOptions;

typedef struct
{
  int    au;
  /* Frame level, over frames both coded present or absent (not-codable and
   * unlabelled frames of either coder excluded). */
  gint64 frames;
  gint64 both_present, a_only, b_only, both_absent;
  double agreement;   /* (both_present + both_absent) / frames */
  double kappa;       /* Cohen's kappa; NAN when undefined */
  double prevalence;  /* share of present codes: (2 both_present + a_only + b_only) / (2 frames) */
  double present_a;   /* share of frames A coded present */
  double present_b;
  /* Event level: events are runs of present frames in each layer; an A and a
   * B event match when they overlap or their onsets lie within +-window
   * frames (one to one, in onset order). */
  int    window;      /* the window used (of the first video when it varies) */
  gint64 events_a, events_b;
  gint64 matched;          /* matched pairs */
  gint64 onset_agree;      /* matched pairs with |onset_a - onset_b| <= window */
  gint64 offset_agree;     /* matched pairs with |offset_a - offset_b| <= window */
  double agreement_ratio;  /* 2 matched / (events_a + events_b) (FACS training's ratio) */
  double onset_agreement;  /* onset_agree / matched */
  double offset_agreement; /* offset_agree / matched */
  /* Intensity, over frames both coded present with an intensity on both,
   * as levels 1-5 (A-E). */
  gint64 intensity_frames;
  double weighted_kappa;   /* linear weights 1 - |i - j| / 4 */
  double icc;              /* ICC(3,1): two-way mixed, consistency, single rater */
} FacetAgreement;

/* Per AU (every AU either coder coded), by AU: GArray of FacetAgreement.
 * @video_id 0: all videos, pooled (counts summed, events per video). */
GArray     *facet_store_agreement (FacetStore                  *store,
                                   const char                  *coder_a,
                                   const char                  *coder_b,
                                   gint64                       video_id,
                                   const FacetAgreementOptions *options,
                                   GError                     **error);

/* ---- Reliability sample: segments marked for double coding ------------------ */

typedef struct
{
  double  percent;   /* share of each video's frames to mark, 0 < percent <= 100 */
  double  seconds;   /* segment length */
  guint32 seed;      /* the random generator's seed (the same seed, the same sample) */
  gint64  video_id;  /* 0: every video */
} FacetSampleOptions;

typedef struct
{
  gint64 id;
  gint64 sample_id;  /* the facet_store_sample_reliability call that made it; 0: by hand */
  gint64 video_id;
  gint64 first;      /* frames [first, last] */
  gint64 last;
  char  *subject;
} FacetReliabilitySegment;

void      facet_reliability_segment_free (FacetReliabilitySegment *segment);
/* Picks random, non-overlapping segments of @options->seconds covering at
 * least @options->percent of each video's frames (so of each subject's: the
 * sample is stratified by subject and video), marks them, and returns the
 * sample's id (0 on error). Earlier segments stay; new ones avoid them. */
gint64    facet_store_sample_reliability (FacetStore               *store,
                                          const FacetSampleOptions *options,
                                          GError                  **error);
/* Marks frames [first, last] of a video by hand; returns the segment id. */
gint64    facet_store_mark_reliability   (FacetStore  *store,
                                          gint64       video_id,
                                          gint64       first,
                                          gint64       last,
                                          GError     **error);
/* Removes one segment (@segment_id) or every segment (0). */
gboolean  facet_store_clear_reliability  (FacetStore  *store,
                                          gint64       segment_id,
                                          GError     **error);
/* The marked segments of a video (0: all), by video then frame: GPtrArray of
 * FacetReliabilitySegment. The app's review queue steps through these. */
GPtrArray *facet_store_list_reliability  (FacetStore  *store,
                                          gint64       video_id,
                                          GError     **error);

/* ---- Review queue ---------------------------------------------------------- */

typedef enum
{
  FACET_REVIEW_DISAGREE  = 1 << 0, /* a label the model contradicts */
  FACET_REVIEW_UNCERTAIN = 1 << 1, /* no label, probability near the threshold */
} FacetReviewKind;

typedef struct
{
  gint64          video_id;
  gint64          frame;
  int             au;
  float           prob;
  float           threshold;
  FacetLabelState label;
  FacetReviewKind kind;
  float           score; /* |prob - threshold| */
} FacetReviewItem;

/* Frames to look at next: disagreements first, the most confident model
 * first (largest |p - t|), then unlabelled frames nearest the threshold
 * (smallest |p - t|); ties by video, frame, AU. @video_id 0: all videos;
 * @au 0: all AUs; @threshold NAN: the model's per-AU thresholds. */
GArray   *facet_store_review_queue    (FacetStore      *store,
                                       gint64           model_id,
                                       gint64           video_id,
                                       int              au,
                                       FacetReviewKind  kinds,
                                       float            threshold,
                                       guint            limit,
                                       GError         **error);

/* ---- Imports and exports ---------------------------------------------------- */

typedef enum
{
  FACET_LABEL_FORMAT_CSV,       /* frame,AU01,AU01_i,... (facet-cli synth, labels export) */
  FACET_LABEL_FORMAT_FMAE_JSON, /* FMAE-IAT JSON lines {"img_path": ..., "AUs": [...]} */
  FACET_LABEL_FORMAT_BP4D,      /* BP4D AU_OCC csv: frame + one column per AU number */
  FACET_LABEL_FORMAT_DISFA,     /* DISFA SNxxx_auN.txt "frame,intensity" (file or folder) */
} FacetLabelFormat;

gboolean  facet_label_format_from_string (const char       *text,
                                          FacetLabelFormat *format);

typedef struct
{
  FacetLabelFormat format;
  gint64           video_id;      /* 0: from the file (video column, file or folder names) */
  const int       *au_ids;        /* the AUs the file codes (fmae-json, bp4d); NULL: the data set's */
  int              n_aus;
  int              min_intensity; /* DISFA: intensity at which an AU is present (0: 2) */
} FacetLabelImportOptions;

/* What a parsed label's video_key is. */
typedef enum
{
  FACET_LABEL_KEY_NONE,   /* no key: the file is for one video */
  FACET_LABEL_KEY_NUMBER, /* a video number (the video column of an older Facet's csv) */
  FACET_LABEL_KEY_FILE,   /* a video's file name (csv file column), with video_sha256 when
                           * the file has the content hash */
  FACET_LABEL_KEY_NAME,   /* a folder or subject name (fmae-json, disfa) */
} FacetLabelKeyKind;

/* One parsed label before it is matched to the project. */
typedef struct
{
  const char      *video_key; /* video number or name from the file (owned by the file); NULL:
                               * the whole file's video */
  guint            line;      /* where it came from, for messages */
  gint64           frame;     /* from 0 */
  int              au;
  FacetLabelState  state;
  float            intensity;
  const char      *video_sha256; /* csv: the video's content hash, or NULL */
} FacetParsedLabel;

typedef struct
{
  char             *name;       /* for messages */
  GArray           *labels;     /* FacetParsedLabel */
  GStringChunk     *keys;       /* the video keys */
  FacetLabelKeyKind key_kind;
  int               frame_base; /* the file counts frames from 0 or 1 (for messages) */
} FacetLabelFile;

void            facet_label_file_free  (FacetLabelFile *file);
/* Parses a label file in memory; a malformed one is refused as a whole with
 * the line and column of the first problem. (The fuzz target.) */
FacetLabelFile *facet_label_file_parse (const char                    *data,
                                        gsize                          length,
                                        const char                    *name,
                                        const FacetLabelImportOptions *options,
                                        GError                       **error);
/* Reads, parses and matches a label file to the project's videos and
 * writes everything as one change set, or nothing. Returns the number of
 * labels in the file, -1 on error; @n_changed (may be NULL) is set to the
 * number of labels that differed from the project's (0: nothing changed,
 * no change set). */
gint64    facet_store_import_labels_full (FacetStore                    *store,
                                          const char                    *path,
                                          const FacetLabelImportOptions *options,
                                          gint64                        *n_changed,
                                          GError                       **error);
gint64    facet_store_import_labels   (FacetStore                    *store,
                                       const char                    *path,
                                       const FacetLabelImportOptions *options,
                                       GError                       **error);
/* Writes the labels of one video (or all) in the csv layout, each row
 * naming its video by file name and content hash; importing the file again
 * gives the same labels. */
gboolean  facet_store_export_labels   (FacetStore  *store,
                                       const char  *path,
                                       gint64       video_id,
                                       GError     **error);

typedef enum
{
  FACET_EXPORT_OPENFACE,   /* per frame, OpenFace 2.2's CSV layout */
  FACET_EXPORT_EVENTS,     /* one row per AU event */
  FACET_EXPORT_EAF,        /* ELAN 3.0, one tier per AU */
  FACET_EXPORT_SUMMARY,    /* per video and AU */
  FACET_EXPORT_TIMESERIES, /* per frame, Facet's own columns (probabilities, sources) */
} FacetExportFormat;

gboolean  facet_export_format_from_string (const char        *text,
                                           FacetExportFormat *format);

typedef struct
{
  FacetExportFormat format;
  gint64            model_id;  /* 0: the latest model */
  gint64            video_id;  /* 0: every video */
  float             threshold; /* NAN: the model's per-AU thresholds */
} FacetExportOptions;

/* openface, timeseries and eaf are one file per video: with several videos
 * @path is a folder (made when missing) holding <number>-<name>.csv|.eaf. */
gboolean  facet_store_export          (FacetStore               *store,
                                       const FacetExportOptions *options,
                                       const char               *path,
                                       GError                  **error);

/* ---- Shards ----------------------------------------------------------------- */

/* The shard file name next to the project: PROJECT.shard-I-of-N.facet. */
char       *facet_store_shard_path    (const char  *project_path,
                                       guint        index,
                                       guint        count);
/* Opens or creates the shard @path of this project: same project id,
 * subjects, videos and models; analysis results go there. */
FacetStore *facet_store_open_shard    (FacetStore  *store,
                                       const char  *path,
                                       GError     **error);

typedef struct
{
  gint64 predictions; /* rows new to the project */
  gint64 faces;
  gint64 models;      /* model rows added */
  gint64 runs;
} FacetMergeStats;

/* Folds a shard's analysis results into the project (idempotent): checks
 * the project id and every video's content hash; models are matched by
 * content hash. */
gboolean    facet_store_merge_shard   (FacetStore      *store,
                                       const char      *shard_path,
                                       FacetMergeStats *stats,
                                       GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetStore, facet_store_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetStoreSubject, facet_store_subject_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetStoreVideo, facet_store_video_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetStoreModel, facet_store_model_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetStoreRun, facet_store_run_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetPredictionSet, facet_prediction_set_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetChangeset, facet_changeset_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetLabelFile, facet_label_file_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetReliabilitySegment, facet_reliability_segment_free)

G_END_DECLS
