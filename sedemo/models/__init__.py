"""The book's enhancement models, each built by name from a config dataclass.

Chapter 3 (03_masks, claim C9) trains the LSTM mask estimator and its
mapping twin; chapter 5 (complex spectral mapping, claims C10-C11) the
CRN, the GCRN and its comparison variants; chapter 7 runs every causal model
through the causality checker (:func:`sedemo.causality.check`).

One interface for every model
-----------------------------
``model(noisy_spec) -> enhanced_spec``: both are complex STFTs ``(batch, F, T)``
from :func:`sedemo.dsp.stft.stft` with the model's ``model.stft_config`` (by default
20 ms square-root Hann window, 10 ms hop, ``F = 161`` bins, causal framing). The
output is the *uncompressed* enhanced spectrum, so every loss of
:mod:`sedemo.losses` and :func:`sedemo.dsp.stft.istft` apply to it directly.
:func:`enhance` does ``stft -> model -> istft`` on waveforms.
``model.estimate(noisy_spec)`` returns a dict with the same ``"spec"`` plus the
intermediate quantities a loss may need: ``"mask"`` (masking models),
``"magnitude"`` (the predicted compressed magnitude ``|S|^c``), ``"phase"``
(direct phase regression). Every model has ``.name``, ``.config``, ``.causal``
(bool) and ``.stft_config``.

Layout inside the convolutional models: ``(batch, channels, time, freq)``, the
convention of :mod:`sedemo.layers`. Time is never strided, pooled or normalised over
(claims C13, C15): a model whose ``.causal`` is True has output frame ``t``
depending on input frames ``<= t`` only (tested by perturbing the future).

Streaming (chapter 7)
---------------------
Every causal model also runs frame by frame: ``state = model.init_state(batch)``
then ``out, state = model.step(frame_spec, state)`` with ``frame_spec`` the next
``n >= 1`` complex STFT frames ``(batch, F, n)`` (or one frame ``(batch, F)``).
The state holds what the model must remember: the past input frames of every
causal (transposed) convolution, the LSTM hidden and cell states, the running
sums of a cumulative layer norm, the splicing history of the LSTM enhancer. Its
size does not depend on how long the stream has run. Concatenating the outputs
of successive steps reproduces ``model(noisy_spec)`` in ``eval()`` mode (tested to
1e-5); :class:`sedemo.streaming.StreamingEnhancer` wraps this into waveform in,
waveform out. Non-causal configs (``bidirectional=True``, ``right_context > 0``)
raise a ``ValueError`` that says why; BatchNorm models must be in ``eval()``.
``model.step`` runs the model's own layers; :func:`frame_plan` gives a
:class:`FramePlan`, the same one-frame computation of a CRN/GCRN rewritten with
weights prepared once (convolutions as matrix products, BatchNorm folded, the two
GCRN decoders batched): faster (``benchmarks/rtf.py --compare-step`` measures by how
much), equal to float rounding, and what ``StreamingEnhancer`` uses hop by hop. Both
live in :mod:`sedemo.streaming`.

Registry
--------
:data:`MODELS` maps each name to a :class:`ModelSpec` (model class, its config
class, the fields that make the variant); :func:`config_for` gives the default or
tiny config, :func:`build_model` the model. Configs are frozen dataclasses (data,
not code): ``build_model("gcrn", channels=(8, 16, 32, 32, 32))`` overrides a field,
``build_model("gcrn", tiny=True)`` gives the test-sized model.

Names: ``lstm_mask``, ``lstm_map`` (chapter 3), ``crn``, ``gcrn``, ``gcrn_1dec``,
``gcrn_mag``, ``gcrn_magphase``, ``ulcrn`` (the ultra-light causal CRN of GTCRN's class,
:class:`ULCRN`, chapter 5), ``tcn`` (time domain, chapter 6, claim C2).

Time-domain model. ``tcn`` (:class:`TCN`, a causal Conv-TasNet) is the exception to
the interface above: ``model.domain == "time"`` (every other model: ``"spectral"``)
and ``model(noisy) -> enhanced`` takes and returns waveforms ``(batch, L)``;
``model.estimate`` returns ``"wave"`` (and ``"mask"``, ``"frames"``) instead of
``"spec"``. :func:`enhance`, :mod:`sedemo.train` (waveform losses only) and
:class:`sedemo.streaming.StreamingEnhancer` dispatch on ``model.domain``. Its
``stft_config`` is the default one, used only for ``sample_rate``. ``model.step``
takes ``n*stride`` samples instead of STFT frames.

Compression. The CRN/GCRN inputs and targets are power-law compressed,
``|Y|^c e^{jθ_Y}`` with ``c = 0.3`` (the compression of the loss of Braun & Tashev
2021, :func:`sedemo.dsp.features.compress`), which keeps the ~100 dB dynamic range of
speech spectra trainable; ``compress=1.0`` gives the raw spectra of the papers.
"""
from __future__ import annotations

from sedemo.models.base import SEModel, SuppressionBoost, check_streamable, count_parameters, enhance, macs_per_second
from sedemo.models.blocks import GroupedLSTM
from sedemo.models.checkpoints import (
    PRETRAINED_DIR, load, load_pretrained, model_from_payload, model_payload, pretrained_path, save,
)
from sedemo.models.configs import CRNConfig, GCRNConfig, LSTMConfig, TCNConfig, ULCRNConfig
from sedemo.models.crn import CRN
from sedemo.models.gcrn import GCRN
from sedemo.models.lstm import LSTMEnhancer
from sedemo.models.registry import MODELS, ModelSpec, build_from_config, build_model, config_for, model_table
from sedemo.models.tcn import TCN
from sedemo.models.ulcrn import ULCRN

__all__ = [
    "LSTMConfig", "CRNConfig", "GCRNConfig", "TCNConfig", "ULCRNConfig",
    "SEModel", "SuppressionBoost", "check_streamable", "LSTMEnhancer", "CRN", "GCRN", "GroupedLSTM", "TCN", "ULCRN",
    "ModelSpec", "MODELS", "config_for", "build_model", "build_from_config",
    "enhance", "count_parameters", "macs_per_second", "model_table",
    "save", "load", "load_pretrained", "pretrained_path", "PRETRAINED_DIR",
    "model_payload", "model_from_payload",
]
