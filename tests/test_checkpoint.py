"""The direct variable reader returns exactly what TensorFlow's reader returns."""

from __future__ import annotations


from substrate_client import tensorflow_setup

tensorflow_setup.configure()  # before TensorFlow loads

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from substrate_client.federation import checkpoint  # noqa: E402
from substrate_client.federation.checkpoint import CheckpointReader, open_checkpoint  # noqa: E402


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
    ours, theirs = CheckpointReader(prefix), tf.train.load_checkpoint(prefix)
    names = list(theirs.get_variable_to_shape_map())
    assert len(names) > 10  # weights, BatchNorm statistics, optimizer slots, the object graph
    for name in names:
        expected, got = theirs.get_tensor(name), ours.get_tensor(name)
        if isinstance(expected, np.ndarray) and expected.dtype != object:
            assert got.dtype == expected.dtype and got.shape == expected.shape, name
            assert np.array_equal(got, expected), name
        else:
            assert got == expected, name  # strings come through TensorFlow itself


def test_a_checkpoint_it_does_not_support_is_read_by_tensorflow(tmp_path, monkeypatch):
    prefix = saved_model(tmp_path)
    assert isinstance(open_checkpoint(prefix), CheckpointReader)

    def compressed(*args):
        raise checkpoint.UnsupportedCheckpoint("compressed index block")

    monkeypatch.setattr(checkpoint, "_block", compressed)
    reader = open_checkpoint(prefix)
    assert not isinstance(reader, CheckpointReader)
    name = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert reader.get_tensor(name).shape == (6, 5)
