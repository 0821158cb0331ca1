"""What a round runs: :class:`RoundSettings`, and the command-line options that set them
(:data:`OPTIONS`, taken by ``decentralml run_round``)."""

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
    #: Dev account names (``//Name``): the creator, the contributors (one slot and one
    #: IID shard each, in this order) and which contributors send random weights.
    creator: str = "Alice"
    contributors: tuple[str, ...] = ("Bob", "Charlie", "Dave", "Eve")
    saboteurs: tuple[str, ...] = ("Eve",)
    #: Training, as the creator asks contributors to do it.
    epochs: int = 1
    max_samples: int = 0  # 0: each contributor's whole shard
    dataset: str | None = None  # None: the creator's setting (auto: MNIST if cached, else Fashion-MNIST)
    #: Validation and federation; None: the creator's settings (the example's model_creator/settings.py).
    policy: str | None = None
    threshold: float | None = None
    hook: str | None = None  # CustomAccept hook spec; default the example accuracy_threshold
    #: Money: reward per accepted result in the chain's smallest unit (None: 10 tokens).
    reward: int | None = None
    expires_in_blocks: int = 1000
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
    RoundOption("--epochs", "epochs", int,
                "training epochs per contributor (default DECENTRALML_ROUND_EPOCHS, else 1)"),
    RoundOption("--contributors", "contributors", str,
                "dev accounts, comma-separated (default Bob,Charlie,Dave,Eve)"),
    RoundOption("--saboteurs", "saboteurs", str,
                "contributors that send random weights (default Eve; '' for none)"),
    RoundOption("--policy", "policy", str,
                "average | weighted | median | trimmed_mean (default average)"),
    RoundOption("--threshold", "threshold", float, "held-out accuracy to accept (default 0.5)"),
    RoundOption("--max-samples", "max_samples", int,
                "train on at most this many samples per contributor (0: whole shard)"),
    RoundOption("--dataset", "dataset", str, "auto | mnist | fashion_mnist"),
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
