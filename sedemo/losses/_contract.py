"""The input contract shared by every loss: keyword inputs, shapes, reductions, ``eps``.
Chapter: 06_losses.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import torch

from sedemo._utils import ArrayLike, as_tensor



REDUCTIONS = ("mean", "sum", "none")


class LossShapeError(TypeError, ValueError):
    """Inputs of a loss with the wrong number of axes or mismatched shapes.

    A subclass of both ``TypeError`` (the convention of Asteroid's losses) and
    ``ValueError`` (the convention of :mod:`sedemo.metrics`), so either ``except``
    catches it. The message names the loss and the shapes it got.
    """


# ----------------------------------------------------------------------------
# Input checks and reduction (the single place where every loss checks its input)
# ----------------------------------------------------------------------------
def _tensor(x: ArrayLike, key: str, fn: str) -> torch.Tensor:
    if x is None:
        raise TypeError(f"{fn}(): {key}= is missing (got None)")
    try:
        t = as_tensor(x)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{fn}(): {key}= must be a torch tensor or a NumPy array, got {type(x).__name__} ({err})"
        ) from None
    if not (t.is_floating_point() or t.is_complex()):
        t = t.to(torch.get_default_dtype())
    return t


def _shape_hint(shapes: dict[str, tuple], ndim: int, axes: str) -> str:
    dims = {len(s) for s in shapes.values()}
    if any(d == ndim - 1 for d in dims):
        return " For a single item add a batch axis: x.unsqueeze(0) (NumPy: x[None])."
    if ndim == 2 and any(len(s) == 3 and s[1] == 1 for s in shapes.values()):
        return " For (batch, 1, time) signals squeeze the channel axis: x.squeeze(1)."
    if dims == {ndim}:
        return f" The shapes must be equal: align and trim the signals (or check the {axes} axes)."
    return ""


def _same_shape(fn: str, ndim: int, axes: str, tensors: dict[str, torch.Tensor]) -> None:
    shapes = {k: tuple(t.shape) for k, t in tensors.items()}
    if any(len(s) != ndim for s in shapes.values()) or len(set(shapes.values())) > 1:
        listed = " and ".join(f"{k} {s}" for k, s in shapes.items())
        raise LossShapeError(
            f"{fn}(): {', '.join(shapes)} must have the same shape ({axes}); got {listed}."
            + _shape_hint(shapes, ndim, axes)
        )
    if any(n == 0 for n in next(iter(shapes.values()))):
        raise LossShapeError(f"{fn}(): the inputs are empty, shape {next(iter(shapes.values()))}.")


def _common_dtype(*ts: torch.Tensor) -> list[torch.Tensor]:
    """One precision for all; real inputs stay real (a real mask with complex spectra)."""
    dtype = functools.reduce(torch.promote_types, [t.dtype for t in ts])
    real = dtype.to_real() if dtype.is_complex else dtype
    return [t.to(dtype if t.is_complex() else real) for t in ts]


def _waveforms(fn: str, estimate: ArrayLike, reference: ArrayLike):
    """Check and convert a waveform pair: real, same shape ``(batch, time)``."""
    e, r = _tensor(estimate, "estimate", fn), _tensor(reference, "reference", fn)
    for key, t in (("estimate", e), ("reference", r)):
        if t.is_complex():
            raise TypeError(
                f"{fn}(): {key}= is complex ({t.dtype}); waveform losses take real (batch, time) "
                "signals. For STFTs use the *_from_spectra variants, or invert with sedemo.dsp.stft.istft."
            )
    _same_shape(fn, 2, "batch, time", {"estimate": e, "reference": r})
    return _common_dtype(e, r)


def _spectra(fn: str, complex_keys: Iterable[str] = (), **arrays: ArrayLike) -> list[torch.Tensor]:
    """Check and convert spectra / masks: same shape ``(batch, F, T)``; the keys in
    ``complex_keys`` must be complex because the phase enters the formula."""
    tensors = {k: _tensor(v, k, fn) for k, v in arrays.items()}
    for k in complex_keys:
        if not tensors[k].is_complex():
            raise TypeError(
                f"{fn}(): {k}= must be a complex STFT (batch, F, T) because the phase enters the "
                f"formula; got a real {tensors[k].dtype} array. Use sedemo.dsp.stft.stft(x), not its magnitude."
            )
    _same_shape(fn, 3, "batch, F, T", tensors)
    return _common_dtype(*tensors.values())


def _reduce(per_item: torch.Tensor, reduction: str, fn: str) -> torch.Tensor:
    if reduction == "mean":
        return per_item.mean()
    if reduction == "sum":
        return per_item.sum()
    if reduction == "none":
        return per_item
    raise ValueError(f"{fn}(): reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_eps(fn: str, **values: float) -> None:
    for k, v in values.items():
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{fn}(): {k} must be a finite number >= 0, got {v!r}")


def _item_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over every axis but the first (batch)."""
    return x.flatten(1).mean(1)


def _energy(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum(-1)


def _cplx_sq(x: torch.Tensor) -> torch.Tensor:
    """|x|² for complex x (without a square root), x² for real x."""
    return x.real.square() + x.imag.square() if x.is_complex() else x.square()


