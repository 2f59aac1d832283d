#!/usr/bin/env bash
# The Transformer's training and generation speed against the same model in Python PyTorch
# (bench/transformer_speed.py), alternated twice in one run (these machines are noisy).
#   bench/transformer_vs_python.sh [threads] [batch] [window] [steps]
# Prints each run's line and the best of each side with their ratio.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
threads="${1:-2}"; B="${2:-8}"; T="${3:-1024}"; steps="${4:-3}"
V=325  # the default tokenizer's vocabulary (REMI with compact notes and keys)
ours_train=0; ours_gen=0; py_train=0; py_gen=0
max() { python3 -c "print(max($1, $2))"; }
for round in 1 2; do
  line=$("$here/build/bench/model_bench" transformer small $V "$threads" "$B" "$T" "$steps")
  echo "$line"
  ours_train=$(max "$ours_train" "$(sed -E 's/.*train ([0-9]+) tokens.*/\1/' <<<"$line")")
  ours_gen=$(max "$ours_gen" "$(sed -E 's/.*generate ([0-9]+) tokens.*/\1/' <<<"$line")")
  line=$(/usr/bin/python3 "$here/bench/transformer_speed.py" $V "$B" "$T" "$steps" "$threads")
  echo "$line"
  py_train=$(max "$py_train" "$(sed -E 's/.*train ([0-9]+) tokens.*/\1/' <<<"$line")")
  py_gen=$(max "$py_gen" "$(sed -E 's/.*generate ([0-9]+) tokens.*/\1/' <<<"$line")")
done
python3 -c "print(f'best of two: train {$ours_train} vs {$py_train} tokens/s ({$ours_train/$py_train:.2f}x), generate {$ours_gen} vs {$py_gen} tokens/s ({$ours_gen/$py_gen:.2f}x)')"
