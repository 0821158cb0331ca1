"""Reading a SavedModel's checkpoint (its variables) straight from its files, without copies.

A SavedModel's ``variables/`` is a checkpoint in TensorFlow's "tensor bundle"
format (not to be confused with a task's bundle, the archive of
:mod:`substrate_client.storage.bundle`): an index (a
LevelDB-format table mapping each variable's name to its dtype, shape and byte
range) and data shards holding the raw little-endian values. Federation reads every
variable of N models once; ``tf.train.load_checkpoint`` copies each tensor through
TensorFlow at about a third of memory speed, so this reader looks up the byte range
in the index and reads it with one ``numpy.fromfile`` call into an array the caller
owns (no memory map, so nothing stays resident after the caller drops it).

Two modes:

* ``strict=False`` (our own files, e.g. the creator's model): anything unusual
  (compressed index blocks, string or sliced tensors, big-endian checkpoints) falls
  back to TensorFlow's own reader, so results never depend on this one.
* ``strict=True`` (a contributor's result, untrusted): TensorFlow's C++ reader is
  never given the files. Every size the index states is checked against a limit
  and against the files on disk before anything is allocated or read, and what
  this reader does not support is refused (:class:`UnsupportedCheckpoint`), never
  handed on. Malformed files raise :class:`CorruptCheckpoint`.

TensorFlow is imported (for its protocol buffer definitions) only when a checkpoint
is opened.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import numpy as np

from ..tensorflow_setup import import_tensorflow

_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # compression type (1 byte) + crc32c (4 bytes)
_DT_STRING = 7  # tensorflow.core.framework.types_pb2.DT_STRING

#: Limits a strict reader applies to a checkpoint it did not write.
MAX_INDEX_BYTES = 64 * 1024 * 1024
MAX_ENTRIES = 200_000
MAX_SHARDS = 1024
MAX_NAME_BYTES = 4096
MAX_DIMS = 32
MAX_TENSOR_BYTES = 8 * 1024 ** 3
MAX_STRING_BYTES = 64 * 1024 * 1024


__all__ = [
    "CheckpointError",
    "UnsupportedCheckpoint",
    "CorruptCheckpoint",
    "CheckpointReader",
    "open_checkpoint",
    "MAX_INDEX_BYTES",
    "MAX_ENTRIES",
    "MAX_SHARDS",
    "MAX_NAME_BYTES",
    "MAX_DIMS",
    "MAX_TENSOR_BYTES",
    "MAX_STRING_BYTES",
]


class CheckpointError(Exception):
    """A checkpoint this reader will not read."""


class UnsupportedCheckpoint(CheckpointError):
    """The checkpoint uses a feature this reader leaves to TensorFlow."""


class CorruptCheckpoint(CheckpointError, ValueError):
    """The checkpoint's index or data is malformed, or states sizes beyond the reader's limits."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise CorruptCheckpoint("malformed varint in the index")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, offset: int, size: int) -> bytes:
    if offset < 0 or size < 4 or offset + size + _BLOCK_TRAILER_SIZE > len(data):
        raise CorruptCheckpoint("an index block lies outside the index file")
    if data[offset + size] != 0:  # 0 = stored uncompressed
        raise UnsupportedCheckpoint("compressed index block")
    return data[offset:offset + size]


def _block_entries(block: bytes):
    """(key, value) of every entry of a table block, keys rebuilt from their shared prefixes."""
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * num_restarts
    if end < 0:
        raise CorruptCheckpoint("an index block states more restart points than it holds")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_len > end:
            raise CorruptCheckpoint("an index entry runs past its block")
        key = key[:shared] + block[pos:pos + unshared]
        if len(key) > MAX_NAME_BYTES:
            raise CorruptCheckpoint(f"an index key is longer than {MAX_NAME_BYTES} bytes")
        pos += unshared
        yield key, block[pos:pos + value_len]
        pos += value_len


def _table_entries(index_file: Path, max_bytes: int | None = None):
    if max_bytes is not None:
        size = os.stat(index_file).st_size
        if size > max_bytes:
            raise CorruptCheckpoint(f"the checkpoint index is {size} bytes; at most {max_bytes} are read")
    data = index_file.read_bytes()
    if len(data) < _FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != _MAGIC:
        raise UnsupportedCheckpoint(f"{index_file} is not a table file")
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
    dtype: np.dtype | None  # None: not a numeric type this reader reads itself
    tf_dtype: int  # the DataType enum value
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    sliced: bool


class CheckpointReader:
    """``get_tensor(name)`` for the variables of one SavedModel, like TensorFlow's reader.

    ``strict=True`` for a checkpoint someone else wrote: see the module docstring.
    """

    def __init__(self, prefix: str | Path, strict: bool = False):
        tf = import_tensorflow()
        from tensorflow.core.protobuf import tensor_bundle_pb2

        self.prefix = str(prefix)
        self.strict = strict
        self._entries: Dict[str, _Entry] = {}
        num_shards = 1
        try:
            entries = _table_entries(Path(self.prefix + ".index"),
                                     MAX_INDEX_BYTES if strict else None)
            for count, (key, value) in enumerate(entries):
                if strict and count > MAX_ENTRIES:
                    raise CorruptCheckpoint(f"the checkpoint index lists more than {MAX_ENTRIES} tensors")
                if key == b"":
                    header = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
                    if header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE:
                        raise UnsupportedCheckpoint("big-endian bundle")
                    num_shards = header.num_shards
                    if strict and not 1 <= num_shards <= MAX_SHARDS:
                        raise CorruptCheckpoint(
                            f"the checkpoint index states {num_shards} data shards; "
                            f"between 1 and {MAX_SHARDS} are accepted")
                    continue
                entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
                name = key.decode("utf-8")
                self._entries[name] = self._entry(tf, entry, name)
        except CheckpointError:
            raise
        except (struct.error, IndexError, UnicodeDecodeError, ValueError, TypeError) as error:
            # protobuf's DecodeError is a ValueError
            raise CorruptCheckpoint(f"{self.prefix}.index is malformed: {type(error).__name__}: {error}") from None
        self.num_shards = num_shards
        self._tf_reader = None

    def _entry(self, tf, entry, name: str) -> _Entry:
        if self.strict and len(entry.shape.dim) > MAX_DIMS:
            raise CorruptCheckpoint(f"tensor {name!r} has more than {MAX_DIMS} dimensions")
        dims = tuple(d.size for d in entry.shape.dim)
        if self.strict:
            if any(d < 0 for d in dims):
                raise CorruptCheckpoint(f"tensor {name!r} has an invalid shape {list(dims)}")
            if entry.offset < 0 or entry.size < 0 or entry.size > MAX_TENSOR_BYTES:
                raise CorruptCheckpoint(f"tensor {name!r} states an invalid byte range")
        dtype = None
        try:
            tf_dtype = tf.dtypes.as_dtype(entry.dtype)
            if tf_dtype != tf.string and tf_dtype.is_numpy_compatible and not entry.slices:
                dtype = np.dtype(tf_dtype.as_numpy_dtype).newbyteorder("<")
        except TypeError:
            if self.strict:
                raise CorruptCheckpoint(f"tensor {name!r} has an unknown dtype {entry.dtype}") from None
        return _Entry(dtype=dtype, tf_dtype=int(entry.dtype), shape=dims, shard=entry.shard_id,
                      offset=entry.offset, size=entry.size, sliced=bool(entry.slices))

    # -- what the checkpoint holds ---------------------------------------------------

    def has_tensor(self, name: str) -> bool:
        return name in self._entries

    def get_variable_to_shape_map(self) -> Dict[str, list]:
        return {name: list(e.shape) for name, e in self._entries.items()}

    def get_variable_to_dtype_map(self) -> Dict[str, "object"]:
        tf = import_tensorflow()
        return {name: tf.dtypes.as_dtype(e.tf_dtype) for name, e in self._entries.items()}

    # -- reading ---------------------------------------------------------------------

    def _shard_file(self, entry: _Entry, name: str) -> str:
        if not 0 <= entry.shard < self.num_shards:
            raise CorruptCheckpoint(f"tensor {name!r} is in shard {entry.shard} of {self.num_shards}")
        path = f"{self.prefix}.data-{entry.shard:05d}-of-{self.num_shards:05d}"
        if self.strict:
            try:
                size = os.stat(path).st_size
            except OSError:
                raise CorruptCheckpoint(f"the data shard {Path(path).name} of tensor {name!r} is missing") from None
            if entry.offset + entry.size > size:
                raise CorruptCheckpoint(f"{Path(path).name} is shorter than its index says ({name!r})")
        return path

    def get_tensor(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """The variable's value; read into ``out`` when it is given and fits (reusing
        one buffer spares the page faults of fresh memory, about half the cost)."""
        entry = self._entries.get(name)
        if entry is None:
            if self.strict:
                raise KeyError(name)
            return self._tensorflow().get_tensor(name)
        if entry.dtype is None:
            if not self.strict:
                return self._tensorflow().get_tensor(name)
            if entry.tf_dtype == _DT_STRING and not entry.sliced and not entry.shape:
                return self._string_tensor(entry, name)
            raise UnsupportedCheckpoint(f"tensor {name!r} is sliced or of a type this reader does not read")
        expected = math.prod(entry.shape) * entry.dtype.itemsize
        if entry.size != expected:
            raise CorruptCheckpoint(f"tensor {name!r} states {entry.size} bytes for shape {list(entry.shape)} "
                                f"of {entry.dtype.name} ({expected} bytes)")
        path = self._shard_file(entry, name)
        if out is None or out.dtype != entry.dtype or out.shape != entry.shape \
                or not out.flags.c_contiguous:
            out = np.empty(entry.shape, entry.dtype)
        with open(path, "rb", buffering=0) as shard:
            shard.seek(entry.offset)
            if shard.readinto(memoryview(out).cast("B")) != entry.size:
                raise CorruptCheckpoint(f"{path} is shorter than its index says")
        return out

    def _string_tensor(self, entry: _Entry, name: str):
        """A string tensor as TensorFlow writes it: the lengths as varints, their masked
        crc32c (4 bytes), then the bytes of each string. A scalar gives ``bytes``
        (a strict reader reads only scalars, such as the checkpoint's object graph)."""
        if entry.size > MAX_STRING_BYTES:
            raise CorruptCheckpoint(f"string tensor {name!r} is {entry.size} bytes; at most {MAX_STRING_BYTES} are read")
        count = math.prod(entry.shape)
        if count > entry.size:
            raise CorruptCheckpoint(f"string tensor {name!r} states more strings than bytes")
        with open(self._shard_file(entry, name), "rb") as shard:
            shard.seek(entry.offset)
            data = shard.read(entry.size)
        pos, lengths = 0, []
        for _ in range(count):
            length, pos = _varint(data, pos)
            lengths.append(length)
        pos += 4  # the checksum of the lengths
        values = []
        for length in lengths:
            if pos + length > len(data):
                raise CorruptCheckpoint(f"string tensor {name!r} is shorter than its lengths say")
            values.append(data[pos:pos + length])
            pos += length
        if not entry.shape:
            return values[0]
        return np.array(values, dtype=object).reshape(entry.shape)

    def _tensorflow(self):
        if self._tf_reader is None:
            self._tf_reader = import_tensorflow().train.load_checkpoint(self.prefix)
        return self._tf_reader


def open_checkpoint(prefix: str | Path):
    """The fast reader when the checkpoint allows it, else TensorFlow's own reader.

    For our own files only: a checkpoint someone else wrote is read with
    ``CheckpointReader(prefix, strict=True)``.
    """
    try:
        return CheckpointReader(prefix)
    except (CheckpointError, OSError, ValueError, IndexError, struct.error):
        return import_tensorflow().train.load_checkpoint(str(prefix))
