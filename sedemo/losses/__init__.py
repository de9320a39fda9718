"""Training losses for speech enhancement: time domain, spectral, mask-based, energy
ratios, multi-resolution STFT, a differentiable STOI-like proxy, the error in the frames
where the speech is weak, an embedding loss and weighted combinations.

Chapter 6 (06_losses, claims C1-C8) compares them; chapters 3 and 5
train their models with them (through :func:`get_loss`). Every loss is a
differentiable torch function; the formulas are the guidebook's
and, where a loss coincides with an evaluation metric of :mod:`sedemo.metrics`
(SNR, SI-SDR, SD-SDR), it equals minus that metric up to the documented ``eps``
(tested). Lower is better for every loss.

Input contract (one checking helper per kind of input):

* **waveform losses**: keyword-only ``estimate=`` (ŝ, the model output) and
  ``reference=`` (s, the clean speech), real tensors of the same shape
  ``(batch, time)``. A 1-D signal needs a batch axis (``x.unsqueeze(0)``), a
  ``(batch, 1, time)`` one its channel axis squeezed (``x.squeeze(1)``); anything
  else raises :class:`LossShapeError` naming both shapes. Spectral losses of this
  kind compute the STFT themselves (:func:`sedemo.dsp.stft.stft`, argument ``cfg``).
* **spectrum losses** (``*_from_spectra``): ``estimate_spec=``, ``reference_spec=``,
  complex ``(batch, F, T)`` STFTs.
* **mask losses**: ``mask_estimate=`` (real or complex ``(batch, F, T)``) with
  ``mask_target=`` or with the complex STFTs ``mixture=`` (Y) and ``clean=`` (S).

NumPy arrays are accepted and converted, but the result is always a torch tensor.
``reduction="mean"`` (default) returns a scalar, the mean over the batch of the
per-utterance losses; ``"none"`` returns the ``(batch,)`` per-utterance values and
``"sum"`` their sum. The losses themselves do not check for NaN (that would
synchronise the GPU on every step; the STFT-based ones inherit the check of
:func:`sedemo.dsp.stft.stft`): a NaN estimate gives a NaN loss.

``eps`` arguments keep the value and the gradient finite on silent references and
all-zero estimates (tested for every loss); each docstring says where ``eps``
enters and what it bounds. ``eps=0`` gives the textbook formula (used by the tests
to compare with independent re-derivations).

:data:`LOSSES` maps a name to each loss, :func:`get_loss` returns one with its
options bound, :class:`Combined` sums weighted terms.
"""
from __future__ import annotations

from sedemo.losses._contract import REDUCTIONS, LossShapeError
from sedemo.losses.combined import (
    EMBEDDING_WEIGHT, SI_SDR_COMPRESSED_WEIGHT, Combined, combined_loss, compressed_embedding_loss,
    si_sdr_compressed_loss, si_sdr_compressed_stoi_loss, STOI_WEIGHT,
)
from sedemo.losses.masking import (
    complex_signal_approximation_loss, mask_approximation_loss, phase_sensitive_approximation_loss,
    signal_approximation_loss,
)
from sedemo.losses.perceptual import (EmbeddingLoss, ModelEncoder, RandomFeatureNet, embedding_loss, encoder_network,
                                     stoi_like_loss, third_octave_bands, weak_cell_loss)
from sedemo.losses.registry import LOSS_INPUTS, LOSSES, get_loss
from sedemo.losses.spectral import (
    MR_STFT_RESOLUTIONS, complex_l1, complex_l2, compressed_complex_loss, compressed_complex_loss_from_spectra,
    multi_resolution_stft_loss, spectral_l1, spectral_l2, spectral_loss, spectral_loss_from_spectra,
    weak_frame_loss,
)
from sedemo.losses.waveform import mae, mse, ratio_sdr_loss, sd_sdr_loss, si_sdr_loss, snr_loss

__all__ = [
    "LossShapeError", "REDUCTIONS",
    "mse", "mae",
    "spectral_loss", "spectral_l1", "spectral_l2", "complex_l1", "complex_l2",
    "spectral_loss_from_spectra",
    "compressed_complex_loss", "compressed_complex_loss_from_spectra",
    "mask_approximation_loss", "signal_approximation_loss",
    "phase_sensitive_approximation_loss", "complex_signal_approximation_loss",
    "snr_loss", "ratio_sdr_loss", "si_sdr_loss", "sd_sdr_loss",
    "multi_resolution_stft_loss", "MR_STFT_RESOLUTIONS",
    "stoi_like_loss", "third_octave_bands", "weak_frame_loss", "weak_cell_loss",
    "RandomFeatureNet", "EmbeddingLoss", "embedding_loss", "ModelEncoder", "encoder_network",
    "Combined", "combined_loss", "si_sdr_compressed_loss", "si_sdr_compressed_stoi_loss", "STOI_WEIGHT", "compressed_embedding_loss", "SI_SDR_COMPRESSED_WEIGHT", "EMBEDDING_WEIGHT",
    "LOSSES", "LOSS_INPUTS", "get_loss",
]
