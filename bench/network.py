"""A round on a real node network against the same round on Chopsticks, in one run.

Run by hand only (``python -m bench.network``): it needs our node, ``decentralml-node``
(``bash scripts/node.sh build``), which CI does not have, so it is not in the default
``python -m bench`` list. ``python -m bench --report-only`` renders its last result
(``bench/results/network.json``) into the "Network" section of BENCHMARKS.md.

1. The node binary's build facts: its version, size, and the build's duration when
   ``scripts/node.sh build`` left its start time, exit code and log (else "not recorded";
   a build that compiled nothing only checked freshness and is not a build time).
2. A network of validators of its own (``scripts/network.sh up`` with its own folder and
   ports: 9980 and 30380 up, or --rpc-port / --p2p-port), timed from ``up`` to the first finalized block and to
   finalized progress on every node.
3. The main job (``decentralml run_round --rounds N --json``) against the network
   (``--url``) and against a Chopsticks dev chain it starts on a free port, alternating
   which goes first over the repetitions. Per run: the process's wall time, the campaign
   part (the run's total minus its setup), and per round the wall time, training, the
   creator's phases from the run's summary.json, and the blocks the round took; then the
   ratio network ÷ Chopsticks of the medians. The load average before and after each run.
4. Its network and its Chopsticks are brought down at the end, also on failure (what a
   failed run measured goes to ``network-failed.json``; ``network.json`` keeps the last
   complete run).

    python -m bench.network [--repeats 1] [--rounds-arg 1[,3]] [--validators 4]
                            [--rpc-port 9980 --p2p-port 30380]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.common import log

NAME = "network"
NETWORK_DIR = "/tmp/dml/net-bench"
RPC_PORT = 9980
P2P_PORT = 30380
RUN_TIMEOUT = 3600
TARGETS = ("network", "chopsticks")
#: What the creator's summary times per round (seconds), in the order shown.
ROUND_TIMINGS = ("chain", "storage", "waiting", "creator_busy")


def cache_root() -> Path:
    return Path(os.environ.get("DECENTRALML_CACHE", Path.home() / ".cache" / "decentralml")).expanduser()


def script(name: str) -> str:
    return str(common.ROOT / "scripts" / name)


# --------------------------------------------------------------------------- the binary


def node_facts(env: dict[str, str]) -> dict[str, Any]:
    """Path, version, size and (if ``scripts/node.sh build`` left them) the build's duration."""
    path = common.run_command(["bash", script("node.sh"), "path"], env=env)["stdout"].strip()
    version = common.run_command([path, "--version"], env=env)["stdout"].strip().splitlines()[0]
    build_dir = cache_root() / "node-build"
    started, rc = build_dir / "build.started", build_dir / "build.rc"
    build: dict[str, Any] = {"recorded": False, "text": "not recorded"}
    if started.is_file() and rc.is_file() and rc.read_text().strip() == "0":
        seconds = int(rc.stat().st_mtime) - int(started.read_text().strip())
        log_file = build_dir / "build.log"
        text = log_file.read_text(errors="replace").replace("\r", "\n") if log_file.is_file() else ""
        compiled = len(re.findall(r"^\s*Compiling ", text, re.MULTILINE))
        build = {"recorded": compiled > 0, "seconds": seconds, "crates_compiled": compiled, "log": str(log_file),
                 "text": f"{seconds // 60} min {seconds % 60:02d} s ({compiled} crates compiled)" if compiled else
                 f"not recorded (the last `scripts/node.sh build` compiled nothing: a {seconds} s freshness check)"}
    return {"path": path, "version": version, "size_mb": round(os.path.getsize(path) / common.MiB, 1),
            "build": build}


# --------------------------------------------------------------------------- the network


def network_env(validators: int, rpc_port: int, p2p_port: int) -> dict[str, str]:
    env = common.worker_env()
    env.update({"DECENTRALML_NETWORK_DIR": NETWORK_DIR, "DECENTRALML_NETWORK_RPC_PORT": str(rpc_port),
                "DECENTRALML_NETWORK_P2P_PORT": str(p2p_port), "DECENTRALML_NETWORK_VALIDATORS": str(validators)})
    return env


def network_up(env: dict[str, str]) -> dict[str, Any]:
    log(f"network up: {NETWORK_DIR}, RPC from {env['DECENTRALML_NETWORK_RPC_PORT']}, "
        f"P2P from {env['DECENTRALML_NETWORK_P2P_PORT']}")
    run = common.run_command(["bash", script("network.sh"), "up"], env=env, timeout=600)
    first = re.search(r"first finalized block after (\d+)s", run["stderr"])
    ready = re.search(r"blocks produced and finalized after (\d+)s", run["stderr"])
    return {"up_seconds": round(run["seconds"], 1),
            "first_finalized_after_wait_s": int(first.group(1)) if first else None,
            "finalizing_after_wait_s": int(ready.group(1)) if ready else None,
            "load_before": run["load_before"], "load_after": run["load_after"]}


def network_down(env: dict[str, str]) -> None:
    try:
        common.run_command(["bash", script("network.sh"), "down"], env=env, timeout=120)
        log("network down")
    except common.WorkerError as error:
        log(f"network down failed: {error}")


def chopsticks_down(port: int) -> None:
    from substrate_client import devnet

    if devnet.down(port):
        log(f"Chopsticks on port {port} stopped")


# --------------------------------------------------------------------------- one run of the main job


def run_round(target: str, rounds: int, rpc_port: int, chopsticks_port: int, run_dir: Path) -> dict[str, Any]:
    argv = [common.PYTHON, "-m", "substrate_client.cli"]
    argv += ["--url", f"ws://127.0.0.1:{rpc_port}"] if target == "network" else []
    argv += ["run_round", "--rounds", str(rounds), "--out", str(run_dir), "--json"]
    if target == "chopsticks":
        argv += ["--port", str(chopsticks_port)]
    env = common.worker_env()
    env.pop("DECENTRALML_URL", None)
    log(f"{target}, {rounds} round(s): {' '.join(argv[1:])} (load {common.load()})")
    run = common.run_command(argv, env=env, timeout=RUN_TIMEOUT, cwd=common.ROOT)
    summary = json.loads((run_dir / "summary.json").read_text())
    setup = (summary.get("timings") or {}).get("setup") or 0.0
    out = {
        "target": target, "rounds_planned": rounds, "run_dir": str(run_dir), "chain_url": summary.get("chain_url"),
        "finished": summary.get("finished"), "process_seconds": round(run["seconds"], 2),
        "total_seconds": summary.get("total_seconds"), "setup_seconds": setup,
        "campaign_seconds": round((summary.get("total_seconds") or 0.0) - setup, 2),
        "timings": summary.get("timings"), "federated_accuracy": summary.get("federated_accuracy"),
        "load_before": run["load_before"], "load_after": run["load_after"], "rounds": [],
    }
    for r in summary.get("rounds") or []:
        first, last = r.get("first_block"), r.get("last_block")
        out["rounds"].append({
            "round": r["round"], "wall": r.get("wall_seconds"), "training": r.get("training_seconds"),
            "overhead": r.get("overhead_seconds"), "timings": r.get("timings") or {},
            "first_block": first, "last_block": last,
            "blocks": last - first + 1 if first is not None and last is not None else None,
            "accepted": sum(1 for x in r.get("results") or [] if x.get("decision") == "accepted"),
            "results": len(r.get("results") or []),
        })
    log(f"{target}: {out['process_seconds']} s in all, campaign {out['campaign_seconds']} s, rounds "
        + ", ".join(f"{x['wall']} s / {x['blocks']} blocks" for x in out["rounds"]))
    return out


# --------------------------------------------------------------------------- figures


def summarize(runs: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """Per target, the medians over its runs of ``rounds`` rounds; and network ÷ Chopsticks."""
    med: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        mine = [r for r in runs if r["target"] == target and r["rounds_planned"] == rounds]
        if not mine:
            continue
        first = [r["rounds"][0] for r in mine if r["rounds"]]
        all_rounds = [x for r in mine for x in r["rounds"]]
        med[target] = {
            "runs": len(mine),
            "process_seconds": common.median(r["process_seconds"] for r in mine),
            "campaign_seconds": common.median(r["campaign_seconds"] for r in mine),
            "setup_seconds": common.median(r["setup_seconds"] for r in mine),
            "round_wall": common.median(x["wall"] for x in all_rounds),
            "round1_wall": common.median(x["wall"] for x in first),
            "training": common.median(x["training"] for x in all_rounds),
            "overhead": common.median(x["overhead"] for x in all_rounds),
            "blocks": common.median(x["blocks"] for x in all_rounds),
            **{k: common.median(x["timings"].get(k) for x in all_rounds) for k in ROUND_TIMINGS},
        }
    ratios = {}
    if len(med) == 2:
        n, c = med["network"], med["chopsticks"]
        ratios = {k: common.ratio(n[k], c[k], 2) for k in n if k != "runs"}
    return {"rounds": rounds, "medians": med, "network_over_chopsticks": ratios}


# --------------------------------------------------------------------------- main


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.network", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per target and rounds (default 1)")
    parser.add_argument("--rounds-arg", default="1", help="--rounds of the main job, comma-separated (default 1; e.g. 1,3)")
    parser.add_argument("--validators", type=int, default=4, help="validators of the network (default 4)")
    parser.add_argument("--rpc-port", type=int, default=RPC_PORT, help=f"first validator's RPC port (default {RPC_PORT})")
    parser.add_argument("--p2p-port", type=int, default=P2P_PORT, help=f"first validator's P2P port (default {P2P_PORT})")
    parser.add_argument("--out", type=Path, default=common.RESULTS, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    try:
        rounds_list = [int(x) for x in args.rounds_arg.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--rounds-arg: not a comma-separated list of numbers: {args.rounds_arg!r}")
    if not rounds_list or any(n < 1 or n > 10 for n in rounds_list):
        parser.error("--rounds-arg: each number of rounds must be 1 to 10")
    if args.repeats < 1 or args.repeats > 10:
        parser.error("--repeats must be 1 to 10")
    if args.validators < 1 or args.validators > 6:
        parser.error("--validators must be 1 to 6")
    if not all(1024 <= p <= 65535 - args.validators for p in (args.rpc_port, args.p2p_port)):
        parser.error("--rpc-port and --p2p-port must be 1024 to 65535 (with room for every validator)")
    signal.signal(signal.SIGTERM, _terminate)

    command = "python -m bench.network" + (f" --repeats {args.repeats}" if args.repeats != 1 else "") \
        + (f" --rounds-arg {args.rounds_arg}" if args.rounds_arg != "1" else "") \
        + (f" --validators {args.validators}" if args.validators != 4 else "") \
        + (f" --rpc-port {args.rpc_port}" if args.rpc_port != RPC_PORT else "") \
        + (f" --p2p-port {args.p2p_port}" if args.p2p_port != P2P_PORT else "")
    result = common.new_result(NAME, False, argv)
    result["command"] = command
    result["parameters"] = {"repeats": args.repeats, "rounds": rounds_list, "validators": args.validators,
                            "network_dir": NETWORK_DIR, "rpc_port": args.rpc_port, "p2p_port": args.p2p_port}
    env = network_env(args.validators, args.rpc_port, args.p2p_port)
    result["node"] = node_facts(env)
    log(f"node: {result['node']['version']}, {result['node']['size_mb']} MB, build time {result['node']['build']['text']}")
    chopsticks_port = common.free_port()
    runs_root = Path(tempfile.mkdtemp(prefix="runs-", dir=os.path.dirname(NETWORK_DIR)))
    result["runs"] = []
    try:
        result["network"] = network_up(env)
        log(f"network finalizing: {result['network']}")
        for rounds in rounds_list:
            for i in range(args.repeats):
                order = TARGETS if i % 2 == 0 else TARGETS[::-1]
                for target in order:
                    run_dir = runs_root / f"{target}-r{rounds}-{i + 1}"
                    result["runs"].append(run_round(target, rounds, args.rpc_port, chopsticks_port, run_dir))
                    if target == "chopsticks":
                        chopsticks_down(chopsticks_port)  # a fresh chain for each run
        result["summaries"] = [summarize(result["runs"], n) for n in rounds_list]
    except BaseException as error:
        # The last complete measurement (network.json) stays; this one goes beside it.
        result["name"] = f"{NAME}-failed"
        result["notes"].append(f"the run failed: {error!r}".replace("\n", " ")[:1500])
        raise
    finally:
        chopsticks_down(chopsticks_port)
        network_down(env)
        result["runs_dir"] = str(runs_root)
        common.finish_result(result, args.out)
    for s in result.get("summaries", []):
        log(f"{s['rounds']} round(s): network ÷ Chopsticks {s['network_over_chopsticks']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
