"""``keys``: the X25519 key pair results are sealed to."""

from __future__ import annotations

from pathlib import Path

import click

from .. import keys as keys_mod
from .command import command, group
from .options import settings
from .output import emit_json


@group("keys", epilog="""
    \b
    Example:
      {prog} generate
      {prog} show --json
    """)
def keys_group() -> None:
    """The X25519 key pair results are sealed to (creators)."""


@command("generate", epilog="""
    \b
    Example:
      {prog} --path ~/.config/decentralml/result_key
      decentralml create_task ... --result-key ~/.config/decentralml/result_key.pub
    """)
@click.option("--path", type=click.Path(dir_okay=False, path_type=Path),
              default=keys_mod.DEFAULT_KEY_PATH, show_default=True,
              help="Private key file to write (mode 0600); the public key goes beside it as .pub.")
def keys_generate(path: Path) -> None:
    """Write a new result key pair; give the .pub file to create_task --result-key."""
    public = keys_mod.generate_keypair(path)
    pub_path = keys_mod.public_key_path(path)
    if settings().json:
        emit_json({"private_key_path": path.expanduser(), "public_key_path": pub_path,
                   "public_key": public})
        return
    click.echo(f"private key  {path.expanduser()}  (keep it; it opens your results)")
    click.echo(f"public key   {pub_path}")
    click.echo(f"             {public.hex()}")


@command("show", epilog="""
    \b
    Example:
      {prog}
      {prog} --path ./creator_key --json
    """)
@click.option("--path", type=click.Path(dir_okay=False, path_type=Path),
              default=keys_mod.DEFAULT_KEY_PATH, show_default=True,
              help="The private key file (or its .pub file).")
def keys_show(path: Path) -> None:
    """Show the public key of a result key pair (never the private key)."""
    path = path.expanduser()
    pub_path = path if path.suffix == ".pub" else keys_mod.public_key_path(path)
    public = keys_mod.load_public_key(pub_path)
    if settings().json:
        emit_json({"public_key_path": pub_path, "public_key": public})
    else:
        click.echo(f"public key  {public.hex()}  ({pub_path})")


keys_group.add_command(keys_generate)
keys_group.add_command(keys_show)
