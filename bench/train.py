#!/usr/bin/python3
"""bench/train: ViT-B/16 training steps (forward, backward, AdamW) at batch 8,
Facet's CPU backend against PyTorch in the same run, in fp32 and in bf16.

PyTorch: the FMAE-IAT forward written with torch ops (tests/parity's
functional_forward), BCE on the AU head, autograd, torch.optim.AdamW;
torch.set_num_threads(2), OMP_WAIT_POLICY=PASSIVE. In bf16 the forward runs
under torch.autocast("cpu", dtype=torch.bfloat16) (bf16 products through
oneDNN, fp32 master weights: what a lab does to train faster), the loss in
fp32. Facet: `facet-cli bench --train --precision P` (bf16 products, fp32
master weights, optimiser state and reductions).

Interleaved rounds, best step of each side; prints images/s and the ratio,
and for bf16 the GFLOP/s Facet reaches (wall clock, and per CPU-second of
its threads: what a core did while it ran Facet) next to a core's measured
bf16 peak, and the load average (the development machine is shared).

BENCH_PRECISIONS (fp32,bf16), BENCH_ROUNDS (2), BENCH_SECONDS (20),
BENCH_BATCH (8) and BENCH_SIZE (base) change what runs. bf16 rows are
skipped where the processor lacks AVX512-BF16.
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
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
PRECISIONS = os.environ.get("BENCH_PRECISIONS", "fp32,bf16").split(",")


def torch_rate(p, heads, precision, seconds=SECONDS):
    """Best images/s of PyTorch training steps, and images per CPU-second
    over the timed steps."""
    x = torch.randn(BATCH, 3, 224, 224)
    y = (torch.rand(BATCH, 12) > 0.7).float()
    opt = torch.optim.AdamW([v for v in p.values()], lr=1e-4, weight_decay=0.05)
    best = float("inf")
    start = time.perf_counter()
    cpu = 0.0
    n = 0
    while n < 3 or time.perf_counter() - start < seconds:
        t, c = time.perf_counter(), time.process_time()
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            feat = ref.functional_forward(p, x, heads)
            logits = F.linear(feat, p["head.weight"], p["head.bias"])
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        loss.backward()
        opt.step()
        if n > 0:  # the first step allocates
            best = min(best, time.perf_counter() - t)
            cpu += time.process_time() - c
        n += 1
    return BATCH / best, BATCH * (n - 1) / cpu


def facet_run(precision, seconds=SECONDS):
    out = subprocess.run([CLI, "bench", "--size", SIZE, "--batch", str(BATCH), "--train",
                          "--precision", precision, "--iterations", "2", "--seconds", str(seconds),
                          "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    torch.set_num_threads(2)
    dim, depth, heads = DIMS[SIZE]
    sd = ref.make_state_dict(dim, depth, heads, 12, seed=1)
    p = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
    print(f"ViT-{SIZE[0].upper()}/16 training (forward + backward + AdamW), batch {BATCH}, 2 threads; "
          f"best step of {ROUNDS} interleaved rounds of {SECONDS:g} s; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    print("img/CPU-s: images per CPU-second of the process's threads (what its cores did while it ran); "
          "GF/CPU-s next to a core's bf16 peak (vdpbf16ps on registers)")
    print(f"{'prec':>4} {'Facet img/s':>12} {'PyTorch img/s':>14} {'ratio':>7} {'Facet img/CPU-s':>16}"
          f" {'PyTorch img/CPU-s':>18} {'ratio':>7} {'GFLOP/s':>8} {'GF/CPU-s':>9} {'core peak':>10}")
    for precision in PRECISIONS:
        f = t = fc = tc = 0.0
        peak = per_cpu = gflop = 0.0
        skipped = False
        for _ in range(ROUNDS):
            r = facet_run(precision)
            if r["precision"] != precision:
                print(f"{precision:>4}  skipped: Facet runs {r['precision']} here")
                skipped = True
                break
            if r["images_per_s_best"] > f:
                f = r["images_per_s_best"]
            per_cpu = max(per_cpu, r.get("gflops_per_cpu_s", 0.0))
            fc = max(fc, r.get("gflops_per_cpu_s", 0.0) / r["gflop_per_image"])
            peak = max(peak, r.get("bf16_peak_gflops", 0.0))
            gflop = r["gflop_per_image"]
            tw, tcpu = torch_rate(p, heads, precision)
            t, tc = max(t, tw), max(tc, tcpu)
        if skipped:
            continue
        peak_text = f"{peak / 2:>10.0f}" if precision == "bf16" else f"{'':>10}"
        print(f"{precision:>4} {f:>12.3f} {t:>14.3f} {f / t:>6.2f}x {fc:>16.3f} {tc:>18.3f} {fc / tc:>6.2f}x"
              f" {f * gflop:>8.0f} {per_cpu:>9.0f} {peak_text}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
