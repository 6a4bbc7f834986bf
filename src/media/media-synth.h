/* media-synth.h — synthetic face videos: cartoon-like but anatomically
 * placed faces drawn with Cairo, driven by FACS action unit intensities,
 * for Facet's own tests, demo project and demo model.
 *
 * Frames are already in crop convention "none": the face fills the frame
 * the way an aligned model crop would (eyes near (0.33, 0.40) and (0.67,
 * 0.40), mouth near y = 0.74). Everything is deterministic: the same subject
 * seed, timeline seed and frame index give the same pixels on every run
 * (FacetRng streams, no clocks, no threads while drawing).
 */
#pragma once

#include <gio/gio.h>

#include "core/facet-core.h"

G_BEGIN_DECLS

/* The action units the generator draws, in label-file order. */
#define FACET_SYNTH_N_AUS 11

/* An AU is labelled present when its intensity is at least this. */
#define FACET_SYNTH_PRESENCE_THRESHOLD 0.25f

const int *facet_synth_aus         (int *n_aus);
/* Index of FACS number @au in facet_synth_aus (), -1 when not drawn. */
int        facet_synth_au_index    (int  au);

/* Regions of the face, for the region masks (bit flags). */
typedef enum
{
  FACET_SYNTH_REGION_BROWS  = 1 << 0, /* brows, forehead, glabella, upper lids up to the crease */
  FACET_SYNTH_REGION_EYES   = 1 << 1, /* eyes, lids and the outer corners (crow's feet) */
  FACET_SYNTH_REGION_CHEEKS = 1 << 2, /* below the eyes, beside nose and mouth */
  FACET_SYNTH_REGION_NOSE   = 1 << 3, /* bridge, tip, wings and nostrils */
  FACET_SYNTH_REGION_MOUTH  = 1 << 4, /* lips, corners, philtrum, mouth opening */
  FACET_SYNTH_REGION_CHIN   = 1 << 5, /* below the lower lip: chin boss and jaw line */
} FacetSynthRegion;

/* The region(s) where FACS places the appearance changes of @au. */
guint      facet_synth_au_regions  (int  au);

/* Head pose, lighting and sensor state of one frame. Angles in radians;
 * shifts as fractions of the frame side. */
typedef struct
{
  float   yaw;            /* turn left/right (features shift, far side narrows) */
  float   pitch;          /* nod (features shift vertically) */
  float   roll;           /* in-plane tilt */
  float   dx, dy;         /* translation */
  float   scale;          /* 1: the face fills the frame as a crop would */
  float   gaze_x, gaze_y; /* iris offset, fraction of the eye's half width */
  float   brightness;     /* multiplies the image; 1: as drawn */
  float   light_angle;    /* direction the light comes from */
  float   light_strength; /* 0..1: how much darker the far side is */
  float   noise;          /* sensor noise, standard deviation in 8-bit levels */
  guint64 noise_seed;
  float   tint[3];        /* colour of the light: gain of red, green, blue; 1: white */
  float   blur;           /* optical blur: Gaussian sigma in pixels; 0: sharp */
} FacetSynthPose;

/* A frontal, evenly lit, noise-free pose. */
void       facet_synth_pose_init   (FacetSynthPose *pose);

/* A subject: identity (face shape, skin, eyes, nose, mouth, brows, hair,
 * glasses, beard, background) and AU base rates, all from one seed. */
typedef struct _FacetSynthSubject FacetSynthSubject;

/* Populations of identities: the default one (the demo model's training
 * material) and one unlike it (wider faces, eyes set wider and lower,
 * heavier brows, wider mouths, glasses and beards far more often, dark
 * saturated backgrounds). */
typedef enum
{
  FACET_SYNTH_POPULATION_DEFAULT = 0,
  FACET_SYNTH_POPULATION_OTHER   = 1,
} FacetSynthPopulation;

FacetSynthSubject *facet_synth_subject_new   (guint64                  seed);
/* facet_synth_subject_new () for @population; DEFAULT gives the same
 * identity as facet_synth_subject_new (@seed). */
FacetSynthSubject *facet_synth_subject_new_in (guint64                 seed,
                                               FacetSynthPopulation    population);
FacetSynthSubject *facet_synth_subject_ref   (FacetSynthSubject       *subject);
void               facet_synth_subject_unref (FacetSynthSubject       *subject);
guint64            facet_synth_subject_get_seed (const FacetSynthSubject *subject);
/* A short description of the identity, e.g. "light skin, long brown hair,
 * glasses" (for logs and documentation). */
char              *facet_synth_subject_describe (const FacetSynthSubject *subject);
/* The skin tone the identity was drawn with: 0 the lightest .. 1 the
 * darkest the generator makes (for measuring detection by skin tone). */
double             facet_synth_subject_get_skin_tone (const FacetSynthSubject *subject);

/* AU base rates: the fraction of frames in which the AU is expected to be
 * present. Changing them per subject builds the identity shortcuts that
 * identity-adversarial training is meant to remove. */
float              facet_synth_subject_get_base_rate (const FacetSynthSubject *subject,
                                                      int                      au);
gboolean           facet_synth_subject_set_base_rate (FacetSynthSubject       *subject,
                                                      int                      au,
                                                      float                    rate,
                                                      GError                 **error);
/* A bias profile from the subject seed: two AUs of this subject become
 * frequent (rate 0.45-0.65) and one rare (a tenth of its default). */
void               facet_synth_subject_apply_bias_profile (FacetSynthSubject *subject);

/* Draws one frame: @au holds FACET_SYNTH_N_AUS intensities in 0..1 in the
 * order of facet_synth_aus () (NULL: neutral), @pose may be NULL (neutral).
 * Returns a @size x @size image. */
FacetImage        *facet_synth_render        (const FacetSynthSubject *subject,
                                              const float             *au,
                                              const FacetSynthPose    *pose,
                                              int                      size);

/* A @size x @size mask (255 inside, 0 outside) of @regions (FacetSynthRegion
 * flags) of @subject in the neutral pose, the same geometry as drawn. */
FacetImage        *facet_synth_region_mask   (const FacetSynthSubject *subject,
                                              guint                    regions,
                                              int                      size);

/* The regions as boxes in a frame drawn with @pose (NULL: neutral):
 * brows, left eye, right eye, left cheek, right cheek, nose, mouth, chin,
 * those of @regions in this order. Each box is x0, y0, x1, y1 in fractions
 * of the frame side, the bounding box of the region's rectangle after head
 * turn, nod, roll, scale and shift. @kinds (may be NULL) gets each box's
 * FacetSynthRegion. Returns the number of boxes. */
#define FACET_SYNTH_N_REGION_BOXES 8
int                facet_synth_region_boxes  (const FacetSynthSubject *subject,
                                              const FacetSynthPose    *pose,
                                              guint                    regions,
                                              float                    boxes[][4],
                                              guint                   *kinds);

/* AU events over time (onset, apex, offset with smooth ramps; co-occurring
 * patterns such as 6+12, 1+2+25+26, 4+9, 1+4+15), blinks, head motion with
 * occasional nods, lighting drift and sensor noise for @n_frames frames. */
typedef struct _FacetSynthTimeline FacetSynthTimeline;

/* How AU events are drawn: in co-occurring patterns (the default), or each
 * AU in events of its own, independent of the others (decorrelated
 * material: AUs meet only by chance, at the product of their rates). */
typedef enum
{
  FACET_SYNTH_EVENTS_PATTERNS,
  FACET_SYNTH_EVENTS_INDEPENDENT,
} FacetSynthEvents;

FacetSynthTimeline *facet_synth_timeline_new     (const FacetSynthSubject *subject,
                                                  guint64                  seed,
                                                  gint64                   n_frames,
                                                  double                   fps);
FacetSynthTimeline *facet_synth_timeline_new_full (const FacetSynthSubject *subject,
                                                   guint64                  seed,
                                                   gint64                   n_frames,
                                                   double                   fps,
                                                   FacetSynthEvents         events);
void                facet_synth_timeline_free    (FacetSynthTimeline      *timeline);
gint64              facet_synth_timeline_get_n_frames (const FacetSynthTimeline *timeline);
double              facet_synth_timeline_get_fps (const FacetSynthTimeline *timeline);
/* Intensities (rounded to the four decimals the label file holds, so that
 * what is drawn is exactly what is labelled) and pose of frame @frame. */
void                facet_synth_timeline_get     (const FacetSynthTimeline *timeline,
                                                  gint64                    frame,
                                                  float                     au[FACET_SYNTH_N_AUS],
                                                  FacetSynthPose           *pose);
/* Recording conditions: what a lab's camera and room do differently from
 * the material a model was trained on. Applied to every frame's pose by
 * facet_synth_timeline_get () once set on a timeline; the random streams
 * (events, motion, noise) are unchanged, so a condition changes how the
 * same recording looks, not what the face does. The defaults
 * (facet_synth_condition_init) change nothing: frames stay bit for bit. */
typedef struct
{
  float light_colour[3]; /* gain of red, green, blue: {1, 1, 1} white (default) */
  float light_strength;  /* < 0: the recording's drifting light (default); 0..0.8: a fixed
                          * light from light_angle, the far side darker by this much */
  float light_angle;     /* radians, with light_strength >= 0 (0: from the right) */
  float distance;        /* camera distance: 1 (default) the face fills the frame; 2: half as large */
  float camera_yaw;      /* camera off to the side (radians, added to the head's yaw); 0 */
  float camera_pitch;    /* camera above (< 0) or below (> 0) the face (radians); 0 */
  float pose_range;      /* head motion (yaw, pitch, roll) times this; 1 */
  float blur;            /* optical blur, Gaussian sigma in pixels of the frame; 0 */
  int   quality;         /* compression: h264 CRF 1-51 / mjpeg qscale 1-31; 0: the codec's default */
} FacetSynthCondition;

void                facet_synth_condition_init   (FacetSynthCondition      *condition);
/* Whether @condition is the default one (changes nothing). */
gboolean            facet_synth_condition_is_default (const FacetSynthCondition *condition);
/* Checks the ranges; FALSE with an error naming the field. */
gboolean            facet_synth_condition_check  (const FacetSynthCondition *condition,
                                                  GError                   **error);
void                facet_synth_timeline_set_condition (FacetSynthTimeline      *timeline,
                                                  const FacetSynthCondition *condition);
const FacetSynthCondition *facet_synth_timeline_get_condition (const FacetSynthTimeline *timeline);

/* The label file: header "frame,AU01,AU01_i,AU02,AU02_i,...", then one row
 * per frame. See docs/synth.md. */
char               *facet_synth_timeline_labels  (const FacetSynthTimeline *timeline);
gboolean            facet_synth_timeline_write_labels (const FacetSynthTimeline *timeline,
                                                  const char               *path,
                                                  GError                  **error);

/* "OUT.mkv" -> "OUT.labels.csv" (the extension replaced). */
char               *facet_synth_labels_path      (const char              *video_path);

/* "OUT.mkv" -> "OUT.regions.csv": where each AU acts, per frame. */
char               *facet_synth_regions_path     (const char              *video_path);
/* The regions file: "# AU01: brows" lines naming each AU's boxes, the
 * header "frame,brows_x0,brows_y0,brows_x1,brows_y1,eye_left_x0,...", then
 * one row per frame with the boxes of facet_synth_region_boxes () under
 * that frame's pose. See docs/synth.md. */
char               *facet_synth_timeline_regions (const FacetSynthSubject  *subject,
                                                  const FacetSynthTimeline *timeline);
gboolean            facet_synth_write_regions    (const FacetSynthSubject  *subject,
                                                  const FacetSynthTimeline *timeline,
                                                  const char               *path,
                                                  GError                  **error);

/* Renders every frame of @timeline at @size and encodes it to @path with
 * @codec ("ffv1", "h264", "mjpeg"; NULL: h264; at the quality of the
 * timeline's condition), then writes the labels and
 * the AU regions next to it (facet_synth_labels_path, _regions_path). @progress (may be NULL) is called about
 * once a second of video; @cancellable stops between frames. */
gboolean            facet_synth_write_video      (const FacetSynthSubject  *subject,
                                                  const FacetSynthTimeline *timeline,
                                                  const char               *path,
                                                  int                       size,
                                                  const char               *codec,
                                                  FacetProgressFunc         progress,
                                                  gpointer                  progress_data,
                                                  GCancellable             *cancellable,
                                                  GError                  **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetSynthSubject, facet_synth_subject_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FacetSynthTimeline, facet_synth_timeline_free)

G_END_DECLS
