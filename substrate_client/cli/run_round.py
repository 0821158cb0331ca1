"""``run_round``: the main job, a federated training campaign on the local dev chain,
end to end (:mod:`substrate_client.demo`, with its options and defaults); ``show_round``:
a finished run's summary again."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from .. import demo
from .command import command
from .options import settings
from .output import emit_json, note
from .quiet import native_output_to


def _round_options(f: Callable) -> Callable:
    """The round's options (:data:`substrate_client.demo.OPTIONS`), but those naming where
    a service is: here they are the global options (flags, environment, config file)."""
    for option in reversed([o for o in demo.OPTIONS if not o.connection]):
        kind = click.Path(file_okay=False, path_type=Path) if option.type is Path else option.type
        f = click.option(option.flag, option.name, type=kind, help=option.help)(f)
    return f


@command("run_round", epilog="""
    \b
    Examples:
      {prog} --rounds 3 --partition by_label
      {prog} --rounds 1 --contributors Bob,Charlie --saboteurs '' --out runs/quick
      {prog} --clip-norm 1.0 --noise-multiplier 0.5
      {prog} --url ws://127.0.0.1:9944 --json > summary.json
    """)
@_round_options
def run_round(**options: Any) -> None:
    """Run a federated training campaign on the local dev chain, end to end.

    Alice runs the rounds (3 by default; --rounds 1: a single round), each a CustomAccept
    task whose bundle carries the model federated in the round before. Bob, Charlie,
    Dave and Eve each run a `decentralml work` agent signing with their own account: the
    honest ones train on their own shard (by label: non-IID), Eve sends random weights
    every round. Alice judges each result on her held-out data, pays on-chain in one
    batch, federates the accepted models and closes the round's task. The dev chain and
    the storage daemons (Kubo, MinIO) are started unless --url, --ipfs-api and
    --s3-endpoint (or their environment or config file) say where they are; --key-file
    and --local-store are not used (dev accounts sign; results go to S3).

    Steps go to stderr; the summary (per round: results, decisions, payments, fees,
    held-out accuracies, time) to stdout. The run folder keeps round.log, the agents'
    logs (contributors/), summary.json and round.png.
    """
    from ..demo import report

    s = settings()
    round_settings = demo.settings_from_options({
        **options, "url": s.url, "ipfs_api": s.ipfs_api, "s3_endpoint": s.s3_endpoint,
        "s3_bucket": s.s3_bucket})
    # TensorFlow's, absl's and CUDA's chatter goes to the run's round.log (-v: shown).
    summary = demo.run_round(round_settings, report=note,
                             native_output=None if s.verbose else native_output_to).to_dict()
    if s.json:
        emit_json(summary)
    else:
        click.echo(report.render_text(summary))


@command("show_round", epilog="""
    \b
    Examples:
      {prog} runs/20261201-101500
      {prog} runs/20261201-101500/summary.json --chart round.png
    """)
@click.argument("summary", type=click.Path(exists=True, path_type=Path))
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the chart again, to this PNG file.")
def show_round(summary: Path, chart: Path | None) -> None:
    """Show the summary of a finished run again (a run folder or its summary.json)."""
    from ..demo import report

    path = summary / report.SUMMARY_FILE if summary.is_dir() else summary
    data = report.load_json(path)
    if settings().json:
        emit_json(data)
    else:
        click.echo(report.render_text(data))
    if chart:
        note(f"chart: {report.plot(data, chart)}")
