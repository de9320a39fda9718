"""Plotting helpers with labelled axes and units, used by every chapter.

Figures follow one convention: time in seconds on x, frequency in kHz on y,
STFT levels in dB (10*log10|X|^2 of the unscaled STFT) with a labelled colour bar.
"""
from __future__ import annotations

import numpy as np

from . import stft as _stft
from ._utils import to_numpy


def _ax(ax, figsize=(8, 3)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def db(x, floor_db: float = -120.0):
    """``10*log10(|x|**2)`` of a complex or real array, floored at ``floor_db`` (dB)."""
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
    """Plot a waveform against time in seconds (amplitude in full-scale units)."""
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
    a title to a waveform or complex STFT. Returns the figure. Used in chapters 1, 3-6."""
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
