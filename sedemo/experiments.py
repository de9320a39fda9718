"""The trained experiments of chapter 6 (claims C1-C8): definitions, runner, results.

Each claim is a set of *runs*: one model configuration trained with one loss and one
seed for a fixed budget, then evaluated on a fixed, balanced subset of the test split.
Every run writes one JSON file (its configuration, training time, validation log and
per-item metrics), so the experiment can be interrupted and resumed, split across
machines, and read by the chapter without retraining. Run them with

    python scripts/loss_experiments.py --claims C3 C7 --seeds 0 1 2 --jobs 2

Models are "lite" versions (small widths) so that a run costs minutes on one CPU
thread; the claims are about losses and context, not about model size. Chapter 6.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: where scripts/loss_experiments.py writes and chapter 6 reads the committed results
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results" / "losses"

#: small configurations of the book's models for the loss experiments
LITE = {
    "gcrn": {"channels": (8, 16, 32, 32, 32)},
    "lstm_mask": {"hidden": 128, "layers": 2},
    "crn": {"channels": (8, 16, 32, 32, 32), "lstm_hidden": 128},
    "tcn": {},
}


@dataclass(frozen=True)
class Run:
    """One training run of an experiment: ``model`` (a registry name, built with
    :data:`LITE` plus ``overrides``), ``loss`` (a :mod:`sedemo.train` loss name) with
    ``loss_options``, ``seed``, ``steps``; ``label`` names it in tables."""

    claim: str
    label: str
    model: str
    loss: str
    seed: int = 0
    steps: int = 600
    overrides: dict = field(default_factory=dict)
    loss_options: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """File name of the run's result (unique per claim, label and seed)."""
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.label)
        return f"{self.claim}__{safe}__seed{self.seed}"


def _runs(claim, rows, seeds, steps):
    return [Run(claim, label, model, loss, seed, steps, dict(over), dict(opts))
            for seed in seeds for (label, model, loss, over, opts) in rows]


def experiment(claim: str, seeds=(0, 1, 2), steps: int = 600) -> list[Run]:
    """The runs that test ``claim`` (``"C1"`` ... ``"C8"``, as in GUIDEBOOK section 1)."""
    table = {
        # C1: context and loss vs architecture, on one causal model
        "C1": [("lstm_mask, context 0", "lstm_mask", "compressed", {"context": 0}, {}),
               ("lstm_mask, context 2", "lstm_mask", "compressed", {"context": 2}, {}),
               ("lstm_mask, context 5", "lstm_mask", "compressed", {"context": 5}, {}),
               ("lstm_mask, loss sa", "lstm_mask", "sa", {}, {}),
               ("lstm_mask, loss si_sdr", "lstm_mask", "si_sdr", {}, {}),
               ("crn, compressed", "crn", "compressed", {}, {}),
               ("gcrn, compressed", "gcrn", "compressed", {}, {})],
        # C2: L1 vs L2 on time-domain samples, one time-domain model
        "C2": [("tcn, MAE (L1)", "tcn", "mae", {}, {}),
               ("tcn, MSE (L2)", "tcn", "mse", {}, {})],
        # C3: mask approximation vs signal approximation (magnitude, phase-sensitive, complex)
        "C3": [("MA (IRM target)", "lstm_mask", "ma", {}, {}),
               ("SA", "lstm_mask", "sa", {}, {}),
               ("PSA", "lstm_mask", "psa", {}, {}),
               ("complex SA", "lstm_mask", "csa", {}, {})],
        # C4: p = 1 vs p = 2 on complex spectra
        "C4": [("complex L1 (p=1)", "gcrn", "complex_l1", {}, {}),
               ("complex L2 (p=2)", "gcrn", "complex_l2", {}, {})],
        # C5: the embedding loss as a regulariser
        "C5": [("compressed", "gcrn", "compressed", {}, {}),
               ("compressed + embedding", "gcrn", "compressed+embedding", {}, {})],
        # C7: SI-SDR alone vs compressed spectral vs both
        "C7": [("SI-SDR", "gcrn", "si_sdr", {}, {}),
               ("compressed", "gcrn", "compressed", {}, {}),
               ("SI-SDR + compressed", "gcrn", "si_sdr+compressed", {}, {})],
        # C8: a metric-like loss improves mainly its own metric?
        "C8": [("STOI-like", "gcrn", "stoi_like", {}, {}),
               ("SI-SDR", "gcrn", "si_sdr", {}, {}),
               ("spectral (compressed)", "gcrn", "compressed", {}, {})],
    }
    if claim not in table:
        raise ValueError(f"unknown claim {claim!r}; trained experiments exist for {sorted(table)}")
    return _runs(claim, table[claim], seeds, steps)


CLAIMS = ("C1", "C2", "C3", "C4", "C5", "C7", "C8")


def run(r: Run, out_dir: str | Path, per_cell: int = 1, corpus: str | None = None,
        which=("pesq_wb", "stoi", "estoi", "si_sdr", "cd"), force: bool = False) -> Path:
    """Train run ``r`` (one thread), evaluate it on the balanced test subset
    (``per_cell`` items per SNR x noise type) and write ``out_dir/<key>.json``.
    An existing result is kept unless ``force``. Returns the result path."""
    import tempfile

    import torch

    from . import data, evaluate, models, train

    out_dir = Path(out_dir)
    path = out_dir / f"{r.key}.json"
    if path.exists() and not force:
        return path
    torch.set_num_threads(1)
    overrides = {**LITE.get(r.model, {}), **r.overrides}
    cfg = train.TrainConfig(model=r.model, model_overrides=overrides, loss=r.loss, loss_options=r.loss_options,
                            steps=r.steps, seed=r.seed, threads=1, valid_every=max(r.steps // 2, 1),
                            ckpt_every=r.steps, n_valid=8, progress=False, dynamic_mix=True, corpus=corpus,
                            out=tempfile.mkdtemp(prefix=f"sedemo-{r.key}-"))
    t0 = time.perf_counter()
    result = train.train(cfg)
    seconds = time.perf_counter() - t0
    model = result["model"].eval()
    items = evaluate.balanced_subset(data.load_corpus(corpus).items("test"), per_cell)
    rows = evaluate.evaluate({r.label: evaluate.model_enhancer(model)}, items, which=which)
    payload = {"run": asdict(r), "model_overrides": overrides, "parameters": models.count_parameters(model),
               "train_seconds": seconds, "command": cfg.command(), "log": result["log"], "rows": rows}
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    tmp.replace(path)
    return path


def load_results(out_dir: str | Path | None = None, claim: str | None = None) -> list[dict]:
    """Every result JSON in ``out_dir`` (default :data:`RESULTS_DIR`), of ``claim`` only if given."""
    paths = sorted(Path(out_dir or RESULTS_DIR).glob(f"{claim or '*'}__*.json"))
    return [json.loads(p.read_text()) for p in paths]


def summary(results: list[dict], which=("pesq_wb", "stoi", "estoi", "si_sdr", "cd")):
    """Mean and spread over seeds of each metric per run label (improvement over the
    noisy input for SI-SDR as ``si_sdr_i``). Returns a DataFrame indexed by label with
    columns ``(metric, "mean")``, ``(metric, "std")`` and ``("seeds", "n")``. A
    difference between two labels is only supported when it exceeds the spreads."""
    import pandas as pd

    per_seed = []
    for res in results:
        rows = pd.DataFrame(res["rows"])
        noisy = rows[rows.system == "noisy"].set_index("id")
        est = rows[rows.system != "noisy"].set_index("id")
        rec = {"label": res["run"]["label"], "seed": res["run"]["seed"]}
        for m in which:
            if m in est:
                rec[m] = est[m].mean()
        if "si_sdr" in est:
            rec["si_sdr_i"] = (est["si_sdr"] - noisy.loc[est.index, "si_sdr"]).mean()
        per_seed.append(rec)
    df = pd.DataFrame(per_seed)
    metrics = [c for c in df.columns if c not in ("label", "seed")]
    order = list(dict.fromkeys(df["label"]))
    table = df.groupby("label")[metrics].agg(["mean", "std"]).loc[order]
    table[("seeds", "n")] = df.groupby("label")["seed"].nunique().loc[order]
    return table


HIGHER_IS_BETTER = {"pesq_wb": True, "stoi": True, "estoi": True, "si_sdr": True, "si_sdr_i": True, "cd": False}


def compare(table, a: str, b: str, metric: str) -> str:
    """Is run ``a`` better than run ``b`` on ``metric`` in a :func:`summary` table?

    Returns ``"better"`` or ``"worse"`` only when the difference of the means exceeds
    the sum of the two standard deviations over seeds (a conservative rule for 3
    seeds), else ``"no supported difference"``. Chapter 6 words its verdicts with it.
    """
    ma, mb = table.loc[a, (metric, "mean")], table.loc[b, (metric, "mean")]
    sa, sb = table.loc[a, (metric, "std")], table.loc[b, (metric, "std")]
    spread = (0.0 if sa != sa else sa) + (0.0 if sb != sb else sb)  # NaN std (one seed) counts as 0
    diff = (ma - mb) if HIGHER_IS_BETTER.get(metric, True) else (mb - ma)
    if abs(ma - mb) <= spread:
        return "no supported difference"
    return "better" if diff > 0 else "worse"
