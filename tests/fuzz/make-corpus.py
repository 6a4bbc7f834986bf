#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (committed; rerun to refresh).

corpus-pickle/: data.pkl of small torch.save() checkpoints at pickle
protocols 2-5, plus hand-written streams. corpus-safetensors/: small
safetensors files.
"""
import argparse
import collections
import io
import os
import pickle
import struct
import json
import zipfile

import torch

here = os.path.dirname(os.path.abspath(__file__))
pk = os.path.join(here, "corpus-pickle")
st = os.path.join(here, "corpus-safetensors")
os.makedirs(pk, exist_ok=True)
os.makedirs(st, exist_ok=True)

g = torch.Generator().manual_seed(0)
sd = collections.OrderedDict()
sd["cls_token"] = torch.randn(1, 1, 4, generator=g)
sd["blocks.0.attn.qkv.weight"] = torch.randn(12, 4, generator=g)
sd["head.weight"] = torch.randn(4, 3, generator=g).t()  # a strided view
sd["half"] = torch.randn(5, generator=g).half()
sd["bf16"] = torch.randn(5, generator=g).bfloat16()
args = argparse.Namespace(model="vit_tiny_patch16", global_pool=True, lr=1e-3)

for proto in (2, 3, 4, 5):
    buf = io.BytesIO()
    torch.save({"model": sd, "epoch": 3, "args": args}, buf, pickle_protocol=proto)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        name = [n for n in z.namelist() if n.endswith("data.pkl")][0]
        with open(os.path.join(pk, f"torch-p{proto}.pkl"), "wb") as f:
            f.write(z.read(name))
    legacy = io.BytesIO()
    torch.save(sd, legacy, pickle_protocol=proto, _use_new_zipfile_serialization=False)
    with open(os.path.join(pk, f"legacy-p{proto}.bin"), "wb") as f:
        f.write(legacy.getvalue()[:4096])

plain = {"a": [1, 2.5, "x", b"y", (None, True)], "b": {1, 2}, "c": 2 ** 70}
for proto in range(0, 6):
    with open(os.path.join(pk, f"plain-p{proto}.pkl"), "wb") as f:
        f.write(pickle.dumps(plain, protocol=proto))
with open(os.path.join(pk, "reduce-payload.pkl"), "wb") as f:
    f.write(b"\x80\x02cos\nsystem\nq\x00X\x07\x00\x00\x00touch xq\x01\x85q\x02Rq\x03.")
with open(os.path.join(pk, "self-list.pkl"), "wb") as f:
    f.write(b"\x80\x02]q\x00h\x00a.")


def safetensors(tensors, meta=None):
    header = {}
    if meta:
        header["__metadata__"] = meta
    data = b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


with open(os.path.join(st, "two.safetensors"), "wb") as f:
    f.write(safetensors({"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                         "b": ("F16", [3], b"\x00\x3c" * 3)}, {"facet.config": "{}"}))
with open(os.path.join(st, "scalar.safetensors"), "wb") as f:
    f.write(safetensors({"s": ("BF16", [], b"\x80\x3f")}))
with open(os.path.join(st, "empty.safetensors"), "wb") as f:
    f.write(safetensors({}))

# corpus-face-cnn/: 4-byte manifest length, a tfjs weights manifest in the
# tiny face detector's names, then weight bytes (small: the real network's
# 193 KB exceed the fuzzer's input limit, so these reach the checks).
fc = os.path.join(here, "corpus-face-cnn")
os.makedirs(fc, exist_ok=True)


def face_cnn(weights, data):
    m = json.dumps([{"paths": ["w.bin"], "weights": weights}]).encode()
    return struct.pack("<I", len(m)) + m + data


q = {"dtype": "uint8", "scale": 0.01, "min": -1.0}
seeds = {
    "quantised.bin": ([{"name": "conv0/filters", "shape": [3, 3, 3, 16], "dtype": "float32",
                        "quantization": q},
                       {"name": "conv0/bias", "shape": [16], "dtype": "float32", "quantization": q}],
                      bytes(range(256))[:448]),
    "float.bin": ([{"name": "conv8/bias", "shape": [25], "dtype": "float32"}],
                  struct.pack("<25f", *range(25))),
    "unused.bin": ([{"name": "other", "shape": [2, 2], "dtype": "float32",
                     "quantization": {"dtype": "uint16", "scale": 1, "min": 0}}], b"\x01" * 8),
    "empty.bin": ([], b""),
}
for name, (weights, data) in seeds.items():
    with open(os.path.join(fc, name), "wb") as f:
        f.write(face_cnn(weights, data))
print("corpora written")
