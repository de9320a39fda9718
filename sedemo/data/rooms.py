"""Simulated rooms for training: room impulse responses (RIRs) from the image-source
method (Allen & Berkley 1979) through ``pyroomacoustics`` (Scheibler et al., ICASSP 2018),
and what a reverberant training pair is. Chapter: 05_complex_mapping.

A reverberant pair needs a target, and the choice is the model's job description. Here the
target is the **direct path plus the early reflections**: the speech convolved with the
first ``early_ms`` (50 ms) of the RIR after the direct sound, the part that the ear fuses
with the direct sound and that helps intelligibility (the convention of the DNS Challenge
and of most enhancement papers). The late reverberation is treated as interference to be
removed, like the noise. Both signals are shifted by the direct-path delay, so the target
stays aligned with the dry speech and with the mixture.

``pyroomacoustics`` is optional (``pip install pyroomacoustics``); it is imported only
when a bank of RIRs is made.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: The image-source order is capped here (cost grows with its cube); long RT60s in large
#: rooms are then slightly shortened: :attr:`RIR.rt60_s` is the value asked for.
MAX_ORDER = 30
#: Taps kept before the direct sound (the fractional-delay filter's pre-ringing).
PRE_TAPS = 40


@dataclass(frozen=True)
class RIR:
    """One simulated impulse response: ``full`` (the whole RIR), ``early`` (the same up to
    ``early_ms`` after the direct sound, with a 5-ms raised-cosine fade), ``offset`` (the
    index of the direct sound in both: the taps before it are the pre-ringing of the
    simulator's fractional-delay filter, kept so that the direct path is not cut), the room
    size (m), the RT60 asked for (s) and the source-microphone distance (m).
    Chapter: 05_complex_mapping."""

    full: np.ndarray
    early: np.ndarray
    offset: int
    room_m: tuple
    rt60_s: float
    distance_m: float


def _pyroomacoustics():
    try:
        import pyroomacoustics as pra
    except ImportError:
        raise RuntimeError("room simulation needs pyroomacoustics: pip install pyroomacoustics "
                           "(or train without --reverb)") from None
    return pra


@lru_cache(maxsize=4)
def rir_bank(n: int = 64, sample_rate: int = 16000, seed: int = 0, rt60_range=(0.2, 1.0),
             early_ms: float = 50.0) -> tuple:
    """``n`` RIRs of random shoebox rooms (3-10 x 3-8 x 2.5-4 m), RT60 uniform in
    ``rt60_range`` seconds (wall absorption from Sabine's formula,
    ``pyroomacoustics.inverse_sabine``), source and microphone at random positions at
    least 0.5 m from the walls and from each other. Deterministic for a ``seed``; cached.
    Returns a tuple of :class:`RIR`, each normalised so that the direct path has
    amplitude 1. Chapter: 05_complex_mapping."""
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    lo, hi = rt60_range
    if not 0.05 <= lo <= hi <= 3.0:
        raise ValueError(f"rt60_range must satisfy 0.05 <= lo <= hi <= 3 s, got {rt60_range!r}")
    pra = _pyroomacoustics()
    rng = np.random.default_rng(seed)
    bank = []
    n_early = int(round(early_ms * 1e-3 * sample_rate))
    n_fade = int(round(5e-3 * sample_rate))
    while len(bank) < n:
        dims = rng.uniform([3.0, 3.0, 2.5], [10.0, 8.0, 4.0])
        rt60 = float(rng.uniform(lo, hi))
        src, mic = rng.uniform(0.5, dims - 0.5), rng.uniform(0.5, dims - 0.5)
        dist = float(np.linalg.norm(src - mic))
        if dist < 0.5:
            continue
        absorption, order = pra.inverse_sabine(rt60, dims)
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption),
                           max_order=int(min(order, MAX_ORDER)))
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        h = np.asarray(room.rir[0][0], dtype=np.float64)
        d = int(np.argmax(np.abs(h)))  # the direct path (the strongest arrival at >= 0.5 m)
        pre = min(d, PRE_TAPS)
        h = h[d - pre:] / h[d]
        early = h[: pre + n_early + n_fade].copy()
        early[pre + n_early:] *= 0.5 * (1 + np.cos(np.pi * np.arange(n_fade) / n_fade))
        bank.append(RIR(h.astype(np.float32), early.astype(np.float32), pre, tuple(float(x) for x in dims),
                        rt60, dist))
    return tuple(bank)


def reverberate(speech: np.ndarray, rir: RIR) -> tuple[np.ndarray, np.ndarray]:
    """``(reverberant, target)``: ``speech`` ``(L,)`` convolved with the whole RIR and with
    its early part, both cut to ``L`` samples from the direct path on (aligned with
    ``speech``: the direct sound of sample ``n`` lands on sample ``n``). Chapter: 05_complex_mapping."""
    from scipy.signal import fftconvolve

    x = np.asarray(speech, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"speech must be 1-D (L,), got shape {x.shape}")
    n, o = len(x), rir.offset
    return (fftconvolve(x, rir.full)[o:o + n].astype(np.float32),
            fftconvolve(x, rir.early)[o:o + n].astype(np.float32))
