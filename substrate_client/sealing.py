"""Sealing a file to an X25519 public key, so only the holder of the private key can open it,
and binding a sealed result to the one submission it was made for.

A contributor seals their result to the task creator's public key before
uploading it to storage anyone can read. The sealed payload names what it is for
(:class:`ResultBinding`: the chain's genesis hash, the task, the submission and
the contributor's account) and carries the contributor's sr25519 signature over
that binding and the plaintext's sha256, so a result copied from another
submission, task, chain or contributor is refused when opened
(:class:`~substrate_client.errors.ReplayedResultError`).

File layout::

    magic "DMLSEAL2" | chunk size (u32 big-endian)                  12 bytes
    SealedBox(public_key, stream key)                               80 bytes
    secretstream header                                             24 bytes
    chunks: secretstream(chunk) of chunk size + 17 bytes, the last one shorter
            and tagged FINAL

The chunks carry, as one stream cut into chunk-size pieces::

    binding record (88 bytes) | the file's bytes | signature (64 bytes)

The binding record is ``"DMLBIND1" | genesis hash (32) | task id (u64 LE) |
submission id (u64 LE) | contributor account id (32)``, or 88 zero bytes for a
file sealed without a binding (then the signature is 64 zero bytes). The
signature is the contributor's sr25519 signature over ``SIGNING_CONTEXT |
binding record | recipient public key (32) | sha256 of the file's bytes``.

The stream key is random per file and opened with ``nacl.public.SealedBox``;
the data is encrypted with libsodium's secretstream (XChaCha20-Poly1305), which
authenticates every chunk and their order, and marks the end, so chunks can be
neither altered, reordered, dropped nor appended. The 12-byte preamble is bound
to every chunk as associated data. Both sealing and opening stream: memory holds
a chunk or two, never the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import nacl.bindings as sodium
import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from .errors import IntegrityError, ReplayedResultError, UnsealedResultError, UserInputError
from .files import temporary_file_beside

if TYPE_CHECKING:
    from substrateinterface import Keypair

log = logging.getLogger(__name__)

MAGIC = b"DMLSEAL2"
CHUNK_SIZE = 1024 * 1024
#: What the signature is over, before the binding record: no other message of ours starts so.
SIGNING_CONTEXT = b"DecentralML sealed result v1\0"

_SEALED_PREFIX = b"DMLSEAL"  # any version of the format
_PREAMBLE = struct.Struct(">8sI")
_SEALED_KEY_BYTES = PublicKey.SIZE + 16 + sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_MAX_CHUNK_SIZE = 64 * 1024 * 1024

_BINDING_MAGIC = b"DMLBIND1"
_RECORD = struct.Struct("<8s32sQQ32s")  # 88 bytes
_UNBOUND = bytes(_RECORD.size)
_SIGNATURE_BYTES = 64
_U64 = 2**64


@dataclass(frozen=True)
class ResultBinding:
    """The one submission a sealed result was made for.

    ``genesis_hash`` is the chain's block 0 hash (32 bytes), ``task_id`` and
    ``submission_id`` the pallet's ids, ``contributor`` the contributor's 32-byte
    account id (their sr25519 public key). Build one from what the chain shows with
    :meth:`for_submission`.
    """

    genesis_hash: bytes
    task_id: int
    submission_id: int
    contributor: bytes

    def __post_init__(self) -> None:
        for name in ("genesis_hash", "contributor"):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
                raise UserInputError(f"a result binding's {name} is 32 bytes, not {value!r}")
            object.__setattr__(self, name, bytes(value))
        for name in ("task_id", "submission_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U64:
                raise UserInputError(f"a result binding's {name} is a u64, not {value!r}")

    @classmethod
    def for_submission(cls, genesis_hash: bytes | str, task_id: int, submission_id: int,
                       contributor: bytes | str) -> "ResultBinding":
        """The binding for a submission: ``genesis_hash`` as bytes or ``0x`` hex (what
        ``substrate.get_block_hash(0)`` returns), ``contributor`` as an SS58 address,
        ``0x`` hex or the 32-byte account id."""
        return cls(_hex_bytes(genesis_hash, "genesis hash"), task_id, submission_id,
                   _account_id(contributor))

    def encode(self) -> bytes:
        """The 88-byte record the sealed stream starts with."""
        return _RECORD.pack(_BINDING_MAGIC, self.genesis_hash, self.task_id, self.submission_id,
                            self.contributor)

    @classmethod
    def decode(cls, record: bytes) -> "ResultBinding | None":
        """The binding in a record; None for the record of a file sealed without one."""
        if record == _UNBOUND:
            return None
        magic, genesis, task_id, submission_id, contributor = _RECORD.unpack(record)
        if magic != _BINDING_MAGIC:
            raise IntegrityError("the sealed result's binding record is corrupt")
        return cls(genesis, task_id, submission_id, contributor)

    def describe(self) -> str:
        from substrateinterface.utils.ss58 import ss58_encode

        return (f"task {self.task_id}, submission {self.submission_id} by "
                f"{ss58_encode(self.contributor, 42)} on the chain with genesis 0x{self.genesis_hash.hex()}")

    def differences(self, other: "ResultBinding") -> list[str]:
        """The names of the fields in which ``other`` differs from this binding."""
        return [name for name in ("genesis_hash", "task_id", "submission_id", "contributor")
                if getattr(self, name) != getattr(other, name)]


#: How many of an object's first bytes :func:`looks_sealed` needs.
SEALED_PREFIX_BYTES = len(_SEALED_PREFIX)


def looks_sealed(first_bytes: bytes) -> bool:
    """Whether an object starting with ``first_bytes`` (at least ``SEALED_PREFIX_BYTES``
    of them) is in the sealed format: it says which way to open it, nothing about
    whether it opens (:func:`open_sealed_file` checks that)."""
    return bytes(first_bytes[:SEALED_PREFIX_BYTES]) == _SEALED_PREFIX


def is_sealed(path: Path) -> bool:
    """Whether the file at ``path`` (a downloaded object, before unpacking) is sealed.

    A task with a result key must only get sealed results: refuse one for which
    this is False (see :func:`require_sealed`).
    """
    with open(path, "rb") as f:
        return looks_sealed(f.read(SEALED_PREFIX_BYTES))


def require_sealed(path: Path, *, label: str | None = None) -> None:
    """Raise :class:`UnsealedResultError` unless the file at ``path`` is sealed."""
    if not is_sealed(path):
        raise UnsealedResultError(
            f"{label or path} is not sealed, but its task has a result key: results must be "
            "sealed to it"
        )


def seal_file(src: Path, dst: Path, public_key: bytes, *, binding: ResultBinding | None = None,
              signer: "Keypair | None" = None) -> Path:
    """Encrypt ``src`` into ``dst`` so that only ``public_key``'s private key opens it.

    With ``binding``, the sealed payload names the submission it is for and is
    signed by ``signer`` (the contributor's sr25519 keypair, whose public key must
    be ``binding.contributor``); a result is always sealed so. Without, it carries
    no binding, and opening it with an expected binding fails.
    Streams in chunks; ``dst`` appears only when complete. Returns ``dst``.
    """
    recipient = _public_key(public_key)
    if (binding is None) != (signer is None):
        raise UserInputError("a result binding is signed by the contributor: give both binding and "
                             "signer, or neither")
    if binding is not None:
        _check_signer(signer, binding)
    record = binding.encode() if binding is not None else _UNBOUND
    dst = Path(dst)
    stream_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    preamble = _PREAMBLE.pack(MAGIC, CHUNK_SIZE)
    digest = hashlib.sha256()
    with open(src, "rb") as plain, temporary_file_beside(dst) as tmp:
        with open(tmp, "wb") as out:
            out.write(preamble)
            out.write(SealedBox(recipient).encrypt(stream_key))
            state = sodium.crypto_secretstream_xchacha20poly1305_state()
            out.write(sodium.crypto_secretstream_xchacha20poly1305_init_push(state, stream_key))
            stream = _ChunkWriter(out, state, preamble)
            stream.write(record)
            while chunk := plain.read(CHUNK_SIZE):
                digest.update(chunk)
                stream.write(chunk)
            if binding is None:
                stream.write(bytes(_SIGNATURE_BYTES))
            else:
                stream.write(signer.sign(_signed_message(record, bytes(recipient), digest.digest())))
            stream.finish()
        os.replace(tmp, dst)
    return dst


def open_sealed_file(src: Path, dst: Path, private_key: bytes, *,
                     expected_binding: ResultBinding | None = None, label: str | None = None) -> Path:
    """Decrypt the sealed file ``src`` into ``dst`` with ``private_key``.

    Raises :class:`IntegrityError` if the file was not sealed to this key, or was
    altered or cut short. With ``expected_binding`` (the submission the caller is
    opening a result for), raises :class:`ReplayedResultError` unless the file is
    bound to exactly that chain, task, submission and contributor and signed by
    that contributor; without, a binding the file carries is still checked against
    its own signature. ``dst`` appears only when every check passed. ``label``
    names the file in error messages (default: ``src``). Returns ``dst``.
    """
    key = _private_key(private_key)
    dst = Path(dst)
    if expected_binding is None:
        log.warning("opening %s without checking which submission it was sealed for; pass "
                    "expected_binding to refuse a result copied from another", label or src)
    with open(src, "rb") as sealed, temporary_file_beside(dst) as tmp:
        with open(tmp, "wb") as out:
            _open_stream(sealed, out, key, label or str(src), expected_binding)
        os.replace(tmp, dst)
    return dst


class _ChunkWriter:
    """Cuts a stream of bytes into secretstream chunks of the chunk size; the last,
    written by :meth:`finish`, is tagged FINAL (and is never empty here)."""

    def __init__(self, out: BinaryIO, state, preamble: bytes):
        self._out = out
        self._state = state
        self._preamble = preamble
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        self._pending += data
        while len(self._pending) > CHUNK_SIZE:  # keep something back for the final chunk
            self._push(bytes(self._pending[:CHUNK_SIZE]), _TAG_MESSAGE)
            del self._pending[:CHUNK_SIZE]

    def finish(self) -> None:
        self._push(bytes(self._pending), _TAG_FINAL)
        self._pending.clear()

    def _push(self, chunk: bytes, tag: int) -> None:
        self._out.write(
            sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, self._preamble, tag)
        )


def _open_stream(sealed: BinaryIO, out: BinaryIO, key: PrivateKey, name: str,
                 expected: ResultBinding | None) -> None:
    preamble = sealed.read(_PREAMBLE.size)
    if len(preamble) != _PREAMBLE.size or not preamble.startswith(_SEALED_PREFIX):
        raise IntegrityError(f"{name} is not a sealed file")
    if not preamble.startswith(MAGIC):
        raise IntegrityError(f"{name} is sealed in another format than this client's "
                             f"({preamble[:8]!r}); it must be sealed again")
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
    record = None
    binding = None
    held = bytearray()  # decrypted bytes not yet placed: the record, then the last 64 (signature)
    digest = hashlib.sha256()
    index = 0
    while True:
        block = sealed.read(chunk_size + _ABYTES)
        if not block:
            raise IntegrityError(f"{name} is cut short: it ends after chunk {index} without its final chunk")
        try:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, block, preamble)
        except (nacl.exceptions.CryptoError, ValueError):
            raise IntegrityError(f"{name}: chunk {index} was altered, reordered or cut") from None
        held += message
        index += 1
        if record is None and len(held) >= _RECORD.size:
            record = bytes(held[: _RECORD.size])
            del held[: _RECORD.size]
            binding = ResultBinding.decode(record)
            _check_binding(binding, expected, name)  # before decrypting the rest
        if record is not None and len(held) > _SIGNATURE_BYTES:
            data = bytes(held[:-_SIGNATURE_BYTES])
            out.write(data)
            digest.update(data)
            del held[:-_SIGNATURE_BYTES]
        if tag == _TAG_FINAL:
            break
    if sealed.read(1):
        raise IntegrityError(f"{name} has data after its final chunk")
    if record is None or len(held) != _SIGNATURE_BYTES:
        raise IntegrityError(f"{name}: sealed stream is too short to hold its binding and signature")
    if binding is not None:
        message = _signed_message(record, bytes(key.public_key), digest.digest())
        if not _verifies(binding.contributor, message, bytes(held)):
            raise ReplayedResultError(
                f"{name}: the signature of {binding.describe()} does not verify; the result was "
                "not sealed by that contributor, or was altered"
            )


def _check_binding(found: ResultBinding | None, expected: ResultBinding | None, name: str) -> None:
    if expected is None:
        return
    if found is None:
        raise ReplayedResultError(
            f"{name} is bound to no submission; a result for {expected.describe()} must be "
            "sealed with its binding"
        )
    differ = found.differences(expected)
    if differ:
        raise ReplayedResultError(
            f"{name} was sealed for {found.describe()}, not for {expected.describe()} "
            f"({', '.join(differ)} differ): a result copied from elsewhere is refused"
        )


def _signed_message(record: bytes, recipient: bytes, content_hash: bytes) -> bytes:
    return SIGNING_CONTEXT + record + recipient + content_hash


def _verifies(account_id: bytes, message: bytes, signature: bytes) -> bool:
    from substrateinterface import Keypair, KeypairType

    account = Keypair(public_key=account_id, crypto_type=KeypairType.SR25519, ss58_format=42)
    try:
        return bool(account.verify(message, signature))
    except ValueError:  # a malformed signature or public key
        return False


def _check_signer(signer, binding: ResultBinding) -> None:
    from substrateinterface import KeypairType

    if getattr(signer, "crypto_type", None) != KeypairType.SR25519 or not getattr(signer, "private_key", None):
        raise UserInputError("a result is signed with the contributor's sr25519 keypair (with its secret)")
    if bytes(signer.public_key) != binding.contributor:
        raise UserInputError(
            "the signer is not the contributor the result binding names; sign with the "
            "account that took the slot"
        )


def _hex_bytes(value: bytes | str, what: str) -> bytes:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise UserInputError(f"the {what} is not hex: {value!r}") from None
    return bytes(value)


def _account_id(contributor: bytes | str) -> bytes:
    if isinstance(contributor, str) and not contributor.startswith("0x"):
        from substrateinterface.utils.ss58 import ss58_decode

        try:
            return bytes.fromhex(ss58_decode(contributor))
        except Exception:
            raise UserInputError(f"{contributor!r} is not an SS58 account address") from None
    return _hex_bytes(contributor, "contributor account id")


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
