"""Settings of the model creator's example task.

Every value can be overridden by an environment variable of the same name prefixed
``DECENTRALML_`` (``DECENTRALML_EPOCHS=3``, ``DECENTRALML_DATASET=fashion_mnist``).
The training settings (``TASK_SETTINGS``) are shipped to contributors in the
bundle's ``task_settings.json``, so they train the way the creator asked.
"""

import os

_DEFAULTS = {
    # the model
    "MODEL_NAME": "mnist_mlp",
    "HIDDEN_UNITS": 128,
    "DROPOUT": 0.2,  # 0 disables the Dropout layer
    "LEARNING_RATE": 0.001,
    "OPTIMIZER": "adam",  # adam | sgd: what contributors train the model with
    # training, done by contributors
    "EPOCHS": 1,
    "BATCH_SIZE": 32,
    "DATASET": "auto",  # auto (MNIST if cached, else the offline Fashion-MNIST) | mnist | fashion_mnist
    "NUM_SHARDS": 3,
    "PARTITION": "iid",  # iid | by_label (non-IID: each shard holds few labels)
    "SEED": 0,
    # validation and federation, done by the creator
    "HELD_OUT": 1000,  # test-split samples the creator evaluates results on
    "ACCURACY_THRESHOLD": 0.5,  # hooks.accuracy_threshold accepts at or above this held-out accuracy
    "MAX_LOSS": 20.0,  # hooks.accuracy_and_loss also needs a held-out loss at or below this
    "POLICY": "average",  # average | weighted | median | trimmed_mean
    "TRIM_FRACTION": 0.1,
    # where things are, relative to the working directory
    "MODEL_PATH": "model",  # the initial model
    "CONTRIBUTORS_MODELS_PATH": "contributors_models",  # accepted results, <MODEL_NAME>_<contributor>/
    "FEDERATED_MODEL_PATH": "federated_model",
    "BUNDLE_PATH": "bundle",
}

#: Settings copied into the contributor bundle's task_settings.json.
TASK_SETTINGS = ("MODEL_NAME", "EPOCHS", "BATCH_SIZE", "DATASET", "NUM_SHARDS", "PARTITION", "SEED")


def _from_env(name, default):
    raw = os.environ.get(f"DECENTRALML_{name}")
    if raw is None or raw == "":
        return default
    try:
        return type(default)(raw)
    except ValueError:
        raise SystemExit(f"DECENTRALML_{name} must be a {type(default).__name__}, got {raw!r}")


MODEL_NAME = _from_env("MODEL_NAME", _DEFAULTS["MODEL_NAME"])
HIDDEN_UNITS = _from_env("HIDDEN_UNITS", _DEFAULTS["HIDDEN_UNITS"])
DROPOUT = _from_env("DROPOUT", _DEFAULTS["DROPOUT"])
LEARNING_RATE = _from_env("LEARNING_RATE", _DEFAULTS["LEARNING_RATE"])
OPTIMIZER = _from_env("OPTIMIZER", _DEFAULTS["OPTIMIZER"])
EPOCHS = _from_env("EPOCHS", _DEFAULTS["EPOCHS"])
BATCH_SIZE = _from_env("BATCH_SIZE", _DEFAULTS["BATCH_SIZE"])
DATASET = _from_env("DATASET", _DEFAULTS["DATASET"])
NUM_SHARDS = _from_env("NUM_SHARDS", _DEFAULTS["NUM_SHARDS"])
PARTITION = _from_env("PARTITION", _DEFAULTS["PARTITION"])
SEED = _from_env("SEED", _DEFAULTS["SEED"])
HELD_OUT = _from_env("HELD_OUT", _DEFAULTS["HELD_OUT"])
ACCURACY_THRESHOLD = _from_env("ACCURACY_THRESHOLD", _DEFAULTS["ACCURACY_THRESHOLD"])
MAX_LOSS = _from_env("MAX_LOSS", _DEFAULTS["MAX_LOSS"])
POLICY = _from_env("POLICY", _DEFAULTS["POLICY"])
TRIM_FRACTION = _from_env("TRIM_FRACTION", _DEFAULTS["TRIM_FRACTION"])
MODEL_PATH = _from_env("MODEL_PATH", _DEFAULTS["MODEL_PATH"])
CONTRIBUTORS_MODELS_PATH = _from_env("CONTRIBUTORS_MODELS_PATH", _DEFAULTS["CONTRIBUTORS_MODELS_PATH"])
FEDERATED_MODEL_PATH = _from_env("FEDERATED_MODEL_PATH", _DEFAULTS["FEDERATED_MODEL_PATH"])
BUNDLE_PATH = _from_env("BUNDLE_PATH", _DEFAULTS["BUNDLE_PATH"])


def task_settings():
    """The training settings contributors must follow, for the bundle's task_settings.json."""
    return {name: globals()[name] for name in TASK_SETTINGS}
