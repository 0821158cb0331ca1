"""The client against a connection that fails: a proxy between it and the real dev
chain drops the connection right after a transaction is submitted, or stops answering.
The client finds out whether the transaction landed before it reports anything, never
submits twice, and says what happened in words instead of hanging."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from substrateinterface import Keypair

from substrate_client.chain import Chain, connect
from substrate_client.errors import ChainConnectionError
from tests.chain_fixtures import UNIT, fresh_account, free_port


class FaultyProxy:
    """Forwards TCP between the client and the chain; can drop every connection when
    the chain first reports on a submitted transaction, or stop forwarding at all."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = free_port()
        self.drop_on_submit = False
        self.frozen = False
        self.drops = 0
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_chain: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.frozen:
                    time.sleep(0.05)
                # The chain's first word on a watched transaction: it is in the pool (and,
                # on a dev chain that builds a block per transaction, in a block).
                if from_chain and self.drop_on_submit and b"author_extrinsicUpdate" in data:
                    self.drop_on_submit = False
                    self.drops += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            sock.close()


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
