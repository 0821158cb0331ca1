"""The contributor's commands: fetch a task's bundle, take a slot (and run the bundle in
the sandbox, then send its result), run a fetched bundle, send a result."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Callable

import click

from .. import sandbox
from ..chain import same_account
from ..config import SANDBOX_ENVIRONMENT
from ..errors import DecentralMLError, UserInputError
from ..progress import byte_progress, folder_size
from ..records import StorageType, SubmissionStatus, Task
from .command import command
from .options import market, settings
from .output import emit_json, location_text, note
from .params import STORAGE, STORAGE_CHOICES


def _contributor_id(address: str) -> str:
    return address[:8]


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


def _run_options(f: Callable) -> Callable:
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


def _sandbox_settings(opts: dict) -> sandbox.SandboxSettings:
    limits = sandbox.Limits(cpu_seconds=opts["cpu_seconds"], memory_bytes=opts["memory"],
                            wall_seconds=opts["timeout"])
    return sandbox.SandboxSettings(python=opts["python"] or sandbox.SandboxSettings.python,
                                   limits=limits, isolate=not opts["no_sandbox"])


def _check_shards(opts: dict) -> None:
    shard_index, num_shards = opts["shard_index"], opts["num_shards"]
    if shard_index is not None and num_shards is not None and shard_index >= num_shards:
        raise click.BadParameter(f"must be less than --num-shards ({num_shards})",
                                 param_hint="--shard-index")


def _check_runnable(box: sandbox.SandboxSettings) -> None:
    """Before anything is fetched or taken: a sandbox can be made here, the Python given
    to the bundle has TensorFlow, and no folder shown to the bundle holds a secret."""
    if box.isolate:
        sandbox.check_available()
    python = sandbox.probe_python(box.python)
    missing = [m for m, found in python.modules.items() if not found]
    if missing:
        raise UserInputError(f"the Python given to the bundle ({python.executable}) has no "
                             f"{' or '.join(missing)}; pass --python with one that has "
                             "TensorFlow and tf-keras")
    key_file = settings().key_file
    sandbox.shown_folders(box, python, secrets=[key_file] if key_file else [])


def _check_bundle(task_id: int, bundle_dir: Path, box: sandbox.SandboxSettings,
                  allow_network: bool) -> sandbox.SandboxSettings:
    """The fetched bundle can run as the contributor allows; the settings to run it with.
    A bundle that cannot run (no start_task.sh, a result already in output/, malformed
    task settings) is refused as the contributor's choice, before anything is taken."""
    try:
        sandbox.prepare_bundle_dir(bundle_dir)
        needs = sandbox.task_needs(bundle_dir)
    except sandbox.BundleError as error:
        raise UserInputError(f"task {task_id}'s bundle cannot be run: {error}") from None
    if needs.network and not allow_network:
        raise UserInputError(
            f"task {task_id}'s bundle asks for the network ({sandbox.TASK_SETTINGS_FILE}: "
            f"\"{sandbox.NETWORK_SETTING}\": true); pass --allow-network to let it")
    if allow_network and not needs.network:
        note(f"task {task_id}'s bundle does not ask for the network: it runs without")
    return sandbox.SandboxSettings(python=box.python, network=needs.network, limits=box.limits,
                                   isolate=box.isolate, read_only=box.read_only)


def _bundle_env(task_id: int, submission_id: int, opts: dict, address: str) -> dict[str, str]:
    """What the bundle is told: the allow-listed settings you set in your environment
    (DECENTRALML_DATASET, DECENTRALML_MAX_SAMPLES...), then its ids and your shard."""
    env = {name: value for name, value in os.environ.items()
           if name in sandbox.BUNDLE_ENVIRONMENT and value}
    env.update({
        "DECENTRALML_TASK_ID": str(task_id),
        "DECENTRALML_SUBMISSION_ID": str(submission_id),
        "DECENTRALML_CONTRIBUTOR_ID": opts["contributor_id"] or _contributor_id(address),
    })
    if opts["shard_index"] is not None:
        env["DECENTRALML_SHARD_INDEX"] = str(opts["shard_index"])
    if opts["num_shards"] is not None:
        env["DECENTRALML_NUM_SHARDS"] = str(opts["num_shards"])
    return env


def _run_and_send(mp, task: Task, submission_id: int, bundle_dir: Path,
                  box: sandbox.SandboxSettings, opts: dict) -> None:
    """Run the bundle's start_task.sh, then store and send the result it left."""
    s = settings()
    how = ("in the sandbox" + (", with network" if box.network else ", no network")
           if box.isolate else "WITHOUT the sandbox: it can read your files and use the network")
    note(f"running {sandbox.START_SCRIPT} in {bundle_dir} {how}")
    env = _bundle_env(task.task_id, submission_id, opts, mp.chain.address)
    echo = functools.partial(click.echo, err=s.json)
    run = sandbox.run_bundle(bundle_dir, env, settings=box, echo=echo,
                             secrets=[s.key_file] if s.key_file else [])
    if not run.ok:
        note(f"{run.describe()}; nothing was sent (submission {submission_id} stays assigned)")
        click.get_current_context().exit(run.exit_code or 1)
    result = sandbox.find_result(run.output_dir)
    storage_type = (STORAGE_CHOICES[opts["storage"].lower()] if opts["storage"]
                    else task.bundle.storage_type)
    shown = sandbox.printable(str(result))  # its name is the bundle's choice
    note(f"the bundle left {shown}; storing it on {storage_type.value} and sending it")
    try:
        with byte_progress("uploading result", folder_size(result), enabled=not s.json) as progress:
            submission = mp.send_task_result(submission_id, result_path=result,
                                             result_storage_type=storage_type, progress=progress)
    except DecentralMLError:
        note(f"the result is kept in {shown}; send it with: send_task_result --submission-id "
             f"{submission_id} --result-path {shown}")
        raise
    if s.json:
        emit_json({"submission_id": submission_id, "task_id": task.task_id,
                   "bundle_dir": bundle_dir, "result_dir": result, "seconds": run.seconds,
                   "status": submission.status, "result_location": submission.result_location})
        return
    click.echo(f"sent the result of submission {submission_id} (task {task.task_id}): "
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
@_run_options
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
    _check_shards(opts)
    s = settings()
    box = _sandbox_settings(opts)
    if run:
        _check_runnable(box)
    dest = dest or Path(f"task_{task_id}")
    mp = market()
    checked = {"box": box}

    def check_bundle(bundle_dir: Path) -> None:
        if run:  # the bundle's network request is settled before the slot is taken
            checked["box"] = _check_bundle(task_id, bundle_dir, box, opts["allow_network"])

    with byte_progress("downloading bundle", enabled=not s.json) as progress:
        assignment = mp.assign_task(task_id, dest, progress=progress, check_bundle=check_bundle)
    box, task, bundle_dir = checked["box"], assignment.task, assignment.bundle_dir
    submission_id = assignment.submission_id
    if s.json and not run:
        emit_json({"submission_id": submission_id, "task_id": task_id,
                   "bundle_dir": bundle_dir, "contributor": mp.chain.address})
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
    _run_and_send(mp, task, submission_id, bundle_dir, box, opts)


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
@_run_options
def run_task(submission_id: int, bundle_dir: Path, **opts) -> None:
    """Run a task's bundle in the sandbox for one of your slots, then send its result.

    As assign_task --run does, for a slot you already hold: start_task.sh runs in the
    sandbox and this command stores and sends the SavedModel folder it leaves in
    output/. A folder whose output/ already holds files is refused: fetch the bundle
    again (fetch_bundle) into a new folder to run it again.
    """
    _check_shards(opts)
    box = _sandbox_settings(opts)
    _check_runnable(box)
    mp = market()
    submission = mp.get_submission(submission_id)
    if not same_account(submission.contributor, mp.chain.address):
        raise UserInputError(f"submission {submission_id} belongs to {submission.contributor}, "
                             f"not to the signer {mp.chain.address}")
    if submission.status is not SubmissionStatus.ASSIGNED:
        raise UserInputError(f"submission {submission_id} is {submission.status.value}; only an "
                             "assigned slot can take a result")
    task = mp.get_task(submission.task_id)
    box = _check_bundle(task.task_id, bundle_dir, box, opts["allow_network"])
    _run_and_send(mp, task, submission_id, bundle_dir.resolve(), box, opts)


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
