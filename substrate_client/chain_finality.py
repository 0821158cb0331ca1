"""Which transactions wait for finality, and the waiting itself.

On a network of validators a block is first *included* (some validator built it on
its best chain) and later *finalized* (two thirds of the validators voted for it, by
GRANDPA); until then another fork may replace it and undo what it did. A call that
moves or releases money is reported only once its block is final, so nobody pays,
publishes or walks away on the strength of a block that may vanish.

The dev chain (Chopsticks) finalizes every block as it builds it (its
``chain_getFinalizedHead`` is the head), so the wait there costs one look and nothing
needs to know which kind of chain it is talking to.

Waiting never goes quiet: progress is logged at INFO, and when the finalized head has
not moved for a while (fewer than two thirds of the validators online, say) a WARNING
says so in words and the wait goes on, up to an overall limit after which the caller
is told its transaction IS in a block, just not a final one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Mapping

from .config import FINALITY_ENVIRONMENT, read_environment
from .errors import ChainError, ConfigError

log = logging.getLogger(__name__)

PALLET = "DecentralML"

#: Calls reported only once their block is final: each holds, pays, returns or releases
#: money (escrow, assignment and storage deposits, rewards), and so do transfers. A call
#: not named here waits for inclusion only: ``commit_task_result`` moves no money, and
#: the reveal that follows it can only be in a block descending from the commit's (it
#: needs the commitment), so no fork keeps the reveal and drops the commit, and the
#: reveal's finality is the commit's. Waiting for the commit as well would cost every
#: result a few blocks and, while finality stalls, could push the reveal past its
#: window (counted in blocks from the commit) and cost the contributor the slot.
FINAL_CALLS: frozenset[tuple[str, str]] = frozenset(
    [(PALLET, name) for name in (
        "create_task", "create_campaign_task", "assign_task", "reveal_task_result", "accept_task_result", "reject_task_result", "close_task",
        "close_judged_task", "time_out_slot", "claim_reward", "appeal_rejection", "arbitrate",
        "release_rejection", "remove_task", "release_slot",
    )]
    + [("Balances", name) for name in (
        "transfer_keep_alive", "transfer_allow_death", "transfer_all", "force_transfer",
    )]
)
#: Calls that carry other calls: final when any call they carry must be.
_WRAPPERS = {("Utility", "batch"): "calls", ("Utility", "batch_all"): "calls",
             ("Utility", "force_batch"): "calls", ("Sudo", "sudo"): "call"}


def must_be_final(call: Any) -> bool:
    """Whether the transaction of ``call`` (a composed call, or its decoded value) is
    reported only once its block is final (see :data:`FINAL_CALLS`)."""
    value = getattr(call, "value", call)
    if not isinstance(value, Mapping):
        return False
    name = (value.get("call_module"), value.get("call_function"))
    if name in FINAL_CALLS:
        return True
    inner = value.get("call_args", {}).get(_WRAPPERS.get(name, ""), None)
    if inner is None:
        return False
    return any(must_be_final(c) for c in (inner if isinstance(inner, list) else [inner]))


@dataclasses.dataclass(frozen=True)
class FinalitySettings:
    """How the wait for finality behaves; each from its variable in
    :data:`substrate_client.config.FINALITY_ENVIRONMENT`, else its default."""

    #: Seconds without the finalized head moving before a WARNING says so (and again
    #: every as many seconds while it stays still).
    stall_seconds: float = 30.0
    #: Seconds after which the wait gives up (the transaction stays in its block).
    timeout: float = 900.0
    #: Seconds between looks at the finalized head.
    poll_seconds: float = 1.0
    #: Seconds between INFO lines while waiting.
    progress_seconds: float = 6.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "FinalitySettings":
        values = {}
        for name, text in read_environment(FINALITY_ENVIRONMENT, environ).items():
            try:
                values[name] = float(text)
            except ValueError:
                values[name] = -1.0
            if not values[name] > 0:
                raise ConfigError(f"{FINALITY_ENVIRONMENT[name]} must be a number of seconds "
                                  f"above 0, not {text!r}")
        return cls(**values)


class BlockRetracted(Exception):
    """The block holding the transaction lost to another fork before it was final."""


def wait_until_final(read: Callable[[Callable[[], Any]], Any], substrate: Any,
                     block_hash: str, block_number: int, extrinsic_hash: str,
                     settings: FinalitySettings, started: float | None = None) -> None:
    """Return once block ``block_number`` (``block_hash``) is finalized. ``read`` runs
    one read of ``substrate`` (reconnecting if the connection dropped).

    Raises :class:`BlockRetracted` when another block was finalized at that height, and
    :class:`ChainError` after ``settings.timeout`` seconds (counted from ``started``)."""
    started = time.monotonic() if started is None else started
    last_head: int | None = None
    head_moved = last_info = last_warning = time.monotonic()
    first = True
    while True:
        head_hash = read(substrate.get_chain_finalised_head)
        head = int(read(lambda: substrate.get_block_number(head_hash)))
        if head >= block_number:
            if read(lambda: substrate.get_block_hash(block_number)) != block_hash:
                raise BlockRetracted(block_hash)
            if not first:
                log.info("block #%d is finalized", block_number)
            return
        now = time.monotonic()
        if head != last_head:
            last_head, head_moved = head, now
        if first or now - last_info >= settings.progress_seconds:
            log.info("waiting for block %d to be finalized (finalized head %d)", block_number, head)
            last_info, first = now, False
        still = now - head_moved
        if still >= settings.stall_seconds and now - last_warning >= settings.stall_seconds:
            best = int(read(lambda: substrate.get_block_number(None)))
            log.warning("finality has not advanced for %.0f s (finalized head #%d, best #%d): "
                        "fewer than two thirds of the validators may be online; still waiting",
                        still, head, best)
            last_warning = now
        if now - started >= settings.timeout:
            raise ChainError(
                f"transaction {extrinsic_hash} IS in block #{block_number} ({block_hash}), but "
                f"that block is not final after {settings.timeout:.0f} s (finalized head #{head}); "
                "it may still become final, or its block be replaced: check before sending again")
        time.sleep(settings.poll_seconds)
