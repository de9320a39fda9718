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
  ``ipywidgets.SelectionSlider`` over the values and an ``ipywidgets.HTML`` view that
  an observer fills with ``render``'s figure, players (WAV, not normalised) and
  numbers when the slider is released. No ``Output`` widget: headless runs of a
  chapter (nbconvert, papermill) cannot stall on one.

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

import hashlib
import html
import itertools
import numbers
import os
import re
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from sedemo.display.media import (
    DEFAULT_BITRATE, _is_figure, audio_data_uri, figure_data_uri,
)


__all__ = ["Clip", "HTMLBlock", "Switcher", "switcher", "static_mode", "audio_player", "audio_table"]

STATIC_ENV = "SEDEMO_STATIC"
#: A static control larger than this many bytes triggers a warning.
SIZE_WARNING_BYTES = 3_000_000
_ids = itertools.count()
#: A static control larger than this many bytes triggers a warning.
# ----------------------------------------------------------------------------- basics
@dataclass
class Clip:
    """Audio with its own sample rate and label, for ``render`` results and tables.

    ``samples``: ``(L,)`` mono or ``(C, L)`` with C <= 2 (NumPy or torch), in the
    [-1, 1] full-scale convention; ``sample_rate`` in Hz.
    Chapter: 01_noisy_speech.
    """

    samples: Any
    sample_rate: int
    label: str | None = None


class HTMLBlock:
    """A self-contained piece of HTML that notebooks and Jupyter Book display as is.

    ``html`` is the markup; ``nbytes`` its size in bytes (UTF-8). Displayed through
    ``_repr_html_``; ``repr()`` gives a one-line summary with the size.
    Chapter: 01_noisy_speech.
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
    Chapter: 01_noisy_speech.
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
                             "or return sedemo.display.widgets.Clip(x, sample_rate)")
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


_ASSETS = Path(__file__).resolve().parent / "assets"


@lru_cache(maxsize=1)
def _style() -> str:
    """The controls' CSS (``assets/switcher.css``), without its comment and line breaks."""
    css = re.sub(r"/\*.*?\*/", "", (_ASSETS / "switcher.css").read_text(), flags=re.S)
    return "<style>" + "".join(line.strip() for line in css.splitlines()) + "</style>"


@lru_cache(maxsize=1)
def _script() -> str:
    """The controls' JavaScript (``assets/switcher.js``); ``%ID%`` stands for the control's id."""
    return "<script>\n" + (_ASSETS / "switcher.js").read_text() + "</script>"


# ----------------------------------------------------------------------------- public builders
def audio_player(x, sample_rate: int, label: str | None = None, *, codec: str = "auto",
                 bitrate: str = DEFAULT_BITRATE, on_clip: str = "warn") -> HTMLBlock:
    """One labelled player with the audio embedded (MP3 data URI), not normalised.

    ``x``: ``(L,)`` or ``(C, L)`` samples in [-1, 1]; ``sample_rate`` in Hz.
    Returns an :class:`HTMLBlock` (displays in notebooks and in the website).
    Chapter: 01_noisy_speech.
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

    Chapter: 01_noisy_speech.
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

    Chapter: 01_noisy_speech.
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

    def _variant_body(self, items, tag=None) -> str:
        if tag is None:
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
            f'{_style()}<div class="sedemo-switcher" id="{uid}" data-count="{n}">{head}'
            f'<div class="sedemo-variants">{joined}</div></div>' + _script().replace("%ID%", uid)
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
        """An ``ipywidgets.VBox`` of a ``SelectionSlider`` and an ``ipywidgets.HTML`` that
        shows ``render(value)`` for the selected value (updated when the slider is
        released, not while it is dragged).

        The observer sets the HTML widget's ``value`` (figures as image data, audio as
        ``<audio>`` players with WAV data, not normalised) instead of capturing output
        into an ``Output`` widget: a headless run (``jupyter nbconvert --execute``,
        papermill) then never waits for a widget's output to be flushed, the cause of
        the occasional stalls of nbclient with ``Output`` widgets. Chapter: 01_noisy_speech."""
        import ipywidgets as W

        slider = W.SelectionSlider(
            options=list(zip(self.labels, range(len(self.values)))),
            value=self.initial,
            description=self.label,
            continuous_update=False,
            style={"description_width": "initial"},
            layout=W.Layout(width="32em"),
        )
        view = W.HTML()

        def update(change=None):
            view.value = _style() + self._live_body(self._render_items(self.values[slider.value]))

        slider.observe(update, names="value")
        update()
        box = W.VBox([slider, view])
        box.slider, box.view = slider, view  # handles for tests and for authors
        return box

    def _live_body(self, items) -> str:
        """One variant's HTML for the live control: like :meth:`_variant_body`, but audio as
        uncompressed WAV (no encoder call while the reader moves the slider)."""
        live_audio = dict(self.audio_options, codec="wav")

        def tag(label, samples, rate):
            return _audio_tag(label, samples, rate, preload="auto", options=live_audio)

        return self._variant_body(items, tag)

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
    Chapters: 01_noisy_speech, 02_time_frequency, 03_masks, 04_phase, 05_complex_mapping, 06_losses, 07_causality.
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
