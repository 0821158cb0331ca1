"""What a contributor's client remembers between the steps of sending a result.

Sending is three steps that can each fail on their own: store the result, commit to
it on chain, reveal it. The journal keeps, per chain and submission, where the result
was stored (so a retry reuses the upload instead of leaving an orphan and paying for
another) and the salt of the commitment (without it a commitment on chain can never be
revealed). Entries are small JSON files, readable by their owner only, removed once the
reveal is on chain.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import state_dir
from .records import Location, StorageType


@dataclass
class SendEntry:
    submission_id: int
    location: Location | None
    #: Fingerprint of the result folder that was stored (see :func:`folder_fingerprint`).
    source: str
    result: str
    salt: bytes
    commitment: bytes

    def to_json(self) -> dict:
        data = asdict(self)
        data["salt"] = self.salt.hex()
        data["commitment"] = self.commitment.hex()
        if self.location is not None:
            data["location"] = {**data["location"], "storage_type": self.location.storage_type.value,
                                "content_hash": self.location.content_hash.hex()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SendEntry":
        loc = data.get("location")
        location = None if loc is None else Location(
            StorageType(loc["storage_type"]), loc["path"], bytes.fromhex(loc["content_hash"]),
            int(loc["size"]))
        return cls(int(data["submission_id"]), location, data["source"], data["result"],
                   bytes.fromhex(data["salt"]), bytes.fromhex(data["commitment"]))


class SendJournal:
    """The entries of one chain (by genesis hash) in ``<state dir>/sends/<genesis>/``."""

    def __init__(self, genesis_hash: str, root: Path | None = None):
        genesis = genesis_hash.removeprefix("0x")[:16]
        self.folder = (root or state_dir()) / "sends" / genesis

    def _path(self, submission_id: int) -> Path:
        return self.folder / f"{int(submission_id)}.json"

    def get(self, submission_id: int) -> SendEntry | None:
        try:
            return SendEntry.from_json(json.loads(self._path(submission_id).read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # A damaged entry is as good as none: the caller stores and commits anew.
            return None

    def save(self, entry: SendEntry) -> None:
        """Write the entry durably before the step that depends on it runs."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(entry.submission_id)
        partial = path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(entry.to_json(), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)

    def remove(self, submission_id: int) -> None:
        self._path(submission_id).unlink(missing_ok=True)


def folder_fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of every file below ``folder``: a retry
    reuses an upload only while this is unchanged."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
