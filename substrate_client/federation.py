"""Federating contributors' models: combine their weights into one model.

Only *accepted* results are federated: callers (``tasks.py``, the CLI, the example
creator script) validate first and pass the folders of accepted results only. This
module never looks at the chain or at validation verdicts.

Each contributor's result is a Keras SavedModel folder (``saved_model.pb``,
``keras_metadata.pb``, ``variables/``), and it is untrusted: loading it with
``tf.keras.models.load_model`` would run whatever it carries (a Lambda layer's
Python, graph ops such as ``tf.io.write_file``). So a result is never loaded: only
its ``variables/`` checkpoint is read, by the strict reader of :mod:`.tensor_bundle`
(every size checked against a limit and the files, nothing handed to TensorFlow's
reader), and every weight must match the creator's model by checkpoint key, dtype
and shape and be finite. The creator's own model (:func:`load_creator_model`) is the
only model ever loaded; results' weights are set into it
(:func:`restore_result_weights`, :func:`save_federated_model`).

:func:`federate` reads the weights one variable at a time across all N models
(the byte ranges each index names, straight from the files):

* ``average`` and ``weighted`` keep a running sum, so besides the result they hold
  one copy of one variable whatever the number of models;
* ``median`` and ``trimmed_mean`` need the N copies of one variable at a time.

Which checkpoint entries are model weights is read from the keys of the Keras
object graph (``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``). Every
variable the model owns is federated, trainable or not (BatchNormalization's moving
mean and variance included); optimizer state (``optimizer/...``, slot variables),
compiled metrics (``keras_api/...``) and ``save_counter`` are not model weights and
are skipped.

Typical use::

    from substrate_client import federation

    accepted = [Path("results/mnist_mlp_alice"), Path("results/mnist_mlp_bob")]
    weights = federation.federate(accepted, policy="weighted", reference=Path("model"),
                                  max_sample_count=60_000)
    federation.save_federated_model(Path("model"), weights, Path("federated_model"))

Weighted federation trusts the sample counts contributors report: each is capped at
``max_sample_count`` (the creator's setting, default :data:`DEFAULT_MAX_SAMPLE_COUNT`)
and they are summed exactly. Non-finite values, in a result or in the federated
weights, are refused with FederationError; nothing is saved.

A policy is a small class with one method that matters, ``aggregate``; pass an
instance instead of a name to use your own (see :class:`Policy`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

# The project uses tf-keras (Keras 2) so that model.save(dir) writes SavedModel folders.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
import tensorflow as tf  # noqa: E402  (must follow the environment setting above)

from .errors import FederationError, UserInputError  # noqa: E402
from .tensor_bundle import BundleError, BundleReader, open_bundle  # noqa: E402

__all__ = [
    "RESULT_METADATA_FILE",
    "FederatedWeights",
    "Policy",
    "Average",
    "Weighted",
    "Median",
    "TrimmedMean",
    "POLICIES",
    "make_policy",
    "federate",
    "federate_models",
    "check_compatible",
    "weight_specs",
    "read_result_metadata",
    "read_result_weights",
    "restore_result_weights",
    "DEFAULT_MAX_SAMPLE_COUNT",
    "model_weights_by_key",
    "apply_weights",
    "load_creator_model",
    "save_federated_model",
]

log = logging.getLogger(__name__)

#: Written by the contributor bundle beside the model files of each result.
RESULT_METADATA_FILE = "decentralml_result.json"
#: Written by :func:`save_federated_model` beside the federated model's files.
FEDERATION_METADATA_FILE = "decentralml_federation.json"
#: The most a result's metadata file may weigh; a larger one is ignored.
MAX_METADATA_BYTES = 1024 * 1024
#: The most samples one result counts for in weighted federation (the creator's
#: setting ``max_sample_count``): contributors report their own counts, so a liar's
#: weight is at most this much against the others'. Larger counts are capped.
DEFAULT_MAX_SAMPLE_COUNT = 1_000_000

_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Path components under which the checkpoint keeps state that is not a model weight.
_NOT_WEIGHTS = {"optimizer", "keras_api", "save_counter"}

PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------- results


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


@dataclass(frozen=True)
class _WeightSpec:
    shape: Tuple[int, ...]
    dtype: tf.dtypes.DType


# --------------------------------------------------------------------------- policies


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


# --------------------------------------------------------------------------- reading results


def _is_weight_key(key: str) -> bool:
    if not key.endswith(_VALUE_SUFFIX) or "/.OPTIMIZER_SLOT/" in key:
        return False
    parts = key[: -len(_VALUE_SUFFIX)].split("/")
    return not any(part in _NOT_WEIGHTS for part in parts)


def _natural_key(key: str) -> List[Any]:
    # layer_with_weights-2 before layer_with_weights-10
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", key)]


def _checkpoint_prefix(model_dir: Path) -> Path:
    return Path(model_dir) / "variables" / "variables"


def read_result_metadata(model_dir: PathLike) -> Dict[str, Any]:
    """The ``decentralml_result.json`` a contributor wrote beside its model ({} if absent,
    unreadable or larger than :data:`MAX_METADATA_BYTES`). It is the contributor's word:
    data to show and check, never trusted."""
    path = Path(model_dir) / RESULT_METADATA_FILE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_METADATA_BYTES + 1)
        if len(raw) > MAX_METADATA_BYTES:
            log.warning("%s is larger than %d bytes; ignored", path, MAX_METADATA_BYTES)
            return {}
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(model_dir: Path) -> str:
    """How error messages name a result: its contributor if known, and its folder."""
    contributor = read_result_metadata(model_dir).get("contributor_id")
    if isinstance(contributor, str) and contributor:
        return f"contributor {contributor[:64]!r} ({model_dir})"
    return f"result folder {model_dir}"


def _open_reader(model_dir: Path, strict: bool = True):
    """The variables of a SavedModel folder. ``strict`` (the default, for results):
    our own reader with its limits, never TensorFlow's; ``strict=False`` only for the
    creator's own model."""
    prefix = _checkpoint_prefix(model_dir)
    if not Path(f"{prefix}.index").is_file():
        raise FederationError(
            f"{_describe(model_dir)} is not a SavedModel folder: {prefix}.index not found"
        )
    try:
        return BundleReader(prefix, strict=True) if strict else open_bundle(prefix)
    except (BundleError, OSError) as exc:
        raise FederationError(f"cannot read the weights of {_describe(model_dir)}: {exc}") from exc
    except Exception as exc:  # tf raises several error types for corrupt checkpoints
        raise FederationError(f"cannot read the weights of {_describe(model_dir)}: {exc}") from exc


def _graph_order(reader) -> List[str]:
    """Checkpoint keys in model order: a depth-first walk of the checkpoint's object graph."""
    try:
        from tensorflow.core.protobuf import trackable_object_graph_pb2

        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    except Exception:  # not a TF2 object-based checkpoint, or unreadable: fall back to name order
        return []
    order: List[str] = []
    seen = set()
    stack = [0]
    while stack:
        node_id = stack.pop()
        if node_id in seen or not 0 <= node_id < len(graph.nodes):
            continue
        seen.add(node_id)
        node = graph.nodes[node_id]
        order.extend(attr.checkpoint_key for attr in node.attributes)
        stack.extend(child.node_id for child in reversed(node.children))
    return order


def _specs_of_reader(reader, ordered: bool = True) -> Dict[str, _WeightSpec]:
    """The model weights a checkpoint holds; in model order when ``ordered`` (which
    reads its object graph), else by name."""
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    weight_keys = {k for k in shapes if _is_weight_key(k)}
    keys = [k for k in _graph_order(reader) if k in weight_keys] if ordered else []
    keys += sorted(weight_keys.difference(keys), key=_natural_key)
    return {k: _WeightSpec(tuple(shapes[k]), dtypes[k]) for k in keys}


def _model_variables(model: "tf.keras.Model") -> Dict[str, "tf.Variable"]:
    """The model's weights (not its optimizer state or metrics), keyed as in its checkpoint."""
    return {k: v for k, v in model_weights_by_key(model).items() if _is_weight_key(k)}


def _specs_of_model(model: "tf.keras.Model") -> Dict[str, _WeightSpec]:
    return {k: _WeightSpec(tuple(v.shape), tf.as_dtype(v.dtype)) for k, v in _model_variables(model).items()}


def _reference_specs(reference: Union[PathLike, "tf.keras.Model"]) -> Tuple[str, Dict[str, _WeightSpec]]:
    """(how to name it, its weights) for the creator's model, given as a model or a folder."""
    if isinstance(reference, tf.keras.Model):
        return f"the model {reference.name!r}", _specs_of_model(reference)
    ref_dir = Path(reference)
    return str(ref_dir), _specs_of_reader(_open_reader(ref_dir, strict=False))


def weight_specs(model_dir: PathLike) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    """The model weights stored in a SavedModel folder: checkpoint key -> (shape, dtype name)."""
    specs = _specs_of_reader(_open_reader(Path(model_dir)))
    return {k: (s.shape, s.dtype.name) for k, s in specs.items()}


def _compare(reference: Dict[str, _WeightSpec], specs: Dict[str, _WeightSpec]) -> List[str]:
    problems = []
    missing = [k for k in reference if k not in specs]
    extra = [k for k in specs if k not in reference]
    if missing:
        problems.append(f"missing weights {_short(missing)}")
    if extra:
        problems.append(f"unexpected weights {_short(extra)}")
    for key, ref in reference.items():
        spec = specs.get(key)
        if spec is None:
            continue
        if spec.shape != ref.shape:
            problems.append(f"{_short([key])} has shape {list(spec.shape)}, expected {list(ref.shape)}")
        if spec.dtype != ref.dtype:
            problems.append(f"{_short([key])} has dtype {spec.dtype.name}, expected {ref.dtype.name}")
    return problems


def _short(keys: Sequence[str], limit: int = 3) -> str:
    names = [k[: -len(_VALUE_SUFFIX)] if k.endswith(_VALUE_SUFFIX) else k for k in keys]
    names = [n if len(n) <= 80 else n[:77] + "..." for n in names]
    text = ", ".join(repr(n) if not n.isprintable() else n for n in names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check(model_dirs: Sequence[Path], readers: Sequence[Any],
           reference: Optional[Union[PathLike, "tf.keras.Model"]]) -> Dict[str, _WeightSpec]:
    """The weights to federate: the reference's (the creator's model, when given), which
    every result must hold exactly, by key, shape and dtype. Only the results' checkpoint
    indexes are read here; their graphs and Keras metadata never are."""
    if reference is not None:
        ref_name, ref_specs = _reference_specs(reference)
    else:
        ref_name, ref_specs = str(model_dirs[0]), _specs_of_reader(readers[0])
    if not ref_specs:
        raise FederationError(f"{ref_name} holds no model weights")
    for model_dir, reader in zip(model_dirs, readers):
        problems = _compare(ref_specs, _specs_of_reader(reader, ordered=False))
        if problems:
            raise FederationError(
                f"{_describe(model_dir)} does not match the model of {ref_name}: " + "; ".join(problems)
            )
    return ref_specs


def check_compatible(model_dirs: Sequence[PathLike],
                     reference: Optional[Union[PathLike, "tf.keras.Model"]] = None) -> None:
    """Raise FederationError naming the first result whose weights differ in key, shape or dtype.

    Results are compared with ``reference`` (the creator's model, or its folder) or, by
    default, with the first of ``model_dirs``. Only the checkpoint indexes are read.
    A result's own layer stack (its graph, its Keras metadata) is never looked at: the
    weights are always set into the creator's model.
    """
    dirs = [Path(d) for d in model_dirs]
    if not dirs:
        raise FederationError("no accepted results to federate")
    readers = [_open_reader(d) for d in dirs]
    _check(dirs, readers, reference)


def _all_finite(value: np.ndarray) -> bool:
    """Whether a float array holds no NaN or infinity (min and max propagate both; no copy)."""
    if value.dtype.kind not in "fc" or value.size == 0:
        return True
    return bool(np.isfinite(value.min()) and np.isfinite(value.max()))


def read_result_weights(result_dir: PathLike, reference: Union[PathLike, "tf.keras.Model"]) -> Dict[str, np.ndarray]:
    """A contributor's weights, checked against the creator's model ``reference``.

    Only the checkpoint (``variables/``) of ``result_dir`` is read, with the strict
    reader: FederationError names the problem when the result holds extra, missing or
    differently shaped or typed weights, or values that are not finite, or when its
    index or data is malformed or states sizes beyond the limits. Nothing else in the
    folder (``saved_model.pb``, ``keras_metadata.pb``) is read.
    """
    result_dir = Path(result_dir)
    ref_name, specs = _reference_specs(reference)
    reader = _open_reader(result_dir)
    problems = _compare(specs, _specs_of_reader(reader, ordered=False))
    if problems:
        raise FederationError(f"{_describe(result_dir)} does not match the model of {ref_name}: "
                              + "; ".join(problems))
    values: Dict[str, np.ndarray] = {}
    for key in specs:
        values[key] = _read_checked(reader, key, result_dir)
    return values


def _read_checked(reader: Any, key: str, model_dir: Path, out: Optional[np.ndarray] = None,
                  check: bool = True) -> np.ndarray:
    try:
        value = reader.get_tensor(key, out=out) if isinstance(reader, BundleReader) else reader.get_tensor(key)
    except (BundleError, OSError, KeyError) as exc:
        raise FederationError(f"cannot read {_short([key])} of {_describe(model_dir)}: {exc}") from exc
    value = np.asarray(value)
    if check and not _all_finite(value):
        raise FederationError(f"{_describe(model_dir)} holds values that are not finite (NaN or "
                              f"infinity) in {_short([key])}")
    return value


def restore_result_weights(model: "tf.keras.Model", result_dir: PathLike) -> "tf.keras.Model":
    """Set a contributor's weights into the creator's ``model``, in place.

    The one way a result becomes a model on the creator's side: the creator's own
    architecture, with the result's variables restored by checkpoint key, dtype and
    shape (see :func:`read_result_weights`; nothing is assigned unless every weight
    checks out). The result's graph is never loaded, so nothing it carries runs.
    """
    values = read_result_weights(result_dir, model)
    variables = _model_variables(model)
    for key, value in values.items():
        variables[key].assign(value)
    return model


# --------------------------------------------------------------------------- federating


def _work_dtype(dtype: tf.dtypes.DType) -> np.dtype:
    # float32 for float32 and narrower floats; float64 keeps doubles and integers exact
    return np.dtype(np.float64) if dtype == tf.float64 or dtype.is_integer else np.dtype(np.float32)


def _combine(policy: Policy, read: Callable[[int], np.ndarray], n: int, counts: Sequence[float], dtype: tf.dtypes.DType, key: str) -> np.ndarray:
    """Combine one variable; ``read(i)`` returns model i's value (a fresh array we own)."""
    if dtype == tf.string or dtype == tf.bool:
        first = read(0)
        for i in range(1, n):
            if not np.array_equal(read(i), first):
                raise FederationError(f"{_short([key])} ({dtype.name}) differs between models and cannot be combined")
        return first
    work = _work_dtype(dtype)
    values = (np.asarray(read(i)).astype(work, copy=False) for i in range(n))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught just below
        result = np.asarray(policy.aggregate(values, counts))
    if not _all_finite(result):
        raise _NotFinite(f"the federated value of {_short([key])} is not finite (NaN or infinity); "
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
        return lambda i: _read_checked(readers[i], key, dirs[i], check=check)
    scratch: Dict[str, np.ndarray] = {}

    def read(i: int) -> np.ndarray:
        if i == 0 or not isinstance(readers[i], BundleReader):
            return _read_checked(readers[i], key, dirs[i], check=check)
        scratch["buffer"] = _read_checked(readers[i], key, dirs[i], out=scratch.get("buffer"), check=check)
        return scratch["buffer"]

    return read


def _checked_count(value: Any, what: str, max_sample_count: int) -> int:
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


def _check_max_sample_count(max_sample_count: int) -> int:
    if isinstance(max_sample_count, bool) or not isinstance(max_sample_count, (int, np.integer)) \
            or max_sample_count < 1:
        raise UserInputError(f"max_sample_count must be a whole number of at least 1, got {max_sample_count!r}")
    return int(max_sample_count)


def _sample_counts(dirs: Sequence[Path], sample_counts: Optional[Sequence[float]],
                   max_sample_count: int) -> List[int]:
    if sample_counts is not None:
        if len(sample_counts) != len(dirs):
            raise UserInputError(f"got {len(sample_counts)} sample counts for {len(dirs)} models")
        counts = [_checked_count(c, _describe(d), max_sample_count) for d, c in zip(dirs, sample_counts)]
    else:
        counts = []
        for d in dirs:
            samples = read_result_metadata(d).get("samples")
            if samples is None:
                raise FederationError(
                    f"weighted federation needs sample counts: pass sample_counts=, or {_describe(d)} "
                    f"must have 'samples' in its {RESULT_METADATA_FILE}"
                )
            counts.append(_checked_count(samples, _describe(d), max_sample_count))
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
    cap = _check_max_sample_count(max_sample_count)
    counts = _sample_counts(dirs, sample_counts, cap) if chosen.needs_sample_counts else [1] * len(dirs)

    # The strict reader: its limits are checked before anything is read, and it also
    # reads the values (about 3x faster than TensorFlow's reader).
    readers = [_open_reader(d) for d in dirs]
    specs = _check(dirs, readers, reference)

    out = FederatedWeights(policy=chosen.name or type(chosen).__name__, sources=[str(d) for d in dirs])
    for key, spec in specs.items():
        try:
            out[key] = _combine(chosen, _reader_of(readers, key, chosen, dirs), len(dirs), counts,
                                spec.dtype, key)
        except _NotFinite:
            for reader, model_dir in zip(readers, dirs):  # name the result that made it so, if one did
                _read_checked(reader, key, model_dir)
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
    cap = _check_max_sample_count(max_sample_count)
    if chosen.needs_sample_counts:
        if sample_counts is None or len(sample_counts) != len(models):
            raise UserInputError("weighted federation of in-memory models needs one sample count per model")
        counts = [_checked_count(c, f"model {i}", cap) for i, c in enumerate(sample_counts)]
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
            if not _all_finite(value):
                raise FederationError(f"model {i} ({models[i].name}) holds values that are not finite in {var.name}")
            return value

        out.append(_combine(chosen, read, len(models), counts, dtype, var.name))
    return out


# --------------------------------------------------------------------------- applying


def model_weights_by_key(model: "tf.keras.Model") -> Dict[str, "tf.Variable"]:
    """The model's variables keyed as in its SavedModel checkpoint.

    Walks the model's object graph breadth first, as TensorFlow does when it writes
    a checkpoint, so the first path reaching a variable is its key.
    """
    from collections import deque

    found: Dict[str, tf.Variable] = {}
    seen = {id(model)}
    queue = deque([(model, "")])
    while queue:
        obj, path = queue.popleft()
        for name, child in tf.train.TrackableView(obj).children(obj).items():
            if id(child) in seen:
                continue
            seen.add(id(child))
            child_path = f"{path}{_escape(name)}"
            if isinstance(child, tf.Variable):
                found[child_path + _VALUE_SUFFIX] = child
            queue.append((child, child_path + "/"))
    return found


def _escape(name: str) -> str:
    # tensorflow/python/checkpoint/trackable_view.py: escape "." and "/" in local names
    return name.replace(".", "..").replace("/", ".S")


def apply_weights(model: "tf.keras.Model", weights: Mapping[str, np.ndarray]) -> "tf.keras.Model":
    """Set ``model``'s variables from federated ``weights`` (checkpoint key -> value).

    Every key must name a variable of the model with the same shape; variables not
    in ``weights`` (optimizer state, metrics) are left as they are.
    """
    variables = model_weights_by_key(model)
    missing = [k for k in weights if k not in variables]
    if missing:
        raise FederationError(f"the model {model.name!r} has no variables {_short(missing)}")
    for key, value in weights.items():
        var = variables[key]
        if tuple(var.shape) != tuple(np.shape(value)):
            raise FederationError(
                f"{_short([key])} has shape {list(np.shape(value))}, the model {model.name!r} expects {list(var.shape)}"
            )
        if not _all_finite(np.asarray(value)):
            raise FederationError(f"{_short([key])} holds values that are not finite (NaN or infinity)")
    for key, value in weights.items():
        variables[key].assign(value)
    return model


def load_creator_model(model_dir: PathLike, compile: bool = True) -> "tf.keras.Model":
    """Load the creator's own model from a SavedModel folder she made.

    Loading a SavedModel runs what it carries (Lambda layers, graph ops), so this is
    only for the creator's own files: a folder holding a contributor's
    ``decentralml_result.json`` is refused. A result's weights go into this model with
    :func:`restore_result_weights`.
    """
    folder = Path(model_dir)
    if (folder / RESULT_METADATA_FILE).exists():
        raise FederationError(
            f"{folder} is a contributor's result ({RESULT_METADATA_FILE}), not the creator's model: "
            "loading it would run its code. Use the creator's own model (the task bundle's, or --template)"
        )
    if not (folder / "saved_model.pb").is_file():
        raise FederationError(f"{folder} is not a SavedModel folder (no saved_model.pb)")
    try:
        return tf.keras.models.load_model(str(folder), compile=compile)
    except Exception as exc:
        raise FederationError(f"cannot load the creator's model in {folder}: {type(exc).__name__}: {exc}") from exc


def save_federated_model(
    template_model_dir: Union[PathLike, "tf.keras.Model"],
    weights: Mapping[str, np.ndarray],
    out_dir: PathLike,
) -> Path:
    """Set ``weights`` into the creator's model and save it to ``out_dir``.

    ``template_model_dir`` is the creator's model, or her SavedModel folder
    (:func:`load_creator_model`: never a contributor's result, whose graph would run).
    The saved folder is an ordinary SavedModel (load it, evaluate, train further) with
    a ``decentralml_federation.json`` beside it naming the policy and the results used.
    """
    out = Path(out_dir)
    if isinstance(template_model_dir, tf.keras.Model):
        model, template = template_model_dir, template_model_dir.name
    else:
        template = Path(template_model_dir)
        model = load_creator_model(template)
    apply_weights(model, weights)
    model.save(str(out))
    info = {
        "policy": getattr(weights, "policy", ""),
        "sources": getattr(weights, "sources", []),
        "template": str(template),
        "num_weights": len(weights),
    }
    (out / FEDERATION_METADATA_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log.info("saved the federated model to %s", out)
    return out
