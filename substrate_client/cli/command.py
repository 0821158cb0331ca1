"""How every command runs: help with examples and the global options listed apart,
library errors as one ``error: ...`` line with exit code 1 or 2, and the package's log
records on stderr while the command runs."""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import Any, Callable

import click

from ..errors import DecentralMLError
from .options import GLOBAL_NAMES, global_options, settings
from .output import as_click_error, safe_text

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _EchoHandler(logging.Handler):
    """Log records to stderr as ``level: message``, resolving stderr when they arrive."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info and self.level <= logging.DEBUG:
                import traceback

                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            # Log lines can carry text from the chain or storage (paths, names).
            click.echo(safe_text(text, keep_newlines=True), err=True)
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


@contextlib.contextmanager
def _library_errors():
    """Any other error than click's own becomes an ``error: ...`` line and exit code."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as error:
        raise as_click_error(error) from None


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
                (common if param.name in GLOBAL_NAMES else own).append(record)
        for title, records in (("Options", own), ("Global options", common)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            verbose = settings(ctx).verbose
        except DecentralMLError as error:  # a malformed config file
            raise as_click_error(error) from None
        with _logging_to_stderr(verbose), _library_errors():
            return super().invoke(ctx)


class Group(_Help, click.Group):
    command_class = Command

    def invoke(self, ctx: click.Context) -> Any:
        with _library_errors():
            return super().invoke(ctx)


Group.group_class = Group


def command(name: str, epilog: str, **kwargs) -> Callable:
    """Decorate a function as a command with the global options and an example
    (``{prog}`` in the epilog); ``substrate_client.cli`` adds it to the group."""

    def decorate(f: Callable) -> click.Command:
        return click.command(name, cls=Command, context_settings=CONTEXT, epilog=epilog,
                             **kwargs)(global_options(f))

    return decorate


def group(name: str, epilog: str) -> Callable:
    """Decorate a function as a group of commands with an example."""
    return click.group(name, cls=Group, context_settings=CONTEXT, epilog=epilog)
