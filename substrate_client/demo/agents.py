"""The contributors of the main job: one ``decentralml work`` process each, as a
contributor runs it on their own machine, signing with their own dev account.

Each agent is started with ``DECENTRALML_SURI=//Name`` in its environment (never in
its arguments) and ``--json``: it prints one JSON object per step, read here line by
line and kept in ``<name>.log`` beside its work folder (each with ``"at"``, the time it
arrived), with its stderr. :class:`Agents` stops every agent it started when its block
ends, however it ends: Ctrl-C first (an agent finishes its slot in progress), a second
Ctrl-C (it gives the slot up), then a kill of its process group.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import substrate_client

from .. import config
from ..agent.process import work_command

log = logging.getLogger(__name__)

#: Seconds an agent is given after each Ctrl-C before the next step of stopping it.
STOP_GRACE = (20.0, 10.0)
#: The same when the run failed: no slot is worth finishing.
HURRIED_GRACE = (2.0, 10.0)
#: Environment variables that say who signs: the user's own are not passed to an agent.
_SIGNER_VARIABLES = ("DECENTRALML_SURI", "DECENTRALML_KEY_FILE")


@dataclass(frozen=True)
class AgentSpec:
    """One contributor: who signs, which shard of the data it trains on (None: the
    bundle's default, for a saboteur that trains on nothing) and whether it sends
    random weights."""

    name: str
    shard_index: int | None
    num_shards: int
    saboteur: bool = False


@dataclass(frozen=True)
class Connection:
    """Where the chain and the storage are, as every agent is told on its command line."""

    url: str
    ipfs_api: str
    s3_endpoint: str
    s3_bucket: str | None


@dataclass(frozen=True)
class AgentData:
    """What every agent tells its bundle about the data, and where it stores results."""

    partition: str
    max_samples: int
    dataset: str
    result_storage: str = "S3"


@dataclass
class Training:
    """One run of a bundle's ``start_task.sh`` by an agent, as its steps say."""

    task_id: int
    submission_id: int | None
    started: float  # time.monotonic() when the step was read
    ended: float | None = None
    seconds: float | None = None  # as the agent measured the sandboxed run


@dataclass
class _Agent:
    spec: AgentSpec
    process: subprocess.Popen
    log_path: Path
    reader: threading.Thread
    trainings: list[Training] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


def agent_argv(spec: AgentSpec, data: AgentData, campaign: int, creator: str, rounds: int,
               work_dir: Path) -> list[str]:
    """The command line of ``decentralml --json work`` for one contributor (no secret in it;
    where the chain and storage are goes in its environment, :func:`agent_env`)."""
    args = ["--campaign", campaign, "--creator", creator, "--max-rounds", rounds, "--work-dir", work_dir,
            "--contributor-id", spec.name.lower(), "--partition", data.partition, "--dataset", data.dataset,
            "--storage", data.result_storage.lower()]
    if data.max_samples:
        args += ["--max-samples", data.max_samples]
    if spec.shard_index is not None:
        args += ["--shard-index", spec.shard_index, "--num-shards", spec.num_shards]
    if spec.saboteur:
        args.append("--bad-model")
    # Each round has a slot per contributor, so no agent loses a slot race: training
    # starts while the slot is taken.
    args.append("--start-early")
    return work_command(args)


def agent_env(name: str, connection: Connection) -> dict[str, str]:
    """This process's environment for an agent: its own dev account as the signer (the
    user's signer settings left out), where the chain and storage are, this package first
    on the Python path, output unbuffered so that each step arrives when it happens."""
    env = {k: v for k, v in os.environ.items() if k not in _SIGNER_VARIABLES}
    package_root = str(Path(substrate_client.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    where = {"url": connection.url, "ipfs_api": connection.ipfs_api, "s3_endpoint": connection.s3_endpoint,
             "s3_bucket": connection.s3_bucket}
    env.update({config.ENVIRONMENT[key]: value for key, value in where.items() if value})
    env.update(DECENTRALML_SURI=f"//{name.capitalize()}", PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    return env


class Agents:
    """The contributors' agents of one run, started together and always stopped together.

    ::

        with Agents(specs, connection, data, folder) as agents:
            agents.start(campaign=7, creator=alice, rounds=3)
            ...
            agents.trainings_for(task_id)
    """

    def __init__(self, specs: Sequence[AgentSpec], connection: Connection, data: AgentData, folder: Path,
                 on_failure: Callable[[str], None] | None = None):
        self.specs = list(specs)
        self.connection = connection
        self.data = data
        self.folder = Path(folder)
        #: Called (from a reader thread) when an agent exits with an error by itself.
        self.on_failure = on_failure
        self._agents: list[_Agent] = []
        self._lock = threading.Lock()
        self._stopping = False
        self.campaign: int | None = None

    def __enter__(self) -> "Agents":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.stop(hurry=kind is not None)

    # ------------------------------------------------------------------ starting

    def start(self, campaign: int, creator: str, rounds: int) -> None:
        """Start one agent per contributor, each working only on ``campaign``'s rounds
        by ``creator`` and stopping after ``rounds`` results."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.campaign = campaign
        self._stopping = False
        for spec in self.specs:
            work_dir = self.folder / spec.name.lower()
            log_path = self.folder / f"{spec.name.lower()}.log"
            argv = agent_argv(spec, self.data, campaign, creator, rounds, work_dir)
            errors = open(log_path, "a", encoding="utf-8")
            try:
                process = subprocess.Popen(argv, env=agent_env(spec.name, self.connection), stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=errors, text=True,
                                           start_new_session=True)
            finally:
                errors.close()  # the child has its own copy
            agent = _Agent(spec, process, log_path, threading.Thread())
            agent.reader = threading.Thread(target=self._read, args=(agent,), daemon=True,
                                            name=f"agent-{spec.name.lower()}")
            agent.reader.start()
            self._agents.append(agent)

    def _read(self, agent: _Agent) -> None:
        """Keep every line of the agent's output in its log; note its trainings."""
        with open(agent.log_path, "a", encoding="utf-8") as out:
            for line in agent.process.stdout:
                now = time.monotonic()
                try:
                    step = json.loads(line)
                except ValueError:
                    step = None
                if isinstance(step, dict):  # kept with the time it arrived
                    out.write(json.dumps({"at": round(time.time(), 3), **step}, ensure_ascii=True) + "\n")
                    self._note(agent, step, now)
                else:
                    out.write(line)
                out.flush()
        code = agent.process.wait()
        if code != 0 and not self._stopping and self.on_failure is not None:
            self.on_failure(agent.spec.name)

    def _note(self, agent: _Agent, step: dict[str, Any], now: float) -> None:
        kind, task_id = step.get("step"), step.get("task_id")
        with self._lock:
            agent.steps.append(step)
            if kind == "train" and isinstance(task_id, int):
                agent.trainings.append(Training(task_id, step.get("submission_id"), now))
            elif kind == "trained" and agent.trainings and agent.trainings[-1].task_id == task_id:
                training = agent.trainings[-1]
                training.ended = now
                seconds = step.get("seconds")
                training.seconds = float(seconds) if isinstance(seconds, (int, float)) else None

    # ------------------------------------------------------------------ what they did

    def trainings_for(self, task_id: int) -> dict[str, Training]:
        """Each agent's run of the task's bundle (by contributor name), ended or not."""
        with self._lock:
            return {a.spec.name: t for a in self._agents for t in a.trainings if t.task_id == task_id}

    def failures(self) -> list[str]:
        """The agents that stopped on their own with an error, and why (their last step)."""
        failed = []
        for agent in self._agents:
            code = agent.process.poll()
            if code not in (None, 0):
                with self._lock:
                    last = agent.steps[-1].get("message", "") if agent.steps else ""
                failed.append(f"{agent.spec.name}'s agent exited with status {code}"
                              + (f" ({last})" if last else "") + f"; its log: {agent.log_path}")
        return failed

    def running(self) -> list[str]:
        return [a.spec.name for a in self._agents if a.process.poll() is None]

    # ------------------------------------------------------------------ stopping

    def stop(self, hurry: bool = False) -> dict[str, int]:
        """Stop every agent still running (see the module's docstring); their exit codes.
        ``hurry`` (the run failed): a slot in progress is given up rather than finished."""
        self._stopping = True
        for grace in (HURRIED_GRACE if hurry else STOP_GRACE):
            alive = [a for a in self._agents if a.process.poll() is None]
            for agent in alive:
                with _suppress_gone():
                    agent.process.send_signal(signal.SIGINT)
            deadline = time.monotonic() + grace
            for agent in alive:
                with _suppress_gone():
                    agent.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for agent in self._agents:
            if agent.process.poll() is None:
                log.warning("%s's agent did not stop; killing it", agent.spec.name)
                with _suppress_gone():
                    os.killpg(agent.process.pid, signal.SIGKILL)
                agent.process.wait()
            agent.reader.join(timeout=5)
        codes = {a.spec.name: a.process.returncode for a in self._agents}
        self._agents = []
        return codes


class _suppress_gone:
    """Ignore an agent that has already gone (or is still going after the wait)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        return kind is not None and issubclass(kind, (ProcessLookupError, subprocess.TimeoutExpired))
