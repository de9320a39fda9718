"""A stream that does not wait: what a frame-by-frame runtime makes of a model that was
trained to read future frames (chapter 7's future leak, made audible).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sedemo._gate import check_signal, finite_as
from sedemo.dsp.stft import istft, stft

__all__ = ["enhance_without_waiting"]


def enhance_without_waiting(model: nn.Module, noisy) -> np.ndarray:
    """Enhance a waveform the way a frame-by-frame stream would that does not wait for the
    future frames ``model`` was trained to read: ``istft(model.estimate_without_waiting(stft(noisy)))``
    (see :meth:`sedemo.models.LSTMEnhancer.estimate_without_waiting`: spliced future frames
    not yet arrived, a backward LSTM that can only start at the newest frame). Beside
    :func:`sedemo.models.enhance` (offline, every future frame there) it makes a future
    leak audible: the model that works offline breaks in a stream. ``noisy``: ``(L,)``
    float samples at the model's rate; returns float32 ``(L,)``. Chapter 7.
    Chapter: 07_causality."""
    if not callable(getattr(model, "estimate_without_waiting", None)):
        raise TypeError(f"enhance_without_waiting: {type(model).__name__} has no estimate_without_waiting(); "
                        "it is defined for the LSTM enhancers (lstm_mask, lstm_map)")
    x = check_signal(noisy, "enhance_without_waiting: noisy", ndim=(1,))
    dtype = next(model.parameters()).dtype
    xb = finite_as(x, dtype, "enhance_without_waiting: noisy")[None]
    cfg = model.stft_config
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y = istft(model.estimate_without_waiting(stft(xb, cfg))["spec"], cfg, length=xb.shape[-1])
    finally:
        model.train(was_training)
    return y[0].to(torch.float32).numpy()
