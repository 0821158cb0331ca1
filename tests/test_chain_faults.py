"""The client against a connection that fails: a proxy between it and the real dev
chain drops the connection right after a transaction is submitted, or stops answering.
The client finds out whether the transaction landed before it reports anything, never
submits twice, and says what happened in words instead of hanging."""

from __future__ import annotations

import time

import pytest
from substrateinterface import Keypair

from substrate_client.chain import Chain, connect
from substrate_client.errors import ChainConnectionError
from tests.chain_fixtures import UNIT, fresh_account
from tests.faults import FaultyProxy


@pytest.fixture
def proxy(devnet_url):
    port = int(devnet_url.rsplit(":", 1)[1])
    p = FaultyProxy(port)
    yield p
    p.close()


def nonce(substrate, address: str) -> int:
    return substrate.query("System", "Account", [address]).value["nonce"]


def test_a_transfer_whose_connection_drops_after_submit_lands_once(substrate, dev_keys, proxy):
    sender = fresh_account(substrate, dev_keys["alice"], 100 * UNIT)
    receiver = Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=42)
    chain = Chain(connect(proxy.url, timeout=10), sender)
    proxy.drop_on_submit = True
    receipt = chain.transfer(receiver.ss58_address, 3 * UNIT)
    assert proxy.drops == 1, "the proxy dropped the connection mid-submit"
    assert receipt.block_hash
    assert substrate.query("System", "Account", [receiver.ss58_address]).value["data"]["free"] == 3 * UNIT
    assert nonce(substrate, sender.ss58_address) == 1  # one transaction, not two


def test_a_chain_that_stops_answering_is_reported_in_words(substrate, dev_keys, proxy):
    chain = Chain(connect(proxy.url, timeout=2), dev_keys["bob"], reconnect_attempts=1)
    proxy.frozen = True
    started = time.monotonic()
    with pytest.raises(ChainConnectionError, match="lost the connection to the chain"):
        chain.block_number()
    assert time.monotonic() - started < 30
