"""The model creator's side of the example task (the MNIST walk-through).

The creator builds a small model, ships it in a task bundle to contributors, and
later federates the results it accepted::

    python assets/model_creator/model_creator.py create             # the initial model -> model/
    python assets/model_creator/model_creator.py bundle             # the contributor bundle -> bundle/
    python assets/model_creator/model_creator.py evaluate RESULT_DIR [--template DIR]
    python assets/model_creator/model_creator.py federate [RESULT_DIR ...]

Settings are in ``settings.py`` (override with ``DECENTRALML_*`` environment variables).
Federation delegates to :mod:`substrate_client.federation`; only results that were
accepted should be federated.

A contributor's result is a stranger's SavedModel: loading it would run what it
carries (a Lambda layer's Python, graph ops). So a result is never loaded here: only
its variables are read, by the strict checkpoint reader, and restored by key, dtype
and shape into the creator's own model (:func:`load_result`), exactly as the
validation route does. :func:`load_model` is for the creator's own folders only.
"""

import os

# tf-keras (Keras 2) so that model.save(dir) writes a SavedModel folder; set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union  # noqa: E402

_REPO_ROOT = Path(__file__).resolve().parents[2]
if not __package__ and str(_REPO_ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(_REPO_ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from assets.model_contributor import model_contributor as contributor  # noqa: E402
from assets.model_creator import settings  # noqa: E402
from substrate_client import federation, validation  # noqa: E402
from substrate_client.errors import DecentralMLError, UserInputError, ValidationError  # noqa: E402

CONTRIBUTOR_DIR = Path(contributor.__file__).resolve().parent
#: The files of the contributor bundle, besides the model and task_settings.json.
BUNDLE_FILES = ("start_task.sh", "model_contributor.py", "settings.py", "requirements.txt")


def log(message: str) -> None:
    print(f"[decentralml] {message}", flush=True)


# --------------------------------------------------------------------------- model


#: The optimizers contributors may train with (the model carries its choice to them).
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD"}


def create_model(
    hidden_units: Optional[int] = None,
    dropout: Optional[float] = None,
    learning_rate: Optional[float] = None,
    optimizer: Optional[str] = None,
) -> "tf.keras.Model":
    """The walk-through's MLP: Flatten 28x28 -> Dense relu -> Dropout -> Dense 10 (logits),
    compiled with ``optimizer`` (``adam`` or ``sgd``) at ``learning_rate``: contributors
    train it with what it was compiled with."""
    hidden_units = settings.HIDDEN_UNITS if hidden_units is None else hidden_units
    dropout = settings.DROPOUT if dropout is None else dropout
    learning_rate = settings.LEARNING_RATE if learning_rate is None else learning_rate
    optimizer = str(settings.OPTIMIZER if optimizer is None else optimizer).lower()
    if optimizer not in OPTIMIZERS:
        raise UserInputError(f"unknown optimizer {optimizer!r}; choose {' or '.join(OPTIMIZERS)}")
    layers = [
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(hidden_units, activation="relu"),
    ]
    if dropout:
        layers.append(tf.keras.layers.Dropout(dropout))
    layers.append(tf.keras.layers.Dense(10))
    model = tf.keras.Sequential(layers, name=settings.MODEL_NAME)
    model.compile(
        optimizer=getattr(tf.keras.optimizers, OPTIMIZERS[optimizer])(learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],  # a string would be resolved wrongly after a SavedModel reload
    )
    return model


def load_model(path: Union[str, Path]) -> "tf.keras.Model":
    """Load one of the creator's OWN SavedModel folders (the initial or the federated model).

    Loading runs what a SavedModel carries, so a contributor's result is refused here
    (it holds ``decentralml_result.json``): use :func:`load_result` for results.
    """
    return federation.load_creator_model(path)


def train_model(model: "tf.keras.Model", x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int) -> Dict[str, float]:
    """Train ``model`` in place; returns the last epoch's metrics."""
    return contributor.train_model(model, x, y, epochs, batch_size)


def evaluate_model(model: "tf.keras.Model", x: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    """``{"loss": ..., "accuracy": ..., "samples": n}`` on ``x``, ``y``."""
    return validation.evaluate(model, x, y)


def save_model(model: "tf.keras.Model", path: Union[str, Path]) -> Path:
    """Save ``model`` as a SavedModel folder at ``path``."""
    model.save(str(path))
    return Path(path)


# --------------------------------------------------------------------------- data


def load_data(dataset: Optional[str] = None):
    """((x_train, y_train), (x_test, y_test), dataset name), images in [0, 1]."""
    return contributor.load_dataset(dataset or settings.DATASET)


@lru_cache(maxsize=4)
def _held_out(dataset: str, size: int) -> Tuple[np.ndarray, np.ndarray, str]:
    _, (x_test, y_test), name = contributor.load_dataset(dataset)
    return x_test[:size], y_test[:size], name


def held_out_data(size: Optional[int] = None, dataset: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray, str]:
    """The creator's held-out data: the first ``size`` samples of the test split, which contributors never see."""
    return _held_out(dataset or settings.DATASET, int(settings.HELD_OUT if size is None else size))


# --------------------------------------------------------------------------- results and federation


def _has_checkpoint(folder: Path) -> bool:
    return (folder / "variables" / "variables.index").is_file()  # all that is read of a result


def result_dirs(path: Union[str, Path], model_name: Optional[str] = None) -> List[Path]:
    """The result folders ``<model_name>_*`` inside ``path`` (sorted)."""
    name = model_name or settings.MODEL_NAME
    return sorted(p for p in Path(path).glob(f"{name}_*") if p.is_dir() and _has_checkpoint(p))


def _expand(paths: Union[str, Path, Sequence[Union[str, Path]]]) -> List[Path]:
    if isinstance(paths, (str, Path)):
        path = Path(paths)
        return [path] if _has_checkpoint(path) else result_dirs(path)
    return [Path(p) for p in paths]


#: The creator's model a result's weights are restored into: her SavedModel folder, a
#: function returning a new model of hers, or one of her models in memory (then restored
#: in place) (default: ``settings.MODEL_PATH`` if it exists, else :func:`create_model`).
Template = Union[None, str, Path, Callable[[], "tf.keras.Model"], "tf.keras.Model"]


def creator_model(template: Template = None) -> "tf.keras.Model":
    """The creator's own model (see :data:`Template`): a new one unless ``template`` is a model."""
    if template is None:
        template = Path(settings.MODEL_PATH) if Path(settings.MODEL_PATH).is_dir() else create_model
    return validation.CreatorModel(template).get()


def load_result(result_dir: Union[str, Path], template: Template = None) -> "tf.keras.Model":
    """A contributor's result as a model: the creator's own model (``template``) holding the
    result's weights, restored by :func:`substrate_client.validation.restore_result`.

    Only the result's checkpoint (``variables/``) is read, by the strict reader; its
    graph is never loaded, so nothing it carries runs. ValidationError names a result
    whose weights do not fit the creator's model (extra, missing, reshaped, not finite)
    or whose checkpoint is malformed.
    """
    folder = Path(result_dir)
    model = creator_model(template)
    validation.restore_result(model, validation.find_model_dir(folder, what=str(folder)))
    return model


def load_contributors_models(paths: Union[str, Path, Sequence[Union[str, Path]]],
                             template: Template = None) -> List["tf.keras.Model"]:
    """Contributors' results as models, one :func:`load_result` each (a new copy of the
    creator's model per result): a list of result folders, or one folder holding
    ``<model_name>_*`` results."""
    dirs = _expand(paths)
    if isinstance(template, tf.keras.Model) and len(dirs) > 1:
        raise UserInputError("each result needs its own copy of your model: give a SavedModel folder or "
                             "a function returning a new model as template, not one model")
    return [load_result(p, template) for p in dirs]


def federate_contributors_model(
    models_or_paths: Union[str, Path, Sequence[Any]],
    policy: str = "average",
    sample_counts: Optional[Sequence[float]] = None,
    trim_fraction: Optional[float] = None,
):
    """Federate accepted results (only accepted ones: validate first).

    Result folders (recommended: read straight from their checkpoints) give a
    :class:`substrate_client.federation.FederatedWeights` mapping; in-memory models
    give a list of arrays for ``model.set_weights``. Either goes to
    :func:`set_model_weights`.
    """
    trim = settings.TRIM_FRACTION if trim_fraction is None else trim_fraction
    if isinstance(models_or_paths, (str, Path)) or all(isinstance(m, (str, Path)) for m in models_or_paths):
        return federation.federate(_expand(models_or_paths), policy, sample_counts=sample_counts, trim_fraction=trim)
    return federation.federate_models(list(models_or_paths), policy, sample_counts=sample_counts, trim_fraction=trim)


def set_model_weights(model: "tf.keras.Model", weights: Union[Mapping[str, np.ndarray], Sequence[np.ndarray]]) -> "tf.keras.Model":
    """Set federated weights on ``model`` (a mapping from :func:`federate_contributors_model`, or a list)."""
    if isinstance(weights, Mapping):
        return federation.apply_weights(model, weights)
    model.set_weights(list(weights))
    return model


# --------------------------------------------------------------------------- the bundle


def write_task_settings(bundle_dir: Union[str, Path]) -> Path:
    """Write the training settings contributors must follow into ``bundle_dir/task_settings.json``."""
    path = Path(bundle_dir) / "task_settings.json"
    path.write_text(json.dumps(settings.task_settings(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def prepare_bundle(model: "tf.keras.Model", bundle_dir: Union[str, Path]) -> Path:
    """Lay out a contributor bundle: the contributor scripts, ``model/`` and ``task_settings.json``.

    Pack the folder (storage does that) and post it with the task; contributors
    extract it and run ``./start_task.sh``.
    """
    bundle = Path(bundle_dir)
    bundle.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE_FILES:
        shutil.copy2(CONTRIBUTOR_DIR / name, bundle / name)
    (bundle / "start_task.sh").chmod(0o755)
    if (bundle / "model").exists():
        shutil.rmtree(bundle / "model")
    save_model(model, bundle / "model")
    write_task_settings(bundle)
    return bundle


# --------------------------------------------------------------------------- command line


def _print_metrics(label: str, metrics: Mapping[str, float]) -> None:
    log(f"{label}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="The model creator's side of the DecentralML example task.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create", help=f"create the initial model and save it to {settings.MODEL_PATH}/")
    p_bundle = sub.add_parser("bundle", help="lay out the contributor bundle")
    p_bundle.add_argument("--out", default=settings.BUNDLE_PATH)
    p_eval = sub.add_parser(
        "evaluate", help="evaluate a result (or any model folder) on the held-out data: its weights are "
                         "restored into your own model; its graph is never loaded")
    p_eval.add_argument("model_dir")
    p_eval.add_argument("--template", help=f"your own model (SavedModel folder) the weights are restored into "
                                           f"(default: {settings.MODEL_PATH}/ if it exists, else a new one)")
    p_fed = sub.add_parser("federate", help="federate accepted results and evaluate the federated model")
    p_fed.add_argument("results", nargs="*", help=f"result folders (default: {settings.CONTRIBUTORS_MODELS_PATH}/{settings.MODEL_NAME}_*)")
    p_fed.add_argument("--policy", default=settings.POLICY, choices=sorted(federation.POLICIES))
    p_fed.add_argument("--trim-fraction", type=float, default=settings.TRIM_FRACTION)
    p_fed.add_argument("--out", default=settings.FEDERATED_MODEL_PATH)
    args = parser.parse_args(argv)

    try:
        if args.command == "create":
            save_model(create_model(), settings.MODEL_PATH)
            log(f"saved the initial model to {settings.MODEL_PATH}/")
        elif args.command == "bundle":
            model = load_model(settings.MODEL_PATH) if Path(settings.MODEL_PATH).is_dir() else create_model()
            log(f"bundle ready in {prepare_bundle(model, args.out)}/ (contributors run ./start_task.sh)")
        elif args.command == "evaluate":
            x, y, dataset = held_out_data()
            log(f"dataset: {dataset} (held-out test samples: {len(y)})")
            _print_metrics(args.model_dir, evaluate_model(load_result(args.model_dir, args.template), x, y))
        elif args.command == "federate":
            dirs = [Path(p) for p in args.results] or result_dirs(settings.CONTRIBUTORS_MODELS_PATH)
            if not dirs:
                raise UserInputError(f"no results found in {settings.CONTRIBUTORS_MODELS_PATH}/")
            log(f"federating {len(dirs)} accepted results with policy {args.policy}")
            weights = federation.federate(dirs, args.policy, trim_fraction=args.trim_fraction, reference=settings.MODEL_PATH)
            out = federation.save_federated_model(settings.MODEL_PATH, weights, args.out)
            x, y, dataset = held_out_data()
            log(f"dataset: {dataset} (held-out test samples: {len(y)})")
            _print_metrics("initial model", evaluate_model(load_model(settings.MODEL_PATH), x, y))
            _print_metrics(f"federated model ({out})", evaluate_model(load_model(out), x, y))
    except DecentralMLError as exc:
        print(f"[decentralml] error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (UserInputError, ValidationError)) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
