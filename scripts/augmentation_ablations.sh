#!/usr/bin/env bash
# The augmentation ablations of chapter 5: the ULCRN trained with the recipe of
# `scripts/train_models.sh ulcrn`, once with everything on and once with each switch turned
# off (or, for the room simulation, turned on), at one budget, on the extended corpus
# (`make data-extended` first). Selection and reporting use the validation split only; the
# runs' logs (validation PESQ and SI-SDR every 500 steps) are the measurement.
#
#   bash scripts/augmentation_ablations.sh              # every variant, seed 0
#   SEEDS="0 1 2" bash scripts/augmentation_ablations.sh full no_speed
#
# Runs resume (runs/ablation/<variant>_s<seed>); a finished run is not trained again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-4000}
SEEDS=${SEEDS:-0}
THREADS=${THREADS:-1}

# the full recipe, one flag group per switch
SNR="--snr-range -5 20"
SPEED="--speed-perturb 0.1"
CHANNEL="--channel 0.5"
LEVEL="--level-range -40 -10"

variant_args() {
  case "$1" in
    full)       echo "$SNR $SPEED $CHANNEL $LEVEL" ;;
    no_snr)     echo "$SPEED $CHANNEL $LEVEL" ;;      # the corpus's noise at its own SNR +-5 dB
    no_speed)   echo "$SNR $CHANNEL $LEVEL" ;;
    no_channel) echo "$SNR $SPEED $LEVEL" ;;
    no_level)   echo "$SNR $SPEED $CHANNEL" ;;
    reverb)     echo "$SNR $SPEED $CHANNEL $LEVEL --reverb 0.5" ;;
    none)       echo "" ;;                            # dynamic mixing only
    *) echo "unknown variant $1; choose one of: full no_snr no_speed no_channel no_level reverb none" >&2; return 2 ;;
  esac
}

for variant in "${@:-full no_snr no_speed no_channel no_level reverb none}"; do
  for v in $variant; do
    args=$(variant_args "$v")
    for seed in $SEEDS; do
      # shellcheck disable=SC2086
      $PY -m sedemo.train --model ulcrn --corpus data/corpus-extended --loss si_sdr+compressed \
        --dynamic-mix --steps "$STEPS" --threads "$THREADS" --seed "$seed" \
        --ckpt-every 200 --valid-every 500 --n-valid 32 --valid-pesq 32 \
        --out "runs/ablation/${v}_s${seed}" --resume auto --no-progress $args
    done
  done
done

# finished runs -> sedemo/results/training/ablation/ (what chapter 5 reads; unfinished runs stay out)
$PY -c "from sedemo.evaluation import ablations; print('stored:', ', '.join(ablations.collect()) or 'none')"
