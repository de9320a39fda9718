"""sedemo: the companion package of *Speech enhancement, hands on*.

Organised by concept, not by chapter (each module's docstring names the chapter
that explains it):

* :mod:`sedemo.dsp`: signals: :mod:`~sedemo.dsp.audio` (load, save, resample,
  speech level, mixing at an SNR), :mod:`~sedemo.dsp.stft`,
  :mod:`~sedemo.dsp.features` (compression, filterbanks, splicing),
  :mod:`~sedemo.dsp.phase`
* :mod:`sedemo.data`: the corpus of clean/noisy pairs (real speech and noise)
* :mod:`sedemo.metrics`: SNR, SI-SDR, PESQ, STOI and friends, with one table of
  names, units and directions (:data:`sedemo.metrics.METRICS`)
* :mod:`sedemo.masks`: ideal masks (IBM, IRM, IAM, PSM, cIRM)
* :mod:`sedemo.losses`: training losses and their registry
* :mod:`sedemo.layers`: causal layers with a streaming step
* :mod:`sedemo.models`: the models, their configs, registry and checkpoints
* :mod:`sedemo.streaming`: waveform-in, waveform-out streaming, the fast frame
  path, real-time factors
* :mod:`sedemo.causality`: the causality checker
* :mod:`sedemo.train`: the resumable training loop and its command line
* :mod:`sedemo.evaluation`: scoring systems on the corpus, classical baselines,
  the trained experiments and their verdicts, analytic measurements
* :mod:`sedemo.display`: plots and listening widgets

Subpackages are imported lazily (``import sedemo; sedemo.metrics.si_sdr``).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "dsp", "data", "metrics", "masks", "losses", "layers", "models", "streaming", "causality",
    "train", "evaluation", "display",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'sedemo' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
