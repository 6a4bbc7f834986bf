/* face-tracker.c — one person through consecutive frames
 *
 * Each frame is detected afresh (dlib's HOG detector is fast enough) and the
 * person is recognised by where they were: the face that overlaps the
 * previous frame's box most. A person who is briefly not detected keeps
 * their place for a while, so that a neighbour is not picked up instead;
 * only after MAX_LOST_FRAMES without them does the tracker start over with
 * the largest face.
 */
#define G_LOG_DOMAIN "facet-face"

#include "config.h"

#include <math.h>
#include <string.h>

#include "facet-face.h"

#define DEFAULT_MIN_SIZE 40.0f
#define MAX_LOST_FRAMES  15
/* Below this overlap a face is only the same person when its centre is
 * close (a fast move leaves little overlap between two frames). */
#define MIN_IOU          0.2
#define MAX_CENTRE_SHIFT 0.5 /* of the previous box width */
/* While the person is followed, the detector first looks only around
 * their last box (this many box widths on each side, at least ROI_MIN_SIDE
 * pixels in all): several times faster than the whole frame. */
#define ROI_MARGIN       1.0
#define ROI_MIN_SIDE     240
/* A face too faint for the detector on its own (dlib scores darker skin
 * lower) still counts near the person's last box: from this score, when
 * it overlaps that box by at least FAINT_MIN_IOU. The frame before is the
 * check that a threshold alone cannot make (docs/faces.md). */
#define FAINT_MIN_SCORE  -0.5
#define FAINT_MIN_IOU    0.5
/* ... for at most this many frames in a row: a texture that happens to
 * score at the place where a person left must not be followed for long. */
#define MAX_FAINT_FRAMES 60

struct _FacetFaceTracker
{
  FacetFaceDetector *detector; /* not owned */
  FacetCropSpec      crop;
  FacetFaceSmoother *smoother;
  float              min_size;

  gboolean           tracking;
  FacetFace          last;     /* the person's last detection (unsmoothed) */
  int                lost;     /* frames since the person was last seen */
  int                faint;    /* frames in a row followed on faint faces only */

  gboolean           select_pending;
  float              select_x, select_y;
};

/**
 * facet_face_tracker_new:
 * @detector: used for every frame; must outlive the tracker
 * @crop: the model's crop convention and input size (copied)
 */
FacetFaceTracker *
facet_face_tracker_new (FacetFaceDetector *detector,
                        FacetCropSpec      crop)
{
  FacetFaceTracker *tracker;

  g_return_val_if_fail (detector != NULL && crop.size > 0, NULL);

  tracker = g_new0 (FacetFaceTracker, 1);
  tracker->detector = detector;
  tracker->crop = crop;
  tracker->smoother = facet_face_smoother_new (0.0, 0.0);
  tracker->min_size = DEFAULT_MIN_SIZE;
  return tracker;
}

void
facet_face_tracker_free (FacetFaceTracker *tracker)
{
  if (tracker == NULL)
    return;
  facet_face_smoother_free (tracker->smoother);
  g_free (tracker);
}

void
facet_face_tracker_set_min_size (FacetFaceTracker *tracker,
                                 float             min_size)
{
  g_return_if_fail (tracker != NULL);
  g_return_if_fail (min_size >= 0.0f);
  tracker->min_size = min_size;
}

void
facet_face_tracker_select (FacetFaceTracker *tracker,
                           float             x,
                           float             y)
{
  g_return_if_fail (tracker != NULL);
  tracker->select_pending = TRUE;
  tracker->select_x = x;
  tracker->select_y = y;
}

void
facet_face_tracker_reset (FacetFaceTracker *tracker)
{
  g_return_if_fail (tracker != NULL);
  tracker->tracking = FALSE;
  tracker->lost = 0;
  tracker->faint = 0;
  tracker->select_pending = FALSE;
  facet_face_smoother_reset (tracker->smoother);
}

static double
box_iou (const FacetFace *a,
         const FacetFace *b)
{
  double x0 = MAX (a->x, b->x), y0 = MAX (a->y, b->y);
  double x1 = MIN (a->x + a->width, b->x + b->width);
  double y1 = MIN (a->y + a->height, b->y + b->height);
  double inter = MAX (x1 - x0, 0.0) * MAX (y1 - y0, 0.0);
  double uni = (double) a->width * a->height + (double) b->width * b->height - inter;

  return uni > 0.0 ? inter / uni : 0.0;
}

static double
centre_distance (const FacetFace *face,
                 double           x,
                 double           y)
{
  return hypot (face->x + face->width / 2.0 - x, face->y + face->height / 2.0 - y);
}

/* The face at a chosen point: one whose box contains it (the nearest centre
 * among several), else the nearest centre within a box width. -1: none. */
static int
find_at_point (GArray *faces,
               float   x,
               float   y)
{
  int best = -1;
  double best_distance = G_MAXDOUBLE;
  gboolean best_inside = FALSE;

  for (guint i = 0; i < faces->len; i++)
    {
      const FacetFace *f = &g_array_index (faces, FacetFace, i);
      gboolean inside = x >= f->x && x <= f->x + f->width && y >= f->y && y <= f->y + f->height;
      double d = centre_distance (f, x, y);

      if (!inside && d > f->width)
        continue;
      if ((inside && !best_inside) || (inside == best_inside && d < best_distance))
        {
          best = (int) i;
          best_distance = d;
          best_inside = inside;
        }
    }
  return best;
}

/* The face of the person seen last: the largest overlap, or failing that
 * the nearest centre within half a box width. -1: not in this frame. */
static int
find_same_person (GArray          *faces,
                  const FacetFace *last)
{
  int best = -1;
  double best_iou = MIN_IOU, best_distance = MAX_CENTRE_SHIFT * last->width;

  for (guint i = 0; i < faces->len; i++)
    {
      double iou = box_iou (&g_array_index (faces, FacetFace, i), last);
      if (iou >= best_iou)
        {
          best = (int) i;
          best_iou = iou;
        }
    }
  if (best >= 0)
    return best;

  for (guint i = 0; i < faces->len; i++)
    {
      const FacetFace *f = &g_array_index (faces, FacetFace, i);
      double d = centre_distance (f, last->x + last->width / 2.0, last->y + last->height / 2.0);
      if (d <= best_distance)
        {
          best = (int) i;
          best_distance = d;
        }
    }
  return best;
}

/* Faces near the followed person's last box, in frame coordinates; NULL
 * (and no error) when the region is the whole frame anyway or holds no
 * face. */
static GArray *
detect_near_last (FacetFaceTracker  *tracker,
                  const FacetImage  *frame,
                  GError           **error)
{
  const FacetFace *last = &tracker->last;
  double side = MAX (last->width * (1.0 + 2.0 * ROI_MARGIN), ROI_MIN_SIDE);
  double cx = last->x + last->width / 2.0, cy = last->y + last->height / 2.0;
  /* cell-aligned origin, so that the HOG grid is the one of the frame */
  int x0 = MAX (0, ((int) floor (cx - side / 2)) & ~7);
  int y0 = MAX (0, ((int) floor (cy - side / 2)) & ~7);
  int x1 = MIN (frame->width, (int) ceil (cx + side / 2));
  int y1 = MIN (frame->height, (int) ceil (cy + side / 2));
  g_autoptr (FacetImage) region = NULL;
  g_autoptr (GArray) faces = NULL;

  if (x1 - x0 < 32 || y1 - y0 < 32
      || (gint64) (x1 - x0) * (y1 - y0) * 2 > (gint64) frame->width * frame->height)
    return NULL;

  region = facet_image_new_wrap (frame->data + (gsize) y0 * frame->stride + 3 * (gsize) x0,
                                 x1 - x0, y1 - y0, frame->stride, NULL, NULL);
  faces = facet_face_detector_detect (tracker->detector, region, error);
  if (faces == NULL || faces->len == 0)
    return NULL;
  for (guint i = 0; i < faces->len; i++)
    {
      FacetFace *f = &g_array_index (faces, FacetFace, i);
      f->x += x0;
      f->y += y0;
      for (int k = 0; k < FACET_FACE_N_LANDMARKS; k++)
        {
          f->landmarks[2 * k] += x0;
          f->landmarks[2 * k + 1] += y0;
        }
    }
  /* only a face that is the same person counts; anything else needs the
   * whole frame */
  if (find_same_person (faces, last) < 0)
    return NULL;
  return g_steal_pointer (&faces);
}

/* The person's face when it is too faint for the detector on its own:
 * faint faces overlapping the last box enough, best overlap first; NULL
 * with @error set only when detection failed. */
static GArray *
detect_faint_person (FacetFaceTracker  *tracker,
                     const FacetImage  *frame,
                     GError           **error)
{
  g_autoptr (GArray) faces
    = facet_face_detector_detect_faint (tracker->detector, frame, FAINT_MIN_SCORE, error);
  GArray *kept;
  double best = FAINT_MIN_IOU;

  if (faces == NULL)
    return NULL;
  kept = g_array_new (FALSE, TRUE, sizeof (FacetFace));
  for (guint i = 0; i < faces->len; i++)
    {
      const FacetFace *f = &g_array_index (faces, FacetFace, i);
      double iou = box_iou (f, &tracker->last);

      if (iou >= best)
        {
          g_array_set_size (kept, 0);
          g_array_append_val (kept, *f);
          best = iou;
        }
    }
  return kept;
}

static float
face_quality (const FacetFace *raw,
              const FacetFace *smoothed,
              float            min_size)
{
  double deviation = 0.0, q_score, q_size, q_stable;

  for (int i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    deviation += hypot (raw->landmarks[2 * i] - smoothed->landmarks[2 * i],
                        raw->landmarks[2 * i + 1] - smoothed->landmarks[2 * i + 1]);
  deviation /= FACET_FACE_N_LANDMARKS;

  /* dlib's HOG scores run from 0 (the threshold) to about 3 on clear
   * frontal faces; twice the minimum size counts as fully usable; landmarks
   * that move more than a few percent of the face from their smoothed
   * positions are jittering or in a fast move. */
  q_score = CLAMP (0.5 + 0.25 * raw->score, 0.0, 1.0);
  q_size = min_size > 0.0f ? CLAMP (raw->width / (2.0 * min_size), 0.0, 1.0) : 1.0;
  q_stable = exp (-deviation / (0.03 * MAX (raw->width, 1.0f)));
  return (float) (q_score * q_size * q_stable);
}

static void
clear_result (FacetFaceResult *result,
              FacetFaceStatus  status)
{
  memset (result, 0, sizeof *result);
  result->status = status;
}

/**
 * facet_face_tracker_process:
 *
 * Detects faces in @frame, picks the followed person (a pending selection
 * first, then the same person as before, else the largest face), smooths
 * their landmarks and crops them. Without a usable face @result says why
 * (NONE, TOO_SMALL) and NULL is returned without an error; errors are only
 * for bad frames.
 */
FacetImage *
facet_face_tracker_process (FacetFaceTracker  *tracker,
                            const FacetImage  *frame,
                            FacetFaceResult   *result,
                            GError           **error)
{
  g_autoptr (GArray) faces = NULL;
  FacetFace raw, smoothed;
  gboolean faint = FALSE;
  int chosen = -1;

  g_return_val_if_fail (tracker != NULL && result != NULL, NULL);

  clear_result (result, FACET_FACE_STATUS_NONE);
  if (frame == NULL || frame->width <= 0 || frame->height <= 0 || frame->data == NULL)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "face tracking needs a non-empty frame");
      return NULL;
    }
  if (tracker->tracking && tracker->lost == 0 && !tracker->select_pending)
    {
      faces = detect_near_last (tracker, frame, error);
      if (faces == NULL && error != NULL && *error != NULL)
        return NULL;
    }
  if (faces == NULL)
    faces = facet_face_detector_detect (tracker->detector, frame, error);
  if (faces == NULL)
    return NULL;

  if (tracker->select_pending)
    {
      if (faces->len == 0)
        return NULL; /* the selection waits for a frame with faces */
      chosen = find_at_point (faces, tracker->select_x, tracker->select_y);
      tracker->select_pending = FALSE;
      tracker->tracking = FALSE;
      facet_face_smoother_reset (tracker->smoother);
      if (chosen < 0)
        chosen = 0;
    }
  else if (tracker->tracking)
    {
      chosen = find_same_person (faces, &tracker->last);
      if (chosen < 0 && tracker->lost == 0 && tracker->faint < MAX_FAINT_FRAMES)
        {
          g_autoptr (GArray) faint_faces = detect_faint_person (tracker, frame, error);

          if (faint_faces == NULL)
            return NULL;
          if (faint_faces->len > 0)
            {
              g_array_unref (faces);
              faces = g_steal_pointer (&faint_faces);
              chosen = 0;
              faint = TRUE;
            }
        }
      if (chosen < 0)
        {
          /* The person is not in this frame. Keep their place for a while;
           * smoothing starts over when they come back. */
          facet_face_smoother_reset (tracker->smoother);
          if (++tracker->lost <= MAX_LOST_FRAMES)
            return NULL;
          tracker->tracking = FALSE;
          if (faces->len > 0)
            chosen = 0;
        }
    }
  else if (faces->len > 0)
    chosen = 0;

  if (chosen < 0)
    return NULL;

  raw = g_array_index (faces, FacetFace, chosen);
  if (!tracker->tracking)
    facet_face_smoother_reset (tracker->smoother);
  tracker->tracking = TRUE;
  tracker->last = raw;
  tracker->lost = 0;
  tracker->faint = faint ? tracker->faint + 1 : 0;

  if (raw.width < tracker->min_size)
    {
      result->status = FACET_FACE_STATUS_TOO_SMALL;
      result->face = raw;
      result->quality = 0.0f;
      facet_face_smoother_reset (tracker->smoother);
      return NULL;
    }

  smoothed = raw;
  facet_face_smoother_apply (tracker->smoother, &smoothed);
  result->status = FACET_FACE_STATUS_FOUND;
  result->face = smoothed;
  result->quality = face_quality (&raw, &smoothed, tracker->min_size);
  return facet_face_crop (frame, &smoothed, tracker->crop, result->transform);
}
