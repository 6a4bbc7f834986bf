#!/bin/sh
# Runs a libFuzzer binary for a few seconds on a copy of the seed corpus.
# Any crash, leak or sanitizer report fails the test; crashing inputs are
# kept in the build folder for replay.
set -eu
fuzzer=$1
corpus=$2
seconds=${3:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$corpus"/* "$work"/
cd "$(dirname "$fuzzer")"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$work"
