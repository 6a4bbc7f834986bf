#!/usr/bin/python3
"""facet-cli predict on the Vulkan backend against the CPU backend (and PyTorch).

Run by meson (suite 'gpu') on lavapipe with the validation layers enabled;
FACET_CLI names the facet-cli binary. Checkpoints are real torch.save() files
written by tests/parity/fmae_reference.py. Exit code 77 (skipped) only when
no Vulkan device exists.

  test_vulkan_predict.py             the tests of `make check`
  test_vulkan_predict.py VitBase     ViT-B/16 at one image (suite 'slow')
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "parity"))
import fmae_reference as ref  # noqa: E402

CLI = os.environ.get("FACET_CLI", "facet-cli")
SHARED = os.environ.get("FACET_TESTDATA", "")
OUTPUTS = ("prob", "logit", "pooled", "id_logit", "attention", "au_maps")


def run_cli(*args, env=None, check=True):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=full_env)
    if check and p.returncode != 0:
        raise AssertionError(f"facet-cli {' '.join(map(str, args))} failed ({p.returncode}):\n"
                             f"{p.stderr}")
    return p


def vulkan_device_exists():
    p = subprocess.run(["vulkaninfo", "--summary"], capture_output=True, text=True)
    return p.returncode == 0 and "deviceName" in p.stdout


class Predict(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-vulkan-")
        torch.set_num_threads(2)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def images(self, count=1):
        paths = ref.write_test_images(self.dir, 224, count, seed=3)
        astronaut = os.path.join(SHARED, "astronaut.png")
        if os.path.exists(astronaut):
            paths.append(astronaut)  # 512x512: resized on the way in
        return paths

    def predict(self, model, images, *extra, env=None):
        p = run_cli("predict", "--model", model, "--crop", "none", "--json", *extra, *images,
                    env=env)
        self.assertNotIn("validation error", p.stderr)
        return [json.loads(line) for line in p.stdout.splitlines()], p.stderr

    def compare(self, want, got, tol, what, keys=OUTPUTS, scale=None):
        """Max absolute differences per output; probabilities and maps within
        tol, the unbounded outputs (logits, features) relative to their size."""
        self.assertEqual(len(want), len(got))
        for key in keys:
            if key not in want[0]:
                continue
            a = np.asarray([w[key] for w in want], dtype=np.float64)
            b = np.asarray([g[key] for g in got], dtype=np.float64)
            err = np.abs(a - b).max()
            allowed = tol if key in ("prob", "attention", "au_maps") else \
                tol * max(1.0, np.abs(a).max())
            print(f"{what}: {key} max |difference| {err:.3g} (allowed {allowed:.3g})")
            self.assertLessEqual(err, allowed, f"{what}: {key}")

    def checkpoint(self, name, dim, depth, heads, n_subjects=0, readout="global-pool",
                   model="vit_small_patch16"):
        sd = ref.make_state_dict(dim, depth, heads, 12, n_subjects=n_subjects, seed=dim,
                                 readout=readout)
        ckpt = self.path(name + ".pth")
        ref.save_checkpoint(ckpt, sd, ref.fmae_args(model=model,
                                                    global_pool=readout == "global-pool"))
        return ckpt, sd

    def test_vit_small_fp32(self):
        """ViT-S/16: every output within 1e-4 of the CPU backend, and of PyTorch."""
        ckpt, sd = self.checkpoint("small", 384, 12, 6, n_subjects=41)
        images = self.images()
        extra = ("--attention", "--au-maps", "--features")
        cpu, _ = self.predict(ckpt, images, "--backend", "cpu", *extra)
        vk, err = self.predict(ckpt, images, "--backend", "vulkan", *extra)
        self.assertNotIn("notice", err)  # it really ran on Vulkan
        self.compare(cpu, vk, 1e-4, "ViT-S fp32")

        x = torch.stack([ref.load_png_tensor(p, 224) for p in images])
        want = ref.reference_forward(sd, x, 6)
        err = np.abs(np.asarray([g["prob"] for g in vk]) - want["probs"].double().numpy()).max()
        print(f"ViT-S fp32: probabilities against PyTorch: max |difference| {err:.3g}")
        self.assertLess(err, 1e-4)
        err = np.abs(np.asarray([g["attention"] for g in vk]) - want["rollout"].double().numpy()).max()
        self.assertLess(err, 1e-4)

        # The pipeline cache was saved for the next run.
        cache = os.path.join(os.environ.get("XDG_CACHE_HOME", ""), "facet")
        self.assertTrue(any(n.startswith("vulkan-pipelines-") for n in os.listdir(cache)))

    def test_small_vit_fp16(self):
        """fp16 storage of weights and activations: within 1e-2."""
        ckpt, _ = self.checkpoint("tiny", 192, 4, 3, n_subjects=7, model="vit_tiny_patch16")
        images = self.images()
        extra = ("--attention", "--au-maps", "--features")
        cpu, _ = self.predict(ckpt, images, "--backend", "cpu", *extra)
        vk, err = self.predict(ckpt, images, "--backend", "vulkan", "--precision", "fp16", *extra)
        self.assertNotIn("notice", err)
        self.compare(cpu, vk, 1e-2, "ViT-Ti/4 fp16")
        # and the same model in fp32 is much closer
        vk32, _ = self.predict(ckpt, images, "--backend", "vulkan", "--precision", "fp32", *extra)
        self.compare(cpu, vk32, 1e-4, "ViT-Ti/4 fp32")

    def test_cls_token_readout(self):
        """The class-token readout (norm, no fc_norm) and its rollout."""
        ckpt, _ = self.checkpoint("cls", 128, 2, 2, readout="cls-token")
        images = self.images()
        cpu, _ = self.predict(ckpt, images, "--heads", "2", "--backend", "cpu", "--attention")
        vk, err = self.predict(ckpt, images, "--heads", "2", "--backend", "vulkan", "--attention")
        self.assertNotIn("notice", err)
        self.compare(cpu, vk, 1e-4, "class token fp32")

    def test_batches(self):
        """Batch size does not change results."""
        ckpt, _ = self.checkpoint("tiny", 192, 2, 3, model="vit_tiny_patch16")
        images = self.images(count=3)
        one, _ = self.predict(ckpt, images, "--backend", "vulkan", "--batch", "1", "--attention")
        all_, _ = self.predict(ckpt, images, "--backend", "vulkan", "--batch", "4", "--attention")
        self.compare(one, all_, 1e-6, "batch 1 against batch 4")

    def test_fallback(self):
        """No driver, or a failing one: the CPU, with a notice; never a crash."""
        ckpt, _ = self.checkpoint("tiny", 192, 1, 3, model="vit_tiny_patch16")
        images = self.images()
        cpu, _ = self.predict(ckpt, images, "--backend", "cpu")

        got, err = self.predict(ckpt, images, "--backend", "vulkan",
                                env={"VK_DRIVER_FILES": self.path("no-such-icd.json")})
        self.assertIn("Vulkan is not available", err)
        self.assertEqual([g["logit"] for g in got], [c["logit"] for c in cpu])

        got, err = self.predict(ckpt, images, "--backend", "vulkan",
                                env={"FACET_VK_FAULT": "alloc:1"})
        self.assertIn("out of memory", err)
        self.assertIn("using the CPU", err)
        self.assertEqual([g["logit"] for g in got], [c["logit"] for c in cpu])

        # A device that does not exist is named in the notice.
        got, err = self.predict(ckpt, images, "--backend", "vulkan",
                                env={"FACET_VK_DEVICE": "no such gpu"})
        self.assertIn("FACET_VK_DEVICE", err)

        # "auto" uses Vulkan only on a real GPU: here, on lavapipe, the CPU.
        got, err = self.predict(ckpt, images, "--backend", "auto")
        self.assertNotIn("notice", err)
        self.assertEqual([g["logit"] for g in got], [c["logit"] for c in cpu])

    def test_bad_precision(self):
        p = run_cli("predict", "--model", self.path("x.pth"), "--precision", "fp8",
                    self.path("x.png"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("fp8", p.stderr)


class VitBase(Predict):
    """ViT-B/16 at one image: 17.6 GFLOP on lavapipe (suite 'slow')."""

    def test_vit_base_fp32(self):
        ckpt, _ = self.checkpoint("base", 768, 12, 12, n_subjects=41, model="vit_base_patch16")
        images = self.images(count=1)[:1]
        extra = ("--attention", "--au-maps", "--features")
        cpu, _ = self.predict(ckpt, images, "--backend", "cpu", *extra)
        vk, err = self.predict(ckpt, images, "--backend", "vulkan", *extra)
        self.assertNotIn("notice", err)
        self.compare(cpu, vk, 1e-4, "ViT-B fp32")
        vk16, err = self.predict(ckpt, images, "--backend", "vulkan", "--precision", "fp16", *extra)
        self.compare(cpu, vk16, 1e-2, "ViT-B fp16")


if __name__ == "__main__":
    if not vulkan_device_exists():
        print("no Vulkan device", file=sys.stderr)
        sys.exit(77)
    if len(sys.argv) > 1 and sys.argv[1] == "VitBase":
        suite = unittest.TestLoader().loadTestsFromTestCase(VitBase)
        suite = unittest.TestSuite(t for t in suite if t.id().endswith("test_vit_base_fp32"))
    else:
        suite = unittest.TestLoader().loadTestsFromTestCase(Predict)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
