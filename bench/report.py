"""BENCHMARKS.md and the charts, regenerated from the result files in bench/results/.

Nothing here measures: it reads ``<name>.json`` as the benchmarks wrote them, renders a
table per benchmark with the machine it ran on and each goal's verdict, draws PNG charts
beside the results, and appends the hand-written analysis in ``bench/analysis/<name>.md``
(kept across regenerations) for real runs.

    python -m bench.report [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import common

ORDER = ("federation", "chain", "storage", "campaign")
TITLES = {"federation": "Federation: averaging N SavedModels", "chain": "Chain: marketplace extrinsics",
          "storage": "Storage: a SavedModel-like folder to and from Kubo and MinIO",
          "campaign": "Campaigns: many contributor agents, and the creator's time per result"}
ANALYSIS = common.BENCH / "analysis"


def load_results(out_dir: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for name in ORDER:
        path = out_dir / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found


def load_status(out_dir: Path) -> dict[str, Any]:
    path = out_dir / "status.json"
    return json.loads(path.read_text()) if path.is_file() else {}


# --------------------------------------------------------------------------- formatting


def _f(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}{suffix}"
        if 0 < abs(value) < 0.01:
            return f"{value:.2g}{suffix}"
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def _verdict(met: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured"}[met]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _machine(r: dict[str, Any]) -> str:
    m = r["machine"]
    return (f"Ran {r['started_at']} → {r.get('finished_at', '?')} on {m['nproc']} CPUs ({m['cpu']}), "
            f"{m['ram_gib']} GiB RAM ({m['available_gib_at_start']} GiB available at start), Linux {m['kernel']}, "
            f"Python {m['python']}. Load average (1/5/15 min) at start {r['load_start']}, at end "
            f"{r.get('load_end', '?')} — the machine is shared with builds and tests, so read the load before "
            f"trusting a small difference.\n\nCommand: `{r['command']}`")


def _goals(r: dict[str, Any]) -> str:
    rows = [[g["description"], g["target"], _f(g["measured"], 3), _verdict(g["met"]), g["detail"]]
            for g in r.get("goals", [])]
    return _table(["goal", "target", "measured", "verdict", "detail"], rows) if rows else "_no goals evaluated_"


def _profiles(r: dict[str, Any], md_dir: Path) -> str:
    out = []
    for name, p in (r.get("profiles") or {}).items():
        if not p:
            continue
        top = ", ".join(f"`{t['function']}` {t['share']:.0%}" for t in p["top_self_time"][:6] if (t.get("share") or 0) >= 0.01)
        link = os.path.relpath(common.ROOT / p["file"], md_dir) if p.get("file") else None
        out.append(f"- `{name}` ({p['total_seconds']} s profiled"
                   + (f", [call tree]({link})" if link else "") + f"): most self time in {top}")
    return "\n".join(out)


# --------------------------------------------------------------------------- per benchmark


def render_federation(r: dict[str, Any]) -> str:
    rows = []
    for row in r.get("rows", []):
        v = row["variants"]
        ratios = row["ratios"]

        def t(name):
            return _f(v.get(name, {}).get("seconds"), 3) if name in v else ("skipped" if name in row.get("skipped", {}) else "-")

        def mem(name):
            if name not in v:
                return "-"
            x = v[name]["added_rss_mb"] / row["weight_mb"] if row["weight_mb"] else None
            return f"{_f(v[name]['added_rss_mb'], 1)} ({_f(x, 1)}×)"

        check = row.get("check", {})
        rows.append([
            row["kind"], row["n"], f"{row['params']:,}", _f(row["weight_mb"], 1), _f(row["variables_mb_read"], 1),
            t("floor"), t("ours"), t("seed"), t("flower"), t("ours_save"),
            f"**{_f(ratios['seed_over_ours'], 1)}×**", f"{_f(ratios['flower_over_ours'], 1)}×",
            f"**{_f(ratios['ours_over_floor'], 2)}×**",
            mem("ours"), mem("seed"), mem("flower"),
            "yes" if check.get("passed") else "NO",
        ])
    table = _table(
        ["model", "N", "params", "weights MB", "read MB", "floor s", "ours s", "seed s", "Flower s", "save s",
         "seed ÷ ours", "Flower ÷ ours", "ours ÷ floor", "ours +RSS MB (× weights)", "seed +RSS MB",
         "Flower +RSS MB", "equal"], rows)
    diag = []
    for kind, dg in (r.get("diagnosis") or {}).items():
        g = dg["gb_per_s"]
        diag.append(f"- {kind} model ({dg['weight_bytes'] / common.MiB:.1f} MB of weights), best of 5 in one process: "
                    f"TensorFlow's `CheckpointReader.get_tensor` {g['get_tensor']} GB/s; "
                    f"the same data file's bytes with `np.fromfile` {g['np_fromfile']} GB/s, `readinto` a reused "
                    f"buffer {g['readinto_reused_buffer']} GB/s; `np.add` in place {g['np_add_in_place']} GB/s "
                    f"(load {dg.get('load_before')}).")
    p = r.get("parameters", {})
    return "\n\n".join([
        f"Median of {p.get('repeats')} repetitions per variant, each in a fresh process; files are in the page "
        "cache (read once before timing), so the floor is the cost of reading them from memory. Times are of "
        "the work only (interpreter start and imports excluded, the same for every variant). `+RSS` is the "
        "peak RSS during the work above the RSS the process had just before it (after imports), measured by "
        "the kernel (`VmHWM`, reset at the start of the work); `× weights` divides it by one model's weights. "
        "`save s` is `save_federated_model` (load the template, set the weights, `model.save`), timed apart.",
        table,
    ] + (["What reading weights costs, by way of reading (`federate` reads each variable's byte range from the "
              "bundle with `np.fromfile` since f88fa4e; before, with `get_tensor`):\n\n" + "\n".join(diag)] if diag else []))


def render_chain(r: dict[str, Any]) -> str:
    one = r.get("one_at_a_time", {})
    client = r.get("client_side", {})
    shares = r.get("shares", {})
    rows = []
    for kind, s in one.items():
        sp = s["split_ms_median"]
        c = client.get(kind, {})
        rows.append([
            f"`{kind}`", s["count"], _f(s["extrinsics_per_s"], 2), _f(s["round_trip_ms"]["median"], 1),
            _f(s["round_trip_ms"]["p90"], 1), _f(sp["compose"], 1), _f(sp["sign"], 1), _f(sp["submit_and_wait"], 1),
            _f(sp["receipt"], 1), _f(s["rpcs_per_extrinsic"], 1), _f(c.get("total_ms"), 2),
            f"**{_f((shares.get(kind, {}).get('client_cpu_share') or 0) * 100, 1)}%**",
            f"{_f((shares.get(kind, {}).get('library_presubmit_share') or 0) * 100, 1)}%",
        ])
    table = _table(["extrinsic", "n", "per s", "round trip ms (median)", "p90 ms", "compose ms", "sign ms",
                    "submit + wait for block ms", "receipt ms", "RPCs each", "client CPU ms",
                    "client CPU ÷ round trip", "compose + sign ÷ round trip"], rows)
    b = r.get("batch_accept", {})
    acc = one.get("accept_task_result", {})
    batch = _table(["accepting", "one by one s", "one batch_all s", "speedup", "RPCs in the batch path"],
                   [[b.get("count"), _f(acc.get("wall_seconds"), 2), _f(b.get("seconds"), 3),
                     f"**{_f(r['ratios'].get('batch_accept_speedup'), 1)}×**", b.get("rpc_count")]])
    methods = []
    for kind, s in one.items():
        ms = s.get("rpc_ms_by_method_median", {})
        methods.append(f"- `{kind}`: " + ", ".join(
            f"`{m}` ×{c:g}" + (f" ({ms[m]:.1f} ms)" if m in ms else "") for m, c in s["rpcs_by_method_per_extrinsic"].items()))
    p = r.get("parameters", {})
    return "\n\n".join([
        f"Executor: {p.get('executor')}. Dev chain started by the benchmark on a free port "
        f"({r.get('devnet_start_seconds')} s to start). Round trip = `Chain.submit` (what the client library "
        "does): compose and sign (substrate-interface, including the RPCs it sends inside them), submit and "
        "wait for the block, then read the receipt (events, fee). Client CPU = compose + sign + encode with no "
        f"network (runtime metadata, nonce and genesis hash given), median of {p.get('client_side_repeats')}.",
        table, batch, "RPCs per extrinsic, by method (median time of one call):\n\n" + "\n".join(methods)])


def render_storage(r: dict[str, Any]) -> str:
    rows = []
    for row in r.get("rows", []):
        v = row["variants"]
        for store in ("ipfs", "s3"):
            for op in ("up", "down"):
                ours, plain = v[f"{store}_ours_{op}"], v[f"{store}_plain_{op}"]
                rows.append([
                    row["size"], f"{row['bytes'] / common.MiB:,.0f} MiB, {row['files']} files", store.upper(),
                    "upload" if op == "up" else "download",
                    f"{_f(ours['mb_per_s'], 1)} ({_f(ours['seconds'], 2)} s)",
                    f"{_f(plain['mb_per_s'], 1)} ({_f(plain['seconds'], 2)} s)",
                    f"**{_f(row['ratios'][f'{store}_{op}_ours_throughput_share'] * 100 if row['ratios'][f'{store}_{op}_ours_throughput_share'] is not None else None, 0)}%**",
                    _f(ours["peak_rss_mb"], 1), _f(plain["peak_rss_mb"], 1),
                ])
    p = r.get("parameters", {})
    plain_names = ("IPFS plain: `ipfs add " + p.get("ipfs_add_flags", "") + "` / `ipfs get` (CLI, same daemon). "
                   "S3 plain: " + p.get("boto3", "") + " of the same tar archive, made beforehand (not timed).")
    return "\n\n".join([
        f"Median of {p.get('repeats')} repetitions; every variant in its own process. Throughput is the "
        f"folder's bytes over the wall time. {plain_names} Ours is the whole `upload_folder` (pack to a "
        "deterministic tar, hash, store, check it is there) and `download_folder` (fetch, check sha256, "
        "unpack). Peak RSS: ours, the Python process (kernel `VmHWM`, imports included); plain, the CLI or "
        "boto3 process. The daemons' own memory is not counted for either. " + (r.get("daemons", {}).get("kubo", "") and
        f"Daemons: {r['daemons']['kubo']}; {r['daemons'].get('minio', '')}."),
        _table(["size", "folder", "store", "op", "ours MiB/s", "plain MiB/s", "ours ÷ plain", "ours peak RSS MB",
                "plain peak RSS MB"], rows)])


CREATOR_PHASES = ("storage", "chain", "validation", "decisions", "federation", "close", "other")


def render_campaign(r: dict[str, Any]) -> str:
    p = r.get("parameters", {})
    parts = []
    demo = r.get("demo")
    if demo and demo.get("rounds"):
        phases = demo.get("phases") or []
        rows = [[x["round"], _f(x["wall"], 1), _f(x["training"], 2)] + [_f(x["phases"].get(ph, 0.0), 2) for ph in phases]
                + [_f(x["other"], 2), f"**{_f(x['share'] * 100 if x['share'] is not None else None, 1)}%**"]
                for x in demo["rounds"]]
        parts += [demo.get("description", ""),
                  _table(["round", "wall s", "training s"] + [f"{ph} s" for ph in phases]
                         + ["other s", "not training ÷ training"], rows)]
    sizes = r.get("sizes") or []
    if sizes:
        rows = []
        for s in sizes:
            rounds = s["rounds"]
            nr = len(rounds) or 1
            a = s["agents"]
            ph = {k: sum(x["phases"].get(k, 0.0) for x in rounds) / nr for k in CREATOR_PHASES if k != "other"}
            ph["other"] = sum(x["other"] for x in rounds) / nr
            done = not s.get("creator_error")
            rows.append([
                s["n"], " / ".join(_f(x["wall"], 1) for x in rounds) if done else "did not finish",
                _f(sum(x["creator_busy"] for x in rounds) / nr, 2) if done else "-",
                " / ".join(_f(ph[k], 2) for k in CREATOR_PHASES) if done else "-",
                f"**{_f((s['creator_busy_per_accepted'] or 0) * 1000, 0)}**" if done else "-",
                _cpu_ms(s.get("creator_cpu_per_accepted")) + " / " + _cpu_ms(s.get("chain_cpu_per_accepted")),
                f"{s['accepted']}/{s['slots']}", a["error_count"],
                f"{a['retry_count']} / {a.get('submit_timeouts', '-')}",
                f"{_f(a['peak_rss_mb']['max'], 0)} / {_f(a['peak_rss_mb']['median'], 0)}",
                _f(a["cpu_seconds"]["median"], 1), _f(a["start_seconds"]["median"], 1),
                _f(s["load_during_campaign"]["mean_1min"], 1),
            ])
        parts += [
            f"{p.get('task')}. {p.get('storage')}. Agents: {p.get('agents')}; started "
            f"{p.get('starting_at_once')} at a time (the next once one watches for tasks). One campaign of "
            f"{p.get('rounds')} rounds per N, N slots and min_results N, a round's deadline "
            f"{p.get('round_blocks')} blocks; besides one block per transaction, the chain makes a block every "
            f"{p.get('block_seconds')} s as a real chain would. The creator's time is the round's wall time "
            "minus her waiting for results (a new block); by phase (storage / chain / validation / decisions / "
            "federation / close / other, per round): storage = round bundle built and uploaded, results "
            "received (download, unseal, unpack); chain = creating the task and every read (the task's "
            "results, read again after each block that changed the task or one of its slots); validation = "
            "restoring and evaluating each result, the hook; decisions = the batch; federation = federating "
            "and evaluating; close = closing the task. CPU: the creator's process and the dev chain's, "
            "per accepted result, over the campaign.",
            _table(["N", "wall per round s", "creator s per round", "by phase s", "creator ms per accepted result",
                    "CPU ms per accepted result: creator / dev chain", "accepted / slots", "nonce errors", "agents' failed sends / submit timeouts",
                    "agent peak RSS MB (max / median)",
                    "agent CPU s (median)", "agent start s (median)", "load (1 min) during"], rows)]
        fit = r.get("creator_busy_fit")
        if fit:
            parts.append(f"Least-squares fit over every round: the creator's time per round ≈ {fit['intercept']:.2f} s "
                         f"+ {fit['slope'] * 1000:.1f} ms × N.")
        found = [e for s in sizes for e in s["agents"]["errors"]]
        if found:
            parts.append("Nonce or priority errors in the agents' logs (first ones):\n\n" + "\n".join(
                f"- {e['agent']} ({e['log']}, line {e['line']}): `{e['excerpt'][-300:].replace(chr(10), ' | ')}`"
                for e in found[:8]))
        for s in sizes:
            a = s["agents"]
            if s.get("creator_error") or a.get("failure_kinds"):
                parts.append(f"**N={s['n']}:** " + (s.get("creator_error") or "") + ". "
                             + "; ".join(f"{count} agent(s): {kind}" for kind, count in (a.get("failure_kinds") or {}).items())
                             + (f". {s['salvaged']}." if s.get("salvaged") else ""))
            elif a["missed_count"]:
                parts.append(f"N={s['n']}: missed (agent, round): "
                             + ", ".join(f"{m['agent']} r{m['round']}" for m in a["missed"][:20]))
    sizes_ran = sorted({s.get("ran_at") for s in sizes if s.get("ran_at")})
    notes = list(r.get("notes") or []) + ([f"The sizes ran at {', '.join(sizes_ran)}."] if len(sizes_ran) > 1 else [])
    if notes:
        parts.append("Notes: " + " ".join(n.rstrip(".") + "." for n in notes))
    return "\n\n".join(x for x in parts if x) or "_no measurements_"


def _cpu_ms(seconds) -> str:
    return "-" if seconds is None else _f(seconds * 1000, 0)


# --------------------------------------------------------------------------- the network (run by hand)

NETWORK_TITLE = "Network: a round on a real node network against Chopsticks"
#: Rows of the network table: (label, key in a target's medians, digits).
NETWORK_ROWS = (("main job process, wall s", "process_seconds", 1), ("campaign part (total − setup) s", "campaign_seconds", 1),
                ("setup s", "setup_seconds", 1), ("round wall s", "round_wall", 1), ("first round wall s", "round1_wall", 1), ("training s", "training", 1),
                ("outside training s", "overhead", 1), ("creator: chain s", "chain", 2),
                ("creator: storage s", "storage", 2), ("creator: waiting for results s", "waiting", 1),
                ("creator: busy s", "creator_busy", 2), ("blocks the round took", "blocks", 0))


def _network_extra(n: dict[str, Any], c: dict[str, Any]) -> str:
    """Where a round's extra time on the network goes, from the medians of both sides."""
    keys = ("round_wall", "training", "chain", "waiting")
    if not all(isinstance(n.get(k), (int, float)) and isinstance(c.get(k), (int, float)) for k in keys):
        return ""
    extra = n["round_wall"] - c["round_wall"]
    chain, waiting = n["chain"] - c["chain"], n["waiting"] - c["waiting"]
    training = n["training"] - c["training"]
    blocks = f"; the round spanned {_f(n.get('blocks'), 0)} blocks (≈ {_f(n['round_wall'] / n['blocks'], 1)} s each)" \
        if n.get("blocks") else ""
    return (f"Where the extra time goes: a round takes {_f(extra, 1)} s more on the network. The creator's own "
            f"chain calls take {_f(chain, 1)} s more (her transactions waiting for a 6 s slot, then for "
            f"GRANDPA finality) and her wait for results {_f(waiting, 1)} s more (the contributors' "
            f"transactions, waited on the same way, and training, which differs by {_f(training, 1)} s)"
            + blocks + ".")


def render_network(r: dict[str, Any]) -> str:
    """The "Network" section from ``network.json`` (written by ``python -m bench.network``)."""
    node, net, p = r.get("node") or {}, r.get("network") or {}, r.get("parameters") or {}
    build = (node.get("build") or {}).get("text", "not recorded")
    parts = [
        "Run by hand with the command above, not by `python -m bench` (CI has no node). It starts "
        f"a network of {p.get('validators')} validators of our node (`scripts/network.sh up`, folder "
        f"`{p.get('network_dir')}`, RPC from port {p.get('rpc_port')}), runs the main job (`decentralml run_round "
        "--json`) against it (`--url`) and against a Chopsticks dev chain on a free port in the same run "
        "(alternating which goes first when repeated), reads each run's `summary.json`, and brings both down "
        "at the end, also on failure.",
        f"Node: `{node.get('version')}`, {_f(node.get('size_mb'), 1)} MB; build time: {build}. Network `up` "
        f"{_f(net.get('up_seconds'), 1)} s in all; after the nodes started, first finalized block after "
        f"{_f(net.get('first_finalized_after_wait_s'))} s, finalized progress on every node after "
        f"{_f(net.get('finalizing_after_wait_s'))} s (load {net.get('load_before')} → {net.get('load_after')}).",
    ]
    for s in r.get("summaries") or []:
        med, ratios = s["medians"], s["network_over_chopsticks"]
        n, c = med.get("network", {}), med.get("chopsticks", {})
        rows = [[label, _f(n.get(key), digits), _f(c.get(key), digits), f"**{_f(ratios.get(key), 2)}×**"]
                for label, key, digits in NETWORK_ROWS if key != "round1_wall" or s["rounds"] > 1]
        parts += [f"`--rounds {s['rounds']}`, median of {n.get('runs', 0)} network and {c.get('runs', 0)} "
                  "Chopsticks run(s); per round figures are over every round:",
                  _table(["", "network", "Chopsticks", "network ÷ Chopsticks"], rows)]
        extra = _network_extra(n, c)
        if extra:
            parts.append(extra)
    runs = r.get("runs") or []
    if runs:
        parts.append("Runs, in order: " + "; ".join(
            f"{x['target']} --rounds {x['rounds_planned']}: {_f(x['process_seconds'], 1)} s, load "
            f"{x['load_before']} → {x['load_after']}" for x in runs) + ".")
    parts.append(
        "Why: Chopsticks makes a block as soon as a transaction arrives and finalizes it "
        "at once, so a money-moving call costs one round trip. The network makes a block in each 6 s Aura slot "
        "and GRANDPA finalizes a block a little after it is imported, so each money-moving transaction the "
        "client waits on (creating the task, the decisions' batch, closing; each contributor's reserve and "
        "submit) waits for inclusion and then finality: about 2 blocks, 6-12 s. Training and the creator's "
        "own work (storage, validation, federation) do not depend on the chain and take the same time on both. "
        "(The demo also asks Chopsticks for a block every 2 s without one, as a chain's block time would, so "
        "its block count is not a count of transactions; our node has no such call and keeps its 6 s slots.)")
    if r.get("notes"):
        parts.append("Notes: " + " ".join(x.rstrip(".") + "." for x in r["notes"]))
    return "\n\n".join(parts)


RENDER = {"federation": render_federation, "chain": render_chain, "storage": render_storage,
          "campaign": render_campaign}


# --------------------------------------------------------------------------- charts


def charts(results: dict[str, dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = {}
    colors = {"floor": "#9e9e9e", "ours": "#1565c0", "seed": "#c62828", "flower": "#ef6c00", "plain": "#757575"}

    r = results.get("federation")
    if r and r.get("rows"):
        kinds = [k for k in ("small", "large") if any(row["kind"] == k for row in r["rows"])]
        fig, axes = plt.subplots(2, len(kinds), figsize=(6 * len(kinds), 8), squeeze=False)
        for col, kind in enumerate(kinds):
            rows = [row for row in r["rows"] if row["kind"] == kind]
            ax = axes[0][col]
            width = 0.2
            for i, name in enumerate(("floor", "ours", "seed", "flower")):
                xs = [j + (i - 1.5) * width for j in range(len(rows))]
                ys = [row["variants"].get(name, {}).get("seconds") or 0 for row in rows]
                ax.bar(xs, ys, width, label=name, color=colors[name])
            ax.set_yscale("log")
            ax.set_xticks(range(len(rows)), [f"N={row['n']}" for row in rows])
            ax.set_ylabel("seconds (log)")
            ax.set_title(f"{kind} model ({rows[0]['weight_mb']:.1f} MB weights): time")
            ax.legend(fontsize=8)
            ax = axes[1][col]
            for i, name in enumerate(("ours", "seed", "flower")):
                xs = [j + (i - 1) * 0.25 for j in range(len(rows))]
                ys = [(row["variants"].get(name, {}).get("added_rss_mb") or 0) / row["weight_mb"] for row in rows]
                ax.bar(xs, ys, 0.25, label=name, color=colors[name])
            ax.axhline(3, color="black", linestyle="--", linewidth=1, label="goal: 3× (ours)")
            ax.set_yscale("log")
            ax.set_xticks(range(len(rows)), [f"N={row['n']}" for row in rows])
            ax.set_ylabel("peak RSS added ÷ one model's weights (log)")
            ax.set_title(f"{kind} model: memory")
            ax.legend(fontsize=8)
        fig.tight_layout()
        made["federation"] = out_dir / "federation.png"
        fig.savefig(made["federation"], dpi=90)
        plt.close(fig)

    r = results.get("chain")
    if r and r.get("one_at_a_time"):
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 1]})
        kinds = list(r["one_at_a_time"])
        bottom = [0.0] * len(kinds)
        for part, label, color in (("compose", "compose (incl. its RPCs)", "#90caf9"),
                                   ("sign", "sign (incl. nonce and runtime RPCs)", "#1565c0"),
                                   ("submit_and_wait", "submit, wait for the block", "#9e9e9e"),
                                   ("receipt", "read the receipt", "#ef6c00")):
            ys = [r["one_at_a_time"][k]["split_ms_median"][part] for k in kinds]
            ax1.bar(kinds, ys, bottom=bottom, label=label, color=color)
            bottom = [b + y for b, y in zip(bottom, ys)]
        cpu = [r["client_side"][k]["total_ms"] for k in kinds]
        ax1.scatter(kinds, cpu, color="black", marker="_", s=400, label="client CPU (compose+sign+encode)", zorder=3)
        ax1.set_ylabel("ms per extrinsic (median)")
        ax1.set_title("one extrinsic at a time: where the round trip goes")
        ax1.legend(fontsize=8)
        b = r["batch_accept"]
        acc = r["one_at_a_time"]["accept_task_result"]
        ax2.bar(["one by one", "batch_all"], [acc["wall_seconds"], b["seconds"]], color=["#9e9e9e", "#1565c0"])
        ax2.set_ylabel("seconds")
        ax2.set_title(f"accepting {b['count']} results")
        fig.tight_layout()
        made["chain"] = out_dir / "chain.png"
        fig.savefig(made["chain"], dpi=90)
        plt.close(fig)

    r = results.get("storage")
    if r and r.get("rows"):
        row = max(r["rows"], key=lambda x: x["bytes"])
        labels, ours, plain = [], [], []
        for store in ("ipfs", "s3"):
            for op in ("up", "down"):
                labels.append(f"{store.upper()} {'upload' if op == 'up' else 'download'}")
                ours.append(row["variants"][f"{store}_ours_{op}"]["mb_per_s"])
                plain.append(row["variants"][f"{store}_plain_{op}"]["mb_per_s"])
        fig, ax = plt.subplots(figsize=(8, 4.5))
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], ours, 0.4, label="ours", color=colors["ours"])
        ax.bar([x + 0.2 for x in xs], plain, 0.4, label="plain tool", color=colors["plain"])
        ax.set_xticks(list(xs), labels)
        ax.set_ylabel("MiB/s")
        ax.set_title(f"{row['size']} SavedModel-like folder ({row['files']} files)")
        ax.legend()
        fig.tight_layout()
        made["storage"] = out_dir / "storage.png"
        fig.savefig(made["storage"], dpi=90)
        plt.close(fig)

    r = results.get("campaign")
    sizes = [s for s in (r or {}).get("sizes") or [] if not s.get("creator_error")]
    if sizes:
        unfinished = [str(s["n"]) for s in r["sizes"] if s.get("creator_error")]
        palette = dict(zip(CREATOR_PHASES, ("#ef6c00", "#1565c0", "#6a1b9a", "#00838f", "#c62828", "#795548", "#9e9e9e")))
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        labels = [str(s["n"]) for s in sizes]
        bottom = [0.0] * len(sizes)
        for phase in CREATOR_PHASES:
            ys = []
            for s in sizes:
                total = sum((x["other"] if phase == "other" else x["phases"].get(phase, 0.0)) for x in s["rounds"])
                ys.append(1000 * total / (s["accepted"] or 1))
            ax1.bar(labels, ys, bottom=bottom, color=palette[phase], label=phase)
            bottom = [b + y for b, y in zip(bottom, ys)]
        ax1.set_xlabel("agents (N)")
        ax1.set_ylabel("ms per accepted result")
        ax1.set_title("the creator's time outside waiting, per accepted result")
        ax1.legend(fontsize=8)
        ns = [s["n"] for s in sizes]
        nrounds = max(len(s["rounds"]) for s in sizes)
        for i in range(nrounds):
            ax2.plot(ns, [s["rounds"][i]["wall"] if i < len(s["rounds"]) else None for s in sizes], marker="o",
                     label=f"round {i + 1}: wall")
        ax2.plot(ns, [sum(x["creator_busy"] for x in s["rounds"]) / max(len(s["rounds"]), 1) for s in sizes],
                 marker="s", color="black", label="creator's time per round")
        ax2.set_xlabel("agents (N)")
        ax2.set_ylabel("seconds")
        ax2.set_title("one round of the campaign" + (f" (N={', '.join(unfinished)}: did not finish)" if unfinished else ""))
        ax2.legend(fontsize=8)
        fig.tight_layout()
        made["campaign"] = out_dir / "campaign.png"
        fig.savefig(made["campaign"], dpi=90)
        plt.close(fig)
    return made


# --------------------------------------------------------------------------- the document


def write_report(out_dir: Path, md_path: Path | None = None) -> Path:
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    status = load_status(out_dir)
    smoke = any(r.get("smoke") for r in results.values())
    md_path = md_path or (common.ROOT / "BENCHMARKS.md" if out_dir.resolve() == common.RESULTS.resolve()
                          else out_dir / "BENCHMARKS.md")
    md_dir = md_path.parent
    pngs = charts(results, out_dir)

    parts = [
        "# Benchmarks",
        "_Generated by `python -m bench.report` from `" + os.path.relpath(out_dir, md_dir) + "/*.json`; do not edit "
        "by hand (the analysis under each benchmark comes from `bench/analysis/<name>.md`)._"
        + (" **These are smoke sizes: tiny inputs to check the benchmarks run, not numbers to quote.**" if smoke else ""),
        "Run everything with `bash scripts/bench.sh` (`python -m bench`), one benchmark with "
        "`bash scripts/bench.sh --only storage`, tiny sizes with `--smoke` (results then go to "
        "`bench/results/smoke/`). Each benchmark runs ours and its baselines in the same run and reports "
        "their ratio; absolute times are context only. Peak memory is measured by the kernel in a separate "
        "process per variant, never estimated. Inputs are generated once and cached in "
        "`~/.cache/decentralml/bench/`. Sizes in MB are MiB (2^20 bytes).",
    ]
    # summary of every goal
    rows = []
    for name in ORDER:
        r = results.get(name)
        if r is None:
            rows.append([name, "-", "-", "-", "not run" + (f" ({status[name]['state']})" if name in status else "")])
            continue
        for g in r.get("goals", []):
            rows.append([name, g["description"], g["target"], _f(g["measured"], 3), _verdict(g["met"])])
        if not r.get("goals"):
            rows.append([name, "-", "-", "-", "incomplete run: no verdicts"])
    parts += ["## Goals", _table(["benchmark", "goal", "target", "measured", "verdict"], rows)]

    for name in ORDER:
        r = results.get(name)
        parts.append(f"## {TITLES[name]}")
        if r is None:
            parts.append("_Not run yet._" + (f" Last attempt: {status[name]}" if name in status else ""))
            continue
        st = status.get(name)
        if st and st.get("state") != "ok":
            parts.append(f"**The last run of this benchmark failed ({st.get('state')}, {st.get('when')}); the "
                         "numbers below are what it wrote before failing, or from an earlier run.**")
        parts.append(_machine(r))
        parts.append(RENDER[name](r))
        parts.append("Goals:\n\n" + _goals(r))
        prof = _profiles(r, md_dir)
        if prof:
            parts.append("Profiles (pyinstrument; where the time goes):\n\n" + prof)
        if name in pngs:
            parts.append(f"![{name}]({os.path.relpath(pngs[name], md_dir)})")
        analysis = ANALYSIS / f"{name}.md"
        if not smoke and analysis.is_file():
            parts.append(analysis.read_text().strip())
    network = out_dir / "network.json"
    if network.is_file():
        r = json.loads(network.read_text())
        parts += [f"## {NETWORK_TITLE}", _machine(r), render_network(r)]
    md_path.write_text("\n\n".join(parts) + "\n")
    common.log(f"wrote {md_path}")
    return md_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    write_report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
