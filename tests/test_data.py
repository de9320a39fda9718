"""Tests of sedemo.data: determinism, speaker- and noise-disjoint splits, exact SNRs."""
from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from sedemo.dsp import audio
from sedemo import data
from sedemo.data.sources import _family

TINY = data.CorpusConfig(n_train=6, n_valid=3, n_test_per_cell=1, synthetic_utterances_per_speaker=4)


@pytest.fixture
def synthetic_corpus(tiny_corpus):
    assert tiny_corpus.info["config"]["n_train"] == TINY.n_train  # same parameters as TINY
    return tiny_corpus


def _measured_snr(item):
    clean, noisy = item.load()
    clean, noisy = clean.astype(np.float64), noisy.astype(np.float64)
    speech_db, _ = audio.active_level(clean, data.SAMPLE_RATE)
    noise_db = 10 * np.log10(np.mean((noisy - clean) ** 2))
    return speech_db - noise_db


def test_synthetic_noise_levels_and_colours():
    for kind in data.SYNTHETIC_NOISES:
        x = data.synthetic_noise(kind, 2.0, seed=3)
        assert x.dtype == np.float32 and len(x) == 32000
        assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(0.1, rel=1e-4)
    # pink noise: power falls ~3 dB per octave; compare 500-1000 Hz with 2-4 kHz bands
    x = data.synthetic_noise("pink", 8.0, seed=1).astype(np.float64)
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    low = p[(f >= 500) & (f < 1000)].mean()
    high = p[(f >= 2000) & (f < 4000)].mean()
    assert 10 * np.log10(low / high) == pytest.approx(10 * np.log10(4), abs=1.0)
    with pytest.raises(ValueError, match="unknown synthetic noise"):
        data.synthetic_noise("purple", 1.0, seed=0)


def test_noise_family_split_is_deterministic_and_disjoint():
    fams = {"traffic": [f"T{i}" for i in range(7)], "crowd": [f"C{i}" for i in range(4)]}
    a = data.split_noise_families(fams)
    assert a == data.split_noise_families(fams)
    for ntype, names in fams.items():
        splits = {a[n] for n in names}
        assert splits == {"train", "valid", "test"}
    assert _family("TraficHigh2") == _family("TraficHigh3") == "TraficHigh"
    assert _family("carts_cart_moving.1") == "carts_cart_moving"


def test_synthetic_corpus_splits_and_exact_snr(synthetic_corpus):
    c = synthetic_corpus
    assert c.source == "synthetic" and "SYNTHETIC" in c.describe()
    speakers = {s: set(c.speakers(s)) for s in data.SPLITS}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["valid"])
    noises = {s: set(c.noise_sources(s)) for s in data.SPLITS}
    assert not (noises["train"] & noises["test"])
    assert len(c.items("train")) == 6 and len(c.items("valid")) == 3
    # test split is the full grid: noise types x SNRs x n_test_per_cell
    test = c.items("test")
    assert len(test) == len({it.noise_type for it in test}) * len(TINY.test_snrs)
    assert sorted({it.snr_db for it in test}) == sorted(TINY.test_snrs)
    for item in test[:4] + c.items("train")[:3]:
        assert _measured_snr(item) == pytest.approx(item.snr_db, abs=0.05)
        clean, noisy = item.load()
        assert np.abs(noisy).max() <= 1.0 and len(clean) == len(noisy)


def test_build_is_deterministic(synthetic_corpus, tmp_path):
    """Mixing is deterministic given the speech pool (espeak-ng speech and babble are not bit-exact
    from run to run, so the synthesised pool is reused; the Debian pool is decoded
    deterministically)."""
    import shutil

    for pool in ("speech", "noise"):  # an unfinished build of the same corpus (its pools and its list)
        shutil.copytree(synthetic_corpus.root / pool, tmp_path / pool)
    shutil.copy(synthetic_corpus.root / data.sources.FILES_NAME, tmp_path)
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        again = data.build(tmp_path, source="synthetic", config=TINY, progress=False)

    def digest(corpus):
        h = hashlib.sha256()
        for it in corpus.items():
            h.update(it.id.encode() + it.noisy_path.read_bytes())
        return h.hexdigest()

    assert digest(again) == digest(synthetic_corpus)
    # reusing an existing corpus with the same parameters does not rebuild it
    assert data.build(tmp_path, source="synthetic", config=TINY, progress=False).root == tmp_path
    with pytest.raises(FileExistsError, match="different corpus"):
        data.build(tmp_path, source="synthetic", config=data.CorpusConfig(n_train=1), progress=False)
    assert (tmp_path / "info.json").exists() and len(data.load_corpus(tmp_path)) == len(synthetic_corpus)


@pytest.mark.parametrize("field, value", [("n_train", -5), ("n_valid", 0), ("n_test_per_cell", 0), ("seed", -1),
                                          ("n_train", 2.5), ("n_train", True), ("test_snrs", ()),
                                          ("train_snr_range", (5.0, -5.0)), ("test_snrs", (0.0, float("inf"))),
                                          ("speech_level_db", float("nan")), ("min_seconds", 0.0)])
def test_corpus_config_refuses_values_out_of_range(field, value):
    with pytest.raises(ValueError, match=f"CorpusConfig.{field}|min_seconds"):
        data.CorpusConfig(**{field: value})


def test_missing_corpus_says_how_to_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        data.load_corpus(tmp_path / "nothing")
    with pytest.raises(ValueError, match="unknown source"):
        data.build(tmp_path, source="youtube")


def test_folder_corpus(tmp_path, speech, noise):
    for sub in ("clean", "noisy"):
        (tmp_path / sub).mkdir()
    audio.save(tmp_path / "clean" / "a.wav", speech, 16000)
    audio.save(tmp_path / "noisy" / "a.wav", 0.5 * (speech + noise), 16000)
    corpus = data.FolderCorpus(tmp_path)
    (item,) = corpus.items("test")
    clean, noisy = item.load()
    assert clean.shape == noisy.shape == speech.shape
    audio.save(tmp_path / "clean" / "b.wav", speech, 16000)
    with pytest.raises(ValueError, match="no partner"):
        data.FolderCorpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="no clean/noisy pairs"):
        data.FolderCorpus(tmp_path / "clean")


# sha256 of the book corpus's mixing plan for a fixed fake pool, computed with the code
# committed before the extended voices existed (f646bbc): voices="book" must plan the same
# mixtures, from the same speech and noise, at the same SNRs, with the same random streams
BOOK_PLAN_SHA256 = "5e26884f161dd2f8ae96b23248be484449f7cc08fdf480f381f36bbdf67be094"


def test_book_corpus_plan_and_parameters_are_unchanged():
    import importlib
    import json
    from pathlib import Path

    build_mod = importlib.import_module("sedemo.data.build")
    cfg = data.CorpusConfig()
    assert cfg.voices == "book" and data.CorpusConfig(voices="book") == cfg
    speech = [(spk, Path(f"/pool/speech/{spk}/p{i:03d}.flac")) for spk in data.SPEAKERS for i in range(37)]
    noise = [(split, t, f"src:{t}{j}-{split}", Path(f"/pool/noise/{split}/{t}{j}.flac"))
             for split in data.SPLITS for t in data.NOISE_TYPES for j in range(3)]
    h = hashlib.sha256()
    for split in data.SPLITS:
        for mix_id, (spk, sp), (ns, nt, nsrc, npth), snr, rng in build_mod._plan(split, cfg, speech, noise, "debian"):
            h.update(json.dumps([mix_id, spk, str(sp), ns, nt, nsrc, str(npth), round(snr, 9),
                                 str(rng.bit_generator.state)]).encode())
    assert h.hexdigest() == BOOK_PLAN_SHA256
    # the parameters a book corpus is recognised by are those it was built with before
    # the voices option existed: an existing corpus is reused, not rebuilt
    assert build_mod._config_dict(cfg) == {
        "n_train": 800, "n_valid": 100, "n_test_per_cell": 6, "train_snr_range": [-5.0, 15.0],
        "valid_snr_range": [-5.0, 15.0], "test_snrs": [-5.0, 0.0, 5.0, 10.0], "speech_level_db": -26.0,
        "min_seconds": 2.0, "max_seconds": 8.0, "synthetic_utterances_per_speaker": 90, "seed": 0}
    assert build_mod._config_dict(data.CorpusConfig(voices="extended"))["voices"] == "extended"


@pytest.mark.corpus
def test_built_book_corpus_is_planned_as_before():
    """The book's Debian corpus (``make data``): planning it again from its own pools gives
    exactly its manifest (the voices option changed nothing for it). Reads the pools only."""
    import importlib

    try:
        c = data.load_corpus()
    except FileNotFoundError:
        pytest.skip("corpus not built (make data)")
    if c.source != "debian" or "voices" in c.info["config"] or not data.debian_sources_present():
        pytest.skip("needs the book's Debian corpus and its packages")
    cfg = data.CorpusConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.info["config"].items()})
    sources = importlib.import_module("sedemo.data.sources")
    build_mod = importlib.import_module("sedemo.data.build")
    before = sorted(p for p in c.root.rglob("*") if p.is_file())
    speech, noise = sources._build_debian_pools(c.root, cfg, False, None)
    assert sorted(p for p in c.root.rglob("*") if p.is_file()) == before  # nothing written
    with open(c.root / "manifest.csv") as fh:
        rows = [(r["id"], r["speaker"], r["speech_file"], r["noise_source"], r["snr_db"]) for r in csv.DictReader(fh)]
    planned = [(mix_id, spk, str(sp.relative_to(c.root)), nsrc, f"{snr:.3f}")
               for split in data.SPLITS
               for mix_id, (spk, sp), (_, _, nsrc, _), snr, _ in build_mod._plan(split, cfg, speech, noise, "debian")]
    assert planned == rows


@pytest.mark.corpus
def test_built_corpus_is_speaker_and_noise_disjoint():
    """The corpus the book uses (``make data``): checks its real splits."""
    try:
        c = data.load_corpus()
    except FileNotFoundError:
        pytest.skip("corpus not built (make data)")
    if c.source == "debian":
        assert c.speakers("test") == ["fr_CA_f_June"]
        assert set(c.speakers("train")) == {"en_US_f_Allison", "it_IT_m_Carlo"}
    fam = {s: {_family(n.split(":")[-1].rsplit(".", 1)[0]) for n in c.noise_sources(s)} for s in data.SPLITS}
    assert not (fam["train"] & fam["test"]) and not (fam["train"] & fam["valid"])
    with open(c.root / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(c)
    assert not any("/silence__" in r["speech_file"] or "silence/" in r["speech_file"] for r in rows)
    for item in c.items("test")[::25]:
        assert _measured_snr(item) == pytest.approx(item.snr_db, abs=0.05)
    for item in c.items("test")[::7]:  # every clean target is speech at the corpus level,
        clean, noisy = item.load()    # or lower only where the pair was scaled down not to clip
        level, activity = audio.active_level(clean.astype(np.float64), data.SAMPLE_RATE)
        assert activity > data.MIN_SPEECH_ACTIVITY and level < -25.9
        if level < -26.1:
            assert max(np.abs(noisy).max(), np.abs(clean).max()) == pytest.approx(0.99, abs=2e-4)
