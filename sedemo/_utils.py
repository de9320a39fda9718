"""Small internal helpers shared by every module: array conversion and input checks.

Every public function of :mod:`sedemo` accepts NumPy arrays and torch tensors.
``as_tensor`` turns either into a tensor and ``like`` turns a result back into the
caller's type, so that NumPy in gives NumPy out.
"""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch

ArrayLike = Any  # numpy.ndarray | torch.Tensor | list of numbers


def as_tensor(x: ArrayLike, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return ``x`` as a torch tensor (no copy when it already is one of ``dtype``)."""
    if isinstance(x, torch.Tensor):
        return x if dtype is None else x.to(dtype)
    arr = np.asarray(x)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(arr))
    return t if dtype is None else t.to(dtype)


def like(result: torch.Tensor, reference: ArrayLike):
    """Convert ``result`` back to NumPy when ``reference`` was not a torch tensor."""
    if isinstance(reference, torch.Tensor):
        return result
    return result.detach().cpu().numpy()


def to_numpy(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as a NumPy array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` when ``x`` holds NaN or infinity."""
    if not torch.isfinite(x).all():
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite values; clean the signal "
            "(e.g. numpy.nan_to_num) or check how it was produced before calling this."
        )


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the ``with`` block on ``n`` intra-op torch threads and restore the previous
    count afterwards (also on error); ``None`` or 0 leaves torch's setting alone."""
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def eval_mode(model):
    """Put ``model`` in ``eval()`` mode for the ``with`` block and restore its training
    flag afterwards (only switched when needed: ``eval()`` walks every submodule)."""
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train(True)
