"""Running agents as processes of their own (``decentralml --json work ...``), as a main job
or a test starts several contributors at once, and following their steps as they come.

    agent = AgentProcess.start(["--campaign", "0", "--shard-index", "1", "--num-shards", "3",
                                "--work-dir", "work"],
                               env={**os.environ, "DECENTRALML_SURI": "//Bob"},
                               stderr=Path("bob.log"))
    agent.wait_for("sent", timeout=600)        # the first result it sent, as a dict
    agent.interrupt()                          # Ctrl-C: finish the slot, stop
    code = agent.finish()

The signer goes in the environment (``DECENTRALML_SURI`` or ``DECENTRALML_KEY_FILE``),
never in the arguments. Each step is the JSON object ``work --json`` prints: ``step``
(start, take, slot, train, trained, send, sent, skip, failed, retry, resume, watch,
stopping, released, stopped), ``message``, ``task_id``, ``submission_id`` and the step's
details.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence


def work_command(args: Sequence[Any], python: str = sys.executable) -> list[str]:
    """The command line of an agent printing JSON steps: ``python -m substrate_client.cli
    --json work ARGS``."""
    return [python, "-m", "substrate_client.cli", "--json", "work", *map(str, args)]


class AgentProcess:
    """One ``decentralml --json work`` process and the steps it printed so far."""

    def __init__(self, proc: subprocess.Popen, stderr: Path | None = None):
        self.proc = proc
        self.stderr = stderr
        self.steps: list[dict] = []
        self._seen: set[int] = set()  # indexes of steps a wait_for returned
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def start(cls, args: Sequence[Any], env: Mapping[str, str], stderr: Path | None = None,
              cwd: Path | None = None, python: str = sys.executable) -> "AgentProcess":
        """Start ``decentralml --json work ARGS`` with ``env`` (which holds the signer);
        its stderr (warnings, and the bundle's output with ``-v``) goes to ``stderr``."""
        err = open(stderr, "ab") if stderr is not None else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(work_command(args, python), stdout=subprocess.PIPE,
                                    stderr=err, stdin=subprocess.DEVNULL, env=dict(env),
                                    cwd=cwd, text=True)
        finally:
            if stderr is not None:
                err.close()
        return cls(proc, stderr)

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self._lines.put(json.loads(line))
            except ValueError:
                continue
        self._lines.put(None)

    def _take(self, timeout: float) -> bool:
        """Move one step from the process into ``steps``; False when it ended or time ran out."""
        try:
            step = self._lines.get(timeout=max(0.05, timeout))
        except queue.Empty:
            return False
        if step is None:
            self._lines.put(None)  # stays ended
            return False
        self.steps.append(step)
        return True

    def wait_for(self, kind: str, timeout: float = 600, **fields: Any) -> dict:
        """The first step of ``kind`` (whose fields equal ``fields``) no earlier wait_for
        returned. Raises TimeoutError naming the steps so far if none comes in time (or
        the process ends)."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for n in range(checked, len(self.steps)):
                step = self.steps[n]
                if n not in self._seen and step.get("step") == kind and \
                        all(step.get(k) == v for k, v in fields.items()):
                    self._seen.add(n)
                    return step
            checked = len(self.steps)
            left = deadline - time.monotonic()
            if left <= 0 or not self._take(left):
                if len(self.steps) > checked:
                    continue
                raise TimeoutError(f"no {kind} step {fields or ''} within {timeout:g} s "
                                   f"(exit code {self.proc.poll()}); steps: "
                                   f"{[s.get('message') for s in self.steps]}")

    def messages(self, kind: str | None = None) -> list[str]:
        return [s.get("message", "") for s in self.steps if kind is None or s.get("step") == kind]

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        """Ctrl-C (or SIGTERM, taken the same way): finish the slot in progress, then
        stop (twice: give the slot up)."""
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 600) -> int:
        """Wait for the process to end; its exit code. Every step it printed is in ``steps``."""
        code = self.proc.wait(timeout=timeout)
        while self._take(10):
            pass
        return code

    def kill(self) -> None:
        """End it at once, if it still runs (SIGKILL: what it trained stays on disk)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
