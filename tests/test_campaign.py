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
from tests.fixtures import invoke, jump_to, one_error_line, send_result, take_slot  # noqa: E402

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
        return Decision(submission.submission_id, verdict, f"held-out accuracy {{accuracy:.3f}} vs 0.6")
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
    return _result(dest, [-TRUE_KERNEL, TRUE_BIAS])


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
                             privacy=PrivacyPlan(1.0, 1.1, 1e-5))
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
