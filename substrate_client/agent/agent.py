"""The contributor's long-running agent: it watches the chain for tasks worth a slot,
trains on them and sends the results, one slot at a time, until told to stop.

On start it finishes the slots it held when it last stopped (a result trained but not
sent is sent; a slot with no result yet is trained again from a freshly fetched
bundle), then reads the open tasks (the chain's ``OpenTasks``), then follows new blocks
by subscription (:meth:`Chain.watch_storage`) for a new task or a slot that reopened.
For a task that passes its filters it takes a slot (the bundle fetched and verified
first), runs ``start_task.sh`` in the sandbox on the contributor's data and sends the
result (commit, then reveal; resumable from the send journal). With ``start_early``
the run starts as soon as the bundle is verified and the slot is taken meanwhile
(:mod:`.early`).

The chain or storage going away never loses a trained result: it stays on disk (its
record in the work folder) and the agent tries again, waiting 2, 4, 8... seconds (at
most a minute), saying so each time. Ctrl-C while a slot is held finishes that slot,
then stops; a second Ctrl-C gives the slot up (``release_slot``) and stops.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from .. import sandbox
from ..chain import CONNECTION_ERRORS, same_account
from ..contribute import Contributor, DataSettings, RunSettings, Slot
from ..errors import (ChainConnectionError, DecentralMLError, IntegrityError, NotFoundError,
                      PalletError, StorageUnavailableError, UserInputError)
from ..marketplace import Marketplace
from ..records import Submission, SubmissionStatus, Task, TaskStatus
from .early import BackgroundRun, echo_to
from .filters import WorkFilters
from .slots import SlotRecord, WorkFolder

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Failures that pass: the chain or storage unreachable for a while.
TRANSIENT = (ChainConnectionError, StorageUnavailableError, *CONNECTION_ERRORS)


@dataclass(frozen=True)
class StopWhen:
    """When the agent stops by itself (besides Ctrl-C)."""

    #: After sending this many results.
    max_rounds: int | None = None
    #: With a campaign filter: once the campaign's latest task has been closed (or has
    #: expired) for this many blocks without a next round.
    campaign_end_blocks: int | None = None

    def __post_init__(self) -> None:
        if self.max_rounds is not None and self.max_rounds < 1:
            raise UserInputError("the most rounds must be at least 1")
        if self.campaign_end_blocks is not None and self.campaign_end_blocks < 0:
            raise UserInputError("the blocks to wait for a campaign's next round must be 0 or more")


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before trying again after the chain or storage failed: ``first``,
    doubled each time, at most ``most``."""

    first: float = 2.0
    most: float = 60.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.most)


@dataclass(frozen=True)
class Step:
    """One thing the agent did or decided, as it reports it."""

    kind: str  # start, resume, skip, slot, train, cancelled, trained, send, sent, failed, retry,
    #            watch, stopping, released, stopped
    message: str
    task_id: int | None = None
    submission_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class AgentSummary:
    """What a run of the agent did."""

    #: Submissions whose result was sent (revealed), in order.
    sent: list[int] = field(default_factory=list)
    #: Submissions given up with ``release_slot``.
    released: list[int] = field(default_factory=list)
    #: Submissions interrupted after their result was committed: their reveal resumes
    #: the next time the agent starts (or with ``send_task_result``).
    unfinished: list[int] = field(default_factory=list)
    #: Tasks whose bundle failed or was refused.
    failed: list[int] = field(default_factory=list)
    reason: str = ""


class _Stop(BaseException):
    """Ctrl-C while no slot is held: stop at once."""


class _Release(BaseException):
    """A second Ctrl-C while a slot is held: give it up."""


class Agent:
    """Works for one signer (``market``'s) until stopped; see the module's docstring.

    Its files are in ``work_dir/<signer's address>/`` (:class:`WorkFolder`). ``report``
    receives every :class:`Step` (default: logged); ``output`` every line the bundle
    prints (besides the log file beside the bundle's folder);
    ``amount_text`` writes an amount for messages; with ``start_early`` a verified
    bundle starts training while its slot is being taken (:mod:`.early`)."""

    def __init__(self, market: Marketplace, filters: WorkFilters | None = None,
                 work_dir: str | Path = "decentralml-work", run: RunSettings | None = None,
                 data: DataSettings | None = None, stop: StopWhen | None = None,
                 report: Callable[[Step], None] | None = None,
                 output: Callable[[str], None] | None = None, backoff: Backoff | None = None,
                 amount_text: Callable[[int], str] = str, start_early: bool = False):
        self.market = market
        self.start_early = start_early  # train while the slot is taken (see .early)
        self.filters = filters or WorkFilters()
        self.contributor = Contributor(market, run, data)
        # A folder per signer: agents of several accounts may share one work folder.
        self.work = WorkFolder(Path(work_dir) / self.contributor.address)
        self.stop = stop or StopWhen()
        self.backoff = backoff or Backoff()
        self.summary = AgentSummary()
        self._report = report or (lambda step: log.info("%s", step.message))
        self._output = output
        self._amount = amount_text
        self._busy = False            # a slot is being taken, trained or sent
        self._held: SlotRecord | None = None
        self._taking: int | None = None  # the task a slot is being taken in
        self._stopping = False
        self._interrupts = 0
        self._releasing = False
        self._done_tasks: set[int] = set()      # taken, or refused for good
        self._reported: dict[int, str] = {}     # the last reason each task was skipped
        self._candidates: list[int] = []
        self._rescan = True
        self._scanned_to = -1                   # blocks up to here are covered by a scan
        self._head = 0                          # the newest block seen
        self._watched: set[int] = set()         # open tasks whose changes bring a new look
        self._campaign_end: int | None = None   # the block the campaign's last round ended
        self._campaign_task: int | None = None  # the campaign's latest round, watched for its end
        self._announce_watch = True

    @property
    def address(self) -> str:
        return self.contributor.address

    # ------------------------------------------------------------------ running

    def request_stop(self) -> None:
        """Stop once the slot in progress (if any) is finished."""
        self._stopping = True

    def run(self) -> AgentSummary:
        """Work until a stop condition, Ctrl-C or :meth:`request_stop`. Raises what the
        machine cannot do (no sandbox, no TensorFlow) before anything is taken."""
        self.contributor.check_machine()
        self._prepare_storage()
        with self._signals():
            try:
                self._say("start", f"working as {self.address} on "
                                   f"{self.filters.describe(self._amount)}; folder {self.work.root}")
                self._retrying(self.market.chain.prepare_signing, "preparing to sign")
                self._retrying(self._resume_held, "finishing the slots held before")
                self._retrying(self._learn_taken, "reading your slots")
                while not self._should_stop():
                    self._retrying(self._step, "reading the chain or fetching a bundle")
            except _Stop:
                self.summary.reason = "stopped by Ctrl-C"
            except _Release:
                self._release_held()
        self._say("stopped", f"stopped: {self.summary.reason}; {len(self.summary.sent)} "
                             "result(s) sent", details={"sent": self.summary.sent,
                                                        "released": self.summary.released})
        return self.summary

    def _prepare_storage(self) -> None:
        """Build the result storage's client now, not between a trained result and its
        sending."""
        storage = self.contributor.settings.result_storage
        if storage is not None:
            self.market.prepare_storage(storage)

    def _should_stop(self) -> bool:
        if self._stopping:
            self.summary.reason = self.summary.reason or "asked to stop"
            return True
        rounds = self.stop.max_rounds
        if rounds is not None and len(self.summary.sent) >= rounds:
            self.summary.reason = f"sent {rounds} result(s) (--max-rounds)"
            return True
        if self._campaign_over(self._head):
            self.summary.reason = (f"campaign {self.filters.campaign} ended: its last round "
                                   f"closed at block {self._campaign_end} and no next round "
                                   f"came within {self.stop.campaign_end_blocks} blocks")
            return True
        return False

    def _say(self, kind: str, message: str, task_id: int | None = None,
             submission_id: int | None = None, details: dict | None = None) -> None:
        self._report(Step(kind, message, task_id, submission_id, details or {}))

    def _retrying(self, action: Callable[[], T], what: str) -> T:
        """``action()``, tried again while the chain or storage cannot be reached."""
        delays = self.backoff.delays()
        while True:
            try:
                return action()
            except TRANSIENT as error:
                delay = next(delays)
                held = self._held
                keep = (f"; the result stays in {held.result_dir}" if held and held.result_dir
                        else "")
                self._say("retry", f"{what}: {_reason(error)}{keep}; trying again in {delay:g} s",
                          held.task_id if held else None, held.submission_id if held else None,
                          {"seconds": delay})
                time.sleep(delay)

    # ------------------------------------------------------------------ Ctrl-C

    @contextlib.contextmanager
    def _signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        # SIGTERM (a service manager stopping the agent) is taken as Ctrl-C is.
        previous = {sig: signal.signal(sig, self._on_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_interrupt(self, signum, frame) -> None:
        self._interrupts += 1
        if self._releasing:
            return
        if not self._busy:
            raise _Stop()
        if self._interrupts == 1:
            self._stopping = True
            self.summary.reason = "stopped by Ctrl-C" if signum == signal.SIGINT else "stopped by SIGTERM"
            held = self._held
            what = (f"submission {held.submission_id} (task {held.task_id})" if held
                    else f"taking a slot in task {self._taking}")
            self._say("stopping", f"finishing {what}, then stopping; Ctrl-C again gives the "
                                  "slot up", held.task_id if held else self._taking,
                      held.submission_id if held else None)
            return
        raise _Release()

    def _release_held(self) -> None:
        """Give up the slot in progress (a second Ctrl-C), if it is still only assigned."""
        self._releasing = True
        self._stopping = True
        self.summary.reason = "stopped by a second Ctrl-C"
        # The interrupted request may have left the connection mid-message.
        with contextlib.suppress(*TRANSIENT):
            self.market.chain.substrate.connect_websocket()
        held = self._held
        submission = None
        if held is not None:
            with contextlib.suppress(NotFoundError):
                submission = self.market.get_submission(held.submission_id)
        elif self._taking is not None:
            submission = self._my_submission(self._taking)
        if submission is None:
            if held is not None:
                self.work.remove(held.submission_id)
            return
        sid, tid = submission.submission_id, submission.task_id
        if submission.status is SubmissionStatus.ASSIGNED:
            self.market.release_slot(sid)
            self.work.remove(sid)
            self.summary.released.append(sid)
            self.summary.reason = f"stopped by a second Ctrl-C; submission {sid} released"
            self._say("released", f"task {tid}: gave up submission {sid} (release_slot); the "
                                  "slot is open again", tid, sid)
        elif submission.status is SubmissionStatus.COMMITTED:
            self.summary.unfinished.append(sid)
            self._say("stopping", f"task {tid}: submission {sid} is already committed and can "
                                  "no longer be given up; its reveal resumes the next time the "
                                  "agent starts in this folder", tid, sid)

    # ------------------------------------------------------------------ finding tasks

    def _learn_taken(self) -> None:
        """Tasks you already hold (or held) a slot in are not taken again."""
        for submission in self.market.list_contributor_submissions(self.address):
            self._done_tasks.add(submission.task_id)

    def _step(self) -> None:
        """Look at what changed (a scan of the open tasks), work on one task that passes
        the filters, or else watch the chain until something changes."""
        if self._rescan:
            self._rescan = False
            head = self.market.chain.block_number()
            self._scan()
            self._scanned_to = max(self._scanned_to, head)
            self._head = max(self._head, head)
        if self._should_stop():
            return
        if self._candidates:
            self._work_on(self._candidates.pop(0))
            self._rescan = True  # things may have changed while it trained
            self._announce_watch = True
        else:
            self._watch()

    def _scan(self) -> None:
        self._watched = set()
        for task in self.market.list_tasks(status=TaskStatus.OPEN):
            if task.task_id not in self._done_tasks:
                self._watched.add(task.task_id)  # a slot may reopen, the reward is read again
            reason = self._refusal(task)
            if reason is None:
                if task.task_id not in self._candidates:
                    self._candidates.append(task.task_id)
            elif reason:
                self._skip(task, reason)
        if self.filters.campaign is not None and self.stop.campaign_end_blocks is not None:
            self._campaign_end = self._campaign_end_block()

    def _refusal(self, task: Task) -> str | None:
        """Why not to take a slot in the task ("" to pass it over silently), or None."""
        if task.task_id in self._done_tasks:
            return ""
        if same_account(task.creator, self.address):
            return "it is your own task"
        reason = self.filters.refusal(task, self.market.creator_record, self._amount)
        if reason is None and task.free_slots <= 0:
            reason = "it has no free slot"
        return reason

    def _skip(self, task: Task, reason: str) -> None:
        if self._reported.get(task.task_id) != reason:
            self._reported[task.task_id] = reason
            self._say("skip", f"task {task.task_id}{_round_text(task)}: skipped: {reason}",
                      task.task_id)

    def _watch(self) -> None:
        """Follow new blocks until one creates a task or changes an open task worth another
        look (or the campaign's latest round), a stop condition is met or the chain is
        silent for a while (then the open tasks are read again). Only those records' bytes
        are compared each block: a hundred agents following a busy campaign decode
        nothing."""
        if self._announce_watch:
            self._announce_watch = False
            self._say("watch", "waiting for a task (Ctrl-C stops)")
        chain = self.market.chain
        tasks = self._watched | ({self._campaign_task} if self._campaign_task is not None else set())
        keys = chain.storage_keys("NextTaskId", [[]]) + chain.storage_keys("Tasks", [[t] for t in sorted(tasks)])

        def on_block(number: int, changed: frozenset[str]) -> bool:
            if number <= self._scanned_to:
                return False  # a scan covered it
            if number > self._scanned_to + 1 or changed:
                return self._stop_watching()  # missed blocks, or a change: read the state again
            self._scanned_to = self._head = number
            return self._should_stop()

        chain.watch_storage(keys, on_block, idle=self._stop_watching)

    def _stop_watching(self) -> bool:
        self._rescan = True
        return True

    # ------------------------------------------------------------------ a campaign's end

    def _campaign_end_block(self) -> int | None:
        """The block the campaign's latest round ended at (closed, removed or expired),
        None while it runs or before the campaign exists."""
        try:
            campaign = self.market.get_campaign(self.filters.campaign)
        except NotFoundError:
            return None
        self._campaign_task = campaign.latest_task
        try:
            task = self.market.get_task(campaign.latest_task)
        except NotFoundError:
            return 0  # removed: it ended long ago
        if task.status is TaskStatus.CLOSED:
            return task.closed_at or 0
        if self.market.chain.block_number() > task.expiration_block:
            return task.expiration_block
        return None

    def _campaign_over(self, head: int) -> bool:
        blocks = self.stop.campaign_end_blocks
        if self.filters.campaign is None or blocks is None or self._campaign_end is None:
            return False
        return head - self._campaign_end >= blocks

    # ------------------------------------------------------------------ working on a task

    def _work_on(self, task_id: int) -> None:
        """Take a slot in the task, train and send; a failure of this task's own (its
        bundle, its slot) is reported and the agent goes on with the next."""
        try:
            self._take_train_send(task_id)
        except TRANSIENT:
            raise
        except DecentralMLError as error:
            self._done_tasks.add(task_id)
            if self._held is not None:
                self._give_up(self._held, _reason(error))
            else:
                self._say("failed", f"task {task_id}: {_reason(error)}", task_id)

    def _take_train_send(self, task_id: int) -> None:
        task = self.market.get_task(task_id)
        reason = self._refusal(task)
        if reason is not None:
            if reason:
                self._skip(task, reason)
            return
        self._busy, self._taking = True, task_id
        early = None
        try:
            if self.start_early:
                slot, early = self._take_early(task)
            else:
                slot = self._take(task)
        except _Release:
            raise  # the slot being taken, if it was, is released by name of its task
        except BaseException:
            self._taking = None
            self._busy = self._held is not None
            raise
        self._taking = None
        self._busy = self._held is not None
        if slot is not None:
            self._train_and_send(slot, early)

    def _take(self, task: Task) -> Slot | None:
        tid = task.task_id
        dest = self.work.new_bundle_dir(tid)
        self._say("take", f"task {tid}{_round_text(task)}: fetching and verifying its bundle, "
                          f"then taking a slot (pays {self._amount(task.pays_amount)})", tid)
        try:
            slot = self.contributor.take_slot(tid, dest)
        except (UserInputError, IntegrityError) as error:
            return self._bundle_refused(tid, error)
        except PalletError as error:
            return self._slot_refused(task, error)
        self._hold(SlotRecord(slot.submission_id, tid, str(slot.bundle_dir)))
        self._say("slot", f"task {tid}: took submission {slot.submission_id}; bundle verified in "
                          f"{slot.bundle_dir}", tid, slot.submission_id)
        return slot

    def _take_early(self, task: Task) -> tuple[Slot | None, BackgroundRun | None]:
        """Fetch and verify the bundle, start it, then take the slot while it trains; a
        slot the chain refuses kills the run and removes its folder."""
        tid = task.task_id
        dest = self.work.new_bundle_dir(tid)
        self._say("take", f"task {tid}{_round_text(task)}: fetching and verifying its bundle, "
                          f"then training while a slot is taken (pays {self._amount(task.pays_amount)})",
                  tid)
        try:
            fetched = self.contributor.fetch_bundle(task, dest)
        except (UserInputError, IntegrityError) as error:
            return self._bundle_refused(tid, error), None
        log_file = _log_file(fetched.bundle_dir)
        self._say("train", f"task {tid}: {self.contributor.describe_run(fetched)} while a slot is "
                           f"taken (its output: {log_file})", tid)
        early = BackgroundRun(self.contributor, fetched, log_file, self._output)
        try:
            slot = self.contributor.take_fetched(fetched)
        except BaseException as error:
            early.cancel()
            shutil.rmtree(fetched.bundle_dir, ignore_errors=True)
            log_file.unlink(missing_ok=True)
            if isinstance(error, PalletError):
                self._say("cancelled", f"task {tid}: training stopped, no slot was taken", tid)
                return self._slot_refused(task, error), None
            raise
        self._hold(SlotRecord(slot.submission_id, tid, str(slot.bundle_dir)))
        self._say("slot", f"task {tid}: took submission {slot.submission_id} while training; "
                          f"bundle verified in {slot.bundle_dir}", tid, slot.submission_id)
        return slot, early

    def _bundle_refused(self, task_id: int, error: DecentralMLError) -> None:
        self._done_tasks.add(task_id)
        self.summary.failed.append(task_id)
        self._say("skip", f"task {task_id}: refused its bundle: {_reason(error)}", task_id)

    def _slot_refused(self, task: Task, error: PalletError) -> Slot | None:
        """After the chain refused a slot: the slot already held (an earlier attempt that
        lost its answer), or None."""
        tid = task.task_id
        if error.name == "AlreadyAssigned":
            submission = self._my_submission(tid)
            if submission is not None and submission.status is SubmissionStatus.ASSIGNED:
                return self._adopt(submission, task)
        if error.name != "NoSlotsLeft":
            self._done_tasks.add(tid)
        self._say("skip", f"task {tid}: could not take a slot: {_reason(error)}", tid)
        return None

    def _hold(self, record: SlotRecord) -> None:
        self._held = record
        self._busy = True
        self._done_tasks.add(record.task_id)
        self.work.save(record)

    def _my_submission(self, task_id: int) -> Submission | None:
        for submission in self.market.list_task_results(task_id):
            if same_account(submission.contributor, self.address):
                return submission
        return None

    def _adopt(self, submission: Submission, task: Task) -> Slot | None:
        """A slot you hold with nothing trained: fetch its bundle again, to train."""
        dest = self.work.new_bundle_dir(task.task_id)
        self._hold(SlotRecord(submission.submission_id, task.task_id, str(dest)))
        self.market.download_bundle(task, dest)
        try:
            return self.contributor.held_slot(submission.submission_id, dest)
        except UserInputError as error:
            self._give_up(self._held, f"its bundle cannot run here: {_reason(error)}")
            return None

    def _train_and_send(self, slot: Slot, early: BackgroundRun | None = None) -> None:
        """Train (or wait for the run started while the slot was taken) and send."""
        record = self._held
        tid, sid = slot.task.task_id, slot.submission_id
        log_file = _log_file(slot.bundle_dir)
        if early is not None:
            try:
                run = early.wait()
            except BaseException:
                early.cancel()
                raise
        else:
            self._say("train", f"task {tid}: {self.contributor.describe_run(slot)} (its output: "
                               f"{log_file})", tid, sid)
            with open(log_file, "a", encoding="utf-8") as lines:
                run = self.contributor.train(slot, echo=echo_to(lines, self._output))
        try:
            if not run.ok:
                raise sandbox.BundleError(run.describe())
            result = sandbox.find_result(run.output_dir)
        except sandbox.BundleError as error:
            self.summary.failed.append(tid)
            self._give_up(record, f"{error} (see {log_file})")
            return
        record.result_dir = str(result)
        self.work.save(record)
        self._say("trained", f"task {tid}: trained in {run.seconds:g} s; result {result}", tid, sid,
                  {"seconds": run.seconds, "result_dir": str(result)})
        self._send(slot, record)

    def _send(self, slot: Slot, record: SlotRecord) -> None:
        tid, sid = record.task_id, record.submission_id
        storage = self.contributor.result_storage(slot.task).value
        self._say("send", f"task {tid}: storing the result on {storage} and sending it "
                          f"(submission {sid})", tid, sid)
        try:
            submission = self._retrying(
                lambda: self.contributor.send(slot, Path(record.result_dir or ".")),
                f"task {tid}: could not send submission {sid}")
        except DecentralMLError as error:
            submission = self._sent_anyway(sid)
            if submission is not None:
                self._sent(record, submission)
                return
            self._say("failed", f"task {tid}: submission {sid} could not be sent: "
                                f"{_reason(error)}; the result stays in {record.result_dir}",
                      tid, sid)
            if isinstance(error, NotFoundError):
                self.work.remove(sid)
            self._let_go()
            return
        self._sent(record, submission)

    def _sent_anyway(self, submission_id: int) -> Submission | None:
        """The submission, if its result was revealed after all (an answer lost on the way)."""
        try:
            submission = self.market.get_submission(submission_id)
        except DecentralMLError:
            return None
        return submission if submission.submitted_at is not None else None

    def _sent(self, record: SlotRecord, submission: Submission) -> None:
        tid, sid = record.task_id, record.submission_id
        self.work.remove(sid)
        self.summary.sent.append(sid)
        where = submission.result_location
        self._say("sent", f"task {tid}: sent submission {sid}: {submission.status.value}"
                          + (f"; stored at {where.storage_type.value}:{where.path}" if where else ""),
                  tid, sid, {"status": submission.status.value,
                             "result_path": where.path if where else None})
        self._let_go()

    def _give_up(self, record: SlotRecord, why: str) -> None:
        """A slot whose bundle failed: say why and release it, so that it reopens now
        rather than when it times out (the assignment deposit goes to the creator either way)."""
        tid, sid = record.task_id, record.submission_id
        self._say("failed", f"task {tid}: {why}; nothing was sent", tid, sid)
        try:
            self._retrying(lambda: self.market.release_slot(sid), f"task {tid}: releasing {sid}")
            self.summary.released.append(sid)
            self._say("released", f"task {tid}: gave up submission {sid} (release_slot)", tid, sid)
        except DecentralMLError as error:
            self._say("failed", f"task {tid}: submission {sid} could not be released: "
                                f"{_reason(error)}; it times out on the chain", tid, sid)
        self.work.remove(sid)
        self._let_go()

    def _let_go(self) -> None:
        self._held = None
        self._busy = False

    # ------------------------------------------------------------------ slots held before

    def _resume_held(self) -> None:
        """Finish the slots recorded in the work folder by an earlier run."""
        for record in self.work.held():
            if self._should_stop():
                return
            try:
                self._resume(record)
            except TRANSIENT:
                raise
            except DecentralMLError as error:
                self._say("failed", f"submission {record.submission_id}: could not be finished: "
                                    f"{_reason(error)}", record.task_id, record.submission_id)
                self.work.remove(record.submission_id)
                self._let_go()

    def _resume(self, record: SlotRecord) -> None:
        """Finish one slot recorded by an earlier run: send what it trained, or train again."""
        try:
            submission = self.market.get_submission(record.submission_id)
        except NotFoundError:
            submission = None
        if (submission is None or not same_account(submission.contributor, self.address)
                or submission.status not in (SubmissionStatus.ASSIGNED,
                                             SubmissionStatus.COMMITTED)):
            self.work.remove(record.submission_id)
            return
        task = self.market.get_task(submission.task_id)
        self._done_tasks.add(task.task_id)
        result = Path(record.result_dir) if record.result_dir else None
        if submission.status is SubmissionStatus.COMMITTED or (result and result.is_dir()):
            self._hold(record)
            self._say("resume", f"task {task.task_id}: sending the result trained before "
                                f"(submission {record.submission_id}, {record.result_dir})",
                      task.task_id, record.submission_id)
            self._send(Slot(record.submission_id, task, Path(record.bundle_dir),
                            self.contributor.settings.sandbox), record)
        else:
            self._say("resume", f"task {task.task_id}: training again for submission "
                                f"{record.submission_id} (nothing trained before)",
                      task.task_id, record.submission_id)
            self.work.remove(record.submission_id)
            slot = self._adopt(submission, task)
            if slot is not None:
                self._train_and_send(slot)


def _log_file(bundle_dir: Path) -> Path:
    """Where a run's output is kept: beside its bundle's folder."""
    return bundle_dir.with_name(bundle_dir.name + ".log")


def _reason(error: BaseException) -> str:
    if isinstance(error, CONNECTION_ERRORS):
        return f"the connection dropped ({type(error).__name__}: {error or 'no answer'})"
    if isinstance(error, PalletError):
        return f"{error.name}: {error.docs}" if error.docs else error.name
    return str(error) or type(error).__name__


def _round_text(task: Task) -> str:
    lineage = task.lineage
    return "" if lineage is None else f" (campaign {lineage.campaign}, round {lineage.round})"
