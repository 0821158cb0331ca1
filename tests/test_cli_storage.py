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


def in_kubo(kubo, location: dict) -> int:
    """The size Kubo holds for the CID the chain records."""
    assert location["storage_type"] == "IPFS"
    stat = requests.post(f"{kubo.api_url}/api/v0/block/stat", params={"arg": location["path"]},
                         timeout=10)
    assert stat.status_code == 200, stat.text
    cat = requests.post(f"{kubo.api_url}/api/v0/cat", params={"arg": location["path"]}, timeout=30)
    assert cat.status_code == 200
    return len(cat.content)


def in_minio(minio, location: dict) -> int:
    """The size MinIO holds at the bucket/key the chain records."""
    assert location["storage_type"] == "S3"
    bucket, key = location["path"].split("/", 1)
    s3 = boto3.client("s3", endpoint_url=minio.endpoint_url)
    return s3.head_object(Bucket=bucket, Key=key)["ContentLength"]


def test_a_bundle_on_ipfs_is_fetched_from_ipfs_and_results_go_to_ipfs_or_s3(
        run, account, kubo, minio, tmp_path):
    creator, bob, carol = account(), account(), account()
    bundle = make_bundle(tmp_path, model_bytes=200_000)
    key = tmp_path / "result_key"
    ok(run("keys", "generate", "--path", key))

    task = create_task(run, creator, bundle, storage="ipfs", pays="1DML", slots=2,
                       result_key=key.with_suffix(".pub"))

    assert in_kubo(kubo, task["bundle"]) == task["bundle"]["size"]
    assigned = as_json(run("--json", "assign_task", task["task_id"], "--dest", tmp_path / "bob",
                           signer=bob))
    assert files(Path(assigned["bundle_dir"])) == files(bundle)  # from IPFS, verified
    bob_sent = send_result(run, bob, assigned["submission_id"], make_result(tmp_path, "bob_result"))
    carol_sub = take_slot(run, carol, task["task_id"], tmp_path / "carol")
    carol_sent = send_result(run, carol, carol_sub, make_result(tmp_path, "carol_result"),
                             storage="s3")

    # By default the result goes where the bundle is; --storage s3 sends it to MinIO.
    assert in_kubo(kubo, bob_sent["result_location"]) == bob_sent["result_location"]["size"]
    assert in_minio(minio, carol_sent["result_location"]) == carol_sent["result_location"]["size"]
    for sub, name in ((assigned["submission_id"], "bob_result"), (carol_sub, "carol_result")):
        got = as_json(run("download_task_result", sub, "--dest", tmp_path / f"got_{sub}",
                          "--result-key-file", key, "--json"))
        assert files(Path(got["dest"])) == files(tmp_path / name)
        # Sealed to the creator's key: without it the result does not open.
        sealed = run("download_task_result", sub, "--dest", tmp_path / f"nokey_{sub}")
        assert sealed.exit_code != 0 and not (tmp_path / f"nokey_{sub}").exists()


def test_a_bundle_on_s3_is_fetched_from_s3_and_results_go_to_s3_or_ipfs(
        run, account, kubo, minio, tmp_path):
    creator, bob, carol = account(), account(), account()
    bundle = make_bundle(tmp_path, model_bytes=200_000)

    task = create_task(run, creator, bundle, storage="s3", pays="1DML", slots=2)

    assert task["bundle"]["path"].startswith(f"{BUCKET}/")
    assert in_minio(minio, task["bundle"]) == task["bundle"]["size"]
    assigned = as_json(run("--json", "assign_task", task["task_id"], "--dest", tmp_path / "bob",
                           signer=bob))
    assert files(Path(assigned["bundle_dir"])) == files(bundle)  # from S3, verified
    bob_sent = send_result(run, bob, assigned["submission_id"], make_result(tmp_path, "bob_result"))
    carol_sub = take_slot(run, carol, task["task_id"], tmp_path / "carol")
    carol_sent = send_result(run, carol, carol_sub, make_result(tmp_path, "carol_result"),
                             storage="ipfs")

    assert in_minio(minio, bob_sent["result_location"]) == bob_sent["result_location"]["size"]
    assert in_kubo(kubo, carol_sent["result_location"]) == carol_sent["result_location"]["size"]
    for sub, name in ((assigned["submission_id"], "bob_result"), (carol_sub, "carol_result")):
        got = as_json(run("download_task_result", sub, "--dest", tmp_path / f"got_{sub}", "--json"))
        assert files(Path(got["dest"])) == files(tmp_path / name)
    # The fetch_bundle of a contributor who has not taken a slot reads S3 too.
    fetched = as_json(run("--json", "fetch_bundle", task["task_id"], "--dest", tmp_path / "again"))
    assert files(Path(fetched["bundle_dir"])) == files(bundle)
