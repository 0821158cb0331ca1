"""A campaign's creator killed (SIGKILL) at every phase of a round, then resumed with
`decentralml campaign resume`: no task twice for a round, no payment twice, every
accepted result in the federated model, no orphan object in storage.

`decentralml campaign start` runs as a process of its own against the real dev chain
and MinIO; the test reads its progress lines and kills it the moment a phase is done.
Contributors act through the CLI in between, including while the creator is down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import numpy as np

from substrate_client.campaign.model_state import load_weights
from substrate_client.chain import Chain, connect
from substrate_client.marketplace import Marketplace
from substrate_client.records import SubmissionStatus, TaskStatus
from tests.test_campaign import REWARD, contribute, creator_files, model_weights, wait_for_line

BUCKET = "campaign-resume"


class Creator:
    """``decentralml campaign ...`` as a process; its progress lines (stderr) read as
    they come, and the process killed (SIGKILL) on the first line containing ``kill_on``."""

    def __init__(self, args: list, env: dict, kill_on: str | None = None):
        self.lines: list[str] = []
        self.kill_on = kill_on
        self.killed_at: str | None = None
        self.process = subprocess.Popen([sys.executable, "-m", "substrate_client", *map(str, args)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            line = line.rstrip("\n")
            self.lines.append(line)
            if self.kill_on and self.killed_at is None and self.kill_on in line:
                self.process.send_signal(signal.SIGKILL)  # at once: the next step is not reached
                self.killed_at = line

    def wait_for(self, text: str, timeout: float = 180) -> str:
        return wait_for_line(self.lines, text, self.reader.is_alive, timeout)

    def killed(self, timeout: float = 180) -> str:
        """Wait for the kill; the line it was killed on."""
        assert self.process.wait(timeout) == -signal.SIGKILL, "\n".join(self.lines)
        self.reader.join(10)
        return self.killed_at

    def finished(self, timeout: float = 180) -> str:
        code = self.process.wait(timeout)
        self.reader.join(10)
        out = self.process.stdout.read()
        assert code == 0, f"exit {code}\n" + "\n".join(self.lines) + out
        return out


def journal_of(state: Path) -> dict:
    found = list((state / "campaigns").glob("*/*.json"))
    assert len(found) == 1, found
    return json.loads(found[0].read_text())


def test_a_creator_killed_at_every_phase_of_a_round_resumes_with_nothing_twice_and_nothing_lost(
        account, dml, devnet_url, kubo, minio, tmp_path):
    files = creator_files(tmp_path)
    creator, bob, carol, eve = account(), account(), account(), account()
    state = tmp_path / "state"
    env = {**os.environ, "DECENTRALML_URL": devnet_url, "DECENTRALML_SURI": creator.mnemonic,
           "DECENTRALML_S3_ENDPOINT": minio.endpoint_url, "DECENTRALML_S3_BUCKET": BUCKET,
           "DECENTRALML_IPFS_API": kubo.api_url, "DECENTRALML_STATE_DIR": str(state),
           "DECENTRALML_CONFIG": str(tmp_path / "no-config.toml"), "PYTHONUNBUFFERED": "1"}
    contributors = {"DECENTRALML_S3_ENDPOINT": minio.endpoint_url, "DECENTRALML_S3_BUCKET": BUCKET}
    market = Marketplace(Chain(connect(devnet_url)), {"endpoint_url": minio.endpoint_url, "bucket": BUCKET})
    start = ["campaign", "start", "--bundle", files["bundle"], "--creator-dir", files["creator_dir"],
             "--rounds", 2, "--slots", 3, "--min-results", 2, "--reward", REWARD, "--hook", files["hook"],
             "--round-blocks", 300, "--storage", "s3", "--result-key-file", files["result_key"],
             "--question", "Train the tiny model", "--optimizer", "fedavgm", "--server-lr", 1, "--momentum", 0.9]

    def tasks() -> list:
        return market.list_tasks(creator=creator.ss58_address)

    # 1. After the round bundle's upload, before its task exists.
    run = Creator(start, env, kill_on="bundle uploaded")
    key = run.wait_for("campaign journal ").split("campaign journal ")[1].split()[0]
    run.killed()
    assert journal_of(state)["rounds"]["1"]["phase"] == "uploaded" and tasks() == []

    # 2. While collecting: the task created, the saboteur's result judged, nothing submitted yet.
    run = Creator(["campaign", "resume", key], env, kill_on="result ")
    task_1 = int(run.wait_for("round 1/2: task ").split(": task ")[1].split()[0])
    run.wait_for("collecting")
    eve_1, _, _ = contribute(dml, eve, task_1, tmp_path / "r1" / "eve", contributors, saboteur=True)
    assert f"result {eve_1}: accuracy" in run.killed()
    campaign = journal_of(state)["campaign"]
    assert journal_of(state)["rounds"]["1"]["phase"] == "created"
    # bob sends while the creator is down
    _, _, bob_1 = contribute(dml, bob, task_1, tmp_path / "r1" / "bob", contributors, seed=1)

    # 3. With every result in (bob's judged on resume, carol's next), the results federated
    #    and round 2's bundle uploaded to go in the decisions' batch with round 2's task;
    #    killed before the batch: nothing decided, no round 2 task, the upload journaled.
    run = Creator(["campaign", "resume", campaign], env, kill_on="round 2's bundle uploaded")
    run.wait_for("1/2 accepted")
    _, _, carol_1 = contribute(dml, carol, task_1, tmp_path / "r1" / "carol", contributors, seed=2)
    run.killed()
    assert journal_of(state)["rounds"]["1"]["phase"] == "created"
    assert journal_of(state)["rounds"]["2"]["phase"] == "uploaded"
    assert len(tasks()) == 1 and market.get_task(task_1).status is TaskStatus.OPEN
    assert {s.status for s in market.list_task_results(task_1)} == {SubmissionStatus.PENDING}

    # 4. After the decisions' batch (round 2's upload made by the process before: the
    #    decisions go alone), which closed the task too: every slot's result was in and judged.
    run = Creator(["campaign", "resume", campaign], env, kill_on="decisions on chain")
    assert f"task {task_1} closed in the same batch" in run.killed()
    assert journal_of(state)["rounds"]["1"]["phase"] == "decided"
    assert market.get_task(task_1).status is TaskStatus.CLOSED

    # 5. After federating, before the close step has recorded the task closed.
    run = Creator(["campaign", "resume", campaign], env, kill_on="federated 2 result(s)")
    run.killed()
    assert journal_of(state)["rounds"]["1"]["phase"] == "federated"

    # 6. After the close, before round 2: its task is made from the upload of step 3.
    run = Creator(["campaign", "resume", campaign], env, kill_on=f"task {task_1} closed")
    run.killed()
    assert journal_of(state)["rounds"]["1"]["phase"] == "closed"
    assert len(tasks()) == 1

    # Round 2 runs to the end.
    run = Creator(["campaign", "resume", campaign], env)
    task_2 = int(run.wait_for("round 2/2: task ").split(": task ")[1].split()[0])
    _, bundle_2, bob_2 = contribute(dml, bob, task_2, tmp_path / "r2" / "bob", contributors, seed=3)
    _, _, carol_2 = contribute(dml, carol, task_2, tmp_path / "r2" / "carol", contributors, seed=4)
    run.finished()

    # No task twice for a round.
    assert sorted(t.task_id for t in tasks()) == [task_1, task_2]
    assert market.campaign_rounds(campaign) == [(1, task_1), (2, task_2)]
    # No payment twice: two results paid per round, once each; the saboteur rejected once.
    assert market.creator_record(creator.ss58_address).total_paid == 4 * REWARD
    assert market.contributor_record(bob.ss58_address).results_accepted == 2
    assert market.contributor_record(eve.ss58_address).results_rejected == 1
    statuses = {s.submission_id: s.status for s in market.list_task_results(task_1)}
    assert statuses[eve_1] is SubmissionStatus.REJECTED
    assert sorted(statuses.values()).count(SubmissionStatus.ACCEPTED) == 2
    # Every accepted result of round 1 is in the model round 2 carries (their average).
    for got, *sent in zip(model_weights(bundle_2 / "model"), bob_1, carol_1):
        np.testing.assert_allclose(got, np.mean(sent, axis=0), rtol=1e-6, atol=1e-6)
    # The server momentum of round 1 survived the kills: round 2 steps with it (FedAvgM, lr 1).
    initial = model_weights(files["bundle"] / "model")
    work = state / "campaigns" / next((state / "campaigns").iterdir()).name / journal_of(state)["work"]
    kept = list(load_weights(work / "round_2" / "global.npz").values())
    for i, got in enumerate(kept):
        average_1, average_2 = np.mean([bob_1[i], carol_1[i]], axis=0), np.mean([bob_2[i], carol_2[i]], axis=0)
        momentum = 0.9 * (initial[i] - average_1) + (average_1 - average_2)
        np.testing.assert_allclose(got, average_1 - momentum, rtol=1e-5, atol=1e-5)
    # No orphan in storage: every object is a task's bundle or a submission's result.
    referenced = set()
    for task in tasks():
        referenced.add(task.bundle.path)
        referenced.update(s.result_location.path for s in market.list_task_results(task.task_id)
                          if s.result_location is not None)
    s3 = boto3.client("s3", endpoint_url=minio.endpoint_url)
    stored = {f"{BUCKET}/{o['Key']}" for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert stored == referenced
    assert journal_of(state)["finished"] == "all 2 rounds done"
