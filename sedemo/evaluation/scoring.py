"""Evaluate enhancers on the corpus: tables of metrics by SNR and noise type.

An *enhancer* is any function ``enhance(noisy, clean=None) -> estimate`` on 16-kHz
float waveforms ``(L,)``; oracle enhancers (chapter 3) use the clean reference,
real ones ignore it. :func:`score_systems` runs one or more enhancers over corpus items
and returns one row per (item, system) with every metric; :func:`summarize` turns
the rows into the tables of chapters 3-6.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from sedemo import masks, metrics
from sedemo.dsp import stft

DEFAULT_METRICS = ("pesq_wb", "stoi", "estoi", "si_sdr", "cd")

#: the diagnostics chapter 6's experiments add to :data:`DEFAULT_METRICS`; ``band_err``
#: expands to one key per band of :data:`sedemo.evaluation.analysis.BANDS_HZ`
DIAGNOSTICS = ("level_db", "absent_db", "band_err")


def _diagnostic(key: str, estimate, reference, sample_rate: int):
    from sedemo.evaluation import analysis  # late: analysis imports the losses, which scoring does not need

    if key == "level_db":
        return analysis.level_difference_db(estimate, reference)
    if key == "absent_db":
        return analysis.absent_level_db(estimate, reference, sample_rate)
    return analysis.band_level_errors(estimate, reference, sample_rate)


def measure(estimate, reference, sample_rate: int = 16000, which: Iterable[str] = DEFAULT_METRICS) -> dict:
    """The quantities named in ``which`` for one pair: keys of
    :data:`sedemo.metrics.METRICS` (computed by :func:`sedemo.metrics.score`) and the
    :data:`DIAGNOSTICS` of chapter 6. ``estimate``, ``reference``: float ``(L,)`` at
    ``sample_rate`` Hz. A quantity with several numbers (``band_err``) adds one key
    each. Chapter: 03_masks."""
    which = list(which)
    unknown = [m for m in which if m not in metrics.METRICS and m not in DIAGNOSTICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {sorted([*metrics.METRICS, *DIAGNOSTICS])}")
    scores = metrics.score(estimate=estimate, reference=reference, sample_rate=sample_rate,
                           which=[m for m in which if m in metrics.METRICS])
    out = {}
    for m in which:
        if m in scores:
            out[m] = scores[m]
            continue
        value = _diagnostic(m, estimate, reference, sample_rate)
        if isinstance(value, dict):
            out.update({k: float(v) for k, v in value.items()})
        else:
            out[m] = float(value)
    return out


def oracle_enhancer(name: str, cfg: stft.STFTConfig = stft.DEFAULT, **options) -> Callable:
    """An enhancer that applies the oracle mask ``name`` (a key of
    :data:`sedemo.masks.ORACLE_MASKS`: IBM, IRM, IAM, PSM, cIRM) computed from the
    clean reference, then resynthesises with :func:`sedemo.dsp.stft.istft`. ``options``
    go to the mask (``lc_db=``, ``beta=`` ...). Chapter 3's upper bounds.
    Chapter: 03_masks."""
    if name not in masks.ORACLE_MASKS:
        raise ValueError(f"unknown oracle mask {name!r}; choose from {sorted(masks.ORACLE_MASKS)}")

    def enhance(noisy, clean=None):
        if clean is None:
            raise ValueError(f"the oracle {name} needs the clean reference: call enhance(noisy, clean)")
        clean = np.asarray(clean, dtype=np.float64)
        noisy = np.asarray(noisy, dtype=np.float64)
        S, Y = stft.stft(clean, cfg), stft.stft(noisy, cfg)
        mask = masks.oracle_mask(name, clean=S, noise=Y - S, mixture=Y, **options)
        return stft.istft(masks.apply_mask(mask, Y), cfg, length=len(noisy)).astype(np.float32)

    enhance.__name__ = f"oracle_{name}"
    return enhance


def score_systems(systems: dict[str, Callable], items, which: Iterable[str] = DEFAULT_METRICS,
             include_noisy: bool = True, progress: bool = False, sample_rate: int = 16000) -> list[dict]:
    """Run every enhancer of ``systems`` (name -> ``enhance(noisy, clean)``) on each
    corpus item and score it against the clean reference.

    Returns rows ``{"id", "snr_db", "noise_type", "system", <metric>: value}``; the
    unprocessed mixture appears as system ``"noisy"`` when ``include_noisy``.
    Used in chapters 3-6 and by ``python -m sedemo.evaluation``.
    Chapters: 03_masks, 04_phase, 05_complex_mapping, 06_losses.
    """
    which = tuple(which)
    items = list(items)
    iterator = items
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(items, desc="evaluate", unit="item")
    rows = []
    for item in iterator:
        clean, noisy = item.load()
        outputs = {"noisy": noisy} if include_noisy else {}
        for name, enhance in systems.items():
            est = np.asarray(enhance(noisy, clean), dtype=np.float32)
            if est.shape != clean.shape:
                raise ValueError(f"system {name!r} returned shape {est.shape} for input {clean.shape}: "
                                 "an enhancer must return a waveform of the input's length")
            outputs[name] = est
        for name, est in outputs.items():
            rows.append({"id": item.id, "snr_db": item.snr_db, "noise_type": item.noise_type, "system": name,
                         **measure(est, clean, sample_rate, which)})
    return rows


def summarize(rows: list[dict], by: str | tuple = "snr_db", which: Iterable[str] = DEFAULT_METRICS,
              systems: list[str] | None = None):
    """Mean of each metric per system and per value of ``by`` (a column name such as
    ``"snr_db"`` or ``"noise_type"``, or ``()`` for the overall mean), as a pandas
    DataFrame with a (metric, ``by``) column index and systems as rows, in the order
    given by ``systems`` (default: order of appearance).
    Chapter: 03_masks."""
    import pandas as pd

    df = pd.DataFrame(rows)
    which = [m for m in which if m in df.columns]
    order = systems or list(dict.fromkeys(df["system"]))
    if not by:
        return df.groupby("system")[which].mean().loc[order]
    table = df.pivot_table(index="system", columns=by, values=which, aggfunc="mean")
    return table[which].loc[order]


def balanced_subset(items, per_cell: int, by=("snr_db", "noise_type")) -> list:
    """The first ``per_cell`` items of each combination of the ``by`` attributes:
    a smaller test set that keeps the SNR x noise-type grid balanced.
    Chapter: 03_masks."""
    seen: dict[tuple, int] = {}
    out = []
    for it in items:
        key = tuple(getattr(it, b) for b in by)
        if seen.get(key, 0) < per_cell:
            seen[key] = seen.get(key, 0) + 1
            out.append(it)
    return out


def model_enhancer(model) -> Callable:
    """Wrap a trained :mod:`sedemo.models` model as an enhancer: :func:`sedemo.models.enhance`
    (eval mode and no gradients during each call; the model's mode is restored).
    Chapter: 05_complex_mapping."""
    from sedemo import models

    def enhance(noisy, clean=None):
        return np.asarray(models.enhance(model, noisy), dtype=np.float32)

    enhance.__name__ = getattr(model, "name", "model")
    return enhance


def _format_table(table) -> str:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 100):
        return table.round(3).to_string()


def main(argv=None):
    """``python -m sedemo.evaluation``: the comparison table of chapter 5.

    Evaluates the noisy input, the classical baselines, oracle masks and trained
    models (pretrained names or checkpoint paths) on a split of the corpus and prints
    the mean of every metric overall, by SNR and by noise type. ``--out`` writes the
    per-item rows and the tables as JSON (atomically). A user error (a bad value, a
    missing corpus or model) prints one line ``error: <what>; <what to do>`` to stderr
    and raises ``SystemExit(2)``; ``--debug`` raises the exception itself instead.
    Chapter: 05_complex_mapping.
    """
    import sys

    from sedemo._cli import run

    argv = list(sys.argv[1:] if argv is None else argv)
    return run(lambda: _main(argv), argv, interrupted="interrupted; nothing was written")


def _parser():
    from pathlib import Path

    from sedemo import data
    from sedemo.evaluation import baselines
    from sedemo._cli import Parser

    parser = Parser(prog="python -m sedemo.evaluation", description=main.__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=[],
                        help="pretrained model names (sedemo/pretrained/NAME.pt) or checkpoint paths")
    parser.add_argument("--baselines", nargs="*", default=["wiener", "noisereduce"],
                        help=f"classical baselines, from {sorted(baselines.BASELINES)}")
    parser.add_argument("--oracle", nargs="*", default=["IRM"], help="oracle masks, from IBM IRM IAM PSM cIRM")
    parser.add_argument("--split", default="test", choices=data.SPLITS)
    parser.add_argument("--per-cell", type=int, default=0,
                        help="items per SNR x noise type (0: the whole split)")
    parser.add_argument("--metrics", nargs="*", default=list(DEFAULT_METRICS))
    parser.add_argument("--corpus", default=None, help="corpus root (default: the built corpus)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write rows and tables as JSON here")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def _check_args(args) -> None:
    """Refuse a bad value before any model or corpus is loaded (``ValueError``, one line each)."""
    from sedemo.evaluation import baselines

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}; pass e.g. --threads 1")
    if args.per_cell < 0:
        raise ValueError(f"--per-cell must be >= 0 (0: the whole split), got {args.per_cell}; "
                         "pass e.g. --per-cell 2")
    if not args.metrics:
        raise ValueError(f"--metrics names no metric; pass some of {' '.join(DEFAULT_METRICS)}")
    unknown = [m for m in args.metrics if m not in metrics.METRICS and m not in DIAGNOSTICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {' '.join(unknown)} (--metrics); choose from "
                         f"{' '.join(sorted([*metrics.METRICS, *DIAGNOSTICS]))}")
    unknown = [b for b in args.baselines if b not in baselines.BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {' '.join(unknown)} (--baselines); choose from "
                         f"{' '.join(sorted(baselines.BASELINES))}")
    unknown = [o for o in args.oracle if o not in masks.ORACLE_MASKS]
    if unknown:
        raise ValueError(f"unknown oracle mask(s) {' '.join(unknown)} (--oracle); choose from "
                         f"{' '.join(masks.ORACLE_MASKS)}")
    if args.out is not None and args.out.is_dir():
        raise ValueError(f"--out {args.out} is a folder; give a file name such as {args.out / 'results.json'}")


def _load_model(spec: str):
    """The model of ``--models SPEC``: a model or checkpoint file, or a pretrained name."""
    from pathlib import Path

    from sedemo import models

    path = Path(spec)
    if path.is_file():
        try:
            return models.load(path)
        except Exception as exc:  # noqa: BLE001 - a damaged, foreign or hostile file
            raise ValueError(f"--models {spec}: cannot read it as a sedemo model or training checkpoint "
                             f"({type(exc).__name__}); give a file written by sedemo.train or a pretrained "
                             "name") from exc
    if path.suffix or len(path.parts) > 1:
        raise FileNotFoundError(f"--models {spec}: no such file; check the path, or give a pretrained name "
                                f"such as gcrn")
    return models.load_pretrained(spec)


def _main(argv) -> dict:
    import json
    from pathlib import Path

    from sedemo import data
    from sedemo._utils import atomic_output, torch_threads
    from sedemo.evaluation import baselines

    args = _parser().parse_args(argv)
    _check_args(args)
    systems: dict[str, Callable] = {}
    for name in args.baselines:
        systems[name] = baselines.BASELINES[name]
    for name in args.oracle:
        systems[f"oracle {name}"] = oracle_enhancer(name)
    for spec in args.models:
        systems[Path(spec).stem if Path(spec).exists() else spec] = model_enhancer(_load_model(spec))

    corpus = data.load_corpus(args.corpus)
    items = corpus.items(args.split)
    if args.per_cell:
        items = balanced_subset(items, args.per_cell)
    if not items:
        raise ValueError(f"the {args.split} split of the corpus at {args.corpus or data.default_root()} has no "
                         "items; choose another --split or rebuild the corpus")
    with torch_threads(args.threads):
        rows = score_systems(systems, items, which=args.metrics, progress=True)
    tables = {"overall": summarize(rows, by=(), which=args.metrics),
              "by SNR (dB)": summarize(rows, by="snr_db", which=args.metrics),
              "by noise type": summarize(rows, by="noise_type", which=args.metrics)}
    print(f"{len(items)} {args.split} items of the {corpus.source} corpus; metrics: mean over items")
    for title, table in tables.items():
        print(f"\n== {title} ==\n{_format_table(table)}")
    payload = {"split": args.split, "n_items": len(items), "corpus": corpus.source, "rows": rows,
               "overall": tables["overall"].to_dict(orient="index")}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(args.out) as tmp:
            tmp.write_text(json.dumps(payload, indent=1))
        print(f"\nrows and tables written to {args.out}")
    return payload
