"""``devnet``: the local dev chain (Chopsticks running the DecentralML runtime)."""

from __future__ import annotations

import click

from .. import devnet as devnet_mod
from ..config import LOCAL_ENVIRONMENT
from .command import command, group
from .options import settings
from .output import emit_json, note


@group("devnet", epilog="""
    \b
    Example:
      {prog} up && export DECENTRALML_URL=ws://127.0.0.1:9944
      {prog} status
      {prog} down
    """)
def devnet_group() -> None:
    """The local dev chain: Chopsticks running the DecentralML runtime."""


PORT_OPTION = click.option(
    "--port", type=click.IntRange(1, 65535), envvar=LOCAL_ENVIRONMENT["devnet_port"],
    default=devnet_mod.DEFAULT_PORT, show_default=True,
    help=f"Port on 127.0.0.1 [env {LOCAL_ENVIRONMENT['devnet_port']}].")


def _devnet_json(state: devnet_mod.DevnetStatus) -> dict:
    return {"running": state.running, "url": state.url, "port": state.port, "pid": state.pid,
            "block_number": state.block_number, "log_file": state.log_file}


@command("up", epilog="""
    \b
    Example:
      {prog} --port 9944
    """)
@PORT_OPTION
@click.option("--timeout", type=click.FloatRange(min=1), default=120, show_default=True,
              help="Seconds to wait for the chain to answer.")
@click.option("--block-mode", type=click.Choice(list(devnet_mod.BLOCK_MODES)), default="instant",
              show_default=True,
              help="instant: a block as soon as a transaction arrives (those arriving while it "
                   "is built share the next); batch: the transactions sent within ~0.1 s share a "
                   "block.")
def devnet_up(port: int, timeout: float, block_mode: str) -> None:
    """Start the dev chain in the background (or report the one already running)."""
    if not settings().json:
        note(f"starting the dev chain on port {port} ({block_mode} blocks) …")
    state = devnet_mod.up(port, timeout=timeout, block_mode=block_mode)
    if settings().json:
        emit_json(_devnet_json(state))
    else:
        click.echo(f"dev chain running at {state.url} (block {state.block_number}); "
                   f"log {state.log_file}")


@command("down", epilog="""
    \b
    Example:
      {prog}
    """)
@PORT_OPTION
def devnet_down(port: int) -> None:
    """Stop the dev chain started by `devnet up`."""
    stopped = devnet_mod.down(port)
    if settings().json:
        emit_json({"stopped": stopped, "port": port})
    else:
        click.echo("stopped" if stopped else f"no dev chain of ours on port {port}")


@command("status", epilog="""
    \b
    Example:
      {prog} || decentralml devnet up
    """)
@PORT_OPTION
def devnet_status(port: int) -> None:
    """Say whether the dev chain runs (exit code 3 when it does not)."""
    state = devnet_mod.status(port)
    if settings().json:
        emit_json(_devnet_json(state))
    elif state.running:
        click.echo(f"running at {state.url}, pid {state.pid}, block {state.block_number}, "
                   f"log {state.log_file}")
    else:
        click.echo(f"not running on port {port}")
    if not state.running:
        click.get_current_context().exit(3)


devnet_group.add_command(devnet_up)
devnet_group.add_command(devnet_down)
devnet_group.add_command(devnet_status)
