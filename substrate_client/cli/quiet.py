"""Keeping TensorFlow's start-up chatter (its native library's notices, absl's and
CUDA's) off the terminal: hidden, or routed to a log file."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Iterator


def load_tensorflow_quietly(verbose: int) -> None:
    """Import TensorFlow now, hiding the native library's start-up chatter on stderr
    (shown with -v, or if the import fails)."""
    from ..tensorflow_setup import load_tensorflow

    if verbose or "tensorflow" in sys.modules:
        load_tensorflow()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            load_tensorflow().config.list_physical_devices()  # CUDA probing talks too
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def native_output_to(log_path: Path) -> Iterator[None]:
    """While the block runs, what native libraries, Python's warnings and loggers set up
    before it write to stderr is appended to ``log_path``; the command's own lines
    (``sys.stderr`` as Python code finds it now: click, our log records) still reach the
    terminal. TensorFlow is imported inside, so its start-up chatter goes there too."""
    from ..tensorflow_setup import load_tensorflow

    sys.stderr.flush()
    saved = os.dup(2)
    terminal = open(saved, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None),
                    errors="backslashreplace", closefd=False)
    previous = sys.stderr
    try:
        to_terminal = previous.fileno() == 2
    except (AttributeError, OSError, ValueError):  # stderr captured in Python (a test's runner)
        to_terminal = False
    with open(log_path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 2)
        if to_terminal:
            sys.stderr = terminal
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _warning_to(log)
                load_tensorflow().config.list_physical_devices()  # CUDA probing talks too
                yield
        finally:
            sys.stderr = previous
            terminal.flush()
            os.dup2(saved, 2)
            terminal.close()
            os.close(saved)


def _warning_to(log):
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        log.write(text.encode("utf-8", errors="backslashreplace"))

    return show
