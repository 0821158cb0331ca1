"""The one validation route, used by the CLI, the library and the main job alike.

For each pending result the strategy selects::

    download -> verify -> open (unseal) -> unpack -> restore weights into the
    creator's model -> evaluate -> decide

and then :func:`submit_decisions` puts every decision on-chain in one atomic batch::

    from substrate_client import validation
    from substrate_client.marketplace import Marketplace

    market = Marketplace.connect(suri="//Alice", root="/tmp/store")
    reviews = validation.validate_task_results(
        market, task_id, validation.CustomAccept("assets/model_creator/hooks.py:accuracy_threshold"),
        work_dir=Path("results"), private_key=keys.load_private_key(),
        evaluator=validation.creator_evaluator("assets/model_creator"),
    )
    validation.submit_decisions(market, reviews)

Trust: what the creator brings (her model, her held-out data, her hook) is checked
first, and a failure there stops the run before anything is decided. What a
contributor brings is confined to its own result: any failure of the result's own
content while receiving, restoring, evaluating or judging it (a hash mismatch, a bad
archive or seal, an unreadable checkpoint, weights that do not fit, values that are
not finite, any exception) rejects that result, with the reason, and the others are
still decided. A result that cannot be opened or judged is never left pending, since
closing the task would pay it.

Outages: a storage service or the node that cannot be reached
(:data:`CREATOR_OUTAGES`: :class:`~substrate_client.errors.StorageUnavailableError`,
:class:`~substrate_client.errors.ChainConnectionError`) says nothing about a result,
so it is never held against one: validation STOPS, before anything is submitted,
with the same error naming what was unreachable and saying that nothing was
decided; every pending result stays pending, and running validation again once the
service is back decides them all (the chain's review period still runs: a result
left undecided past it is paid to its contributor on claim). Rejecting instead would
hold the contributor's reward until the appeal period and make them appeal the
creator's own outage.
Deciding the others first is not done: the outage is usually the whole storage, and
a partial batch would be hard to tell from a complete one. A single result whose
stored object cannot be reached stops every run the same way; decide it by id
without opening it (``ManualAccept(reject_ids=[...])``, ``--reject ID``) if its
contributor does not make it reachable.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable

from ..errors import ChainConnectionError, StorageUnavailableError, UserInputError
from ..federation.metadata import read_result_metadata
from ..records import Submission, SubmissionStatus, Task
from .evaluation import Evaluator
from .results import CreatorModel, check_result_key, find_model_dir, receive_result, restore_result
from .strategies import ACCEPT, PENDING, REJECT, Decision, Strategy

log = logging.getLogger(__name__)

__all__ = [
    "Review",
    "DownloadProgress",
    "validate_task_results",
    "submit_decisions",
    "download_results",
    "clean_reason",
    "CREATOR_OUTAGES",
]

#: ``on_download(submission)`` gives a context manager yielding a ``progress(bytes)`` callback (or None).
DownloadProgress = Callable[[Submission], ContextManager[Callable[[int], None] | None]]

#: Failures of the creator's side, not of a result: they stop validation with nothing
#: decided, and are never a reason to reject (see the module's docstring).
CREATOR_OUTAGES = (StorageUnavailableError, ChainConnectionError)


@dataclass
class Review:
    """One pending result under review; also the ``submission`` a hook receives.

    A hook sees ``submission_id``, ``contributor``, ``metadata`` (the result's
    ``decentralml_result.json``: the contributor's word, untrusted), ``metrics``
    (the creator's evaluation of her model holding the result's weights), ``folder``
    (the unpacked result) and ``submission`` (the chain record). ``error`` says why a
    result could not be opened or judged (it is then rejected).
    """

    submission: Submission
    folder: Path | None = None
    model_dir: Path | None = None
    metadata: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    decision: Decision | None = None
    error: str | None = None

    @property
    def submission_id(self) -> int:
        return self.submission.submission_id

    @property
    def contributor(self) -> str:
        return self.submission.contributor

    @property
    def verdict(self) -> str:
        return self.decision.verdict if self.decision else PENDING

    @property
    def reason(self) -> str:
        if self.decision and self.decision.reason:
            return self.decision.reason
        return self.error or ""

    def summary(self) -> dict:
        """A plain dict for tables and JSON."""
        return {
            "submission_id": self.submission_id,
            "contributor": self.contributor,
            "verdict": self.verdict,
            "reason": self.reason,
            "metrics": dict(self.metrics),
            "error": self.error,
            "folder": None if self.folder is None else str(self.folder),
        }


def _no_progress(_submission: Submission):
    return contextlib.nullcontext(None)


# --------------------------------------------------------------------------- the route


def validate_task_results(
    market, task_id: int, strategy: Strategy, *, work_dir: Path,
    creator_model: CreatorModel | Any | None = None, private_key: bytes | None = None,
    evaluator: Evaluator | None = None, on_download: DownloadProgress | None = None,
    folder_name: Callable[[Submission], str] | None = None,
    pending: list[Submission] | None = None,
) -> list[Review]:
    """Receive, restore, evaluate and decide on the pending results of a task.

    ``strategy`` selects which pending results to decide and decides each
    (:class:`.AutoAccept`, :class:`.ManualAccept`, :class:`.CustomAccept`).
    ``creator_model`` is the creator's model results are restored into: a
    :class:`.CreatorModel`, a Keras model or a SavedModel folder of hers; default the
    model in the task's bundle (only when the signer is the task's creator).
    ``evaluator(model)`` gives metrics on the creator's held-out data. Results are
    unpacked in new folders ``work_dir/<folder_name(submission)>`` (default
    ``submission_<id>``). ``pending``: the task's pending results as the caller has just
    read them (read here otherwise; a caller that follows the task saves a read).

    Nothing is submitted: pass the reviews to :func:`submit_decisions`. Raises, with
    nothing decided, when the creator's side cannot work (a wrong key, her model or
    evaluator failing), and when storage or the node cannot be reached
    (:data:`CREATOR_OUTAGES`; the error raised is of the same class, says what was
    unreachable and that every pending result stays pending). A failure of one
    result's own content only rejects that result.
    """
    task = market.get_task(task_id)
    if pending is None:
        pending = market.list_task_results(task_id, SubmissionStatus.PENDING)
    pending = [s for s in pending if s.task_id == task_id and s.status is SubmissionStatus.PENDING]
    chosen = strategy.select(task, pending)
    to_open = [s for s in chosen if strategy.needs_result(s)]
    work_dir = Path(work_dir)
    name = folder_name or _default_folder_name
    folders = {s.submission_id: work_dir / _safe_folder_name(name(s), s) for s in to_open}
    if len(set(folders.values())) != len(folders):
        raise UserInputError("folder_name gives two results the same folder")
    taken = [str(f) for f in folders.values() if f.exists() or f.is_symlink()]
    if taken:
        raise UserInputError(f"{', '.join(taken)} already exist; give a new folder for the results")
    model = None
    on_download = on_download or _no_progress
    reviews = []
    current = None
    try:
        reason_limit = market.limit("MaxReasonLen") if chosen else 0  # the chain's own limit
        if to_open:
            if any(s.result_location is not None for s in to_open):
                check_result_key(task, private_key)
            creator = _creator_model(market, task, creator_model, work_dir)
            model = creator.get()
            baseline = None if evaluator is None else creator.check_evaluator(evaluator)
            if baseline is not None:
                log.info("the creator's model (%s) before any result: %s", creator.description, baseline)
        for sub in chosen:
            current = sub
            review = _review_one(market, task, sub, strategy, model if strategy.needs_result(sub) else None,
                                 folders.get(sub.submission_id), private_key, evaluator, on_download,
                                 reason_limit)
            log.info("submission %d: %s (%s)", sub.submission_id, review.verdict, review.reason)
            reviews.append(review)
    except CREATOR_OUTAGES as error:
        raise _stopped(error, task_id, pending, current) from error
    return reviews


def _stopped(error: Exception, task_id: int, pending: list[Submission], current: Submission | None) -> Exception:
    """The outage ``error`` again, saying where validation stopped and that nothing was decided."""
    where = "" if current is None else f" at submission {current.submission_id}"
    ids = [str(s.submission_id) for s in pending]
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    message = (f"validation of task {task_id} stopped{where}: {_describe_error(error)} -- nothing was "
               f"decided or submitted; the {len(ids)} pending result(s) ({shown}) stay pending. This is "
               "not a fault of any result: validate again once it is reachable")
    kind = StorageUnavailableError if isinstance(error, StorageUnavailableError) else ChainConnectionError
    return kind(message)


def _default_folder_name(submission: Submission) -> str:
    return f"submission_{submission.submission_id}"


def _safe_folder_name(name: str, submission: Submission) -> str:
    if not name or name in (".", "..") or "/" in name or "\0" in name or len(name.encode()) > 200:
        raise UserInputError(f"{name!r} is not a folder name for submission {submission.submission_id}")
    return name


def _creator_model(market, task: Task, given: Any, work_dir: Path) -> CreatorModel:
    if given is None:
        return CreatorModel.from_task_bundle(market, task, work_dir)
    if isinstance(given, CreatorModel):
        return given
    return CreatorModel(given)


def _review_one(market, task: Task, sub: Submission, strategy: Strategy, model: Any, folder: Path | None,
                private_key: bytes | None, evaluator: Evaluator | None,
                on_download: DownloadProgress, reason_limit: int) -> Review:
    """One result, from download to decision. Any failure of the result rejects this result
    only; an outage (:data:`CREATOR_OUTAGES`) is raised, deciding nothing. The reason is
    cut to ``reason_limit`` bytes (the chain's ``MaxReasonLen``)."""
    review = Review(sub)
    step = "deciding"
    try:
        if model is not None:
            step = "receiving"
            with on_download(sub) as progress:
                review.folder = receive_result(market, task, sub, folder,
                                               private_key=private_key, progress=progress)
            step = "reading"
            review.model_dir = find_model_dir(review.folder)
            review.metadata = read_result_metadata(review.model_dir)
            step = "restoring"
            restore_result(model, review.model_dir)
            if evaluator is not None:
                step = "evaluating"
                review.metrics = dict(evaluator(model))
        step = "deciding"
        decision = strategy.decide(model, review)
        if not isinstance(decision, Decision):
            raise TypeError(f"{strategy!r} returned {type(decision).__name__}, expected a Decision")
    except CREATOR_OUTAGES:  # the creator's side cannot be reached: no verdict on this result
        raise
    except Exception as error:  # confined to this result: it is rejected, the others go on
        review.error = f"{step} failed: {_describe_error(error)}"
        decision = Decision(sub.submission_id, REJECT, f"not judged: {review.error}")
        log.info("submission %d rejected: %s", sub.submission_id, review.error)
    if decision.submission_id != sub.submission_id:
        decision = Decision(sub.submission_id, REJECT,
                            f"not judged: the decision named submission {decision.submission_id}")
    if decision.metrics:
        review.metrics = {**review.metrics, **decision.metrics}
    decision.reason = clean_reason(decision.reason, reason_limit)
    review.decision = decision
    return review


def _describe_error(error: BaseException) -> str:
    text = str(error)
    name = type(error).__name__
    from ..errors import DecentralMLError

    if isinstance(error, DecentralMLError) and text:
        return text
    return f"{name}: {text}" if text else name


def clean_reason(reason: str, limit: int) -> str:
    """A reason fit for the chain and a terminal: one line of printable text, at most
    ``limit`` bytes of UTF-8 (for the chain: ``market.limit("MaxReasonLen")``)."""
    text = "".join(c if c.isprintable() else " " for c in (reason or ""))
    text = " ".join(text.split())
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "..."


def submit_decisions(market, reviews: Iterable[Review], close_task: int | None = None, then=()):
    """Accept and reject the decided results in one atomic transaction (None if nothing to
    do); with ``close_task``, that task is closed in the same transaction, after them, and
    the chain calls of ``then`` follow."""
    reviews = list(reviews)
    accept = [r.submission_id for r in reviews if r.verdict == ACCEPT]
    rejected = [r for r in reviews if r.verdict == REJECT]
    limit = market.limit("MaxReasonLen") if rejected else 0
    reject = {r.submission_id: clean_reason(r.reason, limit) or "rejected by the creator" for r in rejected}
    return market.decide_task_results(accept=accept, reject=reject, close_task=close_task, then=then)


# --------------------------------------------------------------------------- accepted results


def download_results(
    market, task_id: int, dest_root: Path, status: SubmissionStatus | str = SubmissionStatus.ACCEPTED,
    private_key: bytes | None = None, on_download: DownloadProgress | None = None,
) -> list[tuple[Submission, Path]]:
    """Receive (fetch, verify, open, unpack) every stored result of the task in ``status``
    into ``dest_root/submission_<id>``. Returns (submission, model folder) pairs, oldest
    first. Only files are unpacked; nothing in them is loaded."""
    task = market.get_task(task_id)
    subs = [s for s in market.list_task_results(task_id, status) if s.result_location is not None]
    if subs:
        check_result_key(task, private_key)
    on_download = on_download or _no_progress
    found = []
    for sub in subs:
        with on_download(sub) as progress:
            folder = receive_result(market, task, sub, Path(dest_root) / f"submission_{sub.submission_id}",
                                    private_key=private_key, progress=progress)
        found.append((sub, find_model_dir(folder, what=f"the result of submission {sub.submission_id}")))
    return found
