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
