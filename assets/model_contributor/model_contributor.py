"""Train the creator's model on this contributor's own data and save the result.

Runs from the extracted task bundle (``./start_task.sh`` calls it)::

    model/                  the creator's initial model (SavedModel)
    model_contributor.py    this script
    settings.py             settings: defaults, the creator's task_settings.json, DECENTRALML_* env
    task_settings.json      (optional) the creator's training settings

The result is ``<output>/<model_name>_<contributor_id>/``: a SavedModel folder with
``decentralml_result.json`` beside the model files (dataset, samples, epochs,
contributor id, training metrics). The script only saves it: the client that ran the
bundle stores and sends it.

Each contributor trains on its own shard of the dataset (shard ``SHARD_INDEX`` of
``NUM_SHARDS``): an IID split by default, or by label (``PARTITION=by_label``) for
non-IID data. The bundle runs on its own, offline: it needs TensorFlow and tf-keras only,
reads the data from keras' cache or Debian's Fashion-MNIST and writes only to the output
folder (and keras' cache, when it downloads MNIST).

When the creator's ``task_settings.json`` asks for differential privacy
(``"privacy": {"clip_norm": C, "noise_multiplier": S}``), the update (trained minus
initial weights) is clipped to a global L2 norm of C and Gaussian noise of standard
deviation S*C is added to it before the model is saved (:func:`privatize_weights`);
the result then carries neither the optimizer's state nor the training metrics, which
would tell the creator about the data without noise.
"""

import os

# tf-keras (Keras 2) so that model.save(dir) writes a SavedModel folder; set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if __package__:
    from . import settings
else:  # run as a script from the bundle folder
    import settings  # type: ignore[no-redef]

RESULT_METADATA_FILE = "decentralml_result.json"
DATASETS = ("mnist", "fashion_mnist")
PARTITIONS = ("iid", "by_label")
# Debian's dataset-fashion-mnist package: the IDX files keras would download.
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


def log(message: str) -> None:
    print(f"[decentralml] {message}", flush=True)


# --------------------------------------------------------------------------- data


def keras_cache_dir() -> Path:
    """Where tf.keras.datasets looks for downloaded files (as keras' get_file decides)."""
    home = Path(os.path.expanduser("~")) / ".keras"
    try:
        home.mkdir(exist_ok=True)  # keras falls back to /tmp/.keras when ~/.keras is missing
    except OSError:
        pass
    return home if os.access(home, os.W_OK) else Path("/tmp/.keras")


def mnist_cached() -> bool:
    return (keras_cache_dir() / "datasets" / "mnist.npz").is_file()


def fashion_mnist_folder() -> Optional[Path]:
    """A folder holding the four Fashion-MNIST files, read in place (nothing is written,
    so a read-only cache works): keras' cache, else Debian's copy; None if neither has them."""
    for folder in (keras_cache_dir() / "datasets" / "fashion-mnist", SYSTEM_FASHION_MNIST):
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES):
            return folder
    return None


def read_fashion_mnist(folder: Path) -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST from its IDX files, as ``tf.keras.datasets.fashion_mnist.load_data()`` returns it."""

    def read(name: str, offset: int) -> np.ndarray:
        with gzip.open(folder / name, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    y_train = read("train-labels-idx1-ubyte.gz", 8)
    x_train = read("train-images-idx3-ubyte.gz", 16).reshape(len(y_train), 28, 28)
    y_test = read("t10k-labels-idx1-ubyte.gz", 8)
    x_test = read("t10k-images-idx3-ubyte.gz", 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


def resolve_dataset(name: str) -> str:
    """``mnist`` or ``fashion_mnist``. ``auto``: MNIST if keras has it cached, else Fashion-MNIST
    if an offline copy exists (no waiting on a network timeout), else MNIST (downloaded)."""
    key = str(name).strip().lower().replace("-", "_")
    if key == "auto":
        if mnist_cached():
            return "mnist"
        if fashion_mnist_folder() is not None:
            return "fashion_mnist"
        return "mnist"
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose auto, {' or '.join(DATASETS)}")
    return key


def load_dataset(name: str = "auto") -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray], str]:
    """((x_train, y_train), (x_test, y_test), dataset name); images scaled to [0, 1] float32."""
    dataset = resolve_dataset(name)
    if dataset == "fashion_mnist":
        folder = fashion_mnist_folder()
        if folder is not None:
            (x_train, y_train), (x_test, y_test) = read_fashion_mnist(folder)
        else:
            (x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
    else:
        try:
            (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
        except Exception as error:  # keras raises a bare Exception when the download fails
            raise ValueError(
                f"MNIST is not in keras' cache ({keras_cache_dir() / 'datasets' / 'mnist.npz'}) and "
                f"could not be downloaded ({error}); offline, use the data set auto or fashion_mnist"
            ) from None
    scale = np.float32(1.0 / 255.0)
    return (
        (x_train.astype(np.float32) * scale, y_train.astype(np.int64)),
        (x_test.astype(np.float32) * scale, y_test.astype(np.int64)),
        dataset,
    )


def shard_indices(labels: np.ndarray, shard_index: int, num_shards: int, partition: str = "iid", seed: int = 0) -> np.ndarray:
    """Indices of shard ``shard_index`` of ``num_shards`` disjoint shards.

    ``iid``: a seeded shuffle split in equal parts. ``by_label``: samples sorted by
    label and split in contiguous parts, so each shard holds few labels (non-IID).
    Every contributor computes the same split, so shards never overlap.
    """
    if num_shards < 1:
        raise ValueError(f"NUM_SHARDS must be at least 1, got {num_shards}")
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"SHARD_INDEX must be in [0, {num_shards - 1}], got {shard_index}")
    if partition not in PARTITIONS:
        raise ValueError(f"unknown partition {partition!r}; choose {' or '.join(PARTITIONS)}")
    order = np.random.default_rng(seed).permutation(len(labels))
    if partition == "by_label":
        order = order[np.argsort(labels[order], kind="stable")]
    shard = np.array_split(order, num_shards)[shard_index]
    if partition == "by_label":  # mix the shard's labels within batches
        shard = np.random.default_rng(seed + 1 + shard_index).permutation(shard)
    return shard


class Shard(NamedTuple):
    x: np.ndarray
    y: np.ndarray
    dataset: str


def load_data(
    shard_index: int,
    num_shards: int,
    partition: str = "iid",
    dataset: Optional[str] = None,
    max_samples: int = 0,
    seed: Optional[int] = None,
) -> Shard:
    """This contributor's training data: ``(x, y, dataset_name)`` of its shard of the training split.

    ``max_samples`` (> 0) keeps only the first samples of the shard (quick runs).
    """
    (x_train, y_train), _, name = load_dataset(dataset or settings.DATASET)
    idx = shard_indices(y_train, shard_index, num_shards, partition, settings.SEED if seed is None else seed)
    if max_samples and max_samples > 0:
        idx = idx[:max_samples]
    return Shard(x_train[idx], y_train[idx], name)


# --------------------------------------------------------------------------- model


def load_model(path: str) -> "tf.keras.Model":
    """The creator's initial model (a SavedModel folder)."""
    return tf.keras.models.load_model(str(path))


def train_model(model: "tf.keras.Model", x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, verbose: int = 2) -> Dict[str, float]:
    """Train ``model`` in place; returns the last epoch's metrics (``loss``, ``accuracy``)."""
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return _accuracy_alias({k: float(v[-1]) for k, v in history.history.items()})


def evaluate_model(model: "tf.keras.Model", x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> Dict[str, float]:
    return _accuracy_alias({k: float(v) for k, v in model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True).items()})


def _accuracy_alias(metrics: Dict[str, float]) -> Dict[str, float]:
    if "accuracy" not in metrics:
        for key in sorted(metrics):
            if key.endswith("accuracy"):
                metrics["accuracy"] = metrics[key]
                break
    return metrics


def randomize_weights(model: "tf.keras.Model", seed: Optional[int] = None) -> None:
    """Overwrite the trainable weights with random values (the sabotage demo: a result to reject)."""
    rng = np.random.default_rng(seed)
    for var in model.trainable_weights:
        var.assign(rng.normal(0.0, 1.0, size=var.shape).astype(var.dtype.as_numpy_dtype))


# --------------------------------------------------------------------------- differential privacy
#
# The Gaussian mechanism of DP-FedAvg (McMahan et al. 2018), the same computation as
# substrate_client.federation.privacy.privatize_weights in the client. The bundle runs
# on its own (in the sandbox only TensorFlow's Python is on its path, not the client), so
# it carries these few lines; tests/test_bundle_privacy.py checks that both give the
# same weights for the same noise. Same order of operations: the update in float64,
# scaled by min(1, C / norm), then noise drawn variable by variable in model order.


class Privacy(NamedTuple):
    clip_norm: float  # C: the update's global L2 norm is clipped to this
    noise_multiplier: float  # S: Gaussian noise of standard deviation S * C per coordinate


def privacy_settings(raw: Any) -> Optional[Privacy]:
    """The creator's ``privacy`` setting checked: None (or an empty one) for none."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"the privacy setting must be an object with clip_norm and noise_multiplier, got {raw!r}")

    def number(name: str, allow_zero: bool) -> float:
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0 or (value == 0 and not allow_zero):
            bound = "at least 0" if allow_zero else "greater than 0"
            raise ValueError(f"privacy {name} must be a finite number {bound}, got {value!r}")
        return float(value)

    return Privacy(number("clip_norm", False), number("noise_multiplier", True))


def _is_float(value: np.ndarray) -> bool:
    return value.dtype.kind == "f"


def privatize_weights(trained: Sequence[np.ndarray], start: Sequence[np.ndarray], privacy: Privacy,
                      rng: Optional[np.random.Generator] = None) -> Tuple[List[np.ndarray], float]:
    """(the weights to save, the update's norm before clipping): ``start`` plus the update
    ``trained - start`` clipped to a global L2 norm of ``privacy.clip_norm`` with Gaussian
    noise of standard deviation ``noise_multiplier * clip_norm`` added to every coordinate.

    Weights that are not floating point keep their ``start`` value. ``rng`` draws the noise
    (default: a generator seeded with 128 bits from :mod:`secrets`, so it cannot be guessed).
    """
    if len(trained) != len(start):
        raise ValueError(f"{len(trained)} trained weights for {len(start)} starting weights")
    if rng is None:
        rng = np.random.default_rng(secrets.randbits(128))
    update = []
    for new, old in zip(trained, start):
        new, old = np.asarray(new), np.asarray(old)
        if new.shape != old.shape or new.dtype != old.dtype:
            raise ValueError(f"a weight is {new.dtype} {list(new.shape)} after training but {old.dtype} {list(old.shape)} before")
        update.append(new.astype(np.float64) - old.astype(np.float64) if _is_float(new) else None)
    norm = math.sqrt(sum(float(np.dot(u.ravel(), u.ravel())) for u in update if u is not None))
    if not math.isfinite(norm):
        raise ValueError("the update holds values that are not finite (NaN or infinity)")
    scale = min(1.0, privacy.clip_norm / norm) if norm > 0 else 1.0
    stddev = privacy.noise_multiplier * privacy.clip_norm
    out = []
    for u, old in zip(update, start):
        old = np.asarray(old)
        if u is None:
            out.append(old.copy())
            continue
        noised = u * scale
        if stddev > 0:
            noised += rng.normal(0.0, stddev, size=noised.shape)
        out.append((old.astype(np.float64) + noised).astype(old.dtype))
    return out, norm


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def result_dir(out_dir: str, model_name: str, contributor_id: str) -> Path:
    if not _SAFE_ID.match(contributor_id) or ".." in contributor_id:
        raise ValueError(f"contributor id {contributor_id!r} must be letters, digits, '_', '-' or '.'")
    return Path(out_dir) / f"{model_name}_{contributor_id}"


def save_model(model: "tf.keras.Model", out_dir: str, model_name: str, contributor_id: str, result: Optional[dict] = None,
               include_optimizer: bool = True) -> Path:
    """Save ``<out_dir>/<model_name>_<contributor_id>/`` with ``decentralml_result.json`` beside the model
    (without the optimizer's state when ``include_optimizer`` is False)."""
    folder = result_dir(out_dir, model_name, contributor_id)
    if folder.exists():
        if not (folder / "saved_model.pb").is_file():
            raise FileExistsError(f"{folder} exists and is not a previous result; move it away first")
        shutil.rmtree(folder)  # a previous result of this contributor: replace it
    model.save(str(folder), include_optimizer=include_optimizer)
    info = {"contributor_id": contributor_id, "model_name": model_name}
    info.update(result or {})
    with open(folder / RESULT_METADATA_FILE, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")
    return folder


# --------------------------------------------------------------------------- main


def run(contributor_id: str, shard_index: int, num_shards: int, sabotage: str = "") -> Path:
    started = time.time()
    privacy = privacy_settings(settings.PRIVACY)
    if sabotage:  # a saboteur does not follow the creator's settings: its weights go unclipped
        privacy = None
    log(f"contributor {contributor_id}: shard {shard_index + 1} of {num_shards} ({settings.PARTITION} partition)")
    data = load_data(shard_index, num_shards, settings.PARTITION, settings.DATASET, settings.MAX_SAMPLES)
    log(f"dataset: {data.dataset} ({len(data.y)} training samples, labels {sorted(set(data.y.tolist()))})")
    log(f"loading the creator's model from {settings.MODEL_PATH}")
    model = load_model(settings.MODEL_PATH)
    start = model.get_weights()

    result = {
        "dataset": data.dataset,
        "samples": int(len(data.y)),
        "epochs": settings.EPOCHS,
        "batch_size": settings.BATCH_SIZE,
        "shard_index": shard_index,
        "num_shards": num_shards,
        "partition": settings.PARTITION,
    }
    if sabotage:
        if sabotage != "random_weights":
            raise ValueError(f"unknown sabotage {sabotage!r}; the only one is random_weights")
        log("SABOTAGE: saving random weights instead of training (this result should be rejected)")
        randomize_weights(model)
        result["epochs"] = 0
        result["sabotage"] = sabotage
        result["train_metrics"] = evaluate_model(model, data.x, data.y)
    else:
        log(f"training on {data.dataset}: {len(data.y)} samples, {settings.EPOCHS} epoch(s), batch size {settings.BATCH_SIZE}")
        result["train_metrics"] = train_model(model, data.x, data.y, settings.EPOCHS, settings.BATCH_SIZE)
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result["train_metrics"].items()))
    log(f"train metrics: {metrics}")
    if privacy is not None:
        weights, norm = privatize_weights(model.get_weights(), start, privacy)
        model.set_weights(weights)
        log(f"differential privacy: update norm {norm:.4f} clipped to {min(norm, privacy.clip_norm):.4f}, "
            f"Gaussian noise of standard deviation {privacy.noise_multiplier * privacy.clip_norm:.4g} added")
        # What the creator receives is the noised model only: no training metrics, no optimizer state.
        del result["train_metrics"]
        result["privacy"] = privacy._asdict()
    result["seconds"] = round(time.time() - started, 2)
    folder = save_model(model, settings.OUTPUT_DIR, settings.MODEL_NAME, contributor_id, result,
                        include_optimizer=privacy is None)
    log(f"saved the result to {folder} (trained on {data.dataset})")
    return folder


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description="Train the creator's model on your shard of the data and save the result.")
    parser.add_argument("--bad-model", action="store_true", help="save random weights instead of training (demo of a rejected result)")
    parser.add_argument("--write-result-path", metavar="FILE", help="write the result folder's path to FILE")
    args = parser.parse_args(argv)

    contributor_id = settings.CONTRIBUTOR_ID or secrets.token_hex(4)
    sabotage = "random_weights" if args.bad_model else settings.SABOTAGE
    try:
        folder = run(contributor_id, settings.SHARD_INDEX, settings.NUM_SHARDS, sabotage)
    except (ValueError, FileExistsError, OSError) as exc:
        print(f"[decentralml] error: {exc}", file=sys.stderr, flush=True)
        return 2
    if args.write_result_path:
        Path(args.write_result_path).write_text(str(folder.resolve()) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
