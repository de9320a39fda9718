"""How much a wider ULCRN costs in streaming: parameters, multiply-accumulates per second and
the CPU time per second of audio of its exported ONNX step, run hop by hop on one thread,
for several widths (``ULCRNConfig.channels``), with RNNoise timed in the same process.

    .venv-peers/bin/python benchmarks/ulcrn_width.py [--channels 16 20 24 28 32] [--df-order 4]
        [--seconds 10] [--repeats 3] [--no-rnnoise]

Why: issue #15 bounds the default model at 100 K parameters and at RNNoise's streaming CPU
time; the shipped ULCRN has 32 K. The weights are random (the time does not depend on
them). Runs in the peers environment (benchmarks/requirements-peers.txt: onnxruntime,
pyrnnoise); ``--no-rnnoise`` skips the reference. Prints one table; writes nothing.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (benchmarks/peers.py: the same ONNX stream and timing as the peers table)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, nargs="+", default=[16, 20, 24, 28, 32])
    ap.add_argument("--df-order", type=int, default=4, help="deep-filter taps (the default model has 4)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the timed signal")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per system; the best is kept")
    ap.add_argument("--no-rnnoise", action="store_true", help="skip the RNNoise reference")
    args = ap.parse_args(argv)
    if args.seconds <= 1 or args.repeats < 1:
        ap.error("--seconds must be > 1 and --repeats >= 1")
    if args.df_order < 1:
        ap.error(f"--df-order must be >= 1 (1: the mask alone), got {args.df_order}")
    from sedemo import models as M
    from sedemo.models.base import macs_per_second
    from sedemo.streaming import cpu_name

    torch.set_num_threads(1)
    sig = 0.05 * np.random.default_rng(0).standard_normal(int(args.seconds * peers.SR))
    print(f"# {cpu_name()}, {torch.get_num_threads()} thread, torch {torch.__version__}, "
          f"{args.seconds:g} s of noise, best of {args.repeats}, random weights")
    print(f"{'system':28s} {'params':>8s} {'MMAC/s':>8s} {'ONNX stream CPU s/s':>20s}")
    with tempfile.TemporaryDirectory(prefix="ulcrn-width-") as tmp:
        for ch in args.channels:
            try:
                model = M.build_model("ulcrn", channels=ch, df_order=args.df_order).eval()
            except ValueError as err:
                raise SystemExit(f"error: --channels {ch}: {err}")
            path = Path(tmp) / f"ulcrn_c{ch}.pt"
            M.save(model, path)
            system = peers.make_model(f"ulcrn_c{ch}", path)
            if system.stream_onnx is None:
                raise SystemExit(f"error: --channels {ch}: no ONNX stream ({system.info.get('onnx_export')}); "
                                 "install onnx and onnxruntime (pip install -e .[onnx]) or run in .venv-peers")
            cost = peers.cpu_cost(system.stream_onnx, sig, repeats=args.repeats)["cpu_s_per_s"]
            n = sum(p.numel() for p in model.parameters())
            print(f"{f'ULCRN channels {ch}':28s} {n:8d} {macs_per_second(model) / 1e6:8.1f} {cost:20.4f}", flush=True)
    if not args.no_rnnoise:
        rn = peers.make_rnnoise()
        cost = peers.cpu_cost(rn.enhance, sig, repeats=args.repeats)["cpu_s_per_s"]
        print(f"{'RNNoise (pyrnnoise, C)':28s} {'':8s} {'':8s} {cost:20.4f}  (resampling 16k-48k-16k included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
