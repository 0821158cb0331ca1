"""Collecting a round's results: validate each as it arrives, until enough are accepted.

While a round is open the creator's process follows new blocks (a head subscription,
:meth:`~substrate_client.chain.Chain.watch_storage`) and reads the task's slots again on
those that change the task or one of its silent slots, or at a deadline. Each result revealed is received
and judged at once by the one validation route
(:func:`~substrate_client.validation.validate_task_results`), nothing submitted yet; a
slot whose contributor stays silent past the chain's result timeout (or reveal
window) is freed with ``time_out_slot`` so another contributor can take it. The round
ends as soon as ``min_results`` results are accepted, or at its deadline; a round short
of them is extended once. Then every decision goes on chain in one batch
(:func:`~substrate_client.validation.submit_decisions`), with the task's close when
nothing can still arrive.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from .. import validation
from ..errors import PalletError
from ..records import SubmissionStatus
from ..validation import ACCEPT, Strategy

__all__ = ["RoundValidator", "next_due_block", "time_out_silent_slots", "wait_for_next_block",
           "wait_for_task_change"]

log = logging.getLogger(__name__)


class _NewOnly(Strategy):
    """``inner``, deciding only the pending results not judged yet in this process."""

    def __init__(self, inner: Strategy, judged: set[int]):
        self.inner = inner
        self.judged = judged
        self.name = inner.name

    def select(self, task, pending):
        return [s for s in self.inner.select(task, pending) if s.submission_id not in self.judged]

    def needs_result(self, submission) -> bool:
        return self.inner.needs_result(submission)

    def decide(self, model, review):
        return self.inner.decide(model, review)


class RoundValidator:
    """The reviews of one round's task, judged as its results arrive (in this process)."""

    def __init__(self, market, task_id: int, strategy: Strategy, *, work_dir: Path, creator_model: Any,
                 private_key: bytes | None, evaluator, on_review: Callable[[Any], None]):
        self.market = market
        self.task_id = task_id
        self.strategy = strategy
        self.work_dir = Path(work_dir)
        self.creator_model = creator_model
        self.private_key = private_key
        self.evaluator = evaluator
        self.on_review = on_review
        self.reviews: dict[int, Any] = {}

    def judge_new(self, submissions) -> list:
        """Judge the pending ones of the task's ``submissions`` (as just listed) not judged
        yet, received into a new folder each pass."""
        pending = [s for s in submissions if s.status is SubmissionStatus.PENDING]
        if not {s.submission_id for s in pending} - set(self.reviews):
            return []
        passes = sorted(self.work_dir.glob("pass_*")) if self.work_dir.is_dir() else []
        work = self.work_dir / f"pass_{len(passes) + 1}"
        reviews = validation.validate_task_results(
            self.market, self.task_id, _NewOnly(self.strategy, set(self.reviews)), work_dir=work,
            creator_model=self.creator_model, private_key=self.private_key, evaluator=self.evaluator,
            pending=pending)
        for review in reviews:
            self.reviews[review.submission_id] = review
            self.on_review(review)
        return reviews

    def accepted_pending(self, pending_ids: set[int]) -> int:
        """Pending results judged acceptable, not submitted yet."""
        return sum(1 for sid in pending_ids if sid in self.reviews and self.reviews[sid].verdict == ACCEPT)

    def submit(self, pending_ids: set[int], close: bool = False, then=()):
        """The decisions of every judged pending result, in one atomic batch (None if none);
        with ``close``, the task's close goes in the same batch, after them, and the chain
        calls of ``then`` follow."""
        chosen = [self.reviews[sid] for sid in sorted(pending_ids) if sid in self.reviews]
        return validation.submit_decisions(self.market, chosen, close_task=self.task_id if close else None,
                                           then=then)


def _due(sub, deadlines) -> int | None:
    """The block from which a silent slot may be freed (None: the slot is not silent)."""
    if sub.status is SubmissionStatus.ASSIGNED:
        return sub.assigned_at + deadlines.result_timeout
    if sub.status is SubmissionStatus.COMMITTED and sub.committed_at is not None:
        return sub.committed_at + deadlines.reveal_window
    return None


def next_due_block(market, submissions) -> int | None:
    """The first block at which one of these slots may be freed for its silence, or None."""
    deadlines = market.deadlines()
    dues = [due for due in (_due(sub, deadlines) for sub in submissions) if due is not None]
    return min(dues, default=None)


def time_out_silent_slots(market, submissions, now: int, report: Callable[[str], None]) -> int:
    """Free every slot whose contributor committed nothing within the result timeout, or
    revealed nothing within the reveal window (anyone may, once it is due)."""
    deadlines = market.deadlines()
    freed = 0
    for sub in submissions:
        due = _due(sub, deadlines)
        if due is None or now < due:
            continue
        try:
            market.time_out_slot(sub.submission_id)
        except PalletError as error:  # sent or freed meanwhile
            log.info("slot %d not freed: %s", sub.submission_id, error)
            continue
        freed += 1
        report(f"freed the silent slot {sub.submission_id} (due at block {due}); it can be taken again")
    return freed


def wait_for_next_block(market, seen: int) -> None:
    """Return once a block after ``seen`` is in (or after a long silence, to look again)."""
    market.chain.watch_storage([], lambda number, _changed: number > seen, idle=lambda: True)


def wait_for_task_change(market, task_id: int, submissions, seen: int, until: int) -> None:
    """Return once a block after ``seen`` changes the task's record (a slot taken or
    freed, a result revealed or decided, the close) or the record of one of its silent
    slots (a commitment), or block ``until`` is in (a deadline to act on), or a block may
    have been missed, or after a long silence: the caller then reads the task again.
    Every other block (the empty ones a chain makes while the contributors train, the
    busy ones of other tasks) passes with one small read and nothing decoded."""
    chain = market.chain
    keys = chain.storage_keys("Tasks", [[task_id]])
    keys += chain.storage_keys("Submissions", [[sub.submission_id] for sub in submissions
                                               if sub.status in (SubmissionStatus.ASSIGNED, SubmissionStatus.COMMITTED)])
    last = seen

    def on_block(number: int, changed) -> bool:
        nonlocal last
        if number <= seen:
            return False
        if number > last + 1 or number >= until:
            return True  # a block unseen in between, or a deadline
        last = number
        return bool(changed)

    chain.watch_storage(keys, on_block, idle=lambda: True)
