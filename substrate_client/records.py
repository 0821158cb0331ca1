"""The pallet's records and enums as Python types, decoded from chain values."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from .errors import UserInputError


class UnknownChoiceError(UserInputError, ValueError):
    """A value that is none of an enum's members."""


class TaskType(str, enum.Enum):
    MODEL_CONTRIBUTOR = "ModelContributor"
    DATA_ANNOTATOR = "DataAnnotator"
    MODEL_ENGINEER = "ModelEngineer"


class ValidationStrategy(str, enum.Enum):
    AUTO_ACCEPT = "AutoAccept"
    MANUAL_ACCEPT = "ManualAccept"
    CUSTOM_ACCEPT = "CustomAccept"


class StorageType(str, enum.Enum):
    IPFS = "IPFS"
    S3 = "S3"
    CRUST = "Crust"
    GCP = "GCP"
    AZURE = "Azure"
    LOCAL = "Local"


class TaskStatus(str, enum.Enum):
    OPEN = "Open"
    CLOSED = "Closed"


class SubmissionStatus(str, enum.Enum):
    """A slot's state. Slots that timed out, were cancelled at close or whose rejection
    became final are removed from the chain; only their events remain."""

    ASSIGNED = "Assigned"      # slot taken, nothing committed yet
    COMMITTED = "Committed"    # a hash of the result is on chain; the reveal follows
    PENDING = "Pending"        # revealed, in its review period
    ACCEPTED = "Accepted"      # paid
    REJECTED = "Rejected"      # rejected; the contributor may still appeal
    APPEALED = "Appealed"      # the arbiter decides
    PAYOUT_OWED = "PayoutOwed"  # accepted, the payment failed; anyone may retry it


class Decider(str, enum.Enum):
    """Who or what accepted a result."""

    CREATOR = "Creator"
    AUTO_ACCEPT = "AutoAccept"
    REVIEW_PERIOD_LAPSED = "ReviewPeriodLapsed"
    ARBITER = "Arbiter"
    CLOSE = "Close"


def parse_enum(kind: type[enum.Enum], value: str | enum.Enum) -> Any:
    """Accepts an enum member, its value (``AutoAccept``) or a loose spelling
    (``auto-accept``, ``auto_accept``); raises UnknownChoiceError listing the choices."""
    if isinstance(value, kind):
        return value
    wanted = str(value).replace("-", "").replace("_", "").lower()
    for member in kind:
        if wanted in (member.value.lower(), member.name.replace("_", "").lower()):
            return member
    choices = ", ".join(m.value for m in kind)
    raise UnknownChoiceError(f"{value!r} is not a {kind.__name__}; choose one of {choices}")


@dataclass(frozen=True)
class Location:
    """A stored object: where, the sha256 of its bytes and how many bytes there are."""

    storage_type: StorageType
    path: str
    content_hash: bytes
    size: int

    def to_chain(self) -> dict[str, Any]:
        return {
            "storage_type": self.storage_type.value,
            "path": self.path,
            "content_hash": "0x" + self.content_hash.hex(),
            "size": self.size,
        }

    @classmethod
    def from_chain(cls, value: dict[str, Any] | None) -> "Location | None":
        if not value:
            return None
        return cls(
            storage_type=StorageType(_variant(value["storage_type"])),
            path=text(value["path"]),
            content_hash=raw_bytes(value["content_hash"]),
            size=int(value["size"]),
        )


@dataclass(frozen=True)
class Lineage:
    """Where a task stands in a training campaign: round ``round`` of ``campaign``,
    continuing the task of the previous round (None for round 1)."""

    campaign: int
    round: int
    continues: int | None

    @classmethod
    def from_chain(cls, value: dict[str, Any] | None) -> "Lineage | None":
        if not value:
            return None
        return cls(campaign=int(value["campaign"]), round=int(value["round"]),
                   continues=_optional_int(value.get("continues")))


@dataclass(frozen=True)
class Campaign:
    """A training campaign: one task per round, by one creator."""

    campaign_id: int
    creator: str
    rounds: int
    latest_task: int

    @classmethod
    def from_chain(cls, campaign_id: int, value: dict[str, Any]) -> "Campaign":
        return cls(campaign_id=int(campaign_id), creator=value["creator"],
                   rounds=int(value["rounds"]), latest_task=int(value["latest_task"]))


@dataclass(frozen=True)
class CampaignRound:
    """A round just created: its campaign, number, task and the task it continues."""

    campaign: int
    round: int
    task_id: int
    continues: int | None


@dataclass(frozen=True)
class Task:
    task_id: int
    creator: str
    task_type: TaskType
    question: str
    pays_amount: int
    max_assignments: int
    expiration_block: int
    validation_strategy: ValidationStrategy
    bundle: Location
    result_public_key: bytes | None
    annotation: dict[str, str] | None
    status: TaskStatus
    created_at: int
    closed_at: int | None
    taken_slots: int
    pending: int
    accepted: int
    live_submissions: int
    escrow: int
    deposit: int
    #: The task's place in a training campaign; None for a task of its own.
    lineage: Lineage | None = None

    @property
    def free_slots(self) -> int:
        return self.max_assignments - self.taken_slots

    @classmethod
    def from_chain(cls, task_id: int, value: dict[str, Any]) -> "Task":
        annotation = value.get("annotation")
        key = value.get("result_public_key")
        return cls(
            task_id=int(task_id),
            creator=value["creator"],
            task_type=TaskType(_variant(value["task_type"])),
            question=text(value["question"]),
            pays_amount=int(value["pays_amount"]),
            max_assignments=int(value["max_assignments"]),
            expiration_block=int(value["expiration_block"]),
            validation_strategy=ValidationStrategy(_variant(value["validation_strategy"])),
            bundle=Location.from_chain(value["bundle"]),
            result_public_key=raw_bytes(key) if key else None,
            annotation=(
                {k: text(v) for k, v in annotation.items()} if annotation else None
            ),
            status=TaskStatus(_variant(value["status"])),
            created_at=int(value["created_at"]),
            closed_at=_optional_int(value.get("closed_at")),
            taken_slots=int(value["taken_slots"]),
            pending=int(value["pending"]),
            accepted=int(value["accepted"]),
            live_submissions=int(value["live_submissions"]),
            escrow=int(value["escrow"]),
            deposit=int(value["deposit"]),
            lineage=Lineage.from_chain(value.get("lineage")),
        )


@dataclass(frozen=True)
class Submission:
    submission_id: int
    task_id: int
    contributor: str
    status: SubmissionStatus
    assigned_at: int
    commitment: bytes | None
    committed_at: int | None
    #: The block the result was revealed in; its review period starts there.
    submitted_at: int | None
    result: str
    result_location: Location | None
    rejection_reason: str | None
    rejected_at: int | None
    assignment_deposit: int
    storage_deposit: int

    @classmethod
    def from_chain(cls, submission_id: int, value: dict[str, Any]) -> "Submission":
        reason = value.get("rejection_reason")
        commitment = value.get("commitment")
        return cls(
            submission_id=int(submission_id),
            task_id=int(value["task_id"]),
            contributor=value["contributor"],
            status=SubmissionStatus(_variant(value["status"])),
            assigned_at=int(value["assigned_at"]),
            commitment=raw_bytes(commitment) if commitment else None,
            committed_at=_optional_int(value.get("committed_at")),
            submitted_at=_optional_int(value.get("submitted_at")),
            result=text(value["result"]),
            result_location=Location.from_chain(value.get("result_location")),
            rejection_reason=None if reason is None else text(reason),
            rejected_at=_optional_int(value.get("rejected_at")),
            assignment_deposit=int(value["assignment_deposit"]),
            storage_deposit=int(value["storage_deposit"]),
        )


class _Counters:
    """A record of counters the pallet keeps per account (absent: all zero)."""

    @classmethod
    def from_chain(cls, address: str, value: dict[str, Any] | None):
        value = value or {}
        names = [f.name for f in dataclasses.fields(cls) if f.name != "address"]
        return cls(address, **{name: int(value.get(name, 0)) for name in names})


@dataclass(frozen=True)
class CreatorRecord(_Counters):
    """What the chain counts of a creator: the trust signal a contributor reads first."""

    address: str
    tasks_created: int = 0
    results_accepted: int = 0
    results_rejected: int = 0
    rejections_overturned: int = 0
    total_paid: int = 0

    @property
    def decided(self) -> int:
        """Results decided: an overturned rejection ended accepted, so it counts once."""
        return self.results_accepted + self.results_rejected - self.rejections_overturned

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted over decided results; None before any decision."""
        return None if self.decided <= 0 else self.results_accepted / self.decided


@dataclass(frozen=True)
class ContributorRecord(_Counters):
    """What the chain counts of a contributor."""

    address: str
    slots_taken: int = 0
    results_revealed: int = 0
    results_accepted: int = 0
    results_rejected: int = 0
    slots_timed_out: int = 0
    appeals_won: int = 0
    #: Slots given up with ``release_slot`` before their deadline (not time-outs).
    slots_released: int = 0


@dataclass(frozen=True)
class Deadlines:
    """The pallet's deadlines (in blocks) and deposits, read from its constants."""

    max_task_duration: int
    result_timeout: int
    reveal_window: int
    review_period: int
    appeal_period: int
    removal_delay: int
    assignment_deposit: int
    task_deposit: int
    submission_deposit: int


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _variant(value: Any) -> str:
    """A unit enum variant decodes as its name, or as ``{name: None}``."""
    if isinstance(value, dict):
        return next(iter(value))
    return str(value)


def raw_bytes(value: Any) -> bytes:
    """Fixed-size byte arrays decode as ``0x`` hex strings (or lists of ints)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return bytes(value)
    value = str(value)
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def text(value: Any) -> str:
    """Byte vectors decode as text when they are valid UTF-8, else as ``0x`` hex."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return bytes(value).decode("utf-8", errors="replace")
    value = str(value)
    if value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:]).decode("utf-8")
        except ValueError:
            return value
    return value
