"""Training losses for speech enhancement: time domain, spectral, mask-based, energy
ratios, multi-resolution STFT, a differentiable STOI-like proxy, an embedding loss
and weighted combinations.

Chapter 6 (``book/06_losses.ipynb``, claims C1-C8) compares them; chapters 3 and 5
train their models with them (through :func:`get_loss`). Every loss is a
differentiable torch function; the formulas are those of ``GUIDEBOOK.md`` section 3
and, where a loss coincides with an evaluation metric of :mod:`sedemo.metrics`
(SNR, SI-SDR, SD-SDR), it equals minus that metric up to the documented ``eps``
(tested). Lower is better for every loss.

Input contract (one checking helper per kind of input):

* **waveform losses**: keyword-only ``estimate=`` (ŝ, the model output) and
  ``reference=`` (s, the clean speech), real tensors of the same shape
  ``(batch, time)``. A 1-D signal needs a batch axis (``x.unsqueeze(0)``), a
  ``(batch, 1, time)`` one its channel axis squeezed (``x.squeeze(1)``); anything
  else raises :class:`LossShapeError` naming both shapes. Spectral losses of this
  kind compute the STFT themselves (:func:`sedemo.stft.stft`, argument ``cfg``).
* **spectrum losses** (``*_from_spectra``): ``estimate_spec=``, ``reference_spec=``,
  complex ``(batch, F, T)`` STFTs.
* **mask losses**: ``mask_estimate=`` (real or complex ``(batch, F, T)``) with
  ``mask_target=`` or with the complex STFTs ``mixture=`` (Y) and ``clean=`` (S).

NumPy arrays are accepted and converted, but the result is always a torch tensor.
``reduction="mean"`` (default) returns a scalar, the mean over the batch of the
per-utterance losses; ``"none"`` returns the ``(batch,)`` per-utterance values and
``"sum"`` their sum. The losses themselves do not check for NaN (that would
synchronise the GPU on every step; the STFT-based ones inherit the check of
:func:`sedemo.stft.stft`): a NaN estimate gives a NaN loss.

``eps`` arguments keep the value and the gradient finite on silent references and
all-zero estimates (tested for every loss); each docstring says where ``eps``
enters and what it bounds. ``eps=0`` gives the textbook formula (used by the tests
to compare with independent re-derivations).

:data:`LOSSES` maps a name to each loss, :func:`get_loss` returns one with its
options bound, :class:`Combined` sums weighted terms.
"""
from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

from ._utils import ArrayLike, as_tensor
from .features import compress, mel_filterbank
from .stft import DEFAULT, STFTConfig, stft

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
    "stoi_like_loss", "third_octave_bands",
    "RandomFeatureNet", "EmbeddingLoss", "embedding_loss",
    "Combined", "combined_loss", "si_sdr_compressed_loss", "C7_COMPRESSED_WEIGHT",
    "LOSSES", "LOSS_INPUTS", "get_loss",
]

REDUCTIONS = ("mean", "sum", "none")


class LossShapeError(TypeError, ValueError):
    """Inputs of a loss with the wrong number of axes or mismatched shapes.

    A subclass of both ``TypeError`` (the convention of Asteroid's losses) and
    ``ValueError`` (the convention of :mod:`sedemo.metrics`), so either ``except``
    catches it. The message names the loss and the shapes it got.
    """


# ----------------------------------------------------------------------------
# Input checks and reduction (the single place where every loss checks its input)
# ----------------------------------------------------------------------------
def _tensor(x: ArrayLike, key: str, fn: str) -> torch.Tensor:
    if x is None:
        raise TypeError(f"{fn}(): {key}= is missing (got None)")
    try:
        t = as_tensor(x)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{fn}(): {key}= must be a torch tensor or a NumPy array, got {type(x).__name__} ({err})"
        ) from None
    if not (t.is_floating_point() or t.is_complex()):
        t = t.to(torch.get_default_dtype())
    return t


def _shape_hint(shapes: dict[str, tuple], ndim: int, axes: str) -> str:
    dims = {len(s) for s in shapes.values()}
    if any(d == ndim - 1 for d in dims):
        return " For a single item add a batch axis: x.unsqueeze(0) (NumPy: x[None])."
    if ndim == 2 and any(len(s) == 3 and s[1] == 1 for s in shapes.values()):
        return " For (batch, 1, time) signals squeeze the channel axis: x.squeeze(1)."
    if dims == {ndim}:
        return f" The shapes must be equal: align and trim the signals (or check the {axes} axes)."
    return ""


def _same_shape(fn: str, ndim: int, axes: str, tensors: dict[str, torch.Tensor]) -> None:
    shapes = {k: tuple(t.shape) for k, t in tensors.items()}
    if any(len(s) != ndim for s in shapes.values()) or len(set(shapes.values())) > 1:
        listed = " and ".join(f"{k} {s}" for k, s in shapes.items())
        raise LossShapeError(
            f"{fn}(): {', '.join(shapes)} must have the same shape ({axes}); got {listed}."
            + _shape_hint(shapes, ndim, axes)
        )
    if any(n == 0 for n in next(iter(shapes.values()))):
        raise LossShapeError(f"{fn}(): the inputs are empty, shape {next(iter(shapes.values()))}.")


def _common_dtype(*ts: torch.Tensor) -> list[torch.Tensor]:
    """One precision for all; real inputs stay real (a real mask with complex spectra)."""
    dtype = functools.reduce(torch.promote_types, [t.dtype for t in ts])
    real = dtype.to_real() if dtype.is_complex else dtype
    return [t.to(dtype if t.is_complex() else real) for t in ts]


def _waveforms(fn: str, estimate: ArrayLike, reference: ArrayLike):
    """Check and convert a waveform pair: real, same shape ``(batch, time)``."""
    e, r = _tensor(estimate, "estimate", fn), _tensor(reference, "reference", fn)
    for key, t in (("estimate", e), ("reference", r)):
        if t.is_complex():
            raise TypeError(
                f"{fn}(): {key}= is complex ({t.dtype}); waveform losses take real (batch, time) "
                "signals. For STFTs use the *_from_spectra variants, or invert with sedemo.stft.istft."
            )
    _same_shape(fn, 2, "batch, time", {"estimate": e, "reference": r})
    return _common_dtype(e, r)


def _spectra(fn: str, complex_keys: Iterable[str] = (), **arrays: ArrayLike) -> list[torch.Tensor]:
    """Check and convert spectra / masks: same shape ``(batch, F, T)``; the keys in
    ``complex_keys`` must be complex because the phase enters the formula."""
    tensors = {k: _tensor(v, k, fn) for k, v in arrays.items()}
    for k in complex_keys:
        if not tensors[k].is_complex():
            raise TypeError(
                f"{fn}(): {k}= must be a complex STFT (batch, F, T) because the phase enters the "
                f"formula; got a real {tensors[k].dtype} array. Use sedemo.stft.stft(x), not its magnitude."
            )
    _same_shape(fn, 3, "batch, F, T", tensors)
    return _common_dtype(*tensors.values())


def _reduce(per_item: torch.Tensor, reduction: str, fn: str) -> torch.Tensor:
    if reduction == "mean":
        return per_item.mean()
    if reduction == "sum":
        return per_item.sum()
    if reduction == "none":
        return per_item
    raise ValueError(f"{fn}(): reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_eps(fn: str, **values: float) -> None:
    for k, v in values.items():
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{fn}(): {k} must be a finite number >= 0, got {v!r}")


def _item_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over every axis but the first (batch)."""
    return x.flatten(1).mean(1)


def _energy(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum(-1)


def _cplx_sq(x: torch.Tensor) -> torch.Tensor:
    """|x|² for complex x (without a square root), x² for real x."""
    return x.real.square() + x.imag.square() if x.is_complex() else x.square()


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
    D. Wang, TASLP 2019. Chapter 6 (book/06_losses.ipynb).

    >>> import torch
    >>> mse(estimate=torch.ones(2, 4), reference=torch.zeros(2, 4))
    tensor(1.)
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
    """
    e, r = _waveforms("mae", estimate, reference)
    return _reduce((e - r).abs().mean(-1), reduction, "mae")


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
    :func:`sedemo.stft.stft` (default ``cfg``: 320-sample square-root Hann window,
    160 hop, no window normalisation, so values scale with ``n_fft``).
    ``domain`` is ``"magnitude"`` or ``"complex"`` and ``p`` the exponent, see
    :func:`spectral_loss_from_spectra`; :func:`spectral_l1`, :func:`spectral_l2`,
    :func:`complex_l1`, :func:`complex_l2` are its four common settings. Chapter 6.
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
    """
    return spectral_loss(estimate=estimate, reference=reference, p=1, domain="magnitude",
                         cfg=cfg, reduction=reduction)


def spectral_l2(*, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
                reduction: str = "mean") -> torch.Tensor:
    """Magnitude L2: ``mean_{f,t} ( |Ŝ| − |S| )²`` of the STFTs of ``(batch, time)``
    waveforms. See :func:`spectral_loss`. Chapter 6 (C3, C4)."""
    return spectral_loss(estimate=estimate, reference=reference, p=2, domain="magnitude",
                         cfg=cfg, reduction=reduction)


def complex_l1(*, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
               reduction: str = "mean") -> torch.Tensor:
    """Complex (Re/Im) L1: ``mean_{f,t} ( |ΔRe| + |ΔIm| )`` of the STFTs of
    ``(batch, time)`` waveforms. See :func:`spectral_loss`. Chapter 6 (C4)."""
    return spectral_loss(estimate=estimate, reference=reference, p=1, domain="complex",
                         cfg=cfg, reduction=reduction)


def complex_l2(*, estimate: ArrayLike, reference: ArrayLike, cfg: STFTConfig = DEFAULT,
               reduction: str = "mean") -> torch.Tensor:
    """Complex L2: ``mean_{f,t} |Ŝ − S|²`` of the STFTs of ``(batch, time)``
    waveforms. See :func:`spectral_loss`. Chapter 6 (C4) and chapter 5."""
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
    (GUIDEBOOK §3). The compression (:func:`sedemo.features.compress`) shrinks the
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
    ``(batch, time)`` waveforms (Braun & Tashev 2021; GUIDEBOOK §3). Chapter 6 (C7).

    >>> import torch
    >>> s = torch.randn(2, 1600)
    >>> float(compressed_complex_loss(estimate=s, reference=s))
    0.0
    """
    fn = "compressed_complex_loss"
    e, r = _waveforms(fn, estimate, reference)
    return _reduce(_compressed_complex(stft(e, cfg), stft(r, cfg), c, lam, eps, fn), reduction, fn)


# ----------------------------------------------------------------------------
# Mask-based losses (MA, SA, PSA, complex SA)
# ----------------------------------------------------------------------------
def mask_approximation_loss(*, mask_estimate: ArrayLike, mask_target: ArrayLike,
                            reduction: str = "mean") -> torch.Tensor:
    """Mask approximation (MA): ``mean_{f,t} |M̂ − M*|²``.

    ``mask_estimate`` and ``mask_target`` ``(batch, F, T)``, real (IRM, IAM, PSM
    from :mod:`sedemo.masks`) or complex (cIRM: ``|·|²`` of the complex
    difference). Minimum 0 at ``M̂ = M*``. Every bin counts the same, however
    little energy it holds: that is why signal approximation usually wins (C3).
    Reference: Y. Wang, A. Narayanan, D. Wang, TASLP 2014. Chapter 6 (C3), chapter 3.

    >>> import torch
    >>> mask_approximation_loss(mask_estimate=torch.zeros(1, 2, 2), mask_target=torch.ones(1, 2, 2))
    tensor(1.)
    """
    fn = "mask_approximation_loss"
    m, t = _spectra(fn, (), mask_estimate=mask_estimate, mask_target=mask_target)
    return _reduce(_item_mean(_cplx_sq(m - t)), reduction, fn)


def signal_approximation_loss(*, mask_estimate: ArrayLike, mixture: ArrayLike, clean: ArrayLike,
                              reduction: str = "mean") -> torch.Tensor:
    """Signal approximation (SA): ``mean_{f,t} ( M̂·|Y| − |S| )²``.

    ``mask_estimate`` real ``(batch, F, T)``; ``mixture`` (Y) and ``clean`` (S)
    STFTs of the same shape (complex, or real magnitudes). The mask is judged by
    the magnitude it produces, so loud bins weigh more. Minimum 0 at the unclipped
    ``M̂ = |S|/|Y|``. References: F. Weninger et al., GlobalSIP 2014; H. Erdogan et
    al., ICASSP 2015. Chapter 6 (C3), chapter 3.

    >>> import torch
    >>> Y = torch.full((1, 2, 2), 2.0); S = torch.ones(1, 2, 2)
    >>> signal_approximation_loss(mask_estimate=torch.full((1, 2, 2), 0.5), mixture=Y, clean=S)
    tensor(0.)
    """
    fn = "signal_approximation_loss"
    m, y, s = _spectra(fn, (), mask_estimate=mask_estimate, mixture=mixture, clean=clean)
    if m.is_complex():
        raise TypeError(f"{fn}(): mask_estimate= must be real (a magnitude mask); for a complex "
                        "mask use complex_signal_approximation_loss")
    return _reduce(_item_mean((m * y.abs() - s.abs()).square()), reduction, fn)


def _projected_clean(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``|S|·cos(θ_S − θ_Y) = Re(S·conj(Y)) / |Y|``, 0 where ``Y = 0``."""
    mag_y = y.abs()
    nonzero = mag_y > 0
    return torch.where(nonzero, (s * y.conj()).real / torch.where(nonzero, mag_y, torch.ones_like(mag_y)),
                       torch.zeros_like(mag_y))


def phase_sensitive_approximation_loss(*, mask_estimate: ArrayLike, mixture: ArrayLike,
                                       clean: ArrayLike, reduction: str = "mean") -> torch.Tensor:
    """Phase-sensitive signal approximation (PSA): ``mean_{f,t} ( M̂·|Y| − |S|·cos Δθ )²``,
    ``Δθ = θ_S − θ_Y``.

    ``mask_estimate`` real ``(batch, F, T)``; ``mixture`` (Y), ``clean`` (S) complex
    STFTs of that shape. ``|S| cos Δθ`` is the part of the clean speech in phase
    with the mixture, computed as ``Re(S·Ȳ)/|Y|`` (0 where ``Y = 0``): a real mask
    cannot do better. The target is not truncated (GUIDEBOOK formula); a mask
    bounded to [0, 1] cannot reach it where it is negative or above ``|Y|``.
    Minimum 0 at the untruncated PSM ``M̂ = Re(S/Y)``. Reference: H. Erdogan, J. R.
    Hershey, S. Watanabe, J. Le Roux, ICASSP 2015. Chapter 6 (C3), chapter 3.
    """
    fn = "phase_sensitive_approximation_loss"
    m, y, s = _spectra(fn, ("mixture", "clean"), mask_estimate=mask_estimate, mixture=mixture, clean=clean)
    if m.is_complex():
        raise TypeError(f"{fn}(): mask_estimate= must be real; for a complex mask use "
                        "complex_signal_approximation_loss")
    return _reduce(_item_mean((m * y.abs() - _projected_clean(s, y)).square()), reduction, fn)


def complex_signal_approximation_loss(*, mask_estimate: ArrayLike, mixture: ArrayLike,
                                      clean: ArrayLike, reduction: str = "mean") -> torch.Tensor:
    """Complex signal approximation (cSA): ``mean_{f,t} |M̂ ⊙ Y − S|²``.

    ``mask_estimate`` complex ``(batch, F, T)`` (a network's two output channels
    ``(batch, 2, F, T)`` become one with ``torch.complex(out[:, 0], out[:, 1])``;
    a real mask is also accepted); ``mixture`` (Y) and ``clean`` (S) complex STFTs.
    Minimum 0 at the cIRM ``M̂ = S/Y`` (:func:`sedemo.masks.cirm`). Reference:
    D. Williamson, Y. Wang, D. Wang, "Complex ratio masking for monaural speech
    separation", TASLP 2016. Chapter 6 (C3), chapter 4.
    """
    fn = "complex_signal_approximation_loss"
    m, y, s = _spectra(fn, ("mixture", "clean"), mask_estimate=mask_estimate, mixture=mixture, clean=clean)
    return _reduce(_item_mean(_cplx_sq(m * y - s)), reduction, fn)


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
    """
    fn = "si_sdr_loss"
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    e, r, target = _scaled_target(e, r, eps, zero_mean)
    return _reduce(-_db(_energy(target) + eps, _energy(target - e) + eps), reduction, fn)


def sd_sdr_loss(*, estimate: ArrayLike, reference: ArrayLike, eps: float = 1e-8,
                zero_mean: bool = True, reduction: str = "mean") -> torch.Tensor:
    """Negative scale-dependent SDR in dB, per ``(batch, time)`` item:

        ``−10·log10( (‖α s‖² + eps) / (‖s − ŝ‖² + eps) )``,  ``α = ŝᵀs / (‖s‖² + eps)``

    zero-mean first as :func:`si_sdr_loss`; equals ``−metrics.sd_sdr`` for
    ``eps = 0``. Punishes a wrong gain (asymmetrically: too quiet is worse than too
    loud). ``eps`` as in :func:`si_sdr_loss`. Reference: Le Roux et al., ICASSP
    2019. Chapter 6 (C6).
    """
    fn = "sd_sdr_loss"
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    e, r, target = _scaled_target(e, r, eps, zero_mean)
    return _reduce(-_db(_energy(target) + eps, _energy(r - e) + eps), reduction, fn)


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
    """Multi-resolution STFT loss of Yamamoto et al. (2020), GUIDEBOOK §3:

        ``Σ_m [ ‖|S_m| − |Ŝ_m|‖_F / ‖|S_m|‖_F  +  mean_{f,t} | log|S_m| − log|Ŝ_m| | ]``

    per ``(batch, time)`` item (the Frobenius norms are over the item's F×T bins),
    where ``S_m`` is the STFT (:func:`sedemo.stft.stft`, ``window``) at resolution
    ``m`` of ``resolutions`` (``(n_fft, hop)`` pairs, default
    :data:`MR_STFT_RESOLUTIONS` = (512, 128), (1024, 256), (256, 64)). The first term
    is the spectral convergence, the second the log-magnitude L1. It is a **sum**
    over resolutions, as in GUIDEBOOK (the Parallel WaveGAN code averages them,
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
# A differentiable STOI-like loss
# ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _third_octave_np(n_fft: int, sample_rate: int, n_bands: int, min_freq: float) -> np.ndarray:
    k = np.arange(n_bands)
    centre = min_freq * 2.0 ** (k / 3.0)
    lo, hi = centre * 2.0 ** (-1.0 / 6.0), centre * 2.0 ** (1.0 / 6.0)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    bands = ((freqs[None, :] >= lo[:, None]) & (freqs[None, :] < hi[:, None])).astype(np.float64)
    empty = np.flatnonzero(bands.sum(1) == 0)
    if empty.size:
        raise ValueError(
            f"third-octave band {int(empty[0])} ({lo[empty[0]]:.0f}-{hi[empty[0]]:.0f} Hz) holds no "
            f"STFT bin with n_fft={n_fft} at {sample_rate} Hz; use a larger n_fft or a higher min_freq"
        )
    if hi[-1] > sample_rate / 2:
        raise ValueError(f"the top third-octave band reaches {hi[-1]:.0f} Hz, above the Nyquist "
                         f"frequency {sample_rate / 2:.0f} Hz; use fewer bands")
    return bands


def third_octave_bands(n_fft: int = 512, sample_rate: int = 16000, n_bands: int = 15,
                       min_freq: float = 150.0) -> torch.Tensor:
    """One-third-octave band matrix ``(n_bands, n_fft//2 + 1)`` of 0/1 weights, as in STOI.

    Band ``j`` has centre ``min_freq·2^(j/3)`` (150 Hz to 3.8 kHz for the defaults)
    and edges ``centre·2^(∓1/6)``; it holds the STFT bins whose frequency
    ``k·sample_rate/n_fft`` lies in ``[low, high)``. Raises ``ValueError`` when a
    band holds no bin. Used by :func:`stoi_like_loss`. Chapter 6 (C8).
    """
    return torch.from_numpy(_third_octave_np(int(n_fft), int(sample_rate), int(n_bands), float(min_freq)).copy())


def _unit_norm(x: torch.Tensor, dim: int, eps: float) -> torch.Tensor:
    x = x - x.mean(dim, keepdim=True)
    return x / (x.square().sum(dim, keepdim=True) + eps).sqrt()


def stoi_like_loss(
    *, estimate: ArrayLike, reference: ArrayLike, sample_rate: int = 16000, n_fft: int = 512,
    hop: int = 256, n_bands: int = 15, min_freq: float = 150.0, segment_frames: int = 30,
    eps: float = 1e-8, reduction: str = "mean",
) -> torch.Tensor:
    """A differentiable STOI-like loss, ``1 − d`` with ``d`` an ESTOI-like correlation.

    Per ``(batch, time)`` item:

    1. STFT with a Hann window of ``n_fft`` = 512 samples and ``hop`` = 256 (32 ms
       frames every 16 ms at 16 kHz; :func:`sedemo.stft.stft`);
    2. one-third-octave band envelopes ``X[j, t] = sqrt(Σ_{k∈band j} |X[k, t]|² + eps)``,
       15 bands from 150 Hz (:func:`third_octave_bands`), as in STOI;
    3. every segment of ``N = segment_frames`` = 30 consecutive frames (step one
       frame), a ``J × N`` matrix for the clean and for the estimated envelopes;
    4. ESTOI-like normalisation of each segment: every row (band) made zero-mean
       and unit-norm over time, then every column (frame) zero-mean and unit-norm
       over bands; ``d`` = mean over segments and frames of the column
       correlations ``x̄_nᵀ ȳ_n`` (range −1 to 1);
    5. loss = ``1 − d``: 0 for a perfect estimate (up to eps), about 1 for an
       unrelated one, at most 2.

    What it leaves out, compared with real STOI/ESTOI (:func:`sedemo.metrics.stoi`,
    Taal et al. 2011, Jensen & Taal 2016): no resampling to 10 kHz (so other frame,
    hop and segment durations: 32/16/480 ms instead of 25.6/12.8/384 ms); no
    removal of silent frames (pauses count, with the near-constant clean envelope
    correlating poorly with anything); no clipping of the estimate's envelope at
    −15 dB SDR and no per-band STOI correlation (this is the ESTOI normalisation);
    bins are assigned to bands by their centre frequency. It therefore tracks
    ESTOI's ranking rather than its values (chapter 6 and the tests check the rank
    agreement with pystoi).

    ``eps`` (default 1e-8) inside the envelope's square root and the two
    normalisations keeps the gradient finite; a silent reference or an all-zero
    estimate gives ``d = 0`` (loss 1). Likewise a segment in which the reference is
    exactly constant (digital silence longer than a segment) contributes 0 even for
    a perfect estimate, so the minimum is 0 only for signals without such
    stretches (add a tiny noise floor to the reference if needed). Needs at least ``segment_frames`` STFT frames
    (``segment_frames·hop`` samples, 0.48 s by default), else ``ValueError``.
    Chapter 6 (C8: does optimising an intelligibility proxy improve only that metric?).
    """
    fn = "stoi_like_loss"
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    cfg = STFTConfig(n_fft=int(n_fft), hop=int(hop), window="hann", sample_rate=int(sample_rate))
    bands = third_octave_bands(n_fft, sample_rate, n_bands, min_freq).to(device=e.device, dtype=e.dtype)
    if cfg.n_frames(e.shape[-1]) < segment_frames:
        raise ValueError(
            f"{fn}(): the signals ({e.shape[-1]} samples) give {cfg.n_frames(e.shape[-1])} STFT "
            f"frames, fewer than one segment of {segment_frames} frames; need at least "
            f"{segment_frames * hop} samples ({segment_frames * hop / sample_rate:.2f} s)"
        )

    def segments(x):
        env = (torch.matmul(bands, _cplx_sq(stft(x, cfg))) + eps).sqrt()  # (B, J, T)
        return env.unfold(-1, segment_frames, 1).transpose(1, 2)  # (B, M, J, N)

    def normalised(seg):
        return _unit_norm(_unit_norm(seg, -1, eps), -2, eps)

    corr = (normalised(segments(r)) * normalised(segments(e))).sum(-2)  # (B, M, N)
    return _reduce(1.0 - _item_mean(corr), reduction, fn)


# ----------------------------------------------------------------------------
# Embedding (deep feature) loss with a fixed, offline feature network
# ----------------------------------------------------------------------------
class RandomFeatureNet(torch.nn.Module):
    """A small, fixed, randomly initialised feature network: log-mel -> 3 dilated Conv1d.

    ``x (batch, time)`` -> list of 3 activations ``(batch, channels, frames)``.
    Front end: STFT with a 512-sample Hann window and a 160-sample hop (10 ms at
    16 kHz), power, 40-band mel filterbank (:func:`sedemo.features.mel_filterbank`),
    ``log(mel + 1e-5)``. Then three ``Conv1d`` layers along time (kernel 5,
    dilations 1, 2, 4, ``channels`` = 64, same padding, ReLU), a receptive field of
    29 frames (0.29 s). Weights are drawn once from ``N(0, 2/fan_in)`` (He
    initialisation) with a private ``torch.Generator`` seeded by ``seed`` (the
    global RNG is untouched), biases are 0; the parameters never require grad.
    Same seed, same network, on every machine.

    Why a random network: no pretrained wav2vec 2.0 or PANN weights are available
    offline in this project, so the book cannot ship them. Random convolutional
    features on a log-mel front end are a known stand-in for a perceptual
    embedding: they still compare local spectro-temporal patterns at several time
    scales (a "deep feature" distance) instead of samples. They are not trained on
    speech, so they do not encode phonetic knowledge. Chapter 6 (C5).
    """

    def __init__(self, seed: int = 0, n_mels: int = 40, channels: int = 64, kernel_size: int = 5,
                 dilations: Sequence[int] = (1, 2, 4), sample_rate: int = 16000,
                 n_fft: int = 512, hop: int = 160):
        super().__init__()
        self.cfg = STFTConfig(n_fft=n_fft, hop=hop, window="hann", sample_rate=sample_rate)
        self.register_buffer("mel", mel_filterbank(n_mels, n_fft, sample_rate))
        gen = torch.Generator().manual_seed(int(seed))
        layers, c_in = [], n_mels
        for d in dilations:
            conv = torch.nn.Conv1d(c_in, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / (c_in * kernel_size)))
                conv.bias.zero_()
            layers.append(conv)
            c_in = channels
        self.convs = torch.nn.ModuleList(layers)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = torch.log(torch.matmul(self.mel, _cplx_sq(stft(x, self.cfg))) + 1e-5)
        feats = []
        for conv in self.convs:
            h = torch.relu(conv(h))
            feats.append(h)
        return feats


class EmbeddingLoss(torch.nn.Module):
    """Lp distance between embeddings of a fixed feature network (a "deep feature" loss).

        ``mean_l  mean | φ_l(ŝ) − φ_l(s) |^p``

    over the layers ``l`` the network returns (one tensor or a list) and their
    elements. ``network``: any ``torch.nn.Module`` mapping ``(batch, time)``
    waveforms to embeddings (e.g. an encoder you trained yourself); ``None`` uses
    :class:`RandomFeatureNet` ``(seed=seed)``, a frozen, seeded random conv stack on
    log-mel features, which stands in for wav2vec 2.0 / PANN embeddings because no
    pretrained weights can be downloaded or shipped here (see its docstring). The
    network is frozen (``requires_grad_(False)``, kept in ``eval()``): the loss must
    not train it. Gradients flow through it to the estimate. Inputs are cast to the
    network's dtype (``EmbeddingLoss().double()`` for float64).

    Use it as a **regulariser** added to a signal loss (e.g. ``Combined([(1,
    si_sdr_loss), (w, EmbeddingLoss())])``), not alone: an embedding is not
    invertible, so many signals share it (claim C5, chapter 6). Minimum 0 at ``ŝ = s``.
    Reference: F. G. Germain, Q. Chen, V. Koltun, "Speech denoising with deep
    feature losses", Interspeech 2019.

    >>> import torch
    >>> loss = EmbeddingLoss(seed=0)
    >>> s = torch.randn(2, 8000)
    >>> float(loss(estimate=s, reference=s))
    0.0
    """

    def __init__(self, network: torch.nn.Module | None = None, p: float = 1, seed: int = 0):
        super().__init__()
        if not (isinstance(p, (int, float)) and p >= 1):
            raise ValueError(f"EmbeddingLoss: p must be a number >= 1, got {p!r}")
        if network is not None and not isinstance(network, torch.nn.Module):
            raise TypeError(f"EmbeddingLoss: network must be a torch.nn.Module, got {type(network).__name__}")
        self.network = RandomFeatureNet(seed=seed) if network is None else network
        self.network.requires_grad_(False)
        self.network.eval()
        self.p = p

    def train(self, mode: bool = True):
        super().train(mode)
        self.network.eval()  # the feature network always stays in inference mode
        return self

    def _dtype(self, fallback: torch.dtype) -> torch.dtype:
        for t in list(self.network.parameters()) + list(self.network.buffers()):
            if t.is_floating_point():
                return t.dtype
        return fallback

    def forward(self, *, estimate: ArrayLike, reference: ArrayLike, reduction: str = "mean") -> torch.Tensor:
        e, r = _waveforms("EmbeddingLoss", estimate, reference)
        dtype = self._dtype(e.dtype)
        fe, fr = self.network(e.to(dtype)), self.network(r.to(dtype))
        fe = [fe] if isinstance(fe, torch.Tensor) else list(fe)
        fr = [fr] if isinstance(fr, torch.Tensor) else list(fr)
        per_layer = []
        for a, b in zip(fe, fr):
            d = (a - b).abs()
            per_layer.append(_item_mean(d.square() if self.p == 2 else d.pow(self.p)))
        return _reduce(torch.stack(per_layer).mean(0), reduction, "EmbeddingLoss")


_EMBEDDING_CACHE: dict = {}


def embedding_loss(*, estimate: ArrayLike, reference: ArrayLike, p: float = 1, seed: int = 0,
                   network: torch.nn.Module | None = None, reduction: str = "mean") -> torch.Tensor:
    """Functional form of :class:`EmbeddingLoss` (same formula and network).

    Without ``network`` it uses the :class:`RandomFeatureNet` of ``seed``, built
    once per (seed, dtype, device) and cached. A regulariser (C5), chapter 6.
    """
    e, _ = _waveforms("embedding_loss", estimate, reference)
    if network is None:
        key = (int(seed), e.dtype, str(e.device))
        if key not in _EMBEDDING_CACHE:
            _EMBEDDING_CACHE[key] = RandomFeatureNet(seed=seed).to(device=e.device, dtype=e.dtype)
        network = _EMBEDDING_CACHE[key]
    return EmbeddingLoss(network=network, p=p)(estimate=estimate, reference=reference, reduction=reduction)


# ----------------------------------------------------------------------------
# Weighted combinations
# ----------------------------------------------------------------------------
def _term_name(fn: Callable) -> str:
    if isinstance(fn, functools.partial):
        opts = ", ".join(f"{k}={v!r}" for k, v in fn.keywords.items())
        return f"{_term_name(fn.func)}({opts})" if opts else _term_name(fn.func)
    return getattr(fn, "__name__", type(fn).__name__)


class Combined:
    """A weighted sum of losses: ``Σ_i w_i · loss_i(**inputs)``.

    ``terms``: a sequence of ``(weight, loss)`` pairs, where ``loss`` is a callable
    taking the same keyword inputs (e.g. ``estimate=``, ``reference=``), a name of
    :data:`LOSSES`, or a ``(name, options)`` pair passed to :func:`get_loss`.
    ``Combined(terms)(estimate=..., reference=..., reduction="mean")`` returns the
    sum; ``.parts(...)`` returns ``{name: weighted value}`` for logging. A
    ``reduction`` other than ``"mean"`` is passed on to every term.
    Chapter 6 (C7) and the training scripts.

    >>> import torch
    >>> loss = Combined([(1.0, "mse"), (0.5, "mae")])
    >>> loss(estimate=torch.ones(1, 4), reference=torch.zeros(1, 4))
    tensor(1.5000)
    """

    def __init__(self, terms: Sequence[tuple[float, Callable | str | tuple[str, dict]]]):
        if isinstance(terms, (str, bytes)) or not isinstance(terms, Iterable):
            raise TypeError("Combined: terms must be a list of (weight, loss) pairs")
        parsed = []
        for item in terms:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError(f"Combined: each term must be a (weight, loss) pair, got {item!r}")
            w, fn = item
            if not (isinstance(w, (int, float)) and math.isfinite(w)):
                raise ValueError(f"Combined: weight must be a finite number, got {w!r}")
            if isinstance(fn, str):
                fn = get_loss(fn)
            elif isinstance(fn, (tuple, list)) and len(fn) == 2 and isinstance(fn[0], str):
                fn = get_loss(fn[0], **dict(fn[1]))
            elif not callable(fn):
                raise TypeError(f"Combined: {fn!r} is not a loss (a callable or a name of LOSSES)")
            parsed.append((float(w), fn))
        if not parsed:
            raise ValueError("Combined: terms is empty")
        self.terms = parsed

    def _values(self, reduction: str, inputs: dict) -> list[torch.Tensor]:
        extra = {} if reduction == "mean" else {"reduction": reduction}
        return [w * fn(**inputs, **extra) for w, fn in self.terms]

    def __call__(self, *, reduction: str = "mean", **inputs) -> torch.Tensor:
        values = self._values(reduction, inputs)
        return functools.reduce(torch.add, values)

    def parts(self, *, reduction: str = "mean", **inputs) -> dict[str, torch.Tensor]:
        """The weighted value of every term, by name (for logging)."""
        return {f"{w:g}*{_term_name(fn)}": v
                for (w, fn), v in zip(self.terms, self._values(reduction, inputs))}

    def __repr__(self) -> str:
        return "Combined([" + ", ".join(f"({w:g}, {_term_name(fn)})" for w, fn in self.terms) + "])"


def combined_loss(*, terms: Sequence[tuple[float, Callable | str]], reduction: str = "mean",
                  **inputs) -> torch.Tensor:
    """Functional form of :class:`Combined`: ``Σ_i w_i · loss_i(**inputs)``. Chapter 6."""
    return Combined(terms)(reduction=reduction, **inputs)


#: Weight of the compressed complex loss in :func:`si_sdr_compressed_loss` (see there).
C7_COMPRESSED_WEIGHT = 30.0


def si_sdr_compressed_loss(
    *, estimate: ArrayLike, reference: ArrayLike, weight: float = C7_COMPRESSED_WEIGHT,
    c: float = 0.3, lam: float = 0.3, cfg: STFTConfig = DEFAULT, eps: float = 1e-8,
    reduction: str = "mean",
) -> torch.Tensor:
    """SI-SDR loss + weight × compressed complex loss: the combination of claim C7.

        ``si_sdr_loss(ŝ, s) + weight · compressed_complex_loss(ŝ, s; c, λ)``

    SI-SDR alone leaves the gain (and some colouration) free; the compressed
    spectral term (Braun & Tashev 2021) pins the level and the spectral envelope.
    ``weight`` = :data:`C7_COMPRESSED_WEIGHT` (30) is our choice, not a published
    value. Because the SI-SDR term is exactly gain invariant, the output level at
    the optimum is set by the compressed term for any weight > 0; the weight only
    balances the two terms' pull on the waveform's shape. We chose it so that the
    two terms span similar ranges during training: for the speech-like test signal
    at RMS 0.05-0.1 with white noise at 0-10 dB SNR (default ``cfg``), the
    compressed loss of the noisy input is 0.25-0.8 (30× that: 7-24), while the
    SI-SDR loss has 10-20 dB to go from the input to a good estimate. Tune it for
    other data (chapter 6 reports the value it used). ``eps`` is that of
    :func:`si_sdr_loss`; the compressed term uses its own default (1e-12).
    Chapter 6 (C7).
    """
    fn = "si_sdr_compressed_loss"
    e, r = _waveforms(fn, estimate, reference)
    a = si_sdr_loss(estimate=e, reference=r, eps=eps, reduction="none")
    b = compressed_complex_loss(estimate=e, reference=r, c=c, lam=lam, cfg=cfg, reduction="none")
    return _reduce(a + weight * b, reduction, fn)


#: Weight of the embedding term in :func:`compressed_embedding_loss` (see there).
C5_EMBEDDING_WEIGHT = 0.01


def compressed_embedding_loss(
    *, estimate: ArrayLike, reference: ArrayLike, weight: float = C5_EMBEDDING_WEIGHT,
    c: float = 0.3, lam: float = 0.3, cfg: STFTConfig = DEFAULT, p: float = 1, seed: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Compressed complex loss + weight × embedding loss: the regularised loss of claim C5.

        ``compressed_complex_loss(ŝ, s; c, λ) + weight · embedding_loss(ŝ, s; p, seed)``

    The embedding term (:func:`embedding_loss`, the frozen random-feature network that
    stands in for wav2vec/PANN here) acts as a regulariser, so its weight is small:
    on noisy training mixtures of the book's corpus the embedding loss is 10-40 times
    the compressed loss (1.2-3.3 vs 0.03-0.26), and ``weight`` = 0.01 makes it about a
    tenth to a third of the main term. Our choice, reported in chapter 6 (C5).
    """
    fn = "compressed_embedding_loss"
    e, r = _waveforms(fn, estimate, reference)
    a = compressed_complex_loss(estimate=e, reference=r, c=c, lam=lam, cfg=cfg, reduction="none")
    b = embedding_loss(estimate=e, reference=r, p=p, seed=seed, reduction="none")
    return _reduce(a + weight * b, reduction, fn)


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
    "stoi_like": stoi_like_loss,
    "embedding": embedding_loss,
    "si_sdr+compressed": si_sdr_compressed_loss,
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

    Raises ``KeyError`` listing the valid names for an unknown name, and
    ``TypeError`` listing the accepted options for an unknown option. Used by the
    training scripts of chapters 3, 5 and 6.

    >>> import torch
    >>> loss = get_loss("si_sdr", eps=0.0)
    >>> s = torch.randn(1, 100, dtype=torch.float64)
    >>> bool(loss(estimate=2 * s, reference=s) < -200)
    True
    """
    if name not in LOSSES:
        raise KeyError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
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
