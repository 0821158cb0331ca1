"""The ``decentralml`` command line: parse, call the library, print.

Every command is a thin layer over :class:`substrate_client.tasks.Marketplace` (and
``review``, ``federation``, ``keys``, ``devnet``): it resolves settings, calls one
library function and prints a table (or JSON with ``--json``). Errors become one
``error: ...`` line on stderr and an exit code: 2 for a user error (bad flag, missing
signer or file), 1 for anything the chain or storage refused or failed at.

Settings come from flags, then the environment, then ``~/.config/decentralml/config.toml``.
The signer comes only from ``DECENTRALML_SURI`` or ``--key-file``, never from argv.
TensorFlow is imported only by the commands that load models.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import inspect
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable

import click
from click.core import ParameterSource

from . import devnet as devnet_mod
from . import keys as keys_mod
from .chain import DEFAULT_URL
from .errors import ConfigError, DecentralMLError, PalletError, UserInputError, ValidationError
from .progress import byte_progress, folder_size
from .records import (
    StorageType,
    Submission,
    SubmissionStatus,
    Task,
    TaskType,
    ValidationStrategy,
    parse_enum,
)

log = logging.getLogger(__name__)

#: The chain's token: balances are integers of planck, 10**12 planck to the DML.
TOKEN = "DML"
DECIMALS = 12
PLANCK_PER_TOKEN = 10**DECIMALS

CONFIG_KEYS = ("url", "ipfs_api", "s3_endpoint", "s3_bucket", "local_store")
#: The storage types this client can write to, as ``--storage`` spells them.
STORAGE_CHOICES = {"ipfs": StorageType.IPFS, "s3": StorageType.S3, "local": StorageType.LOCAL}


# --------------------------------------------------------------------------- settings


def config_path() -> Path:
    """``DECENTRALML_CONFIG``, else ``$XDG_CONFIG_HOME/decentralml/config.toml`` (``~/.config``)."""
    override = os.environ.get("DECENTRALML_CONFIG")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "decentralml" / "config.toml"


def read_config_file(path: Path) -> dict[str, str]:
    """The settings in the TOML file at ``path`` (empty if there is none)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read the config file {path}: {error}") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        log.warning("config file %s: ignoring unknown keys %s (known: %s)",
                    path, ", ".join(unknown), ", ".join(CONFIG_KEYS))
    for key in CONFIG_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"config file {path}: {key} must be a string")
    return {k: data[k] for k in CONFIG_KEYS if data.get(k)}


@dataclasses.dataclass
class Settings:
    """Where to find the chain, the signer's key file and the storage services."""

    url: str
    key_file: str | None
    json: bool
    ipfs_api: str | None
    s3_endpoint: str | None
    s3_bucket: str | None
    local_store: str | None
    verbose: int

    def storage_settings(self) -> dict[str, str]:
        """The keyword arguments ``Marketplace.connect`` passes to the storage backends."""
        given = {"api_url": self.ipfs_api, "endpoint_url": self.s3_endpoint,
                 "bucket": self.s3_bucket, "root": self.local_store}
        return {k: v for k, v in given.items() if v}

    def environment(self) -> dict[str, str]:
        """These settings as environment variables, for a child process (no secrets)."""
        env = {"DECENTRALML_URL": self.url}
        for name, value in (("KEY_FILE", self.key_file), ("IPFS_API", self.ipfs_api),
                            ("S3_ENDPOINT", self.s3_endpoint), ("S3_BUCKET", self.s3_bucket),
                            ("LOCAL_STORE", self.local_store)):
            if value:
                env[f"DECENTRALML_{name}"] = str(Path(value).expanduser().resolve()) \
                    if name in ("KEY_FILE", "LOCAL_STORE") else value
        return env


#: (flag, setting, environment variable, metavar, help) of each global option.
_GLOBAL_OPTIONS = (
    ("--url", "url", "DECENTRALML_URL", "WS_URL",
     f"Node websocket URL [env DECENTRALML_URL; default {DEFAULT_URL}]."),
    ("--key-file", "key_file", "DECENTRALML_KEY_FILE", "PATH",
     "File holding the signer's secret URI or mnemonic [env DECENTRALML_KEY_FILE]. "
     "Without it the signer comes from DECENTRALML_SURI."),
    ("--ipfs-api", "ipfs_api", "DECENTRALML_IPFS_API", "URL",
     "IPFS (Kubo) RPC API URL [env DECENTRALML_IPFS_API]."),
    ("--s3-endpoint", "s3_endpoint", "DECENTRALML_S3_ENDPOINT", "URL",
     "S3 endpoint URL, e.g. a MinIO server [env DECENTRALML_S3_ENDPOINT]."),
    ("--s3-bucket", "s3_bucket", "DECENTRALML_S3_BUCKET", "NAME",
     "S3 bucket [env DECENTRALML_S3_BUCKET]."),
    ("--local-store", "local_store", "DECENTRALML_LOCAL_STORE", "DIR",
     "Folder used by --storage local [env DECENTRALML_LOCAL_STORE]."),
)
_FLAGS_KEY = "decentralml.flags"


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
               for flag, name, _env, metavar, text in _GLOBAL_OPTIONS]
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


_GLOBAL_NAMES = {name for _flag, name, *_rest in _GLOBAL_OPTIONS} | {"json", "verbose"}


def settings(ctx: click.Context | None = None) -> Settings:
    """The settings of this invocation: flags, then the environment, then the config file."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if "decentralml.settings" in root.meta:
        return root.meta["decentralml.settings"]
    flags = root.meta.get(_FLAGS_KEY, {})
    config = read_config_file(config_path())

    def pick(name: str, env: str) -> str | None:
        return flags.get(name) or os.environ.get(env) or config.get(name) or None

    values = {name: pick(name, env) for _flag, name, env, _m, _h in _GLOBAL_OPTIONS}
    values["url"] = values["url"] or DEFAULT_URL
    result = Settings(json=bool(flags.get("json")), verbose=int(flags.get("verbose", 0)), **values)
    root.meta["decentralml.settings"] = result
    return result


def market(need_signer: bool = True):
    """A connected Marketplace for this invocation, closed when the command ends."""
    from .tasks import Marketplace

    ctx = click.get_current_context()
    s = settings(ctx)
    mp = Marketplace.connect(s.url, key_file=s.key_file, need_signer=need_signer,
                             **s.storage_settings())
    ctx.call_on_close(mp.chain.substrate.close)
    return mp


# --------------------------------------------------------------------------- errors and help


class CommandError(click.ClickException):
    """A library error, shown as one ``error: ...`` line with the exit code for its kind."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _error_message(error: BaseException) -> str:
    if isinstance(error, PalletError):
        text = f"{error.name}: {error.docs}" if error.docs else error.name
    else:
        text = str(error) or type(error).__name__
    return text


def _as_click_error(error: Exception) -> click.ClickException:
    if isinstance(error, UserInputError):
        return CommandError(_error_message(error), 2)
    if isinstance(error, DecentralMLError):
        return CommandError(_error_message(error), 1)
    log.debug("unexpected error", exc_info=error)
    return CommandError(f"unexpected {type(error).__name__}: {error} (run with -vv for details)", 1)


class _EchoHandler(logging.Handler):
    """Log records to stderr as ``level: message``, resolving stderr when they arrive."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info and self.level <= logging.DEBUG:
                import traceback

                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            click.echo(text, err=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


@contextlib.contextmanager
def _logging_to_stderr(verbose: int):
    """While a command runs, the package's log records go to stderr (warnings, or more
    with -v); the logging setup is restored afterwards (the CLI may run in-process)."""
    package = logging.getLogger("substrate_client")
    saved = (package.level, package.propagate)
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = _EchoHandler(level)
    package.addHandler(handler)
    package.setLevel(level)
    package.propagate = False
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(saved[0])
        package.propagate = saved[1]


class _Help:
    """Help with examples: the epilog's ``{prog}`` becomes the command as invoked."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog:
            formatter.write_paragraph()
            text = inspect.cleandoc(self.epilog).replace("{prog}", ctx.command_path)
            with formatter.indentation():
                formatter.write_text(text)


class Command(_Help, click.Command):
    """A command that maps library errors to ``error: ...`` and exit codes 1 and 2."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        own, common = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                (common if param.name in _GLOBAL_NAMES else own).append(record)
        for title, records in (("Options", own), ("Global options", common)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            verbose = settings(ctx).verbose
        except DecentralMLError as error:  # a malformed config file
            raise _as_click_error(error) from None
        with _logging_to_stderr(verbose):
            try:
                return super().invoke(ctx)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except Exception as error:
                raise _as_click_error(error) from None


class Group(_Help, click.Group):
    command_class = Command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            raise _as_click_error(error) from None


Group.group_class = Group

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --------------------------------------------------------------------------- parameter types


def parse_amount(text: str) -> int:
    """``"5DML"`` / ``"0.5 DML"`` → planck; a plain integer is planck already."""
    raw = str(text).strip().replace("_", "")
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)", raw)
    if not match:
        raise UserInputError(f"{text!r} is not an amount; write planck (5000) or {TOKEN} (5{TOKEN}, 0.5{TOKEN})")
    number, unit = match.group(1), match.group(2).upper()
    if unit in ("", "PLANCK"):
        if "." in number:
            raise UserInputError(f"{text!r}: a plain number is in planck and must be whole; "
                                 f"did you mean {number}{TOKEN}?")
        amount = int(number)
    elif unit == TOKEN:
        try:
            value = Decimal(number) * PLANCK_PER_TOKEN
        except InvalidOperation:
            raise UserInputError(f"{text!r} is not an amount") from None
        if value != value.to_integral_value():
            raise UserInputError(f"{text!r} has more than {DECIMALS} decimals")
        amount = int(value)
    else:
        raise UserInputError(f"{text!r}: unknown unit {match.group(2)!r}; use {TOKEN} or planck")
    return amount


def format_amount(planck: int) -> str:
    """``500000000000`` → ``0.5 DML``."""
    sign = "-" if planck < 0 else ""
    whole, fraction = divmod(abs(int(planck)), PLANCK_PER_TOKEN)
    digits = f"{fraction:0{DECIMALS}d}".rstrip("0")
    return f"{sign}{whole}.{digits} {TOKEN}" if digits else f"{sign}{whole} {TOKEN}"


class AmountType(click.ParamType):
    name = "AMOUNT"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            amount = value
        else:
            try:
                amount = parse_amount(value)
            except UserInputError as error:
                self.fail(str(error), param, ctx)
        if amount <= 0:
            self.fail(f"{value!r} must be more than zero", param, ctx)
        return amount


class EnumType(click.ParamType):
    """One of a pallet enum's variants, in any of the spellings ``parse_enum`` accepts."""

    def __init__(self, kind: type[enum.Enum], choices: Iterable[str] | None = None):
        self.kind = kind
        self.choices = list(choices) if choices else [m.value for m in kind]
        self.name = "|".join(self.choices)

    def get_metavar(self, param, ctx=None) -> str:  # click >= 8.2 passes ctx
        return "[" + "|".join(self.choices) + "]"

    def convert(self, value, param, ctx):
        try:
            return parse_enum(self.kind, value)
        except ValueError:
            self.fail(f"{value!r} is not one of {', '.join(self.choices)}", param, ctx)


class AddressType(click.ParamType):
    """An SS58 account address."""

    name = "ADDRESS"

    def convert(self, value, param, ctx):
        from substrateinterface.utils.ss58 import is_valid_ss58_address

        try:
            valid = is_valid_ss58_address(str(value))
        except Exception:  # malformed base58 raises instead of answering False
            valid = False
        if not valid:
            self.fail(f"{value!r} is not an SS58 account address", param, ctx)
        return str(value)


ADDRESS = AddressType()
STORAGE = click.Choice(list(STORAGE_CHOICES), case_sensitive=False)


# --------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    """A JSON-ready copy of records: enums by value, bytes as 0x-hex, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value


def task_json(task: Task) -> dict:
    data = _plain(task)
    data["free_slots"] = task.free_slots
    return data


def emit_json(data: Any) -> None:
    click.echo(json.dumps(_plain(data), indent=2, sort_keys=False))


def table(headers: list[str], rows: list[list[Any]], empty: str = "(none)") -> None:
    """Columns padded to their widest cell; the last column is not padded."""
    if not rows:
        click.echo(empty)
        return
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths[:-1])) + "  " + row[-1]
        click.echo(click.style(line.rstrip(), bold=True) if n == 0 else line.rstrip())


def short_address(address: str | None) -> str:
    if not address:
        return "-"
    return address if len(address) <= 14 else f"{address[:6]}…{address[-4:]}"


def clip(text: str, width: int = 48) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def location_text(location) -> str:
    if location is None:
        return "-"
    return f"{location.storage_type.value}:{location.path}"


def note(message: str) -> None:
    """Human commentary on stderr, so stdout stays a table or JSON."""
    click.echo(message, err=True)


# --------------------------------------------------------------------------- the group


@click.group("decentralml", cls=Group, context_settings=CONTEXT, epilog="""
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


def command(name: str, epilog: str, **kwargs) -> Callable:
    """Decorate a function as a top-level command with the global options and an example."""

    def decorate(f: Callable) -> click.Command:
        return cli.command(name, cls=Command, context_settings=CONTEXT, epilog=epilog,
                           **kwargs)(global_options(f))

    return decorate


# --------------------------------------------------------------------------- creating


@command("create_task", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Alice
      {prog} --bundle assets/model_contributor --question "Train the MNIST MLP" \\
          --pays-amount 5DML --max-assignments 3 --expires-in-blocks 1000 \\
          --storage ipfs --result-key ~/.config/decentralml/result_key.pub
    """)
@click.option("--bundle", "bundle", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of assets contributors download (with start_task.sh).")
@click.option("--question", required=True, help="What contributors are asked to do.")
@click.option("--pays-amount", required=True, type=AmountType(),
              help=f"Reward per accepted result: planck (5000000000000) or {TOKEN} (5{TOKEN}, 0.5{TOKEN}).")
@click.option("--max-assignments", required=True, type=click.IntRange(min=1),
              help="Number of contributor slots; the escrow is pays-amount × this.")
@click.option("--expires-in-blocks", type=click.IntRange(min=1), metavar="N",
              help="Expire N blocks from now (default 1000).")
@click.option("--expiration-block", type=click.IntRange(min=1), metavar="BLOCK",
              help="Expire at this block number instead.")
@click.option("--validation-strategy", type=EnumType(ValidationStrategy),
              default=ValidationStrategy.MANUAL_ACCEPT.value, show_default=True,
              help="AutoAccept pays on arrival; ManualAccept and CustomAccept wait for "
                   "validate_task_results.")
@click.option("--task-type", type=EnumType(TaskType), default=TaskType.MODEL_CONTRIBUTOR.value,
              show_default=True, help="What kind of work the task pays for.")
@click.option("--storage", type=STORAGE, default="ipfs", show_default=True,
              help="Where the bundle is stored.")
@click.option("--result-key", metavar="PATH",
              help="Public key (.pub file or hex) results are sealed to; keep its private half "
                   "for validate_task_results. See `keys generate`.")
@click.option("--annotation-type", help="DataAnnotator tasks: the kind of annotation.")
@click.option("--class-labels", help="DataAnnotator tasks: the labels, comma separated.")
def create_task(bundle: Path, question: str, pays_amount: int, max_assignments: int,
                expires_in_blocks: int | None, expiration_block: int | None,
                validation_strategy: ValidationStrategy, task_type: TaskType, storage: str,
                result_key: str | None, annotation_type: str | None,
                class_labels: str | None) -> None:
    """Upload a bundle folder and create a funded task in one step.

    The bundle is packed, stored (with a progress bar) and its sha256 recorded
    on-chain; pays-amount × max-assignments is held in escrow until results are
    accepted or the task is closed. Prints the new task.
    """
    if expires_in_blocks is not None and expiration_block is not None:
        raise click.UsageError("give --expires-in-blocks or --expiration-block, not both")
    annotation = None
    if task_type is TaskType.DATA_ANNOTATOR:
        if not annotation_type or not class_labels:
            raise click.UsageError("a DataAnnotator task needs --annotation-type and --class-labels")
        annotation = {"annotation_type": annotation_type, "class_labels": class_labels}
    elif annotation_type or class_labels:
        raise click.UsageError("--annotation-type and --class-labels are for DataAnnotator tasks")
    public_key = keys_mod.load_public_key(result_key) if result_key else None
    s = settings()
    mp = market()
    if public_key is None and not s.json:
        note("note: no --result-key: results will be stored unsealed, readable by anyone")
    with byte_progress("uploading bundle", folder_size(bundle), enabled=not s.json) as progress:
        task = mp.create_task(
            task_type=task_type, question=question, pays_amount=pays_amount,
            max_assignments=max_assignments, expiration_block=expiration_block,
            expires_in_blocks=expires_in_blocks, validation_strategy=validation_strategy,
            bundle_path=bundle, bundle_storage_type=STORAGE_CHOICES[storage.lower()],
            result_public_key=public_key, annotation=annotation, progress=progress,
        )
    if s.json:
        emit_json(task_json(task))
        return
    click.echo(f"created task {task.task_id}")
    _show_task(task)


# --------------------------------------------------------------------------- contributing


def _contributor_id(address: str) -> str:
    return address[:8]


@command("assign_task", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Bob
      {prog} 3 --run --shard-index 1 --num-shards 3
      {prog} 3 --dest ./my_task      # download only; then: cd my_task && ./start_task.sh
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="New folder for the bundle (default ./task_<id>).")
@click.option("--run", is_flag=True, help="Run ./start_task.sh in the bundle once it is unpacked.")
@click.option("--shard-index", type=click.IntRange(min=0), metavar="N",
              help="With --run: your shard of the data (DECENTRALML_SHARD_INDEX).")
@click.option("--num-shards", type=click.IntRange(min=1), metavar="N",
              help="With --run: number of shards (DECENTRALML_NUM_SHARDS).")
@click.option("--contributor-id", metavar="ID",
              help="With --run: names your result (default: the start of your address).")
def assign_task(task_id: int, dest: Path | None, run: bool, shard_index: int | None,
                num_shards: int | None, contributor_id: str | None) -> None:
    """Take a slot in a task, download and verify its bundle, and optionally run it.

    The bundle is checked against the sha256 recorded on-chain before it is unpacked.
    Prints the submission id to send the result with. With --run, ./start_task.sh runs
    in the bundle folder with DECENTRALML_SUBMISSION_ID, DECENTRALML_TASK_ID,
    DECENTRALML_CONTRIBUTOR_ID (and the shard options) set, and its exit code is
    this command's.
    """
    if (shard_index is not None and num_shards is not None) and shard_index >= num_shards:
        raise click.BadParameter(f"must be less than --num-shards ({num_shards})",
                                 param_hint="--shard-index")
    s = settings()
    dest = dest or Path(f"task_{task_id}")
    mp = market()
    with byte_progress("downloading bundle", enabled=not s.json) as progress:
        assignment = mp.assign_task(task_id, dest, progress=progress)
    if s.json:
        emit_json({"submission_id": assignment.submission_id, "task_id": task_id,
                   "bundle_dir": assignment.bundle_dir, "contributor": mp.chain.address})
    else:
        click.echo(f"submission {assignment.submission_id}: took a slot in task {task_id}")
        click.echo(f"bundle verified and unpacked in {assignment.bundle_dir}")
        if not run:
            click.echo(f"next: cd {assignment.bundle_dir} && ./start_task.sh, then "
                       f"send_task_result --submission-id {assignment.submission_id} "
                       "--result-path <result folder>")
    if not run:
        return
    env = dict(os.environ)
    env.update(s.environment())
    env.update({
        "DECENTRALML_SUBMISSION_ID": str(assignment.submission_id),
        "DECENTRALML_TASK_ID": str(task_id),
        "DECENTRALML_CONTRIBUTOR_ID": contributor_id or _contributor_id(mp.chain.address),
    })
    if shard_index is not None:
        env["DECENTRALML_SHARD_INDEX"] = str(shard_index)
    if num_shards is not None:
        env["DECENTRALML_NUM_SHARDS"] = str(num_shards)
    # start_task.sh sends the result with the send_task_result console script.
    scripts = str(Path(sys.executable).parent)
    if not shutil.which("send_task_result", path=env.get("PATH")):
        env["PATH"] = os.pathsep.join(p for p in (env.get("PATH"), scripts) if p)
    code = run_start_script(assignment.bundle_dir, env)
    if code:
        note(f"start_task.sh exited with code {code}")
    click.get_current_context().exit(code)


def run_start_script(bundle_dir: Path, env: dict[str, str]) -> int:
    script = Path(bundle_dir) / "start_task.sh"
    if not script.is_file():
        raise UserInputError(f"the bundle has no start_task.sh ({script}); see its README")
    argv = ["./start_task.sh"] if os.access(script, os.X_OK) else ["bash", "start_task.sh"]
    note(f"running ./start_task.sh in {bundle_dir}")
    sys.stdout.flush()
    return subprocess.run(argv, cwd=bundle_dir, env=env).returncode


@command("send_task_result", epilog="""
    \b
    Example:
      export DECENTRALML_SURI=//Bob
      {prog} --submission-id 7 --result-path task_3/output/mnist_mlp_5FHneW46 \\
          --result "accuracy=0.91"
    """)
@click.option("--submission-id", required=True, type=click.IntRange(min=0),
              help="The id assign_task printed.")
@click.option("--result-path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar="DIR", help="Result folder to store (sealed to the creator's key, if any).")
@click.option("--result", "result_text", default="", metavar="TEXT",
              help="A short text result or note recorded on-chain.")
@click.option("--storage", type=STORAGE,
              help="Where the result folder is stored (default: where the task's bundle is).")
def send_task_result(submission_id: int, result_path: Path | None, result_text: str,
                     storage: str | None) -> None:
    """Store a result folder and record it on-chain for a submission.

    The folder is packed, sealed to the task's result key when it has one, stored
    and checked retrievable before its location and sha256 go on-chain.
    """
    if result_path is None and not result_text:
        raise click.UsageError("give --result-path, --result or both")
    s = settings()
    mp = market()
    storage_type = STORAGE_CHOICES[storage.lower()] if storage else None
    if storage_type is None and result_path is not None:
        task = mp.get_task(mp.get_submission(submission_id).task_id)
        storage_type = task.bundle.storage_type
    with byte_progress("uploading result", folder_size(result_path) if result_path else None,
                       enabled=not s.json and result_path is not None) as progress:
        submission = mp.send_task_result(
            submission_id, result=result_text, result_path=result_path,
            result_storage_type=storage_type or StorageType.LOCAL, progress=progress,
        )
    if s.json:
        emit_json(submission)
        return
    click.echo(f"sent the result of submission {submission_id} (task {submission.task_id}): "
               f"{submission.status.value}")
    if submission.result_location is not None:
        click.echo(f"stored at {location_text(submission.result_location)}")


# --------------------------------------------------------------------------- reading


@command("list_tasks", epilog="""
    \b
    Example:
      {prog} --status open
      {prog} --mine --json
    """)
@click.option("--status", type=click.Choice(["open", "closed", "all"], case_sensitive=False),
              default="all", show_default=True)
@click.option("--creator", type=ADDRESS, help="Only tasks created by this account.")
@click.option("--mine", is_flag=True, help="Only tasks created by the signer.")
def list_tasks(status: str, creator: str | None, mine: bool) -> None:
    """List tasks: id, type, reward, slots taken, results, expiry and question."""
    if mine and creator:
        raise click.UsageError("give --creator or --mine, not both")
    s = settings()
    mp = market(need_signer=mine)
    tasks = mp.list_tasks(None if status == "all" else status,
                          mp.chain.address if mine else creator)
    if s.json:
        emit_json([task_json(t) for t in tasks])
        return
    table(["ID", "STATUS", "TYPE", "PAYS", "SLOTS", "PENDING", "ACCEPTED", "EXPIRES", "QUESTION"],
          [[t.task_id, t.status.value, t.task_type.value, format_amount(t.pays_amount),
            f"{t.taken_slots}/{t.max_assignments}", t.pending, t.accepted, t.expiration_block,
            clip(t.question)] for t in tasks], empty="no tasks")


def _show_task(task: Task) -> None:
    rows = [
        ("task", task.task_id),
        ("status", task.status.value),
        ("type", task.task_type.value),
        ("question", task.question),
        ("creator", task.creator),
        ("pays", f"{format_amount(task.pays_amount)} per accepted result"),
        ("slots", f"{task.taken_slots} of {task.max_assignments} taken ({task.free_slots} free)"),
        ("results", f"{task.pending} pending, {task.accepted} accepted, "
                    f"{task.submissions} submissions"),
        ("escrow", format_amount(task.escrow)),
        ("validation", task.validation_strategy.value),
        ("created at", f"block {task.created_at}"),
        ("expires at", f"block {task.expiration_block}"),
        ("bundle", location_text(task.bundle)),
        ("bundle sha256", task.bundle.content_hash.hex() if task.bundle else "-"),
        ("result key", task.result_public_key.hex() if task.result_public_key else "none (unsealed)"),
    ]
    if task.annotation:
        rows += [("annotation", task.annotation.get("annotation_type", "")),
                 ("class labels", task.annotation.get("class_labels", ""))]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")


@command("show_task", epilog="""
    \b
    Example:
      {prog} 3
      {prog} 3 --json | jq .escrow
    """)
@click.argument("task_id", type=click.IntRange(min=0))
def show_task(task_id: int) -> None:
    """Show one task in full."""
    task = market(need_signer=False).get_task(task_id)
    if settings().json:
        emit_json(task_json(task))
    else:
        _show_task(task)


@command("list_task_results", epilog="""
    \b
    Example:
      {prog} 3
      {prog} 3 --status pending --json
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--status", type=EnumType(SubmissionStatus, [m.value.lower() for m in SubmissionStatus]),
              help="Only submissions in this state.")
def list_task_results(task_id: int, status: SubmissionStatus | None) -> None:
    """List the submissions of a task: contributor, state, result and where it is stored."""
    subs = market(need_signer=False).list_task_results(task_id, status)
    if settings().json:
        emit_json(subs)
        return
    table(["SUBMISSION", "CONTRIBUTOR", "STATUS", "SENT AT", "RESULT", "STORED AT", "REASON"],
          [[s.submission_id, short_address(s.contributor), s.status.value,
            s.submitted_at if s.submitted_at is not None else "-", clip(s.result, 24) or "-",
            clip(location_text(s.result_location), 40), s.rejection_reason or ""]
           for s in subs], empty=f"no submissions for task {task_id}")


def _private_key(path: Path | None, required: bool) -> bytes | None:
    """The result key: the given file, else the default one if it exists."""
    if path is not None:
        return keys_mod.load_private_key(path)
    default = keys_mod.DEFAULT_KEY_PATH.expanduser()
    if default.exists():
        return keys_mod.load_private_key(default)
    if required:
        raise ConfigError(f"no result key at {default}; pass --result-key-file")
    return None


RESULT_KEY_OPTION = click.option(
    "--result-key-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
    help=f"Private key sealed results are opened with (default {keys_mod.DEFAULT_KEY_PATH}).")


@command("download_task_result", epilog="""
    \b
    Example:
      {prog} 7 --dest ./result_7 --result-key-file ~/.config/decentralml/result_key
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="New folder for the result (default ./result_<submission id>).")
@RESULT_KEY_OPTION
def download_task_result(submission_id: int, dest: Path | None,
                         result_key_file: Path | None) -> None:
    """Download a result folder, verify its sha256, open it if sealed, and unpack it."""
    s = settings()
    dest = dest or Path(f"result_{submission_id}")
    mp = market(need_signer=False)
    private_key = _private_key(result_key_file, required=False)
    with byte_progress("downloading result", enabled=not s.json) as progress:
        folder = mp.download_task_result(submission_id, dest, private_key=private_key,
                                         progress=progress)
    if s.json:
        emit_json({"submission_id": submission_id, "dest": folder})
    else:
        click.echo(f"result of submission {submission_id} verified and unpacked in {folder}")


# --------------------------------------------------------------------------- deciding


def _decided(receipt, event: str) -> dict[int, dict]:
    return {int(e.attributes["submission_id"]): e.attributes for e in receipt.find(event)}


@command("accept_task_result", epilog="""
    \b
    Example:
      {prog} 7
      {prog} 7 8 9          # several in one atomic transaction
    """)
@click.argument("submission_ids", nargs=-1, required=True, type=click.IntRange(min=0))
def accept_task_result(submission_ids: tuple[int, ...]) -> None:
    """Accept pending results; the chain pays each contributor from the task's escrow."""
    mp = market()
    if len(submission_ids) == 1:
        receipt = mp.accept_task_result(submission_ids[0])
    else:
        receipt = mp.decide_task_results(accept=list(submission_ids))
    paid = _decided(receipt, "ResultAccepted")
    rows = [{"submission_id": sid, "status": "Accepted",
             "paid": int(paid.get(sid, {}).get("paid", 0)), "block": receipt.block_number}
            for sid in submission_ids]
    if settings().json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"accepted submission {row['submission_id']}: paid {format_amount(row['paid'])}")


@command("reject_task_result", epilog="""
    \b
    Example:
      {prog} 8 --reason "accuracy 0.11 is below 0.8"
    """)
@click.argument("submission_id", type=click.IntRange(min=0))
@click.option("--reason", default="rejected by the creator", show_default=True,
              help="Why, recorded on-chain for the contributor.")
def reject_task_result(submission_id: int, reason: str) -> None:
    """Reject a pending result (or free a slot whose contributor went silent); nothing is paid."""
    receipt = market().reject_task_result(submission_id, reason)
    if settings().json:
        emit_json({"submission_id": submission_id, "status": "Rejected", "reason": reason,
                   "block": receipt.block_number})
    else:
        click.echo(f"rejected submission {submission_id}: {reason}")


@command("close_task", epilog="""
    \b
    Example:
      {prog} 3
    """)
@click.argument("task_id", type=click.IntRange(min=0))
def close_task(task_id: int) -> None:
    """Close a task: pending results are paid, the rest of the escrow goes back to the creator.

    The creator may close a task at any time; anyone may close it once it has expired.
    """
    receipt = market().close_task(task_id)
    closed = receipt.first("TaskClosed").attributes
    data = {"task_id": task_id, "paid_on_close": int(closed.get("paid_on_close", 0)),
            "refunded": int(closed.get("refunded", 0)), "block": receipt.block_number}
    if settings().json:
        emit_json(data)
    else:
        click.echo(f"closed task {task_id}: paid {format_amount(data['paid_on_close'])} for pending "
                   f"results, refunded {format_amount(data['refunded'])}")


@command("balance", epilog="""
    \b
    Example:
      {prog}                      # the signer's balance
      {prog} 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty --json
    """)
@click.argument("address", required=False, type=ADDRESS)
def balance(address: str | None) -> None:
    """Show an account's free and reserved (escrowed) balance; default: the signer's."""
    mp = market(need_signer=address is None)
    address = address or mp.chain.address
    data = mp.balance(address)
    if settings().json:
        emit_json({"address": address, **data})
        return
    click.echo(f"account   {address}")
    for key in ("free", "reserved", "frozen"):
        if key in data:
            click.echo(f"{key:<9} {format_amount(data[key])}  ({data[key]} planck)")


# --------------------------------------------------------------------------- validating


@command("validate_task_results", epilog="""
    \b
    Examples:
      {prog} 3                                  # ask for each pending result
      {prog} 3 --accept 7 --accept 8 --reject 9 --reason "below 0.8 accuracy"
      {prog} 3 --hook hooks/checks.py:accuracy_at_least_80
    """)
@click.argument("task_id", type=click.IntRange(min=0))
@click.option("--hook", metavar="MODULE:FUNCTION",
              help="CustomAccept hook: module:function or file.py:function, called as "
                   "hook(model, submission) -> Decision.")
@click.option("--accept", "accept_ids", multiple=True, type=click.IntRange(min=0), metavar="ID",
              help="Accept this submission (repeat); with --reject, no questions are asked.")
@click.option("--reject", "reject_ids", multiple=True, type=click.IntRange(min=0), metavar="ID",
              help="Reject this submission (repeat).")
@click.option("--reason", default="", help="Reason recorded for rejections by --reject or by hand.")
@click.option("--creator-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("assets/model_creator"), show_default=True,
              help="The creator's folder whose held-out data results are evaluated on.")
@click.option("--no-evaluate", is_flag=True, help="Do not evaluate the models.")
@RESULT_KEY_OPTION
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Keep the downloaded results in this new folder (default: a temporary one).")
@click.option("--dry-run", is_flag=True, help="Decide, but submit nothing on-chain.")
def validate_task_results(task_id: int, hook: str | None, accept_ids: tuple[int, ...],
                          reject_ids: tuple[int, ...], reason: str, creator_dir: Path,
                          no_evaluate: bool, result_key_file: Path | None,
                          results_dir: Path | None, dry_run: bool) -> None:
    """Download, evaluate and decide on every pending result of a task, in one batch.

    Each pending result is downloaded (opened with the result key if sealed), its
    model loaded and evaluated on the creator's held-out data; then it is accepted or
    rejected by a CustomAccept --hook, by --accept/--reject ids, or by asking you.
    Results left pending (skipped, or a hook that failed) are reported and stay pending.
    All decisions go on-chain in one atomic transaction.
    """
    from . import review

    if hook and (accept_ids or reject_ids):
        raise click.UsageError("give --hook or --accept/--reject, not both")
    s = settings()
    mp = market()
    private_key = _private_key(result_key_file, required=False)
    _load_tensorflow(s)
    evaluator = None if no_evaluate else review.creator_evaluator(creator_dir)
    if hook:
        strategy = review.hook_strategy(hook)
    elif accept_ids or reject_ids:
        strategy = review.id_strategy(accept_ids, reject_ids, reason)
    else:
        def ask(prompt: str) -> str:
            return click.prompt(prompt.rstrip(), default="s", show_default=False,
                                prompt_suffix=" ", err=True)

        strategy = review.manual_strategy(ask, reason)

    with tempfile.TemporaryDirectory(prefix="decentralml-review-") as scratch:
        reviews = review.review_task_results(
            mp, task_id, strategy, work_dir=results_dir or Path(scratch) / "results",
            private_key=private_key, evaluator=evaluator, on_download=_download_bar(s),
        )
        receipt = None if dry_run else review.submit_decisions(mp, reviews)
    rows = [r.summary() for r in reviews]
    if s.json:
        emit_json({"task_id": task_id, "submitted": receipt is not None,
                   "block": receipt.block_number if receipt else None, "results": rows})
        return
    table(["SUBMISSION", "CONTRIBUTOR", "ACCURACY", "LOSS", "DECISION", "REASON"],
          [[r["submission_id"], short_address(r["contributor"]), _metric(r["metrics"], "accuracy"),
            _metric(r["metrics"], "loss"), r["verdict"], clip(r["reason"], 60)] for r in rows],
          empty=f"no pending results for task {task_id}")
    for r in rows:
        if r["error"] and r["verdict"] == "pending":
            note(f"warning: submission {r['submission_id']} stays pending: {r['error']}")
    decided = sum(1 for r in rows if r["verdict"] != "pending")
    if receipt is not None:
        click.echo(f"submitted {decided} decision(s) in block {receipt.block_number}")
    elif dry_run and decided:
        click.echo(f"dry run: {decided} decision(s) not submitted")


def _load_tensorflow(s: Settings) -> None:
    """Import TensorFlow now, hiding the native library's start-up chatter on stderr
    (shown with -v, or if the import fails)."""
    from . import review

    if s.verbose or "tensorflow" in sys.modules:
        review.load_tensorflow()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            review.load_tensorflow().config.list_physical_devices()  # CUDA probing talks too
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _download_bar(s: Settings) -> Callable[[Submission], Any]:
    def bar(submission: Submission):
        return byte_progress(f"downloading result {submission.submission_id}", enabled=not s.json)

    return bar


def _metric(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    return f"{value:.4f}" if isinstance(value, float) else "-"


# --------------------------------------------------------------------------- federating


@command("federate", epilog="""
    \b
    Examples:
      {prog} --task-id 3 --out federated_model --policy weighted
      {prog} results/mnist_mlp_a results/mnist_mlp_b --out federated_model --policy median
    """)
@click.argument("result_dirs", nargs=-1,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--task-id", type=click.IntRange(min=0),
              help="Federate the accepted results of this task (downloaded first).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("federated_model"), show_default=True,
              help="New folder for the federated SavedModel.")
@click.option("--policy", type=click.Choice(["average", "weighted", "median", "trimmed_mean"]),
              default="average", show_default=True,
              help="weighted: FedAvg by each result's sample count; median / trimmed_mean: "
                   "robust to outliers.")
@click.option("--trim-fraction", type=click.FloatRange(0, 0.5, max_open=True), default=0.1,
              show_default=True, help="trimmed_mean: fraction dropped at each end.")
@click.option("--template", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="SavedModel the weights are set into (default: the first result).")
@RESULT_KEY_OPTION
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="With --task-id: keep the downloaded results in this new folder.")
def federate(result_dirs: tuple[Path, ...], task_id: int | None, out: Path, policy: str,
             trim_fraction: float, template: Path | None, result_key_file: Path | None,
             results_dir: Path | None) -> None:
    """Combine accepted results (SavedModel folders) into one federated SavedModel."""
    from . import review

    if bool(result_dirs) == (task_id is not None):
        raise click.UsageError("give result folders or --task-id (one of the two)")
    if out.exists():
        raise UserInputError(f"{out} already exists; choose a new folder with --out")
    s = settings()
    with tempfile.TemporaryDirectory(prefix="decentralml-federate-") as scratch:
        if task_id is not None:
            mp = market(need_signer=False)
            private_key = _private_key(result_key_file, required=False)
            downloaded = review.download_results(
                mp, task_id, results_dir or Path(scratch) / "results",
                status=SubmissionStatus.ACCEPTED, private_key=private_key,
                on_download=_download_bar(s))
            if not downloaded:
                raise UserInputError(f"task {task_id} has no accepted results with a stored model")
            model_dirs = [review.find_model_dir(folder) for _sub, folder in downloaded]
        else:
            try:
                model_dirs = [review.find_model_dir(folder) for folder in result_dirs]
            except ValidationError as error:  # the folders named on the command line
                raise UserInputError(str(error)) from None
        _load_tensorflow(s)
        saved = review.federate_into(model_dirs, out, policy=policy, template=template,
                                     trim_fraction=trim_fraction)
    if s.json:
        emit_json({"out": saved, "policy": policy, "sources": model_dirs})
    else:
        click.echo(f"federated {len(model_dirs)} result(s) with {policy} into {saved}")


# --------------------------------------------------------------------------- keys


@cli.group("keys", cls=Group, context_settings=CONTEXT, epilog="""
    \b
    Example:
      {prog} generate
      {prog} show --json
    """)
def keys_group() -> None:
    """The X25519 key pair results are sealed to (creators)."""


@keys_group.command("generate", cls=Command, context_settings=CONTEXT, epilog="""
    \b
    Example:
      {prog} --path ~/.config/decentralml/result_key
      decentralml create_task ... --result-key ~/.config/decentralml/result_key.pub
    """)
@global_options
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


@keys_group.command("show", cls=Command, context_settings=CONTEXT, epilog="""
    \b
    Example:
      {prog}
      {prog} --path ./creator_key --json
    """)
@global_options
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


# --------------------------------------------------------------------------- devnet


@cli.group("devnet", cls=Group, context_settings=CONTEXT, epilog="""
    \b
    Example:
      {prog} up && export DECENTRALML_URL=ws://127.0.0.1:9944
      {prog} status
      {prog} down
    """)
def devnet_group() -> None:
    """The local dev chain: Chopsticks running the DecentralML runtime."""


PORT_OPTION = click.option(
    "--port", type=click.IntRange(1, 65535), envvar="DECENTRALML_PORT",
    default=devnet_mod.DEFAULT_PORT, show_default=True, help="Port on 127.0.0.1 [env DECENTRALML_PORT].")


def _devnet_json(state: devnet_mod.DevnetStatus) -> dict:
    return {"running": state.running, "url": state.url, "port": state.port, "pid": state.pid,
            "block_number": state.block_number, "log_file": state.log_file}


@devnet_group.command("up", cls=Command, context_settings=CONTEXT, epilog="""
    \b
    Example:
      {prog} --port 9944
    """)
@global_options
@PORT_OPTION
@click.option("--timeout", type=click.FloatRange(min=1), default=120, show_default=True,
              help="Seconds to wait for the chain to answer.")
def devnet_up(port: int, timeout: float) -> None:
    """Start the dev chain in the background (or report the one already running)."""
    if not settings().json:
        note(f"starting the dev chain on port {port} …")
    state = devnet_mod.up(port, timeout=timeout)
    if settings().json:
        emit_json(_devnet_json(state))
    else:
        click.echo(f"dev chain running at {state.url} (block {state.block_number}); "
                   f"log {state.log_file}")


@devnet_group.command("down", cls=Command, context_settings=CONTEXT, epilog="""
    \b
    Example:
      {prog}
    """)
@global_options
@PORT_OPTION
def devnet_down(port: int) -> None:
    """Stop the dev chain started by `devnet up`."""
    stopped = devnet_mod.down(port)
    if settings().json:
        emit_json({"stopped": stopped, "port": port})
    else:
        click.echo("stopped" if stopped else f"no dev chain of ours on port {port}")


@devnet_group.command("status", cls=Command, context_settings=CONTEXT, epilog="""
    \b
    Example:
      {prog} || decentralml devnet up
    """)
@global_options
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


if __name__ == "__main__":  # pragma: no cover
    main()
