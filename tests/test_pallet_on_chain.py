"""The pallet as compiled into the runtime wasm, executed by Chopsticks, driven with
substrate-interface alone (no project client code): balances and deposits move exactly
as promised, each error comes back as the pallet's named error changing nothing, and
each way a creator or a contributor could cheat the other fails on the real chain.

Deadlines are reached by building the next block at a later height (Chopsticks'
``dev_newBlock`` with ``unsafeBlockHeight``), so a review period of 1,200 blocks passes
in one call."""

from __future__ import annotations

import hashlib
import os

import pytest
from substrateinterface import Keypair, SubstrateInterface

from tests.chain_fixtures import UNIT, fresh_account, fresh_accounts, submit_raw
from tests.fixtures import block_number, jump_to
from tests.fixtures import pallet_constant as constant

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
        receipt = submit_raw(self.substrate, self.keypair, module, function, params)
        self.fees += receipt.total_fee_amount or 0
        return receipt

    def ok(self, function: str, params: dict, module: str = "DecentralML") -> dict:
        receipt = self.submit(function, params, module)
        assert receipt.is_success, receipt.error_message
        return {e.value["event"]["event_id"]: e.value["event"]["attributes"]
                for e in receipt.triggered_events if e.value["event"]["module_id"] == "DecentralML"}

    def fails_with(self, function: str, params: dict, error: str) -> None:
        receipt = self.submit(function, params)
        assert not receipt.is_success, f"{function} should have failed with {error}"
        assert receipt.error_message["name"] == error, receipt.error_message
        assert receipt.error_message["docs"], "the pallet's documentation comes with the error"

    def account(self) -> dict:
        return self.substrate.query("System", "Account", [self.address]).value["data"]


@pytest.fixture
def actors(substrate, dev_keys):
    """A creator and four contributors with fresh, separately funded accounts."""
    names = ["creator", "bob", "charlie", "dave", "eve"]
    keypairs = fresh_accounts(substrate, dev_keys["alice"], 1000 * UNIT, len(names))
    return {n: Actor(substrate, k) for n, k in zip(names, keypairs)}


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
                   "content_hash": "0x" + "ab" * 32, "size": 4096},
        "result_public_key": None,
        "annotation": None,
    }


class Result:
    """A result as a contributor sends it: what it is, where, and the commitment's salt."""

    def __init__(self, submission_id: int, content_hash: bytes | None = None):
        self.submission_id = submission_id
        self.text = b"accuracy=0.9"
        self.path = b"bucket/result-%d" % submission_id
        self.content_hash = content_hash or os.urandom(32)
        self.size = 123_456
        self.salt = os.urandom(32)

    def location(self) -> dict:
        return {"storage_type": "S3", "path": "0x" + self.path.hex(),
                "content_hash": "0x" + self.content_hash.hex(), "size": self.size}

    def commitment(self, substrate, contributor: str) -> str:
        """blake2_256 of the SCALE encoding of (contributor, submission id, result,
        Some(location), salt), encoded here piece by piece with the runtime's codec."""
        enc = substrate.encode_scale
        encoded = (bytes.fromhex(substrate.ss58_decode(contributor))
                   + self.submission_id.to_bytes(8, "little")
                   + bytes(enc("Compact<u32>", len(self.text)).data) + self.text
                   + b"\x01" + bytes([1])  # Some(location), StorageType::S3
                   + bytes(enc("Compact<u32>", len(self.path)).data) + self.path
                   + self.content_hash + self.size.to_bytes(8, "little")
                   + self.salt)
        return "0x" + hashlib.blake2b(encoded, digest_size=32).hexdigest()

    def commit_params(self, substrate, contributor: str) -> dict:
        return {"submission_id": self.submission_id,
                "commitment": self.commitment(substrate, contributor)}

    def reveal_params(self) -> dict:
        return {"submission_id": self.submission_id, "result": "0x" + self.text.hex(),
                "result_location": self.location(), "salt": "0x" + self.salt.hex()}


def new_task(actor: Actor, slots: int, **kwargs) -> int:
    events = actor.ok("create_task", create_params(actor.substrate, slots, **kwargs))
    return events["TaskCreated"]["task_id"]


def take_slot(actor: Actor, task_id: int) -> int:
    return actor.ok("assign_task", {"task_id": task_id})["TaskAssigned"]["submission_id"]


def send(actor: Actor, submission_id: int, content_hash: bytes | None = None) -> dict:
    """Commit, then reveal: what a contributor's client does behind send_task_result."""
    result = Result(submission_id, content_hash)
    actor.ok("commit_task_result", result.commit_params(actor.substrate, actor.address))
    return actor.ok("reveal_task_result", result.reveal_params())


def reason(text: str = "accuracy below threshold") -> str:
    return "0x" + text.encode().hex()


def task(substrate, task_id: int):
    return substrate.query("DecentralML", "Tasks", [task_id]).value


def submission(substrate, submission_id: int):
    return substrate.query("DecentralML", "Submissions", [submission_id]).value


@pytest.mark.dev_chain_only
def test_full_round_moves_balances_and_deposits_exactly_as_promised(substrate, actors):
    creator, bob, charlie, dave = (actors[n] for n in ["creator", "bob", "charlie", "dave"])
    deposit = constant(substrate, "AssignmentDeposit")
    slot_storage = constant(substrate, "SubmissionDeposit")
    task_storage = constant(substrate, "TaskDeposit")
    start = {n: a.account() for n, a in actors.items()}

    task_id = new_task(creator, 3)
    assert creator.account()["reserved"] == 3 * REWARD + task_storage
    subs = {a: take_slot(a, task_id) for a in (bob, charlie, dave)}
    assert bob.account()["reserved"] == deposit + slot_storage
    for actor, sub in subs.items():
        send(actor, sub)
    # The assignment deposit comes back with the reveal; the record's storage deposit stays.
    assert bob.account()["reserved"] == slot_storage
    creator.ok("accept_task_result", {"submission_id": subs[bob]})
    creator.ok("reject_task_result", {"submission_id": subs[charlie], "reason": reason()})
    closed = creator.ok("close_task", {"task_id": task_id})["TaskClosed"]

    assert closed["paid_on_close"] == REWARD  # Dave's result was still pending
    # Charlie's reward stays held until his rejection can no longer be appealed.
    assert closed["refunded"] == 0
    assert task(substrate, task_id)["escrow"] == REWARD
    assert bob.account()["free"] == start["bob"]["free"] + REWARD - bob.fees - slot_storage
    assert dave.account()["free"] == start["dave"]["free"] + REWARD - dave.fees - slot_storage
    assert charlie.account()["free"] == start["charlie"]["free"] - charlie.fees - slot_storage

    jump_to(substrate, block_number(substrate) + constant(substrate, "AppealPeriod") + 1)
    charlie.ok("release_rejection", {"submission_id": subs[charlie]})
    assert creator.account()["reserved"] == task_storage
    assert creator.account()["free"] == start["creator"]["free"] - 2 * REWARD - creator.fees - task_storage
    assert charlie.account()["free"] == start["charlie"]["free"] - charlie.fees  # storage deposit back
    assert task(substrate, task_id)["status"] == "Closed" and task(substrate, task_id)["escrow"] == 0


def test_auto_accept_pays_when_the_result_is_revealed(substrate, actors):
    creator, bob = actors["creator"], actors["bob"]
    before = bob.account()["free"]
    task_id = new_task(creator, 1, strategy="AutoAccept")
    events = send(bob, take_slot(bob, task_id))
    assert events["ResultAccepted"]["paid"] == REWARD
    assert events["ResultAccepted"]["decided_by"] == "AutoAccept"
    slot_storage = constant(substrate, "SubmissionDeposit")
    assert bob.account()["free"] == before + REWARD - bob.fees - slot_storage


def test_a_committed_slot_cannot_be_taken_away_before_the_reveal(substrate, actors):
    """Front-running: the creator sees the commitment, not the result, and can neither
    reject the slot nor close the task under it."""
    creator, bob = actors["creator"], actors["bob"]
    task_id = new_task(creator, 1)
    sub = take_slot(bob, task_id)
    result = Result(sub)
    bob.ok("commit_task_result", result.commit_params(substrate, bob.address))
    assert submission(substrate, sub)["result_location"] is None  # nothing to read yet
    creator.fails_with("reject_task_result", {"submission_id": sub, "reason": reason()},
                       "ResultNotPending")
    creator.fails_with("close_task", {"task_id": task_id}, "CommitmentsOutstanding")
    bob.ok("reveal_task_result", result.reveal_params())
    before = bob.account()["free"]
    assert creator.ok("close_task", {"task_id": task_id})["TaskClosed"]["paid_on_close"] == REWARD
    assert bob.account()["free"] == before + REWARD


def test_a_reveal_must_match_its_commitment(substrate, actors):
    creator, bob, charlie = actors["creator"], actors["bob"], actors["charlie"]
    task_id = new_task(creator, 2)
    sub = take_slot(bob, task_id)
    result = Result(sub)
    bob.fails_with("reveal_task_result", result.reveal_params(), "NotCommitted")
    bob.ok("commit_task_result", result.commit_params(substrate, bob.address))
    bob.fails_with("commit_task_result", result.commit_params(substrate, bob.address), "AlreadyCommitted")
    tampered = result.reveal_params() | {"salt": "0x" + os.urandom(32).hex()}
    bob.fails_with("reveal_task_result", tampered, "CommitmentMismatch")
    # The commitment binds the contributor: Charlie cannot reveal it as his own.
    other = take_slot(charlie, task_id)
    copied = Result(other)
    copied.salt, copied.content_hash = result.salt, result.content_hash
    charlie.ok("commit_task_result", {"submission_id": other,
                                      "commitment": result.commitment(substrate, bob.address)})
    charlie.fails_with("reveal_task_result", copied.reveal_params(), "CommitmentMismatch")
    bob.ok("reveal_task_result", result.reveal_params())


@pytest.mark.dev_chain_only
def test_a_result_revealed_just_before_expiry_still_gets_its_review(substrate, actors):
    """Junk paid without review: anyone's close at expiry waits for the review period,
    and the creator can still reject within it."""
    creator, bob, eve = actors["creator"], actors["bob"], actors["eve"]
    task_id = new_task(creator, 1, expires_in=6)
    sub = take_slot(bob, task_id)
    send(bob, sub)
    jump_to(substrate, task(substrate, task_id)["expiration_block"])
    bob.fails_with("close_task", {"task_id": task_id}, "ResultsUnderReview")
    creator.ok("reject_task_result", {"submission_id": sub, "reason": reason("junk")})
    eve.ok("close_task", {"task_id": task_id})
    assert submission(substrate, sub)["status"] == "Rejected"


@pytest.mark.dev_chain_only
def test_a_result_nobody_decides_is_paid_after_the_review_period(substrate, actors):
    """Pending forever: the contributor claims once the review period passed."""
    creator, bob = actors["creator"], actors["bob"]
    task_id = new_task(creator, 1, expires_in=50_000)
    sub = take_slot(bob, task_id)
    send(bob, sub)
    bob.fails_with("claim_reward", {"submission_id": sub}, "DeadlineNotReached")
    jump_to(substrate, submission(substrate, sub)["submitted_at"] + constant(substrate, "ReviewPeriod"))
    creator.fails_with("reject_task_result", {"submission_id": sub, "reason": reason()},
                       "ReviewPeriodOver")
    before, fees_before = bob.account()["free"], bob.fees
    events = bob.ok("claim_reward", {"submission_id": sub})
    assert events["ResultAccepted"]["decided_by"] == "ReviewPeriodLapsed"
    assert bob.account()["free"] == before + REWARD - (bob.fees - fees_before)


def test_expiry_is_bounded(substrate, actors):
    creator = actors["creator"]
    too_far = constant(substrate, "MaxTaskDuration") + 10
    creator.fails_with("create_task", create_params(substrate, 1, expires_in=too_far), "ExpirationTooFar")


@pytest.mark.dev_chain_only
def test_a_silent_slot_times_out_and_its_deposit_goes_to_the_creator(substrate, actors):
    """Slot squatting: a slot with no commitment is freed by anyone after the result
    timeout, the squatter pays, and the slot is taken again."""
    creator, squatter, bob, bystander = (actors[n] for n in ["creator", "eve", "bob", "dave"])
    task_id = new_task(creator, 1, expires_in=50_000)
    sub = take_slot(squatter, task_id)
    bob.fails_with("assign_task", {"task_id": task_id}, "NoSlotsLeft")
    bystander.fails_with("time_out_slot", {"submission_id": sub}, "DeadlineNotReached")
    jump_to(substrate, submission(substrate, sub)["assigned_at"] + constant(substrate, "ResultTimeout"))
    creator_free = creator.account()["free"]
    forfeited = bystander.ok("time_out_slot", {"submission_id": sub})["SlotTimedOut"]["forfeited"]
    assert forfeited == constant(substrate, "AssignmentDeposit")
    assert creator.account()["free"] == creator_free + forfeited
    assert submission(substrate, sub) is None  # pruned
    take_slot(bob, task_id)
    stats = substrate.query("DecentralML", "ContributorStats", [squatter.address]).value
    assert stats["slots_timed_out"] == 1


@pytest.mark.dev_chain_only
def test_rejections_never_lock_a_task(substrate, actors, dev_keys):
    """More rejected contributors than any submission bound: the slot keeps reopening."""
    creator = actors["creator"]
    task_id = new_task(creator, 1, expires_in=50_000)
    appeal = constant(substrate, "AppealPeriod")
    for _ in range(3):
        contributor = Actor(substrate, fresh_account(substrate, dev_keys["alice"], 10 * UNIT))
        sub = take_slot(contributor, task_id)
        send(contributor, sub)
        creator.ok("reject_task_result", {"submission_id": sub, "reason": reason()})
        jump_to(substrate, block_number(substrate) + appeal + 1)
        creator.ok("release_rejection", {"submission_id": sub})
    assert task(substrate, task_id)["taken_slots"] == 0
    assert task(substrate, task_id)["live_submissions"] == 0


def test_a_reward_below_the_existential_deposit_is_refused(substrate, actors):
    """One dead account blocks everyone: no reward can be too small to pay."""
    creator = actors["creator"]
    existential = int(substrate.get_constant("Balances", "ExistentialDeposit").value)
    creator.fails_with("create_task", create_params(substrate, 1, reward=existential - 1),
                       "RewardBelowMinimum")


@pytest.mark.dev_chain_only
def test_a_closed_task_is_removed_and_its_deposits_returned(substrate, actors):
    """State for free: records of a closed task leave storage, deposits go back."""
    creator, bob, eve = actors["creator"], actors["bob"], actors["eve"]
    task_id = new_task(creator, 1, strategy="AutoAccept")
    sub = take_slot(bob, task_id)
    send(bob, sub)
    creator.ok("close_task", {"task_id": task_id})
    eve.fails_with("remove_task", {"task_id": task_id}, "RemovalTooEarly")
    creator_free, bob_free = creator.account()["free"], bob.account()["free"]
    jump_to(substrate, task(substrate, task_id)["closed_at"] + constant(substrate, "RemovalDelay"))
    eve.ok("remove_task", {"task_id": task_id})
    assert task(substrate, task_id) is None and submission(substrate, sub) is None
    assert creator.account()["free"] == creator_free + constant(substrate, "TaskDeposit")
    assert bob.account()["free"] == bob_free + constant(substrate, "SubmissionDeposit")
    assert creator.account()["reserved"] == 0 and bob.account()["reserved"] == 0


def test_a_copied_result_is_refused(substrate, actors):
    """Replay: a content hash already sent in this task is refused."""
    creator, bob, charlie = actors["creator"], actors["bob"], actors["charlie"]
    task_id = new_task(creator, 2)
    original = os.urandom(32)
    send(bob, take_slot(bob, task_id), content_hash=original)
    copy = Result(take_slot(charlie, task_id), content_hash=original)
    charlie.ok("commit_task_result", copy.commit_params(substrate, charlie.address))
    charlie.fails_with("reveal_task_result", copy.reveal_params(), "DuplicateResult")


def test_read_then_reject_shows_in_the_record_and_an_appeal_pays(substrate, actors, dev_keys):
    """Read-then-reject: every rejection is counted on chain for the next contributor
    to see, and the arbiter (Root) can overturn one."""
    creator, bob, charlie = actors["creator"], actors["bob"], actors["charlie"]
    task_id = new_task(creator, 2)
    subs = {a: take_slot(a, task_id) for a in (bob, charlie)}
    for actor, sub in subs.items():
        send(actor, sub)
        creator.ok("reject_task_result", {"submission_id": sub, "reason": reason()})
    record = substrate.query("DecentralML", "CreatorStats", [creator.address]).value
    assert record["results_rejected"] == 2 and record["results_accepted"] == 0

    bob.ok("appeal_rejection", {"submission_id": subs[bob]})
    charlie.fails_with("appeal_rejection", {"submission_id": subs[bob]}, "NotAssignedContributor")
    before = bob.account()["free"]
    arbiter = Actor(substrate, dev_keys["alice"])  # the dev chain's sudo key
    call = substrate.compose_call("DecentralML", "arbitrate",
                                  {"submission_id": subs[bob], "overturn": True})
    receipt = arbiter.submit("sudo", {"call": call}, module="Sudo")
    assert receipt.is_success
    decided = {e.value["event"]["event_id"]: e.value["event"]["attributes"]
               for e in receipt.triggered_events if e.value["event"]["module_id"] == "DecentralML"}
    assert decided["AppealDecided"]["overturned"] is True
    assert bob.account()["free"] == before + REWARD
    record = substrate.query("DecentralML", "CreatorStats", [creator.address]).value
    assert record["rejections_overturned"] == 1
    # Only the arbiter may decide.
    creator.fails_with("arbitrate", {"submission_id": subs[charlie], "overturn": False}, "BadOrigin")


def test_errors_are_named_and_change_nothing(substrate, actors):
    creator, bob, charlie, eve = (actors[n] for n in ["creator", "bob", "charlie", "eve"])
    task_id = new_task(creator, 1)
    sub = take_slot(bob, task_id)
    task_before = task(substrate, task_id)
    result = Result(sub)

    charlie.fails_with("assign_task", {"task_id": 10_000}, "TaskNotFound")
    charlie.fails_with("assign_task", {"task_id": task_id}, "NoSlotsLeft")
    bob.fails_with("assign_task", {"task_id": task_id}, "AlreadyAssigned")
    charlie.fails_with("commit_task_result", result.commit_params(substrate, charlie.address),
                       "NotAssignedContributor")
    bob.ok("commit_task_result", result.commit_params(substrate, bob.address))
    bob.ok("reveal_task_result", result.reveal_params())
    bob.fails_with("commit_task_result", result.commit_params(substrate, bob.address), "ResultAlreadySent")
    eve.fails_with("accept_task_result", {"submission_id": sub}, "NotTaskCreator")
    creator.ok("accept_task_result", {"submission_id": sub})
    creator.fails_with("accept_task_result", {"submission_id": sub}, "ResultNotPending")
    creator.fails_with("accept_task_result", {"submission_id": 10_000}, "SubmissionNotFound")
    poor = create_params(substrate, 1, reward=10**9 * UNIT)
    reserved = creator.account()["reserved"]
    creator.fails_with("create_task", poor, "InsufficientFunds")
    assert creator.account()["reserved"] == reserved

    task_after = task(substrate, task_id)
    assert task_after["accepted"] == 1 and task_after["taken_slots"] == task_before["taken_slots"]


@pytest.mark.dev_chain_only
def test_an_expired_task_takes_no_slots_and_anyone_can_close_it(substrate, actors):
    creator, bob, eve = actors["creator"], actors["bob"], actors["eve"]
    task_id = new_task(creator, 2, expires_in=3)
    eve.fails_with("close_task", {"task_id": task_id}, "TaskNotExpired")
    jump_to(substrate, task(substrate, task_id)["expiration_block"])
    bob.fails_with("assign_task", {"task_id": task_id}, "TaskExpired")
    reserved = creator.account()["reserved"]
    assert eve.ok("close_task", {"task_id": task_id})["TaskClosed"]["refunded"] == 2 * REWARD
    assert creator.account()["reserved"] == reserved - 2 * REWARD


def test_accepting_in_a_batch_is_atomic(substrate, actors):
    creator, bob, charlie = actors["creator"], actors["bob"], actors["charlie"]
    task_id = new_task(creator, 2)
    subs = [take_slot(a, task_id) for a in (bob, charlie)]
    for actor, sub in zip((bob, charlie), subs):
        send(actor, sub)
    accept = [substrate.compose_call("DecentralML", "accept_task_result", {"submission_id": s})
              for s in subs + [subs[0]]]  # the third accepts twice: the whole batch fails
    receipt = creator.submit("batch_all", {"calls": accept}, module="Utility")
    assert not receipt.is_success and receipt.error_message["name"] == "ResultNotPending"
    assert task(substrate, task_id)["accepted"] == 0
    receipt = creator.submit("batch_all", {"calls": accept[:2]}, module="Utility")
    assert receipt.is_success
    assert task(substrate, task_id)["accepted"] == 2


def new_round(actor: Actor, campaign: int | None) -> dict:
    """Create a campaign round; its CampaignRoundCreated event."""
    params = create_params(actor.substrate, 1) | {"campaign": campaign}
    events = actor.ok("create_campaign_task", params)
    assert events["CampaignRoundCreated"]["task_id"] == events["TaskCreated"]["task_id"]
    return events["CampaignRoundCreated"]


def test_a_campaign_grows_one_settled_round_at_a_time_by_its_creator(substrate, actors):
    creator, eve = actors["creator"], actors["eve"]
    task_storage = constant(substrate, "TaskDeposit")
    first = new_round(creator, None)
    campaign = first["campaign"]
    assert first == {"campaign": campaign, "round": 1, "task_id": first["task_id"], "continues": None}
    assert task(substrate, first["task_id"])["lineage"] == \
        {"campaign": campaign, "round": 1, "continues": None}
    # The same escrow and deposit as any task.
    assert creator.account()["reserved"] == REWARD + task_storage
    next_round = create_params(substrate, 1) | {"campaign": campaign}
    creator.fails_with("create_campaign_task", next_round, "PreviousRoundOpen")
    creator.ok("close_task", {"task_id": first["task_id"]})
    eve.fails_with("create_campaign_task", next_round, "NotCampaignCreator")
    eve.fails_with("create_campaign_task", next_round | {"campaign": 10**9}, "CampaignNotFound")
    assert creator.account()["reserved"] == task_storage  # the refused rounds held nothing
    second = new_round(creator, campaign)
    assert second == {"campaign": campaign, "round": 2, "task_id": second["task_id"],
                      "continues": first["task_id"]}
    assert substrate.query("DecentralML", "Campaigns", [campaign]).value == \
        {"creator": creator.address, "rounds": 2, "latest_task": second["task_id"]}
    for number, entry in ((1, first), (2, second)):
        assert substrate.query("DecentralML", "CampaignRounds", [campaign, number]).value == \
            entry["task_id"]
    # A plain task records no lineage.
    assert task(substrate, new_task(creator, 1))["lineage"] is None


def test_a_contributor_may_release_an_uncommitted_slot(substrate, actors):
    """The slot reopens and the storage deposit comes back; the assignment deposit goes
    to the creator, and the record counts a release, not a time-out."""
    creator, bob, charlie = actors["creator"], actors["bob"], actors["charlie"]
    deposit = constant(substrate, "AssignmentDeposit")
    slot_storage = constant(substrate, "SubmissionDeposit")
    task_id = new_task(creator, 1, expires_in=50_000)
    sub = take_slot(bob, task_id)
    charlie.fails_with("assign_task", {"task_id": task_id}, "NoSlotsLeft")
    charlie.fails_with("release_slot", {"submission_id": sub}, "NotAssignedContributor")
    creator.fails_with("release_slot", {"submission_id": sub}, "NotAssignedContributor")
    bob.fails_with("release_slot", {"submission_id": 10**9}, "SubmissionNotFound")
    creator_free, bob_before, fees = creator.account()["free"], bob.account(), bob.fees
    released = bob.ok("release_slot", {"submission_id": sub})["SlotReleased"]
    assert released == {"task_id": task_id, "submission_id": sub, "contributor": bob.address,
                        "forfeited": deposit}
    assert creator.account()["free"] == creator_free + deposit
    assert bob.account()["reserved"] == bob_before["reserved"] - deposit - slot_storage == 0
    assert bob.account()["free"] == bob_before["free"] + slot_storage - (bob.fees - fees)
    assert submission(substrate, sub) is None
    stats = substrate.query("DecentralML", "ContributorStats", [bob.address]).value
    assert (stats["slots_released"], stats["slots_timed_out"]) == (1, 0)
    # The slot is open again; a committed one can no longer be released.
    again = take_slot(charlie, task_id)
    charlie.ok("commit_task_result", Result(again).commit_params(substrate, charlie.address))
    charlie.fails_with("release_slot", {"submission_id": again}, "ResultAlreadySent")
