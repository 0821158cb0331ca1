"""The example task bundle: start_task.sh end to end in a copy of the bundle (run by hand,
as its creator would), sharding, dataset choice. tests/test_sandbox.py runs it in the sandbox."""

import json
import os
import shutil

from substrate_client import tensorflow_setup

tensorflow_setup.configure()  # before TensorFlow loads

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from assets.model_contributor import model_contributor  # noqa: E402
from assets.model_creator import model_creator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pristine_bundle(tmp_path_factory):
    """A contributor bundle as the creator ships it, with a tiny model; never run itself."""
    folder = tmp_path_factory.mktemp("bundle")
    model_creator.prepare_bundle(model_creator.create_model(hidden_units=16), folder)
    # the bundle runs on its own: nothing of the repository on its path
    assert not (folder / "substrate_client").exists()
    return folder


@pytest.fixture
def bundle(pristine_bundle, tmp_path):
    """A copy of the bundle of this test's own, to run."""
    return Path(shutil.copytree(pristine_bundle, tmp_path / "bundle", symlinks=True))


@pytest.fixture(scope="module")
def fake_send_task_result(tmp_path_factory):
    """A send_task_result command on the PATH that records any call: the bundle must make none."""
    bin_dir = tmp_path_factory.mktemp("bin")
    record = bin_dir / "calls.txt"
    script = bin_dir / "send_task_result"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{record}"\n')
    script.chmod(0o755)
    return bin_dir, record


def run_task(bundle, *args, **env):
    """Run ./start_task.sh in the bundle with a tiny data budget; returns the completed process."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("DECENTRALML_") and k != "PYTHONPATH"
    }
    full_env.update(
        DECENTRALML_PYTHON=sys.executable,
        DECENTRALML_NUM_SHARDS="3",
        DECENTRALML_MAX_SAMPLES="600",
        DECENTRALML_OUTPUT_DIR=str(bundle / "output"),
    )
    full_env.update({k: str(v) for k, v in env.items()})
    return subprocess.run(
        ["./start_task.sh", *args], cwd=bundle, env=full_env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def trained_run(pristine_bundle, fake_send_task_result, tmp_path_factory):
    """One honest run, in a copy of the bundle its tests only read."""
    bundle = Path(shutil.copytree(pristine_bundle, tmp_path_factory.mktemp("trained") / "bundle",
                                  symlinks=True))
    bin_dir, record = fake_send_task_result
    proc = run_task(
        bundle,
        DECENTRALML_CONTRIBUTOR_ID="alice",
        DECENTRALML_SHARD_INDEX="1",
        DECENTRALML_SUBMISSION_ID="42",
        PATH=f"{bin_dir}:{os.environ['PATH']}",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, bundle / "output" / "mnist_mlp_alice", record, bundle


def test_start_task_saves_a_savedmodel_folder_with_its_result_file(trained_run):
    proc, result, _, _ = trained_run
    assert sorted(p.name for p in result.iterdir()) == [
        "assets", "decentralml_result.json", "fingerprint.pb", "keras_metadata.pb", "saved_model.pb", "variables",
    ]
    assert (result / "variables" / "variables.index").is_file()
    assert list((result / "variables").glob("variables.data-*"))

    info = json.loads((result / "decentralml_result.json").read_text())
    assert info["contributor_id"] == "alice" and info["model_name"] == "mnist_mlp"
    assert info["samples"] == 600 and info["epochs"] == 1
    assert info["shard_index"] == 1 and info["num_shards"] == 3 and info["partition"] == "iid"
    assert set(info["train_metrics"]) >= {"loss", "accuracy"}
    assert "sabotage" not in info


def test_start_task_says_which_dataset_it_trained_on(trained_run):
    proc, result, _, _ = trained_run
    expected = model_contributor.resolve_dataset("auto")
    assert f"[decentralml] dataset: {expected} (600 training samples" in proc.stdout
    assert f"trained on {expected}" in proc.stdout
    assert json.loads((result / "decentralml_result.json").read_text())["dataset"] == expected


def test_the_result_loads_and_differs_from_the_initial_model(trained_run):
    _, result, _, bundle = trained_run
    trained = tf.keras.models.load_model(str(result))
    initial = tf.keras.models.load_model(str(bundle / "model"))
    assert trained.predict(np.zeros((2, 28, 28), np.float32), verbose=0).shape == (2, 10)
    assert any(not np.array_equal(a, b) for a, b in zip(trained.get_weights(), initial.get_weights()))


def test_start_task_never_sends_the_result_itself_even_with_a_submission_id(trained_run):
    proc, result, record, _ = trained_run
    assert not record.exists()  # the client that ran it sends the result
    assert "task ?, submission 42" in proc.stdout
    assert f"[decentralml] result: {result.resolve()}" in proc.stdout


def test_start_task_without_a_python_with_tensorflow_fails_clearly_and_installs_nothing(bundle):
    proc = run_task(bundle, DECENTRALML_PYTHON="/usr/bin/python3", DECENTRALML_CONTRIBUTOR_ID="nopy")
    assert proc.returncode == 1
    assert "DECENTRALML_PYTHON=/usr/bin/python3" in proc.stderr
    assert "cannot import tensorflow and tf_keras" in proc.stderr
    assert not (bundle / ".venv").exists()
    assert not (bundle / "output" / "mnist_mlp_nopy").exists()


def test_the_bad_model_option_saves_random_weights_instead_of_training(bundle, fake_send_task_result):
    bin_dir, record = fake_send_task_result
    proc = run_task(bundle, "--bad-model", DECENTRALML_CONTRIBUTOR_ID="mallory",
                    DECENTRALML_SUBMISSION_ID="43", PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SABOTAGE: saving random weights instead of training" in proc.stdout
    assert not record.exists()  # a sabotaged result is not sent by the bundle either

    result = bundle / "output" / "mnist_mlp_mallory"
    info = json.loads((result / "decentralml_result.json").read_text())
    assert info["sabotage"] == "random_weights" and info["epochs"] == 0
    assert info["train_metrics"]["accuracy"] < 0.3
    sabotaged = tf.keras.models.load_model(str(result))
    initial = tf.keras.models.load_model(str(bundle / "model"))
    assert not np.allclose(sabotaged.get_weights()[0], initial.get_weights()[0])


def test_sabotage_can_be_asked_from_the_environment(bundle):
    proc = run_task(bundle, DECENTRALML_CONTRIBUTOR_ID="oscar", DECENTRALML_SABOTAGE="random_weights", DECENTRALML_MAX_SAMPLES="100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = json.loads((bundle / "output" / "mnist_mlp_oscar" / "decentralml_result.json").read_text())
    assert info["sabotage"] == "random_weights"


def test_start_task_refuses_an_unknown_option_and_a_bad_shard(bundle):
    proc = run_task(bundle, "--fast")
    assert proc.returncode != 0 and "unknown option: --fast" in proc.stderr
    proc = run_task(bundle, DECENTRALML_CONTRIBUTOR_ID="zed", DECENTRALML_SHARD_INDEX="3")
    assert proc.returncode == 2 and "SHARD_INDEX must be in [0, 2], got 3" in proc.stderr
    assert not (bundle / "output" / "mnist_mlp_zed").exists()


def test_task_settings_from_the_creator_reach_the_contributor(bundle):
    task = json.loads((bundle / "task_settings.json").read_text())
    assert task == {
        "BATCH_SIZE": 32, "DATASET": "auto", "EPOCHS": 1, "MODEL_NAME": "mnist_mlp",
        "NUM_SHARDS": 3, "PARTITION": "iid", "SEED": 0,
    }
    assert os.access(bundle / "start_task.sh", os.X_OK)


@pytest.mark.parametrize("partition", ["iid", "by_label"])
def test_shards_are_disjoint_and_cover_the_data(partition):
    labels = np.repeat(np.arange(10), 100)
    shards = [model_contributor.shard_indices(labels, i, 5, partition) for i in range(5)]
    everything = np.concatenate(shards)
    assert len(everything) == len(labels) == len(np.unique(everything))
    labels_per_shard = [len(np.unique(labels[s])) for s in shards]
    if partition == "iid":
        assert min(labels_per_shard) == 10
    else:
        assert max(labels_per_shard) == 2  # non-IID: each shard sees 2 of the 10 labels


def test_auto_dataset_prefers_a_cached_mnist_and_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    # no MNIST in the cache: Debian's offline Fashion-MNIST is chosen, read in place
    assert model_contributor.resolve_dataset("auto") == "fashion_mnist"
    assert model_contributor.fashion_mnist_folder() == model_contributor.SYSTEM_FASHION_MNIST
    assert not (tmp_path / ".keras" / "datasets").exists()  # nothing written to the cache
    # MNIST in keras' cache: chosen
    (tmp_path / ".keras" / "datasets").mkdir(parents=True)
    (tmp_path / ".keras" / "datasets" / "mnist.npz").write_bytes(b"")
    assert model_contributor.resolve_dataset("auto") == "mnist"
    assert model_contributor.resolve_dataset("fashion-mnist") == "fashion_mnist"
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'"):
        model_contributor.resolve_dataset("cifar10")


def test_fashion_mnist_is_read_as_keras_reads_it():
    ours = model_contributor.read_fashion_mnist(model_contributor.SYSTEM_FASHION_MNIST)
    keras = tf.keras.datasets.fashion_mnist.load_data()
    for a, b in zip(ours[0] + ours[1], keras[0] + keras[1]):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_install_data_script_is_idempotent(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path))
    for _ in range(2):
        proc = subprocess.run([str(REPO / "scripts" / "install_data.sh")], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (tmp_path / ".keras" / "datasets" / "fashion-mnist").iterdir())
    assert files == sorted(model_contributor.FASHION_MNIST_FILES)


def test_the_loss_hook_rejects_random_weights_and_accepts_a_model_that_knows_a_few_labels(monkeypatch):
    from types import SimpleNamespace

    from assets.model_creator import hooks
    from assets.model_creator import settings as creator_settings

    monkeypatch.setattr(creator_settings, "ACCURACY_THRESHOLD", 0.15)
    monkeypatch.setattr(creator_settings, "MAX_LOSS", 20.0)
    (x, y), _, _ = model_contributor.load_dataset("fashion_mnist")
    monkeypatch.setattr(creator_settings, "DATASET", "fashion_mnist")
    shard = model_contributor.shard_indices(y, 0, 3, "by_label")[:2000]  # labels 0 to 3 only
    few_labels = model_creator.create_model(learning_rate=0.2, optimizer="sgd")
    few_labels.fit(x[shard], y[shard], epochs=1, batch_size=64, verbose=0)
    random = model_creator.create_model()
    model_contributor.randomize_weights(random, seed=1)
    submission = SimpleNamespace(submission_id=7, metadata={})

    kept = hooks.accuracy_and_loss(few_labels, submission)
    assert kept.verdict == "accept", kept.reason
    assert kept.metrics["accuracy"] < 0.5  # it knows a few labels only
    refused = hooks.accuracy_and_loss(random, submission)
    assert refused.verdict == "reject" and refused.metrics["loss"] > 20
    assert "held-out loss" in refused.reason and "> limit 20" in refused.reason
