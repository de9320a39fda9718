"""Write the golden numbers of a pretrained model: the bundled clip ``tests/data/golden/``
enhanced by ``sedemo/pretrained/<model>.pt``, scored with PESQ-WB, STOI and SI-SDR.

    python scripts/make_golden.py --model ulcrn            # writes tests/data/golden/ulcrn.json
    python scripts/make_golden.py --model ulcrn --clip     # first (re)writes the clip from the corpus

The clip (4 s of test item ``test0012`` of the default corpus: June Wallack's French
prompt from the Asterisk core sounds, CC-BY-SA-3.0, mixed with LinCity-NG's market crowd
noise, GPL-2+, at 5 dB SNR) is bundled as 16-bit FLAC so that ``tests/test_golden.py``
checks the model without a corpus. Re-run this script only when a model is retrained on
purpose; the test then compares against the new numbers. Files are written atomically.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from sedemo._utils import atomic_output

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden"
ITEM, SECONDS, SR = "test0012", 4.0, 16000


def write_clip() -> None:
    import soundfile as sf

    from sedemo.data import load_corpus

    corpus = load_corpus()
    if corpus.source != "debian":
        sys.exit(f"error: the corpus at {corpus.root} is {corpus.source}; the golden clip comes from the "
                 "Debian recordings (make data with the Debian packages)")
    (item,) = [it for it in corpus.items("test") if it.id == ITEM]
    clean, noisy = item.load()
    n = int(SECONDS * SR)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, x in (("clean", clean[:n]), ("noisy", noisy[:n])):
        with atomic_output(GOLDEN / f"{name}.flac") as tmp:
            sf.write(tmp, x, SR, subtype="PCM_16", format="FLAC")
    print(f"wrote {GOLDEN}/clean.flac, noisy.flac ({SECONDS:g} s of {ITEM})")


def golden_metrics(model_name: str) -> dict:
    """PESQ-WB, STOI and SI-SDR of the pretrained ``model_name`` on the bundled clip, and
    the output's RMS (dBFS). Used by this script and by tests/test_golden.py."""
    import soundfile as sf
    import torch

    from sedemo import models
    from sedemo.evaluation.scoring import measure

    torch.set_num_threads(1)
    clean, sr = sf.read(GOLDEN / "clean.flac", dtype="float32")
    noisy, sr2 = sf.read(GOLDEN / "noisy.flac", dtype="float32")
    assert sr == sr2 == SR
    model = models.load_pretrained(model_name)
    est = models.enhance(model, noisy)
    est = np.asarray(est, dtype=np.float32)
    out = measure(est, clean, SR, which=("pesq_wb", "stoi", "si_sdr"))
    out["rms_dbfs"] = float(20 * np.log10(np.sqrt(np.mean(est.astype(np.float64) ** 2)) + 1e-12))
    return {k: float(v) for k, v in out.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a pretrained model name (sedemo/pretrained/<name>.pt)")
    ap.add_argument("--clip", action="store_true", help="(re)write the bundled clip from the corpus first")
    args = ap.parse_args(argv)
    if args.clip:
        write_clip()
    if not (GOLDEN / "noisy.flac").exists():
        sys.exit(f"error: no clip in {GOLDEN}; run with --clip (needs the Debian corpus: make data)")
    from sedemo import models

    try:
        models.pretrained_path(args.model)
    except (KeyError, ValueError) as err:
        sys.exit(f"error: {err}")
    metrics = golden_metrics(args.model)
    record = {"model": args.model, "clip": f"{SECONDS:g} s of {ITEM} (default corpus test split)",
              "command": shlex.join(["python", "scripts/make_golden.py", *(argv if argv is not None else sys.argv[1:])]),
              "metrics": metrics}
    with atomic_output(GOLDEN / f"{args.model}.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
