"""CRN: the convolutional recurrent network of Tan & Wang (Interspeech 2018).
Chapter: 05_complex_mapping.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from sedemo.models.configs import CRNConfig, _freq_sizes
from sedemo.dsp.features import compress
from sedemo.models.base import SEModel, _param_dtype, _unit_phase
from sedemo.models.blocks import _ConvBlock, _bottleneck, _bottleneck_step, _conv_states, _decoder, _run_decoder, _step_layers


class CRN(SEModel):
    """Causal convolutional recurrent network (Tan & Wang 2018); see :class:`CRNConfig`.

    Reference: K. Tan, D. Wang, "A convolutional recurrent neural network for
    real-time speech enhancement", Interspeech 2018. Chapter 5.
    Chapter: 05_complex_mapping.
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
        x = compress(spec, c.compress).abs().transpose(1, 2).unsqueeze(1)  # (B, 1, T, F)
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        x = _bottleneck(self.lstm, self.proj, x)
        y = _run_decoder(self.decoder, x, skips)  # (B, 1, T, F)
        return self.output_head(y, spec)

    def output_head(self, y, spec) -> dict:
        c = self.config
        mag_c = F.softplus(y[:, 0]).transpose(1, 2)  # (B, F, T)
        return {"spec": mag_c.pow(1.0 / c.compress) * _unit_phase(spec), "magnitude": mag_c}

    def init_state(self, batch: int = 1):
        """``{"enc", "dec": per-layer (conv history, norm state), "rnn": (h, c)}``, zeros. Chapter 7."""
        c = self.config
        dtype, device = _param_dtype(self), next(self.parameters()).device
        fs = self.freq_sizes
        n = len(c.channels)
        hidden = self.lstm.hidden_size
        z = torch.zeros(c.lstm_layers, batch, hidden, dtype=dtype, device=device)
        return {"enc": _conv_states(self.encoder, batch, fs[:n], dtype, device),
                "rnn": (z, z.clone()),
                "dec": _conv_states(self.decoder, batch, fs[n:0:-1], dtype, device)}

    def step(self, frame_spec, state=None):
        """Enhance the next ``n`` frames ``(B, F, n)`` (or ``(B, F)``); returns ``(out, state)``.
        Equals the offline output at those frames (``eval()`` mode). Chapter 7."""
        c = self.config
        spec, squeeze = self._step_input(frame_spec)
        if state is None:
            state = self.init_state(spec.shape[0])
        x = compress(spec, c.compress).abs().transpose(1, 2).unsqueeze(1)
        x, enc, skips = _step_layers(self.encoder, x, state["enc"])
        x, rnn = _bottleneck_step(self.lstm, self.proj, x, state["rnn"])
        y, dec, _ = _step_layers(self.decoder, x, state["dec"], skips)
        out = self.output_head(y, spec)["spec"]
        return (out[..., 0] if squeeze else out), {"enc": enc, "rnn": rnn, "dec": dec}


