"""The walk-through's example task: the creator's model, settings and CustomAccept hook
(``model_creator/``) and the contributor bundle's scripts (``model_contributor/``).

The repository's ``assets/`` folder is the one source of these files. The package holds
them as data in ``example-task/assets/``: in the source checkout that is a link to
``assets/``, and building the package copies the files themselves, so an installed
package has the example without the checkout. (A name with a dash is no Python package:
the example is imported as the ``assets`` package it is written as, from that folder.)
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from ..errors import ConfigError, UserInputError

#: The folder holding the example's ``assets/`` package.
EXAMPLE_ROOT = Path(__file__).resolve().parent / "example-task"
#: The example's CustomAccept hooks, in the package of the creator's module: by held-out
#: accuracy, and by held-out accuracy and loss (for contributors holding a few labels each).
HOOK = "model_creator.hooks:accuracy_threshold"
LOSS_HOOK = "model_creator.hooks:accuracy_and_loss"


class ExampleTask(NamedTuple):
    """The example task as loaded: the creator's module and settings, from ``assets``."""

    creator: ModuleType  # model_creator/model_creator.py
    settings: ModuleType  # model_creator/settings.py
    assets: Path

    @property
    def hook(self) -> str:
        """The spec of the example's CustomAccept hook (``assets.model_creator.hooks:...``)."""
        return f"{self.assets.name}.{HOOK}"

    @property
    def loss_hook(self) -> str:
        """The spec of the example's hook by held-out accuracy and loss."""
        return f"{self.assets.name}.{LOSS_HOOK}"


def assets_dir() -> Path:
    """The example task shipped in the package (``model_creator/``, ``model_contributor/``)."""
    return EXAMPLE_ROOT / "assets"


def load(assets: Path | None = None) -> ExampleTask:
    """Import the example's creator module and settings from ``assets`` (default: the one
    shipped in the package). It is the creator's own code, imported as a package named
    after its folder (the example imports itself as ``assets``)."""
    assets = Path(assets or assets_dir()).absolute()
    if not (assets / "model_creator" / "model_creator.py").is_file():
        raise ConfigError(f"no example task in {assets} (expected model_creator/model_creator.py)")
    if str(assets.parent) not in sys.path:
        sys.path.insert(0, str(assets.parent))
    package = assets.name
    return ExampleTask(importlib.import_module(f"{package}.model_creator.model_creator"),
                       importlib.import_module(f"{package}.model_creator.settings"), assets)


def write_bundle(out: Path, model_dir: Path | None = None) -> Path:
    """Lay out the example's contributor bundle in ``out`` (a new or empty folder): the
    contributor scripts, the initial model at ``model/`` (``model_dir``, a SavedModel of
    yours, else a new one of the example's) and ``task_settings.json``; what
    ``model_creator.py bundle --out DIR`` writes."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserInputError(f"{out} already holds files; choose a new folder for the bundle")
    if model_dir is not None and not (Path(model_dir) / "saved_model.pb").is_file():
        raise UserInputError(f"{model_dir} is not a SavedModel folder (no saved_model.pb)")
    creator = load().creator
    model = creator.create_model() if model_dir is None else creator.load_model(model_dir)
    return creator.prepare_bundle(model, out)
