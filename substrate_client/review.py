"""Reviewing a task's results: download each one, load its model, evaluate it, decide.

This is the glue between the marketplace (``tasks``), storage, TensorFlow and the
validation strategies (``validation``)::

    from substrate_client import review
    from substrate_client.tasks import Marketplace

    market = Marketplace.connect(suri="//Alice", root="/tmp/store")
    strategy = review.hook_strategy("assets/model_creator/hooks.py:accuracy_threshold")
    reviews = review.review_task_results(
        market, task_id, strategy, work_dir=Path("results"),
        private_key=keys.load_private_key(), evaluator=review.creator_evaluator("assets/model_creator"),
    )
    review.submit_decisions(market, reviews)      # one atomic batch on-chain

A result that cannot be judged (download failed, unreadable model, a hook that
raised) stays pending, and its :attr:`Review.error` says why. TensorFlow is
imported only when a model is loaded.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Sequence

from . import validation
from .errors import ConfigError, DecentralMLError, UserInputError, ValidationError
from .records import Submission, SubmissionStatus, Task
from .validation import ACCEPT, PENDING, REJECT, Decision

log = logging.getLogger(__name__)

__all__ = [
    "Review",
    "Strategy",
    "hook_strategy",
    "id_strategy",
    "manual_strategy",
    "creator_evaluator",
    "download_results",
    "find_model_dir",
    "load_model",
    "load_tensorflow",
    "review_task_results",
    "submit_decisions",
    "federate_into",
]

#: ``on_download(submission)`` gives a context manager yielding a ``progress(bytes)`` callback (or None).
DownloadProgress = Callable[[Submission], ContextManager[Callable[[int], None] | None]]
#: ``evaluator(model)`` gives metrics such as ``{"accuracy": ..., "loss": ...}``.
Evaluator = Callable[[Any], dict]

#: What the pallet accepts as a rejection reason, in bytes.
MAX_REASON_BYTES = 256


# --------------------------------------------------------------------------- one result


@dataclass
class Review:
    """One pending result under review; also the ``submission`` a hook receives.

    A hook sees ``submission_id``, ``contributor``, ``metadata`` (the result's
    ``decentralml_result.json``), ``metrics`` (evaluation on the creator's held-out
    data), ``folder`` (the unpacked result) and ``submission`` (the chain record).
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


# --------------------------------------------------------------------------- strategies


class Strategy:
    """How a pending result is decided once its model is loaded and evaluated."""

    name = "strategy"

    def check(self, task: Task, pending: Sequence[Submission]) -> None:
        """Raise UserInputError before anything is downloaded if the strategy cannot apply."""

    def decide(self, model: Any, review: Review) -> Decision:
        raise NotImplementedError


class _HookStrategy(Strategy):
    name = "CustomAccept"

    def __init__(self, hook: validation.Hook):
        self.hook = hook

    def decide(self, model: Any, review: Review) -> Decision:
        if model is None:
            return Decision(review.submission_id, PENDING, review.error or "no model to run the hook on")
        raised: list[BaseException] = []

        @functools.wraps(self.hook)
        def guarded(m, s):
            try:
                return self.hook(m, s)
            except Exception as error:
                raised.append(error)
                raise

        decision = validation.run_hook(guarded, model, review)
        if raised:
            review.error = decision.reason
        return decision


class _AskStrategy(Strategy):
    name = "ManualAccept"

    def __init__(self, ask: Callable[[str], str], reason: str = ""):
        self.ask = ask
        self.reason = reason

    def decide(self, model: Any, review: Review) -> Decision:
        shown = dict(review.metrics)
        if review.error:
            shown["problem"] = review.error
        decision = validation.decide_manually(review, shown, self.ask)
        decision.metrics = dict(review.metrics)
        if decision.rejected and self.reason:
            decision.reason = self.reason
        return decision


class _IdStrategy(Strategy):
    name = "ManualAccept"

    def __init__(self, accept_ids: Iterable[int], reject_ids: Iterable[int], reason: str = ""):
        self.decider = validation.decide_by_ids(accept_ids, reject_ids)
        self.reason = reason

    def check(self, task: Task, pending: Sequence[Submission]) -> None:
        listed = self.decider.accept_ids | self.decider.reject_ids
        unknown = listed - {str(s.submission_id) for s in pending}
        if unknown:
            raise UserInputError(
                f"submission(s) {', '.join(sorted(unknown, key=int))} are not pending results "
                f"of task {task.task_id}"
            )

    def decide(self, model: Any, review: Review) -> Decision:
        decision = self.decider(review, review.metrics)
        if decision.rejected and self.reason:
            decision.reason = self.reason
        return decision


def hook_strategy(spec: str) -> Strategy:
    """CustomAccept: ``hook(model, review) -> Decision`` loaded from ``module:function`` or
    ``file.py:function``. A hook that raises leaves its result pending."""
    return _HookStrategy(validation.load_hook(spec))


def manual_strategy(ask: Callable[[str], str], reason: str = "") -> Strategy:
    """ManualAccept by asking: ``ask(prompt) -> answer`` (a/r/s). ``reason`` is recorded for rejections."""
    return _AskStrategy(ask, reason)


def id_strategy(accept_ids: Iterable[int], reject_ids: Iterable[int], reason: str = "") -> Strategy:
    """ManualAccept without questions: accept and reject the listed submissions, leave the rest pending."""
    return _IdStrategy(accept_ids, reject_ids, reason)


# --------------------------------------------------------------------------- models and evaluation


def find_model_dir(folder: Path) -> Path:
    """The SavedModel inside a result folder: the folder itself, or its one sub-folder holding one."""
    folder = Path(folder)
    if (folder / "saved_model.pb").is_file():
        return folder
    found = sorted(p.parent for p in folder.glob("*/saved_model.pb"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValidationError(f"{folder} holds no SavedModel (no saved_model.pb)")
    raise ValidationError(f"{folder} holds {len(found)} SavedModels; expected one")


def load_tensorflow():
    """Import TensorFlow with tf-keras (Keras 2), which reads the SavedModel folders the
    bundles write; the environment must be set before TensorFlow loads."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.models  # noqa: B018 - loads tf-keras now, not half-way through a review
    return tf


def load_model(model_dir: Path) -> Any:
    """Load a Keras SavedModel folder (ValidationError if it cannot be read)."""
    tf = load_tensorflow()
    try:
        return tf.keras.models.load_model(str(model_dir))
    except Exception as error:
        raise ValidationError(f"cannot load the model in {model_dir}: {type(error).__name__}: {error}") from None


def creator_evaluator(creator_dir: str | Path) -> Evaluator:
    """Evaluate models on the creator's held-out data: ``held_out_data()`` of
    ``<creator_dir>/model_creator.py`` (the example task's layout), scored by
    :func:`validation.evaluate`. The data is loaded once, on first use."""
    script = Path(creator_dir).expanduser() / "model_creator.py"
    if not script.is_file():
        raise UserInputError(
            f"no {script}: point --creator-dir at the creator's folder (with model_creator.py), "
            "or skip evaluation (--no-evaluate)"
        )
    held_out = validation.load_hook(f"{script}:held_out_data")

    @functools.lru_cache(maxsize=1)
    def data():
        load_tensorflow()
        return held_out()

    def evaluate(model: Any) -> dict:
        x, y, *rest = data()
        metrics = validation.evaluate(model, x, y)
        if rest:
            metrics["dataset"] = rest[0]
        return metrics

    return evaluate


def _metadata(model_dir: Path) -> dict:
    path = Path(model_dir) / "decentralml_result.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- downloading


def _check_key(task: Task, private_key: bytes | None) -> None:
    """Fail before any download if the task's results are sealed to a key we do not hold."""
    if task.result_public_key is None:
        return
    if private_key is None:
        raise ConfigError(
            f"the results of task {task.task_id} are sealed to {task.result_public_key.hex()}; "
            "pass its private key file (--result-key-file)"
        )
    from nacl.public import PrivateKey

    if bytes(PrivateKey(private_key).public_key) != task.result_public_key:
        raise ConfigError(
            f"the private key given does not open task {task.task_id}'s results: they are sealed "
            f"to {task.result_public_key.hex()}"
        )


def _no_progress(_submission: Submission):
    return contextlib.nullcontext(None)


def download_results(
    market, task_id: int, dest_root: Path, status: SubmissionStatus | str = SubmissionStatus.ACCEPTED,
    private_key: bytes | None = None, on_download: DownloadProgress | None = None,
) -> list[tuple[Submission, Path]]:
    """Download (verify, open, unpack) every stored result of the task in ``status``
    into ``dest_root/submission_<id>``. Returns (submission, folder) pairs, oldest first."""
    task = market.get_task(task_id)
    subs = [s for s in market.list_task_results(task_id, status) if s.result_location is not None]
    if subs:
        _check_key(task, private_key)
    on_download = on_download or _no_progress
    found = []
    for sub in subs:
        with on_download(sub) as progress:
            folder = market.download_task_result(
                sub.submission_id, Path(dest_root) / f"submission_{sub.submission_id}",
                private_key=private_key, progress=progress,
            )
        found.append((sub, folder))
    return found


# --------------------------------------------------------------------------- reviewing


def review_task_results(
    market, task_id: int, strategy: Strategy, *, work_dir: Path,
    private_key: bytes | None = None, evaluator: Evaluator | None = None,
    on_download: DownloadProgress | None = None,
) -> list[Review]:
    """Download, load, evaluate and decide on every pending result of a task.

    Nothing is submitted: pass the reviews to :func:`submit_decisions`. Results are
    unpacked in ``work_dir/submission_<id>``.
    """
    task = market.get_task(task_id)
    pending = market.list_task_results(task_id, SubmissionStatus.PENDING)
    strategy.check(task, pending)
    if any(s.result_location is not None for s in pending):
        _check_key(task, private_key)
    on_download = on_download or _no_progress
    reviews = []
    for sub in pending:
        item = Review(sub)
        model = _prepare(market, item, Path(work_dir), private_key, evaluator, on_download)
        if item.error and strategy.name != "ManualAccept":
            item.decision = Decision(sub.submission_id, PENDING, item.error)
        else:
            item.decision = strategy.decide(model, item)
        if item.decision.metrics:
            item.metrics = {**item.metrics, **item.decision.metrics}
        item.decision.reason = _clip_reason(item.decision.reason)
        log.info("submission %d: %s (%s)", sub.submission_id, item.verdict, item.reason)
        reviews.append(item)
    return reviews


def _prepare(market, item: Review, work_dir: Path, private_key: bytes | None,
             evaluator: Evaluator | None, on_download: DownloadProgress) -> Any:
    """Download, load and evaluate one result; on failure set ``item.error`` and return None."""
    sub = item.submission
    if sub.result_location is None:
        item.error = "the result has no stored folder (text only)"
        return None
    try:
        with on_download(sub) as progress:
            item.folder = market.download_task_result(
                sub.submission_id, work_dir / f"submission_{sub.submission_id}",
                private_key=private_key, progress=progress,
            )
        item.model_dir = find_model_dir(item.folder)
        item.metadata = _metadata(item.model_dir)
        model = load_model(item.model_dir)
    except DecentralMLError as error:
        item.error = str(error)
        log.info("submission %d cannot be evaluated: %s", sub.submission_id, error)
        return None
    if evaluator is not None:
        try:
            item.metrics = dict(evaluator(model))
        except Exception as error:
            item.error = f"evaluation failed: {type(error).__name__}: {error}"
            log.info("submission %d: %s", sub.submission_id, item.error)
    return model


def _clip_reason(reason: str) -> str:
    data = (reason or "").encode("utf-8")
    if len(data) <= MAX_REASON_BYTES:
        return reason or ""
    return data[: MAX_REASON_BYTES - 3].decode("utf-8", errors="ignore") + "..."


def submit_decisions(market, reviews: Iterable[Review]):
    """Accept and reject the decided results in one atomic transaction (None if nothing to do)."""
    reviews = list(reviews)
    accept = [r.submission_id for r in reviews if r.verdict == ACCEPT]
    reject = {r.submission_id: r.reason or "rejected by the creator"
              for r in reviews if r.verdict == REJECT}
    return market.decide_task_results(accept=accept, reject=reject)


# --------------------------------------------------------------------------- federating


def federate_into(model_dirs: Sequence[Path], out: Path, policy: str = "average",
                  template: Path | None = None, trim_fraction: float = 0.1) -> Path:
    """Federate accepted results into a new SavedModel at ``out`` (the ``template``'s
    architecture, default the first result's)."""
    if not model_dirs:
        raise UserInputError("no results to federate")
    load_tensorflow()
    from . import federation

    weights = federation.federate(model_dirs, policy, trim_fraction=trim_fraction, reference=template)
    return federation.save_federated_model(template or model_dirs[0], weights, out)
