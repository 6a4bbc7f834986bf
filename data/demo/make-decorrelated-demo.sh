#!/bin/sh
# The demo model fine-tuned on material in which AUs occur independently
# (`synth --independent`), so that it reads each AU from the AU's own region
# rather than from the place of an AU that usually comes with it (6+12,
# 1+2+25+26, 4+9, 1+4+15: the default generator draws them together).
# Issue 13's pointing target; docs/engine.md ("Approaches tried for the
# pointing target") has the runs: with these defaults the model does NOT
# beat the demo model (46 % of the occlusion map's mass in the AU's region
# against 52 %, held-out F1 0.456 against 0.517; LAMBDA=0.5 EPOCHS=3: 48 %
# and 0.494), so it is not shipped; the
# script is kept so the row can be remade and varied (LAMBDA, AUGMENT,
# SUBJECTS).
#
#   data/demo/make-decorrelated-demo.sh BUILDDIR [WORKDIR]
#
# New identities (subject seeds 5001.., none of the demo's 1..240 nor
# bench/maps' 2001 + 97k), a quarter held out by subject (seed 1). The
# held-out metrics, with the demo model's on the same frames beside them
# (base_*), end up in WORKDIR/NAME.metrics.json; then
# `build/bench/bench-maps --model WORKDIR/models/NAME.safetensors`.
set -eu
builddir=${1:-build}
work=${2:-$builddir/decorrelated-demo}
here=$(cd "$(dirname "$0")" && pwd)
cli="$(cd "$builddir" && pwd)/src/cli/facet-cli"

SUBJECTS=${SUBJECTS:-96}
SECONDS_PER_SUBJECT=${SECONDS_PER_SUBJECT:-30}
RATE=${RATE:-0.3}
AUS=1,2,4,6,9,12,15,17,25,26,43
FRAME=${FRAME:-256}
EVENTS=${EVENTS:---independent}  # "" for the default, co-occurring patterns
BASE=${BASE:-$here/facet-demo-scratch.safetensors}  # the model docs/training.md's runs started from
EPOCHS=${EPOCHS:-6}
LR=${LR:-3e-4}
LAMBDA=${LAMBDA:-0}               # identity-adversarial strength (IAT)
AUGMENT=${AUGMENT:---no-augment}  # "" to augment
NAME=${NAME:-decorrelated}

rates="$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE"
mkdir -p "$work"
cd "$work"

if [ ! -f data.done ]; then
  rm -f train.facet
  "$cli" init train.facet > /dev/null
  s=1
  while [ "$s" -le "$SUBJECTS" ]; do
    id=$((5000 + s))
    # shellcheck disable=SC2086
    "$cli" synth --subject "$id" --seed $((6000 + s)) --seconds "$SECONDS_PER_SUBJECT" --fps 1 \
      --size "$FRAME" --codec ffv1 $EVENTS --bias-au "$AUS" --bias-rate "$rates" --quiet \
      "subject-$id.mkv"
    "$cli" add train.facet "subject-$id.mkv" --subject "S$id" --crop aligned > /dev/null
    "$cli" labels import train.facet "subject-$id.labels.csv" --format csv --video "$s" > /dev/null
    s=$((s + 1))
  done
  touch data.done
fi

# Warm start: every layer, the demo's optimiser settings at a lower peak lr.
# shellcheck disable=SC2086
"$cli" finetune train.facet --base "$BASE" --mode full --epochs "$EPOCHS" --batch 32 --lr "$LR" \
  --warmup 1 --clip-grad 1.0 --layer-decay 1.0 --weight-decay 0.05 --drop-path 0 $AUGMENT \
  --iat-lambda "$LAMBDA" --val-fraction 0.25 --seed 1 --name "$NAME" > "$NAME.log" 2>&1

"$cli" models train.facet --json > models.json
/usr/bin/python3 - "$NAME" <<'PY'
import json, sys
name = sys.argv[1]
m = [m for m in json.load(open("models.json")) if m["name"] == name][-1]["metrics"]
json.dump(m, open(name + ".metrics.json", "w"), indent=1)
print("%s: held-out mean F1 %.3f AUC %.3f; base model on the same frames F1 %.3f AUC %.3f"
      % (name, m["f1_mean"], m["auc_mean"], m["base_f1_mean"], m["base_auc_mean"]))
PY
