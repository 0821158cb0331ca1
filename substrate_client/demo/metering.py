"""Where the round's time and money go: wall time per phase, and every transaction's fee
per signer.

A phase nested in another (the storage transfer inside a chain call) is counted in the
inner phase only.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

from ..chain import Chain, Receipt
from ..storage import StorageBackend

#: Phases the round's time is split into (see :class:`PhaseTimer`).
PHASES = ("setup", "training", "chain", "storage", "validation", "federation")


class PhaseTimer:
    """Wall time per phase; a phase entered inside another is counted only in the inner one."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(PHASES, 0.0)
        self._stack: list[list[Any]] = []  # [name, start of its current slice]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        now = time.perf_counter()
        if self._stack:
            outer = self._stack[-1]
            self.totals[outer[0]] = self.totals.get(outer[0], 0.0) + now - outer[1]
        self._stack.append([name, now])
        try:
            yield
        finally:
            end = time.perf_counter()
            inner = self._stack.pop()
            self.totals[name] = self.totals.get(name, 0.0) + end - inner[1]
            if self._stack:
                self._stack[-1][1] = end


class TimedBackend:
    """A storage backend whose transfers are counted in the ``storage`` phase."""

    def __init__(self, inner: StorageBackend, timer: PhaseTimer):
        self._inner = inner
        self._timer = timer
        self.storage_type = inner.storage_type

    def put_file(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.put_file(*args, **kwargs)

    def put_stream(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.put_stream(*args, **kwargs)

    def get_file(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.get_file(*args, **kwargs)

    def exists(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.exists(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return repr(self._inner)


class LedgerChain(Chain):
    """A signer's chain connection that adds up the fees of what it submits."""

    def __init__(self, substrate, keypair, fees: dict[str, int]):
        super().__init__(substrate, keypair)
        self._fees = fees

    def submit_call(self, call: Any) -> Receipt:
        receipt = super().submit_call(call)
        self._fees[self.address] = self._fees.get(self.address, 0) + receipt.fee
        return receipt
