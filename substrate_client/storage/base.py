"""The storage interface every backend implements, and the helpers they share.

A backend stores a file and hands back a :class:`StoredObject`: where the bytes
are and their sha256. Whoever fetches the object later names that hash, and
:meth:`StorageBackend.get_file` refuses bytes that do not match it.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, ClassVar, Iterator

from ..errors import IntegrityError, UserInputError

log = logging.getLogger(__name__)

#: Called with the number of bytes just moved (an increment, like ``tqdm.update``).
Progress = Callable[[int], None]

#: Read and write in pieces of this size: the most a backend holds in memory per stream.
CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    """Where an object is stored, and what it must hash to.

    ``storage_type`` is the pallet's ``StorageType`` variant name (``"IPFS"``,
    ``"S3"`` or ``"Local"``); ``path`` is the CID for IPFS, ``bucket/key`` for
    S3 and the path below the store root for Local; ``content_hash`` is the
    32-byte sha256 of the stored bytes and ``size`` their length.
    """

    storage_type: str
    path: str
    content_hash: bytes
    size: int


class StorageBackend(abc.ABC):
    """Stores files and fetches them back, checking their sha256."""

    #: The pallet's ``StorageType`` variant name.
    storage_type: ClassVar[str]

    @abc.abstractmethod
    def put_file(self, local_path: Path, progress: Progress | None = None) -> StoredObject:
        """Store the file at ``local_path``, streaming it, and say where it went."""

    def get_file(
        self,
        path: str,
        dest: Path,
        expected_hash: bytes,
        progress: Progress | None = None,
    ) -> Path:
        """Fetch the object at ``path`` into ``dest`` if its sha256 is ``expected_hash``.

        The bytes go to a temporary file beside ``dest``, which is renamed into
        place only when its hash matches; otherwise it is deleted and
        :class:`IntegrityError` names both hashes. Returns ``dest``.
        """
        expected_hash = check_hash(expected_hash)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with temporary_file_beside(dest) as tmp:
            with open(tmp, "wb") as out:
                self._download(path, out, progress)
            actual, _ = sha256_file(tmp)
            if actual != expected_hash:
                raise IntegrityError(
                    f"{self.storage_type} object {path!r} does not match its recorded hash: "
                    f"expected sha256 {expected_hash.hex()}, got {actual.hex()}"
                )
            os.replace(tmp, dest)
        log.debug("fetched %s object %s into %s", self.storage_type, path, dest)
        return dest

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Whether the object at ``path`` can be fetched from this backend."""

    @abc.abstractmethod
    def _download(self, path: str, out: BinaryIO, progress: Progress | None) -> None:
        """Write the object's bytes to ``out`` (a seekable file opened for writing)."""


def check_hash(content_hash: bytes) -> bytes:
    """Return ``content_hash`` as bytes if it is a 32-byte sha256, else raise UserInputError."""
    if isinstance(content_hash, str):
        try:
            content_hash = bytes.fromhex(content_hash.removeprefix("0x"))
        except ValueError:
            raise UserInputError(f"not a hex sha256: {content_hash!r}") from None
    content_hash = bytes(content_hash)
    if len(content_hash) != 32:
        raise UserInputError(f"a sha256 is 32 bytes, got {len(content_hash)}")
    return content_hash


def sha256_file(path: Path) -> tuple[bytes, int]:
    """The sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.digest(), size


def copy_stream(src: BinaryIO, dst: BinaryIO, progress: Progress | None = None, digest=None) -> int:
    """Copy ``src`` to ``dst`` in chunks, reporting progress and feeding ``digest``."""
    total = 0
    while chunk := src.read(CHUNK_SIZE):
        dst.write(chunk)
        if digest is not None:
            digest.update(chunk)
        total += len(chunk)
        if progress:
            progress(len(chunk))
    return total


@contextlib.contextmanager
def temporary_file_beside(path: Path) -> Iterator[Path]:
    """A fresh temporary file name in ``path``'s directory, deleted on exit unless renamed away."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
