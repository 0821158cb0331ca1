"""A round's steps with a part of the system gone: Kubo or MinIO stopped during an
upload, the chain's connection dropped while money moves. Each step fails in words
with nothing changed, or completes; run again, it completes, with no double payment
and no result lost or stored twice."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from substrate_client.chain import Chain, connect
from substrate_client.errors import StorageUnavailableError
from substrate_client.marketplace import Marketplace
from substrate_client.records import SubmissionStatus
from tests import daemons
from tests.chain_fixtures import UNIT, fresh_account
from tests.faults import FaultyProxy

REWARD = 2 * UNIT


@pytest.fixture
def own_kubo(tmp_path):
    """A Kubo of this test's own, which the test may stop and start again."""
    node = daemons.start_kubo(tmp_path / "kubo")
    yield node
    node.stop()


@pytest.fixture
def own_minio(tmp_path, minio):  # the session's MinIO sets the AWS_* credentials
    server = daemons.start_minio(tmp_path / "minio")
    yield server
    server.stop()


def market(substrate, dev_keys, settings: dict) -> Marketplace:
    return Marketplace(Chain(substrate, fresh_account(substrate, dev_keys["alice"], 100 * UNIT)),
                       settings)


def folder(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "model.bin").write_text(text * 100)
    (path / "start_task.sh").write_text("#!/bin/sh\n")
    return path


def task_count(m: Marketplace) -> int:
    return int(m.chain.query("NextTaskId"))


def test_kubo_down_during_the_bundle_upload_creates_nothing_and_the_retry_creates_one(
        substrate, dev_keys, own_kubo, tmp_path):
    creator = market(substrate, dev_keys, {"api_url": own_kubo.api_url})
    bundle = folder(tmp_path / "bundle", "bundle")
    before = task_count(creator)
    own_kubo.stop()
    with pytest.raises(StorageUnavailableError, match="IPFS|Kubo|reach"):
        creator.create_task_model_contributor(
            question="q", pays_amount=REWARD, max_assignments=1, expires_in_blocks=500,
            model_contributor_script_path=bundle, model_contributor_script_storage_type="IPFS")
    assert task_count(creator) == before
    assert creator.balance()["reserved"] == 0
    own_kubo.start_again()
    task = creator.create_task_model_contributor(
        question="q", pays_amount=REWARD, max_assignments=1, expires_in_blocks=500,
        model_contributor_script_path=bundle, model_contributor_script_storage_type="IPFS")
    assert task_count(creator) == before + 1 and task.task_id == before


def bucket_objects(endpoint_url: str, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint_url)
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_minio_down_while_sending_changes_nothing_and_the_retry_sends_once(
        substrate, dev_keys, own_minio, tmp_path):
    settings = {"endpoint_url": own_minio.endpoint_url, "bucket": "chaos",
                "root": str(tmp_path / "store")}
    creator, bob = market(substrate, dev_keys, settings), market(substrate, dev_keys, settings)
    task = creator.create_task_model_contributor(
        question="q", pays_amount=REWARD, max_assignments=1, expires_in_blocks=500,
        model_contributor_script_path=folder(tmp_path / "bundle", "b"),
        model_contributor_script_storage_type="Local")
    sub = bob.assign_task(task.task_id).submission_id
    result = folder(tmp_path / "result", "trained")
    own_minio.stop()
    with pytest.raises(StorageUnavailableError):
        bob.send_task_result(sub, result_path=result, result_storage_type="S3")
    assert bob.get_submission(sub).status is SubmissionStatus.ASSIGNED
    assert bob.journal.get(sub) is None  # nothing stored, nothing to resume
    own_minio.start_again()
    sent = bob.send_task_result(sub, result_path=result, result_storage_type="S3")
    assert sent.status is SubmissionStatus.PENDING
    assert len(bucket_objects(own_minio.endpoint_url, "chaos")) == 1


def test_a_dropped_connection_while_deciding_pays_each_result_once(
        substrate, dev_keys, devnet_url, tmp_path):
    settings = {"root": str(tmp_path / "store")}
    creator = market(substrate, dev_keys, settings)
    contributors = [market(substrate, dev_keys, settings) for _ in range(2)]
    task = creator.create_task_model_contributor(
        question="q", pays_amount=REWARD, max_assignments=2, expires_in_blocks=500,
        model_contributor_script_path=folder(tmp_path / "bundle", "b"),
        model_contributor_script_storage_type="Local")
    subs = []
    for n, c in enumerate(contributors):
        sub = c.assign_task(task.task_id).submission_id
        c.send_task_result(sub, result=f"labels {n}")
        subs.append(sub)
    before = [c.balance()["free"] for c in contributors]

    proxy = FaultyProxy(int(devnet_url.rsplit(":", 1)[1]))
    try:
        flaky = Marketplace(Chain(connect(proxy.url, timeout=10), creator.chain.keypair), settings)
        proxy.drop_on_submit = True
        receipt = flaky.decide_task_results(accept=subs)
        assert proxy.drops == 1
    finally:
        proxy.close()
    assert len(receipt.find("ResultAccepted")) == 2
    assert [c.balance()["free"] for c in contributors] == [b + REWARD for b in before]
    # Deciding again changes nothing: the results are no longer pending.
    with pytest.raises(Exception, match="ResultNotPending"):
        creator.decide_task_results(accept=subs)
    assert [c.balance()["free"] for c in contributors] == [b + REWARD for b in before]
