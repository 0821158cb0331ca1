"""End to end: one federated round on a fresh dev chain with real Kubo and MinIO.

The round runs once for the module (small settings: a few thousand samples per
contributor, one epoch); each test checks one thing it must have done. Dev accounts
are shared with other tests on the session chain, so money is checked as balance
changes read from the chain by the test itself, never as absolute values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from substrateinterface.utils.ss58 import ss58_decode

from substrate_client.demo import RoundSettings, RoundSummary, run_round
from substrate_client.records import StorageType, SubmissionStatus, TaskStatus
from substrate_client.demo.report import render_text
from substrate_client.tasks import Marketplace

ACCOUNTS = ("Alice", "Bob", "Charlie", "Dave", "Eve")
HONEST = ("Bob", "Charlie", "Dave")
SABOTEUR = "Eve"


def _totals(substrate, keys) -> dict[str, dict[str, int]]:  # noqa: F811
    out = {}
    for name in ACCOUNTS:
        data = substrate.query("System", "Account", [keys[name]]).value["data"]
        out[name] = {"free": int(data["free"]), "reserved": int(data["reserved"])}
    return out


@pytest.fixture(scope="module")
def round_run(devnet_url, substrate, kubo, minio, tmp_path_factory):  # noqa: F811
    from substrate_client.chain import dev_address

    addresses = {name: dev_address(name) for name in ACCOUNTS}
    before = _totals(substrate, addresses)
    lines: list[str] = []
    settings = RoundSettings(
        run_dir=tmp_path_factory.mktemp("round") / "run",
        url=devnet_url,
        ipfs_api=kubo.api_url,
        s3_endpoint=minio.endpoint_url,
        s3_bucket="decentralml-round-test",
        contributors=("Bob", "Charlie", "Dave", "Eve"),
        saboteurs=("Eve",),
        epochs=1,
        max_samples=2000,
    )
    summary = run_round(settings, report=lines.append)
    after = _totals(substrate, addresses)
    return summary, lines, before, after


def _delta(before, after, name) -> int:
    b, a = before[name], after[name]
    return (a["free"] + a["reserved"]) - (b["free"] + b["reserved"])


def test_the_federated_model_beats_the_initial_model(round_run):
    summary: RoundSummary = round_run[0]
    assert summary.initial_accuracy is not None and summary.federated_accuracy is not None
    assert summary.federated_accuracy > summary.initial_accuracy + 0.2, (
        summary.initial_accuracy, summary.federated_accuracy)
    assert (Path(summary.federated_model_dir) / "saved_model.pb").is_file()


def test_each_accepted_contributor_receives_exactly_the_reward(round_run, devnet_url):
    summary, _, before, after = round_run
    deposit = Marketplace.connect(devnet_url, need_signer=False).deadlines().submission_deposit
    for name in HONEST:
        c = summary.contributor(name)
        assert c.decision == "accepted", (name, c.reason)
        assert c.federated
        assert c.paid == summary.reward
        assert 0 < c.fees < summary.reward // 100  # assign + send, paid by the contributor
        # The chain, read by the test: reward in, fees out, nothing else.
        assert _delta(before, after, name) == summary.reward - c.fees
        # Only the storage deposit of the submission record stays held until its removal.
        assert after[name]["reserved"] == before[name]["reserved"] + deposit


def test_the_saboteur_is_rejected_unpaid_and_left_out_of_the_federated_model(round_run):
    summary, _, before, after = round_run
    eve = summary.contributor(SABOTEUR)
    assert eve.saboteur
    assert eve.decision == "rejected"
    assert "threshold" in eve.reason
    assert eve.accuracy < summary.threshold
    assert eve.paid == 0
    assert not eve.federated
    assert _delta(before, after, SABOTEUR) == -eve.fees
    federation_info = json.loads(
        (Path(summary.federated_model_dir) / "decentralml_federation.json").read_text())
    sources = [Path(p).name for p in federation_info["sources"]]
    assert sorted(sources) == sorted(n.lower() for n in HONEST)


def test_closing_the_task_returns_the_rest_of_the_escrow(round_run, devnet_url):  # noqa: F811
    summary, _, before, after = round_run
    paid = summary.reward * len(HONEST)
    assert summary.escrow == summary.reward * 4
    assert summary.escrow_paid == paid
    # The saboteur's reward stays held while she may still appeal her rejection.
    assert summary.escrow_held_for_appeal == summary.reward
    assert summary.escrow_refunded == summary.escrow - paid - summary.reward
    # The creator holds only that reward and the task's storage deposit, and she is down
    # exactly the rewards paid and her own fees.
    market = Marketplace.connect(devnet_url, need_signer=False)
    task = market.get_task(summary.task_id)
    assert after["Alice"]["reserved"] == before["Alice"]["reserved"] + summary.reward + task.deposit
    assert _delta(before, after, "Alice") == -(paid + summary.creator.fees)
    assert task.status is TaskStatus.CLOSED
    assert task.escrow == summary.reward
    assert task.bundle.storage_type is StorageType.IPFS
    # The chain may print addresses in another SS58 format: compare accounts.
    statuses = {ss58_decode(s.contributor): s.status for s in market.list_task_results(summary.task_id)}
    assert statuses[ss58_decode(summary.contributor(SABOTEUR).address)] is SubmissionStatus.REJECTED
    for name in HONEST:
        assert statuses[ss58_decode(summary.contributor(name).address)] is SubmissionStatus.ACCEPTED
    for s in market.list_task_results(summary.task_id):
        assert s.result_location.storage_type is StorageType.S3


def test_the_summary_json_and_chart_are_written(round_run):
    summary = round_run[0]
    chart = Path(summary.chart_path)
    assert chart.is_file() and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(Path(summary.summary_path).read_text())
    assert data["task_id"] == summary.task_id
    assert {c["name"] for c in data["contributors"]} == {"Bob", "Charlie", "Dave", "Eve"}
    assert set(data["timings"]) >= {"chain", "storage", "validation", "federation", "training"}
    text = render_text(data)
    for word in ("Bob", "Eve", "rejected", "refunded", str(summary.federated_model_dir)):
        assert word in text


def test_progress_is_reported_step_by_step(round_run):
    lines = round_run[1]
    steps = [line for line in lines if line.startswith("[")]
    assert [s.split("]")[0] + "]" for s in steps] == [f"[{i}/9]" for i in range(1, 10)]
    assert any(s.startswith("[3/9] Bob training on shard 1/4") for s in steps)
    assert any("Eve" in s and "random weights" in s for s in steps)
