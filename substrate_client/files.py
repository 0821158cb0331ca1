"""Small file helpers shared across the package: writing a file safely, reading a log's end."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["temporary_file_beside", "log_tail"]


@contextlib.contextmanager
def temporary_file_beside(path: Path) -> Iterator[Path]:
    """A fresh temporary file name in ``path``'s directory, deleted on exit unless renamed away."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of the log file ``path`` (``(no log)`` if it cannot be read)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
