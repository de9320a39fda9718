"""How impulsive each noise recording of a corpus is (the kurtosis of its noise in 1-6 kHz,
per mixture: median and max per recording), stored as package data for chapter 5.

    python scripts/impulsiveness_report.py --corpus data/corpus-extended \
        [--splits train valid] [--out sedemo/results/corpus/impulsiveness.json]

Every item of the chosen splits of the corpus's ``manifest.csv`` is read; its noise is
``noisy - clean`` and :func:`sedemo.evaluation.impulsive.band_kurtosis` is taken of it. The
test split is left out by default: nothing is chosen on it. Written atomically; nothing
else is touched.
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
from sedemo.evaluation.impulsive import IMPULSIVE_BAND_HZ, IMPULSIVE_FILE, band_kurtosis


def report(root: Path, splits) -> list[dict]:
    manifest = root / "manifest.csv"
    try:
        rows = [r for r in csv.DictReader(manifest.open()) if r["split"] in splits]
    except (OSError, KeyError) as err:
        raise SystemExit(f"error: cannot read {manifest} ({err}); build the corpus first (make data-extended)")
    if not rows:
        raise SystemExit(f"error: {manifest} has no item in the splits {', '.join(splits)}; choose others")
    if "noise_source" not in rows[0]:
        raise SystemExit(f"error: {manifest} has no noise_source column; rebuild the corpus with this version")
    per = defaultdict(list)
    for r in rows:
        try:
            clean = audio.load(root / r["clean"]).astype(np.float64)
            noisy = audio.load(root / r["noisy"]).astype(np.float64)
            if len(clean) != len(noisy):
                raise ValueError(f"clean has {len(clean)} samples, noisy {len(noisy)}")
            per[(r["split"], r["noise_source"])].append(band_kurtosis(noisy - clean))
        except (OSError, RuntimeError, ValueError) as err:
            raise SystemExit(f"error: item {r['id']} of {manifest}: {str(err).splitlines()[0]}; rebuild the "
                             "corpus (make data-extended) or remove the item from the manifest")
    return [{"split": s, "noise_source": k, "n": len(v), "median_kurtosis": float(np.median(v)),
             "max_kurtosis": float(np.max(v))} for (s, k), v in sorted(per.items())]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True, help="a folder of python -m sedemo.data build")
    p.add_argument("--splits", nargs="+", default=["train", "valid"], choices=["train", "valid"],
                   help="splits to read (the test split is not offered: nothing is chosen on it)")
    p.add_argument("--out", type=Path, default=IMPULSIVE_FILE)
    args = p.parse_args(argv)
    result = {"what": "kurtosis of each mixture's noise (noisy - clean) band-passed to "
                      f"{IMPULSIVE_BAND_HZ[0]:g}-{IMPULSIVE_BAND_HZ[1]:g} Hz "
                      "(sedemo.evaluation.impulsive.band_kurtosis), median and max per noise recording",
              "command": f"python scripts/impulsiveness_report.py --corpus {args.corpus.as_posix()} "
                         f"--splits {' '.join(args.splits)}",
              "corpus": args.corpus.as_posix(), "band_hz": list(IMPULSIVE_BAND_HZ),
              "noise": report(args.corpus, args.splits)}
    write_report(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
