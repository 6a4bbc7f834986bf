/* facet-timecode.h — frame numbers and timecodes as the coder types them
 *
 * Plain C without GTK (tested headless in tests/ui/test-timeline-data.c).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  FACET_TIMECODE_FRAME,   /* "1234" or "#1234": a frame number */
  FACET_TIMECODE_SECONDS, /* "75.5s", "1:15.5", "0:01:15.5": a time */
} FacetTimecodeKind;

/* Parses what a coder typed into "go to": a frame number ("1234", "#1234"),
 * seconds ("75.5s"), minutes and seconds ("1:15.5"), hours, minutes and
 * seconds ("1:02:03.5"), or SMPTE-like "hh:mm:ss:ff" with frames after the
 * last colon (needs @fps > 0). Seconds come back in @seconds, frames in
 * @frame. Returns FALSE for anything else. */
gboolean  facet_timecode_parse  (const char        *text,
                                 double             fps,
                                 FacetTimecodeKind *kind,
                                 gint64            *frame,
                                 double            *seconds);
/* "1:02.345" below an hour, "1:02:03.345" from an hour on. */
char     *facet_timecode_format (double             seconds);

G_END_DECLS
