"""The library API (substrate_client.marketplace) against the real dev chain, Kubo and
MinIO: bundles and results really stored, verified and sealed; bad input named,
with no on-chain change and no partial files left behind."""

from __future__ import annotations

import io
import re
import tarfile
import threading
from pathlib import Path

import pytest
from substrateinterface import Keypair

from substrate_client import keys, storage
from substrate_client.chain import Chain, connect, load_keypair
from substrate_client.errors import (
    ConfigError,
    IntegrityError,
    NotAuthorizedError,
    NotFoundError,
    PalletError,
    StorageUnavailableError,
    UserInputError,
)
from substrate_client.marketplace import Marketplace
from substrate_client.records import StorageType, SubmissionStatus, TaskStatus
from tests.chain_fixtures import UNIT, fresh_account

REWARD = 2 * UNIT


@pytest.fixture
def store_settings(kubo, minio, tmp_path) -> dict:
    return {"api_url": kubo.api_url, "endpoint_url": minio.endpoint_url,
            "bucket": "marketplace-tests", "root": str(tmp_path / "store")}


@pytest.fixture
def people(substrate, dev_keys, store_settings):
    """Fresh funded accounts, each with its own Marketplace."""
    def market(amount=500 * UNIT) -> Marketplace:
        keypair = fresh_account(substrate, dev_keys["alice"], amount)
        return Marketplace(Chain(substrate, keypair), store_settings)
    return market


@pytest.fixture
def bundle(tmp_path) -> Path:
    folder = tmp_path / "bundle"
    (folder / "model").mkdir(parents=True)
    (folder / "start_task.sh").write_text("#!/bin/sh\necho training\n")
    (folder / "start_task.sh").chmod(0o755)
    (folder / "model" / "weights.bin").write_bytes(bytes(range(256)) * 64)
    return folder


def new_task(creator: Marketplace, bundle: Path, slots=2, storage_type="IPFS", **kwargs):
    params = dict(question="Train the MLP on your digits", pays_amount=REWARD,
                  max_assignments=slots, model_contributor_script_path=bundle,
                  model_contributor_script_storage_type=storage_type, expires_in_blocks=200)
    params.update(kwargs)
    return creator.create_task_model_contributor(**params)


def task_count(market: Marketplace) -> int:
    return int(market.chain.query("NextTaskId"))


def test_a_round_trip_stores_verifies_and_seals(people, bundle, tmp_path):
    creator, contributor = people(), people()
    public_key = keys.generate_keypair(tmp_path / "result_key")
    task = new_task(creator, bundle, result_public_key=public_key)
    assert task.bundle.storage_type is StorageType.IPFS
    assert task.escrow == 2 * REWARD and task.status is TaskStatus.OPEN
    assert task.task_id in [t.task_id for t in creator.list_tasks(creator=creator.chain.address)]
    assert task.task_id in [t.task_id for t in creator.list_tasks(status="open")]

    assignment = contributor.assign_task(task.task_id, tmp_path / "work")
    assert (assignment.bundle_dir / "model" / "weights.bin").read_bytes() == \
        (bundle / "model" / "weights.bin").read_bytes()
    assert (assignment.bundle_dir / "start_task.sh").stat().st_mode & 0o100

    result = tmp_path / "result"
    result.mkdir()
    (result / "saved_model.pb").write_bytes(b"trained model bytes")
    sent = contributor.send_task_result(assignment.submission_id, result="accuracy=0.9",
                                        result_path=result, result_storage_type="S3")
    assert sent.status is SubmissionStatus.PENDING
    assert sent.result_location.storage_type is StorageType.S3

    # Sealed: without the creator's key the stored object cannot be opened.
    with pytest.raises(UserInputError, match="sealed"):
        creator.download_task_result(sent.submission_id, tmp_path / "nokey")
    keys.generate_keypair(tmp_path / "other_key")
    with pytest.raises(IntegrityError):
        creator.download_task_result(sent.submission_id, tmp_path / "wrongkey",
                                     private_key=keys.load_private_key(tmp_path / "other_key"))
    assert not (tmp_path / "nokey").exists() and not (tmp_path / "wrongkey").exists()
    opened = creator.download_task_result(
        sent.submission_id, tmp_path / "opened",
        private_key=keys.load_private_key(tmp_path / "result_key"))
    assert (opened / "saved_model.pb").read_bytes() == b"trained model bytes"

    before = contributor.balance()["free"]
    creator.decide_task_results(accept=[sent.submission_id])
    assert contributor.balance()["free"] == before + REWARD
    assert [s.status for s in creator.list_task_results(task.task_id)] == [SubmissionStatus.ACCEPTED]


def test_nothing_secret_is_stored_on_chain(people, bundle, tmp_path, monkeypatch, substrate):
    mnemonic = Keypair.generate_mnemonic()
    monkeypatch.setenv("DECENTRALML_SURI", mnemonic)
    creator = people()
    contributor = Marketplace(Chain(substrate, load_keypair()), creator.storage_settings)
    creator.chain.transfer(contributor.chain.address, 10 * UNIT)
    key_path = tmp_path / "result_key"
    keys.generate_keypair(key_path)
    private_key = keys.load_private_key(key_path)
    # Handing over the private file by mistake still publishes only the public half.
    task = new_task(creator, bundle, result_public_key=keys.load_public_key(key_path))
    assert task.result_public_key == keys.load_public_key(keys.public_key_path(key_path))
    sub = contributor.assign_task(task.task_id).submission_id
    result = tmp_path / "result"
    result.mkdir()
    (result / "model.bin").write_bytes(b"x" * 1000)
    contributor.send_task_result(sub, result_path=result, result_storage_type="S3")

    secrets = [private_key, mnemonic.encode(), contributor.chain.keypair.private_key,
               b"minioadmin", os_env_secret()]
    raw = b"".join(raw_storage(substrate, "Tasks", task.task_id) +
                   raw_storage(substrate, "Submissions", sub))
    for secret in filter(None, secrets):
        assert secret not in raw and secret.hex().encode() not in raw


def os_env_secret() -> bytes:
    import os
    return os.environ.get("AWS_SECRET_ACCESS_KEY", "").encode()


def raw_storage(substrate, storage_function: str, key: int) -> list[bytes]:
    """The record's bytes exactly as the chain stores them."""
    storage_key = substrate.create_storage_key("DecentralML", storage_function, [key])
    value = substrate.rpc_request("state_getStorage", [storage_key.to_hex()])["result"]
    assert value, f"no {storage_function} record {key}"
    return [bytes.fromhex(value[2:])]


def test_unknown_task_and_wrong_signer_are_named(people, bundle, tmp_path):
    creator, bob, eve = people(), people(), people()
    with pytest.raises(NotFoundError, match="TaskNotFound"):
        bob.assign_task(99_999)
    task = new_task(creator, bundle, slots=1)
    sub = bob.assign_task(task.task_id).submission_id
    result = tmp_path / "r"
    result.mkdir()
    (result / "f").write_text("x")
    with pytest.raises(UserInputError, match="belongs to"):
        eve.send_task_result(sub, result_path=result)
    with pytest.raises(PalletError, match="NotTaskCreator"):
        eve.accept_task_result(sub)
    with pytest.raises(PalletError, match="NoSlotsLeft"):
        eve.assign_task(task.task_id)
    assert bob.get_submission(sub).status is SubmissionStatus.ASSIGNED


def test_an_expired_task_refuses_slots(people, bundle):
    creator, bob = people(), people()
    task = new_task(creator, bundle, storage_type="Local", expires_in_blocks=2)
    # The dev chain builds a block per transaction; a network one every few seconds.
    while bob.chain.block_number() < task.expiration_block:
        creator.chain.transfer(bob.chain.address, UNIT)
    with pytest.raises(PalletError, match="TaskExpired"):
        bob.assign_task(task.task_id)


def test_unreachable_storage_creates_nothing_on_chain(people, bundle):
    creator = people()
    creator.storage_settings = {"api_url": "http://127.0.0.1:9"}
    before = task_count(creator)
    with pytest.raises(StorageUnavailableError):
        new_task(creator, bundle)
    assert task_count(creator) == before


def test_a_missing_result_path_sends_nothing(people, bundle, tmp_path):
    creator, bob = people(), people()
    task = new_task(creator, bundle, storage_type="Local")
    sub = bob.assign_task(task.task_id).submission_id
    with pytest.raises(UserInputError, match="does not exist"):
        bob.send_task_result(sub, result_path=tmp_path / "missing")
    assert bob.get_submission(sub).status is SubmissionStatus.ASSIGNED


def test_a_tampered_bundle_is_never_unpacked(people, bundle, tmp_path, store_settings):
    creator, bob = people(), people()
    task = new_task(creator, bundle, storage_type="Local")
    stored = Path(store_settings["root"]) / task.bundle.path
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:-10] + b"tampered!!")
    with pytest.raises(IntegrityError):
        bob.assign_task(task.task_id, tmp_path / "work")
    assert not (tmp_path / "work").exists()
    assert creator.list_task_results(task.task_id) == []  # and no slot was taken


def test_a_bundle_escaping_its_folder_is_refused(people, tmp_path, store_settings):
    """An archive whose hash is right but whose members escape: nothing extracted."""
    creator, bob = people(), people()
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"oops"))
    backend = storage.LocalStorage(Path(store_settings["root"]))
    stored = backend.put_file(evil)
    receipt = creator.chain.submit("create_task", {
        "task_type": "ModelContributor", "question": "0x" + b"q".hex(), "pays_amount": REWARD,
        "max_assignments": 1, "expiration_block": creator.chain.block_number() + 100,
        "validation_strategy": "ManualAccept",
        "bundle": {"storage_type": "Local", "path": stored.path,
                   "content_hash": "0x" + stored.content_hash.hex(), "size": stored.size},
        "result_public_key": None, "annotation": None})
    task_id = int(receipt.first("TaskCreated").attributes["task_id"])
    with pytest.raises(IntegrityError):
        bob.assign_task(task_id, tmp_path / "work" / "bundle")
    assert not (tmp_path / "work" / "outside.txt").exists()
    assert not (tmp_path / "work" / "bundle").exists()


def test_waiting_for_results_follows_new_blocks(people, bundle, tmp_path, devnet_url):
    creator, bob = people(), people()
    task = new_task(creator, bundle, slots=1, storage_type="Local")
    sub = bob.assign_task(task.task_id).submission_id
    # Bob sends from a connection of his own while the creator's one is subscribed.
    bob = Marketplace(Chain(connect(devnet_url), bob.chain.keypair), {})
    sender = threading.Timer(1.0, bob.send_task_result, kwargs={
        "submission_id": sub, "result": "labels: 0,1,1"})
    sender.start()
    seen = []
    results = creator.wait_for_results(task.task_id, 1, on_result=seen.append)
    sender.join()
    assert [s.submission_id for s in results] == [sub]
    assert seen and int(seen[0].attributes["submission_id"]) == sub


def test_watching_records_reports_the_blocks_that_change_them_and_only_those(people, bundle, devnet_url):
    """A block that changes none of the watched records passes with changed == {}; one that
    changes a record names exactly its key, whatever else the block holds. (On a network,
    blocks come every few seconds whether or not anything is sent: every block between
    the changes must pass with nothing changed.)"""
    creator, bob, carol = people(), people(), people()
    task = new_task(creator, bundle, slots=2, storage_type="Local")
    watcher = Chain(connect(devnet_url))
    [task_key] = watcher.storage_keys("Tasks", [[task.task_id]])
    [next_key] = watcher.storage_keys("NextTaskId", [[]])
    start = watcher.block_number()
    seen: dict[int, frozenset] = {}
    unrelated = []

    def on_block(number: int, changed: frozenset) -> bool:
        if number <= start:
            return False  # the head at subscribing: the task made above changed it
        seen[number] = changed
        return next_key in changed

    steps = [lambda: unrelated.append(carol.chain.transfer(creator.chain.address, UNIT)),  # not the task's
             lambda: bob.assign_task(task.task_id),               # the task's record changes
             lambda: new_task(creator, bundle, slots=1, storage_type="Local")]  # a new task id

    def send_all():
        for step in steps:
            step()

    sender = threading.Timer(0.5, send_all)
    sender.start()
    watcher.watch_storage([task_key, next_key], on_block)
    sender.join()
    assert [seen[n] for n in sorted(seen) if seen[n]] == [frozenset({task_key}), frozenset({next_key})]
    assert seen[unrelated[0].block_number] == frozenset()


def counting_requests(chain: Chain) -> list[str]:
    """The RPC methods ``chain`` asks its node from now on, in order."""
    asked, send = [], chain.substrate.rpc_request

    def rpc_request(method, params, *args, **kwargs):
        asked.append(method)
        return send(method, params, *args, **kwargs)

    chain.substrate.rpc_request = rpc_request
    return asked


def test_a_read_is_one_request_and_a_task_listing_two_with_the_values_the_node_has(people, bundle, devnet_url):
    """Reads build their keys from the loaded metadata and check the runtime in the same
    request: a value, many values, a task's results each cost the node one or two
    requests, and give what substrate-interface's own reads give."""
    creator, bob, carol = people(), people(), people()
    task = new_task(creator, bundle, slots=3, storage_type="Local")
    ids = [bob.assign_task(task.task_id).submission_id, carol.assign_task(task.task_id).submission_id]
    reader = Marketplace(Chain(connect(devnet_url)))
    reader.chain.block_number()  # a connection's first read also learns the runtime
    reference = connect(devnet_url)  # substrate-interface alone
    asked = counting_requests(reader.chain)

    task_value = reader.chain.query("Tasks", [task.task_id])
    assert asked == ["state_queryStorageAt"]
    assert task_value == reference.query("DecentralML", "Tasks", [task.task_id]).value
    asked.clear()
    accounts = reader.chain.query_many("Account", [bob.chain.address, carol.chain.address], module="System")
    assert asked == ["state_queryStorageAt"]
    assert accounts == [reference.query("System", "Account", [a]).value
                        for a in (bob.chain.address, carol.chain.address)]
    asked.clear()
    listed = reader.list_task_results(task.task_id)
    assert asked == ["state_getKeysPaged", "state_queryStorageAt"]
    assert [s.submission_id for s in listed] == ids
    assert [s.contributor for s in listed] == [bob.chain.address, carol.chain.address]
    assert all(s.status is SubmissionStatus.ASSIGNED for s in listed)
    assert sorted(key for key, _ in reader.chain.query_map("TaskSubmissions", [task.task_id])) == ids
    assert reader.chain.query("Tasks", [10 ** 9]) is None  # an absent entry of a map without a default
    reference.close()


def test_following_the_chain_costs_one_request_a_block(people, bundle, devnet_url):
    """A watcher hashes each new block's header itself (once the node confirmed the first
    hash): past the first block, each block costs it one read of the watched records."""
    creator, bob = people(), people()
    task = new_task(creator, bundle, slots=3, storage_type="Local")
    watcher = Chain(connect(devnet_url))
    [task_key] = watcher.storage_keys("Tasks", [[task.task_id]])
    start = watcher.block_number()
    asked = counting_requests(watcher)
    per_block: dict[int, list[str]] = {}

    def on_block(number: int, changed: frozenset) -> bool:
        per_block[number] = list(asked)
        asked.clear()
        return len(per_block) >= 4

    sender = threading.Timer(0.5, lambda: [creator.chain.transfer(bob.chain.address, UNIT) for _ in range(4)])
    sender.start()
    watcher.watch_storage([task_key], on_block)
    sender.join()
    numbers = sorted(per_block)
    assert numbers[0] >= start  # the head at subscribing, then each new one
    assert "chain_getBlockHash" in per_block[numbers[0]]  # the first hash is checked with the node
    for number in numbers[1:]:
        assert per_block[number] == ["state_queryStorageAt"], (number, per_block[number])


@pytest.mark.dev_chain_only
def test_a_moved_runtime_upgrade_record_makes_a_reader_learn_the_runtime_again(substrate, devnet_url):
    """Every read carries System::LastRuntimeUpgrade: when it moves (a runtime upgrade),
    the reader loads the runtime's metadata again before decoding anything, then reads
    with one request again."""
    reader = Chain(connect(devnet_url))
    reader.block_number()
    asked = counting_requests(reader)
    upgrade_key = reader.storage_keys("LastRuntimeUpgrade", [[]], module="System")[0]
    before = substrate.rpc_request("state_getStorage", [upgrade_key])["result"]
    version = substrate.query("System", "LastRuntimeUpgrade").value
    # A later spec version than the runtime's own: the runtime itself runs no migration for it.
    moved = (substrate.runtime_config.create_scale_object("Compact<u32>").encode(version["spec_version"] + 1000).data
             + substrate.runtime_config.create_scale_object("Text").encode(version["spec_name"]).data)
    substrate.rpc_request("dev_setStorage", [[[upgrade_key, "0x" + moved.hex()]]])
    try:
        asked.clear()
        number = reader.block_number()
        assert "state_getRuntimeVersion" in asked  # the runtime checked again
        assert asked[0] == asked[-1] == "state_queryStorageAt"  # read, learn, read again
        assert number == substrate.get_block_number(None)
        asked.clear()
        reader.block_number()
        assert asked == ["state_queryStorageAt"]
    finally:
        substrate.rpc_request("dev_setStorage", [[[upgrade_key, before]]])


def slot_and_result(people, bundle: Path, tmp_path: Path) -> tuple[Marketplace, int, Path]:
    """A contributor holding a slot in a new task, and a result folder to send."""
    creator, bob = people(), people()
    task = new_task(creator, bundle, storage_type="Local")
    sub = bob.assign_task(task.task_id).submission_id
    result = tmp_path / "result"
    result.mkdir()
    (result / "model.bin").write_bytes(b"weights" * 100)
    return bob, sub, result


def test_a_failed_reveal_resumes_with_the_same_upload_and_commitment(people, bundle, tmp_path,
                                                                   monkeypatch):
    """A send that dies between commit and reveal is finished by running it again: the
    result is not stored a second time and the commitment on chain is revealed."""
    bob, sub, result = slot_and_result(people, bundle, tmp_path)
    uploads = []
    real_upload = storage.upload_folder

    def counting_upload(*args, **kwargs):
        uploads.append(args[1])
        return real_upload(*args, **kwargs)

    monkeypatch.setattr(storage, "upload_folder", counting_upload)
    real_submit = bob.chain.submit

    def reveal_fails(function, params, module="DecentralML"):
        if function == "reveal_task_result":
            raise ConnectionError("connection dropped")
        return real_submit(function, params, module)

    monkeypatch.setattr(bob.chain, "submit", reveal_fails)
    with pytest.raises(ConnectionError):
        bob.send_task_result(sub, result_path=result, result_storage_type="S3")
    assert bob.get_submission(sub).status is SubmissionStatus.COMMITTED
    monkeypatch.setattr(bob.chain, "submit", real_submit)
    sent = bob.send_task_result(sub, result_path=result, result_storage_type="S3")
    assert sent.status is SubmissionStatus.PENDING
    assert len(uploads) == 1
    assert bob.journal.get(sub) is None  # nothing left to remember once revealed


def test_a_failed_commit_reuses_the_upload(people, bundle, tmp_path, monkeypatch):
    """No orphan uploads: a send whose commit failed stores nothing new on retry."""
    bob, sub, result = slot_and_result(people, bundle, tmp_path)
    real_submit = bob.chain.submit
    monkeypatch.setattr(bob.chain, "submit", lambda *a, **k: (_ for _ in ()).throw(
        ConnectionError("connection dropped")))
    with pytest.raises(ConnectionError):
        bob.send_task_result(sub, result_path=result, result_storage_type="S3")
    first = bob.journal.get(sub).location
    monkeypatch.setattr(bob.chain, "submit", real_submit)
    sent = bob.send_task_result(sub, result_path=result, result_storage_type="S3")
    assert sent.result_location == first


def test_chain_bounds_are_checked_before_anything_is_uploaded(people, bundle, monkeypatch):
    creator = people()
    uploads = []
    monkeypatch.setattr(storage, "upload_folder", lambda *a, **k: uploads.append(a))
    before = task_count(creator)
    with pytest.raises(UserInputError, match="max_assignments 5000000000 is more than the chain allows"):
        new_task(creator, bundle, slots=5_000_000_000)
    with pytest.raises(UserInputError, match="too far"):
        new_task(creator, bundle, expires_in_blocks=creator.limit("MaxTaskDuration") + 5)
    with pytest.raises(UserInputError, match="existential deposit"):
        new_task(creator, bundle, pays_amount=1)
    labels = "x" * (creator.limit("MaxAnnotationLen") + 1)
    with pytest.raises(UserInputError, match=f"class_labels is {len(labels)} bytes"):
        new_task(creator, bundle, annotation={"annotation_type": "box", "class_labels": labels})
    assert uploads == [] and task_count(creator) == before


def test_a_creators_record_and_the_deadlines_come_from_the_chain(people, bundle, tmp_path):
    creator, bob = people(), people()
    task = new_task(creator, bundle, slots=1, storage_type="Local")
    sub = bob.assign_task(task.task_id).submission_id
    bob.send_task_result(sub, result="labels: 1,2,3")
    creator.decide_task_results(reject={sub: "wrong labels"})
    record = bob.creator_record(creator.chain.address)
    assert (record.tasks_created, record.results_rejected, record.acceptance_rate) == (1, 1, 0.0)
    assert bob.contributor_record().results_rejected == 1
    deadlines = bob.deadlines()
    assert deadlines.review_period == int(bob.chain.constant("ReviewPeriod")) > 0
    # The assignment deposit came back with the reveal; the record's storage deposit stays.
    record = bob.get_submission(sub)
    assert (record.assignment_deposit, record.storage_deposit) == (0, deadlines.submission_deposit)


def test_no_signer_is_a_config_error(monkeypatch):
    monkeypatch.delenv("DECENTRALML_SURI", raising=False)
    with pytest.raises(ConfigError, match="DECENTRALML_SURI"):
        load_keypair()


# -- campaigns and released slots --------------------------------------------------

def new_round(creator: Marketplace, bundle: Path, campaign: int | None, slots=1, **kwargs):
    params = dict(task_type="ModelContributor", question="Train round after round",
                  pays_amount=REWARD, max_assignments=slots, bundle_path=bundle,
                  bundle_storage_type="Local", expires_in_blocks=200)
    params.update(kwargs)
    return creator.create_campaign_task(campaign, **params)


def test_a_campaigns_lineage_is_followed_from_the_chain_alone(people, bundle, substrate):
    creator = people()
    rounds = [new_round(creator, bundle, None)]
    campaign = rounds[0].campaign
    for _ in range(2):
        creator.close_task(rounds[-1].task_id)
        rounds.append(new_round(creator, bundle, campaign))
    assert [(r.round, r.continues) for r in rounds] == \
        [(1, None), (2, rounds[0].task_id), (3, rounds[1].task_id)]

    # A reader with no signer and no memory of the rounds finds them all on chain.
    reader = Marketplace(Chain(substrate), {})
    record = reader.get_campaign(campaign)
    assert (record.creator, record.rounds, record.latest_task) == \
        (creator.chain.address, 3, rounds[2].task_id)
    assert reader.campaign_rounds(campaign) == [(r.round, r.task_id) for r in rounds]
    assert campaign in [c.campaign_id for c in reader.list_campaigns(creator=creator.chain.address)]
    assert reader.list_campaigns(creator=people().chain.address) == []
    history, task = [], reader.get_task(record.latest_task)
    while True:
        history.append(task.task_id)
        assert task.lineage.campaign == campaign and task.creator == creator.chain.address
        if task.lineage.continues is None:
            break
        task = reader.get_task(task.lineage.continues)
    assert history == [r.task_id for r in reversed(rounds)]
    assert task.lineage.round == 1
    # A plain task belongs to no campaign.
    assert new_task(creator, bundle, storage_type="Local").lineage is None


def test_the_next_round_waits_until_the_previous_is_closed(people, bundle, monkeypatch):
    creator = people()
    first = new_round(creator, bundle, None)
    uploads = []
    real_upload = storage.upload_folder
    monkeypatch.setattr(storage, "upload_folder", lambda *a, **k: uploads.append(a) or real_upload(*a, **k))
    before = task_count(creator)
    with pytest.raises(UserInputError, match=f"round 1 \\(task {first.task_id}\\) is still open"):
        new_round(creator, bundle, first.campaign)
    assert uploads == [] and task_count(creator) == before
    # The chain refuses it too, by name, when the client's check is passed by.
    with pytest.raises(PalletError, match="PreviousRoundOpen"):
        creator.chain.submit("create_campaign_task", raw_round(creator, first))
    creator.close_task(first.task_id)
    assert new_round(creator, bundle, first.campaign).round == 2


def raw_round(market: Marketplace, previous) -> dict:
    """The chain call of the round after ``previous``, with its bundle, made by hand."""
    return {
        "task_type": "ModelContributor", "question": "0x" + b"next round".hex(),
        "pays_amount": REWARD, "max_assignments": 1,
        "expiration_block": market.chain.block_number() + 100,
        "validation_strategy": "CustomAccept",
        "bundle": market.get_task(previous.task_id).bundle.to_chain(),
        "result_public_key": None, "annotation": None, "campaign": previous.campaign}


def test_another_account_cannot_continue_someones_campaign(people, bundle):
    creator, eve = people(), people()
    first = new_round(creator, bundle, None)
    creator.close_task(first.task_id)
    with pytest.raises(UserInputError, match="only that account may add rounds"):
        new_round(eve, bundle, first.campaign)
    with pytest.raises(NotAuthorizedError, match="NotCampaignCreator"):
        eve.chain.submit("create_campaign_task", raw_round(eve, first))
    with pytest.raises(NotFoundError, match="CampaignNotFound"):
        new_round(eve, bundle, 10**9)
    assert eve.get_campaign(first.campaign).rounds == 1
    # Eve's own campaign is hers, with an id of its own.
    assert new_round(eve, bundle, None).campaign != first.campaign


def test_release_slot_returns_the_slot_and_storage_deposit_and_forfeits_the_assignment_deposit(
        people, bundle):
    creator, bob, charlie = people(), people(), people()
    deadlines = bob.deadlines()
    task = new_task(creator, bundle, slots=1, storage_type="Local")
    sub = bob.assign_task(task.task_id).submission_id
    with pytest.raises(PalletError, match="NoSlotsLeft"):
        charlie.assign_task(task.task_id)
    with pytest.raises(NotAuthorizedError, match="NotAssignedContributor"):
        charlie.release_slot(sub)
    creator_before, bob_before = creator.balance(), bob.balance()
    receipt = bob.release_slot(sub)
    assert receipt.first("SlotReleased").attributes["forfeited"] == deadlines.assignment_deposit
    assert creator.balance()["free"] == creator_before["free"] + deadlines.assignment_deposit
    bob_after = bob.balance()
    assert bob_after["reserved"] == bob_before["reserved"] - deadlines.assignment_deposit \
        - deadlines.submission_deposit == 0
    assert bob_after["free"] == bob_before["free"] + deadlines.submission_deposit - receipt.fee
    with pytest.raises(NotFoundError, match="SubmissionNotFound"):
        bob.get_submission(sub)
    record = bob.contributor_record()
    assert (record.slots_taken, record.slots_released, record.slots_timed_out) == (1, 1, 0)
    assert bob.get_task(task.task_id).taken_slots == 0
    # The slot is open again; once a result is committed it can no longer be released.
    again = charlie.assign_task(task.task_id).submission_id
    result = bundle.parent / "result"
    result.mkdir()
    (result / "model.bin").write_bytes(b"weights")
    charlie.send_task_result(again, result_path=result)
    with pytest.raises(PalletError, match="ResultAlreadySent"):
        charlie.release_slot(again)


def test_a_round_from_a_bundle_stored_before_uploads_nothing(people, bundle, monkeypatch, capsys):
    from substrate_client.cli.output import show_task_details

    creator = people()
    first = new_round(creator, bundle, None)
    stored = creator.get_task(first.task_id).bundle
    creator.close_task(first.task_id)
    uploads = []
    monkeypatch.setattr(storage, "upload_folder", lambda *a, **k: uploads.append(a))
    second = new_round(creator, None, first.campaign, bundle_path=None, bundle_location=stored)
    task = creator.get_task(second.task_id)
    assert uploads == [] and task.bundle == stored
    assert (task.lineage.round, task.lineage.continues) == (2, first.task_id)
    # show_task says which campaign round a task is, and which task it continues.
    show_task_details(task)
    shown = re.search(r"^campaign +(.*)$", capsys.readouterr().out, re.M).group(1)
    assert shown == f"{first.campaign}, round 2 (continues task {first.task_id})"
    # A bundle given both ways, or not at all, is refused before anything happens.
    for both_or_neither in ({"bundle_path": bundle, "bundle_location": stored}, {"bundle_path": None}):
        with pytest.raises(UserInputError, match="either as a folder to store or as a location"):
            new_round(creator, None, None, **both_or_neither)


def test_prepared_storage_clients_are_the_ones_later_used_and_a_bad_one_is_left_for_its_use():
    market = Marketplace(None, {"bucket": "results-bucket", "endpoint_url": "http://127.0.0.1:9"})
    market.prepare_storage(StorageType.S3, StorageType.IPFS)
    s3 = market.backend(StorageType.S3)
    assert market.backend("S3") is s3 and s3.bucket == "results-bucket"
    assert len(market._backends) == 2
    broken = Marketplace(None, {"bucket": "no/slashes"})
    broken.prepare_storage(StorageType.S3)  # nothing raised: the use that needs it reports it
    with pytest.raises(UserInputError, match="bucket"):
        broken.backend(StorageType.S3)
