#!/usr/bin/env bash
# Score every finished augmentation-ablation run (runs/ablation/<variant>_s<seed>/model.pt, made by
# scripts/augmentation_ablations.sh) on the validation mixtures in held-out 0 A.D. noise
# (`make data-noise-bank` first) with benchmarks/peers.py, RNNoise beside them for reference;
# chapter 5 reads the result (sedemo.evaluation.ablations.HELDOUT_FILE). Validation only.
# Runs already in that file are kept, not rescored (peers.py --add-to: the same mixtures, the
# noisy scores checked); only the runs it lacks need their weights. FULL=1 rescores every run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-peers/bin/python}
OUT=${OUT:-sedemo/results/peers/ablations-bank-valid.json}
args=()
stored=""
if [ "${FULL:-0}" != 1 ] && [ -f "$OUT" ]; then
  stored=$($PY -c "import json, sys; print(' '.join(json.load(open(sys.argv[1]))['systems']))" "$OUT")
fi
# the finished runs: those collected into sedemo/results/training/ablation/
for log in sedemo/results/training/ablation/*_s*.log.jsonl; do
  [ -f "$log" ] || continue
  name=$(basename "$log" .log.jsonl)
  case " $stored " in *" $name "*) continue ;; esac
  model=runs/ablation/$name/model.pt
  [ -f "$model" ] || { echo "no $model (the run's weights); rerun scripts/augmentation_ablations.sh" >&2; exit 2; }
  args+=(--model "$name=$model")
done
if [ ${#args[@]} -eq 0 ]; then
  if [ -n "$stored" ]; then echo "every finished run is already in $OUT"; exit 0; fi
  echo "no finished ablation run stored; run scripts/augmentation_ablations.sh first" >&2
  exit 2
fi
# a new file scores RNNoise beside the runs; a stored one already holds it
if [ -n "$stored" ]; then mode=(--add-to "$OUT"); else mode=(--systems rnnoise); fi
$PY benchmarks/peers.py --corpus data/noise-bank-valid --split valid --no-cost "${mode[@]}" \
  "${args[@]}" --out "$OUT"
