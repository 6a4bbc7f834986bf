/* face-error.c — the face module's error domain (a file of its own so that
 * the CNN's parser builds alone for the fuzzer, without dlib).
 */
#include "config.h"

#include "facet-face.h"

G_DEFINE_QUARK (facet-face-error-quark, facet_face_error)
