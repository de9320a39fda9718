"""Causal building blocks for the book's models, each with a streaming ``step``.

Chapter 7 explains every rule implemented here
(guidebook claims C12-C15); chapter 5 builds the CRN/GCRN models from these blocks.

Layout convention (time is always an explicit axis):

* 2-D convolutions: ``(batch, channels, time, freq)``, time is dim 2;
* 1-D convolutions and :class:`CumulativeLayerNorm`: ``(batch, channels, time)``
  (or ``(batch, channels, time, freq)``), time is dim 2;
* attention: ``(batch, time, features)``, time is dim 1.

Causality rule (C13). A layer is causal when output frame ``t`` depends only on
input frames ``<= t``. For a convolution along time with kernel ``k`` and dilation
``d`` the receptive field spans ``d*(k-1) + 1`` frames; PyTorch's symmetric
``padding`` centres it on ``t`` and so reads ``d*(k-1)/2`` *future* frames. The
blocks below pad the time axis as ``(d*(k-1) - lookahead, lookahead)`` (past side,
future side), the convention of DeepFilterNet (Schröter et al. 2022): the future
context is an explicit, named parameter (default 0) instead of an accident. Time
strides are refused: a model that downsamples time and upsamples it back hands
earlier frames information from later ones (the same leak as pooling along time).

Streaming. Every block has ``step(x, state) -> (y, state)``: ``x`` holds the next
``n >= 1`` frames (time axis as above), ``state`` is what the block must remember
(``None`` at the start of a stream). Convolutions keep their last input frames
(``inp = cat(state, x); state = inp[..., -(span):]``, as GTCRN's streaming code
does); attention keeps keys and values; the cumulative norm keeps running sums.
Running a stream through ``step`` reproduces the offline ``forward`` (tested to
1e-5 in float32). A block with ``lookahead = L > 0`` cannot emit frame ``t``
before it has seen frame ``t + L``: its outputs lag ``L`` frames behind its inputs
(the first calls return fewer frames) and ``L`` zero frames flush the end, which
is exactly what the offline zero padding does. :func:`stream` does this for one
block; the book's streaming model runner builds on the same interface.
:func:`state_nbytes` measures a state (for C14's memory-growth curves).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CausalConv1d",
    "CausalConv2d",
    "CausalConvTranspose2d",
    "CausalMultiheadAttention",
    "ChunkedAttention",
    "CumulativeLayerNorm",
    "StreamingModule",
    "state_nbytes",
    "stream",
]


def state_nbytes(state) -> int:
    """Bytes held by the tensors of a streaming state (nested tuples/lists/dicts).

    ``None`` and non-tensor leaves count 0. Used for the memory-growth curves of
    chapter 7 (claim C14): full causal attention grows linearly with the stream,
    windowed and chunked attention stay bounded.
    Chapter: 07_causality.
    """
    if state is None:
        return 0
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(state_nbytes(v) for v in state.values())
    if isinstance(state, (tuple, list)):
        return sum(state_nbytes(v) for v in state)
    return 0


class StreamingModule(nn.Module):
    """Base class of the causal blocks: an offline ``forward`` plus a streaming ``step``.

    Class attributes: ``time_dim`` (the time axis of inputs and outputs) and
    ``lookahead`` (future frames each output needs; the stream lags this much).
    Subclasses implement ``step(x, state=None) -> (y, state)``. Chapter 7.
    Chapter: 07_causality.
    """

    time_dim: int = 2
    lookahead: int = 0

    def step(self, x: torch.Tensor, state=None):  # pragma: no cover - interface
        raise NotImplementedError

    @staticmethod
    def state_nbytes(state) -> int:
        """Bytes held by ``state``; see :func:`state_nbytes`."""
        return state_nbytes(state)


def stream(module: StreamingModule, x: torch.Tensor, chunk_size: int = 1, flush: bool = True):
    """Run ``module`` on ``x`` chunk by chunk through ``module.step`` and concatenate.

    ``x``: a whole input in the module's layout; ``chunk_size``: frames per call.
    With ``flush=True``, ``module.lookahead`` zero frames are fed at the end so the
    result has the offline length and equals ``module(x)`` (chapter 7 tests this).
    Returns ``(y, state)``: the streamed output and the final state.
    Chapter: 07_causality.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    td = module.time_dim
    n = x.shape[td]
    state = None
    outs = []
    for start in range(0, n, chunk_size):
        y, state = module.step(x.narrow(td, start, min(chunk_size, n - start)), state)
        outs.append(y)
    if flush and module.lookahead:
        shape = list(x.shape)
        shape[td] = module.lookahead
        y, state = module.step(x.new_zeros(shape), state)
        outs.append(y)
    return torch.cat(outs, dim=td), state


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair (time, freq), got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _check_lookahead(lookahead: int, span: int, what: str) -> None:
    if not 0 <= lookahead <= span:
        raise ValueError(
            f"lookahead must be between 0 and {span} for this {what} (its time receptive "
            f"field spans {span + 1} frames: (kernel-1)*dilation past/future frames to "
            f"share); got {lookahead}"
        )


def _check_ndim(x: torch.Tensor, ndim: int, layout: str, cls: str) -> None:
    if x.dim() != ndim:
        raise ValueError(f"{cls} expects a {ndim}-D input {layout}, got shape {tuple(x.shape)}")


class _TimeCachedConv(StreamingModule):
    """Shared streaming logic of the convolutions: a state of past (padded) input frames.

    Subclasses set ``_span`` (receptive field along time minus one), ``_tstride``,
    ``pad_past`` (= ``_span - lookahead``) and implement ``_valid(inp)``: the layer
    applied to ``inp`` *without* time padding, mapping ``(m-1)*stride + span + 1``
    frames to ``m`` frames; and ``_pad_freq(x)`` for frequency padding.
    """

    time_dim = 2
    _span: int
    _tstride: int = 1
    pad_past: int

    def _pad_freq(self, x):
        return x

    def _valid(self, inp):  # pragma: no cover - interface
        raise NotImplementedError

    def init_state(self, x_like: torch.Tensor) -> torch.Tensor:
        """The state at the start of a stream: ``pad_past`` zero frames shaped like
        ``x_like`` (one chunk of input, in the input layout). ``step(x, None)`` uses it."""
        x_like = self._pad_freq(x_like)
        shape = list(x_like.shape)
        shape[2] = self.pad_past
        return x_like.new_zeros(shape)

    def step(self, x: torch.Tensor, state=None):
        """Process the next ``n >= 1`` frames ``x`` (time at dim 2) of a stream.

        Returns ``(y, state)``; ``y`` holds every output frame that the frames seen so
        far determine: ``n`` frames (``ceil``-ed by the stride) once the stream is
        ``lookahead`` frames in, fewer (possibly 0) before. Concatenating the ``y``
        of successive calls (plus ``lookahead`` zero frames to flush) gives the
        offline ``forward``. Cache: the last ``span`` padded input frames, with
        ``span = dilation*(kernel-1)`` along time.
        """
        x = self._pad_freq(x)
        if state is None:
            shape = list(x.shape)
            shape[2] = self.pad_past
            state = x.new_zeros(shape)
        inp = torch.cat([state, x], dim=2)
        n = inp.shape[2]
        s = self._tstride
        n_out = 0 if n <= self._span else (n - self._span - 1) // s + 1
        if n_out:
            y = self._valid(inp.narrow(2, 0, (n_out - 1) * s + self._span + 1))
        else:  # not enough frames yet (lookahead warm-up): an empty output of the right shape
            shape = list(inp.shape)
            shape[2] = self._span + 1
            y = self._valid(inp.new_zeros(shape)).narrow(2, 0, 0)
        consumed = n_out * s
        return y, inp.narrow(2, consumed, n - consumed).clone()


class CausalConv1d(_TimeCachedConv):
    """1-D convolution along time, causal unless ``lookahead > 0``.

    Input ``(B, in_ch, T)``, output ``(B, out_ch, ceil(T / stride))``. The time axis
    is zero-padded by ``(dilation*(kernel_size-1) - lookahead, lookahead)`` frames
    (past, future) before a ``nn.Conv1d`` without padding, so output frame ``t``
    reads input frames ``t*stride - dilation*(kernel_size-1) + lookahead ...
    t*stride + lookahead``. A stride (allowed here, for time-domain encoders)
    keeps causality: output ``t`` summarises the block starting at input
    ``t*stride`` and reads nothing after ``t*stride + lookahead``.

    Args: ``in_ch``, ``out_ch``, ``kernel_size`` (frames), ``stride``,
    ``dilation``, ``lookahead`` (future frames, ``0 <= lookahead <=
    dilation*(kernel_size-1)``), ``bias``, ``groups`` (as ``nn.Conv1d``; ``groups =
    in_ch`` gives a depthwise convolution). The weights live in ``self.conv``.
    Streaming: :meth:`step` (state of ``dilation*(kernel_size-1)`` frames).
    Chapter 7 (claim C13).
    Chapter: 07_causality.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, lookahead: int = 0, bias: bool = True, groups: int = 1):
        super().__init__()
        span = dilation * (kernel_size - 1)
        _check_lookahead(lookahead, span, "CausalConv1d")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, stride=stride, dilation=dilation,
                              bias=bias, groups=groups)
        self._span, self._tstride = span, stride
        self.lookahead = lookahead
        self.pad_past = span - lookahead

    def _valid(self, inp):
        return self.conv(inp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, T) -> (B, out_ch, ceil(T / stride))``."""
        _check_ndim(x, 3, "(batch, channels, time)", "CausalConv1d")
        return self.conv(F.pad(x, (self.pad_past, self.lookahead)))


class CausalConv2d(_TimeCachedConv):
    """2-D convolution over ``(time, freq)``, causal along time unless ``lookahead > 0``.

    Input ``(B, in_ch, T, F)``, output ``(B, out_ch, T, F_out)`` with
    ``F_out = floor((F + pad_f - dilation_f*(kf-1) - 1) / sf) + 1`` and ``pad_f`` the
    total frequency padding. Time is zero-padded by ``(dt*(kt-1) - lookahead,
    lookahead)`` (past, future); frequency by ``freq_padding`` bins on each side
    (an int, or a pair ``(low, high)``). Frequency is not a causal axis: any
    padding or stride is fine there.

    Args: ``in_ch``, ``out_ch``, ``kernel_size=(kt, kf)``, ``stride=(1, sf)``,
    ``dilation=(dt, df)``, ``lookahead`` (future frames), ``freq_padding``,
    ``bias``, ``groups``. Ints are used for both axes, as in ``nn.Conv2d``. The time
    stride must be 1 (``ValueError`` otherwise): downsampling time changes the
    frame rate, and a decoder that upsamples back gives each frame information
    from the later frames it was pooled with. The weights live in ``self.conv``.
    Streaming: :meth:`step` (state of ``dt*(kt-1)`` frames). Chapter 7 (claim C13),
    used by the CRN/GCRN encoders of chapter 5 (Tan & Wang 2018, 2020).
    Chapters: 07_causality, 05_complex_mapping.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size, stride=(1, 1), dilation=(1, 1),
                 lookahead: int = 0, freq_padding=0, bias: bool = True, groups: int = 1):
        super().__init__()
        kt, kf = _pair(kernel_size, "kernel_size")
        st, sf = _pair(stride, "stride")
        dt, df = _pair(dilation, "dilation")
        if st != 1:
            raise ValueError(
                f"CausalConv2d needs a time stride of 1, got stride={stride!r}. A time stride "
                "downsamples the frame rate; a decoder that upsamples back then gives each "
                "frame information from the later frames it was merged with (the same leak "
                "as pooling along time, chapter 7). Stride along frequency only: stride=(1, sf)."
            )
        span = dt * (kt - 1)
        _check_lookahead(lookahead, span, "CausalConv2d")
        self.freq_padding = _pair(freq_padding, "freq_padding")
        self.conv = nn.Conv2d(in_ch, out_ch, (kt, kf), stride=(1, sf), dilation=(dt, df),
                              bias=bias, groups=groups)
        self._span = span
        self.lookahead = lookahead
        self.pad_past = span - lookahead

    def _pad_freq(self, x):
        lo, hi = self.freq_padding
        return F.pad(x, (lo, hi)) if (lo or hi) else x

    def _valid(self, inp):
        return self.conv(inp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, T, F) -> (B, out_ch, T, F_out)``."""
        _check_ndim(x, 4, "(batch, channels, time, freq)", "CausalConv2d")
        lo, hi = self.freq_padding
        return self.conv(F.pad(x, (lo, hi, self.pad_past, self.lookahead)))


class CausalConvTranspose2d(_TimeCachedConv):
    """Transposed 2-D convolution whose output keeps the input's frames, causally.

    Input ``(B, in_ch, T, F)``, output ``(B, out_ch, T, F_out)`` with
    ``F_out = (F-1)*sf - 2*freq_padding + kf + of``. With stride 1 along time, a
    transposed convolution with ``kt`` taps spreads input frame ``t`` over output
    frames ``t ... t+kt-1``: the full output has ``T + kt - 1`` frames and frame
    ``t`` of it depends on inputs ``t-kt+1 ... t``. Keeping frames
    ``lookahead ... lookahead+T-1`` (i.e. trimming the ``kt-1-lookahead`` *future*
    frames at the end and ``lookahead`` at the start) gives ``T_out = T_in`` and
    output frame ``t`` depends on inputs ``<= t + lookahead``. Keeping the last
    ``T`` frames instead (trimming the wrong side) would read ``kt-1`` frames ahead
    (claim C13).

    Args: ``in_ch``, ``out_ch``, ``kernel_size=(kt, kf)``, ``stride=(1, sf)``,
    ``output_padding=(0, of)`` (an int is the frequency part), ``lookahead``
    (``0 <= lookahead <= kt-1``), ``freq_padding`` (as ``nn.ConvTranspose2d``'s
    ``padding`` along frequency: removes bins from both ends), ``bias``,
    ``groups``. Time stride must be 1. The weights live in ``self.conv``.
    Streaming: :meth:`step` (state of ``kt-1`` input frames). Chapter 7; used by
    the CRN/GCRN decoders of chapter 5.
    Chapters: 07_causality, 05_complex_mapping.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size, stride=(1, 1), output_padding=(0, 0),
                 lookahead: int = 0, freq_padding: int = 0, bias: bool = True, groups: int = 1):
        super().__init__()
        kt, kf = _pair(kernel_size, "kernel_size")
        st, sf = _pair(stride, "stride")
        if st != 1:
            raise ValueError(
                f"CausalConvTranspose2d needs a time stride of 1, got stride={stride!r}: "
                "upsampling time makes several output frames out of one input frame, and "
                "the earlier of them would carry information of the later input. Use "
                "stride=(1, sf)."
            )
        if isinstance(output_padding, (tuple, list)):
            op_t, op_f = _pair(output_padding, "output_padding")
            if op_t != 0:
                raise ValueError(
                    f"output_padding along time must be 0 (time stride 1), got {output_padding!r}"
                )
        else:
            op_f = int(output_padding)
        _check_lookahead(lookahead, kt - 1, "CausalConvTranspose2d")
        self.conv = nn.ConvTranspose2d(in_ch, out_ch, (kt, kf), stride=(1, sf),
                                       padding=(0, int(freq_padding)), output_padding=(0, op_f),
                                       bias=bias, groups=groups)
        self._span = kt - 1
        self.lookahead = lookahead
        self.pad_past = kt - 1 - lookahead

    def _valid(self, inp):
        # full output has n + kt - 1 frames; frames span..n-1 have all their kt inputs in ``inp``
        return self.conv(inp)[:, :, self._span : inp.shape[2]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, T, F) -> (B, out_ch, T, F_out)``: full transposed conv, future frames trimmed."""
        _check_ndim(x, 4, "(batch, channels, time, freq)", "CausalConvTranspose2d")
        return self.conv(x)[:, :, self.lookahead : self.lookahead + x.shape[2]]


class _AttentionBase(StreamingModule):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017) with an explicit mask.

    ``softmax(Q K^T / sqrt(d_head) + M) V`` per head, ``M[t, j] = 0`` where query ``t``
    may see key ``j`` and ``-inf`` elsewhere. Written out (no fused kernel) so the
    book can show the weights. No positional encoding: add one in the model.
    """

    time_dim = 1

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def allowed(self, n_query: int, n_key: int | None = None, offset: int = 0,
                device=None) -> torch.Tensor:
        """Boolean ``(n_query, n_key)`` mask: may query ``offset + i`` see key ``j``?"""
        raise NotImplementedError  # pragma: no cover

    def _qkv(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        return q, k, v  # each (B, H, T, d_head)

    def _weights(self, q, k, allowed):
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        return scores.softmax(dim=-1)

    def _merge(self, w, v):
        y = self.dropout(w) @ v  # (B, H, Tq, d_head)
        b, _, tq, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(b, tq, self.d_model))

    def _check(self, x):
        _check_ndim(x, 3, "(batch, time, features)", type(self).__name__)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"{type(self).__name__} expects {self.d_model} features, got {x.shape[-1]}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention ``(B, T, d_model) -> (B, T, d_model)`` under the mask."""
        self._check(x)
        q, k, v = self._qkv(x)
        return self._merge(self._weights(q, k, self.allowed(x.shape[1], device=x.device)), v)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights ``(B, n_heads, T, T)`` (rows sum to 1; 0 where masked)."""
        self._check(x)
        q, k, _ = self._qkv(x)
        return self._weights(q, k, self.allowed(x.shape[1], device=x.device))


class CausalMultiheadAttention(_AttentionBase):
    """Causal multi-head self-attention, optionally restricted to a sliding window.

    Input and output ``(B, T, d_model)``. Query frame ``t`` sees key frames ``j`` with
    ``j <= t`` (the upper triangle of the score matrix is set to ``-inf``) and, when
    ``window`` is given, ``t - j < window``: at most the last ``window`` frames,
    itself included. Claim C14: the causal mask removes the lookahead, but a
    streaming step must keep every past key and value, so memory and time per
    frame grow linearly with the stream; a window bounds both.

    Args: ``d_model`` (features), ``n_heads`` (must divide ``d_model``),
    ``dropout`` (on the attention weights, training only), ``window`` (frames or
    ``None`` for full causal attention), ``bias``.
    Streaming: :meth:`step`; state ``(keys, values)`` each ``(B, n_heads, m,
    d_head)`` with ``m`` = all past frames (full) or ``window - 1`` (windowed).
    Chapter 7.
    Chapter: 07_causality.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0,
                 window: int | None = None, bias: bool = True):
        super().__init__(d_model, n_heads, dropout, bias)
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 frame or None, got {window}")
        self.window = window

    def allowed(self, n_query, n_key=None, offset=0, device=None):
        n_key = offset + n_query if n_key is None else n_key
        t = torch.arange(n_query, device=device)[:, None] + offset
        j = torch.arange(n_key, device=device)[None, :]
        ok = j <= t
        if self.window is not None:
            ok = ok & (t - j < self.window)
        return ok

    def step(self, x: torch.Tensor, state=None):
        """Attend for the next ``n >= 1`` frames ``x`` ``(B, n, d_model)`` of a stream.

        Returns ``(y, state)``, ``y`` ``(B, n, d_model)`` equal to the offline output
        at those frames. ``state`` = ``(keys, values)`` of the past frames a future
        query may still see; ``None`` at the start.
        """
        self._check(x)
        q, k, v = self._qkv(x)
        if state is not None:
            k = torch.cat([state[0], k], dim=2)
            v = torch.cat([state[1], v], dim=2)
        n_key, n_new = k.shape[2], x.shape[1]
        y = self._merge(self._weights(q, k, self.allowed(n_new, n_key, n_key - n_new, x.device)), v)
        if self.window is not None:
            keep = min(n_key, self.window - 1)
            k, v = k.narrow(2, n_key - keep, keep).clone(), v.narrow(2, n_key - keep, keep).clone()
        return y, (k, v)


class ChunkedAttention(_AttentionBase):
    """Chunked causal self-attention with a bounded memory (Transformer-XL-like).

    Input and output ``(B, T, d_model)``. Time is cut into chunks of ``chunk_size``
    frames; query frame ``t`` in chunk ``c = t // chunk_size`` sees the earlier
    frames of its own chunk (``j <= t``) and every frame of the previous
    ``n_memory_chunks`` chunks. As in Transformer-XL (Dai et al. 2019) the keys and
    values of past chunks are kept as a memory of fixed length, so the streaming
    state never exceeds ``(n_memory_chunks + 1) * chunk_size - 1`` frames and the
    cost per frame stays constant (claim C14). The context of a query varies
    between ``n_memory_chunks*chunk_size + 1`` and ``(n_memory_chunks +
    1)*chunk_size`` frames. Not included: Transformer-XL's relative positional
    encoding and its stop-gradient on the memory (the offline forward here lets
    gradients through; outputs are identical).

    Args: ``d_model``, ``n_heads``, ``chunk_size`` (frames), ``n_memory_chunks``
    (past chunks kept, >= 0), ``dropout``, ``bias``. Streaming: :meth:`step`,
    state ``(mem_keys, mem_values, cur_keys, cur_values)``. Chapter 7.
    Chapter: 07_causality.
    """

    def __init__(self, d_model: int, n_heads: int, chunk_size: int, n_memory_chunks: int = 1,
                 dropout: float = 0.0, bias: bool = True):
        super().__init__(d_model, n_heads, dropout, bias)
        if chunk_size < 1 or n_memory_chunks < 0:
            raise ValueError(
                f"need chunk_size >= 1 and n_memory_chunks >= 0, got {chunk_size}, {n_memory_chunks}"
            )
        self.chunk_size, self.n_memory_chunks = chunk_size, n_memory_chunks

    def allowed(self, n_query, n_key=None, offset=0, device=None):
        n_key = offset + n_query if n_key is None else n_key
        t = torch.arange(n_query, device=device)[:, None] + offset
        j = torch.arange(n_key, device=device)[None, :]
        c = self.chunk_size
        return (j <= t) & (torch.div(j, c, rounding_mode="floor")
                           >= torch.div(t, c, rounding_mode="floor") - self.n_memory_chunks)

    def step(self, x: torch.Tensor, state=None):
        """Attend for the next ``n >= 1`` frames ``x`` ``(B, n, d_model)``; returns ``(y, state)``.

        Frames are processed one at a time: each query sees the memory chunks plus
        the current chunk so far; a completed chunk moves into the memory and the
        oldest chunk is dropped.
        """
        self._check(x)
        q, k, v = self._qkv(x)
        if state is None:
            empty = k.new_zeros(k.shape[0], self.n_heads, 0, self.d_head)
            state = (empty, empty, empty, empty)
        mem_k, mem_v, cur_k, cur_v = state
        keep = self.n_memory_chunks * self.chunk_size
        ys = []
        for i in range(x.shape[1]):
            cur_k = torch.cat([cur_k, k[:, :, i : i + 1]], dim=2)
            cur_v = torch.cat([cur_v, v[:, :, i : i + 1]], dim=2)
            keys, vals = torch.cat([mem_k, cur_k], dim=2), torch.cat([mem_v, cur_v], dim=2)
            ys.append(self._merge(self._weights(q[:, :, i : i + 1], keys, None), vals))
            if cur_k.shape[2] == self.chunk_size:  # chunk complete: into the memory
                mem_k = torch.cat([mem_k, cur_k], dim=2)
                mem_v = torch.cat([mem_v, cur_v], dim=2)
                n = mem_k.shape[2]
                mem_k, mem_v = mem_k[:, :, n - min(n, keep):], mem_v[:, :, n - min(n, keep):]
                cur_k, cur_v = cur_k[:, :, :0], cur_v[:, :, :0]
        return torch.cat(ys, dim=1), (mem_k, mem_v, cur_k, cur_v)


class CumulativeLayerNorm(StreamingModule):
    """Cumulative layer normalisation (cLN, Luo & Mesgarani, Conv-TasNet, TASLP 2019).

    Input ``(B, C, T)`` or ``(B, C, T, F)``, output of the same shape. For frame ``k``
    the statistics use frames ``1..k`` only, over all channels (and frequencies)::

        E_k   = 1/(k N) * sum_{t<=k} sum_n x[n, t]
        Var_k = 1/(k N) * sum_{t<=k} sum_n (x[n, t] - E_k)^2
        cLN(x[:, k]) = gain * (x[:, k] - E_k) / sqrt(Var_k + eps) + bias

    with ``N = C`` (or ``C*F``) and a learnable per-channel ``gain`` (init 1) and
    ``bias`` (init 0), shape ``(C,)``. It is the causal replacement for
    BatchNorm/InstanceNorm/LayerNorm-over-time (claim C15). Computed with running
    sums ``Var_k = S2_k/(kN) - E_k^2``, accumulated in float64 (except on MPS) to
    limit cancellation. Args: ``num_features`` (= C), ``eps`` (1e-5).
    Streaming: :meth:`step`, state ``(count, sum, sum_of_squares)``. Chapter 7.
    Chapter: 07_causality.
    """

    time_dim = 2

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.gain = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def _frame_sums(self, x):
        if x.dim() not in (3, 4) or x.shape[1] != self.num_features:
            raise ValueError(
                f"CumulativeLayerNorm({self.num_features}) expects (B, {self.num_features}, T) "
                f"or (B, {self.num_features}, T, F), got {tuple(x.shape)}"
            )
        acc = x if x.device.type == "mps" else x.to(torch.float64)
        dims = (1, 3) if x.dim() == 4 else (1,)
        n = x.shape[1] * (x.shape[3] if x.dim() == 4 else 1)
        return acc.sum(dims), (acc * acc).sum(dims), n  # (B, T), (B, T), values per frame

    def _normalise(self, x, mean, var):
        shape = (x.shape[0], 1, x.shape[2]) + ((1,) if x.dim() == 4 else ())
        mean = mean.to(x.dtype).view(shape)
        std = (var.clamp_min(0) + self.eps).sqrt().to(x.dtype).view(shape)
        pshape = (1, -1, 1) + ((1,) if x.dim() == 4 else ())
        return (x - mean) / std * self.gain.view(pshape) + self.bias.view(pshape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T[, F]) -> (B, C, T[, F])``, statistics of frames ``<= t`` only."""
        s, s2, n = self._frame_sums(x)
        count = n * torch.arange(1, x.shape[2] + 1, device=x.device, dtype=s.dtype)
        mean = s.cumsum(1) / count
        var = s2.cumsum(1) / count - mean * mean
        return self._normalise(x, mean, var)

    @staticmethod
    def init_state(batch: int, dtype=torch.float32, device=None):
        """The state at the start of a stream: ``(count, sum, sum_sq)`` zeros, accumulated
        in float64 (in ``dtype`` on Apple's MPS, which has no float64). Chapter: 07_causality."""
        device = torch.device("cpu") if device is None else torch.device(device)
        acc = dtype if device.type == "mps" else torch.float64
        z = torch.zeros(batch, dtype=acc, device=device)
        return (torch.zeros((), dtype=acc, device=device), z, z.clone())

    def step(self, x: torch.Tensor, state=None):
        """Normalise the next ``n >= 1`` frames ``x`` ``(B, C, n[, F])``; returns ``(y, state)``.

        ``state`` = ``(count, sum, sum_sq)``: values seen so far (a 0-d tensor) and
        per-utterance running sums ``(B,)``; ``None`` at the start.
        """
        s, s2, n = self._frame_sums(x)
        if state is None:
            state = self.init_state(s.shape[0], x.dtype, x.device)
        count0, sum0, sq0 = state
        cs = s.cumsum(1) + sum0[:, None]
        cs2 = s2.cumsum(1) + sq0[:, None]
        count = count0 + n * torch.arange(1, x.shape[2] + 1, device=x.device, dtype=s.dtype)
        mean = cs / count
        y = self._normalise(x, mean, cs2 / count - mean * mean)
        return y, (count[-1], cs[:, -1], cs2[:, -1])
