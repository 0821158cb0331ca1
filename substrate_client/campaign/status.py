"""A campaign's rounds, results and payments as the chain has them; the held-out
accuracies from the creator's journal when it is at hand (the chain holds none)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import NotFoundError
from ..records import SubmissionStatus
from .journal import CampaignJournal
from .summary import CampaignSummary, ResultOutcome, RoundSummary

__all__ = ["CampaignStatus", "campaign_status", "summarize"]

#: Statuses in which a result has been paid its reward.
_PAID = (SubmissionStatus.ACCEPTED,)


@dataclass
class CampaignStatus(CampaignSummary):
    """:class:`CampaignSummary` read back: plus the creator and the latest task."""

    creator: str = ""
    latest_task: int | None = None


def campaign_status(market, campaign_id: int, journal_dir: Path | None = None) -> CampaignStatus:
    """Campaign ``campaign_id`` from the chain alone (``get_campaign``, its rounds, each
    task's results), plus the accuracies and stop reason of its journal in
    ``journal_dir`` (the default state folder if None) when this machine has one."""
    campaign = market.get_campaign(campaign_id)
    journal = CampaignJournal.find(journal_dir, market.chain.genesis_hash, campaign_id)
    status = CampaignStatus(campaign=campaign_id, journal=None if journal is None else str(journal.path),
                            rounds_planned=journal.plan.rounds if journal else campaign.rounds,
                            creator=campaign.creator, latest_task=campaign.latest_task)
    summarize(market, campaign_id, journal, status)
    return status


def summarize(market, campaign_id: int | None, journal: CampaignJournal | None,
              into: CampaignSummary) -> CampaignSummary:
    """Fill ``into`` with every round of the campaign: the chain's tasks and results,
    the journal's accuracies, extensions and stop reason."""
    on_chain = dict(market.campaign_rounds(campaign_id)) if campaign_id is not None else {}
    records = {r.round: r for r in journal.rounds()} if journal else {}
    for number in sorted(set(on_chain) | {n for n, r in records.items() if r.task_id is not None}):
        record = records.get(number)
        task_id = on_chain.get(number, record.task_id if record else None)
        into.rounds.append(_round(market, number, task_id, record))
    if journal is not None:
        into.finished = journal.data.get("finished")
        into.initial_accuracy = journal.data.get("initial_accuracy")
        scores = [r.federated_accuracy for r in into.rounds if r.federated_accuracy is not None]
        into.best_accuracy = max(scores) if scores else None
        _privacy(journal.plan.privacy, into)
    return into


def _privacy(privacy, into: CampaignSummary) -> None:
    """Epsilon spent after each round (every round's contributors trained under the same
    noise): computed by dp-accounting through :func:`~substrate_client.federation.privacy_spent`."""
    if privacy is None or not into.rounds:
        return
    from ..federation import privacy_spent

    for count, summary in enumerate(into.rounds, start=1):
        summary.epsilon = privacy_spent(count, privacy.noise_multiplier, privacy.delta).epsilon
    spent = privacy_spent(len(into.rounds), privacy.noise_multiplier, privacy.delta)
    into.privacy = {"epsilon": spent.epsilon, "delta": spent.delta, "rounds": spent.rounds,
                    "noise_multiplier": spent.noise_multiplier, "clip_norm": privacy.clip_norm,
                    "accountant": spent.accountant}


def _round(market, number: int, task_id: int, record) -> RoundSummary:
    summary = RoundSummary(number, task_id)
    reviews = record.reviews if record else {}
    try:
        task = market.get_task(task_id)
    except NotFoundError:  # removed after its removal delay: only the journal remembers it
        task = None
    if task is not None:
        lineage = getattr(task, "lineage", None)
        summary.continues = getattr(lineage, "continues", None)
        summary.closed = task.status.value == "Closed"
        for sub in market.list_task_results(task_id):
            if sub.submitted_at is None:
                continue  # a slot taken, nothing sent
            review = reviews.get(str(sub.submission_id), {})
            paid = task.pays_amount if sub.status in _PAID else 0
            summary.results.append(ResultOutcome(
                sub.submission_id, sub.contributor, sub.status.value, paid,
                sub.rejection_reason or review.get("reason"),
                (review.get("metrics") or {}).get("accuracy")))
    summary.results_sent = len(summary.results)
    summary.accepted = sum(1 for r in summary.results if r.status == SubmissionStatus.ACCEPTED.value)
    summary.rejected = sum(1 for r in summary.results if r.status in (
        SubmissionStatus.REJECTED.value, SubmissionStatus.APPEALED.value))
    summary.paid = sum(r.paid for r in summary.results)
    if record is not None:
        summary.federated_accuracy = record.federated_accuracy
        summary.extended = record.extended
        summary.training_wait_seconds = round(record.training_wait, 3)
        summary.other_seconds = round(record.busy, 3)
    return summary
