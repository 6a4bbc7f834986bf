#!/usr/bin/python3
"""facet-cli finetune and models on a real (small, synthetic) project.

- a run killed with SIGKILL after an epoch and resumed ends with the same
  weights as an uninterrupted run with the same seed;
- bad settings are refused with one line before any frame is decoded;
- heads-mode fine-tuning with its defaults improves validation F1 over the base
  model, and IAT is refused in heads mode;
- bf16 asked for on a processor without it (FACET_CPU_FEATURES=-bf16): one
  notice, and the run trains in fp32;
- `models --json` lists the new model with its parent, its metrics and its
  parent's on the same held-out frames;
- `model convert --name` renames a trained model and keeps its weights and how
  they were made (the "facet.training" metadata); `--new-head` drops the latter.
"""
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import tempfile
import time
import unittest

CLI = os.environ.get("FACET_CLI", "facet-cli")
DEMO = os.environ.get("FACET_DEMO_MODEL", "")
DEMO_SCRATCH = os.environ.get("FACET_DEMO_SCRATCH_MODEL", "")  # the demo model trained from scratch


def cli(*args, check=True, **kw):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"facet-cli {' '.join(map(str, args))}: {p.stderr}")
    return p


def synthetic_project(project, prefix, n, subject_base, seed_base, seconds, fps, size, crop, synth_args=()):
    """A new project of n synthetic subjects PREFIX1..PREFIXn (videos prefix1.mkv ... next to it),
    identity seed subject_base + i, event seed seed_base + i, every frame labelled."""
    folder = os.path.dirname(project)
    cli("init", project)
    for s in range(1, n + 1):
        video = os.path.join(folder, f"{prefix.lower()}{s}.mkv")
        cli("synth", "--subject", subject_base + s, "--seed", seed_base + s, "--seconds", seconds, "--fps", fps,
            "--size", size, "--codec", "ffv1", *synth_args, video)
        cli("add", project, video, "--subject", f"{prefix}{s}", "--crop", crop)
        cli("labels", "import", project, video.replace(".mkv", ".labels.csv"), "--format", "csv", "--video", s)


def metadata(path):
    """The __metadata__ of a safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def weights(path):
    """The tensor bytes of a safetensors file (the header holds names and times)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return {k: data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in header.items()}


class Finetune(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="facet-finetune-")
        cls.project = os.path.join(cls.dir, "p.facet")
        synthetic_project(cls.project, "S", 6, 0, 100, seconds=4, fps=10, size=112, crop="none")
        cls.base = os.path.join(cls.dir, "base.safetensors")
        cli("model", "new", cls.base, "--dim", 48, "--depth", 2, "--heads", 2, "--image-size", 64,
            "--patch", 16, "--aus", "1,2,4,6,9,12,15,17,25,26,43", "--crop", "none", "--seed", 1)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def copy_project(self, name):
        path = os.path.join(self.dir, name)
        shutil.copy(self.project, path)
        return path

    def run_args(self, project, *extra):
        return ["finetune", project, "--base", self.base, "--mode", "full", "--epochs", 4,
                "--batch", 8, "--lr", "1e-3", "--iat-lambda", 0.5, "--seed", 7, "--drop-path", 0.1,
                "--quiet", *extra]

    def test_kill_and_resume(self):
        straight = self.copy_project("straight.facet")
        out = cli(*self.run_args(straight, "--name", "straight")).stdout
        path_a = os.path.join(self.dir, "models", "straight.safetensors")
        self.assertIn("straight", out)

        killed = self.copy_project("killed.facet")
        ckpt = killed + ".finetune.ckpt"
        proc = subprocess.Popen([CLI, *map(str, self.run_args(killed, "--name", "resumed"))],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Wait for the checkpoint of epoch 2, then kill without warning.
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(ckpt):
                with open(ckpt, "rb") as f:
                    head = f.read(4096)
                if b'"epoch":"2"' in head or b'"epoch":"3"' in head:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        self.assertTrue(os.path.exists(ckpt))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "models", "resumed.safetensors")))
        cli(*self.run_args(killed, "--name", "resumed", "--resume"))
        path_b = os.path.join(self.dir, "models", "resumed.safetensors")
        a, b = weights(path_a), weights(path_b)
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertEqual(a[k], b[k], f"tensor {k} differs after kill and resume")
        self.assertFalse(os.path.exists(ckpt), "the checkpoint is removed once the model is saved")

    def test_bad_settings(self):
        cases = [
            (["--iat-lambda", "-1"], "lambda"),
            (["--mode", "last:9"], "more blocks"),
            (["--mode", "middle"], "unknown mode"),
            (["--epochs", "0"], "epochs"),
            (["--precision", "fp16"], "unknown precision"),
        ]
        for extra, words in cases:
            p = cli("finetune", self.project, "--base", self.base, *extra, check=False)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn(words, p.stderr)
        # A held-out subject without labelled frames (e.g. one whose face the
        # detector never finds): refused with its name, not a crash.
        unlabelled = self.copy_project("unlabelled-subject.facet")
        s7 = os.path.join(self.dir, "s7.mkv")
        cli("synth", "--subject", 7, "--seconds", 1, "--fps", 10, "--size", 112, "--codec", "ffv1", "-q", s7)
        cli("add", unlabelled, s7, "--subject", "S7", "--crop", "none")
        p = cli("finetune", unlabelled, "--base", self.base, "--val-subjects", "S7,S6", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("S7 has no labelled frames", p.stderr)
        self.assertFalse(os.path.exists(unlabelled + ".finetune.ckpt"))
        # A base model without the AUs the labels use.
        other = os.path.join(self.dir, "other.safetensors")
        cli("model", "new", other, "--dim", 48, "--depth", 2, "--heads", 2, "--image-size", 64,
            "--aus", "1,2", "--crop", "none")
        p = cli("finetune", self.project, "--base", other, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("does not predict AU", p.stderr)
        # One subject only, with IAT on; and a project without labels.
        single = os.path.join(self.dir, "single.facet")
        cli("init", single)
        cli("add", single, os.path.join(self.dir, "s1.mkv"), "--subject", "S1", "--crop", "none")
        p = cli("finetune", single, "--base", self.base, check=False)
        self.assertIn("no labelled frames", p.stderr)
        cli("labels", "import", single, os.path.join(self.dir, "s1.labels.csv"), "--format", "csv",
            "--video", 1)
        p = cli("finetune", single, "--base", self.base, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("one subject", p.stderr)
        # Nothing was written.
        self.assertFalse(os.path.exists(single + ".finetune.ckpt"))
        models = json.loads(cli("models", single, "--json").stdout)
        self.assertEqual(models, [])

    def test_precision_fallback_notice(self):
        # bf16 asked where the processor has none: one notice, and the run goes on in fp32.
        project = self.copy_project("precision.facet")
        env = dict(os.environ, FACET_CPU_FEATURES="-bf16")
        p = cli("finetune", project, "--base", self.base, "--mode", "last:1", "--epochs", 1,
                "--precision", "bf16", "--seed", 2, "--quiet", env=env)
        notices = [l for l in p.stderr.splitlines() if "notice" in l]
        self.assertEqual(len(notices), 1, p.stderr)
        self.assertIn("bf16 was asked for but this processor has no AVX512-BF16", notices[0])
        self.assertIn("training in fp32", notices[0])
        self.assertIn("model ", p.stdout)
        # auto never needs a notice.
        p = cli("finetune", project, "--base", self.base, "--mode", "last:1", "--epochs", 1,
                "--precision", "auto", "--seed", 2, "--quiet", env=env)
        self.assertNotIn("notice", p.stderr)

    def test_convert_keeps_lineage(self):
        self.assertTrue(os.path.exists(DEMO), f"the demo model {DEMO} is missing")
        before = metadata(DEMO)
        self.assertIn("facet.training", before)
        renamed = os.path.join(self.dir, "renamed.safetensors")
        cli("model", "convert", DEMO, renamed, "--name", "renamed demo")
        after = metadata(renamed)
        self.assertEqual(json.loads(after["facet.config"])["name"], "renamed demo")
        self.assertEqual(after["facet.training"], before["facet.training"])
        self.assertEqual(weights(renamed), weights(DEMO))
        fresh = os.path.join(self.dir, "fresh-head.safetensors")
        cli("model", "convert", DEMO, fresh, "--new-head")
        self.assertNotIn("facet.training", metadata(fresh))

    def test_heads_improves_and_models_json(self):
        # The demo model's backbone (trained on other synthetic subjects) with
        # a fresh AU head: heads mode must learn the head from its features.
        self.assertTrue(os.path.exists(DEMO), f"the demo model {DEMO} is missing")
        base = os.path.join(self.dir, "demo-new-head.safetensors")
        cli("model", "convert", DEMO, base, "--new-head")
        # A project made the way the demo model was trained: 224 px frames,
        # aligned crops (dlib's landmarks), subjects the demo never saw.
        project = os.path.join(self.dir, "heads.facet")
        synthetic_project(project, "H", 8, 500, 600, seconds=6, fps=5, size=224, crop="aligned")
        # IAT is refused in heads mode (the backbone is frozen), before any work.
        p = cli("finetune", project, "--base", base, "--mode", "heads", "--iat-lambda", 0.5, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("last:K or full", p.stderr)
        # Heads mode with every default (its own learning rate and schedule).
        out = cli("finetune", project, "--base", base, "--mode", "heads", "--seed", 3, "--name", "heads",
                  "--quiet").stdout
        rows = [l.split() for l in out.splitlines() if l.strip() and l.split()[0].isdigit()]
        base_row = [l.split() for l in out.splitlines() if l.startswith("base")][0]
        # The "base" row is the base model on the same validation subjects.
        base_f1, last_f1 = base_row[4], float(rows[-1][4])
        base_f1 = 0.0 if base_f1 == "-" else float(base_f1)
        print(f"validation mean F1: base model {base_f1:.3f}, after heads fine-tuning {last_f1:.3f}")
        self.assertGreater(last_f1, base_f1, out)
        # No ID loss is trained in heads mode.
        self.assertEqual(float(rows[-1][3]), 0.0, out)
        # The last lines put the new model beside its base, on the same frames.
        summary = [l for l in out.splitlines() if l.startswith("held-out mean F1")]
        self.assertEqual(len(summary), 1, out)
        self.assertIn(f"base {base_f1:.3f}, new {last_f1:.3f}", summary[0])
        self.assertIn("chance", out)
        models = json.loads(cli("models", project, "--json").stdout)
        self.assertEqual([m["name"] for m in models][-1], "heads")
        new = models[-1]
        self.assertIsNotNone(new["parent"])
        parent = [m for m in models if m["id"] == new["parent"]][0]
        self.assertIsNone(parent["parent"])
        for key in ("f1_mean", "f1", "auc_mean", "auc", "base_f1_mean", "base_auc_mean", "base_f1",
                    "base_auc", "id_probe_acc", "id_probe_chance", "id_probe_train_acc", "thresholds"):
            self.assertIn(key, new["metrics"])
        m = new["metrics"]
        self.assertAlmostEqual(m["f1_mean"], last_f1, places=3)
        self.assertAlmostEqual(m["base_f1_mean"] or 0.0, base_f1, places=3)
        self.assertAlmostEqual(m["base_auc_mean"], float(base_row[7]), places=3)
        self.assertAlmostEqual(m["auc_mean"], float(rows[-1][7]), places=3)
        self.assertEqual(sorted(m["f1"]), sorted(m["base_f1"]))
        # base_* are the parent's here: no other model named, no separate start.
        self.assertIsNone(m["base_model_id"])
        self.assertIsNone(m["start_f1_mean"])
        # Per-AU thresholds chosen on the validation subjects travel with the model.
        self.assertTrue(all(0.0 < t < 1.0 for t in m["thresholds"].values()), m["thresholds"])
        # The split is reported and kept with the model: which subjects were held out.
        held_line = [l for l in out.splitlines() if "held out for validation" in l]
        self.assertEqual(len(held_line), 1, out)
        held = held_line[0].rsplit(": ", 1)[1].split(", ")
        self.assertEqual(len(held), 2, held_line)
        with sqlite3.connect(project) as db:
            data = json.loads(db.execute("SELECT data FROM models WHERE name = 'heads'").fetchone()[0])
        self.assertEqual(data["validation_subjects"], held)
        self.assertTrue(set(held) <= set(data["subjects"]))
        n_train = int(held_line[0].split()[2])
        self.assertEqual(n_train + len(held), len(data["subjects"]), held_line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
