"""Signals: audio files and levels, the STFT, features and phase.

* :mod:`sedemo.dsp.audio`: load, save, resample, validate, speech level (ITU-T P.56),
  mixing at an SNR (chapter 01_noisy_speech)
* :mod:`sedemo.dsp.stft`: the STFT and its inverse, the book's framing (chapter
  02_time_frequency)
* :mod:`sedemo.dsp.features`: magnitude, log power, power-law compression, mel and
  gammatone filterbanks, context splicing (chapter 02_time_frequency)
* :mod:`sedemo.dsp.phase`: wrapped and unwrapped phase, instantaneous frequency,
  group delay, phase statistics (chapter 04_phase)
"""
