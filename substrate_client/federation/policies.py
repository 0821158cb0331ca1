"""Federation policies: how the contributors' values of one variable become one value.

In the style of Flower's strategies (``flwr/server/strategy``): one small class per
policy, with one method that matters, :meth:`Policy.aggregate`. Pure numpy: importing
this module (or :mod:`substrate_client.federation`) does not import TensorFlow.

* :class:`Average` and :class:`Weighted` keep a running sum, so besides the result
  they hold one copy of one variable whatever the number of models;
* :class:`Median` and :class:`TrimmedMean` need the N copies of one variable at a time.

A new policy subclasses :class:`Policy`; pass an instance wherever a policy name is
accepted. A server optimizer overrides :meth:`Policy.combine`, which also names the
variable.

Weighted federation trusts the sample counts contributors report: each is capped at
``max_sample_count`` (the creator's setting, default :data:`DEFAULT_MAX_SAMPLE_COUNT`,
see :func:`checked_sample_count`) and they are summed exactly.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Union

import numpy as np

from ..errors import FederationError, UserInputError

__all__ = [
    "Policy",
    "Average",
    "Weighted",
    "Median",
    "TrimmedMean",
    "POLICIES",
    "make_policy",
    "DEFAULT_MAX_SAMPLE_COUNT",
    "checked_sample_count",
    "checked_max_sample_count",
]

log = logging.getLogger(__name__)

#: The most samples one result counts for in weighted federation (the creator's
#: setting ``max_sample_count``): contributors report their own counts, so a liar's
#: weight is at most this much against the others'. Larger counts are capped.
DEFAULT_MAX_SAMPLE_COUNT = 1_000_000


class Policy(ABC):
    """How one variable is combined across contributors.

    ``aggregate`` receives the N contributors' values of ONE variable as an
    iterator (each value is read from disk when the iterator reaches it, and the
    policy owns it: it may modify it in place) and the N sample weights, and returns
    the combined value. Streaming policies consume the iterator one value at a time;
    robust ones may collect the N values of this one variable.
    Values arrive as float32 or float64 arrays; the caller casts the result back to
    the variable's dtype.
    """

    name: str = ""
    #: Whether the policy needs each contributor's number of training samples.
    needs_sample_counts: bool = False
    #: Whether ``aggregate`` is done with each value before taking the next and keeps
    #: none but the first; values after the first may then share one buffer.
    streams_values: bool = False

    @abstractmethod
    def aggregate(self, values: Iterator[np.ndarray], sample_counts: Sequence[float]) -> np.ndarray:
        """Combine the N values of one variable into one."""

    def combine(self, key: str, values: Iterator[np.ndarray], sample_counts: Sequence[float]) -> np.ndarray:
        """Combine the N values of the variable ``key`` (its checkpoint key; for models in
        memory, its name): what federation calls, once per variable, in model order.

        By default :meth:`aggregate`. A policy that needs to know which variable it
        combines, or keeps state per variable from round to round (a server optimizer:
        momentum or adaptive steps applied to ``aggregate(...) - current``, with the
        current global weights given to it when it is made), overrides this.
        """
        return self.aggregate(values, sample_counts)

    def check(self, num_models: int) -> None:
        """Raise FederationError if the policy cannot combine ``num_models`` models."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Average(Policy):
    """Plain mean of the contributors' values (the seed's ``tf.reduce_mean``), as a running sum."""

    name = "average"
    streams_values = True

    def aggregate(self, values: Iterator[np.ndarray], sample_counts: Sequence[float]) -> np.ndarray:
        total: Optional[np.ndarray] = None
        count = 0
        for value in values:
            if total is None:
                total = value  # owned by us: becomes the accumulator
            else:
                np.add(total, value, out=total)
            count += 1
        if total is None:
            raise FederationError("no models to average")
        total /= count
        return total


class Weighted(Policy):
    """FedAvg: mean weighted by each contributor's number of training samples."""

    name = "weighted"
    needs_sample_counts = True
    streams_values = True

    def aggregate(self, values: Iterator[np.ndarray], sample_counts: Sequence[float]) -> np.ndarray:
        total_samples = math.fsum(sample_counts)  # exact: the counts are capped whole numbers
        if not math.isfinite(total_samples) or total_samples <= 0:
            raise FederationError("weighted federation needs positive, finite sample counts")
        total: Optional[np.ndarray] = None
        for value, samples in zip(values, sample_counts):
            value *= samples / total_samples
            if total is None:
                total = value
            else:
                np.add(total, value, out=total)
        assert total is not None
        return total


def _sorted_reduce(values: Sequence[np.ndarray], reduce: Callable[[np.ndarray], np.ndarray], chunk: int = 1 << 18) -> np.ndarray:
    """Apply ``reduce`` to the N values of each coordinate, sorted ascending along axis 0.

    Holds the N values of this one variable, and sorts them in chunks of ``chunk``
    coordinates (sorting small blocks along axis 0 is several times faster than
    ``np.median`` over the whole stack, and needs no second copy of it).
    """
    flat = [np.ravel(v) for v in values]
    if not flat:
        raise FederationError("no models to combine")
    out = np.empty(flat[0].shape, dtype=flat[0].dtype)
    block = np.empty((len(flat), min(chunk, out.size)), dtype=out.dtype)
    for start in range(0, out.size, chunk):
        stop = min(start + chunk, out.size)
        b = block[:, : stop - start]
        for i, v in enumerate(flat):
            b[i] = v[start:stop]
        b.sort(axis=0)
        out[start:stop] = reduce(b)
    return out


class Median(Policy):
    """Coordinate-wise median: robust to a minority of outlying (poisoned) updates."""

    name = "median"

    def aggregate(self, values: Iterator[np.ndarray], sample_counts: Sequence[float]) -> np.ndarray:
        values = list(values)
        n = len(values)

        def middle(b: np.ndarray) -> np.ndarray:
            if n % 2:
                return b[n // 2]
            return (b[n // 2 - 1] + b[n // 2]) / 2

        return _sorted_reduce(values, middle).reshape(np.shape(values[0]))


class TrimmedMean(Policy):
    """Coordinate-wise mean after dropping the ``trim_fraction`` largest and smallest values.

    With N models, ``floor(trim_fraction * N)`` values are dropped at each end of
    every coordinate.
    """

    name = "trimmed_mean"

    def __init__(self, trim_fraction: float = 0.1):
        if not 0.0 <= trim_fraction < 0.5:
            raise UserInputError(f"trim_fraction must be in [0, 0.5), got {trim_fraction}")
        self.trim_fraction = trim_fraction

    def trimmed(self, num_models: int) -> int:
        """How many values are dropped at each end with ``num_models`` models."""
        return int(np.floor(self.trim_fraction * num_models))

    def check(self, num_models: int) -> None:
        if self.trimmed(num_models) == 0:
            log.warning(
                "trimmed_mean: trim_fraction %s trims nothing with %d models; this is a plain average",
                self.trim_fraction,
                num_models,
            )

    def aggregate(self, values: Iterator[np.ndarray], sample_counts: Sequence[float]) -> np.ndarray:
        values = list(values)
        n = len(values)
        k = self.trimmed(n)
        return _sorted_reduce(values, lambda b: b[k : n - k].mean(axis=0, dtype=b.dtype)).reshape(np.shape(values[0]))

    def __repr__(self) -> str:
        return f"TrimmedMean(trim_fraction={self.trim_fraction})"


POLICIES: Dict[str, Callable[..., Policy]] = {
    "average": Average,
    "weighted": Weighted,
    "median": Median,
    "trimmed_mean": TrimmedMean,
}


def make_policy(policy: Union[str, Policy], trim_fraction: float = 0.1) -> Policy:
    """The policy named ``policy`` (one of :data:`POLICIES`), or ``policy`` itself."""
    if isinstance(policy, Policy):
        return policy
    name = str(policy).strip().lower().replace("-", "_")
    if name not in POLICIES:
        raise UserInputError(f"unknown federation policy {policy!r}; choose one of: {', '.join(POLICIES)}")
    if name == "trimmed_mean":
        return TrimmedMean(trim_fraction)
    return POLICIES[name]()


# --------------------------------------------------------------------------- sample counts


def checked_sample_count(value: Any, what: str, max_sample_count: int) -> int:
    """A sample count as a whole number in [0, max_sample_count] (larger ones are capped)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise FederationError(f"the sample count of {what} is {value!r}, not a number")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise FederationError(f"the sample count of {what} is {value!r}, not a whole number")
    count = int(value)
    if count < 0:
        raise FederationError(f"the sample count of {what} is negative ({count})")
    if count > max_sample_count:
        log.warning("the sample count %d of %s is capped at %d", count, what, max_sample_count)
        count = max_sample_count
    return count


def checked_max_sample_count(max_sample_count: int) -> int:
    """``max_sample_count`` as an int, if it is a whole number of at least 1 (else UserInputError)."""
    if isinstance(max_sample_count, bool) or not isinstance(max_sample_count, (int, np.integer)) \
            or max_sample_count < 1:
        raise UserInputError(f"max_sample_count must be a whole number of at least 1, got {max_sample_count!r}")
    return int(max_sample_count)

