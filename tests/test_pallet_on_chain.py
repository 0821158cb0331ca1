"""The pallet as compiled into the runtime wasm, executed by Chopsticks, driven with
substrate-interface alone (no project client code): balances move exactly as
promised and each error comes back as the pallet's named error, changing nothing."""

from __future__ import annotations

import pytest
from substrateinterface import Keypair, SubstrateInterface

from tests.chain_fixtures import UNIT, fresh_account

REWARD = 5 * UNIT


class Actor:
    """Signs and submits as one account, tracking the fees it paid."""

    def __init__(self, substrate: SubstrateInterface, keypair: Keypair):
        self.substrate = substrate
        self.keypair = keypair
        self.fees = 0

    @property
    def address(self) -> str:
        return self.keypair.ss58_address

    def submit(self, function: str, params: dict, module: str = "DecentralML"):
        call = self.substrate.compose_call(module, function, params)
        extrinsic = self.substrate.create_signed_extrinsic(call=call, keypair=self.keypair)
        receipt = self.substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)
        self.fees += receipt.total_fee_amount or 0
        return receipt

    def ok(self, function: str, params: dict) -> dict:
        receipt = self.submit(function, params)
        assert receipt.is_success, receipt.error_message
        return {e.value["event"]["event_id"]: e.value["event"]["attributes"]
                for e in receipt.triggered_events if e.value["event"]["module_id"] == "DecentralML"}

    def fails_with(self, function: str, params: dict, error: str) -> None:
        receipt = self.submit(function, params)
        assert not receipt.is_success
        assert receipt.error_message["name"] == error, receipt.error_message
        assert receipt.error_message["docs"], "the pallet's documentation comes with the error"

    def account(self) -> dict:
        return self.substrate.query("System", "Account", [self.address]).value["data"]


@pytest.fixture
def actors(substrate, dev_keys):
    """A creator and four contributors with fresh, separately funded accounts."""
    names = ["creator", "bob", "charlie", "dave", "eve"]
    return {n: Actor(substrate, fresh_account(substrate, dev_keys["alice"], 1000 * UNIT)) for n in names}


def block_number(substrate) -> int:
    return substrate.query("System", "Number").value


def create_params(substrate, slots: int, strategy: str = "ManualAccept", reward: int = REWARD,
                  expires_in: int = 1000) -> dict:
    return {
        "task_type": "ModelContributor",
        "question": "0x" + b"Train the MNIST MLP on your own data".hex(),
        "pays_amount": reward,
        "max_assignments": slots,
        "expiration_block": block_number(substrate) + expires_in,
        "validation_strategy": strategy,
        "bundle": {"storage_type": "IPFS", "path": "0x" + b"bafybeibundle".hex(),
                   "content_hash": "0x" + "ab" * 32},
        "result_public_key": None,
        "annotation": None,
    }


def result_params(submission_id: int) -> dict:
    return {"submission_id": submission_id, "result": "0x" + b"accuracy=0.9".hex(),
            "result_location": {"storage_type": "S3", "path": "0x" + b"bucket/key".hex(),
                                "content_hash": "0x" + "cd" * 32}}


def new_task(actor: Actor, slots: int, **kwargs) -> int:
    events = actor.ok("create_task", create_params(actor.substrate, slots, **kwargs))
    return events["TaskCreated"]["task_id"]


def take_slot(actor: Actor, task_id: int) -> int:
    return actor.ok("assign_task", {"task_id": task_id})["TaskAssigned"]["submission_id"]


def test_full_round_moves_balances_exactly_as_promised(substrate, actors):
    creator, bob, charlie, dave = (actors[n] for n in ["creator", "bob", "charlie", "dave"])
    start = {n: a.account() for n, a in actors.items()}

    task_id = new_task(creator, 3)
    assert creator.account()["reserved"] == 3 * REWARD
    subs = {a: take_slot(a, task_id) for a in (bob, charlie, dave)}
    for actor, sub in subs.items():
        actor.ok("send_task_result", result_params(sub))
    creator.ok("accept_task_result", {"submission_id": subs[bob]})
    creator.ok("reject_task_result", {"submission_id": subs[charlie],
                                      "reason": "0x" + b"accuracy below threshold".hex()})
    closed = creator.ok("close_task", {"task_id": task_id})["TaskClosed"]

    assert closed["paid_on_close"] == REWARD  # Dave's result was still pending
    assert closed["refunded"] == REWARD       # Charlie's rejected slot
    assert bob.account()["free"] == start["bob"]["free"] + REWARD - bob.fees
    assert dave.account()["free"] == start["dave"]["free"] + REWARD - dave.fees
    assert charlie.account()["free"] == start["charlie"]["free"] - charlie.fees
    assert creator.account()["reserved"] == 0
    assert creator.account()["free"] == start["creator"]["free"] - 2 * REWARD - creator.fees
    task = substrate.query("DecentralML", "Tasks", [task_id]).value
    assert task["status"] == "Closed" and task["escrow"] == 0


def test_auto_accept_pays_when_the_result_arrives(substrate, actors):
    creator, bob = actors["creator"], actors["bob"]
    before = bob.account()["free"]
    task_id = new_task(creator, 1, strategy="AutoAccept")
    events = bob.ok("send_task_result", result_params(take_slot(bob, task_id)))
    assert events["ResultAccepted"]["paid"] == REWARD
    assert bob.account()["free"] == before + REWARD - bob.fees


def test_errors_are_named_and_change_nothing(substrate, actors):
    creator, bob, charlie, eve = (actors[n] for n in ["creator", "bob", "charlie", "eve"])
    task_id = new_task(creator, 1)
    sub = take_slot(bob, task_id)
    task_before = substrate.query("DecentralML", "Tasks", [task_id]).value

    charlie.fails_with("assign_task", {"task_id": 10_000}, "TaskNotFound")
    charlie.fails_with("assign_task", {"task_id": task_id}, "NoSlotsLeft")
    bob.fails_with("assign_task", {"task_id": task_id}, "AlreadyAssigned")
    charlie.fails_with("send_task_result", result_params(sub), "NotAssignedContributor")
    bob.ok("send_task_result", result_params(sub))
    bob.fails_with("send_task_result", result_params(sub), "ResultAlreadySent")
    eve.fails_with("accept_task_result", {"submission_id": sub}, "NotTaskCreator")
    creator.ok("accept_task_result", {"submission_id": sub})
    creator.fails_with("accept_task_result", {"submission_id": sub}, "ResultNotPending")
    creator.fails_with("accept_task_result", {"submission_id": 10_000}, "SubmissionNotFound")
    poor = create_params(substrate, 1, reward=10**9 * UNIT)
    reserved = creator.account()["reserved"]
    creator.fails_with("create_task", poor, "InsufficientFunds")
    assert creator.account()["reserved"] == reserved

    task_after = substrate.query("DecentralML", "Tasks", [task_id]).value
    assert task_after["accepted"] == 1 and task_after["taken_slots"] == task_before["taken_slots"]


def test_an_expired_task_takes_no_slots_and_anyone_can_close_it(substrate, actors):
    creator, bob, eve = actors["creator"], actors["bob"], actors["eve"]
    task_id = new_task(creator, 2, expires_in=3)
    eve.fails_with("close_task", {"task_id": task_id}, "TaskNotExpired")
    # Each transaction builds a block; move past the expiration block.
    for _ in range(3):
        bob.ok("assign_task", {"task_id": new_task(creator, 1)})
    bob.fails_with("assign_task", {"task_id": task_id}, "TaskExpired")
    reserved = creator.account()["reserved"]
    assert eve.ok("close_task", {"task_id": task_id})["TaskClosed"]["refunded"] == 2 * REWARD
    assert creator.account()["reserved"] == reserved - 2 * REWARD


def test_accepting_in_a_batch_is_atomic(substrate, actors):
    creator, bob, charlie = actors["creator"], actors["bob"], actors["charlie"]
    task_id = new_task(creator, 2)
    subs = [take_slot(a, task_id) for a in (bob, charlie)]
    for actor, sub in zip((bob, charlie), subs):
        actor.ok("send_task_result", result_params(sub))
    accept = [substrate.compose_call("DecentralML", "accept_task_result", {"submission_id": s})
              for s in subs + [subs[0]]]  # the third accepts twice: the whole batch fails
    receipt = creator.submit("batch_all", {"calls": accept}, module="Utility")
    assert not receipt.is_success and receipt.error_message["name"] == "ResultNotPending"
    assert substrate.query("DecentralML", "Tasks", [task_id]).value["accepted"] == 0
    receipt = creator.submit("batch_all", {"calls": accept[:2]}, module="Utility")
    assert receipt.is_success
    assert substrate.query("DecentralML", "Tasks", [task_id]).value["accepted"] == 2
