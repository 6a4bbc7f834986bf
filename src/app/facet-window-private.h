/* facet-window-private.h — shared by facet-window*.c
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "facet-analysis.h"
#include "facet-explainer.h"
#include "facet-reload.h"
#include "facet-sidebar.h"
#include "facet-window.h"

G_BEGIN_DECLS

/* The run of frames "next to check" landed in. */
typedef struct
{
  FacetReviewItem item;   /* at the apex; video_id 0: none */
  gint64          first;
  gint64          last;
  gint64          apex;
} FacetReviewEvent;

struct _FacetWindow
{
  AdwApplicationWindow  parent_instance;

  /* Template */
  AdwHeaderBar         *header_bar;
  AdwWindowTitle       *window_title;
  GtkToggleButton      *sidebar_button;
  GtkButton            *add_button;
  GtkMenuButton        *analysis_button;
  GtkSpinner           *analysis_spinner;
  GtkLabel             *analysis_percent;
  GtkProgressBar       *analysis_progress;
  GtkLabel             *analysis_label;
  GtkButton            *analyse_button;
  GtkWidget            *undo_box;
  AdwToastOverlay      *toast_overlay;
  GtkStack             *main_stack;
  AdwStatusPage        *start_page;
  GtkButton            *demo_button;
  GtkWidget            *recent_group;
  GtkListBox           *recent_list;
  AdwStatusPage        *loading_page;
  GtkProgressBar       *loading_progress;
  AdwFlap              *flap;
  FacetSidebar         *sidebar;
  GtkStack             *content_stack;
  AdwStatusPage        *empty_page;
  GtkPaned             *main_paned;
  GtkPaned             *top_paned;
  GtkWidget            *overlay_bar;
  GtkToggleButton      *box_toggle;
  GtkToggleButton      *landmarks_toggle;
  GtkToggleButton      *heatmap_toggle;
  GtkDropDown          *heatmap_source;
  GtkScale             *opacity_scale;
  GtkAdjustment        *opacity_adjustment;
  GtkButton            *review_button;
  FacetFrameView       *frame_view;
  FacetTransport       *transport;
  FacetAuPanel         *au_panel;
  FacetTimeline        *timeline;
  GtkLabel             *timeline_hint;
  GtkScrollbar         *timeline_vscroll;
  GtkScrollbar         *timeline_hscroll;

  /* State */
  GSettings            *settings;
  FacetProject         *project;
  GCancellable         *open_cancellable;  /* opening a project or building the demo */
  gboolean              analyse_on_open;
  FacetPlayer          *player;
  FacetExplainer       *explainer;
  FacetAnalysis        *analysis;
  gboolean              analysis_unasked;  /* started on opening, not by the coder */
  guint                 poll_source;

  gint64                video_id;
  FacetCropKind         video_crop;
  gint64                pending_frame;     /* where to go once the video is open; -1: none */
  gint64                model_id;          /* of the AU list shown */
  int                  *au_ids;
  int                   n_aus;
  float                *thresholds;
  char                 *model_path;

  FacetFrameState      *frame_state;       /* of the current frame once loaded */
  FacetReload          *frame_reload;      /* the frame's labels and face */
  FacetReload          *probs_reload;      /* the timeline's curves; invalidated with the video */
  FacetReload          *lanes_reload;      /* the timeline's label strips; likewise */
  guint                 edits_in_flight;

  gint64                explained_frame;   /* the frame the explainer was asked about */
  gboolean              explaining;

  gint64                in_point;          /* range start set with I, -1: none */
  GHashTable           *review_seen;       /* "video:frame:au" shown by "next to check" */
  gboolean              review_running;
  FacetReviewEvent      review_event;
  char                 *last_toast;
  gboolean              typing_au;         /* U was pressed: digits name an AU */
  GString              *au_typed;

  /* Coding scheme, marked events and notes (facet-window-marks.c) */
  int                  *au_model;          /* per AU shown: its output in the model, -1: by hand */
  char                 *aus_signature;     /* model, thresholds and scheme the list was built from */
  GArray               *events;            /* FacetStoreEvent of the video shown */
  GPtrArray            *notes;             /* FacetStoreNote of the video shown */
  FacetReload          *marks_reload;      /* events and notes of the video shown */
  gint64                event_onset;       /* of the event being marked, -1: none */
  gint64                event_apex;
  int                   event_au;
  /* facet-window-coding.c: intensity, coders, blind mode */
  GtkMenuButton        *coder_button;
  AdwEntryRow          *coder_entry;
  GtkSwitch            *independent_switch;
  gboolean              blind;
  gboolean              intensity_armed;   /* 1 was pressed: A-E set the intensity */
  gint64                intensity_first;
  gint64                intensity_last;
  int                   intensity_au;
  gint64                intensity_time;
  gint64                sample_video;      /* the reliability segment N last went to */
  gint64                sample_first;
  gint64                sample_last;
  /* facet-window-compare.c: a second model's curves in the timeline */
  GtkMenuButton        *compare_button;
  GtkWidget            *compare_bar;
  GtkLabel             *compare_first;
  GtkLabel             *compare_second;
  GtkLabel             *compare_summary;
  GtkButton            *compare_analyse;
  GSimpleAction        *compare_action;    /* compare.model (int64 model id, 0: none) */
  gint64                compare_model_id;  /* chosen (remembered per project), 0: none */
  FacetReload          *compare_reload;    /* its predictions, every model's analysed frames */
  GArray               *compare_counts;    /* gint64 pairs: model id, frames of the video */
};

/* facet-window.c */
void     facet_window_reload_frame_state  (FacetWindow   *self);
void     facet_window_reload_lanes        (FacetWindow   *self);
void     facet_window_reload_predictions  (FacetWindow   *self);
void     facet_window_update_actions      (FacetWindow   *self);
void     facet_window_update_heatmap      (FacetWindow   *self);
/* Analyses @video_id (0: every video) with @model_id in the background. */
void     facet_window_start_analysis      (FacetWindow   *self,
                                           gint64         model_id,
                                           gint64         video_id);
void     facet_window_add_recent          (FacetWindow   *self,
                                           const char    *path);
char    *facet_window_dup_backend         (FacetWindow   *self);

/* facet-window-actions.c */
void     facet_window_class_init_actions  (GtkWidgetClass *widget_class);
void     facet_window_init_shortcuts      (FacetWindow    *self);
/* Sets @state for the selected AU at the current frame, or in the range
 * marked on the timeline. */
void     facet_window_set_label           (FacetWindow    *self,
                                           FacetLabelState state);

/* The answer to every label edit (keys, panel, ranges, accepting): one
 * edit less in flight, and a dialog when it was not written. */
void     facet_window_edit_done           (GObject        *object,
                                           GAsyncResult   *result,
                                           gpointer        user_data);

/* Whether the focus wants plain keys for itself (a field; @lists_too: a list). */
gboolean facet_window_focus_takes_keys    (FacetWindow    *self,
                                           gboolean        lists_too);
/* Builds the AU list, panel and timeline again for the current model. */
void     facet_window_rebuild_model       (FacetWindow    *self);

/* facet-window-marks.c */
void     facet_window_class_init_marks    (GtkWidgetClass *widget_class);
void     facet_window_init_marks          (FacetWindow    *self);
void     facet_window_update_marks_actions (FacetWindow   *self);
/* The AU list for @m (NULL: none) and the project's scheme. */
void     facet_window_scheme_set_aus      (FacetWindow           *self,
                                           const FacetStoreModel *m);
void     facet_window_scheme_models_changed (FacetWindow  *self);
int      facet_window_scheme_model_index  (FacetWindow    *self,
                                           int             index);
gboolean facet_window_scheme_is_hand_coded (FacetWindow   *self,
                                           int             index);
/* Model order -> list order (NAN for the AUs coded by hand). */
void     facet_window_scheme_remap_frame  (FacetWindow        *self,
                                           FacetFrameState    *state);
void     facet_window_scheme_remap_set    (FacetWindow        *self,
                                           FacetPredictionSet *set);
/* After a new timeline: hand-coded lanes and rows, the marks reloaded. */
void     facet_window_scheme_after_reset  (FacetWindow    *self);
void     facet_window_reload_marks        (FacetWindow    *self);

/* facet-window-coding.c */
void     facet_window_class_init_coding   (GtkWidgetClass *widget_class);
void     facet_window_init_coding         (FacetWindow    *self);
void     facet_window_update_coding_actions (FacetWindow  *self);
/* A project was opened (or closed): its coder, layer and modes. */
void     facet_window_coding_watch_project (FacetWindow   *self);
void     facet_window_coding_project_changed (FacetWindow *self);
/* After 1 (present): A-E set the intensity of these frames for a moment. */
void     facet_window_arm_intensity       (FacetWindow    *self,
                                           gint64          first,
                                           gint64          last,
                                           int             au);
/* The layer the coder reads and writes: theirs when coding independently. */
void     facet_window_apply_layer         (FacetWindow    *self);
gboolean facet_window_get_independent     (FacetWindow    *self);
gboolean facet_window_get_blind           (FacetWindow    *self);
/* N while coding blind or with "review-sample" on: the next segment of
 * the reliability sample. FALSE: not in that mode (the model's queue). */
gboolean facet_window_review_sample_next  (FacetWindow    *self);

/* facet-window-compare.c */
void     facet_window_class_init_compare  (GtkWidgetClass *widget_class);
void     facet_window_init_compare        (FacetWindow    *self);
/* A new timeline or other thresholds: the second model's lanes made again
 * and loaded. */
void     facet_window_compare_reset       (FacetWindow    *self);
/* Predictions or models changed: what the second model lacks is loaded. */
void     facet_window_compare_reload      (FacetWindow    *self);
/* The AU panel's second probabilities for the frame now shown. */
void     facet_window_compare_frame_changed (FacetWindow  *self);
/* The bar's figures after the shown model's curves changed. */
void     facet_window_compare_update      (FacetWindow    *self);
/* A project was opened (or closed): its remembered choice. */
void     facet_window_compare_watch_project (FacetWindow  *self);
/* Analyses @video_id with @model_id without showing that model. */
void     facet_window_start_compare_analysis (FacetWindow *self,
                                           gint64         model_id,
                                           gint64         video_id);

/* facet-window-dnd.c */
void     facet_window_init_dnd            (FacetWindow    *self);

G_END_DECLS
