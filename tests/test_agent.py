"""The contributor's agent, ``decentralml work``, run as a process of its own against the
real dev chain, Kubo and MinIO: it finds tasks open before it started and created after,
trains in the sandbox and sends sealed results the creator opens; its filters pass over
tasks; the chain or storage going away loses no trained result; Ctrl-C finishes the slot
in progress (twice: gives it up)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import boto3
import pytest

from substrate_client import sandbox
from substrate_client.agent import AgentProcess
from substrate_client.chain import Chain, same_account
from substrate_client.marketplace import Marketplace
from tests import daemons
from tests.chain_fixtures import UNIT
from tests.faults import FaultyProxy
from tests.fixtures import SETTINGS_ENV, as_json, create_task, make_bundle, ok, send_result, take_slot

#: A bundle that trains nothing: it leaves one SavedModel-shaped folder (after ``sleep``).
def quick_script(sleep: float = 0) -> str:
    return textwrap.dedent(f"""\
        #!/usr/bin/env bash
        set -euo pipefail
        echo "training on shard ${{DECENTRALML_SHARD_INDEX:-?}}"
        sleep {sleep}
        out="$DECENTRALML_OUTPUT_DIR/model_$DECENTRALML_CONTRIBUTOR_ID"
        mkdir -p "$out"
        echo graph > "$out/saved_model.pb"
        echo "task $DECENTRALML_TASK_ID submission $DECENTRALML_SUBMISSION_ID" > "$out/ids.txt"
        env | cut -d= -f1 | sort > "$out/env_names.txt"
        """)


@pytest.fixture
def agents(devnet_url, store, clean_settings, tmp_path):
    """``agents(signer, *args, url=None, env=None)`` starts ``decentralml work`` as
    ``signer`` (its secret in DECENTRALML_SURI, as a user would give it)."""
    started: list[AgentProcess] = []

    def start(signer, *args, url=None, env=None) -> AgentProcess:
        full = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
        full.update({"DECENTRALML_URL": url or devnet_url, "DECENTRALML_LOCAL_STORE": str(store),
                     "DECENTRALML_SURI": signer.mnemonic,
                     "DECENTRALML_CONFIG": str(tmp_path / "no-config.toml")})
        full.update(env or {})
        agent = AgentProcess.start(args, full, stderr=tmp_path / f"agent-{len(started)}.stderr")
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.kill()


def errors(agent: AgentProcess) -> str:
    """What the agent wrote on stderr (warnings)."""
    return agent.stderr.read_text(errors="replace")


def submissions(dml, task_id: int) -> list[dict]:
    return as_json(dml("list_task_results", task_id, "--json"))


def quick_task(dml, creator, root: Path, *, sleep: float = 0, pays: str = "1DML",
               slots: int = 1, storage: str = "local") -> int:
    bundle = make_bundle(root, quick_script(sleep), name=f"bundle_{time.monotonic_ns()}")
    return create_task(dml, creator, bundle, storage=storage, pays=pays, slots=slots)["task_id"]


@pytest.fixture(scope="module")
def example_bundle(tmp_path_factory) -> Path:
    """The example task's bundle, with a small model."""
    from assets.model_creator import model_creator

    return model_creator.prepare_bundle(model_creator.create_model(hidden_units=16),
                                        tmp_path_factory.mktemp("example") / "bundle")


# --------------------------------------------------------------------------- finding and training


def test_the_agent_trains_tasks_open_before_it_started_and_created_after_and_sends_sealed_results(
        dml, account, agents, example_bundle, tmp_path):
    creator, bob = account(), account()
    key = tmp_path / "result_key"
    ok(dml("keys", "generate", "--path", key))
    before = create_task(dml, creator, example_bundle, storage="local", pays="2DML", slots=1,
                         result_key=key.with_suffix(".pub"))["task_id"]
    agent = agents(bob, "--creator", creator.ss58_address, "--max-samples", 300,
                   "--shard-index", 1, "--num-shards", 3, "--max-rounds", 2,
                   "--work-dir", tmp_path / "work")
    assert agent.wait_for("sent", task_id=before)["status"] == "Pending"
    agent.wait_for("watch")
    after = create_task(dml, creator, example_bundle, storage="local", pays="2DML", slots=1,
                        result_key=key.with_suffix(".pub"))["task_id"]
    assert agent.wait_for("sent", task_id=after)["status"] == "Pending"
    assert agent.finish() == 0, errors(agent)
    assert "sent 2 result(s)" in agent.messages("stopped")[0]

    for task_id in (before, after):
        [sub] = submissions(dml, task_id)
        assert same_account(sub["contributor"], bob.ss58_address) and sub["status"] == "Pending"
        got = Path(as_json(dml("download_task_result", sub["submission_id"], "--dest",
                               tmp_path / f"got_{task_id}", "--result-key-file", key,
                               "--json"))["dest"])
        info = json.loads((got / "decentralml_result.json").read_text())
        assert (info["samples"], info["shard_index"], info["num_shards"]) == (300, 1, 3)
        assert (got / "saved_model.pb").is_file()
        # Sealed to the creator: without the key it does not open.
        sealed = dml("download_task_result", sub["submission_id"], "--dest", tmp_path / f"no_{task_id}")
        assert sealed.exit_code != 0
    assert not list((tmp_path / "work" / bob.ss58_address / "slots").iterdir())  # nothing left


def test_agents_of_several_accounts_share_a_work_folder_and_take_a_slot_each(
        dml, account, agents, tmp_path):
    creator, bob, charlie = account(), account(), account()
    task_id = quick_task(dml, creator, tmp_path, slots=2, sleep=1)
    started = [agents(who, "--creator", creator.ss58_address, "--max-rounds", 1,
                      "--work-dir", tmp_path / "work") for who in (bob, charlie)]
    sent = [agent.wait_for("sent", task_id=task_id)["submission_id"] for agent in started]
    assert [agent.finish() for agent in started] == [0, 0]
    results = submissions(dml, task_id)
    assert sorted(sent) == [s["submission_id"] for s in results]
    assert {s["contributor"] for s in results} == {bob.ss58_address, charlie.ss58_address}
    assert all(s["status"] == "Pending" for s in results)


def test_the_agent_passes_over_tasks_its_filters_refuse(dml, account, agents, tmp_path):
    good, stingy, helper, bob = account(), account(), account(), account()
    # Each creator's record: good accepted a result, stingy rejected one.
    for creator, decision in ((good, "accept_task_result"), (stingy, "reject_task_result")):
        task_id = quick_task(dml, creator, tmp_path)
        sub = take_slot(dml, helper, task_id, tmp_path / f"helper_{task_id}")
        send_result(dml, helper, sub, None, text="labels")
        extra = ["--reason", "bad"] if decision.startswith("reject") else []
        ok(dml(decision, sub, *extra, signer=creator))
    cheap = quick_task(dml, good, tmp_path, pays="1DML")
    from_stingy = quick_task(dml, stingy, tmp_path, pays="3DML")
    wanted = quick_task(dml, good, tmp_path, pays="3DML")

    agent = agents(bob, "--min-reward", "2DML", "--min-acceptance-rate", 0.5,
                   "--work-dir", tmp_path / "work")
    agent.wait_for("sent", task_id=wanted)
    agent.wait_for("watch")
    agent.interrupt()  # while waiting: it stops at once
    assert agent.finish(timeout=30) == 0, errors(agent)

    skipped = {s["task_id"]: s["message"] for s in agent.steps if s["step"] == "skip"}
    assert "less than the minimum 2" in skipped[cheap]
    assert "accepts 0% of results, less than the minimum 50%" in skipped[from_stingy]
    assert submissions(dml, cheap) == [] and submissions(dml, from_stingy) == []
    [sub] = submissions(dml, wanted)
    assert same_account(sub["contributor"], bob.ss58_address) and sub["status"] == "Pending"
    for task_id in (cheap, from_stingy):
        ok(dml("close_task", task_id, signer=good if task_id == cheap else stingy))


# --------------------------------------------------------------------------- faults


@pytest.fixture
def own_minio(tmp_path, minio):  # the session's MinIO sets the AWS_* credentials
    server = daemons.start_minio(tmp_path / "minio")
    yield server
    server.stop()


def bucket_objects(endpoint_url: str, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint_url)
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_storage_gone_while_sending_keeps_the_trained_result_and_a_restarted_agent_sends_it_once(
        dml, account, agents, own_minio, tmp_path):
    creator, bob = account(), account()
    task_id = quick_task(dml, creator, tmp_path, sleep=2)
    s3 = {"DECENTRALML_S3_ENDPOINT": own_minio.endpoint_url, "DECENTRALML_S3_BUCKET": "agent"}
    args = ["--creator", creator.ss58_address, "--storage", "s3", "--max-rounds", 1,
            "--work-dir", tmp_path / "work"]
    first = agents(bob, *args, env=s3)
    first.wait_for("train", task_id=task_id)
    own_minio.stop()
    retry = first.wait_for("retry", task_id=task_id, timeout=60)
    assert "the result stays in" in retry["message"]
    first.kill()  # the agent dies too; what it trained is on disk
    [sub] = submissions(dml, task_id)
    assert sub["status"] == "Assigned"

    own_minio.start_again()
    second = agents(bob, *args, env=s3)
    assert second.wait_for("resume", task_id=task_id)["submission_id"] == sub["submission_id"]
    second.wait_for("sent", task_id=task_id)
    assert second.finish() == 0, errors(second)
    [sent] = submissions(dml, task_id)
    assert sent["status"] == "Pending" and sent["result_location"]["storage_type"] == "S3"
    assert len(bucket_objects(own_minio.endpoint_url, "agent")) == 1  # stored once
    got = Path(as_json(dml("download_task_result", sent["submission_id"], "--dest",
                           tmp_path / "got", "--json", env=s3))["dest"])
    assert (got / "ids.txt").read_text().split() == ["task", str(task_id), "submission",
                                                     str(sent["submission_id"])]
    # The agent held a signer and storage credentials; the bundle saw none of them.
    assert os.environ["AWS_SECRET_ACCESS_KEY"]
    seen = set((got / "env_names.txt").read_text().split())
    assert seen <= sandbox.BUNDLE_ENVIRONMENT | {"PATH", "HOME", "TMPDIR", "LANG", "PWD", "SHLVL",
                                                 "_", "OLDPWD", "DECENTRALML_PYTHON",
                                                 "DECENTRALML_OUTPUT_DIR", "DECENTRALML_SANDBOX"}


@pytest.mark.parametrize("outage", ["shorter than a reconnection", "longer than a reconnection"])
def test_the_chain_going_away_mid_training_loses_nothing(dml, account, agents, devnet_url, tmp_path, outage):
    """The chain goes away while the agent trains. A short outage is the chain layer's: it
    says so and reconnects by itself, waiting 1, 2, 4... s. One longer than its attempts
    (1 + 2 + 4 + 8 + 16 s) reaches the agent: it says so, keeps the trained result and tries
    again, waiting longer each time. Either way the result goes once the chain is back."""
    short = outage.startswith("shorter")
    upstream = int(devnet_url.rsplit(":", 1)[1])
    proxy = FaultyProxy(upstream)
    creator, bob = account(), account()
    task_id = quick_task(dml, creator, tmp_path, sleep=3)
    try:
        agent = agents(bob, "--creator", creator.ss58_address, "--max-rounds", 1,
                       "--work-dir", tmp_path / "work", url=proxy.url)
        agent.wait_for("train", task_id=task_id)
        port = proxy.port
        proxy.close()  # the chain is gone: connections dropped, new ones refused
        if short:
            time.sleep(8)
        else:
            agent.wait_for("retry", task_id=task_id, timeout=90)
        proxy = FaultyProxy(upstream, port=port)
        agent.wait_for("sent", task_id=task_id, timeout=90)
        assert agent.finish() == 0, errors(agent)
    finally:
        proxy.close()
    retries = [s for s in agent.steps if s["step"] == "retry"]
    if short:
        assert "dropped while reading" in errors(agent) and "reconnecting" in errors(agent)
        assert retries == []
    else:
        assert retries and all("the result stays in" in s["message"] for s in retries)
        assert [s["seconds"] for s in retries] == [2 * 2 ** n for n in range(len(retries))]
    [sub] = submissions(dml, task_id)
    assert sub["status"] == "Pending" and sub["result_location"] is not None


# --------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize("sig, said", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_ctrl_c_or_sigterm_during_training_finishes_the_slot_sends_its_result_and_exits_0(
        dml, account, agents, tmp_path, sig, said):
    creator, bob = account(), account()
    task_id = quick_task(dml, creator, tmp_path, sleep=5)
    agent = agents(bob, "--creator", creator.ss58_address, "--work-dir", tmp_path / "work")
    agent.wait_for("train", task_id=task_id)
    agent.interrupt(sig)
    assert "then stopping" in agent.wait_for("stopping")["message"]
    agent.wait_for("sent", task_id=task_id)
    assert agent.finish(timeout=60) == 0, errors(agent)
    [sub] = submissions(dml, task_id)
    assert sub["status"] == "Pending"
    assert agent.messages("stopped") == [f"stopped: stopped by {said}; 1 result(s) sent"]


def test_a_second_ctrl_c_gives_the_slot_up_and_exits(dml, account, agents, tmp_path):
    creator, bob = account(), account()
    task_id = quick_task(dml, creator, tmp_path, sleep=120)
    agent = agents(bob, "--creator", creator.ss58_address, "--work-dir", tmp_path / "work")
    submission_id = agent.wait_for("train", task_id=task_id)["submission_id"]
    agent.interrupt()
    agent.wait_for("stopping")
    agent.interrupt()
    assert agent.wait_for("released", task_id=task_id)["submission_id"] == submission_id
    assert agent.finish(timeout=30) == 0, errors(agent)
    assert submissions(dml, task_id) == []
    assert as_json(dml("show_task", task_id, "--json"))["free_slots"] == 1  # open again
    assert not list((tmp_path / "work" / bob.ss58_address / "slots").iterdir())


def test_a_bundle_that_fails_sends_nothing_and_its_slot_is_given_up(dml, account, agents, tmp_path):
    creator, bob = account(), account()
    bundle = make_bundle(tmp_path, "#!/usr/bin/env bash\necho broken >&2\nexit 3\n")
    task_id = create_task(dml, creator, bundle, storage="local", pays="1DML", slots=1)["task_id"]
    agent = agents(bob, "--creator", creator.ss58_address, "--work-dir", tmp_path / "work")
    assert "exited with code 3" in agent.wait_for("failed", task_id=task_id)["message"]
    agent.wait_for("released", task_id=task_id)
    agent.wait_for("watch")
    agent.interrupt()
    assert agent.finish(timeout=30) == 0, errors(agent)
    assert submissions(dml, task_id) == []
    # What it printed is kept beside its folder.
    logs = (tmp_path / "work" / bob.ss58_address).glob("task_*.log")
    assert [p.read_text() for p in logs] == ["broken\n"]


# --------------------------------------------------------------------------- campaigns


def test_the_agent_works_only_for_its_campaign_and_stops_when_the_campaign_ends(
        dml, account, agents, substrate, store, tmp_path):
    creator, bob = account(), account()
    market = Marketplace(Chain(substrate, creator), {"root": str(store)})

    def next_round(campaign):
        bundle = make_bundle(tmp_path, quick_script(), name=f"round_{time.monotonic_ns()}")
        return market.create_campaign_task(
            campaign, task_type="ModelContributor", question="Train", pays_amount=UNIT,
            max_assignments=1, expires_in_blocks=500, bundle_path=bundle,
            bundle_storage_type="Local")

    ours, other = next_round(None), next_round(None)
    agent = agents(bob, "--campaign", ours.campaign, "--end-after", 3,
                   "--work-dir", tmp_path / "work")
    agent.wait_for("sent", task_id=ours.task_id)
    skipped = [s["message"] for s in agent.steps if s["step"] == "skip" and s["task_id"] == other.task_id]
    assert skipped == [f"task {other.task_id} (campaign {other.campaign}, round 1): skipped: it is "
                       f"a round of campaign {other.campaign}, not {ours.campaign}"]
    market.close_task(ours.task_id, pay_pending=True)  # Bob's result, paid unjudged
    second = next_round(ours.campaign)
    assert (second.round, second.continues) == (2, ours.task_id)
    agent.wait_for("sent", task_id=second.task_id)
    market.close_task(second.task_id, pay_pending=True)
    for _ in range(3):  # no third round comes
        substrate.rpc_request("dev_newBlock", [{}])
    assert agent.finish(timeout=60) == 0, errors(agent)
    [stopped] = agent.messages("stopped")
    assert f"campaign {ours.campaign} ended" in stopped and "2 result(s) sent" in stopped
    assert submissions(dml, other.task_id) == []
    market.close_task(other.task_id)


# --------------------------------------------------------------------------- starting early


def test_an_agent_starting_early_trains_while_its_slot_is_taken_and_sends_the_result(
        dml, account, agents, tmp_path):
    creator, bob = account(), account()
    task_id = quick_task(dml, creator, tmp_path, sleep=1)
    agent = agents(bob, "--creator", creator.ss58_address, "--max-rounds", 1, "--start-early",
                   "--work-dir", tmp_path / "work")
    sent = agent.wait_for("sent", task_id=task_id, timeout=90)
    assert agent.finish() == 0, errors(agent)
    steps = [s["step"] for s in agent.steps if s.get("task_id") == task_id]
    assert steps.index("train") < steps.index("slot") < steps.index("trained")
    got = Path(as_json(dml("download_task_result", sent["submission_id"], "--dest", tmp_path / "got",
                           "--json"))["dest"])
    # Started before its slot existed, the bundle was told the task but no submission id
    # (an empty one: the script runs under `set -u`).
    assert (got / "ids.txt").read_text() == f"task {task_id} submission \n"
    [sub] = submissions(dml, task_id)
    assert sub["status"] == "Pending" and sub["submission_id"] == sent["submission_id"]


def test_an_agent_starting_early_that_loses_the_slot_race_kills_its_run_and_keeps_nothing(
        dml, account, substrate, store, tmp_path):
    """The attack on a contributor's compute: the last slot goes to someone else between the
    agent's read of the task and its assignment. The run started early must not go on (or
    leave its folder behind) for a slot it does not have."""
    from substrate_client.agent import Agent, WorkFilters

    creator, bob, charlie = account(), account(), account()
    task_id = quick_task(dml, creator, tmp_path, sleep=120)
    steps = []
    agent = Agent(Marketplace(Chain(substrate, bob), {"root": str(store)}),
                  WorkFilters(creator=creator.ss58_address), tmp_path / "work",
                  report=steps.append, start_early=True)
    fetch = agent.contributor.fetch_bundle

    def fetch_then_lose_the_race(task, dest):
        fetched = fetch(task, dest)
        take_slot(dml, charlie, task_id, tmp_path / "charlie")  # the last slot, on chain
        return fetched

    agent.contributor.fetch_bundle = fetch_then_lose_the_race
    started = time.monotonic()
    agent._work_on(task_id)
    assert time.monotonic() - started < 60  # not the bundle's 120 s: its run was killed
    kinds = [s.kind for s in steps]
    assert kinds == ["take", "train", "cancelled", "skip"], kinds
    assert "NoSlotsLeft" in steps[-1].message
    work = tmp_path / "work" / bob.ss58_address
    assert not list(work.glob("task_*")), list(work.iterdir())  # no bundle folder, no log
    leftover = subprocess.run(["pgrep", "-f", str(work)], capture_output=True, text=True).stdout
    assert leftover == ""  # nothing of its run is still going
    assert [s["contributor"] for s in submissions(dml, task_id)] == [charlie.ss58_address]
