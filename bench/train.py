#!/usr/bin/python3
"""bench/train: ViT-B/16 training steps (forward, backward, AdamW) at batch 8,
Facet's CPU backend against PyTorch in the same run.

PyTorch: the FMAE-IAT forward written with torch ops (tests/parity's
functional_forward), BCE on the AU head, autograd, torch.optim.AdamW;
torch.set_num_threads(2), OMP_WAIT_POLICY=PASSIVE. Facet: `facet-cli bench
--train`. Interleaved rounds, best of each; prints images/s and the ratio.
"""
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "2")

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "parity"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import fmae_reference as ref  # noqa: E402

CLI = os.environ.get("FACET_CLI", "facet-cli")
SIZE = os.environ.get("BENCH_SIZE", "base")
DIMS = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}
BATCH = int(os.environ.get("BENCH_BATCH", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))


def torch_rate(p, heads, seconds=20.0):
    x = torch.randn(BATCH, 3, 224, 224)
    y = (torch.rand(BATCH, 12) > 0.7).float()
    opt = torch.optim.AdamW([v for v in p.values()], lr=1e-4, weight_decay=0.05)
    best = float("inf")
    start = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        opt.zero_grad()
        feat = ref.functional_forward(p, x, heads)
        loss = F.binary_cross_entropy_with_logits(F.linear(feat, p["head.weight"], p["head.bias"]), y)
        loss.backward()
        opt.step()
        if n > 0:  # the first step allocates
            best = min(best, time.perf_counter() - t)
        n += 1
    return BATCH / best


def facet_rate(seconds=20.0):
    out = subprocess.run([CLI, "bench", "--size", SIZE, "--batch", str(BATCH), "--train",
                          "--iterations", "2", "--seconds", str(seconds), "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["images_per_s_best"]


def main():
    torch.set_num_threads(2)
    dim, depth, heads = DIMS[SIZE]
    sd = ref.make_state_dict(dim, depth, heads, 12, seed=1)
    p = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
    f = t = 0.0
    for _ in range(ROUNDS):
        f = max(f, facet_rate())
        t = max(t, torch_rate(p, heads))
    print(f"ViT-{SIZE[0].upper()}/16 training (forward + backward + AdamW), fp32, batch {BATCH}, 2 threads")
    print(f"Facet {f:.3f} images/s, PyTorch {t:.3f} images/s, ratio {f / t:.2f}x")


if __name__ == "__main__":
    main()
