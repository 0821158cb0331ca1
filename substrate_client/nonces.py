"""The nonces a process has handed out and not yet seen settled, per signer.

A nonce is read from the account's record at the best block (and, after a refusal,
from the node's ``system_accountNextIndex``, which also counts the account's
transactions waiting in its pool: another process's, say). Neither can count a
transaction of this process that has been signed but is not in a block yet: two
threads, or two ``Chain`` objects of one account, asking at the same moment would get
the same number. So each nonce taken here stays "in flight" until its
submission is settled (in a block, refused or lost) and is skipped by the next taker.

Nothing is remembered past that: a transaction the pool dropped later must not leave a
gap that every later transaction of the account would wait behind forever.
"""

from __future__ import annotations

import threading
from typing import Callable, Hashable


class NonceBook:
    """Nonces in flight, by signer (any hashable key: chain and account)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[Hashable, set[int]] = {}

    def take(self, signer: Hashable, next_on_chain: Callable[[], int]) -> int:
        """The first nonce from ``next_on_chain()`` on that no submission of this process
        holds; held until :meth:`settle`."""
        with self._lock:
            held = self._in_flight.setdefault(signer, set())
            nonce = int(next_on_chain())
            while nonce in held:
                nonce += 1
            held.add(nonce)
            return nonce

    def settle(self, signer: Hashable, nonce: int) -> None:
        """The submission that held ``nonce`` is over: the node now counts it, or it
        will never land."""
        with self._lock:
            held = self._in_flight.get(signer)
            if held is not None:
                held.discard(nonce)
                if not held:
                    del self._in_flight[signer]


#: The one book of this process: every ``Chain`` of an account shares it.
NONCES = NonceBook()
