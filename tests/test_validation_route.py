"""The validation route as one unit, through the library, against the real dev chain and
storage: receive -> open -> restore into the creator's model -> evaluate -> decide, then
one batch on chain."""

from __future__ import annotations

import json
from pathlib import Path

from substrate_client import tensorflow_setup

tensorflow_setup.configure()  # before TensorFlow loads

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from substrate_client import keys, validation  # noqa: E402
from substrate_client.federation import RESULT_METADATA_FILE  # noqa: E402
from substrate_client.records import SubmissionStatus  # noqa: E402
from tests.test_marketplace import REWARD, people, store_settings  # noqa: E402,F401  (fixtures)


def small_model(fill: float) -> "tf.keras.Model":
    model = tf.keras.Sequential([tf.keras.layers.Input((4,)), tf.keras.layers.Dense(3)])
    model.set_weights([np.full(w.shape, fill, dtype=np.float32) for w in model.get_weights()])
    return model


def result_folder(path: Path, fill: float, samples: int) -> Path:
    small_model(fill).save(str(path / "model"))
    (path / "model" / RESULT_METADATA_FILE).write_text(json.dumps({"samples": samples}))
    return path


def send(market, task_id: int, folder: Path) -> int:
    sub = market.assign_task(task_id).submission_id
    market.send_task_result(sub, result_path=folder, result_storage_type="S3")
    return sub


def test_the_route_restores_each_result_into_the_creators_model_and_decides_them_in_one_batch(
        people, tmp_path):
    creator, good_one, small_one, empty_one = people(), people(), people(), people()
    bundle = tmp_path / "bundle"
    small_model(0.0).save(str(bundle / "model"))
    public_key = keys.generate_keypair(tmp_path / "result_key")
    task = creator.create_task_model_contributor(
        question="Train it", pays_amount=REWARD, max_assignments=3, model_contributor_script_path=bundle,
        model_contributor_script_storage_type="S3", result_public_key=public_key, expires_in_blocks=200)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no model here")
    subs = {"good": send(good_one, task.task_id, result_folder(tmp_path / "good", 1.0, 500)),
            "small": send(small_one, task.task_id, result_folder(tmp_path / "small", 2.0, 5)),
            "empty": send(empty_one, task.task_id, empty)}

    def kernel_value(model) -> dict:  # the creator's evaluation: what her model holds now
        return {"kernel": float(model.get_weights()[0].flat[0])}

    def enough_samples(model, review):
        if review.metadata.get("samples", 0) >= 100:
            return validation.Decision(review.submission_id, validation.ACCEPT, "enough samples")
        return validation.Decision(review.submission_id, validation.REJECT, "too few samples " + "x" * 2000)

    reviews = validation.validate_task_results(
        creator, task.task_id, validation.CustomAccept(enough_samples), work_dir=tmp_path / "work",
        private_key=keys.load_private_key(tmp_path / "result_key"), evaluator=kernel_value)
    by_id = {r.submission_id: r for r in reviews}

    assert sorted(by_id) == sorted(subs.values())
    good, small, no_model = by_id[subs["good"]], by_id[subs["small"]], by_id[subs["empty"]]
    assert good.verdict == "accept" and good.metrics == {"kernel": 1.0} and good.metadata == {"samples": 500}
    assert small.verdict == "reject" and small.metrics == {"kernel": 2.0}
    limit = creator.limit("MaxReasonLen")
    assert small.reason.startswith("too few samples") and len(small.reason.encode()) <= limit
    assert no_model.verdict == "reject" and "holds no model" in no_model.reason
    assert good.folder == tmp_path / "work" / f"submission_{subs['good']}" and good.folder.is_dir()
    # Nothing is on chain before the decisions are submitted.
    assert {s.status for s in creator.list_task_results(task.task_id)} == {SubmissionStatus.PENDING}

    before = good_one.balance()["free"]
    validation.submit_decisions(creator, reviews)
    statuses = {s.submission_id: s for s in creator.list_task_results(task.task_id)}
    assert statuses[subs["good"]].status is SubmissionStatus.ACCEPTED
    assert good_one.balance()["free"] == before + REWARD
    for name in ("small", "empty"):
        assert statuses[subs[name]].status is SubmissionStatus.REJECTED
    assert statuses[subs["small"]].rejection_reason == small.reason
