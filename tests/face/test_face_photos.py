"""Faces on real group photographs: face-api's six demo photographs.

build-aux/install-deps.sh installs them as test data (from the npm tarball
of @vladmandic/face-api 1.7.15 it fetches for the CNN detector's weights;
MIT) in $FACET_FACE_PHOTOS_DIR, else /usr/local/share/facet-test/face-api-demo;
the test skips where they are not installed. Nothing of them is in the
repository; their 22 faces are marked by hand in face_photos_truth.py.

`facet-cli faces --json` as a user runs it, on each photograph: Facet
(dlib's HOG, else the CNN) must find every marked face it was measured to
find (bench/face-photos.py, docs/faces.md), the two darker-skinned women's
among them, with no detection away from a marked face (dlib's detector
alone misses the same three faces here: bench/face-photos.py). The three
misses are written down, not excused: two women looking down
(sample2) and one whose head is tilted, which the CNN finds alone but is
never asked for, since dlib found her friends in the same photograph
(sample4).
"""
import hashlib
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from face_photos_truth import DARKER, FACES, match  # noqa: E402

CLI = os.environ["FACET_CLI"]
PHOTOS = os.environ.get("FACET_FACE_PHOTOS_DIR") or "/usr/local/share/facet-test/face-api-demo"
# install-deps.sh's FACE_PHOTOS_SHA256: the six files concatenated in order.
PHOTOS_SHA256 = "ab680326a7490040d4f665e78342291a286ff5cbb79c20fa8b7d66e848db71c9"
# Marked faces that no configuration finds at these settings (measured).
MISSED = {("face-api/demo/sample2.jpg", 1), ("face-api/demo/sample2.jpg", 2),
          ("face-api/demo/sample4.jpg", 1)}
NAMES = [f"sample{i}.jpg" for i in range(1, 7)]


def photos_installed():
    h = hashlib.sha256()
    for name in NAMES:
        path = os.path.join(PHOTOS, name)
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest() == PHOTOS_SHA256


def faces(path, *args, env=None):
    p = subprocess.run([CLI, "faces", "--json", *args, path], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, **(env or {})))
    if p.returncode != 0:
        raise AssertionError(f"facet-cli faces {path}: {p.stderr}")
    return [(f["box"][0], f["box"][1], f["box"][0] + f["box"][2], f["box"][1] + f["box"][3])
            for f in json.loads(p.stdout)["faces"]]


@unittest.skipUnless(photos_installed(), f"face-api's demo photographs are not in {PHOTOS} "
                     "(build-aux/install-deps.sh installs them)")
class FacePhotos(unittest.TestCase):
    def check(self, name, args, env):
        found_all, false_all = [], 0
        for photo in NAMES:
            rel = f"face-api/demo/{photo}"
            marked = FACES[rel]
            found, false = match(marked, faces(os.path.join(PHOTOS, photo), *args, env=env))
            false_all += false
            for i, f in enumerate(found):
                found_all.append((rel, i, f))
        n = sum(f for _, _, f in found_all)
        print(f"{name}: {n} of {len(found_all)} marked faces, {false_all} false detections")
        for rel, i, f in found_all:
            self.assertEqual(f, (rel, i) not in MISSED, f"{name}: {rel} face {i}")
            if (rel, i) in DARKER:
                self.assertTrue(f, f"{name}: the darker-skinned face {i} of {rel}")
        self.assertEqual(false_all, 0, name)
        return n

    def test_facet(self):
        self.assertEqual(self.check("Facet (HOG, else the CNN)", [], {}), 19)


if __name__ == "__main__":
    unittest.main(verbosity=2)
