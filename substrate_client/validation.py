"""Deciding on contributors' results: AutoAccept, ManualAccept and CustomAccept hooks.

Nothing here talks to the chain. ``tasks.py`` downloads a result, loads its model
and calls these functions with the model and the submission's metadata; it then
accepts (and pays) or rejects on-chain according to the returned :class:`Decision`.

A *submission* is any object with ``.submission_id``, ``.contributor`` and,
optionally, a ``.metadata`` dict (e.g. the contributor's ``decentralml_result.json``).

A CustomAccept *hook* is a function ``hook(model, submission) -> Decision`` named by
a spec such as ``my_package.checks:accuracy_threshold`` or
``hooks/checks.py:accuracy_threshold`` (see :func:`load_hook`). A hook that raises
never accepts: :func:`run_hook` turns the exception into a ``pending`` decision
whose reason reports it.
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
from typing import Any, Callable, Dict, Iterable, Mapping, Optional

from .records import ValidationStrategy
from .errors import UserInputError, ValidationError

__all__ = [
    "ACCEPT",
    "REJECT",
    "PENDING",
    "Decision",
    "ValidationStrategy",
    "Hook",
    "load_hook",
    "run_hook",
    "evaluate",
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
    If it raises, or returns anything else, the submission stays ``pending`` (it is
    never accepted) and the reason reports what went wrong.
    """
    submission_id = getattr(submission, "submission_id", None)
    name = _hook_name(hook)
    try:
        result = hook(model, submission)
    except Exception as exc:
        log.exception("validation hook %s failed on submission %s", name, submission_id)
        return Decision(submission_id, PENDING, f"hook {name} raised {type(exc).__name__}: {exc}")
    if isinstance(result, Decision):
        if result.submission_id is None:
            result.submission_id = submission_id
        elif result.submission_id != submission_id:
            return Decision(
                submission_id,
                PENDING,
                f"hook {name} returned a decision for submission {result.submission_id}, not {submission_id}",
                dict(result.metrics),
            )
        return result
    if isinstance(result, bool):
        return Decision(submission_id, ACCEPT if result else REJECT, f"hook {name} returned {result}")
    return Decision(
        submission_id, PENDING, f"hook {name} returned {type(result).__name__}, expected a Decision"
    )


# --------------------------------------------------------------------------- metrics


def evaluate(model: Any, x: Any, y: Any, batch_size: int = 256) -> Dict[str, float]:
    """Evaluate a Keras model on held-out data: ``{"loss": ..., "accuracy": ..., "samples": n}``.

    For a classifier with integer labels, accuracy and loss are computed here from
    the model's predictions: the metrics a model was compiled with travel inside the
    contributor's SavedModel, so the creator does not trust them. Other models fall
    back to their own ``evaluate``.
    """
    import numpy as np

    samples = int(len(y))
    labels = np.asarray(y)
    outputs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    if outputs.ndim == labels.ndim + 1 and np.issubdtype(labels.dtype, np.integer):
        metrics = {
            "loss": _cross_entropy(outputs, labels),
            "accuracy": float(np.mean(np.argmax(outputs, axis=-1) == labels)),
        }
    else:
        raw = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        metrics = {str(k): float(v) for k, v in raw.items()}
        for key in sorted(metrics):
            if key.endswith("accuracy"):
                metrics.setdefault("accuracy", metrics[key])
    metrics["samples"] = samples
    return metrics


def _cross_entropy(outputs: Any, labels: Any) -> float:
    """Mean sparse categorical cross-entropy, whether the outputs are logits or
    probabilities (rows of non-negative numbers summing to one)."""
    import numpy as np

    outputs = outputs.astype(np.float64)
    is_probability = np.all(outputs >= 0) and np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3)
    if is_probability:
        log_probs = np.log(np.clip(outputs, 1e-12, 1.0))
    else:
        shifted = outputs - outputs.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, labels[..., None].astype(np.int64), axis=-1)
    return float(-np.mean(picked))


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
