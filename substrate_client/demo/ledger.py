"""Where the money went, read from the chain: every account's balance at the end of
each round, and the transaction fees each paid in the round's blocks.

The contributors sign in processes of their own, so their fees are not counted where
they submit: they are read back from the chain's ``TransactionFeePaid`` events, block
by block, for every account alike. A snapshot reads all balances at one block, and the
fees are summed up to that same block, so balances and fees always tell the same story.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from substrateinterface.utils.ss58 import ss58_decode

from ..chain import decode_event
from .summary import Balance


@dataclass
class Snapshot:
    """Every account's balance at one block."""

    block: int
    balances: dict[str, Balance]  # by address


def snapshot(substrate, addresses: Sequence[str]) -> Snapshot:
    """The balances of ``addresses`` at the chain's latest block."""
    block_hash = substrate.get_chain_head()
    number = int(substrate.get_block_number(block_hash))
    balances = {}
    for address in addresses:
        data = substrate.query("System", "Account", [address], block_hash=block_hash).value["data"]
        balances[address] = Balance(free=int(data["free"]), reserved=int(data["reserved"]))
    return Snapshot(number, balances)


def fees_paid(substrate, first: int, last: int, addresses: Sequence[str]) -> dict[str, int]:
    """Transaction fees each of ``addresses`` paid in blocks ``first`` to ``last``
    (both included), from the chain's ``TransactionPayment.TransactionFeePaid`` events."""
    by_account = {ss58_decode(a): a for a in addresses}
    fees = dict.fromkeys(addresses, 0)
    for number in range(max(first, 0), last + 1):
        block_hash = substrate.get_block_hash(number)
        for record in substrate.get_events(block_hash):
            event = decode_event(record)
            if (event.module, event.name) != ("TransactionPayment", "TransactionFeePaid"):
                continue
            who = by_account.get(_account(event.attributes.get("who")))
            if who is not None:
                fees[who] += int(event.attributes.get("actual_fee") or 0)
    return fees


def changes(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """Each account's total (free + reserved) at ``after`` minus at ``before``."""
    return {a: after.balances[a].total - before.balances[a].total for a in after.balances}


def _account(who) -> str | None:
    if who is None:
        return None
    text = str(who)
    try:
        return ss58_decode(text)
    except ValueError:
        return text.removeprefix("0x")


def by_name(values: Mapping[str, int], names: Mapping[str, str]) -> dict[str, int]:
    """``values`` keyed by account name instead of address (``names``: address -> name)."""
    return {names[a]: v for a, v in values.items() if a in names}
