"""Combining the accepted results' weights into one set of weights.

Only *accepted* results are federated: callers (the marketplace's users, the CLI, the
example creator script) validate first and pass the folders of accepted results
only. This module never looks at the chain or at validation verdicts.

:func:`federate` reads the weights one variable at a time across all N models (the
byte ranges each index names, straight from the files, with the strict reader of
:mod:`.checkpoint`), checks them (:mod:`.weights`) and combines them with a
:class:`~.policies.Policy`. Non-finite values, in a result or in the federated
weights, are refused with FederationError.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..tensorflow_setup import configure

configure()
import tensorflow as tf  # noqa: E402  (must follow the environment setting above)

from ..errors import FederationError, UserInputError  # noqa: E402
from .checkpoint import CheckpointReader  # noqa: E402
from .metadata import RESULT_METADATA_FILE, describe_result, read_result_metadata  # noqa: E402
from .policies import (  # noqa: E402
    DEFAULT_MAX_SAMPLE_COUNT,
    Average,
    Policy,
    Weighted,
    checked_max_sample_count,
    checked_sample_count,
    make_policy,
)
from .weights import all_finite, check_weights, open_reader, read_checked, short_keys  # noqa: E402

__all__ = ["FederatedWeights", "federate", "federate_models"]

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]


class FederatedWeights(Dict[str, np.ndarray]):
    """Federated weights: an ordered mapping from checkpoint key to value.

    Keys are the variables' keys in the SavedModel checkpoint
    (``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``), in model order.
    ``policy`` names the policy used and ``sources`` the folders federated.
    """

    def __init__(self, items: Iterable[Tuple[str, np.ndarray]] = (), *, policy: str = "", sources: Sequence[str] = ()):
        super().__init__(items)
        self.policy = policy
        self.sources = list(sources)

    @property
    def num_parameters(self) -> int:
        return int(sum(v.size for v in self.values()))

    @property
    def nbytes(self) -> int:
        return int(sum(v.nbytes for v in self.values()))


def _work_dtype(dtype: tf.dtypes.DType) -> np.dtype:
    # float32 for float32 and narrower floats; float64 keeps doubles and integers exact
    return np.dtype(np.float64) if dtype == tf.float64 or dtype.is_integer else np.dtype(np.float32)


def _combine(policy: Policy, read: Callable[[int], np.ndarray], n: int, counts: Sequence[float], dtype: tf.dtypes.DType, key: str) -> np.ndarray:
    """Combine one variable; ``read(i)`` returns model i's value (a fresh array we own)."""
    if dtype == tf.string or dtype == tf.bool:
        first = read(0)
        for i in range(1, n):
            if not np.array_equal(read(i), first):
                raise FederationError(f"{short_keys([key])} ({dtype.name}) differs between models and cannot be combined")
        return first
    work = _work_dtype(dtype)
    values = (np.asarray(read(i)).astype(work, copy=False) for i in range(n))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught just below
        result = np.asarray(policy.combine(key, values, counts))
    if not all_finite(result):
        raise _NotFinite(f"the federated value of {short_keys([key])} is not finite (NaN or infinity); "
                         "nothing was saved")
    if dtype.is_integer:
        result = np.rint(result)
    return np.asarray(result.astype(dtype.as_numpy_dtype, copy=False))


class _NotFinite(FederationError):
    """A federated value is not finite."""


#: Policies whose result is not finite whenever one input is not (sums: NaN and
#: infinity propagate, even times a zero weight), so their inputs need no check of
#: their own: a non-finite result is traced back to its result folder instead.
_PROPAGATING = (Average, Weighted)


def _reader_of(readers: Sequence[Any], key: str, policy: Policy,
               dirs: Sequence[Path]) -> Callable[[int], np.ndarray]:
    """``read(i)``: model i's value of ``key``, refused if not finite (checked here, or
    through the result for the summing policies). For a policy that folds values in
    one at a time, every value after the first (which becomes its accumulator) is read
    into one reused buffer."""
    check = type(policy) not in _PROPAGATING
    if not policy.streams_values:
        return lambda i: read_checked(readers[i], key, dirs[i], check=check)
    scratch: Dict[str, np.ndarray] = {}

    def read(i: int) -> np.ndarray:
        if i == 0 or not isinstance(readers[i], CheckpointReader):
            return read_checked(readers[i], key, dirs[i], check=check)
        scratch["buffer"] = read_checked(readers[i], key, dirs[i], out=scratch.get("buffer"), check=check)
        return scratch["buffer"]

    return read

def _sample_counts(dirs: Sequence[Path], sample_counts: Optional[Sequence[float]],
                   max_sample_count: int) -> List[int]:
    if sample_counts is not None:
        if len(sample_counts) != len(dirs):
            raise UserInputError(f"got {len(sample_counts)} sample counts for {len(dirs)} models")
        counts = [checked_sample_count(c, describe_result(d), max_sample_count) for d, c in zip(dirs, sample_counts)]
    else:
        counts = []
        for d in dirs:
            samples = read_result_metadata(d).get("samples")
            if samples is None:
                raise FederationError(
                    f"weighted federation needs sample counts: pass sample_counts=, or {describe_result(d)} "
                    f"must have 'samples' in its {RESULT_METADATA_FILE}"
                )
            counts.append(checked_sample_count(samples, describe_result(d), max_sample_count))
    if sum(counts) <= 0:
        raise FederationError("weighted federation needs positive sample counts")
    return counts


def federate(
    model_dirs: Sequence[PathLike],
    policy: Union[str, Policy] = "average",
    sample_counts: Optional[Sequence[float]] = None,
    trim_fraction: float = 0.1,
    reference: Optional[Union[PathLike, "tf.keras.Model"]] = None,
    max_sample_count: int = DEFAULT_MAX_SAMPLE_COUNT,
) -> FederatedWeights:
    """Combine the weights of the accepted results in ``model_dirs`` into one set of weights.

    ``model_dirs`` are SavedModel folders of **accepted** results only; only their
    checkpoints (``variables/``) are read, with the strict reader. ``policy`` is
    ``"average"``, ``"weighted"`` (FedAvg; ``sample_counts`` default to the ``samples``
    each contributor recorded in its ``decentralml_result.json``, each capped at
    ``max_sample_count`` and summed exactly), ``"median"``, ``"trimmed_mean"``
    (``trim_fraction`` of the values dropped at each end) or a :class:`Policy` instance.
    Every result must hold exactly the weights of ``reference`` (the creator's model or
    its folder; default the first result), by key, shape and dtype, and only finite
    values; the federated values must be finite too. FederationError says which
    result or weight failed.

    Returns the combined value of every model weight, keyed by checkpoint key, in
    model order; pass it to :func:`save_federated_model` or :func:`apply_weights`.
    """
    dirs = [Path(d) for d in model_dirs]
    if not dirs:
        raise FederationError("no accepted results to federate")
    chosen = make_policy(policy, trim_fraction)
    chosen.check(len(dirs))
    cap = checked_max_sample_count(max_sample_count)
    counts = _sample_counts(dirs, sample_counts, cap) if chosen.needs_sample_counts else [1] * len(dirs)

    # The strict reader: its limits are checked before anything is read, and it also
    # reads the values (about 3x faster than TensorFlow's reader).
    readers = [open_reader(d) for d in dirs]
    specs = check_weights(dirs, readers, reference)

    out = FederatedWeights(policy=chosen.name or type(chosen).__name__, sources=[str(d) for d in dirs])
    for key, spec in specs.items():
        try:
            out[key] = _combine(chosen, _reader_of(readers, key, chosen, dirs), len(dirs), counts,
                                spec.dtype, key)
        except _NotFinite:
            for reader, model_dir in zip(readers, dirs):  # name the result that made it so, if one did
                read_checked(reader, key, model_dir)
            raise
    log.info("federated %d weights of %d models with %r", len(out), len(dirs), chosen)
    return out


def federate_models(
    models: Sequence["tf.keras.Model"],
    policy: Union[str, Policy] = "average",
    sample_counts: Optional[Sequence[float]] = None,
    trim_fraction: float = 0.1,
    max_sample_count: int = DEFAULT_MAX_SAMPLE_COUNT,
) -> List[np.ndarray]:
    """Like :func:`federate` for models already in memory; returns one array per ``model.weights``.

    Every variable (trainable or not) is combined; the result fits ``model.set_weights``.
    Prefer :func:`federate` on result folders: it does not need the N models in memory.
    The models must be the creator's own, with results' weights restored into them
    (:func:`restore_result_weights`); never a contributor's loaded SavedModel.
    """
    if not models:
        raise FederationError("no accepted models to federate")
    chosen = make_policy(policy, trim_fraction)
    chosen.check(len(models))
    cap = checked_max_sample_count(max_sample_count)
    if chosen.needs_sample_counts:
        if sample_counts is None or len(sample_counts) != len(models):
            raise UserInputError("weighted federation of in-memory models needs one sample count per model")
        counts = [checked_sample_count(c, f"model {i}", cap) for i, c in enumerate(sample_counts)]
        if sum(counts) <= 0:
            raise FederationError("weighted federation needs positive sample counts")
    else:
        counts = [1] * len(models)
    ref = models[0].weights
    for i, model in enumerate(models[1:], start=1):
        shapes = [tuple(w.shape) for w in model.weights]
        if shapes != [tuple(w.shape) for w in ref] or [w.dtype for w in model.weights] != [w.dtype for w in ref]:
            raise FederationError(f"model {i} ({model.name}) does not match the architecture of model 0 ({models[0].name})")
    out = []
    for j, var in enumerate(ref):
        dtype = tf.as_dtype(var.dtype)
        def read(i: int, j: int = j) -> np.ndarray:
            value = np.array(models[i].weights[j].numpy())
            if not all_finite(value):
                raise FederationError(f"model {i} ({models[i].name}) holds values that are not finite in {var.name}")
            return value

        out.append(_combine(chosen, read, len(models), counts, dtype, var.name))
    return out

