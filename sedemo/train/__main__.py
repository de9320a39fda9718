"""``python -m sedemo.train``: see :mod:`sedemo.train.cli`."""
import sys

from sedemo.train.cli import main

main(sys.argv[1:])
