"""A round's task bundle: the creator's bundle carrying the model of the round before.

Round 1 ships the creator's initial model; round r ships the model federated in round
r - 1. Everything else is the creator's bundle as it is, and ``task_settings.json``
gains ``{"campaign": id, "round": r, "privacy": {...}}`` (the contributor's
``start_task.sh`` reads the clip norm and noise multiplier from there). The campaign's
id is ``null`` in round 1's bundle: it is uploaded before the chain gives the id (the
chain's ``Task.lineage`` says it for every round).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import UserInputError

__all__ = ["build_round_bundle", "read_task_settings", "MAX_TASK_SETTINGS_BYTES"]

#: task_settings.json is a few settings; a larger one is not ours.
MAX_TASK_SETTINGS_BYTES = 64 * 1024


def read_task_settings(path: Path) -> dict:
    """The settings in a bundle's task_settings.json (a JSON object), or UserInputError."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_TASK_SETTINGS_BYTES:
            raise UserInputError(f"{path} is {size} bytes; task settings take at most {MAX_TASK_SETTINGS_BYTES}")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserInputError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise UserInputError(f"{path} must hold a JSON object of settings")
    return data


def build_round_bundle(base: Path, model_dir: Path, out: Path, *, campaign: int | None, round_number: int,
                       privacy: dict | None) -> Path:
    """Lay out round ``round_number``'s bundle in the new folder ``out``: ``base`` with
    ``model/`` replaced by ``model_dir`` and the round and ``privacy`` (the settings
    contributors apply, :meth:`PrivacyPlan.task_settings`) written into task_settings.json.
    A folder left by an interrupted build is replaced."""
    base, model_dir, out = Path(base), Path(model_dir), Path(out)
    if not (model_dir / "saved_model.pb").is_file():
        raise UserInputError(f"{model_dir} is not a SavedModel folder (no saved_model.pb)")
    if out.exists():
        shutil.rmtree(out)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    # symlinks are copied as links: the storage layer refuses to pack what points outside
    shutil.copytree(base, partial, symlinks=True, ignore=shutil.ignore_patterns("model"))
    shutil.copytree(model_dir, partial / "model", symlinks=True,
                    ignore=shutil.ignore_patterns("decentralml_federation.json"))
    settings_path = partial / "task_settings.json"
    settings = read_task_settings(settings_path) if settings_path.exists() else {}
    settings.update({"campaign": campaign, "round": int(round_number),
                     "privacy": None if privacy is None else dict(privacy)})
    settings_path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.rename(out)
    return out
