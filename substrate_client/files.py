"""Small file helpers shared across the package: writing a file safely, reading a log's end."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

__all__ = ["temporary_file_beside", "write_atomically", "log_tail"]


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


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` with ``write(file)`` so that a crash leaves the old file or the new
    one, never half of one: into a temporary file beside it, flushed to disk, then renamed."""
    path = Path(path)
    with temporary_file_beside(path) as tmp:
        with open(tmp, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    return path


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of the log file ``path`` (``(no log)`` if it cannot be read)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
