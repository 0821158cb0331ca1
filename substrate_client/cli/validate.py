"""The creator's commands that need TensorFlow: validate a task's pending results in one
batch, and federate accepted results into one model. Both go through the library's one
validation route (``substrate_client.validation``): a contributor's model files are
never loaded, only their weights read into the creator's own model."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import UserInputError, ValidationError
from ..progress import byte_progress
from ..records import Submission, SubmissionStatus, Task, ValidationStrategy
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
              help="Accept this submission (repeat); with --reject, no questions are asked and "
                   "only the listed submissions are decided.")
@click.option("--reject", "reject_ids", multiple=True, type=click.IntRange(min=0), metavar="ID",
              help="Reject this submission (repeat).")
@click.option("--reason", default="", help="Reason recorded for rejections by --reject or by hand.")
@click.option("--creator-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("assets/model_creator"), show_default=True,
              help="The creator's folder whose held-out data results are evaluated on.")
@click.option("--template", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Your own model (SavedModel folder) that each result's weights are restored "
                   "into (default: the model in the task's bundle).")
@click.option("--no-evaluate", is_flag=True, help="Do not evaluate the models.")
@RESULT_KEY_OPTION
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Keep the downloaded results in this new folder (default: a temporary one).")
@click.option("--dry-run", is_flag=True, help="Decide, but submit nothing on-chain.")
def validate_task_results(task_id: int, hook: str | None, accept_ids: tuple[int, ...],
                          reject_ids: tuple[int, ...], reason: str, creator_dir: Path,
                          template: Path | None, no_evaluate: bool, result_key_file: Path | None,
                          results_dir: Path | None, dry_run: bool) -> None:
    """Download, evaluate and decide on the pending results of a task, in one batch.

    Each result is downloaded, checked against its on-chain hash, opened with the
    result key, and only its weights are read: they are restored into your own model
    (the task bundle's, or --template), which is evaluated on your held-out data. A
    contributor's model files are never loaded, so nothing in them runs. Then each
    result is decided as the task's strategy told its contributors: a CustomAccept
    task by your --hook, a ManualAccept task by asking you; --accept/--reject ids
    decide either. A result that cannot be opened or judged is rejected with the
    reason. All decisions go on-chain in one atomic transaction.
    """
    from .. import validation

    if hook and (accept_ids or reject_ids):
        raise click.UsageError("give --hook or --accept/--reject, not both")
    s = settings()
    mp = market()
    private_key = load_result_key(result_key_file, required=False)
    if hook:
        strategy = validation.CustomAccept(hook)
    elif accept_ids or reject_ids:
        strategy = validation.ManualAccept(accept_ids=accept_ids, reject_ids=reject_ids, reason=reason)
    else:
        def ask(prompt: str) -> str:
            return click.prompt(prompt.rstrip(), default="s", show_default=False,
                                prompt_suffix=" ", err=True)

        strategy = validation.ManualAccept(ask, reason=reason)
    _check_task_strategy(mp.get_task(task_id), hook=hook, by_id=bool(accept_ids or reject_ids))
    evaluator = None if no_evaluate else validation.creator_evaluator(creator_dir)
    if results_dir is not None and results_dir.exists():
        raise UserInputError(f"{results_dir} already exists; give a new folder with --results-dir")

    with tempfile.TemporaryDirectory(prefix="decentralml-review-") as scratch:
        work_dir = results_dir or Path(scratch) / "results"
        creator_model = None if template is None else validation.CreatorModel(template)
        if _opens_results(strategy):
            load_tensorflow_quietly(s.verbose)
        reviews = validation.validate_task_results(
            mp, task_id, strategy, work_dir=work_dir, creator_model=creator_model,
            private_key=private_key, evaluator=evaluator, on_download=_download_bar(s),
        )
        receipt = None if dry_run else validation.submit_decisions(mp, reviews)
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
        if r["error"]:
            note(f"submission {r['submission_id']} rejected: {validation.clean_reason(r['error'], 400)}")
    decided = sum(1 for r in rows if r["verdict"] != "pending")
    left = len(rows) - decided
    if receipt is not None:
        click.echo(f"submitted {decided} decision(s) in block {receipt.block_number}")
    elif dry_run and decided:
        click.echo(f"dry run: {decided} decision(s) not submitted")
    if left:
        note(f"{left} result(s) left pending: closing the task would pay them")


def _opens_results(strategy) -> bool:
    """Whether the strategy may open results (and so needs TensorFlow)."""
    return not (getattr(strategy, "by_ids", False) and not strategy.ids.accept_ids)


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
      {prog} --task-id 3 --out federated_model --policy weighted --max-samples 60000
      {prog} results/mnist_mlp_a results/mnist_mlp_b --template model --out federated_model
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
@click.option("--max-samples", "max_sample_count", type=click.IntRange(min=1), metavar="N",
              help="weighted: the most samples one result counts for; contributors report "
                   "their own counts, and larger ones are capped (default: "
                   "federation.DEFAULT_MAX_SAMPLE_COUNT, one million).")
@click.option("--template", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Your own model (SavedModel folder) the weights are set into (default with "
                   "--task-id: the model in the task's bundle; required with result folders).")
@RESULT_KEY_OPTION
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="With --task-id: keep the downloaded results in this new folder.")
def federate(result_dirs: tuple[Path, ...], task_id: int | None, out: Path, policy: str,
             trim_fraction: float, max_sample_count: int | None, template: Path | None,
             result_key_file: Path | None, results_dir: Path | None) -> None:
    """Combine accepted results into one federated SavedModel.

    Only each result's weights are read (checked by key, dtype and shape against your
    model, and finite); they are combined and set into your own model, the task
    bundle's or --template. A contributor's model files are never loaded.
    """
    from .. import validation

    if bool(result_dirs) == (task_id is not None):
        raise click.UsageError("give result folders or --task-id (one of the two)")
    if out.exists():
        raise UserInputError(f"{out} already exists; choose a new folder with --out")
    if task_id is None and template is None:
        raise UserInputError("give --template: your own model (SavedModel folder) the results' "
                             "weights are set into; a result's own model files are never loaded")
    s = settings()
    with tempfile.TemporaryDirectory(prefix="decentralml-federate-") as scratch:
        work_dir = results_dir or Path(scratch) / "results"
        if task_id is not None:
            # Without --template the task bundle's model is used: only its creator, the
            # signer, may take it as her own.
            mp = market(need_signer=template is None)
            private_key = load_result_key(result_key_file, required=False)
            creator_model = (validation.CreatorModel(template) if template is not None else
                             validation.CreatorModel.from_task_bundle(mp, mp.get_task(task_id), work_dir))
            downloaded = validation.download_results(
                mp, task_id, work_dir, status=SubmissionStatus.ACCEPTED, private_key=private_key,
                on_download=_download_bar(s))
            if not downloaded:
                raise UserInputError(f"task {task_id} has no accepted results with a stored model")
            model_dirs = [model_dir for _sub, model_dir in downloaded]
        else:
            creator_model = validation.CreatorModel(template)
            try:
                model_dirs = [validation.find_model_dir(folder, what=str(folder)) for folder in result_dirs]
            except ValidationError as error:  # the folders named on the command line
                raise UserInputError(str(error)) from None
        load_tensorflow_quietly(s.verbose)
        from .. import federation

        model = creator_model.get()
        cap = {} if max_sample_count is None else {"max_sample_count": max_sample_count}
        weights = federation.federate(model_dirs, policy, trim_fraction=trim_fraction, reference=model,
                                      **cap)
        saved = federation.save_federated_model(model, weights, out)
    if s.json:
        emit_json({"out": saved, "policy": policy, "sources": model_dirs})
    else:
        click.echo(f"federated {len(model_dirs)} result(s) with {policy} into {saved}")


def _check_task_strategy(task: Task, *, hook: str | None, by_id: bool) -> None:
    """Decide as the task told its contributors on chain: a CustomAccept task by the
    creator's hook (or explicit ids), a ManualAccept task by a person, never a hook."""
    strategy = task.validation_strategy
    if strategy is ValidationStrategy.CUSTOM_ACCEPT and not hook and not by_id:
        raise UserInputError(
            f"task {task.task_id} is CustomAccept: its results are judged by your hook; "
            "pass --hook MODULE:FUNCTION (or decide by id with --accept/--reject)")
    if strategy is ValidationStrategy.MANUAL_ACCEPT and hook:
        raise UserInputError(
            f"task {task.task_id} is ManualAccept: a person decides (at the prompts or with "
            "--accept/--reject); --hook is for CustomAccept tasks")
