"""Server optimizers: how a round's aggregate becomes the next global model.

A policy (:mod:`.policies`) combines the contributors' values of a variable into one,
the *aggregate*. A server optimizer takes a step from the previous round's global
model towards it, in the manner of Reddi et al., "Adaptive Federated Optimization"
(2021): the round's *pseudo-gradient* is ``previous - aggregate``, and

* :class:`FedAvg`: the aggregate is the new model (no state: today's behaviour);
* :class:`FedAvgM` (Hsu et al., 2019): server momentum, in the convention of
  ``torch.optim.SGD`` and Flower's ``FedAvgM``::

      m = momentum * m + g;   new = previous - lr * m

* :class:`FedAdam` (Reddi et al.; as Flower's ``FedAdam``, with no bias correction,
  the moments starting at zero)::

      m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g**2
      new = previous - lr * m / (sqrt(v) + tau)

They compose with any policy: :class:`ServerOptimized` is the policy of one round,
the given policy's aggregate stepped by the optimizer from the previous global model::

    optimizer = FedAdam(lr=0.01)                          # round 1, or
    optimizer = ServerOptimizer.load(state_file)          # a campaign resumed
    policy = ServerOptimized("trimmed_mean", optimizer, previous=global_weights)
    weights = federation.federate(accepted, policy, reference=Path("model"))
    optimizer.save(state_file)                            # with the round's model

``previous`` holds the global model the round's contributors started from, by
checkpoint key (the :class:`~.combine.FederatedWeights` of the round before, or the
creator's model's weights for round 1). The optimizer keeps its state (``m``, ``v``)
per variable from round to round; :meth:`ServerOptimizer.save` writes it, with its
parameters, to one ``.npz`` file that :meth:`ServerOptimizer.load` reads back without
pickle, so a creator killed between rounds resumes exactly where it was.

Only floating-point variables are stepped; integer ones (counters) take the aggregate
as it is. Pure numpy: importing this module does not import TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Dict, Mapping, Optional, Set, Tuple, Type, Union

import numpy as np

from ..errors import FederationError, UserInputError
from ..files import write_atomically
from .policies import Policy, make_policy

__all__ = [
    "ServerOptimizer",
    "FedAvg",
    "FedAvgM",
    "FedAdam",
    "SERVER_OPTIMIZERS",
    "make_server_optimizer",
    "ServerOptimized",
]

PathLike = Union[str, "os.PathLike[str]"]

#: What a state file says it is (its ``state.json`` entry), and the layout's version.
STATE_FORMAT = "decentralml-server-optimizer"
STATE_VERSION = 1
_META_ENTRY = "state.json"


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise UserInputError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _positive(value: Any, what: str) -> float:
    number = _number(value, what)
    if number <= 0:
        raise UserInputError(f"{what} must be greater than 0, got {value!r}")
    return number


def _decay(value: Any, what: str) -> float:
    number = _number(value, what)
    if not 0.0 <= number < 1.0:
        raise UserInputError(f"{what} must be in [0, 1), got {value!r}")
    return number


class ServerOptimizer(ABC):
    """A step from the previous global model towards a round's aggregate, variable by variable.

    Subclasses name their per-variable state in ``slots`` and implement
    :meth:`_step`. :meth:`update` computes one variable's step without changing the
    optimizer; :meth:`advance` makes a whole round's new state the optimizer's, at
    once, so a round that fails half-way leaves the optimizer as it was.
    """

    name: ClassVar[str] = ""
    #: The arrays kept per variable from round to round (each the variable's shape).
    slots: ClassVar[Tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._state: Dict[str, Dict[str, np.ndarray]] = {}
        #: How many rounds this optimizer has stepped.
        self.rounds = 0

    @property
    @abstractmethod
    def params(self) -> Dict[str, float]:
        """The parameters, as the constructor takes them (what a state file records)."""

    @abstractmethod
    def _step(self, previous: np.ndarray, aggregate: np.ndarray, state: Dict[str, np.ndarray]) -> np.ndarray:
        """The new value of a variable from its ``previous`` value and the round's
        ``aggregate``; updates ``state`` (fresh arrays of the slots, zeros in the first
        round) in place. The pseudo-gradient is ``previous - aggregate``."""

    def state(self, key: str) -> Dict[str, np.ndarray]:
        """The state kept for the variable ``key`` (empty before its first round)."""
        return dict(self._state.get(key, {}))

    def update(self, key: str, previous: Any, aggregate: Any) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
        """(new value, new state) of the variable ``key``; the optimizer itself is not changed.

        ``previous`` is the variable's value in the previous global model, ``aggregate``
        the policy's combination of the contributors' values. The new value has the
        aggregate's dtype.
        """
        prev = np.asarray(previous)
        agg = np.asarray(aggregate)
        if prev.shape != agg.shape:
            raise FederationError(f"{_name(key)} has shape {list(agg.shape)} in the aggregate but "
                                  f"{list(prev.shape)} in the previous global model")
        if prev.dtype.kind in "iu" or agg.dtype.kind not in "f":
            return agg, {}  # counters: nothing to step
        if prev.dtype.kind != "f":
            raise FederationError(f"{_name(key)} is {prev.dtype} in the previous global model, not a number")
        if not _finite(prev):
            raise FederationError(f"{_name(key)} holds values that are not finite in the previous global model")
        work = agg.dtype
        prev = prev.astype(work, copy=False)
        state = {}
        for slot in self.slots:
            kept = self._state.get(key, {}).get(slot)
            if kept is None:
                state[slot] = np.zeros(agg.shape, work)
            elif kept.shape != agg.shape:
                raise FederationError(f"the {self.name} state of {_name(key)} has shape {list(kept.shape)}, "
                                      f"the model's is {list(agg.shape)}: the state belongs to another model")
            else:
                state[slot] = kept.astype(work, copy=True)
        with np.errstate(over="ignore", invalid="ignore"):
            new = np.asarray(self._step(prev, agg, state), dtype=work)
        if not _finite(new):
            raise FederationError(f"the {self.name} step of {_name(key)} is not finite (NaN or infinity)")
        return new, state

    def advance(self, states: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Make a round's new states (from :meth:`update`, by variable) the optimizer's."""
        for key, state in states.items():
            if state:
                self._state[key] = dict(state)
        self.rounds += 1

    def _rewind(self, rounds: int, states: Mapping[str, Optional[Dict[str, np.ndarray]]]) -> None:
        """Undo :meth:`advance`: the round count and each variable's state as they were."""
        for key, state in states.items():
            if state is None:
                self._state.pop(key, None)
            else:
                self._state[key] = state
        self.rounds = rounds

    def apply(self, previous: Mapping[str, Any], aggregate: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        """A whole round at once: the new global model from ``previous`` and the round's
        ``aggregate`` (both by variable, with the same keys). The state moves on only if
        every variable's step succeeds."""
        missing = set(aggregate).symmetric_difference(previous)
        if missing:
            raise FederationError(f"the aggregate and the previous global model differ in variables "
                                  f"{', '.join(sorted(_name(k) for k in missing)[:3])}")
        new: Dict[str, np.ndarray] = {}
        states: Dict[str, Dict[str, np.ndarray]] = {}
        for key, value in aggregate.items():
            new[key], states[key] = self.update(key, previous[key], value)
        self.advance(states)
        return new

    # ----------------------------------------------------------------- state file

    def save(self, path: PathLike) -> Path:
        """Write the parameters, the round count and every variable's state to ``path``
        (one ``.npz`` file, replaced atomically: a kill leaves the old file or the new)."""
        path = Path(path)
        keys = sorted(self._state)
        meta = {"format": STATE_FORMAT, "version": STATE_VERSION, "optimizer": self.name,
                "params": self.params, "rounds": self.rounds, "variables": keys}
        arrays = {_META_ENTRY: np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
        for i, key in enumerate(keys):
            for slot in self.slots:
                arrays[f"{i}.{slot}"] = self._state[key][slot]
        return write_atomically(path, lambda out: np.savez(out, **arrays))

    @classmethod
    def load(cls, path: PathLike) -> "ServerOptimizer":
        """The optimizer a state file written by :meth:`save` holds.

        Read with ``allow_pickle=False``: nothing in the file is deserialized as code.
        On a subclass (``FedAdam.load(...)``) a file of another optimizer is refused.
        """
        path = Path(path)
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with loaded as npz:
                entries = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise FederationError(f"cannot read the server optimizer state {path}: {exc}") from exc
        optimizer = _from_entries(entries, path)
        if cls is not ServerOptimizer and not isinstance(optimizer, cls):
            raise FederationError(f"{path} holds the state of {optimizer.name}, not of {cls.name}")
        return optimizer

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{type(self).__name__}({params})"


def _finite(value: np.ndarray) -> bool:
    return not value.size or bool(np.isfinite(value.min()) and np.isfinite(value.max()))


def _name(key: str) -> str:
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    return repr(key[: -len(suffix)] if key.endswith(suffix) else key)


def _from_entries(entries: Dict[str, np.ndarray], path: Path) -> ServerOptimizer:
    def bad(problem: str) -> FederationError:
        return FederationError(f"{path} is not a server optimizer state: {problem}")

    raw = entries.get(_META_ENTRY)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise bad(f"no {_META_ENTRY}")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"{_META_ENTRY} is not JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        raise bad(f"its {_META_ENTRY} does not name the format {STATE_FORMAT!r}")
    if meta.get("version") != STATE_VERSION:
        raise bad(f"version {meta.get('version')!r}, this client reads version {STATE_VERSION}")
    name = meta.get("optimizer")
    kind = SERVER_OPTIMIZERS.get(name) if isinstance(name, str) else None
    params, rounds, keys = meta.get("params"), meta.get("rounds"), meta.get("variables")
    if kind is None:
        raise bad(f"unknown optimizer {meta.get('optimizer')!r}")
    if not isinstance(params, dict) or set(params) != set(kind(**{}).params):
        raise bad(f"the parameters {params!r} are not those of {kind.name}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise bad(f"the round count {rounds!r} is not a whole number")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
        raise bad("its variables are not a list of distinct names")
    try:
        optimizer = kind(**params)  # checks the parameters' values
    except UserInputError as exc:
        raise bad(str(exc)) from exc
    optimizer.rounds = rounds
    expected = {_META_ENTRY} | {f"{i}.{slot}" for i in range(len(keys)) for slot in kind.slots}
    if set(entries) != expected:
        raise bad(f"its entries are not those of {len(keys)} variables of {kind.name}")
    for i, key in enumerate(keys):
        state = {slot: entries[f"{i}.{slot}"] for slot in kind.slots}
        shapes = {value.shape for value in state.values()}
        if len(shapes) > 1 or any(value.dtype.kind != "f" for value in state.values()):
            raise bad(f"the state of {_name(key)} is not floating-point arrays of one shape")
        if any(value.size and not np.isfinite(value).all() for value in state.values()):
            raise bad(f"the state of {_name(key)} holds values that are not finite")
        optimizer._state[key] = state
    return optimizer


class FedAvg(ServerOptimizer):
    """The aggregate is the new global model (no server step, no state)."""

    name = "fedavg"

    @property
    def params(self) -> Dict[str, float]:
        return {}

    def _step(self, previous: np.ndarray, aggregate: np.ndarray, state: Dict[str, np.ndarray]) -> np.ndarray:
        return aggregate


class FedAvgM(ServerOptimizer):
    """Server momentum (Hsu et al., 2019): ``m = momentum * m + g; new = previous - lr * m``.

    ``lr`` 1 and ``momentum`` 0 is FedAvg.
    """

    name = "fedavgm"
    slots = ("momentum",)

    def __init__(self, lr: float = 1.0, momentum: float = 0.9):
        super().__init__()
        self.lr = _positive(lr, "the server learning rate lr")
        self.momentum = _decay(momentum, "momentum")

    @property
    def params(self) -> Dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum}

    def _step(self, previous: np.ndarray, aggregate: np.ndarray, state: Dict[str, np.ndarray]) -> np.ndarray:
        m = state["momentum"]
        m *= self.momentum
        m += previous - aggregate
        return previous - self.lr * m


class FedAdam(ServerOptimizer):
    """Adam on the server (Reddi et al., 2021), as Flower's ``FedAdam``: moments from
    zero, no bias correction; ``tau`` bounds how large a step a small ``v`` allows.

    ``m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g**2;
    new = previous - lr * m / (sqrt(v) + tau)``.
    """

    name = "fedadam"
    slots = ("m", "v")

    def __init__(self, lr: float = 0.1, beta1: float = 0.9, beta2: float = 0.99, tau: float = 1e-3):
        super().__init__()
        self.lr = _positive(lr, "the server learning rate lr")
        self.beta1 = _decay(beta1, "beta1")
        self.beta2 = _decay(beta2, "beta2")
        self.tau = _positive(tau, "tau")

    @property
    def params(self) -> Dict[str, float]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "tau": self.tau}

    def _step(self, previous: np.ndarray, aggregate: np.ndarray, state: Dict[str, np.ndarray]) -> np.ndarray:
        gradient = previous - aggregate
        m, v = state["m"], state["v"]
        m *= self.beta1
        m += (1 - self.beta1) * gradient
        v *= self.beta2
        v += (1 - self.beta2) * np.square(gradient)
        return previous - self.lr * m / (np.sqrt(v) + self.tau)


SERVER_OPTIMIZERS: Dict[str, Type[ServerOptimizer]] = {
    "fedavg": FedAvg,
    "fedavgm": FedAvgM,
    "fedadam": FedAdam,
}


def make_server_optimizer(optimizer: Union[str, ServerOptimizer], **params: float) -> ServerOptimizer:
    """The optimizer named ``optimizer`` (one of :data:`SERVER_OPTIMIZERS`) with ``params``,
    or ``optimizer`` itself."""
    if isinstance(optimizer, ServerOptimizer):
        return optimizer
    name = str(optimizer).strip().lower().replace("-", "").replace("_", "")
    kind = SERVER_OPTIMIZERS.get(name)
    if kind is None:
        raise UserInputError(f"unknown server optimizer {optimizer!r}; choose one of: {', '.join(SERVER_OPTIMIZERS)}")
    unknown = set(params) - set(kind().params)
    if unknown:
        raise UserInputError(f"{kind.name} takes no parameter {', '.join(sorted(unknown))}; "
                             f"its parameters: {', '.join(kind().params) or 'none'}")
    return kind(**params)


class ServerOptimized(Policy):
    """The policy of one round: ``policy``'s aggregate, stepped by ``optimizer`` from ``previous``.

    ``previous`` is the global model the round started from, by checkpoint key (for
    models in memory, by variable name), holding every variable the round federates.
    Federation calls :meth:`combine` once per variable; the new state of each is held
    here until every numeric variable of ``previous`` has been combined, and only then
    becomes the optimizer's (so a federation that fails half-way leaves the optimizer as
    it was; a model variable that ``previous`` lacks undoes the round). One object
    serves one federation: make a new one, with the new global model as ``previous``,
    for the next round.
    """

    def __init__(self, policy: Union[str, Policy], optimizer: Union[str, ServerOptimizer],
                 previous: Mapping[str, Any], trim_fraction: float = 0.1):
        self.policy = make_policy(policy, trim_fraction)
        self.optimizer = make_server_optimizer(optimizer)
        self.previous = dict(previous)
        self.name = f"{self.policy.name or type(self.policy).__name__}+{self.optimizer.name}"
        self.needs_sample_counts = self.policy.needs_sample_counts
        self.streams_values = self.policy.streams_values
        # federation passes strings and booleans through without a policy
        self._expected: Set[str] = {k for k, v in self.previous.items() if np.asarray(v).dtype.kind in "fiu"}
        self._pending: Dict[str, Dict[str, np.ndarray]] = {}
        self._round = self.optimizer.rounds
        self._undo: Optional[Tuple[int, Dict[str, Optional[Dict[str, np.ndarray]]]]] = None
        #: Whether every numeric variable of ``previous`` has been combined (the
        #: optimizer has then moved on to the next round).
        self.finished = False

    def check(self, num_models: int) -> None:
        self.policy.check(num_models)

    def aggregate(self, values, sample_counts) -> np.ndarray:  # type: ignore[no-untyped-def]
        """The policy's aggregate, with no server step (which needs the variable's key)."""
        return self.policy.aggregate(values, sample_counts)

    def combine(self, key, values, sample_counts) -> np.ndarray:  # type: ignore[no-untyped-def]
        if key not in self.previous:
            # the model has a variable the previous global model lacks: if the round was
            # already taken as complete, it was not, and the optimizer goes back to before it
            if self._undo is not None:
                self.optimizer._rewind(*self._undo)
                self._undo = None
                self.finished = False
            raise FederationError(f"the previous global model has no variable {_name(key)}")
        if self.finished:
            raise FederationError(f"this round of {self.name} is finished: make a new ServerOptimized, "
                                  "with the new global model as previous, for the next round")
        if key in self._pending:
            raise FederationError(f"{_name(key)} was combined twice: make a new ServerOptimized for each "
                                  "federation")
        aggregate = self.policy.combine(key, values, sample_counts)
        new, state = self.optimizer.update(key, self.previous[key], aggregate)
        self._pending[key] = state
        if self._expected.issubset(self._pending):
            if self.optimizer.rounds != self._round:
                raise FederationError(f"{self.optimizer!r} stepped another round meanwhile: "
                                      "one optimizer serves one round at a time")
            self._undo = (self.optimizer.rounds, {k: self.optimizer._state.get(k) for k in self._pending})
            self.optimizer.advance(self._pending)
            self._pending = {}
            self.finished = True
        return new

    def __repr__(self) -> str:
        return f"ServerOptimized({self.policy!r}, {self.optimizer!r})"
