"""Talking to the node: connect, sign, submit, read events and storage.

Everything here is plain Substrate through substrate-interface; nothing knows about
TensorFlow or storage. Dispatch errors come back as ``PalletError`` subclasses
carrying the pallet's own error name and documentation.

Transactions are mortal (:data:`MORTAL_PERIOD` blocks) and take their nonce from the
account's record at the best block, skipping the ones this process has in flight
(:mod:`substrate_client.nonces`); when another program of the account took that nonce
first, from the node's pool-aware ``system_accountNextIndex``. A call that moves money
returns once its block is finalized (:mod:`substrate_client.chain_finality`); the
others once in a block.

A transaction is nine requests: the nonce's read, which also checks the runtime (so
:class:`~substrate_client.chain_connection.Connection` does not ask again before encoding and signing), the era's heads and
block, the submission, and its outcome from its block (:mod:`substrate_client.chain_receipts`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from substrateinterface import ExtrinsicReceipt, Keypair, SubstrateInterface
from scalecodec.types import GenericCall
from substrateinterface.utils.ss58 import ss58_decode
from substrateinterface.exceptions import SubstrateRequestException

# connect, chain_url and DEFAULT_URL are imported from here by the rest of the client too
from .chain_connection import CONNECTION_ERRORS, METADATA_LOCK, SS58_FORMAT, chain_url, connect  # noqa: F401
from .chain_reads import StorageReader
from .chain_receipts import ReceiptReader
from .chain_finality import PALLET, BlockRetracted, FinalitySettings, must_be_final, wait_until_final
from .config import DEFAULT_URL, signer_secret  # noqa: F401
from .nonces import NONCES
from .errors import (
    ChainConnectionError,
    ChainError,
    ConfigError,
    InsufficientFundsError,
    NotAuthorizedError,
    NotFoundError,
    PalletError,
)

log = logging.getLogger(__name__)

#: Reconnection attempts after a dropped connection, waiting 1, 2, 4... seconds between.
RECONNECT_ATTEMPTS = 5
#: Blocks a transaction stays valid after the block it is born on (its era): one that
#: has not landed by then never will, instead of lingering in pools to land some day.
MORTAL_PERIOD = 64
#: How far back from the head a dropped submission is looked for: as far as a
#: transaction lives (far more blocks than pass while the client reconnects).
LANDED_SEARCH_BLOCKS = MORTAL_PERIOD

_NOT_FOUND = {"TaskNotFound", "SubmissionNotFound", "CampaignNotFound"}
_NOT_AUTHORIZED = {"NotTaskCreator", "NotAssignedContributor", "CreatorCannotContribute",
                   "NotCampaignCreator"}
_NO_FUNDS = {"InsufficientFunds", "InsufficientFundsForDeposit", "InsufficientBalance",
             "FundsUnavailable"}


def load_keypair(suri: str | None = None, key_file: str | Path | None = None) -> Keypair:
    """The signer, from (in order) a secret URI given by the caller, a key file, or
    the ``DECENTRALML_SURI`` environment variable.

    A secret URI is a dev URI (``//Alice``), a mnemonic, or a hex seed. A key file
    holds one of those on its first line. Secrets are never logged.
    """
    if suri is None and key_file is not None:
        path = Path(key_file).expanduser()
        from .keys import read_private_file  # keys imports nothing from here

        lines = read_private_file(path, "the signer key file").strip().splitlines()
        if not lines or not lines[0].strip():
            raise ConfigError(f"the signer key file {path} is empty")
        suri = lines[0].strip()
    if suri is None:
        suri = signer_secret()
    if not suri:
        raise ConfigError(
            "no signer: set DECENTRALML_SURI (e.g. //Alice on the dev chain, or your mnemonic) "
            "or pass --key-file"
        )
    try:
        if suri.startswith("0x") and len(suri) == 66:
            return Keypair.create_from_seed(suri, ss58_format=SS58_FORMAT)
        return Keypair.create_from_uri(suri, ss58_format=SS58_FORMAT)
    except Exception as error:
        # The message of the underlying error may echo the secret; do not chain it.
        raise ConfigError(
            f"the signer secret is not a valid dev URI, mnemonic or seed ({type(error).__name__})"
        ) from None


def same_account(a: str, b: str) -> bool:
    """Whether two SS58 addresses (of any network prefix) name the same account."""
    try:
        return ss58_decode(a) == ss58_decode(b)
    except ValueError:
        return a == b


def dev_address(name: str) -> str:
    """SS58 address of a well-known dev account (``alice`` … ``ferdie``)."""
    return Keypair.create_from_uri(f"//{name.capitalize()}", ss58_format=SS58_FORMAT).ss58_address


@dataclass
class Event:
    module: str
    name: str
    attributes: dict[str, Any]


@dataclass
class Receipt:
    """What a successful extrinsic did."""

    extrinsic_hash: str
    block_hash: str
    block_number: int
    fee: int
    events: list[Event] = field(default_factory=list)
    #: Whether the client saw its block finalized before returning (calls that move
    #: money, see :data:`substrate_client.chain_finality.FINAL_CALLS`).
    finalized: bool = False

    def find(self, name: str, module: str = PALLET) -> list[Event]:
        return [e for e in self.events if e.module == module and e.name == name]

    def first(self, name: str, module: str = PALLET) -> Event:
        found = self.find(name, module)
        if not found:
            raise ChainError(f"expected a {module}.{name} event, got {[e.name for e in self.events]}")
        return found[0]


def decode_event(record: Any) -> Event:
    value = record.value if hasattr(record, "value") else record
    event = value["event"]
    attributes = event.get("attributes")
    if not isinstance(attributes, dict):
        attributes = {"values": attributes}
    return Event(module=event["module_id"], name=event["event_id"], attributes=attributes)


def pallet_error(pallet: str, name: str, docs: str) -> ChainError:
    """The exception for a dispatch error, by kind."""
    if name in _NOT_FOUND:
        return NotFoundError(pallet, name, docs)
    if name in _NOT_AUTHORIZED:
        return NotAuthorizedError(pallet, name, docs)
    if name in _NO_FUNDS:
        return InsufficientFundsError(f"{name}: {docs}", pallet=pallet, name=name)
    return PalletError(pallet, name, docs)


class Chain:
    """A connection plus the signer that submits on it."""

    def __init__(self, substrate: SubstrateInterface, keypair: Keypair | None = None,
                 reconnect_attempts: int = RECONNECT_ATTEMPTS,
                 finality: FinalitySettings | None = None):
        self.substrate = substrate
        self.keypair = keypair
        self.reconnect_attempts = reconnect_attempts
        #: How long and how loudly a money-moving call waits for its block to be final.
        self.finality = finality or FinalitySettings.from_environment()
        self._genesis_hash: str | None = None
        self._storage = StorageReader(substrate, METADATA_LOCK)
        self._receipts = ReceiptReader(substrate, self._storage)
        self._hashes_headers: bool | None = None  # whether a header's own hash matched the node's

    @classmethod
    def from_settings(
        cls, url: str | None = None, suri: str | None = None, key_file: str | Path | None = None,
        need_signer: bool = True,
    ) -> "Chain":
        keypair = load_keypair(suri, key_file) if (need_signer or suri or key_file) else None
        return cls(connect(url), keypair)

    @property
    def genesis_hash(self) -> str:
        """The hash of block 0 (``0x`` hex): which chain this is."""
        if self._genesis_hash is None:
            self._genesis_hash = self.read(lambda: self.substrate.get_block_hash(0))
        return self._genesis_hash

    @property
    def address(self) -> str:
        return self.require_signer().ss58_address

    def prepare_signing(self) -> None:
        """Pay the one-time costs of signing now: the chain's genesis hash, and the
        decoding of the transaction format that substrate-interface does on the first
        signature (~0.3 s). A long-running process calls this when it starts, so that
        its first transaction (an agent's first slot, say) goes out as fast as the
        later ones. Nothing is sent, and no nonce is taken."""
        keypair = self.require_signer()
        call = self.call("remark", {"remark": "0x"}, module="System")
        self.read(lambda: self.substrate.create_signed_extrinsic(
            call=call, keypair=keypair, nonce=0,
            era={"period": MORTAL_PERIOD, "current": self._era_birth()}))
        _ = self.genesis_hash

    def require_signer(self) -> Keypair:
        if self.keypair is None:
            raise ConfigError("this action needs a signer: set DECENTRALML_SURI or pass --key-file")
        return self.keypair

    # -- writing -------------------------------------------------------------------

    def call(self, function: str, params: dict[str, Any], module: str = PALLET):
        """The call, encoded with the runtime loaded (no request): if the node turns out to
        run another when it is signed, it is encoded again with that one."""
        with self._runtime_as_loaded():
            return self.substrate.compose_call(call_module=module, call_function=function, call_params=params)

    def _runtime_as_loaded(self) -> contextlib.AbstractContextManager:
        as_loaded = getattr(self.substrate, "runtime_as_loaded", None)
        return as_loaded() if as_loaded is not None else contextlib.nullcontext()

    def _for_loaded_runtime(self, call: Any) -> Any:
        """``call`` as the loaded runtime encodes it: itself, or encoded again (the calls
        inside it too) when it was encoded with another runtime's metadata."""
        if getattr(call, "metadata", None) is self.substrate.metadata:
            return call
        value = _plain_call(call)
        return self.substrate.compose_call(call_module=value["call_module"], call_function=value["call_function"],
                                           call_params=value["call_args"])

    def submit(self, function: str, params: dict[str, Any], module: str = PALLET) -> Receipt:
        """Sign and submit one call, wait until it is in a block, and return what it did."""
        return self.submit_call(self.call(function, params, module))

    def submit_batch(self, calls: Iterable[Any]) -> Receipt:
        """Submit calls atomically with ``Utility.batch_all``: all succeed or none."""
        return self.submit_call(self.call("batch_all", {"calls": list(calls)}, module="Utility"))

    def submit_as_root(self, function: str, params: dict[str, Any], module: str = PALLET) -> Receipt:
        """Dispatch a call with the Root origin through ``Sudo.sudo`` (the signer must be
        the sudo key). Sudo succeeds even when the inner call fails, so its result is
        read from the ``Sudid`` event and a failure raised as the inner call's error."""
        receipt = self.submit("sudo", {"call": self.call(function, params, module)}, module="Sudo")
        outcome = receipt.first("Sudid", module="Sudo").attributes.get("sudo_result")
        if isinstance(outcome, dict) and "Err" in outcome:
            raise self._dispatch_error(outcome["Err"])
        return receipt

    def _dispatch_error(self, error: Any) -> ChainError:
        """A decoded ``DispatchError`` value as an exception: a pallet's error by its name
        and documentation, the runtime's others (``BadOrigin``, ``{"Token":
        "FundsUnavailable"}``...) by their kind and detail."""
        module = error.get("Module") if isinstance(error, dict) else None
        if module is None:
            if isinstance(error, dict) and len(error) == 1:
                (kind, detail), = error.items()
                name = detail if isinstance(detail, str) else kind
                return pallet_error("System", name, f"{kind} error" if detail is not None else "")
            if isinstance(error, str):
                return pallet_error("System", error, error)
            return ChainError(f"the call failed: {error}")
        index = int(module["index"])
        code = module["error"]
        code = bytes.fromhex(code[2:])[0] if isinstance(code, str) else int(code[0] if isinstance(code, (list, tuple)) else code)
        found = self.substrate.metadata.get_module_error(module_index=index, error_index=code)
        pallet = next((p.name for p in self.substrate.metadata.pallets if p["index"] == index), str(index))
        return pallet_error(pallet, found.name if found else "DispatchError",
                            _docs_text(getattr(found, "docs", "")) if found else "")

    def submit_call(self, call: Any) -> Receipt:
        """Sign, submit and wait for inclusion; a call that moves money
        (:func:`~substrate_client.chain_finality.must_be_final`) waits on until its block
        is finalized, logging its progress.

        The transaction is mortal (valid for :data:`MORTAL_PERIOD` blocks) and its nonce
        is the account's next one at the best block, skipping the nonces this process has
        in flight: one storage read, where the node's pool-aware count is a runtime call
        (on the dev chain ~50 ms, a sizeable part of a transaction). When another
        transaction of the account took the nonce first (``Priority is too low``,
        ``Transaction is outdated``; another program of the account, its transaction
        still in the pool), this one certainly did not land: it is signed again with the
        node's next nonce counting its pool, and sent once more.

        When the connection drops, reconnect and find out whether the transaction landed
        before anything is reported: a landed one is returned as if nothing happened, one
        that did not land is sent again (the very same signed bytes, so it can never land
        twice)."""
        keypair = self.require_signer()
        signer = (self.genesis_hash, keypair.public_key)
        for last_try in (False, True):
            extrinsic, nonce, birth = self._sign(call, keypair, signer, pool_aware=last_try)
            try:
                landed = self._send(extrinsic, birth, may_retry=not last_try)
                break
            except _NonceTaken as taken:
                log.info("another transaction of %s took nonce %d first (%s); signing again "
                         "with a fresh nonce", keypair.ss58_address, nonce, taken)
            finally:
                NONCES.settle(signer, nonce)
        receipt = self._outcome(landed)
        return self._finalize(receipt) if must_be_final(call) else receipt

    def _sign(self, call: Any, keypair: Keypair, signer, pool_aware: bool = False) -> tuple[Any, int, int]:
        """The signed, mortal extrinsic of ``call``, its nonce (held in
        :data:`~substrate_client.nonces.NONCES` until the caller settles it) and the
        block its era starts at. The nonce comes from the account's record, or with
        ``pool_aware`` from the node's count of its transactions, pool included."""
        try:
            # The nonce's read checks the runtime too (the pool's count does not: then the
            # node is asked), so the call is encoded and signed with the runtime it found.
            nonce = NONCES.take(signer, lambda: self._next_nonce(keypair.ss58_address, pool_aware))
            try:
                birth = self._era_birth()
                if pool_aware:
                    self.substrate.init_runtime()
                with self._runtime_as_loaded():
                    extrinsic = self.substrate.create_signed_extrinsic(
                        call=self._for_loaded_runtime(call), keypair=keypair, nonce=nonce,
                        era={"period": MORTAL_PERIOD, "current": birth})
            except BaseException:
                NONCES.settle(signer, nonce)
                raise
        except CONNECTION_ERRORS as error:
            raise self._lost(error, "before anything was sent; nothing was changed") from None
        return extrinsic, nonce, birth

    def _next_nonce(self, address: str, pool_aware: bool) -> int:
        """The account's next nonce: from its record at the best block, or with
        ``pool_aware`` from ``system_accountNextIndex`` (which also counts its
        transactions waiting in the node's pool)."""
        if pool_aware:
            return int(self.substrate.rpc_request("system_accountNextIndex", [address])["result"])
        account = self._storage.values("System", "Account", [[address]])[0]
        return int(account["nonce"]) if account is not None else 0

    def _era_birth(self) -> int:
        """The block a new transaction's era starts at: the finalized head, which no fork
        can take away; when finality lags more than a quarter of the era behind, a
        block that close to the best one instead, so the transaction keeps most of its
        life (on a network whose finality stalls, one born on the finalized head would be
        dead at birth)."""
        best = self._header_number([])
        finalized = self._header_number([self.substrate.rpc_request("chain_getFinalizedHead", [])["result"]])
        return max(finalized, best - MORTAL_PERIOD // 4)

    def _header_number(self, params: list) -> int:
        """The number of the best block's header (``[]``) or of ``[block_hash]``'s, asked
        of the node in one request (substrate-interface's ``get_block_number`` checks the
        runtime and decodes the digest first: three requests)."""
        header = self.substrate.rpc_request("chain_getHeader", params)["result"]
        if header is None:
            raise ChainError(f"the node has no block {params[0] if params else '(best)'}")
        return int(header["number"], 16)

    def _send(self, extrinsic: Any, birth: int, may_retry: bool) -> ExtrinsicReceipt:
        """Submit ``extrinsic`` (whose era starts at block ``birth``) and wait until it is
        in a block, reconnecting and sending the same bytes again when the connection
        drops (see :meth:`submit_call`). With ``may_retry``, a first refusal for a nonce
        already taken raises :class:`_NonceTaken`."""
        extrinsic_hash = "0x" + extrinsic.extrinsic_hash.hex()
        for attempt in range(self.reconnect_attempts + 1):
            try:
                return self._watch(extrinsic, extrinsic_hash)
            except (SubstrateRequestException, _PoolVerdict) as error:
                if attempt and _already_in_pool(error):
                    # sent before the connection dropped and still waiting in the pool
                    landed = self._await_landing(extrinsic_hash, birth)
                else:
                    landed = self._landed(extrinsic_hash) if attempt else None
                if landed is not None:
                    return landed
                if may_retry and not attempt and _nonce_taken(error):
                    raise _NonceTaken(_refusal_text(error)) from None
                raise self._refused(error) from None
            except CONNECTION_ERRORS as error:
                log.warning("the connection to the chain dropped while submitting (%s); "
                            "reconnecting to find out whether the transaction landed", error)
                self._reconnect(error)
                landed = self._landed(extrinsic_hash)
                if landed is not None:
                    log.warning("transaction %s had landed in block %s", extrinsic_hash,
                                landed.block_hash)
                    return landed
        raise ChainConnectionError(
            f"the connection to the chain kept dropping; transaction {extrinsic_hash} did "
            "not land, so nothing was changed: try again")

    def _watch(self, extrinsic: Any, extrinsic_hash: str) -> ExtrinsicReceipt:
        """Submit and follow the node's reports until the transaction is in a block.
        A report that it left the pool for good raises :class:`_PoolVerdict` instead of
        waiting for a block that will not come."""

        def on_update(message, update_nr, subscription_id):
            result = message["params"]["result"]
            status = ({str(k).lower(): v for k, v in result.items()} if isinstance(result, dict)
                      else {str(result).lower(): None})
            if "inblock" in status:
                self.substrate.rpc_request("author_unwatchExtrinsic", [subscription_id])
                return status["inblock"]
            if "usurped" in status:
                raise _PoolVerdict("another transaction with the same nonce replaced it in "
                                   "the pool (usurped)", nonce_taken=True)
            if "invalid" in status:
                raise _PoolVerdict(f"the node found it no longer valid ({status['invalid'] or 'its nonce is used or its era is over'})",
                                   nonce_taken=True)
            if "dropped" in status:
                raise _PoolVerdict("the node dropped it from its pool (full?)", nonce_taken=False)
            return None  # ready, broadcast, retracted...: keep waiting

        block_hash = self.substrate.rpc_request(
            "author_submitAndWatchExtrinsic", [str(extrinsic.data)], result_handler=on_update)
        return ExtrinsicReceipt(substrate=self.substrate, extrinsic_hash=extrinsic_hash,
                                block_hash=block_hash)

    def _outcome(self, landed: ExtrinsicReceipt) -> Receipt:
        """What a transaction in a block did, or its dispatch error raised. Read from the
        block's bytes, decoding only its own events (:mod:`substrate_client.chain_receipts`);
        substrate-interface's receipt, which decodes the whole block, where that cannot tell."""
        found = self._receipts.read(landed.extrinsic_hash, landed.block_hash)
        if found is None:
            log.debug("transaction %s: its block read by decoding all of it", landed.extrinsic_hash)
            return self._outcome_decoding_the_block(landed)
        if not found.success:
            raise self._dispatch_error(found.dispatch_error)
        return Receipt(extrinsic_hash=landed.extrinsic_hash, block_hash=landed.block_hash,
                       block_number=found.block_number, fee=found.fee,
                       events=[decode_event(e) for e in found.events])

    def _outcome_decoding_the_block(self, landed: ExtrinsicReceipt) -> Receipt:
        if not landed.is_success:
            message = landed.error_message or {}
            raise pallet_error(
                str(message.get("type", "")), str(message.get("name", "DispatchError")),
                _docs_text(message.get("docs")),
            )
        return Receipt(
            extrinsic_hash=landed.extrinsic_hash,
            block_hash=landed.block_hash,
            block_number=landed.block_number if landed.block_number is not None else self.substrate.get_block_number(landed.block_hash),
            fee=int(landed.total_fee_amount or 0),
            events=[decode_event(e) for e in landed.triggered_events],
        )

    def _finalize(self, receipt: Receipt) -> Receipt:
        """``receipt`` once its block is final. When another fork replaced its block, the
        transaction is looked for in the chain that won (the pool takes it back) and its
        new block waited for in turn."""
        started = time.monotonic()
        while True:
            try:
                wait_until_final(self.read, self.substrate, receipt.block_hash,
                                 receipt.block_number, receipt.extrinsic_hash, self.finality,
                                 started)
                receipt.finalized = True
                return receipt
            except BlockRetracted:
                log.warning("block #%d, which held transaction %s, was replaced by another "
                            "fork before it was final; looking for the transaction again",
                            receipt.block_number, receipt.extrinsic_hash)
            while (landed := self.read(lambda: self._landed(receipt.extrinsic_hash))) is None:
                if time.monotonic() - started >= self.finality.timeout:
                    raise ChainError(
                        f"transaction {receipt.extrinsic_hash} was in block #{receipt.block_number}"
                        f", which another fork replaced, and is not in the chain now")
                time.sleep(self.finality.poll_seconds)
            receipt = self._outcome(landed)

    def _reconnect(self, cause: BaseException) -> None:
        """Open the connection again, waiting 1, 2, 4... seconds between attempts."""
        url = self.substrate.url
        for attempt in range(self.reconnect_attempts):
            time.sleep(min(2 ** attempt, 16))
            try:
                self.substrate.connect_websocket()
                self.substrate.get_block_number(None)
                return
            except CONNECTION_ERRORS as error:
                cause = error
                log.warning("reconnecting to %s failed (%s)", url, error)
        raise self._lost(cause, "and it could not be reached again; whether the last "
                                "transaction landed is unknown: check before retrying")

    def _await_landing(self, extrinsic_hash: str, birth: int) -> ExtrinsicReceipt | None:
        """The receipt of a transaction waiting in the node's pool once it lands, or None
        once its era is over (then it never will)."""
        end = birth + MORTAL_PERIOD
        log.info("transaction %s is waiting in the node's pool; following it until it lands "
                 "(or its era ends at block #%d)", extrinsic_hash, end)
        searched, started = birth, time.monotonic()
        while True:
            head = self.substrate.get_block_number(None)
            landed = self._landed(extrinsic_hash, since=searched)
            if landed is not None or head > end:
                return landed
            if time.monotonic() - started >= self.finality.timeout:
                raise ChainError(
                    f"transaction {extrinsic_hash} has waited in the node's pool for "
                    f"{self.finality.timeout:.0f} s without landing (head #{head}); it may "
                    f"still land until block #{end}, when its era ends: check before retrying")
            searched = head
            time.sleep(self.finality.poll_seconds)

    def _landed(self, extrinsic_hash: str, since: int = 0):
        """The receipt of ``extrinsic_hash`` if it is in one of the last blocks (from
        block ``since`` on). Only a failed submission looks, so a submission that goes
        well pays nothing for it."""
        head = self.substrate.get_block_number(None)
        for number in range(head, max(head - LANDED_SEARCH_BLOCKS, since, 0) - 1, -1):
            block_hash = self.substrate.get_block_hash(number)
            if block_hash is None:
                continue  # heights a dev chain skipped
            for extrinsic in self.substrate.get_extrinsics(block_hash=block_hash) or []:
                found = getattr(extrinsic, "extrinsic_hash", None)
                if found is not None and "0x" + bytes(found).hex() == extrinsic_hash:
                    return self.substrate.retrieve_extrinsic_by_hash(block_hash, extrinsic_hash)
        return None

    def _lost(self, error: BaseException, what: str) -> ChainConnectionError:
        return ChainConnectionError(
            f"lost the connection to the chain at {self.substrate.url} ({type(error).__name__}: "
            f"{error or 'no answer'}) {what}")

    @staticmethod
    def _refused(error: Exception) -> ChainError:
        """A transaction the pool refused before it ran (bad nonce, cannot pay fees...)."""
        text = _refusal_text(error)
        if "pay" in str(text).lower() and "fee" in str(text).lower():
            return InsufficientFundsError(f"the signer cannot pay the transaction fee: {text}")
        return ChainError(f"the chain refused the transaction: {text}")

    # -- reading -------------------------------------------------------------------

    def read(self, fetch: Callable[[], Any]) -> Any:
        """Run a read; if the connection dropped, reconnect and read once more (reads
        change nothing, so repeating one is safe)."""
        try:
            return fetch()
        except CONNECTION_ERRORS as error:
            log.warning("the connection to the chain dropped while reading (%s); reconnecting", error)
            self._reconnect(error)
            try:
                return fetch()
            except CONNECTION_ERRORS as again:
                raise self._lost(again, "while reading") from None

    def query(self, storage: str, params: list | None = None, module: str = PALLET) -> Any:
        """The value of one storage entry at the best block (None where absent): one request."""
        return self.read(lambda: self._storage.values(module, storage, [params or []])[0])

    def query_many(self, storage: str, keys: list, module: str = PALLET) -> list[Any]:
        """The values of a one-key storage map at ``keys``, in their order (None where
        absent), read in one request at one block, however many keys."""
        if not keys:
            return []
        return self.read(lambda: self._storage.values(module, storage, [[k] for k in keys]))

    def query_map(self, storage: str, params: list | None = None, module: str = PALLET) -> Iterator[tuple[Any, Any]]:
        """``(remaining keys, value)`` of a map's entries under ``params`` (its first keys):
        a request per thousand keys and one for their values."""
        yield from self.read(lambda: self._storage.map_items(module, storage, params or []))

    def map_keys(self, storage: str, params: list | None = None, module: str = PALLET) -> list[Any]:
        """The remaining keys of a map's entries under ``params``, without their values."""
        return self.read(lambda: self._storage.map_keys(module, storage, params or []))

    def block_number(self) -> int:
        return int(self.query("Number", module="System"))

    def free_balance(self, address: str) -> int:
        return int(self.query("Account", [address], module="System")["data"]["free"])

    def account_data(self, address: str) -> dict[str, int]:
        data = self.query("Account", [address], module="System")["data"]
        return {k: int(v) for k, v in data.items() if isinstance(v, int)}

    def constant(self, name: str, module: str = PALLET) -> Any:
        return self._storage.constant(module, name)

    def transfer(self, dest: str, amount: int) -> Receipt:
        return self.submit("transfer_keep_alive", {"dest": dest, "value": amount}, module="Balances")

    def storage_keys(self, storage: str, params: list[list], module: str = PALLET) -> list[str]:
        """The hex keys of a storage item's entries (one list of map keys each; ``[[]]`` for
        a plain value), for :meth:`watch_storage`."""
        return [key.to_hex() for key in self.read(lambda: self._storage.keys(module, storage, params))]

    def watch_events(self, handler: Callable[[Event, int], bool | None],
                     idle: Callable[[], bool] | None = None) -> None:
        """Call ``handler(event, block_number)`` for every event of every new block until
        it returns True. Uses the node's new-head subscription, not polling. When no
        block comes for a while (a dev chain builds none without transactions) or the
        connection drops, it reconnects, asks ``idle()`` whether it is done (the caller
        re-reads the state it waits for, so no block in between is missed) and
        subscribes again. Decodes every event of every block: to wait for a change to a
        few known records, :meth:`watch_storage` costs far less on a busy chain."""

        def on_head(header) -> bool:
            number = header["number"]
            block_hash = self._head_hash(header)
            return any(handler(decode_event(record), number) for record in self.substrate.get_events(block_hash))

        self._follow_heads(on_head, idle)

    def watch_storage(self, keys: list[str], handler: Callable[[int, frozenset[str]], bool | None],
                      idle: Callable[[], bool] | None = None) -> None:
        """Call ``handler(block_number, changed)`` for every new block until it returns
        True, ``changed`` holding those of ``keys`` (from :meth:`storage_keys`) whose value
        the block changed. The values' bytes are compared, nothing is decoded: following
        the chain costs one small read a block however busy the block is (decoding every
        event of every block, in every one of a hundred agents, is what loads a machine).
        Same subscription, silence and reconnection rules as :meth:`watch_events`."""
        keys = list(keys)
        last: dict[str, tuple] = {}  # the latest block's hash -> its values

        def values_at(block_hash: str) -> tuple:
            result = self.substrate.rpc_request("state_queryStorageAt", [keys, block_hash])["result"]
            found = {key: value for change in result for key, value in change["changes"]}
            return tuple(found.get(key) for key in keys)

        def on_head(header) -> bool:
            number = header["number"]
            changed: frozenset[str] = frozenset()
            if keys:
                block_hash = self._head_hash(header)
                now = values_at(block_hash)
                before = last.pop(header["parentHash"], None)
                if before is None:
                    before = values_at(header["parentHash"])
                last.clear()
                last[block_hash] = now
                changed = frozenset(key for key, old, new in zip(keys, before, now) if old != new)
            return bool(handler(number, changed))

        self._follow_heads(on_head, idle)

    def _head_hash(self, header: dict) -> str:
        """The hash of the block a new-head message announces: the BLAKE2-256 of its SCALE
        encoding, made here (a request less a block for every watcher) once the node has
        confirmed it for this connection's first block; asked of the node otherwise."""
        number = header["number"]
        if self._hashes_headers is False:
            return self.substrate.get_block_hash(number)
        try:
            logs = [bytes(item.data.data) for item in header["digest"]["logs"]]
            compact = self.substrate.runtime_config.create_scale_object("Compact<u32>")
            encoded = b"".join([bytes.fromhex(header["parentHash"][2:]), bytes(compact.encode(number).data),
                                bytes.fromhex(header["stateRoot"][2:]), bytes.fromhex(header["extrinsicsRoot"][2:]),
                                bytes(compact.encode(len(logs)).data), *logs])
        except (AttributeError, KeyError, TypeError, ValueError):
            return self.substrate.get_block_hash(number)  # a digest item without its bytes
        made = "0x" + hashlib.blake2b(encoded, digest_size=32).hexdigest()
        if self._hashes_headers is None:
            asked = self.substrate.get_block_hash(number)
            self._hashes_headers = asked == made
            return asked
        return made

    def _follow_heads(self, on_head: Callable[[dict], bool], idle: Callable[[], bool] | None) -> None:
        """Call ``on_head(header)`` for every new block until it returns True (the new-head
        subscription; on a long silence or a dropped connection: reconnect, ask ``idle()``,
        subscribe again)."""

        def on_message(message, update_nr, subscription_id):
            return True if on_head(message["header"]) else None

        while True:
            try:
                self.substrate.subscribe_block_headers(on_message)
                return
            except CONNECTION_ERRORS as error:
                log.info("no new block for a while (%s); checking again", type(error).__name__)
                self._reconnect(error)
                if idle is not None and idle():
                    return


class _PoolVerdict(Exception):
    """The node's report that a submitted transaction left its pool without a block."""

    def __init__(self, text: str, nonce_taken: bool):
        super().__init__(text)
        self.nonce_taken = nonce_taken


class _NonceTaken(Exception):
    """Refused because another transaction of the account used its nonce first."""


#: Words of the node's refusals meaning another transaction of the account has the
#: nonce (in the pool, or already in a block).
_NONCE_TAKEN_WORDS = ("priority is too low", "outdated", "stale")


def _plain_call(value: Any) -> Any:
    """A call's value with every call inside it as a value too, to be encoded again."""
    if isinstance(value, GenericCall):
        value = value.value
    if isinstance(value, dict):
        return {key: _plain_call(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_call(item) for item in value]
    return value


def _refusal_text(error: Exception) -> str:
    detail = error.args[0] if error.args else error
    if isinstance(detail, dict):
        return str(detail.get("data") or detail.get("message"))
    return str(detail)


def _already_in_pool(error: Exception) -> bool:
    """The node already has these very bytes (sent before a dropped connection)."""
    detail = error.args[0] if error.args else None
    code = detail.get("code") if isinstance(detail, dict) else None
    return code == 1013 or "already imported" in f"{detail}".lower()


def _nonce_taken(error: Exception) -> bool:
    if isinstance(error, _PoolVerdict):
        return error.nonce_taken
    detail = error.args[0] if error.args else None
    code = detail.get("code") if isinstance(detail, dict) else None
    text = f"{detail}".lower()
    return code == 1014 or any(word in text for word in _NONCE_TAKEN_WORDS)


def _docs_text(docs: Any) -> str:
    if isinstance(docs, (list, tuple)):
        return " ".join(str(d).strip() for d in docs).strip()
    return str(docs or "").strip()
