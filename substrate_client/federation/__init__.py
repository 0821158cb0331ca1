"""Federating contributors' models: combine their weights into one model.

Four parts, each in its module:

* :mod:`.policies`: how the N values of one variable become one (:class:`Average`,
  :class:`Weighted` (FedAvg), :class:`Median`, :class:`TrimmedMean`; one small class
  each, like Flower's strategies; subclass :class:`Policy` for your own). Pure numpy.
* :mod:`.checkpoint`: reading a SavedModel's checkpoint (``variables/``) straight
  from its files, strictly for a result someone else wrote.
* :mod:`.weights` and :mod:`.combine`: which entries are model weights, checking a
  result's against the creator's model, and combining them (:func:`federate`).
* :mod:`.model`: applying weights to a model (:func:`restore_result_weights`,
  :func:`apply_weights`, :func:`save_federated_model`); the creator's own model is the
  only model ever loaded (:func:`load_creator_model`).

:mod:`.metadata` reads what a contributor writes beside its model
(:func:`read_result_metadata`).

For campaigns of several rounds:

* :mod:`.optimizers`: server optimizers (:class:`FedAvg`, :class:`FedAvgM`,
  :class:`FedAdam`) step from the previous global model towards a policy's aggregate;
  :class:`ServerOptimized` composes one with any policy for a round, and their state
  is saved to a file (no pickle) and loaded to resume a campaign. Pure numpy.
* :mod:`.privacy`: differential privacy: a contributor clips and noises its update
  (:func:`privatize_weights`), and :func:`privacy_spent` says what (epsilon, delta) R
  rounds spend, computed by the ``dp-accounting`` library.

Importing this package does not import TensorFlow: the policies, the optimizers, the
privacy tools and the metadata are here at once, and the names that need TensorFlow
(:func:`federate`, ...) load their module on first use.

Typical use::

    from substrate_client import federation

    accepted = [Path("results/mnist_mlp_alice"), Path("results/mnist_mlp_bob")]
    weights = federation.federate(accepted, policy="weighted", reference=Path("model"),
                                  max_sample_count=60_000)
    federation.save_federated_model(Path("model"), weights, Path("federated_model"))

Only *accepted* results are federated: callers validate first and pass the folders of
accepted results only. A result is never loaded as a model: only its checkpoint is
read, and every weight must match the creator's model by checkpoint key, dtype and
shape and be finite. Weighted federation trusts the sample counts contributors
report, each capped at ``max_sample_count`` (default :data:`DEFAULT_MAX_SAMPLE_COUNT`).
"""

from __future__ import annotations

import importlib
from typing import Any

from .metadata import FEDERATION_METADATA_FILE, MAX_METADATA_BYTES, RESULT_METADATA_FILE, read_result_metadata
from .policies import (
    DEFAULT_MAX_SAMPLE_COUNT,
    POLICIES,
    Average,
    Median,
    Policy,
    TrimmedMean,
    Weighted,
    make_policy,
)
from .optimizers import (
    SERVER_OPTIMIZERS,
    FedAdam,
    FedAvg,
    FedAvgM,
    ServerOptimized,
    ServerOptimizer,
    make_server_optimizer,
)
from .privacy import PrivacySpent, clip_update, privacy_spent, privatize_update, privatize_weights, update_norm

#: Names that need TensorFlow, and the module of this package each lives in: loaded
#: when first used, so that importing the package does not import TensorFlow.
_NEEDS_TENSORFLOW = {
    "FederatedWeights": "combine",
    "federate": "combine",
    "federate_models": "combine",
    "check_compatible": "weights",
    "weight_specs": "weights",
    "read_result_weights": "weights",
    "model_weights_by_key": "weights",
    "restore_result_weights": "model",
    "apply_weights": "model",
    "load_creator_model": "model",
    "save_federated_model": "model",
}

__all__ = [
    "RESULT_METADATA_FILE",
    "FEDERATION_METADATA_FILE",
    "MAX_METADATA_BYTES",
    "read_result_metadata",
    "Policy",
    "Average",
    "Weighted",
    "Median",
    "TrimmedMean",
    "POLICIES",
    "make_policy",
    "DEFAULT_MAX_SAMPLE_COUNT",
    "ServerOptimizer",
    "FedAvg",
    "FedAvgM",
    "FedAdam",
    "SERVER_OPTIMIZERS",
    "make_server_optimizer",
    "ServerOptimized",
    "update_norm",
    "clip_update",
    "privatize_update",
    "privatize_weights",
    "PrivacySpent",
    "privacy_spent",
    *_NEEDS_TENSORFLOW,
]


def __getattr__(name: str) -> Any:
    module = _NEEDS_TENSORFLOW.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NEEDS_TENSORFLOW))
