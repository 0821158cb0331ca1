"""Click parameter types: amounts, pallet enums, account addresses, storage types."""

from __future__ import annotations

import enum
from typing import Iterable

import click

from ..errors import UserInputError
from ..records import StorageType, parse_enum
from .amounts import parse_amount

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
