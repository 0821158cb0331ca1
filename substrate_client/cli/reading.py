"""Commands that read the chain: tasks, one task, a task's results, an account's balance."""

from __future__ import annotations

import click

from ..records import SubmissionStatus
from .amounts import format_amount
from .command import command
from .options import market, settings
from .output import clip, emit_json, location_text, short_address, show_task_details, table, task_json
from .params import ADDRESS, EnumType


@command("list_tasks", epilog="""
    \b
    Example:
      {prog} --status open
      {prog} --mine --json
    """)
@click.option("--status", type=click.Choice(["open", "closed", "all"], case_sensitive=False),
              default="all", show_default=True)
@click.option("--creator", type=ADDRESS, help="Only tasks created by this account.")
@click.option("--mine", is_flag=True, help="Only tasks created by the signer.")
def list_tasks(status: str, creator: str | None, mine: bool) -> None:
    """List tasks: id, type, reward, slots taken, results, expiry, how often the creator
    accepts results, the campaign round a task is (if any), and the question."""
    if mine and creator:
        raise click.UsageError("give --creator or --mine, not both")
    s = settings()
    mp = market(need_signer=mine)
    tasks = mp.list_tasks(None if status == "all" else status,
                          mp.chain.address if mine else creator)
    records = {a: mp.creator_record(a) for a in {t.creator for t in tasks}}
    if s.json:
        emit_json([task_json(t, records[t.creator]) for t in tasks])
        return
    table(["ID", "STATUS", "TYPE", "PAYS", "SLOTS", "PENDING", "ACCEPTED", "EXPIRES", "CREATOR ACCEPTS",
           "CAMPAIGN", "QUESTION"],
          [[t.task_id, t.status.value, t.task_type.value, format_amount(t.pays_amount),
            f"{t.taken_slots}/{t.max_assignments}", t.pending, t.accepted, t.expiration_block,
            _rate(records[t.creator]), _round(t), clip(t.question)] for t in tasks], empty="no tasks")


def _round(task) -> str:
    lineage = task.lineage
    return "-" if lineage is None else f"{lineage.campaign} round {lineage.round}"


def _rate(record) -> str:
    rate = record.acceptance_rate
    return "-" if rate is None else f"{rate:.0%} of {record.decided}"


@command("show_task", epilog="""
    \b
    Example:
      {prog} 3
      {prog} 3 --json | jq .escrow
    """)
@click.argument("task_id", type=click.IntRange(min=0))
def show_task(task_id: int) -> None:
    """Show one task in full, with its creator's record on chain (how often they accept
    results) and the deadlines and deposits that protect a contributor."""
    mp = market(need_signer=False)
    task = mp.get_task(task_id)
    creator, deadlines = mp.creator_record(task.creator), mp.deadlines()
    if settings().json:
        emit_json(task_json(task, creator, deadlines))
    else:
        show_task_details(task, creator, deadlines)


@command("list_task_results", epilog="""
    \b
    Example:
      {prog} 3
      {prog} 3 --status pending --json
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--status", type=EnumType(SubmissionStatus, [m.value.lower() for m in SubmissionStatus]),
              help="Only submissions in this state.")
def list_task_results(task_id: int, status: SubmissionStatus | None) -> None:
    """List the submissions of a task: contributor, state, result and where it is stored."""
    subs = market(need_signer=False).list_task_results(task_id, status)
    if settings().json:
        emit_json(subs)
        return
    table(["SUBMISSION", "CONTRIBUTOR", "STATUS", "SENT AT", "RESULT", "STORED AT", "REASON"],
          [[s.submission_id, short_address(s.contributor), s.status.value,
            s.submitted_at if s.submitted_at is not None else "-", clip(s.result, 24) or "-",
            clip(location_text(s.result_location), 40), s.rejection_reason or ""]
           for s in subs], empty=f"no submissions for task {task_id}")


@command("balance", epilog="""
    \b
    Example:
      {prog}                      # the signer's balance
      {prog} 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty --json
    """)
@click.argument("address", required=False, type=ADDRESS)
def balance(address: str | None) -> None:
    """Show an account's free and reserved (escrowed) balance; default: the signer's."""
    mp = market(need_signer=address is None)
    address = address or mp.chain.address
    data = mp.balance(address)
    if settings().json:
        emit_json({"address": address, **data})
        return
    click.echo(f"account   {address}")
    for key in ("free", "reserved", "frozen"):
        if key in data:
            click.echo(f"{key:<9} {format_amount(data[key])}  ({data[key]} planck)")

