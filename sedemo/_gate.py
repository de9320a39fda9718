"""The input gate: the one check of waveforms that every public function of sedemo runs
(:func:`sedemo.dsp.audio.validate`, the metrics, the STFT, :func:`sedemo.models.enhance`
and the streaming enhancer), so that a wrong input fails the same way everywhere, early,
with one line that names the argument and says what to do.

Rules (:func:`check_signal`):

* **type**: a NumPy array, a torch tensor or a (nested) list of numbers; anything else
  raises :class:`InputTypeError`.
* **dtype**: floating point only. float32 and float64 are kept, float16/bfloat16 become
  float32. Integer arrays (int16 PCM, ...) are refused, never rescaled silently: the
  message gives the conversion (``x.astype(np.float32) / 32768`` for int16). Booleans
  and complex numbers are refused too. These raise :class:`InputTypeError`, which is a
  ``TypeError`` *and* a ``ValueError`` (catch either).
* **shape**: time is the last axis. A 1-D-only function takes ``(L,)``; any 2-D array is
  refused and the message says what it looks like: ``(C, L)`` with ``C <= 8`` channels
  first (mix down with ``x.mean(axis=0)``), ``(L, C)`` channels last (``x.mean(axis=1)``),
  ``(1, L)``/``(L, 1)`` one channel (``x.reshape(-1)``), else a batch (loop over it).
  A function that takes a batch ``(B, L)`` (or ``(..., L)``) keeps taking it, with one
  rule against channels-last audio: an array whose **last axis has at most 8 entries
  while the axis before it has more than 8** is refused as ``(L, C)`` samples-by-channels
  (mix down with ``x.mean(axis=-1)``). ``(C, L)`` channels-first audio cannot be told
  from a batch of ``C`` signals and is processed as such, channel by channel.
* **length**: at least one sample (``allow_empty=True`` for streaming chunks); the
  metrics add their own minimum (one analysis frame, 0.25 s for PESQ, ...).
* **values**: finite (no NaN, no infinity); :func:`finite_as` also checks that the values
  survive the conversion to a model's dtype (float64 ``1e200`` overflows float32).

Errors are ``ValueError`` (:class:`InputTypeError` for a wrong dtype or type).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from sedemo._utils import ArrayLike

MAX_CHANNELS = 8
"""More entries than this on an axis and it is not a channel axis."""

_FULL_SCALE = {"int8": "128", "int16": "32768", "int32": "2147483648",
               "int64": "its full-scale value", "uint8": "128 after subtracting 128"}


class InputTypeError(TypeError, ValueError):
    """A waveform of the wrong type or dtype (integer, boolean, complex, not numbers).

    Both a ``TypeError`` and a ``ValueError``, so that code catching either sees it.
    Chapter: 01_noisy_speech."""


def dtype_name(x: ArrayLike) -> str:
    """The dtype of ``x`` as NumPy spells it (``"int16"``), or its Python type name.
    Chapter: 01_noisy_speech."""
    return str(x.dtype).replace("torch.", "") if hasattr(x, "dtype") else type(x).__name__


def is_integer(x: ArrayLike) -> bool:
    """True when ``x`` holds integers or booleans (NumPy or torch).
    Chapter: 01_noisy_speech."""
    if isinstance(x, torch.Tensor):
        return not (torch.is_floating_point(x) or torch.is_complex(x))
    return np.asarray(x).dtype.kind in "iub"


def integer_error(x: ArrayLike, name: str) -> InputTypeError:
    """The one error for integer or boolean samples: how to convert them to floats.
    Chapter: 01_noisy_speech."""
    dt = dtype_name(x)
    if dt == "bool":
        return InputTypeError(
            f"{name} holds booleans (bool), not samples; this expects floating point samples "
            "in [-1, 1]: convert with x.astype(np.float32) (NumPy) or x.float() (torch) "
            "if the values really are samples.")
    scale = _FULL_SCALE.get(dt, "its full-scale value")
    return InputTypeError(
        f"{name} holds integer samples ({dt}); this expects floating point samples in "
        f"[-1, 1]. Convert first, e.g. x.astype(np.float32) / {scale} for NumPy or "
        f"x.float() / {scale} for torch (sedemo.dsp.audio.load already returns floats).")


def _tensor(x: ArrayLike, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (str, bytes, dict, set)) or x is None:
        arr = None
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError):  # ragged lists
            arr = None
    if arr is None or arr.dtype.kind not in "biufc":
        raise InputTypeError(
            f"{name} must be a NumPy array or a torch tensor of real samples, got "
            f"{type(x).__name__}{'' if arr is None else f' of dtype {arr.dtype}'}; "
            "load audio with sedemo.dsp.audio.load.")
    if arr.dtype.kind in "biu":
        raise integer_error(arr, name)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr) if arr.ndim else arr)  # (ascontiguousarray makes 0-d 1-d)


def _shape_hint(shape: tuple, batch: bool) -> str:
    """What a 2-D ``shape`` looks like and how to make it mono."""
    a, b = shape[-2], shape[-1]
    if 1 in (a, b) and not batch:
        return "it has a single channel: flatten it with x.reshape(-1)"
    if b <= MAX_CHANNELS < a:
        axis = -1 if batch else 1
        return (f"it looks like channels last, (L, C) = {(a, b)}: mix down to mono with "
                f"x.mean(axis={axis}) (or load it with sedemo.dsp.audio.load(path, mono=True))")
    if a <= MAX_CHANNELS < b:
        return (f"it looks like channels first, (C, L) = {(a, b)}: mix down to mono with "
                "x.mean(axis=0) (or load it with sedemo.dsp.audio.load(path, mono=True)); "
                "for a batch, call once per signal")
    return "for a batch of signals call once per signal; for multichannel audio mix down to mono first"


def check_signal(x: ArrayLike, name: str = "signal", *, ndim=(1,), allow_empty: bool = False,
                 batch: int | None = None) -> torch.Tensor:
    """The input gate (module docstring): check a waveform and return it as a float tensor.

    ``ndim``: the numbers of axes accepted, ``(1,)`` for a mono signal ``(L,)``,
    ``(1, 2)`` for ``(L,)`` or a batch ``(B, L)``, ``None`` for any ``(..., L)``; with
    more than one axis the channels-last rule applies. ``batch``: the number of signals
    when the caller knows it (a streaming enhancer): a 2-D input must then be
    ``(batch, n)``, and no channels-last guess is made. ``allow_empty``: accept ``L = 0``.
    ``name`` starts every message (e.g. ``"snr: estimate"``). The result shares memory
    with ``x`` where possible and keeps autograd (float32/float64 kept, float16 and
    bfloat16 become float32). Raises :class:`InputTypeError` or ``ValueError``.
    Chapter: 01_noisy_speech.
    """
    t = _tensor(x, name)
    if torch.is_complex(t):
        raise InputTypeError(
            f"{name} is complex ({dtype_name(t)}); this expects a real waveform: go back from "
            "a spectrum with sedemo.dsp.stft.istft first.")
    if not torch.is_floating_point(t):
        raise integer_error(t, name)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    shape = tuple(t.shape)
    if t.ndim == 0:
        raise ValueError(f"{name} is a single number; this expects a waveform of shape (L,).")
    if ndim is not None and t.ndim not in ndim:
        want = " or ".join(("(L,)", "(B, L)", "(B, C, L)")[n - 1] for n in ndim)
        if t.ndim == 2:
            raise ValueError(f"{name} has shape {shape}; this expects a mono 1-D signal (L,): "
                             f"{_shape_hint(shape, False)}.")
        raise ValueError(f"{name} has shape {shape}; this expects {want}: pass one mono signal "
                         "(or one batch of them) at a time.")
    if batch is not None and t.ndim == 2 and shape[0] != batch:
        hint = ("transpose it with x.T" if shape[1] == batch else
                _shape_hint(shape, True) if shape[1] <= MAX_CHANNELS < shape[0] else
                f"it holds {shape[0]} signals")
        raise ValueError(f"{name} has shape {shape}; this streams {batch} signal(s): pass (n,) "
                         f"or ({batch}, n) samples; {hint}.")
    if batch is None and t.ndim >= 2 and shape[-1] <= MAX_CHANNELS < shape[-2]:
        raise ValueError(f"{name} has shape {shape}: time is the last axis, which holds only "
                         f"{shape[-1]} samples; {_shape_hint(shape, True)}.")
    if t.numel() == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (0 samples); pass at least one sample.")
    check_values(t, name)
    return t


def check_values(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` when ``t`` holds NaN or infinity.
    Chapter: 01_noisy_speech."""
    bad = ~torch.isfinite(t.detach())
    if bad.any():
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite values; check how "
            "it was produced (e.g. a division by zero) or clean it with numpy.nan_to_num.")


def finite_as(t: torch.Tensor, dtype: torch.dtype, name: str, **to) -> torch.Tensor:
    """``t.to(dtype, **to)``, refusing values that the conversion turns into infinity
    (e.g. float64 ``1e200`` to a float32 model): say how to scale the signal instead.
    Chapter: 05_complex_mapping."""
    out = t.to(dtype=dtype, **to)
    if out.dtype != t.dtype and out.is_floating_point() and not torch.isfinite(out.detach()).all():
        peak = float(t.detach().abs().max())
        raise ValueError(
            f"{name} holds values up to {peak:.3g}, beyond the range of {dtype_name(out)} "
            "(the model's dtype); waveforms are in [-1, 1]: scale it first, e.g. x / abs(x).max().")
    return out


# ------------------------------------------------------------- levels (for the metrics)
_LEVEL_RANGE = (2.0**-20, 2.0**20)  # peaks passed on untouched (about +-120 dB FS)


def _exponent(x: np.ndarray) -> int | None:
    """``e`` with ``max|x|`` in ``[2**(e-1), 2**e)``; None when ``x`` is all zero or
    its peak lies in the ordinary range ``[2**-20, 2**20]`` (about +-120 dB FS)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return None if peak == 0.0 or _LEVEL_RANGE[0] <= peak <= _LEVEL_RANGE[1] else math.frexp(peak)[1]


def robust_rms(x: np.ndarray) -> float:
    """RMS of ``x`` without overflow or underflow of the squares (a peak outside
    [2**-20, 2**20] is first scaled by a power of two).
    Chapter: 01_noisy_speech."""
    e = _exponent(x) or 0
    return math.ldexp(float(np.sqrt(np.mean(np.ldexp(x, -e) ** 2))), e)


def rescale_pair(est: np.ndarray, ref: np.ndarray, mode: str | None, metric: str):
    """Bring a peak outside [2**-20, 2**20] to [0.5, 1) by an exact power of two, so that
    squares neither overflow (1e200) nor underflow. ``"common"``: one factor for both
    signals (every energy ratio is unchanged, bit for bit), refused when the two levels
    differ by more than 2**480; ``"each"``: one per signal, for the metrics that ignore
    each signal's level (SI-SDR, CD, STOI, PESQ); None: unchanged. ``metric`` starts the
    error message. Returns the two arrays.
    Chapter: 01_noisy_speech."""
    if mode == "common":
        pe, pr = (float(np.max(np.abs(x))) for x in (est, ref))
        if pe > 0 and abs(math.frexp(pe)[1] - math.frexp(pr)[1]) > 480:
            raise ValueError(
                f"{metric}: the estimate peaks at {pe:.3g} and the reference at {pr:.3g}, more than "
                "1e144 apart; this metric depends on the level and would be beyond +-2890 dB: scale "
                "the estimate like the reference (si_sdr ignores the level)."
            )
        e = _exponent(np.stack([est, ref]))
        return (est, ref) if e is None else (np.ldexp(est, -e), np.ldexp(ref, -e))
    if mode == "each":
        return tuple(x if (e := _exponent(x)) is None else np.ldexp(x, -e) for x in (est, ref))
    return est, ref
