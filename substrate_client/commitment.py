"""The hash a contributor commits to before revealing a result.

The pallet checks a reveal against ``blake2_256(SCALE((contributor, submission_id,
result, result_location, salt)))``; this module encodes the same bytes. Committing first
means the creator never sees a result's location before the chain has bound the slot to
it, so the slot cannot be taken away and the result kept for free. The salt keeps the
commitment from being guessed; the contributor's account in it keeps it from being
copied by someone else.
"""

from __future__ import annotations

import hashlib
import os

from substrateinterface.utils.ss58 import ss58_decode

from .records import Location, StorageType

SALT_BYTES = 32

#: The pallet's StorageType variants in declaration order: SCALE encodes an enum by index.
_STORAGE_INDEX = {kind: index for index, kind in enumerate(StorageType)}


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def result_commitment(contributor: str, submission_id: int, result: str,
                      location: Location | None, salt: bytes) -> bytes:
    """The 32-byte commitment to a result, as the pallet computes it."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the salt must be {SALT_BYTES} bytes")
    encoded = (bytes.fromhex(ss58_decode(contributor)) + submission_id.to_bytes(8, "little")
               + _bytes(result.encode("utf-8")) + _location(location) + salt)
    return hashlib.blake2b(encoded, digest_size=32).digest()


def _location(location: Location | None) -> bytes:
    if location is None:
        return b"\x00"
    return (b"\x01" + bytes([_STORAGE_INDEX[location.storage_type]])
            + _bytes(location.path.encode("utf-8")) + location.content_hash
            + location.size.to_bytes(8, "little"))


def _bytes(data: bytes) -> bytes:
    """A SCALE byte vector: compact length, then the bytes."""
    return _compact(len(data)) + data


def _compact(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    raise ValueError("byte vectors this long are not sent to the chain")
