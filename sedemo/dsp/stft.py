"""Short-time Fourier transform and its exact inverse by weighted overlap-add.

Chapter 2 explains every choice made here;
every model, mask and loss of the book uses these two functions.

Conventions (one definition, used everywhere):

* frame ``t`` covers samples ``[t*hop - (n_fft - hop), t*hop + hop)`` of the input:
  the signal is padded with ``n_fft - hop`` zeros at the *start* (the past side)
  and with zeros at the end up to a whole number of hops. Frame ``t`` therefore
  ends at sample ``(t+1)*hop``: it never looks past the hop it produces, which is
  what a streaming (causal) system needs (chapter 7). ``T = ceil(L / hop)`` frames.
* analysis and synthesis use the same window ``w``; the inverse divides the
  overlap-added, windowed frames by ``sum_t w(n - t*hop)**2`` (weighted overlap-add,
  Griffin & Lim 1984), which gives perfect reconstruction for any window whose
  squared, shifted copies do not vanish. With the default square-root Hann window
  and 50 % overlap that sum is exactly 1 everywhere, so a frame-by-frame
  (streaming) inverse needs no normalisation at all.
* the spectrum is one-sided: ``F = n_fft // 2 + 1`` bins, ``X[..., f, t]``, complex64
  (complex128 for float64 input); no scaling by the window sum.

Default: 20 ms window (``n_fft=320``) and 10 ms hop (``hop=160``) at 16 kHz, as in
the CRN/GCRN papers (Tan & Wang 2018, 2020): 161 frequency bins, 100 frames/s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sedemo._gate import check_signal
from sedemo._utils import ArrayLike, as_tensor, like

WINDOWS = ("sqrt_hann", "hann", "hamming", "rect")


@dataclass(frozen=True)
class STFTConfig:
    """STFT parameters. ``n_fft`` is both the window and the FFT length (samples).

    Attributes: ``n_fft`` (samples), ``hop`` (samples), ``window`` (one of
    ``WINDOWS``), ``sample_rate`` (Hz, used only to label axes and latencies).
    Chapter: 02_time_frequency.
    """

    n_fft: int = 320
    hop: int = 160
    window: str = "sqrt_hann"
    sample_rate: int = 16000

    def __post_init__(self):
        if self.window not in WINDOWS:
            raise ValueError(f"unknown window {self.window!r}; choose one of {WINDOWS}")
        if not (0 < self.hop <= self.n_fft):
            raise ValueError(f"hop must be in 1..n_fft ({self.n_fft}), got {self.hop}")

    @property
    def n_freqs(self) -> int:
        """Number of one-sided frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def window_ms(self) -> float:
        """Window length in milliseconds: the algorithmic latency of the STFT."""
        return 1000.0 * self.n_fft / self.sample_rate

    @property
    def hop_ms(self) -> float:
        """Hop in milliseconds."""
        return 1000.0 * self.hop / self.sample_rate

    def frequencies(self):
        """Centre frequency of each bin in Hz, shape ``(F,)`` (NumPy)."""
        return (torch.arange(self.n_freqs) * self.sample_rate / self.n_fft).numpy()

    def n_frames(self, length: int) -> int:
        """Number of frames for a signal of ``length`` samples: ``ceil(length / hop)``."""
        return max(1, math.ceil(length / self.hop))


DEFAULT = STFTConfig()


def window(cfg: STFTConfig = DEFAULT, dtype=torch.float32) -> torch.Tensor:
    """The analysis/synthesis window of ``cfg``, shape ``(n_fft,)``, periodic.

    Chapter: 02_time_frequency."""
    n = cfg.n_fft
    if cfg.window == "rect":
        return torch.ones(n, dtype=dtype)
    if cfg.window == "hamming":
        return torch.hamming_window(n, periodic=True, dtype=dtype)
    w = torch.hann_window(n, periodic=True, dtype=dtype)
    return w.sqrt() if cfg.window == "sqrt_hann" else w


def _frame_padding(length: int, cfg: STFTConfig) -> tuple[int, int]:
    left = cfg.n_fft - cfg.hop
    right = cfg.n_frames(length) * cfg.hop - length
    return left, right


def stft(x: ArrayLike, cfg: STFTConfig = DEFAULT):
    """Complex STFT of a waveform.

    ``x``: ``(..., L)`` samples (NumPy or torch, float32/64; float16 is computed in
    float32), time on the last axis. Returns complex ``(..., F, T)`` with
    ``F = n_fft//2 + 1`` and ``T = ceil(L/hop)``, the same array type as ``x``. See
    the module docstring for the framing convention. The package's input gate refuses
    integer, boolean and complex samples (convert int16 with ``x / 32768``), empty and
    non-finite input, and channels-last audio: an array whose last axis has at most 8
    samples while the axis before it has more than 8 (e.g. ``(N, 2)`` stereo, mix it
    down with ``x.mean(axis=-1)``). ``(C, L)`` channels-first audio is a batch of
    ``C`` signals.
    Used in chapters 2-7.
    Chapters: 02_time_frequency, 03_masks, 04_phase, 05_complex_mapping, 06_losses, 07_causality.
    """
    xt = check_signal(x, "stft input", ndim=None)
    length = xt.shape[-1]
    left, right = _frame_padding(length, cfg)
    batch = xt.shape[:-1]
    flat = torch.nn.functional.pad(xt.reshape(-1, length), (left, right))
    spec = torch.stft(
        flat,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop,
        window=window(cfg, flat.dtype).to(flat.device),
        center=False,
        return_complex=True,
    )
    return like(spec.reshape(*batch, *spec.shape[-2:]), x)


def istft(spec: ArrayLike, cfg: STFTConfig = DEFAULT, length: int | None = None):
    """Inverse of :func:`stft` by weighted overlap-add.

    ``spec``: complex ``(..., F, T)``. Returns real ``(..., L)`` with
    ``L = length`` (default ``T * hop``), the same array type as ``spec``.
    ``istft(stft(x), length=len(x))`` equals ``x`` to float precision for every
    window in ``WINDOWS`` (tested). Used in chapters 2-7.
    Chapters: 02_time_frequency, 03_masks, 04_phase, 05_complex_mapping, 06_losses, 07_causality.
    """
    st = as_tensor(spec)
    if length is not None and (isinstance(length, bool) or int(length) != length or length < 0):
        raise ValueError(f"istft: length must be a whole number of samples >= 0 or None, got {length!r}")
    if not torch.is_complex(st):
        raise TypeError("istft expects a complex spectrum (..., F, T); got a real array")
    n_freq, n_frames = st.shape[-2:]
    if n_freq != cfg.n_freqs:
        raise ValueError(
            f"spectrum has {n_freq} frequency bins but the STFTConfig expects "
            f"{cfg.n_freqs} (n_fft={cfg.n_fft}); pass the config used for the analysis"
        )
    batch = st.shape[:-2]
    flat = st.reshape(-1, n_freq, n_frames)
    real_dtype = torch.float64 if flat.dtype == torch.complex128 else torch.float32
    w = window(cfg, real_dtype).to(flat.device)
    frames = torch.fft.irfft(flat, n=cfg.n_fft, dim=-2) * w[:, None]  # (B, n_fft, T)
    total = cfg.n_fft + (n_frames - 1) * cfg.hop
    fold = dict(output_size=(1, total), kernel_size=(1, cfg.n_fft), stride=(1, cfg.hop))
    y = torch.nn.functional.fold(frames, **fold).reshape(flat.shape[0], total)
    env = torch.nn.functional.fold(
        (w**2)[None, :, None].expand(1, cfg.n_fft, n_frames), **fold
    ).reshape(total)
    y = y / env.clamp_min(torch.finfo(env.dtype).tiny)  # only 0 is guarded: a hann window's w[n-1]**2 is ~1e-9
    left = cfg.n_fft - cfg.hop
    out_len = n_frames * cfg.hop if length is None else length
    y = y[:, left : left + out_len]
    if y.shape[-1] < out_len:
        y = torch.nn.functional.pad(y, (0, out_len - y.shape[-1]))
    return like(y.reshape(*batch, out_len), spec)
