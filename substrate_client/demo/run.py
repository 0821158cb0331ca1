"""One round, step by step: :func:`run_round` plays every part, each with its own dev
account (see :mod:`substrate_client.demo` for the steps)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

from substrateinterface.utils.ss58 import ss58_decode

from .. import config, keys, sandbox, validation
from .. import storage as storage_mod
from ..chain import Chain, connect, load_keypair
from ..errors import ConfigError, DecentralMLError, UserInputError
from ..federation.metadata import read_result_metadata
from ..files import log_tail
from ..marketplace import Marketplace
from ..records import StorageType, SubmissionStatus, ValidationStrategy, parse_enum
from . import example, report as report_mod, services
from .metering import LedgerChain, PhaseTimer, TimedBackend
from .settings import RoundSettings, default_run_dir
from .summary import AccountOutcome, Balance, ContributorOutcome, RoundSummary

log = logging.getLogger(__name__)


class RoundError(DecentralMLError):
    """A step of the round failed (a contributor's training, a missing result...)."""


class _RoundMarketplace(Marketplace):
    """The marketplace for one participant, with storage backends built once and
    shared by every participant of the round (a new S3 client per transfer costs)."""

    def __init__(self, chain: Chain, backends: dict[str, Any]):
        super().__init__(chain, {})
        self._backends = backends

    def backend(self, storage_type):
        kind = parse_enum(StorageType, storage_type).value
        try:
            return self._backends[kind]
        except KeyError:
            raise ConfigError(f"this round has no {kind} storage configured") from None


def run_round(settings: RoundSettings, report: Callable[[str], None] = log.info, *,
              native_output: Callable[[Path], ContextManager[Any]] | None = None) -> RoundSummary:
    """Run one federated round as :mod:`substrate_client.demo` describes; return its summary.

    ``report`` receives one line per step and a few detail lines (``[3/9] Bob training
    on shard 1/4 (fashion_mnist)...``). The summary is also written to
    ``<run_dir>/summary.json`` with a chart ``<run_dir>/round.png``. The run's log
    ``<run_dir>/round.log`` holds the same lines; ``native_output``, if given, is entered
    with its path for the length of the round (the command line routes the output of
    native libraries there).
    """
    return _Round(settings, report, native_output).run()


class _Round:
    def __init__(self, settings: RoundSettings, report: Callable[[str], None],
                 native_output: Callable[[Path], ContextManager[Any]] | None = None):
        self.s = settings
        self.timer = PhaseTimer()
        self.started = time.perf_counter()
        names = [n.capitalize() for n in settings.contributors]
        if not names:
            raise UserInputError("a round needs at least one contributor")
        if len(set(n.lower() for n in names)) != len(names):
            raise UserInputError(f"contributors must be distinct accounts: {', '.join(names)}")
        if settings.creator.lower() in (n.lower() for n in names):
            raise UserInputError("the creator cannot contribute to their own task")
        unknown = {n.lower() for n in settings.saboteurs} - {n.lower() for n in names}
        if unknown:
            raise UserInputError(f"saboteurs {', '.join(sorted(unknown))} are not among the contributors")
        if settings.epochs < 1:
            raise UserInputError("epochs must be at least 1")
        self.names = names
        self.run_dir = Path(settings.run_dir or default_run_dir()).expanduser().resolve()
        if self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise UserInputError(f"{self.run_dir} already holds files; choose a new run folder")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.total_steps = 5 + len(names)
        self.step_no = 0
        self.log_path = self.run_dir / "round.log"
        self._log_file = open(self.log_path, "a", encoding="utf-8")
        self._report = report
        self._native_output = native_output
        self.fees: dict[str, int] = {}

    # -- reporting ---------------------------------------------------------------

    def say(self, line: str) -> None:
        self._log_file.write(line + "\n")
        self._log_file.flush()
        self._report(line)

    def step(self, text: str) -> None:
        self.step_no += 1
        self.say(f"[{self.step_no}/{self.total_steps}] {text}")

    def detail(self, text: str) -> None:
        self.say(f"      {text}")

    # -- the whole round ---------------------------------------------------------

    def run(self) -> RoundSummary:
        try:
            with (self._native_output(self.log_path) if self._native_output
                  else contextlib.nullcontext()):
                return self._run()
        finally:
            self._log_file.close()

    def _run(self) -> RoundSummary:
        s = self.s
        self.step("Making sure the dev chain and storage (Kubo, MinIO) are up...")
        with self.timer.phase("setup"):
            url = self._chain_up()
            backends = self._storage_up()
            substrate = connect(url)
            props = getattr(substrate, "properties", None) or {}
            token = {"symbol": props.get("tokenSymbol") or "UNIT",
                     "decimals": int(props.get("tokenDecimals") or 12)}
            self.creator_mod, self.creator_settings = self._load_creator()
            accounts = {n: load_keypair(f"//{n}") for n in [s.creator.capitalize()] + self.names}
            markets = {n: _RoundMarketplace(LedgerChain(substrate, kp, self.fees), backends)
                       for n, kp in accounts.items()}
        alice_name = s.creator.capitalize()
        alice = markets[alice_name]
        reward = s.reward if s.reward is not None else 10 * 10 ** token["decimals"]
        if reward <= 0:
            raise UserInputError("the reward must be more than zero")

        summary = RoundSummary(run_dir=str(self.run_dir), chain_url=url, token=token,
                               started_at=_dt.datetime.now().isoformat(timespec="seconds"),
                               reward=reward, max_assignments=len(self.names))
        with self.timer.phase("chain"):
            summary.creator = AccountOutcome(alice_name, alice.chain.address,
                                             self._balance(alice, alice.chain.address))
            for i, name in enumerate(self.names):
                address = markets[name].chain.address
                summary.contributors.append(ContributorOutcome(
                    name, address, self._balance(alice, address), shard_index=i,
                    num_shards=len(self.names),
                    saboteur=name.lower() in {x.lower() for x in s.saboteurs}))
        self.detail(f"chain {url} ({token['symbol']}); {backends['IPFS']!r}; {backends['S3']!r}")

        with self.timer.phase("setup"):
            x, y, self.dataset = self.creator_mod.held_out_data(dataset=s.dataset)
        summary.dataset = self.dataset
        summary.held_out_samples = int(len(y))
        summary.policy = s.policy or self.creator_settings.POLICY
        summary.threshold = float(s.threshold if s.threshold is not None
                                  else self.creator_settings.ACCURACY_THRESHOLD)
        # The example hook reads the threshold and the data set from the creator's
        # settings when it runs: make them the round's for the duration of the round.
        overrides = {"DATASET": self.dataset, "ACCURACY_THRESHOLD": summary.threshold}
        self.task_id: int | None = None
        with contextlib.closing(substrate), _module_overrides(self.creator_settings, overrides):
            try:
                self._create_task(alice, summary, x, y)
                for outcome in summary.contributors:
                    self._contribute(markets[outcome.name], self.task_id, outcome)
                decisions, models = self._validate(alice, self.task_id, summary)
                self._federate(summary, models)
                self._settle(alice, self.task_id, summary, decisions)
            except BaseException as error:
                if self.task_id is not None:
                    self._abort(alice, self.task_id, error)
                raise
            with self.timer.phase("chain"):
                summary.creator.balance_after = self._balance(alice, summary.creator.address)
                for c in summary.contributors:
                    c.balance_after = self._balance(alice, c.address)
        summary.creator.fees = self.fees.get(summary.creator.address, 0)
        for c in summary.contributors:
            c.fees = self.fees.get(c.address, 0)

        summary.timings = {k: round(v, 3) for k, v in self.timer.totals.items()}
        summary.total_seconds = round(time.perf_counter() - self.started, 3)
        json_path, chart = report_mod.write_report(summary.to_dict(), self.run_dir)
        summary.summary_path, summary.chart_path = str(json_path), str(chart)
        return summary

    # -- services ----------------------------------------------------------------

    def _chain_up(self) -> str:
        url, state = services.chain_up(self.s.url, self.s.port)
        if state is not None:
            self.detail(f"dev chain at {state.url} (block {state.block_number}); log {state.log_file}")
        return url

    def _storage_up(self) -> dict[str, TimedBackend]:
        s = self.s
        where = config.resolve({"ipfs_api": s.ipfs_api, "s3_endpoint": s.s3_endpoint,
                                "s3_bucket": s.s3_bucket})
        ipfs, s3 = where.ipfs_api, where.s3_endpoint
        if not ipfs or not s3:
            local = services.storage_up()
            ipfs, s3 = ipfs or local.ipfs_api, s3 or local.s3_endpoint
            # boto3 reads S3 credentials from the environment only; use MinIO's unless
            # the caller chose their own.
            if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_SECRET_ACCESS_KEY"):
                os.environ["AWS_ACCESS_KEY_ID"] = local.access_key
                os.environ["AWS_SECRET_ACCESS_KEY"] = local.secret_key
        backends = {
            "IPFS": storage_mod.backend_from_settings("IPFS", api_url=ipfs),
            "S3": storage_mod.backend_from_settings("S3", endpoint_url=s3, bucket=where.s3_bucket),
        }
        return {kind: TimedBackend(b, self.timer) for kind, b in backends.items()}

    def _load_creator(self):
        task = example.load(self.s.assets_dir)
        self.assets = task.assets
        self.hook = task.hook
        return task.creator, task.settings

    # -- 2: the creator posts the task ------------------------------------------

    def _create_task(self, alice: _RoundMarketplace, summary: RoundSummary, x, y) -> None:
        s, cm, cs = self.s, self.creator_mod, self.creator_settings
        n = len(self.names)
        creator_dir = self.run_dir / "creator"
        dataset = self.dataset
        self.step(f"{summary.creator.name} builds the initial model and posts a task for {n} "
                  f"contributors ({dataset}, reward "
                  f"{_tokens(summary.reward, summary.token)} each)...")
        with self.timer.phase("setup"):
            public_key = keys.generate_keypair(creator_dir / "result_key")
            model = cm.create_model()
            bundle = cm.prepare_bundle(model, creator_dir / "bundle")
            _update_task_settings(bundle, {"EPOCHS": s.epochs, "NUM_SHARDS": n, "DATASET": dataset,
                                           "PARTITION": "iid"})
            self.initial_model_dir = creator_dir / "initial_model"
            shutil.copytree(bundle / "model", self.initial_model_dir)
        with self.timer.phase("validation"):
            summary.initial_accuracy = float(cm.evaluate_model(model, x, y)["accuracy"])
        self.detail(f"initial model: held-out accuracy {summary.initial_accuracy:.3f} "
                    f"on {len(y)} {dataset} test samples")
        with self.timer.phase("chain"):
            task = alice.create_task_model_contributor(
                question=f"Train {cs.MODEL_NAME} on your shard of {dataset} "
                         f"({s.epochs} epoch(s), IID shard i of {n})",
                pays_amount=summary.reward, max_assignments=n,
                model_contributor_script_path=bundle,
                model_contributor_script_storage_type=s.bundle_storage,
                expires_in_blocks=s.expires_in_blocks,
                validation_strategy=ValidationStrategy.CUSTOM_ACCEPT,
                result_public_key=public_key,
            )
        self.task_id = summary.task_id = task.task_id
        summary.escrow = task.escrow
        self.detail(f"task {task.task_id}: bundle on {task.bundle.storage_type.value} "
                    f"{task.bundle.path}, escrow {_tokens(task.escrow, summary.token)}, "
                    f"results sealed to {creator_dir / 'result_key.pub'}")

    # -- 3: each contributor ------------------------------------------------------

    def _contribute(self, market: _RoundMarketplace, task_id: int, c: ContributorOutcome) -> None:
        s = self.s
        work = self.run_dir / "contributors" / c.name.lower()
        what = "preparing random weights (saboteur)" if c.saboteur else "training"
        dataset = self.dataset
        self.step(f"{c.name} {what} on shard {c.shard_index + 1}/{c.num_shards} ({dataset})...")
        with self.timer.phase("chain"):
            assignment = market.assign_task(task_id, work / "bundle")
        c.submission_id = assignment.submission_id
        # The bundle is the creator's code: it runs in the sandbox, with no signer, key or
        # storage credential in reach and no network; the round sends the result itself.
        env = _contributor_env(c, s.max_samples)
        log_path = work / "training.log"
        with self.timer.phase("training"):
            t0 = time.perf_counter()
            with open(log_path, "w", encoding="utf-8") as log_handle:
                run = sandbox.run_bundle(assignment.bundle_dir, env,
                                         echo=lambda line: print(line, file=log_handle))
            c.train_seconds = round(time.perf_counter() - t0, 2)
        if not run.ok:
            raise RoundError(f"{c.name}'s {run.describe()}; last lines of {log_path}:\n"
                             f"{log_tail(log_path)}")
        try:
            result = sandbox.find_result(run.output_dir)
        except sandbox.BundleError as error:
            raise RoundError(f"{c.name}'s training: {error}") from None
        meta = read_result_metadata(result)
        c.samples, c.dataset = meta.get("samples"), meta.get("dataset")
        train_acc = (meta.get("train_metrics") or {}).get("accuracy")
        with self.timer.phase("chain"):
            market.send_task_result(c.submission_id, result=f"{result.name} ({c.dataset})",
                                    result_path=result, result_storage_type=s.result_storage)
        acc = "" if train_acc is None else f", training accuracy {train_acc:.3f}"
        self.detail(f"{c.samples} samples in {c.train_seconds:.1f}s{acc}; result sent sealed to "
                    f"{s.result_storage} (submission {c.submission_id})")

    # -- 4: validation -------------------------------------------------------------

    def _validate(self, alice: _RoundMarketplace, task_id: int, summary: RoundSummary):
        cm = self.creator_mod
        # The example hook, imported from the same package as the creator's settings
        # (whose threshold and data set this round sets).
        hook_spec = self.s.hook or self.hook
        rule = (f"hook {self.s.hook}" if self.s.hook
                else f"held-out accuracy >= {summary.threshold:.2f}")
        self.step(f"{summary.creator.name} validates {len(summary.contributors)} results "
                  f"(CustomAccept: {rule})...")
        # Addresses may come back from the chain in another SS58 format: match by account.
        by_account = {_account(c.address): c for c in summary.contributors}
        key = keys.load_private_key(self.run_dir / "creator" / "result_key")
        with self.timer.phase("chain"):
            pending = [p for p in alice.list_task_results(task_id, SubmissionStatus.PENDING)
                       if _account(p.contributor) in by_account]
        missing = ({c.name for c in summary.contributors}
                   - {by_account[_account(p.contributor)].name for p in pending})
        if missing:
            raise RoundError(f"no pending result from {', '.join(sorted(missing))}")
        strategy = validation.CustomAccept(hook_spec)
        x, y, _ = cm.held_out_data(dataset=summary.dataset)

        def folder_name(sub) -> str:  # results/<contributor>, as the summary shows them
            c = by_account.get(_account(sub.contributor))
            return c.name.lower() if c is not None else f"submission_{sub.submission_id}"

        with self.timer.phase("validation"):
            # The one validation route: each result's weights are restored into the
            # creator's own initial model (its graph is never loaded), evaluated on her
            # held-out data and judged by the hook; a result that fails is rejected.
            reviews = validation.validate_task_results(
                alice, task_id, strategy, work_dir=self.run_dir / "creator" / "results",
                creator_model=validation.CreatorModel(self.initial_model_dir), private_key=key,
                evaluator=lambda model: cm.evaluate_model(model, x, y),
                folder_name=folder_name)
        decisions: dict[int, Any] = {}
        models: dict[int, Path] = {}
        for review in reviews:
            decisions[review.submission_id] = review.decision
            if review.model_dir is not None:
                models[review.submission_id] = review.model_dir
            c = by_account.get(_account(review.contributor))
            if c is None:  # not one of this round's contributors
                continue
            c.result_dir = None if review.folder is None else str(review.folder)
            accuracy = review.metrics.get("accuracy")
            c.accuracy = None if accuracy is None else float(accuracy)
            c.decision = {"accept": "accepted", "reject": "rejected"}.get(review.verdict, "pending")
            c.reason = review.reason
            shown = "-" if c.accuracy is None else f"{c.accuracy:.3f}"
            self.detail(f"{c.name}: accuracy {shown} -> {review.verdict} ({review.reason})")
        return decisions, models

    # -- 5: federation ---------------------------------------------------------------

    def _federate(self, summary: RoundSummary, models: dict[int, Path]) -> None:
        from .. import federation

        cm = self.creator_mod
        accepted = [c for c in summary.contributors if c.decision == "accepted"]
        self.step(f"Federating the {len(accepted)} accepted models ({summary.policy})...")
        if not accepted:
            self.detail("nothing accepted: no federated model")
            return
        out = self.run_dir / "federated_model"
        with self.timer.phase("federation"):
            dirs = [models[c.submission_id] for c in accepted]
            weights = federation.federate(
                dirs, summary.policy, reference=self.initial_model_dir,
                trim_fraction=self.creator_settings.TRIM_FRACTION,
                max_sample_count=getattr(self.creator_settings, "MAX_SAMPLE_COUNT",
                                         federation.DEFAULT_MAX_SAMPLE_COUNT))
            federation.save_federated_model(self.initial_model_dir, weights, out)
        with self.timer.phase("validation"):
            x, y, _ = cm.held_out_data(dataset=summary.dataset)
            summary.federated_accuracy = float(cm.evaluate_model(cm.load_model(out), x, y)["accuracy"])
        for c in accepted:
            c.federated = True
        summary.federated_model_dir = str(out)
        self.detail(f"federated model ({', '.join(c.name for c in accepted)}): held-out accuracy "
                    f"{summary.federated_accuracy:.3f} (initial {summary.initial_accuracy:.3f}); "
                    f"saved to {out}")

    # -- 6: decisions on-chain, close ---------------------------------------------

    def _settle(self, alice: _RoundMarketplace, task_id: int, summary: RoundSummary,
                decisions: dict[int, Any]) -> None:
        self.step(f"{summary.creator.name} accepts and rejects on-chain in one batch, "
                  "then closes the task...")
        accept = [sid for sid, d in decisions.items() if d.verdict == "accept"]
        reject = {sid: d.reason for sid, d in decisions.items() if d.verdict == "reject"}
        by_sid = {c.submission_id: c for c in summary.contributors}
        # Closing a task pays every result still pending; one the hook could not decide
        # must not be paid by default, so it is rejected, saying why.
        for sid, d in decisions.items():
            if d.verdict not in ("accept", "reject"):
                reject[sid] = f"not validated: {d.reason}"
                by_sid[sid].decision = "rejected"
                by_sid[sid].reason = reject[sid]
        limit = alice.limit("MaxReasonLen")
        reject = {sid: validation.clean_reason(reason, limit) for sid, reason in reject.items()}
        with self.timer.phase("chain"):
            receipt = alice.decide_task_results(accept=accept, reject=reject)
            closed = alice.close_task(task_id)
        paid_events = (receipt.find("ResultAccepted") if receipt else []) + closed.find("ResultAccepted")
        for event in paid_events:
            c = by_sid.get(int(event.attributes["submission_id"]))
            if c is not None:
                c.paid += int(event.attributes["paid"])
        closing = closed.first("TaskClosed").attributes
        summary.escrow_refunded = int(closing["refunded"])
        summary.escrow_paid = sum(c.paid for c in summary.contributors)
        # A rejected contributor may appeal: that reward stays held until the appeal
        # period ends (then anyone runs release_rejection) or the arbiter decides.
        summary.escrow_held_for_appeal = alice.get_task(task_id).escrow
        if reject:  # the rejections landed with the decisions' batch
            summary.appeal_period_ends = receipt.block_number + alice.deadlines().appeal_period
        tok = summary.token
        held = (f"; {_tokens(summary.escrow_held_for_appeal, tok)} stays held for appeals until block "
                f"{summary.appeal_period_ends}" if summary.escrow_held_for_appeal else "")
        self.detail(f"accepted {len(accept)}, rejected {len(reject)}; paid "
                    f"{_tokens(summary.escrow_paid, tok)}, refunded "
                    f"{_tokens(summary.escrow_refunded, tok)} of the escrow on close{held}")

    def _abort(self, alice: _RoundMarketplace, task_id: int, error: BaseException) -> None:
        """After a failure: reject what is pending (closing would pay it) and close the
        task, so the creator's escrow is not left held. Best effort."""
        try:
            pending = alice.list_task_results(task_id, SubmissionStatus.PENDING)
            reason = validation.clean_reason(f"round aborted: {type(error).__name__}",
                                             alice.limit("MaxReasonLen"))
            alice.decide_task_results(reject={p.submission_id: reason for p in pending})
            if alice.get_task(task_id).status.value == "Open":
                alice.close_task(task_id)
            self.say(f"round aborted; task {task_id} closed and its escrow returned")
        except Exception as cleanup_error:  # the original error matters more
            log.warning("could not close task %s after the failure: %s", task_id, cleanup_error)

    @staticmethod
    def _balance(market: Marketplace, address: str) -> Balance:
        data = market.balance(address)
        return Balance(free=int(data.get("free", 0)), reserved=int(data.get("reserved", 0)))


# --------------------------------------------------------------------------- helpers


def _contributor_env(c: ContributorOutcome, max_samples: int) -> dict[str, str]:
    """All a contributor's bundle is told (the sandbox adds its Python, home and output
    folder); the training settings are the creator's, in the bundle's task_settings.json."""
    return {
        "DECENTRALML_SUBMISSION_ID": str(c.submission_id),
        "DECENTRALML_CONTRIBUTOR_ID": c.name.lower(),
        "DECENTRALML_SHARD_INDEX": str(c.shard_index),
        "DECENTRALML_NUM_SHARDS": str(c.num_shards),
        "DECENTRALML_MAX_SAMPLES": str(max_samples or 0),
        "DECENTRALML_SABOTAGE": "random_weights" if c.saboteur else "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }


def _account(address: str) -> str:
    """The account (public key, hex) an SS58 address names, whatever its network prefix."""
    return ss58_decode(address)


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
