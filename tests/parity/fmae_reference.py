"""Reference FMAE-IAT models in PyTorch for Facet's parity tests.

The forward pass is assembled from torchvision's ViT encoder block
(torchvision.models.vision_transformer.EncoderBlock), an implementation Facet
did not write, plus the FMAE-IAT readout: mean of the patch tokens, fc_norm,
head (and ID_head). Checkpoints are written with torch.save exactly as the
FMAE-IAT training scripts write them: {"model": state_dict, "epoch": ...,
"args": argparse.Namespace(...)}.
"""

import argparse
import math
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.vision_transformer import EncoderBlock

BP4D_AUS = [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]
DISFA_AUS = [1, 2, 4, 6, 9, 12, 25, 26]
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def sincos_pos_embed(grid, dim):
    """MAE's fixed 2-D sine-cosine table, class token row first (zeros)."""
    quarter = dim // 4
    omega = 1.0 / (10000.0 ** (np.arange(quarter, dtype=np.float64) / quarter))
    rows = [np.zeros(dim)]
    for y in range(grid):
        for x in range(grid):
            rows.append(np.concatenate([np.sin(x * omega), np.cos(x * omega),
                                        np.sin(y * omega), np.cos(y * omega)]))
    return torch.tensor(np.stack(rows), dtype=torch.float32)[None]


def make_state_dict(dim, depth, heads, n_aus, n_subjects=0, image=224, patch=16, seed=0,
                    mlp_ratio=4, readout="global-pool", mae_pretrain=False):
    """Random weights in the FMAE-IAT (timm ViT) layout, scaled so that
    activations and logits stay of order one through the depth."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    grid = image // patch
    tokens = grid * grid + 1
    hidden = dim * mlp_ratio
    sd = {}
    sd["cls_token"] = randn(1, 1, dim)
    sd["pos_embed"] = sincos_pos_embed(grid, dim) if mae_pretrain else randn(1, tokens, dim)
    sd["patch_embed.proj.weight"] = randn(dim, 3, patch, patch, std=1.0 / math.sqrt(3 * patch * patch))
    sd["patch_embed.proj.bias"] = randn(dim)
    for i in range(depth):
        p = f"blocks.{i}."
        sd[p + "norm1.weight"] = 1.0 + randn(dim, std=0.1)
        sd[p + "norm1.bias"] = randn(dim, std=0.05)
        sd[p + "attn.qkv.weight"] = randn(3 * dim, dim, std=1.0 / math.sqrt(dim))
        sd[p + "attn.qkv.bias"] = randn(3 * dim, std=0.05)
        sd[p + "attn.proj.weight"] = randn(dim, dim, std=0.5 / math.sqrt(dim))
        sd[p + "attn.proj.bias"] = randn(dim, std=0.02)
        sd[p + "norm2.weight"] = 1.0 + randn(dim, std=0.1)
        sd[p + "norm2.bias"] = randn(dim, std=0.05)
        sd[p + "mlp.fc1.weight"] = randn(hidden, dim, std=1.0 / math.sqrt(dim))
        sd[p + "mlp.fc1.bias"] = randn(hidden, std=0.05)
        sd[p + "mlp.fc2.weight"] = randn(dim, hidden, std=0.5 / math.sqrt(hidden))
        sd[p + "mlp.fc2.bias"] = randn(dim, std=0.02)
    if mae_pretrain:
        sd["norm.weight"] = 1.0 + randn(dim, std=0.1)
        sd["norm.bias"] = randn(dim, std=0.05)
        sd["mask_token"] = randn(1, 1, 256)
        sd["decoder_embed.weight"] = randn(256, dim)
        sd["decoder_embed.bias"] = randn(256)
        sd["decoder_pos_embed"] = randn(1, tokens, 256)
        sd["decoder_blocks.0.norm1.weight"] = torch.ones(256)
        sd["decoder_norm.weight"] = torch.ones(256)
        sd["decoder_pred.weight"] = randn(patch * patch * 3, 256)
        return sd
    if readout == "global-pool":
        sd["fc_norm.weight"] = 1.0 + randn(dim, std=0.1)
        sd["fc_norm.bias"] = randn(dim, std=0.05)
    else:
        sd["norm.weight"] = 1.0 + randn(dim, std=0.1)
        sd["norm.bias"] = randn(dim, std=0.05)
    sd["head.weight"] = randn(n_aus, dim, std=1.0 / math.sqrt(dim))
    sd["head.bias"] = randn(n_aus, std=0.1)
    if n_subjects:
        sd["ID_head.weight"] = randn(n_subjects, dim, std=1.0 / math.sqrt(dim))
        sd["ID_head.bias"] = randn(n_subjects, std=0.1)
    return sd


def fmae_args(model="vit_base_patch16", **extra):
    """The argparse Namespace that FMAE-IAT stores under checkpoint['args']."""
    ns = argparse.Namespace(model=model, input_size=224, batch_size=64, epochs=20,
                            blr=5e-4, layer_decay=0.65, drop_path=0.1, global_pool=True,
                            nb_classes=12, train_path="./AU/BP4D_train3.json",
                            output_dir="./BP4D_exp", seed=0, best_f1=np.float64(0.671))
    for k, v in extra.items():
        setattr(ns, k, v)
    return ns


def save_checkpoint(path, sd, args=None, epoch=19, **kwargs):
    obj = {"model": sd, "epoch": epoch}
    if args is not None:
        obj["args"] = args
    torch.save(obj, path, **kwargs)


def _encoder_block(sd, i, dim, heads, hidden):
    blk = EncoderBlock(heads, dim, hidden, 0.0, 0.0, partial(torch.nn.LayerNorm, eps=1e-6))
    p = f"blocks.{i}."
    with torch.no_grad():
        blk.ln_1.weight.copy_(sd[p + "norm1.weight"])
        blk.ln_1.bias.copy_(sd[p + "norm1.bias"])
        blk.self_attention.in_proj_weight.copy_(sd[p + "attn.qkv.weight"])
        blk.self_attention.in_proj_bias.copy_(sd[p + "attn.qkv.bias"])
        blk.self_attention.out_proj.weight.copy_(sd[p + "attn.proj.weight"])
        blk.self_attention.out_proj.bias.copy_(sd[p + "attn.proj.bias"])
        blk.ln_2.weight.copy_(sd[p + "norm2.weight"])
        blk.ln_2.bias.copy_(sd[p + "norm2.bias"])
        blk.mlp[0].weight.copy_(sd[p + "mlp.fc1.weight"])
        blk.mlp[0].bias.copy_(sd[p + "mlp.fc1.bias"])
        blk.mlp[3].weight.copy_(sd[p + "mlp.fc2.weight"])
        blk.mlp[3].bias.copy_(sd[p + "mlp.fc2.bias"])
    return blk.eval()


@torch.no_grad()
def reference_forward(sd, images, heads, readout="global-pool"):
    """images: float tensor [B, 3, S, S], already normalised.
    Returns dict with logits, probs, pooled, id_logits, rollout."""
    sd = {k: v.float() for k, v in sd.items()}
    dim = sd["cls_token"].shape[-1]
    patch = sd["patch_embed.proj.weight"].shape[-1]
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    hidden = sd["blocks.0.mlp.fc1.weight"].shape[0]

    x = F.conv2d(images, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=patch)
    x = x.flatten(2).transpose(1, 2)
    cls = sd["cls_token"].expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x], dim=1) + sd["pos_embed"]

    probs_per_layer = []
    for i in range(depth):
        blk = _encoder_block(sd, i, dim, heads, hidden)
        h = blk.ln_1(x)
        _, attn = blk.self_attention(h, h, h, need_weights=True, average_attn_weights=True)
        probs_per_layer.append(attn)
        x = blk(x)

    if readout == "global-pool":
        pooled = F.layer_norm(x[:, 1:].mean(dim=1), (dim,), sd["fc_norm.weight"], sd["fc_norm.bias"], 1e-6)
        r = torch.zeros(x.shape[1])
        r[1:] = 1.0 / (x.shape[1] - 1)
    else:
        pooled = F.layer_norm(x[:, 0], (dim,), sd["norm.weight"], sd["norm.bias"], 1e-6)
        r = torch.zeros(x.shape[1])
        r[0] = 1.0
    out = {"pooled": pooled, "tokens": x}
    if "head.weight" in sd:
        out["logits"] = pooled @ sd["head.weight"].T + sd["head.bias"]
        out["probs"] = torch.sigmoid(out["logits"])
    if "ID_head.weight" in sd:
        out["id_logits"] = pooled @ sd["ID_head.weight"].T + sd["ID_head.bias"]

    # Attention rollout: r^T (A_L + I)/2 ... (A_1 + I)/2, rows renormalised.
    eye = torch.eye(x.shape[1])
    rollout = []
    for b in range(x.shape[0]):
        R = eye.clone()
        for A in probs_per_layer:
            Ab = 0.5 * A[b] + 0.5 * eye
            Ab = Ab / Ab.sum(dim=-1, keepdim=True)
            R = Ab @ R
        rollout.append((r @ R)[1:])
    out["rollout"] = torch.stack(rollout)
    return out


@torch.no_grad()
def reference_logits(sd, images, heads, dtype=torch.bfloat16):
    """The global-pool model's logits (as float32), run by PyTorch in @dtype
    throughout: in bf16 weights, activations, LayerNorm and attention, as a
    lab gets it by casting the model to torch.bfloat16."""
    dim = sd["cls_token"].shape[-1]
    patch = sd["patch_embed.proj.weight"].shape[-1]
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    hidden = sd["blocks.0.mlp.fc1.weight"].shape[0]
    b = {k: v.to(dtype) for k, v in sd.items()}

    x = F.conv2d(images.to(dtype), b["patch_embed.proj.weight"], b["patch_embed.proj.bias"],
                 stride=patch)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([b["cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + b["pos_embed"]
    for i in range(depth):
        x = _encoder_block(sd, i, dim, heads, hidden).to(dtype)(x)
    pooled = F.layer_norm(x[:, 1:].mean(dim=1), (dim,), b["fc_norm.weight"], b["fc_norm.bias"], 1e-6)
    return (pooled @ b["head.weight"].T + b["head.bias"]).float()


def load_png_tensor(path, size):
    """Loads an RGB image as the model sees it: resized with PIL's bilinear
    filter when not already size x size, scaled and normalised."""
    from PIL import Image
    im = Image.open(path).convert("RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR)
    a = torch.tensor(np.asarray(im), dtype=torch.float32) / 255.0
    a = (a - torch.tensor(MEAN)) / torch.tensor(STD)
    return a.permute(2, 0, 1).contiguous()


def write_test_images(directory, size, count, seed=0):
    """Smooth random colour images (gradients plus blobs) as PNG files."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    paths = []
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        img = np.zeros((size, size, 3))
        for c in range(3):
            a, b, ph = rng.uniform(-3, 3, 3)
            img[..., c] = 0.5 + 0.3 * np.sin(a * xx * 3 + b * yy * 3 + ph)
            for _ in range(3):
                cx, cy, r = rng.uniform(0, 1, 3)
                img[..., c] += 0.3 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.02 + 0.05 * r))
        img = np.clip(img * 255 + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        path = f"{directory}/image{i}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def write_safetensors(path, tensors, metadata=None):
    """A minimal safetensors writer (float32 tensors), so that tests need no
    extra Python package."""
    import json
    import struct
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        raw = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    """Reads float32 safetensors into torch tensors, plus the metadata."""
    import json
    import struct
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        assert e["dtype"] == "F32", e["dtype"]
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype=np.float32).reshape(e["shape"])
        out[name] = torch.tensor(arr.copy())
    return out, meta


class GradientReversal(torch.autograd.Function):
    """Identity forward, gradient times -lambda backward (as FMAE-IAT's GRL)."""

    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


def functional_forward(p, images, heads, readout="global-pool", keep=None):
    """FMAE-IAT forward with plain torch ops on a dict of leaf tensors @p, for
    autograd. keep: optional [depth, 2, batch] drop-path scales."""
    dim = p["cls_token"].shape[-1]
    patch = p["patch_embed.proj.weight"].shape[-1]
    depth = len({k.split(".")[1] for k in p if k.startswith("blocks.")})
    x = F.conv2d(images, p["patch_embed.proj.weight"], p["patch_embed.proj.bias"], stride=patch)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([p["cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + p["pos_embed"]
    B, T, _ = x.shape
    dh = dim // heads
    for i in range(depth):
        q = f"blocks.{i}."
        h = F.layer_norm(x, (dim,), p[q + "norm1.weight"], p[q + "norm1.bias"], 1e-6)
        qkv = F.linear(h, p[q + "attn.qkv.weight"], p[q + "attn.qkv.bias"])
        qkv = qkv.reshape(B, T, 3, heads, dh).permute(2, 0, 3, 1, 4)
        att = (qkv[0] @ qkv[1].transpose(-2, -1)) * dh ** -0.5
        att = att.softmax(dim=-1)
        o = (att @ qkv[2]).transpose(1, 2).reshape(B, T, dim)
        o = F.linear(o, p[q + "attn.proj.weight"], p[q + "attn.proj.bias"])
        if keep is not None:
            o = o * keep[i, 0].view(B, 1, 1)
        x = x + o
        h = F.layer_norm(x, (dim,), p[q + "norm2.weight"], p[q + "norm2.bias"], 1e-6)
        h = F.linear(F.gelu(F.linear(h, p[q + "mlp.fc1.weight"], p[q + "mlp.fc1.bias"])),
                     p[q + "mlp.fc2.weight"], p[q + "mlp.fc2.bias"])
        if keep is not None:
            h = h * keep[i, 1].view(B, 1, 1)
        x = x + h
    if readout == "global-pool":
        feat = F.layer_norm(x[:, 1:].mean(dim=1), (dim,), p["fc_norm.weight"], p["fc_norm.bias"], 1e-6)
    else:
        feat = F.layer_norm(x[:, 0], (dim,), p["norm.weight"], p["norm.bias"], 1e-6)
    return feat


def param_groups_lrd(p, depth, weight_decay, layer_decay):
    """The FMAE/MAE layer-decay parameter groups (util/lr_decay.py's recipe)."""
    groups = {}
    for name, t in p.items():
        if not t.requires_grad:
            continue
        if t.ndim == 1 or name in ("pos_embed", "cls_token"):
            decay, wd = "no_decay", 0.0
        else:
            decay, wd = "decay", weight_decay
        if name in ("cls_token", "pos_embed") or name.startswith("patch_embed"):
            layer = 0
        elif name.startswith("blocks."):
            layer = int(name.split(".")[1]) + 1
        else:
            layer = depth + 1
        key = f"layer_{layer}_{decay}"
        g = groups.setdefault(key, {"lr_scale": layer_decay ** (depth + 1 - layer), "weight_decay": wd, "params": []})
        g["params"].append(t)
    return list(groups.values())
