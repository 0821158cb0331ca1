"""Validators going down during a marketplace round, on the network of four validators of our
own node (``bash scripts/network.sh up``): with one of four down, blocks and finality go on
and the round completes with every result and payment accounted for; with two down (no more
than two thirds of the votes), finality stalls, the client says so in words while it waits,
and the round completes once one returns.

Money is checked exactly: each account's total balance (free + held) moves by what the
chain's events say it was paid, minus the fees they say it paid, between a block before the
round and the block that closed it."""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from substrateinterface import Keypair

from substrate_client.chain import Chain, connect, decode_event
from substrate_client.marketplace import Marketplace
from substrate_client.records import SubmissionStatus

UNIT = 10**12
REWARD = 2 * UNIT
STALL_WORDS = re.compile(r"finality has not advanced for \d+ ?s")


@pytest.fixture
def people(validators, tmp_path, monkeypatch):
    """``people(n)``: n fresh accounts funded by Alice in one batch, each with its own
    connection to Alice's node and a Marketplace on a shared local store."""
    # What a contributor remembers between commit and reveal stays in this test.
    monkeypatch.setenv("DECENTRALML_STATE_DIR", str(tmp_path / "state"))
    settings = {"root": str(tmp_path / "store")}
    chains = []

    def make(count: int) -> list[Marketplace]:
        funder = Chain(connect(validators.url()), Keypair.create_from_uri("//Alice", ss58_format=42))
        chains.append(funder)
        keypairs = [Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=42)
                    for _ in range(count)]
        funder.submit_batch([
            funder.call("transfer_keep_alive", {"dest": k.ss58_address, "value": 500 * UNIT},
                        module="Balances")
            for k in keypairs])
        markets = [Marketplace(Chain(connect(validators.url()), k), settings) for k in keypairs]
        chains.extend(m.chain for m in markets)
        return markets

    yield make
    for chain in chains:
        chain.substrate.close()


def make_bundle(root: Path) -> Path:
    """A tiny task bundle: a script that trains nothing and a few bytes of model."""
    bundle = root / "bundle"
    (bundle / "model").mkdir(parents=True)
    (bundle / "model" / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (bundle / "start_task.sh").write_text("#!/bin/sh\necho training\n")
    (bundle / "start_task.sh").chmod(0o755)
    return bundle


def create_task(creator: Marketplace, tmp_path: Path, slots: int):
    return creator.create_task_model_contributor(
        question="Train the MLP on your digits", pays_amount=REWARD, max_assignments=slots,
        model_contributor_script_path=make_bundle(tmp_path),
        model_contributor_script_storage_type="Local", expires_in_blocks=200)


def contribute(contributor: Marketplace, task_id: int, work: Path) -> int:
    """Take a slot and send a result (commit, then reveal); the submission id."""
    submission_id = contributor.assign_task(task_id, work / "bundle").submission_id
    result = work / "result"
    result.mkdir(parents=True)
    (result / "result.txt").write_text(f"trained by {contributor.chain.address}")
    contributor.send_task_result(submission_id, result="accuracy=0.9", result_path=result,
                                 result_storage_type="Local")
    return submission_id


def contribute_all(contributors: list[Marketplace], task_id: int, tmp_path: Path) -> list[int]:
    """Every contributor at once, each on its own connection."""
    with ThreadPoolExecutor(len(contributors)) as pool:
        futures = [pool.submit(contribute, c, task_id, tmp_path / f"contributor{i}")
                   for i, c in enumerate(contributors)]
        return [f.result(timeout=600) for f in futures]


def settled_block(validators, market: Marketplace) -> int:
    """The best block now, once it is final (so its balances are the chain's for good)."""
    block = market.chain.block_number()
    validators.wait_for(f"block #{block} finalized",
                        lambda: validators.head("alice").finalized >= block)
    return block


def totals(market: Marketplace, addresses: list[str], block: int) -> dict[str, int]:
    """Each account's free + held balance at ``block``."""
    substrate = market.chain.substrate
    block_hash = substrate.get_block_hash(block)
    found = {}
    for address in addresses:
        data = substrate.query("System", "Account", [address], block_hash=block_hash).value["data"]
        found[address] = int(data["free"]) + int(data["reserved"])
    return found


def money_in_events(market: Marketplace, first: int, last: int) -> tuple[dict, dict]:
    """(fees paid, rewards received) per account, from the events of blocks first..last."""
    substrate = market.chain.substrate
    fees, paid = defaultdict(int), defaultdict(int)
    for number in range(first, last + 1):
        for record in substrate.get_events(substrate.get_block_hash(number)):
            event = decode_event(record)
            if (event.module, event.name) == ("TransactionPayment", "TransactionFeePaid"):
                fees[event.attributes["who"]] += int(event.attributes["actual_fee"]) \
                    + int(event.attributes["tip"])
            elif (event.module, event.name) == ("DecentralML", "ResultAccepted"):
                paid[event.attributes["contributor"]] += int(event.attributes["paid"])
    return fees, paid


def assert_paid_exactly(creator: Marketplace, contributors: list[Marketplace], before_block: int,
                        after_block: int, before: dict[str, int]) -> None:
    """Each contributor gained exactly one reward less its fees, and the creator lost
    exactly the rewards plus its fees: nothing paid twice, nothing lost."""
    addresses = [creator.chain.address] + [c.chain.address for c in contributors]
    after = totals(creator, addresses, after_block)
    fees, paid = money_in_events(creator, before_block + 1, after_block)
    for contributor in contributors:
        address = contributor.chain.address
        assert paid[address] == REWARD, f"{address} was paid {paid[address]}, not one reward"
        assert after[address] - before[address] == REWARD - fees[address]
    creator_address = creator.chain.address
    assert after[creator_address] - before[creator_address] == \
        -REWARD * len(contributors) - fees[creator_address]


def test_one_validator_down_mid_round_loses_nothing_and_it_catches_up(validators, people, tmp_path):
    creator, *contributors = people(3)
    before_block = settled_block(validators, creator)
    addresses = [creator.chain.address] + [c.chain.address for c in contributors]
    before = totals(creator, addresses, before_block)
    task = create_task(creator, tmp_path, slots=len(contributors))

    validators.stop("charlie")
    at_stop = validators.head("alice")
    submissions = contribute_all(contributors, task.task_id, tmp_path)
    creator.decide_task_results(accept=submissions)
    closed = creator.close_task(task.task_id)

    # Two validators of three keep producing and finalizing blocks.
    validators.wait_for("the closing block finalized without Charlie",
                        lambda: validators.head("alice").finalized >= closed.block_number)
    now = validators.head("alice")
    assert now.best > at_stop.best and now.finalized > at_stop.finalized
    assert [s.status for s in creator.list_task_results(task.task_id)] == \
        [SubmissionStatus.ACCEPTED] * len(contributors)
    assert_paid_exactly(creator, contributors, before_block, closed.block_number, before)

    # Back with its data kept, Charlie catches up with the others.
    target = validators.head("alice").best
    validators.start("charlie")
    validators.wait_for("Charlie's best head reaching the others'",
                        lambda: validators.head("charlie").best >= target)
    validators.wait_for("Charlie finalizing the closing block",
                        lambda: validators.head("charlie").finalized >= closed.block_number)


def test_two_validators_down_stall_finality_and_the_client_says_so(validators, people, tmp_path,
                                                                  caplog):
    creator, contributor = people(2)
    before_block = settled_block(validators, creator)
    before = totals(creator, [creator.chain.address, contributor.chain.address], before_block)
    task = create_task(creator, tmp_path, slots=1)
    submission = contribute(contributor, task.task_id, tmp_path / "contributor")

    validators.stop("bob")
    validators.stop("charlie")
    caplog.set_level(logging.INFO)
    outcome: dict = {}

    def decide():
        try:
            outcome["receipt"] = creator.decide_task_results(accept=[submission])
        except BaseException as error:  # reported by the test below
            outcome["error"] = error

    deciding = threading.Thread(target=decide, daemon=True)
    deciding.start()

    def stall_warning():
        return next((r.getMessage() for r in caplog.records
                     if r.levelno >= logging.WARNING and STALL_WORDS.search(r.getMessage())), None)

    # Alice alone still authors her slots, so the decision gets into a block, but
    # nothing is finalized: the client waits and says why.
    warning = validators.wait_for("the client's warning that finality stalled", stall_warning,
                                  timeout=240)
    assert "validators" in warning, warning
    assert deciding.is_alive(), f"the decision returned while finality was stalled: {outcome}"
    stalled = validators.head("alice")
    assert stalled.best > stalled.finalized

    validators.start("bob")
    deciding.join(timeout=300)
    assert not deciding.is_alive(), "the decision still waits after Bob came back"
    assert "error" not in outcome, outcome.get("error")
    receipt = outcome["receipt"]
    assert validators.head("alice").finalized >= receipt.block_number
    closed = creator.close_task(task.task_id)
    validators.wait_for("the closing block finalized",
                        lambda: validators.head("alice").finalized >= closed.block_number)
    assert creator.get_submission(submission).status is SubmissionStatus.ACCEPTED
    assert_paid_exactly(creator, [contributor], before_block, closed.block_number, before)
