"""A bundle's run started while its slot is still being taken (``decentralml work
--start-early``).

Taking a slot costs a block or two; on a busy chain, more. Training does not need the
slot, only the verified bundle, so the agent may start ``start_task.sh`` first and take
the slot meanwhile: the slot's wait is hidden behind training. If the chain refuses the
slot (another contributor took the last one), the run is killed and nothing is sent.
The bundle is then told no submission id (``DECENTRALML_SUBMISSION_ID`` is empty).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO, Callable

from .. import sandbox
from ..contribute import Contributor, FetchedBundle


def echo_to(lines: IO[str], output: Callable[[str], None] | None) -> Callable[[str], None]:
    """Where a run's output lines go: the open log file, flushed per line, and ``output``."""
    def echo(line: str) -> None:
        lines.write(line + "\n")
        lines.flush()
        if output is not None:
            output(line)

    return echo


class BackgroundRun:
    """``start_task.sh`` of a fetched bundle running in a thread of its own; its output
    goes to ``log_file`` and ``output``."""

    def __init__(self, contributor: Contributor, fetched: FetchedBundle, log_file: Path,
                 output: Callable[[str], None] | None = None):
        self._cancel = threading.Event()
        self._run: sandbox.BundleRun | None = None
        self._error: BaseException | None = None

        def train() -> None:
            try:
                with open(log_file, "a", encoding="utf-8") as lines:
                    self._run = contributor.run_bundle(fetched.task, fetched.bundle_dir, fetched.box,
                                                       None, echo=echo_to(lines, output),
                                                       cancel=self._cancel)
            except BaseException as error:  # handed to whoever waits for the run
                self._error = error

        self._thread = threading.Thread(target=train, daemon=True,
                                        name=f"training-task-{fetched.task.task_id}")
        self._thread.start()

    def cancel(self) -> None:
        """Kill the run and wait until it is gone."""
        self._cancel.set()
        self._thread.join()

    def wait(self) -> sandbox.BundleRun:
        """How the run ended, once it has; a signal handler that raises while this waits
        leaves the run going (call :meth:`cancel`)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._run is not None
        return self._run
