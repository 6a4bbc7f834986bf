#!/usr/bin/python3
"""Writes the seed corpus of fuzz-index: cached index files in the layout of
src/media/media-index.c (little-endian; SHA-256 trailer)."""
import hashlib
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus-index")
os.makedirs(out, exist_ok=True)


def index(packets, size=123456, mtime=1_700_000_000_000_000, stream=0, codec=27, tb=(1, 12800),
          content=bytes(range(32))):
    body = b"FACETIX1" + struct.pack("<II", 1, 36)
    body += struct.pack("<QqiiII", size, mtime, stream, codec, tb[0], tb[1]) + content
    body += struct.pack("<Q", len(packets))
    for pts, dts, pos, dur, flags in packets:
        body += struct.pack("<qqqqI", pts, dts, pos, dur, flags)
    return body + hashlib.sha256(body).digest()


NOPTS = -(1 << 63)
seeds = {
    # Key frame, then P-frames, all shown.
    "p-only.idx": index([(i * 512, i * 512, 48 + i * 900, 512, 3 if i % 12 == 0 else 2)
                         for i in range(30)]),
    # B-frames: pts out of decode order, an edit-list packet not shown.
    "b-frames.idx": index([(0, -1024, 48, 512, 1), (2048, -512, 900, 512, 3),
                           (1024, 0, 1500, 512, 2), (512, 512, 1900, 512, 2),
                           (1536, 1024, 2300, 512, 2), (3072, 1536, 2800, 512, 3)],
                          codec=27, tb=(1, 1000)),
    # Positions unknown, a missing dts.
    "no-pos.idx": index([(i * 40, NOPTS if i == 0 else i * 40, -1, 40, 3) for i in range(8)],
                        codec=7, tb=(1, 1000)),
    # One packet.
    "single.idx": index([(0, 0, 0, 1, 3)]),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
