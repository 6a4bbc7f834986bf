#!/usr/bin/python3
"""Facet's training step against PyTorch autograd and torch.optim.AdamW.

A tiny ViT in the FMAE-IAT layout, the same weights and batch on both sides;
drop path and augmentation off (and one run with drop path, whose per-image
scales Facet reports and PyTorch then applies). Checks the losses, every
parameter gradient (max |difference| / max |gradient| < 1e-4), and the
weights after one AdamW step with the paper's parameter groups.
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

# The step tool's path comes as the first argument (from meson) or FACET_TRAIN_STEP.
if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    TOOL = sys.argv.pop(1)
else:
    TOOL = os.environ.get("FACET_TRAIN_STEP", "train-step-tool")
DIM, DEPTH, HEADS, IMAGE, PATCH, AUS, SUBJECTS, BATCH = 32, 2, 2, 32, 8, 12, 5, 4


class TrainParity(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-train-")
        g = torch.Generator().manual_seed(3)
        self.sd = ref.make_state_dict(DIM, DEPTH, HEADS, AUS, n_subjects=SUBJECTS, image=IMAGE,
                                      patch=PATCH, seed=11)
        self.images = torch.randn(BATCH, 3, IMAGE, IMAGE, generator=g)
        self.targets = (torch.rand(BATCH, AUS, generator=g) > 0.6).float()
        self.targets[0, 3] = -1  # not labelled
        self.targets[2, :5] = -1
        self.subjects = torch.tensor([0.0, 3.0, -1.0, 3.0])
        self.model = os.path.join(self.dir, "m.pth")
        ref.save_checkpoint(self.model, self.sd, ref.fmae_args(model="vit_tiny_patch16"))
        self.batch = os.path.join(self.dir, "batch.safetensors")
        ref.write_safetensors(self.batch, {"images": self.images, "au_targets": self.targets,
                                           "subjects": self.subjects})

    def run_facet(self, *args):
        grads_path = os.path.join(self.dir, "grads.safetensors")
        stepped_path = os.path.join(self.dir, "stepped.safetensors")
        subprocess.run([TOOL, self.model, self.batch, grads_path, stepped_path, "--heads", str(HEADS),
                        *map(str, args)], check=True)
        grads, meta = ref.read_safetensors(grads_path)
        stepped, _ = ref.read_safetensors(stepped_path)
        return grads, meta, stepped

    def run_torch(self, lam, trainable, lr, wd=0.05, ld=0.65):
        p = {k: v.clone().float().requires_grad_(trainable(k)) for k, v in self.sd.items()}
        feat = ref.functional_forward(p, self.images, HEADS)
        logits = F.linear(feat, p["head.weight"], p["head.bias"])
        mask = self.targets >= 0
        au_loss = F.binary_cross_entropy_with_logits(logits[mask], self.targets[mask])
        has = self.subjects >= 0
        id_logits = F.linear(ref.GradientReversal.apply(feat, lam), p["ID_head.weight"], p["ID_head.bias"])
        onehot = F.one_hot(self.subjects[has].long(), SUBJECTS).float()
        id_loss = F.binary_cross_entropy_with_logits(id_logits[has], onehot)
        loss = au_loss + id_loss
        loss.backward()
        grads = {k: v.grad.clone() for k, v in p.items() if v.requires_grad}
        groups = ref.param_groups_lrd(p, DEPTH, wd, ld)
        for g in groups:
            g["lr"] = lr * g["lr_scale"]
        opt = torch.optim.AdamW(groups, lr=lr)
        opt.step()
        stepped = {k: v.detach() for k, v in p.items()}
        return float(loss), float(au_loss), float(id_loss), grads, stepped

    def compare(self, lam, trainable, *args, lr=1e-3):
        fg, meta, fs = self.run_facet("--lambda", lam, "--lr", lr, *args)
        loss, au, idl, tg, ts = self.run_torch(lam, trainable, lr)
        self.assertAlmostEqual(float(meta["au_loss"]), au, places=5)
        self.assertAlmostEqual(float(meta["id_loss"]), idl, places=5)
        self.assertEqual(set(fg), set(tg))
        worst = 0.0
        for name, g in tg.items():
            scale = max(g.abs().max().item(), 1e-12)
            rel = (fg[name].reshape(g.shape) - g).abs().max().item() / scale
            worst = max(worst, rel)
            self.assertLess(rel, 1e-4, f"gradient of {name}: relative difference {rel:.3g}")
        for name, w in ts.items():
            # Where a gradient is within float noise of zero (the key bias, whose
            # gradient vanishes exactly because softmax ignores a shift per row),
            # Adam's first step g / (|g| + eps) is ill-conditioned on both sides:
            # there only check that the step stays within the learning rate.
            f = fs[name].reshape(w.shape)
            if name in tg:
                sure = tg[name].abs() > 1e-6
                np.testing.assert_allclose(f[sure].numpy(), w[sure].numpy(), atol=2e-6, rtol=1e-5,
                                           err_msg=f"weights of {name} after one AdamW step")
                before = self.sd[name].float()
                self.assertLessEqual((f - before).abs().max().item(), lr * 1.1)  # + decay
            else:
                np.testing.assert_array_equal(f.numpy(), w.numpy(), err_msg=f"frozen {name} changed")
        print(f"lambda {lam}: {len(tg)} gradients, worst relative difference {worst:.2e}")

    def test_full_with_iat(self):
        self.compare(0.5, lambda k: True, "--embedding")

    def test_last_block_without_iat(self):
        self.compare(0.0, lambda k: not (k.startswith("blocks.0.") or k in ("cls_token", "pos_embed")
                                         or k.startswith("patch_embed")), "--first-block", 1)

    def test_heads_only(self):
        self.compare(2.0, lambda k: not (k.startswith("blocks.") or k in ("cls_token", "pos_embed")
                                         or k.startswith("patch_embed")), "--first-block", DEPTH)


if __name__ == "__main__":
    unittest.main(verbosity=2)
