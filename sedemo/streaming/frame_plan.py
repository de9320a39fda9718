"""The fast one-frame path of the CRN/GCRN for streaming. Chapter: 07_causality.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sedemo.models.base import SEModel, _complex_of, _param_dtype
from sedemo.models.blocks import GroupedLSTM
from sedemo.models.crn import CRN
from sedemo.models.gcrn import GCRN
from sedemo.streaming._plan_layers import (ConvBuffers, ConvPlan, LSTMBuffers, LSTMPlan, Strided,
                                           TransposedConvBuffers, TransposedConvPlan, lstm_cells)


@dataclass(slots=True)
class _ComplexHead:
    """The buffers of the complex output of two one-channel decoders (real, imaginary parts)."""

    shape: tuple  # (B, F, 2): the output, before torch.view_as_complex
    parts: Strided  # the output seen with the shape of the last GLU output, (2, [B,] F, 1)
    re: Tensor  # ([B,] F, 1): the real part, a view of the last GLU output
    im: Tensor  # ([B,] F, 1): the imaginary part, a view of the last GLU output


@dataclass(slots=True)
class _Layout:
    """Every buffer and view of the steps of one batch size ``B`` (made once, see FramePlan._layout)."""

    enc: list[ConvBuffers]  # per encoder layer
    lstm: list[LSTMBuffers]  # per LSTM layer
    dec: list[TransposedConvBuffers]  # per decoder layer (every decoder at once)
    dec_input: Strided | None  # B = 1: the decoders' input (D, F, C), a view of the fresh bottleneck output
    dec_copy: Tensor | None  # B > 1: (B, F, C), where the bottleneck output is copied channels last
    dec_input_b: Tensor | None  # B > 1: the decoders' input (D, B*F, C), dec_copy expanded
    head: _ComplexHead | None  # the complex output of two decoders; None: model.output_head


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

    The prepared layers are named plans (``sedemo/streaming/_plan_layers.py``):
    :attr:`enc` holds a ``ConvPlan`` per encoder layer (weight matrix, folded bias,
    shift left for after the GLU, kernel, stride and bin counts), :attr:`lstm` an
    ``LSTMPlan`` per LSTM layer (the groups' stacked weights and summed biases) and
    :attr:`dec` a ``TransposedConvPlan`` per decoder layer (the same layer of every
    decoder stacked). Each plan makes the buffers of a batch size (``ConvBuffers``,
    ``LSTMBuffers``, ``TransposedConvBuffers``, gathered in a ``_Layout``).

    Every matrix product reads its weight once per frame: for the default GCRN
    (1.2 M parameters, 4.7 MB) that is about half the time of a frame on one CPU
    thread, so contractions keep the weights' sizes (a bias as a row of the weight,
    ``[x, h, 1]``, makes MKL's contraction 257 long instead of 256 and the product
    about twice slower). The rest is the fixed cost of every PyTorch call (a few
    microseconds in the middle of a frame, caches cold), which the plan keeps to
    about 95 kernels and 30 views per frame of the default GCRN: the intermediate
    results that the state does not keep (windows, products, overlap-add sums, GLU
    outputs, LSTM gates) go to buffers made once per batch size, together with
    their views; views of fresh tensors (``Strided``) are ``as_strided`` calls with
    precomputed sizes and strides; activations run in place. About 4x faster than
    ``model.step`` for the default GCRN on one CPU thread (``benchmarks/rtf.py
    --compare-step``).

    The weights are copied when the plan is built: rebuild it after changing them
    (:class:`sedemo.streaming.StreamingEnhancer` does, see :meth:`stale`). Supports
    :class:`CRN` and :class:`GCRN` with ``norm`` ``"batch"`` or ``"none"``
    (:func:`frame_plan` returns ``None`` otherwise, e.g. for ``norm="cln"``).
    Use: ``state = plan.init_state(batch)``, ``out, state = plan.step(frame, state)``
    with ``frame`` one complex STFT frame ``(batch, F)``; ``out`` is ``(batch, F)``.
    The state is a flat list of tensors (convolution histories, LSTM states); a step
    never modifies the state it is given, and returns fresh tensors. The buffers make
    a plan unfit for concurrent steps from several threads (one plan per thread).
    Chapter: 07_causality.
    """

    def __init__(self, model: SEModel):
        if not isinstance(model, (CRN, GCRN)):
            raise TypeError(f"a FramePlan needs a CRN or a GCRN, got {type(model).__name__}")
        self.model = model  # the model whose weights were copied
        self._key = _weights_key(model)  # their identity and versions when copied (stale())
        with torch.no_grad():
            self._build(model)

    # ---------------------------------------------------------------- preparation
    def _build(self, model: CRN | GCRN) -> None:
        c = model.config
        gcrn = isinstance(model, GCRN)
        self.inputs = c.inputs if gcrn else "magnitude"  # the encoder's input: |Y|^c, or its (re, im)
        self.compress = c.compress  # the magnitude compression exponent c
        self._cdtype = _complex_of(_param_dtype(model))  # the dtype of the frames computed
        # two one-channel decoders (real, imaginary): the output stage is computed here
        self._complex_head = gcrn and c.target == "complex" and c.n_decoders == 2
        self._head_pow = 1.0 / c.compress - 1.0  # its decompression x |x|^(1/c - 1)
        self._layouts: dict[int, _Layout] = {}  # batch size -> buffers and views
        self.freq_sizes = fs = list(model.freq_sizes)  # bins at the input of every encoder layer, then out
        self.enc = [ConvPlan.from_block(block, fs[i], fs[i + 1]) for i, block in enumerate(model.encoder)]
        decoders = list(model.decoders) if gcrn else [model.decoder]
        self.n_dec = len(decoders)  # D: decoders run together
        n = len(decoders[0])
        self.dec = [TransposedConvPlan.from_blocks([d[i] for d in decoders], fs[n - i]) for i in range(n)]
        self.lstm = [LSTMPlan.from_cells(cells) for cells in lstm_cells(model.lstm)]
        self.groups = self.lstm[0].weight.shape[0]  # G: LSTM groups (1: an nn.LSTM)
        self.rearrange = self.groups > 1 and isinstance(model.lstm, GroupedLSTM) and model.lstm.rearrange
        last = self.enc[-1]
        self.c_last = last.weight.shape[1] // (2 if last.gated else 1)  # C: bottleneck channels
        self.f_last = fs[-1]  # bottleneck bins
        proj = model.proj
        if isinstance(proj, nn.Identity):
            self.proj_weight = self.proj_bias = None  # (H, C*F) and (C*F,): the Linear after the LSTM
        elif isinstance(proj, nn.Linear):
            self.proj_weight = proj.weight.t().contiguous()
            bias = proj.bias if proj.bias is not None else proj.weight.new_zeros(proj.out_features)
            self.proj_bias = bias.clone()
        else:
            raise ValueError(f"no frame plan for a {type(proj).__name__} projection")

    def stale(self) -> bool:
        """True when the model's weights or BatchNorm statistics changed since the plan was built
        (then build a new plan). Chapter: 07_causality."""
        return _weights_key(self.model) != self._key

    # ---------------------------------------------------------------- streaming
    def init_state(self, batch: int = 1) -> list[Tensor]:
        """Zero state, a flat list: encoder histories ``(B*F, (kt-1)*C)``, LSTM ``(h, c)`` per
        layer ``(G, B, H)``, decoder histories ``(D, B*F, (kt-1)*C)``. Chapter: 07_causality."""
        def zeros(*shape):
            return self.enc[0].weight.new_zeros(shape)

        state = [zeros(batch * p.f_in, (p.kt - 1) * p.c_in) for p in self.enc]
        for p in self.lstm:
            state += [zeros(self.groups, batch, p.hidden), zeros(self.groups, batch, p.hidden)]
        return state + [zeros(self.n_dec, batch * p.f_in, (p.kt - 1) * p.c_in) for p in self.dec]

    def _new_layout(self, b: int) -> _Layout:
        """:meth:`_layout` with buffers that steps in and out of ``torch.inference_mode`` can write."""
        with torch.inference_mode(False):
            return self._layout(b)

    def _layout(self, b: int) -> _Layout:
        """The buffers and views of the steps of batch ``b`` (made once per batch size)."""
        g, c, f, dn = self.groups, self.c_last, self.f_last, self.n_dec
        lstm = []
        for li, p in enumerate(self.lstm):
            # where the layer's input x comes from (src, a view of the fresh x) and goes to (dst, a
            # view of [x, h]; None: its first D_in columns)
            k, d_in = p.d_in + p.hidden, p.d_in
            if li == 0 and c % g == 0:  # the encoder output (B*F, C): channel-major groups of (C/G, F)
                src = Strided((g, b, c // g, f), (c // g, f * c, 1, c))
                dst = Strided((g, b, c // g, f), (b * k, k, f, 1))
            elif li > 0 and not self.rearrange:  # the previous layer's h (G, B, H/G) as it is
                src, dst = Strided((g, b, d_in), (b * d_in, d_in, 1)), None
            elif li > 0 and d_in % g == 0:  # rearranged: group g' takes element j of every group for
                m = d_in // g  # j in g'*H/G^2 ... (g'+1)*H/G^2, interleaved
                src = Strided((g, b, m, g), (m, d_in, 1, b * d_in))
                dst = Strided((g, b, m, g), (b * k, k, g, 1))
            else:  # gathered by reshapes (_gather)
                src = dst = None
            lstm.append(p.buffers(b, src, dst))
        dec = [p.buffers(b) for p in self.dec]
        dec_input = dec_copy = dec_input_b = None
        if b == 1:  # the fresh LSTM output (G, 1, H/G) or (1, H) is (C, F), channel-major
            dec_input = Strided((dn, f, c), (0, 1, f))
        else:
            flat = self.enc[0].weight.new_empty(b * f, c)
            dec_copy, dec_input_b = flat.view(b, f, c), flat.expand(dn, b * f, c)
        head = None
        if self._complex_head:
            x, nf = dec[-1].glu_out, self.freq_sizes[0]  # x: (2, [B,] F, 1), the last GLU's output
            parts = Strided(tuple(x.shape), (1, 2, 1) if b == 1 else (1, 2 * nf, 2, 1))
            head = _ComplexHead(shape=(b, nf, 2), parts=parts, re=x[0], im=x[1])
        lay = self._layouts[b] = _Layout(enc=[p.buffers(b) for p in self.enc], lstm=lstm, dec=dec,
                                         dec_input=dec_input, dec_copy=dec_copy, dec_input_b=dec_input_b,
                                         head=head)
        return lay

    def step(self, frame: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One complex STFT frame ``(B, F)`` and the state of :meth:`init_state` -> the enhanced
        frame ``(B, F)`` and the new state (fresh tensors; ``state`` is left as it is).
        Chapter: 07_causality."""
        spec = frame if frame.dtype == self._cdtype else frame.to(self._cdtype)
        b = spec.shape[0]
        lay = self._layouts.get(b) or self._new_layout(b)
        n_enc, n_rec = len(self.enc), 2 * len(self.lstm)
        new = []
        skips = self._encode(self._features(spec), state[:n_enc], lay.enc, new)
        x = self._recur(skips[-1], state[n_enc : n_enc + n_rec], lay.lstm, b, new)
        x = self._decode(x, skips, state[n_enc + n_rec :], lay, b, new)
        return self._output(x, spec, lay.head, b), new

    def _features(self, spec: Tensor) -> Tensor:
        """The encoder's input ``(B*F, 1 or 2)``: ``|Y|^c``, or the (re, im) of ``|Y|^c e^{jθ}``
        (the clamp only touches ``|Y| < 1e-43``: 0 stays 0)."""
        mag = spec.abs()
        if self.inputs == "complex":
            x = torch.view_as_real(spec).mul(mag.pow_(self.compress - 1.0).clamp_max_(1e30).unsqueeze(2))
        else:
            x = mag.pow_(self.compress).unsqueeze(2)
        return x.reshape(-1, x.shape[2])

    def _encode(self, x: Tensor, state: list, bufs: list, new: list) -> list[Tensor]:
        """The encoder layers on ``x`` ``(B*F, C_in)``; appends their histories to ``new``,
        returns their outputs ``(B*F_out, C_out)`` (the skip connections)."""
        skips = []
        for p, buf, hist in zip(self.enc, bufs, state):
            # the frequency windows (B, F_out, kf*C) of the cached frames and of the new one, as views
            # of (B*F, C) tensors, side by side in one matrix
            if p.kt > 1:
                torch.cat((buf.cached_windows.of(hist), buf.new_windows.of(x)), 2, out=buf.windows_3d)
                new.append(x if p.kt == 2 else torch.cat((hist.narrow(1, p.c_in, (p.kt - 2) * p.c_in), x), 1))
            else:
                buf.windows_3d.copy_(buf.new_windows.of(x))
                new.append(hist)
            if p.gated:  # the GLU's output, fresh, is kept in the state (without a GLU the product is)
                y = F.glu(torch.addmm(p.bias, buf.windows, p.weight, out=buf.product), 1)
                if p.shift is not None:
                    y.add_(p.shift)
            else:
                y = torch.addmm(p.bias, buf.windows, p.weight)
            x = F.elu_(y)  # encoder layers are never last
            skips.append(x)
        return skips

    def _gather(self, x: Tensor, first: bool, b: int) -> Tensor:
        """An LSTM layer's input ``(G, B, D_in)`` where no strided view gives it: the encoder
        output ``(B*F, C)`` flattened channel-major, or the previous ``h`` rearranged."""
        if first:  # (B*F, C) -> (B, C, F) flattened, in G groups
            return x.view(b, self.f_last, -1).transpose(1, 2).reshape(b, self.groups, -1).transpose(0, 1)
        # rearranged: (G, B, H/G) -> (B, H/G, G) flattened, in G groups
        return x.permute(1, 2, 0).reshape(b, self.groups, -1).transpose(0, 1)

    def _recur(self, x: Tensor, state: list, bufs: list, b: int, new: list) -> Tensor:
        """The LSTM layers on the encoder output ``x`` ``(B*F, C)``; appends their ``(h, c)`` to
        ``new``, returns the last ``h`` ``(G, B, H/G)``."""
        for li, (p, buf, h, c) in enumerate(zip(self.lstm, bufs, state[0::2], state[1::2])):
            buf.x_dst.copy_(buf.x_src.of(x) if buf.x_src is not None else self._gather(x, li == 0, b))
            buf.h_dst.copy_(h)
            torch.baddbmm(p.bias, buf.inp, p.weight, out=buf.gates)  # (G, B, 4H): i, f, o, g
            buf.ifo.sigmoid_()
            c1 = torch.mul(buf.f, c)
            c1.addcmul_(buf.i, buf.g.tanh_())
            x = torch.tanh(c1).mul_(buf.o)
            new += [x, c1]
        return x

    def _decode(self, x: Tensor, skips: list, state: list, lay: _Layout, b: int, new: list) -> Tensor:
        """The projection and the decoder layers on the LSTM output ``x``; appends their histories
        to ``new``, returns the last layer's output ``(D, [B,] F, C_out)`` (no ``B`` if ``B = 1``)."""
        c, f = self.c_last, self.f_last
        if self.proj_weight is not None:
            x = torch.addmm(self.proj_bias, x.view(b, -1) if b == 1 else x.transpose(0, 1).reshape(b, -1),
                            self.proj_weight)
        elif b > 1:
            x = x.transpose(0, 1).reshape(b, -1)
        if b == 1:  # the decoders' input (D, F, C): the LSTM output, channel-major
            x = lay.dec_input.of(x)
        else:
            lay.dec_copy.copy_(x.view(b, c, f).transpose(1, 2))
            x = lay.dec_input_b
        for p, buf, hist, skip in zip(self.dec, lay.dec, state, reversed(skips)):
            skip = skip.expand(self.n_dec, -1, -1)  # (D, B*F_in, C_skip)
            z = torch.cat((hist, x, skip) if p.kt > 1 else (x, skip), 2)  # (D, B*F_in, kt*C_in)
            new.append(buf.history.of(z) if p.kt > 1 else hist)
            torch.bmm(z, p.weight, out=buf.taps)  # every tap of every input bin: (D, B*F_in, kf*C')
            buf.acc.copy_(buf.bias)
            for dst, src in buf.overlap_add:
                dst.add_(src)
            # the bins kept, (D, [B,] F_out, C'), through the GLU
            x = torch.mul(buf.linear, buf.gate.sigmoid_(), out=buf.glu_out) if p.gated else buf.kept
            if not p.last:
                if b > 1:
                    x = x.reshape(buf.flat_shape)  # (D, B*F_out, C)
                if p.shift is not None:
                    x.add_(p.shift)
                x = F.elu_(x)
        return x

    def _output(self, x: Tensor, spec: Tensor, head: _ComplexHead | None, b: int) -> Tensor:
        """The enhanced frame ``(B, F)`` from the decoders' output ``x`` and the noisy frame."""
        if head is not None:  # two decoders of one channel each: real, imaginary
            out = x.new_empty(head.shape)
            parts = head.parts.of(out)  # x's shape
            if self.compress == 1:
                parts.copy_(x)
            else:  # _decompress_parts: x |x|^(1/c - 1)
                torch.mul(x, torch.hypot(head.re, head.im).pow_(self._head_pow), out=parts)
            return torch.view_as_complex(out)
        if b == 1:
            x = x.unsqueeze(1)
        y = x.permute(1, 0, 3, 2).reshape(b, -1, 1, x.shape[2])  # (B, n_out, 1, F)
        return self.model.output_head(y, spec.unsqueeze(-1))["spec"][..., 0]


def _weights_key(model: nn.Module) -> tuple:
    """Identity and version counter of every parameter and buffer: changes with any in-place
    update (optimiser step, ``load_state_dict``, BatchNorm statistics in training)."""
    return tuple((t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))


def frame_plan(model) -> FramePlan | None:
    """A :class:`FramePlan` for ``model`` (a CRN/GCRN with BatchNorm or no norm), else ``None``.
    Chapter: 07_causality."""
    if not isinstance(model, (CRN, GCRN)):
        return None
    try:
        return FramePlan(model)
    except ValueError:
        return None
