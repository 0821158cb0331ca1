"""What a round did, as data: each account's balances and fees, each contributor's
result and decision, the money of the task's escrow and the time per phase.

:meth:`RoundSummary.to_dict` is the content of ``summary.json`` (see :mod:`.report`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


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
    fees: int = 0  # transaction fees paid during the round


@dataclass
class ContributorOutcome(AccountOutcome):
    shard_index: int = 0  # 0-based
    num_shards: int = 0
    saboteur: bool = False
    submission_id: int | None = None
    samples: int | None = None
    dataset: str | None = None
    train_seconds: float | None = None
    accuracy: float | None = None  # on the creator's held-out data
    decision: str = "pending"  # accepted | rejected | pending
    reason: str = ""
    federated: bool = False
    paid: int = 0  # reward received from the task's escrow
    result_dir: str | None = None  # where the creator opened the result


@dataclass
class RoundSummary:
    run_dir: str
    chain_url: str
    started_at: str
    token: dict[str, Any]
    task_id: int | None = None
    dataset: str | None = None
    policy: str = "average"
    threshold: float | None = None
    held_out_samples: int | None = None
    reward: int = 0
    max_assignments: int = 0
    escrow: int = 0
    escrow_paid: int = 0
    escrow_refunded: int = 0
    #: Rewards of rejected results, held until their appeal period ends.
    escrow_held_for_appeal: int = 0
    appeal_period_ends: int | None = None
    initial_accuracy: float | None = None
    federated_accuracy: float | None = None
    federated_model_dir: str | None = None
    creator: AccountOutcome | None = None
    contributors: list[ContributorOutcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    summary_path: str | None = None
    chart_path: str | None = None

    def contributor(self, name: str) -> ContributorOutcome:
        for c in self.contributors:
            if c.name.lower() == name.lower():
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form written to ``summary.json`` (see :mod:`.report`)."""
        return dataclasses.asdict(self)
