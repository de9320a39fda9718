"""``python -m sedemo.evaluation``: see :func:`sedemo.evaluation.scoring.main`."""
import sys

from sedemo.evaluation.scoring import main

main(sys.argv[1:])
