#!/usr/bin/python3
"""Inter-coder reliability through facet-cli, checked against numpy.

Two coders code the same videos in their own layers (labels import
--coder); `facet-cli agreement` must give what the reference formulas below
give on the same codes. The formulas (docs/store.md says the same):

frame level, per AU, over frames both coders coded present (1) or absent
(0); not-codable and uncoded frames of either coder are left out:
    n11, n10, n01, n00 = counts of (A, B) = (1,1), (1,0), (0,1), (0,0); n = sum
    agreement  p_o = (n11 + n00) / n
    p_A = (n11 + n10) / n,  p_B = (n11 + n01) / n
    p_e = p_A p_B + (1 - p_A)(1 - p_B)
    Cohen's kappa = (p_o - p_e) / (1 - p_e)      undefined (null, "n/a") when p_e = 1 or n = 0
    prevalence = (2 n11 + n10 + n01) / (2 n)
events: maximal runs of present frames in each coder's layer, per video.
    An A event and a B event match when they overlap or their onsets differ
    by at most w frames (w: --window, default half a second rounded half up);
    one to one: each A event in onset order takes the first B event, in onset
    order, not taken yet that matches.
    agreement ratio = 2 matched / (events A + events B)
    onset (offset) agreement = matched pairs whose onsets (offsets) differ by <= w / matched
intensity, over frames both coded present with an intensity, levels 1-5 (A-E):
    O = 5x5 counts, W_ij = 1 - |i - j| / 4, E = row sums x column sums / n
    weighted kappa = (sum W O / n - sum W E / n) / (1 - sum W E / n)
    ICC(3,1) (Shrout & Fleiss, two-way mixed, consistency, single rater), k = 2:
        SSR = k sum_i (mean_i - grand)^2, SSC = n sum_j (mean_j - grand)^2,
        SSE = SST - SSR - SSC, MSR = SSR / (n - 1), MSE = SSE / ((n - 1)(k - 1)),
        ICC = (MSR - MSE) / (MSR + (k - 1) MSE)
"""

import csv
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

CLI = os.environ.get("FACET_CLI", "facet-cli")
FPS = 25
AUS = [1, 4, 6, 9, 12, 15]
LETTERS = "ABCDE"


def run_cli(*args, check=True):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"facet-cli {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
    return p


def make_video(path, frames, rate=FPS):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=64x64:rate={rate}", "-frames:v", str(frames),
                    "-pix_fmt", "yuv420p", path], check=True)


# ---- Reference formulas ----------------------------------------------------------------------

NONE, PRESENT, ABSENT, NOT_CODABLE = 0, 1, 2, 3


def ref_frames(a, b):
    both = np.isin(a, [PRESENT, ABSENT]) & np.isin(b, [PRESENT, ABSENT])
    x, y = a[both] == PRESENT, b[both] == PRESENT
    return np.array([(x & y).sum(), (x & ~y).sum(), (~x & y).sum(), (~x & ~y).sum()])


def ref_kappa(n11, n10, n01, n00):
    n = n11 + n10 + n01 + n00
    if n == 0:
        return None
    po = (n11 + n00) / n
    pa, pb = (n11 + n10) / n, (n11 + n01) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    if 1 - pe < 1e-12:
        return None
    return (po - pe) / (1 - pe)


def events_of(states):
    ev, start = [], None
    for f, s in enumerate(list(states) + [NONE]):
        if s == PRESENT and start is None:
            start = f
        elif s != PRESENT and start is not None:
            ev.append((start, f - 1))
            start = None
    return ev


def ref_events(a, b, w):
    ea, eb = events_of(a), events_of(b)
    taken = [False] * len(eb)
    matched = onset = offset = 0
    for (oa, fa) in ea:
        for j, (ob, fb) in enumerate(eb):
            if taken[j] or not ((oa <= fb and ob <= fa) or abs(oa - ob) <= w):
                continue
            taken[j] = True
            matched += 1
            onset += abs(oa - ob) <= w
            offset += abs(fa - fb) <= w
            break
    return np.array([len(ea), len(eb), matched, onset, offset])


def ref_weighted_kappa(x, y):
    n = len(x)
    if n == 0:
        return None
    O = np.zeros((5, 5))
    for i, j in zip(x, y):
        O[i - 1, j - 1] += 1
    W = 1 - np.abs(np.subtract.outer(np.arange(5), np.arange(5))) / 4
    E = np.outer(O.sum(1), O.sum(0)) / n
    po, pe = (W * O).sum() / n, (W * E).sum() / n
    return None if 1 - pe < 1e-12 else (po - pe) / (1 - pe)


def ref_icc31(x, y):
    X = np.column_stack([x, y]).astype(float)
    n, k = X.shape
    if n < 2:
        return None
    grand = X.mean()
    ssr = k * ((X.mean(1) - grand) ** 2).sum()
    ssc = n * ((X.mean(0) - grand) ** 2).sum()
    sst = ((X - grand) ** 2).sum()
    sse = sst - ssr - ssc
    msr, mse = ssr / (n - 1), sse / ((n - 1) * (k - 1))
    if msr + (k - 1) * mse < 1e-12:
        return None
    return (msr - mse) / (msr + (k - 1) * mse)


def reference(codes_a, codes_b, aus, window):
    """codes_x[video][au] = (states, levels) arrays; pooled over videos."""
    out = {}
    for au in aus:
        frames, events = np.zeros(4, int), np.zeros(5, int)
        xs, ys = [], []
        for v in codes_a:
            (sa, la), (sb, lb) = codes_a[v][au], codes_b[v][au]
            frames += ref_frames(sa, sb)
            events += ref_events(sa, sb, window(v))
            both = (sa == PRESENT) & (sb == PRESENT) & (la > 0) & (lb > 0)
            xs += list(la[both])
            ys += list(lb[both])
        n11, n10, n01, n00 = frames
        n = frames.sum()
        ea, eb, m, on, off = events
        out[au] = {
            "frames": n, "both_present": n11, "a_only": n10, "b_only": n01, "both_absent": n00,
            "agreement": (n11 + n00) / n if n else None,
            "kappa": ref_kappa(n11, n10, n01, n00),
            "prevalence": (2 * n11 + n10 + n01) / (2 * n) if n else None,
            "events_a": ea, "events_b": eb, "matched": m, "onset_agree": on, "offset_agree": off,
            "agreement_ratio": 2 * m / (ea + eb) if ea + eb else None,
            "onset_agreement": on / m if m else None,
            "offset_agreement": off / m if m else None,
            "intensity_frames": len(xs),
            "weighted_kappa": ref_weighted_kappa(xs, ys),
            "icc": ref_icc31(xs, ys),
        }
    return out


# ---- Synthetic double coding --------------------------------------------------------------------

def simulate(rng, n_frames, au, coder):
    """Events of a shared truth, each coder's onset/offset jittered, some
    events missed or added, intensity = truth level +- 1; a not-codable
    stretch and an uncoded stretch."""
    truth_rng = np.random.default_rng(1000 + au * 7 + n_frames)
    states = np.full(n_frames, ABSENT, np.int64)
    levels = np.zeros(n_frames, np.int64)
    if au == 9:
        return states, levels  # nobody sees AU9: kappa undefined
    if au == 4 and coder == "ben":
        return states, levels  # ben never codes AU4 present
    f = int(truth_rng.integers(0, 20))
    while f < n_frames - 10:
        length = int(truth_rng.integers(5, 40))
        level = int(truth_rng.integers(1, 6))
        if rng.random() > 0.15:  # this coder saw the event
            on = max(0, f + int(rng.integers(-6, 7)))
            off = min(n_frames - 1, f + length + int(rng.integers(-6, 7)))
            if off >= on:
                states[on:off + 1] = PRESENT
                levels[on:off + 1] = np.clip(level + rng.integers(-1, 2, off - on + 1), 1, 5)
        f += length + int(truth_rng.integers(10, 60))
    if rng.random() < 0.5:  # an event of this coder's own
        on = int(rng.integers(0, n_frames - 5))
        states[on:on + 4] = PRESENT
        levels[on:on + 4] = int(rng.integers(1, 6))
    levels[states != PRESENT] = 0
    nc = int(rng.integers(0, n_frames - 10))
    states[nc:nc + 8] = NOT_CODABLE
    levels[nc:nc + 8] = 0
    gap = int(rng.integers(0, n_frames - 10))
    states[gap:gap + 5] = NONE
    levels[gap:gap + 5] = 0
    # Some present frames without an intensity.
    holes = rng.random(n_frames) < 0.05
    levels[holes] = 0
    return states, levels


def write_labels(path, codes, aus, letters):
    n_frames = len(codes[aus[0]][0])
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame"] + [c for au in aus for c in (f"AU{au:02d}", f"AU{au:02d}_i")])
        for frame in range(n_frames):
            row = [frame]
            for au in aus:
                s, lv = codes[au][0][frame], codes[au][1][frame]
                row.append({NONE: "", PRESENT: 1, ABSENT: 0, NOT_CODABLE: 9}[int(s)])
                if s == PRESENT and lv > 0:
                    row.append(LETTERS[lv - 1] if letters else f"{lv / 5:.1f}")
                else:
                    row.append("")
            w.writerow(row)


class Workdir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-agreement-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def double_coded(self, frames=(300, 200)):
        """A project with one video per subject, coded by ana and ben in their layers."""
        project = self.path("study.facet")
        run_cli("init", project)
        codes = {"ana": {}, "ben": {}}
        for v, n in enumerate(frames, start=1):
            video = self.path(f"v{v}.mp4")
            make_video(video, n)
            run_cli("add", project, video, "--subject", f"S{v}", "--crop", "none")
            for ci, coder in enumerate(("ana", "ben")):
                rng = np.random.default_rng(10 * v + ci)
                aus = AUS if coder == "ana" else [au for au in AUS if au != 15]  # ben never codes AU15
                codes[coder][v] = {au: simulate(rng, n, au, coder) for au in aus}
                if coder == "ben":
                    codes[coder][v][15] = (np.zeros(n, np.int64), np.zeros(n, np.int64))
                path = self.path(f"{coder}-{v}.csv")
                # ana's file gives intensity on the 0..1 scale, ben's as FACS letters.
                write_labels(path, codes[coder][v], aus, letters=coder == "ben")
                run_cli("labels", "import", project, path, "--format", "csv", "--video", v,
                        "--coder", coder)
        return project, codes

    def check(self, got, want, context):
        for au, ref in want.items():
            row = got[au]
            for key, value in ref.items():
                msg = f"{context} AU{au} {key}"
                if value is None:
                    self.assertIsNone(row[key], msg)
                elif isinstance(value, (int, np.integer)):
                    self.assertEqual(row[key], int(value), msg)
                else:
                    self.assertIsNotNone(row[key], msg)
                    # JSON carries 9 significant digits.
                    self.assertAlmostEqual(row[key], float(value), places=7, msg=msg)


class Agreement(Workdir):
    def test_layers_against_numpy(self):
        project, codes = self.double_coded()
        # The final layer stayed empty: both coders wrote into their own layers.
        db = sqlite3.connect(project)
        layers = dict(db.execute("SELECT c.name, count(*) FROM labels l JOIN coders c "
                                 "ON c.id = l.layer GROUP BY l.layer").fetchall())
        self.assertEqual(db.execute("SELECT count(*) FROM labels WHERE layer = 0").fetchone()[0], 0)
        db.close()
        self.assertEqual(set(layers), {"ana", "ben"})
        self.assertIn("ana", run_cli("labels", "layers", project).stdout)
        self.assertEqual(json.loads(run_cli("status", project, "--json").stdout)["layers"], ["ana", "ben"])

        window = lambda v: math.floor(FPS / 2 + 0.5)
        p = run_cli("agreement", project, "--coders", "ana,ben", "--json",
                    "--csv", self.path("agreement.csv"), "--report", self.path("report.txt"))
        got = json.loads(p.stdout)
        self.assertEqual(got["coders"], ["ana", "ben"])
        self.assertEqual([r["au"] for r in got["aus"]], AUS)
        rows = {r["au"]: r for r in got["aus"]}
        want = reference(codes["ana"], codes["ben"], AUS, window)
        self.check(rows, want, "pooled")
        for r in got["aus"]:
            self.assertEqual(r["window"], 13)

        # The degenerate cases are what the formulas say.
        self.assertEqual(rows[9]["agreement"], 1.0)     # both: always absent
        self.assertIsNone(rows[9]["kappa"])             # p_e = 1: undefined
        self.assertAlmostEqual(rows[4]["kappa"], 0.0, places=12)  # ben never codes AU4 present
        self.assertEqual(rows[4]["events_b"], 0)
        self.assertEqual(rows[4]["agreement_ratio"], 0.0)
        self.assertEqual(rows[15]["frames"], 0)         # ben never coded AU15 at all
        self.assertIsNone(rows[15]["agreement"])
        self.assertGreater(rows[12]["intensity_frames"], 20)
        self.assertIsNotNone(rows[12]["icc"])

        # The CSV is the same table (pandas: undefined cells are NaN).
        df = pd.read_csv(self.path("agreement.csv"))
        self.assertEqual(list(df["au"]), AUS)
        for _, r in df.iterrows():
            j = rows[int(r["au"])]
            for col in ("frames", "events_a", "matched", "intensity_frames"):
                self.assertEqual(r[col], j[col])
            for col in ("agreement", "kappa", "prevalence", "agreement_ratio", "weighted_kappa", "icc"):
                if j[col] is None:
                    self.assertTrue(math.isnan(r[col]), col)
                else:
                    self.assertAlmostEqual(r[col], j[col], places=5)

        # The methods-section text: a line per AU with kappa, agreement and n.
        with open(self.path("report.txt")) as f:
            report = f.read()
        for au in AUS:
            line = next(l for l in report.splitlines()
                        if l.startswith(f"AU{au} ") or l.startswith(f"AU{au}:"))
            j = want[au]
            k = "n/a" if j["kappa"] is None else f"{j['kappa']:.2f}"
            self.assertIn(f"kappa = {k},", line)
            self.assertIn(f"n = {j['frames']} frames", line)
            if j["agreement"] is not None:
                self.assertIn(f"agreement = {100 * j['agreement']:.1f} %", line)
        self.assertIn("ICC(3,1)", report)

        # One video, another window; the order of the coders swaps A and B.
        p = run_cli("agreement", project, "--coders", "ben,ana", "--video", 2, "--window", 3, "--json")
        got = {r["au"]: r for r in json.loads(p.stdout)["aus"]}
        want = reference({2: codes["ben"][2]}, {2: codes["ana"][2]}, AUS, lambda v: 3)
        self.check(got, want, "video 2, window 3")

        # The text table names every AU; bad arguments are one clear line.
        table = run_cli("agreement", project, "--coders", "ana,ben").stdout
        self.assertIn("AU12", table)
        self.assertIn("n/a", table)
        for args, text in ((["--coders", "ana"], "--coders A,B"),
                           (["--coders", "ana,nobody"], "coder “nobody” has no layer"),
                           (["--coders", "ana,model:7"], "no model 7"),
                           (["--coders", "ana,ben", "--video", "9"], "no video 9")):
            p = run_cli("agreement", project, *args, check=False)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(text, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_consensus(self):
        project, codes = self.double_coded(frames=(120, 80))
        agree = differ = 0
        for v in codes["ana"]:
            for au in AUS:
                (sa, la), (sb, lb) = codes["ana"][v][au], codes["ben"][v][au]
                both = (sa != NONE) & (sb != NONE)
                same = (sa == sb) & ((sa != PRESENT) | (la == lb))
                agree += int((both & same).sum())
                differ += int((both & ~same).sum())
        p = run_cli("labels", "consensus", project, "--coders", "ana,ben", "--coder", "lead")
        self.assertIn(f"{agree} labels ana and ben agree on copied", p.stdout)
        self.assertIn(f"{differ} cells where they differ", p.stdout)
        db = sqlite3.connect(project)
        self.assertEqual(db.execute("SELECT count(*) FROM labels WHERE layer = 0").fetchone()[0], agree)
        kinds = db.execute("SELECT s.kind, c.name, count(h.id), min(h.taken_from) FROM changesets s "
                           "JOIN coders c ON c.id = s.coder_id JOIN label_history h "
                           "ON h.changeset_id = s.id WHERE s.layer = 0 GROUP BY s.id").fetchall()
        db.close()
        self.assertEqual(kinds, [(5, "lead", agree, "ana,ben")])
        # The final layer now agrees with each coder where the two agreed.
        got = {r["au"]: r for r in json.loads(run_cli("agreement", project, "--coders", "final,ana",
                                                      "--json").stdout)["aus"]}
        for au in AUS:
            if got[au]["frames"]:
                self.assertEqual(got[au]["agreement"], 1.0, au)
        run_cli("labels", "undo", project, "--coder", "lead")
        db = sqlite3.connect(project)
        self.assertEqual(db.execute("SELECT count(*) FROM labels WHERE layer = 0").fetchone()[0], 0)
        db.close()

    def test_sample_only(self):
        project, codes = self.double_coded(frames=(250,))
        p = run_cli("sample", project, "--percent", 30, "--segment", 2, "--seed", 5)
        self.assertIn("seed 5", p.stdout)
        segs = json.loads(run_cli("sample", project, "--list", "--json").stdout)
        covered = sum(s["last"] - s["first"] + 1 for s in segs)
        self.assertGreaterEqual(covered, 0.3 * 250)
        self.assertTrue(all(s["last"] - s["first"] + 1 == 2 * FPS for s in segs))
        self.assertTrue(all(s["subject"] == "S1" for s in segs))
        # Only the marked frames count: the reference on masked codes.
        mask = np.zeros(250, bool)
        for s in segs:
            mask[s["first"]:s["last"] + 1] = True
        masked = {c: {1: {au: (np.where(mask, st, NONE), np.where(mask, lv, 0))
                          for au, (st, lv) in codes[c][1].items()}} for c in codes}
        got = {r["au"]: r for r in json.loads(run_cli("agreement", project, "--coders", "ana,ben",
                                                      "--sample", "--json").stdout)["aus"]}
        want = reference(masked["ana"], masked["ben"], AUS, lambda v: 13)
        self.check(got, want, "sample")
        # The same seed on a copy marks the same segments; clearing empties the list.
        run_cli("sample", project, "--clear")
        self.assertEqual(json.loads(run_cli("sample", project, "--list", "--json").stdout), [])
        run_cli("sample", project, "--percent", 30, "--segment", 2, "--seed", 5)
        again = json.loads(run_cli("sample", project, "--list", "--json").stdout)
        self.assertEqual([(s["first"], s["last"]) for s in again], [(s["first"], s["last"]) for s in segs])
        p = run_cli("sample", project, "--percent", 0, "--segment", 2, check=False)
        self.assertEqual(p.returncode, 1)


class ModelCoder(Workdir):
    def test_model_against_coder(self):
        project, codes = self.double_coded(frames=(60,))
        model = self.path("tiny.safetensors")
        run_cli("model", "new", "--size", "tiny", "--depth", "2", "--image-size", "64", "--crop", "none",
                "--seed", 3, "--aus", "1,4,6,12,17", model)
        run_cli("analyze", project, "--model", model)
        # The model "codes" every analysed frame: probability >= threshold is present.
        db = sqlite3.connect(project)
        aus = [int(a) for a in db.execute("SELECT aus FROM models WHERE id = 1").fetchone()[0].split(",")]
        rows = db.execute("SELECT frame, probs FROM predictions WHERE model_id = 1 AND video_id = 1 "
                          "ORDER BY frame").fetchall()
        db.close()
        self.assertEqual(len(rows), 60)
        states = {au: np.zeros(60, np.int64) for au in aus}
        for frame, blob in rows:
            q = np.frombuffer(blob, "<u2")
            p = q.astype(np.float32) / np.float32(65535)
            for i, au in enumerate(aus):
                states[au][frame] = PRESENT if p[i] >= np.float32(0.5) else ABSENT
        model_codes = {1: {au: (states[au], np.zeros(60, np.int64)) for au in aus}}
        common = [au for au in AUS if au in aus]  # the AUs ana coded that the model has
        got = json.loads(run_cli("agreement", project, "--coders", "model:1,ana", "--threshold", 0.5,
                                 "--json").stdout)
        self.assertEqual([r["au"] for r in got["aus"]], common)
        want = reference(model_codes, codes["ana"], common, lambda v: 13)
        self.check({r["au"]: r for r in got["aus"]}, want, "model")
        self.assertTrue(all(r["intensity_frames"] == 0 and r["icc"] is None for r in got["aus"]))
        # "model" alone is the latest model.
        latest = json.loads(run_cli("agreement", project, "--coders", "ana,model", "--threshold", 0.5,
                                    "--json").stdout)
        self.assertEqual([r["frames"] for r in latest["aus"]], [r["frames"] for r in got["aus"]])


class Intensity(Workdir):
    """FACS A-E through import and export: the labels csv (0..1 or letters),
    events' peak intensity, the time series' intensity columns, ELAN
    annotation values ("AU12 C"), DISFA's 0-5."""

    def test_intensity_round_trip(self):
        video = self.path("clip.mp4")
        make_video(video, 80)
        project = self.path("a.facet")
        run_cli("init", project)
        run_cli("add", project, video, "--subject", "S1", "--crop", "none")
        # ana: AU12 B over 10-19 with a D peak at 14-15, AU6 present without intensity at 30-34.
        run_cli("labels", "set", project, "--video", 1, "--frames", "10-19", "--au", 12, "--present",
                "--intensity", "B", "--layer", "ana", "--coder", "ana")
        run_cli("labels", "set", project, "--video", 1, "--frames", "14-15", "--au", 12, "--present",
                "--intensity", "d", "--layer", "ana", "--coder", "ana")
        run_cli("labels", "set", project, "--video", 1, "--frames", "30-34", "--au", 6, "--present",
                "--layer", "ana")
        run_cli("labels", "set", project, "--video", 1, "--frames", "0-79", "--au", 1, "--absent",
                "--layer", "ana")
        # The final layer has something else: exports without --coder show that.
        run_cli("labels", "set", project, "--video", 1, "--frames", "50-59", "--au", 12, "--present",
                "--intensity", "E")
        p = run_cli("labels", "set", project, "--video", 1, "--frames", "1", "--au", 12, "--absent",
                    "--intensity", "C", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--intensity goes with --present", p.stderr)

        # The labels csv of ana's layer, read back by pandas: intensity on the 0..1 scale.
        first = self.path("ana.csv")
        run_cli("labels", "export", project, first, "--coder", "ana")
        df = pd.read_csv(first)
        au12 = df.set_index("frame")["AU12_i"]
        self.assertAlmostEqual(au12[10], 0.4, places=6)
        self.assertAlmostEqual(au12[14], 0.8, places=6)
        self.assertTrue(math.isnan(df.set_index("frame")["AU06_i"][30]))
        self.assertTrue(math.isnan(df.set_index("frame")["AU12"][55]))  # the final layer's, not ana's
        # ... imported into another project's layer of ana gives the same file.
        other = self.path("b.facet")
        run_cli("init", other)
        run_cli("add", other, video, "--subject", "S1", "--crop", "none")
        run_cli("labels", "import", other, first, "--format", "csv", "--coder", "ana")
        second = self.path("ana2.csv")
        run_cli("labels", "export", other, second, "--coder", "ana")
        with open(first) as a, open(second) as b:
            self.assertEqual(a.read(), b.read())
        p = run_cli("labels", "export", other, second, "--coder", "nobody", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("has no layer", p.stderr)

        # Events: the highest coded intensity of each event as a letter.
        ev_path = self.path("events.csv")
        run_cli("export", project, "--format", "events", "--coder", "ana", ev_path)
        ev = pd.read_csv(ev_path, keep_default_na=False)
        rows = {r["au"]: r for _, r in ev.iterrows()}
        self.assertEqual((rows["AU12"]["onset_frame"], rows["AU12"]["offset_frame"]), (10, 19))
        self.assertEqual(rows["AU12"]["peak_intensity"], "D")
        self.assertEqual(rows["AU06"]["peak_intensity"], "")
        run_cli("export", project, "--format", "events", ev_path)
        final = pd.read_csv(ev_path)
        self.assertEqual(list(final[final["au"] == "AU12"]["peak_intensity"]), ["E"])

        # The time series: AUxx_int is the level 1-5 on present frames.
        ts_path = self.path("ts.csv")
        run_cli("export", project, "--format", "timeseries", "--coder", "ana", ts_path)
        ts = pd.read_csv(ts_path).set_index("frame")
        want = {f: 2 for f in range(10, 20)} | {14: 4, 15: 4}
        for f in range(80):
            v = ts["AU12_int"][f]
            if f in want:
                self.assertEqual(v, want[f], f)
            else:
                self.assertTrue(math.isnan(v), f)
        self.assertTrue(ts["AU06_int"].isna().all())

        # ELAN: "AU12 D ..." (well-formed, the tier per AU as before).
        eaf = self.path("ana.eaf")
        run_cli("export", project, "--format", "eaf", "--coder", "ana", eaf)
        subprocess.run(["xmllint", "--noout", eaf], check=True)
        root = ET.parse(eaf).getroot()
        values = {t.get("TIER_ID"): [v.text for v in t.iter("ANNOTATION_VALUE")]
                  for t in root.findall("TIER")}
        self.assertEqual(len(values["AU12"]), 1)
        self.assertTrue(values["AU12"][0].startswith("AU12 D "), values)
        self.assertTrue(values["AU06"][0].startswith("AU06 cheek raiser"), values)

    def test_disfa_levels(self):
        video = self.path("SN001.mp4")
        make_video(video, 12)
        project = self.path("d.facet")
        run_cli("init", project)
        run_cli("add", project, video, "--subject", "SN001", "--crop", "none")
        folder = self.path("disfa")
        os.makedirs(folder)
        with open(os.path.join(folder, "SN001_au12.txt"), "w") as f:
            for frame in range(12):
                f.write(f"{frame + 1},{frame % 6}\n")
        run_cli("labels", "import", project, folder, "--format", "disfa", "--video", 1,
                "--min-intensity", 1)
        out = self.path("d.csv")
        run_cli("labels", "export", project, out)
        df = pd.read_csv(out).set_index("frame")
        ts = self.path("d-ts.csv")
        run_cli("export", project, "--format", "timeseries", ts)
        levels = pd.read_csv(ts).set_index("frame")["AU12_int"]
        for frame in range(12):
            disfa = frame % 6
            # DISFA 1-5 are A-E (intensity / 5); 0 is absent.
            self.assertEqual(df["AU12"][frame], 1 if disfa >= 1 else 0)
            if disfa:
                self.assertAlmostEqual(df["AU12_i"][frame], disfa / 5, places=6)
                self.assertEqual(levels[frame], disfa)
            else:
                self.assertTrue(math.isnan(levels[frame]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        suite = unittest.defaultTestLoader.loadTestsFromName(sys.argv[1], sys.modules[__name__])
        result = unittest.TextTestRunner(verbosity=2).run(suite)
        sys.exit(0 if result.wasSuccessful() else 1)
    unittest.main()
