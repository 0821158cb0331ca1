"""Evaluating a model on the creator's held-out data.

The model evaluated is always the creator's own, holding a result's restored
weights (see :mod:`.results`); metrics are computed here from its predictions, never
taken from anything a contributor sent. TensorFlow is imported only when needed.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Dict

from ..errors import UserInputError
from ..tensorflow_setup import load_tensorflow

__all__ = ["Evaluator", "evaluate", "creator_evaluator"]

#: ``evaluator(model)`` gives metrics such as ``{"accuracy": ..., "loss": ..., "samples": n}``.
Evaluator = Callable[[Any], dict]


def evaluate(model: Any, x: Any, y: Any, batch_size: int = 1024) -> Dict[str, float]:
    """Evaluate a Keras model on held-out data: ``{"loss": ..., "accuracy": ..., "samples": n}``.

    For a classifier with integer labels, accuracy and loss are computed here from
    the model's predictions: the metrics a model was compiled with travel inside the
    contributor's SavedModel, so the creator does not trust them. Other models fall
    back to their own ``evaluate``.
    """
    import numpy as np

    samples = int(len(y))
    labels = np.asarray(y)
    outputs = _predict(model, x, batch_size)
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


def _predict(model: Any, x: Any, batch_size: int) -> Any:
    """The model's outputs for ``x``, ``batch_size`` rows at a time. ``predict_on_batch``
    runs the model's compiled predict step on each slice; ``predict`` would build a data
    pipeline and a progress callback on every call, which for a held-out set of a few
    thousand rows costs several times the prediction itself (paid per result judged)."""
    import numpy as np

    if not isinstance(x, np.ndarray) or not len(x) or not hasattr(model, "predict_on_batch"):
        # several inputs, or no rows: Keras' own loop knows how to slice them
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    return np.concatenate([np.asarray(model.predict_on_batch(x[start:start + batch_size]))
                           for start in range(0, len(x), batch_size)])


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


def creator_evaluator(creator_dir: str | Path) -> Evaluator:
    """Evaluate models on the creator's held-out data: ``held_out_data()`` of
    ``<creator_dir>/model_creator.py`` (the example task's layout; the creator's own
    code), scored by :func:`evaluate`. The data is loaded once, on first use."""
    from .strategies import load_hook

    script = Path(creator_dir).expanduser() / "model_creator.py"
    if not script.is_file():
        raise UserInputError(
            f"no {script}: point --creator-dir at the creator's folder (with model_creator.py), "
            "or skip evaluation (--no-evaluate)"
        )
    held_out = load_hook(f"{script}:held_out_data")

    @functools.lru_cache(maxsize=1)
    def data():
        load_tensorflow()
        return held_out()

    def evaluate_model(model: Any) -> dict:
        x, y, *rest = data()
        metrics = evaluate(model, x, y)
        if rest:
            metrics["dataset"] = rest[0]
        return metrics

    return evaluate_model
