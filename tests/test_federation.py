"""Federation of contributors' SavedModels: policies, variables covered, compatibility, round trip."""

import json

from substrate_client import tensorflow_setup

tensorflow_setup.configure()  # before TensorFlow loads

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from substrate_client import federation  # noqa: E402
from substrate_client.errors import FederationError, UserInputError  # noqa: E402

KERNEL0 = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
BIAS0 = "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE"
KERNEL1 = "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"
BIAS1 = "layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE"


def tiny_model(hidden=2, optimizer="adam"):
    """3 inputs -> Dense(hidden) -> Dense(1): 4 weight variables."""
    model = tf.keras.Sequential(
        [tf.keras.layers.Dense(hidden, activation="relu", input_shape=(3,)), tf.keras.layers.Dense(1)]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def save_tiny(path, fill, hidden=2, contributor=None, samples=None, train=True):
    """Save a tiny model whose every weight equals ``fill`` (after a training step, so the
    checkpoint also holds optimizer state that must not be federated)."""
    model = tiny_model(hidden)
    if train:
        model.fit(np.ones((4, 3), np.float32), np.ones((4, 1), np.float32), epochs=1, verbose=0)
    for var in model.weights:
        var.assign(np.full(var.shape, fill, np.float32))
    model.save(str(path))
    if contributor is not None or samples is not None:
        info = {"contributor_id": contributor, "samples": samples}
        (path / federation.RESULT_METADATA_FILE).write_text(json.dumps(info))
    return path


def save_with_weights(path, weights):
    """Save a tiny model with the given list of arrays (kernel0, bias0, kernel1, bias1)."""
    model = tiny_model()
    model.set_weights(weights)
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def three_constant_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("constant")
    return [save_tiny(root / f"m_{v}", v, contributor=f"c{v}", samples=n) for v, n in [(1.0, 10), (2.0, 10), (100.0, 20)]]


def test_average_matches_a_hand_computed_mean_on_a_tiny_model(tmp_path):
    a = [np.array([[1, 2], [3, 4], [5, 6]], np.float32), np.array([1, -1], np.float32),
         np.array([[1], [1]], np.float32), np.array([0], np.float32)]
    b = [np.array([[3, 2], [1, 0], [-5, 6]], np.float32), np.array([3, 1], np.float32),
         np.array([[0], [4]], np.float32), np.array([2], np.float32)]
    dirs = [save_with_weights(tmp_path / "a", a), save_with_weights(tmp_path / "b", b)]

    weights = federation.federate(dirs, "average")

    assert list(weights) == [KERNEL0, BIAS0, KERNEL1, BIAS1]
    np.testing.assert_array_equal(weights[KERNEL0], [[2, 2], [2, 2], [0, 6]])
    np.testing.assert_array_equal(weights[BIAS0], [2, 0])
    np.testing.assert_array_equal(weights[KERNEL1], [[0.5], [2.5]])
    np.testing.assert_array_equal(weights[BIAS1], [1])
    assert all(w.dtype == np.float32 for w in weights.values())
    # the seed's way: load each model and tf.reduce_mean over zip(*trainable_variables)
    models = [tf.keras.models.load_model(str(d)) for d in dirs]
    seed = [tf.reduce_mean(v, axis=0).numpy() for v in zip(*[m.trainable_variables for m in models])]
    for ours, theirs in zip(weights.values(), seed):
        np.testing.assert_allclose(ours, theirs)


def test_optimizer_state_and_metrics_are_not_federated(three_constant_models):
    reader = tf.train.load_checkpoint(str(three_constant_models[0] / "variables" / "variables"))
    keys = reader.get_variable_to_shape_map()
    assert any(k.startswith("optimizer/") for k in keys), "the fixture should hold optimizer state"

    weights = federation.federate(three_constant_models, "average")

    assert set(weights) == {KERNEL0, BIAS0, KERNEL1, BIAS1}
    assert weights.policy == "average" and len(weights.sources) == 3
    np.testing.assert_allclose(weights[KERNEL0], np.full((3, 2), 103.0 / 3), rtol=1e-6)


def test_legacy_optimizer_slot_variables_are_not_federated(tmp_path):
    model = tiny_model(optimizer=tf.keras.optimizers.legacy.Adam())
    model.fit(np.ones((4, 3), np.float32), np.ones((4, 1), np.float32), epochs=1, verbose=0)
    model.save(str(tmp_path / "m"))
    keys = tf.train.load_checkpoint(str(tmp_path / "m" / "variables" / "variables")).get_variable_to_shape_map()
    assert any("/.OPTIMIZER_SLOT/" in k for k in keys)

    assert set(federation.federate([tmp_path / "m"])) == {KERNEL0, BIAS0, KERNEL1, BIAS1}


def test_weighted_averages_by_sample_counts(three_constant_models):
    given = federation.federate(three_constant_models, "weighted", sample_counts=[1, 1, 0])
    np.testing.assert_allclose(given[BIAS1], [1.5])

    # default counts: the samples each contributor recorded (10, 10, 20)
    recorded = federation.federate(three_constant_models, "weighted")
    np.testing.assert_allclose(recorded[KERNEL0], np.full((3, 2), (10 * 1 + 10 * 2 + 20 * 100) / 40), rtol=1e-6)


def test_weighted_without_sample_counts_names_the_result(tmp_path):
    dirs = [save_tiny(tmp_path / "a", 1.0, train=False), save_tiny(tmp_path / "b", 2.0, train=False)]
    with pytest.raises(FederationError, match="sample counts.*result folder .*a"):
        federation.federate(dirs, "weighted")
    with pytest.raises(UserInputError, match="2 models"):
        federation.federate(dirs, "weighted", sample_counts=[1])


def test_median_ignores_an_outlier(three_constant_models, tmp_path):
    weights = federation.federate(three_constant_models, "median")
    for value in weights.values():
        np.testing.assert_array_equal(value, np.full(value.shape, 2.0))

    even = three_constant_models + [save_tiny(tmp_path / "m_3", 3.0, train=False)]
    np.testing.assert_array_equal(federation.federate(even, "median")[BIAS1], [2.5])


def test_trimmed_mean_resists_a_poisoned_update(tmp_path):
    honest = [0.9, 1.0, 1.1, 1.0]
    dirs = [save_tiny(tmp_path / f"honest{i}", v, train=False) for i, v in enumerate(honest)]
    dirs.append(save_tiny(tmp_path / "poisoned", 1000.0, train=False))

    average = federation.federate(dirs, "average")
    trimmed = federation.federate(dirs, "trimmed_mean", trim_fraction=0.2)

    assert average[KERNEL0][0, 0] > 200  # one poisoned update drags the plain average away
    for value in trimmed.values():
        # the largest (1000) and smallest (0.9) are dropped: mean(1.0, 1.0, 1.1)
        np.testing.assert_allclose(value, np.full(value.shape, 3.1 / 3), rtol=1e-6)


def test_trim_fraction_must_leave_models():
    with pytest.raises(UserInputError, match="trim_fraction"):
        federation.make_policy("trimmed_mean", trim_fraction=0.5)


def test_batchnorm_moving_statistics_are_federated_too(tmp_path):
    def bn_model(shift):
        model = tf.keras.Sequential(
            [tf.keras.layers.Dense(4, input_shape=(3,)), tf.keras.layers.BatchNormalization(), tf.keras.layers.Dense(2)]
        )
        model.compile("adam", "mse")
        x = np.random.default_rng(0).normal(shift, 1.0, (64, 3)).astype(np.float32)
        model.fit(x, np.zeros((64, 2), np.float32), epochs=2, verbose=0)
        return model

    models = [bn_model(0.0), bn_model(5.0)]
    dirs = []
    for i, model in enumerate(models):
        model.save(str(tmp_path / f"bn{i}"))
        dirs.append(tmp_path / f"bn{i}")
    bn = [m.layers[1] for m in models]
    assert not np.allclose(bn[0].moving_mean.numpy(), bn[1].moving_mean.numpy())

    weights = federation.federate(dirs, "average")

    mean_key = "layer_with_weights-1/moving_mean/.ATTRIBUTES/VARIABLE_VALUE"
    var_key = "layer_with_weights-1/moving_variance/.ATTRIBUTES/VARIABLE_VALUE"
    expected_mean = (bn[0].moving_mean.numpy() + bn[1].moving_mean.numpy()) / 2
    expected_var = (bn[0].moving_variance.numpy() + bn[1].moving_variance.numpy()) / 2
    np.testing.assert_allclose(weights[mean_key], expected_mean, rtol=1e-6)
    np.testing.assert_allclose(weights[var_key], expected_var, rtol=1e-6)
    assert len(weights) == len(models[0].weights)  # every variable, trainable or not

    federation.save_federated_model(dirs[0], weights, tmp_path / "federated")
    loaded = tf.keras.models.load_model(str(tmp_path / "federated"))
    np.testing.assert_allclose(loaded.layers[1].moving_mean.numpy(), expected_mean, rtol=1e-6)
    np.testing.assert_allclose(loaded.layers[1].moving_variance.numpy(), expected_var, rtol=1e-6)


def test_integer_and_scalar_variables_keep_their_dtype(tmp_path):
    dirs = []
    for i, (start, n) in enumerate([(0, 10), (10, 30)]):
        norm = tf.keras.layers.Normalization(input_shape=(2,))
        norm.adapt(np.arange(start, start + 2 * n, dtype=np.float32).reshape(n, 2))
        tf.keras.Sequential([norm, tf.keras.layers.Dense(1)]).save(str(tmp_path / f"norm{i}"))
        dirs.append(tmp_path / f"norm{i}")

    weights = federation.federate(dirs, "average")

    count = weights["layer_with_weights-0/count/.ATTRIBUTES/VARIABLE_VALUE"]
    assert isinstance(count, np.ndarray) and count.dtype == np.int64 and count.shape == () and count == 20
    np.testing.assert_allclose(weights["layer_with_weights-0/mean/.ATTRIBUTES/VARIABLE_VALUE"], [24.0, 25.0])


def test_mismatched_architecture_names_the_contributor(tmp_path):
    good = [save_tiny(tmp_path / "mnist_mlp_alice", 1.0, contributor="alice", train=False),
            save_tiny(tmp_path / "mnist_mlp_bob", 2.0, contributor="bob", train=False)]
    odd = save_tiny(tmp_path / "mnist_mlp_mallory", 1.0, hidden=5, contributor="mallory", train=False)

    federation.check_compatible(good)
    with pytest.raises(FederationError, match=r"contributor 'mallory' \(.*mnist_mlp_mallory\).*shape \[3, 5\], expected \[3, 2\]"):
        federation.check_compatible(good + [odd])
    with pytest.raises(FederationError, match="mallory"):
        federation.federate(good + [odd], "average")
    # against the creator's model as reference, the odd one is named even when it comes first
    with pytest.raises(FederationError, match="mallory"):
        federation.check_compatible([odd] + good, reference=good[0])


def test_a_results_own_layer_stack_is_ignored_its_weights_go_into_the_creators_model(tmp_path):
    creator = save_tiny(tmp_path / "creator", 0.0, train=False)
    plain = save_tiny(tmp_path / "plain", 1.0, train=False)
    model = tf.keras.Sequential(
        [tf.keras.layers.Dense(2, activation="relu", input_shape=(3,)), tf.keras.layers.Dropout(0.5), tf.keras.layers.Dense(1)]
    )
    for var in model.weights:
        var.assign(np.full(var.shape, 3.0, np.float32))
    model.save(str(tmp_path / "with_dropout"))

    weights = federation.federate([plain, tmp_path / "with_dropout"], reference=creator)
    out = federation.save_federated_model(creator, weights, tmp_path / "federated")

    federated = tf.keras.models.load_model(str(out))
    assert [type(layer).__name__ for layer in federated.layers] == ["Dense", "Dense"]  # the creator's
    for value in federated.get_weights():
        np.testing.assert_array_equal(value, np.full(value.shape, 2.0))


def test_a_folder_that_is_not_a_savedmodel_is_named(tmp_path):
    good = save_tiny(tmp_path / "good", 1.0, train=False)
    (tmp_path / "broken").mkdir()
    with pytest.raises(FederationError, match=r"broken is not a SavedModel folder"):
        federation.federate([good, tmp_path / "broken"])
    with pytest.raises(FederationError, match="no accepted results"):
        federation.federate([])


def test_unknown_policy_is_a_user_input_error(three_constant_models):
    with pytest.raises(UserInputError, match="average, weighted, median, trimmed_mean"):
        federation.federate(three_constant_models, "mode")


def test_a_custom_policy_class_is_used(three_constant_models):
    class Maximum(federation.Policy):
        name = "maximum"

        def aggregate(self, values, sample_counts):
            return np.maximum.reduce(list(values))

    weights = federation.federate(three_constant_models, Maximum())
    assert weights.policy == "maximum"
    np.testing.assert_array_equal(weights[BIAS0], [100.0, 100.0])


def test_a_server_optimizer_sees_each_variable_by_key_in_model_order_and_keeps_state(three_constant_models):
    class ServerMomentum(federation.Policy):
        """Averages, then moves from the current global weights with momentum."""

        name = "server_momentum"

        def __init__(self, current):
            self.current, self.velocity, self.keys = current, {}, []

        def aggregate(self, values, sample_counts):
            return federation.Average().aggregate(values, sample_counts)

        def combine(self, key, values, sample_counts):
            self.keys.append(key)
            step = self.aggregate(values, sample_counts) - self.current[key]
            self.velocity[key] = 0.5 * self.velocity.get(key, 0) + step
            return self.current[key] + self.velocity[key]

    current = {key: np.zeros(shape, dtype) for key, (shape, dtype)
               in federation.weight_specs(three_constant_models[0]).items()}
    policy = ServerMomentum(current)
    first = federation.federate(three_constant_models, policy)
    assert policy.keys == [KERNEL0, BIAS0, KERNEL1, BIAS1] == list(first)
    np.testing.assert_allclose(first[BIAS0], [103 / 3] * 2, rtol=1e-6)  # the average, from zero
    second = federation.federate(three_constant_models, policy)  # the same step again, with momentum
    np.testing.assert_allclose(second[BIAS0], [1.5 * 103 / 3] * 2, rtol=1e-6)


def test_federated_model_loads_evaluates_trains_and_saves_again(tmp_path):
    from assets.model_creator import model_creator

    # Seeded, and enough steps to learn for sure: one epoch of 150 samples (5 steps) from a
    # random start sometimes left the average no better than the untrained model.
    tf.keras.utils.set_random_seed(7)
    x, y, dataset = model_creator.held_out_data(size=300)
    template = model_creator.save_model(model_creator.create_model(hidden_units=16), tmp_path / "model")
    results = []
    for i in range(2):
        model = model_creator.load_model(template)
        model_creator.train_model(model, x[i * 150:(i + 1) * 150], y[i * 150:(i + 1) * 150], epochs=5, batch_size=32)
        results.append(model_creator.save_model(model, tmp_path / f"mnist_mlp_c{i}"))

    weights = model_creator.federate_contributors_model(tmp_path, policy="average")
    assert len(weights) == 4 and weights.sources == [str(r) for r in results]
    out = federation.save_federated_model(template, weights, tmp_path / "federated")

    # the saved checkpoint holds exactly the federated values
    reader = tf.train.load_checkpoint(str(out / "variables" / "variables"))
    for key, value in weights.items():
        np.testing.assert_array_equal(reader.get_tensor(key), value)
    assert json.loads((out / federation.FEDERATION_METADATA_FILE).read_text())["policy"] == "average"

    federated = model_creator.load_model(out)
    metrics = model_creator.evaluate_model(federated, x, y)
    untrained = model_creator.evaluate_model(model_creator.load_model(template), x, y)
    assert metrics["samples"] == 300 and np.isfinite(metrics["loss"])
    # The combined model learned from the contributors' data: better than the untrained one.
    assert metrics["accuracy"] > untrained["accuracy"] and metrics["loss"] < untrained["loss"]
    before = [w.copy() for w in federated.get_weights()]
    model_creator.train_model(federated, x, y, epochs=1, batch_size=32)
    assert any(not np.array_equal(a, b) for a, b in zip(before, federated.get_weights()))
    model_creator.save_model(federated, tmp_path / "federated_again")
    again = model_creator.load_model(tmp_path / "federated_again")
    for a, b in zip(again.get_weights(), federated.get_weights()):
        np.testing.assert_array_equal(a, b)

    # in-memory models federate to the same weights as their folders
    in_memory = model_creator.federate_contributors_model([model_creator.load_model(r) for r in results])
    from_lists = model_creator.set_model_weights(model_creator.load_model(template), in_memory)
    from_keys = model_creator.set_model_weights(model_creator.load_model(template), weights)
    for a, b in zip(from_lists.get_weights(), from_keys.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_apply_weights_refuses_a_model_of_another_shape(three_constant_models):
    weights = federation.federate(three_constant_models)
    with pytest.raises(FederationError, match=r"shape \[3, 2\].*expects \[3, 4\]"):
        federation.apply_weights(tiny_model(hidden=4), weights)
