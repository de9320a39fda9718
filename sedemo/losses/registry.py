"""The loss registry: name -> loss, and the keyword inputs each one takes.
Chapter: 06_losses.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch


from sedemo.losses.waveform import mae, mse, ratio_sdr_loss, sd_sdr_loss, si_sdr_loss, snr_loss
from sedemo.losses.spectral import complex_l1, complex_l2, compressed_complex_loss, compressed_complex_loss_from_spectra, multi_resolution_stft_loss, spectral_l1, spectral_l2, spectral_loss, spectral_loss_from_spectra, weak_frame_loss
from sedemo.losses.masking import complex_signal_approximation_loss, mask_approximation_loss, phase_sensitive_approximation_loss, signal_approximation_loss
from sedemo.losses.perceptual import embedding_loss, stoi_like_loss, weak_cell_loss
from sedemo.losses.combined import compressed_embedding_loss, si_sdr_compressed_loss, si_sdr_compressed_stoi_loss


# ----------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------
#: name -> loss function, for training scripts (:func:`get_loss`).
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "mse": mse,
    "mae": mae,
    "spectral_l1": spectral_l1,
    "spectral_l2": spectral_l2,
    "complex_l1": complex_l1,
    "complex_l2": complex_l2,
    "spectral": spectral_loss,
    "compressed_complex": compressed_complex_loss,
    "snr": snr_loss,
    "ratio_sdr": ratio_sdr_loss,
    "si_sdr": si_sdr_loss,
    "sd_sdr": sd_sdr_loss,
    "mr_stft": multi_resolution_stft_loss,
    "weak_frame": weak_frame_loss,
    "weak_cell": weak_cell_loss,
    "stoi_like": stoi_like_loss,
    "embedding": embedding_loss,
    "si_sdr+compressed": si_sdr_compressed_loss,
    "si_sdr+compressed+stoi": si_sdr_compressed_stoi_loss,
    "compressed+embedding": compressed_embedding_loss,
    "ma": mask_approximation_loss,
    "sa": signal_approximation_loss,
    "psa": phase_sensitive_approximation_loss,
    "csa": complex_signal_approximation_loss,
    "spectral_from_spectra": spectral_loss_from_spectra,
    "compressed_complex_from_spectra": compressed_complex_loss_from_spectra,
}

#: name -> the keyword inputs the loss takes (besides its options).
LOSS_INPUTS: dict[str, tuple[str, ...]] = {
    name: (("mask_estimate", "mask_target") if name == "ma"
           else ("mask_estimate", "mixture", "clean") if name in ("sa", "psa", "csa")
           else ("estimate_spec", "reference_spec") if name.endswith("_from_spectra")
           else ("estimate", "reference"))
    for name in LOSSES
}


def get_loss(name: str, **options) -> Callable[..., torch.Tensor]:
    """The loss ``LOSSES[name]`` with ``options`` bound (e.g. ``get_loss("compressed_complex",
    c=0.5)``), called with its keyword inputs (:data:`LOSS_INPUTS`).

    Raises ``ValueError`` listing the valid names for an unknown name, and
    ``TypeError`` listing the accepted options for an unknown option. Used by the
    training scripts of chapters 3, 5 and 6.

    >>> import torch
    >>> loss = get_loss("si_sdr", eps=0.0)
    >>> s = torch.randn(1, 100, dtype=torch.float64)
    >>> bool(loss(estimate=2 * s, reference=s) < -200)
    True

    Chapters: 03_masks, 05_complex_mapping, 06_losses.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    fn = LOSSES[name]
    if not options:
        return fn
    params = inspect.signature(fn).parameters
    allowed = [k for k in params if k not in LOSS_INPUTS[name]]
    bad = [k for k in options if k not in allowed]
    if bad:
        raise TypeError(f"get_loss({name!r}): unknown option(s) {', '.join(bad)}; "
                        f"{fn.__name__} accepts {', '.join(allowed) or 'no options'}")
    return functools.partial(fn, **options)
