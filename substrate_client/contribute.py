"""Contributing to a task: check this machine can run a bundle, take a slot once the
task's bundle is fetched and verified, run its ``start_task.sh`` in the sandbox on your
own data, then store and send the result it left.

``assign_task --run``, ``run_task`` and the long-running agent
(:mod:`substrate_client.agent`) all go through these functions:

    contributor = Contributor(market, RunSettings(), DataSettings(shard_index=1, num_shards=3))
    contributor.check_machine()
    slot = contributor.take_slot(task_id, Path("task_3"))
    run = contributor.train(slot)
    submission = contributor.send(slot, sandbox.find_result(run.output_dir))

The bundle is the creator's code: it runs in the sandbox (:mod:`substrate_client.sandbox`)
and is told only allow-listed settings (:data:`sandbox.BUNDLE_ENVIRONMENT`); no signer,
key file, storage credential or chain URL reaches it. It never sends anything itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping

from . import sandbox
from .errors import UserInputError
from .marketplace import Marketplace
from .records import StorageType, Submission, SubmissionStatus, Task
from .chain import same_account
from .storage import Progress

log = logging.getLogger(__name__)

#: What ``--bad-model`` (or ``DataSettings.sabotage``) tells the example bundle to do.
SABOTAGE_RANDOM_WEIGHTS = "random_weights"


@dataclass(frozen=True)
class DataSettings:
    """What the bundle is told about your data, in its environment
    (``DECENTRALML_SHARD_INDEX``, ``..._NUM_SHARDS``, ``..._PARTITION``, ``..._MAX_SAMPLES``,
    ``..._DATASET``, ``..._SABOTAGE``). None: not set (the bundle's own default)."""

    shard_index: int | None = None
    num_shards: int | None = None
    partition: str | None = None
    max_samples: int | None = None
    dataset: str | None = None
    sabotage: str | None = None
    #: Names your result (default: the start of your address).
    contributor_id: str | None = None

    def __post_init__(self) -> None:
        if self.shard_index is not None and self.shard_index < 0:
            raise UserInputError("the shard index must be 0 or more")
        if self.num_shards is not None and self.num_shards < 1:
            raise UserInputError("the number of shards must be at least 1")
        if (self.shard_index is not None and self.num_shards is not None
                and self.shard_index >= self.num_shards):
            raise UserInputError(f"the shard index ({self.shard_index}) must be less than the "
                                 f"number of shards ({self.num_shards})")
        if self.max_samples is not None and self.max_samples < 1:
            raise UserInputError("the most samples to train on must be at least 1")

    def environment(self) -> dict[str, str]:
        """The ``DECENTRALML_*`` settings this gives the bundle (those that are set)."""
        values = {"SHARD_INDEX": self.shard_index, "NUM_SHARDS": self.num_shards,
                  "PARTITION": self.partition, "MAX_SAMPLES": self.max_samples,
                  "DATASET": self.dataset, "SABOTAGE": self.sabotage}
        return {f"DECENTRALML_{name}": str(value) for name, value in values.items()
                if value is not None and value != ""}


@dataclass(frozen=True)
class RunSettings:
    """How bundles run on this machine."""

    sandbox: sandbox.SandboxSettings = field(default_factory=sandbox.SandboxSettings)
    #: Let a bundle whose task settings ask for the network have it.
    allow_network: bool = False
    #: More paths to keep out of every bundle's reach (the signer's key file).
    secrets: tuple[Path, ...] = ()
    #: Where results are stored; None: where the task's bundle is.
    result_storage: StorageType | None = None

    def check_machine(self) -> None:
        """Before anything is fetched or taken: a sandbox can be made here, the Python
        given to bundles has TensorFlow and tf-keras, and no folder shown to a bundle
        holds a secret. Raises UserInputError (or SandboxUnavailableError) saying which."""
        box = self.sandbox
        if box.isolate:
            sandbox.check_available()
        python = sandbox.probe_python(box.python)
        missing = [m for m, found in python.modules.items() if not found]
        if missing:
            raise UserInputError(f"the Python given to the bundle ({python.executable}) has no "
                                 f"{' or '.join(missing)}; pass --python with one that has "
                                 "TensorFlow and tf-keras")
        sandbox.shown_folders(box, python, secrets=self.secrets)


@dataclass(frozen=True)
class FetchedBundle:
    """A task's bundle fetched, verified and checked, before any slot is taken."""

    task: Task
    bundle_dir: Path
    box: sandbox.SandboxSettings


@dataclass(frozen=True)
class Slot:
    """A slot you hold, its task, its verified bundle and how that bundle runs."""

    submission_id: int
    task: Task
    bundle_dir: Path
    box: sandbox.SandboxSettings


def contributor_id(address: str) -> str:
    """The default name of your results: the start of your address."""
    return address[:8]


def bundle_environment(task_id: int, submission_id: int | None, address: str, data: DataSettings,
                       environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a bundle is told: the allow-listed settings found in ``environ`` (default:
    this process's environment: ``DECENTRALML_DATASET``, ``DECENTRALML_MAX_SAMPLES``...),
    then ``data``'s, then the slot's ids. A run started before its slot was taken gets
    an empty submission id (set, so a script under ``set -u`` still runs). Nothing else
    reaches it."""
    environ = os.environ if environ is None else environ
    env = {name: value for name, value in environ.items()
           if name in sandbox.BUNDLE_ENVIRONMENT and value}
    env.update(data.environment())
    env.update({
        "DECENTRALML_TASK_ID": str(task_id),
        "DECENTRALML_SUBMISSION_ID": "" if submission_id is None else str(submission_id),
        "DECENTRALML_CONTRIBUTOR_ID": data.contributor_id or contributor_id(address),
    })
    return env


class Contributor:
    """One signer contributing with one machine's settings and data."""

    def __init__(self, market: Marketplace, settings: RunSettings | None = None,
                 data: DataSettings | None = None):
        self.market = market
        self.settings = settings or RunSettings()
        self.data = data or DataSettings()

    @property
    def address(self) -> str:
        return self.market.chain.address

    def check_machine(self) -> None:
        """See :meth:`RunSettings.check_machine`."""
        self.settings.check_machine()

    def bundle_settings(self, task_id: int, bundle_dir: Path) -> sandbox.SandboxSettings:
        """How a fetched bundle runs, as you allow it. A bundle that cannot run (no
        start_task.sh, a result already in output/, malformed task settings) or asks
        for the network you did not allow is refused (UserInputError), before any slot
        is taken."""
        try:
            sandbox.prepare_bundle_dir(bundle_dir)
            needs = sandbox.task_needs(bundle_dir)
        except sandbox.BundleError as error:
            raise UserInputError(f"task {task_id}'s bundle cannot be run: {error}") from None
        if needs.network and not self.settings.allow_network:
            raise UserInputError(
                f"task {task_id}'s bundle asks for the network ({sandbox.TASK_SETTINGS_FILE}: "
                f"\"{sandbox.NETWORK_SETTING}\": true); pass --allow-network to let it")
        if self.settings.allow_network and not needs.network:
            log.warning("task %d's bundle does not ask for the network: it runs without", task_id)
        return replace(self.settings.sandbox, network=needs.network)

    def take_slot(self, task_id: int, dest: Path, progress: Progress | None = None) -> Slot:
        """Fetch the task's bundle into ``dest`` (a new folder), verify it against its
        on-chain sha256, check it can run here, and only then take a slot. A bundle
        that cannot be had or run costs nothing and leaves nothing behind."""
        checked: dict[str, sandbox.SandboxSettings] = {}

        def check(bundle_dir: Path) -> None:
            checked["box"] = self.bundle_settings(task_id, bundle_dir)

        assignment = self.market.assign_task(task_id, dest, progress=progress, check_bundle=check)
        return Slot(assignment.submission_id, assignment.task, Path(assignment.bundle_dir).resolve(),
                    checked["box"])

    def fetch_bundle(self, task: Task, dest: Path) -> FetchedBundle:
        """Fetch the task's bundle into ``dest`` (a new folder), verify it against its
        on-chain sha256 and check it can run here, taking no slot: a bundle that cannot
        be had or run raises (UserInputError, IntegrityError) and leaves nothing behind."""
        if dest.exists() or dest.is_symlink():
            raise UserInputError(f"{dest} already exists; choose a new folder for the bundle")
        bundle_dir = self.market.download_bundle(task, dest)
        try:
            box = self.bundle_settings(task.task_id, bundle_dir)
        except BaseException:
            shutil.rmtree(bundle_dir, ignore_errors=True)
            raise
        return FetchedBundle(task, Path(bundle_dir).resolve(), box)

    def take_fetched(self, fetched: FetchedBundle) -> Slot:
        """Take a slot in the task of a bundle already fetched and checked."""
        assignment = self.market.assign_task(fetched.task.task_id)
        return Slot(assignment.submission_id, assignment.task, fetched.bundle_dir, fetched.box)

    def held_slot(self, submission_id: int, bundle_dir: Path) -> Slot:
        """A slot you already hold (assigned, nothing sent yet) with its fetched bundle."""
        submission = self.market.get_submission(submission_id)
        if not same_account(submission.contributor, self.address):
            raise UserInputError(f"submission {submission_id} belongs to {submission.contributor}, "
                                 f"not to the signer {self.address}")
        if submission.status is not SubmissionStatus.ASSIGNED:
            raise UserInputError(f"submission {submission_id} is {submission.status.value}; only an "
                                 "assigned slot can take a result")
        task = self.market.get_task(submission.task_id)
        box = self.bundle_settings(task.task_id, bundle_dir)
        return Slot(submission_id, task, Path(bundle_dir).resolve(), box)

    def describe_run(self, slot: Slot | FetchedBundle) -> str:
        """Where and how a slot's (or a fetched) bundle runs, in words."""
        box = slot.box
        how = ("in the sandbox" + (", with network" if box.network else ", no network")
               if box.isolate else "WITHOUT the sandbox: it can read your files and use the network")
        return f"running {sandbox.START_SCRIPT} in {slot.bundle_dir} {how}"

    def train(self, slot: Slot, echo: Callable[[str], None] | None = None,
              args: Iterable[str] = ()) -> sandbox.BundleRun:
        """Run the slot's ``start_task.sh`` (in the sandbox unless its settings say not)
        on your data; its output, escaped, goes to ``echo`` line by line. Sends nothing."""
        return self.run_bundle(slot.task, slot.bundle_dir, slot.box, slot.submission_id, echo, args)

    def run_bundle(self, task: Task, bundle_dir: Path, box: sandbox.SandboxSettings,
                   submission_id: int | None, echo: Callable[[str], None] | None = None,
                   args: Iterable[str] = (), cancel: threading.Event | None = None) -> sandbox.BundleRun:
        """Run a fetched bundle's ``start_task.sh`` for ``submission_id`` (None: before
        its slot is taken, so the bundle is told no submission id); setting ``cancel``
        kills it. Sends nothing."""
        env = bundle_environment(task.task_id, submission_id, self.address, self.data)
        return sandbox.run_bundle(bundle_dir, env, args=tuple(args), settings=box,
                                  echo=echo, secrets=self.settings.secrets, cancel=cancel)

    def result_storage(self, task: Task) -> StorageType:
        return self.settings.result_storage or task.bundle.storage_type

    def send(self, slot: Slot, result_dir: Path, progress: Progress | None = None) -> Submission:
        """Store the result folder (sealed to the creator's key when the task has one),
        commit to it and reveal it. Resumable: run again after a failure and it reuses
        the upload and the commitment recorded in the send journal."""
        return self.market.send_task_result(slot.submission_id, result_path=result_dir,
                                            result_storage_type=self.result_storage(slot.task),
                                            progress=progress)


__all__ = ["Contributor", "DataSettings", "FetchedBundle", "RunSettings", "SABOTAGE_RANDOM_WEIGHTS", "Slot",
           "bundle_environment", "contributor_id"]
