"""A causality checker: perturb the future, measure how far back the output changes.

Chapter 7 runs every planted mistake of guidebook
claims C12-C15 through :func:`check` and then fixes it.

Method (test causality, don't claim it). The model is copied, switched to float64
(so that only real dependencies exceed the threshold, never rounding) and, by
default, to ``eval()`` mode. It runs once on ``example``. Then, for probe positions
``t0``, random noise is added to the input at frames ``>= t0`` only, and the
outputs at frames ``< t0`` are compared with the reference::

    reach(t0)  = earliest output frame that changed (by more than rtol * max|y|)
    lookahead  = max over probes of  t0 - reach(t0)     (0 when nothing before t0 moved)

Output frame ``t`` depends on input frame ``t + lookahead`` at most; a causal model
has ``lookahead = 0``. Probing every ``t0`` makes this exact: if output ``t``
depends on input ``t + L``, the probe at ``t0 = t + L`` finds ``reach <= t``. The
same with the past (noise at frames ``<= t1``, look at outputs ``> t1``) gives the
``receptive_field``: how many *past* frames an output depends on (a causal conv
with kernel 3 has 2; the total context is ``receptive_field + 1 + lookahead``).

Unbounded dependencies. When the change reaches the edge of the example (output
frame 0 for the lookahead, the last frame for the receptive field) the probe only
gives a lower bound. If that happens from half the example away or more, the
example cannot bound the dependency and it is reported as *unbounded*: a
bidirectional RNN, attention without a mask, BatchNorm in training mode,
InstanceNorm without running statistics, a normalisation by the global maximum.
(Recurrent layers have fading memory; a dependency weaker than ``rtol`` is not
seen, so use a short example, e.g. 40 frames.)

Train/eval modes (C15). ``mode="eval"`` (default) checks the model as it will be
deployed. ``mode="as_is"`` keeps each submodule's training flag as the user left
it, which exposes BatchNorm left in training mode (its batch statistics span
time, so the future changes the past). InstanceNorm without running statistics
leaks in both modes. Dropout is made repeatable by re-seeding before every run.
:func:`train_eval_mismatch` reports the largest output difference between the
model in train mode (dropout off) and in eval mode.

Lookahead is not latency. :func:`check_waveform` measures the same thing on
waveforms, in samples. An STFT followed by its exact inverse has *no* lookahead:
the overlap-add reconstructs each sample from itself, whatever the framing
(``torch.stft(center=True)`` or :func:`sedemo.dsp.stft.stft`). Its *algorithmic
latency* is still a whole window (20 ms for ``n_fft=320``): a sample can only be
output once every frame covering it has been analysed, processed and added.
As soon as anything is done per frame (a mask, a model), the index-aligned
waveform check shows it: output sample ``n`` then depends on input samples up to
``n + n_fft - 1`` (in practice ``n_fft - 3`` with a square-root Hann window, whose
edge samples are 0 or tiny), i.e. the window length. Where the framing does
matter is the analysis: a centred frame ``m`` (``center=True``), time-stamped at
its centre ``m*hop``, reads ``n_fft/2 - 1`` samples ahead of its stamp (255
samples = 16 ms for ``n_fft=512``), whereas :func:`sedemo.dsp.stft.stft`'s frame ``t``
ends at sample ``(t+1)*hop - 1``, its stamp, and reads nothing ahead (0): pass
``output_hop`` and ``frame_offset`` to check a waveform-to-frames function.
"""
from __future__ import annotations

import copy
import html
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from sedemo._utils import torch_threads

__all__ = [
    "CausalityReport",
    "Probe",
    "check",
    "check_waveform",
    "gradient_map",
    "train_eval_mismatch",
]

MODES = ("eval", "as_is")


@dataclass(frozen=True)
class Probe:
    """One perturbation of a causality check.

    ``kind``: ``"future"`` (noise added to input positions ``>= position``) or
    ``"past"`` (noise at positions ``<= position``). ``reach``: for a future probe
    the earliest output position ``< position`` that changed, for a past probe the
    latest output position ``> position`` that changed (``None``: none changed).
    ``extent``: ``position - reach`` (future) or ``reach - position`` (past), 0 when
    nothing changed. ``censored``: the change reached the edge of the example, so
    ``extent`` is only a lower bound. ``max_change``: largest absolute change of
    the outputs the perturbation should not touch in a causal model (future probes:
    outputs before ``position``; past probes: outputs after it).
    Positions are in the report's unit (frames or samples).
    Chapter: 07_causality.
    """

    kind: str
    position: int
    reach: int | None
    extent: int
    censored: bool
    max_change: float


@dataclass
class CausalityReport:
    """Result of :func:`check` / :func:`check_waveform` (chapter 7).

    Fields: ``lookahead`` (future input frames/samples an output depends on; a
    lower bound when ``lookahead_unbounded``), ``receptive_field`` (past
    frames/samples an output depends on, current one excluded; lower bound when
    ``receptive_field_unbounded``), ``unit`` (``"frames"`` or ``"samples"``),
    ``n_in``/``n_out`` (input and output lengths along time), ``mode``, ``hop``
    and ``sample_rate`` (for milliseconds), ``leak`` (largest change of an output
    caused by perturbing only later inputs: 0 for a causal model, up to float64
    rounding),
    ``train_eval_mismatch`` (see :func:`train_eval_mismatch`; ``None`` for plain
    functions), ``probes`` (every :class:`Probe`), ``notes`` (warnings in words).
    Properties: ``is_causal``, ``lookahead_ms``, ``receptive_field_ms``.
    Chapter: 07_causality.
    """

    lookahead: int
    lookahead_unbounded: bool
    receptive_field: int
    receptive_field_unbounded: bool
    unit: str
    n_in: int
    n_out: int
    mode: str
    hop: int | None = None
    sample_rate: int | None = None
    leak: float = 0.0
    train_eval_mismatch: float | None = None
    probes: list[Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def is_causal(self) -> bool:
        """True when no output depends on a later input (``lookahead == 0``)."""
        return self.lookahead == 0 and not self.lookahead_unbounded

    def _to_ms(self, n: int) -> float | None:
        if self.sample_rate is None:
            return None
        if self.unit == "samples":
            return 1000.0 * n / self.sample_rate
        return None if self.hop is None else 1000.0 * n * self.hop / self.sample_rate

    @property
    def lookahead_ms(self) -> float | None:
        """Lookahead in milliseconds (frames * hop / sample_rate); ``None`` without them."""
        return self._to_ms(self.lookahead)

    @property
    def receptive_field_ms(self) -> float | None:
        """Receptive field (past context) in milliseconds; ``None`` without hop/sample_rate."""
        return self._to_ms(self.receptive_field)

    def as_dict(self) -> dict:
        """The headline numbers as a plain dict (for tables in the book)."""
        return {
            "is_causal": self.is_causal,
            "lookahead": self.lookahead,
            "lookahead_unbounded": self.lookahead_unbounded,
            "lookahead_ms": self.lookahead_ms,
            "receptive_field": self.receptive_field,
            "receptive_field_unbounded": self.receptive_field_unbounded,
            "receptive_field_ms": self.receptive_field_ms,
            "unit": self.unit,
            "leak": self.leak,
            "train_eval_mismatch": self.train_eval_mismatch,
            "mode": self.mode,
        }

    def _amount(self, n: int, unbounded: bool, ms: float | None) -> str:
        unit = self.unit if n != 1 else self.unit[:-1]
        text = f"{n} {unit}"
        if ms is not None:
            text += f" ({ms:.1f} ms)"
        if unbounded:
            text = f"unbounded (>= {text}: the dependency spans the whole example)"
        return text

    def _rows(self) -> list[tuple[str, str]]:
        rows = [
            ("verdict", "causal" if self.is_causal else "NOT causal"),
            ("lookahead", self._amount(self.lookahead, self.lookahead_unbounded, self.lookahead_ms)),
            ("receptive field (past)",
             self._amount(self.receptive_field, self.receptive_field_unbounded, self.receptive_field_ms)),
            ("leak", f"{self.leak:.3g} (largest change of an output when only later inputs change)"),
        ]
        if self.train_eval_mismatch is not None:
            rows.append(("train/eval mismatch",
                         f"{self.train_eval_mismatch:.3g} (max |train-mode output - eval-mode output|)"))
        n_f = sum(p.kind == "future" for p in self.probes)
        n_p = len(self.probes) - n_f
        rows.append(("probes", f"{n_f} future, {n_p} past; {self.n_in} input -> {self.n_out} output "
                               f"{self.unit}; mode={self.mode!r}, float64"))
        return rows

    def __str__(self) -> str:
        rows = self._rows()
        width = max(len(k) for k, _ in rows)
        lines = ["CausalityReport"] + [f"  {k:<{width}}  {v}" for k, v in rows]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.is_causal else "#cf222e"
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._rows()
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div><b style='color:{colour}'>Causality check: "
            f"{'causal' if self.is_causal else 'NOT causal'}</b>"
            f"<table>{body}</table>{f'<ul>{notes}</ul>' if notes else ''}</div>"
        )


# ---------------------------------------------------------------- internals


def _as_inputs(example) -> list[torch.Tensor]:
    items = list(example) if isinstance(example, (tuple, list)) else [example]
    out = []
    for x in items:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.is_complex():
            x = x.to(torch.complex128)
        elif x.is_floating_point():
            x = x.to(torch.float64)
        if (x.is_complex() or x.is_floating_point()) and not torch.isfinite(x).all():
            raise ValueError(
                f"example input {len(out)} (shape {tuple(x.shape)}) contains "
                f"{int((~torch.isfinite(x)).sum())} NaN or infinite values; NaN outputs hide every "
                "change the checker looks for: give a finite example (e.g. torch.randn)")
        out.append(x)
    return out


def _timed_dims(inputs, time_dim) -> list[int | None]:
    """One time axis (or None) per input; an int applies to every input."""
    if isinstance(time_dim, (tuple, list)):
        dims = list(time_dim)
    else:
        dims = [time_dim] * len(inputs)
    if len(dims) != len(inputs):
        raise ValueError(
            f"time_dim has {len(dims)} entries for {len(inputs)} inputs; give one per input "
            "(None for an input without a time axis)"
        )
    out = []
    for x, d in zip(inputs, dims):
        if d is None:
            out.append(None)
            continue
        if not -x.dim() <= d < x.dim():
            raise ValueError(
                f"time_dim {d} is out of range for an input of shape {tuple(x.shape)}; with "
                "several inputs pass one time_dim per input (None: no time axis)"
            )
        if not (x.is_floating_point() or x.is_complex()):
            raise TypeError(
                f"the input with time_dim {d} has dtype {x.dtype}; only float/complex inputs "
                "can be perturbed: give it time_dim None"
            )
        out.append(d % x.dim())
    if all(d is None for d in out):
        raise ValueError("no input has a time axis (time_dim is None everywhere)")
    return out


def _prepare(model, mode: str):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(model, nn.Module):
        return model
    m = copy.deepcopy(model).double()
    if mode == "eval":
        m.eval()
    return m


def _select(out, output_index):
    if isinstance(out, (tuple, list)) or (isinstance(out, dict) and output_index in out):
        out = out[output_index]
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"the model returned {type(out).__name__}; expected a tensor or a tuple/list whose "
            f"element output_index={output_index!r} is one"
        )
    return out


def _runner(m, output_index, seed):
    # Re-seed before every run when a submodule is in training mode, so that dropout
    # draws the same mask each time (seeding is skipped otherwise: it is not free).
    seeded = isinstance(m, nn.Module) and any(sub.training for sub in m.modules())

    def run(xs):
        try:
            return _run(xs)
        except RuntimeError as err:
            if isinstance(m, nn.Module) or "Double" not in str(err):
                raise
            raise RuntimeError(
                f"{err}\nThe checker feeds float64 inputs. A plain function that uses float32 "
                "modules cannot be cast for you: wrap it in an nn.Module (its submodules are "
                "then copied to float64) or cast the modules with .double() yourself."
            ) from err

    def _run(xs):
        with torch.no_grad():
            if not seeded:
                return _select(m(*[x.clone() for x in xs]), output_index)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                return _select(m(*[x.clone() for x in xs]), output_index)
    return run


def _per_frame_change(y, y0, dim) -> torch.Tensor:
    d = (y - y0).abs().movedim(dim, 0)
    return d.reshape(d.shape[0], -1).amax(1) if d.numel() else d.reshape(d.shape[0])


def _positions(lo: int, hi: int, n_probe: int | None, auto_all: int = 128) -> list[int]:
    """Integer positions in [lo, hi]: all of them when few, else ``n_probe`` evenly spaced."""
    if hi < lo:
        return []
    if n_probe is None:
        n_probe = hi - lo + 1 if hi - lo + 1 <= auto_all else 64
    return sorted({int(round(v)) for v in np.linspace(lo, hi, max(1, n_probe))})


def _measure(run, inputs, dims, stamps, n_in, fut, past, rtol, seed, out_dim):
    gen = torch.Generator().manual_seed(seed + 1)
    y0 = run(inputs)
    if not torch.isfinite(y0).all():
        raise ValueError(f"the model's output on the example holds {int((~torch.isfinite(y0)).sum())} NaN or "
                         "infinite values, so changes cannot be measured: check the model and the example")
    thr = rtol * float(y0.abs().max()) if y0.numel() else 0.0
    y_again = run(inputs)
    if y_again.shape != y0.shape or float((y_again - y0).abs().max()) > thr:
        raise RuntimeError(
            "two runs on the same input gave different outputs: the model is not deterministic "
            "(random layers that ignore torch.manual_seed?), so the check cannot attribute changes"
        )
    n_out = y0.shape[out_dim]
    rms = [None if d is None else max(float(x.abs().pow(2).mean().sqrt()), 1e-3) for x, d in zip(inputs, dims)]

    def perturbed(sel):
        xs = []
        for x, d, s in zip(inputs, dims, rms):
            if d is None:
                xs.append(x)
                continue
            start, stop = sel(x.shape[d])
            noise_shape = list(x.shape)
            noise_shape[d] = max(0, stop - start)
            noise = torch.randn(noise_shape, generator=gen, dtype=x.dtype).to(x.device) * s
            xp = x.clone()
            xp.narrow(d, start, noise_shape[d]).add_(noise)
            xs.append(xp)
        return xs

    st = torch.as_tensor(stamps)
    probes, leak = [], 0.0
    for t0 in fut:
        change = _per_frame_change(run(perturbed(lambda n: (min(t0, n), n))), y0, out_dim)
        before = st < t0
        max_change = float(change[before].max()) if before.any() else 0.0
        leak = max(leak, max_change)
        hit = torch.nonzero(before & (change > thr)).flatten()
        if len(hit):
            reach = int(st[hit].min())
            probes.append(Probe("future", t0, reach, t0 - reach, reach == int(st.min()), max_change))
        else:
            probes.append(Probe("future", t0, None, 0, False, max_change))
    for t1 in past:
        change = _per_frame_change(run(perturbed(lambda n: (0, min(t1 + 1, n)))), y0, out_dim)
        after = st > t1
        max_change = float(change[after].max()) if after.any() else 0.0
        hit = torch.nonzero(after & (change > thr)).flatten()
        if len(hit):
            reach = int(st[hit].max())
            probes.append(Probe("past", t1, reach, reach - t1, reach == int(st.max()), max_change))
        else:
            probes.append(Probe("past", t1, None, 0, False, max_change))

    half = max(1, math.ceil(n_in / 2))

    def summarise(kind):
        ps = [p for p in probes if p.kind == kind]
        extent = max((p.extent for p in ps), default=0)
        unbounded = any(p.censored and p.extent >= half for p in ps)
        return extent, unbounded

    la, la_unb = summarise("future")
    rf, rf_unb = summarise("past")
    return y0, dict(lookahead=la, lookahead_unbounded=la_unb, receptive_field=rf,
                    receptive_field_unbounded=rf_unb, leak=leak, probes=probes, n_out=n_out)


def train_eval_mismatch(model, example, output_index=0, seed: int = 0) -> float | None:
    """Largest ``|y_train - y_eval|`` of ``model`` on ``example`` (float64 copies).

    The train-mode copy has its dropout layers switched off, so the number
    measures what normalisation layers do differently in the two modes (BatchNorm:
    batch statistics vs running statistics; claim C15). ``None`` when ``model`` is
    a plain function. The model itself is not modified. Chapter 7.
    Chapter: 07_causality.
    """
    if not isinstance(model, nn.Module):
        return None
    inputs = _as_inputs(example)
    outs = []
    for train in (True, False):
        m = copy.deepcopy(model).double().train(train)
        if train:
            for sub in m.modules():
                if isinstance(sub, nn.modules.dropout._DropoutNd):
                    sub.eval()
        outs.append(_runner(m, output_index, seed)(inputs))
    return float((outs[0] - outs[1]).abs().max())


def _safe_mismatch(model, example, output_index, seed, notes):
    try:
        return train_eval_mismatch(model, example, output_index, seed)
    except Exception as err:  # e.g. BatchNorm refusing a single value per channel in train mode
        notes.append(f"train/eval mismatch not measured: the model failed in train mode ({err})")
        return None


# ---------------------------------------------------------------- public API


def check(model, example, time_dim=2, output_time_dim=None, n_probe: int | None = None,
          hop: int | None = None, sample_rate: int | None = None, *, mode: str = "eval",
          align="start", output_index=0, rtol: float = 1e-9, seed: int = 0,
          num_threads: int | None = 1) -> CausalityReport:
    """Measure the lookahead and receptive field of ``model`` along time, in frames.

    ``model``: an ``nn.Module`` (copied, cast to float64; the original is untouched)
    or any function of tensors. ``example``: a tensor, or a tuple of tensors for a
    model with several inputs. ``time_dim``: the time axis of the input (default 2,
    the book's ``(B, C, T, F)``/``(B, C, T)`` layout; 1 for ``(B, T, D)``); an int
    applies to every input, a tuple gives one entry per input (``None`` for inputs
    without time). Timed inputs are perturbed together and must share the frame rate. ``output_time_dim``: the
    time axis of the output (default: ``time_dim`` of the first timed input).
    If the model returns a tuple (e.g. ``nn.LSTM``), element ``output_index`` is
    checked. ``n_probe``: probe positions per direction (``None``: every frame
    when ``T <= 128``, else 64 evenly spaced; every frame gives the exact answer).
    ``hop``, ``sample_rate``: give both to get milliseconds (the book's default:
    160 samples at 16 kHz, 10 ms per frame).
    ``mode``: ``"eval"`` (default) or ``"as_is"`` (keep the training flags as left;
    catches BatchNorm in train mode). ``align``: which output frame stands for which
    input frame when their lengths differ: ``"start"`` (output ``t`` <-> input
    ``t``), ``"end"`` (last <-> last) or an int offset (output ``t`` <-> input
    ``t + offset``). ``rtol``: an output counts as changed when it moves by more
    than ``rtol * max|y|``. ``num_threads``: torch threads during the check (default
    1: the check is many small forward passes, for which thread start-up costs more
    than it saves; ``None`` keeps the setting).

    Returns a :class:`CausalityReport` (see the module docstring for the method).
    A non-finite example, or output, raises ``ValueError`` (NaN hides every change).
    Example: a ``Conv1d(kernel_size=3, padding=1)`` gives ``lookahead=1``,
    ``receptive_field=1``; ``CausalConv1d(kernel_size=3)`` gives 0 and 2.
    Chapter 7 (claims C12-C15).
    Chapter: 07_causality.
    """
    with torch_threads(num_threads):
        return _check(model, example, time_dim, output_time_dim, n_probe, hop, sample_rate,
                      mode, align, output_index, rtol, seed)


def _check(model, example, time_dim, output_time_dim, n_probe, hop, sample_rate, mode, align,
           output_index, rtol, seed):
    inputs = _as_inputs(example)
    dims = _timed_dims(inputs, time_dim)
    first = next(i for i, d in enumerate(dims) if d is not None)
    n_in = inputs[first].shape[dims[first]]
    m = _prepare(model, mode)
    run = _runner(m, output_index, seed)
    y0 = run(inputs)
    out_dim = dims[first] if output_time_dim is None else output_time_dim
    if not -y0.dim() <= out_dim < y0.dim():
        raise ValueError(
            f"output_time_dim {out_dim} is out of range for the output of shape {tuple(y0.shape)}; "
            "pass output_time_dim for models whose output layout differs from the input's"
        )
    out_dim %= y0.dim()
    n_out = y0.shape[out_dim]
    notes = []
    if align == "start":
        offset = 0
    elif align == "end":
        offset = n_in - n_out
    elif isinstance(align, int):
        offset = align
    else:
        raise ValueError(f"align must be 'start', 'end' or an int offset, got {align!r}")
    if n_out != n_in and align == "start":
        notes.append(
            f"the output has {n_out} frames for {n_in} input frames; output frame t was compared "
            "with input frame t (align='start'). If the extra/missing frames are removed or added "
            "at the start (e.g. an untrimmed ConvTranspose2d whose last frames are kept), rerun "
            "with align='end'."
        )
    stamps = [j + offset for j in range(n_out)]
    fut = _positions(max(1, min(stamps) + 1), n_in - 1, n_probe)
    past = _positions(0, n_in - 2, n_probe)
    _, res = _measure(run, inputs, dims, stamps, n_in, fut, past, rtol, seed, out_dim)
    if res["lookahead_unbounded"] or res["receptive_field_unbounded"]:
        notes.append(
            "an unbounded dependency spans at least half the example: recurrent layers (a "
            "bidirectional RNN for the future), attention without a mask, or statistics over "
            "time (BatchNorm in train mode, InstanceNorm without running stats)"
        )
    te = _safe_mismatch(model, example, output_index, seed, notes)
    if te is not None and te > 0 and mode == "eval":
        notes.append(
            f"train and eval modes give different outputs (max difference {te:.3g}): the "
            "check ran in eval mode; remember model.eval() at inference (C15), or rerun with "
            "mode='as_is' to check the model as it was left"
        )
    return CausalityReport(unit="frames", n_in=n_in, mode=mode, hop=hop, sample_rate=sample_rate,
                           train_eval_mismatch=te, notes=notes, **res)


def check_waveform(fn, length: int, sample_rate: int = 16000, *, output_hop: int | None = None,
                   frame_offset: int = 0, output_time_dim: int = -1, n_probe: int = 32,
                   block: int | None = None, batch: int = 1, example=None, mode: str = "eval",
                   output_index=0, rtol: float = 1e-9, seed: int = 0,
                   num_threads: int | None = 1) -> CausalityReport:
    """Measure the lookahead of a waveform function, in samples (and ms).

    ``fn``: a function or ``nn.Module`` taking a float64 waveform ``(batch, length)``
    and returning a waveform ``(batch, L_out)`` (output sample ``n`` is compared with
    input sample ``n``) or, with ``output_hop``, frames along ``output_time_dim``
    (e.g. an STFT ``(batch, F, T)``): output frame ``j`` is time-stamped at input
    sample ``j*output_hop + frame_offset`` (``frame_offset = 0`` for frames stamped
    at their centre, as ``torch.stft(center=True)``; ``hop - 1`` for
    :func:`sedemo.dsp.stft.stft`, whose frame ``t`` ends at sample ``(t+1)*hop - 1``).
    ``example``: a waveform ``(..., length)`` to use instead of white noise.

    Probes: ``n_probe`` positions spread over the signal plus ``block`` consecutive
    positions (default ``output_hop`` or 256) in the middle, so that a dependency
    pattern that repeats every hop is caught at its worst offset. Other arguments
    (``mode``, ``output_index``, ``rtol``, ``seed``, ``num_threads``) as
    :func:`check`. The report's unit is ``"samples"``; ``lookahead_ms`` uses
    ``sample_rate``.

    Expected values (tested, chapter 7): centred ``torch.stft`` with ``n_fft=512``
    stamped at frame centres: 255 samples (16 ms at 16 kHz); :func:`sedemo.dsp.stft.stft`
    stamped at frame ends: 0; any STFT -> iSTFT identity round trip: 0 (lookahead
    is not latency, see the module docstring); the same round trip with a spectral
    gain in between: the window length minus a few samples (``n_fft - 3`` for
    sedemo's square-root Hann).
    Chapter: 07_causality.
    """
    with torch_threads(num_threads):
        return _check_waveform(fn, length, sample_rate, output_hop, frame_offset, output_time_dim,
                               n_probe, block, batch, example, mode, output_index, rtol, seed)


def _check_waveform(fn, length, sample_rate, output_hop, frame_offset, output_time_dim, n_probe,
                    block, batch, example, mode, output_index, rtol, seed):
    if example is None:
        gen = torch.Generator().manual_seed(seed)
        example = torch.randn(batch, length, generator=gen, dtype=torch.float64)
    x = _as_inputs(example)[0]
    length = x.shape[-1]
    m = _prepare(fn, mode)
    run = _runner(m, output_index, seed)
    y0 = run([x])
    out_dim = output_time_dim % y0.dim()
    n_out = y0.shape[out_dim]
    if output_hop is None:
        stamps = list(range(n_out))
    else:
        stamps = [j * output_hop + frame_offset for j in range(n_out)]
    blk = block if block is not None else (output_hop or 256)
    mid = length // 2
    fut = sorted(set(_positions(1, length - 1, n_probe))
                 | set(range(max(1, mid - blk // 2), min(length - 1, mid - blk // 2 + blk) + 1)))
    past = sorted(set(_positions(0, length - 2, n_probe))
                  | set(range(max(0, mid - blk // 2), min(length - 2, mid - blk // 2 + blk) + 1)))
    _, res = _measure(run, [x], [x.dim() - 1], stamps, length, fut, past, rtol, seed, out_dim)
    notes = []
    if output_hop is None and n_out != length:
        notes.append(f"the output has {n_out} samples for {length} input samples; compared index by index")
    te = _safe_mismatch(fn, x, output_index, seed, notes)
    return CausalityReport(unit="samples", n_in=length, mode=mode, hop=None, sample_rate=sample_rate,
                           train_eval_mismatch=te, notes=notes, **res)


def gradient_map(model, example, time_dim=2, t_out: int = -1, output_time_dim=None, *,
                 mode: str = "eval", input_index: int = 0, output_index=0,
                 n_directions: int = 8, seed: int = 0) -> np.ndarray:
    """How strongly output frame ``t_out`` depends on each input frame, for plots.

    Returns a NumPy array ``(T_in,)``: an estimate of the Frobenius norm
    ``|| d y[t_out] / d x[t] ||_F`` for every input frame ``t``, where ``y[t_out]``
    is the output slice at frame ``t_out`` (negative counts from the end) and
    ``x`` is input ``input_index`` of ``example``. Estimated with ``n_directions``
    random projections: for Gaussian ``u``, ``E ||d <u, y[t_out]> / d x[t]||^2 =
    ||J_t||_F^2``. A causal model gives exactly 0 for ``t > t_out``; the width of the
    non-zero region is the receptive field. The model is copied to float64 as in
    :func:`check` (``mode`` likewise). Chapter 7.
    Chapter: 07_causality.
    """
    inputs = _as_inputs(example)
    td = time_dim[input_index] if isinstance(time_dim, (tuple, list)) else time_dim
    x = inputs[input_index]
    td %= x.dim()
    m = _prepare(model, mode)
    xs = [t.clone() for t in inputs]
    xs[input_index] = x.clone().requires_grad_(True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        y = _select(m(*xs), output_index)
    od = (td if output_time_dim is None else output_time_dim) % y.dim()
    y_t = y.select(od, t_out)
    if y_t.is_complex():
        y_t = torch.view_as_real(y_t)
    gen = torch.Generator().manual_seed(seed + 2)
    acc = torch.zeros(x.shape[td], dtype=torch.float64)
    for i in range(n_directions):
        u = torch.randn(y_t.shape, generator=gen, dtype=y_t.dtype).to(y_t.device)
        (g,) = torch.autograd.grad((u * y_t).sum(), xs[input_index], retain_graph=i < n_directions - 1,
                                   allow_unused=True)
        if g is None:
            continue
        acc += (g.abs() ** 2).movedim(td, 0).reshape(x.shape[td], -1).sum(1).detach().cpu().double()
    return (acc / n_directions).sqrt().numpy()
