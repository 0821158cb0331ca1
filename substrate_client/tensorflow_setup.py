"""Setting TensorFlow up the way this project needs it, in one place.

The creator's model and the results are tf-keras (Keras 2) SavedModel folders, so
``TF_USE_LEGACY_KERAS=1`` must be in the environment before TensorFlow is first
imported; ``TF_CPP_MIN_LOG_LEVEL=2`` keeps its native library's notices off stderr.
Call :func:`configure` before ``import tensorflow`` (modules that need TensorFlow at
import time), or :func:`import_tensorflow` / :func:`load_tensorflow` (which also loads
tf-keras) to import it when it is first needed. Values already in the environment are
kept.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import os
from typing import Any, MutableMapping

__all__ = ["ENVIRONMENT", "configure", "import_tensorflow", "load_tensorflow"]

#: What TensorFlow must find in the environment before it loads.
ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def configure(environ: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Put :data:`ENVIRONMENT` into ``environ`` (default ``os.environ``; a child process's
    environment may be given), keeping values already set. Returns ``environ``."""
    environ = os.environ if environ is None else environ
    for name, value in ENVIRONMENT.items():
        environ.setdefault(name, value)
    return environ


def import_tensorflow() -> Any:
    """Import TensorFlow, set up by :func:`configure`, and return it (tf-keras loads on
    first use of ``tf.keras``)."""
    configure()
    import tensorflow as tf

    return tf


def load_tensorflow() -> Any:
    """Import TensorFlow and tf-keras, set up by :func:`configure`, and return TensorFlow."""
    tf = import_tensorflow()
    tf.keras.models  # noqa: B018 - loads tf-keras now, not half-way through a review
    return tf
