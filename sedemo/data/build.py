"""Building the corpus: mixing speech and noise at planned SNRs, split by speaker, and
the ``python -m sedemo.data`` command. Chapter: 00_preface.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from sedemo._utils import atomic_output
from sedemo._cli import Parser, run, whole_number
from sedemo.dsp import audio
from sedemo.data.sources import (
    ASTERISK_DIR, CORPUS_VERSION, CREDITS, FILES_NAME, SAMPLE_RATE, SPEAKERS, SPLITS, SYNTH_SPEAKERS, CorpusConfig, _Journal,
    _build_debian_pools, _build_synthetic_pools, _progress, _write, debian_sources_present, default_root,
)
from sedemo.data.corpus import Corpus, load_corpus
from sedemo.data.voices import ASTERISK_PACKAGES, VOICES, _build_voice_pools, _missing_message, _missing_packages


# --------------------------------------------------------------------------- mixing
def _speaker_split(speaker: str, source: str) -> str:
    """The split a speaker belongs to (speakers never cross splits)."""
    if source != "debian":
        return SYNTH_SPEAKERS[speaker][3]
    return SPEAKERS[speaker][0] if speaker in SPEAKERS else VOICES[speaker][0]


def _plan(split: str, cfg: CorpusConfig, speech: list, noise: list, source: str):
    """The list of mixtures of one split: (id, speech file, noise entry, snr, rng seed)."""
    split_idx = SPLITS.index(split)
    utts = [(spk, p) for spk, p in speech if _speaker_split(spk, source) == split]
    noises = [n for n in noise if n[0] == split]
    if not utts or not noises:
        raise RuntimeError(f"no speech or no noise for split {split!r}; is the corpus source complete?")
    if cfg.voices != "book":
        return _plan_by_voice(split, cfg, utts, noises)
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


def _plan_by_voice(split: str, cfg: CorpusConfig, utts: list, noises: list):
    """The mixtures of one split of the extended corpus: like :func:`_plan`, but each
    mixture first draws a voice (uniformly: a voice with hours of speech is not heard more
    often than one with minutes), then one of its utterances. The test grid takes the
    voices in turn."""
    split_idx = SPLITS.index(split)
    by_voice: dict[str, list] = {}
    for spk, p in utts:
        by_voice.setdefault(spk, []).append((spk, p))
    voices = sorted(by_voice)
    plan = []
    if split == "test":
        k = 0
        for ntype in sorted({n[1] for n in noises}):
            pool = [n for n in noises if n[1] == ntype]
            for snr in cfg.test_snrs:
                for j in range(cfg.n_test_per_cell):
                    rng = np.random.default_rng([cfg.seed, split_idx, k])
                    own = by_voice[voices[k % len(voices)]]
                    plan.append((f"{split}{k:04d}", own[int(rng.integers(len(own)))], pool[j % len(pool)], float(snr), rng))
                    k += 1
        return plan
    n = cfg.n_train if split == "train" else cfg.n_valid
    lo, hi = cfg.train_snr_range if split == "train" else cfg.valid_snr_range
    for k in range(n):
        rng = np.random.default_rng([cfg.seed, split_idx, k])
        own = by_voice[voices[int(rng.integers(len(voices)))]]
        utt = own[int(rng.integers(len(own)))]
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
    """Build (or reuse, or finish) the corpus at ``root`` and return it.

    ``source``: ``"auto"`` (Debian packages when present, else the synthetic fallback,
    with a loud warning), ``"debian"`` or ``"synthetic"``. ``config.voices="extended"``
    adds the voices of :mod:`sedemo.data.voices` to the Debian speakers (it needs their
    packages: the error names the missing ones); ``"book"``, the default, builds exactly
    the corpus it always built. An existing corpus with the
    same source and parameters is reused unless ``force``. Deterministic: the same
    arguments give the same files. Takes about a minute on two cores; the extended corpus
    about 11 minutes (9 of them decoding its voices, which a resumed build does not repeat).

    Nothing is lost: every file is written atomically and recorded in ``files.txt``
    before it is written, and ``info.json`` is written last. An interrupted build is
    resumed by the same call (its finished files are complete, so it ends as an
    uninterrupted build would). ``force`` (or a corpus of an older version) deletes
    only the files the previous build lists as its own; a folder that is not empty
    and holds no corpus of sedemo's is refused (``FileExistsError``), as is a different
    corpus or an unfinished build with other parameters without ``force``.
    Chapter: 00_preface.
    """
    root = Path(root) if root is not None else default_root()
    if not isinstance(config, CorpusConfig):
        raise TypeError(f"config must be a sedemo.data.CorpusConfig, got {type(config).__name__}")
    extended = config.voices == "extended"
    if source == "auto":
        source = "debian" if debian_sources_present() or extended else "synthetic"
    if source not in ("debian", "synthetic"):
        raise ValueError(f"unknown source {source!r}; choose 'auto', 'debian' or 'synthetic'")
    if extended and source != "debian":
        raise ValueError("the extended voices (voices='extended') are real recordings: use source='debian' "
                         "(or 'auto'), or voices='book' for the synthetic corpus")
    if extended:
        missing = [] if debian_sources_present() else list(ASTERISK_PACKAGES)
        if missing or _missing_packages():
            raise FileNotFoundError(_missing_message(missing + _missing_packages()))
    if source == "debian" and not debian_sources_present():
        raise FileNotFoundError(
            f"the Asterisk speech packages are not installed under {ASTERISK_DIR}; install them "
            "(see README.md: `make system-deps`) or use source='synthetic'"
        )
    info_path = root / "info.json"
    wanted = {"version": CORPUS_VERSION, "source": source, "config": _config_dict(config)}
    state, old = _folder_state(root)
    resume = False
    if state == "foreign":
        raise FileExistsError(
            f"{root} is not empty and holds no corpus built by sedemo (no info.json or files.txt of its "
            "own), so nothing in it was touched; choose a new or empty folder (--root NEW_FOLDER), or "
            "delete this one first if it is an interrupted build of an older sedemo"
        )
    if state == "complete":
        if {k: old.get(k) for k in wanted} == wanted and not force:
            return load_corpus(root)
        if not force and not (old.get("version") != CORPUS_VERSION and old.get("source") == source):
            raise FileExistsError(
                f"a different corpus already exists at {root} (source {old.get('source')}, version "
                f"{old.get('version')}); pass force=True (--force) to replace it (only the files it lists "
                "as its own are deleted), or choose another --root"
            )
        if not force:
            print(f"the corpus at {root} is from an older version of sedemo "
                  f"({old.get('version')}); rebuilding it", file=sys.stderr)
        _remove_own_files(root, old)
    elif state == "unfinished":
        resume = old == wanted and not force
        if not resume and not force:
            raise FileExistsError(
                f"an unfinished corpus build with other parameters is at {root}; run it again with its "
                "own parameters to finish it, pass force=True (--force) to replace it (only its own files "
                "are deleted), or choose another --root"
            )
        if resume:
            print(f"resuming the unfinished corpus build at {root}", file=sys.stderr)
        else:
            _remove_own_files(root, old)
    root.mkdir(parents=True, exist_ok=True)
    journal = _Journal(root)
    if not resume:
        journal.start(wanted)
    pools = _build_debian_pools if source == "debian" else _build_synthetic_pools
    speech, noise = pools(root, config, progress, journal)
    if extended:
        speech = speech + _build_voice_pools(root, config, progress, journal, SAMPLE_RATE)
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
            _write(root / rel_c, clean, journal)
            _write(root / rel_n, noisy, journal)
            rows.append({
                "split": split, "id": mix_id, "clean": str(rel_c), "noisy": str(rel_n),
                "speaker": spk, "speech_file": str(Path(spath).relative_to(root)),
                "noise_type": ntype, "noise_source": nsrc, "snr_db": f"{snr:.3f}",
                "seconds": f"{len(clean) / SAMPLE_RATE:.3f}",
            })
    journal.add(root / "manifest.csv")
    with atomic_output(root / "manifest.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    info = dict(wanted, credits=CREDITS[source], sample_rate=SAMPLE_RATE,  # sorted: no hash-seed order
                speakers={s: _speaker_split(s, source) for s in sorted({r["speaker"] for r in rows})})
    if extended:
        info["credits"] = CREDITS["debian"] + CREDITS["extended"]
        info["speakers"] = {s: _speaker_split(s, source) for s in sorted({s for s, _ in speech})}
        info["splits"] = _split_summary(speech, rows, source)
    made = [Path(p).relative_to(root).as_posix() for p in [s for _, s in speech] + [n[3] for n in noise]]
    made += [Path(p).relative_to(root).as_posix() for p in root.glob("speech/*/pool.json")] if extended else []
    made += [Path(r[k]).as_posix() for r in rows for k in ("clean", "noisy")] + ["manifest.csv", "info.json"]
    journal.start(wanted, set(made) | set(_Journal.read(root)[1]))  # the final list of its own files
    with atomic_output(info_path) as tmp:  # last: the corpus is complete once info.json exists
        tmp.write_text(json.dumps(info, indent=1))
    return load_corpus(root)


def _folder_state(root: Path):
    """What ``root`` holds: ``("new", None)`` (missing or empty), ``("complete", info)``
    (a corpus of sedemo's), ``("unfinished", parameters)`` (an interrupted build:
    ``files.txt`` without ``info.json``) or ``("foreign", None)`` (anything else)."""
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} is a file, not a folder; choose a new or empty folder (--root NEW_FOLDER)")
    if not root.exists() or not any(root.iterdir()):
        return "new", None
    if (root / "info.json").exists():
        try:
            old = json.loads((root / "info.json").read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            old = None
        ours = isinstance(old, dict) and {"version", "source", "config"} <= set(old)
        return ("complete", old) if ours else ("foreign", None)
    wanted, _ = _Journal.read(root)
    return ("unfinished", wanted) if wanted is not None else ("foreign", None)


def _own_files(root: Path) -> list[str]:
    """The files the corpus at ``root`` lists as its own: ``files.txt``; for a corpus
    built before that list existed, ``info.json``, ``manifest.csv`` and the files the
    manifest names."""
    wanted, files = _Journal.read(root)
    if wanted is not None:
        return files
    files = ["info.json", "manifest.csv"]
    try:
        with open(root / "manifest.csv", newline="") as fh:
            files += [row[k] for row in csv.DictReader(fh) for k in ("clean", "noisy", "speech_file") if row.get(k)]
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return files


def _remove_own_files(root: Path, old: dict):
    """Delete what the previous build at ``root`` lists as its own (nothing else, nothing
    outside ``root``), then the folders this leaves empty. ``info.json`` goes first, so
    an interruption leaves an unfinished build that ``--force`` can finish removing."""
    files = _own_files(root)
    if _Journal.read(root)[0] is None:  # an older corpus: record its list before deleting
        _Journal(root).start({k: old.get(k) for k in ("version", "source", "config")}, files)
    (root / "info.json").unlink(missing_ok=True)
    real_root = os.path.realpath(root)
    emptied = set()
    for rel in files:
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts or rel_path.as_posix() == FILES_NAME:
            continue
        path = root / rel_path
        if os.path.commonpath([real_root, os.path.realpath(path.parent)]) != real_root:
            continue  # a folder linked to elsewhere: not the build's to clean
        if path.is_symlink() or path.is_file():
            path.unlink()
            emptied.update(p for p in path.parents if p != root and root in p.parents)
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _config_dict(config: CorpusConfig) -> dict:
    """The parameters a corpus is recognised by (``info.json``, ``files.txt``). ``voices``
    is left out when it is ``"book"``, so that the book's corpus keeps the parameters it
    was built with before the option existed (and is reused, not rebuilt)."""
    d = _jsonable(asdict(config))
    if d.get("voices") == "book":
        del d["voices"]
    return d


def speaker_facts(speaker: str) -> tuple[str, str]:
    """``(sex, language)`` of a speaker of the default or extended corpus (the ``speaker``
    column of a manifest or of stored result rows), e.g. ``("male", "Italian")``; sex is
    ``"male"``, ``"female"`` or ``"mixed"``/``"unknown"`` (:data:`sedemo.data.voices.VOICES`).
    Raises ``ValueError`` for a name that is in neither table.
    Chapter: 05_complex_mapping."""
    if speaker in SPEAKERS:
        return SPEAKERS[speaker][1], SPEAKERS[speaker][2]
    if speaker in VOICES:
        return VOICES[speaker][1], VOICES[speaker][2]
    raise ValueError(f"unknown speaker {speaker!r}: not a voice of the default or extended corpus "
                     "(see sedemo.data.SPEAKERS and sedemo.data.voices.VOICES)")


def _split_summary(speech: list, rows: list, source: str) -> dict:
    """Per split: its voices, their sexes and languages, the hours of clean speech in its
    pool and the hours of its mixtures (for ``info.json``)."""
    summary = {}
    for split in SPLITS:
        own = [(s, p) for s, p in speech if _speaker_split(s, source) == split]
        voices = sorted({s for s, _ in own})
        seconds = sum(_seconds(p) for _, p in own)
        sexes = [speaker_facts(v)[0] for v in voices]
        summary[split] = {
            "speakers": voices, "n_speakers": len(voices),
            "sexes": {x: sexes.count(x) for x in sorted(set(sexes))},
            "languages": sorted({speaker_facts(v)[1] for v in voices}),
            "speech_pool_hours": round(seconds / 3600, 3), "speech_pool_utterances": len(own),
            "mixtures": sum(r["split"] == split for r in rows),
            "mixture_hours": round(sum(float(r["seconds"]) for r in rows if r["split"] == split) / 3600, 3),
        }
    return summary


def _seconds(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


# --------------------------------------------------------------------------- CLI
def main(argv=None):
    """The command line ``python -m sedemo.data build|info`` (``argv``: its arguments).

    A user error (bad argument, missing or foreign folder, undecodable file) prints
    one line ``error: ...`` to stderr and exits with status 2 (``--debug``: the
    traceback instead); an interrupted build says how to resume it.
    Chapter: 00_preface."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser = Parser(prog="python -m sedemo.data", description="The book's corpus of clean/noisy speech pairs.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", parents=[common], help="build the corpus (decode, mix, write FLAC + manifest)")
    b.add_argument("--root", type=Path, default=None, help="where to write it: a new or empty folder, or a corpus "
                   "built by sedemo (default: $SEDEMO_DATA, else data/corpus)")
    b.add_argument("--source", default="auto", choices=("auto", "debian", "synthetic"))
    b.add_argument("--n-train", type=whole_number(1), default=CorpusConfig.n_train)
    b.add_argument("--n-valid", type=whole_number(1), default=CorpusConfig.n_valid)
    b.add_argument("--n-test-per-cell", type=whole_number(1), default=CorpusConfig.n_test_per_cell)
    b.add_argument("--seed", type=whole_number(0), default=0)
    b.add_argument("--voices", default="book", choices=("book", "extended"),
                   help="book: the book's four speakers (default); extended: about 60 more real voices "
                        "(needs more Debian packages: SEDEMO_EXTENDED_VOICES=1 bash scripts/system-deps.sh)")
    b.add_argument("--force", action="store_true",
                   help="replace an existing corpus (deletes only the files it lists as its own)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    i = sub.add_parser("info", parents=[common], help="describe the built corpus")
    i.add_argument("--root", type=Path, default=None)
    nb = sub.add_parser("noise-bank", parents=[common],
                        help="decode 0 A.D.'s ambient recordings into a training noise bank and mix a "
                             "validation set in its held-out families (chapter 5; needs 0ad-data)")
    nb.add_argument("--out", type=Path, default=Path("data/noise-bank"), help="the bank's folder")
    nb.add_argument("--zip", type=Path, default=None, help="0 A.D.'s public.zip (default: the installed package's)")
    nb.add_argument("--corpus", type=Path, default=Path("data/corpus-extended"),
                    help="the corpus whose validation speech the validation set uses")
    nb.add_argument("--valid-out", type=Path, default=Path("data/noise-bank-valid"),
                    help="where to write the validation mixtures (a corpus folder, split valid only)")
    nx = sub.add_parser("noise-bank-extra", parents=[common],
                        help="decode GCompris and Scratch recordings into a second, train-only noise bank "
                             "(chapter 5; needs gcompris-qt-data and/or scratch)")
    nx.add_argument("--out", type=Path, default=Path("data/noise-bank-extra"), help="the bank's folder")
    nn = sub.add_parser("noise-bank-nature", parents=[common],
                        help="decode MegaGlest's tileset ambiences (birds, insects, frogs, rain, wind) into a "
                             "third, train-only noise bank (chapter 5; needs megaglest-data)")
    nn.add_argument("--out", type=Path, default=Path("data/noise-bank-nature"), help="the bank's folder")
    nn.add_argument("--tilesets", type=Path, default=None,
                    help="MegaGlest's tilesets folder (default: the installed package's)")
    argv = list(sys.argv[1:] if argv is None else argv)

    def body():
        args = parser.parse_args(argv)
        if args.cmd == "build":
            cfg = CorpusConfig(n_train=args.n_train, n_valid=args.n_valid,
                               n_test_per_cell=args.n_test_per_cell, seed=args.seed, voices=args.voices)
            corpus = build(args.root, source=args.source, config=cfg, progress=not args.quiet, force=args.force)
            print(f"corpus ready at {corpus.root}")
            return corpus
        if args.cmd == "noise-bank":
            from sedemo.data import noise_bank

            bank = noise_bank.build_bank(args.out, args.zip or noise_bank.ZEROAD_ZIP)
            for split in ("train", "valid"):
                print(f"{split}: {bank[split]['files']} files, {bank[split]['minutes']:.1f} min, "
                      f"families {', '.join(bank[split]['families'])}")
            return load_corpus(noise_bank.build_valid_set(args.out, load_corpus(args.corpus), args.valid_out))
        if args.cmd in ("noise-bank-extra", "noise-bank-nature"):
            from sedemo.data import noise_bank

            bank = (noise_bank.build_extra_bank(args.out) if args.cmd == "noise-bank-extra" else
                    noise_bank.build_nature_bank(args.out, args.tilesets or noise_bank.MEGAGLEST_TILESETS))
            print(f"train: {bank['train']['files']} files, {bank['train']['minutes']:.1f} min, "
                  f"{len(bank['train']['families'])} families; left out: {len(bank['skipped'])} "
                  f"(shorter than {noise_bank.EXTRA_MIN_SECONDS:g} s, silent or unreadable)")
            return None
        return load_corpus(args.root)

    corpus = run(body, argv, interrupted="interrupted; run the same command again to finish the build "
                                         "(finished files are kept)")
    if corpus is None:
        return None
    print(corpus.describe())
    for split, s in corpus.info.get("splits", {}).items():  # the extended corpus: its speech per split
        sexes = ", ".join(f"{n} {sex}" for sex, n in s["sexes"].items())
        print(f"- {split} speech pool: {s['speech_pool_hours']:.2f} h, {s['n_speakers']} speakers ({sexes}), "
              f"{len(s['languages'])} languages: {', '.join(s['languages'])}")
