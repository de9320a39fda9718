"""What a reader sees and hears: :mod:`sedemo.display.plots` (spectrograms, waveforms,
architecture diagrams), :mod:`sedemo.display.widgets` (audio players, tables of players,
sliders that work on the static website and in a live kernel; their CSS and JavaScript
are the files in ``display/assets/``) and :mod:`sedemo.display.media` (audio and
figures encoded for the website).
"""
