"""Audio input/output, resampling, speech level and mixing at a signal-to-noise ratio.

Chapter 1 builds noisy speech with these functions
(the additive model ``y = s + n``) and :mod:`sedemo.data` uses them to make the
corpus of clean/noisy pairs. Other modules call :func:`validate` to check their
inputs, so that every function of the book fails with the same clear messages.

Conventions:

* waveforms are floating point, full scale 1.0 (a sample of 1.0 is the largest
  value a 16-bit file can hold), at :data:`SAMPLE_RATE` = 16 kHz;
* levels are in dB relative to full scale, computed from the *power* (mean square):
  a full-scale sine has an RMS level of -3.01 dB;
* every function accepts NumPy arrays and torch tensors and gives back the same type.
"""
from __future__ import annotations

import io
import math
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from sedemo._gate import MAX_CHANNELS, check_signal
from sedemo._gate import integer_error as _integer_error, is_integer as _is_integer
from sedemo._utils import ArrayLike, as_tensor, atomic_output, like, to_numpy

SAMPLE_RATE = 16000
"""The sample rate (Hz) of every signal in the book: wideband speech, 0-8 kHz."""

#: Raw (header-less) formats that neither soundfile nor ffmpeg can recognise on their
#: own: the ffmpeg input options that describe them, by file extension. ``.g722`` is the
#: raw G.722 wideband telephone codec (16 kHz), e.g. the Asterisk prompt recordings.
RAW_FORMATS: dict[str, list[str]] = {
    ".g722": ["-f", "g722"],
    ".ulaw": ["-f", "mulaw", "-ar", "8000", "-ac", "1"],
    ".ul": ["-f", "mulaw", "-ar", "8000", "-ac", "1"],
    ".alaw": ["-f", "alaw", "-ar", "8000", "-ac", "1"],
    ".al": ["-f", "alaw", "-ar", "8000", "-ac", "1"],
    ".sln": ["-f", "s16le", "-ar", "8000", "-ac", "1"],
    ".sln16": ["-f", "s16le", "-ar", "16000", "-ac", "1"],
}

#: Formats :func:`save` writes, by file extension.
SAVE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}

# ITU-T P.56 method B constants (section 2 of the module docstring of active_level).
P56_TIME_CONSTANT_S = 0.03
P56_HANGOVER_S = 0.2
P56_MARGIN_DB = 15.9
P56_THRESHOLD_STEP_DB = 2.0

SILENCE_RMS = 1e-7  # below this RMS (-140 dB FS) a signal counts as digital silence


class AudioDecodeError(RuntimeError):
    """Raised when neither soundfile nor ffmpeg can decode a file.

    Chapter: 01_noisy_speech."""


# --------------------------------------------------------------------------- helpers
def _as_float64_1d(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a 1-D float64 NumPy array, with the checks of :func:`validate`
    except silence (empty, integer, multichannel and non-finite input raise)."""
    return validate(x, name, allow_silence=True).detach().cpu().numpy().astype(np.float64)


def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as err:  # pragma: no cover - installed with sedemo
        raise AudioDecodeError(
            "decoding this format needs the ffmpeg binary from the imageio-ffmpeg "
            "package: pip install imageio-ffmpeg"
        ) from err
    return imageio_ffmpeg.get_ffmpeg_exe()


def _decode_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` with ffmpeg; returns ``(channels, L)`` float32 and the native rate.

    ffmpeg writes 32-bit float PCM to its standard output (no temporary file) in a
    Sun/NeXT ``.au`` container: its tiny header carries the native sample rate and
    channel count, and soundfile reads it from memory.
    """
    cmd = [
        _ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
        *RAW_FORMATS.get(path.suffix.lower(), []),
        "-i", str(path), "-vn", "-f", "au", "-c:a", "pcm_f32be", "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or len(proc.stdout) <= 24:
        msg = proc.stderr.decode(errors="replace").strip() or "no audio decoded"
        raise AudioDecodeError(f"ffmpeg could not decode {path}: {msg}")
    import soundfile as sf

    data, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T), int(sr)


def _read_native(path) -> tuple[np.ndarray, int]:
    """Read a file at its own rate: ``(channels, L)`` float32 and the sample rate."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such audio file", str(path))
    if path.suffix.lower() in RAW_FORMATS:
        return _decode_ffmpeg(path)
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return np.ascontiguousarray(data.T), int(sr)
    except (RuntimeError, TypeError, sf.SoundFileError) as sf_err:
        try:
            return _decode_ffmpeg(path)
        except AudioDecodeError as ff_err:
            raise AudioDecodeError(
                f"cannot read {path} as audio. soundfile said: {str(sf_err).rstrip('.')}. {str(ff_err).rstrip('.')}. "
                f"If it is raw (header-less) audio, give it one of the extensions "
                f"{sorted(RAW_FORMATS)} or convert it to .wav first."
            ) from None


def _check_rate(rate, name: str) -> int:
    if rate is None or isinstance(rate, bool) or not float(rate).is_integer() or rate <= 0:
        raise ValueError(f"{name} must be a positive whole number of Hz, got {rate!r}")
    return int(rate)


# ------------------------------------------------------------------------ file i/o
@dataclass(frozen=True)
class AudioInfo:
    """What :func:`info` reports about a file: native ``sample_rate`` (Hz),
    ``channels``, ``frames`` (samples per channel), ``duration`` (s) and ``format``.
    Chapter: 01_noisy_speech."""

    sample_rate: int
    channels: int
    frames: int
    duration: float
    format: str


def info(path) -> AudioInfo:
    """Native sample rate, channel count and duration of an audio file.

    Files soundfile can read (wav, flac, ogg, ...) are only probed; others (raw
    ``.g722``, ``.mp3``, ...) are decoded with ffmpeg to count their samples.
    Used in chapter 1 and by :mod:`sedemo.data`.
    Chapter: 01_noisy_speech.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such audio file", str(path))
    if path.suffix.lower() not in RAW_FORMATS:
        import soundfile as sf

        try:
            i = sf.info(str(path))
            return AudioInfo(int(i.samplerate), int(i.channels), int(i.frames),
                             i.frames / i.samplerate, i.format)
        except (RuntimeError, TypeError, sf.SoundFileError):
            pass
    data, sr = _read_native(path)
    fmt = path.suffix.lower().lstrip(".").upper() or "unknown"
    return AudioInfo(sr, data.shape[0], data.shape[1], data.shape[1] / sr, fmt)


def load(path, sample_rate: int = SAMPLE_RATE, mono: bool = True) -> np.ndarray:
    """Read an audio file as float32 samples in [-1, 1] at ``sample_rate`` Hz.

    * ``path``: any format soundfile reads (wav, flac, ogg, ...); anything else is
      decoded with the ffmpeg binary of ``imageio-ffmpeg`` (mp3, m4a, ...), including
      raw G.722 telephone audio (``.g722``) and the other raw formats of
      :data:`RAW_FORMATS`.
    * ``sample_rate``: the rate of the returned samples; the file is resampled with
      :func:`resample` when its own rate differs. To keep the file's own rate, ask
      :func:`info` for it: ``load(p, sample_rate=info(p).sample_rate)``.
    * ``mono=True``: returns ``(L,)``, channels mixed down by averaging;
      ``mono=False``: returns ``(channels, L)`` (``(1, L)`` for a mono file).

    Raises ``FileNotFoundError`` for a missing file and :class:`AudioDecodeError`
    when the file cannot be decoded. Used in chapter 1
    and by :mod:`sedemo.data`.

    Chapter: 01_noisy_speech.
    """
    sample_rate = _check_rate(sample_rate, "sample_rate")
    data, sr = _read_native(path)
    if data.shape[1] == 0:
        raise AudioDecodeError(f"{path} holds no audio samples")
    if mono:
        data = data.mean(axis=0)
    if sr != sample_rate:
        data = resample(data, sr, sample_rate)
    return np.ascontiguousarray(data, dtype=np.float32)


def save(path, x: ArrayLike, sample_rate: int = SAMPLE_RATE, subtype: str = "PCM_16") -> Path:
    """Write ``x`` to a ``.wav`` or ``.flac`` file (format chosen by the extension).

    * ``x``: float samples, ``(L,)`` for mono or ``(C, L)`` with ``C <= 8`` channels
      (channels first, as :func:`load` returns them with ``mono=False``).
    * ``subtype``: ``"PCM_16"`` (default, 16-bit integers), ``"PCM_24"`` or, for
      ``.wav`` only, ``"FLOAT"`` (32-bit float, keeps values beyond [-1, 1]).

    16-bit samples are ``round(x * 32768)``, so that :func:`load` (which divides by
    32768) returns ``x`` within half a quantisation step (1.5e-5). Integer formats
    cannot hold values beyond full scale: a signal peaking above 1.0 raises
    ``ValueError`` instead of clipping silently. NaN/inf and integer arrays are
    refused. Missing parent folders are created; the file is written atomically
    (complete or not at all, see :func:`sedemo._utils.atomic_output`). Returns the path.
    Used in chapter 1 and by :mod:`sedemo.data`.
    Chapter: 01_noisy_speech.
    """
    import soundfile as sf

    path = Path(path)
    sample_rate = _check_rate(sample_rate, "sample_rate")
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot save {path}: use one of the extensions {sorted(SAVE_FORMATS)}")
    subtype = subtype.upper()
    if fmt == "FLAC" and subtype in ("FLOAT", "DOUBLE"):
        raise ValueError("FLAC stores integer samples only; save as .wav to keep float samples")
    if _is_integer(x):
        raise _integer_error(x, "save input")
    arr = np.asarray(to_numpy(x), dtype=np.float64)
    if arr.ndim == 2:
        c, n = arr.shape
        if c > MAX_CHANNELS and n <= MAX_CHANNELS:
            raise ValueError(
                f"save got shape {arr.shape}, which looks like (samples, channels); "
                f"this expects channels first, (C, L): pass x.T"
            )
        if c > MAX_CHANNELS or n <= MAX_CHANNELS:
            raise ValueError(
                f"save got a 2-D array of shape {arr.shape}; this expects (L,) for mono "
                f"or (C, L) with at most {MAX_CHANNELS} channels and more than "
                f"{MAX_CHANNELS} samples"
            )
    elif arr.ndim != 1:
        raise ValueError(f"save expects (L,) or (C, L) samples, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("save got an empty signal")
    if not np.isfinite(arr).all():
        raise ValueError(
            f"save input contains {int((~np.isfinite(arr)).sum())} NaN or infinite "
            "values; they cannot be written to an audio file"
        )
    peak = float(np.abs(arr).max())
    if peak > 1.0 and subtype not in ("FLOAT", "DOUBLE"):
        raise ValueError(
            f"the signal peaks at {peak:.3f} (> 1.0, {20 * math.log10(peak):+.1f} dB FS), "
            f"so {subtype} samples would clip. Scale it first, e.g. x * (0.99 / "
            f"abs(x).max()) (scale clean, noise and noisy by the same factor to keep "
            f"the SNR), or pass subtype='FLOAT' to a .wav file to keep the values"
        )
    frames = arr.T  # soundfile wants (L, C)
    if subtype == "PCM_16":
        frames = np.clip(np.round(frames * 32768.0), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # all or nothing: an interrupted save leaves no partial file
        sf.write(str(tmp), frames, sample_rate, subtype=subtype, format=fmt)
    return path


# ------------------------------------------------------------------------ signals
def resample(x: ArrayLike, orig_sr: int, target_sr: int):
    """Change the sample rate of ``x`` (``(..., L)``, along the last axis).

    Polyphase filtering (``scipy.signal.resample_poly``) by the reduced ratio
    ``up/down = target_sr/orig_sr`` (e.g. 44100 -> 16000 Hz: up 160, down 441), with
    scipy's default Kaiser-windowed anti-aliasing filter. The output has
    ``ceil(L * up / down)`` samples, the same float dtype and the same array type as
    ``x``. Used in chapter 1 and by :func:`load`.
    Chapter: 01_noisy_speech.
    """
    from scipy.signal import resample_poly

    orig_sr = _check_rate(orig_sr, "orig_sr")
    target_sr = _check_rate(target_sr, "target_sr")
    if _is_integer(x):
        raise _integer_error(x, "resample input")
    arr = to_numpy(x)
    if arr.shape[-1:] == (0,) or arr.ndim == 0:
        raise ValueError(f"resample expects (..., L) samples with L > 0, got shape {arr.shape}")
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float32
    if orig_sr == target_sr:
        out = np.array(arr, dtype=dtype, copy=True)
    else:
        g = math.gcd(orig_sr, target_sr)
        out = resample_poly(arr, target_sr // g, orig_sr // g, axis=-1).astype(dtype, copy=False)
    return like(torch.from_numpy(np.ascontiguousarray(out)), x)


def validate(
    x: ArrayLike,
    name: str = "signal",
    sample_rate: int | None = None,
    expected_sr: int = SAMPLE_RATE,
    allow_silence: bool = False,
) -> torch.Tensor:
    """Check a mono waveform and return it as a 1-D float torch tensor ``(L,)``.

    The single input check of the book, built on the package's input gate
    (``sedemo._gate.check_signal``, which the metrics, the STFT, ``models.enhance``
    and the streaming enhancer run too) so that a wrong input fails early with a
    one-line message that says how to fix it. ``ValueError`` is raised for

    * a sample rate (when ``sample_rate`` is given) other than ``expected_sr``;
    * integer or boolean samples (e.g. int16): convert to float in [-1, 1] first; a
      silently wrong scale would be worse than an error; complex samples (these raise
      ``sedemo._gate.InputTypeError``, a ``TypeError`` and a ``ValueError``);
    * more than one dimension (stereo/multichannel, channels first or last, or a
      batch): the message says how to mix down;
    * an empty signal; NaN or infinite values;
    * digital silence (all zeros, or RMS below 1e-7 = -140 dB FS), unless
      ``allow_silence=True``.

    ``name`` names the signal in the messages (e.g. ``"reference"``). The returned
    tensor shares memory with ``x`` where possible (float32/float64 kept; float16 ->
    float32). Used in chapter 1 and by every metric.

    Chapter: 01_noisy_speech.
    """
    if sample_rate is not None:
        sr = _check_rate(sample_rate, "sample_rate")
        if sr != expected_sr:
            raise ValueError(
                f"{name}: got {sr} Hz, this expects {expected_sr} Hz: resample with "
                f"sedemo.dsp.audio.resample(x, {sr}, {expected_sr})"
            )
    t = check_signal(x, name)
    if not allow_silence:
        rms = float(t.detach().double().pow(2).mean().sqrt())
        if rms < SILENCE_RMS:
            what = "all zeros" if rms == 0 else f"RMS {rms:.1e}, {20 * math.log10(rms):.0f} dB FS"
            raise ValueError(
                f"{name} is digital silence ({what}); levels and ratios of a silent "
                "signal are undefined. Check that the right file or segment was used, "
                "or pass allow_silence=True if silence is intended"
            )
    return t


def rms_db(x: ArrayLike):
    """RMS level in dB relative to full scale: ``10*log10(mean(x**2))`` over the last axis.

    ``x``: ``(..., L)``. Returns ``(...)`` levels (a NumPy float64 scalar for 1-D NumPy
    input, a float64 tensor for torch input); ``-inf`` for an all-zero signal. A
    full-scale sine gives -3.01 dB. Used in chapter 1.
    Chapter: 01_noisy_speech.
    """
    if _is_integer(x):
        raise _integer_error(x, "rms_db input")
    t = as_tensor(x).double()
    if t.ndim == 0 or t.shape[-1] == 0:
        raise ValueError(f"rms_db expects (..., L) samples with L > 0, got shape {tuple(t.shape)}")
    level = 10.0 * torch.log10(t.pow(2).mean(dim=-1))
    out = like(level, x)
    return np.float64(out) if isinstance(out, np.ndarray) and out.ndim == 0 else out


def active_level(x: ArrayLike, sample_rate: int = SAMPLE_RATE) -> tuple[float, float]:
    """Active speech level of ITU-T P.56 (1993/2011), method B.

    Returns ``(level_db, activity)``: the level in dB relative to full scale (power,
    like :func:`rms_db`) measured over the *active* part of the signal only, and the
    activity factor, the fraction of samples judged active (0..1). Pauses do not
    lower the active level, so speech with and without pauses gets the same level:
    that is why SNRs for speech are defined with it (chapter 1,
    01_noisy_speech; used by :func:`mix_at_snr`).

    Algorithm (P.56 section 6, method B), for a mono signal ``x`` at ``fs`` Hz:

    1. envelope: two cascaded first-order smoothers of ``|x|`` with time constant
       0.03 s, ``g = exp(-1 / (0.03 fs))``: ``p[n] = g p[n-1] + (1-g)|x[n]|``,
       ``q[n] = g q[n-1] + (1-g) p[n]``;
    2. for a set of thresholds ``c_j`` (amplitudes, 2 dB apart, starting below the
       long-term level minus the margin), sample ``n`` is active when ``q >= c_j`` at
       ``n`` or at any of the ``I = ceil(0.2 fs)`` samples before it (hangover
       0.2 s); ``a_j`` counts active samples;
    3. ``A_j = 10 log10(E / a_j)`` with ``E`` the energy of the whole signal (the
       active level if the signal were only active for ``a_j`` samples), and the
       threshold level ``C_j = 20 log10(c_j)``;
    4. the active level is where ``A - C`` falls to the margin ``M = 15.9 dB``: at the
       first threshold with ``A_j - C_j <= M``, interpolate linearly (in dB) between
       it and the previous threshold to ``A - C = M`` (the interpolation of P.56's
       reference implementation, ``sv56``, refined by bisection there).
       ``activity = E / (N 10^(A/10))``, i.e. ``a / N`` at the interpolated point.

    Because inactive samples carry almost no energy, ``A`` equals the mean square
    over the active samples. For a stationary signal without pauses the active
    level equals the RMS level and ``activity`` is about 1 (for 3 s, within 0.05 dB
    and above 0.99: only the first ~25 ms, while the envelope rises, are inactive);
    replacing half of it with silence leaves the active level almost unchanged
    (the 0.2 s hangover counts a little of the silence as active) while the RMS
    level drops 3 dB (tested). An all-zero signal gives ``(-inf, 0.0)``. If no
    threshold meets the margin (a single click), the level over the samples active
    at the highest threshold is returned (the long-term level for a signal too
    short for the envelope to rise). Reference: ITU-T Rec. P.56, "Objective
    measurement of active speech level"; the algorithm description of
    ``activlev`` in M. Brookes' VOICEBOX toolbox.
    Chapters: 01_noisy_speech, 00_preface.
    """
    from scipy.ndimage import maximum_filter1d
    from scipy.signal import lfilter

    fs = _check_rate(sample_rate, "sample_rate")
    v = _as_float64_1d(x, "active_level input")
    n = v.size
    energy = float(np.dot(v, v))
    if energy == 0.0:
        return float("-inf"), 0.0
    g = math.exp(-1.0 / (P56_TIME_CONSTANT_S * fs))
    p = lfilter([1.0 - g], [1.0, -g], np.abs(v))
    q = lfilter([1.0 - g], [1.0, -g], p)
    hang = math.ceil(P56_HANGOVER_S * fs)
    # q_max[n] = max(q[n - hang .. n]): sample n is active for threshold c iff q_max[n] >= c
    q_max = maximum_filter1d(q, size=hang + 1, origin=hang // 2, mode="constant", cval=0.0)
    q_sorted = np.sort(q_max)
    long_term_db = 10.0 * math.log10(energy / n)
    step = P56_THRESHOLD_STEP_DB
    c_db = step * math.floor((long_term_db - P56_MARGIN_DB) / step) - step
    prev = None  # (A, C) at the previous threshold
    level = None
    while level is None:
        c = 10.0 ** (c_db / 20.0)
        a = n - int(np.searchsorted(q_sorted, c, side="left"))
        if a == 0:  # no threshold met the margin: level over the last active set
            level = long_term_db if prev is None else prev[0]
            break
        a_db = 10.0 * math.log10(energy / a)
        delta = a_db - c_db
        if delta <= P56_MARGIN_DB:
            if prev is None:  # cannot happen: the first threshold is below L - M
                level = a_db
            else:
                a0, c0 = prev
                frac = (a0 - c0 - P56_MARGIN_DB) / (a0 - c0 - delta)
                level = a0 + frac * (a_db - a0)
        prev = (a_db, c_db)
        c_db += step
    activity = min(1.0, 10.0 ** ((long_term_db - level) / 10.0))
    return float(level), float(activity)


def fit_length(noise: ArrayLike, length: int, rng=None, crossfade: int = 160):
    """Cut or loop ``noise`` (``(..., L)``) to exactly ``length`` samples.

    * longer noise is cropped: ``noise[..., o:o + length]`` at a random offset ``o``;
    * shorter noise is looped: copies are joined with a ``crossfade``-sample
      raised-cosine crossfade at each seam (``0.5 - 0.5 cos``, fade-in and fade-out
      sum to 1; default 160 samples = 10 ms at 16 kHz, at most half the noise
      length), so the seams do not click; the looped signal starts at a random
      offset ``o`` into the noise.

    ``rng``: a ``numpy.random.Generator`` (or a seed) that draws ``o``; ``None``
    uses ``o = 0`` (deterministic). Returns the same array type and dtype as
    ``noise``. Used in chapter 1 and by
    :func:`mix_at_snr`.
    Chapter: 01_noisy_speech.
    """
    if _is_integer(noise):
        raise _integer_error(noise, "noise")
    if isinstance(length, bool) or int(length) != length or length <= 0:
        raise ValueError(f"length must be a positive whole number of samples, got {length!r}")
    length = int(length)
    arr = np.asarray(to_numpy(noise))
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"noise must be (..., L) samples with L > 0, got shape {arr.shape}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    n = arr.shape[-1]
    if n >= length:
        off = 0 if rng is None else int(rng.integers(0, n - length + 1))
        out = arr[..., off : off + length]
    else:
        off = 0 if rng is None else int(rng.integers(0, n))
        out = _loop(arr, length + off, max(0, int(crossfade)))[..., off : off + length]
    return like(torch.from_numpy(np.ascontiguousarray(out)), noise)


def _loop(arr: np.ndarray, total: int, crossfade: int) -> np.ndarray:
    """Repeat ``arr`` along the last axis to ``total`` samples, crossfading the seams."""
    n = arr.shape[-1]
    xf = min(crossfade, n // 2)
    if xf == 0:
        reps = -(-total // n)
        return np.concatenate([arr] * reps, axis=-1)[..., :total]
    fade_in = 0.5 - 0.5 * np.cos(np.pi * (np.arange(xf) + 0.5) / xf)
    seam = arr[..., n - xf :] * (1.0 - fade_in) + arr[..., :xf] * fade_in
    cycle = np.concatenate([seam, arr[..., xf : n - xf]], axis=-1)  # n - xf samples
    reps = max(0, -(-(total - (n - xf)) // (n - xf)))
    out = np.concatenate([arr[..., : n - xf]] + [cycle] * reps, axis=-1)[..., :total]
    return out.astype(arr.dtype, copy=False)


@dataclass(frozen=True)
class Mixture:
    """A noisy signal and its parts, made by :func:`mix_at_snr`: ``noisy = clean + noise``.

    ``noisy``, ``clean``, ``noise``: ``(L,)`` signals (same type as the clean input);
    ``snr_db``: ``speech_level_db - noise_level_db``; ``speech_level_db``: level of the
    clean speech (P.56 active level or RMS, see ``level``); ``noise_level_db``: RMS
    level of the scaled noise over the whole clip; all in dB FS.
    Chapter: 01_noisy_speech.
    """

    noisy: ArrayLike
    clean: ArrayLike
    noise: ArrayLike
    snr_db: float
    speech_level_db: float
    noise_level_db: float
    level: str = "p56"
    sample_rate: int = SAMPLE_RATE

    def scaled(self, gain: float) -> "Mixture":
        """All three signals times ``gain`` (the SNR is unchanged), e.g.
        ``m.scaled(0.99 / abs(m.noisy).max())`` before :func:`save` when the noisy
        signal peaks above 1.0."""
        g_db = 20.0 * math.log10(abs(gain))
        return replace(
            self, noisy=self.noisy * gain, clean=self.clean * gain, noise=self.noise * gain,
            speech_level_db=self.speech_level_db + g_db, noise_level_db=self.noise_level_db + g_db,
        )


def mix_at_snr(
    clean: ArrayLike,
    noise: ArrayLike,
    snr_db: float,
    sample_rate: int = SAMPLE_RATE,
    level: str = "p56",
    rng=None,
) -> Mixture:
    """Add ``noise`` to ``clean`` speech at a signal-to-noise ratio of ``snr_db`` dB.

    The noise is first fitted to the length of ``clean`` with :func:`fit_length`
    (cropped at a random offset drawn from ``rng`` or looped), then only the *noise*
    is scaled (the clean signal is never changed) so that

        speech_level - noise_level = snr_db   exactly,

    where ``noise_level`` is the RMS level of the fitted noise over the whole clip
    and ``speech_level`` is the ITU-T P.56 active speech level of ``clean``
    (``level="p56"``, the usual definition: pauses in the speech do not change the
    SNR; :func:`active_level`) or its plain RMS level over the whole clip
    (``level="rms"``, i.e. ``10 log10(sum s^2 / sum n^2)``). Then
    ``noisy = clean + noise`` exactly (in the dtype of ``clean``).

    ``clean``, ``noise``: mono float ``(L,)`` / ``(L_n,)``, NumPy or torch (the
    outputs follow ``clean``). Raises ``ValueError`` for silent, non-finite,
    integer or multichannel inputs and a non-finite ``snr_db``. The noisy signal may
    peak above 1.0 at low SNR: use :meth:`Mixture.scaled` before saving.
    Used in chapter 1 and by :mod:`sedemo.data`.
    Chapter: 01_noisy_speech.
    """
    if level not in ("p56", "rms"):
        raise ValueError(f"level must be 'p56' (active speech level) or 'rms', got {level!r}")
    try:
        snr = float(snr_db)
    except (TypeError, ValueError):
        raise ValueError(f"snr_db must be a number of dB, got {snr_db!r}") from None
    if not math.isfinite(snr):
        raise ValueError(f"snr_db must be finite, got {snr_db!r}; for clean speech just use the clean signal")
    fs = _check_rate(sample_rate, "sample_rate")
    c = validate(clean, "clean speech")
    validate(noise, "noise")
    out_dtype = c.dtype
    n_fit = as_tensor(fit_length(to_numpy(noise).astype(np.float64), c.shape[-1], rng=rng))
    c64 = c.detach().cpu().numpy().astype(np.float64)
    n64 = n_fit.numpy()
    noise_rms_db = float(rms_db(n64))
    if not math.isfinite(noise_rms_db) or 10 ** (noise_rms_db / 20) < SILENCE_RMS:
        raise ValueError(
            "the noise segment cut to the length of the clean speech is digital silence; "
            "use a noise recording without long silent parts"
        )
    if level == "p56":
        speech_db, _ = active_level(c64, fs)
    else:
        speech_db = float(rms_db(c64))
    gain = 10.0 ** ((speech_db - snr - noise_rms_db) / 20.0)
    noise_out = torch.from_numpy(n64 * gain).to(out_dtype)
    clean_out = c.detach().clone()
    noisy_out = clean_out + noise_out
    return Mixture(
        noisy=like(noisy_out, clean),
        clean=like(clean_out, clean),
        noise=like(noise_out, clean),
        snr_db=snr,
        speech_level_db=float(speech_db),
        noise_level_db=float(speech_db - snr),
        level=level,
        sample_rate=fs,
    )
