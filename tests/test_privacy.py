"""Differential privacy: clipping and noising a contributor's update, and the campaign's (epsilon, delta)."""

import math
import subprocess
import sys
from pathlib import Path

import dp_accounting
import numpy as np
import pytest

from substrate_client import federation
from substrate_client.errors import UserInputError
from substrate_client.federation import privacy

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
BIAS = "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE"
COUNT = "layer_with_weights-1/count/.ATTRIBUTES/VARIABLE_VALUE"


def test_the_norm_is_taken_over_all_variables_together():
    assert federation.update_norm({"a": np.array([3.0]), "b": np.array([[4.0]], np.float32)}) == 5.0


def test_an_update_within_the_bound_is_not_clipped():
    update = {"a": np.array([0.3, -0.4])}
    clipped, norm = federation.clip_update(update, clip_norm=1.0)
    assert norm == pytest.approx(0.5)
    np.testing.assert_array_equal(clipped["a"], update["a"])


def test_a_larger_update_is_scaled_to_the_bound_as_a_whole():
    update = {"a": np.array([3.0]), "b": np.array([[4.0]], np.float32)}
    clipped, norm = federation.clip_update(update, clip_norm=1.0)
    assert norm == 5.0
    np.testing.assert_allclose(clipped["a"], [0.6])  # each variable by the same factor C / norm
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    assert federation.update_norm(clipped) == pytest.approx(1.0)


def test_noise_has_standard_deviation_noise_multiplier_times_the_clip_norm():
    update = {"w": np.zeros(200_000)}
    noised = federation.privatize_update(update, clip_norm=2.0, noise_multiplier=0.5,
                                         rng=np.random.default_rng(1))
    # 200,000 draws: the sample standard deviation is within 0.5% of 1.0 with overwhelming probability
    assert np.std(noised["w"]) == pytest.approx(1.0, rel=0.005)
    assert abs(np.mean(noised["w"])) < 0.01


def test_the_same_seed_draws_the_same_noise_and_the_default_generator_is_unpredictable():
    update = {"a": np.ones(50), "b": np.ones((4, 4))}
    first = federation.privatize_update(update, 1.0, 1.0, rng=np.random.default_rng(42))
    again = federation.privatize_update(update, 1.0, 1.0, rng=np.random.default_rng(42))
    for key in update:
        np.testing.assert_array_equal(first[key], again[key])
    fresh = [federation.privatize_update(update, 1.0, 1.0) for _ in range(2)]
    assert not np.array_equal(fresh[0]["a"], fresh[1]["a"])


def test_privatized_weights_are_the_start_plus_the_clipped_noised_update_in_each_dtype():
    rng = np.random.default_rng(3)
    start = {KERNEL: rng.normal(size=(3, 2)).astype(np.float32), BIAS: np.zeros(2, np.float32),
             COUNT: np.array(100, np.int64)}
    trained = {KERNEL: start[KERNEL] + 3.0, BIAS: start[BIAS] - 4.0, COUNT: np.array(160, np.int64)}

    clipped_only = federation.privatize_weights(trained, start, clip_norm=2.0, noise_multiplier=0.0)
    update = {k: clipped_only[k].astype(np.float64) - start[k] for k in (KERNEL, BIAS)}
    assert federation.update_norm(update) == pytest.approx(2.0, rel=1e-6)
    # the same direction as the trained update: 6 values of +3 and 2 of -4, norm sqrt(86)
    np.testing.assert_allclose(update[KERNEL], np.full((3, 2), 3.0 * 2.0 / math.sqrt(86)), rtol=1e-5)
    np.testing.assert_allclose(update[BIAS], np.full(2, -4.0 * 2.0 / math.sqrt(86)), rtol=1e-5)

    noised = federation.privatize_weights(trained, start, 2.0, 0.5, rng=np.random.default_rng(9))
    draws = np.random.default_rng(9)  # the noise: variable by variable, in the weights' order
    expected_kernel = start[KERNEL].astype(np.float64) + update[KERNEL] + draws.normal(0, 1.0, (3, 2))
    expected_bias = start[BIAS].astype(np.float64) + update[BIAS] + draws.normal(0, 1.0, 2)
    np.testing.assert_allclose(noised[KERNEL], expected_kernel, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(noised[BIAS], expected_bias, rtol=1e-5, atol=1e-5)
    assert list(noised) == [KERNEL, BIAS, COUNT]
    assert noised[KERNEL].dtype == np.float32 and noised[BIAS].dtype == np.float32
    # a counter cannot carry noise: the round's starting value is sent, not the trained one
    assert noised[COUNT].dtype == np.int64 and noised[COUNT] == 100


@pytest.mark.parametrize("call, message", [
    (lambda: federation.clip_update({"a": np.ones(2)}, 0), "clip_norm must be a finite number greater than 0"),
    (lambda: federation.clip_update({"a": np.ones(2)}, float("inf")), "clip_norm must be a finite number"),
    (lambda: federation.privatize_update({"a": np.ones(2)}, 1.0, -1.0), "noise_multiplier must be a finite number at least 0"),
    (lambda: federation.privatize_update({"a": np.ones(2)}, 1.0, 1.0, rng=np.random.RandomState(0)),
     "rng must be a numpy Generator"),
    (lambda: federation.update_norm({"a": np.array([1.0, np.nan])}), "not finite"),
    (lambda: federation.privatize_weights({KERNEL: np.ones(2)}, {BIAS: np.ones(2)}, 1.0, 1.0),
     "differ in variables 'layer_with_weights-0/bias/"),
    (lambda: federation.privatize_weights({KERNEL: np.ones(3)}, {KERNEL: np.ones(2)}, 1.0, 1.0),
     r"float64 \[3\] after training but float64 \[2\]"),
])
def test_bad_updates_and_parameters_are_refused_with_clear_errors(call, message):
    with pytest.raises(UserInputError, match=message):
        call()


# ----------------------------------------------------------------- the accountant


def test_epsilon_grows_with_rounds_and_shrinks_with_more_noise():
    for accountant in ("rdp", "pld"):
        by_rounds = [federation.privacy_spent(r, 2.0, 1e-5, accountant).epsilon for r in (1, 3, 10)]
        assert by_rounds[0] < by_rounds[1] < by_rounds[2]
        by_noise = [federation.privacy_spent(5, z, 1e-5, accountant).epsilon for z in (1.0, 2.0, 4.0)]
        assert by_noise[0] > by_noise[1] > by_noise[2]


def test_rdp_epsilon_is_the_librarys_own_for_gaussian_rounds():
    spent = federation.privacy_spent(rounds=10, noise_multiplier=1.1, delta=1e-5)
    library = dp_accounting.rdp.RdpAccountant()
    for _ in range(10):  # round by round, as a campaign goes
        library.compose(dp_accounting.GaussianDpEvent(1.1))
    assert spent.epsilon == pytest.approx(library.get_epsilon(1e-5), rel=1e-12)
    assert (spent.rounds, spent.noise_multiplier, spent.delta, spent.accountant) == (10, 1.1, 1e-5, "rdp")


def test_pld_epsilon_matches_the_exact_gaussian_mechanism_and_rdp_bounds_it():
    # R Gaussian rounds of noise multiplier z are exactly one Gaussian of z / sqrt(R): the
    # library's analytic calibration (Balle & Wang 2018) gives its exact epsilon.
    for rounds, z in [(1, 1.0), (4, 2.0), (10, 3.0)]:
        exact = dp_accounting.get_epsilon_gaussian(z / math.sqrt(rounds), 1e-5)
        pld = federation.privacy_spent(rounds, z, 1e-5, accountant="pld").epsilon
        rdp = federation.privacy_spent(rounds, z, 1e-5, accountant="rdp").epsilon
        assert pld == pytest.approx(exact, rel=1e-4)
        assert pld >= exact - 1e-9 and rdp > pld  # both are upper bounds; RDP the looser
    # a known case: one round with noise multiplier 1 at delta 1e-5 is (4.3772, 1e-5)-DP
    assert federation.privacy_spent(1, 1.0, 1e-5, "pld").epsilon == pytest.approx(4.3772, abs=1e-4)


@pytest.mark.parametrize("args, message", [
    ((0, 1.0, 1e-5), "rounds must be a whole number of at least 1"),
    ((2.5, 1.0, 1e-5), "rounds must be a whole number"),
    ((True, 1.0, 1e-5), "rounds must be a whole number"),
    ((3, 0.0, 1e-5), "noise_multiplier .* greater than 0"),
    ((3, float("nan"), 1e-5), "noise_multiplier"),
    ((3, 1.0, 0.0), "delta must be a number strictly between 0 and 1"),
    ((3, 1.0, 1.0), "delta must be a number strictly between 0 and 1"),
    ((3, 1.0, "1e-5"), "delta must be a number"),
    ((3, 1.0, 1e-5, "moments"), "unknown privacy accountant 'moments'; choose one of: rdp, pld"),
    ((100, 1.0, 1e-5, "pld"), "too little noise for the PLD accountant.*use the 'rdp' accountant"),
])
def test_bad_accountant_parameters_are_refused_with_clear_errors(args, message):
    with pytest.raises(UserInputError, match=message):
        federation.privacy_spent(*args)


def test_the_accountant_library_is_imported_only_when_an_epsilon_is_asked_for():
    code = ("import sys\n"
            "import substrate_client.federation as federation\n"
            "federation.privatize_update({'w': [1.0]}, 1.0, 1.0)\n"
            "assert not {'dp_accounting', 'scipy', 'tensorflow'} & set(sys.modules)\n"
            "federation.privacy_spent(3, 1.0, 1e-5)\n"
            "assert 'dp_accounting' in sys.modules and 'tensorflow' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert privacy.ACCOUNTANTS == ("rdp", "pld")
