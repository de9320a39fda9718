"""Checkpoints: save and load a model with its config (``weights_only=True``), and
the committed pretrained models. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sedemo.models.base import SEModel
from sedemo._utils import atomic_output
from sedemo.models.registry import MODELS, _unknown, build_from_config

#: Where :func:`load_pretrained` looks for ``<name>.pt`` (``sedemo/pretrained``).
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
_FORMAT = "sedemo-model"
_FORMAT_VERSION = 1



# --------------------------------------------------------------------------- save / load
def _plain(obj, where="extra"):
    """Convert ``obj`` to plain Python/tensor data (weights-only-loadable) or raise TypeError."""
    if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return type(obj)(obj) if obj is not None else None
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(asdict(obj), where)
    raise TypeError(f"{where}: cannot store a {type(obj).__name__} in a checkpoint; use plain "
                    "numbers, strings, lists, dicts and tensors")


def model_payload(model: nn.Module, extra: dict | None = None) -> dict:
    """The plain dict :func:`save` writes: format, name, config, state dict, extra.

    Chapter: 05_complex_mapping."""
    if not isinstance(model, SEModel) or model.name not in MODELS:
        raise TypeError("save() takes a model built by sedemo.models.build_model")
    import sedemo

    return {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "sedemo_version": sedemo.__version__,
        "name": model.name,
        "config": _plain(asdict(model.config)),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": _plain(extra or {}),
    }


def save(model: nn.Module, path, extra: dict | None = None) -> Path:
    """Write ``model`` (name, config, weights) and ``extra`` metadata to ``path``.

    ``extra``: plain data (numbers, strings, lists, dicts, tensors), e.g. the
    training command and the validation metrics. The file holds only plain
    dicts and tensors, so ``torch.load(path, weights_only=True)`` reads it.
    Returns the path. See :func:`load`.
    Chapter: 05_complex_mapping.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # all or nothing: a crash leaves the previous file whole
        torch.save(model_payload(model, extra), tmp)
    return path


def _config_from_dict(config_cls, d: dict):
    hints = typing.get_type_hints(config_cls)
    kw = {}
    for f in fields(config_cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if isinstance(v, list) and "tuple" in str(hints.get(f.name, "")):
            v = tuple(v)
        kw[f.name] = v
    return config_cls(**kw)


def model_from_payload(payload: dict) -> nn.Module:
    """Rebuild the model of a :func:`model_payload` dict (weights loaded, ``eval()`` mode).

    Chapter: 05_complex_mapping."""
    if payload.get("format") != _FORMAT:
        raise ValueError("not a sedemo model checkpoint (missing format marker)")
    name = payload["name"]
    if name not in MODELS:
        raise _unknown(name)
    config = _config_from_dict(MODELS[name].config_cls, payload["config"])
    model = build_from_config(name, config)
    model.load_state_dict(payload["state_dict"])
    model.extra = payload.get("extra", {})
    return model.eval()


def load(path, map_location="cpu") -> nn.Module:
    """Load a model written by :func:`save` (or a training checkpoint of :mod:`sedemo.train`).

    Returns the model in ``eval()`` mode with the saved metadata as ``model.extra``.
    Uses ``torch.load(weights_only=True)``: no code is executed from the file.
    Chapter: 05_complex_mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}; give the path of a .pt file written by "
                                "sedemo.models.save or python -m sedemo.train")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a file that is not a checkpoint
        raise ValueError(f"{path} is not a readable torch checkpoint ({type(err).__name__}); give a .pt file "
                         "written by sedemo.models.save or python -m sedemo.train") from None
    if isinstance(payload, dict) and "model" in payload and payload.get("format") != _FORMAT:
        payload = payload["model"]  # a training checkpoint
    if not isinstance(payload, dict):
        raise ValueError(f"{path} holds a {type(payload).__name__}, not a sedemo model checkpoint; give a .pt "
                         "file written by sedemo.models.save or python -m sedemo.train")
    return model_from_payload(payload)


def pretrained_path(name: str) -> Path:
    """``sedemo/pretrained/<name>.pt``: for a model family of ``MODELS`` whether or not the
    file exists; otherwise the name of a shipped checkpoint (e.g. ``ulcrn_stoi``, a
    fine-tuned ``ulcrn``), else ``ValueError`` listing both kinds of name.

    Chapter: 05_complex_mapping."""
    if name in MODELS:
        return PRETRAINED_DIR / f"{name}.pt"
    shipped = sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt") if p.stem not in MODELS)
    if isinstance(name, str) and name in shipped:
        return PRETRAINED_DIR / f"{name}.pt"
    raise ValueError(f"{_unknown(name)}" + (f"; or a shipped checkpoint: {', '.join(shipped)}" if shipped else ""))


def load_pretrained(name: str) -> nn.Module:
    """The trained model ``name`` from ``sedemo/pretrained/<name>.pt`` (``eval()`` mode).

    Raises ``FileNotFoundError`` with the command that creates the file when it is
    missing. ``model.extra`` holds the training command and validation metrics.
    Chapter: 05_complex_mapping.
    """
    path = pretrained_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"no pretrained {name!r} model at {path}. Create it with the book's exact "
            f"command: `bash scripts/train_models.sh {name}` (it runs `python -m sedemo.train "
            f"--model {name} ... --export {path}` and then `python -m sedemo.evaluation`), or "
            "train a short demo model in a notebook with sedemo.train.train(TrainConfig(...))."
        )
    return load(path)
