"""Features computed from the STFT: magnitude, log-power, power-law compression,
mel and gammatone (auditory) filterbanks, context splicing and normalisation.

Chapter 2 introduces each of them; the models of
chapters 3-7 take their inputs from here. Spectra are complex ``(..., F, T)`` tensors
or arrays from :func:`sedemo.dsp.stft.stft` (``F = n_fft // 2 + 1`` bins, ``T`` frames);
magnitude-like features are real ``(..., F, T)``. Every function accepts NumPy
arrays and torch tensors and gives back the same type; filterbank matrices are
torch tensors (``.numpy()`` for NumPy).
"""
from __future__ import annotations

import numpy as np
import torch

from sedemo._utils import ArrayLike, as_tensor, like


def _scalar_or_like(result: torch.Tensor, reference):
    """``like`` that also gives a Python float back for a Python number."""
    if isinstance(reference, (int, float)) and not isinstance(reference, bool):
        return float(result)
    return like(result, reference)


def _float_tensor(x: ArrayLike) -> torch.Tensor:
    t = as_tensor(x)
    if not (torch.is_floating_point(t) or torch.is_complex(t)):
        t = t.to(torch.float64 if not isinstance(x, torch.Tensor) else torch.float32)
    return t


# ----------------------------------------------------------------- magnitude domain
def magnitude(X: ArrayLike):
    """Magnitude ``|X|`` of a complex STFT ``(..., F, T)`` (real input: ``abs``).

    Used in chapters 2-3 (02_time_frequency and chapter 3's masks).
    Chapters: 02_time_frequency, 03_masks."""
    return like(_float_tensor(X).abs(), X)


def power(X: ArrayLike):
    """Power spectrum ``|X|**2`` of a complex STFT ``(..., F, T)`` (real input: ``X**2``).

    Used in chapters 2-3.
    Chapters: 02_time_frequency, 03_masks."""
    t = _float_tensor(X)
    p = t.real.square() + t.imag.square() if torch.is_complex(t) else t.square()
    return like(p, X)


def log_power(X: ArrayLike, floor_db: float = -120.0):
    """Log-power spectrum in dB: ``10*log10(max(|X|**2, 10**(floor_db/10)))``.

    ``X``: complex STFT ``(..., F, T)`` (a real input is taken as the magnitude).
    The floor (default -120 dB, below the 16-bit noise floor) keeps silent bins
    finite. With full-scale-1.0 signals and no window normalisation in
    :func:`sedemo.dsp.stft.stft`, values are dB relative to a bin of magnitude 1.
    Used in chapter 2 as a model input feature.
    Chapter: 02_time_frequency.
    """
    p = as_tensor(power(as_tensor(X)))
    floor = 10.0 ** (floor_db / 10.0)
    return like(10.0 * torch.log10(p.clamp_min(floor)), X)


def _pow_scale(mag: torch.Tensor, exponent: float, eps: float) -> torch.Tensor:
    """``mag**exponent`` that stays finite at 0 (also for negative exponents)."""
    if eps > 0:
        return (mag.square() + eps).pow(exponent / 2)
    if exponent < 0:
        mag = mag.clamp_min(torch.finfo(mag.dtype).tiny)
    return mag.pow(exponent)


def compress(X: ArrayLike, c: float = 0.3, eps: float = 0.0):
    """Power-law compression: ``|X|**c * exp(j*angle(X))`` (phase kept).

    ``X``: complex ``(..., F, T)`` -> complex of the same shape; a real input is a
    magnitude: ``|X|**c``. ``c = 0.3`` (Braun & Tashev 2021; the compressed
    complex loss of chapter 6) shrinks the ~100 dB dynamic range of speech
    spectra so that low-energy bins are not ignored by a model or a loss.

    Computed as ``X * |X|**(c-1)``, which is exact and 0 at ``X = 0``. The
    gradient of ``|X|**c`` is unbounded at 0: for a training loss pass a small
    ``eps`` (e.g. 1e-12 for float32 spectra): ``X * (|X|**2 + eps)**((c-1)/2)``
    (then :func:`decompress` is no longer its exact inverse).
    Used in chapter 2 and chapter 6 (losses).
    Chapters: 06_losses, 02_time_frequency.
    """
    if c <= 0:
        raise ValueError(f"compression exponent c must be > 0, got {c}")
    t = _float_tensor(X)
    mag = t.abs()
    return like(t * _pow_scale(mag, c - 1.0, eps).to(mag.dtype) if torch.is_complex(t)
                else mag * _pow_scale(mag, c - 1.0, eps), X)


def decompress(Xc: ArrayLike, c: float = 0.3):
    """Exact inverse of :func:`compress` (with ``eps=0``): ``|Xc|**(1/c) * exp(j*angle(Xc))``.

    Complex in -> complex out; a real (compressed magnitude) input gives ``|Xc|**(1/c)``.
    Used in chapter 2 and chapter 5 (complex mapping)
    to turn a compressed estimate back into a spectrum for :func:`sedemo.dsp.stft.istft`.
    Chapters: 02_time_frequency, 05_complex_mapping.
    """
    if c <= 0:
        raise ValueError(f"compression exponent c must be > 0, got {c}")
    t = _float_tensor(Xc)
    mag = t.abs()
    scale = _pow_scale(mag, 1.0 / c - 1.0, 0.0)
    return like(t * scale if torch.is_complex(t) else mag * scale, Xc)


def compress_scale(re: torch.Tensor, im: torch.Tensor, c: float = 0.3):
    """``(s, |X|²)`` with ``s = |X|^(c - 1)`` from the real and imaginary parts of a
    spectrum, in real arithmetic only (what an ONNX graph can hold): ``re·s``, ``im·s`` are
    the parts of :func:`compress` ``(X, c)`` and ``sqrt(|X|²)·s = |X|^c``. ``|X|²`` is
    floored at float32's smallest normal number inside the power, so ``s`` stays finite
    and a zero bin stays 0. The twin of :func:`decompress_parts`; used by the ULCRN's input
    features and the exported streaming step (chapters 5, 7).
    Chapters: 05_complex_mapping, 07_causality."""
    mag2 = re * re + im * im
    return mag2.clamp_min(float(torch.finfo(torch.float32).tiny)).pow((c - 1.0) / 2.0), mag2


# ------------------------------------------------------------------------ mel scale
def decompress_parts(re: ArrayLike, im: ArrayLike, c: float = 0.3, eps: float = 1e-20):
    """Complex ``Ŝ = Ŝc |Ŝc|^(1/c - 1)`` from the real and imaginary parts of a compressed
    estimate ``Ŝc`` (what a complex-mapping model predicts, chapter 05_complex_mapping).

    ``re``, ``im``: real tensors of one shape -> complex tensor of that shape. Written
    as ``(re² + im² + eps)^((1/c - 1)/2)`` so that the gradient stays finite at 0 for
    every ``c`` (``eps = 1e-20`` changes no float32 spectrum visibly); ``c = 1``:
    ``re + j im``. The inverse of :func:`compress` up to ``eps``. Chapter: 05_complex_mapping.
    """
    if c <= 0:
        raise ValueError(f"compression exponent c must be > 0, got {c}")
    r, i = _float_tensor(re), _float_tensor(im)
    if c == 1:
        return like(torch.complex(r, i), re)
    scale = (r.square() + i.square() + eps).pow((1.0 / c - 1.0) / 2.0)
    return like(torch.complex(r * scale, i * scale), re)


def hz_to_mel(f: ArrayLike):
    """Hz -> mel, HTK formula ``2595 * log10(1 + f / 700)`` (O'Shaughnessy 1987).

    Scalars give floats; arrays and tensors keep their type. Used in chapter 2.
    Chapter: 02_time_frequency."""
    t = as_tensor(f, torch.float64)
    return _scalar_or_like(2595.0 * torch.log10(1.0 + t / 700.0), f)


def mel_to_hz(m: ArrayLike):
    """mel -> Hz, inverse of :func:`hz_to_mel`: ``700 * (10**(m / 2595) - 1)``. Used in chapter 2.

    Chapter: 02_time_frequency."""
    t = as_tensor(m, torch.float64)
    return _scalar_or_like(700.0 * (torch.pow(10.0, t / 2595.0) - 1.0), m)


def _check_bands(n: int, what: str, fmin: float, fmax: float, sample_rate: int) -> None:
    if int(n) != n or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    if not (0.0 <= fmin < fmax <= sample_rate / 2):
        raise ValueError(
            f"need 0 <= fmin < fmax <= sample_rate/2 = {sample_rate / 2:g} Hz, "
            f"got fmin={fmin:g}, fmax={fmax:g}"
        )


def mel_frequencies(n_mels: int = 40, fmin: float = 0.0, fmax: float = 8000.0) -> np.ndarray:
    """Centre frequencies (Hz, float64, ``(n_mels,)``, ascending) of the bands of
    :func:`mel_filterbank`: ``n_mels + 2`` points equally spaced in mel from ``fmin``
    to ``fmax``, without the two end points. Used in chapter 2.
    Chapter: 02_time_frequency."""
    mels = np.linspace(hz_to_mel(float(fmin)), hz_to_mel(float(fmax)), int(n_mels) + 2)
    return np.asarray(mel_to_hz(mels))[1:-1]


def mel_filterbank(
    n_mels: int = 40,
    n_fft: int = 320,
    sample_rate: int = 16000,
    fmin: float = 0.0,
    fmax: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Triangular mel filterbank, ``(n_mels, F)`` with ``F = n_fft // 2 + 1``.

    Band ``m`` is a triangle on the linear frequency axis that rises from centre
    ``m-1`` to centre ``m`` and falls to centre ``m+1``, where the ``n_mels + 2``
    edge/centre frequencies are equally spaced on the HTK mel scale
    (:func:`hz_to_mel`) between ``fmin`` and ``fmax`` (default ``sample_rate/2``).
    It is evaluated at the STFT bin frequencies ``k * sample_rate / n_fft``.

    Normalisation: each row is scaled so that its largest value over the bins is
    exactly 1 ("peak 1", as in HTK; not the area-normalised "Slaney" variant), so a
    band's output is the (weighted) magnitude near its centre. Raises ``ValueError``
    when a band is so narrow that it covers no bin (too many bands for ``n_fft``).
    Apply with :func:`apply_filterbank`. Used in chapter 2.
    Chapter: 02_time_frequency.
    """
    fmax = sample_rate / 2 if fmax is None else float(fmax)
    _check_bands(n_mels, "n_mels", fmin, fmax, sample_rate)
    edges = np.linspace(hz_to_mel(float(fmin)), hz_to_mel(fmax), int(n_mels) + 2)
    hz = np.asarray(mel_to_hz(edges))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    rise = (freqs[None, :] - lo) / (mid - lo)
    fall = (hi - freqs[None, :]) / (hi - mid)
    fb = np.clip(np.minimum(rise, fall), 0.0, None)
    return _peak_normalise(fb, "mel", n_fft).to(dtype)


def _peak_normalise(fb: np.ndarray, kind: str, n_fft: int) -> torch.Tensor:
    peaks = fb.max(axis=1)
    if (peaks <= 0).any():
        first = int(np.argmax(peaks <= 0))
        raise ValueError(
            f"{kind} band {first} covers no STFT bin with n_fft={n_fft}: use fewer "
            f"bands, a higher fmin or a larger n_fft"
        )
    return torch.from_numpy(fb / peaks[:, None])


# ------------------------------------------------------------------ ERB / gammatone
def erb(f: ArrayLike):
    """Equivalent rectangular bandwidth (Hz) of the auditory filter at ``f`` Hz,
    Glasberg & Moore (1990): ``ERB(f) = 24.7 * (4.37 * f / 1000 + 1)``. Used in chapter 2.
    Chapter: 02_time_frequency."""
    t = as_tensor(f, torch.float64)
    return _scalar_or_like(24.7 * (4.37e-3 * t + 1.0), f)


def erb_rate(f: ArrayLike):
    """ERB-number (Cams) of ``f`` Hz, Glasberg & Moore (1990):
    ``21.4 * log10(4.37e-3 * f + 1)`` (about 1 per auditory-filter bandwidth). Used in chapter 2.
    Chapter: 02_time_frequency."""
    t = as_tensor(f, torch.float64)
    return _scalar_or_like(21.4 * torch.log10(4.37e-3 * t + 1.0), f)


def erb_rate_to_hz(e: ArrayLike):
    """Inverse of :func:`erb_rate`: ``(10**(e / 21.4) - 1) / 4.37e-3`` Hz. Used in chapter 2.

    Chapter: 02_time_frequency."""
    t = as_tensor(e, torch.float64)
    return _scalar_or_like((torch.pow(10.0, t / 21.4) - 1.0) / 4.37e-3, e)


def erb_space(fmin: float = 50.0, fmax: float = 8000.0, n: int = 32) -> np.ndarray:
    """``n`` frequencies (Hz, float64, ascending) equally spaced on the ERB-number
    scale (:func:`erb_rate`) from ``fmin`` to ``fmax``, both included: the centre
    frequencies of :func:`gammatone_filterbank`. Used in chapter 2.
    Chapter: 02_time_frequency."""
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not (0.0 <= fmin < fmax) and not (n == 1 and fmin == fmax):
        raise ValueError(f"need 0 <= fmin < fmax, got fmin={fmin:g}, fmax={fmax:g}")
    e = np.linspace(erb_rate(float(fmin)), erb_rate(float(fmax)), int(n))
    return np.asarray(erb_rate_to_hz(e))


def erb_band_matrices(n_freqs: int, low_bins: int, bands: int, sample_rate: int = 16000):
    """Band compression of a spectrum onto the ERB scale, as the ultra-light models do
    (GTCRN, Rong et al., ICASSP 2024): bins ``0 .. low_bins-1`` kept as they are, the
    ``n_freqs - low_bins`` bins above merged into ``bands`` triangular bands whose
    centres are equally spaced on the ERB-number scale (:func:`erb_space`) from bin
    ``low_bins`` to the Nyquist frequency.

    Returns ``(analysis, synthesis)``, float32 torch tensors ``(low_bins + bands, n_freqs)``
    and ``(n_freqs, low_bins + bands)``. ``analysis @ x`` (``x`` ``(..., n_freqs, T)``)
    gives the band values (each band the weighted mean of its bins: rows sum to 1);
    ``synthesis @ b`` interpolates band values back to bins (linear between band
    centres: each row sums to 1, so a constant stays constant). The triangles form a
    partition of unity over the high bins. Used by :class:`sedemo.models.ULCRN`.
    Chapter: 05_complex_mapping."""
    for name, v in (("n_freqs", n_freqs), ("low_bins", low_bins), ("bands", bands)):
        if isinstance(v, bool) or int(v) != v or v < (0 if name == "low_bins" else 1):
            raise ValueError(f"{name} must be a whole number >= {0 if name == 'low_bins' else 1}, got {v!r}")
    n_high = n_freqs - low_bins
    if bands > n_high:
        raise ValueError(f"bands ({bands}) must be at most the number of bins above low_bins "
                         f"({n_high}); use fewer bands or a smaller low_bins")
    df = sample_rate / (2.0 * (n_freqs - 1))
    f = np.arange(low_bins, n_freqs) * df
    if bands == 1:
        w = np.ones((1, n_high))
    else:
        e = erb_rate(f)
        c = np.linspace(e[0], e[-1], bands)
        w = np.zeros((bands, n_high))
        for k in range(bands):
            if k > 0:
                up = (e >= c[k - 1]) & (e <= c[k])
                w[k, up] = (e[up] - c[k - 1]) / (c[k] - c[k - 1])
            if k < bands - 1:
                down = (e >= c[k]) & (e <= c[k + 1])
                w[k, down] = (c[k + 1] - e[down]) / (c[k + 1] - c[k])
        w[0, e <= c[0]] = 1.0
        w[-1, e >= c[-1]] = 1.0
        if (w.sum(1) <= 0).any():
            raise ValueError(f"{bands} ERB bands are too many for {n_high} bins above bin {low_bins}: "
                             "a band holds no bin; use fewer bands")
    n = low_bins + bands
    ana = np.zeros((n, n_freqs))
    syn = np.zeros((n_freqs, n))
    ana[:low_bins, :low_bins] = np.eye(low_bins)
    syn[:low_bins, :low_bins] = np.eye(low_bins)
    ana[low_bins:, low_bins:] = w / w.sum(1, keepdims=True)
    syn[low_bins:, low_bins:] = (w / w.sum(0, keepdims=True)).T
    return torch.from_numpy(ana).float(), torch.from_numpy(syn).float()


def gammatone_filterbank(
    n_bands: int = 32,
    n_fft: int = 320,
    sample_rate: int = 16000,
    fmin: float = 50.0,
    fmax: float | None = None,
    order: int = 4,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Gammatone (auditory) filterbank as weights on the STFT bins, ``(n_bands, F)``.

    A gammatone filter (Patterson et al. 1992) has the impulse response
    ``g(t) = t**(n-1) exp(-2 pi b t) cos(2 pi fc t)``, order ``n = 4``, bandwidth
    ``b = 1.019 * ERB(fc)`` (:func:`erb`); the centre frequencies ``fc`` are
    :func:`erb_space` ``(fmin, fmax, n_bands)`` (default ``fmax = sample_rate/2``).
    Its frequency response is, exactly,

        ``G(f) ∝ (b + j(f - fc))**(-n) + (b + j(f + fc))**(-n)``

    (the second term, the image at ``-fc``, matters only for the lowest bands).
    Row ``i`` is ``|G(f)|`` at the bin frequencies ``k * sample_rate / n_fft``,
    scaled so that its largest value over the bins is 1.

    This is the frequency-domain approximation of a gammatone filterbank used for
    cochleagram features in speech enhancement: instead of filtering the waveform
    with 32-64 time-domain filters and framing each band's energy, the STFT power
    or magnitude of each frame is weighted by the filters' magnitude responses
    (:func:`apply_filterbank`). Phase and the filters' temporal fine structure are
    lost, which is fine for a magnitude feature. Used in chapter 2.
    Chapter: 02_time_frequency.
    """
    fmax = sample_rate / 2 if fmax is None else float(fmax)
    _check_bands(n_bands, "n_bands", fmin, fmax, sample_rate)
    fc = erb_space(fmin, fmax, n_bands)[:, None]
    b = 1.019 * np.asarray(erb(fc))
    f = (np.arange(n_fft // 2 + 1) * sample_rate / n_fft)[None, :]
    resp = np.abs((b + 1j * (f - fc)) ** (-order) + (b + 1j * (f + fc)) ** (-order))
    return _peak_normalise(resp, "gammatone", n_fft).to(dtype)


def apply_filterbank(fb: ArrayLike, mag: ArrayLike):
    """Band energies: ``fb @ mag`` over the frequency axis.

    ``fb``: ``(n_bands, F)`` from :func:`mel_filterbank` or
    :func:`gammatone_filterbank`; ``mag``: real ``(..., F, T)`` magnitude or power
    spectrum. Returns ``(..., n_bands, T)``, the array type of ``mag``. Take the log
    afterwards for log-mel / cochleagram features. Used in chapter 2.
    Chapter: 02_time_frequency.
    """
    m = as_tensor(mag)
    if torch.is_complex(m):
        raise TypeError("apply_filterbank expects a real magnitude or power spectrum; "
                        "use features.magnitude(X) or features.power(X) first")
    if not torch.is_floating_point(m):
        m = m.float()
    w = as_tensor(fb).to(device=m.device, dtype=m.dtype)
    if w.ndim != 2 or m.ndim < 2 or w.shape[1] != m.shape[-2]:
        raise ValueError(
            f"filterbank of shape {tuple(w.shape)} does not fit a spectrum of shape "
            f"{tuple(m.shape)}: need (n_bands, F) and (..., F, T) with the same F "
            f"(build the filterbank with the n_fft of the STFT)"
        )
    return like(torch.matmul(w, m), mag)


# ------------------------------------------------------------- context and scaling
def splice(feats: ArrayLike, left: int = 0, right: int = 0):
    """Stack each frame with its ``left`` past and ``right`` future neighbours.

    ``feats``: ``(..., D, T)`` -> ``(..., D * (left + right + 1), T)``. Output frame
    ``t`` is the concatenation along the feature axis of input frames
    ``t - left, ..., t, ..., t + right`` in that order (oldest first): block ``i``
    (rows ``i*D : (i+1)*D``) holds frame ``t - left + i``. Frames beyond the edges
    are replaced by the first / last frame (replication padding). With
    ``right = 0`` the output at ``t`` depends only on frames ``<= t`` (causal;
    chapter 7). Used in chapters 2-3 (02_time_frequency; claim C1
    compares context sizes).
    Chapters: 07_causality, 02_time_frequency, 03_masks.
    """
    if int(left) != left or int(right) != right or left < 0 or right < 0:
        raise ValueError(f"left and right must be integers >= 0, got {left!r}, {right!r}")
    x = as_tensor(feats)
    if x.ndim < 2:
        raise ValueError(f"splice expects (..., D, T) features, got shape {tuple(x.shape)}")
    n_frames = x.shape[-1]
    t = torch.arange(n_frames, device=x.device)
    blocks = [x.index_select(-1, (t + o).clamp(0, n_frames - 1)) for o in range(-int(left), int(right) + 1)]
    return like(torch.cat(blocks, dim=-2), feats)


def normalize(feats: ArrayLike, mean: ArrayLike | None = None, std: ArrayLike | None = None,
              dim: int | tuple[int, ...] = -1, eps: float = 1e-8):
    """Mean and variance normalisation: ``(feats - mean) / max(std, eps)``.

    ``feats``: e.g. ``(..., D, T)``. With ``mean``/``std`` ``None`` they are computed
    over ``dim`` (default ``-1``, time: utterance-level normalisation per feature),
    with ``keepdim`` shapes and the population standard deviation; given
    statistics (e.g. training-set ones returned by an earlier call) must broadcast
    against ``feats``. Returns ``(normed, mean, std)``, all in the array type of
    ``feats``. Utterance-level statistics look at the whole utterance, future
    included: a causal model needs fixed (training-set) or running statistics
    (chapter 7). Used in chapters 2-3.
    Chapters: 07_causality, 02_time_frequency, 03_masks.
    """
    x = as_tensor(feats)
    if not torch.is_floating_point(x):
        x = x.double() if not isinstance(feats, torch.Tensor) else x.float()
    mu = x.mean(dim=dim, keepdim=True) if mean is None else as_tensor(mean).to(x)
    sd = x.std(dim=dim, keepdim=True, correction=0) if std is None else as_tensor(std).to(x)
    normed = (x - mu) / sd.clamp_min(eps)
    return like(normed, feats), like(mu, feats), like(sd, feats)
