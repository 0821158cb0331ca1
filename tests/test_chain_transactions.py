"""A transaction and its outcome, in few requests.

Sent: the nonce's read checks the runtime, so nothing asks the node about it again
before the call is encoded and signed (a call encoded with another runtime's metadata is
encoded again). Landed: what it did is read from its block in two requests, only its own
events decoded, and it is exactly what substrate-interface's receipt (which decodes the
whole block) says, for transactions that succeed, fail in a pallet or fail in the
runtime, in a block shared with others."""

from __future__ import annotations

import pytest
from substrateinterface import ExtrinsicReceipt

from substrate_client.chain import Chain, connect, load_keypair
from substrate_client.chain_reads import RuntimeChanged
from substrate_client.chain_receipts import _EventWalker
from substrate_client.errors import InsufficientFundsError, NotFoundError
from tests.chain_fixtures import UNIT, fresh_accounts
from tests.test_marketplace import counting_requests


@pytest.fixture(scope="module")
def shared_block(substrate, dev_keys):
    """One block holding six transactions of four accounts: two transfers, a batch of
    remarks (many events of one transaction), a transfer of more than the sender has
    and a call of the pallet on a task that does not exist (both fail), and a transfer
    after them. Built by the dev chain with exactly these transactions."""
    alice, bob, carol, dave = fresh_accounts(substrate, dev_keys["alice"], 100 * UNIT, 4)
    plan = [
        (alice, "Balances", "transfer_keep_alive", {"dest": bob.ss58_address, "value": UNIT}),
        (bob, "Utility", "batch", {"calls": [substrate.compose_call("System", "remark_with_event", {"remark": f"0x0{i}"})
                                             for i in range(5)]}),
        (carol, "Balances", "transfer_keep_alive", {"dest": alice.ss58_address, "value": 1000 * UNIT}),
        (dave, "DecentralML", "assign_task", {"task_id": 10 ** 9}),
        (alice, "Balances", "transfer_keep_alive", {"dest": dave.ss58_address, "value": 2 * UNIT}),
    ]
    nonces: dict[str, int] = {}
    extrinsics = []
    for signer, module, function, params in plan:
        nonce = nonces.get(signer.ss58_address, 0)
        nonces[signer.ss58_address] = nonce + 1
        extrinsics.append(substrate.create_signed_extrinsic(
            call=substrate.compose_call(module, function, params), keypair=signer, nonce=nonce))
    substrate.rpc_request("dev_newBlock", [{"transactions": [str(e.data) for e in extrinsics]}])
    block_hash = substrate.get_chain_head()
    hashes = ["0x" + e.extrinsic_hash.hex() for e in extrinsics]
    return block_hash, hashes


@pytest.mark.dev_chain_only
def test_an_outcome_is_two_requests_and_what_substrate_interface_reads(shared_block, devnet_url):
    block_hash, hashes = shared_block
    chain = Chain(connect(devnet_url))
    chain.block_number()  # the connection's first read learns the runtime
    reference = connect(devnet_url)
    asked = counting_requests(chain)
    for extrinsic_hash in hashes:
        asked.clear()
        found = chain._receipts.read(extrinsic_hash, block_hash)
        assert asked == ["chain_getBlock", "state_queryStorageAt"]
        expected = ExtrinsicReceipt(substrate=reference, extrinsic_hash=extrinsic_hash, block_hash=block_hash)
        assert found is not None
        assert found.index == expected.extrinsic_idx
        assert [e.value for e in found.events] == [e.value for e in expected.triggered_events]
        assert found.success == expected.is_success
        assert found.fee == expected.total_fee_amount > 0
        assert found.block_number == reference.get_block_number(block_hash)
    assert [chain._receipts.read(h, block_hash).success for h in hashes] == [True, True, False, False, True]
    assert len(chain._receipts.read(hashes[1], block_hash).events) > 10  # the batch's own
    reference.close()


@pytest.mark.dev_chain_only
def test_a_failed_transaction_raises_its_error_by_name(shared_block, devnet_url):
    block_hash, hashes = shared_block
    chain = Chain(connect(devnet_url))
    chain.block_number()
    landed = ExtrinsicReceipt(substrate=chain.substrate, extrinsic_hash=hashes[3], block_hash=block_hash)
    with pytest.raises(NotFoundError) as raised:
        chain._outcome(landed)
    assert (raised.value.pallet, raised.value.name) == ("DecentralML", "TaskNotFound")
    assert raised.value.docs, "the pallet's documentation comes with the error"
    too_much = ExtrinsicReceipt(substrate=chain.substrate, extrinsic_hash=hashes[2], block_hash=block_hash)
    with pytest.raises(InsufficientFundsError) as raised:  # a runtime error, by its name too
        chain._outcome(too_much)
    assert (raised.value.pallet, raised.value.name) == ("System", "FundsUnavailable")
    receipt = chain._outcome(ExtrinsicReceipt(substrate=chain.substrate, extrinsic_hash=hashes[4],
                                              block_hash=block_hash))
    assert [e.name for e in receipt.events if e.module == "Balances"].count("Transfer") == 1


@pytest.mark.dev_chain_only
def test_events_of_another_runtime_or_unexpected_bytes_are_read_by_decoding_the_block(shared_block, devnet_url):
    """When the block's runtime is not the loaded one, or the walk over the event bytes
    does not end where they end, the receipt comes from substrate-interface's decoding of
    the whole block, and it is the same receipt."""
    block_hash, hashes = shared_block
    chain = Chain(connect(devnet_url))
    chain.block_number()
    lean = chain._outcome(ExtrinsicReceipt(substrate=chain.substrate, extrinsic_hash=hashes[1], block_hash=block_hash))

    def moved(*args):
        raise RuntimeChanged("moved")

    chain._storage.raw_at = moved
    assert chain._receipts.read(hashes[1], block_hash) is None
    slow = chain._outcome(ExtrinsicReceipt(substrate=chain.substrate, extrinsic_hash=hashes[1], block_hash=block_hash))
    assert slow == lean

    raw = chain.substrate.rpc_request("state_getStorageAt", [chain.storage_keys("Events", [[]], module="System")[0],
                                                             block_hash])["result"]
    walker = _EventWalker.from_metadata(chain.substrate.metadata)
    data = bytes.fromhex(raw[2:])
    assert walker.records_of(data, 1)
    assert walker.records_of(data[:-1], 1) is None  # cut short
    assert walker.records_of(data + b"\x00", 1) is None  # a byte too many
    assert walker.records_of(b"\x08" + data[1:], 1) is None  # a count the bytes do not hold


def test_a_transaction_is_nine_requests_the_nonce_read_checking_the_runtime(devnet_url, substrate, dev_keys):
    """Once a connection has signed before: the nonce (with the runtime's last upgrade),
    the era's best and finalized heads and its block's hash, the submission and its end,
    the block and its events. substrate-interface alone asks three more before encoding
    the call, three more before signing it, and decodes the whole block."""
    [sender] = fresh_accounts(substrate, dev_keys["alice"], 10 * UNIT, 1)
    chain = Chain(connect(devnet_url), sender)
    chain.block_number()  # a connection's first read learns the runtime
    chain.prepare_signing()
    asked = counting_requests(chain)
    receipt = chain.submit("remark_with_event", {"remark": "0x01"}, module="System")
    assert asked == ["state_queryStorageAt", "chain_getHeader", "chain_getFinalizedHead", "chain_getHeader",
                     "chain_getBlockHash", "author_submitAndWatchExtrinsic", "author_unwatchExtrinsic",
                     "chain_getBlock", "state_queryStorageAt"], asked
    assert receipt.first("Remarked", module="System").attributes["sender"] == sender.ss58_address


def test_a_call_encoded_with_another_runtime_is_encoded_again_before_it_is_signed(devnet_url, substrate, dev_keys):
    """A call (and the calls inside it) encoded before the runtime changed would name
    the wrong pallets and functions: the one the node's runtime does not know as its own
    is encoded again with the runtime the nonce's read found, and does what it says."""
    [sender] = fresh_accounts(substrate, dev_keys["alice"], 10 * UNIT, 1)
    chain = Chain(connect(devnet_url), sender)
    dest = load_keypair("//Ferdie").ss58_address
    inner = chain.call("transfer_keep_alive", {"dest": dest, "value": UNIT}, module="Balances")
    batch = chain.call("batch_all", {"calls": [inner, chain.call("remark_with_event", {"remark": "0x02"}, module="System")]},
                       module="Utility")
    inner.metadata = batch.metadata = object()  # as if encoded with another runtime's metadata
    before = chain.free_balance(dest)
    receipt = chain.submit_call(batch)
    assert [e.name for e in receipt.events if e.module in ("Balances", "System", "Utility")].count("ItemCompleted") == 2
    assert chain.free_balance(dest) == before + UNIT
    assert receipt.first("Remarked", module="System").attributes["sender"] == sender.ss58_address
