"""The trained experiments of chapter 6 (claims C1-C8) and chapter 5's architecture
comparison (``"ARCH"``, claims C10-C11): definitions, runner, results.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sedemo.evaluation.verdicts import HIGHER_IS_BETTER, METRIC_LABELS

#: where scripts/loss_experiments.py writes and chapter 6 reads the committed results
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results" / "losses"

#: small configurations of the book's models for the loss experiments
LITE = {
    "gcrn": {"channels": (8, 16, 32, 32, 32)},
    "lstm_mask": {"hidden": 128, "layers": 2},
    "lstm_map": {"hidden": 128, "layers": 2},
    "crn": {"channels": (8, 16, 32, 32, 32), "lstm_hidden": 128},
    "gcrn_1dec": {"channels": (8, 16, 32, 32, 32)},
    "gcrn_mag": {"channels": (8, 16, 32, 32, 32)},
    "gcrn_magphase": {"channels": (8, 16, 32, 32, 32)},
    # 4 ms / 2 ms encoder, 64 filters, 2 x 5 blocks (0.15 M, receptive field 0.5 s):
    # about 0.5 s per training step on one thread
    "tcn": {"kernel": 64, "stride": 32, "filters": 64, "bottleneck": 64, "hidden": 96, "blocks": 5, "repeats": 2},
}


@dataclass(frozen=True)
class Run:
    """One training run of an experiment: ``model`` (a registry name, built with
    :data:`LITE` plus ``overrides``), ``loss`` (a :mod:`sedemo.train` loss name) with
    ``loss_options``, ``seed``, ``steps``; ``label`` names it in tables.
    Chapter: 06_losses_trained."""

    claim: str
    label: str
    model: str
    loss: str
    seed: int = 0
    steps: int = 600
    overrides: dict = field(default_factory=dict)
    loss_options: dict = field(default_factory=dict)
    mask_target: str = "IRM"

    @property
    def fingerprint(self) -> tuple:
        """What determines the trained model (everything but claim and label): two
        runs with one fingerprint train the same model, so one result serves both.
        ``mask_target`` only matters for the ``"ma"`` loss."""
        return (self.model, self.loss, self.seed, self.steps, json.dumps(self.overrides, sort_keys=True),
                json.dumps(self.loss_options, sort_keys=True), self.mask_target if self.loss == "ma" else None)

    @property
    def work_name(self) -> str:
        """Folder name of the run's training directory (checkpoint and log) under the
        ``work`` folder of :func:`run`: one per fingerprint without the step budget, so a
        constant-rate run can be resumed to a longer budget."""
        import hashlib

        fp = json.dumps([v for i, v in enumerate(self.fingerprint) if i != 3])  # all but the steps
        name = f"{self.model}-{self.loss}-s{self.seed}-{hashlib.sha1(fp.encode()).hexdigest()[:8]}"
        _, n_valid, valid_pesq = validation_protocol(self)
        # a run validated by an older protocol (BUDGETS claims) trains in its own folder, so
        # that the same model, loss and seed of another claim never meets its checkpoint
        return name if (n_valid, valid_pesq) == (N_VALID, N_VALID) else f"{name}-v{n_valid}p{valid_pesq}"

    @property
    def key(self) -> str:
        """File name of the run's result (unique per claim, label and seed)."""
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.label)
        return f"{self.claim}__{safe}__seed{self.seed}"


#: The training budget of a run, in steps (batches of 8 two-second crops, constant
#: learning rate 1e-3). Chosen for the CPU, not at a plateau: the 13 LSTM variants x 3
#: seeds at this budget cost about 1.5 CPU-hours, and the learning curves of every claim
#: (validation SI-SDR and PESQ, :func:`learning_curves`) show whether the ranking was
#: still changing (:func:`ranking_change`). The budget probe (two LSTM runs to 8000
#: steps, ``scripts/loss_experiments.py --probe``; logs ``sedemo/results/training/probe_*``)
#: shows what a longer budget adds: both were still improving at 8000 steps (about
#: 1.4 dB validation SI-SDR and 0.07 PESQ after step 2000), in the same order throughout.
STEPS = 2000

#: Claims still at an earlier, shorter budget (their runs cost many times an LSTM run: the
#: lite GCRNs about 0.75 s per step, 18 runs); the chapter says so. C2 (the lite Conv-TasNet,
#: about 0.3 s per step) was at 600 steps until its runs were redone at :data:`STEPS`.
BUDGETS = {"ARCH": 600}

#: Validation during training: :data:`VALID_POINTS` times per run, on :data:`N_VALID`
#: fixed validation items (SI-SDR and PESQ-WB), the learning curves of the chapters.
VALID_POINTS = 8
N_VALID = 16


def validation_protocol(r: Run) -> tuple[int, int, int]:
    """``(valid_every, n_valid, valid_pesq)`` of run ``r``'s training: :data:`VALID_POINTS`
    validations on :data:`N_VALID` items with PESQ; the claims of :data:`BUDGETS` keep the
    protocol their first runs had (two validations on 8 items, no PESQ), so that their seeds
    draw comparable learning curves. Chapter: 06_losses_trained."""
    if r.claim in BUDGETS:
        return max(r.steps // 2, 1), 8, 0
    return max(r.steps // VALID_POINTS, 1), N_VALID, N_VALID


def budget(claim: str) -> int:
    """The step budget of ``claim``'s runs (:data:`BUDGETS`, else :data:`STEPS`).
    Chapter: 06_losses_trained."""
    return BUDGETS.get(claim, STEPS)


def _runs(claim, rows, seeds, steps):
    """Runs of ``rows`` ``(label, model, loss, overrides, loss_options[, extra])``; ``extra``:
    ``{"seeds": only these seeds, "mask_target": ...}``."""
    out = []
    for seed in seeds:
        for label, model, loss, over, opts, *extra in rows:
            extra = dict(extra[0]) if extra else {}
            only = extra.pop("seeds", None)
            if only is None or seed in only:
                out.append(Run(claim, label, model, loss, seed, steps, dict(over), dict(opts), **extra))
    return out


def experiment(claim: str, seeds=(0, 1, 2), steps: int | None = None) -> list[Run]:
    """The runs that test ``claim`` (``"C1"`` ... ``"C8"``, as the book numbers the guidebook's claims;
    ``"C9"``: chapter 3's masking vs mapping; ``"ARCH"``: chapter 5's architecture comparison
    at one budget, claims C10 and C11), at
    ``steps`` (default :func:`budget`). Chapter: 05_complex_mapping."""
    from sedemo.losses.combined import ENCODER_EMBEDDING_WEIGHT

    steps = budget(claim) if steps is None else int(steps)
    table = {
        # C1: context (frames spliced on each side: +-k adds k frames of lookahead), loss,
        # and architecture, each varied alone around lstm_mask + compressed loss
        "C1": [("lstm_mask, context ±0", "lstm_mask", "compressed", {}, {}),
               ("lstm_mask, context ±2", "lstm_mask", "compressed", {"context": 2, "right_context": 2}, {}),
               ("lstm_mask, context ±5", "lstm_mask", "compressed", {"context": 5, "right_context": 5}, {}),
               ("lstm_mask, loss SA", "lstm_mask", "sa", {}, {}),
               ("lstm_mask, loss SI-SDR", "lstm_mask", "si_sdr", {}, {}),
               # the architecture swap (about 10 CPU-minutes per run at this budget; the lite
               # GCRN, about 40, is compared with the CRN at 600 steps in chapter 5's ARCH)
               ("crn, compressed", "crn", "compressed", {}, {})],
        # C2: L1 vs L2 on time-domain samples, one time-domain model
        "C2": [("tcn, MAE (L1)", "tcn", "mae", {}, {}),
               ("tcn, MSE (L2)", "tcn", "mse", {}, {})],
        # C3: mask approximation vs signal approximation, each pair with one target: MA
        # on the IAM |S|/|Y| (clipped to [0, 1], the mask's range) vs SA, whose optimum is
        # that mask; MA on the PSM vs PSA, likewise; the IRM (MA only) and the complex SA
        # (no real-mask counterpart) as two more points
        "C3": [("MA, IAM target", "lstm_mask", "ma", {}, {}, {"mask_target": "IAM"}),
               ("SA (IAM is its optimum)", "lstm_mask", "sa", {}, {}),
               ("MA, PSM target", "lstm_mask", "ma", {}, {}, {"mask_target": "PSM"}),
               ("PSA (PSM is its optimum)", "lstm_mask", "psa", {}, {}),
               ("MA, IRM target", "lstm_mask", "ma", {}, {}, {"mask_target": "IRM"}),
               ("complex SA", "lstm_mask", "csa", {}, {})],
        # C4-C8 use the masking model too: the claims are about the loss, and a lite
        # LSTM run costs about a minute where a lite GCRN costs about eight.
        # C4: p = 1 vs p = 2 on the complex spectrum of the estimate
        "C4": [("complex L1 (p=1)", "lstm_mask", "complex_l1", {}, {}),
               ("complex L2 (p=2)", "lstm_mask", "complex_l2", {}, {})],
        # C5: the embedding loss as a regulariser
        # (the embedding of a trained network: the pretrained ULCRN's encoder; of a random
        # network: the frozen random-feature stand-in)
        "C5": [("compressed", "lstm_mask", "compressed", {}, {}),
               ("compressed + embedding (trained encoder)", "lstm_mask", "compressed+embedding", {},
                {"encoder": "ulcrn", "weight": ENCODER_EMBEDDING_WEIGHT}),
               ("compressed + embedding (random network)", "lstm_mask", "compressed+embedding", {}, {})],
        # C7: SI-SDR alone vs compressed spectral vs both, on the LSTM *mapping* model (it
        # predicts the clean magnitude, so unlike a mask in [0, 1] its gain is free)
        "C7": [("SI-SDR", "lstm_map", "si_sdr", {}, {}),
               ("compressed", "lstm_map", "compressed", {}, {}),
               ("SI-SDR + compressed", "lstm_map", "si_sdr+compressed", {}, {})],
        # C8: a metric-like loss improves mainly its own metric?
        "C8": [("STOI-like", "lstm_mask", "stoi_like", {}, {}),
               ("SI-SDR", "lstm_mask", "si_sdr", {}, {}),
               ("spectral (compressed)", "lstm_mask", "compressed", {}, {})],
        # chapter 3 (C9): masking vs mapping, one body, one loss (the same trained models as
        # C1's baseline and C7's compressed row: reused, not trained again)
        "C9": [("masking (lstm_mask)", "lstm_mask", "compressed", {}, {}),
               ("mapping (lstm_map)", "lstm_map", "compressed", {}, {})],
        # chapter 5 (C10 trained, C11): the architectures at one budget and one loss (the
        # direct magnitude+phase model also with its own loss), lite widths, three seeds
        "ARCH": [("CRN (magnitude)", "crn", "compressed", {}, {}),
                 ("GCRN (Re/Im, two decoders)", "gcrn", "compressed", {}, {}),
                 ("GCRN, one decoder (matched)", "gcrn_1dec", "compressed",
                  {"decoder_channels": (52, 52, 28, 16)}, {}),
                 ("GCRN, magnitude only", "gcrn_mag", "compressed", {}, {}),
                 # direct magnitude + phase regression, with the same loss as the others (on the
                 # complex spectrum it outputs) and with its own magnitude + wrapped-phase loss
                 ("GCRN, magnitude + phase (same loss)", "gcrn_magphase", "compressed", {}, {}),
                 ("GCRN, magnitude + phase", "gcrn_magphase", "mag_phase", {}, {})],
    }
    if claim not in table:
        raise ValueError(f"unknown claim {claim!r}; trained experiments exist for {sorted(table)}")
    return _runs(claim, table[claim], seeds, steps)


CLAIMS = ("C1", "C2", "C3", "C4", "C5", "C7", "C8")


#: what every run is scored with: the book's metrics and chapter 6's diagnostics
RUN_METRICS = ("pesq_wb", "stoi", "estoi", "si_sdr", "cd", "level_db", "absent_db", "band_err")

#: seconds of the listening excerpt a seed-0 run saves (see :func:`excerpt_item`)
EXCERPT_SECONDS = 4.0
#: SNR of the listening excerpt: at 5 dB the lite models differ audibly (at 0 dB they
#: sound alike); results made before carry their own item (a 0-dB one)
EXCERPT_SNR_DB = 5.0


def excerpt_item(items, snr_db: float = EXCERPT_SNR_DB):
    """The test item every run enhances for listening: the first item at ``snr_db`` of
    ``items`` (by id), so that chapter 6 plays one noisy clip through every loss.
    Chapter: 06_losses_trained."""
    at = sorted((it for it in items if float(it.snr_db) == float(snr_db)), key=lambda it: it.id)
    return at[0] if at else sorted(items, key=lambda it: it.id)[0]


def _reuse(r: Run, out_dir: Path) -> tuple[dict, Run] | None:
    """An existing result of another claim with ``r``'s fingerprint, if any: the
    result relabelled for ``r`` (marked ``"reused_from"``) and the run that made it."""
    for p in sorted(out_dir.glob("*__*.json")):
        res = json.loads(p.read_text())
        other = Run(**res["run"])
        if other.fingerprint == r.fingerprint and other.key != r.key:
            return {**res, "run": asdict(r), "reused_from": p.name}, other
    return None


def stored_steps(path: str | Path) -> int | None:
    """The step budget of the stored result ``path``, or None when there is none (missing
    or unreadable file). Chapter: 06_losses_trained."""
    try:
        return int(json.loads(path.read_text())["run"]["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run(r: Run, out_dir: str | Path, per_cell: int = 1, corpus: str | None = None,
        which=RUN_METRICS, force: bool = False, work: str | Path | None = None) -> Path:
    """Train run ``r`` (one thread), evaluate it on the balanced test subset
    (``per_cell`` items per SNR x noise type) and write ``out_dir/<key>.json``.

    An existing result of ``r``'s budget is kept unless ``force`` (one of another
    budget is replaced); a result of another claim with the same :attr:`Run.fingerprint`
    is copied (marked ``"reused_from"``) instead of training the same model twice.
    ``work``: a folder for the training directories (``work/<Run.work_name>``, kept, so
    an interrupted run resumes and a constant-rate run can later be made longer);
    default a temporary folder, removed afterwards. Seed 0 also writes the enhanced
    :func:`excerpt_item` (first :data:`EXCERPT_SECONDS` s) to
    ``out_dir/audio/<claim>__<label>.flac``. Returns the result path.
    Chapter: 06_losses_trained."""
    import shutil

    from sedemo._utils import torch_threads

    out_dir = Path(out_dir)
    path = out_dir / f"{r.key}.json"
    if path.exists() and not force and stored_steps(path) == r.steps:
        return path
    if not force:
        found = _reuse(r, out_dir)
        if found is not None:
            reused, source = found
            _write_json(path, reused)
            source_excerpt = excerpt_path(out_dir, source)
            if r.seed == 0 and "excerpt" in reused and source_excerpt.exists():
                shutil.copyfile(source_excerpt, excerpt_path(out_dir, r))
            return path
    with torch_threads(1):  # training and scoring on one thread, restored afterwards
        payload = _train_and_score(r, out_dir, per_cell, corpus, which, work)
    _write_json(path, payload)
    return path


def _train_and_score(r: Run, out_dir: Path, per_cell: int, corpus, which, work=None) -> dict:
    """Train run ``r`` and score it (the body of :func:`run`); returns its result payload."""
    import tempfile

    from sedemo import data, models, train
    from sedemo.dsp import audio
    from sedemo.evaluation import scoring

    overrides = {**LITE.get(r.model, {}), **r.overrides}
    with tempfile.TemporaryDirectory(prefix=f"sedemo-{r.key}-") as tmp:
        run_dir = Path(work) / r.work_name if work is not None else Path(tmp)
        valid_every, n_valid, valid_pesq = validation_protocol(r)
        cfg = train.TrainConfig(model=r.model, model_overrides=overrides, loss=r.loss, loss_options=r.loss_options,
                                mask_target=r.mask_target, steps=r.steps, seed=r.seed, threads=1,
                                valid_every=valid_every, ckpt_every=valid_every, n_valid=n_valid,
                                valid_pesq=valid_pesq, progress=False, dynamic_mix=True,
                                corpus=corpus, out=str(run_dir), resume="auto" if work is not None else False)
        result = train.train(cfg)
        seconds = result["seconds"]  # the run's own clock: includes the sittings before a resume
    model = result["model"].eval()
    items = scoring.balanced_subset(data.load_corpus(corpus).items("test"), per_cell)
    enhancer = scoring.model_enhancer(model)
    rows = scoring.score_systems({r.label: enhancer}, items, which=which)
    payload = {"run": asdict(r), "model_overrides": overrides, "parameters": models.count_parameters(model),
               "train_seconds": seconds, "command": cfg.command(), "log": result["log"], "rows": rows}
    if r.seed == 0:
        # the claims still at an older budget keep the listening item of their first runs
        snr = 0.0 if r.claim in BUDGETS else EXCERPT_SNR_DB
        item, clean, noisy = write_excerpt_references(out_dir, items, snr)
        n = int(EXCERPT_SECONDS * 16000)
        audio.save(excerpt_path(out_dir, r), np.asarray(enhancer(noisy, clean))[:n], 16000)
        payload["excerpt"] = {"item": item.id, "seconds": EXCERPT_SECONDS, "snr_db": float(item.snr_db)}
    return payload


def _reference_path(folder: Path, name: str, item_id: str | None) -> Path:
    """``audio/excerpt_<item>_<name>.flac`` (or the older ``excerpt_<name>.flac`` of the
    runs made before the excerpt carried its item)."""
    return folder / "audio" / (f"excerpt_{item_id}_{name}.flac" if item_id else f"excerpt_{name}.flac")


def write_excerpt_references(out_dir: str | Path, items, snr_db: float = EXCERPT_SNR_DB):
    """Write the noisy and clean :func:`excerpt_item` of ``items`` (first
    :data:`EXCERPT_SECONDS` s) to ``out_dir/audio/excerpt_<item>_{noisy,clean}.flac``
    unless they exist, so that chapter 6 plays the input the committed excerpts were
    made from even when its own corpus differs. Returns the item and its (whole) clean
    and noisy signals.
    Chapter: 06_losses_trained."""
    from sedemo.dsp import audio

    item = excerpt_item(items, snr_db)
    n = int(EXCERPT_SECONDS * 16000)
    clean, noisy = item.load()
    for name, x in (("noisy", noisy), ("clean", clean)):
        p = _reference_path(Path(out_dir), name, item.id)
        if not p.exists():
            audio.save(p, np.asarray(x)[:n], 16000)
    return item, clean, noisy


def load_excerpts(claim: str, out_dir: str | Path | None = None) -> dict:
    """The listening excerpts of ``claim``: ``{"noisy": x, "clean": x, <label>: x, ...}``,
    float32 ``(L,)`` at 16 kHz, the labels in the order of :func:`experiment`; the noisy
    and clean clip are those of the item the claim's seed-0 runs enhanced
    (``result["excerpt"]["item"]``). Labels whose seed-0 run has no excerpt, or one of
    another item, are left out.
    Chapter: 06_losses_trained."""
    from sedemo.dsp import audio

    folder = Path(out_dir or RESULTS_DIR)
    seed0 = {res["run"]["label"]: res["excerpt"] for res in load_results(folder, claim)
             if res["run"]["seed"] == 0 and "excerpt" in res}
    excerpt = next(iter(seed0.values()), {})
    item_id = excerpt["item"] if "snr_db" in excerpt else None  # older results: excerpt_{noisy,clean}.flac
    out = {}
    for name in ("noisy", "clean"):
        p = _reference_path(folder, name, item_id)
        if p.exists():
            out[name] = audio.load(p)
    for r in experiment(claim, seeds=(0,)):
        p = excerpt_path(folder, r)
        if p.exists() and seed0.get(r.label, {}).get("item", excerpt.get("item")) == excerpt.get("item"):
            out[r.label] = audio.load(p)
    return out


def claim_summary(claim: str, out_dir: str | Path | None = None, which=RUN_METRICS):
    """:func:`summary` of ``claim``'s results at its :func:`budget` if every run label of
    :func:`experiment` has at least one seed there, else None. ``which`` may name ``band_err`` for the
    per-band columns. Chapter 6 shows a claim only when this is not None.
    Chapter: 06_losses_trained."""
    res = results_at_budget(claim, out_dir)
    if not res or {r["run"]["label"] for r in res} != {r.label for r in experiment(claim)}:
        return None
    from sedemo.evaluation.analysis import band_names

    cols = []
    for m in which:
        cols += band_names() if m == "band_err" else [m]
    table = summary(res, which=tuple(cols))
    order = list(dict.fromkeys(r.label for r in experiment(claim)))
    return table.loc[order]


def excerpt_path(out_dir: str | Path, r: Run) -> Path:
    """Where seed-0 run ``r`` keeps its listening excerpt (FLAC, 16 kHz).

    Chapter: 06_losses_trained."""
    return Path(out_dir) / "audio" / (r.key.rsplit("__seed", 1)[0] + ".flac")


def _write_json(path: Path, payload: dict) -> None:
    from sedemo._utils import atomic_output

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, default=str))


def load_results(out_dir: str | Path | None = None, claim: str | None = None) -> list[dict]:
    """Every result JSON in ``out_dir`` (default :data:`RESULTS_DIR`), of ``claim`` only if given.

    Chapter: 06_losses_trained."""
    paths = sorted(Path(out_dir or RESULTS_DIR).glob(f"{claim or '*'}__*.json"))
    return [json.loads(p.read_text()) for p in paths]


def results_at_budget(claim: str, out_dir: str | Path | None = None) -> list[dict]:
    """:func:`load_results` of ``claim`` made at its :func:`budget` (a result left from another
    budget is not part of the claim's comparison). Chapters: 05_complex_mapping, 06_losses_trained."""
    return [res for res in load_results(out_dir, claim) if res["run"]["steps"] == budget(claim)]


def summary(results: list[dict], which=("pesq_wb", "stoi", "estoi", "si_sdr", "cd")):
    """Mean and spread over seeds of each metric per run label (improvement over the
    noisy input for SI-SDR as ``si_sdr_i``; for ``absent_db``, the residual level in
    speech pauses, the change from the noisy input as ``absent_db_change``; with
    ``level_db`` the mean absolute level error ``abs_level_db``; with the band columns
    ``band_err_*`` the mean absolute band error ``colouration_db``). Returns a
    DataFrame indexed by label with columns ``(metric, "mean")``, ``(metric, "std")``
    and ``("seeds", "n")``. Metrics of ``which`` that a result lacks are left out (NaN).
    A difference between two labels is only supported when it exceeds the spreads.
    Chapter: 06_losses_trained."""
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
        if "absent_db" in est and "absent_db" in which:
            rec["absent_db_change"] = (est["absent_db"] - noisy.loc[est.index, "absent_db"]).mean()
        if "level_db" in est and "level_db" in which:
            rec["abs_level_db"] = est["level_db"].abs().mean()
        bands = [c for c in est.columns if c.startswith("band_err_") and c in which]
        if bands:
            rec["colouration_db"] = est[bands].abs().mean(axis=1).mean()
        per_seed.append(rec)
    df = pd.DataFrame(per_seed)
    metrics = [c for c in df.columns if c not in ("label", "seed")]
    order = list(dict.fromkeys(df["label"]))
    table = df.groupby("label")[metrics].agg(["mean", "std"]).loc[order]
    table[("seeds", "n")] = df.groupby("label")["seed"].nunique().loc[order]
    return table


def noisy_reference(claim: str, out_dir: str | Path | None = None) -> dict:
    """The unprocessed noisy input's mean of each metric over the items ``claim``'s runs
    were scored on (the same items for every run; from the first result), with
    ``si_sdr_i`` and ``absent_db_change`` 0 by definition: the reference line of
    :func:`plot_metrics`. Empty when there are no results. Chapter: 06_losses_trained."""
    import pandas as pd

    results = load_results(out_dir, claim)
    if not results:
        return {}
    rows = pd.DataFrame(results[0]["rows"])
    noisy = rows[rows.system == "noisy"].mean(numeric_only=True).to_dict()
    return {**{k: float(v) for k, v in noisy.items() if k != "snr_db"}, "si_sdr_i": 0.0, "absent_db_change": 0.0}


def plot_metrics(table, metrics, ax=None, title: str | None = None, reference: dict | None = None):
    """The mean of each run label (a dot) with one standard deviation over seeds (a bar),
    one panel per metric of ``metrics`` (a :func:`summary` table). Dots, not bars: the
    axis is zoomed to the values, which a bar chart would make misleading (a bar's length
    reads as the value). ``reference``: optional ``{metric: value}`` drawn as a dashed
    line (e.g. the noisy input). Returns the figure. Chapter: 06_losses_trained."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.2), layout="constrained", squeeze=False)
    labels = list(table.index)
    ypos = np.arange(len(labels))
    for ax, m in zip(axes[0], metrics):
        mean, std = table[(m, "mean")].to_numpy(float), table[(m, "std")].fillna(0).to_numpy(float)
        for i in range(len(labels)):
            ax.errorbar(mean[i], ypos[i], xerr=std[i], fmt="o", color=f"C{i}", capsize=3)
        if reference and m in reference:
            ax.axvline(reference[m], color="k", ls="--", lw=1, label="noisy input")
            ax.legend(loc="best", fontsize=8)
        ax.set_yticks(ypos, labels if ax is axes[0][0] else [""] * len(labels))
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
        better = "higher" if HIGHER_IS_BETTER.get(m, True) else "lower"
        ax.set(xlabel=f"{METRIC_LABELS.get(m, m)} ({better} is better)")
    if title:
        fig.suptitle(title)
    return fig


def matched_to(x: np.ndarray, reference: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """``x`` scaled so that its active speech level (ITU-T P.56,
    :func:`sedemo.dsp.audio.active_level`) equals that of ``reference``: for listening
    comparisons that are not confounded with loudness. Chapter: 06_losses_trained."""
    from sedemo.dsp import audio

    gain_db = audio.active_level(reference, sample_rate)[0] - audio.active_level(x, sample_rate)[0]
    return np.asarray(x, dtype=np.float64) * 10.0 ** (gain_db / 20.0)


#: encoding of :func:`listening`'s pre-rendered variants (spectrogram dpi, MP3 bitrate)
LISTENING_DPI = 64
LISTENING_BITRATE = "40k"


def listening(claim: str, out_dir: str | Path | None = None, mode: str | None = None):
    """A listening control for ``claim``: one noisy test clip (0 dB SNR, the first
    :data:`EXCERPT_SECONDS` s of :func:`excerpt_item`) enhanced by the seed-0 model of
    each loss, with its spectrogram and SI-SDR / PESQ-WB against the clean clip; two
    players per loss: at the level the model outputs (a loss that changes the level is
    heard doing so) and matched to the clean clip's active speech level (ITU-T P.56,
    :func:`matched_to`), so that a difference heard in the second is not loudness.
    Returns :func:`sedemo.display.widgets.switcher`'s output. Chapter: 06_losses_trained."""
    import matplotlib.pyplot as plt

    from sedemo.evaluation import analysis
    from sedemo import metrics
    from sedemo.display import plots, widgets

    clips = load_excerpts(claim, out_dir)
    if "clean" not in clips:
        raise FileNotFoundError(f"no listening excerpts for {claim} under {out_dir or RESULTS_DIR}; "
                                "run scripts/loss_experiments.py first")
    clean = clips["clean"]
    order = ["noisy"] + [k for k in clips if k not in ("noisy", "clean")] + ["clean"]

    def render(label):
        x = clips[label]
        fig, ax = plt.subplots(figsize=(6.5, 2.2), layout="constrained")
        plots.spectrogram(x, ax=ax, title=label)
        if label == "clean":
            return [fig, {label: x}]
        scores = {"SI-SDR (dB)": metrics.si_sdr(estimate=x, reference=clean),
                  "PESQ-WB": metrics.pesq(estimate=x, reference=clean, sample_rate=16000),
                  "level vs clean (dB)": analysis.level_difference_db(x, clean)}
        players = {"as output": x, "level-matched to clean (P.56)": np.clip(matched_to(x, clean), -1.0, 1.0)}
        return [fig, players, scores]

    # chapter 6 has seven of these (about 25 variants): a lighter image and audio encoding
    # keeps the page within the site's page-weight budget (tests/test_site.py)
    return widgets.switcher(order, render, label=f"{claim}: model trained with", sample_rate=16000, mode=mode,
                            dpi=LISTENING_DPI, bitrate=LISTENING_BITRATE)


def typical_spread(metric: str, claims=CLAIMS, out_dir: str | Path | None = None) -> float:
    """The median standard deviation over seeds of ``metric`` across every run label of
    ``claims`` that has at least two seeds: a yardstick for one-seed comparisons
    (chapter 5's architecture table, C1's architecture rows). NaN if there is none.
    Chapter: 05_complex_mapping."""
    stds = []
    for claim in claims:
        res = results_at_budget(claim, out_dir)
        if not res:
            continue
        t = summary(res, which=(metric,) if metric != "si_sdr_i" else ("si_sdr",))
        ok = t[("seeds", "n")] >= 2
        stds += list(t.loc[ok, (metric, "std")].dropna())
    return float(np.median(stds)) if stds else float("nan")


# statistics over the stored results (learning curves, ranking changes, paired intervals),
# kept in their own module and offered here, where the chapters look for them
from sedemo.evaluation.experiment_stats import (  # noqa: E402, F401
    difference_intervals, item_means, learning_curves, ranking_change,
)
