#!/usr/bin/env bash
# Data-parallel training on this machine: tokens/s of one epoch with 1 rank (all cores) and with
# N ranks (scripts/train-local-cluster, cores shared out), same global batch per step, same
# corpus; and the bytes each rank all-reduces per step, per preset.
#   bench/dist_bench.sh CORPUS [PRESET...]      (default presets: tiny small seed)
set -euo pipefail
corpus=${1:?usage: $0 CORPUS [PRESET...]}
shift
presets=("${@:-tiny small seed}")
[[ $# -gt 0 ]] || presets=(tiny small seed)
here=$(cd "$(dirname "$0")/.." && pwd)
arioso=${ARIOSO:-$here/build/app/arioso}
ranks=${RANKS:-2}
batch=${BATCH:-32}
limit=${LIMIT_MIN:-1.5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rate() { tail -n 1 "$1/log.csv" | cut -d, -f8; }
printf '%-8s %12s %12s %8s %14s\n' preset "1 rank" "$ranks ranks" ratio "grad MB/step"
for p in "${presets[@]}"; do
  "$arioso" train "$corpus" -o "$work/$p-1" --preset "$p" --epochs 1 --time-limit "$limit" --batch-size "$batch" --no-augment > /dev/null 2>&1
  "$here/scripts/train-local-cluster" "$ranks" "$corpus" -o "$work/$p-n" --preset "$p" --epochs 1 --time-limit "$limit" \
    --batch-size $((batch / ranks)) --no-augment > /dev/null 2>&1
  one=$(rate "$work/$p-1")
  many=$(rate "$work/$p-n")
  mb=$(/usr/bin/python3 -c "import json; print(json.load(open('$work/$p-n/config.json'))['gradient_bytes_per_step'] / 1e6)")
  printf '%-8s %12.0f %12.0f %8.2f %14.2f\n' "$p" "$one" "$many" "$(echo "$many / $one" | bc -l)" "$mb"
done
