#!/usr/bin/python3
"""bench/pretrain: ViT-B/16 MAE pre-training steps (75 % masking, decoder 512
wide x 8 blocks, norm_pix loss, backward, AdamW with betas 0.9/0.95) at batch
16, Facet's CPU backend against PyTorch in the same run.

PyTorch: the release's MaskedAutoencoderViT written in plain torch modules
(tests/train/test_mae_parity.py), autograd, torch.optim.AdamW;
torch.set_num_threads(2), OMP_WAIT_POLICY=PASSIVE. Facet: bench/pretrain-step.
Interleaved rounds, best step of each; prints images/s and the ratio.
"""
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "2")

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "train"))
sys.path.insert(0, os.path.join(here, "..", "tests", "parity"))
sys.argv = sys.argv[:1]
import torch  # noqa: E402
import test_mae_parity as mae  # noqa: E402

TOOL = os.environ.get("FACET_PRETRAIN_STEP", "pretrain-step")
SIZE = os.environ.get("BENCH_SIZE", "base")
DIMS = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}
BATCH = int(os.environ.get("BENCH_BATCH", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))


def torch_rate(model, opt):
    x = torch.randn(BATCH, 3, 224, 224)
    best = float("inf")
    start = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - start < SECONDS:
        t = time.perf_counter()
        opt.zero_grad()
        noise = torch.rand(BATCH, 196)
        loss, _, _ = model(x, 0.75, noise)
        loss.backward()
        opt.step()
        if n > 0:  # the first step allocates
            best = min(best, time.perf_counter() - t)
        n += 1
    return BATCH / best


def facet_rate():
    out = subprocess.run([TOOL, "--size", SIZE, "--batch", str(BATCH), "--seconds", str(SECONDS)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["images_per_s_best"]


def main():
    torch.set_num_threads(2)
    dim, depth, heads = DIMS[SIZE]
    model = mae.MaskedAutoencoderViT(224, 16, dim, depth, heads, 512, 8, 16)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    f = t = 0.0
    for _ in range(ROUNDS):
        f = max(f, facet_rate())
        t = max(t, torch_rate(model, opt))
    print(f"ViT-{SIZE[0].upper()}/16 MAE pre-training step (mask 0.75, decoder 512x8, backward, AdamW), "
          f"fp32, batch {BATCH}, 2 threads")
    print(f"Facet {f:.3f} images/s, PyTorch {t:.3f} images/s, ratio {f / t:.2f}x")


if __name__ == "__main__":
    main()
