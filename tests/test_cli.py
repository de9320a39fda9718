"""Tests of ``python -m sedemo enhance``: any rate and channel count, alignment, errors."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from sedemo import __main__ as cli
from sedemo.dsp import audio
from sedemo import models




def test_enhance_resamples_mixes_down_and_aligns(tmp_path, tiny_pretrained, speech):
    x44 = audio.resample(speech, 16000, 44100)
    stereo = np.stack([x44, 0.5 * x44], axis=1)
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, stereo, 44100, subtype="FLOAT")
    messages = []
    summary = cli.enhance_file(src, dst, "gcrn", block_seconds=0.7, log=messages.append)
    assert any("mixed down" in m and "44100" in m for m in messages)
    out, sr = sf.read(dst)
    mono16 = audio.resample(stereo.mean(axis=1), 44100, 16000)
    assert sr == 16000 and out.ndim == 1 and len(out) == len(mono16)
    offline = models.enhance(tiny_pretrained, mono16.astype(np.float32))
    assert np.abs(out - np.clip(offline, -1, 1)).max() < 2e-4  # 16-bit output quantisation
    assert summary["seconds"] == pytest.approx(len(mono16) / 16000)
    assert 0 < summary["model_rtf"] <= summary["rtf"]  # the model's time is part of the command's


def test_main_reports_clear_errors(tmp_path, tiny_pretrained, capsys):
    assert cli.main(["enhance", str(tmp_path / "missing.wav"), str(tmp_path / "o.wav")]) == 2
    assert "input file not found" in capsys.readouterr().err
    src = tmp_path / "a.wav"
    sf.write(src, np.zeros(1600), 16000)
    assert cli.main(["enhance", str(src), str(tmp_path / "o.wav"), "--model", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "unknown model" in err and "gcrn" in err
    assert cli.main(["enhance", str(src), str(src)]) == 2
    assert "must differ" in capsys.readouterr().err


def test_nan_input_is_refused(tmp_path, tiny_pretrained):
    src = tmp_path / "nan.wav"
    x = np.zeros(16000)
    x[100] = np.nan
    sf.write(src, x, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN"):
        cli.enhance_file(src, tmp_path / "o.wav")


# ------------------------------------------------------------ one-line errors, argument checks
def _last_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("option, value", [("--threads", "0"), ("--threads", "-2"), ("--threads", "two"),
                                           ("--block-seconds", "inf"), ("--block-seconds", "nan"),
                                           ("--block-seconds", "0"), ("--block-seconds", "-1")])
def test_enhance_options_are_checked(tmp_path, tiny_pretrained, capsys, option, value):
    src = tmp_path / "a.wav"
    sf.write(src, np.zeros(1600), 16000)
    assert cli.main(["enhance", str(src), str(tmp_path / "o.wav"), option, value]) == 2
    err = capsys.readouterr().err
    line = _last_error_line(err)
    assert err.count("\n") == 1 and f"argument {option}" in line and value in line
    assert not (tmp_path / "o.wav").exists()
    with pytest.raises(ValueError, match="threads|block_seconds"):
        kw = {"threads": 0} if option == "--threads" else {"block_seconds": float("inf")}
        cli.enhance_file(src, tmp_path / "o.wav", **kw)


def test_enhance_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, tiny_pretrained, capsys):
    src = tmp_path / "a.wav"
    src.write_bytes(b"")
    assert cli.main(["enhance", str(src), str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: could not decode") and "raw" not in err
    with pytest.raises(audio.AudioDecodeError, match="could not decode"):
        cli.main(["enhance", str(src), str(tmp_path / "o.wav"), "--debug"])
    raw = tmp_path / "a.g722"  # a raw format: the advice is about that format
    raw.write_bytes(b"")
    assert cli.main(["enhance", str(raw), str(tmp_path / "o.wav")]) == 2
    assert "as raw .g722 audio" in _last_error_line(capsys.readouterr().err)
    assert cli.main(["enhance", str(tmp_path), str(tmp_path / "o.wav")]) == 2
    assert "is not a file" in _last_error_line(capsys.readouterr().err)


def _data_main(*argv):
    from sedemo.data.build import main

    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    return stop.value.code


@pytest.mark.parametrize("option, value", [("--n-train", "-5"), ("--n-valid", "0"), ("--n-test-per-cell", "0"),
                                           ("--seed", "-1"), ("--n-train", "many")])
def test_data_build_options_are_checked(tmp_path, capsys, option, value):
    assert _data_main("build", "--root", tmp_path / "c", option, value) == 2
    line = _last_error_line(capsys.readouterr().err)
    assert f"argument {option}" in line and value in line and not (tmp_path / "c").exists()


def test_data_commands_print_one_line(tmp_path, capsys):
    assert _data_main("info", "--root", tmp_path / "nothing") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no corpus at")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "holiday.wav").write_bytes(b"keep me")
    assert _data_main("build", "--root", mine, "--source", "synthetic", "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "new or empty folder" in err and (mine / "holiday.wav").read_bytes() == b"keep me"
    with pytest.raises(FileExistsError):
        from sedemo.data.build import main

        main(["build", "--root", str(mine), "--source", "synthetic", "--debug"])


def test_interrupted_data_build_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import importlib

    build_module = importlib.import_module("sedemo.data.build")  # the module, not sedemo.data.build()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "build", interrupted)
    assert _data_main("build", "--root", tmp_path / "c") == 130
    assert "run the same command again" in capsys.readouterr().err
