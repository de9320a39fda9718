"""Training batches: clean/noisy pairs, random crops, dynamic mixing and speed
perturbation. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch



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


def sample_batch(pairs: Sequence[Pair], rng: np.random.Generator, batch_size: int, length: int,
                 dynamic_mix: bool = False, speed_perturb: float = 0.0):
    """A random batch: ``(clean, noisy)`` float32 arrays ``(batch_size, length)``.

    Each row: a random item, a random crop of ``length`` samples (zero-padded when
    the item is shorter). With ``dynamic_mix`` the noise (``noisy - clean``) of
    another random item, randomly cropped and scaled by ``U(-5, 5)`` dB, replaces
    the item's own noise. With ``speed_perturb > 0`` (e.g. 0.1) each clean crop is
    also played at a random speed of :func:`speed_factors` (pitch, formants and
    tempo change together: new voices from few training speakers) and the noise is
    added unchanged, so ``noisy - clean`` is always a crop of real noise. Only
    ``rng`` is used, so the batches are reproducible; ``speed_perturb=0`` draws
    exactly the batches of earlier versions.
    Chapter: 05_complex_mapping.
    """
    factors = speed_factors(speed_perturb) if speed_perturb else None
    clean = np.zeros((batch_size, length), np.float32)
    noisy = np.zeros((batch_size, length), np.float32)
    for b in range(batch_size):
        c, n = pairs[int(rng.integers(len(pairs)))]
        start = int(rng.integers(0, max(1, len(c) - length + 1)))
        if factors is None:
            clean[b] = _crop(c, start, length)
        else:
            clean[b] = _speed_crop(c, rng, length, factors[int(rng.integers(len(factors)))])
        if dynamic_mix:
            c2, n2 = pairs[int(rng.integers(len(pairs)))]
            s2 = int(rng.integers(0, max(1, len(c2) - length + 1)))
            gain = 10.0 ** (rng.uniform(-5.0, 5.0) / 20.0)
            noisy[b] = clean[b] + gain * (_crop(n2, s2, length) - _crop(c2, s2, length))
        elif factors is None:
            noisy[b] = _crop(n, start, length)
        else:
            noisy[b] = clean[b] + (_crop(n, start, length) - _crop(c, start, length))
    return clean, noisy


