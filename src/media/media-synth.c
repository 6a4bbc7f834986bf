/* media-synth.c — synthetic faces: identities from a seed, AU-driven
 * geometry, drawn with Cairo
 *
 * The face is laid out in frame units (0..1, y down) as an aligned model
 * crop would show it. Each AU moves the parts FACS describes for it and
 * adds the wrinkles or bulges that come with it:
 *   AU1  inner brow ends up (brows become oblique), central forehead lines
 *   AU2  outer brow ends up, lateral forehead lines
 *   AU4  brows down and drawn together, vertical lines between them
 *   AU6  cheeks up, lower lids pushed up (eyes narrow from below), crow's feet
 *   AU9  nose wrinkled across the bridge, nostrils and wings raised
 *   AU12 lip corners up and out, deeper nasolabial folds
 *   AU15 lip corners down
 *   AU17 chin boss up with its dimpling, lower lip pushed up
 *   AU25 lips apart (teeth show)
 *   AU26 jaw down: chin and lower lip drop, the mouth opens further
 *   AU43 upper lids down until the eyes are closed
 * Head pose works on the points before Cairo sees them: yaw and pitch shift
 * each point by its depth on a rounded head (the nose more than the
 * cheeks), roll, scale and translation are Cairo's transform. Lighting and
 * sensor noise are applied to the pixels afterwards.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <math.h>
#include <string.h>

#include <cairo.h>

#include "facet-media.h"
#include "media-synth.h"

static const int synth_aus[FACET_SYNTH_N_AUS] = { 1, 2, 4, 6, 9, 12, 15, 17, 25, 26, 43 };

/* Default base rates (fraction of frames with the AU present): what a
 * conversation-like recording might show. Blinks make up most of AU43. */
static const float default_rates[FACET_SYNTH_N_AUS] = {
  0.10f, 0.08f, 0.08f, 0.12f, 0.04f, 0.18f, 0.06f, 0.08f, 0.22f, 0.08f, 0.04f,
};

const int *
facet_synth_aus (int *n_aus)
{
  if (n_aus != NULL)
    *n_aus = FACET_SYNTH_N_AUS;
  return synth_aus;
}

int
facet_synth_au_index (int au)
{
  for (int i = 0; i < FACET_SYNTH_N_AUS; i++)
    if (synth_aus[i] == au)
      return i;
  return -1;
}

guint
facet_synth_au_regions (int au)
{
  switch (au)
    {
    case 1:
    case 2:
    case 4:
      return FACET_SYNTH_REGION_BROWS;
    case 6:
      return FACET_SYNTH_REGION_EYES | FACET_SYNTH_REGION_CHEEKS;
    case 9:
      return FACET_SYNTH_REGION_NOSE;
    case 12:
      return FACET_SYNTH_REGION_MOUTH | FACET_SYNTH_REGION_CHEEKS;
    case 15:
    case 17:
    case 26:
      return FACET_SYNTH_REGION_MOUTH | FACET_SYNTH_REGION_CHIN;
    case 25:
      return FACET_SYNTH_REGION_MOUTH;
    case 43:
      return FACET_SYNTH_REGION_EYES;
    default:
      return 0;
    }
}

void
facet_synth_pose_init (FacetSynthPose *pose)
{
  g_return_if_fail (pose != NULL);

  memset (pose, 0, sizeof *pose);
  pose->scale = 1.0f;
  pose->brightness = 1.0f;
  pose->tint[0] = pose->tint[1] = pose->tint[2] = 1.0f;
}

/* ---------------------------------------------------------------- subject */

typedef struct
{
  double r, g, b;
} Rgb;

enum
{
  HAIR_SHORT,
  HAIR_LONG,
  HAIR_BALD,
  HAIR_BUN,
  HAIR_CURLY,
  N_HAIR_STYLES
};

enum
{
  FRINGE_NONE,
  FRINGE_STRAIGHT,
  FRINGE_SIDE,
};

enum
{
  BEARD_NONE,
  BEARD_STUBBLE,
  BEARD_FULL,
  BEARD_MOUSTACHE,
};

struct _FacetSynthSubject
{
  gint    ref_count;
  guint64 seed;
  float   rates[FACET_SYNTH_N_AUS];

  /* head */
  double  face_hw;    /* half width at the cheekbones */
  double  jaw;        /* jaw angle half width, relative to face_hw */
  double  chin_hw;
  double  top_y;      /* top of the skull */
  double  chin_y;
  Rgb     skin, lips, background, background2, shirt;
  double  skin_tone;  /* 0 light .. 1 dark */

  /* eyes */
  double  eye_y, eye_dx, eye_rx, eye_ry;
  Rgb     iris;

  /* brows */
  double  brow_gap, brow_th, brow_arch, brow_len, brow_tilt;
  Rgb     brow;

  /* nose */
  double  nose_y, nose_hw, nose_tip_r;

  /* mouth */
  double  mouth_y, mouth_hw, lip_up, lip_lo;

  /* hair and extras */
  Rgb     hair;
  int     hair_style, fringe;
  double  hairline_y;
  int     glasses;    /* 0 none, 1 round, 2 rectangular */
  Rgb     glasses_colour;
  int     beard;
  int     hair_colour_index, iris_index;
};

static Rgb
rgb_mix (Rgb    a,
         Rgb    b,
         double t)
{
  Rgb c = { a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t };
  return c;
}

static Rgb
rgb_scale (Rgb    a,
           double f)
{
  Rgb c = { CLAMP (a.r * f, 0.0, 1.0), CLAMP (a.g * f, 0.0, 1.0), CLAMP (a.b * f, 0.0, 1.0) };
  return c;
}

static const char *const hair_names[] = { "black", "dark brown", "brown", "blond", "red", "grey" };
static const Rgb hair_colours[] = {
  { 0.08, 0.07, 0.07 }, { 0.24, 0.15, 0.09 }, { 0.45, 0.30, 0.17 },
  { 0.86, 0.73, 0.46 }, { 0.62, 0.27, 0.12 }, { 0.66, 0.66, 0.67 },
};
static const char *const iris_names[] = { "brown", "dark", "blue", "green", "grey" };
static const Rgb iris_colours[] = {
  { 0.38, 0.22, 0.10 }, { 0.16, 0.10, 0.07 }, { 0.30, 0.50, 0.76 },
  { 0.33, 0.52, 0.30 }, { 0.50, 0.56, 0.62 },
};
static const char *const style_names[] = { "short", "long", "bald", "bun", "curly" };

static Rgb
hsv (double h,
     double s,
     double v)
{
  double c = v * s, hp = fmod (h, 1.0) * 6.0, x = c * (1.0 - fabs (fmod (hp, 2.0) - 1.0));
  double m = v - c;
  Rgb out = { m, m, m };

  if (hp < 1)
    out.r += c, out.g += x;
  else if (hp < 2)
    out.r += x, out.g += c;
  else if (hp < 3)
    out.g += c, out.b += x;
  else if (hp < 4)
    out.g += x, out.b += c;
  else if (hp < 5)
    out.r += x, out.b += c;
  else
    out.r += c, out.b += x;
  return out;
}

/**
 * facet_synth_subject_new:
 * @seed: the subject: different seeds give clearly different people
 *
 * Draws every identity parameter from a FacetRng stream of @seed, in a
 * fixed order (adding a parameter at the end keeps existing subjects).
 */
FacetSynthSubject *
facet_synth_subject_new (guint64 seed)
{
  static const Rgb light = { 0.97, 0.84, 0.74 }, medium = { 0.80, 0.59, 0.44 };
  static const Rgb dark = { 0.36, 0.23, 0.16 };
  FacetSynthSubject *s = g_new0 (FacetSynthSubject, 1);
  FacetRng rng;
  double t, hue;

  s->ref_count = 1;
  s->seed = seed;
  memcpy (s->rates, default_rates, sizeof s->rates);
  facet_rng_init (&rng, seed ^ G_GUINT64_CONSTANT (0x5ace5eed0f5ace5e));

  s->face_hw = facet_rng_range (&rng, 0.30, 0.37);
  s->jaw = facet_rng_range (&rng, 0.70, 0.92);
  s->chin_hw = facet_rng_range (&rng, 0.07, 0.12);
  s->top_y = facet_rng_range (&rng, 0.02, 0.08);
  s->chin_y = facet_rng_range (&rng, 0.90, 0.97);

  s->skin_tone = facet_rng_uniform (&rng);
  t = s->skin_tone;
  s->skin = t < 0.5 ? rgb_mix (light, medium, 2 * t) : rgb_mix (medium, dark, 2 * t - 1);
  hue = facet_rng_range (&rng, -0.03, 0.03);
  s->skin.r = CLAMP (s->skin.r + hue, 0.0, 1.0);
  s->skin.b = CLAMP (s->skin.b - hue, 0.0, 1.0);
  s->lips = rgb_mix (s->skin, (Rgb) { 0.72, 0.25, 0.28 }, facet_rng_range (&rng, 0.30, 0.55));
  s->lips = rgb_scale (s->lips, 0.92);

  s->eye_y = facet_rng_range (&rng, 0.385, 0.415);
  s->eye_dx = facet_rng_range (&rng, 0.150, 0.180);
  s->eye_rx = facet_rng_range (&rng, 0.056, 0.070);
  s->eye_ry = facet_rng_range (&rng, 0.022, 0.031);
  s->iris_index = (int) facet_rng_below (&rng, G_N_ELEMENTS (iris_colours));
  s->iris = iris_colours[s->iris_index];

  s->brow_gap = facet_rng_range (&rng, 0.058, 0.075);
  s->brow_th = facet_rng_range (&rng, 0.010, 0.024);
  s->brow_arch = facet_rng_range (&rng, 0.004, 0.020);
  s->brow_len = facet_rng_range (&rng, 1.15, 1.50);
  s->brow_tilt = facet_rng_range (&rng, -0.010, 0.010);

  s->nose_y = facet_rng_range (&rng, 0.565, 0.615);
  s->nose_hw = facet_rng_range (&rng, 0.040, 0.062);
  s->nose_tip_r = facet_rng_range (&rng, 0.017, 0.027);

  s->mouth_y = facet_rng_range (&rng, 0.715, 0.760);
  s->mouth_hw = facet_rng_range (&rng, 0.105, 0.145);
  s->lip_up = facet_rng_range (&rng, 0.009, 0.018);
  s->lip_lo = facet_rng_range (&rng, 0.013, 0.025);

  s->hair_colour_index = (int) facet_rng_below (&rng, G_N_ELEMENTS (hair_colours));
  s->hair = hair_colours[s->hair_colour_index];
  s->hair_style = (int) facet_rng_below (&rng, N_HAIR_STYLES);
  s->fringe = s->hair_style == HAIR_BALD ? FRINGE_NONE : (int) facet_rng_below (&rng, 3);
  s->hairline_y = facet_rng_range (&rng, 0.13, 0.19);
  s->brow = rgb_mix (s->hair, (Rgb) { 0.10, 0.08, 0.07 }, s->hair_colour_index == 5 ? 0.3 : 0.45);

  s->glasses = facet_rng_uniform (&rng) < 0.3 ? 1 + (int) facet_rng_below (&rng, 2) : 0;
  s->glasses_colour = hsv (facet_rng_uniform (&rng), facet_rng_range (&rng, 0.0, 0.6),
                           facet_rng_range (&rng, 0.1, 0.6));
  s->beard = facet_rng_uniform (&rng) < 0.25 ? 1 + (int) facet_rng_below (&rng, 3) : BEARD_NONE;

  hue = facet_rng_uniform (&rng);
  s->background = hsv (hue, facet_rng_range (&rng, 0.10, 0.35), facet_rng_range (&rng, 0.55, 0.90));
  s->background2 = rgb_scale (s->background, facet_rng_range (&rng, 0.70, 0.90));
  s->shirt = hsv (facet_rng_uniform (&rng), facet_rng_range (&rng, 0.2, 0.7),
                  facet_rng_range (&rng, 0.25, 0.80));
  return s;
}

/**
 * facet_synth_subject_new_in:
 *
 * The other population redraws the proportions, extras and background from
 * a second stream of @seed, outside the default ranges where the drawing
 * allows it: the default population's identities are untouched.
 */
FacetSynthSubject *
facet_synth_subject_new_in (guint64              seed,
                            FacetSynthPopulation population)
{
  FacetSynthSubject *s = facet_synth_subject_new (seed);
  FacetRng rng;
  double hue;

  if (population == FACET_SYNTH_POPULATION_DEFAULT)
    return s;
  g_return_val_if_fail (population == FACET_SYNTH_POPULATION_OTHER, s);

  facet_rng_init (&rng, seed ^ G_GUINT64_CONSTANT (0x07e4b0b1a7105eed));
  s->face_hw = facet_rng_range (&rng, 0.35, 0.39);
  s->jaw = facet_rng_range (&rng, 0.88, 0.97);
  s->chin_hw = facet_rng_range (&rng, 0.11, 0.15);
  s->eye_y = facet_rng_range (&rng, 0.405, 0.425);
  s->eye_dx = facet_rng_range (&rng, 0.175, 0.192);
  s->eye_ry = facet_rng_range (&rng, 0.018, 0.024);
  s->brow_th = facet_rng_range (&rng, 0.024, 0.032);
  s->brow_arch = facet_rng_range (&rng, 0.0, 0.006);
  s->brow_gap = facet_rng_range (&rng, 0.050, 0.060);
  s->nose_hw = facet_rng_range (&rng, 0.060, 0.072);
  s->mouth_hw = facet_rng_range (&rng, 0.140, 0.160);
  s->lip_up = facet_rng_range (&rng, 0.016, 0.022);
  s->lip_lo = facet_rng_range (&rng, 0.022, 0.030);
  s->glasses = facet_rng_uniform (&rng) < 0.45 ? 1 + (int) facet_rng_below (&rng, 2) : 0;
  s->beard = facet_rng_uniform (&rng) < 0.4 ? 1 + (int) facet_rng_below (&rng, 3) : BEARD_NONE;
  hue = facet_rng_uniform (&rng);
  s->background = hsv (hue, facet_rng_range (&rng, 0.55, 0.85), facet_rng_range (&rng, 0.30, 0.55));
  s->background2 = rgb_scale (s->background, facet_rng_range (&rng, 0.50, 0.80));
  return s;
}

FacetSynthSubject *
facet_synth_subject_ref (FacetSynthSubject *subject)
{
  g_return_val_if_fail (subject != NULL, NULL);
  g_atomic_int_inc (&subject->ref_count);
  return subject;
}

void
facet_synth_subject_unref (FacetSynthSubject *subject)
{
  if (subject != NULL && g_atomic_int_dec_and_test (&subject->ref_count))
    g_free (subject);
}

guint64
facet_synth_subject_get_seed (const FacetSynthSubject *subject)
{
  g_return_val_if_fail (subject != NULL, 0);
  return subject->seed;
}

double
facet_synth_subject_get_skin_tone (const FacetSynthSubject *subject)
{
  g_return_val_if_fail (subject != NULL, 0.0);
  return subject->skin_tone;
}

char *
facet_synth_subject_describe (const FacetSynthSubject *subject)
{
  static const char *const beards[] = { "", ", stubble", ", beard", ", moustache" };
  const char *tone;

  g_return_val_if_fail (subject != NULL, NULL);

  tone = subject->skin_tone < 0.33 ? "light" : subject->skin_tone < 0.66 ? "medium" : "dark";
  if (subject->hair_style == HAIR_BALD)
    return g_strdup_printf ("%s skin, bald, %s eyes%s%s", tone, iris_names[subject->iris_index],
                            subject->glasses ? ", glasses" : "", beards[subject->beard]);
  return g_strdup_printf ("%s skin, %s %s hair%s, %s eyes%s%s", tone,
                          style_names[subject->hair_style], hair_names[subject->hair_colour_index],
                          subject->fringe ? " with a fringe" : "", iris_names[subject->iris_index],
                          subject->glasses ? ", glasses" : "", beards[subject->beard]);
}

float
facet_synth_subject_get_base_rate (const FacetSynthSubject *subject,
                                   int                      au)
{
  int i = facet_synth_au_index (au);

  g_return_val_if_fail (subject != NULL, 0.0f);
  return i < 0 ? 0.0f : subject->rates[i];
}

gboolean
facet_synth_subject_set_base_rate (FacetSynthSubject  *subject,
                                   int                 au,
                                   float               rate,
                                   GError            **error)
{
  int i = facet_synth_au_index (au);

  g_return_val_if_fail (subject != NULL, FALSE);

  if (i < 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "AU%d is not drawn by the synthetic faces (AU 1, 2, 4, 6, 9, 12, 15, 17, 25, "
                   "26 and 43 are)", au);
      return FALSE;
    }
  if (!(rate >= 0.0f && rate <= 0.9f))
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_RANGE,
                   "base rate %g for AU%d is out of range (0-0.9)", (double) rate, au);
      return FALSE;
    }
  subject->rates[i] = rate;
  return TRUE;
}

void
facet_synth_subject_apply_bias_profile (FacetSynthSubject *subject)
{
  FacetRng rng;
  guint order[FACET_SYNTH_N_AUS];

  g_return_if_fail (subject != NULL);

  /* A stream of its own, so the profile does not depend on how many
   * identity parameters were drawn. AU43 (mostly blinks) is left alone. */
  facet_rng_init (&rng, subject->seed ^ G_GUINT64_CONSTANT (0xb1a5b1a5b1a5b1a5));
  for (guint i = 0; i < FACET_SYNTH_N_AUS - 1; i++)
    order[i] = i;
  facet_rng_shuffle (&rng, order, FACET_SYNTH_N_AUS - 1);
  subject->rates[order[0]] = (float) facet_rng_range (&rng, 0.45, 0.65);
  subject->rates[order[1]] = (float) facet_rng_range (&rng, 0.45, 0.65);
  subject->rates[order[2]] = default_rates[order[2]] * 0.1f;
}

/* ---------------------------------------------------------------- drawing */

enum
{
  A1, A2, A4, A6, A9, A12, A15, A17, A25, A26, A43
};

typedef struct
{
  cairo_t                 *cr;
  const FacetSynthSubject *s;
  const float             *a;
  double                   sin_yaw, cos_yaw, sin_pitch, cos_pitch;
} Draw;

/* Where the face's own geometry puts things after the AUs act. */
typedef struct
{
  double brow_in[2][2], brow_peak[2][2], brow_out[2][2]; /* [side][x/y] */
  double eye_upper, eye_lower;                           /* lid heights above/below centre */
  double crease;
  double cheek_lift;
  double nose_lift;
  double corner[2][2];
  double mouth_centre, upper_inner, lower_inner, lower_outer, upper_outer;
  double jaw_drop, chin_raise;
} Geometry;

static void
compute_geometry (const FacetSynthSubject *s,
                  const float             *a,
                  Geometry                *g)
{
  double yb = s->eye_y - s->brow_gap, open;

  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0;
      double ex = 0.5 + sg * s->eye_dx;

      g->brow_in[side][0] = ex - sg * s->eye_rx * 1.05 - sg * 0.012 * a[A4];
      g->brow_in[side][1] = yb + 0.004 - 0.032 * a[A1] + 0.024 * a[A4];
      g->brow_out[side][0] = ex + sg * s->eye_rx * s->brow_len;
      g->brow_out[side][1] = yb + s->brow_tilt - 0.030 * a[A2] + 0.014 * a[A4];
      g->brow_peak[side][0] = ex + sg * s->eye_rx * 0.35;
      g->brow_peak[side][1] = yb - 2.0 * s->brow_arch - 0.012 * a[A1] - 0.022 * a[A2]
                              + 0.018 * a[A4];
    }

  /* Eyelids: AU6 pushes the lower lid up; AU43 lowers the upper lid until
   * it meets the lower one. */
  g->eye_lower = s->eye_ry * 0.75 * (1.0 - 0.55 * a[A6]);
  g->eye_upper = s->eye_ry * (1.0 - 0.12 * a[A6]) - a[A43] * (s->eye_ry * (1.0 - 0.12 * a[A6])
                                                              + g->eye_lower);
  g->crease = s->eye_ry * 1.7 - 0.5 * s->eye_ry * a[A43];
  g->cheek_lift = 0.022 * a[A6] + 0.008 * a[A12];
  g->nose_lift = 0.017 * a[A9];

  /* Mouth: AU12 up and out, AU15 down, AU17 pushes the lower lip (and the
   * mouth's middle) up, AU25/26 open it, AU26 with the jaw. */
  g->jaw_drop = 0.045 * a[A26];
  g->chin_raise = 0.010 * a[A17];
  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0;
      g->corner[side][0] = 0.5 + sg * (s->mouth_hw + 0.022 * a[A12] - 0.006 * a[A17]);
      g->corner[side][1] = s->mouth_y - 0.026 * a[A12] + 0.030 * a[A15] + 0.004 * a[A17];
    }
  g->mouth_centre = s->mouth_y - 0.004 * a[A12] - 0.006 * a[A17];
  open = 0.014 * a[A25] + 0.05 * a[A26];
  g->upper_inner = g->mouth_centre - 0.15 * open;
  g->upper_outer = g->upper_inner - s->lip_up * (1.0 - 0.3 * a[A12]);
  g->lower_inner = g->mouth_centre + 0.85 * open;
  g->lower_outer = g->lower_inner + s->lip_lo * (1.0 + 0.3 * a[A17] - 0.2 * a[A12]);
}

/* Depth of the head's surface at (x, y): a rounded shape, deepest at the
 * middle, zero at the silhouette. */
static double
surface_depth (const Draw *d,
               double      x,
               double      y)
{
  double u = (x - 0.5) / (d->s->face_hw * 1.1), v = (y - 0.52) / 0.5;
  return 0.22 * sqrt (MAX (0.0, 1.0 - u * u - 0.3 * v * v));
}

static void
project (const Draw *d,
         double      x,
         double      y,
         double      z,
         double     *ox,
         double     *oy)
{
  double depth = surface_depth (d, x, y) + z;

  *ox = 0.5 + (x - 0.5) * d->cos_yaw + depth * d->sin_yaw;
  *oy = 0.55 + (y - 0.55) * d->cos_pitch + depth * d->sin_pitch;
}

static void
move_to (Draw  *d,
         double x,
         double y,
         double z)
{
  double px, py;
  project (d, x, y, z, &px, &py);
  cairo_move_to (d->cr, px, py);
}

static void
line_to (Draw  *d,
         double x,
         double y,
         double z)
{
  double px, py;
  project (d, x, y, z, &px, &py);
  cairo_line_to (d->cr, px, py);
}

static void
curve_to (Draw  *d,
          double x1,
          double y1,
          double x2,
          double y2,
          double x3,
          double y3,
          double z)
{
  double p[6];
  project (d, x1, y1, z, &p[0], &p[1]);
  project (d, x2, y2, z, &p[2], &p[3]);
  project (d, x3, y3, z, &p[4], &p[5]);
  cairo_curve_to (d->cr, p[0], p[1], p[2], p[3], p[4], p[5]);
}

/* A quadratic Bezier from p0 via control c to p1, as a cubic. */
static void
quad_to (Draw  *d,
         double x0,
         double y0,
         double cx,
         double cy,
         double x1,
         double y1,
         double z)
{
  curve_to (d, x0 + 2.0 / 3.0 * (cx - x0), y0 + 2.0 / 3.0 * (cy - y0),
            x1 + 2.0 / 3.0 * (cx - x1), y1 + 2.0 / 3.0 * (cy - y1), x1, y1, z);
}

/* A smooth closed (or open) curve through @n points: Catmull-Rom segments
 * as cubic Beziers. The path must already be at points[0] when open. */
static void
spline_through (Draw         *d,
                const double *pts,
                int           n,
                gboolean      closed,
                double        z)
{
  int segments = closed ? n : n - 1;

  if (closed)
    move_to (d, pts[0], pts[1], z);
  for (int i = 0; i < segments; i++)
    {
      int i0 = closed ? (i - 1 + n) % n : MAX (i - 1, 0);
      int i1 = i, i2 = (i + 1) % n, i3 = closed ? (i + 2) % n : MIN (i + 2, n - 1);
      const double *p0 = pts + 2 * i0, *p1 = pts + 2 * i1, *p2 = pts + 2 * i2, *p3 = pts + 2 * i3;

      curve_to (d, p1[0] + (p2[0] - p0[0]) / 6.0, p1[1] + (p2[1] - p0[1]) / 6.0,
                p2[0] - (p3[0] - p1[0]) / 6.0, p2[1] - (p3[1] - p1[1]) / 6.0, p2[0], p2[1], z);
    }
  if (closed)
    cairo_close_path (d->cr);
}

static void
set_rgb (Draw *d,
         Rgb   c)
{
  cairo_set_source_rgb (d->cr, c.r, c.g, c.b);
}

static void
set_rgba (Draw  *d,
          Rgb    c,
          double alpha)
{
  cairo_set_source_rgba (d->cr, c.r, c.g, c.b, CLAMP (alpha, 0.0, 1.0));
}

/* The head outline, right half from the top to the chin, mirrored. */
static void
outline_points (const FacetSynthSubject *s,
                const Geometry          *g,
                double                   pts[2 * 12])
{
  const double hw = s->face_hw;
  const double chin = s->chin_y + g->jaw_drop - g->chin_raise;
  double half[6][2] = {
    { 0.5, s->top_y },
    { 0.5 + hw * 0.80, s->top_y + 0.07 },
    { 0.5 + hw * 0.98, 0.30 },
    { 0.5 + hw, 0.48 },
    { 0.5 + hw * s->jaw, 0.74 + 0.3 * g->jaw_drop },
    { 0.5 + s->chin_hw, chin - 0.025 },
  };
  int k = 0;

  for (int i = 0; i < 6; i++, k++)
    {
      pts[2 * k] = half[i][0];
      pts[2 * k + 1] = half[i][1];
    }
  pts[2 * k] = 0.5;
  pts[2 * k + 1] = chin;
  k++;
  for (int i = 5; i >= 1; i--, k++)
    {
      pts[2 * k] = 1.0 - half[i][0];
      pts[2 * k + 1] = half[i][1];
    }
}

static void
path_face (Draw           *d,
           const Geometry *g)
{
  double pts[2 * 12];

  outline_points (d->s, g, pts);
  spline_through (d, pts, 12, TRUE, 0.0);
}

static void
draw_back (Draw           *d,
           const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  cairo_t *cr = d->cr;

  /* long hair behind the head and shoulders */
  if (s->hair_style == HAIR_LONG || s->hair_style == HAIR_CURLY)
    {
      double w = s->face_hw + (s->hair_style == HAIR_CURLY ? 0.11 : 0.07);
      double bottom = s->hair_style == HAIR_CURLY ? 0.80 : 1.05;

      move_to (d, 0.5 - w, bottom, -0.15);
      curve_to (d, 0.5 - w - 0.03, 0.35, 0.5 - w * 0.7, s->top_y - 0.06, 0.5, s->top_y - 0.06,
                -0.15);
      curve_to (d, 0.5 + w * 0.7, s->top_y - 0.06, 0.5 + w + 0.03, 0.35, 0.5 + w, bottom, -0.15);
      cairo_close_path (cr);
      set_rgb (d, rgb_scale (s->hair, 0.8));
      cairo_fill (cr);
    }

  /* neck and shoulders */
  move_to (d, 0.5 - s->face_hw * 0.55, 0.70, -0.1);
  line_to (d, 0.5 - s->face_hw * 0.55, 1.1, -0.1);
  line_to (d, 0.5 + s->face_hw * 0.55, 1.1, -0.1);
  line_to (d, 0.5 + s->face_hw * 0.55, 0.70, -0.1);
  cairo_close_path (cr);
  set_rgb (d, rgb_scale (s->skin, 0.80));
  cairo_fill (cr);
  move_to (d, 0.0, 1.15, -0.2);
  curve_to (d, 0.02, 1.0, 0.20, 0.97, 0.5 - s->face_hw * 0.5, 0.985, -0.2);
  line_to (d, 0.5 + s->face_hw * 0.5, 0.985, -0.2);
  curve_to (d, 0.80, 0.97, 0.98, 1.0, 1.0, 1.15, -0.2);
  cairo_close_path (cr);
  set_rgb (d, s->shirt);
  cairo_fill (cr);

  /* ears */
  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0, ex = 0.5 + sg * (s->face_hw * 0.97 + 0.012);
      double ey = s->eye_y + 0.07;

      cairo_save (cr);
      {
        double px, py;
        project (d, ex, ey, -0.05, &px, &py);
        cairo_translate (cr, px, py);
        cairo_scale (cr, 0.032 * d->cos_yaw + 0.004, 0.062);
        cairo_arc (cr, 0, 0, 1, 0, 2 * G_PI);
      }
      cairo_restore (cr);
      set_rgb (d, rgb_scale (s->skin, 0.90));
      cairo_fill (cr);
    }
  (void) g;
}

static void
draw_face (Draw           *d,
           const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  cairo_t *cr = d->cr;
  cairo_pattern_t *shade;
  double cx, cy;

  path_face (d, g);
  set_rgb (d, s->skin);
  cairo_fill_preserve (cr);

  /* roundness: darker towards the silhouette */
  project (d, 0.5, 0.5, 0.0, &cx, &cy);
  shade = cairo_pattern_create_radial (cx, cy, 0.12, cx, cy, s->face_hw * 1.25);
  cairo_pattern_add_color_stop_rgba (shade, 0.0, 0, 0, 0, 0.0);
  cairo_pattern_add_color_stop_rgba (shade, 1.0, 0, 0, 0, 0.22);
  cairo_set_source (cr, shade);
  cairo_fill (cr);
  cairo_pattern_destroy (shade);
}

static void
stroke_line (Draw   *d,
             Rgb     c,
             double  alpha,
             double  width)
{
  set_rgba (d, c, alpha);
  cairo_set_line_width (d->cr, width);
  cairo_set_line_cap (d->cr, CAIRO_LINE_CAP_ROUND);
  cairo_stroke (d->cr);
}

static void
draw_brows (Draw           *d,
            const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  const float *a = d->a;
  Rgb line = rgb_scale (s->skin, 0.62);
  double yb = s->eye_y - s->brow_gap;

  /* forehead lines: AU1 in the middle, AU2 at the sides */
  if (a[A1] > 0.0f)
    for (int k = 0; k < 3; k++)
      {
        double y = yb - 0.045 - 0.018 * k;
        move_to (d, 0.5 - 0.075, y + 0.006, 0.0);
        quad_to (d, 0.5 - 0.075, y + 0.006, 0.5, y - 0.008, 0.5 + 0.075, y + 0.006, 0.0);
        stroke_line (d, line, 0.6 * a[A1], 0.0035);
      }
  if (a[A2] > 0.0f)
    for (int side = 0; side < 2; side++)
      for (int k = 0; k < 2; k++)
        {
          double sg = side == 0 ? -1.0 : 1.0, y = yb - 0.05 - 0.018 * k;
          double x0 = 0.5 + sg * 0.085, x1 = 0.5 + sg * 0.20;
          move_to (d, x0, y, 0.0);
          quad_to (d, x0, y, (x0 + x1) / 2, y - 0.010, x1, y + 0.008, 0.0);
          stroke_line (d, line, 0.55 * a[A2], 0.0033);
        }
  /* AU4: vertical lines and a shadow between the brows */
  if (a[A4] > 0.0f)
    {
      for (int side = 0; side < 2; side++)
        {
          double x = 0.5 + (side == 0 ? -0.013 : 0.013);
          move_to (d, x, yb - 0.018, 0.0);
          quad_to (d, x, yb - 0.012, x + (x - 0.5) * 0.3, yb + 0.004, x, yb + 0.02, 0.0);
          stroke_line (d, line, 0.65 * a[A4], 0.003);
        }
      move_to (d, 0.5 - 0.025, yb + 0.006, 0.0);
      quad_to (d, 0.5 - 0.025, yb + 0.006, 0.5, yb - 0.002, 0.5 + 0.025, yb + 0.006, 0.0);
      stroke_line (d, line, 0.15 * a[A4], 0.018);
    }

  /* the brows: tapered, thick at the inner end */
  for (int side = 0; side < 2; side++)
    {
      const double *p0 = g->brow_in[side], *p1 = g->brow_out[side];
      double c[2], upper[13][2], lower[13][2];

      /* the control point that makes the curve pass through the peak */
      c[0] = 2.0 * g->brow_peak[side][0] - 0.5 * (p0[0] + p1[0]);
      c[1] = 2.0 * g->brow_peak[side][1] - 0.5 * (p0[1] + p1[1]);
      for (int i = 0; i <= 12; i++)
        {
          double t = i / 12.0, mt = 1.0 - t;
          double x = mt * mt * p0[0] + 2 * mt * t * c[0] + t * t * p1[0];
          double y = mt * mt * p0[1] + 2 * mt * t * c[1] + t * t * p1[1];
          double tx = 2 * mt * (c[0] - p0[0]) + 2 * t * (p1[0] - c[0]);
          double ty = 2 * mt * (c[1] - p0[1]) + 2 * t * (p1[1] - c[1]);
          double len = hypot (tx, ty), nx = -ty / len, ny = tx / len;
          double half = 0.5 * s->brow_th * (1.0 - 0.55 * t) * (i == 0 ? 0.8 : 1.0);

          if (ny > 0)
            nx = -nx, ny = -ny; /* the normal points up */
          upper[i][0] = x + nx * half;
          upper[i][1] = y + ny * half;
          lower[i][0] = x - nx * half;
          lower[i][1] = y - ny * half;
        }
      move_to (d, upper[0][0], upper[0][1], 0.01);
      for (int i = 1; i <= 12; i++)
        line_to (d, upper[i][0], upper[i][1], 0.01);
      for (int i = 12; i >= 0; i--)
        line_to (d, lower[i][0], lower[i][1], 0.01);
      cairo_close_path (d->cr);
      set_rgb (d, s->brow);
      cairo_set_line_join (d->cr, CAIRO_LINE_JOIN_ROUND);
      cairo_fill_preserve (d->cr);
      set_rgb (d, s->brow);
      cairo_set_line_width (d->cr, 0.003);
      cairo_stroke (d->cr);
    }
}

/* The eye opening between the lid curves (upper above the centre line by
 * @up, lower below by @lo), from the inner to the outer corner and back. */
static void
path_eye (Draw   *d,
          double  ex,
          double  ey,
          double  sg,
          double  rx,
          double  up,
          double  lo)
{
  double xi = ex - sg * rx, xo = ex + sg * rx, yi = ey + 0.002, yo = ey - 0.002;

  move_to (d, xi, yi, 0.0);
  curve_to (d, xi + sg * 0.3 * rx, ey - 1.33 * up, xo - sg * 0.5 * rx, ey - 1.33 * up, xo, yo, 0.0);
  curve_to (d, xo - sg * 0.4 * rx, ey + 1.33 * lo, xi + sg * 0.4 * rx, ey + 1.33 * lo, xi, yi, 0.0);
  cairo_close_path (d->cr);
}

static void
draw_eyes (Draw               *d,
           const Geometry     *g,
           const FacetSynthPose *pose)
{
  const FacetSynthSubject *s = d->s;
  const float *a = d->a;
  cairo_t *cr = d->cr;
  Rgb dark = { 0.10, 0.07, 0.06 }, line = rgb_scale (s->skin, 0.60);

  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0, ex = 0.5 + sg * s->eye_dx, ey = s->eye_y;
      double rx = s->eye_rx, xi = ex - sg * rx, xo = ex + sg * rx;

      /* lid fold above the eye, flattened as the lid comes down */
      move_to (d, xi + sg * 0.1 * rx, ey - 0.3 * s->eye_ry, 0.0);
      curve_to (d, xi + sg * 0.3 * rx, ey - 1.2 * g->crease, xo - sg * 0.4 * rx,
                ey - 1.2 * g->crease, xo + sg * 0.1 * rx, ey - 0.4 * s->eye_ry, 0.0);
      stroke_line (d, line, 0.45, 0.003);

      /* AU6: the lower-lid bulge and crow's feet */
      if (a[A6] > 0.0f)
        {
          move_to (d, xi + sg * 0.2 * rx, ey + g->eye_lower + 0.012, 0.0);
          quad_to (d, xi + sg * 0.2 * rx, ey + g->eye_lower + 0.012, ex, ey + g->eye_lower + 0.022,
                   xo - sg * 0.1 * rx, ey + g->eye_lower + 0.010, 0.0);
          stroke_line (d, line, 0.6 * a[A6], 0.003);
          for (int k = -1; k <= 1; k++)
            {
              double ang = k * 0.45, x0 = xo + sg * 0.010, y0 = ey + k * 0.004;
              move_to (d, x0, y0, 0.0);
              line_to (d, x0 + sg * 0.026 * cos (ang), y0 + 0.026 * sin (ang), 0.0);
              stroke_line (d, line, 0.7 * a[A6], 0.0028);
            }
        }

      if (g->eye_upper + g->eye_lower > 0.0015)
        {
          double ix = ex + pose->gaze_x * rx * 0.45, iy = ey + pose->gaze_y * s->eye_ry * 0.4;
          double ir = s->eye_ry * 0.98;

          cairo_save (cr);
          path_eye (d, ex, ey, sg, rx, g->eye_upper, g->eye_lower);
          set_rgb (d, (Rgb) { 0.96, 0.95, 0.93 });
          cairo_fill_preserve (cr);
          cairo_clip (cr);
          {
            double px, py, qx, qy;
            project (d, ix, iy, 0.01, &px, &py);
            project (d, ix + ir, iy, 0.01, &qx, &qy);
            cairo_arc (cr, px, py, fabs (qx - px), 0, 2 * G_PI);
            set_rgb (d, s->iris);
            cairo_fill (cr);
            cairo_arc (cr, px, py, fabs (qx - px), 0, 2 * G_PI);
            stroke_line (d, rgb_scale (s->iris, 0.5), 1.0, 0.002);
            cairo_arc (cr, px, py, 0.45 * fabs (qx - px), 0, 2 * G_PI);
            set_rgb (d, dark);
            cairo_fill (cr);
            cairo_arc (cr, px + 0.35 * (qx - px) * sg * -1.0, py - 0.35 * fabs (qx - px),
                       0.16 * fabs (qx - px), 0, 2 * G_PI);
            set_rgba (d, (Rgb) { 1, 1, 1 }, 0.9);
            cairo_fill (cr);
          }
          /* the upper lid's shadow on the eyeball */
          move_to (d, xi, ey - g->eye_upper - 0.01, 0.0);
          line_to (d, xo, ey - g->eye_upper - 0.01, 0.0);
          stroke_line (d, (Rgb) { 0, 0, 0 }, 0.18, 0.012);
          cairo_restore (cr);
        }

      /* lash line along the upper lid, thinner lower lid line */
      move_to (d, xi, ey + 0.002, 0.0);
      curve_to (d, xi + sg * 0.3 * rx, ey - 1.33 * g->eye_upper, xo - sg * 0.5 * rx,
                ey - 1.33 * g->eye_upper, xo, ey - 0.002, 0.0);
      stroke_line (d, dark, 0.95, 0.0065);
      move_to (d, xi, ey + 0.002, 0.0);
      curve_to (d, xi + sg * 0.4 * rx, ey + 1.33 * g->eye_lower, xo - sg * 0.4 * rx,
                ey + 1.33 * g->eye_lower, xo, ey - 0.002, 0.0);
      stroke_line (d, line, 0.7, 0.0025);
    }
}

static void
draw_cheeks (Draw           *d,
             const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  const float *a = d->a;
  cairo_t *cr = d->cr;
  Rgb blush = rgb_mix (s->skin, (Rgb) { 0.85, 0.35, 0.35 }, 0.35);
  Rgb line = rgb_scale (s->skin, 0.65);

  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0, cx = 0.5 + sg * (s->eye_dx + 0.012);
      double cy = s->eye_y + 0.115 - g->cheek_lift, px, py, qx, qy;
      cairo_pattern_t *p;

      project (d, cx, cy, 0.0, &px, &py);
      project (d, cx + 0.06, cy, 0.0, &qx, &qy);
      p = cairo_pattern_create_radial (px, py, 0.0, px, py, fabs (qx - px));
      cairo_pattern_add_color_stop_rgba (p, 0.0, blush.r, blush.g, blush.b, 0.30 + 0.35 * a[A6]);
      cairo_pattern_add_color_stop_rgba (p, 1.0, blush.r, blush.g, blush.b, 0.0);
      cairo_set_source (cr, p);
      cairo_arc (cr, px, py, fabs (qx - px), 0, 2 * G_PI);
      cairo_fill (cr);
      cairo_pattern_destroy (p);

      /* the cheek's upper edge (infraorbital furrow), raised by AU6 */
      move_to (d, 0.5 + sg * (s->eye_dx - s->eye_rx * 0.6), s->eye_y + 0.055 - g->cheek_lift, 0.0);
      quad_to (d, 0.5 + sg * (s->eye_dx - s->eye_rx * 0.6), s->eye_y + 0.055 - g->cheek_lift,
               0.5 + sg * s->eye_dx, s->eye_y + 0.072 - g->cheek_lift,
               0.5 + sg * (s->eye_dx + s->eye_rx * 0.9), s->eye_y + 0.058 - g->cheek_lift, 0.0);
      stroke_line (d, line, 0.15 + 0.35 * a[A6], 0.003);
    }
}

static void
draw_nose (Draw           *d,
           const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  const float *a = d->a;
  cairo_t *cr = d->cr;
  Rgb line = rgb_scale (s->skin, 0.62), dark = rgb_scale (s->skin, 0.35);
  double base = s->nose_y - g->nose_lift, px, py, qx, qy;

  /* the sides of the bridge */
  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0;
      move_to (d, 0.5 + sg * 0.024, s->eye_y - 0.005, 0.02);
      quad_to (d, 0.5 + sg * 0.024, s->eye_y - 0.005, 0.5 + sg * 0.020, base - 0.06,
               0.5 + sg * s->nose_hw * 0.75, base - 0.028, 0.03);
      stroke_line (d, line, 0.35, 0.003);
    }

  /* AU9: wrinkles across the bridge */
  if (a[A9] > 0.0f)
    for (int k = 0; k < 3; k++)
      {
        double y = s->eye_y + 0.008 + 0.014 * k, w = 0.022 + 0.004 * k;
        move_to (d, 0.5 - w, y + 0.004, 0.04);
        quad_to (d, 0.5 - w, y + 0.004, 0.5, y - 0.005, 0.5 + w, y + 0.004, 0.04);
        stroke_line (d, line, 0.8 * a[A9], 0.0032);
      }

  /* tip: a highlight with a shadow under it */
  project (d, 0.5, base - 0.016, 0.08, &px, &py);
  project (d, 0.5 + s->nose_tip_r, base - 0.016, 0.08, &qx, &qy);
  cairo_arc (cr, px, py, fabs (qx - px), 0, 2 * G_PI);
  set_rgba (d, (Rgb) { 1, 1, 1 }, 0.16);
  cairo_fill (cr);

  /* wings and nostrils, raised by AU9 */
  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0, wx = 0.5 + sg * s->nose_hw * 0.78;
      double flare = 1.0 + 0.25 * a[A9];

      move_to (d, wx - sg * 0.004, base - 0.030, 0.05);
      curve_to (d, wx + sg * 0.026 * flare, base - 0.030, wx + sg * 0.024 * flare, base + 0.004,
                wx - sg * 0.006, base + 0.002, 0.05);
      stroke_line (d, line, 0.8, 0.0035);

      cairo_save (cr);
      project (d, 0.5 + sg * s->nose_hw * 0.42, base - 0.002, 0.06, &px, &py);
      cairo_translate (cr, px, py);
      cairo_rotate (cr, sg * 0.25);
      cairo_scale (cr, 0.012 * flare, 0.0055);
      cairo_arc (cr, 0, 0, 1, 0, 2 * G_PI);
      cairo_restore (cr);
      set_rgb (d, dark);
      cairo_fill (cr);
    }
  /* the shadow under the tip between the nostrils */
  move_to (d, 0.5 - s->nose_hw * 0.3, base + 0.001, 0.06);
  quad_to (d, 0.5 - s->nose_hw * 0.3, base + 0.001, 0.5, base + 0.008, 0.5 + s->nose_hw * 0.3,
           base + 0.001, 0.06);
  stroke_line (d, line, 0.6, 0.004);
}

static void
draw_mouth (Draw           *d,
            const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  const float *a = d->a;
  cairo_t *cr = d->cr;
  Rgb line = rgb_scale (s->skin, 0.62);
  const double *cl = g->corner[0], *cr_ = g->corner[1];
  double peak = 0.032;

  /* nasolabial folds: from the nose wings past the mouth corners; AU12
   * deepens them and pulls their lower ends up and out */
  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0;
      double x0 = 0.5 + sg * (s->nose_hw + 0.012), y0 = s->nose_y - 0.012;
      double x1 = g->corner[side][0] + sg * 0.022, y1 = g->corner[side][1] + 0.012;

      move_to (d, x0, y0, 0.03);
      quad_to (d, x0, y0, x1 + sg * 0.012, (y0 + y1) / 2, x1, y1, 0.0);
      stroke_line (d, line, 0.18 + 0.5 * a[A12], 0.0035);
    }

  /* philtrum */
  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0;
      move_to (d, 0.5 + sg * 0.010, s->nose_y + 0.008, 0.05);
      line_to (d, 0.5 + sg * 0.016, g->upper_outer - 0.002, 0.04);
      stroke_line (d, line, 0.22, 0.003);
    }

  /* mouth opening: dark, with the teeth */
  if (g->lower_inner - g->upper_inner > 0.002)
    {
      cairo_save (cr);
      move_to (d, cl[0], cl[1], 0.03);
      quad_to (d, cl[0], cl[1], 0.5, 2 * g->upper_inner - 0.5 * (cl[1] + cr_[1]), cr_[0], cr_[1],
               0.03);
      quad_to (d, cr_[0], cr_[1], 0.5, 2 * g->lower_inner - 0.5 * (cl[1] + cr_[1]), cl[0], cl[1],
               0.03);
      cairo_close_path (cr);
      set_rgb (d, (Rgb) { 0.30, 0.07, 0.09 });
      cairo_fill_preserve (cr);
      cairo_clip (cr);
      move_to (d, 0.5 - s->mouth_hw * 0.65, g->upper_inner - 0.02, 0.03);
      line_to (d, 0.5 + s->mouth_hw * 0.65, g->upper_inner - 0.02, 0.03);
      line_to (d, 0.5 + s->mouth_hw * 0.60, g->upper_inner + 0.016, 0.03);
      line_to (d, 0.5 - s->mouth_hw * 0.60, g->upper_inner + 0.016, 0.03);
      cairo_close_path (cr);
      set_rgb (d, (Rgb) { 0.95, 0.94, 0.88 });
      cairo_fill (cr);
      if (g->lower_inner - g->upper_inner > 0.03)
        {
          move_to (d, 0.5 - s->mouth_hw * 0.5, g->lower_inner - 0.010, 0.03);
          line_to (d, 0.5 + s->mouth_hw * 0.5, g->lower_inner - 0.010, 0.03);
          line_to (d, 0.5 + s->mouth_hw * 0.5, g->lower_inner + 0.02, 0.03);
          line_to (d, 0.5 - s->mouth_hw * 0.5, g->lower_inner + 0.02, 0.03);
          cairo_close_path (cr);
          set_rgb (d, (Rgb) { 0.90, 0.89, 0.83 });
          cairo_fill (cr);
        }
      cairo_restore (cr);
    }

  /* upper lip with its Cupid's bow */
  move_to (d, cl[0], cl[1], 0.03);
  quad_to (d, cl[0], cl[1], 0.5 - peak - 0.02, g->upper_outer + 0.002, 0.5 - peak * 0.6,
           g->upper_outer, 0.04);
  quad_to (d, 0.5 - peak * 0.6, g->upper_outer, 0.5 - 0.006, g->upper_outer + 0.0015, 0.5,
           g->upper_outer + 0.004, 0.04);
  quad_to (d, 0.5, g->upper_outer + 0.004, 0.5 + 0.006, g->upper_outer + 0.0015, 0.5 + peak * 0.6,
           g->upper_outer, 0.04);
  quad_to (d, 0.5 + peak * 0.6, g->upper_outer, 0.5 + peak + 0.02, g->upper_outer + 0.002, cr_[0],
           cr_[1], 0.03);
  quad_to (d, cr_[0], cr_[1], 0.5, 2 * g->upper_inner - 0.5 * (cl[1] + cr_[1]), cl[0], cl[1], 0.03);
  cairo_close_path (cr);
  set_rgb (d, rgb_scale (s->lips, 0.92));
  cairo_fill (cr);

  /* lower lip */
  move_to (d, cl[0], cl[1], 0.03);
  quad_to (d, cl[0], cl[1], 0.5, 2 * g->lower_inner - 0.5 * (cl[1] + cr_[1]), cr_[0], cr_[1], 0.03);
  curve_to (d, cr_[0] - 0.02, g->lower_outer, 0.5 + 0.04, g->lower_outer + 0.004, 0.5,
            g->lower_outer + 0.004, 0.04);
  curve_to (d, 0.5 - 0.04, g->lower_outer + 0.004, cl[0] + 0.02, g->lower_outer, cl[0], cl[1],
            0.03);
  cairo_close_path (cr);
  set_rgb (d, s->lips);
  cairo_fill (cr);
  /* a highlight on the lower lip */
  move_to (d, 0.5 - 0.025, g->lower_inner + 0.45 * (g->lower_outer - g->lower_inner), 0.045);
  line_to (d, 0.5 + 0.015, g->lower_inner + 0.45 * (g->lower_outer - g->lower_inner), 0.045);
  stroke_line (d, (Rgb) { 1, 1, 1 }, 0.22, 0.004);

  /* the line between the lips, darker at the corners */
  move_to (d, cl[0], cl[1], 0.03);
  quad_to (d, cl[0], cl[1], 0.5, 2 * g->upper_inner - 0.5 * (cl[1] + cr_[1]), cr_[0], cr_[1], 0.03);
  stroke_line (d, rgb_scale (s->lips, 0.45), 0.9, 0.0035);
  for (int side = 0; side < 2; side++)
    {
      const double *c = g->corner[side];
      double px, py;
      project (d, c[0], c[1], 0.03, &px, &py);
      cairo_arc (cr, px, py, 0.0035, 0, 2 * G_PI);
      set_rgba (d, rgb_scale (s->skin, 0.45), 0.7);
      cairo_fill (cr);
    }
}

static void
draw_chin (Draw           *d,
           const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  const float *a = d->a;
  cairo_t *cr = d->cr;
  Rgb line = rgb_scale (s->skin, 0.62);
  double chin = s->chin_y + g->jaw_drop - g->chin_raise;
  double sulcus = g->lower_outer + 0.02 + 0.2 * g->jaw_drop;

  /* the crease between lower lip and chin, deepened by AU17 */
  move_to (d, 0.5 - 0.035, sulcus + 0.003, 0.03);
  quad_to (d, 0.5 - 0.035, sulcus + 0.003, 0.5, sulcus - 0.006 + 0.004 * a[A17], 0.5 + 0.035,
           sulcus + 0.003, 0.03);
  stroke_line (d, line, 0.25 + 0.45 * a[A17], 0.0035);

  /* AU17: the chin boss pushed up, with its dimpled skin */
  if (a[A17] > 0.0f)
    {
      double bx = 0.5, by = chin - 0.045 - 0.006 * a[A17], px, py;
      cairo_pattern_t *p;

      project (d, bx, by, 0.03, &px, &py);
      p = cairo_pattern_create_radial (px, py - 0.008, 0.0, px, py, 0.05);
      cairo_pattern_add_color_stop_rgba (p, 0.0, 1, 1, 1, 0.14 * a[A17]);
      cairo_pattern_add_color_stop_rgba (p, 0.7, 1, 1, 1, 0.04 * a[A17]);
      cairo_pattern_add_color_stop_rgba (p, 1.0, 0, 0, 0, 0.0);
      cairo_set_source (cr, p);
      cairo_arc (cr, px, py, 0.05, 0, 2 * G_PI);
      cairo_fill (cr);
      cairo_pattern_destroy (p);
      for (int k = 0; k < 9; k++)
        {
          double dx = ((k % 3) - 1) * 0.016 + ((k / 3) % 2) * 0.006;
          double dy = ((k / 3) - 1) * 0.011;
          project (d, bx + dx, by + dy, 0.03, &px, &py);
          cairo_arc (cr, px, py, 0.0022, 0, 2 * G_PI);
          set_rgba (d, line, 0.35 * a[A17]);
          cairo_fill (cr);
        }
    }
}

static void
draw_beard (Draw           *d,
            const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  cairo_t *cr = d->cr;
  double chin = s->chin_y + g->jaw_drop - g->chin_raise;

  if (s->beard == BEARD_NONE)
    return;

  cairo_save (cr);
  if (s->beard == BEARD_MOUSTACHE)
    {
      move_to (d, g->corner[0][0] - 0.005, g->corner[0][1] + 0.004, 0.04);
      quad_to (d, g->corner[0][0] - 0.005, g->corner[0][1] + 0.004, 0.5, g->upper_outer - 0.035,
               g->corner[1][0] + 0.005, g->corner[1][1] + 0.004, 0.04);
      quad_to (d, g->corner[1][0] + 0.005, g->corner[1][1] + 0.004, 0.5, g->upper_outer - 0.004,
               g->corner[0][0] - 0.005, g->corner[0][1] + 0.004, 0.04);
      cairo_close_path (cr);
      set_rgba (d, s->hair, 0.95);
      cairo_fill (cr);
      cairo_restore (cr);
      return;
    }

  /* the lower face below the cheeks, with the mouth left free */
  path_face (d, g);
  cairo_clip (cr);
  cairo_set_fill_rule (cr, CAIRO_FILL_RULE_EVEN_ODD);
  move_to (d, 0.0, s->mouth_y - 0.07, 0.0);
  line_to (d, 0.5 - s->nose_hw - 0.03, s->mouth_y - 0.07, 0.0);
  quad_to (d, 0.5 - s->nose_hw - 0.03, s->mouth_y - 0.07, 0.5, s->nose_y + 0.005,
           0.5 + s->nose_hw + 0.03, s->mouth_y - 0.07, 0.0);
  line_to (d, 1.0, s->mouth_y - 0.07, 0.0);
  line_to (d, 1.0, chin + 0.05, 0.0);
  line_to (d, 0.0, chin + 0.05, 0.0);
  cairo_close_path (cr);
  /* the hole for the lips */
  move_to (d, g->corner[0][0] - 0.004, g->corner[0][1], 0.03);
  quad_to (d, g->corner[0][0] - 0.004, g->corner[0][1], 0.5,
           2 * g->upper_outer - g->corner[0][1] - 0.004, g->corner[1][0] + 0.004, g->corner[1][1],
           0.03);
  quad_to (d, g->corner[1][0] + 0.004, g->corner[1][1], 0.5,
           2 * g->lower_outer - g->corner[1][1] + 0.006, g->corner[0][0] - 0.004, g->corner[0][1],
           0.03);
  cairo_close_path (cr);
  set_rgba (d, s->hair, s->beard == BEARD_FULL ? 0.92 : 0.30);
  cairo_fill (cr);
  cairo_restore (cr);
}

static void
draw_hair (Draw           *d,
           const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  cairo_t *cr = d->cr;
  double hw = s->face_hw, hl = s->hairline_y, top = s->top_y - 0.03;
  double fringe_y = s->eye_y - s->brow_gap - 0.07;
  FacetRng rng;

  if (s->hair_style == HAIR_BALD)
    return;

  cairo_save (cr);
  /* the cap over the skull, down to the hairline or the fringe */
  move_to (d, 0.5 - hw * 1.04, 0.40, -0.02);
  curve_to (d, 0.5 - hw * 1.12, 0.15, 0.5 - hw * 0.75, top, 0.5, top, -0.02);
  curve_to (d, 0.5 + hw * 0.75, top, 0.5 + hw * 1.12, 0.15, 0.5 + hw * 1.04, 0.40, -0.02);
  line_to (d, 0.5 + hw * 0.96, 0.40, 0.0);
  switch (s->fringe)
    {
    case FRINGE_STRAIGHT:
      line_to (d, 0.5 + hw * 0.90, fringe_y, 0.0);
      quad_to (d, 0.5 + hw * 0.90, fringe_y, 0.5, fringe_y + 0.012, 0.5 - hw * 0.90, fringe_y, 0.0);
      break;
    case FRINGE_SIDE:
      line_to (d, 0.5 + hw * 0.92, hl + 0.02, 0.0);
      quad_to (d, 0.5 + hw * 0.92, hl + 0.02, 0.5 + hw * 0.1, hl - 0.02, 0.5 - hw * 0.88,
               fringe_y + 0.01, 0.0);
      break;
    case FRINGE_NONE:
    default:
      line_to (d, 0.5 + hw * 0.90, hl + 0.05, 0.0);
      quad_to (d, 0.5 + hw * 0.90, hl + 0.05, 0.5, hl - 0.03, 0.5 - hw * 0.90, hl + 0.05, 0.0);
      break;
    }
  line_to (d, 0.5 - hw * 0.96, 0.40, 0.0);
  cairo_close_path (cr);
  set_rgb (d, s->hair);
  cairo_fill_preserve (cr);
  cairo_clip (cr);

  /* strands, the same in every frame of this subject */
  facet_rng_init (&rng, s->seed ^ G_GUINT64_CONSTANT (0x4a124a124a124a12));
  for (int k = 0; k < 26; k++)
    {
      double x = facet_rng_range (&rng, 0.5 - hw * 1.1, 0.5 + hw * 1.1);
      double y = facet_rng_range (&rng, top, 0.30);
      double len = facet_rng_range (&rng, 0.05, 0.12), bend = facet_rng_range (&rng, -0.03, 0.03);

      move_to (d, x, y, 0.0);
      quad_to (d, x, y, x + bend + (x - 0.5) * 0.2, y + len * 0.5, x + (x - 0.5) * 0.35, y + len,
               0.0);
      stroke_line (d, rgb_scale (s->hair, s->hair_colour_index == 0 ? 1.8 : 0.72), 0.35, 0.003);
    }
  cairo_restore (cr);

  if (s->hair_style == HAIR_BUN)
    {
      double px, py, qx, qy;
      project (d, 0.5, top - 0.005, -0.05, &px, &py);
      project (d, 0.5 + 0.07, top - 0.005, -0.05, &qx, &qy);
      cairo_arc (cr, px, py, fabs (qx - px), 0, 2 * G_PI);
      set_rgb (d, rgb_scale (s->hair, 0.92));
      cairo_fill (cr);
    }
  if (s->hair_style == HAIR_CURLY)
    for (int k = 0; k < 11; k++)
      {
        double ang = G_PI * (0.05 + 0.9 * k / 10.0), px, py;
        project (d, 0.5 - cos (ang) * hw * 1.05, 0.32 - sin (ang) * (0.32 - top), -0.02, &px, &py);
        cairo_arc (cr, px, py, 0.035, 0, 2 * G_PI);
        set_rgb (d, rgb_scale (s->hair, 1.0 + 0.08 * (k % 2)));
        cairo_fill (cr);
      }
  (void) g;
}

static void
draw_glasses (Draw           *d,
              const Geometry *g)
{
  const FacetSynthSubject *s = d->s;
  cairo_t *cr = d->cr;
  double rx = s->eye_rx * 1.55, ry = 0.045, y = s->eye_y + 0.004;

  if (s->glasses == 0)
    return;

  for (int side = 0; side < 2; side++)
    {
      double sg = side == 0 ? -1.0 : 1.0, cx = 0.5 + sg * s->eye_dx;

      if (s->glasses == 1)
        {
          double px, py, qx, qy;
          project (d, cx, y, 0.05, &px, &py);
          project (d, cx + rx, y, 0.05, &qx, &qy);
          cairo_save (cr);
          cairo_translate (cr, px, py);
          cairo_scale (cr, fabs (qx - px), ry);
          cairo_arc (cr, 0, 0, 1, 0, 2 * G_PI);
          cairo_restore (cr);
        }
      else
        {
          move_to (d, cx - rx, y - ry, 0.05);
          line_to (d, cx + rx, y - ry, 0.05);
          line_to (d, cx + rx * 0.95, y + ry * 0.9, 0.05);
          line_to (d, cx - rx * 0.95, y + ry * 0.9, 0.05);
          cairo_close_path (cr);
        }
      set_rgba (d, (Rgb) { 0.85, 0.9, 1.0 }, 0.10);
      cairo_fill_preserve (cr);
      cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
      stroke_line (d, s->glasses_colour, 1.0, 0.007);

      /* the temple arm to the ear */
      move_to (d, cx + sg * rx, y - ry * 0.5, 0.05);
      line_to (d, 0.5 + sg * s->face_hw * 1.0, y - ry * 0.3, -0.02);
      stroke_line (d, s->glasses_colour, 1.0, 0.006);
    }
  move_to (d, 0.5 - s->eye_dx + rx, y - 0.006, 0.07);
  quad_to (d, 0.5 - s->eye_dx + rx, y - 0.006, 0.5, y - 0.022, 0.5 + s->eye_dx - rx, y - 0.006,
           0.07);
  stroke_line (d, s->glasses_colour, 1.0, 0.006);
  (void) g;
}

/* Optical blur: a separable Gaussian of @sigma pixels over Cairo's xRGB
 * words, in place (edges repeat the border pixel). */
static void
blur_surface (cairo_surface_t *surface,
              int              size,
              double           sigma)
{
  guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  int radius = MAX (1, (int) ceil (3.0 * sigma));
  g_autofree double *kernel = g_new (double, 2 * radius + 1);
  g_autofree double *line = g_new (double, (gsize) 3 * size);
  double sum = 0.0;

  for (int i = -radius; i <= radius; i++)
    sum += kernel[i + radius] = exp (-0.5 * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * radius; i++)
    kernel[i] /= sum;

  for (int pass = 0; pass < 2; pass++)
    for (int j = 0; j < size; j++)
      {
        /* pass 0: row j; pass 1: column j */
        for (int i = 0; i < size; i++)
          {
            double acc[3] = { 0.0, 0.0, 0.0 };

            for (int t = -radius; t <= radius; t++)
              {
                int k = CLAMP (i + t, 0, size - 1);
                guint32 px = pass == 0 ? ((guint32 *) (data + (gsize) j * stride))[k]
                                       : ((guint32 *) (data + (gsize) k * stride))[j];
                double w = kernel[t + radius];

                acc[0] += w * ((px >> 16) & 0xff);
                acc[1] += w * ((px >> 8) & 0xff);
                acc[2] += w * (px & 0xff);
              }
            for (int c = 0; c < 3; c++)
              line[3 * i + c] = acc[c];
          }
        for (int i = 0; i < size; i++)
          {
            guint32 px = (guint32) CLAMP (lround (line[3 * i]), 0, 255) << 16
                         | (guint32) CLAMP (lround (line[3 * i + 1]), 0, 255) << 8
                         | (guint32) CLAMP (lround (line[3 * i + 2]), 0, 255);

            if (pass == 0)
              ((guint32 *) (data + (gsize) j * stride))[i] = px;
            else
              ((guint32 *) (data + (gsize) i * stride))[j] = px;
          }
      }
  cairo_surface_mark_dirty (surface);
}

/* Lighting and sensor noise, and Cairo's xRGB words to packed RGB. */
static FacetImage *
to_image (cairo_surface_t      *surface,
          int                   size,
          const FacetSynthPose *pose)
{
  FacetImage *image = facet_image_new (size, size);
  const guint8 *src = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  double lx = cos (pose->light_angle), ly = sin (pose->light_angle);
  gboolean white = pose->tint[0] == 1.0f && pose->tint[1] == 1.0f && pose->tint[2] == 1.0f;
  gboolean plain = pose->brightness == 1.0f && pose->light_strength == 0.0f && pose->noise == 0.0f
                   && white;
  FacetRng rng;

  if (pose->blur > 0.0f)
    blur_surface (surface, size, pose->blur);

  facet_rng_init (&rng, pose->noise_seed);
  for (int y = 0; y < size; y++)
    {
      const guint32 *row = (const guint32 *) (src + (gsize) y * stride);
      guint8 *dst = image->data + (gsize) y * image->stride;

      for (int x = 0; x < size; x++)
        {
          guint32 px = row[x];
          int c[3] = { (px >> 16) & 0xff, (px >> 8) & 0xff, px & 0xff };

          if (!plain)
            {
              /* the side the light comes from is brighter */
              double u = (x + 0.5) / size - 0.5, v = (y + 0.5) / size - 0.5;
              double gain = pose->brightness * (1.0 + pose->light_strength * (u * lx + v * ly));

              for (int k = 0; k < 3; k++)
                {
                  double value = c[k] * gain;
                  if (!white)
                    value *= pose->tint[k];
                  if (pose->noise > 0.0f)
                    value += pose->noise * facet_rng_normal (&rng);
                  c[k] = (int) CLAMP (lround (value), 0, 255);
                }
            }
          dst[3 * x] = (guint8) c[0];
          dst[3 * x + 1] = (guint8) c[1];
          dst[3 * x + 2] = (guint8) c[2];
        }
    }
  return image;
}

static void
begin_draw (Draw                    *d,
            cairo_t                 *cr,
            const FacetSynthSubject *subject,
            const float             *au,
            const FacetSynthPose    *pose,
            int                      size)
{
  d->cr = cr;
  d->s = subject;
  d->a = au;
  d->sin_yaw = sin (pose->yaw);
  d->cos_yaw = cos (pose->yaw);
  d->sin_pitch = sin (pose->pitch);
  d->cos_pitch = cos (pose->pitch);

  cairo_scale (cr, size, size);
  /* roll, scale and translation about the middle of the face */
  cairo_translate (cr, 0.5 + pose->dx, 0.55 + pose->dy);
  cairo_rotate (cr, pose->roll);
  cairo_scale (cr, pose->scale, pose->scale);
  cairo_translate (cr, -0.5, -0.55);
}

FacetImage *
facet_synth_render (const FacetSynthSubject *subject,
                    const float             *au,
                    const FacetSynthPose    *pose,
                    int                      size)
{
  static const float neutral[FACET_SYNTH_N_AUS] = { 0 };
  float a[FACET_SYNTH_N_AUS];
  FacetSynthPose still;
  cairo_surface_t *surface;
  cairo_t *cr;
  cairo_pattern_t *bg;
  Draw d;
  Geometry g;
  FacetImage *image;

  g_return_val_if_fail (subject != NULL, NULL);
  g_return_val_if_fail (size >= 16 && size <= 4096, NULL);

  if (pose == NULL)
    {
      facet_synth_pose_init (&still);
      pose = &still;
    }
  for (int i = 0; i < FACET_SYNTH_N_AUS; i++)
    a[i] = CLAMP ((au ? au : neutral)[i], 0.0f, 1.0f);

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, size, size);
  cr = cairo_create (surface);

  /* the background does not move with the head */
  bg = cairo_pattern_create_linear (0, 0, 0, size);
  cairo_pattern_add_color_stop_rgb (bg, 0, subject->background.r, subject->background.g,
                                    subject->background.b);
  cairo_pattern_add_color_stop_rgb (bg, 1, subject->background2.r, subject->background2.g,
                                    subject->background2.b);
  cairo_set_source (cr, bg);
  cairo_paint (cr);
  cairo_pattern_destroy (bg);

  begin_draw (&d, cr, subject, a, pose, size);
  compute_geometry (subject, a, &g);
  draw_back (&d, &g);
  draw_face (&d, &g);
  draw_cheeks (&d, &g);
  draw_chin (&d, &g);
  draw_nose (&d, &g);
  draw_mouth (&d, &g);
  draw_beard (&d, &g);
  draw_eyes (&d, &g, pose);
  draw_brows (&d, &g);
  draw_hair (&d, &g);
  draw_glasses (&d, &g);

  cairo_destroy (cr);
  cairo_surface_flush (surface);
  image = to_image (surface, size, pose);
  cairo_surface_destroy (surface);
  return image;
}

/* ---------------------------------------------------------------- regions */

static void
mask_rect (Draw  *d,
           double x0,
           double y0,
           double x1,
           double y1)
{
  move_to (d, x0, y0, 0.0);
  line_to (d, x1, y0, 0.0);
  line_to (d, x1, y1, 0.0);
  line_to (d, x0, y1, 0.0);
  cairo_close_path (d->cr);
  cairo_fill (d->cr);
}

/* The rectangles (x0, y0, x1, y1 in face coordinates, before the pose) of
 * the parts of @regions, in FacetSynthRegion bit order, left before right;
 * @region gets each one's FacetSynthRegion. Returns how many (at most
 * FACET_SYNTH_N_REGION_BOXES). */
static int
region_rects (const FacetSynthSubject *s,
              guint                    regions,
              double                   rects[][4],
              guint                   *region)
{
  double yb = s->eye_y - s->brow_gap;
  int n = 0;

#define ADD_RECT(flag, a, b, c, d)                                                             \
  do                                                                                           \
    {                                                                                          \
      rects[n][0] = (a);                                                                       \
      rects[n][1] = (b);                                                                       \
      rects[n][2] = (c);                                                                       \
      rects[n][3] = (d);                                                                       \
      region[n++] = (flag);                                                                    \
    }                                                                                          \
  while (0)

  if (regions & FACET_SYNTH_REGION_BROWS)
    ADD_RECT (FACET_SYNTH_REGION_BROWS, 0.5 - s->eye_dx - s->eye_rx * s->brow_len - 0.07, yb - 0.11,
              0.5 + s->eye_dx + s->eye_rx * s->brow_len + 0.07, yb + s->brow_th / 2 + 0.03);
  if (regions & FACET_SYNTH_REGION_EYES)
    for (int side = 0; side < 2; side++)
      {
        double sg = side == 0 ? -1.0 : 1.0, ex = 0.5 + sg * s->eye_dx;
        double inner = ex - sg * (s->eye_rx + 0.02), outer = ex + sg * (s->eye_rx + 0.05);
        ADD_RECT (FACET_SYNTH_REGION_EYES, MIN (inner, outer), s->eye_y - s->eye_ry * 2.2 - 0.012,
                  MAX (inner, outer), s->eye_y + s->eye_ry * 0.75 + 0.035);
      }
  if (regions & FACET_SYNTH_REGION_CHEEKS)
    for (int side = 0; side < 2; side++)
      {
        double sg = side == 0 ? -1.0 : 1.0;
        double inner = 0.5 + sg * (s->nose_hw + 0.005), outer = 0.5 + sg * (s->face_hw + 0.01);
        ADD_RECT (FACET_SYNTH_REGION_CHEEKS, MIN (inner, outer), s->eye_y + 0.02, MAX (inner, outer),
                  s->mouth_y + 0.035);
      }
  if (regions & FACET_SYNTH_REGION_NOSE)
    ADD_RECT (FACET_SYNTH_REGION_NOSE, 0.5 - s->nose_hw - 0.03, s->eye_y - 0.012,
              0.5 + s->nose_hw + 0.03, s->nose_y + 0.015);
  if (regions & FACET_SYNTH_REGION_MOUTH)
    ADD_RECT (FACET_SYNTH_REGION_MOUTH, 0.5 - s->mouth_hw - 0.06, s->nose_y + 0.01,
              0.5 + s->mouth_hw + 0.06, s->mouth_y + s->lip_lo + 0.07);
  if (regions & FACET_SYNTH_REGION_CHIN)
    ADD_RECT (FACET_SYNTH_REGION_CHIN, 0.5 - s->face_hw * s->jaw - 0.03,
              s->mouth_y + s->lip_lo + 0.005, 0.5 + s->face_hw * s->jaw + 0.03, 1.1);
#undef ADD_RECT
  return n;
}

FacetImage *
facet_synth_region_mask (const FacetSynthSubject *subject,
                         guint                    regions,
                         int                      size)
{
  static const float neutral[FACET_SYNTH_N_AUS] = { 0 };
  FacetSynthPose pose;
  cairo_surface_t *surface;
  cairo_t *cr;
  FacetImage *image;
  Draw d;
  double rects[FACET_SYNTH_N_REGION_BOXES][4];
  guint kinds[FACET_SYNTH_N_REGION_BOXES];
  int n;

  g_return_val_if_fail (subject != NULL, NULL);
  g_return_val_if_fail (size >= 16 && size <= 4096, NULL);

  facet_synth_pose_init (&pose);
  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, size, size);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_paint (cr);
  begin_draw (&d, cr, subject, neutral, &pose, size);
  cairo_set_source_rgb (cr, 1, 1, 1);
  n = region_rects (subject, regions, rects, kinds);
  for (int i = 0; i < n; i++)
    mask_rect (&d, rects[i][0], rects[i][1], rects[i][2], rects[i][3]);

  cairo_destroy (cr);
  cairo_surface_flush (surface);
  {
    FacetSynthPose plain;
    facet_synth_pose_init (&plain);
    image = to_image (surface, size, &plain);
  }
  cairo_surface_destroy (surface);
  return image;
}

/* Where a point of the face (x, y, on its surface) lands in the frame
 * under @pose: project () and begin_draw ()'s transform, in frame
 * fractions. */
static void
pose_point (const FacetSynthSubject *s,
            const FacetSynthPose    *pose,
            double                   x,
            double                   y,
            double                  *ox,
            double                  *oy)
{
  Draw d = { .s = s, .sin_yaw = sin (pose->yaw), .cos_yaw = cos (pose->yaw),
             .sin_pitch = sin (pose->pitch), .cos_pitch = cos (pose->pitch) };
  double px, py, u, v;

  project (&d, x, y, 0.0, &px, &py);
  u = (px - 0.5) * pose->scale;
  v = (py - 0.55) * pose->scale;
  *ox = 0.5 + pose->dx + u * cos (pose->roll) - v * sin (pose->roll);
  *oy = 0.55 + pose->dy + u * sin (pose->roll) + v * cos (pose->roll);
}

int
facet_synth_region_boxes (const FacetSynthSubject *subject,
                          const FacetSynthPose    *pose,
                          guint                    regions,
                          float                    boxes[][4],
                          guint                   *kinds)
{
  double rects[FACET_SYNTH_N_REGION_BOXES][4];
  guint local[FACET_SYNTH_N_REGION_BOXES];
  FacetSynthPose neutral;
  int n;

  g_return_val_if_fail (subject != NULL && boxes != NULL, 0);

  if (pose == NULL)
    {
      facet_synth_pose_init (&neutral);
      pose = &neutral;
    }
  n = region_rects (subject, regions, rects, local);
  for (int i = 0; i < n; i++)
    {
      double x0 = G_MAXDOUBLE, y0 = G_MAXDOUBLE, x1 = -G_MAXDOUBLE, y1 = -G_MAXDOUBLE;

      /* the corners and edge midpoints: the surface bulges between them */
      for (int k = 0; k < 9; k++)
        {
          double fx = (k % 3) / 2.0, fy = (k / 3) / 2.0, x, y;

          pose_point (subject, pose, rects[i][0] + fx * (rects[i][2] - rects[i][0]),
                      rects[i][1] + fy * (rects[i][3] - rects[i][1]), &x, &y);
          x0 = MIN (x0, x);
          y0 = MIN (y0, y);
          x1 = MAX (x1, x);
          y1 = MAX (y1, y);
        }
      boxes[i][0] = (float) CLAMP (x0, 0.0, 1.0);
      boxes[i][1] = (float) CLAMP (y0, 0.0, 1.0);
      boxes[i][2] = (float) CLAMP (x1, 0.0, 1.0);
      boxes[i][3] = (float) CLAMP (y1, 0.0, 1.0);
      if (kinds != NULL)
        kinds[i] = local[i];
    }
  return n;
}
