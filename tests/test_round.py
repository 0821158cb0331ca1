"""The main job, end to end: ``decentralml run_round`` on the session's dev chain with
real Kubo and MinIO, run as a user runs it (a process of its own).

The round runs once for the module with small settings (two honest contributors and a
saboteur, 2,000 samples each, one epoch); each test checks one thing it promises. Dev accounts are shared with other
tests on the session chain, so money is checked as balance changes read from the chain
by the test itself, never as absolute values.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from substrateinterface.utils.ss58 import ss58_decode

from substrate_client.chain import dev_address
from substrate_client.demo.report import render_text
from substrate_client.marketplace import Marketplace
from substrate_client.records import StorageType, SubmissionStatus, TaskStatus

REPO = Path(__file__).resolve().parent.parent
ACCOUNTS = ("Alice", "Bob", "Charlie", "Eve")
HONEST = ("Bob", "Charlie")
SABOTEUR = "Eve"
#: What TensorFlow, absl and CUDA print when they start (or save a model).
NOISE = re.compile(r"tensorflow|absl|cuda|onednn|cpu_feature_guard|oneapi|W0000|I0000|E0000|"
                   r"warning:|Warning|\.cc:\d+\]", re.IGNORECASE)


def _totals(substrate) -> dict[str, dict[str, int]]:
    out = {}
    for name in ACCOUNTS:
        data = substrate.query("System", "Account", [dev_address(name)]).value["data"]
        out[name] = {"free": int(data["free"]), "reserved": int(data["reserved"])}
    return out


@pytest.fixture(scope="module")
def round_run(devnet_url, substrate, kubo, minio, tmp_path_factory):
    """``decentralml run_round`` in a process of its own: (summary, stderr, before, after)."""
    run_dir = tmp_path_factory.mktemp("round") / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECENTRALML_")}
    env.update(DECENTRALML_CONFIG=str(run_dir.parent / "no-config.toml"),
               DECENTRALML_STATE_DIR=str(run_dir.parent / "state"),
               DECENTRALML_RUN_DIR=os.environ["DECENTRALML_RUN_DIR"])
    before = _totals(substrate)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "substrate_client.cli", "--url", devnet_url,
         "--ipfs-api", kubo.api_url, "--s3-endpoint", minio.endpoint_url,
         "--s3-bucket", "decentralml-round-test", "--json",
         "run_round", "--out", str(run_dir), "--contributors", "Bob,Charlie,Eve",
         "--saboteurs", "Eve", "--epochs", "1", "--max-samples", "2000"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    after = _totals(substrate)
    print(f"decentralml run_round took {seconds:.1f}s")
    return json.loads(proc.stdout), proc.stderr, before, after


def _contributor(summary, name):
    return next(c for c in summary["contributors"] if c["name"] == name)


def _delta(before, after, name) -> int:
    b, a = before[name], after[name]
    return (a["free"] + a["reserved"]) - (b["free"] + b["reserved"])


def test_the_federated_model_beats_the_initial_model(round_run):
    summary = round_run[0]
    assert summary["initial_accuracy"] is not None and summary["federated_accuracy"] is not None
    assert summary["federated_accuracy"] > summary["initial_accuracy"] + 0.2, (
        summary["initial_accuracy"], summary["federated_accuracy"])
    assert (Path(summary["federated_model_dir"]) / "saved_model.pb").is_file()


def test_each_honest_contributor_receives_exactly_the_reward(round_run, devnet_url):
    summary, _, before, after = round_run
    deposit = Marketplace.connect(devnet_url, need_signer=False).deadlines().submission_deposit
    for name in HONEST:
        c = _contributor(summary, name)
        assert c["decision"] == "accepted", (name, c["reason"])
        assert c["federated"]
        assert c["paid"] == summary["reward"]
        assert 0 < c["fees"] < summary["reward"] // 100  # assign + send, paid by the contributor
        # The chain, read by the test: reward in, fees out, nothing else.
        assert _delta(before, after, name) == summary["reward"] - c["fees"]
        # Only the storage deposit of the submission record stays held until its removal.
        assert after[name]["reserved"] == before[name]["reserved"] + deposit


def test_the_saboteur_is_rejected_unpaid_and_left_out_of_the_federated_model(round_run):
    summary, _, before, after = round_run
    eve = _contributor(summary, SABOTEUR)
    assert eve["saboteur"]
    assert eve["decision"] == "rejected"
    assert "threshold" in eve["reason"]
    assert eve["accuracy"] < summary["threshold"]
    assert eve["paid"] == 0
    assert not eve["federated"]
    assert _delta(before, after, SABOTEUR) == -eve["fees"]
    federation_info = json.loads(
        (Path(summary["federated_model_dir"]) / "decentralml_federation.json").read_text())
    sources = [Path(p).name for p in federation_info["sources"]]
    assert sorted(sources) == sorted(n.lower() for n in HONEST)


def test_closing_the_task_returns_the_rest_of_the_escrow(round_run, devnet_url):
    summary, _, before, after = round_run
    reward = summary["reward"]
    paid = reward * len(HONEST)
    assert summary["escrow"] == reward * len(ACCOUNTS[1:])
    assert summary["escrow_paid"] == paid
    # The saboteur's reward stays held while she may still appeal her rejection.
    assert summary["escrow_held_for_appeal"] == reward
    assert summary["escrow_refunded"] == summary["escrow"] - paid - reward
    # The creator holds only that reward and the task's storage deposit, and she is down
    # exactly the rewards paid and her own fees.
    market = Marketplace.connect(devnet_url, need_signer=False)
    task = market.get_task(summary["task_id"])
    assert after["Alice"]["reserved"] == before["Alice"]["reserved"] + reward + task.deposit
    assert _delta(before, after, "Alice") == -(paid + summary["creator"]["fees"])
    assert task.status is TaskStatus.CLOSED
    assert task.escrow == reward
    assert task.bundle.storage_type is StorageType.IPFS
    # The chain may print addresses in another SS58 format: compare accounts.
    statuses = {ss58_decode(s.contributor): s.status for s in market.list_task_results(summary["task_id"])}
    assert statuses[ss58_decode(_contributor(summary, SABOTEUR)["address"])] is SubmissionStatus.REJECTED
    for name in HONEST:
        assert statuses[ss58_decode(_contributor(summary, name)["address"])] is SubmissionStatus.ACCEPTED
    for s in market.list_task_results(summary["task_id"]):
        assert s.result_location.storage_type is StorageType.S3


def test_the_summary_json_and_chart_are_written(round_run):
    summary = round_run[0]
    chart = Path(summary["chart_path"])
    assert chart.is_file() and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(Path(summary["summary_path"]).read_text())
    assert data == summary
    assert {c["name"] for c in data["contributors"]} == set(ACCOUNTS[1:])
    assert set(data["timings"]) >= {"chain", "storage", "validation", "federation", "training"}
    text = render_text(data)
    for word in ("Bob", "Eve", "rejected", "refunded", str(summary["federated_model_dir"])):
        assert word in text


def test_progress_is_reported_step_by_step_without_tensorflow_chatter(round_run):
    summary, stderr = round_run[0], round_run[1]
    lines = stderr.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    assert [s.split("]")[0] + "]" for s in steps] == [f"[{i}/8]" for i in range(1, 9)]
    assert any(s.startswith("[3/8] Bob training on shard 1/3") for s in steps)
    assert any("Eve" in s and "random weights" in s for s in steps)
    # Only the round's own lines reach the terminal: steps and their details.
    assert all(line.startswith(("[", "      ")) for line in lines), stderr
    assert not [line for line in lines if NOISE.search(line)], stderr
    # TensorFlow's start-up chatter went to the run's log, beside the same steps.
    log = (Path(summary["run_dir"]) / "round.log").read_text()
    assert all(step in log for step in steps)


def test_show_round_prints_a_finished_round_again(round_run, tmp_path):
    from click.testing import CliRunner

    from substrate_client.cli import cli

    summary = round_run[0]
    runner = CliRunner()
    shown = runner.invoke(cli, ["show_round", summary["run_dir"], "--chart", str(tmp_path / "again.png")])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == render_text(summary).strip()
    assert (tmp_path / "again.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "not-a-summary.json").write_text("[1, 2]")
    refused = runner.invoke(cli, ["show_round", str(tmp_path / "not-a-summary.json")])
    assert refused.exit_code == 2
    assert refused.stderr.strip() == f"error: {tmp_path / 'not-a-summary.json'} is not a round's summary"


def test_show_round_json_gives_back_the_round_s_figures(round_run):
    from click.testing import CliRunner

    from substrate_client.cli import cli

    summary = round_run[0]
    for where in (summary["run_dir"], summary["summary_path"]):
        shown = CliRunner().invoke(cli, ["show_round", where, "--json"])
        assert shown.exit_code == 0, shown.output
        data = json.loads(shown.stdout)
        assert data == summary
        assert data["task_id"] == summary["task_id"] and data["reward"] > 0
        assert data["escrow_paid"] == data["reward"] * len(HONEST)
        assert data["federated_accuracy"] > data["initial_accuracy"]
        assert {c["name"]: c["decision"] for c in data["contributors"]} == \
            {"Bob": "accepted", "Charlie": "accepted", "Eve": "rejected"}
