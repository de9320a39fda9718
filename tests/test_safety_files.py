"""Nothing lost: atomic writes, ``python -m sedemo enhance`` never destroys what it did not
make, and the corpus builder deletes only its own files and resumes an interrupted build
to the same result (issue 17, data-loss class)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import speech_like
from sedemo import __main__ as cli
from sedemo import data, models
from sedemo.data import sources

OLD = b"precious bytes that were here before"


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in Path(folder).rglob("*") if p.name.endswith(".sedemo-tmp")]


# --------------------------------------------------------------------------- atomic_output
def test_atomic_output_replaces_only_on_success(tmp_path):
    from sedemo._utils import atomic_output

    target = tmp_path / "f.bin"
    target.write_bytes(OLD)
    os.chmod(target, 0o640)
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc):
            with atomic_output(target) as tmp:
                assert tmp.parent == tmp_path and tmp != target
                tmp.write_bytes(b"half")
                raise exc("interrupted")
        assert target.read_bytes() == OLD and not _leftovers(tmp_path)
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640
    assert not _leftovers(tmp_path)
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    with atomic_output(link) as tmp:  # a link is written through, not replaced
        tmp.write_bytes(b"via link")
    assert link.is_symlink() and target.read_bytes() == b"via link"
    with pytest.raises(IsADirectoryError):
        with atomic_output(tmp_path):
            pass


# --------------------------------------------------------------------------- enhance


def _run(*argv):
    """``python -m sedemo enhance ...``: (exit status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = cli.main(["enhance", *map(str, argv)])
        except SystemExit as stop:
            rc = stop.code
    return rc, err.getvalue()


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage that is no audio" * 20], ids=["empty", "garbage"])
def test_failed_enhance_keeps_an_existing_output(tmp_path, tiny_pretrained, content):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    src.write_bytes(content)
    dst.write_bytes(OLD)
    rc, err = _run(src, dst)
    line = _one_error_line(err)
    assert rc == 2 and dst.read_bytes() == OLD and not _leftovers(tmp_path)
    assert "could not decode" in line and "raw" not in line  # no raw-format advice for a .wav
    fresh = tmp_path / "new" / "out.wav"
    assert _run(src, fresh)[0] == 2 and not fresh.exists() and not fresh.parent.exists()


def test_nan_input_keeps_an_existing_output(tmp_path, tiny_pretrained):
    src, dst = tmp_path / "nan.wav", tmp_path / "out.wav"
    x = np.zeros(16000)
    x[8000] = np.nan  # in the second block: the first one has been written already
    sf.write(src, x, 16000, subtype="FLOAT")
    dst.write_bytes(OLD)
    rc, err = _run(src, dst, "--block-seconds", "0.25")
    assert rc == 2 and "NaN" in _one_error_line(err) and dst.read_bytes() == OLD


def test_output_that_is_the_input_is_refused(tmp_path, tiny_pretrained, speech):
    src = tmp_path / "in.wav"
    sf.write(src, speech, 16000, subtype="FLOAT")
    before = src.read_bytes()
    hard, soft = tmp_path / "hard.wav", tmp_path / "soft.wav"
    os.link(src, hard)
    soft.symlink_to(src)
    (tmp_path / "sub").mkdir()
    for out in (src, hard, soft, tmp_path / "sub" / ".." / "in.wav"):
        rc, err = _run(src, out)
        assert rc == 2 and "must differ" in _one_error_line(err), out
        assert src.read_bytes() == before
    rc, err = _run(hard, src)  # the other way round too
    assert rc == 2 and src.read_bytes() == before


@pytest.mark.parametrize("name, expect", [("", "is a folder"), ("out", "no extension"), ("out.mp3", ".mp3"),
                                          ("out.txt", "end it with .flac or .wav")])
def test_unwritable_output_names_get_one_line(tmp_path, tiny_pretrained, speech, name, expect):
    src = tmp_path / "in.wav"
    sf.write(src, speech[:8000], 16000)
    rc, err = _run(src, tmp_path / name if name else tmp_path)
    assert rc == 2 and expect in _one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_flac_output_and_unknown_model(tmp_path, tiny_pretrained, speech):
    src, dst = tmp_path / "in.wav", tmp_path / "out.flac"
    sf.write(src, speech[:8000], 16000)
    assert _run(src, dst)[0] == 0 and sf.info(str(dst)).format == "FLAC"
    dst.write_bytes(OLD)
    rc, err = _run(src, dst, "--model", "nonsense")
    assert rc == 2 and "unknown model" in _one_error_line(err) and dst.read_bytes() == OLD


def test_nan_weights_fail_without_writing(tmp_path, monkeypatch, speech):
    """A checkpoint with NaN weights: the command used to exit 0 with a full-scale constant file."""
    from sedemo.models import checkpoints

    from sedemo.__main__ import DEFAULT_MODEL

    family = models.load_pretrained(DEFAULT_MODEL).name  # the default model's architecture (ulcrn)
    model = models.build_model(family, tiny=True)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    models.save(model, tmp_path / "ckpt" / f"{DEFAULT_MODEL}.pt")  # what the command loads by default
    monkeypatch.setattr(checkpoints, "PRETRAINED_DIR", tmp_path / "ckpt")
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, speech[:16000], 16000)
    dst.write_bytes(OLD)
    rc, err = _run(src, dst)
    said = _one_error_line(err).replace(str(tmp_path), "<tmp>")  # the folder's name contains "nan" itself
    assert rc == 2 and "nan" in said.lower() and dst.read_bytes() == OLD, said
    assert not _leftovers(tmp_path)


_RATES = [8000, 11025, 16000, 22050, 44100, 48000, 7919]


@st.composite
def _bad_input(draw):
    kind = draw(st.sampled_from(["bytes", "empty", "nan", "pcm", "float", "raw"]))
    if kind in ("bytes", "empty", "raw"):
        content = b"" if kind == "empty" else draw(st.binary(min_size=1, max_size=3000))
        return kind, draw(st.sampled_from([".wav", ".flac", ".mp3"] if kind != "raw" else [".g722", ".ulaw"])), content
    rate = draw(st.sampled_from(_RATES))
    channels = draw(st.integers(1, 3))
    frames = draw(st.integers(0, rate // 3))
    amp = draw(st.sampled_from([0.0, 0.3, 1.0, 1e4]))
    x = amp * np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((frames, channels))
    if kind == "nan" and frames:
        x[draw(st.integers(0, frames - 1)), 0] = draw(st.sampled_from([np.nan, np.inf]))
    buf = io.BytesIO()
    subtype = "PCM_16" if kind == "pcm" else "FLOAT"
    sf.write(buf, np.clip(x, -1, 1) if kind == "pcm" else x, rate, subtype=subtype, format="WAV")
    return kind, ".wav", buf.getvalue()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_bad_input(), existing=st.booleans())
def test_enhance_on_generated_files_gives_audio_or_one_line(tiny_pretrained, case, existing):
    """Property: any input file gives either a correct 16-kHz mono output or one error
    line (status 2), and never a truncated or changed pre-existing OUTPUT."""
    kind, suffix, content = case
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / f"in{suffix}", Path(tmp) / "out.wav"
        src.write_bytes(content)
        if existing:
            dst.write_bytes(OLD)
        rc, err = _run(src, dst, "--block-seconds", "0.2")
        assert not _leftovers(Path(tmp))
        if rc == 0:
            out, sr = sf.read(str(dst))
            assert sr == 16000 and out.ndim == 1 and np.isfinite(out).all()
            if kind in ("pcm", "float"):
                i = sf.info(str(src))
                assert abs(len(out) - i.frames * 16000 / i.samplerate) <= 1
            assert kind not in ("nan", "empty")
        else:
            assert rc == 2, err
            _one_error_line(err)
            assert dst.read_bytes() == OLD if existing else not dst.exists()


# --------------------------------------------------------------------------- the corpus builder
TINY = data.CorpusConfig(n_train=4, n_valid=2, n_test_per_cell=1, synthetic_utterances_per_speaker=3)


class _FakeTTS:
    """A deterministic stand-in for espeak-ng (whose output changes from run to run)."""

    def say(self, text, voice, pitch, rate):
        seed = zlib.crc32(f"{text}|{voice}|{pitch}|{rate}".encode())
        return speech_like(0.6 + (seed % 50) / 100, seed=seed).astype(np.float32)


@pytest.fixture
def fake_tts(monkeypatch):
    monkeypatch.setattr(sources, "_Espeak", _FakeTTS)
    monkeypatch.setattr(sources, "_progress", lambda it, *a: it)


def _build(root, config=TINY, **kw):
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        return data.build(root, source="synthetic", config=config, progress=False, **kw)


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted build with the fake TTS."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sources, "_Espeak", _FakeTTS)
        root = tmp_path_factory.mktemp("reference") / "corpus"
        _build(root)
    return _snapshot(root)


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("after", [7, 40], ids=["in-the-pools", "in-the-mixtures"])
def test_interrupted_build_resumes_to_the_same_corpus(tmp_path, fake_tts, monkeypatch, reference, after):
    """A crash halfway through a file used to leave it truncated, and the next build reused it."""
    real, calls = sf.write, []

    def crash_after(file, frames, *args, **kwargs):
        calls.append(file)
        if len(calls) > after:
            real(file, frames[: len(frames) // 3], *args, **kwargs)  # a third of the file, then the crash
            raise _Interrupted
        return real(file, frames, *args, **kwargs)

    root = tmp_path / "corpus"
    monkeypatch.setattr(sf, "write", crash_after)
    with pytest.raises(_Interrupted):
        _build(root)
    monkeypatch.setattr(sf, "write", real)
    assert not (root / "info.json").exists() and not _leftovers(root)
    for p in root.rglob("*.flac"):  # every file on disk is complete
        sf.read(str(p))
    _build(root)  # the same command again: resumes
    assert _snapshot(root) == reference


def test_force_deletes_only_the_corpus_own_files(tmp_path, fake_tts):
    root = tmp_path / "corpus"
    _build(root)
    mine = {"notes.txt": b"my notes", "train/mine.flac": b"my file", "speech/extra/keep.flac": b"keep"}
    for rel, content in mine.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    victim = tmp_path / "victim.txt"  # a damaged list must not reach outside the corpus
    victim.write_bytes(OLD)
    with open(root / sources.FILES_NAME, "a") as fh:
        fh.write(f"../victim.txt\n{victim}\n")
    other = data.CorpusConfig(n_train=2, n_valid=2, n_test_per_cell=1, synthetic_utterances_per_speaker=3, seed=1)
    corpus = _build(root, config=other, force=True)  # used to delete the whole folder
    assert victim.read_bytes() == OLD
    assert len(corpus.items("train")) == 2 and corpus.info["config"]["seed"] == 1
    for rel, content in mine.items():
        assert (root / rel).read_bytes() == content, rel
    listed = set((root / sources.FILES_NAME).read_text().splitlines()[1:])
    assert {"info.json", "manifest.csv", "train/train0000_clean.flac"} <= listed
    assert not listed & set(mine) and not (root / "train" / "train0003_clean.flac").exists()


def test_corpus_of_an_older_version_is_rebuilt_without_touching_other_files(tmp_path, fake_tts, capsys):
    """A corpus from before ``files.txt``: its manifest says what is its own."""
    root = tmp_path / "corpus"
    _build(root)
    (root / sources.FILES_NAME).unlink()
    info = json.loads((root / "info.json").read_text())
    (root / "info.json").write_text(json.dumps(dict(info, version=sources.CORPUS_VERSION - 1)))
    (root / "train" / "mine.flac").write_bytes(OLD)
    corpus = _build(root)
    assert "older version" in capsys.readouterr().err and corpus.info["version"] == sources.CORPUS_VERSION
    assert (root / "train" / "mine.flac").read_bytes() == OLD and (root / sources.FILES_NAME).exists()


def test_build_refuses_a_folder_that_is_not_its_own(tmp_path, fake_tts):
    root = tmp_path / "mine"
    (root / "train").mkdir(parents=True)
    (root / "train" / "train0000_clean.flac").write_bytes(OLD)  # a name the build would use
    with pytest.raises(FileExistsError, match="new or empty folder"):  # used to overwrite it
        data.build(root, source="synthetic", config=TINY, progress=False)
    (root / "info.json").write_text('{"my": "own info"}')
    for force in (False, True):
        with pytest.raises(FileExistsError, match="new or empty folder"):
            data.build(root, source="synthetic", config=TINY, progress=False, force=force)
    assert (root / "train" / "train0000_clean.flac").read_bytes() == OLD
    assert sorted(p.name for p in root.rglob("*")) == ["info.json", "train", "train0000_clean.flac"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        data.build(tmp_path / "afile", source="synthetic", config=TINY, progress=False)


def test_unfinished_build_with_other_parameters_is_not_resumed(tmp_path, fake_tts, monkeypatch):
    root = tmp_path / "corpus"
    monkeypatch.setattr(sources, "_synthetic_noise_pool", lambda *a: (_ for _ in ()).throw(_Interrupted()))
    with pytest.raises(_Interrupted):
        _build(root)
    monkeypatch.undo()
    monkeypatch.setattr(sources, "_Espeak", _FakeTTS)
    other = data.CorpusConfig(n_train=2, n_valid=2, n_test_per_cell=1, synthetic_utterances_per_speaker=3)
    with pytest.raises(FileExistsError, match="unfinished"):
        data.build(root, source="synthetic", config=other, progress=False)
    corpus = _build(root, config=other, force=True)
    assert len(corpus.items("train")) == 2


def test_info_speakers_are_sorted(reference):
    """``info.json`` used to list the speakers in hash-seed order (a set)."""
    speakers = list(json.loads(reference["info.json"])["speakers"])
    assert len(speakers) == 4 and speakers == sorted(speakers)
