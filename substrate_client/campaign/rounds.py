"""The creator's side of a campaign: round after round, resumable at any point.

Each round::

    round bundle (the model of the round before) -> upload, journaled
    -> the round's task on chain (create_campaign_task)
    -> collect: judge results as they arrive, free silent slots, until min_results are
       accepted or the deadline (extended once)
    -> every decision in one atomic batch, the task's close in it when nothing can still
       arrive; meanwhile, federate the accepted results with the policy stepped by the
       server optimizer (its state saved per round) and evaluate the federated model on
       the creator's held-out data -> close the task (unless the batch did)

and the campaign stops after its last round, at the target accuracy, after
``patience`` rounds without improvement, or when a round ends short of results.

When the batch closes the task and the campaign goes on, the accepted results are
federated before it, the next round's bundle is uploaded, and the next round's task is
created in the same batch, after the close: one block fewer between two rounds' training.

Each step is recorded in the journal once done, and each is found again on chain
when the kill came after the step but before the record: a resumed campaign creates
no task twice, decides and pays no result twice, federates every accepted result and
reuses its uploads. TensorFlow, the creator's model and her held-out data are loaded
once per process and serve every round.
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import storage as storage_mod
from .. import validation
from ..chain import same_account
from ..errors import DecentralMLError, PalletError, UserInputError
from ..records import StorageType, SubmissionStatus, TaskStatus
from .collect import (RoundValidator, next_due_block, time_out_silent_slots, wait_for_next_block,
                      wait_for_task_change)
from .journal import CampaignJournal, Phase, RoundRecord
from .model_state import RoundFiles, load_weights, save_weights
from .plan import CampaignPlan, resolved
from .round_bundle import build_round_bundle
from .round_task import (check_affordable, create_round_task, find_round_task, location_from_json,
                         next_round_task_call)
from .status import summarize
from .summary import CampaignSummary

__all__ = ["run_campaign", "resume_campaign", "CampaignError"]

log = logging.getLogger(__name__)

Report = Callable[[str], None]


class CampaignError(DecentralMLError):
    """The campaign cannot go on (a step failed in a way a resume would not mend)."""


@dataclass
class _Federated:
    """A round's federation, computed and saved, not journaled yet."""

    accepted: list[int]   # the submissions federated
    accuracy: float       # the federated model's held-out accuracy
    policy: str


def run_campaign(market, plan: CampaignPlan, journal_dir: Path | None = None,
                 report: Report = log.info) -> CampaignSummary:
    """Run a new campaign of ``plan`` as its creator, ``market``'s signer; return its summary.

    The plan is checked first (UserInputError naming the problem, nothing created).
    ``journal_dir`` holds the campaign's journal and files (default
    ``<state dir>/campaigns``); ``report`` gets one line per step. The first line names
    the journal key to resume with if the process dies before the chain gives the
    campaign its id.
    """
    plan = resolved(plan.check())
    plan.check_against_chain(market)
    check_affordable(market, plan)
    runner = _Campaign(market, plan, report)  # loads the hook, the model and the data: before anything is created
    journal = CampaignJournal.new(journal_dir, market.chain.genesis_hash, plan)
    journal.data["creator"] = market.chain.address
    journal.save()
    report(f"campaign journal {journal.key} ({journal.path})")
    return runner.run(journal)


def resume_campaign(market, campaign_id: int | str, journal_dir: Path | None = None,
                    report: Report = log.info) -> CampaignSummary:
    """Continue campaign ``campaign_id`` (its id, or the ``new-...`` key a start printed)
    from the chain, the storage and this machine's journal of it."""
    journal = CampaignJournal.open(journal_dir, market.chain.genesis_hash, campaign_id)
    creator = journal.data.get("creator")
    if creator and not same_account(creator, market.chain.address):
        raise UserInputError(f"campaign {campaign_id} is {creator}'s; the signer is {market.chain.address}")
    if journal.data.get("finished"):
        report(f"campaign {campaign_id} already ended: {journal.data['finished']}")
        return _summary(market, journal)
    report(f"resuming campaign {journal.campaign if journal.campaign is not None else journal.key} "
           f"({journal.path})")
    return _Campaign(market, journal.plan, report).run(journal)


def _summary(market, journal: CampaignJournal) -> CampaignSummary:
    summary = CampaignSummary(campaign=journal.campaign, journal=str(journal.path),
                              rounds_planned=journal.plan.rounds)
    return summarize(market, journal.campaign, journal, summary)


class _Campaign:
    """One process running (or resuming) a campaign: TensorFlow, the creator's model,
    her held-out data and her hook are loaded once, here."""

    def __init__(self, market, plan: CampaignPlan, report: Report):
        from .. import keys
        from ..federation import load_creator_model
        from ..federation.weights import model_variables
        from ..tensorflow_setup import load_tensorflow

        self.market = market
        self.plan = plan
        self.report = report
        self.strategy = (validation.CustomAccept(plan.hook) if plan.hook else validation.AutoAccept())
        self.evaluator = validation.creator_evaluator(plan.creator_dir)
        self.private_key = keys.load_private_key(plan.result_key_file) if plan.result_key_file else None
        self.public_key = _public_key(self.private_key)
        load_tensorflow()
        try:
            self.model = load_creator_model(Path(plan.bundle) / "model")
        except DecentralMLError as error:
            raise UserInputError(f"the bundle's initial model: {error}") from None
        # Every round's results are restored into this one model; the creator's evaluation of
        # it is checked once, not once a round.
        self.creator_model = validation.CreatorModel(self.model)
        # the model weights federation combines, by checkpoint key (no optimizer state or counters)
        self.initial_weights = {k: v.numpy() for k, v in model_variables(self.model).items()}
        try:  # the creator's own evaluation must work before anything is created
            self.initial_accuracy = float(self.evaluator(self.model)["accuracy"])
        except Exception as error:
            raise UserInputError(f"evaluating the initial model on the held-out data of {plan.creator_dir} "
                                 f"failed: {type(error).__name__}: {error}") from None
        market.chain.prepare_signing()  # its first round's task goes out as fast as the others'
        # Results may come on any storage: its clients are built now, not when round 1's
        # first result arrives.
        market.prepare_storage(plan.bundle_storage, StorageType.IPFS, StorageType.S3)
        self.journal: CampaignJournal | None = None
        # (round, CampaignRound): a round's task created in the batch of the round before
        self.chained = None

    # ------------------------------------------------------------------ the campaign

    def run(self, journal: CampaignJournal) -> CampaignSummary:
        self.journal = journal
        if journal.data.get("initial_accuracy") is None:
            journal.data["initial_accuracy"] = self.initial_accuracy
            journal.save()
            self.report(f"initial model: held-out accuracy {journal.data['initial_accuracy']:.4f}")
        reason = None
        for number in range(1, self.plan.rounds + 1):
            record = journal.round(number)
            if record.phase != Phase.CLOSED:
                self._round(record)
            reason = self._stop_reason(number)
            if reason:
                break
        journal.finish(reason or f"all {self.plan.rounds} rounds done")
        self.report(f"campaign {journal.campaign} ended: {journal.data['finished']}")
        return _summary(self.market, journal)

    def _stop_reason(self, number: int, current: RoundRecord | None = None) -> str | None:
        """Why the campaign stops after round ``number`` (from the journal: the same
        answer after a resume; with ``current``, round ``number`` as it would be recorded),
        or None."""
        records = [self.journal.round(n) for n in range(1, number)] + [current or self.journal.round(number)]
        last = records[-1]
        if last.stopped:
            return last.stopped
        plan = self.plan
        if plan.target_accuracy is not None and last.federated_accuracy is not None \
                and last.federated_accuracy >= plan.target_accuracy:
            return (f"target accuracy {plan.target_accuracy:.4f} reached in round {number} "
                    f"({last.federated_accuracy:.4f})")
        if plan.patience is not None:
            best, since = self.journal.data.get("initial_accuracy"), 0
            for record in records:
                score = record.federated_accuracy
                if score is not None and (best is None or score > best):
                    best, since = score, 0
                else:
                    since += 1
            if since >= plan.patience:
                return f"no improvement on held-out accuracy {best:.4f} for {since} round(s) (patience {plan.patience})"
        return None

    def _say(self, record: RoundRecord, text: str) -> None:
        self.report(f"round {record.round}/{self.plan.rounds}: {text}")

    def _round(self, record: RoundRecord) -> None:
        files = RoundFiles(self.journal.work, record.round)
        started = time.perf_counter()
        waited = 0.0
        if record.phase == Phase.UPLOADED and self._bundle_outdated(record):
            self._say(record, f"the bundle uploaded before ({record.bundle['path']}) carries a model "
                              f"federated from other results than round {record.round - 1}'s; uploading "
                              "the round's bundle again")
            record.phase = None
        uploaded_here = not Phase.reached(record.phase, Phase.UPLOADED)
        if uploaded_here:
            self._upload(record, files, self._previous_accepted(record.round))
        chained, self.chained = self.chained, None
        if not Phase.reached(record.phase, Phase.CREATED):
            if chained is not None and chained[0] == record.round:
                self._created(record, chained[1].campaign, chained[1].task_id)
            else:
                self._create(record, files, uploaded_here)
        if not Phase.reached(record.phase, Phase.DECIDED):
            waited = self._collect_and_decide(record, files)
        if record.stopped is None and not Phase.reached(record.phase, Phase.FEDERATED):
            self._federate(record, files)
        if not Phase.reached(record.phase, Phase.CLOSED):
            self._close(record, files)
        record.training_wait += waited
        record.busy += time.perf_counter() - started - waited
        self.journal.record(record)

    # ------------------------------------------------------------------ 1. the round bundle

    def _previous_model(self, number: int) -> Path:
        if number == 1:
            return Path(self.plan.bundle) / "model"
        return RoundFiles(self.journal.work, number - 1).federated_model

    def _previous_accepted(self, number: int) -> list[int] | None:
        """The results of round ``number - 1`` its federated model was made from (None for round 1)."""
        return None if number == 1 else sorted(self.journal.round(number - 1).accepted)

    def _bundle_outdated(self, record: RoundRecord) -> bool:
        """Whether the round's uploaded bundle carries a model federated from other results
        than the round before's: uploaded ahead of that round's decisions, by a process
        killed before they landed, and the round then ended with other results."""
        before = self.journal.round(record.round - 1) if record.round > 1 else None
        return (before is not None and Phase.reached(before.phase, Phase.FEDERATED)
                and record.bundle_source is not None and sorted(record.bundle_source) != sorted(before.accepted))

    def _upload(self, record: RoundRecord, files: RoundFiles, source: list[int] | None,
                said_in: RoundRecord | None = None) -> None:
        """Build and store the round's bundle from the round before's federated model (made
        from its results ``source``); said as a step of round ``said_in`` when given."""
        build_round_bundle(Path(self.plan.bundle), self._previous_model(record.round), files.bundle,
                           campaign=self.journal.campaign, round_number=record.round,
                           privacy=None if self.plan.privacy is None else self.plan.privacy.task_settings())
        backend = self.market.backend(self.plan.bundle_storage)
        stored = storage_mod.upload_folder(backend, files.bundle)
        record.bundle = {"storage_type": stored.storage_type, "path": stored.path,
                         "content_hash": stored.content_hash.hex(), "size": stored.size}
        record.bundle_source = source
        record.phase = Phase.UPLOADED
        self.journal.record(record)
        if said_in is None:
            self._say(record, f"bundle uploaded to {stored.storage_type} {stored.path}")
        else:
            self._say(said_in, f"round {record.round}'s bundle uploaded to {stored.storage_type} {stored.path}")

    # ------------------------------------------------------------------ 2. the task

    def _create(self, record: RoundRecord, files: RoundFiles, uploaded_here: bool = False) -> None:
        """The round's task, created unless an earlier process did (after a kill). A bundle
        this process has just uploaded can have no task yet, and is in the store."""
        bundle = location_from_json(record.bundle)
        found = None if uploaded_here else find_round_task(self.market, self.journal.campaign, record.round, bundle)
        if found is not None:
            campaign, task_id = found
            self._say(record, f"task {task_id} had been created before the interruption")
        else:
            backend = self.market.backend(bundle.storage_type)
            if not uploaded_here and not backend.exists(bundle.path):  # the store lost it: upload again
                self._say(record, f"the uploaded bundle {bundle.path} is gone; uploading it again")
                self._upload(record, files, self._previous_accepted(record.round))
                bundle = location_from_json(record.bundle)
            created = create_round_task(self.market, self.plan, self.journal.campaign, bundle, self.public_key)
            campaign, task_id = created.campaign, created.task_id
        self._created(record, campaign, task_id)

    def _created(self, record: RoundRecord, campaign: int, task_id: int) -> None:
        """Record the round's task ``task_id`` of ``campaign``, now on chain."""
        if self.journal.campaign is None:
            self.journal.set_campaign(campaign)
            self.report(f"campaign {campaign} (journal {self.journal.path})")
        task = self.market.get_task(task_id)
        record.task_id = task_id
        record.created_block = task.created_at
        record.deadline = task.created_at + self.plan.round_blocks
        record.phase = Phase.CREATED
        self.journal.record(record)
        self._say(record, f"task {task_id} created: {self.plan.slots} slot(s) at {self.plan.reward} each, "
                          f"deadline block {record.deadline}")

    # ------------------------------------------------------------------ 3. collect, decide

    def _validator(self, record: RoundRecord, files: RoundFiles) -> RoundValidator:
        def on_review(review) -> None:
            record.reviews[str(review.submission_id)] = _review_json(review)
            accuracy = review.metrics.get("accuracy")
            shown = "-" if accuracy is None else f"{accuracy:.4f}"
            self._say(record, f"result {review.submission_id}: accuracy {shown} -> {review.verdict} "
                              f"({validation.clean_reason(review.reason, 200)})")

        return RoundValidator(self.market, record.task_id, self.strategy, work_dir=files.results,
                              creator_model=self.creator_model,
                              private_key=self.private_key, evaluator=self.evaluator, on_review=on_review)

    def _collect_and_decide(self, record: RoundRecord, files: RoundFiles) -> float:
        """Collect until the round ends, then submit its decisions; the seconds spent waiting."""
        plan, market = self.plan, self.market
        judge = self._validator(record, files)
        waited = 0.0
        self._say(record, f"collecting: {plan.min_results} accepted result(s) needed")
        shown = None
        while True:
            # The height first: a result revealed while the others are judged lands in a
            # later block, which the wait below then returns for at once.
            now = market.chain.block_number()
            subs = market.list_task_results(record.task_id)
            pending = {s.submission_id for s in subs if s.status is SubmissionStatus.PENDING}
            if judge.judge_new(subs):
                self.journal.record(record)
            accepted = sum(1 for s in subs if s.status is SubmissionStatus.ACCEPTED) + judge.accepted_pending(pending)
            if accepted != shown:
                self._say(record, f"{accepted}/{plan.min_results} accepted")
                shown = accepted
            if accepted >= plan.min_results:
                break
            if time_out_silent_slots(market, subs, now, lambda text: self._say(record, text)):
                continue
            if now >= record.deadline:
                if not record.extended:
                    record.extended = True
                    record.deadline += plan.round_blocks
                    self.journal.record(record)
                    self._say(record, f"{accepted} of {plan.min_results} results accepted at the deadline: "
                                      f"extended once, to block {record.deadline}")
                    continue
                record.stopped = (f"round {record.round} ended with {accepted} accepted result(s) of the "
                                  f"{plan.min_results} needed, after its deadline was extended once "
                                  f"(block {record.deadline})")
                self.journal.record(record)
                self._say(record, record.stopped)
                break
            due = next_due_block(market, subs)
            began = time.perf_counter()
            wait_for_task_change(market, record.task_id, subs, now,
                                 record.deadline if due is None else min(due, record.deadline))
            waited += time.perf_counter() - began
        self._decide(record, judge, files)
        return waited

    def _decide(self, record: RoundRecord, judge: RoundValidator, files: RoundFiles) -> None:
        """Every pending result judged, the decisions in one batch, with the task's judged
        close (``close_judged_task``) when every pending result is judged and no commitment
        waits for its reveal (then the close step only finds the task closed). A result
        revealed after the listing makes the chain refuse the close, which undoes the whole
        batch: the decisions then go alone, and the close step judges it and closes.

        While the batch is on its way, the accepted results are federated (from the
        verdicts, with nothing read from the chain meanwhile); the federation is recorded
        only after the decisions are. When the batch closes the task and the campaign goes
        on, they are federated first, and the next round's task goes in the batch too
        (:meth:`_decide_with_next_round`)."""
        task = self.market.get_task(record.task_id)
        subs = self.market.list_task_results(record.task_id)
        pending = {s.submission_id for s in subs if s.status is SubmissionStatus.PENDING}
        if judge.judge_new(subs):
            self.journal.record(record)
        # The close is the judged one: a result revealed after this listing (a taken slot's
        # commit and reveal landing before the batch) makes the chain refuse the whole batch
        # rather than pay it. A commitment waiting for its reveal would make it refuse too.
        closing = (pending <= set(judge.reviews) and task.status is TaskStatus.OPEN
                   and not any(s.status is SubmissionStatus.COMMITTED for s in subs))
        accepted = [s for s in subs if s.status is SubmissionStatus.ACCEPTED
                    or (s.submission_id in pending and s.submission_id in judge.reviews
                        and judge.reviews[s.submission_id].verdict == validation.ACCEPT)]
        federated, failure = None, None
        if closing and record.stopped is None and record.round < self.plan.rounds:
            try:
                federated = self._federation(record, files, task, accepted)
            except Exception as error:  # raised once the decisions are recorded
                failure = error
            if federated is not None:
                receipt = self._decide_with_next_round(record, judge, pending, federated)
                if receipt is not None:
                    self._decided(record, judge, pending, receipt, closing)
                    self._record_federation(record, federated)
                    return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decisions") as batch:
            sent = batch.submit(self._submit_decisions, record, judge, pending, closing)
            if record.stopped is None and federated is None and failure is None:
                try:
                    federated = self._federation(record, files, task, accepted)
                except Exception as error:  # raised once the decisions are recorded
                    failure = error
            receipt, closing = sent.result()
        self._decided(record, judge, pending, receipt, closing)
        if failure is not None:
            raise failure
        if federated is not None:
            self._record_federation(record, federated)

    def _decided(self, record: RoundRecord, judge: RoundValidator, pending: set[int], receipt,
                 closing: bool) -> None:
        """Record the decisions' batch (``receipt``; None when there was nothing to decide)."""
        record.phase = Phase.DECIDED
        record.decided_block = None if receipt is None else receipt.block_number
        self.journal.record(record)
        if receipt is not None:
            verdicts = [judge.reviews[sid].verdict for sid in pending if sid in judge.reviews]
            self._say(record, f"decisions on chain in one batch (block {receipt.block_number}): "
                              f"{verdicts.count(validation.ACCEPT)} accepted, "
                              f"{verdicts.count(validation.REJECT)} rejected"
                              + (f"; task {record.task_id} closed in the same batch" if closing else ""))

    def _decide_with_next_round(self, record: RoundRecord, judge: RoundValidator, pending: set[int],
                                federated: _Federated):
        """The decisions' batch with the task's close and then the next round's task, its
        bundle uploaded first from ``federated``; its receipt, or None when the next round
        cannot go in it (the campaign ends after this round, the next bundle was uploaded by
        an earlier process, or the chain refuses the batch): the decisions then go alone."""
        candidate = RoundRecord.from_json({**record.to_json(), "federated_accuracy": federated.accuracy})
        if self._stop_reason(record.round, candidate) is not None:
            return None
        upcoming = self.journal.round(record.round + 1)
        if upcoming.phase is not None:  # a resumed campaign: its own round checks that upload
            return None
        self._upload(upcoming, RoundFiles(self.journal.work, upcoming.round), sorted(federated.accepted),
                     said_in=record)
        try:
            create = next_round_task_call(self.market, self.plan, self.journal.campaign,
                                          location_from_json(upcoming.bundle), self.public_key)
            receipt = judge.submit(pending, close=True, then=[create])
        except (PalletError, UserInputError) as error:
            log.info("round %d's task not created with round %d's decisions: %s", upcoming.round,
                     record.round, error)
            return None
        self.chained = (upcoming.round, self.market.created_campaign_round(receipt))
        return receipt

    def _submit_decisions(self, record: RoundRecord, judge: RoundValidator, pending: set[int],
                          closing: bool) -> tuple[object, bool]:
        """The decisions' batch, with the close if ``closing`` and the chain takes it;
        its receipt and whether the task was closed."""
        try:
            return judge.submit(pending, close=closing), closing
        except PalletError as error:
            if not closing or error.name not in _CLOSE_LATER:
                raise
            log.info("task %s not closed with its decisions: %s", record.task_id, error.name)
            return judge.submit(pending), False

    # ------------------------------------------------------------------ 4. federate, evaluate

    def _accepted_models(self, record: RoundRecord, files: RoundFiles, task,
                         accepted: list) -> list[tuple[int, Path]]:
        """The model folder of every accepted result of the round's task (``accepted``,
        its submissions), received again if this machine no longer has it."""
        found = []
        for sub in accepted:
            if sub.result_location is None:
                continue
            review = record.reviews.get(str(sub.submission_id), {})
            model_dir = review.get("model_dir")
            if model_dir and (Path(model_dir) / "variables" / "variables.index").is_file():
                found.append((sub.submission_id, Path(model_dir)))
                continue
            folder = files.results / "accepted" / f"submission_{sub.submission_id}"
            shutil.rmtree(folder, ignore_errors=True)
            validation.receive_result(self.market, task, sub, folder, private_key=self.private_key)
            model_dir = validation.find_model_dir(folder, what=f"the result of submission {sub.submission_id}")
            if not isinstance(self.strategy, validation.CustomAccept):
                try:  # paid on arrival, never judged: only a result that fits the model is federated
                    validation.restore_result(self.model, model_dir)
                except DecentralMLError as error:
                    self._say(record, f"result {sub.submission_id} left out of the federation: {error}")
                    continue
            found.append((sub.submission_id, model_dir))
        return found

    def _federate(self, record: RoundRecord, files: RoundFiles) -> None:
        """Federate the round's accepted results, as the chain has them (after a resume)."""
        task = self.market.get_task(record.task_id)
        accepted = self.market.list_task_results(record.task_id, SubmissionStatus.ACCEPTED)
        self._record_federation(record, self._federation(record, files, task, accepted))

    def _federation(self, record: RoundRecord, files: RoundFiles, task, accepted: list) -> _Federated:
        """Federate the ``accepted`` submissions into the round's model, evaluate it and
        save it with the server optimizer's state, to be recorded (phase FEDERATED) once
        the decisions are on chain. Reads nothing from the chain."""
        from .. import federation

        plan = self.plan
        models = self._accepted_models(record, files, task, accepted)
        if not models:
            raise CampaignError(f"round {record.round} has no accepted result with a model to federate")
        previous_files = RoundFiles(self.journal.work, record.round - 1)
        if record.round == 1:
            previous = self.initial_weights
            optimizer = federation.make_server_optimizer(plan.optimizer, **plan.optimizer_params)
        else:
            previous = load_weights(previous_files.global_weights)
            optimizer = federation.ServerOptimizer.load(previous_files.optimizer_state)
        policy = federation.ServerOptimized(plan.policy, optimizer, previous, trim_fraction=plan.trim_fraction)
        weights = federation.federate([d for _sid, d in models], policy, reference=self.model,
                                      trim_fraction=plan.trim_fraction)
        if not policy.finished:  # its state would not move on: the next round would step from stale moments
            raise CampaignError(f"round {record.round}: the server optimizer did not step every weight of the model")
        shutil.rmtree(files.federated_model, ignore_errors=True)
        federation.save_federated_model(self.model, weights, files.federated_model)
        metrics = self.evaluator(self.model)
        save_weights(weights, files.global_weights)
        optimizer.save(files.optimizer_state)
        return _Federated(accepted=[sid for sid, _d in models], accuracy=float(metrics["accuracy"]),
                          policy=policy.name)

    def _record_federation(self, record: RoundRecord, federated: _Federated) -> None:
        record.accepted = list(federated.accepted)
        record.federated_accuracy = federated.accuracy
        record.phase = Phase.FEDERATED
        self.journal.record(record)
        self._say(record, f"federated {len(federated.accepted)} result(s) ({federated.policy}): held-out "
                          f"accuracy {record.federated_accuracy:.4f}")

    # ------------------------------------------------------------------ 5. close

    def _close(self, record: RoundRecord, files: RoundFiles) -> None:
        judge = None
        while True:
            task = self.market.get_task(record.task_id)
            if task.status is TaskStatus.CLOSED:
                break
            late = self.market.list_task_results(record.task_id, SubmissionStatus.PENDING)
            pending = {s.submission_id for s in late}
            if pending:  # revealed after the decisions: judged and decided too, never paid unjudged
                judge = judge or self._validator(record, files)
                judge.judge_new(late)
                judge.submit(pending)
                self.journal.record(record)
            try:
                self.market.close_task(record.task_id)  # refused, not paid, if a result came meanwhile
                break
            except PalletError as error:
                if error.name == "TaskNotOpen":
                    break
                if error.name == "ResultsPending":
                    self._say(record, f"a result of task {record.task_id} was revealed while it was "
                                      "being closed: judging it first")
                    continue
                if error.name not in ("CommitmentsOutstanding", "ResultsUnderReview"):
                    raise
                self._say(record, f"waiting to close task {record.task_id}: {error.name}")
                wait_for_next_block(self.market, self.market.chain.block_number())
        record.phase = Phase.CLOSED
        self.journal.record(record)
        self._say(record, f"task {record.task_id} closed")


#: Why a close sent with the decisions may be refused while the decisions alone would not be:
#: a result committed or revealed since the listing, or the task closed before (a resume).
_CLOSE_LATER = ("CommitmentsOutstanding", "ResultsUnderReview", "ResultsPending", "TaskNotOpen")


def _public_key(private_key: bytes | None) -> bytes | None:
    if private_key is None:
        return None
    from nacl.public import PrivateKey

    return bytes(PrivateKey(private_key).public_key)


def _review_json(review) -> dict:
    metrics = {k: v for k, v in review.metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    return {"verdict": review.verdict, "reason": review.reason, "metrics": metrics,
            "contributor": review.contributor,
            "model_dir": None if review.model_dir is None else str(review.model_dir)}
