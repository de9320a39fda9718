"""Store the summary of a built extended corpus as package data, so that the book can
describe the corpus its default models were trained on without building it.

    python scripts/corpus_summary.py --root data/corpus-extended \
        [--out sedemo/results/corpus/extended.json]

Reads ROOT/info.json (written by ``python -m sedemo.data build --voices extended``) and
writes its configuration, its per-split summary (voices, sexes, languages, hours) and its
credits, atomically.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sedemo._utils import atomic_output
from sedemo.data.voices import EXTENDED_SUMMARY


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, required=True, help="a corpus built with --voices extended")
    p.add_argument("--out", type=Path, default=EXTENDED_SUMMARY)
    args = p.parse_args(argv)
    info_path = args.root / "info.json"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as err:
        print(f"error: cannot read {info_path} ({err}); build it first: make data-extended", file=sys.stderr)
        return 2
    if info.get("config", {}).get("voices") != "extended" or "splits" not in info:
        print(f"error: {args.root} is not an extended corpus (build it with --voices extended)", file=sys.stderr)
        return 2
    cfg = info["config"]
    summary = {
        "what": "the extended corpus the book's default models are trained and compared on",
        "command": (f"python -m sedemo.data build --voices extended --root {args.root.as_posix()} "
                    f"--n-train {cfg['n_train']} --n-valid {cfg['n_valid']} --n-test-per-cell {cfg['n_test_per_cell']} "
                    f"--seed {cfg['seed']}"),
        "config": cfg, "splits": info["splits"], "credits": info.get("credits", []),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
