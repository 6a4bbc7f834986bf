#!/usr/bin/python3
"""facet-cli probe and frame: the command-line contract.

The videos come from the ffmpeg tool's own test source (not from Facet's
writer), and the reference pixels from the ffmpeg tool's select filter.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

CLI = os.environ["FACET_CLI"]


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def tool_frame(path, index, width, height):
    """Frame `index` as the ffmpeg tool decodes it, RGB24."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-vf", f"select=eq(n\\,{index})",
         "-fps_mode", "passthrough", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True, timeout=120).stdout
    return np.frombuffer(out, np.uint8).reshape(height, width, 3)


class MediaCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="facet-media-cli-")
        cls.dir = cls.tmp.name
        cls.video = os.path.join(cls.dir, "clip.mp4")
        # 30 frames of 160x120 at 25 fps, H.264 with B-frames, key frame every 12.
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-frames:v", "30",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "2", cls.video)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_fails(self, result, name):
        self.assertEqual(result.returncode, 1, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("facet-cli: "), lines[0])
        self.assertIn(name, lines[0])
        self.assertEqual(result.stdout, "")

    def test_probe_json(self):
        r = run("probe", self.video, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        self.assertEqual(info["frames"], 30)
        self.assertEqual(info["fps"], 25)
        self.assertEqual(info["width"], 160)
        self.assertEqual(info["height"], 120)
        self.assertAlmostEqual(info["duration"], 1.2, places=6)
        self.assertEqual(info["codec"], "h264")
        self.assertEqual(info["rotation"], 0)
        self.assertFalse(info["vfr"])

    def test_probe_text(self):
        r = run("probe", self.video)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("frames:      30", r.stdout)
        self.assertIn("160x120", r.stdout)
        self.assertIn("25.000 fps", r.stdout)

    def test_frame_matches_ffmpeg(self):
        for index in (0, 7, 13, 29):
            out = os.path.join(self.dir, f"f{index}.png")
            r = run("frame", self.video, str(index), "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            ours = np.asarray(Image.open(out))
            self.assertEqual(ours.shape, (120, 160, 3))
            np.testing.assert_array_equal(ours, tool_frame(self.video, index, 160, 120))

    def test_folder(self):
        folder = os.path.join(self.dir, "frames")
        os.makedirs(folder, exist_ok=True)
        rng = np.random.default_rng(5)
        pictures = {}
        for number in (1, 2, 10):
            pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(folder, f"frame_{number}.png"))
            pictures[number] = pixels
        with open(os.path.join(folder, "README.txt"), "w") as f:
            f.write("not a frame\n")

        r = run("probe", folder, "--fps", "10", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        self.assertEqual((info["frames"], info["fps"], info["width"], info["height"]),
                         (3, 10, 64, 48))
        self.assertAlmostEqual(info["duration"], 0.3)

        # Natural order: frame 2 of the folder is frame_10.png.
        out = os.path.join(self.dir, "folder2.png")
        r = run("frame", folder, "2", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.asarray(Image.open(out)), pictures[10])

    def test_h264_same_bytes_whatever_the_heap_holds(self):
        """The writer's H.264 is the same file whatever the heap held before:
        with x264's macroblock-tree rate control the frames changed with
        MALLOC_PERTURB_ (x264 read memory it never wrote), which made the
        synthetic projects of the learning tests, and their metrics, differ
        from run to run."""
        digests = set()
        for perturb in ("0", "1", "254"):
            path = os.path.join(self.dir, f"heap-{perturb}.mkv")
            env = dict(os.environ, MALLOC_PERTURB_=perturb)
            result = subprocess.run([CLI, "synth", "--subject", "931", "--seed", "41", "--seconds", "3",
                                     "--fps", "5", "--size", "160", "--codec", "h264", "--quality", "28",
                                     path], capture_output=True, text=True, timeout=120, env=env)
            self.assertEqual(result.returncode, 0, result.stderr)
            with open(path, "rb") as f:
                digests.add(hash(f.read()))
        self.assertEqual(len(digests), 1, "the same H.264 video came out different")

    def test_errors(self):
        missing = os.path.join(self.dir, "missing.mp4")
        self.assert_fails(run("probe", missing, "--json"), "missing.mp4")
        self.assert_fails(run("frame", missing, "0", "--out", os.path.join(self.dir, "x.png")),
                          "missing.mp4")

        garbage = os.path.join(self.dir, "garbage.mp4")
        with open(garbage, "wb") as f:
            f.write(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
        self.assert_fails(run("probe", garbage, "--json"), "garbage.mp4")

        empty = os.path.join(self.dir, "empty.mkv")
        open(empty, "wb").close()
        self.assert_fails(run("probe", empty), "empty.mkv")

        nothing = os.path.join(self.dir, "no-images")
        os.makedirs(nothing, exist_ok=True)
        with open(os.path.join(nothing, "notes.txt"), "w") as f:
            f.write("text")
        self.assert_fails(run("probe", nothing), "no-images")

        out = os.path.join(self.dir, "never.png")
        self.assert_fails(run("frame", self.video, "30", "--out", out), "clip.mp4")
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
