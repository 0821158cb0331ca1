"""What a campaign did, round by round: plain data for tables and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["ResultOutcome", "RoundSummary", "CampaignSummary"]


@dataclass
class ResultOutcome:
    """One result of a round: who sent it, the decision and why, what it was paid, and
    the held-out accuracy of the creator's model holding its weights."""

    submission_id: int
    contributor: str
    status: str                      # Accepted, Rejected, Pending... as the chain says
    paid: int = 0
    reason: str | None = None
    accuracy: float | None = None


@dataclass
class RoundSummary:
    round: int
    task_id: int | None = None
    continues: int | None = None     # the task of the round before, as the chain records it
    results_sent: int = 0
    accepted: int = 0
    rejected: int = 0
    paid: int = 0
    results: list[ResultOutcome] = field(default_factory=list)
    federated_accuracy: float | None = None
    epsilon: float | None = None     # privacy spent so far, when privacy is on
    extended: bool = False
    closed: bool = False
    training_wait_seconds: float = 0.0
    other_seconds: float = 0.0


@dataclass
class CampaignSummary:
    campaign: int | None
    journal: str | None
    rounds_planned: int
    rounds: list[RoundSummary] = field(default_factory=list)
    finished: str | None = None      # why the campaign ended (None while it runs)
    initial_accuracy: float | None = None
    best_accuracy: float | None = None
    privacy: dict | None = None      # epsilon, delta, noise_multiplier, rounds

    @property
    def total_paid(self) -> int:
        return sum(r.paid for r in self.rounds)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["total_paid"] = self.total_paid
        return data
