"""Click parameter types: amounts, whole numbers, pallet enums, account addresses, storage
types; and :func:`check_at_most`, for a value whose bound only the chain knows.

Numbers are ASCII digits only, and never more than the chain's type can hold: a bad
value is a usage error (exit 2) naming its flag, before anything is uploaded or sent."""

from __future__ import annotations

import enum
from typing import Iterable

import click

from ..errors import UserInputError
from ..records import StorageType, parse_enum
from .amounts import MAX_PLANCK, parse_amount

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

#: The storage types this client can write to, as ``--storage`` spells them.
STORAGE_CHOICES = {"ipfs": StorageType.IPFS, "s3": StorageType.S3, "local": StorageType.LOCAL}


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
        if amount > MAX_PLANCK:
            self.fail(f"{value!r} is more than the chain's balance type holds", param, ctx)
        return amount


class WholeNumber(click.ParamType):
    """A whole number written in ASCII digits, from ``min`` to ``max`` (by default the
    range of a u32, the pallet's type for counts). Use instead of ``click.INT``, which
    reads ``"٥"`` as 5.

    >>> @click.option("--max-assignments", type=WholeNumber(min=1))
    """

    name = "INTEGER"

    def __init__(self, min: int = 0, max: int = U32_MAX):
        self.min = min
        self.max = max

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().replace("_", "")
            if not (text.isascii() and text.isdigit()) or len(text) > 40:
                self.fail(f"{_shown(value)} is not a whole number (digits 0-9 only)", param, ctx)
            number = int(text)
        if number < self.min:
            self.fail(f"{number} is less than {self.min}", param, ctx)
        if number > self.max:
            self.fail(f"{number} is more than {self.max}, the most the chain's type holds", param, ctx)
        return number


#: Ready-made: a count of slots (u32, at least 1); a block number or a number of blocks
#: (u32, at least 1); a task or submission id (u64).
COUNT = WholeNumber(min=1)
BLOCKS = WholeNumber(min=1)
ID = WholeNumber(min=0, max=U64_MAX)


def check_at_most(value: int, bound: int, flag: str, bound_name: str) -> int:
    """``value`` if it is at most ``bound``, else the CLI's usage error (exit 2) naming
    ``flag``. For bounds the chain sets: read ``bound`` from the chain's constants
    (``bound_name``, e.g. ``"MaxAssignments"``) and check before uploading anything.

    >>> check_at_most(max_assignments, market.chain.constant("MaxAssignments"),
    ...               "--max-assignments", "MaxAssignments")
    """
    if value > bound:
        raise click.BadParameter(
            f"{value} is more than the chain allows ({bound_name} = {bound})", param_hint=f"'{flag}'"
        )
    return value


def check_at_least(value: int, bound: int, flag: str, bound_name: str) -> int:
    """``value`` if it is at least ``bound``, else the CLI's usage error (exit 2) naming ``flag``."""
    if value < bound:
        raise click.BadParameter(
            f"{value} is less than the chain allows ({bound_name} = {bound})", param_hint=f"'{flag}'"
        )
    return value


def _shown(value) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")


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
