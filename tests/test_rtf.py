"""sedemo.streaming.rtf: the timed stream is the real-time stream, aligned like stream_file."""
from __future__ import annotations

import numpy as np
import torch

from sedemo import models, streaming


def test_timed_stream_equals_stream_file_and_times_every_call():
    torch.manual_seed(0)
    model = models.build_model("gcrn", tiny=True).eval()
    x = 0.1 * torch.randn(16000 // 4 + 37)
    enh = streaming.StreamingEnhancer(model)
    run = streaming.timed_stream(enh, x)
    assert run.output.shape == x.shape
    assert len(run.call_seconds) == -(-len(x) // enh.hop) and (run.call_seconds > 0).all()
    assert run.state_nbytes > 0
    ref = streaming.stream_file(model, x)
    assert torch.allclose(run.output, ref, atol=1e-6)
    again = streaming.timed_stream(enh, x, chunk=3 * enh.hop + 5)  # resets: same output
    assert len(again.call_seconds) == -(-len(x) // (3 * enh.hop + 5))
    assert torch.allclose(again.output, run.output, atol=1e-6)


def test_measure_rtf_reports_the_hardware_and_restores_threads():
    before = torch.get_num_threads()
    r = streaming.measure_rtf(models.build_model("gcrn", tiny=True).eval(), seconds=0.3, repeats=1,
                              offline=False, warmup_seconds=0.05)
    assert torch.get_num_threads() == before
    assert r["threads"] == 1 and r["cpu"] and np.isfinite(r["rtf"]) and r["rtf"] > 0
