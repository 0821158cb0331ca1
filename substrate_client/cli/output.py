"""What the commands print: tables, JSON, a task in full, notes, and the ``error: ...``
line with the exit code for its kind (2: the user's input, 1: the chain or storage).

Text from the chain (a question, a reason, a storage path) is the other side's: every
printer here passes it through :func:`safe_text`, so a terminal escape sequence in it
(say, an OSC 52 clipboard write) is shown, never obeyed. JSON escapes it by itself.
A command that prints chain text by other means must call :func:`safe_text` too."""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import re
from pathlib import Path
from typing import Any

import click

from ..errors import DecentralMLError, PalletError, UserInputError
from ..records import CreatorRecord, Deadlines, Task
from .amounts import format_amount

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- terminal safety

#: C0 controls, DEL, C1 controls, and the Unicode controls that reorder or break lines
#: (bidirectional overrides and isolates, the line and paragraph separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEPING_NEWLINES = re.compile(_UNSAFE.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_text(value: Any, keep_newlines: bool = False) -> str:
    """``str(value)`` with every control character shown as an escape (``\\x1b``,
    ``\\u202e``) instead of reaching the terminal; newlines too, unless
    ``keep_newlines``. Every printer of this module uses it."""
    pattern = _UNSAFE_KEEPING_NEWLINES if keep_newlines else _UNSAFE
    return pattern.sub(_escape, "" if value is None else str(value))


# --------------------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    """A JSON-ready copy of records: enums by value, bytes as 0x-hex, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value


def task_json(task: Task, creator: CreatorRecord | None = None,
              deadlines: Deadlines | None = None) -> dict:
    data = _plain(task)
    data["free_slots"] = task.free_slots
    if creator is not None:
        data["creator_record"] = {**_plain(creator), "acceptance_rate": creator.acceptance_rate}
    if deadlines is not None:
        data["deadlines"] = _plain(deadlines)
    return data


def emit_json(data: Any) -> None:
    # ensure_ascii (the default) writes every control character as a \\u escape.
    click.echo(json.dumps(_plain(data), indent=2, sort_keys=False, ensure_ascii=True))


# --------------------------------------------------------------------------- text


def table(headers: list[str], rows: list[list[Any]], empty: str = "(none)") -> None:
    """Columns padded to their widest cell; the last column is not padded."""
    if not rows:
        click.echo(empty)
        return
    cells = [[safe_text(c) for c in headers]] + [[safe_text(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths[:-1])) + "  " + row[-1]
        click.echo(click.style(line.rstrip(), bold=True) if n == 0 else line.rstrip())


def show_task_details(task: Task, creator: CreatorRecord | None = None,
                      deadlines: Deadlines | None = None) -> None:
    """One task in full, a ``key  value`` line per field; with the creator's record and
    the chain's deadlines, what a contributor should know before taking a slot."""
    rows = [
        ("task", task.task_id),
        ("status", task.status.value),
        ("type", task.task_type.value),
        ("question", task.question),
        ("creator", task.creator),
        ("pays", f"{format_amount(task.pays_amount)} per accepted result"),
        ("slots", f"{task.taken_slots} of {task.max_assignments} taken ({task.free_slots} free)"),
        ("results", f"{task.pending} pending, {task.accepted} accepted, "
                    f"{task.live_submissions} live submissions"),
        ("escrow", format_amount(task.escrow)),
        ("validation", task.validation_strategy.value),
        ("created at", f"block {task.created_at}"),
        ("expires at", f"block {task.expiration_block}"),
    ]
    if task.closed_at is not None:
        rows.append(("closed at", f"block {task.closed_at}"))
    if task.lineage is not None:
        follows = (f"continues task {task.lineage.continues}" if task.lineage.continues is not None
                   else "its first round")
        rows.append(("campaign", f"{task.lineage.campaign}, round {task.lineage.round} ({follows})"))
    rows += [
        ("bundle", location_text(task.bundle)),
        ("bundle sha256", task.bundle.content_hash.hex() if task.bundle else "-"),
        ("bundle size", f"{task.bundle.size} bytes" if task.bundle else "-"),
        ("result key", task.result_public_key.hex() if task.result_public_key else "none (unsealed)"),
    ]
    if task.annotation:
        rows += [("annotation", task.annotation.get("annotation_type", "")),
                 ("class labels", task.annotation.get("class_labels", ""))]
    if creator is not None:
        rows.append(("creator record", creator_record_text(creator)))
    if deadlines is not None:
        rows += [
            ("deposit", f"{format_amount(deadlines.assignment_deposit)} per slot, back when the "
                        f"result is revealed (+{format_amount(deadlines.submission_deposit)} "
                        "storage deposit, back when the record is removed)"),
            ("deadlines", f"commit within {deadlines.result_timeout} blocks of taking a slot, "
                          f"reveal within {deadlines.reveal_window} blocks of committing; "
                          f"a result not decided within {deadlines.review_period} blocks is paid; "
                          f"a rejection may be appealed for {deadlines.appeal_period} blocks"),
        ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {safe_text(value)}")


def creator_record_text(record: CreatorRecord) -> str:
    """A creator's track record in one line, acceptance rate first."""
    rate = record.acceptance_rate
    rate_text = "no results decided yet" if rate is None else f"accepts {rate:.0%} of results"
    return (f"{rate_text} ({record.results_accepted} accepted, {record.results_rejected} rejected, "
            f"{record.rejections_overturned} rejections overturned on appeal; "
            f"{record.tasks_created} tasks, {format_amount(record.total_paid)} paid)")


def short_address(address: str | None) -> str:
    if not address:
        return "-"
    address = safe_text(address)
    return address if len(address) <= 14 else f"{address[:6]}…{address[-4:]}"


def clip(text: str, width: int = 48) -> str:
    text = safe_text(" ".join(str(text).split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def location_text(location) -> str:
    if location is None:
        return "-"
    return safe_text(f"{location.storage_type.value}:{location.path}")


def note(message: str) -> None:
    """Human commentary on stderr, so stdout stays a table or JSON."""
    click.echo(safe_text(message, keep_newlines=True), err=True)


# --------------------------------------------------------------------------- errors


class CommandError(click.ClickException):
    """A library error, shown as one ``error: ...`` line with the exit code for its kind."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"error: {safe_text(self.format_message(), keep_newlines=True)}", err=True)


def _error_message(error: BaseException) -> str:
    if isinstance(error, PalletError):
        text = f"{error.name}: {error.docs}" if error.docs else error.name
    else:
        text = str(error) or type(error).__name__
    return text


def as_click_error(error: Exception) -> click.ClickException:
    """The error as click shows it: exit code 2 for the user's input, 1 for the rest."""
    if isinstance(error, UserInputError):
        return CommandError(_error_message(error), 2)
    if isinstance(error, DecentralMLError):
        return CommandError(_error_message(error), 1)
    log.debug("unexpected error", exc_info=error)
    return CommandError(f"unexpected {type(error).__name__}: {error} (run with -vv for details)", 1)
