#!/usr/bin/python3
"""bench/engine-cpu: ViT-B/16 inference, Facet's CPU backend against PyTorch,
same weights, same machine, same run.

PyTorch runs the reference model of tests/parity (torchvision's encoder
blocks + the FMAE-IAT readout) with torch.set_num_threads(2) and
OMP_WAIT_POLICY=PASSIVE; Facet runs `facet-cli bench` on a checkpoint with the
same weights. The two are interleaved several times and the best of each is
kept, so background load hits both alike. Prints images/s and the ratio.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "2")

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "parity"))
import torch  # noqa: E402
import fmae_reference as ref  # noqa: E402
from functools import partial  # noqa: E402
from torchvision.models.vision_transformer import EncoderBlock  # noqa: E402

CLI = os.environ.get("FACET_CLI", "facet-cli")
SIZE = os.environ.get("BENCH_SIZE", "base")
DIMS = {"small": (384, 12, 6), "base": (768, 12, 12), "large": (1024, 24, 16)}
BATCHES = [int(b) for b in os.environ.get("BENCH_BATCHES", "1,8").split(",")]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


class TorchFmae(torch.nn.Module):
    """The FMAE-IAT ViT as one PyTorch module (torchvision encoder blocks)."""

    def __init__(self, sd, heads):
        super().__init__()
        dim = sd["cls_token"].shape[-1]
        depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
        hidden = sd["blocks.0.mlp.fc1.weight"].shape[0]
        self.sd = sd
        self.blocks = torch.nn.Sequential(*[ref._encoder_block(sd, i, dim, heads, hidden) for i in range(depth)])
        self.fc_norm = torch.nn.LayerNorm(dim, eps=1e-6)
        with torch.no_grad():
            self.fc_norm.weight.copy_(sd["fc_norm.weight"])
            self.fc_norm.bias.copy_(sd["fc_norm.bias"])
        self.head = torch.nn.Linear(dim, sd["head.weight"].shape[0])
        with torch.no_grad():
            self.head.weight.copy_(sd["head.weight"])
            self.head.bias.copy_(sd["head.bias"])
        self.patch = sd["patch_embed.proj.weight"].shape[-1]

    def forward(self, x):
        sd = self.sd
        x = torch.nn.functional.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=self.patch)
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([sd["cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + sd["pos_embed"]
        x = self.blocks(x)
        return torch.sigmoid(self.head(self.fc_norm(x[:, 1:].mean(dim=1))))


def torch_rate(model, batch, seconds=6.0):
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        model(x)
        best = float("inf")
        start = time.perf_counter()
        n = 0
        while n < 2 or time.perf_counter() - start < seconds:
            t = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - t)
            n += 1
    return batch / best


def facet_rate(path, batch, seconds=6.0):
    out = subprocess.run([CLI, "bench", "--model", path, "--batch", str(batch), "--iterations", "2",
                          "--seconds", str(seconds), "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["images_per_s_best"]


def main():
    torch.set_num_threads(2)
    dim, depth, heads = DIMS[SIZE]
    sd = ref.make_state_dict(dim, depth, heads, 12, seed=1)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vit.pth")
        ref.save_checkpoint(path, sd, ref.fmae_args(model=f"vit_{SIZE}_patch16"))
        model = TorchFmae(sd, heads).eval()
        print(f"ViT-{SIZE[0].upper()}/16 inference, fp32, 2 threads; best of {ROUNDS} interleaved rounds")
        print(f"{'batch':>5} {'Facet img/s':>12} {'PyTorch img/s':>14} {'ratio':>7}")
        for batch in BATCHES:
            f = t = 0.0
            for _ in range(ROUNDS):
                f = max(f, facet_rate(path, batch))
                t = max(t, torch_rate(model, batch))
            print(f"{batch:>5} {f:>12.2f} {t:>14.2f} {f / t:>6.2f}x")


if __name__ == "__main__":
    main()
