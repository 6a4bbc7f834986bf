#!/usr/bin/python3
"""The CNN face detector in C (src/face/face-cnn.c) against its PyTorch
reference (face_cnn_ref.py, written from face-api.js's TypeScript), on real
pixels: astronaut.png at the network's default input size and a
dark-skinned synthetic face (subject 11), as it is and in the grey square
the detector puts it in. The raw outputs must agree within 1e-3 (they
range over tens) and the boxes within 0.5 px and 1e-3 in score.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import face_cnn_ref as ref  # noqa: E402

TOOL = os.environ.get("FACE_CNN_TOOL", "face-cnn-tool")
MANIFEST = os.environ.get("FACET_FACE_CNN") or "/usr/share/dlib/tiny_face_detector_model-weights_manifest.json"
TESTDATA = os.environ.get("FACET_TESTDATA", ".")


class FaceCnnParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(MANIFEST):
            raise AssertionError(f"{MANIFEST} is missing: build-aux/install-deps.sh installs it")
        cls.tmp = tempfile.TemporaryDirectory()
        base = os.path.dirname(MANIFEST)
        cls.weights = ref.load(MANIFEST, os.path.join(base, "tiny_face_detector_model.bin"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_tool(self, *args):
        proc = subprocess.run([TOOL, *args], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def compare(self, path, size, min_faces):
        out = os.path.join(self.tmp.name, "out.f32")
        text = self.run_tool(MANIFEST, path, str(size), out)
        img = np.asarray(Image.open(path).convert("RGB"))
        with torch.no_grad():
            expected = ref.forward(self.weights, ref.prepare(img, size))[0]  # 25 x n x n
        n = expected.shape[1]
        got = torch.from_numpy(np.fromfile(out, dtype="<f4").reshape(n, n, 25)).permute(2, 0, 1)
        diff = (got - expected).abs().max().item()
        print(f"{os.path.basename(path)} at {size}: {n}x{n} cells, max |C - PyTorch| = {diff:.2e}, "
              f"output range {expected.min().item():.2f}..{expected.max().item():.2f}")
        self.assertEqual(text.splitlines()[0], f"cells {n}")
        self.assertLess(diff, 1e-3)
        boxes = [tuple(map(float, line.split()[1:])) for line in text.splitlines() if line.startswith("box")]
        want = ref.detect(self.weights, img, size, 0.3)
        self.assertGreaterEqual(len(want), min_faces)
        self.assertEqual(len(boxes), len(want))
        for (x, y, w, h, s), (x0, y0, x1, y1, ws) in zip(boxes, want):
            self.assertAlmostEqual(s, ws, delta=1e-3)
            for a, b in ((x, x0), (y, y0), (x + w, x1), (y + h, y1)):
                self.assertAlmostEqual(a, b, delta=0.5)
        return boxes

    def test_astronaut(self):
        boxes = self.compare(os.path.join(TESTDATA, "astronaut.png"), 416, 1)
        x, y, w, h, s = boxes[0]
        # her face: about x 150-290, y 60-250 of the 512 px photograph
        self.assertTrue(150 < x + w / 2 < 290 and 60 < y + h / 2 < 250, boxes[0])
        self.assertGreater(s, 0.9)

    def test_dark_skin(self):
        frame = os.path.join(self.tmp.name, "dark.png")
        tone = float(self.run_tool("--synth", "11", "224", frame).split()[1])
        self.assertGreater(tone, 0.7)
        self.compare(frame, 224, 0)
        # as the detector sees it: in the middle of a grey square twice its side
        img = np.asarray(Image.open(frame).convert("RGB"))
        padded = np.full((448, 448, 3), 128, np.uint8)
        padded[112:336, 112:336] = img
        square = os.path.join(self.tmp.name, "dark-padded.png")
        Image.fromarray(padded).save(square)
        boxes = self.compare(square, 224, 1)
        self.assertGreater(boxes[0][4], 0.5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
