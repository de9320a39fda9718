"""Train the book's models: ``python -m sedemo.train --model gcrn --steps N ...``.

Used by chapter 3 (a short demo training of the LSTM mask estimator, claim C9),
chapter 5 (CRN/GCRN variants, claims C10-C11) and chapter 6 (losses, C1-C8); the
checkpoints in ``sedemo/pretrained/`` are written with ``--export``.

What it does, step by step:

* **data**: clean/noisy pairs of the book's corpus (:func:`sedemo.data.load_corpus`;
  the train split is loaded into memory once), or any list of ``(clean, noisy)``
  arrays passed to :func:`train`. Each batch draws ``batch_size`` random items and a
  random crop of ``segment`` seconds from each (shorter items are zero-padded).
  ``dynamic_mix=True`` re-mixes on the fly: the clean crop of one item plus the
  noise (``noisy - clean``) of another random item, scaled by a random gain of
  ±5 dB (new mixtures every step; the SNR range widens by ±5 dB).
  ``speed_perturb`` also plays each clean crop at a random speed (0.9-1.1 for 0.1),
  which shifts pitch and formants: more voices from few training speakers.
* **loss**: any name of :data:`sedemo.losses.LOSSES` (through
  :func:`sedemo.losses.get_loss`, options from ``loss_options``), plus the short
  aliases of :data:`LOSS_ALIASES` (``compressed``, ``mse_spec``) and ``mag_phase``
  (:func:`mag_phase_loss`, for direct phase regression). Waveform losses get
  ``istft`` of the model output; spectrum losses the output STFT; mask losses
  (``ma``, ``sa``, ``psa``, ``csa``) the model's mask (masking models only; ``ma``
  compares with the oracle mask ``mask_target`` of :mod:`sedemo.masks`).
  A time-domain model (``--model tcn``, ``model.domain == "time"``) gets the noisy
  waveform and trains with waveform losses only (:func:`waveform_losses`: ``mae``,
  ``mse``, ``si_sdr``, STFT losses computed from the waveforms, ...); a mask,
  spectrum-input or phase loss raises ``ValueError`` naming the valid ones.
* **optimisation**: Adam, gradient-norm clipping, constant or cosine learning rate.
* **bookkeeping**: seeded (torch, NumPy, Python); a tqdm progress bar; validation
  every ``valid_every`` steps on ``n_valid`` fixed valid items (loss, SI-SDR of the
  enhanced and the noisy signal, SI-SDR improvement, optionally PESQ on
  ``valid_pesq`` items); a checkpoint every ``ckpt_every`` steps and at the end
  (model, optimizer, scheduler, step, RNG states) that ``resume`` continues
  *exactly* (same parameters as an uninterrupted run, tested); a JSON-lines log
  ``log.jsonl`` (one record per line: ``step``, ``kind`` = ``"train"`` or
  ``"valid"``, ``train_loss`` or the ``valid_*`` metrics, ``lr``, ``seconds``) that
  :func:`read_log` reads back for plots; ``model.pt`` (:func:`sedemo.models.save`)
  at the end, copied to ``export`` if given.

Files in ``out``: ``config.json``, ``log.jsonl``, ``checkpoint.pt``, ``model.pt``, each
written atomically (a temporary file renamed on success, so a crash leaves the previous
version whole and the run resumes to the same result). Nothing is lost by accident: a
folder that holds a run is refused unless ``resume`` (which refuses a checkpoint of
another configuration, naming the fields, unless ``resume_anyway``; the fields that may
change are :data:`RESUME_MAY_CHANGE`), ``resume="auto"`` or ``overwrite`` (which
replaces those four files and nothing else); ``resume`` with no checkpoint is an error.
The command prints every user error as one line ``error: <what>; <what to do>`` (exit
status 2; ``--debug`` shows the traceback).
"""
from __future__ import annotations

from sedemo.train.batches import highpass_response, load_pairs, sample_batch, speed_factors
from sedemo.train.cli import main
from sedemo.train.config import RESUME_MAY_CHANGE, TrainConfig
from sedemo.train.loop import chain_logs, param_groups, read_log, stored_log, stored_log_path, train
from sedemo.train.objectives import LOSS_ALIASES, available_losses, mag_phase_loss, make_loss, waveform_losses

__all__ = [
    "TrainConfig", "train", "load_pairs", "sample_batch", "speed_factors", "highpass_response", "make_loss", "mag_phase_loss",
    "LOSS_ALIASES", "available_losses", "waveform_losses", "read_log", "stored_log", "stored_log_path", "chain_logs", "param_groups", "main",
    "RESUME_MAY_CHANGE",
]
