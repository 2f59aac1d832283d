#!/usr/bin/env bash
# Reads every file of the default corpus and the seed corpus (notes extracted) with arioso and
# with mido in one run; prints files/s of each and the ratio. Usage: bench/parse_vs_mido.sh [BUILD]
set -euo pipefail
build=${1:-build}
dirs=(/usr/share/games/simutrans/music /usr/share/games/openttd/baseset/openmsx)
[ -d ../shared/data/seed-midi ] && dirs+=(../shared/data/seed-midi)
mapfile -t files < <(find "${dirs[@]}" -iname '*.mid' | sort)
n=${#files[@]}
read -r rate notes < <("$build/bench/parse_bench" "${files[@]}")
t1=$(date +%s.%N); /usr/bin/python3 tests/reference/mido_notes.py "${files[@]}" > /dev/null; t2=$(date +%s.%N)
python3 - "$n" "$rate" "$notes" "$t1" "$t2" <<'PY'
import sys
n, rate, notes, t1, t2 = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
m = n / (t2 - t1)
print(f"files {n} ({notes} notes): arioso {rate:.0f} files/s, mido {m:.1f} files/s, ratio {rate/m:.0f}x")
PY
