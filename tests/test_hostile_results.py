"""Hostile results: what a contributor sends is data, never code, and one bad result
cannot stop or skew the others.

Each attack is first shown to work where a result's model is loaded the old way
(``tf.keras.models.load_model`` on the contributor's SavedModel), then shown to do
nothing through the validation route and federation, which only read a result's
variables into the creator's own model.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import tarfile
from pathlib import Path

from substrate_client import tensorflow_setup

tensorflow_setup.configure()  # before TensorFlow loads

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from assets.model_creator import model_creator  # noqa: E402
from substrate_client import federation, sealing, storage, validation  # noqa: E402
from substrate_client.federation import checkpoint  # noqa: E402
from substrate_client.errors import FederationError, ValidationError  # noqa: E402
from substrate_client.storage.base import StoredObject  # noqa: E402
from tests.fixtures import as_json, ok, one_error_line  # noqa: E402
from tests.test_cli import CREATOR_DIR, create  # noqa: E402

# No signer, chain or storage settings leak in from the developer's shell or config.
pytestmark = pytest.mark.usefixtures("clean_settings")

HIDDEN = 16
KERNEL0 = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"


# --------------------------------------------------------------------------- hostile models


def creator_model() -> "tf.keras.Model":
    return model_creator.create_model(hidden_units=HIDDEN)


def save_creator_model(path: Path) -> Path:
    creator_model().save(str(path))
    return path


def _save_result(model: "tf.keras.Model", path: Path, marker: Path, samples: int = 1000) -> Path:
    model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.save(str(path))
    (path / federation.RESULT_METADATA_FILE).write_text(json.dumps({"samples": samples, "contributor_id": "mallory"}))
    if marker.exists():  # saving traced the model: the payload ran on the attacker's side
        marker.unlink()
    return path


def lambda_layer_result(path: Path, marker: Path) -> Path:
    """The creator's architecture plus a Lambda layer (no weights) running a shell command."""
    payload = eval(f"lambda x: x if __import__('os').system('touch {marker}') else x")  # noqa: S307
    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Lambda(payload),
        tf.keras.layers.Dense(HIDDEN, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10),
    ], name="mnist_mlp")
    return _save_result(model, path, marker)


class _FileWriter(tf.keras.layers.Layer):
    """A layer whose saved graph writes a file: it runs with no Python of ours at all."""

    def __init__(self, marker: str, **kwargs):
        super().__init__(**kwargs)
        self.marker = marker

    def call(self, inputs):
        tf.io.write_file(self.marker, "written by a contributor's graph")
        return inputs


def graph_op_result(path: Path, marker: Path) -> Path:
    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        _FileWriter(str(marker)),
        tf.keras.layers.Dense(HIDDEN, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10),
    ], name="mnist_mlp")
    return _save_result(model, path, marker)


def run_the_old_way(result: Path) -> None:
    """What validation and federation did before: load the contributor's model and use it."""
    model = tf.keras.models.load_model(str(result))
    model.predict(np.zeros((2, 28, 28), np.float32), verbose=0)


@pytest.fixture
def creator_dir(tmp_path) -> Path:
    return save_creator_model(tmp_path / "creator_model")


@pytest.mark.parametrize("make", [lambda_layer_result, graph_op_result], ids=["lambda_layer", "graph_op"])
def test_a_result_that_runs_code_when_loaded_is_restored_evaluated_and_federated_without_running(
        tmp_path, creator_dir, make):
    marker = tmp_path / "marker"
    result = make(tmp_path / "result", marker)
    run_the_old_way(result)
    assert marker.exists(), "the attack should work against a loaded model"
    marker.unlink()

    model = federation.load_creator_model(creator_dir)
    validation.restore_result(model, result)
    x, y, _ = model_creator.held_out_data(size=50)
    assert validation.evaluate(model, x, y)["samples"] == 50
    weights = federation.federate([result, result], "weighted", reference=creator_dir)
    out = federation.save_federated_model(creator_dir, weights, tmp_path / "federated")
    run_the_old_way(out)  # the federated model is the creator's: loading it is safe

    assert not marker.exists()
    assert [type(layer).__name__ for layer in tf.keras.models.load_model(str(out)).layers] == \
        ["Flatten", "Dense", "Dropout", "Dense"]


def test_a_result_is_never_loaded_as_the_federation_template(tmp_path, creator_dir):
    marker = tmp_path / "marker"
    result = lambda_layer_result(tmp_path / "result", marker)
    weights = federation.federate([result], reference=creator_dir)
    with pytest.raises(FederationError, match="contributor's result.*would run its code"):
        federation.save_federated_model(result, weights, tmp_path / "federated")
    assert not marker.exists() and not (tmp_path / "federated").exists()


# --------------------------------------------------------------------------- variables that do not fit


def test_results_with_extra_missing_or_reshaped_weights_are_refused_with_the_reason(tmp_path, creator_dir):
    model = federation.load_creator_model(creator_dir)
    wider = model_creator.create_model(hidden_units=HIDDEN + 1)
    wider.save(str(tmp_path / "wider"))
    deeper = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                                  tf.keras.layers.Dense(HIDDEN), tf.keras.layers.Dense(HIDDEN),
                                  tf.keras.layers.Dense(10)])
    deeper.save(str(tmp_path / "deeper"))
    shallow = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)), tf.keras.layers.Dense(10)])
    shallow.save(str(tmp_path / "shallow"))
    before = [w.copy() for w in model.get_weights()]

    with pytest.raises(ValidationError, match=r"kernel has shape \[784, 17\], expected \[784, 16\]"):
        validation.restore_result(model, tmp_path / "wider")
    with pytest.raises(ValidationError, match="unexpected weights layer_with_weights-2"):
        validation.restore_result(model, tmp_path / "deeper")
    with pytest.raises(ValidationError, match="missing weights layer_with_weights-1"):
        validation.restore_result(model, tmp_path / "shallow")
    for a, b in zip(before, model.get_weights()):  # nothing was assigned
        np.testing.assert_array_equal(a, b)


def test_non_finite_values_in_a_result_are_refused(tmp_path, creator_dir):
    poisoned = creator_model()
    kernel = poisoned.layers[1].kernel
    kernel.assign(tf.tensor_scatter_nd_update(kernel, [[3, 4]], [np.nan]))
    poisoned.save(str(tmp_path / "nan"))
    model = federation.load_creator_model(creator_dir)
    with pytest.raises(ValidationError, match="not finite.*layer_with_weights-0/kernel"):
        validation.restore_result(model, tmp_path / "nan")
    with pytest.raises(FederationError, match="not finite"):
        federation.federate([creator_dir, tmp_path / "nan"], reference=creator_dir)


# --------------------------------------------------------------------------- a hand-made checkpoint index


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _trailer(block: bytes) -> bytes:
    return b"\0" + struct.pack("<I", _masked_crc(block + b"\0"))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _table_block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<I", 0) + struct.pack("<I", 1)  # one restart point, at 0


def write_index(prefix: Path, num_shards: int, entries: dict[str, dict], data: bytes = b"") -> None:
    """A tensor-bundle index as TensorFlow lays it out (a LevelDB table), with whatever
    header and entries an attacker chooses."""
    from tensorflow.core.framework import tensor_shape_pb2, types_pb2
    from tensorflow.core.protobuf import tensor_bundle_pb2

    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=num_shards)
    rows = [(b"", header.SerializeToString())]
    for name, spec in sorted(entries.items()):
        shape = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in spec["shape"]])
        entry = tensor_bundle_pb2.BundleEntryProto(dtype=types_pb2.DT_FLOAT, shape=shape, shard_id=0,
                                                   offset=spec.get("offset", 0), size=spec["size"],
                                                   crc32c=_masked_crc(data))
        rows.append((name.encode(), entry.SerializeToString()))
    block = _table_block(rows)
    meta = _table_block([])
    index = _table_block([(rows[-1][0] + b"\xff", _varint(0) + _varint(len(block)))])
    meta_at = len(block) + 5
    index_at = meta_at + len(meta) + 5
    footer = _varint(meta_at) + _varint(len(meta)) + _varint(index_at) + _varint(len(index))
    footer = footer.ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.index").write_bytes(block + _trailer(block) + meta + _trailer(meta) + index
                                        + _trailer(index) + footer)


def test_the_hand_made_index_is_read_like_tensorflows(tmp_path):
    prefix = tmp_path / "variables" / "variables"
    values = np.arange(6, dtype="<f4")
    write_index(prefix, 1, {"w": {"shape": [2, 3], "size": 24}}, values.tobytes())
    values.tofile(f"{prefix}.data-00000-of-00001")
    expected = tf.train.load_checkpoint(str(prefix)).get_tensor("w")
    np.testing.assert_array_equal(expected, values.reshape(2, 3))
    np.testing.assert_array_equal(checkpoint.CheckpointReader(prefix, strict=True).get_tensor("w"), expected)


@pytest.mark.parametrize("num_shards, entry, problem", [
    (10 ** 9, {"shape": [2, 3], "size": 24}, "10000000[0-9]* data shards"),
    (1, {"shape": [2, 3], "size": 1 << 40}, "invalid byte range"),
    (1, {"shape": [2, 3], "size": 24, "offset": 1 << 30}, "shorter than its index says"),
    (1, {"shape": [1 << 20, 1 << 20], "size": 24}, r"states 24 bytes for shape \[1048576, 1048576\]"),
    (1, {"shape": [-1, 3], "size": 24}, "invalid shape"),
])
def test_a_checkpoint_index_with_absurd_shard_counts_or_sizes_is_refused(tmp_path, num_shards, entry, problem):
    prefix = tmp_path / "variables" / "variables"
    write_index(prefix, num_shards, {"w": entry})
    np.arange(6, dtype="<f4").tofile(f"{prefix}.data-00000-of-00001")
    with pytest.raises(checkpoint.CorruptCheckpoint, match=problem):
        checkpoint.CheckpointReader(prefix, strict=True).get_tensor("w")


def test_an_oversized_or_garbage_index_is_refused(tmp_path, monkeypatch):
    prefix = tmp_path / "variables" / "variables"
    write_index(prefix, 1, {"w": {"shape": [2, 3], "size": 24}})
    monkeypatch.setattr(checkpoint, "MAX_INDEX_BYTES", 64)
    with pytest.raises(checkpoint.CorruptCheckpoint, match="at most 64 are read"):
        checkpoint.CheckpointReader(prefix, strict=True)
    monkeypatch.undo()
    Path(f"{prefix}.index").write_bytes(os.urandom(200) + struct.pack("<Q", 0xDB4775248B80FB57))
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.CheckpointReader(prefix, strict=True)


# --------------------------------------------------------------------------- numbers contributors report


def _constant_result(path: Path, fill: float, samples) -> Path:
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,)), tf.keras.layers.Dense(1)])
    for var in model.weights:
        var.assign(np.full(var.shape, fill, np.float32))
    model.save(str(path))
    (path / federation.RESULT_METADATA_FILE).write_text(json.dumps({"samples": samples}))
    return path


def test_reported_sample_counts_are_capped_and_cannot_dominate_or_zero_the_model(tmp_path):
    honest = [_constant_result(tmp_path / f"honest{i}", 1.0, 1000) for i in range(3)]
    liar = _constant_result(tmp_path / "liar", 100.0, 1e15)

    weights = federation.federate(honest + [liar], "weighted", max_sample_count=1000)
    # the liar counts as 1000 samples, like each honest contributor: (3 * 1 + 100) / 4
    np.testing.assert_allclose(weights[KERNEL0], np.full((3, 2), 103 / 4), rtol=1e-6)

    huge = [_constant_result(tmp_path / f"huge{i}", 2.0, 1e308) for i in range(2)]
    zeroed = federation.federate(huge, "weighted")
    np.testing.assert_allclose(zeroed[KERNEL0], np.full((3, 2), 2.0), rtol=1e-6)  # not zeros, not NaN

    for bad in (float("nan"), -5, "many", 2.5, True):
        _constant_result(tmp_path / "bad", 1.0, bad)
        with pytest.raises(FederationError, match="sample count"):
            federation.federate(honest + [tmp_path / "bad"], "weighted")
        shutil.rmtree(tmp_path / "bad")


def test_a_federated_model_that_is_not_finite_is_refused_and_nothing_is_saved(tmp_path):
    big = [_constant_result(tmp_path / f"big{i}", 3e38, 10) for i in range(2)]
    with pytest.raises(FederationError, match="federated value of .* is not finite"):
        federation.federate(big, "average")
    with pytest.raises(FederationError, match="not finite"):
        template = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,)), tf.keras.layers.Dense(1)])
        federation.save_federated_model(template, {KERNEL0: np.full((3, 2), np.nan, np.float32)},
                                        tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- through the commands, on the chain


@pytest.fixture
def hostile_task(dml, account, tmp_path):
    """A sealed CustomAccept task whose bundle holds the creator's model, and a way to
    send results as fresh contributors."""
    creator = account()
    key = tmp_path / "result_key"
    ok(dml("keys", "generate", "--path", key))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "start_task.sh").write_text("#!/usr/bin/env bash\necho training\n")
    (bundle / "start_task.sh").chmod(0o755)
    save_creator_model(bundle / "model")
    task_id = create(dml, creator, bundle, "--result-key", key.with_suffix(".pub"),
                     "--validation-strategy", "custom-accept", slots=6, pays="1DML")["task_id"]

    def send(name: str, *args) -> int:
        who = account()
        sub = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / f"task_{name}",
                          signer=who))["submission_id"]
        ok(dml("send_task_result", "--submission-id", sub, *args, signer=who))
        return sub

    return creator, key, task_id, send


def statuses(dml, task_id) -> dict[int, dict]:
    return {s["submission_id"]: s for s in as_json(dml("list_task_results", task_id, "--json"))}


def test_validating_and_federating_hostile_results_through_the_commands_runs_nothing_they_carry(
        dml, account, hostile_task, tmp_path):
    creator, key, task_id, send = hostile_task
    lambda_marker, op_marker = tmp_path / "lambda_ran", tmp_path / "op_ran"
    subs = {
        "lambda": send("lambda", "--result-path", lambda_layer_result(tmp_path / "r_lambda", lambda_marker)),
        "op": send("op", "--result-path", graph_op_result(tmp_path / "r_op", op_marker)),
        "third": send("third", "--result-path", lambda_layer_result(tmp_path / "r_third", lambda_marker)),
    }
    # The bundle's model is the creator's own only for the creator: anyone else names theirs.
    stranger = dml("validate_task_results", task_id, "--accept", subs["lambda"], "--dry-run",
                   "--result-key-file", key, signer=account())
    assert stranger.exit_code == 2 and "--template" in one_error_line(stranger)
    # Rejecting by id without evaluating does not even open the result.
    dry = as_json(dml("--json", "validate_task_results", task_id, "--reject", subs["third"], "--no-evaluate",
                      "--dry-run", "--result-key-file", key, "--results-dir", tmp_path / "dry", signer=creator))
    assert [(r["submission_id"], r["verdict"]) for r in dry["results"]] == [(subs["third"], "reject")]
    assert not dry["submitted"] and not (tmp_path / "dry" / f"submission_{subs['third']}").exists()

    report = as_json(dml("--json", "validate_task_results", task_id, "--accept", subs["lambda"], "--accept",
                         subs["op"], "--reject", subs["third"], "--creator-dir", CREATOR_DIR,
                         "--result-key-file", key, signer=creator))
    rows = {r["submission_id"]: r for r in report["results"]}
    assert rows[subs["lambda"]]["verdict"] == "accept" and rows[subs["op"]]["verdict"] == "accept"
    # Both were evaluated, in the creator's model, on all of her 1000 held-out samples.
    for name in ("lambda", "op"):
        metrics = rows[subs[name]]["metrics"]
        assert metrics["samples"] == 1000 and set(metrics) >= {"accuracy", "loss"}
        assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["loss"] > 0.0
    out = tmp_path / "federated"
    federated = as_json(dml("--json", "federate", "--task-id", task_id, "--out", out, "--policy", "weighted",
                            "--result-key-file", key, signer=creator))
    assert len(federated["sources"]) == 2

    assert not lambda_marker.exists() and not op_marker.exists()
    # The federated model is the creator's own architecture: loading and using it runs nothing of theirs.
    run_the_old_way(out)
    assert not lambda_marker.exists() and not op_marker.exists()
    # ... whereas the results themselves, loaded the old way, still carry their payloads.
    run_the_old_way(tmp_path / "r_op")
    assert op_marker.exists()


def _crafted_upload(member_name: str):
    """What a hostile contributor's client stores instead of a packed folder."""
    def upload(backend, folder, seal_to=None, progress=None, **sealing_options):
        work = Path(folder).parent / "crafted"
        work.mkdir(exist_ok=True)
        archive = work / "result.tar"
        with tarfile.open(archive, "w") as tar:
            data = b"x" * 10
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        sealed = sealing.seal_file(archive, work / "result.tar.sealed", seal_to,
                                   binding=sealing_options.get("binding"), signer=sealing_options.get("signer"))
        stored: StoredObject = backend.put_file(sealed, progress)
        return stored

    return upload


def test_one_hostile_result_is_rejected_with_its_reason_and_the_others_are_decided(
        dml, hostile_task, substrate, tmp_path, monkeypatch):
    creator, key, task_id, send = hostile_task
    good_dir = tmp_path / "good"
    save_creator_model(good_dir)
    (good_dir / "model_notes").mkdir()
    no_model = tmp_path / "no_model"
    no_model.mkdir()
    (no_model / "notes.txt").write_text("no model here")
    subs = {
        "good": send("good", "--result-path", good_dir),
        "text": send("text", "--result", "trust me, it is trained"),
        "no_model": send("no_model", "--result-path", no_model),
    }
    with monkeypatch.context() as patch:
        patch.setattr(storage, "upload_folder", _crafted_upload("a" * 300))
        subs["long_name"] = send("long_name", "--result-path", no_model)
    hook = tmp_path / "hook.py"
    hook.write_text("from substrate_client.validation import ACCEPT, Decision\n"
                    "def accept_all(model, submission):\n"
                    "    return Decision(submission.submission_id, ACCEPT, 'fine')\n")

    report = as_json(dml("--json", "validate_task_results", task_id, "--hook", f"{hook}:accept_all",
                         "--no-evaluate", "--result-key-file", key, signer=creator))
    rows = {r["submission_id"]: r for r in report["results"]}
    assert report["submitted"]
    assert rows[subs["good"]]["verdict"] == "accept"
    assert rows[subs["text"]]["verdict"] == "reject" and "text only" in rows[subs["text"]]["reason"]
    assert rows[subs["no_model"]]["verdict"] == "reject" and "holds no model" in rows[subs["no_model"]]["reason"]
    long_name = rows[subs["long_name"]]
    assert long_name["verdict"] == "reject" and "receiving failed" in long_name["reason"]
    assert len(long_name["reason"].encode()) <= substrate.get_constant("DecentralML", "MaxReasonLen").value

    chain = statuses(dml, task_id)
    assert chain[subs["good"]]["status"] == "Accepted"
    for name in ("text", "no_model", "long_name"):
        assert chain[subs[name]]["status"] == "Rejected" and chain[subs[name]]["rejection_reason"]
    closed = as_json(dml("--json", "close_task", task_id, signer=creator))
    assert closed["paid_on_close"] == 0


def test_close_task_refuses_while_results_are_pending_unless_told_to_pay_them(dml, hostile_task):
    creator, key, task_id, send = hostile_task
    first, second = send("a", "--result", "done"), send("b", "--result", "done too")

    refused = dml("close_task", task_id, signer=creator)
    assert refused.exit_code == 2
    line = one_error_line(refused)
    assert "2 pending result(s)" in line and f"{first}, {second}" in line and "2 DML" in line
    assert "--pay-pending" in line
    assert as_json(dml("show_task", task_id, "--json"))["status"] == "Open"
    assert {s["status"] for s in statuses(dml, task_id).values()} == {"Pending"}

    closed = as_json(dml("--json", "close_task", task_id, "--pay-pending", signer=creator))
    assert closed["paid_on_close"] == 2 * 10 ** 12


def test_a_result_revealed_between_close_tasks_check_and_its_close_is_refused_not_paid(
        dml, account, hostile_task, devnet_url, tmp_path, monkeypatch):
    """The attack: close_task checks that nothing is pending, then sends the close; Eve,
    her commitment already in, reveals in between (here: just before the close goes out).
    A close that pays every pending result would pay hers unjudged; the chain's judged
    close refuses instead: exit 2 naming what happened, nothing paid, the task still open."""
    from substrate_client.chain import Chain, connect
    from substrate_client.marketplace import Marketplace

    creator, _key, task_id, _send = hostile_task
    eve = account()
    sub = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / "eve", signer=eve))["submission_id"]
    eve_market = Marketplace(Chain(connect(devnet_url), eve), {})
    close = Marketplace.close_task

    def close_after_eve_reveals(self, task, *args, **kwargs):
        eve_market.send_task_result(sub, result="trust me, it is trained")
        return close(self, task, *args, **kwargs)

    monkeypatch.setattr(Marketplace, "close_task", close_after_eve_reveals)
    refused = dml("close_task", task_id, signer=creator)
    assert refused.exit_code == 2, refused.stdout
    line = one_error_line(refused)
    assert "revealed while the task was being closed" in line and "nothing was paid" in line
    assert as_json(dml("show_task", task_id, "--json"))["status"] == "Open"
    assert statuses(dml, task_id)[sub]["status"] == "Pending"



def test_federating_result_folders_needs_the_creators_own_model_as_template(tmp_path):
    from tests.fixtures import invoke

    result = lambda_layer_result(tmp_path / "result", tmp_path / "marker")
    refused = invoke(["federate", result, "--out", tmp_path / "federated"])
    assert refused.exit_code == 2 and "--template" in one_error_line(refused)
    as_result = invoke(["federate", result, "--template", result, "--out", tmp_path / "federated"])
    assert as_result.exit_code == 1 and "contributor's result" in one_error_line(as_result)
    done = ok(invoke(["federate", result, "--template", save_creator_model(tmp_path / "mine"),
                      "--out", tmp_path / "federated"]))
    assert "federated 1 result(s)" in done.stdout
    assert not (tmp_path / "marker").exists()


# --------------------------------------------------------------------------- the example creator's script


def _creator_script(cwd: Path, *args) -> "subprocess.CompletedProcess":
    """``python assets/model_creator/model_creator.py ARGS`` run in ``cwd``, as the walk-through does."""
    import subprocess
    import sys

    env = dict(os.environ, DECENTRALML_HELD_OUT="50", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, str(CREATOR_DIR / "model_creator.py"), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_creator_scripts_evaluate_restores_a_result_into_her_model_and_runs_nothing_it_carries(tmp_path):
    save_creator_model(tmp_path / "model")  # her initial model, where the script looks for it
    lambda_marker, op_marker = tmp_path / "lambda_ran", tmp_path / "op_ran"
    results = [lambda_layer_result(tmp_path / "r_lambda", lambda_marker),
               graph_op_result(tmp_path / "r_op", op_marker)]
    for result in results:
        done = _creator_script(tmp_path, "evaluate", result)
        assert done.returncode == 0, done.stderr
        assert "accuracy=" in done.stdout and "samples=50" in done.stdout
    assert not lambda_marker.exists() and not op_marker.exists()


def test_the_creator_scripts_evaluate_names_a_result_that_does_not_fit_her_model(tmp_path):
    save_creator_model(tmp_path / "model")
    model_creator.create_model(hidden_units=HIDDEN + 1).save(str(tmp_path / "wider"))
    refused = _creator_script(tmp_path, "evaluate", tmp_path / "wider")
    assert refused.returncode == 2
    assert r"kernel has shape [784, 17], expected [784, 16]" in refused.stderr


def test_loading_contributors_models_in_the_creator_script_restores_their_weights_into_her_model(tmp_path):
    lambda_marker, op_marker = tmp_path / "lambda_ran", tmp_path / "op_ran"
    folder = tmp_path / "contributors_models"
    lambda_layer_result(folder / "mnist_mlp_a", lambda_marker)
    graph_op_result(folder / "mnist_mlp_b", op_marker)
    template = save_creator_model(tmp_path / "model")

    models = model_creator.load_contributors_models(folder, template=template)
    x, y, _ = model_creator.held_out_data(size=20)
    for model in models:
        model_creator.evaluate_model(model, x, y)
        assert [type(layer).__name__ for layer in model.layers] == ["Flatten", "Dense", "Dropout", "Dense"]
    # Each model holds its own result's weights (not one model restored twice).
    kernels = [checkpoint.CheckpointReader(folder / name / "variables" / "variables", strict=True)
               .get_tensor(KERNEL0) for name in ("mnist_mlp_a", "mnist_mlp_b")]
    assert not np.array_equal(kernels[0], kernels[1])
    for model, kernel in zip(models, kernels):
        np.testing.assert_array_equal(model.layers[1].kernel.numpy(), kernel)
    assert not lambda_marker.exists() and not op_marker.exists()
