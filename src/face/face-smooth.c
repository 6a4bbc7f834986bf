/* face-smooth.c — landmark smoothing over time without lag on fast moves
 *
 * A One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): an exponential
 * low-pass whose cutoff grows with the (itself low-passed) speed of the
 * signal. Two levels, because detector jitter is independent per point
 * while real motion is mostly shared: the centroid of the 68 landmarks
 * (its jitter is about 8 times smaller than a single point's) carries the
 * head's translation, and each point's offset from the centroid carries
 * rotation, scale and expression. A head move therefore raises only the
 * centroid's cutoff and is followed at once, while an expression (the
 * mouth opening) raises the cutoff of the points that move.
 */
#define G_LOG_DOMAIN "facet-face"

#include "config.h"

#include <math.h>

#include "facet-face.h"

/* The landmarks plus the box's two corners. */
#define N_POINTS (FACET_FACE_N_LANDMARKS + 2)

#define DEFAULT_MIN_CUTOFF 0.05 /* cycles per frame: 1.5 Hz at 30 fps */
#define DEFAULT_BETA       10.0 /* per (face width per frame) */
#define SPEED_CUTOFF       1.0  /* cycles per frame, for the speed estimate */
/* Speeds below these (face widths per frame) are taken for detector jitter
 * and do not open the filter: a single dlib landmark jitters by about 1 %
 * of the face width, the centroid of 68 of them by far less. */
#define CENTRE_DEAD_ZONE   0.002
#define OFFSET_DEAD_ZONE   0.015

struct _FacetFaceSmoother
{
  double   min_cutoff;
  double   beta;
  gboolean primed;
  double   centre[2], centre_speed[2];
  double   offset[2 * N_POINTS], offset_speed[2 * N_POINTS];
};

/* Smoothing factor of an exponential low-pass with @cutoff (cycles per
 * sample) for one sample period. */
static double
alpha_for (double cutoff)
{
  double tau = 1.0 / (2.0 * G_PI * cutoff);
  return 1.0 / (1.0 + tau);
}

FacetFaceSmoother *
facet_face_smoother_new (double min_cutoff,
                         double beta)
{
  FacetFaceSmoother *smoother = g_new0 (FacetFaceSmoother, 1);

  smoother->min_cutoff = min_cutoff > 0.0 ? min_cutoff : DEFAULT_MIN_CUTOFF;
  smoother->beta = beta > 0.0 ? beta : DEFAULT_BETA;
  return smoother;
}

void
facet_face_smoother_free (FacetFaceSmoother *smoother)
{
  g_free (smoother);
}

/* Forget the past: the next face is taken as it is (a new person, or the
 * same one after a gap, where smoothing across would only add lag). */
void
facet_face_smoother_reset (FacetFaceSmoother *smoother)
{
  g_return_if_fail (smoother != NULL);
  smoother->primed = FALSE;
}

static void
get_points (const FacetFace *face,
            double           points[2 * N_POINTS])
{
  for (int i = 0; i < 2 * FACET_FACE_N_LANDMARKS; i++)
    points[i] = face->landmarks[i];
  points[2 * FACET_FACE_N_LANDMARKS + 0] = face->x;
  points[2 * FACET_FACE_N_LANDMARKS + 1] = face->y;
  points[2 * FACET_FACE_N_LANDMARKS + 2] = face->x + face->width;
  points[2 * FACET_FACE_N_LANDMARKS + 3] = face->y + face->height;
}

/* One step of the filter for a 2-D value: @value is the new sample,
 * @state/@speed the filtered value and speed, updated in place. */
static void
one_euro_2d (const FacetFaceSmoother *s,
             const double             value[2],
             double                   state[2],
             double                   speed[2],
             double                   scale,
             double                   dead_zone)
{
  double a_speed = alpha_for (SPEED_CUTOFF), a, v;

  for (int k = 0; k < 2; k++)
    speed[k] += a_speed * ((value[k] - state[k]) - speed[k]);
  v = MAX (hypot (speed[0], speed[1]) / scale - dead_zone, 0.0);
  a = alpha_for (s->min_cutoff + s->beta * v);
  for (int k = 0; k < 2; k++)
    state[k] += a * (value[k] - state[k]);
}

void
facet_face_smoother_apply (FacetFaceSmoother *smoother,
                           FacetFace         *face)
{
  double points[2 * N_POINTS], centre[2] = { 0, 0 }, scale;

  g_return_if_fail (smoother != NULL && face != NULL);

  get_points (face, points);
  for (int i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    {
      centre[0] += points[2 * i];
      centre[1] += points[2 * i + 1];
    }
  centre[0] /= FACET_FACE_N_LANDMARKS;
  centre[1] /= FACET_FACE_N_LANDMARKS;
  scale = MAX (face->width, 1.0f);

  if (!smoother->primed)
    {
      smoother->primed = TRUE;
      smoother->centre[0] = centre[0];
      smoother->centre[1] = centre[1];
      smoother->centre_speed[0] = smoother->centre_speed[1] = 0.0;
      for (int i = 0; i < N_POINTS; i++)
        {
          smoother->offset[2 * i] = points[2 * i] - centre[0];
          smoother->offset[2 * i + 1] = points[2 * i + 1] - centre[1];
          smoother->offset_speed[2 * i] = smoother->offset_speed[2 * i + 1] = 0.0;
        }
      return; /* the first face is its own smoothed value */
    }

  one_euro_2d (smoother, centre, smoother->centre, smoother->centre_speed, scale,
               CENTRE_DEAD_ZONE);
  for (int i = 0; i < N_POINTS; i++)
    {
      double offset[2] = { points[2 * i] - centre[0], points[2 * i + 1] - centre[1] };
      one_euro_2d (smoother, offset, smoother->offset + 2 * i, smoother->offset_speed + 2 * i,
                   scale, OFFSET_DEAD_ZONE);
    }

  for (int i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    {
      face->landmarks[2 * i] = (float) (smoother->centre[0] + smoother->offset[2 * i]);
      face->landmarks[2 * i + 1] = (float) (smoother->centre[1] + smoother->offset[2 * i + 1]);
    }
  {
    const double *corners = smoother->offset + 2 * FACET_FACE_N_LANDMARKS;
    double x0 = smoother->centre[0] + corners[0], y0 = smoother->centre[1] + corners[1];
    double x1 = smoother->centre[0] + corners[2], y1 = smoother->centre[1] + corners[3];

    face->x = (float) x0;
    face->y = (float) y0;
    face->width = (float) MAX (x1 - x0, 1.0);
    face->height = (float) MAX (y1 - y0, 1.0);
  }
}
