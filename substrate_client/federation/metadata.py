"""What a contributor writes beside its model, and what federation writes beside its own.

A result's ``decentralml_result.json`` (:data:`RESULT_METADATA_FILE`) is the
contributor's word: data to show and check, never trusted. This is the one reader of
it (validation, federation and the main job all use :func:`read_result_metadata`).
Pure Python: no TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, Union

__all__ = [
    "RESULT_METADATA_FILE",
    "FEDERATION_METADATA_FILE",
    "MAX_METADATA_BYTES",
    "read_result_metadata",
    "describe_result",
]

log = logging.getLogger(__name__)

#: Written by the contributor bundle beside the model files of each result.
RESULT_METADATA_FILE = "decentralml_result.json"
#: Written by :func:`~substrate_client.federation.save_federated_model` beside the
#: federated model's files.
FEDERATION_METADATA_FILE = "decentralml_federation.json"
#: The most a result's metadata file may weigh; a larger one is ignored.
MAX_METADATA_BYTES = 1024 * 1024

PathLike = Union[str, "os.PathLike[str]"]


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


def describe_result(model_dir: Path) -> str:
    """How error messages name a result: its contributor if known, and its folder."""
    contributor = read_result_metadata(model_dir).get("contributor_id")
    if isinstance(contributor, str) and contributor:
        return f"contributor {contributor[:64]!r} ({model_dir})"
    return f"result folder {model_dir}"
