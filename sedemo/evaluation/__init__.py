"""Evaluation: scoring systems on the corpus, the classical baselines, the trained
experiments of chapters 5-6 with their verdicts, and the analytic measurements.

* :mod:`sedemo.evaluation.scoring`: enhancers over corpus items, tables by SNR and
  noise type; ``python -m sedemo.evaluation``
* :mod:`sedemo.evaluation.baselines`: spectral subtraction, Wiener, MMSE-LSA (tuned on validation), noisereduce
* :mod:`sedemo.evaluation.experiments`: the trained comparisons (runs, results,
  listening excerpts)
* :mod:`sedemo.evaluation.verdicts`: the one rule that turns stored results into
  a verdict word
* :mod:`sedemo.evaluation.uncertainty`: paired bootstrap intervals of differences
  between systems
* :mod:`sedemo.evaluation.analysis`: measurements that need no trained model
  (gradients, fits, diagnostics)
* :mod:`sedemo.evaluation.low_band` and :mod:`sedemo.evaluation.impulsive`: per-recording
  properties of the corpus (rumble, crackle) that chapter 5 groups results by
* :mod:`sedemo.evaluation.loss_measurements`: chapter 6's analytic experiments built
  from them (claims C2, C4, C5, C6)
"""
