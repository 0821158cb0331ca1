"""Federation: averaging N contributors' SavedModels, ours against the seed's way and Flower's.

Inputs are N SavedModel folders of one architecture, N in {3, 10, 30}, for the seed's
MLP (``assets/model_creator/model_creator.py`` ``create_model``, ~100k parameters) and a
large MLP (784 -> 4096 -> 4096 -> 1280 -> 10, ~25M parameters, ~100 MB of weights). The
variants are made once by perturbing one model's weights and saving it as the bundle does
(tf-keras SavedModel), and cached under ``~/.cache/decentralml/bench/federation``.

Variants, each in its own process (time and peak RSS measured there, after imports):

* ``ours``: ``substrate_client.federation.federate(dirs, policy="average")``
  (``save_federated_model`` is timed separately);
* ``seed``: the seed's way, ``tf.keras.models.load_model`` for each folder, then
  ``tf.reduce_mean`` over ``zip(*[m.trainable_variables ...])``;
* ``flower``: Flower's ``flwr.server.strategy.aggregate.aggregate`` over the same weights,
  loaded as a Flower Keras client has them (``load_model(d).get_weights()``);
* ``floor``: ``cat`` of every file under each ``variables/`` to /dev/null: reading the
  weights once, which any way of averaging must do.

The averaged arrays of ours, the seed's way and Flower's are compared key by key.

    python -m bench.federation [--smoke] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.common import MiB, log

NAME = "federation"
SMALL, LARGE = "small", "large"
LARGE_LAYERS = (4096, 4096, 1280)
#: Bumped when the generated inputs change, so a stale cache is not reused.
INPUT_VERSION = 1
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def inputs_dir(kind: str) -> Path:
    return common.cache_dir() / "federation" / f"{kind}-v{INPUT_VERSION}"


def model_dirs(kind: str, n: int) -> list[Path]:
    return [inputs_dir(kind) / f"model_{i:02d}" for i in range(n)]


def variable_files(dirs: list[Path]) -> list[Path]:
    return sorted(p for d in dirs for p in (d / "variables").rglob("*") if p.is_file())


# =========================================================================== workers
# Everything below "worker_" runs in its own process and may import TensorFlow.


def _tf():
    from substrate_client.tensorflow_setup import import_tensorflow

    return import_tensorflow()


def _build(kind: str):
    tf = _tf()
    tf.keras.utils.set_random_seed(1234)
    if kind == SMALL:
        from assets.model_creator import model_creator

        return model_creator.create_model()
    layers = [tf.keras.layers.Flatten(input_shape=(28, 28))]
    layers += [tf.keras.layers.Dense(units, activation="relu") for units in LARGE_LAYERS]
    layers.append(tf.keras.layers.Dense(10))
    model = tf.keras.Sequential(layers, name="bench_large_mlp")
    # Compiled like the seed's model, so the SavedModel has the same kind of contents.
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def worker_generate(args) -> dict[str, Any]:
    """Make (or reuse) ``count`` perturbed copies of one model, saved as SavedModel folders."""
    import numpy as np

    dirs = model_dirs(args.kind, args.count)
    missing = [d for d in dirs if not (d / ".complete").is_file()]
    model = _build(args.kind)
    params = int(sum(np.prod(w.shape) for w in model.weights))
    weight_bytes = int(sum(np.prod(w.shape) * w.dtype.size for w in model.weights))
    if missing:
        base = [w.numpy() for w in model.weights]
        for d in missing:
            i = int(d.name.split("_")[1])
            rng = np.random.default_rng(1000 + i)
            for var, value in zip(model.weights, base):
                var.assign(value + rng.normal(0.0, 0.01, value.shape).astype(value.dtype))
            tmp = d.with_name(d.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(d, ignore_errors=True)
            model.save(str(tmp))
            (tmp / ".complete").write_text("ok\n")
            os.replace(tmp, d)
            log(f"generated {d}")
    files = variable_files(dirs[:1])
    return {
        "kind": args.kind,
        "count": args.count,
        "generated": len(missing),
        "params": params,
        "weight_bytes": weight_bytes,
        "variables_bytes_per_model": sum(p.stat().st_size for p in files),
        "layers": [list(w.shape) for w in model.weights],
    }


def _save_arrays(path: str | None, keys: list[str], arrays: list) -> None:
    if not path:
        return
    import numpy as np

    np.savez(path, *arrays)
    Path(path + ".keys.json").write_text(json.dumps(keys))


def worker_ours(args) -> dict[str, Any]:
    from substrate_client import federation

    dirs = model_dirs(args.kind, args.n)
    with common.Meter() as meter:
        weights = federation.federate(dirs, policy="average")
    out = {"federate": meter.result()}
    _save_arrays(args.arrays, list(weights), list(weights.values()))
    if args.save:
        with tempfile.TemporaryDirectory(prefix="dml-bench-fed-") as tmp:
            with common.Meter() as meter:
                federation.save_federated_model(dirs[0], weights, Path(tmp) / "federated")
            out["save"] = meter.result()
    return out


def worker_seed(args) -> dict[str, Any]:
    tf = _tf()
    from substrate_client import federation

    dirs = model_dirs(args.kind, args.n)
    with common.Meter() as meter:
        models = [tf.keras.models.load_model(str(d)) for d in dirs]
        seed = [tf.reduce_mean(v, axis=0).numpy() for v in zip(*[m.trainable_variables for m in models])]
    by_var = {id(v): k for k, v in federation.model_weights_by_key(models[0]).items()}
    keys = [by_var[id(v)] for v in models[0].trainable_variables]
    _save_arrays(args.arrays, keys, seed)
    return {"federate": meter.result()}


def worker_flower(args) -> dict[str, Any]:
    tf = _tf()
    from flwr.server.strategy.aggregate import aggregate

    from substrate_client import federation

    dirs = model_dirs(args.kind, args.n)
    keys: list[str] = []
    with common.Meter() as meter:
        results = []
        for i, d in enumerate(dirs):
            model = tf.keras.models.load_model(str(d))
            if i == 0:  # which checkpoint key each array of get_weights() is, for the check
                by_var = {id(v): k for k, v in federation.model_weights_by_key(model).items()}
                keys = [by_var[id(v)] for v in model.weights]
            results.append((model.get_weights(), 1))
            del model
        loaded = time.perf_counter()
        averaged = aggregate(results)
        aggregate_seconds = time.perf_counter() - loaded
    _save_arrays(args.arrays, keys, averaged)
    return {"federate": meter.result(), "aggregate_only_seconds": round(aggregate_seconds, 4)}


def worker_check(args) -> dict[str, Any]:
    """Compare ours with the seed's reduce_mean and with Flower's aggregate, key by key."""
    import numpy as np

    def load(name: str) -> dict[str, Any] | None:
        path = Path(args.arrays_dir) / f"{name}.npz"
        if not path.is_file():
            return None
        keys = json.loads(Path(str(path) + ".keys.json").read_text())
        with np.load(path) as data:
            return {k: data[f"arr_{i}"] for i, k in enumerate(keys)}

    ours = load("ours")
    if ours is None:
        return {"passed": False, "detail": "ours wrote no arrays"}
    report: dict[str, Any] = {"keys": len(ours), "tolerance": TOLERANCE, "against": {}}
    passed = True
    for name in ("seed", "flower"):
        theirs = load(name)
        if theirs is None:
            report["against"][name] = {"compared": False, "detail": "not run"}
            continue
        missing = sorted(set(theirs) - set(ours))
        max_abs = 0.0
        max_rel = 0.0
        worst = None
        mismatched = []
        for key, value in theirs.items():
            if key not in ours:
                continue
            mine = ours[key]
            if mine.shape != value.shape or mine.dtype != value.dtype:
                mismatched.append(f"{key}: {mine.shape}/{mine.dtype} vs {value.shape}/{value.dtype}")
                continue
            diff = np.abs(mine.astype(np.float64) - value.astype(np.float64))
            d = float(diff.max()) if diff.size else 0.0
            rel = float((diff / np.maximum(np.abs(value.astype(np.float64)), 1e-30)).max()) if diff.size else 0.0
            if d > max_abs:
                max_abs, worst = d, key
            max_rel = max(max_rel, rel)
            if not np.allclose(mine, value, **TOLERANCE):
                mismatched.append(f"{key}: max abs diff {d:.3g}")
        ok = not missing and not mismatched and len(theirs) > 0
        # Flower gets every weight (get_weights), the seed only trainable ones: for these
        # MLPs both are all of the model's weights, which is what ours federates.
        same_keys = set(theirs) == set(ours)
        passed = passed and ok and same_keys
        report["against"][name] = {
            "compared": True, "keys_compared": len(theirs), "same_key_set": same_keys,
            "missing_in_ours": missing, "mismatched": mismatched[:5],
            "max_abs_diff": max_abs, "max_rel_diff": max_rel, "worst_key": worst, "passed": ok and same_keys,
        }
    report["passed"] = passed and all(v.get("compared") for v in report["against"].values())
    return report


def worker_profile(args) -> dict[str, Any]:
    from substrate_client import federation

    dirs = model_dirs(args.kind, args.n)
    target = Path(args.profile_out)
    if args.variant == "seed":
        tf = _tf()

        def run():
            models = [tf.keras.models.load_model(str(d)) for d in dirs]
            return [tf.reduce_mean(v, axis=0).numpy() for v in zip(*[m.trainable_variables for m in models])]
    else:
        def run():
            return federation.federate(dirs, policy="average")
    _, summary = common.profile_call(run, target)
    return {"profile": summary}


def worker_diagnose(args) -> dict[str, Any]:
    """What reading one model's weights costs, by way of reading, best of 5 in one process.

    TensorFlow's ``CheckpointReader.get_tensor`` against reading the
    same data file's bytes with ``np.fromfile`` (fresh memory) and ``readinto`` a reused
    buffer, and ``np.add`` in place over as many float32 values: the parts a reader is made of.
    """
    import numpy as np
    import tensorflow as tf

    from substrate_client import federation

    d = model_dirs(args.kind, 1)[0]
    keys = list(federation.weight_specs(d))
    reader = tf.train.load_checkpoint(str(d / "variables" / "variables"))
    data_files = sorted((d / "variables").glob("variables.data-*"))
    size = sum(p.stat().st_size for p in data_files)
    weight_bytes = sum(reader.get_tensor(k).nbytes for k in keys)
    buffer = np.empty(max(p.stat().st_size for p in data_files), np.uint8)
    acc = np.zeros(weight_bytes // 4, np.float32)
    other = np.ones(weight_bytes // 4, np.float32)

    def best(fn, n=5):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def readinto():
        for p in data_files:
            with open(p, "rb", buffering=0) as f:
                f.readinto(memoryview(buffer)[: p.stat().st_size])

    timings = {
        "get_tensor": (best(lambda: [reader.get_tensor(k) for k in keys]), weight_bytes),
        "np_fromfile": (best(lambda: [np.fromfile(p, np.uint8) for p in data_files]), size),
        "readinto_reused_buffer": (best(readinto), size),
        "np_add_in_place": (best(lambda: np.add(acc, other, out=acc)), weight_bytes),
    }
    return {"kind": args.kind, "weight_bytes": weight_bytes, "data_bytes": size,
            "seconds": {k: round(t, 4) for k, (t, _) in timings.items()},
            "gb_per_s": {k: round(n / t / 1e9, 2) for k, (t, n) in timings.items()}}


WORKERS = {
    "generate": worker_generate, "diagnose": worker_diagnose, "ours": worker_ours, "seed": worker_seed, "flower": worker_flower,
    "check": worker_check, "profile": worker_profile,
}


# =========================================================================== the benchmark


def _gen(kind: str, count: int) -> dict[str, Any]:
    log(f"inputs: {count} {kind} models in {inputs_dir(kind)}")
    return common.run_worker("federation", ["--task", "generate", "--kind", kind, "--count", str(count)],
                             env=common.worker_env(), timeout=7200, label=f"generate {kind}")


def _variant(task: str, kind: str, n: int, arrays: str | None = None, save: bool = False) -> dict[str, Any]:
    argv = ["--task", task, "--kind", kind, "--n", str(n)]
    if arrays:
        argv += ["--arrays", arrays]
    if save:
        argv += ["--save"]
    return common.run_worker("federation", argv, env=common.worker_env(), label=f"{task} {kind} N={n}")


def _fits(task: str, n: int, weight_bytes: int) -> tuple[bool, str]:
    """Whether a baseline that holds N models in memory fits in what is free now."""
    copies = {"seed": 2.5, "flower": 3.5}.get(task, 0)
    need = int(copies * n * weight_bytes + 1.5 * 1024**3)
    free = common.available_memory_bytes()
    if need > 0.8 * free:
        return False, f"needs ~{need / 1024**3:.1f} GiB, {free / 1024**3:.1f} GiB free"
    return True, ""


def _summary(runs: list[dict[str, Any]], part: str = "federate") -> dict[str, Any]:
    parts = [r[part] for r in runs if part in r]
    if not parts:
        return {}
    out = {
        "seconds": round(common.median(p["seconds"] for p in parts), 4),
        "seconds_all": [p["seconds"] for p in parts],
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),
        "added_rss_mb": max(p["added_rss_mb"] for p in parts),
        "rss_before_mb": round(common.median(p["rss_before_mb"] for p in parts), 1),
        "process_maxrss_mb": max(r.get("process_maxrss_mb", 0) for r in runs),
        "process_seconds": round(common.median(r.get("process_seconds", 0) for r in runs), 3),
        "load": [r.get("load_before") for r in runs],
    }
    if part == "federate" and any("aggregate_only_seconds" in r for r in runs):
        out["aggregate_only_seconds"] = round(common.median(r["aggregate_only_seconds"] for r in runs), 4)
    return out


def bench_size(kind: str, n: int, info: dict[str, Any], repeats: int, work: Path) -> dict[str, Any]:
    dirs = model_dirs(kind, n)
    files = variable_files(dirs)
    read_bytes = sum(p.stat().st_size for p in files)
    row: dict[str, Any] = {
        "kind": kind, "n": n, "params": info["params"], "weight_mb": round(info["weight_bytes"] / MiB, 2),
        "variables_mb_read": round(read_bytes / MiB, 1), "variants": {}, "skipped": {},
    }
    common.run_command(["cat", *map(str, files)], capture=False)  # warm the page cache: every variant reads warm files
    runs: dict[str, list[dict[str, Any]]] = {"floor": [], "ours": [], "seed": [], "flower": []}
    arrays = work / f"{kind}-{n}"
    arrays.mkdir(parents=True, exist_ok=True)
    for rep in range(repeats):
        log(f"{kind} N={n}: repetition {rep + 1}/{repeats} (load {common.load()})")
        floor = common.run_command(["cat", *map(str, files)], capture=False)
        runs["floor"].append({"federate": {"seconds": floor["seconds"], "peak_rss_mb": floor["maxrss_mb"],
                                           "added_rss_mb": floor["maxrss_mb"], "rss_before_mb": 0.0},
                              "process_maxrss_mb": floor["maxrss_mb"], "process_seconds": floor["seconds"],
                              "load_before": floor["load_before"]})
        for task in ("ours", "seed", "flower"):
            if task in row["skipped"]:
                continue
            fits, why = _fits(task, n, info["weight_bytes"])
            if not fits:
                row["skipped"][task] = why
                log(f"skipping {task} {kind} N={n}: {why}")
                continue
            save = task == "ours"
            out = _variant(task, kind, n, str(arrays / f"{task}.npz") if rep == 0 else None, save=save)
            runs[task].append(out)
    for task, task_runs in runs.items():
        if task_runs:
            row["variants"][task] = _summary(task_runs)
    if runs["ours"]:
        row["variants"]["ours_save"] = _summary(runs["ours"], "save")
    row["check"] = common.run_worker("federation", ["--task", "check", "--arrays-dir", str(arrays)],
                                     env=common.worker_env(), label=f"check {kind} N={n}")
    for key in ("process_seconds", "process_maxrss_mb", "load_before", "load_after"):
        row["check"].pop(key, None)
    shutil.rmtree(arrays, ignore_errors=True)

    v = row["variants"]
    t = {name: v[name]["seconds"] for name in v if v[name]}
    ours = t.get("ours")
    row["ratios"] = {
        "seed_over_ours": common.ratio(t.get("seed"), ours, 2),  # speedup of ours over the seed's way
        "flower_over_ours": common.ratio(t.get("flower"), ours, 2),
        "ours_over_floor": common.ratio(ours, t.get("floor"), 2),
        "ours_added_rss_over_weights": common.ratio(v["ours"]["added_rss_mb"], row["weight_mb"], 2) if "ours" in v else None,
        "seed_added_rss_over_weights": common.ratio(v["seed"]["added_rss_mb"], row["weight_mb"], 2) if "seed" in v else None,
        "flower_added_rss_over_weights": common.ratio(v["flower"]["added_rss_mb"], row["weight_mb"], 2) if "flower" in v else None,
        "save_over_federate": common.ratio(v.get("ours_save", {}).get("seconds"), ours, 2),
    }
    log(f"{kind} N={n}: " + ", ".join(f"{k} {val}" for k, val in row["ratios"].items()))
    return row


def goals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def find(kind, n):
        return next((r for r in rows if r["kind"] == kind and r["n"] == n), None)

    out = []
    target_row = find(LARGE, 10)
    if target_row is not None:
        speed = target_row["ratios"]["seed_over_ours"]
        out.append(common.goal(
            "speed", "N=10 large models: ours at least 5x faster than the seed's way",
            ">= 5x", speed, None if speed is None else speed >= 5,
            detail=f"seed {target_row['variants'].get('seed', {}).get('seconds')} s, "
                   f"ours {target_row['variants']['ours']['seconds']} s"))
    else:
        out.append(common.goal("speed", "N=10 large models: ours at least 5x faster than the seed's way",
                               ">= 5x", None, None, detail="not run at this size (smoke run)"))
    for kind in (LARGE, SMALL):
        kind_rows = [r for r in rows if r["kind"] == kind and "ours" in r["variants"]]
        if not kind_rows:
            continue
        worst = max(kind_rows, key=lambda r: r["ratios"]["ours_added_rss_over_weights"] or 0)
        mem = worst["ratios"]["ours_added_rss_over_weights"]
        out.append(common.goal(
            f"memory_{kind}", f"{kind} model: ours' peak memory at most 3x one model's weights, whatever N",
            "<= 3x", mem, None if mem is None else mem <= 3,
            detail=f"worst at N={worst['n']}: +{worst['variants']['ours']['added_rss_mb']} MB over the "
                   f"worker's {worst['variants']['ours']['rss_before_mb']} MB after imports; one model's "
                   f"weights {worst['weight_mb']} MB; by N: "
                   + ", ".join(f"N={r['n']} {r['ratios']['ours_added_rss_over_weights']}x" for r in kind_rows)))
        worst = max(kind_rows, key=lambda r: r["ratios"]["ours_over_floor"] or 0)
        fl = worst["ratios"]["ours_over_floor"]
        out.append(common.goal(
            f"floor_{kind}", f"{kind} model: ours within 2x of the time to read the variable files once",
            "<= 2x", fl, None if fl is None else fl <= 2,
            detail=f"worst at N={worst['n']}: ours {worst['variants']['ours']['seconds']} s, "
                   f"cat {worst['variants']['floor']['seconds']} s of {worst['variables_mb_read']} MB; by N: "
                   + ", ".join(f"N={r['n']} {r['ratios']['ours_over_floor']}x" for r in kind_rows)))
    checks = [r["check"] for r in rows]
    passed = all(c.get("passed") for c in checks) and bool(checks)
    worst_diff = max((a.get("max_abs_diff", 0) for c in checks for a in c.get("against", {}).values()), default=None)
    out.append(common.goal(
        "equal", "ours gives the same numbers as the seed's reduce_mean and Flower's aggregate (float32)",
        f"allclose rtol={TOLERANCE['rtol']} atol={TOLERANCE['atol']}, by checkpoint key", worst_diff, passed,
        detail="; ".join(f"{r['kind']} N={r['n']}: " + ", ".join(
            f"{name} {'ok' if a.get('passed') else 'FAILED' if a.get('compared') else 'not run'} "
            f"({a.get('keys_compared', 0)} keys, max |diff| {a.get('max_abs_diff', 0):.2g})"
            for name, a in r["check"].get("against", {}).items()) for r in rows)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.federation", description=__doc__.split("\n")[0])
    common.common_args(parser)
    parser.add_argument("--task", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=[SMALL, LARGE], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--arrays", help=argparse.SUPPRESS)
    parser.add_argument("--arrays-dir", help=argparse.SUPPRESS)
    parser.add_argument("--save", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help="kind:N,... (default small:3,10,30 and large:3,10,30; smoke small:2)")
    args = parser.parse_args(argv)
    if args.worker:
        common.write_worker_result(args.result, WORKERS[args.task](args))
        return 0

    out_dir = common.out_dir(args)
    result = common.new_result(NAME, args.smoke)
    if args.sizes:
        sizes = [(k, int(n)) for k, n in (s.split(":") for s in args.sizes.split(","))]
    elif args.smoke:
        sizes = [(SMALL, 2)]
    else:
        sizes = [(SMALL, 3), (SMALL, 10), (SMALL, 30), (LARGE, 3), (LARGE, 10), (LARGE, 30)]
    repeats = args.repeats or (1 if args.smoke else 3)
    result["parameters"] = {"sizes": sizes, "repeats": repeats, "policy": "average",
                            "large_layers": [784, *LARGE_LAYERS, 10], "tolerance": TOLERANCE,
                            "cache": str(common.cache_dir() / "federation")}
    info = {}
    for kind in dict.fromkeys(k for k, _ in sizes):
        info[kind] = _gen(kind, max(n for k, n in sizes if k == kind))
        for key in ("process_seconds", "process_maxrss_mb", "load_before", "load_after"):
            info[kind].pop(key, None)
    result["models"] = info
    rows = []
    with tempfile.TemporaryDirectory(prefix="dml-bench-fed-arrays-") as work:
        for kind, n in sizes:
            rows.append(bench_size(kind, n, info[kind], repeats, Path(work)))
            result["rows"] = rows
            common.finish_result(result, out_dir)  # partial results survive a later failure
    result["rows"] = rows
    # the headline ratios
    for r in rows:
        for k, v in r["ratios"].items():
            result["ratios"][f"{r['kind']}_n{r['n']}_{k}"] = v
    result["goals"] = goals(rows)

    # Where the time goes: ours (and the seed's way, for contrast) under pyinstrument.
    profile_sizes = [(SMALL, 2)] if args.smoke else [(LARGE, 10), (SMALL, 10)]
    result["profiles"] = {}
    for kind, n in profile_sizes:
        if (kind, n) not in sizes:
            continue
        for variant in ("ours", "seed"):
            path = out_dir / "profiles" / f"federation-{variant}-{kind}-n{n}.txt"
            prof = common.run_worker("federation", ["--task", "profile", "--kind", kind, "--n", str(n),
                                                    "--variant", variant, "--profile-out", str(path)],
                                     env=common.worker_env(), label=f"profile {variant}")
            result["profiles"][f"{variant}_{kind}_n{n}"] = prof["profile"]
    # What a reader of the weights is made of, measured on one model of each kind.
    result["diagnosis"] = {}
    for kind in dict.fromkeys(k for k, _ in sizes):
        diag = common.run_worker("federation", ["--task", "diagnose", "--kind", kind],
                                 env=common.worker_env(), label=f"diagnose {kind}")
        for key in ("process_seconds", "process_maxrss_mb", "load_after"):
            diag.pop(key, None)
        result["diagnosis"][kind] = diag
    common.finish_result(result, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
