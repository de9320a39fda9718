"""Oracle time-frequency masks: IBM, IRM, IAM (SMM), PSM and the complex ratio mask.

Chapter 3 introduces the real-valued masks and
their oracle upper bounds; chapter 4 the complex
ratio mask (cIRM). The formulas are those of the book's notation section
(the guidebook's definitions), one definition each.

Notation: ``Y = S + N`` are complex STFTs (see :mod:`sedemo.dsp.stft`) of the mixture,
the clean speech and the noise, any shape ``(..., F, T)``; ``Δθ = θ_S − θ_Y``.

* IBM  = ``1[10·log10(|S|²/|N|²) > LC]``                 (Wang, Narayanan & Wang 2014)
* IRM  = ``(|S|² / (|S|² + |N|²))^β``,  β = 0.5           (Wang, Narayanan & Wang 2014)
* IAM  = ``|S| / |Y|`` clipped to [0, max_value]          (a.k.a. SMM; Weninger et al. 2014)
* PSM  = ``(|S| / |Y|)·cos Δθ`` truncated to [0, max_value]   (Erdogan et al. 2015)
* cIRM = ``S / Y`` (complex), optionally compressed       (Williamson, Wang & Wang 2016)

Every argument is keyword-only and named after the quantity it holds
(``clean=``, ``noise=``, ``mixture=``), so that ``irm(clean=S, noise=N)`` cannot be
confused with ``irm(clean=S, mixture=Y)``. NumPy in gives NumPy out; torch in gives
torch out (when the inputs mix both, torch). Real masks come back as float32 for
complex64 spectra and float64 for complex128 spectra; the cIRM as complex.

Silent bins. No epsilon is added to any formula; instead every mask is given an
explicit value where its formula is 0/0:

* IBM: 0 where ``|S| = |N| = 0`` (no speech); 1 where only ``|N| = 0`` (SNR +∞).
* IRM: 0 where ``|S| = |N| = 0``.
* IAM, PSM, cIRM: 0 wherever ``Y = 0`` exactly. Any value gives the same masked
  output (``M·0 = 0``), and 0 keeps ``cirm(...) * Y == S`` exact wherever
  ``Y ≠ 0`` and silence mapped to silence. (``Y = 0`` with ``S ≠ 0`` means the
  noise cancelled the speech exactly: no mask can recover it.)
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers

import torch

from sedemo._utils import ArrayLike, as_tensor, check_finite, like

__all__ = [
    "ibm", "irm", "iam", "smm", "psm", "cirm", "uncompress_cirm", "apply_mask",
    "oracle_mask", "ORACLE_MASKS", "UNCOMPRESS_MARGIN",
]

#: Relative margin used by :func:`uncompress_cirm`: compressed values are clipped to
#: ``|x| <= K * (1 - UNCOMPRESS_MARGIN)`` before the inverse, where the inverse would
#: be infinite. With ``K=10, C=0.1`` that caps recovered components at ±145.1.
UNCOMPRESS_MARGIN = 1e-6

_USAGE = {
    "ibm": "ibm(clean=S, noise=N, lc_db=0.0)",
    "irm": "irm(clean=S, noise=N, beta=0.5)",
    "iam": "iam(clean=S, mixture=Y, max_value=1.0)",
    "psm": "psm(clean=S, mixture=Y, max_value=1.0)",
    "cirm": "cirm(clean=S, mixture=Y, compress=False, K=10.0, C=0.1)",
}


def _clear_keywords(fn):
    """Turn Python's argument errors into messages that show the correct call."""
    sig = inspect.signature(fn)
    needs = [p for p in ("noise", "mixture") if p in sig.parameters]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            sig.bind(*args, **kwargs)
        except TypeError as err:
            hint = ""
            if args:
                hint = " All arguments are keyword-only, so that clean, noise and mixture cannot be swapped."
            other = {"noise": "mixture", "mixture": "noise"}.get(needs[0]) if needs else None
            if other and other in kwargs:
                conv = "mixture=clean + noise" if needs[0] == "mixture" else "noise=mixture - clean"
                hint += f" {fn.__name__}() is defined from {needs[0]}=, not {other}=: pass {conv}."
            raise TypeError(f"{err}. Call it as {_USAGE[fn.__name__]}.{hint}") from None
        return fn(*args, **kwargs)

    return wrapper


def _prepare(name: str, complex_needed: bool, **arrays: ArrayLike):
    """Convert the spectra to tensors of one common dtype and check their shapes.

    Returns ``(tensors, reference)``; ``reference`` decides the output type (a torch
    tensor when any input is one, so that NumPy in gives NumPy out)."""
    tensors = {}
    for key, value in arrays.items():
        if value is None:
            raise TypeError(f"{name}() got {key}=None; pass the STFT array. Call it as {_USAGE[name]}.")
        t = as_tensor(value)
        if not (t.is_complex() or t.is_floating_point()):
            t = t.to(torch.get_default_dtype())
        if complex_needed and not t.is_complex():
            raise TypeError(
                f"{name}() needs complex STFTs because the phase enters the formula; {key}= is a "
                f"real {t.dtype} array. Compute it with sedemo.dsp.stft.stft(x), not its magnitude."
            )
        check_finite(t, f"{name}() {key}=")
        tensors[key] = t
    shapes = {key: tuple(t.shape) for key, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{name}(): the spectra must have the same (..., F, T) shape; got {listed}")
    dtype = functools.reduce(torch.promote_types, [t.dtype for t in tensors.values()])
    tensors = {k: t.to(dtype) for k, t in tensors.items()}
    reference = next((v for v in arrays.values() if isinstance(v, torch.Tensor)), next(iter(arrays.values())))
    return tensors, reference


def _power(x: torch.Tensor) -> torch.Tensor:
    return x.abs().square()


def _check_positive(name: str, **values: float) -> None:
    for key, v in values.items():
        if not (_is_real_number(v) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name}(): {key} must be a finite number > 0, got {v!r}")


def _is_real_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@_clear_keywords
def ibm(*, clean: ArrayLike, noise: ArrayLike, lc_db: float = 0.0):
    """Ideal binary mask ``IBM = 1[10·log10(|S|²/|N|²) > LC]`` (float 0/1).

    ``clean``, ``noise``: STFTs ``S``, ``N`` of the same shape ``(..., F, T)``
    (complex; a real array is used as is, since only ``|·|`` enters). ``lc_db``:
    the local criterion LC in dB. Returns a real mask of the same shape.
    Evaluated without a division as ``|S|² > 10^(LC/10)·|N|²``, so bins with
    ``|N| = 0`` give 1 (SNR = +∞) and silent bins (``|S| = |N| = 0``) give 0.
    Raising ``lc_db`` can only switch bins off (monotonic, tested).

    Reference: Wang, Narayanan & Wang, "On training targets for supervised speech
    separation", TASLP 2014. Chapter 3.
    Chapter: 03_masks.
    """
    if not (_is_real_number(lc_db) and math.isfinite(lc_db)):
        raise ValueError(f"ibm(): lc_db must be a finite number of dB, got {lc_db!r}")
    t, ref = _prepare("ibm", False, clean=clean, noise=noise)
    ps, pn = _power(t["clean"]), _power(t["noise"])
    mask = (ps > (10.0 ** (lc_db / 10.0)) * pn).to(ps.dtype)
    return like(mask, ref)


@_clear_keywords
def irm(*, clean: ArrayLike, noise: ArrayLike, beta: float = 0.5):
    """Ideal ratio mask ``IRM = (|S|² / (|S|² + |N|²))^β``.

    ``clean``, ``noise``: STFTs of the same shape ``(..., F, T)``; ``beta`` > 0
    (0.5 by default; ``beta=1`` is the Wiener gain ``|S|²/(|S|²+|N|²)``). Returns
    a real mask in [0, 1] of the same shape; 0 on silent bins (``|S| = |N| = 0``).

    Reference: Wang, Narayanan & Wang, TASLP 2014. Chapter 3.
    Chapter: 03_masks.
    """
    _check_positive("irm", beta=beta)
    t, ref = _prepare("irm", False, clean=clean, noise=noise)
    ps, pn = _power(t["clean"]), _power(t["noise"])
    den = ps + pn
    ratio = ps / torch.where(den > 0, den, torch.ones_like(den))  # 0/1 = 0 on silent bins
    # x^beta with its gradient kept finite at x = 0 (masks are targets, but may be differentiated)
    positive = ratio > 0
    mask = torch.where(positive, torch.where(positive, ratio, torch.ones_like(ratio)).pow(beta), torch.zeros_like(ratio))
    return like(mask, ref)


@_clear_keywords
def iam(*, clean: ArrayLike, mixture: ArrayLike, max_value: float = 1.0):
    """Ideal amplitude mask (spectral magnitude mask, SMM) ``|S| / |Y|`` clipped to [0, max_value].

    ``clean``, ``mixture``: STFTs ``S`` and ``Y = S + N``, same shape ``(..., F, T)``.
    ``max_value``: upper clip (1 by default; values above 1 occur where speech and
    noise interfere destructively). Returns a real mask; 0 where ``Y = 0``.

    Reference: Wang, Narayanan & Wang, TASLP 2014 (IAM); Weninger et al.,
    GlobalSIP 2014 (SMM). Chapter 3.
    Chapter: 03_masks.
    """
    _check_positive("iam", max_value=max_value)
    t, ref = _prepare("iam", False, clean=clean, mixture=mixture)
    ms, my = t["clean"].abs(), t["mixture"].abs()
    ratio = torch.where(my > 0, ms / torch.where(my > 0, my, torch.ones_like(my)), torch.zeros_like(my))
    return like(ratio.clamp(0.0, max_value), ref)


smm = iam  # the same mask, under the name used by Weninger et al. (2014)


@_clear_keywords
def psm(*, clean: ArrayLike, mixture: ArrayLike, max_value: float = 1.0):
    """Phase-sensitive mask ``(|S| / |Y|)·cos(θ_S − θ_Y)`` truncated to [0, max_value].

    ``clean``, ``mixture``: complex STFTs ``S`` and ``Y``, same shape ``(..., F, T)``.
    Returns a real mask; 0 where ``Y = 0``. Computed as ``Re(S / Y)``, which is the
    same quantity (``S/Y = (|S|/|Y|)·e^{jΔθ}``): the PSM is the real part of the
    cIRM, truncated. It is negative where the noise flips the phase by more than
    90°, hence the truncation at 0.

    Reference: Erdogan, Hershey, Watanabe & Le Roux, ICASSP 2015. Chapter 3.
    Chapter: 03_masks.
    """
    _check_positive("psm", max_value=max_value)
    t, ref = _prepare("psm", True, clean=clean, mixture=mixture)
    return like(_ratio(t["clean"], t["mixture"]).real.clamp(0.0, max_value), ref)


def _ratio(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``S / Y`` with 0 where ``Y = 0`` (no NaN, also in the gradient)."""
    zero = y == 0
    return torch.where(zero, torch.zeros_like(y), s / torch.where(zero, torch.ones_like(y), y))


@_clear_keywords
def cirm(*, clean: ArrayLike, mixture: ArrayLike, compress: bool = False, K: float = 10.0, C: float = 0.1):
    """Complex ideal ratio mask ``M = S / Y``, optionally compressed.

    ``clean``, ``mixture``: complex STFTs ``S`` and ``Y``, same shape ``(..., F, T)``.
    Returns a complex array ``M`` of that shape with ``M·Y = S`` wherever ``Y ≠ 0``
    (0 where ``Y = 0``): apply it with :func:`apply_mask`.

    ``compress=True`` returns instead the bounded training target of Williamson et
    al. (2016): the compression ``K·(1 − e^(−C·x)) / (1 + e^(−C·x))`` applied to the
    real and to the imaginary part separately, each in (−K, K). Representation:
    a complex array whose real part is the compressed ``Re M`` and whose imaginary
    part is the compressed ``Im M`` (``torch.view_as_real`` gives the two channels).
    It is *not* a mask to multiply with ``Y``: invert it with
    :func:`uncompress_cirm` first. The compression is computed as the identical
    ``K·tanh(C·x/2)``, which cannot overflow for large ``|x|``.

    Reference: Williamson, Wang & Wang, "Complex ratio masking for monaural speech
    separation", TASLP 2016. Chapter 4.
    Chapter: 04_phase.
    """
    _check_positive("cirm", K=K, C=C)
    t, ref = _prepare("cirm", True, clean=clean, mixture=mixture)
    m = _ratio(t["clean"], t["mixture"])
    if compress:
        m = torch.complex(K * torch.tanh(0.5 * C * m.real), K * torch.tanh(0.5 * C * m.imag))
    return like(m, ref)


def uncompress_cirm(Mc: ArrayLike, K: float = 10.0, C: float = 0.1):
    """Exact inverse of the cIRM compression: ``x -> −(1/C)·log((K − x)/(K + x))``.

    ``Mc``: the compressed mask as returned by ``cirm(..., compress=True)`` (complex,
    compressed Re/Im as real/imaginary parts; the inverse is applied to each part),
    or a real array of compressed components (e.g. a network's two output channels),
    inverted element by element. ``K``, ``C`` must match the compression.

    The inverse is infinite at ``x = ±K``, which a network output (or a saturated
    ``tanh``) can reach, so values are first clipped to
    ``|x| ≤ K·(1 − UNCOMPRESS_MARGIN)``: recovered components are exact up to
    ``|Re M|, |Im M| ≈ (1/C)·ln(2/UNCOMPRESS_MARGIN)`` (145.1 for ``C = 0.1``) and
    capped at that value beyond. Computed as the identical ``(2/C)·atanh(x/K)``.
    Returns the same shape and type as ``Mc``. Chapter 4.
    Chapter: 04_phase.
    """
    _check_positive("uncompress_cirm", K=K, C=C)
    mt = as_tensor(Mc)
    if not (mt.is_complex() or mt.is_floating_point()):
        mt = mt.to(torch.get_default_dtype())
    check_finite(mt, "uncompress_cirm() Mc")
    limit = K * (1.0 - UNCOMPRESS_MARGIN)

    def inverse(x):
        return (2.0 / C) * torch.atanh(x.clamp(-limit, limit) / K)

    out = torch.complex(inverse(mt.real), inverse(mt.imag)) if mt.is_complex() else inverse(mt)
    return like(out, Mc)


def apply_mask(mask: ArrayLike, mixture: ArrayLike):
    """Apply a mask to the mixture STFT: ``M ⊙ Y`` (element-wise).

    ``mask``: real ``(..., F, T)`` (IBM, IRM, IAM, PSM, an estimate) scales the
    magnitude and keeps the noisy phase; complex (cIRM) also rotates the phase.
    ``mixture``: complex ``Y`` (a real magnitude ``|Y|`` also works and gives the
    masked magnitude). The shapes must broadcast. Returns the enhanced STFT, torch
    if either input is a torch tensor, otherwise NumPy. A compressed cIRM must be
    passed through :func:`uncompress_cirm` first. Chapters 3 and 4.
    Chapters: 03_masks, 04_phase.
    """
    m, y = as_tensor(mask), as_tensor(mixture)
    try:
        torch.broadcast_shapes(m.shape, y.shape)
    except RuntimeError:
        raise ValueError(
            f"apply_mask(): mask shape {tuple(m.shape)} does not broadcast with "
            f"mixture shape {tuple(y.shape)}; both are (..., F, T)"
        ) from None
    ref = mask if isinstance(mask, torch.Tensor) else mixture
    return like(m * y, ref)


def suppression_gain(mask: ArrayLike, gamma: float):
    """A post-filter that turns a mask's suppression up: the real gain ``min(1, |M|)^γ``, so
    that ``S' = S · min(1, |M|)^γ`` takes ``γ`` times more dB off where the mask already
    suppresses (a bin the mask attenuates by ``a`` dB loses ``(1 + γ) a`` dB) and leaves the
    bins it passes (``|M| >= 1``) alone; ``γ = 0`` is the identity. The idea of
    over-subtraction in spectral subtraction (Berouti, Schwartz and Makhoul, ICASSP 1979) and
    of a mask exponent. ``mask``: real or complex ``(..., F, T)``, a mask or any system's
    effective gain ``|Ŝ| / |Y|`` (:class:`sedemo.models.SuppressionBoost`); ``gamma`` >= 0, finite.
    Returns a real gain of the mask's shape, torch for a torch mask, else NumPy.
    Chapter: 05_complex_mapping."""
    if not (_is_real_number(gamma) and math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"suppression_gain(): gamma must be a finite number >= 0 (0: no change), got {gamma!r}")
    check_finite(as_tensor(mask), "suppression_gain(): mask")
    return like(as_tensor(mask).abs().clamp(max=1.0) ** float(gamma), mask)


#: The oracle masks compared in the chapter 3/4 tables, name -> function.
ORACLE_MASKS = {"IBM": ibm, "IRM": irm, "IAM": iam, "PSM": psm, "cIRM": cirm}


def oracle_mask(name: str, *, clean: ArrayLike, noise: ArrayLike | None = None,
                mixture: ArrayLike | None = None, **options):
    """Compute ``ORACLE_MASKS[name]`` from whichever of ``noise=``/``mixture=`` you have.

    The missing one is derived (``Y = S + N`` or ``N = Y − S``) and only the
    arguments the mask's formula needs are passed on, with ``options`` (e.g.
    ``beta=1.0``). Convenient for tables: ``{k: oracle_mask(k, clean=S, noise=N)
    for k in ORACLE_MASKS}``. Chapters 3 and 4.
    Chapters: 03_masks, 04_phase.
    """
    if name not in ORACLE_MASKS:
        raise ValueError(f"unknown mask {name!r}; choose one of {list(ORACLE_MASKS)}")
    if noise is None and mixture is None:
        raise TypeError(f"oracle_mask({name!r}) needs noise= or mixture= besides clean=")
    fn = ORACLE_MASKS[name]
    params = inspect.signature(fn).parameters
    if "noise" in params:
        if noise is None:
            noise = like(as_tensor(mixture) - as_tensor(clean), mixture)
        return fn(clean=clean, noise=noise, **options)
    if mixture is None:
        mixture = like(as_tensor(clean) + as_tensor(noise), noise)
    return fn(clean=clean, mixture=mixture, **options)
