"""The pallet's records and enums as Python types, decoded from chain values."""

from __future__ import annotations

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
    ASSIGNED = "Assigned"
    PENDING = "Pending"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    CANCELLED = "Cancelled"


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
    storage_type: StorageType
    path: str
    content_hash: bytes

    def to_chain(self) -> dict[str, Any]:
        return {
            "storage_type": self.storage_type.value,
            "path": self.path,
            "content_hash": "0x" + self.content_hash.hex(),
        }

    @classmethod
    def from_chain(cls, value: dict[str, Any] | None) -> "Location | None":
        if not value:
            return None
        return cls(
            storage_type=StorageType(_variant(value["storage_type"])),
            path=text(value["path"]),
            content_hash=raw_bytes(value["content_hash"]),
        )


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
    taken_slots: int
    pending: int
    accepted: int
    submissions: int
    escrow: int

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
            taken_slots=int(value["taken_slots"]),
            pending=int(value["pending"]),
            accepted=int(value["accepted"]),
            submissions=int(value["submissions"]),
            escrow=int(value["escrow"]),
        )


@dataclass(frozen=True)
class Submission:
    submission_id: int
    task_id: int
    contributor: str
    status: SubmissionStatus
    assigned_at: int
    submitted_at: int | None
    result: str
    result_location: Location | None
    rejection_reason: str | None

    @classmethod
    def from_chain(cls, submission_id: int, value: dict[str, Any]) -> "Submission":
        reason = value.get("rejection_reason")
        submitted = value.get("submitted_at")
        return cls(
            submission_id=int(submission_id),
            task_id=int(value["task_id"]),
            contributor=value["contributor"],
            status=SubmissionStatus(_variant(value["status"])),
            assigned_at=int(value["assigned_at"]),
            submitted_at=None if submitted is None else int(submitted),
            result=text(value["result"]),
            result_location=Location.from_chain(value.get("result_location")),
            rejection_reason=None if reason is None else text(reason),
        )


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
