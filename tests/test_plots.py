"""Tests of sedemo.display.plots: labelled axes and shapes read from the model, not written by hand."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sedemo import models# noqa: E402
from sedemo.display import plots
from sedemo.dsp import stft


def test_spectrogram_axes_are_labelled(speech):
    im = plots.spectrogram(speech)
    ax = im.axes
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (kHz)"
    left, right, bottom, top = im.get_extent()
    assert right == pytest.approx(stft.DEFAULT.n_frames(len(speech)) * stft.DEFAULT.hop / 16000)
    assert top == pytest.approx(8.0)


def test_db_floor():
    assert plots.db(np.zeros(3), floor_db=-90).tolist() == [-90, -90, -90]


@pytest.mark.parametrize("name", ["crn", "gcrn", "gcrn_1dec"])
def test_layer_shapes_follow_the_model(name):
    model = models.build_model(name, tiny=True)
    rows = plots.layer_shapes(model)
    enc = [r for r in rows if r["part"] == "encoder"]
    assert len(enc) == len(model.encoder)
    assert [r["freq"] for r in enc] == list(model.freq_sizes[1:len(enc) + 1])
    dec_last = [r for r in rows if r["part"].startswith("decoder")][-1]
    assert dec_last["freq"] == model.stft_config.n_freqs
    assert sum(r["params"] for r in rows) <= models.count_parameters(model)
    ax = plots.architecture(model)
    assert len(ax.patches) == len(rows)


def test_validation_curves_plots_each_run_seeds_and_the_noisy_reference():
    from sedemo.display import plots

    def log(offset, n=4):
        return [{"kind": "train", "step": 1, "seconds": 1.0, "train_loss": 0.0}] + [
            {"kind": "valid", "step": 100 * k, "seconds": 1800.0 * k, "valid_pesq": 1.2 + 0.1 * k + offset,
             "valid_pesq_noisy": 1.25} for k in range(1, n + 1)]

    axes = plots.validation_curves({"a": log(0.0), "b": [log(0.0), log(0.2)]}, metrics=["valid_pesq"],
                                   x="seconds", marks={"decay": 3600.0})
    ax = axes[0]
    lines = ax.get_lines()
    # a: one line; b: two thin seed lines and their mean; the noisy line; the mark
    assert len(lines) == 1 + 3 + 1 + 1
    mean = [ln for ln in lines if ln.get_label() == "b (mean of 2)"][0]
    np.testing.assert_allclose(mean.get_xdata(), [0.5, 1.0, 1.5, 2.0])  # hours
    np.testing.assert_allclose(mean.get_ydata(), [1.4, 1.5, 1.6, 1.7])
    assert any(ln.get_label() == "noisy input" and ln.get_ydata()[0] == 1.25 for ln in lines)
    assert ax.get_xlabel() == "wall-clock training time (h)" and ax.get_ylabel() == "PESQ-WB"
    with pytest.raises(ValueError, match="no validation records"):
        plots.validation_curves({"a": log(0.0)}, metrics=["valid_stoi"])
    with pytest.raises(ValueError, match="x must be"):
        plots.validation_curves({"a": log(0.0)}, x="epoch")
    assert ax.get_title() == ""  # untitled unless told what was measured
    with_sdr = [{**r, "valid_si_sdr": 5.0 + r["step"] / 100} if r["kind"] == "valid" else r for r in log(0.0)]
    titled = plots.validation_curves({"a": with_sdr}, items="32 items of the corpus's validation split")
    assert [a.get_title() for a in titled] == ["validation PESQ-WB (32 items of the corpus's validation split)",
                                               "validation SI-SDR (32 items of the corpus's validation split)"]


def test_distortion_residual_plots_each_system_and_the_path():
    import pandas as pd

    from sedemo.display import plots

    pts = pd.DataFrame({"distortion_db": [-8.0, -6.0, -5.0], "residual_db": [-13.0, -16.0, -20.0]},
                       index=["model", "model x2", "peer"])
    ax = plots.distortion_residual(pts, path=["model", "model x2"], title="t")
    lines = ax.get_lines()
    path = lines[0]  # drawn first, under the points
    np.testing.assert_allclose(path.get_xdata(), [-8.0, -6.0])
    np.testing.assert_allclose(path.get_ydata(), [-13.0, -16.0])
    assert len(lines) == 1 + 3 and [t.get_text() for t in ax.texts] == [" model", " model x2", " peer"]
    assert "speech distortion" in ax.get_xlabel() and "noise left" in ax.get_ylabel() and ax.get_title() == "t"
    with pytest.raises(ValueError, match="missing: residual_db"):
        plots.distortion_residual(pts[["distortion_db"]])
    with pytest.raises(ValueError, match="not in points"):
        plots.distortion_residual(pts, path=["model", "other"])
