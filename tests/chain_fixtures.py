"""Fixtures that start the real dev chain (Chopsticks executing our runtime wasm)
on a free port for the test session, and tear it down afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from substrateinterface import Keypair, SubstrateInterface

from substrate_client import devnet
from tests.daemons import on_a_free_port

UNIT = 10**12


#: A running network to test against instead of a fresh dev chain (``scripts/test.sh
#: --network``): tests marked ``dev_chain_only`` are then left out.
NETWORK_VARIABLE = "DECENTRALML_TEST_NETWORK_URL"


def network_url() -> str | None:
    """The network the tests run against, if not a dev chain of their own."""
    return os.environ.get(NETWORK_VARIABLE) or None


@pytest.fixture(scope="session")
def devnet_url(tmp_path_factory) -> str:
    """A fresh dev chain for the session, or the network named by
    ``DECENTRALML_TEST_NETWORK_URL``. Fails (never skips) if it cannot start."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DECENTRALML_RUN_DIR", str(tmp_path_factory.mktemp("devnet")))
        # What clients remember between sending steps stays inside the test session.
        env.setenv("DECENTRALML_STATE_DIR", str(tmp_path_factory.mktemp("client-state")))
        if network_url():
            yield network_url()
            return
        try:
            state = on_a_free_port(lambda port: devnet.up(port, timeout=180))
        except Exception as error:
            pytest.fail(f"the dev chain could not start: {error}", pytrace=False)
        yield state.url
        devnet.down(state.port)


@pytest.fixture(scope="session")
def substrate(devnet_url) -> SubstrateInterface:
    connection = SubstrateInterface(url=devnet_url, ss58_format=42)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def dev_keys() -> dict[str, Keypair]:
    names = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"]
    return {n.lower(): Keypair.create_from_uri(f"//{n}", ss58_format=42) for n in names}


def submit_raw(substrate: SubstrateInterface, signer: Keypair, module: str, function: str,
               params: dict):
    """Sign and submit one call with substrate-interface alone (no client code), waiting
    for its block; the receipt (check ``is_success``)."""
    call = substrate.compose_call(module, function, params)
    extrinsic = substrate.create_signed_extrinsic(call=call, keypair=signer)
    return substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)


def fresh_account(substrate: SubstrateInterface, funder: Keypair, amount: int) -> Keypair:
    """A new random account funded by ``funder``, so tests do not share balances."""
    keypair = Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=42)
    receipt = submit_raw(substrate, funder, "Balances", "transfer_keep_alive",
                         {"dest": keypair.ss58_address, "value": amount})
    assert receipt.is_success, receipt.error_message
    return keypair


def fresh_accounts(substrate: SubstrateInterface, funder: Keypair, amount: int,
                   count: int) -> list[Keypair]:
    """``count`` new random accounts funded by ``funder`` in one transaction (one block,
    not ``count``: on a network of 6 s blocks that is what a test waits for)."""
    keypairs = [Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=42)
                for _ in range(count)]
    transfers = [substrate.compose_call("Balances", "transfer_keep_alive",
                                        {"dest": k.ss58_address, "value": amount})
                 for k in keypairs]
    receipt = submit_raw(substrate, funder, "Utility", "batch_all", {"calls": transfers})
    assert receipt.is_success, receipt.error_message
    return keypairs


def spec_path() -> Path:
    return devnet.chain_spec_path()
