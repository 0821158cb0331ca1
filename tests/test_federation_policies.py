"""Federation policies on plain numpy arrays, and importing them without TensorFlow."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from substrate_client import federation
from substrate_client.errors import FederationError, UserInputError
from substrate_client.federation import policies

ROOT = Path(__file__).resolve().parent.parent


def combine(policy, values, counts=None):
    """``policy`` over copies of ``values`` (a policy may modify what it is given)."""
    counts = counts if counts is not None else [1] * len(values)
    return policy.aggregate(iter([np.array(v, dtype=np.float32) for v in values]), counts)


def test_importing_the_federation_package_does_not_import_tensorflow():
    code = ("import sys\n"
            "import substrate_client.federation as federation\n"
            "federation.make_policy('median')\n"
            "federation.read_result_metadata('.')\n"
            "assert 'tensorflow' not in sys.modules, sorted(m for m in sys.modules if 'tensorflow' in m)[:5]\n"
            "federation.FederatedWeights  # a name that needs TensorFlow loads it on first use\n"
            "assert 'tensorflow' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_average_is_the_plain_mean():
    np.testing.assert_allclose(combine(federation.Average(), [[1, 2], [3, 4], [5, 9]]), [3, 5])


def test_weighted_weighs_each_value_by_its_sample_count():
    result = combine(federation.Weighted(), [[0.0], [10.0]], counts=[1, 3])
    np.testing.assert_allclose(result, [7.5])


def test_weighted_refuses_sample_counts_that_sum_to_zero():
    with pytest.raises(FederationError, match="positive, finite sample counts"):
        combine(federation.Weighted(), [[1.0], [2.0]], counts=[0, 0])


def test_median_ignores_one_outlier_per_coordinate():
    np.testing.assert_allclose(combine(federation.Median(), [[1, 1], [2, 2], [1e9, -1e9]]), [2, 1])
    np.testing.assert_allclose(combine(federation.Median(), [[1], [2], [3], [100]]), [2.5])


def test_trimmed_mean_drops_the_extremes_at_each_end():
    policy = federation.TrimmedMean(0.25)
    assert policy.trimmed(4) == 1
    np.testing.assert_allclose(combine(policy, [[-1e9], [2], [4], [1e9]]), [3])


def test_trim_fraction_must_leave_values_in_the_middle():
    with pytest.raises(UserInputError, match="trim_fraction"):
        federation.TrimmedMean(0.5)


def test_policies_are_made_by_name_or_used_as_given():
    assert isinstance(federation.make_policy("trimmed-mean", 0.2), federation.TrimmedMean)
    custom = federation.Median()
    assert federation.make_policy(custom) is custom
    assert sorted(federation.POLICIES) == ["average", "median", "trimmed_mean", "weighted"]
    with pytest.raises(UserInputError, match="unknown federation policy"):
        federation.make_policy("mode")


def test_sample_counts_are_whole_non_negative_numbers_capped_at_the_maximum():
    assert policies.checked_sample_count(7.0, "r", 10) == 7
    assert policies.checked_sample_count(10**12, "r", 10) == 10
    for bad in (True, "5", 1.5, float("nan"), -1):
        with pytest.raises(FederationError):
            policies.checked_sample_count(bad, "r", 10)
    with pytest.raises(UserInputError, match="at least 1"):
        policies.checked_max_sample_count(0)
