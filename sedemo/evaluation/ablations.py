"""The augmentation ablations of chapter 5: the ULCRN trained with the full on-the-fly
recipe and once with each switch of :func:`sedemo.train.sample_batch` turned off (or, for
the room simulation, turned on), every run at one budget, judged on the **validation**
split only (its training log's validation passes: PESQ-WB and SI-SDR on 32 items).

The runs are made by ``bash scripts/augmentation_ablations.sh`` in ``runs/ablation/``
(not committed); :func:`collect` copies the logs and configs of finished runs into the
package (``sedemo/results/training/ablation/``), which is what chapter 5 reads.
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from sedemo._utils import atomic_output

__all__ = ["VARIANTS", "STEPS", "STORED", "HELDOUT_FILE", "collect", "load", "switches", "final_table", "effects",
           "heldout_rows", "heldout_table"]

#: variant -> what it changes from the full recipe (the switches of ``scripts/augmentation_ablations.sh``)
VARIANTS = {
    "full": "every augmentation on (SNR -5 to 20 dB, speed 0.9-1.1, microphone tilt/band limit, level -40 to -10 dBFS)",
    "no_snr": "another mixture's noise at its level +-5 dB (corpus SNRs -5 to 15 dB), not a uniform -5 to 20 dB",
    "no_speed": "no speed perturbation",
    "no_channel": "no microphone tilt or band limit",
    "no_level": "no random mixture level",
    "reverb": "full recipe + simulated rooms on half of the batches",
    "none": "dynamic mixing only (no augmentation switch on)",
}
#: the budget of every ablation run (training steps of 8 two-second mixtures)
STEPS = 4000
#: where :func:`collect` stores the finished runs (committed)
STORED = Path(__file__).resolve().parents[1] / "results" / "training" / "ablation"
#: The finished ablation runs scored by ``benchmarks/peers.py`` on the validation mixtures in
#: held-out 0 A.D. noise (``bash scripts/ablation_heldout.sh``; systems named ``<variant>_s<seed>``).
HELDOUT_FILE = Path(__file__).resolve().parents[1] / "results" / "peers" / "ablations-bank-valid.json"
#: the config keys of the augmentation switches (their values are the ablation)
SWITCH_KEYS = ("snr_range", "speed_perturb", "channel", "level_range", "reverb")
_RUN = re.compile(r"^(?P<variant>[a-z_]+)_s(?P<seed>\d+)$")


def _read_log(path: Path) -> list[dict]:
    from sedemo.train import read_log  # late: the training package imports torch

    return read_log(path)


def _finished(log: list[dict], steps: int) -> bool:
    return any(r.get("kind") == "valid" and r.get("step") == steps for r in log)


def collect(runs: str | Path = "runs/ablation", out: str | Path = STORED, steps: int = STEPS) -> list[str]:
    """Copy each *finished* run of ``runs`` (``<variant>_s<seed>/{log.jsonl,config.json}``
    whose log has a validation pass at ``steps``) to ``out/<variant>_s<seed>.{log.jsonl,
    config.json}``, each file written atomically. Unfinished runs, unknown variants and
    runs of another budget are skipped (a stored run is never replaced by a shorter one).
    Returns the names copied. Chapter: 05_complex_mapping."""
    runs, out = Path(runs), Path(out)
    if not runs.is_dir():
        raise FileNotFoundError(f"no run folder {runs}; run `bash scripts/augmentation_ablations.sh` first")
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        m = _RUN.match(run.name)
        if not m or m["variant"] not in VARIANTS or not (run / "log.jsonl").is_file():
            continue
        log = _read_log(run / "log.jsonl")
        config = json.loads((run / "config.json").read_text())
        if config.get("steps") != steps or not _finished(log, steps):
            continue
        for src, suffix in ((run / "log.jsonl", ".log.jsonl"), (run / "config.json", ".config.json")):
            with atomic_output(out / f"{run.name}{suffix}") as tmp:
                shutil.copyfile(src, tmp)
        copied.append(run.name)
    return copied


def load(stored: str | Path = STORED) -> dict[str, dict[int, dict]]:
    """The stored ablation runs: ``{variant: {seed: {"log": records, "config": dict}}}``,
    variants in the order of :data:`VARIANTS` (those with no stored run left out).
    Chapter: 05_complex_mapping."""
    stored = Path(stored)
    found: dict[str, dict[int, dict]] = {}
    for path in sorted(stored.glob("*.log.jsonl")) if stored.is_dir() else []:
        m = _RUN.match(path.name[: -len(".log.jsonl")])
        if not m or m["variant"] not in VARIANTS:
            continue
        config_path = path.with_name(path.name.replace(".log.jsonl", ".config.json"))
        found.setdefault(m["variant"], {})[int(m["seed"])] = {
            "log": _read_log(path), "config": json.loads(config_path.read_text())}
    return {v: dict(sorted(found[v].items())) for v in VARIANTS if v in found}


def switches(config: dict) -> dict:
    """The augmentation switches of a run's stored config (``SWITCH_KEYS``; an absent key
    is off). Chapter: 05_complex_mapping."""
    return {k: config.get(k) for k in SWITCH_KEYS}


def final_table(runs: dict, steps: int = STEPS, metrics=("valid_pesq", "valid_si_sdr")):
    """Mean and spread over seeds of each variant's validation metrics at ``steps``:
    a DataFrame indexed by variant with columns ``(metric, "mean")``, ``(metric, "std")``
    and ``("seeds", "n")`` (the layout of :func:`sedemo.evaluation.experiments.summary`,
    so :func:`sedemo.evaluation.verdicts.compare` reads it). ``runs``: :func:`load`'s
    output. Chapter: 05_complex_mapping."""
    import numpy as np
    import pandas as pd

    rows = {}
    for variant, seeds in runs.items():
        values = {m: [] for m in metrics}
        for seed, run in seeds.items():
            rec = [r for r in run["log"] if r.get("kind") == "valid" and r.get("step") == steps]
            if not rec:
                raise ValueError(f"{variant} seed {seed}: no validation pass at step {steps}; "
                                 "finish the run (scripts/augmentation_ablations.sh resumes) before collecting it")
            for m in metrics:
                values[m].append(rec[-1][m])
        row = {}
        for m in metrics:
            row[(m, "mean")] = float(np.mean(values[m]))
            row[(m, "std")] = float(np.std(values[m], ddof=1)) if len(values[m]) > 1 else float("nan")
        row[("seeds", "n")] = len(seeds)
        rows[variant] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def effects(table, baseline: str = "full", metrics=("valid_pesq", "valid_si_sdr")):
    """Each variant minus ``baseline`` in a :func:`final_table`: the difference of the
    seed means and :func:`sedemo.evaluation.verdicts.compare`'s word for the variant
    (``better``/``worse`` only beyond the seeds' spread; ``one seed: untested`` with a
    single seed). Read as "turning this switch off made validation ... ". Returns a
    DataFrame indexed by variant. Chapter: 05_complex_mapping."""
    import pandas as pd

    from sedemo.evaluation import verdicts

    if baseline not in table.index:
        raise KeyError(f"no {baseline!r} run stored; run `bash scripts/augmentation_ablations.sh {baseline}`")
    rows = {}
    for variant in table.index.drop(baseline):
        row = {}
        for m in metrics:
            row[f"{m} change"] = table.loc[variant, (m, "mean")] - table.loc[baseline, (m, "mean")]
            row[f"{m} verdict"] = verdicts.compare(table, variant, baseline, m)
        rows[variant] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def heldout_rows(results: dict, metrics=("pesq_wb", "stoi", "si_sdr")) -> tuple[list[dict], dict[str, int]]:
    """The ablation runs of a ``benchmarks/peers.py`` result (systems named
    ``<variant>_s<seed>``, e.g. :data:`HELDOUT_FILE`) as one row per item and variant, each
    metric averaged over the variant's seeds (so a paired comparison of two variants
    compares their seed means item by item), and the number of seeds per variant.
    Chapter: 05_complex_mapping."""
    import numpy as np

    by_variant: dict[str, list[dict]] = {}
    for name, system in results["systems"].items():
        m = _RUN.match(name)
        if m and m["variant"] in VARIANTS:
            by_variant.setdefault(m["variant"], []).append(system)
    if not by_variant:
        raise ValueError("no ablation runs (systems named <variant>_s<seed>) in these results; "
                         "score them with `bash scripts/ablation_heldout.sh`")
    rows = []
    for variant, systems in by_variant.items():
        items = [{it["id"]: it for it in s["items"]} for s in systems]
        for item_id, first in items[0].items():
            row = {"id": item_id, "system": variant, "snr_db": first.get("snr_db"), "noise_type": first.get("noise_type")}
            for k in metrics:
                vals = [its[item_id].get(k) for its in items if item_id in its]
                vals = [v for v in vals if v is not None and np.isfinite(v)]
                row[k] = float(np.mean(vals)) if vals else float("nan")
            rows.append(row)
    return rows, {v: len(s) for v, s in by_variant.items()}


def heldout_table(results: dict, baseline: str = "full", metrics=("pesq_wb", "stoi", "si_sdr")):
    """Each ablation variant in held-out noise: its seed-mean scores and, for every variant
    but ``baseline``, the paired difference from ``baseline`` with a 95 % bootstrap interval
    over the items (:func:`sedemo.evaluation.uncertainty.difference_table`; the interval is
    over mixtures, not seeds). Returns ``(means, differences)`` DataFrames indexed by variant
    (``means`` has a ``seeds`` column). Chapter: 05_complex_mapping."""
    import numpy as np
    import pandas as pd

    from sedemo.evaluation import uncertainty

    rows, n_seeds = heldout_rows(results, metrics)
    if baseline not in n_seeds:
        raise KeyError(f"no {baseline!r} run in these results; choose one of: {', '.join(n_seeds)}")
    order = [v for v in VARIANTS if v in n_seeds]
    means = pd.DataFrame({v: {k: float(np.nanmean([r[k] for r in rows if r["system"] == v])) for k in metrics}
                          for v in order}).T
    means["seeds"] = [n_seeds[v] for v in order]
    diffs = uncertainty.difference_table(rows, [v for v in order if v != baseline], baseline, metrics)
    return means, diffs
