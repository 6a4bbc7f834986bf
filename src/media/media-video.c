/* media-video.c — video files through FFmpeg, frame-exact
 *
 * Frame n is the n-th picture in presentation order, the same picture the
 * ffmpeg tool outputs as its frame n with -fps_mode passthrough. Opening a
 * file reads the timestamps of all its video packets once (demuxing only, no
 * decoding; media-index.c keeps the result on disk for the next time) into an
 * index; frame n is then the packet with the n-th smallest presentation
 * timestamp. That makes the count exact and random access independent of
 * frame-rate arithmetic, so variable frame rates, B-frames and files whose
 * first timestamp is not zero all work.
 *
 * Random access seeks to the key packet the frame depends on, checks by byte
 * position that the demuxer landed there (and corrects if not), decodes
 * forward and picks the decoded picture whose timestamp is the frame's.
 * Frames before the target that no other frame refers to are not decoded at
 * all (skip_frame = AVDISCARD_NONREF), and after a jump the decoder is
 * drained right after the target's packet instead of being fed more frames
 * until B-frame reordering lets the target out. If the next request lies
 * ahead in the same stretch of decoding, the decoder just continues, so
 * stepping forward and sequential reading cost one decode per frame.
 *
 * The decoded picture is converted to RGB24 with swscale set up the way the
 * ffmpeg tool's scale filter sets it up (bicubic, the frame's own colour
 * matrix and range), so frames are bit-identical to `ffmpeg -pix_fmt rgb24`,
 * then rotated as the display matrix says.
 */
#define G_LOG_DOMAIN "facet-media"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "media-private.h"

/* Pictures decoded ahead of the one asked for (B-frame reordering, a
 * damaged frame's neighbours) are kept for the next request, up to this
 * many. */
#define MAX_PENDING 16

#define PACKET_KEY FACET_MEDIA_PACKET_KEY
#define PACKET_SHOWN FACET_MEDIA_PACKET_SHOWN

typedef FacetMediaPacket VideoPacket;

typedef struct _VideoDecoder VideoDecoder;

typedef struct
{
  char              *path;
  int                stream_index;
  AVRational         time_base;
  AVCodecParameters *par;
  const AVCodec     *codec;
  int                threads;
  int                rotation;   /* clockwise, applied after conversion */
  int                width;      /* decoded size, before rotation */
  int                height;

  /* The index, read-only after opening (shared by the random-access decoder
   * and every reader's decoder). */
  VideoPacket       *packets;    /* decode order */
  gint64             n_packets;
  gint64            *frame_packet; /* frame n -> its packet */
  gint64            *frame_key;    /* frame n -> the key packet to start decoding at */
  gint64             n_frames;
  GHashTable        *by_id;      /* &packet.pos or &packet.pts -> VideoPacket* */
  gboolean           id_is_pos;

  gboolean           index_from_cache;

  VideoDecoder      *random;     /* for get_frame, under the source's lock */
} Video;

struct _VideoDecoder
{
  Video             *video;
  AVFormatContext   *fmt;
  AVCodecContext    *ctx;
  AVPacket          *packet;
  gboolean           have_peek;  /* packet was read but not yet sent */
  gint64             peek_index;
  gint64             last_read;
  AVFrame           *frame;

  struct SwsContext *sws;
  int                sws_format;
  int                sws_width;
  int                sws_height;
  int                sws_space;
  int                sws_range;

  /* The current stretch of decoding: started at key packet run_key, fed up
   * to packet last_fed, pictures output up to timestamp last_out. */
  gboolean           run_valid;
  gboolean           draining;
  gint64             run_key;
  gint64             last_fed;
  gint64             last_out;
  GQueue             pending;    /* AVFrame*, increasing timestamps */
  gint64             last_request;

  guint64            seeks;
  guint64            decoded;
};

static void decoder_free (VideoDecoder *dec);

static gint64
packet_time (const AVPacket *pkt)
{
  return pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
}

static gint64
frame_time_stamp (const AVFrame *frame)
{
  return frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
}

/* Opening --------------------------------------------------------------- */

static int
decoder_threads (void)
{
  const char *env = g_getenv ("FACET_MEDIA_THREADS");

  /* One thread by default: analysis runs decoding beside inference on the
   * same cores, and one thread keeps random access free of frame-thread
   * latency. FACET_MEDIA_THREADS=0 lets FFmpeg choose. */
  if (env != NULL && *env != '\0')
    return CLAMP (atoi (env), 0, 64);
  return 1;
}

static gboolean
open_format (const char       *path,
             gboolean          find_info,
             AVFormatContext **out,
             GError          **error)
{
  AVFormatContext *fmt = NULL;
  int ret;

  ret = avformat_open_input (&fmt, path, NULL, NULL);
  if (ret < 0)
    {
      g_autofree char *why = facet_media_av_error_string (ret);

      if (ret == AVERROR (ENOENT) || ret == AVERROR (EACCES) || ret == AVERROR (EISDIR))
        g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO, "%s: cannot open (%s)", path,
                     why);
      else
        g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                     "%s: not a readable video file; it may be truncated or damaged (%s)", path,
                     why);
      return FALSE;
    }
  if (find_info)
    {
      ret = avformat_find_stream_info (fmt, NULL);
      if (ret < 0)
        {
          g_autofree char *why = facet_media_av_error_string (ret);

          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                       "%s: cannot read the streams of the video; it may be truncated or damaged "
                       "(%s)", path, why);
          avformat_close_input (&fmt);
          return FALSE;
        }
    }
  *out = fmt;
  return TRUE;
}

/* Only the video stream's packets are read; the others are not even loaded
 * where the container allows it. */
static void
discard_other_streams (AVFormatContext *fmt,
                       int              stream_index)
{
  for (unsigned i = 0; i < fmt->nb_streams; i++)
    fmt->streams[i]->discard = (int) i == stream_index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
}

static int
compare_frames (const void *a,
                const void *b,
                void       *data)
{
  const VideoPacket *packets = data;
  gint64 ia = *(const gint64 *) a, ib = *(const gint64 *) b;
  gint64 ta = packets[ia].pts, tb = packets[ib].pts;

  if (ta != tb)
    return ta < tb ? -1 : 1;
  return ia < ib ? -1 : ia > ib;
}

static int
compare_gint64 (const void *a,
                const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* A packet is recognised after a seek by its byte position, which every
 * common container reports and which does not depend on the demuxer's
 * timestamp guessing; by its timestamp where positions are missing or not
 * unique. Without either, random access reads from the start. */
static void
build_identity (Video *v)
{
  gboolean pos_ok = TRUE, pts_ok = TRUE;
  g_autofree gint64 *sorted = g_new (gint64, MAX (v->n_packets, 1));

  for (gint64 i = 0; i < v->n_packets; i++)
    {
      pos_ok &= v->packets[i].pos >= 0;
      pts_ok &= v->packets[i].pts != AV_NOPTS_VALUE;
    }
  for (int pass = 0; pass < 2 && v->by_id == NULL; pass++)
    {
      gboolean use_pos = pass == 0;

      if (use_pos ? !pos_ok : !pts_ok)
        continue;
      for (gint64 i = 0; i < v->n_packets; i++)
        sorted[i] = use_pos ? v->packets[i].pos : v->packets[i].pts;
      qsort (sorted, (size_t) v->n_packets, sizeof (gint64), compare_gint64);
      for (gint64 i = 1; i < v->n_packets; i++)
        if (sorted[i] == sorted[i - 1])
          goto next;
      v->by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
      v->id_is_pos = use_pos;
      for (gint64 i = 0; i < v->n_packets; i++)
        g_hash_table_insert (v->by_id, use_pos ? &v->packets[i].pos : &v->packets[i].pts,
                             &v->packets[i]);
next:
      ;
    }
  if (v->by_id == NULL)
    g_debug ("%s: packets have neither unique positions nor timestamps; random access will "
             "decode from the start", v->path);
}

/* For each frame, the key packet to start decoding at: the last key packet
 * that comes before the frame's packet in decode order and is not shown
 * after it. The second condition handles open GOPs, whose leading pictures
 * follow a key frame in decode order but show before it and need the
 * previous key frame's pictures. */
static void
build_keys (Video *v)
{
  g_autoptr (GArray) keys = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (gint64 i = 0; i < v->n_packets; i++)
    if (v->packets[i].flags & PACKET_KEY)
      g_array_append_val (keys, i);

  v->frame_key = g_new (gint64, v->n_frames);
  for (gint64 f = 0; f < v->n_frames; f++)
    {
      gint64 p = v->frame_packet[f];
      gint64 key = 0;
      guint lo = 0, hi = keys->len;

      /* Binary search for the last key packet at or before p... */
      while (lo < hi)
        {
          guint mid = lo + (hi - lo) / 2;

          if (g_array_index (keys, gint64, mid) <= p)
            lo = mid + 1;
          else
            hi = mid;
        }
      /* ... then back over keys that show after the frame. */
      while (lo > 0)
        {
          gint64 k = g_array_index (keys, gint64, lo - 1);

          if (v->packets[k].pts <= v->packets[p].pts)
            {
              key = k;
              break;
            }
          lo--;
        }
      v->frame_key[f] = key;
    }
}

/* Reads every video packet's timestamps; no decoding. */
static gboolean
read_packets (Video           *v,
              AVFormatContext *fmt,
              GError         **error)
{
  g_autoptr (GArray) packets = g_array_new (FALSE, FALSE, sizeof (VideoPacket));
  AVPacket *pkt = av_packet_alloc ();
  AVStream *st = fmt->streams[v->stream_index];
  gboolean corrupt_tail = FALSE;
  gint64 n_shown = 0, content_end = G_MININT64;
  int ret;

  while ((ret = av_read_frame (fmt, pkt)) >= 0)
    {
      gint64 ts = packet_time (pkt);
      VideoPacket p;

      /* How far the streams' packets reach, to compare with the length the
       * header states (all streams: audio may outlast the video). */
      if (ts != AV_NOPTS_VALUE)
        content_end = MAX (content_end,
                           av_rescale_q (ts + MAX (pkt->duration, 0),
                                         fmt->streams[pkt->stream_index]->time_base,
                                         AV_TIME_BASE_Q));
      if (pkt->stream_index != v->stream_index)
        {
          av_packet_unref (pkt);
          continue;
        }
      p.pts = packet_time (pkt);
      p.dts = pkt->dts;
      p.pos = pkt->pos;
      p.duration = pkt->duration;
      p.flags = 0;
      if (pkt->flags & AV_PKT_FLAG_KEY)
        p.flags |= PACKET_KEY;
      if (!(pkt->flags & AV_PKT_FLAG_DISCARD))
        p.flags |= PACKET_SHOWN;
      /* A short read at the end of a cut file shows up as a corrupt packet. */
      corrupt_tail = (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0;
      av_packet_unref (pkt);
      if (p.pts == AV_NOPTS_VALUE)
        {
          av_packet_free (&pkt);
          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                       "%s: video packet %u has no timestamp; frame-exact access needs a "
                       "container with timestamps (remux it, e.g. to MKV)", v->path, packets->len);
          return FALSE;
        }
      if (p.flags & PACKET_SHOWN)
        n_shown++;
      g_array_append_val (packets, p);
    }
  av_packet_free (&pkt);

  if (ret != AVERROR_EOF)
    {
      g_autofree char *why = facet_media_av_error_string (ret);

      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                   "%s: the file is damaged or truncated after video frame %" G_GINT64_FORMAT
                   " (%s)", v->path, n_shown, why);
      return FALSE;
    }
  if (corrupt_tail || (st->nb_frames > 0 && (gint64) packets->len < st->nb_frames))
    {
      if (st->nb_frames > 0)
        g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                     "%s: the file is truncated (%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                     " video frames are present)", v->path, n_shown, (gint64) st->nb_frames);
      else
        g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                     "%s: the file is truncated (it ends inside video frame %" G_GINT64_FORMAT
                     ")", v->path, n_shown - 1);
      return FALSE;
    }
  /* A cut Matroska or AVI file reads like a shorter one; only the length
   * its header promised gives it away. Half a second of slack (or two
   * frames) covers rounding and streams that end at slightly different
   * times. */
  if (fmt->duration > 0 && fmt->start_time != AV_NOPTS_VALUE && content_end != G_MININT64
      && fmt->duration_estimation_method == AVFMT_DURATION_FROM_STREAM)
    {
      double promised = fmt->duration / (double) AV_TIME_BASE;
      /* Some containers count the length from the first timestamp, others
       * (MP4 with an initial empty edit) from zero: take the kinder. */
      double present = MAX (content_end - fmt->start_time, content_end) / (double) AV_TIME_BASE;
      double frame = st->avg_frame_rate.num > 0 ? 1.0 / av_q2d (st->avg_frame_rate) : 0.0;

      if (promised - present > MAX (0.5, 2.0 * frame))
        {
          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                       "%s: the file is truncated (it holds %.2f s of the %.2f s its header "
                       "states)", v->path, present, promised);
          return FALSE;
        }
    }
  v->n_packets = packets->len;
  v->packets = (VideoPacket *) g_array_free (g_steal_pointer (&packets), FALSE);
  return TRUE;
}

static void
clear_index (Video *v)
{
  g_clear_pointer (&v->by_id, g_hash_table_destroy);
  g_clear_pointer (&v->packets, g_free);
  g_clear_pointer (&v->frame_packet, g_free);
  g_clear_pointer (&v->frame_key, g_free);
  v->n_packets = v->n_frames = 0;
}

/* Frames in presentation order, key frames, packet identities. */
static gboolean
finish_index (Video   *v,
              GError **error)
{
  gint64 n_shown = 0;

  for (gint64 i = 0; i < v->n_packets; i++)
    if (v->packets[i].flags & PACKET_SHOWN)
      n_shown++;
  if (n_shown == 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_EMPTY,
                   "%s: the video stream has no frames", v->path);
      return FALSE;
    }
  v->n_frames = n_shown;
  v->frame_packet = g_new (gint64, n_shown);
  for (gint64 i = 0, f = 0; i < v->n_packets; i++)
    if (v->packets[i].flags & PACKET_SHOWN)
      v->frame_packet[f++] = i;
  g_qsort_with_data (v->frame_packet, (gint) n_shown, sizeof (gint64), compare_frames, v->packets);

  for (gint64 f = 1; f < n_shown; f++)
    if (v->packets[v->frame_packet[f]].pts == v->packets[v->frame_packet[f - 1]].pts)
      {
        g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                     "%s: video frames %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT " have the "
                     "same timestamp; frame-exact access is not possible (re-encode the file)",
                     v->path, f - 1, f);
        return FALSE;
      }

  build_identity (v);
  build_keys (v);
  return TRUE;
}

static int
display_rotation (AVStream *st)
{
  const guint8 *matrix = av_stream_get_side_data (st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
  double angle;
  int quarter;

  if (matrix == NULL)
    return 0;
  /* av_display_rotation_get() counts counterclockwise. */
  angle = -av_display_rotation_get ((const int32_t *) matrix);
  if (isnan (angle))
    return 0;
  quarter = (int) lround (angle / 90.0);
  return ((quarter % 4) + 4) % 4 * 90;
}

static double
ts_seconds (Video  *v,
            gint64  ts)
{
  return (double) ts * av_q2d (v->time_base);
}

static void
describe (Video           *v,
          AVFormatContext *fmt,
          FacetMediaInfo  *info)
{
  AVStream *st = fmt->streams[v->stream_index];
  gint64 n = v->n_frames;
  gint64 first = v->packets[v->frame_packet[0]].pts;
  gint64 last = v->packets[v->frame_packet[n - 1]].pts;
  gint64 last_duration = v->packets[v->frame_packet[n - 1]].duration;
  g_autofree gint64 *deltas = NULL;
  gint64 median = 0, tolerance;
  gboolean vfr = FALSE;
  AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;

  if (n > 1)
    {
      deltas = g_new (gint64, n - 1);
      for (gint64 f = 1; f < n; f++)
        deltas[f - 1] = v->packets[v->frame_packet[f]].pts
                        - v->packets[v->frame_packet[f - 1]].pts;
      qsort (deltas, (size_t) (n - 1), sizeof (gint64), compare_gint64);
      median = deltas[(n - 1) / 2];
      /* Containers round timestamps to their clock (Matroska: 1 ms), so a
       * constant rate shows as steps of 33 and 34 ms: allow a tick. */
      tolerance = MAX (1, median / 50);
      vfr = deltas[0] < median - tolerance || deltas[n - 2] > median + tolerance;
    }
  if (last_duration <= 0)
    last_duration = median;

  info->n_frames = n;
  info->variable_frame_rate = vfr;
  info->start_time = ts_seconds (v, first);
  if (!vfr && rate.num > 0 && rate.den > 0
      && (n < 2 || fabs (1.0 / av_q2d (rate) - ts_seconds (v, median))
                   <= ts_seconds (v, MAX (1, median / 50)) + 1e-9))
    {
      /* A constant rate the header states exactly (30000/1001 rather than the
       * 29.97 that millisecond timestamps would suggest). */
      info->fps = av_q2d (rate);
      info->duration = (double) n / info->fps;
    }
  else
    {
      info->duration = ts_seconds (v, last - first + MAX (last_duration, 0));
      if (!(info->duration > 0.0))
        info->duration = n > 1 ? ts_seconds (v, last - first) : 0.0;
      info->fps = info->duration > 0.0 ? (double) n / info->duration : 0.0;
    }
  info->rotation = v->rotation;
  info->width = v->rotation % 180 ? v->height : v->width;
  info->height = v->rotation % 180 ? v->width : v->height;
  info->codec = g_strdup (avcodec_get_name (v->par->codec_id));
  info->container = g_strdup (fmt->iformat->name);
}

/* Decoding -------------------------------------------------------------- */

static void
pending_clear (VideoDecoder *dec)
{
  AVFrame *frame;

  while ((frame = g_queue_pop_head (&dec->pending)) != NULL)
    av_frame_free (&frame);
}

static gboolean
decoder_open_codec (VideoDecoder *dec,
                    GError      **error)
{
  Video *v = dec->video;
  int ret;

  dec->ctx = avcodec_alloc_context3 (v->codec);
  if (dec->ctx == NULL || avcodec_parameters_to_context (dec->ctx, v->par) < 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: cannot set up the %s decoder", v->path, v->codec->name);
      return FALSE;
    }
  dec->ctx->pkt_timebase = v->time_base;
  dec->ctx->thread_count = v->threads;
  ret = avcodec_open2 (dec->ctx, v->codec, NULL);
  if (ret < 0)
    {
      g_autofree char *why = facet_media_av_error_string (ret);

      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: cannot open the %s decoder (%s)", v->path, v->codec->name, why);
      return FALSE;
    }
  return TRUE;
}

/* @fmt: an open demuxer to take over, or NULL to open the file anew. */
static VideoDecoder *
decoder_new (Video           *v,
             AVFormatContext *fmt,
             GError         **error)
{
  VideoDecoder *dec = g_new0 (VideoDecoder, 1);

  dec->video = v;
  dec->fmt = fmt;
  dec->sws_format = AV_PIX_FMT_NONE;
  dec->last_read = -1;
  dec->last_request = -2;
  g_queue_init (&dec->pending);
  if (dec->fmt == NULL && !open_format (v->path, TRUE, &dec->fmt, error))
    goto fail;
  if ((unsigned) v->stream_index >= dec->fmt->nb_streams)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO,
                   "%s: the file changed since it was opened", v->path);
      goto fail;
    }
  discard_other_streams (dec->fmt, v->stream_index);
  if (!decoder_open_codec (dec, error))
    goto fail;
  dec->packet = av_packet_alloc ();
  dec->frame = av_frame_alloc ();
  return dec;

fail:
  decoder_free (dec);
  return NULL;
}

static void
decoder_free (VideoDecoder *dec)
{
  if (dec == NULL)
    return;
  pending_clear (dec);
  sws_freeContext (dec->sws);
  av_frame_free (&dec->frame);
  av_packet_free (&dec->packet);
  avcodec_free_context (&dec->ctx);
  avformat_close_input (&dec->fmt);
  g_free (dec);
}

static gint64
identify (Video          *v,
          const AVPacket *pkt,
          gint64          expected)
{
  const VideoPacket *found;
  gint64 id;

  if (expected >= 0 && expected < v->n_packets)
    {
      const VideoPacket *p = &v->packets[expected];

      if (v->by_id == NULL)
        return expected;
      if (v->id_is_pos ? p->pos == pkt->pos : p->pts == packet_time (pkt))
        return expected;
    }
  if (v->by_id == NULL)
    return -1;
  id = v->id_is_pos ? pkt->pos : packet_time (pkt);
  found = g_hash_table_lookup (v->by_id, &id);
  return found != NULL ? found - v->packets : -1;
}

/* The next video packet into dec->packet and its index in decode order.
 * Returns 1, 0 at the end of the file, -1 on an error. */
static int
decoder_read (VideoDecoder *dec,
              gint64       *index,
              GError      **error)
{
  Video *v = dec->video;

  if (dec->have_peek)
    {
      dec->have_peek = FALSE;
      *index = dec->peek_index;
      return 1;
    }
  for (;;)
    {
      gint64 i;
      int ret;

      av_packet_unref (dec->packet);
      ret = av_read_frame (dec->fmt, dec->packet);
      if (ret == AVERROR_EOF)
        return 0;
      if (ret < 0)
        {
          g_autofree char *why = facet_media_av_error_string (ret);

          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_IO, "%s: cannot read (%s)",
                       v->path, why);
          return -1;
        }
      if (dec->packet->stream_index != v->stream_index)
        continue;
      i = identify (v, dec->packet, dec->last_read + 1);
      if (i < 0)
        {
          g_debug ("%s: passing over a packet not in the index (pos %" G_GINT64_FORMAT ")",
                   v->path, dec->packet->pos);
          continue;
        }
      dec->last_read = i;
      *index = i;
      return 1;
    }
}

/* Starts reading at the first packet, by opening the file again: the one
 * way to get there that every demuxer supports. */
static gboolean
decoder_rewind (VideoDecoder *dec,
                GError      **error)
{
  AVFormatContext *fmt = NULL;

  if (!open_format (dec->video->path, TRUE, &fmt, error))
    return FALSE;
  avformat_close_input (&dec->fmt);
  dec->fmt = fmt;
  discard_other_streams (dec->fmt, dec->video->stream_index);
  dec->last_read = -1;
  return TRUE;
}

/* Positions the demuxer so that the next packet read is packet @key, and
 * resets the decoder. */
static gboolean
decoder_seek (VideoDecoder *dec,
              gint64        key,
              GError      **error)
{
  Video *v = dec->video;
  gint64 start = key;
  gint64 i = -1;
  int ret;

  avcodec_flush_buffers (dec->ctx);
  pending_clear (dec);
  dec->have_peek = FALSE;
  dec->run_valid = FALSE;
  dec->draining = FALSE;
  dec->seeks++;

  /* Ask the demuxer for the key packet's time; if it lands after the key
   * packet (its idea of time differs from the packets'), ask again for
   * earlier key packets, and as a last resort read from the start. */
  for (int attempt = 0; attempt < 4 && v->by_id != NULL; attempt++)
    {
      const VideoPacket *p = &v->packets[start];
      gint64 ts = p->pts;

      ret = av_seek_frame (dec->fmt, v->stream_index, ts, AVSEEK_FLAG_BACKWARD);
      dec->last_read = -2; /* no expectation: identify by position */
      if (ret >= 0 && (ret = decoder_read (dec, &i, NULL)) == 1 && i <= key)
        {
          if (attempt > 0 || i < key)
            g_debug ("%s: seek for packet %" G_GINT64_FORMAT " landed at %" G_GINT64_FORMAT
                     " (attempt %d)", v->path, key, i, attempt + 1);
          goto found;
        }
      i = -1;
      /* The previous key packet, if any. */
      while (start > 0 && !(v->packets[--start].flags & PACKET_KEY))
        ;
    }
  if (!decoder_rewind (dec, error))
    return FALSE;
  if ((ret = decoder_read (dec, &i, error)) != 1)
    goto lost;

found:
  /* Landed at or before the key packet: read up to it (demuxing only). */
  while (i < key)
    if ((ret = decoder_read (dec, &i, error)) != 1)
      goto lost;
  if (i != key)
    {
      ret = 0;
      goto lost;
    }
  dec->have_peek = TRUE;
  dec->peek_index = key;
  dec->run_valid = TRUE;
  dec->run_key = key;
  dec->last_fed = key - 1;
  dec->last_out = G_MININT64;
  return TRUE;

lost:
  if (ret == 0)
    g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                 "%s: cannot find video packet %" G_GINT64_FORMAT " again; the file changed "
                 "since it was opened", v->path, key);
  return FALSE;
}

/* How many packets past the target the decoder may need before the target
 * comes out: its reordering delay, frame threads, and a margin. */
static int
decoder_delay (VideoDecoder *dec)
{
  int threads = dec->ctx->active_thread_type == FF_THREAD_FRAME ? dec->ctx->thread_count : 0;

  return MAX (dec->ctx->has_b_frames, 0) + threads + 2;
}

static void
pending_push (VideoDecoder *dec,
              AVFrame      *frame,
              gint64        ts)
{
  AVFrame *copy = av_frame_alloc ();
  GList *l;

  av_frame_move_ref (copy, frame);
  for (l = dec->pending.tail; l != NULL; l = l->prev)
    if (frame_time_stamp (l->data) < ts)
      break;
  if (l == NULL)
    g_queue_push_head (&dec->pending, copy);
  else
    g_queue_insert_after (&dec->pending, l, copy);
  if (dec->pending.length > MAX_PENDING)
    {
      AVFrame *oldest = g_queue_pop_head (&dec->pending);
      av_frame_free (&oldest);
    }
}

/* The pending picture with timestamp @ts, dropping the ones before it. */
static AVFrame *
pending_take (VideoDecoder *dec,
              gint64        ts)
{
  AVFrame *head;

  while ((head = g_queue_peek_head (&dec->pending)) != NULL && frame_time_stamp (head) <= ts)
    {
      g_queue_pop_head (&dec->pending);
      if (frame_time_stamp (head) == ts)
        return head;
      av_frame_free (&head);
    }
  return NULL;
}

/* Decodes frame @f and returns its picture (a new AVFrame), or NULL with
 * FACET_MEDIA_ERROR_FRAME when that picture cannot be decoded, or with
 * another error when the file cannot be read. */
static AVFrame *
decoder_get (VideoDecoder *dec,
             gint64        f,
             GError      **error)
{
  Video *v = dec->video;
  gint64 target = v->frame_packet[f];
  gint64 target_ts = v->packets[target].pts;
  gint64 key = v->frame_key[f];
  gboolean target_fed, jump, drain = FALSE;
  gint64 fed_after;
  AVFrame *found;

  jump = f != dec->last_request + 1;
  dec->last_request = f;
  found = pending_take (dec, target_ts);
  if (found != NULL)
    return found;

  /* Continue the current stretch if the target is still ahead in it and
   * everything it depends on has been (or will be) decoded in it. */
  if (!(dec->run_valid && target_ts > dec->last_out && key >= dec->run_key
        && key <= dec->last_fed + 1))
    {
      if (!decoder_seek (dec, key, error))
        return NULL;
      /* A jump: rather than decode more pictures until the reordering
       * delay lets the target out, drain the decoder right after the
       * target's packet. The stretch ends there; what came out with the
       * target is kept for the next request. Someone stepping frame by frame
       * (no jump) keeps the stretch going instead. */
      drain = jump;
    }
  target_fed = target <= dec->last_fed;
  fed_after = target_fed ? dec->last_fed - target : 0;

  for (;;)
    {
      gint64 i;
      int ret;

      /* Collect what the decoder has. */
      for (int errors = 0;;)
        {
          gint64 ts;

          ret = avcodec_receive_frame (dec->ctx, dec->frame);
          if (ret == AVERROR (EAGAIN))
            break;
          if (ret == AVERROR_EOF)
            {
              /* Drained at the end of the file: a new stretch must seek. */
              dec->run_valid = FALSE;
              break;
            }
          if (ret < 0)
            {
              /* A damaged picture. While draining, the decoder still holds
               * others; otherwise the next packet may be fine. */
              if (dec->draining && ++errors < 64)
                continue;
              break;
            }
          dec->decoded++;
          ts = frame_time_stamp (dec->frame);
          if (ts > dec->last_out)
            dec->last_out = ts;
          if (ts == target_ts && found == NULL)
            {
              found = av_frame_alloc ();
              av_frame_move_ref (found, dec->frame);
            }
          else if (ts > target_ts)
            pending_push (dec, dec->frame, ts);
          else
            av_frame_unref (dec->frame);
        }
      if (found != NULL)
        return found;
      if (dec->draining || !dec->run_valid || (target_fed && fed_after > decoder_delay (dec)))
        goto lost;

      /* Feed the next packet. */
      ret = decoder_read (dec, &i, error);
      if (ret < 0)
        {
          dec->run_valid = FALSE;
          return NULL;
        }
      if (ret == 0)
        {
          avcodec_send_packet (dec->ctx, NULL);
          dec->draining = TRUE;
          continue;
        }
      if (i <= dec->last_fed)
        continue; /* already sent (cannot happen with a sane demuxer) */

      /* Pictures shown before the target are needed only as references. */
      dec->ctx->skip_frame = v->packets[i].pts < target_ts && i != key ? AVDISCARD_NONREF
                                                                       : AVDISCARD_DEFAULT;
      ret = avcodec_send_packet (dec->ctx, dec->packet);
      if (ret == AVERROR (EAGAIN))
        {
          /* The decoder wants its output taken first; send this one again. */
          dec->have_peek = TRUE;
          dec->peek_index = i;
          continue;
        }
      if (ret < 0)
        g_debug ("%s: packet %" G_GINT64_FORMAT " is damaged", v->path, i);
      dec->last_fed = i;
      if (target_fed)
        fed_after++;
      else if (i >= target)
        target_fed = TRUE;
      if (target_fed && drain && !dec->draining)
        {
          avcodec_send_packet (dec->ctx, NULL);
          dec->draining = TRUE;
        }
    }

lost:
  g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FRAME,
               "%s: frame %" G_GINT64_FORMAT " is damaged and cannot be decoded", v->path, f);
  return NULL;
}

/* Conversion ------------------------------------------------------------ */

static void
free_pixels (gpointer data)
{
  g_free (data);
}

/* RGB image of @w x @h whose buffer has room for swscale's SIMD writes,
 * which may run up to a vector past the last pixel of the last row. */
static FacetImage *
new_rgb (int w,
         int h)
{
  gsize stride = 3 * (gsize) w;
  guint8 *data = g_malloc (stride * (gsize) h + 64);

  return facet_image_new_wrap (data, w, h, (int) stride, free_pixels, data);
}

static FacetImage *
rotate (FacetImage *src,
        int         degrees)
{
  int w = src->width, h = src->height;
  FacetImage *dst = degrees == 180 ? new_rgb (w, h) : new_rgb (h, w);

  for (int y = 0; y < h; y++)
    {
      const guint8 *row = src->data + (gsize) y * src->stride;

      for (int x = 0; x < w; x++)
        {
          int dx, dy;
          guint8 *out;

          switch (degrees)
            {
            case 90: /* clockwise: the left column becomes the top row */
              dx = h - 1 - y;
              dy = x;
              break;
            case 180:
              dx = w - 1 - x;
              dy = h - 1 - y;
              break;
            default: /* 270 */
              dx = y;
              dy = w - 1 - x;
              break;
            }
          out = dst->data + (gsize) dy * dst->stride + 3 * (gsize) dx;
          out[0] = row[3 * x];
          out[1] = row[3 * x + 1];
          out[2] = row[3 * x + 2];
        }
    }
  return dst;
}

/* The conversion matches the ffmpeg tool's auto-inserted scale filter:
 * bicubic (unused without scaling, but it selects the same code paths), the
 * frame's own colour matrix (BT.601 where unspecified) and input range, full
 * range out. */
static FacetImage *
convert (VideoDecoder  *dec,
         const AVFrame *frame,
         GError       **error)
{
  Video *v = dec->video;
  int space = frame->colorspace, range = frame->color_range;
  g_autoptr (FacetImage) image = NULL;
  guint8 *dst[4] = { NULL };
  int dst_stride[4] = { 0 };

  if (dec->sws == NULL || frame->format != dec->sws_format || frame->width != dec->sws_width
      || frame->height != dec->sws_height || space != dec->sws_space || range != dec->sws_range)
    {
      const int *in_table, *out_table;
      int in_full, out_full, brightness, contrast, saturation;
      int matrix = space;

      sws_freeContext (dec->sws);
      dec->sws = sws_getContext (frame->width, frame->height, frame->format, v->width, v->height,
                                 AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
      if (dec->sws == NULL)
        {
          g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                       "%s: cannot convert %s pictures to RGB", v->path,
                       av_get_pix_fmt_name (frame->format) ? av_get_pix_fmt_name (frame->format)
                                                           : "unknown");
          dec->sws_format = AV_PIX_FMT_NONE;
          return NULL;
        }
      if (matrix < 1 || matrix > 10 || matrix == 8)
        matrix = AVCOL_SPC_BT470BG;
      sws_getColorspaceDetails (dec->sws, (int **) &in_table, &in_full, (int **) &out_table,
                                &out_full, &brightness, &contrast, &saturation);
      in_table = sws_getCoefficients (matrix);
      if (range != AVCOL_RANGE_UNSPECIFIED)
        in_full = range == AVCOL_RANGE_JPEG;
      sws_setColorspaceDetails (dec->sws, in_table, in_full, out_table, out_full, brightness,
                                contrast, saturation);
      dec->sws_format = frame->format;
      dec->sws_width = frame->width;
      dec->sws_height = frame->height;
      dec->sws_space = space;
      dec->sws_range = range;
    }

  image = new_rgb (v->width, v->height);
  dst[0] = image->data;
  dst_stride[0] = image->stride;
  sws_scale (dec->sws, (const guint8 * const *) frame->data, frame->linesize, 0, frame->height,
             dst, dst_stride);
  if (v->rotation != 0)
    return rotate (image, v->rotation);
  return g_steal_pointer (&image);
}

/* The backend ----------------------------------------------------------- */

static void
video_free (gpointer backend)
{
  Video *v = backend;

  decoder_free (v->random);
  clear_index (v);
  avcodec_parameters_free (&v->par);
  g_free (v->path);
  g_free (v);
}

static FacetImage *
video_get_frame (gpointer backend,
                 gint64   index,
                 GError **error)
{
  Video *v = backend;
  AVFrame *frame = decoder_get (v->random, index, error);
  FacetImage *image;

  if (frame == NULL)
    return NULL;
  image = convert (v->random, frame, error);
  av_frame_free (&frame);
  return image;
}

static gpointer
video_cursor_new (gpointer backend,
                  GError **error)
{
  return decoder_new (backend, NULL, error);
}

static FacetImage *
video_cursor_get (gpointer cursor,
                  gint64   index,
                  GError **error)
{
  VideoDecoder *dec = cursor;
  AVFrame *frame = decoder_get (dec, index, error);
  FacetImage *image;

  if (frame == NULL)
    return NULL;
  image = convert (dec, frame, error);
  av_frame_free (&frame);
  return image;
}

static void
video_cursor_free (gpointer cursor)
{
  decoder_free (cursor);
}

static double
video_frame_time (gpointer backend,
                  gint64   index)
{
  Video *v = backend;

  return ts_seconds (v, v->packets[v->frame_packet[index]].pts
                        - v->packets[v->frame_packet[0]].pts);
}

static void
video_get_stats (gpointer         backend,
                 FacetMediaStats *stats)
{
  Video *v = backend;

  stats->seeks += v->random->seeks;
  stats->decoded += v->random->decoded;
  stats->index_from_cache = v->index_from_cache;
}

static const FacetMediaBackendClass video_class = {
  .name = "video",
  .get_frame = video_get_frame,
  .cursor_new = video_cursor_new,
  .cursor_get = video_cursor_get,
  .cursor_free = video_cursor_free,
  .frame_time = video_frame_time,
  .get_stats = video_get_stats,
  .free = video_free,
};

gpointer
facet_media_video_open (const char                    *path,
                        FacetMediaInfo                *info,
                        const FacetMediaBackendClass **klass,
                        GError                       **error)
{
  AVFormatContext *fmt = NULL;
  FacetMediaIndexKey key;
  gboolean have_key;
  AVStream *st;
  Video *v;
  int index;

  facet_media_init_ffmpeg ();

  if (!open_format (path, TRUE, &fmt, error))
    return NULL;

  /* The main video stream, not a cover picture. */
  index = av_find_best_stream (fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (index < 0 || (fmt->streams[index]->disposition & AV_DISPOSITION_ATTACHED_PIC))
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                   index == AVERROR_DECODER_NOT_FOUND
                     ? "%s: no decoder for the video stream"
                     : "%s: the file has no video stream", path);
      avformat_close_input (&fmt);
      return NULL;
    }
  st = fmt->streams[index];

  v = g_new0 (Video, 1);
  v->path = g_strdup (path);
  v->stream_index = index;
  v->time_base = st->time_base;
  v->threads = decoder_threads ();
  v->par = avcodec_parameters_alloc ();
  avcodec_parameters_copy (v->par, st->codecpar);
  v->codec = avcodec_find_decoder (st->codecpar->codec_id);
  v->width = st->codecpar->width;
  v->height = st->codecpar->height;
  v->rotation = display_rotation (st);

  if (v->codec == NULL)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_UNSUPPORTED,
                   "%s: the video codec “%s” is not supported", path,
                   st->codecpar->codec_id == AV_CODEC_ID_NONE
                     ? (st->codecpar->codec_tag ? av_fourcc2str (st->codecpar->codec_tag) : "unknown")
                     : avcodec_get_name (st->codecpar->codec_id));
      goto fail;
    }
  if (v->width <= 0 || v->height <= 0)
    {
      g_set_error (error, FACET_MEDIA_ERROR, FACET_MEDIA_ERROR_FORMAT,
                   "%s: the video stream has no picture size; it may be damaged", path);
      goto fail;
    }

  /* The index from the cache if the file is unchanged, else from the file
   * (and into the cache). */
  have_key = facet_media_index_key_init (&key, path);
  key.stream_index = index;
  key.codec_id = st->codecpar->codec_id;
  key.time_base_num = st->time_base.num;
  key.time_base_den = st->time_base.den;
  if (have_key)
    {
      gsize n = 0;

      v->packets = facet_media_index_load (path, &key, &n);
      v->n_packets = (gint64) n;
      if (v->packets != NULL && finish_index (v, NULL))
        v->index_from_cache = TRUE;
      else
        clear_index (v);
    }
  if (!v->index_from_cache)
    {
      if (!read_packets (v, fmt, error) || !finish_index (v, error))
        goto fail;
      if (have_key)
        facet_media_index_save (path, &key, v->packets, (gsize) v->n_packets);
    }
  describe (v, fmt, info);

  /* The demuxer that read the index becomes the random-access decoder's. */
  v->random = decoder_new (v, g_steal_pointer (&fmt), error);
  if (v->random == NULL)
    {
      g_free (info->codec);
      g_free (info->container);
      info->codec = info->container = NULL;
      video_free (v);
      return NULL;
    }
  *klass = &video_class;
  return v;

fail:
  avformat_close_input (&fmt);
  video_free (v);
  return NULL;
}
