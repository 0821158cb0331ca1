"""Example CustomAccept hooks: accept a result when its held-out accuracy reaches a
threshold (:func:`accuracy_threshold`), and, for contributors who each hold only a few
labels (non-IID), when its held-out loss also stays within a limit (:func:`accuracy_and_loss`).

Use one with the CustomAccept strategy, named by either spec::

    assets.model_creator.hooks:accuracy_threshold
    assets/model_creator/hooks.py:accuracy_threshold

A hook receives ``model``, the creator's OWN model holding the result's weights (only
the result's variables are read, by checkpoint key, dtype and shape; the
contributor's SavedModel graph is never loaded, so nothing in it runs), and the
submission (``.submission_id``, ``.contributor``, ``.metadata``: the contributor's
own ``decentralml_result.json``, untrusted; ``.metrics``: the creator's evaluation)
and returns a ``Decision`` (or True / False). Write your own the same way. If it
raises, or returns anything else, the result is rejected with the error as the
reason: never accepted, and never left pending for a close to pay.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

_REPO_ROOT = Path(__file__).resolve().parents[2]
if not __package__ and str(_REPO_ROOT) not in sys.path:  # loaded from its file path
    sys.path.insert(0, str(_REPO_ROOT))

from assets.model_creator import model_creator, settings  # noqa: E402
from substrate_client.validation import ACCEPT, REJECT, Decision, evaluate  # noqa: E402

# The held-out data is read when the hook is loaded (a validation or a campaign starting;
# ~0.8 s from disk), not while the first result waits to be judged.
model_creator.held_out_data()


def accuracy_threshold(model, submission) -> Decision:
    """Accept when accuracy on the creator's held-out data is at least ``settings.ACCURACY_THRESHOLD``."""
    x, y, dataset = model_creator.held_out_data()
    metrics = _held_out_metrics(model, submission, x, y, dataset)
    accuracy = metrics["accuracy"]
    threshold = float(settings.ACCURACY_THRESHOLD)
    accepted = accuracy >= threshold
    reason = (
        f"held-out accuracy {accuracy:.4f} {'>=' if accepted else '<'} threshold {threshold:.4f} "
        f"({len(y)} {dataset} test samples)"
    )
    trained_on = (getattr(submission, "metadata", None) or {}).get("dataset")
    if trained_on and trained_on != dataset:
        reason += f"; the contributor trained on {trained_on}"
    return Decision(submission.submission_id, ACCEPT if accepted else REJECT, reason, metrics)


def _held_out_metrics(model, submission, x, y, dataset: str) -> dict:
    """The model's accuracy and loss on the held-out data: the creator's evaluation of
    this very model when the validation route has just made it on the same data
    (``submission.metrics``, computed from the model's own predictions, never sent by the
    contributor), else evaluated here."""
    given = dict(getattr(submission, "metrics", None) or {})
    if {"accuracy", "loss"} <= given.keys() and given.get("dataset") == dataset \
            and given.get("samples") == len(y):
        return given
    metrics = evaluate(model, x, y)
    metrics["dataset"] = dataset
    return metrics


def accuracy_and_loss(model, submission) -> Decision:
    """Accept when held-out accuracy is at least ``settings.ACCURACY_THRESHOLD`` and
    held-out loss at most ``settings.MAX_LOSS``.

    A contributor who holds only a few labels scores little above chance on held-out data
    covering all of them, as random weights may: the accuracy threshold can be set only a
    little above chance (it still refuses an untrained model). Random weights are told
    apart by their loss: they are confidently wrong (a loss near 100 for the example's
    model, against under 10 for a model trained on a few labels).
    """
    decision = accuracy_threshold(model, submission)
    loss, limit = float(decision.metrics["loss"]), float(settings.MAX_LOSS)
    within = loss <= limit
    reason = f"{decision.reason}; held-out loss {loss:.3f} {'<=' if within else '>'} limit {limit:g}"
    verdict = ACCEPT if decision.verdict == ACCEPT and within else REJECT
    return Decision(submission.submission_id, verdict, reason, decision.metrics)
