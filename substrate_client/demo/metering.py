"""Where the round's time and money go: wall time per phase, and every transaction's fee
per signer.

A phase nested in another (the storage transfer inside a chain call) is counted in the
inner phase only.
"""

from __future__ import annotations

import contextlib
import sys
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

    @contextlib.contextmanager
    def open_object(self, *args, **kwargs) -> Iterator["_TimedStream"]:
        """The inner backend's stream, whose reads (waiting for the bytes, checking them)
        count as storage; what the reader does with them between reads (unpacking) does not."""
        opened = self._inner.open_object(*args, **kwargs)
        with self._timer.phase("storage"):
            stream = opened.__enter__()
        try:
            yield _TimedStream(stream, self._timer)
        finally:
            with self._timer.phase("storage"):  # closing stops the fetching thread
                opened.__exit__(*sys.exc_info())

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return repr(self._inner)


class _TimedStream:
    """An :class:`~substrate_client.storage.base.ObjectStream` whose reading is timed as storage."""

    def __init__(self, inner, timer: PhaseTimer):
        self._inner = inner
        self._timer = timer

    def _timed(name: str):
        def call(self, *args, **kwargs):
            with self._timer.phase("storage"):
                return getattr(self._inner, name)(*args, **kwargs)
        call.__name__ = name
        return call

    read_chunk = _timed("read_chunk")
    peek = _timed("peek")
    verify = _timed("verify")
    save = _timed("save")
    del _timed

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class LedgerChain(Chain):
    """A signer's chain connection that adds up the fees of what it submits (and, given a
    timer, counts the submissions in its ``chain`` phase)."""

    def __init__(self, substrate, keypair, fees: dict[str, int], timer: PhaseTimer | None = None):
        super().__init__(substrate, keypair)
        self._fees = fees
        self._timer = timer

    def submit_call(self, call: Any) -> Receipt:
        with self._timer.phase("chain") if self._timer else contextlib.nullcontext():
            receipt = super().submit_call(call)
        self._fees[self.address] = self._fees.get(self.address, 0) + receipt.fee
        return receipt
