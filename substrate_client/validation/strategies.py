"""Deciding on contributors' results: the AutoAccept, ManualAccept and CustomAccept strategies.

Nothing here talks to the chain or opens a result: the route (:mod:`.route`) opens
each result, restores its weights into the creator's model, evaluates it, and then
asks a :class:`Strategy` for a :class:`Decision`:

* :class:`AutoAccept`: accept every result that opened, restored and evaluated;
* :class:`ManualAccept`: ask a person (``ask``), or decide by listed ids without asking;
* :class:`CustomAccept`: the creator's hook ``hook(model, review) -> Decision``.

A *submission* given to a hook is any object with ``.submission_id``, ``.contributor``
and, optionally, ``.metadata`` (the contributor's ``decentralml_result.json``) and
``.metrics`` (the creator's evaluation). The route gives a :class:`.route.Review`.

A CustomAccept *hook* is named by a spec such as ``my_package.checks:accuracy_threshold``
or ``hooks/checks.py:accuracy_threshold`` (see :func:`load_hook`). A hook that raises,
or returns anything but a Decision or a bool, never accepts: :func:`run_hook` turns
that into a rejection whose reason says what went wrong. A hook may return a
``pending`` Decision on purpose (decide later by hand).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from ..errors import UserInputError, ValidationError
from ..records import ValidationStrategy

__all__ = [
    "ACCEPT",
    "REJECT",
    "PENDING",
    "Decision",
    "ValidationStrategy",
    "parse_strategy",
    "Strategy",
    "AutoAccept",
    "ManualAccept",
    "CustomAccept",
    "Hook",
    "load_hook",
    "run_hook",
    "decide_manually",
    "decide_by_ids",
    "IdDecider",
]

log = logging.getLogger(__name__)

ACCEPT = "accept"
REJECT = "reject"
PENDING = "pending"
VERDICTS = (ACCEPT, REJECT, PENDING)


@dataclass
class Decision:
    """What to do with one submission, and why.

    ``verdict`` is ``"accept"``, ``"reject"`` or ``"pending"`` (decide later; never
    paid). ``metrics`` holds whatever the decision was based on (``accuracy``, ...).
    """

    submission_id: Any
    verdict: str
    reason: str = ""
    metrics: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValidationError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPT

    @property
    def rejected(self) -> bool:
        return self.verdict == REJECT

    @property
    def pending(self) -> bool:
        return self.verdict == PENDING


def parse_strategy(text: str) -> ValidationStrategy:
    """``"AutoAccept"``, ``"auto_accept"``, ``"auto-accept"`` or ``"auto"`` -> AutoAccept, etc."""
    key = str(text).replace("_", "").replace("-", "").lower()
    for member in ValidationStrategy:
        name = member.value.lower()
        if key in (name, name[: -len("accept")]):
            return member
    raise UserInputError(
        f"unknown validation strategy {text!r}; choose one of: "
        f"{', '.join(m.value for m in ValidationStrategy)}"
    )


Hook = Callable[[Any, Any], Decision]


# --------------------------------------------------------------------------- hooks


def load_hook(spec: str) -> Hook:
    """Load a CustomAccept hook from ``package.module:function`` or ``path/to/file.py:function``.

    Raises UserInputError saying what is wrong (bad spec, module or file not found,
    no such function, not callable, the module failed while importing).
    """
    text = str(spec).strip()
    source, sep, func_name = text.rpartition(":")
    if not sep or not source or not func_name:
        raise UserInputError(
            f"hook {spec!r} is not of the form 'package.module:function' or 'path/to/file.py:function'"
        )
    if source.endswith(".py") or "/" in source or os.sep in source:
        module = _load_file_module(source, text)
    else:
        module = _import_module(source, text)
    hook = getattr(module, func_name, None)
    if hook is None:
        defined = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise UserInputError(
            f"hook {text!r}: {source} has no function {func_name!r}"
            + (f" (it defines: {', '.join(defined)})" if defined else "")
        )
    if not callable(hook):
        raise UserInputError(f"hook {text!r}: {source}:{func_name} is a {type(hook).__name__}, not a function")
    return hook


def _import_module(name: str, spec: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UserInputError(f"hook {spec!r}: module {name!r} not found (is it installed or on PYTHONPATH?)") from exc
        raise UserInputError(f"hook {spec!r}: importing module {name!r} failed: {exc}") from exc
    except Exception as exc:
        raise UserInputError(f"hook {spec!r}: importing module {name!r} failed: {type(exc).__name__}: {exc}") from exc


def _load_file_module(path_text: str, spec: str):
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise UserInputError(f"hook {spec!r}: file {path_text} not found")
    # A stable, unique module name per file, so two hook files named checks.py do not collide.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_name = f"decentralml_hook_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    import_spec = importlib.util.spec_from_file_location(module_name, path)
    if import_spec is None or import_spec.loader is None:
        raise UserInputError(f"hook {spec!r}: {path_text} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[module_name] = module
    try:
        import_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise UserInputError(f"hook {spec!r}: running {path_text} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _hook_name(hook: Callable) -> str:
    return f"{getattr(hook, '__module__', '?')}.{getattr(hook, '__qualname__', repr(hook))}"


def run_hook(hook: Hook, model: Any, submission: Any) -> Decision:
    """Run a CustomAccept hook on one submission.

    The hook returns a :class:`Decision` (or a bool: True accepts, False rejects).
    If it raises, or returns anything else, the submission is rejected (never
    accepted, and never left pending for a close to pay) and the reason reports
    what went wrong.
    """
    submission_id = getattr(submission, "submission_id", None)
    name = _hook_name(hook)
    try:
        result = hook(model, submission)
    except Exception as exc:
        log.info("validation hook %s failed on submission %s: %s: %s",
                 name, submission_id, type(exc).__name__, exc)
        return Decision(submission_id, REJECT, f"not judged: hook {name} raised {type(exc).__name__}: {exc}")
    if isinstance(result, Decision):
        if result.submission_id is None:
            result.submission_id = submission_id
        elif result.submission_id != submission_id:
            return Decision(
                submission_id,
                REJECT,
                f"not judged: hook {name} returned a decision for submission {result.submission_id}, "
                f"not {submission_id}",
                dict(result.metrics),
            )
        return result
    if isinstance(result, bool):
        return Decision(submission_id, ACCEPT if result else REJECT, f"hook {name} returned {result}")
    return Decision(
        submission_id, REJECT, f"not judged: hook {name} returned {type(result).__name__}, expected a Decision"
    )


# --------------------------------------------------------------------------- manual decisions

_ANSWERS = {
    "a": ACCEPT, "accept": ACCEPT, "y": ACCEPT, "yes": ACCEPT,
    "r": REJECT, "reject": REJECT, "n": REJECT, "no": REJECT,
    "s": PENDING, "skip": PENDING, "": PENDING,
}


def _format_metrics(metrics: Mapping[str, Any]) -> str:
    parts = []
    for key, value in metrics.items():
        parts.append(f"{key}={value:.4f}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts) or "no metrics"


def decide_manually(
    submission: Any,
    metrics: Mapping[str, Any],
    ask: Callable[[str], str],
    max_attempts: int = 3,
) -> Decision:
    """Ask a person whether to accept one submission (ManualAccept).

    ``ask(prompt) -> answer`` is e.g. ``input`` or ``click.prompt``. Answers:
    ``a``/``accept``, ``r``/``reject``, ``s``/``skip`` (or empty: decide later). After
    ``max_attempts`` unrecognised answers the submission stays pending.
    """
    submission_id = getattr(submission, "submission_id", None)
    contributor = getattr(submission, "contributor", "?")
    prompt = (
        f"Submission {submission_id} from {contributor}: {_format_metrics(metrics)}\n"
        "Accept, reject or skip? [a/r/s] "
    )
    for _ in range(max_attempts):
        answer = str(ask(prompt)).strip().lower()
        verdict = _ANSWERS.get(answer)
        if verdict is not None:
            reason = {ACCEPT: "accepted by hand", REJECT: "rejected by hand", PENDING: "skipped; decide later"}[verdict]
            return Decision(submission_id, verdict, reason, dict(metrics))
        prompt = f"Please answer a (accept), r (reject) or s (skip), not {answer!r}: "
    return Decision(submission_id, PENDING, f"no valid answer after {max_attempts} attempts", dict(metrics))


class IdDecider:
    """A non-interactive ManualAccept: accept and reject the submissions listed by id.

    Call it like ``decide_manually`` without ``ask``: ``decider(submission, metrics)``.
    Submissions in neither list stay pending. Ids compare as strings, so ``7`` and
    ``"7"`` are the same submission.
    """

    def __init__(self, accept_ids: Iterable[Any] = (), reject_ids: Iterable[Any] = ()):
        self.accept_ids = {str(i) for i in accept_ids}
        self.reject_ids = {str(i) for i in reject_ids}
        both = self.accept_ids & self.reject_ids
        if both:
            raise UserInputError(f"submissions {', '.join(sorted(both))} are listed both to accept and to reject")
        self.seen: set = set()

    def __call__(self, submission: Any, metrics: Optional[Mapping[str, Any]] = None) -> Decision:
        submission_id = getattr(submission, "submission_id", submission)
        key = str(submission_id)
        self.seen.add(key)
        metrics = dict(metrics or {})
        if key in self.accept_ids:
            return Decision(submission_id, ACCEPT, "accepted by id", metrics)
        if key in self.reject_ids:
            return Decision(submission_id, REJECT, "rejected by id", metrics)
        return Decision(submission_id, PENDING, "not listed to accept or reject", metrics)

    def unknown_ids(self) -> set:
        """Listed ids not seen among the submissions decided so far (likely typos)."""
        return (self.accept_ids | self.reject_ids) - self.seen


def decide_by_ids(accept_ids: Iterable[Any], reject_ids: Iterable[Any]) -> IdDecider:
    """The non-interactive ManualAccept: ``decide_by_ids([3], [4])(submission, metrics) -> Decision``."""
    return IdDecider(accept_ids, reject_ids)


# --------------------------------------------------------------------------- strategies


class Strategy:
    """How the route decides on results, once each is opened, restored and evaluated.

    ``select`` picks the pending results this strategy decides (the others are left
    as they are, not even downloaded) and raises UserInputError, before anything is
    downloaded, when it cannot apply. ``needs_result`` says whether a result must be
    opened to be decided. ``decide`` gets the creator's model holding the result's
    weights (None when the result was not opened) and the review.
    """

    name = "Strategy"

    def select(self, task: Any, pending: Sequence[Any]) -> List[Any]:
        return list(pending)

    def needs_result(self, submission: Any) -> bool:
        return True

    def decide(self, model: Any, review: Any) -> Decision:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class AutoAccept(Strategy):
    """Accept every result that opened, restored into the creator's model and evaluated."""

    name = ValidationStrategy.AUTO_ACCEPT.value

    def decide(self, model: Any, review: Any) -> Decision:
        return Decision(review.submission_id, ACCEPT, "opened, restored and evaluated",
                        dict(getattr(review, "metrics", {}) or {}))


class ManualAccept(Strategy):
    """A person decides: by answering ``ask(prompt) -> answer`` (a/r/s) for each
    result, or, with ``accept_ids``/``reject_ids`` and no ``ask``, without questions.

    By ids, only the listed results are decided (the rest are left as they are, not
    downloaded); a listed id that is not a pending result of the task is a
    UserInputError before anything is downloaded. Results listed to reject are not
    opened. ``reason`` is recorded for rejections.
    """

    name = ValidationStrategy.MANUAL_ACCEPT.value

    def __init__(self, ask: Optional[Callable[[str], str]] = None, *, accept_ids: Iterable[Any] = (),
                 reject_ids: Iterable[Any] = (), reason: str = ""):
        self.ask = ask
        self.ids = IdDecider(accept_ids, reject_ids)
        self.reason = reason
        if ask is not None and (self.ids.accept_ids or self.ids.reject_ids):
            raise UserInputError("ask, or list ids to accept and reject, not both")

    @property
    def by_ids(self) -> bool:
        return self.ask is None

    def select(self, task: Any, pending: Sequence[Any]) -> List[Any]:
        if not self.by_ids:
            return list(pending)
        listed = self.ids.accept_ids | self.ids.reject_ids
        unknown = listed - {str(s.submission_id) for s in pending}
        if unknown:
            raise UserInputError(
                f"submission(s) {', '.join(sorted(unknown, key=_id_order))} are not pending results "
                f"of task {getattr(task, 'task_id', '?')}"
            )
        return [s for s in pending if str(s.submission_id) in listed]

    def needs_result(self, submission: Any) -> bool:
        return not self.by_ids or str(submission.submission_id) in self.ids.accept_ids

    def decide(self, model: Any, review: Any) -> Decision:
        metrics = dict(getattr(review, "metrics", {}) or {})
        if self.by_ids:
            decision = self.ids(review, metrics)
        else:
            decision = decide_manually(review, metrics, self.ask)
        if decision.rejected and self.reason:
            decision.reason = self.reason
        return decision

    def __repr__(self) -> str:
        return "ManualAccept(by ids)" if self.by_ids else "ManualAccept(asking)"


class CustomAccept(Strategy):
    """The creator's hook decides: ``hook(model, review) -> Decision`` (a function, or a
    spec for :func:`load_hook`). A hook that raises rejects (see :func:`run_hook`)."""

    name = ValidationStrategy.CUSTOM_ACCEPT.value

    def __init__(self, hook: Union[Hook, str]):
        self.hook = load_hook(hook) if isinstance(hook, str) else hook
        if not callable(self.hook):
            raise UserInputError(f"a CustomAccept hook must be callable, not {type(self.hook).__name__}")

    def decide(self, model: Any, review: Any) -> Decision:
        return run_hook(self.hook, model, review)

    def __repr__(self) -> str:
        return f"CustomAccept({_hook_name(self.hook)})"


def _id_order(text: str):
    return (0, int(text)) if text.isdigit() else (1, text)
