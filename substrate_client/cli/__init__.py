"""The ``decentralml`` command line: parse, call the library, print.

Every command is a thin layer over :class:`substrate_client.marketplace.Marketplace` (and
``review``, ``federation``, ``keys``, ``devnet``, and the main job ``demo``): it resolves
settings, calls one library function and prints a table (or JSON with ``--json``).
Errors become one ``error: ...`` line on stderr and an exit code: 2 for a user error
(bad flag, missing signer or file), 1 for anything the chain or storage refused or
failed at.

Settings come from flags, then the environment, then ``~/.config/decentralml/config.toml``
(:mod:`substrate_client.config`). The signer comes only from ``DECENTRALML_SURI`` or
``--key-file``, never from argv. TensorFlow is imported only by the commands that load
models.

This module holds the ``decentralml`` group and the console-script entry points; the
commands live beside it, one module per kind of user:

- ``creator``, ``validate``: a task's creator; ``contributor``, ``work``: the one who
  trains (``work``: the long-running agent);
- ``disputes``: deadlines anyone may enforce, appeals and arbitration;
- ``reading``: anyone reading the chain; ``keys``, ``devnet``, ``storage``, ``bundle``,
  ``run_round``: set-up and demo;
- ``command``, ``options``, ``params``, ``output``, ``amounts``, ``quiet``: what they share.
"""

from __future__ import annotations

from .amounts import format_amount, parse_amount
from .bundle import bundle_group
from .campaign import campaign_group
from .command import group
from .contributor import assign_task, fetch_bundle, run_task, send_task_result
from .creator import accept_task_result, close_task, create_task, download_task_result, reject_task_result
from .devnet import devnet_group
from .disputes import (appeal_rejection, arbitrate, claim_reward, release_rejection, remove_task,
                       show_account, time_out_slot)
from .keys import keys_group
from .options import global_options
from .reading import balance, list_task_results, list_tasks, show_task
from .run_round import run_round, show_round
from .storage import storage_group
from .validate import federate, validate_task_results
from .work import work

__all__ = ["cli", "main", "create_task_command", "assign_task_command", "send_task_result_command",
           "create_task", "assign_task", "send_task_result", "format_amount", "parse_amount"]


@group("decentralml", epilog="""
    \b
    Examples:
      export DECENTRALML_SURI=//Alice          # the signer (never pass secrets as flags)
      {prog} devnet up
      {prog} create_task --bundle assets/model_contributor --question "Train MNIST" \\
          --pays-amount 5DML --max-assignments 3 --storage local
      {prog} list_tasks --status open
      {prog} --json show_task 0
    """)
@global_options
def cli() -> None:
    """DecentralML: a federated-learning task marketplace on Substrate.

    Creators post paid training tasks (a bundle of code and a model); contributors
    take a slot, train on their own data and send the result; creators validate,
    accept (paying from escrow) or reject, and federate the accepted models.

    Settings come from flags, then the environment, then
    ~/.config/decentralml/config.toml (keys: url, ipfs_api, s3_endpoint, s3_bucket,
    local_store). The signer comes from DECENTRALML_SURI or --key-file only.
    """


for _command in (
    # creating and deciding
    create_task, download_task_result, accept_task_result, reject_task_result, close_task,
    validate_task_results, federate,
    # contributing
    assign_task, run_task, fetch_bundle, send_task_result, work,
    # deadlines and disputes
    claim_reward, time_out_slot, appeal_rejection, release_rejection, arbitrate, remove_task,
    # reading
    list_tasks, show_task, list_task_results, balance, show_account,
    # campaigns of several rounds
    campaign_group,
    # set-up and demo
    keys_group, devnet_group, storage_group, bundle_group, run_round, show_round,
):
    cli.add_command(_command)
del _command


# --------------------------------------------------------------------------- entry points


def main() -> None:
    """``decentralml``."""
    cli()


def create_task_command() -> None:
    """``create_task``: the same command as ``decentralml create_task``."""
    create_task()


def assign_task_command() -> None:
    """``assign_task``: the same command as ``decentralml assign_task``."""
    assign_task()


def send_task_result_command() -> None:
    """``send_task_result``: the same command as ``decentralml send_task_result``."""
    send_task_result()
