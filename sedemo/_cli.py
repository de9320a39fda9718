"""What every ``python -m sedemo...`` command shares: argument types, an argparse that
raises instead of exiting, and one way to report an error: one line ``error: <what is
wrong>; <what to do>`` on stderr, exit status 2, the traceback only with ``--debug``;
Ctrl-C exits with 130 and says how to continue."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

#: the errors a command reports as one line (user errors: a bad value, a missing or
#: unreadable file, an undecodable recording, a missing tool); anything else is a bug
USER_ERRORS = (ValueError, OSError, RuntimeError)


class UsageError(Exception):
    """A command-line argument that argparse refused (reported as one line)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing the usage and exiting,
    so that every error of a command is the same one line."""

    def error(self, message):
        raise UsageError(f"{message}; see `{self.prog} --help`")


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number ``>= minimum``, else a message saying so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {value}")
        return value
    return parse


def one_line(exc: BaseException) -> str:
    """``exc`` as the one line a command prints: what went wrong and what to do."""
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
        if ";" not in exc.strerror:
            text += "; check the path, its permissions and the free space"
        return " ".join(text.split())
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, RuntimeError) and ";" not in text:
        text += "; if this is unexpected, run again with --debug for the traceback"
    return text


def run(body: Callable[[], object], argv: Sequence[str], interrupted: str = "interrupted",
        errors: tuple = (UsageError, *USER_ERRORS)):
    """Run a command's ``body()`` and return its result; a user error (``errors``) prints
    :func:`one_line` and raises ``SystemExit(2)``, Ctrl-C prints ``interrupted`` and raises
    ``SystemExit(130)``; with ``--debug`` in ``argv`` both propagate with their traceback."""
    debug = "--debug" in argv
    try:
        return body()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"error: {interrupted}", file=sys.stderr)
        raise SystemExit(130) from None
    except errors as exc:
        if debug:
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(2) from None
