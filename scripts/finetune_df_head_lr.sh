#!/usr/bin/env bash
# Chapter 5, "A deep filter on the low bins": the 4-tap deep filter grown on ulcrn_hp with a
# ten times larger learning rate for its new head (--lr-mult df_head=10, 3e-3 at the start of
# the cosine instead of 3e-4). Everything else is ulcrn_df's run (scripts/train_models.sh
# ulcrn_df: init, loss, data seed, augmentation, 2000 steps), so ulcrn_df is its control: the
# two runs differ only in the head's learning rate. It answers whether the taps of ulcrn_df
# stayed at zero because their head learned too slowly. About 40 minutes on one thread;
# resumable (runs/finetune/ulcrn_dfhl/checkpoint.pt). Scored with RNNoise and its control on
# both validation sets, in files of their own (a diagnostic, not a candidate for the default):
#   .venv-peers/bin/python benchmarks/peers.py --corpus data/corpus-extended --split valid --no-cost \
#     --systems rnnoise --model ulcrn_df=sedemo/pretrained/ulcrn_df.pt \
#     --model ulcrn_dfhl=runs/finetune/ulcrn_dfhl/model.pt --out sedemo/results/peers/peers-dfhl-valid.json
# and the same with --corpus data/noise-bank-valid --out sedemo/results/peers/peers-dfhl-bank-valid.json.
# Its log, config and model.pt are kept in sedemo/results/training/ (ulcrn_dfhl.*), with
# ulcrn_dfhl_step400.pt: the same command rerun to step 400 (the run is deterministic: its
# losses match the log to the last digit) and that step's checkpoint saved with
# sedemo.models.save, on which chapter 5 measures the taps half-grown.
# Measured (validation, both sets pooled, 160 mixtures): the taps grew (2.1 % of the low bins'
# output at step 400, the curves dipping) and were trained back to 0.07 % by the end; minus
# ulcrn_df: PESQ-WB -0.020 (resolved), STOI +0.000, SI-SDR -0.07 dB.
# (To be folded into train_models.sh as a case once the ulcrn_df16k run, which reads that
# script as it goes, has finished.)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEVICE=${DEVICE:-cpu}
$PY -m sedemo.train --model ulcrn --set df_order=4 --lr-mult df_head=10 \
  --loss si_sdr+compressed+stoi --loss-opt stoi_weight=40 \
  --steps 2000 --lr 3e-4 --lr-schedule cosine --seed 11 --threads 1 --device "$DEVICE" \
  --valid-every 500 --ckpt-every 200 --n-valid 32 --valid-pesq 32 \
  --corpus data/corpus-extended --dynamic-mix --speed-perturb 0.1 --snr-range -5 20 \
  --level-range -40 -10 --channel 0.5 \
  --noise-bank data/noise-bank data/noise-bank-extra data/noise-bank-nature --noise-bank-p 0.8 \
  --noise-eq 0.3 --tones 0.2 --calls 0.3 --speech-highpass 70 \
  --init-from sedemo/pretrained/ulcrn_hp.pt --resume auto --no-progress --out runs/finetune/ulcrn_dfhl
