"""Impulsive noise: how heavy-tailed a noise recording is in the band where crackle, clicks
and typing put their energy, per noise recording of a corpus.

* :func:`band_kurtosis`: the kurtosis of a signal band-passed to 1-6 kHz (3 for Gaussian
  noise, hundreds for crackle);
* :func:`impulsiveness_table`: the stored report of ``scripts/impulsiveness_report.py``
  (:data:`IMPULSIVE_FILE`) as a frame, one row per split and noise recording.

Chapter 5 uses them to say which held-out recordings are crackle, and how much crackle the
training recordings hold.
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.signal

__all__ = ["band_kurtosis", "IMPULSIVE_BAND_HZ", "IMPULSIVE_FILE", "impulsiveness_table"]

#: The band (Hz) of :func:`band_kurtosis`: above a voice's fundamental and first formant, where
#: a crackle's transients carry most of their energy.
IMPULSIVE_BAND_HZ = (1000.0, 6000.0)


def band_kurtosis(x, sample_rate: int = 16000, band=IMPULSIVE_BAND_HZ) -> float:
    """The kurtosis ``E[v^4] / E[v^2]^2`` (not the excess: Gaussian noise gives 3, a sinusoid
    1.5) of ``v``, the ``(L,)`` signal ``x`` (sampled at ``sample_rate`` Hz) band-passed to
    ``band`` (Hz; ``scipy.signal.butter(4, band, "bandpass")``, an 8th-order Butterworth
    band-pass, applied forwards and backwards by ``scipy.signal.sosfiltfilt``: zero phase). A
    few loud transients among quiet samples (crackle, clicks) give tens to hundreds; steady
    noise stays near 3. Scale-invariant (down to a band power of 1e-20, below which the signal
    counts as silent). Chapter 5 (the held-out recordings the model leaves noise in).
    Chapter: 05_complex_mapping."""
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1 or not np.isfinite(v).all():
        raise ValueError(f"band_kurtosis: x must be a finite 1-D signal (mono: average a stereo file's channels; "
                         f"no NaN or inf: check the file), got shape {v.shape}")
    lo, hi = band
    if not (0.0 < lo < hi < sample_rate / 2):
        raise ValueError(f"band_kurtosis: band must satisfy 0 < low < high < {sample_rate / 2:g} Hz, got {band}")
    if len(v) < 64:
        raise ValueError(f"band_kurtosis: x has {len(v)} samples; pass at least 64 (a few ms)")
    sos = scipy.signal.butter(4, [lo, hi], btype="bandpass", fs=sample_rate, output="sos")
    y = scipy.signal.sosfiltfilt(sos, v)
    p2 = float(np.mean(y ** 2))
    if p2 <= 1e-20:
        raise ValueError("band_kurtosis: the signal is silent in the band; pass noise, not silence")
    return float(np.mean(y ** 4) / p2 ** 2)


#: The stored output of ``scripts/impulsiveness_report.py`` (the extended corpus's train and
#: validation noise), read by :func:`impulsiveness_table`.
IMPULSIVE_FILE = Path(__file__).resolve().parents[1] / "results" / "corpus" / "impulsiveness.json"


def impulsiveness_table(path=None) -> pd.DataFrame:
    """The stored impulsiveness report (:data:`IMPULSIVE_FILE`, or ``path``) as a frame indexed
    by ``(split, noise_source)`` with the columns ``n`` (mixtures), ``median_kurtosis`` and
    ``max_kurtosis`` (:func:`band_kurtosis` of each mixture's noise, ``noisy - clean``).
    Chapter 5.
    Chapter: 05_complex_mapping."""
    stored = json.loads(Path(path or IMPULSIVE_FILE).read_text())
    return pd.DataFrame(stored["noise"]).set_index(["split", "noise_source"]).sort_index()
