#!/usr/bin/env bash
# The frame-level benchmarks of ../shared/data/bench (MuseData, Piano-midi.de): train with the
# defaults on train + valid for a time budget, then score the test split in nats per frame with
# ../shared/bench/frame_nll.py (Boulanger-Lewandowski et al. 2012's measure).
#   bench/frame_bench.sh SET_DIR MINUTES [OUT_DIR] [extra train options...]
# Prints the train summary and one JSON line per set; the run stays in OUT_DIR/NAME.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
arioso="${ARIOSO:-$here/build/app/arioso}"
set_dir="$1"; minutes="$2"; out="${3:-/tmp/arioso-frame-bench}"; shift 3 || shift $#
name="$(basename "${set_dir%/}")"
run="$out/$name"
rm -rf "$run"; mkdir -p "$out"
start=$(date +%s)
"$arioso" train "$set_dir/train" "$set_dir/valid" -o "$run" --time-limit "$minutes" "$@" | grep -E "^(stopped|run folder|epoch)" | tail -n 3
echo "trained in $(( $(date +%s) - start )) s"
python3 "$here/../shared/bench/frame_nll.py" "$arioso" "$run" "$set_dir"
