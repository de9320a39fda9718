"""Live listening controls are safe to execute headlessly: a notebook with a live
switcher, run again and again by nbclient (what `jupyter nbconvert --execute` and
papermill use), never stalls. The old live mode captured into an ``Output`` widget and
stalled now and then until the client's timeout."""
from __future__ import annotations

import time

import nbformat
import pytest

CELL = """
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sedemo.display import widgets
assert not widgets.static_mode(), "the kernel should be in live mode"

def render(v):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, v])
    return [fig, {"tone": 0.1 * np.sin(np.arange(1600) * v / 10)}, {"value": v}]

box = widgets.switcher([1, 2, 3], render, label="v", sample_rate=16000)
box.slider.value = 2   # an update from the observer, as when the reader moves the slider
box
"""


@pytest.mark.slow
def test_live_switcher_executes_headlessly_without_stalling(monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.delenv("SEDEMO_STATIC", raising=False)
    runs = []
    for _ in range(6):
        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_code_cell(CELL))
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
        runs.append(time.perf_counter() - t0)
        outputs = nb.cells[0].outputs
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), outputs
        assert not any(o.get("output_type") == "error" for o in outputs)
    assert max(runs) < 30, f"a headless run took {max(runs):.1f} s: {runs}"
