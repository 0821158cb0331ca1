"""The creator's commands on a task: create it, download a result, accept or reject
results, close it. (Validating and federating, which load models, are in ``validate``.)"""

from __future__ import annotations

from pathlib import Path

import click

from .. import keys as keys_mod
from ..progress import byte_progress, folder_size
from ..errors import PalletError, UserInputError
from ..records import SubmissionStatus, TaskType, ValidationStrategy
from .amounts import TOKEN, format_amount
from .command import command
from .options import RESULT_KEY_OPTION, load_result_key, market, settings
from .output import emit_json, note, show_task_details, task_json
from .params import BLOCKS, COUNT, STORAGE, STORAGE_CHOICES, AmountType, EnumType


@command("create_task", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Alice
      {prog} --bundle assets/model_contributor --question "Train the MNIST MLP" \\
          --pays-amount 5DML --max-assignments 3 --expires-in-blocks 1000 \\
          --storage ipfs --result-key ~/.config/decentralml/result_key.pub
    """)
@click.option("--bundle", "bundle", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of assets contributors download (with start_task.sh).")
@click.option("--question", required=True, help="What contributors are asked to do.")
@click.option("--pays-amount", required=True, type=AmountType(),
              help=f"Reward per accepted result: planck (5000000000000) or {TOKEN} (5{TOKEN}, 0.5{TOKEN}).")
@click.option("--max-assignments", required=True, type=COUNT,
              help="Number of contributor slots; the escrow is pays-amount × this.")
@click.option("--expires-in-blocks", type=BLOCKS, metavar="N",
              help="Expire N blocks from now (default 1000).")
@click.option("--expiration-block", type=BLOCKS, metavar="BLOCK",
              help="Expire at this block number instead.")
@click.option("--validation-strategy", type=EnumType(ValidationStrategy),
              default=ValidationStrategy.MANUAL_ACCEPT.value, show_default=True,
              help="AutoAccept pays on arrival; ManualAccept and CustomAccept wait for "
                   "validate_task_results.")
@click.option("--task-type", type=EnumType(TaskType), default=TaskType.MODEL_CONTRIBUTOR.value,
              show_default=True, help="What kind of work the task pays for.")
@click.option("--storage", type=STORAGE, default="ipfs", show_default=True,
              help="Where the bundle is stored.")
@click.option("--result-key", metavar="PATH",
              help="Public key (.pub file or hex) results are sealed to; keep its private half "
                   "for validate_task_results. See `keys generate`.")
@click.option("--annotation-type", help="DataAnnotator tasks: the kind of annotation.")
@click.option("--class-labels", help="DataAnnotator tasks: the labels, comma separated.")
def create_task(bundle: Path, question: str, pays_amount: int, max_assignments: int,
                expires_in_blocks: int | None, expiration_block: int | None,
                validation_strategy: ValidationStrategy, task_type: TaskType, storage: str,
                result_key: str | None, annotation_type: str | None,
                class_labels: str | None) -> None:
    """Upload a bundle folder and create a funded task in one step.

    The bundle is packed, stored (with a progress bar) and its sha256 recorded
    on-chain; pays-amount × max-assignments is held in escrow until results are
    accepted or the task is closed. Prints the new task.
    """
    if expires_in_blocks is not None and expiration_block is not None:
        raise click.UsageError("give --expires-in-blocks or --expiration-block, not both")
    annotation = None
    if task_type is TaskType.DATA_ANNOTATOR:
        if not annotation_type or not class_labels:
            raise click.UsageError("a DataAnnotator task needs --annotation-type and --class-labels")
        annotation = {"annotation_type": annotation_type, "class_labels": class_labels}
    elif annotation_type or class_labels:
        raise click.UsageError("--annotation-type and --class-labels are for DataAnnotator tasks")
    public_key = keys_mod.load_public_key(result_key) if result_key else None
    s = settings()
    mp = market()
    if annotation is not None:  # the chain's own limit, checked before the bundle is stored
        limit = mp.limit("MaxAnnotationLen")
        for flag, text in (("--annotation-type", annotation_type), ("--class-labels", class_labels)):
            if len(text.encode()) > limit:
                raise click.BadParameter(f"is {len(text.encode())} bytes; the chain takes at most "
                                         f"{limit}", param_hint=flag)
    if public_key is None and not s.json:
        note("note: no --result-key: results will be stored unsealed, readable by anyone")
    with byte_progress("uploading bundle", folder_size(bundle), enabled=not s.json) as progress:
        task = mp.create_task(
            task_type=task_type, question=question, pays_amount=pays_amount,
            max_assignments=max_assignments, expiration_block=expiration_block,
            expires_in_blocks=expires_in_blocks, validation_strategy=validation_strategy,
            bundle_path=bundle, bundle_storage_type=STORAGE_CHOICES[storage.lower()],
            result_public_key=public_key, annotation=annotation, progress=progress,
        )
    if s.json:
        emit_json(task_json(task))
        return
    click.echo(f"created task {task.task_id}")
    show_task_details(task)


@command("download_task_result", epilog="""
    \b
    Example:
      {prog} 7 --dest ./result_7 --result-key-file ~/.config/decentralml/result_key
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="New folder for the result (default ./result_<submission id>).")
@RESULT_KEY_OPTION
def download_task_result(submission_id: int, dest: Path | None,
                         result_key_file: Path | None) -> None:
    """Download a result folder, verify its sha256, open it if sealed, and unpack it."""
    s = settings()
    dest = dest or Path(f"result_{submission_id}")
    mp = market(need_signer=False)
    private_key = load_result_key(result_key_file, required=False)
    with byte_progress("downloading result", enabled=not s.json) as progress:
        folder = mp.download_task_result(submission_id, dest, private_key=private_key,
                                         progress=progress)
    if s.json:
        emit_json({"submission_id": submission_id, "dest": folder})
    else:
        click.echo(f"result of submission {submission_id} verified and unpacked in {folder}")


# --------------------------------------------------------------------------- deciding


def _decided(receipt, event: str) -> dict[int, dict]:
    return {int(e.attributes["submission_id"]): e.attributes for e in receipt.find(event)}


@command("accept_task_result", epilog="""
    \b
    Example:
      {prog} 7
      {prog} 7 8 9          # several in one atomic transaction
    """)
@click.argument("submission_ids", nargs=-1, required=True, type=click.IntRange(min=0))
def accept_task_result(submission_ids: tuple[int, ...]) -> None:
    """Accept pending results; the chain pays each contributor from the task's escrow."""
    mp = market()
    if len(submission_ids) == 1:
        receipt = mp.accept_task_result(submission_ids[0])
    else:
        receipt = mp.decide_task_results(accept=list(submission_ids))
    paid = _decided(receipt, "ResultAccepted")
    rows = [{"submission_id": sid, "status": "Accepted",
             "paid": int(paid.get(sid, {}).get("paid", 0)), "block": receipt.block_number}
            for sid in submission_ids]
    if settings().json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"accepted submission {row['submission_id']}: paid {format_amount(row['paid'])}")


@command("reject_task_result", epilog="""
    \b
    Example:
      {prog} 8 --reason "accuracy 0.11 is below 0.8"
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
@click.option("--reason", default="rejected by the creator", show_default=True,
              help="Why, recorded on-chain for the contributor.")
def reject_task_result(submission_id: int, reason: str) -> None:
    """Reject a revealed result within its review period; nothing is paid.

    The contributor may appeal the rejection for the chain's appeal period; until it is
    final the slot stays taken and its reward stays held.
    """
    receipt = market().reject_task_result(submission_id, reason)
    if settings().json:
        emit_json({"submission_id": submission_id, "status": "Rejected", "reason": reason,
                   "block": receipt.block_number})
    else:
        click.echo(f"rejected submission {submission_id}: {reason}")


@command("close_task", epilog="""
    \b
    Example:
      {prog} 3
      {prog} 3 --pay-pending    # pay the results still pending, unvalidated
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--pay-pending", is_flag=True,
              help="Close even though results are still pending: closing pays them unvalidated.")
def close_task(task_id: int, pay_pending: bool) -> None:
    """Close a task: pending results are paid, the rest of the escrow goes back to the creator.

    Refused while results are pending (not yet accepted or rejected), since closing
    pays them without validation: validate them first (validate_task_results), or
    pass --pay-pending. The chain checks it again when the close lands, so a result
    revealed meanwhile is refused, not paid. The creator may close a task at any time;
    anyone may close it once it has expired.
    """
    mp = market()
    if not pay_pending:
        pending = mp.list_task_results(task_id, SubmissionStatus.PENDING)
        if pending:
            owed = len(pending) * mp.get_task(task_id).pays_amount
            ids = ", ".join(str(p.submission_id) for p in pending)
            raise UserInputError(
                f"task {task_id} has {len(pending)} pending result(s) (submission(s) {ids}); closing "
                f"would pay them {format_amount(owed)} unvalidated. Validate them first "
                "(validate_task_results), or pass --pay-pending to pay them")
    try:
        receipt = mp.close_task(task_id, pay_pending=pay_pending)
    except PalletError as error:
        if error.name != "ResultsPending":
            raise
        raise UserInputError(
            f"task {task_id}: a result was revealed while the task was being closed, so the chain "
            "refused to close it (nothing was paid). Validate it first (validate_task_results), or "
            "pass --pay-pending to pay it") from None
    closed = receipt.first("TaskClosed").attributes
    data = {"task_id": task_id, "paid_on_close": int(closed.get("paid_on_close", 0)),
            "refunded": int(closed.get("refunded", 0)), "block": receipt.block_number}
    if settings().json:
        emit_json(data)
    else:
        click.echo(f"closed task {task_id}: paid {format_amount(data['paid_on_close'])} for pending "
                   f"results, refunded {format_amount(data['refunded'])}")

