"""Spectral losses: Lp on magnitude or complex STFTs (claim C4), the compressed complex
loss of Braun & Tashev (2021) and the multi-resolution STFT loss of Yamamoto et al.
(2020). Chapter: 06_losses.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from sedemo._utils import ArrayLike
from sedemo.dsp.features import compress
from sedemo.dsp.stft import DEFAULT, STFTConfig, stft

from sedemo.losses._contract import _check_eps, _cplx_sq, _item_mean, _reduce, _spectra, _waveforms


# ----------------------------------------------------------------------------
# Spectral losses (magnitude and complex), from waveforms or from spectra
# ----------------------------------------------------------------------------
_DOMAINS = ("magnitude", "complex")


def _lp_distance(est: torch.Tensor, ref: torch.Tensor, p: float, domain: str, fn: str) -> torch.Tensor:
    if domain not in _DOMAINS:
        raise ValueError(f"{fn}(): domain must be one of {_DOMAINS}, got {domain!r}")
    if not (isinstance(p, (int, float)) and math.isfinite(p) and p >= 1):
        raise ValueError(f"{fn}(): p must be a number >= 1 (1: L1, 2: L2), got {p!r}")
    if domain == "magnitude":
        d = (est.abs() - ref.abs()).abs()
        return _item_mean(d if p == 1 else d.square() if p == 2 else d.pow(p))
    diff = est - ref
    if not diff.is_complex():
        raise TypeError(f"{fn}(): domain='complex' needs complex spectra, got {diff.dtype}")
    parts = torch.stack([diff.real, diff.imag], dim=-1).abs()
    parts = parts if p == 1 else parts.square() if p == 2 else parts.pow(p)
    return _item_mean(parts.sum(-1))


def spectral_loss_from_spectra(
    *, estimate_spec: ArrayLike, reference_spec: ArrayLike, p: float = 1,
    domain: str = "magnitude", reduction: str = "mean",
) -> torch.Tensor:
    """Lp distance between two STFTs ``(batch, F, T)``, magnitude or complex.

    * ``domain="magnitude"``: ``mean_{f,t} | |Ŝ| − |S| |^p`` (phase ignored; real
      inputs are taken as magnitudes);
    * ``domain="complex"``: ``mean_{f,t} ( |Re Ŝ − Re S|^p + |Im Ŝ − Im S|^p )``,
      the Re/Im parts as two real channels (complex inputs required). For ``p = 2``
      this is ``mean |Ŝ − S|²``, the complex mean squared error; for ``p = 1`` it
      is the L1 loss that matches the Laplacian model of the Re/Im coefficients
      (claim C4), not the rotation-invariant modulus ``mean |Ŝ − S|``.

    ``p >= 1``; the mean is over the F·T bins of each item. Minimum 0 at ``Ŝ = S``.
    The gradient of ``|Ŝ|`` at ``Ŝ = 0`` is taken as 0 (torch's convention), so it
    is finite everywhere. Reference: S. Braun, I. Tashev, "A consolidated view of
    loss functions for supervised deep learning-based speech enhancement", TSP
    2021. Chapter 6 (claims C3, C4).

    >>> import torch
    >>> S = torch.ones(1, 2, 3, dtype=torch.complex64)
    >>> spectral_loss_from_spectra(estimate_spec=-S, reference_spec=S)  # same magnitude
    tensor(0.)
    >>> spectral_loss_from_spectra(estimate_spec=-S, reference_spec=S, p=2, domain="complex")
    tensor(4.)

    Chapter: 06_losses.
    """
    fn = "spectral_loss_from_spectra"
    e, r = _spectra(fn, (), estimate_spec=estimate_spec, reference_spec=reference_spec)
    return _reduce(_lp_distance(e, r, p, domain, fn), reduction, fn)


def spectral_loss(
    *, estimate: ArrayLike, reference: ArrayLike, p: float = 1, domain: str = "magnitude",
    cfg: STFTConfig = DEFAULT, reduction: str = "mean",
) -> torch.Tensor:
    """:func:`spectral_loss_from_spectra` of the STFTs (``cfg``) of two waveforms.

    ``estimate``, ``reference``: ``(batch, time)``. The STFT is that of
    :func:`sedemo.dsp.stft.stft` (default ``cfg``: 320-sample square-root Hann window,
    160 hop, no window normalisation, so values scale with ``n_fft``).
    ``domain`` is ``"magnitude"`` or ``"complex"`` and ``p`` the exponent, see
    :func:`spectral_loss_from_spectra`; :func:`spectral_l1`, :func:`spectral_l2`,
    :func:`complex_l1`, :func:`complex_l2` are its four common settings. Chapter 6.
    Chapter: 06_losses.
    """
    e, r = _waveforms("spectral_loss", estimate, reference)
    return _reduce(_lp_distance(stft(e, cfg), stft(r, cfg), p, domain, "spectral_loss"),
                   reduction, "spectral_loss")


def spectral_l1(*, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
                reduction: str = "mean") -> torch.Tensor:
    """Magnitude L1: ``mean_{f,t} | |Ŝ| − |S| |`` of the STFTs of ``(batch, time)``
    waveforms. See :func:`spectral_loss`. Chapter 6 (C3, C4).

    >>> import torch
    >>> s = torch.randn(2, 1600)
    >>> float(spectral_l1(estimate=-s, reference=s))  # a polarity flip keeps |S|
    0.0

    Chapter: 06_losses.
    """
    return spectral_loss(estimate=estimate, reference=reference, p=1, domain="magnitude",
                         cfg=cfg, reduction=reduction)


def spectral_l2(*, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
                reduction: str = "mean") -> torch.Tensor:
    """Magnitude L2: ``mean_{f,t} ( |Ŝ| − |S| )²`` of the STFTs of ``(batch, time)``
    waveforms. See :func:`spectral_loss`. Chapter 6 (C3, C4).
    Chapter: 06_losses."""
    return spectral_loss(estimate=estimate, reference=reference, p=2, domain="magnitude",
                         cfg=cfg, reduction=reduction)


def complex_l1(*, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
               reduction: str = "mean") -> torch.Tensor:
    """Complex (Re/Im) L1: ``mean_{f,t} ( |ΔRe| + |ΔIm| )`` of the STFTs of
    ``(batch, time)`` waveforms. See :func:`spectral_loss`. Chapter 6 (C4).
    Chapter: 06_losses."""
    return spectral_loss(estimate=estimate, reference=reference, p=1, domain="complex",
                         cfg=cfg, reduction=reduction)


def complex_l2(*, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
               reduction: str = "mean") -> torch.Tensor:
    """Complex L2: ``mean_{f,t} |Ŝ − S|²`` of the STFTs of ``(batch, time)``
    waveforms. See :func:`spectral_loss`. Chapter 6 (C4) and chapter 5.
    Chapters: 06_losses, 05_complex_mapping."""
    return spectral_loss(estimate=estimate, reference=reference, p=2, domain="complex",
                         cfg=cfg, reduction=reduction)


def _compressed_complex(e: torch.Tensor, r: torch.Tensor, c: float, lam: float, eps: float,
                        fn: str) -> torch.Tensor:
    if not (isinstance(c, (int, float)) and 0 < c <= 1):
        raise ValueError(f"{fn}(): c must be in (0, 1], got {c!r}")
    if not (isinstance(lam, (int, float)) and 0 <= lam <= 1):
        raise ValueError(f"{fn}(): lam must be in [0, 1], got {lam!r}")
    _check_eps(fn, eps=eps)
    ec, rc = compress(e, c, eps), compress(r, c, eps)
    complex_term = _item_mean(_cplx_sq(ec - rc))
    magnitude_term = _item_mean((ec.abs() - rc.abs()).square())
    return lam * complex_term + (1.0 - lam) * magnitude_term


def compressed_complex_loss_from_spectra(
    *, estimate_spec: ArrayLike, reference_spec: ArrayLike, c: float = 0.3, lam: float = 0.3,
    eps: float = 1e-12, reduction: str = "mean",
) -> torch.Tensor:
    """Compressed complex loss of Braun & Tashev (2021) on complex STFTs ``(batch, F, T)``:

        ``λ·mean| |Ŝ|^c e^(jθ_Ŝ) − |S|^c e^(jθ_S) |² + (1 − λ)·mean( |Ŝ|^c − |S|^c )²``

    with the means over the F·T bins of each item, ``c = 0.3``, ``λ = 0.3``
    (the guidebook's formula). The compression (:func:`sedemo.dsp.features.compress`) shrinks the
    dynamic range so that quiet bins count; the complex term carries the phase, and
    ``λ = 0.3`` puts 70 % of the weight on the magnitude-only term.

    ``eps`` (default 1e-12, for float32 spectra): the compressed spectrum is computed
    as ``X·(|X|² + eps)^((c−1)/2)`` instead of ``X·|X|^(c−1)``, because the gradient
    of ``|X|^c`` is infinite at ``X = 0`` (an all-zero estimate, digital silence).
    It changes only bins with ``|X|`` below about ``sqrt(eps)`` (1e-6, −120 dB) and
    bounds the gradient of a bin by about ``eps^((c−1)/2)`` (1.6e4 for the
    defaults). ``eps=0`` is the exact formula (not differentiable at ``X = 0``).
    Minimum 0 at ``Ŝ = S``. Reference: S. Braun, I. Tashev, "A consolidated view
    of loss functions for supervised deep learning-based speech enhancement", TSP
    2021. Chapter 6 (C7) and chapter 5.

    >>> import torch
    >>> S = torch.ones(1, 2, 3, dtype=torch.complex64)
    >>> compressed_complex_loss_from_spectra(estimate_spec=S, reference_spec=S)
    tensor(0.)

    Chapters: 06_losses, 05_complex_mapping.
    """
    fn = "compressed_complex_loss_from_spectra"
    e, r = _spectra(fn, ("estimate_spec", "reference_spec"),
                    estimate_spec=estimate_spec, reference_spec=reference_spec)
    return _reduce(_compressed_complex(e, r, c, lam, eps, fn), reduction, fn)


def compressed_complex_loss(
    *, estimate: ArrayLike, reference: ArrayLike, c: float = 0.3, lam: float = 0.3,
    eps: float = 1e-12, cfg: STFTConfig = DEFAULT, reduction: str = "mean",
) -> torch.Tensor:
    """:func:`compressed_complex_loss_from_spectra` of the STFTs (``cfg``) of two
    ``(batch, time)`` waveforms (Braun & Tashev 2021; the guidebook's formula). Chapter 6 (C7).

    >>> import torch
    >>> s = torch.randn(2, 1600)
    >>> float(compressed_complex_loss(estimate=s, reference=s))
    0.0

    Chapter: 06_losses.
    """
    fn = "compressed_complex_loss"
    e, r = _waveforms(fn, estimate, reference)
    return _reduce(_compressed_complex(stft(e, cfg), stft(r, cfg), c, lam, eps, fn), reduction, fn)


# ----------------------------------------------------------------------------
# Multi-resolution STFT loss
# ----------------------------------------------------------------------------
#: Default (n_fft, hop) pairs of :func:`multi_resolution_stft_loss` (Hann windows).
MR_STFT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (256, 64))


def multi_resolution_stft_loss(
    *, estimate: ArrayLike, reference: ArrayLike,
    resolutions: Sequence[tuple[int, int]] = MR_STFT_RESOLUTIONS, window: str = "hann",
    sample_rate: int = 16000, eps: float = 1e-7, reduction: str = "mean",
) -> torch.Tensor:
    """Multi-resolution STFT loss of Yamamoto et al. (2020), the guidebook's formula:

        ``Σ_m [ ‖|S_m| − |Ŝ_m|‖_F / ‖|S_m|‖_F  +  mean_{f,t} | log|S_m| − log|Ŝ_m| | ]``

    per ``(batch, time)`` item (the Frobenius norms are over the item's F×T bins),
    where ``S_m`` is the STFT (:func:`sedemo.dsp.stft.stft`, ``window``) at resolution
    ``m`` of ``resolutions`` (``(n_fft, hop)`` pairs, default
    :data:`MR_STFT_RESOLUTIONS` = (512, 128), (1024, 256), (256, 64)). The first term
    is the spectral convergence, the second the log-magnitude L1. It is a **sum**
    over resolutions, as in the guidebook (the Parallel WaveGAN code averages them,
    i.e. divides by 3: only a scale). Minimum ≈ 0 at ``ŝ = s``.

    ``eps`` (default 1e-7, the power floor of the Parallel WaveGAN code, there a
    clamp): magnitudes are ``sqrt(|X|² + eps)`` and each Frobenius norm is
    ``sqrt(Σ(·)² + eps)``, which keeps the square roots, the log and the division
    differentiable at 0 (silent bins, a perfect or an all-zero estimate) and floors
    the log term at ``log(sqrt(eps))`` ≈ −8.1. ``eps=0`` is the exact formula.

    Reference: R. Yamamoto, E. Song, J.-M. Kim, "Parallel WaveGAN ...", ICASSP 2020.
    Chapter 6.

    >>> import torch
    >>> s = torch.randn(2, 4000)
    >>> bool(multi_resolution_stft_loss(estimate=s, reference=s) < 1e-3)
    True

    Chapter: 06_losses.
    """
    fn = "multi_resolution_stft_loss"
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    if len(resolutions) == 0:
        raise ValueError(f"{fn}(): resolutions is empty; pass (n_fft, hop) pairs")
    total = torch.zeros(e.shape[0], dtype=e.dtype, device=e.device)
    for n_fft, hop in resolutions:
        cfg = STFTConfig(n_fft=int(n_fft), hop=int(hop), window=window, sample_rate=sample_rate)
        mag_e = (_cplx_sq(stft(e, cfg)) + eps).sqrt()
        mag_r = (_cplx_sq(stft(r, cfg)) + eps).sqrt()
        sc = ((mag_r - mag_e).square().flatten(1).sum(1) + eps).sqrt() / (
            mag_r.square().flatten(1).sum(1) + eps).sqrt()
        log_mag = _item_mean((torch.log(mag_r) - torch.log(mag_e)).abs())
        total = total + sc + log_mag
    return _reduce(total, reduction, fn)




# ----------------------------------------------------------------------------
# Error in the frames where the speech is weak
# ----------------------------------------------------------------------------
def weak_frame_loss(
    *, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
    band: tuple[float, float] = (1000.0, 4000.0), weak_db: float = -20.0, range_db: float = 40.0,
    floor_db: float = -60.0, eps: float = 1e-12, reduction: str = "mean",
) -> torch.Tensor:
    """The error left where the speech is weak, in dB re the loudest speech frame.

    Inputs ``(batch, time)`` waveforms; returns ``(batch,)`` with ``reduction="none"``. Per item, with the STFTs ``Ŝ``, ``S`` (``cfg``) and the bins whose
    centre frequency lies in ``band`` (Hz, default 1-4 kHz):

        ``P_s[t] = Σ_k |S[k,t]|²``,  ``P_e[t] = Σ_k |Ŝ[k,t] − S[k,t]|²``,  ``P_max = max_t P_s[t]``

        ``W = {t : −range_db ≤ 10·log10(P_s[t]/P_max) < weak_db}``  (−40..−20 dB by default)

        ``loss = mean_{t∈W} max(10·log10((P_e[t] + eps)/P_max), floor_db)``

    In those frames the error is mostly the noise the model left in (the speech there
    is at least 20 dB below the loudest frame); the dB scale weighs every such frame
    alike, where SI-SDR and the compressed spectral loss are dominated by the loud
    frames. The term is lowest when the estimate is exact there, not when it is
    silent: zeroing a weak frame leaves an error of the speech's own level. Frames
    more than ``range_db`` below the loudest are left out, as STOI leaves them out
    (Taal et al. 2011); an item without weak frames contributes 0. ``floor_db`` ends
    the pull where the error is already negligible. ``eps`` keeps the logarithm
    finite. Units: dB (lower is better). In dB the gradient grows as the error falls (about
    tenfold per 20 dB) until the floor stops it; the trainer's gradient clipping bounds it.
    (The classes are those of :func:`sedemo.evaluation.speech_noise.split_by_speech_level`
    with the boundaries on the other side: here ``−40 ≤ level < −20``.) Why: chapter 5's
    split by frame speech level found the default model's noise left falling only about
    9 dB from its loudest frames to the quietest, where RNNoise's and DeepFilterNet3's fall
    by 22 dB; :func:`sedemo.losses.combined.si_sdr_compressed_stoi_loss`
    adds it with ``weak_weight``. Reference: none published (this book, chapter 5); the frame
    range follows STOI's (C. Taal et al., TASLP 2011).
    Chapter: 05_complex_mapping.
    """
    fn = "weak_frame_loss"
    _check_eps(fn, eps=eps)
    lo, hi = (float(b) for b in band)
    if not (0 <= lo < hi <= cfg.sample_rate / 2):
        raise ValueError(f"{fn}(): band must be (low, high) Hz with 0 <= low < high <= "
                         f"{cfg.sample_rate / 2:g}, got {band!r}")
    if not (range_db > 0 and -range_db < weak_db <= 0 and floor_db < weak_db):
        raise ValueError(f"{fn}(): need range_db > 0, -range_db < weak_db <= 0 and floor_db < weak_db (dB re "
                         f"the loudest frame), got weak_db={weak_db!r}, range_db={range_db!r}, floor_db={floor_db!r}")
    e, r = _waveforms(fn, estimate, reference)
    freqs = torch.arange(cfg.n_freqs, device=e.device) * (cfg.sample_rate / cfg.n_fft)
    keep = (freqs >= lo) & (freqs < hi)
    if not bool(keep.any()):
        raise ValueError(f"{fn}(): no STFT bin lies in band {band!r} Hz at n_fft={cfg.n_fft}; widen the band")
    se, sr = stft(e, cfg)[:, keep], stft(r, cfg)[:, keep]
    p_s = _cplx_sq(sr).sum(1)  # (B, T)
    p_e = _cplx_sq(se - sr).sum(1)
    with torch.no_grad():
        p_max = p_s.amax(-1, keepdim=True).clamp_min(torch.finfo(p_s.dtype).tiny)
        level = 10 * torch.log10(p_s.clamp_min(torch.finfo(p_s.dtype).tiny) / p_max)
        weak = (level >= -range_db) & (level < weak_db)
    # the other frames enter as 0 dB (no gradient), so a silent reference stays finite
    ratio = torch.where(weak, (p_e + eps) / p_max, torch.ones_like(p_e))
    err_db = (10 * torch.log10(ratio)).clamp_min(floor_db)
    per_item = (err_db * weak).sum(-1) / weak.sum(-1).clamp_min(1)
    return _reduce(per_item, reduction, fn)
