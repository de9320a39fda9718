"""Mask-based losses: mask approximation, signal approximation, phase-sensitive and
complex signal approximation (claim C3). Chapter: 06_losses.
"""
from __future__ import annotations


import torch

from sedemo._utils import ArrayLike

from sedemo.losses._contract import _cplx_sq, _item_mean, _reduce, _spectra


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

    Chapters: 06_losses, 03_masks.
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

    Chapters: 06_losses, 03_masks.
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
    cannot do better. The target is not truncated (the guidebook's formula); a mask
    bounded to [0, 1] cannot reach it where it is negative or above ``|Y|``.
    Minimum 0 at the untruncated PSM ``M̂ = Re(S/Y)``. Reference: H. Erdogan, J. R.
    Hershey, S. Watanabe, J. Le Roux, ICASSP 2015. Chapter 6 (C3), chapter 3.
    Chapters: 06_losses, 03_masks.
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
    Chapters: 06_losses, 04_phase.
    """
    fn = "complex_signal_approximation_loss"
    m, y, s = _spectra(fn, ("mixture", "clean"), mask_estimate=mask_estimate, mixture=mixture, clean=clean)
    return _reduce(_item_mean(_cplx_sq(m * y - s)), reduction, fn)


