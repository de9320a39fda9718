"""Golden numbers: the committed checkpoints, re-evaluated on a few test items, must give
the metrics stored next to them (``sedemo/pretrained/<name>.metrics.json``)."""
from __future__ import annotations

import json

import pytest

from sedemo import data, models
from sedemo.evaluation import scoring

pytestmark = pytest.mark.corpus


def _stored(name):
    path = models.pretrained_path(name)
    metrics = path.with_suffix(".metrics.json")
    if not path.exists() or not metrics.exists():
        pytest.skip(f"no committed checkpoint for {name}")
    return models.load_pretrained(name), json.loads(metrics.read_text())


@pytest.mark.parametrize("name", ["gcrn"])
def test_checkpoint_reproduces_its_stored_metrics(name):
    model, stored = _stored(name)
    try:
        corpus = data.load_corpus()
    except FileNotFoundError:
        pytest.skip("corpus not built (make data)")
    if corpus.source != stored["corpus"]:
        pytest.skip(f"stored metrics are for the {stored['corpus']} corpus, this one is {corpus.source}")
    by_key = {(r["id"], r["system"]): r for r in stored["rows"]}
    items = [it for it in scoring.balanced_subset(corpus.items("test"), per_cell=1)][:3]
    rows = scoring.score_systems({name: scoring.model_enhancer(model)}, items, include_noisy=False,
                             which=["pesq_wb", "stoi", "si_sdr"])
    for row in rows:
        ref = by_key[(row["id"], name)]
        assert row["si_sdr"] == pytest.approx(ref["si_sdr"], abs=0.05)
        assert row["stoi"] == pytest.approx(ref["stoi"], abs=0.005)
        assert row["pesq_wb"] == pytest.approx(ref["pesq_wb"], abs=0.02)


def test_checkpoint_metadata_has_the_command():
    model, stored = _stored("gcrn")
    assert model.extra["command"].startswith("python -m sedemo.train --model gcrn")
    assert model.causal and models.count_parameters(model) < 2_000_000
    assert stored["split"] == "test" and stored["n_items"] == len(
        {r["id"] for r in stored["rows"]})


@pytest.mark.parametrize("name, parent", [("ulcrn_stoi", "ulcrn"), ("ulcrn_stoi2", "ulcrn_stoi"),
                                          ("ulcrn_bank", "ulcrn_stoi2"), ("ulcrn_bank2", "ulcrn_bank"),
                                          ("ulcrn_color", "ulcrn_bank2"), ("ulcrn_calls", "ulcrn_bank2"),
                                          ("ulcrn_naturex", "ulcrn_bank2"), ("ulcrn_hp", "ulcrn_naturex"),
                                          ("ulcrn_df", "ulcrn_hp")])
def test_a_shipped_fine_tune_loads_by_its_own_name(name, parent):
    """The fine-tuned ULCRNs are not model families but shipped ulcrn checkpoints: each
    resolves by name for loading, the command line and the ONNX exporter, and stores the
    chain of commands that made it (the fine-tune and the checkpoint it started from)."""
    from sedemo.streaming import onnx_export

    path = models.pretrained_path(name)
    if not path.exists():
        pytest.skip(f"no {name} checkpoint")
    model = models.load_pretrained(name)
    assert type(model).__name__ == "ULCRN" and model.causal
    assert "--loss si_sdr+compressed+stoi" in model.extra["command"]
    assert f"--init-from sedemo/pretrained/{parent}.pt" in model.extra["command"]
    assert model.extra["init"]["command"].startswith("python -m sedemo.train --model ulcrn")
    _, source, _ = onnx_export.resolve_onnx_model(name)
    assert source == f"pretrained {name}"
    with pytest.raises(ValueError, match=f"shipped checkpoint: .*{name}"):
        models.pretrained_path("no_such_model")
