"""Plotting helpers with labelled axes and units, used by every chapter.

Figures follow one convention: time in seconds on x, frequency in kHz on y,
STFT levels in dB (10*log10|X|^2 of the unscaled STFT) with a labelled colour bar.
"""
from __future__ import annotations

import numpy as np

from sedemo.dsp import stft as _stft
from sedemo._utils import eval_mode, to_numpy


def _ax(ax, figsize=(8, 3)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def db(x, floor_db: float = -120.0):
    """``10*log10(|x|**2)`` of a complex or real array, floored at ``floor_db`` (dB).

    Chapter: 02_time_frequency."""
    p = np.abs(to_numpy(x)) ** 2
    return 10 * np.log10(np.maximum(p, 10 ** (floor_db / 10)))


def spectrogram(signal_or_spec, cfg: _stft.STFTConfig = _stft.DEFAULT, ax=None, title: str | None = None,
                vmin: float | None = -70.0, vmax: float | None = 20.0, cmap: str = "magma",
                colorbar: bool = True, label: str = "level (dB)"):
    """Log-power spectrogram image.

    ``signal_or_spec``: a waveform ``(L,)`` (transformed with ``cfg``) or a complex
    STFT ``(F, T)``. Level is ``10*log10(|X|^2)`` in dB (the STFT is unscaled, so
    a full-scale sine reads about ``20*log10(n_fft/4)`` dB with the sqrt-Hann window).
    The default colour range, -70 to +20 dB, suits speech at the corpus level of
    -26 dBFS. Returns the matplotlib ``AxesImage``. Used in chapters 1-7.
    Chapters: 01_noisy_speech, 02_time_frequency, 03_masks, 04_phase, 05_complex_mapping, 06_losses, 07_causality.
    """
    x = to_numpy(signal_or_spec)
    spec = x if np.iscomplexobj(x) else to_numpy(_stft.stft(x.astype(np.float32), cfg))
    return image(db(spec), cfg, ax=ax, title=title, vmin=vmin, vmax=vmax, cmap=cmap,
                 colorbar=colorbar, label=label)


def image(values, cfg: _stft.STFTConfig = _stft.DEFAULT, ax=None, title: str | None = None,
          vmin=None, vmax=None, cmap: str = "magma", colorbar: bool = True, label: str = "",
          freq_axis=None):
    """Show a real ``(F, T)`` time-frequency array (mask, phase, dB level) with time
    (s) on x and frequency (kHz) on y; ``freq_axis`` overrides the bin frequencies
    (Hz) for filterbank outputs (then the y axis is the band index labelled by Hz).
    Chapter: 02_time_frequency.
    """
    ax = _ax(ax)
    v = to_numpy(values)
    n_f, n_t = v.shape
    t_end = n_t * cfg.hop / cfg.sample_rate
    if freq_axis is None:
        extent = (0, t_end, 0, cfg.sample_rate / 2000)
        ylabel = "frequency (kHz)"
    else:
        extent = (0, t_end, -0.5, n_f - 0.5)
        ylabel = "band"
    im = ax.imshow(v, origin="lower", aspect="auto", extent=extent, vmin=vmin, vmax=vmax,
                   cmap=cmap, interpolation="nearest")
    if freq_axis is not None:
        ticks = np.linspace(0, n_f - 1, 5).round().astype(int)
        ax.set_yticks(ticks, [f"{freq_axis[i]:.0f} Hz" for i in ticks])
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=label, pad=0.01)
    return im


def waveform(x, sample_rate: int = 16000, ax=None, title: str | None = None, **kwargs):
    """Plot a waveform against time in seconds (amplitude in full-scale units).

    Chapter: 02_time_frequency."""
    ax = _ax(ax, figsize=(8, 2))
    x = to_numpy(x)
    ax.plot(np.arange(len(x)) / sample_rate, x, lw=0.6, **kwargs)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_xlim(0, len(x) / sample_rate)
    if title:
        ax.set_title(title)
    return ax


def spectrogram_grid(signals: dict, cfg: _stft.STFTConfig = _stft.DEFAULT, ncols: int = 2,
                     vmin: float = -70.0, vmax: float = 20.0, width: float = 11.0, row_height: float = 2.6):
    """A grid of labelled spectrograms sharing one colour scale: ``signals`` maps
    a title to a waveform or complex STFT. Returns the figure. Used in chapters 1, 3-6.
    Chapters: 01_noisy_speech, 03_masks, 06_losses."""
    import matplotlib.pyplot as plt

    n = len(signals)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, row_height * nrows), squeeze=False,
                             sharex=True, sharey=True, layout="constrained")
    im = None
    for ax, (name, sig) in zip(axes.flat, signals.items()):
        im = spectrogram(sig, cfg, ax=ax, title=name, vmin=vmin, vmax=vmax, colorbar=False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes.flat:
        if not ax.get_subplotspec().is_last_row():
            ax.set_xlabel("")
        if not ax.get_subplotspec().is_first_col():
            ax.set_ylabel("")
    fig.colorbar(im, ax=axes, label="level (dB)", shrink=0.9)
    return fig


def layer_shapes(model, frames: int = 10) -> list[dict]:
    """Output shape of every encoder, bottleneck and decoder layer of a CRN/GCRN-style
    model on ``frames`` frames of input, found with forward hooks (not hand-written).

    Returns rows ``{"part", "index", "layer", "channels", "freq", "params"}``; ``part`` is
    ``"encoder"``, ``"bottleneck"`` or ``"decoder k"``. Used by :func:`architecture`
    and chapter 5.
    Chapter: 05_complex_mapping.
    """
    import torch

    rows, hooks = [], []

    def hook(part, index, module):
        def fn(_mod, _inp, out):
            out = out[0] if isinstance(out, tuple) else out
            shape = tuple(out.shape)
            name = type(module).__name__
            conv = getattr(module, "conv", None)
            if conv is not None:  # a conv block: say what it is
                kind = "deconv" if "Transpose" in type(conv).__name__ else "conv"
                name = ("gated " if getattr(module, "gated", False) else "") + kind
            rows.append({"part": part, "index": index, "layer": name,
                         "channels": shape[1] if len(shape) == 4 else 1,
                         "freq": shape[-1] if len(shape) == 4 else shape[-1],
                         "params": sum(p.numel() for p in module.parameters())})
        return fn

    parts = [("encoder", list(model.encoder))]
    decoders = getattr(model, "decoders", None)
    decoders = list(decoders) if decoders is not None else [model.decoder]
    for k, dec in enumerate(decoders):
        parts.append((f"decoder {k + 1}" if len(decoders) > 1 else "decoder", list(dec)))
    for part, layers in parts:
        for i, layer in enumerate(layers):
            hooks.append(layer.register_forward_hook(hook(part, i, layer)))
    hooks.append(model.lstm.register_forward_hook(hook("bottleneck", 0, model.lstm)))
    try:
        cfg = model.stft_config
        x = torch.zeros(1, cfg.n_freqs, frames, dtype=torch.complex64)
        x.real.normal_()
        with torch.no_grad(), eval_mode(model):
            model(x)
    finally:
        for h in hooks:
            h.remove()
    order = {"encoder": 0, "bottleneck": 1}
    return sorted(rows, key=lambda r: (order.get(r["part"], 2), r["part"], r["index"]))


def architecture(model, ax=None, title: str | None = None):
    """Draw a CRN/GCRN-style encoder-bottleneck-decoder as boxes labelled with each
    layer's output (channels x frequency bins), skip connections as arcs; every
    shape comes from :func:`layer_shapes`. Two decoders (GCRN) are drawn as two rows.
    Used in chapter 5.
    Chapter: 05_complex_mapping."""
    import matplotlib.patches as mpatches

    rows = layer_shapes(model)
    enc = [r for r in rows if r["part"] == "encoder"]
    bott = [r for r in rows if r["part"] == "bottleneck"]
    decs = {}
    for r in rows:
        if r["part"].startswith("decoder"):
            decs.setdefault(r["part"], []).append(r)
    n_cols = len(enc) + 1 + max(len(d) for d in decs.values())
    ax = _ax(ax, figsize=(min(1.25 * n_cols + 1, 14), 1.4 + 1.3 * len(decs)))
    w, h = 0.9, 0.8

    def box(x, y, text, color):
        ax.add_patch(mpatches.FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                             fc=color, ec="0.3", lw=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=7)

    top = len(decs)
    for i, r in enumerate(enc):
        box(i, top, f"enc {i + 1}\n{r['layer']}\n{r['channels']}x{r['freq']}", "#cfe3f7")
    xb = len(enc)
    label = bott[0]["layer"] if bott else "LSTM"
    size = bott[0]["freq"] if bott else ""
    box(xb, top - (len(decs) - 1) / 2, f"bottleneck\n{label}\n{size} units", "#f7e3c4")
    for k, (part, layers) in enumerate(sorted(decs.items())):
        y = len(decs) - 1 - k if len(decs) > 1 else top
        for j, r in enumerate(layers):
            x = xb + 1 + j
            box(x, y, f"{part.replace('decoder', 'dec')}.{j + 1}\n{r['layer']}\n{r['channels']}x{r['freq']}",
                "#d8f0d2")
            src = len(enc) - 1 - j  # skip from the mirrored encoder layer
            if 0 <= src < len(enc):
                ax.annotate("", xy=(x, y + h / 2), xytext=(src, top + h / 2),
                            arrowprops=dict(arrowstyle="->", color="0.55", lw=0.6,
                                            connectionstyle="arc3,rad=-0.25"))
    ax.set_xlim(-0.7, n_cols - 0.3)
    ax.set_ylim(-0.8, top + 1.5)
    ax.axis("off")
    ax.set_title(title or f"{getattr(model, 'name', type(model).__name__)}: output channels x frequency bins "
                 "per layer; arcs are skip connections", fontsize=9)
    return ax


VALID_LABELS = {"valid_pesq": "PESQ-WB", "valid_si_sdr": "SI-SDR (dB)", "valid_si_sdri": "SI-SDR improvement (dB)",
                "valid_loss": "validation loss"}


def validation_curves(logs: dict, metrics=("valid_pesq", "valid_si_sdr"), x: str = "step", axes=None,
                      noisy: bool = True, marks: dict | None = None, items: str | None = None):
    """Validation metrics against training progress, one line per run (learning curves).

    ``logs``: ``label -> records`` (the ``log.jsonl`` records of :func:`sedemo.train.read_log`)
    or ``label -> list of records`` (several seeds: thin lines, their mean thick). ``metrics``:
    keys of the ``"valid"`` records (``valid_pesq``, ``valid_si_sdr``, ...); ``x``: ``"step"``
    or ``"seconds"`` (plotted in hours of wall-clock training). ``noisy``: draw the noisy
    input's value (``<metric>_noisy``) as a dashed reference line. ``marks``: ``label ->
    x value`` drawn as dotted vertical lines (e.g. where a learning-rate decay starts).
    ``items``: what the metrics were measured on (e.g. ``"32 items of the corpus's validation
    split"``): each axis is then titled ``validation <metric> (<items>)``. Returns the axes. Chapters: 05_complex_mapping, 06_losses.
    """
    import matplotlib.pyplot as plt

    metrics = list(metrics)
    if x not in ("step", "seconds"):
        raise ValueError(f"x must be 'step' or 'seconds', got {x!r}")
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.2), layout="constrained", squeeze=False)
        axes = axes[0]
    scale = 3600.0 if x == "seconds" else 1.0
    # label -> list of runs (one run: a list of records; several seeds: a list of such lists)
    logs = {label: [runs] if runs and isinstance(runs[0], dict) else list(runs) for label, runs in logs.items()}
    for k, (label, runs) in enumerate(logs.items()):
        colour = f"C{k}"
        for ax, metric in zip(axes, metrics):
            curves = []
            for recs in runs:
                valid = [r for r in recs if r.get("kind") == "valid" and r.get(metric) is not None]
                if not valid:
                    raise ValueError(f"{label}: no validation records with {metric!r}")
                xs = np.array([r[x] for r in valid], dtype=float) / scale
                ys = np.array([r[metric] for r in valid], dtype=float)
                curves.append((xs, ys))
                if len(runs) > 1:
                    ax.plot(xs, ys, color=colour, lw=0.7, alpha=0.5)
            if len(runs) == 1:
                ax.plot(*curves[0], "o-", color=colour, ms=3, label=label)
            else:
                n = min(len(c[1]) for c in curves)
                ax.plot(curves[0][0][:n], np.mean([c[1][:n] for c in curves], axis=0), "-", color=colour, lw=2,
                        label=f"{label} (mean of {len(runs)})")
    for ax, metric in zip(axes, metrics):
        if noisy:
            ref = [r.get(metric + "_noisy") for runs in logs.values() for r in runs[0] if r.get("kind") == "valid"]
            ref = [v for v in ref if v is not None]
            if ref:
                ax.axhline(ref[-1], color="0.4", ls="--", lw=1, label="noisy input")
        for text, pos in (marks or {}).items():
            ax.axvline(pos / scale, color="0.3", ls=":", lw=1)
            ax.annotate(f" {text}", (pos / scale, 0.02), xycoords=("data", "axes fraction"), fontsize=8, color="0.3")
        ax.set(xlabel="training step" if x == "step" else "wall-clock training time (h)",
               ylabel=VALID_LABELS.get(metric, metric))
        if items is not None:
            ax.set_title(f"validation {VALID_LABELS.get(metric, metric).removesuffix(' (dB)')} ({items})")
        ax.legend(fontsize=8)
    return axes


def distortion_residual(points, path=(), ax=None, title: str | None = None):
    """What systems do to speech and to noise: the speech-distortion index (x, dB) against
    the noise left (y, dB), one labelled point per system, both lower-is-better, so the
    best place is the lower left (:func:`sedemo.evaluation.speech_noise.distortion_and_residual`).

    ``points``: a ``pandas.DataFrame`` indexed by system label with columns
    ``distortion_db`` and ``residual_db``. ``path``: labels joined by a line in that order
    (e.g. one model with its suppression turned up step by step). Returns the axes.
    Chapter: 05_complex_mapping."""
    path = [path] if isinstance(path, str) else list(path)
    missing = [c for c in ("distortion_db", "residual_db") if c not in getattr(points, "columns", ())]
    if missing:
        raise ValueError(f"points needs the columns distortion_db and residual_db (missing: {', '.join(missing)})")
    unknown = [p for p in path if p not in points.index]
    if unknown:
        raise ValueError(f"path names {', '.join(map(repr, unknown))}, not in points; choose from "
                         f"{', '.join(map(str, points.index))}")
    ax = _ax(ax, figsize=(5, 4))
    if len(path) > 1:
        line = points.loc[list(path)]
        ax.plot(line["distortion_db"], line["residual_db"], "-", color="0.6", lw=1, zorder=1)
    for k, (label, row) in enumerate(points.iterrows()):
        on_path = label in path
        ax.plot(row["distortion_db"], row["residual_db"], "o" if not on_path else "s", color=f"C{k}", ms=6, zorder=2)
        ax.annotate(f" {label}", (row["distortion_db"], row["residual_db"]), fontsize=7, color=f"C{k}")
    ax.set(xlabel="speech distortion (dB; lower keeps more speech)", ylabel="noise left (dB; lower removes more)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
