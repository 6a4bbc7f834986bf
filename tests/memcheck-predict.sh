#!/bin/sh
# Load + predict under valgrind memcheck, through both loaders (safetensors
# and a torch .pth checkpoint): any leak or invalid access fails the test.
set -eu
cli=$1
valgrind=$2
image=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$cli" model new "$work/m.safetensors" --size tiny --depth 2 --image-size 64 --patch 16 \
  --crop none --subjects 3 --seed 1
/usr/bin/python3 - "$work/m.pth" "$here/parity" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import fmae_reference as ref
sd = ref.make_state_dict(32, 2, 2, 12, n_subjects=3, image=64, patch=16, seed=1)
ref.save_checkpoint(sys.argv[1], sd, ref.fmae_args(model="vit_tiny_patch16"))
PY

vg() {
  "$valgrind" --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect "$@"
}
vg "$cli" predict --model "$work/m.safetensors" --crop none --attention --au-maps --json "$image" >/dev/null
vg "$cli" predict --model "$work/m.pth" --crop none --attention --features --json --heads 2 "$image" "$image" >/dev/null
vg "$cli" model info --json "$work/m.pth" --heads 2 >/dev/null
# The evidence maps: the gradient methods' saved activations (input-x-gradient shares them), occlusion's batches.
for method in grad-attention occlusion; do
  vg "$cli" predict --model "$work/m.safetensors" --crop none --json --map "$method" "$image" >/dev/null
done
# Errors must not leak either.
printf 'garbage' > "$work/bad.pth"
set +e
vg "$cli" predict --model "$work/bad.pth" --crop none "$image" 2>/dev/null
status=$?
set -e
case $status in
  1) ;;
  0) echo "a damaged model was accepted" >&2; exit 1 ;;
  *) echo "memcheck found errors on the error path (status $status)" >&2; exit 1 ;;
esac
echo "memcheck: clean"
