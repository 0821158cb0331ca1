"""The campaign, step by step: :func:`run_round` plays every part, each with its own dev
account (see :mod:`substrate_client.demo` for the steps)."""

from __future__ import annotations

import _thread
import contextlib
import datetime as _dt
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

from .. import config, keys, validation
from .. import storage as storage_mod
from ..campaign import CampaignJournal, CampaignPlan, PrivacyPlan, run_campaign
from ..chain import Chain, connect, dev_address, load_keypair, same_account
from ..errors import ConfigError, DecentralMLError, UserInputError
from ..federation import POLICIES, SERVER_OPTIMIZERS
from ..marketplace import Marketplace
from ..records import StorageType, SubmissionStatus, parse_enum
from . import example, ledger, report as report_mod, services
from .agents import AgentData, Agents, AgentSpec, Connection
from .metering import LedgerChain, PhaseTimer, TimedBackend
from .settings import RoundSettings, default_run_dir
from .summary import AccountOutcome, ContributorOutcome, RoundOutcome, RoundResult, RunSummary

log = logging.getLogger(__name__)

PARTITIONS = ("by_label", "iid")
#: A line of the campaign runner about one round: ``round 2/3: task 14 closed``.
_ROUND_LINE = re.compile(r"^round (\d+)/(\d+): (.*)$")
_CLOSED = re.compile(r"^task (\d+) closed$")
_CAMPAIGN = re.compile(r"^campaign (\d+) \(journal ")


class RoundError(DecentralMLError):
    """A step of the run failed (an agent stopped, a round ended short...)."""


class _RoundMarketplace(Marketplace):
    """The creator's marketplace, with storage backends built once (a new S3 client per
    transfer costs) and timed."""

    def __init__(self, chain: Chain, backends: dict[str, Any]):
        super().__init__(chain, {})
        self._backends = backends

    def backend(self, storage_type):
        kind = parse_enum(StorageType, storage_type).value
        try:
            return self._backends[kind]
        except KeyError:
            raise ConfigError(f"this run has no {kind} storage configured") from None


def run_round(settings: RoundSettings, report: Callable[[str], None] = log.info, *,
              native_output: Callable[[Path], ContextManager[Any]] | None = None) -> RunSummary:
    """Run the campaign as :mod:`substrate_client.demo` describes; return its summary.

    ``report`` receives one line per step and a few detail lines (``[4/8] Round 1 of
    3...``). The summary is also written to ``<run_dir>/summary.json`` with a chart
    ``<run_dir>/round.png``. The run's log ``<run_dir>/round.log`` holds the same lines;
    each contributor's agent logs to ``<run_dir>/contributors/<name>.log``.
    ``native_output``, if given, is entered with the log's path for the length of the
    run (the command line routes the output of native libraries there).
    """
    return _Run(settings, report, native_output).run()


class _Run:
    def __init__(self, settings: RoundSettings, report: Callable[[str], None],
                 native_output: Callable[[Path], ContextManager[Any]] | None = None):
        self.s = settings
        _check(settings)
        self.names = [n.capitalize() for n in settings.contributors]
        self.saboteurs = {n.lower() for n in settings.saboteurs}
        self.honest = [n for n in self.names if n.lower() not in self.saboteurs]
        self.started = time.perf_counter()
        self.timer = PhaseTimer()
        self.run_dir = Path(settings.run_dir or default_run_dir()).expanduser().resolve()
        if self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise UserInputError(f"{self.run_dir} already holds files; choose a new run folder")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.total_steps = 4 + settings.rounds
        self.step_no = 0
        self.log_path = self.run_dir / "round.log"
        self._log_file = open(self.log_path, "a", encoding="utf-8")
        self._report = report
        self._native_output = native_output
        self.fees: dict[str, int] = {}

    # -- reporting ---------------------------------------------------------------

    def say(self, line: str) -> None:
        stamp = _dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
        self._log_file.write(f"{stamp} {line}\n")
        self._log_file.flush()
        self._report(line)

    def step(self, text: str, number: int | None = None) -> None:
        self.step_no = number or self.step_no + 1
        self.say(f"[{self.step_no}/{self.total_steps}] {text}")

    def detail(self, text: str) -> None:
        self.say(f"      {text}")

    # -- the whole run -----------------------------------------------------------

    def run(self) -> RunSummary:
        try:
            with (self._native_output(self.log_path) if self._native_output
                  else contextlib.nullcontext()):
                return self._run()
        finally:
            self._log_file.close()

    def _run(self) -> RunSummary:
        s = self.s
        self.step("Making sure the dev chain and storage (Kubo, MinIO) are up...")
        with self.timer.phase("setup"):
            url = services.chain_up(s.url, s.port)[0]
            connection, backends = self._storage_up(url)
            substrate = connect(url)
            props = getattr(substrate, "properties", None) or {}
            token = {"symbol": props.get("tokenSymbol") or "UNIT",
                     "decimals": int(props.get("tokenDecimals") or 12)}
            task = example.load(s.assets_dir)
            self.creator_mod, self.creator_settings = task.creator, task.settings
            alice_name = s.creator.capitalize()
            alice = _RoundMarketplace(LedgerChain(substrate, load_keypair(f"//{alice_name}"), self.fees,
                                                  self.timer), backends)
        self.detail(f"chain {url} ({token['symbol']}); {backends['IPFS']!r}; {backends['S3']!r}")
        reward = s.reward if s.reward is not None else 10 * 10 ** token["decimals"]
        if reward <= 0:
            raise UserInputError("the reward must be more than zero")

        with self.timer.phase("setup"):
            x, y, dataset = self.creator_mod.held_out_data(dataset=s.dataset)
        summary = RunSummary(
            run_dir=str(self.run_dir), chain_url=url, token=token,
            started_at=_dt.datetime.now().isoformat(timespec="seconds"), rounds_planned=s.rounds,
            dataset=dataset, partition=s.partition, epochs=s.epochs, max_samples=s.max_samples,
            batch_size=s.batch_size, learning_rate=s.learning_rate, local_optimizer=s.local_optimizer,
            policy=s.policy or self.creator_settings.POLICY, optimizer=s.optimizer,
            threshold=float(s.threshold), max_loss=float(s.max_loss), held_out_samples=int(len(y)), reward=reward,
            slots=len(self.names), min_results=len(self.honest))
        summary.creator = AccountOutcome(alice_name, alice.chain.address, None)
        shards = {name: i for i, name in enumerate(self.honest)}
        for name in self.names:
            summary.contributors.append(ContributorOutcome(
                name, dev_address(name), None, shard_index=shards.get(name),
                num_shards=len(self.honest), saboteur=name.lower() in self.saboteurs))
        self.addresses = [summary.creator.address] + [c.address for c in summary.contributors]
        self.names_by_address = {a: n for a, n in zip(self.addresses, [alice_name] + self.names)}

        # The example hooks read the threshold, loss limit and data set from the creator's
        # settings when it runs: make them this run's for the duration of the run.
        overrides = {"DATASET": dataset, "ACCURACY_THRESHOLD": summary.threshold, "MAX_LOSS": s.max_loss}
        self.substrate = substrate
        with contextlib.closing(substrate), _module_overrides(self.creator_settings, overrides):
            plan = self._prepare(summary, task)
            specs = [AgentSpec(c.name, c.shard_index, c.num_shards, c.saboteur) for c in summary.contributors]
            agents = Agents(specs, connection, AgentData(s.partition, s.max_samples, dataset, s.result_storage),
                            self.run_dir / "contributors", on_failure=self._agent_failed)
            with agents, services.BlockClock(url) as clock:
                self._campaign(alice, plan, summary, agents)
                if clock.built:
                    self.detail(f"the dev chain was given {clock.built} empty block(s) while nothing happened "
                                "(a real chain builds one every few seconds)")
                self.step("Stopping the contributors' agents; reading the fees and balances from the chain...",
                          self.total_steps)
                codes = agents.stop()
            self.detail("agents stopped: " + ", ".join(f"{n} (exit {c})" for n, c in codes.items()))
            with self.timer.phase("chain"):
                self._ledger(summary)

        summary.timings = {k: round(v, 3) for k, v in self.timer.totals.items() if v}
        summary.total_seconds = round(time.perf_counter() - self.started, 3)
        json_path, chart = report_mod.write_report(summary.to_dict(), self.run_dir)
        summary.summary_path, summary.chart_path = str(json_path), str(chart)
        return summary

    # -- services ----------------------------------------------------------------

    def _storage_up(self, url: str) -> tuple[Connection, dict[str, TimedBackend]]:
        s = self.s
        where = config.resolve({"ipfs_api": s.ipfs_api, "s3_endpoint": s.s3_endpoint,
                                "s3_bucket": s.s3_bucket})
        ipfs, s3 = where.ipfs_api, where.s3_endpoint
        if not ipfs or not s3:
            local = services.storage_up()
            ipfs, s3 = ipfs or local.ipfs_api, s3 or local.s3_endpoint
            # boto3 reads S3 credentials from the environment only; use MinIO's unless
            # the caller chose their own (the agents inherit them).
            if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_SECRET_ACCESS_KEY"):
                os.environ["AWS_ACCESS_KEY_ID"] = local.access_key
                os.environ["AWS_SECRET_ACCESS_KEY"] = local.secret_key
        backends = {
            "IPFS": storage_mod.backend_from_settings("IPFS", api_url=ipfs),
            "S3": storage_mod.backend_from_settings("S3", endpoint_url=s3, bucket=where.s3_bucket),
        }
        timed = {kind: TimedBackend(b, self.timer) for kind, b in backends.items()}
        return Connection(url, ipfs, s3, where.s3_bucket), timed

    # -- 2: the creator's model, bundle and plan ----------------------------------

    def _prepare(self, summary: RunSummary, task: example.ExampleTask) -> CampaignPlan:
        s, cm, cs = self.s, self.creator_mod, self.creator_settings
        creator_dir = self.run_dir / "creator"
        n = len(self.names)
        self.step(f"{summary.creator.name} builds the initial model and plans {s.rounds} round(s) for "
                  f"{n} contributors ({summary.dataset}, {s.partition} shards, reward "
                  f"{_tokens(summary.reward, summary.token)} per accepted result)...")
        with self.timer.phase("setup"):
            key_file = creator_dir / "result_key"
            keys.generate_keypair(key_file)
            model = cm.create_model(learning_rate=s.learning_rate, optimizer=s.local_optimizer)
            bundle = cm.prepare_bundle(model, creator_dir / "bundle")
            _update_task_settings(bundle, {"EPOCHS": s.epochs, "BATCH_SIZE": s.batch_size,
                                           "NUM_SHARDS": len(self.honest), "DATASET": summary.dataset,
                                           "PARTITION": s.partition})
        privacy = None
        if s.clip_norm is not None:
            privacy = PrivacyPlan(clip_norm=s.clip_norm, noise_multiplier=s.noise_multiplier, delta=s.delta)
        plan = CampaignPlan(
            bundle=str(bundle), creator_dir=str(task.assets / "model_creator"), rounds=s.rounds,
            slots=n, min_results=len(self.honest), reward=summary.reward, policy=summary.policy,
            optimizer=s.optimizer, hook=s.hook or task.loss_hook, round_blocks=s.round_blocks,
            bundle_storage=s.bundle_storage, result_storage=s.result_storage,
            question=(f"Train {cs.MODEL_NAME} on your shard of {summary.dataset} ({s.epochs} epoch(s), "
                      f"{s.partition} shards of {len(self.honest)})"),
            privacy=privacy, result_key_file=str(key_file), trim_fraction=cs.TRIM_FRACTION)
        if privacy is not None:
            summary.privacy = {"clip_norm": privacy.clip_norm, "noise_multiplier": privacy.noise_multiplier,
                               "delta": privacy.delta}
        rule = (f"hook {s.hook}" if s.hook
                else f"held-out accuracy >= {summary.threshold:.2f} and loss <= {s.max_loss:g}")
        self.detail(f"{s.local_optimizer} at learning rate {s.learning_rate} in batches of {s.batch_size}, "
                    f"{s.epochs} epoch(s) on at most "
                    f"{s.max_samples or 'all'} samples per contributor and round; results accepted by "
                    f"CustomAccept ({rule}), federated with {summary.policy} + {s.optimizer}"
                    + (f"; updates clipped to {s.clip_norm} with noise x{s.noise_multiplier}" if privacy else ""))
        return plan

    # -- 3..: the agents and the rounds --------------------------------------------

    def _campaign(self, alice: _RoundMarketplace, plan: CampaignPlan, summary: RunSummary,
                  agents: Agents) -> None:
        s = self.s
        with self.timer.phase("chain"):
            predicted = int(alice.chain.query("NextCampaignId"))
            self.snapshots = [ledger.snapshot(self.substrate, self.addresses)]
        summary.creator.balance_before = self.snapshots[0].balances[summary.creator.address]
        for c in summary.contributors:
            c.balance_before = self.snapshots[0].balances[c.address]
        self.step(f"{', '.join(self.names)} start their agents (decentralml work), each signing with "
                  f"its own account...")
        with self.timer.phase("setup"):
            agents.start(predicted, summary.creator.address, s.rounds)
        for c in summary.contributors:
            what = ("sends random weights every round (saboteur)" if c.saboteur
                    else f"trains on shard {c.shard_index + 1}/{c.num_shards}")
            self.detail(f"{c.name}: {what}; log {agents.folder / (c.name.lower() + '.log')}")

        tracker = _RoundTracker(self, summary, agents, alice, predicted)
        try:
            result = run_campaign(alice, plan, self.run_dir / "creator" / "campaigns", report=tracker.line)
        except BaseException as error:
            agents.on_failure = None
            tracker.failed(error)
            failures = agents.failures()
            if failures and isinstance(error, (DecentralMLError, KeyboardInterrupt)):
                # An agent that stopped leaves the round waiting for its result: stop it all.
                raise RoundError("; ".join(failures)) from None
            raise
        agents.on_failure = None
        summary.campaign_id = result.campaign
        summary.finished = result.finished
        summary.initial_accuracy = result.initial_accuracy
        journal = CampaignJournal.find(self.run_dir / "creator" / "campaigns", alice.chain.genesis_hash,
                                       result.campaign)
        previous = result.initial_accuracy
        for number, chain_round in enumerate(result.rounds, start=1):
            outcome = tracker.rounds.get(number) or RoundOutcome(number)
            self._round_outcome(outcome, chain_round, summary, agents, journal, previous)
            previous = outcome.federated_accuracy if outcome.federated_accuracy is not None else previous
            summary.rounds.append(outcome)
        if result.privacy:
            summary.privacy = dict(result.privacy)
        if summary.rounds and summary.rounds[-1].federated_model_dir:
            summary.federated_accuracy = summary.rounds[-1].federated_accuracy
            final = self.run_dir / "federated_model"  # where the run's result is easy to find
            shutil.copytree(summary.rounds[-1].federated_model_dir, final)
            summary.federated_model_dir = str(final)
        short = [r.round for r in summary.rounds if r.federated_accuracy is None]
        if short or len(summary.rounds) < s.rounds:
            raise RoundError(f"the campaign ended early: {summary.finished}")

    def _round_outcome(self, outcome: RoundOutcome, chain_round, summary: RunSummary, agents: Agents,
                       journal, previous: float | None) -> None:
        outcome.task_id = chain_round.task_id
        outcome.continues = chain_round.continues
        outcome.starting_accuracy = previous
        outcome.federated_accuracy = chain_round.federated_accuracy
        outcome.epsilon = chain_round.epsilon
        outcome.escrow_paid = chain_round.paid
        if journal is not None:
            folder = journal.work / f"round_{outcome.round}" / "federated_model"
            outcome.federated_model_dir = str(folder) if folder.is_dir() else None
        trainings = agents.trainings_for(chain_round.task_id) if chain_round.task_id is not None else {}
        by_name = {c.name: c for c in summary.contributors}
        results = {}
        for result in chain_round.results:
            name = next((c.name for c in summary.contributors if same_account(c.address, result.contributor)), None)
            if name is None:
                continue
            decision = {"Accepted": "accepted", "Rejected": "rejected", "Appealed": "rejected"}.get(
                result.status, result.status.lower())
            results[name] = RoundResult(name, result.submission_id, accuracy=result.accuracy, decision=decision,
                                        reason=result.reason or "", federated=decision == "accepted",
                                        paid=result.paid)
        for name in by_name:
            r = results.get(name) or RoundResult(name)
            training = trainings.get(name)
            r.train_seconds = None if training is None else training.seconds
            outcome.results.append(r)
        outcome.training_seconds = round(_union_seconds(
            [(t.started, t.ended) for t in trainings.values() if t.ended is not None]), 3)
        outcome.overhead_seconds = round(max(outcome.wall_seconds - outcome.training_seconds, 0.0), 3)
        outcome.overhead_share = (round(outcome.overhead_seconds / outcome.training_seconds, 4)
                                  if outcome.training_seconds else None)
        outcome.timings.update(waiting=round(chain_round.training_wait_seconds, 3),
                               creator_busy=round(chain_round.other_seconds, 3))

    @staticmethod
    def _agent_failed(name: str) -> None:
        """An agent exited with an error while the campaign runs: a round would wait for
        its result until its deadline, so the campaign is interrupted (the agents'
        failures are named where it stops)."""
        log.warning("%s's agent stopped with an error; interrupting the campaign", name)
        _thread.interrupt_main()

    # -- the end: fees and balances per round ----------------------------------------

    def _ledger(self, summary: RunSummary) -> None:
        """Each round's fees (from the chain's fee events in its blocks) and balance
        changes (from the snapshots at its end), and the run's totals."""
        final = ledger.snapshot(self.substrate, self.addresses)
        if final.block != self.snapshots[-1].block:
            self.snapshots.append(final)
        ends = {r.round: r.last_block for r in summary.rounds}
        by_block = {snap.block: snap for snap in self.snapshots}
        start = self.snapshots[0]
        names = self.names_by_address
        for outcome in summary.rounds:
            end = by_block.get(ends.get(outcome.round)) or final
            fees = ledger.by_name(ledger.fees_paid(self.substrate, start.block + 1, end.block, self.addresses), names)
            change = ledger.by_name(ledger.changes(start, end), names)
            outcome.first_block, outcome.last_block = start.block + 1, end.block
            outcome.creator_fees = fees[summary.creator.name]
            outcome.creator_balance_change = change[summary.creator.name]
            for r in outcome.results:
                r.fees, r.balance_change = fees[r.name], change[r.name]
            start = end
        # After the last round: stopping the agents sends nothing, but count it all.
        tail = ledger.by_name(ledger.fees_paid(self.substrate, start.block + 1, final.block, self.addresses), names)
        for account in [summary.creator] + summary.contributors:
            account.balance_after = final.balances[account.address]
            account.fees = tail[account.name] + sum(
                (r.creator_fees if account is summary.creator else r.result(account.name).fees)
                for r in summary.rounds)
            if account is not summary.creator:
                account.paid = sum(r.result(account.name).paid for r in summary.rounds)
        self.detail(f"{len(summary.rounds)} round(s) in blocks {self.snapshots[0].block + 1}-{final.block}; "
                    f"paid {_tokens(sum(r.escrow_paid for r in summary.rounds), summary.token)} in rewards")


class _RoundTracker:
    """Follows the campaign runner's lines: says them, numbers the rounds as steps, and
    marks each round's end (time, and a snapshot of the balances at that block)."""

    def __init__(self, run: _Run, summary: RunSummary, agents: Agents, alice: _RoundMarketplace,
                 predicted_campaign: int):
        self.run = run
        self.summary = summary
        self.agents = agents
        self.alice = alice
        self.campaign = predicted_campaign
        self.rounds: dict[int, RoundOutcome] = {}
        self.current: int | None = None
        self.round_started = time.monotonic()
        self.timer_at_start = dict(run.timer.totals)

    def line(self, text: str) -> None:
        run = self.run
        found = _CAMPAIGN.match(text)
        if found and int(found.group(1)) != self.campaign:
            # Someone else's campaign took the id the agents were told: tell them the real one.
            self.campaign = int(found.group(1))
            run.detail(f"the campaign is {self.campaign}, not the one expected: restarting the agents")
            self.agents.stop()
            self.agents.start(self.campaign, self.summary.creator.address, run.s.rounds)
        matched = _ROUND_LINE.match(text)
        if not matched:
            if text.startswith("initial model"):
                self.round_started = time.monotonic()
                self.timer_at_start = dict(run.timer.totals)
            run.detail(text)
            return
        number, rounds, rest = int(matched.group(1)), int(matched.group(2)), matched.group(3)
        if number != self.current:
            self.current = number
            self.rounds[number] = RoundOutcome(number)
            model = "the initial model" if number == 1 else f"round {number - 1}'s federated model"
            run.step(f"Round {number} of {rounds}: {self.summary.creator.name} posts {model}; the "
                     f"agents train on it and send...", 3 + number)
        run.detail(rest)
        if _CLOSED.match(rest):
            self._round_ended(number)
        failures = self.agents.failures()
        if failures:
            raise RoundError("; ".join(failures))

    def _round_ended(self, number: int) -> None:
        run = self.run
        outcome = self.rounds[number]
        with run.timer.phase("chain"):
            snap = ledger.snapshot(run.substrate, run.addresses)
        run.snapshots.append(snap)
        now = time.monotonic()
        outcome.wall_seconds = round(now - self.round_started, 3)
        outcome.last_block = snap.block
        totals = run.timer.totals
        outcome.timings = {phase: round(totals.get(phase, 0.0) - self.timer_at_start.get(phase, 0.0), 3)
                           for phase in ("chain", "storage")}
        self.round_started, self.timer_at_start = now, dict(totals)

    def failed(self, error: BaseException) -> None:
        """After a failure: reject what is pending (closing would pay it) and close the
        round's task, so the creator's escrow is not left held. Best effort."""
        run, alice = self.run, self.alice
        try:
            campaign = alice.get_campaign(self.campaign)
            task = alice.get_task(campaign.latest_task)
            if not same_account(task.creator, alice.chain.address) or task.status.value != "Open":
                return
            pending = alice.list_task_results(task.task_id, SubmissionStatus.PENDING)
            reason = validation.clean_reason(f"campaign aborted: {type(error).__name__}",
                                             alice.limit("MaxReasonLen"))
            if pending:
                alice.decide_task_results(reject={p.submission_id: reason for p in pending})
            alice.close_task(task.task_id)
            run.say(f"campaign aborted; task {task.task_id} closed and its escrow returned")
        except Exception as cleanup_error:  # the original error matters more
            log.warning("could not close the campaign's open task after the failure: %s", cleanup_error)


# --------------------------------------------------------------------------- helpers


def _check(s: RoundSettings) -> None:
    """Refuse bad settings before anything starts (UserInputError naming the problem)."""
    names = [n.capitalize() for n in s.contributors]
    if not names:
        raise UserInputError("a run needs at least one contributor")
    if len(set(n.lower() for n in names)) != len(names):
        raise UserInputError(f"contributors must be distinct accounts: {', '.join(names)}")
    if s.creator.lower() in (n.lower() for n in names):
        raise UserInputError("the creator cannot contribute to their own task")
    unknown = {n.lower() for n in s.saboteurs} - {n.lower() for n in names}
    if unknown:
        raise UserInputError(f"saboteurs {', '.join(sorted(unknown))} are not among the contributors")
    if len(set(n.lower() for n in s.saboteurs)) >= len(names):
        raise UserInputError("a campaign needs at least one honest contributor (not a saboteur)")
    if s.rounds < 1:
        raise UserInputError("rounds must be at least 1")
    if s.epochs < 1:
        raise UserInputError("epochs must be at least 1")
    if s.max_samples < 0:
        raise UserInputError("max-samples must be 0 (the whole shard) or more")
    if s.partition not in PARTITIONS:
        raise UserInputError(f"unknown partition {s.partition!r}; choose {' or '.join(PARTITIONS)}")
    if not (s.learning_rate > 0):
        raise UserInputError("the learning rate must be more than 0")
    if s.local_optimizer not in ("sgd", "adam"):
        raise UserInputError(f"unknown local optimizer {s.local_optimizer!r}; choose sgd or adam")
    if s.policy is not None and s.policy not in POLICIES:
        raise UserInputError(f"unknown policy {s.policy!r}; choose one of {', '.join(sorted(POLICIES))}")
    if s.optimizer not in SERVER_OPTIMIZERS:
        raise UserInputError(f"unknown optimizer {s.optimizer!r}; choose one of "
                             f"{', '.join(sorted(SERVER_OPTIMIZERS))}")
    if s.batch_size < 1:
        raise UserInputError("the batch size must be at least 1")
    if not s.max_loss > 0:
        raise UserInputError("the loss limit must be more than 0")
    if not 0 <= s.threshold <= 1:
        raise UserInputError(f"the threshold is a held-out accuracy from 0 to 1, got {s.threshold}")
    if (s.clip_norm is None) != (s.noise_multiplier is None):
        raise UserInputError("differential privacy needs both --clip-norm and --noise-multiplier")


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    """How long at least one of the intervals was running."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def _update_task_settings(bundle: Path, values: dict[str, Any]) -> None:
    path = Path(bundle) / "task_settings.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(values)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def _module_overrides(module, values: dict[str, Any]) -> Iterator[None]:
    """Set attributes of a settings module for the duration of the block."""
    before = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(module, name, value)


def _tokens(amount: int, token: dict[str, Any]) -> str:
    return f"{report_mod.tokens(amount, int(token['decimals']))} {token['symbol']}"
