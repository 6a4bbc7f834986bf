#!/bin/sh
# The demo model the FMAE paper's way: MAE pre-training on many unlabelled
# synthetic identities, then fine-tuning on the labelled ones — beside a
# from-scratch run with the same fine-tuning recipe, budget, labelled
# subjects and held-out subjects, so the table says what pre-training adds.
#
#   data/demo/make-pretrained-demo.sh BUILDDIR WORKDIR [STEP [ARG]]
#
# Steps (default "all": data, scratch, then pretrain + finetune for every
# SEGMENTS entry):
#   data            the two projects: labelled.facet (subjects 1..LABELLED,
#                   labels imported, as make-demo-model.sh makes them) and
#                   unlabelled.facet (PRE_SUBJECTS other identities, subject
#                   seeds from 100001 on, PRE_SECONDS frames each, 1 s apart,
#                   NO labels: no held-out or training person of the labelled
#                   project is in it, and the demo's 240 subjects are not either);
#   scratch         fine-tunes the fresh encoder (init.safetensors) on labelled.facet;
#   pretrain E      E more epochs of MAE pre-training on unlabelled.facet,
#                   continuing the last pre-trained model (or starting from
#                   the fresh encoder with a light decoder); the model is
#                   saved as models/pre-<total epochs>.safetensors there;
#   finetune NAME   fine-tunes unlabelled.facet's model NAME on labelled.facet;
#   probe NAME      a linear probe (heads mode) of NAME's frozen encoder
#                   ("scratch": the fresh one) on the same frames;
#   ship NAME       makes labelled.facet's fine-tuned model ft-NAME the demo
#                   model: data/demo/facet-demo.safetensors (renamed
#                   "facet-demo", weights and training settings unchanged)
#                   and its held-out metrics, facet-demo.metrics.json.
#
# The demo model (data/demo/facet-demo.safetensors) is this script's
#   LABELLED=240 FT_EPOCHS=30 FT_MAX_PER_VIDEO=0 (data, pretrain 60,
#   finetune pre-60, ship pre-60), about 2.5 hours on two cores.
# Every fine-tuning has the same recipe and budget (FT_EPOCHS epochs over
# FT_MAX_PER_VIDEO frames of each subject; batch 32, lr 1e-3, full mode: the
# demo's settings) and the same held-out subjects (a
# quarter of labelled.facet's, seed 1). WORKDIR/curve.tsv collects one row
# per fine-tuning: the pre-training it started from (epochs, CPU seconds),
# held-out mean F1 and AUC, and the fine-tuning's CPU seconds.
set -eu
builddir=${1:-build}
work=${2:-$builddir/pretrained-demo}
step=${3:-all}
arg=${4:-}
cli="$(cd "$builddir" && pwd)/src/cli/facet-cli"
here=$(cd "$(dirname "$0")" && pwd)

LABELLED=${LABELLED:-64}            # labelled subjects (seeds 1..LABELLED, as the demo's)
SECONDS_PER_SUBJECT=${SECONDS_PER_SUBJECT:-30}
PRE_SUBJECTS=${PRE_SUBJECTS:-1200}  # unlabelled identities
PRE_SECONDS=${PRE_SECONDS:-3}       # frames of each, 1 s apart
RATE=${RATE:-0.3}
AUS=1,2,4,6,9,12,15,17,25,26,43
SIZE=${SIZE:-160}
FRAME=${FRAME:-256}
FT_EPOCHS=${FT_EPOCHS:-6}
FT_MAX_PER_VIDEO=${FT_MAX_PER_VIDEO:-10}  # frames of each subject fine-tuning uses (0: all)
LR=${LR:-1e-3}
DECODER_DIM=${DECODER_DIM:-128}
DECODER_DEPTH=${DECODER_DEPTH:-2}
PRE_BATCH=${PRE_BATCH:-32}
PRE_BLR=${PRE_BLR:-8e-3}             # peak lr 1e-3 at batch 32
SEGMENTS=${SEGMENTS:-"3 6 9"}       # pre-training epochs between fine-tunings
JOBS=${JOBS:-4}                     # parallel video generators
FT_RESUME=${FT_RESUME:-}            # non-empty: a fine-tuning continues its checkpoint (--resume)
FT_SEED=${FT_SEED:-1}               # the fine-tuning's seed (split, order, heads)
FT_VAL_SUBJECTS=${FT_VAL_SUBJECTS:-}  # S1,S2,...: these held out (another seed, the same people)
FT_TAG=${FT_TAG:-}                  # appended to a fine-tuning's name (another run of one start)

rates="$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE,$RATE"
mkdir -p "$work"
cd "$work"

# CPU seconds (user + system) of a command, into the file $1.
timed () {
  out=$1
  shift
  /usr/bin/time -f "%U %S %e" -o "$out.time" "$@"
  awk '{ printf "%.0f %.0f\n", $1 + $2, $3 }' "$out.time" > "$out"
  rm -f "$out.time"
}

# Runs "$1 S" for S = 1..$2 in JOBS parallel lanes.
in_lanes () {
  lane=0
  pids=""
  while [ "$lane" -lt "$JOBS" ]; do
    (
      s=$((lane + 1))
      while [ "$s" -le "$2" ]; do
        "$1" "$s"
        s=$((s + JOBS))
      done
    ) &
    pids="$pids $!"
    lane=$((lane + 1))
  done
  # shellcheck disable=SC2086
  wait $pids
}

# Subject s as make-demo-model.sh draws it: seed s the face, 1000 + s the AU events.
synth_labelled () {
  [ -f "labelled-$1.mkv" ] \
  || "$cli" synth --subject "$1" --seed $((1000 + $1)) --seconds "$SECONDS_PER_SUBJECT" --fps 1 \
    --size "$FRAME" --codec ffv1 --bias-au "$AUS" --bias-rate "$rates" --quiet "labelled-$1.mkv"
}

# Identities no labelled subject has: subject seeds from 100001 on.
synth_unlabelled () {
  [ -f "unlabelled/u-$1.mkv" ] \
  || "$cli" synth --subject $((100000 + $1)) --seed $((200000 + $1)) --seconds "$PRE_SECONDS" \
    --fps 1 --size "$FRAME" --codec ffv1 --bias-au "$AUS" --bias-rate "$rates" --quiet \
    "unlabelled/u-$1.mkv"
  rm -f "unlabelled/u-$1.labels.csv" "unlabelled/u-$1.regions.csv"  # not used
}

make_labelled () {
  if [ ! -f labelled.done ]; then
    in_lanes synth_labelled "$LABELLED"
    rm -f labelled.facet
    "$cli" init labelled.facet > /dev/null
    s=1
    while [ "$s" -le "$LABELLED" ]; do
      "$cli" add labelled.facet "labelled-$s.mkv" --subject "S$s" --crop aligned > /dev/null
      "$cli" labels import labelled.facet "labelled-$s.labels.csv" --format csv --video "$s" \
        > /dev/null
      s=$((s + 1))
    done
    touch labelled.done
  fi
}

make_unlabelled () {
  if [ ! -f unlabelled.done ]; then
    # The videos in JOBS parallel lanes, then added a hundred at a time:
    # the identities need no names of their own, since pre-training never
    # reads the subject.
    rm -f unlabelled.facet
    mkdir -p unlabelled
    in_lanes synth_unlabelled "$PRE_SUBJECTS"
    "$cli" init unlabelled.facet > /dev/null
    s=1
    while [ "$s" -le "$PRE_SUBJECTS" ]; do
      batch=""
      b=$s
      while [ "$b" -le "$PRE_SUBJECTS" ] && [ "$b" -lt $((s + 100)) ]; do
        batch="$batch unlabelled/u-$b.mkv"
        b=$((b + 1))
      done
      # shellcheck disable=SC2086
      "$cli" add unlabelled.facet $batch --subject "U$s-$((b - 1))" --crop aligned > /dev/null
      s=$b
    done
    touch unlabelled.done
  fi
}

make_data () {
  make_labelled &
  make_unlabelled
  wait
  if [ ! -f init.safetensors ]; then
    "$cli" model new init.safetensors --dim 192 --depth 6 --heads 3 --image-size "$SIZE" \
      --patch 16 --aus "$AUS" --crop aligned --seed 1 --name "demo encoder, fresh" > /dev/null
  fi
}

# The demo's recipe (make-demo-model.sh) at FT_EPOCHS epochs.
finetune_from () {
  base=$1
  start=$2
  name=$2$FT_TAG
  if [ -n "$FT_VAL_SUBJECTS" ]; then held="--val-subjects $FT_VAL_SUBJECTS"
  else held="--val-fraction 0.25"; fi
  # a resumed run adds to its log; a new one starts it
  [ -n "$FT_RESUME" ] || : > "ft-$name.log"
  # shellcheck disable=SC2086
  timed "ft-$name.cpu" "$cli" finetune labelled.facet --base "$base" --mode full \
    --epochs "$FT_EPOCHS" --batch 32 --lr "$LR" --warmup 2 --clip-grad 1.0 --layer-decay 1.0 \
    --weight-decay 0.05 --drop-path 0 --no-augment --iat-lambda 0 $held --seed "$FT_SEED" \
    --max-per-video "$FT_MAX_PER_VIDEO" --name "ft-$name" ${FT_RESUME:+--resume} --quiet \
    >> "ft-$name.log"
  "$cli" models labelled.facet --json > "ft-$name.models.json"
  /usr/bin/python3 - "ft-$name.models.json" "ft-$name" <<'PY' > "ft-$name.metrics"
import json, sys
m = [m for m in json.load(open(sys.argv[1])) if m["name"] == sys.argv[2]][-1]["metrics"]
print("%.4f %.4f" % (m["f1_mean"], m["auc_mean"]))
PY
  pre_epochs=0
  pre_cpu=0
  if [ "$start" != scratch ]; then
    pre_epochs=${start#pre-}
    pre_cpu=$(cat "pre-$pre_epochs.cpu-total")
  fi
  [ -f curve.tsv ] \
  || printf 'start\tpre_epochs\tpre_cpu_s\theld_out_f1\theld_out_auc\tft_cpu_s\tft_wall_s\n' \
    > curve.tsv
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$pre_epochs" "$pre_cpu" \
    "$(tr ' ' '\t' < "ft-$name.metrics")" "$(tr ' ' '\t' < "ft-$name.cpu")" >> curve.tsv
  echo "$name: held-out F1, AUC: $(cat "ft-$name.metrics")"
}

# A linear probe of the frozen encoder $1 (heads mode, 10 epochs, lr 1e-2)
# on the same frames and held-out subjects: what its features carry.
probe_of () {
  timed "probe-$2.cpu" "$cli" finetune labelled.facet --base "$1" --mode heads --epochs 10 \
    --batch 32 --lr 1e-2 --no-augment --iat-lambda 0 --val-fraction 0.25 --seed 1 \
    --max-per-video "$FT_MAX_PER_VIDEO" --name "probe-$2" --quiet > "probe-$2.log"
  tail -3 "probe-$2.log"
}

# $1 more epochs of pre-training; prints the new model's name.
pretrain_more () {
  more=$1
  last=$(cat pre.last 2>/dev/null || echo 0)
  total=$((last + more))
  if [ "$last" -eq 0 ]; then
    base="--base init.safetensors --decoder-dim $DECODER_DIM --decoder-depth $DECODER_DEPTH"
    prev_cpu=0
  else
    base="--base models/pre-$last.safetensors"
    prev_cpu=$(cat "pre-$last.cpu-total")
  fi
  # shellcheck disable=SC2086
  timed "pre-$total.cpu" "$cli" pretrain unlabelled.facet $base --epochs "$more" \
    --batch "$PRE_BATCH" --blr "$PRE_BLR" --seed "$total" --name "pre-$total" --json --quiet \
    > "pre-$total.log"
  echo $((prev_cpu + $(cut -d' ' -f1 "pre-$total.cpu"))) > "pre-$total.cpu-total"
  echo "$total" > pre.last
  echo "pre-$total"
}

case "$step" in
  data) make_data ;;
  scratch) finetune_from init.safetensors scratch ;;
  pretrain) pretrain_more "$arg" ;;
  finetune) finetune_from "$work/models/$arg.safetensors" "$arg" ;;
  ship)
    "$cli" model convert "models/ft-$arg.safetensors" "$here/facet-demo.safetensors" \
      --name facet-demo
    "$cli" models labelled.facet --json > "ft-$arg.models.json"
    /usr/bin/python3 - "ft-$arg.models.json" "ft-$arg" "$here/facet-demo.metrics.json" <<'PY'
import json, sys
m = [m for m in json.load(open(sys.argv[1])) if m["name"] == sys.argv[2]][-1]["metrics"]
keep = {k: m[k] for k in ("f1_mean", "f1", "auc_mean", "id_probe_acc")}
with open(sys.argv[3], "w") as f:
    json.dump(keep, f, indent=1)
    f.write("\n")
print("held-out mean F1:", keep["f1_mean"], "AUC:", keep["auc_mean"])
PY
    ;;
  probe)
    if [ "$arg" = scratch ]; then probe_of init.safetensors scratch
    else probe_of "$work/models/$arg.safetensors" "$arg"; fi ;;
  all)
    make_data
    finetune_from init.safetensors scratch
    for e in $SEGMENTS; do
      name=$(pretrain_more "$e")
      finetune_from "models/$name.safetensors" "$name"
    done
    column -t curve.tsv ;;
  *) echo "unknown step $step (data, scratch, pretrain E, finetune NAME, probe NAME, ship NAME, all)" >&2
     exit 2 ;;
esac
