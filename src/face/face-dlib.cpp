/* face-dlib.cpp — the project's one C++ translation unit: dlib's frontal
 * face detector (HOG + linear SVM) and its 68-point shape predictor, wrapped
 * behind the C functions of face-dlib.h.
 *
 * Every dlib call sits inside a try block: a damaged model file or an
 * allocation failure becomes a GError and never an exception crossing into
 * C code. Compiling dlib's headers is expensive (about 11 s and 600 MB), so
 * nothing else in the project includes them.
 */
#define G_LOG_DOMAIN "facet-face"

#include "config.h"

#include <cmath>
#include <exception>
#include <new>
#include <vector>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/serialize.h>

#include "face-dlib.h"

struct _FacetFaceDlib
{
  dlib::frontal_face_detector detector;
  dlib::shape_predictor       predictor;
};

/* dlib's rectangles are inclusive: right - left + 1 pixels wide. */
static void
fill_face (FacetFace                         *face,
           const dlib::rectangle             &rect,
           double                             score,
           const dlib::full_object_detection &shape)
{
  face->x = (float) rect.left ();
  face->y = (float) rect.top ();
  face->width = (float) rect.width ();
  face->height = (float) rect.height ();
  face->score = (float) score;
  for (unsigned long i = 0; i < FACET_FACE_N_LANDMARKS; i++)
    {
      face->landmarks[2 * i] = (float) shape.part (i).x ();
      face->landmarks[2 * i + 1] = (float) shape.part (i).y ();
    }
}

extern "C" FacetFaceDlib *
facet_face_dlib_new (const char  *landmark_model,
                     GError     **error)
{
  FacetFaceDlib *dlib = NULL;

  g_return_val_if_fail (landmark_model != NULL, NULL);

  if (!g_file_test (landmark_model, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL,
                   "%s: the landmark model file does not exist (Debian package libdlib-data "
                   "installs it)", landmark_model);
      return NULL;
    }

  try
    {
      dlib = new FacetFaceDlib ();
      dlib->detector = dlib::get_frontal_face_detector ();
      dlib::deserialize (landmark_model) >> dlib->predictor;
      if (dlib->predictor.num_parts () != FACET_FACE_N_LANDMARKS)
        {
          g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL,
                       "%s: a landmark model with %lu points, 68 are needed", landmark_model,
                       (unsigned long) dlib->predictor.num_parts ());
          delete dlib;
          return NULL;
        }
      return dlib;
    }
  catch (const std::exception &e)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL,
                   "%s: not a usable dlib landmark model (%s)", landmark_model, e.what ());
    }
  catch (...)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_MODEL,
                   "%s: not a usable dlib landmark model", landmark_model);
    }
  delete dlib;
  return NULL;
}

extern "C" void
facet_face_dlib_free (FacetFaceDlib *dlib)
{
  delete dlib;
}

extern "C" gboolean
facet_face_dlib_detect (FacetFaceDlib *dlib,
                        const guint8  *rgb,
                        int            width,
                        int            height,
                        int            stride,
                        int            upsample,
                        double         threshold,
                        GArray        *faces,
                        GError       **error)
{
  g_return_val_if_fail (dlib != NULL, FALSE);
  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, FALSE);
  g_return_val_if_fail (upsample >= 0 && upsample <= 2, FALSE);

  try
    {
      dlib::array2d<dlib::rgb_pixel> image (height, width);
      std::vector<dlib::rect_detection> found;

      for (int y = 0; y < height; y++)
        {
          const guint8 *row = rgb + (gsize) y * (gsize) stride;
          for (int x = 0; x < width; x++)
            image[y][x] = dlib::rgb_pixel (row[3 * x], row[3 * x + 1], row[3 * x + 2]);
        }

      if (upsample == 0)
        dlib->detector (image, found, threshold);
      else
        {
          /* As dlib's own tools do: detect in the enlarged image, then map
           * the boxes back down through the same pyramid. */
          dlib::pyramid_down<2> pyramid;
          dlib::array2d<dlib::rgb_pixel> larger;

          dlib::pyramid_up (image, larger, pyramid);
          if (upsample == 2)
            {
              dlib::array2d<dlib::rgb_pixel> largest;
              dlib::pyramid_up (larger, largest, pyramid);
              dlib->detector (largest, found, threshold);
            }
          else
            dlib->detector (larger, found, threshold);
          for (auto &d : found)
            d.rect = pyramid.rect_down (d.rect, (unsigned int) upsample);
        }

      for (const auto &d : found)
        {
          FacetFace face = {};
          dlib::full_object_detection shape = dlib->predictor (image, d.rect);

          fill_face (&face, d.rect, d.detection_confidence, shape);
          g_array_append_val (faces, face);
        }
      return TRUE;
    }
  catch (const std::bad_alloc &)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "out of memory detecting faces in a %dx%d image", width, height);
    }
  catch (const std::exception &e)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "face detection failed on a %dx%d image: %s", width, height, e.what ());
    }
  catch (...)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "face detection failed on a %dx%d image", width, height);
    }
  return FALSE;
}

/* The image of dlib's own type, copied from packed RGB. */
static void
to_dlib_image (dlib::array2d<dlib::rgb_pixel> &image,
               const guint8                   *rgb,
               int                             width,
               int                             height,
               int                             stride)
{
  image.set_size (height, width);
  for (int y = 0; y < height; y++)
    {
      const guint8 *row = rgb + (gsize) y * (gsize) stride;
      for (int x = 0; x < width; x++)
        image[y][x] = dlib::rgb_pixel (row[3 * x], row[3 * x + 1], row[3 * x + 2]);
    }
}

extern "C" gboolean
facet_face_dlib_landmarks (FacetFaceDlib *dlib,
                           const guint8  *rgb,
                           int            width,
                           int            height,
                           int            stride,
                           FacetFace     *face,
                           GError       **error)
{
  g_return_val_if_fail (dlib != NULL && face != NULL, FALSE);
  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, FALSE);

  try
    {
      dlib::array2d<dlib::rgb_pixel> image;
      dlib::rectangle rect ((long) lround (face->x), (long) lround (face->y),
                            (long) lround (face->x + face->width) - 1,
                            (long) lround (face->y + face->height) - 1);
      dlib::full_object_detection shape;

      to_dlib_image (image, rgb, width, height, stride);
      shape = dlib->predictor (image, rect);
      fill_face (face, rect, face->score, shape);
      return TRUE;
    }
  catch (const std::exception &e)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "landmarks failed on a %dx%d image: %s", width, height, e.what ());
    }
  catch (...)
    {
      g_set_error (error, FACET_FACE_ERROR, FACET_FACE_ERROR_INVALID,
                   "landmarks failed on a %dx%d image", width, height);
    }
  return FALSE;
}
