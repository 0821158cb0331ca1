"""``storage``: the local storage daemons, Kubo (IPFS) and MinIO (S3)."""

from __future__ import annotations

import shlex

import click

from .. import devstorage
from .command import command, group
from .options import settings
from .output import emit_json, note, safe_text


@group("storage", epilog="""
    \b
    Example:
      {prog} up && eval "$({prog} env)"
      {prog} status
      {prog} down

    \b
    Ports on 127.0.0.1 come from DECENTRALML_IPFS_PORT (API, 5001),
    DECENTRALML_IPFS_GATEWAY_PORT (8180), DECENTRALML_S3_PORT (9000) and
    DECENTRALML_S3_CONSOLE_PORT (9001); data, logs and pid files live in
    DECENTRALML_RUN_DIR (~/.cache/decentralml/run).
    """)
def storage_group() -> None:
    """The local storage daemons: Kubo (IPFS, offline) and MinIO (S3)."""


def _status_json(state: devstorage.StorageStatus) -> dict:
    return {"running": state.running, "run_dir": state.run_dir,
            **{d.name: {"running": d.running, "pid": d.pid, "url": d.url, "log_file": d.log_file}
               for d in (state.kubo, state.minio)}}


def _status_lines(state: devstorage.StorageStatus) -> None:
    for daemon, what in ((state.kubo, "API"), (state.minio, "S3")):
        label = f"{daemon.name}:".ljust(7)
        if daemon.running:
            click.echo(f"{label}running (pid {daemon.pid}), {what} {daemon.url}")
        else:
            click.echo(f"{label}stopped")
    click.echo(f"data and logs: {safe_text(state.run_dir)}")


@command("up", epilog="""
    \b
    Example:
      DECENTRALML_IPFS_PORT=5002 DECENTRALML_S3_PORT=9002 {prog}
    """)
def storage_up() -> None:
    """Start Kubo and MinIO in the background (a second `up` starts nothing new)."""
    devstorage.up()
    state = devstorage.status()
    if settings().json:
        emit_json(_status_json(state))
    else:
        _status_lines(state)
        note('for the client: eval "$(decentralml storage env)"')


@command("down", epilog="""
    \b
    Example:
      {prog}
    """)
def storage_down() -> None:
    """Stop the daemons `storage up` started (and only those)."""
    stopped = devstorage.down()
    if settings().json:
        emit_json({"stopped": stopped})
    else:
        for name in devstorage.COMMANDS:
            click.echo(f"{name} stopped" if name in stopped else f"{name} not running")


@command("status", epilog="""
    \b
    Example:
      {prog} || decentralml storage up
    """)
def storage_status() -> None:
    """Say what runs where (exit code 3 unless both run)."""
    state = devstorage.status()
    if settings().json:
        emit_json(_status_json(state))
    else:
        _status_lines(state)
    if not state.running:
        click.get_current_context().exit(3)


@command("env", epilog="""
    \b
    Example:
      eval "$({prog})"
    """)
def storage_env() -> None:
    """Print the exports the client needs (URLs and MinIO's credentials) for `eval`."""
    values = devstorage.exports()
    if settings().json:
        emit_json(values)
    else:
        for name, value in values.items():
            click.echo(f"export {name}={shlex.quote(value)}")


for _command in (storage_up, storage_down, storage_status, storage_env):
    storage_group.add_command(_command)
del _command
