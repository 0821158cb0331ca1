"""What the creator's machine remembers of a campaign between runs.

The chain is the source of truth for tasks, results and payments; the journal keeps
what the chain does not: the plan, where each round's bundle was uploaded (recorded
before its task is created, so a resumed campaign reuses that upload instead of
leaving an orphan), how far each round got, the decisions' reasons and the held-out
accuracies, and where the round's files are (the federated model, the optimizer's
state). One JSON file per campaign in ``<state dir>/campaigns/<genesis>/``, keyed by
the chain's genesis hash and the campaign id (``campaign-<id>.json``; before the chain
has given an id, ``new-<random>.json``), readable by its owner only and replaced
atomically: a kill leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import state_dir
from ..errors import UserInputError
from ..files import temporary_file_beside
from .plan import CampaignPlan

__all__ = ["CampaignJournal", "RoundRecord", "Phase", "journal_root", "JOURNAL_VERSION"]

JOURNAL_VERSION = 1


class Phase:
    """How far a round got, in order; each is recorded once its step is done."""

    UPLOADED = "uploaded"     # the round bundle is stored (its location is recorded)
    CREATED = "created"       # the round's task exists on chain
    DECIDED = "decided"       # the decisions' batch landed
    FEDERATED = "federated"   # the accepted results are federated, the model saved
    CLOSED = "closed"         # the task is closed
    ORDER = (UPLOADED, CREATED, DECIDED, FEDERATED, CLOSED)

    @classmethod
    def reached(cls, phase: str | None, wanted: str) -> bool:
        return phase is not None and cls.ORDER.index(phase) >= cls.ORDER.index(wanted)


@dataclass
class RoundRecord:
    """One round as the journal keeps it (JSON-serialisable values only)."""

    round: int
    phase: str | None = None
    bundle: dict | None = None          # the uploaded round bundle's location
    bundle_source: list | None = None   # the round before's results its model was federated from
    task_id: int | None = None
    created_block: int | None = None
    deadline: int | None = None
    extended: bool = False
    reviews: dict = field(default_factory=dict)   # submission id (str) -> verdict, reason, metrics
    decided_block: int | None = None
    accepted: list = field(default_factory=list)  # submission ids federated
    federated_accuracy: float | None = None
    stopped: str | None = None          # why the campaign stopped in this round
    training_wait: float = 0.0          # seconds spent waiting for results
    busy: float = 0.0                   # seconds spent on everything else

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> "RoundRecord":
        return cls(**data)


def journal_root(root: Path | None, genesis_hash: str) -> Path:
    """The folder of one chain's campaign journals."""
    genesis = genesis_hash.removeprefix("0x")[:16]
    return Path(root or state_dir() / "campaigns").expanduser() / genesis


class CampaignJournal:
    """The journal of one campaign on one chain.

    ``work`` is the campaign's folder of files (round bundles, results, models,
    optimizer states), named once at the start and kept when the id arrives.
    """

    def __init__(self, folder: Path, key: str, data: dict):
        self.folder = folder
        self.key = key
        self.data = data

    # ------------------------------------------------------------------ opening

    @classmethod
    def new(cls, root: Path | None, genesis_hash: str, plan: CampaignPlan) -> "CampaignJournal":
        folder = journal_root(root, genesis_hash)
        key = f"new-{secrets.token_hex(4)}"
        data = {"version": JOURNAL_VERSION, "genesis": genesis_hash, "campaign": None, "work": key,
                "plan": plan.to_json(), "rounds": {}, "finished": None}
        journal = cls(folder, key, data)
        journal.save()
        journal.work.mkdir(mode=0o700)  # opened results are unpacked below it: its owner's only
        return journal

    @classmethod
    def open(cls, root: Path | None, genesis_hash: str, campaign: int | str) -> "CampaignJournal":
        """The journal of campaign ``campaign`` (its id, or the ``new-...`` key of a
        campaign the chain has not given an id yet); UserInputError if there is none."""
        folder = journal_root(root, genesis_hash)
        key = _key(campaign)
        path = folder / f"{key}.json"
        if not path.is_file() and key.startswith("new-"):
            # the id arrived after this key was printed: the journal moved to its id
            for other in sorted(folder.glob("campaign-*.json")):
                data = _read(other)
                if data.get("work") == key:
                    return cls(folder, other.stem, data)
        if not path.is_file():
            raise UserInputError(f"no journal of campaign {campaign} on this chain in {folder}")
        data = _read(path)
        if data.get("genesis") != genesis_hash:
            raise UserInputError(f"{path} belongs to another chain")
        return cls(folder, key, data)

    @classmethod
    def find(cls, root: Path | None, genesis_hash: str, campaign: int) -> "CampaignJournal | None":
        try:
            return cls.open(root, genesis_hash, campaign)
        except UserInputError:
            return None

    # ------------------------------------------------------------------ contents

    @property
    def path(self) -> Path:
        return self.folder / f"{self.key}.json"

    @property
    def work(self) -> Path:
        return self.folder / self.data["work"]

    @property
    def plan(self) -> CampaignPlan:
        return CampaignPlan.from_json(self.data["plan"])

    @property
    def campaign(self) -> int | None:
        return self.data["campaign"]

    def round(self, number: int) -> RoundRecord:
        raw = self.data["rounds"].get(str(number))
        return RoundRecord(number) if raw is None else RoundRecord.from_json(raw)

    def rounds(self) -> list[RoundRecord]:
        return [self.round(int(n)) for n in sorted(self.data["rounds"], key=int)]

    # ------------------------------------------------------------------ writing

    def record(self, record: RoundRecord) -> None:
        """Write ``record`` durably before the step that depends on it runs."""
        self.data["rounds"][str(record.round)] = record.to_json()
        self.save()

    def set_campaign(self, campaign: int) -> None:
        """The chain gave the campaign its id: the journal moves to ``campaign-<id>.json``
        (written first, then the old name removed: a kill leaves one or both, same content)."""
        old = self.path
        self.data["campaign"] = int(campaign)
        self.key = _key(campaign)
        self.save()
        if old != self.path:
            old.unlink(missing_ok=True)

    def finish(self, reason: str) -> None:
        self.data["finished"] = reason
        self.save()

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with temporary_file_beside(self.path) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(self.data, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)


def _key(campaign: int | str) -> str:
    text = str(campaign).strip()
    if text.isdigit():
        return f"campaign-{int(text)}"
    if text.startswith("campaign-") and text[len("campaign-"):].isdigit():
        return text
    if text.startswith("new-") and len(text) == 12 and all(c in "0123456789abcdef" for c in text[4:]):
        return text
    raise UserInputError(f"{campaign!r} is not a campaign id (a number, or the new-... key a start printed)")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserInputError(f"cannot read the campaign journal {path}: {error}") from None
    if not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION:
        raise UserInputError(f"{path} is not a campaign journal of version {JOURNAL_VERSION}")
    return data
