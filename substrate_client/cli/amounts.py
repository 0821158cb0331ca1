"""Amounts of the chain's token: ``"5DML"`` / ``"0.5 DML"`` / planck in, ``"0.5 DML"`` out.

Only ASCII digits are numbers here: ``"٥DML"`` (an Arabic-Indic five) is refused, not
read as 5.
"""

from __future__ import annotations

import re

from ..errors import UserInputError

#: The chain's token: balances are integers of planck, 10**12 planck to the DML.
TOKEN = "DML"
DECIMALS = 12
PLANCK_PER_TOKEN = 10**DECIMALS
#: The chain's Balance is a u128.
MAX_PLANCK = 2**128 - 1

_AMOUNT = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ ]*([A-Za-z]*)", re.ASCII)


def parse_amount(text: str) -> int:
    """``"5DML"`` / ``"0.5 DML"`` → planck; a plain integer is planck already.

    Digits are ASCII only; the amount must fit the chain's Balance (u128).
    """
    raw = str(text).strip(" \t").replace("_", "")
    match = _AMOUNT.fullmatch(raw) if len(raw) <= 64 else None
    if not match:
        text = text if len(str(text)) <= 64 else f"{str(text)[:64]}…"
        raise UserInputError(f"{text!r} is not an amount; write planck (5000) or {TOKEN} (5{TOKEN}, 0.5{TOKEN})")
    number, unit = match.group(1), match.group(2).upper()
    if unit in ("", "PLANCK"):
        if "." in number:
            raise UserInputError(f"{text!r}: a plain number is in planck and must be whole; "
                                 f"did you mean {number}{TOKEN}?")
        amount = int(number)
    elif unit == TOKEN:
        whole, _, fraction = number.partition(".")
        fraction = fraction.rstrip("0")
        if len(fraction) > DECIMALS:
            raise UserInputError(f"{text!r} has more than {DECIMALS} decimals")
        amount = int(whole or "0") * PLANCK_PER_TOKEN + int(fraction.ljust(DECIMALS, "0"))
    else:
        raise UserInputError(f"{text!r}: unknown unit {match.group(2)!r}; use {TOKEN} or planck")
    if amount > MAX_PLANCK:
        raise UserInputError(f"{text!r} is more than the chain can hold ({format_amount(MAX_PLANCK)})")
    return amount


def format_amount(planck: int) -> str:
    """``500000000000`` → ``0.5 DML``."""
    sign = "-" if planck < 0 else ""
    whole, fraction = divmod(abs(int(planck)), PLANCK_PER_TOKEN)
    digits = f"{fraction:0{DECIMALS}d}".rstrip("0")
    return f"{sign}{whole}.{digits} {TOKEN}" if digits else f"{sign}{whole} {TOKEN}"
