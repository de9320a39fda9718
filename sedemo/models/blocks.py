"""Blocks shared by the convolutional recurrent models: the (gated) convolution block,
the mirrored decoder, the LSTM bottleneck and the grouped LSTM, each with a
streaming step. Chapter: 05_complex_mapping.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from sedemo import layers as snn
from sedemo.models.base import _norm


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

    def init_state(self, batch, n_freqs, dtype, device):
        """Zero state: ``(conv input history (B, cin, kt-1, F), norm state or None)``."""
        conv = self.conv.conv
        kt = conv.kernel_size[0]
        hist = torch.zeros(batch, conv.in_channels, kt - 1, n_freqs, dtype=dtype, device=device)
        norm = None
        if isinstance(self.norm, snn.CumulativeLayerNorm):
            acc = dtype if device.type == "mps" else torch.float64
            norm = (torch.zeros((), dtype=acc, device=device), torch.zeros(batch, dtype=acc, device=device),
                    torch.zeros(batch, dtype=acc, device=device))
        return (hist, norm)

    def step(self, x, state):
        """Streaming forward of ``n`` frames; ``state`` from :meth:`init_state`."""
        conv_state, norm_state = state
        y, conv_state = self.conv.step(x, conv_state)
        if self.gated:
            a, g = y.chunk(2, dim=1)
            y = a * torch.sigmoid(g)
        if self.last:
            return y, (conv_state, None)
        if isinstance(self.norm, snn.CumulativeLayerNorm):
            y, norm_state = self.norm.step(y, norm_state)
        else:  # BatchNorm2d in eval(): a fixed per-channel affine map; Identity
            y = self.norm(y)
        return F.elu(y), (conv_state, norm_state)


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


def _step_layers(layers, x, states, skips=None):
    """Streaming pass through encoder (``skips=None``: returns the outputs as skips) or
    decoder layers (``skips``: concatenated as in :func:`_run_decoder`)."""
    new, outs = [], []
    for i, (layer, state) in enumerate(zip(layers, states)):
        if skips is not None:
            x = torch.cat([x, skips[len(skips) - 1 - i]], dim=1)
        x, state = layer.step(x, state)
        new.append(state)
        outs.append(x)
    return x, new, outs


def _conv_states(layers, batch, freq_sizes_in, dtype, device):
    return [layer.init_state(batch, f, dtype, device) for layer, f in zip(layers, freq_sizes_in)]


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


def _bottleneck(rnn, proj, x):
    """(B, C, T, F) -> flatten (B, T, C*F) -> rnn -> proj -> (B, C, T, F)."""
    b, ch, t, f = x.shape
    z = x.permute(0, 2, 1, 3).reshape(b, t, ch * f)
    z, _ = rnn(z)
    z = proj(z)
    return z.reshape(b, t, ch, f).permute(0, 2, 1, 3)


class GroupedLSTM(nn.Module):
    """Grouped LSTM with representation rearrangement (Gao, Ozturk & Wang 2018; used by GCRN).

    Input ``(B, T, D)`` -> output ``(B, T, H)``. Each layer splits its input features
    into ``groups`` equal chunks and runs one unidirectional LSTM of ``H/groups``
    units per chunk (``groups`` times fewer weights than one LSTM of ``H``). Between
    layers the representation is rearranged so that every group of the next layer
    sees features of every group of this one: the outputs ``(B, T, G, H/G)`` are
    transposed to ``(B, T, H/G, G)`` and flattened (a shuffle, as ShuffleNet's
    channel shuffle). ``D`` and ``H`` must be divisible by ``groups``.
    Chapter: 05_complex_mapping.
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


