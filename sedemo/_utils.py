"""Small internal helpers shared by every module: array conversion and input checks.

Every public function of :mod:`sedemo` accepts NumPy arrays and torch tensors.
``as_tensor`` turns either into a tensor and ``like`` turns a result back into the
caller's type, so that NumPy in gives NumPy out.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
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


@contextlib.contextmanager
def atomic_output(path):
    """Write the file ``path`` all at once or not at all.

    Yields a temporary path in the same folder (a hidden name ending in
    ``.sedemo-tmp``) for the ``with`` block to write; when the block succeeds the
    file is flushed to disk and renamed onto ``path`` (``os.replace``: readers see
    the old file or the new one, never a part of it). On any error or interruption
    the temporary file is removed and ``path`` is left exactly as it was. A symbolic
    link at ``path`` is written through (its target is replaced, with its permission
    bits); the parent folder must exist. Refuses (``IsADirectoryError``,
    ``PermissionError``) a folder or a read-only file at ``path`` before anything is
    written.
    Chapter: 00_preface.
    """
    path = Path(os.path.realpath(path))
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file; give a file name", str(path))
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, "is read-only; make it writable or choose another name", str(path))
    while True:
        tmp = path.with_name(f".{path.name[:200]}.{secrets.token_hex(4)}.sedemo-tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as err:  # name the file asked for, not the temporary one
            raise type(err)(err.errno, err.strerror, str(path)) from err
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (best effort)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_report(path, result: dict) -> None:
    """Write ``result`` as indented JSON to ``path`` (its folder made when missing) with
    :func:`atomic_output`, and print where: the last step of the report scripts
    (``scripts/low_band_report.py``, ``scripts/impulsiveness_report.py``).
    Chapter: 05_complex_mapping."""
    import json

    path = Path(path)
    with removing_new_folders(path):  # a failed write leaves no new empty folder behind
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


@contextlib.contextmanager
def removing_new_folders(path):
    """For the ``with`` block that writes ``path``: on any error, remove again the parent
    folders of ``path`` that did not exist before (those still empty), so that a failed
    command leaves no trace."""
    new = [p for p in Path(path).parents if not p.exists()]
    try:
        yield
    except BaseException:
        for folder in new:  # innermost first
            try:
                folder.rmdir()
            except OSError:
                break
        raise
