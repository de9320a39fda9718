"""Waveform losses: MSE and MAE on samples (claim C2) and the energy-ratio losses SNR,
ratio SDR, SI-SDR and SD-SDR (claim C6). Chapter: 06_losses.
"""
from __future__ import annotations


import torch

from sedemo._utils import ArrayLike

from sedemo.losses._contract import _check_eps, _energy, _reduce, _waveforms


# ----------------------------------------------------------------------------
# Time domain
# ----------------------------------------------------------------------------
def mse(*, estimate: ArrayLike, reference: ArrayLike, reduction: str = "mean") -> torch.Tensor:
    """Time-domain mean squared error (L2): ``mean_n (ŝ[n] − s[n])²`` per utterance.

    Shapes: ``estimate``, ``reference`` ``(batch, time)``; returns a scalar (or
    ``(batch,)`` with ``reduction="none"``). Minimum 0 at ``ŝ = s``.

    Its gradient ``2(ŝ − s)/L`` is proportional to the error, so small errors (the
    residual noise in quiet, speech-absent parts) get small gradients: claim C2
    (chapter 6) compares it with :func:`mae`.

    References: M. Kolbæk, Z.-H. Tan, S. H. Jensen, J. Jensen, "On loss functions
    for supervised monaural time-domain speech enhancement", TASLP 2020; A. Pandey,
    D. Wang, TASLP 2019. Chapter 6.

    >>> import torch
    >>> mse(estimate=torch.ones(2, 4), reference=torch.zeros(2, 4))
    tensor(1.)

    Chapter: 06_losses.
    """
    e, r = _waveforms("mse", estimate, reference)
    return _reduce((e - r).square().mean(-1), reduction, "mse")


def mae(*, estimate: ArrayLike, reference: ArrayLike, reduction: str = "mean") -> torch.Tensor:
    """Time-domain mean absolute error (L1): ``mean_n |ŝ[n] − s[n]|`` per utterance.

    Shapes as :func:`mse`. Minimum 0 at ``ŝ = s``. Its gradient ``sign(ŝ − s)/L``
    has the same size for a small error as for a large one, so low-level residual
    noise is pushed down as hard as loud errors (claim C2; Pandey & Wang 2019 use
    it for time-domain enhancement). The gradient at an exact zero error is 0.

    References: A. Pandey, D. Wang, "A new framework for CNN-based speech
    enhancement in the time domain", TASLP 2019; Kolbæk et al., TASLP 2020.
    Chapter 6.

    >>> import torch
    >>> mae(estimate=torch.tensor([[1.0, -3.0]]), reference=torch.zeros(1, 2))
    tensor(2.)

    Chapter: 06_losses.
    """
    e, r = _waveforms("mae", estimate, reference)
    return _reduce((e - r).abs().mean(-1), reduction, "mae")


# ----------------------------------------------------------------------------
# Energy ratios: SNR (log-SDR), ratio SDR, SI-SDR, SD-SDR
# ----------------------------------------------------------------------------
def _db(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``10·log10(num/den)`` computed as a difference of logs (no overflow)."""
    return 10.0 * (torch.log10(num) - torch.log10(den))


def snr_loss(*, estimate: ArrayLike, reference: ArrayLike, eps: float = 1e-8,
             reduction: str = "mean") -> torch.Tensor:
    """Negative SNR in dB (the log-SDR loss):

        ``−10·log10( (‖s‖² + eps) / (‖s − ŝ‖² + eps) )``

    per ``(batch, time)`` item; with ``eps = 0`` it is ``−metrics.snr`` (tested). No
    mean removal, not scale invariant (``0.5·s`` scores −6.02 dB, not the minimum).
    ``eps`` (default 1e-8, in squared-sample units) keeps it finite: a perfect
    estimate gets the documented minimum ``−10·log10((‖s‖² + eps)/eps)`` (−105 dB
    for 2 s at RMS 0.1) instead of −∞, a silent reference with a silent estimate
    gets 0, and the gradient ``(20/ln 10)·(ŝ − s)/(‖s − ŝ‖² + eps)`` is finite.
    It equals ``10·log10(ratio_sdr_loss(...))`` with the same ``eps``.

    Reference: J. Le Roux et al., "SDR – half-baked or well done?", ICASSP 2019;
    Kolbæk et al. 2020. Chapter 6 (C6).

    >>> import torch
    >>> s = torch.randn(1, 1000, dtype=torch.float64)
    >>> round(float(snr_loss(estimate=0.5 * s, reference=s, eps=0)), 2)
    -6.02

    Chapter: 06_losses.
    """
    fn = "snr_loss"
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    return _reduce(-_db(_energy(r) + eps, _energy(r - e) + eps), reduction, fn)


def ratio_sdr_loss(*, estimate: ArrayLike, reference: ArrayLike, eps: float = 1e-8,
                   reduction: str = "mean") -> torch.Tensor:
    """Ratio (non-log) SDR loss, in the bounded form: the normalised squared error

        ``(‖s − ŝ‖² + eps) / (‖s‖² + eps)``  =  ``10^(−SNR/10)``  (up to eps).

    Range: minimum ``eps/(‖s‖² + eps)`` (≈ 0) at a perfect estimate, 1 for an
    all-zero estimate (and for a silent reference with a silent estimate), no upper
    bound. ``eps`` (default 1e-8) keeps the value and the gradient
    ``2(ŝ − s)/(‖s‖² + eps)`` finite on a silent reference; with the same ``eps``,
    :func:`snr_loss` ``= 10·log10(ratio_sdr_loss)`` exactly.

    Why this form and not ``−‖s‖²/‖s − ŝ‖²``: the latter goes to −∞ at a perfect
    estimate and its gradient grows as ``1/‖s − ŝ‖³``, so the best utterance of a
    batch takes the whole gradient and training is unstable; this form is a
    normalised MSE, bounded below by 0.

    Gradient share (what chapter 6, C6, demonstrates on a batch of mixed SNRs):
    the two forms differ only by the chain rule,
    ``∇ log-loss = (10/ln 10)·∇ratio / ratio``. With the log form every utterance
    weighs the same per relative (dB) improvement, whatever its SNR. With the ratio
    form an utterance is weighted by its current ``ratio = 10^(−SNR/10)``: a 0-dB
    utterance weighs 100 times a 20-dB one, so the batch gradient is dominated by
    its worst (lowest-SNR) utterances and the good ones are hardly refined.

    Reference: Le Roux et al., ICASSP 2019; Kolbæk et al., TASLP 2020. Chapter 6 (C6).

    >>> import torch
    >>> s = torch.randn(1, 1000, dtype=torch.float64)
    >>> float(ratio_sdr_loss(estimate=0 * s, reference=s))
    1.0

    Chapter: 06_losses.
    """
    fn = "ratio_sdr_loss"
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    return _reduce((_energy(r - e) + eps) / (_energy(r) + eps), reduction, fn)


def _scaled_target(e: torch.Tensor, r: torch.Tensor, eps: float, zero_mean: bool):
    if zero_mean:
        e = e - e.mean(-1, keepdim=True)
        r = r - r.mean(-1, keepdim=True)
    alpha = (e * r).sum(-1, keepdim=True) / (_energy(r)[..., None] + eps)
    return e, r, alpha * r


def _projected_sdr_loss(fn: str, estimate, reference, eps: float, zero_mean: bool, reduction: str,
                        scale_invariant: bool) -> torch.Tensor:
    """``−10 log10((‖α s‖² + eps) / (‖err‖² + eps))`` with ``err = α s − ŝ`` (SI-SDR) or
    ``s − ŝ`` (SD-SDR)."""
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    e, r, target = _scaled_target(e, r, eps, zero_mean)
    err = target - e if scale_invariant else r - e
    return _reduce(-_db(_energy(target) + eps, _energy(err) + eps), reduction, fn)


def si_sdr_loss(*, estimate: ArrayLike, reference: ArrayLike, eps: float = 1e-8,
                zero_mean: bool = True, reduction: str = "mean") -> torch.Tensor:
    """Negative scale-invariant SDR in dB, per ``(batch, time)`` item:

        ``−10·log10( (‖α s‖² + eps) / (‖α s − ŝ‖² + eps) )``,  ``α = ŝᵀs / (‖s‖² + eps)``

    after making both signals zero-mean (``zero_mean=True``, the convention of
    :func:`sedemo.metrics.si_sdr`); with ``eps = 0`` it equals ``−metrics.si_sdr``
    (tested). Invariant to rescaling the estimate (up to eps), so the output level
    is arbitrary: claim C7 combines it with a spectral loss
    (:func:`si_sdr_compressed_loss`).

    ``eps`` (default 1e-8) in α's denominator and in both energies keeps it finite:
    a silent reference gives α = 0 and the large but finite value
    ``10·log10((‖ŝ‖² + eps)/eps)``; an all-zero estimate gives 0
    (its gradient is 0 there: the all-zero output is a stationary point of every
    scale-invariant loss); a perfect estimate gets about ``−10·log10(‖s‖²/eps)``
    instead of −∞.

    Reference: J. Le Roux, S. Wisdom, H. Erdogan, J. R. Hershey, "SDR – half-baked
    or well done?", ICASSP 2019. Chapter 6 (C6, C7, C8).

    >>> import torch
    >>> s = torch.randn(1, 1000, dtype=torch.float64)
    >>> bool(si_sdr_loss(estimate=3 * s, reference=s) < -100)  # gain ignored
    True

    Chapter: 06_losses.
    """
    return _projected_sdr_loss("si_sdr_loss", estimate, reference, eps, zero_mean, reduction, scale_invariant=True)


def sd_sdr_loss(*, estimate: ArrayLike, reference: ArrayLike, eps: float = 1e-8,
                zero_mean: bool = True, reduction: str = "mean") -> torch.Tensor:
    """Negative scale-dependent SDR in dB, per ``(batch, time)`` item:

        ``−10·log10( (‖α s‖² + eps) / (‖s − ŝ‖² + eps) )``,  ``α = ŝᵀs / (‖s‖² + eps)``

    zero-mean first as :func:`si_sdr_loss`; equals ``−metrics.sd_sdr`` for
    ``eps = 0``. Punishes a wrong gain (asymmetrically: too quiet is worse than too
    loud). ``eps`` as in :func:`si_sdr_loss`. Reference: Le Roux et al., ICASSP
    2019. Chapter 6 (C6).

    Chapter: 06_losses.
    """
    return _projected_sdr_loss("sd_sdr_loss", estimate, reference, eps, zero_mean, reduction, scale_invariant=False)


