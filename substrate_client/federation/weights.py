"""Which checkpoint entries are a model's weights, and reading a result's weights safely.

Each contributor's result is a Keras SavedModel folder (``saved_model.pb``,
``keras_metadata.pb``, ``variables/``), and it is untrusted: loading it with
``tf.keras.models.load_model`` would run whatever it carries (a Lambda layer's
Python, graph ops such as ``tf.io.write_file``). So a result is never loaded: only
its ``variables/`` checkpoint is read, by the strict reader of :mod:`.checkpoint`
(every size checked against a limit and the files, nothing handed to TensorFlow's
reader), and every weight must match the creator's model by checkpoint key, dtype
and shape and be finite.

Which checkpoint entries are model weights is read from the keys of the Keras
object graph (``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``). Every
variable the model owns is a weight, trainable or not (BatchNormalization's moving
mean and variance included); optimizer state (``optimizer/...``, slot variables),
compiled metrics (``keras_api/...``) and ``save_counter`` are not model weights and
are skipped.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..tensorflow_setup import configure

configure()
import tensorflow as tf  # noqa: E402  (must follow the environment setting above)

from ..errors import FederationError  # noqa: E402
from .checkpoint import CheckpointError, CheckpointReader, open_checkpoint  # noqa: E402
from .metadata import describe_result  # noqa: E402

__all__ = [
    "weight_specs",
    "check_compatible",
    "read_result_weights",
    "model_weights_by_key",
]

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Path components under which the checkpoint keeps state that is not a model weight.
_NOT_WEIGHTS = {"optimizer", "keras_api", "save_counter"}

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class WeightSpec:
    """A model weight's shape and dtype."""

    shape: Tuple[int, ...]
    dtype: tf.dtypes.DType


def is_weight_key(key: str) -> bool:
    """Whether a checkpoint key names a model weight (not optimizer state, metrics or the counter)."""
    if not key.endswith(VALUE_SUFFIX) or "/.OPTIMIZER_SLOT/" in key:
        return False
    parts = key[: -len(VALUE_SUFFIX)].split("/")
    return not any(part in _NOT_WEIGHTS for part in parts)


def _natural_key(key: str) -> List[Any]:
    # layer_with_weights-2 before layer_with_weights-10
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", key)]


def _checkpoint_prefix(model_dir: Path) -> Path:
    return Path(model_dir) / "variables" / "variables"


def open_reader(model_dir: Path, strict: bool = True):
    """The variables of a SavedModel folder. ``strict`` (the default, for results):
    our own reader with its limits, never TensorFlow's; ``strict=False`` only for the
    creator's own model."""
    prefix = _checkpoint_prefix(model_dir)
    if not Path(f"{prefix}.index").is_file():
        raise FederationError(
            f"{describe_result(model_dir)} is not a SavedModel folder: {prefix}.index not found"
        )
    try:
        return CheckpointReader(prefix, strict=True) if strict else open_checkpoint(prefix)
    except (CheckpointError, OSError) as exc:
        raise FederationError(f"cannot read the weights of {describe_result(model_dir)}: {exc}") from exc
    except Exception as exc:  # tf raises several error types for corrupt checkpoints
        raise FederationError(f"cannot read the weights of {describe_result(model_dir)}: {exc}") from exc


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


def specs_of_reader(reader, ordered: bool = True) -> Dict[str, WeightSpec]:
    """The model weights a checkpoint holds; in model order when ``ordered`` (which
    reads its object graph), else by name."""
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    weight_keys = {k for k in shapes if is_weight_key(k)}
    keys = [k for k in _graph_order(reader) if k in weight_keys] if ordered else []
    keys += sorted(weight_keys.difference(keys), key=_natural_key)
    return {k: WeightSpec(tuple(shapes[k]), dtypes[k]) for k in keys}


def model_variables(model: "tf.keras.Model") -> Dict[str, "tf.Variable"]:
    """The model's weights (not its optimizer state or metrics), keyed as in its checkpoint."""
    return {k: v for k, v in model_weights_by_key(model).items() if is_weight_key(k)}


def _specs_of_model(model: "tf.keras.Model") -> Dict[str, WeightSpec]:
    return {k: WeightSpec(tuple(v.shape), tf.as_dtype(v.dtype)) for k, v in model_variables(model).items()}


def reference_specs(reference: Union[PathLike, "tf.keras.Model"]) -> Tuple[str, Dict[str, WeightSpec]]:
    """(how to name it, its weights) for the creator's model, given as a model or a folder."""
    if isinstance(reference, tf.keras.Model):
        return f"the model {reference.name!r}", _specs_of_model(reference)
    ref_dir = Path(reference)
    return str(ref_dir), specs_of_reader(open_reader(ref_dir, strict=False))


def weight_specs(model_dir: PathLike) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    """The model weights stored in a SavedModel folder: checkpoint key -> (shape, dtype name)."""
    specs = specs_of_reader(open_reader(Path(model_dir)))
    return {k: (s.shape, s.dtype.name) for k, s in specs.items()}


def _compare(reference: Dict[str, WeightSpec], specs: Dict[str, WeightSpec]) -> List[str]:
    problems = []
    missing = [k for k in reference if k not in specs]
    extra = [k for k in specs if k not in reference]
    if missing:
        problems.append(f"missing weights {short_keys(missing)}")
    if extra:
        problems.append(f"unexpected weights {short_keys(extra)}")
    for key, ref in reference.items():
        spec = specs.get(key)
        if spec is None:
            continue
        if spec.shape != ref.shape:
            problems.append(f"{short_keys([key])} has shape {list(spec.shape)}, expected {list(ref.shape)}")
        if spec.dtype != ref.dtype:
            problems.append(f"{short_keys([key])} has dtype {spec.dtype.name}, expected {ref.dtype.name}")
    return problems


def short_keys(keys: Sequence[str], limit: int = 3) -> str:
    names = [k[: -len(VALUE_SUFFIX)] if k.endswith(VALUE_SUFFIX) else k for k in keys]
    names = [n if len(n) <= 80 else n[:77] + "..." for n in names]
    text = ", ".join(repr(n) if not n.isprintable() else n for n in names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_weights(model_dirs: Sequence[Path], readers: Sequence[Any],
           reference: Optional[Union[PathLike, "tf.keras.Model"]]) -> Dict[str, WeightSpec]:
    """The weights to federate: the reference's (the creator's model, when given), which
    every result must hold exactly, by key, shape and dtype. Only the results' checkpoint
    indexes are read here; their graphs and Keras metadata never are."""
    if reference is not None:
        ref_name, ref_specs = reference_specs(reference)
    else:
        ref_name, ref_specs = str(model_dirs[0]), specs_of_reader(readers[0])
    if not ref_specs:
        raise FederationError(f"{ref_name} holds no model weights")
    for model_dir, reader in zip(model_dirs, readers):
        problems = _compare(ref_specs, specs_of_reader(reader, ordered=False))
        if problems:
            raise FederationError(
                f"{describe_result(model_dir)} does not match the model of {ref_name}: " + "; ".join(problems)
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
    readers = [open_reader(d) for d in dirs]
    check_weights(dirs, readers, reference)


def all_finite(value: np.ndarray) -> bool:
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
    ref_name, specs = reference_specs(reference)
    reader = open_reader(result_dir)
    problems = _compare(specs, specs_of_reader(reader, ordered=False))
    if problems:
        raise FederationError(f"{describe_result(result_dir)} does not match the model of {ref_name}: "
                              + "; ".join(problems))
    values: Dict[str, np.ndarray] = {}
    for key in specs:
        values[key] = read_checked(reader, key, result_dir)
    return values


def read_checked(reader: Any, key: str, model_dir: Path, out: Optional[np.ndarray] = None,
                  check: bool = True) -> np.ndarray:
    try:
        value = reader.get_tensor(key, out=out) if isinstance(reader, CheckpointReader) else reader.get_tensor(key)
    except (CheckpointError, OSError, KeyError) as exc:
        raise FederationError(f"cannot read {short_keys([key])} of {describe_result(model_dir)}: {exc}") from exc
    value = np.asarray(value)
    if check and not all_finite(value):
        raise FederationError(f"{describe_result(model_dir)} holds values that are not finite (NaN or "
                              f"infinity) in {short_keys([key])}")
    return value


def model_weights_by_key(model: "tf.keras.Model") -> Dict[str, "tf.Variable"]:
    """The model's variables keyed as in its SavedModel checkpoint.

    Walks the model's object graph breadth first, as TensorFlow does when it writes
    a checkpoint, so the first path reaching a variable is its key.
    """
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
                found[child_path + VALUE_SUFFIX] = child
            queue.append((child, child_path + "/"))
    return found


def _escape(name: str) -> str:
    # tensorflow/python/checkpoint/trackable_view.py: escape "." and "/" in local names
    return name.replace(".", "..").replace("/", ".S")

