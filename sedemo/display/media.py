"""Media for the website: audio encoded to MP3/AAC/Opus data URIs (levels never normalised)
and figures to PNG/WebP/JPEG data URIs, with the bundled ffmpeg. Chapter: 01_noisy_speech.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import warnings
import wave
from functools import lru_cache

import numpy as np

from sedemo._utils import to_numpy


SIZE_WARNING_BYTES = 3_000_000

__all__ = ["audio_codecs", "encode_audio", "decode_audio", "audio_data_uri", "figure_data_uri", "DEFAULT_BITRATE"]

#: MP3 bit rate used unless a call says otherwise (about 30 kB for 4 s of audio).
DEFAULT_BITRATE = "48k"
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# codec name -> (ffmpeg encoder, container format, file suffix, MIME type)
_CODECS = {
    "mp3": ("libmp3lame", "mp3", ".mp3", "audio/mpeg"),
    "aac": ("aac", "ipod", ".m4a", "audio/mp4"),
    "opus": ("libopus", "ogg", ".ogg", "audio/ogg"),
}
_PREFERENCE = ("mp3", "aac", "opus")  # MP3 first: every browser plays it
_encode_cache: dict[tuple, tuple[bytes, str]] = {}


# ----------------------------------------------------------------------------- audio
@lru_cache(maxsize=1)
def _ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        return None


@lru_cache(maxsize=1)
def audio_codecs() -> tuple[str, ...]:
    """Codecs usable for embedding, in order of preference; "wav" is always last.

    Read once from ``ffmpeg -encoders`` of the ``imageio-ffmpeg`` binary
    (``libmp3lame`` -> "mp3", native ``aac`` -> "aac", ``libopus`` -> "opus").
    Chapter: 01_noisy_speech.
    """
    exe = _ffmpeg()
    found: list[str] = []
    if exe is not None:
        try:
            listing = subprocess.run(
                [exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        names = {line.split()[1] for line in listing.splitlines() if len(line.split()) > 1}
        found = [c for c in _PREFERENCE if _CODECS[c][0] in names]
    return (*found, "wav")


def _as_audio(x, what: str = "audio") -> np.ndarray:
    """Float32 ``(L,)`` or ``(L, C)`` (interleaved) samples, checked."""
    a = np.asarray(to_numpy(x), dtype=np.float32)
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        if a.shape[0] > 2:
            raise ValueError(f"{what}: expected (L,) mono or (C, L) with C <= 2 channels, got shape {a.shape}")
        a = a.T
    elif a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D signal (L,) or (C, L), got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{what}: the signal is empty")
    if not np.isfinite(a).all():
        raise ValueError(f"{what}: the signal contains NaN or infinite samples")
    return np.ascontiguousarray(a)


def _check_clip(a: np.ndarray, on_clip: str, what: str) -> bool:
    """Warn or raise when samples exceed full scale; return whether they do."""
    if on_clip not in ("warn", "error"):
        raise ValueError(f"on_clip must be 'warn' or 'error', got {on_clip!r}")
    peak = float(np.max(np.abs(a)))
    if peak <= 1.0:
        return False
    msg = (
        f"{what}: peak {peak:.3f} ({20 * np.log10(peak):+.1f} dBFS) exceeds full scale and will clip "
        "on playback. Levels are never normalised here (loudness is part of the comparison): "
        "scale all compared signals by the same factor before listening."
    )
    if on_clip == "error":
        raise ValueError(msg)
    warnings.warn(msg, UserWarning, stacklevel=3)
    return True


def _wav_bytes(a: np.ndarray, sample_rate: int) -> bytes:
    pcm = np.round(np.clip(a, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1 if a.ndim == 1 else a.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def encode_audio(x, sample_rate: int, *, codec: str = "auto", bitrate: str = DEFAULT_BITRATE,
                 on_clip: str = "warn") -> tuple[bytes, str]:
    """Encode samples as they are (no normalisation) and return ``(bytes, mime)``.

    ``x``: ``(L,)`` or ``(C, L)`` floats in [-1, 1]; ``sample_rate`` in Hz.
    ``codec``: "auto" (first of :func:`audio_codecs`, MP3 with the shipped
    ffmpeg), "mp3", "aac", "opus" or "wav" (16-bit PCM, the fallback when ffmpeg
    has no encoder). ``bitrate``: ffmpeg syntax, e.g. "48k" (ignored for WAV).
    Compressed codecs receive the float samples, divided only by the codec's own
    fixed gain (LAME scales by 0.95; measured once, see ``_codec_gain``) so that
    the decoded level equals the input's (tested within 0.2 dB). MP3 at 48 kbit/s
    and 16 kHz keeps the band up to about 7.5 kHz. A sample rate MP3 cannot store
    is resampled by ffmpeg to 48 kHz (Opus always stores 48 kHz).
    Samples beyond ±1 warn (``on_clip="warn"``) or raise (``"error"``); WAV
    clips them, compressed formats keep them and the player clips.
    Chapter: 01_noisy_speech.
    """
    a = _as_audio(x)
    sample_rate = int(sample_rate)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    available = audio_codecs()
    if codec == "auto":
        codec = available[0]
    elif codec not in available:
        raise ValueError(f"codec {codec!r} is not available here; choose one of {available}")
    _check_clip(a, on_clip, "audio")
    key = (hashlib.sha1(a.tobytes()).hexdigest(), a.shape, sample_rate, codec, bitrate)
    if key in _encode_cache:
        return _encode_cache[key]
    if codec == "wav":
        result = (_wav_bytes(a, sample_rate), "audio/wav")
    else:
        gain = _codec_gain(codec, sample_rate, bitrate)
        result = (_ffmpeg_encode(a / gain, sample_rate, codec, bitrate), _CODECS[codec][3])
    if len(_encode_cache) > 256:
        _encode_cache.clear()
    _encode_cache[key] = result
    return result


@lru_cache(maxsize=64)
def _codec_gain(codec: str, sample_rate: int, bitrate: str) -> float:
    """The level change of an encode/decode round trip, measured once per setting.

    LAME (MP3) scales its input by 0.95 (-0.45 dB) whatever the signal; other
    codecs by less than 0.05 dB. Dividing the input by this gain makes what the
    reader hears equal the samples' level; it is a property of the codec, the
    same for every signal, so it is not a normalisation.
    """
    f0 = min(1000.0, sample_rate / 8)
    tone = (0.1 * np.sin(2 * np.pi * f0 * np.arange(sample_rate) / sample_rate)).astype(np.float32)
    try:
        decoded = decode_audio(_ffmpeg_encode(tone, sample_rate, codec, bitrate), sample_rate)
    except RuntimeError:
        return 1.0
    n = min(len(decoded), len(tone))
    mid = slice(n // 4, 3 * n // 4)
    gain = float(np.sqrt(np.mean(decoded[mid].astype(np.float64) ** 2) / np.mean(tone[mid].astype(np.float64) ** 2)))
    if not 0.5 < gain < 2.0:  # something odd with this build: do not touch the level
        return 1.0
    return 1.0 if abs(gain - 1.0) < 0.002 else round(gain, 4)


def _ffmpeg_encode(a: np.ndarray, sample_rate: int, codec: str, bitrate: str) -> bytes:
    encoder, fmt, suffix, _ = _CODECS[codec]
    channels = 1 if a.ndim == 1 else a.shape[1]
    out_rate: list[str] = []
    if codec == "mp3" and sample_rate not in _MP3_RATES:
        out_rate = ["-ar", "48000"]
    elif codec == "opus":
        out_rate = ["-ar", "48000"]
    with tempfile.TemporaryDirectory(prefix="sedemo-audio-") as tmp:
        path = os.path.join(tmp, "clip" + suffix)
        cmd = [
            _ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0",
            "-c:a", encoder, "-b:a", bitrate, *out_rate,
            "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
            "-f", fmt, path,
        ]
        proc = subprocess.run(cmd, input=a.astype("<f4").tobytes(), capture_output=True, timeout=120)
        if proc.returncode != 0 or not os.path.exists(path):
            raise RuntimeError(f"ffmpeg failed to encode {codec}: {proc.stderr.decode(errors='replace')[-500:]}")
        with open(path, "rb") as f:
            return f.read()


def decode_audio(data: bytes, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Decode compressed audio bytes with ffmpeg to float32 samples.

    ``sample_rate``: the rate to decode to (Hz); ``channels``: the channel count to
    decode to. Returns ``(L,)`` for one channel, ``(C, L)`` otherwise. Used to
    check what a reader hears (e.g. that the encoded level equals the original).
    Chapter: 01_noisy_speech.
    """
    exe = _ffmpeg()
    if exe is None:
        raise RuntimeError("decode_audio needs the ffmpeg binary of imageio-ffmpeg")
    with tempfile.TemporaryDirectory(prefix="sedemo-audio-") as tmp:
        path = os.path.join(tmp, "clip")
        with open(path, "wb") as f:
            f.write(data)
        cmd = [exe, "-hide_banner", "-loglevel", "error", "-i", path, "-f", "f32le",
               "-ar", str(int(sample_rate)), "-ac", str(int(channels)), "pipe:1"]
        proc = subprocess.run(cmd, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to decode: {proc.stderr.decode(errors='replace')[-500:]}")
    x = np.frombuffer(proc.stdout, dtype="<f4").copy()
    return x if channels == 1 else x.reshape(-1, channels).T.copy()


def audio_data_uri(x, sample_rate: int, **options) -> str:
    """``data:<mime>;base64,...`` of :func:`encode_audio` (same options).

    Chapter: 01_noisy_speech."""
    data, mime = encode_audio(x, sample_rate, **options)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


# ----------------------------------------------------------------------------- figures
def figure_data_uri(fig, *, dpi: float | None = None, image_format: str = "auto", close: bool = True) -> str:
    """Encode a matplotlib figure as a ``data:image/...;base64`` URI.

    ``image_format``: "png", "webp", "jpeg", or "auto": PNG unless a WebP (Pillow,
    quality 85; JPEG where Pillow lacks WebP) is under 3/4 of its size, which is
    typical of spectrograms, rarely of line plots. ``dpi``: default the figure's
    own. ``close``: close the figure in pyplot so the notebook does not show it a
    second time.
    Chapter: 01_noisy_speech.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, bbox_inches="tight")
    data, mime = buf.getvalue(), "image/png"
    if image_format not in ("auto", "png", "webp", "jpeg"):
        raise ValueError(f"image_format must be auto, png, webp or jpeg, got {image_format!r}")
    if image_format != "png":
        lossy = _lossy_image(data, image_format)
        if lossy is not None and (image_format != "auto" or len(lossy[0]) < 0.75 * len(data)):
            data, mime = lossy
    if close:
        _close_figure(fig)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _lossy_image(png: bytes, image_format: str) -> tuple[bytes, str] | None:
    try:
        from PIL import Image, features
    except Exception:
        return None
    fmt = "webp" if image_format in ("auto", "webp") and features.check("webp") else "jpeg"
    if image_format == "webp" and fmt != "webp":
        raise ValueError("this Pillow has no WebP support; use image_format='jpeg' or 'png'")
    img = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    if fmt == "webp":
        img.save(out, format="WEBP", quality=85, method=4)
    else:
        img.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue(), f"image/{fmt}"


def _close_figure(fig) -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def _is_figure(obj) -> bool:
    mpl_figure = sys.modules.get("matplotlib.figure")
    return mpl_figure is not None and isinstance(obj, mpl_figure.Figure)


