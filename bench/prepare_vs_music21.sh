#!/usr/bin/env bash
# arioso prepare (classic, --compat music21) of the seed corpus against the music21 5.x
# reference tokenizer (../shared/music21/m21v5_tokens.py) on the same files, in one run.
set -euo pipefail
build=${1:-build}
seed=../shared/data/seed-midi
[ -d "$seed" ] || { echo "needs ../shared/data/seed-midi"; exit 0; }
t0=$(date +%s.%N); "$build/app/arioso" prepare "$seed" -o /tmp/bench-seed.corpus --tokenizer classic --compat music21 --json > /tmp/bench-prep.json 2>/dev/null; t1=$(date +%s.%N)
/usr/bin/python3 ../shared/music21/m21v5_tokens.py "$seed"/*.mid > /dev/null; t2=$(date +%s.%N)
t3=$(date +%s.%N); "$build/app/arioso" prepare /usr/share/games/simutrans/music /usr/share/games/openttd/baseset/openmsx -o /tmp/bench-default.corpus --json > /tmp/bench-prep2.json 2>/dev/null; t4=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" "$t3" "$t4" <<'PY'
import sys, json
t0, t1, t2, t3, t4 = map(float, sys.argv[1:])
j = json.load(open('/tmp/bench-prep.json')); k = json.load(open('/tmp/bench-prep2.json'))
a, m, d = t1 - t0, t2 - t1, t4 - t3
print(f"seed corpus: arioso {92/a:.0f} files/s, {j['tokens']/a:.0f} tokens/s; m21v5_tokens.py {92/m:.1f} files/s; ratio {m/a:.1f}x")
print(f"default corpus (remi): {84/d:.0f} files/s, {k['tokens']/d:.0f} tokens/s")
PY
