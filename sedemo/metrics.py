"""Objective speech-quality and -intelligibility metrics: SNR, segSNR, SI-SDR,
SD-SDR, PESQ, STOI/ESTOI and the LPC cepstral distance.

Chapter 1 defines every metric here and shows
its pitfalls; chapters 3-7 use :func:`score` for their result tables, and
chapter 6 (loss functions, claim C6) compares SNR, SI-SDR and SD-SDR under
scale, filter and DC perturbations.

Contract shared by every metric (enforced by one private helper, ``_prepare``, on
top of the package's input gate, ``sedemo._gate.check_signal``, which
:func:`sedemo.dsp.audio.validate`, the STFT and the enhancers run too):

* keyword-only ``estimate=`` (the enhanced / degraded signal, ŝ) and
  ``reference=`` (the clean signal, s), plus ``sample_rate=`` (Hz, a positive
  int) where the metric needs it;
* NumPy arrays or torch tensors of floating point samples in [-1, 1];
  everything is computed in float64 (tensors are detached and moved to the CPU).
  Integer (int16 PCM, ...), boolean and complex arrays are refused with a
  message that says how to convert (a ``TypeError`` that is also a ``ValueError``):
  an int16 estimate would otherwise be 32768 times too loud;
* mono, 1-D signals of equal length ``(L,)``; a 2-D input is refused (mix down
  or loop over a batch yourself, the error says how, channels first or last);
* long enough: one analysis frame for segSNR and CD (30 ms), 25.6 ms for STOI,
  0.25 s for PESQ, 2 samples for SI-SDR/SD-SDR; shorter clips get a one-line error;
* any level: a peak outside [2**-20, 2**20] is brought to [0.5, 1) by an exact
  power of two first (so ``1e200`` neither overflows nor gives NaN): one factor
  for both signals in SNR, segSNR and SD-SDR (their values do not change), one per
  signal in the level-blind SI-SDR, CD, STOI and PESQ. SNR, segSNR and SD-SDR
  refuse levels more than 1e144 apart (their value would be beyond +-2890 dB);
* finite values; a silent reference (all zero, or RMS < 1e-7) is refused
  because every metric here is relative to the reference and is undefined
  then; an all-zero *estimate* is allowed (SNR = 0 dB, SI-SDR = SD-SDR = -inf
  dB, see each function; PESQ cannot score it and says so);
* the result is a Python ``float``.

Higher is better for every metric except the cepstral distance
(:data:`METRICS` lists unit, direction and range of each).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from sedemo._gate import check_signal, rescale_pair as _rescale, robust_rms as _rms
from sedemo._utils import ArrayLike

__all__ = [
    "snr", "seg_snr", "si_sdr", "sd_sdr", "pesq", "stoi", "cepstral_distance",
    "score", "METRICS", "MetricInfo",
]

_SILENCE_RMS = 1e-7
_NO_RATE = object()  # sentinel: the metric takes no sample rate


# ----------------------------------------------------------------------------
# Input checks (one helper for every metric)
# ----------------------------------------------------------------------------
def _to_float64(x: ArrayLike, name: str, metric: str) -> np.ndarray:
    """The package's input gate (``sedemo._gate.check_signal``: real floats only, 1-D,
    finite), then float64 NumPy."""
    return check_signal(x, f"{metric}: {name}").detach().cpu().to(torch.float64).numpy()


def _check_sample_rate(sample_rate, metric: str) -> int:
    if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(sample_rate, (int, np.integer)):
        raise TypeError(
            f"{metric}: sample_rate must be a positive int in Hz (e.g. 16000), "
            f"got {sample_rate!r} of type {type(sample_rate).__name__}; "
            "use int(sample_rate) if it is a whole number."
        )
    if sample_rate <= 0:
        raise ValueError(f"{metric}: sample_rate must be a positive int in Hz, got {sample_rate}")
    return int(sample_rate)


def _prepare(estimate, reference, metric: str, sample_rate=_NO_RATE, zero_mean: bool = False,
             scale: str | None = None, min_length: int = 1):
    """Validate and convert one (estimate, reference) pair; the single place where
    every metric checks its input. Returns ``(estimate, reference, sample_rate)``
    as float64 NumPy arrays (zero-mean when ``zero_mean``, rescaled by ``scale``, see
    :func:`_rescale`) and an int (or None). ``min_length``: fewest samples accepted."""
    est = _to_float64(estimate, "estimate", metric)
    ref = _to_float64(reference, "reference", metric)
    if est.shape != ref.shape:
        n_est, n_ref = est.shape[0], ref.shape[0]
        raise ValueError(
            f"{metric}: estimate and reference must have the same length, got "
            f"estimate {n_est} and reference {n_ref} samples ({n_est - n_ref:+d}). Align "
            "them (a model or a resampler may have added a delay or padding), then trim "
            f"both to the shorter: n = min(len(estimate), len(reference)) = {min(n_est, n_ref)}."
        )
    rate = None if sample_rate is _NO_RATE else _check_sample_rate(sample_rate, metric)
    if ref.shape[0] < min_length:
        _too_short(metric, ref.shape[0], min_length, rate, "it removes the mean first" if zero_mean else "")
    rms = _rms(ref)
    if rms < _SILENCE_RMS:
        raise ValueError(
            f"{metric}: the reference is silent (RMS {rms:.3g} < {_SILENCE_RMS:g}); the metric "
            "compares the estimate with the reference and is undefined for a silent one. "
            "Check that estimate= and reference= are not swapped and that the clip holds speech."
        )
    if zero_mean:
        est = est - est.mean()
        ref = ref - ref.mean()
        rms0 = _rms(ref)
        if rms0 < _SILENCE_RMS:
            raise ValueError(
                f"{metric}: the reference is constant (a pure DC offset, RMS {rms0:.3g} after "
                "removing its mean); this metric removes the mean first, so it is undefined."
            )
    est, ref = _rescale(est, ref, scale, metric)
    return est, ref, rate


def _too_short(metric: str, n: int, minimum: int, rate: int | None, why: str) -> None:
    at = "" if rate is None else f" ({n / rate:.3g} s at {rate} Hz)"
    raise ValueError(
        f"{metric}: the signals are too short, {n} samples{at}; {metric} needs at least "
        f"{minimum} samples{f' ({why})' if why else ''}: score a longer clip."
    )


def _db_ratio(num: float, den: float) -> float:
    """10 log10(num / den) for energies, with num == 0 -> -inf (also 0/0) and den == 0 -> +inf."""
    if num <= 0.0:
        return -math.inf
    if den <= 0.0:
        return math.inf
    return 10.0 * math.log10(num / den)


def _frames(x: np.ndarray, frame: int, hop: int, metric: str) -> np.ndarray:
    """Frames ``(M, frame)`` starting at 0, hop, ...; only whole frames inside ``x``."""
    n = x.shape[0]
    if n < frame:
        raise ValueError(
            f"{metric}: the signal ({n} samples) is shorter than one analysis frame "
            f"({frame} samples); use a longer clip."
        )
    m = 1 + (n - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(m)[:, None]
    return x[idx]


def _hann(n: int) -> np.ndarray:
    """Hann window without zero end points, w[k] = 0.5(1 - cos(2πk/(n+1))), k = 1..n
    (MATLAB's ``hanning(n)``, as in Loizou's reference implementations)."""
    return 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(1, n + 1) / (n + 1)))


# ----------------------------------------------------------------------------
# Energy ratios
# ----------------------------------------------------------------------------
def snr(*, estimate: ArrayLike, reference: ArrayLike) -> float:
    """Signal-to-noise ratio of an estimate, in dB (higher is better).

    ``SNR = 10 log10(||s||² / ||s - ŝ||²)`` with s the reference and ŝ the estimate:
    everything that differs from the reference counts as noise. No mean removal.

    Range: (-inf, +inf) dB; ``+inf`` for a perfect estimate, ``0`` dB for an
    all-zero estimate (the whole reference is "missing").

    Used in chapter 1 (01_noisy_speech: the input SNR of a mixture
    y = s + n) and chapter 6 (the SNR loss, claim C6).

    Pitfalls: not scale invariant: ``0.5 * s`` has an SNR of only 6.02 dB, and
    ``-s`` (polarity flip) gives -6.02 dB, although neither changes the waveform's shape; a DC
    offset or a one-sample delay also count as noise. For mixing at an SNR the
    book uses the active speech level (``sedemo.dsp.audio``), not this whole-signal
    ratio. See SI-SDR for a scale-invariant alternative.
    Chapters: 01_noisy_speech, 06_losses.
    """
    est, ref, _ = _prepare(estimate, reference, "snr", scale="common")
    return _db_ratio(float(np.sum(ref**2)), float(np.sum((ref - est) ** 2)))


def _projection(est: np.ndarray, ref: np.ndarray):
    alpha = float(np.dot(est, ref) / np.dot(ref, ref))
    return alpha, alpha * ref


def si_sdr(*, estimate: ArrayLike, reference: ArrayLike) -> float:
    """Scale-invariant signal-to-distortion ratio, in dB (higher is better).

    Both signals are made **zero-mean first** (a DC offset is neither target nor
    distortion). Then ``α = ŝᵀs / ||s||²`` (the least-squares gain of the reference
    that best explains the estimate) and

        SI-SDR = 10 log10(||α s||² / ||α s - ŝ||²).

    Reference: J. Le Roux, S. Wisdom, H. Erdogan, J. R. Hershey, "SDR - half-baked
    or well done?", ICASSP 2019.

    Range: (-inf, +inf) dB. Invariant to any non-zero rescaling of the estimate
    (its sign included). An estimate orthogonal to the reference, or all zero, has
    α = 0 and gets ``-inf`` (we define the 0/0 of the all-zero case as -inf, the
    limit of SD-SDR; exclude such items before averaging). A perfect estimate gives
    a very large value (hundreds of dB, limited by rounding) or ``+inf``.

    Used in chapter 1 (definition, pitfalls), chapter 6 (SI-SDR loss, claims C6
    and C7) and the evaluation tables of chapters 3-7 (SI-SDR improvement = SI-SDR
    of the output minus SI-SDR of the noisy input).

    Pitfalls: because it ignores the gain, an output that is 20 dB too quiet
    scores as well as a correctly scaled one (chapter 6, C7); it is also not
    invariant to filtering: a colouration or a delay of the estimate lowers it.
    Chapters: 01_noisy_speech, 06_losses, 03_masks, 04_phase, 05_complex_mapping, 07_causality.
    """
    est, ref, _ = _prepare(estimate, reference, "si_sdr", zero_mean=True, scale="each",
                           min_length=2)
    _, target = _projection(est, ref)
    return _db_ratio(float(np.sum(target**2)), float(np.sum((target - est) ** 2)))


def sd_sdr(*, estimate: ArrayLike, reference: ArrayLike) -> float:
    """Scale-dependent signal-to-distortion ratio, in dB (higher is better).

    Same zero-mean convention and same ``α = ŝᵀs / ||s||²`` as :func:`si_sdr`, but
    the error is measured against the unscaled reference:

        SD-SDR = 10 log10(||α s||² / ||s - ŝ||²).

    Reference: J. Le Roux et al., "SDR - half-baked or well done?", ICASSP 2019.

    Range: (-inf, +inf) dB; ``-inf`` for an all-zero estimate (α = 0), ``+inf`` for
    a perfect one. Used in chapter 1 and chapter 6 (claim C6, side by side with SNR
    and SI-SDR under scale, filter and DC perturbations).

    Pitfalls: it punishes a wrong gain, but not symmetrically: for ŝ = g·s it equals
    ``20 log10(|g| / |1 - g|)``, so a too-loud estimate (g = 2: +6.0 dB) scores
    better than a too-quiet one (g = 0.5: 0 dB). A DC offset is ignored (mean
    removal), unlike in :func:`snr`.
    Chapters: 01_noisy_speech, 06_losses.
    """
    est, ref, _ = _prepare(estimate, reference, "sd_sdr", zero_mean=True, scale="common",
                           min_length=2)
    _, target = _projection(est, ref)
    return _db_ratio(float(np.sum(target**2)), float(np.sum((ref - est) ** 2)))


def seg_snr(
    *,
    estimate: ArrayLike,
    reference: ArrayLike,
    sample_rate: int = 16000,
    frame_ms: float = 30.0,
    hop_ms: float = 7.5,
    min_db: float = -10.0,
    max_db: float = 35.0,
) -> float:
    """Segmental SNR: the frame-wise SNR, clamped, averaged over frames (dB).

    Convention (that of Hansen & Pellom 1998 as implemented for P. C. Loizou,
    *Speech Enhancement: Theory and Practice*, 2nd ed. 2013, and the composite
    measures of Hu & Loizou 2008):

    * frames of ``round(frame_ms·fs/1000)`` samples (30 ms = 480 at 16 kHz) every
      ``round(hop_ms·fs/1000)`` samples (7.5 ms = 120, 75 % overlap), starting at
      sample 0; only whole frames inside the signal (a tail shorter than a hop is
      not scored);
    * both signals are weighted by the same Hann window
      ``w[k] = 0.5(1 - cos(2πk/(N+1)))``, k = 1..N (no zero end points), so the
      frame error is ``w·(s - ŝ)``;
    * ``SNR_m = 10 log10(Σ (w s)² / Σ (w (s - ŝ))²)``, with a frame without error
      (also a silent frame estimated as silent) counted as +inf and a silent
      reference frame with some error as -inf; then clamped to ``[min_db, max_db]``;
    * ``segSNR = mean_m SNR_m``. Every frame counts; silent frames are *not*
      removed (no voice-activity detection).

    Why clamp: a silent reference frame has SNR -> -inf and would dominate the
    mean; a near-perfect frame (SNR > 35 dB) is perceptually no better than 35 dB.

    Range: ``[min_db, max_db]`` (default [-10, 35] dB). Reference: J. H. L.
    Hansen, B. L. Pellom, "An effective quality evaluation protocol for speech
    enhancement algorithms", ICSLP 1998. Used in chapter 1 and the evaluation
    tables.

    Pitfalls: the number depends on all these conventions (frame, overlap,
    window, clamp, silent frames), so compare segSNR only within one
    implementation. Pauses in the reference sit at ``min_db`` for any estimate
    that leaves noise in them, so clips with more silence score lower. An
    all-zero estimate gives 0 dB on active frames and ``max_db`` on exactly
    silent ones.
    Chapter: 01_noisy_speech.
    """
    est, ref, rate = _prepare(estimate, reference, "seg_snr", sample_rate=sample_rate, scale="common")
    frame = int(round(frame_ms * rate / 1000.0))
    hop = int(round(hop_ms * rate / 1000.0))
    if frame < 2 or hop < 1:
        raise ValueError(
            f"seg_snr: frame_ms={frame_ms} and hop_ms={hop_ms} give {frame} and {hop} "
            f"samples at {rate} Hz; need a frame of at least 2 samples and a hop of at least 1."
        )
    if not min_db < max_db:
        raise ValueError(f"seg_snr: need min_db < max_db, got {min_db} and {max_db}")
    w = _hann(frame)
    sig = np.sum((_frames(ref, frame, hop, "seg_snr") * w) ** 2, axis=1)
    err = np.sum((_frames(ref - est, frame, hop, "seg_snr") * w) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame_snr = 10.0 * np.log10(sig / err)
    frame_snr = np.where(err == 0.0, np.inf, frame_snr)
    frame_snr = np.where((sig == 0.0) & (err > 0.0), -np.inf, frame_snr)
    return float(np.mean(np.clip(frame_snr, min_db, max_db)))


# ----------------------------------------------------------------------------
# Perceptual metrics through their reference packages
# ----------------------------------------------------------------------------
def pesq(
    *, estimate: ArrayLike, reference: ArrayLike, sample_rate: int, mode: str = "wb"
) -> float:
    """PESQ (Perceptual Evaluation of Speech Quality), as MOS-LQO (higher is better).

    Computed by the ``pesq`` package (the ITU-T reference C code): ``mode="wb"``
    is wide-band PESQ, ITU-T P.862.2 (needs 16 kHz), ``mode="nb"`` narrow-band
    PESQ, ITU-T P.862 with the P.862.1 mapping to MOS-LQO (8 or 16 kHz input).
    The package scales both signals by their common peak, so the absolute level
    does not matter.

    Range: about 1.04 to 4.64 (wb) and 1.02 to 4.55 (nb), the limits of the
    MOS-LQO mappings; a perfect estimate reaches the top. Anchors (the guidebook's reference numbers):
    the VoiceBank-DEMAND noisy test set has PESQ-WB 1.97.

    Used in chapter 1 and the evaluation tables of chapters 3-7.

    Pitfalls: needs speech: PESQ models a listener judging speech, with a voice
    activity detector and time alignment; on tones or noise the value means
    nothing. Needs at least 0.25 s. 'wb' and 'nb' scores are not comparable, and
    papers often do not say which they report (check the sample rate and the
    range). Other sample rates must be resampled first. An all-zero estimate
    cannot be scored. PESQ is not differentiable (chapter 6, C8).

    Raises ``ValueError`` for an unsupported rate or mode, and turns the package's
    own errors (too short, no utterances detected, ...) into ``ValueError``.
    Chapters: 01_noisy_speech, 03_masks, 04_phase, 05_complex_mapping, 06_losses, 07_causality.
    """
    est, ref, rate = _prepare(estimate, reference, "pesq", sample_rate=sample_rate, scale="each")
    if mode not in ("wb", "nb"):
        raise ValueError(
            f"pesq: mode must be 'wb' (wide band, P.862.2, 16 kHz) or 'nb' (narrow band, "
            f"P.862, 8 or 16 kHz), got {mode!r}"
        )
    if mode == "wb" and rate != 16000:
        extra = " or use mode='nb' (narrow band works at 8 kHz)" if rate == 8000 else ""
        raise ValueError(
            f"pesq: wide-band PESQ (mode='wb', ITU-T P.862.2) needs a sample rate of 16000 Hz, "
            f"got {rate}. Resample both signals first, e.g. "
            f"sedemo.dsp.audio.resample(x, {rate}, 16000){extra}."
        )
    if mode == "nb" and rate not in (8000, 16000):
        raise ValueError(
            f"pesq: narrow-band PESQ (mode='nb', ITU-T P.862) needs 8000 or 16000 Hz, got "
            f"{rate}. Resample both signals first, e.g. sedemo.dsp.audio.resample(x, {rate}, 16000)."
        )
    if ref.shape[0] < rate // 4:
        _too_short("pesq", ref.shape[0], rate // 4, rate, "0.25 s; whole utterances for a meaningful score")
    if not np.any(est):
        raise ValueError(
            "pesq: the estimate is all zeros; PESQ cannot score a silent signal (the "
            "package fails on it). Report it separately, e.g. as the lowest score."
        )
    import pesq as pesq_package

    try:
        score = pesq_package.pesq(rate, ref, est, mode)
    except pesq_package.BufferTooShortError:
        raise ValueError(
            f"pesq: the signals are too short ({ref.shape[0] / rate:.3f} s); PESQ needs at "
            "least 0.25 s of audio, and whole utterances (several seconds) for a meaningful score."
        ) from None
    except pesq_package.NoUtterancesError:
        raise ValueError(
            "pesq: PESQ detected no utterances (its voice activity detector found no speech); "
            "check that the signals hold audible speech and are not mostly silence or noise."
        ) from None
    except (pesq_package.PesqError, ValueError) as err:
        raise ValueError(f"pesq: the PESQ package failed ({type(err).__name__}: {err}).") from None
    return float(score)


_STOI_FRAMES = 30  # frames of 25.6 ms (256 samples at 10 kHz) in one 384-ms segment


def stoi(
    *, estimate: ArrayLike, reference: ArrayLike, sample_rate: int, extended: bool = False
) -> float:
    """STOI, or ESTOI with ``extended=True`` (higher is better), via ``pystoi``.

    Short-Time Objective Intelligibility (C. H. Taal, R. C. Hendriks, R. Heusdens,
    J. Jensen, IEEE TASLP 2011) and its extension for modulated maskers (J. Jensen,
    C. H. Taal, IEEE TASLP 2016). How it works (pystoi follows the MATLAB code):
    both signals are resampled to 10 kHz; frames of 256 samples (25.6 ms, Hann,
    50 % overlap) whose *reference* energy is more than 40 dB below the loudest
    frame are removed from both; 15 one-third-octave bands from 150 Hz; the
    band envelopes are compared over segments of 30 frames (384 ms) by a
    correlation (STOI: per band, after normalisation and clipping at -15 dB SDR;
    ESTOI: of the row- and column-normalised segment), averaged over segments
    and bands.

    Range: STOI in practice 0 to 1 (in theory -1 to 1); ESTOI in practice about
    0 to 1. A perfect estimate gives 1. Anchor (the guidebook's reference numbers): VoiceBank-DEMAND
    noisy test set STOI 0.921. Used in chapter 1 and the evaluation tables of
    chapters 3-7; ESTOI also in chapter 6 (C8).

    Short-clip pitfall (shown in chapter 1): when fewer than 30 frames of 25.6 ms
    remain after silent-frame removal (less than about 0.4 s of non-silent
    speech), there is not a single 384-ms segment. pystoi then returns the
    placeholder ``1e-05``, looking like "no intelligibility at all", with only a
    ``RuntimeWarning``. This function returns the same number (so it always agrees
    with pystoi) but emits a ``UserWarning`` saying that it is not a measurement.
    With few segments above the limit (clips under ~1-2 s) the value is noisy;
    score whole utterances.

    Other pitfalls: silent-frame removal uses the reference only, so what the
    estimate does in the reference's pauses does not count; the level of the
    estimate does not matter (normalisation). ESTOI adds machine-epsilon random
    noise inside pystoi, so repeated calls may differ in the last digits.
    Chapters: 01_noisy_speech, 03_masks, 04_phase, 05_complex_mapping, 06_losses, 07_causality.
    """
    est, ref, rate = _prepare(estimate, reference, "stoi", sample_rate=sample_rate, scale="each")
    if ref.shape[0] < 256 * rate // 10000 + 1:  # one frame of 256 samples after resampling to 10 kHz
        _too_short("stoi", ref.shape[0], 256 * rate // 10000 + 1, rate, "one 25.6-ms frame at 10 kHz")
    from pystoi import stoi as pystoi_stoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = pystoi_stoi(ref, est, rate, extended=bool(extended))
    too_short = False
    for w in caught:
        if "not enough" in str(w.message).lower():
            too_short = True
        else:  # pass on anything else pystoi or NumPy had to say
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if too_short:
        name = "ESTOI" if extended else "STOI"
        warnings.warn(
            f"{name}: the clip is too short for a reliable value: after removing silent "
            f"frames (more than 40 dB below the loudest reference frame) fewer than "
            f"{_STOI_FRAMES} frames of 25.6 ms remain, i.e. not even one 384-ms analysis "
            f"segment ({ref.shape[0] / rate:.2f} s in total). pystoi returned the placeholder "
            f"{value:g}, which is NOT a measurement. Score longer clips (whole utterances, "
            "at least ~1 s of active speech) or concatenate short ones.",
            UserWarning,
            stacklevel=2,
        )
    return float(value)


# ----------------------------------------------------------------------------
# LPC cepstral distance
# ----------------------------------------------------------------------------
def _autocorrelation(frames: np.ndarray, order: int) -> np.ndarray:
    """Biased autocorrelation r[:, k] = Σ_n x[n] x[n+k], k = 0..order, per frame."""
    n = frames.shape[1]
    return np.stack(
        [np.einsum("ij,ij->i", frames[:, : n - k], frames[:, k:]) for k in range(order + 1)],
        axis=1,
    )


def _levinson(r: np.ndarray, order: int, rel_tol: float = 1e-12) -> np.ndarray:
    """Levinson-Durbin for many frames at once.

    ``r`` (M, order+1) autocorrelations -> ``a`` (M, order+1) with a[:, 0] = 1, the
    coefficients of the inverse filter A(z) = 1 + Σ_k a_k z^-k that minimises the
    prediction error. Degenerate frames: an all-zero frame gives A(z) = 1 (flat
    spectrum); when the prediction error falls below ``rel_tol·r[0]`` (a frame
    that is already perfectly predictable, e.g. a pure sinusoid) the remaining
    reflection coefficients are set to 0.
    """
    m = r.shape[0]
    a = np.zeros((m, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    floor = rel_tol * r[:, 0]
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("ij,ij->i", a[:, 1:i], r[:, i - 1 : 0 : -1])
        ok = err > floor
        k = np.where(ok, -acc / np.where(ok, err, 1.0), 0.0)
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        err = err * (1.0 - k**2)
    return a


def _lpc_cepstrum(a: np.ndarray) -> np.ndarray:
    """Cepstrum c_1..c_p of the all-pole model 1/A(z), A(z) = 1 + Σ a_k z^-k:
    c_n = -a_n - (1/n) Σ_{k=1}^{n-1} k c_k a_{n-k} (gain term c_0 left out)."""
    p = a.shape[1] - 1
    c = np.zeros((a.shape[0], p + 1))  # column 0 unused
    for n in range(1, p + 1):
        k = np.arange(1, n)
        c[:, n] = -a[:, n] - (c[:, 1:n] * a[:, n - k] * k).sum(axis=1) / n
    return c[:, 1:]


def cepstral_distance(
    *, estimate: ArrayLike, reference: ArrayLike, sample_rate: int = 16000, order: int | None = None
) -> float:
    """LPC cepstral distance between estimate and reference (dB-like; LOWER is better).

    Convention (that of the composite measures of Y. Hu, P. C. Loizou, "Evaluation
    of objective quality measures for speech enhancement", IEEE TASLP 2008, and
    Loizou's book):

    * frames of 30 ms (``round(0.03·fs)``, 480 samples at 16 kHz) every quarter
      frame (``frame // 4``, 7.5 ms: 75 % overlap), starting at sample 0, whole
      frames only; Hann window ``0.5(1 - cos(2πk/(N+1)))``, k = 1..N;
    * LPC of order ``p`` by the autocorrelation method and the Levinson-Durbin
      recursion; default ``p = 10`` below 10 kHz (8 kHz speech) and ``p = 16`` from
      10 kHz up (as in Hu & Loizou's code);
    * cepstrum of the all-pole model 1/A(z) by the recursion
      ``c_n = -a_n - (1/n) Σ_{k=1}^{n-1} k c_k a_{n-k}``, n = 1..p (c_0, the gain,
      is not used);
    * per frame ``CD = (10 / ln 10) · sqrt(2 Σ_{k=1}^{p} (c_k - ĉ_k)²)``, clipped to
      [0, 10];
    * the mean over the lowest 95 % of the frame values (``round(0.95·M)`` of the
      M frames, at least one) drops the worst 5 %.

    Degenerate frames: an all-zero frame has a flat model (all c_k = 0).

    Range: [0, 10]; 0 for a perfect estimate. Used in chapter 1 and in chapter 6
    (C8, a CD-like loss). Pitfalls: it compares only spectral envelopes (LPC
    shape): it ignores the level (any gain, c_0 is dropped), the fine (pitch)
    structure and the phase; silent frames are scored like the others, so a
    noisy pause can count as much as speech.
    Chapters: 01_noisy_speech, 06_losses.
    """
    est, ref, rate = _prepare(estimate, reference, "cepstral_distance", sample_rate=sample_rate,
                                 scale="each")
    if order is None:
        order = 10 if rate < 10000 else 16
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"cepstral_distance: order must be a positive int, got {order!r}")
    order = int(order)
    frame = int(round(0.030 * rate))
    hop = max(1, frame // 4)
    if order >= frame:
        raise ValueError(
            f"cepstral_distance: LPC order {order} must be below the frame length "
            f"({frame} samples at {rate} Hz)"
        )
    w = _hann(frame)
    c_ref = _lpc_cepstrum(_levinson(_autocorrelation(_frames(ref, frame, hop, "cepstral_distance") * w, order), order))
    c_est = _lpc_cepstrum(_levinson(_autocorrelation(_frames(est, frame, hop, "cepstral_distance") * w, order), order))
    d = (10.0 / np.log(10.0)) * np.sqrt(2.0 * np.sum((c_ref - c_est) ** 2, axis=1))
    d = np.sort(np.clip(d, 0.0, 10.0))
    keep = max(1, int(np.floor(0.95 * d.shape[0] + 0.5)))
    return float(np.mean(d[:keep]))


# ----------------------------------------------------------------------------
# All at once, for tables
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricInfo:
    """One metric in one place: display ``name``, ``unit`` ("dB", "MOS-LQO" or "" for a
    score), ``higher_is_better``, the possible ``range`` (low, high) and ``compute``,
    ``compute(estimate, reference, sample_rate) -> float`` with the settings the
    book's tables use. Chapter: 01_noisy_speech."""

    name: str
    unit: str
    higher_is_better: bool
    range: tuple[float, float]
    compute: Callable[[np.ndarray, np.ndarray, int], float] | None = None

    @property
    def label(self) -> str:
        """Table heading: the name, with the unit when it is dB (``"SI-SDR (dB)"``)."""
        return f"{self.name} (dB)" if self.unit == "dB" else self.name


METRICS: dict[str, MetricInfo] = {
    "pesq_wb": MetricInfo("PESQ-WB", "MOS-LQO", True, (1.04, 4.64),
                          lambda e, r, sr: pesq(estimate=e, reference=r, sample_rate=sr, mode="wb")),
    "pesq_nb": MetricInfo("PESQ-NB", "MOS-LQO", True, (1.02, 4.55),
                          lambda e, r, sr: pesq(estimate=e, reference=r, sample_rate=sr, mode="nb")),
    "stoi": MetricInfo("STOI", "", True, (0.0, 1.0),
                       lambda e, r, sr: stoi(estimate=e, reference=r, sample_rate=sr)),
    "estoi": MetricInfo("ESTOI", "", True, (0.0, 1.0),
                        lambda e, r, sr: stoi(estimate=e, reference=r, sample_rate=sr, extended=True)),
    "si_sdr": MetricInfo("SI-SDR", "dB", True, (-math.inf, math.inf),
                         lambda e, r, sr: si_sdr(estimate=e, reference=r)),
    "sd_sdr": MetricInfo("SD-SDR", "dB", True, (-math.inf, math.inf),
                         lambda e, r, sr: sd_sdr(estimate=e, reference=r)),
    "snr": MetricInfo("SNR", "dB", True, (-math.inf, math.inf), lambda e, r, sr: snr(estimate=e, reference=r)),
    "seg_snr": MetricInfo("segSNR", "dB", True, (-10.0, 35.0),
                          lambda e, r, sr: seg_snr(estimate=e, reference=r, sample_rate=sr)),
    "cd": MetricInfo("CD", "dB", False, (0.0, 10.0),
                     lambda e, r, sr: cepstral_distance(estimate=e, reference=r, sample_rate=sr)),
}
"""The one table of the book's metrics: key -> :class:`MetricInfo` (name, unit,
direction, range, how to compute it). STOI/ESTOI ranges are the practical ones; PESQ
ranges are the limits of the MOS-LQO mappings. Chapter: 01_noisy_speech."""


def score(*, estimate: ArrayLike, reference: ArrayLike, sample_rate: int = 16000,
          which: Iterable[str] | None = None) -> dict:
    """The metrics ``which`` (keys of :data:`METRICS`; default: all of them) for one
    (estimate, reference) pair, as ``{key: float}``.

    Default settings (PESQ-NB computed on the 16 kHz input, the package's P.862
    narrow-band filter). Needs 16 kHz (PESQ-WB). Errors and the short-clip STOI
    warning are those of the single metrics; an unknown key raises ``ValueError``
    listing the valid ones. Used for the result tables of chapters 1 and 3-7.
    Chapter: 01_noisy_speech.
    """
    keys = list(METRICS) if which is None else list(which)
    unknown = [k for k in keys if k not in METRICS]
    if unknown:
        raise ValueError(f"score: unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    est, ref, rate = _prepare(estimate, reference, "score", sample_rate=sample_rate)
    if rate != 16000:
        raise ValueError(
            f"score: needs 16000 Hz (wide-band PESQ), got {rate}; resample both signals "
            f"first, e.g. sedemo.dsp.audio.resample(x, {rate}, 16000)."
        )
    return {k: float(METRICS[k].compute(est, ref, rate)) for k in keys}
