"""Full round: where the time of one federated round goes, against its training time.

Runs ``substrate_client.demo.run_round`` with the demo settings (Alice creates,
Bob, Charlie and Dave train one epoch on their whole IID shard, Eve sends random weights;
validation, federation, batch accept, close) against a dev chain, Kubo and MinIO that
the benchmark starts on free ports. The round reports its time per phase
(setup, training, chain, storage, validation, federation); the baseline every other
phase is divided by is the training time of the same round.

``training`` is the contributors' ``./start_task.sh`` processes, interpreter start and
TensorFlow import included; the seconds each contributor's own code spent (from its
``decentralml_result.json``) are reported beside it.

    python -m bench.round [--smoke] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import common
from bench.common import log

NAME = "round"
PHASES = ("setup", "training", "chain", "storage", "validation", "federation")
GOAL = 0.15


def worker_round(args) -> dict[str, Any]:
    from substrate_client.demo import RoundSettings, run_round

    settings = RoundSettings(run_dir=Path(args.run_dir), url=args.url, ipfs_api=args.ipfs_api,
                             s3_endpoint=args.s3_endpoint, s3_bucket="dml-bench-round",
                             max_samples=args.max_samples, epochs=args.epochs)
    if args.profile_out:
        summary, profile = common.profile_call(lambda: run_round(settings, report=log), Path(args.profile_out))
    else:
        with common.Meter() as meter:
            summary = run_round(settings, report=log)
        profile = None
    data = summary.to_dict()
    contributors = []
    for c in data["contributors"]:
        meta = {}
        if c.get("result_dir"):
            path = Path(c["result_dir"]) / "decentralml_result.json"
            if path.is_file():
                meta = json.loads(path.read_text())
        contributors.append({
            "name": c["name"], "saboteur": c["saboteur"], "samples": c["samples"],
            "train_seconds": c["train_seconds"], "own_seconds": meta.get("seconds"),
            "accuracy": c["accuracy"], "decision": c["decision"],
        })
    out = {
        "timings": data["timings"], "total_seconds": data["total_seconds"], "dataset": data["dataset"],
        "initial_accuracy": data["initial_accuracy"], "federated_accuracy": data["federated_accuracy"],
        "held_out_samples": data["held_out_samples"], "contributors": contributors,
    }
    if profile is not None:
        out["profile"] = profile
    else:
        out["meter"] = meter.result()
    return out


def _ratios(run: dict[str, Any]) -> dict[str, Any]:
    t = run["timings"]
    training = t.get("training") or 0.0
    total = run["total_seconds"]
    not_training = total - training
    phases = sum(t.get(p, 0.0) for p in ("chain", "storage", "validation", "federation"))
    own = sum(c["own_seconds"] or 0 for c in run["contributors"] if not c["saboteur"])
    out = {
        "not_training_over_training": common.ratio(not_training, training, 3),
        "not_training_excluding_setup_over_training": common.ratio(phases, training, 3),
        "contributor_own_seconds_over_training": common.ratio(own, training, 3),
    }
    for p in PHASES:
        if p != "training":
            out[f"{p}_over_training"] = common.ratio(t.get(p, 0.0), training, 3)
    out["unattributed_over_training"] = common.ratio(total - sum(t.get(p, 0.0) for p in PHASES), training, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.round", description=__doc__.split("\n")[0])
    common.common_args(parser)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--longer-epochs", type=int, default=None,
                        help="also run one round with this many epochs, to see which costs stay fixed "
                             "(default 5; smoke: none; 0: none)")
    parser.add_argument("--max-samples", type=int, default=None,
                        help="samples per contributor (default: the whole shard; smoke 300)")
    parser.add_argument("--spec-timeout", type=float,
                        default=float(os.environ.get("DECENTRALML_BENCH_SPEC_TIMEOUT", 3600)),
                        help="seconds to wait for the chain spec to be built")
    for name in ("task", "run-dir", "url", "ipfs-api", "s3-endpoint", "profile-out"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.max_samples is None:
        args.max_samples = 300 if args.smoke else 0
    if args.worker:
        common.write_worker_result(args.result, worker_round(args))
        return 0

    from bench.chain import wait_for_spec
    from bench.storage import Daemons
    from substrate_client import devnet

    out_dir = common.out_dir(args)
    repeats = args.repeats or (1 if args.smoke else 2)
    result = common.new_result(NAME, args.smoke)
    result["parameters"] = {"epochs": args.epochs, "max_samples": args.max_samples or "whole shard",
                            "repeats": repeats, "contributors": "Bob, Charlie, Dave (honest), Eve (random weights)",
                            "storage": "bundle on IPFS (Kubo), results on S3 (MinIO), sealed"}
    spec = wait_for_spec(args.spec_timeout)
    result["parameters"]["chain_spec"] = str(spec)
    workdir = Path(tempfile.mkdtemp(prefix="round-run-", dir=common.cache_dir()))
    runs = []
    port = common.free_port()
    try:
        with common.env_vars(DECENTRALML_RUN_DIR=str(workdir / "run"), DECENTRALML_MAX_SAMPLES=str(args.max_samples)):
            state = devnet.up(port, timeout=300)
            d = None
            try:
                d = Daemons(workdir / "daemons")
                env = dict(d.env, DECENTRALML_RUN_DIR=str(workdir / "run"),
                           DECENTRALML_MAX_SAMPLES=str(args.max_samples))
                def worker_argv(epochs: int) -> list[str]:
                    return ["--task", "round", "--url", state.url, "--ipfs-api", d.kubo.api_url,
                            "--s3-endpoint", d.minio.endpoint_url, "--epochs", str(epochs),
                            "--max-samples", str(args.max_samples)] + (["--smoke"] if args.smoke else [])

                base = worker_argv(args.epochs)
                for rep in range(repeats):
                    log(f"round {rep + 1}/{repeats} (load {common.load()})")
                    r = common.run_worker("round", base + ["--run-dir", str(workdir / f"round-{rep}")],
                                          env=env, timeout=7200, label="round")
                    r["ratios"] = _ratios(r)
                    runs.append(r)
                    log(f"round {rep + 1}: " + ", ".join(f"{k} {v}" for k, v in r["ratios"].items()))
                    result["runs"] = runs
                    common.finish_result(result, out_dir)
                med = {k: common.median(r["ratios"][k] for r in runs) for k in runs[0]["ratios"]}
                result["ratios"] = {k: round(v, 3) for k, v in med.items()}
                result["timings_median"] = {p: round(common.median(r["timings"].get(p, 0.0) for r in runs), 3)
                                            for p in PHASES}
                result["total_seconds_median"] = round(common.median(r["total_seconds"] for r in runs), 3)
                share = result["ratios"]["not_training_over_training"]
                met = share is not None and share <= GOAL
                t = result["timings_median"]
                result["goals"] = [common.goal(
                    "overhead", "everything that is not training at most 15% of the training time (demo settings)",
                    f"<= {GOAL:.2f}", share, met,
                    detail=f"training {t['training']} s; not training {round(result['total_seconds_median'] - t['training'], 2)} s = "
                           + ", ".join(f"{p} {t[p]} s" for p in PHASES if p != "training")
                           + f"; excluding setup: {result['ratios']['not_training_excluding_setup_over_training']}")]
                # The same round with longer training: which of the other phases stay fixed.
                longer = args.longer_epochs if args.longer_epochs is not None else (0 if args.smoke else 5)
                if longer:
                    log(f"round with {longer} epochs (load {common.load()})")
                    r = common.run_worker("round", worker_argv(longer) + ["--run-dir", str(workdir / "round-longer")],
                                          env=env, timeout=7200, label="round (longer)")
                    r["ratios"] = _ratios(r)
                    r["epochs"] = longer
                    result["longer_training"] = r
                    log("longer round: " + ", ".join(f"{k} {v}" for k, v in r["ratios"].items()))
                # Where the time that is not training goes: one more round under pyinstrument.
                if not met and not args.smoke:
                    path = out_dir / "profiles" / "round.txt"
                    prof = common.run_worker("round", base + ["--run-dir", str(workdir / "round-profiled"),
                                                              "--profile-out", str(path)],
                                             env=env, timeout=7200, label="round (profiled)")
                    result["profiles"] = {"round": prof["profile"]}
            finally:
                if d is not None:
                    d.stop()
                devnet.down(port)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    common.finish_result(result, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
