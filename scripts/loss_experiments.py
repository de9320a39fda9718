#!/usr/bin/env python3
"""Run the trained experiments of chapters 5 and 6 (claims C1-C8, C10-C11), resumably.

    python scripts/loss_experiments.py --claims C3 C7 --seeds 0 1 2 --jobs 2
    python scripts/loss_experiments.py --claims ARCH    # chapter 5's architecture comparison
    python scripts/loss_experiments.py --list

Each run trains a lite model with one loss and one seed on one CPU thread, evaluates
it on a balanced subset of the test split and writes sedemo/results/losses/<claim>__<label>__seed<k>.json.
Existing results are skipped, so the command can be interrupted and rerun. The chapter
reads the JSON files (sedemo.evaluation.experiments.load_results / summary).
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sedemo.evaluation import experiments# noqa: E402


def _one(args):
    run, out, per_cell, corpus = args
    t0 = time.perf_counter()
    path = experiments.run(run, out, per_cell=per_cell, corpus=corpus)
    return run.key, path, time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--claims", nargs="*", default=[*experiments.CLAIMS, "ARCH"])
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--per-cell", type=int, default=1, help="test items per SNR x noise type")
    p.add_argument("--jobs", type=int, default=1, help="parallel runs (one CPU thread each)")
    p.add_argument("--out", type=Path, default=experiments.RESULTS_DIR)
    p.add_argument("--corpus", default=None)
    p.add_argument("--models", nargs="*", default=None,
                   help="only the runs of these models (e.g. to split the work between two machines)")
    p.add_argument("--list", action="store_true", help="list the runs and whether they are done")
    a = p.parse_args(argv)
    runs = [r for c in a.claims for r in experiments.experiment(c, seeds=a.seeds, steps=a.steps)
            if a.models is None or r.model in a.models]
    todo = [r for r in runs if not (a.out / f"{r.key}.json").exists()]
    # cheapest models first, seed by seed: every claim gets a first seed early, and a
    # run that another claim shares (same fingerprint) is trained once and then reused
    cost = {"lstm_mask": 0, "tcn": 1, "crn": 2, "gcrn": 3}
    todo.sort(key=lambda r: (cost.get(r.model, 9), r.seed))
    if a.list:
        for r in runs:
            print(("done " if r not in todo else "todo ") + r.key)
        print(f"{len(runs) - len(todo)}/{len(runs)} done")
        return 0
    print(f"{len(todo)} of {len(runs)} runs to do, {a.jobs} at a time -> {a.out}", flush=True)
    jobs = [(r, a.out, a.per_cell, a.corpus) for r in todo]
    if a.jobs <= 1:
        for job in jobs:
            key, path, secs = _one(job)
            print(f"{key}: {secs:.0f} s -> {path}", flush=True)
        return 0
    import multiprocessing

    with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_one, job) for job in jobs]
        for fut in as_completed(futures):
            key, path, secs = fut.result()
            print(f"{key}: {secs:.0f} s -> {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
