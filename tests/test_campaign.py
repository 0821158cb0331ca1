"""Training campaigns, the creator's side (substrate_client.campaign, `decentralml campaign`):
the plan refused before anything is created, round bundles carrying the model of the
round before, the journal, the optimizer's state per round; and whole campaigns
against the real dev chain, Kubo and MinIO, with contributors driven through the CLI
(take a slot, send a result) while the creator's runner follows the chain.

The model is tiny (4 inputs, 3 classes, one Dense layer) and the creator's held-out
data synthetic, so a round takes seconds: an honest contributor steps half-way from
the round's model towards the true weights, a saboteur sends their opposite.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from substrate_client import keys, tensorflow_setup

tensorflow_setup.configure()  # before TensorFlow loads

import tensorflow as tf  # noqa: E402

from substrate_client.campaign import (CampaignJournal, CampaignPlan, Phase, PrivacyPlan,  # noqa: E402
                                       campaign_status, run_campaign)
from substrate_client.campaign.model_state import load_weights, save_weights  # noqa: E402
from substrate_client.campaign.round_bundle import build_round_bundle  # noqa: E402
from substrate_client.chain import Chain  # noqa: E402
from substrate_client.errors import UserInputError  # noqa: E402
from substrate_client.federation import RESULT_METADATA_FILE, FedAdam, ServerOptimizer  # noqa: E402
from substrate_client.marketplace import Marketplace  # noqa: E402
from substrate_client.records import SubmissionStatus, TaskStatus  # noqa: E402
from tests.chain_fixtures import UNIT, fresh_account  # noqa: E402
from tests.fixtures import as_json, invoke, jump_to  # noqa: E402

REWARD = 3 * UNIT
#: The true weights the creator's held-out labels come from (large: they dominate any start).
TRUE_KERNEL = (np.random.default_rng(7).normal(size=(4, 3)) * 5).astype(np.float32)
TRUE_BIAS = np.zeros(3, np.float32)

CREATOR_MODULE = """
    import numpy as np

    def held_out_data():
        rng = np.random.default_rng(11)
        x = rng.normal(size=(300, 4)).astype(np.float32)
        kernel = np.array({kernel}, dtype=np.float32)
        return x, np.argmax(x @ kernel, axis=1).astype(np.int64), "synthetic"
"""

HOOKS_MODULE = """
    from substrate_client.validation import ACCEPT, REJECT, Decision

    def accuracy_at_least_60(model, submission):
        accuracy = submission.metrics["accuracy"]
        verdict = ACCEPT if accuracy >= 0.6 else REJECT
        return Decision(submission.submission_id, verdict, f"held-out accuracy {accuracy:.3f} vs 0.6")
"""


# --------------------------------------------------------------------------- the creator's files


def tiny_model(kernel=None, bias=None) -> "tf.keras.Model":
    model = tf.keras.Sequential([tf.keras.layers.Input((4,)), tf.keras.layers.Dense(3)])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    if kernel is not None:
        model.set_weights([np.asarray(kernel, np.float32), np.asarray(bias, np.float32)])
    return model


def creator_files(root: Path) -> dict:
    """The creator's bundle (start_task.sh, model/, task_settings.json), her folder with
    model_creator.py and hooks.py, and her result key."""
    creator = root / "creator"
    creator.mkdir(parents=True)
    (creator / "model_creator.py").write_text(textwrap.dedent(CREATOR_MODULE).format(kernel=TRUE_KERNEL.tolist()))
    (creator / "hooks.py").write_text(textwrap.dedent(HOOKS_MODULE))
    bundle = root / "bundle"
    bundle.mkdir()
    (bundle / "start_task.sh").write_text("#!/usr/bin/env bash\necho training\n")
    (bundle / "start_task.sh").chmod(0o755)
    (bundle / "task_settings.json").write_text(json.dumps({"EPOCHS": 1, "MODEL_NAME": "tiny"}))
    initial = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32) * 0.1
    tiny_model(initial, np.zeros(3)).save(str(bundle / "model"))
    public = keys.generate_keypair(root / "result_key")
    return {"bundle": bundle, "creator_dir": creator, "hook": f"{creator / 'hooks.py'}:accuracy_at_least_60",
            "result_key": root / "result_key", "public_key": public}


def plan_for(files: dict, **changes) -> CampaignPlan:
    values = dict(bundle=str(files["bundle"]), creator_dir=str(files["creator_dir"]), rounds=3, slots=3,
                  min_results=2, reward=REWARD, policy="average", hook=files["hook"], round_blocks=200,
                  bundle_storage="S3", result_key_file=str(files["result_key"]), question="Train the tiny model")
    values.update(changes)
    return CampaignPlan(**values)


def model_weights(model_dir: Path) -> list[np.ndarray]:
    """The weights of a SavedModel the test itself trusts (a bundle's model)."""
    return tf.keras.models.load_model(str(model_dir), compile=False).get_weights()


def honest_result(bundle_dir: Path, dest: Path, seed: int) -> tuple[Path, list[np.ndarray]]:
    """Half-way from the bundle's model towards the true weights, plus a little noise."""
    kernel, bias = model_weights(bundle_dir / "model")
    noise = np.random.default_rng(seed).normal(scale=0.01, size=kernel.shape).astype(np.float32)
    weights = [kernel + 0.5 * (TRUE_KERNEL - kernel) + noise, bias + 0.5 * (TRUE_BIAS - bias)]
    return _result(dest, weights), weights


def saboteur_result(dest: Path) -> Path:
    """The opposite of the true weights (made once per folder, sent again each round)."""
    return dest if (dest / "model").is_dir() else _result(dest, [-TRUE_KERNEL, TRUE_BIAS])


def _result(dest: Path, weights) -> Path:
    tiny_model(*weights).save(str(dest / "model"))
    (dest / "model" / RESULT_METADATA_FILE).write_text(json.dumps({"samples": 100}))
    return dest


# --------------------------------------------------------------------------- without the chain


def test_a_bad_plan_is_refused_naming_the_problem_with_exit_2_and_nothing_created(tmp_path, clean_settings):
    files = creator_files(tmp_path)
    base = ["campaign", "start", "--bundle", files["bundle"], "--creator-dir", files["creator_dir"],
            "--rounds", 2, "--slots", 2, "--reward", "1DML", "--hook", files["hook"]]
    env = {"DECENTRALML_STATE_DIR": str(tmp_path / "state"), "DECENTRALML_URL": "ws://127.0.0.1:9"}
    cases = {
        "min-results (3) is more than the slots": ["--min-results", 3],
        "no start_task.sh": ["--min-results", 1, "--bundle", tmp_path / "creator"],
        "target-accuracy must be a number in (0, 1]": ["--min-results", 1, "--target-accuracy", 1.5],
        "needs all of --clip-norm, --noise-multiplier and --delta": ["--min-results", 1, "--clip-norm", 1],
        "privacy delta must be strictly between 0 and 1": ["--min-results", 1, "--clip-norm", 1,
                                                          "--noise-multiplier", 1, "--delta", 2],
        "fedavg takes no parameter lr": ["--min-results", 1, "--server-lr", 0.5],
        "has no initial model": ["--min-results", 1, "--bundle", tmp_path / "empty_bundle"],
        "hook": ["--min-results", 1, "--hook", f"{files['creator_dir'] / 'hooks.py'}:no_such_hook"],
    }
    (tmp_path / "empty_bundle").mkdir()
    (tmp_path / "empty_bundle" / "start_task.sh").write_text("#!/bin/sh\n")
    for expected, extra in cases.items():
        result = invoke(base + extra, env=env)
        assert result.exit_code == 2, (expected, result.output)
        assert expected in result.stderr and "Traceback" not in result.output, (expected, result.stderr)
    with pytest.raises(UserInputError, match="unknown server optimizer"):
        plan_for(files, optimizer="sgd").check()
    assert not (tmp_path / "state").exists()  # no journal, no upload, no connection


def test_a_creator_whose_held_out_evaluation_fails_is_told_before_anything_is_created(
        creator_market, tmp_path):
    files = creator_files(tmp_path)
    (files["creator_dir"] / "model_creator.py").write_text("def held_out_data():\n    raise OSError('no data here')\n")
    market = creator_market()
    with pytest.raises(UserInputError, match="held-out data of .* failed: OSError: no data here"):
        run_campaign(market, plan_for(files), tmp_path / "journals")
    assert not (tmp_path / "journals").exists()
    assert market.list_tasks(creator=market.chain.address) == []


def test_a_plan_without_a_hook_or_with_a_person_deciding_is_refused(tmp_path):
    files = creator_files(tmp_path)
    with pytest.raises(UserInputError, match="needs --hook"):
        plan_for(files, hook=None).check()
    with pytest.raises(UserInputError, match="needs a person"):
        plan_for(files, strategy="ManualAccept").check()
    assert plan_for(files, hook=None, strategy="auto-accept").check().strategy == "AutoAccept"


def test_a_round_bundle_carries_the_given_model_and_the_round_in_its_task_settings(tmp_path):
    files = creator_files(tmp_path)
    federated = tmp_path / "federated"
    tiny_model(TRUE_KERNEL, TRUE_BIAS).save(str(federated))
    (federated / "decentralml_federation.json").write_text("{}")
    out = build_round_bundle(files["bundle"], federated, tmp_path / "round_2", campaign=4, round_number=2,
                             privacy=PrivacyPlan(1.0, 1.1, 1e-5).task_settings())
    assert np.array_equal(model_weights(out / "model")[0], TRUE_KERNEL)
    assert not (out / "model" / "decentralml_federation.json").exists()
    assert (out / "start_task.sh").read_text() == (files["bundle"] / "start_task.sh").read_text()
    settings = json.loads((out / "task_settings.json").read_text())
    assert settings == {"EPOCHS": 1, "MODEL_NAME": "tiny", "campaign": 4, "round": 2,
                        "privacy": {"clip_norm": 1.0, "noise_multiplier": 1.1}}
    # built again (an interrupted build is replaced), the creator's own bundle untouched
    build_round_bundle(files["bundle"], federated, out, campaign=4, round_number=2, privacy=None)
    assert json.loads((out / "task_settings.json").read_text())["privacy"] is None
    assert json.loads((files["bundle"] / "task_settings.json").read_text()) == {"EPOCHS": 1, "MODEL_NAME": "tiny"}


def test_the_journal_is_written_atomically_for_its_owner_only_and_moves_to_the_campaign_id(tmp_path):
    files = creator_files(tmp_path)
    plan = plan_for(files).check()
    journal = CampaignJournal.new(tmp_path / "j", "0xabcdef0123456789ff", plan)
    key = journal.key
    assert journal.path.name == f"{key}.json" and oct(journal.path.stat().st_mode & 0o777) == "0o600"
    record = journal.round(1)
    record.phase, record.bundle = Phase.UPLOADED, {"path": "b/k"}
    journal.record(record)
    reopened = CampaignJournal.open(tmp_path / "j", "0xabcdef0123456789ff", key)
    assert reopened.round(1).phase == Phase.UPLOADED and reopened.plan == plan
    journal.set_campaign(7)
    assert journal.path.name == "campaign-7.json" and not (journal.folder / f"{key}.json").exists()
    # the key a start printed still finds it, and so does the id; its files stay where they were
    assert CampaignJournal.open(tmp_path / "j", "0xabcdef0123456789ff", key).campaign == 7
    assert CampaignJournal.open(tmp_path / "j", "0xabcdef0123456789ff", 7).work.name == key
    assert not list(journal.folder.glob("*.partial"))
    with pytest.raises(UserInputError, match="no journal of campaign 8"):
        CampaignJournal.open(tmp_path / "j", "0xabcdef0123456789ff", 8)
    with pytest.raises(UserInputError, match="not a campaign id"):
        CampaignJournal.open(tmp_path / "j", "0xabcdef0123456789ff", "../../etc/passwd")


def test_a_next_round_bundle_uploaded_ahead_of_decisions_that_then_changed_is_made_again(tmp_path):
    """Round 2's bundle is uploaded before round 1's decisions, to go in their batch. A
    creator killed in between resumes round 1, which may then end with other results (a
    silent slot's result revealed meanwhile): that upload carries a model federated from
    results the round did not end with, and is made again; with the same results it is used."""
    from types import SimpleNamespace

    from substrate_client.campaign.rounds import _Campaign

    files = creator_files(tmp_path)
    journal = CampaignJournal.new(tmp_path / "j", "0xabcdef0123456789ff", plan_for(files).check())
    first, second = journal.round(1), journal.round(2)
    second.phase, second.bundle, second.bundle_source = Phase.UPLOADED, {"path": "b/round-2"}, [3, 5]
    journal.record(second)
    runner = SimpleNamespace(journal=journal)
    first.phase = Phase.DECIDED  # round 1 not federated yet: nothing to compare with
    journal.record(first)
    assert not _Campaign._bundle_outdated(runner, journal.round(2))
    first.phase, first.accepted = Phase.FEDERATED, [5, 3]
    journal.record(first)
    assert not _Campaign._bundle_outdated(runner, journal.round(2))
    first.accepted = [3, 5, 7]
    journal.record(first)
    assert _Campaign._bundle_outdated(runner, journal.round(2))
    legacy = journal.round(2)
    legacy.bundle_source = None  # recorded before uploads went ahead of decisions: as it is
    assert not _Campaign._bundle_outdated(runner, legacy)
    assert not _Campaign._bundle_outdated(runner, journal.round(1))  # round 1 carries the initial model


def test_global_weights_and_the_optimizer_state_per_round_come_back_exactly_without_pickle(tmp_path):
    weights = {"layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE": TRUE_KERNEL,
               "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE": TRUE_BIAS}
    save_weights(weights, tmp_path / "global.npz")
    back = load_weights(tmp_path / "global.npz")
    assert list(back) == list(weights) and all(np.array_equal(back[k], weights[k]) for k in weights)
    optimizer = FedAdam(lr=0.05)
    optimizer.apply(weights, {k: v + 1 for k, v in weights.items()})
    optimizer.save(tmp_path / "optimizer.npz")
    again = ServerOptimizer.load(tmp_path / "optimizer.npz")
    assert again.rounds == 1 and again.params == optimizer.params
    key = next(iter(weights))
    assert np.array_equal(again.state(key)["m"], optimizer.state(key)["m"])
    # a pickled object array is refused, never loaded
    np.save(tmp_path / "evil.npy", np.array([object()], dtype=object), allow_pickle=True)
    os.replace(tmp_path / "evil.npy", tmp_path / "evil.npz")
    with pytest.raises(Exception, match="cannot read"):
        load_weights(tmp_path / "evil.npz")


# --------------------------------------------------------------------------- on the real chain


@pytest.fixture
def storage_env(kubo, minio) -> dict:
    """What contributors' commands are told about storage (credentials: the minio fixture's)."""
    return {"DECENTRALML_IPFS_API": kubo.api_url, "DECENTRALML_S3_ENDPOINT": minio.endpoint_url,
            "DECENTRALML_S3_BUCKET": "campaign-tests"}


@pytest.fixture
def creator_market(devnet_url, substrate, dev_keys, storage_env, tmp_path):
    """``creator_market()``: a fresh funded creator with a connection of her own (her
    runner follows the chain in another thread)."""
    from substrate_client.chain import connect

    def make(amount=2000 * UNIT) -> Marketplace:
        keypair = fresh_account(substrate, dev_keys["alice"], amount)
        return Marketplace(Chain(connect(devnet_url), keypair),
                           {"api_url": storage_env["DECENTRALML_IPFS_API"],
                            "endpoint_url": storage_env["DECENTRALML_S3_ENDPOINT"], "bucket": "campaign-tests",
                            "root": str(tmp_path / "store")})
    return make


def wait_for_line(lines: list[str], text: str, running, timeout: float = 180) -> str:
    """The first of ``lines`` (progress lines, still coming while ``running()``) that
    contains ``text``; AssertionError with every line if none does in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if text in line:
                return line
        if not running():
            break
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the progress lines:\n" + "\n".join(lines))


class Runner:
    """``run_campaign`` in a thread, its progress lines kept."""

    def __init__(self, market: Marketplace, plan: CampaignPlan, journal_dir: Path):
        self.market, self.lines, self.summary, self.error = market, [], None, None
        self.rounds = plan.rounds
        self.thread = threading.Thread(target=self._run, args=(plan, journal_dir), daemon=True)
        self.thread.start()

    def _run(self, plan, journal_dir) -> None:
        try:
            self.summary = run_campaign(self.market, plan, journal_dir, report=self.lines.append)
        except BaseException as error:  # shown by the waiting test
            self.error = error

    def wait_for(self, text: str, timeout: float = 180) -> str:
        try:
            return wait_for_line(self.lines, text, self.thread.is_alive, timeout)
        except AssertionError as missing:
            if self.error is None:
                raise
            raise AssertionError(f"{missing}\nthe campaign stopped with {self.error!r}") from self.error

    def task_of_round(self, number: int) -> int:
        """The task of round ``number``, once the runner has created it."""
        return task_in(self.wait_for_created(number))

    def wait_for_created(self, number: int) -> str:
        return self.wait_for(f"round {number}/{self.rounds}: task ")

    def finish(self, timeout: float = 180):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "\n".join(self.lines)
        if self.error is not None:
            raise AssertionError("\n".join(self.lines)) from self.error
        return self.summary


def task_in(line: str) -> int:
    """The task id in a progress line ``round r/R: task N created...``."""
    return int(line.split(": task ")[1].split()[0].rstrip(":"))


def contribute(dml, keypair, task_id: int, work: Path, env: dict, seed: int = 0, saboteur: bool = False):
    """Take a slot (the bundle fetched and verified first), make a result from the round's
    model, send it (sealed, to S3): (submission id, bundle folder, weights sent)."""
    sid = as_json(dml("--json", "assign_task", task_id, "--dest", work / "bundle", signer=keypair,
                      env=env))["submission_id"]
    if saboteur:
        folder, weights = saboteur_result(work.parent.parent / "sabotage"), None
    else:
        folder, weights = honest_result(work / "bundle", work / "result", seed)
    as_json(dml("--json", "send_task_result", "--submission-id", sid, "--result-path", folder,
                "--storage", "s3", signer=keypair, env=env))
    return sid, work / "bundle", weights


def test_a_three_round_campaign_chains_its_tasks_carries_each_federated_model_and_rejects_the_saboteur_every_round(
        creator_market, account, dml, storage_env, substrate, tmp_path):
    files = creator_files(tmp_path)
    market = creator_market()
    bob, carol, eve = account(), account(), account()
    initial = model_weights(files["bundle"] / "model")
    runner = Runner(market, plan_for(files, rounds=3, slots=3, min_results=2), tmp_path / "journals")
    rounds = []
    for number in (1, 2, 3):
        task_id = runner.task_of_round(number)
        work = tmp_path / f"round_{number}"
        eve_sid, _, _ = contribute(dml, eve, task_id, work / "eve", storage_env, saboteur=True)
        runner.wait_for(f"result {eve_sid}: accuracy")  # judged as it arrives: rejected, not paid
        bob_sid, bob_bundle, bob_weights = contribute(dml, bob, task_id, work / "bob", storage_env, seed=number)
        carol_sid, _, carol_weights = contribute(dml, carol, task_id, work / "carol", storage_env, seed=10 + number)
        rounds.append({"task": task_id, "bundle": bob_bundle, "honest": (bob_weights, carol_weights),
                       "ids": (bob_sid, carol_sid, eve_sid)})
        runner.wait_for(f"round {number}/3: task {task_id} closed")
    summary = runner.finish()

    # The lineage is the chain's: one campaign, one task per round, each continuing the one before.
    campaign = market.get_campaign(summary.campaign)
    assert campaign.rounds == 3 and campaign.latest_task == rounds[-1]["task"]
    assert market.campaign_rounds(summary.campaign) == [(n + 1, r["task"]) for n, r in enumerate(rounds)]
    for number, r in enumerate(rounds, start=1):
        lineage = market.get_task(r["task"]).lineage
        assert (lineage.campaign, lineage.round) == (summary.campaign, number)
        assert lineage.continues == (None if number == 1 else rounds[number - 2]["task"])
    # Round 1 carries the initial model; round r the average of round r-1's accepted results.
    for got, want in zip(model_weights(rounds[0]["bundle"] / "model"), initial):
        assert np.array_equal(got, want)
    for before, after in zip(rounds, rounds[1:]):
        expected = [np.mean([w[i] for w in before["honest"]], axis=0) for i in range(2)]
        for got, want in zip(model_weights(after["bundle"] / "model"), expected):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        settings = json.loads((after["bundle"] / "task_settings.json").read_text())
        assert settings["campaign"] == summary.campaign and settings["round"] == rounds.index(after) + 1

    # The saboteur is rejected in every round, with the reason; each honest result paid once.
    for r, round_summary in zip(rounds, summary.rounds):
        bob_sid, carol_sid, eve_sid = r["ids"]
        statuses = {s.submission_id: s for s in market.list_task_results(r["task"])}
        assert statuses[bob_sid].status is statuses[carol_sid].status is SubmissionStatus.ACCEPTED
        assert statuses[eve_sid].status is SubmissionStatus.REJECTED
        assert "vs 0.6" in statuses[eve_sid].rejection_reason
        assert market.get_task(r["task"]).status is TaskStatus.CLOSED
        assert (round_summary.accepted, round_summary.rejected, round_summary.paid) == (2, 1, 2 * REWARD)
        by_id = {o.submission_id: o for o in round_summary.results}
        assert by_id[eve_sid].accuracy < 0.6 <= by_id[bob_sid].accuracy
    assert market.creator_record(market.chain.address).total_paid == 6 * REWARD
    assert market.contributor_record(bob.ss58_address).results_accepted == 3
    assert market.contributor_record(eve.ss58_address).results_rejected == 3
    accuracies = [r.federated_accuracy for r in summary.rounds]
    assert summary.initial_accuracy < accuracies[0] <= accuracies[1] <= accuracies[2]
    assert summary.total_paid == 6 * REWARD and summary.finished == "all 3 rounds done"
    # The server optimizer's state and the global model are kept per round (.npz, no pickle).
    journal = CampaignJournal.open(tmp_path / "journals", market.chain.genesis_hash, summary.campaign)
    # Each next round's task was created in the batch of the decisions and close of the round before.
    for number, after in ((1, rounds[1]), (2, rounds[2])):
        assert market.get_task(after["task"]).created_at == journal.round(number).decided_block
    for number in (1, 2, 3):
        assert ServerOptimizer.load(journal.work / f"round_{number}" / "optimizer.npz").rounds == number
        kept = list(load_weights(journal.work / f"round_{number}" / "global.npz").values())
        expected = [np.mean([w[i] for w in rounds[number - 1]["honest"]], axis=0) for i in range(2)]
        for got, want in zip(kept, expected):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    # `campaign status` says the same from the chain (and the journal's accuracies).
    status = as_json(dml("--json", "campaign", "status", summary.campaign, "--journal-dir",
                         tmp_path / "journals"))
    assert [(r["task_id"], r["accepted"], r["rejected"], r["paid"]) for r in status["rounds"]] == \
        [(r["task"], 2, 1, 2 * REWARD) for r in rounds]
    assert [r["federated_accuracy"] for r in status["rounds"]] == accuracies
    assert campaign_status(market, summary.campaign).rounds[0].federated_accuracy is None  # no journal there


#: The calls that settle a task, paying every result pending when they land.
CLOSES = frozenset({"close_task", "close_judged_task"})


@pytest.mark.parametrize("eve_before", ["a slot taken", "a commitment"])
def test_a_result_revealed_while_the_close_is_on_its_way_is_judged_not_paid_by_the_close(
        eve_before, creator_market, account, dml, storage_env, devnet_url, tmp_path):
    """The attack: Eve holds a slot silently (or with a commitment whose reveal she holds
    back) and sends her result just as the creator's close is on its way: after the
    creator looked at the slots, before the close lands (here the close is held back until
    her reveal is in, as a slow send or full blocks would). A close that pays every
    pending result would pay her sabotage unjudged; it must be judged and rejected instead.
    With a slot taken, the close held back is the one in the decisions' batch; with a
    commitment (the batch then goes without the close), the close step's own."""
    from substrate_client.chain import connect
    from substrate_client.errors import ChainConnectionError

    files = creator_files(tmp_path)
    market = creator_market()
    bob, eve = account(), account()
    eve_market = Marketplace(Chain(connect(devnet_url), eve), {
        "api_url": storage_env["DECENTRALML_IPFS_API"], "endpoint_url": storage_env["DECENTRALML_S3_ENDPOINT"],
        "bucket": "campaign-tests", "root": str(tmp_path / "eve_store")})
    sabotage = saboteur_result(tmp_path / "sabotage")
    attack: dict = {}

    def eve_sends_first() -> None:
        if "sid" in attack and "sent" not in attack:
            attack["sent"] = eve_market.send_task_result(attack["sid"], result_path=sabotage,
                                                         result_storage_type="S3")

    chain = market.chain
    send_one, send_batch = chain.submit, chain.submit_batch

    def submit(function, *args, **kwargs):
        if function in CLOSES:
            eve_sends_first()
        return send_one(function, *args, **kwargs)

    def submit_batch(calls, *args, **kwargs):
        calls = list(calls)
        if any(call.value["call_function"] in CLOSES for call in calls):
            eve_sends_first()
        return send_batch(calls, *args, **kwargs)

    chain.submit, chain.submit_batch = submit, submit_batch
    runner = Runner(market, plan_for(files, rounds=1, slots=2, min_results=1), tmp_path / "journals")
    task_id = runner.task_of_round(1)
    sid = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / "eve", signer=eve,
                      env=storage_env))["submission_id"]
    if eve_before == "a commitment":  # her reveal "fails": she is left committed, to resume later
        eve_send = eve_market.chain.submit

        def no_reveal(function, *args, **kwargs):
            if function == "reveal_task_result":
                raise ChainConnectionError("held back")
            return eve_send(function, *args, **kwargs)

        eve_market.chain.submit = no_reveal
        with pytest.raises(ChainConnectionError):
            eve_market.send_task_result(sid, result_path=sabotage, result_storage_type="S3")
        eve_market.chain.submit = eve_send
        assert market.get_submission(sid).status is SubmissionStatus.COMMITTED
    attack["sid"] = sid
    bob_sid, _, _ = contribute(dml, bob, task_id, tmp_path / "bob", storage_env, seed=1)
    summary = runner.finish()

    assert attack.get("sent") is not None, "Eve's result was never sent: no close went out"
    assert attack["sent"].status is SubmissionStatus.PENDING  # revealed before the close landed
    eve_sub = market.get_submission(sid)
    assert eve_sub.status is SubmissionStatus.REJECTED, "\n".join(runner.lines)
    assert "vs 0.6" in eve_sub.rejection_reason
    assert market.contributor_record(eve.ss58_address).results_accepted == 0
    assert market.get_submission(bob_sid).status is SubmissionStatus.ACCEPTED
    assert market.get_task(task_id).status is TaskStatus.CLOSED
    assert market.creator_record(market.chain.address).total_paid == REWARD
    assert summary.rounds[0].paid == REWARD
    if eve_before == "a commitment":
        assert any("was revealed while it was being closed" in line for line in runner.lines), runner.lines


def test_a_campaign_stops_early_once_the_target_accuracy_is_reached(
        creator_market, account, dml, storage_env, tmp_path):
    files = creator_files(tmp_path)
    market = creator_market()
    dave = account()
    runner = Runner(market, plan_for(files, rounds=3, slots=1, min_results=1, target_accuracy=0.8,
                                     privacy=PrivacyPlan(1.0, 1.1, 1e-5)), tmp_path / "journals")
    task_id = runner.task_of_round(1)
    _sid, bundle, _w = contribute(dml, dave, task_id, tmp_path / "dave", storage_env)
    assert json.loads((bundle / "task_settings.json").read_text())["privacy"] == \
        {"clip_norm": 1.0, "noise_multiplier": 1.1}
    summary = runner.finish()
    assert summary.finished.startswith("target accuracy 0.8000 reached in round 1")
    assert market.get_campaign(summary.campaign).rounds == 1
    assert summary.rounds[0].federated_accuracy >= 0.8
    assert summary.privacy["rounds"] == 1 and summary.privacy["epsilon"] > 0
    assert summary.rounds[0].epsilon == summary.privacy["epsilon"]


def test_a_round_short_of_results_frees_the_silent_slot_is_extended_once_then_the_campaign_stops_saying_why(
        creator_market, account, dml, storage_env, substrate, tmp_path):
    files = creator_files(tmp_path)
    market = creator_market()
    dave, frank = account(), account()
    runner = Runner(market, plan_for(files, rounds=2, slots=2, min_results=2, round_blocks=700),
                    tmp_path / "journals")
    task_id = runner.task_of_round(1)
    silent = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / "frank", signer=frank,
                         env=storage_env))["submission_id"]
    contribute(dml, dave, task_id, tmp_path / "dave", storage_env)
    runner.wait_for("round 1/2: 1/2 accepted")
    view = Marketplace(Chain(substrate))  # the test's own connection: the market's is the runner's
    task = view.get_task(task_id)
    jump_to(substrate, view.get_submission(silent).assigned_at + view.deadlines().result_timeout)
    runner.wait_for(f"freed the silent slot {silent}")
    jump_to(substrate, task.created_at + 700)
    runner.wait_for("extended once, to block")
    jump_to(substrate, task.created_at + 1400)
    summary = runner.finish()
    assert "round 1 ended with 1 accepted result(s) of the 2 needed, after its deadline was extended once" \
        in summary.finished
    assert market.get_campaign(summary.campaign).rounds == 1  # no round 2
    assert market.get_task(task_id).status is TaskStatus.CLOSED
    assert [(r.accepted, r.paid, r.extended) for r in summary.rounds] == [(1, REWARD, True)]
    assert silent not in {s.submission_id for s in market.list_task_results(task_id)}
    assert market.contributor_record(frank.ss58_address).slots_timed_out == 1
