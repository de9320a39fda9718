#!/usr/bin/env python3
"""Tune the classical baselines (Wiener, MMSE-LSA) on the validation split, resumably.

    python scripts/tune_baselines.py                      # the grid of the book (about 4 min, one thread)
    python scripts/tune_baselines.py --alphas 0.98 --floors -20 -25 --trackers minimum

Each setting of a small grid (decision-directed smoothing ``alpha`` x gain floor in dB x
noise tracker) runs on a fixed, balanced subset of the VALIDATION split (``--n-items``,
40 by default: round robin over 5-dB SNR bins x noise types, by item id). The objective
is the mean improvement over the noisy input of PESQ-WB plus that of SI-SDR divided by
10 (10 dB of SI-SDR count as one PESQ point); STOI is reported, not used. The test split
is never loaded. The settings chosen, the Wiener filter as it was before tuning and
spectral subtraction are then scored on the validation items left out of the subset
(``held_out``): a check that the choice is not fitted to the 40 items.

Results go to sedemo/results/baselines/tuning.json, package data (written atomically after every setting;
settings already there for the same items are skipped, so the command can be
interrupted and rerun; ``--fresh`` starts over). The defaults of
sedemo.evaluation.baselines.wiener and .mmse_lsa are the settings chosen here.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: one thread, as the docstring promises

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sedemo import data  # noqa: E402
from sedemo._utils import atomic_output  # noqa: E402
from sedemo.evaluation import baselines, scoring  # noqa: E402

METHODS = {"wiener": baselines.wiener, "mmse_lsa": baselines.mmse_lsa}
METRICS = ("pesq_wb", "si_sdr", "stoi")
OBJECTIVE = "mean(PESQ-WB - noisy PESQ-WB) + mean(SI-SDR - noisy SI-SDR) / 10"
SNR_BINS = (-np.inf, 0.0, 5.0, 10.0, np.inf)  # 5-dB bins of the validation SNRs (-5..15 dB)


def balanced_subset(items, n: int) -> list:
    """``n`` items, round robin over the cells (SNR bin x noise type), each cell in id order."""
    cells: dict[tuple, list] = {}
    for it in sorted(items, key=lambda i: i.id):
        key = (int(np.digitize(it.snr_db, SNR_BINS[1:-1])), it.noise_type)
        cells.setdefault(key, []).append(it)
    queues = [cells[k] for k in sorted(cells)]
    out = []
    for depth in itertools.count():
        row = [q[depth] for q in queues if depth < len(q)]
        if not row or len(out) >= n:
            break
        out.extend(row[: n - len(out)])
    return out


#: systems scored beside the chosen settings: the Wiener filter as it was before this
#: tuning and power spectral subtraction at its defaults
REFERENCES = {
    "wiener_before_tuning": lambda x: baselines.wiener(x, alpha=0.98, gain_floor_db=-25.0, tracker="minimum"),
    "spectral_subtraction": lambda x: baselines.spectral_subtraction(x),
}


def setting_key(method: str, alpha: float, floor_db: float, tracker: str) -> str:
    return f"{method}|alpha={alpha:g}|floor={floor_db:g}dB|tracker={tracker}"


def objective(means: dict, noisy: dict) -> float:
    return (means["pesq_wb"] - noisy["pesq_wb"]) + (means["si_sdr"] - noisy["si_sdr"]) / 10


def _means(rows: list[dict]) -> dict:
    return {m: float(np.mean([r[m] for r in rows])) for m in METRICS}


def _partial(fn, c: dict):
    return lambda x: fn(x, alpha=c["alpha"], gain_floor_db=c["gain_floor_db"], tracker=c["tracker"])


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=1) + "\n")


def _choose(result: dict) -> dict:
    chosen = {}
    for method in result["grid"]["methods"]:
        runs = {k: v for k, v in result["settings"].items() if v["method"] == method}
        if runs:
            best = max(runs, key=lambda k: (runs[k]["objective"], k))
            chosen[method] = {"key": best, **runs[best]}
    return chosen


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default=None, help="corpus folder (default: the book's corpus)")
    p.add_argument("--n-items", type=int, default=40, help="validation items (balanced subset)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--alphas", nargs="+", type=float, default=[0.8, 0.85, 0.92, 0.96, 0.98])
    p.add_argument("--floors", nargs="+", type=float, default=[-10.0, -15.0, -20.0, -25.0], help="gain floors, dB")
    p.add_argument("--trackers", nargs="+", default=list(baselines.TRACKERS), choices=list(baselines.TRACKERS))
    p.add_argument("--held-out", type=int, default=None,
                   help="validation items outside the subset for the check (default: all of them)")
    p.add_argument("--out", type=Path, default=ROOT / "sedemo" / "results" / "baselines" / "tuning.json")
    p.add_argument("--fresh", action="store_true", help="ignore results already in --out")
    a = p.parse_args(argv)

    corpus = data.load_corpus(a.corpus) if a.corpus else data.load_corpus()
    valid = corpus.items("valid")  # validation only: no test item is read
    items = balanced_subset(valid, a.n_items)
    rest = [it for it in valid if it.id not in {i.id for i in items}][: a.held_out]
    ids = [it.id for it in items]
    grid = {"methods": a.methods, "alpha": a.alphas, "gain_floor_db": a.floors, "tracker": a.trackers}
    command = "python scripts/tune_baselines.py" + "".join(f" {x}" for x in (argv if argv is not None else sys.argv[1:]))

    old = {}
    if a.out.exists() and not a.fresh:
        prev = json.loads(a.out.read_text())
        if prev.get("items") == ids:
            old = prev.get("settings", {})
    result = {"split": "valid", "n_items": len(items), "items": ids, "objective": OBJECTIVE,
              "metrics": list(METRICS), "grid": grid, "command": command,
              "python": platform.python_version(), "noisy": None,
              "settings": {}, "chosen": {}}

    t0 = time.perf_counter()
    loaded = [it.load() for it in items]
    noisy_rows = [scoring.measure(noisy, clean, 16000, METRICS) for clean, noisy in loaded]
    result["noisy"] = _means(noisy_rows)
    for method, alpha, floor_db, tracker in itertools.product(a.methods, a.alphas, a.floors, a.trackers):
        key = setting_key(method, alpha, floor_db, tracker)
        if key in old:
            result["settings"][key] = old[key]
            continue
        fn = METHODS[method]
        rows = [scoring.measure(fn(noisy, alpha=alpha, gain_floor_db=floor_db, tracker=tracker), clean, 16000, METRICS)
                for clean, noisy in loaded]
        means = _means(rows)
        result["settings"][key] = {"method": method, "alpha": alpha, "gain_floor_db": floor_db, "tracker": tracker,
                                   **means, "objective": objective(means, result["noisy"])}
        result["chosen"] = _choose(result)
        _write(a.out, result)
        print(f"{key:<50} PESQ-WB {means['pesq_wb']:.3f}  SI-SDR {means['si_sdr']:6.2f}  "
              f"STOI {means['stoi']:.3f}  objective {result['settings'][key]['objective']:+.3f}", flush=True)
    result["chosen"] = _choose(result)
    systems = {**{f"{m} (chosen)": _partial(METHODS[m], c) for m, c in result["chosen"].items()}, **REFERENCES}
    if rest:
        pairs = [it.load() for it in rest]
        check = {"noisy": _means([scoring.measure(n, c, 16000, METRICS) for c, n in pairs])}
        for name, fn in systems.items():
            check[name] = _means([scoring.measure(fn(n), c, 16000, METRICS) for c, n in pairs])
        for name, m in check.items():
            m["objective"] = objective(m, check["noisy"])
        result["held_out"] = {"n_items": len(rest), "items": [it.id for it in rest], "systems": check}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    _write(a.out, result)
    n = result["noisy"]
    print(f"noisy: PESQ-WB {n['pesq_wb']:.3f}  SI-SDR {n['si_sdr']:.2f}  STOI {n['stoi']:.3f}  "
          f"({len(items)} validation items)")
    for method, c in result["chosen"].items():
        print(f"chosen for {method}: alpha={c['alpha']:g}, gain floor {c['gain_floor_db']:g} dB, "
              f"tracker {c['tracker']} (objective {c['objective']:+.3f})")
    if rest:
        print(f"held-out check on {len(rest)} other validation items:")
        for name, m in result["held_out"]["systems"].items():
            print(f"  {name:<24} PESQ-WB {m['pesq_wb']:.3f}  SI-SDR {m['si_sdr']:6.2f}  STOI {m['stoi']:.3f}  "
                  f"objective {m['objective']:+.3f}")
    print(f"wrote {a.out} in {result['seconds']} s")
    return result


if __name__ == "__main__":
    main()
