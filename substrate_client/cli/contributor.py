"""The contributor's commands: fetch a task's bundle, take a slot (and run the bundle in
the sandbox, then send its result), run a fetched bundle, send a result."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Callable

import click

from .. import sandbox
from ..config import SANDBOX_ENVIRONMENT
from ..contribute import Contributor, DataSettings, RunSettings, Slot
from ..errors import DecentralMLError, UserInputError
from ..progress import byte_progress, folder_size
from ..records import StorageType
from .command import command
from .options import market, settings
from .output import emit_json, location_text, note
from .params import STORAGE, STORAGE_CHOICES


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class SizeType(click.ParamType):
    """A size in bytes: ``512M``, ``16G``, ``1.5GiB`` or a plain number of bytes."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        match = _SIZE.match(str(value))
        if not match or not str(value).isascii():
            self.fail(f"{value!r} is not a size (e.g. 512M, 16G)", param, ctx)
        size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
        if size <= 0:
            self.fail(f"{value!r} must be more than zero", param, ctx)
        return size


def run_options(f: Callable) -> Callable:
    """The options of running a bundle: its inputs, the sandbox, its limits, the result's storage."""
    defaults = sandbox.Limits()
    options = [
        click.option("--shard-index", type=click.IntRange(min=0), metavar="N",
                     help="Your shard of the data (DECENTRALML_SHARD_INDEX)."),
        click.option("--num-shards", type=click.IntRange(min=1), metavar="N",
                     help="Number of shards (DECENTRALML_NUM_SHARDS)."),
        click.option("--contributor-id", metavar="ID",
                     help="Names your result (default: the start of your address)."),
        click.option("--storage", type=STORAGE,
                     help="Where the result is stored (default: where the task's bundle is)."),
        click.option("--python", "python", metavar="PATH", envvar=SANDBOX_ENVIRONMENT["python"],
                     help="A Python with TensorFlow and tf-keras, given to the bundle read-only "
                          f"[env {SANDBOX_ENVIRONMENT['python']}; default: this client's own]."),
        click.option("--allow-network", is_flag=True,
                     help="Let the bundle use the network, if its task_settings.json says it "
                          "needs it (\"NETWORK\": true). Without this flag such a task is refused "
                          "before a slot is taken; a task that does not ask gets no network."),
        click.option("--cpu-seconds", type=click.IntRange(min=1), metavar="N",
                     envvar=SANDBOX_ENVIRONMENT["cpu_seconds"], default=defaults.cpu_seconds,
                     show_default=True,
                     help="CPU time each process of the bundle may use "
                          f"[env {SANDBOX_ENVIRONMENT['cpu_seconds']}]."),
        click.option("--memory", type=SizeType(), metavar="SIZE", envvar=SANDBOX_ENVIRONMENT["memory"],
                     default=f"{defaults.memory_bytes >> 30}G", show_default=True,
                     help="Address space each process of the bundle may use "
                          f"[env {SANDBOX_ENVIRONMENT['memory']}]."),
        click.option("--timeout", type=click.IntRange(min=1), metavar="SECONDS",
                     envvar=SANDBOX_ENVIRONMENT["timeout"], default=int(defaults.wall_seconds),
                     show_default=True,
                     help=f"Wall-clock time the whole run may take [env {SANDBOX_ENVIRONMENT['timeout']}]."),
        click.option("--no-sandbox", is_flag=True,
                     help="Run start_task.sh WITHOUT the sandbox. It can then read every file you "
                          "can (your key file, ~/.config/decentralml, ~/.aws, ~/.ssh), write "
                          "anywhere you can and use the network; only its environment is still "
                          "cleared and its limits still apply. Only for a bundle you wrote or "
                          "have read in full."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def sandbox_settings(opts: dict) -> sandbox.SandboxSettings:
    """The sandbox the run options ask for."""
    limits = sandbox.Limits(cpu_seconds=opts["cpu_seconds"], memory_bytes=opts["memory"],
                            wall_seconds=opts["timeout"])
    return sandbox.SandboxSettings(python=opts["python"] or sandbox.SandboxSettings.python,
                                   limits=limits, isolate=not opts["no_sandbox"])


def check_shards(opts: dict) -> None:
    shard_index, num_shards = opts["shard_index"], opts["num_shards"]
    if shard_index is not None and num_shards is not None and shard_index >= num_shards:
        raise click.BadParameter(f"must be less than --num-shards ({num_shards})",
                                 param_hint="--shard-index")


def run_settings(opts: dict) -> RunSettings:
    """How bundles run, as the run options and the signer's key file say."""
    key_file = settings().key_file
    return RunSettings(sandbox=sandbox_settings(opts), allow_network=opts["allow_network"],
                       secrets=(Path(key_file),) if key_file else (),
                       result_storage=STORAGE_CHOICES[opts["storage"].lower()] if opts["storage"]
                       else None)


def data_settings(opts: dict, **more) -> DataSettings:
    """What the bundle is told about your data: the run options, and ``more``."""
    return DataSettings(shard_index=opts["shard_index"], num_shards=opts["num_shards"],
                        contributor_id=opts["contributor_id"], **more)


def _run_and_send(worker: Contributor, slot: Slot) -> None:
    """Run the slot's start_task.sh, then store and send the result it left."""
    s = settings()
    note(worker.describe_run(slot))
    run = worker.train(slot, echo=functools.partial(click.echo, err=s.json))
    if not run.ok:
        note(f"{run.describe()}; nothing was sent (submission {slot.submission_id} stays assigned)")
        click.get_current_context().exit(run.exit_code or 1)
    result = sandbox.find_result(run.output_dir)
    shown = sandbox.printable(str(result))  # its name is the bundle's choice
    note(f"the bundle left {shown}; storing it on {worker.result_storage(slot.task).value} "
         "and sending it")
    try:
        with byte_progress("uploading result", folder_size(result), enabled=not s.json) as progress:
            submission = worker.send(slot, result, progress=progress)
    except DecentralMLError:
        note(f"the result is kept in {shown}; send it with: send_task_result --submission-id "
             f"{slot.submission_id} --result-path {shown}")
        raise
    if s.json:
        emit_json({"submission_id": slot.submission_id, "task_id": slot.task.task_id,
                   "bundle_dir": slot.bundle_dir, "result_dir": result, "seconds": run.seconds,
                   "status": submission.status, "result_location": submission.result_location})
        return
    click.echo(f"sent the result of submission {slot.submission_id} (task {slot.task.task_id}): "
               f"{submission.status.value}")
    if submission.result_location is not None:
        click.echo(f"stored at {location_text(submission.result_location)}")


@command("assign_task", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Bob
      {prog} 3 --run --shard-index 1 --num-shards 3
      {prog} 3 --dest ./my_task      # fetch and take a slot only; run it later with run_task
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="New folder for the bundle (default ./task_<id>).")
@click.option("--run", is_flag=True,
              help="Run the bundle's start_task.sh in the sandbox, then store and send the "
                   "result it leaves in output/.")
@run_options
def assign_task(task_id: int, dest: Path | None, run: bool, **opts) -> None:
    """Fetch a task's bundle, verify it, then take a slot in the task; optionally run it.

    The bundle is checked against the sha256 recorded on-chain before it is unpacked,
    and only then is a slot taken: a bundle that cannot be had costs nothing. Prints
    the submission id. With --run, the bundle's start_task.sh runs in a sandbox
    (bubblewrap): it sees only the system, the Python it is given and its own folder,
    has no network, none of your secrets in its environment or files, and CPU, memory
    and time limits. When it exits 0, this command finds the SavedModel folder it left
    in output/, stores it and sends it; the script never sends anything itself. A
    failed run sends nothing, and its exit code is this command's.
    """
    check_shards(opts)
    s = settings()
    runs = run_settings(opts)
    if run:
        runs.check_machine()
    worker = Contributor(market(), runs, data_settings(opts))
    dest = dest or Path(f"task_{task_id}")
    with byte_progress("downloading bundle", enabled=not s.json) as progress:
        if run:  # the bundle's network request is settled before the slot is taken
            slot = worker.take_slot(task_id, dest, progress=progress)
            submission_id, bundle_dir = slot.submission_id, slot.bundle_dir
        else:
            assignment = worker.market.assign_task(task_id, dest, progress=progress)
            submission_id, bundle_dir = assignment.submission_id, assignment.bundle_dir
    if s.json and not run:
        emit_json({"submission_id": submission_id, "task_id": task_id,
                   "bundle_dir": bundle_dir, "contributor": worker.address})
        return
    if s.json:  # the JSON comes after the run; the id must not be lost if the run fails
        note(f"submission {submission_id}: took a slot in task {task_id}")
    else:
        click.echo(f"submission {submission_id}: took a slot in task {task_id}")
        click.echo(f"bundle verified and unpacked in {bundle_dir}")
    if not run:
        click.echo(f"next: decentralml run_task {submission_id} --bundle {bundle_dir}  "
                   "(runs it in the sandbox and sends its result)")
        return
    _run_and_send(worker, slot)


@command("run_task", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Bob
      {prog} 7 --bundle ./task_3 --shard-index 1 --num-shards 3
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
@click.option("--bundle", "bundle_dir", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The task's bundle, as assign_task or fetch_bundle unpacked it.")
@run_options
def run_task(submission_id: int, bundle_dir: Path, **opts) -> None:
    """Run a task's bundle in the sandbox for one of your slots, then send its result.

    As assign_task --run does, for a slot you already hold: start_task.sh runs in the
    sandbox and this command stores and sends the SavedModel folder it leaves in
    output/. A folder whose output/ already holds files is refused: fetch the bundle
    again (fetch_bundle) into a new folder to run it again.
    """
    check_shards(opts)
    runs = run_settings(opts)
    runs.check_machine()
    worker = Contributor(market(), runs, data_settings(opts))
    _run_and_send(worker, worker.held_slot(submission_id, bundle_dir))


@command("fetch_bundle", epilog="""
    \b
    Example:
      {prog} 3 --dest ./task_3_again
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="New folder for the bundle (default ./task_<id>).")
def fetch_bundle(task_id: int, dest: Path | None) -> None:
    """Fetch a task's bundle again, verified against its on-chain sha256; takes no slot.

    For a bundle folder lost or spoiled after assign_task, or to read a task's code
    before taking a slot. Needs no signer.
    """
    s = settings()
    dest = dest or Path(f"task_{task_id}")
    if dest.exists() or dest.is_symlink():
        raise UserInputError(f"{dest} already exists; choose a new folder for the bundle")
    mp = market(need_signer=False)
    task = mp.get_task(task_id)
    with byte_progress("downloading bundle", enabled=not s.json) as progress:
        bundle_dir = mp.download_bundle(task, dest, progress=progress)
    if s.json:
        emit_json({"task_id": task_id, "bundle_dir": bundle_dir})
        return
    click.echo(f"bundle of task {task_id} verified and unpacked in {bundle_dir}")


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
