#!/bin/sh
# The exact recipe of Facet's demo model (data/demo/facet-demo.safetensors):
# a small FMAE-style ViT trained from scratch, with Facet's own training code,
# on synthetic faces of 48 subjects, 12 of them held out for validation.
# Many short subjects rather than few long ones: with few identities a ViT
# trained from scratch learns who the person is, not what the face does.
#
#   data/demo/make-demo-model.sh BUILDDIR [WORKDIR]
#
# It takes about an hour on two cores. The held-out-subject metrics end up
# in the work folder's project (facet-cli models WORKDIR/demo-train.facet)
# and in data/demo/facet-demo.metrics.json.
set -eu
builddir=${1:-build}
work=${2:-$builddir/demo-model}
here=$(cd "$(dirname "$0")" && pwd)
cli="$(cd "$builddir" && pwd)/src/cli/facet-cli"

SUBJECTS=${SUBJECTS:-48}
SECONDS_PER_SUBJECT=${SECONDS_PER_SUBJECT:-15}
FPS=${FPS:-10}
SIZE=112
EPOCHS=${EPOCHS:-25}
LR=${LR:-5e-4}

rm -rf "$work"
mkdir -p "$work"
cd "$work"

# Synthetic subjects: seed s draws the face, seed 1000+s the AU events.
"$cli" init demo-train.facet
s=1
while [ "$s" -le "$SUBJECTS" ]; do
  "$cli" synth --subject "$s" --seed $((1000 + s)) --seconds "$SECONDS_PER_SUBJECT" --fps "$FPS" \
    --size "$SIZE" --codec ffv1 "subject-$s.mkv" > /dev/null
  "$cli" add demo-train.facet "subject-$s.mkv" --subject "S$s" --crop none > /dev/null
  "$cli" labels import demo-train.facet "subject-$s.labels.csv" --format csv --video "$s" > /dev/null
  s=$((s + 1))
done

# The architecture: ViT, width 192, depth 6, 3 heads, 112 px input, 16 px
# patches; every AU the generator draws; crop convention "none".
"$cli" model new init.safetensors --dim 192 --depth 6 --heads 3 --image-size "$SIZE" --patch 16 \
  --aus 1,2,4,6,9,12,15,17,25,26,43 --crop none --seed 1 --name "Facet demo (synthetic faces)"

# From scratch: full mode, no layer decay, plain fine-tuning loss (lambda 0).
"$cli" finetune demo-train.facet --base init.safetensors --mode full --epochs "$EPOCHS" \
  --batch 32 --lr "$LR" --warmup 3 --layer-decay 1.0 --weight-decay 0.05 --drop-path 0.1 \
  --iat-lambda 0 --val-fraction 0.25 --seed 1 --name facet-demo

"$cli" models demo-train.facet --json > models.json
cp models/facet-demo.safetensors "$here/facet-demo.safetensors"
/usr/bin/python3 - "$here/facet-demo.metrics.json" <<'PY'
import json, sys
models = json.load(open("models.json"))
demo = [m for m in models if m["name"] == "facet-demo"][-1]
json.dump(demo["metrics"], open(sys.argv[1], "w"), indent=1)
print("held-out mean F1:", demo["metrics"]["f1_mean"], "AUC:", demo["metrics"]["auc_mean"])
PY
