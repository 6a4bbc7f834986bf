#!/usr/bin/python3
"""Heads mode with every default pays off where the base model's own head is off.

The demo model (its trained head, not a new one) meets a lab's recordings filmed under a warm light
from one side, slightly blurred and compressed harder (`synth --light-colour --light-strength --blur
--quality`): its features still rank the frames (AUC 0.777) but its head's operating point no
longer fits (F1 at 0.5 0.368, against 0.49 on the demo's own condition). Heads mode with its
defaults, on four coded subjects, must raise held-out mean AUC over the base model measured on the
same two held-out subjects (seeds 1-3: +0.015 to +0.016 with the CNN face detector, +0.032 to
+0.034 with dlib alone; docs/training.md has the table).
"""
import json
import os
import shutil
import tempfile
import unittest

from test_finetune_cli import CLI, DEMO, cli, synthetic_project

CONDITION = ["--light-colour", "1.3,1.0,0.6", "--light-strength", 0.8, "--light-angle", 200, "--blur", 0.8,
             "--codec", "h264", "--quality", 28]


class HeadsShift(unittest.TestCase):
    def test_heads_defaults_raise_f1_under_shift(self):
        self.assertTrue(os.path.exists(DEMO), f"the demo model {DEMO} is missing")
        d = tempfile.mkdtemp(prefix="facet-heads-shift-")
        try:
            project = os.path.join(d, "shift.facet")
            # 6 subjects the demo never saw, 224 px frames, aligned crops as the demo was trained
            synthetic_project(project, "L", 6, 930, 40, seconds=6, fps=5, size=224, crop="aligned",
                              synth_args=CONDITION)
            out = cli("finetune", project, "--base", DEMO, "--mode", "heads", "--seed", 1,
                      "--val-subjects", "L5,L6", "--quiet").stdout
            m = json.loads(cli("models", project, "--json").stdout)[-1]["metrics"]
            print(f"held-out mean F1 at 0.5: base {m['base_f1_mean']:.3f}, heads {m['f1_mean']:.3f}; "
                  f"AUC: base {m['base_auc_mean']:.3f}, heads {m['auc_mean']:.3f}")
            # the shift is real: the base model's head is off on these recordings
            self.assertLess(m["base_f1_mean"], 0.45, out)
            self.assertGreater(m["base_auc_mean"], 0.6, out)
            # heads mode recovers part of it, on the same held-out frames: AUC rose by
            # 0.015-0.016 with seeds 1-3 (2026-12-07; 0.032-0.034 before the CNN detector
            # found the darker subjects' remaining frames). F1 at 0.5 on two subjects'
            # frames does not rise reliably (+0.013 here, -0.126 under a harsher
            # condition: docs/training.md), so it is printed, not asserted. The project
            # is the same from run to run since the writer's x264 runs without mbtree.
            self.assertGreater(m["auc_mean"], m["base_auc_mean"] + 0.01, out)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
