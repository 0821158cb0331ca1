"""The marketplace: one function per action, built on ``chain`` and ``storage``.

A creator packs a folder into a bundle, stores it, and creates a funded task that
records where the bundle is and its sha256. A contributor assigns themself, gets
the bundle verified against that hash before anything is unpacked, trains, and
sends a result that is stored (and verified retrievable) before its location and
hash go on-chain. Nothing secret is ever part of a call.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from . import storage as storage_mod
from .chain import Chain, Event, Receipt, same_account
from .commitment import new_salt, result_commitment
from .errors import ChainError, NotFoundError, UserInputError
from .records import (
    Campaign,
    CampaignRound,
    ContributorRecord,
    CreatorRecord,
    Deadlines,
    Location,
    StorageType,
    Submission,
    SubmissionStatus,
    Task,
    TaskStatus,
    TaskType,
    ValidationStrategy,
    parse_enum,
)
from .sealing import ResultBinding
from .send_journal import SendEntry, SendJournal, folder_fingerprint
from .storage import Progress

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Assignment:
    """A slot a contributor took, and where its verified bundle was unpacked."""

    submission_id: int
    task: Task
    bundle_dir: Path | None


def _hex_text(value: str) -> str:
    """Text for a byte-vector argument, always hex so no text is mistaken for hex."""
    return "0x" + value.encode("utf-8").hex()


def _check_len(name: str, value: str, limit: int) -> None:
    size = len(value.encode("utf-8"))
    if size > limit:
        raise UserInputError(f"{name} is {size} bytes; the chain accepts at most {limit}")


def _stored_location(stored) -> Location:
    return Location(StorageType(stored.storage_type), stored.path, stored.content_hash, stored.size)


class Marketplace:
    """Every marketplace action for one signer on one chain."""

    def __init__(self, chain: Chain, storage_settings: dict | None = None,
                 journal: SendJournal | None = None):
        self.chain = chain
        self.storage_settings = storage_settings or {}
        self._journal = journal
        self._constant_values: dict[str, int] | None = None  # read once, on first use
        self._backends: dict[tuple, object] = {}  # built once (an S3 client costs ~1 s of CPU)

    # The chain's own limits, read from its constants: the client never copies them.

    def limit(self, name: str) -> int:
        """A numeric constant of the pallet (``MaxReasonLen``, ``MaxAssignments``...)."""
        return self._constants()[name]

    def _constants(self) -> dict[str, int]:
        if self._constant_values is not None:
            return self._constant_values
        names = ("MaxQuestionLen", "MaxPathLen", "MaxResultLen", "MaxReasonLen", "MaxAnnotationLen",
                 "MaxAssignments", "MaxTaskDuration", "ResultTimeout", "RevealWindow", "ReviewPeriod",
                 "AppealPeriod", "RemovalDelay", "AssignmentDeposit", "TaskDeposit", "SubmissionDeposit")
        values = {name: int(self.chain.constant(name)) for name in names}
        values["ExistentialDeposit"] = int(self.chain.constant("ExistentialDeposit", module="Balances"))
        self._constant_values = values
        return values

    def deadlines(self) -> Deadlines:
        """The pallet's deadlines (blocks) and deposits."""
        c = self._constants()
        return Deadlines(
            max_task_duration=c["MaxTaskDuration"], result_timeout=c["ResultTimeout"],
            reveal_window=c["RevealWindow"], review_period=c["ReviewPeriod"],
            appeal_period=c["AppealPeriod"], removal_delay=c["RemovalDelay"],
            assignment_deposit=c["AssignmentDeposit"], task_deposit=c["TaskDeposit"],
            submission_deposit=c["SubmissionDeposit"],
        )

    @property
    def journal(self) -> SendJournal:
        if self._journal is None:
            self._journal = SendJournal(self.chain.genesis_hash)
        return self._journal

    @classmethod
    def connect(cls, url: str | None = None, suri: str | None = None, key_file=None,
                need_signer: bool = True, **storage_settings) -> "Marketplace":
        return cls(Chain.from_settings(url, suri, key_file, need_signer), storage_settings)

    def backend(self, storage_type: StorageType | str):
        """The storage backend of ``storage_type``, built on first use and kept as long
        as its settings (and the environment it reads the others from) stay the same."""
        kind = parse_enum(StorageType, storage_type).value
        settings = storage_mod.settings_for(kind, self.storage_settings)
        key = (kind, tuple(sorted((k, str(v)) for k, v in settings.items())),
               hash(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("DECENTRALML_", "AWS_"))))))
        if key not in self._backends:
            self._backends[key] = storage_mod.backend_from_settings(kind, **settings)
        return self._backends[key]

    def prepare_storage(self, *storage_types: StorageType | str) -> None:
        """Build these storage backends' clients now rather than on first use (an S3
        client costs about a second of CPU), so that first use is as quick as the later
        ones. A backend that cannot be built is left for that use to report."""
        for storage_type in storage_types:
            try:
                self.backend(storage_type)
            except Exception as error:  # reported where it is used, with its context
                log.info("the %s storage is not ready yet: %s", storage_type, error)

    # -- creating ------------------------------------------------------------------

    def create_task(
        self,
        *,
        task_type: TaskType | str,
        question: str,
        pays_amount: int,
        max_assignments: int,
        expiration_block: int | None = None,
        expires_in_blocks: int | None = None,
        validation_strategy: ValidationStrategy | str = ValidationStrategy.MANUAL_ACCEPT,
        bundle_path: str | Path | None = None,
        bundle_storage_type: StorageType | str = StorageType.LOCAL,
        bundle_location: Location | None = None,
        result_public_key: bytes | None = None,
        annotation: dict[str, str] | None = None,
        progress: Progress | None = None,
    ) -> Task:
        """Store the bundle folder, then create a task that holds
        ``pays_amount * max_assignments`` in escrow. Returns the task as stored.

        ``bundle_location`` instead of ``bundle_path``: a bundle stored before (e.g. one
        journaled by a campaign, so a resumed run does not upload it again)."""
        receipt = self.chain.submit("create_task", self._task_call(**_arguments(locals())))
        task_id = int(receipt.first("TaskCreated").attributes["task_id"])
        log.info("task %d created in block %d", task_id, receipt.block_number)
        return self.get_task(task_id)

    def create_campaign_task(self, campaign: int | None = None, **task) -> CampaignRound:
        """Create a task as a round of a training campaign: with ``campaign`` None, round 1
        of a new campaign of the signer's; else the next round of that campaign, which
        the signer started and whose latest round's task is closed (or removed). Takes
        :meth:`create_task`'s keyword arguments, with its checks and upload; the campaign
        is checked first, so a round the chain would refuse uploads nothing."""
        arguments = inspect.signature(Marketplace.create_task).bind(self, **task)
        arguments.apply_defaults()
        if campaign is not None:
            self._check_next_round(campaign)
        receipt = self.chain.submit("create_campaign_task", self._campaign_task_params(campaign, arguments))
        return self.created_campaign_round(receipt)

    def next_round_call(self, campaign: int, **task) -> Any:
        """The chain call adding the next round of ``campaign`` (``create_task``'s keyword
        arguments, with its checks and upload), to send in a batch after the call that
        closes the campaign's open round (:meth:`decide_task_results`' ``then``): the chain
        refuses the round while the one before is open, and the whole batch with it."""
        arguments = inspect.signature(Marketplace.create_task).bind(self, **task)
        arguments.apply_defaults()
        return self.chain.call("create_campaign_task", self._campaign_task_params(campaign, arguments))

    def _campaign_task_params(self, campaign: int | None, arguments: inspect.BoundArguments) -> dict:
        """``create_campaign_task``'s parameters from ``create_task``'s bound arguments."""
        return {**self._task_call(**_arguments(arguments.arguments)), "campaign": campaign}

    @staticmethod
    def created_campaign_round(receipt: Receipt) -> CampaignRound:
        """The round a receipt's ``CampaignRoundCreated`` event reports."""
        event = receipt.first("CampaignRoundCreated").attributes
        continues = event.get("continues")
        created = CampaignRound(campaign=int(event["campaign"]), round=int(event["round"]),
                                task_id=int(event["task_id"]),
                                continues=None if continues is None else int(continues))
        log.info("campaign %d round %d: task %d created in block %d", created.campaign,
                 created.round, created.task_id, receipt.block_number)
        return created

    def _check_next_round(self, campaign_id: int) -> None:
        """What the chain checks before it adds a round, said before anything is stored."""
        campaign = self.get_campaign(campaign_id)
        if not same_account(campaign.creator, self.chain.address):
            raise UserInputError(
                f"campaign {campaign_id} was started by {campaign.creator}; only that account may "
                f"add rounds to it, not the signer {self.chain.address}")
        try:
            latest = self.get_task(campaign.latest_task)
        except NotFoundError:
            return  # removed, so settled
        if latest.status is TaskStatus.OPEN:
            raise UserInputError(
                f"campaign {campaign_id}'s round {campaign.rounds} (task {latest.task_id}) is still "
                "open; close it first, then start the next round from its results")

    def _task_call(self, *, task_type, question, pays_amount, max_assignments, expiration_block,
                   expires_in_blocks, validation_strategy, bundle_path, bundle_storage_type,
                   bundle_location, result_public_key, annotation, progress) -> dict:
        """The checks and upload of :meth:`create_task` (and :meth:`create_campaign_task`);
        returns the arguments of the chain call."""
        task_type = parse_enum(TaskType, task_type)
        strategy = parse_enum(ValidationStrategy, validation_strategy)
        question = question.strip()
        # Every bound the chain enforces is checked before the upload, so bad input
        # costs nothing and leaves nothing behind.
        if not question:
            raise UserInputError("the question (task description) is empty")
        _check_len("the question", question, self.limit("MaxQuestionLen"))
        for field in ("annotation_type", "class_labels") if annotation is not None else ():
            _check_len(f"the annotation's {field}", annotation.get(field, ""),
                       self.limit("MaxAnnotationLen"))
        minimum = self.limit("ExistentialDeposit")
        if pays_amount < minimum:
            raise UserInputError(
                f"pays_amount {pays_amount} is below the chain's existential deposit ({minimum}): "
                "a payment that small could not be made to a new account")
        if max_assignments <= 0:
            raise UserInputError("max_assignments must be at least 1")
        if max_assignments > self.limit("MaxAssignments"):
            raise UserInputError(f"max_assignments {max_assignments} is more than the chain allows "
                                 f"({self.limit('MaxAssignments')})")
        if result_public_key is not None and len(result_public_key) != 32:
            raise UserInputError("the result public key must be 32 bytes (X25519)")
        expiration_block = self._expiration(expiration_block, expires_in_blocks)
        if (bundle_path is None) == (bundle_location is None):
            raise UserInputError("give the bundle either as a folder to store or as a location "
                                 "stored before, not both or neither")
        folder = None if bundle_path is None else Path(bundle_path).expanduser()
        if folder is not None and not folder.is_dir():
            raise UserInputError(f"bundle folder {folder} does not exist or is not a folder")
        self._check_affordable(pays_amount * max_assignments + self.limit("TaskDeposit"))

        if folder is None:
            bundle = bundle_location
        else:
            log.info("storing bundle %s on %s", folder, parse_enum(StorageType, bundle_storage_type).value)
            stored = storage_mod.upload_folder(self.backend(bundle_storage_type), folder, progress=progress)
            bundle = _stored_location(stored)
        return {
            "task_type": task_type.value,
            "question": _hex_text(question),
            "pays_amount": pays_amount,
            "max_assignments": max_assignments,
            "expiration_block": expiration_block,
            "validation_strategy": strategy.value,
            "bundle": bundle.to_chain(),
            "result_public_key": None if result_public_key is None else "0x" + result_public_key.hex(),
            "annotation": None if annotation is None else {
                "annotation_type": _hex_text(annotation.get("annotation_type", "")),
                "class_labels": _hex_text(annotation.get("class_labels", "")),
            },
        }

    # The seed's names, kept as thin aliases of :meth:`create_task` for one task type
    # each: they take its keyword arguments, with the bundle folder under the seed's name.

    def create_task_model_contributor(
        self, *, model_contributor_script_path: str | Path,
        model_contributor_script_storage_type: StorageType | str = StorageType.LOCAL, **task,
    ) -> Task:
        """:meth:`create_task` of a task that pays contributors to train the bundled model
        on their own data (the bundle: ``model_contributor_script_path``)."""
        return self.create_task(task_type=TaskType.MODEL_CONTRIBUTOR, bundle_path=model_contributor_script_path,
                                bundle_storage_type=model_contributor_script_storage_type, **task)

    def create_task_data_annotator(
        self, *, annotation_files_path: str | Path, annotation_type: str, class_labels: str,
        annotation_files_storage_type: StorageType | str = StorageType.LOCAL, **task,
    ) -> Task:
        """:meth:`create_task` of a task that pays annotators to label the bundled samples
        (the bundle: ``annotation_files_path``)."""
        return self.create_task(task_type=TaskType.DATA_ANNOTATOR, bundle_path=annotation_files_path,
                                bundle_storage_type=annotation_files_storage_type,
                                annotation={"annotation_type": annotation_type, "class_labels": class_labels},
                                **task)

    def create_task_model_engineer(
        self, *, model_engineer_path: str | Path,
        model_engineer_storage_type: StorageType | str = StorageType.LOCAL, **task,
    ) -> Task:
        """:meth:`create_task` of a task that pays engineers to improve the bundled model
        (the bundle: ``model_engineer_path``)."""
        return self.create_task(task_type=TaskType.MODEL_ENGINEER, bundle_path=model_engineer_path,
                                bundle_storage_type=model_engineer_storage_type, **task)

    def _expiration(self, expiration_block: int | None, expires_in_blocks: int | None) -> int:
        now = self.chain.block_number()
        if expiration_block is None:
            expiration_block = now + (expires_in_blocks if expires_in_blocks is not None else 1000)
        # The creating transaction itself lands in the next block.
        if expiration_block <= now + 1:
            raise UserInputError(
                f"expiration block {expiration_block} is too soon: the chain is at block {now}, "
                "and the task is created in the next one"
            )
        longest = self.limit("MaxTaskDuration")
        if expiration_block > now + longest:
            raise UserInputError(
                f"expiration block {expiration_block} is too far: the chain is at block {now} and "
                f"a task may last at most {longest} blocks"
            )
        return expiration_block

    def _check_affordable(self, escrow: int) -> None:
        free = self.chain.free_balance(self.chain.address)
        if free < escrow:
            # The pallet would refuse too; saying so before uploading saves the upload.
            raise UserInputError(
                f"the escrow and deposit ({escrow}) are more than the creator's free balance ({free})"
            )

    # -- contributing --------------------------------------------------------------

    def assign_task(self, task_id: int, dest_dir: str | Path | None = None,
                    progress: Progress | None = None,
                    check_bundle: Callable[[Path], None] | None = None) -> Assignment:
        """Take a slot in a task; with ``dest_dir``, first download the task's bundle,
        verify it against the on-chain hash, unpack it there and pass it to
        ``check_bundle`` (which raises to refuse it), so a bundle that cannot be had or
        used never costs a slot (or its deposit); a refused bundle is removed. The slot
        holds the chain's assignment and storage deposits from the signer until the
        result is revealed."""
        task = self.get_task(task_id)
        if dest_dir is not None and (Path(dest_dir).exists() or Path(dest_dir).is_symlink()):
            raise UserInputError(f"{dest_dir} already exists; choose a new folder for the bundle")
        bundle_dir = None
        if dest_dir is not None:
            bundle_dir = self.download_bundle(task, dest_dir, progress=progress)
        try:
            if check_bundle is not None and bundle_dir is not None:
                check_bundle(bundle_dir)
            receipt = self.chain.submit("assign_task", {"task_id": task_id})
        except BaseException:
            if bundle_dir is not None:
                shutil.rmtree(bundle_dir, ignore_errors=True)
            raise
        submission_id = int(receipt.first("TaskAssigned").attributes["submission_id"])
        return Assignment(submission_id, task, bundle_dir)

    def download_bundle(self, task: Task, dest_dir: str | Path, progress: Progress | None = None) -> Path:
        """Fetch a task's bundle, check its size and hash against the chain, unpack it."""
        bundle = task.bundle
        return storage_mod.download_folder(
            self.backend(bundle.storage_type), bundle.path, bundle.content_hash,
            Path(dest_dir).expanduser(), progress=progress, expected_size=bundle.size,
        )

    def result_binding(self, submission: Submission) -> ResultBinding:
        """What a sealed result of ``submission`` must be bound to: this chain, its task,
        its id and its contributor."""
        return ResultBinding.for_submission(self.chain.genesis_hash, submission.task_id,
                                            submission.submission_id, submission.contributor)

    def send_task_result(
        self, submission_id: int, result: str = "", result_path: str | Path | None = None,
        result_storage_type: StorageType | str = StorageType.LOCAL, progress: Progress | None = None,
    ) -> Submission:
        """Send a result: store the folder (sealed to the creator's key when the task has
        one), commit to it on chain, then reveal it.

        The commitment binds the slot to the result before anyone can see where it is,
        so the creator cannot free the slot and keep the result. Each step is recorded in
        the send journal first: run again after a failure and it resumes, reusing the
        upload and the commitment instead of storing twice.
        """
        _check_len("the result text", result, self.limit("MaxResultLen"))
        if not result and result_path is None:
            raise UserInputError("send a result text, a result path, or both")
        submission = self.get_submission(submission_id)
        if not same_account(submission.contributor, self.chain.address):
            raise UserInputError(
                f"submission {submission_id} belongs to {submission.contributor}, "
                f"not to the signer {self.chain.address}"
            )
        entry = self.journal.get(submission_id)
        if submission.status is SubmissionStatus.COMMITTED:
            if entry is None or entry.commitment != submission.commitment:
                raise UserInputError(
                    f"submission {submission_id} has a commitment on chain that this machine has no "
                    "record of, so it cannot be revealed from here; after the reveal window the slot "
                    "times out and its deposit goes to the creator"
                )
            log.info("submission %d: resuming the reveal of its committed result", submission_id)
        elif submission.status is SubmissionStatus.ASSIGNED:
            entry = self._commit(submission, result, result_path, result_storage_type, entry, progress)
        else:
            raise UserInputError(
                f"submission {submission_id} is {submission.status.value}; a result can only be "
                "sent once, for an assigned slot"
            )
        self.chain.submit("reveal_task_result", {
            "submission_id": submission_id,
            "result": _hex_text(entry.result),
            "result_location": None if entry.location is None else entry.location.to_chain(),
            "salt": "0x" + entry.salt.hex(),
        })
        self.journal.remove(submission_id)
        return self.get_submission(submission_id)

    def _commit(self, submission: Submission, result: str, result_path, storage_type,
                entry: SendEntry | None, progress: Progress | None) -> SendEntry:
        """Store the result (or reuse this submission's earlier upload of the same folder)
        and put the commitment to it on chain."""
        location, source = None, ""
        if result_path is not None:
            folder = Path(result_path).expanduser()
            if not folder.is_dir():
                raise UserInputError(f"result folder {folder} does not exist or is not a folder")
            source = folder_fingerprint(folder)
            backend = self.backend(storage_type)
            if (entry is not None and entry.location is not None and entry.source == source
                    and entry.location.storage_type.value == backend.storage_type
                    and backend.exists(entry.location.path)):
                log.info("submission %d: reusing the earlier upload %s", submission.submission_id,
                         entry.location.path)
                location = entry.location
            else:
                task = self.get_task(submission.task_id)
                sealed = task.result_public_key is not None
                # A sealed result carries the submission it is for, signed by the
                # contributor: copied into another slot, task or chain, it is refused.
                stored = storage_mod.upload_folder(
                    backend, folder, seal_to=task.result_public_key, progress=progress,
                    binding=self.result_binding(submission) if sealed else None,
                    signer=self.chain.keypair if sealed else None)
                location = _stored_location(stored)
        salt = new_salt()
        commitment = result_commitment(self.chain.address, submission.submission_id, result,
                                       location, salt)
        entry = SendEntry(submission.submission_id, location, source, result, salt, commitment)
        # Saved before the commit goes out: a commitment whose salt is lost can never be revealed.
        self.journal.save(entry)
        self.chain.submit("commit_task_result", {
            "submission_id": submission.submission_id, "commitment": "0x" + commitment.hex()})
        return entry

    # -- reading -------------------------------------------------------------------

    def get_task(self, task_id: int) -> Task:
        value = self.chain.query("Tasks", [task_id])
        if value is None:
            raise NotFoundError("DecentralML", "TaskNotFound", f"no task has id {task_id}")
        return Task.from_chain(task_id, value)

    def get_submission(self, submission_id: int) -> Submission:
        value = self.chain.query("Submissions", [submission_id])
        if value is None:
            raise NotFoundError(
                "DecentralML", "SubmissionNotFound", f"no submission has id {submission_id}"
            )
        return Submission.from_chain(submission_id, value)

    def list_tasks(self, status: TaskStatus | str | None = None,
                   creator: str | None = None) -> list[Task]:
        """Tasks, filtered by status and/or creator, read through the pallet's indexes."""
        status = None if status is None else parse_enum(TaskStatus, status)
        if creator is not None:
            ids = self.chain.map_keys("TasksByCreator", [creator])
        elif status is TaskStatus.OPEN:
            ids = self.chain.map_keys("OpenTasks")
        else:
            tasks = [Task.from_chain(k, v) for k, v in self.chain.query_map("Tasks")]
            return sorted((t for t in tasks if status is None or t.status is status),
                          key=lambda t: t.task_id)
        ids = sorted(int(i) for i in ids)
        tasks = [Task.from_chain(i, v) for i, v in zip(ids, self.chain.query_many("Tasks", ids)) if v is not None]
        return sorted((t for t in tasks if status is None or t.status is status),
                      key=lambda t: t.task_id)

    def get_campaign(self, campaign_id: int) -> Campaign:
        value = self.chain.query("Campaigns", [campaign_id])
        if value is None:
            raise NotFoundError("DecentralML", "CampaignNotFound", f"no campaign has id {campaign_id}")
        return Campaign.from_chain(campaign_id, value)

    def campaign_rounds(self, campaign_id: int) -> list[tuple[int, int]]:
        """``[(round, task_id), ...]`` of a campaign, by round; a removed task's round stays."""
        self.get_campaign(campaign_id)
        return sorted((int(k), int(v)) for k, v in
                      self.chain.query_map("CampaignRounds", [campaign_id]))

    def list_campaigns(self, creator: str | None = None) -> list[Campaign]:
        """Every campaign (or those ``creator`` started), by id."""
        campaigns = [Campaign.from_chain(k, v) for k, v in self.chain.query_map("Campaigns")]
        return sorted((c for c in campaigns if creator is None or same_account(c.creator, creator)),
                      key=lambda c: c.campaign_id)

    def list_task_results(self, task_id: int, status: SubmissionStatus | str | None = None
                          ) -> list[Submission]:
        """The submissions of a task (optionally of one status), oldest first: two
        requests, the task's submission ids and then their records."""
        status = None if status is None else parse_enum(SubmissionStatus, status)
        subs = self._submissions(int(k) for k in self.chain.map_keys("TaskSubmissions", [task_id]))
        if not subs:
            self.get_task(task_id)  # no task, or none taken yet
        return [s for s in subs if status is None or s.status is status]

    def list_contributor_submissions(self, contributor: str | None = None) -> list[Submission]:
        contributor = contributor or self.chain.address
        return self._submissions(int(k) for k in self.chain.map_keys("ContributorSubmissions", [contributor]))

    def _submissions(self, ids: Iterable[int]) -> list[Submission]:
        """The submissions with these ids, oldest first, read in one request (a campaign's
        creator lists a task's results at every block while she waits: one read per
        result there would grow with the square of the contributors)."""
        ids = sorted(set(ids))
        values = self.chain.query_many("Submissions", ids)
        return [Submission.from_chain(i, v) for i, v in zip(ids, values) if v is not None]

    def download_task_result(self, submission_id: int, dest_dir: str | Path,
                             private_key: bytes | None = None, progress: Progress | None = None) -> Path:
        """Fetch a result folder, check its size and hash against the chain, open it and
        unpack it. For a task with a result key the result must be sealed and bound,
        by its contributor's signature, to this submission on this chain; anything else
        (an unsealed result, one copied from another slot, task or chain) is refused."""
        submission = self.get_submission(submission_id)
        location = submission.result_location
        if location is None:
            raise UserInputError(f"submission {submission_id} has no stored result")
        task = self.get_task(submission.task_id)
        binding = self.result_binding(submission) if task.result_public_key is not None else None
        return storage_mod.download_folder(
            self.backend(location.storage_type), location.path, location.content_hash,
            Path(dest_dir).expanduser(), private_key=private_key, progress=progress,
            expected_size=location.size, expected_binding=binding,
        )

    def balance(self, address: str | None = None) -> dict[str, int]:
        return self.chain.account_data(address or self.chain.address)

    def creator_record(self, address: str) -> CreatorRecord:
        """What the chain counts of a creator: tasks, results accepted and rejected, paid."""
        return CreatorRecord.from_chain(address, self.chain.query("CreatorStats", [address]))

    def contributor_record(self, address: str | None = None) -> ContributorRecord:
        """What the chain counts of a contributor: slots, reveals, accepted, rejected, timed out."""
        address = address or self.chain.address
        return ContributorRecord.from_chain(address, self.chain.query("ContributorStats", [address]))

    # -- deciding ------------------------------------------------------------------

    def accept_task_result(self, submission_id: int) -> Receipt:
        """Accept a pending result; the chain pays its reward from escrow."""
        return self.chain.submit("accept_task_result", {"submission_id": submission_id})

    def reject_task_result(self, submission_id: int, reason: str) -> Receipt:
        """Reject a revealed result within its review period; nothing is paid. The
        contributor may appeal until the appeal period ends."""
        reason = reason.strip() or "rejected by the creator"
        _check_len("the reason", reason, self.limit("MaxReasonLen"))
        return self.chain.submit(
            "reject_task_result", {"submission_id": submission_id, "reason": _hex_text(reason)}
        )

    def decide_task_results(self, accept: Iterable[int] = (), reject: dict[int, str] | None = None,
                            close_task: int | None = None, then: Iterable[Any] = ()) -> Receipt | None:
        """Accept and reject many results in one atomic ``batch_all`` transaction; with
        ``close_task``, that task is closed in the same transaction, after the decisions,
        and the calls of ``then`` follow (all or nothing: a close or a later call the chain
        refuses leaves every decision undone too). The close is ``close_judged_task``: a
        result revealed after the caller looked (still pending after these decisions)
        makes the chain refuse the batch with ``ResultsPending`` instead of paying it."""
        calls = [self.chain.call("accept_task_result", {"submission_id": sid}) for sid in accept]
        for sid, reason in (reject or {}).items():
            reason = reason.strip() or "rejected by the creator"
            _check_len("the reason", reason, self.limit("MaxReasonLen"))
            calls.append(self.chain.call(
                "reject_task_result", {"submission_id": sid, "reason": _hex_text(reason)}))
        if close_task is not None:
            calls.append(self.chain.call("close_judged_task", {"task_id": close_task}))
        calls.extend(then)
        if not calls:
            return None
        return self.chain.submit_batch(calls)

    def close_task(self, task_id: int, pay_pending: bool = False) -> Receipt:
        """Settle a task: the rest of the escrow returned; rewards of rejections that may
        still be appealed stay held until they are final. A result still pending (revealed,
        not decided) when the close lands makes the chain refuse it (``ResultsPending``:
        decide it first), so a result revealed after the caller looked is never paid
        unjudged; with ``pay_pending`` the close pays every pending result instead."""
        return self.chain.submit("close_task" if pay_pending else "close_judged_task", {"task_id": task_id})

    # -- deadlines and disputes ----------------------------------------------------

    def time_out_slot(self, submission_id: int) -> Receipt:
        """Free a slot whose contributor committed nothing within the result timeout (or
        did not reveal within the reveal window). Anyone may; the slot's assignment
        deposit goes to the creator and the slot opens again."""
        return self.chain.submit("time_out_slot", {"submission_id": submission_id})

    def release_slot(self, submission_id: int) -> Receipt:
        """Give up the signer's slot before committing a result: the storage deposit comes
        back, the assignment deposit goes to the creator, the slot opens again. Counted
        as a release, not a time-out, in the contributor's record (past the slot's
        result timeout it is a time-out)."""
        return self.chain.submit("release_slot", {"submission_id": submission_id})

    def claim_reward(self, submission_id: int) -> Receipt:
        """Get a result paid whose review period passed without a decision (or retry a
        payment that failed). Anyone may; the reward goes to the contributor."""
        return self.chain.submit("claim_reward", {"submission_id": submission_id})

    def appeal_rejection(self, submission_id: int) -> Receipt:
        """The contributor of a rejected result asks the arbiter to decide."""
        return self.chain.submit("appeal_rejection", {"submission_id": submission_id})

    def release_rejection(self, submission_id: int) -> Receipt:
        """Make a rejection final once its appeal period passed unappealed: the slot opens
        again (or, on a closed task, its reward returns to the creator). Anyone may."""
        return self.chain.submit("release_rejection", {"submission_id": submission_id})

    def arbitrate(self, submission_id: int, overturn: bool) -> Receipt:
        """Decide an appeal: overturn pays the contributor, uphold makes the rejection
        final. Needs the arbiter origin; on the dev chain that is Root, reached through
        Sudo with the sudo key as signer."""
        return self.chain.submit_as_root(
            "arbitrate", {"submission_id": submission_id, "overturn": overturn})

    def remove_task(self, task_id: int) -> Receipt:
        """Remove a closed task and its records once the removal delay passed, returning
        the storage deposits to whoever paid them. Anyone may."""
        return self.chain.submit("remove_task", {"task_id": task_id})

    # -- waiting -------------------------------------------------------------------

    def wait_for_results(self, task_id: int, count: int,
                         on_result: Callable[[Event], None] | None = None) -> list[Submission]:
        """Block until ``count`` results of the task have been revealed (counting those
        already there), following new blocks by subscription."""
        def done() -> bool:
            return self._sent_count(task_id) >= count

        if not done():
            def handler(event: Event, block_number: int) -> bool:
                if event.module == "DecentralML" and event.name == "ResultRevealed" \
                        and int(event.attributes["task_id"]) == task_id:
                    if on_result:
                        on_result(event)
                    return done()
                return False
            self.chain.watch_events(handler, idle=done)
        return self.list_task_results(task_id)

    def _sent_count(self, task_id: int) -> int:
        return sum(1 for s in self.list_task_results(task_id) if s.submitted_at is not None)


def _arguments(values: dict) -> dict:
    """A method's arguments as passed on: its ``locals()`` (or bound arguments) but self."""
    return {name: value for name, value in values.items() if name != "self"}


__all__ = ["Assignment", "Marketplace", "ChainError"]
