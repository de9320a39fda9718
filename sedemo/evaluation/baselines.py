"""Classical (non-learned) enhancers: the baselines every model must beat.

* :func:`wiener` — a causal, frame-by-frame Wiener filter with the decision-directed
  a-priori SNR estimate of Ephraim & Malah (1984) and a minimum-statistics noise
  tracker (a simplified form of Martin 2001: smoothed periodogram, running minimum
  over 1.5 s, bias compensation). This is the textbook single-channel enhancer
  (Loizou 2013, ch. 6-9).
* :func:`spectral_subtraction` — power spectral subtraction with over-subtraction
  and a spectral floor (Berouti et al. 1979), on the same noise estimate.
* :func:`noisereduce_baseline` — the PyPI package ``noisereduce`` (spectral gating),
  an outside reference implementation.

All take a 16-kHz float waveform ``(L,)`` and return one of the same length; they
share the signature of :mod:`sedemo.evaluation.scoring` enhancers (``enhance(noisy, clean=None)``,
the clean signal is ignored). Used in chapters 5 and 6 and by ``python -m sedemo.evaluation``.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import minimum_filter1d

from sedemo.dsp import stft as _stft


def noise_psd(power: np.ndarray, hop_s: float = 0.01, smooth: float = 0.9, window_s: float = 1.5,
              bias: float = 1.5, padded_frames: int = 1) -> np.ndarray:
    """Minimum-statistics noise power estimate (causal; Martin 2001, simplified).

    ``power``: ``|Y|^2``, shape ``(F, T)``. The periodogram is smoothed over time,
    ``P(t) = smooth*P(t-1) + (1-smooth)*|Y(t)|^2``; the noise power at ``t`` is
    ``bias`` times the minimum of ``P`` over the last ``window_s`` seconds (frames
    ``t-D+1 .. t``), which tracks the noise floor through speech pauses. ``bias``
    compensates the minimum's downward bias for a smoothed chi-square variable.
    ``padded_frames``: the first frames of the book's causal STFT hold the zero padding
    before the signal (``ceil((n_fft - hop) / hop)``, 1 by default); they are not
    noise, so the smoothing and the minimum search start at the first full frame and
    the padding frames get its value. Starting the search on the padding (as an
    earlier version did) underestimated the noise by 6.9 dB over the first 1.5 s of the
    validation items; now the estimate is 4.4 dB low there (the first smoothed values
    are still close to single periodograms) and 0.2 dB low afterwards. Returns
    ``(F, T)`` in the units of ``power``. Chapter: 05_complex_mapping.
    """
    p = np.empty_like(power)
    first = min(max(int(padded_frames), 0), power.shape[1] - 1)
    acc = power[:, first].copy()
    p[:, :first] = acc[:, None]
    for t in range(first, power.shape[1]):
        acc = smooth * acc + (1 - smooth) * power[:, t]
        p[:, t] = acc
    d = max(1, int(round(window_s / hop_s)))
    # causal running minimum over the frames since the first full one: minimum_filter1d
    # centres its window, so shift by d//2
    search = p.copy()
    search[:, :first] = np.inf
    padded = np.concatenate([np.full((p.shape[0], d - 1), np.inf), search], axis=1)
    mins = minimum_filter1d(padded, size=d, axis=1, origin=(d - 1) // 2)[:, d - 1:]
    mins[:, :first] = p[:, :first]
    return bias * mins


def _padded_frames(cfg) -> int:
    """Frames of the causal STFT that start before the signal (they hold zero padding)."""
    return -(-(cfg.n_fft - cfg.hop) // cfg.hop)


def _spectra(noisy, cfg):
    y = np.asarray(noisy, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"expected a mono waveform (L,), got shape {y.shape}; mix down first")
    Y = _stft.stft(y, cfg)
    return y, Y, np.abs(Y) ** 2


def wiener(noisy, clean=None, cfg: _stft.STFTConfig = _stft.DEFAULT, alpha: float = 0.98,
           gain_floor_db: float = -25.0):
    """Decision-directed Wiener filter (Ephraim & Malah 1984), causal.

    For each frame: a-posteriori SNR ``gamma = |Y|^2 / lambda_N``; a-priori SNR
    ``xi = alpha * G(t-1)^2 |Y(t-1)|^2 / lambda_N + (1 - alpha) * max(gamma - 1, 0)``;
    gain ``G = max(xi / (1 + xi), 10^(gain_floor_db/20))`` applied to the noisy STFT
    (noisy phase kept). ``noisy``: float ``(L,)`` at ``cfg.sample_rate``. Returns
    float32 ``(L,)``.
    Chapter: 05_complex_mapping.
    """
    y, Y, power = _spectra(noisy, cfg)
    lam = np.maximum(noise_psd(power, hop_s=cfg.hop / cfg.sample_rate, padded_frames=_padded_frames(cfg)), 1e-12)
    gamma = power / lam
    g_min = 10 ** (gain_floor_db / 20)
    gains = np.empty_like(power)
    prev = np.zeros(power.shape[0])
    for t in range(power.shape[1]):
        xi = alpha * prev / lam[:, t] + (1 - alpha) * np.maximum(gamma[:, t] - 1, 0)
        g = np.maximum(xi / (1 + xi), g_min)
        gains[:, t] = g
        prev = (g**2) * power[:, t]
    return _stft.istft(gains * Y, cfg, length=len(y)).astype(np.float32)


def spectral_subtraction(noisy, clean=None, cfg: _stft.STFTConfig = _stft.DEFAULT,
                         over_subtraction: float = 2.0, floor: float = 0.02):
    """Power spectral subtraction (Berouti et al. 1979), causal:
    ``|S|^2 = max(|Y|^2 - over_subtraction * lambda_N, floor * |Y|^2)``, noisy phase.
    Returns float32 ``(L,)``.
    Chapter: 05_complex_mapping."""
    y, Y, power = _spectra(noisy, cfg)
    lam = noise_psd(power, hop_s=cfg.hop / cfg.sample_rate, padded_frames=_padded_frames(cfg))
    clean_power = np.maximum(power - over_subtraction * lam, floor * power)
    gain = np.sqrt(clean_power / np.maximum(power, 1e-20))
    return _stft.istft(gain * Y, cfg, length=len(y)).astype(np.float32)


def noisereduce_baseline(noisy, clean=None, sample_rate: int = 16000, stationary: bool = False):
    """Spectral gating by the ``noisereduce`` package (Sainburg et al.), non-stationary
    mode by default. Not causal (it looks at the whole file). Returns float32 ``(L,)``.
    Chapter: 05_complex_mapping."""
    import noisereduce

    y = np.asarray(noisy, dtype=np.float32)
    out = noisereduce.reduce_noise(y=y, sr=sample_rate, stationary=stationary)
    return np.asarray(out, dtype=np.float32)[: len(y)]


BASELINES = {
    "wiener": wiener,
    "spectral_subtraction": spectral_subtraction,
    "noisereduce": noisereduce_baseline,
}
