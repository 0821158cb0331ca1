"""What a transaction in a block did, in two requests, decoding only its own events.

substrate-interface learns a transaction's outcome by decoding every extrinsic of its
block (to find its index) and every event of the block (to keep its own). When a
hundred contributors send in the same block, each of them decodes the hundred
transactions and their several hundred events: the work grows with the square of the
number of senders, and it was most of what a contributor's process did. Here the
block's extrinsics are only hashed (an extrinsic's hash is the BLAKE2-256 of its bytes),
and the block's events are walked by their types' encoded sizes, from the metadata's
type registry, without building any value: only the transaction's own event records
are decoded, with substrate-interface's own decoder, so they read exactly as before.

The events are read with the block's ``System::LastRuntimeUpgrade``: when that is not
the one the loaded metadata belongs to, or the walk does not end exactly at the end of
the bytes, nothing is returned and the caller asks substrate-interface instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

from scalecodec.base import ScaleBytes
from substrateinterface import SubstrateInterface

from .chain_reads import RuntimeChanged, StorageReader

__all__ = ["LandedTransaction", "ReceiptReader"]

_FIXED_PRIMITIVES = {"bool": 1, "u8": 1, "i8": 1, "char": 4, "u16": 2, "i16": 2, "u32": 4, "i32": 4,
                     "u64": 8, "i64": 8, "u128": 16, "i128": 16, "u256": 32, "i256": 32}


@dataclass
class LandedTransaction:
    """A transaction found in its block: its position, its events (decoded records, as
    substrate-interface gives them), whether it succeeded and what it paid."""

    block_number: int
    index: int
    events: list[Any] = field(default_factory=list)
    success: bool = False
    dispatch_error: Any = None
    fee: int = 0


class ReceiptReader:
    """One connection's receipts (the caller handles a dropped connection)."""

    def __init__(self, substrate: SubstrateInterface, storage: StorageReader):
        self.substrate = substrate
        self._storage = storage
        self._walker: tuple[Any, _EventWalker] | None = None  # (the metadata it was made from, it)

    def read(self, extrinsic_hash: str, block_hash: str) -> LandedTransaction | None:
        """What ``extrinsic_hash`` did in block ``block_hash``; None when this cannot tell
        (not in that block, another runtime's events, bytes the walk does not expect)."""
        block = self.substrate.rpc_request("chain_getBlock", [block_hash])["result"]["block"]
        wanted = extrinsic_hash.lower().removeprefix("0x")
        index = next((i for i, data in enumerate(block["extrinsics"])
                      if hashlib.blake2b(bytes.fromhex(data[2:]), digest_size=32).hexdigest() == wanted), None)
        if index is None:
            return None
        try:
            raw = self._storage.raw_at("System", "Events", block_hash)
        except RuntimeChanged:
            return None
        walker = self._event_walker()
        data = bytes.fromhex(raw[2:]) if raw else b"\x00"
        spans = walker.records_of(data, index)
        if spans is None:
            return None
        landed = LandedTransaction(block_number=int(block["header"]["number"], 16), index=index)
        for start, end in spans:
            record = self.substrate.runtime_config.create_scale_object(
                type_string=walker.record_type, data=ScaleBytes(data[start:end]), metadata=self.substrate.metadata)
            record.decode()
            landed.events.append(record)
            event = record.value["event"]
            attributes = event.get("attributes") or {}
            if (event["module_id"], event["event_id"]) == ("System", "ExtrinsicSuccess"):
                landed.success = True
            elif (event["module_id"], event["event_id"]) == ("System", "ExtrinsicFailed"):
                landed.dispatch_error = attributes.get("dispatch_error") if isinstance(attributes, dict) else None
            elif (event["module_id"], event["event_id"]) == ("TransactionPayment", "TransactionFeePaid"):
                landed.fee = int(attributes.get("actual_fee") or 0)
        return landed

    def _event_walker(self) -> "_EventWalker":
        metadata = self.substrate.metadata
        if self._walker is None or self._walker[0] is not metadata:
            self._walker = (metadata, _EventWalker.from_metadata(metadata))
        return self._walker[1]


class _EventWalker:
    """Finds the byte spans of one extrinsic's records in a block's ``Vec<EventRecord>``
    by skipping over every record by its type's encoding (a fixed size where the type
    has one, a length read where it does not), never building a value."""

    def __init__(self, definitions: dict[int, dict], events_type: int):
        self._definitions = definitions
        self._sizes: dict[int, int | None] = {}
        self._skips: dict[int, Callable[[bytes, int], int]] = {}
        record = definitions[events_type]["sequence"]["type"]
        self.record_type = f"scale_info::{record}"
        fields = definitions[record]["composite"]["fields"]
        if [f["name"] for f in fields][:1] != ["phase"]:
            raise ValueError("an event record that does not start with its phase")
        phase = definitions[fields[0]["type"]]["variant"]["variants"]
        apply = next(v for v in phase if v["name"] == "ApplyExtrinsic")
        if [definitions[f["type"]].get("primitive") for f in apply["fields"]] != ["u32"]:
            raise ValueError("a phase ApplyExtrinsic that does not hold a u32")
        self._apply_index = apply["index"]
        self._record = record

    @classmethod
    def from_metadata(cls, metadata: Any) -> "_EventWalker":
        types = metadata.portable_registry.value["types"]
        definitions = {entry["id"]: entry["type"]["def"] for entry in types}
        function = metadata.get_metadata_pallet("System").get_storage_function("Events")
        return cls(definitions, function.value["type"]["Plain"])

    def records_of(self, data: bytes, index: int) -> list[tuple[int, int]] | None:
        """``(start, end)`` of each record of extrinsic ``index``; None when the bytes
        are not what the types say (then nothing here can be trusted)."""
        try:
            count, at = _compact(data, 0)
            skip_record = self._skip(self._record)
            spans = []
            for _ in range(count):
                start = at
                at = skip_record(data, at)
                if data[start] == self._apply_index and int.from_bytes(data[start + 1:start + 5], "little") == index:
                    spans.append((start, at))
            return spans if at == len(data) else None
        except (IndexError, KeyError, ValueError):
            return None

    # ------------------------------------------------------------------ skipping by type

    def _size(self, type_id: int, seen: frozenset = frozenset()) -> int | None:
        """The encoded size of every value of the type, None if it varies."""
        if type_id in self._sizes:
            return self._sizes[type_id]
        if type_id in seen:
            return None  # a type holding itself cannot be fixed
        seen = seen | {type_id}
        (kind, body), = self._definitions[type_id].items()
        size: int | None = None
        if kind == "primitive":
            size = _FIXED_PRIMITIVES.get(body)
        elif kind == "array":
            inner = self._size(body["type"], seen)
            size = None if inner is None else inner * body["len"]
        elif kind in ("composite", "tuple"):
            parts = [self._size(t, seen) for t in _field_types(kind, body)]
            size = None if None in parts else sum(parts)
        elif kind == "variant" and len(body["variants"]) == 0:
            size = 0
        self._sizes[type_id] = size
        return size

    def _skip(self, type_id: int) -> Callable[[bytes, int], int]:
        """A function giving where a value of the type that starts at ``at`` ends."""
        made = self._skips.get(type_id)
        if made is not None:
            return made
        # Entered first, so a type that holds itself finds its own skip while it is made.
        self._skips[type_id] = lambda data, at: self._skips[type_id](data, at)
        try:
            made = self._make_skip(type_id)
        except BaseException:
            del self._skips[type_id]
            raise
        self._skips[type_id] = made
        return made

    def _make_skip(self, type_id: int) -> Callable[[bytes, int], int]:
        size = self._size(type_id)
        if size is not None:
            return lambda data, at: _within(data, at + size)
        (kind, body), = self._definitions[type_id].items()
        if kind in ("composite", "tuple"):
            parts = [self._skip(t) for t in _field_types(kind, body)]

            def skip_fields(data: bytes, at: int) -> int:
                for part in parts:
                    at = part(data, at)
                return at
            return skip_fields
        if kind == "variant":
            variants = {v["index"]: [self._skip(f["type"]) for f in v["fields"]] for v in body["variants"]}

            def skip_variant(data: bytes, at: int) -> int:
                at_fields = at + 1
                for part in variants[data[at]]:
                    at_fields = part(data, at_fields)
                return at_fields
            return skip_variant
        if kind in ("sequence", "array"):
            element_size = self._size(body["type"])
            element = self._skip(body["type"])
            fixed_count = body.get("len")

            def skip_elements(data: bytes, at: int) -> int:
                count, at = (fixed_count, at) if fixed_count is not None else _compact(data, at)
                if element_size is not None:
                    return _within(data, at + count * element_size)
                for _ in range(count):
                    at = element(data, at)
                return at
            return skip_elements
        if kind == "compact":
            return lambda data, at: _compact(data, at)[1]
        if kind == "primitive" and body == "str":
            def skip_text(data: bytes, at: int) -> int:
                length, at = _compact(data, at)
                return _within(data, at + length)
            return skip_text
        raise ValueError(f"no way to skip a value of type {type_id} ({kind})")


def _field_types(kind: str, body: Any) -> list[int]:
    return list(body) if kind == "tuple" else [f["type"] for f in body["fields"]]


def _within(data: bytes, end: int) -> int:
    if end > len(data):
        raise ValueError("a value runs past the end of the bytes")
    return end


def _compact(data: bytes, at: int) -> tuple[int, int]:
    """A SCALE compact integer at ``at``: its value and where it ends."""
    first = data[at]
    mode = first & 3
    if mode == 0:
        return first >> 2, at + 1
    if mode == 1:
        return int.from_bytes(data[at:at + 2], "little") >> 2, _within(data, at + 2)
    if mode == 2:
        return int.from_bytes(data[at:at + 4], "little") >> 2, _within(data, at + 4)
    length = (first >> 2) + 4
    return int.from_bytes(data[at + 1:at + 1 + length], "little"), _within(data, at + 1 + length)
