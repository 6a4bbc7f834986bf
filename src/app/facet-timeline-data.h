/* facet-timeline-data.h — what the timeline draws, prepared ahead of time
 *
 * Plain C without GTK, so that the decimation and the hit-testing can be
 * tested without a display (tests/ui/test-timeline-data.c).
 *
 * The probabilities of every lane (one AU of the model) are kept per frame
 * and in a pyramid of min/max/sum/count blocks of 2^k frames, so that any
 * span of frames is summarised in O(log n) and a redraw costs O(pixels),
 * not O(frames): a 1-hour 30 fps video (108 000 frames) draws as fast as a
 * 10-second one. Label segments and the disagreements between labels and
 * the model are runs of frames; runs narrower than a pixel are merged when
 * they are turned into rectangles.
 */
#pragma once

#include <glib.h>

#include "store/facet-store.h"

G_BEGIN_DECLS

/* Summary of a span of frames of one lane (NAN min/max/mean when n is 0). */
typedef struct
{
  float min;
  float max;
  float mean;
  guint n;
} FacetTimelineSpan;

typedef struct _FacetTimelineData FacetTimelineData;

FacetTimelineData *facet_timeline_data_new            (gint64                   n_frames,
                                                       int                      n_lanes);
void               facet_timeline_data_free           (FacetTimelineData       *data);
gint64             facet_timeline_data_get_n_frames   (const FacetTimelineData *data);
int                facet_timeline_data_get_n_lanes    (const FacetTimelineData *data);

/* Stores the probabilities of @n frames (@values is [n, n_lanes], NAN for
 * a frame analysed without a face) and updates the pyramid above them. */
void               facet_timeline_data_set_values     (FacetTimelineData       *data,
                                                       const gint64            *frames,
                                                       const float             *values,
                                                       gsize                    n);
/* Forgets every probability (another model was chosen). */
void               facet_timeline_data_clear_values   (FacetTimelineData       *data);
/* The lowest frame that has no value yet (n_frames when all have one):
 * where an incremental load during an analysis starts. */
gint64             facet_timeline_data_first_unknown  (const FacetTimelineData *data);
/* Frames that have been analysed (with or without a face). */
gint64             facet_timeline_data_count_known    (const FacetTimelineData *data);
/* The value at @frame: NAN when unknown or without a face. */
float              facet_timeline_data_get_value      (const FacetTimelineData *data,
                                                       int                      lane,
                                                       gint64                   frame);
gboolean           facet_timeline_data_is_known       (const FacetTimelineData *data,
                                                       gint64                   frame);

/* Exact summary of frames [first, end) of @lane. */
void               facet_timeline_data_span           (const FacetTimelineData *data,
                                                       int                      lane,
                                                       gint64                   first,
                                                       gint64                   end,
                                                       FacetTimelineSpan       *out);
/* Cuts frames [first, first + n_buckets * frames_per_bucket) into
 * @n_buckets equal spans and summarises each (frames_per_bucket >= 1;
 * bucket i holds frames floor(first + i * w) up to floor(first + (i+1) * w),
 * spans outside the video are empty). */
void               facet_timeline_data_decimate       (const FacetTimelineData *data,
                                                       int                      lane,
                                                       double                   first,
                                                       double                   frames_per_bucket,
                                                       guint                    n_buckets,
                                                       FacetTimelineSpan       *out);

/* The human labels of a lane as runs of equal state (sorted, disjoint). */
void               facet_timeline_data_set_segments   (FacetTimelineData       *data,
                                                       int                      lane,
                                                       const FacetLabelSegment *segments,
                                                       guint                    n);
const FacetLabelSegment *facet_timeline_data_get_segments (const FacetTimelineData *data,
                                                       int                      lane,
                                                       guint                   *n);
/* The coded intensities of a lane's present labels as runs of equal
 * intensity (sorted, disjoint; state holds the level 1-5, A-E). */
void               facet_timeline_data_set_intensities (FacetTimelineData      *data,
                                                       int                      lane,
                                                       const FacetLabelSegment *runs,
                                                       guint                    n);
const FacetLabelSegment *facet_timeline_data_get_intensities (const FacetTimelineData *data,
                                                       int                      lane,
                                                       guint                   *n);
/* Runs of equal intensity level (1-5) of the present runs among a lane's
 * label @segments (the store splits them by level); a new GArray of
 * FacetLabelSegment whose state is the level. */
GArray            *facet_timeline_intensity_runs      (const FacetLabelSegment *segments,
                                                       guint                    n);
/* Index of the segment holding @frame in @segments, or -1. */
int                facet_timeline_segments_find       (const FacetLabelSegment *segments,
                                                       guint                    n,
                                                       gint64                   frame);

void               facet_timeline_data_set_threshold  (FacetTimelineData       *data,
                                                       int                      lane,
                                                       float                    threshold);
float              facet_timeline_data_get_threshold  (const FacetTimelineData *data,
                                                       int                      lane);
/* Runs of frames where a present or absent label contradicts the model
 * (p < threshold for present, p >= threshold for absent); the state of a
 * run is the label's. Recomputed when values, labels or the threshold
 * changed. */
const FacetLabelSegment *facet_timeline_data_get_disagreements (FacetTimelineData *data,
                                                       int                      lane,
                                                       guint                   *n);

/* Raised whenever a value or a threshold changes (not the labels): what
 * depends on the probabilities alone is kept until it moves. */
guint              facet_timeline_data_get_values_serial (const FacetTimelineData *data);
/* Where two models disagree: runs of frames of @lane at which @a and @b
 * (the same frames and lanes, each with its own thresholds) both have a
 * probability and one is at or above its threshold while the other is
 * below. A run's state is FACET_LABEL_PRESENT where @a says present,
 * FACET_LABEL_ABSENT where @a says absent. Appended to @out (GArray of
 * FacetLabelSegment); returns the number of frames. */
gint64             facet_timeline_data_compare        (const FacetTimelineData *a,
                                                       const FacetTimelineData *b,
                                                       int                      lane,
                                                       GArray                  *out);

/* A run turned into pixels: [x0, x1) inside the plot. */
#define FACET_TIMELINE_STATE_MIXED 255

typedef struct
{
  double x0;
  double x1;
  int    state; /* FacetLabelState, or FACET_TIMELINE_STATE_MIXED for merged runs */
} FacetTimelineRect;

/* The runs visible in frames [first, first + width * frames_per_px) as
 * rectangles from x 0 to @width; runs that share a pixel column are merged
 * (a mixed state when they differ), so at most about @width rectangles are
 * appended to @out (GArray of FacetTimelineRect). Returns how many. */
guint              facet_timeline_segments_to_rects   (const FacetLabelSegment *segments,
                                                       guint                    n,
                                                       double                   first,
                                                       double                   frames_per_px,
                                                       double                   width,
                                                       GArray                  *out);

/* ---- Geometry and hit-testing --------------------------------------------- */

typedef enum
{
  FACET_TIMELINE_AREA_NONE,
  FACET_TIMELINE_AREA_RULER,  /* the time ruler above the lanes */
  FACET_TIMELINE_AREA_LABEL,  /* the AU names left of the lanes */
  FACET_TIMELINE_AREA_LANE,   /* a lane's plot */
} FacetTimelineArea;

typedef struct
{
  double width;         /* the widget */
  double height;
  double label_width;   /* column of AU names */
  double ruler_height;  /* time ruler at the top */
  double lane_height;
  double scroll_y;      /* lanes scrolled up by this many pixels */
  double first;         /* frame at the plot's left edge (fractional) */
  double frames_per_px; /* zoom */
  int    n_lanes;
  gint64 n_frames;
} FacetTimelineLayout;

typedef struct
{
  FacetTimelineArea area;
  int               lane;  /* -1 outside the lanes */
  gint64            frame; /* under x, clamped to the video; -1 without frames */
} FacetTimelineHit;

/* The largest zoom: 16 pixels per frame (or the whole video when it is
 * shorter than the view at that zoom). */
#define FACET_TIMELINE_MAX_PX_PER_FRAME 16.0

double   facet_timeline_layout_plot_width  (const FacetTimelineLayout *layout);
double   facet_timeline_layout_frame_to_x  (const FacetTimelineLayout *layout,
                                            double                     frame);
double   facet_timeline_layout_x_to_frame  (const FacetTimelineLayout *layout,
                                            double                     x);
/* Top of @lane in widget coordinates. */
double   facet_timeline_layout_lane_y      (const FacetTimelineLayout *layout,
                                            int                        lane);
void     facet_timeline_layout_hit         (const FacetTimelineLayout *layout,
                                            double                     x,
                                            double                     y,
                                            FacetTimelineHit          *hit);
/* Keeps the zoom and the scroll position inside the video. */
void     facet_timeline_layout_clamp       (FacetTimelineLayout       *layout);
/* Shows the whole video. */
void     facet_timeline_layout_fit         (FacetTimelineLayout       *layout);
/* Zooms by @factor (> 1: in) keeping the frame under @anchor_x in place. */
void     facet_timeline_layout_zoom        (FacetTimelineLayout       *layout,
                                            double                     factor,
                                            double                     anchor_x);
/* Scrolls so that @frame is visible, paging when it left the view;
 * returns TRUE when the view moved. */
gboolean facet_timeline_layout_follow      (FacetTimelineLayout       *layout,
                                            gint64                     frame);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetTimelineData, facet_timeline_data_free)

G_END_DECLS
