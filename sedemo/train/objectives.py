"""Training objectives: a loss of :mod:`sedemo.losses` (or an alias) wired to what a
model outputs and what a batch holds. Chapter: 06_losses.
"""
from __future__ import annotations

from typing import Callable

import torch

from sedemo import losses as L
from sedemo.dsp.stft import istft


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
    Chapter: 06_losses.
    """
    mag_s = clean_spec.abs().pow(compress)
    mag_term = (magnitude - mag_s).square().mean()
    phase_err = 1.0 - torch.cos(phase - torch.angle(clean_spec))
    phase_term = (mag_s * phase_err).sum() / mag_s.sum().clamp_min(1e-8)
    return mag_term + phase_weight * phase_term


def _registry():
    """``(name -> (function, inputs), get_loss)`` from :mod:`sedemo.losses`."""
    return {k: (L.LOSSES[k], L.LOSS_INPUTS[k]) for k in L.LOSSES}, L.get_loss


def available_losses() -> list[str]:
    """Names accepted by :func:`make_loss` / ``--loss``.

    Chapter: 06_losses."""
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
    Chapter: 06_losses.
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
    fn = get_loss(real, **options)
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
        from sedemo import masks

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
    STFT losses computed from waveforms, ...).
    Chapter: 06_losses."""
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
    fn = get_loss(real, **options)

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


