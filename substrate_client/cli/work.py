"""``decentralml work``: the contributor's long-running agent (substrate_client.agent)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..agent import Agent, Step, StopWhen, WorkFilters
from ..contribute import SABOTAGE_RANDOM_WEIGHTS
from ..records import TaskType
from .amounts import format_amount
from .command import command
from .contributor import check_shards, data_settings, run_options, run_settings
from .options import market, settings
from .output import note, safe_text
from .params import ADDRESS, COUNT, ID, AmountType, EnumType, WholeNumber

PARTITIONS = ("iid", "by_label")


def _print_step(step: Step) -> None:
    click.echo(safe_text(step.message))


def _print_json(step: Step) -> None:
    line = {"step": step.kind, "message": step.message, "task_id": step.task_id,
            "submission_id": step.submission_id, **step.details}
    click.echo(json.dumps(line, ensure_ascii=True, default=str))


class Fraction(click.ParamType):
    name = "FRACTION"

    def convert(self, value, param, ctx):
        try:
            number = float(value) if str(value).isascii() else None
        except ValueError:
            number = None
        if number is None or not 0 <= number <= 1:
            self.fail(f"{value!r} is not a fraction from 0 to 1 (0.8 means 80%)", param, ctx)
        return number


@command("work", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Bob
      {prog} --campaign 0 --shard-index 0 --num-shards 3 --partition by_label
      {prog} --min-reward 5DML --min-acceptance-rate 0.8 --max-rounds 3 --json
    """)
@click.option("--campaign", type=ID, metavar="ID", help="Only rounds of this campaign.")
@click.option("--creator", type=ADDRESS, help="Only tasks created by this account.")
@click.option("--task-type", type=EnumType(TaskType), default=TaskType.MODEL_CONTRIBUTOR.value,
              show_default=True, help="Only tasks of this type.")
@click.option("--min-reward", type=AmountType(), metavar="AMOUNT",
              help="Only tasks paying at least this per accepted result (5DML, 0.5DML...).")
@click.option("--min-acceptance-rate", type=Fraction(), metavar="F",
              help="Only tasks whose creator accepted at least this fraction of the results "
                   "they decided, as the chain counts them (a creator who decided none is "
                   "passed over).")
@click.option("--partition", type=click.Choice(PARTITIONS),
              help="How the data is split into shards (DECENTRALML_PARTITION).")
@click.option("--max-samples", type=COUNT, metavar="N",
              help="Train on at most this many samples (DECENTRALML_MAX_SAMPLES).")
@click.option("--dataset", metavar="NAME", help="The data set to train on (DECENTRALML_DATASET).")
@click.option("--bad-model", is_flag=True,
              help="Send random weights instead of training (a saboteur, for demonstrations).")
@click.option("--max-rounds", type=COUNT, metavar="N", help="Stop after sending N results.")
@click.option("--start-early", is_flag=True,
              help="Start training as soon as the bundle is verified and take the slot "
                   "meanwhile, hiding the slot's block wait behind training. If the chain "
                   "refuses the slot (another contributor took the last one), the run is "
                   "killed and nothing is sent. The bundle is then told no submission id "
                   "(DECENTRALML_SUBMISSION_ID is empty). Worth it when slots are not "
                   "contested; otherwise a lost race costs a second or so of training.")
@click.option("--end-after", "end_after", type=WholeNumber(min=0), metavar="BLOCKS",
              help="With --campaign: stop once the campaign's last round has been closed for "
                   "BLOCKS blocks with no next round.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              default="decentralml-work", show_default=True,
              help="Where bundles, their logs and the record of held slots are kept; run the "
                   "agent again in the same folder to finish what it held.")
@run_options
def work(campaign: int | None, creator: str | None, task_type: TaskType, min_reward: int | None,
         min_acceptance_rate: float | None, partition: str | None, max_samples: int | None,
         dataset: str | None, bad_model: bool, max_rounds: int | None, start_early: bool,
         end_after: int | None, work_dir: Path, **opts) -> None:
    """Work as a contributor until stopped: take slots in tasks that pass the filters,
    train in the sandbox on your data and send the results.

    Reads the open tasks first, then follows new blocks for new tasks and reopened
    slots. For each task that passes: fetch and verify its bundle, take a slot, run
    start_task.sh in the sandbox (as assign_task --run does), send the result (commit,
    then reveal), then wait for the next task or round. One line per step (--json: one
    JSON object per line; -v also shows the bundle's output).

    The chain or storage going away: the agent tries again, waiting longer each time,
    and says so; a trained result stays on disk and is sent when they are back (or when
    the agent is started again in the same --work-dir). Ctrl-C (or SIGTERM) finishes the
    slot in progress, sends its result and exits 0; a second one gives the slot up
    (release_slot) and exits.
    """
    if end_after is not None and campaign is None:
        raise click.UsageError("--end-after needs --campaign")
    check_shards(opts)
    s = settings()
    runs = run_settings(opts)
    runs.check_machine()
    filters = WorkFilters(campaign=campaign, creator=creator, task_type=task_type,
                          min_reward=min_reward or 0, min_acceptance_rate=min_acceptance_rate)
    data = data_settings(opts, partition=partition, max_samples=max_samples, dataset=dataset,
                         sabotage=SABOTAGE_RANDOM_WEIGHTS if bad_model else None)
    agent = Agent(market(), filters, work_dir, run=runs, data=data,
                  stop=StopWhen(max_rounds=max_rounds, campaign_end_blocks=end_after),
                  report=_print_json if s.json else _print_step,
                  output=(lambda line: click.echo(line, err=True)) if s.verbose else None,
                  amount_text=format_amount, start_early=start_early)
    summary = agent.run()
    if summary.unfinished:
        note(f"submission(s) {', '.join(map(str, summary.unfinished))} committed but not "
             f"revealed: run `decentralml work --work-dir {work_dir}` again to finish")
        click.get_current_context().exit(1)
