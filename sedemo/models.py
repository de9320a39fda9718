"""The book's enhancement models, each built by name from a config dataclass.

Chapter 3 (``book/03_masks.ipynb``, claim C9) trains the LSTM mask estimator and its
mapping twin; chapter 5 (complex spectral mapping, claims C10-C11) the
CRN, the GCRN and its comparison variants; chapter 7 runs every causal model
through the causality checker (:func:`sedemo.causality.check`).

One interface for every model
-----------------------------
``model(noisy_spec) -> enhanced_spec``: both are complex STFTs ``(batch, F, T)``
from :func:`sedemo.stft.stft` with the model's ``model.stft_config`` (by default
20 ms square-root Hann window, 10 ms hop, ``F = 161`` bins, causal framing). The
output is the *uncompressed* enhanced spectrum, so every loss of
:mod:`sedemo.losses` and :func:`sedemo.stft.istft` apply to it directly.
:func:`enhance` does ``stft -> model -> istft`` on waveforms.
``model.estimate(noisy_spec)`` returns a dict with the same ``"spec"`` plus the
intermediate quantities a loss may need: ``"mask"`` (masking models),
``"magnitude"`` (the predicted compressed magnitude ``|S|^c``), ``"phase"``
(direct phase regression). Every model has ``.name``, ``.config``, ``.causal``
(bool) and ``.stft_config``.

Layout inside the convolutional models: ``(batch, channels, time, freq)``, the
convention of :mod:`sedemo.nn`. Time is never strided, pooled or normalised over
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
GCRN decoders batched): about 3x faster, equal to float rounding, and what
``StreamingEnhancer`` uses hop by hop.

Registry
--------
:data:`MODELS` maps each name to a :class:`ModelSpec` (model class, its config
class, the fields that make the variant); :func:`config_for` gives the default or
tiny config, :func:`build_model` the model. Configs are frozen dataclasses (data,
not code): ``build_model("gcrn", channels=(8, 16, 32, 32, 32))`` overrides a field,
``build_model("gcrn", tiny=True)`` gives the test-sized model.

Names: ``lstm_mask``, ``lstm_map`` (chapter 3), ``crn``, ``gcrn``, ``gcrn_1dec``,
``gcrn_mag``, ``gcrn_magphase`` (chapter 5), ``tcn`` (time domain, chapter 6, claim C2).

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
2021, :func:`sedemo.features.compress`), which keeps the ~100 dB dynamic range of
speech spectra trainable; ``compress=1.0`` gives the raw spectra of the papers.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import nn as snn
from ._utils import as_tensor, like
from .features import splice
from .stft import STFTConfig, istft, stft

__all__ = [
    "LSTMConfig", "CRNConfig", "GCRNConfig", "TCNConfig",
    "LSTMEnhancer", "CRN", "GCRN", "GroupedLSTM", "TCN",
    "ModelSpec", "MODELS", "config_for", "build_model", "build_from_config",
    "enhance", "count_parameters", "model_table",
    "save", "load", "load_pretrained", "pretrained_path", "PRETRAINED_DIR",
    "model_payload", "model_from_payload", "FramePlan", "frame_plan",
]

#: Where :func:`load_pretrained` looks for ``<name>.pt``.
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
_FORMAT = "sedemo-model"
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class _STFTFields:
    """STFT fields shared by every config (see :class:`sedemo.stft.STFTConfig`)."""

    n_fft: int = 320
    hop: int = 160
    window: str = "sqrt_hann"
    sample_rate: int = 16000

    @property
    def stft_config(self) -> STFTConfig:
        return STFTConfig(n_fft=self.n_fft, hop=self.hop, window=self.window,
                          sample_rate=self.sample_rate)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1


@dataclass(frozen=True)
class LSTMConfig(_STFTFields):
    """LSTM enhancer of chapter 3 (claim C9): log-power features -> LSTM -> mask or magnitude.

    * ``output``: ``"mask"`` (a real mask in [0, 1] per T-F bin, sigmoid, applied to
      the noisy STFT; noisy phase kept) or ``"magnitude"`` (direct mapping: the
      network predicts the enhanced magnitude, combined with the noisy phase).
    * ``map_target`` (``output="magnitude"`` only): ``"compressed"`` (softplus
      output = ``|S|^compress``) or ``"log"`` (linear output = normalised
      log-power in dB, ``|S| = 10^(dB/20)``, clamped to ``[floor_db, 60]`` dB).
    * ``context`` past frames and ``right_context`` future frames spliced onto
      each frame (:func:`sedemo.features.splice`); ``right_context > 0`` makes the
      model non-causal (it reads that many future frames, claim C1).
    * ``hidden``, ``layers``, ``dropout`` (between LSTM layers), ``bidirectional``
      (non-causal, for claim C12 only).
    * ``feat_mean_db``, ``feat_std_db``: fixed input normalisation
      ``(logpow - mean) / std``. Fixed (not utterance-level) statistics keep the
      model causal; the defaults are round values near the mean and standard
      deviation of the noisy log-power over 40 training mixtures of the book's
      corpus (-22.6 dB and 17.3 dB).
    * ``floor_db``: floor of the log-power (:func:`sedemo.features.log_power`).
    """

    output: str = "mask"
    map_target: str = "compressed"
    compress: float = 0.3
    context: int = 0
    right_context: int = 0
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.0
    bidirectional: bool = False
    feat_mean_db: float = -25.0
    feat_std_db: float = 17.0
    floor_db: float = -120.0

    def __post_init__(self):
        _choice("output", self.output, ("mask", "magnitude"))
        _choice("map_target", self.map_target, ("compressed", "log"))
        _check_compress(self.compress)
        if self.context < 0 or self.right_context < 0:
            raise ValueError(f"context and right_context must be >= 0, got {self.context}, {self.right_context}")
        if self.hidden < 1 or self.layers < 1:
            raise ValueError(f"hidden and layers must be >= 1, got {self.hidden}, {self.layers}")

    @classmethod
    def tiny(cls, **overrides) -> "LSTMConfig":
        """A test-sized config: 64-point FFT (33 bins), one LSTM layer of 16 units."""
        base = dict(n_fft=64, hop=32, hidden=16, layers=1)
        return cls(**{**base, **overrides})


@dataclass(frozen=True)
class CRNConfig(_STFTFields):
    """Convolutional recurrent network (Tan & Wang, Interspeech 2018), chapter 5.

    Encoder of ``len(channels)`` causal convolutions (kernel ``kernel`` =
    (time, freq), stride 2 along frequency, frequency not padded: 161 bins ->
    80, 39, 19, 9, 4), each followed by ``norm`` and ELU; an LSTM of ``lstm_layers``
    layers over the flattened bottleneck (``channels[-1] * F_bottleneck``
    features; ``lstm_hidden=None`` keeps that size, as the paper, otherwise a
    linear layer maps back); a mirrored decoder of causal transposed
    convolutions whose input is the concatenation of the previous decoder output
    and the encoder output of the same level (skip connections). The last layer
    has one channel and a softplus: the compressed magnitude ``|S|^compress``,
    combined with the noisy phase (magnitude mapping, as the paper).

    The paper's channels are 16-32-64-128-256 (LSTM of 1024 units); the default
    here, 16-32-64-64-64 (LSTM of 256), trains on a CPU. ``norm``: ``"batch"``
    (the paper's BatchNorm: causal once in ``eval()``, claim C15), ``"cln"``
    (:class:`sedemo.nn.CumulativeLayerNorm`, causal in both modes) or ``"none"``.
    ``compress = 1`` gives the paper's raw magnitude.
    """

    channels: tuple = (16, 32, 64, 64, 64)
    kernel: tuple = (2, 3)
    lstm_hidden: int | None = None
    lstm_layers: int = 2
    norm: str = "batch"
    compress: float = 0.3

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "kernel", tuple(int(k) for k in self.kernel))
        _choice("norm", self.norm, ("batch", "cln", "none"))
        _check_compress(self.compress)
        _freq_sizes(self.n_freqs, len(self.channels), self.kernel[1])  # raises when too deep

    @classmethod
    def tiny(cls, **overrides) -> "CRNConfig":
        """A test-sized config: 64-point FFT (33 bins -> 16, 7, 3), channels 4-8-8."""
        base = dict(n_fft=64, hop=32, channels=(4, 8, 8))
        return cls(**{**base, **overrides})


@dataclass(frozen=True)
class GCRNConfig(_STFTFields):
    """Gated convolutional recurrent network (Tan & Wang, TASLP 2020), chapter 5.

    Input: the compressed noisy spectrum ``|Y|^c e^{jθ_Y}`` as two channels (real,
    imaginary), or its magnitude only (``inputs="magnitude"``). One shared encoder of
    gated causal convolutions (GLU: ``conv(x) * sigmoid(conv_gate(x))``, then
    ``norm`` and ELU; kernel ``kernel``, stride 2 along frequency); a grouped LSTM
    over the flattened bottleneck (``lstm_groups`` groups, each with its own LSTM,
    and a representation rearrangement between layers; :class:`GroupedLSTM`);
    ``n_decoders`` decoders of gated causal transposed convolutions with skip
    connections (concatenation). What the decoders predict is ``target``:

    * ``"complex"``: the compressed real and imaginary parts (complex spectral
      mapping). ``n_decoders=2``: one decoder for each (the paper's GCRN, claim C11);
      ``n_decoders=1``: one decoder with two output channels.
    * ``"magnitude"``: the compressed magnitude (softplus) with the noisy phase;
      one decoder.
    * ``"mag_phase"``: two decoders, compressed magnitude (softplus) and the phase
      angle in radians, predicted raw (unbounded; only ``e^{jφ}`` is used, so the
      angle is wrapped by construction; a loss on the angle must be wrapped too,
      e.g. ``1 - cos(φ̂ - θ_S)``). Direct phase regression for claim C10.

    ``channels`` (encoder) and ``decoder_channels`` (``None``: the encoder's,
    mirrored; else one entry per decoder layer but the last, which has the output
    channels) set the widths; ``lstm_hidden=None`` keeps the bottleneck size.
    The paper's encoder has 16-32-64-128-256 channels; the default 16-32-64-64-64
    keeps the causal model under 2 M parameters and fast on one CPU thread.
    ``norm``: as :class:`CRNConfig`. ``compress``: the power-law exponent of
    inputs and targets (1.0: the paper's raw spectra).
    """

    channels: tuple = (16, 32, 64, 64, 64)
    decoder_channels: tuple | None = None
    kernel: tuple = (2, 3)
    lstm_hidden: int | None = None
    lstm_layers: int = 2
    lstm_groups: int = 2
    rearrange: bool = True
    norm: str = "batch"
    compress: float = 0.3
    inputs: str = "complex"
    target: str = "complex"
    n_decoders: int = 2

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "kernel", tuple(int(k) for k in self.kernel))
        if self.decoder_channels is not None:
            dc = tuple(int(c) for c in self.decoder_channels)
            object.__setattr__(self, "decoder_channels", dc)
            if len(dc) != len(self.channels) - 1:
                raise ValueError(
                    f"decoder_channels needs {len(self.channels) - 1} entries (one per decoder "
                    f"layer but the last), got {len(dc)}"
                )
        _choice("norm", self.norm, ("batch", "cln", "none"))
        _choice("inputs", self.inputs, ("complex", "magnitude"))
        _choice("target", self.target, ("complex", "magnitude", "mag_phase"))
        _check_compress(self.compress)
        allowed = {"complex": (1, 2), "magnitude": (1,), "mag_phase": (2,)}[self.target]
        if self.n_decoders not in allowed:
            raise ValueError(f"target={self.target!r} needs n_decoders in {allowed}, got {self.n_decoders}")
        if self.lstm_groups < 1:
            raise ValueError(f"lstm_groups must be >= 1, got {self.lstm_groups}")
        _freq_sizes(self.n_freqs, len(self.channels), self.kernel[1])

    @classmethod
    def tiny(cls, **overrides) -> "GCRNConfig":
        """A test-sized config: 64-point FFT (33 bins -> 16, 7, 3), channels 4-8-8."""
        base = dict(n_fft=64, hop=32, channels=(4, 8, 8))
        if overrides.get("decoder_channels") is None and overrides.get("n_decoders", 2) == 1 \
                and overrides.get("target", "complex") == "complex":
            base["decoder_channels"] = (13, 8)  # parameter-matched one-decoder variant
        return cls(**{**base, **overrides})


@dataclass(frozen=True)
class TCNConfig(_STFTFields):
    """Causal Conv-TasNet-style time-domain model (Luo & Mesgarani, TASLP 2019), claim C2.

    Waveform in, waveform out (``model.domain == "time"``): no STFT. A learned
    analysis encoder (a strided :class:`sedemo.nn.CausalConv1d` of ``filters``
    filters, ``kernel`` samples long, hop ``stride``, ReLU) turns the waveform into
    frames; a causal temporal convolutional network (TCN) estimates a sigmoid mask
    on them; a transposed convolution (the decoder: ``filters`` basis signals of
    ``kernel`` samples, overlap-added every ``stride`` samples) turns the masked
    frames back into a waveform. Pandey & Wang (ICASSP 2019) use such time-domain
    models for speech enhancement and compare L1 and L2 losses on samples (C2).

    TCN: cumulative layer norm and a 1x1 bottleneck conv to ``bottleneck``
    channels, then ``repeats`` x ``blocks`` residual blocks; block ``x`` of a repeat:
    1x1 conv to ``hidden`` channels, PReLU, cLN, depthwise causal conv (kernel
    ``conv_kernel``, dilation ``2**x``), PReLU, cLN, 1x1 conv back (added to the
    input). Then PReLU, 1x1 conv to ``filters`` channels, sigmoid: the mask.
    Conv-TasNet's skip-connection paths are left out (residuals only).

    Default (about 0.8 M parameters): 2 ms / 1 ms kernel / hop (32 / 16 samples at
    16 kHz), N=128 filters, B=128, H=192, P=3, X=8 blocks, R=2 repeats; receptive
    field ``1 + 2*R*(P-1)*(2**X - 1)`` frames = 1021 frames, about 1 s. The
    paper's causal Conv-TasNet has N=512, B=128, H=512, X=8, R=3 (5 M).

    The STFT fields (``n_fft``, ``hop``, ``window``) are unused; ``model.stft_config``
    keeps the book's default only so that ``sample_rate`` is found where it is for
    every model. ``kernel`` must be ``>= stride``.
    """

    kernel: int = 32
    stride: int = 16
    filters: int = 128
    bottleneck: int = 128
    hidden: int = 192
    conv_kernel: int = 3
    blocks: int = 8
    repeats: int = 2

    def __post_init__(self):
        for k in ("kernel", "stride", "filters", "bottleneck", "hidden", "conv_kernel", "blocks", "repeats"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.kernel < self.stride:
            raise ValueError(f"kernel ({self.kernel}) must be >= stride ({self.stride}): otherwise "
                             "some samples are in no frame")

    @classmethod
    def tiny(cls, **overrides) -> "TCNConfig":
        """A test-sized config: kernel 16 / stride 8 samples, N=B=16, H=32, 3 blocks x 1 repeat."""
        base = dict(kernel=16, stride=8, filters=16, bottleneck=16, hidden=32, blocks=3, repeats=1)
        return cls(**{**base, **overrides})


def _choice(name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def _check_compress(c: float) -> None:
    if not (isinstance(c, (int, float)) and 0 < c <= 1):
        raise ValueError(f"compress must be in (0, 1], got {c!r}")


def _freq_sizes(n_freqs: int, n_layers: int, kf: int, sf: int = 2) -> list[int]:
    """Frequency bins after each encoder layer (kernel ``kf``, stride ``sf``, no padding)."""
    sizes = [n_freqs]
    for i in range(n_layers):
        nxt = (sizes[-1] - kf) // sf + 1
        if nxt < 1:
            raise ValueError(
                f"{n_layers} encoder layers are too many for {n_freqs} frequency bins "
                f"(layer {i + 1} would have {nxt} bins); use fewer channels entries or a larger n_fft"
            )
        sizes.append(nxt)
    return sizes


# --------------------------------------------------------------------------- helpers
def _check_spec(spec: torch.Tensor, n_freqs: int, who: str) -> torch.Tensor:
    if not isinstance(spec, torch.Tensor):
        spec = as_tensor(spec)
    if not spec.is_complex():
        raise TypeError(
            f"{who} expects the complex noisy STFT (batch, F, T) from sedemo.stft.stft; "
            f"got a real {spec.dtype} tensor"
        )
    if spec.dim() != 3:
        hint = " Add a batch axis: spec.unsqueeze(0)." if spec.dim() == 2 else ""
        raise ValueError(f"{who} expects (batch, F, T), got shape {tuple(spec.shape)}.{hint}")
    if spec.shape[1] != n_freqs:
        raise ValueError(
            f"{who} expects {n_freqs} frequency bins (its stft_config), got {spec.shape[1]}: "
            "compute the STFT with model.stft_config"
        )
    return spec


def _param_dtype(module: nn.Module) -> torch.dtype:
    p = next(module.parameters(), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def _complex_of(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _unit_phase(spec: torch.Tensor) -> torch.Tensor:
    """``Y / |Y|`` (1 where ``Y = 0``): the noisy phase as a unit complex number."""
    mag = spec.abs()
    nz = mag > 0
    return torch.where(nz, spec / torch.where(nz, mag, torch.ones_like(mag)), torch.ones_like(spec))


def _compress_spec(spec: torch.Tensor, c: float) -> torch.Tensor:
    """``|Y|^c e^{jθ}`` (exact, 0 at 0). Inputs only: no gradient needed."""
    if c == 1:
        return spec
    mag = spec.abs()
    nz = mag > 0
    scale = torch.where(nz, torch.where(nz, mag, torch.ones_like(mag)).pow(c - 1.0), torch.zeros_like(mag))
    return spec * scale


def _decompress_parts(re: torch.Tensor, im: torch.Tensor, c: float) -> torch.Tensor:
    """Complex ``Ŝ = Ŝc |Ŝc|^(1/c - 1)`` from the predicted compressed real/imag parts.

    Written with ``(re² + im² + 1e-20)^((1/c - 1)/2)`` so that the gradient stays finite
    at 0 for every ``c`` (the 1e-20 changes no value visibly: float32 spectra)."""
    if c == 1:
        return torch.complex(re, im)
    scale = (re.square() + im.square() + 1e-20).pow((1.0 / c - 1.0) / 2.0)
    return torch.complex(re * scale, im * scale)


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "cln":
        return snn.CumulativeLayerNorm(ch)
    return nn.Identity()


class _SEModel(nn.Module):
    """Base class: config, name, STFT config, causality flag, input checks."""

    name: str = ""
    #: ``"spectral"``: ``model(noisy_spec) -> enhanced_spec`` on complex STFTs;
    #: ``"time"``: ``model(noisy) -> enhanced`` on waveforms ``(B, L)`` (:class:`TCN`).
    domain: str = "spectral"

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def stft_config(self) -> STFTConfig:
        """The STFT the model expects (:func:`sedemo.stft.stft` with this config)."""
        return self.config.stft_config

    @property
    def causal(self) -> bool:
        """True when output frame ``t`` depends on input frames ``<= t`` only (in ``eval()``)."""
        return True

    def _prepare(self, noisy_spec) -> torch.Tensor:
        spec = _check_spec(noisy_spec, self.config.n_freqs, type(self).__name__)
        return spec.to(_complex_of(_param_dtype(self)))

    def estimate(self, noisy_spec: torch.Tensor) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def forward(self, noisy_spec: torch.Tensor) -> torch.Tensor:
        """Complex ``(B, F, T)`` noisy STFT -> complex ``(B, F, T)`` enhanced STFT."""
        return self.estimate(noisy_spec)["spec"]

    # ------------------------------------------------------------ streaming (ch. 7)
    #: Future frames a streaming step needs before it can emit a frame (all book models: 0).
    lookahead_frames: int = 0

    def check_streamable(self) -> None:
        """Raise ``ValueError`` saying why this model cannot run frame by frame.

        A model streams when it is causal (output frame ``t`` from input frames
        ``<= t``). Overridden by models with more reasons (bidirectional LSTM,
        spliced future frames)."""
        if not self.causal:
            raise ValueError(f"{type(self).__name__} is not causal: it cannot stream")

    def _check_step_mode(self) -> None:
        if self.training and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.modules()):
            raise RuntimeError(
                f"{type(self).__name__}.step() in training mode: BatchNorm then normalises with the "
                "statistics of the current batch (here: the current frame), which differ from the "
                "offline batch statistics and leak the future in training (claim C15). Call "
                "model.eval() first."
            )

    def init_state(self, batch: int = 1):  # pragma: no cover - interface
        """The streaming state at the start of a stream (zeros), for ``batch`` signals."""
        raise NotImplementedError

    @staticmethod
    def state_nbytes(state) -> int:
        """Bytes held by the tensors of a streaming ``state`` (:func:`sedemo.nn.cache_nbytes`)."""
        return snn.cache_nbytes(state)

    def _step_input(self, frame_spec):
        """Accept ``(B, F, n)`` or one frame ``(B, F)``; return ``(spec (B, F, n), squeeze)``."""
        x = frame_spec if isinstance(frame_spec, torch.Tensor) else as_tensor(frame_spec)
        squeeze = x.dim() == 2
        if squeeze:
            x = x.unsqueeze(-1)
        self.check_streamable()
        self._check_step_mode()
        return self._prepare(x), squeeze

    def extra_repr(self) -> str:
        return f"name={self.name!r}, causal={self.causal}"


# --------------------------------------------------------------------------- LSTM (ch. 3)
class LSTMEnhancer(_SEModel):
    """LSTM mask estimator / magnitude mapper of chapter 3 (claim C9); see :class:`LSTMConfig`.

    Features: ``(log_power(Y) - feat_mean_db) / feat_std_db``, spliced with
    ``context`` past and ``right_context`` future frames, ``(B, T, F*(k+1))`` ->
    unidirectional LSTM -> linear -> per-bin output. References: Weninger et al.,
    GlobalSIP 2014; Erdogan et al., ICASSP 2015; Wang, Narayanan & Wang, TASLP 2014.
    """

    def __init__(self, config: LSTMConfig):
        super().__init__(config)
        c = config
        n_in = c.n_freqs * (c.context + c.right_context + 1)
        self.lstm = nn.LSTM(n_in, c.hidden, num_layers=c.layers, batch_first=True,
                            dropout=c.dropout if c.layers > 1 else 0.0, bidirectional=c.bidirectional)
        self.out = nn.Linear(c.hidden * (2 if c.bidirectional else 1), c.n_freqs)

    @property
    def causal(self) -> bool:
        return not self.config.bidirectional and self.config.right_context == 0

    def features(self, spec: torch.Tensor) -> torch.Tensor:
        """Normalised, spliced log-power features ``(B, F*(k+1), T)`` of a complex STFT."""
        c = self.config
        power = spec.real.square() + spec.imag.square()
        logp = 10.0 * torch.log10(power.clamp_min(10.0 ** (c.floor_db / 10.0)))
        feats = (logp - c.feat_mean_db) / c.feat_std_db
        if c.context or c.right_context:
            feats = splice(feats, c.context, c.right_context)
        return feats

    def estimate(self, noisy_spec: torch.Tensor) -> dict:
        """``{"spec": Ŝ, "mask": M}`` (``output="mask"``) or ``{"spec", "magnitude"}``."""
        spec = self._prepare(noisy_spec)
        h, _ = self.lstm(self.features(spec).transpose(1, 2))  # (B, T, H)
        return self._head(h, spec)

    def check_streamable(self) -> None:
        c = self.config
        if c.bidirectional:
            raise ValueError(
                "this LSTM enhancer is bidirectional (bidirectional=True): its backward LSTM "
                "reads the utterance from the last frame to the first, so every output frame "
                "depends on all future frames and nothing can be emitted before the stream "
                "ends (claim C12). Only unidirectional LSTMs can stream."
            )
        if c.right_context > 0:
            raise ValueError(
                f"this LSTM enhancer splices right_context={c.right_context} future frame(s) "
                "onto each input frame: it is not causal, so it cannot stream frame by frame "
                "with zero lookahead (it would need to wait for those future frames). Use "
                "right_context=0."
            )

    def _log_feats(self, spec):
        c = self.config
        power = spec.real.square() + spec.imag.square()
        logp = 10.0 * torch.log10(power.clamp_min(10.0 ** (c.floor_db / 10.0)))
        return (logp - c.feat_mean_db) / c.feat_std_db  # (B, F, n)

    def init_state(self, batch: int = 1):
        """``{"hist": past feature frames (B, F, context) or None before the first frame,
        "h", "c": LSTM states (layers, B, hidden)}``. Chapter 7."""
        c = self.config
        dtype = _param_dtype(self)
        device = next(self.parameters()).device
        z = torch.zeros(c.layers, batch, c.hidden, dtype=dtype, device=device)
        hist = torch.zeros(batch, c.n_freqs, c.context, dtype=dtype, device=device) if c.context else None
        return {"hist": hist, "h": z, "c": z.clone(), "started": False}

    def step(self, frame_spec, state=None):
        """Enhance the next ``n`` frames ``(B, F, n)`` (or ``(B, F)``); returns ``(out, state)``.

        The splicing history starts as copies of the first frame (the offline
        replication padding of :func:`sedemo.features.splice`). Chapter 7."""
        c = self.config
        spec, squeeze = self._step_input(frame_spec)
        if state is None:
            state = self.init_state(spec.shape[0])
        feats = self._log_feats(spec)
        hist = state["hist"]
        if c.context:
            if not state["started"]:
                hist = feats[..., :1].expand(-1, -1, c.context)
            full = torch.cat([hist, feats], dim=-1)
            n = feats.shape[-1]
            feats = torch.cat([full[..., i : i + n] for i in range(c.context + 1)], dim=-2)
            hist = full[..., full.shape[-1] - c.context :].clone()
        h, (hn, cn) = _lstm_step(self.lstm, feats.transpose(1, 2), (state["h"], state["c"]))
        out = self._head(h, spec)["spec"]
        state = {"hist": hist, "h": hn, "c": cn, "started": True}
        return (out[..., 0] if squeeze else out), state

    def _head(self, h, spec) -> dict:
        c = self.config
        z = self.out(h).transpose(1, 2)  # (B, F, T)
        if c.output == "mask":
            mask = torch.sigmoid(z)
            return {"spec": mask * spec, "mask": mask}
        if c.map_target == "compressed":
            mag_c = F.softplus(z)
            mag = mag_c.pow(1.0 / c.compress)
        else:
            db = (z * c.feat_std_db + c.feat_mean_db).clamp(c.floor_db, 60.0)
            mag = 10.0 ** (db / 20.0)
            mag_c = mag.pow(c.compress)
        return {"spec": mag * _unit_phase(spec), "magnitude": mag_c}


# --------------------------------------------------------------------------- CRN (ch. 5)
class _ConvBlock(nn.Module):
    """Causal conv (optionally gated: GLU) + norm + ELU, (B, C, T, F) layout."""

    def __init__(self, cin, cout, kernel, norm, gated, transposed=False, output_padding=0,
                 last=False):
        super().__init__()
        self.gated = gated
        n_out = 2 * cout if gated else cout
        if transposed:
            self.conv = snn.CausalConvTranspose2d(cin, n_out, kernel, stride=(1, 2),
                                                  output_padding=(0, output_padding))
        else:
            self.conv = snn.CausalConv2d(cin, n_out, kernel, stride=(1, 2))
        self.last = last
        self.norm = nn.Identity() if last else _norm(norm, cout)

    def forward(self, x):
        y = self.conv(x)
        if self.gated:
            a, g = y.chunk(2, dim=1)
            y = a * torch.sigmoid(g)
        if self.last:
            return y
        return F.elu(self.norm(y))

    def init_cache(self, batch, n_freqs, dtype, device):
        """Zero cache: ``(conv input history (B, cin, kt-1, F), norm cache or None)``."""
        conv = self.conv.conv
        kt = conv.kernel_size[0]
        hist = torch.zeros(batch, conv.in_channels, kt - 1, n_freqs, dtype=dtype, device=device)
        norm = None
        if isinstance(self.norm, snn.CumulativeLayerNorm):
            acc = dtype if device.type == "mps" else torch.float64
            norm = (torch.zeros((), dtype=acc, device=device), torch.zeros(batch, dtype=acc, device=device),
                    torch.zeros(batch, dtype=acc, device=device))
        return (hist, norm)

    def step(self, x, cache):
        """Streaming forward of ``n`` frames; ``cache`` from :meth:`init_cache`."""
        conv_cache, norm_cache = cache
        y, conv_cache = self.conv.step(x, conv_cache)
        if self.gated:
            a, g = y.chunk(2, dim=1)
            y = a * torch.sigmoid(g)
        if self.last:
            return y, (conv_cache, None)
        if isinstance(self.norm, snn.CumulativeLayerNorm):
            y, norm_cache = self.norm.step(y, norm_cache)
        else:  # BatchNorm2d in eval(): a fixed per-channel affine map; Identity
            y = self.norm(y)
        return F.elu(y), (conv_cache, norm_cache)


def _decoder(enc_channels, dec_channels, out_ch, kernel, norm, gated, freq_sizes):
    """Decoder layers mirroring the encoder; layer ``i`` takes ``cat(dec, skip)``."""
    n = len(enc_channels)
    kf = kernel[1]
    layers = nn.ModuleList()
    prev = enc_channels[-1]
    outs = list(dec_channels) + [out_ch]
    for i in range(n):
        skip = enc_channels[n - 1 - i]
        f_in, f_target = freq_sizes[n - i], freq_sizes[n - 1 - i]
        op = f_target - ((f_in - 1) * 2 + kf)
        layers.append(_ConvBlock(prev + skip, outs[i], kernel, norm, gated, transposed=True,
                                 output_padding=op, last=(i == n - 1)))
        prev = outs[i]
    return layers


def _run_decoder(layers, x, skips):
    for layer, skip in zip(layers, reversed(skips)):
        x = layer(torch.cat([x, skip], dim=1))
    return x


def _step_layers(layers, x, caches, skips=None):
    """Streaming pass through encoder (``skips=None``: returns the outputs as skips) or
    decoder layers (``skips``: concatenated as in :func:`_run_decoder`)."""
    new, outs = [], []
    for i, (layer, cache) in enumerate(zip(layers, caches)):
        if skips is not None:
            x = torch.cat([x, skips[len(skips) - 1 - i]], dim=1)
        x, cache = layer.step(x, cache)
        new.append(cache)
        outs.append(x)
    return x, new, outs


def _conv_caches(layers, batch, freq_sizes_in, dtype, device):
    return [layer.init_cache(batch, f, dtype, device) for layer, f in zip(layers, freq_sizes_in)]


def _lstm_step(rnn: nn.LSTM, x: torch.Tensor, state):
    """``nn.LSTM`` (unidirectional, ``batch_first``) on ``n`` new frames ``(B, n, D)`` with its
    ``(h, c)`` state ``(layers, B, H)``; returns ``(y (B, n, H), (h, c))``.

    One frame: ``torch.lstm_cell`` layer by layer (the same equations, to float
    rounding). The fused ``nn.LSTM`` kernel (oneDNN on x86 CPUs) costs about a
    millisecond of set-up per call, ten times the arithmetic of a single frame of a
    256-unit LSTM, which would dominate the real-time factor; over several frames it
    pays off and is used."""
    if x.shape[1] != 1 or rnn.proj_size or rnn.bidirectional:
        y, (h, c) = rnn(x, state)
        return y, (h, c)
    h0, c0 = state
    inp = x[:, 0]
    hs, cs = [], []
    for i in range(rnn.num_layers):
        b_ih = getattr(rnn, f"bias_ih_l{i}", None) if rnn.bias else None
        b_hh = getattr(rnn, f"bias_hh_l{i}", None) if rnn.bias else None
        h, c = torch.lstm_cell(inp, (h0[i], c0[i]), getattr(rnn, f"weight_ih_l{i}"),
                               getattr(rnn, f"weight_hh_l{i}"), b_ih, b_hh)
        hs.append(h)
        cs.append(c)
        inp = h  # dropout between layers: eval() only (streaming is inference)
    return inp.unsqueeze(1), (torch.stack(hs), torch.stack(cs))


def _bottleneck_step(rnn, proj, x, state):
    """Streaming :func:`_bottleneck`: ``(B, C, n, F)`` -> same, with the recurrent ``state``."""
    b, ch, t, f = x.shape
    z = x.permute(0, 2, 1, 3).reshape(b, t, ch * f)
    if isinstance(rnn, GroupedLSTM):
        z, state = rnn.step(z, state)
    else:
        z, state = _lstm_step(rnn, z, state)
    z = proj(z)
    return z.reshape(b, t, ch, f).permute(0, 2, 1, 3), state


class CRN(_SEModel):
    """Causal convolutional recurrent network (Tan & Wang 2018); see :class:`CRNConfig`.

    Reference: K. Tan, D. Wang, "A convolutional recurrent neural network for
    real-time speech enhancement", Interspeech 2018. Chapter 5.
    """

    def __init__(self, config: CRNConfig):
        super().__init__(config)
        c = config
        self.freq_sizes = _freq_sizes(c.n_freqs, len(c.channels), c.kernel[1])
        chans = (1,) + c.channels
        self.encoder = nn.ModuleList(
            _ConvBlock(chans[i], chans[i + 1], c.kernel, c.norm, gated=False) for i in range(len(c.channels))
        )
        flat = c.channels[-1] * self.freq_sizes[-1]
        hidden = c.lstm_hidden or flat
        self.lstm = nn.LSTM(flat, hidden, num_layers=c.lstm_layers, batch_first=True)
        self.proj = nn.Linear(hidden, flat) if hidden != flat else nn.Identity()
        self.decoder = _decoder(c.channels, c.channels[::-1][1:], 1, c.kernel, c.norm, False, self.freq_sizes)

    def estimate(self, noisy_spec: torch.Tensor) -> dict:
        """``{"spec": Ŝ, "magnitude": |S|^c estimate (B, F, T)}``."""
        c = self.config
        spec = self._prepare(noisy_spec)
        x = _compress_spec(spec, c.compress).abs().transpose(1, 2).unsqueeze(1)  # (B, 1, T, F)
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        x = _bottleneck(self.lstm, self.proj, x)
        y = _run_decoder(self.decoder, x, skips)  # (B, 1, T, F)
        return self._head(y, spec)

    def _head(self, y, spec) -> dict:
        c = self.config
        mag_c = F.softplus(y[:, 0]).transpose(1, 2)  # (B, F, T)
        return {"spec": mag_c.pow(1.0 / c.compress) * _unit_phase(spec), "magnitude": mag_c}

    def init_state(self, batch: int = 1):
        """``{"enc", "dec": per-layer (conv history, norm cache), "rnn": (h, c)}``, zeros. Chapter 7."""
        c = self.config
        dtype, device = _param_dtype(self), next(self.parameters()).device
        fs = self.freq_sizes
        n = len(c.channels)
        hidden = self.lstm.hidden_size
        z = torch.zeros(c.lstm_layers, batch, hidden, dtype=dtype, device=device)
        return {"enc": _conv_caches(self.encoder, batch, fs[:n], dtype, device),
                "rnn": (z, z.clone()),
                "dec": _conv_caches(self.decoder, batch, fs[n:0:-1], dtype, device)}

    def step(self, frame_spec, state=None):
        """Enhance the next ``n`` frames ``(B, F, n)`` (or ``(B, F)``); returns ``(out, state)``.
        Equals the offline output at those frames (``eval()`` mode). Chapter 7."""
        c = self.config
        spec, squeeze = self._step_input(frame_spec)
        if state is None:
            state = self.init_state(spec.shape[0])
        x = _compress_spec(spec, c.compress).abs().transpose(1, 2).unsqueeze(1)
        x, enc, skips = _step_layers(self.encoder, x, state["enc"])
        x, rnn = _bottleneck_step(self.lstm, self.proj, x, state["rnn"])
        y, dec, _ = _step_layers(self.decoder, x, state["dec"], skips)
        out = self._head(y, spec)["spec"]
        return (out[..., 0] if squeeze else out), {"enc": enc, "rnn": rnn, "dec": dec}


def _bottleneck(rnn, proj, x):
    """(B, C, T, F) -> flatten (B, T, C*F) -> rnn -> proj -> (B, C, T, F)."""
    b, ch, t, f = x.shape
    z = x.permute(0, 2, 1, 3).reshape(b, t, ch * f)
    z, _ = rnn(z)
    z = proj(z)
    return z.reshape(b, t, ch, f).permute(0, 2, 1, 3)


# --------------------------------------------------------------------------- GCRN (ch. 5)
class GroupedLSTM(nn.Module):
    """Grouped LSTM with representation rearrangement (Gao, Ozturk & Wang 2018; used by GCRN).

    Input ``(B, T, D)`` -> output ``(B, T, H)``. Each layer splits its input features
    into ``groups`` equal chunks and runs one unidirectional LSTM of ``H/groups``
    units per chunk (``groups`` times fewer weights than one LSTM of ``H``). Between
    layers the representation is rearranged so that every group of the next layer
    sees features of every group of this one: the outputs ``(B, T, G, H/G)`` are
    transposed to ``(B, T, H/G, G)`` and flattened (a shuffle, as ShuffleNet's
    channel shuffle). ``D`` and ``H`` must be divisible by ``groups``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 2, groups: int = 2,
                 rearrange: bool = True):
        super().__init__()
        if input_size % groups or hidden_size % groups:
            raise ValueError(
                f"GroupedLSTM: input_size ({input_size}) and hidden_size ({hidden_size}) must be "
                f"divisible by groups ({groups})"
            )
        self.groups, self.rearrange = groups, rearrange
        self.layers = nn.ModuleList()
        size = input_size
        for _ in range(num_layers):
            self.layers.append(nn.ModuleList(
                nn.LSTM(size // groups, hidden_size // groups, batch_first=True) for _ in range(groups)
            ))
            size = hidden_size

    def forward(self, x: torch.Tensor):
        g = self.groups
        for i, layer in enumerate(self.layers):
            if i > 0 and self.rearrange and g > 1:
                b, t, h = x.shape
                x = x.reshape(b, t, g, h // g).transpose(2, 3).reshape(b, t, h)
            chunks = x.chunk(g, dim=-1)
            x = torch.cat([rnn(chunk)[0] for rnn, chunk in zip(layer, chunks)], dim=-1)
        return x, None

    def init_state(self, batch: int, dtype=torch.float32, device=None):
        """Zero ``(h, c)`` per layer and group: a list (layers) of lists (groups) of pairs."""
        out = []
        for layer in self.layers:
            row = []
            for rnn in layer:
                z = torch.zeros(1, batch, rnn.hidden_size, dtype=dtype, device=device)
                row.append((z, z.clone()))
            out.append(row)
        return out

    def step(self, x: torch.Tensor, state):
        """Streaming forward of ``n`` frames ``(B, n, D)`` with ``state`` from :meth:`init_state`."""
        g = self.groups
        new = []
        for i, (layer, st) in enumerate(zip(self.layers, state)):
            if i > 0 and self.rearrange and g > 1:
                b, t, h = x.shape
                x = x.reshape(b, t, g, h // g).transpose(2, 3).reshape(b, t, h)
            outs, row = [], []
            for rnn, chunk, hc in zip(layer, x.chunk(g, dim=-1), st):
                y, hc = _lstm_step(rnn, chunk, hc)
                outs.append(y)
                row.append(hc)
            x = torch.cat(outs, dim=-1)
            new.append(row)
        return x, new


class GCRN(_SEModel):
    """Gated convolutional recurrent network (Tan & Wang 2020) and its variants; see :class:`GCRNConfig`.

    Reference: K. Tan, D. Wang, "Learning complex spectral mapping with gated
    convolutional recurrent networks for monaural speech enhancement", IEEE/ACM
    TASLP 28, 2020. Chapter 5 (claims C10, C11).
    """

    def __init__(self, config: GCRNConfig):
        super().__init__(config)
        c = config
        self.freq_sizes = _freq_sizes(c.n_freqs, len(c.channels), c.kernel[1])
        chans = (2 if c.inputs == "complex" else 1,) + c.channels
        self.encoder = nn.ModuleList(
            _ConvBlock(chans[i], chans[i + 1], c.kernel, c.norm, gated=True) for i in range(len(c.channels))
        )
        flat = c.channels[-1] * self.freq_sizes[-1]
        hidden = c.lstm_hidden or flat
        if flat % c.lstm_groups:
            raise ValueError(f"the bottleneck size {flat} is not divisible by lstm_groups={c.lstm_groups}")
        self.lstm = GroupedLSTM(flat, hidden, c.lstm_layers, c.lstm_groups, c.rearrange)
        self.proj = nn.Linear(hidden, flat) if hidden != flat else nn.Identity()
        dec_ch = c.decoder_channels if c.decoder_channels is not None else c.channels[::-1][1:]
        n_out = {"complex": 2, "magnitude": 1, "mag_phase": 2}[c.target]
        per = n_out // c.n_decoders
        self.decoders = nn.ModuleList(
            _decoder(c.channels, dec_ch, per, c.kernel, c.norm, True, self.freq_sizes)
            for _ in range(c.n_decoders)
        )

    def estimate(self, noisy_spec: torch.Tensor) -> dict:
        """``{"spec": Ŝ}`` plus ``"magnitude"`` (compressed, targets ``magnitude``/``mag_phase``)
        and ``"phase"`` (radians, ``mag_phase``)."""
        c = self.config
        spec = self._prepare(noisy_spec)
        xc = _compress_spec(spec, c.compress).transpose(1, 2)  # (B, T, F)
        x = torch.stack([xc.real, xc.imag], 1) if c.inputs == "complex" else xc.abs().unsqueeze(1)
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        x = _bottleneck(self.lstm, self.proj, x)
        y = torch.cat([_run_decoder(dec, x, skips) for dec in self.decoders], dim=1)  # (B, n_out, T, F)
        return self._head(y, spec)

    def _input(self, spec):
        c = self.config
        xc = _compress_spec(spec, c.compress).transpose(1, 2)  # (B, T, F)
        return torch.stack([xc.real, xc.imag], 1) if c.inputs == "complex" else xc.abs().unsqueeze(1)

    def init_state(self, batch: int = 1):
        """``{"enc": per-layer (conv history, norm cache), "rnn": grouped-LSTM states,
        "dec": one such list per decoder}``, zeros. Chapter 7."""
        c = self.config
        dtype, device = _param_dtype(self), next(self.parameters()).device
        fs = self.freq_sizes
        n = len(c.channels)
        return {"enc": _conv_caches(self.encoder, batch, fs[:n], dtype, device),
                "rnn": self.lstm.init_state(batch, dtype, device),
                "dec": [_conv_caches(dec, batch, fs[n:0:-1], dtype, device) for dec in self.decoders]}

    def step(self, frame_spec, state=None):
        """Enhance the next ``n`` frames ``(B, F, n)`` (or ``(B, F)``); returns ``(out, state)``.
        Equals the offline output at those frames (``eval()`` mode). Chapter 7."""
        spec, squeeze = self._step_input(frame_spec)
        if state is None:
            state = self.init_state(spec.shape[0])
        x, enc, skips = _step_layers(self.encoder, self._input(spec), state["enc"])
        x, rnn = _bottleneck_step(self.lstm, self.proj, x, state["rnn"])
        ys, decs = [], []
        for dec, cache in zip(self.decoders, state["dec"]):
            y, cache, _ = _step_layers(dec, x, cache, skips)
            ys.append(y)
            decs.append(cache)
        out = self._head(torch.cat(ys, dim=1), spec)["spec"]
        return (out[..., 0] if squeeze else out), {"enc": enc, "rnn": rnn, "dec": decs}

    def _head(self, y, spec) -> dict:
        c = self.config
        y = y.transpose(2, 3)  # (B, n_out, F, T)
        if c.target == "complex":
            return {"spec": _decompress_parts(y[:, 0], y[:, 1], c.compress)}
        mag_c = F.softplus(y[:, 0])
        mag = mag_c.pow(1.0 / c.compress)
        if c.target == "magnitude":
            return {"spec": mag * _unit_phase(spec), "magnitude": mag_c}
        phase = y[:, 1]
        return {"spec": torch.complex(mag * torch.cos(phase), mag * torch.sin(phase)),
                "magnitude": mag_c, "phase": phase}


# --------------------------------------------------------------------------- TCN (time domain, C2)
def _cln_state(batch: int, dtype, device):
    """A fresh :class:`sedemo.nn.CumulativeLayerNorm` streaming cache (count, sum, sum of squares)."""
    acc = dtype if device.type == "mps" else torch.float64
    z = torch.zeros(batch, dtype=acc, device=device)
    return (torch.zeros((), dtype=acc, device=device), z, z.clone())


def _pointwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 ``conv`` on ``(B, C, n)`` as a matrix product: what a streaming step computes (the
    same values as ``conv(x)`` to float rounding, without conv1d's per-call overhead on a few frames)."""
    return F.linear(x.transpose(1, 2), conv.weight[:, :, 0], conv.bias).transpose(1, 2)


class _TCNBlock(nn.Module):
    """One Conv-TasNet block: 1x1 conv, PReLU, cLN, depthwise dilated causal conv, PReLU, cLN,
    1x1 conv, residual. Layout ``(B, channels, frames)``."""

    def __init__(self, channels: int, hidden: int, kernel: int, dilation: int):
        super().__init__()
        self.inp = nn.Conv1d(channels, hidden, 1)
        self.act1 = nn.PReLU()
        self.norm1 = snn.CumulativeLayerNorm(hidden)
        self.dconv = snn.CausalConv1d(hidden, hidden, kernel, dilation=dilation, groups=hidden)
        self.act2 = nn.PReLU()
        self.norm2 = snn.CumulativeLayerNorm(hidden)
        self.out = nn.Conv1d(hidden, channels, 1)

    def forward(self, x):
        y = self.norm1(self.act1(self.inp(x)))
        y = self.norm2(self.act2(self.dconv(y)))
        return x + self.out(y)

    def init_cache(self, batch, dtype, device):
        h = self.inp.out_channels
        conv = torch.zeros(batch, h, self.dconv.pad_past, dtype=dtype, device=device)
        return (_cln_state(batch, dtype, device), conv, _cln_state(batch, dtype, device))

    def step(self, x, cache):
        """``n`` new frames ``(B, C, n)``; cache: (cLN sums, last ``dilation*(P-1)`` frames, cLN sums).
        The depthwise dilated conv is written out as a sum of ``P`` shifted, scaled copies."""
        c1, c2, c3 = cache
        y, c1 = self.norm1.step(self.act1(_pointwise(self.inp, x)), c1)
        inp = torch.cat([c2, y], dim=2)
        conv = self.dconv.conv
        n, d, w = y.shape[2], conv.dilation[0], conv.weight[:, 0]  # w: (H, P)
        acc = conv.bias[:, None] + w[:, :1] * inp.narrow(2, 0, n)
        for k in range(1, w.shape[1]):
            acc = acc + w[:, k : k + 1] * inp.narrow(2, k * d, n)
        c2 = inp.narrow(2, n, inp.shape[2] - n).clone()
        y, c3 = self.norm2.step(self.act2(acc), c3)
        return x + _pointwise(self.out, y), (c1, c2, c3)


class TCN(_SEModel):
    """Causal Conv-TasNet-style enhancer on waveforms (claim C2); see :class:`TCNConfig`.

    ``model(noisy)``: ``(B, L)`` waveform -> ``(B, L)`` enhanced waveform
    (``model.domain == "time"``). ``model.estimate(noisy)`` returns ``"wave"`` (the
    output), ``"mask"`` ``(B, N, T)`` and ``"frames"`` (the encoder output ``(B, N,
    T)``). References: Luo & Mesgarani 2019 (``luo2019convtasnet``); Pandey & Wang 2019.

    Framing. With kernel ``K`` and hop ``S``, frame ``t`` covers samples ``[t*S -
    (K-S), t*S + S - 1]`` (``K - S`` zeros before the start, as the streaming
    encoder's initial cache) and the decoder overlap-adds its ``K`` output samples
    onto the same positions; there are ``T = floor((L - 1 + K - S) / S) + 1`` frames,
    so every sample gets all the frames that overlap it (zeros are padded after the
    end). Frame ``t`` depends on samples ``<= t*S + S - 1`` only (tested at frame
    level: lookahead 0 with frames stamped at their last sample), so output sample
    ``n`` depends on samples ``<= n + K - 1`` (the framing: 31 samples, 1.94 ms, by
    default). That is the algorithmic latency of one kernel (2 ms), as the
    STFT models' one window (20 ms).

    Streaming: ``state = model.init_state(batch)``, ``out, state = model.step(x,
    state)`` with ``x`` the next ``n*S`` samples ``(B, n*S)`` (``n >= 1``), ``out`` the
    next ``n*S`` samples of the output stream, which is the offline output delayed
    by ``K - S`` samples (the first ``K - S`` stream samples belong to the padding
    before the start). State: the encoder's last ``K - S`` input samples, every
    dilated conv's last ``dilation*(P-1)`` frames, every cLN's running sums and the
    decoder's overlap-add tail of ``K - S`` samples; constant size.
    """

    domain = "time"

    def __init__(self, config: TCNConfig):
        super().__init__(config)
        c = config
        self.encoder = snn.CausalConv1d(1, c.filters, c.kernel, stride=c.stride,
                                        lookahead=c.stride - 1, bias=False)
        self.in_norm = snn.CumulativeLayerNorm(c.filters)
        self.bottleneck = nn.Conv1d(c.filters, c.bottleneck, 1)
        self.blocks = nn.ModuleList(
            _TCNBlock(c.bottleneck, c.hidden, c.conv_kernel, 2 ** x)
            for _ in range(c.repeats) for x in range(c.blocks)
        )
        self.mask_act = nn.PReLU()
        self.mask_conv = nn.Conv1d(c.bottleneck, c.filters, 1)
        self.decoder = nn.ConvTranspose1d(c.filters, 1, c.kernel, stride=c.stride, bias=False)

    @property
    def receptive_field_frames(self) -> int:
        c = self.config
        return 1 + c.repeats * (c.conv_kernel - 1) * (2 ** c.blocks - 1)

    @property
    def output_delay(self) -> int:
        """Samples by which :meth:`step`'s output stream lags the offline output: ``K - S``."""
        return self.config.kernel - self.config.stride

    def _prepare(self, noisy) -> torch.Tensor:
        x = noisy if isinstance(noisy, torch.Tensor) else as_tensor(noisy)
        if x.is_complex():
            raise TypeError(f"{type(self).__name__} is a time-domain model: it takes the noisy "
                            "waveform (batch, L), not an STFT (use sedemo.models.enhance for both kinds)")
        if x.dim() != 2:
            hint = " Add a batch axis: x.unsqueeze(0)." if x.dim() == 1 else ""
            raise ValueError(f"{type(self).__name__} expects a waveform (batch, L), got shape "
                             f"{tuple(x.shape)}.{hint}")
        if x.shape[-1] < 1:
            raise ValueError(f"{type(self).__name__} needs at least one sample")
        return x.to(_param_dtype(self))

    def _separate(self, w, caches=None):
        """Mask ``(B, N, T)`` from the encoder frames ``w``; streaming when ``caches`` is a list."""
        if caches is None:
            y = self.bottleneck(self.in_norm(w))
            for blk in self.blocks:
                y = blk(y)
            return torch.sigmoid(self.mask_conv(self.mask_act(y))), None
        new = []
        z, c = self.in_norm.step(w, caches[0])
        new.append(c)
        y = _pointwise(self.bottleneck, z)
        for blk, cache in zip(self.blocks, caches[1:]):
            y, cache = blk.step(y, cache)
            new.append(cache)
        return torch.sigmoid(_pointwise(self.mask_conv, self.mask_act(y))), new

    def estimate(self, noisy: torch.Tensor) -> dict:
        x = self._prepare(noisy)
        k, s = self.config.kernel, self.config.stride
        length = x.shape[-1]
        n_frames = (length - 1 + k - s) // s + 1
        # the encoder pads K-S zeros before (its causal padding) and reads S-1 samples past each
        # frame start; zeros after the end complete the last frames
        w = F.relu(self.encoder(F.pad(x, (0, n_frames * s - length)).unsqueeze(1)))  # (B, N, T)
        mask, _ = self._separate(w)
        full = self.decoder(mask * w)[:, 0]  # (B, (T-1)*S + K): index j = sample j - (K-S)
        wave = full[:, k - s : k - s + length]
        return {"wave": wave, "mask": mask, "frames": w}

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, L)`` -> enhanced waveform ``(B, L)``."""
        return self.estimate(noisy)["wave"]

    def init_state(self, batch: int = 1):
        p = next(self.parameters())
        dt, dev = p.dtype, p.device
        k, s = self.config.kernel, self.config.stride
        return {
            "encoder": torch.zeros(batch, 1, k - s, dtype=dt, device=dev),
            "norms": [_cln_state(batch, dt, dev)] + [b.init_cache(batch, dt, dev) for b in self.blocks],
            "decoder": torch.zeros(batch, k - s, dtype=dt, device=dev),
        }

    def step(self, chunk, state=None):
        """Enhance the next ``n*S`` samples ``(B, n*S)`` (or ``(n*S,)`` for batch 1) of a stream.

        Returns ``(out, state)``: ``out`` the next ``n*S`` samples of the output
        stream (the offline output delayed by ``K - S`` samples). Concatenating the
        outputs of successive steps (plus ``K - S`` samples of zeros fed at the end)
        reproduces :meth:`forward` in ``eval()`` mode."""
        x = chunk if isinstance(chunk, torch.Tensor) else as_tensor(chunk)
        squeeze = x.dim() == 1
        x = self._prepare(x.unsqueeze(0) if squeeze else x)
        self.check_streamable()
        k, s = self.config.kernel, self.config.stride
        if x.shape[-1] % s:
            raise ValueError(f"{type(self).__name__}.step takes a whole number of hops of {s} samples, "
                             f"got {x.shape[-1]}; buffer the input (sedemo.streaming.StreamingEnhancer does)")
        if state is None:
            state = self.init_state(x.shape[0])
        n = x.shape[-1]
        inp = torch.cat([state["encoder"], x.unsqueeze(1)], dim=2)[:, 0]  # (B, K-S + n)
        enc = inp[:, None, n:].clone()  # the last K-S samples
        # encoder frames: windows of K samples every S, times the filters (B, N, n/S)
        w = F.relu(torch.matmul(inp.unfold(-1, k, s), self.encoder.conv.weight[:, 0].t()).transpose(1, 2))
        mask, norms = self._separate(w, state["norms"])
        # decoder: each masked frame times the basis signals (B, K, n/S), overlap-added every S samples
        frames = torch.matmul(self.decoder.weight[:, 0].t(), mask * w)
        full = F.fold(frames, output_size=(1, n - s + k), kernel_size=(1, k), stride=(1, s))[:, 0, 0]
        full = torch.cat([full[:, : k - s] + state["decoder"], full[:, k - s :]], dim=-1)
        out = full[:, :n]
        new = {"encoder": enc, "norms": norms, "decoder": full[:, n:].clone()}
        return (out[0] if squeeze else out), new


# --------------------------------------------------------------------------- fast frame path (ch. 7)
class FramePlan:
    """Frame-by-frame inference of a CRN/GCRN with weights prepared once (chapter 7).

    ``model.step`` runs the model's own layers on a single frame: a few hundred
    small PyTorch calls, each with a fixed cost of microseconds, and a transposed
    convolution kernel that is slow on one frame. A plan computes the same frame
    with fewer, larger calls, all exact rewritings of the same arithmetic
    (results equal to float rounding, tested against the offline forward):

    * layout ``(batch*freq, channels)`` for one frame: a convolution over ``kt``
      frames and ``kf`` bins is one matrix product of the frequency windows of the
      cached frames and of the new frame (overlapping strided views, side by side
      in one ``torch.cat``) with the weight reshaped to ``(kf*kt*C_in, C_out)``;
    * a transposed convolution is one matrix product of ``cat(cached frames, new
      frame)`` with the weight reshaped to ``(kt*C_in, kf*C_out)`` (every frequency
      tap of every input bin),
      then ``ceil(kf/sf)`` in-place additions put tap ``k`` of input bin ``i`` on
      output bin ``sf*i + k`` (the overlap-add, onto the bias);
    * BatchNorm in ``eval()`` is a per-channel affine map: its scale is folded into
      the convolution weights and bias (on the linear half of a GLU), its shift into
      the bias without a GLU, else added after the GLU;
    * the decoders of a GCRN run together (``torch.bmm`` over a decoder axis);
    * each grouped-LSTM layer is one ``torch.baddbmm`` over the groups of
      ``[x, h] @ [W_ih^T; W_hh^T] + (b_ih + b_hh)``, gates reordered to (i, f, o, g)
      so that one in-place sigmoid covers three of them; the flattening of the
      bottleneck and the rearrangement are strided copies into the product's input.

    Every matrix product reads its weight once per frame: for the default GCRN
    (1.2 M parameters, 4.7 MB) that is about half the time of a frame on one CPU
    thread, so contractions keep the weights' sizes (a bias as a row of the weight,
    ``[x, h, 1]``, makes MKL's contraction 257 long instead of 256 and the product
    about twice slower). The rest is the fixed cost of every PyTorch call (a few
    microseconds in the middle of a frame, caches cold), which the plan keeps to
    about 90 kernels and 30 views per frame of the default GCRN: the intermediate
    results that the state does not keep (windows, products, overlap-add sums, GLU
    outputs, LSTM gates) go to buffers made once per batch size, together with
    their views; other views are ``as_strided`` calls with precomputed strides;
    activations run in place. About 4x faster than ``model.step`` for the default
    GCRN on one CPU thread (``benchmarks/rtf.py --compare-step``).

    The weights are copied when the plan is built: rebuild it after changing them
    (:class:`sedemo.streaming.StreamingEnhancer` does, see :meth:`stale`). Supports
    :class:`CRN` and :class:`GCRN` with ``norm`` ``"batch"`` or ``"none"``
    (:func:`frame_plan` returns ``None`` otherwise, e.g. for ``norm="cln"``).
    Use: ``state = plan.init_state(batch)``, ``out, state = plan.step(frame, state)``
    with ``frame`` one complex STFT frame ``(batch, F)``; ``out`` is ``(batch, F)``.
    The state is a flat list of tensors (convolution histories, LSTM states); a step
    never modifies the state it is given, and returns fresh tensors. The buffers make
    a plan unfit for concurrent steps from several threads (one plan per thread).
    """

    def __init__(self, model: _SEModel):
        self.model = model
        self._key = _weights_key(model)
        with torch.no_grad():
            self._build(model)

    # ---------------------------------------------------------------- preparation
    def _build(self, model):
        c = model.config
        gcrn = isinstance(model, GCRN)
        self.inputs = c.inputs if gcrn else "magnitude"
        self.compress = c.compress
        self._cdtype = _complex_of(_param_dtype(model))
        self._complex_head = gcrn and c.target == "complex" and c.n_decoders == 2
        self._head_pow = 1.0 / c.compress - 1.0  # _decompress_parts' exponent, of |x|
        self._layouts = {}  # batch size -> buffers and views (_layout)
        self.freq_sizes = fs = list(model.freq_sizes)
        self.enc = [self._prep_conv(layer, fs[i], fs[i + 1]) for i, layer in enumerate(model.encoder)]
        decoders = list(model.decoders) if gcrn else [model.decoder]
        self.n_dec = len(decoders)
        n = len(decoders[0])
        self.dec = [self._prep_tconv([d[i] for d in decoders], fs[n - i]) for i in range(n)]
        rnn = model.lstm
        if isinstance(rnn, GroupedLSTM):
            layers, self.groups, self.rearrange = [list(l) for l in rnn.layers], rnn.groups, rnn.rearrange
            cells = [[(m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0) for m in layer]
                     for layer in layers]
        else:
            self.groups, self.rearrange = 1, False
            cells = [[(getattr(rnn, f"weight_ih_l{i}"), getattr(rnn, f"weight_hh_l{i}"),
                       getattr(rnn, f"bias_ih_l{i}"), getattr(rnn, f"bias_hh_l{i}"))]
                     for i in range(rnn.num_layers)]
        self.lstm = []
        for row in cells:
            h = row[0][1].shape[1]
            # PyTorch's gate order (i, f, g, o) -> (i, f, o, g): one sigmoid over the first 3h
            perm = torch.cat([torch.arange(0, 2 * h), torch.arange(3 * h, 4 * h),
                              torch.arange(2 * h, 3 * h)]).to(row[0][0].device)
            # [x, h] @ [W_ih^T; W_hh^T] + (b_ih + b_hh): one product per layer and group
            w = torch.stack([torch.cat([wi, wh], 1)[perm].t() for wi, wh, _, _ in row])  # (G, Din+H, 4H)
            b = torch.stack([(bi + bh)[perm] for _, _, bi, bh in row])[:, None]  # (G, 1, 4H)
            self.lstm.append((w.contiguous(), b.contiguous(), row[0][0].shape[1], h))
        self.c_last, self.f_last = self.enc[-1][0].shape[1] // (2 if self.enc[-1][7] else 1), fs[-1]
        proj = model.proj
        self.proj = None if isinstance(proj, nn.Identity) else (proj.weight.t().contiguous(), proj.bias)

    @staticmethod
    def _bn(block, n):
        """(scale, shift) of the block's eval-mode norm (``None`` shift: no norm)."""
        norm = block.norm
        if isinstance(norm, nn.BatchNorm2d):
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps) if norm.affine else \
                1.0 / torch.sqrt(norm.running_var + norm.eps)
            shift = -norm.running_mean * scale + (norm.bias if norm.affine else 0.0)
            return scale, shift
        if isinstance(norm, nn.Identity):
            return block.conv.conv.weight.new_ones(n), None
        raise ValueError(f"no frame plan for {type(norm).__name__}")

    def _fold(self, block, b, n):
        """``(s, b', shift)`` for the ``n`` output channels of the block's convolution: the
        norm's scale ``s`` (on the linear half of a GLU, 1 on its gate), the bias ``b'``
        with the scale (and, without a GLU, the norm's shift: ``s*b + shift``) folded in,
        and the shift left for after the GLU (``None`` otherwise)."""
        scale, shift = self._bn(block, n // 2 if block.gated else n)
        if block.gated:
            s = torch.cat([scale, torch.ones_like(scale)])
            return s, b * s, shift
        return scale, b * scale + (0.0 if shift is None else shift), None

    def _prep_conv(self, block, f_in, f_out):
        """``(w (kf*kt*C_in, C_out), bias, shift, kt, C_in, kf, sf, gated, f_in, f_out)``; the rows of
        ``w``: (freq tap, cached frame, channel) for the cached frames, then (freq tap, channel)."""
        conv = block.conv.conv  # nn.Conv2d (out, in, kt, kf)
        if block.conv.freq_padding != (0, 0) or conv.dilation != (1, 1) or conv.groups != 1:
            raise ValueError("no frame plan for this convolution")
        out, cin, kt, kf = conv.weight.shape
        sf = conv.stride[1]
        if (f_in - kf) // sf + 1 != f_out or block.last:
            raise ValueError("no frame plan for this encoder")
        w = conv.weight.permute(3, 2, 1, 0)  # (freq tap, time, channel, out), time oldest first
        w = torch.cat([w[:, : kt - 1].reshape(-1, out), w[:, kt - 1].reshape(-1, out)])
        b = conv.bias if conv.bias is not None else w.new_zeros(out)
        s, b, shift = self._fold(block, b, out)
        return (w * s).contiguous(), b.contiguous(), shift, kt, cin, kf, sf, block.gated, f_in, f_out

    def _prep_tconv(self, blocks, f_in):
        """``(w (D, kt*C_in, kf*C_out), bias (D, sf*C_out), shift, kt, C_in, kf, sf, pad, gated,
        last, f_in, J, f_out)``: ``J`` rows of ``sf`` output bins, ``f_out`` bins kept."""
        ws, bs, shifts = [], [], []
        for block in blocks:
            conv = block.conv.conv  # nn.ConvTranspose2d (in, out, kt, kf)
            if conv.dilation != (1, 1) or conv.groups != 1:
                raise ValueError("no frame plan for this transposed convolution")
            cin, out, kt, kf = conv.weight.shape
            sf, pad, op = conv.stride[1], conv.padding[1], conv.output_padding[1]
            f_full = (f_in - 1) * sf + kf + op
            # time taps ordered oldest first, as the cached frames: rows (time, channel), columns (tap, out)
            w = conv.weight.flip(2).permute(2, 0, 3, 1).reshape(kt * cin, kf * out)
            b = conv.bias if conv.bias is not None else w.new_zeros(out)
            s, b, shift = self._fold(block, b, out)
            ws.append(w * s.repeat(kf))
            bs.append(b)
            shifts.append(shift)
        block = blocks[0]
        shift = None if shifts[0] is None else torch.stack(shifts)[:, None, :]  # (D, 1, C)
        w = torch.stack(ws)
        # a product with few columns (the last layer's) is faster with the weight stored (D, N, K)
        w = w.transpose(1, 2).contiguous().transpose(1, 2) if w.shape[2] < 16 else w.contiguous()
        return (w, torch.stack(bs).repeat(1, sf), shift, kt, cin, kf, sf, pad, block.gated, block.last,
                f_in, -(-f_full // sf), f_full - 2 * pad)

    def stale(self) -> bool:
        """True when the model's weights or BatchNorm statistics changed since the plan was built."""
        return _weights_key(self.model) != self._key

    # ---------------------------------------------------------------- streaming
    def init_state(self, batch: int = 1) -> list:
        """Zero state: encoder histories ``(B*F, (kt-1)*C)``, LSTM ``(h, c)`` per layer
        ``(groups, B, H)``, decoder histories ``(decoders, B*F, (kt-1)*C)``."""
        def z(*shape):
            return self.enc[0][0].new_zeros(shape)

        st = [z(batch * e[8], (e[3] - 1) * e[4]) for e in self.enc]
        for _, _, _, h in self.lstm:
            st += [z(self.groups, batch, h), z(self.groups, batch, h)]
        st += [z(self.n_dec, batch * d[10], (d[3] - 1) * d[4]) for d in self.dec]
        return st

    def _new_layout(self, b: int):
        """:meth:`_layout` with buffers that steps in and out of ``torch.inference_mode`` can write."""
        with torch.inference_mode(False):
            return self._layout(b)

    def _layout(self, b: int):
        """Buffers and views for steps of batch ``b`` (made once per batch size): per
        layer the weights and the buffers that receive intermediate results, with
        their views, and the sizes and strides of the views of fresh tensors."""
        w0 = self.enc[0][0]
        new = w0.new_empty
        enc = []
        for w, bias, shift, kt, cin, kf, sf, gated, f_in, f_out in self.enc:
            win = new(b * f_out, kf * kt * cin)  # per row, the windows of the cached frames and the new one
            hist = ((b, f_out, kf * (kt - 1) * cin), (f_in * (kt - 1) * cin, sf * (kt - 1) * cin, 1))
            enc.append((w, bias, shift, kt, cin, hist, ((b, f_out, kf * cin), (f_in * cin, sf * cin, 1)),
                        win.view(b, f_out, -1), win, new(b * f_out, w.shape[1]) if gated else None, gated))
        g, dn = self.groups, self.n_dec
        lstm = []
        for li, (w, bias, d_in, h) in enumerate(self.lstm):
            k = d_in + h
            inp = new(g, b, k)  # [x, h] of every group
            gates = new(g, b, 4 * h)
            st = (b * 4 * h, 4 * h, 1)
            views = [gates.as_strided((g, b, n), st, off) for n, off in
                     ((3 * h, 0), (h, 0), (h, h), (h, 2 * h), (h, 3 * h))]  # i, f, o sigmoid; i; f; o; g
            # where the layer's input x comes from, as a view of the fresh tensor, and goes to in `inp`
            c, f = self.c_last, self.f_last
            if li == 0 and c % g == 0:  # encoder output (B*F, C), channel-major groups of (C/G, F)
                src = ((g, b, c // g, f), (c // g, f * c, 1, c))
                dst = inp.as_strided((g, b, c // g, f), (b * k, k, f, 1))
            elif li > 0 and not self.rearrange:  # the previous layer's h (G, B, H/G) as it is
                src, dst = ((g, b, d_in), (b * d_in, d_in, 1)), inp.narrow(2, 0, d_in)
            elif li > 0 and d_in % g == 0:  # rearranged: group g' takes element j of every group for
                m = d_in // g  # j in g'*H/G^2 ... (g'+1)*H/G^2, interleaved
                src = ((g, b, m, g), (m, d_in, 1, b * d_in))
                dst = inp.as_strided((g, b, m, g), (b * k, k, g, 1))
            else:  # the general gathers (see step)
                src, dst = None, inp.narrow(2, 0, d_in)
            lstm.append((w, bias, h, inp, gates, views, src, dst, inp.narrow(2, d_in, h)))
        c, f = self.c_last, self.f_last
        flat = (b * f, c)
        xd = None if b == 1 else new(b * f, c)  # the decoders' input, (B*F, C), batch > 1
        dec = []
        for w, bias, shift, kt, cin, kf, sf, pad, gated, last, f_in, j, f_out in self.dec:
            row, n_k, width = w.shape[1], w.shape[2], bias.shape[1]  # kt*C_in, kf*out, sf*out
            n_o = width // sf
            yk = new(dn, b * f_in, n_k)  # every tap of every input bin
            y = new(dn, b, j, width)  # the overlap-add: J rows of sf bins
            ys, ks = (b * j * width, j * width, width, 1), (b * f_in * n_k, f_in * n_k, n_k, 1)
            # overlap-add: tap k = q*sf + r of input bin i -> output bin sf*(i+q) + r, i.e. the taps
            # q*sf ... q*sf + sf-1 (adjacent columns of yk) go to rows i + q of y, one addition per q
            blocks = [(y.as_strided((dn, b, f_in, n), ys, (q // sf) * width),
                       yk.as_strided((dn, b, f_in, n), ks, q * n_o)) for q, n in
                      ((q, min(sf, kf - q) * n_o) for q in range(0, kf, sf))]
            if b == 1:
                act = y.as_strided((dn, f_out, n_o), (j * width, n_o, 1), pad * n_o)
            else:
                act = y.as_strided((dn, b, f_out, n_o), (b * j * width, j * width, n_o, 1), pad * n_o)
            hist = ((dn, b * f_in, (kt - 1) * cin), (b * f_in * row, row, 1), cin)
            # a buffer for the GLU's output (not kept in the state), but the last one of other heads
            out = new(act.shape[:-1] + (n_o // 2,)) if gated and (self._complex_head or not last) else None
            dec.append((w, bias[:, None, None].expand(dn, b, j, width).contiguous(), shift, kt, hist,
                        (dn, b * f_in), yk, y, blocks, act, (dn, b * f_out, -1), gated, last, out))
        f = self.freq_sizes[0]
        head = None
        if self._complex_head:  # (B, F, 2) output, its view of x's shape, x's parts, real and imaginary
            x = dec[-1][-1]  # the last GLU's output
            head = ((b, f, 2), (x.shape, (1, 2, 1) if b == 1 else (1, 2 * f, 2, 1)), x[0], x[1])
        lay = self._layouts[b] = (enc, lstm, dec, flat, xd, head)
        return lay

    def step(self, frame: torch.Tensor, state: list):
        """One complex STFT frame ``(B, F)`` -> enhanced frame ``(B, F)``, new state."""
        spec = frame if frame.dtype == self._cdtype else frame.to(self._cdtype)
        b = spec.shape[0]
        enc, lstm, dec, flat, xd, head = self._layouts.get(b) or self._new_layout(b)
        cat, nn_ = torch.cat, torch._C._nn
        # |Y|^c e^{jθ} as (B*F, channels); the clamp only touches |Y| < 1e-43 (0 stays 0)
        mag = spec.abs()
        if self.inputs == "complex":
            x = torch.view_as_real(spec).mul(mag.pow_(self.compress - 1.0).clamp_max_(1e30).unsqueeze(2))
        else:
            x = mag.pow_(self.compress).unsqueeze(2)
        x = x.reshape(-1, x.shape[2])  # (B*F, channels)
        new, skips = [], []
        for (w, bias, shift, kt, cin, h_win, x_win, win3, win, ybuf, gated), hist in zip(enc, state):
            # the frequency windows (B, F_out, kf*C) of the cached frames and of the new one, as
            # views of (B*F, C) tensors, side by side in one matrix
            xw = x.as_strided(*x_win, x.storage_offset())
            if kt > 1:
                cat((hist.as_strided(*h_win, hist.storage_offset()), xw), 2, out=win3)
                new.append(x if kt == 2 else cat((hist.narrow(1, cin, (kt - 2) * cin), x), 1))
            else:
                win3.copy_(xw)
                new.append(hist)
            if gated:  # the GLU's output, fresh, is kept in the state (without a GLU the product is)
                y = nn_.glu(torch.addmm(bias, win, w, out=ybuf), 1)
                if shift is not None:
                    y.add_(shift)
            else:
                y = torch.addmm(bias, win, w)
            x = nn_.elu_(y)  # encoder layers are never last
            skips.append(x)
        # bottleneck: channel-major flattening, as the offline model, in groups of the LSTM
        pos = len(enc)
        for w, bias, h, inp, gates, (sig, gi, gf, go, gg), src, dst, dst_h in lstm:
            if src is not None:
                dst.copy_(x.as_strided(*src, 0))  # x: fresh, contiguous
            elif pos == len(enc):  # (B*F, C) -> (B, C, F) flattened, in G groups
                dst.copy_(x.view(b, self.f_last, -1).transpose(1, 2).reshape(b, self.groups, -1)
                          .transpose(0, 1))
            else:  # rearranged: (G, B, H/G) -> (B, H/G, G) flattened, in G groups
                dst.copy_(x.permute(1, 2, 0).reshape(b, self.groups, -1).transpose(0, 1))
            dst_h.copy_(state[pos])
            torch.baddbmm(bias, inp, w, out=gates)  # (G, B, 4h): i, f, o, g
            sig.sigmoid_()
            c1 = torch.mul(gf, state[pos + 1])
            c1.addcmul_(gi, gg.tanh_())
            x = torch.tanh(c1).mul_(go)
            new += [x, c1]
            pos += 2
        # the decoders' input (D, B*F, C): the LSTM output, channel-major
        c, f = self.c_last, self.f_last
        if self.proj is not None:
            x = torch.addmm(self.proj[1], x.view(b, -1) if b == 1 else x.transpose(0, 1).reshape(b, -1),
                            self.proj[0])
        elif b > 1:
            x = x.transpose(0, 1).reshape(b, -1)
        if b == 1:
            x = x.as_strided((self.n_dec, f, c), (0, 1, f), 0)  # x: fresh, (G, 1, H/G) or (1, H)
        else:
            xd.view(b, f, c).copy_(x.view(b, c, f).transpose(1, 2))
            x = xd.expand(self.n_dec, *flat)
        for (w, bias, shift, kt, hist, rows, yk, y, blocks, act, shape, gated, last, buf), skip in \
                zip(dec, reversed(skips)):
            skip = skip.expand(*rows, skip.shape[1])  # (D, B*F_in, C_skip)
            z = cat((state[pos], x, skip) if kt > 1 else (x, skip), 2)  # (D, B*F_in, kt*C)
            new.append(z.as_strided(*hist) if kt > 1 else state[pos])
            pos += 1
            torch.bmm(z, w, out=yk)  # every tap of every input bin: (D, B*F_in, kf*out)
            y.copy_(bias)
            for dst, src in blocks:  # the overlap-add
                dst.add_(src)
            # act: (D, [B,] F_out, out), the bins kept
            x = (nn_.glu(act, -1) if buf is None else nn_.glu(act, -1, out=buf)) if gated else act
            if not last:
                if b > 1:
                    x = x.reshape(shape)  # (D, B*F_out, C)
                if shift is not None:
                    x.add_(shift)
                x = nn_.elu_(x)
        if head is not None:  # two decoders of one channel each: real, imaginary
            out = x.new_empty(head[0])
            parts = out.as_strided(*head[1])  # x's shape
            if self.compress == 1:
                parts.copy_(x)
            else:  # _decompress_parts: x |x|^(1/c - 1)
                torch.mul(x, torch.hypot(head[2], head[3]).pow_(self._head_pow), out=parts)
            return torch.view_as_complex(out), new
        if b == 1:
            x = x.unsqueeze(1)
        y = x.permute(1, 0, 3, 2).reshape(b, -1, 1, x.shape[2])  # (B, n_out, 1, F)
        return self.model._head(y, spec.unsqueeze(-1))["spec"][..., 0], new


def _weights_key(model) -> tuple:
    """Identity and version counter of every parameter and buffer: changes with any in-place
    update (optimiser step, ``load_state_dict``, BatchNorm statistics in training)."""
    return tuple((t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))


def frame_plan(model) -> FramePlan | None:
    """A :class:`FramePlan` for ``model`` (a CRN/GCRN with BatchNorm or no norm), else ``None``."""
    if not isinstance(model, (CRN, GCRN)):
        return None
    try:
        return FramePlan(model)
    except ValueError:
        return None


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelSpec:
    """A named model: its class, config class, the config fields that make the variant
    (applied to both the default and the tiny config) and a one-line description."""

    cls: type
    config_cls: type
    variant: dict = field(default_factory=dict)
    description: str = ""
    chapter: int = 0


#: name -> :class:`ModelSpec`. Configs as data: a variant is a set of field values.
MODELS: dict[str, ModelSpec] = {
    "lstm_mask": ModelSpec(LSTMEnhancer, LSTMConfig, dict(output="mask"),
                           "LSTM mask estimator: log-power -> LSTM -> sigmoid mask, noisy phase", 3),
    "lstm_map": ModelSpec(LSTMEnhancer, LSTMConfig, dict(output="magnitude"),
                          "LSTM direct mapping: log-power -> LSTM -> compressed magnitude, noisy phase", 3),
    "crn": ModelSpec(CRN, CRNConfig, {},
                     "CRN (Tan & Wang 2018): causal conv encoder-decoder + LSTM, magnitude mapping", 5),
    "gcrn": ModelSpec(GCRN, GCRNConfig, dict(target="complex", n_decoders=2),
                      "GCRN (Tan & Wang 2020): gated convs, grouped LSTM, shared encoder, "
                      "two decoders (real, imaginary)", 5),
    "gcrn_1dec": ModelSpec(GCRN, GCRNConfig,
                           dict(target="complex", n_decoders=1, decoder_channels=(104, 104, 56, 32)),
                           "GCRN with one wider decoder and 2 output channels (parameter-matched to gcrn)", 5),
    "gcrn_mag": ModelSpec(GCRN, GCRNConfig, dict(target="magnitude", n_decoders=1),
                          "GCRN encoder + one decoder predicting the compressed magnitude, noisy phase", 5),
    "gcrn_magphase": ModelSpec(GCRN, GCRNConfig, dict(target="mag_phase", n_decoders=2),
                               "GCRN encoder + two decoders: compressed magnitude and phase angle", 5),
    "tcn": ModelSpec(TCN, TCNConfig, {},
                     "causal Conv-TasNet-style TCN on waveforms (Luo & Mesgarani 2019): learned "
                     "encoder, dilated conv mask, transposed-conv decoder (time domain)", 6),
}


def _unknown(name) -> ValueError:
    return ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")


def config_for(name: str, tiny: bool = False, **overrides):
    """The config of model ``name`` (``tiny=True``: the test-sized one), with ``overrides``.

    Raises ``ValueError`` listing the valid names for an unknown name and
    ``TypeError`` listing the fields for an unknown field.
    """
    if name not in MODELS:
        raise _unknown(name)
    spec = MODELS[name]
    valid = [f.name for f in fields(spec.config_cls)]
    bad = [k for k in overrides if k not in valid]
    if bad:
        raise TypeError(f"{spec.config_cls.__name__} has no field(s) {', '.join(bad)}; "
                        f"fields: {', '.join(valid)}")
    kw = {**spec.variant, **overrides}
    if tiny:
        if name == "gcrn_1dec" and "decoder_channels" not in overrides:
            kw.pop("decoder_channels", None)  # the tiny config has its own matched widths
        return spec.config_cls.tiny(**kw)
    return spec.config_cls(**kw)


def build_from_config(name: str, config) -> nn.Module:
    """Model ``name`` built from an explicit ``config`` (of that model's config class)."""
    if name not in MODELS:
        raise _unknown(name)
    spec = MODELS[name]
    if not isinstance(config, spec.config_cls):
        raise TypeError(f"model {name!r} needs a {spec.config_cls.__name__}, got {type(config).__name__}")
    model = spec.cls(config)
    model.name = name
    return model


def build_model(name: str, tiny: bool = False, **overrides) -> nn.Module:
    """Build model ``name`` (see :data:`MODELS`) from its config with ``overrides``.

    ``build_model("gcrn")``: the default GCRN; ``build_model("lstm_mask", context=2,
    hidden=128)``; ``build_model("crn", tiny=True)``: the test-sized CRN. The model
    is in training mode (call ``.eval()`` for inference). Chapters 3, 5, 7.
    """
    return build_from_config(name, config_for(name, tiny=tiny, **overrides))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_table(tiny: bool = False) -> list[dict]:
    """One row per registered model: name, parameters, causal, chapter, description."""
    rows = []
    for name, spec in MODELS.items():
        m = build_model(name, tiny=tiny)
        rows.append(dict(name=name, parameters=count_parameters(m), causal=m.causal,
                         chapter=spec.chapter, description=spec.description))
    return rows


# --------------------------------------------------------------------------- inference
def enhance(model: nn.Module, noisy, cfg: STFTConfig | None = None):
    """Enhance a waveform: ``istft(model(stft(noisy)))``, in ``eval()`` mode, without gradients.

    ``noisy``: ``(L,)`` or ``(B, L)`` samples at the model's sample rate (NumPy or
    torch). ``cfg``: the STFT (default ``model.stft_config``; another one is only
    accepted when it has the model's ``n_fft``). Returns the enhanced waveform of the
    same shape and array type. The model's training flag is restored afterwards.
    A time-domain model (``model.domain == "time"``, e.g. ``tcn``) is run on the
    waveform directly: ``model(noisy)``; ``cfg`` must then be ``None`` or have the
    model's sample rate (no STFT is computed).
    """
    time_domain = getattr(model, "domain", "spectral") == "time"
    if time_domain and cfg is not None and cfg.sample_rate != model.stft_config.sample_rate:
        raise ValueError(f"cfg has sample_rate={cfg.sample_rate} but the model runs at "
                         f"{model.stft_config.sample_rate} Hz")
    cfg = model.stft_config if cfg is None else cfg
    if not time_domain and cfg.n_fft != model.stft_config.n_fft:
        raise ValueError(f"cfg has n_fft={cfg.n_fft} but the model expects {model.stft_config.n_fft}")
    x = as_tensor(noisy)
    if x.dim() not in (1, 2):
        raise ValueError(f"enhance expects (L,) or (B, L) samples, got shape {tuple(x.shape)}")
    dtype = _param_dtype(model)
    device = next(model.parameters()).device
    xb = x.to(device=device, dtype=dtype).reshape(-1, x.shape[-1])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y = model(xb) if time_domain else istft(model(stft(xb, cfg)), cfg, length=xb.shape[-1])
    finally:
        model.train(was_training)
    y = y.reshape(x.shape).to(x.dtype if x.is_floating_point() else dtype).cpu()
    return like(y, noisy)


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
    """The plain dict :func:`save` writes: format, name, config, state dict, extra."""
    if not isinstance(model, _SEModel) or model.name not in MODELS:
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
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(model_payload(model, extra), tmp)
    tmp.replace(path)
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
    """Rebuild the model of a :func:`model_payload` dict (weights loaded, ``eval()`` mode)."""
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
    """
    payload = torch.load(Path(path), map_location=map_location, weights_only=True)
    if isinstance(payload, dict) and "model" in payload and payload.get("format") != _FORMAT:
        payload = payload["model"]  # a training checkpoint
    return model_from_payload(payload)


def pretrained_path(name: str) -> Path:
    """``sedemo/pretrained/<name>.pt`` (whether or not it exists)."""
    if name not in MODELS:
        raise _unknown(name)
    return PRETRAINED_DIR / f"{name}.pt"


def load_pretrained(name: str) -> nn.Module:
    """The trained model ``name`` from ``sedemo/pretrained/<name>.pt`` (``eval()`` mode).

    Raises ``FileNotFoundError`` with the command that creates the file when it is
    missing. ``model.extra`` holds the training command and validation metrics.
    """
    path = pretrained_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"no pretrained {name!r} model at {path}. Create it with the book's exact "
            f"command: `bash scripts/train_models.sh {name}` (it runs `python -m sedemo.train "
            f"--model {name} ... --export {path}` and then `python -m sedemo.evaluate`), or "
            "train a short demo model in a notebook with sedemo.train.train(TrainConfig(...))."
        )
    return load(path)
