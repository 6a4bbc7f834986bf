#!/usr/bin/python3
"""bench/iat: the paper's claim in miniature.

A synthetic study in which, for the training subjects, AU base rates depend
on who the person is (each has its own bias profile: two AUs frequent, one
rare), while the held-out subjects have ordinary rates, so that recognising
the person is a shortcut that does not carry over. The demo model is
fine-tuned from the same start with lambda = 0 (plain fine-tuning) and
lambda > 0 (identity adversarial training), each with three seeds (IAT_SEEDS).
For both it prints the identity linear probe (split in time: first 70 % of a
subject's frames fit it, the last 30 % after a gap test it) on the training
subjects, where the identity shortcut lives, and on the held-out ones, each
with its chance level, and the held-out mean F1 and AUC: mean and spread
(standard deviation) over the seeds. The paper's direction: IAT lowers the
training-subject probe by more than twice the spread, and held-out F1 does not
fall beyond it. Whatever comes out is printed.

Knobs (environment): IAT_TRAIN_SUBJECTS, IAT_HELD_SUBJECTS, IAT_SECONDS,
IAT_EPOCHS, IAT_MODE, IAT_LAMBDA, IAT_SEEDS, IAT_ARGS (further finetune
options for both lambdas; default "--iat-head-lr 100", "" for the recipe's
identity head), IAT_WORKDIR (keep the
study there and reuse it on the next run with the same sizes).
"""
import json
import os
import subprocess
import sys
import tempfile

CLI = os.environ.get("FACET_CLI", "facet-cli")
HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.environ.get("FACET_DEMO_MODEL", os.path.join(HERE, "..", "data", "demo", "facet-demo.safetensors"))
TRAIN = int(os.environ.get("IAT_TRAIN_SUBJECTS", "6"))
HELD = int(os.environ.get("IAT_HELD_SUBJECTS", "3"))
SECONDS = int(os.environ.get("IAT_SECONDS", "10"))
EPOCHS = int(os.environ.get("IAT_EPOCHS", "12"))
LAMBDA = float(os.environ.get("IAT_LAMBDA", "1.0"))
MODE = os.environ.get("IAT_MODE", "last:2")
SEEDS = [int(x) for x in os.environ.get("IAT_SEEDS", "1,2,3").split(",")]
# Further finetune options for both runs (split at spaces). The default lets
# the identity head learn at a linear probe's rate: at the recipe's it never
# becomes an identity classifier in a run this short (docs/training.md).
EXTRA = os.environ.get("IAT_ARGS", "--iat-head-lr 100").split()
# A folder that keeps the study between runs: built there once, reused after.
WORKDIR = os.environ.get("IAT_WORKDIR")


def mean_spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    m = sum(values) / len(values)
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return m, sd


def cli(*args):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"facet-cli {' '.join(map(str, args))}: {p.stderr.strip()}")
    return p.stdout


def main():
    if not os.path.exists(DEMO):
        sys.exit(f"{DEMO}: the demo model is missing (data/demo/make-demo-model.sh makes it)")
    with tempfile.TemporaryDirectory(prefix="facet-iat-") as tmp:
        d = WORKDIR or tmp
        os.makedirs(d, exist_ok=True)
        project = os.path.join(d, "study.facet")
        held = build_study(d, project)
        run_and_report(d, project, held)


def build_study(d, project):
    """The study's videos and labels in @d (kept there when IAT_WORKDIR is
    set: a later run with the same sizes reuses them); the held-out names."""
    held = [f"S{i + 1:02d}" for i in range(TRAIN, TRAIN + HELD)]
    stamp = os.path.join(d, "study.json")
    wanted = {"train": TRAIN, "held": HELD, "seconds": SECONDS}
    if os.path.exists(stamp) and os.path.exists(project):
        with open(stamp) as f:
            if json.load(f) == wanted:
                return held
    if os.path.exists(project):
        os.remove(project)
    cli("init", project)
    seed = 700
    # Identities that dlib's detector does not find at all (docs/synth.md)
    # would leave a subject without frames: they are passed over.
    for i in range(TRAIN + HELD):
        name = f"S{i + 1:02d}"
        video = os.path.join(d, f"{name}.mkv")
        biased = i < TRAIN
        while True:
            args = ["synth", "--subject", seed, "--seed", seed + 200, "--seconds", SECONDS, "--fps", 10,
                    "--size", 224, "--codec", "ffv1", "--quiet"]
            if biased:
                args.append("--bias")
            cli(*args, video)
            seed += 1
            if json.loads(cli("faces", "--json", video))["status"] == "found":
                break
        cli("add", project, video, "--subject", name, "--crop", "aligned")
        cli("labels", "import", project, video.replace(".mkv", ".labels.csv"), "--format", "csv",
            "--video", i + 1)
    with open(stamp, "w") as f:
        json.dump(wanted, f)
    return held


def run_and_report(d, project, held):
    results = {}
    for lam in (0.0, LAMBDA):
        for seed_ in SEEDS:
            p = os.path.join(d, f"lambda-{lam}-seed-{seed_}.facet")
            with open(project, "rb") as src, open(p, "wb") as dst:
                dst.write(src.read())
            cli("finetune", p, "--base", DEMO, "--mode", MODE, "--iat-lambda", lam, "--epochs", EPOCHS,
                "--batch", 32, "--blr", "1e-3", "--seed", seed_, "--val-subjects", ",".join(held),
                "--name", f"lambda-{lam}", "--quiet", *EXTRA)
            models = json.loads(cli("models", p, "--json"))
            results.setdefault(lam, []).append(models[-1]["metrics"])
    print(f"IAT in miniature: {TRAIN} training subjects with subject-specific AU base rates, "
          f"{HELD} held-out subjects with ordinary rates; demo model, mode {MODE}, {EPOCHS} epochs, "
          f"seeds {','.join(map(str, SEEDS))}{', ' + ' '.join(EXTRA) if EXTRA else ''}; "
          "mean ± spread (sd over seeds)")
    keys = [("id_probe_train_acc", "ID probe train"), ("id_probe_acc", "ID probe held-out"),
            ("f1_mean", "held-out F1"), ("auc_mean", "held-out AUC")]
    print(f"{'lambda':>7} " + " ".join(f"{title:>20}" for _, title in keys))
    stats = {}
    for lam, runs in results.items():
        stats[lam] = {k: mean_spread([r.get(k) for r in runs]) for k, _ in keys}
        print(f"{lam:>7.2f} " + " ".join(f"{stats[lam][k][0]:>12.3f} ± {stats[lam][k][1]:.3f}" for k, _ in keys))
    base = results[0.0][0]
    print(f"chance: training subjects {base.get('id_probe_train_chance')}, "
          f"held-out {base.get('id_probe_chance')}; base model: train probe "
          f"{base.get('base_id_probe_train_acc')}, held-out F1 {base.get('base_f1_mean')}")
    a, b = stats[0.0], stats[LAMBDA]
    spread = max(a["id_probe_train_acc"][1], b["id_probe_train_acc"][1])
    f1_spread = max(a["f1_mean"][1], b["f1_mean"][1])
    d_probe = b["id_probe_train_acc"][0] - a["id_probe_train_acc"][0]
    d_f1 = b["f1_mean"][0] - a["f1_mean"][0]
    print(f"IAT changed the training-subject probe by {d_probe:+.3f} (twice the spread: {2 * spread:.3f}) "
          f"and held-out F1 by {d_f1:+.3f} (spread {f1_spread:.3f})")
    print("paper's finding reproduced" if d_probe < -2 * spread and d_f1 > -f1_spread
          else "paper's finding NOT reproduced in this run")

if __name__ == "__main__":
    main()
