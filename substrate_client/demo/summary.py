"""What the main job did, as data: the campaign's rounds (each contributor's result,
decision, payment and fees, the held-out accuracy of every model, where the time went),
and each account's balances before and after.

:meth:`RunSummary.to_dict` is the content of ``summary.json`` (see :mod:`.report`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def _named(items: list, name: str):
    """The item of ``items`` whose ``name`` is ``name`` (in any case)."""
    for item in items:
        if item.name.lower() == name.lower():
            return item
    raise KeyError(name)


@dataclass
class Balance:
    free: int
    reserved: int

    @property
    def total(self) -> int:
        return self.free + self.reserved


@dataclass
class AccountOutcome:
    name: str
    address: str
    balance_before: Balance
    balance_after: Balance | None = None
    fees: int = 0  # transaction fees paid during the run
    paid: int = 0  # rewards received during the run


@dataclass
class ContributorOutcome(AccountOutcome):
    shard_index: int | None = None  # 0-based; None: a saboteur trains on nothing
    num_shards: int = 0
    saboteur: bool = False


@dataclass
class RoundResult:
    """One contributor in one round."""

    name: str
    submission_id: int | None = None
    train_seconds: float | None = None  # its start_task.sh, in the sandbox
    accuracy: float | None = None  # its model on the creator's held-out data
    decision: str = "not sent"  # accepted | rejected | not sent
    reason: str = ""
    federated: bool = False
    paid: int = 0  # reward received from the round's escrow
    fees: int = 0  # transaction fees paid in the round (from the chain's fee events)
    balance_change: int | None = None  # free + reserved, end of the round minus its start


@dataclass
class RoundOutcome:
    round: int
    task_id: int | None = None
    continues: int | None = None  # the task of the round before, as the chain records it
    starting_accuracy: float | None = None  # the model the round's bundle carried
    federated_accuracy: float | None = None
    federated_model_dir: str | None = None
    epsilon: float | None = None  # privacy spent after this round, when privacy is on
    results: list[RoundResult] = field(default_factory=list)
    escrow_paid: int = 0
    creator_fees: int = 0
    creator_balance_change: int | None = None
    #: Wall time of the round, the part of it when a contributor's start_task.sh ran, and
    #: the rest (the overhead: chain, storage, validation, federation, waiting).
    wall_seconds: float = 0.0
    training_seconds: float = 0.0
    overhead_seconds: float = 0.0
    overhead_share: float | None = None  # overhead / training
    #: The creator's side: waiting for results, her transactions, her storage transfers.
    timings: dict[str, float] = field(default_factory=dict)
    first_block: int | None = None
    last_block: int | None = None

    def result(self, name: str) -> RoundResult:
        return _named(self.results, name)


@dataclass
class RunSummary:
    run_dir: str
    chain_url: str
    started_at: str
    token: dict[str, Any]
    campaign_id: int | None = None
    rounds_planned: int = 0
    finished: str | None = None  # why the campaign ended
    dataset: str | None = None
    partition: str = "by_label"
    epochs: int = 1
    max_samples: int = 0
    batch_size: int | None = None
    learning_rate: float | None = None
    local_optimizer: str | None = None
    policy: str = "average"
    optimizer: str = "fedavg"
    threshold: float | None = None
    max_loss: float | None = None
    held_out_samples: int | None = None
    reward: int = 0
    slots: int = 0
    min_results: int = 0
    privacy: dict[str, Any] | None = None
    initial_accuracy: float | None = None
    federated_accuracy: float | None = None  # the last round's
    federated_model_dir: str | None = None  # the last round's
    creator: AccountOutcome | None = None
    contributors: list[ContributorOutcome] = field(default_factory=list)
    rounds: list[RoundOutcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    summary_path: str | None = None
    chart_path: str | None = None

    def contributor(self, name: str) -> ContributorOutcome:
        return _named(self.contributors, name)

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form written to ``summary.json`` (see :mod:`.report`)."""
        return dataclasses.asdict(self)
