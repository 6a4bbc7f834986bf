"""facet-cli faces, synth and predict --crop: the command-line contract.

Runs the real facet-cli ($FACET_CLI) on the sample photo and on a short
synthetic video it makes itself.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

CLI = os.environ["FACET_CLI"]
PHOTO = os.path.join(os.environ["FACET_TESTDATA"], "astronaut.png")


def run(*args, check=True):
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"facet-cli {' '.join(args)} failed: {proc.stderr}")
    return proc


class FacesCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_image_json(self):
        out = json.loads(run("faces", PHOTO, "--json", "--crop", "aligned").stdout)
        self.assertEqual(out["status"], "found")
        self.assertEqual((out["width"], out["height"], out["crop"], out["size"]),
                         (512, 512, "aligned", 224))
        self.assertEqual(len(out["faces"]), 1)
        face = out["faces"][0]
        x, y, w, h = face["box"]
        self.assertLess(abs(x - 179), 6)
        self.assertLess(abs(y - 83), 6)
        self.assertLess(abs(x + w - 1 - 266), 6)
        self.assertEqual(len(face["landmarks"]), 136)
        self.assertEqual(len(face["transform"]), 6)
        # the transform maps the template's eye (crop pixels) onto the eye
        a, b, c, d, e, f = face["transform"]
        u, v = 0.335 * 224 - 0.5, 0.400 * 224 - 0.5
        eye_x = sum(face["landmarks"][2 * i] for i in range(36, 42)) / 6
        eye_y = sum(face["landmarks"][2 * i + 1] for i in range(36, 42)) / 6
        self.assertLess(abs(a * u + b * v + c - eye_x), 4)
        self.assertLess(abs(d * u + e * v + f - eye_y), 4)

    def test_no_face_and_too_small(self):
        blank = os.path.join(self.dir, "blank.png")
        # a PNG without a face, written by facet-cli itself from a tiny video
        run("synth", "-q", "--seconds", "0.1", "--fps", "10", "--size", "32", "--codec", "ffv1",
            os.path.join(self.dir, "tiny.mkv"))
        run("frame", os.path.join(self.dir, "tiny.mkv"), "0", "--out", blank)
        out = json.loads(run("faces", blank, "--json").stdout)
        self.assertIn(out["status"], ("none", "too-small"))
        out = json.loads(run("faces", PHOTO, "--json", "--min-size", "200").stdout)
        self.assertEqual(out["status"], "too-small")
        self.assertIsNone(out["faces"][0]["transform"])

    def test_synth_and_video_frame(self):
        video = os.path.join(self.dir, "clip.mkv")
        run("synth", "-q", "--subject", "2", "--seed", "5", "--seconds", "2", "--fps", "15",
            "--codec", "ffv1", "--bias-au", "12", "--bias-rate", "0.6", video)
        with open(os.path.join(self.dir, "clip.labels.csv"), newline="") as fh:
            rows = list(csv.reader(fh))
        aus = [1, 2, 4, 6, 9, 12, 15, 17, 25, 26, 43]
        header = ["frame"] + [n for au in aus for n in (f"AU{au:02d}", f"AU{au:02d}_i")]
        self.assertEqual(rows[0], header)
        self.assertEqual(len(rows), 1 + 30)
        for i, row in enumerate(rows[1:]):
            self.assertEqual(int(row[0]), i)
            for k in range(len(aus)):
                present, intensity = row[1 + 2 * k], float(row[2 + 2 * k])
                self.assertTrue(0.0 <= intensity <= 1.0)
                self.assertEqual(present, "1" if intensity >= 0.25 else "0")

        probe = json.loads(run("probe", video, "--json").stdout)
        self.assertEqual(probe["frames"], 30)
        out = json.loads(run("faces", video, "--frame", "20", "--json").stdout)
        self.assertEqual(out["frame"], 20)
        self.assertIn(out["status"], ("found", "none"))
        if out["status"] == "found":
            self.assertEqual(len(out["faces"]), 1)
            self.assertIn("quality", out["faces"][0])

        # the same arguments, the same file
        again = os.path.join(self.dir, "again.mkv")
        run("synth", "-q", "--subject", "2", "--seed", "5", "--seconds", "2", "--fps", "15",
            "--codec", "ffv1", "--bias-au", "12", "--bias-rate", "0.6", again)
        with open(video, "rb") as a, open(again, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_dark_skin_and_regions(self):
        # The case: a dark-skinned subject, encoded as a user would.
        video = os.path.join(self.dir, "dark.mkv")
        run("synth", "-q", "--subject", "11", "--seed", "12", "--seconds", "1", "--fps", "8",
            video)
        found = plain = 0
        for frame in range(0, 8, 2):
            out = json.loads(run("faces", video, "--frame", str(frame), "--json").stdout)
            found += out["status"] == "found"
            out = json.loads(run("faces", video, "--frame", str(frame), "--json",
                                 "--no-second-look").stdout)
            plain += out["status"] == "found"
        self.assertGreaterEqual(found, 3)
        self.assertLessEqual(plain, found)

        with open(os.path.join(self.dir, "dark.regions.csv")) as fh:
            lines = fh.read().splitlines()
        self.assertEqual(lines[0], "# AU01: brows")
        header = lines[11].split(",")
        self.assertEqual(header[:5], ["frame", "brows_x0", "brows_y0", "brows_x1", "brows_y1"])
        self.assertEqual(len(header), 1 + 8 * 4)
        rows = [line.split(",") for line in lines[12:]]
        self.assertEqual([int(r[0]) for r in rows], list(range(8)))
        for r in rows:
            box = [float(v) for v in r[1:5]]
            self.assertTrue(0.0 <= box[0] < box[2] <= 1.0 and 0.0 <= box[1] < box[3] <= 1.0)

    def test_bad_arguments(self):
        for args, words in [
            (("faces", os.path.join(self.dir, "missing.mkv")), "missing.mkv"),
            (("synth", "--bias-au", "14", "--bias-rate", "0.5", os.path.join(self.dir, "x.mkv")),
             "AU14"),
            (("synth", "--codec", "vp9", os.path.join(self.dir, "x.mkv")), "vp9"),
            (("synth", "--bias-au", "12", os.path.join(self.dir, "x.mkv")), "--bias-rate"),
        ]:
            proc = run(*args, check=False)
            self.assertEqual(proc.returncode, 1, args)
            self.assertIn(words, proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.mkv")))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.labels.csv")))

    def test_predict_crop(self):
        model = os.path.join(self.dir, "m.safetensors")
        run("model", "new", model, "--size", "tiny", "--depth", "1", "--image-size", "32",
            "--patch", "16", "--crop", "box", "--seed", "1")
        for crop in ("box", "aligned"):
            out = json.loads(run("predict", "--model", model, "--crop", crop, "--json",
                                 PHOTO).stdout.splitlines()[0])
            self.assertEqual(out["file"], PHOTO)
        blank = os.path.join(self.dir, "noface.png")
        run("synth", "-q", "--seconds", "0.1", "--fps", "10", "--size", "32", "--codec", "ffv1",
            os.path.join(self.dir, "small.mkv"))
        run("frame", os.path.join(self.dir, "small.mkv"), "0", "--out", blank)
        proc = run("predict", "--model", model, "--crop", "box", blank, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("noface.png: no face found", proc.stderr)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]] + sys.argv[1:], verbosity=2)
