"""What a person reads after a run: a text summary, ``summary.json`` and a chart.

Everything here works on the run's summary as a plain dict (the content of
``summary.json``, see :meth:`substrate_client.demo.summary.RunSummary.to_dict`),
so a finished run can be shown again without re-running it::

    decentralml show_round runs/20261122-101500

A campaign's summary holds its ``rounds``; a ``summary.json`` written by the single-round
main job of earlier versions (no ``rounds``) is shown as it was then.

The chart is drawn with matplotlib's Agg backend: no display is needed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

from ..errors import UserInputError
from .metering import PHASES as PHASE_ORDER  # the order in which timings are shown

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
CHART_FILE = "round.png"


_DECISION_COLOURS = {"accepted": "#2e7d32", "rejected": "#c62828", "pending": "#f9a825"}
_HONEST_COLOURS = ("#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#8d6e63", "#f9a825")
_CREATOR_COLOUR, _SABOTEUR_COLOUR, _FEDERATED_COLOUR = "#424242", "#c62828", "#1565c0"


def _colours(contributors: list) -> dict[str, str]:
    """A colour per contributor, the same in every panel: saboteurs red, the others not."""
    honest = iter(_HONEST_COLOURS * (1 + len(contributors) // len(_HONEST_COLOURS)))
    return {c["name"]: _SABOTEUR_COLOUR if c.get("saboteur") else next(honest) for c in contributors}


# --------------------------------------------------------------------------- numbers


def tokens(amount: int | None, decimals: int, places: int = 4, fixed: bool = False) -> str:
    """An on-chain amount in whole tokens: ``12.5``, ``0.0123``; an amount too small for
    ``places`` decimals gets as many as it needs (``0.000021``). ``fixed`` keeps
    trailing zeros, for columns."""
    if amount is None:
        return "-"
    value = amount / 10**decimals
    while amount and places < decimals and round(abs(value), places) == 0:
        places += 1
    text = f"{value:,.{places}f}"
    if fixed:
        return text
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text if text not in ("", "-0") else "0"


def duration(seconds: float | None) -> str:
    """``42.0s`` or ``3m 12s``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s"


def _acc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _total(balance: Mapping[str, int]) -> int:
    return int(balance.get("free", 0)) + int(balance.get("reserved", 0))


def _table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


# --------------------------------------------------------------------------- text


def _render_single_round(summary: Mapping[str, Any]) -> str:
    """A single-round summary (``summary.json`` of the main job before campaigns) as tables."""
    token = summary.get("token") or {}
    decimals = int(token.get("decimals", 12))
    symbol = token.get("symbol", "UNIT")
    contributors = summary.get("contributors", [])
    threshold = summary.get("threshold")
    out: list[str] = []

    out.append(
        f"Federated round: task {summary.get('task_id')} on {summary.get('chain_url')} "
        f"({summary.get('dataset') or 'unknown data'}, policy {summary.get('policy')}, "
        f"reward {tokens(summary.get('reward'), decimals)} {symbol} per accepted result)"
    )
    out.append("")

    rows = []
    for c in contributors:
        shard = f"{c['shard_index'] + 1}/{c['num_shards']}" if c.get("num_shards") else "-"
        rows.append([
            c["name"] + (" (saboteur)" if c.get("saboteur") else ""),
            shard,
            "-" if c.get("samples") is None else str(c["samples"]),
            _acc(c.get("accuracy")),
            c.get("decision", "-"),
            "yes" if c.get("federated") else "no",
            tokens(c.get("paid"), decimals),
            tokens(c.get("fees"), decimals),
            c.get("reason") or "",
        ])
    headers = ["Contributor", "Shard", "Samples", "Held-out acc", "Decision", "Federated",
               f"Paid ({symbol})", f"Fees ({symbol})", "Reason"]
    out += _table(headers, rows, right={2, 3, 6, 7})
    if threshold is not None:
        out.append(f"(acceptance threshold: held-out accuracy >= {threshold:.3f})")
    out.append("")

    initial, federated = summary.get("initial_accuracy"), summary.get("federated_accuracy")
    n_fed = sum(1 for c in contributors if c.get("federated"))
    gain = "" if initial is None or federated is None else f" ({federated - initial:+.3f})"
    out.append(
        f"Model accuracy on held-out data: initial {_acc(initial)} -> federated {_acc(federated)}{gain}, "
        f"{n_fed} of {len(contributors)} results federated ({summary.get('policy')})"
    )
    if summary.get("federated_model_dir"):
        out.append(f"Federated model saved to {summary['federated_model_dir']}")
    out.append("")

    out += _balances(summary, decimals, symbol)
    out.append(
        f"Task escrow: {tokens(summary.get('escrow'), decimals)} {symbol} held, "
        f"{tokens(summary.get('escrow_paid'), decimals)} paid to contributors, "
        f"{tokens(summary.get('escrow_refunded'), decimals)} refunded to the creator on close"
    )
    if summary.get("escrow_held_for_appeal"):
        out.append(
            f"Held for appeals: {tokens(summary.get('escrow_held_for_appeal'), decimals)} {symbol}: the "
            f"rejected contributors may appeal until block {summary.get('appeal_period_ends')}; then "
            "`decentralml release_rejection SUBMISSION_ID` returns it to the creator"
        )
    out.append("")

    out += _time_and_files(summary)
    return "\n".join(out)


def _balances(summary: Mapping[str, Any], decimals: int, symbol: str) -> list[str]:
    """Each account's balances before and after, the change and the fees it paid."""
    creator = summary.get("creator") or {}
    accounts = [dict(creator, role="creator")] + [dict(c, role="contributor")
                                                  for c in summary.get("contributors", [])]
    rows = []
    for a in accounts:
        before, after = a.get("balance_before") or {}, a.get("balance_after") or {}
        rows.append([
            f"{a.get('name')} ({a['role']})",
            tokens(before.get("free"), decimals, 6, True),
            tokens(before.get("reserved"), decimals, 6, True),
            tokens(after.get("free"), decimals, 6, True),
            tokens(after.get("reserved"), decimals, 6, True),
            _signed(_total(after) - _total(before), decimals),
            tokens(a.get("fees"), decimals, 6, True),
        ])
    headers = ["Account", "Free before", "Reserved before", "Free after", "Reserved after",
               "Change", "Tx fees"]
    return [f"Balances ({symbol}):"] + _table(headers, rows, right={1, 2, 3, 4, 5, 6})


def _time_and_files(summary: Mapping[str, Any]) -> list[str]:
    timings = summary.get("timings") or {}
    phases = [p for p in PHASE_ORDER if p in timings] + [p for p in timings if p not in PHASE_ORDER]
    parts = ", ".join(f"{p} {duration(timings[p])}" for p in phases)
    out = [f"Time: {duration(summary.get('total_seconds'))} in all" + (f" ({parts})" if parts else "")]
    for key, label in (("summary_path", "Summary"), ("chart_path", "Chart")):
        if summary.get(key):
            out.append(f"{label}: {summary[key]}")
    return out


def _signed(amount: int, decimals: int) -> str:
    text = tokens(abs(amount), decimals, 6, True)
    return text if amount == 0 else ("+" if amount > 0 else "-") + text


# --------------------------------------------------------------------------- a campaign's text


def render_text(summary: Mapping[str, Any]) -> str:
    """The summary as a few tables a person reads at a glance."""
    if "rounds" not in summary:
        return _render_single_round(summary)
    token = summary.get("token") or {}
    decimals = int(token.get("decimals", 12))
    symbol = token.get("symbol", "UNIT")
    rounds = summary.get("rounds") or []
    out: list[str] = []
    learning = (f"{summary.get('local_optimizer')} at {summary.get('learning_rate')} in batches of "
                f"{summary.get('batch_size')}, {summary.get('epochs')} epoch(s) on "
                f"{summary.get('max_samples') or 'all'} samples")
    out.append(
        f"Federated campaign {summary.get('campaign_id')}: {len(rounds)} of "
        f"{summary.get('rounds_planned')} round(s) on {summary.get('chain_url')} "
        f"({summary.get('dataset') or 'unknown data'}, {summary.get('partition')} shards, {learning}; "
        f"{summary.get('policy')} + {summary.get('optimizer')}; reward "
        f"{tokens(summary.get('reward'), decimals)} {symbol} per accepted result)")
    if summary.get("finished"):
        out.append(f"Ended: {summary['finished']}")
    out.append("")
    shards = {c["name"]: c for c in summary.get("contributors", [])}
    for r in rounds:
        out += _round_text(r, shards, decimals, symbol, summary.get("threshold"))
        out.append("")
    out += _over_rounds(summary, rounds)
    out.append("")
    out += _balances(summary, decimals, symbol)
    paid = sum(int(r.get("escrow_paid") or 0) for r in rounds)
    out.append(f"Rewards paid over the campaign: {tokens(paid, decimals)} {symbol}; a rejected result's "
               "reward stays held for its appeal period, then `decentralml release_rejection` returns it")
    if summary.get("federated_model_dir"):
        out.append(f"The last round's federated model: {summary['federated_model_dir']}")
    privacy = summary.get("privacy")
    if privacy:
        spent = (f": epsilon {privacy['epsilon']:.3g} at delta {privacy['delta']:g} after {privacy['rounds']} "
                 f"round(s) ({privacy.get('accountant')})" if privacy.get("epsilon") is not None else "")
        out.append(f"Differential privacy: updates clipped to {privacy.get('clip_norm')}, noise multiplier "
                   f"{privacy.get('noise_multiplier')}{spent}")
    out.append("")
    out += _time_and_files(summary)
    return "\n".join(out)


def _round_text(r: Mapping[str, Any], contributors: Mapping[str, Any], decimals: int, symbol: str,
                threshold: float | None) -> list[str]:
    number = r.get("round")
    source = "the initial model" if number == 1 else f"round {number - 1}'s model"
    continues = f", continues task {r['continues']}" if r.get("continues") is not None else ""
    out = [f"Round {number}: task {r.get('task_id')}{continues} (started from {source})"]
    rows = []
    for res in r.get("results", []):
        c = contributors.get(res["name"], {})
        shard = ("-" if c.get("shard_index") is None
                 else f"{c['shard_index'] + 1}/{c.get('num_shards')}")
        rows.append([
            res["name"] + (" (saboteur)" if c.get("saboteur") else ""), shard,
            duration(res.get("train_seconds")), _acc(res.get("accuracy")), res.get("decision", "-"),
            tokens(res.get("paid"), decimals), tokens(res.get("fees"), decimals),
            "-" if res.get("balance_change") is None else _signed(res["balance_change"], decimals),
            res.get("reason") or "",
        ])
    headers = ["Contributor", "Shard", "Training", "Held-out acc", "Decision", f"Paid ({symbol})",
               f"Fees ({symbol})", "Change", "Reason"]
    out += ["  " + line for line in _table(headers, rows, right={2, 3, 5, 6, 7})]
    start, federated = r.get("starting_accuracy"), r.get("federated_accuracy")
    gain = "" if start is None or federated is None else f" ({federated - start:+.3f})"
    n_fed = sum(1 for res in r.get("results", []) if res.get("federated"))
    out.append(f"  Federated model: held-out accuracy {_acc(start)} -> {_acc(federated)}{gain}, "
               f"{n_fed} result(s) federated" + (f"; epsilon {r['epsilon']:.3g} so far"
                                                  if r.get("epsilon") is not None else ""))
    out.append(f"  Creator: fees {tokens(r.get('creator_fees'), decimals)} {symbol}, paid "
               f"{tokens(r.get('escrow_paid'), decimals)} {symbol} in rewards")
    out.append("  " + _round_time(r))
    return out


def _round_time(r: Mapping[str, Any]) -> str:
    share = r.get("overhead_share")
    timings = r.get("timings") or {}
    parts = ", ".join(f"{k.replace('_', ' ')} {duration(v)}" for k, v in timings.items())
    return (f"Time: {duration(r.get('wall_seconds'))} wall, training {duration(r.get('training_seconds'))}, "
            f"the rest {duration(r.get('overhead_seconds'))}"
            + ("" if share is None else f" ({share:.0%} of training)")
            + (f" [creator: {parts}]" if parts else ""))


def _over_rounds(summary: Mapping[str, Any], rounds: list) -> list[str]:
    """One line a round: the federated model against each contributor's."""
    names = [c["name"] for c in summary.get("contributors", [])]
    headers = ["Round", "Start", "Federated"] + names + ["Wall", "Training", "Rest/training"]
    rows = []
    for r in rounds:
        accs = {res["name"]: res.get("accuracy") for res in r.get("results", [])}
        share = r.get("overhead_share")
        rows.append([str(r.get("round")), _acc(r.get("starting_accuracy")), _acc(r.get("federated_accuracy"))]
                    + [_acc(accs.get(n)) for n in names]
                    + [duration(r.get("wall_seconds")), duration(r.get("training_seconds")),
                       "-" if share is None else f"{share:.0%}"])
    limit = f", loss at most {summary['max_loss']:g}" if summary.get("max_loss") is not None else ""
    out = [f"Held-out accuracy over the rounds ({summary.get('held_out_samples')} test samples; "
           f"accepted at accuracy {_acc(summary.get('threshold'))}{limit}):"]
    out += _table(headers, rows, right=set(range(1, len(headers))))
    return out


# --------------------------------------------------------------------------- a campaign's chart


def plot(summary: Mapping[str, Any], path: Path) -> Path:
    """The run's chart: for a campaign, accuracy over the rounds (the federated model and
    each contributor's, against the threshold), money over the rounds (each account's
    balance change so far), each round's time (training and the rest) and the last
    round's decisions."""
    if "rounds" not in summary:
        return _plot_single_round(summary, path)
    plt = _pyplot()
    token = summary.get("token") or {}
    decimals = int(token.get("decimals", 12))
    symbol = token.get("symbol", "UNIT")
    rounds = summary.get("rounds") or []
    numbers = [r["round"] for r in rounds]
    contributors = summary.get("contributors", [])
    colour = _colours(contributors)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    fig.suptitle(f"DecentralML campaign {summary.get('campaign_id')}: {len(rounds)} round(s), "
                 f"{summary.get('dataset') or 'unknown data'}, {summary.get('partition')} shards, "
                 f"{summary.get('policy')} + {summary.get('optimizer')}")

    ax = axes[0][0]
    ax.plot([0] + numbers, [summary.get("initial_accuracy")] + [r.get("federated_accuracy") for r in rounds],
            marker="o", linewidth=2.5, color=_FEDERATED_COLOUR, label="federated model")
    for c in contributors:
        points = [(r["round"], res.get("accuracy")) for r in rounds for res in r.get("results", [])
                  if res["name"] == c["name"] and res.get("accuracy") is not None]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="x" if c.get("saboteur") else ".", linestyle=":" if c.get("saboteur") else "--",
                    color=colour[c["name"]], label=c["name"] + (" (saboteur)" if c.get("saboteur") else ""))
    if summary.get("threshold") is not None:
        ax.axhline(summary["threshold"], color="black", linestyle="--", linewidth=1,
                   label=f"threshold {summary['threshold']:.2f}")
    ax.set_xticks([0] + numbers)
    ax.set_xlabel("round (0: the initial model)")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1.0)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Accuracy over the rounds")

    ax = axes[0][1]
    scale = 10 ** decimals
    accounts = [summary.get("creator") or {}] + list(contributors)
    for a in accounts:
        name = a.get("name")
        if not name:
            continue
        so_far, points = 0, [0.0]
        for r in rounds:
            change = (r.get("creator_balance_change") if a is accounts[0]
                      else next((res.get("balance_change") for res in r.get("results", [])
                                 if res["name"] == name), None))
            so_far += int(change or 0)
            points.append(so_far / scale)
        ax.plot([0] + numbers, points, marker="o", label=name + (" (creator)" if a is accounts[0] else ""),
                color=_CREATOR_COLOUR if a is accounts[0] else colour[name])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks([0] + numbers)
    ax.set_xlabel("round")
    ax.set_ylabel(f"balance change so far ({symbol})")
    ax.legend(fontsize=7)
    ax.set_title("Money over the rounds (rewards in, fees out)")

    ax = axes[1][0]
    training = [r.get("training_seconds") or 0.0 for r in rounds]
    rest = [r.get("overhead_seconds") or 0.0 for r in rounds]
    ax.bar(numbers, training, color="#2e7d32", label="training (start_task.sh)")
    ax.bar(numbers, rest, bottom=training, color="#9e9e9e", label="the rest")
    for n, t, o, r in zip(numbers, training, rest, rounds):
        share = r.get("overhead_share")
        ax.annotate("" if share is None else f"{share:.0%}", (n, t + o), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(numbers)
    ax.set_xlabel("round")
    ax.set_ylabel("seconds")
    ax.set_ylim(0, max([t + o for t, o in zip(training, rest)] + [1.0]) * 1.35)
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    ax.set_title(f"Time per round (the rest as a share of training; total "
                 f"{duration(summary.get('total_seconds'))})")

    ax = axes[1][1]
    last = rounds[-1] if rounds else {}
    results = last.get("results", [])
    bars = ax.bar([res["name"] for res in results], [res.get("accuracy") or 0.0 for res in results],
                  color=[_DECISION_COLOURS.get(res.get("decision"), "#757575") for res in results])
    for bar, res in zip(bars, results):
        ax.annotate(f"{_acc(res.get('accuracy'))}\n{res.get('decision', '')}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    if last.get("federated_accuracy") is not None:
        ax.axhline(last["federated_accuracy"], color=_FEDERATED_COLOUR, linewidth=2,
                   label=f"federated {last['federated_accuracy']:.3f}")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"Round {last.get('round', '-')}: each contributor's model")
    return _save(fig, path)


# --------------------------------------------------------------------------- files


def write_json(summary: Mapping[str, Any], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def load_json(path: Path) -> dict[str, Any]:
    """A round's summary as :func:`write_json` wrote it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserInputError(f"cannot read a round's summary from {path}: {error}") from None
    if not isinstance(data, dict):
        raise UserInputError(f"{path} is not a round's summary")
    return data


def _plot_single_round(summary: Mapping[str, Any], path: Path) -> Path:
    """A single-round summary's 2x2 chart: accuracy per contributor against the threshold,
    initial vs federated accuracy, what each contributor was paid and spent in fees, and
    time per phase."""
    plt = _pyplot()

    token = summary.get("token") or {}
    decimals = int(token.get("decimals", 12))
    symbol = token.get("symbol", "UNIT")
    contributors = summary.get("contributors", [])
    names = [c["name"] for c in contributors]
    threshold = summary.get("threshold")

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    fig.suptitle(
        f"DecentralML round: task {summary.get('task_id')} "
        f"({summary.get('dataset') or 'unknown data'}, {summary.get('policy')})"
    )

    ax = axes[0][0]
    accs = [c.get("accuracy") or 0.0 for c in contributors]
    colours = [_DECISION_COLOURS.get(c.get("decision"), "#757575") for c in contributors]
    bars = ax.bar(names, accs, color=colours)
    for bar, c in zip(bars, contributors):
        ax.annotate(f"{_acc(c.get('accuracy'))}\n{c.get('decision', '')}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    if threshold is not None:
        ax.axhline(threshold, color="black", linestyle="--", linewidth=1,
                   label=f"threshold {threshold:.2f}")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("held-out accuracy")
    ax.set_title("Each contributor's model")

    ax = axes[0][1]
    pair = [summary.get("initial_accuracy") or 0.0, summary.get("federated_accuracy") or 0.0]
    bars = ax.bar(["initial", "federated"], pair, color=["#9e9e9e", "#1565c0"])
    for bar, v in zip(bars, pair):
        ax.annotate(f"{v:.3f}", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom")
    n_fed = sum(1 for c in contributors if c.get("federated"))
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"Creator's model (federated from {n_fed} accepted results)")

    ax = axes[1][0]
    scale = 10**decimals
    paid = [(c.get("paid") or 0) / scale for c in contributors]
    colours = [_DECISION_COLOURS.get(c.get("decision"), "#757575") for c in contributors]
    bars = ax.bar(names, paid, color=colours)
    top = max(paid + [(summary.get("reward") or 0) / scale, 1e-9])
    for bar, c in zip(bars, contributors):
        ax.annotate(f"{tokens(c.get('paid') or 0, decimals)} {symbol}\n"
                    f"fees {tokens(c.get('fees') or 0, decimals)}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, top * 1.3)
    ax.set_ylabel(f"reward received ({symbol})")
    ax.set_title(f"Payments (escrow {tokens(summary.get('escrow'), decimals)}, "
                 f"refunded {tokens(summary.get('escrow_refunded'), decimals)})")

    ax = axes[1][1]
    timings = summary.get("timings") or {}
    phases = [p for p in PHASE_ORDER if p in timings] + [p for p in timings if p not in PHASE_ORDER]
    ax.barh(phases, [timings[p] for p in phases], color="#6a1b9a")
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title(f"Time per phase (total {duration(summary.get('total_seconds'))})")

    return _save(fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(summary: Mapping[str, Any], run_dir: Path) -> tuple[Path, Path]:
    """Write ``summary.json`` and the chart into ``run_dir``; return both paths."""
    run_dir = Path(run_dir)
    summary = dict(summary)
    summary["summary_path"] = str(run_dir / SUMMARY_FILE)
    summary["chart_path"] = str(run_dir / CHART_FILE)
    chart = plot(summary, run_dir / CHART_FILE)
    json_path = write_json(summary, run_dir / SUMMARY_FILE)
    log.info("wrote %s and %s", json_path, chart)
    return json_path, chart
