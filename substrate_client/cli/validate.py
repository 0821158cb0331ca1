"""The creator's commands that load models: validate a task's pending results in one
batch, and federate accepted results into one model."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import UserInputError, ValidationError
from ..progress import byte_progress
from ..records import Submission, SubmissionStatus
from .command import command
from .options import RESULT_KEY_OPTION, CliSettings, load_result_key, market, settings
from .output import clip, emit_json, note, short_address, table
from .quiet import load_tensorflow_quietly


@command("validate_task_results", epilog="""
    \b
    Examples:
      {prog} 3                                  # ask for each pending result
      {prog} 3 --accept 7 --accept 8 --reject 9 --reason "below 0.8 accuracy"
      {prog} 3 --hook hooks/checks.py:accuracy_at_least_80
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--hook", metavar="MODULE:FUNCTION",
              help="CustomAccept hook: module:function or file.py:function, called as "
                   "hook(model, submission) -> Decision.")
@click.option("--accept", "accept_ids", multiple=True, type=click.IntRange(min=0), metavar="ID",
              help="Accept this submission (repeat); with --reject, no questions are asked.")
@click.option("--reject", "reject_ids", multiple=True, type=click.IntRange(min=0), metavar="ID",
              help="Reject this submission (repeat).")
@click.option("--reason", default="", help="Reason recorded for rejections by --reject or by hand.")
@click.option("--creator-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("assets/model_creator"), show_default=True,
              help="The creator's folder whose held-out data results are evaluated on.")
@click.option("--no-evaluate", is_flag=True, help="Do not evaluate the models.")
@RESULT_KEY_OPTION
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Keep the downloaded results in this new folder (default: a temporary one).")
@click.option("--dry-run", is_flag=True, help="Decide, but submit nothing on-chain.")
def validate_task_results(task_id: int, hook: str | None, accept_ids: tuple[int, ...],
                          reject_ids: tuple[int, ...], reason: str, creator_dir: Path,
                          no_evaluate: bool, result_key_file: Path | None,
                          results_dir: Path | None, dry_run: bool) -> None:
    """Download, evaluate and decide on every pending result of a task, in one batch.

    Each pending result is downloaded (opened with the result key if sealed), its
    model loaded and evaluated on the creator's held-out data; then it is accepted or
    rejected by a CustomAccept --hook, by --accept/--reject ids, or by asking you.
    Results left pending (skipped, or a hook that failed) are reported and stay pending.
    All decisions go on-chain in one atomic transaction.
    """
    from .. import review

    if hook and (accept_ids or reject_ids):
        raise click.UsageError("give --hook or --accept/--reject, not both")
    s = settings()
    mp = market()
    private_key = load_result_key(result_key_file, required=False)
    load_tensorflow_quietly(s.verbose)
    evaluator = None if no_evaluate else review.creator_evaluator(creator_dir)
    if hook:
        strategy = review.hook_strategy(hook)
    elif accept_ids or reject_ids:
        strategy = review.id_strategy(accept_ids, reject_ids, reason)
    else:
        def ask(prompt: str) -> str:
            return click.prompt(prompt.rstrip(), default="s", show_default=False,
                                prompt_suffix=" ", err=True)

        strategy = review.manual_strategy(ask, reason)

    with tempfile.TemporaryDirectory(prefix="decentralml-review-") as scratch:
        reviews = review.review_task_results(
            mp, task_id, strategy, work_dir=results_dir or Path(scratch) / "results",
            private_key=private_key, evaluator=evaluator, on_download=_download_bar(s),
        )
        receipt = None if dry_run else review.submit_decisions(mp, reviews)
    rows = [r.summary() for r in reviews]
    if s.json:
        emit_json({"task_id": task_id, "submitted": receipt is not None,
                   "block": receipt.block_number if receipt else None, "results": rows})
        return
    table(["SUBMISSION", "CONTRIBUTOR", "ACCURACY", "LOSS", "DECISION", "REASON"],
          [[r["submission_id"], short_address(r["contributor"]), _metric(r["metrics"], "accuracy"),
            _metric(r["metrics"], "loss"), r["verdict"], clip(r["reason"], 60)] for r in rows],
          empty=f"no pending results for task {task_id}")
    for r in rows:
        if r["error"] and r["verdict"] == "pending":
            note(f"warning: submission {r['submission_id']} stays pending: {r['error']}")
    decided = sum(1 for r in rows if r["verdict"] != "pending")
    if receipt is not None:
        click.echo(f"submitted {decided} decision(s) in block {receipt.block_number}")
    elif dry_run and decided:
        click.echo(f"dry run: {decided} decision(s) not submitted")


def _download_bar(s: CliSettings) -> Callable[[Submission], Any]:
    def bar(submission: Submission):
        return byte_progress(f"downloading result {submission.submission_id}", enabled=not s.json)

    return bar


def _metric(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    return f"{value:.4f}" if isinstance(value, float) else "-"


# --------------------------------------------------------------------------- federating


@command("federate", epilog="""
    \b
    Examples:
      {prog} --task-id 3 --out federated_model --policy weighted
      {prog} results/mnist_mlp_a results/mnist_mlp_b --out federated_model --policy median
    """)
@click.argument("result_dirs", nargs=-1,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--task-id", type=click.IntRange(min=0),
              help="Federate the accepted results of this task (downloaded first).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("federated_model"), show_default=True,
              help="New folder for the federated SavedModel.")
@click.option("--policy", type=click.Choice(["average", "weighted", "median", "trimmed_mean"]),
              default="average", show_default=True,
              help="weighted: FedAvg by each result's sample count; median / trimmed_mean: "
                   "robust to outliers.")
@click.option("--trim-fraction", type=click.FloatRange(0, 0.5, max_open=True), default=0.1,
              show_default=True, help="trimmed_mean: fraction dropped at each end.")
@click.option("--template", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="SavedModel the weights are set into (default: the first result).")
@RESULT_KEY_OPTION
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="With --task-id: keep the downloaded results in this new folder.")
def federate(result_dirs: tuple[Path, ...], task_id: int | None, out: Path, policy: str,
             trim_fraction: float, template: Path | None, result_key_file: Path | None,
             results_dir: Path | None) -> None:
    """Combine accepted results (SavedModel folders) into one federated SavedModel."""
    from .. import review

    if bool(result_dirs) == (task_id is not None):
        raise click.UsageError("give result folders or --task-id (one of the two)")
    if out.exists():
        raise UserInputError(f"{out} already exists; choose a new folder with --out")
    s = settings()
    with tempfile.TemporaryDirectory(prefix="decentralml-federate-") as scratch:
        if task_id is not None:
            mp = market(need_signer=False)
            private_key = load_result_key(result_key_file, required=False)
            downloaded = review.download_results(
                mp, task_id, results_dir or Path(scratch) / "results",
                status=SubmissionStatus.ACCEPTED, private_key=private_key,
                on_download=_download_bar(s))
            if not downloaded:
                raise UserInputError(f"task {task_id} has no accepted results with a stored model")
            model_dirs = [review.find_model_dir(folder) for _sub, folder in downloaded]
        else:
            try:
                model_dirs = [review.find_model_dir(folder) for folder in result_dirs]
            except ValidationError as error:  # the folders named on the command line
                raise UserInputError(str(error)) from None
        load_tensorflow_quietly(s.verbose)
        saved = review.federate_into(model_dirs, out, policy=policy, template=template,
                                     trim_fraction=trim_fraction)
    if s.json:
        emit_json({"out": saved, "policy": policy, "sources": model_dirs})
    else:
        click.echo(f"federated {len(model_dirs)} result(s) with {policy} into {saved}")

