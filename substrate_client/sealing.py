"""Sealing a file to an X25519 public key, so only the holder of the private key can open it.

A contributor seals their result to the task creator's public key before
uploading it to storage anyone can read.

File layout::

    magic "DMLSEAL1" | chunk size (u32 big-endian)                  12 bytes
    SealedBox(public_key, stream key)                               80 bytes
    secretstream header                                             24 bytes
    chunks: secretstream(chunk) of chunk size + 17 bytes, the last one shorter
            and tagged FINAL (an empty file is one empty FINAL chunk)

The stream key is random per file and opened with ``nacl.public.SealedBox``;
the data is encrypted with libsodium's secretstream (XChaCha20-Poly1305), which
authenticates every chunk and their order, and marks the end, so chunks can be
neither altered, reordered, dropped nor appended. The 12-byte preamble is bound
to every chunk as associated data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

import nacl.bindings as sodium
import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from .errors import IntegrityError, UserInputError

log = logging.getLogger(__name__)

MAGIC = b"DMLSEAL1"
CHUNK_SIZE = 1024 * 1024

_PREAMBLE = struct.Struct(">8sI")
_SEALED_KEY_BYTES = PublicKey.SIZE + 16 + sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_MAX_CHUNK_SIZE = 64 * 1024 * 1024


def is_sealed(path: Path) -> bool:
    """Whether the file at ``path`` starts like a sealed file."""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def seal_file(src: Path, dst: Path, public_key: bytes) -> Path:
    """Encrypt ``src`` into ``dst`` so that only ``public_key``'s private key opens it.

    Streams in chunks; ``dst`` appears only when complete. Returns ``dst``.
    """
    recipient = _public_key(public_key)
    dst = Path(dst)
    stream_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    preamble = _PREAMBLE.pack(MAGIC, CHUNK_SIZE)
    with open(src, "rb") as plain, _temporary_file_beside(dst) as tmp:
        with open(tmp, "wb") as out:
            out.write(preamble)
            out.write(SealedBox(recipient).encrypt(stream_key))
            state = sodium.crypto_secretstream_xchacha20poly1305_state()
            out.write(sodium.crypto_secretstream_xchacha20poly1305_init_push(state, stream_key))
            chunk = plain.read(CHUNK_SIZE)
            while True:
                following = plain.read(CHUNK_SIZE)
                tag = _TAG_MESSAGE if following else _TAG_FINAL
                out.write(
                    sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, preamble, tag)
                )
                if not following:
                    break
                chunk = following
        os.replace(tmp, dst)
    return dst


def open_sealed_file(src: Path, dst: Path, private_key: bytes, *, label: str | None = None) -> Path:
    """Decrypt the sealed file ``src`` into ``dst`` with ``private_key``.

    Raises :class:`IntegrityError` if the file was not sealed to this key, or was
    altered or cut short; ``dst`` appears only when every chunk checked out.
    ``label`` names the file in error messages (default: ``src``). Returns ``dst``.
    """
    key = _private_key(private_key)
    dst = Path(dst)
    with open(src, "rb") as sealed, _temporary_file_beside(dst) as tmp:
        with open(tmp, "wb") as out:
            _open_stream(sealed, out, key, label or str(src))
        os.replace(tmp, dst)
    return dst


def _open_stream(sealed: BinaryIO, out: BinaryIO, key: PrivateKey, name: str) -> None:
    preamble = sealed.read(_PREAMBLE.size)
    if len(preamble) != _PREAMBLE.size or preamble[: len(MAGIC)] != MAGIC:
        raise IntegrityError(f"{name} is not a sealed file")
    _, chunk_size = _PREAMBLE.unpack(preamble)
    if not 0 < chunk_size <= _MAX_CHUNK_SIZE:
        raise IntegrityError(f"{name}: sealed file header is corrupt")
    try:
        stream_key = SealedBox(key).decrypt(sealed.read(_SEALED_KEY_BYTES))
    except nacl.exceptions.CryptoError:
        raise IntegrityError(
            f"{name} was not sealed to this key (or its header was altered)"
        ) from None
    header = sealed.read(_HEADER_BYTES)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    try:
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, stream_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise IntegrityError(f"{name}: sealed file header is corrupt") from None
    index = 0
    while True:
        block = sealed.read(chunk_size + _ABYTES)
        if not block:
            raise IntegrityError(f"{name} is cut short: it ends after chunk {index} without its final chunk")
        try:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, block, preamble)
        except (nacl.exceptions.CryptoError, ValueError):
            raise IntegrityError(f"{name}: chunk {index} was altered, reordered or cut") from None
        out.write(message)
        index += 1
        if tag == _TAG_FINAL:
            break
    if sealed.read(1):
        raise IntegrityError(f"{name} has data after its final chunk")


@contextlib.contextmanager
def _temporary_file_beside(path: Path) -> Iterator[Path]:
    """A temporary file name in ``path``'s directory, deleted on exit unless renamed away."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _public_key(public_key) -> PublicKey:
    if isinstance(public_key, PublicKey):
        return public_key
    with contextlib.suppress(TypeError, ValueError, nacl.exceptions.CryptoError):
        return PublicKey(bytes(public_key))
    raise UserInputError("a public key is 32 bytes (X25519)")


def _private_key(private_key) -> PrivateKey:
    if isinstance(private_key, PrivateKey):
        return private_key
    with contextlib.suppress(TypeError, ValueError, nacl.exceptions.CryptoError):
        return PrivateKey(bytes(private_key))
    raise UserInputError("a private key is 32 bytes (X25519)")
