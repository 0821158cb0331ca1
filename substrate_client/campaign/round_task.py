"""A round's task on chain: created from a bundle already uploaded, or found again.

The round bundle is uploaded and its location journaled before the task is created,
so a campaign resumed after a kill reuses that upload. Whether the task was created
before the kill is read from the chain: a task of the campaign for that round (round
1: of one of the creator's campaigns) whose bundle is exactly that upload.
"""

from __future__ import annotations

import logging

from ..chain import same_account
from ..errors import UserInputError
from ..records import CampaignRound, Location, StorageType, TaskType
from .plan import CampaignPlan, task_lifetime

__all__ = ["location_json", "location_from_json", "find_round_task", "create_round_task", "next_round_task_call",
           "check_affordable"]

log = logging.getLogger(__name__)


def location_json(location: Location) -> dict:
    return {"storage_type": location.storage_type.value, "path": location.path,
            "content_hash": location.content_hash.hex(), "size": location.size}


def location_from_json(data: dict) -> Location:
    return Location(StorageType(data["storage_type"]), data["path"], bytes.fromhex(data["content_hash"]),
                    int(data["size"]))


def find_round_task(market, campaign: int | None, round_number: int, bundle: Location):
    """(campaign id, task id) of the round's task made from ``bundle``, or None."""
    if campaign is not None:
        candidates = [campaign]
    else:
        candidates = [c.campaign_id for c in market.list_campaigns(creator=market.chain.address)]
    for campaign_id in candidates:
        task_id = dict(market.campaign_rounds(campaign_id)).get(round_number)
        if task_id is None:
            continue
        task = market.get_task(task_id)
        if task.bundle == bundle and same_account(task.creator, market.chain.address):
            return campaign_id, task_id
    return None


def check_affordable(market, plan: CampaignPlan) -> None:
    """A round's escrow and task deposit must be within the creator's free balance."""
    needed = plan.reward * plan.slots + market.limit("TaskDeposit")
    free = market.chain.free_balance(market.chain.address)
    if free < needed:
        raise UserInputError(f"a round's escrow and deposit ({needed}) are more than the creator's free "
                             f"balance ({free})")


def _task(plan: CampaignPlan, bundle: Location, result_public_key: bytes | None) -> dict:
    """A round's task, as :meth:`Marketplace.create_task`'s keyword arguments."""
    return dict(task_type=TaskType.MODEL_CONTRIBUTOR, question=plan.question, pays_amount=plan.reward,
                max_assignments=plan.slots, expires_in_blocks=task_lifetime(plan.round_blocks),
                validation_strategy=plan.strategy, bundle_location=bundle, result_public_key=result_public_key)


def create_round_task(market, plan: CampaignPlan, campaign: int | None, bundle: Location,
                      result_public_key: bytes | None) -> CampaignRound:
    """Create the round's task (round 1 of a new campaign when ``campaign`` is None) from
    the bundle already stored at ``bundle``. The plan's bounds were checked against the
    chain's constants (:meth:`CampaignPlan.check_against_chain`) and the escrow against
    the balance (:func:`check_affordable`) before the campaign started."""
    return market.create_campaign_task(campaign, **_task(plan, bundle, result_public_key))


def next_round_task_call(market, plan: CampaignPlan, campaign: int, bundle: Location,
                         result_public_key: bytes | None):
    """The chain call creating the campaign's next round from ``bundle``, to go in the
    batch that decides and closes the round before it."""
    return market.next_round_call(campaign, **_task(plan, bundle, result_public_key))
