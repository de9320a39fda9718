"""Tests of ``python -m sedemo enhance``: any rate and channel count, alignment, errors."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from sedemo import __main__ as cli
from sedemo.dsp import audio
from sedemo import models


@pytest.fixture
def tiny_pretrained(monkeypatch):
    """Stand in a tiny GCRN (16 kHz, the book's STFT) for the pretrained checkpoint."""
    torch.manual_seed(0)
    model = models.build_model("gcrn", tiny=True, n_fft=320, hop=160).eval()
    monkeypatch.setattr(models, "load_pretrained", lambda name: model)
    return model


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
