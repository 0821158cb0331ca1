"""The services a round needs on this machine: the dev chain and the storage daemons
(Kubo for IPFS, MinIO for S3), started unless they already run.

The chain is :mod:`substrate_client.devnet`'s, the storage daemons are
:mod:`substrate_client.devstorage`'s (the same files ``decentralml storage`` and
``scripts/storage.sh`` use, so either one stops what the other started).

The dev chain builds a block only when a transaction comes; a real chain builds one
every few seconds, whether or not anything happens, and whoever waits for "the next
block" counts on it. :class:`BlockClock` gives the dev chain that clock.
"""

from __future__ import annotations

import logging
import threading

from .. import devnet
from ..chain import chain_url, connect
from ..devstorage import StorageServices
from ..devstorage import down as storage_down
from ..devstorage import up as storage_up

__all__ = ["BlockClock", "StorageServices", "chain_up", "storage_down", "storage_up"]

log = logging.getLogger(__name__)


def chain_up(url: str | None, port: int) -> tuple[str, devnet.DevnetStatus | None]:
    """The node at ``url``, or else the local dev chain on ``port``, started unless it runs."""
    if url:
        return chain_url(url), None
    state = devnet.up(port)
    return state.url, state


class BlockClock:
    """While its block runs, a block every ``seconds`` that pass without one, as a real
    chain's block time would bring (Chopsticks' ``dev_newBlock``; a node without that
    method is left alone). On its own connection, in a thread of its own."""

    def __init__(self, url: str, seconds: float = 2.0):
        self.url = url
        self.seconds = seconds
        self.built = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="block-clock", daemon=True)

    def __enter__(self) -> "BlockClock":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            substrate = connect(self.url)
        except Exception as error:  # the run itself reports an unreachable chain
            log.info("no block clock: %s", error)
            return
        try:
            last = None
            while not self._stop.wait(self.seconds):
                head = substrate.get_block_number(substrate.get_chain_head())
                if head == last:
                    reply = substrate.rpc_request("dev_newBlock", [{}])
                    if "error" in (reply or {}):
                        log.info("no block clock: the node has no dev_newBlock (%s)", reply["error"])
                        return
                    self.built += 1
                    head = substrate.get_block_number(substrate.get_chain_head())
                last = head
        except Exception as error:  # a clock that stops leaves the run slower, not wrong
            log.info("the block clock stopped: %s", error)
        finally:
            substrate.close()
