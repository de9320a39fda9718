"""Real-time factor and latency of streaming enhancement, with the hardware it ran on.
Chapter: 07_causality.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch


from sedemo._utils import torch_threads
from sedemo.streaming.enhancer import StreamingEnhancer, TimeStreamingEnhancer




def cpu_name() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`.

    Chapter: 07_causality."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@dataclass
class TimedStream:
    """What :func:`timed_stream` measured: ``output`` ``(L,)`` or ``(B, L)``, aligned with the
    input (the stream's ``output_delay`` removed); ``call_seconds``, the time of each
    ``process()`` call (s); ``state_nbytes`` and ``model_state_nbytes`` of the enhancer
    while the stream ran (before the flush). Chapter: 07_causality."""

    output: torch.Tensor
    call_seconds: np.ndarray
    state_nbytes: int
    model_state_nbytes: int


def timed_stream(enhancer: StreamingEnhancer, x, chunk: int | None = None) -> TimedStream:
    """Reset ``enhancer`` and stream the whole signal ``x`` (``(L,)`` or ``(batch, L)``)
    through it, one :meth:`~StreamingEnhancer.process` call per ``chunk`` samples
    (default: one hop, the real-time case), timing every call with
    :func:`time.perf_counter`; then flush. The output is aligned with ``x`` as
    :func:`sedemo.streaming.stream_file` aligns it. Used by :func:`measure_rtf` and
    chapter 7's streaming table. Chapter: 07_causality."""
    x = torch.as_tensor(x)
    step = int(enhancer.hop if chunk is None else chunk)
    if step <= 0:
        raise ValueError(f"chunk must be > 0 samples, got {chunk}")
    enhancer.reset()
    outs, seconds = [], []
    n = x.shape[-1]
    for s in range(0, n, step):
        t0 = time.perf_counter()
        outs.append(enhancer.process(x[..., s : s + step]))
        seconds.append(time.perf_counter() - t0)
    state, model_state = enhancer.state_nbytes, enhancer.model_state_nbytes
    outs.append(enhancer.flush())
    y = torch.cat(outs, dim=-1)[..., enhancer.output_delay : enhancer.output_delay + n]
    return TimedStream(y, np.asarray(seconds), state, model_state)


def measure_rtf(model, seconds: float = 10.0, threads: int = 1, repeats: int = 3,
                frames_per_step: int | None = 1, offline: bool = True, seed: int = 0,
                warmup_seconds: float = 0.5, plan: bool = True) -> dict:
    """Real-time factor of streaming ``model`` on ``threads`` CPU threads.

    Streams ``seconds`` of noise hop by hop (one ``process`` call per hop, batch 1)
    ``repeats`` times after a warm-up, timing every call. RTF = processing time /
    audio duration (< 1: faster than real time; the budget per frame is one hop).
    Returns a dict: ``rtf`` (median over repeats), ``rtf_all``, ``frame_ms_median``,
    ``frame_ms_p95`` (over every frame of every repeat), ``hop_ms``,
    ``offline_rtf`` (whole-file ``models.enhance``, median over repeats; ``None``
    when ``offline=False``), ``state_bytes`` (:attr:`StreamingEnhancer.state_nbytes`),
    ``model_state_bytes``, ``algorithmic_latency_ms``, ``threads``, ``cpu``,
    ``logical_cpus``, ``torch``, ``mode`` (the streaming mode in words),
    ``parameters``, ``seconds``, ``repeats``, ``path`` (``"FramePlan"`` or
    ``"model.step"``: what computed each frame; ``plan=False`` forces ``model.step``).
    Timings on a shared machine are noisy: quote the median and the hardware line.
    A time-domain model (``tcn``) is fed the same ``hop`` (STFT hop, 10 ms) per call;
    ``frames_per_step=1`` then runs one ``model.step`` per encoder frame (1 ms), ``None``
    all of the call's frames in one step. Chapter 7.
    Chapter: 07_causality.
    """
    from sedemo.models import count_parameters, enhance

    with torch_threads(int(threads)):
        cfg = model.stft_config
        hop, sr = cfg.hop, cfg.sample_rate
        n = int(round(seconds * sr)) // hop * hop
        g = torch.Generator().manual_seed(seed)
        x = 0.1 * torch.randn(n, generator=g)
        enh = StreamingEnhancer(model, frames_per_step=frames_per_step, plan=plan)
        timed_stream(enh, x[: int(warmup_seconds * sr) // hop * hop], hop)  # warm-up
        rtfs, frame_s = [], []
        for _ in range(repeats):
            run = timed_stream(enh, x, hop)
            frame_s.extend(run.call_seconds)
            rtfs.append(float(run.call_seconds.sum()) / (n / sr))
        state_bytes, model_state = run.state_nbytes, run.model_state_nbytes
        off = None
        if offline:
            enhance(model, x[: sr // 2])  # warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                enhance(model, x)
                times.append(time.perf_counter() - t0)
            off = statistics.median(times) / (n / sr)
        ms = np.asarray(frame_s) * 1000.0
        return dict(
            model=getattr(model, "name", type(model).__name__),
            rtf=statistics.median(rtfs), rtf_all=rtfs,
            frame_ms_median=float(np.median(ms)), frame_ms_p95=float(np.percentile(ms, 95)),
            hop_ms=1000.0 * hop / sr, offline_rtf=off,
            state_bytes=state_bytes, model_state_bytes=model_state,
            algorithmic_latency_ms=enh.algorithmic_latency_ms,
            threads=torch.get_num_threads(), cpu=cpu_name(), logical_cpus=os.cpu_count(),
            torch=torch.__version__,
            mode=(f"time domain: one process() call per {1000.0 * hop / sr:g} ms, "
                  + (f"one model step per {1000.0 * enh.hop / sr:g} ms frame" if frames_per_step == 1
                     else "every completed frame in one model step" if frames_per_step is None
                     else f"{frames_per_step} frames per model step") + ", batch 1"
                  if isinstance(enh, TimeStreamingEnhancer) else
                  ("hop-by-hop: one process() call and one model step per 10 ms frame, batch 1"
                   if frames_per_step == 1 else f"block streaming ({frames_per_step} frames per step)")
                  .replace("10 ms", f"{1000.0 * hop / sr:g} ms")),
            parameters=count_parameters(model), seconds=n / sr, repeats=repeats,
            path="FramePlan" if enh._plan is not None else "model.step",
        )
