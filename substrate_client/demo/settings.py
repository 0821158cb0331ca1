"""What the main job runs: :class:`RoundSettings`, and the command-line options that set
them (:data:`OPTIONS`, taken by ``decentralml run_round``).

The defaults are tuned for this machine (2 cores, 2-3 minutes): three rounds on
non-IID shards (each contributor holds about three of the ten labels), 2,000 samples
per contributor per round, one epoch of plain SGD at 0.2 in batches of 64. Few local
steps keep each contributor's model from drifting far towards its own labels, so
averaging them gains over the rounds. A model trained on three labels scores 0.2 to 0.4
on the creator's held-out data and random weights up to about 0.2, so accuracy alone
cannot tell them apart: results are accepted at a held-out accuracy of 0.12 (an
untrained model scores about 0.1; an honest model trained on few labels now and then
scores as little as 0.14) and a held-out loss of at most 20 (random weights are
confidently wrong, with a loss near 100; a model trained on a few labels stays under 10).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config, devnet


@dataclass
class RoundSettings:
    """What to run. Every field has a default that runs the demo on this machine."""

    #: Where everything of this run goes; default ``./runs/<timestamp>/``. Must not exist yet.
    run_dir: Path | None = None
    #: The node; ``None``: start (or reuse) the local dev chain on ``port``.
    url: str | None = None
    port: int = devnet.DEFAULT_PORT
    #: Storage endpoints; ``None``: the local Kubo and MinIO, started unless they run
    #: (:mod:`substrate_client.demo.services`).
    ipfs_api: str | None = None
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    bundle_storage: str = "IPFS"
    result_storage: str = "S3"
    #: Dev account names (``//Name``): the creator, the contributors (each runs a
    #: ``decentralml work`` agent and takes one slot a round) and which contributors send
    #: random weights. The honest contributors get one shard each, in this order.
    creator: str = "Alice"
    contributors: tuple[str, ...] = ("Bob", "Charlie", "Dave", "Eve")
    saboteurs: tuple[str, ...] = ("Eve",)
    #: The campaign: rounds, each a task whose bundle carries the model of the round before.
    rounds: int = 3
    #: Training, as the creator asks contributors to do it.
    epochs: int = 1
    max_samples: int = 2000  # per contributor and round; 0: the whole shard
    partition: str = "by_label"  # by_label (non-IID) | iid
    learning_rate: float = 0.2
    batch_size: int = 64
    local_optimizer: str = "sgd"  # what contributors train with: sgd | adam
    dataset: str | None = None  # None: the creator's setting (auto: MNIST if cached, else Fashion-MNIST)
    #: Validation and federation; None: the creator's settings (the example's model_creator/settings.py).
    policy: str | None = None
    optimizer: str = "fedavg"  # the server optimizer: fedavg | fedavgm | fedadam
    threshold: float = 0.12
    max_loss: float = 20.0
    hook: str | None = None  # CustomAccept hook spec; default the example's accuracy_and_loss
    #: Differential privacy asked of contributors (both given: on).
    clip_norm: float | None = None
    noise_multiplier: float | None = None
    delta: float = 1e-5
    #: Money: reward per accepted result in the chain's smallest unit (None: 10 tokens).
    reward: int | None = None
    #: A round's deadline in blocks from its task's creation (extended once).
    round_blocks: int = 200
    #: The example task (``model_creator/`` and ``model_contributor/``); None: the one
    #: shipped in the package (:mod:`substrate_client.demo.example`).
    assets_dir: Path | None = None


def default_run_dir() -> Path:
    return Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class RoundOption:
    """One command-line option of a round, as ``decentralml run_round`` takes it."""

    flag: str
    name: str  #: its key for :func:`settings_from_options`
    type: type = str
    help: str | None = None
    #: Where a service is: ``decentralml`` takes these as its global options instead.
    connection: bool = False


#: The round's options; one left out takes its default (see :func:`settings_from_options`).
OPTIONS = (
    RoundOption("--out", "out", Path, "run folder (default ./runs/<timestamp>/)"),
    RoundOption("--rounds", "rounds", int, "rounds of the campaign (default 3; 1: a single round)"),
    RoundOption("--epochs", "epochs", int,
                "training epochs per contributor (default DECENTRALML_ROUND_EPOCHS, else 1)"),
    RoundOption("--contributors", "contributors", str,
                "dev accounts, comma-separated (default Bob,Charlie,Dave,Eve)"),
    RoundOption("--saboteurs", "saboteurs", str,
                "contributors that send random weights (default Eve; '' for none)"),
    RoundOption("--partition", "partition", str,
                "how the data is split into shards: by_label (a few labels each; the default) | iid"),
    RoundOption("--learning-rate", "learning_rate", float,
                "contributors' learning rate (default 0.2)"),
    RoundOption("--batch-size", "batch_size", int, "contributors' batch size (default 64)"),
    RoundOption("--local-optimizer", "local_optimizer", str,
                "what contributors train with: sgd (default) | adam"),
    RoundOption("--policy", "policy", str,
                "average | weighted | median | trimmed_mean (default average)"),
    RoundOption("--optimizer", "optimizer", str,
                "server optimizer: fedavg (default) | fedavgm | fedadam"),
    RoundOption("--threshold", "threshold", float, "held-out accuracy to accept (default 0.12)"),
    RoundOption("--max-loss", "max_loss", float, "largest loss on the creator's test data to accept (default 20)"),
    RoundOption("--max-samples", "max_samples", int,
                "train on at most this many samples per contributor and round (default 2000; "
                "0: whole shard)"),
    RoundOption("--dataset", "dataset", str, "auto | mnist | fashion_mnist"),
    RoundOption("--clip-norm", "clip_norm", float,
                "differential privacy: clip each update to this L2 norm (give a noise multiplier too)"),
    RoundOption("--noise-multiplier", "noise_multiplier", float,
                "differential privacy: Gaussian noise of this times the clip norm"),
    RoundOption("--url", "url", str, "the node (default: start/reuse the local dev chain)",
                connection=True),
    RoundOption("--port", "port", int,
                f"port of the local dev chain started without --url (default DECENTRALML_PORT, "
                f"else {devnet.DEFAULT_PORT})"),
    RoundOption("--ipfs-api", "ipfs_api", str, "Kubo RPC API (default: start the local Kubo)",
                connection=True),
    RoundOption("--s3-endpoint", "s3_endpoint", str, "S3 endpoint (default: start the local MinIO)",
                connection=True),
    RoundOption("--s3-bucket", "s3_bucket", str,
                "S3 bucket (default DECENTRALML_S3_BUCKET, else decentralml)", connection=True),
)


def settings_from_options(options: dict[str, Any]) -> RoundSettings:
    """The settings for the options given (keys: the names in :data:`OPTIONS`).

    An option that is missing or ``None`` takes :class:`RoundSettings`' default, but
    ``epochs`` takes ``DECENTRALML_ROUND_EPOCHS``, else 1, and ``port``
    ``DECENTRALML_PORT``, else 9944 (:func:`substrate_client.config.local_settings`). ``contributors`` and
    ``saboteurs`` are comma-separated names (``""``: none).
    """
    given = {k: v for k, v in options.items() if v is not None}
    unknown = set(given) - {option.name for option in OPTIONS}
    if unknown:
        raise TypeError(f"unknown round options: {', '.join(sorted(unknown))}")
    if "out" in given:
        given["run_dir"] = given.pop("out")
    for name in ("contributors", "saboteurs"):
        if name in given:
            given[name] = tuple(n.strip() for n in given[name].split(",") if n.strip())
    local = config.local_settings()
    given.setdefault("epochs", local.round_epochs)
    given.setdefault("port", local.devnet_port)
    return RoundSettings(**given)
