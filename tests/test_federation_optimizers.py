"""Server optimizers (FedAvg, FedAvgM, FedAdam) on top of every federation policy, and their saved state."""

import json

import numpy as np
import pytest

from substrate_client import federation
from substrate_client.errors import FederationError, UserInputError
from substrate_client.federation import optimizers

KERNEL = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
BIAS = "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE"
COUNT = "layer_with_weights-1/count/.ATTRIBUTES/VARIABLE_VALUE"

OPTIMIZERS = {
    "fedavg": lambda: federation.FedAvg(),
    "fedavgm": lambda: federation.FedAvgM(lr=0.7, momentum=0.9),
    "fedadam": lambda: federation.FedAdam(lr=0.05, beta1=0.9, beta2=0.99, tau=1e-3),
}
POLICIES = {
    "average": lambda: federation.Average(),
    "weighted": lambda: federation.Weighted(),
    "median": lambda: federation.Median(),
    "trimmed_mean": lambda: federation.TrimmedMean(0.25),
}


def federate_arrays(policy, contributions, counts=None):
    """What federation does with a policy: for each variable in model order, the N
    contributors' values (fresh float copies the policy owns) to ``policy.combine``."""
    counts = counts or [1] * len(contributions)
    out = {}
    for key, first in contributions[0].items():
        work = np.float64 if np.asarray(first).dtype.kind in "iu" else np.float32
        values = (np.array(c[key], dtype=work) for c in contributions)
        result = np.asarray(policy.combine(key, values, counts))
        out[key] = np.rint(result).astype(first.dtype) if first.dtype.kind in "iu" else result.astype(first.dtype)
    return out


def initial_model():
    rng = np.random.default_rng(7)
    return {KERNEL: rng.normal(size=(4, 3)).astype(np.float32),
            BIAS: np.zeros(3, np.float32),
            COUNT: np.array(100, np.int64)}


def contributions(previous, round_number, n=4):
    """n contributors' trained models: the previous global model moved towards their own
    optimum (a quadratic), with noise of their own; the last one an outlier."""
    out = []
    for i in range(n):
        rng = np.random.default_rng(1000 * round_number + i)
        trained = {}
        for key, value in previous.items():
            if value.dtype.kind in "iu":
                trained[key] = value + np.int64(10 * (i + 1))
            else:
                target = np.full(value.shape, 1.0 + i * 0.1, np.float32)
                trained[key] = (value + 0.5 * (target - value) + rng.normal(0, 0.05, value.shape)).astype(value.dtype)
        out.append(trained)
    out[-1][KERNEL] = out[-1][KERNEL] * 50  # a poisoned update, for the robust policies
    return out


def test_fedavg_takes_each_policys_aggregate_as_the_new_model():
    previous = initial_model()
    models = contributions(previous, 1)
    counts = [10, 20, 30, 40]
    for make in POLICIES.values():
        plain = federate_arrays(make(), models, counts)
        optimized = federate_arrays(federation.ServerOptimized(make(), federation.FedAvg(), previous), models, counts)
        for key in plain:
            np.testing.assert_array_equal(optimized[key], plain[key])


def test_fedavgm_two_rounds_match_a_hand_computed_example():
    # pseudo-gradient g = previous - aggregate; m = momentum * m + g; new = previous - lr * m
    optimizer = federation.FedAvgM(lr=0.5, momentum=0.9)
    x0 = {"w": np.array([1.0, -2.0])}
    x1 = optimizer.apply(x0, {"w": np.array([0.0, 0.0])})
    # g1 = (1, -2); m1 = (1, -2); x1 = (1 - 0.5, -2 + 1) = (0.5, -1)
    np.testing.assert_allclose(x1["w"], [0.5, -1.0], rtol=0, atol=1e-15)
    x2 = optimizer.apply(x1, {"w": np.array([0.25, -1.5])})
    # g2 = (0.25, 0.5); m2 = 0.9 * (1, -2) + (0.25, 0.5) = (1.15, -1.3)
    # x2 = (0.5 - 0.575, -1 + 0.65) = (-0.075, -0.35)
    np.testing.assert_allclose(optimizer.state("w")["momentum"], [1.15, -1.3], rtol=1e-15)
    np.testing.assert_allclose(x2["w"], [-0.075, -0.35], rtol=1e-14)
    assert optimizer.rounds == 2


def test_fedadam_two_rounds_match_a_hand_computed_example():
    # m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; new = previous - lr m / (sqrt(v) + tau)
    optimizer = federation.FedAdam(lr=0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    x1 = optimizer.apply({"w": np.array([1.0])}, {"w": np.array([0.0])})
    # g1 = 1; m1 = 0.1; v1 = 0.01; x1 = 1 - 0.1 * 0.1 / (0.1 + 0.001) = 1 - 10/101 = 91/101
    assert x1["w"][0] == pytest.approx(91 / 101, rel=1e-14)
    x2 = optimizer.apply(x1, {"w": np.array([0.5])})
    # g2 = 91/101 - 1/2 = 81/202 = 0.40099...
    # m2 = 0.9 * 0.1 + 0.1 * 81/202 = 0.13009900990...
    # v2 = 0.99 * 0.01 + 0.01 * (81/202)^2 = 0.0099 + 0.01 * 6561/40804 = 0.01150793059504...
    # x2 = 91/101 - 0.1 * m2 / (sqrt(v2) + 0.001) = 0.90099010 - 0.013009901 / 0.108275023 = 0.78083403...
    state = optimizer.state("w")
    assert state["m"][0] == pytest.approx(0.09 + 0.1 * 81 / 202, rel=1e-14)
    assert state["v"][0] == pytest.approx(0.0099 + 0.01 * 6561 / 40804, rel=1e-14)
    assert x2["w"][0] == pytest.approx(0.78083403, rel=1e-8)
    assert optimizer.rounds == 2


def test_fedavgm_with_lr_one_and_no_momentum_is_fedavg():
    previous = {"w": np.array([0.3, -1.0, 2.0])}
    aggregate = {"w": np.array([1.0, 1.0, 1.0])}
    np.testing.assert_allclose(federation.FedAvgM(lr=1.0, momentum=0.0).apply(previous, aggregate)["w"],
                               aggregate["w"], rtol=1e-15)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_moves_towards_the_aggregate_on_a_quadratic(name):
    """Contributors minimise f(x) = |x - target|^2 / 2 from the global model with a local step:
    the aggregate is x + 0.3 (target - x). The server step goes the aggregate's way, and the
    global model converges to the target."""
    optimizer = OPTIMIZERS[name]()
    target = np.array([3.0, -2.0, 0.5])
    x = {"w": np.zeros(3)}
    distances = [np.linalg.norm(x["w"] - target)]
    for round_number in range(80):
        aggregate = {"w": x["w"] + 0.3 * (target - x["w"])}
        new = optimizer.apply(x, aggregate)
        if round_number == 0:
            assert np.dot(new["w"] - x["w"], aggregate["w"] - x["w"]) > 0  # towards the aggregate
        x = new
        distances.append(np.linalg.norm(x["w"] - target))
    assert distances[1] < distances[0]
    assert distances[-1] < 0.02 * distances[0]


@pytest.mark.parametrize("policy_name", POLICIES)
@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_three_rounds_with_the_state_saved_and_loaded_between_each_equal_three_rounds_straight(
        tmp_path, policy_name, optimizer_name):
    counts = [10, 20, 30, 40]

    straight = OPTIMIZERS[optimizer_name]()
    previous = initial_model()
    for r in range(1, 4):
        previous = federate_arrays(federation.ServerOptimized(POLICIES[policy_name](), straight, previous),
                                   contributions(previous, r), counts)
    straight_weights = previous

    state_file = tmp_path / "optimizer.npz"
    previous = initial_model()
    for r in range(1, 4):
        optimizer = OPTIMIZERS[optimizer_name]() if r == 1 else federation.ServerOptimizer.load(state_file)
        assert optimizer.rounds == r - 1
        previous = federate_arrays(federation.ServerOptimized(POLICIES[policy_name](), optimizer, previous),
                                   contributions(previous, r), counts)
        optimizer.save(state_file)
        del optimizer  # as if the creator's process were killed here

    for key, value in straight_weights.items():
        assert value.dtype == previous[key].dtype
        np.testing.assert_array_equal(previous[key], value)
    assert previous[COUNT].dtype == np.int64  # an integer variable takes the aggregate as it is
    assert federation.ServerOptimizer.load(state_file).rounds == 3
    if optimizer_name != "fedavg":  # the server step changed something
        plain = initial_model()
        for r in range(1, 4):
            plain = federate_arrays(POLICIES[policy_name](), contributions(plain, r), counts)
        assert not np.array_equal(plain[KERNEL], straight_weights[KERNEL])


def test_a_state_file_holds_parameters_and_state_and_loads_as_the_same_optimizer(tmp_path):
    optimizer = federation.FedAdam(lr=0.02, beta1=0.8, beta2=0.95, tau=1e-4)
    optimizer.apply({KERNEL: np.ones((2, 2), np.float32)}, {KERNEL: np.zeros((2, 2), np.float32)})
    loaded = federation.ServerOptimizer.load(optimizer.save(tmp_path / "state.npz"))
    assert type(loaded) is federation.FedAdam and loaded.params == optimizer.params and loaded.rounds == 1
    for slot in ("m", "v"):
        np.testing.assert_array_equal(loaded.state(KERNEL)[slot], optimizer.state(KERNEL)[slot])
        assert loaded.state(KERNEL)[slot].dtype == np.float32
    assert federation.FedAdam.load(tmp_path / "state.npz").params == optimizer.params
    with pytest.raises(FederationError, match="holds the state of fedadam, not of fedavgm"):
        federation.FedAvgM.load(tmp_path / "state.npz")
    assert not list(tmp_path.glob(".state.npz.*"))  # no temporary file left beside it


def test_a_pickled_object_in_a_state_file_is_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    # the attack: a state file whose array holds a pickle that runs code when unpickled
    state = tmp_path / "state.npz"
    meta = {"format": optimizers.STATE_FORMAT, "version": optimizers.STATE_VERSION, "optimizer": "fedavgm",
            "params": {"lr": 1.0, "momentum": 0.9}, "rounds": 1, "variables": [KERNEL]}
    np.savez(state, **{"state.json": np.frombuffer(json.dumps(meta).encode(), np.uint8),
                       "0.momentum": np.array([Payload()], dtype=object)}, allow_pickle=True)
    with np.load(state, allow_pickle=True) as npz:  # a reader that unpickles runs the payload
        npz["0.momentum"]
    assert marker.exists()
    marker.unlink()

    with pytest.raises(FederationError, match="cannot read the server optimizer state"):
        federation.ServerOptimizer.load(state)
    assert not marker.exists()


@pytest.mark.parametrize("meta_change, message", [
    ({"format": "other"}, "does not name the format"),
    ({"version": 2}, "version 2"),
    ({"optimizer": "fedyogi"}, "unknown optimizer 'fedyogi'"),
    ({"optimizer": ["fedavgm"]}, "unknown optimizer"),
    ({"params": {"lr": 1.0}}, "parameters"),
    ({"params": {"lr": -1.0, "momentum": 0.9}}, "lr must be greater than 0"),
    ({"rounds": -1}, "round count"),
    ({"variables": [KERNEL, BIAS]}, "entries are not those of 2 variables"),
])
def test_a_malformed_state_file_is_refused_with_its_problem(tmp_path, meta_change, message):
    meta = {"format": optimizers.STATE_FORMAT, "version": optimizers.STATE_VERSION, "optimizer": "fedavgm",
            "params": {"lr": 1.0, "momentum": 0.9}, "rounds": 1, "variables": [KERNEL], **meta_change}
    state = tmp_path / "state.npz"
    np.savez(state, **{"state.json": np.frombuffer(json.dumps(meta).encode(), np.uint8),
                       "0.momentum": np.zeros(3, np.float32)})
    with pytest.raises(FederationError, match=f"is not a server optimizer state: .*{message}"):
        federation.ServerOptimizer.load(state)


def test_a_state_file_with_values_that_are_not_finite_or_not_an_npz_is_refused(tmp_path):
    optimizer = federation.FedAvgM()
    optimizer.advance({KERNEL: {"momentum": np.array([1.0, np.nan], np.float32)}})
    with pytest.raises(FederationError, match="not finite"):
        federation.ServerOptimizer.load(optimizer.save(tmp_path / "nan.npz"))
    (tmp_path / "text.npz").write_text("not a zip")
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "nan.npz").read_bytes()[:200])
    for name in ("text.npz", "array.npy", "cut.npz", "missing.npz"):
        with pytest.raises(FederationError, match="cannot read the server optimizer state"):
            federation.ServerOptimizer.load(tmp_path / name)


@pytest.mark.parametrize("make, message", [
    (lambda: federation.FedAvgM(lr=0), "lr must be greater than 0"),
    (lambda: federation.FedAvgM(lr=-0.1), "lr must be greater than 0"),
    (lambda: federation.FedAvgM(lr=float("nan")), "lr must be a finite number"),
    (lambda: federation.FedAvgM(momentum=1.0), r"momentum must be in \[0, 1\)"),
    (lambda: federation.FedAvgM(momentum=-0.1), r"momentum must be in \[0, 1\)"),
    (lambda: federation.FedAdam(lr=0), "lr must be greater than 0"),
    (lambda: federation.FedAdam(beta1=1.0), r"beta1 must be in \[0, 1\)"),
    (lambda: federation.FedAdam(beta2=-0.5), r"beta2 must be in \[0, 1\)"),
    (lambda: federation.FedAdam(tau=0), "tau must be greater than 0"),
    (lambda: federation.FedAdam(lr=True), "lr must be a finite number"),
    (lambda: federation.make_server_optimizer("fedyogi"), "unknown server optimizer 'fedyogi'"),
    (lambda: federation.make_server_optimizer("fedavgm", beta1=0.9), "fedavgm takes no parameter beta1"),
])
def test_bad_parameters_are_refused_with_clear_errors(make, message):
    with pytest.raises(UserInputError, match=message):
        make()


def test_optimizers_are_made_by_name():
    made = federation.make_server_optimizer("FedAdam", lr=0.01)
    assert isinstance(made, federation.FedAdam) and made.lr == 0.01
    assert sorted(federation.SERVER_OPTIMIZERS) == ["fedadam", "fedavg", "fedavgm"]
    policy = federation.ServerOptimized("weighted", "fedavgm", initial_model())
    assert policy.name == "weighted+fedavgm" and policy.needs_sample_counts and policy.streams_values


def test_a_previous_model_of_another_shape_is_refused_and_the_optimizer_is_unchanged():
    optimizer = federation.FedAvgM()
    previous = initial_model()
    federate_arrays(federation.ServerOptimized("average", optimizer, previous), contributions(previous, 1))
    before = optimizer.state(KERNEL)["momentum"].copy()

    wrong = dict(previous, **{BIAS: np.zeros(5, np.float32)})
    policy = federation.ServerOptimized("average", optimizer, wrong)
    with pytest.raises(FederationError, match=r"'layer_with_weights-0/bias' has shape \[3\] in the aggregate but "
                                              r"\[5\] in the previous global model"):
        federate_arrays(policy, contributions(previous, 2))
    assert optimizer.rounds == 1  # the kernel's new momentum was not kept
    np.testing.assert_array_equal(optimizer.state(KERNEL)["momentum"], before)

    # a previous model that lacks a variable: the round is undone even though every
    # variable it holds (the kernel, first in model order) was combined
    with pytest.raises(FederationError, match="previous global model has no variable 'layer_with_weights-0/bias'"):
        federate_arrays(federation.ServerOptimized("average", optimizer, {KERNEL: previous[KERNEL]}),
                        contributions(previous, 2))
    assert optimizer.rounds == 1
    np.testing.assert_array_equal(optimizer.state(KERNEL)["momentum"], before)
    # a state of another model's shapes
    with pytest.raises(FederationError, match="the state belongs to another model"):
        optimizer.update(KERNEL, np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32))


def test_one_round_object_serves_one_round():
    optimizer = federation.FedAdam()
    previous = initial_model()
    policy = federation.ServerOptimized("median", optimizer, previous)
    federate_arrays(policy, contributions(previous, 1))
    assert policy.finished and optimizer.rounds == 1
    with pytest.raises(FederationError, match="this round of median\\+fedadam is finished"):
        federate_arrays(policy, contributions(previous, 2))


def test_a_server_step_that_is_not_finite_is_refused():
    optimizer = federation.FedAvgM(lr=1e30, momentum=0.0)
    with pytest.raises(FederationError, match="step of 'w' is not finite"):
        optimizer.apply({"w": np.array([3e38], np.float32)}, {"w": np.array([-3e38], np.float32)})
    assert optimizer.rounds == 0


def test_federate_steps_saved_models_with_a_server_optimizer_over_two_rounds(tmp_path):
    """The real route: results' checkpoints read and combined by federate, the new global
    model saved, read back as the next round's previous model."""
    from substrate_client import tensorflow_setup

    tensorflow_setup.configure()
    import tensorflow as tf

    def save(path, fill):
        model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,)), tf.keras.layers.Dense(1)])
        for var in model.weights:
            var.assign(np.full(var.shape, fill, np.float32))
        model.save(str(path))
        return path

    creator = save(tmp_path / "model", 1.0)
    previous = federation.read_result_weights(creator, creator)
    optimizer = federation.FedAvgM(lr=1.0, momentum=0.5)
    state = tmp_path / "optimizer.npz"
    for round_number, fills in enumerate([(0.0, 2.0, 4.0), (3.0, 3.0, 3.0)], start=1):
        results = [save(tmp_path / f"r{round_number}_c{i}", fill) for i, fill in enumerate(fills)]
        weights = federation.federate(results, federation.ServerOptimized("median", optimizer, previous),
                                      reference=creator)
        assert weights.policy == "median+fedavgm"
        out = federation.save_federated_model(creator, weights, tmp_path / f"global_{round_number}")
        optimizer.save(state)
        previous = federation.read_result_weights(out, creator)
        optimizer = federation.ServerOptimizer.load(state)
        if round_number == 1:
            # median 2; g = 1 - 2 = -1; m = -1; new = 1 + 1 = 2
            for value in previous.values():
                np.testing.assert_array_equal(value, np.full(value.shape, 2.0))
    # round 2: median 3; g = 2 - 3 = -1; m = 0.5 * -1 - 1 = -1.5; new = 2 + 1.5 = 3.5
    assert optimizer.rounds == 2
    for value in previous.values():
        np.testing.assert_array_equal(value, np.full(value.shape, 3.5))
