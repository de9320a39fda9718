"""The per-layer plans of :class:`sedemo.streaming.FramePlan`: each layer of a CRN/GCRN with its
weights prepared once for one frame (matrices, folded BatchNorm), and the buffers and views
that a step of a given batch size writes into. Chapter: 07_causality.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sedemo.layers import CausalConv2d, CausalConvTranspose2d
from sedemo.models.blocks import GroupedLSTM


@dataclass(slots=True, frozen=True)
class Strided:
    """A view with fixed sizes and strides of any tensor laid out as expected (e.g. a fresh
    ``(B*F, C)`` activation), ``offset`` elements after its start: ``view.of(t)``.
    Chapter: 07_causality."""

    size: tuple  # the view's shape
    stride: tuple  # its strides, in elements of the viewed tensor's storage
    offset: int = 0  # its first element, relative to the viewed tensor's first one

    def of(self, t: Tensor) -> Tensor:
        """``t`` seen through this view (no copy), shape :attr:`size`. Chapter: 07_causality."""
        return t.as_strided(self.size, self.stride, t.storage_offset() + self.offset)


# --------------------------------------------------------------------------- BatchNorm folding
def _norm_affine(block) -> tuple[Tensor, Tensor] | None:
    """``(scale, shift)`` per channel of the block's norm in ``eval()``: BatchNorm is then the
    affine map ``scale * y + shift``; ``None`` for no norm (``nn.Identity``)."""
    norm = block.norm
    if isinstance(norm, nn.Identity):
        return None
    if not isinstance(norm, nn.BatchNorm2d) or norm.running_var is None:
        raise ValueError(f"no frame plan for {type(norm).__name__} (BatchNorm with running statistics only)")
    std = torch.sqrt(norm.running_var + norm.eps)
    scale = norm.weight / std if norm.affine else 1.0 / std
    shift = -norm.running_mean * scale + (norm.bias if norm.affine else 0.0)
    return scale, shift


def _fold(block, bias: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """``(s, bias', shift)`` for the output channels of the block's convolution: the norm's
    scale ``s`` (on the linear half of a GLU, 1 on its gate: multiply the weight's columns by
    it), the bias with the scale (and, without a GLU, the norm's shift: ``s*b + shift``)
    folded in, and the shift left for after the GLU (``None`` otherwise)."""
    affine = _norm_affine(block)
    n = bias.shape[0] // 2 if block.gated else bias.shape[0]
    scale, shift = affine if affine is not None else (bias.new_ones(n), None)
    if block.gated:
        s = torch.cat([scale, torch.ones_like(scale)])
        return s, bias * s, shift
    return scale, bias * scale + (0.0 if shift is None else shift), None


def _causal_conv(block, transposed: bool):
    """The ``nn.Conv2d``/``nn.ConvTranspose2d`` of a ``_ConvBlock``, checked to be one that a
    plan computes: causal (no lookahead), time stride 1, no dilation, one group."""
    causal = CausalConvTranspose2d if transposed else CausalConv2d
    if not isinstance(block.conv, causal) or block.conv.lookahead != 0:
        raise ValueError(f"no frame plan for this {type(block.conv).__name__}")
    conv = block.conv.conv  # nn.Conv2d or nn.ConvTranspose2d
    if conv.stride[0] != 1 or conv.dilation != (1, 1) or conv.groups != 1 or conv.padding_mode != "zeros":
        raise ValueError(f"no frame plan for this {type(conv).__name__}")
    return conv


# --------------------------------------------------------------------------- encoder layers
@dataclass(slots=True)
class ConvBuffers:
    """What a step of batch ``B`` writes for one :class:`ConvPlan` layer. Chapter: 07_causality."""

    cached_windows: Strided  # (B, F_out, kf*(kt-1)*C_in): windows of the history (B*F_in, (kt-1)*C_in)
    new_windows: Strided  # (B, F_out, kf*C_in): frequency windows of the new frame (B*F_in, C_in)
    windows: Tensor  # (B*F_out, kf*kt*C_in): both windows side by side, the product's input
    windows_3d: Tensor  # the same memory as (B, F_out, kf*kt*C_in), written by one torch.cat
    product: Tensor | None  # (B*F_out, 2*C_out): the product before a GLU (None without a GLU)


@dataclass(slots=True)
class ConvPlan:
    """One encoder layer (causal convolution, BatchNorm folded, GLU or not, ELU) for one frame in
    the layout ``(B*F, C)``: ``y = windows @ weight + bias``, with ``windows`` the ``kf``
    frequency taps of the ``kt-1`` cached frames and of the new one. Chapter: 07_causality."""

    weight: Tensor  # (kf*kt*C_in, C_out'): rows (freq tap, cached frame, channel), then (freq tap, channel)
    bias: Tensor  # (C_out',): the convolution's bias, norm scale (and shift, without a GLU) folded in
    shift: Tensor | None  # (C_out,): the norm's shift, added after the GLU; None without a GLU or a norm
    kt: int  # time taps: the history holds kt-1 frames
    c_in: int  # input channels
    kf: int  # frequency taps
    sf: int  # frequency stride
    gated: bool  # GLU: the product's columns are (linear half, gate half), C_out' = 2*C_out
    f_in: int  # input bins
    f_out: int  # output bins: (f_in - kf) // sf + 1

    @classmethod
    def from_block(cls, block, f_in: int, f_out: int) -> ConvPlan:
        """The plan of an encoder ``_ConvBlock`` on ``f_in`` bins (``f_out`` out).
        Chapter: 07_causality."""
        conv = _causal_conv(block, transposed=False)
        out, cin, kt, kf = conv.weight.shape  # nn.Conv2d weight: (out, in, time, freq)
        _, sf = conv.stride
        if block.conv.freq_padding != (0, 0) or (f_in - kf) // sf + 1 != f_out or block.last:
            raise ValueError("no frame plan for this encoder")
        w = conv.weight.permute(3, 2, 1, 0)  # (freq tap, time, channel, out), time oldest first
        w = torch.cat([w[:, : kt - 1].reshape(-1, out), w[:, kt - 1].reshape(-1, out)])
        bias = conv.bias if conv.bias is not None else w.new_zeros(out)
        s, bias, shift = _fold(block, bias)
        return cls(weight=(w * s).contiguous(), bias=bias.contiguous(), shift=shift, kt=kt, c_in=cin,
                   kf=kf, sf=sf, gated=block.gated, f_in=f_in, f_out=f_out)

    def buffers(self, b: int) -> ConvBuffers:
        """Buffers and views for a step of batch ``b``. Chapter: 07_causality."""
        cin, kf, sf, f_in, f_out = self.c_in, self.kf, self.sf, self.f_in, self.f_out
        past = (self.kt - 1) * cin  # columns of the history
        windows = self.weight.new_empty(b * f_out, kf * self.kt * cin)
        return ConvBuffers(
            cached_windows=Strided((b, f_out, kf * past), (f_in * past, sf * past, 1)),
            new_windows=Strided((b, f_out, kf * cin), (f_in * cin, sf * cin, 1)),
            windows=windows, windows_3d=windows.view(b, f_out, -1),
            product=windows.new_empty(b * f_out, self.weight.shape[1]) if self.gated else None)


# --------------------------------------------------------------------------- decoder layers
@dataclass(slots=True)
class TransposedConvBuffers:
    """What a step of batch ``B`` writes for one :class:`TransposedConvPlan` layer (``D``
    decoders, ``J`` rows of ``sf`` output bins, ``C'`` = ``2*C_out`` with a GLU, else ``C_out``).
    Chapter: 07_causality."""

    history: Strided  # (D, B*F_in, (kt-1)*C_in): the new history, the last columns of the fresh input
    bias: Tensor  # (D, B, J, sf*C'): the bias of every output bin, where the overlap-add starts
    taps: Tensor  # (D, B*F_in, kf*C'): the product, every frequency tap of every input bin
    acc: Tensor  # (D, B, J, sf*C'): the overlap-add, output bin sf*j + r at row j, columns r*C'...
    overlap_add: list  # (view of acc, view of taps) pairs: acc += taps, one addition per row shift q
    kept: Tensor  # (D, [B,] F_out, C'): the bins of acc kept (the frequency padding dropped); no B if B = 1
    linear: Tensor | None  # kept's first C_out channels (GLU), else None
    gate: Tensor | None  # kept's last C_out channels (GLU), else None
    glu_out: Tensor | None  # (D, [B,] F_out, C_out): the GLU's output, else None
    flat_shape: tuple  # (D, B*F_out, -1): the output as the next layer's input


@dataclass(slots=True)
class TransposedConvPlan:
    """Layer ``i`` of every decoder together (transposed convolution, BatchNorm folded, GLU or
    not, ELU unless last) for one frame: ``taps = cat(history, x, skip) @ weight`` per decoder
    (``torch.bmm``), then an overlap-add of the taps onto the bias. Chapter: 07_causality."""

    weight: Tensor  # (D, kt*C_in, kf*C'): rows (frame, channel) oldest first, columns (freq tap, out channel)
    bias: Tensor  # (D, sf*C'): the bias (norm scale, and shift without a GLU, folded in) of sf bins
    shift: Tensor | None  # (D, 1, C_out): the norm's shift, added after the GLU; None without a GLU or a norm
    kt: int  # time taps: the history holds kt-1 frames
    c_in: int  # input channels: the previous layer's and the skip connection's
    kf: int  # frequency taps
    sf: int  # frequency stride
    pad: int  # frequency padding: bins dropped at each end of the full output
    gated: bool  # GLU: C' = 2*C_out output channels, (linear half, gate half)
    last: bool  # the model's last layer: no norm, no ELU
    f_in: int  # input bins
    rows: int  # J = ceil(F_full / sf): rows of sf bins of the overlap-add, F_full = (f_in-1)*sf + kf + op
    f_out: int  # output bins: F_full - 2*pad

    @classmethod
    def from_blocks(cls, blocks, f_in: int) -> TransposedConvPlan:
        """The plan of the same-index decoder ``_ConvBlock`` of every decoder, on ``f_in`` bins.
        Chapter: 07_causality."""
        ws, bs, shifts = [], [], []
        for block in blocks:
            conv = _causal_conv(block, transposed=True)
            cin, out, kt, kf = conv.weight.shape  # nn.ConvTranspose2d weight: (in, out, time, freq)
            (_, sf), (_, pad), (_, op) = conv.stride, conv.padding, conv.output_padding
            # time taps ordered oldest first, as the cached frames: rows (time, channel), columns (tap, out)
            w = conv.weight.flip(2).permute(2, 0, 3, 1).reshape(kt * cin, kf * out)
            s, b, shift = _fold(block, conv.bias if conv.bias is not None else w.new_zeros(out))
            ws.append(w * s.repeat(kf))
            bs.append(b)
            shifts.append(shift)
        w = torch.stack(ws)
        # a product with few columns (the last layer's) is faster with the weight stored (D, N, K)
        w = w.transpose(1, 2).contiguous().transpose(1, 2) if w.shape[2] < 16 else w.contiguous()
        f_full = (f_in - 1) * sf + kf + op
        return cls(weight=w, bias=torch.stack(bs).repeat(1, sf),
                   shift=None if shifts[0] is None else torch.stack(shifts)[:, None, :],
                   kt=kt, c_in=cin, kf=kf, sf=sf, pad=pad, gated=blocks[0].gated, last=blocks[0].last,
                   f_in=f_in, rows=-(-f_full // sf), f_out=f_full - 2 * pad)

    def buffers(self, b: int) -> TransposedConvBuffers:
        """Buffers and views for a step of batch ``b``. Chapter: 07_causality."""
        dn, n_row, n_k = self.weight.shape  # decoders, kt*C_in, kf*C'
        sf, j, f_in, f_out = self.sf, self.rows, self.f_in, self.f_out
        n_o = n_k // self.kf  # C'
        width = sf * n_o
        new = self.weight.new_empty
        taps, acc = new(dn, b * f_in, n_k), new(dn, b, j, width)
        acc_st, taps_st = (b * j * width, j * width, width, 1), (b * f_in * n_k, f_in * n_k, n_k, 1)
        # tap k = q*sf + r of input bin i goes to output bin sf*(i+q) + r: the taps q*sf ... q*sf + sf-1
        # (adjacent columns of taps) are added to row i + q of acc, one addition per q
        overlap_add = [(acc.as_strided((dn, b, f_in, n), acc_st, (q // sf) * width),
                        taps.as_strided((dn, b, f_in, n), taps_st, q * n_o))
                       for q, n in ((q, min(sf, self.kf - q) * n_o) for q in range(0, self.kf, sf))]
        if b == 1:
            kept = acc.as_strided((dn, f_out, n_o), (j * width, n_o, 1), self.pad * n_o)
        else:
            kept = acc.as_strided((dn, b, f_out, n_o), (b * j * width, j * width, n_o, 1), self.pad * n_o)
        half = n_o // 2
        return TransposedConvBuffers(
            history=Strided((dn, b * f_in, (self.kt - 1) * self.c_in), (b * f_in * n_row, n_row, 1),
                            self.c_in),
            bias=self.bias[:, None, None].expand(dn, b, j, width).contiguous(),
            taps=taps, acc=acc, overlap_add=overlap_add, kept=kept,
            linear=kept.narrow(-1, 0, half) if self.gated else None,
            gate=kept.narrow(-1, half, half) if self.gated else None,
            glu_out=new(kept.shape[:-1] + (half,)) if self.gated else None,
            flat_shape=(dn, b * f_out, -1))


# --------------------------------------------------------------------------- LSTM layers
@dataclass(slots=True)
class LSTMBuffers:
    """What a step of batch ``B`` writes for one :class:`LSTMPlan` layer. Chapter: 07_causality."""

    inp: Tensor  # (G, B, D_in+H): [x, h] of every group, the product's input
    gates: Tensor  # (G, B, 4H): the product, gates (i, f, o, g)
    ifo: Tensor  # (G, B, 3H): the gates i, f, o (one in-place sigmoid)
    i: Tensor  # (G, B, H): input gate
    f: Tensor  # (G, B, H): forget gate
    o: Tensor  # (G, B, H): output gate
    g: Tensor  # (G, B, H): cell candidate (in-place tanh)
    x_src: Strided | None  # the layer's input as a view of the fresh previous output; None: gathered
    x_dst: Tensor  # where the input goes in inp (a view of it)
    h_dst: Tensor  # (G, B, H): where the previous h goes in inp


@dataclass(slots=True)
class LSTMPlan:
    """One LSTM layer, all its ``G`` groups (1 for an ``nn.LSTM``) at once, for one frame:
    ``gates = [x, h] @ weight + bias`` (``torch.baddbmm`` over the groups). Chapter: 07_causality."""

    weight: Tensor  # (G, D_in+H, 4H): [W_ih^T; W_hh^T] per group, gate columns (i, f, o, g)
    bias: Tensor  # (G, 1, 4H): b_ih + b_hh, same gate order
    d_in: int  # input features per group
    hidden: int  # hidden units per group

    @classmethod
    def from_cells(cls, cells) -> LSTMPlan:
        """The plan of one layer from its ``G`` groups' ``(W_ih (4H, D_in), W_hh (4H, H),
        b_ih + b_hh (4H,))``. Chapter: 07_causality."""
        w_ih, w_hh, _ = cells[0]
        h = w_hh.shape[1]
        # PyTorch's gate order (i, f, g, o) -> (i, f, o, g): one sigmoid over the first 3h
        perm = torch.cat([torch.arange(0, 2 * h), torch.arange(3 * h, 4 * h),
                          torch.arange(2 * h, 3 * h)]).to(w_ih.device)
        w = torch.stack([torch.cat([wi, wh], 1)[perm].t() for wi, wh, _ in cells])
        b = torch.stack([bias[perm] for _, _, bias in cells])[:, None]
        return cls(weight=w.contiguous(), bias=b.contiguous(), d_in=w_ih.shape[1], hidden=h)

    def buffers(self, b: int, x_src: Strided | None, x_dst: Strided | None) -> LSTMBuffers:
        """Buffers for a step of batch ``b``; the input is copied from ``x_src`` (a view of the
        previous output) to ``x_dst`` (a view of ``inp``), or gathered (``None``).
        Chapter: 07_causality."""
        g, k, h = self.weight.shape[0], self.d_in + self.hidden, self.hidden
        inp, gates = self.weight.new_empty(g, b, k), self.weight.new_empty(g, b, 4 * h)
        st = (b * 4 * h, 4 * h, 1)
        ifo, i, f, o, gg = (gates.as_strided((g, b, n), st, off) for n, off in
                            ((3 * h, 0), (h, 0), (h, h), (h, 2 * h), (h, 3 * h)))
        return LSTMBuffers(inp=inp, gates=gates, ifo=ifo, i=i, f=f, o=o, g=gg, x_src=x_src,
                           x_dst=inp.narrow(2, 0, self.d_in) if x_dst is None else x_dst.of(inp),
                           h_dst=inp.narrow(2, self.d_in, h))


def lstm_cells(rnn) -> list[list[tuple[Tensor, Tensor, Tensor]]]:
    """``(W_ih, W_hh, b_ih + b_hh)`` per layer and group of the bottleneck ``rnn``: a
    :class:`GroupedLSTM` or an ``nn.LSTM``, unidirectional, without projection (``ValueError``
    otherwise); shapes ``(4H, D_in)``, ``(4H, H)``, ``(4H,)``. Chapter: 07_causality."""
    def cell(lstm: nn.LSTM, i: int):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{i}"), getattr(lstm, f"weight_hh_l{i}")
        if not lstm.bias:
            return w_ih, w_hh, w_ih.new_zeros(w_ih.shape[0])
        return w_ih, w_hh, getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}")

    grouped = isinstance(rnn, GroupedLSTM)
    lstms = [m for layer in rnn.layers for m in layer] if grouped else [rnn]
    if not all(isinstance(m, nn.LSTM) and not m.bidirectional and not m.proj_size
               and (m.num_layers == 1 or not grouped) for m in lstms):
        raise ValueError("no frame plan for this recurrent layer")
    if grouped:
        return [[cell(m, 0) for m in layer] for layer in rnn.layers]
    return [[cell(rnn, i)] for i in range(rnn.num_layers)]
