"""A bank of extra real noise for training, and a validation set of mixtures in noise that
no model of the book has heard.

The corpus's noise comes from three packages (LinCity-NG, Minetest, Sonic Pi): 8 minutes
of short game loops. The ambient recordings of the game 0 A.D. (Debian ``0ad-data``,
CC-BY-SA-3.0, ``public.zip`` -> ``audio/ambient/``, 42 files, 28.6 min at 44.1/48 kHz:
farm, port and market crowds, temperate and tropical daytime ambience, rivers, waves,
rain, wind and thunder) are longer and more varied. :func:`build_bank` decodes them to
16 kHz mono and splits them **by family** (the file name without its take number):
:data:`VALID_FAMILIES` go to ``valid/`` (never trained on), the rest to ``train/``.
:func:`build_valid_set` then mixes the corpus's *validation* speakers with the
``valid/`` families at 0, 5 and 10 dB into a corpus-format folder (split ``valid``
only) that ``benchmarks/peers.py --split valid`` and the evaluation read like any corpus:
a second validation split, of unseen *real* noise, for choosing models.

Training reads the bank with ``--noise-bank DIR`` (``sedemo.train``; a share of the
dynamically mixed rows take a crop of a ``train/`` file instead of another item's noise).

:func:`build_extra_bank` adds a second, train-only bank of shorter recordings from two more
Debian packages: GCompris (``gcompris-qt-data``, GPL-3+: rain, a train, frogs in a storm,
applause, a car engine, a helicopter, harbour and water sounds, farm animals, solo
instruments; its factory-noise clips are picked but all shorter than 1 s, so left out; read out of Qt ``.rcc`` files by :mod:`sedemo.data.qt_resources`) and
Scratch (``scratch``, CC-BY-SA-3.0: crickets, passing cars and motorcycles, running water,
typing, a sewing machine, a party crowd, footsteps, instrumental music loops). Sounds made of
voices (laughs, screams, singing, beatboxing) are left out: they would teach a model to
remove speech. ``--noise-bank`` takes both folders.

:func:`build_nature_bank` adds a third, train-only bank: MegaGlest's tileset ambiences
(``megaglest-data``, CC-BY-SA-3.0), recorded days and nights in forests, meadows and deserts
(birdsong, crickets and cicadas, frogs, owls), rain and wind: 26 recordings, 12.7 minutes. It answers a
finding of chapter 5: the models' weakest held-out noise is a rainforest daytime ambience of
high-pitched animal calls, and none of the other banks has much of that kind.

Command line: ``python -m sedemo.data noise-bank --out data/noise-bank`` (needs
``0ad-data``: ``apt-get install 0ad-data``, 1.4 GB; or ``--zip`` the path of a
``public.zip``); ``python -m sedemo.data noise-bank-extra --out data/noise-bank-extra``
(needs ``gcompris-qt-data`` and/or ``scratch``); ``python -m sedemo.data noise-bank-nature --out
data/noise-bank-nature`` (needs ``megaglest-data``).
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from sedemo._utils import atomic_output
from sedemo.dsp import audio
from sedemo.data.sources import CORPUS_VERSION, SAMPLE_RATE, _family

ZEROAD_ZIP = Path("/usr/share/games/0ad/mods/public/public.zip")
AMBIENT_PREFIX = "audio/ambient/"
#: families held out of training: a rainforest-like daytime ambience, a river, breaking
#: waves, a port crowd and a windstorm (5.4 min); every other family trains.
VALID_FAMILIES = ("day_tropical", "river_med", "wavecrash", "amb_port", "windstorm")
CREDIT = ("Ambient recordings (crowds, daytime ambience, rivers, waves, rain, wind)",
          "Wildfire Games and 0 A.D. contributors", "CC-BY-SA-3.0", "0ad-data")
VALID_SNRS = (0.0, 5.0, 10.0)

GCOMPRIS_RCC = Path("/usr/share/gcompris-qt/rcc")
SCRATCH_SOUNDS = Path("/usr/share/scratch/Media/Sounds")
#: the GCompris recordings the extra bank takes (substrings of the paths inside the .rcc files)
GCOMPRIS_PICK = ("LRRain_in_garden", "LRTrain_slowing", "LRFrogsInPond", "LRApplauses", "LRFactory_noise",
                 "LRStartAndStopCarEngine", "LRFireballs", "LRHits", "resource/sounds/water.wav",
                 "canal_lock/resource/water_fill", "watercycle/resource/harbor", "watercycle/resource/bubble",
                 "guessnumber/resource/helicopter", "railroad/resource/sounds/train", "traffic/resource/car.",
                 "explore_farm_animals/resource/animals/", "instruments/resource/")
#: the Scratch recordings it takes (paths under Media/Sounds; a folder takes all its files but
#: those of SCRATCH_SKIP: voices)
SCRATCH_PICK = ("Animal/Crickets", "Animal/Bird", "Effects/Bubbles", "Effects/CarPassing",
                "Effects/MotorcyclePassing", "Effects/WaterRunning", "Effects/Typing", "Effects/SewingMachine",
                "Effects/Ripples", "Human/PartyNoise", "Human/Footsteps", "Music Loops/")
SCRATCH_SKIP = ("HumanBeatbox", "HipHop")
EXTRA_CREDITS = (("Sound effects, ambience, animals and instruments (extra training noise)",
                  "GCompris authors (KDE)", "GPL-3+", "gcompris-qt-data"),
                 ("Sound effects, ambience and music loops (extra training noise)",
                  "Scratch (MIT Media Lab) contributors", "CC-BY-SA-3.0", "scratch"))
EXTRA_WHAT = "GCompris and Scratch recordings as extra training noise (train/ only)"
#: recordings shorter than this (s) are left out (a crop would loop them many times)
EXTRA_MIN_SECONDS = 1.0

MEGAGLEST_TILESETS = Path("/usr/share/games/megaglest/tilesets")
#: tilesets whose sounds the nature bank leaves out: "hell" (a spoken greeting and an
#: ambience that may hold voices)
NATURE_SKIP = ("hell",)
NATURE_CREDIT = ("Tileset ambiences: forest, meadow and desert days and nights (birds, insects, frogs), "
                 "rain, wind (nature training noise)", "The Glest Team and MegaGlest contributors",
                 "CC-BY-SA-3.0", "megaglest-data")
NATURE_WHAT = "MegaGlest tileset ambiences as nature training noise (train/ only)"


def family(name: str) -> str:
    """The family of an ambient file: its stem without the take number
    (``river_med_21.ogg`` -> ``river_med``, ``day_temperate_gen_01`` -> ``day_temperate_gen``).
    Chapter: 05_complex_mapping."""
    return _family(Path(name).stem)


def build_bank(out: str | Path, zip_path: str | Path = ZEROAD_ZIP) -> dict:
    """Decode 0 A.D.'s ambient recordings into ``out/train/*.flac`` and ``out/valid/*.flac``
    (mono, 16 kHz, DC removed, peak <= 0.99) and write ``out/info.json`` (files, seconds,
    families per split, the credit). Existing files are kept (a rerun finishes a build);
    files are written atomically. Returns the info dict.

    Raises ``FileNotFoundError`` naming the package when the zip is missing.
    Chapter: 05_complex_mapping.
    """
    zip_path, out = Path(zip_path), Path(out)
    if not zip_path.is_file():
        raise FileNotFoundError(f"no {zip_path}: install the recordings with `apt-get install 0ad-data` "
                                "(1.4 GB) or give --zip the path of 0 A.D.'s public.zip")
    info = {"what": "0 A.D. ambient recordings as extra training noise (train/) and unseen "
                    "validation noise (valid/), split by family", "source": str(zip_path),
            "valid_families": list(VALID_FAMILIES), "credit": list(CREDIT), "files": {}}
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(AMBIENT_PREFIX) and n.endswith(".ogg"))
        if not names:
            raise ValueError(f"{zip_path} has no {AMBIENT_PREFIX}*.ogg; is it 0 A.D.'s public.zip?")
        for name in names:
            split = "valid" if family(name) in VALID_FAMILIES else "train"
            rel = Path(split) / (name[len(AMBIENT_PREFIX):].replace("/", "__")[:-4] + ".flac")
            dst = out / rel
            if not dst.exists():
                import soundfile as sf

                x, sr = sf.read(io.BytesIO(zf.read(name)), dtype="float64", always_2d=True)
                x = _clean_noise(x, sr)
                dst.parent.mkdir(parents=True, exist_ok=True)
                with atomic_output(dst) as tmp:
                    sf.write(str(tmp), x.astype(np.float32), SAMPLE_RATE, format="FLAC")
            info["files"][str(rel)] = {"split": split, "family": family(name), "origin": name,
                                       "seconds": round(audio.info(dst).duration, 2)}
    stale = sorted(str(p.relative_to(out)) for split in ("train", "valid") for p in (out / split).glob("*.flac")
                   if str(p.relative_to(out)) not in info["files"])
    if stale:
        raise ValueError(f"{out} holds files that are not in this bank's split ({', '.join(stale[:3])}...): "
                         "a held-out family could be trained on; build the bank in a new folder (--out)")
    for split in ("train", "valid"):
        info[split] = _summary(info["files"], split)
    with atomic_output(out / "info.json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1) + "\n")
    return info


def _summary(files: dict, split: str) -> dict:
    """Files, minutes and families of one split of a bank's ``info["files"]``."""
    picked = [f for f in files.values() if f["split"] == split]
    return {"files": len(picked), "minutes": round(sum(f["seconds"] for f in picked) / 60, 2),
            "families": sorted({f["family"] for f in picked})}


def _clean_noise(x: np.ndarray, sr: int) -> np.ndarray:
    """Mono, 16 kHz, DC removed, peak <= 0.99 (float64)."""
    x = np.asarray(audio.resample(np.asarray(x, np.float64).reshape(len(x), -1).mean(axis=1), sr, SAMPLE_RATE),
                   dtype=np.float64)
    x = x - x.mean()
    peak = float(np.abs(x).max()) if len(x) else 0.0
    return x * (0.99 / peak) if peak > 0.99 else x


def _extra_sources(gcompris_rcc: Path, scratch_sounds: Path):
    """(name, family, origin, loader) for every recording :func:`build_extra_bank` takes."""
    found = []
    if gcompris_rcc.is_dir():
        from sedemo.data.qt_resources import read_rcc

        for rcc in sorted(gcompris_rcc.glob("*.rcc")):
            for inner, data in sorted(read_rcc(rcc).items()):
                if inner.lower().endswith((".wav", ".ogg")) and any(k in inner for k in GCOMPRIS_PICK):
                    stem = Path(inner).stem
                    found.append((f"gcompris__{stem}", f"gcompris:{_family(stem)}", f"{rcc.name}:{inner}",
                                  (lambda d=data: d)))
    if scratch_sounds.is_dir():
        for p in sorted(scratch_sounds.rglob("*")):
            rel = str(p.relative_to(scratch_sounds))
            if p.suffix.lower() in (".wav", ".mp3") and any(rel.startswith(k) for k in SCRATCH_PICK) \
                    and not any(k in rel for k in SCRATCH_SKIP):
                stem = p.stem.replace(" ", "_")
                found.append((f"scratch__{stem}", f"scratch:{_family(stem)}", f"scratch:{rel}",
                              (lambda q=p: q.read_bytes())))
    return found


def build_extra_bank(out: str | Path, gcompris_rcc: str | Path = GCOMPRIS_RCC,
                     scratch_sounds: str | Path = SCRATCH_SOUNDS) -> dict:
    """Decode the picked GCompris (:data:`GCOMPRIS_PICK`) and Scratch (:data:`SCRATCH_PICK`)
    recordings into ``out/train/*.flac`` (mono, 16 kHz, DC removed, peak <= 0.99; recordings
    shorter than :data:`EXTRA_MIN_SECONDS` or silent are left out) and write ``out/info.json``.
    Train only: the held-out validation noise stays 0 A.D.'s (:func:`build_valid_set`).
    Existing files are kept; writes are atomic. Returns the info dict.

    Raises ``FileNotFoundError`` naming the packages when neither is installed, ``ValueError``
    when ``out`` holds another bank or corpus (nothing there is written over).
    Chapter: 05_complex_mapping.
    """
    out = Path(out)
    _refuse_other(out, EXTRA_WHAT)
    sources = _extra_sources(Path(gcompris_rcc), Path(scratch_sounds))
    if not sources:
        raise FileNotFoundError(f"no GCompris sounds in {gcompris_rcc} and no Scratch sounds in {scratch_sounds}: "
                                "install them with `apt-get install gcompris-qt-data scratch`")
    return _write_train_bank(out, {"what": EXTRA_WHAT, "credits": [list(c) for c in EXTRA_CREDITS]}, sources)


def _nature_sources(tilesets: Path):
    """(name, family, origin, loader) for every MegaGlest tileset sound :func:`build_nature_bank`
    takes: ``<tileset>/sounds/*`` but :data:`NATURE_SKIP`, symbolic links (tilesets share files)
    and byte-identical copies (the first, in path order, is kept)."""
    import hashlib

    found, seen = [], set()
    if not tilesets.is_dir():
        return found
    for p in sorted(tilesets.glob("*/sounds/*")):
        tileset = p.parent.parent.name
        if p.is_symlink() or not p.is_file() or p.suffix.lower() not in (".wav", ".ogg") or tileset in NATURE_SKIP:
            continue
        digest = hashlib.sha1(p.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        found.append((f"megaglest__{tileset}__{p.stem}", f"megaglest:{tileset}_{_family(p.stem)}",
                      f"megaglest:{p.relative_to(tilesets)}", (lambda q=p: q.read_bytes())))
    return found


def build_nature_bank(out: str | Path, tilesets: str | Path = MEGAGLEST_TILESETS) -> dict:
    """Decode MegaGlest's tileset ambiences (Debian ``megaglest-data``, CC-BY-SA-3.0: forest,
    meadow and desert days and nights with birdsong, insects, frogs and owls, rain, wind, a few
    farm animals; 26 recordings, 12.7 min once copies are dropped, see :func:`_nature_sources`) into a
    third, train-only bank ``out/train/*.flac``, like :func:`build_extra_bank` (mono, 16 kHz,
    DC removed, peak <= 0.99; shorter than :data:`EXTRA_MIN_SECONDS` or silent left out).
    Existing files are kept; writes are atomic. Returns the info dict.

    Raises ``FileNotFoundError`` naming the package when it is not installed, ``ValueError``
    when ``out`` holds another bank or corpus.
    Chapter: 05_complex_mapping.
    """
    out = Path(out)
    _refuse_other(out, NATURE_WHAT)
    sources = _nature_sources(Path(tilesets))
    if not sources:
        raise FileNotFoundError(f"no MegaGlest tileset sounds under {tilesets}: install them with "
                                "`apt-get install megaglest-data` (240 MB)")
    return _write_train_bank(out, {"what": NATURE_WHAT, "credits": [list(NATURE_CREDIT)]}, sources)


def _refuse_other(out: Path, what: str) -> None:
    """``ValueError`` when ``out/info.json`` is not a bank of this kind (another bank or a corpus)."""
    if (out / "info.json").exists() and json.loads((out / "info.json").read_text()).get("what") != what:
        raise ValueError(f"{out} holds another bank or corpus (its info.json is not this bank's); "
                         "choose another --out")


def _write_train_bank(out: Path, info: dict, sources) -> dict:
    """Decode ``sources`` ((name, family, origin, loader) rows) into ``out/train/<name>.flac``
    and write ``out/info.json`` (``info`` plus files, skipped and the train summary)."""
    import soundfile as sf

    info = {**info, "files": {}, "skipped": {}}
    for name, fam, origin, load in sources:
        rel = Path("train") / f"{name}.flac"
        dst = out / rel
        if not dst.exists():
            try:
                x, sr = sf.read(io.BytesIO(load()), dtype="float64", always_2d=True)
            except Exception as e:  # noqa: BLE001 - a recording libsndfile cannot read is skipped, with why
                info["skipped"][origin] = f"unreadable: {type(e).__name__}"
                continue
            x = _clean_noise(x, sr)
            if len(x) < EXTRA_MIN_SECONDS * SAMPLE_RATE or float(np.sqrt(np.mean(x ** 2))) < 1e-4:
                info["skipped"][origin] = "shorter than 1 s or silent"
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(dst) as tmp:
                sf.write(str(tmp), x.astype(np.float32), SAMPLE_RATE, format="FLAC")
        info["files"][str(rel)] = {"split": "train", "family": fam, "origin": origin,
                                   "seconds": round(audio.info(dst).duration, 2)}
    info["train"] = _summary(info["files"], "train")
    with atomic_output(out / "info.json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1) + "\n")
    return info


def bank_files(bank: str | Path, split: str = "train") -> list[Path]:
    """The noise files of one split of a bank built by :func:`build_bank`.

    Raises ``FileNotFoundError`` with the command to build it.
    Chapter: 05_complex_mapping."""
    folder = Path(bank) / split
    files = sorted(folder.glob("*.flac"))
    if not files:
        raise FileNotFoundError(f"no noise bank at {folder}: build it with "
                                f"`python -m sedemo.data noise-bank --out {bank}`")
    return files


def load_bank(bank: str | Path, split: str = "train") -> list[np.ndarray]:
    """The bank's noise signals (float32 (L,) at 16 kHz), one per file, for training.
    Chapter: 05_complex_mapping."""
    return [audio.load(p, sample_rate=SAMPLE_RATE).astype(np.float32) for p in bank_files(bank, split)]


def build_valid_set(bank: str | Path, corpus, out: str | Path, per_cell: int = 4, seed: int = 0) -> Path:
    """Mix the corpus's validation speech with the bank's ``valid/`` noise into a
    corpus-format folder ``out`` (``manifest.csv``, ``info.json``, ``valid/*.flac``):
    for every held-out family and every SNR of :data:`VALID_SNRS`, ``per_cell`` mixtures
    (clean speech: the clean side of validation items of ``corpus`` in a random order,
    repeated only when the cells outnumber the items; ``corpus`` is a
    :class:`sedemo.data.corpus.Corpus`; noise: a random crop; the corpus's own mixing,
    :func:`sedemo.data.build.make_mixture`, speech at -26 dBFS). Deterministic in ``seed``.
    Only the ``valid`` split exists: it is for choosing models, never for reporting.
    Returns ``out``.
    Chapter: 05_complex_mapping.
    """
    import soundfile as sf

    from sedemo.data.build import make_mixture

    out = Path(out)
    if (out / "info.json").exists() and not json.loads((out / "info.json").read_text()).get("config", {}).get("bank"):
        raise ValueError(f"{out} holds another corpus (its info.json is not a noise-bank validation set); "
                         "choose another --valid-out")
    rng = np.random.default_rng(seed)
    items = corpus.items("valid")
    if not items:
        raise ValueError(f"the corpus at {corpus.root} has no validation split; build it first")
    by_family: dict[str, list[Path]] = {}
    for p in bank_files(bank, "valid"):
        by_family.setdefault(family(p.name.split("__")[-1]), []).append(p)
    order = rng.permutation(len(items))
    rows, k = [], 0
    for fam in sorted(by_family):
        noises = [audio.load(p, sample_rate=SAMPLE_RATE) for p in by_family[fam]]
        for snr in VALID_SNRS:
            for _ in range(per_cell):
                item = items[int(order[k % len(order)])]
                k += 1
                j = int(rng.integers(len(noises)))
                clean, noisy = make_mixture(item.load()[0].astype(np.float64), noises[j], snr, rng)
                mix_id = f"valid{len(rows):04d}"
                rel_c, rel_n = Path("valid") / f"{mix_id}_clean.flac", Path("valid") / f"{mix_id}_noisy.flac"
                for rel, x in ((rel_c, clean), (rel_n, noisy)):
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    with atomic_output(out / rel) as tmp:
                        sf.write(str(tmp), x, SAMPLE_RATE, format="FLAC")
                rows.append({"split": "valid", "id": mix_id, "clean": str(rel_c), "noisy": str(rel_n),
                             "speaker": item.speaker, "noise_type": fam,
                             "noise_source": f"0ad:{by_family[fam][j].name}", "snr_db": f"{snr:.3f}",
                             "seconds": f"{len(clean) / SAMPLE_RATE:.3f}"})
    with atomic_output(out / "manifest.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    info = {"version": CORPUS_VERSION, "source": "debian", "sample_rate": SAMPLE_RATE,
            "what": "validation speech of the corpus in held-out 0 A.D. ambient noise (model choice only)",
            "config": {"corpus": str(corpus.root), "bank": str(bank), "snrs": list(VALID_SNRS),
                       "per_cell": per_cell, "seed": seed, "families": sorted(by_family)},
            "credits": [list(CREDIT)]}
    with atomic_output(out / "info.json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1) + "\n")
    return out
