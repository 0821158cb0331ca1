"""Validation: the example accuracy-threshold hook, running and loading hooks, manual decisions."""

from substrate_client import tensorflow_setup

tensorflow_setup.configure()  # before TensorFlow loads

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from assets.model_contributor import model_contributor  # noqa: E402
from assets.model_creator import hooks, model_creator, settings  # noqa: E402
from substrate_client import validation  # noqa: E402
from substrate_client.errors import UserInputError, ValidationError  # noqa: E402
from substrate_client.validation import Decision, ValidationStrategy, parse_strategy  # noqa: E402
from tests import daemons  # noqa: E402
from tests.fixtures import as_json, ok, one_error_line  # noqa: E402
from tests.test_cli import create  # noqa: E402

# No signer, chain or storage settings leak in from the developer's shell or config.
pytestmark = pytest.mark.usefixtures("clean_settings")

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Submission:
    submission_id: int
    contributor: str
    metadata: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def trained_model():
    """The walk-through's model trained briefly on data the held-out set does not contain."""
    (x, y), _, _ = model_creator.load_data()
    model = model_creator.create_model(hidden_units=64)
    model_creator.train_model(model, x[:3000], y[:3000], epochs=2, batch_size=32)
    return model


@pytest.fixture(scope="module")
def random_model():
    model = model_creator.create_model(hidden_units=64)
    model_contributor.randomize_weights(model, seed=1)
    return model


@pytest.fixture
def held_out_300(monkeypatch):
    monkeypatch.setattr(settings, "HELD_OUT", 300)
    x, y, dataset = model_creator.held_out_data()
    return x, y, dataset


def test_threshold_hook_accepts_a_trained_model(trained_model, held_out_300, monkeypatch):
    monkeypatch.setattr(settings, "ACCURACY_THRESHOLD", 0.5)
    decision = hooks.accuracy_threshold(trained_model, Submission(7, "alice"))

    assert decision.verdict == "accept" and decision.accepted
    assert decision.submission_id == 7
    accuracy = decision.metrics["accuracy"]
    assert accuracy >= 0.5
    assert f"held-out accuracy {accuracy:.4f} >= threshold 0.5000" in decision.reason
    assert f"300 {held_out_300[2]} test samples" in decision.reason


def test_threshold_hook_rejects_random_weights(random_model, held_out_300, monkeypatch):
    monkeypatch.setattr(settings, "ACCURACY_THRESHOLD", 0.5)
    decision = validation.run_hook(hooks.accuracy_threshold, random_model, Submission(8, "mallory"))

    assert decision.verdict == "reject"
    assert decision.metrics["accuracy"] < 0.5
    assert f"held-out accuracy {decision.metrics['accuracy']:.4f} < threshold 0.5000" in decision.reason


def test_threshold_is_inclusive(trained_model, held_out_300, monkeypatch):
    x, y, _ = held_out_300
    accuracy = validation.evaluate(trained_model, x, y)["accuracy"]
    monkeypatch.setattr(settings, "ACCURACY_THRESHOLD", accuracy)
    assert hooks.accuracy_threshold(trained_model, Submission(9, "bob")).verdict == "accept"
    monkeypatch.setattr(settings, "ACCURACY_THRESHOLD", accuracy + 1e-3)
    assert hooks.accuracy_threshold(trained_model, Submission(9, "bob")).verdict == "reject"


def test_threshold_hook_mentions_a_different_training_dataset(trained_model, held_out_300, monkeypatch):
    monkeypatch.setattr(settings, "ACCURACY_THRESHOLD", 0.0)
    other = "mnist" if held_out_300[2] == "fashion_mnist" else "fashion_mnist"
    decision = hooks.accuracy_threshold(trained_model, Submission(10, "carol", {"dataset": other}))
    assert f"the contributor trained on {other}" in decision.reason


def test_a_raising_hook_rejects_the_result_with_the_error():
    def broken(model, submission):
        raise RuntimeError("held-out data not found")

    decision = validation.run_hook(broken, model=None, submission=Submission(11, "dave"))

    # never accepted, and never left pending (closing the task would pay it)
    assert decision.verdict == "reject" and not decision.accepted
    assert decision.submission_id == 11
    assert "RuntimeError: held-out data not found" in decision.reason
    assert "broken" in decision.reason


def test_a_hook_returning_garbage_is_never_accepted():
    for garbage in ("yes", 1, None, {"verdict": "accept"}, [Decision(12, "accept")]):
        decision = validation.run_hook(lambda m, s: garbage, None, Submission(12, "erin"))
        assert decision.verdict == "reject" and not decision.accepted
        assert f"returned {type(garbage).__name__}" in decision.reason
    other = validation.run_hook(lambda m, s: Decision(99, "accept"), None, Submission(12, "erin"))
    assert other.verdict == "reject" and "99" in other.reason


def test_a_hook_may_answer_with_a_bool_or_leave_a_result_pending_on_purpose():
    assert validation.run_hook(lambda m, s: True, None, Submission(12, "erin")).verdict == "accept"
    assert validation.run_hook(lambda m, s: False, None, Submission(12, "erin")).verdict == "reject"
    later = validation.run_hook(lambda m, s: Decision(12, "pending", "look again"), None, Submission(12, "erin"))
    assert later.verdict == "pending"


def test_decision_refuses_an_unknown_verdict():
    with pytest.raises(ValidationError, match="verdict"):
        Decision(1, "maybe")


def test_load_hook_from_a_module():
    assert validation.load_hook("assets.model_creator.hooks:accuracy_threshold") is hooks.accuracy_threshold


def test_load_hook_from_a_file_path(tmp_path):
    hook_file = tmp_path / "my_checks.py"
    hook_file.write_text(
        "from substrate_client.validation import Decision\n"
        "def small_enough(model, submission):\n"
        "    return Decision(submission.submission_id, 'accept' if model < 3 else 'reject', f'model={model}')\n"
    )
    hook = validation.load_hook(f"{hook_file}:small_enough")

    assert validation.run_hook(hook, 2, Submission(13, "frank")).verdict == "accept"
    assert validation.run_hook(hook, 5, Submission(13, "frank")).reason == "model=5"


def test_load_hook_from_the_example_file_path(held_out_300, random_model, monkeypatch):
    monkeypatch.setattr(settings, "ACCURACY_THRESHOLD", 0.5)
    hook = validation.load_hook(f"{REPO / 'assets' / 'model_creator' / 'hooks.py'}:accuracy_threshold")
    assert hook.__name__ == "accuracy_threshold"
    assert validation.run_hook(hook, random_model, Submission(14, "gina")).verdict == "reject"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no_colon_here", "not of the form 'package.module:function'"),
        ("assets.model_creator.hooks:", "not of the form"),
        ("decentralml_no_such_module:check", "module 'decentralml_no_such_module' not found"),
        ("assets.model_creator.hooks:no_such_hook", "has no function 'no_such_hook' .*accuracy_threshold"),
        ("assets.model_creator.settings:MODEL_NAME", "is a str, not a function"),
        ("/nonexistent/dir/checks.py:check", "file /nonexistent/dir/checks.py not found"),
    ],
)
def test_load_hook_explains_a_bad_spec(spec, message):
    with pytest.raises(UserInputError, match=message):
        validation.load_hook(spec)


def test_load_hook_reports_a_hook_file_that_fails_to_import(tmp_path):
    bad = tmp_path / "bad_hook.py"
    bad.write_text("raise ImportError('needs sklearn')\n")
    with pytest.raises(UserInputError, match="running .*bad_hook.py failed: ImportError: needs sklearn"):
        validation.load_hook(f"{bad}:check")


def test_evaluate_reports_loss_accuracy_and_samples(trained_model, held_out_300, random_model):
    x, y, _ = held_out_300
    metrics = validation.evaluate(trained_model, x, y)
    assert set(metrics) >= {"loss", "accuracy", "samples"} and metrics["samples"] == 300
    # an uncompiled model (loaded with compile=False, say) gets the same numbers: both are
    # computed from predictions, never from metrics the model carries
    import tensorflow as tf

    plain = tf.keras.Sequential(
        [tf.keras.layers.Flatten(input_shape=(28, 28)), tf.keras.layers.Dense(64, activation="relu"),
         tf.keras.layers.Dropout(0.2), tf.keras.layers.Dense(10)]
    )
    plain.set_weights(trained_model.get_weights())
    uncompiled = validation.evaluate(plain, x, y)
    assert uncompiled["samples"] == 300
    assert uncompiled["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-6)
    assert uncompiled["loss"] == pytest.approx(metrics["loss"], rel=1e-4)
    # and the loss is the model's own cross-entropy on those samples
    own = trained_model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert metrics["loss"] == pytest.approx(own, rel=1e-3)


def test_decide_manually_asks_until_it_gets_an_answer():
    prompts, answers = [], iter(["maybe", "A"])

    def ask(prompt):
        prompts.append(prompt)
        return next(answers)

    decision = validation.decide_manually(Submission(15, "hana"), {"accuracy": 0.8125}, ask)

    assert decision.verdict == "accept" and decision.metrics == {"accuracy": 0.8125}
    assert "Submission 15 from hana: accuracy=0.8125" in prompts[0]
    assert "not 'maybe'" in prompts[1]
    assert validation.decide_manually(Submission(16, "ivan"), {}, lambda p: "r").verdict == "reject"
    assert validation.decide_manually(Submission(17, "jo"), {}, lambda p: "").verdict == "pending"
    assert validation.decide_manually(Submission(18, "kim"), {}, lambda p: "?").verdict == "pending"


def test_decide_by_ids_without_asking():
    decide = validation.decide_by_ids(accept_ids=[1, "2"], reject_ids=[3, 99])

    assert decide(Submission(1, "a"), {"accuracy": 0.9}).verdict == "accept"
    assert decide(Submission(2, "b")).verdict == "accept"
    assert decide(Submission(3, "c")).verdict == "reject"
    assert decide(Submission(4, "d")).verdict == "pending"
    assert decide.unknown_ids() == {"99"}
    with pytest.raises(UserInputError, match="both to accept and to reject"):
        validation.decide_by_ids([5], [5])


def test_validation_strategy_values_are_the_pallet_names():
    assert [s.value for s in ValidationStrategy] == ["AutoAccept", "ManualAccept", "CustomAccept"]
    assert ValidationStrategy("CustomAccept") is ValidationStrategy.CUSTOM_ACCEPT
    assert parse_strategy("manual_accept") is ValidationStrategy.MANUAL_ACCEPT
    assert parse_strategy("auto") is ValidationStrategy.AUTO_ACCEPT
    with pytest.raises(UserInputError, match="AutoAccept, ManualAccept, CustomAccept"):
        parse_strategy("sometimes")


def test_held_out_data_comes_from_the_test_split(held_out_300):
    x, y, dataset = held_out_300
    _, (x_test, y_test), name = model_contributor.load_dataset(settings.DATASET)
    assert name == dataset and x.shape == (300, 28, 28)
    np.testing.assert_array_equal(x, x_test[:300])
    np.testing.assert_array_equal(y, y_test[:300])


# --------------------------------------------------------------------------- the strategies the route asks


@dataclass
class Pending:
    submission_id: int
    contributor: str = "c"
    metadata: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


@dataclass
class Task:
    task_id: int = 3


def test_manual_accept_by_ids_decides_only_the_listed_results_and_opens_only_those_it_accepts():
    strategy = validation.ManualAccept(accept_ids=[1], reject_ids=[2], reason="below 0.8")
    pending = [Pending(1), Pending(2), Pending(3)]

    chosen = strategy.select(Task(), pending)

    assert [p.submission_id for p in chosen] == [1, 2]  # 3 is left as it is, not downloaded
    assert strategy.needs_result(pending[0]) and not strategy.needs_result(pending[1])
    assert strategy.decide("model", pending[0]).verdict == "accept"
    rejected = strategy.decide(None, pending[1])
    assert rejected.verdict == "reject" and rejected.reason == "below 0.8"
    with pytest.raises(UserInputError, match="submission.s. 7 are not pending results of task 3"):
        validation.ManualAccept(accept_ids=[7]).select(Task(), pending)
    with pytest.raises(UserInputError, match="not both"):
        validation.ManualAccept(lambda prompt: "a", accept_ids=[1])


def test_manual_accept_asks_about_every_result_showing_the_creators_metrics():
    prompts = []
    strategy = validation.ManualAccept(lambda prompt: prompts.append(prompt) or "r", reason="by hand")
    result = Pending(4, metrics={"accuracy": 0.25})

    assert strategy.select(Task(), [result]) == [result] and strategy.needs_result(result)
    decision = strategy.decide("model", result)
    assert decision.verdict == "reject" and decision.reason == "by hand"
    assert "accuracy=0.2500" in prompts[0]


def test_custom_accept_runs_the_hook_and_rejects_when_it_raises():
    def hook(model, submission):
        if submission.metadata.get("boom"):
            raise RuntimeError("no held-out data")
        return Decision(submission.submission_id, "accept", f"model {model}")

    strategy = validation.CustomAccept(hook)
    assert strategy.decide("m", Pending(5)).reason == "model m"
    broken = strategy.decide("m", Pending(6, metadata={"boom": True}))
    assert broken.verdict == "reject" and "no held-out data" in broken.reason
    assert validation.CustomAccept("assets.model_creator.hooks:accuracy_threshold").hook is hooks.accuracy_threshold


def test_auto_accept_accepts_what_reached_it():
    decision = validation.AutoAccept().decide("model", Pending(8, metrics={"accuracy": 0.9}))
    assert decision.verdict == "accept" and decision.metrics == {"accuracy": 0.9}


def test_reasons_are_one_printable_line_within_the_byte_limit():
    reason = validation.clean_reason("bad\x1b[31m name\n" + "é" * 300, 256)
    assert "\x1b" not in reason and "\n" not in reason
    assert len(reason.encode()) <= 256 and reason.endswith("...")


# --------------------------------------------------------------------------- the creator's outage, on the chain


def _statuses(dml, task_id) -> dict:
    return {r["submission_id"]: r["status"] for r in as_json(dml("list_task_results", task_id, "--json"))}


def test_a_storage_outage_on_the_creators_side_decides_nothing_and_bad_results_are_still_rejected_after(
        dml, account, tmp_path, monkeypatch):
    """MinIO down while the creator validates: no result is rejected for it, nothing is
    submitted, and the error says what was unreachable. Once it is back, each result is
    judged on its own content."""
    for name, value in (("AWS_ACCESS_KEY_ID", daemons.MINIO_USER), ("AWS_SECRET_ACCESS_KEY", daemons.MINIO_PASSWORD),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_CONFIG_FILE", "/nonexistent/decentralml-test"),
                        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/decentralml-test")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = daemons.start_minio(tmp_path / "minio")
    try:
        s3 = {"DECENTRALML_S3_ENDPOINT": server.endpoint_url, "DECENTRALML_S3_BUCKET": "outage"}
        creator = account()
        key = tmp_path / "result_key"
        ok(dml("keys", "generate", "--path", key))
        bundle = tmp_path / "bundle"
        bundle.mkdir()
        (bundle / "start_task.sh").write_text("#!/usr/bin/env bash\necho training\n")
        (bundle / "start_task.sh").chmod(0o755)
        model_creator.create_model(hidden_units=16).save(str(bundle / "model"))
        task_id = create(dml, creator, bundle, "--result-key", key.with_suffix(".pub"),
                         "--validation-strategy", "custom-accept", slots=3, pays="1DML")["task_id"]
        good, no_model = tmp_path / "good", tmp_path / "no_model"
        model_creator.create_model(hidden_units=16).save(str(good))
        no_model.mkdir()
        (no_model / "notes.txt").write_text("no model here")

        def send(name: str, folder: Path) -> int:
            who = account()
            sub = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / f"task_{name}",
                              signer=who))["submission_id"]
            ok(dml("send_task_result", "--submission-id", sub, "--result-path", folder, "--storage", "s3",
                   signer=who, env=s3))
            return sub

        subs = {"good": send("good", good), "no_model": send("no_model", no_model), "tampered": send("tampered", good)}
        hook = tmp_path / "hook.py"
        hook.write_text("from substrate_client.validation import ACCEPT, Decision\n"
                        "def accept_all(model, submission):\n"
                        "    return Decision(submission.submission_id, ACCEPT, 'fine')\n")
        validate = ["validate_task_results", task_id, "--hook", f"{hook}:accept_all", "--no-evaluate",
                    "--result-key-file", key]

        server.stop()
        down = dml(*validate, signer=creator, env=s3)
        assert down.exit_code == 1
        line = one_error_line(down)
        assert server.endpoint_url in line and "cannot reach" in line, line
        assert f"validation of task {task_id} stopped at submission {subs['good']}" in line
        assert "nothing was decided or submitted" in line and "3 pending result(s)" in line
        assert "not a fault of any result" in line
        assert set(_statuses(dml, task_id).values()) == {"Pending"}

        # Back up, as it was: every result is judged on its own content.
        server.start_again()
        import boto3

        tampered = next(r for r in as_json(dml("list_task_results", task_id, "--json"))
                        if r["submission_id"] == subs["tampered"])["result_location"]["path"]
        bucket, _, object_key = tampered.partition("/")
        boto3.client("s3", endpoint_url=server.endpoint_url).put_object(Bucket=bucket, Key=object_key,
                                                                        Body=b"not what was recorded")
        report = as_json(dml("--json", *validate, signer=creator, env=s3))
        rows = {r["submission_id"]: r for r in report["results"]}
        assert report["submitted"]
        assert rows[subs["good"]]["verdict"] == "accept"
        assert rows[subs["no_model"]]["verdict"] == "reject" and "holds no model" in rows[subs["no_model"]]["reason"]
        assert rows[subs["tampered"]]["verdict"] == "reject" and "receiving failed" in rows[subs["tampered"]]["reason"]
        assert _statuses(dml, task_id) == {subs["good"]: "Accepted", subs["no_model"]: "Rejected",
                                           subs["tampered"]: "Rejected"}
    finally:
        server.stop()
