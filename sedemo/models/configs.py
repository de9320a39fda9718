"""Model configs: frozen dataclasses, one per family, each with a ``tiny()`` for the tests.

Configs are data, not code: :func:`sedemo.models.build_model` turns a name and a config
into a model. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

from dataclasses import dataclass


from sedemo.dsp.stft import STFTConfig




# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class _STFTFields:
    """STFT fields shared by every config (see :class:`sedemo.dsp.stft.STFTConfig`)."""

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
      each frame (:func:`sedemo.dsp.features.splice`); ``right_context > 0`` makes the
      model non-causal (it reads that many future frames, claim C1).
    * ``hidden``, ``layers``, ``dropout`` (between LSTM layers), ``bidirectional``
      (non-causal, for claim C12 only).
    * ``feat_mean_db``, ``feat_std_db``: fixed input normalisation
      ``(logpow - mean) / std``. Fixed (not utterance-level) statistics keep the
      model causal; the defaults are round values near the mean and standard
      deviation of the noisy log-power over 40 training mixtures of the book's
      corpus (-22.6 dB and 17.3 dB).
    * ``floor_db``: floor of the log-power (:func:`sedemo.dsp.features.log_power`).

    Chapter: 03_masks.
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
    (:class:`sedemo.layers.CumulativeLayerNorm`, causal in both modes) or ``"none"``.
    ``compress = 1`` gives the paper's raw magnitude.
    Chapter: 05_complex_mapping.
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
    Chapter: 05_complex_mapping.
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
    analysis encoder (a strided :class:`sedemo.layers.CausalConv1d` of ``filters``
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
    Chapter: 05_complex_mapping.
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


@dataclass(frozen=True)
class ULCRNConfig(_STFTFields):
    """Ultra-light causal CRN with a complex ratio mask (:class:`sedemo.models.ULCRN`), chapter 5.

    * ``low_bins`` bins kept as they are and ``erb_bands`` ERB bands above them
      (:func:`sedemo.dsp.features.erb_band_matrices`); their sum must be a multiple of 4
      (two frequency-strided convolutions). Default 32 + 32 = 64 positions (bins below
      1.6 kHz kept; 161 bins in all).
    * ``channels``: the width of every block (16: about 32 K parameters).
    * ``dilations``: one GT block per entry in the encoder, mirrored in the decoder; time
      dilations of the causal depthwise convolutions (kernel 3 frames).
    * ``rnn_blocks``: dual-path GRU blocks in the bottleneck.
    * ``attention``: temporal recurrent attention (a channel gate from a GRU) in each GT block.
    * ``compress``: power-law exponent of the input features (the mask multiplies the
      uncompressed noisy STFT).
    * ``df_order``: taps of a causal deep filter on the ``low_bins`` lowest bins. 1 (the
      default): the complex ratio mask alone. ``N`` > 1: the mask's output plus a complex
      filter over the ``N - 1`` previous noisy frames of each low bin,
      ``S(f, t) = M Y(f, t) + Σ_{k=1}^{N-1} W_k(f, t) Y(f, t - k)`` (DeepFilterNet's deep
      filtering, Schröter et al. 2022, past taps only). Its head starts at zero, so a model
      grown from a mask-only one starts with that model's output.

    Chapter: 05_complex_mapping.
    """

    channels: int = 16
    low_bins: int = 32
    erb_bands: int = 32
    dilations: tuple = (1, 2, 5)
    rnn_blocks: int = 2
    attention: bool = True
    compress: float = 0.3
    df_order: int = 1

    def __post_init__(self):
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        if int(self.channels) != self.channels or self.channels < 2 or self.channels % 2:
            raise ValueError(f"channels must be an even whole number >= 2, got {self.channels!r}")
        if any(d < 1 for d in self.dilations) or not self.dilations:
            raise ValueError(f"dilations must be whole numbers >= 1, got {self.dilations!r}")
        if self.rnn_blocks < 0:
            raise ValueError(f"rnn_blocks must be >= 0, got {self.rnn_blocks}")
        if self.low_bins + self.erb_bands > self.n_freqs or (self.low_bins + self.erb_bands) % 4:
            raise ValueError(f"low_bins + erb_bands must be a multiple of 4 and at most n_freqs="
                             f"{self.n_freqs}, got {self.low_bins} + {self.erb_bands}")
        _check_compress(self.compress)
        if int(self.df_order) != self.df_order or not 1 <= self.df_order <= 8:
            raise ValueError(f"df_order must be a whole number of taps in [1, 8] (1: the mask alone), "
                             f"got {self.df_order!r}")
        object.__setattr__(self, "df_order", int(self.df_order))

    @classmethod
    def tiny(cls, **overrides) -> "ULCRNConfig":
        """A test-sized config: 64-point FFT (33 bins -> 8 + 8 bands), 4 channels, 2 GT blocks."""
        base = dict(n_fft=64, hop=32, channels=4, low_bins=8, erb_bands=8, dilations=(1, 2), rnn_blocks=1)
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


