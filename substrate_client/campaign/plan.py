"""What a campaign is asked to do: :class:`CampaignPlan`, checked before anything is created.

A plan is plain data (JSON in the campaign's journal, so a resumed campaign runs the
plan it started with). :meth:`CampaignPlan.check` refuses a bad plan with a
:class:`~substrate_client.errors.UserInputError` naming the problem, before any upload
or transaction; :meth:`CampaignPlan.check_against_chain` adds the chain's own limits
(read from its constants) once a marketplace is at hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import UserInputError
from ..records import StorageType, ValidationStrategy, parse_enum

__all__ = ["CampaignPlan", "PrivacyPlan", "PLAN_STRATEGIES"]

#: How a campaign's results are decided: by the creator's hook, or paid on arrival.
PLAN_STRATEGIES = (ValidationStrategy.CUSTOM_ACCEPT.value, ValidationStrategy.AUTO_ACCEPT.value)


def _whole(value: Any, what: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UserInputError(f"{what} must be a whole number of at least {least}, got {value!r}")
    return value


def _fraction(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value <= 1:
        raise UserInputError(f"{what} must be a number in (0, 1], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class PrivacyPlan:
    """Differential privacy asked of contributors: each clips its update to ``clip_norm``
    and adds Gaussian noise of ``noise_multiplier * clip_norm``; the campaign reports the
    (epsilon, ``delta``) spent (:func:`substrate_client.federation.privacy_spent`)."""

    clip_norm: float
    noise_multiplier: float
    delta: float

    def check(self) -> None:
        for name in ("clip_norm", "noise_multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise UserInputError(f"privacy {name} must be a finite number greater than 0, got {value!r}")
        if isinstance(self.delta, bool) or not isinstance(self.delta, (int, float)) or not 0 < self.delta < 1:
            raise UserInputError(f"privacy delta must be strictly between 0 and 1, got {self.delta!r}")

    def task_settings(self) -> dict:
        """What contributors read from the round bundle's task_settings.json."""
        return {"clip_norm": float(self.clip_norm), "noise_multiplier": float(self.noise_multiplier)}


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign of ``rounds`` rounds, each a task of ``slots`` slots paying ``reward``
    (planck) per accepted result, which ends once ``min_results`` results are accepted.

    ``bundle`` is the creator's contributor bundle (``start_task.sh``, ``model/`` holding
    the initial model, ``task_settings.json``); each round's bundle is a copy with
    ``model/`` replaced by the model federated in the round before. ``creator_dir`` holds
    the creator's ``model_creator.py`` whose ``held_out_data()`` every model is evaluated
    on. Results are decided by ``hook`` (CustomAccept; ``module:function`` or
    ``file.py:function``) or paid on arrival (``strategy`` AutoAccept), and federated
    with ``policy`` stepped by the server ``optimizer`` (``optimizer_params``: its
    numbers). ``round_blocks`` is a round's deadline, in blocks from its task's creation;
    a round short of ``min_results`` at its deadline is extended once by as much. The
    campaign stops early at ``target_accuracy`` or after ``patience`` rounds without
    improvement. ``result_key_file`` is the private key results are sealed to (its
    public half goes on chain); without one, results travel unsealed.
    """

    bundle: str
    creator_dir: str
    rounds: int
    slots: int
    min_results: int
    reward: int
    policy: str = "average"
    optimizer: str = "fedavg"
    optimizer_params: dict = field(default_factory=dict)
    hook: str | None = None
    strategy: str = ValidationStrategy.CUSTOM_ACCEPT.value
    target_accuracy: float | None = None
    patience: int | None = None
    round_blocks: int = 600
    bundle_storage: str = StorageType.IPFS.value
    result_storage: str = StorageType.S3.value
    question: str = "Train the campaign's model on your own data"
    privacy: PrivacyPlan | None = None
    result_key_file: str | None = None
    trim_fraction: float = 0.1

    # ------------------------------------------------------------------ checking

    def check(self) -> "CampaignPlan":
        """Refuse a bad plan (UserInputError naming the problem); returns the plan with
        its choices spelled as the chain spells them."""
        _whole(self.rounds, "rounds", 1)
        _whole(self.slots, "slots", 1)
        _whole(self.min_results, "min-results", 1)
        if self.min_results > self.slots:
            raise UserInputError(f"min-results ({self.min_results}) is more than the slots of a round "
                                 f"({self.slots}): no round could ever end")
        _whole(self.reward, "the reward", 1)
        _whole(self.round_blocks, "round-blocks", 1)
        if self.patience is not None:
            _whole(self.patience, "patience", 1)
        if self.target_accuracy is not None:
            _fraction(self.target_accuracy, "target-accuracy")
        if not self.question.strip():
            raise UserInputError("the question (what contributors are asked to do) is empty")
        strategy = parse_enum(ValidationStrategy, self.strategy).value
        if strategy not in PLAN_STRATEGIES:
            raise UserInputError(f"a campaign decides results by a hook (CustomAccept) or pays them on "
                                 f"arrival (AutoAccept); {strategy} needs a person at every round")
        if strategy == ValidationStrategy.CUSTOM_ACCEPT.value and not self.hook:
            raise UserInputError("a CustomAccept campaign needs --hook MODULE:FUNCTION to decide its results")
        if strategy == ValidationStrategy.AUTO_ACCEPT.value and self.hook:
            raise UserInputError("an AutoAccept campaign pays results on arrival: it takes no --hook")
        bundle_storage = parse_enum(StorageType, self.bundle_storage).value
        result_storage = parse_enum(StorageType, self.result_storage).value
        self._check_bundle()
        self._check_creator_dir()
        if self.hook:
            from ..validation import load_hook

            load_hook(self.hook_spec())  # the creator's own code: a bad spec is named now
        self._check_federation()
        if self.privacy is not None:
            self.privacy.check()
        if self.result_key_file is not None and not Path(self.result_key_file).expanduser().is_file():
            raise UserInputError(f"result key file {self.result_key_file} does not exist")
        return _replace(self, strategy=strategy, bundle_storage=bundle_storage, result_storage=result_storage)

    def _check_bundle(self) -> None:
        bundle = Path(self.bundle).expanduser()
        if not bundle.is_dir():
            raise UserInputError(f"bundle folder {bundle} does not exist or is not a folder")
        if not (bundle / "start_task.sh").is_file():
            raise UserInputError(f"bundle folder {bundle} has no start_task.sh for contributors to run")
        if not (bundle / "model" / "saved_model.pb").is_file():
            raise UserInputError(f"bundle folder {bundle} has no initial model (model/saved_model.pb)")
        settings = bundle / "task_settings.json"
        if settings.exists():
            from .round_bundle import read_task_settings

            read_task_settings(settings)

    def _check_creator_dir(self) -> None:
        folder = Path(self.creator_dir).expanduser()
        if not (folder / "model_creator.py").is_file():
            raise UserInputError(f"no {folder / 'model_creator.py'}: the creator's folder must hold "
                                 "model_creator.py with held_out_data() to evaluate models on")

    def _check_federation(self) -> None:
        from ..federation import make_policy, make_server_optimizer

        if not 0 <= self.trim_fraction < 0.5:
            raise UserInputError(f"trim-fraction must be in [0, 0.5), got {self.trim_fraction!r}")
        make_server_optimizer(self.optimizer, **dict(self.optimizer_params))
        make_policy(self.policy, self.trim_fraction).check(self.min_results)

    def check_against_chain(self, market) -> None:
        """The chain's own limits (its constants): slots, the reward, a round's length
        and its one extension within a task's longest life, the question's length."""
        most = market.limit("MaxAssignments")
        if self.slots > most:
            raise UserInputError(f"slots ({self.slots}) is more than the chain allows a task ({most})")
        least = market.limit("ExistentialDeposit")
        if self.reward < least:
            raise UserInputError(f"the reward {self.reward} is below the chain's existential deposit ({least})")
        longest = market.limit("MaxTaskDuration")
        if task_lifetime(self.round_blocks) > longest:
            raise UserInputError(
                f"round-blocks {self.round_blocks}: a round's task must last two rounds (one extension) "
                f"and a little more, and a task may last at most {longest} blocks")
        size, limit = len(self.question.strip().encode()), market.limit("MaxQuestionLen")
        if size > limit:
            raise UserInputError(f"the question is {size} bytes; the chain accepts at most {limit}")

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "CampaignPlan":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UserInputError(f"the campaign plan has unknown fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        if values.get("privacy") is not None:
            values["privacy"] = PrivacyPlan(**values["privacy"])
        return cls(**values)

    def hook_spec(self) -> str | None:
        """The hook as :func:`~substrate_client.validation.load_hook` reads it: a file path
        made absolute, so a resumed campaign finds it from any folder."""
        if not self.hook:
            return None
        target, sep, name = self.hook.rpartition(":")
        if sep and (target.endswith(".py") or "/" in target):
            return f"{Path(target).expanduser().resolve()}:{name}"
        return self.hook


#: Blocks a round's task lives past its round's deadline: time to reveal what was
#: committed just before the deadline, decide and close.
CLOSING_BLOCKS = 20


def task_lifetime(round_blocks: int) -> int:
    """How long a round's task lives: its round, one extension as long, and a margin."""
    return 2 * round_blocks + CLOSING_BLOCKS


def _replace(plan: CampaignPlan, **changes) -> CampaignPlan:
    from dataclasses import replace

    return replace(plan, **changes)


def resolved(plan: CampaignPlan) -> CampaignPlan:
    """The plan with its folders and files as absolute paths (it is resumed from anywhere)."""
    def absolute(value: str | None) -> str | None:
        return None if value is None else str(Path(value).expanduser().resolve())

    return _replace(plan, bundle=absolute(plan.bundle), creator_dir=absolute(plan.creator_dir),
                    result_key_file=absolute(plan.result_key_file), hook=plan.hook_spec())
