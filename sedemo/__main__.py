"""Command line of sedemo: ``python -m sedemo enhance INPUT.wav OUTPUT.wav --model NAME``.

Enhances your own recording with one of the book's pretrained causal models
(chapter 5). Any sample rate and channel count is accepted: channels are averaged
(mixdown) and the signal is resampled to the model's 16 kHz, both said on the
console. The output is written at 16 kHz, 16-bit. Long files are processed block by
block through the streaming enhancer (chapter 7), so memory does not grow with the
file's length (for formats soundfile reads: WAV, FLAC, OGG; others such as MP3 are
decoded whole first).

Nothing is lost: the output is written to a temporary file next to OUTPUT and renamed
onto it only when the whole file is enhanced, so a failed run (an undecodable or NaN
input, a broken model) leaves an existing OUTPUT as it was; an OUTPUT that is the
input (the same file by any name) is refused. Errors are one line on stderr, exit
status 2 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import math
import numbers
import os
import sys
from math import gcd
from pathlib import Path

import numpy as np

from sedemo._cli import Parser, run, whole_number

DEFAULT_MODEL = "ulcrn_df"  # chosen on the two validation sets pooled (chapter 5, benchmarks/peers.py --split valid)
BLOCK_SECONDS = 10.0
MAX_BLOCK_SECONDS = 3600.0  # longer blocks would hold a whole hour in memory
_RESAMPLE_CONTEXT = 2048  # input samples of context on each side of a block (>> filter half-length)


def _blocks(path: Path, target_sr: int, block_seconds: float):
    """Yield ``(mono float64 block at target_sr, info)`` from ``path``, block by block.

    Blocks are resampled with overlapping context so that the concatenation equals
    resampling the whole file (the polyphase filter never sees a block edge)."""
    import soundfile as sf
    from scipy.signal import resample_poly

    from sedemo.dsp import audio

    try:
        handle = sf.SoundFile(str(path))
    except Exception:  # not a soundfile format: decode the whole file with ffmpeg
        try:
            x = audio.load(path, sample_rate=target_sr, mono=True).astype(np.float64)
        except audio.AudioDecodeError as err:
            raise _decode_error(path, err) from err
        yield x, None
        return
    with handle:
        sr, channels = handle.samplerate, handle.channels
        up, down = target_sr // gcd(sr, target_sr), sr // gcd(sr, target_sr)
        n_block = max(int(block_seconds * sr) // down, 1) * down  # a multiple of down keeps the grid
        ctx = -(-_RESAMPLE_CONTEXT // down) * down
        hist = np.zeros(0)  # already-emitted input kept as left context
        buf = np.zeros(0)  # input not emitted yet
        eof = False
        while not eof or len(buf):
            while not eof and len(buf) < n_block + ctx:
                try:
                    more = handle.read(n_block, dtype="float64", always_2d=True)
                except (RuntimeError, sf.SoundFileError) as err:
                    raise _decode_error(path, err) from err
                eof = len(more) == 0
                buf = np.concatenate([buf, more.mean(axis=1)])
            core = buf[:n_block] if not eof else buf
            if (up, down) == (1, 1):
                out = core
            else:
                right = buf[len(core):len(core) + ctx]
                y = resample_poly(np.concatenate([hist, core, right]), up, down)
                start = len(hist) * up // down
                out = y[start:start + -(-len(core) * up // down)]
            yield out, (sr, channels)
            hist = np.concatenate([hist, core])[-ctx:]
            buf = buf[len(core):]


def _decode_error(path: Path, err: Exception):
    """One line for an input that cannot be decoded (raw-format advice only for raw extensions)."""
    from sedemo.dsp import audio

    if path.suffix.lower() in audio.RAW_FORMATS:
        detail = " ".join(str(err).split())[:300]
        return audio.AudioDecodeError(f"could not decode {path} as raw {path.suffix} audio ({detail}); "
                                      "check that the file really holds that format, or convert it to WAV")
    return audio.AudioDecodeError(f"could not decode {path}: it is not audio that soundfile or ffmpeg can read "
                                  "(damaged, empty or another kind of file); check the file or convert it to WAV")


def _check_paths(input_path: Path, output_path: Path) -> str:
    """Refuse an input that is not a file and an output that cannot be written or that is
    the input; returns the output format (``"WAV"`` or ``"FLAC"``)."""
    from sedemo.dsp import audio

    if not input_path.exists():
        raise FileNotFoundError(f"input file not found: {input_path}; check the path")
    if not input_path.is_file():
        raise ValueError(f"INPUT {input_path} is not a file; give an audio file (e.g. recording.wav)")
    if output_path.is_dir():
        raise ValueError(f"OUTPUT {output_path} is a folder; give a file name, e.g. {output_path / 'enhanced.wav'}")
    folder = next(p for p in output_path.absolute().parents if p.exists())
    if not folder.is_dir():
        raise ValueError(f"OUTPUT {output_path} cannot be written: {folder} is a file, not a folder; "
                         "choose another output path")
    suffix = output_path.suffix.lower()
    if suffix not in audio.SAVE_FORMATS:
        what = "has no extension" if not suffix else f"has the extension {suffix}, which cannot be written"
        raise ValueError(f"OUTPUT {output_path} {what}; end it with "
                         f"{' or '.join(sorted(audio.SAVE_FORMATS))} (16-bit audio at 16 kHz)")
    same = output_path.resolve() == input_path.resolve()
    if not same and output_path.exists():
        try:
            same = os.path.samefile(input_path, output_path)  # hard links, links, other spellings
        except OSError:
            same = False
    if same:
        raise ValueError(f"OUTPUT must differ from INPUT: {output_path} is the same file as {input_path} "
                         "(it would be overwritten); give another output name")
    if output_path.exists() and not os.access(output_path, os.W_OK):
        raise PermissionError(f"OUTPUT {output_path} is read-only; make it writable or give another name")
    return audio.SAVE_FORMATS[suffix]


def _check_options(block_seconds, threads):
    if isinstance(block_seconds, bool) or not isinstance(block_seconds, numbers.Real) \
            or not math.isfinite(block_seconds) or not 0 < block_seconds <= MAX_BLOCK_SECONDS:
        raise ValueError(f"block_seconds must be a finite number of seconds in (0, {MAX_BLOCK_SECONDS:g}], "
                         f"got {block_seconds!r}; e.g. {BLOCK_SECONDS:g}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1):
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r}; e.g. 1")


def enhance_file(input_path, output_path, model_name: str = DEFAULT_MODEL, block_seconds: float = BLOCK_SECONDS,
                 threads: int = 1, log=print) -> dict:
    """Enhance one file with the streaming enhancer; the output is aligned with the input
    and has its length (at 16 kHz). Returns a summary dict: ``seconds`` of audio, ``rtf``
    (wall time of the whole command, decoding, resampling and writing included, over the
    audio duration), ``model_rtf`` (the same for the model's streaming calls alone, the
    figure to compare with ``benchmarks/rtf.py``), ``clipped`` samples and ``model``.
    Runs on ``threads`` torch threads (the previous count is restored).

    The output (``.wav`` or ``.flac``) is written atomically: on any error nothing is
    created and an existing file is left as it was. Raises ``ValueError`` (bad options,
    an output that is the input, a folder or has no audio extension, NaN input, an
    unknown model or one that outputs NaN/inf), ``FileNotFoundError`` and
    :class:`sedemo.dsp.audio.AudioDecodeError`.
    Chapter: 07_causality."""
    from sedemo._utils import torch_threads

    _check_options(block_seconds, threads)
    with torch_threads(threads):
        return _enhance_file(Path(input_path), Path(output_path), model_name, block_seconds, log)


def _load_model(model_name: str):
    from sedemo import models

    models.pretrained_path(model_name)  # an unknown name: ValueError naming the families and shipped checkpoints
    try:
        return models.load_pretrained(model_name).eval()
    except FileNotFoundError:
        raise
    except Exception as err:  # a damaged checkpoint: say which file, not torch's internals
        raise ValueError(f"the pretrained {model_name!r} model could not be loaded ({' '.join(str(err).split())[:200]}); "
                         f"restore its file (git checkout sedemo/pretrained) or choose another --model") from err


def _enhance_file(input_path: Path, output_path: Path, model_name: str, block_seconds: float, log) -> dict:
    import time

    import soundfile as sf

    from sedemo._utils import atomic_output, removing_new_folders
    from sedemo.streaming import StreamingEnhancer

    fmt = _check_paths(input_path, output_path)
    model = _load_model(model_name)
    target_sr = model.stft_config.sample_rate
    streamer = StreamingEnhancer(model)
    n_in = clipped = 0
    model_seconds = 0.0  # time in the model alone (streamer.process / flush), without file I/O
    skip = streamer.output_delay  # the stream starts n_fft - hop samples late: drop them to align
    told = False
    t0 = time.perf_counter()
    with removing_new_folders(output_path):
        output_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(output_path) as tmp, \
                sf.SoundFile(str(tmp), "w", samplerate=target_sr, channels=1, subtype="PCM_16", format=fmt) as out:
            def write(y):
                nonlocal clipped, skip
                y = np.asarray(y, dtype=np.float64)
                if not np.isfinite(y).all():
                    raise ValueError(
                        f"the model {model_name!r} produced NaN or infinite samples from finite input (damaged "
                        f"weights, or an extreme input level), so {output_path} was not written; restore the "
                        "checkpoint, lower the input level or choose another --model")
                dropped = min(skip, len(y))
                y, skip = y[dropped:], skip - dropped
                clipped += int(np.sum(np.abs(y) > 1.0))
                out.write(np.clip(y, -1.0, 1.0))

            def timed(step, *args):  # a model call, its time added to model_seconds
                nonlocal model_seconds
                t_model = time.perf_counter()
                y = step(*args)
                model_seconds += time.perf_counter() - t_model
                return y

            for block, info in _blocks(input_path, target_sr, block_seconds):
                if not told:
                    if info is not None and (info[0] != target_sr or info[1] != 1):
                        log(f"input: {info[0]} Hz, {info[1]} channel(s) -> mixed down to mono and resampled "
                            f"to {target_sr} Hz")
                    told = True
                if not np.isfinite(block).all():
                    raise ValueError(f"{input_path} contains NaN or infinite samples; repair the file first")
                n_in += len(block)
                write(timed(streamer.process, block.astype(np.float32)))
            if n_in == 0:
                raise ValueError(f"{input_path} holds no audio samples; give a recording that is not empty")
            write(timed(streamer.flush))
    seconds = n_in / target_sr
    elapsed = time.perf_counter() - t0
    summary = {"seconds": seconds, "rtf": elapsed / max(seconds, 1e-9),
               "model_rtf": model_seconds / max(seconds, 1e-9), "clipped": clipped, "model": model_name}
    if clipped:
        log(f"warning: {clipped} output samples exceeded full scale and were clipped; "
            "lower the input level and run again")
    return summary


def _block_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_BLOCK_SECONDS):
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, {MAX_BLOCK_SECONDS:g}], got {text!r} "
                                         f"(e.g. {BLOCK_SECONDS:g})")
    return value


def export_onnx_file(output, model: str = DEFAULT_MODEL, opset: int | None = None, timing: bool = False,
                     log=print) -> dict:
    """``python -m sedemo export-onnx OUT.onnx --model NAME``: write one streaming step of a
    pretrained model (or of a checkpoint file) as an ONNX graph ``OUT.onnx`` with its sidecar
    ``OUT.json`` (see :mod:`sedemo.streaming.onnx_export`), both atomically; an output that is
    the checkpoint read is refused. ``timing``: also time one step with onnxruntime and with
    the torch streaming enhancer on one thread, logged. Returns the sidecar dict.
    Chapter: 07_causality."""
    from sedemo.streaming import onnx_export

    model_obj, source, source_path = onnx_export.resolve_onnx_model(str(model))
    meta = onnx_export.export_onnx(model_obj, output, source=source, source_path=source_path,
                                   opset=onnx_export.DEFAULT_OPSET if opset is None else opset)
    if timing:
        t = onnx_export.time_onnx_step(output, model_obj, threads=1)
        log(f"one step ({t['hop_ms']:g} ms of audio) on {t['cpu']}, {t['threads']} thread: "
            f"{t['onnx_ms']:.3f} ms with onnxruntime, {t['torch_ms']:.3f} ms with the torch StreamingEnhancer")
    return meta


def main(argv=None) -> int:
    """``python -m sedemo enhance IN OUT [--model NAME]`` and ``python -m sedemo export-onnx OUT.onnx
    [--model NAME]``; returns the exit status (0, or 2 after a one-line error). Chapter: 07_causality."""
    parser = Parser(prog="python -m sedemo", description="sedemo command line")
    sub = parser.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("enhance", help="enhance a recording with a pretrained model", description=__doc__)
    e.add_argument("input", type=Path)
    e.add_argument("output", type=Path)
    e.add_argument("--model", default=DEFAULT_MODEL, help="pretrained model name (default: %(default)s)")
    e.add_argument("--threads", type=whole_number(1), default=1, help="CPU threads (default: %(default)s)")
    e.add_argument("--block-seconds", type=_block_seconds, default=BLOCK_SECONDS,
                   help="seconds of input decoded at a time (default: %(default)s)")
    e.add_argument("--debug", action="store_true", help="show the traceback of an error")
    x = sub.add_parser("export-onnx", help="write one streaming step of a model as an ONNX graph (+ JSON sidecar)",
                       description="Write ONE streaming step of a causal model (one hop of samples and the "
                       "state in, the output hop and the new state out) as an ONNX graph OUTPUT.onnx, and "
                       "OUTPUT.json with the names, shapes, hop, sample rate, output delay and latency, so "
                       "that a browser (onnxruntime-web) can run it without Python. Needs onnx and "
                       "onnxruntime: pip install 'sedemo[onnx]'. Chapter 7.")
    x.add_argument("output", type=Path, help="the graph to write (.onnx); the sidecar gets .json")
    x.add_argument("--model", default=DEFAULT_MODEL,
                   help="pretrained model name or checkpoint (.pt) path (default: %(default)s)")
    x.add_argument("--opset", type=whole_number(14), default=None, help="ONNX opset (default: 17)")
    x.add_argument("--time", action="store_true", help="also time one step: onnxruntime vs torch, 1 thread")
    x.add_argument("--debug", action="store_true", help="show the traceback of an error")
    argv = list(sys.argv[1:] if argv is None else argv)

    def body():
        args = parser.parse_args(argv)
        if args.cmd == "export-onnx":
            return args, export_onnx_file(args.output, args.model, args.opset, args.time)
        return args, enhance_file(args.input, args.output, args.model, args.block_seconds, args.threads)

    try:
        args, s = run(body, argv, interrupted="interrupted; OUTPUT was not written")
    except SystemExit as stop:  # an error reported on one line (2), or --help (0)
        return stop.code
    if args.cmd == "export-onnx":
        print(f"{args.output}: one streaming step of {s['model']} ({s['hop']} samples = "
              f"{1000 * s['hop'] / s['sample_rate']:g} ms per step, {len(s['inputs']) - 1} state tensors, "
              f"algorithmic latency {s['algorithmic_latency_ms']:g} ms), sidecar "
              f"{args.output.with_suffix('.json')}")
        return 0
    print(f"{args.output}: {s['seconds']:.1f} s enhanced with {s['model']} "
          f"(real-time factor {s['rtf']:.3f} with file decoding and resampling, "
          f"{s['model_rtf']:.3f} for the model alone, on {args.threads} thread(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
