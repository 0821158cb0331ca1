"""The global options (accepted before or after the command name) and the settings of
one invocation: the flags given, resolved by :mod:`substrate_client.config`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import click
from click.core import ParameterSource

from .. import config
from .. import keys as keys_mod
from ..chain import DEFAULT_URL
from ..errors import ConfigError


@dataclasses.dataclass
class CliSettings(config.Settings):
    """The library's settings plus how this invocation prints."""

    json: bool = False
    verbose: int = 0


#: (flag, setting, metavar, help) of each global option; the settings are config's.
_GLOBAL_OPTIONS = (
    ("--url", "url", "WS_URL",
     f"Node websocket URL [env DECENTRALML_URL; default {DEFAULT_URL}]."),
    ("--key-file", "key_file", "PATH",
     "File holding the signer's secret URI or mnemonic [env DECENTRALML_KEY_FILE]. "
     "Without it the signer comes from DECENTRALML_SURI."),
    ("--ipfs-api", "ipfs_api", "URL",
     "IPFS (Kubo) RPC API URL [env DECENTRALML_IPFS_API]."),
    ("--s3-endpoint", "s3_endpoint", "URL",
     "S3 endpoint URL, e.g. a MinIO server [env DECENTRALML_S3_ENDPOINT]."),
    ("--s3-bucket", "s3_bucket", "NAME",
     "S3 bucket [env DECENTRALML_S3_BUCKET]."),
    ("--local-store", "local_store", "DIR",
     "Folder used by --storage local [env DECENTRALML_LOCAL_STORE]."),
)
#: The parameter names of the global options (listed apart in --help).
GLOBAL_NAMES = {name for _flag, name, *_rest in _GLOBAL_OPTIONS} | {"json", "verbose"}
_FLAGS_KEY = "decentralml.flags"
_SETTINGS_KEY = "decentralml.settings"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a global option given on the command line, wherever it was given."""
    if value is None or value is False or value == 0:
        return
    if ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
        return
    ctx.find_root().meta.setdefault(_FLAGS_KEY, {})[param.name] = value


def global_options(command: Callable) -> Callable:
    """Add the global options, accepted before or after the command name."""
    options = [click.option(flag, name, metavar=metavar, help=text, expose_value=False,
                            callback=_remember)
               for flag, name, metavar, text in _GLOBAL_OPTIONS]
    options.append(click.option("--json", "json", is_flag=True, expose_value=False,
                                callback=_remember, help="Print JSON for scripts instead of tables."))
    options.append(click.option("-v", "--verbose", "verbose", count=True, expose_value=False,
                                callback=_remember, help="Log what happens (-vv: debug)."))
    # Listed after the command's own options in --help.
    own = getattr(command, "__click_params__", [])
    command.__click_params__ = []
    for option in reversed(options):
        command = option(command)
    command.__click_params__.extend(own)
    return command


def settings(ctx: click.Context | None = None) -> CliSettings:
    """The settings of this invocation: flags, then the environment, then the config file."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if _SETTINGS_KEY in root.meta:
        return root.meta[_SETTINGS_KEY]
    flags = root.meta.get(_FLAGS_KEY, {})
    resolved = config.resolve({name: flags.get(name) for _f, name, _m, _h in _GLOBAL_OPTIONS})
    result = CliSettings(**dataclasses.asdict(resolved), json=bool(flags.get("json")),
                         verbose=int(flags.get("verbose", 0)))
    root.meta[_SETTINGS_KEY] = result
    return result


def market(need_signer: bool = True):
    """A connected Marketplace for this invocation, closed when the command ends."""
    from ..marketplace import Marketplace

    ctx = click.get_current_context()
    s = settings(ctx)
    mp = Marketplace.connect(s.url, key_file=s.key_file, need_signer=need_signer,
                             **s.storage_settings())
    ctx.call_on_close(mp.chain.substrate.close)
    return mp


# --------------------------------------------------------------------------- the result key


RESULT_KEY_OPTION = click.option(
    "--result-key-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
    help=f"Private key sealed results are opened with (default {keys_mod.DEFAULT_KEY_PATH}).")


def load_result_key(path: Path | None, required: bool) -> bytes | None:
    """The result key: the given file, else the default one if it exists."""
    if path is not None:
        return keys_mod.load_private_key(path)
    default = keys_mod.DEFAULT_KEY_PATH.expanduser()
    if default.exists():
        return keys_mod.load_private_key(default)
    if required:
        raise ConfigError(f"no result key at {default}; pass --result-key-file")
    return None
