#!/usr/bin/python3
"""bench/engine-cpu: ViT-B/16 inference, Facet's CPU backend against PyTorch,
same weights, same machine, same run, in fp32 and in bf16.

PyTorch runs the reference model of tests/parity (torchvision's encoder
blocks + the FMAE-IAT readout) with torch.set_num_threads(2) and
OMP_WAIT_POLICY=PASSIVE; in bf16 the model and input are cast to
torch.bfloat16 (what a lab does to speed it up). Facet runs `facet-cli bench
--precision P` on a checkpoint with the same weights. The two are interleaved
ROUNDS times; each round's figure is a median over several seconds of
forwards, and the median of the rounds is printed, so background load on a
shared machine hits both alike. Prints images/s, the ratio, and in bf16 the
GFLOP/s Facet reaches next to the processor's measured bf16 peak.

BENCH_PRECISIONS (fp32,bf16), BENCH_BATCHES (1,8), BENCH_ROUNDS (5),
BENCH_SECONDS (5) and BENCH_SIZE (base) change what runs. bf16 rows are
skipped where the processor lacks AVX512-BF16.
"""
import json
import os
import statistics
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
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
PRECISIONS = os.environ.get("BENCH_PRECISIONS", "fp32,bf16").split(",")


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


def torch_rate(model, batch, dtype, seconds=SECONDS):
    x = torch.randn(batch, 3, 224, 224).to(dtype)
    with torch.inference_mode():
        model(x)
        times = []
        start = time.perf_counter()
        while len(times) < 3 or time.perf_counter() - start < seconds:
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def facet_run(path, batch, precision, seconds=SECONDS):
    out = subprocess.run([CLI, "bench", "--model", path, "--batch", str(batch), "--iterations", "3",
                          "--seconds", str(seconds), "--precision", precision, "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    torch.set_num_threads(2)
    dim, depth, heads = DIMS[SIZE]
    sd = ref.make_state_dict(dim, depth, heads, 12, seed=1)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vit.pth")
        ref.save_checkpoint(path, sd, ref.fmae_args(model=f"vit_{SIZE}_patch16"))
        models = {"fp32": (TorchFmae(sd, heads).eval(), torch.float32)}
        if "bf16" in PRECISIONS:
            sd16 = {k: v.to(torch.bfloat16) for k, v in sd.items()}
            models["bf16"] = (TorchFmae(sd16, heads).to(torch.bfloat16).eval(), torch.bfloat16)
        print(f"ViT-{SIZE[0].upper()}/16 inference, 2 threads; median of {ROUNDS} interleaved rounds "
              f"(each a median over {SECONDS:g} s)")
        print("GFLOP/s: Facet's, wall clock; GF/CPU-s: per CPU-second of its threads (what a core did "
              "while it ran Facet), next to a core's bf16 peak (measured: vdpbf16ps on registers)")
        print(f"{'prec':>4} {'batch':>5} {'Facet img/s':>12} {'PyTorch img/s':>14} {'ratio':>7}"
              f" {'GFLOP/s':>8} {'GF/CPU-s':>9} {'core peak':>10}")
        for precision in PRECISIONS:
            model, dtype = models[precision]
            for batch in BATCHES:
                f, t, peak, per_cpu, gflop = [], [], [], [], 0.0
                for _ in range(ROUNDS):
                    r = facet_run(path, batch, precision)
                    if r["precision"] != precision:
                        print(f"{precision:>4} {batch:>5}  skipped: Facet runs {r['precision']} here")
                        break
                    f.append(r["images_per_s_median"])
                    peak.append(r.get("bf16_peak_gflops", 0.0))
                    per_cpu.append(r.get("gflops_per_cpu_s", 0.0))
                    gflop = r["gflop_per_image"]
                    t.append(torch_rate(model, batch, dtype))
                if not f:
                    continue
                fm, tm = statistics.median(f), statistics.median(t)
                peak_text = f"{statistics.median(peak) / 2:>10.0f}" if precision == "bf16" else f"{'':>10}"
                print(f"{precision:>4} {batch:>5} {fm:>12.2f} {tm:>14.2f} {fm / tm:>6.2f}x"
                      f" {fm * gflop:>8.0f} {statistics.median(per_cpu):>9.0f} {peak_text}",
                      flush=True)


if __name__ == "__main__":
    main()
