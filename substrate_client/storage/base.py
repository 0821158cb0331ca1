"""The storage interface every backend implements, and the helpers they share.

A backend stores a file and hands back a :class:`StoredObject`: where the bytes
are, their sha256 and their size. Whoever fetches the object later names that hash
(and the size, when it is recorded), and :meth:`StorageBackend.get_file` refuses
bytes that do not match it, and stops any download as soon as it passes its limit.
"""

from __future__ import annotations

import abc
import bisect
import contextlib
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, ClassVar, Iterable, Iterator

from ..errors import IntegrityError, LimitExceededError, UserInputError
from .limits import StorageLimits, check_limit

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

    #: Whether :meth:`put_stream` can store bytes that never touch the disk.
    streams_uploads: ClassVar[bool] = False

    @abc.abstractmethod
    def put_file(
        self,
        local_path: Path,
        progress: Progress | None = None,
        content_hash: bytes | None = None,
    ) -> StoredObject:
        """Store the file at ``local_path``, streaming it, and say where it went.

        ``content_hash``, if given, is the file's sha256 as its writer computed
        it (e.g. :func:`~substrate_client.storage.pack_folder`'s result); a
        backend then need not read the file twice. Backends check cheaply that
        the file did not change while it was being sent (StorageError).
        """

    def put_stream(self, chunks: Iterable[bytes], progress: Progress | None = None) -> str:
        """Store the bytes ``chunks`` yields, in order, without a file; return the object's path.

        Only for backends with ``streams_uploads``. The caller hashes the chunks
        as they are produced and must check they were all consumed.
        """
        raise NotImplementedError(f"{self.storage_type} storage cannot store a stream")

    def get_file(
        self,
        path: str,
        dest: Path,
        expected_hash: bytes,
        progress: Progress | None = None,
        *,
        max_bytes: int | None = None,
        expected_size: int | None = None,
    ) -> Path:
        """Fetch the object at ``path`` into ``dest`` if its sha256 is ``expected_hash``.

        At most ``max_bytes`` are fetched (default: the ``max_download_bytes`` setting,
        see :class:`~substrate_client.storage.limits.StorageLimits`); with
        ``expected_size`` (the size recorded on-chain), the object must have exactly
        that many bytes. A larger object is cut off as soon as it passes the limit
        (:class:`LimitExceededError` for ``max_bytes``, :class:`IntegrityError` for
        ``expected_size``); a shorter one or a wrong hash raise IntegrityError naming
        both values. The bytes go to a temporary file beside ``dest``, renamed into
        place only when every check passed and deleted otherwise. Returns ``dest``.
        """
        expected_hash = check_hash(expected_hash)
        cap = self._download_cap(path, max_bytes, expected_size)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with temporary_file_beside(dest) as tmp:
            with open(tmp, "w+b") as raw:  # readable too: HashingFile may read parts back
                out = HashingFile(raw, max_bytes=cap.limit)
                try:
                    self._download(path, out, progress, cap.limit)
                except SizeLimitReached as reached:
                    raise cap.error(reached.size) from None
                raw.flush()
                actual = out.final_digest()
                size = os.fstat(raw.fileno()).st_size
            if expected_size is not None and size != expected_size:
                raise IntegrityError(
                    f"{self.storage_type} object {path!r} is {size} bytes, "
                    f"not the {expected_size} bytes recorded for it"
                )
            if actual != expected_hash:
                raise IntegrityError(
                    f"{self.storage_type} object {path!r} does not match its recorded hash: "
                    f"expected sha256 {expected_hash.hex()}, got {actual.hex()}"
                )
            os.replace(tmp, dest)
        log.debug("fetched %s object %s into %s", self.storage_type, path, dest)
        return dest

    def _download_cap(self, path: str, max_bytes: int | None, expected_size: int | None) -> "_Cap":
        if max_bytes is None:
            max_bytes = StorageLimits.from_environment().max_download_bytes
            setting = (f"max_bytes = {max_bytes} (the max_download_bytes setting; "
                       "raise it with DECENTRALML_MAX_DOWNLOAD_BYTES if you trust the source)")
        else:
            setting = f"max_bytes = {check_limit(max_bytes, 'max_bytes')}"
        what = f"{self.storage_type} object {path!r}"
        if expected_size is None:
            return _Cap(max_bytes, lambda size: LimitExceededError(
                f"{what} is {_sized(size)}larger than {setting}; fetching stopped at the limit"))
        if isinstance(expected_size, bool) or not isinstance(expected_size, int) or expected_size < 0:
            raise UserInputError(f"expected_size must be a whole number of bytes, not {expected_size!r}")
        if expected_size > max_bytes:
            raise LimitExceededError(f"{what} is {expected_size} bytes by its record, more than {setting}")
        return _Cap(expected_size, lambda size: IntegrityError(
            f"{what} is {_sized(size)}more than the {expected_size} bytes recorded for it; "
            "fetching stopped there"))

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Whether the object at ``path`` can be fetched from this backend."""

    @abc.abstractmethod
    def _download(self, path: str, out: BinaryIO, progress: Progress | None, max_bytes: int) -> None:
        """Write the object's bytes to ``out`` (a seekable file opened for writing).

        ``out`` raises :class:`SizeLimitReached` on a write past ``max_bytes``; a
        backend that can tell the object's size first raises it before fetching.
        """


@dataclass(frozen=True)
class _Cap:
    """The most bytes a download may write, and the error for passing it."""

    limit: int
    error: Callable[[int], Exception]


class SizeLimitReached(Exception):
    """A download passed its size limit; ``size`` is the object's size when the backend
    could tell it, else None."""

    def __init__(self, size: int | None = None):
        super().__init__(size)
        self.size = size


def _sized(size: int | None) -> str:
    return "" if size is None else f"{size} bytes, "


class HashingFile:
    """A seekable file (opened ``w+b``) that hashes its bytes as they are written, and
    refuses (:class:`SizeLimitReached`) any write reaching past ``max_bytes``.

    Writes in order (IPFS, Local) are hashed as they pass. s3transfer writes
    parts at their offsets, out of order but each byte once: a write beyond the
    hashed prefix is only recorded, and read back (from the page cache) to be
    hashed once the prefix reaches it. If a range is ever written twice (a
    retried part), :meth:`final_digest` hashes the whole file instead, so the
    hash is always that of the bytes on disk.
    """

    def __init__(self, raw: BinaryIO, max_bytes: int | None = None):
        self._raw = raw
        self._max_bytes = max_bytes
        self._fd = raw.fileno()
        self._digest = hashlib.sha256()
        self._hashed = 0  # bytes [0, _hashed) are in the digest
        self._ahead: list[list[int]] = []  # sorted, disjoint [start, end) written beyond _hashed
        self._pos = raw.tell()
        self._rewritten = False

    def write(self, data) -> int:
        start, n = self._pos, len(data)
        if self._max_bytes is not None and start + n > self._max_bytes:
            raise SizeLimitReached()  # nothing past the limit is written
        written = self._raw.write(data)
        self._pos += n
        if n == 0 or self._rewritten:
            return written
        end = start + n
        if start < self._hashed:
            self._rewritten = True
        elif start == self._hashed:
            self._digest.update(data)
            self._hashed = end
            self._catch_up()
        else:
            self._record(start, end)
        return written

    def _record(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self._ahead, [start, start])
        before = self._ahead[i - 1] if i > 0 else None
        after = self._ahead[i] if i < len(self._ahead) else None
        if (before and before[1] > start) or (after and after[0] < end):
            self._rewritten = True  # overlaps bytes already written
        elif before and before[1] == start:
            before[1] = end
            if after and after[0] == end:
                before[1] = self._ahead.pop(i)[1]
        elif after and after[0] == end:
            after[0] = start
        else:
            self._ahead.insert(i, [start, end])

    def _catch_up(self) -> None:
        while self._ahead and self._ahead[0][0] <= self._hashed:
            start, end = self._ahead.pop(0)
            if start < self._hashed:
                self._rewritten = True
                return
            self._raw.flush()
            offset = start
            while offset < end:
                chunk = os.pread(self._fd, min(CHUNK_SIZE, end - offset), offset)
                if not chunk:
                    break
                self._digest.update(chunk)
                offset += len(chunk)
            self._hashed = offset

    def final_digest(self) -> bytes:
        """The sha256 of everything in the file (flushed), computed in one pass when possible."""
        self._raw.flush()
        size = os.fstat(self._fd).st_size
        if self._rewritten or self._ahead or self._hashed != size:
            log.debug("writes overlapped or left gaps; hashing the downloaded file again")
            digest = hashlib.sha256()
            offset = 0
            while chunk := os.pread(self._fd, CHUNK_SIZE, offset):
                digest.update(chunk)
                offset += len(chunk)
            return digest.digest()
        return self._digest.digest()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._pos = self._raw.seek(offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._raw.flush()

    def fileno(self) -> int:
        return self._fd


def same_file_state(before: os.stat_result, after: os.stat_result) -> bool:
    """Whether two stats of one path show the same unchanged file (inode, size, mtime)."""
    return (before.st_ino, before.st_size, before.st_mtime_ns) == (after.st_ino, after.st_size, after.st_mtime_ns)


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
