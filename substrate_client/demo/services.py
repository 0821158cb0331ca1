"""The services a round needs on this machine: the dev chain and the storage daemons
(Kubo for IPFS, MinIO for S3), started unless they already run.

The chain is :mod:`substrate_client.devnet`'s, the storage daemons are
:mod:`substrate_client.devstorage`'s (the same files ``decentralml storage`` and
``scripts/storage.sh`` use, so either one stops what the other started).
"""

from __future__ import annotations

from .. import devnet
from ..chain import chain_url
from ..devstorage import StorageServices
from ..devstorage import down as storage_down
from ..devstorage import up as storage_up

__all__ = ["StorageServices", "chain_up", "storage_down", "storage_up"]


def chain_up(url: str | None, port: int) -> tuple[str, devnet.DevnetStatus | None]:
    """The node at ``url``, or else the local dev chain on ``port``, started unless it runs."""
    if url:
        return chain_url(url), None
    state = devnet.up(port)
    return state.url, state
