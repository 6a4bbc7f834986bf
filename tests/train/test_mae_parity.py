#!/usr/bin/python3
"""Facet's MAE pre-training step against PyTorch autograd, and the release's
checkpoint layout.

The model is the FMAE release's MaskedAutoencoderViT (mae_pretraining
branch, models_mae.py), written here in plain torch modules with the
release's parameter names: patch embedding, fixed 2-D sin-cos position
tables, random masking by argsort of a noise tensor, encoder on the kept
patches, decoder with mask tokens, norm_pix_loss. Both sides get the same
weights, images and noise; the loss and the gradient of every trainable
parameter must agree within 1e-4 relative (max |difference| / max |gradient|).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import unittest

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
import fmae_reference as ref  # noqa: E402

if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    TOOL = sys.argv.pop(1)
else:
    TOOL = os.environ.get("FACET_MAE_STEP", "mae-step-tool")

IMAGE, PATCH, DIM, DEPTH, HEADS = 32, 8, 32, 2, 2
DEC_DIM, DEC_DEPTH, DEC_HEADS, BATCH = 24, 2, 3, 3


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class MaskedAutoencoderViT(nn.Module):
    """models_mae.MaskedAutoencoderViT, timm-free."""

    def __init__(self, image, patch, dim, depth, heads, dec_dim, dec_depth, dec_heads,
                 norm_pix_loss=True):
        super().__init__()
        self.patch = patch
        grid = image // patch
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(ref.sincos_pos_embed(grid, dim), requires_grad=False)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.decoder_embed = nn.Linear(dim, dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.decoder_pos_embed = nn.Parameter(ref.sincos_pos_embed(grid, dec_dim),
                                              requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(dec_dim, dec_heads) for _ in range(dec_depth)])
        self.decoder_norm = nn.LayerNorm(dec_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(dec_dim, patch * patch * 3)
        self.norm_pix_loss = norm_pix_loss

    def patchify(self, imgs):
        p = self.patch
        h = w = imgs.shape[2] // p
        x = imgs.reshape(imgs.shape[0], 3, h, p, w, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(imgs.shape[0], h * w, p * p * 3)

    def random_masking(self, x, mask_ratio, noise):
        N, L, D = x.shape
        len_keep = int(L * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones([N, L])
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        return x_masked, mask, ids_restore

    def forward_encoder(self, x, mask_ratio, noise):
        x = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, mask_ratio, noise)
        cls_token = self.cls_token + self.pos_embed[:, :1, :]
        x = torch.cat((cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1)
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_norm(x)
        return self.decoder_pred(x)[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.e-6) ** .5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs, mask_ratio, noise):
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask


def random_weights(model, seed):
    """Weights of order one everywhere (not the init: every path must carry gradient)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or "norm.weight" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim >= 2 and name != "cls_token" and name != "mask_token":
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def release_args(**extra):
    ns = argparse.Namespace(model="mae_vit_tiny_patch16", input_size=IMAGE, mask_ratio=0.75,
                            norm_pix_loss=True, batch_size=64, epochs=800, blr=1.5e-4,
                            weight_decay=0.05, warmup_epochs=40)
    for k, v in extra.items():
        setattr(ns, k, v)
    return ns


class MaeParity(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-mae-")
        torch.manual_seed(0)
        self.model = MaskedAutoencoderViT(IMAGE, PATCH, DIM, DEPTH, HEADS, DEC_DIM, DEC_DEPTH,
                                          DEC_HEADS)
        random_weights(self.model, 5)
        g = torch.Generator().manual_seed(9)
        self.images = torch.randn(BATCH, 3, IMAGE, IMAGE, generator=g)
        self.noise = torch.rand(BATCH, (IMAGE // PATCH) ** 2, generator=g)
        self.sd = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.batch = os.path.join(self.dir, "batch.safetensors")
        ref.write_safetensors(self.batch, {"images": self.images, "noise": self.noise})

    def save(self, name, sd=None, **kwargs):
        path = os.path.join(self.dir, name)
        torch.save({"model": sd if sd is not None else self.sd, "epoch": 799,
                    "args": release_args()}, path, **kwargs)
        return path

    def tool(self, *args, check=True):
        return subprocess.run([TOOL, *map(str, args), "--heads", str(HEADS), "--decoder-heads",
                               str(DEC_HEADS)], capture_output=True, text=True, check=check)

    def run_facet(self, path, ratio=0.75, *extra):
        out = os.path.join(self.dir, "out.safetensors")
        self.tool(path, self.batch, out, "--mask-ratio", ratio, *extra)
        return ref.read_safetensors(out)

    def compare(self, ratio, norm_pix):
        self.model.norm_pix_loss = norm_pix
        self.model.zero_grad()
        loss, pred, mask = self.model(self.images, ratio, self.noise)
        loss.backward()
        extra = () if norm_pix else ("--no-norm-pix",)
        t, meta = self.run_facet(self.save("mae.pth"), ratio, *extra)
        self.assertAlmostEqual(float(meta["loss"]), loss.item(), delta=1e-5 * max(1, loss.item()))
        self.assertTrue(torch.equal(t["mask"], mask), "masks differ")
        rel = (t["pred"] - pred.detach()).abs().max().item() / pred.abs().max().item()
        self.assertLess(rel, 1e-4, f"predictions: relative difference {rel:.3g}")
        torch_grads = {n: p.grad for n, p in self.model.named_parameters() if p.requires_grad}
        facet_grads = {k[5:]: v for k, v in t.items() if k.startswith("grad.")}
        self.assertEqual(set(facet_grads), set(torch_grads))
        worst = 0.0
        for name, g in torch_grads.items():
            scale = max(g.abs().max().item(), 1e-12)
            r = (facet_grads[name].reshape(g.shape) - g).abs().max().item() / scale
            worst = max(worst, r)
            self.assertLess(r, 1e-4, f"gradient of {name}: relative difference {r:.3g}")
        print(f"ratio {ratio}, norm_pix {norm_pix}: loss {loss.item():.6f}, {len(torch_grads)} "
              f"gradients, worst relative difference {worst:.2e}")

    def test_step_release_recipe(self):
        self.compare(0.75, True)

    def test_step_other_ratio_plain_pixels(self):
        self.compare(0.5, False)

    def test_release_layout_in_half_precision(self):
        # The release's .pth (model + args), in fp16 and bf16: every tensor loads, decoder included.
        for dtype in (torch.float16, torch.bfloat16):
            sd = {k: v.to(dtype) for k, v in self.sd.items()}
            path = self.save(f"mae-{dtype}.pth", sd)
            dump = os.path.join(self.dir, "dump.safetensors")
            self.tool(path, "--dump", dump)
            loaded, meta = ref.read_safetensors(dump)
            self.assertEqual(set(loaded), set(sd), dtype)
            for k, v in sd.items():
                self.assertTrue(torch.equal(loaded[k].reshape(v.shape), v.float()), f"{k} ({dtype})")
            self.assertIn('"decoder_dim":24', meta["facet.config"].replace(" ", ""))

    def test_damaged_checkpoints(self):
        good = self.save("good.pth")
        with open(good, "rb") as f:
            data = f.read()
        cases = {
            "truncated": data[: len(data) // 2],
            "empty": b"",
            "garbage": b"PK\x03\x04" + os.urandom(300),
        }
        for what, blob in cases.items():
            path = os.path.join(self.dir, what + ".pth")
            with open(path, "wb") as f:
                f.write(blob)
            r = self.tool(path, "--dump", os.path.join(self.dir, "x.safetensors"), check=False)
            self.assertEqual(r.returncode, 1, f"{what}: {r.stderr}")
            self.assertIn(path, r.stderr, what)
        # A decoder whose width does not fit the encoder, and one with a block missing.
        sd = dict(self.sd)
        sd["decoder_embed.weight"] = torch.zeros(DEC_DIM, DIM + 1)
        r = self.tool(self.save("bad-embed.pth", sd), "--dump", "x", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("decoder_embed.weight", r.stderr)
        sd = {k: v for k, v in self.sd.items() if k != "decoder_blocks.1.mlp.fc2.bias"}
        r = self.tool(self.save("no-bias.pth", sd), "--dump", "x", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("decoder_blocks.1.mlp.fc2.bias", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
