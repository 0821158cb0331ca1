"""The global model from round to round, on the creator's disk.

Per round r the campaign's folder holds ``round_<r>/global.npz`` (the federated
weights by checkpoint key), ``round_<r>/optimizer.npz`` (the server optimizer's state
after the round, :meth:`~substrate_client.federation.ServerOptimizer.save`) and
``round_<r>/federated_model/`` (the SavedModel the next round's bundle carries). Both
``.npz`` files are read back with ``allow_pickle=False``: nothing in them runs.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import FederationError
from ..files import write_atomically

__all__ = ["RoundFiles", "save_weights", "load_weights"]


class RoundFiles:
    """Where round ``number``'s files live in the campaign folder ``work``."""

    def __init__(self, work: Path, number: int):
        self.folder = Path(work) / f"round_{number}"

    @property
    def bundle(self) -> Path:
        return self.folder / "bundle"

    @property
    def results(self) -> Path:
        return self.folder / "results"

    @property
    def global_weights(self) -> Path:
        return self.folder / "global.npz"

    @property
    def optimizer_state(self) -> Path:
        return self.folder / "optimizer.npz"

    @property
    def federated_model(self) -> Path:
        return self.folder / "federated_model"


def save_weights(weights: Mapping[str, np.ndarray], path: Path) -> Path:
    """Write weights (checkpoint key -> array) to one ``.npz``, replaced atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(weights)
    arrays = {f"w{i}": np.asarray(weights[key]) for i, key in enumerate(keys)}
    arrays["keys"] = np.array(keys, dtype=np.str_)
    return write_atomically(path, lambda out: np.savez(out, **arrays))


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """The weights :func:`save_weights` wrote, by checkpoint key (no pickle)."""
    try:
        with np.load(Path(path), allow_pickle=False) as npz:
            keys = [str(k) for k in npz["keys"]]
            return {key: npz[f"w{i}"] for i, key in enumerate(keys)}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise FederationError(f"cannot read the global model's weights {path}: {error}") from None
