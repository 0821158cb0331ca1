"""The contributor's commands: take a slot and get the bundle (and run it), send a result."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from ..errors import UserInputError
from ..progress import byte_progress, folder_size
from ..records import StorageType
from .command import command
from .options import market, settings
from .output import emit_json, location_text, note
from .params import STORAGE, STORAGE_CHOICES


def _contributor_id(address: str) -> str:
    return address[:8]


@command("assign_task", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Bob
      {prog} 3 --run --shard-index 1 --num-shards 3
      {prog} 3 --dest ./my_task      # download only; then: cd my_task && ./start_task.sh
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="New folder for the bundle (default ./task_<id>).")
@click.option("--run", is_flag=True, help="Run ./start_task.sh in the bundle once it is unpacked.")
@click.option("--shard-index", type=click.IntRange(min=0), metavar="N",
              help="With --run: your shard of the data (DECENTRALML_SHARD_INDEX).")
@click.option("--num-shards", type=click.IntRange(min=1), metavar="N",
              help="With --run: number of shards (DECENTRALML_NUM_SHARDS).")
@click.option("--contributor-id", metavar="ID",
              help="With --run: names your result (default: the start of your address).")
def assign_task(task_id: int, dest: Path | None, run: bool, shard_index: int | None,
                num_shards: int | None, contributor_id: str | None) -> None:
    """Take a slot in a task, download and verify its bundle, and optionally run it.

    The bundle is checked against the sha256 recorded on-chain before it is unpacked.
    Prints the submission id to send the result with. With --run, ./start_task.sh runs
    in the bundle folder with DECENTRALML_SUBMISSION_ID, DECENTRALML_TASK_ID,
    DECENTRALML_CONTRIBUTOR_ID (and the shard options) set, and its exit code is
    this command's.
    """
    if (shard_index is not None and num_shards is not None) and shard_index >= num_shards:
        raise click.BadParameter(f"must be less than --num-shards ({num_shards})",
                                 param_hint="--shard-index")
    s = settings()
    dest = dest or Path(f"task_{task_id}")
    mp = market()
    with byte_progress("downloading bundle", enabled=not s.json) as progress:
        assignment = mp.assign_task(task_id, dest, progress=progress)
    if s.json:
        emit_json({"submission_id": assignment.submission_id, "task_id": task_id,
                   "bundle_dir": assignment.bundle_dir, "contributor": mp.chain.address})
    else:
        click.echo(f"submission {assignment.submission_id}: took a slot in task {task_id}")
        click.echo(f"bundle verified and unpacked in {assignment.bundle_dir}")
        if not run:
            click.echo(f"next: cd {assignment.bundle_dir} && ./start_task.sh, then "
                       f"send_task_result --submission-id {assignment.submission_id} "
                       "--result-path <result folder>")
    if not run:
        return
    env = dict(os.environ)
    env.update(s.environment())
    env.update({
        "DECENTRALML_SUBMISSION_ID": str(assignment.submission_id),
        "DECENTRALML_TASK_ID": str(task_id),
        "DECENTRALML_CONTRIBUTOR_ID": contributor_id or _contributor_id(mp.chain.address),
    })
    if shard_index is not None:
        env["DECENTRALML_SHARD_INDEX"] = str(shard_index)
    if num_shards is not None:
        env["DECENTRALML_NUM_SHARDS"] = str(num_shards)
    # start_task.sh sends the result with the send_task_result console script.
    scripts = str(Path(sys.executable).parent)
    if not shutil.which("send_task_result", path=env.get("PATH")):
        env["PATH"] = os.pathsep.join(p for p in (env.get("PATH"), scripts) if p)
    code = run_start_script(assignment.bundle_dir, env)
    if code:
        note(f"start_task.sh exited with code {code}")
    click.get_current_context().exit(code)


def run_start_script(bundle_dir: Path, env: dict[str, str]) -> int:
    script = Path(bundle_dir) / "start_task.sh"
    if not script.is_file():
        raise UserInputError(f"the bundle has no start_task.sh ({script}); see its README")
    argv = ["./start_task.sh"] if os.access(script, os.X_OK) else ["bash", "start_task.sh"]
    note(f"running ./start_task.sh in {bundle_dir}")
    sys.stdout.flush()
    return subprocess.run(argv, cwd=bundle_dir, env=env).returncode


@command("send_task_result", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Bob
      {prog} --submission-id 7 --result-path task_3/output/mnist_mlp_5FHneW46 \\
          --result "accuracy=0.91"
    """)
@click.option("--submission-id", required=True, type=click.IntRange(min=0),
              help="The id assign_task printed.")
@click.option("--result-path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar="DIR", help="Result folder to store (sealed to the creator's key, if any).")
@click.option("--result", "result_text", default="", metavar="TEXT",
              help="A short text result or note recorded on-chain.")
@click.option("--storage", type=STORAGE,
              help="Where the result folder is stored (default: where the task's bundle is).")
def send_task_result(submission_id: int, result_path: Path | None, result_text: str,
                     storage: str | None) -> None:
    """Store a result folder and record it on-chain for a submission.

    The folder is packed, sealed to the task's result key when it has one, stored
    and checked retrievable before its location and sha256 go on-chain.
    """
    if result_path is None and not result_text:
        raise click.UsageError("give --result-path, --result or both")
    s = settings()
    mp = market()
    storage_type = STORAGE_CHOICES[storage.lower()] if storage else None
    if storage_type is None and result_path is not None:
        task = mp.get_task(mp.get_submission(submission_id).task_id)
        storage_type = task.bundle.storage_type
    with byte_progress("uploading result", folder_size(result_path) if result_path else None,
                       enabled=not s.json and result_path is not None) as progress:
        submission = mp.send_task_result(
            submission_id, result=result_text, result_path=result_path,
            result_storage_type=storage_type or StorageType.LOCAL, progress=progress,
        )
    if s.json:
        emit_json(submission)
        return
    click.echo(f"sent the result of submission {submission_id} (task {submission.task_id}): "
               f"{submission.status.value}")
    if submission.result_location is not None:
        click.echo(f"stored at {location_text(submission.result_location)}")

