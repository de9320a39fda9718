"""Command line of sedemo: ``python -m sedemo enhance INPUT.wav OUTPUT.wav --model NAME``.

Enhances your own recording with one of the book's pretrained causal models
(chapter 5). Any sample rate and channel count is accepted: channels are averaged
(mixdown) and the signal is resampled to the model's 16 kHz, both said on the
console. The output is written at 16 kHz, 16-bit. Long files are processed block by
block through the streaming enhancer (chapter 7), so memory does not grow with the
file's length (for formats soundfile reads: WAV, FLAC, OGG; others such as MP3 are
decoded whole first).
"""
from __future__ import annotations

import argparse
import sys
from math import gcd
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "gcrn"  # the book's best causal model (chapter 5)
BLOCK_SECONDS = 10.0
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
        x = audio.load(path, sample_rate=target_sr, mono=True).astype(np.float64)
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
                more = handle.read(n_block, dtype="float64", always_2d=True)
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


def enhance_file(input_path, output_path, model_name: str = DEFAULT_MODEL, block_seconds: float = BLOCK_SECONDS,
                 threads: int = 1, log=print) -> dict:
    """Enhance one file with the streaming enhancer; the output is aligned with the input
    and has its length (at 16 kHz). Returns a summary dict: ``seconds`` of audio, ``rtf``
    (wall time of the whole command, decoding, resampling and writing included, over the
    audio duration), ``model_rtf`` (the same for the model's streaming calls alone, the
    figure to compare with ``benchmarks/rtf.py``), ``clipped`` samples and ``model``.
    Runs on ``threads`` torch threads (the previous count is restored). Chapter: 07_causality."""
    from sedemo._utils import torch_threads

    with torch_threads(threads):
        return _enhance_file(Path(input_path), Path(output_path), model_name, block_seconds, log)


def _enhance_file(input_path: Path, output_path: Path, model_name: str, block_seconds: float, log) -> dict:
    import time

    import soundfile as sf

    from sedemo import models
    from sedemo.streaming import StreamingEnhancer

    if not input_path.is_file():
        raise FileNotFoundError(f"input file not found: {input_path}")
    if output_path.resolve() == input_path.resolve():
        raise ValueError("OUTPUT must differ from INPUT (the input would be overwritten)")
    if model_name not in models.MODELS:
        raise ValueError(f"unknown model {model_name!r}; choose one of {sorted(models.MODELS)}")
    model = models.load_pretrained(model_name).eval()
    target_sr = model.stft_config.sample_rate
    streamer = StreamingEnhancer(model)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    n_in = clipped = 0
    model_seconds = 0.0  # time in the model alone (streamer.process / flush), without file I/O
    skip = streamer.output_delay  # the stream starts n_fft - hop samples late: drop them to align
    told = False
    t0 = time.perf_counter()
    with sf.SoundFile(str(output_path), "w", samplerate=target_sr, channels=1, subtype="PCM_16") as out:
        def write(y):
            nonlocal clipped, skip
            y = np.asarray(y, dtype=np.float64)
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
        write(timed(streamer.flush))
    seconds = n_in / target_sr
    elapsed = time.perf_counter() - t0
    if n_in == 0:
        raise ValueError(f"{input_path} holds no audio samples")
    summary = {"seconds": seconds, "rtf": elapsed / max(seconds, 1e-9),
               "model_rtf": model_seconds / max(seconds, 1e-9), "clipped": clipped, "model": model_name}
    if clipped:
        log(f"warning: {clipped} output samples exceeded full scale and were clipped; "
            "lower the input level and run again")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sedemo", description="sedemo command line")
    sub = parser.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("enhance", help="enhance a recording with a pretrained model", description=__doc__)
    e.add_argument("input", type=Path)
    e.add_argument("output", type=Path)
    e.add_argument("--model", default=DEFAULT_MODEL, help="pretrained model name (default: %(default)s)")
    e.add_argument("--threads", type=int, default=1, help="CPU threads (default: %(default)s)")
    e.add_argument("--block-seconds", type=float, default=BLOCK_SECONDS)
    args = parser.parse_args(argv)
    try:
        s = enhance_file(args.input, args.output, args.model, args.block_seconds, args.threads)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.output}: {s['seconds']:.1f} s enhanced with {s['model']} "
          f"(real-time factor {s['rtf']:.3f} with file decoding and resampling, "
          f"{s['model_rtf']:.3f} for the model alone, on {args.threads} thread(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
