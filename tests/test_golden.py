"""Golden numbers of the pretrained models on a bundled clip (no corpus needed): the
committed checkpoint, run on tests/data/golden/noisy.flac, must reproduce the metrics
that scripts/make_golden.py stored; the default model of ``python -m sedemo enhance``
must have such numbers."""
from __future__ import annotations

import json

import pytest
from conftest import load_script

GOLDEN = load_script("make_golden")


def _golden_models():
    return sorted(p.stem for p in GOLDEN.GOLDEN.glob("*.json"))


@pytest.mark.parametrize("name", _golden_models())
def test_pretrained_model_reproduces_its_golden_numbers(name):
    """The bundled 4-s clip (tests/data/golden/, no corpus needed) enhanced by the
    committed checkpoint gives the PESQ-WB, STOI, SI-SDR and output level stored by
    scripts/make_golden.py, within a tolerance for BLAS/threading differences."""
    stored = json.loads((GOLDEN.GOLDEN / f"{name}.json").read_text())
    assert stored["model"] == name
    got = GOLDEN.golden_metrics(name)
    ref = stored["metrics"]
    assert got["si_sdr"] == pytest.approx(ref["si_sdr"], abs=0.05)
    assert got["stoi"] == pytest.approx(ref["stoi"], abs=0.003)
    assert got["pesq_wb"] == pytest.approx(ref["pesq_wb"], abs=0.02)
    assert got["rms_dbfs"] == pytest.approx(ref["rms_dbfs"], abs=0.05)


def test_the_default_model_has_golden_numbers():
    from sedemo.__main__ import DEFAULT_MODEL

    assert DEFAULT_MODEL in _golden_models(), (
        f"the default model {DEFAULT_MODEL} has no tests/data/golden/{DEFAULT_MODEL}.json: "
        f"python scripts/make_golden.py --model {DEFAULT_MODEL}")
