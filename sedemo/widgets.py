"""Listening controls that work both in a live notebook and in the static website.

Used in every chapter of the book wherever the reader should *hear* a parameter
(a mask's threshold, an SNR, a loss, a causality mistake). One mechanism,
:func:`switcher`: the author lists parameter values and gives ``render(value)``,
which returns what to show for that value: a matplotlib figure, audio, a caption,
a small table of numbers (see :class:`Switcher` for the accepted return values).

Two modes, chosen by :func:`static_mode`:

* **static** (the website; ``SEDEMO_STATIC=1``, which the book build sets, or
  whenever no kernel with ipywidgets is running): every value is rendered once in
  advance. Figures become PNG (or WebP/JPEG when much smaller) and audio becomes
  MP3 (``libmp3lame`` of the ffmpeg binary shipped with ``imageio-ffmpeg``, 48
  kbit/s by default), all embedded as base64 ``data:`` URIs in ONE self-contained
  HTML block with a range slider and a few lines of inline JavaScript that show
  one variant at a time. No external URL, no CDN, no require.js, no kernel.
  While a clip plays, moving the slider continues playback of the same clip in
  the new variant at the same time position (A/B listening, like the RNNoise
  demo page).
* **live** (a running kernel and ``SEDEMO_STATIC`` unset or 0): an
  ``ipywidgets.SelectionSlider`` over the values and an ``Output`` widget that
  calls ``render`` on release and shows the figure and
  ``IPython.display.Audio(x, rate=sr, normalize=False)``.

Levels are never normalised in either mode: the samples are encoded as they are,
so that loudness differences (a mask that removes speech, a loss that changes the
gain) are heard. Samples beyond ±1 would clip on playback; by default this warns
(``on_clip="warn"``), or raises with ``on_clip="error"``.

HTML structure of a static control (stable, for the browser tests)::

    div.sedemo-switcher#<unique id>
      input[type=range].sedemo-switcher-input      (value = variant index)
      output.sedemo-switcher-value                 (the current value's label)
      div.sedemo-variants
        div.sedemo-variant[data-value][data-index] (all but the active one `hidden`)
          img.sedemo-figure, table.sedemo-audio-table audio, div.sedemo-caption, ...
    script (inline, wires this id only)

Also :func:`audio_player` and :func:`audio_table` (labelled players, e.g. columns
"clean | noisy | enhanced"), used throughout the book.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import numbers
import os
import subprocess
import sys
import tempfile
import warnings
import wave
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

from ._utils import to_numpy

__all__ = [
    "Clip", "HTMLBlock", "Switcher", "switcher", "static_mode", "audio_player", "audio_table",
    "audio_codecs", "encode_audio", "decode_audio", "audio_data_uri", "figure_data_uri",
    "DEFAULT_BITRATE",
]

STATIC_ENV = "SEDEMO_STATIC"
#: MP3 bit rate used unless a call says otherwise (about 30 kB for 4 s of audio).
DEFAULT_BITRATE = "48k"
#: A static control larger than this many bytes triggers a warning.
SIZE_WARNING_BYTES = 3_000_000

_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# codec name -> (ffmpeg encoder, container format, file suffix, MIME type)
_CODECS = {
    "mp3": ("libmp3lame", "mp3", ".mp3", "audio/mpeg"),
    "aac": ("aac", "ipod", ".m4a", "audio/mp4"),
    "opus": ("libopus", "ogg", ".ogg", "audio/ogg"),
}
_PREFERENCE = ("mp3", "aac", "opus")  # MP3 first: every browser plays it
_ids = itertools.count()
_encode_cache: dict[tuple, tuple[bytes, str]] = {}


# ----------------------------------------------------------------------------- basics
@dataclass
class Clip:
    """Audio with its own sample rate and label, for ``render`` results and tables.

    ``samples``: ``(L,)`` mono or ``(C, L)`` with C <= 2 (NumPy or torch), in the
    [-1, 1] full-scale convention; ``sample_rate`` in Hz.
    """

    samples: Any
    sample_rate: int
    label: str | None = None


class HTMLBlock:
    """A self-contained piece of HTML that notebooks and Jupyter Book display as is.

    ``html`` is the markup; ``nbytes`` its size in bytes (UTF-8). Displayed through
    ``_repr_html_``; ``repr()`` gives a one-line summary with the size.
    """

    def __init__(self, markup: str, summary: str = "HTML"):
        self.html = markup
        self.summary = summary

    @property
    def nbytes(self) -> int:
        return len(self.html.encode("utf-8"))

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<sedemo {self.summary}: {self.nbytes / 1000:.1f} kB of self-contained HTML>"


def static_mode() -> bool:
    """Whether controls are pre-rendered to static HTML (True) or live widgets (False).

    ``SEDEMO_STATIC=1`` (or true/yes/on) forces static, as the book build does;
    otherwise live is used when an IPython kernel is running and ipywidgets
    imports, static when not (a plain Python script, a test, a failed import).
    """
    flag = os.environ.get(STATIC_ENV, "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    return not (_kernel_running() and _ipywidgets_available())


def _kernel_running() -> bool:
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    shell = ip.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _ipywidgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except Exception:
        return False
    return True


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
    """``data:<mime>;base64,...`` of :func:`encode_audio` (same options)."""
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


# ----------------------------------------------------------------------------- render results
def _is_signal(obj) -> bool:
    if isinstance(obj, Clip):
        return True
    if type(obj).__module__.startswith("torch") and hasattr(obj, "ndim"):
        return obj.ndim >= 1
    return isinstance(obj, np.ndarray) and obj.ndim >= 1


def _is_scalar(obj) -> bool:
    return isinstance(obj, (numbers.Number, str, np.generic)) or (
        isinstance(obj, np.ndarray) and obj.ndim == 0
    )


def _format_number(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, np.ndarray):
        v = v.item()
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return f"{float(v):.4g}"
    return str(v)


def _parse(result, sample_rate: int | None) -> list[tuple[str, Any]]:
    """Flatten what ``render`` returned into ("figure" | "audio" | "caption" |
    "numbers" | "html", payload) items, in order. Audio payloads are lists of
    (label, samples, rate); consecutive unlabelled signals share one row."""
    items: list[tuple[str, Any]] = []

    def clip(label, obj):
        if isinstance(obj, Clip):
            return (obj.label if obj.label is not None else label, obj.samples, obj.sample_rate)
        if sample_rate is None:
            raise ValueError("render returned a bare signal: pass sample_rate= to the switcher, "
                             "or return sedemo.widgets.Clip(x, sample_rate)")
        return (label, obj, sample_rate)

    def walk(obj):
        if obj is None:
            return
        if _is_figure(obj):
            items.append(("figure", obj))
        elif _is_signal(obj):
            c = clip(None, obj)
            if items and items[-1][0] == "audio" and items[-1][1][-1][0] is None and c[0] is None:
                items[-1][1].append(c)
            else:
                items.append(("audio", [c]))
        elif isinstance(obj, str):
            items.append(("caption", obj))
        elif isinstance(obj, dict):
            audio = [clip(str(k), v) for k, v in obj.items() if _is_signal(v)]
            nums = [(str(k), v) for k, v in obj.items() if _is_scalar(v)]
            bad = [k for k, v in obj.items() if not (_is_signal(v) or _is_scalar(v) or v is None)]
            if bad:
                raise TypeError(f"render returned a dict whose values for {bad} are neither signals nor numbers")
            if audio:
                items.append(("audio", audio))
            if nums:
                items.append(("numbers", nums))
        elif hasattr(obj, "_repr_html_"):
            items.append(("html", obj))
        elif isinstance(obj, (list, tuple)):
            for o in obj:
                walk(o)
        else:
            raise TypeError(
                f"render returned a {type(obj).__name__}; return a matplotlib Figure, a signal "
                "(NumPy/torch array or Clip), a dict label -> signal or number, a caption str, an "
                "object with _repr_html_, or a list/tuple of these"
            )

    walk(result)
    return items


def _audio_tag(label, samples, rate, *, preload: str, options: dict) -> str:
    uri = audio_data_uri(samples, rate, **options)
    aria = f' aria-label="{html.escape(label)}"' if label else ""
    return f'<audio controls preload="{preload}"{aria} src="{uri}"></audio>'


def _audio_row_html(clips, tag: Callable) -> str:
    """One table row of players with their labels as headings."""
    head = "".join(f"<th>{html.escape(c[0] or '')}</th>" for c in clips)
    body = "".join(f"<td>{tag(*c)}</td>" for c in clips)
    heading = f"<tr>{head}</tr>" if any(c[0] for c in clips) else ""
    return f'<table class="sedemo-audio-table">{heading}<tr>{body}</tr></table>'


def _numbers_html(pairs) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k, _ in pairs)
    body = "".join(f"<td>{html.escape(_format_number(v))}</td>" for _, v in pairs)
    return f'<table class="sedemo-numbers"><tr>{head}</tr><tr>{body}</tr></table>'


_STYLE = (
    "<style>"
    ".sedemo-switcher{margin:.5em 0}"
    ".sedemo-switcher .sedemo-variant[hidden]{display:none!important}"
    ".sedemo-switcher-controls{display:flex;align-items:center;gap:.6em;margin-bottom:.4em}"
    ".sedemo-switcher-input{flex:0 1 18em}"
    ".sedemo-figure{max-width:100%;height:auto;display:block}"
    ".sedemo-audio-table td,.sedemo-audio-table th,.sedemo-numbers td,.sedemo-numbers th"
    "{padding:.15em .5em;text-align:center}"
    ".sedemo-audio-table audio{width:15em;max-width:100%}"
    ".sedemo-caption{font-size:.95em;margin:.3em 0}"
    "</style>"
)

_SCRIPT = """<script>
(function () {
  var root = document.getElementById("%ID%");
  if (!root || root.getAttribute("data-ready")) return;
  root.setAttribute("data-ready", "1");
  var input = root.querySelector(".sedemo-switcher-input");
  var shown = root.querySelector(".sedemo-switcher-value");
  var variants = root.querySelectorAll(".sedemo-variant");
  var current = 0;
  for (var i = 0; i < variants.length; i++) if (!variants[i].hidden) current = i;
  function show(i) {
    if (i === current || !variants[i]) return;
    var before = variants[current].querySelectorAll("audio");
    var after = variants[i].querySelectorAll("audio");
    for (var k = 0; k < before.length; k++) {
      var a = before[k], b = after[k], playing = !a.paused && !a.ended;
      if (b && a.currentTime > 0 && !a.ended) { try { b.currentTime = a.currentTime; } catch (e) {} }
      a.pause();
      if (b && playing) { var p = b.play(); if (p && p.catch) p.catch(function () {}); }
    }
    variants[current].hidden = true;
    variants[i].hidden = false;
    current = i;
    var label = variants[i].getAttribute("data-value");
    shown.textContent = label;
    input.setAttribute("aria-valuetext", label);
  }
  input.addEventListener("input", function () { show(parseInt(input.value, 10)); });
  show(parseInt(input.value, 10));
})();
</script>"""


# ----------------------------------------------------------------------------- public builders
def audio_player(x, sample_rate: int, label: str | None = None, *, codec: str = "auto",
                 bitrate: str = DEFAULT_BITRATE, on_clip: str = "warn") -> HTMLBlock:
    """One labelled player with the audio embedded (MP3 data URI), not normalised.

    ``x``: ``(L,)`` or ``(C, L)`` samples in [-1, 1]; ``sample_rate`` in Hz.
    Returns an :class:`HTMLBlock` (displays in notebooks and in the website).
    """
    opts = dict(codec=codec, bitrate=bitrate, on_clip=on_clip)
    tag = _audio_tag(label, x, sample_rate, preload="metadata", options=opts)
    head = f'<div class="sedemo-audio-label">{html.escape(label)}</div>' if label else ""
    return HTMLBlock(f'<div class="sedemo-audio">{head}{tag}</div>', f"audio player {label or ''}".strip())


def audio_table(rows, sample_rate: int | None = None, *, title: str | None = None, codec: str = "auto",
                bitrate: str = DEFAULT_BITRATE, on_clip: str = "warn") -> HTMLBlock:
    """A small table of labelled players (and numbers), e.g. "clean | noisy | enhanced".

    ``rows`` is one of

    * a dict ``column -> cell``: one row (``{"clean": s, "noisy": y, "enhanced": e}``);
    * a list of such dicts: one row each, columns in order of first appearance;
    * a dict ``row label -> dict``: the same with a first column of row labels.

    A cell is a signal (NumPy/torch ``(L,)`` at ``sample_rate`` Hz, or a
    :class:`Clip` with its own rate) shown as a player, a number or string shown
    as text (e.g. a PESQ column), or None (empty). Audio is embedded compressed
    (MP3) and never normalised. Returns an :class:`HTMLBlock`.
    """
    if isinstance(rows, dict) and rows and all(isinstance(v, dict) for v in rows.values()):
        labelled = [(str(k), v) for k, v in rows.items()]
    elif isinstance(rows, dict):
        labelled = [(None, rows)]
    elif isinstance(rows, (list, tuple)) and all(isinstance(r, dict) for r in rows):
        labelled = [(None, r) for r in rows]
    else:
        raise TypeError("audio_table expects a dict column -> signal, a list of such dicts, "
                        "or a dict row label -> dict")
    columns: list[str] = []
    for _, row in labelled:
        columns += [str(k) for k in row if str(k) not in columns]
    opts = dict(codec=codec, bitrate=bitrate, on_clip=on_clip)
    row_labels = any(label is not None for label, _ in labelled)

    def cell(value) -> str:
        if value is None:
            return ""
        if _is_signal(value):
            if isinstance(value, Clip):
                return _audio_tag(value.label, value.samples, value.sample_rate, preload="metadata", options=opts)
            if sample_rate is None:
                raise ValueError("audio_table needs sample_rate= for bare signals (or use Clip)")
            return _audio_tag(None, value, sample_rate, preload="metadata", options=opts)
        if _is_scalar(value):
            return html.escape(_format_number(value))
        raise TypeError(f"audio_table cell of type {type(value).__name__}: use a signal, a number, a str or None")

    parts = ['<table class="sedemo-audio-table">']
    if title:
        parts.append(f"<caption>{html.escape(title)}</caption>")
    parts.append("<tr>" + ("<th></th>" if row_labels else "")
                 + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>")
    for label, row in labelled:
        byname = {str(k): v for k, v in row.items()}
        first = f"<th>{html.escape(label or '')}</th>" if row_labels else ""
        parts.append("<tr>" + first + "".join(f"<td>{cell(byname.get(c))}</td>" for c in columns) + "</tr>")
    parts.append("</table>")
    style = "<style>.sedemo-audio-table td,.sedemo-audio-table th{padding:.15em .5em;text-align:center}</style>"
    return HTMLBlock(style + "".join(parts), f"audio table, {len(labelled)} rows x {len(columns)} columns")


class Switcher:
    """A slider over parameter values that switches pre-rendered or live output.

    ``values``: the parameter values (any objects; shown with ``format_value``,
    default ``f"{v:g}"`` for numbers, ``str`` otherwise; labels must be distinct).
    ``render(value)`` returns any of, or a list/tuple of:

    * a matplotlib ``Figure`` (closed after use, so it is not shown twice);
    * a signal (NumPy/torch ``(L,)``, played at ``sample_rate`` Hz) or a
      :class:`Clip` (own rate and label);
    * a dict ``label -> signal`` (a row of labelled players) and/or
      ``label -> number`` (a one-row table of numbers, e.g. PESQ, SI-SDR);
    * a ``str`` caption (plain text) or an object with ``_repr_html_``.

    ``label``: the slider's name (e.g. "SNR (dB)"); ``initial``: the value shown
    first (default the first); ``dpi``/``image_format``: figure encoding (see
    :func:`figure_data_uri`); ``codec``/``bitrate``/``on_clip``: audio encoding
    (see :func:`encode_audio`). Use :meth:`static`, :meth:`live` or :meth:`show`.
    Tip: a signal that is the same for every value (the noisy input) is better
    shown once with :func:`audio_table` than embedded in every variant.
    """

    def __init__(self, values: Sequence, render: Callable, label: str = "value", *,
                 sample_rate: int | None = None, initial=None, format_value: Callable | None = None,
                 dpi: float = 100, image_format: str = "auto", codec: str = "auto",
                 bitrate: str = DEFAULT_BITRATE, on_clip: str = "warn"):
        self.values = list(values)
        if not self.values:
            raise ValueError("Switcher needs at least one value")
        if not callable(render):
            raise TypeError("render must be a function value -> figure / audio / caption")
        self.render = render
        self.label = str(label)
        self.sample_rate = sample_rate
        self.format_value = format_value or _default_format
        self.labels = [str(self.format_value(v)) for v in self.values]
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"the values' labels must be distinct, got {self.labels}; pass format_value=")
        if initial is None:
            self.initial = 0
        else:
            matches = [i for i, v in enumerate(self.values) if v is initial or _equal(v, initial)]
            if not matches:
                raise ValueError(f"initial={initial!r} is not one of the values")
            self.initial = matches[0]
        self.dpi = dpi
        self.image_format = image_format
        self.audio_options = dict(codec=codec, bitrate=bitrate, on_clip=on_clip)

    # -- static -------------------------------------------------------------
    def _render_items(self, value):
        plt = sys.modules.get("matplotlib.pyplot")
        before = set(plt.get_fignums()) if plt is not None else set()
        try:
            return _parse(self.render(value), self.sample_rate)
        finally:
            plt = sys.modules.get("matplotlib.pyplot")
            if plt is not None:  # figures render() made but did not return would show at cell end
                for num in set(plt.get_fignums()) - before:
                    plt.close(num)

    def _variant_body(self, items) -> str:
        def tag(label, samples, rate):
            return _audio_tag(label, samples, rate, preload="none", options=self.audio_options)

        parts = []
        for kind, payload in items:
            if kind == "figure":
                uri = figure_data_uri(payload, dpi=self.dpi, image_format=self.image_format)
                parts.append(f'<img class="sedemo-figure" src="{uri}" alt="figure">')
            elif kind == "audio":
                parts.append(_audio_row_html(payload, tag))
            elif kind == "caption":
                parts.append(f'<div class="sedemo-caption">{html.escape(payload)}</div>')
            elif kind == "numbers":
                parts.append(_numbers_html(payload))
            else:
                parts.append(f'<div class="sedemo-html">{payload._repr_html_()}</div>')
        return "".join(parts)

    def static(self) -> HTMLBlock:
        """Render every value now and return one self-contained :class:`HTMLBlock`."""
        variants = []
        for i, (value, text) in enumerate(zip(self.values, self.labels)):
            body = self._variant_body(self._render_items(value))
            hidden = "" if i == self.initial else " hidden"
            variants.append(
                f'<div class="sedemo-variant" data-index="{i}" data-value="{html.escape(text)}"{hidden}>'
                f"{body}</div>"
            )
        joined = "".join(variants)
        uid = "sedemo-sw-" + hashlib.sha1(f"{next(_ids)}|{self.label}|{len(joined)}".encode()).hexdigest()[:12]
        n = len(self.values)
        head = (
            f'<div class="sedemo-switcher-controls">'
            f'<label for="{uid}-input">{html.escape(self.label)}</label>'
            f'<input type="range" class="sedemo-switcher-input" id="{uid}-input" min="0" max="{n - 1}" '
            f'step="1" value="{self.initial}" aria-valuetext="{html.escape(self.labels[self.initial])}">'
            f'<output class="sedemo-switcher-value" for="{uid}-input">{html.escape(self.labels[self.initial])}</output>'
            f"</div>"
        )
        markup = (
            f'{_STYLE}<div class="sedemo-switcher" id="{uid}" data-count="{n}">{head}'
            f'<div class="sedemo-variants">{joined}</div></div>' + _SCRIPT.replace("%ID%", uid)
        )
        block = HTMLBlock(markup, f"switcher '{self.label}', {n} variants")
        if block.nbytes > SIZE_WARNING_BYTES:
            warnings.warn(
                f"the control '{self.label}' embeds {block.nbytes / 1e6:.1f} MB; use fewer values, "
                "shorter clips, a lower dpi, or show unchanging signals once outside the switcher",
                UserWarning, stacklevel=2,
            )
        return block

    # -- live ---------------------------------------------------------------
    def live(self):
        """An ``ipywidgets.VBox`` of a ``SelectionSlider`` and an ``Output`` that
        calls ``render`` when the slider is released (not ``interact``)."""
        import ipywidgets as W
        from IPython.display import HTML, display

        slider = W.SelectionSlider(
            options=list(zip(self.labels, range(len(self.values)))),
            value=self.initial,
            description=self.label,
            continuous_update=False,
            style={"description_width": "initial"},
            layout=W.Layout(width="32em"),
        )
        out = W.Output()

        def update(change=None):
            with out:
                out.clear_output(wait=True)
                for kind, payload in self._render_items(self.values[slider.value]):
                    if kind == "figure":
                        display(payload)
                        _close_figure(payload)
                    elif kind == "audio":
                        display(HTML(_audio_row_html(payload, self._live_audio)))
                    elif kind == "caption":
                        display(HTML(f'<div class="sedemo-caption">{html.escape(payload)}</div>'))
                    elif kind == "numbers":
                        display(HTML(_numbers_html(payload)))
                    else:
                        display(payload)

        slider.observe(update, names="value")
        update()
        box = W.VBox([slider, out])
        box.slider, box.output = slider, out  # handles for tests and for authors
        return box

    def _live_audio(self, label, samples, rate) -> str:
        from IPython.display import Audio

        a = _as_audio(samples, "audio")
        if _check_clip(a, self.audio_options["on_clip"], "audio"):
            a = np.clip(a, -1.0, 1.0)  # IPython refuses |x| > 1 without normalising
        return Audio(a.T if a.ndim == 2 else a, rate=int(rate), normalize=False)._repr_html_()

    # -- either -------------------------------------------------------------
    def show(self, mode: str | None = None):
        """``static()`` or ``live()``: ``mode`` "static"/"live", or None for :func:`static_mode`."""
        if mode is None:
            mode = "static" if static_mode() else "live"
        if mode == "static":
            return self.static()
        if mode == "live":
            return self.live()
        raise ValueError(f"mode must be 'static', 'live' or None, got {mode!r}")


def switcher(values: Sequence, render: Callable, label: str = "value", *, mode: str | None = None, **options):
    """Build a :class:`Switcher` and return its static HTML or live widget.

    ``switcher([0, 5, 10], render, label="SNR (dB)", sample_rate=16000)``: in the
    website an :class:`HTMLBlock` with every variant pre-rendered, in a live
    notebook an ipywidgets slider. ``mode``: force "static" or "live"; other
    keywords as for :class:`Switcher`. Used in chapters 1-7.
    """
    return Switcher(values, render, label, **options).show(mode)


def _default_format(v) -> str:
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, numbers.Integral)):
        return f"{float(v):g}"
    return str(v)


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False
