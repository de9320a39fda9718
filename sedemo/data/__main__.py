"""``python -m sedemo.data build|info``: see :mod:`sedemo.data.build`."""
from sedemo.data.build import main

main()
