"""The direct variable reader returns exactly what TensorFlow's reader returns."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from substrate_client import tensor_bundle  # noqa: E402
from substrate_client.tensor_bundle import BundleReader, open_bundle  # noqa: E402


def saved_model(tmp_path):
    model = tf.keras.Sequential([
        tf.keras.layers.Input((6,)),
        tf.keras.layers.Dense(5),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.Dense(3),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.rand(32, 6), np.random.rand(32, 3), epochs=1, verbose=0)
    model.save(tmp_path / "model")
    return str(tmp_path / "model" / "variables" / "variables")


def test_every_variable_reads_the_same_as_tensorflows_reader(tmp_path):
    prefix = saved_model(tmp_path)
    ours, theirs = BundleReader(prefix), tf.train.load_checkpoint(prefix)
    names = list(theirs.get_variable_to_shape_map())
    assert len(names) > 10  # weights, BatchNorm statistics, optimizer slots, the object graph
    for name in names:
        expected, got = theirs.get_tensor(name), ours.get_tensor(name)
        if isinstance(expected, np.ndarray) and expected.dtype != object:
            assert got.dtype == expected.dtype and got.shape == expected.shape, name
            assert np.array_equal(got, expected), name
        else:
            assert got == expected, name  # strings come through TensorFlow itself


def test_a_bundle_it_does_not_support_is_read_by_tensorflow(tmp_path, monkeypatch):
    prefix = saved_model(tmp_path)
    assert isinstance(open_bundle(prefix), BundleReader)

    def compressed(*args):
        raise tensor_bundle.UnsupportedBundle("compressed index block")

    monkeypatch.setattr(tensor_bundle, "_block", compressed)
    reader = open_bundle(prefix)
    assert not isinstance(reader, BundleReader)
    name = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert reader.get_tensor(name).shape == (6, 5)
