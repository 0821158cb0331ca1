"""Campaigns: training's share of a round, and many contributor agents on one campaign.

Two parts, each against a dev chain, Kubo and MinIO the benchmark starts on free ports.

``demo``: the main job (``decentralml run_round``: a campaign by Alice in-process through
``substrate_client.campaign``, each contributor a ``decentralml work`` process) at the
demo settings. Per round: wall, training (the contributors' ``start_task.sh``), the
creator's storage, chain, validation, decisions, federation and close, the agents' side of
the wait, the rest, and the share of everything that is not training over training
(goal: at most 15%); round 1 against later ones (setup is paid once per campaign).

``scale``: N contributor agents (``decentralml work``, each its own process with its own
account in ``DECENTRALML_SURI``, its own work and state folders) on one campaign of a few
rounds, N slots a round and ``min_results`` N, run by //Alice in-process through
``run_campaign``, for N in 10, 25, 50, 100 (smoke: 3). The task is tiny on purpose, so
that what is measured is everything around training: its ``start_task.sh`` copies the
bundle's model (a 4-input, 3-class Dense layer) as its result, no TensorFlow in the
sandbox. Each result is sealed to the creator's key (a fresh ephemeral key per result, so
no two stored results are alike) and judged by the creator's CustomAccept hook, which
accepts a result whose held-out accuracy is a finite number. The accounts //Agent1..N
are funded from //Alice in one ``Utility.batch_all``. Per N: the wall time of each round,
the creator's time outside waiting for results (by phase), that time per accepted
result, the results accepted against the slots (missed tasks), every nonce or priority
error found in the agents' logs, the agents' peak memory and CPU, and the load.

The creator's phases are timed by wrapping the runner's own steps in timers (nothing
else changes): a step inside another counts only in the inner one.

    python -m bench.campaign [--smoke] [--parts demo,scale] [--sizes 10,25,50,100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench import common
from bench.common import log

NAME = "campaign"
UNIT = 10**12
#: The creator's per-result time at the largest N over that at the smallest: linear enough.
LINEAR_FACTOR = 1.5
#: What a nonce or transaction-priority problem looks like in an agent's output.
ERROR_PATTERN = re.compile(
    r"nonce|priority|outdated|stale|future transaction|invalid transaction|temporarily banned|"
    r"\b101[0-4]\b", re.IGNORECASE)
#: Phases of the creator's round, in the order shown; ``waiting`` is time waiting for results.
CREATOR_PHASES = ("storage", "chain", "validation", "decisions", "federation", "close")
PARTS = ("demo", "scale")
#: Everything that is not training, at most this share of training, per round (demo settings).
DEMO_GOAL = 0.15

# --------------------------------------------------------------------------- the tiny task

START_SCRIPT = """\
#!/usr/bin/env bash
# Trains nothing: the bundle's model is the result (sealed with a fresh key when sent).
set -euo pipefail
cd "$(dirname "$0")"
out="$DECENTRALML_OUTPUT_DIR/model_$DECENTRALML_CONTRIBUTOR_ID"
cp -r model "$out"
printf '{"samples": 1, "contributor_id": "%s"}\\n' "$DECENTRALML_CONTRIBUTOR_ID" > "$out/decentralml_result.json"
echo "result in $out"
"""

CREATOR_MODULE = """\
import numpy as np


def held_out_data():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    kernel = rng.normal(size=(4, 3)).astype(np.float32)
    return x, np.argmax(x @ kernel, axis=1).astype(np.int64), "synthetic"
"""

HOOKS_MODULE = """\
import math

from substrate_client.validation import ACCEPT, REJECT, Decision


def finite_accuracy(model, submission):
    accuracy = submission.metrics.get("accuracy")
    good = isinstance(accuracy, float) and math.isfinite(accuracy)
    return Decision(submission.submission_id, ACCEPT if good else REJECT, f"held-out accuracy {accuracy}")
"""


def make_task_files(root: Path) -> dict[str, Path | str]:
    """The creator's bundle (start_task.sh, model/, task_settings.json), her folder
    (model_creator.py, hooks.py) and her result key. Needs TensorFlow (the model)."""
    import numpy as np

    from substrate_client import keys
    from substrate_client.tensorflow_setup import load_tensorflow

    tf = load_tensorflow()
    creator = root / "creator"
    creator.mkdir(parents=True)
    (creator / "model_creator.py").write_text(CREATOR_MODULE)
    (creator / "hooks.py").write_text(HOOKS_MODULE)
    bundle = root / "bundle"
    bundle.mkdir()
    (bundle / "start_task.sh").write_text(START_SCRIPT)
    (bundle / "start_task.sh").chmod(0o755)
    (bundle / "task_settings.json").write_text(json.dumps({"EPOCHS": 1, "MODEL_NAME": "tiny"}))
    model = tf.keras.Sequential([tf.keras.layers.Input((4,)), tf.keras.layers.Dense(3)])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.set_weights([np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32) * 0.1,
                       np.zeros(3, np.float32)])
    model.save(str(bundle / "model"))
    keys.generate_keypair(root / "result_key")
    return {"bundle": bundle, "creator_dir": creator, "hook": f"{creator / 'hooks.py'}:finite_accuracy",
            "result_key": root / "result_key"}


def agent_uri(index: int) -> str:
    return f"//Agent{index}"


# --------------------------------------------------------------------------- the creator's timers


class PhaseTimer:
    """Seconds per phase of wrapped calls; a wrapped call inside another counts only in
    the inner one (the outer gets its own time only). Per thread: calls in two threads
    at once (the decisions' batch while the results are federated) both count."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: Counter = Counter()
        #: The same, by wrapped function ("phase:name"), to tell which call of a phase costs.
        self.function_totals: dict[str, float] = defaultdict(float)
        self.function_calls: Counter = Counter()
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, phase: str, fn):
        name = f"{phase}:{getattr(fn, '__name__', 'call')}"

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            children = self._local.__dict__.setdefault("children", [])
            children.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = children.pop()
                with self._lock:
                    self.totals[phase] += elapsed - inner
                    self.calls[phase] += 1
                    self.function_totals[name] += elapsed - inner
                    self.function_calls[name] += 1
                if children:
                    children[-1] += elapsed
        return timed

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        with self._lock:
            return dict(self.totals), dict(self.calls)

    def function_snapshot(self) -> dict[str, tuple[float, int]]:
        with self._lock:
            return {name: (self.function_totals[name], self.function_calls[name]) for name in self.function_totals}


def instrument(timer: PhaseTimer, rounds_log: list[dict]) -> None:
    """Wrap the campaign runner's steps (and the marketplace's reads, for every
    marketplace of this process) in ``timer``; each round's phases, wall time and call
    counts are appended to ``rounds_log``."""
    from substrate_client import storage as storage_mod
    from substrate_client import validation
    from substrate_client.campaign import rounds
    from substrate_client.chain import Chain
    from substrate_client.marketplace import Marketplace
    from substrate_client.validation import route

    rounds.wait_for_next_block = timer.wrap("waiting", rounds.wait_for_next_block)
    rounds.wait_for_task_change = timer.wrap("waiting", rounds.wait_for_task_change)
    rounds.build_round_bundle = timer.wrap("storage", rounds.build_round_bundle)
    storage_mod.upload_folder = timer.wrap("storage", storage_mod.upload_folder)
    route.receive_result = timer.wrap("storage", route.receive_result)
    rounds.create_round_task = timer.wrap("chain", rounds.create_round_task)
    rounds.time_out_silent_slots = timer.wrap("chain", rounds.time_out_silent_slots)
    validation.validate_task_results = timer.wrap("validation", validation.validate_task_results)
    validation.submit_decisions = timer.wrap("decisions", validation.submit_decisions)
    rounds._Campaign._federation = timer.wrap("federation", rounds._Campaign._federation)
    rounds._Campaign._close = timer.wrap("close", rounds._Campaign._close)
    for name in ("list_task_results", "get_task", "get_submission", "result_binding", "campaign_rounds"):
        setattr(Marketplace, name, timer.wrap("chain", getattr(Marketplace, name)))
    Chain.block_number = timer.wrap("chain", Chain.block_number)

    round_fn = rounds._Campaign._round

    @functools.wraps(round_fn)
    def timed_round(self, record):
        before, calls_before = timer.snapshot()
        functions_before = timer.function_snapshot()
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            return round_fn(self, record)
        finally:
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            after, calls_after = timer.snapshot()
            functions = {}
            for name, (seconds, calls) in timer.function_snapshot().items():
                seconds_before, calls_before_fn = functions_before.get(name, (0.0, 0))
                if calls > calls_before_fn:
                    functions[name] = [round(seconds - seconds_before, 4), calls - calls_before_fn]
            rounds_log.append({
                "round": record.round, "task_id": record.task_id, "wall": round(wall, 3),
                "cpu": round(cpu, 3),
                "phases": {k: round(after.get(k, 0.0) - before.get(k, 0.0), 4) for k in after},
                "calls": {k: calls_after.get(k, 0) - calls_before.get(k, 0) for k in calls_after},
                "functions": functions,
            })

    rounds._Campaign._round = timed_round


# --------------------------------------------------------------------------- workers


def _market(args, suri: str):
    from substrate_client.marketplace import Marketplace

    return Marketplace.connect(args.url, suri=suri, api_url=args.ipfs_api, endpoint_url=args.s3_endpoint,
                               bucket=args.s3_bucket)


def worker_prepare(args) -> dict[str, Any]:
    """Fund //Agent1..``--fund`` from //Alice (those short of money), in one batch; the id
    the next campaign will get."""
    from substrate_client.chain import load_keypair

    market = _market(args, "//Alice")
    chain = market.chain
    funded = []
    addresses = [load_keypair(agent_uri(i)).ss58_address for i in range(1, args.fund + 1)]
    short = [a for a in addresses if chain.free_balance(a) < args.agent_funds // 2]
    seconds = 0.0
    if short:
        start = time.perf_counter()
        chain.submit_batch([chain.call("transfer_keep_alive", {"dest": a, "value": args.agent_funds}, module="Balances")
                            for a in short])
        seconds = time.perf_counter() - start
        funded = short
    next_campaign = chain.query("NextCampaignId")
    return {"next_campaign": int(next_campaign or 0), "creator": chain.address, "funded": len(funded),
            "fund_seconds": round(seconds, 3), "addresses": addresses}


def worker_creator(args) -> dict[str, Any]:
    """Alice's campaign: the tiny task, N slots, min_results N, timed by phase."""
    from substrate_client.campaign import CampaignPlan, run_campaign

    run_dir = Path(args.run_dir)
    lines: list[tuple[float, str]] = []
    started = time.perf_counter()

    def report(text: str) -> None:
        lines.append((round(time.perf_counter() - started, 3), text))
        if args.verbose:
            log(f"creator: {text}")

    files = make_task_files(run_dir)
    market = _market(args, "//Alice")
    next_campaign = int(market.chain.query("NextCampaignId") or 0)
    if next_campaign != args.expect_campaign:
        raise SystemExit(f"the next campaign is {next_campaign}, not {args.expect_campaign} the agents wait for")
    timer = PhaseTimer()
    rounds_log: list[dict] = []
    instrument(timer, rounds_log)
    plan = CampaignPlan(bundle=str(files["bundle"]), creator_dir=str(files["creator_dir"]), rounds=args.rounds,
                        slots=args.n, min_results=args.n, reward=UNIT, policy="average", hook=str(files["hook"]),
                        round_blocks=args.round_blocks, bundle_storage="IPFS", result_storage="S3",
                        result_key_file=str(files["result_key"]), question="Copy the model (benchmark)")
    with common.Meter() as meter:
        summary = run_campaign(market, plan, journal_dir=run_dir / "journal", report=report)
    data = summary.to_dict()
    journal = json.loads(Path(summary.journal).read_text()) if summary.journal else {}
    records = {int(k): v for k, v in (journal.get("rounds") or {}).items()} if isinstance(journal.get("rounds"), dict) \
        else {r["round"]: r for r in journal.get("rounds") or []}
    rounds_out = []
    for entry in rounds_log:
        number = entry["round"]
        s = next((r for r in data["rounds"] if r["round"] == number), {})
        rec = records.get(number, {})
        contributors = sorted({r["contributor"] for r in s.get("results", [])})
        rounds_out.append({**entry, "results_sent": s.get("results_sent"), "accepted": s.get("accepted"),
                           "rejected": s.get("rejected"), "extended": s.get("extended"), "closed": s.get("closed"),
                           "journal_training_wait": rec.get("training_wait"), "journal_busy": rec.get("busy"),
                           "contributors": contributors,
                           "rejections": [r["reason"] for r in s.get("results", []) if r["status"] != "Accepted"][:5]})
    return {"campaign": data["campaign"], "finished": data["finished"], "rounds": rounds_out,
            "total_seconds": meter.result()["seconds"], "meter": meter.result(),
            "report_lines": lines, "calls": dict(timer.calls)}


def worker_demo(args) -> dict[str, Any]:
    """The main job (``decentralml run_round``: a campaign, Alice in-process, each
    contributor a ``decentralml work`` process) at the demo settings; per round, the
    creator's phases from the runner's timers beside the job's own figures."""
    from substrate_client.demo import RoundSettings, run_round

    timer = PhaseTimer()
    rounds_log: list[dict] = []
    instrument(timer, rounds_log)
    extra = {"rounds": 2} if args.smoke else {}  # fewer samples would fail the demo's threshold
    settings = RoundSettings(run_dir=Path(args.run_dir), url=args.url, ipfs_api=args.ipfs_api,
                             s3_endpoint=args.s3_endpoint, s3_bucket=args.s3_bucket, **extra)
    with common.Meter() as meter:
        summary = run_round(settings, report=log)
    data = summary.to_dict()
    out = []
    for r in data.get("rounds") or []:
        mine = next((x for x in rounds_log if x["round"] == r["round"]), None)
        if mine is None:
            continue
        phases = mine["phases"]
        training = float(r.get("training_seconds") or 0.0)
        wall = mine["wall"]
        creator = {k: round(phases.get(k, 0.0), 3) for k in CREATOR_PHASES}
        agents_side = max(phases.get("waiting", 0.0) - training, 0.0)
        other = wall - training - sum(creator.values()) - agents_side
        out.append({
            "round": r["round"], "task_id": r.get("task_id"), "wall": round(wall, 3), "training": round(training, 3),
            "phases": {**creator, "agents": round(agents_side, 3)}, "waiting": round(phases.get("waiting", 0.0), 3),
            "other": round(other, 3), "share": common.ratio(wall - training, training, 4),
            "job_wall": r.get("wall_seconds"), "job_overhead_share": r.get("overhead_share"),
            "job_timings": r.get("timings"), "federated_accuracy": r.get("federated_accuracy"),
            "contributors": [{k: x.get(k) for k in ("name", "train_seconds", "accuracy", "decision")}
                             for x in r.get("results") or []],
        })
    return {"rounds": out, "timings": data.get("timings"), "total_seconds": meter.result()["seconds"],
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(settings).items()
                         if isinstance(v, (int, float, str, tuple, type(None), Path))},
            "finished": data.get("finished")}


def run_demo(args, url: str, daemons, workdir: Path) -> dict[str, Any]:
    env = dict(daemons.env, DECENTRALML_STATE_DIR=str(workdir / "demo-state"),
               DECENTRALML_CONFIG=str(workdir / "no-config.toml"))
    load_before = common.load()
    demo = common.run_worker(NAME, ["--task", "demo", "--url", url, "--ipfs-api", daemons.kubo.api_url,
                                    "--s3-endpoint", daemons.minio.endpoint_url, "--s3-bucket", "dml-bench-demo",
                                    "--run-dir", str(workdir / "demo" / "run")] + (["--smoke"] if args.smoke else []),
                             env=env, timeout=900 if args.smoke else 2400, label="demo campaign")
    rounds = demo["rounds"]
    training = sum(r["training"] for r in rounds)
    walls = sum(r["wall"] for r in rounds)
    demo.update({
        "phases": list(CREATOR_PHASES) + ["agents"],
        "load_before": load_before, "load_after": common.load(),
        "share_all_rounds": common.ratio(walls - training, training, 4),
        "share_later_rounds": common.ratio(sum(r["wall"] - r["training"] for r in rounds[1:]),
                                           sum(r["training"] for r in rounds[1:]), 4) if len(rounds) > 1 else None,
        "description": (
            "The main job (`decentralml run_round`) at the demo settings: a campaign by Alice in-process "
            "(`substrate_client.campaign`), each contributor a `decentralml work` process. Per round: `wall` from "
            "the round's first step (its bundle's upload; for a round whose task the batch before created, "
            "recording that task) to its task closed; `training` the time some contributor's `start_task.sh` ran "
            "(the union of their runs, as the job reports it); the creator's phases from timers around the "
            "runner's steps (storage, chain, validation, decisions' batch, federation, close; in every round "
            "but the last the results are federated and the next round's bundle uploaded before the batch, "
            "which creates the next round's task too; in the last the batch is on its way while the results "
            "are federated, so those two overlap and `other` is short by the overlap); `agents` the "
            "creator's wait for results that was not training (the agents fetching the bundle, taking their "
            "slots, storing and sending results, blocks); `other` the rest. Setup (TensorFlow, the model, the "
            "agents started) is paid once per campaign, before round 1: "
            + ", ".join(f"{k} {v} s" for k, v in (demo.get("timings") or {}).items() if k == "setup")
            + "."),
    })
    return demo


# --------------------------------------------------------------------------- the agents


class Agent:
    """One ``decentralml --json work`` process, its folders, logs, memory and CPU."""

    def __init__(self, index: int, root: Path):
        self.index = index
        self.uri = agent_uri(index)
        self.root = root
        self.steps_path = root / "steps.jsonl"
        self.stderr_path = root / "stderr.log"
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.watching_at: float | None = None
        self.ended_at: float | None = None
        self.exit_code: int | None = None
        self.peak_rss_kib = 0
        self.maxrss_kib = 0
        self.cpu_seconds = 0.0

    def start(self, argv: list[str], env: dict[str, str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.steps_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                         cwd=self.root)
        self.started_at = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.exit_code is None

    def steps(self) -> list[dict]:
        out = []
        if self.steps_path.is_file():
            for line in self.steps_path.read_text(errors="replace").splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"step": "unparsed", "message": line})
        return out

    def sample(self) -> None:
        """Its peak RSS so far (``VmHWM``), and reap it if it ended."""
        if not self.alive:
            return
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
                        break
        except OSError:
            pass
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == self.proc.pid:
            self.exit_code = os.waitstatus_to_exitcode(status)
            self.proc.returncode = self.exit_code
            self.ended_at = time.monotonic()
            self.maxrss_kib = usage.ru_maxrss
            self.cpu_seconds = usage.ru_utime + usage.ru_stime

    def signal(self, sig: int) -> None:
        if self.alive:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass


class Fleet:
    """N agents started a few at a time (each once it reads the chain and watches for
    tasks), sampled every second for memory and the load."""

    def __init__(self, n: int, root: Path, argv: list[str], env_for, starting_at_once: int):
        self.agents = [Agent(i, root / f"agent{i}") for i in range(1, n + 1)]
        self.argv = argv
        self.env_for = env_for
        self.starting_at_once = starting_at_once
        self.loads: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample_loop, daemon=True)
        self._lock = threading.Lock()

    def _sample_loop(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                for agent in self.agents:
                    agent.sample()
            self.loads.append((time.monotonic(), os.getloadavg()[0]))

    def start(self, timeout: float) -> float:
        """Start every agent; return the seconds until all watch for tasks."""
        self._sampler.start()
        began = time.monotonic()
        pending = list(self.agents)
        starting: list[Agent] = []
        while pending or starting:
            for agent in list(starting):
                if agent.watching_at is None and any(s.get("step") == "watch" for s in agent.steps()):
                    agent.watching_at = time.monotonic()
                if agent.watching_at is not None:
                    starting.remove(agent)
                elif not agent.alive:
                    raise RuntimeError(f"agent {agent.index} exited with {agent.exit_code} before watching:\n"
                                       + agent.stderr_path.read_text(errors="replace")[-3000:])
            while pending and len(starting) < self.starting_at_once:
                agent = pending.pop(0)
                with self._lock:
                    agent.start(self.argv, self.env_for(agent))
                starting.append(agent)
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"{len(pending) + len(starting)} agent(s) not watching for tasks after {timeout:.0f} s")
            time.sleep(0.2)
        return time.monotonic() - began

    def finish(self, grace: float) -> None:
        """Wait ``grace`` seconds for the agents to stop by themselves, then Ctrl-C them
        (and kill what is still there 30 s later)."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(a.alive for a in self.agents):
            time.sleep(0.5)
        for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGKILL, 10.0)):
            left = [a for a in self.agents if a.alive]
            if not left:
                break
            log(f"{len(left)} agent(s) still running: {sig.name}")
            for agent in left:
                agent.signal(sig)
            until = time.monotonic() + wait
            while time.monotonic() < until and any(a.alive for a in self.agents):
                time.sleep(0.5)
        self._stop.set()
        self._sampler.join()
        for agent in self.agents:
            agent.sample()

    def kill_all(self) -> None:
        self._stop.set()
        for agent in self.agents:
            agent.signal(signal.SIGKILL)
        for agent in self.agents:
            if agent.proc is not None and agent.exit_code is None:
                try:
                    os.waitpid(agent.proc.pid, 0)
                except ChildProcessError:
                    pass
                agent.exit_code = -9


class BlockClock:
    """A block every ``seconds`` (Chopsticks' ``dev_newBlock``), as a real chain makes
    them whatever happens; Chopsticks alone makes one per transaction and none when
    nobody sends any."""

    def __init__(self, port: int, seconds: float):
        self.port, self.seconds = port, seconds
        self.made = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "BlockClock":
        if self.seconds > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        from substrate_client import devnet

        while not self._stop.wait(self.seconds):
            try:
                devnet._rpc(self.port, "dev_newBlock", [{"count": 1}], timeout=60)
                self.made += 1
            except Exception as error:  # reported, never fatal: blocks still come with transactions
                if len(self.failures) < 5:
                    self.failures.append(f"{type(error).__name__}: {error}")


# --------------------------------------------------------------------------- one size


def _agents_report(fleet: Fleet, addresses: dict[str, int], rounds: list[dict], slots: int) -> dict[str, Any]:
    """What the agents did: results sent, missed rounds, errors in their logs, memory, CPU."""
    errors = []
    sent_counts = []
    trained = []
    retries = []
    for agent in fleet.agents:
        steps = agent.steps()
        sent_counts.append(sum(1 for s in steps if s.get("step") == "sent"))
        trained += [s["seconds"] for s in steps if s.get("step") == "trained" and isinstance(s.get("seconds"), (int, float))]
        for s in steps:
            if s.get("step") in ("retry", "failed") or (s.get("step") == "skip" and "could not take" in s.get("message", "")):
                retries.append({"agent": agent.uri, "step": s.get("step"), "message": s.get("message", "")[:400]})
        for source, text in (("steps", agent.steps_path.read_text(errors="replace") if agent.steps_path.is_file() else ""),
                             ("stderr", agent.stderr_path.read_text(errors="replace") if agent.stderr_path.is_file() else "")):
            lines = text.splitlines()
            for i, line in enumerate(lines):
                if ERROR_PATTERN.search(line):
                    errors.append({"agent": agent.uri, "log": source, "line": i + 1,
                                   "excerpt": "\n".join(lines[max(0, i - 2):i + 3])[-1200:]})
    stderr_all = "\n".join(a.stderr_path.read_text(errors="replace") for a in fleet.agents if a.stderr_path.is_file())
    failures = Counter(re.sub(r"\d+", "#", x["message"].split(": ", 1)[-1])[:160]
                       for x in retries if x["step"] == "failed")
    missed = []
    for r in rounds:
        sent_by = set(r.get("contributors") or [])
        for address, index in addresses.items():
            if address not in sent_by:
                missed.append({"round": r["round"], "agent": agent_uri(index)})
    peaks = sorted(a.peak_rss_kib / 1024 for a in fleet.agents if a.peak_rss_kib)
    maxrss = sorted(a.maxrss_kib / 1024 for a in fleet.agents if a.maxrss_kib)
    starts = [a.watching_at - a.started_at for a in fleet.agents if a.watching_at]
    return {
        "count": len(fleet.agents),
        "exit_codes": dict(Counter(str(a.exit_code) for a in fleet.agents)),
        "results_sent": dict(Counter(str(c) for c in sent_counts)),
        "missed": missed[:200], "missed_count": len(missed),
        "errors": errors[:50], "error_count": len(errors),
        "retries_and_failures": retries[:50], "retry_count": len(retries),
        "failure_kinds": dict(failures.most_common(10)),
        "submit_timeouts": stderr_all.count("dropped while submitting"),
        "landed_after_timeout": stderr_all.count("had landed in block"),
        "peak_rss_mb": {"max": round(max(peaks), 1) if peaks else None,
                        "median": round(common.median(peaks), 1) if peaks else None,
                        "sum": round(sum(peaks), 1)},
        "maxrss_with_children_mb": {"max": round(max(maxrss), 1) if maxrss else None},
        "cpu_seconds": {"total": round(sum(a.cpu_seconds for a in fleet.agents), 2),
                        "median": round(common.median(a.cpu_seconds for a in fleet.agents), 2)},
        "start_seconds": {"median": round(common.median(starts), 2) if starts else None,
                          "max": round(max(starts), 2) if starts else None},
        "train_seconds_median": round(common.median(trained), 3) if trained else None,
    }


def run_size(n: int, args, url: str, port: int, daemons, workdir: Path, fund: int) -> dict[str, Any]:
    from substrate_client import devnet

    base_env = dict(daemons.env)
    for name in list(base_env):
        if name.startswith("DECENTRALML_") and name not in ("DECENTRALML_CACHE",):
            base_env.pop(name)
    bucket = f"dml-bench-campaign-{n}"
    storage_args = ["--url", url, "--ipfs-api", daemons.kubo.api_url, "--s3-endpoint", daemons.minio.endpoint_url,
                    "--s3-bucket", bucket]
    creator_env = dict(base_env, DECENTRALML_STATE_DIR=str(workdir / f"n{n}" / "creator-state"),
                       DECENTRALML_CONFIG=str(workdir / "no-config.toml"))
    prep = common.run_worker(NAME, ["--task", "prepare", *storage_args, "--fund", str(fund)],
                             env=creator_env, timeout=600, label=f"prepare N={n}")
    campaign_id = prep["next_campaign"]
    addresses = {a: i for i, a in enumerate(prep["addresses"][:n], 1)}
    round_blocks = args.round_blocks or (6 * n + 60)
    argv = [common.PYTHON, "-m", "substrate_client.cli", "--json", "work", "--campaign", str(campaign_id),
            "--max-rounds", str(args.rounds), "--storage", "S3", "--work-dir", "work"]
    if args.agents_nice:  # the agents yield the machine's CPU, as if on machines of their own
        argv = ["nice", "-n", str(args.agents_nice)] + argv

    def env_for(agent: Agent) -> dict[str, str]:
        return dict(base_env, DECENTRALML_URL=url, DECENTRALML_SURI=agent.uri,
                    DECENTRALML_IPFS_API=daemons.kubo.api_url, DECENTRALML_S3_ENDPOINT=daemons.minio.endpoint_url,
                    DECENTRALML_S3_BUCKET=bucket, DECENTRALML_STATE_DIR=str(agent.root / "state"),
                    DECENTRALML_CONFIG=str(workdir / "no-config.toml"), PYTHONUNBUFFERED="1")

    fleet = Fleet(n, workdir / f"n{n}" / "agents", argv, env_for, args.starting_at_once)
    load_before = common.load()
    try:
        log(f"N={n}: starting {n} agents for campaign {campaign_id} (load {common.load()})")
        start_seconds = fleet.start(timeout=args.start_timeout)
        log(f"N={n}: all {n} agents watching after {start_seconds:.1f} s (load {common.load()}); the campaign starts")
        creator_load = common.load()
        chain_pid = devnet.status(port).pid
        chain_cpu_before = process_cpu_seconds(chain_pid)
        t0 = time.monotonic()
        creator_error = None
        with BlockClock(port, args.block_seconds) as clock:
            try:
                creator = common.run_worker(
                    NAME, ["--task", "creator", *storage_args, "--n", str(n), "--rounds", str(args.rounds),
                           "--round-blocks", str(round_blocks), "--expect-campaign", str(campaign_id),
                           "--run-dir", str(workdir / f"n{n}" / "creator")] + (["--verbose"] if args.verbose else []),
                    env=creator_env, timeout=args.creator_timeout or 180 + 6 * n * args.rounds,
                    label=f"creator N={n}")
            except common.WorkerError as error:  # reported with what the agents and the journal show
                creator_error = f"the creator's campaign did not end: {error}"
                creator = creator_from_journal(workdir / f"n{n}" / "creator" / "journal")
        t1 = time.monotonic()
        chain_cpu = process_cpu_seconds(chain_pid) - chain_cpu_before
        fleet.finish(grace=60 if creator_error is None else 0)
    except BaseException:
        fleet.kill_all()
        raise
    during = [load for when, load in fleet.loads if t0 <= when <= t1]
    row = size_row(n, creator, fleet, addresses)
    row.update({
        "round_blocks": round_blocks, "agents_nice": args.agents_nice, "creator_error": creator_error, "creator_maxrss_mb": creator.get("process_maxrss_mb"),
        "fund": {k: prep[k] for k in ("funded", "fund_seconds")},
        "load_before": load_before, "load_at_campaign_start": creator_load,
        "load_during_campaign": {"mean_1min": round(sum(during) / len(during), 2) if during else None,
                                 "max_1min": round(max(during), 2) if during else None},
        "load_after": common.load(), "clock_blocks": clock.made, "clock_failures": clock.failures,
        # The dev chain's own CPU while the campaign ran (every agent's and the creator's
        # transactions validated and applied, their reads answered), and the creator's.
        "chain_cpu_seconds": round(chain_cpu, 2),
        "creator_cpu_seconds": round(sum(r.get("cpu") or 0.0 for r in creator["rounds"]), 2),
    })
    if row["accepted"]:
        row["chain_cpu_per_accepted"] = round(chain_cpu / row["accepted"], 4)
        row["creator_cpu_per_accepted"] = round(row["creator_cpu_seconds"] / row["accepted"], 4)
    return row


def process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process (all its threads) has used so far; 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def creator_from_journal(journal_dir: Path) -> dict[str, Any]:
    """What a creator that failed or was stopped had done, from her campaign's journal:
    each round's phase, and the results judged (not timed by phase)."""
    found = sorted(journal_dir.glob("*/campaign-*.json"))
    if not found:
        return {"campaign": None, "finished": None, "rounds": [], "total_seconds": 0.0, "report_lines": []}
    journal = json.loads(found[-1].read_text())
    rounds = []
    for number, rec in sorted(journal.get("rounds", {}).items(), key=lambda kv: int(kv[0])):
        reviews = rec.get("reviews") or {}
        rounds.append({"round": int(number), "task_id": rec.get("task_id"), "journal_phase": rec.get("phase"),
                       "wall": round((rec.get("training_wait") or 0.0) + (rec.get("busy") or 0.0), 3),
                       "phases": {}, "calls": {}, "results_sent": None,
                       "accepted": sum(1 for v in reviews.values() if v.get("verdict") == "accept"),
                       "judged": len(reviews), "contributors": sorted({v.get("contributor") for v in reviews.values()}),
                       "stopped": rec.get("stopped")})
    return {"campaign": journal.get("campaign"), "finished": journal.get("finished"), "rounds": rounds,
            "total_seconds": sum(r["wall"] for r in rounds), "report_lines": [], "from_journal": True}


def size_row(n: int, creator: dict[str, Any], fleet: "Fleet", addresses: dict[str, int]) -> dict[str, Any]:
    """One N's figures from the creator's worker (or journal) and the agents."""
    rounds = creator["rounds"]
    for r in rounds:
        busy = sum(r["phases"].get(p, 0.0) for p in CREATOR_PHASES)
        waiting = r["phases"].get("waiting", 0.0)
        r["creator_busy"] = round(r["wall"] - waiting, 3)
        r["other"] = round(r["wall"] - waiting - busy, 3)
        r["waiting"] = round(waiting, 3)
        r["creator_busy_per_accepted"] = common.ratio(r["creator_busy"], r["accepted"] or 0, 4)
        r["missed"] = n - (r["accepted"] or 0)
    agents = _agents_report(fleet, addresses, rounds, n)
    busy_total = sum(r["creator_busy"] for r in rounds)
    accepted_total = sum(r["accepted"] or 0 for r in rounds)
    return {
        "n": n, "campaign": creator["campaign"], "finished": creator["finished"], "rounds": rounds, "agents": agents,
        "setup_seconds": round(creator["total_seconds"] - sum(r["wall"] for r in rounds), 3),
        "campaign_seconds": creator["total_seconds"], "creator_busy_seconds": round(busy_total, 3),
        "accepted": accepted_total, "slots": n * max(len(rounds), 1),
        "creator_busy_per_accepted": common.ratio(busy_total, accepted_total, 4),
        "calls": creator.get("calls"), "creator_lines": creator.get("report_lines", [])[:40],
    }


# --------------------------------------------------------------------------- verdicts


def _fit(points: list[tuple[float, float]]) -> dict[str, float] | None:
    """Least squares ``y = a + b x``."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if not sxx:
        return None
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    return {"intercept": round(my - b * mx, 4), "slope": round(b, 5)}


def verdicts(result: dict[str, Any]) -> None:
    demo = result.get("demo")
    if demo and demo.get("rounds"):
        rounds = demo["rounds"]
        worst = max((r["share"] for r in rounds if r["share"] is not None), default=None)
        result["ratios"]["demo_not_training_over_training_worst_round"] = worst
        result["ratios"]["demo_not_training_over_training_all_rounds"] = demo.get("share_all_rounds")
        result["ratios"]["demo_not_training_over_training_later_rounds"] = demo.get("share_later_rounds")
        result["goals"].append(common.goal(
            "overhead", f"per round of a campaign, everything that is not training at most {DEMO_GOAL:.0%} of "
                        "training (demo settings)", f"<= {DEMO_GOAL:.2f} every round", worst,
            None if worst is None else worst <= DEMO_GOAL,
            detail="; ".join(f"round {r['round']}: {r['share']} ({r['wall']} s wall, {r['training']} s training)"
                             for r in rounds)
                   + f"; later rounds together: {demo.get('share_later_rounds')}"))
    sizes = result.get("sizes") or []
    if not sizes:
        return
    complete = [s for s in sizes if not s.get("creator_error")] or sizes
    small, large = complete[0], complete[-1]
    ratio = common.ratio(large["creator_busy_per_accepted"], small["creator_busy_per_accepted"], 3)
    result["ratios"]["creator_per_result_largest_over_smallest"] = ratio
    points = [(s["n"], r["creator_busy"]) for s in complete for r in s["rounds"]]
    result["creator_busy_fit"] = _fit(points)
    if len(complete) >= 3:
        mid = complete[-2]
        result["ratios"]["creator_per_result_largest_over_second_largest"] = common.ratio(
            large["creator_busy_per_accepted"], mid["creator_busy_per_accepted"], 3)
    errors = sum(s["agents"]["error_count"] for s in sizes)
    missed = sum(s["slots"] - s["accepted"] for s in sizes)
    result["ratios"]["nonce_or_priority_errors"] = errors
    result["ratios"]["missed_results"] = missed
    where = "; ".join(f"N={s['n']}: {s['agents']['error_count']}" for s in sizes)
    result["goals"] += [
        common.goal("nonce", f"no nonce or priority errors in the agents' logs ({', '.join(str(s['n']) for s in sizes)} agents)",
                    "0", errors, errors == 0, detail=where),
        common.goal("missed", "no missed task: every slot of every round accepted", "0 missed",
                    missed, missed == 0,
                    detail="; ".join(f"N={s['n']}: {s['accepted']}/{s['slots']} accepted"
                                     + (f" (stopped: {s['creator_error'][:120]})" if s.get("creator_error") else "")
                                     + (f"; agents' failures: {s['agents']['failure_kinds']}" if s["agents"].get("failure_kinds") else "")
                                     for s in sizes)),
        common.goal("linear", f"the creator's time per accepted result at N={sizes[-1]['n']} at most "
                              f"{LINEAR_FACTOR}× that at N={sizes[0]['n']} (her per-round overhead grows at most "
                              f"linearly), as wall time on this machine; measured: N={large['n']} over N={small['n']}",
                    f"<= {LINEAR_FACTOR}", ratio,
                    None if ratio is None or len(complete) < len(sizes) else ratio <= LINEAR_FACTOR,
                    detail=", ".join(f"N={s['n']}: {s['creator_busy_per_accepted']} s per result "
                                     f"({s['creator_busy_seconds']} s for {s['accepted']})" for s in complete)
                           + ("; not judged: " + ", ".join(f"N={s['n']} (did not finish)" for s in sizes
                                                           if s not in complete) if len(complete) < len(sizes) else "")),
    ]
    # The same per accepted result in CPU seconds: the creator's own work, and the dev chain's
    # (which serves every agent too). On one machine the wall time above also holds the
    # time she waits for a CPU and for the chain's answers while 100 agents share both.
    cpu_ratio = common.ratio(large.get("creator_cpu_per_accepted"), small.get("creator_cpu_per_accepted"), 3)
    chain_ratio = common.ratio(large.get("chain_cpu_per_accepted"), small.get("chain_cpu_per_accepted"), 3)
    result["ratios"]["creator_cpu_per_result_largest_over_smallest"] = cpu_ratio
    result["ratios"]["chain_cpu_per_result_largest_over_smallest"] = chain_ratio
    if cpu_ratio is not None:
        result["goals"].append(common.goal(
            "linear_cpu", f"the creator's CPU time per accepted result at N={large['n']} at most {LINEAR_FACTOR}× "
                          f"that at N={small['n']} (her own work grows at most linearly)",
            f"<= {LINEAR_FACTOR}", cpu_ratio, None if len(complete) < len(sizes) else cpu_ratio <= LINEAR_FACTOR,
            detail=", ".join(f"N={s['n']}: {s.get('creator_cpu_per_accepted')} CPU-s per result "
                             f"({s.get('creator_cpu_seconds')} s for {s['accepted']}); the dev chain "
                             f"{s.get('chain_cpu_per_accepted')} CPU-s per result" for s in (small, large))))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.campaign", description=__doc__.split("\n")[0])
    common.common_args(parser)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="demo (the main job's campaign, per round: training against the rest), scale "
                             "(N agents on one campaign); a part not run keeps its last figures")
    parser.add_argument("--sizes", help="numbers of agents, comma-separated (default 10,25,50,100; smoke 3)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per campaign (default 2)")
    parser.add_argument("--round-blocks", type=int, default=None, help="a round's deadline in blocks (default 6N+60)")
    parser.add_argument("--starting-at-once", type=int, default=8,
                        help="agents starting at the same time (the next starts once one watches)")
    parser.add_argument("--start-timeout", type=float, default=600)
    parser.add_argument("--creator-timeout", type=float, default=None,
                        help="seconds the creator's campaign may take (default 180 + 6 N rounds)")
    parser.add_argument("--spec-timeout", type=float,
                        default=float(os.environ.get("DECENTRALML_BENCH_SPEC_TIMEOUT", 3600)))
    parser.add_argument("--block-seconds", type=float, default=6.0,
                        help="also make a block every this many seconds, as a real chain does (the "
                             "runtime's block time); 0: only one per transaction (Chopsticks' own)")
    parser.add_argument("--block-mode", choices=("instant", "batch"), default="instant",
                        help="how the dev chain builds blocks: one per transaction (instant, its default) "
                             "or transactions sent together in one block (batch)")
    parser.add_argument("--agents-nice", type=int, default=0,
                        help="run the agents at this niceness (default 0: as the creator): with 10, the 100 "
                             "agents on this machine yield the CPU to the creator and the chain, as agents on "
                             "machines of their own would")
    parser.add_argument("--verbose", action="store_true", help="print the creator's progress lines")
    for name in ("task", "url", "ipfs-api", "s3-endpoint", "s3-bucket", "run-dir"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    for name in ("n", "fund", "expect-campaign"):
        parser.add_argument(f"--{name}", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--agent-funds", type=int, default=50 * UNIT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or 2
    if args.worker:
        task = {"prepare": worker_prepare, "creator": worker_creator, "demo": worker_demo}[args.task]
        common.write_worker_result(args.result, task(args))
        return 0

    from bench.chain import wait_for_spec
    from bench.storage import Daemons
    from substrate_client import devnet

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if set(parts) - set(PARTS):
        parser.error(f"unknown parts {', '.join(sorted(set(parts) - set(PARTS)))}; choose from {', '.join(PARTS)}")
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else ([3] if args.smoke else [10, 25, 50, 100])
    out_dir = common.out_dir(args)
    previous = _previous(out_dir / f"{NAME}.json", args.smoke)
    result = common.new_result(NAME, args.smoke)
    given = sys.argv[1:] if argv is None else list(argv)
    if "--out" in given:  # where the results go is not how they were made
        del given[given.index("--out"):given.index("--out") + 2]
    if given and given != ["--smoke"]:  # not what scripts/bench.sh --only campaign runs
        result["command"] = "python -m bench.campaign " + " ".join(given)
    result["parameters"] = previous.get("parameters", {}) if "scale" not in parts else {
        "sizes": sizes, "rounds": args.rounds, "round_blocks": args.round_blocks or "6N + 60",
        "starting_at_once": args.starting_at_once, "block_seconds": args.block_seconds, "block_mode": args.block_mode,
        "agents_nice": args.agents_nice,
        "task": "tiny: start_task.sh copies the bundle's model (Dense 4->3) as its result; sealed; "
                "CustomAccept hook accepting a finite held-out accuracy; policy average",
        "storage": "bundle on IPFS (Kubo), results on S3 (MinIO)",
        "agents": "decentralml --json work --campaign ID --max-rounds R --storage S3, one process each, "
                  "//AgentI in DECENTRALML_SURI, own work and state folders",
    }
    result["parts"] = parts
    # Sizes not run this time keep their last figures (each row says when it ran).
    result["sizes"] = [row for row in previous.get("sizes", []) if "scale" not in parts or row["n"] not in sizes]
    for row in result["sizes"]:
        row.setdefault("ran_at", previous.get("started_at"))
    if "demo" not in parts and previous.get("demo"):
        result["demo"] = previous["demo"]
    if "demo" not in parts and previous.get("demo"):  # the sizes each say when they ran
        demo = previous["demo"]
        result["notes"].append(f"the demo part is from the run of {demo.get('ran_at', previous.get('started_at'))} "
                               f"(load at its start {demo.get('load_before', previous.get('load_start'))})")
    spec = wait_for_spec(args.spec_timeout)
    result["parameters"]["chain_spec"] = str(spec)
    # A folder of its own per run (runs at the same time must not share one); kept when something failed.
    workdir = Path(tempfile.mkdtemp(prefix="campaign-run-", dir=common.cache_dir()))
    (workdir / "no-config.toml").write_text("")
    port = common.free_port()
    failed = None
    with common.env_vars(DECENTRALML_RUN_DIR=str(workdir / "run")):
        state = devnet.up(port, timeout=300, block_mode=args.block_mode)
        d = None
        try:
            d = Daemons(workdir / "daemons")
            if "demo" in parts:
                try:
                    log(f"the main job's campaign at the demo settings (load {common.load()})")
                    result["demo"] = run_demo(args, state.url, d, workdir)
                    result["demo"]["ran_at"] = result["started_at"]
                    log("demo: " + ", ".join(f"round {r['round']} {r['wall']:.1f} s, training {r['training']:.1f} s, "
                                             f"share {r['share']}" for r in result["demo"]["rounds"]))
                except Exception as error:
                    failed = f"demo: {error}"
                    log(f"demo FAILED: {error}")
                    result["notes"].append(f"the demo part failed: {str(error)[-2000:]}")
                common.finish_result(result, out_dir)
            for i, n in enumerate(sizes if "scale" in parts else []):
                try:
                    row = run_size(n, args, state.url, port, d, workdir, fund=max(sizes) if i == 0 else 0)
                except Exception as error:  # a size that fails is reported; the others were measured
                    failed = f"N={n}: {error}"
                    log(f"N={n} FAILED: {error}")
                    result["notes"].append(f"N={n} failed: {str(error)[-2000:]}")
                    break
                row["ran_at"] = result["started_at"]
                result["sizes"] = sorted(result["sizes"] + [row], key=lambda x: x["n"])
                log(f"N={n}: " + ", ".join(
                    f"round {r['round']} {r['wall']:.1f} s (creator {r['creator_busy']:.2f} s, {r['accepted']}/{n})"
                    for r in row["rounds"]) + f"; errors {row['agents']['error_count']}, "
                    f"agents' peak RSS {row['agents']['peak_rss_mb']['max']} MB")
                common.finish_result(result, out_dir)
        finally:
            if d is not None:
                d.stop()
            devnet.down(port)
    verdicts(result)
    common.finish_result(result, out_dir)
    if failed:
        log(f"the run's folder (the agents' logs, the creator's journal) is kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def _previous(path: Path, smoke: bool) -> dict[str, Any]:
    """The last result of this benchmark (same sizes: smoke or real), to keep a part not run."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if data.get("smoke") == smoke else {}


if __name__ == "__main__":
    sys.exit(main())
