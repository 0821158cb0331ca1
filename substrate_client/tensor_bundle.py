"""Reading SavedModel variables straight from their files, without copies.

A SavedModel's ``variables/`` is a TensorFlow tensor bundle: an index (a
LevelDB-format table mapping each variable's name to its dtype, shape and byte
range) and data shards holding the raw little-endian values. Federation reads every
variable of N models once; ``tf.train.load_checkpoint`` copies each tensor through
TensorFlow at about a third of memory speed, so this reader looks up the byte range
in the index and reads it with one ``numpy.fromfile`` call into an array the caller
owns (no memory map, so nothing stays resident after the caller drops it).

Anything unusual (compressed index blocks, string or sliced tensors, big-endian
bundles) falls back to TensorFlow's own reader, so results never depend on it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import numpy as np

_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # compression type (1 byte) + crc32c (4 bytes)


class UnsupportedBundle(Exception):
    """The bundle uses a feature this reader leaves to TensorFlow."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, offset: int, size: int) -> bytes:
    if data[offset + size] != 0:  # 0 = stored uncompressed
        raise UnsupportedBundle("compressed index block")
    return data[offset:offset + size]


def _block_entries(block: bytes):
    """(key, value) of every entry of a table block, keys rebuilt from their shared prefixes."""
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * num_restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_len]
        pos += value_len


def _table_entries(index_file: Path):
    data = index_file.read_bytes()
    if len(data) < _FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != _MAGIC:
        raise UnsupportedBundle(f"{index_file} is not a table file")
    footer = data[-_FOOTER_SIZE:]
    _, pos = _varint(footer, 0)          # metaindex offset
    _, pos = _varint(footer, pos)        # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    for _, handle in _block_entries(_block(data, index_offset, index_size)):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        yield from _block_entries(_block(data, offset, size))


@dataclass(frozen=True)
class _Entry:
    dtype: np.dtype
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int


class BundleReader:
    """``get_tensor(name)`` for the variables of one SavedModel, like TensorFlow's reader."""

    def __init__(self, prefix: str | Path):
        from tensorflow.core.protobuf import tensor_bundle_pb2
        import tensorflow as tf

        self.prefix = str(prefix)
        self._entries: Dict[str, _Entry] = {}
        self._fallback_names: set[str] = set()
        num_shards = 1
        for key, value in _table_entries(Path(self.prefix + ".index")):
            if key == b"":
                header = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
                if header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE:
                    raise UnsupportedBundle("big-endian bundle")
                num_shards = header.num_shards
                continue
            entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
            name = key.decode("utf-8")
            dtype = tf.dtypes.as_dtype(entry.dtype)
            if entry.slices or dtype == tf.string or not dtype.is_numpy_compatible:
                self._fallback_names.add(name)
                continue
            self._entries[name] = _Entry(
                dtype=np.dtype(dtype.as_numpy_dtype).newbyteorder("<"),
                shape=tuple(d.size for d in entry.shape.dim),
                shard=entry.shard_id, offset=entry.offset, size=entry.size,
            )
        self._shard_files = [f"{self.prefix}.data-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]
        self._tf_reader = None

    def has_tensor(self, name: str) -> bool:
        return name in self._entries or name in self._fallback_names

    def get_tensor(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """The variable's value; read into ``out`` when it is given and fits (reusing
        one buffer spares the page faults of fresh memory, about half the cost)."""
        entry = self._entries.get(name)
        if entry is None:
            return self._tensorflow().get_tensor(name)
        if out is None or out.dtype != entry.dtype or out.shape != entry.shape \
                or not out.flags.c_contiguous:
            out = np.empty(entry.shape, entry.dtype)
        with open(self._shard_files[entry.shard], "rb", buffering=0) as shard:
            shard.seek(entry.offset)
            if shard.readinto(memoryview(out).cast("B")) != entry.size:
                raise UnsupportedBundle(f"{self._shard_files[entry.shard]} is shorter than its index says")
        return out

    def _tensorflow(self):
        if self._tf_reader is None:
            import tensorflow as tf

            self._tf_reader = tf.train.load_checkpoint(self.prefix)
        return self._tf_reader


def open_bundle(prefix: str | Path):
    """The fast reader when the bundle allows it, else TensorFlow's CheckpointReader."""
    try:
        return BundleReader(prefix)
    except (UnsupportedBundle, OSError, ValueError, IndexError, struct.error):
        import tensorflow as tf

        return tf.train.load_checkpoint(str(prefix))
