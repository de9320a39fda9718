"""One streaming step of a CRN/GCRN/ULCRN as an ONNX graph, for a browser or any ONNX runtime.

``python -m sedemo export-onnx OUT.onnx --model gcrn`` (:func:`export_onnx`) writes
``OUT.onnx``, a graph of ONE hop of :class:`sedemo.streaming.StreamingEnhancer`, and
``OUT.json``, a sidecar that tells a program without Python how to drive it.

The graph (float32, batch 1, every shape fixed)
-----------------------------------------------
Inputs ``hop`` ``(1, hop)``: the next ``hop`` samples at the model's rate (160 = 10 ms
at 16 kHz for the book's models), and ``state_0 ... state_N``; outputs ``out_hop``
``(1, hop)`` and ``next_state_0 ... next_state_N``, each ``next_state_i`` to be fed back
as ``state_i`` at the next hop. Every state starts as zeros. ``out_hop`` is exactly what
``StreamingEnhancer.process`` returns for that hop: the stream lags the input by
``output_delay`` samples (``n_fft - hop``, 10 ms), whose first samples are zeros; drop
them to align the output with the input, as ``python -m sedemo enhance`` does.

Inside, with real arithmetic only (ONNX has no complex tensors):

* analysis: ``frame = [last n_fft - hop input samples, hop]`` (state ``input_history``)
  times a fixed matrix ``(n_fft, 2F)`` holding the window times the DFT's cosines and
  minus sines: the real and imaginary parts of the frame's rFFT, exactly frame ``t`` of
  :func:`sedemo.dsp.stft.stft` (up to float rounding);
* the model's own modules on real tensors: the power-law compression written as
  ``x * max(re² + im², tiny)^((c - 1)/2)`` (0 stays 0), the encoder convolutions, the
  LSTM and the decoders through their ``step`` (their histories and ``h, c`` are
  states), then the output head (for the GCRN, the decompression
  ``y * (y_re² + y_im² + 1e-20)^((1/c - 1)/2)``);
* synthesis: ``[re, im]`` times the inverse-DFT matrix ``(2F, n_fft)`` (the synthesis
  window folded in), overlap-added onto the tail of the previous frames (state
  ``overlap_add``) and divided by the running sum of squared windows (state
  ``window_sum``), as :func:`sedemo.dsp.stft.istft`; state ``clock`` (samples emitted,
  capped at ``output_delay``) zeroes the start-up samples.

The end of a stream (``StreamingEnhancer.flush``): feed the last partial hop padded with
zeros, then the final ``n_fft - hop`` samples are ``overlap_add / max(window_sum, tiny)``
of the last ``next_state`` (the sidecar names their indices).

Supported: the CRN/GCRN family and the ULCRN (:data:`SUPPORTED`); other models raise ``ValueError``.
Needs ``onnx`` and ``onnxruntime`` (``pip install "sedemo[onnx]"``), imported only here.
Chapter: 07_causality.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sedemo._utils import atomic_output, removing_new_folders, torch_threads
from sedemo.dsp.features import compress_scale
from sedemo.dsp.stft import window
from sedemo.models.blocks import _bottleneck_step, _step_layers

#: Models whose streaming step exports (the CRN/GCRN family and the ULCRN, chapter 5).
SUPPORTED = ("gcrn", "gcrn_1dec", "gcrn_mag", "gcrn_magphase", "crn", "ulcrn")
#: The ONNX opset written by default (the classic TorchScript exporter).
DEFAULT_OPSET = 17
FORMAT = "sedemo-onnx-step"
FORMAT_VERSION = 1
_TINY = float(torch.finfo(torch.float32).tiny)
_INSTALL = "pip install 'sedemo[onnx]' (or pip install -r requirements.txt)"


# --------------------------------------------------------------------------- nested state <-> list
def _flatten(tree, path=""):
    """``[(path, tensor), ...]`` of a nested state (dicts, lists, tuples; ``None`` skipped),
    depth first in container order: the order of the graph's state tensors."""
    if tree is None:
        return []
    if isinstance(tree, torch.Tensor):
        return [(path or "state", tree)]
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    return [leaf for key, sub in items for leaf in _flatten(sub, f"{path}.{key}" if path else str(key))]


def _unflatten(template, tensors: list):
    """The nested state of ``template``'s structure holding ``tensors`` (consumed in order)."""
    if template is None:
        return None
    if isinstance(template, torch.Tensor):
        return tensors.pop(0)
    if isinstance(template, dict):
        return {k: _unflatten(v, tensors) for k, v in template.items()}
    return type(template)(_unflatten(v, tensors) for v in template)


def _supported_model(model):
    """``model`` checked to be one whose step exports: a causal CRN/GCRN/ULCRN without lookahead."""
    from sedemo.models import CRN, GCRN, ULCRN
    from sedemo.models.base import check_streamable

    name = getattr(model, "name", type(model).__name__)
    if not isinstance(model, (CRN, GCRN, ULCRN)) or name not in SUPPORTED:
        raise ValueError(f"ONNX export of model {name!r} is not supported; supported models: "
                         f"{', '.join(SUPPORTED)}")
    check_streamable(model)
    if getattr(model.config, "norm", "batch") == "cln":
        raise ValueError(f"ONNX export of {name!r} with norm='cln' is not supported (the cumulative layer "
                         "norm keeps float64 running sums); export a model with norm='batch' or 'none'")
    if int(getattr(model, "lookahead_frames", 0)):
        raise ValueError(f"ONNX export needs a model without lookahead; {name!r} has "
                         f"{model.lookahead_frames} frame(s)")
    return model


# --------------------------------------------------------------------------- the real-valued step
class OnnxStep(nn.Module):
    """One hop of :class:`sedemo.streaming.StreamingEnhancer` in real arithmetic: the module
    that :func:`export_onnx` traces. ``forward(hop, *states) -> (out_hop, *next_states)``
    with ``hop`` ``(1, hop)`` float32 and the flat states of :meth:`init_states` (names and
    roles in :attr:`state_names`). Built from a private float32 ``eval()`` copy of ``model``
    (a model of :data:`SUPPORTED`, else ``ValueError``); the model passed is not changed.
    Chapter: 07_causality."""

    def __init__(self, model):
        super().__init__()
        _supported_model(model)
        m = copy.deepcopy(model).float().cpu().eval()
        for p in m.parameters():
            p.requires_grad_(False)
        self.model = m
        cfg = m.stft_config
        self.name = m.name
        self.sample_rate, self.n_fft, self.hop = int(cfg.sample_rate), int(cfg.n_fft), int(cfg.hop)
        self.window_name = cfg.window
        self.n_freqs = self.n_fft // 2 + 1
        self.output_delay = self.n_fft - self.hop
        self.algorithmic_latency_ms = 1000.0 * self.n_fft / self.sample_rate
        n, nf = self.n_fft, self.n_freqs
        w = window(cfg, torch.float64)
        ang = 2 * torch.pi * ((torch.arange(n)[:, None] * torch.arange(nf)[None, :]) % n).double() / n
        self.register_buffer("dft", torch.cat([w[:, None] * ang.cos(), -w[:, None] * ang.sin()], 1).float())
        coef = torch.full((nf,), 2.0, dtype=torch.float64)
        coef[0] = 1.0
        if n % 2 == 0:
            coef[-1] = 1.0
        inv = torch.cat([coef[:, None] * ang.t().cos(), -coef[:, None] * ang.t().sin()], 0) / n
        self.register_buffer("idft", (inv * w[None, :]).float())
        self.register_buffer("w2", w.square().float()[None, :])
        self.register_buffer("ramp", torch.arange(self.hop, dtype=torch.float32)[None, :])
        self._template = m.init_state(1)
        model_leaves = _flatten(self._template, "model")
        kept = self.n_fft - self.hop
        self.state_names = ["input_history", "overlap_add", "window_sum", "clock"] + [p for p, _ in model_leaves]
        self._zeros = [torch.zeros(1, kept), torch.zeros(1, kept), torch.zeros(1, kept), torch.zeros(1)]
        self._zeros += [t.detach().clone() for _, t in model_leaves]
        if any(bool(t.any()) for t in self._zeros):
            raise ValueError(f"the initial state of {self.name!r} is not all zeros; it cannot be exported")
        self.eval()

    def train(self, mode: bool = True):
        """Always ``eval()``: a streaming step is inference (BatchNorm with its running
        statistics), also after ``torch.onnx.export`` restores the mode it found.
        Chapter: 07_causality."""
        return super().train(False)

    def init_states(self) -> list[torch.Tensor]:
        """The states at the start of a stream: zeros, in the graph's order. Chapter: 07_causality."""
        return [t.clone() for t in self._zeros]

    def forward(self, hop: torch.Tensor, *states: torch.Tensor):
        """``(out_hop, *next_states)`` for the next ``hop`` ``(1, hop)``. Chapter: 07_causality."""
        in_hist, ola, env, clock = states[:4]
        model_state = _unflatten(self._template, list(states[4:]))
        frame = torch.cat([in_hist, hop], dim=1)  # (1, n_fft): frame t of the offline STFT
        spec = frame @ self.dft  # (1, 2F): [real parts | imaginary parts] of the windowed rFFT
        re, im, model_state = self._model_step(spec[:, : self.n_freqs], spec[:, self.n_freqs :], model_state)
        out = torch.cat([re, im], dim=1) @ self.idft  # (1, n_fft): inverse rFFT times the window
        acc = out + F.pad(ola, (0, self.hop))
        env = self.w2 + F.pad(env, (0, self.hop))
        y = acc[:, : self.hop] / env[:, : self.hop].clamp_min(_TINY)
        y = torch.where(clock + self.ramp >= float(self.output_delay), y, torch.zeros_like(y))  # start-up: zeros
        next_clock = (clock + float(self.hop)).clamp_max(float(self.output_delay))
        new_model = [t for _, t in _flatten(model_state)]
        return (y, frame[:, self.hop :], acc[:, self.hop :], env[:, self.hop :], next_clock, *new_model)

    def _model_step(self, re, im, state):
        """The model's step on one frame given as real and imaginary parts ``(1, F)``."""
        m, c = self.model, self.model.config
        if hasattr(m, "step_parts"):  # ULCRN: its own step on real parts (B, F, n)
            (yr, yi), state = m.step_parts(re.unsqueeze(-1), im.unsqueeze(-1), state)
            return yr[..., 0], yi[..., 0], state
        scale, mag2 = compress_scale(re, im, c.compress)  # |X|^(c-1), finite: X*scale = 0 at 0
        if getattr(c, "inputs", "magnitude") == "complex":
            x = torch.stack([re * scale, im * scale], dim=1)  # (1, 2, F)
        else:
            x = (mag2.sqrt() * scale).unsqueeze(1)  # (1, 1, F): |X|^c
        x, enc, skips = _step_layers(m.encoder, x.unsqueeze(2), state["enc"])  # (B, C, 1, F) layout
        x, rnn = _bottleneck_step(m.lstm, m.proj, x, state["rnn"])
        if hasattr(m, "decoders"):  # GCRN
            ys, decs = [], []
            for dec, st in zip(m.decoders, state["dec"]):
                y, st, _ = _step_layers(dec, x, st, skips)
                ys.append(y)
                decs.append(st)
            y = torch.cat(ys, dim=1)[:, :, 0]  # (1, n_out, F)
            target = c.target
        else:  # CRN
            y, decs, _ = _step_layers(m.decoder, x, state["dec"], skips)
            y, target = y[:, :, 0], "magnitude"
        if target == "complex":
            yr, yi = y[:, 0], y[:, 1]
            if c.compress != 1.0:
                s = (yr * yr + yi * yi + 1e-20).pow((1.0 / c.compress - 1.0) / 2.0)
                yr, yi = yr * s, yi * s
        else:
            mag = F.softplus(y[:, 0]).pow(1.0 / c.compress)
            if target == "mag_phase":
                yr, yi = mag * torch.cos(y[:, 1]), mag * torch.sin(y[:, 1])
            else:  # the noisy phase: X / |X|, 1 where X = 0
                nz = mag2 > 0
                r = torch.where(nz, mag2, torch.ones_like(mag2)).rsqrt()
                yr = mag * torch.where(nz, re * r, torch.ones_like(re))
                yi = mag * torch.where(nz, im * r, torch.zeros_like(im))
        return yr, yi, {"enc": enc, "rnn": rnn, "dec": decs}


# --------------------------------------------------------------------------- export
def _onnx_modules():
    try:
        import onnx
        import onnxruntime
    except ImportError as err:
        raise RuntimeError(f"ONNX export needs onnx and onnxruntime ({err}); {_INSTALL}") from None
    return onnx, onnxruntime


def _session(path, threads: int = 1):
    _, ort = _onnx_modules()
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = int(threads), 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def _tensor_info(name: str, t: torch.Tensor, role: str) -> dict:
    return {"name": name, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "role": role}


def onnx_sidecar(step: OnnxStep, onnx_file: str, source: str, opset: int, sha256: str = "") -> dict:
    """The JSON sidecar of an exported :class:`OnnxStep`: inputs and outputs (name, shape,
    dtype, role), the state pairs, the STFT, the model, its output delay (samples) and
    algorithmic latency (ms), and how to start, align and end a stream. Chapter: 07_causality."""
    states = step.init_states()
    hop = torch.zeros(1, step.hop)
    inputs = [_tensor_info("hop", hop, "the next hop of input samples")]
    inputs += [_tensor_info(f"state_{i}", t, r) for i, (t, r) in enumerate(zip(states, step.state_names))]
    outputs = [_tensor_info("out_hop", hop, "the next hop of the output stream")]
    outputs += [_tensor_info(f"next_{d['name']}", torch.zeros(d["shape"]), d["role"]) for d in inputs[1:]]
    idx = {r: i for i, r in enumerate(step.state_names)}
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "onnx_file": onnx_file, "onnx_sha256": sha256,
        "opset": int(opset), "model": step.name, "source": source,
        "sample_rate": step.sample_rate, "n_fft": step.n_fft, "hop": step.hop, "window": step.window_name,
        "output_delay_samples": step.output_delay, "algorithmic_latency_ms": step.algorithmic_latency_ms,
        "inputs": inputs, "outputs": outputs,
        "state_pairs": [[f"state_{i}", f"next_state_{i}"] for i in range(len(states))],
        "initial_state": "zeros",
        "usage": ("Feed the input hop by hop: each run takes 'hop' and every 'state_i' (zeros at the start) "
                  "and returns 'out_hop' and 'next_state_i', to feed back as 'state_i'. The output stream "
                  "lags the input by output_delay_samples (its first samples are zeros): drop them to "
                  "align it with the input. End of stream: pad the last partial hop (if any) with zeros and "
                  f"run it; the last {step.output_delay} output samples are then next_state_{idx['overlap_add']} "
                  f"/ max(next_state_{idx['window_sum']}, 1.1754944e-38); keep input length + "
                  "output_delay_samples samples in all (StreamingEnhancer.flush)."),
        "written_by": "python -m sedemo export-onnx",
    }


def _check_output(path: Path, source_path: Path | None) -> Path:
    """``OUT.onnx`` checked; returns the sidecar path ``OUT.json``."""
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"OUTPUT {path} must end with .onnx (the sidecar is written next to it as .json)")
    if path.is_dir():
        raise ValueError(f"OUTPUT {path} is a folder; give a file name, e.g. {path / 'model.onnx'}")
    side = path.with_suffix(".json")
    for out in (path, side):
        if source_path is not None and out.exists() and os.path.samefile(out, source_path):
            raise ValueError(f"OUTPUT must differ from the model file: {out} is {source_path} (it would be "
                             "overwritten); give another output name")
    if side.is_dir():
        raise ValueError(f"the sidecar {side} is a folder; give another OUTPUT name")
    if side.exists():
        try:
            ours = json.loads(side.read_text()).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise ValueError(f"{side} exists and is not a sidecar written by export-onnx; move it or give "
                             "another OUTPUT name (the sidecar is OUTPUT with .json)")
    return side


def export_onnx(model, path, source: str | None = None, opset: int = DEFAULT_OPSET, verify: bool = True,
                source_path=None) -> dict:
    """Write one streaming step of ``model`` (a model of :data:`SUPPORTED`; ``ValueError``
    otherwise) to ``path`` (``.onnx``) and its sidecar to ``path`` with ``.json``, atomically
    (both or neither; an existing sidecar not written by this function is refused, and so is
    an output that is ``source_path``, the checkpoint read). ``source``: what the sidecar says
    the model came from. ``verify``: run the graph with onnxruntime on 8 hops of noise and
    check it against the torch step (``RuntimeError`` beyond 1e-4 relative). Returns the
    sidecar dict. Chapter: 07_causality."""
    onnx, _ = _onnx_modules()
    if isinstance(opset, bool) or not isinstance(opset, int) or not 14 <= opset <= 21:
        raise ValueError(f"opset must be a whole number in [14, 21], got {opset!r}; e.g. {DEFAULT_OPSET}")
    path = Path(path)
    side_path = _check_output(path, Path(source_path) if source_path is not None else None)
    step = OnnxStep(model)
    states = step.init_states()
    args = (torch.zeros(1, step.hop), *states)
    names_in = ["hop"] + [f"state_{i}" for i in range(len(states))]
    names_out = ["out_hop"] + [f"next_state_{i}" for i in range(len(states))]
    with removing_new_folders(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp, atomic_output(side_path) as tmp_side:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                warnings.filterwarnings("ignore", "Constant folding", UserWarning)
                torch.onnx.export(step, args, str(tmp), dynamo=False, opset_version=opset,
                                  input_names=names_in, output_names=names_out, do_constant_folding=True)
            _static_output_shapes(onnx, tmp, [a.shape for a in args])
            onnx.checker.check_model(str(tmp))
            if verify:
                _verify(step, tmp)
            digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
            meta = onnx_sidecar(step, path.name, source or step.name, opset, digest)
            Path(tmp_side).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def _static_output_shapes(onnx, path, shapes) -> None:
    """Write the outputs' fixed shapes into the graph (the tracer leaves some symbolic):
    ``out_hop`` has the shape of ``hop``, each ``next_state_i`` that of ``state_i``."""
    proto = onnx.load(str(path))
    for out, shape in zip(proto.graph.output, shapes):
        dims = out.type.tensor_type.shape.dim
        del dims[:]
        for d in shape:
            dims.add().dim_value = int(d)
    onnx.save(proto, str(path))


def _verify(step: OnnxStep, onnx_path, hops: int = 8, tol: float = 1e-4) -> None:
    """Run the graph and the torch step side by side on ``hops`` hops of seeded noise."""
    sess = _session(onnx_path)
    gen = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(hops, 1, step.hop, generator=gen)
    st_t, st_o = step.init_states(), [t.numpy() for t in step.init_states()]
    ref, got = [], []
    with torch.no_grad():
        for h in x:
            y, *st_t = step(h, *st_t)
            out = sess.run(None, {"hop": h.numpy(), **{f"state_{i}": s for i, s in enumerate(st_o)}})
            if [o.shape for o in out] != [tuple(t.shape) for t in (y, *st_t)]:
                raise RuntimeError(f"the exported graph of {step.name!r} returns other shapes than the torch "
                                   "step; the export is broken for this model, please report it")
            ref.append(y.numpy())
            got.append(out[0])
            st_o = out[1:]
    ref, got = np.concatenate(ref, 1), np.concatenate(got, 1)
    err = float(np.abs(ref - got).max() / max(np.abs(ref).max(), 1e-12))
    if not np.isfinite(got).all() or err > tol:
        raise RuntimeError(f"the exported graph of {step.name!r} differs from the torch step by {err:.2g} "
                           f"(relative, > {tol:g}); the export is broken for this model, please report it")


# --------------------------------------------------------------------------- running and timing
def _zero_feed(sess) -> dict:
    """The zero states of a session's graph, in the dtypes its inputs declare."""
    dtypes = {"tensor(float)": np.float32, "tensor(double)": np.float64}
    return {i.name: np.zeros(i.shape, dtype=dtypes.get(i.type, np.float32))
            for i in sess.get_inputs() if i.name != "hop"}


def stream_onnx(onnx_path, x, threads: int = 1) -> np.ndarray:
    """Stream the samples ``x`` ``(L,)`` through the exported graph ``onnx_path`` hop by hop
    with onnxruntime (``threads`` intra-op threads), as a browser would; returns the output
    stream of the whole hops, float32 ``(L // hop * hop,)``: what the concatenated
    ``StreamingEnhancer.process`` calls return (delayed by ``output_delay``, no flush).
    The shapes come from the graph. Chapter: 07_causality."""
    sess = _session(onnx_path, threads)
    ins = {i.name: i.shape for i in sess.get_inputs()}
    hop = int(ins["hop"][1])
    states = _zero_feed(sess)
    names = [o.name for o in sess.get_outputs()]
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    out = []
    for start in range(0, len(x) - hop + 1, hop):
        res = sess.run(None, {"hop": x[None, start:start + hop], **states})
        out.append(res[0][0])
        states = {n[5:]: v for n, v in zip(names[1:], res[1:])}  # next_state_i -> state_i
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def time_onnx_step(onnx_path, model=None, hops: int = 300, threads: int = 1, repeats: int = 3) -> dict:
    """Time one exported step with onnxruntime on ``threads`` thread(s), and with ``model``
    (if given) the torch :class:`sedemo.streaming.StreamingEnhancer` hop on as many torch
    threads, on ``hops`` hops of seeded noise, best of ``repeats``; returns ms per hop
    (``onnx_ms``, ``torch_ms``), the hop in ms, ``threads`` and ``cpu``. Chapter: 07_causality."""
    from sedemo.streaming.enhancer import StreamingEnhancer
    from sedemo.streaming.rtf import cpu_name

    sess = _session(onnx_path, threads)
    ins = {i.name: i.shape for i in sess.get_inputs()}
    hop = int(ins["hop"][1])
    x = (0.1 * np.random.default_rng(0).standard_normal((hops, 1, hop))).astype(np.float32)
    names = [o.name for o in sess.get_outputs()]
    best = float("inf")
    for _ in range(repeats):
        feed = _zero_feed(sess)
        t0 = time.perf_counter()
        for h in x:
            feed["hop"] = h
            res = sess.run(None, feed)
            feed = {n[5:]: v for n, v in zip(names[1:], res[1:])}
        best = min(best, (time.perf_counter() - t0) / hops)
    result = {"onnx_ms": 1000 * best, "torch_ms": None, "threads": int(threads), "cpu": cpu_name(),
              "hop_ms": None}
    meta = Path(onnx_path).with_suffix(".json")
    if meta.is_file():
        side = json.loads(meta.read_text())
        result["hop_ms"] = 1000.0 * side["hop"] / side["sample_rate"]
    if model is not None:
        enh = StreamingEnhancer(model)
        best = float("inf")
        with torch_threads(threads):
            for _ in range(repeats):
                enh.reset()
                t0 = time.perf_counter()
                for h in x:
                    enh.process(h[0])
                best = min(best, (time.perf_counter() - t0) / hops)
        result["torch_ms"] = 1000 * best
    return result


def resolve_onnx_model(spec: str):
    """``(model, source, checkpoint path or None)`` for ``--model``: a pretrained name of
    :data:`SUPPORTED` or of another shipped checkpoint of those families (``sedemo/pretrained/NAME.pt``,
    e.g. ``ulcrn_stoi``) or the path of a checkpoint written by
    :func:`sedemo.models.save` or ``python -m sedemo.train``. ``ValueError`` for an unknown
    name, an unsupported model or an unreadable file. Chapter: 07_causality."""
    from sedemo import models

    if spec in models.MODELS:
        if spec not in SUPPORTED:
            raise ValueError(f"ONNX export of model {spec!r} is not supported; supported models: "
                             f"{', '.join(SUPPORTED)}")
        return models.load_pretrained(spec).eval(), f"pretrained {spec}", None
    if "/" not in spec and "\\" not in spec and (models.PRETRAINED_DIR / f"{spec}.pt").is_file():
        model = models.load_pretrained(spec).eval()  # a shipped checkpoint of a supported family (ulcrn_stoi)
        _supported_model(model)
        return model, f"pretrained {spec}", None
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"--model {spec!r} is neither a model name nor an existing checkpoint file; "
                         f"give one of {', '.join(SUPPORTED)} or the path of a .pt checkpoint")
    model = models.load(path)
    _supported_model(model)
    return model, f"checkpoint {path.name}", path
