"""The client on a chain with block times and finality: a call that moves money returns
only once its block is final, every transaction is mortal, and transactions sent at once
by one account (two threads, two connections) never share a nonce.

Runs against the dev chain (which finalizes each block as it builds it) and, with
``scripts/test.sh --network``, against the three-validator network (6 s blocks, GRANDPA).
"""

from __future__ import annotations

import logging
import threading

import pytest
from substrateinterface import Keypair

from substrate_client.chain import MORTAL_PERIOD, Chain, connect
from substrate_client.chain_finality import FinalitySettings, must_be_final
from substrate_client.errors import ChainError, ConfigError
from substrate_client.nonces import NONCES
from tests.chain_fixtures import UNIT, fresh_account
from tests.fixtures import jump_to


def stranger() -> Keypair:
    return Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=42)


def finalized_head(substrate) -> int:
    return substrate.get_block_number(substrate.get_chain_finalised_head())


def sent_extrinsic(substrate, receipt):
    """The extrinsic of ``receipt`` as its block holds it, decoded."""
    for extrinsic in substrate.get_extrinsics(block_hash=receipt.block_hash):
        if "0x" + bytes(extrinsic.extrinsic_hash).hex() == receipt.extrinsic_hash:
            return extrinsic.value
    raise AssertionError(f"{receipt.extrinsic_hash} is not in block {receipt.block_hash}")


@pytest.fixture
def sender(substrate, dev_keys) -> Chain:
    """A fresh funded account with a connection of its own."""
    chain = Chain(connect(substrate.url), fresh_account(substrate, dev_keys["alice"], 100 * UNIT))
    yield chain
    chain.substrate.close()


def test_a_money_moving_call_returns_once_its_block_is_final(substrate, sender, caplog):
    receiver = stranger()
    with caplog.at_level(logging.INFO, logger="substrate_client.chain_finality"):
        receipt = sender.transfer(receiver.ss58_address, 2 * UNIT)
    assert receipt.finalized
    assert finalized_head(substrate) >= receipt.block_number
    # the block finalized at that height is the one the transaction is in
    assert substrate.get_block_hash(receipt.block_number) == receipt.block_hash
    assert substrate.query("System", "Account", [receiver.ss58_address]).value["data"]["free"] \
        == 2 * UNIT
    if not is_dev_chain(substrate):
        # GRANDPA finalizes a block only after it is imported and voted on: the wait
        # was seen, in words
        assert f"waiting for block {receipt.block_number} to be finalized" in caplog.text


def is_dev_chain(substrate) -> bool:
    """Whether the chain is Chopsticks, which finalizes each block as it builds it."""
    return "dev_newBlock" in substrate.rpc_request("rpc_methods", [])["result"]["methods"]


def test_a_call_that_moves_no_money_waits_for_inclusion_only(sender):
    receipt = sender.submit("remark", {"remark": "0x" + b"hello".hex()}, module="System")
    assert not receipt.finalized
    assert receipt.block_number > 0


def test_every_marketplace_call_but_the_commit_and_a_batch_or_sudo_of_one_waits_for_finality(
        substrate):
    """Every call of the pallet moves or releases money except the commit (whose reveal,
    which does, can only land after it); a batch or sudo carrying one is final too, a
    remark is not."""
    pallet = substrate.get_metadata_module("DecentralML")
    names = {call.name for call in pallet.calls}
    assert "commit_task_result" in names, "the runtime has the marketplace's calls"
    for name in names:
        assert must_be_final({"call_module": "DecentralML", "call_function": name}) \
            == (name != "commit_task_result"), name
    transfer = substrate.compose_call("Balances", "transfer_keep_alive",
                                      {"dest": stranger().ss58_address, "value": UNIT})
    remark = substrate.compose_call("System", "remark", {"remark": "0x00"})
    assert must_be_final(transfer) and not must_be_final(remark)
    assert must_be_final(substrate.compose_call("Utility", "batch_all", {"calls": [remark, transfer]}))
    assert not must_be_final(substrate.compose_call("Utility", "batch", {"calls": [remark]}))
    assert must_be_final(substrate.compose_call("Sudo", "sudo", {"call": transfer}))


def test_a_transaction_is_mortal(substrate, sender):
    receipt = sender.transfer(stranger().ss58_address, UNIT)
    era = sent_extrinsic(substrate, receipt)["era"]
    assert era != "00", "the transaction is immortal"
    period, phase = era
    assert period == MORTAL_PERIOD
    # born on a block before the one that took it in, which is within its era
    assert 0 < receipt.block_number - _birth(period, phase, receipt.block_number) <= MORTAL_PERIOD


def _birth(period: int, phase: int, current: int) -> int:
    return (max(current, phase) - phase) // period * period + phase


@pytest.mark.dev_chain_only
def test_a_transaction_signed_longer_ago_than_its_era_is_refused(substrate, sender):
    """A stale transaction dies instead of lingering: signed now, sent after its era."""
    call = sender.call("transfer_keep_alive", {"dest": stranger().ss58_address, "value": UNIT},
                       module="Balances")
    signer = (sender.genesis_hash, sender.keypair.public_key)
    extrinsic, nonce, birth = sender._sign(call, sender.keypair, signer)
    NONCES.settle(signer, nonce)
    jump_to(substrate, birth + MORTAL_PERIOD + 2)
    with pytest.raises(ChainError, match="refused"):
        sender._send(extrinsic, birth, may_retry=False)
    assert sender.query("Account", [sender.address], module="System")["nonce"] == 0


def test_two_connections_of_one_account_sending_at_once_never_share_a_nonce(substrate, dev_keys):
    keypair = fresh_account(substrate, dev_keys["alice"], 100 * UNIT)
    receiver = stranger()
    chains = [Chain(connect(substrate.url), keypair) for _ in range(2)]
    per_chain = 4
    failures: list[BaseException] = []
    start = threading.Barrier(len(chains))

    def send(chain: Chain) -> None:
        start.wait()
        for _ in range(per_chain):
            try:
                chain.transfer(receiver.ss58_address, UNIT)
            except BaseException as error:  # reported below, with the others
                failures.append(error)

    threads = [threading.Thread(target=send, args=(c,)) for c in chains]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    for chain in chains:
        chain.substrate.close()
    assert not failures, failures
    account = substrate.query("System", "Account", [receiver.ss58_address]).value
    assert account["data"]["free"] == len(chains) * per_chain * UNIT
    assert substrate.query("System", "Account", [keypair.ss58_address]).value["nonce"] \
        == len(chains) * per_chain


def test_a_nonce_another_process_took_first_is_retried_with_a_fresh_one(substrate, sender, caplog):
    """Another program of the same account (here: substrate-interface alone, with its own
    connection) lands a transaction with the very nonce this client just read from the
    account's record: the node refuses ours as outdated, and the client signs it again
    with the node's pool-aware next nonce."""
    other = connect(substrate.url)
    receiver = stranger()
    account_key = sender.storage_keys("Account", [[sender.address]], module="System")[0]
    sender.block_number()  # a connection's first read also learns the runtime (and reads again)
    asked = sender.substrate.rpc_request
    raced, pool_aware = [], []

    def race(nonce: int) -> None:
        raced.append(nonce)
        call = other.compose_call("Balances", "transfer_keep_alive",
                                  {"dest": receiver.ss58_address, "value": 5 * UNIT})
        extrinsic = other.create_signed_extrinsic(call=call, keypair=sender.keypair, nonce=nonce)
        assert other.submit_extrinsic(extrinsic, wait_for_inclusion=True).is_success

    def rpc_request(method, params, *args, **kwargs):
        answer = asked(method, params, *args, **kwargs)
        if method == "system_accountNextIndex":
            pool_aware.append(answer["result"])
        if method == "state_queryStorageAt" and account_key in params[0] and not raced:
            race(substrate.query("System", "Account", [sender.address]).value["nonce"])  # the nonce just read
        return answer

    sender.substrate.rpc_request = rpc_request
    with caplog.at_level(logging.INFO, logger="substrate_client.chain"):
        receipt = sender.transfer(receiver.ss58_address, 7 * UNIT)
    other.close()
    assert raced == [0]
    assert pool_aware == [1]  # only the retry asks the node's pool-aware count
    assert "signing again with a fresh nonce" in caplog.text
    assert sent_extrinsic(substrate, receipt)["nonce"] == 1
    assert substrate.query("System", "Account", [receiver.ss58_address]).value["data"]["free"] \
        == 12 * UNIT
    assert substrate.query("System", "Account", [sender.address]).value["nonce"] == 2


def test_finality_settings_come_from_the_environment_and_bad_ones_are_named():
    settings = FinalitySettings.from_environment({"DECENTRALML_FINALITY_STALL_SECONDS": "5",
                                                  "DECENTRALML_FINALITY_TIMEOUT": "120"})
    assert (settings.stall_seconds, settings.timeout) == (5.0, 120.0)
    assert FinalitySettings.from_environment({}).stall_seconds == 30.0
    for bad in ("soon", "0", "-3"):
        with pytest.raises(ConfigError, match="DECENTRALML_FINALITY_TIMEOUT"):
            FinalitySettings.from_environment({"DECENTRALML_FINALITY_TIMEOUT": bad})


def test_preparing_to_sign_sends_nothing_and_takes_no_nonce(substrate, sender):
    head = substrate.get_block_number(None)
    sender.prepare_signing()
    assert sender._genesis_hash == substrate.get_block_hash(0)
    assert substrate.rpc_request("author_pendingExtrinsics", [])["result"] == []
    assert substrate.get_block_number(None) == head
    receipt = sender.transfer(stranger().ss58_address, UNIT)
    assert sent_extrinsic(substrate, receipt)["nonce"] == 0
