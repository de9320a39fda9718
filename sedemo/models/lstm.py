"""The LSTM mask estimator and magnitude mapper (claim C9). Chapter: 03_masks.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from sedemo.dsp.features import splice
from sedemo.models.configs import LSTMConfig
from sedemo.models.base import SEModel, _param_dtype, _unit_phase
from sedemo.models.blocks import _lstm_step


# --------------------------------------------------------------------------- LSTM (ch. 3)
class LSTMEnhancer(SEModel):
    """LSTM mask estimator / magnitude mapper of chapter 3 (claim C9); see :class:`LSTMConfig`.

    Features: ``(log_power(Y) - feat_mean_db) / feat_std_db``, spliced with
    ``context`` past and ``right_context`` future frames, ``(B, T, F*(k+1))`` ->
    unidirectional LSTM -> linear -> per-bin output. References: Weninger et al.,
    GlobalSIP 2014; Erdogan et al., ICASSP 2015; Wang, Narayanan & Wang, TASLP 2014.
    Chapter: 03_masks.
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
        feats = self._log_feats(spec)
        if c.context or c.right_context:
            feats = splice(feats, c.context, c.right_context)
        return feats

    def estimate(self, noisy_spec: torch.Tensor) -> dict:
        """``{"spec": Ŝ, "mask": M}`` (``output="mask"``) or ``{"spec", "magnitude"}``."""
        spec = self._prepare(noisy_spec)
        h, _ = self.lstm(self.features(spec).transpose(1, 2))  # (B, T, H)
        return self.output_head(h, spec)

    def estimate_without_waiting(self, noisy_spec: torch.Tensor) -> dict:
        """What a frame-by-frame stream computes when it does **not** wait for the future
        this model was trained to read (chapter 7's causality mistake made audible).

        Frame ``t`` is computed when frame ``t`` arrives, with the states the stream
        carried from earlier frames: spliced future frames (``right_context``) are not
        there yet, so their slots hold frame ``t`` itself (the replication padding the
        model saw at the end of each training crop); a backward LSTM direction
        (``bidirectional``) can only start at frame ``t`` from a zero state, so it reads
        frame ``t`` alone. The forward direction carries its state as usual. For a causal
        LSTM (unidirectional, ``right_context=0``) this equals :meth:`estimate`.
        ``noisy_spec`` complex ``(B, F, T)``; returns :meth:`estimate`'s dict.
        Chapter: 07_causality."""
        c = self.config
        spec = self._prepare(noisy_spec)
        feats = self._log_feats(spec)  # (B, F, T)
        if c.context or c.right_context:
            past = splice(feats, c.context, 0)
            feats = torch.cat([past] + [feats] * c.right_context, dim=-2)
        x = feats.transpose(1, 2)  # (B, T, D)
        if not c.bidirectional:
            h, _ = self.lstm(x)
            return self.output_head(h, spec)
        rnn = self.lstm
        for layer in range(rnn.num_layers):
            h_fwd = _forward_direction(rnn, layer, x)
            suffix = f"_l{layer}_reverse"  # from a zero state: no W_hh term
            gates = x @ getattr(rnn, "weight_ih" + suffix).T + getattr(rnn, "bias_ih" + suffix) \
                + getattr(rnn, "bias_hh" + suffix)
            i, _, g, o = gates.chunk(4, dim=-1)
            h_bwd = torch.sigmoid(o) * torch.tanh(torch.sigmoid(i) * torch.tanh(g))
            x = torch.cat([h_fwd, h_bwd], dim=-1)
        return self.output_head(x, spec)

    def streaming_blocker(self) -> str | None:
        """Why this LSTM enhancer cannot stream (bidirectional, or future frames spliced), or
        ``None``. Claim C12. Chapter: 07_causality."""
        c = self.config
        if c.bidirectional:
            return ("this LSTM enhancer is bidirectional (bidirectional=True): its backward LSTM "
                    "reads the utterance from the last frame to the first, so every output frame "
                    "depends on all future frames and nothing can be emitted before the stream "
                    "ends (claim C12). Only unidirectional LSTMs can stream.")
        if c.right_context > 0:
            return (f"this LSTM enhancer splices right_context={c.right_context} future frame(s) "
                    "onto each input frame: it is not causal, so it cannot stream frame by frame "
                    "with zero lookahead (it would need to wait for those future frames). Use "
                    "right_context=0.")
        return None

    def _log_feats(self, spec):
        """Normalised log power ``(B, F, n)``: ``(10 log10 max(|Y|², floor) - mean) / std``."""
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
        replication padding of :func:`sedemo.dsp.features.splice`). Chapter 7."""
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
        out = self.output_head(h, spec)["spec"]
        state = {"hist": hist, "h": hn, "c": cn, "started": True}
        return (out[..., 0] if squeeze else out), state

    def output_head(self, h, spec) -> dict:
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


def _forward_direction(rnn: nn.LSTM, layer: int, x: torch.Tensor) -> torch.Tensor:
    """The forward direction of layer ``layer`` of ``rnn`` on ``x (B, T, D)`` from a zero
    state -> ``h (B, T, H)``: a one-layer unidirectional ``nn.LSTM`` holding that
    direction's weights (no gradients; for :meth:`LSTMEnhancer.estimate_without_waiting`)."""
    one = nn.LSTM(x.shape[-1], rnn.hidden_size, batch_first=True).to(dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(one, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{layer}"))
    return one(x)[0]
