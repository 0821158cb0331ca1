"""Federating contributors' models: combine their weights into one model.

Only *accepted* results are federated: callers (``tasks.py``, the CLI, the example
creator script) validate first and pass the folders of accepted results only. This
module never looks at the chain or at validation verdicts.

Each contributor's result is a Keras SavedModel folder (``saved_model.pb``,
``keras_metadata.pb``, ``variables/``). Instead of loading every model with
``tf.keras.models.load_model`` (slow, and N models in memory), :func:`federate`
reads the weights straight from each folder's ``variables/`` checkpoint (the byte
ranges its index names, see :mod:`.tensor_bundle`), one variable at a time across
all N models:

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
    weights = federation.federate(accepted, policy="weighted")
    federation.save_federated_model(Path("model"), weights, Path("federated_model"))

A policy is a small class with one method that matters, ``aggregate``; pass an
instance instead of a name to use your own (see :class:`Policy`).
"""

from __future__ import annotations

import json
import logging
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
from .tensor_bundle import BundleReader, open_bundle  # noqa: E402

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
    "model_weights_by_key",
    "apply_weights",
    "save_federated_model",
]

log = logging.getLogger(__name__)

#: Written by the contributor bundle beside the model files of each result.
RESULT_METADATA_FILE = "decentralml_result.json"
#: Written by :func:`save_federated_model` beside the federated model's files.
FEDERATION_METADATA_FILE = "decentralml_federation.json"

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
        total_samples = float(sum(sample_counts))
        if total_samples <= 0:
            raise FederationError("weighted federation needs positive sample counts")
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
    """The ``decentralml_result.json`` a contributor wrote beside its model ({} if absent or unreadable)."""
    path = Path(model_dir) / RESULT_METADATA_FILE
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(model_dir: Path) -> str:
    """How error messages name a result: its contributor if known, and its folder."""
    contributor = read_result_metadata(model_dir).get("contributor_id")
    if contributor:
        return f"contributor {contributor!r} ({model_dir})"
    return f"result folder {model_dir}"


def _open_reader(model_dir: Path):
    prefix = _checkpoint_prefix(model_dir)
    if not Path(f"{prefix}.index").is_file():
        raise FederationError(
            f"{_describe(model_dir)} is not a SavedModel folder: {prefix}.index not found"
        )
    try:
        return tf.train.load_checkpoint(str(prefix))
    except Exception as exc:  # tf raises several error types for corrupt checkpoints
        raise FederationError(f"cannot read the weights of {_describe(model_dir)}: {exc}") from exc


def _graph_order(reader) -> List[str]:
    """Checkpoint keys in model order: a depth-first walk of the checkpoint's object graph."""
    try:
        from tensorflow.core.protobuf import trackable_object_graph_pb2

        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    except Exception:  # not a TF2 object-based checkpoint: fall back to name order
        return []
    order: List[str] = []
    seen = set()
    stack = [0]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = graph.nodes[node_id]
        order.extend(attr.checkpoint_key for attr in node.attributes)
        stack.extend(child.node_id for child in reversed(node.children))
    return order


def _specs_of_reader(reader) -> Dict[str, _WeightSpec]:
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    weight_keys = {k for k in shapes if _is_weight_key(k)}
    keys = [k for k in _graph_order(reader) if k in weight_keys]
    keys += sorted(weight_keys.difference(keys), key=_natural_key)
    return {k: _WeightSpec(tuple(shapes[k]), dtypes[k]) for k in keys}


def weight_specs(model_dir: PathLike) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    """The model weights stored in a SavedModel folder: checkpoint key -> (shape, dtype name)."""
    specs = _specs_of_reader(_open_reader(Path(model_dir)))
    return {k: (s.shape, s.dtype.name) for k, s in specs.items()}


def _layer_classes(model_dir: Path) -> Optional[List[Tuple[str, str]]]:
    """(object path, Keras class name) of each layer, from keras_metadata.pb; None if unavailable."""
    path = Path(model_dir) / "keras_metadata.pb"
    if not path.is_file():
        return None
    try:
        from tf_keras.protobuf import saved_metadata_pb2
    except ImportError:  # pragma: no cover - tf-keras is a dependency of the package
        return None
    metadata = saved_metadata_pb2.SavedMetadata()
    try:
        metadata.ParseFromString(path.read_bytes())
        layers = []
        for node in metadata.nodes:
            if node.identifier == "_tf_keras_metric":
                continue
            layers.append((node.node_path, json.loads(node.metadata).get("class_name", "")))
    except Exception:
        return None
    return layers


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
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check(model_dirs: Sequence[Path], readers: Sequence[Any], reference_dir: Optional[Path]) -> Dict[str, _WeightSpec]:
    if reference_dir is not None:
        ref_dir, ref_specs = reference_dir, _specs_of_reader(_open_reader(reference_dir))
    else:
        ref_dir, ref_specs = model_dirs[0], _specs_of_reader(readers[0])
    if not ref_specs:
        raise FederationError(f"{_describe(ref_dir)} holds no model weights")
    ref_layers = _layer_classes(ref_dir)
    for model_dir, reader in zip(model_dirs, readers):
        problems = _compare(ref_specs, _specs_of_reader(reader))
        layers = _layer_classes(model_dir)
        if ref_layers is not None and layers is not None and layers != ref_layers:
            diff = next(
                (f"{a[0]} is {a[1]}, expected {b[1]}" for a, b in zip(layers, ref_layers) if a != b),
                f"{len(layers)} layers, expected {len(ref_layers)}",
            )
            problems.insert(0, f"architecture differs: {diff}")
        if problems:
            raise FederationError(
                f"{_describe(model_dir)} does not match the model of {ref_dir}: " + "; ".join(problems)
            )
    return ref_specs


def check_compatible(model_dirs: Sequence[PathLike], reference: Optional[PathLike] = None) -> None:
    """Raise FederationError naming the first result whose architecture, shapes or dtypes differ.

    Results are compared with ``reference`` (e.g. the creator's model folder) or, by
    default, with the first of ``model_dirs``. Only the checkpoint index and
    ``keras_metadata.pb`` are read, not the weights.
    """
    dirs = [Path(d) for d in model_dirs]
    if not dirs:
        raise FederationError("no accepted results to federate")
    readers = [_open_reader(d) for d in dirs]
    _check(dirs, readers, Path(reference) if reference is not None else None)


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
    result = np.asarray(policy.aggregate(values, counts))
    if dtype.is_integer:
        result = np.rint(result)
    return np.asarray(result.astype(dtype.as_numpy_dtype, copy=False))


def _reader_of(readers: Sequence[Any], key: str, policy: Policy) -> Callable[[int], np.ndarray]:
    """``read(i)``: model i's value of ``key``. For a policy that folds values in one
    at a time, every value after the first (which becomes its accumulator) is read
    into one reused buffer."""
    if not policy.streams_values:
        return lambda i: readers[i].get_tensor(key)
    scratch: Dict[str, np.ndarray] = {}

    def read(i: int) -> np.ndarray:
        if i == 0 or not isinstance(readers[i], BundleReader):
            return readers[i].get_tensor(key)
        scratch["buffer"] = readers[i].get_tensor(key, out=scratch.get("buffer"))
        return scratch["buffer"]

    return read


def _sample_counts(dirs: Sequence[Path], sample_counts: Optional[Sequence[float]]) -> List[float]:
    if sample_counts is not None:
        if len(sample_counts) != len(dirs):
            raise UserInputError(f"got {len(sample_counts)} sample counts for {len(dirs)} models")
        counts = [float(c) for c in sample_counts]
    else:
        counts = []
        for d in dirs:
            samples = read_result_metadata(d).get("samples")
            if not isinstance(samples, (int, float)) or isinstance(samples, bool):
                raise FederationError(
                    f"weighted federation needs sample counts: pass sample_counts=, or {_describe(d)} "
                    f"must have 'samples' in its {RESULT_METADATA_FILE}"
                )
            counts.append(float(samples))
    for d, c in zip(dirs, counts):
        if not np.isfinite(c) or c < 0:
            raise FederationError(f"invalid sample count {c} for {_describe(d)}")
    return counts


def federate(
    model_dirs: Sequence[PathLike],
    policy: Union[str, Policy] = "average",
    sample_counts: Optional[Sequence[float]] = None,
    trim_fraction: float = 0.1,
    reference: Optional[PathLike] = None,
) -> FederatedWeights:
    """Combine the weights of the accepted results in ``model_dirs`` into one set of weights.

    ``model_dirs`` are SavedModel folders of **accepted** results only. ``policy`` is
    ``"average"``, ``"weighted"`` (FedAvg; ``sample_counts`` default to the
    ``samples`` each contributor recorded in its ``decentralml_result.json``),
    ``"median"``, ``"trimmed_mean"`` (``trim_fraction`` of the values dropped at each
    end) or a :class:`Policy` instance. The results are first checked against
    ``reference`` (or the first result) with :func:`check_compatible`.

    Returns the combined value of every model weight, keyed by checkpoint key, in
    model order; pass it to :func:`save_federated_model` or :func:`apply_weights`.
    """
    dirs = [Path(d) for d in model_dirs]
    if not dirs:
        raise FederationError("no accepted results to federate")
    chosen = make_policy(policy, trim_fraction)
    chosen.check(len(dirs))
    counts = _sample_counts(dirs, sample_counts) if chosen.needs_sample_counts else [1.0] * len(dirs)

    readers = [_open_reader(d) for d in dirs]
    specs = _check(dirs, readers, Path(reference) if reference is not None else None)
    # The values themselves come through the direct file reader (about 3x faster).
    values = [open_bundle(_checkpoint_prefix(d)) for d in dirs]

    out = FederatedWeights(policy=chosen.name or type(chosen).__name__, sources=[str(d) for d in dirs])
    for key, spec in specs.items():
        out[key] = _combine(chosen, _reader_of(values, key, chosen), len(dirs), counts, spec.dtype, key)
    log.info("federated %d weights of %d models with %r", len(out), len(dirs), chosen)
    return out


def federate_models(
    models: Sequence["tf.keras.Model"],
    policy: Union[str, Policy] = "average",
    sample_counts: Optional[Sequence[float]] = None,
    trim_fraction: float = 0.1,
) -> List[np.ndarray]:
    """Like :func:`federate` for models already in memory; returns one array per ``model.weights``.

    Every variable (trainable or not) is combined; the result fits ``model.set_weights``.
    Prefer :func:`federate` on result folders: it does not need the N models in memory.
    """
    if not models:
        raise FederationError("no accepted models to federate")
    chosen = make_policy(policy, trim_fraction)
    chosen.check(len(models))
    if chosen.needs_sample_counts:
        if sample_counts is None or len(sample_counts) != len(models):
            raise UserInputError("weighted federation of in-memory models needs one sample count per model")
        counts = [float(c) for c in sample_counts]
    else:
        counts = [1.0] * len(models)
    ref = models[0].weights
    for i, model in enumerate(models[1:], start=1):
        shapes = [tuple(w.shape) for w in model.weights]
        if shapes != [tuple(w.shape) for w in ref] or [w.dtype for w in model.weights] != [w.dtype for w in ref]:
            raise FederationError(f"model {i} ({model.name}) does not match the architecture of model 0 ({models[0].name})")
    out = []
    for j, var in enumerate(ref):
        dtype = tf.as_dtype(var.dtype)
        out.append(_combine(chosen, lambda i: np.array(models[i].weights[j].numpy()), len(models), counts, dtype, var.name))
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
    for key, value in weights.items():
        variables[key].assign(value)
    return model


def save_federated_model(
    template_model_dir: PathLike,
    weights: Mapping[str, np.ndarray],
    out_dir: PathLike,
) -> Path:
    """Load the creator's model from ``template_model_dir``, set ``weights`` and save it to ``out_dir``.

    The saved folder is an ordinary SavedModel (load it, evaluate, train further) with
    a ``decentralml_federation.json`` beside it naming the policy and the results used.
    """
    template = Path(template_model_dir)
    out = Path(out_dir)
    _open_reader(template)  # a clear error when the template is not a SavedModel
    model = tf.keras.models.load_model(str(template))
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
