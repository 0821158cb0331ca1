"""Commands that enforce the chain's deadlines and settle disputes. Most may be run by
anyone: a deadline that passed is enforced by whoever cares (usually the party it pays)."""

from __future__ import annotations

import click

from .amounts import format_amount
from .command import command
from .options import market, settings
from .output import creator_record_text, emit_json
from .params import ADDRESS


def _report(data: dict, text: str) -> None:
    if settings().json:
        emit_json(data)
    else:
        click.echo(text)


@command("claim_reward", epilog="""
    \b
    Example:
      {prog} 7        # the review period of submission 7 passed with no decision
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
def claim_reward(submission_id: int) -> None:
    """Get a result paid whose review period passed with no decision from the creator
    (or retry a payment that failed). Anyone may; the reward goes to the contributor."""
    receipt = market().claim_reward(submission_id)
    paid = sum(int(e.attributes["paid"]) for e in receipt.find("ResultAccepted"))
    _report({"submission_id": submission_id, "paid": paid, "block": receipt.block_number},
            f"submission {submission_id}: paid {format_amount(paid)} to its contributor")


@command("time_out_slot", epilog="""
    \b
    Example:
      {prog} 7        # its contributor committed nothing within the result timeout
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
def time_out_slot(submission_id: int) -> None:
    """Free a slot whose contributor committed no result within the result timeout, or
    did not reveal within the reveal window. Anyone may; the slot opens again and its
    assignment deposit goes to the task's creator."""
    receipt = market().time_out_slot(submission_id)
    event = receipt.first("SlotTimedOut").attributes
    forfeited = int(event["forfeited"])
    _report({"submission_id": submission_id, "forfeited": forfeited, "block": receipt.block_number},
            f"submission {submission_id} timed out; the slot is open again and "
            f"{format_amount(forfeited)} deposit went to the creator")


@command("appeal_rejection", epilog="""
    \b
    Example:
      {prog} 7
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
def appeal_rejection(submission_id: int) -> None:
    """Appeal the rejection of your result, within the appeal period. The reward stays
    held until the arbiter decides."""
    receipt = market().appeal_rejection(submission_id)
    _report({"submission_id": submission_id, "status": "Appealed", "block": receipt.block_number},
            f"submission {submission_id}: rejection appealed; the arbiter decides")


@command("release_rejection", epilog="""
    \b
    Example:
      {prog} 7
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
def release_rejection(submission_id: int) -> None:
    """Make a rejection final once its appeal period passed without an appeal: the slot
    opens again (or, if the task is closed, its reward returns to the creator)."""
    receipt = market().release_rejection(submission_id)
    _report({"submission_id": submission_id, "status": "final", "block": receipt.block_number},
            f"submission {submission_id}: rejection final")


@command("arbitrate", epilog="""
    \b
    Example:
      DECENTRALML_SURI=//Alice {prog} 7 --overturn     # the dev chain's sudo key
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
@click.option("--overturn/--uphold", required=True,
              help="Overturn pays the contributor; uphold makes the rejection final.")
def arbitrate(submission_id: int, overturn: bool) -> None:
    """Decide an appealed rejection. Needs the chain's arbiter origin (Root on the dev
    chain, reached through Sudo: the signer must be the sudo key)."""
    receipt = market().arbitrate(submission_id, overturn)
    verdict = "overturned: the contributor is paid" if overturn else "upheld: the rejection is final"
    _report({"submission_id": submission_id, "overturned": overturn, "block": receipt.block_number},
            f"submission {submission_id}: rejection {verdict}")


@command("remove_task", epilog="""
    \b
    Example:
      {prog} 3
    """)
@click.argument("task_id", type=click.IntRange(min=0))
def remove_task(task_id: int) -> None:
    """Remove a closed task and its records once the removal delay passed; the storage
    deposits go back to whoever paid them. Anyone may."""
    receipt = market().remove_task(task_id)
    _report({"task_id": task_id, "removed": True, "block": receipt.block_number},
            f"task {task_id} removed; storage deposits returned")


@command("show_account", epilog="""
    \b
    Example:
      {prog} 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY
    """)
@click.argument("address", required=False, type=ADDRESS)
def show_account(address: str | None) -> None:
    """Show what the chain counts of an account, as creator and as contributor:
    acceptance rate, results accepted and rejected, slots timed out, appeals won."""
    mp = market(need_signer=address is None)
    address = address or mp.chain.address
    creator, contributor = mp.creator_record(address), mp.contributor_record(address)
    if settings().json:
        emit_json({"address": address, "as_creator": {
            **{k: v for k, v in vars(creator).items() if k != "address"},
            "acceptance_rate": creator.acceptance_rate},
            "as_contributor": {k: v for k, v in vars(contributor).items() if k != "address"}})
        return
    click.echo(f"account         {address}")
    click.echo(f"as creator      {creator_record_text(creator)}")
    click.echo(f"as contributor  {contributor.slots_taken} slots taken, {contributor.results_revealed} "
               f"results sent, {contributor.results_accepted} accepted, {contributor.results_rejected} "
               f"rejected, {contributor.slots_timed_out} timed out, {contributor.appeals_won} appeals won")
