"""Streaming (real-time) inference: waveform in, waveform out, one hop at a time.

Chapter 7 (07_causality, claims C12-C15) explains why only a causal
model can do this and what it costs; this module does it and measures it.

How a stream is enhanced (:class:`StreamingEnhancer`)
-----------------------------------------------------
With ``n_fft`` the window and ``hop`` the frame shift (default 320 and 160 samples
at 16 kHz: 20 ms and 10 ms):

1. input samples are buffered until a whole hop has arrived; the enhancer keeps
   the last ``n_fft - hop`` input samples (zeros at the start, exactly the zero
   padding of :func:`sedemo.dsp.stft.stft`), so each new hop completes one analysis
   frame: frame ``t`` covers samples ``[t*hop - (n_fft - hop), (t+1)*hop)``, windowed
   and FFT-ed as the offline STFT does. It *is* the offline STFT's frame ``t``;
2. the model enhances that frame with its cached state (``model.step``:
   convolution histories, LSTM hidden and cell states, transposed-convolution
   overlaps, norm running sums; see :mod:`sedemo.models`), without looking at any
   later frame;
3. the enhanced frame is inverse-FFT-ed, multiplied by the synthesis window and
   overlap-added; the first ``hop`` samples of the overlap-add buffer are now
   final (no later frame overlaps them) and are emitted. They are divided by the
   running sum of squared windows, as :func:`sedemo.dsp.stft.istft` does; with the
   default square-root Hann window at 50 % overlap that sum is exactly 1 once the
   stream is running, so no normalisation is really needed.

Latency and alignment. The hop emitted after frame ``t`` holds input samples
``[t*hop - (n_fft - hop), t*hop - (n_fft - hop) + hop)``: the output stream runs
``output_delay = n_fft - hop`` samples (10 ms by default) behind the input, sample
for sample. The first ``output_delay`` samples of the stream are therefore zeros
(they would belong to the time before the input started), and
``stream[j] = offline[j - output_delay]`` with ``offline = models.enhance(model,
x)``. The *algorithmic latency*, the longest a sample waits between entering and
leaving (ignoring computation), is one window: the first sample of a hop waits
``hop`` samples for its frame to be complete, then ``n_fft - hop`` more for the
overlap-add, ``n_fft`` samples in all = 20 ms for the default causal GCRN (plus
``lookahead_frames * hop``, 0 for every model of the book). In a real device the
time to compute a frame (at most one hop to keep up, real-time factor < 1) comes
on top.

:func:`stream_file` streams a whole signal in chunks and returns it aligned with
the offline output; :func:`measure_rtf` measures the real-time factor.
:func:`export_onnx` (``python -m sedemo export-onnx OUT.onnx``) writes one hop of this
enhancer, for a CRN/GCRN, as an ONNX graph with a JSON sidecar (samples and state in,
samples and state out, real arithmetic only), so that a browser can run it; see
:mod:`sedemo.streaming.onnx_export`.

Time-domain models (:class:`TimeStreamingEnhancer`)
---------------------------------------------------
``StreamingEnhancer(model)`` with a time-domain model (``model.domain == "time"``,
the ``tcn``) returns a :class:`TimeStreamingEnhancer`: same API, no STFT. Its block
is the model's encoder hop ``S = model.config.stride`` (16 samples = 1 ms by
default): each complete block of ``S`` input samples is one encoder frame, and the
model's ``step`` (encoder history, dilated-conv histories, cLN running sums,
decoder overlap-add tail) returns ``S`` output samples. ``output_delay = K - S``
samples (``K`` the encoder kernel: 16 samples = 1 ms by default) and the
algorithmic latency is one kernel, ``K`` samples (2 ms).
"""
from __future__ import annotations

from sedemo.streaming.enhancer import StreamingEnhancer, TimeStreamingEnhancer, stream_file
from sedemo.streaming.frame_plan import FramePlan, frame_plan
from sedemo.streaming.onnx_export import (
    OnnxStep, export_onnx, onnx_sidecar, resolve_onnx_model, stream_onnx, time_onnx_step,
)
from sedemo.streaming.rtf import TimedStream, cpu_name, measure_rtf, timed_stream
from sedemo.streaming.without_waiting import enhance_without_waiting

__all__ = ["StreamingEnhancer", "TimeStreamingEnhancer", "stream_file", "measure_rtf", "cpu_name",
           "FramePlan", "frame_plan", "timed_stream", "TimedStream",
           "OnnxStep", "export_onnx", "onnx_sidecar", "resolve_onnx_model", "stream_onnx", "time_onnx_step",
           "enhance_without_waiting"]
