#!/usr/bin/python3
"""bf16 mixed-precision training against PyTorch autocast, and its fallback.

A tiny ViT in the FMAE-IAT layout (dim 64, 2 blocks, 13 images of 32x32 in
patches of 8: rows that fill no tile or panel evenly), the same weights and
batch for Facet's train-step tool and for PyTorch autograd.

Tolerance from PyTorch itself: its autocast bf16 gradients differ from its
fp32 ones by a spread s (max |g_bf16 - g_fp32| / max |g_fp32| per tensor).
Facet's bf16 step keeps more in fp32 (the sums, LayerNorm, softmax, GELU, the
residual stream and the heads), so its gradients must lie within 2 s of
PyTorch's fp32 tensor by tensor; its losses within twice the mean |logit
change| of PyTorch's bf16 (a mean of BCE terms moves by at most that much). With FACET_CPU_FEATURES=-bf16 a bf16 request runs
fp32: the tool says so and the gradients are byte for byte the fp32 ones.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
import fmae_reference as ref  # noqa: E402

if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    TOOL = sys.argv.pop(1)
else:
    TOOL = os.environ.get("FACET_TRAIN_STEP", "train-step-tool")
DIM, DEPTH, HEADS, IMAGE, PATCH, AUS, SUBJECTS, BATCH = 64, 2, 2, 32, 8, 12, 5, 13


class TrainBf16(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="facet-train-bf16-")
        g = torch.Generator().manual_seed(5)
        cls.sd = ref.make_state_dict(DIM, DEPTH, HEADS, AUS, n_subjects=SUBJECTS, image=IMAGE,
                                     patch=PATCH, seed=12)
        cls.images = torch.randn(BATCH, 3, IMAGE, IMAGE, generator=g)
        cls.targets = (torch.rand(BATCH, AUS, generator=g) > 0.6).float()
        cls.targets[1, 2] = -1
        cls.subjects = torch.tensor([float(i % SUBJECTS) for i in range(BATCH)])
        cls.subjects[4] = -1
        cls.model = os.path.join(cls.dir, "m.pth")
        ref.save_checkpoint(cls.model, cls.sd, ref.fmae_args(model="vit_tiny_patch16"))
        cls.batch = os.path.join(cls.dir, "batch.safetensors")
        ref.write_safetensors(cls.batch, {"images": cls.images, "au_targets": cls.targets,
                                          "subjects": cls.subjects})

    def run_facet(self, precision, *args, env=None):
        grads_path = os.path.join(self.dir, f"grads-{precision}.safetensors")
        stepped_path = os.path.join(self.dir, f"stepped-{precision}.safetensors")
        subprocess.run([TOOL, self.model, self.batch, grads_path, stepped_path, "--heads", str(HEADS),
                        "--precision", precision, *map(str, args)], check=True, env=env)
        grads, meta = ref.read_safetensors(grads_path)
        with open(grads_path, "rb") as f:
            raw = f.read()
        return grads, meta, raw

    def run_torch(self, lam, trainable, autocast):
        p = {k: v.clone().float().requires_grad_(trainable(k)) for k, v in self.sd.items()}
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            feat = ref.functional_forward(p, self.images, HEADS)
            logits = F.linear(feat, p["head.weight"], p["head.bias"])
            id_logits = F.linear(ref.GradientReversal.apply(feat, lam), p["ID_head.weight"],
                                 p["ID_head.bias"])
        mask = self.targets >= 0
        au_loss = F.binary_cross_entropy_with_logits(logits.float()[mask], self.targets[mask])
        has = self.subjects >= 0
        onehot = F.one_hot(self.subjects[has].long(), SUBJECTS).float()
        id_loss = F.binary_cross_entropy_with_logits(id_logits.float()[has], onehot)
        (au_loss + id_loss).backward()
        grads = {k: v.grad.clone().float() for k, v in p.items() if v.requires_grad}
        return float(au_loss), float(id_loss), grads, logits.detach().float()[mask], \
            id_logits.detach().float()[has]

    def compare(self, lam, trainable, *args):
        fg, meta, _ = self.run_facet("bf16", "--lambda", lam, *args)
        if meta["precision"] != "bf16":
            self.skipTest("no AVX512-BF16 on this processor: Facet trains in fp32 here")
        au32, id32, g32, z32, zid32 = self.run_torch(lam, trainable, False)
        _, _, g16, z16, zid16 = self.run_torch(lam, trainable, True)
        # A mean of BCE terms moves by at most the mean |change| of its logits
        # (|d BCE / d z| <= 1): PyTorch bf16's logit spread bounds the loss.
        for name, f, t32, spread in (("AU loss", float(meta["au_loss"]), au32, (z16 - z32).abs().mean()),
                                     ("ID loss", float(meta["id_loss"]), id32, (zid16 - zid32).abs().mean())):
            print(f"{name}: Facet bf16 {abs(f - t32):.2e} from PyTorch fp32; PyTorch bf16's mean logit "
                  f"spread {float(spread):.2e}")
            self.assertLessEqual(abs(f - t32), 2 * float(spread), name)
        self.assertEqual(set(fg), set(g32))
        ratios = []
        for name, g in g32.items():
            scale = max(g.abs().max().item(), 1e-12)
            spread = (g16[name] - g).abs().max().item() / scale
            err = (fg[name].reshape(g.shape) - g).abs().max().item() / scale
            ratios.append((err / max(spread, 1e-12), name, err, spread))
            self.assertLessEqual(err, 2 * spread, f"gradient of {name}: Facet bf16 {err:.3g} from fp32, "
                                                  f"PyTorch bf16 {spread:.3g}")
        ratios.sort()
        errs = [r[2] for r in ratios]
        # fp32 Facet lies within about 1e-6 of PyTorch fp32: this is bf16 at work
        self.assertGreater(max(errs), 1e-4, "the bf16 step looks like fp32")
        spreads = [r[3] for r in ratios]
        print(f"lambda {lam}: {len(ratios)} gradients; Facet bf16 vs PyTorch fp32: median {np.median(errs):.2e}, "
              f"worst {max(errs):.2e}; PyTorch bf16 vs fp32: median {np.median(spreads):.2e}, worst "
              f"{max(spreads):.2e}; worst ratio {ratios[-1][0]:.2f} ({ratios[-1][1]})")

    def test_full_with_iat(self):
        self.compare(0.5, lambda k: True, "--embedding")

    def test_last_block(self):
        self.compare(0.0, lambda k: not (k.startswith("blocks.0.") or k in ("cls_token", "pos_embed")
                                         or k.startswith("patch_embed")), "--first-block", 1)

    def test_fallback_runs_fp32(self):
        env = dict(os.environ, FACET_CPU_FEATURES="-bf16")
        _, meta, raw16 = self.run_facet("bf16", "--lambda", 0.5, "--embedding", env=env)
        self.assertEqual(meta["precision"], "fp32")
        _, meta32, raw32 = self.run_facet("fp32", "--lambda", 0.5, "--embedding")
        self.assertEqual(meta32["precision"], "fp32")
        self.assertEqual(raw16, raw32, "bf16 asked without AVX512-BF16 must give the fp32 step")


if __name__ == "__main__":
    unittest.main(verbosity=2)
