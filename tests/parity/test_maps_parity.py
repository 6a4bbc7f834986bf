#!/usr/bin/python3
"""Facet's evidence maps against PyTorch: the same checkpoints, the same images.

Run by meson (suites 'engine', 'parity'); FACET_CLI names the facet-cli
binary. A small random ViT (width 192, depth 4, 3 heads, 12 AUs) is saved
with torch.save; `facet-cli predict --map METHOD --json` gives every AU's
map, and the reference is written here with torch autograd on the same
weights:

- grad-attention (Chefer et al. 2021): the gradient of the AU logit with
  respect to each block's softmax probabilities, Abar = mean over heads of
  clamp(grad * A, min=0), R = I, R = R + Abar @ R over the blocks in order;
  with mean pooling the map is the mean of R - I's patch rows (patch
  columns), with the class token R's class row;
- input-x-gradient: (e * dlogit/de).sum(channels) for the patch embeddings e;
- occlusion: the probability (or logit) of the image minus that with the
  patch hidden (by the image's or the normalisation's mean colour, one patch
  or a 3x3 window, or replaced by the same patch of a reference image),
  each hidden image run through the PyTorch forward;
- rollout and the last-layer split: the same numbers as predict's
  --attention and --au-maps.
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
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmae_reference as ref  # noqa: E402

CLI = os.environ.get("FACET_CLI", "facet-cli")
DIM, DEPTH, HEADS, N_AUS = 192, 4, 3, 12
SIZE, GRID = 96, 6  # 36 patches: the occlusion references stay quick


def run_cli(*args, check=True):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"facet-cli {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
    return p


def maps(model, images, method, *extra):
    p = run_cli("predict", "--model", model, "--crop", "none", "--json", "--map", method, *extra,
                *images)
    out = [json.loads(line) for line in p.stdout.splitlines()]
    return out


def forward(sd, images, readout="global-pool", keep_grad=False):
    """The FMAE-IAT forward in plain torch ops; returns logits, the patch
    embeddings and each block's attention probabilities [B, heads, T, T]."""
    dim = sd["cls_token"].shape[-1]
    patch = sd["patch_embed.proj.weight"].shape[-1]
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    emb = F.conv2d(images, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=patch)
    emb = emb.flatten(2).transpose(1, 2)
    if keep_grad:
        emb.retain_grad()
    x = torch.cat([sd["cls_token"].expand(emb.shape[0], -1, -1), emb], dim=1) + sd["pos_embed"]
    B, T, _ = x.shape
    dh = dim // HEADS
    probs = []
    for i in range(depth):
        q = f"blocks.{i}."
        h = F.layer_norm(x, (dim,), sd[q + "norm1.weight"], sd[q + "norm1.bias"], 1e-6)
        qkv = F.linear(h, sd[q + "attn.qkv.weight"], sd[q + "attn.qkv.bias"])
        qkv = qkv.reshape(B, T, 3, HEADS, dh).permute(2, 0, 3, 1, 4)
        att = ((qkv[0] @ qkv[1].transpose(-2, -1)) * dh ** -0.5).softmax(dim=-1)
        if keep_grad:
            att.retain_grad()
        probs.append(att)
        o = (att @ qkv[2]).transpose(1, 2).reshape(B, T, dim)
        x = x + F.linear(o, sd[q + "attn.proj.weight"], sd[q + "attn.proj.bias"])
        h = F.layer_norm(x, (dim,), sd[q + "norm2.weight"], sd[q + "norm2.bias"], 1e-6)
        x = x + F.linear(F.gelu(F.linear(h, sd[q + "mlp.fc1.weight"], sd[q + "mlp.fc1.bias"])),
                         sd[q + "mlp.fc2.weight"], sd[q + "mlp.fc2.bias"])
    if readout == "global-pool":
        feat = F.layer_norm(x[:, 1:].mean(dim=1), (dim,), sd["fc_norm.weight"], sd["fc_norm.bias"], 1e-6)
    else:
        feat = F.layer_norm(x[:, 0], (dim,), sd["norm.weight"], sd["norm.bias"], 1e-6)
    return feat @ sd["head.weight"].T + sd["head.bias"], emb, probs


def gradient_maps(sd, image, readout="global-pool"):
    """Chefer and input-x-gradient maps of one image [3, S, S] for every AU."""
    chefer, ixg = [], []
    for au in range(N_AUS):
        logits, emb, probs = forward(sd, image[None].clone().requires_grad_(True), readout,
                                     keep_grad=True)
        logits[0, au].backward()
        T = probs[0].shape[-1]
        R = torch.eye(T)
        for att in probs:
            cam = (att.grad[0] * att[0]).clamp(min=0).mean(dim=0)
            R = R + cam @ R
        if readout == "global-pool":
            chefer.append((R - torch.eye(T))[1:, 1:].mean(dim=0))
        else:
            chefer.append(R[0, 1:])
        ixg.append((emb[0] * emb.grad[0]).sum(dim=-1))
    return torch.stack(chefer).detach(), torch.stack(ixg).detach()


class MapParity(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-maps-")
        torch.set_num_threads(2)
        self.sd = ref.make_state_dict(DIM, DEPTH, HEADS, N_AUS, seed=11, image=SIZE)
        self.ckpt = os.path.join(self.dir, "m.pth")
        ref.save_checkpoint(self.ckpt, self.sd, ref.fmae_args(model="vit_tiny_patch16", input_size=SIZE))
        self.paths = ref.write_test_images(self.dir, SIZE, 2, seed=5)
        self.x = torch.stack([ref.load_png_tensor(p, SIZE) for p in self.paths])

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def assertMapsClose(self, got, want, what, rtol=2e-3):
        got = np.asarray(got, dtype=np.float64)
        want = want.double().numpy().reshape(got.shape)
        scale = np.abs(want).max()
        self.assertGreater(scale, 0.0, f"{what}: the reference map is all zero")
        err = np.abs(got - want).max() / scale
        self.assertLess(err, rtol, f"{what}: max difference {err:.3g} of the largest value")

    def test_gradient_methods(self):
        chefer = maps(self.ckpt, self.paths, "grad-attention")
        ixg = maps(self.ckpt, self.paths, "input-x-gradient")
        for i in range(len(self.paths)):
            want_chefer, want_ixg = gradient_maps(self.sd, self.x[i])
            self.assertEqual(chefer[i]["grid"], GRID)
            self.assertEqual(np.shape(chefer[i]["maps"]), (N_AUS, GRID * GRID))
            self.assertEqual(np.shape(ixg[i]["maps"]), (N_AUS, GRID * GRID))
            self.assertMapsClose(chefer[i]["maps"], want_chefer, f"grad-attention, image {i}")
            self.assertMapsClose(ixg[i]["maps"], want_ixg, f"input-x-gradient, image {i}")
            # Chefer's relevance is a sum of clamped terms: never negative;
            # the AUs' maps differ (they are per AU, not model-wide).
            self.assertGreaterEqual(min(min(m) for m in chefer[i]["maps"]), 0.0)
            self.assertGreater(np.abs(np.diff(np.array(ixg[i]["maps"]), axis=0)).max(), 0.0)

    def test_grad_attention_cls_readout(self):
        sd = ref.make_state_dict(DIM, DEPTH, HEADS, N_AUS, seed=12, image=SIZE, readout="cls-token")
        ckpt = os.path.join(self.dir, "cls.pth")
        ref.save_checkpoint(ckpt, sd, ref.fmae_args(model="vit_tiny_patch16", input_size=SIZE, global_pool=False))
        got = maps(ckpt, self.paths[:1], "grad-attention")
        want, _ = gradient_maps(sd, self.x[0], readout="cls-token")
        self.assertMapsClose(got[0]["maps"], want, "grad-attention (class token)")
        # The last-layer split needs the global-pool readout: a clear error.
        p = run_cli("predict", "--model", ckpt, "--crop", "none", "--json", "--map", "last-layer",
                    self.paths[0], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("global-pool", p.stderr)

    def test_occlusion(self):
        got = maps(self.ckpt, self.paths[:1], "occlusion", "--occlusion-fill", "mean",
                   "--occlusion-drop", "logit")[0]
        x = self.x[0]
        with torch.no_grad():
            base, _, _ = forward(self.sd, x[None])
            hidden = x.expand(GRID * GRID, -1, -1, -1).clone()
            for p in range(GRID * GRID):
                r, c = divmod(p, GRID)
                hidden[p, :, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] = 0.0  # the mean colour
            logits, _, _ = forward(self.sd, hidden)
        want = (base - logits).T  # [AU, patch]
        self.assertMapsClose(got["maps"], want, "occlusion (mean fill)", rtol=1e-3)
        # The logits themselves agree, so that the drops are not noise.
        self.assertLess(np.abs(np.array(got["logit"]) - base[0].numpy()).max(), 1e-4)

    def test_occlusion_window_and_fill(self):
        got = maps(self.ckpt, self.paths[:1], "occlusion", "--occlusion-window", "3",
                   "--occlusion-drop", "logit")[0]  # the default fill: the image's mean colour
        x = self.x[0]
        fill = x.mean(dim=(1, 2)).view(3, 1, 1)
        with torch.no_grad():
            base, _, _ = forward(self.sd, x[None])
            hidden = x.expand(GRID * GRID, -1, -1, -1).clone()
            for p in range(GRID * GRID):
                r, c = divmod(p, GRID)
                r0, r1, c0, c1 = max(r - 1, 0), min(r + 2, GRID), max(c - 1, 0), min(c + 2, GRID)
                hidden[p, :, r0 * 16:r1 * 16, c0 * 16:c1 * 16] = fill
            drops = (base - forward(self.sd, hidden)[0]).T.numpy()  # [AU, window centre]
        # Each patch: the mean drop over the windows that hid it.
        want = np.zeros((N_AUS, GRID * GRID))
        for q in range(GRID * GRID):
            r, c = divmod(q, GRID)
            centres = [y * GRID + xx for y in range(r - 1, r + 2) for xx in range(c - 1, c + 2)
                       if 0 <= y < GRID and 0 <= xx < GRID]
            want[:, q] = drops[:, centres].mean(axis=1)
        self.assertMapsClose(got["maps"], torch.tensor(want), "occlusion (3x3, image mean)",
                             rtol=1e-3)

    def test_occlusion_probability(self):
        # The default: the image's mean colour, the probability's drop.
        got = maps(self.ckpt, self.paths[:1], "occlusion")[0]
        x = self.x[0]
        fill = x.mean(dim=(1, 2)).view(3, 1, 1)
        with torch.no_grad():
            base, _, _ = forward(self.sd, x[None])
            hidden = x.expand(GRID * GRID, -1, -1, -1).clone()
            for p in range(GRID * GRID):
                r, c = divmod(p, GRID)
                hidden[p, :, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] = fill
            want = (torch.sigmoid(base) - torch.sigmoid(forward(self.sd, hidden)[0])).T
        self.assertMapsClose(got["maps"], want, "occlusion (defaults)", rtol=1e-3)

    def test_occlusion_reference(self):
        # Each patch replaced by the same patch of another image (the
        # person's neutral frame, in use): the probability's drop.
        got = maps(self.ckpt, self.paths[:1], "occlusion", "--occlusion-fill", "reference",
                   "--occlusion-reference", self.paths[1])[0]
        x, neutral = self.x[0], self.x[1]
        with torch.no_grad():
            base, _, _ = forward(self.sd, x[None])
            hidden = x.expand(GRID * GRID, -1, -1, -1).clone()
            for p in range(GRID * GRID):
                r, c = divmod(p, GRID)
                sl = (slice(None), slice(r * 16, (r + 1) * 16), slice(c * 16, (c + 1) * 16))
                hidden[p][sl] = neutral[sl]
            want = (torch.sigmoid(base) - torch.sigmoid(forward(self.sd, hidden)[0])).T
        self.assertMapsClose(got["maps"], want, "occlusion (reference fill)", rtol=1e-3)
        # Change from neutral (--map neutral): the mean of that drop and
        # of the neutral image's rise when this image's patch is put into it.
        both = maps(self.ckpt, self.paths[:1], "neutral", "--occlusion-reference", self.paths[1])[0]
        with torch.no_grad():
            base_n, _, _ = forward(self.sd, neutral[None])
            put = neutral.expand(GRID * GRID, -1, -1, -1).clone()
            for p in range(GRID * GRID):
                r, c = divmod(p, GRID)
                sl = (slice(None), slice(r * 16, (r + 1) * 16), slice(c * 16, (c + 1) * 16))
                put[p][sl] = x[sl]
            rise = (torch.sigmoid(forward(self.sd, put)[0]) - torch.sigmoid(base_n)).T
        self.assertMapsClose(both["maps"], 0.5 * (want + rise), "change from neutral", rtol=1e-3)
        self.assertEqual(both["map_method"], "neutral")
        # The image as its own reference changes nothing: every drop is 0.
        same = maps(self.ckpt, self.paths[:1], "occlusion", "--occlusion-fill", "reference",
                    "--occlusion-reference", self.paths[0])[0]
        self.assertEqual(np.abs(np.array(same["maps"])).max(), 0.0)
        # Each option without the other, and a reference that is not there.
        for extra, needle in ((["--occlusion-fill", "reference"], "--occlusion-reference"),
                              (["--occlusion-reference", self.paths[1]], "--occlusion-fill reference"),
                              (["--occlusion-fill", "image-mean", "--occlusion-reference",
                                self.paths[1]], "--map neutral"),
                              (["--occlusion-fill", "reference", "--occlusion-reference",
                                os.path.join(self.dir, "missing.png")], "missing.png")):
            p = run_cli("predict", "--model", self.ckpt, "--crop", "none", "--json", "--map",
                        "occlusion", *extra, self.paths[0], check=False)
            self.assertEqual(p.returncode, 1, extra)
            self.assertIn(needle, p.stderr)
        p = run_cli("predict", "--model", self.ckpt, "--crop", "none", "--json", "--map", "neutral",
                    self.paths[0], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--occlusion-reference", p.stderr)

    def test_forward_maps_as_predict(self):
        p = run_cli("predict", "--model", self.ckpt, "--crop", "none", "--json", "--attention",
                    "--au-maps", self.paths[0])
        plain = json.loads(p.stdout)
        rollout = maps(self.ckpt, self.paths[:1], "rollout")[0]["maps"]
        last = maps(self.ckpt, self.paths[:1], "last-layer")[0]["maps"]
        for a in range(N_AUS):
            np.testing.assert_allclose(rollout[a], plain["attention"], atol=1e-6)
        np.testing.assert_allclose(last, plain["au_maps"], atol=1e-6)
        # Bad method names are refused with the list of good ones.
        p = run_cli("predict", "--model", self.ckpt, "--crop", "none", "--json", "--map", "shap",
                    self.paths[0], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("grad-attention", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
