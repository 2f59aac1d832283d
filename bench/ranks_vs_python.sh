#!/usr/bin/env bash
# The `seed` LSTM (3x512) trained by `arioso train` as one process and as `--ranks 2` (two
# local data-parallel processes, the batch split), against the same model in Python PyTorch
# (bench/train_speed.py, its defaults), in one run: tokens/s of each and the ratios.
#   bench/ranks_vs_python.sh CORPUS [BATCH] [WINDOW] [MINUTES]
set -euo pipefail
corpus=${1:?usage: $0 CORPUS [BATCH] [WINDOW] [MINUTES]}
batch=${2:-32}
window=${3:-128}
minutes=${4:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
arioso=${ARIOSO:-$here/build/app/arioso}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vocab=${VOCAB:-358}  # the classic tokens of the seed corpus
rate() { tail -n 1 "$1/log.csv" | cut -d, -f8; }
common=(--preset seed --epochs 1 --time-limit "$minutes" --batch-size "$batch" --window "$window" --no-augment)
"$arioso" train "$corpus" -o "$work/one" "${common[@]}" > /dev/null 2>&1
one=$(rate "$work/one")
"$arioso" train "$corpus" -o "$work/two" "${common[@]}" --ranks 2 > /dev/null 2>&1
two=$(rate "$work/two")
py=$(/usr/bin/python3 "$here/bench/train_speed.py" "$vocab" "$batch" "$window" 6 | grep -o 'train [0-9.]* tokens/s' | cut -d' ' -f2)
printf 'seed LSTM, batch %s x %s tokens\n' "$batch" "$window"
printf '  arioso, 1 process:   %8.0f tokens/s\n' "$one"
printf '  arioso, --ranks 2:   %8.0f tokens/s\n' "$two"
printf '  Python PyTorch:      %8.0f tokens/s\n' "$py"
printf '  --ranks 2 / Python: %.2fx; 1 process / Python: %.2fx\n' "$(echo "$two / $py" | bc -l)" "$(echo "$one / $py" | bc -l)"
