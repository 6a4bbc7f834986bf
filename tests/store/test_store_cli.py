#!/usr/bin/python3
"""The project store end to end through facet-cli, checked by real consumers.

Run by meson (suite 'store'), one class per test; FACET_CLI names the
facet-cli binary. Videos come from the ffmpeg tool (testsrc) and from
`facet-cli synth`; models from `facet-cli model new` (random weights: this is
about the pipeline, not accuracy). Projects are read back with Python's
sqlite3, exports with pandas, ElementTree and xmllint, timestamps checked
against ffprobe.
"""

import csv
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

import pandas as pd

CLI = os.environ.get("FACET_CLI", "facet-cli")
BP4D_AUS = [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]


def run_cli(*args, check=True, env=None):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"facet-cli {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
    return p


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_video(path, frames, size=64, rate=25):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={size}x{size}:rate={rate}", "-frames:v", str(frames),
                    "-pix_fmt", "yuv420p", "-g", "50", path], check=True)


def predictions(project, model=None):
    db = sqlite3.connect(project)
    sql = "SELECT model_id, video_id, frame, probs FROM predictions"
    rows = db.execute(sql + (" WHERE model_id = ?" if model else "") + " ORDER BY video_id, frame",
                      (model,) if model else ()).fetchall()
    db.close()
    return [(v, f, p) for (_, v, f, p) in rows]


def faces(project):
    db = sqlite3.connect(project)
    rows = db.execute("SELECT video_id, frame, status, x, y, w, h, landmarks, quality, time, transform "
                      "FROM faces ORDER BY video_id, frame").fetchall()
    db.close()
    return rows


def integrity(project):
    db = sqlite3.connect(project)
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    fk = db.execute("PRAGMA foreign_key_check").fetchall()
    db.close()
    return ok, fk


class Workdir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-store-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def tiny_model(self, name="tiny.safetensors", crop="none", seed=1):
        path = self.path(name)
        run_cli("model", "new", "--size", "tiny", "--depth", "2", "--image-size", "64", "--crop", crop,
                "--seed", seed, path)
        return path

    def project_with_video(self, name, video, subject="S1", crop="none"):
        project = self.path(name)
        run_cli("init", project)
        run_cli("add", project, video, "--subject", subject, "--crop", crop)
        return project

    def expect_failure(self, *args, contains=()):
        p = run_cli(*args, check=False)
        self.assertEqual(p.returncode, 1, f"facet-cli {args} should fail: {p.stdout}{p.stderr}")
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"one line on stderr, got: {p.stderr!r}")
        self.assertTrue(lines[0].startswith("facet-cli: "), lines[0])
        for text in contains:
            self.assertIn(text, lines[0])
        return lines[0]


class Exports(Workdir):
    """openface (pandas), events, summary, eaf (ElementTree, xmllint), labels round trip."""

    def test_exports(self):
        video = self.path("clip.mp4")
        make_video(video, 120, rate=25)
        model = self.tiny_model()
        project = self.project_with_video("study.facet", video)
        run_cli("analyze", project, "--model", model, "--batch", "8")
        # The coder marks AU12 present on 10-19 and AU1 not codable at 50.
        run_cli("labels", "set", project, "--video", 1, "--frames", "10-19", "--au", 12, "--present")
        run_cli("labels", "set", project, "--video", 1, "--frames", "30-31", "--au", 4, "--absent")

        # timeseries (Facet's own per-frame table): the columns and dtypes pandas sees.
        out = self.path("timeseries.csv")
        run_cli("export", project, "--format", "timeseries", "--threshold", "0.5", out)
        df = pd.read_csv(out)
        expected = (["frame", "face_id", "timestamp", "confidence", "success"]
                    + [f"AU{a:02d}_c" for a in BP4D_AUS] + [f"AU{a:02d}_p" for a in BP4D_AUS]
                    + [f"AU{a:02d}_src" for a in BP4D_AUS] + [f"AU{a:02d}_int" for a in BP4D_AUS])
        self.assertEqual(list(df.columns), expected)
        # No coder gave an intensity: the intensity columns are empty.
        for a in BP4D_AUS:
            self.assertTrue(df[f"AU{a:02d}_int"].isna().all())
        self.assertEqual(len(df), 120)
        self.assertEqual(list(df["frame"]), list(range(120)))
        for col in ["frame", "face_id", "success"] + [f"AU{a:02d}_c" for a in BP4D_AUS]:
            self.assertEqual(str(df[col].dtype), "int64", col)
        for col in ["timestamp", "confidence"] + [f"AU{a:02d}_p" for a in BP4D_AUS]:
            self.assertEqual(str(df[col].dtype), "float64", col)
        for col in [f"AU{a:02d}_src" for a in BP4D_AUS]:
            self.assertEqual(str(df[col].dtype), "object", col)
            self.assertTrue(set(df[col]) <= {"human", "model"})
        self.assertTrue((df["success"] == 1).all())
        # Final presence: the human label where there is one, else p >= t.
        for a in BP4D_AUS:
            c, p, src = df[f"AU{a:02d}_c"], df[f"AU{a:02d}_p"], df[f"AU{a:02d}_src"]
            model_rows = src == "model"
            self.assertTrue(((p[model_rows] >= 0.5).astype(int) == c[model_rows]).all())
        self.assertTrue((df.loc[10:19, "AU12_c"] == 1).all())
        self.assertTrue((df.loc[10:19, "AU12_src"] == "human").all())
        self.assertTrue((df.loc[30:31, "AU04_c"] == 0).all())
        # Timestamps from the decoder: ffprobe's presentation times.
        probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                "frame=pts_time", "-of", "csv=p=0", video], capture_output=True,
                               text=True, check=True).stdout.split()
        pts = [float(x.split(",")[0]) for x in probe]
        self.assertEqual(len(pts), 120)
        for f in range(120):
            self.assertAlmostEqual(df["timestamp"][f], pts[f] - pts[0], places=5)

        # events: runs of final presence, consistent with the openface table.
        events_path = self.path("events.csv")
        run_cli("export", project, "--format", "events", "--threshold", "0.5", events_path)
        ev = pd.read_csv(events_path)
        self.assertEqual(list(ev.columns), ["video", "au", "onset_frame", "onset_time", "apex_frame",
                                            "apex_time", "offset_frame", "offset_time", "duration",
                                            "peak_probability", "source", "peak_intensity"])
        for a in BP4D_AUS:
            c = list(df[f"AU{a:02d}_c"])
            runs, start = [], None
            for f, v in enumerate(c + [0]):
                if v == 1 and start is None:
                    start = f
                elif v != 1 and start is not None:
                    runs.append((start, f - 1))
                    start = None
            mine = ev[ev["au"] == f"AU{a:02d}"]
            self.assertEqual(list(zip(mine["onset_frame"], mine["offset_frame"])), runs, f"AU{a}")
            for _, e in mine.iterrows():
                self.assertLessEqual(e["onset_frame"], e["apex_frame"])
                self.assertLessEqual(e["apex_frame"], e["offset_frame"])
                self.assertAlmostEqual(e["duration"], (e["offset_frame"] - e["onset_frame"] + 1) / 25,
                                       places=5)
        au12 = ev[(ev["au"] == "AU12") & (ev["onset_frame"] <= 10) & (ev["offset_frame"] >= 19)]
        self.assertEqual(len(au12), 1)

        # summary: presence % per AU agrees with the openface table.
        summary_path = self.path("summary.csv")
        run_cli("export", project, "--format", "summary", "--threshold", "0.5", summary_path)
        sm = pd.read_csv(summary_path)
        self.assertEqual(list(sm.columns), ["video", "subject", "au", "frames", "presence_pct", "events",
                                            "events_per_minute", "mean_event_duration"])
        for a in BP4D_AUS:
            row = sm[sm["au"] == f"AU{a:02d}"].iloc[0]
            self.assertAlmostEqual(row["presence_pct"], 100 * df[f"AU{a:02d}_c"].mean(), places=2)
            n = len(ev[ev["au"] == f"AU{a:02d}"])
            self.assertEqual(row["events"], n)
            self.assertAlmostEqual(row["events_per_minute"], n / (120 / 25 / 60), places=2)

        # eaf: well-formed, ELAN 3.0 structure, one tier per AU, linked to the video.
        eaf = self.path("out", "clip.eaf")
        os.makedirs(self.path("out"))
        run_cli("export", project, "--format", "eaf", "--threshold", "0.5", eaf)
        subprocess.run(["xmllint", "--noout", eaf], check=True)
        root = ET.parse(eaf).getroot()
        self.assertEqual(root.tag, "ANNOTATION_DOCUMENT")
        self.assertEqual(root.get("FORMAT"), "3.0")
        self.assertEqual(root.get("VERSION"), "3.0")
        self.assertEqual([c.tag for c in root][:2], ["HEADER", "TIME_ORDER"])
        header = root.find("HEADER")
        self.assertEqual(header.get("TIME_UNITS"), "milliseconds")
        md = header.find("MEDIA_DESCRIPTOR")
        self.assertEqual(md.get("MEDIA_URL"), "file://" + os.path.realpath(video))
        self.assertEqual(md.get("MIME_TYPE"), "video/mp4")
        self.assertEqual(os.path.normpath(os.path.join(self.path("out"), md.get("RELATIVE_MEDIA_URL"))),
                         os.path.realpath(video))
        slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.find("TIME_ORDER")}
        values = [int(s.get("TIME_VALUE")) for s in root.find("TIME_ORDER")]
        self.assertEqual(values, sorted(values))
        tiers = root.findall("TIER")
        # A tier per AU with events in this video (ELAN shows no empty rows).
        self.assertEqual([t.get("TIER_ID") for t in tiers],
                         [f"AU{a:02d}" for a in BP4D_AUS if (ev["au"] == f"AU{a:02d}").any()])
        types = {t.get("LINGUISTIC_TYPE_ID") for t in root.findall("LINGUISTIC_TYPE")}
        ids = set()
        for t in tiers:
            self.assertIn(t.get("LINGUISTIC_TYPE_REF"), types)
            anns = t.findall("ANNOTATION/ALIGNABLE_ANNOTATION")
            self.assertEqual(len(anns), len(ev[ev["au"] == t.get("TIER_ID")]))
            for a in anns:
                self.assertNotIn(a.get("ANNOTATION_ID"), ids)
                ids.add(a.get("ANNOTATION_ID"))
                self.assertLess(slots[a.get("TIME_SLOT_REF1")], slots[a.get("TIME_SLOT_REF2")])
                self.assertTrue(a.find("ANNOTATION_VALUE").text.startswith(t.get("TIER_ID")))
        # The tags after the tiers come in the schema's order.
        tags = [c.tag for c in root]
        self.assertEqual(tags.index("LINGUISTIC_TYPE"), len(tags) - 1)

    def test_labels_round_trip(self):
        video = self.path("clip.mp4")
        make_video(video, 60)
        project = self.project_with_video("a.facet", video)
        # A synth-layout file with intensities, gaps and a not-codable cell.
        labels = self.path("clip.labels.csv")
        with open(labels, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["frame", "AU01", "AU01_i", "AU06", "AU06_i", "AU12", "AU12_i"])
            for frame in range(60):
                w.writerow([frame, frame % 2, f"{(frame % 7) / 6:.4f}", "" if frame % 5 else 9, "",
                            int(frame > 30), "0.5" if frame > 30 else "0"])
        p = run_cli("labels", "import", project, labels, "--format", "csv")
        self.assertIn("imported", p.stdout)
        run_cli("labels", "set", project, "--video", 1, "--frames", "3-8", "--au", 26, "--absent",
                "--coder", "ana")
        first = self.path("first.csv")
        run_cli("labels", "export", project, first)
        other = self.project_with_video("b.facet", video)
        run_cli("labels", "import", other, first, "--format", "csv", "--video", 1)
        second = self.path("second.csv")
        run_cli("labels", "export", other, second)
        with open(first) as a, open(second) as b:
            self.assertEqual(a.read(), b.read())
        # Same cells in both projects, read from the files themselves.
        db1, db2 = sqlite3.connect(project), sqlite3.connect(other)
        q = "SELECT video_id, frame, au, state, intensity FROM labels ORDER BY 1, 2, 3"
        self.assertEqual(db1.execute(q).fetchall(), db2.execute(q).fetchall())
        self.assertEqual(len(db1.execute(q).fetchall()), 60 + 12 + 60 + 6)
        # The exported file is the synth layout, naming its video, that pandas can read.
        df = pd.read_csv(first)
        self.assertEqual(list(df.columns), ["file", "sha256", "frame", "AU01", "AU01_i", "AU06", "AU06_i", "AU12", "AU12_i",
                                            "AU26", "AU26_i"])


class CrashSafety(Workdir):
    """SIGKILL in the middle of analysis and of a large import."""

    def wait_for(self, proc, condition, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if proc.poll() is not None:
                return False
            if condition():
                return True
            time.sleep(0.01)
        return False

    def test_kill_analysis_and_resume(self):
        video = self.path("long.mp4")
        n = 3000
        make_video(video, n)
        model = self.tiny_model()
        killed = self.project_with_video("killed.facet", video)
        clean = self.project_with_video("clean.facet", video)

        def count():
            try:
                db = sqlite3.connect(f"file:{killed}?mode=ro", uri=True, timeout=1)
                c = db.execute("SELECT count(*) FROM predictions").fetchone()[0]
                db.close()
                return c
            except sqlite3.Error:
                return 0

        proc = subprocess.Popen([CLI, "analyze", killed, "--model", model, "--batch", "8"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hit = self.wait_for(proc, lambda: count() >= 512)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertTrue(hit, "the analysis ended before it could be killed")
        self.assertEqual(proc.returncode, -signal.SIGKILL)

        ok, fk = integrity(killed)
        self.assertEqual(ok, "ok")
        self.assertEqual(fk, [])
        stored = count()
        self.assertGreater(stored, 0)
        self.assertLess(stored, n)
        # Chunks are whole: never half a transaction.
        self.assertEqual(stored % 256, 0)

        p = run_cli("analyze", killed, "--model", model, "--batch", "8")
        self.assertIn(f"{stored} were done already", p.stderr)
        run_cli("analyze", clean, "--model", model, "--batch", "5")
        self.assertEqual(len(predictions(killed)), n)
        self.assertEqual(predictions(killed), predictions(clean))
        self.assertEqual(faces(killed), faces(clean))
        # A third run has nothing left to do.
        p = run_cli("analyze", killed, "--model", model)
        self.assertIn(f"analysed 0 frames", p.stderr)
        db = sqlite3.connect(killed)
        runs = db.execute("SELECT status FROM runs ORDER BY id").fetchall()
        self.assertEqual([r[0] for r in runs], ["running", "done", "done"])

    def test_kill_import(self):
        video = self.path("clip.mp4")
        make_video(video, 10)
        project = self.path("p.facet")
        run_cli("init", project)
        # A long video for the labels: the store only needs the frame count.
        db_frames = 30000
        run_cli("add", project, video, "--subject", "S1", "--crop", "none")
        db = sqlite3.connect(project)
        db.execute("UPDATE videos SET n_frames = ?", (db_frames,))
        db.commit()
        db.close()
        # Committed labels before the import.
        for au in (1, 2, 4):
            run_cli("labels", "set", project, "--video", 1, "--frames", f"{au}-{au + 100}", "--au", au,
                    "--present", "--coder", "before")
        big = self.path("big.labels.csv")
        with open(big, "w") as f:
            f.write("frame," + ",".join(f"AU{a:02d}" for a in BP4D_AUS) + "\n")
            for frame in range(db_frames):
                f.write(f"{frame}," + ",".join("1" if (frame + a) % 3 == 0 else "0" for a in BP4D_AUS) + "\n")
        wal = project + "-wal"
        start = os.path.getsize(wal) if os.path.exists(wal) else 0
        proc = subprocess.Popen([CLI, "labels", "import", project, big, "--format", "csv", "--video", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill once the transaction has spilled pages into the WAL.
        hit = self.wait_for(proc, lambda: os.path.exists(wal) and os.path.getsize(wal) > start + (4 << 20))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertTrue(hit, "the import ended before it could be killed")
        ok, fk = integrity(project)
        self.assertEqual(ok, "ok")
        self.assertEqual(fk, [])
        db = sqlite3.connect(project)
        before = db.execute("SELECT au, count(*) FROM labels l JOIN coders c ON c.id = l.coder_id "
                            "WHERE c.name = 'before' GROUP BY au").fetchall()
        self.assertEqual(before, [(1, 101), (2, 101), (4, 101)])
        imported = db.execute("SELECT count(*) FROM labels WHERE source = 1").fetchone()[0]
        history = db.execute("SELECT count(*) FROM label_history").fetchone()[0]
        db.close()
        # All or nothing: nothing of the import, or all of it.
        self.assertIn(imported, (0, db_frames * len(BP4D_AUS)))
        self.assertIn(history, (303, 303 + db_frames * len(BP4D_AUS)))
        # Importing again completes.
        run_cli("labels", "import", project, big, "--format", "csv", "--video", "1")
        db = sqlite3.connect(project)
        self.assertEqual(db.execute("SELECT count(*) FROM labels WHERE source = 1").fetchone()[0],
                         db_frames * len(BP4D_AUS))
        db.close()


class Concurrency(Workdir):
    """Two processes labelling different AUs of the same frames at once."""

    def test_two_writers(self):
        video = self.path("clip.mp4")
        make_video(video, 10)
        project = self.path("p.facet")
        run_cli("init", project)
        run_cli("add", project, video, "--subject", "S1", "--crop", "none")
        db = sqlite3.connect(project)
        db.execute("UPDATE videos SET n_frames = 5000")
        db.commit()
        db.close()
        failures = []

        def writer(au, coder):
            # Big ranges (long write transactions) and single frames, alternating.
            for i in range(8):
                state = "--present" if i % 2 == 0 else "--absent"
                p = run_cli("labels", "set", project, "--video", 1, "--frames", "0-4999", "--au", au,
                            state, "--coder", coder, check=False)
                if p.returncode != 0 or p.stderr:
                    failures.append(p.stderr)
                p = run_cli("labels", "set", project, "--video", 1, "--frames", str(100 + i), "--au", au,
                            "--not-codable", "--coder", coder, check=False)
                if p.returncode != 0 or p.stderr:
                    failures.append(p.stderr)

        threads = [threading.Thread(target=writer, args=(au, f"coder{au}")) for au in (6, 12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])
        db = sqlite3.connect(project)
        for au in (6, 12):
            rows = dict(db.execute("SELECT state, count(*) FROM labels WHERE au = ? GROUP BY state",
                                   (au,)).fetchall())
            # The last range said absent (2); frames 100-106 were set not codable (3)
            # after earlier ranges and overwritten by later ones, except 107.
            self.assertEqual(rows, {2: 4999, 3: 1}, f"AU{au}")
            changes = db.execute("SELECT count(*) FROM label_history WHERE au = ?", (au,)).fetchone()[0]
            # Every change of both writers is in the history.
            self.assertEqual(changes, 8 * 5000 + 8, f"AU{au}")
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")


class Shards(Workdir):
    """--shard i/N into shard files, merged back: the same as one run."""

    def test_shards_merge(self):
        video = self.path("clip.mp4")
        make_video(video, 700)
        second = self.path("second.mp4")
        make_video(second, 300, size=48)
        model = self.tiny_model()
        project = self.project_with_video("study.facet", video)
        run_cli("add", project, second, "--subject", "S2", "--crop", "none")
        whole = self.project_with_video("whole.facet", video)
        run_cli("add", whole, second, "--subject", "S2", "--crop", "none")
        run_cli("analyze", whole, "--model", model)

        for i in (1, 2, 3):
            run_cli("analyze", project, "--model", model, "--shard", f"{i}/3")
            shard = self.path(f"study.shard-{i}-of-3.facet")
            self.assertTrue(os.path.exists(shard))
        self.assertEqual(predictions(project), [])
        shards = [self.path(f"study.shard-{i}-of-3.facet") for i in (1, 2, 3)]
        sizes = [len(predictions(s)) for s in shards]
        self.assertEqual(sum(sizes), 1000)
        self.assertTrue(all(s > 0 for s in sizes), sizes)
        run_cli("merge", project, *shards)
        self.assertEqual(predictions(project), predictions(whole))
        self.assertEqual(faces(project), faces(whole))
        p = run_cli("merge", project, *shards)
        self.assertIn("0 new predictions", p.stdout)
        status = json.loads(run_cli("status", project, "--json").stdout)
        self.assertEqual(status["videos"][0]["analysed"], {"1": 700})
        self.assertEqual(status["models"][0]["frames_analysed"], 1000)
        # Shards of another project are refused.
        self.expect_failure("merge", project, whole, contains=("whole.facet",))
        # Several videos: one openface file and one ELAN document per video in a folder.
        run_cli("export", project, "--format", "openface", self.path("of"))
        run_cli("export", project, "--format", "eaf", self.path("eaf"))
        self.assertEqual(sorted(os.listdir(self.path("of"))), ["1-clip.csv", "2-second.csv"])
        self.assertEqual(sorted(os.listdir(self.path("eaf"))), ["1-clip.eaf", "2-second.eaf"])
        self.assertEqual(len(pd.read_csv(self.path("of", "2-second.csv"))), 300)
        root = ET.parse(self.path("eaf", "2-second.eaf")).getroot()
        self.assertTrue(root.find("HEADER/MEDIA_DESCRIPTOR").get("MEDIA_URL").endswith("/second.mp4"))

    def test_aligned_crops_resume_equal(self):
        """With face tracking, shards (chunks in another order) give the same crops."""
        synth = self.path("face.mkv")
        run_cli("synth", "--subject", 4, "--seed", 2, "--seconds", 11, "--fps", 25, "--size", 128,
                "--quiet", synth)
        model = self.tiny_model(crop="aligned")
        project = self.project_with_video("study.facet", synth, crop="aligned")
        whole = self.project_with_video("whole.facet", synth, crop="aligned")
        run_cli("analyze", whole, "--model", model)
        for i in (2, 1):
            run_cli("analyze", project, "--model", model, "--shard", f"{i}/2")
        run_cli("merge", project, self.path("study.shard-1-of-2.facet"), self.path("study.shard-2-of-2.facet"))
        got, want = predictions(project), predictions(whole)
        self.assertEqual(len(want), 275)
        self.assertEqual(got, want)
        self.assertEqual(faces(project), faces(whole))
        found = [r for r in faces(whole) if r[2] == 0]
        self.assertGreater(len(found), 200)


class Hostile(Workdir):
    """Metacharacters, bad files, newer projects, missing models, moved media."""

    def test_hostile(self):
        evil_dir = self.path("it's; DROP TABLE videos; -- \"x\"")
        os.makedirs(evil_dir)
        video = os.path.join(evil_dir, "o'clock \"clip\"; --.mp4")
        make_video(video, 30)
        project = os.path.join(evil_dir, "study'; DELETE FROM labels; --.facet")
        run_cli("init", project)
        run_cli("add", project, video, "--subject", "Robert'); DROP TABLE subjects;--", "--crop", "none")
        status = json.loads(run_cli("status", project, "--json").stdout)
        self.assertEqual(status["videos"][0]["subject"], "Robert'); DROP TABLE subjects;--")
        self.assertEqual(status["videos"][0]["path"], "o'clock \"clip\"; --.mp4")
        self.assertEqual(status["videos"][0]["media"], "ok")

        # No model in the project and none given: a clear message.
        self.expect_failure("analyze", project, contains=("--model",))

        # Label files with problems: refused whole, naming file, line and column.
        bad = os.path.join(evil_dir, "bad.csv")
        with open(bad, "w") as f:
            f.write("frame,AU01,Smile\n0,1,1\n")
        self.expect_failure("labels", "import", project, bad, "--format", "csv", "--video", 1,
                            contains=("bad.csv:1:12:", "Smile"))
        with open(bad, "wb") as f:
            f.write(b"frame,AU01\n0,1\n1,\xff\xfe\n")
        self.expect_failure("labels", "import", project, bad, "--format", "csv", "--video", 1,
                            contains=("bad.csv:3:3:", "UTF-8"))
        with open(bad, "w") as f:
            f.write("frame,AU01\n0,1\n1," + "1" * (10 << 20) + "\n")
        line = self.expect_failure("labels", "import", project, bad, "--format", "csv", "--video", 1,
                                   contains=("bad.csv:3:3:",))
        self.assertLess(len(line), 400)
        with open(bad, "w") as f:
            f.write("frame,AU01\n0,1\n40,1\n")
        self.expect_failure("labels", "import", project, bad, "--format", "csv", "--video", 1,
                            contains=("bad.csv:3", "frame 40"))
        db = sqlite3.connect(project)
        self.assertEqual(db.execute("SELECT count(*) FROM labels").fetchone()[0], 0)
        db.close()
        self.expect_failure("labels", "set", project, "--video", 7, "--frames", "0-3", "--au", 1,
                            "--present", contains=("video 7",))
        self.expect_failure("labels", "set", project, "--video", 1, "--frames", "25-30", "--au", 1,
                            "--present", contains=("25-30",))

        # A project from a newer Facet: refused, left byte for byte.
        newer = self.path("newer.facet")
        run_cli("init", newer)
        db = sqlite3.connect(newer)
        db.execute("PRAGMA user_version = 42")
        db.commit()
        db.close()
        before = sha256(newer)
        self.expect_failure("status", newer, contains=("newer Facet",))
        self.expect_failure("labels", "set", newer, "--video", 1, "--frames", "0", "--au", 1, "--present",
                            contains=("newer Facet",))
        self.assertEqual(sha256(newer), before)
        # Not a project at all.
        self.expect_failure("status", bad, contains=("not a Facet project",))

    def test_moved_project(self):
        root = self.path("lab")
        os.makedirs(os.path.join(root, "projects"))
        os.makedirs(os.path.join(root, "media"))
        video = os.path.join(root, "media", "v.mp4")
        make_video(video, 20)
        project = os.path.join(root, "projects", "p.facet")
        run_cli("init", project)
        run_cli("add", project, video, "--subject", "S", "--crop", "none")
        db = sqlite3.connect(project)
        self.assertEqual(db.execute("SELECT path FROM videos").fetchone()[0], "../media/v.mp4")
        db.close()
        moved = self.path("elsewhere")
        shutil.move(root, moved)
        project = os.path.join(moved, "projects", "p.facet")
        status = json.loads(run_cli("status", project, "--json", "--check-hashes").stdout)
        self.assertEqual(status["videos"][0]["media"], "ok")
        with open(os.path.join(moved, "media", "v.mp4"), "r+b") as f:
            f.seek(100)
            f.write(b"\x00\x01\x02")
        status = json.loads(run_cli("status", project, "--json", "--check-hashes").stdout)
        self.assertEqual(status["videos"][0]["media"], "changed")
        os.unlink(os.path.join(moved, "media", "v.mp4"))
        status = json.loads(run_cli("status", project, "--json").stdout)
        self.assertEqual(status["videos"][0]["media"], "missing")
        model = self.tiny_model()
        self.expect_failure("analyze", project, "--model", model, contains=("missing",))


# py-feat's OpenFace reader, its steps and column constants written out
# (feat.utils: openface_* lists; feat.utils.io.read_openface; Fex.aus
# selects au_columns): the "openface" export must read with them.
OPENFACE_AU_LIST = [1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45]
OPENFACE_AU_INTENSITY = [f"AU{i:02d}_r" for i in OPENFACE_AU_LIST]
OPENFACE_AU_PRESENCE = sorted(f"AU{i:02d}_c" for i in OPENFACE_AU_LIST + [28])
OPENFACE_AU_COLUMNS = OPENFACE_AU_INTENSITY + OPENFACE_AU_PRESENCE
OPENFACE_2D_LANDMARKS = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
OPENFACE_3D_LANDMARKS = ([f"X_{i}" for i in range(68)] + [f"Y_{i}" for i in range(68)]
                         + [f"Z_{i}" for i in range(68)])
OPENFACE_TIME = ["frame", "timestamp"]
OPENFACE_GAZE = ["gaze_0_x", "gaze_0_y", "gaze_0_z", "gaze_1_x", "gaze_1_y", "gaze_1_z"]
OPENFACE_POSE = ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
OPENFACE_ORIG = (OPENFACE_TIME + ["confidence", "success"] + OPENFACE_GAZE + OPENFACE_POSE
                 + OPENFACE_2D_LANDMARKS + OPENFACE_3D_LANDMARKS
                 + ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"] + [f"p_{i}" for i in range(34)]
                 + OPENFACE_AU_COLUMNS)


def pyfeat_read_openface(path):
    """read_openface's steps: read, strip the names (OpenFace writes ", "),
    keep the original columns when all are there, then the Fex column groups."""
    d = pd.read_csv(path, sep=",")
    d.columns = d.columns.str.strip(" ")
    try:
        d = d[OPENFACE_ORIG]
    except KeyError:
        pass
    groups = {"aus": OPENFACE_AU_COLUMNS, "landmarks": OPENFACE_2D_LANDMARKS, "pose": OPENFACE_POSE,
              "gaze": OPENFACE_GAZE, "time": OPENFACE_TIME}
    return d, {name: d[cols] for name, cols in groups.items()}  # KeyError when one is missing


R_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE", "FALSE",
              "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_", "in"}


def r_syntactic(name):
    """R's make.names leaves a name alone when it is syntactic."""
    import re
    return (re.fullmatch(r"(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*|\.", name) is not None
            and name not in R_RESERVED)


def r_read_csv_names(path):
    """The names R's read.csv gives the columns (check.names = TRUE), from R
    itself when Rscript is there, else None."""
    if shutil.which("Rscript") is None:
        return None
    p = subprocess.run(["Rscript", "-e", "d <- read.csv(commandArgs(TRUE)[1]); "
                        "cat(names(d), sep = '\\n'); cat(nrow(d), '\\n', sep = '')", path],
                       capture_output=True, text=True, check=True)
    lines = p.stdout.split("\n")
    return lines[:-2], int(lines[-2])


class Interop(Workdir):
    """What other tools read: OpenFace 2.2's layout, labels that know their
    video, stricter imports (issue 15)."""

    def test_openface_readers(self):
        synth = self.path("face.mkv")
        run_cli("synth", "--subject", 3, "--seed", 5, "--seconds", 2, "--fps", 25, "--size", 128,
                "--quiet", synth)
        model = self.tiny_model(crop="aligned")
        project = self.project_with_video("study.facet", synth, crop="aligned")
        run_cli("analyze", project, "--model", model)
        labels = self.path("hand.csv")
        with open(labels, "w") as f:
            f.write("frame,AU12,AU12_i\n" + "".join(f"{i},1,0.4\n" for i in range(10, 20)))
        run_cli("labels", "import", project, labels, "--format", "csv", "--video", 1)
        out = self.path("openface.csv")
        run_cli("export", project, "--format", "openface", "--threshold", "0.5", out)

        d, groups = pyfeat_read_openface(out)
        self.assertEqual(list(groups["aus"].columns), OPENFACE_AU_COLUMNS)
        self.assertEqual(len(d), 50)
        self.assertEqual(list(d["frame"]), list(range(1, 51)))  # OpenFace counts from 1
        with open(out) as f:
            header = f.readline().rstrip("\n").split(",")
        self.assertEqual(header[:5], ["frame", "face_id", "timestamp", "confidence", "success"])
        self.assertEqual(header[-35:], OPENFACE_AU_COLUMNS)
        self.assertEqual([h for h in header if h in OPENFACE_ORIG], [h for h in OPENFACE_ORIG if h in header])
        # The usual filter keeps every frame with a face and every coded frame.
        db = sqlite3.connect(project)
        found = {f + 1: lm for f, lm in db.execute("SELECT frame, landmarks FROM faces WHERE status = 0")}
        db.close()
        self.assertGreater(len(found), 25)
        kept = d[(d["success"] == 1) & (d["confidence"] >= 0.8)]
        self.assertEqual(set(kept["frame"]), set(found) | set(range(11, 21)))
        # Landmarks are dlib's, x then y, in image pixels.
        some = sorted(found)[0]
        xy = struct.unpack("<136f", found[some])
        row = d[d["frame"] == some].iloc[0]
        for i in (0, 30, 67):
            self.assertAlmostEqual(row[f"x_{i}"], xy[2 * i], places=1)
            self.assertAlmostEqual(row[f"y_{i}"], xy[2 * i + 1], places=1)
        # The coder's AU12 with intensity 0.4 = OpenFace's 2 of 5.
        coded = d[(d["frame"] >= 11) & (d["frame"] <= 20)]
        self.assertTrue((coded["AU12_c"] == 1).all())
        self.assertTrue((coded["AU12_r"] == 2.0).all())
        self.assertTrue(groups["pose"].isna().all().all())
        # R: read.csv keeps every name (all syntactic) and every row.
        self.assertTrue(all(r_syntactic(h) for h in header), [h for h in header if not r_syntactic(h)])
        r = r_read_csv_names(out)
        if r is not None:
            self.assertEqual(r, (header, 50))

    def test_labels_follow_files(self):
        a, b = self.path("a.mp4"), self.path("b.mp4")
        make_video(a, 20)
        make_video(b, 20, size=48)
        first = self.project_with_video("first.facet", a)
        run_cli("add", first, b, "--subject", "S2", "--crop", "none")
        run_cli("labels", "set", first, "--video", 2, "--frames", "3-5", "--au", 12, "--present")
        exported = self.path("labels.csv")
        run_cli("labels", "export", first, exported)
        df = pd.read_csv(exported)
        self.assertEqual(list(df.columns[:3]), ["file", "sha256", "frame"])
        self.assertEqual(set(df["file"]), {"b.mp4"})
        self.assertEqual(set(df["sha256"]), {sha256(b)})
        r = r_read_csv_names(exported)
        if r is not None:
            self.assertEqual(r[0], list(df.columns))
        # Added the other way round: the labels stay with b.mp4.
        second = self.project_with_video("second.facet", b)
        run_cli("add", second, a, "--subject", "S1", "--crop", "none")
        p = run_cli("labels", "import", second, exported, "--format", "csv")
        self.assertIn("imported 3 labels", p.stdout)
        db = sqlite3.connect(second)
        rows = db.execute("SELECT video_id, frame, au FROM labels ORDER BY 1, 2").fetchall()
        db.close()
        self.assertEqual(rows, [(1, 3, 12), (1, 4, 12), (1, 5, 12)])
        p = run_cli("labels", "import", second, exported, "--format", "csv")
        self.assertNotIn("imported", p.stdout)
        self.assertIn("nothing changed", p.stdout)
        # A project without b.mp4 refuses the file.
        third = self.project_with_video("third.facet", a)
        self.expect_failure("labels", "import", third, exported, "--format", "csv",
                            contains=("b.mp4",))

    def test_stride_events(self):
        video = self.path("clip.mp4")
        make_video(video, 60)
        model = self.tiny_model()
        project = self.project_with_video("study.facet", video)
        run_cli("analyze", project, "--model", model, "--stride", 3)
        ev_path, sm_path = self.path("events.csv"), self.path("summary.csv")
        # A threshold in the middle of the probabilities gives events.
        db = sqlite3.connect(project)
        probs = [struct.unpack(f"<{len(p) // 2}H", p)[0] / 65535 for (p,) in
                 db.execute("SELECT probs FROM predictions ORDER BY frame")]
        db.close()
        threshold = sorted(probs)[len(probs) // 2]
        run_cli("export", project, "--format", "events", "--threshold", threshold, ev_path)
        run_cli("export", project, "--format", "summary", "--threshold", threshold, sm_path)
        ev, sm = pd.read_csv(ev_path), pd.read_csv(sm_path)
        self.assertGreater(len(ev), 0)
        for _, e in ev.iterrows():
            frames = e["offset_frame"] - e["onset_frame"] + 1
            self.assertEqual(frames % 3, 0)  # whole rows of 3 frames (60 is a multiple of 3)
            self.assertAlmostEqual(e["duration"], frames / 25, places=5)
        for _, s in sm.iterrows():
            mine = ev[ev["au"] == s["au"]]
            coded_s = len(mine) / s["events_per_minute"] * 60 if len(mine) else None
            if coded_s is not None:
                self.assertAlmostEqual(mine["duration"].sum(), s["presence_pct"] / 100 * coded_s, places=3)
                self.assertAlmostEqual(s["mean_event_duration"], mine["duration"].mean(), places=3)

    def test_disfa_checks(self):
        video = self.path("LeftVideoSN001_comp.mp4")
        make_video(video, 100)
        project = self.project_with_video("study.facet", video)
        folder = self.path("SN001")
        os.makedirs(folder)
        with open(os.path.join(folder, "SN001_au1.txt"), "w") as f:
            f.write("".join(f"{i},0\n" for i in range(1, 101)))
        with open(os.path.join(folder, "SN001_au2.txt"), "w") as f:
            f.write("".join(f"{i},3\n" for i in range(1, 33)))
        self.expect_failure("labels", "import", project, folder, "--format", "disfa",
                            contains=("SN001_au2.txt:32:", "cut short"))
        with open(os.path.join(folder, "SN001_au2.txt"), "w") as f:
            f.write("".join(f"{i},3\n" for i in range(1, 101) if i != 51))
        self.expect_failure("labels", "import", project, folder, "--format", "disfa",
                            contains=("SN001_au2.txt:51:", "missing"))
        db = sqlite3.connect(project)
        self.assertEqual(db.execute("SELECT count(*) FROM labels").fetchone()[0], 0)
        db.close()
        # Frames past the video are quoted as the file counts them (from 1).
        with open(os.path.join(folder, "SN001_au2.txt"), "w") as f:
            f.write("".join(f"{i},3\n" for i in range(1, 102)))
        with open(os.path.join(folder, "SN001_au1.txt"), "w") as f:
            f.write("".join(f"{i},0\n" for i in range(1, 102)))
        self.expect_failure("labels", "import", project, folder, "--format", "disfa",
                            contains=(":101: frame 101 is outside video 1 (frames 1-100",))

    def test_eaf_for_elan(self):
        video = self.path("my clip #1.mp4")
        make_video(video, 50)
        model = self.tiny_model()
        project = self.project_with_video("study.facet", video)
        run_cli("analyze", project, "--model", model)
        run_cli("labels", "set", project, "--video", 1, "--frames", "10-19", "--au", 12, "--present",
                "--coder", "ana")
        eaf = self.path("out.eaf")
        env = dict(os.environ, LC_ALL="de_DE.UTF-8")
        p = subprocess.run([CLI, "export", project, "--format", "eaf", "--threshold", "0.5", eaf],
                           capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        root = ET.parse(eaf).getroot()
        md = root.find("HEADER/MEDIA_DESCRIPTOR")
        self.assertEqual(md.get("RELATIVE_MEDIA_URL"), "./my%20clip%20%231.mp4")
        values = [v.text for v in root.iter("ANNOTATION_VALUE")]
        self.assertTrue(any("peak 0." in v for v in values), values)
        self.assertFalse(any("peak 0," in v for v in values), values)
        for t in root.findall("TIER"):
            self.assertGreater(len(t.findall("ANNOTATION")), 0, t.get("TIER_ID"))
        # The coder of the human events first, "Facet" for the model's.
        for t in root.findall("TIER"):
            names = t.get("ANNOTATOR").split(", ")
            if t.get("TIER_ID") == "AU12":
                self.assertEqual(names[0], "ana")
            else:
                self.assertEqual(names, ["Facet"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        suite = unittest.defaultTestLoader.loadTestsFromName(sys.argv[1], sys.modules[__name__])
        result = unittest.TextTestRunner(verbosity=2).run(suite)
        sys.exit(0 if result.wasSuccessful() else 1)
    unittest.main(verbosity=2)
