"""How much of the corpus's "clean" speech and of its noise lies below 20 and 80 Hz, per
voice and per noise family, stored as package data for chapter 5.

    python scripts/low_band_report.py --set corpus=data/corpus-extended \
        --set 0ad=data/noise-bank-valid [--out sedemo/results/corpus/low-band.json]

Each SET is a folder with a ``manifest.csv`` (``python -m sedemo.data build`` or
``noise-bank-valid``); every item of its validation and test splits is read: the clean
file, and the noise as ``noisy - clean``. For each, :func:`sedemo.evaluation.low_band.low_band_share`
at each cutoff. Written atomically; nothing else is touched.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from sedemo._utils import write_report
from sedemo.dsp import audio
from sedemo.evaluation.low_band import low_band_share

OUT = Path(__file__).resolve().parents[1] / "sedemo" / "results" / "corpus" / "low-band.json"
CUTOFFS = (20.0, 80.0)
SPLITS = ("valid", "test")


def _set(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"--set takes NAME=FOLDER (e.g. corpus=data/corpus-extended), got {text!r}")
    return name, Path(folder)


def _summary(values: list[list[float]]) -> dict:
    v = np.asarray(values)
    return {"n": len(v), **{f"mean_below_{c:g}": float(v[:, k].mean()) for k, c in enumerate(CUTOFFS)},
            **{f"max_below_{c:g}": float(v[:, k].max()) for k, c in enumerate(CUTOFFS)}}


def report(name: str, root: Path) -> dict:
    manifest = root / "manifest.csv"
    try:
        rows = [r for r in csv.DictReader(manifest.open()) if r["split"] in SPLITS]
    except (OSError, KeyError) as err:
        raise SystemExit(f"error: cannot read {manifest} ({err}); build the set first (make data-extended / "
                         "make data-noise-bank)")
    speech, noise = defaultdict(list), defaultdict(list)
    for r in rows:
        sr = audio.SAMPLE_RATE
        clean = audio.load(root / r["clean"]).astype(np.float64)
        noisy = audio.load(root / r["noisy"]).astype(np.float64)
        n = min(len(clean), len(noisy))
        speech[(r["split"], r["speaker"])].append([low_band_share(clean, c, sr) for c in CUTOFFS])
        noise[(r["split"], r["noise_type"])].append([low_band_share(noisy[:n] - clean[:n], c, sr) for c in CUTOFFS])
    return {"root": root.as_posix(), "n_items": len(rows),
            "speech": [{"split": s, "speaker": k, **_summary(v)} for (s, k), v in sorted(speech.items())],
            "noise": [{"split": s, "noise_type": k, **_summary(v)} for (s, k), v in sorted(noise.items())]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", type=_set, action="append", required=True, metavar="NAME=FOLDER")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    result = {"what": "share of the power below 20 and 80 Hz (sedemo.evaluation.low_band.low_band_share) of "
                      "each validation/test item's clean speech and noise (noisy - clean), mean and max per voice "
                      "and per noise family",
              "command": "python scripts/low_band_report.py " + " ".join(f"--set {n}={f.as_posix()}" for n, f in args.set),
              "cutoffs_hz": list(CUTOFFS), "sets": {n: report(n, f) for n, f in args.set}}
    write_report(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
