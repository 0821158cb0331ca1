"""The agent's work folder: one folder per task's bundle, and a small record per slot it
holds, so that a slot taken (and a result trained) survives the agent stopping.

    <work dir>/<address>/task_7/         the bundle of task 7 (its output/ holds the result)
    <work dir>/<address>/task_7.log      what its start_task.sh printed
    <work dir>/<address>/slots/12.json   submission 12: its task, bundle and result folders

The records live outside every bundle folder: a bundle can neither read nor change them.
A record is removed once its result is sent (or its slot is gone).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UserInputError

MAX_RECORD_BYTES = 16 * 1024


@dataclass
class SlotRecord:
    submission_id: int
    task_id: int
    bundle_dir: str
    #: The SavedModel folder the bundle left, once it did.
    result_dir: str | None = None


class WorkFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise UserInputError(f"the work folder {self.root} is not a folder")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.slots = self.root / "slots"
        self.slots.mkdir(exist_ok=True, mode=0o700)

    def new_bundle_dir(self, task_id: int) -> Path:
        """A folder name for a task's bundle that is not taken yet."""
        dest = self.root / f"task_{int(task_id)}"
        n = 1
        while dest.exists() or dest.is_symlink():
            n += 1
            dest = self.root / f"task_{int(task_id)}.{n}"
        return dest

    def _path(self, submission_id: int) -> Path:
        return self.slots / f"{int(submission_id)}.json"

    def save(self, record: SlotRecord) -> None:
        """Write the record durably (write, sync, rename)."""
        path = self._path(record.submission_id)
        partial = path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(record), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)

    def remove(self, submission_id: int) -> None:
        self._path(submission_id).unlink(missing_ok=True)

    def held(self) -> list[SlotRecord]:
        """The records of slots the agent held when it last stopped, oldest first. A
        damaged record is skipped (the slot then times out on the chain)."""
        records = []
        for path in sorted(self.slots.glob("*.json"), key=lambda p: p.stem.zfill(20)):
            try:
                if path.stat().st_size > MAX_RECORD_BYTES:
                    continue
                data = json.loads(path.read_text())
                records.append(SlotRecord(int(data["submission_id"]), int(data["task_id"]),
                                          str(data["bundle_dir"]), data.get("result_dir")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return records
