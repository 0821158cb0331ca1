"""Reading storage at the best block in as few requests as the node allows.

substrate-interface asks the node for its head, that head's header and its runtime
version before every read (three requests), and again for every storage key it makes.
On a busy node each request waits behind the node's other work, so a client that
follows a task of a hundred results spent most of its time on those questions. Here
keys are made from the metadata already loaded, and a read is one request: the
entries asked for, plus ``System::LastRuntimeUpgrade`` in the same request. When that
record moved, the runtime was upgraded: the metadata is loaded again and the read made
again, so nothing is decoded with another runtime's types.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any, Callable

from scalecodec.base import ScaleBytes
from substrateinterface import SubstrateInterface
from substrateinterface.storage import StorageKey

__all__ = ["RuntimeChanged", "StorageReader"]

#: The most keys one ``state_getKeysPaged`` request may ask for (a node's own cap).
KEYS_PAGE = 1000
#: Keys and decoded values kept (each): a creator following a task of a hundred results
#: reads them all at every change, and making their keys and decoding them in Python cost
#: more than the reads; the entries that did not change are not made or decoded again.
DECODED_KEPT = 4096

_CONCAT_HASH_BYTES = {"Blake2_128Concat": 16, "Twox64Concat": 8, "Identity": 0}
_UNSEEN = object()


class RuntimeChanged(Exception):
    """A block's runtime is not the one whose metadata is loaded."""


class StorageReader:
    """One connection's storage reads (the caller handles a dropped connection)."""

    def __init__(self, substrate: SubstrateInterface, metadata_lock: threading.Lock):
        self.substrate = substrate
        self._metadata_lock = metadata_lock
        self._upgrade_seen: Any = _UNSEEN  # the LastRuntimeUpgrade the loaded metadata belongs to
        self._loaded: Any = None  # that metadata (substrate-interface switches to a block's own when asked of one)
        self._decoded: OrderedDict[tuple[str, str], Any] = OrderedDict()  # (type, bytes) -> value
        self._keys: OrderedDict[tuple[str, str, str], StorageKey] = OrderedDict()  # (module, storage, entry)
        self._functions: dict[tuple[str, str], Any] = {}

    def keys(self, module: str, storage: str, params: list[list]) -> list[StorageKey]:
        """The keys of these entries (one list of map keys each; ``[[]]`` for a value),
        made from the loaded metadata."""
        if self.substrate.metadata is None:
            self._load_metadata()
        return [self._key(module, storage, entry) for entry in params]

    def _key(self, module: str, storage: str, entry: list) -> StorageKey:
        """One entry's key, kept: making one looks the storage up in the metadata and
        encodes its parameters (~0.3 ms, more than reading it)."""
        found = (module, storage, repr(entry))
        key = self._keys.get(found)
        if key is None:
            key = StorageKey.create_from_storage_function(module, storage, entry,
                                                          runtime_config=self.substrate.runtime_config,
                                                          metadata=self.substrate.metadata)
            self._keys[found] = key
            if len(self._keys) > DECODED_KEPT:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(found)
        return key

    def values(self, module: str, storage: str, params: list[list]) -> list[Any]:
        """The values of these entries at the best block, in their order: None where absent
        (the storage's default where it has one). One request."""
        def prepare():
            keys = self.keys(module, storage, params)
            return [key.to_hex() for key in keys], lambda found: [self._value(key, found.get(key.to_hex()))
                                                                  for key in keys]

        return self._read(prepare)

    def map_keys(self, module: str, storage: str, params: list) -> list[Any]:
        """The remaining map keys of the entries under ``params`` (the first keys of a
        map), at the best block: a request per thousand entries."""
        return [key for key, _raw in self._map_entries(module, storage, params)]

    def map_items(self, module: str, storage: str, params: list) -> list[tuple[Any, Any]]:
        """``(remaining map keys, value)`` of the entries under ``params``: the keys as
        :meth:`map_keys`, then their values in one more request (an entry removed in
        between is left out)."""
        entries = self._map_entries(module, storage, params)
        if not entries:
            return []

        def prepare():
            value_type = self._storage_function(module, storage).get_value_type_string()
            return [raw for _key, raw in entries], lambda found: [
                (key, self._decode(value_type, found[raw])) for key, raw in entries if found.get(raw) is not None]

        return self._read(prepare)

    def raw_at(self, module: str, storage: str, block_hash: str) -> str | None:
        """A plain storage value's bytes (hex) at block ``block_hash``, None if absent.
        One request; raises :class:`RuntimeChanged` when that block's runtime is not the
        one the loaded metadata (and a read since) belongs to."""
        key = self.keys(module, storage, [[]])[0].to_hex()
        upgrade_key = self._upgrade_key()
        result = self.substrate.rpc_request("state_queryStorageAt", [[key, upgrade_key], block_hash])["result"]
        found = {k: value for change in result for k, value in change["changes"]}
        if (self._upgrade_seen is _UNSEEN or found.get(upgrade_key) != self._upgrade_seen
                or self.substrate.metadata is not self._loaded):
            raise RuntimeChanged(f"the runtime at block {block_hash} is not the one loaded")
        return found.get(key)

    def constant(self, module: str, name: str) -> Any:
        """A runtime constant, from the loaded metadata (None if the runtime has none)."""
        if self.substrate.metadata is None:
            self._load_metadata()
        pallet = self.substrate.metadata.get_metadata_pallet(module)
        for constant in (pallet.constants if pallet is not None else None) or []:
            if constant.value["name"] == name:
                return self._decode(constant.type, "0x" + bytes(constant.constant_value).hex())
        return None

    # ------------------------------------------------------------------ internals

    def _read(self, prepare: Callable[[], tuple[list[str], Callable[[dict], Any]]]) -> Any:
        """``prepare()`` gives the hex keys to read and how to decode what was found; they
        are read with the runtime's last upgrade: if the runtime moved since its metadata
        was loaded, it is loaded again and everything prepared and read again."""
        upgrade_key = self._upgrade_key()
        while True:
            wanted, decode = prepare()
            result = self.substrate.rpc_request("state_queryStorageAt", [wanted + [upgrade_key], None])["result"]
            found = {key: value for change in result for key, value in change["changes"]}
            upgrade = found.pop(upgrade_key, None)
            if upgrade == self._upgrade_seen and self.substrate.metadata is self._loaded:
                return decode(found)
            # The metadata is loaded after ``upgrade`` was read: if it is newer still,
            # the next read sees a newer upgrade record and loads it again.
            self._upgrade_seen = upgrade
            self._load_metadata()

    def _map_entries(self, module: str, storage: str, params: list) -> list[tuple[Any, str]]:
        """``(decoded remaining keys, raw key)`` of the entries under ``params``."""
        function = self._storage_function(module, storage)
        types = function.get_params_type_string()
        hashers = function.get_param_hashers()
        if len(params) >= len(types):
            raise ValueError(f"{module}.{storage} takes at most {len(types) - 1} key(s) to list under")
        parts = []
        for n in range(len(params), len(types)):
            if hashers[n] not in _CONCAT_HASH_BYTES:
                raise ValueError(f"{module}.{storage}'s keys are hashed ({hashers[n]}): they cannot be listed")
            parts += [f"[u8; {_CONCAT_HASH_BYTES[hashers[n]]}]", types[n]]
        key_type = f"({', '.join(parts)})"
        prefix = self.keys(module, storage, [list(params)])[0].to_hex()
        raw_keys: list[str] = []
        start = prefix
        while True:
            page = self.substrate.rpc_request("state_getKeysPaged", [prefix, KEYS_PAGE, start, None])["result"]
            raw_keys += page
            if len(page) < KEYS_PAGE:
                break
            start = page[-1]
        entries = []
        for raw in raw_keys:
            decoded = self._decode(key_type, "0x" + raw[len(prefix):])
            remaining = decoded[1::2]  # the keys, without their hashes
            entries.append((remaining[0] if len(remaining) == 1 else tuple(remaining), raw))
        return entries

    def _value(self, key: StorageKey, raw: str | None) -> Any:
        """An entry's value from its bytes (its default, or None, when absent)."""
        if raw is None:
            return key.decode_scale_value(None).value
        return self._decode(key.value_scale_type, raw)

    def _decode(self, type_string: str, raw: str) -> Any:
        """``raw`` decoded as ``type_string``, kept by its bytes (a copy each time: callers
        may change what they get)."""
        kept = self._decoded.get((type_string, raw), _UNSEEN)
        if kept is _UNSEEN:
            scale = self.substrate.runtime_config.create_scale_object(
                type_string=type_string, data=ScaleBytes(raw), metadata=self.substrate.metadata)
            kept = scale.decode()
            self._decoded[(type_string, raw)] = kept
            if len(self._decoded) > DECODED_KEPT:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end((type_string, raw))
        return copy.deepcopy(kept)

    def _storage_function(self, module: str, storage: str):
        if self.substrate.metadata is None:
            self._load_metadata()
        function = self._functions.get((module, storage))
        if function is None:
            function = self.substrate.metadata.get_metadata_pallet(module).get_storage_function(storage)
            if function is None:
                raise ValueError(f"the runtime has no storage {module}.{storage}")
            self._functions[(module, storage)] = function
        return function

    def _upgrade_key(self) -> str:
        return self.keys("System", "LastRuntimeUpgrade", [[]])[0].to_hex()

    def _load_metadata(self) -> None:
        with self._metadata_lock:
            self.substrate.init_runtime()
            self._loaded = self.substrate.metadata
        # Another runtime's types may read the same bytes, or key the same entries, otherwise.
        for kept in (self._decoded, self._keys, self._functions):
            kept.clear()
