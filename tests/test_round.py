"""The main job, end to end: ``decentralml run_round`` on the session's dev chain with
real Kubo and MinIO, run as a user runs it (a process of its own), its contributors each
a ``decentralml work`` process of their own.

The campaign runs once for the module with its default settings (three rounds; Bob,
Charlie and Dave on non-IID shards by label, Eve sending random weights); each test
checks one thing it promises. Dev accounts are shared with other tests on the session
chain, so money is checked as balance changes read from the chain by the test itself,
never as absolute values.
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
ACCOUNTS = ("Alice", "Bob", "Charlie", "Dave", "Eve")
HONEST = ("Bob", "Charlie", "Dave")
SABOTEUR = "Eve"
ROUNDS = 3
#: What TensorFlow, absl and CUDA print when they start (or save a model).
NOISE = re.compile(r"tensorflow|absl|cuda|onednn|cpu_feature_guard|oneapi|W0000|I0000|E0000|"
                   r"warning:|Warning|\.cc:\d+\]", re.IGNORECASE)


def _totals(substrate) -> dict[str, dict[str, int]]:
    out = {}
    for name in ACCOUNTS:
        data = substrate.query("System", "Account", [dev_address(name)]).value["data"]
        out[name] = {"free": int(data["free"]), "reserved": int(data["reserved"])}
    return out


def _processes_naming(text: str) -> list[str]:
    """Command lines of the running processes that name ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv:
            found.append(f"{entry.name}: {argv}")
    return found


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
         "--s3-bucket", "decentralml-round-test", "--json", "run_round", "--out", str(run_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    after = _totals(substrate)
    print(f"decentralml run_round took {seconds:.1f}s")
    return json.loads(proc.stdout), proc.stderr, before, after


def _delta(before, after, name) -> int:
    b, a = before[name], after[name]
    return (a["free"] + a["reserved"]) - (b["free"] + b["reserved"])


def _fees_in_blocks(substrate, first: int, last: int) -> dict[str, int]:
    """Fees each dev account paid in blocks first..last, read by the test from the chain."""
    accounts = {ss58_decode(dev_address(name)): name for name in ACCOUNTS}
    fees = dict.fromkeys(ACCOUNTS, 0)
    for number in range(first, last + 1):
        for record in substrate.get_events(substrate.get_block_hash(number)):
            event = record.value["event"]
            if (event["module_id"], event["event_id"]) == ("TransactionPayment", "TransactionFeePaid"):
                name = accounts.get(ss58_decode(event["attributes"]["who"]))
                if name:
                    fees[name] += int(event["attributes"]["actual_fee"])
    return fees


def test_the_campaign_runs_every_round_with_every_contributor(round_run):
    summary = round_run[0]
    assert summary["rounds_planned"] == ROUNDS and [r["round"] for r in summary["rounds"]] == [1, 2, 3]
    assert summary["finished"] == f"all {ROUNDS} rounds done"
    assert summary["partition"] == "by_label"
    for r in summary["rounds"]:
        assert [res["name"] for res in r["results"]] == list(ACCOUNTS[1:])
        assert all(res["submission_id"] is not None for res in r["results"]), r


def test_the_saboteur_is_rejected_unpaid_every_round_and_left_out_of_every_federated_model(round_run):
    summary = round_run[0]
    for r in summary["rounds"]:
        eve = next(res for res in r["results"] if res["name"] == SABOTEUR)
        assert eve["decision"] == "rejected", r
        assert "loss" in eve["reason"] and eve["paid"] == 0 and not eve["federated"]
        info = json.loads((Path(r["federated_model_dir"]) / "decentralml_federation.json").read_text())
        assert len(info["sources"]) == len(HONEST)


def test_each_round_pays_each_honest_contributor_exactly_the_reward_net_of_its_fees(round_run, substrate):
    summary, _, before, after = round_run
    reward = summary["reward"]
    for r in summary["rounds"]:
        fees = _fees_in_blocks(substrate, r["first_block"], r["last_block"])
        for res in r["results"]:
            assert res["fees"] == fees[res["name"]] > 0, (r["round"], res)
            paid = reward if res["name"] in HONEST else 0
            assert res["paid"] == paid, (r["round"], res)
            # The balances the run read at the round's end, against the fee events.
            assert res["balance_change"] == paid - res["fees"], (r["round"], res)
        assert r["creator_fees"] == fees["Alice"] > 0
        assert r["escrow_paid"] == reward * len(HONEST)
    # The chain, read by the test before and after: rewards in, fees out, nothing else.
    for c in summary["contributors"]:
        paid = reward * ROUNDS if c["name"] in HONEST else 0
        assert c["paid"] == paid
        assert c["fees"] == sum(next(res["fees"] for res in r["results"] if res["name"] == c["name"])
                                for r in summary["rounds"])
        assert _delta(before, after, c["name"]) == paid - c["fees"], c["name"]


def test_the_creator_pays_only_the_accepted_rewards_and_her_fees(round_run, devnet_url):
    summary, _, before, after = round_run
    reward = summary["reward"]
    paid = reward * len(HONEST) * ROUNDS
    assert _delta(before, after, "Alice") == -(paid + summary["creator"]["fees"])
    market = Marketplace.connect(devnet_url, need_signer=False)
    for r in summary["rounds"]:
        task = market.get_task(r["task_id"])
        assert task.status is TaskStatus.CLOSED
        assert task.bundle.storage_type is StorageType.IPFS
        assert task.escrow == reward  # Eve's reward, held while she may appeal
        statuses = {ss58_decode(s.contributor): s for s in market.list_task_results(r["task_id"])}
        for c in summary["contributors"]:
            submission = statuses[ss58_decode(c["address"])]
            expected = SubmissionStatus.REJECTED if c["name"] == SABOTEUR else SubmissionStatus.ACCEPTED
            assert submission.status is expected, (r["round"], c["name"])
            assert submission.result_location.storage_type is StorageType.S3


def test_each_round_s_task_continues_the_previous_one_on_chain(round_run, devnet_url):
    summary = round_run[0]
    market = Marketplace.connect(devnet_url, need_signer=False)
    campaign = market.get_campaign(summary["campaign_id"])
    assert campaign.rounds == ROUNDS and ss58_decode(campaign.creator) == ss58_decode(dev_address("Alice"))
    tasks = [r["task_id"] for r in summary["rounds"]]
    assert market.campaign_rounds(summary["campaign_id"]) == list(enumerate(tasks, start=1))
    assert campaign.latest_task == tasks[-1]
    previous = None
    for number, task_id in enumerate(tasks, start=1):
        lineage = market.get_task(task_id).lineage
        assert (lineage.campaign, lineage.round, lineage.continues) == (summary["campaign_id"], number, previous)
        assert summary["rounds"][number - 1]["continues"] == previous
        previous = task_id


def test_the_federated_model_improves_over_the_rounds_and_beats_every_contributor_at_the_end(round_run):
    summary = round_run[0]
    federated = [summary["initial_accuracy"]] + [r["federated_accuracy"] for r in summary["rounds"]]
    # Averaging models that each know a few labels gains over the rounds, though not
    # always in each one (a round may lose a little of what the one before gained, and
    # training is not bit-for-bit repeatable): every round's model beats the initial one,
    # and the last is well above the first round's and close to the best of all.
    assert all(score > federated[0] + 0.1 for score in federated[1:]), federated
    assert federated[-1] > federated[1] + 0.05, federated
    assert federated[-1] >= max(federated) - 0.05, federated
    last = summary["rounds"][-1]
    best = max(res["accuracy"] for res in last["results"])
    assert last["federated_accuracy"] > best, (last["federated_accuracy"], best)
    assert summary["federated_accuracy"] == last["federated_accuracy"]
    for r, start in zip(summary["rounds"], federated):
        assert r["starting_accuracy"] == start
    # Non-IID: every honest contributor's model knows only its own labels.
    for r in summary["rounds"]:
        for res in r["results"]:
            if res["name"] in HONEST:
                assert summary["threshold"] <= res["accuracy"] < 0.5, (r["round"], res)
    assert (Path(summary["federated_model_dir"]) / "saved_model.pb").is_file()


def test_each_round_s_time_is_split_into_training_and_the_rest(round_run):
    summary = round_run[0]
    for r in summary["rounds"]:
        assert 0 < r["training_seconds"] <= r["wall_seconds"]
        assert r["overhead_seconds"] == pytest.approx(r["wall_seconds"] - r["training_seconds"], abs=0.01)
        assert r["overhead_share"] == pytest.approx(r["overhead_seconds"] / r["training_seconds"], abs=1e-3)
        assert all(res["train_seconds"] and res["train_seconds"] <= r["training_seconds"] + 1
                   for res in r["results"])
        assert set(r["timings"]) >= {"chain", "storage", "waiting"}


def test_no_agent_is_left_running_and_each_kept_its_log(round_run):
    summary = round_run[0]
    run_dir = summary["run_dir"]
    assert _processes_naming(run_dir) == []
    for name in ACCOUNTS[1:]:
        lines = [json.loads(line) for line in
                 (Path(run_dir) / "contributors" / f"{name.lower()}.log").read_text().splitlines()
                 if line.startswith("{")]
        assert [step["step"] for step in lines].count("sent") == ROUNDS, name
        assert lines[-1]["step"] == "stopped"


def test_the_summary_json_and_chart_are_written(round_run):
    summary = round_run[0]
    chart = Path(summary["chart_path"])
    assert chart.is_file() and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(Path(summary["summary_path"]).read_text())
    assert data == summary
    assert {c["name"] for c in data["contributors"]} == set(ACCOUNTS[1:])
    text = render_text(data)
    for word in ("Round 1: task", "Round 3: task", "Eve (saboteur)", "rejected", "of training",
                 "Held-out accuracy over the rounds", str(summary["federated_model_dir"])):
        assert word in text


def test_progress_is_reported_step_by_step_without_tensorflow_chatter(round_run):
    summary, stderr = round_run[0], round_run[1]
    lines = stderr.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    total = 4 + ROUNDS
    assert [s.split("]")[0] + "]" for s in steps] == [f"[{i}/{total}]" for i in range(1, total + 1)]
    assert any(s.startswith("[4/7] Round 1 of 3") for s in steps)
    assert any("Eve: sends random weights every round" in line for line in lines)
    # Only the run's own lines reach the terminal: steps and their details.
    assert all(line.startswith(("[", "      ")) for line in lines), stderr
    assert not [line for line in lines if NOISE.search(line)], stderr
    # TensorFlow's start-up chatter went to the run's log, beside the same steps.
    log = (Path(summary["run_dir"]) / "round.log").read_text()
    assert all(step in log for step in steps)


def test_show_round_prints_a_finished_run_again(round_run, tmp_path):
    from click.testing import CliRunner

    from substrate_client.cli import cli

    summary = round_run[0]
    runner = CliRunner()
    shown = runner.invoke(cli, ["show_round", summary["run_dir"], "--chart", str(tmp_path / "again.png")])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == render_text(summary).strip()
    assert (tmp_path / "again.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for where in (summary["run_dir"], summary["summary_path"]):
        again = runner.invoke(cli, ["show_round", where, "--json"])
        assert again.exit_code == 0 and json.loads(again.stdout) == summary
    (tmp_path / "not-a-summary.json").write_text("[1, 2]")
    refused = runner.invoke(cli, ["show_round", str(tmp_path / "not-a-summary.json")])
    assert refused.exit_code == 2
    assert refused.stderr.strip() == f"error: {tmp_path / 'not-a-summary.json'} is not a round's summary"


def test_show_round_still_shows_a_single_round_summary_of_earlier_versions(tmp_path):
    from click.testing import CliRunner

    from substrate_client.cli import cli

    balance = {"free": 10**18, "reserved": 0}
    old = {"run_dir": str(tmp_path), "chain_url": "ws://127.0.0.1:9944", "started_at": "2026-11-30T10:00:00",
           "token": {"symbol": "DML", "decimals": 12}, "task_id": 4, "dataset": "mnist", "policy": "average",
           "threshold": 0.5, "reward": 10**13, "escrow": 2 * 10**13, "escrow_paid": 10**13,
           "escrow_refunded": 0, "initial_accuracy": 0.1, "federated_accuracy": 0.8,
           "creator": {"name": "Alice", "balance_before": balance, "balance_after": balance, "fees": 5},
           "contributors": [{"name": "Bob", "shard_index": 0, "num_shards": 1, "samples": 600,
                             "accuracy": 0.8, "decision": "accepted", "federated": True, "paid": 10**13,
                             "fees": 3, "reason": "ok", "balance_before": balance, "balance_after": balance}],
           "timings": {"training": 3.0}, "total_seconds": 9.0}
    (tmp_path / "summary.json").write_text(json.dumps(old))
    shown = CliRunner().invoke(cli, ["show_round", str(tmp_path), "--chart", str(tmp_path / "old.png")])
    assert shown.exit_code == 0, shown.output
    assert "Federated round: task 4" in shown.stdout and "initial 0.100 -> federated 0.800" in shown.stdout
    assert (tmp_path / "old.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_agent_that_dies_stops_the_run_with_its_name_and_leaves_nothing_running(
        devnet_url, kubo, minio, tmp_path, substrate):
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECENTRALML_")}
    env.update(DECENTRALML_CONFIG=str(tmp_path / "no-config.toml"), DECENTRALML_STATE_DIR=str(tmp_path / "state"),
               DECENTRALML_RUN_DIR=os.environ["DECENTRALML_RUN_DIR"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "substrate_client.cli", "--url", devnet_url, "--ipfs-api", kubo.api_url,
         "--s3-endpoint", minio.endpoint_url, "--s3-bucket", "decentralml-round-test", "run_round",
         "--out", str(run_dir), "--rounds", "2", "--contributors", "Bob,Charlie", "--saboteurs", ""],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        log = run_dir / "contributors" / "bob.log"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:  # Bob trains in round 1
            time.sleep(0.5)
            if log.is_file() and '"step": "train"' in log.read_text():
                break
        bob = [p for p in _processes_naming(str(run_dir / "contributors" / "bob")) if " work " in p]
        assert bob, "Bob's agent is not training"
        os.kill(int(bob[0].split(":")[0]), 9)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "Bob's agent exited with status -9" in err
    assert _processes_naming(str(run_dir)) == []
    # The round's task is closed: the creator's escrow is not left held.
    summary_lines = [line for line in err.splitlines() if "campaign aborted; task" in line]
    assert summary_lines, err
    task_id = int(summary_lines[0].split("task ")[1].split()[0])
    assert Marketplace.connect(devnet_url, need_signer=False).get_task(task_id).status is TaskStatus.CLOSED
