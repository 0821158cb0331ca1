"""Differential privacy in the example bundle: when the creator's task_settings.json asks
for it, the contributor's update is clipped and noised before the model is saved, by the
same computation as the client's :mod:`substrate_client.federation.privacy`."""

import json
import math
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
from assets.model_contributor.model_contributor import Privacy, privacy_settings, privatize_weights  # noqa: E402
from assets.model_creator import model_creator  # noqa: E402
from substrate_client.federation import privacy as client_privacy  # noqa: E402


def _weights(rng, shapes=((784, 16), (16,), (16, 10), (10,))):
    return [rng.normal(0.0, 0.1, size=shape).astype(np.float32) for shape in shapes]


def _norm(arrays) -> float:
    return math.sqrt(sum(float(np.sum(np.square(np.asarray(a, np.float64)))) for a in arrays))


def test_the_bundle_privatizes_exactly_as_the_client_does():
    rng = np.random.default_rng(1)
    start = _weights(rng)
    trained = [w + rng.normal(0.0, 0.05, size=w.shape).astype(np.float32) for w in start]
    ours, norm = privatize_weights(trained, start, Privacy(0.7, 1.3), np.random.default_rng(99))
    keys = [f"w{i}" for i in range(len(start))]
    theirs = client_privacy.privatize_weights(dict(zip(keys, trained)), dict(zip(keys, start)),
                                              0.7, 1.3, np.random.default_rng(99))
    assert norm == pytest.approx(client_privacy.update_norm(
        {k: t.astype(np.float64) - s.astype(np.float64) for k, t, s in zip(keys, trained, start)}))
    for key, mine in zip(keys, ours):
        assert mine.dtype == theirs[key].dtype == np.float32
        assert np.array_equal(mine, theirs[key])


def test_clipping_bounds_the_update_norm_and_leaves_a_small_update_as_it_is():
    rng = np.random.default_rng(2)
    start = _weights(rng)
    trained = [w + rng.normal(0.0, 0.5, size=w.shape).astype(np.float32) for w in start]
    clipped, norm = privatize_weights(trained, start, Privacy(1.5, 0.0))
    assert norm > 50
    update = [c.astype(np.float64) - s.astype(np.float64) for c, s in zip(clipped, start)]
    assert _norm(update) == pytest.approx(1.5, rel=1e-3)
    # its direction is kept: the clipped update is the update scaled down
    raw = [t.astype(np.float64) - s.astype(np.float64) for t, s in zip(trained, start)]
    assert np.allclose(update[0], raw[0] * (1.5 / norm), atol=1e-6)

    small = [s + np.float32(1e-4) for s in start]
    same, small_norm = privatize_weights(small, start, Privacy(1.5, 0.0))
    assert small_norm < 1.5
    for a, b in zip(same, small):
        assert np.allclose(a, b, atol=1e-7)


def test_the_noise_is_gaussian_with_the_asked_standard_deviation():
    start = [np.zeros((500, 400), np.float32), np.zeros((1000,), np.float32)]
    noised, norm = privatize_weights(start, start, Privacy(0.25, 2.0), np.random.default_rng(3))
    assert norm == 0.0
    values = np.concatenate([n.ravel().astype(np.float64) for n in noised])
    assert abs(values.mean()) < 0.005
    assert values.std() == pytest.approx(0.5, rel=0.01)  # noise_multiplier * clip_norm
    # about 68% within one standard deviation, 95% within two
    assert np.mean(np.abs(values) < 0.5) == pytest.approx(0.6827, abs=0.01)
    assert np.mean(np.abs(values) < 1.0) == pytest.approx(0.9545, abs=0.01)
    # the default noise is drawn from a secret seed: two draws differ
    again, _ = privatize_weights(start, start, Privacy(0.25, 2.0))
    other, _ = privatize_weights(start, start, Privacy(0.25, 2.0))
    assert not np.array_equal(again[0], other[0])


def test_weights_that_are_not_floating_point_keep_their_starting_value():
    start = [np.zeros((3,), np.float32), np.array([5, 6], np.int64)]
    trained = [np.ones((3,), np.float32), np.array([7, 8], np.int64)]
    out, _ = privatize_weights(trained, start, Privacy(10.0, 0.0))
    assert np.array_equal(out[1], [5, 6]) and np.allclose(out[0], 1.0)


@pytest.mark.parametrize("raw, message", [
    ("on", "must be an object"),
    ({"noise_multiplier": 1.0}, "clip_norm must be a finite number greater than 0, got None"),
    ({"clip_norm": 0, "noise_multiplier": 1.0}, "clip_norm must be a finite number greater than 0"),
    ({"clip_norm": 1.0, "noise_multiplier": -1}, "noise_multiplier must be a finite number at least 0"),
    ({"clip_norm": float("nan"), "noise_multiplier": 1}, "clip_norm must be a finite number"),
    ({"clip_norm": True, "noise_multiplier": 1}, "clip_norm must be a finite number"),
])
def test_a_bad_privacy_setting_is_refused_naming_the_problem(raw, message):
    with pytest.raises(ValueError, match=message):
        privacy_settings(raw)
    assert privacy_settings(None) is None and privacy_settings({}) is None
    assert privacy_settings({"clip_norm": 2, "noise_multiplier": 0, "delta": 1e-5}) == Privacy(2.0, 0.0)


# --------------------------------------------------------------------------- start_task.sh


@pytest.fixture(scope="module")
def pristine_bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    model_creator.prepare_bundle(model_creator.create_model(hidden_units=16), folder)
    return folder


def _run_with_privacy(pristine, folder: Path, privacy, contributor: str, *args):
    bundle = Path(shutil.copytree(pristine, folder / "bundle", symlinks=True))
    task = json.loads((bundle / "task_settings.json").read_text())
    task["privacy"] = privacy
    (bundle / "task_settings.json").write_text(json.dumps(task))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECENTRALML_") and k != "PYTHONPATH"}
    env.update(DECENTRALML_PYTHON=sys.executable, DECENTRALML_NUM_SHARDS="3", DECENTRALML_MAX_SAMPLES="600",
               DECENTRALML_OUTPUT_DIR=str(bundle / "output"), DECENTRALML_CONTRIBUTOR_ID=contributor)
    proc = subprocess.run(["./start_task.sh", *args], cwd=bundle, env=env, capture_output=True, text=True,
                          timeout=300)
    return proc, bundle, bundle / "output" / f"mnist_mlp_{contributor}"


def _update(bundle: Path, result: Path):
    trained = tf.keras.models.load_model(str(result)).get_weights()
    initial = tf.keras.models.load_model(str(bundle / "model")).get_weights()
    return [t.astype(np.float64) - i.astype(np.float64) for t, i in zip(trained, initial)]


def test_start_task_with_privacy_clips_the_update_and_sends_no_training_metrics(pristine_bundle, tmp_path):
    proc, bundle, result = _run_with_privacy(pristine_bundle, tmp_path, {"clip_norm": 0.5, "noise_multiplier": 0},
                                             "clipped")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "differential privacy: update norm" in proc.stdout and "clipped to 0.5000" in proc.stdout
    assert _norm(_update(bundle, result)) == pytest.approx(0.5, rel=1e-3)
    info = json.loads((result / model_contributor.RESULT_METADATA_FILE).read_text())
    assert info["privacy"] == {"clip_norm": 0.5, "noise_multiplier": 0.0}
    assert "train_metrics" not in info and info["samples"] == 600
    # nor the optimizer's state, which follows the data without noise
    keys = tf.train.load_checkpoint(str(result / "variables" / "variables")).get_variable_to_shape_map()
    assert not [k for k in keys if "optimizer" in k.lower() or "OPTIMIZER_SLOT" in k]


def test_start_task_with_privacy_adds_noise_of_the_asked_size(pristine_bundle, tmp_path):
    proc, bundle, result = _run_with_privacy(pristine_bundle, tmp_path, {"clip_norm": 0.1, "noise_multiplier": 1.0},
                                             "noised")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    values = np.concatenate([u.ravel() for u in _update(bundle, result)])
    # 12,730 coordinates: the clipped update adds under 0.001 to their spread
    assert values.std() == pytest.approx(0.1, rel=0.03)
    assert abs(values.mean()) < 0.005


def test_start_task_refuses_a_bad_privacy_setting_before_training(pristine_bundle, tmp_path):
    proc, _, result = _run_with_privacy(pristine_bundle, tmp_path, {"clip_norm": -1, "noise_multiplier": 1},
                                        "refused")
    assert proc.returncode == 2
    assert "privacy clip_norm must be a finite number greater than 0, got -1" in proc.stderr
    assert "training on" not in proc.stdout and not result.exists()
