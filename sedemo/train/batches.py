"""Training batches: clean/noisy pairs, random crops, dynamic mixing and speed
perturbation. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from sedemo.dsp import audio



# --------------------------------------------------------------------------- data
Pair = tuple  # (clean, noisy) float32 arrays of equal length


def load_pairs(split: str, root=None, max_items: int | None = None, progress: bool = False) -> list:
    """Load the ``(clean, noisy)`` float32 pairs of a corpus split into memory.

    ``root``: the corpus folder (None: :func:`sedemo.data.default_root`). The
    800 training mixtures of the book's corpus take about 0.4 GB.
    Chapter: 05_complex_mapping.
    """
    from sedemo import data

    items = data.load_corpus(root).items(split)
    if max_items is not None:
        items = items[:max_items]
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=f"load {split}", leave=False)
    return [tuple(np.asarray(x, dtype=np.float32) for x in it.load()) for it in items]


def _check_pairs(pairs, what: str) -> list:
    out = []
    for i, p in enumerate(pairs):
        if len(p) != 2:
            raise ValueError(f"{what}[{i}] must be a (clean, noisy) pair")
        c, n = (np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
                for x in p)
        if c.ndim != 1 or c.shape != n.shape:
            raise ValueError(f"{what}[{i}]: clean {c.shape} and noisy {n.shape} must be 1-D of equal length")
        out.append((c, n))
    if not out:
        raise ValueError(f"{what} is empty")
    return out


def _crop(x: np.ndarray, start: int, length: int) -> np.ndarray:
    seg = x[start:start + length]
    return np.pad(seg, (0, length - len(seg))) if len(seg) < length else seg


def speed_factors(speed_perturb: float) -> list[float]:
    """The speed factors ``k/20`` within ``[1 - speed_perturb, 1 + speed_perturb]``.

    ``speed_perturb=0.1`` gives ``[0.9, 0.95, 1.0, 1.05, 1.1]`` (the 0.9/1.0/1.1 speed
    perturbation of Ko et al., 2015, "Audio augmentation for speech recognition", on a
    finer grid). Used by :func:`sample_batch`; chapter 5 (training the GCRN).
    Chapter: 05_complex_mapping.
    """
    if not 0.0 <= speed_perturb < 0.5:
        raise ValueError(f"speed_perturb must be in [0, 0.5), got {speed_perturb}")
    lo, hi = int(np.ceil(20 * (1 - speed_perturb) - 1e-9)), int(np.floor(20 * (1 + speed_perturb) + 1e-9))
    return [k / 20 for k in range(lo, hi + 1)]


def _speed_crop(c: np.ndarray, rng: np.random.Generator, length: int, factor: float) -> np.ndarray:
    """A random crop of ``c`` played ``factor`` times faster: ``ceil(length*factor)``
    samples resampled by ``20/round(20*factor)`` (polyphase, :func:`sedemo.dsp.audio.resample`
    from a nominal rate ``round(20*factor)`` to 20), so pitch, formants and tempo all scale
    by ``factor``. Returns ``length`` samples."""
    from sedemo.dsp.audio import resample

    down = int(round(20 * factor))
    n_read = int(np.ceil(length * down / 20))
    start = int(rng.integers(0, max(1, len(c) - n_read + 1)))
    seg = _crop(c, start, n_read)
    if down != 20:
        seg = resample(seg, down, 20)
    return _crop(seg, 0, length)


def _channel(rng: np.random.Generator, length: int, sample_rate: int = 16000) -> np.ndarray:
    """A random microphone/channel response on the rFFT grid of ``length`` samples: a
    spectral tilt of ``U(-3, 3)`` dB per octave around 1 kHz (flat below 100 Hz) and, with
    probability 1/2, a low-pass at ``U(3.4, 7.5)`` kHz with a 500-Hz raised-cosine roll-off."""
    f = np.fft.rfftfreq(length, 1.0 / sample_rate)
    tilt = rng.uniform(-3.0, 3.0)
    g_db = tilt * np.log2(np.maximum(f, 100.0) / 1000.0)
    g = 10.0 ** (g_db / 20.0)
    if rng.random() < 0.5:
        fc = rng.uniform(3400.0, 7500.0)
        x = np.clip((f - fc) / 500.0, 0.0, 1.0)
        g = g * 0.5 * (1.0 + np.cos(np.pi * x))
    return g


def _noise_eq(rng: np.random.Generator, length: int, sample_rate: int = 16000) -> np.ndarray:
    """A random coloring of the noise alone on the rFFT grid of ``length`` samples: a boost of
    ``U(10, 30)`` dB, Gaussian on a log-frequency axis around a centre log-uniform in
    150 Hz-7.5 kHz with a standard deviation of ``U(0.25, 1)`` octave (narrow-band hiss,
    high-frequency hiss, low hum)."""
    f = np.maximum(np.fft.rfftfreq(length, 1.0 / sample_rate), 20.0)
    centre = np.exp(rng.uniform(np.log(150.0), np.log(7500.0)))
    width, boost = rng.uniform(0.25, 1.0), rng.uniform(10.0, 30.0)
    return 10.0 ** (boost * np.exp(-0.5 * (np.log2(f / centre) / width) ** 2) / 20.0)


def _tones(rng: np.random.Generator, length: int, sample_rate: int = 16000) -> np.ndarray:
    """One to four steady tones (insects, whistles, whine): each log-uniform in 300 Hz-7.5 kHz,
    a 0.5 % vibrato at ``U(0.2, 8)`` Hz, amplitude-modulated at ``U(2, 60)`` Hz with a depth of
    ``U(0, 1)``, its level ``U(-10, 10)`` dB around the others'; unit RMS in all (float64)."""
    t = np.arange(length) / sample_rate
    out = np.zeros(length)
    for _ in range(int(rng.integers(1, 5))):
        f0 = np.exp(rng.uniform(np.log(300.0), np.log(7500.0)))
        fv, fa, depth = rng.uniform(0.2, 8.0), rng.uniform(2.0, 60.0), rng.uniform(0.0, 1.0)
        phase = 2 * np.pi * f0 * (t - 0.005 * np.cos(2 * np.pi * fv * t) / (2 * np.pi * fv))
        am = 1.0 - depth * (0.5 + 0.5 * np.sin(2 * np.pi * fa * t + rng.uniform(0, 2 * np.pi)))
        out += 10.0 ** (rng.uniform(-10.0, 10.0) / 20.0) * am * np.sin(phase + rng.uniform(0, 2 * np.pi))
    return out / max(float(np.sqrt(np.mean(out ** 2))), 1e-12)


def _calls(rng: np.random.Generator, length: int, sample_rate: int = 16000) -> np.ndarray:
    """Animal calls (birds, frogs, insects): one to three callers, each repeating bursts of
    ``U(0.05, 0.6)`` s at ``U(0.5, 4)`` per second; a burst is a harmonic chirp whose
    fundamental glides from ``f`` (log-uniform in 1-5 kHz, far above a voice's) to
    ``U(0.7, 1.5) f``, with one to three harmonics below 7.6 kHz, a Hann envelope and a
    trill (``U(0, 80)`` Hz amplitude modulation of depth ``U(0, 1)``); unit RMS (float64)."""
    out = np.zeros(length)
    for _ in range(int(rng.integers(1, 4))):
        f_lo = np.exp(rng.uniform(np.log(1000.0), np.log(5000.0)))
        gain = 10.0 ** (rng.uniform(-6.0, 6.0) / 20.0)
        start = -int(rng.uniform(0, 1.0) * sample_rate)
        while start < length:
            dur = int(rng.uniform(0.05, 0.6) * sample_rate)
            t = np.arange(dur) / sample_rate
            f_end = f_lo * rng.uniform(0.7, 1.5)
            phase = 2 * np.pi * (f_lo * t + (f_end - f_lo) * t ** 2 / (2 * max(t[-1], 1e-9)))
            trill = 1.0 - rng.uniform(0, 1) * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0, 80) * t))
            burst = np.zeros(dur)
            for h in range(1, int(rng.integers(1, 4)) + 1):
                if h * max(f_lo, f_end) < 0.95 * sample_rate / 2:
                    burst += rng.uniform(0.1, 1.0) ** (h - 1) * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
            burst *= np.hanning(dur) * trill * gain
            lo, hi = max(start, 0), min(start + dur, length)
            if hi > lo:
                out[lo:hi] += burst[lo - start:hi - start]
            start += dur + int(sample_rate / rng.uniform(0.5, 4.0))
    return out / max(float(np.sqrt(np.mean(out ** 2))), 1e-12)


def _clicks(rng: np.random.Generator, length: int, sample_rate: int = 16000) -> np.ndarray:
    """Impulsive noise (fire crackle, clicks, drips, typing): a Poisson train of transients at a
    rate log-uniform in 2-200 per second; each transient is white noise under an exponential
    decay with a time constant log-uniform in 0.3-10 ms (cut at five of them), its amplitude
    log-normal with a spread of 8 dB (a few loud cracks among many soft ones); the whole train
    then gets a spectral tilt of ``U(-6, 6)`` dB per octave around 1 kHz (dull thuds to sharp
    ticks, capped at +-30 dB). Unit RMS (float64); all zeros when the Poisson draw gives no
    transient (about one 2-s row in a thousand).

    Impulsive noise has a heavy-tailed frame energy (kurtosis in the hundreds), which steady or
    slowly varying recordings lack. Chapter: 05_complex_mapping."""
    out = np.zeros(length)
    rate = np.exp(rng.uniform(np.log(2.0), np.log(200.0)))
    n = int(rng.poisson(rate * length / sample_rate))
    for start in rng.integers(0, length, size=n):
        tau = np.exp(rng.uniform(np.log(0.3e-3), np.log(10e-3))) * sample_rate
        dur = min(max(int(5 * tau), 1), length - int(start))
        amp = 10.0 ** (8.0 * rng.standard_normal() / 20.0)
        out[start:start + dur] += amp * rng.standard_normal(dur) * np.exp(-np.arange(dur) / tau)
    f = np.maximum(np.fft.rfftfreq(length, 1.0 / sample_rate), 20.0)
    tilt = np.clip(rng.uniform(-6.0, 6.0) * np.log2(f / 1000.0), -30.0, 30.0)
    out = np.fft.irfft(np.fft.rfft(out) * 10.0 ** (tilt / 20.0), n=length)
    return out / max(float(np.sqrt(np.mean(out ** 2))), 1e-12)


def _added(noise: np.ndarray, make, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """``noise`` plus ``make(rng, len(noise), sample_rate)`` (a unit-RMS signal) at ``U(-10, 10)``
    dB relative to the noise's RMS (at 0.1 when the noise is silent); float32."""
    rms = float(np.sqrt(np.mean(noise ** 2)))
    level = rms * 10.0 ** (rng.uniform(-10.0, 10.0) / 20.0) if rms > 1e-6 else 0.1
    return (noise + level * make(rng, len(noise), sample_rate)).astype(np.float32)


def highpass_response(length: int, cutoff: float, sample_rate: int = 16000, order: int = 4) -> np.ndarray:
    """Magnitude of an ``order``-th order Butterworth high-pass, ``1 / sqrt(1 + (fc / f)^(2 order))``,
    on the rFFT grid of ``length`` samples (``(length // 2 + 1,)``, 0 at DC); applied as a
    zero-phase filter by :func:`sample_batch`'s ``speech_highpass``. ``cutoff`` in Hz.
    Chapter: 05_complex_mapping."""
    f = np.fft.rfftfreq(length, 1.0 / sample_rate)
    g = np.zeros_like(f)
    g[1:] = 1.0 / np.sqrt(1.0 + (cutoff / f[1:]) ** (2 * order))
    return g


def _filtered(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.fft.irfft(np.fft.rfft(x) * g, n=len(x)).astype(np.float32)


def sample_batch(pairs: Sequence[Pair], rng: np.random.Generator, batch_size: int, length: int,
                 dynamic_mix: bool = False, speed_perturb: float = 0.0, snr_range=None,
                 level_range=None, channel: float = 0.0, sample_rate: int = 16000, reverb: float = 0.0,
                 noise_pool: Sequence | None = None, noise_pool_p: float = 0.5, noise_eq: float = 0.0,
                 tones: float = 0.0, calls: float = 0.0, speech_highpass: float = 0.0,
                 clicks: float = 0.0):
    """A random batch: ``(clean, noisy)`` float32 arrays ``(batch_size, length)``.

    Each row: a random item, a random crop of ``length`` samples (zero-padded when
    the item is shorter). The augmentations, each a switch (chapter 5 measures each):

    * ``dynamic_mix``: the noise (``noisy - clean``) of another random item, randomly
      cropped, replaces the item's own noise, scaled by ``U(-5, 5)`` dB (without
      ``snr_range``).
    * ``snr_range=(lo, hi)`` (dB): the noise (the item's own, or another item's with
      ``dynamic_mix``) is scaled so that the crop's SNR (mean power of the clean crop
      over that of the noise crop) is ``U(lo, hi)``; silent crops keep their noise.
    * ``speed_perturb > 0`` (e.g. 0.1): each clean crop is played at a random speed of
      :func:`speed_factors` (pitch, formants and tempo change together: new voices from
      few training speakers, a coarse vocal-tract-length perturbation); the noise is
      added unchanged, so ``noisy - clean`` is always a crop of real noise.
    * ``channel`` (a probability): the row passes through a random microphone/channel
      response (spectral tilt of +-3 dB per octave, and a low-pass between 3.4 and 7.5
      kHz half of the time), applied to speech and noise alike; the target is the
      filtered clean speech (the model removes noise, it does not equalise). The filter
      comes after the SNR scaling, so it moves the row's SNR by the difference of its
      effect on the speech and on the noise spectra (usually within a few dB).
    * ``reverb`` (a probability): the speech of the row is played in a simulated room (one of
      the 64 RIRs of :func:`sedemo.data.rooms.rir_bank`, RT60 0.2-1.0 s); the mixture gets
      the reverberant speech, the target is the direct path plus the first 50 ms of
      reflections (:func:`sedemo.data.rooms.reverberate`), so the model also removes late
      reverberation. Needs ``pyroomacoustics``.
    * ``noise_pool`` (a list of float32 noise signals, e.g.
      :func:`sedemo.data.noise_bank.load_bank`) with ``dynamic_mix``: with probability
      ``noise_pool_p`` the row's noise is a random crop (looped when shorter,
      :func:`sedemo.dsp.audio.fit_length`) of a random signal of the pool instead of another
      item's noise: more noise recordings than the corpus has. A pool of several banks (a list
      of such lists) draws a bank first, then a signal: each bank gets an equal share, however
      many files it has.
    * ``noise_eq`` (a probability): the row's noise alone is colored by a random boost of
      10-30 dB around a random frequency (150 Hz-7.5 kHz, 0.25-1 octave wide): noise whose
      energy sits in one band, e.g. all above 3 kHz (insects, hiss), which the recorded
      noises seldom have.
    * ``tones`` (a probability): one to four steady, amplitude-modulated tones (300 Hz-7.5 kHz;
      insects, whistles, whine) are added to the row's noise at ``U(-10, 10)`` dB relative to
      it.
    * ``calls`` (a probability): animal calls (:func:`_calls`: bursts of harmonic chirps
      with a fundamental of 1-5 kHz: birds, frogs, insects) are added to the row's noise at
      ``U(-10, 10)`` dB relative to it.
    * ``clicks`` (a probability): impulsive noise (:func:`_clicks`: a Poisson train of
      decaying broadband transients, 2-200 per second: crackle, clicks, typing) is added to
      the row's noise at ``U(-10, 10)`` dB relative to it. These four come before the SNR
      scaling, so ``snr_range`` still holds.
    * ``speech_highpass`` (Hz, 0: off): each clean crop first passes a zero-phase 4th-order
      Butterworth high-pass (:func:`highpass_response`) at this cutoff, in the mixture and in
      the target alike. Some of the corpus's "clean" recordings carry rumble and drift below
      100 Hz (up to about 60 % of an utterance's power, ``scripts/low_band_report.py``), so
      without it the target holds whatever sits there and a model learns to leave that band
      alone, noise included (e.g. surf rumble). With it,
      all of a training mixture's energy below the cutoff is noise. No random draws.
    * ``level_range=(lo, hi)`` (dBFS): clean and noisy rows are scaled together so that
      the mixture's RMS level is ``U(lo, hi)`` (peaks kept below 0.99).

    Only ``rng`` is used, so the batches are reproducible; with every switch off the
    batches are those of earlier versions (the same draws).
    Chapter: 05_complex_mapping.
    """
    factors = speed_factors(speed_perturb) if speed_perturb else None
    highpass = highpass_response(length, speech_highpass, sample_rate) if speech_highpass else None
    if reverb:
        from sedemo.data.rooms import reverberate, rir_bank

        bank = rir_bank(sample_rate=sample_rate)
    clean = np.zeros((batch_size, length), np.float32)
    noisy = np.zeros((batch_size, length), np.float32)
    for b in range(batch_size):
        c, n = pairs[int(rng.integers(len(pairs)))]
        start = int(rng.integers(0, max(1, len(c) - length + 1)))
        if factors is None:
            clean[b] = _crop(c, start, length)
        else:
            clean[b] = _speed_crop(c, rng, length, factors[int(rng.integers(len(factors)))])
        if highpass is not None:
            clean[b] = _filtered(clean[b], highpass)
        speech = clean[b].copy()
        if reverb and rng.random() < reverb:
            speech, clean[b] = reverberate(clean[b], bank[int(rng.integers(len(bank)))])
        if dynamic_mix and noise_pool is not None and len(noise_pool) and noise_pool_p > 0 \
                and rng.random() < noise_pool_p:
            gain = 10.0 ** (rng.uniform(-5.0, 5.0) / 20.0) if snr_range is None else 1.0
            src = noise_pool[int(rng.integers(len(noise_pool)))]
            if isinstance(src, (list, tuple)):  # a pool of banks: a bank, then one of its recordings
                src = src[int(rng.integers(len(src)))]
            noise = gain * audio.fit_length(src, length, rng=rng).astype(np.float32)
        elif dynamic_mix:
            c2, n2 = pairs[int(rng.integers(len(pairs)))]
            s2 = int(rng.integers(0, max(1, len(c2) - length + 1)))
            gain = 10.0 ** (rng.uniform(-5.0, 5.0) / 20.0) if snr_range is None else 1.0
            noise = gain * (_crop(n2, s2, length) - _crop(c2, s2, length))
        else:
            noise = _crop(n, start, length) - _crop(c, start, length)
        if noise_eq and rng.random() < noise_eq:
            noise = _filtered(noise, _noise_eq(rng, length, sample_rate))
        for p, make in ((tones, _tones), (calls, _calls), (clicks, _clicks)):
            if p and rng.random() < p:
                noise = _added(noise, make, rng, sample_rate)
        if snr_range is not None:
            ps, pn = float(np.mean(clean[b] ** 2)), float(np.mean(noise ** 2))
            snr = rng.uniform(*snr_range)
            if ps > 1e-10 and pn > 1e-12:
                noise = noise * np.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
        if channel and rng.random() < channel:
            g = _channel(rng, length, sample_rate)
            clean[b], speech, noise = _filtered(clean[b], g), _filtered(speech, g), _filtered(noise, g)
        plain = not dynamic_mix and factors is None and snr_range is None and not channel and not reverb \
            and not noise_eq and not tones and not calls and not clicks and highpass is None
        noisy[b] = _crop(n, start, length) if plain else speech + noise
        if level_range is not None:
            rms = float(np.sqrt(np.mean(noisy[b] ** 2)))
            if rms > 1e-6:
                k = 10.0 ** (rng.uniform(*level_range) / 20.0) / rms
                k = min(k, 0.99 / max(float(np.abs(noisy[b]).max()), float(np.abs(clean[b]).max()), 1e-9))
                clean[b] *= k
                noisy[b] *= k
    return clean, noisy
