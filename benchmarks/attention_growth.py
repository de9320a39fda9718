"""Per-frame time and cache memory of streaming self-attention vs stream length (claim C14).

Streams ``--frames`` frames (default 5000 = 50 s at a 10 ms hop), one frame per
``step``, through three layers of :mod:`sedemo.layers`:

* ``full``: :class:`sedemo.layers.CausalMultiheadAttention` without a window. The causal
  mask removes the lookahead, but every past key and value must stay in the cache:
  memory grows linearly with the stream, and so does the work of each new frame
  (one dot product per cached key, plus copying the cache to append to it);
* ``window``: the same layer with ``window=W``: the cache keeps the last ``W-1``
  frames, so memory and time per frame stop growing after ``W`` frames;
* ``chunked``: :class:`sedemo.layers.ChunkedAttention` (Transformer-XL-like): chunks of
  ``C`` frames plus ``M`` memory chunks: bounded by ``(M+1)*C - 1`` cached frames.

At each checkpoint (``--at``, default 100, 200, 500, 1000, 2000, 5000 frames) it
prints the median time of the last ``--span`` steps before that point (ms per frame)
and the cache size (kB). One thread, batch 1, ``inference_mode``. Timings are
noisy on a shared machine: compare the trend (linear vs flat), not single values.

Run: ``python benchmarks/attention_growth.py`` (well under a minute), options
``--d-model``, ``--heads``, ``--window``, ``--chunk``, ``--memory``, ``--frames``,
``--out growth.csv`` or ``--out growth.json`` (one row per layer and checkpoint).
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sedemo.layers import CausalMultiheadAttention, ChunkedAttention, state_nbytes  # noqa: E402
from sedemo.streaming import cpu_name  # noqa: E402


def measure(layer, frames: int, checkpoints: list[int], span: int, d_model: int, seed: int = 0):
    """Stream ``frames`` random frames through ``layer.step``; return one row per checkpoint."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, frames, d_model, generator=g)
    times, rows = [], []
    state = None
    todo = sorted(c for c in checkpoints if c <= frames)
    with torch.inference_mode():
        for t in range(frames):
            t0 = time.perf_counter()
            _, state = layer.step(x[:, t : t + 1], state)
            times.append(time.perf_counter() - t0)
            if todo and t + 1 == todo[0]:
                recent = times[max(0, t + 1 - span) : t + 1]
                keys = state[0].shape[2] + (state[2].shape[2] if len(state) == 4 else 0)
                rows.append(dict(frames=t + 1, ms_per_frame=1000 * statistics.median(recent),
                                 cache_kb=state_nbytes(state) / 1000, cached_frames=keys))
                todo.pop(0)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--at", type=int, nargs="+", default=[100, 200, 500, 1000, 2000, 5000])
    ap.add_argument("--span", type=int, default=50, help="steps whose median time is reported")
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--window", type=int, default=100, help="frames seen by the windowed layer")
    ap.add_argument("--chunk", type=int, default=50, help="chunk size of ChunkedAttention")
    ap.add_argument("--memory", type=int, default=1, help="memory chunks of ChunkedAttention")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write rows to .csv or .json")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = {
        "full": CausalMultiheadAttention(args.d_model, args.heads).eval(),
        f"window={args.window}": CausalMultiheadAttention(args.d_model, args.heads, window=args.window).eval(),
        f"chunked {args.chunk}x(1+{args.memory})": ChunkedAttention(
            args.d_model, args.heads, args.chunk, args.memory).eval(),
    }
    results = {}
    for name, layer in layers.items():
        t0 = time.perf_counter()
        results[name] = measure(layer, args.frames, args.at, args.span, args.d_model)
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    print(f"Hardware: {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"d_model={args.d_model}, {args.heads} heads, batch 1, one frame per step (10 ms hop: "
          f"100 frames = 1 s)")
    names = list(results)
    head = f"{'frames':>7} | " + " | ".join(f"{n:^27}" for n in names)
    sub = f"{'':>7} | " + " | ".join(f"{'ms/frame':>9} {'cache kB':>9} {'frames':>7}" for _ in names)
    print(head)
    print(sub)
    print("-" * len(sub))
    for i, row in enumerate(results[names[0]]):
        cells = []
        for n in names:
            r = results[n][i]
            cells.append(f"{r['ms_per_frame']:>9.3f} {r['cache_kb']:>9.1f} {r['cached_frames']:>7d}")
        print(f"{row['frames']:>7} | " + " | ".join(cells))
    for n in names:
        a, b = results[n][0], results[n][-1]
        print(f"{n}: from {a['frames']} to {b['frames']} frames, time per frame x{b['ms_per_frame'] / a['ms_per_frame']:.1f}, "
              f"cache x{b['cache_kb'] / max(a['cache_kb'], 1e-9):.1f}")

    if args.out:
        flat = [dict(layer=n, **r) for n in names for r in results[n]]
        if args.out.suffix == ".json":
            args.out.write_text(json.dumps(dict(config=vars(args) | {"out": str(args.out)},
                                                cpu=cpu_name(), rows=flat), indent=2))
        else:
            with open(args.out, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(flat[0]))
                w.writeheader()
                w.writerows(flat)
        print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
