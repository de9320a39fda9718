"""sedemo: the companion package of *An interactive guidebook of speech enhancement*.

Organised by concept, not by chapter:

* :mod:`sedemo.audio` loading, saving, resampling, speech level, mixing at an SNR
* :mod:`sedemo.data` the corpus of clean/noisy pairs (real speech and noise)
* :mod:`sedemo.stft`, :mod:`sedemo.features` time-frequency representations
* :mod:`sedemo.metrics` SNR, SI-SDR, PESQ, STOI and friends
* :mod:`sedemo.masks`, :mod:`sedemo.losses`, :mod:`sedemo.models`,
  :mod:`sedemo.causality`, :mod:`sedemo.plots`, :mod:`sedemo.widgets`

Submodules are imported lazily (``import sedemo; sedemo.metrics.si_sdr``).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "audio", "data", "stft", "features", "metrics", "masks", "losses", "models",
    "causality", "streaming", "nn", "train", "evaluate", "plots", "widgets", "baselines", "phase",
    "analysis",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'sedemo' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
