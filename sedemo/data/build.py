"""Building the corpus: mixing speech and noise at planned SNRs, split by speaker, and
the ``python -m sedemo.data`` command. Chapter: 00_preface.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from sedemo.dsp import audio
from sedemo.data.sources import ASTERISK_DIR, CORPUS_VERSION, CREDITS, CorpusConfig, SAMPLE_RATE, SPEAKERS, SPLITS, SYNTH_SPEAKERS, _build_debian_pools, _build_synthetic_pools, _progress, _write, debian_sources_present, default_root
from sedemo.data.corpus import Corpus, load_corpus


# --------------------------------------------------------------------------- mixing
def _speaker_split(speaker: str, source: str) -> str:
    """The split a speaker belongs to (speakers never cross splits)."""
    return SPEAKERS[speaker][0] if source == "debian" else SYNTH_SPEAKERS[speaker][3]


def _plan(split: str, cfg: CorpusConfig, speech: list, noise: list, source: str):
    """The list of mixtures of one split: (id, speech file, noise entry, snr, rng seed)."""
    split_idx = SPLITS.index(split)
    utts = [(spk, p) for spk, p in speech if _speaker_split(spk, source) == split]
    noises = [n for n in noise if n[0] == split]
    if not utts or not noises:
        raise RuntimeError(f"no speech or no noise for split {split!r}; is the corpus source complete?")
    plan = []
    if split == "test":
        types = sorted({n[1] for n in noises})
        k = 0
        for ntype in types:
            pool = [n for n in noises if n[1] == ntype]
            for snr in cfg.test_snrs:
                for j in range(cfg.n_test_per_cell):
                    rng = np.random.default_rng([cfg.seed, split_idx, k])
                    utt = utts[(k * 7) % len(utts)]
                    plan.append((f"{split}{k:04d}", utt, pool[j % len(pool)], float(snr), rng))
                    k += 1
    else:
        n = cfg.n_train if split == "train" else cfg.n_valid
        lo, hi = cfg.train_snr_range if split == "train" else cfg.valid_snr_range
        for k in range(n):
            rng = np.random.default_rng([cfg.seed, split_idx, k])
            utt = utts[int(rng.integers(len(utts)))]
            nz = noises[int(rng.integers(len(noises)))]
            plan.append((f"{split}{k:04d}", utt, nz, float(rng.uniform(lo, hi)), rng))
    return plan


def make_mixture(clean: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator,
                 speech_level_db: float = -26.0):
    """Mix one utterance the way the corpus does (chapter 1).

    ``clean``, ``noise``: float (L,), (M,) at 16 kHz. Sets the clean active level to
    ``speech_level_db`` dBFS (P.56), fits the noise to the clean length at a random
    offset, scales it to ``snr_db`` and, if the mixture would clip, scales clean and
    noise down together. Returns ``(clean, noisy)`` float32 with ``noisy - clean``
    the scaled noise.
    Chapter: 01_noisy_speech.
    """
    level, _ = audio.active_level(clean, SAMPLE_RATE)
    clean = clean * 10 ** ((speech_level_db - level) / 20)
    mix = audio.mix_at_snr(clean, noise, snr_db, sample_rate=SAMPLE_RATE, level="p56", rng=rng)
    noisy, clean = np.asarray(mix.noisy, dtype=np.float64), np.asarray(mix.clean, dtype=np.float64)
    peak = max(np.abs(noisy).max(), np.abs(clean).max())
    if peak > 0.99:
        noisy, clean = noisy * 0.99 / peak, clean * 0.99 / peak
    return clean.astype(np.float32), noisy.astype(np.float32)


def build(root: str | Path | None = None, source: str = "auto", config: CorpusConfig = CorpusConfig(),
          progress: bool = True, force: bool = False) -> Corpus:
    """Build (or reuse) the corpus at ``root`` and return it.

    ``source``: ``"auto"`` (Debian packages when present, else the synthetic fallback,
    with a loud warning), ``"debian"`` or ``"synthetic"``. An existing corpus with the
    same source and parameters is reused unless ``force``. Deterministic: the same
    arguments give the same files. Takes about a minute on two cores.
    Chapter: 00_preface.
    """
    root = Path(root) if root is not None else default_root()
    if source == "auto":
        source = "debian" if debian_sources_present() else "synthetic"
    if source not in ("debian", "synthetic"):
        raise ValueError(f"unknown source {source!r}; choose 'auto', 'debian' or 'synthetic'")
    if source == "debian" and not debian_sources_present():
        raise FileNotFoundError(
            f"the Asterisk speech packages are not installed under {ASTERISK_DIR}; install them "
            "(see README.md: `make system-deps`) or use source='synthetic'"
        )
    info_path = root / "info.json"
    wanted = {"version": CORPUS_VERSION, "source": source, "config": _jsonable(asdict(config))}
    if info_path.exists() and not force:
        old = json.loads(info_path.read_text())
        if {k: old.get(k) for k in wanted} == wanted:
            return load_corpus(root)
        if old.get("version") != CORPUS_VERSION and old.get("source") == source:
            print(f"the corpus at {root} is from an older version of sedemo "
                  f"({old.get('version')}); rebuilding it", file=sys.stderr)
            force = True
        else:
            raise RuntimeError(
                f"a different corpus already exists at {root} (source {old.get('source')}); "
                "pass force=True (--force) to rebuild it, or choose another --root"
            )
    if force and root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    pools = _build_debian_pools if source == "debian" else _build_synthetic_pools
    speech, noise = pools(root, config, progress)
    rows = []
    noise_cache: dict[Path, np.ndarray] = {}
    for split in SPLITS:
        plan = _plan(split, config, speech, noise, source)
        for mix_id, (spk, spath), (_, ntype, nsrc, npath), snr, rng in _progress(plan, len(plan), f"mix {split}", progress):
            if npath not in noise_cache:
                noise_cache[npath] = audio.load(npath, sample_rate=SAMPLE_RATE)
            clean, noisy = make_mixture(audio.load(spath, sample_rate=SAMPLE_RATE), noise_cache[npath],
                                        snr, rng, config.speech_level_db)
            rel_c, rel_n = Path(split) / f"{mix_id}_clean.flac", Path(split) / f"{mix_id}_noisy.flac"
            _write(root / rel_c, clean)
            _write(root / rel_n, noisy)
            rows.append({
                "split": split, "id": mix_id, "clean": str(rel_c), "noisy": str(rel_n),
                "speaker": spk, "speech_file": str(Path(spath).relative_to(root)),
                "noise_type": ntype, "noise_source": nsrc, "snr_db": f"{snr:.3f}",
                "seconds": f"{len(clean) / SAMPLE_RATE:.3f}",
            })
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    info = dict(wanted, credits=CREDITS[source], sample_rate=SAMPLE_RATE,
                speakers={s: _speaker_split(s, source) for s in {r["speaker"] for r in rows}})
    info_path.write_text(json.dumps(info, indent=1))
    return load_corpus(root)


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


# --------------------------------------------------------------------------- CLI
def main(argv=None):
    """The command line ``python -m sedemo.data build|info`` (``argv``: its arguments).
    Chapter: 00_preface."""
    parser = argparse.ArgumentParser(prog="python -m sedemo.data", description="The book's corpus of clean/noisy speech pairs.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the corpus (decode, mix, write FLAC + manifest)")
    b.add_argument("--root", type=Path, default=None, help="where to write it (default: %(default)s -> data/corpus)")
    b.add_argument("--source", default="auto", choices=("auto", "debian", "synthetic"))
    b.add_argument("--n-train", type=int, default=CorpusConfig.n_train)
    b.add_argument("--n-valid", type=int, default=CorpusConfig.n_valid)
    b.add_argument("--n-test-per-cell", type=int, default=CorpusConfig.n_test_per_cell)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--force", action="store_true", help="delete and rebuild an existing corpus")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    i = sub.add_parser("info", help="describe the built corpus")
    i.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.cmd == "build":
        cfg = CorpusConfig(n_train=args.n_train, n_valid=args.n_valid,
                           n_test_per_cell=args.n_test_per_cell, seed=args.seed)
        corpus = build(args.root, source=args.source, config=cfg, progress=not args.quiet, force=args.force)
        print(f"corpus ready at {corpus.root}")
    else:
        corpus = load_corpus(args.root)
    print(corpus.describe())

