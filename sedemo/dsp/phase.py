"""Phase of the STFT: wrapping, unwrapping, phase derivatives, and how much of the
phase (versus the magnitude and the real and imaginary parts) can be predicted.

Chapter 4 (04_phase, "Phase and complex spectra") uses every
function here to test the guidebook's claim C10: *for complex spectra, real +
imaginary is a better target than magnitude + phase, because the phase wraps, is
nearly uniform on [-π, π) and has no learnable structure, while Re/Im have a
structure like the magnitude*.

Conventions. ``X`` is a complex STFT ``(..., F, T)`` from :func:`sedemo.dsp.stft.stft`
(``F = n_fft // 2 + 1`` bins ``k``, ``T`` frames ``t``); NumPy in gives NumPy out,
torch in gives torch out. Frame ``t`` starts at sample ``t*hop - (n_fft - hop)``
and its phase is measured from that first sample (``torch.stft`` with
``center=False``). A sinusoid at exactly the centre frequency of bin ``k``,
``ω_k = 2π k / n_fft`` (rad/sample), therefore advances its phase by

    ``Δφ_k = ω_k · hop = 2π k hop / n_fft``  rad per frame       (the *expected advance*)

from one frame to the next. With the book's default (``n_fft = 320``, ``hop = 160``)
that is ``π k``: 0 modulo 2π for even bins and π for odd bins, which is one reason
why the raw phase looks random from frame to frame. Phase derivatives become
informative once this deterministic part is removed (Flanagan & Golden 1966;
Gerkmann, Krawczyk-Becker & Le Roux 2015):

* instantaneous frequency (time derivative): :func:`instantaneous_frequency`;
* group delay (negative frequency derivative): :func:`group_delay`.

References: J. L. Flanagan, R. M. Golden, "Phase vocoder", Bell Syst. Tech. J.
1966; B. Yegnanarayana, H. A. Murthy, "Significance of group delay functions in
spectrum estimation", IEEE Trans. SP 1992; K. Paliwal, K. Wójcicki, B. Shannon,
"The importance of phase in speech enhancement", Speech Communication 2011;
T. Gerkmann, M. Krawczyk-Becker, J. Le Roux, "Phase processing for single-channel
speech enhancement: history and recent advances", IEEE SPM 2015; D. S. Williamson,
Y. Wang, D. Wang, "Complex ratio masking for monaural speech separation", TASLP
2016; K. Tan, D. Wang, "Learning complex spectral mapping with gated convolutional
recurrent networks for monaural speech enhancement", TASLP 2020.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sedemo._utils import ArrayLike, as_tensor, like, to_numpy
from sedemo.dsp.stft import DEFAULT, STFTConfig

__all__ = [
    "wrapped_phase", "unwrap_time", "expected_advance", "demodulate",
    "instantaneous_frequency", "group_delay", "active_bins", "histogram",
    "phase_histogram_kl", "Predictability", "neighbour_predictability", "NEIGHBOURHOODS",
    "combine", "random_phase",
]

TWO_PI = 2.0 * math.pi


# ----------------------------------------------------------------------------- helpers
def _complex(X: ArrayLike, name: str, fn: str) -> torch.Tensor:
    t = as_tensor(X)
    if not torch.is_complex(t):
        raise TypeError(
            f"{fn}() needs a complex STFT (..., F, T) as {name}=; got a real {t.dtype} array. "
            "Compute it with sedemo.dsp.stft.stft(x), not its magnitude."
        )
    return t


def _principal(a: torch.Tensor) -> torch.Tensor:
    """Principal value of an angle in radians, in [-π, π)."""
    return torch.remainder(a + math.pi, TWO_PI) - math.pi


def _check_bins(t: torch.Tensor, cfg: STFTConfig, fn: str) -> None:
    if t.ndim < 2 or t.shape[-2] != cfg.n_freqs:
        raise ValueError(
            f"{fn}(): the spectrum has shape {tuple(t.shape)} but the STFTConfig expects "
            f"(..., {cfg.n_freqs}, T) (n_fft={cfg.n_fft}); pass the config used for the analysis"
        )


def _real_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.complex128 else torch.float32


# ----------------------------------------------------------------------------- phase
def wrapped_phase(X: ArrayLike):
    """Wrapped (principal) phase ``θ = ∠X`` in radians, in ``[-π, π)``.

    ``X``: complex STFT ``(..., F, T)``. Returns a real array of the same shape
    (float32 for complex64, float64 for complex128). ``numpy.angle`` returns
    values in ``(-π, π]``; here ``+π`` is mapped to ``-π`` so that the range is
    the half-open interval used by the histograms of chapter 4 (the two are the
    same angle). ``θ = 0`` where ``X = 0``. Chapter 4.
    Chapter: 04_phase.
    """
    t = _complex(X, "X", "wrapped_phase")
    a = torch.angle(t)
    return like(torch.where(a >= math.pi, a - TWO_PI, a), X)


def unwrap_time(X: ArrayLike, cfg: STFTConfig | None = None):
    """Phase of ``X`` unwrapped along time (the last axis), per frequency bin.

    ``X``: complex STFT ``(..., F, T)``. Returns real ``(..., F, T)`` radians
    (float32 for complex64 input, float64 for complex128), starting from the
    wrapped phase of frame 0.

    * ``cfg=None``: ``numpy.unwrap`` semantics (period 2π, discontinuity π; tested
      to agree): a multiple of 2π is added to frame ``t`` so that the step from
      frame ``t-1`` is the principal value of the wrapped difference, in ``[-π, π]``.
    * ``cfg`` given (phase-vocoder unwrapping, Flanagan & Golden 1966): each step
      is the expected advance ``2π k hop / n_fft`` of bin ``k``
      (:func:`expected_advance`) plus the principal value of the deviation from it,
      ``θ[k,t] − θ[k,t−1] − 2π k hop / n_fft``. It assumes what
      :func:`instantaneous_frequency` assumes: the component in bin ``k`` lies within
      ``fs / (2 hop)`` Hz of the bin centre.

    Why the second form exists: unwrapping only sees the phase once per hop, so the
    first form cannot recover an advance of more than π per frame. A component at
    ``f`` Hz really advances ``2π f hop / fs`` rad per frame (10π for 500 Hz with a
    10 ms hop); ``numpy.unwrap`` sees only its principal value, an aliased slope.
    For a pure tone at the centre of bin ``k`` both forms give a straight line, of
    slope ``expected_advance(cfg, wrapped=True)[k]`` without ``cfg`` and of the true
    ``expected_advance(cfg)[k]`` with it (tested). Chapter 4.
    Chapter: 04_phase.
    """
    t = _complex(X, "X", "unwrap_time")
    p = torch.angle(t).to(torch.float64)
    d = torch.diff(p, dim=-1)
    if cfg is not None:
        _check_bins(t, cfg, "unwrap_time")
        adv = torch.from_numpy(expected_advance(cfg))[:, None]
        steps = adv + _principal(d - adv)
        out = torch.cat([p[..., :1], p[..., :1] + torch.cumsum(steps, dim=-1)], dim=-1)
        return like(out.to(_real_dtype(t)), X)
    dmod = torch.remainder(d + math.pi, TWO_PI) - math.pi
    dmod = torch.where((dmod == -math.pi) & (d > 0), torch.full_like(dmod, math.pi), dmod)
    correct = torch.where(d.abs() < math.pi, torch.zeros_like(d), dmod - d)
    out = p.clone()
    out[..., 1:] += torch.cumsum(correct, dim=-1)
    return like(out.to(_real_dtype(t)), X)


def expected_advance(cfg: STFTConfig = DEFAULT, wrapped: bool = False) -> np.ndarray:
    """Phase advance per frame of a sinusoid at each bin centre, ``2π k hop / n_fft``.

    Returns float64 ``(F,)`` radians per frame; ``wrapped=True`` gives its
    principal value in ``[-π, π)`` (what :func:`unwrap_time` can see). With the
    default 320/160 STFT: ``π k``, i.e. 0 (even ``k``) or ``-π`` (odd ``k``) wrapped.
    Chapter 4.
    Chapter: 04_phase.
    """
    k = np.arange(cfg.n_freqs, dtype=np.int64)
    if not wrapped:
        return TWO_PI * k.astype(np.float64) * cfg.hop / cfg.n_fft
    frac = (k * cfg.hop % cfg.n_fft) / cfg.n_fft  # exact reduction modulo one turn
    return TWO_PI * np.where(frac >= 0.5, frac - 1.0, frac)


def demodulate(X: ArrayLike, cfg: STFTConfig = DEFAULT):
    """Remove the expected advance: ``X[k, t] · exp(-j 2π k hop t / n_fft)``.

    ``X``: complex ``(..., F, T)`` -> complex of the same shape and type. After
    this, a stationary sinusoid at a bin centre has a *constant* phase over
    time, and one at ``f0`` near bin ``k`` turns slowly, by ``2π (f0 - f_k) hop /
    fs`` per frame. ``unwrap_time(demodulate(X, cfg))`` is the running sum of the
    :func:`instantaneous_frequency` deviations (in radians per hop), i.e.
    ``unwrap_time(X, cfg)`` minus the straight line ``expected_advance(cfg) * t``. Note that with 50 % overlap this
    multiplies neighbouring bins by alternating signs in every other frame: it
    simplifies the relation along time and complicates the one along frequency
    (no convention makes both shift-invariant). Chapter 4.
    Chapter: 04_phase.
    """
    t = _complex(X, "X", "demodulate")
    _check_bins(t, cfg, "demodulate")
    k = torch.arange(cfg.n_freqs, dtype=torch.float64)[:, None]
    frames = torch.arange(t.shape[-1], dtype=torch.float64)[None, :]
    # reduce the angle modulo 2π in float64 before the complex exponential
    ang = torch.remainder(TWO_PI * k * ((cfg.hop * frames) % cfg.n_fft) / cfg.n_fft, TWO_PI)
    rot = torch.polar(torch.ones_like(ang), -ang).to(t.dtype)
    return like(t * rot, X)


def instantaneous_frequency(X: ArrayLike, cfg: STFTConfig = DEFAULT, absolute: bool = False):
    """Instantaneous frequency from the phase difference of consecutive frames, in Hz.

    ``X``: complex STFT ``(..., F, T)`` made with ``cfg``. Returns real
    ``(..., F, T-1)`` in **Hz**; entry ``t`` belongs to the step from frame ``t``
    to frame ``t+1``. Formula (the phase vocoder of Flanagan & Golden 1966):

        ``δ[k, t] = princ( ∠X[k, t+1] − ∠X[k, t] − 2π k hop / n_fft )``   (rad per hop)
        ``IF_dev[k, t] = δ[k, t] · fs / (2π hop)``                         (Hz)

    ``princ`` is the principal value in ``[-π, π)``, computed as the angle of
    ``X[k,t+1] · conj(X[k,t]) · exp(-j 2π k hop/n_fft)``. By default (``absolute=False``)
    the result is this **deviation from the bin centre** ``f_k = k fs / n_fft``; with
    ``absolute=True`` it is ``f_k + IF_dev``, the estimated frequency itself.

    A sinusoid at ``f0`` gives ``IF_dev = f0 − f_k`` in the bins whose centre lies
    within ``fs / (2 hop)`` Hz of ``f0`` (±50 Hz with a 10 ms hop at 16 kHz; beyond,
    the deviation aliases), so ``absolute=True`` recovers ``f0`` there (tested
    within a few Hz). Values are meaningless where ``|X|`` is ~0 (no component):
    weight or mask them by the magnitude for display. Chapter 4.
    Chapter: 04_phase.
    """
    t = _complex(X, "X", "instantaneous_frequency")
    _check_bins(t, cfg, "instantaneous_frequency")
    if t.shape[-1] < 2:
        raise ValueError("instantaneous_frequency() needs at least 2 frames")
    adv = torch.from_numpy(expected_advance(cfg, wrapped=True))[:, None]
    rot = torch.polar(torch.ones_like(adv), -adv).to(t.dtype)
    step = t[..., 1:] * t[..., :-1].conj() * rot
    dev = torch.angle(step).to(torch.float64)
    dev = torch.where(dev >= math.pi, dev - TWO_PI, dev)
    hz = dev * cfg.sample_rate / (TWO_PI * cfg.hop)
    if absolute:
        hz = hz + torch.from_numpy(cfg.frequencies().astype(np.float64))[:, None]
    return like(hz.to(_real_dtype(t)), X)


def group_delay(X: ArrayLike, cfg: STFTConfig = DEFAULT, absolute: bool = False):
    """Group delay: the negative frequency derivative of the phase, in **samples**.

    ``X``: complex STFT ``(..., F, T)`` made with ``cfg``. Returns real
    ``(..., F-1, T)``; entry ``k`` belongs to the pair of bins ``k, k+1``. Formula
    (Yegnanarayana & Murthy 1992), with the delay measured from the centre of the
    frame (the peak of the window, sample ``n_fft/2`` of the frame):

        ``τ[k, t] = −princ( ∠X[k+1, t] − ∠X[k, t] + π ) · n_fft / (2π)``   (samples)

    in ``(-n_fft/2, n_fft/2]``. The ``+π`` removes the expected slope of a component
    at the frame centre (``−2π/n_fft · n_fft/2`` rad per bin), just as
    :func:`instantaneous_frequency` removes the expected advance. ``absolute=True``
    adds the time of the frame centre, ``t·hop − (n_fft − hop) + n_fft/2``, giving
    samples from the start of the signal: an impulse at sample ``d`` has
    ``τ = d`` in every bin of every frame that contains it (tested). Divide by
    ``cfg.sample_rate`` for seconds. Meaningless where ``|X|`` is ~0. Chapter 4.
    Chapter: 04_phase.
    """
    t = _complex(X, "X", "group_delay")
    _check_bins(t, cfg, "group_delay")
    step = t[..., 1:, :] * t[..., :-1, :].conj() * -1.0  # rotate by π
    d = torch.angle(step).to(torch.float64)
    d = torch.where(d >= math.pi, d - TWO_PI, d)
    tau = -d * cfg.n_fft / TWO_PI
    if absolute:
        centre = torch.arange(t.shape[-1], dtype=torch.float64) * cfg.hop - (cfg.n_fft - cfg.hop) + cfg.n_fft / 2
        tau = tau + centre
    return like(tau.to(_real_dtype(t)), X)


# ----------------------------------------------------------------------------- distributions
def active_bins(X: ArrayLike, range_db: float = 40.0):
    """Boolean mask of the T-F bins within ``range_db`` dB of the loudest bin.

    ``X``: complex (or magnitude) ``(..., F, T)``; the maximum is taken over the
    last two axes (per utterance). Used in chapter 4 to pool statistics over
    *speech* bins of a clean STFT, leaving out silence, whose phase is that of the
    recording noise floor. Returns a bool array (NumPy or torch, as ``X``).
    Chapter: 04_phase.
    """
    if not range_db > 0:
        raise ValueError(f"range_db must be > 0, got {range_db!r}")
    m = as_tensor(X).abs().to(torch.float64)
    p = m.square()
    peak = p.amax(dim=(-2, -1), keepdim=True)
    return like((p >= peak * 10.0 ** (-range_db / 10.0)) & (p > 0), X)


def _values_weights(X, weights, weight_by_magnitude, mask):
    t = as_tensor(X)
    if torch.is_complex(t):
        vals = torch.angle(t).to(torch.float64)
        vals = torch.where(vals >= math.pi, vals - TWO_PI, vals)
        default_range = (-math.pi, math.pi)
        w = t.abs().to(torch.float64) if weight_by_magnitude else None
    else:
        if weight_by_magnitude:
            raise TypeError("weight_by_magnitude=True needs a complex X (the weights are |X|); "
                            "pass weights= for a real feature")
        vals = t.to(torch.float64)
        default_range = None
        w = None
    if weights is not None:
        w = as_tensor(weights).to(torch.float64).expand_as(vals)
        if (w < 0).any():
            raise ValueError("weights must be >= 0")
    if mask is not None:
        m = as_tensor(mask).to(torch.bool).expand_as(vals)
        vals = vals[m]
        w = None if w is None else w[m]
    vals = vals.reshape(-1).numpy()
    w = None if w is None else w.reshape(-1).numpy()
    return vals, w, default_range


def histogram(X: ArrayLike, bins: int = 64, *, value_range=None, weights=None,
              weight_by_magnitude: bool = False, mask=None):
    """Normalised histogram ``(p, edges)`` of the phase of ``X`` or of a real feature.

    ``X``: complex ``(..., F, T)`` (its wrapped phase is histogrammed over
    ``[-π, π)``) or real (the values themselves). ``bins`` equal-width bins over
    ``value_range``: default ``(-π, π)`` for phase and the central 99 % (0.5th to
    99.5th percentile) of the selected values for a real feature; values outside
    are left out. ``mask``: bool ``(..., F, T)`` selecting bins (e.g.
    :func:`active_bins`); ``weights`` (``>= 0``, same shape) or
    ``weight_by_magnitude=True`` (complex ``X`` only: weights ``|X|``). Returns
    ``p`` float64 ``(bins,)`` summing to 1 and ``edges`` ``(bins + 1,)``. Chapter 4.
    Chapter: 04_phase.
    """
    if int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    vals, w, default_range = _values_weights(X, weights, weight_by_magnitude, mask)
    if vals.size == 0:
        raise ValueError("histogram(): no values selected (empty array or all-False mask)")
    if value_range is None:
        value_range = default_range or tuple(np.percentile(vals, [0.5, 99.5]))
    lo, hi = float(value_range[0]), float(value_range[1])
    if not hi > lo:
        raise ValueError(f"value_range must have hi > lo, got {value_range!r} (a constant feature?)")
    inside = (vals >= lo) & (vals < hi)
    idx = np.minimum(((vals[inside] - lo) / (hi - lo) * bins).astype(np.int64), int(bins) - 1)
    counts = np.bincount(idx, weights=None if w is None else w[inside], minlength=int(bins)).astype(np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("histogram(): all selected values (or weights) fall outside value_range or are 0")
    return counts / total, np.linspace(lo, hi, int(bins) + 1)


def phase_histogram_kl(X: ArrayLike, bins: int = 64, weight_by_magnitude: bool = False, *,
                       mask=None, value_range=None, weights=None) -> float:
    """KL divergence (nats) of a histogram from the uniform distribution on its range.

    ``KL(p ‖ u) = Σ_i p_i · ln(p_i · B) = ln B − H(p)``, with ``p`` the normalised
    :func:`histogram` of ``B = bins`` equal-width bins (same arguments) and ``u_i = 1/B``.
    0 for a perfectly flat histogram; at most ``ln B`` (4.16 nats for 64 bins) when
    every value falls in one bin (e.g. a constant phase).

    For a complex ``X`` this is the distance of its **phase** distribution from
    uniform on ``[-π, π)``: the quantity behind the claim "phase is nearly uniform"
    (C10). For a real feature (``log|S|``, ``Re S``, ``Im S``, an instantaneous
    frequency) the uniform reference lives on ``value_range`` (default: the central
    99 % of the values), so the number says how *peaked* the feature is over that
    range; it depends on the range and is not a property of the feature alone.
    Phase is the only one of these with a natural bounded range.

    Finite samples: for ``n`` values drawn from a truly uniform distribution the
    estimate is not 0 but about ``(B − 1) / (2n)`` nats on average (e.g. 0.0006 for
    ``B = 64``, ``n = 50 000``): compare with that, not with 0. Chapter 4.
    Chapter: 04_phase.
    """
    p, _ = histogram(X, bins, value_range=value_range, weights=weights,
                     weight_by_magnitude=weight_by_magnitude, mask=mask)
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] * len(p))))


# ----------------------------------------------------------------------------- predictability
#: Neighbourhoods of :func:`neighbour_predictability`, as (frequency offset, time offset).
NEIGHBOURHOODS = {
    "all8": ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)),
    "causal": ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0)),
    "previous_frame": ((-1, -1), (0, -1), (1, -1)),
}


@dataclass(frozen=True)
class Predictability:
    """Result of :func:`neighbour_predictability`.

    ``r2``: coefficient of determination ``1 − Σ|e|² / Σ|y − ȳ|²`` of the linear
    prediction (complex values: squared moduli); ``resultant_length``: for complex or
    circular inputs, ``|mean(exp(j(θ − θ̂)))|`` of the angular prediction error
    (1 = the angle is predicted exactly, 0 = the error is uniform), else ``None``;
    ``n_bins``: number of predicted bins; ``coef``: the fitted weights, one per
    neighbour in the order of ``NEIGHBOURHOODS[neighbours]``, then the intercept
    (for the standardised feature).
    Chapter: 04_phase.
    """

    r2: float
    resultant_length: float | None
    n_bins: int
    coef: np.ndarray
    neighbours: str


def _design(v: np.ndarray, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Targets ``(..., F-2, T-2)`` (interior bins) and neighbours ``(..., F-2, T-2, P)``."""
    n_f, n_t = v.shape[-2:]
    target = v[..., 1:-1, 1:-1]
    cols = [v[..., 1 + df:n_f - 1 + df, 1 + dt:n_t - 1 + dt] for df, dt in offsets]
    return target, np.stack(cols, axis=-1)


def neighbour_predictability(values: ArrayLike, *, neighbours: str = "all8", mask=None,
                             circular: bool = False) -> Predictability:
    """How well each T-F bin is predicted by a linear combination of its neighbours.

    ``values``: a feature ``(..., F, T)``: real (``log|S|``, a wrapped phase ``θ``,
    ``Re S``, ``Im S``) or complex (a spectrum, predicted with complex weights).
    One set of weights plus an intercept is fitted by least squares (float64) over
    all predicted bins of all leading axes: the same weights everywhere, like a
    single linear 3x3 convolution with a hole in the middle. The bin ``(k, t)`` is
    predicted from

    * ``neighbours="all8"``: its 8 neighbours ``(k±1, t±1)``, ``(k±1, t)``, ``(k, t±1)``;
    * ``neighbours="causal"``: the previous frame's bins ``k-1, k, k+1`` and the
      adjacent bins ``k±1`` of the same frame (no future frame);
    * ``neighbours="previous_frame"``: the previous frame's bins ``k-1, k, k+1`` only
      (what a frame-by-frame causal model has already seen; no same-frame bins).

    Only interior bins (all neighbours present) are predicted; ``mask`` (bool
    ``(..., F, T)``, e.g. :func:`active_bins` of the clean spectrum) further
    restricts the *targets*; neighbours are used whatever their mask.

    Standardisation: the feature is first centred and scaled to unit variance over
    the predicted bins (complex: unit mean squared modulus). With an intercept
    the R² does not change under such an affine rescaling; it only makes the
    weights comparable across features. A non-linear transform (``log|S|`` vs
    ``|S|``, power-law compression of Re/Im) does change it: state which you use.

    ``circular=True`` (for phase): ``values`` are angles in radians (a complex input
    is reduced to its angle) and the unit phasors ``u = exp(jθ)`` are predicted from
    the neighbours' phasors with complex weights; ``r2`` is the complex R² of the
    phasors and ``resultant_length`` the mean resultant length of the angular error
    ``θ − ∠û``. This is the fair test for phase. A plain R² on wrapped angles is
    *unfair* to phase: angles just below π and just above −π are neighbours on the
    circle but 2π apart as numbers, a weighted sum of angles is not an angle, and
    the squared error of ``θ − θ̂`` overstates errors that cross the wrap. Both are
    reported in chapter 4.

    What makes the comparison fair: the same target bins, the same neighbourhood,
    the same model class and the same fitting for every feature; angles are treated
    as angles. What it does not capture: a network is non-linear and knows more
    context; and the phase has a known *bin-dependent* structure (the expected
    advance ``π k`` of :func:`expected_advance`, alternating with the parity of
    ``k`` for a 50 % hop) that one shared linear predictor cannot exploit. Pass
    ``mask`` selecting even or odd bins only to fit them separately. The R² is a
    lower bound on learnability, the same kind of bound for every feature.

    Control: the STFT makes neighbours correlated by itself (frames overlap, and the
    window's spectrum spreads each component over ~3 bins), so run the same test on
    the STFT of white noise. With the default sqrt-Hann 320/160 STFT, white noise
    already scores R² ≈ 0.4-0.5 for Re/Im and ≈ 0.33 for the circular phase from the
    8 neighbours, almost all of it from the same-frame bins ``k±1`` (weights ≈ −0.5:
    the Hann window's spectrum), and ≈ 0 from the previous frame. Only what a
    feature scores *above* that is structure of the signal (chapter 4's table).

    Returns a :class:`Predictability`. Chapter 4.
    Chapter: 04_phase.
    """
    if neighbours not in NEIGHBOURHOODS:
        raise ValueError(f"neighbours must be one of {list(NEIGHBOURHOODS)}, got {neighbours!r}")
    v = to_numpy(values)
    if v.ndim < 2 or v.shape[-2] < 3 or v.shape[-1] < 3:
        raise ValueError(f"values must be (..., F, T) with F, T >= 3, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("values contain NaN or infinity (take the log of a floored magnitude)")
    is_complex = np.iscomplexobj(v)
    if circular:
        theta = np.angle(v) if is_complex else v.astype(np.float64)
        v = np.exp(1j * theta)
        is_complex = True
    v = v.astype(np.complex128 if is_complex else np.float64)
    target, X = _design(v, NEIGHBOURHOODS[neighbours])
    sel = np.ones(target.shape, dtype=bool)
    if mask is not None:
        m = np.broadcast_to(to_numpy(mask).astype(bool), v.shape)
        sel = m[..., 1:-1, 1:-1].copy()
    y = target[sel]
    A = X[sel]
    if y.size <= A.shape[1] + 1:
        raise ValueError(f"too few bins to predict ({y.size}) for {A.shape[1] + 1} coefficients")
    mu = y.mean()
    scale = np.sqrt(np.mean(np.abs(y - mu) ** 2))
    if scale == 0:
        raise ValueError("the feature is constant over the selected bins: R² is undefined")
    y = (y - mu) / scale
    A = (A - mu) / scale
    A = np.concatenate([A, np.ones((A.shape[0], 1), dtype=A.dtype)], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    pred = A @ coef
    err = y - pred
    r2 = 1.0 - float(np.sum(np.abs(err) ** 2) / np.sum(np.abs(y - y.mean()) ** 2))
    rl = None
    if is_complex:
        yt = y * scale + mu  # the unstandardised target and prediction: angles are not affine-invariant
        pt = pred * scale + mu
        rl = float(np.abs(np.mean(np.exp(1j * (np.angle(yt) - np.angle(pt))))))
    return Predictability(r2=r2, resultant_length=rl, n_bins=int(y.size), coef=coef, neighbours=neighbours)


# ----------------------------------------------------------------------------- listening helpers
def combine(magnitude_from: ArrayLike, phase_from: ArrayLike):
    """``|A| · exp(j ∠B)``: the magnitude of one spectrum with the phase of another.

    ``magnitude_from`` (``A``): complex or real ``(..., F, T)`` (a real array is
    taken as the magnitude ``|A|``); ``phase_from`` (``B``): complex, broadcastable
    to ``A``'s shape. Where ``B = 0`` the phase is taken as 0. ``combine(X, X)``
    returns ``X`` (to rounding, tested). Torch if either input is a tensor, else
    NumPy. Chapter 4's listening test: clean magnitude + noisy phase
    (``combine(S, Y)``), noisy magnitude + clean phase (``combine(Y, S)``);
    invert with :func:`sedemo.dsp.stft.istft`.
    Chapter: 04_phase.
    """
    a = as_tensor(magnitude_from)
    b = _complex(phase_from, "phase_from", "combine")
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(f"combine(): shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast") from None
    mag = a.abs() if torch.is_complex(a) else a
    bm = b.abs()
    nz = bm > 0
    unit = torch.where(nz, b / torch.where(nz, bm, torch.ones_like(bm)).to(b.dtype), torch.ones_like(b))
    out = mag.to(bm.dtype) * unit
    ref = magnitude_from if isinstance(magnitude_from, torch.Tensor) else phase_from
    return like(out, ref)


def random_phase(X: ArrayLike, rng=None):
    """``|X| · exp(jφ)`` with ``φ`` drawn independently, uniform on ``[-π, π)``, per bin.

    ``X``: complex (or real magnitude) ``(..., F, T)``; ``rng``: a
    ``numpy.random.Generator``, an int seed, or ``None`` (fresh entropy). Returns a
    complex array of the same shape and type (complex64 for float32/complex64 input).
    The magnitude is kept exactly; the phase carries no information. Note that
    :func:`sedemo.dsp.stft.istft` discards the imaginary part of the DC (and Nyquist)
    bins, and that overlap-add of frames with unrelated phases changes the
    magnitude of the re-analysed signal: this is the "clean magnitude + random
    phase" condition of chapter 4.
    Chapter: 04_phase.
    """
    t = as_tensor(X)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    phi = torch.from_numpy(gen.uniform(-math.pi, math.pi, size=tuple(t.shape)))
    mag = t.abs().to(torch.float64)
    out = torch.polar(mag, phi)
    dtype = torch.complex128 if t.dtype in (torch.float64, torch.complex128) else torch.complex64
    return like(out.to(dtype), X)
