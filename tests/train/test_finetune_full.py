#!/usr/bin/python3
"""Full-mode fine-tuning with IAT on a real (small, synthetic) project (suite 'slow').

The demo model's backbone with a fresh AU head is fine-tuned end to end
(every block trainable, identity head behind gradient reversal) on subjects
it never saw, with aligned crops as in the demo project; the held-out F1 must
rise above the base model's, and the new model must carry its metrics.
"""
import json
import os
import shutil
import tempfile
import unittest

from test_finetune_cli import DEMO, cli, synthetic_project

AUS = "1,2,4,6,9,12,15,17,25,26,43"


class FinetuneFull(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-finetune-full-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_full_mode_with_iat_improves(self):
        self.assertTrue(os.path.exists(DEMO), f"the demo model {DEMO} is missing")
        base = os.path.join(self.dir, "demo-new-head.safetensors")
        cli("model", "convert", DEMO, base, "--new-head")
        project = os.path.join(self.dir, "full.facet")
        # every AU in about 30 % of the frames, as in the demo model's data
        synthetic_project(project, "F", 12, 700, 800, seconds=20, fps=2, size=256, crop="aligned",
                          synth_args=("--bias-au", AUS, "--bias-rate", ",".join(["0.3"] * 11)))
        out = cli("finetune", project, "--base", base, "--mode", "full", "--epochs", 6, "--batch", 16,
                  "--lr", "5e-4", "--iat-lambda", 0.5, "--seed", 2, "--name", "full", "--quiet").stdout
        print(out)
        rows = [l.split() for l in out.splitlines() if l.strip() and l.split()[0].isdigit()]
        base_row = [l.split() for l in out.splitlines() if l.startswith("base")][0]
        self.assertEqual(len(rows), 6, out)
        base_f1 = 0.0 if base_row[4] == "-" else float(base_row[4])
        last_f1 = float(rows[-1][4])
        base_auc, last_auc = float(base_row[7]), float(rows[-1][7])
        print(f"held-out mean F1: base model {base_f1:.3f}, after full fine-tuning with IAT {last_f1:.3f}; "
              f"AUC {base_auc:.3f} -> {last_auc:.3f}")
        self.assertGreater(last_f1, base_f1, out)
        self.assertGreater(last_auc, base_auc, out)
        # Both losses were trained: the ID loss is a number, not a dash.
        self.assertNotEqual(rows[-1][3], "-", out)
        models = json.loads(cli("models", project, "--json").stdout)
        new = models[-1]
        self.assertEqual(new["name"], "full")
        self.assertAlmostEqual(new["metrics"]["f1_mean"], last_f1, places=3)
        self.assertIsNotNone(new["metrics"]["id_probe_acc"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
