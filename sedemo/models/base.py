"""The model contract: :class:`SEModel` (config, name, STFT, causality flag, streaming
protocol) and :func:`enhance` (waveform -> waveform). Chapter: 05_complex_mapping.
"""
from __future__ import annotations


import torch
from torch import nn

from sedemo import layers as snn
from sedemo._gate import check_signal, finite_as
from sedemo._utils import as_tensor, like
from sedemo.dsp.stft import STFTConfig, istft, stft
from sedemo.masks import suppression_gain


# --------------------------------------------------------------------------- helpers
def _check_spec(spec: torch.Tensor, n_freqs: int, who: str) -> torch.Tensor:
    if not isinstance(spec, torch.Tensor):
        spec = as_tensor(spec)
    if not spec.is_complex():
        raise TypeError(
            f"{who} expects the complex noisy STFT (batch, F, T) from sedemo.dsp.stft.stft; "
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


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "cln":
        return snn.CumulativeLayerNorm(ch)
    return nn.Identity()


class SEModel(nn.Module):
    """Base class: config, name, STFT config, causality flag, input checks.

    Chapter: 05_complex_mapping."""

    name: str = ""
    #: ``"spectral"``: ``model(noisy_spec) -> enhanced_spec`` on complex STFTs;
    #: ``"time"``: ``model(noisy) -> enhanced`` on waveforms ``(B, L)`` (:class:`TCN`).
    domain: str = "spectral"

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def stft_config(self) -> STFTConfig:
        """The STFT the model expects (:func:`sedemo.dsp.stft.stft` with this config)."""
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

    def new_weights_over(self, source) -> tuple[str, ...] | None:
        """The parameter-name prefixes this model adds to ``source`` (a model of the same name
        with another config) when it may start from ``source``'s weights, the added ones
        keeping their initial values; ``None`` when it may not (the default: only an identical
        config may be copied). Used by fine-tuning (``--init-from``). Chapter: 05_complex_mapping."""
        return None

    # ------------------------------------------------------------ streaming (ch. 7)
    #: Future frames a streaming step needs before it can emit a frame (all book models: 0).
    lookahead_frames: int = 0

    def streaming_blocker(self) -> str | None:
        """Why this model cannot run frame by frame (a sentence), or ``None`` when it can.

        A model streams when it is causal (output frame ``t`` from input frames
        ``<= t``). Overridden by models with more reasons (bidirectional LSTM,
        spliced future frames). :func:`check_streamable` raises with it.
        Chapter: 07_causality."""
        return None if self.causal else f"{type(self).__name__} is not causal: it cannot stream"

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
        """Bytes held by the tensors of a streaming ``state`` (:func:`sedemo.layers.state_nbytes`)."""
        return snn.state_nbytes(state)

    def _step_input(self, frame_spec):
        """Accept ``(B, F, n)`` or one frame ``(B, F)``; return ``(spec (B, F, n), squeeze)``."""
        x = frame_spec if isinstance(frame_spec, torch.Tensor) else as_tensor(frame_spec)
        squeeze = x.dim() == 2
        if squeeze:
            x = x.unsqueeze(-1)
        check_streamable(self)
        self._check_step_mode()
        return self._prepare(x), squeeze

    def extra_repr(self) -> str:
        return f"name={self.name!r}, causal={self.causal}"


class SuppressionBoost(nn.Module):
    """A model whose suppression is turned up after the fact: its enhanced STFT ``S`` times
    :func:`sedemo.masks.suppression_gain` of its own effective gain ``|S| / |Y|`` (``Y`` the
    noisy STFT; 1 where ``|Y|`` is below 1e-12), ``S' = S · min(1, |S|/|Y|)^γ``, complex
    ``(B, F, T)``. For a mask model without a deep filter ``|S|/|Y|`` is ``|M|``; with one it
    also counts the filter's past taps. ``γ = 0`` gives the model unchanged. Offline only (no
    ``step``): a probe of whether a model leaves too much noise in, not a model to ship. The
    wrapped model's weights are not copied, and it takes the wrapped model's training flag.
    ``gamma`` >= 0. Chapter: 05_complex_mapping."""

    def __init__(self, model: nn.Module, gamma: float):
        super().__init__()
        suppression_gain(torch.ones(1), gamma)  # refuses a bad gamma now, in one line
        self.model, self.gamma = model, float(gamma)
        self.name = f"{getattr(model, 'name', '') or type(model).__name__} (suppression x{1 + self.gamma:g})"
        self.train(model.training)  # a new module is in training mode; keep the wrapped one's

    @property
    def stft_config(self) -> STFTConfig:
        """The wrapped model's STFT."""
        return self.model.stft_config

    @property
    def causal(self) -> bool:
        """The wrapped model's: the gain of frame ``t`` uses frame ``t`` only."""
        return bool(getattr(self.model, "causal", False))

    def estimate(self, noisy_spec: torch.Tensor) -> dict:
        """The wrapped model's outputs with ``"spec"`` (and ``"mask"``, if any) times the gain."""
        out = self.model.estimate(noisy_spec)
        y = noisy_spec.abs().to(out["spec"].real.dtype)
        ok = y > 1e-12
        effective = torch.where(ok, out["spec"].abs() / torch.where(ok, y, torch.ones_like(y)), torch.ones_like(y))
        gain = suppression_gain(effective, self.gamma)
        return {**out, "spec": out["spec"] * gain, **({"mask": out["mask"] * gain} if "mask" in out else {})}

    def forward(self, noisy_spec: torch.Tensor) -> torch.Tensor:
        """Complex ``(B, F, T)`` noisy STFT -> the boosted enhanced STFT."""
        return self.estimate(noisy_spec)["spec"]


def check_streamable(model) -> None:
    """The one streamability check: raise a clear error when ``model`` cannot run frame by frame.

    ``TypeError``: the model has no ``step``/``init_state`` (not a :mod:`sedemo.models`
    model). ``ValueError``: the model is not causal (bidirectional LSTM, spliced
    future frames, ...), with the reason of :meth:`SEModel.streaming_blocker`. Used by
    every model's ``step`` and by :class:`sedemo.streaming.StreamingEnhancer`.
    Claims C12-C13. Chapter: 07_causality.
    """
    if not (hasattr(model, "step") and hasattr(model, "init_state")):
        raise TypeError(
            f"{type(model).__name__} has no step()/init_state(): streaming needs a model of "
            "sedemo.models (build_model(...)) with a frame-by-frame step"
        )
    blocker = model.streaming_blocker() if hasattr(model, "streaming_blocker") else (
        None if getattr(model, "causal", False) else f"{type(model).__name__} is not causal: it cannot stream")
    if blocker:
        raise ValueError(f"cannot stream model {getattr(model, 'name', '') or type(model).__name__!r}: {blocker}")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``.

    Chapter: 05_complex_mapping."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def macs_per_second(model: nn.Module, seconds: float = 1.0) -> int:
    """Multiply-accumulates per second of audio of ``model``'s network, counted with forward
    hooks on one offline pass over ``seconds`` of noise: convolutions (output elements x
    input channels per group x kernel size), transposed convolutions (input elements x
    output channels per group x kernel size),
    linear layers, LSTM and GRU layers (steps x batch x directions x gates x hidden x
    (input + hidden)). Element-wise operations, normalisation, the STFT and fixed matrix
    products (e.g. ERB band matrices) are left out, as in the papers' MAC counts.
    Chapters: 05_complex_mapping, 07_causality."""
    import math

    from sedemo.dsp.stft import stft as _stft

    total = [0]

    def hook(mod, inp, out):
        x = inp[0]
        y = out[0] if isinstance(out, tuple) else out
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            total[0] += y.numel() * (mod.in_channels // mod.groups) * math.prod(mod.kernel_size)
        elif isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
            total[0] += x.numel() * (mod.out_channels // mod.groups) * math.prod(mod.kernel_size)
        elif isinstance(mod, nn.Linear):
            total[0] += y.numel() // mod.out_features * mod.in_features * mod.out_features
        elif isinstance(mod, (nn.LSTM, nn.GRU)):
            gates = 4 if isinstance(mod, nn.LSTM) else 3
            steps, batch = (x.shape[1], x.shape[0]) if mod.batch_first else (x.shape[0], x.shape[1])
            dirs, h = (2 if mod.bidirectional else 1), mod.hidden_size
            for layer in range(mod.num_layers):
                i = mod.input_size if layer == 0 else h * dirs
                total[0] += steps * batch * dirs * gates * h * (i + h)

    kinds = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear, nn.LSTM, nn.GRU)
    cfg = model.stft_config
    n = int(round(seconds * cfg.sample_rate))
    x = 0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(0), dtype=_param_dtype(model))
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x) if getattr(model, "domain", "spectral") == "time" else model(_stft(x, cfg))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return int(round(total[0] / seconds))


# --------------------------------------------------------------------------- inference
def enhance(model: nn.Module, noisy, cfg: STFTConfig | None = None):
    """Enhance a waveform: ``istft(model(stft(noisy)))``, in ``eval()`` mode, without gradients.

    ``noisy``: ``(L,)`` or ``(B, L)`` float samples at the model's sample rate (NumPy or
    torch), through the package's input gate: integer, boolean and complex samples,
    NaN/inf, values that overflow the model's dtype and channels-last audio (a last
    axis of at most 8 samples after an axis of more than 8, e.g. ``(N, 2)`` stereo: mix
    it down with ``x.mean(axis=-1)``) are refused with a one-line error; ``(C, L)``
    channels-first audio is enhanced as a batch, channel by channel. ``cfg``: the STFT
    (default ``model.stft_config``; another one is only accepted when it has the
    model's ``n_fft``). Returns the enhanced waveform of the
    same shape and array type. The model's training flag is restored afterwards.
    A time-domain model (``model.domain == "time"``, e.g. ``tcn``) is run on the
    waveform directly: ``model(noisy)``; ``cfg`` must then be ``None`` or have the
    model's sample rate (no STFT is computed).
    Chapter: 05_complex_mapping.
    """
    time_domain = getattr(model, "domain", "spectral") == "time"
    if time_domain and cfg is not None and cfg.sample_rate != model.stft_config.sample_rate:
        raise ValueError(f"cfg has sample_rate={cfg.sample_rate} but the model runs at "
                         f"{model.stft_config.sample_rate} Hz")
    cfg = model.stft_config if cfg is None else cfg
    if not time_domain and cfg.n_fft != model.stft_config.n_fft:
        raise ValueError(f"cfg has n_fft={cfg.n_fft} but the model expects {model.stft_config.n_fft}")
    x = check_signal(noisy, "enhance: noisy", ndim=(1, 2))
    dtype = _param_dtype(model)
    device = next(model.parameters()).device
    xb = finite_as(x, dtype, "enhance: noisy", device=device).reshape(-1, x.shape[-1])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y = model(xb) if time_domain else istft(model(stft(xb, cfg)), cfg, length=xb.shape[-1])
    finally:
        model.train(was_training)
    if not torch.isfinite(y).all():
        raise ValueError(f"enhance: the model {getattr(model, 'name', '') or type(model).__name__!r} produced NaN or "
                         "infinite samples from a finite input: its weights are broken (retrain it, or load another "
                         "checkpoint)")
    y = y.reshape(x.shape).to(x.dtype).cpu()
    return like(y, noisy)


