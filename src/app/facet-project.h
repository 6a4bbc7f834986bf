/* facet-project.h — an open project as the app sees it
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "store/facet-store.h"

G_BEGIN_DECLS

/* Work on the project file never runs on the main loop: it goes to one of
 * two worker threads, each with its own SQLite connection, in order. */
typedef enum
{
  FACET_PROJECT_QUEUE_EDIT, /* label edits, undo, small reads for the frame shown: in order */
  FACET_PROJECT_QUEUE_LOAD, /* bulk reads: timeline lanes, sidebar statistics, exports */
} FacetProjectQueue;

/* Runs in the queue's thread with the queue's connection; returns the
 * result (freed with the result_free given to facet_project_run), or NULL
 * with @error set. */
typedef gpointer (*FacetProjectJob) (FacetStore   *store,
                                     gpointer      data,
                                     GCancellable *cancellable,
                                     GError      **error);

/* What a frame looks like in the project. */
typedef struct
{
  gint64            video_id;
  gint64            frame;
  gint64            model_id;
  gboolean          analysed;  /* the model has seen this frame */
  gboolean          has_face;
  FacetFrameResult  face;      /* valid when analysed (face.probs is NULL) */
  int               n_aus;
  float            *probs;     /* n_aus of the model; NAN without a face or analysis */
  GArray           *labels;    /* FacetLabel of this frame, by AU */
} FacetFrameState;

void facet_frame_state_free (FacetFrameState *state);
/* The label of @au in @state (state UNSET when none). */
const FacetLabel *facet_frame_state_find_label (const FacetFrameState *state,
                                                int                    au);

#define FACET_TYPE_PROJECT (facet_project_get_type ())

G_DECLARE_FINAL_TYPE (FacetProject, facet_project, FACET, PROJECT, GObject)

void             facet_project_open_async      (const char          *path,
                                                gboolean             create,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
FacetProject    *facet_project_open_finish     (GAsyncResult        *result,
                                                GError             **error);

const char      *facet_project_get_path        (FacetProject        *self);
const char      *facet_project_get_title       (FacetProject        *self);

void             facet_project_run             (FacetProject        *self,
                                                FacetProjectQueue    queue,
                                                FacetProjectJob      job,
                                                gpointer             data,
                                                GDestroyNotify       data_free,
                                                GDestroyNotify       result_free,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gpointer         facet_project_run_finish      (FacetProject        *self,
                                                GAsyncResult        *result,
                                                GError             **error);

/* Videos and models as last read (refreshed when the project changes). */
GPtrArray       *facet_project_get_videos      (FacetProject        *self);
FacetStoreVideo *facet_project_get_video       (FacetProject        *self,
                                                gint64               video_id);
GPtrArray       *facet_project_get_models      (FacetProject        *self);
FacetStoreModel *facet_project_find_model      (FacetProject        *self,
                                                gint64               model_id);

/* The lab's coding scheme as last read (ascending; NULL and 0: none, the
 * model's AUs are the scheme). */
const int       *facet_project_get_scheme      (FacetProject        *self,
                                                int                 *n_aus);

/* The model whose predictions are shown (0: none yet). */
gint64           facet_project_get_model_id    (FacetProject        *self);
void             facet_project_set_model_id    (FacetProject        *self,
                                                gint64               model_id);
FacetStoreModel *facet_project_get_model       (FacetProject        *self);
/* The decision threshold of the current model's @au_index-th AU: the
 * common threshold when one is set, else the model's own. */
float            facet_project_get_threshold   (FacetProject        *self,
                                                int                  au_index);
/* NAN: the model's per-AU thresholds. */
void             facet_project_set_common_threshold (FacetProject   *self,
                                                double               threshold);

const char      *facet_project_get_coder       (FacetProject        *self);
/* NULL or "": $FACET_CODER, else the login name. */
void             facet_project_set_coder       (FacetProject        *self,
                                                const char          *coder);

/* The layer of labels read and written (NULL: the final layer; a coder's
 * name: that coder's own layer, for independent coding). */
const char      *facet_project_get_layer       (FacetProject        *self);
void             facet_project_set_layer       (FacetProject        *self,
                                                const char          *layer);

/* Reads the videos and models again (emits ::videos-changed, ::models-changed). */
void             facet_project_reload          (FacetProject        *self);
/* Looks for changes by other connections (the analysis, other processes)
 * and emits ::changed for what moved. */
void             facet_project_poll            (FacetProject        *self);

/* Common jobs. */
void             facet_project_load_frame_async (FacetProject       *self,
                                                gint64               video_id,
                                                gint64               frame,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
FacetFrameState *facet_project_load_frame_finish (FacetProject      *self,
                                                GAsyncResult        *result,
                                                GError             **error);
/* The coders' layers (facet_store_list_layers), read on the load queue. */
void             facet_project_list_layers_async (FacetProject      *self,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
GStrv            facet_project_list_layers_finish (FacetProject     *self,
                                                GAsyncResult        *result,
                                                GError             **error);
/* Sets [first, last] of @au (UNSET clears) as one undo step of the coder;
 * the result is the change set id (0 when nothing changed). */
void             facet_project_set_labels_async (FacetProject       *self,
                                                gint64               video_id,
                                                gint64               first,
                                                gint64               last,
                                                int                  au,
                                                FacetLabelState      state,
                                                FacetLabelSource     source,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
/* Any set of label writes as one change set (accepting predictions). */
void             facet_project_write_labels_async (FacetProject     *self,
                                                const FacetLabel    *labels,
                                                guint                n,
                                                const char          *description,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gint64           facet_project_edit_finish     (FacetProject        *self,
                                                GAsyncResult        *result,
                                                GError             **error);
/* Undo (@redo FALSE) or redo of the coder's last change set. */
void             facet_project_undo_async      (FacetProject        *self,
                                                gboolean             redo,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
/* The change set undone or redone (its n_changes and description; id: the
 * new undo/redo step), NULL with FACET_STORE_ERROR_NOTHING when there was
 * nothing to do. */
FacetChangeset  *facet_project_undo_finish     (FacetProject        *self,
                                                GAsyncResult        *result,
                                                GError             **error);

G_END_DECLS
