"""Tests of the extended corpus's further voices (sedemo.data.voices, sedemo.data._formats):
the readers on tiny synthetic files that mimic each package's format, the voice table and
its splits, and a whole extended build on fake packages. No Debian package is needed; the
tests that read the real packages or the built extended corpus skip without them."""
from __future__ import annotations

import csv
import importlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import speech_like
from sedemo import data
from sedemo.data import _formats, voices as V

B = importlib.import_module("sedemo.data.build")  # the module (sedemo.data.build is also a function)
S = importlib.import_module("sedemo.data.sources")

SPLIT_OF = {**{s: v[0] for s, v in data.SPEAKERS.items()}, **{v: row[0] for v, row in V.VOICES.items()}}
SEX_OF = {**{s: v[1] for s, v in data.SPEAKERS.items()}, **{v: row[1] for v, row in V.VOICES.items()}}
LANG_OF = {**{s: v[2] for s, v in data.SPEAKERS.items()}, **{v: row[2] for v, row in V.VOICES.items()}}


def _base_language(lang: str) -> str:
    return lang.split(" (")[0]


def _ffmpeg(args: list[str], raw: np.ndarray, rate: int) -> bytes:
    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "f32le",
                           "-ar", str(rate), "-ac", "1", "-i", "pipe:0", *args, "pipe:1"],
                          input=np.asarray(raw, dtype="<f4").tobytes(), capture_output=True, check=True)
    return proc.stdout


def _mp3(x: np.ndarray, rate: int = 11025) -> bytes:
    return _ffmpeg(["-c:a", "libmp3lame", "-b:a", "16k", "-f", "mp3"], x, rate)


# --------------------------------------------------------------------------- formats
def test_queen_table_and_mp3_entries(tmp_path):
    a = speech_like(1.0, 11025, seed=1)
    b = speech_like(1.5, 11025, seed=2)
    path = _formats.write_queen(tmp_path / "queen.1c", [("JOE00011.SB", _mp3(a)), ("ROOM1.PCX", b"\x00" * 10),
                                                         ("020006P1.SB", _mp3(b))])
    version, compression, entries = _formats.read_queen_table(path)
    assert version == "CEM10" and compression == _formats.QUEEN_MP3
    assert [e[0] for e in entries] == ["JOE00011.SB", "ROOM1.PCX", "020006P1.SB"]
    name, offset, size = entries[2]
    x, sr = _formats.decode_mp3(_formats.read_entry(path, offset, size), name)
    assert sr == 11025 and x.dtype == np.float32
    assert 1.5 * sr <= len(x) <= 1.5 * sr + 2500  # an MP3 adds encoder delay and padding
    assert np.corrcoef(np.abs(np.fft.rfft(x[:11025])), np.abs(np.fft.rfft(b[:11025])))[0, 1] > 0.5
    (tmp_path / "bad.1c").write_bytes(b"NOPE" + bytes(20))
    with pytest.raises(ValueError, match="QTBL"):
        _formats.read_queen_table(tmp_path / "bad.1c")
    (tmp_path / "cut.1c").write_bytes(path.read_bytes()[:30])
    with pytest.raises(ValueError, match="past the end|outside"):
        _formats.read_queen_table(tmp_path / "cut.1c")


def test_drascula_als_round_trip():
    x = 0.5 * np.sin(2 * np.pi * 300 * np.arange(11025) / 11025)
    raw = _formats.encode_als(x)
    assert len(raw) == 11025 + 64 and raw[:32] == bytes([128]) * 32
    y, sr = _formats.decode_als(raw)
    assert sr == 11025 and len(y) == 11025 and np.abs(y - x).max() <= 1 / 128


def test_pack_joins_short_clips_and_skips_long_ones():
    sr = 1000
    clips = [(f"c{i}", np.ones(int(sr * d))) for i, d in enumerate([0.5, 0.7, 9.0, 0.6, 3.0, 0.4, 0.5, 0.3])]
    out = list(V._pack(clips, 2.0, 8.0, sr, seed=3))
    again = list(V._pack(clips, 2.0, 8.0, sr, seed=3))  # deterministic
    assert [n for n, _ in again] == [n for n, _ in out] and all(np.array_equal(a, b) for (_, a), (_, b) in zip(again, out))
    used = [n for names, _ in out for n in names]
    assert "c2" not in used and len(used) == len(set(used))  # the 9-s clip is skipped; no clip twice
    for names, y in out:
        assert 2.0 <= len(y) / sr <= 8.0 and y.dtype == np.float32
        gaps = int(V.GAP_SECONDS * sr) * (len(names) - 1)
        assert len(y) == gaps + sum(len(dict(clips)[n]) for n in names)


def test_trim_and_level():
    sr = 16000
    x = np.concatenate([np.zeros(sr), speech_like(1.0, sr), np.zeros(sr)])
    y = V._trim_and_level(x, sr)
    assert 1.0 * sr <= len(y) <= 1.2 * sr
    assert 20 * np.log10(np.sqrt(np.mean(y**2))) == pytest.approx(V.CLIP_RMS_DB, abs=0.01)
    assert V._trim_and_level(np.zeros(sr), sr) is None


# --------------------------------------------------------------------------- the voice table
def test_every_voice_is_in_one_split_and_described():
    assert not set(V.VOICES) & set(data.SPEAKERS)
    for voice, (split, sex, lang, source, sel, rate, who) in V.VOICES.items():
        assert split in data.SPLITS and source in V.VOICE_SOURCES and who
        assert sex in ("male", "female", "mixed", "unknown") and rate >= V.MIN_NATIVE_RATE
        assert voice.split("_")[1] == {"male": "m", "female": "f"}.get(sex, "x"), voice
    # the Asterisk speakers keep their splits
    assert {s: v[0] for s, v in data.SPEAKERS.items()} == {
        "en_US_f_Allison": "train", "it_IT_m_Carlo": "train", "ru_RU_f_IvrvoiceRU": "valid", "fr_CA_f_June": "test"}


def test_speaker_facts_reads_both_tables_and_refuses_unknown_names():
    assert data.speaker_facts("it_IT_m_Carlo") == ("male", "Italian")
    assert data.speaker_facts("fr_CA_f_June") == ("female", "French (Canada)")
    for voice, row in V.VOICES.items():  # every extended voice, from its table row
        sex, lang = data.speaker_facts(voice)
        assert (sex, lang) == (row[1], row[2])
    with pytest.raises(ValueError, match="unknown speaker 'nobody'"):
        data.speaker_facts("nobody")


def test_splits_are_by_speaker_and_language():
    split_voices = {s: {v for v, sp in SPLIT_OF.items() if sp == s} for s in data.SPLITS}
    langs = {s: {_base_language(LANG_OF[v]) for v in vs} for s, vs in split_voices.items()}
    test, valid = split_voices["test"], split_voices["valid"]
    assert len(test) >= 4 and {"male", "female"} <= {SEX_OF[v] for v in test}
    assert len(valid) >= 4 and {"male", "female"} <= {SEX_OF[v] for v in valid}
    assert langs["test"] - langs["train"] >= {"Mandarin"}  # languages never heard in training
    assert not langs["test"] & langs["valid"]
    # the volunteers' languages (Tux Paint, KDE, gcin): one language, one split
    volunteer = {v: _base_language(row[2]) for v, row in V.VOICES.items()
                 if row[3] in ("tuxpaint", "gcin", "klettres", "ktuberling")}
    for lang in set(volunteer.values()):
        assert len({SPLIT_OF[v] for v, lg in volunteer.items() if lg == lang}) == 1, lang
    # the coarse game voices of one game stay in one split
    for source in ("queen", "drascula"):
        assert len({row[0] for row in V.VOICES.values() if row[3] == source}) == 1


def test_extended_plan_draws_by_voice_within_each_split():
    cfg = data.CorpusConfig(voices="extended", n_train=400, n_valid=50)
    speech = [(v, Path(f"/pool/{v}/u{i:05d}.flac")) for v in SPLIT_OF for i in range(1 + 40 * (v == "en_x_QueenCast"))]
    noise = [(s, t, f"x:{t}-{s}", Path(f"/n/{s}{t}.flac")) for s in data.SPLITS for t in ("crowd", "traffic")]
    plans = {s: B._plan(s, cfg, speech, noise, "debian") for s in data.SPLITS}
    again = B._plan("train", cfg, speech, noise, "debian")
    assert [(p[0], p[1], p[2], p[3]) for p in again] == [(p[0], p[1], p[2], p[3]) for p in plans["train"]]
    for split, plan in plans.items():
        assert {p[1][0] for p in plan} <= {v for v, s in SPLIT_OF.items() if s == split}
        assert {p[2][0] for p in plan} == {split}
    train_voices = [p[1][0] for p in plans["train"]]
    # a voice with 41 utterances is not drawn 41 times as often as one with 1
    assert train_voices.count("en_x_QueenCast") < 3 * len(train_voices) / len({v for v in train_voices})
    test_voices = [p[1][0] for p in plans["test"]]
    assert set(test_voices) == {v for v, s in SPLIT_OF.items() if s == "test"}  # the grid visits every voice


# --------------------------------------------------------------------------- fake packages
def _ogg(path: Path, x: np.ndarray, rate: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, rate, format="OGG", subtype="VORBIS")


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Tiny files in each package's layout (Asterisk G.722 prompts, Tux Paint, gcin, KLettres,
    KTuberling, queen.1c, Drascula .ALS), with the module folders pointed at them."""
    root = tmp_path / "usr"
    base = speech_like(9.0, 44100, seed=5)
    clip = [base[i * 30000: i * 30000 + 30000] for i in range(13)]  # 0.68 s each
    for spk in data.SPEAKERS:
        for i in range(2):
            g722 = _ffmpeg(["-c:a", "g722", "-f", "g722"], speech_like(2.5, 16000, seed=10 + i), 16000)
            (root / "asterisk" / spk).mkdir(parents=True, exist_ok=True)
            (root / "asterisk" / spk / f"prompt{i}.g722").write_bytes(g722)
    tux = root / "tuxpaint"
    for i in range(12):
        for lang in ("el", "bg"):
            _ogg(tux / "animals" / f"a{i:02d}_desc_{lang}.ogg", clip[i], 44100)
        _ogg(tux / "symbols" / f"s{i:02d}_desc.ogg", clip[i], 44100)  # English: no language suffix
        for sel in ("3", "5"):
            _ogg(root / "gcin" / f"syll{i:02d}" / f"{sel}.ogg", clip[i][:15000], 44100)
        _ogg(root / "klettres" / "fr" / ("alpha" if i < 6 else "syllab") / f"k{i:02d}.ogg", clip[i], 44100)
        _ogg(root / "ktuberling" / "fr" / f"obj{i:02d}.ogg", clip[i], 44100)
    _ogg(tux / "animals" / "odd_desc_el.ogg.ogg", clip[12], 44100)
    _ogg(tux / "animals" / "frog.ogg", clip[12], 44100)  # a sound effect: not a description
    sf.write(str(root / "ktuberling" / "fr" / "phone.wav"), speech_like(1.0, 8000), 8000)  # 8 kHz: not used
    (root / "ktuberling" / "fr" / "notes.txt").write_text("not audio")
    g11 = [speech_like(2.4, 11025, seed=20 + i) for i in range(4)]
    (root / "queen").mkdir()
    queen = _formats.write_queen(root / "queen" / "queen.1c", [
        ("JOE00011.SB", _mp3(g11[0])), ("020006J1.SB", _mp3(g11[1])), ("020006P1.SB", _mp3(g11[2])),
        ("C18B_193.SB", _mp3(g11[3])), ("ROOM1.PCX", b"\x00" * 64)])
    for lang in ("en", "es"):
        d = root / "drascula" / lang
        d.mkdir(parents=True)
        for name, x in (("1.ALS", g11[0]), ("D2.ALS", g11[1]), ("BJ1.ALS", g11[2]), ("BJ2.ALS", g11[3]),
                        ("S1.ALS", g11[0]), ("F1.ALS", g11[1])):
            (d / name).write_bytes(_formats.encode_als(0.5 * x))
        (d / "1.ALG").write_bytes(b"\x00" * 100)
    for mod, name, value in ((S, "ASTERISK_DIR", root / "asterisk"), (S, "LINCITY_DIR", root / "none"),
                             (S, "MINETEST_DIR", root / "none"), (S, "SONICPI_DIR", root / "none"),
                             (V, "TUXPAINT_DIR", tux), (V, "GCIN_DIR", root / "gcin"),
                             (V, "KLETTRES_DIR", root / "klettres"), (V, "KTUBERLING_DIR", root / "ktuberling"),
                             (V, "QUEEN_FILE", queen), (V, "DRASCULA_DIR", root / "drascula")):
        monkeypatch.setattr(mod, name, value)
    keep = ["el_f_TuxPaint", "bg_m_TuxPaint", "en_x_TuxPaint", "zh_m_gcin", "zh_f_gcin", "fr_m_KLettres",
            "fr_x_KTuberling", "en_m_QueenJoe", "en_x_QueenCast", "en_m_DrasculaMen", "en_f_DrasculaBJ",
            "es_m_DrasculaMen", "es_f_DrasculaBJ"]
    monkeypatch.setattr(V, "VOICES", {v: V.VOICES[v] for v in keep})
    return root


def test_readers_pick_each_voices_clips(fake_packages):
    names = {v: [c.name for c in V._clips(v)] for v in V.VOICES}
    assert len(names["el_f_TuxPaint"]) == 13 and "animals/odd_desc_el.ogg.ogg" in names["el_f_TuxPaint"]
    assert names["en_x_TuxPaint"] == [f"symbols/s{i:02d}_desc.ogg" for i in range(12)]
    assert names["zh_m_gcin"] == [f"syll{i:02d}" for i in range(12)]
    assert len(names["fr_m_KLettres"]) == 12 and "notes.txt" not in names["fr_x_KTuberling"]
    assert names["en_m_QueenJoe"] == ["020006J1.SB", "JOE00011.SB"]
    assert names["en_x_QueenCast"] == ["020006P1.SB", "C18B_193.SB"]
    assert names["en_m_DrasculaMen"] == ["1.ALS", "D2.ALS"] and names["en_f_DrasculaBJ"] == ["BJ1.ALS", "BJ2.ALS"]
    x, sr = V._decode([c for c in V._clips("fr_x_KTuberling") if c.name == "phone.wav"][0], 16000)
    assert x is None and sr == 8000  # telephone band: not used


def test_extended_build_on_fake_packages(fake_packages, tmp_path, monkeypatch):
    cfg = data.CorpusConfig(voices="extended", n_train=6, n_valid=3, n_test_per_cell=1)
    root = tmp_path / "corpus"
    corpus = data.build(root, source="auto", config=cfg, progress=False)
    info = corpus.info
    assert info["source"] == "debian" and info["config"]["voices"] == "extended"
    assert [tuple(c) for c in info["credits"]] == [tuple(c) for c in data.CREDITS["debian"] + data.CREDITS["extended"]]
    summary = info["splits"]
    assert set(summary["test"]["speakers"]) == {"fr_CA_f_June", "el_f_TuxPaint", "bg_m_TuxPaint", "zh_m_gcin",
                                                "zh_f_gcin", "fr_m_KLettres", "fr_x_KTuberling"}
    assert summary["test"]["sexes"]["male"] >= 2 and "Mandarin" in summary["test"]["languages"]
    assert summary["train"]["speech_pool_hours"] > 0 and summary["test"]["mixtures"] == len(corpus.items("test"))
    speakers = {s: set(corpus.speakers(s)) for s in data.SPLITS}
    assert not speakers["train"] & speakers["test"] and not speakers["train"] & speakers["valid"]
    text = corpus.describe()  # counts of voices, sexes and languages, not a list of 50 names
    assert "extended voices" in text and "- *test*: " in text and "7 voices (" in text and "Mandarin" in text
    for voice in V.VOICES:
        index = json.loads((root / "speech" / voice / V.POOL_INDEX).read_text())
        assert index["utterances"], voice
        for u in index["utterances"]:
            assert cfg.min_seconds <= u["seconds"] <= cfg.max_seconds
            assert sf.info(str(root / "speech" / voice / u["file"])).samplerate == 16000
    listed = set((root / "files.txt").read_text().splitlines()[1:])
    assert "speech/zh_f_gcin/pool.json" in listed and "info.json" in listed
    with open(root / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["speaker"] for r in rows} <= set(SPLIT_OF)
    # the pools are decoded once: an interrupted build resumes without decoding them again
    (root / "info.json").unlink()
    def no_decode(*args):
        raise AssertionError("a voice was decoded again")

    monkeypatch.setattr(V, "_decode", no_decode)
    again = data.build(root, source="auto", config=cfg, progress=False)
    assert [(i.id, i.speaker, i.snr_db) for i in again.items()] == [(i.id, i.speaker, i.snr_db) for i in corpus.items()]


def test_missing_packages_are_named_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(V, "GCIN_DIR", tmp_path / "nothing")
    monkeypatch.setattr(V, "QUEEN_FILE", tmp_path / "nothing" / "queen.1c")
    root = tmp_path / "corpus"
    with pytest.raises(FileNotFoundError, match=r"gcin-voice.*flight-of-the-amazon-queen|SEDEMO_EXTENDED_VOICES"):
        data.build(root, config=data.CorpusConfig(voices="extended"), progress=False)
    assert not root.exists()
    with pytest.raises(SystemExit) as exc:
        B.main(["build", "--voices", "extended", "--root", str(root), "--quiet"])
    assert exc.value.code == 2 and not root.exists()
    with pytest.raises(ValueError, match="source='debian'"):
        data.build(root, source="synthetic", config=data.CorpusConfig(voices="extended"), progress=False)
    with pytest.raises(ValueError, match="CorpusConfig.voices"):
        data.CorpusConfig(voices="everything")


# --------------------------------------------------------------------------- the real packages
@pytest.mark.skipif(bool(V._missing_packages()), reason="the extended voices' Debian packages are not installed")
def test_real_packages_hold_every_voice():
    for voice in V.VOICES:
        assert V._clips(voice), voice
    version, compression, entries = _formats.read_queen_table(V.QUEEN_FILE)
    assert compression == _formats.QUEEN_MP3 and sum(e[0].endswith(".SB") for e in entries) == 6745
    clip = V._clips("en_m_QueenJoe")[0]
    x, sr = V._decode(clip, 16000)
    assert sr == 11025 and len(x) > 16000 * 0.5


@pytest.mark.corpus
def test_built_extended_corpus_splits():
    """The extended corpus (``python -m sedemo.data build --voices extended --root
    data/corpus-extended``, or ``$SEDEMO_DATA_EXTENDED``) has the promised splits."""
    import os

    root = Path(os.environ.get("SEDEMO_DATA_EXTENDED", Path(__file__).resolve().parents[1] / "data" / "corpus-extended"))
    try:
        c = data.load_corpus(root)
    except FileNotFoundError:
        pytest.skip("extended corpus not built (python -m sedemo.data build --voices extended)")
    assert c.info["config"]["voices"] == "extended"
    speakers = {s: set(c.info["splits"][s]["speakers"]) for s in data.SPLITS}
    assert not speakers["train"] & speakers["test"] and not speakers["train"] & speakers["valid"]
    assert not speakers["valid"] & speakers["test"]
    test = speakers["test"]
    assert len(test) >= 4 and {"male", "female"} <= {SEX_OF[v] for v in test}
    train_langs = {_base_language(LANG_OF[v]) for v in speakers["train"]}
    assert {_base_language(LANG_OF[v]) for v in test} - train_langs
    assert set(c.speakers("test")) == test  # the test grid visits every test voice


def test_stored_extended_summary_matches_its_split_rules():
    from sedemo import data

    s = data.extended_summary()
    splits = s["splits"]
    assert set(splits) == {"train", "valid", "test"}
    voices = [set(v["speakers"]) for v in splits.values()]
    assert not (voices[0] & voices[1] or voices[0] & voices[2] or voices[1] & voices[2])  # split by speaker
    assert splits["test"]["n_speakers"] >= 4 and {"female", "male"} <= set(splits["test"]["sexes"])
    assert set(splits["test"]["languages"]) - set(splits["train"]["languages"])  # an unseen language
    assert splits["train"]["mixtures"] == s["config"]["n_train"]
    assert f"--n-train {s['config']['n_train']}" in s["command"]


def test_missing_summary_says_how_to_make_it(tmp_path):
    from sedemo import data

    with pytest.raises(FileNotFoundError, match="corpus_summary.py"):
        data.extended_summary(tmp_path / "none.json")
