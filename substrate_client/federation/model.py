"""Applying weights to a model: the creator's own model is the only model ever loaded.

A result's weights are set into it (:func:`restore_result_weights`), federated
weights too (:func:`apply_weights`, :func:`save_federated_model`); a contributor's
SavedModel is never loaded (:func:`load_creator_model` refuses one).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Mapping, Union

import numpy as np

from ..tensorflow_setup import configure

configure()
import tensorflow as tf  # noqa: E402  (must follow the environment setting above)

from ..errors import FederationError  # noqa: E402
from .metadata import FEDERATION_METADATA_FILE, RESULT_METADATA_FILE  # noqa: E402
from .weights import all_finite, model_variables, model_weights_by_key, read_result_weights, short_keys  # noqa: E402

__all__ = ["restore_result_weights", "apply_weights", "load_creator_model", "save_federated_model"]

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]


def restore_result_weights(model: "tf.keras.Model", result_dir: PathLike) -> "tf.keras.Model":
    """Set a contributor's weights into the creator's ``model``, in place.

    The one way a result becomes a model on the creator's side: the creator's own
    architecture, with the result's variables restored by checkpoint key, dtype and
    shape (see :func:`read_result_weights`; nothing is assigned unless every weight
    checks out). The result's graph is never loaded, so nothing it carries runs.
    """
    values = read_result_weights(result_dir, model)
    variables = model_variables(model)
    for key, value in values.items():
        variables[key].assign(value)
    return model


def apply_weights(model: "tf.keras.Model", weights: Mapping[str, np.ndarray]) -> "tf.keras.Model":
    """Set ``model``'s variables from federated ``weights`` (checkpoint key -> value).

    Every key must name a variable of the model with the same shape; variables not
    in ``weights`` (optimizer state, metrics) are left as they are.
    """
    variables = model_weights_by_key(model)
    missing = [k for k in weights if k not in variables]
    if missing:
        raise FederationError(f"the model {model.name!r} has no variables {short_keys(missing)}")
    for key, value in weights.items():
        var = variables[key]
        if tuple(var.shape) != tuple(np.shape(value)):
            raise FederationError(
                f"{short_keys([key])} has shape {list(np.shape(value))}, the model {model.name!r} expects {list(var.shape)}"
            )
        if not all_finite(np.asarray(value)):
            raise FederationError(f"{short_keys([key])} holds values that are not finite (NaN or infinity)")
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
    model.save(str(out), save_traces=not _only_keras_layers(model))
    info = {
        "policy": getattr(weights, "policy", ""),
        "sources": getattr(weights, "sources", []),
        "template": str(template),
        "num_weights": len(weights),
    }
    (out / FEDERATION_METADATA_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log.info("saved the federated model to %s", out)
    return out


def _only_keras_layers(model: "tf.keras.Model") -> bool:
    """Whether every layer of ``model`` (nested models included) is one of Keras' own.
    Such a model loads from its config alone, so its SavedModel needs no traced
    functions: tracing them is most of a save (~0.3-0.6 s for the example's model
    against ~0.07 s) and of a load. A layer of the creator's own code keeps them, so
    the model still loads where that code is not importable."""
    stack = [model]
    while stack:
        layer = stack.pop()
        if not type(layer).__module__.startswith(("keras.", "tf_keras.")):
            return False
        stack.extend(getattr(layer, "layers", []))
    return True
