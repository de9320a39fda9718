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

Files in ``out``: ``config.json``, ``log.jsonl``, ``checkpoint.pt``, ``model.pt``.
"""
from __future__ import annotations

import argparse
import ast
import json
import math
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import models as M
from .stft import istft, stft

__all__ = [
    "TrainConfig", "train", "load_pairs", "sample_batch", "speed_factors", "make_loss", "mag_phase_loss",
    "LOSS_ALIASES", "available_losses", "waveform_losses", "read_log", "chain_logs", "main",
]

_CKPT_FORMAT = "sedemo-train-checkpoint"


@dataclass
class TrainConfig:
    """Everything a training run needs (``python -m sedemo.train --help`` lists the same).

    ``model``/``model_overrides``/``tiny``: what :func:`sedemo.models.build_model`
    builds. ``loss``/``loss_options``/``mask_target``: see :func:`make_loss`.
    ``steps``, ``batch_size``, ``segment`` (seconds), ``lr``, ``lr_schedule``
    (``"constant"`` or ``"cosine"`` to ``0.05*lr`` at ``steps``; with ``"cosine"``
    resume with the same ``steps``), ``decay_start`` (the cosine starts here; before
    it the rate is constant, so a constant run resumed with ``--lr-schedule cosine
    --decay-start STEP`` is the same run as one trained so from scratch),
    ``warmup`` (linear warm-up steps),
    ``grad_clip`` (max gradient norm, 0: off), ``weight_decay``, ``seed``,
    ``threads`` (``torch.set_num_threads`` during the run; None: unchanged),
    ``device`` (``"cpu"``, ``"cuda"`` or ``"auto"``), ``valid_every``,
    ``ckpt_every``, ``log_every`` (steps per train-loss record), ``n_valid`` (fixed
    valid items), ``valid_seconds`` (crop of each valid item, None: whole),
    ``valid_pesq`` (items that also get PESQ), ``out`` (folder; ``{model}`` is
    replaced), ``resume`` (continue from ``out/checkpoint.pt``), ``corpus`` (corpus
    root, None: the default), ``max_train_items``, ``dynamic_mix``, ``speed_perturb``
    (random speed of each clean crop, see :func:`sample_batch`), ``export``
    (also write the final model there), ``progress`` (tqdm bar), ``init_from`` (a
    model file of :func:`sedemo.models.save` or a training checkpoint whose weights
    start this run: fine-tuning with a fresh optimizer and schedule; the source's
    training command is kept in the result's metadata so the chain stays
    reproducible; ignored when ``resume`` finds a checkpoint).
    """

    model: str = "gcrn"
    model_overrides: dict = field(default_factory=dict)
    tiny: bool = False
    loss: str = "compressed"
    loss_options: dict = field(default_factory=dict)
    mask_target: str = "IRM"
    steps: int = 2000
    batch_size: int = 8
    segment: float = 2.0
    lr: float = 1e-3
    lr_schedule: str = "constant"
    decay_start: int = 0
    warmup: int = 0
    grad_clip: float = 5.0
    weight_decay: float = 0.0
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    valid_every: int = 250
    ckpt_every: int = 250
    log_every: int = 10
    n_valid: int = 8
    valid_seconds: float | None = 4.0
    valid_pesq: int = 0
    out: str = "runs/{model}"
    resume: bool = False
    corpus: str | None = None
    max_train_items: int | None = None
    dynamic_mix: bool = False
    speed_perturb: float = 0.0
    export: str | None = None
    progress: bool = True
    init_from: str | None = None

    def __post_init__(self):
        if self.model not in M.MODELS:
            raise ValueError(f"unknown model {self.model!r}; valid names: {', '.join(M.MODELS)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if not 0 <= self.decay_start < self.steps:
            raise ValueError(f"decay_start must be in [0, steps={self.steps}), got {self.decay_start}")
        for k in ("steps", "batch_size", "valid_every", "ckpt_every", "log_every"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.segment <= 0:
            raise ValueError(f"segment must be > 0 seconds, got {self.segment}")
        speed_factors(self.speed_perturb)  # raises on a value outside [0, 0.5)

    @property
    def out_dir(self) -> Path:
        return Path(self.out.format(model=self.model))

    def command(self) -> str:
        """The equivalent ``python -m sedemo.train ...`` command line (non-default fields)."""
        default = TrainConfig(model=self.model)
        args = ["python", "-m", "sedemo.train", "--model", self.model]
        for f in fields(self):
            v, d = getattr(self, f.name), getattr(default, f.name)
            if f.name == "model" or v == d:
                continue
            flag = "--" + f.name.replace("_", "-")
            if f.name in ("model_overrides", "loss_options"):
                opt = "--set" if f.name == "model_overrides" else "--loss-opt"
                for k, val in v.items():
                    args += [opt, f"{k}={val!r}"]
            elif isinstance(v, bool):
                args.append(flag if v else "--no-" + f.name.replace("_", "-"))
            else:
                args += [flag, str(v)]
        return " ".join(shlex.quote(a) for a in args)


# --------------------------------------------------------------------------- data
Pair = tuple  # (clean, noisy) float32 arrays of equal length


def load_pairs(split: str, root=None, max_items: int | None = None, progress: bool = False) -> list:
    """Load the ``(clean, noisy)`` float32 pairs of a corpus split into memory.

    ``root``: the corpus folder (None: :func:`sedemo.data.default_root`). The
    800 training mixtures of the book's corpus take about 0.4 GB.
    """
    from . import data

    items = data.load_corpus(root).items(split)
    if max_items is not None:
        items = items[:max_items]
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=f"load {split}", leave=False)
    return [tuple(np.asarray(x, dtype=np.float32) for x in it.load()) for it in items]


def _check_pairs(pairs, what: str) -> list:
    out = []
    for i, p in enumerate(pairs):
        if len(p) != 2:
            raise ValueError(f"{what}[{i}] must be a (clean, noisy) pair")
        c, n = (np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
                for x in p)
        if c.ndim != 1 or c.shape != n.shape:
            raise ValueError(f"{what}[{i}]: clean {c.shape} and noisy {n.shape} must be 1-D of equal length")
        out.append((c, n))
    if not out:
        raise ValueError(f"{what} is empty")
    return out


def _crop(x: np.ndarray, start: int, length: int) -> np.ndarray:
    seg = x[start:start + length]
    return np.pad(seg, (0, length - len(seg))) if len(seg) < length else seg


def speed_factors(speed_perturb: float) -> list[float]:
    """The speed factors ``k/20`` within ``[1 - speed_perturb, 1 + speed_perturb]``.

    ``speed_perturb=0.1`` gives ``[0.9, 0.95, 1.0, 1.05, 1.1]`` (the 0.9/1.0/1.1 speed
    perturbation of Ko et al., 2015, "Audio augmentation for speech recognition", on a
    finer grid). Used by :func:`sample_batch`; chapter 5 (training the GCRN).
    """
    if not 0.0 <= speed_perturb < 0.5:
        raise ValueError(f"speed_perturb must be in [0, 0.5), got {speed_perturb}")
    lo, hi = int(np.ceil(20 * (1 - speed_perturb) - 1e-9)), int(np.floor(20 * (1 + speed_perturb) + 1e-9))
    return [k / 20 for k in range(lo, hi + 1)]


def _speed_crop(c: np.ndarray, rng: np.random.Generator, length: int, factor: float) -> np.ndarray:
    """A random crop of ``c`` played ``factor`` times faster: ``ceil(length*factor)``
    samples resampled by ``20/round(20*factor)`` (polyphase, :func:`sedemo.audio.resample`
    from a nominal rate ``round(20*factor)`` to 20), so pitch, formants and tempo all scale
    by ``factor``. Returns ``length`` samples."""
    from .audio import resample

    down = int(round(20 * factor))
    n_read = int(np.ceil(length * down / 20))
    start = int(rng.integers(0, max(1, len(c) - n_read + 1)))
    seg = _crop(c, start, n_read)
    if down != 20:
        seg = resample(seg, down, 20)
    return _crop(seg, 0, length)


def sample_batch(pairs: Sequence[Pair], rng: np.random.Generator, batch_size: int, length: int,
                 dynamic_mix: bool = False, speed_perturb: float = 0.0):
    """A random batch: ``(clean, noisy)`` float32 arrays ``(batch_size, length)``.

    Each row: a random item, a random crop of ``length`` samples (zero-padded when
    the item is shorter). With ``dynamic_mix`` the noise (``noisy - clean``) of
    another random item, randomly cropped and scaled by ``U(-5, 5)`` dB, replaces
    the item's own noise. With ``speed_perturb > 0`` (e.g. 0.1) each clean crop is
    also played at a random speed of :func:`speed_factors` (pitch, formants and
    tempo change together: new voices from few training speakers) and the noise is
    added unchanged, so ``noisy - clean`` is always a crop of real noise. Only
    ``rng`` is used, so the batches are reproducible; ``speed_perturb=0`` draws
    exactly the batches of earlier versions.
    """
    factors = speed_factors(speed_perturb) if speed_perturb else None
    clean = np.zeros((batch_size, length), np.float32)
    noisy = np.zeros((batch_size, length), np.float32)
    for b in range(batch_size):
        c, n = pairs[int(rng.integers(len(pairs)))]
        start = int(rng.integers(0, max(1, len(c) - length + 1)))
        if factors is None:
            clean[b] = _crop(c, start, length)
        else:
            clean[b] = _speed_crop(c, rng, length, factors[int(rng.integers(len(factors)))])
        if dynamic_mix:
            c2, n2 = pairs[int(rng.integers(len(pairs)))]
            s2 = int(rng.integers(0, max(1, len(c2) - length + 1)))
            gain = 10.0 ** (rng.uniform(-5.0, 5.0) / 20.0)
            noisy[b] = clean[b] + gain * (_crop(n2, s2, length) - _crop(c2, s2, length))
        elif factors is None:
            noisy[b] = _crop(n, start, length)
        else:
            noisy[b] = clean[b] + (_crop(n, start, length) - _crop(c, start, length))
    return clean, noisy


# --------------------------------------------------------------------------- losses
#: Short names -> (name in sedemo.losses.LOSSES, options).
LOSS_ALIASES = {
    "compressed": ("compressed_complex_from_spectra", {}),
    "mse_spec": ("spectral_from_spectra", {"p": 2, "domain": "complex"}),
}


def mag_phase_loss(*, magnitude, phase, clean_spec, compress: float = 0.3, phase_weight: float = 1.0):
    """Loss for direct magnitude + phase regression (``gcrn_magphase``, claim C10).

    ``mean (m̂ − |S|^c)² + phase_weight · Σ |S|^c (1 − cos(φ̂ − θ_S)) / Σ |S|^c``:
    the compressed-magnitude MSE plus a wrapped phase error (``1 − cos`` is
    periodic, so ``φ̂`` and ``φ̂ + 2π`` cost the same), weighted by the clean
    compressed magnitude so that the phase of silent bins, which is meaningless,
    does not count. Per-batch scalar.
    """
    mag_s = clean_spec.abs().pow(compress)
    mag_term = (magnitude - mag_s).square().mean()
    phase_err = 1.0 - torch.cos(phase - torch.angle(clean_spec))
    phase_term = (mag_s * phase_err).sum() / mag_s.sum().clamp_min(1e-8)
    return mag_term + phase_weight * phase_term


def _fallback_losses() -> dict:
    """Minimal losses used only when :mod:`sedemo.losses` cannot be imported."""
    def compressed(*, estimate_spec, reference_spec, c=0.3, lam=0.3, eps=1e-12):
        def comp(x):
            return x * (x.real.square() + x.imag.square() + eps).pow((c - 1) / 2)
        e, r = comp(estimate_spec), comp(reference_spec)
        d = e - r
        return (lam * (d.real.square() + d.imag.square()).mean()
                + (1 - lam) * (e.abs() - r.abs()).square().mean())

    def spectral(*, estimate_spec, reference_spec, p=2, domain="complex"):
        d = estimate_spec - reference_spec
        return (d.real.abs().pow(p) + d.imag.abs().pow(p)).mean()

    def si_sdr(*, estimate, reference, eps=1e-8):
        e = estimate - estimate.mean(-1, keepdim=True)
        r = reference - reference.mean(-1, keepdim=True)
        a = (e * r).sum(-1, keepdim=True) / (r.square().sum(-1, keepdim=True) + eps)
        t = a * r
        return (-10 * torch.log10((t.square().sum(-1) + eps) / ((t - e).square().sum(-1) + eps))).mean()

    return {
        "compressed_complex_from_spectra": (compressed, ("estimate_spec", "reference_spec")),
        "spectral_from_spectra": (spectral, ("estimate_spec", "reference_spec")),
        "si_sdr": (si_sdr, ("estimate", "reference")),
    }


def _registry():
    """``(name -> (function, inputs), source)`` from sedemo.losses or the fallback."""
    try:
        from . import losses as L

        return {k: (L.LOSSES[k], L.LOSS_INPUTS[k]) for k in L.LOSSES}, L.get_loss
    except Exception:  # pragma: no cover - only when losses.py is missing or broken
        return _fallback_losses(), None


def available_losses() -> list[str]:
    """Names accepted by :func:`make_loss` / ``--loss``."""
    reg, _ = _registry()
    return sorted(set(reg) | set(LOSS_ALIASES) | {"mag_phase"})


def make_loss(name: str, options: dict | None = None, mask_target: str = "IRM",
              model: torch.nn.Module | None = None) -> Callable:
    """A training loss ``fn(out, batch) -> scalar`` for the loss called ``name``.

    ``out`` is ``model.estimate(noisy_spec)`` (dict with ``"spec"``, maybe ``"mask"``,
    ``"magnitude"``, ``"phase"``); ``batch`` a dict with ``clean``, ``noisy``
    ``(B, L)`` waveforms, their STFTs ``clean_spec``, ``noisy_spec`` and ``cfg``.
    ``name``: a :data:`sedemo.losses.LOSSES` name (options bound by
    :func:`sedemo.losses.get_loss`), an alias of :data:`LOSS_ALIASES` or
    ``"mag_phase"``. ``mask_target``: the oracle mask of :data:`sedemo.masks.ORACLE_MASKS`
    compared by ``"ma"``. Raises ``ValueError`` for an unknown name and for a
    mask loss with a model that predicts no mask.
    """
    options = dict(options or {})
    if model is not None and getattr(model, "domain", "spectral") == "time":
        return _time_domain_loss(name, options, model)
    if name == "mag_phase":
        if model is not None and getattr(model.config, "target", None) != "mag_phase":
            raise ValueError("loss 'mag_phase' needs a model that predicts magnitude and phase "
                             "(gcrn_magphase)")
        c = getattr(model.config, "compress", 0.3) if model is not None else 0.3

        def fn_mp(out, batch):
            return mag_phase_loss(magnitude=out["magnitude"], phase=out["phase"],
                                  clean_spec=batch["clean_spec"], compress=c, **options)
        return fn_mp
    reg, get_loss = _registry()
    real = name
    if name in LOSS_ALIASES:
        real, alias_opts = LOSS_ALIASES[name]
        options = {**alias_opts, **options}
    if real not in reg:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(available_losses())}")
    fn, inputs = reg[real]
    if get_loss is not None:
        fn = get_loss(real, **options)
    elif options:
        import functools

        fn = functools.partial(fn, **options)
    inputs = tuple(inputs)
    if inputs[0] == "mask_estimate" and model is not None and getattr(model.config, "output", None) != "mask":
        raise ValueError(f"loss {name!r} compares masks, but model {getattr(model, 'name', '')!r} "
                         "predicts no mask; use lstm_mask or a spectrum/waveform loss")
    if inputs == ("estimate", "reference"):
        def fn_wave(out, batch):
            est = istft(out["spec"], batch["cfg"], length=batch["clean"].shape[-1])
            return fn(estimate=est, reference=batch["clean"])
        return fn_wave
    if inputs == ("estimate_spec", "reference_spec"):
        return lambda out, batch: fn(estimate_spec=out["spec"], reference_spec=batch["clean_spec"])
    if inputs == ("mask_estimate", "mixture", "clean"):
        return lambda out, batch: fn(mask_estimate=out["mask"], mixture=batch["noisy_spec"],
                                     clean=batch["clean_spec"])
    if inputs == ("mask_estimate", "mask_target"):
        from . import masks

        if mask_target not in masks.ORACLE_MASKS:
            raise ValueError(f"mask_target must be one of {list(masks.ORACLE_MASKS)}, got {mask_target!r}")

        def fn_ma(out, batch):
            with torch.no_grad():
                target = masks.oracle_mask(mask_target, clean=batch["clean_spec"], mixture=batch["noisy_spec"])
            return fn(mask_estimate=out["mask"], mask_target=target)
        return fn_ma
    raise ValueError(f"loss {name!r} takes inputs {inputs} that the trainer cannot provide")


def waveform_losses() -> list[str]:
    """The loss names a time-domain model (``model.domain == "time"``) trains with: those
    whose inputs are waveforms ``estimate=``/``reference=`` (``mse``, ``mae``, ``si_sdr``, the
    STFT losses computed from waveforms, ...)."""
    reg, _ = _registry()
    return sorted(n for n, (_, inputs) in reg.items() if tuple(inputs) == ("estimate", "reference"))


def _time_domain_loss(name: str, options: dict, model) -> Callable:
    """``fn(out, batch)`` for a time-domain model: the loss gets ``out["wave"]`` and the clean
    waveform. Mask, spectrum-input and phase losses raise ``ValueError`` naming the valid ones."""
    reg, get_loss = _registry()
    valid = waveform_losses()
    who = getattr(model, "name", "") or type(model).__name__
    real = LOSS_ALIASES[name][0] if name in LOSS_ALIASES else name
    if name != "mag_phase" and real not in reg:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(available_losses())}")
    if name == "mag_phase" or tuple(reg[real][1]) != ("estimate", "reference"):
        raise ValueError(
            f"loss {name!r} needs a spectral model's output (mask, STFT or phase), but model "
            f"{who!r} is time-domain (it outputs waveforms). Valid losses for a time-domain "
            f"model: {', '.join(valid)}")
    fn = reg[real][0]
    if name in LOSS_ALIASES:
        options = {**LOSS_ALIASES[name][1], **options}
    if get_loss is not None:
        fn = get_loss(real, **options)
    elif options:
        import functools

        fn = functools.partial(fn, **options)

    def fn_time(out, batch):
        return fn(estimate=out["wave"], reference=batch["clean"])
    return fn_time


def _model_input(model, batch: dict):
    """What ``model.estimate`` takes: the noisy waveform (time-domain model) or its STFT."""
    return batch["noisy"] if getattr(model, "domain", "spectral") == "time" else batch["noisy_spec"]


def _estimate_wave(model, out: dict, scfg, length: int):
    """The enhanced waveform of ``model.estimate``'s output."""
    if getattr(model, "domain", "spectral") == "time":
        return out["wave"]
    return istft(out["spec"], scfg, length=length)


# --------------------------------------------------------------------------- helpers
def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but torch sees no CUDA device; use --device cpu")
    return torch.device(name)


def _lr_lambda(cfg: TrainConfig):
    def f(step):  # step = number of optimizer steps done
        w = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else 1.0
        if cfg.lr_schedule == "cosine":
            p = min(1.0, max(0, step - cfg.decay_start) / max(1, cfg.steps - cfg.decay_start))
            return w * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))
        return w
    return f


def _valid_set(pairs, n: int, seconds: float | None, sr: int):
    if not pairs or n <= 0:
        return []
    idx = sorted({int(round(i)) for i in np.linspace(0, len(pairs) - 1, min(n, len(pairs)))})
    keep = None if seconds is None else int(seconds * sr)
    return [(pairs[i][0][:keep], pairs[i][1][:keep]) for i in idx]


def _validate(model, loss_fn, vset, cfg: TrainConfig, device) -> dict:
    from . import metrics

    scfg = model.stft_config
    was = model.training
    model.eval()
    losses, sdr, sdr_in, pesq, pesq_in = [], [], [], [], []
    try:
        with torch.no_grad():
            for i, (c, n) in enumerate(vset):
                ct = torch.from_numpy(c)[None].to(device)
                nt = torch.from_numpy(n)[None].to(device)
                batch = _batch_dict(ct, nt, scfg)
                out = model.estimate(_model_input(model, batch))
                losses.append(float(loss_fn(out, batch)))
                est = _estimate_wave(model, out, scfg, ct.shape[-1])[0].double().cpu().numpy()
                sdr.append(metrics.si_sdr(estimate=est, reference=c))
                sdr_in.append(metrics.si_sdr(estimate=n, reference=c))
                if i < cfg.valid_pesq:
                    try:
                        pesq.append(metrics.pesq(estimate=est, reference=c, sample_rate=scfg.sample_rate))
                        pesq_in.append(metrics.pesq(estimate=n, reference=c, sample_rate=scfg.sample_rate))
                    except Exception:  # noqa: BLE001 - PESQ refuses some signals (no speech)
                        pass
    finally:
        model.train(was)
    res = {"valid_loss": float(np.mean(losses)), "valid_si_sdr": float(np.mean(sdr)),
           "valid_si_sdr_noisy": float(np.mean(sdr_in))}
    res["valid_si_sdri"] = res["valid_si_sdr"] - res["valid_si_sdr_noisy"]
    if pesq:
        res["valid_pesq"] = float(np.mean(pesq))
        res["valid_pesq_noisy"] = float(np.mean(pesq_in))
    return res


def _batch_dict(clean: torch.Tensor, noisy: torch.Tensor, scfg) -> dict:
    return {"clean": clean, "noisy": noisy, "clean_spec": stft(clean, scfg),
            "noisy_spec": stft(noisy, scfg), "cfg": scfg}


def _rng_state(rng: np.random.Generator) -> dict:
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
            "python": list(random.getstate()[1]) , "python_version": random.getstate()[0],
            "python_gauss": random.getstate()[2]}


def _set_rng_state(rng: np.random.Generator, st: dict) -> None:
    rng.bit_generator.state = st["numpy"]
    torch.set_rng_state(st["torch"])
    random.setstate((st["python_version"], tuple(st["python"]), st["python_gauss"]))


def _save_checkpoint(path: Path, model, opt, sched, step, rng, seconds, cfg, last_valid, init=None):
    extra = {"step": step, "train_config": asdict(cfg), "command": cfg.command(), "valid": last_valid}
    if init:
        extra["init"] = init
    ck = {
        "format": _CKPT_FORMAT,
        "model": M.model_payload(model, extra),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "step": step,
        "seconds": seconds,
        "rng": _rng_state(rng),
        "train_config": M._plain(asdict(cfg)),
        "last_valid": M._plain(last_valid),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(ck, tmp)
    tmp.replace(path)


def _init_weights(model, path, device) -> dict:
    """Copy the weights of the model file or training checkpoint ``path`` into ``model``.

    The source must hold the same model name and configuration. Returns what the
    fine-tuned model records about its start: path, source step, command and, if the
    source was itself fine-tuned, its own ``init`` (the whole chain)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"init_from: {path} does not exist; train the first stage first "
                                "(see scripts/train_models.sh)")
    src = M.load(path, map_location=device)
    if src.name != model.name or asdict(src.config) != asdict(model.config):
        raise ValueError(f"init_from: {path} holds a {src.name!r} model with config {asdict(src.config)}, "
                         f"which does not match {model.name!r} with {asdict(model.config)}")
    model.load_state_dict(src.state_dict())
    model.train()
    ex = getattr(src, "extra", {}) or {}
    info = {"path": str(path), "step": ex.get("step"), "command": ex.get("command")}
    if ex.get("init"):
        info["init"] = ex["init"]
    return info


def read_log(path) -> list[dict]:
    """The records of a ``log.jsonl`` (a run folder or the file itself), in order."""
    path = Path(path)
    if path.is_dir():
        path = path / "log.jsonl"
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _truncate_log(path: Path, step: int) -> None:
    if not path.exists():
        return
    _write_log(path, [r for r in read_log(path) if r.get("step", 0) <= step])


def _write_log(path, records) -> None:
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in records))


def chain_logs(runs: Sequence, out=None) -> list[dict]:
    """One log for a model trained in stages (each stage started ``init_from`` the last).

    ``runs``: run folders or ``log.jsonl`` files, first stage first. Each stage's
    ``step`` and ``seconds`` are shifted by the previous stages' last values, and every
    record gets ``"stage"`` (1, 2, ...), so a plot shows one curve over the total number
    of steps. Written to ``out`` (a ``.jsonl`` path) when given. Chapter 5 (the GCRN's
    training curve, ``sedemo/pretrained/gcrn.log.jsonl``).
    """
    chained, step0, sec0 = [], 0, 0.0
    for stage, run in enumerate(runs, start=1):
        recs = read_log(run)
        if not recs:
            raise ValueError(f"chain_logs: {run} has no log records")
        for r in recs:
            chained.append({**r, "step": r["step"] + step0, "seconds": round(r.get("seconds", 0.0) + sec0, 3),
                            "stage": stage})
        step0 = chained[-1]["step"]
        sec0 = max(r["seconds"] for r in chained)
    if out is not None:
        _write_log(out, chained)
    return chained


# --------------------------------------------------------------------------- training
def train(config: TrainConfig, train_data: Sequence[Pair] | None = None,
          valid_data: Sequence[Pair] | None = None) -> dict:
    """Train ``config.model`` and return ``{"model", "step", "log", "valid", "out", "seconds"}``.

    ``train_data``/``valid_data``: lists of ``(clean, noisy)`` 1-D arrays (NumPy or
    torch) at the model's sample rate; ``None`` loads the corpus splits
    (``config.corpus``; ``train`` and ``valid``). ``valid_data=[]`` skips validation.
    ``"log"`` is the list of log records, ``"valid"`` the last validation metrics,
    ``"model"`` the trained model (training mode; call ``.eval()``). Files go to
    ``config.out_dir`` (see the module docstring). Chapters 3, 5, 6.
    """
    cfg = config
    old_threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(cfg, train_data, valid_data)
    finally:
        torch.set_num_threads(old_threads)


def _train(cfg: TrainConfig, train_data, valid_data) -> dict:
    from tqdm.auto import tqdm

    device = _device(cfg.device)
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.jsonl"

    train_pairs = _check_pairs(
        train_data if train_data is not None
        else load_pairs("train", cfg.corpus, cfg.max_train_items, cfg.progress), "train_data")
    if valid_data is None:
        valid_data = load_pairs("valid", cfg.corpus, cfg.n_valid * 4, False) if cfg.n_valid else []
    valid_pairs = _check_pairs(valid_data, "valid_data") if len(valid_data) else []

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = M.build_model(cfg.model, tiny=cfg.tiny, **cfg.model_overrides).to(device)
    model.train()
    scfg = model.stft_config
    seg_len = int(round(cfg.segment * scfg.sample_rate))
    loss_fn = make_loss(cfg.loss, cfg.loss_options, cfg.mask_target, model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    vset = _valid_set(valid_pairs, cfg.n_valid, cfg.valid_seconds, scfg.sample_rate)

    step, seconds_before, last_valid = 0, 0.0, {}
    init_info = None
    if cfg.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        if ck.get("format") != _CKPT_FORMAT:
            raise ValueError(f"{ckpt_path} is not a sedemo training checkpoint")
        if ck["model"]["name"] != cfg.model:
            raise ValueError(f"{ckpt_path} holds a {ck['model']['name']!r} model, not {cfg.model!r}")
        model.load_state_dict(ck["model"]["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        _set_rng_state(rng, ck["rng"])
        step, seconds_before, last_valid = int(ck["step"]), float(ck["seconds"]), dict(ck["last_valid"])
        init_info = ck["model"]["extra"].get("init")  # the chain of a fine-tuned run
        _truncate_log(log_path, step)
    else:
        if log_path.exists():
            log_path.unlink()  # a fresh run: a fresh log
        if cfg.init_from:
            init_info = _init_weights(model, cfg.init_from, device)
    (out / "config.json").write_text(json.dumps({**asdict(cfg), "command": cfg.command()}, indent=1))

    t0 = time.perf_counter()

    def elapsed():
        return seconds_before + time.perf_counter() - t0

    records = read_log(log_path) if log_path.exists() else []

    def log(rec):
        records.append(rec)
        with open(log_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")

    running, n_running = 0.0, 0
    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, desc=f"train {cfg.model}")
    while step < cfg.steps:
        clean, noisy = sample_batch(train_pairs, rng, cfg.batch_size, seg_len, cfg.dynamic_mix,
                                    cfg.speed_perturb)
        batch = _batch_dict(torch.from_numpy(clean).to(device), torch.from_numpy(noisy).to(device), scfg)
        out_d = model.estimate(_model_input(model, batch))
        loss = loss_fn(out_d, batch)
        if not torch.isfinite(loss):
            raise RuntimeError(f"step {step + 1}: the loss is {float(loss)}; lower --lr or check the data")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip and cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        step += 1
        running += loss.item()
        n_running += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            log({"step": step, "kind": "train", "train_loss": running / n_running,
                 "lr": opt.param_groups[0]["lr"], "seconds": round(elapsed(), 3)})
            bar.set_postfix(loss=f"{running / n_running:.4g}")
            running, n_running = 0.0, 0
        if vset and (step % cfg.valid_every == 0 or step == cfg.steps):
            last_valid = _validate(model, loss_fn, vset, cfg, device)
            log({"step": step, "kind": "valid", **last_valid, "seconds": round(elapsed(), 3)})
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            _save_checkpoint(ckpt_path, model, opt, sched, step, rng, elapsed(), cfg, last_valid, init_info)
    bar.close()

    extra = {"step": step, "command": cfg.command(), "train_config": asdict(cfg), "valid": last_valid,
             "seconds": round(elapsed(), 1), "n_train_items": len(train_pairs),
             "parameters": M.count_parameters(model)}
    if init_info:
        extra["init"] = init_info
    M.save(model, out / "model.pt", extra)
    if cfg.export:
        M.save(model, cfg.export, extra)
    return {"model": model, "step": step, "log": records, "valid": last_valid, "out": str(out),
            "seconds": elapsed()}


# --------------------------------------------------------------------------- CLI
def _kv(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    k, v = text.split("=", 1)
    try:
        val = ast.literal_eval(v)
    except (ValueError, SyntaxError):
        val = v
    return k.strip(), val


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m sedemo.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=d.model, choices=list(M.MODELS))
    p.add_argument("--set", dest="model_overrides", type=_kv, action="append", default=[],
                   metavar="FIELD=VALUE", help="override a model config field, e.g. --set hidden=128")
    p.add_argument("--tiny", action=argparse.BooleanOptionalAction, default=d.tiny,
                   help="the test-sized model config")
    p.add_argument("--loss", default=d.loss, help="one of: " + ", ".join(available_losses()))
    p.add_argument("--loss-opt", dest="loss_options", type=_kv, action="append", default=[],
                   metavar="KEY=VALUE", help="loss option, e.g. --loss-opt c=0.5")
    p.add_argument("--mask-target", default=d.mask_target, help="oracle mask for --loss ma")
    for name, typ in (("steps", int), ("batch_size", int), ("segment", float), ("lr", float),
                      ("warmup", int), ("decay_start", int), ("grad_clip", float), ("weight_decay", float), ("seed", int),
                      ("valid_every", int), ("ckpt_every", int), ("log_every", int), ("n_valid", int),
                      ("valid_pesq", int)):
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=getattr(d, name))
    p.add_argument("--lr-schedule", default=d.lr_schedule, choices=("constant", "cosine"))
    p.add_argument("--threads", type=int, default=d.threads, help="torch.set_num_threads")
    p.add_argument("--device", default=d.device, help="cpu, cuda or auto")
    p.add_argument("--valid-seconds", type=float, default=d.valid_seconds)
    p.add_argument("--out", default=d.out, help="run folder ({model} is replaced)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=d.resume,
                   help="continue from OUT/checkpoint.pt")
    p.add_argument("--corpus", default=d.corpus, help="corpus root (default: the book's corpus)")
    p.add_argument("--max-train-items", type=int, default=d.max_train_items)
    p.add_argument("--dynamic-mix", action=argparse.BooleanOptionalAction, default=d.dynamic_mix)
    p.add_argument("--speed-perturb", type=float, default=d.speed_perturb,
                   help="play each clean crop at a random speed in [1-S, 1+S] (steps of 0.05), "
                   "e.g. 0.1; 0: off")
    p.add_argument("--export", default=d.export, help="also save the final model here "
                   "(e.g. sedemo/pretrained/gcrn.pt)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=d.progress)
    p.add_argument("--init-from", default=d.init_from, help="start from the weights of this model "
                   "file or training checkpoint (fine-tuning: fresh optimizer and schedule)")
    return p


def main(argv=None) -> dict:
    args = vars(_parser().parse_args(argv))
    args["model_overrides"] = dict(args["model_overrides"])
    args["loss_options"] = dict(args["loss_options"])
    cfg = TrainConfig(**args)
    result = train(cfg)
    print(json.dumps({"step": result["step"], "out": result["out"], **result["valid"]}, indent=1))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
