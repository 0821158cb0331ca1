"""``bundle``: task bundles to start from (the walk-through's example)."""

from __future__ import annotations

from pathlib import Path

import click

from .command import command, group
from .options import settings
from .output import emit_json, note
from .quiet import load_tensorflow_quietly


@group("bundle", epilog="""
    \b
    Example:
      {prog} init my_task && create_task --bundle my_task --storage ipfs ...
    """)
def bundle_group() -> None:
    """Task bundles: the walk-through's example to start from."""


@command("init", epilog="""
    \b
    Examples:
      {prog} my_task
      {prog} my_task --model model
    """)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Your initial model (a SavedModel folder) instead of a new one of the example's.")
def bundle_init(folder: Path, model_dir: Path | None) -> None:
    """Write the example task's contributor bundle into FOLDER (new or empty).

    FOLDER gets the contributor scripts (start_task.sh, model_contributor.py,
    settings.py, requirements.txt), the initial model in model/ and the creator's
    training settings in task_settings.json: post it with `create_task --bundle FOLDER`.
    """
    from ..demo import example

    load_tensorflow_quietly(settings().verbose)
    written = example.write_bundle(folder, model_dir)
    files = sorted(p.name for p in written.iterdir())
    if settings().json:
        emit_json({"bundle": str(written), "files": files})
    else:
        note(f"bundle ready in {written}/ ({', '.join(files)}); contributors run ./start_task.sh")
        click.echo(str(written))


bundle_group.add_command(bundle_init)
