"""The walk-throughs' storage, through the command line against a real Kubo and MinIO:
``create_task --storage ipfs`` and ``--storage s3`` put the bundle there, ``assign_task``
fetches and verifies it from there, and ``send_task_result`` stores the result there
(by default where the bundle is, or where ``--storage`` says), sealed when the task has a
result key; each object is in the daemon, as the chain records it."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import requests

from tests.fixtures import (as_json, create_task, files, make_bundle, make_result, ok,
                            send_result, take_slot)

BUCKET = "cli-storage-tests"


@pytest.fixture
def services(kubo, minio):
    """Where the storage daemons are, as a user would set them (environment)."""
    return {"DECENTRALML_IPFS_API": kubo.api_url, "DECENTRALML_S3_ENDPOINT": minio.endpoint_url,
            "DECENTRALML_S3_BUCKET": BUCKET}


@pytest.fixture
def run(dml, services):
    def run(*args, signer=None):
        return dml(*args, signer=signer, env=services)

    return run


def held(kubo, minio, location: dict) -> int:
    """The size the daemon the chain names (Kubo by CID, MinIO by bucket/key) holds."""
    if location["storage_type"] == "IPFS":
        stat = requests.post(f"{kubo.api_url}/api/v0/block/stat", params={"arg": location["path"]},
                             timeout=10)
        assert stat.status_code == 200, stat.text
        cat = requests.post(f"{kubo.api_url}/api/v0/cat", params={"arg": location["path"]},
                            timeout=30)
        assert cat.status_code == 200
        return len(cat.content)
    assert location["storage_type"] == "S3"
    bucket, key = location["path"].split("/", 1)
    assert bucket == BUCKET
    s3 = boto3.client("s3", endpoint_url=minio.endpoint_url)
    return s3.head_object(Bucket=bucket, Key=key)["ContentLength"]


@pytest.mark.parametrize("bundle_on, other", [("ipfs", "s3"), ("s3", "ipfs")])
def test_a_bundle_is_fetched_from_its_storage_and_results_go_there_or_where_asked(
        run, account, kubo, minio, tmp_path, bundle_on, other):
    creator, bob, carol = account(), account(), account()
    bundle = make_bundle(tmp_path, model_bytes=200_000)
    key = tmp_path / "result_key"
    ok(run("keys", "generate", "--path", key))

    task = create_task(run, creator, bundle, storage=bundle_on, pays="1DML", slots=2,
                       result_key=key.with_suffix(".pub"))

    assert task["bundle"]["storage_type"] == bundle_on.upper()
    assert held(kubo, minio, task["bundle"]) == task["bundle"]["size"]
    assigned = as_json(run("--json", "assign_task", task["task_id"], "--dest", tmp_path / "bob",
                           signer=bob))
    assert files(Path(assigned["bundle_dir"])) == files(bundle)  # fetched from there, verified
    bob_sent = send_result(run, bob, assigned["submission_id"], make_result(tmp_path, "bob_result"))
    carol_sub = take_slot(run, carol, task["task_id"], tmp_path / "carol")
    carol_sent = send_result(run, carol, carol_sub, make_result(tmp_path, "carol_result"),
                             storage=other)

    # By default a result goes where the bundle is; --storage sends it elsewhere.
    assert bob_sent["result_location"]["storage_type"] == bundle_on.upper()
    assert carol_sent["result_location"]["storage_type"] == other.upper()
    for sent in (bob_sent, carol_sent):
        assert held(kubo, minio, sent["result_location"]) == sent["result_location"]["size"]
    for sub, name in ((assigned["submission_id"], "bob_result"), (carol_sub, "carol_result")):
        got = as_json(run("download_task_result", sub, "--dest", tmp_path / f"got_{sub}",
                          "--result-key-file", key, "--json"))
        assert files(Path(got["dest"])) == files(tmp_path / name)
        # Sealed to the creator's key: without it the result does not open.
        sealed = run("download_task_result", sub, "--dest", tmp_path / f"nokey_{sub}")
        assert sealed.exit_code != 0 and not (tmp_path / f"nokey_{sub}").exists()
    # Someone who has taken no slot reads the bundle from there too.
    fetched = as_json(run("--json", "fetch_bundle", task["task_id"], "--dest", tmp_path / "again"))
    assert files(Path(fetched["bundle_dir"])) == files(bundle)
