"""Amounts of the chain's token: ``"5DML"`` / ``"0.5 DML"`` / planck in, ``"0.5 DML"`` out."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..errors import UserInputError

#: The chain's token: balances are integers of planck, 10**12 planck to the DML.
TOKEN = "DML"
DECIMALS = 12
PLANCK_PER_TOKEN = 10**DECIMALS


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
