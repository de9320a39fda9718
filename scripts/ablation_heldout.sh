#!/usr/bin/env bash
# Score every finished augmentation-ablation run (runs/ablation/<variant>_s<seed>/model.pt, made by
# scripts/augmentation_ablations.sh) on the validation mixtures in held-out 0 A.D. noise
# (`make data-noise-bank` first) with benchmarks/peers.py, RNNoise beside them for reference;
# chapter 5 reads the result (sedemo.evaluation.ablations.HELDOUT_FILE). Validation only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-peers/bin/python}
OUT=${OUT:-sedemo/results/peers/ablations-bank-valid.json}
args=()
# the finished runs: those collected into sedemo/results/training/ablation/
for log in sedemo/results/training/ablation/*_s*.log.jsonl; do
  [ -f "$log" ] || continue
  name=$(basename "$log" .log.jsonl)
  model=runs/ablation/$name/model.pt
  [ -f "$model" ] || { echo "no $model (the run's weights); rerun scripts/augmentation_ablations.sh" >&2; exit 2; }
  args+=(--model "$name=$model")
done
if [ ${#args[@]} -eq 0 ]; then
  echo "no finished ablation run stored; run scripts/augmentation_ablations.sh first" >&2
  exit 2
fi
$PY benchmarks/peers.py --corpus data/noise-bank-valid --split valid --no-cost --systems rnnoise \
  "${args[@]}" --out "$OUT"
