"""``campaign``: a creator's training campaign of several rounds (start, status, resume),
over :mod:`substrate_client.campaign`."""

from __future__ import annotations

from pathlib import Path

import click

from ..campaign import CampaignPlan, PrivacyPlan, campaign_status, resume_campaign, run_campaign
from .amounts import TOKEN, format_amount
from .command import command, group
from .options import market, settings
from .output import clip, emit_json, note, short_address, table
from .params import BLOCKS, COUNT, STORAGE, STORAGE_CHOICES, AmountType
from .quiet import load_tensorflow_quietly

_JOURNAL_DIR = click.option(
    "--journal-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
    help="Where campaign journals and files are kept (default: the client's state folder, "
         "~/.local/state/decentralml/campaigns).")


@group("campaign", epilog="""
    \b
    Examples:
      {prog} start --bundle my_task --rounds 5 --slots 4 --min-results 3 --reward 5DML \\
          --policy median --hook my_task_creator/hooks.py:accuracy_threshold
      {prog} status 0
      {prog} resume 0
    """)
def campaign_group() -> None:
    """Training campaigns: one task per round, each round's bundle carrying the model
    federated in the round before."""


@command("start", epilog="""
    \b
    Examples:
      export DECENTRALML_SURI=//Alice
      {prog} --bundle my_task --creator-dir assets/model_creator --rounds 3 --slots 3 \\
          --min-results 2 --reward 5DML --policy average --optimizer fedavgm --server-lr 1 \\
          --hook assets/model_creator/hooks.py:accuracy_threshold --target-accuracy 0.85 \\
          --patience 2 --round-blocks 300 --storage ipfs --result-key-file ~/.config/decentralml/result_key
      {prog} ... --clip-norm 1.0 --noise-multiplier 1.1 --delta 1e-5     # with differential privacy
    """)
@click.option("--bundle", required=True, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Your contributor bundle: start_task.sh, model/ (the initial model), task_settings.json.")
@click.option("--creator-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Your folder with model_creator.py, whose held_out_data() every model is evaluated on "
                   "(default: the example task's).")
@click.option("--rounds", required=True, type=COUNT, help="Rounds to run (at most).")
@click.option("--slots", required=True, type=COUNT, help="Contributor slots per round.")
@click.option("--min-results", required=True, type=COUNT,
              help="Accepted results that end a round (and that a round needs).")
@click.option("--reward", required=True, type=AmountType(),
              help=f"Reward per accepted result: planck or {TOKEN} (5{TOKEN}).")
@click.option("--policy", type=click.Choice(["average", "weighted", "median", "trimmed_mean"]),
              default="average", show_default=True, help="How accepted results are combined.")
@click.option("--trim-fraction", type=click.FloatRange(0, 0.5, max_open=True), default=0.1, show_default=True,
              help="trimmed_mean: fraction dropped at each end.")
@click.option("--optimizer", type=click.Choice(["fedavg", "fedavgm", "fedadam"]), default="fedavg",
              show_default=True, help="Server optimizer stepping from the previous round's model.")
@click.option("--server-lr", type=float, help="fedavgm / fedadam: the server learning rate.")
@click.option("--momentum", type=float, help="fedavgm: the server momentum.")
@click.option("--beta1", type=float, help="fedadam: beta1.")
@click.option("--beta2", type=float, help="fedadam: beta2.")
@click.option("--tau", type=float, help="fedadam: tau.")
@click.option("--hook", metavar="MODULE:FUNCTION",
              help="CustomAccept hook deciding each result: module:function or file.py:function.")
@click.option("--auto-accept", is_flag=True, help="Pay results on arrival (AutoAccept) instead of a hook.")
@click.option("--target-accuracy", type=float, help="Stop once the federated model reaches this held-out accuracy.")
@click.option("--patience", type=COUNT, help="Stop after this many rounds without improvement.")
@click.option("--round-blocks", type=BLOCKS, default=600, show_default=True,
              help="A round's deadline, in blocks from its task's creation (extended once if short of results).")
@click.option("--clip-norm", type=float, help="Differential privacy: contributors clip their update to this L2 norm.")
@click.option("--noise-multiplier", type=float, help="Differential privacy: Gaussian noise of this times the clip norm.")
@click.option("--delta", type=float, help="Differential privacy: the delta the epsilon spent is reported for.")
@click.option("--storage", type=STORAGE, default="ipfs", show_default=True, help="Where round bundles are stored.")
@click.option("--result-storage", type=STORAGE, default="s3", show_default=True,
              help="Where contributors are asked to store results (in task_settings.json).")
@click.option("--question", default="Train the campaign's model on your own data", show_default=True,
              help="What contributors are asked to do.")
@click.option("--result-key-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Private key results are sealed to (its public half goes on chain); without it "
                   "results travel unsealed.")
@_JOURNAL_DIR
def campaign_start(bundle: Path, creator_dir: Path | None, rounds: int, slots: int, min_results: int,
                   reward: int, policy: str, trim_fraction: float, optimizer: str, server_lr, momentum, beta1,
                   beta2, tau, hook: str | None, auto_accept: bool, target_accuracy: float | None,
                   patience: int | None, round_blocks: int, clip_norm, noise_multiplier, delta, storage: str,
                   result_storage: str, question: str, result_key_file: Path | None,
                   journal_dir: Path | None) -> None:
    """Run a training campaign of up to ROUNDS rounds.

    Round r's task bundle carries the model federated in round r-1 (round 1: the
    bundle's own). A round ends once --min-results results are accepted by your hook,
    or at its deadline (extended once if short of them, then the campaign stops and
    says why); silent slots are freed by the chain's timeout. Its decisions go on chain
    in one batch, the accepted results are federated (--policy stepped by
    --optimizer), the federated model is evaluated on your held-out data and the task
    closed. Progress goes to stderr, the summary to stdout. Killed, it continues with
    `campaign resume ID` (the first line names the journal).
    """
    privacy_flags = (clip_norm, noise_multiplier, delta)
    if any(v is not None for v in privacy_flags) and not all(v is not None for v in privacy_flags):
        raise click.UsageError("differential privacy needs all of --clip-norm, --noise-multiplier and --delta")
    if hook and auto_accept:
        raise click.UsageError("give --hook or --auto-accept, not both")
    params = {name: value for name, value in (("lr", server_lr), ("momentum", momentum), ("beta1", beta1),
                                              ("beta2", beta2), ("tau", tau)) if value is not None}
    if creator_dir is None:
        from ..demo import example

        creator_dir = example.assets_dir() / "model_creator"
    plan = CampaignPlan(
        bundle=str(bundle), creator_dir=str(creator_dir), rounds=rounds, slots=slots, min_results=min_results,
        reward=reward, policy=policy, optimizer=optimizer, optimizer_params=params, hook=hook,
        strategy="AutoAccept" if auto_accept else "CustomAccept", target_accuracy=target_accuracy,
        patience=patience, round_blocks=round_blocks, bundle_storage=STORAGE_CHOICES[storage.lower()].value,
        result_storage=STORAGE_CHOICES[result_storage.lower()].value, question=question,
        privacy=None if clip_norm is None else PrivacyPlan(clip_norm, noise_multiplier, delta),
        result_key_file=None if result_key_file is None else str(result_key_file), trim_fraction=trim_fraction)
    plan = plan.check()  # before connecting or loading anything: exit 2, nothing created
    s = settings()
    mp = market()
    load_tensorflow_quietly(s.verbose)
    _show(run_campaign(mp, plan, journal_dir, report=note), s.json)


@command("resume", epilog="""
    \b
    Examples:
      {prog} 3
      {prog} new-3fa2c1d0      # killed before the chain gave the campaign its id
    """)
@click.argument("campaign_id")
@_JOURNAL_DIR
def campaign_resume(campaign_id: str, journal_dir: Path | None) -> None:
    """Continue a campaign from the chain, the storage and this machine's journal of it:
    no task created twice, no result paid twice, every accepted result federated."""
    s = settings()
    mp = market()
    load_tensorflow_quietly(s.verbose)
    _show(resume_campaign(mp, campaign_id, journal_dir, report=note), s.json)


@command("status", epilog="""
    \b
    Examples:
      {prog} 3
      {prog} 3 --json
    """)
@click.argument("campaign_id", type=click.IntRange(min=0))
@_JOURNAL_DIR
def campaign_status_command(campaign_id: int, journal_dir: Path | None) -> None:
    """A campaign's rounds, results and payments, read from the chain; the held-out
    accuracies from this machine's journal when it has one."""
    s = settings()
    status = campaign_status(market(need_signer=False), campaign_id, journal_dir)
    if not s.json:
        click.echo(f"campaign {campaign_id} by {status.creator}: {len(status.rounds)} round(s), "
                   f"latest task {status.latest_task}")
    _show(status, s.json)


def _show(summary, as_json: bool) -> None:
    data = summary.to_dict()
    if as_json:
        emit_json(data)
        return
    table(["ROUND", "TASK", "SENT", "ACCEPTED", "REJECTED", "PAID", "ACCURACY", "EPSILON"],
          [[r.round, r.task_id, r.results_sent, r.accepted, r.rejected, format_amount(r.paid),
            _number(r.federated_accuracy), _number(r.epsilon)] for r in summary.rounds],
          empty="no rounds yet")
    for r in summary.rounds:
        for result in r.results:
            if result.status != "Accepted":
                note(f"round {r.round}: result {result.submission_id} of {short_address(result.contributor)} "
                     f"{result.status.lower()}: {clip(result.reason or '-', 100)}")
    if summary.privacy:
        p = summary.privacy
        click.echo(f"privacy spent over {p['rounds']} round(s): epsilon {p['epsilon']:.3f} at delta {p['delta']:g}")
    click.echo(f"paid {format_amount(summary.total_paid)} in all"
               + (f"; {summary.finished}" if summary.finished else ""))


def _number(value) -> str:
    return "-" if value is None else f"{value:.4f}"


for _command in (campaign_start, campaign_resume, campaign_status_command):
    campaign_group.add_command(_command)
del _command

__all__ = ["campaign_group"]
