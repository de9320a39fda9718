"""Real-time factor (RTF) of streaming inference on one CPU thread (chapter 7).

RTF = processing time / audio duration; below 1 a model keeps up with real time,
the issue's target is RTF <= 0.1 on one thread of this machine's CPU. Streaming
mode: :class:`sedemo.streaming.StreamingEnhancer`, one ``process()`` call per 10 ms
hop (160 samples), one model step per frame, batch 1: what a real-time device does.
The offline RTF (whole file through ``sedemo.models.enhance`` at once) is printed
for comparison: it amortises the per-call overhead over every frame but needs the
whole file first.

Run: ``python benchmarks/rtf.py`` (about a minute; ``--seconds``, ``--repeats``,
``--threads``, ``--models``, ``--json out.json``). Timings of a shared machine are
noisy: the RTF is the median over repeats, the per-frame times are the median and
95th percentile over every frame of every repeat. The table says whether the
weights are trained (``sedemo/pretrained/<name>.pt``) or random: speed does not
depend on the weights.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sedemo import models as M# noqa: E402
from sedemo.streaming import measure_rtf  # noqa: E402


def load(name: str):
    """Trained weights when ``sedemo/pretrained/<name>.pt`` exists, random ones otherwise."""
    if M.pretrained_path(name).exists():
        return M.load_pretrained(name), "trained"
    torch.manual_seed(0)
    return M.build_model(name).eval(), "random"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["gcrn", "crn", "lstm_mask"])
    ap.add_argument("--seconds", type=float, default=10.0, help="audio streamed per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--target", type=float, default=0.1, help="RTF target (the issue: 0.1)")
    ap.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    ap.add_argument("--compare-step", action="store_true",
                    help="also stream CRN/GCRN models through model.step (no FramePlan), back to back")
    args = ap.parse_args(argv)

    rows = []
    for name in args.models:
        model, weights = load(name)
        r = measure_rtf(model, seconds=args.seconds, threads=args.threads, repeats=args.repeats)
        r["weights"] = weights
        rows.append(r)
        print(f"  measured {name} ({r['path']}): RTF {r['rtf']:.3f}", file=sys.stderr, flush=True)
        if args.compare_step and r["path"] == "FramePlan":
            r = measure_rtf(model, seconds=args.seconds, threads=args.threads, repeats=args.repeats,
                            plan=False)
            r["weights"] = weights
            rows.append(r)
            print(f"  measured {name} ({r['path']}): RTF {r['rtf']:.3f}", file=sys.stderr, flush=True)

    r0 = rows[0]
    try:
        load_avg = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load_avg = "n/a"
    print(f"Hardware: {r0['cpu']} ({r0['logical_cpus']} logical CPUs), torch {r0['torch']}, "
          f"{r0['threads']} thread(s); load average at the end: {load_avg}")
    print(f"Streaming mode: {r0['mode']}; {r0['seconds']:g} s of audio x {r0['repeats']} repeats")
    print(f"Algorithmic latency: {r0['algorithmic_latency_ms']:g} ms (20 ms window, no lookahead); "
          f"real-time budget per frame: {r0['hop_ms']:g} ms")
    head = (f"{'model':<10} {'path':<10} {'weights':<8} {'params':>9} {'stream RTF':>10} {'frame med ms':>12} "
            f"{'frame p95 ms':>12} {'offline RTF':>11} {'state kB':>9} {'RTF<=' + format(args.target, 'g'):>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        ok = "yes" if r["rtf"] <= args.target else "NO"
        print(f"{r['model']:<10} {r['path']:<10} {r['weights']:<8} {r['parameters']:>9,} {r['rtf']:>10.3f} "
              f"{r['frame_ms_median']:>12.2f} {r['frame_ms_p95']:>12.2f} {r['offline_rtf']:>11.3f} "
              f"{r['state_bytes'] / 1000:>9.1f} {ok:>8}")
    print("stream RTF per repeat: " + "; ".join(
        f"{r['model']} ({r['path']}) " + ", ".join(f"{v:.3f}" for v in r["rtf_all"]) for r in rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
        print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
