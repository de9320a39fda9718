"""The 0 A.D. noise bank (sedemo.data.noise_bank) and the training rows that draw from it."""
import csv
import io
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf

from sedemo import train as T
from sedemo.data import noise_bank as NB
from sedemo.data.corpus import load_corpus
from sedemo.data.build import main as data_main

SR = 16000


def _ogg(x: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="OGG", subtype="VORBIS")
    return buf.getvalue()


@pytest.fixture
def fake_zip(tmp_path):
    """A public.zip with five ambient files: two families that train, two held out
    (day_tropical, river_med), a stereo 44.1-kHz file and one file outside audio/ambient."""
    rng = np.random.default_rng(0)
    path = tmp_path / "public.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, sr, ch in [("audio/ambient/weather/rain_11.ogg", 44100, 2),
                             ("audio/ambient/building/amb_farm_10.ogg", 48000, 1),
                             ("audio/ambient/building/amb_farm_11.ogg", 48000, 1),
                             ("audio/ambient/dayscape/day_tropical_10.ogg", 44100, 2),
                             ("audio/ambient/water/river_med_21.ogg", 44100, 1)]:
            x = 0.3 * rng.standard_normal((sr * 2, ch)).astype(np.float32)
            zf.writestr(name, _ogg(x if ch > 1 else x[:, 0], sr))
        zf.writestr("audio/music/theme.ogg", _ogg(np.zeros(4410, np.float32), 44100))
    return path


def test_family_drops_the_take_number():
    assert NB.family("river_med_21.ogg") == "river_med"
    assert NB.family("day_temperate_gen_01.ogg") == "day_temperate_gen"
    assert NB.family("weather__rain_11.flac") == "weather__rain"


def test_build_bank_splits_by_family_at_16_khz(fake_zip, tmp_path):
    info = NB.build_bank(tmp_path / "bank", fake_zip)
    train = NB.bank_files(tmp_path / "bank", "train")
    valid = NB.bank_files(tmp_path / "bank", "valid")
    assert [p.name for p in train] == ["building__amb_farm_10.flac", "building__amb_farm_11.flac",
                                       "weather__rain_11.flac"]
    assert [p.name for p in valid] == ["dayscape__day_tropical_10.flac", "water__river_med_21.flac"]
    assert not set(info["train"]["families"]) & set(info["valid"]["families"])
    assert info["train"]["files"] == 3 and info["valid"]["files"] == 2
    for p in train + valid:
        x, sr = sf.read(p)
        assert sr == SR and x.ndim == 1 and abs(len(x) - 2 * SR) <= 2
        assert np.abs(x).max() <= 0.99 + 1e-3 and abs(x.mean()) < 1e-3
    assert json.loads((tmp_path / "bank" / "info.json").read_text())["credit"][2] == "CC-BY-SA-3.0"
    pool = NB.load_bank(tmp_path / "bank")
    assert len(pool) == 3 and all(x.dtype == np.float32 for x in pool)
    # a rerun keeps what is there (no file rewritten)
    before = {p: p.stat().st_mtime_ns for p in train}
    NB.build_bank(tmp_path / "bank", fake_zip)
    assert {p: p.stat().st_mtime_ns for p in train} == before


def test_missing_zip_and_missing_bank_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install 0ad-data"):
        NB.build_bank(tmp_path / "bank", tmp_path / "nope.zip")
    with pytest.raises(FileNotFoundError, match="sedemo.data noise-bank"):
        NB.bank_files(tmp_path / "nothing")


def test_valid_set_mixes_validation_speech_with_held_out_noise(fake_zip, tmp_path, tiny_corpus):
    NB.build_bank(tmp_path / "bank", fake_zip)
    out = NB.build_valid_set(tmp_path / "bank", tiny_corpus, tmp_path / "vset", per_cell=2, seed=1)
    corpus = load_corpus(out)
    items = corpus.items("valid")
    assert len(items) == 2 * 3 * 2 and not corpus.items("train") and not corpus.items("test")
    assert {it.noise_type for it in items} == {"day_tropical", "river_med"}
    assert sorted({it.snr_db for it in items}) == list(NB.VALID_SNRS)
    assert {it.speaker for it in items} <= set(tiny_corpus.speakers("valid"))
    from sedemo.dsp import audio

    for it in items[:4]:
        clean, noisy = it.load()
        speech_db, _ = audio.active_level(clean.astype(np.float64), SR)
        noise_db = float(audio.rms_db((noisy - clean).astype(np.float64)))
        assert speech_db - noise_db == pytest.approx(it.snr_db, abs=0.1)
    with open(out / "manifest.csv") as fh:
        assert all(r["noise_source"].startswith("0ad:") for r in csv.DictReader(fh))
    # deterministic in the seed
    again = NB.build_valid_set(tmp_path / "bank", tiny_corpus, tmp_path / "vset2", per_cell=2, seed=1)
    assert (out / "manifest.csv").read_text().replace("vset", "") == (again / "manifest.csv").read_text().replace("vset2", "")


def test_valid_set_refuses_another_corpus_and_bank_refuses_stale_files(fake_zip, tmp_path, tiny_corpus):
    NB.build_bank(tmp_path / "bank", fake_zip)
    before = (tiny_corpus.root / "manifest.csv").read_bytes()
    with pytest.raises(ValueError, match="another --valid-out"):
        NB.build_valid_set(tmp_path / "bank", tiny_corpus, tiny_corpus.root)
    assert (tiny_corpus.root / "manifest.csv").read_bytes() == before
    sf.write(tmp_path / "bank" / "train" / "dayscape__day_tropical_99.flac", np.zeros(SR, np.float32), SR)
    with pytest.raises(ValueError, match="new folder"):
        NB.build_bank(tmp_path / "bank", fake_zip)


def test_cli_noise_bank(fake_zip, tmp_path, tiny_corpus, capsys):
    data_main(["noise-bank", "--out", str(tmp_path / "b"), "--zip", str(fake_zip),
               "--corpus", str(tiny_corpus.root), "--valid-out", str(tmp_path / "v")])
    printed = capsys.readouterr().out
    assert "train: 3 files" in printed and "valid: 2 files" in printed
    assert (tmp_path / "v" / "manifest.csv").exists()


def test_sample_batch_draws_noise_from_the_pool():
    """With a pool and noise_pool_p=1 every row's noise is a crop of a pool signal; the
    default (no pool) draws exactly what it drew before."""
    rng0 = np.random.default_rng(0)
    clean = [(0.1 * rng0.standard_normal(SR)).astype(np.float32) for _ in range(3)]
    pairs = [(c, c + np.float32(0.01) * rng0.standard_normal(SR).astype(np.float32)) for c in clean]
    pool = [np.arange(2 * SR, dtype=np.float32) / (2 * SR)]  # a ramp: a crop is recognisable
    c, n = T.sample_batch(pairs, np.random.default_rng(1), 4, 800, dynamic_mix=True,
                          noise_pool=pool, noise_pool_p=1.0, snr_range=(5, 5))
    for row in (n - c):
        ramp = np.arange(len(row), dtype=np.float64)
        assert np.corrcoef(row, ramp)[0, 1] > 0.999  # a scaled ramp, not the items' noise
    a = T.sample_batch(pairs, np.random.default_rng(2), 4, 800, dynamic_mix=True)
    b = T.sample_batch(pairs, np.random.default_rng(2), 4, 800, dynamic_mix=True, noise_pool=None)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_noise_bank_needs_dynamic_mixing():
    with pytest.raises(ValueError, match="--dynamic-mix"):
        T.TrainConfig(model="ulcrn", noise_bank="data/noise-bank")
    with pytest.raises(ValueError, match="--snr-range"):
        T.TrainConfig(model="ulcrn", dynamic_mix=True, noise_bank="x")
    with pytest.raises(ValueError, match="noise_bank_p"):
        T.TrainConfig(model="ulcrn", dynamic_mix=True, noise_bank="x", noise_bank_p=1.5, snr_range=(-5, 20))
    with pytest.raises(ValueError, match="add --noise-bank DIR"):  # a share of no bank is a mistake, said so
        T.TrainConfig(model="ulcrn", dynamic_mix=True, noise_bank_p=0.8, snr_range=(-5, 20))
    T.TrainConfig(model="ulcrn", dynamic_mix=True, noise_bank_p=0.0)  # 0 is off, with or without a bank
    cmd = T.TrainConfig(model="ulcrn", dynamic_mix=True, noise_bank="data/noise-bank", snr_range=(-5, 20)).command()
    assert "--noise-bank data/noise-bank" in cmd and "--noise-bank-p" not in cmd


def _wav(x: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV")
    return buf.getvalue()


def test_extra_bank_takes_the_picked_gcompris_and_scratch_recordings(tmp_path, fake_zip):
    """GCompris sounds come out of a .rcc file, Scratch sounds from their folder; voices,
    unpicked and too-short recordings stay out; everything ends at 16 kHz mono."""
    from tests.test_qt_resources import write_rcc

    rng = np.random.default_rng(0)
    noise = lambda sr, s, ch=1: 0.2 * rng.standard_normal((int(sr * s), ch)).squeeze()  # noqa: E731
    rcc_dir = tmp_path / "rcc"
    rcc_dir.mkdir()
    write_rcc(rcc_dir / "memory-sound.rcc", {
        "resource/LRRain_in_garden_01_LA_cut.ogg": _ogg(noise(44100, 2.0, 2).astype(np.float32), 44100),
        "resource/LRFactory_noise_01_LA.ogg": _ogg(noise(44100, 0.5).astype(np.float32), 44100),  # < 1 s
        "resource/LRWeird_1_LA.ogg": _ogg(noise(44100, 2.0).astype(np.float32), 44100)},  # not picked
        compress={"resource/LRWeird_1_LA.ogg"})
    sounds = tmp_path / "Sounds"
    for rel, sr in [("Effects/CarPassing.wav", 11025), ("Music Loops/Garden.wav", 22050),
                    ("Music Loops/HumanBeatbox1.wav", 22050), ("Human/Laugh-male1.wav", 11025)]:
        (sounds / rel).parent.mkdir(parents=True, exist_ok=True)
        (sounds / rel).write_bytes(_wav(noise(sr, 1.5), sr))
    info = NB.build_extra_bank(tmp_path / "extra", rcc_dir, sounds)
    names = [p.name for p in NB.bank_files(tmp_path / "extra")]
    assert names == ["gcompris__LRRain_in_garden_01_LA_cut.flac", "scratch__CarPassing.flac", "scratch__Garden.flac"]
    assert list(info["skipped"].values()) == ["shorter than 1 s or silent"]
    assert info["train"]["families"] == ["gcompris:LRRain_in_garden_01_LA_cut", "scratch:CarPassing",
                                         "scratch:Garden"]
    for p in NB.bank_files(tmp_path / "extra"):
        x, sr = sf.read(p)
        assert sr == SR and x.ndim == 1 and np.abs(x).max() <= 0.99 + 1e-3
    assert {c[2] for c in info["credits"]} == {"GPL-3+", "CC-BY-SA-3.0"}
    NB.build_bank(tmp_path / "zbank", fake_zip)
    before = (tmp_path / "zbank" / "info.json").read_bytes()
    with pytest.raises(ValueError, match="another --out"):  # the 0 A.D. bank's folder is not written over
        NB.build_extra_bank(tmp_path / "zbank", rcc_dir, sounds)
    assert (tmp_path / "zbank" / "info.json").read_bytes() == before
    assert NB.build_extra_bank(tmp_path / "extra", rcc_dir, sounds)["train"]["files"] == 3  # a rerun is fine
    with pytest.raises(FileNotFoundError, match="apt-get install gcompris-qt-data scratch"):
        NB.build_extra_bank(tmp_path / "e2", tmp_path / "none", tmp_path / "none")


def test_a_pool_of_banks_gives_each_bank_an_equal_share():
    rng0 = np.random.default_rng(0)
    clean = [(0.1 * rng0.standard_normal(SR)).astype(np.float32) for _ in range(2)]
    pairs = [(c, c.copy()) for c in clean]
    big = [np.full(SR, 0.5, np.float32) for _ in range(9)]  # a bank of nine constant signals
    small = [np.linspace(-1, 1, SR).astype(np.float32)]     # a bank of one ramp
    c, n = T.sample_batch(pairs, np.random.default_rng(3), 400, 200, dynamic_mix=True,
                          noise_pool=[big, small], noise_pool_p=1.0, snr_range=(0, 0))
    ramps = sum(float(np.std(row)) > 1e-6 for row in (n - c))
    assert 150 < ramps < 250  # about half, not a tenth


def test_cli_takes_several_banks(tmp_path):
    from sedemo.train.cli import _config

    cfg = _config(["--model", "ulcrn", "--dynamic-mix", "--snr-range", "-5", "20",
                   "--noise-bank", "a", "b", "--noise-bank-p", "0.8"])
    assert cfg.noise_bank == "a,b" and cfg.noise_bank_p == 0.8


def test_nature_bank_takes_tileset_sounds_once(tmp_path, fake_zip, capsys):
    """MegaGlest tileset sounds: symbolic links and byte-identical copies are taken once, the
    "hell" tileset and too-short sounds stay out, everything ends at 16 kHz mono; the folder of
    another bank is refused and a missing package is named."""
    rng = np.random.default_rng(1)
    tiles = tmp_path / "tilesets"
    day = _ogg((0.2 * rng.standard_normal((44100 * 2, 2))).astype(np.float32), 44100)
    files = {"forest/sounds/day.ogg": day, "meadow/sounds/day.ogg": day,  # a copy
             "forest/sounds/owl.wav": _wav(0.2 * rng.standard_normal(22050 * 2), 22050),
             "forest/sounds/click.wav": _wav(0.2 * rng.standard_normal(4000), 22050),  # < 1 s
             "hell/sounds/hell.ogg": day[:-1] + b"\0"}
    for rel, data in files.items():
        (tiles / rel).parent.mkdir(parents=True, exist_ok=True)
        (tiles / rel).write_bytes(data)
    (tiles / "jungle" / "sounds").mkdir(parents=True)
    (tiles / "jungle" / "sounds" / "day.ogg").symlink_to(tiles / "forest" / "sounds" / "day.ogg")
    info = NB.build_nature_bank(tmp_path / "nature", tiles)
    assert [p.name for p in NB.bank_files(tmp_path / "nature")] == ["megaglest__forest__day.flac",
                                                                     "megaglest__forest__owl.flac"]
    assert list(info["skipped"]) == ["megaglest:forest/sounds/click.wav"]
    assert info["train"]["families"] == ["megaglest:forest_day", "megaglest:forest_owl"]
    assert info["credits"] == [list(NB.NATURE_CREDIT)] and info["what"] == NB.NATURE_WHAT
    for p in NB.bank_files(tmp_path / "nature"):
        x, sr = sf.read(p)
        assert sr == SR and x.ndim == 1 and np.abs(x).max() <= 0.99 + 1e-3
    assert NB.build_nature_bank(tmp_path / "nature", tiles)["train"]["files"] == 2  # a rerun is fine
    NB.build_bank(tmp_path / "zbank", fake_zip)
    with pytest.raises(ValueError, match="another --out"):
        NB.build_nature_bank(tmp_path / "zbank", tiles)
    with pytest.raises(FileNotFoundError, match="apt-get install megaglest-data"):
        NB.build_nature_bank(tmp_path / "n2", tmp_path / "none")
    data_main(["noise-bank-nature", "--out", str(tmp_path / "cli"), "--tilesets", str(tiles)])
    assert "train: 2 files" in capsys.readouterr().out
    assert sorted(p.name for p in NB.bank_files(tmp_path / "cli")) == sorted(
        p.name for p in NB.bank_files(tmp_path / "nature"))
