"""Settings of the contributor bundle.

Each value comes, last one winning, from: the defaults below, the creator's
``task_settings.json`` shipped in the bundle (written by the creator when preparing
the task, so contributors train the way the creator asked), and environment
variables prefixed ``DECENTRALML_`` (``DECENTRALML_EPOCHS=3``).

``PRIVACY`` (``"privacy": {"clip_norm": C, "noise_multiplier": S}`` in
``task_settings.json``) comes from the creator's file only: the update is clipped and
noised before it is saved (see ``model_contributor.privatize_weights``).
"""

import json
import os
from pathlib import Path

BUNDLE_DIR = Path(__file__).resolve().parent
TASK_SETTINGS_FILE = BUNDLE_DIR / "task_settings.json"

DEFAULTS = {
    # Set by the creator (task_settings.json)
    "MODEL_NAME": "mnist_mlp",
    "EPOCHS": 1,
    "BATCH_SIZE": 32,
    "DATASET": "auto",  # auto | mnist | fashion_mnist
    "NUM_SHARDS": 3,
    "PARTITION": "iid",  # iid | by_label
    "SEED": 0,
    # Set by the contributor (environment)
    "MODEL_PATH": str(BUNDLE_DIR / "model"),  # the creator's initial model, inside the bundle
    "OUTPUT_DIR": "./output",
    "CONTRIBUTOR_ID": "",  # empty: a random id is chosen
    "SHARD_INDEX": 0,
    "MAX_SAMPLES": 0,  # 0: train on the whole shard
    "SABOTAGE": "",  # "random_weights": save random weights instead of training (demo of a rejected result)
    # Set by the creator only (task_settings.json; no environment variable)
    "PRIVACY": None,  # {"clip_norm": C, "noise_multiplier": S}: differentially private updates
}


def _load():
    values = dict(DEFAULTS)
    if TASK_SETTINGS_FILE.is_file():
        with open(TASK_SETTINGS_FILE, encoding="utf-8") as f:
            values.update({k.upper(): v for k, v in json.load(f).items() if k.upper() in DEFAULTS})
    for name, default in DEFAULTS.items():
        raw = os.environ.get(f"DECENTRALML_{name}")
        if default is None or raw is None or raw == "":
            continue
        if isinstance(default, bool):
            values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int):
            try:
                values[name] = int(raw)
            except ValueError:
                raise SystemExit(f"DECENTRALML_{name} must be an integer, got {raw!r}")
        else:
            values[name] = raw
    return values


_values = _load()
MODEL_NAME = str(_values["MODEL_NAME"])
EPOCHS = int(_values["EPOCHS"])
BATCH_SIZE = int(_values["BATCH_SIZE"])
DATASET = str(_values["DATASET"])
NUM_SHARDS = int(_values["NUM_SHARDS"])
PARTITION = str(_values["PARTITION"])
SEED = int(_values["SEED"])
MODEL_PATH = str(_values["MODEL_PATH"])
OUTPUT_DIR = str(_values["OUTPUT_DIR"])
CONTRIBUTOR_ID = str(_values["CONTRIBUTOR_ID"])
SHARD_INDEX = int(_values["SHARD_INDEX"])
MAX_SAMPLES = int(_values["MAX_SAMPLES"])
SABOTAGE = str(_values["SABOTAGE"])
PRIVACY = _values["PRIVACY"]  # checked by model_contributor.privacy_settings
