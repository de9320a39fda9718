"""Analysis helpers for chapter 6: the measurements on
losses that need no trained model.

* the **loss catalogue** (:func:`loss_catalogue`), generated from
  :data:`sedemo.losses.LOSSES` and the losses' docstrings;
* **gradients** of a loss with respect to the estimate: per sample
  (:func:`waveform_gradient`) and the share of the squared gradient norm that falls
  into speech-absent frames (:func:`speech_absent_mask`, :func:`gradient_share`),
  for claim C2 (L1 vs L2 in the time domain); per utterance of a batch
  (:func:`utterance_gradient_norms`), for claim C6 (ratio SDR vs log SDR);
* **distribution fits** of STFT coefficients (:func:`normalised_coefficients`,
  :func:`fit_gaussian`, :func:`fit_laplace`, :func:`fit_gennorm`,
  :func:`compare_fits`, :func:`qq_points`), for claim C4 (are clean Re/Im
  coefficients Laplacian?);
* **controlled degradations** of a clean signal (:func:`white_noise_at_snr`,
  :func:`lowpass`, :func:`preemphasis`, :func:`delay`, :func:`resynthesised_with_random_phase`) and
  a table of scores (:func:`score_table`), for claims C5 and C6.

Signals are 1-D ``(L,)`` float arrays at 16 kHz unless stated; every result is
float64 NumPy. Nothing here trains a model.
"""
from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import torch
from scipy import optimize, signal, special, stats

from sedemo.dsp import audio
from sedemo import losses
from sedemo.dsp import stft as _stft

__all__ = [
    "LOSS_DOMAINS", "loss_catalogue",
    "waveform_gradient", "speech_absent_mask", "gradient_share", "utterance_gradient_norms",
    "NORMALISATIONS", "normalised_coefficients",
    "fit_gaussian", "fit_laplace", "fit_gennorm", "compare_fits", "qq_points",
    "white_noise_at_snr", "lowpass", "preemphasis", "delay", "resynthesised_with_random_phase", "score_table", "as_loss_scorer",
    "level_difference_db", "absent_level_db", "BANDS_HZ", "band_names", "band_level_errors",
]


# ----------------------------------------------------------------------------
# Loss catalogue
# ----------------------------------------------------------------------------
#: Domain in which each loss of :data:`sedemo.losses.LOSSES` compares the signals.
#: (The inputs are in :data:`sedemo.losses.LOSS_INPUTS`; this says what is compared.)
LOSS_DOMAINS: dict[str, str] = {
    "mse": "time (samples)",
    "mae": "time (samples)",
    "spectral_l1": "STFT magnitude",
    "spectral_l2": "STFT magnitude",
    "complex_l1": "STFT Re/Im",
    "complex_l2": "STFT Re/Im",
    "spectral": "STFT magnitude or Re/Im",
    "compressed_complex": "compressed STFT",
    "snr": "time (energy ratio)",
    "ratio_sdr": "time (energy ratio)",
    "si_sdr": "time (energy ratio)",
    "sd_sdr": "time (energy ratio)",
    "mr_stft": "STFT magnitude, 3 resolutions",
    "weak_frame": "STFT error, 1-4 kHz, frames of weak speech (dB)",
    "weak_cell": "1/3-octave band error, cells of weak speech (dB)",
    "stoi_like": "1/3-octave envelopes",
    "embedding": "embedding (random conv net)",
    "si_sdr+compressed": "time + compressed STFT",
    "si_sdr+compressed+stoi": "time + compressed STFT + 1/3-octave envelopes",
    "compressed+embedding": "compressed STFT + embedding",
    "ma": "T-F mask",
    "sa": "masked magnitude",
    "psa": "masked magnitude (phase-aware)",
    "csa": "masked complex STFT",
    "spectral_from_spectra": "STFT magnitude or Re/Im",
    "compressed_complex_from_spectra": "compressed STFT",
}

_OPERATORS = set("−+|‖Σ²/·")

#: Where a docstring's own text is not enough for the catalogue (checked by the tests).
_CATALOGUE_OVERRIDES: dict[str, dict[str, str]] = {
    "stoi_like": {"formula": "1 − d, d = ESTOI-like correlation of 1/3-octave envelopes",
                  "reference": "proxy of STOI / ESTOI: C. Taal et al., TASLP 2011; J. Jensen, C. Taal, TASLP 2016"},
    "weak_frame": {"formula": "mean over frames 20-40 dB below the loudest of max(10·log10(P_err[t] / P_max), −60 dB), 1-4 kHz"},
    "weak_cell": {"formula": "mean over band-frame cells 20 dB or more below the band's loudest of max(10·log10(P_err[j,t] / M_j), −60 dB)"},
    "si_sdr+compressed": {"reference": "J. Le Roux et al., ICASSP 2019 + S. Braun, I. Tashev, TSP 2021"},
    "si_sdr+compressed+stoi": {"reference": "the above + a STOI proxy (M. Kolbæk et al., TASLP 2018)"},
    "compressed+embedding": {"reference": "S. Braun, I. Tashev, TSP 2021 + an embedding regulariser (C5)"},
}
_LINK = re.compile(r":(?:func|class):`~?(?:sedemo\.losses\.)?([A-Za-z_][A-Za-z0-9_]*)`")


def _target(fn: Callable) -> Callable:
    """The documented object behind a registry entry (the class of a functional form)."""
    return getattr(fn, "func", fn)


def _linked(doc: str, first_line_only: bool) -> Callable | None:
    text = doc.strip().splitlines()[0] if first_line_only else doc
    for name in _LINK.findall(text):
        obj = getattr(losses, name, None)
        if obj is not None:
            return obj
    return None


def _formula(fn: Callable, depth: int = 0) -> str:
    """The first double-backtick literal of the docstring that reads like a formula;
    for a wrapper whose first line links to another loss, that loss's formula."""
    doc = inspect.getdoc(fn) or ""
    link = _linked(doc, first_line_only=True)
    if link is not None and depth < 3 and link is not fn:
        return _formula(link, depth + 1)
    for lit in re.findall(r"``(.+?)``", doc, flags=re.DOTALL):
        lit = " ".join(lit.split())
        if len(lit) > 4 and _OPERATORS & set(lit):
            return lit
    return ""


def _reference(fn: Callable, depth: int = 0) -> str:
    """The "Reference(s):" field of the docstring without paper titles; followed
    through the first linked loss when the docstring has none."""
    doc = inspect.getdoc(fn) or ""
    m = re.search(r"References?:\s*(.+?)(?:\s+Chapter\b|\n\s*\n|>>>|$)", doc, flags=re.DOTALL)
    if m:
        ref = re.sub(r'"[^"]*",?\s*', "", " ".join(m.group(1).split())).strip().rstrip(".")
        return ref
    link = _linked(doc, first_line_only=False)
    if link is not None and depth < 3 and link is not fn:
        return _reference(link, depth + 1)
    return ""


def loss_catalogue() -> pd.DataFrame:
    """One row per entry of :data:`sedemo.losses.LOSSES`, generated from the module.

    Columns: ``name`` (registry key), ``function``, ``inputs`` (from
    :data:`sedemo.losses.LOSS_INPUTS`), ``domain`` (:data:`LOSS_DOMAINS`),
    ``formula`` (the first formula-like literal of the docstring, following a
    wrapper to the loss it wraps) and ``reference`` (the docstring's "Reference"
    field, titles removed; a few entries are completed by hand where the docstring
    has no such field). Chapter 6, the catalogue.
    Chapter: 06_losses.
    """
    rows = []
    for name, fn in losses.LOSSES.items():
        target = _target(fn)
        rows.append({
            "name": name,
            "function": getattr(target, "__name__", type(target).__name__),
            "inputs": ", ".join(losses.LOSS_INPUTS[name]),
            "domain": LOSS_DOMAINS.get(name, "?"),
            "formula": _formula(target),
            "reference": _reference(target),
            **_CATALOGUE_OVERRIDES.get(name, {}),
        })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------
# Gradients of a loss with respect to the estimate (C2, C6)
# ----------------------------------------------------------------------------
def waveform_gradient(loss: Callable, estimate, reference) -> np.ndarray:
    """Gradient of ``loss(estimate=ŝ, reference=s)`` with respect to ``ŝ``, in float64.

    ``estimate``, ``reference``: ``(L,)`` (one utterance) or ``(B, L)``; the loss is
    called on ``(B, L)`` tensors with its default ``reduction="mean"``. Returns an
    array of the shape of ``estimate``: e.g. ``2(ŝ − s)/L`` for
    :func:`sedemo.losses.mse`, ``sign(ŝ − s)/L`` for :func:`sedemo.losses.mae`.
    Chapter 6 (C2).
    Chapter: 06_losses.
    """
    e = torch.as_tensor(np.ascontiguousarray(estimate, dtype=np.float64))
    r = torch.as_tensor(np.ascontiguousarray(reference, dtype=np.float64))
    one = e.ndim == 1
    e, r = (e[None], r[None]) if one else (e, r)
    e = e.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(estimate=e, reference=r), e)
    g = g.numpy()
    return g[0] if one else g


def speech_absent_mask(clean, sample_rate: int = 16000, frame: int = 320,
                       threshold_db: float = -30.0) -> np.ndarray:
    """Per-sample flag: True where the clean speech is absent.

    ``clean``: ``(L,)``. The signal is cut into non-overlapping frames of ``frame``
    samples (20 ms at 16 kHz; the last, shorter frame is a frame too); a frame is
    *speech-absent* when its mean power is more than ``-threshold_db`` dB (30 dB)
    below the active speech level of the whole utterance (ITU-T P.56,
    :func:`sedemo.dsp.audio.active_level`), i.e. ``10·log10(mean(s²)) < level +
    threshold_db``. Returns a boolean ``(L,)`` array. Chapter 6 (C2).
    Chapter: 06_losses.
    """
    s = np.asarray(clean, dtype=np.float64)
    level, _ = audio.active_level(s, sample_rate)
    n = len(s)
    starts = np.arange(0, n, frame)
    power = np.add.reduceat(s * s, starts) / np.diff(np.append(starts, n))
    with np.errstate(divide="ignore"):
        absent = 10.0 * np.log10(power) < level + threshold_db
    return np.repeat(absent, np.diff(np.append(starts, n)))


def gradient_share(grad, mask) -> float:
    """Share of the squared gradient norm inside ``mask``: ``Σ_{mask} g² / Σ g²``.

    ``grad``, ``mask``: arrays of the same shape. The squared norm adds up over
    disjoint sets of samples, so the shares of a partition sum to 1. For the MSE the
    share equals the share of the error energy, for the MAE the share of samples
    (with a non-zero error). Chapter 6 (C2).
    Chapter: 06_losses.
    """
    g2 = np.square(np.asarray(grad, dtype=np.float64))
    return float(g2[np.asarray(mask, dtype=bool)].sum() / g2.sum())


def utterance_gradient_norms(loss: Callable, estimate, reference, taps: int | None = None) -> np.ndarray:
    """Per-utterance gradient norms of a batch loss, float64, shape ``(B,)``.

    ``estimate``, ``reference``: ``(B, L)``; the loss is called with
    ``reduction="mean"`` (the batch loss a training step uses).

    * ``taps=None``: ``‖∂loss/∂ŝ_b‖``, the norm of the gradient with respect to the
      waveform of utterance ``b``. For the log form :func:`sedemo.losses.snr_loss`
      it is ``(20/ln 10)/(B·‖s_b − ŝ_b‖)``, for :func:`sedemo.losses.ratio_sdr_loss`
      ``2‖s_b − ŝ_b‖/(B·‖s_b‖²)`` (``eps`` aside).
    * ``taps=K``: the gradient with respect to the parameters a batch shares: the
      estimate is passed through a causal FIR filter ``h`` of ``K`` taps (a
      stand-in for a model's last layer), ``ŝ'_b = h * ŝ_b``, evaluated at the
      identity ``h = δ``; returns ``‖∂loss_b/∂h‖`` of each utterance's term of the
      batch loss. This is what each utterance contributes to a parameter update:
      for ``K = 1`` (a gain ``g``) it is ``|⟨∇_b, ŝ_b⟩|``.

    Divide by the sum for the shares. Chapter 6 (C6).

    Chapter: 06_losses.
    """
    e = torch.as_tensor(np.ascontiguousarray(estimate, dtype=np.float64))
    r = torch.as_tensor(np.ascontiguousarray(reference, dtype=np.float64))
    if e.ndim != 2 or e.shape != r.shape:
        raise ValueError(f"estimate and reference must be (B, L) of one shape, got {tuple(e.shape)}, {tuple(r.shape)}")
    b = e.shape[0]
    if taps is None:
        e = e.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(estimate=e, reference=r, reduction="mean"), e)
        return g.norm(dim=-1).numpy()
    h = torch.zeros(int(taps), dtype=torch.float64)
    h[0] = 1.0
    h.requires_grad_(True)
    filtered = torch.nn.functional.conv1d(
        torch.nn.functional.pad(e[:, None], (int(taps) - 1, 0)), h.flip(0)[None, None])[:, 0]
    per_item = loss(estimate=filtered, reference=r, reduction="none") / b
    norms = []
    for i in range(b):
        (g,) = torch.autograd.grad(per_item[i], h, retain_graph=i < b - 1)
        norms.append(float(g.norm()))
    return np.asarray(norms)


# ----------------------------------------------------------------------------
# Diagnostics of an enhanced signal (C2, C7): level, residual noise, colouration
# ----------------------------------------------------------------------------
def _pair(estimate, reference, who: str) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(estimate, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if e.ndim != 1 or e.shape != r.shape:
        raise ValueError(f"{who}: estimate and reference must be 1-D of one length, got {e.shape}, {r.shape}")
    if not (np.isfinite(e).all() and np.isfinite(r).all()):
        raise ValueError(f"{who}: the signals contain NaN or inf")
    return e, r


def level_difference_db(estimate, reference) -> float:
    """Output level relative to the clean reference, dB: ``10·log10(Σ ŝ² / Σ s²)``.

    0 dB: the estimate is as loud as the clean speech; a scale-invariant loss
    (SI-SDR) leaves it free (claim C7). ``(L,)`` signals. Chapter 6.
    Chapter: 06_losses."""
    e, r = _pair(estimate, reference, "level_difference_db")
    return float(10.0 * np.log10(max(np.sum(e * e), 1e-20) / max(np.sum(r * r), 1e-20)))


def absent_level_db(estimate, reference, sample_rate: int = 16000) -> float:
    """Residual level in the speech-absent frames of ``reference``, dB relative to
    the reference's active speech level (ITU-T P.56).

    ``10·log10(mean_{absent} ŝ²) − level(s)``, with the frames of
    :func:`speech_absent_mask`: how loud what is left in the pauses is, compared
    with the speech. Lower is better noise suppression (claim C2). NaN when the
    utterance has no speech-absent frame. ``(L,)`` signals. Chapter 6.
    Chapter: 06_losses."""
    e, r = _pair(estimate, reference, "absent_level_db")
    absent = speech_absent_mask(r, sample_rate)
    if not absent.any():
        return float("nan")
    level, _ = audio.active_level(r, sample_rate)
    return float(10.0 * np.log10(max(np.mean(e[absent] ** 2), 1e-20)) - level)


#: Bands (Hz) of :func:`band_level_errors`: below 1 kHz, 1-2, 2-4 and 4-8 kHz.
BANDS_HZ: tuple[tuple[float, float], ...] = ((0.0, 1000.0), (1000.0, 2000.0), (2000.0, 4000.0), (4000.0, 8000.0))


def band_names(bands=BANDS_HZ) -> list[str]:
    """Keys of :func:`band_level_errors` for ``bands`` (Hz): ``"band_err_<lo>_<hi>"`` in
    kHz, e.g. ``band_err_0_1``. Chapter 6 (C7).
    Chapter: 06_losses."""
    return [f"band_err_{lo / 1000:g}_{hi / 1000:g}" for lo, hi in bands]


def band_level_errors(estimate, reference, sample_rate: int = 16000,
                      bands=BANDS_HZ) -> dict[str, float]:
    """Colouration: the level of the estimate minus that of the reference in each
    frequency band, dB, after removing the overall level difference.

    ``e_b = 10·log10(P̂_b / P_b) − 10·log10(P̂ / P)`` with ``P_b`` the band power of
    the Welch spectrum (512-point Hann segments) and ``P`` the total power. A flat
    (uncoloured) estimate gives 0 dB in every band whatever its gain; a tilt shows
    up as a slope across bands (claim C7). Keys: :func:`band_names`. ``(L,)`` signals.
    Chapter 6.
    Chapter: 06_losses.
    """
    e, r = _pair(estimate, reference, "band_level_errors")
    (pe_total, pe), (pr_total, pr) = _band_powers(e, sample_rate, bands), _band_powers(r, sample_rate, bands)
    total = 10.0 * np.log10(max(pe_total, 1e-30) / max(pr_total, 1e-30))
    return {name: float(10.0 * np.log10(max(a, 1e-30) / max(b, 1e-30)) - total)
            for name, a, b in zip(band_names(bands), pe, pr)}


def _band_powers(x: np.ndarray, sample_rate: int, bands) -> tuple[float, list[float]]:
    """The total power of the Welch spectrum of ``x`` (512-point Hann segments) and its power
    in each band ``(lo, hi)`` Hz (the last band up to Nyquist when ``hi`` reaches it)."""
    f, p = signal.welch(x, fs=sample_rate, nperseg=512)
    return float(p.sum()), [float(p[(f >= lo) & (f < hi) if hi < sample_rate / 2 else (f >= lo)].sum())
                            for lo, hi in bands]


def band_noise_reduction(enhanced, clean, noisy, sample_rate: int = 16000, bands=BANDS_HZ) -> pd.DataFrame:
    """How much of the noise an enhancer removes in each frequency band.

    Per band ``b`` (Hz, default :data:`BANDS_HZ`): the noise level ``10·log10 P_b(y − s)``,
    the residual level ``10·log10 P_b(ŝ − s)`` (what is left of the noise and what the
    enhancer added to the speech) and the reduction (their difference, dB; 0: the band's
    noise passes untouched), ``P_b`` the band power of the Welch spectrum (512-point Hann
    segments). ``enhanced``, ``clean``, ``noisy``: ``(L,)`` signals, aligned. Returns a frame
    indexed by band (``"0-1 kHz"``, ...) with columns ``noise_db``, ``residual_db``,
    ``reduction_db``. Chapter 5 (where the held-out insect noise is left in).
    Chapter: 05_complex_mapping.
    """
    e, s = _pair(enhanced, clean, "band_noise_reduction")
    y, _ = _pair(noisy, clean, "band_noise_reduction")
    _, pn = _band_powers(y - s, sample_rate, bands)
    _, pr = _band_powers(e - s, sample_rate, bands)
    rows = {}
    for (lo, hi), n_pow, r_pow in zip(bands, pn, pr):
        n_db, r_db = 10.0 * np.log10(max(n_pow, 1e-30)), 10.0 * np.log10(max(r_pow, 1e-30))
        rows[f"{lo / 1000:g}-{hi / 1000:g} kHz"] = {"noise_db": n_db, "residual_db": r_db, "reduction_db": n_db - r_db}
    return pd.DataFrame(rows).T


# ----------------------------------------------------------------------------
# Distribution of STFT coefficients (C4)
# ----------------------------------------------------------------------------
#: Normalisations of :func:`normalised_coefficients`.
NORMALISATIONS = ("utterance", "band", "local")


def normalised_coefficients(spec, mode: str = "utterance") -> np.ndarray:
    """Re and Im parts of a complex STFT ``(F, T)``, normalised, as one float64 vector.

    The DC and Nyquist bins are dropped (their imaginary part is exactly 0). Modes:

    * ``"utterance"``: divided by the RMS of all the utterance's Re/Im values: the
      pooled distribution over time and frequency, what a loss on the raw
      coefficients sees;
    * ``"band"``: each frequency bin divided by its own RMS over the utterance's
      frames (removes the spectral tilt, keeps the variation over time);
    * ``"local"``: each coefficient divided by the RMS of its 8 neighbours
      (``f ± 1``, ``t ± 1``, the coefficient itself excluded, edges repeated), a
      local scale estimate that removes the time-frequency envelope; units whose
      local scale is 0 are dropped.

    Returns ``2·(F − 2)·T`` values (fewer for ``"local"`` if any are dropped), Re
    first. Chapter 6 (C4).

    Chapter: 06_losses.
    """
    S = np.asarray(spec)
    if S.ndim != 2 or not np.iscomplexobj(S):
        raise ValueError(f"spec must be a complex (F, T) STFT, got {S.dtype} {S.shape}")
    if mode not in NORMALISATIONS:
        raise ValueError(f"mode must be one of {NORMALISATIONS}, got {mode!r}")
    S = S.astype(np.complex128)
    power = np.abs(S) ** 2
    if mode == "utterance":
        scale = np.full(S.shape, math.sqrt(power[1:-1].mean() / 2))
    elif mode == "band":
        scale = np.broadcast_to(np.sqrt(power.mean(1, keepdims=True) / 2), S.shape)
    else:
        padded = np.pad(power, 1, mode="edge")
        box = sum(padded[1 + df: 1 + df + S.shape[0], 1 + dt: 1 + dt + S.shape[1]]
                  for df in (-1, 0, 1) for dt in (-1, 0, 1))
        scale = np.sqrt((box - power) / 8 / 2)
    S, scale = S[1:-1], scale[1:-1]
    keep = scale > 0
    return np.concatenate([S.real[keep] / scale[keep], S.imag[keep] / scale[keep]])


def fit_gaussian(x) -> tuple[float, float]:
    """Maximum-likelihood zero-mean Gaussian: ``σ = sqrt(mean x²)``.

    Returns ``(σ, mean log-likelihood in nats per value)``; the latter is
    ``−½·log(2πσ²) − ½``. The location is fixed at 0: Re/Im of an STFT are
    symmetric about 0. Chapter 6 (C4).
    Chapter: 06_losses.
    """
    x = np.asarray(x, dtype=np.float64)
    var = float(np.mean(x * x))
    return math.sqrt(var), -0.5 * math.log(2 * math.pi * var) - 0.5


def fit_laplace(x) -> tuple[float, float]:
    """Maximum-likelihood zero-mean Laplacian ``p(x) = exp(−|x|/b)/(2b)``: ``b = mean|x|``.

    Returns ``(b, mean log-likelihood in nats per value)`` = ``(b, −log(2b) − 1)``.
    Location fixed at 0 as in :func:`fit_gaussian`. Chapter 6 (C4).
    Chapter: 06_losses.
    """
    b = float(np.mean(np.abs(np.asarray(x, dtype=np.float64))))
    return b, -math.log(2 * b) - 1.0


def _gennorm_profile(beta: float, ax: np.ndarray) -> tuple[float, float]:
    """Scale and mean log-likelihood of the zero-mean generalised Gaussian at shape ``beta``."""
    m = float(np.mean(ax ** beta))
    alpha = (beta * m) ** (1.0 / beta)
    ll = math.log(beta) - math.log(2 * alpha) - special.gammaln(1.0 / beta) - 1.0 / beta
    return alpha, ll


def fit_gennorm(x, bounds: tuple[float, float] = (0.05, 8.0)) -> tuple[float, float, float]:
    """Maximum-likelihood zero-mean generalised Gaussian (:data:`scipy.stats.gennorm`).

    Density ``β/(2α·Γ(1/β))·exp(−(|x|/α)^β)``: ``β = 1`` is the Laplacian, ``β = 2``
    the Gaussian (α = σ√2), ``β < 1`` heavier tails than a Laplacian. For a given β
    the ML scale is ``α = (β·mean|x|^β)^(1/β)``; the shape maximises the profile
    log-likelihood ``log β − log(2α) − log Γ(1/β) − 1/β`` (bounded scalar search
    over ``log β`` in ``bounds``). Agrees with ``scipy.stats.gennorm.fit(x, floc=0)``
    (tested) and is much faster on millions of values.

    Returns ``(β, α, mean log-likelihood in nats per value)``. Chapter 6 (C4).
    Chapter: 06_losses.
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax = ax[ax > 0]
    res = optimize.minimize_scalar(lambda lb: -_gennorm_profile(math.exp(lb), ax)[1],
                                   bounds=tuple(math.log(b) for b in bounds), method="bounded",
                                   options={"xatol": 1e-6})
    beta = math.exp(res.x)
    alpha, ll = _gennorm_profile(beta, ax)
    return beta, alpha, ll


def compare_fits(x) -> dict:
    """Gaussian, Laplacian and generalised-Gaussian ML fits of ``x``, side by side.

    Returns a dict: ``n`` (values), ``nll_gauss``, ``nll_laplace``, ``nll_gennorm``
    (mean negative log-likelihoods, nats per value), ``delta_nll`` =
    ``nll_gauss − nll_laplace`` (> 0: the Laplacian fits better, by that many nats
    per coefficient), ``gennorm_beta`` (fitted shape), ``sigma``, ``b``,
    ``gennorm_alpha``, and ``kurtosis`` (excess; 0 Gaussian, 3 Laplacian).
    Chapter 6 (C4).
    Chapter: 06_losses.
    """
    x = np.asarray(x, dtype=np.float64)
    sigma, ll_g = fit_gaussian(x)
    b, ll_l = fit_laplace(x)
    beta, alpha, ll_gg = fit_gennorm(x)
    return {"n": int(x.size), "nll_gauss": -ll_g, "nll_laplace": -ll_l, "nll_gennorm": -ll_gg,
            "delta_nll": ll_l - ll_g, "gennorm_beta": beta, "sigma": sigma, "b": b,
            "gennorm_alpha": alpha, "kurtosis": float(stats.kurtosis(x, fisher=True))}


def qq_points(x, dist: str, n: int = 200, tail: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Quantile-quantile points of ``x`` against its ML fit ``dist`` (``"gauss"``,
    ``"laplace"``, ``"gennorm"``).

    ``n`` probabilities evenly spaced in ``[tail, 1 − tail]``. Returns
    ``(theoretical, empirical)`` quantiles; a perfect fit lies on the diagonal.
    Chapter 6 (C4).
    Chapter: 06_losses.
    """
    x = np.asarray(x, dtype=np.float64)
    p = np.linspace(tail, 1 - tail, n)
    if dist == "gauss":
        theo = stats.norm.ppf(p, scale=fit_gaussian(x)[0])
    elif dist == "laplace":
        theo = stats.laplace.ppf(p, scale=fit_laplace(x)[0])
    elif dist == "gennorm":
        beta, alpha, _ = fit_gennorm(x)
        theo = stats.gennorm.ppf(p, beta, scale=alpha)
    else:
        raise ValueError(f"dist must be 'gauss', 'laplace' or 'gennorm', got {dist!r}")
    return theo, np.quantile(x, p)


# ----------------------------------------------------------------------------
# Controlled degradations (C5, C6)
# ----------------------------------------------------------------------------
def white_noise_at_snr(x, snr_db: float, rng: np.random.Generator | int = 0) -> np.ndarray:
    """``x + n`` with white Gaussian noise ``n`` scaled so that
    ``10·log10(‖x‖²/‖n‖²) = snr_db`` exactly (the plain SNR of :func:`sedemo.metrics.snr`).
    Chapter 6 (C5, C6).
    Chapter: 06_losses."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(rng)
    n = rng.standard_normal(x.shape)
    n *= math.sqrt(np.sum(x * x) / np.sum(n * n) * 10.0 ** (-snr_db / 10.0))
    return x + n


def lowpass(x, cutoff_hz: float, sample_rate: int = 16000, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass (``order`` applied forwards and backwards,
    ``scipy.signal.sosfiltfilt``): removes the band above ``cutoff_hz`` without a
    delay. Chapter 6 (C5, C6).
    Chapter: 06_losses."""
    sos = signal.butter(order, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return np.ascontiguousarray(signal.sosfiltfilt(sos, np.asarray(x, dtype=np.float64)))


def preemphasis(x, coef: float = 0.97) -> np.ndarray:
    """First-order pre-emphasis ``y[n] = x[n] − coef·x[n−1]`` (a high-pass tilt of
    about +6 dB/octave). Chapter 6 (C6).
    Chapter: 06_losses."""
    return signal.lfilter([1.0, -coef], [1.0], np.asarray(x, dtype=np.float64))


def delay(x, samples: int) -> np.ndarray:
    """``x`` delayed by ``samples`` (zeros in front), same length. Chapter 6 (C5).

    Chapter: 06_losses."""
    x = np.asarray(x, dtype=np.float64)
    k = int(samples)
    return np.concatenate([np.zeros(k), x[: len(x) - k]]) if k > 0 else x.copy()


def resynthesised_with_random_phase(x, cfg: _stft.STFTConfig = _stft.DEFAULT, rng: np.random.Generator | int = 0) -> np.ndarray:
    """The STFT magnitude of ``x`` with uniformly random phases, resynthesised
    (:func:`sedemo.dsp.stft.istft`). The magnitude of the result's STFT is close to, not
    equal to, that of ``x`` (overlap-add mixes neighbouring frames): a signal that
    "looks" like ``x`` in a magnitude spectrogram but sounds rough and has an SNR
    near −3 dB. (The spectrum-domain operation alone is :func:`sedemo.dsp.phase.random_phase`,
    chapter 4; this waveform version draws its own phases.) Claim C5. Chapter: 06_losses."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(rng)
    S = _stft.stft(x, cfg)
    phase = np.exp(2j * np.pi * rng.random(S.shape))
    return np.asarray(_stft.istft(np.abs(S) * phase, cfg, length=len(x)), dtype=np.float64)


def score_table(reference, estimates: Mapping[str, np.ndarray],
                scorers: Mapping[str, Callable[[np.ndarray, np.ndarray], float]]) -> pd.DataFrame:
    """A table of scores: one row per estimate, one column per scorer.

    ``reference``: ``(L,)``; ``estimates``: name -> ``(L,)`` signal;
    ``scorers``: column name -> ``f(estimate, reference) -> float`` (e.g. a
    metric of :mod:`sedemo.metrics` or a loss of :mod:`sedemo.losses` wrapped to
    take one utterance). Chapter 6 (C5, C6).
    Chapter: 06_losses.
    """
    ref = np.asarray(reference, dtype=np.float64)
    rows = {name: {col: float(f(np.asarray(est, dtype=np.float64), ref)) for col, f in scorers.items()}
            for name, est in estimates.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def as_loss_scorer(loss: Callable, **options) -> Callable[[np.ndarray, np.ndarray], float]:
    """Wrap a waveform loss of :mod:`sedemo.losses` as ``f(estimate, reference) -> float``
    on one ``(L,)`` utterance (float64), for :func:`score_table`. Chapter 6.
    Chapter: 06_losses."""
    def scorer(est: np.ndarray, ref: np.ndarray) -> float:
        e = torch.as_tensor(np.ascontiguousarray(est, dtype=np.float64))[None]
        r = torch.as_tensor(np.ascontiguousarray(ref, dtype=np.float64))[None]
        with torch.no_grad():
            return float(loss(estimate=e, reference=r, **options))
    return scorer

