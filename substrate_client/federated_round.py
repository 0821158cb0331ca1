"""One full federated round on the local dev chain, end to end.

:func:`run_round` plays every part, each with its own dev account:

1. the dev chain and the storage daemons are made sure to run (or given as URLs);
2. the creator (Alice) generates a result key pair, builds the initial model and
   evaluates it on her held-out data, lays out the contributor bundle (the example
   bundle in ``assets/model_contributor`` plus the model at ``model/``) and creates a
   CustomAccept task on IPFS with one slot and one reward per contributor, results
   sealed to her key;
3. each contributor (Bob, Charlie, Dave honest; Eve a saboteur sending random
   weights) takes a slot, gets the verified bundle, runs its ``start_task.sh`` in the
   sandbox (:mod:`substrate_client.sandbox`: no secret in reach, no network) on its own
   IID shard of the data and sends the SavedModel it left to S3, sealed;
4. the creator validates every pending result through the one validation route
   (:mod:`substrate_client.validation`): downloaded, verified and opened, its weights
   restored into her own initial model (the result's graph is never loaded), evaluated
   on her held-out data and judged by the CustomAccept hook
   (``assets/model_creator/hooks.py:accuracy_threshold``);
5. she federates only the accepted models into a federated SavedModel;
6. she accepts and rejects on-chain in one ``batch_all`` transaction and closes the
   task, which returns the rest of the escrow.

Balances (free and reserved) of every account are read before and after, and every
transaction's fee is recorded per signer, so the summary shows where each token
went. Time is split into phases (:data:`PHASES`); a phase nested in another (the
storage transfer inside a chain call) is counted in the inner phase only.

Run it with ``scripts/run_round.sh`` (installs and starts everything), or::

    python -m substrate_client.federated_round --epochs 1 --policy average
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import devnet, keys, sandbox, validation
from . import storage as storage_mod
from substrateinterface.utils.ss58 import ss58_decode

from .chain import Chain, Receipt, chain_url, connect, load_keypair
from .errors import ConfigError, DecentralMLError, StorageUnavailableError, UserInputError
from .records import StorageType, SubmissionStatus, ValidationStrategy, parse_enum
from .tasks import Marketplace

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Phases the round's time is split into (see :class:`PhaseTimer`).
PHASES = ("setup", "training", "chain", "storage", "validation", "federation")


class RoundError(DecentralMLError):
    """A step of the round failed (a contributor's training, a missing result...)."""


# --------------------------------------------------------------------------- settings


@dataclass
class RoundSettings:
    """What to run. Every field has a default that runs the demo on this machine."""

    #: Where everything of this run goes; default ``./runs/<timestamp>/``. Must not exist yet.
    run_dir: Path | None = None
    #: The node; ``None``: start (or reuse) the local dev chain on ``port``.
    url: str | None = None
    port: int = devnet.DEFAULT_PORT
    #: Storage endpoints; ``None``: ``DECENTRALML_IPFS_API`` / ``DECENTRALML_S3_ENDPOINT``,
    #: else ``scripts/storage.sh up`` starts Kubo and MinIO and says where they are.
    ipfs_api: str | None = None
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    bundle_storage: str = "IPFS"
    result_storage: str = "S3"
    #: Dev account names (``//Name``): the creator, the contributors (one slot and one
    #: IID shard each, in this order) and which contributors send random weights.
    creator: str = "Alice"
    contributors: tuple[str, ...] = ("Bob", "Charlie", "Dave", "Eve")
    saboteurs: tuple[str, ...] = ("Eve",)
    #: Training, as the creator asks contributors to do it.
    epochs: int = 1
    max_samples: int = 0  # 0: each contributor's whole shard
    dataset: str | None = None  # None: the creator's setting (auto: MNIST if cached, else Fashion-MNIST)
    #: Validation and federation; None: the creator's settings (assets/model_creator/settings.py).
    policy: str | None = None
    threshold: float | None = None
    hook: str | None = None  # CustomAccept hook spec; default the example accuracy_threshold
    #: Money: reward per accepted result in the chain's smallest unit (None: 10 tokens).
    reward: int | None = None
    expires_in_blocks: int = 1000
    #: The example task (``model_creator/`` and ``model_contributor/``).
    assets_dir: Path | None = None


# --------------------------------------------------------------------------- summary


@dataclass
class Balance:
    free: int
    reserved: int

    @property
    def total(self) -> int:
        return self.free + self.reserved


@dataclass
class AccountOutcome:
    name: str
    address: str
    balance_before: Balance
    balance_after: Balance | None = None
    fees: int = 0  # transaction fees paid during the round


@dataclass
class ContributorOutcome(AccountOutcome):
    shard_index: int = 0  # 0-based
    num_shards: int = 0
    saboteur: bool = False
    submission_id: int | None = None
    samples: int | None = None
    dataset: str | None = None
    train_seconds: float | None = None
    accuracy: float | None = None  # on the creator's held-out data
    decision: str = "pending"  # accepted | rejected | pending
    reason: str = ""
    federated: bool = False
    paid: int = 0  # reward received from the task's escrow
    result_dir: str | None = None  # where the creator opened the result


@dataclass
class RoundSummary:
    run_dir: str
    chain_url: str
    started_at: str
    token: dict[str, Any]
    task_id: int | None = None
    dataset: str | None = None
    policy: str = "average"
    threshold: float | None = None
    held_out_samples: int | None = None
    reward: int = 0
    max_assignments: int = 0
    escrow: int = 0
    escrow_paid: int = 0
    escrow_refunded: int = 0
    #: Rewards of rejected results, held until their appeal period ends.
    escrow_held_for_appeal: int = 0
    appeal_period_ends: int | None = None
    initial_accuracy: float | None = None
    federated_accuracy: float | None = None
    federated_model_dir: str | None = None
    creator: AccountOutcome | None = None
    contributors: list[ContributorOutcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    summary_path: str | None = None
    chart_path: str | None = None

    def contributor(self, name: str) -> ContributorOutcome:
        for c in self.contributors:
            if c.name.lower() == name.lower():
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form written to ``summary.json`` (see :mod:`round_report`)."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- timing


class PhaseTimer:
    """Wall time per phase; a phase entered inside another is counted only in the inner one."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(PHASES, 0.0)
        self._stack: list[list[Any]] = []  # [name, start of its current slice]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        now = time.perf_counter()
        if self._stack:
            outer = self._stack[-1]
            self.totals[outer[0]] = self.totals.get(outer[0], 0.0) + now - outer[1]
        self._stack.append([name, now])
        try:
            yield
        finally:
            end = time.perf_counter()
            inner = self._stack.pop()
            self.totals[name] = self.totals.get(name, 0.0) + end - inner[1]
            if self._stack:
                self._stack[-1][1] = end


class _TimedBackend:
    """A storage backend whose transfers are counted in the ``storage`` phase."""

    def __init__(self, inner: storage_mod.StorageBackend, timer: PhaseTimer):
        self._inner = inner
        self._timer = timer
        self.storage_type = inner.storage_type

    def put_file(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.put_file(*args, **kwargs)

    def put_stream(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.put_stream(*args, **kwargs)

    def get_file(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.get_file(*args, **kwargs)

    def exists(self, *args, **kwargs):
        with self._timer.phase("storage"):
            return self._inner.exists(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return repr(self._inner)


class _LedgerChain(Chain):
    """A signer's chain connection that adds up the fees of what it submits."""

    def __init__(self, substrate, keypair, fees: dict[str, int]):
        super().__init__(substrate, keypair)
        self._fees = fees

    def submit_call(self, call: Any) -> Receipt:
        receipt = super().submit_call(call)
        self._fees[self.address] = self._fees.get(self.address, 0) + receipt.fee
        return receipt


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


# --------------------------------------------------------------------------- the round


def default_run_dir() -> Path:
    return Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def run_round(settings: RoundSettings, report: Callable[[str], None] = log.info) -> RoundSummary:
    """Run one federated round as described in the module docstring; return its summary.

    ``report`` receives one line per step and a few detail lines (``[3/9] Bob training
    on shard 1/4 (fashion_mnist)...``). The summary is also written to
    ``<run_dir>/summary.json`` with a chart ``<run_dir>/round.png``.
    """
    return _Round(settings, report).run()


class _Round:
    def __init__(self, settings: RoundSettings, report: Callable[[str], None]):
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
        self._log_file = open(self.run_dir / "round.log", "a", encoding="utf-8")
        self._report = report
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
            markets = {n: _RoundMarketplace(_LedgerChain(substrate, kp, self.fees), backends)
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
        from . import round_report

        json_path, chart = round_report.write_report(summary.to_dict(), self.run_dir)
        summary.summary_path, summary.chart_path = str(json_path), str(chart)
        return summary

    # -- services ----------------------------------------------------------------

    def _chain_up(self) -> str:
        if self.s.url:
            return chain_url(self.s.url)
        state = devnet.up(self.s.port)
        self.detail(f"dev chain at {state.url} (block {state.block_number}); log {state.log_file}")
        return state.url

    def _storage_up(self) -> dict[str, _TimedBackend]:
        s = self.s
        ipfs = s.ipfs_api or os.environ.get("DECENTRALML_IPFS_API")
        s3 = s.s3_endpoint or os.environ.get("DECENTRALML_S3_ENDPOINT")
        if not ipfs or not s3:
            exports = start_storage_daemons()
            ipfs = ipfs or exports.get("DECENTRALML_IPFS_API")
            s3 = s3 or exports.get("DECENTRALML_S3_ENDPOINT")
            # boto3 reads S3 credentials from the environment only; use MinIO's unless
            # the caller chose their own.
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                if name in exports and not os.environ.get(name):
                    os.environ[name] = exports[name]
        backends = {
            "IPFS": storage_mod.backend_from_settings("IPFS", api_url=ipfs),
            "S3": storage_mod.backend_from_settings("S3", endpoint_url=s3, bucket=s.s3_bucket),
        }
        return {kind: _TimedBackend(b, self.timer) for kind, b in backends.items()}

    def _load_creator(self):
        assets = Path(self.s.assets_dir or REPO_ROOT / "assets").resolve()
        if not (assets / "model_creator" / "model_creator.py").is_file():
            raise ConfigError(f"no example task in {assets} (expected model_creator/model_creator.py)")
        if str(assets.parent) not in sys.path:
            sys.path.insert(0, str(assets.parent))
        package = assets.name
        creator_mod = importlib.import_module(f"{package}.model_creator.model_creator")
        creator_settings = importlib.import_module(f"{package}.model_creator.settings")
        self.assets = assets
        return creator_mod, creator_settings

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
                             f"{_tail(log_path)}")
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
        hook_spec = self.s.hook or f"{self.assets.name}.model_creator.hooks:accuracy_threshold"
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
        from . import federation

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
        reject = {sid: _clip(reason, alice.limit("MaxReasonLen")) for sid, reason in reject.items()}
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
            reason = _clip(f"round aborted: {type(error).__name__}", alice.limit("MaxReasonLen"))
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


def start_storage_daemons(script: Path | None = None) -> dict[str, str]:
    """Run ``scripts/storage.sh up`` (a no-op when they already run) and return the
    exports of ``scripts/storage.sh env`` (endpoints and MinIO's credentials)."""
    script = Path(script or REPO_ROOT / "scripts" / "storage.sh")
    if not script.is_file():
        raise StorageUnavailableError(
            f"{script} not found; start Kubo and MinIO yourself and pass their URLs "
            "(DECENTRALML_IPFS_API, DECENTRALML_S3_ENDPOINT)")
    up = subprocess.run(["bash", str(script), "up"], capture_output=True, text=True)
    if up.returncode != 0:
        raise StorageUnavailableError(
            f"`{script} up` failed ({up.returncode}):\n{(up.stderr or up.stdout).strip()}")
    env = subprocess.run(["bash", str(script), "env"], capture_output=True, text=True)
    if env.returncode != 0:
        raise StorageUnavailableError(f"`{script} env` failed: {(env.stderr or env.stdout).strip()}")
    exports = {}
    for line in env.stdout.splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            name, _, value = line[len("export "):].partition("=")
            exports[name.strip()] = value.strip().strip("'\"")
    return exports


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


def read_result_metadata(result_dir: Path) -> dict[str, Any]:
    # federation imports TensorFlow: only when a round runs, not when this module loads.
    from .federation import read_result_metadata as read

    return read(result_dir)


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


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _clip(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "..."


def _tokens(amount: int, token: dict[str, Any]) -> str:
    from .round_report import tokens

    return f"{tokens(amount, int(token['decimals']))} {token['symbol']}"


# --------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class RoundOption:
    """One command-line option of a round, as :func:`main` and ``decentralml run_round`` take it."""

    flag: str
    name: str  #: its key for :func:`settings_from_options`
    type: type = str
    help: str | None = None
    #: Where a service is: ``decentralml`` takes these as its global options instead.
    connection: bool = False


#: The round's options; one left out takes its default (see :func:`settings_from_options`).
OPTIONS = (
    RoundOption("--out", "out", Path, "run folder (default ./runs/<timestamp>/)"),
    RoundOption("--epochs", "epochs", int,
                "training epochs per contributor (default DECENTRALML_ROUND_EPOCHS, else 1)"),
    RoundOption("--contributors", "contributors", str,
                "dev accounts, comma-separated (default Bob,Charlie,Dave,Eve)"),
    RoundOption("--saboteurs", "saboteurs", str,
                "contributors that send random weights (default Eve; '' for none)"),
    RoundOption("--policy", "policy", str,
                "average | weighted | median | trimmed_mean (default average)"),
    RoundOption("--threshold", "threshold", float, "held-out accuracy to accept (default 0.5)"),
    RoundOption("--max-samples", "max_samples", int,
                "train on at most this many samples per contributor (0: whole shard)"),
    RoundOption("--dataset", "dataset", str, "auto | mnist | fashion_mnist"),
    RoundOption("--url", "url", str, "the node (default: start/reuse the local dev chain)",
                connection=True),
    RoundOption("--port", "port", int,
                f"port of the local dev chain started without --url (default {devnet.DEFAULT_PORT})"),
    RoundOption("--ipfs-api", "ipfs_api", str, "Kubo RPC API (default: scripts/storage.sh up)",
                connection=True),
    RoundOption("--s3-endpoint", "s3_endpoint", str, "S3 endpoint (default: scripts/storage.sh up)",
                connection=True),
    RoundOption("--s3-bucket", "s3_bucket", str,
                "S3 bucket (default DECENTRALML_S3_BUCKET, else decentralml)", connection=True),
)


def settings_from_options(options: dict[str, Any]) -> RoundSettings:
    """The settings for the options given (keys: the names in :data:`OPTIONS`).

    An option that is missing or ``None`` takes :class:`RoundSettings`' default, but
    ``epochs`` takes ``DECENTRALML_ROUND_EPOCHS``, else 1. ``contributors`` and
    ``saboteurs`` are comma-separated names (``""``: none).
    """
    given = {k: v for k, v in options.items() if v is not None}
    unknown = set(given) - {option.name for option in OPTIONS}
    if unknown:
        raise TypeError(f"unknown round options: {', '.join(sorted(unknown))}")
    if "out" in given:
        given["run_dir"] = given.pop("out")
    for name in ("contributors", "saboteurs"):
        if name in given:
            given[name] = tuple(n.strip() for n in given[name].split(",") if n.strip())
    if "epochs" not in given:
        given["epochs"] = _default_epochs()
    return RoundSettings(**given)


def _default_epochs() -> int:
    text = os.environ.get("DECENTRALML_ROUND_EPOCHS", "1")
    try:
        return int(text)
    except ValueError:
        raise UserInputError(f"DECENTRALML_ROUND_EPOCHS must be a whole number, not {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from . import round_report

    parser = argparse.ArgumentParser(
        prog="python -m substrate_client.federated_round",
        description="Run one federated round on the local dev chain: a creator posts a task, "
                    "contributors train and send results, the creator validates, federates "
                    "the accepted models and pays on-chain.")
    for option in OPTIONS:
        parser.add_argument(option.flag, dest=option.name, type=option.type, help=option.help)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = vars(parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO if args.pop("verbose") else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = run_round(settings_from_options(args),
                            report=lambda line: print(line, flush=True))
    except DecentralMLError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, UserInputError) else 1
    print()
    print(round_report.render_text(summary.to_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
