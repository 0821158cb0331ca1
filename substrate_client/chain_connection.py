"""Opening a connection to the node.

:func:`connect` gives a :class:`Connection`: substrate-interface's, with its metadata
loaded, a timeout on a silent node, and fewer questions asked of the node before each
transaction (see the class). Connection failures come back as
:class:`~substrate_client.errors.ChainConnectionError` saying how to start the dev chain.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator

from substrateinterface import SubstrateInterface
from websocket import WebSocketException

from .config import DEFAULT_URL, from_environment
from .errors import ChainConnectionError

log = logging.getLogger(__name__)

SS58_FORMAT = 42
#: Seconds without a word from the node before a request counts as lost.
RPC_TIMEOUT = 60.0

#: substrate-interface decodes metadata into a type registry its connections share: two
#: connections loading it at once (say, one per thread) corrupt it, so they take turns.
METADATA_LOCK = threading.Lock()

#: What a dropped, refused or silent connection raises, from the socket up.
CONNECTION_ERRORS = (ConnectionError, OSError, TimeoutError, WebSocketException)


def chain_url(url: str | None = None) -> str:
    """The node to talk to: the argument, else ``DECENTRALML_URL``, else the dev chain."""
    return url or from_environment().url or DEFAULT_URL


class Connection(SubstrateInterface):
    """substrate-interface's connection, asking the node fewer questions.

    Before it composes a call, and again before it signs one, substrate-interface asks
    the node for its head, that head's header and its runtime version (six requests a
    transaction), and for block 0's hash at every signature. A :class:`Chain` composes
    and signs right after a read that checked the runtime (the nonce, read with
    ``System::LastRuntimeUpgrade``: :mod:`substrate_client.chain_reads`), so inside
    :meth:`runtime_as_loaded` the runtime already loaded is used without asking. Block
    0's hash is asked once a connection."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._runtime_as_loaded = False
        self._block_zero: str | None = None
        super().__init__(*args, **kwargs)

    @contextlib.contextmanager
    def runtime_as_loaded(self) -> Iterator[None]:
        self._runtime_as_loaded = True
        try:
            yield
        finally:
            self._runtime_as_loaded = False

    def init_runtime(self, block_hash=None, block_id=None):
        if self._runtime_as_loaded and block_hash is None and block_id is None and self.metadata is not None:
            return None
        return super().init_runtime(block_hash=block_hash, block_id=block_id)

    def get_block_hash(self, block_id: int = None) -> str:
        if block_id != 0:
            return super().get_block_hash(block_id)
        if self._block_zero is None:
            self._block_zero = super().get_block_hash(0)
        return self._block_zero

    def connect_websocket(self):
        self._block_zero = None  # the node answering after a drop may be another chain
        return super().connect_websocket()


def connect(url: str | None = None, timeout: float = RPC_TIMEOUT) -> SubstrateInterface:
    """Open a websocket connection to the node and load its metadata. A node that stops
    answering for ``timeout`` seconds raises instead of hanging the client."""
    url = chain_url(url)
    try:
        with METADATA_LOCK:
            # websocket-client checks every text frame's UTF-8 in pure Python before
            # decoding it with Python's own (strict) decoder: the check cost more than
            # reading a frame, in every watcher, at every block.
            substrate = Connection(url=url, ss58_format=SS58_FORMAT,
                                   ws_options={"timeout": timeout, "skip_utf8_validation": True})
            substrate.init_runtime()
    except Exception as error:
        # websocket libraries raise their own types for a refused or failed connection
        refused = isinstance(error, CONNECTION_ERRORS) \
            or "refused" in str(error).lower() or "connect" in type(error).__name__.lower()
        if not refused:
            raise
        raise ChainConnectionError(
            f"cannot reach the chain at {url} ({error}). Start the local dev chain with "
            "`decentralml devnet up` (or scripts/devnet.sh up), or pass --url / set DECENTRALML_URL."
        ) from error
    log.debug("connected to %s (%s)", url, substrate.runtime_version)
    return substrate
