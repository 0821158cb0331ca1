"""Progress bars for uploads and downloads, fed by the storage ``progress(bytes)`` callbacks.

The storage layer reports increments (``progress(n)`` after moving ``n`` bytes);
:func:`byte_progress` turns them into a ``click.progressbar`` on stderr, so stdout
stays clean for tables and JSON. With no known total (a download: the chain
records a hash, not a size) the bar counts bytes instead of showing a percentage.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

import click

from .storage import Progress


def human_bytes(count: int | float) -> str:
    """``1536`` → ``1.5 KiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def folder_size(folder: str | Path) -> int:
    """Bytes of the regular files below ``folder``: about the size of its packed bundle."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


@contextlib.contextmanager
def byte_progress(label: str, total: int | None = None, enabled: bool = True) -> Iterator[Progress | None]:
    """A ``progress(n)`` callback drawing a bar on stderr while the block runs.

    ``total`` is the expected number of bytes, if known. Yields ``None`` when
    ``enabled`` is false (``--json``) or stderr is not a terminal, so the library
    reports nothing.
    """
    stderr = sys.stderr
    if not enabled or not stderr.isatty():
        # Bars are for people watching a terminal; logs and pipes get nothing.
        yield None
        return
    moved = 0

    def show(_item) -> str:
        return human_bytes(moved)

    if total:
        bar = click.progressbar(length=total, label=label, file=stderr,
                                item_show_func=show, show_pos=False)
    else:
        # A generator has no length: click then draws an open-ended bar.
        bar = click.progressbar((_ for _ in ()), label=label, file=stderr,
                                item_show_func=show)
    with bar:
        def progress(count: int) -> None:
            nonlocal moved
            moved += count
            if total:
                # The packed bundle is a little larger than its files: never overrun the bar.
                step = max(0, min(count, total - bar.pos))
                bar.update(step, moved)
            else:
                bar.update(count, moved)

        yield progress
