"""The streaming enhancers: waveform in, waveform out, hop by hop (see :mod:`sedemo.streaming`).
Chapter: 07_causality.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F

from sedemo._gate import check_signal, finite_as
from sedemo._utils import like
from sedemo.layers import state_nbytes
from sedemo.dsp.stft import STFTConfig, window
from sedemo.models.base import check_streamable



class StreamingEnhancer:
    """Real-time enhancement of a waveform, hop by hop, with a causal model.

    ``model``: a causal model of :mod:`sedemo.models` (``gcrn`` and its variants,
    ``crn``, ``lstm_mask``, ``lstm_map`` with ``bidirectional=False`` and
    ``right_context=0``); a non-causal one raises ``ValueError`` saying why.
    ``batch``: number of signals streamed in parallel (inputs ``(batch, n)``;
    with ``batch=1`` inputs may be ``(n,)``). ``frames_per_step``: frames given to
    ``model.step`` at once: 1 (default) is true hop-by-hop processing; ``None``
    runs every frame that a chunk completes in one call (block streaming; same
    output, less Python overhead per frame). ``plan``: with ``frames_per_step=1``,
    run CRN/GCRN models through :class:`sedemo.streaming.FramePlan` (the same frame
    computed with weights prepared once: faster than ``model.step``, see
    ``benchmarks/README.md`` for measured timings; equal to float rounding); ``False`` uses ``model.step``. Other models always use
    ``model.step``. The plan is (re)built by :meth:`reset` when the weights changed.

    The model runs in ``eval()`` mode without gradients during each call (its
    training flag is restored afterwards), as :func:`sedemo.models.enhance` does.

    Use: ``enh = StreamingEnhancer(model)``; ``y = enh.process(chunk)`` for each
    incoming chunk of any size (returns the samples finished so far, a multiple
    of ``hop``, possibly none); ``y_end = enh.flush()`` at the end of the stream
    (returns the rest; the enhancer is then reset); ``enh.reset()`` to start a
    new stream. The concatenated output is the input delayed by
    :attr:`output_delay` samples (see the module docstring). Chapter 7.
    Chapter: 07_causality.
    """

    def __new__(cls, model=None, *args, **kwargs):
        # a time-domain model (model.domain == "time") streams without an STFT
        if cls is StreamingEnhancer and getattr(model, "domain", "spectral") == "time":
            cls = TimeStreamingEnhancer
        return super().__new__(cls)

    def _init_common(self, model, batch: int, frames_per_step, plan: bool) -> None:
        """Checks and attributes shared by the spectral and the time-domain enhancer."""
        if frames_per_step is not None and frames_per_step < 1:
            raise ValueError(f"frames_per_step must be >= 1 or None, got {frames_per_step}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.model = model
        self.cfg: STFTConfig = model.stft_config
        self.batch = batch
        self.frames_per_step = frames_per_step
        self.use_plan = plan
        p = next(model.parameters())
        self.dtype, self.device = p.dtype, p.device

    def __init__(self, model, batch: int = 1, frames_per_step: int | None = 1, plan: bool = True):
        check_streamable(model)
        self._init_common(model, batch, frames_per_step, plan)
        self.n_fft, self.hop = self.cfg.n_fft, self.cfg.hop
        self._w = window(self.cfg, self.dtype).to(self.device)
        self._w2 = self._w.square()
        self.reset()

    # ------------------------------------------------------------------ properties
    @property
    def lookahead_frames(self) -> int:
        """Future frames the model needs (0 for every causal model of the book)."""
        return int(getattr(self.model, "lookahead_frames", 0))

    @property
    def output_delay(self) -> int:
        """Samples by which the output stream lags the input: ``n_fft - hop``
        (+ ``lookahead_frames * hop``). 160 samples = 10 ms by default."""
        return self.n_fft - self.hop + self.lookahead_frames * self.hop

    @property
    def algorithmic_latency_ms(self) -> float:
        """Window length + model lookahead: ``(n_fft + lookahead_frames*hop) / sr`` in ms.

        20 ms for the default causal GCRN (20 ms window, no lookahead): the
        longest time between a sample entering and leaving, computation excluded."""
        return 1000.0 * (self.n_fft + self.lookahead_frames * self.hop) / self.cfg.sample_rate

    @property
    def model_state_nbytes(self) -> int:
        """Bytes of the model's cached state (convolution histories, LSTM states, ...)."""
        return state_nbytes(self._state)

    @property
    def state_nbytes(self) -> int:
        """All memory the stream keeps: the model state plus the enhancer's buffers
        (last ``n_fft - hop`` input samples, pending input, overlap-add and window-sum
        tails of ``n_fft - hop`` samples). Constant over the stream for the book's models."""
        bufs = (self._in_hist, self._pending, self._ola, self._env)
        return self.model_state_nbytes + state_nbytes(bufs)

    @property
    def frames_processed(self) -> int:
        """Frames enhanced since the last reset."""
        return self._frames

    # ------------------------------------------------------------------ streaming
    def reset(self) -> None:
        """Forget the stream: zero buffers and a fresh model state."""
        b, kw = self.batch, dict(dtype=self.dtype, device=self.device)
        self._in_hist = torch.zeros(b, self.n_fft - self.hop, **kw)
        self._pending = torch.zeros(b, 0, **kw)
        self._ola = torch.zeros(b, self.n_fft - self.hop, **kw)  # overlap-add tail of past frames
        self._env = torch.zeros(self.n_fft - self.hop, **kw)  # the same for the squared windows
        self._env_head = None  # constant divisor of the emitted hop once the stream is running
        self._plan = self._frame_plan()
        self._state = self.model.init_state(b) if self._plan is None else self._plan.init_state(b)
        self._frames = 0
        self._n_in = 0  # input samples received
        self._next_out = -self.output_delay  # input index of the next emitted sample
        self._flat = None

    def _frame_plan(self):
        """The model's :class:`sedemo.streaming.FramePlan` for hop-by-hop streaming (weights
        prepared once; rebuilt here when the weights changed since), or ``None``: block
        streaming (``frames_per_step != 1``) and models without a plan use ``model.step``."""
        if self.frames_per_step != 1 or not self.use_plan:
            return None
        plan = getattr(self, "_plan", None)
        if plan is not None and plan.model is self.model and not plan.stale():
            return plan
        from sedemo.streaming.frame_plan import frame_plan

        return frame_plan(self.model)

    def _as_input(self, chunk) -> torch.Tensor:
        """The input gate for one chunk (float samples, finite in the model's dtype, (n,) or
        (batch, n)), before anything of the stream changes: a bad chunk leaves it intact."""
        name = "StreamingEnhancer.process: chunk"
        x = check_signal(chunk, name, ndim=(1, 2), allow_empty=True, batch=self.batch)
        if x.dim() == 1 and self.batch != 1:
            raise ValueError(f"{name} has shape {tuple(x.shape)}; this enhancer streams batch="
                             f"{self.batch} signals: pass ({self.batch}, n) chunks")
        x = finite_as(x, self.dtype, name, device=self.device)
        if x.dim() == 1:
            self._flat = True if self._flat is None else self._flat
            return x.unsqueeze(0)
        self._flat = False if self._flat is None else self._flat
        return x

    def _run_frames(self, block: torch.Tensor) -> torch.Tensor:
        """Enhance the frames completed by ``block`` ``(B, m*hop)``; return ``(B, m*hop)`` samples."""
        n_fft, hop = self.n_fft, self.hop
        sig = torch.cat([self._in_hist, block], dim=-1)
        self._in_hist = sig[:, sig.shape[-1] - (n_fft - hop):].clone()
        frames = sig.unfold(-1, n_fft, hop)  # (B, m, n_fft): frame t of the offline STFT
        spec = torch.fft.rfft(frames * self._w, dim=-1).transpose(1, 2)  # (B, F, m)
        m = spec.shape[-1]
        step = m if self.frames_per_step is None else self.frames_per_step
        outs = []
        if self._plan is not None:  # one frame per step, prepared weights
            for s in range(m):
                y, self._state = self._plan.step(spec[..., s], self._state)
                outs.append(y.unsqueeze(-1))
        else:
            for s in range(0, m, step):
                y, self._state = self.model.step(spec[..., s : s + step], self._state)
                outs.append(y)
        out_spec = outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)
        out_frames = torch.fft.irfft(out_spec, n=n_fft, dim=1) * self._w[:, None]  # (B, n_fft, m)
        emitted = []
        steady = -(-n_fft // hop)  # frames after which the window sum no longer changes
        for t in range(m):  # overlap-add: after frame t the first hop samples are final
            acc = out_frames[..., t] + F.pad(self._ola, (0, hop))
            head = self._env_head
            if head is None:
                env = self._w2 + F.pad(self._env, (0, hop))
                head, self._env = env[:hop].clamp_min(torch.finfo(env.dtype).tiny), env[hop:]
                if self._frames + t + 1 >= steady:
                    self._env_head = head
            emitted.append(acc[:, :hop] / head)
            self._ola = acc[:, hop:]
        self._frames += m
        return self._emit(emitted[0] if m == 1 else torch.cat(emitted, dim=-1))

    def _emit(self, y: torch.Tensor) -> torch.Tensor:
        """Zero the samples that precede the input (the start-up delay); advance the clock."""
        start = self._next_out
        if start < 0:
            y = y.clone()
            y[:, : min(-start, y.shape[-1])] = 0.0
        self._next_out += y.shape[-1]
        return y

    def _out(self, y: torch.Tensor, like_chunk):
        y = y.detach()
        if self._flat:
            y = y[0]
        return like(y, like_chunk) if like_chunk is not None else y

    def process(self, chunk):
        """Feed the next input samples ``(n,)`` or ``(batch, n)`` (any ``n >= 0``).

        Returns the output samples finished by this chunk, same array type as
        ``chunk`` (NumPy or torch): ``hop`` samples for every frame completed, so
        between 0 and ``n + hop - 1`` samples. The chunk passes the package's input gate
        first: integer, boolean or complex samples, NaN/inf (also values that overflow the
        model's dtype) and wrong shapes raise ``ValueError`` and leave the stream as it
        was, so the next good chunk continues it."""
        x = self._as_input(chunk)
        self._n_in += x.shape[-1]
        if self._pending.shape[-1] == 0 and x.shape[-1] % self.hop == 0:  # whole hops: no buffering
            m, block = x.shape[-1] // self.hop, x
        else:
            pending = torch.cat([self._pending, x], dim=-1)
            m = pending.shape[-1] // self.hop
            self._pending = pending[:, m * self.hop :].clone()
            block = pending[:, : m * self.hop]
        if m == 0:
            return self._out(x.new_zeros(self.batch, 0), chunk)
        with _inference(self.model):
            y = self._run_frames(block)
        return self._out(y, chunk)

    def flush(self):
        """End the stream: pad the last partial hop with zeros (as the offline STFT does),
        enhance it and return every remaining output sample, up to the input length
        plus :attr:`output_delay`. The enhancer is reset afterwards."""
        parts = []
        with _inference(self.model):
            r = self._pending.shape[-1]
            if r:
                block = torch.cat([self._pending, self._pending.new_zeros(self.batch, self.hop - r)], dim=-1)
                self._pending = self._pending[:, :0]
                parts.append(self._run_frames(block))
            # the overlap-add tail: samples no later frame will complete (offline: no later frame either)
            tail = self._ola / self._env.clamp_min(torch.finfo(self._env.dtype).tiny)
            parts.append(self._emit(tail))
        y = torch.cat(parts, dim=-1)
        return self._finish(y)

    def _finish(self, y: torch.Tensor):
        """End of :meth:`flush`: keep the output up to ``n_in + output_delay`` samples
        (``self._next_out + output_delay`` were emitted), reset, return in the input's type."""
        excess = self._next_out - self._n_in
        if excess > 0:
            y = y[:, : y.shape[-1] - excess]
        flat = self._flat if self._flat is not None else self.batch == 1
        self.reset()
        self._flat = flat
        out = self._out(y, None)
        self._flat = None
        return out

    def __repr__(self) -> str:
        return (f"StreamingEnhancer(model={getattr(self.model, 'name', type(self.model).__name__)!r}, "
                f"n_fft={self.n_fft}, hop={self.hop}, latency={self.algorithmic_latency_ms:g} ms, "
                f"output_delay={self.output_delay} samples, state={self.state_nbytes} B)")


class TimeStreamingEnhancer(StreamingEnhancer):
    """Real-time enhancement with a time-domain model (``tcn``), block by block.

    Same API as :class:`StreamingEnhancer` (which returns one of these for a model
    with ``model.domain == "time"``): ``process(chunk)`` any number of samples,
    ``flush()``, ``reset()``, ``output_delay``, ``algorithmic_latency_ms``,
    ``state_nbytes``. The block (``hop``) is the encoder stride ``S``: input samples
    are buffered until ``S`` have arrived, then ``model.step`` turns them into one
    encoder frame and ``S`` output samples (``frames_per_step`` frames per call, or
    every completed frame at once with ``None``). The output stream is the offline
    ``models.enhance`` output delayed by ``output_delay = K - S`` samples (zeros
    first); ``flush`` feeds zeros until every input sample's output is out, as the
    offline zero padding does. Algorithmic latency: the encoder kernel ``K`` (the
    first sample of a block waits ``S`` samples for the block, then ``K - S`` for
    the overlap-add). ``plan`` is ignored (no :class:`sedemo.streaming.FramePlan`).
    Chapter: 07_causality.
    """

    def __init__(self, model, batch: int = 1, frames_per_step: int | None = 1, plan: bool = True):
        check_streamable(model)
        if getattr(model, "domain", "spectral") != "time":
            raise TypeError(f"TimeStreamingEnhancer needs a time-domain model (model.domain == 'time'); "
                            f"use StreamingEnhancer for {getattr(model, 'name', type(model).__name__)!r}")
        self._init_common(model, batch, frames_per_step, False)
        self.kernel, self.hop = int(model.config.kernel), int(model.config.stride)
        self.reset()

    @property
    def lookahead_frames(self) -> int:
        return 0

    @property
    def output_delay(self) -> int:
        """``K - S`` samples (kernel minus stride): 16 samples = 1 ms by default."""
        return self.kernel - self.hop

    @property
    def algorithmic_latency_ms(self) -> float:
        """The encoder kernel ``K``: 2 ms by default (32 samples at 16 kHz)."""
        return 1000.0 * self.kernel / self.cfg.sample_rate

    @property
    def state_nbytes(self) -> int:
        """The model state plus the pending input samples (fewer than one block)."""
        return self.model_state_nbytes + state_nbytes(self._pending)

    def reset(self) -> None:
        """Forget the stream: a fresh model state, no pending samples."""
        self._pending = torch.zeros(self.batch, 0, dtype=self.dtype, device=self.device)
        self._plan = None
        self._state = self.model.init_state(self.batch)
        self._frames = 0
        self._n_in = 0
        self._next_out = -self.output_delay
        self._flat = None

    def _run_frames(self, block: torch.Tensor) -> torch.Tensor:
        m = block.shape[-1] // self.hop
        step = m if self.frames_per_step is None else self.frames_per_step
        outs = []
        for f in range(0, m, step):
            y, self._state = self.model.step(block[:, f * self.hop : (f + step) * self.hop], self._state)
            outs.append(y)
        self._frames += m
        return self._emit(outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1))

    def flush(self):
        """End the stream: pad the last partial block with zeros, feed zero blocks until the
        output of every input sample is out, and return the rest (up to the input length
        plus :attr:`output_delay`). The enhancer is reset afterwards."""
        parts = []
        with _inference(self.model):
            r = self._pending.shape[-1]
            if r:
                parts.append(self._run_frames(torch.cat(
                    [self._pending, self._pending.new_zeros(self.batch, self.hop - r)], dim=-1)))
                self._pending = self._pending[:, :0]
            need = self._n_in - self._next_out  # samples of the input not yet out
            if need > 0:
                n = -(-need // self.hop) * self.hop
                parts.append(self._run_frames(torch.zeros(self.batch, n, dtype=self.dtype,
                                                          device=self.device)))
        y = torch.cat(parts, dim=-1) if parts else torch.zeros(self.batch, 0, dtype=self.dtype,
                                                                  device=self.device)
        return self._finish(y)

    def __repr__(self) -> str:
        return (f"TimeStreamingEnhancer(model={getattr(self.model, 'name', type(self.model).__name__)!r}, "
                f"kernel={self.kernel}, hop={self.hop}, latency={self.algorithmic_latency_ms:g} ms, "
                f"output_delay={self.output_delay} samples, state={self.state_nbytes} B)")


class _inference:
    """eval() + ``torch.inference_mode`` for the duration of a call (restores the training
    flag). Inference mode skips autograd's bookkeeping: about 10 % less time per frame
    than ``no_grad`` for the GCRN, whose frame is a few hundred tiny operations. The
    mode is only switched when the model is in training mode: ``eval()`` and
    ``train()`` walk every submodule (about 0.3 ms each for the GCRN's 148 modules,
    a third of a frame's budget at RTF 0.1)."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        if self.was_training:
            self.model.eval()
        self.ng = torch.inference_mode()
        self.ng.__enter__()

    def __exit__(self, *exc):
        self.ng.__exit__(*exc)
        if self.was_training:
            self.model.train(True)
        return False


def stream_file(model, noisy, chunk: int | float | None = None, align: bool = True,
                frames_per_step: int | None = 1):
    """Stream a whole signal through :class:`StreamingEnhancer` in chunks of ``chunk`` samples.

    ``noisy``: ``(L,)`` or ``(B, L)`` float samples (NumPy or torch; the input gate of
    :func:`sedemo.models.enhance`: channels-last ``(N, C)`` audio, integers, NaN/inf are
    refused). ``chunk``: samples per
    :meth:`~StreamingEnhancer.process` call (default one hop; a float is rounded per
    call, e.g. ``3.7 * hop`` gives chunks of 592 and 593 samples; ``>= L``: the
    whole signal at once). ``align=True`` removes the
    ``output_delay`` start-up samples, so the result has length ``L`` and equals
    :func:`sedemo.models.enhance` (to float precision); ``align=False`` returns
    the raw stream (length ``L + output_delay``). Same array type as ``noisy``.
    Chapter: 07_causality.
    """
    x = check_signal(noisy, "stream_file: noisy", ndim=(1, 2))
    xb = x.reshape(-1, x.shape[-1])
    enh = StreamingEnhancer(model, batch=xb.shape[0], frames_per_step=frames_per_step)
    length = xb.shape[-1]
    step = float(enh.hop if chunk is None else chunk)
    if step <= 0:
        raise ValueError(f"chunk must be > 0 samples, got {chunk}")
    outs, pos, k = [], 0, 0
    while pos < length:
        k += 1
        end = min(length, max(pos + 1, int(round(k * step))))
        outs.append(enh.process(xb[:, pos:end]))
        pos = end
    outs.append(enh.flush())
    y = torch.cat(outs, dim=-1)
    if align:
        y = y[:, enh.output_delay : enh.output_delay + length]
    y = y.reshape(*x.shape[:-1], y.shape[-1]).to(x.dtype)
    return like(y, noisy)


