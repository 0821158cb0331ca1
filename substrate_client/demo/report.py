"""What a person reads after a round: a text summary, ``summary.json`` and a chart.

Everything here works on the round's summary as a plain dict (the content of
``summary.json``, see :meth:`substrate_client.demo.summary.RoundSummary.to_dict`),
so a finished run can be shown again without re-running it::

    decentralml show_round runs/20261122-101500

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


def render_text(summary: Mapping[str, Any]) -> str:
    """The summary as a few tables a person reads at a glance."""
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

    creator = summary.get("creator") or {}
    accounts = [dict(creator, role="creator")] + [dict(c, role="contributor") for c in contributors]
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
    out.append(f"Balances ({symbol}):")
    out += _table(headers, rows, right={1, 2, 3, 4, 5, 6})
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

    timings = summary.get("timings") or {}
    phases = [p for p in PHASE_ORDER if p in timings] + [p for p in timings if p not in PHASE_ORDER]
    parts = ", ".join(f"{p} {duration(timings[p])}" for p in phases)
    out.append(f"Time: {duration(summary.get('total_seconds'))} in all ({parts})")
    for key, label in (("summary_path", "Summary"), ("chart_path", "Chart")):
        if summary.get(key):
            out.append(f"{label}: {summary[key]}")
    return "\n".join(out)


def _signed(amount: int, decimals: int) -> str:
    text = tokens(abs(amount), decimals, 6, True)
    return text if amount == 0 else ("+" if amount > 0 else "-") + text


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


def plot(summary: Mapping[str, Any], path: Path) -> Path:
    """A 2x2 chart: accuracy per contributor against the threshold, initial vs federated
    accuracy, what each contributor was paid and spent in fees, and time per phase."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

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
